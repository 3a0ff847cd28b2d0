/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Starting and stopping real peers for integration tests; see peers.h. Each peer is a child process of
 * the test (foreground mode, so it can be stopped by PID and reaped), lives in its own temp dir, and is
 * declared ready only once it answers on its socket. Waits are bounded polls, never fixed sleeps.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "peers.h"
#include "strbuf.h"
#include "util.h"

#define PEER_START_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define PEER_STOP_TIMEOUT_USEC (10 * USEC_PER_SEC)

bool peer_wait_until(bool (*cond)(void *userdata), void *userdata, usec_t timeout_usec) {
        usec_t end = now(CLOCK_MONOTONIC) + timeout_usec;

        for (;;) {
                if (cond(userdata))
                        return true;
                if (now(CLOCK_MONOTONIC) >= end)
                        return false;
                (void) poll(NULL, 0, 20);
        }
}

int peer_mkdtemp(const char *prefix, char **ret) {
        char *d = NULL;

        if (asprintf(&d, "/tmp/%s-XXXXXX", prefix) < 0)
                return -ENOMEM;
        if (!mkdtemp(d)) {
                free(d);
                return -errno;
        }
        *ret = d;
        return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

int peer_rm_rf(const char *path) {
        if (!path || !startswith(path, "/tmp/"))
                return -EINVAL;
        return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 ? -errno : 0;
}

/* Wait for pid to exit within timeout; then SIGKILL and reap. Returns the wait status or -ETIMEDOUT. */
static int reap(pid_t pid, usec_t timeout_usec, int *ret_status) {
        usec_t end = now(CLOCK_MONOTONIC) + timeout_usec;
        int status;

        for (;;) {
                pid_t r = waitpid(pid, &status, WNOHANG);
                if (r == pid) {
                        if (ret_status)
                                *ret_status = status;
                        return 0;
                }
                if (r < 0)
                        return -errno;
                if (now(CLOCK_MONOTONIC) >= end) {
                        (void) kill(pid, SIGKILL);
                        (void) waitpid(pid, &status, 0);
                        if (ret_status)
                                *ret_status = status;
                        return -ETIMEDOUT;
                }
                (void) poll(NULL, 0, 10);
        }
}

static void stop_pid(pid_t pid) {
        if (pid <= 0)
                return;
        (void) kill(pid, SIGTERM);
        (void) reap(pid, PEER_STOP_TIMEOUT_USEC, NULL);
}

static char **env_with(char *const extra[]) {
        size_t n = 0, k = 0;
        char **env;

        for (char **e = environ; *e; e++)
                n++;
        for (char *const *e = extra; e && *e; e++)
                n++;
        env = calloc(n + 1, sizeof(char *));
        if (!env)
                return NULL;
        for (char *const *e = extra; e && *e; e++)
                env[k++] = *e;
        for (char **e = environ; *e; e++) {
                bool overridden = false;
                for (char *const *x = extra; x && *x; x++) {
                        size_t l = strcspn(*x, "=");
                        if (strneq(*e, *x, l + 1))
                                overridden = true;
                }
                if (!overridden)
                        env[k++] = *e;
        }
        return env;
}

static void child_reset_signals(void) {
        sigset_t none;
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        (void) signal(SIGPIPE, SIG_DFL);
}

int peer_run(char *const argv[], char *const env_extra[], char **ret_out) {
        _cleanup_free_ char **env = env_with(env_extra);
        _cleanup_strbuf_ StrBuf out = STRBUF_INIT;
        int p[2], status, r;
        pid_t pid;

        if (!env)
                return -ENOMEM;
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                child_reset_signals();
                if (dup2(p[1], STDOUT_FILENO) < 0)
                        _exit(127);
                execve(argv[0], argv, env);
                _exit(127);
        }
        close(p[1]);
        usec_t end = now(CLOCK_MONOTONIC) + 15 * USEC_PER_SEC;
        for (;;) {
                struct pollfd pfd = { .fd = p[0], .events = POLLIN };
                usec_t n = now(CLOCK_MONOTONIC);
                if (n >= end)
                        break;
                if (poll(&pfd, 1, (int) ((end - n) / USEC_PER_MSEC) + 1) <= 0)
                        continue;
                char buf[4096];
                ssize_t k = read(p[0], buf, sizeof(buf));
                if (k <= 0)
                        break;
                strbuf_append(&out, buf, (size_t) k);
        }
        close(p[0]);
        r = reap(pid, 5 * USEC_PER_SEC, &status);
        if (r < 0)
                return r;
        if (ret_out) {
                *ret_out = strbuf_steal(&out);
                if (!*ret_out)
                        return -ENOMEM;
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int peer_free_port(unsigned *ret) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof(a);
        _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0 || getsockname(fd, (struct sockaddr *) &a, &l) < 0)
                return -errno;
        *ret = ntohs(a.sin_port);
        return 0;
}

static int connect_to(const char *path, unsigned port) {
        _cleanup_close_ int fd = -EBADF;
        struct timeval tv = { .tv_sec = 5 };

        if (path) {
                struct sockaddr_un a = { .sun_family = AF_UNIX };
                if (strlen(path) >= sizeof(a.sun_path))
                        return -ENAMETOOLONG;
                memcpy(a.sun_path, path, strlen(path) + 1);
                fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        return -errno;
                if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
                    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
                        return -errno;
                if (connect(fd, (struct sockaddr *) &a, sizeof(a)) < 0)
                        return -errno;
        } else {
                struct sockaddr_in a = { .sin_family = AF_INET,
                                         .sin_port = htons((uint16_t) port),
                                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        return -errno;
                if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
                    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
                        return -errno;
                if (connect(fd, (struct sockaddr *) &a, sizeof(a)) < 0)
                        return -errno;
        }
        return TAKE_FD(fd);
}

int peer_socket_request(
        const char *path, unsigned port, const char *request, const char *terminator, char **ret_reply) {
        _cleanup_close_ int fd = connect_to(path, port);
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        size_t len = strlen(request), off = 0;

        if (fd < 0)
                return fd;
        while (off < len) {
                ssize_t k = send(fd, request + off, len - off, MSG_NOSIGNAL);
                if (k < 0)
                        return -errno;
                off += (size_t) k;
        }
        for (;;) {
                char buf[4096];
                ssize_t k = recv(fd, buf, sizeof(buf), 0);
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                strbuf_append(&b, buf, (size_t) k);
                if (terminator && strstr(strbuf_str(&b), terminator))
                        break;
        }
        if (strbuf_failed(&b))
                return -ENOMEM;
        *ret_reply = strbuf_steal(&b);
        return *ret_reply ? 0 : -ENOMEM;
}

int peer_listen_unix(const char *path, int *ret_fd) {
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -errno;
        if (strlen(path) >= sizeof(a.sun_path))
                return -ENAMETOOLONG;
        memcpy(a.sun_path, path, strlen(path) + 1);
        if (bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0 || listen(fd, 16) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static char *path_join(const char *a, const char *b) {
        char *p = NULL;
        if (asprintf(&p, "%s/%s", a, b) < 0)
                return NULL;
        return p;
}

static int write_file(const char *path, const char *contents) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        size_t len = strlen(contents), off = 0;

        if (fd < 0)
                return -errno;
        while (off < len) {
                ssize_t k = write(fd, contents + off, len - off);
                if (k < 0)
                        return -errno;
                off += (size_t) k;
        }
        return 0;
}

/* fork + exec a peer in the foreground with stdout and stderr into log; returns the pid. */
static int spawn(char *const argv[], const char *log, pid_t *ret) {
        pid_t pid;

        if (access(argv[0], X_OK) < 0)
                return -EOPNOTSUPP;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                child_reset_signals();
                if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
                        _exit(127);
                (void) setpgid(0, 0);
                execv(argv[0], argv);
                _exit(127);
        }
        *ret = pid;
        return 0;
}

static bool exited(pid_t pid) {
        int status;
        return waitpid(pid, &status, WNOHANG) == pid;
}

typedef struct Probe {
        const char *path;
        unsigned port;
        const char *request;
        const char *expect;
        pid_t pid;
        bool died;
} Probe;

static bool probe_ready(void *userdata) {
        Probe *p = userdata;
        _cleanup_free_ char *reply = NULL;

        if (p->pid > 0 && exited(p->pid)) {
                p->died = true;
                return true;
        }
        if (!p->request) {
                struct stat st;
                return stat(p->path, &st) >= 0;
        }
        if (peer_socket_request(p->path, p->port, p->request, "\n", &reply) < 0)
                return false;
        return strstr(reply, p->expect) != NULL;
}

static int wait_ready(Probe *p, const char *name, const char *log) {
        if (!peer_wait_until(probe_ready, p, PEER_START_TIMEOUT_USEC))
                return -ETIMEDOUT;
        if (p->died) {
                _cleanup_free_ char *text = NULL;
                if (read_full_file(log, 65536, &text, NULL) >= 0)
                        fprintf(stderr, "%s exited during start-up:\n%s\n", name, text);
                return -ECHILD;
        }
        return 0;
}

/* ---- systemd --user ---- */

PeerSystemd *peer_systemd_stop(PeerSystemd *p) {
        if (!p)
                return NULL;
        /* SIGTERM makes the manager stop its units and exit; its mounts vanish with its namespace. */
        stop_pid(p->pid);
        if (p->dir)
                (void) peer_rm_rf(p->dir);
        free(p->dir);
        free(p->runtime_dir);
        free(p->home);
        free(p->unit_dir);
        free(p);
        return NULL;
}

static int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        for (char *s = copy + 1; *s; s++)
                if (*s == '/') {
                        *s = 0;
                        if (mkdir(copy, mode) < 0 && errno != EEXIST)
                                return -errno;
                        *s = '/';
                }
        if (mkdir(copy, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int peer_systemd_start(PeerSystemd **ret) {
        _cleanup_(peer_systemd_stopp) PeerSystemd *p = NULL;
        _cleanup_free_ char *log = NULL, *private = NULL;
        int r;

        if (access("/lib/systemd/systemd", X_OK) < 0)
                return -EOPNOTSUPP;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        r = peer_mkdtemp("homeostat-systemd", &p->dir);
        if (r < 0)
                return r;
        p->runtime_dir = path_join(p->dir, "run");
        p->home = path_join(p->dir, "home");
        log = path_join(p->dir, "systemd.log");
        if (!p->runtime_dir || !p->home || !log)
                return -ENOMEM;
        if (asprintf(&p->unit_dir, "%s/.config/systemd/user", p->home) < 0)
                return -ENOMEM;
        if (mkdir(p->runtime_dir, 0700) < 0 || mkdir_p(p->unit_dir, 0755) < 0)
                return -errno;
        private = path_join(p->runtime_dir, "systemd/private");
        if (!private)
                return -ENOMEM;

        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                child_reset_signals();
                if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
                        _exit(127);
                (void) setsid();
                if (unshare(CLONE_NEWNS) < 0) {
                        fprintf(stderr, "unshare(CLONE_NEWNS): %m\n");
                        _exit(PEER_SKIP);
                }
                /* Private propagation, then a tmpfs over /run/systemd in this namespace only: the manager
                 * then believes it was booted with systemd and nothing leaks to the host. */
                if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                    mount("tmpfs", "/run/systemd", "tmpfs", 0, "mode=0755") < 0 ||
                    mkdir("/run/systemd/system", 0755) < 0) {
                        fprintf(stderr, "mount: %m\n");
                        _exit(PEER_SKIP);
                }
                /* A clean environment, as a real manager has: its units inherit it, and the test's own
                 * variables must not leak into them. */
                char *env[] = { NULL,
                                NULL,
                                (char *) "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                NULL };
                if (asprintf(&env[0], "HOME=%s", p->home) < 0 ||
                    asprintf(&env[1], "XDG_RUNTIME_DIR=%s", p->runtime_dir) < 0)
                        _exit(127);
                char *argv[] = { (char *) "/lib/systemd/systemd", (char *) "--user", NULL };
                execve(argv[0], argv, env);
                _exit(127);
        }
        p->pid = pid;

        Probe probe = { .path = private, .pid = pid };
        if (!peer_wait_until(probe_ready, &probe, PEER_START_TIMEOUT_USEC))
                return -ETIMEDOUT;
        if (probe.died) {
                _cleanup_free_ char *text = NULL;
                p->pid = 0;
                if (read_full_file(log, 65536, &text, NULL) >= 0)
                        fprintf(stderr, "systemd --user exited during start-up:\n%s\n", text);
                return text && strstr(text, "unshare") ? -EOPNOTSUPP : -ECHILD;
        }
        /* The socket exists before the manager serves it, and the user bus socket comes with
         * default.target: wait until start-up is complete. */
        for (usec_t end = now(CLOCK_MONOTONIC) + PEER_START_TIMEOUT_USEC;;) {
                _cleanup_free_ char *out = NULL;
                r = peer_systemctl(p, &out, "show", "-p", "SystemState", "--value", NULL);
                if (r == 0 && (startswith(out, "running") || startswith(out, "degraded")))
                        break;
                if (now(CLOCK_MONOTONIC) >= end)
                        return -ETIMEDOUT;
                (void) poll(NULL, 0, 20);
        }
        *ret = TAKE_PTR(p);
        return 0;
}

int peer_systemd_bus(PeerSystemd *p, bool via_broker, sd_bus **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *address = NULL;
        int r;

        if (asprintf(&address, "unix:path=%s/%s", p->runtime_dir, via_broker ? "bus" : "systemd/private") < 0)
                return -ENOMEM;
        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, address);
        if (r < 0)
                return r;
        if (via_broker) {
                r = sd_bus_set_bus_client(bus, 1);
                if (r < 0)
                        return r;
        }
        r = sd_bus_start(bus);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(bus);
        return 0;
}

static int systemctl_v(PeerSystemd *p, char **ret_out, const char *first, va_list ap) {
        const char *argv[32] = { "/usr/bin/systemctl", "--user", "--no-pager" };
        size_t n = 3;
        _cleanup_free_ char *env0 = NULL;

        for (const char *a = first; a; a = va_arg(ap, const char *)) {
                if (n >= ELEMENTSOF(argv) - 1)
                        return -E2BIG;
                argv[n++] = a;
        }
        argv[n] = NULL;
        if (asprintf(&env0, "XDG_RUNTIME_DIR=%s", p->runtime_dir) < 0)
                return -ENOMEM;
        char *env[] = { env0, (char *) "DBUS_SESSION_BUS_ADDRESS=", NULL };
        return peer_run((char *const *) argv, env, ret_out);
}

int peer_systemctl(PeerSystemd *p, char **ret_out, const char *arg, ...) {
        va_list ap;
        int r;

        va_start(ap, arg);
        r = systemctl_v(p, ret_out, arg, ap);
        va_end(ap);
        return r;
}

int peer_systemd_show(PeerSystemd *p, const char *unit, const char *property, char **ret) {
        _cleanup_free_ char *out = NULL;
        int r;

        r = peer_systemctl(p, &out, "show", "-p", property, "--value", unit, NULL);
        if (r < 0)
                return r;
        if (r != 0)
                return -EIO;
        out[strcspn(out, "\n")] = 0;
        *ret = TAKE_PTR(out);
        return 0;
}

int peer_systemd_write_unit(PeerSystemd *p, const char *name, const char *contents) {
        _cleanup_free_ char *path = path_join(p->unit_dir, name);
        int r;

        if (!path)
                return -ENOMEM;
        r = write_file(path, contents);
        if (r < 0)
                return r;
        r = peer_systemctl(p, NULL, "daemon-reload", NULL);
        return r == 0 ? 0 : -EIO;
}

int peer_systemd_run(PeerSystemd *p, const char *unit, char *const props[], char *const argv[]) {
        const char *args[48] = { "/usr/bin/systemd-run", "--user", "--quiet", "--collect" };
        _cleanup_strv_free_ char **own = calloc(ELEMENTSOF(args), sizeof(char *));
        _cleanup_free_ char *env0 = NULL;
        size_t n = 4, k = 0;

        if (!own)
                return -ENOMEM;
        if (asprintf(&own[k], "--unit=%s", unit) < 0)
                return -ENOMEM;
        args[n++] = own[k++];
        for (char *const *x = props; x && *x; x++) {
                if (n >= ELEMENTSOF(args) - 3 || asprintf(&own[k], "--property=%s", *x) < 0)
                        return -E2BIG;
                args[n++] = own[k++];
        }
        args[n++] = "--";
        for (char *const *x = argv; *x; x++) {
                if (n >= ELEMENTSOF(args) - 1)
                        return -E2BIG;
                args[n++] = *x;
        }
        args[n] = NULL;
        if (asprintf(&env0, "XDG_RUNTIME_DIR=%s", p->runtime_dir) < 0)
                return -ENOMEM;
        char *env[] = { env0, (char *) "DBUS_SESSION_BUS_ADDRESS=", NULL };
        int r = peer_run((char *const *) args, env, NULL);
        return r == 0 ? 0 : r < 0 ? r : -EIO;
}

/* ---- HAProxy ---- */

PeerHaproxy *peer_haproxy_stop(PeerHaproxy *p) {
        if (!p)
                return NULL;
        stop_pid(p->pid);
        if (p->dir)
                (void) peer_rm_rf(p->dir);
        free(p->dir);
        free(p->admin_socket);
        free(p);
        return NULL;
}

int peer_haproxy_start(PeerHaproxy **ret) {
        _cleanup_(peer_haproxy_stopp) PeerHaproxy *p = NULL;
        _cleanup_free_ char *cfg = NULL, *cfg_path = NULL, *log = NULL;
        int r;

        if (access("/usr/sbin/haproxy", X_OK) < 0)
                return -EOPNOTSUPP;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        r = peer_mkdtemp("homeostat-haproxy", &p->dir);
        if (r < 0)
                return r;
        r = peer_free_port(&p->admin_port);
        if (r < 0)
                return r;
        p->admin_socket = path_join(p->dir, "admin.sock");
        cfg_path = path_join(p->dir, "haproxy.cfg");
        log = path_join(p->dir, "haproxy.log");
        if (!p->admin_socket || !cfg_path || !log)
                return -ENOMEM;
        /* The frontend listens on a unix socket: no port needed; the backends point at the discard port
         * and have no health checks, so their state is exactly what the runtime API sets. */
        if (asprintf(
                    &cfg,
                    "global\n"
                    "    stats socket %s mode 600 level admin\n"
                    "    stats socket ipv4@127.0.0.1:%u level admin\n"
                    "defaults\n"
                    "    mode http\n"
                    "    timeout connect 1s\n"
                    "    timeout client 5s\n"
                    "    timeout server 5s\n"
                    "frontend fe\n"
                    "    bind unix@%s/fe.sock\n"
                    "    default_backend api\n"
                    "backend api\n"
                    "    server web1 127.0.0.1:9 weight 10\n"
                    "    server web2 127.0.0.1:9\n",
                    p->admin_socket,
                    p->admin_port,
                    p->dir) < 0)
                return -ENOMEM;
        r = write_file(cfg_path, cfg);
        if (r < 0)
                return r;
        char *argv[] = { (char *) "/usr/sbin/haproxy", (char *) "-db", (char *) "-f", cfg_path, NULL };
        r = spawn(argv, log, &p->pid);
        if (r < 0)
                return r;
        Probe probe = {
                .path = p->admin_socket, .request = "show info\n", .expect = "Name: HAProxy", .pid = p->pid
        };
        r = wait_ready(&probe, "haproxy", log);
        if (r < 0) {
                if (probe.died)
                        p->pid = 0;
                return r;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

int peer_haproxy_server(
        PeerHaproxy *p, const char *backend, const char *server, unsigned *ret_admin, unsigned *ret_weight) {
        _cleanup_free_ char *cmd = NULL, *reply = NULL;
        int r;

        if (asprintf(&cmd, "show servers state %s\n", backend) < 0)
                return -ENOMEM;
        r = peer_socket_request(p->admin_socket, 0, cmd, NULL, &reply);
        if (r < 0)
                return r;
        for (char *line = reply; line && *line;) {
                char *nl = strchr(line, '\n');
                if (nl)
                        *nl = 0;
                char be[64], srv[64];
                unsigned admin, weight;
                if (line[0] != '#' &&
                    sscanf(line, "%*u %63s %*u %63s %*s %*u %u %u", be, srv, &admin, &weight) == 4 &&
                    streq(be, backend) && streq(srv, server)) {
                        *ret_admin = admin;
                        *ret_weight = weight;
                        return 0;
                }
                line = nl ? nl + 1 : NULL;
        }
        return -ENOENT;
}

/* ---- Redis ---- */

PeerRedis *peer_redis_stop(PeerRedis *p) {
        if (!p)
                return NULL;
        stop_pid(p->pid);
        if (p->dir)
                (void) peer_rm_rf(p->dir);
        free(p->dir);
        free(p->socket);
        free(p);
        return NULL;
}

int peer_redis_start(PeerRedis **ret) {
        _cleanup_(peer_redis_stopp) PeerRedis *p = NULL;
        _cleanup_free_ char *log = NULL;
        char port[16];
        int r;

        if (access("/usr/bin/redis-server", X_OK) < 0)
                return -EOPNOTSUPP;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        r = peer_mkdtemp("homeostat-redis", &p->dir);
        if (r < 0)
                return r;
        r = peer_free_port(&p->port);
        if (r < 0)
                return r;
        p->socket = path_join(p->dir, "redis.sock");
        log = path_join(p->dir, "redis.log");
        if (!p->socket || !log)
                return -ENOMEM;
        (void) snprintf(port, sizeof(port), "%u", p->port);
        char *argv[] = { (char *) "/usr/bin/redis-server",
                         (char *) "--port",
                         port,
                         (char *) "--bind",
                         (char *) "127.0.0.1",
                         (char *) "--unixsocket",
                         p->socket,
                         (char *) "--unixsocketperm",
                         (char *) "700",
                         (char *) "--save",
                         (char *) "",
                         (char *) "--appendonly",
                         (char *) "no",
                         (char *) "--daemonize",
                         (char *) "no",
                         (char *) "--dir",
                         p->dir,
                         NULL };
        r = spawn(argv, log, &p->pid);
        if (r < 0)
                return r;
        Probe probe = { .path = p->socket, .request = "PING\r\n", .expect = "+PONG", .pid = p->pid };
        r = wait_ready(&probe, "redis-server", log);
        if (r < 0) {
                if (probe.died)
                        p->pid = 0;
                return r;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

/* ---- memcached ---- */

PeerMemcached *peer_memcached_stop(PeerMemcached *p) {
        if (!p)
                return NULL;
        stop_pid(p->pid);
        if (p->dir)
                (void) peer_rm_rf(p->dir);
        free(p->dir);
        free(p->socket);
        free(p);
        return NULL;
}

int peer_memcached_start(PeerMemcached **ret) {
        _cleanup_(peer_memcached_stopp) PeerMemcached *p = NULL;
        _cleanup_free_ char *log = NULL;
        int r;

        if (access("/usr/bin/memcached", X_OK) < 0)
                return -EOPNOTSUPP;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        r = peer_mkdtemp("homeostat-memcached", &p->dir);
        if (r < 0)
                return r;
        p->socket = path_join(p->dir, "mc.sock");
        log = path_join(p->dir, "memcached.log");
        if (!p->socket || !log)
                return -ENOMEM;
        char *argv[] = { (char *) "/usr/bin/memcached",
                         (char *) "-s",
                         p->socket,
                         (char *) "-a",
                         (char *) "0700",
                         (char *) "-m",
                         (char *) "16",
                         (char *) "-u",
                         (char *) "root",
                         NULL };
        r = spawn(argv, log, &p->pid);
        if (r < 0)
                return r;
        Probe probe = { .path = p->socket, .request = "version\r\n", .expect = "VERSION", .pid = p->pid };
        r = wait_ready(&probe, "memcached", log);
        if (r < 0) {
                if (probe.died)
                        p->pid = 0;
                return r;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

/* ---- HTTP receiver ---- */

static void append_log(const char *path, const char *text, size_t len) {
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0)
                return;
        (void) !write(fd, text, len);
        close(fd);
}

static void respond(int fd, const char *status, const char *body) {
        char buf[512];
        int n = snprintf(
                buf,
                sizeof(buf),
                "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                "Connection: close\r\n\r\n%s",
                status,
                strlen(body),
                body);
        if (n > 0)
                (void) !send(fd, buf, (size_t) n, MSG_NOSIGNAL);
}

/* 400 with the request quoted back, body first, then the request line and headers: what careless APIs
 * do in their error pages. */
static void respond_echo(int fd, const StrBuf *req, size_t head) {
        char buf[256];
        size_t body_len = req->len - head;
        int n = snprintf(
                buf,
                sizeof(buf),
                "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                "Connection: close\r\n\r\n",
                body_len + 1 + head);
        if (n <= 0)
                return;
        (void) !send(fd, buf, (size_t) n, MSG_NOSIGNAL);
        (void) !send(fd, req->data + head, body_len, MSG_NOSIGNAL);
        (void) !send(fd, " ", 1, MSG_NOSIGNAL);
        (void) !send(fd, req->data, head, MSG_NOSIGNAL);
}

/* Read one request: head up to the blank line, then Content-Length bytes of body. */
static int read_request(int fd, StrBuf *req, size_t *ret_head_len) {
        size_t head = 0, want = 0;

        for (;;) {
                char buf[4096];
                if (head > 0 && req->len >= head + want)
                        break;
                ssize_t k = recv(fd, buf, sizeof(buf), 0);
                if (k <= 0)
                        return -EIO;
                strbuf_append(req, buf, (size_t) k);
                if (req->len > 1024 * 1024)
                        return -EMSGSIZE;
                if (head == 0) {
                        const char *end = strstr(strbuf_str(req), "\r\n\r\n");
                        if (!end)
                                continue;
                        head = (size_t) (end - req->data) + 4;
                        for (const char *l = req->data; l < end; l = strstr(l, "\r\n") + 2) {
                                uint64_t v;
                                if (strncasecmp(l, "Content-Length:", 15) == 0) {
                                        char num[24] = "";
                                        size_t nl = strcspn(l + 15, "\r\n");
                                        const char *s = l + 15;
                                        while (*s == ' ')
                                                s++, nl--;
                                        if (nl < sizeof(num)) {
                                                memcpy(num, s, nl);
                                                num[nl] = 0;
                                                if (safe_atou64(num, &v) >= 0)
                                                        want = (size_t) v;
                                        }
                                }
                                if (!strstr(l, "\r\n"))
                                        break;
                        }
                }
        }
        *ret_head_len = head;
        return 0;
}

_noreturn_ static void http_serve(int lfd, const char *log_path) {
        int hung[64];
        size_t n_hung = 0;

        for (;;) {
                _cleanup_strbuf_ StrBuf req = STRBUF_INIT, entry = STRBUF_INIT;
                struct timeval tv = { .tv_sec = 2 };
                size_t head;
                int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0) {
                        if (errno == EINTR)
                                continue;
                        _exit(1);
                }
                (void) setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
                if (read_request(c, &req, &head) < 0) {
                        close(c);
                        continue;
                }
                /* Log: request line and headers without \r, then the body. */
                for (size_t i = 0; i < head - 2; i++)
                        if (req.data[i] != '\r')
                                strbuf_putc(&entry, req.data[i]);
                strbuf_append(&entry, req.data + head, req.len - head);
                strbuf_puts(&entry, "\n--\n");
                append_log(log_path, strbuf_str(&entry), entry.len);

                const char *target = strchr(req.data, ' ');
                target = target ? target + 1 : "";
                size_t plen = strcspn(target, " ?");
#define IS(p)                                                                     \
        ((plen == strlen(p) || (plen > strlen(p) && target[strlen(p)] == '/')) && \
         strneq(target, p, strlen(p)))
                if (IS("/ok"))
                        respond(c, "200 OK", "ok\n");
                else if (IS("/fail"))
                        respond(c, "500 Internal Server Error", "boom: internal error\n");
                else if (IS("/echo"))
                        respond_echo(c, &req, head);
                else if (IS("/hang")) {
                        if (n_hung < ELEMENTSOF(hung)) {
                                hung[n_hung++] = c;
                                continue;
                        }
                } else if (IS("/reset")) {
                        struct linger l = { .l_onoff = 1, .l_linger = 0 };
                        (void) setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
                } else
                        respond(c, "404 Not Found", "not found\n");
#undef IS
                close(c);
        }
}

PeerHttp *peer_http_stop(PeerHttp *p) {
        if (!p)
                return NULL;
        if (p->pid > 0) {
                (void) kill(p->pid, SIGKILL);
                (void) reap(p->pid, PEER_STOP_TIMEOUT_USEC, NULL);
        }
        if (p->dir)
                (void) peer_rm_rf(p->dir);
        free(p->dir);
        free(p->log_path);
        free(p);
        return NULL;
}

int peer_http_start(PeerHttp **ret) {
        _cleanup_(peer_http_stopp) PeerHttp *p = NULL;
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof(a);
        _cleanup_close_ int fd = -EBADF;
        int r;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        r = peer_mkdtemp("homeostat-http", &p->dir);
        if (r < 0)
                return r;
        p->log_path = path_join(p->dir, "requests.log");
        if (!p->log_path)
                return -ENOMEM;
        r = write_file(p->log_path, "");
        if (r < 0)
                return r;
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0 || listen(fd, 64) < 0 ||
            getsockname(fd, (struct sockaddr *) &a, &l) < 0)
                return -errno;
        p->port = ntohs(a.sin_port);
        /* Listening before the fork: the port is ready the moment this returns. */
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                child_reset_signals();
                http_serve(fd, p->log_path);
        }
        p->pid = pid;
        *ret = TAKE_PTR(p);
        return 0;
}

int peer_http_log(PeerHttp *p, char **ret) {
        return read_full_file(p->log_path, 16 * 1024 * 1024, ret, NULL);
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Helpers for the metric-source integration tests; see sources-test.h. Everything waits with a bound and
 * stops what it started by PID.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "prom-text.h"
#include "sources-test.h"
#include "strbuf.h"
#include "time-util.h"

void recorder_init(Recorder *r) {
        *r = (Recorder){ .last_up = NAN };
}

void recorder_reset(Recorder *r) {
        recorder_done(r);
        recorder_init(r);
}

void recorder_done(Recorder *r) {
        for (size_t i = 0; i < r->n; i++) {
                free(r->v[i].key);
                free(r->v[i].metric);
        }
        free(r->v);
        *r = (Recorder){ .last_up = NAN };
}

void recorder_cb(Source *s, const SampleIn *in, void *userdata) {
        Recorder *r = userdata;
        _cleanup_strbuf_ StrBuf key = STRBUF_INIT;

        /* The contract: labels sorted, unique, no __name__, values non-empty. */
        for (size_t i = 0; i < in->n_labels; i++) {
                if (i > 0 && strcmp(in->labels[i - 1].name, in->labels[i].name) >= 0)
                        abort();
                if (streq(in->labels[i].name, "__name__") || !in->labels[i].value[0])
                        abort();
        }
        if (prom_format_series(&key, in->metric, in->labels, in->n_labels) < 0)
                abort();
        if (GREEDY_REALLOC(r->v, r->allocated, r->n + 1) < 0)
                abort();
        r->v[r->n++] = (RecSample){
                .key = strbuf_steal(&key),
                .metric = strdup(in->metric),
                .type = in->type,
                .t = in->t,
                .value = in->value,
                .collection = r->collections,
        };
        if (streq(in->metric, "homeostat_source_up")) {
                r->collections++;
                r->last_up = in->value;
                r->up_value_sum += in->value > 0.5 ? 1 : 0;
        }
}

const RecSample *recorder_last(const Recorder *r, const char *key) {
        for (size_t i = r->n; i > 0; i--)
                if (streq(r->v[i - 1].key, key))
                        return &r->v[i - 1];
        return NULL;
}

size_t recorder_count(const Recorder *r, const char *key) {
        size_t n = 0;
        for (size_t i = 0; i < r->n; i++)
                n += streq(r->v[i].key, key);
        return n;
}

size_t recorder_count_metric(const Recorder *r, const char *metric) {
        size_t n = 0;
        for (size_t i = 0; i < r->n; i++)
                n += streq(r->v[i].metric, metric);
        return n;
}

size_t recorder_count_metric_in(const Recorder *r, const char *metric, uint64_t collection) {
        size_t n = 0;
        for (size_t i = 0; i < r->n; i++)
                n += streq(r->v[i].metric, metric) && r->v[i].collection == collection;
        return n;
}

bool run_until(sd_event *e, bool (*pred)(void *userdata), void *userdata, uint64_t timeout_usec) {
        usec_t end = now(CLOCK_MONOTONIC) + timeout_usec;

        while (!pred(userdata)) {
                usec_t n = now(CLOCK_MONOTONIC);
                if (n >= end)
                        return false;
                if (sd_event_run(e, MIN(end - n, 50 * USEC_PER_MSEC)) < 0)
                        return false;
        }
        return true;
}

void run_for(sd_event *e, uint64_t usec) {
        usec_t end = now(CLOCK_MONOTONIC) + usec;

        for (usec_t n = now(CLOCK_MONOTONIC); n < end; n = now(CLOCK_MONOTONIC))
                (void) sd_event_run(e, end - n);
}

bool wait_for(bool (*pred)(void *userdata), void *userdata, uint64_t timeout_usec) {
        usec_t end = now(CLOCK_MONOTONIC) + timeout_usec;

        while (!pred(userdata)) {
                if (now(CLOCK_MONOTONIC) >= end)
                        return false;
                (void) usleep(20000);
        }
        return true;
}

int free_tcp_port(void) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        int fd, port;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0 ||
            getsockname(fd, (struct sockaddr *) &a, &len) < 0) {
                port = -errno;
                close(fd);
                return port;
        }
        port = ntohs(a.sin_port);
        close(fd);
        return port;
}

static bool port_open(int port) {
        struct sockaddr_in a = { .sin_family = AF_INET,
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                 .sin_port = htons((uint16_t) port) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool ok;

        if (fd < 0)
                return false;
        ok = connect(fd, (struct sockaddr *) &a, sizeof(a)) == 0;
        close(fd);
        return ok;
}

bool wait_for_port(int port, uint64_t timeout_usec) {
        usec_t end = now(CLOCK_MONOTONIC) + timeout_usec;

        while (!port_open(port)) {
                if (now(CLOCK_MONOTONIC) >= end)
                        return false;
                (void) usleep(20000);
        }
        return true;
}

bool wait_for_path(const char *path, uint64_t timeout_usec) {
        usec_t end = now(CLOCK_MONOTONIC) + timeout_usec;

        while (access(path, F_OK) < 0) {
                if (now(CLOCK_MONOTONIC) >= end)
                        return false;
                (void) usleep(20000);
        }
        return true;
}

pid_t spawn(char *const argv[], char *const env[], const char *log_path) {
        pid_t pid = fork();

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int fd = open(log_path ?: "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                sigset_t all;

                sigemptyset(&all);
                (void) sigprocmask(SIG_SETMASK, &all, NULL);
                (void) signal(SIGPIPE, SIG_DFL);
                (void) setsid();
                /* If the test dies without stopping its peers, they go too (kept across exec). */
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (fd < 0 || null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0 ||
                    dup2(fd, STDERR_FILENO) < 0)
                        _exit(127);
                for (size_t i = 0; env && env[i]; i++)
                        (void) putenv(env[i]);
                execvp(argv[0], argv);
                _exit(127);
        }
        return pid;
}

int run_program(char *const argv[], char *const env[], uint64_t timeout_usec) {
        pid_t pid = spawn(argv, env, NULL);
        usec_t end = now(CLOCK_MONOTONIC) + timeout_usec;
        int status;

        if (pid < 0)
                return pid;
        for (;;) {
                pid_t r = waitpid(pid, &status, WNOHANG);
                if (r == pid)
                        return WIFEXITED(status) ? WEXITSTATUS(status) : -EPROTO;
                if (r < 0)
                        return -errno;
                if (now(CLOCK_MONOTONIC) >= end) {
                        stop_pid(pid);
                        return -ETIMEDOUT;
                }
                (void) usleep(10000);
        }
}

void stop_pid(pid_t pid) {
        usec_t end;

        if (pid <= 0)
                return;
        (void) kill(pid, SIGTERM);
        end = now(CLOCK_MONOTONIC) + 5 * USEC_PER_SEC;
        for (;;) {
                pid_t r = waitpid(pid, NULL, WNOHANG);
                if (r == pid || (r < 0 && errno == ECHILD))
                        return;
                if (now(CLOCK_MONOTONIC) >= end)
                        break;
                (void) usleep(10000);
        }
        (void) kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
}

char *make_temp_dir(void) {
        char tmpl[] = "/tmp/homeostat-sources-XXXXXX";

        if (!mkdtemp(tmpl))
                return NULL;
        return strdup(tmpl);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

void rmdir_rf(const char *path) {
        if (path)
                (void) nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static Source *tracked[64];

Source *track_source(Source *s) {
        for (size_t i = 0; i < ELEMENTSOF(tracked); i++)
                if (!tracked[i]) {
                        tracked[i] = s;
                        return s;
                }
        abort();
}

void free_source(Source *s) {
        for (size_t i = 0; i < ELEMENTSOF(tracked); i++)
                if (tracked[i] == s)
                        tracked[i] = NULL;
        source_free(s);
}

int teardown_sources(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(tracked); i++)
                tracked[i] = source_free(tracked[i]);
        return 0;
}

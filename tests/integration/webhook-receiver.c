/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Driving webhook-receiver.py from C; see webhook-receiver.h.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "strbuf.h"
#include "time-util.h"
#include "util.h"
#include "webhook-receiver.h"

pid_t spawn_process(char *const argv[], const char *log_path) {
        pid_t pid = fork();

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                sigset_t all;
                int fd = open(log_path ?: "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                sigemptyset(&all);
                (void) sigprocmask(SIG_SETMASK, &all, NULL);
                (void) signal(SIGPIPE, SIG_DFL);
                if (fd >= 0) {
                        (void) dup2(fd, STDOUT_FILENO);
                        (void) dup2(fd, STDERR_FILENO);
                }
                if (null >= 0)
                        (void) dup2(null, STDIN_FILENO);
                execv(argv[0], argv);
                _exit(127);
        }
        return pid;
}

void stop_process(pid_t pid) {
        if (pid <= 0)
                return;
        (void) kill(pid, SIGTERM);
        for (int i = 0; i < 1000; i++) {
                if (waitpid(pid, NULL, WNOHANG) == pid)
                        return;
                usleep(10000);
        }
        (void) kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
}

int free_tcp_port(void) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0 ||
            getsockname(fd, (struct sockaddr *) &a, &len) < 0) {
                int e = -errno;
                close(fd);
                return e;
        }
        port = ntohs(a.sin_port);
        close(fd);
        return port;
}

void remove_tree(const char *path) {
        char *argv[] = { (char *) "/bin/rm", (char *) "-rf", (char *) path, NULL };
        pid_t pid;

        if (!path || !*path || streq(path, "/"))
                return;
        pid = spawn_process(argv, NULL);
        if (pid > 0)
                (void) waitpid(pid, NULL, 0);
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata) {
        StrBuf *b = userdata;
        return strbuf_append(b, ptr, size * nmemb) < 0 ? 0 : size * nmemb;
}

int http_call(const char *method, const char *url, const char *body, long *ret_status, char **ret_body) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        struct curl_slist *h = NULL;
        CURL *c = curl_easy_init();
        CURLcode cc;

        if (!c)
                return -ENOMEM;
        h = curl_slist_append(NULL, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
        curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        if (body)
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        cc = curl_easy_perform(c);
        if (ret_status)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, ret_status);
        curl_easy_cleanup(c);
        curl_slist_free_all(h);
        if (cc != CURLE_OK)
                return -EIO;
        if (ret_body)
                *ret_body = strbuf_steal(&b);
        return 0;
}

int receiver_start(const char *python, const char *receiver_script, Receiver *ret) {
        char port_file[320], log_file[320];
        Receiver r = { .pid = -1 };

        snprintf(r.dir, sizeof(r.dir), "/tmp/homeostat-receiver-XXXXXX");
        if (!mkdtemp(r.dir))
                return -errno;
        snprintf(port_file, sizeof(port_file), "%s/port", r.dir);
        snprintf(log_file, sizeof(log_file), "%s/log", r.dir);
        char *argv[] = { (char *) python, (char *) receiver_script, (char *) "--port-file", port_file, NULL };
        r.pid = spawn_process(argv, log_file);
        if (r.pid < 0) {
                remove_tree(r.dir);
                return r.pid;
        }
        for (int i = 0; i < 3000; i++) {
                _cleanup_free_ char *data = NULL;
                uint64_t port;
                if (read_full_file(port_file, 64, &data, NULL) >= 0) {
                        data[strcspn(data, "\n")] = 0;
                        if (safe_atou64(data, &port) >= 0 && port > 0 && port < 65536) {
                                r.port = (int) port;
                                *ret = r;
                                return 0;
                        }
                }
                if (waitpid(r.pid, NULL, WNOHANG) == r.pid) {
                        r.pid = -1;
                        break;
                }
                usleep(10000);
        }
        receiver_stop(&r);
        return -ETIMEDOUT;
}

void receiver_stop(Receiver *r) {
        stop_process(r->pid);
        r->pid = -1;
        remove_tree(r->dir);
        r->dir[0] = 0;
}

static int control(const Receiver *r, const char *path, const char *json) {
        char url[128];
        long status = 0;
        int k;

        snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", r->port, path);
        k = http_call("POST", url, json ?: "{}", &status, NULL);
        if (k < 0)
                return k;
        return status == 200 ? 0 : -EIO;
}

int receiver_script(const Receiver *r, const char *json) {
        return control(r, "/_control/script", json);
}

int receiver_reset(const Receiver *r) {
        return control(r, "/_control/reset", NULL);
}

json_t *receiver_requests(const Receiver *r, const char *path) {
        _cleanup_free_ char *body = NULL;
        char url[128];
        json_t *all, *out;
        json_error_t err;
        long status = 0;
        size_t i;
        json_t *v;

        snprintf(url, sizeof(url), "http://127.0.0.1:%d/_control/requests", r->port);
        if (http_call("GET", url, NULL, &status, &body) < 0 || status != 200)
                return NULL;
        all = json_loads(body, 0, &err);
        if (!all)
                return NULL;
        out = json_array();
        json_array_foreach(
                json_object_get(all, "requests"),
                i,
                v) if (!path || streq_ptr(json_string_value(json_object_get(v, "path")), path))
                json_array_append(out, v);
        json_decref(all);
        return out;
}

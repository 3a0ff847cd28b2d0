/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Tests for supervisor/api.c: the real libmicrohttpd server on a real sd-event loop, over a unix socket in
 * a temporary directory and over TCP on 127.0.0.1 (port 0). Requests are made with libcurl from a client
 * thread while the main thread runs the loop; the "not privileged" case forks a child that drops to
 * nobody/nogroup and speaks raw HTTP (no allocation after fork).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "api.h"
#include "strbuf.h"

static char tmpdir[] = "/tmp/test-api-XXXXXX";
static char sock_path[256];

typedef struct Reply {
        long status;
        StrBuf body;
        StrBuf headers;
} Reply;

static size_t write_cb(char *p, size_t size, size_t n, void *ud) {
        (void) strbuf_append(ud, p, size * n);
        return size * n;
}

/* One blocking request with libcurl. unix: use sock_path, else TCP port. */
static CURLcode request_full(
        const char *method,
        const char *path,
        const char *body,
        size_t body_size,
        bool chunked,
        unsigned tcp_port,
        Reply *ret) {
        CURLcode cc;
        CURL *c = curl_easy_init();
        char url[512];
        struct curl_slist *h = NULL;

        assert_non_null(c);
        if (tcp_port > 0)
                snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", tcp_port, path);
        else {
                snprintf(url, sizeof(url), "http://localhost%s", path);
                curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock_path);
        }
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &ret->body);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, write_cb);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &ret->headers);
        if (streq(method, "HEAD"))
                curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        if (body) {
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) body_size);
                if (chunked) {
                        h = curl_slist_append(h, "Transfer-Encoding: chunked");
                        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
                }
        }
        cc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ret->status);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        return cc;
}

static void
        request(const char *method,
                const char *path,
                const char *body,
                size_t body_size,
                bool chunked,
                unsigned tcp_port,
                Reply *ret) {
        assert_int_equal(request_full(method, path, body, body_size, chunked, tcp_port, ret), CURLE_OK);
}

static void reply_done(Reply *r) {
        strbuf_done(&r->body);
        strbuf_done(&r->headers);
        *r = (Reply){};
}

/* Send a raw request on the unix socket and check the response contains want. No allocation (it also
 * runs in forked children). */
static bool raw_request(const char *path, const char *req, const char *want) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char buf[512];
        size_t got = 0;
        int fd;

        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return false;
        if (write(fd, req, strlen(req)) != (ssize_t) strlen(req)) {
                close(fd);
                return false;
        }
        for (;;) {
                ssize_t k = read(fd, buf + got, sizeof(buf) - 1 - got);
                if (k <= 0)
                        break;
                got += (size_t) k;
                if (got >= sizeof(buf) - 1 || memmem(buf, got, "\r\n\r\n", 4))
                        break;
        }
        close(fd);
        buf[got] = 0;
        return strstr(buf, want) != NULL;
}

/* ---- handlers ---- */

static int h_hello(const ApiRequest *req, ApiResponse *resp, void *ud) {
        const char *who = api_request_query(req, "who");
        return api_reply_json(resp, 200, json_pack("{s:s,s:b}", "hello", who ?: "world", "tcp", req->over_tcp));
}

static int h_echo(const ApiRequest *req, ApiResponse *resp, void *ud) {
        return api_reply_json(
                resp, 200, json_pack("{s:s%,s:b}", "body", req->body, req->body_size, "priv", req->privileged));
}

static int h_item(const ApiRequest *req, ApiResponse *resp, void *ud) {
        if (!*req->subpath)
                return api_reply_error(resp, 404, "no item");
        return api_reply_json(resp, 200, json_pack("{s:s}", "item", req->subpath));
}

static int h_fail(const ApiRequest *req, ApiResponse *resp, void *ud) {
        return -EIO;
}

static int h_secret(const ApiRequest *req, ApiResponse *resp, void *ud) {
        char *s = strdup("secret\n");
        return api_reply_text(resp, 200, "text/plain", s, strlen(s));
}

/* ---- the client thread ---- */

typedef struct Client {
        int done_fd;
        unsigned tcp_port;
        void (*run)(struct Client *c);
} Client;

static void *client_main(void *p) {
        Client *c = p;
        uint64_t one = 1;

        c->run(c);
        assert_int_equal(write(c->done_fd, &one, sizeof(one)), sizeof(one));
        return NULL;
}

static int on_done(sd_event_source *s, int fd, uint32_t revents, void *ud) {
        *(bool *) ud = true;
        return 0;
}

/* Run the loop until the client thread has finished its requests. */
static void run_client(Api *a, sd_event *e, Client *c) {
        sd_event_source *src = NULL;
        bool done = false;
        pthread_t t;

        c->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        assert_true(c->done_fd >= 0);
        c->tcp_port = api_tcp_port(a);
        assert_int_equal(sd_event_add_io(e, &src, c->done_fd, EPOLLIN, on_done, &done), 0);
        assert_int_equal(pthread_create(&t, NULL, client_main, c), 0);
        while (!done)
                assert_true(sd_event_run(e, UINT64_MAX) >= 0);
        pthread_join(t, NULL);
        sd_event_source_disable_unref(src);
        close(c->done_fd);
}

static void run_requests(Client *c) {
        Reply r = {};
        char *big;

        request("GET", "/hello?who=me", NULL, 0, false, 0, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(strbuf_str(&r.body), "{\"hello\":\"me\",\"tcp\":false}\n");
        assert_non_null(strstr(strbuf_str(&r.headers), "application/json"));
        reply_done(&r);

        request("HEAD", "/hello", NULL, 0, false, 0, &r);
        assert_int_equal(r.status, 200);
        reply_done(&r);

        request("GET", "/nope", NULL, 0, false, 0, &r);
        assert_int_equal(r.status, 404);
        assert_non_null(strstr(strbuf_str(&r.body), "\"error\""));
        reply_done(&r);

        request("DELETE", "/hello", NULL, 0, false, 0, &r);
        assert_int_equal(r.status, 405);
        assert_non_null(strstr(strbuf_str(&r.headers), "Allow: GET, HEAD"));
        reply_done(&r);

        request("POST", "/echo", "{\"a\":1}", 7, false, 0, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(strbuf_str(&r.body), "{\"body\":\"{\\\"a\\\":1}\",\"priv\":true}\n");
        reply_done(&r);

        request("POST", "/echo", NULL, 0, false, 0, &r);
        assert_int_equal(r.status, 200);
        reply_done(&r);

        big = malloc(API_BODY_MAX + 10);
        assert_non_null(big);
        memset(big, 'x', API_BODY_MAX + 10);
        request("POST", "/echo", big, API_BODY_MAX + 1, false, 0, &r);
        assert_int_equal(r.status, 413);
        reply_done(&r);
        request("POST", "/echo", big, API_BODY_MAX + 10, true, 0, &r);
        assert_int_equal(r.status, 413);
        reply_done(&r);
        /* exactly the limit is fine */
        request("POST", "/echo", big, API_BODY_MAX, true, 0, &r);
        assert_int_equal(r.status, 200);
        reply_done(&r);
        free(big);
        /* a huge declared body is refused before any of it is read */
        assert_true(raw_request(
                sock_path, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n", " 413 "));
        assert_true(
                raw_request(sock_path, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", " 4"));

        request("GET", "/items/abc", NULL, 0, false, 0, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(strbuf_str(&r.body), "{\"item\":\"abc\"}\n");
        reply_done(&r);
        request("GET", "/items/", NULL, 0, false, 0, &r);
        assert_int_equal(r.status, 404);
        reply_done(&r);
        /* an exact route beside a prefix route wins */
        request("GET", "/items/special", NULL, 0, false, 0, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(strbuf_str(&r.body), "secret\n");
        reply_done(&r);

        request("GET", "/fail", NULL, 0, false, 0, &r);
        assert_int_equal(r.status, 500);
        assert_non_null(strstr(strbuf_str(&r.body), "internal error"));
        reply_done(&r);

        /* TCP: reads only */
        request("GET", "/hello", NULL, 0, false, c->tcp_port, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(strbuf_str(&r.body), "{\"hello\":\"world\",\"tcp\":true}\n");
        reply_done(&r);
        request("POST", "/echo", "x", 1, false, c->tcp_port, &r);
        assert_int_equal(r.status, 403);
        reply_done(&r);
        request("GET", "/secret", NULL, 0, false, c->tcp_port, &r);
        assert_int_equal(r.status, 403);
        reply_done(&r);
        request("GET", "/secret", NULL, 0, false, 0, &r);
        assert_int_equal(r.status, 200);
        reply_done(&r);
}

/* In a forked child: become nobody and POST over the unix socket; exit 0 if refused with 403. */
static _noreturn_ void unprivileged_post(const char *path, gid_t group) {
        if (group != (gid_t) -1) {
                /* nobody, but a member of the write group: allowed */
                if (setgroups(1, &group) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                    setresuid(65534, 65534, 65534) < 0)
                        _exit(3);
                _exit(raw_request(
                              path,
                              "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx",
                              " 200 ")
                              ? 0
                              : 1);
        }
        if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
                _exit(3);
        _exit(raw_request(
                      path,
                      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx",
                      " 403 ")
                      ? 0
                      : 1);
}

typedef struct ForkClient {
        Client base;
        gid_t extra_group;
        int result_refused, result_group;
} ForkClient;

static void run_unprivileged(Client *c) {
        ForkClient *fc = (ForkClient *) c;
        int status;
        pid_t pid;

        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                unprivileged_post(sock_path, (gid_t) -1);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        fc->result_refused = WIFEXITED(status) ? WEXITSTATUS(status) : 99;

        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                unprivileged_post(sock_path, fc->extra_group);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        fc->result_group = WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

static void test_api_routes(void **state) {
        _cleanup_(api_freep) Api *a = NULL;
        sd_event *e = NULL;
        Client c = { .run = run_requests };

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(api_new(e, &a), 0);
        assert_int_equal(api_add_route(a, "GET", "/hello", 0, h_hello, NULL), 0);
        assert_int_equal(api_add_route(a, "GET", "/hello", 0, h_hello, NULL), -EEXIST);
        assert_int_equal(api_add_route(a, "POST", "/echo", 0, h_echo, NULL), 0);
        assert_int_equal(api_add_route(a, "GET", "/items/", API_ROUTE_PREFIX, h_item, NULL), 0);
        assert_int_equal(api_add_route(a, "GET", "/items/special", 0, h_secret, NULL), 0);
        assert_int_equal(api_add_route(a, "GET", "/fail", 0, h_fail, NULL), 0);
        assert_int_equal(api_add_route(a, "GET", "/secret", API_ROUTE_UNIX_ONLY, h_secret, NULL), 0);
        assert_int_equal(api_add_route(a, "GET", "/bad", API_ROUTE_PREFIX, h_secret, NULL), -EINVAL);
        assert_int_equal(api_listen_unix(a, sock_path), 0);
        assert_int_equal(api_listen_tcp(a, "127.0.0.1:0"), 0);
        assert_true(api_tcp_port(a) > 0);

        struct stat st;
        assert_int_equal(stat(sock_path, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));
        assert_int_equal(st.st_mode & 0777, 0666);

        /* a second server on the same path is refused while this one listens */
        {
                _cleanup_(api_freep) Api *b = NULL;
                assert_int_equal(api_new(e, &b), 0);
                assert_int_equal(api_listen_unix(b, sock_path), -EADDRINUSE);
        }

        run_client(a, e, &c);

        ApiStats st2;
        api_get_stats(a, &st2);
        assert_true(st2.requests >= 15);
        assert_int_equal(st2.refused_writes, 2);

        if (geteuid() == 0) {
                ForkClient fc = { .base.run = run_unprivileged, .extra_group = 4242 };
                api_set_write_group(a, 4242);
                run_client(a, e, &fc.base);
                assert_int_equal(fc.result_refused, 0);
                assert_int_equal(fc.result_group, 0);
        }

        a = api_free(a);
        /* the socket file is removed with the server */
        assert_int_equal(lstat(sock_path, &st), -1);
        sd_event_unref(e);
}

static void test_api_stale_socket(void **state) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char path[300];
        int fd;

        snprintf(path, sizeof(path), "%s/stale.sock", tmpdir);
        assert_int_equal(api_unix_socket_prepare(path), 0); /* nothing there */

        /* a socket file nobody listens on: stale, removed */
        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        close(fd);
        assert_int_equal(api_unix_socket_prepare(path), 0);
        struct stat st;
        assert_int_equal(lstat(path, &st), -1);

        /* a listening socket: in use */
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(listen(fd, 1), 0);
        assert_int_equal(api_unix_socket_prepare(path), -EADDRINUSE);
        close(fd);
        unlink(path);

        /* a regular file is never removed */
        fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        close(fd);
        assert_int_equal(api_unix_socket_prepare(path), -EEXIST);
        assert_int_equal(lstat(path, &st), 0);
        unlink(path);

        char longp[200];
        memset(longp, 'a', sizeof(longp) - 1);
        longp[0] = '/';
        longp[sizeof(longp) - 1] = 0;
        assert_int_equal(api_unix_socket_prepare(longp), -ENAMETOOLONG);
}

static void test_api_listen_tcp_bad(void **state) {
        _cleanup_(api_freep) Api *a = NULL;
        sd_event *e = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(api_new(e, &a), 0);
        assert_int_equal(api_listen_tcp(a, "127.0.0.1"), -EINVAL);
        assert_int_equal(api_listen_tcp(a, "127.0.0.1:http"), -EINVAL);
        assert_int_equal(api_listen_tcp(a, "127.0.0.1:99999"), -EINVAL);
        assert_int_equal(api_listen_tcp(a, "::1:80"), -EINVAL);
        assert_int_equal(api_listen_tcp(a, "[::1"), -EINVAL);
        assert_int_equal(api_listen_tcp(a, ":80"), -EINVAL);
        a = api_free(a);
        sd_event_unref(e);
}

static int setup(void **state) {
        assert_non_null(mkdtemp(tmpdir));
        assert_int_equal(chmod(tmpdir, 0755), 0); /* the unprivileged client must reach the socket */
        snprintf(sock_path, sizeof(sock_path), "%s/api.sock", tmpdir);
        return 0;
}

static int teardown(void **state) {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_api_routes),
                cmocka_unit_test(test_api_stale_socket),
                cmocka_unit_test(test_api_listen_tcp_bad),
        };
        sigset_t ss;

        /* as homeostatd does: no SIGPIPE deaths when a client goes away */
        signal(SIGPIPE, SIG_IGN);
        sigemptyset(&ss);
        curl_global_init(CURL_GLOBAL_DEFAULT);
        return cmocka_run_group_tests(tests, setup, teardown);
}

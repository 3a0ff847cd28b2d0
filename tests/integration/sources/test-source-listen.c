/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The listen source over a real unix socket in a temporary directory: two clients pushing at once (with
 * lines split across writes, `# TYPE` lines that apply per client, explicit timestamps), bad lines
 * skipped and counted, a client sending garbage or an over-long line disconnected while the others carry
 * on, the client limit, max_series, and the socket file itself (mode 0660, a stale socket replaced,
 * anything else refused, removed only by its owner).
 */
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "prom-text.h"
#include "sources-test.h"

static sd_event *event;
static char *tmp;
static char path[512];

static int setup(void **state) {
        assert_int_equal(sd_event_new(&event), 0);
        tmp = make_temp_dir();
        assert_non_null(tmp);
        snprintf(path, sizeof(path), "%s/push.sock", tmp);
        return 0;
}

static int teardown(void **state) {
        sd_event_unref(event);
        rmdir_rf(tmp);
        free(tmp);
        return 0;
}

static SourceConfig config(const char *p, uint64_t max_series) {
        return (SourceConfig){
                .name = (char *) "push",
                .kind = SOURCE_LISTEN,
                .listen_path = (char *) p,
                .interval_usec = 200 * USEC_PER_MSEC,
                .timeout_usec = 200 * USEC_PER_MSEC,
                .max_series = max_series,
        };
}

static Source *listen_source(const char *p, uint64_t max_series, Recorder *rec) {
        const SourceDeps deps = { .event = event };
        SourceConfig c = config(p, max_series);
        Source *s = NULL;

        assert_int_equal(source_new(&deps, &c, recorder_cb, rec, &s), 0);
        track_source(s);
        assert_int_equal(source_start(s), 0);
        return s;
}

static int client(const char *p) {
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        assert_true(strlen(p) < sizeof(a.sun_path));
        memcpy(a.sun_path, p, strlen(p) + 1);
        assert_int_equal(connect(fd, (struct sockaddr *) &a, sizeof(a)), 0);
        return fd;
}

static void say(int fd, const char *text) {
        size_t n = strlen(text);
        assert_int_equal(send(fd, text, n, MSG_NOSIGNAL), (ssize_t) n);
}

typedef struct KeyWait {
        Recorder *rec;
        const char *key;
        size_t count;
} KeyWait;

static bool have_key(void *userdata) {
        KeyWait *w = userdata;
        return recorder_count(w->rec, w->key) >= w->count;
}

static void wait_key(Recorder *rec, const char *key, size_t count) {
        KeyWait w = { rec, key, count };
        if (!run_until(event, have_key, &w, 5 * USEC_PER_SEC))
                fail_msg("no sample %s (x%zu) arrived", key, count);
}

typedef struct Closed {
        int fd;
} Closed;

/* The server closed the connection: reading gives EOF (or a reset). */
static bool closed_by_peer(void *userdata) {
        Closed *c = userdata;
        char b[256];
        ssize_t n = recv(c->fd, b, sizeof(b), MSG_DONTWAIT);
        return n == 0 || (n < 0 && errno != EAGAIN);
}

static void wait_closed(int fd) {
        Closed c = { fd };
        assert_true(run_until(event, closed_by_peer, &c, 5 * USEC_PER_SEC));
}

static void test_two_clients(void **state) {
        Recorder rec;
        SourceStats st;
        double t0 = (double) now(CLOCK_REALTIME) / 1e6;

        recorder_init(&rec);
        Source *s = listen_source(path, 100, &rec);
        int a = client(path), b = client(path);

        say(a, "# TYPE reqs counter\nreqs{path=\"/a\"} 5 1700000000000\n");
        say(b, "tem");
        run_for(event, 50 * USEC_PER_MSEC);
        say(b, "p 21.5\r\nreqs{path=\"/b\"} 1\n");
        wait_key(&rec, "reqs{path=\"/a\",source=\"push\"}", 1);
        wait_key(&rec, "temp{source=\"push\"}", 1);
        wait_key(&rec, "reqs{path=\"/b\",source=\"push\"}", 1);

        const RecSample *x = recorder_last(&rec, "reqs{path=\"/a\",source=\"push\"}");
        assert_int_equal(x->type, SAMPLE_COUNTER);
        assert_true(double_eq(x->value, 5));
        assert_true(fabs(x->t - 1700000000.0) < 1e-9);
        x = recorder_last(&rec, "temp{source=\"push\"}");
        assert_int_equal(x->type, SAMPLE_UNKNOWN);
        assert_true(double_eq(x->value, 21.5));
        assert_true(x->t >= t0 - 1 && x->t <= (double) now(CLOCK_REALTIME) / 1e6 + 1); /* arrival time */
        /* client a's TYPE line does not apply to client b */
        x = recorder_last(&rec, "reqs{path=\"/b\",source=\"push\"}");
        assert_int_equal(x->type, SAMPLE_UNKNOWN);

        /* A client's TYPE lines keep applying to its later samples. */
        say(a, "reqs{path=\"/a\"} 6\n");
        wait_key(&rec, "reqs{path=\"/a\",source=\"push\"}", 2);
        x = recorder_last(&rec, "reqs{path=\"/a\",source=\"push\"}");
        assert_int_equal(x->type, SAMPLE_COUNTER);
        assert_true(double_eq(x->value, 6));

        source_get_stats(s, &st);
        assert_int_equal(st.clients, 2);
        assert_int_equal(st.bad_lines, 0);
        assert_int_equal(st.clients_dropped, 0);

        /* An unterminated last line still counts when the client closes. */
        say(b, "last_words 3");
        close(b);
        wait_key(&rec, "last_words{source=\"push\"}", 1);
        close(a);

        /* Each interval reports the source up. */
        wait_key(&rec, "homeostat_source_up{source=\"push\"}", 2);
        assert_true(double_eq(rec.last_up, 1));
        recorder_done(&rec);
}

static void test_bad_lines_and_garbage(void **state) {
        Recorder rec;
        SourceStats st;

        recorder_init(&rec);
        Source *s = listen_source(path, 100, &rec);
        int good = client(path), bad = client(path);

        /* Fewer bad lines in a row than the limit: skipped and counted, the client stays. */
        say(good, "x{a=\"1\",a=\"2\"} 1\nnot a sample\ny 1 2 3\nok_metric 1\n");
        wait_key(&rec, "ok_metric{source=\"push\"}", 1);
        source_get_stats(s, &st);
        assert_int_equal(st.bad_lines, 3);
        assert_non_null(strstr(st.last_error, "line 3: unexpected text after the timestamp"));

        /* Garbage: disconnected after SOURCE_LISTEN_MAX_BAD_IN_A_ROW bad lines in a row. */
        for (unsigned i = 0; i < SOURCE_LISTEN_MAX_BAD_IN_A_ROW; i++)
                say(bad, "\x01\x02\x03 garbage \xff\n");
        wait_closed(bad);
        close(bad);
        source_get_stats(s, &st);
        assert_int_equal(st.clients_dropped, 1);
        assert_int_equal(st.clients, 1);
        assert_int_equal(st.bad_lines, 3 + SOURCE_LISTEN_MAX_BAD_IN_A_ROW);
        assert_non_null(strstr(st.last_error, "disconnected after 8 bad lines in a row"));

        /* The other client carries on. */
        say(good, "ok_metric 2\n");
        wait_key(&rec, "ok_metric{source=\"push\"}", 2);
        close(good);
        recorder_done(&rec);
}

static bool one_long_sample(void *userdata) {
        return recorder_count_metric(userdata, "long") == 1;
}

static void test_long_line(void **state) {
        Recorder rec;
        SourceStats st;
        _cleanup_free_ char *line = malloc(PROM_LINE_MAX + 100);

        recorder_init(&rec);
        Source *s = listen_source(path, 100, &rec);
        int good = client(path), bad = client(path);

        /* Exactly PROM_LINE_MAX plus CRLF fits (and is a valid sample). */
        memset(line, 'v', PROM_LINE_MAX + 100);
        memcpy(line, "long{x=\"", 8);
        memcpy(line + PROM_LINE_MAX - 4, "\"} 1\r\n", 6);
        line[PROM_LINE_MAX + 2] = 0;
        say(good, line);
        assert_true(run_until(event, one_long_sample, &rec, 5 * USEC_PER_SEC));

        /* One byte more without a newline: the client is cut off. */
        memset(line, 'a', PROM_LINE_MAX + 100);
        assert_int_equal(send(bad, line, PROM_LINE_MAX + 3, MSG_NOSIGNAL), PROM_LINE_MAX + 3);
        wait_closed(bad);
        close(bad);
        source_get_stats(s, &st);
        assert_int_equal(st.clients_dropped, 1);
        assert_non_null(strstr(st.last_error, "line longer than 65536 bytes"));

        say(good, "after 1\n");
        wait_key(&rec, "after{source=\"push\"}", 1);
        close(good);
        recorder_done(&rec);
}

static void test_client_limit(void **state) {
        Recorder rec;
        SourceStats st;
        int fds[SOURCE_LISTEN_MAX_CLIENTS + 1];

        recorder_init(&rec);
        Source *s = listen_source(path, 100, &rec);
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                fds[i] = client(path);
        wait_closed(fds[SOURCE_LISTEN_MAX_CLIENTS]);
        source_get_stats(s, &st);
        assert_int_equal(st.clients, SOURCE_LISTEN_MAX_CLIENTS);
        assert_int_equal(st.clients_dropped, 1);
        say(fds[0], "still 1\n");
        wait_key(&rec, "still{source=\"push\"}", 1);
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                close(fds[i]);
        recorder_done(&rec);
}

static void test_max_series(void **state) {
        Recorder rec;
        SourceStats st;

        recorder_init(&rec);
        Source *s = listen_source(path, 2, &rec);
        int fd = client(path);
        say(fd, "a 1\nb 1\nc 1\na 2\nend_marker_that_is_dropped 1\n");
        close(fd);
        wait_key(&rec, "a{source=\"push\"}", 2);
        run_for(event, 100 * USEC_PER_MSEC);
        source_get_stats(s, &st);
        assert_int_equal(st.series, 2);
        assert_int_equal(st.dropped_max_series, 2);
        assert_int_equal(recorder_count(&rec, "c{source=\"push\"}"), 0);
        recorder_done(&rec);
}

static void test_socket_file(void **state) {
        const SourceDeps deps = { .event = event };
        Recorder rec;
        struct stat st;
        char other[600], longp[200];
        Source *s = NULL;

        recorder_init(&rec);

        /* A stale socket (nobody listening) is replaced. */
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(strlen(path) < sizeof(a.sun_path));
        memcpy(a.sun_path, path, strlen(path) + 1);
        assert_int_equal(bind(fd, (struct sockaddr *) &a, sizeof(a)), 0);
        close(fd);
        Source *first = listen_source(path, 10, &rec);
        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));
        assert_int_equal(st.st_mode & 0777, 0660);

        /* A second source at the same path takes it over; freeing the first leaves the second's socket. */
        Source *second = listen_source(path, 10, &rec);
        free_source(first);
        assert_int_equal(stat(path, &st), 0);
        fd = client(path);
        say(fd, "to_second 1\n");
        close(fd);
        wait_key(&rec, "to_second{source=\"push\"}", 1);
        free_source(second);
        assert_int_equal(stat(path, &st), -1);
        assert_int_equal(errno, ENOENT);

        /* Anything but a socket is never removed. */
        snprintf(other, sizeof(other), "%s/regular", tmp);
        FILE *f = fopen(other, "we");
        assert_non_null(f);
        fclose(f);
        SourceConfig c = config(other, 10);
        assert_int_equal(source_new(&deps, &c, recorder_cb, &rec, &s), -EEXIST);
        assert_int_equal(stat(other, &st), 0);

        /* Paths that do not fit a sockaddr_un, or a directory that does not exist. */
        memset(longp, 'x', sizeof(longp) - 1);
        longp[0] = '/';
        longp[sizeof(longp) - 1] = 0;
        c = config(longp, 10);
        assert_int_equal(source_new(&deps, &c, recorder_cb, &rec, &s), -ENAMETOOLONG);
        snprintf(other, sizeof(other), "%s/missing/dir/sock", tmp);
        c = config(other, 10);
        assert_int_equal(source_new(&deps, &c, recorder_cb, &rec, &s), -ENOENT);
        recorder_done(&rec);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_two_clients, teardown_sources),
                cmocka_unit_test_teardown(test_bad_lines_and_garbage, teardown_sources),
                cmocka_unit_test_teardown(test_long_line, teardown_sources),
                cmocka_unit_test_teardown(test_client_limit, teardown_sources),
                cmocka_unit_test_teardown(test_max_series, teardown_sources),
                cmocka_unit_test_teardown(test_socket_file, teardown_sources),
        };

        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, setup, teardown);
}

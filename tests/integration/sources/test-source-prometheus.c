/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The prometheus source against real peers on 127.0.0.1: a real prometheus-node-exporter (counters and
 * gauges with their labels, across two scrapes) and misbehaving-http (garbage, a 100 MB body, a gzip
 * bomb, a hang, a connection closed mid-response, 500, a redirect, an empty body, gzip), plus a port where
 * nothing listens. A failed scrape must emit nothing but homeostat_source_up 0 and say why.
 *
 * Usage: test-source-prometheus MISBEHAVING_HTTP_BINARY. Exits 77 if prometheus-node-exporter is missing.
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
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "sources-test.h"

static const char *server_binary;
static sd_event *event;
static CurlGlue *curl;
static char *tmp;
static pid_t server_pid = -1, ne_pid = -1;
static int server_port, ne_port, dead_port;

static SourceConfig
        config(const char *name,
               const char *url,
               usec_t interval,
               usec_t timeout,
               uint64_t max_series,
               KeyValue *labels,
               size_t n_labels) {
        return (SourceConfig){
                .name = (char *) name,
                .kind = SOURCE_PROMETHEUS,
                .url = (char *) url,
                .interval_usec = interval,
                .timeout_usec = timeout,
                .max_series = max_series,
                .labels = labels,
                .n_labels = n_labels,
        };
}

static char *url_of(int port, const char *path) {
        static char buf[8][256];
        static unsigned i;
        char *u = buf[i++ % 8];
        snprintf(u, sizeof(buf[0]), "http://127.0.0.1:%d%s", port, path);
        return u;
}

typedef struct Wait {
        Recorder *rec;
        uint64_t collections;
} Wait;

static bool enough_collections(void *userdata) {
        Wait *w = userdata;
        return w->rec->collections >= w->collections;
}

/* Create, start and run a source until it has done n collections (bounded). */
static Source *run_source(const SourceConfig *c, Recorder *rec, uint64_t n, usec_t timeout) {
        const SourceDeps deps = { .event = event, .curl = curl };
        Source *s = NULL;
        Wait w = { rec, n };

        assert_int_equal(source_new(&deps, c, recorder_cb, rec, &s), 0);
        track_source(s);
        assert_int_equal(source_start(s), 0);
        assert_true(run_until(event, enough_collections, &w, timeout));
        return s;
}

static bool port_file_ready(void *userdata) {
        FILE *f = fopen(userdata, "re");
        int port = 0;
        if (!f)
                return false;
        if (fscanf(f, "%d", &port) != 1)
                port = 0;
        fclose(f);
        server_port = port;
        return port > 0;
}

static int setup(void **state) {
        char portfile[512];

        assert_int_equal(sd_event_new(&event), 0);
        assert_int_equal(curl_glue_new(event, &curl), 0);
        tmp = make_temp_dir();
        assert_non_null(tmp);

        snprintf(portfile, sizeof(portfile), "%s/port", tmp);
        server_pid = spawn((char *[]){ (char *) server_binary, portfile, NULL }, NULL, NULL);
        assert_true(server_pid > 0);
        assert_true(wait_for(port_file_ready, portfile, 10 * USEC_PER_SEC));

        /* node_exporter on a free port; retry if another test grabbed the port meanwhile. */
        for (int attempt = 0; attempt < 5 && ne_pid < 0; attempt++) {
                char addr[64];
                ne_port = free_tcp_port();
                assert_true(ne_port > 0);
                snprintf(addr, sizeof(addr), "--web.listen-address=127.0.0.1:%d", ne_port);
                pid_t pid = spawn((char *[]){ (char *) "prometheus-node-exporter", addr, NULL }, NULL, NULL);
                assert_true(pid > 0);
                if (wait_for_port(ne_port, 10 * USEC_PER_SEC))
                        ne_pid = pid;
                else
                        stop_pid(pid);
        }
        assert_true(ne_pid > 0);

        dead_port = free_tcp_port(); /* bound and closed: nothing listens there */
        assert_true(dead_port > 0);
        return 0;
}

static int teardown(void **state) {
        stop_pid(ne_pid);
        stop_pid(server_pid);
        curl_glue_free(curl);
        sd_event_unref(event);
        rmdir_rf(tmp);
        free(tmp);
        return 0;
}

static const RecSample *find_metric(const Recorder *r, const char *metric, uint64_t collection) {
        for (size_t i = 0; i < r->n; i++)
                if (streq(r->v[i].metric, metric) && r->v[i].collection == collection)
                        return &r->v[i];
        return NULL;
}

static const RecSample *find_key_in(const Recorder *r, const char *key, uint64_t collection) {
        for (size_t i = 0; i < r->n; i++)
                if (streq(r->v[i].key, key) && r->v[i].collection == collection)
                        return &r->v[i];
        return NULL;
}

static void test_node_exporter(void **state) {
        KeyValue labels[] = { { (char *) "env", (char *) "test" } };
        SourceConfig c = config(
                "node", url_of(ne_port, "/metrics"), USEC_PER_SEC, 5 * USEC_PER_SEC, 10000, labels, 1);
        Recorder rec;
        SourceStats st;
        double t0 = (double) now(CLOCK_REALTIME) / 1e6;

        recorder_init(&rec);
        Source *s = run_source(&c, &rec, 2, 30 * USEC_PER_SEC);
        double t1 = (double) now(CLOCK_REALTIME) / 1e6;

        source_get_stats(s, &st);
        assert_true(st.up);
        assert_int_equal(st.failures, 0);
        assert_int_equal(st.bad_lines, 0);
        assert_true(st.collections >= 2);
        assert_true(st.samples > 200);
        assert_true(st.series > 100);
        assert_true(st.last_bytes > 10000);
        assert_string_equal(st.last_error, "");
        assert_true(double_eq(rec.last_up, 1));

        /* node_cpu_seconds_total: a counter per cpu and mode, non-decreasing across scrapes. */
        size_t n_cpu = 0, checked = 0;
        for (size_t i = 0; i < rec.n; i++) {
                const RecSample *x = &rec.v[i];
                if (!streq(x->metric, "node_cpu_seconds_total"))
                        continue;
                n_cpu++;
                assert_int_equal(x->type, SAMPLE_COUNTER);
                assert_true(isfinite(x->value) && x->value >= 0);
                assert_true(x->t >= t0 - 1 && x->t <= t1 + 1); /* no timestamps: the scrape time */
                assert_non_null(strstr(x->key, "cpu=\""));
                assert_non_null(strstr(x->key, "mode=\""));
                assert_non_null(strstr(x->key, "env=\"test\""));
                assert_non_null(strstr(x->key, "source=\"node\""));
                assert_true(strncmp(x->key, "node_cpu_seconds_total{cpu=\"", 28) == 0); /* sorted */
                if (x->collection == 0) {
                        const RecSample *y = find_key_in(&rec, x->key, 1);
                        assert_non_null(y);
                        assert_true(y->value >= x->value);
                        assert_true(y->t > x->t);
                        checked++;
                }
        }
        assert_true(n_cpu >= 2);
        assert_true(checked >= 1);
        assert_non_null(recorder_last(
                &rec,
                "node_cpu_seconds_total{cpu=\"0\",env=\"test\",mode=\"idle\","
                "source=\"node\"}"));

        const RecSample *mem = find_metric(&rec, "node_memory_MemTotal_bytes", 0);
        assert_non_null(mem);
        assert_int_equal(mem->type, SAMPLE_GAUGE);
        assert_true(mem->value > 1e6);
        const RecSample *gc = find_metric(&rec, "go_gc_duration_seconds_count", 0);
        assert_non_null(gc);
        assert_int_equal(gc->type, SAMPLE_COUNTER); /* a summary's _count */
        const RecSample *q = find_key_in(
                &rec, "go_gc_duration_seconds{env=\"test\",quantile=\"0.5\",source=\"node\"}", 0);
        assert_non_null(q);
        assert_int_equal(q->type, SAMPLE_GAUGE); /* a summary's quantile */
        recorder_done(&rec);
}

static void test_ok_target(void **state) {
        KeyValue labels[] = { { (char *) "env", (char *) "test" } };
        SourceConfig c = config(
                "ok", url_of(server_port, "/ok"), 200 * USEC_PER_MSEC, USEC_PER_SEC, 100, labels, 1);
        Recorder rec;
        SourceStats st;
        const RecSample *x;

        recorder_init(&rec);
        Source *s = run_source(&c, &rec, 2, 10 * USEC_PER_SEC);
        source_get_stats(s, &st);
        assert_true(st.up);
        assert_int_equal(st.failures, 0);
        assert_int_equal(st.bad_lines, 2); /* one per scrape */
        assert_non_null(strstr(st.last_error, "1 bad lines skipped, first at line 12"));
        assert_int_equal(st.series, 7);

        /* The scraped `source` label is kept as exported_source. */
        x = recorder_last(
                &rec,
                "test_requests_total{code=\"200\",env=\"test\",exported_source=\"scraped\","
                "source=\"ok\"}");
        assert_non_null(x);
        assert_int_equal(x->type, SAMPLE_COUNTER);
        assert_true(double_eq(x->value, 42));
        x = recorder_last(&rec, "test_temperature_celsius{env=\"test\",source=\"ok\"}");
        assert_non_null(x);
        assert_int_equal(x->type, SAMPLE_GAUGE);
        assert_true(double_eq(x->value, 21.5));
        /* An explicit timestamp (ms) is used. */
        x = recorder_last(&rec, "test_with_timestamp{env=\"test\",source=\"ok\"}");
        assert_non_null(x);
        assert_true(fabs(x->t - 1700000000.123) < 1e-6);
        x = recorder_last(&rec, "test_latency_seconds_bucket{env=\"test\",le=\"+Inf\",source=\"ok\"}");
        assert_non_null(x);
        assert_int_equal(x->type, SAMPLE_COUNTER);
        x = recorder_last(&rec, "test_latency_seconds_sum{env=\"test\",source=\"ok\"}");
        assert_non_null(x);
        assert_int_equal(x->type, SAMPLE_COUNTER);
        x = recorder_last(&rec, "homeostat_source_up{env=\"test\",source=\"ok\"}");
        assert_non_null(x);
        assert_int_equal(x->type, SAMPLE_GAUGE);
        assert_true(double_eq(x->value, 1));
        /* Seven samples and source_up in each collection. */
        assert_int_equal(rec.n, 16);
        recorder_done(&rec);
}

static void test_request_headers(void **state) {
        SourceConfig c = config(
                "hdr", url_of(server_port, "/headers"), 200 * USEC_PER_MSEC, USEC_PER_SEC, 100, NULL, 0);
        Recorder rec;

        recorder_init(&rec);
        Source *s = run_source(&c, &rec, 1, 10 * USEC_PER_SEC);
        const RecSample *a = recorder_last(&rec, "accept_ok{source=\"hdr\"}");
        const RecSample *g = recorder_last(&rec, "gzip_ok{source=\"hdr\"}");
        assert_non_null(a);
        assert_non_null(g);
        assert_true(double_eq(a->value, 1));
        assert_true(double_eq(g->value, 1));
        assert_string_equal(source_get_name(s), "hdr");
        recorder_done(&rec);
}

static void test_gzip(void **state) {
        SourceConfig c = config(
                "gz", url_of(server_port, "/gzip"), 200 * USEC_PER_MSEC, USEC_PER_SEC, 100, NULL, 0);
        Recorder rec;
        SourceStats st;

        recorder_init(&rec);
        Source *s = run_source(&c, &rec, 1, 10 * USEC_PER_SEC);
        source_get_stats(s, &st);
        assert_true(st.up);
        const RecSample *x = recorder_last(&rec, "test_temperature_celsius{source=\"gz\"}");
        assert_non_null(x);
        assert_true(double_eq(x->value, 21.5));
        assert_int_equal(st.last_bytes, 424); /* the decompressed /ok body */
        recorder_done(&rec);
}

static long max_rss_kib(void) {
        struct rusage ru;
        assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
        return ru.ru_maxrss;
}

/* A target that fails: every collection emits only source_up 0 and records why. */
static void expect_failure(const char *path, int port, usec_t timeout, const char *error) {
        SourceConfig c = config("bad", url_of(port, path), 200 * USEC_PER_MSEC, timeout, 100, NULL, 0);
        Recorder rec;
        SourceStats st;

        recorder_init(&rec);
        Source *s = run_source(&c, &rec, 2, 30 * USEC_PER_SEC);
        source_get_stats(s, &st);
        if (!strstr(st.last_error, error))
                fail_msg("%s: error \"%s\", expected \"%s\"", path, st.last_error, error);
        assert_false(st.up);
        assert_int_equal(st.failures, st.collections);
        assert_int_equal(st.series, 0);
        for (size_t i = 0; i < rec.n; i++) {
                assert_string_equal(rec.v[i].key, "homeostat_source_up{source=\"bad\"}");
                assert_true(double_eq(rec.v[i].value, 0));
        }
        assert_int_equal(rec.n, rec.collections);
        recorder_done(&rec);
}

static void test_garbage(void **state) {
        expect_failure("/garbage", server_port, USEC_PER_SEC, "no valid sample in the response");
}

static void test_huge_body(void **state) {
        long before = max_rss_kib();
        expect_failure("/huge", server_port, 5 * USEC_PER_SEC, "response larger than 16777216 bytes");
        /* The cap holds: nowhere near 100 MB was buffered (peak RSS grew by less than 128 MiB). */
        assert_true(max_rss_kib() - before < 128 * 1024);
}

static void test_gzip_bomb(void **state) {
        expect_failure("/gzip-bomb", server_port, 5 * USEC_PER_SEC, "response larger than 16777216 bytes");
}

static void test_hang(void **state) {
        expect_failure("/hang", server_port, 400 * USEC_PER_MSEC, "timed out after 400ms");
}

static void test_close_mid_response(void **state) {
        expect_failure("/close", server_port, USEC_PER_SEC, "transfer closed");
}

static void test_status_500(void **state) {
        expect_failure("/500", server_port, USEC_PER_SEC, "HTTP status 500");
}

static void test_redirect_not_followed(void **state) {
        expect_failure("/redirect", server_port, USEC_PER_SEC, "HTTP status 302");
}

static void test_empty_body(void **state) {
        expect_failure("/empty", server_port, USEC_PER_SEC, "no sample in the response");
}

static void test_connection_refused(void **state) {
        expect_failure("/metrics", dead_port, USEC_PER_SEC, "Failed to connect");
}

typedef struct Overlap {
        size_t max_in_flight;
} Overlap;

static int on_check(sd_event_source *es, uint64_t usec, void *userdata) {
        Overlap *o = userdata;
        o->max_in_flight = MAX(o->max_in_flight, curl_glue_in_flight(curl));
        (void) sd_event_source_set_time(es, usec + 5 * USEC_PER_MSEC);
        return 0;
}

static void test_never_overlapping(void **state) {
        /* timeout longer than interval: the next scrape waits for the previous one */
        SourceConfig c = config(
                "slow", url_of(server_port, "/hang"), 100 * USEC_PER_MSEC, 300 * USEC_PER_MSEC, 100, NULL, 0);
        const SourceDeps deps = { .event = event, .curl = curl };
        Source *s = NULL;
        sd_event_source *check = NULL;
        Overlap o = {};
        Recorder rec;
        SourceStats st;

        recorder_init(&rec);
        assert_int_equal(source_new(&deps, &c, recorder_cb, &rec, &s), 0);
        track_source(s);
        assert_int_equal(sd_event_add_time(event, &check, CLOCK_MONOTONIC, 0, 0, on_check, &o), 0);
        assert_int_equal(sd_event_source_set_enabled(check, SD_EVENT_ON), 0);
        assert_int_equal(source_start(s), 0);
        run_for(event, 1500 * USEC_PER_MSEC);
        sd_event_source_disable_unref(check);
        source_get_stats(s, &st);
        assert_int_equal(o.max_in_flight, 1);
        assert_true(st.collections >= 3);
        assert_true(st.failures >= st.collections - 1);
        recorder_done(&rec);
}

static void test_max_series(void **state) {
        SourceConfig c = config(
                "few", url_of(server_port, "/ok"), 200 * USEC_PER_MSEC, USEC_PER_SEC, 3, NULL, 0);
        Recorder rec;
        SourceStats st;

        recorder_init(&rec);
        Source *s = run_source(&c, &rec, 2, 10 * USEC_PER_SEC);
        source_get_stats(s, &st);
        assert_true(st.up);
        assert_int_equal(st.series, 3);
        assert_int_equal(st.dropped_max_series, 8); /* 7 samples, 3 kept, twice */
        assert_int_equal(rec.n, 2 * (3 + 1));
        recorder_done(&rec);
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_node_exporter, teardown_sources),
                cmocka_unit_test_teardown(test_ok_target, teardown_sources),
                cmocka_unit_test_teardown(test_request_headers, teardown_sources),
                cmocka_unit_test_teardown(test_gzip, teardown_sources),
                cmocka_unit_test_teardown(test_garbage, teardown_sources),
                cmocka_unit_test_teardown(test_huge_body, teardown_sources),
                cmocka_unit_test_teardown(test_gzip_bomb, teardown_sources),
                cmocka_unit_test_teardown(test_hang, teardown_sources),
                cmocka_unit_test_teardown(test_close_mid_response, teardown_sources),
                cmocka_unit_test_teardown(test_status_500, teardown_sources),
                cmocka_unit_test_teardown(test_redirect_not_followed, teardown_sources),
                cmocka_unit_test_teardown(test_empty_body, teardown_sources),
                cmocka_unit_test_teardown(test_connection_refused, teardown_sources),
                cmocka_unit_test_teardown(test_never_overlapping, teardown_sources),
                cmocka_unit_test_teardown(test_max_series, teardown_sources),
        };

        if (argc != 2) {
                fprintf(stderr, "usage: %s MISBEHAVING_HTTP_BINARY\n", argv[0]);
                return 2;
        }
        server_binary = argv[1];
        if (run_program(
                    (char *[]){ (char *) "prometheus-node-exporter", (char *) "--version", NULL },
                    NULL,
                    10 * USEC_PER_SEC) != 0) {
                fprintf(stderr, "prometheus-node-exporter cannot run: skipping\n");
                return 77;
        }
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, setup, teardown);
}

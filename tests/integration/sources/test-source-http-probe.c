/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The http_probe source against misbehaving-http on 127.0.0.1 and a port where nothing listens: success
 * for 2xx and 3xx, failure with a reason for 500, refused connections, hangs (duration = the timeout) and
 * bodies over the cap; the source itself stays up while its target fails.
 *
 * Usage: test-source-http-probe MISBEHAVING_HTTP_BINARY.
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

#include <cmocka.h>

#include "sources-test.h"

static const char *server_binary;
static sd_event *event;
static CurlGlue *curl;
static char *tmp;
static pid_t server_pid = -1;
static int server_port, dead_port;

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
        dead_port = free_tcp_port();
        assert_true(dead_port > 0);
        return 0;
}

static int teardown(void **state) {
        stop_pid(server_pid);
        curl_glue_free(curl);
        sd_event_unref(event);
        rmdir_rf(tmp);
        free(tmp);
        return 0;
}

typedef struct Wait {
        Recorder *rec;
        uint64_t collections;
} Wait;

static bool enough_collections(void *userdata) {
        Wait *w = userdata;
        return w->rec->collections >= w->collections;
}

typedef struct Probed {
        double success, duration;
        SourceStats stats;
} Probed;

/* Probe port+path twice; return the latest success and duration. */
static Probed probe(int port, const char *path, usec_t timeout) {
        char url[256];
        KeyValue labels[] = { { (char *) "team", (char *) "web" } };
        SourceConfig c = {
                .name = (char *) "probe",
                .kind = SOURCE_HTTP_PROBE,
                .url = url,
                .interval_usec = 200 * USEC_PER_MSEC,
                .timeout_usec = timeout,
                .max_series = 10,
                .labels = labels,
                .n_labels = 1,
        };
        const SourceDeps deps = { .event = event, .curl = curl };
        Source *s = NULL;
        Recorder rec;
        Wait w = { &rec, 2 };
        Probed p;

        snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
        recorder_init(&rec);
        assert_int_equal(source_new(&deps, &c, recorder_cb, &rec, &s), 0);
        track_source(s);
        assert_int_equal(source_start(s), 0);
        assert_true(run_until(event, enough_collections, &w, 20 * USEC_PER_SEC));
        source_get_stats(s, &p.stats);

        const RecSample *ok = recorder_last(&rec, "homeostat_probe_success{source=\"probe\",team=\"web\"}");
        const RecSample *d = recorder_last(
                &rec, "homeostat_probe_duration_seconds{source=\"probe\",team=\"web\"}");
        const RecSample *up = recorder_last(&rec, "homeostat_source_up{source=\"probe\",team=\"web\"}");
        assert_non_null(ok);
        assert_non_null(d);
        assert_non_null(up);
        assert_int_equal(ok->type, SAMPLE_GAUGE);
        assert_int_equal(d->type, SAMPLE_GAUGE);
        /* The source works even when its target does not. */
        assert_true(double_eq(up->value, 1));
        assert_true(p.stats.up);
        /* Two probe samples and source_up per collection, nothing else. */
        assert_int_equal(rec.n, 3 * rec.collections);
        p.success = ok->value;
        p.duration = d->value;
        assert_true(isfinite(p.duration) && p.duration >= 0);
        free_source(s);
        recorder_done(&rec);
        return p;
}

static void test_ok(void **state) {
        Probed p = probe(server_port, "/ok", USEC_PER_SEC);
        assert_true(double_eq(p.success, 1));
        assert_true(p.duration < 1.0);
        assert_int_equal(p.stats.failures, 0);
        assert_string_equal(p.stats.last_error, "");
        assert_int_equal(p.stats.last_bytes, 424);
}

static void test_slow(void **state) {
        Probed p = probe(server_port, "/slow", 2 * USEC_PER_SEC);
        assert_true(double_eq(p.success, 1));
        assert_true(p.duration >= 0.29); /* the target sleeps 300 ms before answering */
}

static void test_redirect_is_success(void **state) {
        Probed p = probe(server_port, "/redirect", USEC_PER_SEC);
        assert_true(double_eq(p.success, 1));
}

static void test_500(void **state) {
        Probed p = probe(server_port, "/500", USEC_PER_SEC);
        assert_true(double_eq(p.success, 0));
        assert_int_equal(p.stats.failures, p.stats.collections);
        assert_string_equal(p.stats.last_error, "HTTP status 500");
}

static void test_404(void **state) {
        Probed p = probe(server_port, "/nowhere", USEC_PER_SEC);
        assert_true(double_eq(p.success, 0));
        assert_string_equal(p.stats.last_error, "HTTP status 404");
}

static void test_dead_port(void **state) {
        Probed p = probe(dead_port, "/", USEC_PER_SEC);
        assert_true(double_eq(p.success, 0));
        assert_true(p.duration < 1.0);
        assert_non_null(strstr(p.stats.last_error, "Failed to connect"));
}

static void test_hang(void **state) {
        Probed p = probe(server_port, "/hang", 300 * USEC_PER_MSEC);
        assert_true(double_eq(p.success, 0));
        /* the duration of a probe that timed out is the timeout */
        assert_true(p.duration >= 0.29 && p.duration < 2.0);
        assert_string_equal(p.stats.last_error, "timed out after 300ms");
}

static void test_body_over_cap(void **state) {
        Probed p = probe(server_port, "/huge", 5 * USEC_PER_SEC);
        assert_true(double_eq(p.success, 0));
        assert_string_equal(p.stats.last_error, "response body larger than 1048576 bytes");
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_ok, teardown_sources),
                cmocka_unit_test_teardown(test_slow, teardown_sources),
                cmocka_unit_test_teardown(test_redirect_is_success, teardown_sources),
                cmocka_unit_test_teardown(test_500, teardown_sources),
                cmocka_unit_test_teardown(test_404, teardown_sources),
                cmocka_unit_test_teardown(test_dead_port, teardown_sources),
                cmocka_unit_test_teardown(test_hang, teardown_sources),
                cmocka_unit_test_teardown(test_body_over_cap, teardown_sources),
        };

        if (argc != 2) {
                fprintf(stderr, "usage: %s MISBEHAVING_HTTP_BINARY\n", argv[0]);
                return 2;
        }
        server_binary = argv[1];
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, setup, teardown);
}

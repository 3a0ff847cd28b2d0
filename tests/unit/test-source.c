/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests for the kind-independent part of the metric sources (supervisor/source.c): which
 * configurations source_new() refuses and with what error, that a Source keeps its own copy of the
 * configuration, source_config_equal(), and that nothing runs before source_start(). The sources doing
 * real I/O are tested in tests/integration/sources/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "source.h"

static sd_event *event;
static CurlGlue *curl;

static int setup(void **state) {
        assert_int_equal(sd_event_new(&event), 0);
        assert_int_equal(curl_glue_new(event, &curl), 0);
        return 0;
}

static int teardown(void **state) {
        curl_glue_free(curl);
        sd_event_unref(event);
        return 0;
}

static unsigned n_samples;

static void count_cb(Source *s, const SampleIn *in, void *userdata) {
        n_samples++;
}

static SourceConfig prom(void) {
        return (SourceConfig){
                .name = (char *) "api",
                .kind = SOURCE_PROMETHEUS,
                .url = (char *) "http://127.0.0.1:1/metrics",
                .interval_usec = USEC_PER_SEC,
                .timeout_usec = USEC_PER_SEC,
                .max_series = 10,
        };
}

static int try_new(const SourceConfig *c, const SourceDeps *deps) {
        Source *s = NULL;
        int r = source_new(deps, c, count_cb, NULL, &s);
        if (r >= 0) {
                assert_non_null(s);
                source_free(s);
        }
        return r;
}

static void test_refused_configs(void **state) {
        const SourceDeps deps = { .event = event, .curl = curl };
        const SourceDeps no_curl = { .event = event };
        SourceConfig c;
        KeyValue kv[2];
        char *units[] = { NULL, NULL };

        c = prom();
        assert_int_equal(try_new(&c, &deps), 0);
        assert_int_equal(try_new(&c, &no_curl), -ENOTCONN);
        c.name = NULL;
        assert_int_equal(try_new(&c, &deps), -EINVAL);
        c = prom();
        c.name = (char *) "";
        assert_int_equal(try_new(&c, &deps), -EINVAL);
        c = prom();
        c.url = NULL;
        assert_int_equal(try_new(&c, &deps), -EINVAL);
        c = prom();
        c.interval_usec = 0;
        assert_int_equal(try_new(&c, &deps), -EINVAL);
        c = prom();
        c.timeout_usec = 0;
        assert_int_equal(try_new(&c, &deps), -EINVAL);
        c = prom();
        c.max_series = 0;
        assert_int_equal(try_new(&c, &deps), -EINVAL);
        c = prom();
        c.kind = _SOURCE_KIND_MAX;
        assert_int_equal(try_new(&c, &deps), -EINVAL);

        /* Labels: valid names, not `source`, not reserved, no duplicates, no empty values. */
        c = prom();
        c.labels = kv;
        c.n_labels = 1;
        kv[0] = (KeyValue){ (char *) "env", (char *) "prod" };
        assert_int_equal(try_new(&c, &deps), 0);
        kv[0] = (KeyValue){ (char *) "source", (char *) "x" };
        assert_int_equal(try_new(&c, &deps), -EINVAL);
        kv[0] = (KeyValue){ (char *) "__meta", (char *) "x" };
        assert_int_equal(try_new(&c, &deps), -EINVAL);
        kv[0] = (KeyValue){ (char *) "bad-name", (char *) "x" };
        assert_int_equal(try_new(&c, &deps), -EINVAL);
        kv[0] = (KeyValue){ (char *) "env", (char *) "" };
        assert_int_equal(try_new(&c, &deps), -EINVAL);
        kv[0] = (KeyValue){ (char *) "env", (char *) "a" };
        kv[1] = (KeyValue){ (char *) "env", (char *) "b" };
        c.n_labels = 2;
        assert_int_equal(try_new(&c, &deps), -EINVAL);

        /* systemd needs units and a bus. */
        c = prom();
        c.kind = SOURCE_SYSTEMD;
        c.url = NULL;
        assert_int_equal(try_new(&c, &deps), -EINVAL);
        units[0] = (char *) "a.service";
        c.units = units;
        c.n_units = 1;
        assert_int_equal(try_new(&c, &deps), -ENOTCONN);

        /* listen needs a path. */
        c = prom();
        c.kind = SOURCE_LISTEN;
        c.url = NULL;
        assert_int_equal(try_new(&c, &deps), -EINVAL);
}

static void test_config_copied(void **state) {
        const SourceDeps deps = { .event = event, .curl = curl };
        char name[] = "copyme", url[] = "http://127.0.0.1:1/x", key[] = "team", value[] = "web";
        KeyValue kv = { key, value };
        SourceConfig c = prom();
        Source *s = NULL;

        c.name = name;
        c.url = url;
        c.labels = &kv;
        c.n_labels = 1;
        assert_int_equal(source_new(&deps, &c, count_cb, NULL, &s), 0);
        /* The caller's strings change or go away: the source is unaffected. */
        memset(name, 'x', sizeof(name) - 1);
        memset(url, 'x', sizeof(url) - 1);
        memset(value, 'x', sizeof(value) - 1);
        const SourceConfig *got = source_get_config(s);
        assert_ptr_not_equal(got, &c);
        assert_string_equal(got->name, "copyme");
        assert_string_equal(source_get_name(s), "copyme");
        assert_string_equal(got->url, "http://127.0.0.1:1/x");
        assert_string_equal(got->labels[0].value, "web");

        /* Nothing ran before source_start(). */
        SourceStats st;
        for (int i = 0; i < 5; i++)
                (void) sd_event_run(event, 10 * USEC_PER_MSEC);
        source_get_stats(s, &st);
        assert_int_equal(st.collections, 0);
        assert_int_equal(n_samples, 0);
        assert_false(st.up);
        assert_string_equal(st.last_error, "");
        source_free(s);
}

static void test_config_equal(void **state) {
        char *units_a[] = { (char *) "a.service", (char *) "b@*.service", NULL };
        char *units_b[] = { (char *) "a.service", (char *) "b@*.service", NULL };
        char *units_c[] = { (char *) "a.service", (char *) "c.service", NULL };
        KeyValue la[] = { { (char *) "env", (char *) "prod" } };
        KeyValue lb[] = { { (char *) "env", (char *) "prod" } };
        KeyValue lc[] = { { (char *) "env", (char *) "dev" } };
        SourceConfig a = prom(), b = prom();

        assert_true(source_config_equal(&a, &b));
        b.loc = (Location){ .file = "other.yaml", .line = 3, .column = 5 };
        assert_true(source_config_equal(&a, &b)); /* where it was written does not matter */
        b = prom();
        b.url = (char *) "http://127.0.0.1:2/metrics";
        assert_false(source_config_equal(&a, &b));
        b = prom();
        b.interval_usec *= 2;
        assert_false(source_config_equal(&a, &b));
        b = prom();
        b.timeout_usec /= 2;
        assert_false(source_config_equal(&a, &b));
        b = prom();
        b.max_series = 11;
        assert_false(source_config_equal(&a, &b));
        b = prom();
        b.name = (char *) "other";
        assert_false(source_config_equal(&a, &b));

        a.labels = la;
        a.n_labels = 1;
        b = prom();
        b.labels = lb;
        b.n_labels = 1;
        assert_true(source_config_equal(&a, &b));
        b.labels = lc;
        assert_false(source_config_equal(&a, &b));

        a = prom();
        b = prom();
        a.kind = b.kind = SOURCE_SYSTEMD;
        a.url = b.url = NULL;
        a.units = units_a;
        a.n_units = 2;
        b.units = units_b;
        b.n_units = 2;
        assert_true(source_config_equal(&a, &b));
        b.units = units_c;
        assert_false(source_config_equal(&a, &b));
        b.units = units_b;
        b.n_units = 1;
        assert_false(source_config_equal(&a, &b));
        b.n_units = 2;
        b.kind = SOURCE_PROMETHEUS;
        assert_false(source_config_equal(&a, &b));

        assert_true(source_config_equal(NULL, NULL));
        assert_false(source_config_equal(&a, NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_refused_configs),
                cmocka_unit_test(test_config_copied),
                cmocka_unit_test(test_config_equal),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Tests for supervisor/evaluator.c and series.c, with configurations written as rule files and loaded by
 * the real loader: the for/recover_for state machine (PENDING, FIRING, CLEARED, RESOLVED with detected_at
 * and resolved_at exactly as defined), absent_for through ticks, counters as rates with resets, series
 * interning and keys, burnrate joins on `on` labels, save/load and adopt-on-reload giving identical rows,
 * refusal of corrupt state, and time zone loading.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evaluator.h"
#include "rules.h"
#include "series.h"
#include "strbuf.h"

/* ---- helpers ---- */

static Config *load(const char *yaml) {
        Config *c = NULL;
        Diagnostics d = {};
        int r = config_load_buffer("test.yaml", yaml, strlen(yaml), NULL, &c, &d);
        if (r < 0)
                diagnostics_print(&d, stderr);
        diagnostics_done(&d);
        assert_int_equal(r, 0);
        return c;
}

typedef struct Row {
        size_t rule;
        char key[96], subject[96];
        double t, value, x, score, expected, detected_at, resolved_at;
        bool firing, anomalous, absent, from_tick;
        EvalTransition tr;
} Row;

typedef struct Rows {
        Row r[20000];
        size_t n;
} Rows;

static void collect(const EvalRow *row, void *userdata) {
        Rows *rs = userdata;
        assert_true(rs->n < ELEMENTSOF(rs->r));
        Row *r = &rs->r[rs->n++];
        *r = (Row){
                .rule = row->rule_index,
                .t = row->t,
                .value = row->value,
                .x = row->x,
                .score = row->verdict.score,
                .expected = row->verdict.expected,
                .detected_at = row->detected_at,
                .resolved_at = row->resolved_at,
                .firing = row->firing,
                .anomalous = row->verdict.anomalous,
                .absent = row->absent,
                .from_tick = row->from_tick,
                .tr = row->transition,
        };
        snprintf(r->key, sizeof(r->key), "%s", row->series_key);
        snprintf(r->subject, sizeof(r->subject), "%s", row->subject_key);
}

static int push(Evaluator *e, Rows *rows, const char *metric, const Label *l, size_t n, double t, double v) {
        SampleIn s = { .metric = metric, .labels = l, .n_labels = n, .t = t, .value = v };
        return evaluator_push(e, &s, collect, rows);
}

static bool same_double(double a, double b) {
        return memcmp(&a, &b, sizeof(double)) == 0 || (isnan(a) && isnan(b));
}

/* ---- the state machine ---- */

static void test_for_recover(void **state) {
        _cleanup_(config_freep) Config *c = load("rules:\n"
                                                 "  - name: slow\n"
                                                 "    series: latency\n"
                                                 "    detector: {kind: threshold, above: 10}\n"
                                                 "    for: 2m\n"
                                                 "    recover_for: 3m\n"
                                                 "  - name: fast\n"
                                                 "    series: latency\n"
                                                 "    detector: {kind: threshold, above: 10}\n");
        _cleanup_(evaluator_freep) Evaluator *e = NULL;
        static Rows rows;
        rows.n = 0;
        assert_int_equal(evaluator_new(c, &e), 0);

        static const double values[] = { 5, 5, 20, 20, 20, 5, 5, 20, 5, 5, 5, 5, 20, 5 };
        for (size_t i = 0; i < ELEMENTSOF(values); i++)
                assert_int_equal(push(e, &rows, "latency", NULL, 0, 1000 + 60.0 * i, values[i]), 0);
        assert_int_equal(rows.n, 2 * ELEMENTSOF(values));

        /* rows alternate slow, fast for each sample (rule order) */
        static const struct {
                EvalTransition tr;
                bool firing;
                double detected, resolved;
        } slow[] = {
                { EVAL_NONE, 0, NAN, NAN },     { EVAL_NONE, 0, NAN, NAN },
                { EVAL_PENDING, 0, 1120, NAN }, { EVAL_NONE, 0, 1120, NAN },
                { EVAL_FIRING, 1, 1120, NAN },  { EVAL_NONE, 1, 1120, NAN },
                { EVAL_NONE, 1, 1120, NAN },    { EVAL_NONE, 1, 1120, NAN },
                { EVAL_NONE, 1, 1120, NAN },    { EVAL_NONE, 1, 1120, NAN },
                { EVAL_NONE, 1, 1120, NAN },    { EVAL_RESOLVED, 0, 1120, 1480 },
                { EVAL_PENDING, 0, 1720, NAN }, { EVAL_CLEARED, 0, 1720, NAN },
        };
        static const struct {
                EvalTransition tr;
                bool firing;
                double detected, resolved;
        } fast[] = {
                { EVAL_NONE, 0, NAN, NAN },       { EVAL_NONE, 0, NAN, NAN },
                { EVAL_FIRING, 1, 1120, NAN },    { EVAL_NONE, 1, 1120, NAN },
                { EVAL_NONE, 1, 1120, NAN },      { EVAL_RESOLVED, 0, 1120, 1300 },
                { EVAL_NONE, 0, NAN, NAN },       { EVAL_FIRING, 1, 1420, NAN },
                { EVAL_RESOLVED, 0, 1420, 1480 }, { EVAL_NONE, 0, NAN, NAN },
                { EVAL_NONE, 0, NAN, NAN },       { EVAL_NONE, 0, NAN, NAN },
                { EVAL_FIRING, 1, 1720, NAN },    { EVAL_RESOLVED, 0, 1720, 1780 },
        };
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                const Row *s = &rows.r[2 * i], *f = &rows.r[2 * i + 1];
                assert_int_equal(s->rule, 0);
                assert_int_equal(f->rule, 1);
                assert_string_equal(s->key, "latency");
                assert_string_equal(s->subject, "latency");
                assert_true(same_double(s->value, values[i]) && same_double(s->x, values[i]));
                if (s->tr != slow[i].tr || s->firing != slow[i].firing ||
                    !same_double(s->detected_at, slow[i].detected) ||
                    !same_double(s->resolved_at, slow[i].resolved))
                        fail_msg(
                                "slow row %zu: transition %d firing %d detected %g resolved %g",
                                i,
                                s->tr,
                                s->firing,
                                s->detected_at,
                                s->resolved_at);
                if (f->tr != fast[i].tr || f->firing != fast[i].firing ||
                    !same_double(f->detected_at, fast[i].detected) ||
                    !same_double(f->resolved_at, fast[i].resolved))
                        fail_msg(
                                "fast row %zu: transition %d firing %d detected %g resolved %g",
                                i,
                                f->tr,
                                f->firing,
                                f->detected_at,
                                f->resolved_at);
        }
        assert_false(evaluator_is_firing(e, 0, "latency"));
        assert_int_equal(push(e, &rows, "latency", NULL, 0, 3000, 50), 0);
        assert_true(evaluator_is_firing(e, 1, "latency"));
        assert_false(evaluator_is_firing(e, 0, "latency")); /* pending, not firing */
        assert_false(evaluator_is_firing(e, 1, "other"));
        assert_false(evaluator_is_firing(e, 7, "latency"));
}

/* ---- transforms ---- */

static void test_counters(void **state) {
        _cleanup_(config_freep) Config *c = load("rules:\n"
                                                 "  - name: auto\n"
                                                 "    series: '{__name__=~\".+\"}'\n"
                                                 "    detector: {kind: threshold, above: 1e12}\n"
                                                 "  - name: raw\n"
                                                 "    series: '{__name__=~\".+\"}'\n"
                                                 "    detector: {kind: threshold, above: 1e12}\n"
                                                 "    transform: raw\n"
                                                 "  - name: rate\n"
                                                 "    series: '{__name__=~\".+\"}'\n"
                                                 "    detector: {kind: threshold, above: 1e12}\n"
                                                 "    transform: rate\n");
        _cleanup_(evaluator_freep) Evaluator *e = NULL;
        static Rows rows;
        rows.n = 0;
        assert_int_equal(evaluator_new(c, &e), 0);

        /* a counter by name: 100, 160, 220, reset to 20, 80 over one-minute steps */
        static const double v[] = { 100, 160, 220, 20, 80 };
        static const double rate[] = { NAN, 1, 1, 20.0 / 60, 1 };
        for (size_t i = 0; i < ELEMENTSOF(v); i++)
                assert_int_equal(push(e, &rows, "http_requests_total", NULL, 0, 60.0 * i, v[i]), 0);
        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                const Row *a = &rows.r[3 * i], *raw = &rows.r[3 * i + 1], *r = &rows.r[3 * i + 2];
                if (!same_double(a->x, rate[i]) || !same_double(r->x, rate[i]))
                        fail_msg("sample %zu: x %g / %g, want %g", i, a->x, r->x, rate[i]);
                assert_true(same_double(raw->x, v[i]));
                assert_true(same_double(a->value, v[i]));
        }
        /* the first sample of a counter has no rate and no verdict, and changes nothing */
        assert_true(isnan(rows.r[0].expected) && rows.r[0].score <= 0 && rows.r[0].tr == EVAL_NONE);

        /* a gauge name: auto keeps the value; a sample declared a counter is one whatever its name */
        rows.n = 0;
        assert_int_equal(push(e, &rows, "temperature", NULL, 0, 0, 10), 0);
        assert_int_equal(push(e, &rows, "temperature", NULL, 0, 10, 30), 0);
        assert_true(same_double(rows.r[3].x, 30)); /* auto */
        assert_true(same_double(rows.r[5].x, 2));  /* rate */
        /* a gauge that falls has a negative rate, not a counter reset */
        assert_int_equal(push(e, &rows, "temperature", NULL, 0, 20, 25), 0);
        assert_true(same_double(rows.r[6].x, 25));   /* auto */
        assert_true(same_double(rows.r[8].x, -0.5)); /* rate */
        rows.n = 0;
        SampleIn s = { .metric = "bytes", .type = SAMPLE_COUNTER, .t = 0, .value = 5 };
        assert_int_equal(evaluator_push(e, &s, collect, &rows), 0);
        s.t = 5;
        s.value = 15;
        assert_int_equal(evaluator_push(e, &s, collect, &rows), 0);
        assert_true(same_double(rows.r[3].x, 2));
        /* histogram and summary series are counters too */
        assert_true(
                series_name_is_counter("x_bucket") && series_name_is_counter("x_count") &&
                series_name_is_counter("x_sum") && !series_name_is_counter("x_total_seconds"));
}

/* ---- interning, keys, bad samples ---- */

static void test_interning(void **state) {
        _cleanup_(config_freep) Config *c = load("rules:\n"
                                                 "  - name: r\n"
                                                 "    series: 'm{job=\"api\"}'\n"
                                                 "    detector: {kind: threshold, above: 1}\n");
        _cleanup_(evaluator_freep) Evaluator *e = NULL;
        static Rows rows;
        rows.n = 0;
        assert_int_equal(evaluator_new(c, &e), 0);

        Label l1[] = { { "job", "api" }, { "path", "/a\"b\\c\nd" } };
        Label l2[] = { { "path", "/a\"b\\c\nd" }, { "job", "api" } }; /* unsorted: the same series */
        assert_int_equal(push(e, &rows, "m", l1, 2, 1, 0), 0);
        assert_int_equal(push(e, &rows, "m", l2, 2, 2, 0), 0);
        assert_int_equal(rows.n, 2);
        assert_string_equal(rows.r[0].key, "m{job=\"api\",path=\"/a\\\"b\\\\c\\nd\"}");
        EvaluatorStats st;
        evaluator_get_stats(e, &st);
        assert_int_equal(st.series, 1);

        /* non-finite values and times, and out-of-order samples, are counted and produce nothing */
        assert_int_equal(push(e, &rows, "m", l1, 2, 3, NAN), EVAL_SKIPPED_NONFINITE);
        assert_int_equal(push(e, &rows, "m", l1, 2, 3, INFINITY), EVAL_SKIPPED_NONFINITE);
        assert_int_equal(push(e, &rows, "m", l1, 2, NAN, 1), EVAL_SKIPPED_NONFINITE);
        assert_int_equal(push(e, &rows, "m", l1, 2, 2, 1), EVAL_SKIPPED_OUT_OF_ORDER);
        assert_int_equal(push(e, &rows, "m", l1, 2, 1.5, 1), EVAL_SKIPPED_OUT_OF_ORDER);
        assert_int_equal(rows.n, 2);
        evaluator_get_stats(e, &st);
        assert_int_equal(st.skipped_nonfinite, 3);
        assert_int_equal(st.skipped_out_of_order, 2);
        assert_int_equal(st.samples, 2);
        assert_int_equal(st.rows, 2);

        /* a series no rule matches is interned but yields no rows */
        Label l3[] = { { "job", "web" } };
        EvalSeries *s;
        assert_int_equal(evaluator_intern(e, "m", l3, 1, SAMPLE_GAUGE, &s), 0);
        assert_int_equal(eval_series_n_rules(s), 0);
        assert_string_equal(eval_series_key(s), "m{job=\"web\"}");
        assert_int_equal(evaluator_push_series(e, s, 10, 1, collect, &rows), 0);
        assert_int_equal(rows.n, 2);
}

static void test_series_parse(void **state) {
        static const struct {
                const char *in, *key;
        } good[] = {
                { "up", "up" },
                { "  up  ", "up" },
                { "up{}", "up" },
                { "m{b=\"2\",a=\"1\"}", "m{a=\"1\",b=\"2\"}" },
                { "m{ a = \"x\\\"y\" , }", "m{a=\"x\\\"y\"}" },
                { "{__name__=\"cpu\",host=\"h\"}", "cpu{host=\"h\"}" },
                { "iio_us-east-1_i-a2eb1cd9_NetworkIn", "iio_us-east-1_i-a2eb1cd9_NetworkIn" },
                { "m{a=\"line\\nbreak\\\\\"}", "m{a=\"line\\nbreak\\\\\"}" },
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_(series_id_done) SeriesId id = {};
                const char *err = NULL;
                size_t off = 0;
                int r = series_id_parse(good[i].in, strlen(good[i].in), &id, &err, &off);
                if (r < 0)
                        fail_msg("%s: %s at %zu", good[i].in, err, off);
                _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
                assert_int_equal(series_key_append(&b, id.metric, id.labels, id.n_labels), 0);
                assert_string_equal(strbuf_str(&b), good[i].key);
        }
        static const char *const bad[] = {
                "",
                "{}",
                "m{a}",
                "m{a=x}",
                "m{a=\"x\"",
                "m{a=\"x\" b=\"y\"}",
                "m{1a=\"x\"}",
                "m{a=\"\\t\"}",
                "m x",
                "m{a=\"1\",a=\"2\"}",
                "m{__name__=\"n\"}",
                "m}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                SeriesId id = {};
                const char *err = NULL;
                size_t off = 99;
                if (series_id_parse(bad[i], strlen(bad[i]), &id, &err, &off) != -EINVAL)
                        fail_msg("'%s' parsed", bad[i]);
                assert_non_null(err);
                assert_true(off <= strlen(bad[i]));
        }
}

/* ---- absent_for ---- */

static void test_absent(void **state) {
        _cleanup_(config_freep) Config *c = load("rules:\n"
                                                 "  - name: gone\n"
                                                 "    series: 'up{job=\"a\"}'\n"
                                                 "    detector: {kind: threshold, below: 1}\n"
                                                 "    absent_for: 5m\n");
        _cleanup_(evaluator_freep) Evaluator *e = NULL;
        static Rows rows;
        rows.n = 0;
        assert_int_equal(evaluator_new(c, &e), 0);
        assert_true(evaluator_uses_absent(e));
        Label l[] = { { "job", "a" } };

        assert_int_equal(evaluator_tick(e, 1000, collect, &rows), 0);
        assert_int_equal(evaluator_tick(e, 1299, collect, &rows), 0);
        assert_int_equal(rows.n, 0);
        assert_int_equal(evaluator_tick(e, 1300, collect, &rows), 0);
        assert_int_equal(rows.n, 1);
        assert_true(rows.r[0].absent && rows.r[0].from_tick && rows.r[0].firing && rows.r[0].tr == EVAL_ABSENT);
        assert_true(same_double(rows.r[0].detected_at, 1000));
        assert_string_equal(rows.r[0].subject, "up{job=\"a\"}");
        assert_true(evaluator_is_firing(e, 0, "up{job=\"a\"}"));
        assert_int_equal(evaluator_tick(e, 1400, collect, &rows), 0);
        assert_int_equal(rows.n, 1); /* reported once */

        /* data returns at 1500 (a row of its own, not absent), the next tick resolves */
        assert_int_equal(push(e, &rows, "up", l, 1, 1500, 1), 0);
        assert_int_equal(rows.n, 2);
        assert_false(rows.r[1].absent);
        assert_int_equal(push(e, &rows, "up", l, 1, 1560, 1), 0);
        assert_int_equal(evaluator_tick(e, 1561, collect, &rows), 0);
        assert_int_equal(rows.n, 4);
        assert_true(rows.r[3].absent && rows.r[3].tr == EVAL_RESOLVED && !rows.r[3].firing);
        assert_true(same_double(rows.r[3].resolved_at, 1500));
        assert_true(same_double(rows.r[3].detected_at, 1000));
        assert_false(evaluator_is_firing(e, 0, "up{job=\"a\"}"));

        /* silent again: absent 5 minutes after the last sample */
        assert_int_equal(evaluator_tick(e, 1859, collect, &rows), 0);
        assert_int_equal(rows.n, 4);
        assert_int_equal(evaluator_tick(e, 1860, collect, &rows), 0);
        assert_int_equal(rows.n, 5);
        assert_true(rows.r[4].tr == EVAL_ABSENT && same_double(rows.r[4].detected_at, 1560));
        assert_int_equal(evaluator_tick(e, NAN, collect, &rows), -EINVAL);
}

/* ---- burnrate ---- */

static void test_burnrate_join(void **state) {
        _cleanup_(config_freep) Config *c = load("rules:\n"
                                                 "  - name: slo\n"
                                                 "    detector:\n"
                                                 "      kind: burnrate\n"
                                                 "      errors: 'req_total{code=\"500\"}'\n"
                                                 "      total: 'req_total'\n"
                                                 "      objective: 99\n"
                                                 "      on: [instance]\n");
        _cleanup_(evaluator_freep) Evaluator *e = NULL;
        static Rows rows;
        rows.n = 0;
        assert_int_equal(evaluator_new(c, &e), 0);

        double ca_ok = 0, ca_err = 0, cb_ok = 0, cb_err = 0;
        bool a_fired = false, b_fired = false;
        for (int i = 0; i < 240; i++) {
                double t = 60.0 * i;
                /* 10 requests/s each; instance a starts failing 50 % at minute 120 */
                ca_ok += 600;
                cb_ok += 599;
                cb_err += 1;
                ca_err += i >= 120 ? 300 : 0.5;
                Label la_ok[] = { { "code", "200" }, { "instance", "a" } },
                      la_err[] = { { "code", "500" }, { "instance", "a" } };
                Label lb_ok[] = { { "code", "200" }, { "instance", "b" } },
                      lb_err[] = { { "code", "500" }, { "instance", "b" } };
                assert_int_equal(push(e, &rows, "req_total", la_ok, 2, t, ca_ok), 0);
                assert_int_equal(push(e, &rows, "req_total", la_err, 2, t, ca_err), 0);
                assert_int_equal(push(e, &rows, "req_total", lb_ok, 2, t, cb_ok), 0);
                assert_int_equal(push(e, &rows, "req_total", lb_err, 2, t, cb_err), 0);
                a_fired |= evaluator_is_firing(e, 0, "{instance=\"a\"}");
                b_fired |= evaluator_is_firing(e, 0, "{instance=\"b\"}");
                if (i < 120)
                        assert_false(a_fired);
        }
        assert_true(a_fired);
        assert_false(b_fired);
        /* every member row names its group */
        for (size_t i = 0; i < rows.n; i++)
                assert_true(
                        streq(rows.r[i].subject, "{instance=\"a\"}") ||
                        streq(rows.r[i].subject, "{instance=\"b\"}"));
        /* x is the group's error rate: with 50 % of 10/s failing, 5/s (within rounding of the integration) */
        const Row *last = &rows.r[rows.n - 3];
        assert_string_equal(last->subject, "{instance=\"a\"}");
        assert_true(fabs(last->x - 5) < 0.6);
}

/* ---- persistence and reload ---- */

static const char *const persist_yaml =
        "rules:\n"
        "  - name: e\n"
        "    series: load\n"
        "    detector: {kind: ewma}\n"
        "    for: 5m\n"
        "  - name: s\n"
        "    series: load\n"
        "    detector: {kind: seasonal}\n"
        "    timezone: Europe/Berlin\n"
        "  - name: c\n"
        "    series: load\n"
        "    detector: {kind: cusum}\n"
        "    recover_for: 10m\n"
        "  - name: b\n"
        "    detector: {kind: burnrate, errors: 'err_total', total: 'req_total', objective: 99.9}\n";

static double wave(double t) {
        return 100 + 30 * sin(2 * M_PI * t / 86400) + 3 * sin(t * 0.37) + (fmod(t, 86400 * 3) < 3600 ? 80 : 0);
}

static void feed_some(Evaluator *e, Rows *rows, double from, double to) {
        for (double t = from; t < to; t += 300) {
                assert_true(push(e, rows, "load", NULL, 0, t, wave(t)) >= 0);
                assert_true(push(e, rows, "req_total", NULL, 0, t, t * 10) >= 0);
                assert_true(
                        push(e, rows, "err_total", NULL, 0, t, t * 0.01 + (fmod(t, 86400) < 1800 ? t * 0.5 : 0)) >=
                        0);
        }
}

static void compare_rows(const Rows *a, const Rows *b) {
        assert_int_equal(a->n, b->n);
        for (size_t i = 0; i < a->n; i++) {
                const Row *x = &a->r[i], *y = &b->r[i];
                if (x->rule != y->rule || !same_double(x->score, y->score) ||
                    !same_double(x->expected, y->expected) || x->firing != y->firing || x->tr != y->tr ||
                    !same_double(x->detected_at, y->detected_at) || !same_double(x->x, y->x))
                        fail_msg(
                                "row %zu differs (rule %zu): score %g/%g expected %g/%g firing %d/%d",
                                i,
                                x->rule,
                                x->score,
                                y->score,
                                x->expected,
                                y->expected,
                                x->firing,
                                y->firing);
        }
}

static bool have_berlin(void) {
        return access("/usr/share/zoneinfo/Europe/Berlin", R_OK) == 0;
}

static void test_save_load(void **state) {
        if (!have_berlin())
                skip();
        _cleanup_(config_freep) Config *c = load(persist_yaml);
        _cleanup_(evaluator_freep) Evaluator *a = NULL, *b = NULL, *fresh = NULL;
        static Rows ra, rb;
        ra.n = rb.n = 0;
        assert_int_equal(evaluator_new(c, &a), 0);
        assert_int_equal(evaluator_new(c, &b), 0);
        assert_int_equal(evaluator_new(c, &fresh), 0);
        feed_some(a, &ra, 1.7e9, 1.7e9 + 5 * 86400);

        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        assert_non_null(f);
        assert_int_equal(evaluator_save(a, f), 0);
        fclose(f);
        assert_true(size > 1000);

        f = fmemopen(buf, size, "r");
        assert_int_equal(evaluator_load(b, f), 0);
        fclose(f);
        EvaluatorStats sa, sb;
        evaluator_get_stats(a, &sa);
        evaluator_get_stats(b, &sb);
        assert_int_equal(sa.series, sb.series);

        ra.n = rb.n = 0;
        feed_some(a, &ra, 1.7e9 + 5 * 86400, 1.7e9 + 8 * 86400);
        feed_some(b, &rb, 1.7e9 + 5 * 86400, 1.7e9 + 8 * 86400);
        assert_true(ra.n > 100);
        compare_rows(&ra, &rb);

        /* corrupt, truncated and foreign data is refused and changes nothing */
        for (size_t i = 0; i < 4; i++) {
                _cleanup_free_ char *copy = malloc(size);
                memcpy(copy, buf, size);
                size_t n = size;
                int want = -EBADMSG;
                if (i == 0)
                        copy[size / 2] ^= 1;
                else if (i == 1)
                        n = size - 9;
                else if (i == 2)
                        copy[0] = 'X';
                else {
                        copy[4] = 7; /* version */
                        want = -EPROTONOSUPPORT;
                }
                f = fmemopen(copy, n, "r");
                assert_int_equal(evaluator_load(fresh, f), want);
                fclose(f);
                EvaluatorStats st;
                evaluator_get_stats(fresh, &st);
                assert_int_equal(st.series, 0);
        }

        /* a configuration where rule s changed: its state is skipped, the others load */
        _cleanup_(config_freep) Config *c2 = load("rules:\n"
                                                  "  - name: e\n"
                                                  "    series: load\n"
                                                  "    detector: {kind: ewma}\n"
                                                  "    for: 5m\n"
                                                  "  - name: s\n"
                                                  "    series: load\n"
                                                  "    detector: {kind: seasonal, threshold: 6}\n");
        _cleanup_(evaluator_freep) Evaluator *d = NULL;
        assert_int_equal(evaluator_new(c2, &d), 0);
        f = fmemopen(buf, size, "r");
        assert_int_equal(evaluator_load(d, f), 0);
        fclose(f);
        static Rows rd;
        rd.n = 0;
        assert_int_equal(push(d, &rd, "load", NULL, 0, 1.7e9 + 9 * 86400, 100), 0);
        assert_int_equal(rd.n, 2);
        assert_false(isnan(rd.r[0].expected)); /* e continued */
        assert_true(isnan(rd.r[1].expected));  /* s starts over */
}

static void test_adopt(void **state) {
        if (!have_berlin())
                skip();
        _cleanup_(config_freep) Config *c = load(persist_yaml);
        _cleanup_(config_freep) Config *c2 = load("rules:\n"
                                                  "  - name: s\n"
                                                  "    series: load\n"
                                                  "    detector: {kind: seasonal}\n"
                                                  "    timezone: Europe/Berlin\n"
                                                  "  - name: e\n"
                                                  "    series: load\n"
                                                  "    detector: {kind: ewma, threshold: 5}\n"
                                                  "  - name: new\n"
                                                  "    series: load\n"
                                                  "    detector: {kind: ewma}\n");
        _cleanup_(evaluator_freep) Evaluator *a = NULL, *ref = NULL, *b = NULL;
        static Rows ra, rr, rb;
        ra.n = rr.n = rb.n = 0;
        assert_int_equal(evaluator_new(c, &a), 0);
        assert_int_equal(evaluator_new(c, &ref), 0);
        feed_some(a, &ra, 1.7e9, 1.7e9 + 4 * 86400);
        feed_some(ref, &rr, 1.7e9, 1.7e9 + 4 * 86400);

        /* reload: s unchanged (moved, now rule 0), e changed (starts over), new is new */
        assert_int_equal(evaluator_new(c2, &b), 0);
        assert_int_equal(evaluator_adopt(b, a), 0);
        rb.n = rr.n = 0;
        for (double t = 1.7e9 + 4 * 86400; t < 1.7e9 + 5 * 86400; t += 300) {
                assert_int_equal(push(b, &rb, "load", NULL, 0, t, wave(t)), 0);
                assert_int_equal(push(ref, &rr, "load", NULL, 0, t, wave(t)), 0);
        }
        /* b's rows: s, e, new per sample; ref's: e, s, c per sample (burnrate's series are not fed here) */
        size_t n = rb.n / 3;
        assert_int_equal(rr.n / 3, n);
        for (size_t i = 0; i < n; i++) {
                const Row *bs = &rb.r[3 * i], *rs = &rr.r[3 * i + 1];
                assert_int_equal(bs->rule, 0);
                assert_int_equal(rs->rule, 1);
                assert_true(
                        same_double(bs->score, rs->score) && same_double(bs->expected, rs->expected) &&
                        bs->firing == rs->firing);
        }
        /* the changed rule started over */
        assert_true(isnan(rb.r[1].expected));
}

static void test_timezones(void **state) {
        if (!have_berlin())
                skip();
        _cleanup_(config_freep) Config *c = load("rules:\n"
                                                 "  - name: a\n"
                                                 "    series: x\n"
                                                 "    detector: {kind: seasonal}\n"
                                                 "  - name: b\n"
                                                 "    series: x\n"
                                                 "    detector: {kind: seasonal}\n"
                                                 "    timezone: Europe/Berlin\n");
        _cleanup_(evaluator_freep) Evaluator *e = NULL;
        size_t bad = 99;
        char dir[] = "/tmp/test-evaluator-XXXXXX";
        assert_non_null(mkdtemp(dir));
        EvaluatorOptions o = { .zoneinfo_dir = dir, .ret_bad_rule = &bad };
        assert_int_equal(evaluator_new_full(c, &o, &e), -ENOENT);
        assert_int_equal(bad, 1); /* rule a is UTC and needs no file */
        assert_null(e);
        rmdir(dir);
        assert_int_equal(evaluator_new(c, &e), 0);
}

int main(void) {
        gsl_set_error_handler_off();
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_for_recover), cmocka_unit_test(test_counters),
                cmocka_unit_test(test_interning),   cmocka_unit_test(test_series_parse),
                cmocka_unit_test(test_absent),      cmocka_unit_test(test_burnrate_join),
                cmocka_unit_test(test_save_load),   cmocka_unit_test(test_adopt),
                cmocka_unit_test(test_timezones),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

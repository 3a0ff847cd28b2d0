/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests for the Prometheus text parser and the per-source series table (supervisor/prom-text.c):
 * the exposition grammar and its edge cases, type resolution from `# TYPE` lines, bad lines skipped and
 * counted with their line numbers, the limits, label decoding and canonicalization, the source-label merge
 * with exported_ renaming, max_series and the sweep.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "prom-text.h"
#include "strbuf.h"

#define MAX_GOT 64

typedef struct Got {
        char series[2048];
        char labels[2048];
        size_t name_len;
        size_t n_labels;
        SampleType type;
        double value;
        bool has_timestamp;
        int64_t timestamp_ms;
        uint64_t line;
} Got;

typedef struct Collect {
        Got got[MAX_GOT];
        size_t n;
        int fail_with;             /* returned by the callback when nonzero */
        const char *reject_metric; /* -EBADMSG for this metric */
} Collect;

static int collect_cb(const PromSample *s, const char **ret_error, void *userdata) {
        Collect *c = userdata;

        if (c->fail_with)
                return c->fail_with;
        if (c->reject_metric && strlen(c->reject_metric) == s->name_len &&
            memcmp(c->reject_metric, s->series, s->name_len) == 0) {
                *ret_error = "rejected by test";
                return -EBADMSG;
        }
        assert_true(c->n < MAX_GOT);
        Got *g = &c->got[c->n++];
        assert_true(s->series_len < sizeof(g->series));
        memcpy(g->series, s->series, s->series_len);
        g->series[s->series_len] = 0;
        if (s->labels) {
                memcpy(g->labels, s->labels, s->labels_len);
                g->labels[s->labels_len] = 0;
        } else
                g->labels[0] = 0;
        g->name_len = s->name_len;
        g->n_labels = s->n_labels;
        g->type = s->type;
        g->value = s->value;
        g->has_timestamp = s->has_timestamp;
        g->timestamp_ms = s->timestamp_ms;
        g->line = s->line;
        return 0;
}

/* Parse text as one exposition. */
static const PromParseStats *parse(PromParser *p, const char *text, Collect *c) {
        memset(c->got, 0, sizeof(c->got));
        c->n = 0;
        prom_parser_begin(p);
        assert_int_equal(prom_parser_feed(p, text, strlen(text), collect_cb, c), 0);
        return prom_parser_get_stats(p);
}

static PromParser *parser(void) {
        PromParser *p = NULL;
        assert_int_equal(prom_parser_new(&p), 0);
        return p;
}

static void test_basic(void **state) {
        _cleanup_(prom_parser_freep) PromParser *p = parser();
        Collect c = {};
        const PromParseStats *st;

        st = parse(
                p,
                "# HELP http_requests_total The total number of HTTP requests.\n"
                "# TYPE http_requests_total counter\n"
                "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
                "http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n"
                "\n"
                "# A normal comment.\n"
                "#\n"
                "metric_without_timestamp_and_labels 12.47\n",
                &c);
        assert_int_equal(c.n, 3);
        assert_string_equal(c.got[0].series, "http_requests_total{method=\"post\",code=\"200\"}");
        assert_string_equal(c.got[0].labels, "method=\"post\",code=\"200\"");
        assert_int_equal(c.got[0].name_len, strlen("http_requests_total"));
        assert_int_equal(c.got[0].n_labels, 2);
        assert_int_equal(c.got[0].type, SAMPLE_COUNTER);
        assert_true(double_eq(c.got[0].value, 1027));
        assert_true(c.got[0].has_timestamp);
        assert_int_equal(c.got[0].timestamp_ms, 1395066363000);
        assert_int_equal(c.got[0].line, 3);
        assert_int_equal(c.got[1].line, 4);
        assert_true(double_eq(c.got[1].value, 3));
        assert_string_equal(c.got[2].series, "metric_without_timestamp_and_labels");
        assert_int_equal(c.got[2].type, SAMPLE_UNKNOWN);
        assert_false(c.got[2].has_timestamp);
        assert_true(double_eq(c.got[2].value, 12.47));
        assert_int_equal(c.got[2].line, 8);
        assert_int_equal(st->lines, 8);
        assert_int_equal(st->samples, 3);
        assert_int_equal(st->bad_lines, 0);
        assert_int_equal(st->first_bad_line, 0);
        assert_null(st->first_error);
}

static void test_values(void **state) {
        _cleanup_(prom_parser_freep) PromParser *p = parser();
        Collect c = {};
        const PromParseStats *st;

        st = parse(
                p,
                "a NaN\n"
                "b +Inf\n"
                "c -Inf\n"
                "d 1.5e3\n"
                "e -0.25\n"
                "f 1e-308\n"
                "g 1.7976931348623157e+308\n"
                "h 0\n"
                "i .5\n"
                "j Inf\n"
                "k nan\n"
                "l 1,5\n"
                "m 0x10\n"
                "n 1e\n"
                "o --1\n"
                "p 12abc\n",
                &c);
        assert_int_equal(c.n, 11);
        assert_true(isnan(c.got[0].value));
        assert_true(isinf(c.got[1].value) && c.got[1].value > 0);
        assert_true(isinf(c.got[2].value) && c.got[2].value < 0);
        assert_true(double_eq(c.got[3].value, 1500));
        assert_true(double_eq(c.got[4].value, -0.25));
        assert_true(double_eq(c.got[5].value, 1e-308));
        assert_true(double_eq(c.got[6].value, 1.7976931348623157e+308));
        assert_true(double_eq(c.got[7].value, 0));
        assert_true(double_eq(c.got[8].value, 0.5));
        assert_true(isinf(c.got[9].value));
        assert_true(isnan(c.got[10].value));
        assert_int_equal(st->bad_lines, 5);
        assert_int_equal(st->first_bad_line, 12);
        assert_string_equal(st->first_error, "invalid value");
        assert_int_equal(st->last_bad_line, 16);
}

static void test_timestamps(void **state) {
        _cleanup_(prom_parser_freep) PromParser *p = parser();
        Collect c = {};
        const PromParseStats *st;

        st = parse(
                p,
                "a 1 0\n"
                "b 1 -1000\n"
                "c 1 9223372036854775807\n"
                "d 1 -9223372036854775808\n"
                "e 1 9223372036854775808\n"
                "f 1 1.5\n"
                "g 1 123 456\n"
                "h 1 12a\n"
                "i 1 1700000000000   \n",
                &c);
        assert_int_equal(c.n, 5);
        assert_int_equal(c.got[0].timestamp_ms, 0);
        assert_true(c.got[0].has_timestamp);
        assert_int_equal(c.got[1].timestamp_ms, -1000);
        assert_int_equal(c.got[2].timestamp_ms, INT64_MAX);
        assert_int_equal(c.got[3].timestamp_ms, INT64_MIN);
        assert_string_equal(c.got[4].series, "i");
        assert_int_equal(c.got[4].timestamp_ms, 1700000000000);
        assert_int_equal(st->bad_lines, 4);
        assert_int_equal(st->first_bad_line, 5);
        assert_string_equal(st->first_error, "invalid timestamp (expected integer milliseconds)");
}

static void test_types(void **state) {
        _cleanup_(prom_parser_freep) PromParser *p = parser();
        Collect c = {};
        const PromParseStats *st;

        st = parse(
                p,
                "# TYPE rpc_duration_seconds summary\n"
                "rpc_duration_seconds{quantile=\"0.5\"} 4773\n"
                "rpc_duration_seconds_sum 1.7560473e+07\n"
                "rpc_duration_seconds_count 2693\n"
                "# TYPE http_request_duration_seconds histogram\n"
                "http_request_duration_seconds_bucket{le=\"0.05\"} 24054\n"
                "http_request_duration_seconds_bucket{le=\"+Inf\"} 144320\n"
                "http_request_duration_seconds_sum 53423\n"
                "http_request_duration_seconds_count 144320\n"
                "# TYPE temp gauge\n"
                "temp 21.5\n"
                "temp_total 3\n"
                "# TYPE things untyped\n"
                "things 1\n"
                "things_total 2\n"
                "# TYPE om counter\n"
                "om_total 7\n"
                "no_type_total 1\n"
                "no_type_count 1\n"
                "# TYPE gauge_total gauge\n"
                "gauge_total 5\n",
                &c);
        assert_int_equal(st->bad_lines, 0);
        assert_int_equal(c.n, 15);
        SampleType want[] = {
                SAMPLE_GAUGE,   SAMPLE_COUNTER, SAMPLE_COUNTER,                 /* summary */
                SAMPLE_COUNTER, SAMPLE_COUNTER, SAMPLE_COUNTER, SAMPLE_COUNTER, /* histogram */
                SAMPLE_GAUGE,   SAMPLE_COUNTER, /* gauge, then an undeclared _total */
                SAMPLE_UNKNOWN, SAMPLE_COUNTER, /* untyped */
                SAMPLE_COUNTER,                 /* OpenMetrics-style counter family */
                SAMPLE_COUNTER, SAMPLE_UNKNOWN, /* no TYPE at all */
                SAMPLE_GAUGE,                   /* a gauge that happens to end in _total */
        };
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                if (c.got[i].type != want[i])
                        fail_msg("sample %zu (%s): type %d, want %d", i, c.got[i].series, c.got[i].type, want[i]);
        }
}

static void test_types_not_contiguous(void **state) {
        _cleanup_(prom_parser_freep) PromParser *p = parser();
        Collect c = {};

        /* Samples away from their TYPE line still find it. */
        parse(p,
              "# TYPE a_seconds histogram\n"
              "# TYPE b gauge\n"
              "# TYPE c summary\n"
              "a_seconds_bucket{le=\"1\"} 1\n"
              "b 2\n"
              "c_count 3\n"
              "c 4\n"
              "a_seconds_sum 5\n",
              &c);
        assert_int_equal(c.n, 5);
        assert_int_equal(c.got[0].type, SAMPLE_COUNTER);
        assert_int_equal(c.got[1].type, SAMPLE_GAUGE);
        assert_int_equal(c.got[2].type, SAMPLE_COUNTER);
        assert_int_equal(c.got[3].type, SAMPLE_GAUGE);
        assert_int_equal(c.got[4].type, SAMPLE_COUNTER);
}

static void test_type_lines(void **state) {
        _cleanup_(prom_parser_freep) PromParser *p = parser();
        Collect c = {};
        const PromParseStats *st;

        st = parse(
                p,
                "# TYPE a counter\n"
                "# TYPE a counter\n"     /* the same again: harmless */
                "# TYPE a gauge\n"       /* conflict */
                "# TYPE b countr\n"      /* unknown type */
                "# TYPE\n"               /* no name */
                "# TYPE c\n"             /* no type */
                "# TYPE d gauge extra\n" /* trailing text */
                "# TYPE 1x gauge\n"      /* bad name */
                "#TYPE e gauge\n"        /* no blank after '#': still a TYPE line */
                "# TYPEx f gauge\n"      /* just a comment */
                "a 1\n"
                "e 1\n",
                &c);
        assert_int_equal(st->bad_lines, 6);
        assert_int_equal(st->first_bad_line, 3);
        assert_string_equal(st->first_error, "TYPE conflicts with an earlier TYPE for the same metric");
        assert_int_equal(c.n, 2);
        assert_int_equal(c.got[0].type, SAMPLE_COUNTER);
        assert_int_equal(c.got[1].type, SAMPLE_GAUGE);

        /* A new exposition may declare a different type. */
        st = parse(p, "# TYPE a gauge\na 1\n", &c);
        assert_int_equal(st->bad_lines, 0);
        assert_int_equal(c.got[0].type, SAMPLE_GAUGE);
}

static void test_help_lines(void **state) {
        _cleanup_(prom_parser_freep) PromParser *p = parser();
        Collect c = {};
        const PromParseStats *st;

        st = parse(
                p,
                "# HELP a Some text with \\\\ and \\n escapes and \"quotes\" {braces}\n"
                "# HELP b\n"
                "# HELP c bad escape \\t here\n"
                "# HELP d trailing backslash \\\n"
                "# HELP\n"
                "# HELP 9 starts with a digit\n"
                "a 1\n",
                &c);
        assert_int_equal(st->bad_lines, 4);
        assert_int_equal(st->first_bad_line, 3);
        assert_string_equal(st->first_error, "invalid escape sequence in HELP text");
        assert_int_equal(c.n, 1);
}

static void test_labels_syntax(void **state) {
        _cleanup_(prom_parser_freep) PromParser *p = parser();
        Collect c = {};
        const PromParseStats *st;

        st = parse(
                p,
                "a{} 1\n"
                "b{x=\"1\",} 2\n"
                "c{ x = \"1\" , y=\"2\" } 3\n"
                "d {x=\"1\"} 4\n"
                "e{x=\"a,b}c\"} 5\n"
                "f{x=\"q\\\"uote\\\\back\\nnl\"} 6\n"
                "g{x=\"1\"}7\n"
                "h{,x=\"1\"} 1\n"        /* leading comma */
                "i{x=1} 1\n"             /* unquoted value */
                "j{x=\"1\" y=\"2\"} 1\n" /* missing comma */
                "k{x=\"1\"\n"            /* unterminated set */
                "l{x=\"1} 1\n"           /* unterminated value */
                "m{x=\"\\t\"} 1\n"       /* invalid escape */
                "n{1x=\"1\"} 1\n"        /* bad label name */
                "o{x:y=\"1\"} 1\n"       /* ':' not allowed in label names */
                "p{x=\"1\"},\n"          /* junk instead of a value */
                "q{x} 1\n"
                "r{x=} 1\n"
                "s{x=\"1\",,} 1\n",
                &c);
        assert_int_equal(c.n, 7);
        assert_string_equal(c.got[0].series, "a{}");
        assert_string_equal(c.got[0].labels, "");
        assert_int_equal(c.got[0].n_labels, 0);
        assert_int_equal(c.got[1].n_labels, 1);
        assert_string_equal(c.got[2].labels, " x = \"1\" , y=\"2\" ");
        assert_int_equal(c.got[2].n_labels, 2);
        assert_string_equal(c.got[3].series, "d {x=\"1\"}");
        assert_int_equal(c.got[3].name_len, 1);
        assert_string_equal(c.got[4].labels, "x=\"a,b}c\"");
        assert_true(double_eq(c.got[4].value, 5));
        assert_true(double_eq(c.got[5].value, 6));
        assert_true(double_eq(c.got[6].value, 7));
        assert_int_equal(st->bad_lines, 12);
        assert_int_equal(st->first_bad_line, 8);
        assert_string_equal(st->first_error, "invalid label name");
}

static void test_names(void **state) {
        _cleanup_(prom_parser_freep) PromParser *p = parser();
        Collect c = {};
        const PromParseStats *st;

        st = parse(
                p,
                "ns:sub_metric:rate5m 1\n"
                "_under 2\n"
                "9lives 1\n"
                "with-dash 1\n"
                "{x=\"1\"} 1\n"
                "only_a_name\n"
                "nämlich 1\n",
                &c);
        assert_int_equal(c.n, 2);
        assert_string_equal(c.got[0].series, "ns:sub_metric:rate5m");
        assert_int_equal(st->bad_lines, 5);
}

static void test_whitespace_and_line_ends(void **state) {
        _cleanup_(prom_parser_freep) PromParser *p = parser();
        Collect c = {};
        const PromParseStats *st;

        st = parse(
                p,
                "a 1\r\n"
                "\r\n"
                "   \t\n"
                "  b\t2\t3\r\n"
                "# TYPE c gauge\r\n"
                "c 4  \r\n"
                "d 5",
                &c);
        assert_int_equal(st->bad_lines, 0);
        assert_int_equal(st->lines, 7);
        assert_int_equal(c.n, 4);
        assert_string_equal(c.got[1].series, "b");
        assert_true(double_eq(c.got[1].value, 2));
        assert_int_equal(c.got[1].timestamp_ms, 3);
        assert_int_equal(c.got[2].type, SAMPLE_GAUGE);
        assert_string_equal(c.got[3].series, "d");
        assert_int_equal(c.got[3].line, 7);

        /* A carriage return anywhere but before the line end is not a blank. */
        st = parse(p, "a 1\rb 2\n", &c);
        assert_int_equal(st->bad_lines, 1);
        assert_int_equal(c.n, 0);
}

static void test_empty_inputs(void **state) {
        _cleanup_(prom_parser_freep) PromParser *p = parser();
        Collect c = {};
        const PromParseStats *st;

        st = parse(p, "", &c);
        assert_int_equal(st->lines, 0);
        assert_int_equal(c.n, 0);
        st = parse(p, "\n\n\n", &c);
        assert_int_equal(st->lines, 3);
        assert_int_equal(st->samples, 0);
        st = parse(p, "# only\n# comments", &c);
        assert_int_equal(st->lines, 2);
        assert_int_equal(st->samples, 0);
        assert_int_equal(st->bad_lines, 0);

        /* NUL bytes and binary garbage are bad lines, never a crash. */
        const char bin[] = "a 1\n\x00\x01\x02\xff\n\xff\xfe{}\n b\x00 1\nc 2\n";
        prom_parser_begin(p);
        c.n = 0;
        assert_int_equal(prom_parser_feed(p, bin, sizeof(bin) - 1, collect_cb, &c), 0);
        st = prom_parser_get_stats(p);
        assert_int_equal(c.n, 2);
        assert_int_equal(st->bad_lines, 3);
}

static void test_limits(void **state) {
        _cleanup_(prom_parser_freep) PromParser *p = parser();
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        Collect c = {};
        const PromParseStats *st;

        /* A name of exactly PROM_NAME_MAX is fine, one more is not. */
        for (unsigned i = 0; i < PROM_NAME_MAX; i++)
                strbuf_putc(&b, 'n');
        strbuf_puts(&b, " 1\n");
        for (unsigned i = 0; i <= PROM_NAME_MAX; i++)
                strbuf_putc(&b, 'm');
        strbuf_puts(&b, " 1\n");
        /* PROM_LABELS_MAX labels are fine, one more is not. */
        strbuf_puts(&b, "many{");
        for (unsigned i = 0; i < PROM_LABELS_MAX; i++)
                strbuf_printf(&b, "l%u=\"v\",", i);
        strbuf_puts(&b, "} 1\n");
        strbuf_puts(&b, "toomany{");
        for (unsigned i = 0; i <= PROM_LABELS_MAX; i++)
                strbuf_printf(&b, "l%u=\"v\",", i);
        strbuf_puts(&b, "} 1\n");
        /* A line longer than PROM_LINE_MAX. */
        strbuf_puts(&b, "long{x=\"");
        for (unsigned i = 0; i < PROM_LINE_MAX; i++)
                strbuf_putc(&b, 'v');
        strbuf_puts(&b, "\"} 1\n");
        /* A long label name. */
        strbuf_puts(&b, "ln{");
        for (unsigned i = 0; i <= PROM_NAME_MAX; i++)
                strbuf_putc(&b, 'k');
        strbuf_puts(&b, "=\"v\"} 1\n");
        strbuf_puts(&b, "after 1\n");
        assert_false(strbuf_failed(&b));

        c.n = 0;
        prom_parser_begin(p);
        assert_int_equal(prom_parser_feed(p, b.data, b.len, collect_cb, &c), 0);
        st = prom_parser_get_stats(p);
        assert_int_equal(c.n, 3);
        assert_int_equal(c.got[0].name_len, PROM_NAME_MAX);
        assert_int_equal(c.got[1].n_labels, PROM_LABELS_MAX);
        assert_string_equal(c.got[2].series, "after");
        assert_int_equal(c.got[2].line, 7);
        assert_int_equal(st->bad_lines, 4);
        assert_int_equal(st->first_bad_line, 2);
        assert_string_equal(st->first_error, "metric name too long");
}

static void test_callback_errors(void **state) {
        _cleanup_(prom_parser_freep) PromParser *p = parser();
        Collect c = {};
        const PromParseStats *st;

        c.reject_metric = "b";
        st = parse(p, "a 1\nb 2\nc 3\n", &c);
        assert_int_equal(c.n, 2);
        assert_int_equal(st->samples, 2);
        assert_int_equal(st->bad_lines, 1);
        assert_int_equal(st->first_bad_line, 2);
        assert_string_equal(st->first_error, "rejected by test");

        /* Anything but -EBADMSG aborts the parse. */
        c.reject_metric = NULL;
        c.fail_with = -ENOMEM;
        prom_parser_begin(p);
        assert_int_equal(prom_parser_feed(p, "a 1\nb 2\n", 8, collect_cb, &c), -ENOMEM);
}

static void test_feed_in_pieces(void **state) {
        _cleanup_(prom_parser_freep) PromParser *p = parser();
        Collect c = {};
        const char *lines[] = { "# TYPE x counter\n", "x 1\n", "bad line\n", "x 2 5\n" };

        prom_parser_begin(p);
        for (size_t i = 0; i < ELEMENTSOF(lines); i++)
                assert_int_equal(prom_parser_feed(p, lines[i], strlen(lines[i]), collect_cb, &c), 0);
        const PromParseStats *st = prom_parser_get_stats(p);
        assert_int_equal(c.n, 2);
        assert_int_equal(c.got[0].type, SAMPLE_COUNTER);
        assert_int_equal(c.got[1].type, SAMPLE_COUNTER);
        assert_int_equal(c.got[1].line, 4);
        assert_int_equal(st->lines, 4);
        assert_int_equal(st->bad_lines, 1);
        assert_int_equal(st->last_bad_line, 3);
}

/* ---- label decoding ---- */

static void test_labels_decode(void **state) {
        static PromLabels l;
        const char *err = NULL;

        const char *text = " zeta=\"z\", alpha = \"a\\\\b\\\"c\\nd\" ,mid=\"\", beta=\"ünï\" ";
        assert_int_equal(prom_labels_decode(text, strlen(text), &l, &err), 0);
        assert_int_equal(l.n_labels, 3); /* the empty one is gone */
        assert_string_equal(l.labels[0].name, "alpha");
        assert_string_equal(l.labels[0].value, "a\\b\"c\nd");
        assert_string_equal(l.labels[1].name, "beta");
        assert_string_equal(l.labels[1].value, "ünï");
        assert_string_equal(l.labels[2].name, "zeta");

        assert_int_equal(prom_labels_decode("", 0, &l, &err), 0);
        assert_int_equal(l.n_labels, 0);

        struct {
                const char *text;
                const char *error;
        } bad[] = {
                { "a=\"1\",a=\"2\"", "duplicate label name" },
                { "a=\"1\",b=\"\",b=\"x\"", "duplicate label name" },
                { "a=\"\",a=\"\"", "duplicate label name" },
                { "__name__=\"x\"", "label __name__ is not allowed in a label set" },
                { "a=\"\xff\"", "label value is not valid UTF-8" },
                { "a=\"\xc0\x80\"", "label value is not valid UTF-8" },
                { "a=\"\\q\"", "invalid label set" },
                { "a=\"1\"x", "invalid label set" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                err = NULL;
                assert_int_equal(prom_labels_decode(bad[i].text, strlen(bad[i].text), &l, &err), -EBADMSG);
                assert_string_equal(err, bad[i].error);
        }
        const char nul[] = "a=\"x\0y\"";
        assert_int_equal(prom_labels_decode(nul, sizeof(nul) - 1, &l, &err), -EBADMSG);
        assert_string_equal(err, "NUL byte in label value");
}

static void test_format_series(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        const Label l[] = { { "a", "x\"y" }, { "b", "back\\slash\nnl" } };

        assert_int_equal(prom_format_series(&b, "m", l, 2), 0);
        assert_string_equal(b.data, "m{a=\"x\\\"y\",b=\"back\\\\slash\\nnl\"}");
        strbuf_reset(&b);
        assert_int_equal(prom_format_series(&b, "bare", NULL, 0), 0);
        assert_string_equal(b.data, "bare");
}

/* ---- the series table ---- */

typedef struct TableRun {
        PromSeriesTable *t;
        usec_t now;
        const PromSeries *last[MAX_GOT];
        size_t n, dropped, bad;
        const char *last_error;
} TableRun;

static int table_cb(const PromSample *s, const char **ret_error, void *userdata) {
        TableRun *run = userdata;
        const PromSeries *series = NULL;
        int r = prom_series_table_lookup_raw(run->t, s, run->now, &series, ret_error);

        if (r == -EBADMSG) {
                run->bad++;
                run->last_error = *ret_error;
                return r;
        }
        assert_true(r >= 0);
        if (r == 0) {
                run->dropped++;
                return 0;
        }
        assert_true(run->n < MAX_GOT);
        run->last[run->n++] = series;
        return 0;
}

static void table_parse(PromParser *p, TableRun *run, const char *text) {
        run->n = run->dropped = run->bad = 0;
        prom_parser_begin(p);
        assert_int_equal(prom_parser_feed(p, text, strlen(text), table_cb, run), 0);
}

static void test_table_canonical(void **state) {
        _cleanup_(prom_parser_freep) PromParser *p = parser();
        _cleanup_(prom_series_table_freep) PromSeriesTable *t = NULL;
        const Label base[] = { { "source", "api" }, { "env", "prod" } };
        TableRun run = {};

        assert_int_equal(prom_series_table_new(base, 2, 100, &t), 0);
        run.t = t;
        run.now = 1;
        table_parse(
                p,
                &run,
                "m{z=\"1\",a=\"2\"} 1\n"
                "m{ a=\"2\" , z=\"1\" } 2\n" /* the same series spelled differently */
                "m{a=\"2\",z=\"1\",empty=\"\"} 3\n"
                "m 4\n"
                "m{} 5\n"
                "m{source=\"scraped\",env=\"x\",exported_env=\"y\"} 6\n"
                "q{v=\"a\\\"b\\\\c\\nd\"} 7\n");
        assert_int_equal(run.bad, 0);
        assert_int_equal(run.n, 7);
        assert_string_equal(run.last[0]->key, "m{a=\"2\",env=\"prod\",source=\"api\",z=\"1\"}");
        assert_string_equal(run.last[0]->metric, "m");
        assert_int_equal(run.last[0]->n_labels, 4);
        assert_string_equal(run.last[0]->labels[0].name, "a");
        assert_string_equal(run.last[0]->labels[1].name, "env");
        assert_string_equal(run.last[0]->labels[2].name, "source");
        assert_string_equal(run.last[0]->labels[2].value, "api");
        assert_string_equal(run.last[0]->labels[3].name, "z");
        assert_ptr_equal(run.last[0], run.last[1]);
        assert_ptr_equal(run.last[0], run.last[2]);
        assert_string_equal(run.last[3]->key, "m{env=\"prod\",source=\"api\"}");
        assert_ptr_equal(run.last[3], run.last[4]);
        /* Colliding labels are kept as exported_*, prefixed again while taken. */
        assert_string_equal(
                run.last[5]->key,
                "m{env=\"prod\",exported_env=\"y\",exported_exported_env=\"x\","
                "exported_source=\"scraped\",source=\"api\"}");
        assert_string_equal(run.last[6]->key, "q{env=\"prod\",source=\"api\",v=\"a\\\"b\\\\c\\nd\"}");
        assert_string_equal(run.last[6]->labels[2].value, "a\"b\\c\nd");
        assert_int_equal(prom_series_table_size(t), 4);

        /* Built-in series take the same path and land on the same series. */
        const PromSeries *s = NULL;
        const Label own[] = { { "z", "1" }, { "a", "2" } };
        assert_int_equal(prom_series_table_lookup(t, "m", own, 2, 2, &s), 1);
        assert_ptr_equal(s, run.last[0]);
        assert_int_equal(s->last_seen, 2);
        const Label clash[] = { { "source", "mine" } };
        assert_int_equal(prom_series_table_lookup(t, "m", clash, 1, 2, &s), 1);
        assert_string_equal(s->key, "m{env=\"prod\",exported_source=\"mine\",source=\"api\"}");
        const Label dup[] = { { "a", "1" }, { "a", "2" } };
        assert_int_equal(prom_series_table_lookup(t, "m", dup, 2, 2, &s), -EINVAL);
        const Label badname[] = { { "a-b", "1" } };
        assert_int_equal(prom_series_table_lookup(t, "m", badname, 1, 2, &s), -EINVAL);
        const Label reserved[] = { { "__name__", "1" } };
        assert_int_equal(prom_series_table_lookup(t, "m", reserved, 1, 2, &s), -EINVAL);
        assert_int_equal(prom_series_table_lookup(t, "9m", NULL, 0, 2, &s), -EINVAL);
        assert_int_equal(prom_series_table_lookup(t, "", NULL, 0, 2, &s), -EINVAL);
}

static void test_table_bad_labels(void **state) {
        _cleanup_(prom_parser_freep) PromParser *p = parser();
        _cleanup_(prom_series_table_freep) PromSeriesTable *t = NULL;
        const Label base[] = { { "source", "s" } };
        TableRun run = {};

        assert_int_equal(prom_series_table_new(base, 1, 100, &t), 0);
        run.t = t;
        /* Twice: a bad spelling is never cached, it fails again. */
        for (int i = 0; i < 2; i++) {
                table_parse(p, &run, "ok 1\nm{a=\"1\",a=\"2\"} 1\nm{__name__=\"x\"} 1\nm{a=\"\xff\"} 1\n");
                assert_int_equal(run.n, 1);
                assert_int_equal(run.bad, 3);
                const PromParseStats *st = prom_parser_get_stats(p);
                assert_int_equal(st->bad_lines, 3);
                assert_int_equal(st->first_bad_line, 2);
                assert_string_equal(st->first_error, "duplicate label name");
        }
        assert_int_equal(prom_series_table_size(t), 1);
}

static void test_table_max_series_and_sweep(void **state) {
        _cleanup_(prom_parser_freep) PromParser *p = parser();
        _cleanup_(prom_series_table_freep) PromSeriesTable *t = NULL;
        const Label base[] = { { "source", "s" } };
        TableRun run = {};

        assert_int_equal(prom_series_table_new(base, 1, 3, &t), 0);
        run.t = t;
        run.now = 10;
        table_parse(p, &run, "a 1\nb 1\nc 1\nd 1\ne 1\na{} 2\n");
        assert_int_equal(run.n, 4);
        assert_int_equal(run.dropped, 2);
        assert_int_equal(prom_series_table_size(t), 3);
        /* Dropped again while full, even though the spelling is remembered. */
        run.now = 20;
        table_parse(p, &run, "a 1\nb 1\nd 1\n");
        assert_int_equal(run.n, 2);
        assert_int_equal(run.dropped, 1);

        /* c was last seen at 10: sweeping before 15 forgets it and makes room for d. */
        assert_int_equal(prom_series_table_sweep(t, 15), 1);
        assert_int_equal(prom_series_table_size(t), 2);
        run.now = 30;
        table_parse(p, &run, "d 1\ne 1\nc 1\n");
        assert_int_equal(run.n, 1);
        assert_int_equal(run.dropped, 2);
        assert_string_equal(run.last[0]->key, "d{source=\"s\"}");
        assert_int_equal(prom_series_table_size(t), 3);

        /* Everything goes when nothing was seen recently. */
        assert_int_equal(prom_series_table_sweep(t, 100), 3);
        assert_int_equal(prom_series_table_size(t), 0);
        run.now = 200;
        table_parse(p, &run, "x 1\ny 1\n");
        assert_int_equal(run.n, 2);
        assert_int_equal(run.dropped, 0);
}

static void test_table_new_errors(void **state) {
        PromSeriesTable *t = NULL;
        const Label dup[] = { { "source", "a" }, { "source", "b" } };
        const Label bad[] = { { "so-urce", "a" } };
        const Label empty[] = { { "source", "" } };

        assert_int_equal(prom_series_table_new(dup, 2, 10, &t), -EINVAL);
        assert_int_equal(prom_series_table_new(bad, 1, 10, &t), -EINVAL);
        assert_int_equal(prom_series_table_new(empty, 1, 10, &t), -EINVAL);
        assert_int_equal(prom_series_table_new(NULL, 0, 10, &t), 0);
        prom_series_table_free(t);
}

static void test_type_names(void **state) {
        assert_string_equal(prom_type_to_string(PROM_TYPE_COUNTER), "counter");
        assert_string_equal(prom_type_to_string(PROM_TYPE_HISTOGRAM), "histogram");
        assert_null(prom_type_to_string(_PROM_TYPE_MAX));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_basic),
                cmocka_unit_test(test_values),
                cmocka_unit_test(test_timestamps),
                cmocka_unit_test(test_types),
                cmocka_unit_test(test_types_not_contiguous),
                cmocka_unit_test(test_type_lines),
                cmocka_unit_test(test_help_lines),
                cmocka_unit_test(test_labels_syntax),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_whitespace_and_line_ends),
                cmocka_unit_test(test_empty_inputs),
                cmocka_unit_test(test_limits),
                cmocka_unit_test(test_callback_errors),
                cmocka_unit_test(test_feed_in_pieces),
                cmocka_unit_test(test_labels_decode),
                cmocka_unit_test(test_format_series),
                cmocka_unit_test(test_table_canonical),
                cmocka_unit_test(test_table_bad_labels),
                cmocka_unit_test(test_table_max_series_and_sweep),
                cmocka_unit_test(test_table_new_errors),
                cmocka_unit_test(test_type_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

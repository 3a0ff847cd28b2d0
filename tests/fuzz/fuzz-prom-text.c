/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libFuzzer target for the Prometheus text parser and the series table (supervisor/prom-text.c). Beyond
 * "no crash, no leak, no sanitizer report" it checks invariants that would catch silent corruption:
 * - parsing the input in one piece and line by line (as the listen source does) gives the same counts;
 * - every series found has sorted, unique labels including the source's own;
 * - a series written back as exposition text leads back to the very same series;
 * - the table never holds more than max_series series, and a sweep empties it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom-text.h"
#include "strbuf.h"

#define MAX_SERIES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct Ctx {
        PromSeriesTable *table;
        PromParser *check; /* for the round trip of canonical keys */
        uint64_t found, dropped, rejected;
        bool round_trip;
} Ctx;

typedef struct RoundTrip {
        PromSeriesTable *table;
        const PromSeries *want;
        bool ok;
} RoundTrip;

static int round_trip_cb(const PromSample *s, const char **ret_error, void *userdata) {
        RoundTrip *rt = userdata;
        const PromSeries *got = NULL;
        int r = prom_series_table_lookup_raw(rt->table, s, 2, &got, ret_error);
        if (r == 1 && got == rt->want)
                rt->ok = true;
        return 0;
}

static void check_series(Ctx *c, const PromSeries *s) {
        bool has_source = false;

        for (size_t i = 0; i < s->n_labels; i++) {
                if (i > 0 && strcmp(s->labels[i - 1].name, s->labels[i].name) >= 0)
                        abort(); /* not sorted or not unique */
                if (!s->labels[i].value[0])
                        abort(); /* empty values are dropped */
                if (strcmp(s->labels[i].name, "source") == 0 && strcmp(s->labels[i].value, "fuzz") == 0)
                        has_source = true;
        }
        if (!has_source || strlen(s->key) != s->key_len)
                abort();
        if (!c->round_trip)
                return;

        /* The series written back as exposition text, minus the labels the table adds, is a sample line
         * that finds the same series again (renamed exported_* labels stay as they are). */
        _cleanup_strbuf_ StrBuf line = STRBUF_INIT;
        Label own[PROM_LABELS_MAX + 2];
        size_t n = 0;
        for (size_t i = 0; i < s->n_labels; i++)
                if (strcmp(s->labels[i].name, "source") != 0 && strcmp(s->labels[i].name, "env") != 0) {
                        if (n >= ELEMENTSOF(own))
                                abort();
                        own[n++] = s->labels[i];
                }
        if (prom_format_series(&line, s->metric, own, n) < 0)
                abort();
        strbuf_puts(&line, " 1\n");
        if (strbuf_failed(&line))
                abort();
        RoundTrip rt = { .table = c->table, .want = s };
        prom_parser_begin(c->check);
        if (prom_parser_feed(c->check, line.data, line.len, round_trip_cb, &rt) < 0 || !rt.ok) {
                fprintf(stderr, "round trip failed for %s\n", s->key);
                abort();
        }
}

static int sample_cb(const PromSample *sample, const char **ret_error, void *userdata) {
        Ctx *c = userdata;
        const PromSeries *s = NULL;
        int r;

        if (sample->name_len == 0 || sample->name_len > sample->series_len)
                abort();
        r = prom_series_table_lookup_raw(c->table, sample, 1, &s, ret_error);
        if (r == -EBADMSG) {
                if (!*ret_error)
                        abort();
                c->rejected++;
                return r;
        }
        if (r < 0)
                return r;
        if (r == 0) {
                c->dropped++;
                return 0;
        }
        c->found++;
        check_series(c, s);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(prom_parser_freep) PromParser *whole = NULL, *pieces = NULL, *check = NULL;
        _cleanup_(prom_series_table_freep) PromSeriesTable *t1 = NULL, *t2 = NULL;
        const Label base[] = { { "source", "fuzz" }, { "env", "test" } };
        const char *buf = (const char *) data;
        Ctx a = {}, b = {};

        if (prom_parser_new(&whole) < 0 || prom_parser_new(&pieces) < 0 || prom_parser_new(&check) < 0 ||
            prom_series_table_new(base, 2, MAX_SERIES, &t1) < 0 ||
            prom_series_table_new(base, 2, MAX_SERIES, &t2) < 0)
                return 0;

        a = (Ctx){ .table = t1, .check = check, .round_trip = true };
        prom_parser_begin(whole);
        if (prom_parser_feed(whole, buf, size, sample_cb, &a) < 0)
                return 0; /* out of memory */
        PromParseStats sa = *prom_parser_get_stats(whole);

        /* Line by line, like the listen source. */
        b = (Ctx){ .table = t2, .check = check };
        prom_parser_begin(pieces);
        for (size_t i = 0; i < size;) {
                const char *nl = memchr(buf + i, '\n', size - i);
                size_t n = nl ? (size_t) (nl - (buf + i)) + 1 : size - i;
                if (prom_parser_feed(pieces, buf + i, n, sample_cb, &b) < 0)
                        return 0;
                i += n;
        }
        PromParseStats sb = *prom_parser_get_stats(pieces);

        if (sa.lines != sb.lines || sa.samples != sb.samples || sa.bad_lines != sb.bad_lines ||
            sa.first_bad_line != sb.first_bad_line || a.found != b.found || a.dropped != b.dropped ||
            a.rejected != b.rejected) {
                fprintf(stderr, "whole and line-by-line parses differ\n");
                abort();
        }
        if (sa.samples + sa.bad_lines > sa.lines || a.found + a.dropped != sa.samples)
                abort();
        if (prom_series_table_size(t1) > MAX_SERIES)
                abort();
        (void) prom_series_table_sweep(t1, 3);
        if (prom_series_table_size(t1) != 0)
                abort();
        return 0;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The Prometheus text exposition format 0.0.4, read by hand: `# HELP`, `# TYPE`, comments, samples
 * `name{label="value",...} value [timestamp_ms]`, blank lines, CRLF line ends. Two layers:
 *
 * - PromParser streams over a buffer line by line and calls back once per sample with the raw bytes
 *   of `name{labels}` exactly as written, the value, the optional timestamp and the sample type derived
 *   from the `# TYPE` lines (histogram `_bucket`/`_sum`/`_count` and summary `_sum`/`_count` are
 *   counters, summary quantiles are gauges, an untyped `_total` is a counter). The syntax of every line is
 *   checked completely; a bad line is skipped and counted with its line number, so one bad line never
 *   loses a whole scrape. The parser keeps no per-sample state and allocates only for `# TYPE` lines.
 *
 * - PromSeriesTable turns raw series into canonical series (labels unescaped, validated, sorted, the
 *   source's own labels merged in) and caches them by the raw bytes. A steady-state scrape therefore costs
 *   one hash and one table lookup per sample: no label decoding, no sorting, no allocation. The table
 *   enforces max_series and forgets series that have not been seen for a while.
 *
 * Limits (each one a line error, never a crash): PROM_LINE_MAX bytes per line, PROM_NAME_MAX bytes per
 * metric or label name, PROM_LABELS_MAX labels per sample. Label semantics follow Prometheus: a label with
 * an empty value is the same as no label; `__name__` may not appear among the labels; a label that
 * collides with one of the source's own labels (including `source`) is kept as `exported_<name>`, like
 * Prometheus does with honor_labels: false.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evaluator.h"
#include "rules.h"
#include "strbuf.h"
#include "time-util.h"

#define PROM_LINE_MAX (64U * 1024U) /* bytes per line, line end excluded */
#define PROM_NAME_MAX 1024U         /* bytes per metric or label name */
#define PROM_LABELS_MAX 64U         /* labels per sample, as written */
#define PROM_FAMILIES_MAX 16384U    /* `# TYPE` declarations remembered per parser */

typedef enum PromType {
        PROM_TYPE_UNTYPED,
        PROM_TYPE_COUNTER,
        PROM_TYPE_GAUGE,
        PROM_TYPE_HISTOGRAM,
        PROM_TYPE_SUMMARY,
        _PROM_TYPE_MAX,
} PromType;

const char *prom_type_to_string(PromType t);

/* One sample line. Pointers refer into the buffer being parsed and are valid during the callback only. */
typedef struct PromSample {
        const char *series; /* `name{labels}` exactly as written: the cache key */
        size_t series_len;
        size_t name_len;    /* series[0, name_len) is the metric name */
        const char *labels; /* the text between the braces (NULL when there are none) */
        size_t labels_len;
        size_t n_labels; /* labels as written */
        SampleType type;
        double value;
        bool has_timestamp;
        int64_t timestamp_ms;
        uint64_t line; /* 1-based line number since prom_parser_begin() */
} PromSample;

/* Called for each sample. Return 0 to accept it; -EBADMSG to count the line as bad (set *ret_error to a
 * static message); any other negative errno aborts the parse, which returns it. */
typedef int (*PromSampleCallback)(const PromSample *sample, const char **ret_error, void *userdata);

typedef struct PromParseStats {
        uint64_t lines;          /* lines seen, blank and comment lines included */
        uint64_t samples;        /* samples accepted by the callback */
        uint64_t bad_lines;      /* lines skipped as invalid */
        uint64_t first_bad_line; /* 0 when there was none */
        const char *first_error; /* static message for first_bad_line, or NULL */
        uint64_t last_bad_line;  /* the latest bad line, 0 when there was none */
        const char *last_error;  /* static message for last_bad_line, or NULL */
} PromParseStats;

typedef struct PromParser PromParser;

int prom_parser_new(PromParser **ret);
PromParser *prom_parser_free(PromParser *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(PromParser *, prom_parser_free);

/* Start a new exposition (a scrape, a client connection): line numbers and statistics restart, and
 * `# TYPE` declarations from before no longer conflict with new ones. */
void prom_parser_begin(PromParser *p);

/* Parse every line in buf[0, len); a last line without a line end is parsed too, so a caller that
 * receives data in pieces passes only complete lines. Returns 0, or the callback's fatal error. */
int prom_parser_feed(PromParser *p, const char *buf, size_t len, PromSampleCallback cb, void *userdata);

const PromParseStats *prom_parser_get_stats(const PromParser *p);

/* Decoded labels of one sample: unescaped, validated UTF-8 without NUL bytes, no duplicates, no
 * `__name__`, empty values dropped, sorted by name. Strings point into .buf. */
typedef struct PromLabels {
        Label labels[PROM_LABELS_MAX];
        size_t n_labels;
        char buf[PROM_LINE_MAX + 2 * PROM_LABELS_MAX];
} PromLabels;

/* Decode the text between the braces of a sample (as in PromSample.labels). Returns 0, or -EBADMSG with
 * a static message in *ret_error. */
int prom_labels_decode(const char *text, size_t len, PromLabels *ret, const char **ret_error);

/* Append `name{a="x",b="y"}` (values escaped as in the exposition format) to b. */
int prom_format_series(StrBuf *b, const char *metric, const Label *labels, size_t n_labels);

/* A canonical series of one source. Everything is owned by the table. */
typedef struct PromSeries {
        const char *key; /* `name{labels}` canonical: labels sorted, source labels merged, values escaped */
        size_t key_len;
        const char *metric;
        const Label *labels; /* sorted by name */
        size_t n_labels;
        usec_t last_seen; /* the `now` of the latest lookup that returned it */
} PromSeries;

typedef struct PromSeriesTable PromSeriesTable;

/* base: the labels every series carries (the source's labels and source="<name>"), any order, names
 * unique; copied. max_series: the number of distinct canonical series kept; more are dropped. */
int prom_series_table_new(const Label *base, size_t n_base, uint64_t max_series, PromSeriesTable **ret);
PromSeriesTable *prom_series_table_free(PromSeriesTable *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(PromSeriesTable *, prom_series_table_free);

/* Find or create the series of a parsed sample. Returns 1 with *ret set; 0 if the series is new and the
 * table is full (the sample is to be dropped); -EBADMSG with *ret_error for labels that do not decode;
 * -ENOMEM. */
int prom_series_table_lookup_raw(
        PromSeriesTable *t, const PromSample *sample, usec_t now, const PromSeries **ret, const char **ret_error);

/* The same for a series built by code (systemd units, probes): labels in any order, not escaped, names
 * unique. Returns 1, 0 (dropped), -EINVAL (bad name or label), -ENOMEM. */
int prom_series_table_lookup(
        PromSeriesTable *t,
        const char *metric,
        const Label *labels,
        size_t n_labels,
        usec_t now,
        const PromSeries **ret);

/* Forget series (and cached raw spellings) last seen before `older_than`. Returns how many series went. */
size_t prom_series_table_sweep(PromSeriesTable *t, usec_t older_than);

/* Number of canonical series held. */
size_t prom_series_table_size(const PromSeriesTable *t);

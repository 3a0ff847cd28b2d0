/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Series identity as text: the canonical key `name{a="x",b="y"}` (labels sorted by name, values escaped as
 * in the Prometheus exposition format: \\, \" and \n) that the evaluator interns series by, that replay
 * prints and that incidents carry; and the reverse, parsing such a key (replay's `timestamp,series,value`
 * input and --series). Pure functions, no state.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "rules.h"
#include "strbuf.h"

/* Append the canonical key of metric + labels (labels must already be sorted by name) to b. */
int series_key_append(StrBuf *b, const char *metric, const Label *labels, size_t n_labels);

/* A parsed series: metric and labels sorted by name, all pointing into one owned buffer. */
typedef struct SeriesId {
        const char *metric;
        Label *labels;
        size_t n_labels;
        char *buf;
} SeriesId;

/* Parse `name`, `name{a="x",b="y"}` or `{__name__="name",a="x"}` (whitespace around tokens allowed, labels
 * in any order, a trailing comma allowed). The metric name may be anything without braces, quotes, commas or
 * whitespace (file-derived names such as "ec2_cpu-5f5533" are fine); label names are [a-zA-Z_][a-zA-Z0-9_]*.
 * Returns 0, -EINVAL (then *ret_error is a static message and *ret_offset the byte where parsing failed, if
 * the pointers are not NULL), or -ENOMEM. Duplicate labels are an error. */
int series_id_parse(const char *s, size_t len, SeriesId *ret, const char **ret_error, size_t *ret_offset);
void series_id_done(SeriesId *id);

/* Whether a metric name marks a counter: the suffixes _total, _bucket, _count and _sum (histogram and
 * summary series are counters). */
bool series_name_is_counter(const char *metric);

/* Sort labels by name (insertion sort: label sets are small). */
void series_labels_sort(Label *labels, size_t n);

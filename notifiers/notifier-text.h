/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Text for chat messages: escaping untrusted strings (rule names, series labels, event messages — a
 * monitored service controls its own labels) for each chat dialect, truncating safely, and rendering the
 * numbers an SRE reads ("0.52 s, expected 0.15 s (0.11–0.19)").
 *
 * Lengths are counted in UTF-16 code units, the stricter of the ways chat services count characters
 * (Discord and Teams count UTF-16 units, Slack counts characters): a limit met in UTF-16 units is met in
 * code points too. Truncation happens while escaping, on the output side, so it never splits a UTF-8
 * sequence, an escape sequence ("&amp;", "\*") or a code span, and it ends with "…" inside the budget.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "strbuf.h"

typedef enum TextStyle {
        TEXT_PLAIN,         /* control characters become spaces, nothing else changes */
        TEXT_SLACK,         /* Slack mrkdwn: & < > as entities; @ mentions only exist inside <…> */
        TEXT_SLACK_CODE,    /* inside `code`: entities as above, backticks replaced */
        TEXT_MARKDOWN,      /* CommonMark (Mattermost): backslash escapes; "@x" defused with U+200B */
        TEXT_MARKDOWN_CODE, /* inside `code` (Mattermost, Discord): backticks replaced */
        TEXT_TEAMS,         /* Adaptive Card TextBlock markdown subset: backslash escapes, "{{" defused */
        TEXT_DISCORD,       /* Discord markdown: backslash escapes (mentions are off via allowed_mentions) */
        _TEXT_STYLE_MAX,
} TextStyle;

/* Number of UTF-16 code units in the UTF-8 string s (len bytes). Invalid bytes count one each. */
size_t text_units(const char *s, size_t len);
static inline size_t text_units_str(const char *s) {
        return text_units(s, strlen(s));
}

/* Append s escaped for style, using at most max_units UTF-16 units of output. When s does not fit it is
 * cut at a character (and escape) boundary and "…" is appended, still within max_units. Control
 * characters (C0, DEL, C1, U+2028/2029) become spaces, so untrusted text never starts a new Markdown line.
 * Returns the number of units appended (>= 0) or -ENOMEM. */
int text_append_escaped(StrBuf *b, const char *s, TextStyle style, size_t max_units);

/* A plain copy of s, truncated to max_units with "…" (UTF-8 safe). */
int text_truncate(const char *s, size_t max_units, char **ret);

/* Three significant digits, no exponent for everyday magnitudes, never a locale's decimal comma:
 * 0.52, 0.155, 12.3, 987, 123457, 1.2e-05. buf needs NUMBER_MAX bytes. */
#define NUMBER_MAX 32
const char *text_format_number(char *buf, size_t len, double v);

/* The unit of a series from Prometheus naming conventions (base units in the suffix of the metric name):
 * "..._seconds" -> "s", "..._bytes" -> "B", "..._percent" -> "%"; NULL otherwise, and for counters
 * ("_total"), whose evaluated value is a rate or a raw count depending on the rule's transform. */
const char *text_series_unit(const char *series);

/* From an event's attrs: "0.52 s, expected 0.15 s (0.11–0.19)". Uses the numbers value, expected, lower
 * and upper when present. The unit is attrs' "value_unit" (a short string) if given, else `unit` (may be
 * NULL); "B" is rendered human-readably for every number ("1.5 GiB, expected 512 MiB (400 MiB–600 MiB)").
 * Returns 0 and *ret = NULL when attrs has neither a numeric "value" nor "expected". */
int text_format_measurement(const json_t *attrs, const char *unit, char **ret);

/* "02:30:38" (UTC) from an RFC 3339 timestamp; the input itself if it does not parse. */
int text_format_clock(const char *rfc3339, char **ret);

/* "42s", "3m12s", "1h2m" from seconds (as in mttr_seconds). buf needs DURATION_MAX bytes. */
const char *text_format_seconds(char *buf, size_t len, double seconds);

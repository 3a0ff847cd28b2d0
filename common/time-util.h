/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Time as the rest of homeostat sees it: microseconds in a uint64_t (usec_t), durations in the rule
 * language ("250ms", "1h30m", "1w"), and RFC 3339 timestamps for humans and for replay input. All parsing
 * here is locale-free and never consults the time zone database or the clock, except now().
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

typedef uint64_t usec_t;

#define USEC_INFINITY ((usec_t) UINT64_MAX)
#define USEC_PER_MSEC ((usec_t) 1000ULL)
#define USEC_PER_SEC ((usec_t) 1000000ULL)
#define USEC_PER_MINUTE (60ULL * USEC_PER_SEC)
#define USEC_PER_HOUR (60ULL * USEC_PER_MINUTE)
#define USEC_PER_DAY (24ULL * USEC_PER_HOUR)
#define USEC_PER_WEEK (7ULL * USEC_PER_DAY)
#define NSEC_PER_USEC ((uint64_t) 1000ULL)

usec_t now(clockid_t clock);

/* Parse a duration such as "250ms", "30s", "5m", "1h30m", "1d", "1w" (units ms s m h d w, whole numbers,
 * descending combinations). "0" alone is accepted as zero. Returns 0, -EINVAL on a syntax error, -ERANGE on
 * overflow. On error *ret_err_offset (if not NULL) is the byte offset of the offending character. */
int parse_duration(const char *s, usec_t *ret, size_t *ret_err_offset);

/* Format a duration compactly ("1h30m", "250ms", "0s"). buf should be at least DURATION_MAX bytes. */
#define DURATION_MAX 64
const char *format_duration(char *buf, size_t len, usec_t d);

/* Days since 1970-01-01 of a proleptic Gregorian civil date (valid for years 0..9999). */
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
void civil_from_days(int64_t z, int64_t *ret_y, unsigned *ret_m, unsigned *ret_d);

/* Parse an absolute timestamp: epoch seconds ("1700000000", "1700000000.25"), RFC 3339
 * ("2024-05-01T12:00:00Z", "2024-05-01T12:00:00.5+02:00") or "YYYY-MM-DD HH:MM:SS[.frac]" (UTC).
 * The whole string [s, s+len) must be consumed. Result in seconds since the epoch (UTC), as a double so
 * that sub-second input survives. Returns 0 or -EINVAL. */
int parse_timestamp(const char *s, size_t len, double *ret);

/* Format t (microseconds since the epoch, UTC) as RFC 3339 with millisecond precision and a Z suffix:
 * "2026-11-28T02:30:38.123Z". buf needs at least TIMESTAMP_MAX bytes. */
#define TIMESTAMP_MAX 40
const char *format_timestamp(char *buf, size_t len, usec_t t);

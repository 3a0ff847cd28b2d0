/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Time zones without the C library's global state: a TZif file (RFC 8536, versions 1 to 4) is parsed into a
 * table of UTC-offset transitions, plus the POSIX TZ rule from the v2+ footer for instants after the last
 * transition (so a zone keeps switching DST in 2040 even though the table stops in 2037). Nothing here
 * reads the TZ variable, calls localtime() or tzset(); tz_parse() is a pure function of the bytes, and
 * tz_load() reads one file from the zoneinfo directory.
 *
 * The evaluator uses this to compute seasonal phase in a rule's time zone: local_t = t + offset(t).
 * tz_offset() also returns the interval over which that offset holds, so a caller can cache it and look
 * up again only when a sample leaves the interval.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

typedef struct TzInfo TzInfo;

#define TZ_ZONEINFO_DIR "/usr/share/zoneinfo"

/* Parse TZif bytes. -EBADMSG if they are not a valid TZif file (bad magic, truncated, counts or indices
 * out of range, unsorted transitions, a bad footer), -ENOMEM. */
int tz_parse(const void *data, size_t size, TzInfo **ret);

/* A zone with a constant offset (UTC is offset 0). */
int tz_new_fixed(int32_t utc_offset, TzInfo **ret);

/* Load zone NAME ("Europe/Berlin") from dir (NULL: TZ_ZONEINFO_DIR). "UTC", "Etc/UTC" and "Z" need no file.
 * -EINVAL for a name that is not a plain relative path (empty, absolute, "..", odd characters), -ENOENT
 * if there is no such zone, -EBADMSG if the file is not TZif, -EFBIG if it is implausibly large. */
int tz_load(const char *dir, const char *name, TzInfo **ret);

TzInfo *tz_free(TzInfo *tz);
DEFINE_TRIVIAL_CLEANUP_FUNC(TzInfo *, tz_free);

/* The offset from UTC (seconds east, e.g. 3600 for CET) in effect at instant t (seconds since the epoch).
 * If not NULL, [*ret_from, *ret_until) is an interval around t over which this offset is constant
 * (INT64_MIN / INT64_MAX at the open ends). */
int32_t tz_offset(const TzInfo *tz, int64_t t, int64_t *ret_from, int64_t *ret_until);

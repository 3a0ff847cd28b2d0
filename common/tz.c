/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * TZif parsing and UTC-offset lookup; see tz.h. The format (RFC 8536): a 44-byte header with six counts, a
 * version-1 data block with 32-bit transition times, and for version 2 and later a second header and data
 * block with 64-bit times followed by a footer "\n<POSIX TZ string>\n" that extends the table into the
 * future. We keep only what offset lookup needs: transition instants and the UTC offset that starts at
 * each, the offset before the first transition (time type 0), and the footer rule. Leap-second records
 * ("right/" zones) are skipped: their corrections are a few seconds and seasonal phase does not care.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "time-util.h"
#include "tz.h"
#include "util.h"

#define TZ_FILE_MAX (1024 * 1024)
#define UTOFF_MIN (-89999)
#define UTOFF_MAX 93599

typedef struct TzRuleDate {
        char kind; /* 'J': Jn (1..365, Feb 29 never counted), 'D': n (0..365), 'M': Mm.w.d */
        int m, w, d;
        int32_t time; /* seconds after local midnight, may be negative or beyond 24h (version 3) */
} TzRuleDate;

typedef struct TzRule {
        bool has_dst;
        int32_t std_off, dst_off; /* seconds east of UTC */
        TzRuleDate start, end;
} TzRule;

struct TzInfo {
        int64_t *times;   /* ascending transition instants */
        int32_t *offsets; /* offset in effect from times[i] on */
        size_t n;
        int32_t initial_offset; /* before times[0] (or always, if n == 0 and no rule) */
        bool has_rule;
        TzRule rule;
};

static uint32_t be32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p) {
        return (uint64_t) be32(p) << 32 | be32(p + 4);
}

TzInfo *tz_free(TzInfo *tz) {
        if (!tz)
                return NULL;
        free(tz->times);
        free(tz->offsets);
        free(tz);
        return NULL;
}

int tz_new_fixed(int32_t utc_offset, TzInfo **ret) {
        TzInfo *tz = calloc(1, sizeof(*tz));
        if (!tz)
                return -ENOMEM;
        tz->initial_offset = utc_offset;
        *ret = tz;
        return 0;
}

/* ---- POSIX TZ strings (the footer) ---- */

static bool parse_name(const char **p) {
        const char *s = *p;
        if (*s == '<') {
                s++;
                const char *start = s;
                while (*s && *s != '>') {
                        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
                              (*s >= '0' && *s <= '9') || *s == '+' || *s == '-'))
                                return false;
                        s++;
                }
                if (*s != '>' || s - start < 3)
                        return false;
                *p = s + 1;
                return true;
        }
        const char *start = s;
        while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'))
                s++;
        if (s - start < 3)
                return false;
        *p = s;
        return true;
}

/* [+-]hh[:mm[:ss]] with hh up to max_hours; the result keeps the written sign. */
static bool parse_hms(const char **p, int max_hours, int32_t *ret) {
        const char *s = *p;
        int sign = 1;
        long h = 0, m = 0, sec = 0;

        if (*s == '+' || *s == '-') {
                sign = *s == '-' ? -1 : 1;
                s++;
        }
        if (*s < '0' || *s > '9')
                return false;
        for (int i = 0; *s >= '0' && *s <= '9'; i++, s++) {
                if (i >= 3)
                        return false;
                h = h * 10 + (*s - '0');
        }
        if (h > max_hours)
                return false;
        if (*s == ':') {
                s++;
                if (s[0] < '0' || s[0] > '5' || s[1] < '0' || s[1] > '9')
                        return false;
                m = (s[0] - '0') * 10 + (s[1] - '0');
                s += 2;
                if (*s == ':') {
                        s++;
                        if (s[0] < '0' || s[0] > '5' || s[1] < '0' || s[1] > '9')
                                return false;
                        sec = (s[0] - '0') * 10 + (s[1] - '0');
                        s += 2;
                }
        }
        *ret = (int32_t) (sign * (h * 3600 + m * 60 + sec));
        *p = s;
        return true;
}

static bool parse_uint(const char **p, int lo, int hi, int *ret) {
        const char *s = *p;
        long v = 0;
        if (*s < '0' || *s > '9')
                return false;
        for (int i = 0; *s >= '0' && *s <= '9'; i++, s++) {
                if (i >= 4)
                        return false;
                v = v * 10 + (*s - '0');
        }
        if (v < lo || v > hi)
                return false;
        *ret = (int) v;
        *p = s;
        return true;
}

static bool parse_rule_date(const char **p, TzRuleDate *ret) {
        const char *s = *p;
        TzRuleDate d = { .time = 2 * 3600 };

        if (*s == 'J') {
                s++;
                d.kind = 'J';
                if (!parse_uint(&s, 1, 365, &d.d))
                        return false;
        } else if (*s == 'M') {
                s++;
                d.kind = 'M';
                if (!parse_uint(&s, 1, 12, &d.m) || *s++ != '.' || !parse_uint(&s, 1, 5, &d.w) ||
                    *s++ != '.' || !parse_uint(&s, 0, 6, &d.d))
                        return false;
        } else {
                d.kind = 'D';
                if (!parse_uint(&s, 0, 365, &d.d))
                        return false;
        }
        if (*s == '/') {
                s++;
                if (!parse_hms(&s, 167, &d.time))
                        return false;
        }
        *ret = d;
        *p = s;
        return true;
}

/* Parse a POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3" or "<+0330>-3:30". POSIX offsets count
 * hours west of Greenwich; we store seconds east. */
static int parse_posix_tz(const char *s, TzRule *ret) {
        TzRule r = {};
        int32_t off;

        if (!parse_name(&s) || !parse_hms(&s, 24, &off))
                return -EBADMSG;
        r.std_off = -off;
        r.dst_off = r.std_off + 3600;
        if (*s == 0) {
                *ret = r;
                return 0;
        }
        if (!parse_name(&s))
                return -EBADMSG;
        r.has_dst = true;
        if (*s && *s != ',') {
                if (!parse_hms(&s, 24, &off))
                        return -EBADMSG;
                r.dst_off = -off;
        }
        if (*s == 0) {
                /* No rule given: the customary US rule, as the C library assumes. */
                r.start = (TzRuleDate){ .kind = 'M', .m = 3, .w = 2, .d = 0, .time = 7200 };
                r.end = (TzRuleDate){ .kind = 'M', .m = 11, .w = 1, .d = 0, .time = 7200 };
        } else {
                if (*s++ != ',' || !parse_rule_date(&s, &r.start) || *s++ != ',' ||
                    !parse_rule_date(&s, &r.end) || *s != 0)
                        return -EBADMSG;
        }
        if (r.std_off < UTOFF_MIN || r.std_off > UTOFF_MAX || r.dst_off < UTOFF_MIN || r.dst_off > UTOFF_MAX)
                return -EBADMSG;
        *ret = r;
        return 0;
}

static bool is_leap(int64_t y) {
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Local seconds since the epoch at which a rule date falls in year y (local wall clock). */
static int64_t rule_date_local(const TzRuleDate *d, int64_t y) {
        int64_t jan1 = days_from_civil(y, 1, 1), day;

        switch (d->kind) {
        case 'J':
                day = jan1 + d->d - 1 + (is_leap(y) && d->d >= 60);
                break;
        case 'D':
                day = jan1 + d->d;
                break;
        default: {
                static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
                int64_t first = days_from_civil(y, (unsigned) d->m, 1);
                int wd = (int) (((first + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
                int dom = 1 + (d->d - wd + 7) % 7 + 7 * (d->w - 1);
                int len = mdays[d->m - 1] + (d->m == 2 && is_leap(y));
                while (dom > len)
                        dom -= 7;
                day = first + dom - 1;
                break;
        }
        }
        return day * 86400 + d->time;
}

static int32_t rule_offset(const TzRule *r, int64_t t, int64_t *ret_from, int64_t *ret_until) {
        if (!r->has_dst) {
                *ret_from = INT64_MIN;
                *ret_until = INT64_MAX;
                return r->std_off;
        }

        int64_t y, days = (t + r->std_off) / 86400 - ((t + r->std_off) % 86400 < 0);
        unsigned mo, d;
        civil_from_days(days, &y, &mo, &d);

        /* Transitions of the neighbouring years, in order: (instant, offset from then on). */
        int64_t at[6];
        int32_t off[6];
        size_t n = 0;
        for (int64_t yy = y - 1; yy <= y + 1; yy++) {
                int64_t s = rule_date_local(&r->start, yy) - r->std_off;
                int64_t e = rule_date_local(&r->end, yy) - r->dst_off;
                if (s <= e) {
                        at[n] = s, off[n++] = r->dst_off;
                        at[n] = e, off[n++] = r->std_off;
                } else {
                        at[n] = e, off[n++] = r->std_off;
                        at[n] = s, off[n++] = r->dst_off;
                }
        }
        /* t lies after at[0] (a year before) and before at[5] (a year after). */
        size_t i = 0;
        while (i + 1 < n && at[i + 1] <= t)
                i++;
        *ret_from = at[i];
        *ret_until = i + 1 < n ? at[i + 1] : INT64_MAX;
        return off[i];
}

int32_t tz_offset(const TzInfo *tz, int64_t t, int64_t *ret_from, int64_t *ret_until) {
        int64_t from = INT64_MIN, until = INT64_MAX;
        int32_t o;

        if (tz->n == 0 || t < tz->times[0]) {
                if (tz->n > 0)
                        until = tz->times[0];
                if (tz->n == 0 && tz->has_rule)
                        o = rule_offset(&tz->rule, t, &from, &until);
                else
                        o = tz->initial_offset;
        } else {
                size_t lo = 0, hi = tz->n; /* times[lo] <= t < times[hi] (hi == n: beyond) */
                while (hi - lo > 1) {
                        size_t mid = lo + (hi - lo) / 2;
                        if (tz->times[mid] <= t)
                                lo = mid;
                        else
                                hi = mid;
                }
                from = tz->times[lo];
                if (hi < tz->n) {
                        until = tz->times[hi];
                        o = tz->offsets[lo];
                } else if (tz->has_rule) {
                        int64_t rf, ru;
                        o = rule_offset(&tz->rule, t, &rf, &ru);
                        from = MAX(from, rf);
                        until = ru;
                } else
                        o = tz->offsets[lo];
        }
        if (ret_from)
                *ret_from = from;
        if (ret_until)
                *ret_until = until;
        return o;
}

/* ---- TZif ---- */

typedef struct TzHeader {
        char version;
        uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} TzHeader;

static int read_header(const uint8_t *p, size_t size, TzHeader *ret) {
        if (size < 44 || memcmp(p, "TZif", 4) != 0)
                return -EBADMSG;
        if (p[4] != 0 && (p[4] < '2' || p[4] > '4'))
                return -EBADMSG;
        *ret = (TzHeader){
                .version = (char) p[4],
                .isutcnt = be32(p + 20),
                .isstdcnt = be32(p + 24),
                .leapcnt = be32(p + 28),
                .timecnt = be32(p + 32),
                .typecnt = be32(p + 36),
                .charcnt = be32(p + 40),
        };
        if (ret->typecnt == 0 || ret->charcnt == 0 || (ret->isutcnt != 0 && ret->isutcnt != ret->typecnt) ||
            (ret->isstdcnt != 0 && ret->isstdcnt != ret->typecnt) || ret->typecnt > 256)
                return -EBADMSG;
        return 0;
}

static uint64_t block_size(const TzHeader *h, unsigned time_size) {
        return (uint64_t) h->timecnt * time_size + h->timecnt + (uint64_t) h->typecnt * 6 + h->charcnt +
                (uint64_t) h->leapcnt * (time_size + 4) + h->isstdcnt + h->isutcnt;
}

/* Decode one data block (32- or 64-bit times) into tz. */
static int read_block(const uint8_t *p, const TzHeader *h, unsigned time_size, TzInfo *tz) {
        const uint8_t *times = p, *idx = p + (size_t) h->timecnt * time_size, *types = idx + h->timecnt;
        int32_t utoff[256];

        for (uint32_t i = 0; i < h->typecnt; i++) {
                int32_t o = (int32_t) be32(types + 6 * i);
                uint8_t isdst = types[6 * i + 4], desig = types[6 * i + 5];
                if (o < UTOFF_MIN || o > UTOFF_MAX || isdst > 1 || desig >= h->charcnt)
                        return -EBADMSG;
                utoff[i] = o;
        }
        tz->initial_offset = utoff[0];
        if (h->timecnt == 0)
                return 0;

        tz->times = malloc(sizeof(int64_t) * h->timecnt);
        tz->offsets = malloc(sizeof(int32_t) * h->timecnt);
        if (!tz->times || !tz->offsets)
                return -ENOMEM;
        for (uint32_t i = 0; i < h->timecnt; i++) {
                int64_t t = time_size == 8 ? (int64_t) be64(times + 8 * i)
                                           : (int64_t) (int32_t) be32(times + 4 * i);
                if (i > 0 && t <= tz->times[i - 1])
                        return -EBADMSG;
                if (idx[i] >= h->typecnt)
                        return -EBADMSG;
                tz->times[i] = t;
                tz->offsets[i] = utoff[idx[i]];
        }
        tz->n = h->timecnt;
        return 0;
}

int tz_parse(const void *data, size_t size, TzInfo **ret) {
        const uint8_t *p = data;
        TzHeader h;
        int r;

        r = read_header(p, size, &h);
        if (r < 0)
                return r;
        uint64_t need = 44 + block_size(&h, 4);
        if (need > size)
                return -EBADMSG;

        _cleanup_(tz_freep) TzInfo *tz = calloc(1, sizeof(*tz));
        if (!tz)
                return -ENOMEM;

        if (h.version == 0) {
                r = read_block(p + 44, &h, 4, tz);
                if (r < 0)
                        return r;
                *ret = TAKE_PTR(tz);
                return 0;
        }

        /* Version 2+: skip the 32-bit block, read the second header and the 64-bit block, then the footer. */
        const uint8_t *p2 = p + need;
        size_t left = size - (size_t) need;
        TzHeader h2;
        r = read_header(p2, left, &h2);
        if (r < 0)
                return r;
        uint64_t need2 = 44 + block_size(&h2, 8);
        if (need2 > left)
                return -EBADMSG;
        r = read_block(p2 + 44, &h2, 8, tz);
        if (r < 0)
                return r;

        const char *f = (const char *) p2 + need2, *end = (const char *) p + size;
        if (f >= end || *f != '\n')
                return -EBADMSG;
        f++;
        const char *nl = memchr(f, '\n', (size_t) (end - f));
        if (!nl || nl - f > 255)
                return -EBADMSG;
        if (nl > f) {
                char buf[256];
                memcpy(buf, f, (size_t) (nl - f));
                buf[nl - f] = 0;
                if (memchr(buf, 0, (size_t) (nl - f)))
                        return -EBADMSG;
                r = parse_posix_tz(buf, &tz->rule);
                if (r < 0)
                        return r;
                tz->has_rule = true;
        }
        *ret = TAKE_PTR(tz);
        return 0;
}

static bool zone_name_is_valid(const char *name) {
        size_t len = strlen(name);
        if (len == 0 || len > 255 || name[0] == '/')
                return false;
        const char *comp = name;
        for (const char *s = name;; s++) {
                if (*s == '/' || *s == 0) {
                        size_t l = (size_t) (s - comp);
                        if (l == 0 || (l == 1 && comp[0] == '.') ||
                            (l == 2 && comp[0] == '.' && comp[1] == '.'))
                                return false;
                        if (*s == 0)
                                return true;
                        comp = s + 1;
                        continue;
                }
                if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
                      *s == '_' || *s == '-' || *s == '+' || *s == '.'))
                        return false;
        }
}

int tz_load(const char *dir, const char *name, TzInfo **ret) {
        if (!name || !zone_name_is_valid(name))
                return -EINVAL;
        if (streq(name, "UTC") || streq(name, "Etc/UTC") || streq(name, "Z"))
                return tz_new_fixed(0, ret);

        _cleanup_free_ char *path = NULL, *data = NULL;
        size_t size;
        if (asprintf(&path, "%s/%s", dir ?: TZ_ZONEINFO_DIR, name) < 0)
                return -ENOMEM;
        int r = read_full_file(path, TZ_FILE_MAX, &data, &size);
        if (r == -EISDIR)
                return -ENOENT;
        if (r < 0)
                return r;
        return tz_parse(data, size, ret);
}

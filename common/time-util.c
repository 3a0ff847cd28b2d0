/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Duration and timestamp parsing/formatting. Civil-date arithmetic follows Howard Hinnant's public
 * days_from_civil algorithm, so nothing depends on TZ, locale or timegm().
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "time-util.h"

usec_t now(clockid_t clock) {
        struct timespec ts;

        if (clock_gettime(clock, &ts) < 0)
                return 0;
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / NSEC_PER_USEC;
}

static const struct {
        const char *suffix;
        usec_t usec;
} duration_units[] = {
        /* longest suffix first where one is a prefix of another ("ms" before "m") */
        { "ms", USEC_PER_MSEC }, { "s", USEC_PER_SEC }, { "m", USEC_PER_MINUTE },
        { "h", USEC_PER_HOUR },  { "d", USEC_PER_DAY }, { "w", USEC_PER_WEEK },
};

int parse_duration(const char *s, usec_t *ret, size_t *ret_err_offset) {
        const char *p = s;
        usec_t total = 0;
        int last_unit = -1;

        if (!s || !*s)
                goto invalid;

        if (streq(s, "0")) {
                *ret = 0;
                return 0;
        }

        while (*p) {
                uint64_t n = 0;
                const char *digits = p;
                int unit = -1;

                while (*p >= '0' && *p <= '9') {
                        if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, (uint64_t) (*p - '0'), &n))
                                goto range;
                        p++;
                }
                if (p == digits)
                        goto invalid;

                for (size_t i = 0; i < ELEMENTSOF(duration_units); i++)
                        if (startswith(p, duration_units[i].suffix)) {
                                unit = (int) i;
                                break;
                        }
                if (unit < 0)
                        goto invalid;
                /* Units must descend strictly: "1h30m" yes, "30m1h" or "1h1h" no. "ms" sorts first in the
                 * table but is the smallest unit, so compare by size. */
                if (last_unit >= 0 && duration_units[unit].usec >= duration_units[last_unit].usec)
                        goto invalid;
                last_unit = unit;

                usec_t part;
                if (__builtin_mul_overflow(n, duration_units[unit].usec, &part) ||
                    __builtin_add_overflow(total, part, &total) || total == USEC_INFINITY)
                        goto range;
                p += strlen(duration_units[unit].suffix);
        }

        *ret = total;
        return 0;

invalid:
        if (ret_err_offset)
                *ret_err_offset = s ? (size_t) (p - s) : 0;
        return -EINVAL;
range:
        if (ret_err_offset)
                *ret_err_offset = 0;
        return -ERANGE;
}

const char *format_duration(char *buf, size_t len, usec_t d) {
        static const struct {
                const char *suffix;
                usec_t usec;
        } units[] = {
                { "w", USEC_PER_WEEK }, { "d", USEC_PER_DAY }, { "h", USEC_PER_HOUR },
                { "m", USEC_PER_MINUTE }, { "s", USEC_PER_SEC }, { "ms", USEC_PER_MSEC },
        };
        size_t off = 0;

        if (len == 0)
                return buf;
        buf[0] = 0;
        if (d == USEC_INFINITY) {
                snprintf(buf, len, "infinity");
                return buf;
        }
        if (d == 0) {
                snprintf(buf, len, "0s");
                return buf;
        }
        for (size_t i = 0; i < ELEMENTSOF(units) && d > 0; i++) {
                usec_t n = d / units[i].usec;
                if (n == 0)
                        continue;
                int k = snprintf(buf + off, len - off, "%llu%s", (unsigned long long) n, units[i].suffix);
                if (k < 0 || (size_t) k >= len - off)
                        return buf;
                off += (size_t) k;
                d -= n * units[i].usec;
        }
        if (d > 0)
                snprintf(buf + off, len - off, "%lluus", (unsigned long long) d);
        return buf;
}

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
        y -= m <= 2;
        const int64_t era = (y >= 0 ? y : y - 399) / 400;
        const unsigned yoe = (unsigned) (y - era * 400);
        const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t) doe - 719468;
}

void civil_from_days(int64_t z, int64_t *ret_y, unsigned *ret_m, unsigned *ret_d) {
        z += 719468;
        const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        const unsigned doe = (unsigned) (z - era * 146097);
        const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        const int64_t y = (int64_t) yoe + era * 400;
        const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        const unsigned mp = (5 * doy + 2) / 153;
        const unsigned d = doy - (153 * mp + 2) / 5 + 1;
        const unsigned m = mp < 10 ? mp + 3 : mp - 9;
        *ret_y = y + (m <= 2);
        *ret_m = m;
        *ret_d = d;
}

static bool read_digits(const char **p, const char *end, unsigned n, unsigned *ret) {
        unsigned v = 0;
        if ((size_t) (end - *p) < n)
                return false;
        for (unsigned i = 0; i < n; i++) {
                char c = (*p)[i];
                if (c < '0' || c > '9')
                        return false;
                v = v * 10 + (unsigned) (c - '0');
        }
        *p += n;
        *ret = v;
        return true;
}

static bool is_leap(int64_t y) {
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int parse_epoch(const char *s, const char *end, double *ret) {
        const char *p = s;
        double v = 0, scale = 0.1;
        bool any = false;

        while (p < end && *p >= '0' && *p <= '9') {
                v = v * 10 + (*p - '0');
                p++;
                any = true;
        }
        if (p < end && *p == '.') {
                p++;
                while (p < end && *p >= '0' && *p <= '9') {
                        v += (*p - '0') * scale;
                        scale /= 10;
                        p++;
                        any = true;
                }
        }
        if (!any || p != end || v > 253402300799.0) /* 9999-12-31T23:59:59Z */
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_timestamp(const char *s, size_t len, double *ret) {
        const char *p = s, *end = s + len;
        unsigned y, mo, d, h, mi, sec;
        double frac = 0;
        int64_t offset = 0;

        if (len == 0)
                return -EINVAL;
        /* Epoch seconds: all digits (and maybe one dot), shorter than a date would be. */
        if (len < 10 || memchr(s, '-', len) == NULL)
                return parse_epoch(s, end, ret);

        if (!read_digits(&p, end, 4, &y) || p >= end || *p++ != '-' || !read_digits(&p, end, 2, &mo) ||
            p >= end || *p++ != '-' || !read_digits(&p, end, 2, &d))
                return -EINVAL;
        if (p >= end || (*p != 'T' && *p != 't' && *p != ' '))
                return -EINVAL;
        p++;
        if (!read_digits(&p, end, 2, &h) || p >= end || *p++ != ':' || !read_digits(&p, end, 2, &mi) ||
            p >= end || *p++ != ':' || !read_digits(&p, end, 2, &sec))
                return -EINVAL;
        if (p < end && *p == '.') {
                double scale = 0.1;
                p++;
                if (p >= end || *p < '0' || *p > '9')
                        return -EINVAL;
                while (p < end && *p >= '0' && *p <= '9') {
                        frac += (*p - '0') * scale;
                        scale /= 10;
                        p++;
                }
        }
        if (p < end) {
                if (*p == 'Z' || *p == 'z') {
                        p++;
                } else if (*p == '+' || *p == '-') {
                        unsigned oh, om;
                        int sign = *p == '-' ? -1 : 1;
                        p++;
                        if (!read_digits(&p, end, 2, &oh) || p >= end || *p++ != ':' ||
                            !read_digits(&p, end, 2, &om) || oh > 23 || om > 59)
                                return -EINVAL;
                        offset = sign * (int64_t) (oh * 3600 + om * 60);
                } else
                        return -EINVAL;
        }
        if (p != end)
                return -EINVAL;

        static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && is_leap(y)) || h > 23 || mi > 59 ||
            sec > 60)
                return -EINVAL;

        int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
        *ret = (double) t + frac;
        return 0;
}

const char *format_timestamp(char *buf, size_t len, usec_t t) {
        int64_t secs = (int64_t) (t / USEC_PER_SEC);
        unsigned ms = (unsigned) ((t % USEC_PER_SEC) / USEC_PER_MSEC);
        int64_t days = secs / 86400, rem = secs % 86400, y;
        unsigned m, d;

        civil_from_days(days, &y, &m, &d);
        snprintf(buf, len, "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ", (long long) y, m, d, (unsigned) (rem / 3600),
                 (unsigned) (rem % 3600 / 60), (unsigned) (rem % 60), ms);
        return buf;
}

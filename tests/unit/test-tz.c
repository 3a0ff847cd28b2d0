/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Tests for common/tz.c: UTC offsets from the system's TZif files agree with glibc's localtime_r() (the
 * oracle, used only here) from 1901 to 2200, which exercises both the transition table and the POSIX rule of
 * the footer, in both hemispheres and with half-hour zones; hand-built version 1 and version 2 files; the
 * validity intervals; and rejection of corrupt input and unsafe names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tz.h"

static bool have_zoneinfo(const char *name) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", TZ_ZONEINFO_DIR, name);
        return access(path, R_OK) == 0;
}

static int32_t glibc_offset(const char *name, int64_t t) {
        char tzv[128];
        struct tm tm;
        time_t tt = (time_t) t;
        snprintf(tzv, sizeof(tzv), ":%s", name);
        setenv("TZ", tzv, 1);
        tzset();
        assert_non_null(localtime_r(&tt, &tm));
        return (int32_t) tm.tm_gmtoff;
}

static void test_against_glibc(void **state) {
        static const char *const zones[] = {
                "Europe/Berlin",    "America/New_York", "Australia/Sydney", "Asia/Kolkata",
                "America/St_Johns", "Europe/London",    "Pacific/Chatham",  "America/Sao_Paulo",
        };
        size_t tested = 0;
        for (size_t z = 0; z < ELEMENTSOF(zones); z++) {
                if (!have_zoneinfo(zones[z]))
                        continue;
                _cleanup_(tz_freep) TzInfo *tz = NULL;
                assert_int_equal(tz_load(NULL, zones[z], &tz), 0);
                /* Every 6 hours over 300 years, plus around each hour boundary of two DST seasons. */
                for (int64_t t = -2145916800; t < 7258118400; t += 6 * 3600 + 37) {
                        int64_t from, until;
                        int32_t o = tz_offset(tz, t, &from, &until);
                        if (o != glibc_offset(zones[z], t))
                                fail_msg(
                                        "%s at %lld: %d, glibc %d",
                                        zones[z],
                                        (long long) t,
                                        o,
                                        glibc_offset(zones[z], t));
                        assert_true(from <= t && t < until);
                        /* the offset is constant over the reported interval (check its ends) */
                        if (from > INT64_MIN / 2)
                                assert_int_equal(tz_offset(tz, from, NULL, NULL), o);
                        if (until < INT64_MAX / 2)
                                assert_int_equal(tz_offset(tz, until - 1, NULL, NULL), o);
                }
                for (int64_t t = 1711846800 - 86400; t < 1711846800 + 86400; t += 900)
                        assert_int_equal(tz_offset(tz, t, NULL, NULL), glibc_offset(zones[z], t));
                for (int64_t t = 4102444800 + 80 * 86400; t < 4102444800 + 320 * 86400; t += 1800)
                        assert_int_equal(tz_offset(tz, t, NULL, NULL), glibc_offset(zones[z], t));
                tested++;
        }
        unsetenv("TZ");
        if (tested == 0)
                skip();
}

static void test_utc_and_fixed(void **state) {
        _cleanup_(tz_freep) TzInfo *utc = NULL, *fixed = NULL;
        int64_t from, until;
        assert_int_equal(tz_load("/nonexistent", "UTC", &utc), 0);
        assert_int_equal(tz_offset(utc, 1700000000, &from, &until), 0);
        assert_true(from == INT64_MIN && until == INT64_MAX);
        assert_int_equal(tz_new_fixed(19800, &fixed), 0);
        assert_int_equal(tz_offset(fixed, -5, NULL, NULL), 19800);
}

static void test_names(void **state) {
        TzInfo *tz = NULL;
        assert_int_equal(tz_load(NULL, "", &tz), -EINVAL);
        assert_int_equal(tz_load(NULL, "/etc/passwd", &tz), -EINVAL);
        assert_int_equal(tz_load(NULL, "../etc/passwd", &tz), -EINVAL);
        assert_int_equal(tz_load(NULL, "Europe/../../etc/passwd", &tz), -EINVAL);
        assert_int_equal(tz_load(NULL, "Europe//Berlin", &tz), -EINVAL);
        assert_int_equal(tz_load(NULL, "Europe/Ber lin", &tz), -EINVAL);
        assert_int_equal(tz_load(NULL, "Mars/Olympus_Mons", &tz), -ENOENT);
        if (have_zoneinfo("Europe"))
                assert_int_equal(tz_load(NULL, "Europe", &tz), -ENOENT); /* a directory */
        assert_null(tz);
}

/* ---- hand-built files ---- */

typedef struct Buf {
        uint8_t d[4096];
        size_t n;
} Buf;

static void put(Buf *b, const void *p, size_t n) {
        assert_true(b->n + n <= sizeof(b->d));
        memcpy(b->d + b->n, p, n);
        b->n += n;
}

static void put32(Buf *b, uint32_t v) {
        uint8_t o[4] = { (uint8_t) (v >> 24), (uint8_t) (v >> 16), (uint8_t) (v >> 8), (uint8_t) v };
        put(b, o, 4);
}

static void put64(Buf *b, uint64_t v) {
        put32(b, (uint32_t) (v >> 32));
        put32(b, (uint32_t) v);
}

static void header(Buf *b, char version, uint32_t timecnt, uint32_t typecnt, uint32_t charcnt) {
        put(b, "TZif", 4);
        put(b, &version, 1);
        uint8_t zero[15] = {};
        put(b, zero, 15);
        put32(b, 0); /* isutcnt */
        put32(b, 0); /* isstdcnt */
        put32(b, 0); /* leapcnt */
        put32(b, timecnt);
        put32(b, typecnt);
        put32(b, charcnt);
}

/* Two types: +1h ("AAA"), +2h ("BBB"); transitions at 1000 (to B) and 2000 (back to A). */
static void body(Buf *b, bool wide) {
        if (wide) {
                put64(b, 1000);
                put64(b, 2000);
        } else {
                put32(b, 1000);
                put32(b, 2000);
        }
        uint8_t idx[2] = { 1, 0 };
        put(b, idx, 2);
        put32(b, 3600);
        uint8_t a[2] = { 0, 0 };
        put(b, a, 2);
        put32(b, 7200);
        uint8_t c[2] = { 1, 4 };
        put(b, c, 2);
        put(b, "AAA\0BBB\0", 8);
}

static void test_v1_file(void **state) {
        Buf b = {};
        header(&b, 0, 2, 2, 8);
        body(&b, false);
        _cleanup_(tz_freep) TzInfo *tz = NULL;
        assert_int_equal(tz_parse(b.d, b.n, &tz), 0);
        int64_t from, until;
        assert_int_equal(tz_offset(tz, 999, &from, &until), 3600); /* type 0 before the first transition */
        assert_true(from == INT64_MIN && until == 1000);
        assert_int_equal(tz_offset(tz, 1000, &from, &until), 7200);
        assert_true(from == 1000 && until == 2000);
        assert_int_equal(tz_offset(tz, 5000, &from, &until), 3600);
        assert_true(from == 2000 && until == INT64_MAX);

        /* truncation anywhere is an error */
        for (size_t n = 0; n < b.n; n++) {
                TzInfo *t = NULL;
                assert_int_equal(tz_parse(b.d, n, &t), -EBADMSG);
        }
        /* bad magic, a type index out of range, unsorted times */
        Buf c = b;
        c.d[0] = 'X';
        TzInfo *t = NULL;
        assert_int_equal(tz_parse(c.d, c.n, &t), -EBADMSG);
        c = b;
        c.d[44 + 8] = 7;
        assert_int_equal(tz_parse(c.d, c.n, &t), -EBADMSG);
        c = b;
        memcpy(c.d + 44 + 4, "\0\0\0\0", 4);
        assert_int_equal(tz_parse(c.d, c.n, &t), -EBADMSG);
}

static void test_v2_file_with_rule(void **state) {
        Buf b = {};
        header(&b, '2', 2, 2, 8);
        body(&b, false);
        header(&b, '2', 2, 2, 8);
        body(&b, true);
        /* after the table: central European rules */
        const char *footer = "\nCET-1CEST,M3.5.0,M10.5.0/3\n";
        put(&b, footer, strlen(footer));
        _cleanup_(tz_freep) TzInfo *tz = NULL;
        assert_int_equal(tz_parse(b.d, b.n, &tz), 0);
        assert_int_equal(tz_offset(tz, 1500, NULL, NULL), 7200);
        /* 2030-01-15 12:00 UTC: CET; 2030-07-15: CEST; the 2030 switches: 2030-03-31 01:00 UTC and
         * 2030-10-27 01:00 UTC */
        assert_int_equal(tz_offset(tz, 1894708800, NULL, NULL), 3600);
        assert_int_equal(tz_offset(tz, 1910347200, NULL, NULL), 7200);
        int64_t from, until;
        assert_int_equal(tz_offset(tz, 1901149200, &from, &until), 7200);
        assert_int_equal(from, 1901149200);
        assert_int_equal(until, 1919293200);
        assert_int_equal(tz_offset(tz, 1901149199, NULL, NULL), 3600);
        assert_int_equal(tz_offset(tz, 1919293199, NULL, NULL), 7200);
        assert_int_equal(tz_offset(tz, 1919293200, NULL, NULL), 3600);

        /* a southern rule (Sydney): DST from October to April */
        Buf s = {};
        header(&s, '3', 0, 1, 4);
        put32(&s, 36000);
        uint8_t a[2] = { 0, 0 };
        put(&s, a, 2);
        put(&s, "AES\0", 4);
        header(&s, '3', 0, 1, 4);
        put32(&s, 36000);
        put(&s, a, 2);
        put(&s, "AES\0", 4);
        const char *syd = "\nAEST-10AEDT,M10.1.0,M4.1.0/3\n";
        put(&s, syd, strlen(syd));
        _cleanup_(tz_freep) TzInfo *tz2 = NULL;
        assert_int_equal(tz_parse(s.d, s.n, &tz2), 0);
        assert_int_equal(tz_offset(tz2, 1894708800, NULL, NULL), 39600); /* January: summer */
        assert_int_equal(tz_offset(tz2, 1910347200, NULL, NULL), 36000); /* July: winter */

        /* broken footers */
        static const char *const bad[] = { "CET-1CEST\n",
                                           "\nCE-1\n",
                                           "\nCET-1CEST,M13.5.0,M10.5.0\n",
                                           "\nCET\n",
                                           "\nCET-1CEST,M3.5.0\n",
                                           "\nCET-1CEST,J366,J1\n" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                Buf c = {};
                header(&c, '2', 2, 2, 8);
                body(&c, false);
                header(&c, '2', 2, 2, 8);
                body(&c, true);
                put(&c, bad[i], strlen(bad[i]));
                TzInfo *t = NULL;
                assert_int_equal(tz_parse(c.d, c.n, &t), -EBADMSG);
        }
        /* v2 without a footer */
        Buf c = {};
        header(&c, '2', 2, 2, 8);
        body(&c, false);
        header(&c, '2', 2, 2, 8);
        body(&c, true);
        TzInfo *t = NULL;
        assert_int_equal(tz_parse(c.d, c.n, &t), -EBADMSG);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_utc_and_fixed), cmocka_unit_test(test_names),
                cmocka_unit_test(test_v1_file),       cmocka_unit_test(test_v2_file_with_rule),
                cmocka_unit_test(test_against_glibc),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

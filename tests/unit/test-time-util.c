/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests for durations and timestamps (common/time-util.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "macro.h"
#include "time-util.h"

static void test_parse_duration_ok(void **state) {
        usec_t u;

        assert_int_equal(parse_duration("250ms", &u, NULL), 0);
        assert_int_equal(u, 250 * USEC_PER_MSEC);
        assert_int_equal(parse_duration("30s", &u, NULL), 0);
        assert_int_equal(u, 30 * USEC_PER_SEC);
        assert_int_equal(parse_duration("5m", &u, NULL), 0);
        assert_int_equal(u, 5 * USEC_PER_MINUTE);
        assert_int_equal(parse_duration("1h30m", &u, NULL), 0);
        assert_int_equal(u, 90 * USEC_PER_MINUTE);
        assert_int_equal(parse_duration("1w1d", &u, NULL), 0);
        assert_int_equal(u, 8 * USEC_PER_DAY);
        assert_int_equal(parse_duration("0", &u, NULL), 0);
        assert_int_equal(u, 0);
        assert_int_equal(parse_duration("0s", &u, NULL), 0);
        assert_int_equal(u, 0);
        assert_int_equal(parse_duration("1m500ms", &u, NULL), 0);
        assert_int_equal(u, 60 * USEC_PER_SEC + 500 * USEC_PER_MSEC);
}

static void test_parse_duration_bad(void **state) {
        usec_t u = 42;
        size_t off = 99;

        assert_int_equal(parse_duration("", &u, NULL), -EINVAL);
        assert_int_equal(parse_duration("5", &u, &off), -EINVAL);
        assert_int_equal(off, 1);
        assert_int_equal(parse_duration("5x", &u, &off), -EINVAL);
        assert_int_equal(off, 1);
        assert_int_equal(parse_duration("30m1h", &u, NULL), -EINVAL);
        assert_int_equal(parse_duration("1h1h", &u, NULL), -EINVAL);
        assert_int_equal(parse_duration("1.5s", &u, NULL), -EINVAL);
        assert_int_equal(parse_duration("-1s", &u, NULL), -EINVAL);
        assert_int_equal(parse_duration(" 1s", &u, NULL), -EINVAL);
        assert_int_equal(parse_duration("99999999999999999999w", &u, NULL), -ERANGE);
        assert_int_equal(parse_duration("40000000w", &u, NULL), -ERANGE);
        assert_int_equal(u, 42);
}

static void test_format_duration(void **state) {
        char buf[DURATION_MAX];

        assert_string_equal(format_duration(buf, sizeof(buf), 0), "0s");
        assert_string_equal(format_duration(buf, sizeof(buf), 90 * USEC_PER_MINUTE), "1h30m");
        assert_string_equal(format_duration(buf, sizeof(buf), 250 * USEC_PER_MSEC), "250ms");
        assert_string_equal(format_duration(buf, sizeof(buf), 8 * USEC_PER_DAY), "1w1d");
}

static void test_civil(void **state) {
        int64_t y;
        unsigned m, d;

        assert_int_equal(days_from_civil(1970, 1, 1), 0);
        assert_int_equal(days_from_civil(2000, 3, 1), 11017);
        for (int64_t z = -800000; z < 800000; z += 997) {
                civil_from_days(z, &y, &m, &d);
                assert_int_equal(days_from_civil(y, m, d), z);
        }
}

static void check_ts(const char *s, double expect) {
        double t = -1;
        assert_int_equal(parse_timestamp(s, strlen(s), &t), 0);
        assert_true(fabs(t - expect) < 1e-6);
}

static void test_parse_timestamp(void **state) {
        double t;

        check_ts("1700000000", 1700000000);
        check_ts("1700000000.25", 1700000000.25);
        check_ts("2014-04-10 00:04:00", 1397088240);
        check_ts("2014-04-10T00:04:00Z", 1397088240);
        check_ts("2014-04-10T02:04:00+02:00", 1397088240);
        check_ts("2014-04-09T23:04:00-01:00", 1397088240);
        check_ts("2014-04-10T00:04:00.5Z", 1397088240.5);
        check_ts("2016-02-29 12:00:00", 1456747200);

        assert_int_equal(parse_timestamp("2015-02-29 12:00:00", 19, &t), -EINVAL);
        assert_int_equal(parse_timestamp("2014-13-10 00:00:00", 19, &t), -EINVAL);
        assert_int_equal(parse_timestamp("2014-04-10", 10, &t), -EINVAL);
        assert_int_equal(parse_timestamp("2014-04-10T25:00:00Z", 20, &t), -EINVAL);
        assert_int_equal(parse_timestamp("abc", 3, &t), -EINVAL);
        assert_int_equal(parse_timestamp("", 0, &t), -EINVAL);
        assert_int_equal(parse_timestamp("12x", 3, &t), -EINVAL);
        assert_int_equal(parse_timestamp("2014-04-10 00:04:00 ", 20, &t), -EINVAL);
}

static void test_format_timestamp(void **state) {
        char buf[TIMESTAMP_MAX];

        assert_string_equal(
                format_timestamp(buf, sizeof(buf), 1397088240ULL * USEC_PER_SEC + 123456),
                "2014-04-10T00:04:00.123Z");
        assert_string_equal(format_timestamp(buf, sizeof(buf), 0), "1970-01-01T00:00:00.000Z");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_duration_ok), cmocka_unit_test(test_parse_duration_bad),
                cmocka_unit_test(test_format_duration),   cmocka_unit_test(test_civil),
                cmocka_unit_test(test_parse_timestamp),   cmocka_unit_test(test_format_timestamp),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

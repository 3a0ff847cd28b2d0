/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Tests for common/fmt-double.c: exact round trip through strtod for millions of random bit patterns
 * (normal, subnormal, near powers of two and ten), shortest and closest digits compared with a printf-based
 * search, the notation rules, and NaN/Inf/-0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt-double.h"
#include "util.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void) {
        /* splitmix64: deterministic, well mixed */
        uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static bool same(double a, double b) {
        return memcmp(&a, &b, sizeof(a)) == 0;
}

static double from_bits(uint64_t b) {
        double d;
        memcpy(&d, &b, 8);
        return d;
}

static void check_round_trip(double v) {
        char buf[FMT_DOUBLE_MAX + 1];
        size_t n = fmt_double(buf, v);
        assert_true(n > 0 && n < FMT_DOUBLE_MAX);
        buf[n] = 0;
        double w = strtod(buf, NULL);
        if (memcmp(&v, &w, 8) != 0)
                fail_msg("%s does not round-trip %.17g", buf, v);
        /* and our own parser agrees */
        double u;
        assert_int_equal(parse_double(buf, n, &u), 0);
        assert_memory_equal(&u, &v, 8);
}

static void test_round_trip_random(void **state) {
        /* 4 million patterns: uniform bits, subnormals, values near 1, and numbers with few digits. */
        for (int i = 0; i < 4000000; i++) {
                uint64_t b = rng();
                double v;
                switch (i % 4) {
                case 0:
                        v = from_bits(b);
                        break;
                case 1:
                        v = from_bits(b & 0x800fffffffffffffULL); /* subnormal or zero */
                        break;
                case 2:
                        v = from_bits(
                                (b & 0x800fffffffffffffULL) | ((uint64_t) (1023 + (int) (b % 120) - 60) << 52));
                        break;
                default:
                        v = (double) (int64_t) (b % 2000000) / 1000.0; /* "12.345" style */
                }
                if (isnan(v) || isinf(v))
                        continue;
                check_round_trip(v);
        }
}

static void test_round_trip_edges(void **state) {
        /* Every power of two, its neighbours, and powers of ten with theirs. */
        for (int e = -1074; e <= 1023; e++) {
                double v = ldexp(1.0, e);
                check_round_trip(v);
                check_round_trip(nextafter(v, 0));
                check_round_trip(nextafter(v, INFINITY));
                check_round_trip(-v);
        }
        for (int e = -323; e <= 308; e++) {
                char s[32];
                snprintf(s, sizeof(s), "1e%d", e);
                double v = strtod(s, NULL);
                if (!(fabs(v) > 0) || isinf(v))
                        continue;
                check_round_trip(v);
                check_round_trip(nextafter(v, 0));
                check_round_trip(nextafter(v, INFINITY));
        }
        check_round_trip(5e-324);
        check_round_trip(2.2250738585072009e-308);
        check_round_trip(2.2250738585072014e-308);
        check_round_trip(1.7976931348623157e308);
        check_round_trip(9007199254740993.0);
}

/* Digits and decimal exponent of a decimal string ("-1.25e-3" -> 125, -5). */
static void decompose(const char *s, uint64_t *ret_digits, int *ret_exp) {
        uint64_t d = 0;
        int e = 0, after = 0;
        bool dot = false, any = false;
        for (; *s && *s != 'e'; s++) {
                if (*s == '.') {
                        dot = true;
                        continue;
                }
                if (*s < '0' || *s > '9')
                        continue;
                if (!any && *s == '0') {
                        if (dot)
                                after++;
                        continue;
                }
                any = true;
                if (d >= 100000000000000000ULL) {
                        /* beyond 17 significant digits only zeros can follow (integer notation) */
                        assert_true(*s == '0' && !dot);
                        e++;
                        continue;
                }
                d = d * 10 + (uint64_t) (*s - '0');
                if (dot)
                        after++;
        }
        if (*s == 'e')
                e = (int) strtol(s + 1, NULL, 10);
        e -= after;
        while (d >= 10 && d % 10 == 0) {
                d /= 10;
                e++;
        }
        *ret_digits = d;
        *ret_exp = e;
}

static void test_shortest_and_closest(void **state) {
        char buf[FMT_DOUBLE_MAX + 1], ref[64];
        /* printf("%.*e") rounds correctly to p digits; the shortest p that round-trips gives the digits
         * Schubfach must produce (shortest, and of those the closest). */
        for (int i = 0; i < 200000; i++) {
                double v = from_bits(rng());
                if (i % 2)
                        v = from_bits(
                                (rng() & 0x000fffffffffffffULL) |
                                ((uint64_t) (1023 + (int) (i % 200) - 100) << 52));
                if (isnan(v) || isinf(v) || !(fabs(v) > 0))
                        continue;
                size_t n = fmt_double(buf, v);
                buf[n] = 0;
                int p;
                for (p = 1; p <= 17; p++) {
                        snprintf(ref, sizeof(ref), "%.*e", p - 1, v);
                        if (same(strtod(ref, NULL), v))
                                break;
                }
                uint64_t d1, d2;
                int e1, e2;
                decompose(buf, &d1, &e1);
                decompose(ref, &d2, &e2);
                if (d1 != d2 || e1 != e2)
                        fail_msg("%.17g: got %s, shortest closest is %s", v, buf, ref);
        }
}

static void test_notation(void **state) {
        static const struct {
                double v;
                const char *s;
        } cases[] = {
                { 0.0, "0" },
                { -0.0, "-0" },
                { 1.0, "1" },
                { 42.0, "42" },
                { -42.5, "-42.5" },
                { 0.1, "0.1" },
                { 0.15, "0.15" },
                { 123.456, "123.456" },
                { 1500000.0, "1500000" },
                { 1e20, "100000000000000000000" },
                { 1e21, "1e+21" },
                { 1.5e22, "1.5e+22" },
                { 0.000001, "0.000001" },
                { 0.0000012, "0.0000012" },
                { 1e-7, "1e-7" },
                { 1.25e-10, "1.25e-10" },
                { 5e-324, "5e-324" },
                { 1.7976931348623157e308, "1.7976931348623157e+308" },
                { 9007199254740992.0, "9007199254740992" },
                { 123456789012345678.0, "123456789012345680" },
        };
        char buf[FMT_DOUBLE_MAX];
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                assert_string_equal(fmt_double_str(buf, cases[i].v), cases[i].s);
        assert_string_equal(fmt_double_str(buf, NAN), "NaN");
        assert_string_equal(fmt_double_str(buf, -NAN), "NaN");
        assert_string_equal(fmt_double_str(buf, INFINITY), "Inf");
        assert_string_equal(fmt_double_str(buf, -INFINITY), "-Inf");
        /* the longest possible output fits */
        assert_true(strlen(fmt_double_str(buf, -2.2250738585072014e-308)) < FMT_DOUBLE_MAX);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_notation),
                cmocka_unit_test(test_round_trip_edges),
                cmocka_unit_test(test_shortest_and_closest),
                cmocka_unit_test(test_round_trip_random),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

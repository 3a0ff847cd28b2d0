/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests for common/util.c and common/strbuf.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>

#include "strbuf.h"
#include "util.h"

static void check_double(const char *s) {
        double a, b;
        assert_int_equal(parse_double(s, strlen(s), &a), 0);
        b = strtod(s, NULL);
        assert_memory_equal(&a, &b, sizeof(a));
}

static void test_parse_double(void **state) {
        double v;
        const char *good[] = { "0",
                               "1",
                               "-1",
                               "3.14159",
                               "1e10",
                               "1.5E-7",
                               ".5",
                               "5.",
                               "123456789012345678901234",
                               "0.1",
                               "0.30000000000000004",
                               "1e-320",
                               "2.2250738585072014e-308",
                               "1.7976931348623157e308",
                               "+42",
                               "9007199254740993",
                               "0.000001234",
                               "12345.6789e-3" };

        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
                check_double(good[i]);

        assert_int_equal(parse_double("NaN", 3, &v), 0);
        assert_true(isnan(v));
        assert_int_equal(parse_double("+Inf", 4, &v), 0);
        assert_true(isinf(v) && v > 0);
        assert_int_equal(parse_double("-Inf", 4, &v), 0);
        assert_true(isinf(v) && v < 0);

        assert_int_equal(parse_double("", 0, &v), -EINVAL);
        assert_int_equal(parse_double("abc", 3, &v), -EINVAL);
        assert_int_equal(parse_double("1e", 2, &v), -EINVAL);
        assert_int_equal(parse_double("1.2.3", 5, &v), -EINVAL);
        assert_int_equal(parse_double("1,5", 3, &v), -EINVAL);
        assert_int_equal(parse_double(".", 1, &v), -EINVAL);
        assert_int_equal(parse_double("-", 1, &v), -EINVAL);
        assert_int_equal(parse_double("1 ", 2, &v), -EINVAL);
}

static void test_parse_double_locale(void **state) {
        double v;
        /* A comma-decimal locale must not change parsing (if the machine has one). */
        if (setlocale(LC_NUMERIC, "de_DE.UTF-8")) {
                assert_int_equal(parse_double("1.25", 4, &v), 0);
                assert_true(double_eq(v, 1.25));
                assert_int_equal(parse_double("1.234567890123456789", 20, &v), 0);
                assert_true(fabs(v - 1.2345678901234568) < 1e-15);
                setlocale(LC_NUMERIC, "C");
        }
}

static void test_safe_ato(void **state) {
        uint64_t u;
        int64_t i;

        assert_int_equal(safe_atou64("18446744073709551615", &u), 0);
        assert_true(u == UINT64_MAX);
        assert_int_equal(safe_atou64("18446744073709551616", &u), -ERANGE);
        assert_int_equal(safe_atou64("12a", &u), -EINVAL);
        assert_int_equal(safe_atou64("", &u), -EINVAL);
        assert_int_equal(safe_atoi64("-9223372036854775808", &i), 0);
        assert_true(i == INT64_MIN);
        assert_int_equal(safe_atoi64("9223372036854775808", &i), -ERANGE);
}

static void test_utf8(void **state) {
        size_t off;

        assert_true(utf8_is_valid("hello", 5, NULL));
        assert_true(utf8_is_valid("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 16, NULL));
        assert_false(utf8_is_valid("ab\xff", 3, &off));
        assert_int_equal(off, 2);
        assert_false(utf8_is_valid("\xc0\xaf", 2, &off));         /* overlong */
        assert_false(utf8_is_valid("\xed\xa0\x80", 3, &off));     /* surrogate */
        assert_false(utf8_is_valid("\xe2\x82", 2, &off));         /* truncated */
        assert_false(utf8_is_valid("\xf4\x90\x80\x80", 4, &off)); /* > U+10FFFF */

        /* Every code point encodes and decodes back to itself, in as many bytes as it needs. */
        for (uint32_t cp = 1; cp <= 0x10FFFF; cp++) {
                char out[4];
                uint32_t back = 0;
                size_t n;
                if (cp >= 0xD800 && cp <= 0xDFFF)
                        continue;
                n = utf8_encode(cp, out);
                assert_int_equal(n, cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4);
                assert_int_equal(utf8_decode(out, n, &back), (int) n);
                assert_int_equal(back, cp);
                assert_true(utf8_is_valid(out, n, NULL));
                assert_int_equal(utf8_decode(out, n - 1, &back), -EILSEQ); /* truncated, or nothing */
        }
        uint32_t cp = 7;
        assert_int_equal(utf8_decode("\xed\xa0\x80", 3, &cp), -EILSEQ); /* surrogate */
        assert_int_equal(utf8_decode("\xc0\xaf", 2, &cp), -EILSEQ);     /* overlong */
        assert_int_equal(utf8_decode("\x80", 1, &cp), -EILSEQ);         /* continuation */
        assert_int_equal(utf8_decode("", 0, &cp), -EILSEQ);
        assert_int_equal(cp, 7);
        assert_int_equal(utf8_decode("\xe2\x82\xacx", 4, &cp), 3);
        assert_int_equal(cp, 0x20AC);
}

static void test_secrets(void **state) {
        _cleanup_(secret_list_done) SecretList l = {};
        char buf[128];

        assert_int_equal(
                secret_list_add(&l, "hooks.example/services/T0/SECRET-TOKEN?x=1", "/?&=", 4, false), 0);
        assert_int_equal(l.n, 3); /* hooks.example, services, SECRET-TOKEN; T0, x, 1 are too short */
        assert_int_equal(secret_list_add(&l, "Bearer abcdef", " ", 4, true), 0);
        assert_int_equal(secret_list_add(&l, "Bearer abcdef", " ", 4, true), 0); /* no duplicates */
        assert_int_equal(l.n, 6); /* + whole, Bearer, abcdef */
        assert_int_equal(secret_list_add(&l, "", " ", 4, true), 0);
        assert_int_equal(l.n, 6);

        snprintf(buf, sizeof(buf), "no route for /services/T0/SECRET-TOKEN (Bearer abcdef) ok");
        secret_list_mask(&l, buf, strlen(buf), false);
        assert_string_equal(buf, "no route for /********/T0/************ (*************) ok");

        /* Cut off inside a secret: its first bytes go too, but only when the text was truncated. */
        snprintf(buf, sizeof(buf), "echo: SECRET-TO");
        secret_list_mask(&l, buf, strlen(buf), false);
        assert_string_equal(buf, "echo: SECRET-TO");
        secret_list_mask(&l, buf, strlen(buf), true);
        assert_string_equal(buf, "echo: *********");
        /* Binary data and a NUL byte do not stop the search. */
        memcpy(buf, "\0\xff abcdef", 10);
        secret_list_mask(&l, buf, 10, false);
        assert_memory_equal(buf, "\0\xff ******", 10);
}

static void test_distance(void **state) {
        assert_int_equal(string_distance("for", "for"), 0);
        assert_int_equal(string_distance("fro", "for"), 2);
        assert_int_equal(string_distance("recover_fro", "recover_for"), 2);
        assert_int_equal(string_distance("intervall", "interval"), 1);
}

static void test_strbuf(void **state) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;

        assert_string_equal(strbuf_str(&b), "");
        for (int i = 0; i < 1000; i++)
                assert_int_equal(strbuf_printf(&b, "%d,", i), 0);
        assert_int_equal(strncmp(strbuf_str(&b), "0,1,2,", 6), 0);
        assert_true(b.len > 3000);
        strbuf_reset(&b);
        assert_int_equal(strbuf_puts(&b, "x"), 0);
        assert_string_equal(strbuf_str(&b), "x");
        char *s = strbuf_steal(&b);
        assert_string_equal(s, "x");
        free(s);
}

static void test_read_full_file(void **state) {
        char path[] = "/tmp/homeostat-test-XXXXXX";
        int fd = mkstemp(path);
        char *data = NULL;
        size_t size;

        assert_true(fd >= 0);
        assert_int_equal(write(fd, "hello world", 11), 11);
        close(fd);
        assert_int_equal(read_full_file(path, 100, &data, &size), 0);
        assert_int_equal(size, 11);
        assert_string_equal(data, "hello world");
        free(data);
        assert_int_equal(read_full_file(path, 5, &data, &size), -EFBIG);
        unlink(path);
        assert_int_equal(read_full_file(path, 5, &data, &size), -ENOENT);
        assert_int_equal(read_full_file("/", 5, &data, &size), -EISDIR);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_double), cmocka_unit_test(test_parse_double_locale),
                cmocka_unit_test(test_safe_ato),     cmocka_unit_test(test_utf8),
                cmocka_unit_test(test_secrets),      cmocka_unit_test(test_distance),
                cmocka_unit_test(test_strbuf),       cmocka_unit_test(test_read_full_file),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

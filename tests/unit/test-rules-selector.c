/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests for rules/selector.c: Prometheus selector syntax, matching, and RE2-habit diagnostics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "selector-internal.h"
#include "strbuf.h"

static Selector *parse_ok(const char *text) {
        Selector *s = NULL;
        char *err = NULL;
        size_t off = 0;
        int r = selector_parse(text, &s, &err, &off);
        if (r < 0)
                fail_msg("'%s' should parse, got '%s' at %zu", text, err, off);
        free(err);
        return s;
}

static void parse_bad(const char *text, size_t want_off, const char *want_substring) {
        Selector *s = NULL;
        char *err = NULL;
        size_t off = SIZE_MAX;
        assert_int_equal(selector_parse(text, &s, &err, &off), -EINVAL);
        assert_null(s);
        assert_non_null(err);
        if (off != want_off || !strstr(err, want_substring))
                fail_msg("'%s': got '%s' at %zu, want '%s' at %zu", text, err, off, want_substring, want_off);
        free(err);
}

static void test_parse_basic(void **state) {
        Selector *s = parse_ok(
                "http_requests_total{code=\"500\", method!=\"GET\",path=~\"/api/.*\",x!~'y|z',}");
        assert_string_equal(s->metric, "http_requests_total");
        assert_int_equal(s->n_matchers, 4);
        assert_string_equal(s->matchers[0].name, "code");
        assert_int_equal(s->matchers[0].op, MATCH_EQUAL);
        assert_null(s->matchers[0].regex);
        assert_int_equal(s->matchers[1].op, MATCH_NOT_EQUAL);
        assert_int_equal(s->matchers[2].op, MATCH_REGEX);
        assert_non_null(s->matchers[2].regex);
        assert_int_equal(s->matchers[3].op, MATCH_NOT_REGEX);
        assert_string_equal(s->matchers[3].value, "y|z");
        assert_int_equal(s->matchers[0].name_offset, 20);
        assert_int_equal(s->matchers[0].value_offset, 25);
        selector_free(s);

        s = parse_ok("up");
        assert_string_equal(s->metric, "up");
        assert_int_equal(s->n_matchers, 0);
        selector_free(s);

        s = parse_ok("{__name__=\"up\",job=\"a\"}");
        assert_null(s->metric);
        assert_string_equal(selector_pinned_value(s, "__name__"), "up");
        selector_free(s);

        s = parse_ok("  ns:rule:rate5m { } ");
        assert_string_equal(s->metric, "ns:rule:rate5m");
        selector_free(s);
}

static void test_escapes(void **state) {
        Selector *s = parse_ok(
                "x{a=\"q\\\"uote\\\\ \\n\\t\\x41\\101\\u00e9\\U0001F600\",b='it\\'s',c=`raw\\d`}");
        assert_string_equal(s->matchers[0].value, "q\"uote\\ \n\tAA\xc3\xa9\xf0\x9f\x98\x80");
        assert_string_equal(s->matchers[1].value, "it's");
        assert_string_equal(s->matchers[2].value, "raw\\d");
        selector_free(s);
}

static void test_matches(void **state) {
        Selector *s = parse_ok("http_requests_total{code=~\"5..\",method!=\"GET\",path!~\"/health.*\"}");
        Label l1[] = { { "code", "500" }, { "method", "POST" }, { "path", "/api" } };
        Label l2[] = { { "code", "5000" }, { "method", "POST" } };
        Label l3[] = { { "code", "503" }, { "method", "GET" } };
        Label l4[] = { { "code", "503" }, { "path", "/healthz" } };
        Label l5[] = { { "code", "503" } };
        assert_true(selector_matches(s, "http_requests_total", l1, 3));
        assert_false(selector_matches(s, "http_requests_total", l2, 2)); /* anchored: 5000 is not 5.. */
        assert_false(selector_matches(s, "http_requests_total", l3, 2));
        assert_false(selector_matches(s, "http_requests_total", l4, 2));
        assert_true(selector_matches(s, "http_requests_total", l5, 1)); /* missing labels are "" */
        assert_false(selector_matches(s, "other", l1, 3));
        assert_false(selector_matches(NULL, "x", NULL, 0));
        selector_free(s);

        s = parse_ok("x{job=\"\"}");
        assert_true(selector_matches(s, "x", NULL, 0));
        assert_false(selector_matches(s, "x", (Label[]){ { "job", "a" } }, 1));
        selector_free(s);

        s = parse_ok("{__name__=~\"node_.*\",mode=\"idle\"}");
        assert_true(selector_matches(s, "node_cpu", (Label[]){ { "mode", "idle" } }, 1));
        assert_false(selector_matches(s, "up", (Label[]){ { "mode", "idle" } }, 1));
        selector_free(s);

        /* Alternation binds inside the anchors: a|b does not match "ab" or "xa". */
        s = parse_ok("x{v=~\"a|b\"}");
        assert_true(selector_matches(s, "x", (Label[]){ { "v", "b" } }, 1));
        assert_false(selector_matches(s, "x", (Label[]){ { "v", "xa" } }, 1));
        selector_free(s);
}

static void test_pinned_constrains(void **state) {
        Selector *s = parse_ok("up{job=\"api\",instance=~\"web.*\",env!=\"dev\",zone!~\"x\"}");
        assert_string_equal(selector_pinned_value(s, "job"), "api");
        assert_null(selector_pinned_value(s, "instance"));
        assert_null(selector_pinned_value(s, "env"));
        assert_string_equal(selector_pinned_value(s, "__name__"), "up");
        assert_true(selector_constrains(s, "job"));
        assert_true(selector_constrains(s, "instance"));
        assert_false(selector_constrains(s, "env"));
        assert_false(selector_constrains(s, "zone"));
        assert_false(selector_constrains(s, "other"));
        assert_true(selector_constrains(s, "__name__"));
        selector_free(s);
}

static void test_errors(void **state) {
        parse_bad("", 0, "empty selector");
        parse_bad("x{a=\"1\"", 7, "missing '}'");
        parse_bad("x{a=\"1}", 4, "not terminated");
        parse_bad("x{a \"1\"}", 4, "expected a matcher");
        parse_bad("x{a==\"1\"}", 3, "'=='");
        parse_bad("x{1a=\"1\"}", 2, "label name");
        parse_bad("x{a=1}", 4, "quoted label value");
        parse_bad("x[5m]", 1, "range selectors");
        parse_bad("rate(x[5m])", 0, "functions");
        parse_bad("x{a=\"1\"} y", 9, "unexpected 'y'");
        parse_bad("{a=~\".*\"}", 0, "match every series");
        parse_bad("{}", 0, "match every series");
        parse_bad("x{__name__=\"y\"}", 2, "given twice");
        parse_bad("x{__meta=\"y\"}", 2, "reserved");
        parse_bad("x{a=\"\\q\"}", 5, "unknown escape");
        parse_bad("x{a=\"\\x80\"}", 5, "invalid UTF-8");
        parse_bad("x{a=\"\\u0000\"}", 5, "NUL");
        parse_bad("x{a=\"\\uD800\"}", 5, "not a valid Unicode");
        parse_bad("x{a=~\"(a\"}", 5, "invalid regular expression");
}

static void test_re2_habits(void **state) {
        /* Offsets point at the construct in the selector text. */
        parse_bad("x{code=~\"5\\\\d\\\\d\"}", 10, "[0-9]");
        parse_bad("x{code=~\"5\\d\"}", 10, "[0-9]");
        parse_bad("x{a=~\"\\\\w+\"}", 6, "[[:alnum:]_]");
        parse_bad("x{a=~\"\\\\s\"}", 6, "[[:space:]]");
        parse_bad("x{a=~\"\\\\bword\"}", 6, "already match the whole");
        parse_bad("x{a=~\"(?i)err\"}", 6, "(?i)");
        parse_bad("x{a=~\"(?:a|b)\"}", 6, "non-capturing");
        parse_bad("x{a=~\"(?=a)\"}", 6, "lookaround");
        parse_bad("x{a=~\"a.*?\"}", 8, "lazy");
        parse_bad("x{a=~\"a+?\"}", 7, "lazy");
        parse_bad("x{a=~\"a??\"}", 7, "lazy");
        parse_bad("x{a=~\"a{2}?\"}", 9, "lazy");
        parse_bad("x{a=~\"a++\"}", 7, "possessive");
        parse_bad("x{a=~\"\\\\p{L}\"}", 6, "Unicode classes");
        parse_bad("x{a=~\"[\\\\d]\"}", 7, "inside [...]");

        /* POSIX spellings are fine, also inside brackets. */
        Selector *s = parse_ok("x{a=~\"[[:digit:]]+\\\\.[0-9]{2}\",b=~\"[*?+]x\",c=~\"[]a]\",d=~\"[^]?]\"}");
        assert_true(selector_matches(
                s, "x", (Label[]){ { "a", "12.34" }, { "b", "?x" }, { "c", "]" }, { "d", "a" } }, 4));
        selector_free(s);
}

static void test_posix_problem(void **state) {
        size_t off = 99;
        assert_null(regex_posix_problem("abc|d[0-9]+", &off));
        assert_null(regex_posix_problem("a\\.b", &off));
        assert_non_null(regex_posix_problem("ab\\d", &off));
        assert_int_equal(off, 2);
        assert_non_null(regex_posix_problem("x\\", &off));
}

static void test_normalized(void **state) {
        Selector *a = parse_ok("m{b=\"2\", a=~\"x\"}");
        Selector *b = parse_ok("m{a=~'x',b=\"2\"}");
        Selector *c = parse_ok("m{a=~'x',b=\"3\"}");
        StrBuf x = STRBUF_INIT, y = STRBUF_INIT, z = STRBUF_INIT;
        assert_int_equal(selector_format_normalized(a, &x), 0);
        assert_int_equal(selector_format_normalized(b, &y), 0);
        assert_int_equal(selector_format_normalized(c, &z), 0);
        assert_string_equal(strbuf_str(&x), "m{a=~\"x\",b=\"2\"}");
        assert_string_equal(strbuf_str(&x), strbuf_str(&y));
        assert_string_not_equal(strbuf_str(&x), strbuf_str(&z));
        strbuf_done(&x);
        strbuf_done(&y);
        strbuf_done(&z);
        selector_free(a);
        selector_free(b);
        selector_free(c);
        assert_true(metric_name_is_valid("a:b_c9"));
        assert_false(metric_name_is_valid("9a"));
        assert_true(label_name_is_valid("_x9"));
        assert_false(label_name_is_valid("a:b"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_basic),   cmocka_unit_test(test_escapes),
                cmocka_unit_test(test_matches),       cmocka_unit_test(test_pinned_constrains),
                cmocka_unit_test(test_errors),        cmocka_unit_test(test_re2_habits),
                cmocka_unit_test(test_posix_problem), cmocka_unit_test(test_normalized),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests for rules/json-load.c: exactly RFC 8259, with line:column on every node and every error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "node.h"

typedef struct Loaded {
        SourceText src;
        Diagnostics d;
        Node *root;
        int r;
} Loaded;

static void load_n(Loaded *l, const char *text, size_t len) {
        LoadLimits lim = { .max_depth = LOAD_MAX_DEPTH, .max_alias_nodes = LOAD_MAX_ALIAS_NODES };
        *l = (Loaded){};
        assert_int_equal(source_text_init(&l->src, "t.json", text, len, false), 0);
        l->r = json_load_document(&l->src, &lim, &l->d, &l->root);
}

static void load(Loaded *l, const char *text) {
        load_n(l, text, strlen(text));
}

static void done(Loaded *l) {
        node_free(l->root);
        diagnostics_done(&l->d);
        source_text_done(&l->src);
}

static void expect_error(const char *json, unsigned line, unsigned col, const char *text) {
        Loaded l;
        load(&l, json);
        if (l.r >= 0 || l.d.n_errors != 1 || l.d.items[0].loc.line != line ||
            l.d.items[0].loc.column != col || !strstr(l.d.items[0].message, text))
                fail_msg(
                        "%s: r=%d, %zu errors, first '%s' at %u:%u; want '%s' at %u:%u",
                        json,
                        l.r,
                        l.d.n_errors,
                        l.d.n_items ? l.d.items[0].message : "",
                        l.d.n_items ? l.d.items[0].loc.line : 0,
                        l.d.n_items ? l.d.items[0].loc.column : 0,
                        text,
                        line,
                        col);
        done(&l);
}

static void expect_ok(const char *json) {
        Loaded l;
        load(&l, json);
        if (l.r < 0 || l.d.n_errors != 0)
                fail_msg("%s should parse: %s", json, l.d.n_items ? l.d.items[0].message : "?");
        done(&l);
}

static void test_tree(void **state) {
        Loaded l;
        load(&l,
             "\xEF\xBB\xBF{\n  \"a\": [1, -2.5e3, true, null, \"x\\u00e9\\ud83d\\ude00\\n\"],\n  \"é\": {\"k\": \"v\"}\n}");
        assert_int_equal(l.r, 0);
        assert_int_equal(l.d.n_errors, 0);
        Node *a = node_get(l.root, "a");
        assert_int_equal(a->n_items, 5);
        assert_int_equal(a->items[0]->style, STYLE_PLAIN);
        assert_string_equal(a->items[1]->value, "-2.5e3");
        assert_string_equal(a->items[2]->value, "true");
        assert_true(a->items[3]->is_null);
        assert_string_equal(a->items[4]->value, "x\xc3\xa9\xf0\x9f\x98\x80\n");
        assert_int_equal(a->items[4]->style, STYLE_DOUBLE);
        assert_int_equal(a->loc.line, 2);
        assert_int_equal(a->loc.column, 8);
        assert_int_equal(a->items[4]->loc.column, 32);
        /* Inside the string: after x (1), é (2), the emoji (4) comes the \n at value offset 7. */
        Location loc = node_value_location(a->items[4], 7);
        assert_int_equal(loc.column, 32 + 1 + 1 + 6 + 12);
        Node *e = node_get(l.root, "é");
        assert_int_equal(e->loc.line, 3);
        assert_int_equal(e->loc.column, 8);
        done(&l);
}

static void test_accepts(void **state) {
        expect_ok("{}");
        expect_ok(" [ ] ");
        expect_ok("{\"a\":0,\"b\":-0.0,\"c\":1E+2,\"d\":\"\\/\\b\\f\\r\\t\\\"\\\\\"}");
        expect_ok("\"just a string\"");
        expect_ok("\r\n\t{\"a\" : [ [ ] , { } ] }\r\n");
}

static void test_rejects(void **state) {
        expect_error("{\"a\": 1,}", 1, 8, "trailing comma");
        expect_error("[1,]", 1, 3, "trailing comma");
        expect_error("{\"a\" 1}", 1, 6, "':'");
        expect_error("{a: 1}", 1, 2, "double quotes");
        expect_error("{'a': 1}", 1, 2, "double quotes");
        expect_error("[01]", 1, 2, "leading zeros");
        expect_error("[+1]", 1, 2, "expected a value");
        expect_error("[.5]", 1, 2, "expected a value");
        expect_error("[1.]", 1, 4, "after the decimal point");
        expect_error("[1e]", 1, 4, "exponent");
        expect_error("[-]", 1, 3, "a digit");
        expect_error("[tru]", 1, 2, "expected a value");
        expect_error("[truex]", 1, 2, "invalid literal");
        expect_error("[NaN]", 1, 2, "expected a value");
        expect_error("[Infinity]", 1, 2, "expected a value");
        expect_error("[\"a\tb\"]", 1, 4, "control character");
        expect_error("[\"\\x41\"]", 1, 3, "invalid escape");
        expect_error("[\"\\u12G4\"]", 1, 3, "invalid escape");
        expect_error("[\"\\udc00\"]", 1, 3, "lone low surrogate");
        expect_error("[\"\\ud800x\"]", 1, 3, "high surrogate");
        expect_error("[\"\\ud800\\u0041\"]", 1, 3, "high surrogate");
        expect_error("[\"\\u0000\"]", 1, 3, "NUL");
        expect_error("[\"abc", 1, 2, "not terminated");
        expect_error("{} x", 1, 4, "end of the file");
        expect_error("{}\n{}", 2, 1, "end of the file");
        expect_error("// c\n{}", 1, 1, "expected a value");
        expect_error("{\"a\": [1 2]}", 1, 10, "',' or ']'");
        expect_error("{\"a\": 1 \"b\": 2}", 1, 9, "',' or '}'");
        expect_error("[", 1, 2, "expected a value");
        expect_error("", 1, 1, "empty");
        expect_error(" \n ", 1, 1, "empty");
        expect_error("null", 1, 1, "only null");
}

static void test_duplicates_and_depth(void **state) {
        Loaded l;
        load(&l, "{\"a\": 1,\n \"b\": {\"c\": 1, \"c\": 2},\n \"a\": 3}");
        assert_int_equal(l.r, 0);
        assert_int_equal(l.d.n_errors, 2);
        diagnostics_sort(&l.d, NULL, 0);
        assert_int_equal(l.d.items[0].loc.line, 2);
        assert_int_equal(l.d.items[0].loc.column, 16);
        assert_non_null(strstr(l.d.items[1].message, "first given at t.json:1:2"));
        assert_int_equal(l.root->n_pairs, 2);
        done(&l);

        char deep[200];
        memset(deep, '[', 100);
        memset(deep + 100, ']', 100);
        load_n(&l, deep, sizeof(deep));
        assert_int_equal(l.r, -EINVAL);
        assert_int_equal(l.d.n_errors, 1);
        assert_int_equal(l.d.items[0].loc.column, 33);
        assert_non_null(strstr(l.d.items[0].message, "deeper than 32"));
        done(&l);

        /* Not NUL-terminated input must not be read past its end. */
        char *buf = malloc(3);
        memcpy(buf, "[\"a", 3);
        load_n(&l, buf, 3);
        assert_int_equal(l.r, -EINVAL);
        done(&l);
        free(buf);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tree),
                cmocka_unit_test(test_accepts),
                cmocka_unit_test(test_rejects),
                cmocka_unit_test(test_duplicates_and_depth),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

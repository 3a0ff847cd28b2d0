/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests for rules/yaml-load.c and rules/node.c: the YAML loader's tree, positions and hostile-input checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "macro.h"
#include "node.h"

typedef struct Loaded {
        SourceText src;
        Diagnostics d;
        Node *root;
        int r;
} Loaded;

static void load(Loaded *l, const char *text) {
        LoadLimits lim = { .max_depth = LOAD_MAX_DEPTH, .max_alias_nodes = LOAD_MAX_ALIAS_NODES };
        *l = (Loaded){};
        assert_int_equal(source_text_init(&l->src, "t.yaml", text, strlen(text), true), 0);
        l->r = yaml_load_document(&l->src, &lim, &l->d, &l->root);
}

static void done(Loaded *l) {
        node_free(l->root);
        diagnostics_done(&l->d);
        source_text_done(&l->src);
}

/* Expect exactly one error, at line:col, containing text. */
static void expect_error(const char *yaml, unsigned line, unsigned col, const char *text) {
        Loaded l;
        load(&l, yaml);
        if (l.d.n_errors != 1 || l.d.items[0].loc.line != line || l.d.items[0].loc.column != col ||
            !strstr(l.d.items[0].message, text))
                fail_msg(
                        "%s: got %zu errors, first '%s' at %u:%u; want '%s' at %u:%u",
                        yaml,
                        l.d.n_errors,
                        l.d.n_items ? l.d.items[0].message : "",
                        l.d.n_items ? l.d.items[0].loc.line : 0,
                        l.d.n_items ? l.d.items[0].loc.column : 0,
                        text,
                        line,
                        col);
        done(&l);
}

static void test_tree_and_positions(void **state) {
        Loaded l;
        load(&l, "a: 1\nb:\n  - x\n  - 'y z'\n  - \"q\\tq\"\nc: {d: ~, e: ''}\non: off\n");
        assert_int_equal(l.r, 0);
        assert_int_equal(l.d.n_errors, 0);
        Node *r = l.root;
        assert_int_equal(r->kind, NODE_MAPPING);
        assert_int_equal(r->n_pairs, 4);
        assert_string_equal(r->pairs[0].key->value, "a");
        assert_int_equal(r->pairs[0].value->loc.line, 1);
        assert_int_equal(r->pairs[0].value->loc.column, 4);
        Node *b = node_get(r, "b");
        assert_int_equal(b->kind, NODE_SEQUENCE);
        assert_int_equal(b->n_items, 3);
        assert_int_equal(b->items[1]->style, STYLE_SINGLE);
        assert_string_equal(b->items[1]->value, "y z");
        assert_string_equal(b->items[2]->value, "q\tq");
        assert_int_equal(b->items[2]->loc.line, 5);
        assert_int_equal(b->items[2]->loc.column, 5);
        Node *c = node_get(r, "c");
        assert_true(node_get(c, "d")->is_null);
        assert_false(node_get(c, "e")->is_null); /* '' is an empty string, not null */
        /* No YAML 1.1 booleans: on/off are words. */
        assert_string_equal(node_get(r, "on")->value, "off");
        assert_int_equal(node_get(r, "on")->style, STYLE_PLAIN);
        done(&l);
}

static void test_value_location(void **state) {
        Loaded l;
        /* Columns count characters: the é is one column. */
        load(&l, "é: 'it''s x'\nb: \"a\\u00e9\\tX\"\nc: plain X\nd: |\n  block\n");
        assert_int_equal(l.r, 0);
        Node *a = node_get(l.root, "é");
        Location loc = node_value_location(a, 5); /* the x after it's */
        assert_int_equal(loc.line, 1);
        assert_int_equal(loc.column, 11);
        Node *b = node_get(l.root, "b");
        loc = node_value_location(b, 4); /* X: a, é (2 bytes), \t */
        assert_int_equal(loc.column, 14);
        Node *c = node_get(l.root, "c");
        loc = node_value_location(c, 6);
        assert_int_equal(loc.column, 10);
        Node *d = node_get(l.root, "d");
        loc = node_value_location(d, 3);
        assert_int_equal(loc.line, 4);
        assert_int_equal(loc.column, 4);
        done(&l);
}

static void test_duplicates(void **state) {
        Loaded l;
        load(&l, "a: 1\nb: 2\na: 3\nc: {x: 1, x: 2}\n");
        assert_int_equal(l.r, 0);
        assert_int_equal(l.d.n_errors, 2);
        diagnostics_sort(&l.d, NULL, 0);
        assert_int_equal(l.d.items[0].loc.line, 3);
        assert_int_equal(l.d.items[1].loc.line, 4);
        assert_int_equal(l.d.items[1].loc.column, 11);
        assert_non_null(strstr(l.d.items[0].message, "first given at t.yaml:1:1"));
        assert_int_equal(l.root->n_pairs, 3); /* the later 'a' is dropped */
        assert_string_equal(node_get(l.root, "a")->value, "1");
        done(&l);
}

static void test_aliases(void **state) {
        Loaded l;
        load(&l, "x-a: &steps [{action: restart}]\nb: *steps\nc: *steps\n");
        assert_int_equal(l.r, 0);
        assert_int_equal(l.d.n_errors, 0);
        Node *b = node_get(l.root, "b");
        assert_int_equal(b->kind, NODE_SEQUENCE);
        assert_string_equal(node_get(b->items[0], "action")->value, "restart");
        assert_int_equal(b->loc.line, 1); /* a copy keeps the anchor's position */
        assert_ptr_not_equal(b, node_get(l.root, "c"));
        done(&l);

        expect_error("a: &a [*a]\n", 1, 8, "cycle");
        expect_error("a: &a {b: *a}\n", 1, 11, "cycle");
        expect_error("a: *nope\n", 1, 4, "no anchor");
        /* An anchor on a rejected key stays valid memory for later aliases. */
        load(&l, "? &k [1]\n: v\nb: *k\n");
        assert_int_equal(l.d.n_errors, 1);
        done(&l);
}

static void test_alias_bomb(void **state) {
        const char *bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
                           "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                           "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                           "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                           "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                           "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
                           "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n";
        Loaded l;
        load(&l, bomb);
        assert_int_equal(l.r, -EINVAL);
        assert_int_equal(l.d.n_errors, 1);
        assert_non_null(strstr(l.d.items[0].message, "alias bomb"));
        done(&l);
}

static void test_depth(void **state) {
        char buf[2 * 40 + 16];
        size_t n = 0;
        n += (size_t) snprintf(buf, sizeof(buf), "a: ");
        for (int i = 0; i < 32; i++)
                buf[n++] = '[';
        for (int i = 0; i < 32; i++)
                buf[n++] = ']';
        buf[n] = 0;
        /* The mapping is level 1, so 31 brackets fit and the 32nd is too deep. */
        expect_error(buf, 1, 35, "deeper than 32");
        Loaded l;
        buf[3 + 31] = 0;
        memset(buf + 3 + 31, ']', 31);
        buf[3 + 62] = 0;
        load(&l, buf);
        assert_int_equal(l.r, 0);
        done(&l);
}

static void test_rejections(void **state) {
        expect_error("a: 1\n<<: {b: 2}\n", 2, 1, "merge keys");
        expect_error("? [a]\n: 1\n", 1, 3, "a key must be a plain string");
        expect_error("a: !!int 3\n", 1, 4, "YAML tag '!!int'");
        expect_error("a: !custom x\n", 1, 4, "YAML tag '!custom'");
        expect_error("a: \"x\\0y\"\n", 1, 4, "NUL");
        expect_error("a: 1\n---\nb: 2\n", 2, 1, "second YAML document");
        expect_error("a: [1, 2\n", 2, 1, "YAML syntax error");
        expect_error("a:\n\t- 1\n", 2, 1, "tab cannot indent");
        expect_error("", 1, 1, "file is empty");
        expect_error("# only\n# comments\n", 1, 1, "only comments");
        expect_error("~\n", 1, 1, "only comments");

        Loaded l;
        load(&l, "a: !!str 5\nb: ! x\n");
        assert_int_equal(l.d.n_errors, 0);
        assert_false(node_get(l.root, "a")->is_null);
        done(&l);
}

static void test_line_breaks(void **state) {
        Loaded l;
        /* CR LF and lone CR count as one line break each, as in libyaml. */
        load(&l, "a: 1\r\nb: 2\rc: x\n");
        assert_int_equal(l.r, 0);
        assert_int_equal(node_get(l.root, "c")->loc.line, 3);
        assert_int_equal(source_text_location(&l.src, 13).line, 3);
        done(&l);
}

/* The simple definitions of positions that source_text_location() and source_text_offset() must agree
 * with: a column counts characters (UTF-8 lead bytes) from the start of the line, 1-based. */
static Location naive_location(const SourceText *s, size_t offset) {
        size_t line = 0, start = 0;
        unsigned col = 1;

        offset = MIN(offset, s->len);
        for (size_t k = 1; k < s->n_lines && s->line_starts[k] <= offset; k++)
                line = k, start = s->line_starts[k];
        if (line == 0 && s->len >= 3 && memcmp(s->data, "\xEF\xBB\xBF", 3) == 0 && offset >= 3)
                start = 3;
        for (size_t i = start; i < offset; i++)
                col += ((unsigned char) s->data[i] & 0xC0) != 0x80;
        return (Location){ .file = s->file, .line = (unsigned) line + 1, .column = col };
}

static size_t naive_offset(const SourceText *s, size_t line, size_t column) {
        size_t i;

        if (line >= s->n_lines)
                return s->len;
        i = line == 0 && s->len >= 3 && memcmp(s->data, "\xEF\xBB\xBF", 3) == 0 ? 3 : s->line_starts[line];
        for (size_t c = 0; c < column && i < s->len; c++) {
                i++;
                while (i < s->len && ((unsigned char) s->data[i] & 0xC0) == 0x80)
                        i++;
        }
        return i;
}

/* Positions on long lines (minified JSON, YAML flow style) with multi-byte characters, a byte order mark
 * and every kind of line break, checked at every offset and every column. */
static void test_positions_on_long_lines(void **state) {
        static const char *const pieces[] = {
                "ab", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x99\x82", "{\"k\": 1}, "
        };
        for (int variant = 0; variant < 2; variant++) {
                _cleanup_free_ char *text = NULL;
                size_t len = 0;
                SourceText src;
                FILE *f = open_memstream(&text, &len);

                assert_non_null(f);
                if (variant == 1)
                        fputs("\xEF\xBB\xBF", f);
                for (int i = 0; i < 3000; i++) {
                        fputs(pieces[i % ELEMENTSOF(pieces)], f);
                        if (i % 1000 == 999)
                                fputs(i == 999 ? "\n" : i == 1999 ? "\r\n" : "\xC2\x85", f);
                }
                fputs("\r", f);
                assert_int_equal(fclose(f), 0);

                assert_int_equal(source_text_init(&src, "long.yaml", text, len, true), 0);
                assert_int_equal(src.n_lines, 5);
                for (size_t off = 0; off <= len + 2; off++) {
                        Location a = source_text_location(&src, off), b = naive_location(&src, off);
                        if (a.line != b.line || a.column != b.column)
                                fail_msg(
                                        "offset %zu: %u:%u, expected %u:%u",
                                        off,
                                        a.line,
                                        a.column,
                                        b.line,
                                        b.column);
                }
                for (size_t line = 0; line <= src.n_lines; line++)
                        for (size_t col = 0; col < 8000; col += 1 + col / 500) {
                                size_t a = source_text_offset(&src, line, col),
                                       b = naive_offset(&src, line, col);
                                if (a != b)
                                        fail_msg("%zu:%zu: offset %zu, expected %zu", line, col, a, b);
                        }
                source_text_done(&src);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tree_and_positions),
                cmocka_unit_test(test_value_location),
                cmocka_unit_test(test_duplicates),
                cmocka_unit_test(test_aliases),
                cmocka_unit_test(test_alias_bomb),
                cmocka_unit_test(test_depth),
                cmocka_unit_test(test_rejections),
                cmocka_unit_test(test_line_breaks),
                cmocka_unit_test(test_positions_on_long_lines),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

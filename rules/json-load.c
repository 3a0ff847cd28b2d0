/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * JSON → node tree. A small recursive-descent parser of our own, because jansson keeps no positions and
 * every diagnostic needs line:column. It accepts exactly RFC 8259 JSON (one value, no comments, no trailing
 * commas, no leading zeros or '+', no unescaped control characters, surrogate escapes only in valid pairs),
 * plus a leading UTF-8 byte order mark. On top of JSON it rejects what homeostat cannot use: duplicate keys
 * in an object (both places named), "\u0000" in strings, and nesting deeper than LOAD_MAX_DEPTH (which also
 * bounds the recursion). The first syntax error stops the parse: nothing after it can be trusted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "macro.h"
#include "node.h"
#include "strbuf.h"
#include "util.h"

typedef struct Parser {
        const SourceText *src;
        const LoadLimits *limits;
        Diagnostics *diags;
        size_t pos;
} Parser;

static Location here(const Parser *p, size_t off) {
        return source_text_location(p->src, off);
}

static void skip_ws(Parser *p) {
        while (p->pos < p->src->len && strchr(" \t\r\n", p->src->data[p->pos]) && p->src->data[p->pos] != 0)
                p->pos++;
}

/* Describe the character at pos for "found ..." in messages. */
static const char *found(const Parser *p, char *buf, size_t size) {
        if (p->pos >= p->src->len)
                return "the end of the file";
        unsigned char c = (unsigned char) p->src->data[p->pos];
        if (c < 0x20 || c == 0x7F)
                snprintf(buf, size, "control character 0x%02x", c);
        else if (c >= 0x80)
                snprintf(buf, size, "a non-ASCII character");
        else
                snprintf(buf, size, "'%c'", c);
        return buf;
}

static int syntax_error(Parser *p, const char *expected) {
        char buf[64];
        diag_error(
                p->diags,
                here(p, p->pos),
                "JSON syntax error: expected %s, found %s",
                expected,
                found(p, buf, sizeof(buf)));
        return -EINVAL;
}

static void drop_node(void *userdata, Node *n) {
        node_free(n);
}

static int parse_value(Parser *p, unsigned depth, Node **ret);

static int hex4(const char *s, unsigned *ret) {
        unsigned v = 0;
        for (int i = 0; i < 4; i++) {
                char c = s[i];
                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= (unsigned) (c - '0');
                else if (c >= 'a' && c <= 'f')
                        v |= (unsigned) (c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        v |= (unsigned) (c - 'A' + 10);
                else
                        return -EINVAL;
        }
        *ret = v;
        return 0;
}

static int put_utf8(StrBuf *b, uint32_t cp) {
        char out[4];
        return strbuf_append(b, out, utf8_encode(cp, out));
}

static int parse_string(Parser *p, Node **ret) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        const char *d = p->src->data;
        size_t len = p->src->len, start = p->pos;
        Node *n;

        p->pos++; /* opening quote */
        for (;;) {
                if (p->pos >= len) {
                        diag_error(p->diags, here(p, start), "JSON syntax error: string is not terminated");
                        return -EINVAL;
                }
                unsigned char c = (unsigned char) d[p->pos];
                if (c == '"')
                        break;
                if (c < 0x20) {
                        diag_error(
                                p->diags,
                                here(p, p->pos),
                                "JSON syntax error: control character 0x%02x must be escaped in a string",
                                c);
                        return -EINVAL;
                }
                if (c != '\\') {
                        if (strbuf_putc(&b, (char) c) < 0)
                                return -ENOMEM;
                        p->pos++;
                        continue;
                }
                size_t esc = p->pos;
                char e = p->pos + 1 < len ? d[p->pos + 1] : 0;
                const char *simple = strchr("\"\\/bfnrt", e);
                if (e != 0 && simple) {
                        static const char map[] = "\"\\/\b\f\n\r\t";
                        if (strbuf_putc(&b, map[simple - "\"\\/bfnrt"]) < 0)
                                return -ENOMEM;
                        p->pos += 2;
                        continue;
                }
                unsigned cp, lo;
                if (e != 'u' || p->pos + 6 > len || hex4(d + p->pos + 2, &cp) < 0) {
                        diag_error(
                                p->diags,
                                here(p, esc),
                                "JSON syntax error: invalid escape (use \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX)");
                        return -EINVAL;
                }
                p->pos += 6;
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        diag_error(
                                p->diags, here(p, esc), "JSON syntax error: \\u%04X is a lone low surrogate", cp);
                        return -EINVAL;
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                        if (p->pos + 6 > len || d[p->pos] != '\\' || d[p->pos + 1] != 'u' ||
                            hex4(d + p->pos + 2, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF) {
                                diag_error(
                                        p->diags,
                                        here(p, esc),
                                        "JSON syntax error: \\u%04X is a high surrogate without a low surrogate after it",
                                        cp);
                                return -EINVAL;
                        }
                        p->pos += 6;
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                if (cp == 0) {
                        diag_error(
                                p->diags, here(p, esc), "a NUL character (\\u0000) is not allowed in a value");
                        return -EINVAL;
                }
                if (put_utf8(&b, cp) < 0)
                        return -ENOMEM;
        }
        p->pos++; /* closing quote */

        n = node_new(NODE_SCALAR, p->src, start, here(p, start));
        if (!n)
                return -ENOMEM;
        n->style = STYLE_DOUBLE;
        n->json = true;
        n->len = b.len;
        n->value = strbuf_steal(&b);
        if (!n->value) {
                node_free(n);
                return -ENOMEM;
        }
        *ret = n;
        return 0;
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static int parse_bare(Parser *p, Node **ret) {
        const char *d = p->src->data;
        size_t len = p->src->len, start = p->pos;
        bool is_null = false;
        Node *n;

        if (d[start] == '-' || is_digit(d[start])) {
                size_t i = start;
                if (d[i] == '-')
                        i++;
                if (i >= len || !is_digit(d[i])) {
                        p->pos = i;
                        return syntax_error(p, "a digit");
                }
                if (d[i] == '0') {
                        i++;
                        if (i < len && is_digit(d[i])) {
                                diag_error(
                                        p->diags,
                                        here(p, start),
                                        "JSON syntax error: a number cannot have leading zeros");
                                return -EINVAL;
                        }
                } else
                        while (i < len && is_digit(d[i]))
                                i++;
                if (i < len && d[i] == '.') {
                        i++;
                        if (i >= len || !is_digit(d[i])) {
                                p->pos = i;
                                return syntax_error(p, "a digit after the decimal point");
                        }
                        while (i < len && is_digit(d[i]))
                                i++;
                }
                if (i < len && (d[i] == 'e' || d[i] == 'E')) {
                        i++;
                        if (i < len && (d[i] == '+' || d[i] == '-'))
                                i++;
                        if (i >= len || !is_digit(d[i])) {
                                p->pos = i;
                                return syntax_error(p, "a digit in the exponent");
                        }
                        while (i < len && is_digit(d[i]))
                                i++;
                }
                p->pos = i;
        } else if (len - start >= 4 && memcmp(d + start, "true", 4) == 0)
                p->pos += 4;
        else if (len - start >= 5 && memcmp(d + start, "false", 5) == 0)
                p->pos += 5;
        else if (len - start >= 4 && memcmp(d + start, "null", 4) == 0) {
                p->pos += 4;
                is_null = true;
        } else
                return syntax_error(p, "a value (object, array, string, number, true, false or null)");

        /* "truex" or "12abc": a literal must end here. */
        if (p->pos < len &&
            (is_digit(d[p->pos]) || (d[p->pos] >= 'a' && d[p->pos] <= 'z') ||
             (d[p->pos] >= 'A' && d[p->pos] <= 'Z') || d[p->pos] == '_' || d[p->pos] == '.')) {
                diag_error(
                        p->diags,
                        here(p, start),
                        "JSON syntax error: invalid literal '%.*s'",
                        (int) MIN(p->pos - start + 1, (size_t) 40),
                        d + start);
                return -EINVAL;
        }

        n = node_new(NODE_SCALAR, p->src, start, here(p, start));
        if (!n)
                return -ENOMEM;
        n->style = STYLE_PLAIN;
        n->json = true;
        n->is_null = is_null;
        n->len = p->pos - start;
        n->value = strndup(d + start, n->len);
        if (!n->value) {
                node_free(n);
                return -ENOMEM;
        }
        *ret = n;
        return 0;
}

static int parse_container(Parser *p, unsigned depth, Node **ret) {
        bool object = p->src->data[p->pos] == '{';
        char close = object ? '}' : ']';
        _cleanup_(node_freep) Node *n = NULL;
        int r;

        if (depth >= p->limits->max_depth) {
                diag_error(p->diags, here(p, p->pos), "nesting is deeper than %u levels", p->limits->max_depth);
                return -EINVAL;
        }
        n = node_new(object ? NODE_MAPPING : NODE_SEQUENCE, p->src, p->pos, here(p, p->pos));
        if (!n)
                return -ENOMEM;
        p->pos++;
        skip_ws(p);
        if (p->pos < p->src->len && p->src->data[p->pos] == close) {
                p->pos++;
                *ret = TAKE_PTR(n);
                return 0;
        }
        for (;;) {
                _cleanup_(node_freep) Node *key = NULL, *value = NULL;

                skip_ws(p);
                if (object) {
                        if (p->pos >= p->src->len || p->src->data[p->pos] != '"')
                                return syntax_error(p, "a member name in double quotes");
                        r = parse_string(p, &key);
                        if (r < 0)
                                return r;
                        skip_ws(p);
                        if (p->pos >= p->src->len || p->src->data[p->pos] != ':')
                                return syntax_error(p, "':' after the member name");
                        p->pos++;
                        skip_ws(p);
                }
                r = parse_value(p, depth + 1, &value);
                if (r < 0)
                        return r;
                if (object) {
                        r = node_append_pair(n, key, value);
                        if (r < 0)
                                return r;
                        TAKE_PTR(key);
                } else {
                        r = node_append_item(n, value);
                        if (r < 0)
                                return r;
                }
                TAKE_PTR(value);
                skip_ws(p);
                if (p->pos < p->src->len && p->src->data[p->pos] == ',') {
                        p->pos++;
                        skip_ws(p);
                        if (p->pos < p->src->len && p->src->data[p->pos] == close) {
                                diag_error(
                                        p->diags,
                                        here(p, p->pos - 1),
                                        "JSON syntax error: trailing comma before '%c'",
                                        close);
                                return -EINVAL;
                        }
                        continue;
                }
                if (p->pos < p->src->len && p->src->data[p->pos] == close) {
                        p->pos++;
                        break;
                }
                return syntax_error(
                        p, object ? "',' or '}' after an object member" : "',' or ']' after an array element");
        }
        if (object) {
                r = node_dedup_keys(n, p->diags, drop_node, NULL);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(n);
        return 0;
}

static int parse_value(Parser *p, unsigned depth, Node **ret) {
        skip_ws(p);
        if (p->pos >= p->src->len)
                return syntax_error(p, "a value");
        switch (p->src->data[p->pos]) {
        case '{':
        case '[':
                return parse_container(p, depth, ret);
        case '"':
                return parse_string(p, ret);
        default:
                return parse_bare(p, ret);
        }
}

static bool only_ws(const char *s, size_t len) {
        for (size_t i = 0; i < len; i++)
                if (!strchr(" \t\r\n", s[i]) || s[i] == 0)
                        return false;
        return true;
}

int json_load_document(const SourceText *src, const LoadLimits *limits, Diagnostics *diags, Node **ret) {
        Parser p = { .src = src, .limits = limits, .diags = diags };
        _cleanup_(node_freep) Node *root = NULL;
        int r;

        if (src->len >= 3 && memcmp(src->data, "\xEF\xBB\xBF", 3) == 0)
                p.pos = 3;
        if (only_ws(src->data + p.pos, src->len - p.pos)) {
                diag_error(
                        diags,
                        ((Location){ .file = src->file, .line = 1, .column = 1 }),
                        "file is empty: it holds no configuration");
                return -ENODATA;
        }
        r = parse_value(&p, 0, &root);
        if (r < 0)
                return r;
        skip_ws(&p);
        if (p.pos < src->len)
                return syntax_error(&p, "the end of the file after the top-level value");
        if (root->kind == NODE_SCALAR && root->is_null) {
                diag_error(diags, root->loc, "file holds only null: no configuration");
                return -ENODATA;
        }
        *ret = TAKE_PTR(root);
        return 0;
}

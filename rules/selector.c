/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Prometheus series selectors: `name{label="v",l=~"re",x!="y",z!~"re"}` and `{__name__="x"}`.
 *
 * Label values are quoted with "", '' or `` (raw) and take Go/PromQL escapes (\n \t \\ \" \' \xHH \NNN
 * \uHHHH \UHHHHHHHH) in the first two. Regexes are POSIX extended regular expressions, matched against the
 * whole label value (compiled as ^(re)$, so "api" does not match "api-2"), and compiled once at load time.
 * Users arrive with RE2 habits from Prometheus; the constructs that POSIX does not have (\d \w \s \b,
 * (?i), (?:, lazy quantifiers, \p{..}) are errors that name the POSIX spelling, because glibc would
 * otherwise accept some of them with a different meaning.
 *
 * Every syntax error carries the byte offset in the selector text where it was found, so the caller can
 * point at the exact column in the rule file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "rules.h"
#include "selector-internal.h"
#include "strbuf.h"
#include "util.h"

typedef struct SelParser {
        const char *text;
        size_t pos;
        char *error;
        size_t error_offset;
} SelParser;

static int fail(SelParser *p, size_t offset, const char *fmt, ...) _printf_(3, 4);
static int fail(SelParser *p, size_t offset, const char *fmt, ...) {
        va_list ap;

        if (!p->error) {
                va_start(ap, fmt);
                if (vasprintf(&p->error, fmt, ap) < 0)
                        p->error = NULL;
                va_end(ap);
                p->error_offset = offset;
        }
        return -EINVAL;
}

static void free_matcher(LabelMatcher *m) {
        free(m->name);
        free(m->value);
        if (m->regex) {
                regfree(m->regex);
                free(m->regex);
        }
}

Selector *selector_free(Selector *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_matchers; i++)
                free_matcher(&s->matchers[i]);
        free(s->matchers);
        free(s->metric);
        free(s->text);
        free(s);
        return NULL;
}

static bool is_alpha_(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static void skip_ws(SelParser *p) {
        while (p->text[p->pos] == ' ' || p->text[p->pos] == '\t' || p->text[p->pos] == '\n' ||
               p->text[p->pos] == '\r')
                p->pos++;
}

bool metric_name_is_valid(const char *s) {
        if (!s || !(is_alpha_(*s) || *s == ':'))
                return false;
        for (s++; *s; s++)
                if (!is_alpha_(*s) && !is_digit(*s) && *s != ':')
                        return false;
        return true;
}

bool label_name_is_valid(const char *s) {
        if (!s || !is_alpha_(*s))
                return false;
        for (s++; *s; s++)
                if (!is_alpha_(*s) && !is_digit(*s))
                        return false;
        return true;
}

static unsigned hexval(char c) {
        if (is_digit(c))
                return (unsigned) (c - '0');
        if (c >= 'a' && c <= 'f')
                return (unsigned) (c - 'a' + 10);
        if (c >= 'A' && c <= 'F')
                return (unsigned) (c - 'A' + 10);
        return 16;
}

static int put_utf8(StrBuf *b, uint32_t cp) {
        char out[4];
        return strbuf_append(b, out, utf8_encode(cp, out));
}

/* Record that the next `n` value bytes came from text offset `at`. */
static int map_push(size_t **map, size_t *n_map, size_t *alloc, size_t at, size_t n) {
        if (GREEDY_REALLOC(*map, *alloc, *n_map + n + 1) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                (*map)[(*n_map)++] = at;
        return 0;
}

/* Parse a quoted label value at p->pos. *ret_map[i] is the text offset that produced value byte i (one
 * extra entry for the end), for pointing at regex problems. */
static int parse_string(SelParser *p, char **ret, size_t **ret_map) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        _cleanup_free_ size_t *map = NULL;
        size_t n_map = 0, alloc = 0, start = p->pos;
        char q = p->text[p->pos];

        if (q != '"' && q != '\'' && q != '`')
                return fail(p, p->pos, "expected a quoted label value (\"...\")");
        p->pos++;
        for (;;) {
                char c = p->text[p->pos];
                size_t at = p->pos;

                if (c == 0)
                        return fail(p, start, "label value is not terminated (missing closing %c)", q);
                if (c == q)
                        break;
                if ((c == '\n' || c == '\r') && q != '`')
                        return fail(p, at, "a line break in a label value must be written as \\n");
                if (c != '\\' || q == '`') {
                        if (strbuf_putc(&b, c) < 0 || map_push(&map, &n_map, &alloc, at, 1) < 0)
                                return -ENOMEM;
                        p->pos++;
                        continue;
                }
                char e = p->text[p->pos + 1];
                const char *simple = e ? strchr("abfnrtv\\'\"", e) : NULL;
                if (simple) {
                        static const char out[] = "\a\b\f\n\r\t\v\\'\"";
                        if (strbuf_putc(&b, out[simple - "abfnrtv\\'\""]) < 0 ||
                            map_push(&map, &n_map, &alloc, at, 1) < 0)
                                return -ENOMEM;
                        p->pos += 2;
                        continue;
                }
                unsigned digits = e == 'x'       ? 2
                        : e == 'u'               ? 4
                        : e == 'U'               ? 8
                        : (e >= '0' && e <= '7') ? 3
                                                 : 0;
                if (digits == 0) {
                        /* "5\d" in a selector is almost always an RE2 habit, not a typo in an escape. */
                        char two[3] = { '\\', e, 0 };
                        size_t off;
                        const char *re2 = e ? regex_posix_problem(two, &off) : NULL;
                        if (re2 && !streq(re2, "regex ends with a lone backslash"))
                                return fail(p, at, "%s", re2);
                        return fail(
                                p,
                                at,
                                "unknown escape '\\%c' in a label value (a backslash itself is written \\\\)",
                                e ? e : ' ');
                }
                unsigned cp = 0, base = (e >= '0' && e <= '7') ? 8 : 16;
                size_t first = base == 8 ? p->pos + 1 : p->pos + 2;
                for (unsigned k = 0; k < digits; k++) {
                        unsigned h = hexval(p->text[first + k]);
                        if (h >= base)
                                return fail(
                                        p, at, "escape needs %u %s digits", digits, base == 8 ? "octal" : "hex");
                        cp = cp * base + h;
                }
                if (cp == 0)
                        return fail(p, at, "a NUL character is not allowed in a label value");
                size_t before = b.len;
                if (e == 'x' || base == 8) {
                        if (cp > 0xFF)
                                return fail(p, at, "octal escape is larger than \\377");
                        if (cp >= 0x80)
                                return fail(
                                        p,
                                        at,
                                        "byte escape \\%c... makes invalid UTF-8; write the character itself or use \\u",
                                        e);
                        if (strbuf_putc(&b, (char) cp) < 0)
                                return -ENOMEM;
                } else {
                        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                                return fail(p, at, "escape is not a valid Unicode character");
                        if (put_utf8(&b, cp) < 0)
                                return -ENOMEM;
                }
                if (map_push(&map, &n_map, &alloc, at, b.len - before) < 0)
                        return -ENOMEM;
                p->pos = first + digits;
        }
        if (map_push(&map, &n_map, &alloc, p->pos, 1) < 0)
                return -ENOMEM;
        p->pos++;
        if (strbuf_failed(&b))
                return -ENOMEM;
        *ret = strbuf_steal(&b);
        if (!*ret)
                return -ENOMEM;
        *ret_map = TAKE_PTR(map);
        return 0;
}

/* Find RE2/PCRE constructs that POSIX ERE lacks. Returns NULL if none, else a message, with *ret_off the
 * offset in re. */
const char *regex_posix_problem(const char *re, size_t *ret_off) {
        bool in_bracket = false;
        size_t bracket_start = 0;

        for (size_t i = 0; re[i]; i++) {
                char c = re[i];
                if (in_bracket) {
                        if (c == '[' && (re[i + 1] == ':' || re[i + 1] == '.' || re[i + 1] == '=')) {
                                char close = re[i + 1];
                                const char *end = strchr(re + i + 2, close);
                                while (end && end[1] != ']')
                                        end = strchr(end + 1, close);
                                if (end)
                                        i = (size_t) (end + 1 - re);
                                continue;
                        }
                        if (c == ']' && i > bracket_start + 1 &&
                            !(i == bracket_start + 2 && re[bracket_start + 1] == '^')) {
                                in_bracket = false;
                                continue;
                        }
                        if (c == '\\' && re[i + 1] && strchr("dDwWsSpP", re[i + 1])) {
                                *ret_off = i;
                                return "inside [...] a backslash is an ordinary character in POSIX regexes, so "
                                       "'\\d' there means '\\' or 'd'; use a class such as [:digit:], [:alpha:], "
                                       "[:alnum:] or [:space:] (e.g. [[:digit:]_])";
                        }
                        continue;
                }
                switch (c) {
                case '[':
                        in_bracket = true;
                        bracket_start = i;
                        break;
                case '\\': {
                        char e = re[i + 1];
                        *ret_off = i;
                        switch (e) {
                        case 'd':
                                return "'\\d' is RE2/PCRE syntax; POSIX regexes write [0-9] (or [[:digit:]])";
                        case 'D':
                                return "'\\D' is RE2/PCRE syntax; POSIX regexes write [^0-9]";
                        case 'w':
                                return "'\\w' is RE2/PCRE syntax; POSIX regexes write [[:alnum:]_]";
                        case 'W':
                                return "'\\W' is RE2/PCRE syntax; POSIX regexes write [^[:alnum:]_]";
                        case 's':
                                return "'\\s' is RE2/PCRE syntax; POSIX regexes write [[:space:]]";
                        case 'S':
                                return "'\\S' is RE2/PCRE syntax; POSIX regexes write [^[:space:]]";
                        case 'b':
                        case 'B':
                        case 'A':
                        case 'z':
                        case 'Z':
                        case '<':
                        case '>':
                                return "word boundaries and \\A \\z are not POSIX; selector regexes already match the whole "
                                       "label value, so anchors are not needed";
                        case 'p':
                        case 'P':
                                return "'\\p{...}' Unicode classes are RE2/PCRE syntax; POSIX regexes use [[:alpha:]], "
                                       "[[:upper:]], [[:lower:]] and the like";
                        case 0:
                                return "regex ends with a lone backslash";
                        default:
                                i++; /* an escaped ordinary character */
                        }
                        break;
                }
                case '(':
                        if (re[i + 1] == '?') {
                                *ret_off = i;
                                if (re[i + 2] == ':')
                                        return "'(?:' non-capturing groups are RE2/PCRE syntax; POSIX regexes use plain ( )";
                                if (re[i + 2] == '=' || re[i + 2] == '!' || re[i + 2] == '<')
                                        return "lookaround '(?=', '(?!', '(?<' is not available in POSIX regexes (nor in RE2)";
                                return "'(?' flags such as (?i) are RE2/PCRE syntax; POSIX regexes have none: for case "
                                       "insensitivity write both cases, e.g. [Ee]rror";
                        }
                        break;
                case '*':
                case '+':
                case '?':
                case '}':
                        if (re[i + 1] == '?' && (c != '}' || i > 0)) {
                                *ret_off = i;
                                return "lazy quantifiers ('*?', '+?', '?\?') are RE2/PCRE syntax; POSIX quantifiers are "
                                       "greedy and the match is anchored, so drop the '?'";
                        }
                        if (c != '?' && c != '}' && re[i + 1] == '+') {
                                *ret_off = i;
                                return "possessive quantifiers ('*+', '++') are not POSIX; drop the second '+'";
                        }
                        break;
                default:
                        break;
                }
        }
        return NULL;
}

static int compile_regex(SelParser *p, LabelMatcher *m, const size_t *map) {
        _cleanup_free_ char *anchored = NULL;
        const char *problem;
        size_t off = 0;
        int r;

        problem = regex_posix_problem(m->value, &off);
        if (problem)
                return fail(p, map[off], "%s", problem);
        if (asprintf(&anchored, "^(%s)$", m->value) < 0)
                return -ENOMEM;
        m->regex = calloc(1, sizeof(regex_t));
        if (!m->regex)
                return -ENOMEM;
        r = regcomp(m->regex, anchored, REG_EXTENDED | REG_NOSUB);
        if (r != 0) {
                char buf[256];
                regerror(r, m->regex, buf, sizeof(buf));
                free(m->regex);
                m->regex = NULL;
                return fail(
                        p, map[0] > 0 ? map[0] - 1 : 0, "invalid regular expression \"%s\": %s", m->value, buf);
        }
        return 0;
}

static bool matcher_matches(const LabelMatcher *m, const char *v) {
        switch (m->op) {
        case MATCH_EQUAL:
                return streq(v, m->value);
        case MATCH_NOT_EQUAL:
                return !streq(v, m->value);
        case MATCH_REGEX:
                return m->regex && regexec(m->regex, v, 0, NULL, 0) == 0;
        case MATCH_NOT_REGEX:
                return m->regex && regexec(m->regex, v, 0, NULL, 0) != 0;
        default:
                return false;
        }
}

static int parse_matcher(SelParser *p, Selector *s) {
        _cleanup_free_ char *name = NULL, *value = NULL;
        _cleanup_free_ size_t *map = NULL;
        size_t name_start = p->pos, op_start, value_start;
        MatchOp op;
        int r;

        if (!is_alpha_(p->text[p->pos])) {
                if (p->text[p->pos] == '"')
                        return fail(p, p->pos, "expected a label name; quoted label names are not supported");
                return fail(p, p->pos, "expected a label name ([a-zA-Z_][a-zA-Z0-9_]*)");
        }
        while (is_alpha_(p->text[p->pos]) || is_digit(p->text[p->pos]))
                p->pos++;
        name = strndup(p->text + name_start, p->pos - name_start);
        if (!name)
                return -ENOMEM;
        skip_ws(p);
        op_start = p->pos;
        if (p->text[p->pos] == '=' && p->text[p->pos + 1] == '~') {
                op = MATCH_REGEX;
                p->pos += 2;
        } else if (p->text[p->pos] == '!' && p->text[p->pos + 1] == '~') {
                op = MATCH_NOT_REGEX;
                p->pos += 2;
        } else if (p->text[p->pos] == '!' && p->text[p->pos + 1] == '=') {
                op = MATCH_NOT_EQUAL;
                p->pos += 2;
        } else if (p->text[p->pos] == '=' && p->text[p->pos + 1] == '=') {
                return fail(p, op_start, "'==' is not a label matcher; use '='");
        } else if (p->text[p->pos] == '=') {
                op = MATCH_EQUAL;
                p->pos++;
        } else
                return fail(p, op_start, "expected a matcher after label '%s' (=, !=, =~ or !~)", name);
        skip_ws(p);
        value_start = p->pos;
        r = parse_string(p, &value, &map);
        if (r < 0)
                return r;

        if (startswith(name, "__") && !streq(name, "__name__"))
                return fail(p, name_start, "label names starting with '__' are reserved ('%s')", name);
        if (streq(name, "__name__")) {
                if (s->metric)
                        return fail(p, name_start, "metric name given twice (before '{' and as __name__)");
                if (op == MATCH_EQUAL && !metric_name_is_valid(value))
                        return fail(p, map[0], "'%s' is not a valid metric name", value);
        }

        LabelMatcher *ms = reallocarray(s->matchers, s->n_matchers + 1, sizeof(LabelMatcher));
        if (!ms)
                return -ENOMEM;
        s->matchers = ms;
        LabelMatcher *m = &s->matchers[s->n_matchers++];
        *m = (LabelMatcher){
                .name = TAKE_PTR(name),
                .op = op,
                .value = TAKE_PTR(value),
                .name_offset = name_start,
                .value_offset = value_start,
        };
        if (op == MATCH_REGEX || op == MATCH_NOT_REGEX)
                return compile_regex(p, m, map);
        return 0;
}

int selector_parse(const char *text, Selector **ret, char **ret_error, size_t *ret_error_offset) {
        SelParser p = { .text = text };
        Selector *s;
        int r = 0;

        s = calloc(1, sizeof(Selector));
        if (!s)
                return -ENOMEM;
        s->text = strdup(text);
        if (!s->text) {
                r = -ENOMEM;
                goto finish;
        }
        skip_ws(&p);
        if (text[p.pos] == 0) {
                r = fail(&p, 0, "empty selector");
                goto finish;
        }
        if (is_alpha_(text[p.pos]) || text[p.pos] == ':') {
                size_t start = p.pos;
                while (is_alpha_(text[p.pos]) || is_digit(text[p.pos]) || text[p.pos] == ':')
                        p.pos++;
                s->metric = strndup(text + start, p.pos - start);
                if (!s->metric) {
                        r = -ENOMEM;
                        goto finish;
                }
                skip_ws(&p);
                if (text[p.pos] == '(') {
                        r = fail(
                                &p,
                                start,
                                "functions such as '%s(...)' are not selectors; homeostat computes rates itself "
                                "(see 'transform')",
                                s->metric);
                        goto finish;
                }
        } else if (text[p.pos] != '{') {
                r = fail(&p, p.pos, "expected a metric name or '{'");
                goto finish;
        }
        if (text[p.pos] == '{') {
                p.pos++;
                skip_ws(&p);
                while (text[p.pos] != '}') {
                        r = parse_matcher(&p, s);
                        if (r < 0)
                                goto finish;
                        skip_ws(&p);
                        if (text[p.pos] == ',') {
                                p.pos++;
                                skip_ws(&p);
                                continue;
                        }
                        if (text[p.pos] != '}') {
                                r = fail(
                                        &p,
                                        p.pos,
                                        text[p.pos] ? "expected ',' or '}' after a label matcher"
                                                    : "selector is not closed: missing '}'");
                                goto finish;
                        }
                }
                p.pos++;
                skip_ws(&p);
        }
        if (text[p.pos] == '[') {
                r = fail(
                        &p,
                        p.pos,
                        "range selectors ('[5m]') are not used: rules see every sample; use 'for' to require "
                        "a condition for some time");
                goto finish;
        }
        if (text[p.pos] != 0) {
                r = fail(&p, p.pos, "unexpected '%c' after the selector", text[p.pos]);
                goto finish;
        }
        /* Like Prometheus: a selector must not match every series. */
        if (!s->metric) {
                bool some = false;
                for (size_t i = 0; i < s->n_matchers; i++)
                        if (!matcher_matches(&s->matchers[i], ""))
                                some = true;
                if (!some) {
                        r = fail(
                                &p,
                                0,
                                "selector needs a metric name or a matcher that does not match the empty string "
                                "(it would match every series)");
                        goto finish;
                }
        }

finish:
        if (r < 0) {
                selector_free(s);
                if (ret_error)
                        *ret_error = TAKE_PTR(p.error);
                if (ret_error_offset)
                        *ret_error_offset = p.error_offset;
                free(p.error);
                return r;
        }
        *ret = s;
        return 0;
}

static const char *label_value(const char *metric, const Label *labels, size_t n_labels, const char *name) {
        if (streq(name, "__name__"))
                return metric ?: "";
        for (size_t i = 0; i < n_labels; i++)
                if (streq(labels[i].name, name))
                        return labels[i].value ?: "";
        return "";
}

bool selector_matches(const Selector *s, const char *metric, const Label *labels, size_t n_labels) {
        if (!s)
                return false;
        if (s->metric && !streq_ptr(s->metric, metric))
                return false;
        for (size_t i = 0; i < s->n_matchers; i++)
                if (!matcher_matches(
                            &s->matchers[i], label_value(metric, labels, n_labels, s->matchers[i].name)))
                        return false;
        return true;
}

const char *selector_pinned_value(const Selector *s, const char *label) {
        if (!s || !label)
                return NULL;
        if (streq(label, "__name__") && s->metric)
                return s->metric;
        for (size_t i = 0; i < s->n_matchers; i++)
                if (s->matchers[i].op == MATCH_EQUAL && streq(s->matchers[i].name, label))
                        return s->matchers[i].value;
        return NULL;
}

bool selector_constrains(const Selector *s, const char *label) {
        if (!s || !label)
                return false;
        if (streq(label, "__name__") && s->metric)
                return true;
        for (size_t i = 0; i < s->n_matchers; i++)
                if ((s->matchers[i].op == MATCH_EQUAL || s->matchers[i].op == MATCH_REGEX) &&
                    streq(s->matchers[i].name, label))
                        return true;
        return false;
}

static const char *const match_op_str[_MATCH_OP_MAX] = {
        [MATCH_EQUAL] = "=",
        [MATCH_NOT_EQUAL] = "!=",
        [MATCH_REGEX] = "=~",
        [MATCH_NOT_REGEX] = "!~",
};

static int cmp_matcher(const void *a, const void *b) {
        const LabelMatcher *x = *(const LabelMatcher *const *) a, *y = *(const LabelMatcher *const *) b;
        int c = strcmp(x->name, y->name);
        if (c != 0)
                return c;
        if (x->op != y->op)
                return x->op < y->op ? -1 : 1;
        return strcmp(x->value, y->value);
}

int selector_format_normalized(const Selector *s, StrBuf *b) {
        _cleanup_free_ const LabelMatcher **sorted = NULL;

        if (s->n_matchers > 0) {
                sorted = calloc(s->n_matchers, sizeof(LabelMatcher *));
                if (!sorted)
                        return -ENOMEM;
                for (size_t i = 0; i < s->n_matchers; i++)
                        sorted[i] = &s->matchers[i];
                qsort(sorted, s->n_matchers, sizeof(LabelMatcher *), cmp_matcher);
        }
        strbuf_puts(b, strempty(s->metric));
        strbuf_putc(b, '{');
        for (size_t i = 0; i < s->n_matchers; i++) {
                if (i > 0)
                        strbuf_putc(b, ',');
                strbuf_puts(b, sorted[i]->name);
                strbuf_puts(b, match_op_str[sorted[i]->op]);
                strbuf_putc(b, '"');
                for (const char *c = sorted[i]->value; *c; c++) {
                        if (*c == '"' || *c == '\\')
                                strbuf_putc(b, '\\');
                        if (*c == '\n')
                                strbuf_puts(b, "\\n");
                        else
                                strbuf_putc(b, *c);
                }
                strbuf_putc(b, '"');
        }
        strbuf_putc(b, '}');
        return strbuf_failed(b) ? -ENOMEM : 0;
}

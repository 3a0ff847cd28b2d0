/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Template parsing, expansion and target validation; see template.h.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "selector-internal.h"
#include "strbuf.h"
#include "template.h"
#include "util.h"

static const char *const var_names[_TEMPLATE_VAR_MAX] = {
        [TEMPLATE_VAR_LABEL] = "labels.NAME", [TEMPLATE_VAR_RULE] = "rule",
        [TEMPLATE_VAR_SERIES] = "series",     [TEMPLATE_VAR_VALUE] = "value",
        [TEMPLATE_VAR_EXPECTED] = "expected", [TEMPLATE_VAR_INCIDENT] = "incident",
};

void template_refs_free(TemplateRef *refs, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(refs[i].label);
        free(refs);
}

static int set_error(char **ret_error, size_t *ret_off, size_t off, const char *fmt, ...) _printf_(4, 5);
static int set_error(char **ret_error, size_t *ret_off, size_t off, const char *fmt, ...) {
        va_list ap;
        if (ret_error) {
                va_start(ap, fmt);
                if (vasprintf(ret_error, fmt, ap) < 0)
                        *ret_error = NULL;
                va_end(ap);
        }
        if (ret_off)
                *ret_off = off;
        return -EINVAL;
}

/* Walk the text; for each ${...} call back with the variable. Shared by parse and expand so that both
 * agree on the syntax. */
typedef int (*ref_cb)(void *userdata, TemplateVarKind kind, const char *label, size_t label_len, size_t offset);
typedef int (*lit_cb)(void *userdata, const char *s, size_t len);

static int walk(
        const char *text, ref_cb on_ref, lit_cb on_lit, void *userdata, char **ret_error, size_t *ret_off) {
        size_t i = 0, lit = 0;
        int r;

        while (text[i]) {
                if (text[i] != '$') {
                        i++;
                        continue;
                }
                if (text[i + 1] == '$') {
                        /* "$$" → "$" */
                        r = on_lit(userdata, text + lit, i + 1 - lit);
                        if (r < 0)
                                return r;
                        i += 2;
                        lit = i;
                        continue;
                }
                if (text[i + 1] != '{') {
                        i++;
                        continue;
                }
                r = on_lit(userdata, text + lit, i - lit);
                if (r < 0)
                        return r;
                size_t start = i, name = i + 2;
                const char *close = strchr(text + name, '}');
                if (!close)
                        return set_error(
                                ret_error,
                                ret_off,
                                start,
                                "'${' is not closed by '}' (write '$$' for a literal '$')");
                size_t len = (size_t) (close - (text + name));
                const char *v = text + name;
                TemplateVarKind kind = _TEMPLATE_VAR_MAX;
                const char *label = NULL;
                size_t label_len = 0;
                if (len > 7 && strneq(v, "labels.", 7)) {
                        kind = TEMPLATE_VAR_LABEL;
                        label = v + 7;
                        label_len = len - 7;
                        bool ok = (label[0] >= 'a' && label[0] <= 'z') ||
                                (label[0] >= 'A' && label[0] <= 'Z') || label[0] == '_';
                        for (size_t k = 1; ok && k < label_len; k++)
                                ok = (label[k] >= 'a' && label[k] <= 'z') ||
                                        (label[k] >= 'A' && label[k] <= 'Z') ||
                                        (label[k] >= '0' && label[k] <= '9') || label[k] == '_';
                        if (!ok)
                                return set_error(
                                        ret_error,
                                        ret_off,
                                        name + 7,
                                        "'%.*s' is not a label name",
                                        (int) MIN(label_len, (size_t) 64),
                                        label);
                } else
                        for (TemplateVarKind k = TEMPLATE_VAR_RULE; k < _TEMPLATE_VAR_MAX; k++)
                                if (len == strlen(var_names[k]) && strneq(v, var_names[k], len))
                                        kind = k;
                if (kind == _TEMPLATE_VAR_MAX) {
                        _cleanup_free_ char *word = strndup(v, MIN(len, (size_t) 64));
                        const char *best = NULL;
                        size_t best_d = SIZE_MAX;
                        if (!word)
                                return -ENOMEM;
                        for (TemplateVarKind k = TEMPLATE_VAR_RULE; k < _TEMPLATE_VAR_MAX; k++) {
                                size_t d = string_distance(word, var_names[k]);
                                if (d < best_d) {
                                        best_d = d;
                                        best = var_names[k];
                                }
                        }
                        if (startswith(word, "label") || string_distance(word, "labels") <= 2)
                                return set_error(
                                        ret_error,
                                        ret_off,
                                        name,
                                        "unknown template variable '${%s}': a label is written ${labels.NAME}",
                                        word);
                        if (best && best_d <= 2)
                                return set_error(
                                        ret_error,
                                        ret_off,
                                        name,
                                        "unknown template variable '${%s}'; did you mean '${%s}'?",
                                        word,
                                        best);
                        return set_error(
                                ret_error,
                                ret_off,
                                name,
                                "unknown template variable '${%s}' (known: ${labels.NAME}, ${rule}, ${series}, "
                                "${value}, ${expected}, ${incident})",
                                word);
                }
                r = on_ref(userdata, kind, label, label_len, start);
                if (r < 0)
                        return r;
                i = name + len + 1;
                lit = i;
        }
        return on_lit(userdata, text + lit, i - lit);
}

typedef struct ParseState {
        TemplateRef *refs;
        size_t n_refs;
} ParseState;

static int parse_ref(void *userdata, TemplateVarKind kind, const char *label, size_t label_len, size_t offset) {
        ParseState *st = userdata;
        TemplateRef *refs = reallocarray(st->refs, st->n_refs + 1, sizeof(TemplateRef));
        if (!refs)
                return -ENOMEM;
        st->refs = refs;
        refs[st->n_refs] = (TemplateRef){ .kind = kind, .offset = offset };
        if (label) {
                refs[st->n_refs].label = strndup(label, label_len);
                if (!refs[st->n_refs].label)
                        return -ENOMEM;
        }
        st->n_refs++;
        return 0;
}

static int parse_lit(void *userdata, const char *s, size_t len) {
        return 0;
}

int template_parse(
        const char *text, TemplateRef **ret_refs, size_t *ret_n_refs, char **ret_error, size_t *ret_error_offset) {
        ParseState st = {};
        int r;

        if (ret_error)
                *ret_error = NULL;
        r = walk(text, parse_ref, parse_lit, &st, ret_error, ret_error_offset);
        if (r < 0) {
                template_refs_free(st.refs, st.n_refs);
                return r;
        }
        if (ret_refs) {
                *ret_refs = st.refs;
                if (ret_n_refs)
                        *ret_n_refs = st.n_refs;
        } else
                template_refs_free(st.refs, st.n_refs);
        return 0;
}

/* Shortest "%.*g" that reads back as the same double. */
static void format_number(char *buf, size_t size, double v) {
        if (isnan(v)) {
                snprintf(buf, size, "NaN");
                return;
        }
        if (isinf(v)) {
                snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
                return;
        }
        for (int prec = 1; prec <= 17; prec++) {
                snprintf(buf, size, "%.*g", prec, v);
                if (double_eq(strtod(buf, NULL), v))
                        return;
        }
}

typedef struct ExpandState {
        const TemplateVars *vars;
        TemplateTarget where;
        StrBuf out;
} ExpandState;

static const char *lookup_label(const TemplateVars *v, const char *name, size_t len) {
        for (size_t i = 0; i < v->n_labels; i++)
                if (v->labels[i].name && strlen(v->labels[i].name) == len &&
                    strneq(v->labels[i].name, name, len))
                        return strempty(v->labels[i].value);
        return "";
}

static int put_value(ExpandState *st, const char *s) {
        if (st->where != TEMPLATE_URL)
                return strbuf_puts(&st->out, s);
        /* RFC 3986 unreserved characters stay; everything else is percent-encoded. */
        for (const unsigned char *c = (const unsigned char *) s; *c; c++) {
                if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
                    *c == '-' || *c == '.' || *c == '_' || *c == '~')
                        strbuf_putc(&st->out, (char) *c);
                else
                        strbuf_printf(&st->out, "%%%02X", *c);
        }
        return strbuf_failed(&st->out) ? -ENOMEM : 0;
}

static int expand_ref(void *userdata, TemplateVarKind kind, const char *label, size_t label_len, size_t offset) {
        ExpandState *st = userdata;
        const TemplateVars *v = st->vars;
        char num[64];

        switch (kind) {
        case TEMPLATE_VAR_LABEL:
                return put_value(st, lookup_label(v, label, label_len));
        case TEMPLATE_VAR_RULE:
                return put_value(st, strempty(v->rule));
        case TEMPLATE_VAR_SERIES:
                return put_value(st, strempty(v->series));
        case TEMPLATE_VAR_INCIDENT:
                return put_value(st, strempty(v->incident));
        case TEMPLATE_VAR_VALUE:
                format_number(num, sizeof(num), v->value);
                return put_value(st, num);
        case TEMPLATE_VAR_EXPECTED:
                format_number(num, sizeof(num), v->expected);
                return put_value(st, num);
        default:
                return -EINVAL;
        }
}

static int expand_lit(void *userdata, const char *s, size_t len) {
        ExpandState *st = userdata;
        return strbuf_append(&st->out, s, len);
}

static const char *const unit_suffixes[] = {
        ".service", ".socket", ".target",    ".timer", ".path",   ".slice",
        ".scope",   ".mount",  ".automount", ".swap",  ".device",
};

static bool unit_name_check(const char *s, bool glob) {
        size_t len = s ? strlen(s) : 0;
        const char *dot, *at;
        bool suffix_ok = false;

        if (len == 0 || len > 255)
                return false;
        for (const char *c = s; *c; c++) {
                bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                        strchr(":_.\\-@", *c) || (glob && strchr("*?[]!", *c));
                if (!ok)
                        return false;
        }
        dot = strrchr(s, '.');
        if (!dot)
                return glob && streq(s, "*");
        for (size_t i = 0; i < ELEMENTSOF(unit_suffixes); i++)
                if (streq(dot, unit_suffixes[i]))
                        suffix_ok = true;
        if (!suffix_ok && !(glob && strpbrk(dot, "*?[")))
                return false;
        if (dot == s)
                return false;
        at = strchr(s, '@');
        if (at) {
                if (at == s || strchr(at + 1, '@'))
                        return false;
                /* An instance name must follow the '@' (no bare templates such as foo@.service). */
                if (!glob && at + 1 == dot)
                        return false;
        }
        return true;
}

bool unit_name_is_valid(const char *s) {
        return unit_name_check(s, false);
}

bool unit_glob_is_valid(const char *s) {
        return unit_name_check(s, true);
}

static bool server_is_valid(const char *s) {
        const char *slash = strchr(s, '/');
        if (!slash || slash == s || slash[1] == 0 || strchr(slash + 1, '/'))
                return false;
        for (const unsigned char *c = (const unsigned char *) s; *c; c++)
                if (*c <= ' ' || *c == ';' || *c == 0x7F)
                        return false;
        return true;
}

static bool url_is_acceptable(const char *s) {
        const char *rest = startswith(s, "http://") ?: startswith(s, "https://");
        if (!rest || !*rest || *rest == '/')
                return false;
        for (const unsigned char *c = (const unsigned char *) s; *c; c++)
                if (*c <= ' ' || *c == 0x7F)
                        return false;
        return true;
}

int template_expand(const Template *t, const TemplateVars *vars, TemplateTarget where, char **ret) {
        ExpandState st = { .vars = vars, .where = where, .out = STRBUF_INIT };
        _cleanup_free_ char *s = NULL;
        int r;

        if (!t || !vars || where < 0 || where >= _TEMPLATE_TARGET_MAX)
                return -EINVAL;
        r = walk(t->text ?: "", expand_ref, expand_lit, &st, NULL, NULL);
        if (r < 0 || strbuf_failed(&st.out)) {
                strbuf_done(&st.out);
                return r == -EINVAL ? -EBADMSG : -ENOMEM;
        }
        s = strbuf_steal(&st.out);
        if (!s)
                return -ENOMEM;

        switch (where) {
        case TEMPLATE_UNIT:
                if (!unit_name_is_valid(s))
                        return -EINVAL;
                break;
        case TEMPLATE_SERVER:
                if (!server_is_valid(s))
                        return -EINVAL;
                break;
        case TEMPLATE_URL:
                if (!url_is_acceptable(s))
                        return -EINVAL;
                break;
        case TEMPLATE_HEADER:
                if (strpbrk(s, "\r\n"))
                        return -EINVAL;
                break;
        case TEMPLATE_ARGV: /* a C string cannot hold NUL; nothing else is special without a shell */
        case TEMPLATE_BODY:
        default:
                break;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

bool step_target_allowed(const Step *s, const char *expanded) {
        if (!s || !expanded)
                return false;
        if (s->n_targets == 0)
                return true;
        for (size_t i = 0; i < s->n_targets; i++)
                if (glob_match(s->targets[i], expanded))
                        return true;
        return false;
}

const char *template_target_to_string(TemplateTarget t) {
        static const char *const names[_TEMPLATE_TARGET_MAX] = {
                [TEMPLATE_UNIT] = "unit", [TEMPLATE_SERVER] = "server", [TEMPLATE_ARGV] = "argv",
                [TEMPLATE_URL] = "url",   [TEMPLATE_HEADER] = "header", [TEMPLATE_BODY] = "body",
        };
        return t >= 0 && t < _TEMPLATE_TARGET_MAX ? names[t] : NULL;
}

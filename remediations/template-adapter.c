/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The template expansion remediations/ needs until rules/template.c is merged (see template-adapter.h):
 * the documented variables, "$$" for a literal "$", percent-encoding of values substituted into URLs, and
 * the same per-target validation. Built only while rules/template.h does not exist.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "template-adapter.h"
#include "util.h"

static bool unit_name_ok(const char *s) {
        static const char *const suffixes[] = { ".service",   ".socket", ".target", ".timer",
                                                ".path",      ".slice",  ".scope",  ".mount",
                                                ".automount", ".swap",   ".device" };
        size_t len = strlen(s);
        const char *dot = strrchr(s, '.');

        if (len == 0 || len > 255 || !dot || dot == s)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      strchr(":_.\\-@", *p)))
                        return false;
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++)
                if (streq(dot, suffixes[i]))
                        return true;
        return false;
}

static bool valid_for(TemplateTarget where, const char *s) {
        size_t bad;

        if (!utf8_is_valid(s, strlen(s), &bad))
                return false;
        switch (where) {
        case TEMPLATE_UNIT:
                return unit_name_ok(s);
        case TEMPLATE_SERVER: {
                const char *slash = strchr(s, '/');
                if (!slash || slash == s || slash[1] == 0 || strchr(slash + 1, '/'))
                        return false;
                for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                        if (*p <= ' ' || *p == ';' || *p == 0x7f)
                                return false;
                return true;
        }
        case TEMPLATE_URL: {
                const char *rest = startswith(s, "http://") ?: startswith(s, "https://");
                if (!rest || !*rest || *rest == '/')
                        return false;
                for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                        if (*p <= ' ' || *p == 0x7f)
                                return false;
                return true;
        }
        case TEMPLATE_HEADER:
                return !strpbrk(s, "\r\n");
        case TEMPLATE_ARGV:
        case TEMPLATE_BODY:
                return true;
        default:
                return false;
        }
}

static void format_number(char *buf, size_t size, double v) {
        if (isnan(v))
                (void) snprintf(buf, size, "NaN");
        else if (isinf(v))
                (void) snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
        else
                /* The shortest precision that reads back as the same double. */
                for (int prec = 1; prec <= 17; prec++) {
                        (void) snprintf(buf, size, "%.*g", prec, v);
                        double back;
                        if (parse_double(buf, strlen(buf), &back) >= 0 && double_eq(back, v))
                                break;
                }
}

static const char *lookup(const TemplateVars *vars, const char *name, size_t len, char *num, size_t num_size) {
#define IS(n) (len == strlen(n) && strneq(name, n, len))
        if (IS("rule"))
                return strempty(vars->rule);
        if (IS("series"))
                return strempty(vars->series);
        if (IS("incident"))
                return strempty(vars->incident);
        if (IS("value") || IS("expected")) {
                format_number(num, num_size, IS("value") ? vars->value : vars->expected);
                return num;
        }
#undef IS
        if (len > 7 && strneq(name, "labels.", 7)) {
                for (size_t i = 0; i < vars->n_labels; i++)
                        if (vars->labels[i].name && strlen(vars->labels[i].name) == len - 7 &&
                            strneq(vars->labels[i].name, name + 7, len - 7))
                                return strempty(vars->labels[i].value);
                return "";
        }
        return NULL;
}

static void put(StrBuf *b, const char *v, bool url) {
        if (!url) {
                strbuf_puts(b, v);
                return;
        }
        for (const unsigned char *c = (const unsigned char *) v; *c; c++)
                if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
                    strchr("-._~", *c))
                        strbuf_putc(b, (char) *c);
                else
                        strbuf_printf(b, "%%%02X", *c);
}

int template_expand(const Template *t, const TemplateVars *vars, TemplateTarget where, char **ret) {
        static const TemplateVars none = { .value = NAN, .expected = NAN };
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        char num[64];

        if (!t || !ret)
                return -EINVAL;
        if (!vars)
                vars = &none;
        for (const char *p = t->text ?: ""; *p;) {
                if (p[0] == '$' && p[1] == '$') {
                        strbuf_putc(&b, '$');
                        p += 2;
                } else if (p[0] == '$' && p[1] == '{') {
                        const char *end = strchr(p + 2, '}');
                        if (!end)
                                return -EBADMSG;
                        const char *v = lookup(vars, p + 2, (size_t) (end - p - 2), num, sizeof(num));
                        if (!v)
                                return -EBADMSG;
                        put(&b, v, where == TEMPLATE_URL);
                        p = end + 1;
                } else
                        strbuf_putc(&b, *p++);
        }
        if (strbuf_failed(&b))
                return -ENOMEM;
        if (!valid_for(where, strbuf_str(&b)))
                return -EINVAL;
        *ret = strbuf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

bool step_target_allowed(const Step *s, const char *expanded) {
        if (s->n_targets == 0)
                return true;
        for (size_t i = 0; i < s->n_targets; i++)
                if (glob_match(s->targets[i], expanded))
                        return true;
        return false;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The minimal template expansion remediations/ needs until rules/template.c lands (see
 * template-adapter.h): the documented variables only, no escapes, no defaults, and the same per-target
 * validation. Built only while rules/template.h does not exist.
 */
#include <string.h>

#include "strbuf.h"
#include "template-adapter.h"
#include "util.h"

static bool valid_for(TemplateTarget where, const char *s) {
        size_t len = strlen(s), bad;

        if (!utf8_is_valid(s, len, &bad))
                return false;
        switch (where) {
        case TEMPLATE_TARGET_UNIT:
                if (len == 0 || len > 255)
                        return false;
                for (const char *p = s; *p; p++)
                        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.\\@",
                                    *p))
                                return false;
                return strchr(s, '.') && s[0] != '.';
        case TEMPLATE_TARGET_HAPROXY_SERVER:
        case TEMPLATE_TARGET_URL:
                for (const char *p = s; *p; p++)
                        if ((unsigned char) *p <= ' ' || *p == 0x7f || *p == ';')
                                return false;
                return len > 0;
        case TEMPLATE_TARGET_ARGV:
        case TEMPLATE_TARGET_HEADER:
                for (const char *p = s; *p; p++)
                        if (((unsigned char) *p < ' ' && *p != '\t') || *p == 0x7f)
                                return false;
                return true;
        case TEMPLATE_TARGET_BODY:
                return true;
        default:
                return false;
        }
}

/* Look up one variable by its name inside ${…}. */
static const char *lookup(const TemplateVars *vars, const char *name, size_t len) {
        if (!vars)
                return NULL;
#define VAR(n, field)                                 \
        if (len == strlen(n) && strneq(name, n, len)) \
                return vars->field;
        VAR("rule", rule);
        VAR("series", series);
        VAR("value", value);
        VAR("expected", expected);
        VAR("incident", incident);
#undef VAR
        if (len > 7 && strneq(name, "labels.", 7))
                for (size_t i = 0; i < vars->n_labels; i++)
                        if (strlen(vars->labels[i].name) == len - 7 &&
                            strneq(vars->labels[i].name, name + 7, len - 7))
                                return vars->labels[i].value;
        return NULL;
}

int template_expand(const Template *t, const TemplateVars *vars, TemplateTarget where, char **ret) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        const char *p;

        if (!t || !t->text || !ret)
                return -EINVAL;
        for (p = t->text; *p;) {
                const char *start = strstr(p, "${");
                if (!start) {
                        strbuf_puts(&b, p);
                        break;
                }
                strbuf_append(&b, p, (size_t) (start - p));
                const char *end = strchr(start + 2, '}');
                if (!end)
                        return -EINVAL;
                const char *v = lookup(vars, start + 2, (size_t) (end - start - 2));
                if (!v)
                        return -ENOENT;
                strbuf_puts(&b, v);
                p = end + 1;
        }
        if (strbuf_failed(&b))
                return -ENOMEM;
        if (!valid_for(where, strbuf_str(&b)))
                return -EINVAL;
        *ret = strbuf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

bool step_target_allowed(const Step *s, const char *expanded) {
        for (size_t i = 0; i < s->n_targets; i++)
                if (glob_match(s->targets[i], expanded))
                        return true;
        return false;
}

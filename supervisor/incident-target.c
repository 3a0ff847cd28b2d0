/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The target of a remediation step for an incident: template expansion, allow-list, key and display.
 * See incident-target.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "incident-target.h"
#include "strbuf.h"

void incident_template_vars(const Incident *i, char id_buf[static ID128_STRING_MAX], TemplateVars *ret) {
        *ret = (TemplateVars){
                .rule = i->rule_name,
                .series = i->series_key,
                .incident = id128_to_string(&i->id, id_buf),
                .value = i->detected_value,
                .expected = i->detected_expected,
                .labels = i->labels,
                .n_labels = i->n_labels,
        };
}

char *incident_url_without_secrets(const char *url) {
        const char *scheme_end = strstr(url, "://"), *host, *end;
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;

        end = url + strcspn(url, "?#");
        if (!scheme_end || scheme_end > end)
                return strndup(url, (size_t) (end - url));
        host = scheme_end + 3;
        /* userinfo ends at the last '@' before the path. */
        const char *path = host + strcspn(host, "/?#");
        const char *at = NULL;
        for (const char *p = host; p < path; p++)
                if (*p == '@')
                        at = p;
        strbuf_append(&b, url, (size_t) (host - url));
        if (at)
                host = at + 1;
        strbuf_append(&b, host, (size_t) (end - host));
        if (strbuf_failed(&b))
                return NULL;
        return strbuf_steal(&b);
}

static int
        expand(const Template *t,
               const TemplateVars *vars,
               TemplateTarget where,
               const char *what,
               char **ret,
               char **ret_reason) {
        int r = template_expand(t, vars, where, ret);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                if (asprintf(
                            ret_reason,
                            "the %s '%s' does not expand to a valid %s for this series",
                            what,
                            strempty(t->text),
                            what) < 0)
                        return -ENOMEM;
                return -EINVAL;
        }
        return 0;
}

static int check_allowed(
        const Step *step, const Template *t, const char *expanded, const char *what, char **ret_reason) {
        if (!t->templated || step_target_allowed(step, expanded))
                return 0;
        if (asprintf(ret_reason, "%s '%s' is not allowed by the step's targets", what, expanded) < 0)
                return -ENOMEM;
        return -EPERM;
}

static const char *endpoint(const Step *s) {
        return s->socket ?: s->address ?: "";
}

int incident_step_target(
        void *userdata,
        const Rule *rule,
        const Step *step,
        const Incident *i,
        IncidentTarget *ret,
        char **ret_reason) {
        _cleanup_free_ char *x = NULL;
        IncidentTarget t = {};
        TemplateVars vars;
        char id[ID128_STRING_MAX];
        int r;

        incident_template_vars(i, id, &vars);
        switch (step->action) {
        case ACTION_RESTART:
        case ACTION_RELOAD:
        case ACTION_TRY_RESTART:
        case ACTION_STOP:
        case ACTION_START:
        case ACTION_KILL:
        case ACTION_LIMIT:
                if ((r = expand(&step->unit, &vars, TEMPLATE_UNIT, "unit", &x, ret_reason)) < 0 ||
                    (r = check_allowed(step, &step->unit, x, "unit", ret_reason)) < 0)
                        return r;
                if (asprintf(&t.key, "unit:%s", x) < 0)
                        return -ENOMEM;
                t.display = strdup(x);
                t.unit = TAKE_PTR(x);
                break;
        case ACTION_HAPROXY:
                if ((r = expand(&step->server, &vars, TEMPLATE_SERVER, "server", &x, ret_reason)) < 0 ||
                    (r = check_allowed(step, &step->server, x, "server", ret_reason)) < 0)
                        return r;
                if (asprintf(&t.key, "haproxy:%s:%s", endpoint(step), x) < 0)
                        return -ENOMEM;
                t.display = TAKE_PTR(x);
                break;
        case ACTION_REDIS:
                if (asprintf(&t.key, "redis:%s/%u", endpoint(step), step->db) < 0 ||
                    asprintf(&t.display, "redis %s db %u", endpoint(step), step->db) < 0) {
                        free(t.key);
                        return -ENOMEM;
                }
                break;
        case ACTION_MEMCACHED:
                if (asprintf(&t.key, "memcached:%s", endpoint(step)) < 0 ||
                    asprintf(&t.display, "memcached %s", endpoint(step)) < 0) {
                        free(t.key);
                        return -ENOMEM;
                }
                break;
        case ACTION_HTTP: {
                _cleanup_free_ char *clean = NULL;
                if ((r = expand(&step->url, &vars, TEMPLATE_URL, "url", &x, ret_reason)) < 0 ||
                    (r = check_allowed(step, &step->url, x, "url", ret_reason)) < 0)
                        return r;
                clean = incident_url_without_secrets(x);
                if (!clean)
                        return -ENOMEM;
                if (asprintf(&t.key, "http:%s %s", step->method ?: "POST", clean) < 0 ||
                    asprintf(&t.display, "%s %s", step->method ?: "POST", clean) < 0) {
                        free(t.key);
                        return -ENOMEM;
                }
                break;
        }
        case ACTION_EXEC:
                if (step->n_argv == 0) {
                        if (asprintf(ret_reason, "the exec step has no argv") < 0)
                                return -ENOMEM;
                        return -EINVAL;
                }
                for (size_t k = 0; k < step->n_argv; k++) {
                        _cleanup_free_ char *a = NULL;
                        if ((r = expand(&step->argv[k], &vars, TEMPLATE_ARGV, "argument", &a, ret_reason)) < 0 ||
                            (r = check_allowed(step, &step->argv[k], a, "argument", ret_reason)) < 0)
                                return r;
                        if (k == 0)
                                x = TAKE_PTR(a);
                }
                if (asprintf(&t.key, "exec:%s", x) < 0)
                        return -ENOMEM;
                t.display = TAKE_PTR(x);
                break;
        default:
                if (asprintf(ret_reason, "unknown action") < 0)
                        return -ENOMEM;
                return -EINVAL;
        }
        if (!t.display) {
                incident_target_done(&t);
                return -ENOMEM;
        }
        *ret = t;
        return 0;
}

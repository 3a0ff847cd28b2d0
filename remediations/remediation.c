/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The remediation context, the life cycle every action shares (deadline, one recorded result, delivery
 * from the top of the loop), and the dispatcher that turns a Step plus the incident's template variables
 * into a concrete, fully expanded and validated request for one of the action families. Expansion and
 * validation live in one place (step_prepare) so that remediation_target() and remediation_start() can
 * never disagree about what a step targets.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remediation-internal.h"

static const char *const outcome_names[_ACTION_OUTCOME_MAX] = {
        [ACTION_OUTCOME_SUCCEEDED] = "succeeded",
        [ACTION_OUTCOME_FAILED] = "failed",
        [ACTION_OUTCOME_SKIPPED] = "skipped",
        [ACTION_OUTCOME_TIMED_OUT] = "timed-out",
};

const char *action_outcome_to_string(ActionOutcome o) {
        return (unsigned) o < _ACTION_OUTCOME_MAX ? outcome_names[o] : NULL;
}

/* Our own table: rules/ owns action_kind_to_string(), but the names are part of the published rule
 * language and this library must not depend on the parser being linked. */
static const char *const kind_names[_ACTION_KIND_MAX] = {
        [ACTION_RESTART] = "restart", [ACTION_RELOAD] = "reload",       [ACTION_TRY_RESTART] = "try-restart",
        [ACTION_STOP] = "stop",       [ACTION_START] = "start",         [ACTION_KILL] = "kill",
        [ACTION_LIMIT] = "limit",     [ACTION_EXEC] = "exec",           [ACTION_HAPROXY] = "haproxy",
        [ACTION_REDIS] = "redis",     [ACTION_MEMCACHED] = "memcached", [ACTION_HTTP] = "http",
};

const char *action_kind_name(ActionKind k) {
        return (unsigned) k < _ACTION_KIND_MAX ? kind_names[k] : "unknown";
}

const char *errno_text(int error) {
        static __thread char buf[128];
        int saved = errno;
        const char *s = strerror_r(abs(error), buf, sizeof(buf));
        errno = saved;
        return s;
}

/* ---- results ---- */

static void result_done(ActionResult *r) {
        free(r->message);
        free(r->target);
        for (size_t i = 0; i < r->n_attrs; i++) {
                free(r->attrs[i].key);
                free(r->attrs[i].value);
        }
        free(r->attrs);
        action_undo_free(r->undo);
        *r = (ActionResult){};
}

const char *action_result_attr(const ActionResult *r, const char *key) {
        for (size_t i = 0; i < r->n_attrs; i++)
                if (streq(r->attrs[i].key, key))
                        return r->attrs[i].value;
        return NULL;
}

ActionUndo *action_result_take_undo(ActionResult *r) {
        return TAKE_PTR(r->undo);
}

static void attr_add(Action *a, const char *key, char *value, bool number) {
        ActionAttr *n;

        if (!value) {
                a->oom = true;
                return;
        }
        /* A key recorded twice keeps its latest value. */
        for (size_t i = 0; i < a->result.n_attrs; i++)
                if (streq(a->result.attrs[i].key, key)) {
                        free(a->result.attrs[i].value);
                        a->result.attrs[i].value = value;
                        a->result.attrs[i].number = number;
                        return;
                }
        n = reallocarray(a->result.attrs, a->result.n_attrs + 1, sizeof(ActionAttr));
        if (!n) {
                free(value);
                a->oom = true;
                return;
        }
        a->result.attrs = n;
        n[a->result.n_attrs].key = strdup(key);
        if (!n[a->result.n_attrs].key) {
                free(value);
                a->oom = true;
                return;
        }
        n[a->result.n_attrs].value = value;
        n[a->result.n_attrs].number = number;
        a->result.n_attrs++;
}

void action_attr(Action *a, const char *key, const char *fmt, ...) {
        va_list ap;
        char *v = NULL;

        va_start(ap, fmt);
        if (vasprintf(&v, fmt, ap) < 0)
                v = NULL;
        va_end(ap);
        attr_add(a, key, v, false);
}

void action_attr_u64(Action *a, const char *key, uint64_t value) {
        char *v = NULL;
        if (asprintf(&v, "%" PRIu64, value) < 0)
                v = NULL;
        attr_add(a, key, v, true);
}

void action_attr_i64(Action *a, const char *key, int64_t value) {
        char *v = NULL;
        if (asprintf(&v, "%" PRIi64, value) < 0)
                v = NULL;
        attr_add(a, key, v, true);
}

void action_set_target(Action *a, const char *target) {
        free(a->result.target);
        a->result.target = target ? strdup(target) : NULL;
        if (target && !a->result.target)
                a->oom = true;
}

void action_set_undo(Action *a, ActionUndo *u) {
        action_undo_free(a->result.undo);
        a->result.undo = u;
}

/* ---- life cycle ---- */

static void action_unlink(Action *a) {
        RemediationCtx *c = a->ctx;

        if (!c)
                return;
        if (a->prev)
                a->prev->next = a->next;
        else if (c->actions == a)
                c->actions = a->next;
        if (a->next)
                a->next->prev = a->prev;
        a->prev = a->next = NULL;
        c->n_actions--;
        a->ctx = NULL;
}

static void action_release(Action *a) {
        if (a->released)
                return;
        a->released = true;
        a->timer = sd_event_source_disable_unref(a->timer);
        if (a->ops && a->ops->release)
                a->ops->release(a);
        a->data = NULL;
        free(a->job_path);
        a->job_path = NULL;
        a->job_removed = NULL;
}

static void action_free(Action *a) {
        action_release(a);
        action_unlink(a);
        a->deliver = sd_event_source_disable_unref(a->deliver);
        result_done(&a->result);
        free(a);
}

static int on_deliver(sd_event_source *s, void *userdata) {
        Action *a = userdata;

        a->delivering = true; /* remediation_cancel() from inside the callback is a no-op */
        action_release(a);
        action_unlink(a);
        if (a->oom && a->result.error == 0)
                a->result.error = -ENOMEM; /* the message or an attribute is missing */
        if (!a->result.message) {
                a->result.message = strdup("out of memory while recording the result");
                a->oom = true;
        }
        if (a->invocation_cb) {
                /* remediation_unit_invocation_id(): the family stored its answer in the attrs. */
                const char *id = action_result_attr(&a->result, "invocation_id");
                sd_id128_t v = SD_ID128_NULL;
                if (id)
                        (void) sd_id128_from_string(id, &v);
                a->invocation_cb(
                        a,
                        a->result.error,
                        strempty(action_result_attr(&a->result, "unit")),
                        v,
                        action_result_attr(&a->result, "active_state"),
                        a->userdata);
        } else if (a->cb)
                a->cb(a, &a->result, a->userdata);
        action_free(a);
        return 0;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        Action *a = userdata;
        char buf[DURATION_MAX];

        if (a->finished)
                return 0;
        if (a->ops && a->ops->timeout)
                a->ops->timeout(a);
        else
                action_finish(
                        a,
                        ACTION_OUTCOME_TIMED_OUT,
                        -ETIMEDOUT,
                        "%s did not finish within %s",
                        action_kind_name(a->kind),
                        format_duration(buf, sizeof(buf), a->timeout_usec));
        return 0;
}

int action_new(RemediationCtx *c, ActionKind kind, const ActionOps *ops, usec_t timeout_usec, Action **ret) {
        Action *a;
        int r;

        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->kind = kind;
        a->ops = ops;
        a->dry_run = c->flags & REMEDIATION_DRY_RUN;
        a->result.dry_run = a->dry_run;
        a->timeout_usec = timeout_usec;
        a->result.started_usec = now(CLOCK_MONOTONIC);

        r = sd_event_add_defer(c->event, &a->deliver, on_deliver, a);
        if (r >= 0)
                r = sd_event_source_set_enabled(a->deliver, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_time_relative(
                        c->event, &a->timer, CLOCK_MONOTONIC, timeout_usec, 0, on_deadline, a);
        if (r < 0) {
                sd_event_source_disable_unref(a->deliver);
                sd_event_source_disable_unref(a->timer);
                free(a);
                return r;
        }
        (void) sd_event_source_set_description(a->deliver, "remediation-deliver");
        (void) sd_event_source_set_description(a->timer, "remediation-deadline");

        a->ctx = c;
        a->next = c->actions;
        if (c->actions)
                c->actions->prev = a;
        c->actions = a;
        c->n_actions++;
        *ret = a;
        return 0;
}

int action_set_deadline(Action *a, usec_t timeout_usec) {
        int r;

        if (!a->timer)
                return -ESTALE;
        r = sd_event_source_set_time_relative(a->timer, timeout_usec);
        if (r < 0)
                return r;
        a->timeout_usec = timeout_usec;
        return sd_event_source_set_enabled(a->timer, SD_EVENT_ONESHOT);
}

void action_finishv(Action *a, ActionOutcome o, int error, const char *fmt, va_list ap) {
        char *m = NULL;

        if (a->finished)
                return;
        a->finished = true;
        a->result.outcome = o;
        a->result.error = error < 0 ? error : -error;
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        a->result.message = m;
        a->result.finished_usec = now(CLOCK_MONOTONIC);
        a->timer = sd_event_source_disable_unref(a->timer);
        /* Enabling an existing defer source cannot fail for lack of memory. */
        (void) sd_event_source_set_enabled(a->deliver, SD_EVENT_ONESHOT);
}

void action_finish(Action *a, ActionOutcome o, int error, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        action_finishv(a, o, error, fmt, ap);
        va_end(ap);
}

void remediation_cancel(Action *a) {
        if (!a || a->delivering)
                return;
        a->finished = true;
        action_free(a);
}

ActionKind remediation_action_kind(const Action *a) {
        return a->kind;
}

/* ---- context ---- */

int remediation_ctx_new(
        sd_event *event, sd_bus *bus, CurlGlue *curl, RemediationFlags flags, RemediationCtx **ret) {
        _cleanup_(remediation_ctx_freep) RemediationCtx *c = NULL;
        int r;

        if (!event || !ret)
                return -EINVAL;
        /* Everything must run on one loop; a bus on another loop (or none) would never dispatch our
         * replies. */
        if (bus && sd_bus_get_event(bus) != event)
                return -EINVAL;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(event);
        c->bus = bus ? sd_bus_ref(bus) : NULL;
        c->curl = curl;
        c->flags = flags;
        r = systemd_ctx_setup(c);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

RemediationCtx *remediation_ctx_free(RemediationCtx *c) {
        if (!c)
                return NULL;
        while (c->actions)
                remediation_cancel(c->actions);
        exec_ctx_done(c);
        systemd_ctx_done(c);
        sd_bus_unref(c->bus);
        sd_event_unref(c->event);
        free(c);
        return NULL;
}

bool remediation_ctx_dry_run(const RemediationCtx *c) {
        return c->flags & REMEDIATION_DRY_RUN;
}

size_t remediation_ctx_in_flight(const RemediationCtx *c) {
        return c->n_actions;
}

/* ---- from a Step to a concrete request ---- */

typedef struct Prepared {
        char *target;
        usec_t timeout_usec;
        char *unit;
        LimitValues limits;
        ExecSpec exec;
        SockAddress addr;
        char *server;
        HttpSpec http;
} Prepared;

static void prepared_done(Prepared *p) {
        free(p->target);
        free(p->unit);
        exec_spec_done(&p->exec);
        free(p->server);
        http_spec_done(&p->http);
}

static usec_t default_timeout(ActionKind k) {
        switch (k) {
        case ACTION_RESTART:
        case ACTION_RELOAD:
        case ACTION_TRY_RESTART:
        case ACTION_STOP:
        case ACTION_START:
                return REMEDIATION_DEFAULT_UNIT_JOB_TIMEOUT_USEC;
        case ACTION_EXEC:
                return REMEDIATION_DEFAULT_EXEC_TIMEOUT_USEC;
        case ACTION_HAPROXY:
                return REMEDIATION_DEFAULT_HAPROXY_TIMEOUT_USEC;
        case ACTION_REDIS:
                return REMEDIATION_DEFAULT_REDIS_TIMEOUT_USEC;
        case ACTION_MEMCACHED:
                return REMEDIATION_DEFAULT_MEMCACHED_TIMEOUT_USEC;
        case ACTION_HTTP:
                return REMEDIATION_DEFAULT_HTTP_TIMEOUT_USEC;
        default:
                return REMEDIATION_DEFAULT_BUS_TIMEOUT_USEC;
        }
}

static int fail_msg(char **ret_error, int r, const char *fmt, ...) _printf_(3, 4);
static int fail_msg(char **ret_error, int r, const char *fmt, ...) {
        va_list ap;

        if (ret_error) {
                va_start(ap, fmt);
                if (vasprintf(ret_error, fmt, ap) < 0)
                        *ret_error = NULL;
                va_end(ap);
        }
        return r;
}

/* The target key of a prepared step. */
static int set_target(Prepared *p, const char *fmt, ...) _printf_(2, 3);
static int set_target(Prepared *p, const char *fmt, ...) {
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = vasprintf(&p->target, fmt, ap);
        va_end(ap);
        if (k < 0) {
                p->target = NULL;
                return -ENOMEM;
        }
        return 0;
}

/* Expand one template. what names the field in messages ("unit"); a templated target must pass the
 * step's allow-list. echo says whether the expanded value may appear in a message. */
static int
        expand(const Step *s,
               const Template *t,
               const TemplateVars *vars,
               TemplateTarget where,
               bool is_target,
               bool echo,
               const char *what,
               char **ret,
               char **ret_error) {
        _cleanup_free_ char *v = NULL;
        int r;

        if (!t->text)
                return fail_msg(ret_error, -EINVAL, "the step has no %s", what);
        r = template_expand(t, vars, where, &v);
        if (r == -EBADMSG)
                return fail_msg(
                        ret_error, r, "%s \"%s\" is not a valid template", what, echo ? t->text : "(template)");
        if (r == -EINVAL)
                return fail_msg(
                        ret_error,
                        r,
                        "%s \"%s\" does not expand to a valid %s",
                        what,
                        echo ? t->text : "(template)",
                        what);
        if (r < 0)
                return fail_msg(ret_error, r, "%s could not be expanded: %s", what, errno_text(r));
        if (is_target && t->templated && !step_target_allowed(s, v))
                return fail_msg(
                        ret_error,
                        -EPERM,
                        "%s \"%s\" is not in the step's targets allow-list",
                        what,
                        echo ? v : "(expanded)");
        *ret = TAKE_PTR(v);
        return 0;
}

static int prepare_addr(const Step *s, Prepared *p, char **ret_error) {
        const char *e = NULL;
        int r = sock_address_parse(s->socket, s->address, &p->addr, &e);
        if (r < 0)
                return fail_msg(ret_error, r, "%s", e);
        return 0;
}

/* The documented environment of an exec step, each value taken through the template engine so that it
 * reads exactly as ${rule} etc. would in argv. Variables this incident does not have are left out. */
static int exec_env(const TemplateVars *vars, char ***ret) {
        static const struct {
                const char *name, *var;
        } table[] = {
                { "HOMEOSTAT_RULE", "${rule}" },         { "HOMEOSTAT_SERIES", "${series}" },
                { "HOMEOSTAT_VALUE", "${value}" },       { "HOMEOSTAT_EXPECTED", "${expected}" },
                { "HOMEOSTAT_INCIDENT", "${incident}" },
        };
        _cleanup_strv_free_ char **env = calloc(ELEMENTSOF(table) + 1, sizeof(char *));
        size_t n = 0;

        if (!env)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                Template t = { .text = (char *) table[i].var, .templated = true };
                _cleanup_free_ char *v = NULL;
                int r = template_expand(&t, vars, TEMPLATE_ARGV, &v);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 || v[0] == 0)
                        continue; /* this incident has no such value */
                if (asprintf(&env[n], "%s=%s", table[i].name, v) < 0) {
                        env[n] = NULL;
                        return -ENOMEM;
                }
                n++;
        }
        *ret = TAKE_PTR(env);
        return 0;
}

static int prepare_http(const Step *s, const TemplateVars *vars, Prepared *p, char **ret_error) {
        _cleanup_free_ char *redacted = NULL;
        int r;

        r = expand(s, &s->url, vars, TEMPLATE_URL, true, false, "url", &p->http.url, ret_error);
        if (r < 0)
                return r;
        r = url_redact(p->http.url, &redacted);
        if (r < 0)
                return fail_msg(ret_error, r, "url is not a valid http(s) URL");
        p->http.method = strdup(s->method ?: "POST");
        if (!p->http.method)
                return -ENOMEM;
        if (!http_method_valid(p->http.method))
                return fail_msg(ret_error, -EINVAL, "\"%s\" is not a valid HTTP method", p->http.method);
        p->http.header_lines = calloc(s->n_headers + 1, sizeof(char *));
        if (!p->http.header_lines)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_headers; i++) {
                _cleanup_free_ char *name = NULL, *value = NULL;
                r = expand(
                        s, &s->headers[i].name, vars, TEMPLATE_HEADER, false, true, "header name", &name, ret_error);
                if (r < 0)
                        return r;
                if (!http_header_name_valid(name))
                        return fail_msg(ret_error, -EINVAL, "\"%s\" is not a valid header name", name);
                /* Header values may carry tokens: never echoed. */
                r = expand(
                        s, &s->headers[i].value, vars, TEMPLATE_HEADER, false, false, "header value", &value, ret_error);
                if (r < 0)
                        return r;
                if (asprintf(&p->http.header_lines[i], "%s: %s", name, value) < 0) {
                        p->http.header_lines[i] = NULL;
                        return -ENOMEM;
                }
        }
        if (s->body.text) {
                r = expand(s, &s->body, vars, TEMPLATE_BODY, false, false, "body", &p->http.body, ret_error);
                if (r < 0)
                        return r;
        }
        if (s->n_expect > 0) {
                p->http.expect = calloc(s->n_expect, sizeof(unsigned));
                if (!p->http.expect)
                        return -ENOMEM;
                memcpy(p->http.expect, s->expect, s->n_expect * sizeof(unsigned));
                p->http.n_expect = s->n_expect;
        }
        return set_target(p, "http:%s %s", p->http.method, redacted);
}

/* Templates are expanded with these when the caller has no incident at hand (a NULL vars). */
static const TemplateVars no_vars = { .value = NAN, .expected = NAN };

/* Everything remediation_start() needs, expanded and validated; on failure a sentence in *ret_error
 * (NULL only for -ENOMEM). */
static int step_prepare(const Step *s, const TemplateVars *vars, Prepared *p, char **ret_error) {
        int r;

        if (!vars)
                vars = &no_vars;
        p->timeout_usec = s->timeout_usec > 0 ? s->timeout_usec : default_timeout(s->action);

        switch (s->action) {
        case ACTION_RESTART:
        case ACTION_RELOAD:
        case ACTION_TRY_RESTART:
        case ACTION_STOP:
        case ACTION_START:
        case ACTION_KILL:
        case ACTION_LIMIT:
                r = expand(s, &s->unit, vars, TEMPLATE_UNIT, true, true, "unit", &p->unit, ret_error);
                if (r < 0)
                        return r;
                r = set_target(p, "unit:%s", p->unit);
                if (r < 0)
                        return r;
                if (s->action == ACTION_KILL && (s->signal <= 0 || s->signal > SIGRTMAX))
                        return fail_msg(ret_error, -EINVAL, "signal %d is not a valid signal", s->signal);
                if (s->action == ACTION_LIMIT) {
                        p->limits = (LimitValues){
                                .has_cpu_quota = s->has_cpu_quota,
                                .has_memory_high = s->has_memory_high,
                                .has_io_weight = s->has_io_weight,
                                .has_tasks_max = s->has_tasks_max,
                                .cpu_quota_per_sec_usec = s->cpu_quota_per_sec_usec,
                                .memory_high_bytes = s->memory_high_bytes,
                                .io_weight = s->io_weight,
                                .tasks_max = s->tasks_max,
                        };
                        if (!s->has_cpu_quota && !s->has_memory_high && !s->has_io_weight && !s->has_tasks_max)
                                return fail_msg(ret_error, -EINVAL, "the limit step sets no property");
                        if (s->has_io_weight && (s->io_weight < 1 || s->io_weight > 10000))
                                return fail_msg(ret_error, -EINVAL, "io_weight must be 1..10000");
                }
                return 0;

        case ACTION_EXEC:
                if (s->n_argv == 0)
                        return fail_msg(ret_error, -EINVAL, "the exec step has an empty argv");
                p->exec.argv = calloc(s->n_argv + 1, sizeof(char *));
                if (!p->exec.argv)
                        return -ENOMEM;
                for (size_t i = 0; i < s->n_argv; i++) {
                        r = expand(
                                s,
                                &s->argv[i],
                                vars,
                                TEMPLATE_ARGV,
                                true,
                                i == 0,
                                i == 0 ? "argv[0]" : "an argv element",
                                &p->exec.argv[i],
                                ret_error);
                        if (r < 0)
                                return r;
                }
                if (p->exec.argv[0][0] != '/')
                        return fail_msg(
                                ret_error, -EINVAL, "argv[0] \"%s\" must be an absolute path", p->exec.argv[0]);
                r = exec_env(vars, &p->exec.env);
                if (r < 0)
                        return r;
                {
                        Template t = { .text = (char *) "${rule}", .templated = true };
                        (void) template_expand(&t, vars, TEMPLATE_ARGV, &p->exec.rule);
                }
                return set_target(p, "exec:%s", p->exec.argv[0]);

        case ACTION_HAPROXY:
                r = prepare_addr(s, p, ret_error);
                if (r < 0)
                        return r;
                r = expand(s, &s->server, vars, TEMPLATE_SERVER, true, true, "server", &p->server, ret_error);
                if (r < 0)
                        return r;
                if (!haproxy_server_name_valid(p->server))
                        return fail_msg(
                                ret_error, -EINVAL, "server \"%s\" is not of the form backend/server", p->server);
                if (s->haproxy_state == HAPROXY_STATE_NONE && (s->weight < 0 || s->weight > 256))
                        return fail_msg(ret_error, -EINVAL, "weight %d is outside 0..256", s->weight);
                if ((unsigned) s->haproxy_state >= _HAPROXY_STATE_MAX)
                        return fail_msg(ret_error, -EINVAL, "unknown HAProxy state");
                return target_key_haproxy(&p->addr, p->server, &p->target);

        case ACTION_REDIS:
                r = prepare_addr(s, p, ret_error);
                if (r < 0)
                        return r;
                if (s->pattern && s->pattern[0] == 0)
                        return fail_msg(ret_error, -EINVAL, "the redis pattern is empty");
                return set_target(p, "redis:%s/%u", p->addr.display, s->db);

        case ACTION_MEMCACHED:
                r = prepare_addr(s, p, ret_error);
                if (r < 0)
                        return r;
                return set_target(p, "memcached:%s", p->addr.display);

        case ACTION_HTTP:
                return prepare_http(s, vars, p, ret_error);

        default:
                return fail_msg(ret_error, -EINVAL, "unknown action kind %d", (int) s->action);
        }
}

int remediation_target(const Step *step, const TemplateVars *vars, char **ret, char **ret_error) {
        _cleanup_(prepared_done) Prepared p = {};
        int r;

        if (!step || !ret)
                return -EINVAL;
        if (ret_error)
                *ret_error = NULL;
        r = step_prepare(step, vars, &p, ret_error);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p.target);
        return 0;
}

int remediation_start(
        RemediationCtx *c,
        const Step *step,
        const TemplateVars *vars,
        ActionDoneCallback cb,
        void *userdata,
        Action **ret) {
        _cleanup_(prepared_done) Prepared p = {};
        _cleanup_free_ char *error = NULL;
        Action *a;
        int r;

        if (!c || !step || !cb)
                return -EINVAL;
        if ((unsigned) step->action >= _ACTION_KIND_MAX)
                return -EINVAL;

        r = action_new(
                c,
                step->action,
                NULL,
                step->timeout_usec > 0 ? step->timeout_usec : default_timeout(step->action),
                &a);
        if (r < 0)
                return r;
        a->cb = cb;
        a->userdata = userdata;
        if (ret)
                *ret = a;

        r = step_prepare(step, vars, &p, &error);
        action_set_target(a, p.target);
        if (r < 0) {
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        r,
                        "%s: %s",
                        action_kind_name(step->action),
                        error ?: errno_text(r));
                return 0;
        }

        switch (step->action) {
        case ACTION_RESTART:
        case ACTION_RELOAD:
        case ACTION_TRY_RESTART:
        case ACTION_STOP:
        case ACTION_START:
        case ACTION_KILL:
                r = systemd_unit_action_start(a, p.unit, step->signal);
                break;
        case ACTION_LIMIT:
                r = systemd_limit_start(a, p.unit, &p.limits, false);
                break;
        case ACTION_EXEC:
                r = exec_start(a, &p.exec);
                break;
        case ACTION_HAPROXY:
                r = haproxy_start(a, &p.addr, p.server, step->haproxy_state, step->weight, false);
                break;
        case ACTION_REDIS:
                r = redis_start(a, &p.addr, step->db, step->pattern);
                break;
        case ACTION_MEMCACHED:
                r = memcached_start(a, &p.addr);
                break;
        case ACTION_HTTP:
                r = http_start(a, &p.http);
                break;
        default:
                r = -EINVAL;
        }
        if (r < 0)
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        r,
                        "%s on %s could not be started: %s",
                        action_kind_name(step->action),
                        strna(p.target),
                        errno_text(r));
        return 0;
}

int remediation_undo(RemediationCtx *c, const ActionUndo *u, ActionDoneCallback cb, void *userdata, Action **ret) {
        Action *a;
        int r;

        if (!c || !u || !cb)
                return -EINVAL;

        ActionKind kind = u->kind == UNDO_HAPROXY ? ACTION_HAPROXY : ACTION_LIMIT;
        usec_t timeout = u->timeout_usec > 0 ? u->timeout_usec : default_timeout(kind);
        r = action_new(c, kind, NULL, timeout, &a);
        if (r < 0)
                return r;
        a->cb = cb;
        a->userdata = userdata;
        a->result.is_undo = true;
        if (ret)
                *ret = a;
        action_set_target(a, u->target);

        if (u->kind == UNDO_HAPROXY) {
                SockAddress addr;
                const char *e = NULL;
                r = sock_address_parse(u->socket, u->address, &addr, &e);
                if (r < 0) {
                        action_finish(a, ACTION_OUTCOME_FAILED, r, "undo: %s", e);
                        return 0;
                }
                r = haproxy_start(a, &addr, u->server, u->state, u->weight, true);
        } else
                r = systemd_limit_start(a, u->unit, &u->limits, true);
        if (r < 0)
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        r,
                        "undo on %s could not be started: %s",
                        u->target,
                        errno_text(r));
        return 0;
}

int remediation_unit_invocation_id(
        RemediationCtx *c, const char *unit, UnitInvocationCallback cb, void *userdata, Action **ret) {
        Action *a;
        int r;

        if (!c || !unit || !cb)
                return -EINVAL;
        r = action_new(c, ACTION_RESTART, NULL, REMEDIATION_DEFAULT_BUS_TIMEOUT_USEC, &a);
        if (r < 0)
                return r;
        a->invocation_cb = cb;
        a->userdata = userdata;
        a->dry_run = false; /* a pure read */
        if (ret)
                *ret = a;
        action_attr(a, "unit", "%s", unit);
        r = systemd_invocation_start(a, unit);
        if (r < 0)
                action_finish(a, ACTION_OUTCOME_FAILED, r, "could not read %s: %s", unit, errno_text(r));
        return 0;
}

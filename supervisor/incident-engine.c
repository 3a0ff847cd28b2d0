/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The incident engine: the state × input table that moves incidents, the step/guard logic that decides
 * whether an action may run, undo obligations, silences and persistence of it all. Pure: it never reads a
 * clock or touches the world; see incident-engine.h for the contract with the daemon glue.
 *
 * Reading guide: the table `machine` near the end lists, for every state and every input, the handler
 * that runs; "ignore" means the input is meaningless in that state, "stale" that it belongs to a phase that
 * is over (a late timer or result, dropped on purpose), "impossible" that the engine never produces the
 * pair (counted; tests check the count stays 0). Everything above the table are the handlers and the
 * helpers they share; everything below it, the public entry points that turn outside inputs into table
 * inputs.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"
#include "incident-engine.h"
#include "incident-json.h"
#include "strbuf.h"

typedef struct KeyEntry {
        char *key; /* rule name, NUL, series key */
        size_t len;
        Incident *latest;
} KeyEntry;

struct IncidentEngine {
        IncidentEngineOptions opts;
        char *host;
        const Config *config;
        Incident **incidents; /* creation order */
        size_t n_incidents;
        HashMap *by_key; /* (rule, series) -> KeyEntry of the latest incident */
        GuardState guards;
        SilenceSet silences;
        bool loop_lagging;
        uint64_t impossible;
};

typedef struct Ctx {
        IncidentEngine *e;
        IncidentNow now;
        Effects *out;
} Ctx;

typedef struct Input {
        IncidentInput kind;
        usec_t resolved_at;           /* IN_RECOVER */
        const UnitSnapshot *unit;     /* IN_PREFLIGHT (NULL: could not be read) */
        const char *error;            /* IN_PREFLIGHT */
        const StepResult *result;     /* IN_RESULT */
        ReconcileOutcome reconcile;   /* IN_RECONCILE */
        const char *message;          /* IN_RECONCILE */
        const Silence *silence;       /* IN_SILENCE */
        const Obligation *obligation; /* IN_HOLD_EXPIRED */
} Input;

static int dispatch(Ctx *c, Incident *i, const Input *in);

/* ---- effects ---- */

void effects_clear(Effects *e) {
        e->n = 0;
        e->save = e->save_now = false;
}

void effects_done(Effects *e) {
        free(e->items);
        *e = (Effects){};
}

static int effect_add(Ctx *c, EffectKind kind, const Incident *i, Effect **ret) {
        Effects *o = c->out;

        if (o->n >= o->allocated) {
                size_t n = o->allocated ? o->allocated * 2 : 16;
                Effect *m = reallocarray(o->items, n, sizeof(Effect));
                if (!m)
                        return -ENOMEM;
                o->items = m;
                o->allocated = n;
        }
        Effect *e = &o->items[o->n++];
        *e = (Effect){ .kind = kind, .incident = i->id };
        if (ret)
                *ret = e;
        return 0;
}

/* ---- small helpers ---- */

static usec_t usec_from_seconds(double t) {
        if (!isfinite(t) || t <= 0)
                return 0;
        if (t >= 1.8e13)
                return USEC_INFINITY - 1;
        return (usec_t) llround(t * (double) USEC_PER_SEC);
}

static char *vformat(const char *fmt, va_list ap) _printf_(1, 0);
static char *vformat(const char *fmt, va_list ap) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;

        strbuf_vprintf(&b, fmt, ap);
        if (strbuf_failed(&b))
                return NULL;
        return strbuf_steal(&b);
}

static char *format(const char *fmt, ...) _printf_(1, 2);
static char *format(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *s = vformat(fmt, ap);
        va_end(ap);
        return s;
}

/* Text that came from outside (the executor): bounded, one line, no control characters. */
static char *clean_text(const char *s) {
        size_t n;
        char *t;

        if (!s)
                return strdup("");
        n = strnlen(s, INCIDENT_MESSAGE_MAX);
        t = strndup(s, n);
        if (!t)
                return NULL;
        for (char *p = t; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        *p = ' ';
        return t;
}

/* Keys that may carry a secret never reach a timeline, whatever the executor put in its attributes. */
static bool secret_key(const char *k) {
        static const char *const words[] = { "secret",        "password",   "passwd", "token",
                                             "authorization", "credential", "cookie", "header",
                                             "body",          "url",        "auth",   NULL };
        _cleanup_free_ char *low = strdup(k);

        if (!low)
                return true;
        for (char *p = low; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        *p = (char) (*p - 'A' + 'a');
        for (const char *const *w = words; *w; w++)
                if (strstr(low, *w))
                        return true;
        return false;
}

static json_t *clean_attrs(json_t *attrs, unsigned depth) {
        const char *k;
        json_t *v, *o;

        if (!json_is_object(attrs) || depth > 4)
                return json_object();
        o = json_object();
        if (!o)
                return NULL;
        json_object_foreach(attrs, k, v) {
                if (secret_key(k))
                        continue;
                json_t *copy = json_is_object(v) ? clean_attrs(v, depth + 1) : json_deep_copy(v);
                if (!copy || json_object_set_new(o, k, copy) < 0)
                        return json_decref(o), NULL;
        }
        return o;
}

static const char *dur(char *buf, size_t len, usec_t d) {
        return format_duration(buf, len, d);
}

static char *describe_now(const Incident *i) {
        return incident_describe_value(i->metric, i->value, i->expected, i->lower, i->upper);
}

/* attrs every event about the series carries: the latest value and its band. */
static json_t *value_attrs(const Incident *i) {
        return json_pack(
                "{s:o, s:o, s:o, s:o}",
                "value",
                json_number_or_null(i->value),
                "expected",
                json_number_or_null(i->expected),
                "lower",
                json_number_or_null(i->lower),
                "upper",
                json_number_or_null(i->upper));
}

static json_t *action_attrs(const Incident *i, const PendingAction *a) {
        return json_pack(
                "{s:I, s:s, s:s}",
                "step",
                (json_int_t) a->step + 1,
                "action",
                incident_action_name(a->action),
                "target",
                a->target.display ?: "");
}

static const Step *current_step(const Incident *i) {
        if (!i->rule || i->action.step >= i->rule->n_steps)
                return NULL;
        return &i->rule->steps[i->action.step];
}

/* "restart api.service", from the step when the rule still has it, from the action record otherwise. */
static char *describe_action(const Incident *i, const PendingAction *a) {
        const Step *s = i->rule && a->step < i->rule->n_steps && i->rule->steps[a->step].action == a->action
                ? &i->rule->steps[a->step]
                : NULL;
        return format(
                "%s %s", s ? incident_action_verb(s) : incident_action_name(a->action), a->target.display ?: "");
}

static int emit(Ctx *c, Incident *i, IncidentEventKind kind, usec_t at, json_t *attrs, const char *fmt, ...)
        _printf_(6, 7);
static int emit(Ctx *c, Incident *i, IncidentEventKind kind, usec_t at, json_t *attrs, const char *fmt, ...) {
        const TimelineEvent *ev;
        Effect *eff;
        va_list ap;
        char *m;
        int r;

        va_start(ap, fmt);
        m = vformat(fmt, ap);
        va_end(ap);
        r = incident_append_event(i, at, kind, m, attrs, &ev);
        if (r < 0)
                return r;
        c->out->save = true;
        r = effect_add(c, EFFECT_EVENT, i, &eff);
        if (r < 0)
                return r;
        eff->seq = ev->seq;
        eff->notify = !i->silenced || kind == IEV_SILENCED || kind == IEV_UNSILENCED;
        return 0;
}

static void update_values(Incident *i, const EvalRow *row) {
        i->series_firing = row->firing;
        if (row->firing || row->transition == EVAL_PENDING)
                i->normal_since = 0;
        if (!isnan(row->x) || !isnan(row->value)) {
                i->value = isnan(row->x) ? row->value : row->x;
                i->expected = row->verdict.expected;
                i->lower = row->verdict.lower;
                i->upper = row->verdict.upper;
        }
}

static bool recovery_valid(const Incident *i) {
        return i->recovered_at != 0 && !i->series_firing;
}

static void clear_timers(Incident *i) {
        i->settle_mono = i->verify_mono = i->retry_mono = 0;
}

static void release_action_target(Ctx *c, Incident *i, bool our_action, const char *invocation_id) {
        if (i->action.target.key)
                (void) guard_release_target(
                        &c->e->guards, i->action.target.key, &i->id, our_action, invocation_id, c->now.mono);
}

/* Leave the preflight phase without acting (the answer no longer matters). */
static void cancel_preflight(Ctx *c, Incident *i) {
        if (i->action.phase != ACTION_PHASE_PREFLIGHT)
                return;
        release_action_target(c, i, false, NULL);
        i->action.phase = ACTION_PHASE_NONE;
}

/* ---- undo obligations ---- */

static int start_undo(Ctx *c, Incident *i, Obligation *o) {
        Effect *eff;
        int r;

        r = guard_reserve_target(&c->e->guards, o->target.key, &i->id);
        if (r == -EBUSY) {
                /* Another incident acts on the target right now: come back shortly. */
                o->state = OBLIGATION_RETRY;
                o->retry_mono = c->now.mono + INCIDENT_RETRY_USEC;
                c->out->save = true;
                return 0;
        }
        if (r < 0)
                return r;
        o->state = OBLIGATION_UNDOING;
        o->undo_id++;
        o->attempts++;
        o->retry_mono = 0;
        r = emit(
                c,
                i,
                IEV_UNDO_STARTED,
                c->now.wall,
                json_pack(
                        "{s:I, s:s, s:s, s:I}",
                        "step",
                        (json_int_t) o->step + 1,
                        "action",
                        incident_action_name(o->action),
                        "target",
                        o->target.display ?: "",
                        "attempt",
                        (json_int_t) o->attempts),
                "undo %s of %s%s",
                incident_action_name(o->action),
                o->target.display ?: "",
                o->attempts > 1 ? " (again)" : "");
        if (r < 0)
                return r;
        r = effect_add(c, EFFECT_UNDO, i, &eff);
        if (r < 0)
                return r;
        eff->obligation_id = o->id;
        eff->undo_id = o->undo_id;
        c->out->save = c->out->save_now = true;
        return 0;
}

static int undo_all(Ctx *c, Incident *i) {
        for (size_t k = 0; k < i->n_obligations; k++) {
                Obligation *o = &i->obligations[k];
                if (o->state == OBLIGATION_HELD || o->state == OBLIGATION_RETRY) {
                        int r = start_undo(c, i, o);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int add_obligation(Ctx *c, Incident *i, json_t *undo) {
        const PendingAction *a = &i->action;
        Obligation *n, *o;
        int r;

        n = reallocarray(i->obligations, i->n_obligations + 1, sizeof(Obligation));
        if (!n)
                return -ENOMEM;
        i->obligations = n;
        o = &n[i->n_obligations];
        *o = (Obligation){
                .id = i->next_obligation_id,
                .step = a->step,
                .action = a->action,
                .undo = undo ? json_deep_copy(undo) : json_null(),
                .state = OBLIGATION_HELD,
                .held_since_mono = c->now.mono,
                .max_hold_usec = a->max_hold_usec,
        };
        if (!o->undo)
                return -ENOMEM;
        r = incident_target_copy(&a->target, &o->target);
        if (r < 0) {
                json_decref(o->undo);
                return r;
        }
        i->n_obligations++;
        i->next_obligation_id++;
        c->out->save = c->out->save_now = true;
        return 0;
}

/* ---- transitions shared by handlers ---- */

static int escalate(Ctx *c, Incident *i, const char *reason, const char *fmt, ...) _printf_(4, 5);
static int escalate(Ctx *c, Incident *i, const char *reason, const char *fmt, ...) {
        _cleanup_free_ char *m = NULL, *v = NULL;
        json_t *attrs;
        va_list ap;

        va_start(ap, fmt);
        m = vformat(fmt, ap);
        va_end(ap);
        v = describe_now(i);
        cancel_preflight(c, i);
        clear_timers(i);
        i->state = INCIDENT_ESCALATED;
        attrs = value_attrs(i);
        if (attrs)
                json_object_set_new(attrs, "reason", json_string(reason));
        return emit(
                c,
                i,
                IEV_ESCALATED,
                c->now.wall,
                attrs,
                "%s; a human is needed (now %s)",
                strempty(m),
                strempty(v));
}

static int resolve(Ctx *c, Incident *i, usec_t resolved_at) {
        _cleanup_free_ char *v = NULL;
        char d[DURATION_MAX];
        json_t *attrs;
        int r;

        cancel_preflight(c, i);
        clear_timers(i);
        if (resolved_at == 0 || resolved_at > c->now.wall)
                resolved_at = c->now.wall;
        if (resolved_at < i->detected_at)
                resolved_at = i->detected_at;
        i->state = INCIDENT_RESOLVED;
        i->resolved_at = resolved_at;
        i->resolved_mono = c->now.mono;
        i->recovered_at = 0;
        i->normal_since = 0;
        i->last_skip = SKIP_NONE;
        v = describe_now(i);
        attrs = value_attrs(i);
        if (attrs) {
                json_object_set_new(attrs, "resolved_at", json_timestamp(resolved_at));
                json_object_set_new(
                        attrs, "mttr_seconds", json_real((double) incident_mttr(i) / (double) USEC_PER_SEC));
        }
        r = emit(
                c,
                i,
                IEV_RESOLVED,
                c->now.wall,
                attrs,
                "recovered: %s; MTTR %s",
                strempty(v),
                incident_format_elapsed(d, sizeof(d), incident_mttr(i)));
        if (r < 0)
                return r;
        return undo_all(c, i);
}

static int pass_verification(Ctx *c, Incident *i) {
        _cleanup_free_ char *what = describe_action(i, &i->action), *v = describe_now(i);
        int r;

        r = emit(
                c,
                i,
                IEV_VERIFY_PASSED,
                c->now.wall,
                action_attrs(i, &i->action),
                "%s helped: back to normal, %s",
                strempty(what),
                strempty(v));
        if (r < 0)
                return r;
        return resolve(c, i, i->recovered_at);
}

/* Record a skip, once per (step, reason) while it persists, and schedule the next look (0: none). */
static int
        skip(Ctx *c,
             Incident *i,
             SkipReason reason,
             const Step *step,
             const IncidentTarget *t,
             bool once,
             usec_t retry_mono,
             const char *detail) {
        json_t *attrs;
        char until[TIMESTAMP_MAX];

        i->retry_mono = retry_mono;
        if (once && i->last_skip == reason && i->last_skip_step == i->step)
                return 0;
        i->last_skip = reason;
        i->last_skip_step = i->step;
        attrs = json_pack(
                "{s:I, s:s, s:s, s:s}",
                "step",
                (json_int_t) i->step + 1,
                "action",
                incident_action_name(step->action),
                "target",
                t && t->display ? t->display : "",
                "reason",
                skip_reason_to_string(reason));
        if (attrs && skip_reason_is_guard(reason))
                json_object_set_new(attrs, "category", json_string("guard"));
        if (attrs && retry_mono != 0)
                json_object_set_new(
                        attrs,
                        "retry_at",
                        json_string(format_timestamp(
                                until, sizeof(until), incident_mono_to_wall(c->now, retry_mono))));
        if (reason == SKIP_OBSERVE || reason == SKIP_DRY_RUN)
                return emit(
                        c,
                        i,
                        IEV_ACTION_SKIPPED,
                        c->now.wall,
                        attrs,
                        "would %s %s (step %u of %zu; %s)",
                        incident_action_verb(step),
                        t && t->display ? t->display : "",
                        i->step + 1,
                        i->rule ? i->rule->n_steps : 0,
                        reason == SKIP_OBSERVE ? "mode observe" : "dry run");
        return emit(
                c,
                i,
                IEV_ACTION_SKIPPED,
                c->now.wall,
                attrs,
                "%s %s skipped (%s): %s",
                incident_action_verb(step),
                t && t->display ? t->display : "",
                skip_reason_to_string(reason),
                detail);
}

/* observe / dry-run: record the plan, change nothing, wait for the series to recover. */
static int simulate(Ctx *c, Incident *i, SkipReason reason) {
        const Rule *rule = i->rule;

        for (; i->step < rule->n_steps; i->step++) {
                const Step *s = &rule->steps[i->step];
                _cleanup_(incident_target_done) IncidentTarget t = {};
                _cleanup_free_ char *why = NULL;
                int r = c->e->opts.step_target(c->e->opts.userdata, rule, s, i, &t, &why);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        r = skip(c, i, SKIP_NOT_ALLOWED, s, NULL, false, 0, strempty(why));
                else
                        r = skip(c, i, reason, s, &t, false, 0, "");
                if (r < 0)
                        return r;
        }
        i->simulated = true;
        i->step = 0;
        return 0;
}

static int execute(Ctx *c, Incident *i) {
        const Rule *rule = i->rule;
        GuardRequest req = {
                .rule = rule->name,
                .limits = &rule->guard,
                .target_key = i->action.target.key,
                .incident = i->id,
                .round = i->round,
        };
        _cleanup_free_ char *what = describe_action(i, &i->action), *v = describe_now(i);
        json_t *attrs;
        Effect *eff;
        int r;

        r = guard_record_action(&c->e->guards, &req, c->now.mono);
        if (r < 0)
                return r;
        i->action.phase = ACTION_PHASE_EXECUTING;
        i->action.started_mono = c->now.mono;
        attrs = action_attrs(i, &i->action);
        if (attrs && i->action.invocation_id_before[0])
                json_object_set_new(attrs, "invocation_id_before", json_string(i->action.invocation_id_before));
        r = emit(
                c,
                i,
                IEV_ACTION_STARTED,
                c->now.wall,
                attrs,
                "%s (step %u of %zu) because %s",
                strempty(what),
                i->action.step + 1,
                rule->n_steps,
                strempty(v));
        if (r < 0)
                return r;
        r = effect_add(c, EFFECT_ACTION, i, &eff);
        if (r < 0)
                return r;
        eff->action_id = i->action.id;
        c->out->save = c->out->save_now = true;
        return 0;
}

static int begin_action(Ctx *c, Incident *i, const Step *step, IncidentTarget *t) {
        PendingAction *a = &i->action;
        Effect *eff;
        int r;

        incident_target_done(&a->target);
        *a = (PendingAction){
                .id = a->id + 1,
                .step = i->step,
                .action = step->action,
                .target = *t,
                .settle_usec = step->settle_usec,
                .verify_usec = MAX(step->verify_usec, step->settle_usec),
                .max_hold_usec = incident_step_has_undo(step) ? step->max_hold_usec : 0,
                .undoable = incident_step_has_undo(step),
        };
        *t = (IncidentTarget){};
        i->last_skip = SKIP_NONE;
        i->retry_mono = 0;
        i->state = INCIDENT_REMEDIATING;
        c->out->save = true;

        if (!a->target.unit)
                return execute(c, i);

        r = guard_reserve_target(&c->e->guards, a->target.key, &i->id);
        if (r < 0)
                return r;
        a->phase = ACTION_PHASE_PREFLIGHT;
        r = effect_add(c, EFFECT_PREFLIGHT, i, &eff);
        if (r < 0)
                return r;
        eff->action_id = a->id;
        return 0;
}

/* The heart of remediation: try the current step, or record why not and when to look again. Steps whose
 * target is not allowed are skipped for the next one; a silence waits for its end; the breaker escalates;
 * everything else waits for its guard. */
static int try_step(Ctx *c, Incident *i) {
        IncidentEngine *e = c->e;
        const Rule *rule = i->rule;
        char d[DURATION_MAX];
        int r;

        i->retry_mono = 0;
        if (i->state != INCIDENT_FIRING || !rule || i->simulated || rule->n_steps == 0)
                return 0;
        if (i->action.phase != ACTION_PHASE_NONE) {
                /* An action of an earlier round still runs (the incident reopened meanwhile): its result
                 * comes first, then the new round acts. */
                i->retry_mono = c->now.mono + INCIDENT_RETRY_USEC;
                return 0;
        }
        if (rule->mode == RULE_MODE_OBSERVE)
                return simulate(c, i, SKIP_OBSERVE);
        if (e->opts.dry_run)
                return simulate(c, i, SKIP_DRY_RUN);

        for (;;) {
                _cleanup_(incident_target_done) IncidentTarget t = {};
                _cleanup_free_ char *why = NULL;
                GuardDecision g;

                if (i->step >= rule->n_steps)
                        return escalate(
                                c,
                                i,
                                "no step left",
                                "no remediation step left after %zu step%s",
                                rule->n_steps,
                                rule->n_steps == 1 ? "" : "s");
                const Step *step = &rule->steps[i->step];

                r = e->opts.step_target(e->opts.userdata, rule, step, i, &t, &why);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        r = skip(c, i, SKIP_NOT_ALLOWED, step, NULL, false, 0, strempty(why));
                        if (r < 0)
                                return r;
                        i->step++;
                        continue;
                }
                if (i->silenced)
                        return skip(c, i, SKIP_SILENCE, step, &t, true, 0, "the incident is silenced");

                GuardRequest req = {
                        .rule = rule->name,
                        .limits = &rule->guard,
                        .target_key = t.key,
                        .incident = i->id,
                        .round = i->round,
                };
                size_t failures;
                if (guard_breaker_open(&e->guards, rule->name, &rule->guard, c->now.mono, &failures)) {
                        char detail[128];
                        snprintf(
                                detail,
                                sizeof(detail),
                                "circuit breaker open: %zu failed recoveries within %s",
                                failures,
                                dur(d, sizeof(d), rule->guard.breaker_window_usec));
                        r = skip(c, i, SKIP_BREAKER, step, &t, true, 0, detail);
                        if (r < 0)
                                return r;
                        return escalate(
                                c, i, "breaker open", "%s: no further actions for rule %s", detail, rule->name);
                }
                if (e->loop_lagging)
                        return skip(
                                c,
                                i,
                                SKIP_LOOP_LAG,
                                step,
                                &t,
                                true,
                                c->now.mono + INCIDENT_RETRY_USEC,
                                "homeostatd's event loop is lagging, its measurements cannot be trusted");
                guard_check(&e->guards, &req, c->now.mono, &g);
                if (g.reason != SKIP_NONE)
                        return skip(
                                c,
                                i,
                                g.reason,
                                step,
                                &t,
                                true,
                                g.until_mono ?: c->now.mono + INCIDENT_RETRY_USEC,
                                g.detail);
                return begin_action(c, i, step, &t);
        }
}

/* The step did not bring the series back (or could not run): on to the next. */
static int next_step(Ctx *c, Incident *i) {
        i->state = INCIDENT_FIRING;
        clear_timers(i);
        i->step = i->action.step + 1;
        i->last_skip = SKIP_NONE;
        return try_step(c, i);
}

static int record_failure(Ctx *c, Incident *i) {
        if (!i->rule)
                return 0;
        int r = guard_record_failure(&c->e->guards, i->rule->name, &i->rule->guard, c->now.mono);
        c->out->save = true;
        return r < 0 ? r : 0;
}

/* The executor answered. Shared by the live path and, for late answers, by escalated/resolved incidents. */
static int record_result(Ctx *c, Incident *i, const StepResult *res) {
        _cleanup_free_ char *what = describe_action(i, &i->action), *msg = clean_text(res->message);
        json_t *attrs;
        int r;

        release_action_target(c, i, true, res->invocation_id_after);
        i->action.phase = ACTION_PHASE_NONE;
        attrs = clean_attrs(res->attrs, 0);
        if (attrs) {
                json_t *a = action_attrs(i, &i->action);
                if (a) {
                        json_object_update(attrs, a);
                        json_decref(a);
                }
                if (res->invocation_id_after && res->invocation_id_after[0])
                        json_object_set_new(
                                attrs, "invocation_id_after", json_string(res->invocation_id_after));
        }
        switch (res->outcome) {
        case STEP_SUCCEEDED:
                r = emit(
                        c,
                        i,
                        IEV_ACTION_SUCCEEDED,
                        c->now.wall,
                        attrs,
                        "%s succeeded%s%s",
                        strempty(what),
                        msg && msg[0] ? ": " : "",
                        strempty(msg));
                if (r < 0)
                        return r;
                if (i->action.undoable) {
                        r = add_obligation(c, i, res->undo);
                        if (r < 0)
                                return r;
                }
                return 0;
        case STEP_TIMED_OUT:
        case STEP_FAILED:
                r = emit(
                        c,
                        i,
                        IEV_ACTION_FAILED,
                        c->now.wall,
                        attrs,
                        "%s %s%s%s",
                        strempty(what),
                        res->outcome == STEP_TIMED_OUT ? "timed out" : "failed",
                        msg && msg[0] ? ": " : "",
                        strempty(msg));
                if (r < 0)
                        return r;
                /* Past the point of no return the executor may have changed something anyway: keep the undo. */
                if (i->action.undoable && res->undo && !json_is_null(res->undo))
                        return add_obligation(c, i, res->undo);
                return 0;
        case STEP_SKIPPED:
        default:
                if (attrs) {
                        json_object_set_new(
                                attrs, "reason", json_string(skip_reason_to_string(SKIP_UNIT_STATE)));
                        if (res->retry)
                                json_object_set_new(attrs, "retry", json_true());
                }
                return emit(
                        c,
                        i,
                        IEV_ACTION_SKIPPED,
                        c->now.wall,
                        attrs,
                        "%s skipped (%s)%s%s",
                        strempty(what),
                        skip_reason_to_string(SKIP_UNIT_STATE),
                        msg && msg[0] ? ": " : "",
                        strempty(msg));
        }
}

/* ---- handlers ---- */

static int h_ignore(Ctx *c, Incident *i, const Input *in) {
        return 0;
}

static int h_stale(Ctx *c, Incident *i, const Input *in) {
        return 0;
}

static int h_impossible(Ctx *c, Incident *i, const Input *in) {
        c->e->impossible++;
        return 0;
}

static int h_void_recovery(Ctx *c, Incident *i, const Input *in) {
        i->recovered_at = 0;
        return 0;
}

static int h_resolve(Ctx *c, Incident *i, const Input *in) {
        return resolve(c, i, in->resolved_at);
}

static int h_recover_remediating(Ctx *c, Incident *i, const Input *in) {
        if (i->action.phase == ACTION_PHASE_PREFLIGHT)
                /* Nothing done yet: do not act on a service that came back by itself. */
                return resolve(c, i, in->resolved_at);
        /* The action runs: judge when it has ended and settled. */
        i->recovered_at = in->resolved_at ?: c->now.wall;
        return 0;
}

static int h_recover_verifying(Ctx *c, Incident *i, const Input *in) {
        i->recovered_at = in->resolved_at ?: c->now.wall;
        if (i->settle_mono != 0 && i->settle_mono <= c->now.mono)
                i->settle_mono = 0; /* settled; the timer has just not run yet */
        if (i->settle_mono == 0 && recovery_valid(i))
                return pass_verification(c, i);
        return 0;
}

static int h_retry(Ctx *c, Incident *i, const Input *in) {
        return try_step(c, i);
}

static int h_settle(Ctx *c, Incident *i, const Input *in) {
        i->settle_mono = 0;
        if (recovery_valid(i))
                return pass_verification(c, i);
        return 0;
}

static int h_verify_failed(Ctx *c, Incident *i, const Input *in) {
        _cleanup_free_ char *what = describe_action(i, &i->action), *v = describe_now(i);
        char d[DURATION_MAX];
        json_t *attrs = action_attrs(i, &i->action), *va = value_attrs(i);
        int r;

        if (attrs && va)
                json_object_update(attrs, va);
        json_decref(va);
        r = emit(
                c,
                i,
                IEV_VERIFY_FAILED,
                c->now.wall,
                attrs,
                "still %s %s after %s",
                strempty(v),
                dur(d, sizeof(d), i->action.verify_usec),
                strempty(what));
        if (r < 0)
                return r;
        r = record_failure(c, i);
        if (r < 0)
                return r;
        return next_step(c, i);
}

static int h_preflight(Ctx *c, Incident *i, const Input *in) {
        const UnitSnapshot *u = in->unit;
        const Rule *rule = i->rule;
        const Step *step = current_step(i);
        char d[DURATION_MAX], g_d[DURATION_MAX], detail[256];
        usec_t until;
        int r;

        if (i->action.phase != ACTION_PHASE_PREFLIGHT || !rule || !step)
                return 0;

        if (!u) {
                _cleanup_free_ char *what = describe_action(i, &i->action), *err = clean_text(in->error);
                cancel_preflight(c, i);
                r = emit(
                        c,
                        i,
                        IEV_ACTION_FAILED,
                        c->now.wall,
                        action_attrs(i, &i->action),
                        "%s not attempted: cannot read the state of %s: %s",
                        strempty(what),
                        strempty(i->action.target.unit),
                        strempty(err));
                if (r < 0)
                        return r;
                return next_step(c, i);
        }

        /* From here on, every refusal puts the incident back to firing (no action in flight). */
        if (guard_in_grace(
                    &c->e->guards,
                    i->action.target.key,
                    u->invocation_id,
                    u->active_enter_mono,
                    rule->grace_usec,
                    c->now.mono,
                    &until)) {
                cancel_preflight(c, i);
                i->state = INCIDENT_FIRING;
                snprintf(
                        detail,
                        sizeof(detail),
                        "%s was (re)started by someone else %s ago; grace %s",
                        i->action.target.unit,
                        incident_format_elapsed(d, sizeof(d), c->now.mono - u->active_enter_mono),
                        dur(g_d, sizeof(g_d), rule->grace_usec));
                return skip(c, i, SKIP_GRACE, step, &i->action.target, true, until, detail);
        }
        if (streq(u->result, "start-limit-hit")) {
                cancel_preflight(c, i);
                i->state = INCIDENT_FIRING;
                snprintf(detail, sizeof(detail), "%s hit its start limit", i->action.target.unit);
                r = skip(c, i, SKIP_UNIT_STATE, step, &i->action.target, false, 0, detail);
                if (r < 0)
                        return r;
                return escalate(
                        c, i, "unit start limit", "%s; systemd will not start it again by itself", detail);
        }
        if (u->job_queued || streq(u->active_state, "activating") ||
            streq(u->active_state, "deactivating") || streq(u->active_state, "reloading")) {
                cancel_preflight(c, i);
                i->state = INCIDENT_FIRING;
                snprintf(
                        detail,
                        sizeof(detail),
                        "%s is %s",
                        i->action.target.unit,
                        u->job_queued ? "busy with a queued job" : u->active_state);
                return skip(
                        c,
                        i,
                        SKIP_UNIT_STATE,
                        step,
                        &i->action.target,
                        true,
                        c->now.mono + INCIDENT_RETRY_USEC,
                        detail);
        }
        if (streq(u->active_state, "inactive") && i->action.action != ACTION_START) {
                cancel_preflight(c, i);
                i->state = INCIDENT_FIRING;
                snprintf(detail, sizeof(detail), "%s is inactive (stopped on purpose)", i->action.target.unit);
                return skip(
                        c,
                        i,
                        SKIP_UNIT_STATE,
                        step,
                        &i->action.target,
                        true,
                        c->now.mono + INCIDENT_RETRY_SLOW_USEC,
                        detail);
        }

        /* Time passed while we asked: the world may have changed. */
        GuardRequest req = {
                .rule = rule->name,
                .limits = &rule->guard,
                .target_key = i->action.target.key,
                .incident = i->id,
                .round = i->round,
        };
        GuardDecision g;
        if (c->e->loop_lagging) {
                cancel_preflight(c, i);
                i->state = INCIDENT_FIRING;
                return skip(
                        c,
                        i,
                        SKIP_LOOP_LAG,
                        step,
                        &i->action.target,
                        true,
                        c->now.mono + INCIDENT_RETRY_USEC,
                        "homeostatd's event loop is lagging, its measurements cannot be trusted");
        }
        guard_check(&c->e->guards, &req, c->now.mono, &g);
        if (g.reason != SKIP_NONE) {
                cancel_preflight(c, i);
                i->state = INCIDENT_FIRING;
                i->step = i->action.step;
                return try_step(c, i);
        }
        snprintf(i->action.invocation_id_before, sizeof(i->action.invocation_id_before), "%s", u->invocation_id);
        return execute(c, i);
}

static int h_result(Ctx *c, Incident *i, const Input *in) {
        const StepResult *res = in->result;
        int r;

        r = record_result(c, i, res);
        if (r < 0)
                return r;
        switch (res->outcome) {
        case STEP_SUCCEEDED:
                i->acted = true;
                i->state = INCIDENT_VERIFYING;
                i->settle_mono = i->action.settle_usec > 0 ? c->now.mono + i->action.settle_usec : 0;
                i->verify_mono = c->now.mono + i->action.verify_usec;
                if (i->settle_mono == 0 && recovery_valid(i))
                        return pass_verification(c, i);
                return 0;
        case STEP_FAILED:
        case STEP_TIMED_OUT:
                r = record_failure(c, i);
                if (r < 0)
                        return r;
                if (recovery_valid(i))
                        return resolve(c, i, i->recovered_at);
                return next_step(c, i);
        case STEP_SKIPPED:
        default:
                i->state = INCIDENT_FIRING;
                i->step = i->action.step;
                if (recovery_valid(i))
                        return resolve(c, i, i->recovered_at);
                if (res->retry) {
                        i->retry_mono = c->now.mono + INCIDENT_RETRY_USEC;
                        return 0;
                }
                /* Nothing was changed (already in the wanted state, or refused for good): the step cannot
                 * help by running again; on to the next one. Not a failed recovery: nothing was tried. */
                return next_step(c, i);
        }
}

static int h_late_result(Ctx *c, Incident *i, const Input *in) {
        int r = record_result(c, i, in->result);
        if (r < 0)
                return r;
        if (i->state == INCIDENT_RESOLVED)
                return undo_all(c, i);
        return 0;
}

static int reexecute(Ctx *c, Incident *i, const char *why) {
        _cleanup_free_ char *what = describe_action(i, &i->action);
        Effect *eff;
        int r;

        i->action.phase = ACTION_PHASE_EXECUTING;
        i->action.started_mono = c->now.mono;
        r = emit(
                c,
                i,
                IEV_ACTION_STARTED,
                c->now.wall,
                action_attrs(i, &i->action),
                "%s again (step %u): %s",
                strempty(what),
                i->action.step + 1,
                why);
        if (r < 0)
                return r;
        r = effect_add(c, EFFECT_ACTION, i, &eff);
        if (r < 0)
                return r;
        eff->action_id = i->action.id;
        c->out->save = c->out->save_now = true;
        return 0;
}

static int h_reconcile(Ctx *c, Incident *i, const Input *in) {
        _cleanup_free_ char *what = describe_action(i, &i->action), *msg = clean_text(in->message);
        int r;

        if (in->reconcile == RECONCILE_DONE) {
                _cleanup_free_ char *m = format("completed before homeostatd restarted (%s)", strempty(msg));
                StepResult res = { .outcome = STEP_SUCCEEDED, .message = m };
                Input fake = { .kind = IN_RESULT, .result = &res };
                return h_result(c, i, &fake);
        }
        if (i->action.interruptions >= 2) {
                release_action_target(c, i, false, NULL);
                i->action.phase = ACTION_PHASE_NONE;
                r = emit(
                        c,
                        i,
                        IEV_ACTION_FAILED,
                        c->now.wall,
                        action_attrs(i, &i->action),
                        "%s interrupted by restarts of homeostatd %u times; not tried again",
                        strempty(what),
                        i->action.interruptions);
                if (r < 0)
                        return r;
                return next_step(c, i);
        }
        if (in->reconcile == RECONCILE_NOT_DONE)
                return reexecute(c, i, "it had not happened when homeostatd restarted");
        if (incident_action_is_idempotent(i->action.action) && !i->action.undoable)
                return reexecute(
                        c, i, "its outcome was unknown after homeostatd restarted and it is safe to repeat");
        release_action_target(c, i, false, NULL);
        i->action.phase = ACTION_PHASE_NONE;
        if (i->action.undoable) {
                /* Repeating a drain or a limit would record the changed state as the one to restore, and
                 * without the executor's undo data it cannot be put back either: a human must look. */
                r = emit(
                        c,
                        i,
                        IEV_ACTION_FAILED,
                        c->now.wall,
                        action_attrs(i, &i->action),
                        "%s: outcome unknown after homeostatd restarted (%s); check %s by hand",
                        strempty(what),
                        strempty(msg),
                        strempty(i->action.target.display));
                if (r < 0)
                        return r;
                return escalate(c, i, "outcome unknown", "%s may or may not be in place", strempty(what));
        }
        r = emit(
                c,
                i,
                IEV_ACTION_FAILED,
                c->now.wall,
                action_attrs(i, &i->action),
                "%s: outcome unknown after homeostatd restarted (%s); not repeated",
                strempty(what),
                strempty(msg));
        if (r < 0)
                return r;
        return next_step(c, i);
}

static int h_late_reconcile(Ctx *c, Incident *i, const Input *in) {
        _cleanup_free_ char *what = describe_action(i, &i->action), *msg = clean_text(in->message);

        if (in->reconcile == RECONCILE_DONE) {
                _cleanup_free_ char *m = format("completed before homeostatd restarted (%s)", strempty(msg));
                StepResult res = { .outcome = STEP_SUCCEEDED, .message = m };
                Input fake = { .kind = IN_RESULT, .result = &res };
                return h_late_result(c, i, &fake);
        }
        release_action_target(c, i, false, NULL);
        i->action.phase = ACTION_PHASE_NONE;
        return emit(
                c,
                i,
                IEV_ACTION_FAILED,
                c->now.wall,
                action_attrs(i, &i->action),
                "%s interrupted by a restart of homeostatd; not repeated: the incident no longer needs it",
                strempty(what));
}

static int h_silence(Ctx *c, Incident *i, const Input *in) {
        const Silence *s = in->silence;
        char id[ID128_STRING_MAX], until[TIMESTAMP_MAX];

        i->silenced = true;
        i->silence_id = s->id;
        return emit(
                c,
                i,
                IEV_SILENCED,
                c->now.wall,
                json_pack(
                        "{s:s, s:o, s:s, s:s}",
                        "silence",
                        id128_to_string(&s->id, id),
                        "ends_at",
                        json_timestamp(s->ends_at),
                        "created_by",
                        s->created_by,
                        "comment",
                        s->comment),
                "silenced until %s by %s: %s",
                format_timestamp(until, sizeof(until), s->ends_at),
                s->created_by,
                s->comment);
}

static int unsilence(Ctx *c, Incident *i) {
        char id[ID128_STRING_MAX];

        i->silenced = false;
        return emit(
                c,
                i,
                IEV_UNSILENCED,
                c->now.wall,
                json_pack("{s:s}", "silence", id128_to_string(&i->silence_id, id)),
                "silence ended");
}

static int h_unsilence(Ctx *c, Incident *i, const Input *in) {
        return unsilence(c, i);
}

static int h_unsilence_retry(Ctx *c, Incident *i, const Input *in) {
        int r = unsilence(c, i);
        if (r < 0)
                return r;
        i->last_skip = SKIP_NONE;
        return try_step(c, i);
}

static int h_unsilence_quiet(Ctx *c, Incident *i, const Input *in) {
        i->silenced = false;
        c->out->save = true;
        return 0;
}

static int h_rule_removed(Ctx *c, Incident *i, const Input *in) {
        i->orphaned = true;
        return escalate(
                c,
                i,
                "rule removed",
                "rule %s was removed by a reload: no further actions; undo obligations are kept until "
                "their max_hold",
                i->rule_name);
}

static int h_orphan_quiet(Ctx *c, Incident *i, const Input *in) {
        i->orphaned = true;
        c->out->save = true;
        return 0;
}

static int h_rule_restored(Ctx *c, Incident *i, const Input *in) {
        i->orphaned = false;
        c->out->save = true;
        return 0;
}

static int h_hold_expired(Ctx *c, Incident *i, const Input *in) {
        const Obligation *o = in->obligation;
        char d[DURATION_MAX];

        return escalate(
                c,
                i,
                "max_hold",
                "%s of %s held for %s (max_hold): undoing it",
                incident_action_name(o->action),
                o->target.display ?: "",
                dur(d, sizeof(d), o->max_hold_usec));
}

static int h_reopen(Ctx *c, Incident *i, const Input *in) {
        _cleanup_free_ char *v = describe_now(i);
        char d[DURATION_MAX];
        const Silence *s;
        int r = 0;

        r = emit(
                c,
                i,
                IEV_REOPENED,
                c->now.wall,
                value_attrs(i),
                "fired again %s after it resolved: %s",
                incident_format_elapsed(d, sizeof(d), c->now.mono - i->resolved_mono),
                strempty(v));
        if (r < 0)
                return r;
        /* A recovery after our action that did not hold counts against the breaker. */
        if (i->acted) {
                r = record_failure(c, i);
                if (r < 0)
                        return r;
        }
        i->state = INCIDENT_FIRING;
        i->resolved_at = 0;
        i->resolved_mono = 0;
        i->round++;
        i->step = 0;
        i->acted = false;
        i->simulated = false;
        i->last_skip = SKIP_NONE;
        i->recovered_at = 0;
        clear_timers(i);

        s = silence_set_match(&c->e->silences, c->now.mono, i->rule_name, i->metric, i->labels, i->n_labels);
        if (s && !i->silenced) {
                Input si = { .kind = IN_SILENCE, .silence = s };
                r = h_silence(c, i, &si);
        } else if (s)
                i->silence_id = s->id;
        else if (i->silenced)
                r = unsilence(c, i);
        if (r < 0)
                return r;
        return try_step(c, i);
}

/* ---- the table ---- */

typedef int (*Handler)(Ctx *c, Incident *i, const Input *in);

typedef struct Transition {
        Handler handler;
        const char *name;
} Transition;

#define T(h) \
        { h, #h }

static const Transition machine[_INCIDENT_STATE_MAX][_IN_MAX] = {
        [INCIDENT_FIRING] = {
                [IN_FIRE]            = T(h_ignore),
                [IN_PENDING]         = T(h_ignore),
                [IN_RECOVER]         = T(h_resolve),
                [IN_RETRY]           = T(h_retry),
                [IN_SETTLE]          = T(h_stale),
                [IN_VERIFY_DEADLINE] = T(h_stale),
                [IN_PREFLIGHT]       = T(h_stale),
                [IN_RESULT]          = T(h_late_result),
                [IN_RECONCILE]       = T(h_late_reconcile),
                [IN_SILENCE]         = T(h_silence),
                [IN_UNSILENCE]       = T(h_unsilence_retry),
                [IN_RULE_REMOVED]    = T(h_rule_removed),
                [IN_RULE_RESTORED]   = T(h_rule_restored),
                [IN_HOLD_EXPIRED]    = T(h_hold_expired),
        },
        [INCIDENT_REMEDIATING] = {
                [IN_FIRE]            = T(h_void_recovery),
                [IN_PENDING]         = T(h_void_recovery),
                [IN_RECOVER]         = T(h_recover_remediating),
                [IN_RETRY]           = T(h_stale),
                [IN_SETTLE]          = T(h_stale),
                [IN_VERIFY_DEADLINE] = T(h_stale),
                [IN_PREFLIGHT]       = T(h_preflight),
                [IN_RESULT]          = T(h_result),
                [IN_RECONCILE]       = T(h_reconcile),
                [IN_SILENCE]         = T(h_silence),
                [IN_UNSILENCE]       = T(h_unsilence),
                [IN_RULE_REMOVED]    = T(h_rule_removed),
                [IN_RULE_RESTORED]   = T(h_rule_restored),
                [IN_HOLD_EXPIRED]    = T(h_hold_expired),
        },
        [INCIDENT_VERIFYING] = {
                [IN_FIRE]            = T(h_void_recovery),
                [IN_PENDING]         = T(h_void_recovery),
                [IN_RECOVER]         = T(h_recover_verifying),
                [IN_RETRY]           = T(h_stale),
                [IN_SETTLE]          = T(h_settle),
                [IN_VERIFY_DEADLINE] = T(h_verify_failed),
                [IN_PREFLIGHT]       = T(h_stale),
                [IN_RESULT]          = T(h_impossible),
                [IN_RECONCILE]       = T(h_impossible),
                [IN_SILENCE]         = T(h_silence),
                [IN_UNSILENCE]       = T(h_unsilence),
                [IN_RULE_REMOVED]    = T(h_rule_removed),
                [IN_RULE_RESTORED]   = T(h_rule_restored),
                [IN_HOLD_EXPIRED]    = T(h_hold_expired),
        },
        [INCIDENT_ESCALATED] = {
                [IN_FIRE]            = T(h_ignore),
                [IN_PENDING]         = T(h_ignore),
                [IN_RECOVER]         = T(h_resolve),
                [IN_RETRY]           = T(h_stale),
                [IN_SETTLE]          = T(h_stale),
                [IN_VERIFY_DEADLINE] = T(h_stale),
                [IN_PREFLIGHT]       = T(h_stale),
                [IN_RESULT]          = T(h_late_result),
                [IN_RECONCILE]       = T(h_late_reconcile),
                [IN_SILENCE]         = T(h_silence),
                [IN_UNSILENCE]       = T(h_unsilence),
                [IN_RULE_REMOVED]    = T(h_orphan_quiet),
                [IN_RULE_RESTORED]   = T(h_rule_restored),
                [IN_HOLD_EXPIRED]    = T(h_ignore),
        },
        [INCIDENT_RESOLVED] = {
                [IN_FIRE]            = T(h_reopen),
                [IN_PENDING]         = T(h_ignore),
                [IN_RECOVER]         = T(h_ignore),
                [IN_RETRY]           = T(h_stale),
                [IN_SETTLE]          = T(h_stale),
                [IN_VERIFY_DEADLINE] = T(h_stale),
                [IN_PREFLIGHT]       = T(h_stale),
                [IN_RESULT]          = T(h_late_result),
                [IN_RECONCILE]       = T(h_late_reconcile),
                [IN_SILENCE]         = T(h_impossible),
                [IN_UNSILENCE]       = T(h_unsilence_quiet),
                [IN_RULE_REMOVED]    = T(h_orphan_quiet),
                [IN_RULE_RESTORED]   = T(h_rule_restored),
                [IN_HOLD_EXPIRED]    = T(h_impossible),
        },
};

#undef T

static int dispatch(Ctx *c, Incident *i, const Input *in) {
        if (i->state < 0 || i->state >= _INCIDENT_STATE_MAX || in->kind >= _IN_MAX)
                return -EINVAL;
        return machine[i->state][in->kind].handler(c, i, in);
}

static const char *const input_names[_IN_MAX] = {
        [IN_FIRE] = "fire",
        [IN_PENDING] = "pending",
        [IN_RECOVER] = "recover",
        [IN_RETRY] = "retry",
        [IN_SETTLE] = "settle",
        [IN_VERIFY_DEADLINE] = "verify_deadline",
        [IN_PREFLIGHT] = "preflight",
        [IN_RESULT] = "result",
        [IN_RECONCILE] = "reconcile",
        [IN_SILENCE] = "silence",
        [IN_UNSILENCE] = "unsilence",
        [IN_RULE_REMOVED] = "rule_removed",
        [IN_RULE_RESTORED] = "rule_restored",
        [IN_HOLD_EXPIRED] = "hold_expired",
};

const char *incident_input_to_string(IncidentInput in) {
        return in < _IN_MAX ? input_names[in] : NULL;
}

const char *incident_engine_handler_name(IncidentState s, IncidentInput in) {
        if (s < 0 || s >= _INCIDENT_STATE_MAX || in >= _IN_MAX)
                return NULL;
        return machine[s][in].name;
}

bool incident_action_is_idempotent(ActionKind k) {
        switch (k) {
        case ACTION_RELOAD:
        case ACTION_START:
        case ACTION_STOP:
        case ACTION_LIMIT:
        case ACTION_HAPROXY:
        case ACTION_REDIS:
        case ACTION_MEMCACHED:
                return true;
        default:
                /* restart, try-restart: reconciled by InvocationID instead; kill, exec, http: not safe. */
                return false;
        }
}

bool incident_step_has_undo(const Step *s) {
        return action_has_undo(s);
}

/* ---- the engine ---- */

static int default_new_id(void *userdata, Id128 *ret) {
        return -EOPNOTSUPP;
}

int incident_engine_new(const IncidentEngineOptions *opts, IncidentEngine **ret) {
        _cleanup_(incident_engine_freep) IncidentEngine *e = NULL;
        int r;

        if (!opts || !opts->step_target)
                return -EINVAL;
        e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->opts = *opts;
        if (!e->opts.new_id)
                e->opts.new_id = default_new_id;
        e->host = strdup(opts->host ?: "");
        if (!e->host)
                return -ENOMEM;
        e->opts.host = e->host;
        if (e->opts.host_max_actions == 0)
                e->opts.host_max_actions = GUARD_HOST_MAX_ACTIONS;
        if (e->opts.host_per_usec == 0)
                e->opts.host_per_usec = GUARD_HOST_PER_USEC;
        if (e->opts.retention_usec == 0)
                e->opts.retention_usec = INCIDENT_RETENTION_USEC;
        if (e->opts.max_incidents == 0)
                e->opts.max_incidents = INCIDENT_MAX_INCIDENTS;
        guard_state_init(&e->guards, e->opts.host_max_actions, e->opts.host_per_usec);
        r = hashmap_new(&e->by_key);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(e);
        return 0;
}

static void key_entries_free(IncidentEngine *e) {
        size_t st = 0;
        const char *k;
        size_t kl;
        void *v;

        if (!e->by_key)
                return;
        while (hashmap_iterate(e->by_key, &st, &k, &kl, &v)) {
                KeyEntry *ke = v;
                free(ke->key);
                free(ke);
        }
        e->by_key = hashmap_free(e->by_key);
}

IncidentEngine *incident_engine_free(IncidentEngine *e) {
        if (!e)
                return NULL;
        for (size_t k = 0; k < e->n_incidents; k++)
                incident_free(e->incidents[k]);
        free(e->incidents);
        key_entries_free(e);
        guard_state_done(&e->guards);
        silence_set_done(&e->silences);
        free(e->host);
        free(e);
        return NULL;
}

static int make_key(const char *rule, const char *series, char **ret, size_t *ret_len) {
        size_t a = strlen(rule), b = strlen(series);
        char *k = malloc(a + 1 + b + 1);

        if (!k)
                return -ENOMEM;
        memcpy(k, rule, a + 1);
        memcpy(k + a + 1, series, b + 1);
        *ret = k;
        *ret_len = a + 1 + b;
        return 0;
}

static KeyEntry *key_lookup(const IncidentEngine *e, const char *rule, const char *series) {
        size_t a = strlen(rule), b = strlen(series);
        char stackbuf[512];
        _cleanup_free_ char *heap = NULL;
        char *k = stackbuf;

        if (a + 1 + b + 1 > sizeof(stackbuf)) {
                heap = malloc(a + 1 + b + 1);
                if (!heap)
                        return NULL;
                k = heap;
        }
        memcpy(k, rule, a + 1);
        memcpy(k + a + 1, series, b + 1);
        return hashmap_get(e->by_key, k, a + 1 + b, hash_bytes(k, a + 1 + b));
}

static int key_set_latest(IncidentEngine *e, Incident *i) {
        KeyEntry *ke = key_lookup(e, i->rule_name, i->series_key);
        int r;

        if (ke) {
                ke->latest = i;
                return 0;
        }
        ke = calloc(1, sizeof(*ke));
        if (!ke)
                return -ENOMEM;
        r = make_key(i->rule_name, i->series_key, &ke->key, &ke->len);
        if (r < 0) {
                free(ke);
                return r;
        }
        ke->latest = i;
        r = hashmap_put(e->by_key, ke->key, ke->len, hash_bytes(ke->key, ke->len), ke);
        if (r < 0) {
                free(ke->key);
                free(ke);
        }
        return r;
}

static void key_forget(IncidentEngine *e, Incident *i) {
        KeyEntry *ke = key_lookup(e, i->rule_name, i->series_key);

        if (!ke || ke->latest != i)
                return;
        hashmap_remove(e->by_key, ke->key, ke->len, hash_bytes(ke->key, ke->len));
        free(ke->key);
        free(ke);
}

static const Rule *find_rule(const Config *c, const char *name) {
        return c ? config_find_rule(c, name) : NULL;
}

int incident_engine_set_config(IncidentEngine *e, const Config *config, IncidentNow now, Effects *out) {
        Ctx c = { e, now, out };
        int r;

        e->config = config;
        for (size_t k = 0; k < e->n_incidents; k++) {
                Incident *i = e->incidents[k];
                const Rule *rule = find_rule(config, i->rule_name);
                Input in = { .kind = rule ? IN_RULE_RESTORED : IN_RULE_REMOVED };

                i->rule = rule;
                if (rule ? !i->orphaned : i->orphaned)
                        continue;
                r = dispatch(&c, i, &in);
                if (r < 0)
                        return r;
        }
        return 0;
}

static Incident *add_incident(IncidentEngine *e, Incident *i) {
        Incident **n = reallocarray(e->incidents, e->n_incidents + 1, sizeof(*n));

        if (!n)
                return NULL;
        e->incidents = n;
        if (key_set_latest(e, i) < 0)
                return NULL;
        e->incidents[e->n_incidents++] = i;
        return i;
}

static int open_incident(Ctx *c, const EvalRow *row) {
        IncidentEngine *e = c->e;
        _cleanup_(incident_freep) Incident *i = NULL;
        _cleanup_free_ char *v = NULL;
        const Silence *s;
        Incident *added;
        Id128 id;
        char d[DURATION_MAX];
        int r;

        if (e->n_incidents >= e->opts.max_incidents)
                return -E2BIG;
        r = e->opts.new_id(e->opts.userdata, &id);
        if (r < 0)
                return r;
        r = incident_new(&id, row->rule->name, row->series_key, row->metric, row->labels, row->n_labels, &i);
        if (r < 0)
                return r;
        i->rule = find_rule(e->config, row->rule->name) ?: row->rule;
        update_values(i, row);
        i->detected_at = usec_from_seconds(row->detected_at) ?: usec_from_seconds(row->t) ?: c->now.wall;
        i->detected_value = i->value;
        i->detected_expected = i->expected;
        i->detected_lower = i->lower;
        i->detected_upper = i->upper;
        added = add_incident(e, i);
        if (!added)
                return -ENOMEM;
        TAKE_PTR(i);

        v = describe_now(added);
        if (row->transition == EVAL_ABSENT)
                r = emit(
                        c,
                        added,
                        IEV_DETECTED,
                        added->detected_at,
                        value_attrs(added),
                        "no data for %s",
                        added->series_key);
        else
                r = emit(
                        c,
                        added,
                        IEV_DETECTED,
                        added->detected_at,
                        value_attrs(added),
                        "%s is anomalous: %s",
                        added->series_key,
                        strempty(v));
        if (r < 0)
                return r;
        usec_t t = usec_from_seconds(row->t) ?: c->now.wall;
        r = emit(
                c,
                added,
                IEV_FIRING,
                c->now.wall,
                value_attrs(added),
                "rule %s fires after %s: %s",
                added->rule_name,
                incident_format_elapsed(d, sizeof(d), t > added->detected_at ? t - added->detected_at : 0),
                strempty(v));
        if (r < 0)
                return r;
        s = silence_set_match(
                &e->silences, c->now.mono, added->rule_name, added->metric, added->labels, added->n_labels);
        if (s) {
                Input in = { .kind = IN_SILENCE, .silence = s };
                r = dispatch(c, added, &in);
                if (r < 0)
                        return r;
        }
        return try_step(c, added);
}

/* The evaluator reports a rule's return to normal once, as EVAL_RESOLVED. An open incident can miss it: the
 * evaluator's learned state was lost (a crash between its saves) or reset (the rule's detector changed), or a
 * recovery seen during verification was voided by a short relapse that cleared before `for`. Then the
 * evaluator says "not firing" without ever saying "resolved". For those cases the incident watches the rows
 * itself: samples that are not anomalous (and not warm-up, and not missing) for recover_for make the
 * recovery, from the start of that normal run — the same definition as the evaluator's. */
static int quiet_recovery(Ctx *c, Incident *i, const EvalRow *row) {
        usec_t t = usec_from_seconds(row->t);

        if (row->firing || i->recovered_at != 0 || !i->rule)
                return 0;
        if (row->verdict.anomalous || row->verdict.warming_up || isnan(row->x) || t == 0) {
                i->normal_since = 0;
                return 0;
        }
        if (i->normal_since == 0 || i->normal_since > t)
                i->normal_since = t;
        if (t - i->normal_since < i->rule->recover_for_usec)
                return 0;
        return dispatch(c, i, &(Input){ .kind = IN_RECOVER, .resolved_at = i->normal_since });
}

int incident_engine_eval(IncidentEngine *e, const EvalRow *row, IncidentNow now, Effects *out) {
        Ctx c = { e, now, out };
        KeyEntry *ke;
        Incident *i;

        if (!row->rule || !row->series_key)
                return -EINVAL;
        if (row->transition == EVAL_NONE && !row->firing && hashmap_size(e->by_key) == 0)
                return 0;
        ke = key_lookup(e, row->rule->name, row->series_key);
        i = ke ? ke->latest : NULL;

        switch (row->transition) {
        case EVAL_NONE:
        case EVAL_CLEARED:
                if (!i || !incident_state_is_open(i->state))
                        return 0;
                update_values(i, row);
                return quiet_recovery(&c, i, row);
        case EVAL_PENDING:
                if (!i)
                        return 0;
                update_values(i, row);
                return dispatch(&c, i, &(Input){ .kind = IN_PENDING });
        case EVAL_FIRING:
        case EVAL_ABSENT:
                if (i && incident_state_is_open(i->state)) {
                        update_values(i, row);
                        return dispatch(&c, i, &(Input){ .kind = IN_FIRE });
                }
                if (i && !i->orphaned && i->rule && i->resolved_mono <= now.mono &&
                    now.mono - i->resolved_mono <= i->rule->reopen_within_usec) {
                        update_values(i, row);
                        return dispatch(&c, i, &(Input){ .kind = IN_FIRE });
                }
                return open_incident(&c, row);
        case EVAL_RESOLVED:
                if (!i)
                        return 0;
                update_values(i, row);
                return dispatch(
                        &c,
                        i,
                        &(Input){ .kind = IN_RECOVER,
                                  .resolved_at = usec_from_seconds(row->resolved_at)
                                          ?: usec_from_seconds(row->t) });
        }
        return -EINVAL;
}

static Incident *find(const IncidentEngine *e, const Id128 *id) {
        for (size_t k = e->n_incidents; k > 0; k--)
                if (id128_equal(&e->incidents[k - 1]->id, id))
                        return e->incidents[k - 1];
        return NULL;
}

Incident *incident_engine_get(const IncidentEngine *e, const Id128 *id) {
        return find(e, id);
}

/* Silences whose time is up: unsilence the incidents no other silence covers. */
static int expire_silences(Ctx *c) {
        IncidentEngine *e = c->e;
        bool changed = false;
        int r;

        for (size_t k = 0; k < e->silences.n; k++) {
                Silence *s = e->silences.items[k];
                if (!s->expired && !silence_is_active(s, c->now.mono)) {
                        s->expired = true;
                        changed = true;
                }
        }
        if (!changed)
                return 0;
        c->out->save = true;
        for (size_t k = 0; k < e->n_incidents; k++) {
                Incident *i = e->incidents[k];
                const Silence *s;

                if (!i->silenced)
                        continue;
                s = silence_set_match(
                        &e->silences, c->now.mono, i->rule_name, i->metric, i->labels, i->n_labels);
                if (s) {
                        i->silence_id = s->id;
                        continue;
                }
                r = dispatch(c, i, &(Input){ .kind = IN_UNSILENCE });
                if (r < 0)
                        return r;
        }
        return 0;
}

int incident_engine_run_timers(IncidentEngine *e, IncidentNow now, Effects *out) {
        Ctx c = { e, now, out };
        int r;

        r = expire_silences(&c);
        if (r < 0)
                return r;
        for (size_t k = 0; k < e->n_incidents; k++) {
                Incident *i = e->incidents[k];

                if (i->state == INCIDENT_FIRING && i->retry_mono != 0 && i->retry_mono <= now.mono) {
                        i->retry_mono = 0;
                        r = dispatch(&c, i, &(Input){ .kind = IN_RETRY });
                        if (r < 0)
                                return r;
                }
                if (i->state == INCIDENT_VERIFYING && i->settle_mono != 0 && i->settle_mono <= now.mono) {
                        r = dispatch(&c, i, &(Input){ .kind = IN_SETTLE });
                        if (r < 0)
                                return r;
                }
                if (i->state == INCIDENT_VERIFYING && i->verify_mono != 0 && i->verify_mono <= now.mono) {
                        r = dispatch(&c, i, &(Input){ .kind = IN_VERIFY_DEADLINE });
                        if (r < 0)
                                return r;
                }
                for (size_t m = 0; m < i->n_obligations; m++) {
                        Obligation *o = &i->obligations[m];

                        if (o->state == OBLIGATION_HELD && o->max_hold_usec > 0 && !o->hold_expired &&
                            o->held_since_mono + o->max_hold_usec <= now.mono) {
                                o->hold_expired = true;
                                r = dispatch(&c, i, &(Input){ .kind = IN_HOLD_EXPIRED, .obligation = o });
                                if (r < 0)
                                        return r;
                                r = start_undo(&c, i, o);
                                if (r < 0)
                                        return r;
                        } else if (o->state == OBLIGATION_RETRY && o->retry_mono <= now.mono) {
                                r = start_undo(&c, i, o);
                                if (r < 0)
                                        return r;
                        }
                }
        }
        return 0;
}

usec_t incident_engine_next_wakeup(const IncidentEngine *e) {
        usec_t t = USEC_INFINITY;

        for (size_t k = 0; k < e->silences.n; k++)
                if (!e->silences.items[k]->expired)
                        t = MIN(t, e->silences.items[k]->ends_mono);
        for (size_t k = 0; k < e->n_incidents; k++) {
                const Incident *i = e->incidents[k];

                if (i->state == INCIDENT_FIRING && i->retry_mono != 0)
                        t = MIN(t, i->retry_mono);
                if (i->state == INCIDENT_VERIFYING) {
                        if (i->settle_mono != 0)
                                t = MIN(t, i->settle_mono);
                        if (i->verify_mono != 0)
                                t = MIN(t, i->verify_mono);
                }
                for (size_t m = 0; m < i->n_obligations; m++) {
                        const Obligation *o = &i->obligations[m];
                        if (o->state == OBLIGATION_HELD && o->max_hold_usec > 0 && !o->hold_expired)
                                t = MIN(t, o->held_since_mono + o->max_hold_usec);
                        else if (o->state == OBLIGATION_RETRY)
                                t = MIN(t, o->retry_mono);
                }
        }
        return t;
}

int incident_engine_preflight_result(
        IncidentEngine *e,
        const Id128 *incident,
        uint64_t action_id,
        const UnitSnapshot *info,
        const char *error,
        IncidentNow now,
        Effects *out) {
        Ctx c = { e, now, out };
        Incident *i = find(e, incident);

        if (!i || i->action.id != action_id || i->action.phase != ACTION_PHASE_PREFLIGHT)
                return 0;
        return dispatch(&c, i, &(Input){ .kind = IN_PREFLIGHT, .unit = info, .error = error });
}

int incident_engine_action_result(
        IncidentEngine *e,
        const Id128 *incident,
        uint64_t action_id,
        const StepResult *result,
        IncidentNow now,
        Effects *out) {
        Ctx c = { e, now, out };
        Incident *i = find(e, incident);

        if (!i || i->action.id != action_id || i->action.phase != ACTION_PHASE_EXECUTING)
                return 0;
        return dispatch(&c, i, &(Input){ .kind = IN_RESULT, .result = result });
}

int incident_engine_reconcile_result(
        IncidentEngine *e,
        const Id128 *incident,
        uint64_t action_id,
        ReconcileOutcome outcome,
        const char *message,
        IncidentNow now,
        Effects *out) {
        Ctx c = { e, now, out };
        Incident *i = find(e, incident);

        if (!i || i->action.id != action_id || i->action.phase != ACTION_PHASE_RECONCILING)
                return 0;
        if (outcome >= _RECONCILE_MAX)
                return -EINVAL;
        return dispatch(&c, i, &(Input){ .kind = IN_RECONCILE, .reconcile = outcome, .message = message });
}

/* Undo results are not state-dependent: an obligation is undone the same way whatever the incident does. */
int incident_engine_undo_result(
        IncidentEngine *e,
        const Id128 *incident,
        uint64_t obligation_id,
        uint64_t undo_id,
        const StepResult *result,
        IncidentNow now,
        Effects *out) {
        Ctx c = { e, now, out };
        Incident *i = find(e, incident);
        _cleanup_free_ char *msg = NULL;
        char d[DURATION_MAX];
        Obligation *o;

        if (!i)
                return 0;
        o = incident_find_obligation(i, obligation_id);
        if (!o || o->state != OBLIGATION_UNDOING || o->undo_id != undo_id)
                return 0;
        (void) guard_release_target(&e->guards, o->target.key, &i->id, false, NULL, now.mono);
        msg = clean_text(result->message);
        json_t *attrs = json_pack(
                "{s:I, s:s, s:s, s:I}",
                "step",
                (json_int_t) o->step + 1,
                "action",
                incident_action_name(o->action),
                "target",
                o->target.display ?: "",
                "attempt",
                (json_int_t) o->attempts);
        if (result->outcome == STEP_SKIPPED) {
                /* The executor found nothing to restore (the target is gone), or there was no undo data:
                 * done, with the reason in the message. */
                o->state = OBLIGATION_DONE;
                return emit(
                        &c,
                        i,
                        IEV_UNDO_SUCCEEDED,
                        now.wall,
                        attrs,
                        "%s of %s not undone%s%s",
                        incident_action_name(o->action),
                        o->target.display ?: "",
                        msg[0] ? ": " : "",
                        msg);
        }
        if (result->outcome == STEP_SUCCEEDED) {
                o->state = OBLIGATION_DONE;
                return emit(
                        &c,
                        i,
                        IEV_UNDO_SUCCEEDED,
                        now.wall,
                        attrs,
                        "%s of %s undone%s%s",
                        incident_action_name(o->action),
                        o->target.display ?: "",
                        msg[0] ? ": " : "",
                        msg);
        }
        usec_t backoff = INCIDENT_UNDO_RETRY_MIN_USEC;
        for (unsigned k = 1; k < o->attempts && backoff < INCIDENT_UNDO_RETRY_MAX_USEC; k++)
                backoff *= 2;
        backoff = MIN(backoff, INCIDENT_UNDO_RETRY_MAX_USEC);
        o->state = OBLIGATION_RETRY;
        o->retry_mono = now.mono + backoff;
        return emit(
                &c,
                i,
                IEV_UNDO_FAILED,
                now.wall,
                attrs,
                "undo of %s of %s %s%s%s; retrying in %s",
                incident_action_name(o->action),
                o->target.display ?: "",
                result->outcome == STEP_TIMED_OUT ? "timed out" : "failed",
                msg[0] ? ": " : "",
                msg,
                dur(d, sizeof(d), backoff));
}

int incident_engine_add_silence(IncidentEngine *e, Silence *s, IncidentNow now, Effects *out) {
        Ctx c = { e, now, out };
        int r;

        r = silence_set_add(&e->silences, s);
        if (r < 0)
                return r;
        out->save = out->save_now = true;
        for (size_t k = 0; k < e->n_incidents; k++) {
                Incident *i = e->incidents[k];
                if (!incident_state_is_open(i->state) || i->silenced ||
                    !silence_matches(s, i->rule_name, i->metric, i->labels, i->n_labels))
                        continue;
                r = dispatch(&c, i, &(Input){ .kind = IN_SILENCE, .silence = s });
                if (r < 0)
                        return r;
        }
        return 0;
}

int incident_engine_expire_silence(IncidentEngine *e, const Id128 *id, IncidentNow now, Effects *out) {
        Ctx c = { e, now, out };
        Silence *s = silence_set_find(&e->silences, id);

        if (!s)
                return -ENOENT;
        if (silence_is_active(s, now.mono)) {
                s->ends_mono = now.mono;
                s->ends_at = now.wall;
        }
        return expire_silences(&c);
}

const SilenceSet *incident_engine_silences(const IncidentEngine *e) {
        return &e->silences;
}

int incident_engine_set_loop_lag(IncidentEngine *e, bool lagging, IncidentNow now, Effects *out) {
        Ctx c = { e, now, out };
        bool was = e->loop_lagging;

        e->loop_lagging = lagging;
        if (!was || lagging)
                return 0;
        for (size_t k = 0; k < e->n_incidents; k++) {
                Incident *i = e->incidents[k];
                if (i->state == INCIDENT_FIRING && i->last_skip == SKIP_LOOP_LAG) {
                        int r = dispatch(&c, i, &(Input){ .kind = IN_RETRY });
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int incident_engine_resume(IncidentEngine *e, IncidentNow now, Effects *out) {
        Ctx c = { e, now, out };
        Effect *eff;
        int r;

        for (size_t k = 0; k < e->n_incidents; k++) {
                Incident *i = e->incidents[k];
                PendingAction *a = &i->action;

                if (a->phase != ACTION_PHASE_NONE && a->target.key) {
                        r = guard_reserve_target(&e->guards, a->target.key, &i->id);
                        if (r < 0 && r != -EBUSY)
                                return r;
                }
                switch (a->phase) {
                case ACTION_PHASE_PREFLIGHT:
                        /* Nothing was done: ask again. */
                        r = effect_add(&c, EFFECT_PREFLIGHT, i, &eff);
                        if (r < 0)
                                return r;
                        eff->action_id = a->id;
                        break;
                case ACTION_PHASE_EXECUTING:
                case ACTION_PHASE_RECONCILING:
                        a->phase = ACTION_PHASE_RECONCILING;
                        a->interruptions++;
                        out->save = true;
                        r = effect_add(&c, EFFECT_RECONCILE, i, &eff);
                        if (r < 0)
                                return r;
                        eff->action_id = a->id;
                        break;
                default:
                        break;
                }
                for (size_t m = 0; m < i->n_obligations; m++) {
                        Obligation *o = &i->obligations[m];
                        /* Undos put things back the way they were: safe to repeat. */
                        if (o->state == OBLIGATION_UNDOING) {
                                o->state = OBLIGATION_RETRY;
                                r = start_undo(&c, i, o);
                                if (r < 0)
                                        return r;
                        }
                }
        }
        return 0;
}

size_t incident_engine_prune(IncidentEngine *e, IncidentNow now) {
        usec_t keep = e->opts.retention_usec, longest_window = 0;
        size_t dropped = 0, j = 0;

        for (size_t k = 0; e->config && k < e->config->n_rules; k++) {
                const Rule *r = &e->config->rules[k];
                keep = MAX(keep, r->reopen_within_usec);
                longest_window = MAX(longest_window, MAX(r->guard.per_usec, r->guard.breaker_window_usec));
                longest_window = MAX(longest_window, MAX(r->guard.cooldown_usec, r->grace_usec));
        }
        for (size_t k = 0; k < e->n_incidents; k++) {
                Incident *i = e->incidents[k];
                const TimelineEvent *last = incident_last_event(i);
                bool idle = incident_open_obligations(i) == 0 && i->action.phase == ACTION_PHASE_NONE;
                bool old = false;

                if (i->state == INCIDENT_RESOLVED)
                        old = i->resolved_mono + keep <= now.mono;
                else if (i->orphaned)
                        old = !last || last->at + keep <= now.wall;
                if (idle && old) {
                        key_forget(e, i);
                        incident_free(i);
                        dropped++;
                } else
                        e->incidents[j++] = i;
        }
        e->n_incidents = j;
        guard_prune(&e->guards, now.mono, MAX(longest_window, MAX(e->opts.host_per_usec, keep)));
        silence_set_prune(&e->silences, now.mono, keep);
        return dropped;
}

Incident *const *incident_engine_incidents(const IncidentEngine *e, size_t *ret_n) {
        *ret_n = e->n_incidents;
        return e->incidents;
}

int incident_engine_find_prefix(const IncidentEngine *e, const char *prefix, Incident **ret) {
        size_t n = strlen(prefix);
        Incident *found = NULL;
        char id[ID128_STRING_MAX];

        if (n < 4 || n > 32)
                return -EINVAL;
        for (size_t k = 0; k < n; k++)
                if (!strchr("0123456789abcdefABCDEF", prefix[k]))
                        return -EINVAL;
        for (size_t k = 0; k < e->n_incidents; k++) {
                id128_to_string(&e->incidents[k]->id, id);
                if (strncasecmp(id, prefix, n) != 0)
                        continue;
                if (found)
                        return -ENOTUNIQ;
                found = e->incidents[k];
        }
        if (!found)
                return -ENOENT;
        *ret = found;
        return 0;
}

const GuardState *incident_engine_guards(const IncidentEngine *e) {
        return &e->guards;
}

const char *incident_engine_host(const IncidentEngine *e) {
        return e->host;
}

uint64_t incident_engine_impossible_count(const IncidentEngine *e) {
        return e->impossible;
}

/* ---- persistence ---- */

json_t *incident_engine_incidents_to_json(const IncidentEngine *e, IncidentNow now) {
        _cleanup_(json_decrefp) json_t *a = json_array();

        if (!a)
                return NULL;
        for (size_t k = 0; k < e->n_incidents; k++)
                if (json_array_append_new(a, incident_to_state_json(e->incidents[k], now)) < 0)
                        return NULL;
        return json_pack("{s:i, s:O}", "version", INCIDENT_STATE_VERSION, "incidents", a);
}

json_t *incident_engine_guards_to_json(const IncidentEngine *e, IncidentNow now) {
        return guard_state_to_json(&e->guards, now);
}

json_t *incident_engine_silences_to_json(const IncidentEngine *e, IncidentNow now) {
        return silence_set_to_json(&e->silences, now);
}

int incident_engine_load_incidents(IncidentEngine *e, json_t *j, IncidentNow now, char **ret_error) {
        static const char *const keys[] = { "version", "incidents", NULL };
        Incident **list = NULL;
        size_t n = 0, k;
        uint64_t version;
        json_t *arr, *v;
        int r;

        if ((r = json_read_keys(j, "incidents", keys, ret_error)) < 0 ||
            (r = json_read_u64(j, "version", true, "incidents", &version, ret_error)) < 0)
                return r;
        if (version != INCIDENT_STATE_VERSION) {
                json_read_error(
                        ret_error, "incidents", "unsupported version %llu", (unsigned long long) version);
                return -EPROTONOSUPPORT;
        }
        arr = json_object_get(j, "incidents");
        if (!json_is_array(arr))
                return json_read_error(ret_error, "incidents", "'incidents' must be an array");
        if (json_array_size(arr) > e->opts.max_incidents)
                return json_read_error(
                        ret_error, "incidents", "more than %zu incidents", e->opts.max_incidents);
        if (json_array_size(arr) > 0) {
                list = calloc(json_array_size(arr), sizeof(Incident *));
                if (!list)
                        return -ENOMEM;
        }
        json_array_foreach(arr, k, v) {
                r = incident_from_state_json(v, now, &list[n], ret_error);
                if (r < 0)
                        goto fail;
                n++;
                for (size_t m = 0; m + 1 < n; m++)
                        if (id128_equal(&list[m]->id, &list[n - 1]->id)) {
                                r = json_read_error(ret_error, "incidents", "duplicate incident id");
                                goto fail;
                        }
        }

        /* Success: replace what the engine had. */
        for (k = 0; k < e->n_incidents; k++)
                incident_free(e->incidents[k]);
        free(e->incidents);
        key_entries_free(e);
        r = hashmap_new(&e->by_key);
        if (r < 0) {
                e->incidents = NULL;
                e->n_incidents = 0;
                goto fail;
        }
        e->incidents = list;
        e->n_incidents = n;
        for (k = 0; k < n; k++) {
                list[k]->rule = find_rule(e->config, list[k]->rule_name);
                r = key_set_latest(e, list[k]);
                if (r < 0)
                        return r;
        }
        return 0;
fail:
        for (k = 0; k < n; k++)
                incident_free(list[k]);
        free(list);
        return r;
}

int incident_engine_load_guards(IncidentEngine *e, json_t *j, IncidentNow now, char **ret_error) {
        return guard_state_from_json(&e->guards, j, now, ret_error);
}

int incident_engine_load_silences(IncidentEngine *e, json_t *j, IncidentNow now, char **ret_error) {
        return silence_set_from_json(&e->silences, j, now, ret_error);
}

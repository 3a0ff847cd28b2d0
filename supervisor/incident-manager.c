/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * homeostatd's incident layer: the glue between the Manager, the pure incident engine and the world.
 * Every entry (an evaluator row, a timer, a unit read, an executor result, an API request, a reload)
 * calls the engine with "now" and then carries out the effects it returns, in order: persist (synchronously
 * when an intent is involved), write the timeline, read units, start actions and undos. See
 * incident-manager.h.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-id128.h>
#include <unistd.h>

#include "api.h"
#include "incident-api.h"
#include "incident-json.h"
#include "incident-manager.h"
#include "incident-store.h"
#include "incident-target.h"
#include "incident-unit.h"
#include "log.h"
#include "notifier.h"
#include "remediation.h"
#include "state-file.h"
#include "strbuf.h"
#include "timeline.h"
#include "util.h"

typedef enum OpKind {
        OP_PREFLIGHT,
        OP_RECONCILE,
        OP_ACTION,
        OP_UNDO,
} OpKind;

typedef struct IncidentManager IncidentManager;

/* One asynchronous piece of work started for the engine; its answer goes back by ids, never pointers. */
typedef struct Op {
        IncidentManager *im;
        OpKind kind;
        Id128 incident;
        uint64_t action_id;
        uint64_t obligation_id;
        uint64_t undo_id;
        char invocation_before[ID128_STRING_MAX];
        UnitProbe *probe;
        Action *action;
        ActionUndo *undo;
} Op;

typedef struct ManagerStats {
        uint64_t actions_started;
        uint64_t results[_STEP_OUTCOME_MAX];
        uint64_t undos_started;
        uint64_t save_errors;
        uint64_t intent_save_failures;
} ManagerStats;

struct IncidentManager {
        Manager *manager;
        sd_event *event;
        IncidentEngine *engine;
        Timeline *timeline;
        NotifierHub *hub;
        RemediationCtx *rem;
        StateSaver *savers[_STORE_FILE_MAX];
        char *last_saved[_STORE_FILE_MAX];
        int dir_fd; /* the Manager's; not ours */
        sd_event_source *timer;
        sd_event_source *save_timer;
        sd_event_source *prune_timer;
        Op **ops;
        size_t n_ops;
        char host[HOST_NAME_MAX + 1];
        ManagerStats stats;
};

static void process(IncidentManager *im, Effects *fx);

static char *mfree_str(char *p) {
        free(p);
        return NULL;
}

static IncidentNow im_now(void) {
        return (IncidentNow){ now(CLOCK_REALTIME), now(CLOCK_MONOTONIC) + INCIDENT_MANAGER_MONO_OFFSET };
}

static const char *id_str(const Id128 *id, char buf[static ID128_STRING_MAX]) {
        return id128_to_string(id, buf);
}

/* ---- operations in flight ---- */

static Op *op_new(IncidentManager *im, OpKind kind, const Effect *ef) {
        Op *op = calloc(1, sizeof(*op)), **n;

        if (!op)
                return NULL;
        n = reallocarray(im->ops, im->n_ops + 1, sizeof(*n));
        if (!n) {
                free(op);
                return NULL;
        }
        im->ops = n;
        im->ops[im->n_ops++] = op;
        *op = (Op){
                .im = im,
                .kind = kind,
                .incident = ef->incident,
                .action_id = ef->action_id,
                .obligation_id = ef->obligation_id,
                .undo_id = ef->undo_id,
        };
        return op;
}

static void op_free(Op *op) {
        IncidentManager *im;

        if (!op)
                return;
        im = op->im;
        for (size_t k = 0; k < im->n_ops; k++)
                if (im->ops[k] == op) {
                        im->ops[k] = im->ops[--im->n_ops];
                        break;
                }
        if (op->probe)
                unit_probe_cancel(op->probe);
        if (op->action)
                remediation_cancel(op->action);
        action_undo_free(op->undo);
        free(op);
}

/* ---- feeding the engine ---- */

static void feed_begin(IncidentManager *im, IncidentNow now, Effects *fx) {
        int r = incident_engine_set_loop_lag(im->engine, manager_loop_lagging(im->manager), now, fx);
        if (r < 0)
                log_warning_errno(r, "Incident engine: cannot update the loop lag state: %m");
}

static void feed_end(IncidentManager *im, Effects *fx, int r, const char *what) {
        if (r < 0)
                log_error_errno(r, "Incident engine failed on %s: %m", what);
        process(im, fx);
        effects_done(fx);
}

static void feed_preflight(
        IncidentManager *im, const Id128 *id, uint64_t action_id, const UnitSnapshot *snap, const char *error) {
        IncidentNow now = im_now();
        Effects fx = {};
        feed_begin(im, now, &fx);
        int r = incident_engine_preflight_result(im->engine, id, action_id, snap, error, now, &fx);
        feed_end(im, &fx, r, "a unit state");
}

static void feed_action(IncidentManager *im, const Id128 *id, uint64_t action_id, const StepResult *res) {
        IncidentNow now = im_now();
        Effects fx = {};
        if (res->outcome < _STEP_OUTCOME_MAX)
                im->stats.results[res->outcome]++;
        feed_begin(im, now, &fx);
        int r = incident_engine_action_result(im->engine, id, action_id, res, now, &fx);
        feed_end(im, &fx, r, "an action result");
}

static void feed_undo(
        IncidentManager *im, const Id128 *id, uint64_t obligation_id, uint64_t undo_id, const StepResult *res) {
        IncidentNow now = im_now();
        Effects fx = {};
        feed_begin(im, now, &fx);
        int r = incident_engine_undo_result(im->engine, id, obligation_id, undo_id, res, now, &fx);
        feed_end(im, &fx, r, "an undo result");
}

static void feed_reconcile(
        IncidentManager *im, const Id128 *id, uint64_t action_id, ReconcileOutcome o, const char *message) {
        IncidentNow now = im_now();
        Effects fx = {};
        feed_begin(im, now, &fx);
        int r = incident_engine_reconcile_result(im->engine, id, action_id, o, message, now, &fx);
        feed_end(im, &fx, r, "a reconciliation");
}

/* ---- persistence ---- */

static int save_file(IncidentManager *im, IncidentStoreFile f, IncidentNow now, bool sync) {
        _cleanup_free_ char *data = NULL;
        size_t len;
        int r;

        r = incident_store_serialize(im->engine, f, now, &data, &len);
        if (r < 0)
                return r;
        if (im->last_saved[f] && streq(im->last_saved[f], data))
                return 0;
        free(im->last_saved[f]);
        im->last_saved[f] = strdup(data);
        if (sync)
                r = state_saver_save_sync(im->savers[f], TAKE_PTR(data), len);
        else
                r = state_saver_save(im->savers[f], TAKE_PTR(data), len);
        if (r < 0) {
                /* Not on disk: make sure the next save writes it again. */
                im->last_saved[f] = mfree_str(im->last_saved[f]);
                im->stats.save_errors++;
        }
        return r < 0 ? r : 0;
}

static int save_all(IncidentManager *im, bool sync) {
        IncidentNow now = im_now();
        int first = 0;

        if (im->dir_fd < 0)
                return 0;
        for (IncidentStoreFile f = 0; f < _STORE_FILE_MAX; f++) {
                int r = save_file(im, f, now, sync);
                if (r < 0) {
                        log_error_errno(r, "Cannot save %s: %m", incident_store_file_name(f));
                        if (first == 0)
                                first = r;
                }
        }
        if (sync && im->save_timer)
                (void) sd_event_source_set_enabled(im->save_timer, SD_EVENT_OFF);
        return first;
}

static int on_save_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) save_all(userdata, false);
        return 0;
}

static void schedule_save(IncidentManager *im) {
        int enabled = SD_EVENT_OFF;

        if (im->dir_fd < 0 || !im->save_timer)
                return;
        (void) sd_event_source_get_enabled(im->save_timer, &enabled);
        if (enabled != SD_EVENT_OFF)
                return;
        (void) sd_event_source_set_time_relative(im->save_timer, INCIDENT_MANAGER_SAVE_DELAY_USEC);
        (void) sd_event_source_set_enabled(im->save_timer, SD_EVENT_ONESHOT);
}

static void on_saver_done(StateSaver *s, int error, void *userdata) {
        IncidentManager *im = userdata;

        if (error >= 0)
                return;
        log_error_errno(error, "Writing %s failed: %m", state_saver_name(s));
        im->stats.save_errors++;
        for (IncidentStoreFile f = 0; f < _STORE_FILE_MAX; f++)
                if (im->savers[f] == s)
                        im->last_saved[f] = mfree_str(im->last_saved[f]);
        schedule_save(im);
}

/* ---- carrying out effects ---- */

static void emit_event(IncidentManager *im, const Incident *i, const Effect *ef) {
        const TimelineEvent *e = incident_find_event(i, ef->seq);
        char id[ID128_STRING_MAX];
        int r;

        if (!e)
                return;
        r = timeline_emit(im->timeline, i, e, im->host, ef->notify);
        if (r < 0)
                log_warning_errno(
                        r,
                        "Incident %s event %llu: a timeline sink failed: %m (%s)",
                        id_str(&i->id, id),
                        (unsigned long long) e->seq,
                        im->hub ? strna(notifier_hub_last_error(im->hub)) : "");
}

static void on_probe(int error, const char *message, const UnitSnapshot *snap, void *userdata) {
        Op *op = userdata;
        IncidentManager *im = op->im;
        Id128 id = op->incident;
        uint64_t action_id = op->action_id;

        op->probe = NULL;
        if (op->kind == OP_PREFLIGHT) {
                UnitSnapshot s;
                if (error >= 0) {
                        s = *snap;
                        if (s.active_enter_mono != 0)
                                s.active_enter_mono += INCIDENT_MANAGER_MONO_OFFSET;
                }
                op_free(op);
                feed_preflight(im, &id, action_id, error >= 0 ? &s : NULL, message);
                return;
        }

        /* Reconciliation of a restart: did the InvocationID change? */
        char msg[256];
        ReconcileOutcome o;
        if (error < 0) {
                o = RECONCILE_UNKNOWN;
                snprintf(msg, sizeof(msg), "%s", strna(message));
        } else if (snap->invocation_id[0] && !streq(snap->invocation_id, op->invocation_before)) {
                o = RECONCILE_DONE;
                snprintf(
                        msg,
                        sizeof(msg),
                        "InvocationID %s -> %s",
                        op->invocation_before[0] ? op->invocation_before : "none",
                        snap->invocation_id);
        } else {
                o = RECONCILE_NOT_DONE;
                snprintf(
                        msg,
                        sizeof(msg),
                        "InvocationID unchanged (%s)",
                        snap->invocation_id[0] ? snap->invocation_id : "none");
        }
        op_free(op);
        feed_reconcile(im, &id, action_id, o, msg);
}

static void start_probe(IncidentManager *im, const Incident *i, const Effect *ef, OpKind kind) {
        sd_bus *bus = manager_get_bus(im->manager);
        const char *unit = i->action.target.unit;
        Op *op;
        int r;

        if (!unit || !bus) {
                const char *why = !unit ? "the target is not a unit" : "no connection to the service manager";
                if (kind == OP_PREFLIGHT)
                        feed_preflight(im, &ef->incident, ef->action_id, NULL, why);
                else
                        feed_reconcile(im, &ef->incident, ef->action_id, RECONCILE_UNKNOWN, why);
                return;
        }
        op = op_new(im, kind, ef);
        if (!op) {
                log_oom();
                return;
        }
        snprintf(op->invocation_before, sizeof(op->invocation_before), "%s", i->action.invocation_id_before);
        r = unit_probe_start(bus, unit, on_probe, op, &op->probe);
        if (r < 0) {
                char why[128];
                snprintf(why, sizeof(why), "cannot ask the service manager: %s", strerror(-r));
                op_free(op);
                if (kind == OP_PREFLIGHT)
                        feed_preflight(im, &ef->incident, ef->action_id, NULL, why);
                else
                        feed_reconcile(im, &ef->incident, ef->action_id, RECONCILE_UNKNOWN, why);
        }
}

static void start_reconcile(IncidentManager *im, const Incident *i, const Effect *ef) {
        char msg[128];

        if (i->action.action == ACTION_RESTART || i->action.action == ACTION_TRY_RESTART) {
                start_probe(im, i, ef, OP_RECONCILE);
                return;
        }
        snprintf(msg, sizeof(msg), "nothing to check a %s against", incident_action_name(i->action.action));
        feed_reconcile(im, &ef->incident, ef->action_id, RECONCILE_UNKNOWN, msg);
}

/* The executor's result in the engine's terms. The undo data travels as JSON (remediations' own format). */
static void convert_result(ActionResult *res, StepResult *ret, json_t **ret_attrs, json_t **ret_undo) {
        static const StepOutcome map[_ACTION_OUTCOME_MAX] = {
                [ACTION_OUTCOME_SUCCEEDED] = STEP_SUCCEEDED,
                [ACTION_OUTCOME_FAILED] = STEP_FAILED,
                [ACTION_OUTCOME_SKIPPED] = STEP_SKIPPED,
                [ACTION_OUTCOME_TIMED_OUT] = STEP_TIMED_OUT,
        };
        json_t *attrs = json_object(), *undo = NULL;
        _cleanup_(action_undo_freep) ActionUndo *u = NULL;

        for (size_t k = 0; attrs && k < res->n_attrs; k++) {
                const ActionAttr *a = &res->attrs[k];
                json_t *v = NULL;
                if (a->number) {
                        int64_t n;
                        if (safe_atoi64(a->value, &n) >= 0)
                                v = json_integer((json_int_t) n);
                }
                if (!v)
                        v = json_string(a->value);
                (void) json_object_set_new(attrs, a->key, v);
        }
        u = action_result_take_undo(res);
        if (u) {
                _cleanup_free_ char *text = NULL;
                if (remediation_undo_to_json(u, &text) >= 0)
                        undo = json_loads(text, 0, NULL);
        }
        *ret = (StepResult){
                .outcome = res->outcome < _ACTION_OUTCOME_MAX ? map[res->outcome] : STEP_FAILED,
                .message = res->message,
                .attrs = attrs,
                .undo = undo,
                .invocation_id_after = action_result_attr(res, "invocation_id_after"),
                .retry = false,
        };
        *ret_attrs = attrs;
        *ret_undo = undo;
}

static void on_action_done(Action *a, ActionResult *res, void *userdata) {
        Op *op = userdata;
        IncidentManager *im = op->im;
        Id128 id = op->incident;
        uint64_t action_id = op->action_id;
        StepResult sr;
        json_t *attrs, *undo;

        op->action = NULL;
        convert_result(res, &sr, &attrs, &undo);
        feed_action(im, &id, action_id, &sr);
        json_decref(attrs);
        json_decref(undo);
        op_free(op);
}

static void fail_action(IncidentManager *im, const Id128 *id, uint64_t action_id, const char *message) {
        StepResult sr = { .outcome = STEP_FAILED, .message = message };
        feed_action(im, id, action_id, &sr);
}

static void start_action(IncidentManager *im, const Incident *i, const Effect *ef) {
        const Step *step = i->rule && i->action.step < i->rule->n_steps ? &i->rule->steps[i->action.step]
                                                                        : NULL;
        char idbuf[ID128_STRING_MAX];
        TemplateVars vars;
        Op *op;
        int r;

        if (!step || step->action != i->action.action) {
                fail_action(im, &ef->incident, ef->action_id, "the rule changed: this step no longer exists");
                return;
        }
        op = op_new(im, OP_ACTION, ef);
        if (!op) {
                fail_action(im, &ef->incident, ef->action_id, "out of memory");
                return;
        }
        incident_template_vars(i, idbuf, &vars);
        im->stats.actions_started++;
        r = remediation_start(im->rem, step, &vars, on_action_done, op, &op->action);
        if (r < 0) {
                char msg[128];
                snprintf(msg, sizeof(msg), "cannot start: %s", strerror(-r));
                op_free(op);
                fail_action(im, &ef->incident, ef->action_id, msg);
        }
}

static void on_undo_done(Action *a, ActionResult *res, void *userdata) {
        Op *op = userdata;
        IncidentManager *im = op->im;
        Id128 id = op->incident;
        uint64_t ob = op->obligation_id, undo_id = op->undo_id;
        StepResult sr;
        json_t *attrs, *undo;

        op->action = NULL;
        convert_result(res, &sr, &attrs, &undo);
        feed_undo(im, &id, ob, undo_id, &sr);
        json_decref(attrs);
        json_decref(undo);
        op_free(op);
}

static void start_undo(IncidentManager *im, Incident *i, const Effect *ef) {
        Obligation *o = incident_find_obligation(i, ef->obligation_id);
        _cleanup_free_ char *text = NULL;
        char msg[256];
        Op *op;
        int r;

        if (!o)
                return;
        im->stats.undos_started++;
        if (json_is_null(o->undo)) {
                /* An action interrupted by a crash: the executor never told us how to put it back. */
                snprintf(
                        msg,
                        sizeof(msg),
                        "no undo data was recorded; check %s by hand",
                        strna(o->target.display));
                StepResult sr = { .outcome = STEP_SKIPPED, .message = msg };
                feed_undo(im, &ef->incident, ef->obligation_id, ef->undo_id, &sr);
                return;
        }
        op = op_new(im, OP_UNDO, ef);
        text = json_dumps(o->undo, JSON_COMPACT);
        if (!op || !text) {
                op_free(op);
                StepResult sr = { .outcome = STEP_FAILED, .message = "out of memory" };
                feed_undo(im, &ef->incident, ef->obligation_id, ef->undo_id, &sr);
                return;
        }
        r = remediation_undo_from_json(text, &op->undo);
        if (r >= 0)
                r = remediation_undo(im->rem, op->undo, on_undo_done, op, &op->action);
        if (r < 0) {
                snprintf(msg, sizeof(msg), "cannot start the undo: %s", strerror(-r));
                op_free(op);
                StepResult sr = { .outcome = STEP_FAILED, .message = msg };
                feed_undo(im, &ef->incident, ef->obligation_id, ef->undo_id, &sr);
        }
}

static void rearm(IncidentManager *im) {
        usec_t next = incident_engine_next_wakeup(im->engine);

        if (!im->timer)
                return;
        if (next == USEC_INFINITY) {
                (void) sd_event_source_set_enabled(im->timer, SD_EVENT_OFF);
                return;
        }
        next = next > INCIDENT_MANAGER_MONO_OFFSET ? next - INCIDENT_MANAGER_MONO_OFFSET : 1;
        (void) sd_event_source_set_time(im->timer, MAX(next, (usec_t) 1));
        (void) sd_event_source_set_enabled(im->timer, SD_EVENT_ONESHOT);
}

/* Persist first (an intent must be on disk before its action), then sinks, then the world. */
static void process(IncidentManager *im, Effects *fx) {
        int save_r = 0;

        if (fx->save_now)
                save_r = save_all(im, true);
        else if (fx->save)
                schedule_save(im);

        for (size_t k = 0; k < fx->n; k++) {
                Effect ef = fx->items[k];
                Incident *i = incident_engine_get(im->engine, &ef.incident);
                char id[ID128_STRING_MAX];

                if (!i)
                        continue;
                switch (ef.kind) {
                case EFFECT_EVENT:
                        emit_event(im, i, &ef);
                        break;
                case EFFECT_PREFLIGHT:
                        start_probe(im, i, &ef, OP_PREFLIGHT);
                        break;
                case EFFECT_RECONCILE:
                        start_reconcile(im, i, &ef);
                        break;
                case EFFECT_ACTION:
                        if (save_r < 0) {
                                char msg[160];
                                im->stats.intent_save_failures++;
                                log_error_errno(
                                        save_r,
                                        "Incident %s: not acting, the intent could not be saved: %m",
                                        id_str(&i->id, id));
                                snprintf(
                                        msg,
                                        sizeof(msg),
                                        "not attempted: the intent could not be saved (%s)",
                                        strerror(-save_r));
                                fail_action(im, &ef.incident, ef.action_id, msg);
                        } else
                                start_action(im, i, &ef);
                        break;
                case EFFECT_UNDO:
                        if (save_r < 0) {
                                StepResult sr = { .outcome = STEP_FAILED,
                                                  .message = "the state could not be saved" };
                                feed_undo(im, &ef.incident, ef.obligation_id, ef.undo_id, &sr);
                        } else
                                start_undo(im, i, &ef);
                        break;
                default:
                        break;
                }
        }
        rearm(im);
        if (fx->n > 0)
                manager_request_status_update(im->manager);
}

/* ---- loop entries ---- */

static void on_row(Manager *m, const EvalRow *row, void *userdata) {
        IncidentManager *im = userdata;
        IncidentNow now;
        Effects fx = {};
        int r;

        now = im_now();
        if (row->transition != EVAL_NONE)
                feed_begin(im, now, &fx);
        r = incident_engine_eval(im->engine, row, now, &fx);
        if (r == -E2BIG)
                log_warning(
                        "Too many incidents (%u): not opening one for %s %s",
                        INCIDENT_MAX_INCIDENTS,
                        row->rule->name,
                        row->series_key);
        else if (r < 0)
                log_error_errno(r, "Incident engine failed on a row of %s: %m", row->rule->name);
        if (fx.n > 0 || fx.save)
                process(im, &fx);
        effects_done(&fx);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        IncidentManager *im = userdata;
        IncidentNow now = im_now();
        Effects fx = {};

        feed_begin(im, now, &fx);
        feed_end(im, &fx, incident_engine_run_timers(im->engine, now, &fx), "its timers");
        return 0;
}

static int on_prune(sd_event_source *s, uint64_t usec, void *userdata) {
        IncidentManager *im = userdata;
        size_t n = incident_engine_prune(im->engine, im_now());

        if (n > 0) {
                log_debug("Forgot %zu resolved incidents past retention.", n);
                schedule_save(im);
        }
        (void) sd_event_source_set_time_relative(s, INCIDENT_MANAGER_PRUNE_INTERVAL_USEC);
        return 0;
}

/* ---- manager extension ---- */

static void ext_config_changed(Manager *m, const Config *old_config, const Config *new_config, void *userdata) {
        IncidentManager *im = userdata;
        IncidentNow now = im_now();
        Effects fx = {};
        int r;

        timeline_set_hub(im->timeline, im->hub, new_config);
        if (im->hub) {
                r = notifier_hub_configure(im->hub, new_config->notifiers, new_config->n_notifiers);
                if (r < 0)
                        log_error_errno(
                                r, "Notifiers not reconfigured: %s", strna(notifier_hub_last_error(im->hub)));
        }
        feed_begin(im, now, &fx);
        feed_end(im, &fx, incident_engine_set_config(im->engine, new_config, now, &fx), "a reload");
}

typedef struct Counts {
        size_t open, escalated, by_state[_INCIDENT_STATE_MAX], silences;
} Counts;

static void count(IncidentManager *im, Counts *c) {
        size_t n;
        Incident *const *all = incident_engine_incidents(im->engine, &n);
        const SilenceSet *set = incident_engine_silences(im->engine);
        usec_t mono = im_now().mono;

        *c = (Counts){};
        for (size_t k = 0; k < n; k++) {
                c->by_state[all[k]->state]++;
                c->open += incident_state_is_open(all[k]->state);
                c->escalated += all[k]->state == INCIDENT_ESCALATED;
        }
        for (size_t k = 0; k < set->n; k++)
                c->silences += silence_is_active(set->items[k], mono);
}

static void ext_status_summary(Manager *m, StrBuf *out, void *userdata) {
        Counts c;

        count(userdata, &c);
        /* The manager has written ", " already: always say something. */
        strbuf_printf(out, "%zu open incident%s", c.open, c.open == 1 ? "" : "s");
        if (c.escalated > 0)
                strbuf_printf(out, " (%zu escalated)", c.escalated);
}

static void ext_status_json(Manager *m, json_t *status, void *userdata) {
        IncidentManager *im = userdata;
        Counts c;

        count(im, &c);
        (void) json_object_set_new(
                status,
                "incidents",
                json_pack(
                        "{s:I, s:I, s:I, s:I, s:b}",
                        "open",
                        (json_int_t) c.open,
                        "escalated",
                        (json_int_t) c.escalated,
                        "total",
                        (json_int_t) (c.open + c.by_state[INCIDENT_RESOLVED]),
                        "active_silences",
                        (json_int_t) c.silences,
                        "dry_run",
                        manager_is_dry_run(m)));
}

static void ext_metrics(Manager *m, StrBuf *out, void *userdata) {
        static const char *const outcomes[_STEP_OUTCOME_MAX] = {
                [STEP_SUCCEEDED] = "succeeded",
                [STEP_FAILED] = "failed",
                [STEP_SKIPPED] = "skipped",
                [STEP_TIMED_OUT] = "timed_out",
        };
        IncidentManager *im = userdata;
        TimelineStats ts;
        Counts c;

        count(im, &c);
        timeline_get_stats(im->timeline, &ts);
        strbuf_puts(
                out,
                "# HELP homeostat_incidents Incidents known to homeostatd, by state.\n"
                "# TYPE homeostat_incidents gauge\n");
        for (int s = 0; s < _INCIDENT_STATE_MAX; s++)
                strbuf_printf(
                        out,
                        "homeostat_incidents{state=\"%s\"} %zu\n",
                        incident_state_to_string((IncidentState) s),
                        c.by_state[s]);
        strbuf_printf(
                out,
                "# HELP homeostat_silences_active Silences in force.\n"
                "# TYPE homeostat_silences_active gauge\n"
                "homeostat_silences_active %zu\n"
                "# HELP homeostat_incident_events_total Timeline events recorded.\n"
                "# TYPE homeostat_incident_events_total counter\n"
                "homeostat_incident_events_total %llu\n"
                "# HELP homeostat_timeline_errors_total Timeline events a sink failed to take.\n"
                "# TYPE homeostat_timeline_errors_total counter\n"
                "homeostat_timeline_errors_total{sink=\"jsonl\"} %llu\n"
                "homeostat_timeline_errors_total{sink=\"notifier\"} %llu\n"
                "# HELP homeostat_remediation_actions_started_total Remediation actions started.\n"
                "# TYPE homeostat_remediation_actions_started_total counter\n"
                "homeostat_remediation_actions_started_total %llu\n"
                "# HELP homeostat_remediation_actions_total Remediation action results, by outcome.\n"
                "# TYPE homeostat_remediation_actions_total counter\n",
                c.silences,
                (unsigned long long) ts.events,
                (unsigned long long) ts.jsonl_errors,
                (unsigned long long) ts.notify_errors,
                (unsigned long long) im->stats.actions_started);
        for (int o = 0; o < _STEP_OUTCOME_MAX; o++)
                strbuf_printf(
                        out,
                        "homeostat_remediation_actions_total{outcome=\"%s\"} %llu\n",
                        outcomes[o],
                        (unsigned long long) im->stats.results[o]);
        strbuf_printf(
                out,
                "# HELP homeostat_incident_state_save_errors_total Failed writes of incident state files.\n"
                "# TYPE homeostat_incident_state_save_errors_total counter\n"
                "homeostat_incident_state_save_errors_total %llu\n",
                (unsigned long long) im->stats.save_errors);
}

static void ext_save(Manager *m, bool final, void *userdata) {
        IncidentManager *im = userdata;

        if (final) {
                (void) save_all(im, true);
                for (IncidentStoreFile f = 0; f < _STORE_FILE_MAX; f++)
                        if (im->savers[f])
                                (void) state_saver_flush(im->savers[f]);
        } else
                schedule_save(im);
}

/* ---- API ---- */

static int reply_failure(ApiResponse *resp, int r, unsigned status, char *error) {
        _cleanup_free_ char *e = error;
        if (r == -EINVAL)
                return api_reply_error(resp, status, "%s", strna(e));
        return r;
}

static int api_incidents(const ApiRequest *req, ApiResponse *resp, void *userdata) {
        IncidentManager *im = userdata;
        char *error = NULL;
        unsigned status = 500;
        json_t *j = NULL;
        int r;

        r = incident_api_list(
                im->engine, api_request_query(req, "state"), api_request_query(req, "limit"), &j, &status, &error);
        if (r < 0)
                return reply_failure(resp, r, status, error);
        return api_reply_json(resp, 200, j);
}

static int api_incident(const ApiRequest *req, ApiResponse *resp, void *userdata) {
        IncidentManager *im = userdata;
        char *error = NULL;
        unsigned status = 500;
        json_t *j = NULL;
        int r;

        r = incident_api_get(im->engine, req->subpath, &j, &status, &error);
        if (r < 0)
                return reply_failure(resp, r, status, error);
        return api_reply_json(resp, 200, j);
}

static int api_silences(const ApiRequest *req, ApiResponse *resp, void *userdata) {
        IncidentManager *im = userdata;
        json_t *j = incident_api_silences(im->engine, im_now().mono);

        if (!j)
                return -ENOMEM;
        return api_reply_json(resp, 200, j);
}

static int new_id(void *userdata, Id128 *ret) {
        sd_id128_t id;
        int r = sd_id128_randomize(&id);
        if (r < 0)
                return r;
        memcpy(ret->bytes, id.bytes, 16);
        return 0;
}

static int api_silence_post(const ApiRequest *req, ApiResponse *resp, void *userdata) {
        IncidentManager *im = userdata;
        _cleanup_(json_decrefp) json_t *body = NULL;
        _cleanup_(silence_freep) Silence *s = NULL;
        _cleanup_free_ char *error = NULL;
        char by[64];
        json_error_t jerr;
        IncidentNow now = im_now();
        Effects fx = {};
        Id128 id;
        int r;

        body = json_loadb(req->body, req->body_size, JSON_REJECT_DUPLICATES, &jerr);
        if (!body)
                return api_reply_error(
                        resp,
                        400,
                        "the body is not JSON: line %d column %d: %s",
                        jerr.line,
                        jerr.column,
                        jerr.text);
        r = new_id(NULL, &id);
        if (r < 0)
                return r;
        if (req->peer_uid != (uid_t) -1)
                snprintf(by, sizeof(by), "uid %u", (unsigned) req->peer_uid);
        else
                snprintf(by, sizeof(by), "unknown");
        r = silence_from_request_json(body, &id, now, by, &s, &error);
        if (r == -EINVAL)
                return api_reply_error(resp, 400, "%s", strna(error));
        if (r < 0)
                return r;
        const Silence *added = s;
        feed_begin(im, now, &fx);
        r = incident_engine_add_silence(im->engine, s, now, &fx);
        if (r == -E2BIG) {
                effects_done(&fx);
                return api_reply_error(resp, 409, "too many silences (at most %u)", SILENCES_MAX);
        }
        if (r < 0) {
                effects_done(&fx);
                return r;
        }
        TAKE_PTR(s);
        char ids[ID128_STRING_MAX], until[TIMESTAMP_MAX];
        log_info(
                "Silence %s created by %s until %s: %s",
                id_str(&added->id, ids),
                added->created_by,
                format_timestamp(until, sizeof(until), added->ends_at),
                added->comment);
        json_t *answer = silence_to_json(added, now.mono);
        feed_end(im, &fx, 0, "a new silence");
        if (!answer)
                return -ENOMEM;
        return api_reply_json(resp, 201, answer);
}

static int api_silence_delete(const ApiRequest *req, ApiResponse *resp, void *userdata) {
        IncidentManager *im = userdata;
        IncidentNow now = im_now();
        Effects fx = {};
        Id128 id;
        int r;

        if (id128_from_string(req->subpath, &id) < 0)
                return api_reply_error(
                        resp, 400, "'%s' is not a silence id (32 hexadecimal digits)", req->subpath);
        feed_begin(im, now, &fx);
        r = incident_engine_expire_silence(im->engine, &id, now, &fx);
        if (r == -ENOENT) {
                effects_done(&fx);
                return api_reply_error(resp, 404, "no silence %s", req->subpath);
        }
        fx.save = fx.save_now = true;
        feed_end(im, &fx, r, "ending a silence");
        Silence *s = silence_set_find(incident_engine_silences(im->engine), &id);
        if (!s)
                return api_reply_error(resp, 404, "no silence %s", req->subpath);
        return api_reply_json(resp, 200, silence_to_json(s, now.mono));
}

static int register_routes(IncidentManager *im, Api *api) {
        int r;

        if ((r = api_add_route(api, "GET", "/api/v1/incidents", 0, api_incidents, im)) < 0 ||
            (r = api_add_route(api, "GET", "/api/v1/incidents/", API_ROUTE_PREFIX, api_incident, im)) < 0 ||
            (r = api_add_route(api, "GET", "/api/v1/silences", 0, api_silences, im)) < 0 ||
            (r = api_add_route(api, "POST", "/api/v1/silences", 0, api_silence_post, im)) < 0 ||
            (r = api_add_route(api, "DELETE", "/api/v1/silences/", API_ROUTE_PREFIX, api_silence_delete, im)) <
                    0)
                return r;
        return 0;
}

/* ---- setup ---- */

int incident_manager_start(IncidentManager *im) {
        Api *api = manager_get_api(im->manager);
        int r;

        if (!api)
                return 0;
        r = register_routes(im, api);
        if (r < 0)
                return log_error_errno(r, "Cannot register the incident API routes: %m");
        return 0;
}

IncidentEngine *incident_manager_engine(IncidentManager *im) {
        return im->engine;
}

IncidentManager *incident_manager_free(IncidentManager *im) {
        if (!im)
                return NULL;
        manager_set_eval_hook(im->manager, NULL, NULL);
        while (im->n_ops > 0)
                op_free(im->ops[im->n_ops - 1]);
        free(im->ops);
        sd_event_source_disable_unref(im->timer);
        sd_event_source_disable_unref(im->save_timer);
        sd_event_source_disable_unref(im->prune_timer);
        for (IncidentStoreFile f = 0; f < _STORE_FILE_MAX; f++) {
                state_saver_free(im->savers[f]);
                free(im->last_saved[f]);
        }
        remediation_ctx_free(im->rem);
        notifier_hub_free(im->hub);
        timeline_free(im->timeline);
        incident_engine_free(im->engine);
        sd_event_unref(im->event);
        free(im);
        return NULL;
}

static void log_load(const IncidentStoreLoad *l) {
        for (IncidentStoreFile f = 0; f < _STORE_FILE_MAX; f++) {
                if (!l->found[f] || l->loaded[f])
                        continue;
                log_full_errno(
                        LOG_CRIT,
                        l->error[f],
                        "State file %s is unusable (%s); moved aside to %s. Starting without what it held%s.",
                        incident_store_file_name(f),
                        strna(l->message[f]),
                        strna(l->moved_to[f]),
                        f == STORE_INCIDENTS
                                ? " (open incidents and undo obligations: check the targets by hand)"
                                : f == STORE_GUARDS ? " (cooldowns, rate limits and breakers start afresh)"
                                                    : " (silences)");
        }
}

static int setup_hub(IncidentManager *im) {
        char proc[64], path[PATH_MAX], spool[PATH_MAX + 16];
        const Config *config = manager_get_config(im->manager);
        ssize_t n;
        int r;

        if (im->dir_fd < 0) {
                if (config->n_notifiers > 0)
                        log_warning(
                                "No --state-dir: notifiers are disabled (their durable outbox lives there).");
                return 0;
        }
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", im->dir_fd);
        n = readlink(proc, path, sizeof(path) - 1);
        if (n < 0)
                return log_error_errno(-errno, "Cannot find the state directory's path: %m");
        path[n] = 0;
        snprintf(spool, sizeof(spool), "%s/%s", path, INCIDENT_MANAGER_OUTBOX);
        r = notifier_hub_new(im->event, manager_get_curl(im->manager), spool, NULL, &im->hub);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the notifier outbox %s: %m", spool);
        r = notifier_hub_configure(im->hub, config->notifiers, config->n_notifiers);
        if (r < 0)
                return log_error_errno(
                        r, "Cannot configure notifiers: %s", strna(notifier_hub_last_error(im->hub)));
        if (r > 0)
                log_warning(
                        "%d notifier%s could not be resolved; their messages are queued.", r, r == 1 ? "" : "s");
        return 0;
}

int incident_manager_new(Manager *m, IncidentManager **ret) {
        _cleanup_(incident_manager_freep) IncidentManager *im = NULL;
        IncidentStoreLoad load = {};
        IncidentNow now;
        Effects fx = {};
        int r;

        im = calloc(1, sizeof(*im));
        if (!im)
                return log_oom();
        im->manager = m;
        im->event = sd_event_ref(manager_get_event(m));
        im->dir_fd = manager_get_state_dir_fd(m);
        if (gethostname(im->host, sizeof(im->host) - 1) < 0)
                snprintf(im->host, sizeof(im->host), "localhost");

        r = incident_engine_new(
                &(IncidentEngineOptions){
                        .host = im->host,
                        .dry_run = manager_is_dry_run(m),
                        .new_id = new_id,
                        .step_target = incident_step_target,
                        .userdata = im,
                },
                &im->engine);
        if (r < 0)
                return log_error_errno(r, "Cannot create the incident engine: %m");

        r = timeline_new(im->dir_fd, &(TimelineOptions){ .journal = true }, &im->timeline);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the incident timeline: %m");

        if (im->dir_fd >= 0) {
                for (IncidentStoreFile f = 0; f < _STORE_FILE_MAX; f++) {
                        r = state_saver_new(im->event, im->dir_fd, incident_store_file_name(f), &im->savers[f]);
                        if (r < 0)
                                return log_error_errno(
                                        r, "Cannot set up saving %s: %m", incident_store_file_name(f));
                        state_saver_set_callback(im->savers[f], on_saver_done, im);
                }
                now = im_now();
                r = incident_store_load(im->engine, im->dir_fd, now, &load);
                log_load(&load);
                incident_store_load_done(&load);
                if (r < 0)
                        return log_error_errno(r, "Cannot read the incident state: %m");
        }

        r = setup_hub(im);
        if (r < 0)
                return r;
        timeline_set_hub(im->timeline, im->hub, manager_get_config(m));

        r = remediation_ctx_new(im->event, manager_get_bus(m), manager_get_curl(m), 0, &im->rem);
        if (r < 0)
                return log_error_errno(r, "Cannot set up remediation actions: %m");

        r = sd_event_add_time(
                im->event, &im->timer, CLOCK_MONOTONIC, USEC_INFINITY, 10 * USEC_PER_MSEC, on_timer, im);
        if (r >= 0)
                r = sd_event_add_time_relative(
                        im->event,
                        &im->save_timer,
                        CLOCK_MONOTONIC,
                        INCIDENT_MANAGER_SAVE_DELAY_USEC,
                        100 * USEC_PER_MSEC,
                        on_save_timer,
                        im);
        if (r >= 0)
                r = sd_event_add_time_relative(
                        im->event,
                        &im->prune_timer,
                        CLOCK_MONOTONIC,
                        INCIDENT_MANAGER_PRUNE_INTERVAL_USEC,
                        USEC_PER_SEC,
                        on_prune,
                        im);
        if (r < 0)
                return log_error_errno(r, "Cannot set up incident timers: %m");
        (void) sd_event_source_set_description(im->timer, "incident-timer");
        (void) sd_event_source_set_description(im->save_timer, "incident-save");
        (void) sd_event_source_set_description(im->prune_timer, "incident-prune");
        (void) sd_event_source_set_enabled(im->save_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(im->prune_timer, SD_EVENT_ON);

        ManagerExtension ext = {
                .config_changed = ext_config_changed,
                .status_summary = ext_status_summary,
                .status_json = ext_status_json,
                .metrics = ext_metrics,
                .save = ext_save,
        };
        r = manager_add_extension(m, &ext, im);
        if (r < 0)
                return log_error_errno(r, "Cannot register the incident layer with the manager: %m");
        manager_set_eval_hook(m, on_row, im);

        /* Attach the configuration, then pick up what a previous run left in flight. */
        now = im_now();
        r = incident_engine_set_config(im->engine, manager_get_config(m), now, &fx);
        if (r >= 0)
                r = incident_engine_resume(im->engine, now, &fx);
        if (r < 0) {
                effects_done(&fx);
                return log_error_errno(r, "Cannot resume incidents: %m");
        }
        process(im, &fx);
        effects_done(&fx);

        size_t n;
        (void) incident_engine_incidents(im->engine, &n);
        log_debug("Incident layer ready: %zu incidents known%s.", n, manager_is_dry_run(m) ? ", dry run" : "");
        *ret = TAKE_PTR(im);
        return 0;
}

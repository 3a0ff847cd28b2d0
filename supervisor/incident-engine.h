/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The incident engine: all incidents of a host, their guards and silences, moved by an explicit
 * state × input table (incident-engine.c). Pure: no I/O, no clock, no globals. Every entry point takes
 * "now" (IncidentNow) and appends what must happen next to an Effects list; the daemon glue
 * (incident-manager.c) turns effects into journal entries, JSONL lines, webhooks, executor calls and
 * sd-event timers, and feeds the results back in. `homeostatctl` never runs it; tests run it directly.
 *
 * Inputs: evaluator rows (rule firing / recovered / pending / cleared / absent for one series), timers
 * (incident_engine_run_timers at incident_engine_next_wakeup()), unit state before an action (preflight),
 * action and undo results, reconciliation results after a restart, silences, reloads, loop lag.
 *
 * Outputs (Effects, in order):
 *   EFFECT_EVENT      a timeline event was appended to an incident: send it to the sinks
 *                     (notify = false while the incident is silenced, except silenced/unsilenced).
 *   EFFECT_PREFLIGHT  read the unit's state (InvocationID, ActiveState, job, start limit) and call
 *                     incident_engine_preflight_result.
 *   EFFECT_ACTION     run the step's action (incident->action) and call incident_engine_action_result.
 *                     The intent is in the incident: the glue must persist the state BEFORE it acts
 *                     (Effects.save) and, if that fails, report the action as failed instead.
 *   EFFECT_UNDO       undo an obligation and call incident_engine_undo_result.
 *   EFFECT_RECONCILE  after a restart, ask the world whether the action in flight happened and call
 *                     incident_engine_reconcile_result.
 *   save / save_now   the persisted state changed (incidents, guards or silences); save_now: it must be
 *                     on disk before the ACTION/UNDO effects of the same call are carried out.
 *
 * Policy constants (documented in docs/operations.md): a blocked action is retried after
 * INCIDENT_RETRY_USEC (unit busy, loop lag) or when the guard's own time runs out (cooldown, rate, grace);
 * a unit stopped on purpose is looked at again every INCIDENT_RETRY_SLOW_USEC; failed undos are retried with
 * exponential back-off from INCIDENT_UNDO_RETRY_MIN_USEC to INCIDENT_UNDO_RETRY_MAX_USEC, forever.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "evaluator.h"
#include "guard.h"
#include "incident.h"
#include "rules.h"
#include "silence.h"

#define INCIDENT_RETRY_USEC (5 * USEC_PER_SEC)
#define INCIDENT_RETRY_SLOW_USEC (30 * USEC_PER_SEC)
#define INCIDENT_UNDO_RETRY_MIN_USEC (10 * USEC_PER_SEC)
#define INCIDENT_UNDO_RETRY_MAX_USEC (5 * USEC_PER_MINUTE)
#define INCIDENT_RETENTION_USEC (24 * USEC_PER_HOUR)
#define INCIDENT_MAX_INCIDENTS 1000u
#define INCIDENT_MESSAGE_MAX 1024u

typedef struct IncidentEngine IncidentEngine;

/* What the glue found out about a unit before acting on it. */
typedef struct UnitSnapshot {
        char invocation_id[ID128_STRING_MAX]; /* "" when the unit has none (not running) */
        char active_state[32]; /* active, reloading, inactive, failed, activating, deactivating */
        char result[32];       /* Result=: success, start-limit-hit, exit-code, ... */
        bool job_queued;
        usec_t active_enter_mono; /* ActiveEnterTimestampMonotonic on the engine's clock; 0 unknown */
} UnitSnapshot;

typedef enum StepOutcome {
        STEP_SUCCEEDED,
        STEP_FAILED,
        STEP_SKIPPED, /* nothing was changed; retry: try the same step again later, else on to the next step */
        STEP_TIMED_OUT,
        _STEP_OUTCOME_MAX,
} StepOutcome;

typedef struct StepResult {
        StepOutcome outcome;
        const char *message;             /* the executor's, no secret; may be NULL */
        json_t *attrs;                   /* borrowed; copied with secret-looking keys removed; may be NULL */
        json_t *undo;                    /* borrowed; kept for actions with undo; may be NULL */
        const char *invocation_id_after; /* the unit's InvocationID after the action, or NULL */
        bool retry;                      /* SKIPPED: the refusal is temporary */
} StepResult;

typedef enum ReconcileOutcome {
        RECONCILE_DONE,     /* the world shows the action happened (a restart: the InvocationID changed) */
        RECONCILE_NOT_DONE, /* the world shows it did not */
        RECONCILE_UNKNOWN,  /* cannot tell */
        _RECONCILE_MAX,
} ReconcileOutcome;

typedef enum EffectKind {
        EFFECT_EVENT,
        EFFECT_PREFLIGHT,
        EFFECT_ACTION,
        EFFECT_UNDO,
        EFFECT_RECONCILE,
        _EFFECT_KIND_MAX,
} EffectKind;

typedef struct Effect {
        EffectKind kind;
        Id128 incident;
        uint64_t seq;           /* EVENT */
        bool notify;            /* EVENT: also to the rule's notifiers */
        uint64_t action_id;     /* PREFLIGHT, ACTION, RECONCILE */
        uint64_t obligation_id; /* UNDO */
        uint64_t undo_id;       /* UNDO */
} Effect;

typedef struct Effects {
        Effect *items;
        size_t n;
        size_t allocated;
        bool save;     /* the persisted state changed: save soon (may be asynchronous) */
        bool save_now; /* an intent, an undo obligation or a silence changed: save synchronously, before
                        * carrying out any ACTION or UNDO effect */
} Effects;

void effects_clear(Effects *e);
void effects_done(Effects *e);

/* The target of a step for an incident: expand templates, check the step's targets: allow-list, describe it
 * without secrets. Returns 0, or -EPERM / -EINVAL with a reason (malloc'ed, for the action_skipped event). */
typedef int (*IncidentStepTargetFn)(
        void *userdata,
        const Rule *rule,
        const Step *step,
        const Incident *i,
        IncidentTarget *ret,
        char **ret_reason);
typedef int (*IncidentNewIdFn)(void *userdata, Id128 *ret);

typedef struct IncidentEngineOptions {
        const char *host;          /* for the incident JSON */
        bool dry_run;              /* homeostatd --dry-run */
        unsigned host_max_actions; /* 0: GUARD_HOST_MAX_ACTIONS */
        usec_t host_per_usec;      /* 0: GUARD_HOST_PER_USEC */
        usec_t retention_usec;     /* 0: INCIDENT_RETENTION_USEC; at least the longest reopen_within */
        size_t max_incidents;      /* 0: INCIDENT_MAX_INCIDENTS */
        IncidentNewIdFn new_id;
        IncidentStepTargetFn step_target;
        void *userdata;
} IncidentEngineOptions;

int incident_engine_new(const IncidentEngineOptions *opts, IncidentEngine **ret);
IncidentEngine *incident_engine_free(IncidentEngine *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(IncidentEngine *, incident_engine_free);

/* (Re)attach a configuration (the engine references it; keep it alive). Incidents of removed rules are
 * escalated and orphaned (their undo obligations stay until max_hold); incidents of rules that come back
 * are re-attached. Guard and silence state is kept. */
int incident_engine_set_config(IncidentEngine *e, const Config *config, IncidentNow now, Effects *out);

/* One evaluator row (the daemon's eval hook). -E2BIG when a new incident would exceed max_incidents. */
int incident_engine_eval(IncidentEngine *e, const EvalRow *row, IncidentNow now, Effects *out);

/* Run every deadline that is due (settle, verify, retries, max_hold, undo retries, silence expiry). */
int incident_engine_run_timers(IncidentEngine *e, IncidentNow now, Effects *out);
/* The earliest deadline on the engine's monotonic clock, USEC_INFINITY if none. */
usec_t incident_engine_next_wakeup(const IncidentEngine *e);

/* Results. Stale ones (unknown incident, another action id) return 0 and change nothing. info NULL with
 * error set: the unit's state could not be read. */
int incident_engine_preflight_result(
        IncidentEngine *e,
        const Id128 *incident,
        uint64_t action_id,
        const UnitSnapshot *info,
        const char *error,
        IncidentNow now,
        Effects *out);
int incident_engine_action_result(
        IncidentEngine *e,
        const Id128 *incident,
        uint64_t action_id,
        const StepResult *result,
        IncidentNow now,
        Effects *out);
int incident_engine_undo_result(
        IncidentEngine *e,
        const Id128 *incident,
        uint64_t obligation_id,
        uint64_t undo_id,
        const StepResult *result,
        IncidentNow now,
        Effects *out);
int incident_engine_reconcile_result(
        IncidentEngine *e,
        const Id128 *incident,
        uint64_t action_id,
        ReconcileOutcome outcome,
        const char *message,
        IncidentNow now,
        Effects *out);

/* Silences. add takes ownership of s on success (-E2BIG, -EEXIST). expire ends one now (-ENOENT). */
int incident_engine_add_silence(IncidentEngine *e, Silence *s, IncidentNow now, Effects *out);
int incident_engine_expire_silence(IncidentEngine *e, const Id128 *id, IncidentNow now, Effects *out);
const SilenceSet *incident_engine_silences(const IncidentEngine *e);

/* homeostatd's loop is lagging (or not any more). While it lags no action starts. */
int incident_engine_set_loop_lag(IncidentEngine *e, bool lagging, IncidentNow now, Effects *out);

/* After loading state: ask for reconciliation of actions found in flight, redo interrupted preflights and
 * undos. Call once, after incident_engine_set_config. */
int incident_engine_resume(IncidentEngine *e, IncidentNow now, Effects *out);

/* Forget resolved incidents past retention (those with undo obligations left stay), expired silences and
 * stale guard state. Returns the number of incidents dropped. */
size_t incident_engine_prune(IncidentEngine *e, IncidentNow now);

/* Lookups. The array is in creation order (oldest first). */
Incident *const *incident_engine_incidents(const IncidentEngine *e, size_t *ret_n);
Incident *incident_engine_get(const IncidentEngine *e, const Id128 *id);
/* A unique incident whose id starts with prefix (hex, at least 4 digits): -ENOENT none, -ENOTUNIQ several,
 * -EINVAL bad prefix. */
int incident_engine_find_prefix(const IncidentEngine *e, const char *prefix, Incident **ret);
const GuardState *incident_engine_guards(const IncidentEngine *e);
const char *incident_engine_host(const IncidentEngine *e);
/* How many (state, input) pairs marked impossible were hit (a bug if not 0). */
uint64_t incident_engine_impossible_count(const IncidentEngine *e);

/* Persistence, three documents so that one corrupt file never drops the others. Load into a fresh engine
 * before set_config/resume; strict (-EBADMSG / -EPROTONOSUPPORT with *ret_error; the engine is unchanged). */
json_t *incident_engine_incidents_to_json(const IncidentEngine *e, IncidentNow now);
json_t *incident_engine_guards_to_json(const IncidentEngine *e, IncidentNow now);
json_t *incident_engine_silences_to_json(const IncidentEngine *e, IncidentNow now);
int incident_engine_load_incidents(IncidentEngine *e, json_t *j, IncidentNow now, char **ret_error);
int incident_engine_load_guards(IncidentEngine *e, json_t *j, IncidentNow now, char **ret_error);
int incident_engine_load_silences(IncidentEngine *e, json_t *j, IncidentNow now, char **ret_error);

/* The state machine table, for tests and docs: the handler's name for (state, input), never NULL. */
typedef enum IncidentInput {
        IN_FIRE,            /* the rule fires for the series (again) */
        IN_PENDING,         /* anomalous again, `for` not yet elapsed */
        IN_RECOVER,         /* the rule stopped firing (normal for recover_for) */
        IN_RETRY,           /* a guard's wait is over */
        IN_SETTLE,          /* the step's settle time elapsed */
        IN_VERIFY_DEADLINE, /* the step's verify deadline passed */
        IN_PREFLIGHT,       /* the unit's state before the action */
        IN_RESULT,          /* the action's result */
        IN_RECONCILE,       /* what the world says about an action interrupted by a restart */
        IN_SILENCE,         /* a silence now matches */
        IN_UNSILENCE,       /* no silence matches any more */
        IN_RULE_REMOVED,    /* a reload removed the rule */
        IN_RULE_RESTORED,   /* a reload brought the rule back */
        IN_HOLD_EXPIRED,    /* an undo obligation reached max_hold */
        _IN_MAX,
} IncidentInput;

const char *incident_input_to_string(IncidentInput in);
const char *incident_engine_handler_name(IncidentState s, IncidentInput in);

/* Whether an action is safe to repeat when its outcome is unknown after a crash. */
bool incident_action_is_idempotent(ActionKind k);
/* Whether a step leaves something to undo when the incident resolves (drain, maint, weight, limit). */
bool incident_step_has_undo(const Step *s);

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Incidents: what homeostat remembers about one rule firing for one series, and the closed vocabulary of
 * its timeline. This header holds the data model only; the state machine that moves incidents is in
 * incident-engine.h, the JSON forms (API, JSONL, webhook, state file) in incident-json.h.
 *
 * An incident belongs to (rule name, series key). States, as ARCHITECTURE.md publishes them:
 *
 *   firing ──▶ remediating ──▶ verifying ──▶ resolved
 *      ▲            │              │
 *      └── next step ◀── failed ───┘──▶ escalated (no step left, breaker, max_hold) ──▶ resolved
 *
 * Every change is recorded as a TimelineEvent whose kind comes from a closed list, each kind with a
 * stable journal MESSAGE_ID. Times: `at`, detected_at and resolved_at are CLOCK_REALTIME microseconds
 * (for humans, RFC 3339 in UTC); deadlines are on the engine's monotonic clock (see incident-engine.h).
 *
 * Undo obligations (a drain, a limit) and the intent of an action in flight are part of the incident, so
 * they are persisted with it and survive reload, rule removal and restart.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "rules.h"
#include "time-util.h"

/* ---- time ---- */

/* "Now" as the engine sees it: CLOCK_REALTIME for what humans read, and a monotonic clock for deadlines
 * (the daemon passes CLOCK_MONOTONIC plus a fixed offset, so that times from before boot, loaded from a
 * state file, stay positive). Persisted monotonic times are written as realtime and converted back with
 * the "now" of the load. */
typedef struct IncidentNow {
        usec_t wall;
        usec_t mono;
} IncidentNow;

/* Convert a monotonic time to realtime and back through a pair taken at the same instant; 0 stays 0
 * (unset), results saturate at 1 (never 0, so that a set time stays set). */
usec_t incident_mono_to_wall(IncidentNow now, usec_t mono);
usec_t incident_wall_to_mono(IncidentNow now, usec_t wall);

/* ---- 128-bit ids (incidents, silences) ---- */

typedef struct Id128 {
        uint8_t bytes[16];
} Id128;

#define ID128_STRING_MAX 33 /* 32 lowercase hex digits and a NUL */

const char *id128_to_string(const Id128 *id, char buf[static ID128_STRING_MAX]);
/* Exactly 32 hex digits (either case). -EINVAL otherwise. */
int id128_from_string(const char *s, Id128 *ret);
bool id128_equal(const Id128 *a, const Id128 *b);
bool id128_is_null(const Id128 *id);

/* ---- states and event kinds ---- */

typedef enum IncidentState {
        INCIDENT_FIRING, /* open; no action in flight (about to act, waiting on a guard, or observing) */
        INCIDENT_REMEDIATING, /* a step's action is being prepared or runs */
        INCIDENT_VERIFYING,   /* the action succeeded; waiting for the series to recover */
        INCIDENT_ESCALATED,   /* a human is needed; still resolves when the series recovers */
        INCIDENT_RESOLVED,    /* closed (may reopen within reopen_within) */
        _INCIDENT_STATE_MAX,
        _INCIDENT_STATE_INVALID = -EINVAL,
} IncidentState;

const char *incident_state_to_string(IncidentState s);
IncidentState incident_state_from_string(const char *s);
static inline bool incident_state_is_open(IncidentState s) {
        return s != INCIDENT_RESOLVED;
}

/* The closed list of timeline event kinds (ARCHITECTURE.md, "Incidents"). */
typedef enum IncidentEventKind {
        IEV_DETECTED,
        IEV_FIRING,
        IEV_ACTION_STARTED,
        IEV_ACTION_SUCCEEDED,
        IEV_ACTION_FAILED,
        IEV_ACTION_SKIPPED,
        IEV_VERIFY_PASSED,
        IEV_VERIFY_FAILED,
        IEV_ESCALATED,
        IEV_UNDO_STARTED,
        IEV_UNDO_SUCCEEDED,
        IEV_UNDO_FAILED,
        IEV_SILENCED,
        IEV_UNSILENCED,
        IEV_REOPENED,
        IEV_RESOLVED,
        _IEV_MAX,
        _IEV_INVALID = -EINVAL,
} IncidentEventKind;

const char *incident_event_kind_to_string(IncidentEventKind k);
IncidentEventKind incident_event_kind_from_string(const char *s);
/* The journal MESSAGE_ID of a kind: 32 lowercase hex digits, stable forever (docs/operations.md lists
 * them). */
const char *incident_event_kind_message_id(IncidentEventKind k);
/* Journal priority of a kind: LOG_WARNING for failures and escalations, LOG_NOTICE otherwise. */
int incident_event_kind_priority(IncidentEventKind k);

/* Why an action did not run. The string forms are the `reason` attribute of action_skipped. */
typedef enum SkipReason {
        SKIP_NONE,
        SKIP_OBSERVE,     /* "observe": mode: observe */
        SKIP_DRY_RUN,     /* "dry-run": homeostatd --dry-run */
        SKIP_SILENCE,     /* "silence" */
        SKIP_BREAKER,     /* "breaker": circuit breaker open */
        SKIP_NOT_ALLOWED, /* "not allowed by targets": the target is outside the step's allow-list or invalid */
        SKIP_LOOP_LAG,    /* "loop lag": homeostatd's own loop is lagging */
        SKIP_TARGET_BUSY, /* "target busy": another action runs on the same target */
        SKIP_COOLDOWN,    /* "cooldown": per rule or per target */
        SKIP_RATE_LIMIT,  /* "rate limit": per rule or per host */
        SKIP_GRACE,       /* "grace": the unit was (re)started by someone else recently */
        SKIP_UNIT_STATE,  /* "unit state": stopped on purpose, starting, stopping, job queued, start limit */
        _SKIP_REASON_MAX,
        _SKIP_REASON_INVALID = -EINVAL,
} SkipReason;

const char *skip_reason_to_string(SkipReason r);
SkipReason skip_reason_from_string(const char *s);
/* Whether the reason belongs to the guard family (cooldown, rate limit, breaker, target busy, grace,
 * loop lag); reported as attrs.category = "guard". */
bool skip_reason_is_guard(SkipReason r);

/* ---- timeline ---- */

typedef struct TimelineEvent {
        uint64_t seq; /* from 1, per incident */
        usec_t at;    /* CLOCK_REALTIME */
        IncidentEventKind kind;
        char *message; /* for humans: always with value and expected band where there is one */
        json_t *attrs; /* an object, never NULL; never holds a secret */
} TimelineEvent;

/* ---- actions in flight and undo obligations ---- */

typedef enum ActionPhase {
        ACTION_PHASE_NONE,
        ACTION_PHASE_PREFLIGHT,   /* asked for the unit's state; nothing done yet */
        ACTION_PHASE_EXECUTING,   /* the intent is persisted and the executor runs it */
        ACTION_PHASE_RECONCILING, /* found in flight after a restart; asking the world what happened */
        _ACTION_PHASE_MAX,
        _ACTION_PHASE_INVALID = -EINVAL,
} ActionPhase;

const char *action_phase_to_string(ActionPhase p);
ActionPhase action_phase_from_string(const char *s);

/* Where an action lands. key identifies the target for guards ("unit:api.service",
 * "haproxy:/run/haproxy/admin.sock:api/web1"); display is what humans read ("api.service", "api/web1");
 * unit is the systemd unit for unit-state checks (preflight), NULL for other targets. None holds a
 * secret (no URL query, no credentials). */
typedef struct IncidentTarget {
        char *key;
        char *display;
        char *unit;
} IncidentTarget;

void incident_target_done(IncidentTarget *t);
int incident_target_copy(const IncidentTarget *from, IncidentTarget *to);

/* The action a step runs, from the first request to its result: the persisted intent. */
typedef struct PendingAction {
        uint64_t id;       /* per incident, from 1; results carry it back */
        ActionPhase phase; /* NONE: nothing in flight */
        unsigned step;     /* index into the rule's steps */
        ActionKind action;
        IncidentTarget target;
        char invocation_id_before[ID128_STRING_MAX]; /* the unit's InvocationID before the action, "" unknown */
        usec_t started_mono;                         /* when the executor was asked */
        usec_t settle_usec, verify_usec;             /* captured from the step when the action started */
        usec_t max_hold_usec;                        /* for actions with undo */
        bool undoable;
        unsigned interruptions; /* how often a restart of homeostatd found this action in flight */
} PendingAction;

typedef enum ObligationState {
        OBLIGATION_HELD,    /* the change is in place */
        OBLIGATION_UNDOING, /* undo requested, result awaited */
        OBLIGATION_RETRY,   /* the last undo failed; retried at retry_mono */
        OBLIGATION_DONE,    /* undone */
        _OBLIGATION_STATE_MAX,
        _OBLIGATION_STATE_INVALID = -EINVAL,
} ObligationState;

const char *obligation_state_to_string(ObligationState s);
ObligationState obligation_state_from_string(const char *s);

/* Something to put back when the incident resolves (or after max_hold): a drain, a limit. */
typedef struct Obligation {
        uint64_t id; /* per incident, from 1 */
        unsigned step;
        ActionKind action;
        IncidentTarget target;
        json_t *undo; /* the executor's undo data; JSON null when unknown (after a crash): undo from the step */
        ObligationState state;
        usec_t held_since_mono;
        usec_t max_hold_usec; /* 0: no maximum */
        uint64_t undo_id;     /* increments per undo attempt; results carry it back */
        unsigned attempts;
        usec_t retry_mono; /* RETRY: when to try again */
        bool hold_expired; /* max_hold elapsed (already escalated for it) */
} Obligation;

/* ---- the incident ---- */

typedef struct Incident {
        Id128 id;
        char *rule_name;
        const Rule *rule; /* in the current Config; NULL when the rule was removed by a reload */
        char *series_key; /* canonical `name{a="x"}` */
        char *metric;
        Label *labels; /* sorted by name; owned strings */
        size_t n_labels;

        IncidentState state;
        usec_t detected_at;   /* CLOCK_REALTIME: start of the anomalous run */
        usec_t resolved_at;   /* CLOCK_REALTIME: start of the final normal run; 0 while open */
        usec_t resolved_mono; /* when it was declared resolved (reopen window); 0 while open */
        unsigned round;       /* 0, +1 per reopen */
        unsigned step;        /* the step being tried (or to try next) */
        bool acted;     /* an action of this round succeeded (a reopen then counts as a failed recovery) */
        bool simulated; /* observe / dry-run: the plan was recorded, nothing more to do this round */
        bool orphaned;  /* the rule was removed by a reload */

        PendingAction action;
        usec_t settle_mono;   /* VERIFYING: judge recovery from here on */
        usec_t verify_mono;   /* VERIFYING: deadline */
        usec_t retry_mono;    /* FIRING: a guard said "not before" this; 0: nothing scheduled */
        SkipReason last_skip; /* the last skip recorded for this step (not repeated while it persists) */
        unsigned last_skip_step;

        /* What the series does now (from the evaluator). */
        bool series_firing;
        usec_t recovered_at; /* a recovery seen but not yet judged: its resolved_at; 0 when none */
        usec_t normal_since; /* start of the current run of normal samples while not firing (realtime), 0 none */
        double value, expected, lower, upper; /* the latest sample (units of the detector input) */
        double detected_value, detected_expected, detected_lower, detected_upper;

        bool silenced;
        Id128 silence_id; /* the silence that matched first */

        Obligation *obligations;
        size_t n_obligations;
        uint64_t next_obligation_id;

        TimelineEvent *events;
        size_t n_events;
        uint64_t next_seq;
        uint64_t events_dropped; /* oldest events dropped to respect INCIDENT_EVENTS_MAX */
} Incident;

/* The in-memory timeline of one incident keeps at most this many events (the oldest go first; every event
 * is still written to the journal and to the JSONL file). */
#define INCIDENT_EVENTS_MAX 512

int incident_new(
        const Id128 *id,
        const char *rule_name,
        const char *series_key,
        const char *metric,
        const Label *labels,
        size_t n_labels,
        Incident **ret);
Incident *incident_free(Incident *i);
DEFINE_TRIVIAL_CLEANUP_FUNC(Incident *, incident_free);

/* Append an event (takes ownership of attrs, which may be NULL for {}). Returns the event. */
int incident_append_event(
        Incident *i, usec_t at, IncidentEventKind kind, char *message, json_t *attrs, const TimelineEvent **ret);
const TimelineEvent *incident_find_event(const Incident *i, uint64_t seq);
const TimelineEvent *incident_last_event(const Incident *i);

/* MTTR in microseconds, or USEC_INFINITY while open. */
usec_t incident_mttr(const Incident *i);

/* Obligations still to undo (not DONE). */
size_t incident_open_obligations(const Incident *i);
Obligation *incident_find_obligation(Incident *i, uint64_t id);

/* The label's value or NULL. */
const char *incident_label(const Incident *i, const char *name);

/* ---- human-readable values ---- */

/* Format a value of the given metric for a human: "0.52 s" for *_seconds, "1.5 GiB" for *_bytes, "12/s"
 * for counters evaluated as rates (*_total), "0.12" otherwise; "n/a" for NaN. */
const char *incident_format_value(char *buf, size_t len, const char *metric, double v);
#define INCIDENT_VALUE_MAX 48

/* "0.52 s, expected 0.15 s (0.11–0.19)"; "0.52 s" when there is no expectation yet. Malloc'ed. */
char *incident_describe_value(const char *metric, double value, double expected, double lower, double upper);

/* A measured duration for people: "250ms", "3.05s", "1m12s" (rounded to what matters, unlike
 * format_duration() which keeps every microsecond). */
const char *incident_format_elapsed(char *buf, size_t len, usec_t d);

/* A human-readable name of an action for messages ("restart", "drain", "limit", "flush"). */
const char *incident_action_verb(const Step *s);
const char *incident_action_name(ActionKind k);

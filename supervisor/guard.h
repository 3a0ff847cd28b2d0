/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Guards: the memory that keeps remediation from making things worse — no restart loops, no storms.
 * Pure (no I/O, no clock: every call takes "now"), persisted as JSON beside the incidents.
 *
 * Published defaults (ARCHITECTURE.md; per rule, from the rule's `guard:`): cooldown 10m per rule and per
 * target; at most 3 actions per rule per hour; circuit breaker after 3 failed recoveries in 6h. For the
 * host: at most GUARD_HOST_MAX_ACTIONS actions per GUARD_HOST_PER_USEC (10 per hour) over all rules.
 *
 * - Cooldown: after an action, the same rule and the same target wait `cooldown` before another action.
 *   The steps of one incident round (tried in order after each other's verification failed) are exempt:
 *   they are the declared follow-up, bounded by the number of steps. A reopened incident is a new round
 *   and is not exempt.
 * - Rate limits: a token bucket in which each token comes back `per` after it was spent, i.e. at most
 *   max_actions actions in any window of length `per` (per rule; and GUARD_HOST_MAX_ACTIONS per host).
 * - One action at a time per target (actions and undos alike).
 * - Circuit breaker: failed recoveries of a rule (a step whose verification failed, an action that failed,
 *   a recovery that did not hold: the incident reopened after an action) are remembered for
 *   breaker_window. With breaker_after or more of them in the window the breaker is open: the rule does
 *   not act and escalates to a human instead. It closes by itself when enough failures have aged out of
 *   the window. breaker_after = 0 disables the breaker.
 * - Grace: a unit (re)started by someone else (a deploy, systemd's own Restart=) less than `grace` ago is
 *   left alone. A start is ours if the unit's InvocationID is the one our last action produced, or if the
 *   unit became active while our last action on it ran.
 *
 * Silences, observe, dry-run and loop lag are decided by the incident engine; they need no memory here.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "incident.h"
#include "rules.h"

#define GUARD_HOST_MAX_ACTIONS 10u
#define GUARD_HOST_PER_USEC USEC_PER_HOUR
/* Bound on remembered timestamps per rule and for the host (oldest dropped beyond). */
#define GUARD_LOG_MAX 1024u

typedef struct GuardRuleState {
        char *rule;
        bool has_last;
        usec_t last_action_mono;
        Id128 last_incident;
        unsigned last_round;
        usec_t *actions; /* start times of recent actions, oldest first */
        size_t n_actions;
        usec_t *failures; /* times of recent failed recoveries, oldest first */
        size_t n_failures;
} GuardRuleState;

typedef struct GuardTargetState {
        char *key;
        bool has_last;
        usec_t last_action_mono;
        Id128 last_incident;
        unsigned last_round;
        bool busy; /* an action or undo runs on it (derived from incidents after a load, not persisted) */
        Id128 busy_incident;
        char invocation_id[ID128_STRING_MAX]; /* the unit's InvocationID after our last action, "" unknown */
        usec_t our_started_mono, our_finished_mono; /* when our last action on it ran */
} GuardTargetState;

typedef struct GuardState {
        GuardRuleState **rules;
        size_t n_rules;
        GuardTargetState **targets;
        size_t n_targets;
        usec_t *host_actions;
        size_t n_host_actions;
        unsigned host_max_actions;
        usec_t host_per_usec;
} GuardState;

void guard_state_init(GuardState *g, unsigned host_max_actions, usec_t host_per_usec);
void guard_state_done(GuardState *g);

/* One prospective action. */
typedef struct GuardRequest {
        const char *rule;
        const Guard *limits;
        const char *target_key;
        Id128 incident;
        unsigned round;
} GuardRequest;

typedef struct GuardDecision {
        SkipReason reason; /* SKIP_NONE: allowed */
        usec_t until_mono; /* when the block lifts by itself; 0 if it does not by time */
        char detail[192];  /* "cooldown: last action 2m ago, 10m cooldown" */
} GuardDecision;

/* Check breaker, target busy (by another incident), cooldown (rule, target), rate (rule, host) in that
 * order. Does not change the state. */
void guard_check(const GuardState *g, const GuardRequest *req, usec_t now_mono, GuardDecision *ret);

/* Whether the rule's breaker is open, and how many failures are in its window. */
bool guard_breaker_open(
        const GuardState *g, const char *rule, const Guard *limits, usec_t now_mono, size_t *ret_failures);

/* Grace after a foreign (re)start: given the unit's current InvocationID and the monotonic time it last
 * became active (0 unknown). Returns true and the end of grace if actions must wait. */
bool guard_in_grace(
        const GuardState *g,
        const char *target_key,
        const char *invocation_id,
        usec_t active_enter_mono,
        usec_t grace_usec,
        usec_t now_mono,
        usec_t *ret_until);

/* Reserve the target (busy) without counting an action: preflight and undo. -EBUSY if already busy. */
int guard_reserve_target(GuardState *g, const char *target_key, const Id128 *incident);
/* An action starts: take a token from the rule and the host, stamp both cooldowns, mark the target busy. */
int guard_record_action(GuardState *g, const GuardRequest *req, usec_t now_mono);
/* The action or undo on the target ended. invocation_id: the unit's InvocationID after it, or NULL.
 * our_action: whether this was one of our actions (true) or an undo / cancelled preflight (false). */
int guard_release_target(
        GuardState *g,
        const char *target_key,
        const Id128 *incident,
        bool our_action,
        const char *invocation_id,
        usec_t now_mono);
bool guard_target_busy(const GuardState *g, const char *target_key);

/* Remember a failed recovery. Returns 1 if this opened the breaker, 0 otherwise, -ENOMEM. */
int guard_record_failure(GuardState *g, const char *rule, const Guard *limits, usec_t now_mono);

/* Forget what no longer matters: timestamps older than max_age (use the longest window in the config),
 * idle targets and rules not seen for max_age. */
void guard_prune(GuardState *g, usec_t now_mono, usec_t max_age);

const GuardRuleState *guard_find_rule(const GuardState *g, const char *rule);
const GuardTargetState *guard_find_target(const GuardState *g, const char *key);

/* Persistence: {"version": 1, "rules": [...], "targets": [...], "host": {"actions": [...]}}; times as
 * realtime microseconds. Load is strict: anything unexpected is -EBADMSG with a message in *ret_error;
 * an unknown version is -EPROTONOSUPPORT. On failure g is unchanged. */
json_t *guard_state_to_json(const GuardState *g, IncidentNow now);
int guard_state_from_json(GuardState *g, json_t *j, IncidentNow now, char **ret_error);

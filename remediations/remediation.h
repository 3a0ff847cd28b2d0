/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Remediation actions: the code that changes the world when a rule fires. One call starts one step of a
 * rule (restart a unit, drain an HAProxy server, flush a cache, call an HTTP API, run a command) on the
 * daemon's sd-event loop; nothing here blocks. Every action has a deadline and ends in exactly one
 * recorded ActionResult: succeeded, failed, skipped (with the reason) or timed out, a sentence for humans
 * ("restarted api.service (job 1234 done)"), structured attributes for the incident timeline, and, for
 * actions that must be undone when the incident resolves (an HAProxy state or weight, a resource limit),
 * the undo data as a self-contained object that survives a daemon restart as JSON text.
 *
 * The caller (the incident state machine) owns the policy: when to act, guards, cooldowns, verification.
 * This library owns the mechanics and the service-manager etiquette that is about the target itself:
 * it refuses to restart a unit that was stopped on purpose, is in transition, has a job queued or hit
 * its start limit, and says why.
 *
 * Which mechanism runs what:
 * - restart, reload, try-restart, stop, start: the systemd Manager's RestartUnit & co. (mode "replace"),
 *   waiting for JobRemoved of our job. kill: KillUnit with whom="all" (like `systemctl kill`: a hung
 *   service's helpers go too; a signal meant for the main process only is what `reload` is for).
 * - limit: SetUnitProperties(runtime=true) of CPUQuotaPerSecUSec, MemoryHigh, IOWeight, TasksMax, after
 *   reading the previous values for the undo, verified by reading them back.
 * - exec: with a bus, a transient service unit (StartTransientUnit, Type=exec, RuntimeMaxSec= the step's
 *   timeout), so the command runs outside the daemon's sandbox and process tree; without a bus (the
 *   context was created with bus == NULL), a direct child in its own session with closed fds, stdin on
 *   /dev/null, SIGTERM at the timeout and SIGKILL 5 s later (the caller must block SIGCHLD, as the daemon
 *   does). Either way the environment holds only HOMEOSTAT_RULE, HOMEOSTAT_SERIES, HOMEOSTAT_VALUE,
 *   HOMEOSTAT_EXPECTED and HOMEOSTAT_INCIDENT (those with a value, formatted as ${rule} etc. would be;
 *   and PATH for direct children), and argv[0] must be an absolute path.
 * - haproxy: the runtime API over a unix socket or TCP, one command per connection; the previous state is
 *   read before and the new one verified after.
 * - redis: hiredis' asynchronous API on the loop: SELECT db, then FLUSHDB ASYNC, or SCAN MATCH + UNLINK
 *   in batches. memcached: flush_all.
 * - http: libcurl through the caller's CurlGlue.
 *
 * Dry run (REMEDIATION_DRY_RUN): every action still expands and validates its target (templates,
 * allow-list, the unit exists and its state, the HAProxy server exists, the cache answers) and then ends
 * as skipped with dry_run set and a message saying what it would have done ("would restart api.service").
 * Nothing is changed. http and exec have no side-effect-free probe: their dry run validates locally only.
 *
 * Outcomes: skipped always means nothing was changed, and carries no undo data: the unit's state forbids
 * acting (stopped on purpose, in transition, a job queued), the target is already as wanted (a drained
 * server, an active unit for start, a limit in place), a dry run, or, for an undo, nothing is left to
 * restore (the unit or server is gone, the values are back). A unit past its start limit is a failure
 * ("start limit hit; escalate"): seen before acting as Result=start-limit-hit, or, since systemd 252 keeps
 * the first failure in Result= when a failing unit then hits the limit, as a start job that failed
 * without a new InvocationID (attr start_refused=true).
 *
 * Timeouts: a step's timeout (Step.timeout_usec) applies to every kind when set; otherwise the defaults
 * below. A timed-out systemd job is left to systemd (it has its own job timeouts); we stop waiting.
 *
 * Secrets: results never contain URL credentials or query strings (also not of URLs passed as exec
 * arguments), header values or request bodies.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <systemd/sd-id128.h>

#include "curl-glue.h"
#include "macro.h"
#include "rules.h"
#include "template.h"
#include "time-util.h"

#define REMEDIATION_DEFAULT_UNIT_JOB_TIMEOUT_USEC (3 * USEC_PER_MINUTE) /* restart = stop + start */
#define REMEDIATION_DEFAULT_BUS_TIMEOUT_USEC (30 * USEC_PER_SEC)        /* kill, limit, lookups */
#define REMEDIATION_DEFAULT_EXEC_TIMEOUT_USEC (30 * USEC_PER_SEC)
#define REMEDIATION_DEFAULT_HAPROXY_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define REMEDIATION_DEFAULT_REDIS_TIMEOUT_USEC (60 * USEC_PER_SEC)
#define REMEDIATION_DEFAULT_MEMCACHED_TIMEOUT_USEC (10 * USEC_PER_SEC)
#define REMEDIATION_DEFAULT_HTTP_TIMEOUT_USEC (10 * USEC_PER_SEC)

typedef struct RemediationCtx RemediationCtx;
typedef struct Action Action;
typedef struct ActionUndo ActionUndo;

typedef enum RemediationFlags {
        REMEDIATION_DRY_RUN = 1 << 0, /* validate and record, change nothing */
} RemediationFlags;

typedef enum ActionOutcome {
        ACTION_OUTCOME_SUCCEEDED,
        ACTION_OUTCOME_FAILED,
        ACTION_OUTCOME_SKIPPED, /* nothing was changed: unit state, already in the wanted state, dry run */
        ACTION_OUTCOME_TIMED_OUT,
        _ACTION_OUTCOME_MAX,
} ActionOutcome;

/* "succeeded", "failed", "skipped", "timed-out". */
const char *action_outcome_to_string(ActionOutcome o);

/* One structured attribute of a result, in the order they were recorded. When number is true, value is
 * a decimal integer that a JSON writer may emit as a number; otherwise it is a string. */
typedef struct ActionAttr {
        char *key;
        char *value;
        bool number;
} ActionAttr;

typedef struct ActionResult {
        ActionOutcome outcome;
        bool dry_run; /* the context was in dry-run mode (outcome is then skipped, or failed on validation) */
        bool is_undo;  /* this result ends a remediation_undo() */
        int error;     /* the negative errno behind a failure or timeout when there is one, else 0 */
        char *message; /* one sentence for humans, never NULL */
        char *target;  /* the target key (see remediation_target()), NULL if the target did not expand */
        ActionAttr *attrs;
        size_t n_attrs;
        /* Set when the action may have changed something that must be undone later (also after a failure
         * or timeout past the point of no return). Take it with action_result_take_undo(). */
        ActionUndo *undo;
        usec_t started_usec;  /* CLOCK_MONOTONIC */
        usec_t finished_usec; /* CLOCK_MONOTONIC */
} ActionResult;

/* The value of an attribute, or NULL. */
const char *action_result_attr(const ActionResult *r, const char *key);
/* Take ownership of the undo data (NULL if there is none). */
ActionUndo *action_result_take_undo(ActionResult *r);

/* Called exactly once per started action, from the event loop (never from inside remediation_start()),
 * unless the action was cancelled. The result and the Action are freed after the callback returns;
 * keep what you need (take the undo). */
typedef void (*ActionDoneCallback)(Action *a, ActionResult *result, void *userdata);

/* Create a context. event: the loop everything runs on. bus: a connection to the service manager
 * (system or user) already attached to event, or NULL: then systemd actions fail with a clear message and
 * exec runs direct children. curl: the loop's CurlGlue, or NULL: then http actions fail. The context
 * subscribes to the manager's job signals once, here. */
int remediation_ctx_new(
        sd_event *event, sd_bus *bus, CurlGlue *curl, RemediationFlags flags, RemediationCtx **ret);
/* Cancels every action still in flight (no callbacks), then frees. */
RemediationCtx *remediation_ctx_free(RemediationCtx *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(RemediationCtx *, remediation_ctx_free);
bool remediation_ctx_dry_run(const RemediationCtx *c);
/* Number of actions in flight. */
size_t remediation_ctx_in_flight(const RemediationCtx *c);

/* Start one step. Everything needed is copied out of step and vars, so the Config may be swapped while
 * the action runs. Returns 0 and (if ret) the Action, which stays valid until its callback returns or
 * it is cancelled. Any problem with the target, including a template that does not expand or is not
 * allowed, is reported through the callback as a failed result, not here: a negative return means the
 * action could not be started at all (-ENOMEM, -EINVAL for a NULL argument or an unknown action kind). */
int remediation_start(
        RemediationCtx *c,
        const Step *step,
        const TemplateVars *vars,
        ActionDoneCallback cb,
        void *userdata,
        Action **ret);

/* Undo what an earlier action did (HAProxy: back to the previous state or weight; limit: the previous
 * property values). The undo data is not consumed. A target that no longer exists ends as skipped with
 * that reason: there is nothing left to restore. Dry run applies as for remediation_start(). */
int remediation_undo(
        RemediationCtx *c, const ActionUndo *undo, ActionDoneCallback cb, void *userdata, Action **ret);

/* Stop an action in flight: its callback is not called and the Action is freed. Work already handed to
 * another party (a queued systemd job, a command already sent) is not rolled back. */
void remediation_cancel(Action *a);

/* The kind of step an action carries out (for undo: the kind of the original step). */
ActionKind remediation_action_kind(const Action *a);

/* A stable key for the target of a step with these vars, for guards that work per target ("never two
 * actions on one target at once", cooldown per target): "unit:api.service",
 * "haproxy:/run/haproxy/admin.sock:api/web1", "redis:127.0.0.1:6379/0", "memcached:/run/mc.sock",
 * "http:POST http://127.0.0.1:8500/v1/agent/maintenance" (no credentials or query), "exec:/usr/bin/x".
 * A limit targets its unit, so a restart and a limit of one unit share the key. On failure a negative
 * errno and, if ret_error is given, a sentence: -EINVAL (a value not valid where it lands, a bad
 * address, weight or signal), -EBADMSG (a malformed template), -EPERM (the targets: allow-list refuses
 * the expanded target). vars may be NULL when no incident is at hand. */
int remediation_target(const Step *step, const TemplateVars *vars, char **ret, char **ret_error);

/* Asynchronously read a unit's InvocationID and ActiveState, for reconciling after a crash (did the
 * restart we intended happen?). error is 0, -ENOENT when the unit does not exist (is not loaded), or
 * another negative errno; invocation_id is SD_ID128_NULL while the unit is not running. */
typedef void (*UnitInvocationCallback)(
        Action *a, int error, const char *unit, sd_id128_t invocation_id, const char *active_state, void *userdata);
int remediation_unit_invocation_id(
        RemediationCtx *c, const char *unit, UnitInvocationCallback cb, void *userdata, Action **ret);

/* ---- undo data ---- */

ActionUndo *action_undo_free(ActionUndo *u);
DEFINE_TRIVIAL_CLEANUP_FUNC(ActionUndo *, action_undo_free);
/* The target key, equal to the original action's remediation_target(). */
const char *action_undo_target(const ActionUndo *u);
/* What an undo would do, for the timeline: "set api/web1 back to ready". Caller frees. */
int action_undo_describe(const ActionUndo *u, char **ret);
/* JSON text that remediation_undo_from_json() reads back, e.g.
 * {"version":1,"kind":"haproxy","socket":"/run/haproxy/admin.sock","server":"api/web1","state":"ready"}.
 * Contains no secrets. */
int remediation_undo_to_json(const ActionUndo *u, char **ret);
/* Strict: unknown keys, wrong types, a missing key or an unknown version are -EINVAL. */
int remediation_undo_from_json(const char *json, ActionUndo **ret);

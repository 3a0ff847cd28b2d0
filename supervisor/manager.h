/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The Manager: everything homeostatd owns at run time, on one sd-event loop. It holds the current
 * configuration and evaluator, one Source per configured source (samples go straight into
 * evaluator_push()), the bus, the libcurl glue, the HTTP API, the state directory, and the timers:
 *
 *   loop lag      every 250 ms, CLOCK_MONOTONIC, 1 ms accuracy (loop-lag.h)
 *   evaluator     evaluator_tick() every second with the wall-clock time (absent_for, staleness)
 *   STATUS=       refreshed every 5 s when the summary changed, and after reloads
 *   persistence   learned state saved every 5 minutes (forked writer, see state-file.h) and at stop
 *   watchdog      WATCHDOG=1 by sd_event_set_watchdog() when WatchdogSec= is set
 *
 * Reload (SIGHUP or POST /api/v1/reload) validates the new configuration completely (rules, StrictModes
 * when running as root), builds a new evaluator, moves learned state over (evaluator_adopt()), recreates
 * the sources whose settings changed (unchanged ones keep running), and swaps; any failure leaves the old
 * configuration running and is reported in the journal, in STATUS= and in the reload's answer.
 *
 * Hooks for the incident layer (incidents, remediations, notifiers plug in here, without editing this
 * file's code):
 *
 *  - manager_set_eval_hook(): called for every EvalRow the evaluator produces, from a sample (inside the
 *    source's sample callback) or from the 1 s tick (row->from_tick). The row and everything it points to
 *    are valid only during the call; row->rule points into the current Config (see config_changed for
 *    reloads). The hook runs on the loop and MAY: read the evaluator (evaluator_is_firing()), start
 *    asynchronous work (sd-bus calls on manager_get_bus(), curl transfers on manager_get_curl(), child
 *    processes and timers on manager_get_event()), log, call manager_request_status_update(). It MUST NOT
 *    block, call manager_reload(), push samples into the evaluator, or free the manager. Per-rule firing
 *    counts are updated before the hook is called.
 *  - manager_add_extension(): config_changed after a successful reload swap, a STATUS= fragment (e.g.
 *    "2 open incidents"), members for GET /api/v1/status, lines for /metrics, and save(final) for its own
 *    state files (use state_file_write_atomic() or a StateSaver on manager_get_state_dir_fd(), with file
 *    names of its own; the evaluator's file is "evaluator.state").
 *  - manager_get_api() + api_add_route(): extra HTTP routes (GET /api/v1/incidents, POST
 *    /api/v1/silences, ...).
 *  - manager_loop_lagging(): true while the loop lagged more than 1 s within the last 10 s; no action may
 *    run then. manager_is_dry_run(): --dry-run was given.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "api.h"
#include "curl-glue.h"
#include "evaluator.h"
#include "rules.h"
#include "strbuf.h"
#include "time-util.h"

typedef struct Manager Manager;

/* Name of the evaluator's state file in the state directory. */
#define MANAGER_EVALUATOR_STATE_FILE "evaluator.state"
/* Refuse to read a state file larger than this (a corrupt size field must not make us allocate more). */
#define MANAGER_STATE_FILE_MAX ((size_t) 1024 * 1024 * 1024)
#define MANAGER_SAVE_INTERVAL_USEC (5 * USEC_PER_MINUTE)
#define MANAGER_TICK_INTERVAL_USEC (1 * USEC_PER_SEC)
#define MANAGER_STATUS_INTERVAL_USEC (5 * USEC_PER_SEC)

typedef struct ManagerOptions {
        const char *config_path;    /* file or directory, as for config_load() */
        const char *state_dir;      /* NULL: nothing is persisted */
        const char *api_socket;     /* unix socket path; NULL: no API */
        const char *metrics_listen; /* HOST:PORT for the read-only TCP listener; NULL: none */
        bool user;                  /* talk to the calling user's service manager */
        bool dry_run;               /* detect and record, never act (read by the remediation layer) */
        bool strict_modes;          /* refuse configuration writable by non-root (homeostatd: euid == 0) */
} ManagerOptions;

/* The outcome of loading a configuration (at start or on reload). */
typedef struct ReloadResult {
        bool ok;
        char *message;      /* one line for people and STATUS= */
        char **diagnostics; /* "file:line:col: error: ..." lines, NULL-terminated (may be NULL) */
        size_t n_diagnostics;
        size_t n_errors;
        size_t n_warnings;
        size_t n_rules; /* of the configuration now running */
        size_t n_sources;
} ReloadResult;

void reload_result_done(ReloadResult *r);
/* {"ok", "message", "errors", "warnings", "diagnostics": [...], "rules", "sources"} */
json_t *reload_result_to_json(const ReloadResult *r);

/* Load and validate a configuration the way start-up and reload do: config_load() plus, with
 * strict_modes, the ownership/permission check of every file and directory involved. Every diagnostic
 * lands in *result (and nothing is logged). Returns 0, -EINVAL (invalid configuration), -EPERM (StrictModes
 * refused it) or another negative errno (a file could not be read). */
int manager_load_config(const char *path, bool strict_modes, Config **ret, ReloadResult *result);

/* Log every diagnostic of a result (errors at LOG_ERR, warnings at LOG_WARNING, with
 * HOMEOSTAT_CONFIG=path). */
void manager_log_diagnostics(const ReloadResult *r, const char *config_path);

/* Create the manager around a loaded configuration (ownership of config passes to the manager, also on
 * failure). Sets up sd_event_default() with the watchdog, signal handlers (SIGTERM/SIGINT stop, SIGHUP
 * reload; the caller has blocked them), the bus, curl, the evaluator (restoring learned state from the
 * state directory) and the timers. No sources and no API yet. */
int manager_new(const ManagerOptions *opts, Config *config, Manager **ret);

/* Start the API listeners and all sources, then send READY=1 and STATUS=. A source or listener that cannot
 * be set up is an error (the caller exits with 2). */
int manager_start(Manager *m);

/* Run the event loop until SIGTERM/SIGINT (or sd_event_exit()). Returns the loop's exit code. */
int manager_run(Manager *m);

/* STOPPING=1, then the final, synchronous state save (evaluator and extensions). */
int manager_stop(Manager *m);

Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Reload the configuration from opts.config_path. Returns 0 on success, or a negative errno with the old
 * configuration still running (-EINVAL invalid, -EPERM StrictModes, -EBUSY already reloading, other: a
 * system failure such as a source that cannot bind). *ret (may be NULL) describes the outcome. Logs the
 * outcome and every diagnostic. */
int manager_reload(Manager *m, ReloadResult *ret);

/* Save learned state now: asynchronously (forked writer) unless final. */
int manager_save_state(Manager *m, bool final);

/* ---- hooks ---- */

typedef void (*ManagerEvalHook)(Manager *m, const EvalRow *row, void *userdata);
void manager_set_eval_hook(Manager *m, ManagerEvalHook hook, void *userdata);

typedef struct ManagerExtension {
        /* After a successful reload has swapped in new_config (and its evaluator). old_config is valid
         * during the call and freed later: re-resolve Rule pointers by name here. */
        void (*config_changed)(Manager *m, const Config *old_config, const Config *new_config, void *userdata);
        /* Append a fragment to the STATUS= line, e.g. "2 open incidents" (no leading separator). */
        void (*status_summary)(Manager *m, StrBuf *out, void *userdata);
        /* Add members to the GET /api/v1/status object. */
        void (*status_json)(Manager *m, json_t *status, void *userdata);
        /* Append complete metric families (HELP, TYPE, samples) to /metrics. */
        void (*metrics)(Manager *m, StrBuf *out, void *userdata);
        /* Persist own state. final=false: periodic, must not block (StateSaver); final=true: at stop,
         * synchronous (state_saver_save_sync() or state_file_write_atomic()). */
        void (*save)(Manager *m, bool final, void *userdata);
} ManagerExtension;

#define MANAGER_EXTENSIONS_MAX 8
int manager_add_extension(Manager *m, const ManagerExtension *ext, void *userdata);

/* Recompute STATUS= and send it if it changed (call after incidents open or close). */
void manager_request_status_update(Manager *m);

/* ---- accessors ---- */

sd_event *manager_get_event(Manager *m);
sd_bus *manager_get_bus(Manager *m); /* NULL if no bus could be opened */
CurlGlue *manager_get_curl(Manager *m);
Api *manager_get_api(Manager *m); /* NULL without --api */
const Config *manager_get_config(Manager *m);
Evaluator *manager_get_evaluator(Manager *m);
int manager_get_state_dir_fd(Manager *m); /* -EBADF without a state directory */
bool manager_is_dry_run(Manager *m);
bool manager_is_user(Manager *m);

/* The loop lagged more than LOOP_LAG_THRESHOLD_USEC (1 s) within the last LOOP_LAG_WINDOW_USEC (10 s),
 * or is overdue by that much right now. */
bool manager_loop_lagging(Manager *m);
usec_t manager_loop_lag_usec(Manager *m);

/* Per-rule counts since start (carried across reloads by rule name). */
typedef struct RuleCounts {
        uint64_t firing;      /* series for which the rule fires now */
        uint64_t fired_total; /* EVAL_FIRING and EVAL_ABSENT transitions */
        uint64_t rows;        /* verdicts produced */
        uint64_t anomalous;   /* of which anomalous */
} RuleCounts;
int manager_get_rule_counts(Manager *m, size_t rule_index, RuleCounts *ret);

/* What the API serves, exposed for tests and the status page. */
json_t *manager_status_json(Manager *m);
int manager_metrics(Manager *m, StrBuf *out);
int manager_status_html(Manager *m, StrBuf *out);
/* The last MANAGER_RECENT_ROWS verdicts, oldest first, optionally only of one rule and/or series key:
 * {"verdicts": [{"rule", "series", "t", "value", "x", "score", "p", "expected", "lower", "upper",
 * "anomalous", "warming_up", "firing", "transition", "from_tick"}], "capacity"} (numbers without a value
 * are null). Served as GET /api/v1/verdicts?rule=NAME&series=KEY. */
json_t *manager_recent_verdicts_json(Manager *m, const char *rule, const char *series);
/* The STATUS= line. */
int manager_status_line(Manager *m, StrBuf *out);

/* Register GET /, GET /metrics, GET /api/v1/status, GET /api/v1/verdicts, POST /api/v1/reload on api. */
int manager_api_register(Manager *m, Api *api);

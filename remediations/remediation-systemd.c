/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * systemd actions over sd-bus, all asynchronous: restart, reload, try-restart, stop, start (jobs in mode
 * "replace", finished when JobRemoved names our job), kill (KillUnit, whom "all"), limit
 * (SetUnitProperties with runtime=true, previous values read first for the undo, new ones read back),
 * and the InvocationID lookup used to reconcile after a crash.
 *
 * Every unit action is the same small state machine:
 *
 *   LOAD (LoadUnit: name -> object path, loads a unit file that is not loaded yet)
 *     -> READ_BEFORE (GetAll with an empty interface: Unit and type-specific properties in one call)
 *     -> decide (unit_check(): go, skip with a reason, or fail) ; dry run ends here
 *     -> CALL (RestartUnit & co. -> job path | KillUnit | SetUnitProperties)
 *     -> WAIT_JOB (JobRemoved of that job, jobs only)
 *     -> READ_AFTER (InvocationID after a restart, values after a limit)
 *     -> finished
 *
 * The context subscribes once (Subscribe) and keeps one JobRemoved match; signals are routed to the
 * action whose job path they name. A signal that arrives before the method reply that tells us the job
 * path (systemd sends the reply first, but a bus between us is not bound to our assumption) is kept in
 * a small ring and matched when the reply comes.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "remediation-internal.h"
#include "util.h"

#define SYSTEMD_DEST "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define MANAGER_IFACE "org.freedesktop.systemd1.Manager"

/* ---- job tracking, per context ---- */

#define EARLY_JOBS_MAX 32
typedef struct EarlyJob {
        char *path;
        uint32_t id;
        char *result;
} EarlyJob;

typedef struct JobRing {
        EarlyJob items[EARLY_JOBS_MAX];
        size_t next;
} JobRing;

static JobRing *ring_of(RemediationCtx *c) {
        return (JobRing *) c->job_ring;
}

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        RemediationCtx *c = userdata;
        const char *path, *unit, *result;
        uint32_t id;

        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
                return 0;
        for (Action *a = c->actions; a; a = a->next)
                if (!a->finished && a->job_path && streq(a->job_path, path) && a->job_removed) {
                        void (*cb)(Action *, uint32_t, const char *) = a->job_removed;
                        a->job_removed = NULL;
                        cb(a, id, result);
                        return 0;
                }
        /* Nobody waits for it (yet): remember it briefly. */
        JobRing *ring = ring_of(c);
        EarlyJob *e = &ring->items[ring->next];
        free(e->path);
        free(e->result);
        e->path = strdup(path);
        e->result = strdup(result);
        e->id = id;
        ring->next = (ring->next + 1) % EARLY_JOBS_MAX;
        return 0;
}

static int on_subscribed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        RemediationCtx *c = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        c->subscribe_slot = sd_bus_slot_unref(c->subscribe_slot);
        /* AlreadySubscribed is fine: another part of the daemon subscribed on this connection. */
        if (e && !sd_bus_error_has_name(e, "org.freedesktop.systemd1.AlreadySubscribed"))
                c->subscribe_error = -sd_bus_error_get_errno(e) ?: -EIO;
        return 0;
}

int systemd_ctx_setup(RemediationCtx *c) {
        int r;

        if (!c->bus)
                return 0;
        c->job_ring = calloc(1, sizeof(JobRing));
        if (!c->job_ring)
                return -ENOMEM;
        /* On a direct connection (the manager's private socket) messages carry no sender. */
        r = sd_bus_match_signal_async(
                c->bus,
                &c->job_removed_slot,
                systemd_signal_sender(c),
                SYSTEMD_PATH,
                MANAGER_IFACE,
                "JobRemoved",
                on_job_removed,
                NULL,
                c);
        if (r < 0)
                return r;
        r = sd_bus_call_method_async(
                c->bus,
                &c->subscribe_slot,
                SYSTEMD_DEST,
                SYSTEMD_PATH,
                MANAGER_IFACE,
                "Subscribe",
                on_subscribed,
                c,
                NULL);
        if (r < 0)
                return r;
        return 0;
}

void systemd_ctx_done(RemediationCtx *c) {
        JobRing *ring = ring_of(c);

        c->job_removed_slot = sd_bus_slot_unref(c->job_removed_slot);
        c->subscribe_slot = sd_bus_slot_unref(c->subscribe_slot);
        if (ring) {
                for (size_t i = 0; i < EARLY_JOBS_MAX; i++) {
                        free(ring->items[i].path);
                        free(ring->items[i].result);
                }
                free(ring);
                c->job_ring = NULL;
        }
}

int action_wait_job(Action *a, const char *job_path, void (*cb)(Action *a, uint32_t id, const char *result)) {
        JobRing *ring = ring_of(a->ctx);

        free(a->job_path);
        a->job_path = strdup(job_path);
        if (!a->job_path)
                return -ENOMEM;
        a->job_removed = cb;
        for (size_t i = 0; ring && i < EARLY_JOBS_MAX; i++) {
                EarlyJob *e = &ring->items[i];
                if (e->path && streq(e->path, job_path)) {
                        _cleanup_free_ char *result = TAKE_PTR(e->result);
                        uint32_t id = e->id;
                        e->path = mfree(e->path);
                        a->job_removed = NULL;
                        cb(a, id, strempty(result));
                        break;
                }
        }
        return 0;
}

/* ---- bus helpers ---- */

int bus_reply_error(sd_bus_message *m, char **ret_text) {
        const sd_bus_error *e = sd_bus_message_get_error(m);
        int r;

        if (!e) {
                *ret_text = NULL;
                return 0;
        }
        r = sd_bus_error_get_errno(e);
        if (r <= 0)
                r = EIO;
        if (asprintf(ret_text, "%s", e->message ?: e->name ?: "unknown bus error") < 0)
                *ret_text = NULL;
        return -r;
}

bool bus_reply_begin(Action *a, sd_bus_slot **slot) {
        *slot = sd_bus_slot_unref(*slot);
        return !a->finished;
}

int bus_reply_object_path(sd_bus_message *m, char **ret_text, const char **ret_path) {
        int r = bus_reply_error(m, ret_text);
        return r < 0 ? r : sd_bus_message_read(m, "o", ret_path);
}

int bus_reply_unit_info(sd_bus_message *m, char **ret_text, UnitInfo *ret) {
        int r = bus_reply_error(m, ret_text);
        return r < 0 ? r : unit_info_from_message(m, ret);
}

int manager_call_oneway(RemediationCtx *c, const char *member, const char *types, ...) {
        va_list ap;
        int r;

        va_start(ap, types);
        r = sd_bus_call_method_asyncv(
                c->bus, NULL, SYSTEMD_DEST, SYSTEMD_PATH, MANAGER_IFACE, member, NULL, NULL, types, ap);
        va_end(ap);
        return r;
}

const char *systemd_signal_sender(RemediationCtx *c) {
        return sd_bus_is_bus_client(c->bus) > 0 ? SYSTEMD_DEST : NULL;
}

int unit_info_read(Action *a, sd_bus_slot **slot, const char *path, sd_bus_message_handler_t cb) {
        *slot = sd_bus_slot_unref(*slot);
        return sd_bus_call_method_async(
                a->ctx->bus, slot, SYSTEMD_DEST, path, "org.freedesktop.DBus.Properties", "GetAll", cb, a, "s", "");
}

int manager_call(
        Action *a, sd_bus_slot **slot, sd_bus_message_handler_t cb, const char *member, const char *types, ...) {
        va_list ap;
        int r;

        *slot = sd_bus_slot_unref(*slot);
        va_start(ap, types);
        r = sd_bus_call_method_asyncv(
                a->ctx->bus, slot, SYSTEMD_DEST, SYSTEMD_PATH, MANAGER_IFACE, member, cb, a, types, ap);
        va_end(ap);
        return r;
}

void unit_info_done(UnitInfo *i) {
        free(i->id);
        free(i->load_state);
        free(i->active_state);
        free(i->sub_state);
        free(i->result);
        free(i->load_error);
        free(i->job_type);
        *i = (UnitInfo){};
}

/* Read a variant whose contents must have signature sig; a property of another type is skipped (the
 * same name might mean something else on some interface). Returns 1 if read, 0 if skipped. */
static int read_variant(sd_bus_message *m, const char *sig, void *p1, void *p2) {
        const char *contents;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        if (type != 'v' || !streq(contents, sig))
                return sd_bus_message_skip(m, "v");
        r = sd_bus_message_enter_container(m, 'v', sig);
        if (r < 0)
                return r;
        if (streq(sig, "(uo)") || streq(sig, "(ss)"))
                r = sd_bus_message_read(m, sig, p1, p2);
        else if (streq(sig, "ay")) {
                const void *bytes;
                size_t n;
                r = sd_bus_message_read_array(m, 'y', &bytes, &n);
                if (r >= 0) {
                        sd_id128_t *id = p1;
                        *id = SD_ID128_NULL;
                        if (n == sizeof(sd_id128_t))
                                memcpy(id, bytes, n);
                }
        } else
                r = sd_bus_message_read(m, sig, p1);
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(m);
        return r < 0 ? r : 1;
}

static int read_string(sd_bus_message *m, char **ret) {
        const char *s = NULL;
        int r = read_variant(m, "s", &s, NULL);
        if (r <= 0)
                return r;
        free(*ret);
        *ret = strdup(s);
        return *ret ? 1 : -ENOMEM;
}

int unit_info_from_message(sd_bus_message *m, UnitInfo *ret) {
        UnitInfo i = {};
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *name;
                r = sd_bus_message_read(m, "s", &name);
                if (r < 0)
                        goto fail;
                if (streq(name, "Id"))
                        r = read_string(m, &i.id);
                else if (streq(name, "LoadState"))
                        r = read_string(m, &i.load_state);
                else if (streq(name, "ActiveState"))
                        r = read_string(m, &i.active_state);
                else if (streq(name, "SubState"))
                        r = read_string(m, &i.sub_state);
                else if (streq(name, "Result"))
                        r = read_string(m, &i.result);
                else if (streq(name, "Job")) {
                        const char *path = NULL;
                        r = read_variant(m, "(uo)", &i.job_id, &path);
                } else if (streq(name, "LoadError")) {
                        const char *ename = NULL, *emsg = NULL;
                        r = read_variant(m, "(ss)", &ename, &emsg);
                        if (r > 0 && emsg && emsg[0]) {
                                i.load_error = strdup(emsg);
                                if (!i.load_error)
                                        r = -ENOMEM;
                        }
                } else if (streq(name, "InvocationID"))
                        r = read_variant(m, "ay", &i.invocation_id, NULL);
                else if (streq(name, "NRestarts"))
                        r = read_variant(m, "u", &i.n_restarts, NULL);
                else if (streq(name, "MainPID"))
                        r = read_variant(m, "u", &i.main_pid, NULL);
                else if (streq(name, "ExecMainCode")) {
                        r = read_variant(m, "i", &i.exec_main_code, NULL);
                        if (r > 0)
                                i.has_exec_main = true;
                } else if (streq(name, "ExecMainStatus"))
                        r = read_variant(m, "i", &i.exec_main_status, NULL);
                else {
                        bool found = false;
                        for (unsigned k = 0; k < LIMIT_PROP_MAX; k++)
                                if (streq(name, limit_prop_name(k))) {
                                        uint64_t v;
                                        r = read_variant(m, "t", &v, NULL);
                                        if (r > 0)
                                                limit_set(&i.limits, k, v);
                                        found = true;
                                }
                        if (!found)
                                r = sd_bus_message_skip(m, "v");
                }
                if (r < 0)
                        goto fail;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        goto fail;
        }
        if (r < 0)
                goto fail;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                goto fail;
        if (!i.load_state || !i.active_state) {
                r = -EBADMSG;
                goto fail;
        }
        *ret = i;
        return 0;
fail:
        unit_info_done(&i);
        return r;
}

/* ---- policy: may we act on a unit in this state? ---- */

static bool is_one_of(const char *s, const char *const *list) {
        for (; *list; list++)
                if (streq_ptr(s, *list))
                        return true;
        return false;
}

static int reason(char **ret, const char *fmt, ...) _printf_(2, 3);
static int reason(char **ret, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(ret, fmt, ap) < 0)
                *ret = NULL;
        va_end(ap);
        return 0;
}

UnitCheck unit_check(ActionKind kind, const UnitInfo *i, char **ret_reason) {
        static const char *const transitional[] = {
                "activating", "deactivating", "reloading", "refreshing", NULL
        };
        bool running = is_one_of(i->active_state, (const char *const[]){ "active", "reloading", NULL });
        bool stopped_on_purpose = streq_ptr(i->active_state, "inactive") &&
                (!i->result || streq(i->result, "success"));

        *ret_reason = NULL;
        if (!streq_ptr(i->load_state, "loaded")) {
                if (streq_ptr(i->load_state, "not-found"))
                        reason(ret_reason, "does not exist (LoadState=not-found)");
                else
                        reason(ret_reason,
                               "is not loaded (LoadState=%s%s%s)",
                               strna(i->load_state),
                               i->load_error ? ": " : "",
                               strempty(i->load_error));
                return UNIT_CHECK_FAIL;
        }

        /* Starting again a unit that systemd refuses to start is a loop in the making: a human must look. */
        if (IN_SET_KIND(kind, ACTION_RESTART, ACTION_TRY_RESTART, ACTION_START, ACTION_RELOAD) &&
            streq_ptr(i->result, "start-limit-hit")) {
                reason(ret_reason, "start limit hit; escalate");
                return UNIT_CHECK_FAIL;
        }

        if (kind == ACTION_LIMIT) {
                if (!running && !is_one_of(i->active_state, transitional)) {
                        reason(ret_reason, "is not running (%s)", i->active_state);
                        return UNIT_CHECK_SKIP;
                }
                return UNIT_CHECK_GO;
        }

        if (i->job_id != 0) {
                reason(ret_reason, "has a job queued (job %" PRIu32 ")", i->job_id);
                return UNIT_CHECK_SKIP;
        }
        if (is_one_of(i->active_state, transitional)) {
                reason(ret_reason, "is %s (%s)", i->active_state, strna(i->sub_state));
                return UNIT_CHECK_SKIP;
        }

        switch (kind) {
        case ACTION_RESTART:
        case ACTION_TRY_RESTART:
                if (stopped_on_purpose) {
                        reason(ret_reason, "is stopped on purpose (inactive, no job)");
                        return UNIT_CHECK_SKIP;
                }
                return UNIT_CHECK_GO; /* active, or failed: that is what a restart is for */
        case ACTION_RELOAD:
        case ACTION_KILL:
                if (stopped_on_purpose) {
                        reason(ret_reason, "is stopped on purpose (inactive, no job)");
                        return UNIT_CHECK_SKIP;
                }
                if (!running) {
                        reason(ret_reason, "is not running (%s)", i->active_state);
                        return UNIT_CHECK_SKIP;
                }
                return UNIT_CHECK_GO;
        case ACTION_STOP:
                if (streq(i->active_state, "inactive")) {
                        reason(ret_reason, "is already stopped (inactive)");
                        return UNIT_CHECK_SKIP;
                }
                return UNIT_CHECK_GO;
        case ACTION_START:
                /* Starting a stopped unit is what a start step is declared for. */
                if (running) {
                        reason(ret_reason, "is already active (%s)", strna(i->sub_state));
                        return UNIT_CHECK_SKIP;
                }
                return UNIT_CHECK_GO;
        default:
                return UNIT_CHECK_GO;
        }
}

/* ---- the unit action state machine ---- */

typedef enum UnitPhase {
        UNIT_PHASE_LOAD,
        UNIT_PHASE_READ_BEFORE,
        UNIT_PHASE_CALL,
        UNIT_PHASE_WAIT_JOB,
        UNIT_PHASE_READ_AFTER,
        _UNIT_PHASE_MAX,
} UnitPhase;

static const char *const unit_phase_names[_UNIT_PHASE_MAX] = {
        [UNIT_PHASE_LOAD] = "loading the unit",
        [UNIT_PHASE_READ_BEFORE] = "reading the unit's state",
        [UNIT_PHASE_CALL] = "waiting for the service manager",
        [UNIT_PHASE_WAIT_JOB] = "waiting for the job",
        [UNIT_PHASE_READ_AFTER] = "reading the unit's new state",
};

typedef enum UnitOp {
        UNIT_OP_JOB, /* restart, reload, try-restart, stop, start */
        UNIT_OP_KILL,
        UNIT_OP_LIMIT,
        UNIT_OP_INVOCATION, /* read only */
} UnitOp;

typedef struct UnitAction {
        UnitOp op;
        UnitPhase phase;
        char *unit;
        char *path;
        int signal;
        sd_bus_slot *slot;
        UnitInfo before, after;
        uint32_t job_id;
        /* limit */
        LimitValues want;
        bool is_undo;
        bool set_sent; /* SetUnitProperties went out: from here on the undo data is needed */
} UnitAction;

static UnitAction *ua(Action *a) {
        return a->data;
}

static void unit_release(Action *a) {
        UnitAction *u = a->data;

        if (!u)
                return;
        sd_bus_slot_unref(u->slot);
        free(u->unit);
        free(u->path);
        unit_info_done(&u->before);
        unit_info_done(&u->after);
        free(u);
}

static void unit_timeout(Action *a) {
        UnitAction *u = ua(a);
        char buf[DURATION_MAX];

        if (u->phase == UNIT_PHASE_WAIT_JOB)
                action_finish(
                        a,
                        ACTION_OUTCOME_TIMED_OUT,
                        -ETIMEDOUT,
                        "%s of %s did not finish within %s (job %" PRIu32 " still queued or running)",
                        action_kind_name(a->kind),
                        u->unit,
                        format_duration(buf, sizeof(buf), a->timeout_usec),
                        u->job_id);
        else
                action_finish(
                        a,
                        ACTION_OUTCOME_TIMED_OUT,
                        -ETIMEDOUT,
                        "%s of %s timed out after %s while %s",
                        u->op == UNIT_OP_INVOCATION ? "reading InvocationID" : action_kind_name(a->kind),
                        u->unit,
                        format_duration(buf, sizeof(buf), a->timeout_usec),
                        unit_phase_names[u->phase]);
}

static const ActionOps unit_ops = {
        .name = "systemd",
        .release = unit_release,
        .timeout = unit_timeout,
};

typedef struct JobVerb {
        const char *method;
        const char *past;
        const char *verb;
} JobVerb;

static const JobVerb *job_verb(ActionKind k) {
        static const JobVerb table[] = {
                [ACTION_RESTART] = { "RestartUnit", "restarted", "restart" },
                [ACTION_RELOAD] = { "ReloadUnit", "reloaded", "reload" },
                [ACTION_TRY_RESTART] = { "TryRestartUnit", "restarted (try-restart)", "try-restart" },
                [ACTION_STOP] = { "StopUnit", "stopped", "stop" },
                [ACTION_START] = { "StartUnit", "started", "start" },
        };
        return (unsigned) k < ELEMENTSOF(table) && table[k].method ? &table[k] : NULL;
}

static void signal_name(int sig, char *buf, size_t len) {
        const char *abbrev = sigabbrev_np(sig);
        if (abbrev)
                (void) snprintf(buf, len, "SIG%s", abbrev);
        else
                (void) snprintf(buf, len, "signal %d", sig);
}

static void attr_invocation(Action *a, const char *key, sd_id128_t id) {
        char s[SD_ID128_STRING_MAX];
        if (!sd_id128_is_null(id))
                action_attr(a, key, "%s", sd_id128_to_string(id, s));
}

static void record_state(Action *a, const char *suffix, const UnitInfo *i) {
        char key[64];

        (void) snprintf(key, sizeof(key), "n_restarts%s", suffix);
        action_attr_u64(a, key, i->n_restarts);
        (void) snprintf(key, sizeof(key), "active_state%s", suffix);
        action_attr(a, key, "%s", strna(i->active_state));
        (void) snprintf(key, sizeof(key), "sub_state%s", suffix);
        action_attr(a, key, "%s", strna(i->sub_state));
        if (i->result) {
                (void) snprintf(key, sizeof(key), "unit_result%s", suffix);
                action_attr(a, key, "%s", i->result);
        }
        (void) snprintf(key, sizeof(key), "invocation_id%s", suffix);
        attr_invocation(a, key, i->invocation_id);
}

static int on_read_after(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);

/* The job ended. Read the unit once more (the new InvocationID of a restart) before reporting. */
static void on_job_done(Action *a, uint32_t id, const char *job_result) {
        UnitAction *u = ua(a);
        int r;

        action_attr(a, "job_result", "%s", job_result);
        u->phase = UNIT_PHASE_READ_AFTER;
        r = unit_info_read(a, &u->slot, u->path, on_read_after);
        if (r < 0)
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        r,
                        "%s of %s: job %" PRIu32 " %s, but the unit could not be read: %s",
                        action_kind_name(a->kind),
                        u->unit,
                        id,
                        job_result,
                        errno_text(r));
}

static void finish_job(Action *a, bool have_after) {
        UnitAction *u = ua(a);
        const JobVerb *v = job_verb(a->kind);
        const char *job_result = strna(action_result_attr(&a->result, "job_result"));

        if (have_after)
                record_state(a, "", &u->after);

        if (streq(job_result, "done")) {
                if (IN_SET_KIND(a->kind, ACTION_RESTART, ACTION_TRY_RESTART) && have_after &&
                    sd_id128_equal(u->before.invocation_id, u->after.invocation_id)) {
                        action_finish(
                                a,
                                ACTION_OUTCOME_FAILED,
                                -EIO,
                                "%s of %s: job %" PRIu32 " done, but the unit still has the same InvocationID",
                                v->verb,
                                u->unit,
                                u->job_id);
                        return;
                }
                action_finish(
                        a, ACTION_OUTCOME_SUCCEEDED, 0, "%s %s (job %" PRIu32 " done)", v->past, u->unit, u->job_id);
        } else if (streq(job_result, "skipped"))
                action_finish(
                        a,
                        ACTION_OUTCOME_SKIPPED,
                        0,
                        "skipped: the service manager did not %s %s (job %" PRIu32 " skipped)",
                        v->verb,
                        u->unit,
                        u->job_id);
        else if (streq(job_result, "timeout"))
                action_finish(
                        a,
                        ACTION_OUTCOME_TIMED_OUT,
                        -ETIMEDOUT,
                        "%s of %s timed out (job %" PRIu32 " timeout%s%s)",
                        v->verb,
                        u->unit,
                        u->job_id,
                        have_after && u->after.result ? "; unit result " : "",
                        have_after ? strempty(u->after.result) : "");
        else if (
                streq(job_result, "failed") &&
                IN_SET_KIND(a->kind, ACTION_RESTART, ACTION_TRY_RESTART, ACTION_START) && have_after &&
                sd_id128_equal(u->before.invocation_id, u->after.invocation_id)) {
                /* The manager refused before starting anything. systemd 252 keeps the first failure in
                 * Result= when a failing unit then hits its start limit, so this is how that shows. */
                action_attr(a, "start_refused", "true");
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        -EBUSY,
                        "%s of %s refused by the service manager (job %" PRIu32
                        " failed without a new invocation: start limit hit); escalate",
                        v->verb,
                        u->unit,
                        u->job_id);
        } else
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        -EIO,
                        "%s of %s failed (job %" PRIu32 " %s%s%s)",
                        v->verb,
                        u->unit,
                        u->job_id,
                        job_result,
                        have_after && u->after.result ? "; unit result " : "",
                        have_after ? strempty(u->after.result) : "");
}

static int on_job_queued(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Action *a = userdata;
        UnitAction *u = ua(a);
        _cleanup_free_ char *err = NULL;
        const char *job;
        int r;

        if (!bus_reply_begin(a, &u->slot))
                return 0;
        r = bus_reply_error(m, &err);
        if (r < 0) {
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        r,
                        "%s of %s refused by the service manager: %s",
                        job_verb(a->kind)->verb,
                        u->unit,
                        strna(err));
                return 0;
        }
        r = sd_bus_message_read(m, "o", &job);
        if (r < 0) {
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        r,
                        "%s of %s: unexpected reply from the service manager",
                        job_verb(a->kind)->verb,
                        u->unit);
                return 0;
        }
        /* The job id is the last path element (/org/freedesktop/systemd1/job/1234). */
        const char *slash = strrchr(job, '/');
        uint64_t id = 0;
        if (slash && safe_atou64(slash + 1, &id) >= 0 && id <= UINT32_MAX)
                u->job_id = (uint32_t) id;
        action_attr_u64(a, "job_id", u->job_id);
        u->phase = UNIT_PHASE_WAIT_JOB;
        r = action_wait_job(a, job, on_job_done);
        if (r < 0)
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        r,
                        "%s of %s: %s",
                        job_verb(a->kind)->verb,
                        u->unit,
                        errno_text(r));
        return 0;
}

static int on_killed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Action *a = userdata;
        UnitAction *u = ua(a);
        _cleanup_free_ char *err = NULL;
        char sig[32];
        int r;

        if (!bus_reply_begin(a, &u->slot))
                return 0;
        signal_name(u->signal, sig, sizeof(sig));
        r = bus_reply_error(m, &err);
        if (r < 0)
                action_finish(
                        a, ACTION_OUTCOME_FAILED, r, "sending %s to %s failed: %s", sig, u->unit, strna(err));
        else
                action_finish(a, ACTION_OUTCOME_SUCCEEDED, 0, "sent %s to all processes of %s", sig, u->unit);
        return 0;
}

/* ---- limit ---- */

int limit_values_format(const LimitValues *v, char **ret) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;

        for (unsigned i = 0; i < LIMIT_PROP_MAX; i++) {
                uint64_t x;
                if (!limit_get(v, i, &x))
                        continue;
                if (b.len > 0)
                        strbuf_putc(&b, ' ');
                switch (i) {
                case 0:
                        if (x == UINT64_MAX)
                                strbuf_puts(&b, "CPUQuota=infinity");
                        else if (x % 10000 == 0)
                                strbuf_printf(&b, "CPUQuota=%" PRIu64 "%%", x / 10000);
                        else
                                strbuf_printf(&b, "CPUQuota=%.2f%%", (double) x / 10000.0);
                        break;
                case 2:
                        if (x == UINT64_MAX)
                                strbuf_puts(&b, "IOWeight=default");
                        else
                                strbuf_printf(&b, "IOWeight=%" PRIu64, x);
                        break;
                default:
                        if (x == UINT64_MAX)
                                strbuf_printf(&b, "%s=infinity", limit_prop_name(i));
                        else
                                strbuf_printf(&b, "%s=%" PRIu64, limit_prop_name(i), x);
                        break;
                }
        }
        if (strbuf_failed(&b))
                return -ENOMEM;
        *ret = strbuf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

/* The previous values of exactly the properties we are about to set. */
static int limit_previous(const LimitValues *want, const LimitValues *current, LimitValues *ret) {
        LimitValues prev = {};

        for (unsigned i = 0; i < LIMIT_PROP_MAX; i++) {
                uint64_t w, c;
                if (!limit_get(want, i, &w))
                        continue;
                if (!limit_get(current, i, &c))
                        return -EOPNOTSUPP;
                limit_set(&prev, i, c);
        }
        *ret = prev;
        return 0;
}

static bool limit_matches(const LimitValues *want, const LimitValues *current) {
        for (unsigned i = 0; i < LIMIT_PROP_MAX; i++) {
                uint64_t w, c;
                if (limit_get(want, i, &w) && (!limit_get(current, i, &c) || c != w))
                        return false;
        }
        return true;
}

static void limit_attrs(Action *a, const char *prefix, const LimitValues *v) {
        for (unsigned i = 0; i < LIMIT_PROP_MAX; i++) {
                uint64_t x;
                char key[64];
                if (!limit_get(v, i, &x))
                        continue;
                (void) snprintf(key, sizeof(key), "%s%s", prefix, limit_prop_name(i));
                if (x == UINT64_MAX)
                        action_attr(a, key, "infinity");
                else
                        action_attr_u64(a, key, x);
        }
}

static int on_limit_verified(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Action *a = userdata;
        UnitAction *u = ua(a);
        _cleanup_free_ char *err = NULL, *want = NULL, *was = NULL, *now_s = NULL;
        LimitValues prev = {}, now_v = {};
        int r;

        if (!bus_reply_begin(a, &u->slot))
                return 0;
        r = bus_reply_unit_info(m, &err, &u->after);
        (void) limit_previous(&u->want, &u->before.limits, &prev);
        if (limit_values_format(&u->want, &want) < 0 || limit_values_format(&prev, &was) < 0) {
                action_finish(a, ACTION_OUTCOME_FAILED, -ENOMEM, "out of memory");
                return 0;
        }
        if (r < 0) {
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        r,
                        "set %s on %s, but could not read it back: %s",
                        want,
                        u->unit,
                        err ?: errno_text(r));
                return 0;
        }
        (void) limit_previous(&u->want, &u->after.limits, &now_v);
        limit_attrs(a, "", &now_v);
        if (!limit_matches(&u->want, &u->after.limits)) {
                (void) limit_values_format(&now_v, &now_s);
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        -EIO,
                        "set %s on %s, but it reads back %s",
                        want,
                        u->unit,
                        strna(now_s));
                return 0;
        }
        if (u->is_undo)
                action_finish(a, ACTION_OUTCOME_SUCCEEDED, 0, "restored %s on %s (was %s)", want, u->unit, was);
        else
                action_finish(a, ACTION_OUTCOME_SUCCEEDED, 0, "set %s on %s (was %s)", want, u->unit, was);
        return 0;
}

static int on_limit_set(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Action *a = userdata;
        UnitAction *u = ua(a);
        _cleanup_free_ char *err = NULL;
        int r;

        if (!bus_reply_begin(a, &u->slot))
                return 0;
        r = bus_reply_error(m, &err);
        if (r < 0) {
                /* The manager refused the whole call: nothing changed, nothing to undo. */
                if (!u->is_undo)
                        action_set_undo(a, NULL);
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        r,
                        "setting resource limits on %s failed: %s",
                        u->unit,
                        strna(err));
                return 0;
        }
        u->phase = UNIT_PHASE_READ_AFTER;
        r = unit_info_read(a, &u->slot, u->path, on_limit_verified);
        if (r < 0)
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        r,
                        "set limits on %s, but could not read them back: %s",
                        u->unit,
                        errno_text(r));
        return 0;
}

static int limit_call(Action *a) {
        UnitAction *u = ua(a);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(
                a->ctx->bus, &m, SYSTEMD_DEST, SYSTEMD_PATH, MANAGER_IFACE, "SetUnitProperties");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "sb", u->unit, 1);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r < 0)
                return r;
        for (unsigned i = 0; i < LIMIT_PROP_MAX; i++) {
                uint64_t v;
                if (!limit_get(&u->want, i, &v))
                        continue;
                r = sd_bus_message_append(m, "(sv)", limit_prop_name(i), "t", v);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        u->slot = sd_bus_slot_unref(u->slot);
        r = sd_bus_call_async(a->ctx->bus, &u->slot, m, on_limit_set, a, 0);
        if (r < 0)
                return r;
        u->set_sent = true;
        return 0;
}

static void limit_decide(Action *a) {
        UnitAction *u = ua(a);
        _cleanup_free_ char *want = NULL, *was = NULL;
        LimitValues prev;
        int r;

        r = limit_previous(&u->want, &u->before.limits, &prev);
        if (r < 0) {
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        r,
                        "%s has no such resource-control properties (%s)",
                        u->unit,
                        strna(u->before.id));
                return;
        }
        limit_attrs(a, "previous_", &prev);
        if (limit_values_format(&u->want, &want) < 0 || limit_values_format(&prev, &was) < 0) {
                action_finish(a, ACTION_OUTCOME_FAILED, -ENOMEM, "out of memory");
                return;
        }
        if (limit_matches(&u->want, &u->before.limits)) {
                action_finish(a, ACTION_OUTCOME_SKIPPED, 0, "skipped: %s already has %s", u->unit, want);
                return;
        }
        if (a->dry_run) {
                action_finish(
                        a,
                        ACTION_OUTCOME_SKIPPED,
                        0,
                        "would %s %s on %s (now %s)",
                        u->is_undo ? "restore" : "set",
                        want,
                        u->unit,
                        was);
                return;
        }
        if (!u->is_undo) {
                ActionUndo *undo;
                r = action_undo_new_limit(u->unit, &prev, a->timeout_usec, &undo);
                if (r < 0) {
                        action_finish(
                                a,
                                ACTION_OUTCOME_FAILED,
                                r,
                                "could not record the undo for %s: %s",
                                u->unit,
                                errno_text(r));
                        return;
                }
                /* Attached before the call: from the moment the call leaves, the values may have changed. */
                action_set_undo(a, undo);
        }
        u->phase = UNIT_PHASE_CALL;
        r = limit_call(a);
        if (r < 0) {
                action_set_undo(a, NULL);
                action_finish(
                        a, ACTION_OUTCOME_FAILED, r, "setting limits on %s failed: %s", u->unit, errno_text(r));
        }
}

/* ---- shared beginning: load, read, decide ---- */

static void invocation_finish(Action *a) {
        UnitAction *u = ua(a);

        if (!streq_ptr(u->before.load_state, "loaded")) {
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        -ENOENT,
                        "%s is not loaded (%s)",
                        u->unit,
                        strna(u->before.load_state));
                return;
        }
        action_attr(a, "active_state", "%s", u->before.active_state);
        attr_invocation(a, "invocation_id", u->before.invocation_id);
        action_finish(a, ACTION_OUTCOME_SUCCEEDED, 0, "read InvocationID of %s", u->unit);
}

static void job_call(Action *a) {
        UnitAction *u = ua(a);
        const JobVerb *v = job_verb(a->kind);
        char sig[32];
        int r;

        if (a->dry_run) {
                if (u->op == UNIT_OP_KILL) {
                        signal_name(u->signal, sig, sizeof(sig));
                        action_finish(
                                a,
                                ACTION_OUTCOME_SKIPPED,
                                0,
                                "would send %s to all processes of %s (now %s/%s)",
                                sig,
                                u->unit,
                                u->before.active_state,
                                strna(u->before.sub_state));
                } else
                        action_finish(
                                a,
                                ACTION_OUTCOME_SKIPPED,
                                0,
                                "would %s %s (now %s/%s)",
                                v->verb,
                                u->unit,
                                u->before.active_state,
                                strna(u->before.sub_state));
                return;
        }
        if (a->ctx->subscribe_error < 0) {
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        a->ctx->subscribe_error,
                        "cannot follow jobs: subscribing to the service manager failed: %s",
                        errno_text(a->ctx->subscribe_error));
                return;
        }
        u->phase = UNIT_PHASE_CALL;
        if (u->op == UNIT_OP_KILL) {
                signal_name(u->signal, sig, sizeof(sig));
                action_attr(a, "signal", "%s", sig);
                action_attr(a, "whom", "all");
                r = manager_call(
                        a, &u->slot, on_killed, "KillUnit", "ssi", u->unit, "all", (int32_t) u->signal);
        } else
                r = manager_call(a, &u->slot, on_job_queued, v->method, "ss", u->unit, "replace");
        if (r < 0)
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        r,
                        "%s of %s could not be sent: %s",
                        action_kind_name(a->kind),
                        u->unit,
                        errno_text(r));
}

static int on_read_before(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Action *a = userdata;
        UnitAction *u = ua(a);
        _cleanup_free_ char *err = NULL, *why = NULL;
        int r;

        if (!bus_reply_begin(a, &u->slot))
                return 0;
        r = bus_reply_unit_info(m, &err, &u->before);
        if (r < 0) {
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        r,
                        "could not read the state of %s: %s",
                        u->unit,
                        err ?: errno_text(r));
                return 0;
        }
        if (u->op == UNIT_OP_INVOCATION) {
                invocation_finish(a);
                return 0;
        }
        record_state(a, "_before", &u->before);

        if (u->is_undo && !streq_ptr(u->before.load_state, "loaded")) {
                action_finish(
                        a,
                        ACTION_OUTCOME_SKIPPED,
                        0,
                        "skipped: %s no longer exists (%s); nothing to restore",
                        u->unit,
                        strna(u->before.load_state));
                return 0;
        }
        if (!u->is_undo)
                switch (unit_check(a->kind, &u->before, &why)) {
                case UNIT_CHECK_FAIL:
                        if (streq_ptr(u->before.load_state, "loaded"))
                                action_finish(
                                        a,
                                        ACTION_OUTCOME_FAILED,
                                        -EBUSY,
                                        "%s of %s refused: %s",
                                        action_kind_name(a->kind),
                                        u->unit,
                                        strna(why));
                        else
                                action_finish(
                                        a,
                                        ACTION_OUTCOME_FAILED,
                                        -ENOENT,
                                        "%s of %s failed: %s %s",
                                        action_kind_name(a->kind),
                                        u->unit,
                                        u->unit,
                                        strna(why));
                        return 0;
                case UNIT_CHECK_SKIP:
                        action_finish(a, ACTION_OUTCOME_SKIPPED, 0, "skipped: %s %s", u->unit, strna(why));
                        return 0;
                case UNIT_CHECK_GO:
                        break;
                }

        if (u->op == UNIT_OP_LIMIT)
                limit_decide(a);
        else
                job_call(a);
        return 0;
}

static int on_read_after(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Action *a = userdata;
        UnitAction *u = ua(a);
        _cleanup_free_ char *err = NULL;
        int r;

        if (!bus_reply_begin(a, &u->slot))
                return 0;
        r = bus_reply_unit_info(m, &err, &u->after);
        /* A stopped transient unit is gone by now; the job result is what counts. */
        finish_job(a, r >= 0);
        return 0;
}

static int on_loaded(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Action *a = userdata;
        UnitAction *u = ua(a);
        _cleanup_free_ char *err = NULL;
        const char *path;
        int r;

        if (!bus_reply_begin(a, &u->slot))
                return 0;
        r = bus_reply_object_path(m, &err, &path);
        if (r < 0) {
                if (u->op == UNIT_OP_INVOCATION)
                        action_finish(
                                a,
                                ACTION_OUTCOME_FAILED,
                                r,
                                "could not load %s: %s",
                                u->unit,
                                err ?: errno_text(r));
                else
                        action_finish(
                                a,
                                ACTION_OUTCOME_FAILED,
                                r,
                                "%s of %s failed: %s",
                                action_kind_name(a->kind),
                                u->unit,
                                err ?: errno_text(r));
                return 0;
        }
        u->path = strdup(path);
        if (!u->path) {
                action_finish(a, ACTION_OUTCOME_FAILED, -ENOMEM, "out of memory");
                return 0;
        }
        u->phase = UNIT_PHASE_READ_BEFORE;
        r = unit_info_read(a, &u->slot, u->path, on_read_before);
        if (r < 0)
                action_finish(
                        a, ACTION_OUTCOME_FAILED, r, "could not read the state of %s: %s", u->unit, errno_text(r));
        return 0;
}

static int unit_begin(Action *a, UnitOp op, const char *unit) {
        UnitAction *u;

        a->ops = &unit_ops;
        if (!a->ctx->bus) {
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        -ENOTCONN,
                        "%s of %s: no connection to the service manager",
                        action_kind_name(a->kind),
                        unit);
                return 0;
        }
        u = calloc(1, sizeof(*u));
        if (!u)
                return -ENOMEM;
        a->data = u;
        u->op = op;
        u->unit = strdup(unit);
        if (!u->unit)
                return -ENOMEM;
        u->phase = UNIT_PHASE_LOAD;
        if (op != UNIT_OP_INVOCATION)
                action_attr(a, "unit", "%s", unit);
        return manager_call(a, &u->slot, on_loaded, "LoadUnit", "s", unit);
}

int systemd_unit_action_start(Action *a, const char *unit, int signal) {
        UnitOp op = a->kind == ACTION_KILL ? UNIT_OP_KILL : UNIT_OP_JOB;
        int r;

        if (op == UNIT_OP_JOB && !job_verb(a->kind))
                return -EINVAL;
        r = unit_begin(a, op, unit);
        if (r < 0 || !a->data)
                return r;
        ua(a)->signal = signal;
        return 0;
}

int systemd_limit_start(Action *a, const char *unit, const LimitValues *v, bool is_undo) {
        int r;

        r = unit_begin(a, UNIT_OP_LIMIT, unit);
        if (r < 0 || !a->data)
                return r;
        ua(a)->want = *v;
        ua(a)->is_undo = is_undo;
        return 0;
}

int systemd_invocation_start(Action *a, const char *unit) {
        return unit_begin(a, UNIT_OP_INVOCATION, unit);
}

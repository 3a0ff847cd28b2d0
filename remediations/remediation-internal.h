/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What the action families (systemd, exec, haproxy, redis/memcached, http) share: the Action object and
 * its life cycle, result building, and each family's entry point. Not for use outside remediations/
 * (and its unit tests).
 *
 * Life cycle of an Action: action_new() links it into the context, arms its deadline and prepares a
 * (disabled) defer source. The family runs its small state machine through asynchronous calls; each
 * handler first checks a->finished and ignores late events. action_finish() records the result exactly
 * once and arms the defer source; from there, at the top of the loop (never inside a library callback
 * such as hiredis' or curl's), the family's release() drops its resources, the caller's callback runs, and
 * the Action is freed. remediation_cancel() does the same without the callback.
 */
#pragma once

#include <stdarg.h>

#include "remediation.h"
#include "sock-request.h"
#include "strbuf.h"

typedef struct ActionOps {
        const char *name;
        /* Drop every resource the family holds. Called once; must cope with a half set-up state. */
        void (*release)(Action *a);
        /* The deadline passed while the action was still running. NULL: finish as timed out with
         * a generic sentence. */
        void (*timeout)(Action *a);
} ActionOps;

typedef struct ChildWatch ChildWatch;
typedef struct UnitInfo UnitInfo;

struct RemediationCtx {
        sd_event *event;
        sd_bus *bus;
        CurlGlue *curl;
        RemediationFlags flags;
        Action *actions; /* in flight, doubly linked */
        size_t n_actions;
        sd_bus_slot *job_removed_slot;
        sd_bus_slot *subscribe_slot;
        int subscribe_error; /* Subscribe failed: no JobRemoved will ever arrive */
        void *job_ring;      /* JobRemoved signals that arrived before their method reply */
        ChildWatch *orphans; /* exec children killed after their action ended, not reaped yet */
};

struct Action {
        RemediationCtx *ctx;
        Action *prev, *next;
        const ActionOps *ops;
        void *data; /* the family's state; release() frees it */
        ActionKind kind;
        bool dry_run;
        bool finished; /* result recorded or cancelled: ignore late events */
        bool released;
        bool delivering; /* the caller's callback is running; the Action is freed right after */
        bool oom;        /* an attribute could not be recorded */
        ActionDoneCallback cb;
        UnitInvocationCallback invocation_cb;
        void *userdata;
        sd_event_source *timer;
        sd_event_source *deliver;
        usec_t timeout_usec;
        ActionResult result;

        /* systemd: the job we wait for. JobRemoved signals are matched on the path. */
        char *job_path;
        void (*job_removed)(Action *a, uint32_t id, const char *job_result);
};

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

#define IN_SET_KIND(x, ...)                                        \
        __extension__({                                            \
                const ActionKind _x = (x), _l[] = { __VA_ARGS__ }; \
                bool _found = false;                               \
                for (size_t _i = 0; _i < ELEMENTSOF(_l); _i++)     \
                        if (_l[_i] == _x)                          \
                                _found = true;                     \
                _found;                                            \
        })

int action_new(RemediationCtx *c, ActionKind kind, const ActionOps *ops, usec_t timeout_usec, Action **ret);
/* Record the result (once; later calls are ignored) and schedule delivery. */
void action_finish(Action *a, ActionOutcome o, int error, const char *fmt, ...) _printf_(4, 5);
void action_finishv(Action *a, ActionOutcome o, int error, const char *fmt, va_list ap) _printf_(4, 0);
void action_set_target(Action *a, const char *target);
void action_attr(Action *a, const char *key, const char *fmt, ...) _printf_(3, 4);
void action_attr_u64(Action *a, const char *key, uint64_t v);
void action_attr_i64(Action *a, const char *key, int64_t v);
/* Attach undo data (takes ownership; replaces earlier data). */
void action_set_undo(Action *a, ActionUndo *u);
const char *action_kind_name(ActionKind k);
/* An errno as a short text ("Connection refused"), without touching errno. */
const char *errno_text(int error);

/* ---- undo data (remediation-undo.c) ---- */

typedef enum UndoKind {
        UNDO_HAPROXY,
        UNDO_LIMIT,
        _UNDO_KIND_MAX,
} UndoKind;

/* Resource-control values of a unit as the bus carries them; UINT64_MAX is "infinity" / "not set". */
typedef struct LimitValues {
        bool has_cpu_quota, has_memory_high, has_io_weight, has_tasks_max;
        uint64_t cpu_quota_per_sec_usec;
        uint64_t memory_high_bytes;
        uint64_t io_weight;
        uint64_t tasks_max;
} LimitValues;

struct ActionUndo {
        UndoKind kind;
        char *target;        /* the target key */
        usec_t timeout_usec; /* 0: the default for the kind */
        /* haproxy */
        char *socket, *address;
        char *server;       /* backend/server */
        HaproxyState state; /* NONE when the weight is restored */
        int weight;         /* -1 when the state is restored */
        /* limit */
        char *unit;
        LimitValues limits;
};

int action_undo_new_haproxy(
        const char *socket,
        const char *address,
        const char *server,
        HaproxyState state,
        int weight,
        usec_t timeout_usec,
        ActionUndo **ret);
int action_undo_new_limit(const char *unit, const LimitValues *v, usec_t timeout_usec, ActionUndo **ret);
int target_key_haproxy(const SockAddress *a, const char *server, char **ret);

/* The properties by index 0..LIMIT_PROP_MAX-1: CPUQuotaPerSecUSec, MemoryHigh, IOWeight, TasksMax. */
#define LIMIT_PROP_MAX 4U
const char *limit_prop_name(unsigned i);
/* Whether property i is set in v, and its value. */
bool limit_get(const LimitValues *v, unsigned i, uint64_t *ret);
void limit_set(LimitValues *v, unsigned i, uint64_t value);
/* "CPUQuota=50% TasksMax=20" for the values that are set. */
int limit_values_format(const LimitValues *v, char **ret);

/* Move the deadline to timeout_usec from now. */
int action_set_deadline(Action *a, usec_t timeout_usec);

/* ---- systemd plumbing shared by remediation-systemd.c and remediation-exec.c ---- */

/* Wait for JobRemoved of job_path; cb runs once with the job id and result. */
int action_wait_job(Action *a, const char *job_path, void (*cb)(Action *a, uint32_t id, const char *result));
/* 0 if the reply is not an error; else the negative errno and the bus error's message in *ret_text. */
int bus_reply_error(sd_bus_message *m, char **ret_text);
/* The start of every method reply handler: the call's slot is spent, and an action that has finished
 * meanwhile (deadline, cancel) ignores the late reply. True when the handler should go on. */
bool bus_reply_begin(Action *a, sd_bus_slot **slot);
/* A reply carrying one object path (LoadUnit, RestartUnit & co., StartTransientUnit): 0 and *ret_path, or
 * the bus error (with its message in *ret_text) or the error reading it. */
int bus_reply_object_path(sd_bus_message *m, char **ret_text, const char **ret_path);
/* A reply to unit_info_read(): 0 and the unit's state in *ret, or as above. */
int bus_reply_unit_info(sd_bus_message *m, char **ret_text, UnitInfo *ret);
/* GetAll(path, "") with cb(userdata = a); replaces whatever *slot held. */
int unit_info_read(Action *a, sd_bus_slot **slot, const char *path, sd_bus_message_handler_t cb);
/* A Manager method call with cb(userdata = a); replaces whatever *slot held. */
int manager_call(
        Action *a, sd_bus_slot **slot, sd_bus_message_handler_t cb, const char *member, const char *types, ...);
/* Fire and forget: the reply is ignored. */
int manager_call_oneway(RemediationCtx *c, const char *member, const char *types, ...);
/* The sender to match signals from: the manager's well-known name on a bus, nobody on a direct
 * connection (there messages carry no sender). */
const char *systemd_signal_sender(RemediationCtx *c);

/* Set up the context's systemd plumbing (JobRemoved match, Subscribe); no-op without a bus. */
int systemd_ctx_setup(RemediationCtx *c);
void systemd_ctx_done(RemediationCtx *c);

/* ---- families: each finishes the action itself on failure; a negative return means the action could
 * not be started and the dispatcher finishes it as failed with that error. ---- */

/* restart, reload, try-restart, stop, start, kill. */
int systemd_unit_action_start(Action *a, const char *unit, int signal);
/* limit (and its undo, with is_undo set and the previous values). */
int systemd_limit_start(Action *a, const char *unit, const LimitValues *v, bool is_undo);
int systemd_invocation_start(Action *a, const char *unit);

typedef struct ExecSpec {
        char **argv; /* NULL-terminated, owned */
        char **env;  /* NULL-terminated "K=V", owned */
        char *rule;  /* for the transient unit's description, may be NULL */
} ExecSpec;
void exec_spec_done(ExecSpec *s);
/* Takes ownership of the spec's contents. */
int exec_start(Action *a, ExecSpec *spec);
/* Forget orphaned children (reaping those already gone, never waiting). */
void exec_ctx_done(RemediationCtx *c);

int haproxy_start(
        Action *a, const SockAddress *addr, const char *server, HaproxyState state, int weight, bool is_undo);
int redis_start(Action *a, const SockAddress *addr, unsigned db, const char *pattern);
int memcached_start(Action *a, const SockAddress *addr);

typedef struct HttpSpec {
        char *method;
        char *url;
        char **header_lines; /* "Name: value", NULL-terminated */
        char *body;          /* NULL: none */
        unsigned *expect;
        size_t n_expect;
} HttpSpec;
void http_spec_done(HttpSpec *s);
int http_start(Action *a, HttpSpec *spec);

/* ---- pure helpers, exported for unit tests ---- */

/* The unit's state as read from the bus (GetAll with an empty interface: all interfaces at once). */
struct UnitInfo {
        char *id, *load_state, *active_state, *sub_state, *result, *load_error;
        uint32_t job_id;
        char *job_type;
        sd_id128_t invocation_id;
        uint32_t n_restarts;
        uint32_t main_pid;
        int32_t exec_main_code, exec_main_status;
        bool has_exec_main;
        LimitValues limits; /* has_* say which properties the unit type has */
};
void unit_info_done(UnitInfo *i);
int unit_info_from_message(sd_bus_message *m, UnitInfo *ret);

typedef enum UnitCheck {
        UNIT_CHECK_GO,
        UNIT_CHECK_SKIP,
        UNIT_CHECK_FAIL,
} UnitCheck;
/* Whether a unit in this state may be acted upon, and why not (a sentence without the unit name). */
UnitCheck unit_check(ActionKind kind, const UnitInfo *i, char **ret_reason);

/* HAProxy `show servers state` parsing: admin flags and weight of one server. -ENOENT if absent,
 * -EBADMSG for output that is not the format (version 1). */
typedef struct HaproxyServerState {
        unsigned op_state;
        unsigned admin_state;
        unsigned uweight;
} HaproxyServerState;
int haproxy_parse_servers_state(const char *reply, const char *server, HaproxyServerState *ret);
HaproxyState haproxy_state_from_admin(unsigned admin_state);
const char *haproxy_state_name(HaproxyState s);
/* A reply to a `set` command is an error when it contains anything but whitespace; returns the first
 * line of it (static-free: caller frees) or NULL for success. */
char *haproxy_reply_error(const char *reply);
bool haproxy_server_name_valid(const char *s);

/* The URL without credentials, query or fragment, for messages: "http://host:port/path" plus "?…" when
 * a query was dropped. */
int url_redact(const char *url, char **ret);
/* At most max bytes of text with control characters and invalid UTF-8 turned into '?', newlines into
 * spaces, and "…" appended when cut. */
char *text_excerpt(const char *s, size_t len, size_t max);
bool http_header_name_valid(const char *s);
bool http_method_valid(const char *s);

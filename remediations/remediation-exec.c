/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * exec steps: run an argv (no shell) and report how it ended.
 *
 * With a bus the command runs as a transient service unit of the service manager
 * (StartTransientUnit, Type=exec, RemainAfterExit=yes so that the exit status can still be read,
 * RuntimeMaxSec= the step's timeout, TimeoutStopSec=5s, Environment= only the documented HOMEOSTAT_*
 * variables). It thereby runs outside the daemon's sandbox and process tree, its output goes to the
 * journal, and systemd kills it at its timeout. States:
 *
 *   START (StartTransientUnit -> job) -> WAIT_JOB (JobRemoved) -> RUNNING (GetAll after every
 *   PropertiesChanged of the unit until it has exited or failed) -> CLEANUP (StopUnit or
 *   ResetFailedUnit, so the unit is garbage-collected) -> finished
 *
 * Without a bus (the context was created with bus == NULL) the command is a direct child: its own
 * session and process group, stdin on /dev/null, stdout and stderr inherited, every other fd closed,
 * signal mask and dispositions reset, environment only PATH and HOMEOSTAT_*. At the timeout the group
 * gets SIGTERM, 5 s later SIGKILL. An exec failure in the child travels back through a close-on-exec pipe.
 * sd_event_add_child() needs SIGCHLD blocked by the caller.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "remediation-internal.h"

#define EXEC_STOP_TIMEOUT_USEC (5 * USEC_PER_SEC)
#define EXEC_DEADLINE_MARGIN_USEC (5 * USEC_PER_SEC)
#define EXEC_CHILD_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

typedef enum ExecPhase {
        EXEC_PHASE_START,
        EXEC_PHASE_WAIT_JOB,
        EXEC_PHASE_RUNNING,
        EXEC_PHASE_CLEANUP,
        EXEC_PHASE_CHILD_RUNNING,
        EXEC_PHASE_CHILD_TERMINATING,
        _EXEC_PHASE_MAX,
} ExecPhase;

/* The sd-event child source of a direct child, and who cares about it: the action, or nobody any more
 * (an orphan: the action was cancelled or gave up after SIGKILL). Orphans stay on the context until the
 * kernel lets us reap them, so that no waitid() ever blocks the loop. */
struct ChildWatch {
        ChildWatch *next; /* in the context's orphan list */
        Action *action;   /* NULL once orphaned */
        RemediationCtx *ctx;
        sd_event_source *source;
        pid_t pid;
};

typedef struct ExecAction {
        ExecPhase phase;
        ExecSpec spec;
        char *command; /* argv joined, for messages */
        usec_t timeout_usec;

        /* transient unit */
        char *unit;
        char *path;
        sd_bus_slot *slot;
        sd_bus_slot *props_slot;
        bool reading, reread;
        bool job_failed;
        UnitInfo info;
        ActionOutcome outcome; /* decided before CLEANUP, reported after */
        int error;
        char *message;

        /* direct child */
        pid_t pid;
        int errpipe;
        ChildWatch *watch;
        sd_event_source *kill_timer;
        bool timed_out;
        bool sigkill_sent;
} ExecAction;

void exec_spec_done(ExecSpec *s) {
        strv_free(s->argv);
        strv_free(s->env);
        free(s->rule);
        *s = (ExecSpec){};
}

static ExecAction *ea(Action *a) {
        return a->data;
}

static void exec_release(Action *a) {
        ExecAction *e = a->data;

        if (!e)
                return;
        sd_bus_slot_unref(e->slot);
        sd_bus_slot_unref(e->props_slot);
        if (e->watch && e->watch->source && e->watch->pid > 0) {
                /* Still running: kill the whole process group and leave the reaping to the context. */
                (void) kill(-e->watch->pid, SIGKILL);
                e->watch->action = NULL;
                e->watch->next = a->ctx->orphans;
                a->ctx->orphans = e->watch;
        } else if (e->watch) {
                sd_event_source_disable_unref(e->watch->source);
                free(e->watch);
        }
        sd_event_source_disable_unref(e->kill_timer);
        safe_close(e->errpipe);
        exec_spec_done(&e->spec);
        free(e->command);
        free(e->unit);
        free(e->path);
        free(e->message);
        unit_info_done(&e->info);
        free(e);
}

/* The command as messages show it: arguments that are URLs lose their credentials and query (a token
 * passed on a command line must not end up in the journal), control characters become '?', and a long
 * command is cut. */
static char *join_argv(char **argv) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;

        for (char **p = argv; *p; p++) {
                _cleanup_free_ char *redacted = NULL;
                if (p != argv)
                        strbuf_putc(&b, ' ');
                if (strstr(*p, "://"))
                        strbuf_puts(&b, url_redact(*p, &redacted) >= 0 ? redacted : "(url)");
                else
                        strbuf_puts(&b, *p);
        }
        if (strbuf_failed(&b))
                return NULL;
        return text_excerpt(b.data, b.len, 200);
}

/* ---- transient unit ---- */

static void exec_unit_timeout(Action *a) {
        ExecAction *e = ea(a);
        char buf[DURATION_MAX];

        /* RuntimeMaxSec= should have ended it already: the manager did not; force it. */
        if (e->unit) {
                (void) manager_call_oneway(a->ctx, "KillUnit", "ssi", e->unit, "all", (int32_t) SIGKILL);
                (void) manager_call_oneway(a->ctx, "StopUnit", "ss", e->unit, "replace");
        }
        action_attr(a, "timed_out", "true");
        action_finish(
                a,
                ACTION_OUTCOME_TIMED_OUT,
                -ETIMEDOUT,
                "%s (%s) did not end within %s; killed",
                e->command,
                strna(e->unit),
                format_duration(buf, sizeof(buf), e->timeout_usec));
}

static const ActionOps exec_unit_ops = {
        .name = "exec-unit",
        .release = exec_release,
        .timeout = exec_unit_timeout,
};

static int on_cleaned_up(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Action *a = userdata;
        ExecAction *e = ea(a);
        _cleanup_free_ char *err = NULL;
        int r;

        if (!bus_reply_begin(a, &e->slot))
                return 0;
        r = bus_reply_error(m, &err);
        if (r < 0)
                action_finish(
                        a,
                        e->outcome == ACTION_OUTCOME_SUCCEEDED ? ACTION_OUTCOME_FAILED : e->outcome,
                        r,
                        "%s (and %s could not be cleaned up: %s)",
                        e->message,
                        e->unit,
                        strna(err));
        else
                action_finish(a, e->outcome, e->error, "%s", e->message);
        return 0;
}

static void exec_conclude(Action *a) {
        ExecAction *e = ea(a);
        const UnitInfo *i = &e->info;
        const char *result = strna(i->result);
        char sig[32] = "";
        char buf[DURATION_MAX];
        int k, r;

        action_attr(a, "unit_result", "%s", result);
        if (i->has_exec_main) {
                if (i->exec_main_code == CLD_EXITED) {
                        action_attr(a, "exit_code", "exited");
                        action_attr_i64(a, "exit_status", i->exec_main_status);
                } else if (i->exec_main_code == CLD_KILLED || i->exec_main_code == CLD_DUMPED) {
                        const char *abbrev = sigabbrev_np(i->exec_main_status);
                        (void) snprintf(sig, sizeof(sig), "SIG%s", abbrev ?: "?");
                        action_attr(a, "exit_code", i->exec_main_code == CLD_KILLED ? "killed" : "dumped");
                        action_attr(a, "exit_signal", "%s", sig);
                }
        }

        if (streq(result, "timeout")) {
                e->outcome = ACTION_OUTCOME_TIMED_OUT;
                e->error = -ETIMEDOUT;
                k = asprintf(
                        &e->message,
                        "%s was killed at its timeout of %s (%s)",
                        e->command,
                        format_duration(buf, sizeof(buf), e->timeout_usec),
                        e->unit);
        } else if (streq(result, "success") && !e->job_failed) {
                e->outcome = ACTION_OUTCOME_SUCCEEDED;
                k = asprintf(&e->message, "%s exited with status 0 (%s)", e->command, e->unit);
        } else if (i->has_exec_main && i->exec_main_code == CLD_EXITED && i->exec_main_status == 203) {
                e->outcome = ACTION_OUTCOME_FAILED;
                e->error = -ENOEXEC;
                k = asprintf(
                        &e->message, "%s could not be executed (status 203/EXEC, %s)", e->spec.argv[0], e->unit);
        } else if (i->has_exec_main && i->exec_main_code == CLD_EXITED && !streq(result, "success")) {
                e->outcome = ACTION_OUTCOME_FAILED;
                e->error = -EIO;
                k = asprintf(
                        &e->message,
                        "%s exited with status %" PRIi32 " (%s)",
                        e->command,
                        i->exec_main_status,
                        e->unit);
        } else if (sig[0]) {
                e->outcome = ACTION_OUTCOME_FAILED;
                e->error = -EIO;
                k = asprintf(&e->message, "%s was killed by %s (%s)", e->command, sig, e->unit);
        } else {
                e->outcome = ACTION_OUTCOME_FAILED;
                e->error = -EIO;
                k = asprintf(
                        &e->message,
                        "%s failed: unit result %s%s (%s)",
                        e->command,
                        result,
                        e->job_failed ? ", start job failed" : "",
                        e->unit);
        }
        if (k < 0) {
                e->message = NULL;
                action_finish(a, ACTION_OUTCOME_FAILED, -ENOMEM, "out of memory");
                return;
        }

        /* Let the manager forget the unit: stop it if it is still active (exited, RemainAfterExit=yes),
         * reset it if it failed. */
        e->phase = EXEC_PHASE_CLEANUP;
        e->props_slot = sd_bus_slot_unref(e->props_slot);
        if (streq_ptr(i->active_state, "failed"))
                r = manager_call(a, &e->slot, on_cleaned_up, "ResetFailedUnit", "s", e->unit);
        else if (streq_ptr(i->active_state, "inactive"))
                r = 0;
        else
                r = manager_call(a, &e->slot, on_cleaned_up, "StopUnit", "ss", e->unit, "replace");
        if (r < 0)
                action_finish(
                        a,
                        e->outcome == ACTION_OUTCOME_SUCCEEDED ? ACTION_OUTCOME_FAILED : e->outcome,
                        r,
                        "%s (and %s could not be cleaned up: %s)",
                        e->message,
                        e->unit,
                        errno_text(r));
        else if (!e->slot)
                action_finish(a, e->outcome, e->error, "%s", e->message);
}

static int exec_read(Action *a);

static void fail_read(Action *a, int r, const char *bus_error) {
        ExecAction *e = ea(a);
        action_finish(
                a,
                ACTION_OUTCOME_FAILED,
                r,
                "%s: could not read %s: %s",
                e->command,
                e->unit,
                bus_error ?: errno_text(r));
}

static int on_exec_read(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Action *a = userdata;
        ExecAction *e = ea(a);
        _cleanup_free_ char *err = NULL;
        int r;

        e->reading = false;
        if (!bus_reply_begin(a, &e->slot))
                return 0;
        unit_info_done(&e->info);
        r = bus_reply_unit_info(m, &err, &e->info);
        if (r < 0) {
                fail_read(a, r, err);
                return 0;
        }
        bool ended = streq(e->info.active_state, "failed") || streq(e->info.active_state, "inactive") ||
                (streq(e->info.active_state, "active") && streq_ptr(e->info.sub_state, "exited"));
        if (ended) {
                exec_conclude(a);
                return 0;
        }
        if (e->reread) {
                e->reread = false;
                r = exec_read(a);
                if (r < 0)
                        fail_read(a, r, NULL);
        }
        return 0;
}

static int exec_read(Action *a) {
        ExecAction *e = ea(a);

        if (e->reading) {
                e->reread = true;
                return 0;
        }
        e->reading = true;
        return unit_info_read(a, &e->slot, e->path, on_exec_read);
}

static int on_props_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Action *a = userdata;
        ExecAction *e = ea(a);
        int r;

        if (a->finished || e->phase != EXEC_PHASE_RUNNING)
                return 0;
        r = exec_read(a);
        if (r < 0)
                fail_read(a, r, NULL);
        return 0;
}

static void on_exec_job_done(Action *a, uint32_t id, const char *job_result) {
        ExecAction *e = ea(a);
        int r;

        action_attr(a, "job_result", "%s", job_result);
        /* A failed start (the binary could not be executed) still leaves a failed unit with its status. */
        e->job_failed = !streq(job_result, "done");
        e->phase = EXEC_PHASE_RUNNING;
        r = exec_read(a);
        if (r < 0)
                fail_read(a, r, NULL);
}

static int on_transient_started(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Action *a = userdata;
        ExecAction *e = ea(a);
        _cleanup_free_ char *err = NULL;
        const char *job;
        int r;

        if (!bus_reply_begin(a, &e->slot))
                return 0;
        r = bus_reply_object_path(m, &err, &job);
        if (r < 0) {
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        r,
                        "%s could not be started as %s: %s",
                        e->command,
                        e->unit,
                        err ?: errno_text(r));
                return 0;
        }
        e->phase = EXEC_PHASE_WAIT_JOB;
        r = action_wait_job(a, job, on_exec_job_done);
        if (r < 0)
                action_finish(a, ACTION_OUTCOME_FAILED, r, "%s: %s", e->command, errno_text(r));
        return 0;
}

/* Open one (sv) entry of a property array, its variant holding `contents`; two closes end it. */
static int property_open(sd_bus_message *m, const char *name, const char *contents) {
        int r = sd_bus_message_open_container(m, 'r', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", name);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', contents);
        return r;
}

static int append_exec_start(sd_bus_message *m, char **argv) {
        int r;

        r = property_open(m, "ExecStart", "a(sasb)");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sasb)");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'r', "sasb");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", argv[0]);
        if (r >= 0)
                r = sd_bus_message_append_strv(m, argv);
        if (r >= 0)
                r = sd_bus_message_append(m, "b", 0);
        for (int k = 0; r >= 0 && k < 4; k++)
                r = sd_bus_message_close_container(m);
        return r;
}

static int start_transient(Action *a) {
        ExecAction *e = ea(a);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ char *description = NULL;
        sd_id128_t rnd;
        char id[SD_ID128_STRING_MAX];
        int r;

        r = sd_id128_randomize(&rnd);
        if (r < 0)
                return r;
        if (asprintf(&e->unit, "homeostat-exec-%s.service", sd_id128_to_string(rnd, id)) < 0) {
                e->unit = NULL;
                return -ENOMEM;
        }
        r = sd_bus_path_encode("/org/freedesktop/systemd1/unit", e->unit, &e->path);
        if (r < 0)
                return r;
        action_attr(a, "unit", "%s", e->unit);
        bool have_rule = e->spec.rule && e->spec.rule[0];
        if (asprintf(
                    &description,
                    "homeostat exec%s%s",
                    have_rule ? " for rule " : "",
                    have_rule ? e->spec.rule : "") < 0)
                return -ENOMEM;

        /* The match is installed before the unit exists, so no state change can slip by. */
        r = sd_bus_match_signal_async(
                a->ctx->bus,
                &e->props_slot,
                systemd_signal_sender(a->ctx),
                e->path,
                "org.freedesktop.DBus.Properties",
                "PropertiesChanged",
                on_props_changed,
                NULL,
                a);
        if (r < 0)
                return r;

        r = sd_bus_message_new_method_call(
                a->ctx->bus,
                &m,
                "org.freedesktop.systemd1",
                "/org/freedesktop/systemd1",
                "org.freedesktop.systemd1.Manager",
                "StartTransientUnit");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "ss", e->unit, "fail");
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r < 0)
                return r;
        r = sd_bus_message_append(
                m,
                "(sv)(sv)(sv)(sv)(sv)",
                "Description",
                "s",
                description,
                "Type",
                "s",
                "exec",
                "RemainAfterExit",
                "b",
                1,
                "RuntimeMaxUSec",
                "t",
                (uint64_t) e->timeout_usec,
                "TimeoutStopUSec",
                "t",
                (uint64_t) EXEC_STOP_TIMEOUT_USEC);
        if (r < 0)
                return r;
        r = append_exec_start(m, e->spec.argv);
        if (r < 0)
                return r;
        r = property_open(m, "Environment", "as");
        if (r >= 0)
                r = sd_bus_message_append_strv(m, e->spec.env);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_close_container(m); /* properties */
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r < 0)
                return r;

        e->phase = EXEC_PHASE_START;
        return sd_bus_call_async(a->ctx->bus, &e->slot, m, on_transient_started, a, 0);
}

/* ---- direct child ---- */

static void child_watch_free(ChildWatch *w) {
        sd_event_source_disable_unref(w->source);
        free(w);
}

void exec_ctx_done(RemediationCtx *c) {
        /* Shutting down: orphans were sent SIGKILL; reap whoever is gone already, never wait. */
        while (c->orphans) {
                ChildWatch *w = c->orphans;
                siginfo_t si = {};
                c->orphans = w->next;
                (void) waitid(P_PID, (id_t) w->pid, &si, WEXITED | WNOHANG);
                child_watch_free(w);
        }
}

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Action *a = userdata;
        ExecAction *e = ea(a);
        char buf[DURATION_MAX];
        int r;

        if (a->finished || !e->watch || e->pid <= 0)
                return 0;
        if (!e->sigkill_sent) {
                e->sigkill_sent = true;
                (void) kill(-e->pid, SIGKILL);
                r = sd_event_source_set_time_relative(s, EXEC_STOP_TIMEOUT_USEC);
                if (r >= 0)
                        r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
                if (r >= 0)
                        return 0;
        }
        /* Not even SIGKILL ended it (uninterruptible sleep): report and leave it to the orphan list. */
        action_finish(
                a,
                ACTION_OUTCOME_TIMED_OUT,
                -ETIMEDOUT,
                "%s did not end within %s and survived SIGKILL",
                e->command,
                format_duration(buf, sizeof(buf), e->timeout_usec));
        return 0;
}

static void exec_child_timeout(Action *a) {
        ExecAction *e = ea(a);
        int r;

        if (e->pid <= 0) {
                action_finish(a, ACTION_OUTCOME_TIMED_OUT, -ETIMEDOUT, "%s did not start in time", e->command);
                return;
        }
        e->timed_out = true;
        e->phase = EXEC_PHASE_CHILD_TERMINATING;
        (void) kill(-e->pid, SIGTERM);
        r = sd_event_add_time_relative(
                a->ctx->event, &e->kill_timer, CLOCK_MONOTONIC, EXEC_STOP_TIMEOUT_USEC, 0, on_kill_timer, a);
        if (r < 0)
                (void) kill(-e->pid, SIGKILL);
}

static const ActionOps exec_child_ops = {
        .name = "exec-child",
        .release = exec_release,
        .timeout = exec_child_timeout,
};

static int on_child_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        ChildWatch *w = userdata;
        Action *a = w->action;
        char buf[DURATION_MAX];
        int exec_errno = 0;
        ssize_t n;

        if (!a) {
                /* An orphan ended: sd-event reaps it after this callback; forget it. */
                for (ChildWatch **p = &w->ctx->orphans; *p; p = &(*p)->next)
                        if (*p == w) {
                                *p = w->next;
                                break;
                        }
                child_watch_free(w);
                return 0;
        }
        ExecAction *e = ea(a);
        /* The child wrote errno here only if execve() failed; otherwise close-on-exec gave us EOF. */
        n = read(e->errpipe, &exec_errno, sizeof(exec_errno));
        e->watch = NULL;
        child_watch_free(w);
        e->pid = 0;
        e->kill_timer = sd_event_source_disable_unref(e->kill_timer);
        if (a->finished)
                return 0;

        if (n == (ssize_t) sizeof(exec_errno) && exec_errno > 0) {
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        -exec_errno,
                        "%s could not be executed: %s",
                        e->spec.argv[0],
                        errno_text(exec_errno));
                return 0;
        }
        if (si->si_code == CLD_EXITED) {
                action_attr(a, "exit_code", "exited");
                action_attr_i64(a, "exit_status", si->si_status);
        } else {
                const char *abbrev = sigabbrev_np(si->si_status);
                action_attr(a, "exit_code", si->si_code == CLD_DUMPED ? "dumped" : "killed");
                action_attr(a, "exit_signal", "SIG%s", abbrev ?: "?");
        }
        if (e->timed_out)
                action_finish(
                        a,
                        ACTION_OUTCOME_TIMED_OUT,
                        -ETIMEDOUT,
                        "%s was killed at its timeout of %s",
                        e->command,
                        format_duration(buf, sizeof(buf), e->timeout_usec));
        else if (si->si_code == CLD_EXITED && si->si_status == 0)
                action_finish(a, ACTION_OUTCOME_SUCCEEDED, 0, "%s exited with status 0", e->command);
        else if (si->si_code == CLD_EXITED)
                action_finish(
                        a, ACTION_OUTCOME_FAILED, -EIO, "%s exited with status %d", e->command, si->si_status);
        else
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        -EIO,
                        "%s was killed by SIG%s",
                        e->command,
                        sigabbrev_np(si->si_status) ?: "?");
        return 0;
}

/* Runs in the forked child: async-signal-safe calls only. */
_noreturn_ static void child_exec(char **argv, char **envp, int errpipe) {
        struct sigaction sa = { .sa_handler = SIG_DFL };
        sigset_t none;
        int fd, err;

        for (int sig = 1; sig < _NSIG; sig++)
                (void) sigaction(sig, &sa, NULL);
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        (void) setsid();

        /* The error pipe moves to fd 3 first (whatever number it had), then stdin becomes /dev/null and
         * everything above 3 is closed. */
        if (errpipe != 3 && dup3(errpipe, 3, O_CLOEXEC) < 0)
                goto fail;
        fd = open("/dev/null", O_RDONLY);
        if (fd < 0)
                goto fail;
        if (fd != STDIN_FILENO && dup2(fd, STDIN_FILENO) < 0)
                goto fail;
        if (close_range(4, ~0U, 0) < 0)
                goto fail;
        execve(argv[0], argv, envp);
fail:
        err = errno;
        (void) !write(3, &err, sizeof(err));
        _exit(127);
}

static int start_child(Action *a) {
        ExecAction *e = ea(a);
        _cleanup_strv_free_ char **envp = NULL;
        _cleanup_close_ int rfd = -EBADF, wfd = -EBADF;
        size_t n = 0;
        int p[2], r;
        pid_t pid;

        for (char **x = e->spec.env; x && *x; x++)
                n++;
        envp = calloc(n + 2, sizeof(char *));
        if (!envp)
                return -ENOMEM;
        envp[0] = strdup(EXEC_CHILD_PATH);
        if (!envp[0])
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                envp[i + 1] = strdup(e->spec.env[i]);
                if (!envp[i + 1])
                        return -ENOMEM;
        }
        /* sd-event can only watch children while SIGCHLD is blocked; find out before forking. */
        sigset_t mask;
        if (pthread_sigmask(SIG_SETMASK, NULL, &mask) != 0 || sigismember(&mask, SIGCHLD) != 1) {
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        -EBUSY,
                        "%s cannot run as a child: SIGCHLD is not blocked in the daemon",
                        e->command);
                return 0;
        }
        e->watch = calloc(1, sizeof(ChildWatch));
        if (!e->watch)
                return -ENOMEM;
        e->watch->action = a;
        e->watch->ctx = a->ctx;

        if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
                return -errno;
        rfd = p[0];
        wfd = p[1];

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0)
                child_exec(e->spec.argv, envp, wfd);
        e->pid = pid;
        e->errpipe = TAKE_FD(rfd);
        wfd = safe_close(wfd);
        action_attr_i64(a, "pid", pid);

        e->watch->pid = pid;
        r = sd_event_add_child(a->ctx->event, &e->watch->source, pid, WEXITED, on_child_exit, e->watch);
        if (r < 0) {
                /* Out of memory in sd-event: the child was forked a moment ago and dies at once. */
                e->watch = mfree(e->watch);
                (void) kill(-pid, SIGKILL);
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                e->pid = 0;
                action_finish(
                        a, ACTION_OUTCOME_FAILED, r, "%s cannot be watched: %s", e->command, errno_text(r));
                return 0;
        }
        (void) sd_event_source_set_description(e->watch->source, "remediation-exec-child");
        e->phase = EXEC_PHASE_CHILD_RUNNING;
        return 0;
}

int exec_start(Action *a, ExecSpec *spec) {
        ExecAction *e;
        bool transient = a->ctx->bus != NULL;
        int r;

        a->ops = transient ? &exec_unit_ops : &exec_child_ops;
        e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        a->data = e;
        e->errpipe = -EBADF;
        e->spec = *spec;
        *spec = (ExecSpec){};
        e->timeout_usec = a->timeout_usec;
        e->command = join_argv(e->spec.argv);
        if (!e->command)
                return -ENOMEM;
        action_attr(a, "command", "%s", e->command);
        action_attr(a, "runner", transient ? "transient-unit" : "child");

        /* A direct child runs in our own view of the file system, so the check is exact. A transient unit
         * runs in the manager's, which our sandbox may not show in full: there the manager's verdict
         * (status 203/EXEC) counts, and the check is only a dry run's best effort. */
        if ((!transient || a->dry_run) && access(e->spec.argv[0], X_OK) < 0) {
                r = -errno;
                action_finish(
                        a, ACTION_OUTCOME_FAILED, r, "%s is not executable: %s", e->spec.argv[0], errno_text(r));
                return 0;
        }
        if (a->dry_run) {
                action_finish(
                        a,
                        ACTION_OUTCOME_SKIPPED,
                        0,
                        "would run %s as %s",
                        e->command,
                        transient ? "a transient unit" : "a child process");
                return 0;
        }
        if (transient) {
                /* Our own deadline only backs up the manager's RuntimeMaxSec= and its stop timeout. */
                r = action_set_deadline(
                        a, e->timeout_usec + EXEC_STOP_TIMEOUT_USEC + EXEC_DEADLINE_MARGIN_USEC);
                if (r < 0)
                        return r;
                if (a->ctx->subscribe_error < 0) {
                        action_finish(
                                a,
                                ACTION_OUTCOME_FAILED,
                                a->ctx->subscribe_error,
                                "cannot follow jobs: subscribing to the service manager failed: %s",
                                errno_text(a->ctx->subscribe_error));
                        return 0;
                }
                return start_transient(a);
        }
        return start_child(a);
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * systemd actions against a real service manager: a systemd --user instance in a private mount
 * namespace (peers.c), reached both over its private socket (a direct connection) and through the user
 * bus (dbus-daemon), as in production. Every check reads the manager's view with systemctl, independent
 * of the code under test.
 */
#include "remediation-harness.h"

static PeerSystemd *peer;
static sd_event *event;
static sd_bus *bus_private, *bus_broker;
static RemediationCtx *ctx, *ctx_broker, *ctx_dry;

#define WAIT (20 * USEC_PER_SEC)

static char *show(const char *unit, const char *prop) {
        char *v = NULL;
        assert_int_equal(peer_systemd_show(peer, unit, prop, &v), 0);
        return v;
}

typedef struct ShowWait {
        const char *unit, *prop, *want;
} ShowWait;

static bool show_is(void *userdata) {
        ShowWait *w = userdata;
        _cleanup_free_ char *v = NULL;
        return peer_systemd_show(peer, w->unit, w->prop, &v) >= 0 && streq(v, w->want);
}

static void wait_show(const char *unit, const char *prop, const char *want) {
        ShowWait w = { unit, prop, want };
        if (!peer_wait_until(show_is, &w, 10 * USEC_PER_SEC)) {
                _cleanup_free_ char *v = show(unit, prop);
                fail_msg("%s %s is \"%s\", expected \"%s\"", unit, prop, v, want);
        }
}

static void check_show(const char *unit, const char *prop, const char *want) {
        _cleanup_free_ char *v = show(unit, prop);
        assert_string_equal(v, want);
}

static void run_transient(const char *unit) {
        char *argv[] = { (char *) "/bin/sleep", (char *) "infinity", NULL };
        assert_int_equal(peer_systemd_run(peer, unit, NULL, argv), 0);
        wait_show(unit, "ActiveState", "active");
}

static Step unit_step(ActionKind kind, const char *unit) {
        Step s = step_new(kind);
        s.unit = tmpl(unit);
        return s;
}

static void check_restart(RemediationCtx *c, const char *unit) {
        _cleanup_free_ char *before = NULL, *after = NULL;
        Captured r = {};
        Step s = unit_step(ACTION_RESTART, unit);

        run_transient(unit);
        before = show(unit, "InvocationID");
        assert_int_equal(strlen(before), 32);

        run_step(c, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        assert_true(contains(r.message, "restarted "));
        assert_true(contains(r.message, " done)"));
        assert_string_equal(captured_attr(&r, "job_result"), "done");
        assert_string_equal(captured_attr(&r, "unit"), unit);
        assert_string_equal(captured_attr(&r, "invocation_id_before"), before);
        assert_non_null(captured_attr(&r, "job_id"));
        assert_null(r.undo);

        after = show(unit, "InvocationID");
        assert_string_not_equal(after, before);
        assert_string_equal(captured_attr(&r, "invocation_id"), after);
        _cleanup_free_ char *key = NULL;
        assert_true(asprintf(&key, "unit:%s", unit) > 0);
        assert_string_equal(r.target, key);
        captured_done(&r);
}

static void test_restart_private(void **state) {
        check_restart(ctx, "t-restart.service");
}

static void test_restart_broker(void **state) {
        _cleanup_free_ char *before = NULL, *after = NULL;
        Captured r = {};
        Step s = unit_step(ACTION_RESTART, "t-broker.service");

        /* Through dbus-daemon: signals carry a sender, matches are installed on the broker. */
        run_transient("t-broker.service");
        before = show("t-broker.service", "InvocationID");
        run_step(ctx_broker, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        after = show("t-broker.service", "InvocationID");
        assert_string_not_equal(after, before);
        assert_string_equal(captured_attr(&r, "invocation_id"), after);
        captured_done(&r);
}

static void test_unit_lifecycle(void **state) {
        _cleanup_free_ char *inv1 = NULL, *inv2 = NULL;
        Captured r = {};
        Step s;

        assert_int_equal(
                peer_systemd_write_unit(
                        peer,
                        "t-svc.service",
                        "[Service]\nExecStart=/bin/sleep infinity\nExecReload=/bin/true\n"),
                0);

        s = unit_step(ACTION_START, "t-svc.service");
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        assert_true(contains(r.message, "started t-svc.service (job "));
        wait_show("t-svc.service", "ActiveState", "active");

        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SKIPPED);
        assert_true(contains(r.message, "already active"));

        s = unit_step(ACTION_RELOAD, "t-svc.service");
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        assert_true(contains(r.message, "reloaded t-svc.service"));

        inv1 = show("t-svc.service", "InvocationID");
        s = unit_step(ACTION_TRY_RESTART, "t-svc.service");
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        inv2 = show("t-svc.service", "InvocationID");
        assert_string_not_equal(inv1, inv2);

        s = unit_step(ACTION_KILL, "t-svc.service");
        s.signal = SIGTERM;
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        assert_string_equal(r.message, "sent SIGTERM to all processes of t-svc.service");
        assert_string_equal(captured_attr(&r, "whom"), "all");
        /* SIGTERM is a clean exit for a service: it ends inactive, not failed. */
        wait_show("t-svc.service", "ActiveState", "inactive");

        s = unit_step(ACTION_START, "t-svc.service");
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        wait_show("t-svc.service", "ActiveState", "active");

        s = unit_step(ACTION_STOP, "t-svc.service");
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        assert_true(contains(r.message, "stopped t-svc.service (job "));
        wait_show("t-svc.service", "ActiveState", "inactive");

        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SKIPPED);
        assert_true(contains(r.message, "already stopped"));
        captured_done(&r);
}

static void test_missing_unit(void **state) {
        Captured r = {};
        Step s = unit_step(ACTION_RESTART, "t-missing.service");

        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_int_equal(r.error, -ENOENT);
        assert_true(contains(r.message, "t-missing.service does not exist"));

        s = unit_step(ACTION_KILL, "t-missing.service");
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        captured_done(&r);
}

static void test_stopped_on_purpose(void **state) {
        _cleanup_free_ char *inv = NULL;
        Captured r = {};
        Step s;

        assert_int_equal(
                peer_systemd_write_unit(peer, "t-idle.service", "[Service]\nExecStart=/bin/sleep infinity\n"),
                0);
        s = unit_step(ACTION_RESTART, "t-idle.service");
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SKIPPED);
        assert_string_equal(r.message, "skipped: t-idle.service is stopped on purpose (inactive, no job)");

        s = unit_step(ACTION_TRY_RESTART, "t-idle.service");
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SKIPPED);
        s = unit_step(ACTION_RELOAD, "t-idle.service");
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SKIPPED);

        /* Nothing was started. */
        wait_show("t-idle.service", "ActiveState", "inactive");
        inv = show("t-idle.service", "InvocationID");
        assert_string_equal(inv, "");
        captured_done(&r);
}

static void test_start_limit(void **state) {
        Captured r = {};
        Step s = unit_step(ACTION_RESTART, "t-limit.service");

        /* A unit restarted too often by its own Restart= policy: the manager gives up with
         * Result=start-limit-hit. */
        assert_int_equal(
                peer_systemd_write_unit(
                        peer,
                        "t-limit.service",
                        "[Unit]\nStartLimitIntervalSec=10min\nStartLimitBurst=3\n"
                        "[Service]\nExecStart=/bin/true\nRestart=always\nRestartSec=20ms\n"),
                0);
        (void) peer_systemctl(peer, NULL, "start", "t-limit.service", NULL);
        wait_show("t-limit.service", "Result", "start-limit-hit");

        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_true(contains(r.message, "start limit hit; escalate"));
        assert_string_equal(captured_attr(&r, "unit_result_before"), "start-limit-hit");
        assert_null(captured_attr(&r, "job_id")); /* refused before asking the manager */

        /* A failing unit that hits the limit keeps Result=exit-code on systemd 252; the manager then
         * refuses the start without a new invocation, and that is what the result says. */
        assert_int_equal(
                peer_systemd_write_unit(
                        peer,
                        "t-crash.service",
                        "[Unit]\nStartLimitIntervalSec=10min\nStartLimitBurst=3\n"
                        "[Service]\nExecStart=/bin/false\nRestart=always\nRestartSec=20ms\n"),
                0);
        (void) peer_systemctl(peer, NULL, "start", "t-crash.service", NULL);
        wait_show("t-crash.service", "NRestarts", "3");
        wait_show("t-crash.service", "ActiveState", "failed");
        s = unit_step(ACTION_RESTART, "t-crash.service");
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_true(contains(r.message, "start limit hit); escalate"));
        assert_string_equal(captured_attr(&r, "start_refused"), "true");
        captured_done(&r);
}

static void test_job_queued(void **state) {
        Captured r = {};
        Step s = unit_step(ACTION_RESTART, "t-slow.service");

        assert_int_equal(
                peer_systemd_write_unit(
                        peer, "t-slow.service", "[Service]\nType=oneshot\nExecStart=/bin/sleep 30\n"),
                0);
        assert_int_equal(peer_systemctl(peer, NULL, "start", "--no-block", "t-slow.service", NULL), 0);
        wait_show("t-slow.service", "ActiveState", "activating");

        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SKIPPED);
        assert_true(contains(r.message, "has a job queued") || contains(r.message, "is activating"));
        assert_int_equal(peer_systemctl(peer, NULL, "stop", "t-slow.service", NULL), 0);
        captured_done(&r);
}

static void test_limit_and_undo(void **state) {
        _cleanup_free_ char *cpu0 = NULL, *tasks0 = NULL, *mem0 = NULL, *io0 = NULL, *json = NULL;
        _cleanup_(action_undo_freep) ActionUndo *undo = NULL, *reread = NULL;
        Captured r = {};
        Step s = unit_step(ACTION_LIMIT, "t-lim.service");

        run_transient("t-lim.service");
        cpu0 = show("t-lim.service", "CPUQuotaPerSecUSec");
        tasks0 = show("t-lim.service", "TasksMax");
        mem0 = show("t-lim.service", "MemoryHigh");
        io0 = show("t-lim.service", "IOWeight");

        s.has_cpu_quota = s.has_tasks_max = s.has_memory_high = s.has_io_weight = true;
        s.cpu_quota_per_sec_usec = 500000; /* CPUQuota=50% */
        s.tasks_max = 20;
        s.memory_high_bytes = 64 * 1024 * 1024;
        s.io_weight = 50;

        /* Dry run first: nothing changes. */
        run_step(ctx_dry, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SKIPPED);
        assert_true(r.dry_run);
        assert_true(contains(r.message, "would set CPUQuota=50% MemoryHigh=67108864 IOWeight=50 TasksMax=20"));
        assert_null(r.undo);
        check_show("t-lim.service", "TasksMax", tasks0);

        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        assert_true(contains(
                r.message, "set CPUQuota=50% MemoryHigh=67108864 IOWeight=50 TasksMax=20 on t-lim.service"));
        assert_string_equal(captured_attr(&r, "TasksMax"), "20");
        assert_non_null(r.undo);
        /* The property values (MemoryHigh has no effect on this cgroup-v1 host, but is set). */
        check_show("t-lim.service", "CPUQuotaPerSecUSec", "500ms");
        check_show("t-lim.service", "TasksMax", "20");
        check_show("t-lim.service", "MemoryHigh", "67108864");
        check_show("t-lim.service", "IOWeight", "50");

        /* The undo survives a daemon restart as JSON. */
        undo = TAKE_PTR(r.undo);
        assert_string_equal(action_undo_target(undo), "unit:t-lim.service");
        assert_int_equal(remediation_undo_to_json(undo, &json), 0);
        assert_true(contains(json, "\"kind\":\"limit\""));
        assert_int_equal(remediation_undo_from_json(json, &reread), 0);

        run_undo(ctx, event, reread, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        assert_true(r.is_undo);
        assert_true(contains(r.message, "restored "));
        assert_null(r.undo);
        check_show("t-lim.service", "CPUQuotaPerSecUSec", cpu0);
        check_show("t-lim.service", "TasksMax", tasks0);
        check_show("t-lim.service", "MemoryHigh", mem0);
        check_show("t-lim.service", "IOWeight", io0);

        /* Undoing again finds nothing to do. */
        run_undo(ctx, event, undo, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SKIPPED);
        captured_done(&r);
}

typedef struct InvocationResult {
        bool done;
        int error;
        sd_id128_t id;
        char active[32];
} InvocationResult;

static void on_invocation(
        Action *a, int error, const char *unit, sd_id128_t id, const char *active_state, void *userdata) {
        InvocationResult *ir = userdata;
        ir->done = true;
        ir->error = error;
        ir->id = id;
        (void) snprintf(ir->active, sizeof(ir->active), "%s", strempty(active_state));
}

static void wait_invocation(InvocationResult *ir) {
        usec_t end = now(CLOCK_MONOTONIC) + WAIT;
        while (!ir->done) {
                assert_true(now(CLOCK_MONOTONIC) < end);
                assert_true(sd_event_run(event, 50 * USEC_PER_MSEC) >= 0);
        }
}

static void test_invocation_id(void **state) {
        _cleanup_free_ char *want = NULL;
        InvocationResult ir = {};
        char s[SD_ID128_STRING_MAX];

        run_transient("t-inv.service");
        want = show("t-inv.service", "InvocationID");
        assert_int_equal(remediation_unit_invocation_id(ctx, "t-inv.service", on_invocation, &ir, NULL), 0);
        assert_false(ir.done);
        wait_invocation(&ir);
        assert_int_equal(ir.error, 0);
        assert_string_equal(sd_id128_to_string(ir.id, s), want);
        assert_string_equal(ir.active, "active");

        ir = (InvocationResult){};
        assert_int_equal(remediation_unit_invocation_id(ctx, "t-missing.service", on_invocation, &ir, NULL), 0);
        wait_invocation(&ir);
        assert_int_equal(ir.error, -ENOENT);
}

static void test_exec_transient(void **state) {
        _cleanup_free_ char *envfile = NULL, *cmd = NULL, *text = NULL;
        Captured r = {};
        Step s = step_new(ACTION_EXEC);
        Label labels[] = { { "instance", "web1" } };
        TemplateVars vars = { .rule = "api-latency",
                              .series = "up{instance=\"web1\"}",
                              .value = 0.52,
                              .expected = 0.15,
                              .incident = "0123456789abcdef0123456789abcdef",
                              .labels = labels,
                              .n_labels = 1 };

        Template t_true[] = { tmpl("/bin/true") };
        s.argv = t_true;
        s.n_argv = 1;
        s.timeout_usec = 10 * USEC_PER_SEC;
        run_step(ctx, event, &s, &vars, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        assert_string_equal(captured_attr(&r, "runner"), "transient-unit");
        assert_string_equal(captured_attr(&r, "exit_status"), "0");
        assert_string_equal(r.target, "exec:/bin/true");
        /* The transient unit is gone afterwards. */
        wait_show(captured_attr(&r, "unit"), "LoadState", "not-found");

        Template t_exit[] = { tmpl("/bin/sh"), tmpl("-c"), tmpl("exit 3") };
        s.argv = t_exit;
        s.n_argv = 3;
        run_step(ctx, event, &s, &vars, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_string_equal(captured_attr(&r, "exit_status"), "3");
        assert_true(contains(r.message, "exited with status 3"));
        wait_show(captured_attr(&r, "unit"), "LoadState", "not-found");

        /* Only the documented variables reach the command. */
        envfile = strjoin_path(peer->dir, "env.txt");
        assert_true(asprintf(&cmd, "env > %s", envfile) > 0);
        Template t_env[] = { tmpl("/bin/sh"), tmpl("-c"), tmpl(cmd) };
        s.argv = t_env;
        run_step(ctx, event, &s, &vars, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        assert_int_equal(read_full_file(envfile, 65536, &text, NULL), 0);
        assert_true(contains(text, "HOMEOSTAT_RULE=api-latency\n"));
        assert_true(contains(text, "HOMEOSTAT_SERIES=up{instance=\"web1\"}\n"));
        assert_true(contains(text, "HOMEOSTAT_VALUE=0.52\n"));
        assert_true(contains(text, "HOMEOSTAT_EXPECTED=0.15\n"));
        assert_true(contains(text, "HOMEOSTAT_INCIDENT=0123456789abcdef0123456789abcdef\n"));
        size_t n = 0;
        for (const char *p = text; (p = strstr(p, "HOMEOSTAT_")); p++)
                n++;
        assert_int_equal(n, 5);

        /* A templated argument must pass the allow-list. */
        Template t_tmpl[] = {
                tmpl("/bin/sh"), tmpl("-c"), tmpl("test \"$0\" = web1"), tmpl("${labels.instance}")
        };
        s.argv = t_tmpl;
        s.n_argv = 4;
        char *wrong[] = { (char *) "db*" }, *targets[] = { (char *) "web*" };
        run_allow_list(ctx, event, &s, &vars, wrong, targets, &r, WAIT);
        s.targets = NULL;
        s.n_targets = 0;

        /* A hanging command is killed at its timeout by the manager. */
        Template t_hang[] = { tmpl("/bin/sleep"), tmpl("30") };
        s.argv = t_hang;
        s.n_argv = 2;
        s.timeout_usec = 1 * USEC_PER_SEC;
        run_step(ctx, event, &s, &vars, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_TIMED_OUT);
        assert_true(contains(r.message, "killed at its timeout of 1s"));
        wait_show(captured_attr(&r, "unit"), "LoadState", "not-found");

        /* Not executable: the manager says so (status 203/EXEC), and the failed unit is cleaned up. */
        Template t_bad[] = { tmpl("/nonexistent/tool") };
        s.argv = t_bad;
        s.n_argv = 1;
        s.timeout_usec = 5 * USEC_PER_SEC;
        run_step(ctx, event, &s, &vars, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_int_equal(r.error, -ENOEXEC);
        assert_true(contains(r.message, "/nonexistent/tool could not be executed (status 203/EXEC"));
        wait_show(captured_attr(&r, "unit"), "LoadState", "not-found");

        /* A dry run checks the path itself. */
        run_step(ctx_dry, event, &s, &vars, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_true(contains(r.message, "is not executable"));
        captured_done(&r);
}

static void test_dry_run(void **state) {
        _cleanup_free_ char *before = NULL, *after = NULL, *marker = NULL, *cmd = NULL;
        Captured r = {};
        Step s = unit_step(ACTION_RESTART, "t-dry.service");

        run_transient("t-dry.service");
        before = show("t-dry.service", "InvocationID");
        run_step(ctx_dry, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SKIPPED);
        assert_true(r.dry_run);
        assert_string_equal(r.message, "would restart t-dry.service (now active/running)");
        after = show("t-dry.service", "InvocationID");
        assert_string_equal(after, before);

        /* Validation still happens. */
        s = unit_step(ACTION_RESTART, "t-missing.service");
        run_step(ctx_dry, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_true(r.dry_run);

        s = unit_step(ACTION_STOP, "t-dry.service");
        run_step(ctx_dry, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SKIPPED);
        wait_show("t-dry.service", "ActiveState", "active");

        marker = strjoin_path(peer->dir, "dry-marker");
        assert_true(asprintf(&cmd, "touch %s", marker) > 0);
        Template argv[] = { tmpl("/bin/sh"), tmpl("-c"), tmpl(cmd) };
        s = step_new(ACTION_EXEC);
        s.argv = argv;
        s.n_argv = 3;
        run_step(ctx_dry, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SKIPPED);
        assert_true(contains(r.message, "would run /bin/sh -c touch"));
        assert_int_equal(access(marker, F_OK), -1);
        captured_done(&r);
}

static void test_cancel(void **state) {
        Captured r = {};
        Action *a = NULL;
        Step s = unit_step(ACTION_RESTART, "t-restart.service");

        /* A cancelled action never calls back, and nothing leaks (ASan checks). */
        assert_int_equal(remediation_start(ctx, &s, NULL, capture_cb, &r, &a), 0);
        assert_non_null(a);
        assert_int_equal(remediation_ctx_in_flight(ctx), 1);
        remediation_cancel(a);
        assert_int_equal(remediation_ctx_in_flight(ctx), 0);
        for (int i = 0; i < 10; i++)
                assert_true(sd_event_run(event, 20 * USEC_PER_MSEC) >= 0);
        assert_false(r.done);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_restart_private),
                cmocka_unit_test(test_restart_broker),
                cmocka_unit_test(test_unit_lifecycle),
                cmocka_unit_test(test_missing_unit),
                cmocka_unit_test(test_stopped_on_purpose),
                cmocka_unit_test(test_start_limit),
                cmocka_unit_test(test_job_queued),
                cmocka_unit_test(test_limit_and_undo),
                cmocka_unit_test(test_invocation_id),
                cmocka_unit_test(test_exec_transient),
                cmocka_unit_test(test_dry_run),
                cmocka_unit_test(test_cancel),
        };
        int r;

        r = peer_start_verdict(peer_systemd_start(&peer), "systemd --user");
        if (r != 0)
                return r;
        const char *step = "sd_event_new";
        r = sd_event_new(&event);
        if (r >= 0) {
                step = "connecting to the private socket";
                r = peer_systemd_bus(peer, false, &bus_private);
        }
        if (r >= 0) {
                step = "connecting through the user bus";
                r = peer_systemd_bus(peer, true, &bus_broker);
        }
        if (r >= 0) {
                step = "attaching the buses";
                r = sd_bus_attach_event(bus_private, event, 0);
                if (r >= 0)
                        r = sd_bus_attach_event(bus_broker, event, 0);
        }
        if (r >= 0) {
                step = "remediation_ctx_new";
                r = contexts_new(event, bus_private, NULL, &ctx, &ctx_dry);
                if (r >= 0)
                        r = remediation_ctx_new(event, bus_broker, NULL, 0, &ctx_broker);
        }
        if (r < 0) {
                fprintf(stderr, "%s failed: %s\n", step, strerror(-r));
                peer_systemd_stop(peer);
                return 1;
        }

        r = cmocka_run_group_tests(tests, NULL, NULL);

        contexts_free(ctx, ctx_dry);
        remediation_ctx_free(ctx_broker);
        sd_bus_flush_close_unref(bus_private);
        sd_bus_flush_close_unref(bus_broker);
        sd_event_unref(event);
        peer_systemd_stop(peer);
        return r;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * exec steps without a service manager (bus == NULL): direct children of the loop. Checks that the
 * child gets only the documented environment, no inherited fds, stdin on /dev/null, that its exit status
 * is reported, that an exec failure is told apart from an exit, and that the timeout escalates from
 * SIGTERM to SIGKILL.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "remediation-harness.h"
#include "util.h"

static sd_event *event;
static RemediationCtx *ctx, *ctx_dry;
static char *dir;

#define WAIT (20 * USEC_PER_SEC)

static const TemplateVars vars = {
        .rule = "disk-full",
        .series = "disk_free{mount=\"/\"}",
        .value = 0.01,
        .expected = 0.4,
        .incident = "fedcba9876543210fedcba9876543210",
};

static Step exec_step(Template *argv, size_t n, usec_t timeout) {
        Step s = step_new(ACTION_EXEC);
        s.argv = argv;
        s.n_argv = n;
        s.timeout_usec = timeout;
        return s;
}

static void test_exit_status(void **state) {
        Captured r = {};
        Template t_true[] = { tmpl("/bin/true") };
        Step s = exec_step(t_true, 1, 5 * USEC_PER_SEC);

        run_step(ctx, event, &s, &vars, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        assert_string_equal(r.message, "/bin/true exited with status 0");
        assert_string_equal(captured_attr(&r, "runner"), "child");
        assert_string_equal(captured_attr(&r, "exit_status"), "0");

        Template t_exit[] = { tmpl("/bin/sh"), tmpl("-c"), tmpl("exit 7") };
        s = exec_step(t_exit, 3, 5 * USEC_PER_SEC);
        run_step(ctx, event, &s, &vars, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_string_equal(r.message, "/bin/sh -c exit 7 exited with status 7");
        assert_string_equal(captured_attr(&r, "exit_status"), "7");

        /* A URL on the command line keeps its credentials and query out of the result. */
        Template t_url[] = { tmpl("/bin/true"), tmpl("https://ops:pa55@127.0.0.1/hook?token=t0k") };
        s = exec_step(t_url, 2, 5 * USEC_PER_SEC);
        run_step(ctx, event, &s, &vars, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        assert_string_equal(r.message, "/bin/true https://127.0.0.1/hook?… exited with status 0");
        assert_false(contains(captured_attr(&r, "command"), "pa55"));
        assert_false(contains(captured_attr(&r, "command"), "t0k"));

        Template t_sig[] = { tmpl("/bin/sh"), tmpl("-c"), tmpl("kill -KILL $$$$") };
        s = exec_step(t_sig, 3, 5 * USEC_PER_SEC);
        run_step(ctx, event, &s, &vars, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_string_equal(captured_attr(&r, "exit_signal"), "SIGKILL");
        captured_done(&r);
}

static void test_environment_and_fds(void **state) {
        _cleanup_free_ char *envfile = strjoin_path(dir, "env.txt"), *fdfile = strjoin_path(dir, "fds.txt"),
                            *cmd = NULL, *text = NULL, *fds = NULL;
        Captured r = {};
        int leak;

        /* Something in our environment and an inheritable fd the child must not see. */
        assert_int_equal(setenv("SECRET_TOKEN", "do-not-pass", 1), 0);
        leak = open("/dev/null", O_RDONLY);
        assert_true(leak >= 0);
        assert_int_equal(dup2(leak, 50), 50);
        close(leak);

        assert_true(
                asprintf(
                        &cmd,
                        "env > %s; ls /proc/self/fd > %s; readlink /proc/self/fd/0 >> %s",
                        envfile,
                        fdfile,
                        fdfile) > 0);
        Template argv[] = { tmpl("/bin/sh"), tmpl("-c"), tmpl(cmd) };
        Step s = exec_step(argv, 3, 5 * USEC_PER_SEC);
        run_step(ctx, event, &s, &vars, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        close(50);
        (void) unsetenv("SECRET_TOKEN");

        assert_int_equal(read_full_file(envfile, 65536, &text, NULL), 0);
        assert_false(contains(text, "SECRET_TOKEN"));
        assert_true(contains(text, "HOMEOSTAT_RULE=disk-full\n"));
        assert_true(contains(text, "HOMEOSTAT_INCIDENT=fedcba9876543210fedcba9876543210\n"));
        assert_true(contains(text, "PATH=/usr/local/sbin:"));

        assert_int_equal(read_full_file(fdfile, 65536, &fds, NULL), 0);
        assert_false(contains(fds, "\n50\n"));
        assert_true(contains(fds, "/dev/null"));
        captured_done(&r);
}

static void test_exec_failure(void **state) {
        _cleanup_free_ char *script = strjoin_path(dir, "not-a-program");
        _cleanup_close_ int fd = open(script, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
        Captured r = {};

        /* Executable bit, but no format the kernel knows: execve() fails with ENOEXEC in the child. */
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "\x01\x02garbage", 9), 9);
        fd = safe_close(fd);
        Template argv[] = { tmpl(script) };
        Step s = exec_step(argv, 1, 5 * USEC_PER_SEC);
        run_step(ctx, event, &s, &vars, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_int_equal(r.error, -ENOEXEC);
        assert_true(contains(r.message, "could not be executed: Exec format error"));

        Template missing[] = { tmpl("/nonexistent/tool") };
        s = exec_step(missing, 1, 5 * USEC_PER_SEC);
        run_step(ctx, event, &s, &vars, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_int_equal(r.error, -ENOENT);

        Template relative[] = { tmpl("true") };
        s = exec_step(relative, 1, 5 * USEC_PER_SEC);
        run_step(ctx, event, &s, &vars, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_true(contains(r.message, "must be an absolute path"));
        captured_done(&r);
}

static void test_timeout(void **state) {
        Captured r = {};
        uint64_t pid;

        Template t_sleep[] = { tmpl("/bin/sleep"), tmpl("30") };
        Step s = exec_step(t_sleep, 2, 300 * USEC_PER_MSEC);
        run_step(ctx, event, &s, &vars, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_TIMED_OUT);
        assert_string_equal(r.message, "/bin/sleep 30 was killed at its timeout of 300ms");
        assert_string_equal(captured_attr(&r, "exit_signal"), "SIGTERM");
        assert_int_equal(safe_atou64(captured_attr(&r, "pid"), &pid), 0);
        assert_int_equal(kill((pid_t) pid, 0), -1); /* reaped */
        assert_int_equal(errno, ESRCH);

        /* A command that ignores SIGTERM gets SIGKILL 5 s later. */
        Template t_ignores_term[] = { tmpl("/bin/sh"), tmpl("-c"), tmpl("trap '' TERM; sleep 30") };
        s = exec_step(t_ignores_term, 3, 300 * USEC_PER_MSEC);
        run_step(ctx, event, &s, &vars, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_TIMED_OUT);
        assert_string_equal(captured_attr(&r, "exit_signal"), "SIGKILL");
        captured_done(&r);
}

static void test_dry_run(void **state) {
        _cleanup_free_ char *marker = strjoin_path(dir, "marker"), *cmd = NULL;
        Captured r = {};

        assert_true(asprintf(&cmd, "touch %s", marker) > 0);
        Template argv[] = { tmpl("/bin/sh"), tmpl("-c"), tmpl(cmd) };
        Step s = exec_step(argv, 3, 5 * USEC_PER_SEC);
        run_step(ctx_dry, event, &s, &vars, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SKIPPED);
        assert_true(r.dry_run);
        assert_true(contains(r.message, "would run /bin/sh -c touch "));
        assert_true(contains(r.message, "as a child process"));
        assert_int_equal(access(marker, F_OK), -1);

        run_step(ctx, event, &s, &vars, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        assert_int_equal(access(marker, F_OK), 0);
        captured_done(&r);
}

static void test_sigchld_not_blocked(void **state) {
        Captured r = {};
        sigset_t chld;
        Template t_true[] = { tmpl("/bin/true") };
        Step s = exec_step(t_true, 1, 5 * USEC_PER_SEC);

        /* sd-event cannot watch children unless SIGCHLD is blocked: a clear failure, no stray child. */
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        assert_int_equal(sigprocmask(SIG_UNBLOCK, &chld, NULL), 0);
        run_step(ctx, event, &s, &vars, &r, WAIT);
        assert_int_equal(sigprocmask(SIG_BLOCK, &chld, NULL), 0);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_true(contains(r.message, "SIGCHLD is not blocked"));
        captured_done(&r);
}

static void test_cancel_kills(void **state) {
        _cleanup_free_ char *pidfile = strjoin_path(dir, "pid"), *cmd = NULL, *text = NULL;
        Captured r = {};
        Action *a = NULL;
        uint64_t pid;

        assert_true(
                asprintf(&cmd, "echo $$$$ > %s.tmp && mv %s.tmp %s && exec sleep 30", pidfile, pidfile, pidfile) >
                0);
        Template argv[] = { tmpl("/bin/sh"), tmpl("-c"), tmpl(cmd) };
        Step s = exec_step(argv, 3, 10 * USEC_PER_SEC);
        assert_int_equal(remediation_start(ctx, &s, &vars, capture_cb, &r, &a), 0);
        for (usec_t end = now(CLOCK_MONOTONIC) + WAIT; access(pidfile, F_OK) < 0;) {
                assert_true(now(CLOCK_MONOTONIC) < end);
                assert_true(sd_event_run(event, 20 * USEC_PER_MSEC) >= 0);
        }
        assert_int_equal(read_full_file(pidfile, 64, &text, NULL), 0);
        text[strcspn(text, "\n")] = 0;
        assert_int_equal(safe_atou64(text, &pid), 0);
        assert_int_equal(kill((pid_t) pid, 0), 0);

        remediation_cancel(a);
        assert_false(r.done);
        /* Cancelling kills the child at once; the loop reaps it without ever waiting for it. */
        for (usec_t end = now(CLOCK_MONOTONIC) + WAIT; kill((pid_t) pid, 0) == 0;) {
                assert_true(now(CLOCK_MONOTONIC) < end);
                assert_true(sd_event_run(event, 20 * USEC_PER_MSEC) >= 0);
        }
        assert_int_equal(errno, ESRCH);
        assert_false(r.done);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_exit_status),  cmocka_unit_test(test_environment_and_fds),
                cmocka_unit_test(test_exec_failure), cmocka_unit_test(test_timeout),
                cmocka_unit_test(test_dry_run),      cmocka_unit_test(test_sigchld_not_blocked),
                cmocka_unit_test(test_cancel_kills),
        };
        sigset_t chld;
        int r;

        /* As the daemon does: SIGCHLD is blocked so that sd-event can watch children. */
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &chld, NULL) < 0 || peer_mkdtemp("homeostat-exec", &dir) < 0 ||
            sd_event_new(&event) < 0 || contexts_new(event, NULL, NULL, &ctx, &ctx_dry) < 0) {
                fprintf(stderr, "setup failed\n");
                return 1;
        }
        r = cmocka_run_group_tests(tests, NULL, NULL);
        contexts_free(ctx, ctx_dry);
        sd_event_unref(event);
        (void) peer_rm_rf(dir);
        free(dir);
        return r;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * End-to-end tests of `homeostatctl replay`: the real binary over the small CSV files in
 * tests/data/replay/ (RFC 3339, epoch and NAB timestamps, a header or none, quoted fields with commas and
 * quotes, CRLF, labels in any order, counters with a reset, empty/non-numeric/out-of-order rows, malformed
 * rows with and without --skip-bad, stdin, several files, usage and configuration errors). Each case's
 * stdout and stderr must equal CASE.out and CASE.err beside the data, and its exit status must match.
 * The expected files were checked by hand against ARCHITECTURE.md's contract; regenerate them only after
 * reviewing a change (HOMEOSTAT_REGENERATE=1 writes them).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "util.h"

typedef struct Case {
        const char *name;
        int status;
        const char *stdin_file; /* or NULL */
        const char *argv[10];
} Case;

static const Case cases[] = {
        { "api", 0, NULL, { "replay", "--rules", "rules.yaml", "api.csv" } },
        { "multi", 0, NULL, { "replay", "--rules", "rules.yaml", "multi.csv" } },
        { "nab", 0, NULL, { "replay", "--rules", "rules.yaml", "--series", "api", "nab.csv" } },
        { "bad", 1, NULL, { "replay", "--rules", "rules.yaml", "--series", "api", "bad.csv" } },
        { "bad-skip", 0, NULL, { "replay", "--rules", "rules.yaml", "--series", "api", "--skip-bad", "bad.csv" } },
        { "files", 0, NULL, { "replay", "--rules", "rules.yaml", "api.csv", "nab.csv", "multi.csv" } },
        { "stdin", 0, "nab.csv", { "replay", "--rules", "rules.yaml", "--series", "lat{host=\"c\"}", "-" } },
        { "unclosed", 1, NULL, { "replay", "--rules", "rules.yaml", "unclosed.csv" } },
        { "no-rules", 2, NULL, { "replay", "api.csv" } },
        { "no-input", 2, NULL, { "replay", "--rules", "rules.yaml" } },
        { "missing", 2, NULL, { "replay", "--rules", "rules.yaml", "nonexistent.csv" } },
        { "bad-series", 2, NULL, { "replay", "--rules", "rules.yaml", "--series", "lat{host=}", "api.csv" } },
        { "invalid-rules", 1, NULL, { "replay", "--rules", "invalid.yaml", "api.csv" } },
};

static char *read_all(const char *path) {
        char *data = NULL;
        size_t size;
        if (read_full_file(path, 1 << 20, &data, &size) < 0)
                return NULL;
        return data;
}

static void run_case(const Case *c, const char *binary, const char *dir) {
        char out[256], err[256], want_out[512], want_err[512];
        snprintf(out, sizeof(out), "/tmp/test-replay-%d-%s.out", (int) getpid(), c->name);
        snprintf(err, sizeof(err), "/tmp/test-replay-%d-%s.err", (int) getpid(), c->name);
        snprintf(want_out, sizeof(want_out), "%s/%s.out", dir, c->name);
        snprintf(want_err, sizeof(want_err), "%s/%s.err", dir, c->name);

        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        if (c->stdin_file)
                posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, c->stdin_file, O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        const char *argv[12] = { binary };
        for (size_t i = 0; i < ELEMENTSOF(c->argv) && c->argv[i]; i++)
                argv[i + 1] = c->argv[i];
        pid_t pid;
        assert_int_equal(posix_spawn(&pid, binary, &fa, NULL, (char **) argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));

        _cleanup_free_ char *got_out = read_all(out), *got_err = read_all(err);
        assert_non_null(got_out);
        assert_non_null(got_err);
        unlink(out);
        unlink(err);
        if (getenv("HOMEOSTAT_REGENERATE")) {
                FILE *f = fopen(want_out, "we");
                fputs(got_out, f);
                fclose(f);
                f = fopen(want_err, "we");
                fputs(got_err, f);
                fclose(f);
        }
        _cleanup_free_ char *exp_out = read_all(want_out), *exp_err = read_all(want_err);
        if (!exp_out || !exp_err)
                fail_msg("%s: missing %s or %s", c->name, want_out, want_err);
        if (!streq(got_out, exp_out))
                fail_msg("%s: stdout differs:\n--- got ---\n%s--- expected ---\n%s", c->name, got_out, exp_out);
        if (!streq(got_err, exp_err))
                fail_msg("%s: stderr differs:\n--- got ---\n%s--- expected ---\n%s", c->name, got_err, exp_err);
        if (WEXITSTATUS(status) != c->status)
                fail_msg("%s: exit status %d, expected %d", c->name, WEXITSTATUS(status), c->status);
}

static void test_cases(void **state) {
        const char *src = getenv("HOMEOSTAT_SOURCE_ROOT"), *build = getenv("HOMEOSTAT_BUILD_ROOT");
        if (!src || !build)
                fail_msg("HOMEOSTAT_SOURCE_ROOT and HOMEOSTAT_BUILD_ROOT must be set (meson test sets them)");
        char binary[512], dir[512];
        snprintf(binary, sizeof(binary), "%s/ctl/homeostatctl", build);
        snprintf(dir, sizeof(dir), "%s/tests/data/replay", src);
        /* run inside the data directory so that file names in messages are stable */
        assert_int_equal(chdir(dir), 0);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                run_case(&cases[i], binary, ".");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cases),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Tests for supervisor/state-file.c: atomic writes and reads, moving a corrupt file aside, temporary file
 * cleanup, and the forking StateSaver on a real sd-event loop (coalescing, flush, failure reporting).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "state-file.h"

static char tmpdir[] = "/tmp/test-state-file-XXXXXX";

static int count_entries(int dir_fd, const char *prefix) {
        int n = 0, fd = dup(dir_fd);
        DIR *d = fdopendir(fd);
        struct dirent *de;

        assert_non_null(d);
        rewinddir(d);
        while ((de = readdir(d)))
                if (strneq(de->d_name, prefix, strlen(prefix)))
                        n++;
        closedir(d);
        return n;
}

static void test_write_read(void **state) {
        _cleanup_close_ int dfd = -EBADF;
        char path[300], *data = NULL;
        size_t len;
        struct stat st;

        snprintf(path, sizeof(path), "%s/a/b/state", tmpdir);
        assert_int_equal(state_dir_open(path, false, &dfd), -ENOENT);
        assert_int_equal(state_dir_open(path, true, &dfd), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0700);

        assert_int_equal(state_file_read(dfd, "x.state", 1024, &data, &len), -ENOENT);
        assert_int_equal(state_file_write_atomic(dfd, "x.state", "hello", 5), 0);
        assert_int_equal(state_file_read(dfd, "x.state", 1024, &data, &len), 0);
        assert_int_equal(len, 5);
        assert_string_equal(data, "hello");
        free(data);

        assert_int_equal(state_file_write_atomic(dfd, "x.state", "hi", 2), 0);
        assert_int_equal(state_file_read(dfd, "x.state", 1024, &data, &len), 0);
        assert_string_equal(data, "hi");
        free(data);
        assert_int_equal(state_file_read(dfd, "x.state", 1, &data, &len), -EFBIG);

        assert_int_equal(fstatat(dfd, "x.state", &st, 0), 0);
        assert_int_equal(st.st_mode & 0777, 0600);

        /* empty files are fine */
        assert_int_equal(state_file_write_atomic(dfd, "empty", "", 0), 0);
        assert_int_equal(state_file_read(dfd, "empty", 10, &data, &len), 0);
        assert_int_equal(len, 0);
        free(data);

        /* bad names */
        assert_int_equal(state_file_write_atomic(dfd, "../x", "a", 1), -EINVAL);
        assert_int_equal(state_file_write_atomic(dfd, ".hidden", "a", 1), -EINVAL);
        assert_int_equal(state_file_write_atomic(dfd, "", "a", 1), -EINVAL);

        /* no temporaries are left behind */
        assert_int_equal(count_entries(dfd, "."), 2); /* "." and ".." */
}

static void test_move_aside_and_temporaries(void **state) {
        _cleanup_close_ int dfd = -EBADF;
        char path[300], *name = NULL, *name2 = NULL, *data = NULL;
        size_t len;
        usec_t t = (usec_t) 1714564800 * USEC_PER_SEC; /* 2024-05-01T12:00:00Z */

        snprintf(path, sizeof(path), "%s/aside", tmpdir);
        assert_int_equal(state_dir_open(path, true, &dfd), 0);
        assert_int_equal(state_file_write_atomic(dfd, "evaluator.state", "garbage", 7), 0);
        assert_int_equal(state_file_move_aside(dfd, "evaluator.state", t, &name), 0);
        assert_string_equal(name, "evaluator.state.corrupt-20240501T120000Z");
        assert_int_equal(state_file_read(dfd, "evaluator.state", 100, &data, &len), -ENOENT);
        assert_int_equal(state_file_read(dfd, name, 100, &data, &len), 0);
        assert_string_equal(data, "garbage");
        free(data);

        /* the same second again: a distinct name, nothing overwritten */
        assert_int_equal(state_file_write_atomic(dfd, "evaluator.state", "again", 5), 0);
        assert_int_equal(state_file_move_aside(dfd, "evaluator.state", t, &name2), 0);
        assert_string_equal(name2, "evaluator.state.corrupt-20240501T120000Z-1");
        assert_int_equal(state_file_move_aside(dfd, "evaluator.state", t, NULL), -ENOENT);
        free(name);
        free(name2);

        /* leftovers of a crash mid-write are removed, nothing else */
        int fd = openat(dfd, ".evaluator.state.tmp.123.4", O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(state_dir_remove_temporaries(dfd), 1);
        assert_int_equal(count_entries(dfd, "evaluator.state.corrupt-"), 2);
        assert_int_equal(state_dir_remove_temporaries(dfd), 0);
}

static int write_words(FILE *f, void *userdata) {
        return fputs(userdata, f) < 0 ? -EIO : 0;
}

static int write_fails(FILE *f, void *userdata) {
        fputs("partial", f);
        return -ENOSPC;
}

static int done_calls, done_error;
static bool loop_done;

static void on_done(StateSaver *s, int error, void *ud) {
        StateSaverStats st;

        done_calls++;
        done_error = error;
        state_saver_get_stats(s, &st);
        if (!st.in_flight)
                *(bool *) ud = true;
}

static void test_saver(void **state) {
        _cleanup_close_ int dfd = -EBADF;
        _cleanup_(state_saver_freep) StateSaver *s = NULL;
        sd_event *e = NULL;
        char path[300], *data = NULL;
        size_t len;
        StateSaverStats st;

        snprintf(path, sizeof(path), "%s/saver", tmpdir);
        assert_int_equal(state_dir_open(path, true, &dfd), 0);
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(state_saver_new(e, dfd, "s.state", &s), 0);
        state_saver_set_callback(s, on_done, &loop_done);

        /* three saves in a row: the first forks, the other two coalesce; the newest wins */
        assert_int_equal(state_saver_save(s, strdup("one"), 3), 0);
        assert_int_equal(state_saver_save(s, strdup("two"), 3), 1);
        assert_int_equal(state_saver_save(s, strdup("three"), 5), 1);
        while (!loop_done)
                assert_true(sd_event_run(e, UINT64_MAX) >= 0);
        assert_int_equal(done_calls, 2);
        assert_int_equal(done_error, 0);
        assert_int_equal(state_file_read(dfd, "s.state", 100, &data, &len), 0);
        assert_string_equal(data, "three");
        free(data);
        state_saver_get_stats(s, &st);
        assert_int_equal(st.saves_ok, 2);
        assert_int_equal(st.saves_failed, 0);
        assert_false(st.in_flight);
        assert_true(st.last_ok_realtime_usec > 0);
        assert_int_equal(st.last_size, 5);

        /* flush: waits for a running child and writes what is queued, synchronously */
        assert_int_equal(state_saver_save(s, strdup("four"), 4), 0);
        assert_int_equal(state_saver_save(s, strdup("five"), 4), 1);
        assert_int_equal(state_saver_flush(s), 0);
        assert_int_equal(state_file_read(dfd, "s.state", 100, &data, &len), 0);
        assert_string_equal(data, "five");
        free(data);
        state_saver_get_stats(s, &st);
        assert_false(st.in_flight);
        assert_int_equal(st.saves_ok, 4);

        /* the synchronous save at stop: waits for a child, drops queued data, writes the newest */
        assert_int_equal(state_saver_save(s, strdup("six"), 3), 0);
        assert_int_equal(state_saver_save(s, strdup("seven"), 5), 1);
        assert_int_equal(state_saver_save_sync(s, strdup("eight"), 5), 0);
        assert_int_equal(state_file_read(dfd, "s.state", 100, &data, &len), 0);
        assert_string_equal(data, "eight");
        free(data);
        state_saver_get_stats(s, &st);
        assert_false(st.in_flight);
        assert_int_equal(st.saves_ok, 6);

        /* the contents produced by a function, in the child */
        static char words[32] = "from the child";
        done_calls = 0;
        loop_done = false;
        assert_int_equal(state_saver_save_func(s, write_words, words), 0);
        /* coalesced: runs after the first child, with what the buffer says by then */
        assert_int_equal(state_saver_save_func(s, write_words, words), 1);
        snprintf(words, sizeof(words), "second");
        while (!loop_done)
                assert_true(sd_event_run(e, UINT64_MAX) >= 0);
        assert_int_equal(done_calls, 2);
        assert_int_equal(done_error, 0);
        assert_int_equal(state_file_read(dfd, "s.state", 100, &data, &len), 0);
        assert_string_equal(data, "second");
        free(data);
        state_saver_get_stats(s, &st);
        assert_int_equal(st.last_size, 6);

        /* a function that fails leaves the old file alone and is reported */
        done_calls = 0;
        loop_done = false;
        assert_int_equal(state_saver_save_func(s, write_fails, NULL), 0);
        while (!loop_done)
                assert_true(sd_event_run(e, UINT64_MAX) >= 0);
        assert_int_equal(done_error, -ENOSPC);
        assert_int_equal(state_file_read(dfd, "s.state", 100, &data, &len), 0);
        assert_string_equal(data, "second");
        free(data);
        assert_int_equal(state_saver_save_func_sync(s, write_fails, NULL), -ENOSPC);
        assert_int_equal(state_saver_save_func_sync(s, write_words, words), 0);
        state_saver_get_stats(s, &st);
        assert_int_equal(st.saves_failed, 2);
        assert_int_equal(count_entries(dfd, ".s.state.tmp"), 0);

        /* a failing write (the directory is gone from under the saver) is reported, not fatal */
        if (geteuid() != 0) {
                /* root ignores directory permissions; only meaningful for others */
                assert_int_equal(fchmod(dfd, 0500), 0);
                done_calls = 0;
                assert_int_equal(state_saver_save(s, strdup("six"), 3), 0);
                loop_done = false;
                while (!loop_done)
                        assert_true(sd_event_run(e, UINT64_MAX) >= 0);
                assert_int_equal(done_calls, 1);
                assert_int_equal(done_error, -EACCES);
                assert_int_equal(fchmod(dfd, 0700), 0);
        }
        s = state_saver_free(s);
        sd_event_unref(e);
}

static int setup(void **state) {
        sigset_t ss;

        /* sd_event_add_child() needs SIGCHLD blocked, as in homeostatd */
        sigemptyset(&ss);
        sigaddset(&ss, SIGCHLD);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        assert_non_null(mkdtemp(tmpdir));
        return 0;
}

static int teardown(void **state) {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_write_read),
                cmocka_unit_test(test_move_aside_and_temporaries),
                cmocka_unit_test(test_saver),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Tests for supervisor/config-perms.c (StrictModes): a clean tree passes; a group/other-writable file or
 * directory, or one owned by another user, is reported with its path and the fixing command; root-owned
 * sticky ancestors (/tmp) are accepted, a sticky directory that is the configuration itself is not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "config-perms.h"
#include "macro.h"

static char tmpdir[] = "/tmp/test-config-perms-XXXXXX";
static char dir[300], main_file[320], rules_d[320], dropin[340];

static void touch(const char *p, mode_t mode) {
        int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, mode);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(chmod(p, mode), 0);
}

static int check(uid_t owner, char ***problems) {
        char **paths = NULL;
        Config c = {};
        char *files[] = { main_file, dropin };
        int r;

        c.files = files;
        c.n_files = 2;
        assert_int_equal(config_permission_paths(dir, &c, &paths), 0);
        /* dir, rules.d, the two files */
        size_t n = 0;
        while (paths[n])
                n++;
        assert_int_equal(n, 4);
        assert_string_equal(paths[1], rules_d);
        r = config_permissions_check((const char *const *) paths, n, owner, problems);
        strv_free(paths);
        return r;
}

static bool problems_mention(char **problems, const char *a, const char *b) {
        for (char **p = problems; p && *p; p++)
                if (strstr(*p, a) && strstr(*p, b))
                        return true;
        return false;
}

static void test_config_perms(void **state) {
        char **problems = NULL;
        uid_t me = geteuid();

        /* clean */
        assert_int_equal(check(me, &problems), 0);
        assert_true(!problems || !problems[0]);
        strv_free(problems);

        /* a group-writable drop-in */
        assert_int_equal(chmod(dropin, 0664), 0);
        assert_int_equal(check(me, &problems), -EPERM);
        assert_true(problems_mention(problems, dropin, "chmod go-w"));
        assert_true(problems_mention(problems, dropin, "its group"));
        strv_free(problems);
        assert_int_equal(chmod(dropin, 0644), 0);

        /* a world-writable rules.d (even sticky: it is part of the configuration) */
        assert_int_equal(chmod(rules_d, 01777), 0);
        assert_int_equal(check(me, &problems), -EPERM);
        assert_true(problems_mention(problems, rules_d, "group and others"));
        assert_false(problems_mention(problems, dropin, "chmod"));
        strv_free(problems);
        assert_int_equal(chmod(rules_d, 0755), 0);

        /* an other-writable directory above the configuration */
        assert_int_equal(chmod(tmpdir, 0757), 0);
        assert_int_equal(check(me, &problems), -EPERM);
        assert_true(problems_mention(problems, tmpdir, "others"));
        strv_free(problems);
        /* ... but root-owned and sticky is fine (like /tmp) when root owns it */
        assert_int_equal(chmod(tmpdir, 01777), 0);
        assert_int_equal(check(me, &problems), me == 0 ? 0 : -EPERM);
        strv_free(problems);
        assert_int_equal(chmod(tmpdir, 0755), 0);

        if (me == 0) {
                /* owned by someone else */
                assert_int_equal(chown(main_file, 65534, 65534), 0);
                assert_int_equal(check(0, &problems), -EPERM);
                assert_true(problems_mention(problems, main_file, "chown root"));
                assert_true(problems_mention(problems, main_file, "uid 65534"));
                strv_free(problems);
                assert_int_equal(chown(main_file, 0, 0), 0);
        }

        /* through a symlink: the target is checked too */
        char link[400];
        snprintf(link, sizeof(link), "%s/link.yaml", rules_d);
        assert_int_equal(symlink(dropin, link), 0);
        assert_int_equal(chmod(dropin, 0646), 0);
        const char *p1[] = { link };
        assert_int_equal(config_permissions_check(p1, 1, me, &problems), -EPERM);
        assert_true(problems_mention(problems, dropin, "others"));
        strv_free(problems);
        assert_int_equal(chmod(dropin, 0644), 0);

        /* a path that does not exist */
        const char *p2[] = { "/nonexistent/homeostat.yaml" };
        assert_int_equal(config_permissions_check(p2, 1, me, &problems), -ENOENT);
        assert_true(problems_mention(problems, "/nonexistent/homeostat.yaml", "cannot examine"));
        strv_free(problems);
}

static int setup(void **state) {
        assert_non_null(mkdtemp(tmpdir));
        assert_int_equal(chmod(tmpdir, 0755), 0);
        snprintf(dir, sizeof(dir), "%s/etc", tmpdir);
        snprintf(main_file, sizeof(main_file), "%s/homeostat.yaml", dir);
        snprintf(rules_d, sizeof(rules_d), "%s/rules.d", dir);
        snprintf(dropin, sizeof(dropin), "%s/10-api.yaml", rules_d);
        assert_int_equal(mkdir(dir, 0755), 0);
        assert_int_equal(mkdir(rules_d, 0755), 0);
        touch(main_file, 0644);
        touch(dropin, 0600);
        return 0;
}

static int teardown(void **state) {
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_config_perms),
        };
        umask(022);
        return cmocka_run_group_tests(tests, setup, teardown);
}

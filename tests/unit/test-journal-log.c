/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Tests for supervisor/journal-log.c: which structured fields reach journald (an invalid one would make it
 * drop the whole entry), and when the journal is chosen (JOURNAL_STREAM naming stderr, INVOCATION_ID).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <unistd.h>

#include "journal-log.h"

static void test_fields(void **state) {
        assert_true(journal_field_is_valid("HOMEOSTAT_RULE=api-latency"));
        assert_true(journal_field_is_valid("HOMEOSTAT_SOURCE="));
        assert_true(journal_field_is_valid("CODE_LINE=12"));
        assert_false(journal_field_is_valid("homeostat_rule=x"));
        assert_false(journal_field_is_valid("_PID=1"));
        assert_false(journal_field_is_valid("1X=1"));
        assert_false(journal_field_is_valid("=x"));
        assert_false(journal_field_is_valid("NOEQUALS"));
        assert_false(journal_field_is_valid("MESSAGE=override"));
        assert_false(journal_field_is_valid("PRIORITY=0"));
        assert_false(journal_field_is_valid("SYSLOG_IDENTIFIER=other"));
        assert_false(journal_field_is_valid(NULL));
        assert_false(journal_field_is_valid(
                "A2345678901234567890123456789012345678901234567890123456789012345=x"));
}

static void test_wanted(void **state) {
        struct stat st;
        char buf[64];

        unsetenv("INVOCATION_ID");
        unsetenv("JOURNAL_STREAM");
        assert_false(journal_log_wanted());

        assert_int_equal(fstat(STDERR_FILENO, &st), 0);
        snprintf(buf, sizeof(buf), "%llu:%llu", (unsigned long long) st.st_dev, (unsigned long long) st.st_ino);
        setenv("JOURNAL_STREAM", buf, 1);
        assert_true(journal_log_wanted());
        /* a stream that is not our stderr (inherited by a child whose stderr was redirected) */
        snprintf(buf, sizeof(buf), "%llu:%llu", (unsigned long long) st.st_dev, (unsigned long long) st.st_ino + 1);
        setenv("JOURNAL_STREAM", buf, 1);
        assert_false(journal_log_wanted());
        setenv("JOURNAL_STREAM", "garbage", 1);
        assert_false(journal_log_wanted());
        unsetenv("JOURNAL_STREAM");

        setenv("INVOCATION_ID", "0123456789abcdef0123456789abcdef", 1);
        assert_true(journal_log_wanted());
        unsetenv("INVOCATION_ID");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fields),
                cmocka_unit_test(test_wanted),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

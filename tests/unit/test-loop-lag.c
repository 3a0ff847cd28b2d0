/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests for supervisor/loop-lag.c: lateness bookkeeping, the 10 s window, and "overdue right now". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "loop-lag.h"

#define MS USEC_PER_MSEC
#define S USEC_PER_SEC

static void test_loop_lag_window(void **state) {
        LoopLag l;
        usec_t t = 1000 * S;

        loop_lag_init(&l);
        assert_int_equal(loop_lag_current(&l, t), 0);
        assert_int_equal(loop_lag_max(&l, t, LOOP_LAG_WINDOW_USEC), 0);
        assert_false(loop_lag_is_lagging(&l, t));

        /* on-time ticks with 1 ms of lateness */
        for (int i = 0; i < 40; i++) {
                usec_t sched = t + (usec_t) i * 250 * MS;
                loop_lag_record(&l, sched, sched + 1 * MS, sched + 251 * MS);
        }
        t += 40 * 250 * MS;
        assert_int_equal(loop_lag_current(&l, t), 1 * MS);
        assert_int_equal(loop_lag_max(&l, t, LOOP_LAG_WINDOW_USEC), 1 * MS);
        assert_false(loop_lag_is_lagging(&l, t));

        /* one tick 1.5 s late */
        loop_lag_record(&l, t, t + 1500 * MS, t + 1750 * MS);
        t += 1500 * MS;
        assert_int_equal(loop_lag_current(&l, t), 1500 * MS);
        assert_true(loop_lag_is_lagging(&l, t));
        assert_int_equal(l.max_ever_usec, 1500 * MS);

        /* then on time again: still lagging within the 10 s window, not after it */
        for (int i = 1; i <= 60; i++) {
                usec_t sched = t + (usec_t) i * 250 * MS;
                loop_lag_record(&l, sched, sched, sched + 250 * MS);
                if (i == 20)
                        assert_true(loop_lag_is_lagging(&l, sched));
        }
        t += 60 * 250 * MS;
        assert_int_equal(loop_lag_current(&l, t), 0);
        assert_false(loop_lag_is_lagging(&l, t));
        assert_int_equal(loop_lag_max(&l, t, LOOP_LAG_WINDOW_USEC), 0);
        assert_int_equal(l.max_ever_usec, 1500 * MS);
}

static void test_loop_lag_overdue(void **state) {
        LoopLag l;
        usec_t t = 50 * S;

        loop_lag_init(&l);
        loop_lag_record(&l, t, t, t + 250 * MS);
        /* the loop is stuck: the next tick is 2 s overdue, which counts before the tick ever runs */
        assert_int_equal(loop_lag_current(&l, t + 2250 * MS), 2 * S);
        assert_true(loop_lag_is_lagging(&l, t + 2250 * MS));
        assert_false(loop_lag_is_lagging(&l, t + 1000 * MS));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_loop_lag_window),
                cmocka_unit_test(test_loop_lag_overdue),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

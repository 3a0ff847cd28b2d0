/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Tests for supervisor/guard.c: cooldown per rule and per target (and the exemption of one incident round),
 * the sliding-window token buckets per rule and per host, one action per target, the circuit breaker
 * opening and closing, grace after a foreign restart, persistence and its strict loading.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "guard.h"

#define T0 (1000 * USEC_PER_SEC)
#define MINUTE USEC_PER_MINUTE

static const Id128 A = { { 0xa } }, B = { { 0xb } };

static Guard limits(void) {
        return (Guard){
                .cooldown_usec = 10 * MINUTE,
                .max_actions = 3,
                .per_usec = USEC_PER_HOUR,
                .breaker_after = 3,
                .breaker_window_usec = 6 * USEC_PER_HOUR,
        };
}

static GuardRequest req(const Guard *l, const char *rule, const char *target, Id128 id, unsigned round) {
        return (GuardRequest){ .rule = rule, .limits = l, .target_key = target, .incident = id, .round = round };
}

static void act(GuardState *g, const GuardRequest *r, usec_t t) {
        assert_int_equal(guard_record_action(g, r, t), 0);
        assert_int_equal(guard_release_target(g, r->target_key, &r->incident, true, NULL, t + 1), 1);
}

static void test_cooldown(void **state) {
        GuardState g;
        Guard l = limits();
        GuardDecision d;

        guard_state_init(&g, 10, USEC_PER_HOUR);
        GuardRequest a0 = req(&l, "r", "unit:a.service", A, 0);
        act(&g, &a0, T0);

        /* Same incident, same round: the next step is exempt. */
        guard_check(&g, &a0, T0 + MINUTE, &d);
        assert_int_equal(d.reason, SKIP_NONE);
        /* Same incident reopened (round 1): cooldown. */
        GuardRequest a1 = req(&l, "r", "unit:a.service", A, 1);
        guard_check(&g, &a1, T0 + MINUTE, &d);
        assert_int_equal(d.reason, SKIP_COOLDOWN);
        assert_int_equal(d.until_mono, T0 + 10 * MINUTE);
        assert_non_null(strstr(d.detail, "cooldown of the rule: last action 1m ago, cooldown 10m"));
        /* Another incident of the same rule on another target: the rule's cooldown. */
        GuardRequest b = req(&l, "r", "unit:b.service", B, 0);
        guard_check(&g, &b, T0 + 9 * MINUTE, &d);
        assert_int_equal(d.reason, SKIP_COOLDOWN);
        guard_check(&g, &b, T0 + 10 * MINUTE, &d);
        assert_int_equal(d.reason, SKIP_NONE);
        /* Another rule on the same target: the target's cooldown. */
        GuardRequest other = req(&l, "s", "unit:a.service", B, 0);
        guard_check(&g, &other, T0 + 5 * MINUTE, &d);
        assert_int_equal(d.reason, SKIP_COOLDOWN);
        assert_non_null(strstr(d.detail, "cooldown of the target"));
        guard_state_done(&g);
}

static void test_rate_limits(void **state) {
        GuardState g;
        Guard l = limits();
        GuardDecision d;

        l.cooldown_usec = 0;
        guard_state_init(&g, 4, USEC_PER_HOUR);
        for (unsigned k = 0; k < 3; k++) {
                GuardRequest r = req(&l, "r", "unit:a.service", A, k);
                guard_check(&g, &r, T0 + k * 10 * MINUTE, &d);
                assert_int_equal(d.reason, SKIP_NONE);
                act(&g, &r, T0 + k * 10 * MINUTE);
        }
        GuardRequest r = req(&l, "r", "unit:a.service", A, 9);
        guard_check(&g, &r, T0 + 30 * MINUTE, &d);
        assert_int_equal(d.reason, SKIP_RATE_LIMIT);
        assert_int_equal(d.until_mono, T0 + USEC_PER_HOUR);
        assert_non_null(strstr(d.detail, "3 actions within 1h (at most 3)"));
        guard_check(&g, &r, T0 + USEC_PER_HOUR - 1, &d);
        assert_int_equal(d.reason, SKIP_RATE_LIMIT);
        /* Exactly one period after the first action its token is back. */
        guard_check(&g, &r, T0 + USEC_PER_HOUR, &d);
        assert_int_equal(d.reason, SKIP_NONE);

        /* The host: 4 per hour over all rules. */
        GuardRequest s = req(&l, "s", "unit:b.service", B, 0);
        act(&g, &s, T0 + 31 * MINUTE);
        GuardRequest t = req(&l, "t", "unit:c.service", B, 0);
        guard_check(&g, &t, T0 + 32 * MINUTE, &d);
        assert_int_equal(d.reason, SKIP_RATE_LIMIT);
        assert_non_null(strstr(d.detail, "rate limit of the host: 4 actions within 1h (at most 4)"));
        assert_int_equal(d.until_mono, T0 + USEC_PER_HOUR);

        /* max_actions 0: never. */
        Guard none = limits();
        none.max_actions = 0;
        GuardRequest n = req(&none, "n", "unit:d.service", A, 0);
        guard_check(&g, &n, T0, &d);
        assert_int_equal(d.reason, SKIP_RATE_LIMIT);
        assert_int_equal(d.until_mono, 0);
        guard_state_done(&g);
}

static void test_target_busy(void **state) {
        GuardState g;
        Guard l = limits();
        GuardDecision d;

        guard_state_init(&g, 10, USEC_PER_HOUR);
        GuardRequest a = req(&l, "r", "unit:a.service", A, 0);
        assert_int_equal(guard_record_action(&g, &a, T0), 0);
        assert_true(guard_target_busy(&g, "unit:a.service"));
        GuardRequest b = req(&l, "s", "unit:a.service", B, 0);
        guard_check(&g, &b, T0, &d);
        assert_int_equal(d.reason, SKIP_TARGET_BUSY);
        assert_int_equal(guard_reserve_target(&g, "unit:a.service", &B), -EBUSY);
        assert_int_equal(guard_reserve_target(&g, "unit:a.service", &A), 0);
        /* Only the holder releases. */
        assert_int_equal(guard_release_target(&g, "unit:a.service", &B, true, NULL, T0), 0);
        assert_true(guard_target_busy(&g, "unit:a.service"));
        assert_int_equal(
                guard_release_target(&g, "unit:a.service", &A, true, "0123456789abcdef0123456789abcdef", T0 + 5),
                1);
        assert_false(guard_target_busy(&g, "unit:a.service"));
        assert_string_equal(
                guard_find_target(&g, "unit:a.service")->invocation_id, "0123456789abcdef0123456789abcdef");
        guard_state_done(&g);
}

static void test_breaker(void **state) {
        GuardState g;
        Guard l = limits();
        size_t n;

        guard_state_init(&g, 10, USEC_PER_HOUR);
        assert_int_equal(guard_record_failure(&g, "r", &l, T0), 0);
        assert_int_equal(guard_record_failure(&g, "r", &l, T0 + USEC_PER_HOUR), 0);
        assert_false(guard_breaker_open(&g, "r", &l, T0 + USEC_PER_HOUR, &n));
        assert_int_equal(n, 2);
        assert_int_equal(guard_record_failure(&g, "r", &l, T0 + 2 * USEC_PER_HOUR), 1);
        assert_true(guard_breaker_open(&g, "r", &l, T0 + 2 * USEC_PER_HOUR, &n));
        assert_int_equal(n, 3);
        /* Already open: another failure does not "open" it again. */
        assert_int_equal(guard_record_failure(&g, "r", &l, T0 + 3 * USEC_PER_HOUR), 0);
        GuardDecision d;
        GuardRequest r = req(&l, "r", "unit:a.service", A, 0);
        guard_check(&g, &r, T0 + 3 * USEC_PER_HOUR, &d);
        assert_int_equal(d.reason, SKIP_BREAKER);
        assert_non_null(strstr(d.detail, "4 failed recoveries within 6h"));
        /* Closes when failures age out: at T0+7h, two remain (2h, 3h). */
        assert_false(guard_breaker_open(&g, "r", &l, T0 + 7 * USEC_PER_HOUR + 1, &n));
        assert_int_equal(n, 2);
        /* Another rule is not affected; breaker_after 0 disables it. */
        assert_false(guard_breaker_open(&g, "s", &l, T0 + 3 * USEC_PER_HOUR, NULL));
        Guard off = l;
        off.breaker_after = 0;
        assert_false(guard_breaker_open(&g, "r", &off, T0 + 3 * USEC_PER_HOUR, NULL));
        guard_state_done(&g);
}

static void test_grace(void **state) {
        GuardState g;
        Guard l = limits();
        usec_t until;
        const char *ours = "11111111111111111111111111111111", *deploy = "22222222222222222222222222222222";

        guard_state_init(&g, 10, USEC_PER_HOUR);
        /* Nothing known: a start 30 s ago is foreign. */
        assert_true(
                guard_in_grace(&g, "unit:a.service", deploy, T0 - 30 * USEC_PER_SEC, 2 * MINUTE, T0, &until));
        assert_int_equal(until, T0 + 90 * USEC_PER_SEC);
        /* Older than grace: free. */
        assert_false(guard_in_grace(&g, "unit:a.service", deploy, T0 - 2 * MINUTE, 2 * MINUTE, T0, &until));
        /* Unknown start time: no grace. */
        assert_false(guard_in_grace(&g, "unit:a.service", deploy, 0, 2 * MINUTE, T0, &until));

        /* Our restart: the InvocationID after it is ours. */
        GuardRequest r = req(&l, "r", "unit:a.service", A, 0);
        assert_int_equal(guard_record_action(&g, &r, T0), 0);
        /* Became active while our action ran. */
        assert_false(guard_in_grace(&g, "unit:a.service", ours, T0 + 1, 2 * MINUTE, T0 + 2, &until));
        assert_int_equal(guard_release_target(&g, "unit:a.service", &A, true, ours, T0 + 2 * USEC_PER_SEC), 1);
        assert_false(guard_in_grace(
                &g, "unit:a.service", ours, T0 + USEC_PER_SEC, 2 * MINUTE, T0 + MINUTE, &until));
        /* A deploy after ours. */
        assert_true(guard_in_grace(
                &g, "unit:a.service", deploy, T0 + 30 * USEC_PER_SEC, 2 * MINUTE, T0 + MINUTE, &until));
        guard_state_done(&g);
}

static void test_persistence(void **state) {
        GuardState g, h;
        Guard l = limits();
        IncidentNow now = { 1700000000ULL * USEC_PER_SEC, T0 + 2 * USEC_PER_HOUR };
        char *error = NULL;

        guard_state_init(&g, 10, USEC_PER_HOUR);
        GuardRequest r = req(&l, "r", "unit:a.service", A, 2);
        act(&g, &r, T0 + USEC_PER_HOUR);
        assert_int_equal(guard_record_failure(&g, "r", &l, T0 + USEC_PER_HOUR + 5), 0);

        json_t *j = guard_state_to_json(&g, now);
        assert_non_null(j);
        guard_state_init(&h, 10, USEC_PER_HOUR);
        /* Loaded an hour later (in both clocks): the same relative times. */
        IncidentNow later = { now.wall + USEC_PER_HOUR, now.mono + USEC_PER_HOUR };
        assert_int_equal(guard_state_from_json(&h, j, later, &error), 0);
        const GuardRuleState *rs = guard_find_rule(&h, "r");
        assert_non_null(rs);
        assert_int_equal(rs->last_action_mono, T0 + USEC_PER_HOUR);
        assert_int_equal(rs->last_round, 2);
        assert_int_equal(rs->n_actions, 1);
        assert_int_equal(rs->failures[0], T0 + USEC_PER_HOUR + 5);
        assert_false(guard_target_busy(&h, "unit:a.service"));
        json_t *k = guard_state_to_json(&h, now);
        assert_true(json_equal(j, k));
        json_decref(k);

        /* Strict. */
        json_t *bad = json_deep_copy(j);
        json_object_set_new(bad, "version", json_integer(9));
        assert_int_equal(guard_state_from_json(&h, bad, now, &error), -EPROTONOSUPPORT);
        free(error);
        error = NULL;
        json_decref(bad);
        bad = json_deep_copy(j);
        json_object_set_new(json_array_get(json_object_get(bad, "rules"), 0), "extra", json_true());
        assert_int_equal(guard_state_from_json(&h, bad, now, &error), -EBADMSG);
        assert_non_null(strstr(error, "unknown key 'extra'"));
        free(error);
        error = NULL;
        json_decref(bad);
        bad = json_deep_copy(j);
        json_array_append(json_object_get(bad, "rules"), json_array_get(json_object_get(bad, "rules"), 0));
        assert_int_equal(guard_state_from_json(&h, bad, now, &error), -EBADMSG);
        assert_non_null(strstr(error, "appears twice"));
        free(error);
        error = NULL;
        json_decref(bad);
        /* The failed loads changed nothing. */
        assert_non_null(guard_find_rule(&h, "r"));

        guard_prune(&h, T0 + 30 * USEC_PER_HOUR, 6 * USEC_PER_HOUR);
        assert_null(guard_find_rule(&h, "r"));
        assert_null(guard_find_target(&h, "unit:a.service"));
        json_decref(j);
        guard_state_done(&g);
        guard_state_done(&h);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cooldown),    cmocka_unit_test(test_rate_limits),
                cmocka_unit_test(test_target_busy), cmocka_unit_test(test_breaker),
                cmocka_unit_test(test_grace),       cmocka_unit_test(test_persistence),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

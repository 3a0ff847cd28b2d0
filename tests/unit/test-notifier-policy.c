/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests for notifiers/notifier-policy.c: token bucket, back-off, outcome classification, Retry-After and the
 * choice of what goes out together — all driven with explicit times, no sleeping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "macro.h"
#include "notifier-policy.h"

#define S USEC_PER_SEC

static void test_bucket_burst_then_rate(void **state) {
        TokenBucket b;
        usec_t t = 1000 * S;

        token_bucket_init(&b, 10, 6 * S, t);
        assert_int_equal(token_bucket_available(&b, t), 10);
        for (int i = 0; i < 10; i++)
                assert_true(token_bucket_take(&b, t));
        assert_false(token_bucket_take(&b, t));
        assert_int_equal(token_bucket_available(&b, t), 0);
        /* The next token is exactly one interval away. */
        assert_int_equal(token_bucket_next(&b, t), t + 6 * S);
        assert_false(token_bucket_take(&b, t + 6 * S - 1));
        assert_true(token_bucket_take(&b, t + 6 * S));
        assert_false(token_bucket_take(&b, t + 6 * S));
        /* Partial credit carries over: 3 s later, 3 s more to wait. */
        assert_int_equal(token_bucket_next(&b, t + 9 * S), t + 12 * S);
        /* Sustained rate: one per interval. */
        unsigned sent = 0;
        for (usec_t x = t + 6 * S + 1; x <= t + 66 * S + 1; x += S / 10)
                if (token_bucket_take(&b, x))
                        sent++;
        assert_int_equal(sent, 10);
}

static void test_bucket_caps_at_burst(void **state) {
        TokenBucket b;

        token_bucket_init(&b, 3, 6 * S, 0);
        for (int i = 0; i < 3; i++)
                assert_true(token_bucket_take(&b, 0));
        /* A day of silence earns no more than the burst. */
        assert_int_equal(token_bucket_available(&b, 86400 * S), 3);
        assert_int_equal(token_bucket_next(&b, 86400 * S), 86400 * S);
        /* A clock that appears to go backwards earns nothing and does not wrap. */
        for (int i = 0; i < 3; i++)
                assert_true(token_bucket_take(&b, 86400 * S));
        assert_false(token_bucket_take(&b, 10 * S));
        assert_int_equal(token_bucket_available(&b, 10 * S), 0);
        /* Absurd parameters do not overflow. */
        token_bucket_init(&b, UINT32_MAX, USEC_INFINITY / 2, 0);
        assert_true(token_bucket_take(&b, 0));
}

static void test_backoff(void **state) {
        /* Without jitter (random = 0 gives the lower half point) and at the top of the range. */
        assert_int_equal(backoff_delay(1, S, 300 * S, 0), S / 2);
        assert_int_equal(backoff_delay(1, S, 300 * S, S / 2), S);
        assert_int_equal(backoff_delay(2, S, 300 * S, UINT64_MAX - 1) <= 2 * S, true);
        assert_int_equal(backoff_delay(3, S, 300 * S, 0), 2 * S);
        /* Capped at max, also for huge failure counts. */
        assert_int_equal(backoff_delay(9, S, 300 * S, 0), 128 * S);
        assert_int_equal(backoff_delay(10, S, 300 * S, 0), 150 * S);
        assert_int_equal(backoff_delay(1000, S, 300 * S, 0), 150 * S);
        assert_int_equal(backoff_delay(UINT32_MAX, S, 300 * S, 150 * S), 300 * S);
        /* Every random value stays within [d/2, d]. */
        for (uint64_t r = 0; r < 100000; r += 7919) {
                usec_t d = backoff_delay(4, S, 300 * S, r * 2654435761u);
                assert_true(d >= 4 * S && d <= 8 * S);
        }
        /* Nonsense parameters still give a positive, bounded delay. */
        assert_true(backoff_delay(1, 0, 0, 0) >= 1);
}

static void test_classify(void **state) {
        assert_int_equal(delivery_classify(true, 200), DELIVERY_OK);
        assert_int_equal(delivery_classify(true, 202), DELIVERY_OK);
        assert_int_equal(delivery_classify(true, 204), DELIVERY_OK);
        assert_int_equal(delivery_classify(false, 0), DELIVERY_RETRY);
        assert_int_equal(delivery_classify(false, 200), DELIVERY_RETRY);
        assert_int_equal(delivery_classify(true, 408), DELIVERY_RETRY);
        assert_int_equal(delivery_classify(true, 429), DELIVERY_RETRY);
        assert_int_equal(delivery_classify(true, 500), DELIVERY_RETRY);
        assert_int_equal(delivery_classify(true, 502), DELIVERY_RETRY);
        assert_int_equal(delivery_classify(true, 503), DELIVERY_RETRY);
        assert_int_equal(delivery_classify(true, 599), DELIVERY_RETRY);
        assert_int_equal(delivery_classify(true, 400), DELIVERY_PERMANENT);
        assert_int_equal(delivery_classify(true, 401), DELIVERY_PERMANENT);
        assert_int_equal(delivery_classify(true, 403), DELIVERY_PERMANENT);
        assert_int_equal(delivery_classify(true, 404), DELIVERY_PERMANENT);
        assert_int_equal(delivery_classify(true, 410), DELIVERY_PERMANENT);
        assert_int_equal(delivery_classify(true, 413), DELIVERY_PERMANENT);
        assert_int_equal(delivery_classify(true, 301), DELIVERY_PERMANENT);
        assert_int_equal(delivery_classify(true, 302), DELIVERY_PERMANENT);
        assert_true(delivery_honours_retry_after(429));
        assert_true(delivery_honours_retry_after(503));
        assert_false(delivery_honours_retry_after(500));
        assert_string_equal(delivery_outcome_to_string(DELIVERY_PERMANENT), "permanent");
}

static void test_retry_after(void **state) {
        /* 1994-11-06T08:49:37Z = 784111777 */
        usec_t now = 784111777ULL * S, d;

        assert_int_equal(retry_after_parse("120", now, &d), 0);
        assert_int_equal(d, 120 * S);
        assert_int_equal(retry_after_parse(" 0 ", now, &d), 0);
        assert_int_equal(d, 0);
        assert_int_equal(retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT", now, &d), 0);
        assert_int_equal(d, 0);
        assert_int_equal(retry_after_parse("Sun, 06 Nov 1994 08:50:07 GMT", now, &d), 0);
        assert_int_equal(d, 30 * S);
        assert_int_equal(retry_after_parse("Sun, 06 Nov 1994 08:49:07 GMT", now, &d), 0); /* past */
        assert_int_equal(d, 0);
        assert_int_equal(retry_after_parse("Mon, 07 Nov 1994 08:49:37 GMT\t", now, &d), 0);
        assert_int_equal(d, 86400 * S);

        assert_int_equal(retry_after_parse("", now, &d), -EINVAL);
        assert_int_equal(retry_after_parse(NULL, now, &d), -EINVAL);
        assert_int_equal(retry_after_parse("-5", now, &d), -EINVAL);
        assert_int_equal(retry_after_parse("1.5", now, &d), -EINVAL);
        assert_int_equal(retry_after_parse("soon", now, &d), -EINVAL);
        assert_int_equal(retry_after_parse("Sunday, 06-Nov-94 08:49:37 GMT", now, &d), -EINVAL); /* RFC 850 */
        assert_int_equal(retry_after_parse("Sun Nov  6 08:49:37 1994", now, &d), -EINVAL); /* asctime */
        assert_int_equal(retry_after_parse("Sun, 06 Foo 1994 08:49:37 GMT", now, &d), -EINVAL);
        assert_int_equal(retry_after_parse("Sun, 06 Nov 1994 25:49:37 GMT", now, &d), -EINVAL);
        assert_int_equal(retry_after_parse("Sun, 06 Nov 1994 08:49:37 UTC", now, &d), -EINVAL);
        assert_int_equal(retry_after_parse("99999999999999999999999", now, &d), -ERANGE);
        assert_int_equal(retry_after_parse("18446744073709551615", now, &d), -ERANGE);
}

static void test_mode(void **state) {
        assert_int_equal(outbox_mode_for_kind(NOTIFIER_SLACK), OUTBOX_CHAT);
        assert_int_equal(outbox_mode_for_kind(NOTIFIER_MATTERMOST), OUTBOX_CHAT);
        assert_int_equal(outbox_mode_for_kind(NOTIFIER_TEAMS), OUTBOX_CHAT);
        assert_int_equal(outbox_mode_for_kind(NOTIFIER_DISCORD), OUTBOX_CHAT);
        assert_int_equal(outbox_mode_for_kind(NOTIFIER_WEBHOOK), OUTBOX_EACH);
        assert_int_equal(outbox_mode_for_kind(NOTIFIER_ALERTMANAGER), OUTBOX_STATE);
}

static void test_plan_chat(void **state) {
        const OutboxEntry q[] = {
                { "A", 100 * S }, { "B", 100 * S }, { "A", 101 * S }, { "C", 102 * S }, { "A", 103 * S },
        };
        OutboxPolicy p = { .group_wait_usec = 2 * S, .max_batch = 50 };
        TokenBucket b;
        size_t pick[8], k;
        usec_t nb;

        token_bucket_init(&b, 10, 6 * S, 0);

        /* The head's incident, all of its queued events, after the group wait of the head. */
        k = outbox_plan(OUTBOX_CHAT, q, ELEMENTSOF(q), &p, &b, 100 * S, 0, pick, &nb);
        assert_int_equal(k, 3);
        assert_int_equal(pick[0], 0);
        assert_int_equal(pick[1], 2);
        assert_int_equal(pick[2], 4);
        assert_int_equal(nb, 102 * S);

        /* Later than the group wait: now. */
        k = outbox_plan(OUTBOX_CHAT, q, ELEMENTSOF(q), &p, &b, 110 * S, 0, pick, &nb);
        assert_int_equal(nb, 110 * S);

        /* Back-off pushes it out. */
        k = outbox_plan(OUTBOX_CHAT, q, ELEMENTSOF(q), &p, &b, 110 * S, 200 * S, pick, &nb);
        assert_int_equal(nb, 200 * S);

        /* An empty bucket pushes it to the next token; everything of A still goes together then. */
        for (int i = 0; i < 10; i++)
                assert_true(token_bucket_take(&b, 110 * S));
        k = outbox_plan(OUTBOX_CHAT, q, ELEMENTSOF(q), &p, &b, 110 * S, 0, pick, &nb);
        assert_int_equal(k, 3);
        assert_int_equal(nb, 116 * S);

        /* The batch limit. */
        p.max_batch = 2;
        k = outbox_plan(OUTBOX_CHAT, q, ELEMENTSOF(q), &p, NULL, 110 * S, 0, pick, &nb);
        assert_int_equal(k, 2);
        assert_int_equal(pick[1], 2);
}

/* A storm: 40 events of one incident queued while the bucket is empty go out as one message, not 40. */
static void test_plan_chat_storm(void **state) {
        OutboxEntry q[40];
        OutboxPolicy p = { .group_wait_usec = 2 * S, .max_batch = 50 };
        TokenBucket b;
        size_t pick[40], sent = 0, messages = 0, n = ELEMENTSOF(q);
        usec_t t = 0, nb;

        token_bucket_init(&b, 1, 6 * S, 0);
        for (size_t i = 0; i < n; i++)
                q[i] = (OutboxEntry){ i % 2 ? "X" : "Y", (usec_t) i * S / 10 };
        /* Drive it like the hub: at each due time take a token and remove the batch. */
        while (n > 0) {
                size_t k = outbox_plan(OUTBOX_CHAT, q, n, &p, &b, t, 0, pick, &nb);
                assert_true(k > 0);
                t = MAX(t, nb);
                assert_true(token_bucket_take(&b, t));
                messages++;
                sent += k;
                /* remove picked (indices ascending) */
                size_t w = 0, pi = 0;
                for (size_t i = 0; i < n; i++) {
                        if (pi < k && pick[pi] == i) {
                                pi++;
                                continue;
                        }
                        q[w++] = q[i];
                }
                n = w;
        }
        assert_int_equal(sent, 40);
        assert_int_equal(messages, 2); /* one per incident */
        assert_int_equal(t, 8 * S);    /* the first after its group wait (2 s), the second a token later */
}

static void test_plan_each_and_state(void **state) {
        const OutboxEntry q[] = { { "A", 100 * S }, { "B", 100 * S }, { "A", 101 * S } };
        OutboxPolicy p = { .group_wait_usec = 2 * S, .max_batch = 1 };
        TokenBucket b;
        size_t pick[4], k;
        usec_t nb;

        token_bucket_init(&b, 1, 6 * S, 0);
        assert_true(token_bucket_take(&b, 0));

        /* Webhook: the head alone, right away, no bucket and no group wait. */
        k = outbox_plan(OUTBOX_EACH, q, ELEMENTSOF(q), &p, &b, 100 * S, 0, pick, &nb);
        assert_int_equal(k, 1);
        assert_int_equal(pick[0], 0);
        assert_int_equal(nb, 100 * S);
        k = outbox_plan(OUTBOX_EACH, q, ELEMENTSOF(q), &p, &b, 100 * S, 105 * S, pick, &nb);
        assert_int_equal(nb, 105 * S);

        /* Alertmanager: every queued event of the head's incident (max_batch does not apply). */
        k = outbox_plan(OUTBOX_STATE, q, ELEMENTSOF(q), &p, &b, 100 * S, 0, pick, &nb);
        assert_int_equal(k, 2);
        assert_int_equal(pick[0], 0);
        assert_int_equal(pick[1], 2);
        assert_int_equal(nb, 100 * S);

        /* Empty queue. */
        k = outbox_plan(OUTBOX_STATE, q, 0, &p, &b, 100 * S, 0, pick, &nb);
        assert_int_equal(k, 0);
        assert_int_equal(nb, USEC_INFINITY);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bucket_burst_then_rate),
                cmocka_unit_test(test_bucket_caps_at_burst),
                cmocka_unit_test(test_backoff),
                cmocka_unit_test(test_classify),
                cmocka_unit_test(test_retry_after),
                cmocka_unit_test(test_mode),
                cmocka_unit_test(test_plan_chat),
                cmocka_unit_test(test_plan_chat_storm),
                cmocka_unit_test(test_plan_each_and_state),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

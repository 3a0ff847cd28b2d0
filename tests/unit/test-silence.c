/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Tests for supervisor/silence.c: strict validation of API requests (every bad input gets a clear error),
 * matching by rule and label matchers, expiry, the set's limits, persistence and its strict loading.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "silence.h"

static const IncidentNow NOW = { 1700000000ULL * USEC_PER_SEC, 5000 * USEC_PER_SEC };

static int parse(const char *text, Silence **ret, char **error) {
        json_error_t e;
        json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
        Id128 id = { { 0x5, 0x1 } };
        int r;

        assert_non_null(j);
        r = silence_from_request_json(j, &id, NOW, "uid 1000", ret, error);
        json_decref(j);
        return r;
}

static void expect_error(const char *text, const char *needle) {
        Silence *s = NULL;
        char *error = NULL;

        assert_int_equal(parse(text, &s, &error), -EINVAL);
        assert_null(s);
        assert_non_null(error);
        if (!strstr(error, needle))
                fail_msg("error '%s' does not mention '%s'", error, needle);
        free(error);
}

static void test_request_good(void **state) {
        Silence *s = NULL;
        char *error = NULL;
        const Label labels[] = { { "instance", "web1" }, { "unit", "api.service" } };

        assert_int_equal(
                parse("{\"rule\":\"api-latency\",\"matchers\":[{\"label\":\"unit\",\"value\":\"api.service\"},"
                      "{\"label\":\"instance\",\"op\":\"=~\",\"value\":\"web[0-9]+\"}],"
                      "\"duration\":\"1h\",\"comment\":\"deploy\"}",
                      &s,
                      &error),
                0);
        assert_null(error);
        assert_string_equal(s->rule, "api-latency");
        assert_int_equal(s->n_matchers, 2);
        assert_string_equal(s->created_by, "uid 1000");
        assert_int_equal(s->ends_at, NOW.wall + USEC_PER_HOUR);
        assert_int_equal(s->ends_mono, NOW.mono + USEC_PER_HOUR);
        assert_true(silence_matches(s, "api-latency", "m", labels, 2));
        assert_false(silence_matches(s, "other", "m", labels, 2));
        const Label web10[] = { { "instance", "web10x" }, { "unit", "api.service" } };
        assert_false(silence_matches(s, "api-latency", "m", web10, 2));  /* anchored */
        assert_false(silence_matches(s, "api-latency", "m", labels, 1)); /* unit missing: "" != api.service */
        assert_true(silence_is_active(s, NOW.mono + USEC_PER_HOUR - 1));
        assert_false(silence_is_active(s, NOW.mono + USEC_PER_HOUR));

        json_t *j = silence_to_json(s, NOW.mono);
        assert_string_equal(json_string_value(json_object_get(j, "ends_at")), "2023-11-14T23:13:20.000Z");
        assert_true(json_is_true(json_object_get(j, "active")));
        assert_string_equal(
                json_string_value(json_object_get(json_array_get(json_object_get(j, "matchers"), 1), "op")),
                "=~");
        json_decref(j);
        silence_free(s);

        /* Negative matchers, __name__, ends_at. */
        assert_int_equal(
                parse("{\"matchers\":[{\"label\":\"__name__\",\"value\":\"up\"},{\"label\":\"job\",\"op\":\"!=\","
                      "\"value\":\"x\"},{\"label\":\"env\",\"op\":\"!~\",\"value\":\"prod.*\"}],"
                      "\"ends_at\":\"2023-11-15T00:00:00Z\",\"comment\":\"c\",\"created_by\":\"alice\"}",
                      &s,
                      &error),
                0);
        const Label l2[] = { { "env", "staging" }, { "job", "y" } };
        assert_true(silence_matches(s, "anything", "up", l2, 2));
        assert_false(silence_matches(s, "anything", "down", l2, 2));
        const Label l3[] = { { "env", "production" }, { "job", "y" } };
        assert_false(silence_matches(s, "anything", "up", l3, 2));
        assert_string_equal(s->created_by, "alice");
        assert_int_equal(s->ends_at, 1700006400ULL * USEC_PER_SEC);
        silence_free(s);
}

static void test_request_bad(void **state) {
        expect_error("[1]", "must be a JSON object");
        expect_error(
                "{\"rule\":\"r\",\"duration\":\"1h\",\"comment\":\"c\",\"color\":\"red\"}",
                "unknown key 'color'");
        expect_error("{\"rule\":\"r\",\"duration\":\"1h\"}", "missing 'comment'");
        expect_error("{\"rule\":\"r\",\"duration\":\"1h\",\"comment\":\"\"}", "'comment' must be non-empty");
        expect_error(
                "{\"rule\":\"r\",\"duration\":\"1h\",\"comment\":\"a\\nb\"}",
                "'comment' must be non-empty printable");
        expect_error("{\"rule\":\"r\",\"comment\":\"c\"}", "exactly one of 'duration' and 'ends_at'");
        expect_error(
                "{\"rule\":\"r\",\"duration\":\"1h\",\"ends_at\":\"2030-01-01T00:00:00Z\",\"comment\":\"c\"}",
                "exactly one of");
        expect_error(
                "{\"rule\":\"r\",\"duration\":\"an hour\",\"comment\":\"c\"}", "'duration' is not a duration");
        expect_error("{\"rule\":\"r\",\"duration\":\"0s\",\"comment\":\"c\"}", "more than 0s and at most 90d");
        expect_error("{\"rule\":\"r\",\"duration\":\"91d\",\"comment\":\"c\"}", "at most 90d");
        expect_error(
                "{\"rule\":\"r\",\"ends_at\":\"2001-01-01T00:00:00Z\",\"comment\":\"c\"}", "in the future");
        expect_error("{\"rule\":\"r\",\"ends_at\":\"tomorrow\",\"comment\":\"c\"}", "RFC 3339");
        expect_error("{\"duration\":\"1h\",\"comment\":\"c\"}", "a silence of everything is refused");
        expect_error(
                "{\"rule\":\"Bad Rule\",\"duration\":\"1h\",\"comment\":\"c\"}", "'rule' must be a rule name");
        expect_error("{\"rule\":7,\"duration\":\"1h\",\"comment\":\"c\"}", "'rule' must be a string");
        expect_error(
                "{\"matchers\":{\"unit\":\"x\"},\"duration\":\"1h\",\"comment\":\"c\"}",
                "'matchers' must be an array");
        expect_error(
                "{\"matchers\":[{\"label\":\"1x\",\"value\":\"v\"}],\"duration\":\"1h\",\"comment\":\"c\"}",
                "not a label name");
        expect_error(
                "{\"matchers\":[{\"label\":\"u\",\"op\":\"==\",\"value\":\"v\"}],\"duration\":\"1h\",\"comment\":\"c\"}",
                "unknown op '=='");
        expect_error(
                "{\"matchers\":[{\"label\":\"u\",\"op\":\"=~\",\"value\":\"(\"}],\"duration\":\"1h\",\"comment\":\"c\"}",
                "not a valid POSIX extended regular expression");
        expect_error(
                "{\"matchers\":[{\"label\":\"u\"}],\"duration\":\"1h\",\"comment\":\"c\"}", "missing 'value'");
        expect_error(
                "{\"matchers\":[{\"label\":\"u\",\"value\":\"v\",\"x\":1}],\"duration\":\"1h\",\"comment\":\"c\"}",
                "unknown key 'x'");
        expect_error(
                "{\"rule\":\"r\",\"duration\":\"1h\",\"comment\":\"c\",\"created_by\":\"\"}", "'created_by'");
}

static void test_set_and_persistence(void **state) {
        SilenceSet set = {}, back = {};
        Silence *s = NULL;
        char *error = NULL;

        assert_int_equal(parse("{\"rule\":\"r\",\"duration\":\"10m\",\"comment\":\"c\"}", &s, &error), 0);
        assert_int_equal(silence_set_add(&set, s), 0);
        assert_int_equal(silence_set_add(&set, s), -EEXIST);
        assert_ptr_equal(silence_set_match(&set, NOW.mono, "r", "m", NULL, 0), s);
        assert_null(silence_set_match(&set, NOW.mono + 10 * USEC_PER_MINUTE, "r", "m", NULL, 0));

        json_t *j = silence_set_to_json(&set, NOW);
        IncidentNow later = { NOW.wall + USEC_PER_MINUTE, NOW.mono + USEC_PER_MINUTE };
        assert_int_equal(silence_set_from_json(&back, j, later, &error), 0);
        assert_int_equal(back.n, 1);
        assert_int_equal(back.items[0]->ends_mono, s->ends_mono);
        assert_string_equal(back.items[0]->comment, "c");
        json_t *k = silence_set_to_json(&back, NOW);
        assert_true(json_equal(j, k));
        json_decref(k);

        json_t *bad = json_deep_copy(j);
        json_object_set_new(
                json_array_get(json_object_get(bad, "silences"), 0), "comment", json_string("a\tb"));
        assert_int_equal(silence_set_from_json(&back, bad, NOW, &error), -EBADMSG);
        free(error);
        error = NULL;
        json_decref(bad);
        bad = json_deep_copy(j);
        json_array_append(
                json_object_get(bad, "silences"), json_array_get(json_object_get(bad, "silences"), 0));
        assert_int_equal(silence_set_from_json(&back, bad, NOW, &error), -EBADMSG);
        assert_non_null(strstr(error, "duplicate id"));
        free(error);
        json_decref(bad);
        assert_int_equal(back.n, 1);

        back.items[0]->expired = true;
        silence_set_prune(&back, back.items[0]->ends_mono + USEC_PER_DAY, USEC_PER_DAY);
        assert_int_equal(back.n, 0);
        json_decref(j);
        silence_set_done(&set);
        silence_set_done(&back);
}

static void test_set_limit(void **state) {
        SilenceSet set = {};
        char *error = NULL;

        for (unsigned k = 0; k < SILENCES_MAX; k++) {
                Silence *s = NULL;
                assert_int_equal(
                        parse("{\"rule\":\"r\",\"duration\":\"10m\",\"comment\":\"c\"}", &s, &error), 0);
                s->id.bytes[14] = (uint8_t) (k >> 8);
                s->id.bytes[15] = (uint8_t) k;
                assert_int_equal(silence_set_add(&set, s), 0);
        }
        Silence *s = NULL;
        assert_int_equal(parse("{\"rule\":\"r\",\"duration\":\"10m\",\"comment\":\"c\"}", &s, &error), 0);
        s->id.bytes[13] = 1;
        assert_int_equal(silence_set_add(&set, s), -E2BIG);
        silence_free(s);
        silence_set_done(&set);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_request_good),
                cmocka_unit_test(test_request_bad),
                cmocka_unit_test(test_set_and_persistence),
                cmocka_unit_test(test_set_limit),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Tests for supervisor/incident-api.c: what GET /api/v1/incidents (filters, limit, order), GET
 * /api/v1/incidents/ID (full id, unique prefix, ambiguous, unknown, malformed) and GET /api/v1/silences
 * answer, built from a real engine.
 */
#include "incident-api.h"
#include "incident-harness.h"

static void setup(Harness *h) {
        static Step s[1];
        s[0] = h_restart("api.service");
        h->labels[0] = (Label){ "unit", "api.service" };
        h->n_labels = 1;
        h_rule(h, 0, "api-latency", s, 1);
        h_start(h, false);
}

static Incident *fire(Harness *h, const char *series) {
        h_row(h, 0, series, EVAL_FIRING, true, 0.52, h_t(h) - 60, NAN);
        return h_incident(h, h_n_incidents(h) - 1);
}

static void test_list(void **state) {
        Harness h = {};
        json_t *j = NULL;
        char *error = NULL;
        unsigned status = 0;

        setup(&h);
        Incident *a = fire(&h, "m{unit=\"a\"}");
        h_advance(&h, USEC_PER_SEC);
        fire(&h, "m{unit=\"b\"}");
        h_advance(&h, USEC_PER_SEC);
        h_row(&h, 0, "m{unit=\"a\"}", EVAL_RESOLVED, false, 0.1, NAN, h_t(&h));
        assert_int_equal(a->state, INCIDENT_RESOLVED);

        assert_int_equal(incident_api_list(h.engine, NULL, NULL, &j, &status, &error), 0);
        json_t *list = json_object_get(j, "incidents");
        assert_int_equal(json_array_size(list), 2);
        /* Oldest first, with events. */
        assert_string_equal(
                json_string_value(json_object_get(json_array_get(list, 0), "series")), "m{unit=\"a\"}");
        assert_true(json_array_size(json_object_get(json_array_get(list, 0), "events")) > 0);
        json_decref(j);

        assert_int_equal(incident_api_list(h.engine, "open", NULL, &j, &status, &error), 0);
        assert_int_equal(json_array_size(json_object_get(j, "incidents")), 1);
        json_decref(j);
        assert_int_equal(incident_api_list(h.engine, "resolved", NULL, &j, &status, &error), 0);
        assert_string_equal(
                json_string_value(json_object_get(json_array_get(json_object_get(j, "incidents"), 0), "state")),
                "resolved");
        json_decref(j);
        /* limit keeps the newest. */
        assert_int_equal(incident_api_list(h.engine, NULL, "1", &j, &status, &error), 0);
        assert_string_equal(
                json_string_value(
                        json_object_get(json_array_get(json_object_get(j, "incidents"), 0), "series")),
                "m{unit=\"b\"}");
        json_decref(j);

        assert_int_equal(incident_api_list(h.engine, "sleeping", NULL, &j, &status, &error), -EINVAL);
        assert_int_equal(status, 400);
        assert_non_null(strstr(error, "unknown state 'sleeping'"));
        free(error);
        assert_int_equal(incident_api_list(h.engine, NULL, "0", &j, &status, &error), -EINVAL);
        assert_int_equal(status, 400);
        free(error);
        assert_int_equal(incident_api_list(h.engine, NULL, "ten", &j, &status, &error), -EINVAL);
        free(error);
        h_stop(&h);
}

static void test_get(void **state) {
        Harness h = {};
        json_t *j = NULL;
        char *error = NULL, id[ID128_STRING_MAX];
        unsigned status = 0;

        setup(&h);
        Incident *a = fire(&h, "m{unit=\"a\"}");
        fire(&h, "m{unit=\"b\"}");
        id128_to_string(&a->id, id);

        assert_int_equal(incident_api_get(h.engine, id, &j, &status, &error), 0);
        assert_string_equal(json_string_value(json_object_get(j, "id")), id);
        json_decref(j);
        /* The harness ids share their first bytes: "ab00" matches both. */
        assert_int_equal(incident_api_get(h.engine, "ab00", &j, &status, &error), -EINVAL);
        assert_int_equal(status, 409);
        free(error);
        assert_int_equal(incident_api_get(h.engine, "ffffffff", &j, &status, &error), -EINVAL);
        assert_int_equal(status, 404);
        free(error);
        assert_int_equal(incident_api_get(h.engine, "../etc", &j, &status, &error), -EINVAL);
        assert_int_equal(status, 400);
        free(error);
        assert_int_equal(incident_api_get(h.engine, "", &j, &status, &error), -EINVAL);
        assert_int_equal(status, 400);
        free(error);
        h_stop(&h);
}

static void test_silences(void **state) {
        Harness h = {};
        json_t *body = json_pack("{s:s, s:s, s:s}", "rule", "api-latency", "duration", "1h", "comment", "c");
        Silence *s = NULL;
        char *error = NULL;
        Id128 id = { { 1 } };

        setup(&h);
        assert_int_equal(silence_from_request_json(body, &id, h.now, "uid 0", &s, &error), 0);
        assert_int_equal(incident_engine_add_silence(h.engine, s, h.now, &h.fx), 0);
        json_t *j = incident_api_silences(h.engine, h.now.mono);
        assert_int_equal(json_array_size(json_object_get(j, "silences")), 1);
        assert_true(json_is_true(json_object_get(json_array_get(json_object_get(j, "silences"), 0), "active")));
        json_decref(j);
        json_decref(body);
        h_stop(&h);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_list),
                cmocka_unit_test(test_get),
                cmocka_unit_test(test_silences),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

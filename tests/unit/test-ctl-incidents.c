/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Tests for ctl/ctl-incidents.c: how homeostatctl prints the incident table, one incident's timeline and
 * the silences from API answers, how it refuses answers of the wrong shape, and how --match is parsed. The
 * verbs themselves (requests to a running daemon) are exercised by the integration tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-incidents.h"
#include "macro.h"

/* ctl-incidents.c's verbs call this (homeostatctl.c, which has main()); the tests never reach it. */
int ctl_parse_json_flag(int argc, char *argv[], CtlGlobals *g) {
        fail_msg("not used by the formatting tests");
        return argc;
}

static const char *const INCIDENT =
        "{\"id\":\"0198e2f268ff440fbb610b30647561d4\",\"rule\":\"demo-latency\","
        "\"series\":\"demo_latency_seconds{source=\\\"demo\\\",instance=\\\"a-very-long-instance-name.example\\\"}\","
        "\"host\":\"vm\",\"state\":\"resolved\",\"detected_at\":\"2026-11-28T03:15:07.088Z\","
        "\"resolved_at\":\"2026-11-28T03:15:10.134Z\",\"mttr_seconds\":3.046228,\"events\":["
        "{\"seq\":1,\"at\":\"2026-11-28T03:15:07.088Z\",\"kind\":\"detected\",\"message\":\"anomalous: 0.9 s, expected at most 0.5 s\",\"attrs\":{}},"
        "{\"seq\":2,\"at\":\"2026-11-28T03:15:09.126Z\",\"kind\":\"firing\",\"message\":\"fires\",\"attrs\":{}},"
        "{\"seq\":3,\"at\":\"2026-11-28T03:16:19.128Z\",\"kind\":\"resolved\",\"message\":\"recovered; MTTR 3.05s\",\"attrs\":{}}]}";

static char *print(int (*f)(json_t *, FILE *), const char *text, int *ret) {
        json_t *j = json_loads(text, 0, NULL);
        char *buf = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&buf, &len);

        assert_non_null(j);
        assert_non_null(out);
        *ret = f(j, out);
        fclose(out);
        json_decref(j);
        return buf;
}

static void test_table(void **state) {
        char *text, *out;
        int r;

        assert_true(asprintf(&text, "{\"incidents\":[%s]}", INCIDENT) > 0);
        out = print(ctl_print_incidents, text, &r);
        assert_int_equal(r, 0);
        /* Header, then one row: short id, rule, series cut with an ellipsis, state, detected, MTTR. */
        assert_non_null(strstr(out, "ID        RULE          SERIES"));
        assert_non_null(strstr(
                out, "0198e2f2  demo-latency  demo_latency_seconds{source=\"demo\",instance\u2026  resolved"));
        assert_non_null(strstr(out, "2026-11-28 03:15:07Z"));
        assert_non_null(strstr(out, "3.05s\n"));
        free(out);
        free(text);

        out = print(ctl_print_incidents, "{\"incidents\":[]}", &r);
        assert_int_equal(r, 0);
        assert_string_equal(out, "No incidents.\n");
        free(out);
        out = print(ctl_print_incidents, "{\"error\":\"x\"}", &r);
        assert_int_equal(r, -EBADMSG);
        free(out);
        out = print(ctl_print_incidents, "{\"incidents\":[{\"id\":\"x\"}]}", &r);
        assert_int_equal(r, -EBADMSG);
        free(out);
}

static void test_timeline(void **state) {
        char *out;
        int r;

        out = print(ctl_print_incident, INCIDENT, &r);
        assert_int_equal(r, 0);
        assert_non_null(strstr(out, "Incident 0198e2f268ff440fbb610b30647561d4\n"));
        assert_non_null(strstr(out, "   State: resolved\n"));
        assert_non_null(strstr(out, "    MTTR: 3.05s (detected to the start of the final normal run)\n"));
        assert_non_null(strstr(
                out,
                "   1  03:15:07.088  +0s       detected         anomalous: 0.9 s, expected at most 0.5 s\n"));
        assert_non_null(strstr(out, "   3  03:16:19.128  +1m12s    resolved         recovered; MTTR 3.05s\n"));
        free(out);

        /* Open: no MTTR yet. */
        char *open = strdup(INCIDENT);
        char *p = strstr(open, "3.046228");
        memcpy(p, "null    ", 8);
        out = print(ctl_print_incident, open, &r);
        assert_int_equal(r, 0);
        assert_non_null(strstr(out, "    MTTR: -\n"));
        free(out);
        free(open);

        out = print(
                ctl_print_incident, "{\"id\":\"x\",\"rule\":\"r\",\"series\":\"s\",\"state\":\"firing\"}", &r);
        assert_int_equal(r, -EBADMSG);
        free(out);
}

static void test_silences(void **state) {
        char *out;
        int r;

        out = print(
                ctl_print_silences,
                "{\"silences\":[{\"id\":\"5100000000000000000000000000000a\",\"rule\":\"api-latency\","
                "\"matchers\":[{\"label\":\"unit\",\"op\":\"=~\",\"value\":\"api.*\"}],\"created_at\":null,"
                "\"ends_at\":\"2026-11-28T04:00:00.000Z\",\"comment\":\"deploy\",\"created_by\":\"alice\",\"active\":true}]}",
                &r);
        assert_int_equal(r, 0);
        assert_string_equal(
                out,
                "5100000000000000000000000000000a  active  until 2026-11-28 04:00:00Z  "
                "rule=api-latency unit=~api.*  by alice: deploy\n");
        free(out);
}

static void test_matcher(void **state) {
        static const char *const good[][4] = {
                { "unit=api.service", "unit", "=", "api.service" },
                { "unit!=api.service", "unit", "!=", "api.service" },
                { "unit=~api-.*", "unit", "=~", "api-.*" },
                { "unit!~x", "unit", "!~", "x" },
                { "k=a=b", "k", "=", "a=b" },
                { "k=", "k", "=", "" },
        };
        for (size_t k = 0; k < ELEMENTSOF(good); k++) {
                json_t *m = ctl_parse_matcher(good[k][0]);
                assert_non_null(m);
                assert_string_equal(json_string_value(json_object_get(m, "label")), good[k][1]);
                assert_string_equal(json_string_value(json_object_get(m, "op")), good[k][2]);
                assert_string_equal(json_string_value(json_object_get(m, "value")), good[k][3]);
                json_decref(m);
        }
        assert_null(ctl_parse_matcher("unit"));
        assert_null(ctl_parse_matcher("=x"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table),
                cmocka_unit_test(test_timeline),
                cmocka_unit_test(test_silences),
                cmocka_unit_test(test_matcher),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

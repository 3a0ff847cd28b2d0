/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Tests for supervisor/incident-target.c: the target of a step for an incident (templates expanded from
 * the series' labels, the targets: allow-list, values validated for where they land) and its key and
 * display, which never carry a secret.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "incident-target.h"

static Incident *make_incident(const char *unit) {
        Label labels[] = { { "server", "web1" }, { "unit", unit } };
        Id128 id = { { 0x12, 0x34 } };
        Incident *i = NULL;

        assert_int_equal(incident_new(&id, "api-latency", "m{unit=\"x\"}", "m", labels, 2, &i), 0);
        i->detected_value = 0.52;
        i->detected_expected = 0.15;
        return i;
}

static int target(const Step *s, const Incident *i, IncidentTarget *t, char **reason) {
        Rule r = { .name = (char *) "api-latency" };
        *reason = NULL;
        *t = (IncidentTarget){};
        return incident_step_target(NULL, &r, s, i, t, reason);
}

static void test_units(void **state) {
        Incident *i = make_incident("api-2.service");
        IncidentTarget t;
        char *reason;
        char *allow[] = { (char *) "api-*.service" };
        Step s = { .action = ACTION_RESTART, .unit = { (char *) "api.service", false } };

        assert_int_equal(target(&s, i, &t, &reason), 0);
        assert_string_equal(t.key, "unit:api.service");
        assert_string_equal(t.display, "api.service");
        assert_string_equal(t.unit, "api.service");
        incident_target_done(&t);

        s.unit = (Template){ (char *) "${labels.unit}", true };
        s.targets = allow;
        s.n_targets = 1;
        assert_int_equal(target(&s, i, &t, &reason), 0);
        assert_string_equal(t.key, "unit:api-2.service");
        incident_target_done(&t);

        /* A label outside the allow-list. */
        incident_free(i);
        i = make_incident("sshd.service");
        assert_int_equal(target(&s, i, &t, &reason), -EPERM);
        assert_string_equal(reason, "unit 'sshd.service' is not allowed by the step's targets");
        free(reason);

        /* A label that is not a unit name at all. */
        incident_free(i);
        i = make_incident("x;reboot");
        assert_int_equal(target(&s, i, &t, &reason), -EINVAL);
        assert_non_null(strstr(reason, "does not expand to a valid unit"));
        free(reason);

        /* limit targets the unit too. */
        Step l = { .action = ACTION_LIMIT, .unit = { (char *) "db.service", false } };
        assert_int_equal(target(&l, i, &t, &reason), 0);
        assert_string_equal(t.key, "unit:db.service");
        incident_target_done(&t);
        incident_free(i);
}

static void test_other_kinds(void **state) {
        Incident *i = make_incident("api.service");
        IncidentTarget t;
        char *reason;
        char *allow[] = { (char *) "api/web*" };

        Step h = { .action = ACTION_HAPROXY,
                   .socket = (char *) "/run/haproxy/admin.sock",
                   .server = { (char *) "api/${labels.server}", true },
                   .targets = allow,
                   .n_targets = 1 };
        assert_int_equal(target(&h, i, &t, &reason), 0);
        assert_string_equal(t.key, "haproxy:/run/haproxy/admin.sock:api/web1");
        assert_string_equal(t.display, "api/web1");
        assert_null(t.unit);
        incident_target_done(&t);

        Step r = { .action = ACTION_REDIS, .address = (char *) "127.0.0.1:6379", .db = 2 };
        assert_int_equal(target(&r, i, &t, &reason), 0);
        assert_string_equal(t.key, "redis:127.0.0.1:6379/2");
        incident_target_done(&t);

        Step m = { .action = ACTION_MEMCACHED, .socket = (char *) "/run/mc.sock" };
        assert_int_equal(target(&m, i, &t, &reason), 0);
        assert_string_equal(t.key, "memcached:/run/mc.sock");
        incident_target_done(&t);

        Step x = { .action = ACTION_HTTP,
                   .method = (char *) "PUT",
                   .url = { (char *) "https://ops:hunter2@consul.local:8500/v1/agent/maintenance?enable=true&token=s3cret",
                            false } };
        assert_int_equal(target(&x, i, &t, &reason), 0);
        assert_string_equal(t.key, "http:PUT https://consul.local:8500/v1/agent/maintenance");
        assert_null(strstr(t.display, "hunter2"));
        assert_null(strstr(t.display, "s3cret"));
        incident_target_done(&t);

        Template argv[] = { { (char *) "/usr/local/bin/fix", false }, { (char *) "${labels.unit}", true } };
        char *allow_argv[] = { (char *) "/usr/local/bin/*", (char *) "api*.service" };
        Step e = { .action = ACTION_EXEC, .argv = argv, .n_argv = 2, .targets = allow_argv, .n_targets = 2 };
        assert_int_equal(target(&e, i, &t, &reason), 0);
        assert_string_equal(t.key, "exec:/usr/local/bin/fix");
        incident_target_done(&t);
        incident_free(i);
}

static void test_url_without_secrets(void **state) {
        static const char *const cases[][2] = {
                { "http://127.0.0.1:8080/x", "http://127.0.0.1:8080/x" },
                { "https://u:p@h/p?q=1#f", "https://h/p" },
                { "https://u@h", "https://h" },
                { "http://h/a@b", "http://h/a@b" },
                { "relative?x", "relative" },
        };
        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                char *s = incident_url_without_secrets(cases[k][0]);
                assert_string_equal(s, cases[k][1]);
                free(s);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_units),
                cmocka_unit_test(test_other_kinds),
                cmocka_unit_test(test_url_without_secrets),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

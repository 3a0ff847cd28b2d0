/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests for rules/schema.c and rules/config.c: the model, defaults, fingerprints, file layout, exit codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-check.h"
#include "macro.h"
#include "rules.h"
#include "template.h"

static const char *arch =
        "sources:\n"
        "  - name: api\n"
        "    prometheus: http://127.0.0.1:8080/metrics\n"
        "    interval: 5s\n"
        "  - name: units\n"
        "    systemd: [api.service, \"worker@*.service\"]\n"
        "    interval: 2s\n"
        "    labels: {zone: b, env: prod}\n"
        "  - name: api-probe\n"
        "    http_probe: http://127.0.0.1:8080/healthz\n"
        "    interval: 20s\n"
        "notifiers:\n"
        "  - {name: ops, kind: slack, url_credential: ops-webhook}\n"
        "  - {name: file, kind: webhook, url_file: /etc/x}\n"
        "rules:\n"
        "  - name: api-latency\n"
        "    series: 'http_request_duration_seconds{source=\"api\",quantile=\"0.99\"}'\n"
        "    detector: {kind: seasonal, period: 1d, threshold: 4, direction: up, warmup: 2h}\n"
        "    for: 1m\n"
        "    recover_for: 2m\n"
        "    remediate:\n"
        "      - {action: restart, unit: api.service, verify: 5m}\n"
        "      - {action: haproxy, socket: /run/haproxy/admin.sock, server: api/web1, state: drain, verify: 10m}\n"
        "      - {action: kill, unit: api.service, signal: SIGKILL}\n"
        "      - {action: limit, unit: api.service, cpu_quota: 50%, memory_high: 512M}\n"
        "      - {action: http, url: 'http://127.0.0.1/x'}\n"
        "      - {action: exec, argv: [/bin/true]}\n"
        "    guard: {cooldown: 10m, max_actions: 3, per: 1h}\n"
        "    notify: [file, ops]\n"
        "    mode: remediate\n";

static Config *load_ok(const char *name, const char *text, Diagnostics *d) {
        Config *c = NULL;
        int r = config_load_buffer(name, text, strlen(text), NULL, &c, d);
        if (r < 0) {
                diagnostics_print(d, stderr);
                fail_msg("load failed: %d", r);
        }
        return c;
}

static void test_model(void **state) {
        Diagnostics d = {};
        Config *c = load_ok("arch.yaml", arch, &d);
        assert_int_equal(d.n_errors, 0);
        assert_int_equal(d.n_warnings, 0);
        assert_int_equal(c->n_sources, 3);
        assert_int_equal(c->sources[0].kind, SOURCE_PROMETHEUS);
        assert_int_equal(c->sources[0].interval_usec, 5 * USEC_PER_SEC);
        assert_int_equal(c->sources[0].timeout_usec, 5 * USEC_PER_SEC);
        assert_int_equal(c->sources[1].timeout_usec, 2 * USEC_PER_SEC);
        assert_int_equal(c->sources[2].timeout_usec, 5 * USEC_PER_SEC); /* min(20s, 5s) */
        assert_int_equal(c->sources[0].max_series, 10000);
        assert_int_equal(c->sources[1].n_units, 2);
        assert_string_equal(c->sources[1].labels[0].key, "env"); /* sorted */
        assert_string_equal(c->sources[1].labels[1].value, "b");
        assert_int_equal(c->notifiers[0].url_from, URL_FROM_CREDENTIAL);
        assert_string_equal(c->notifiers[1].url_ref, "/etc/x");

        const Rule *r = config_find_rule(c, "api-latency");
        assert_non_null(r);
        assert_string_equal(r->series->metric, "http_request_duration_seconds");
        assert_int_equal(r->detector.kind, DETECTOR_SEASONAL);
        assert_int_equal(r->detector.n_periods, 1);
        assert_int_equal(r->detector.periods_usec[0], USEC_PER_DAY);
        assert_int_equal(r->detector.warmup_usec, 2 * USEC_PER_HOUR);
        assert_true(r->detector.has_warmup);
        assert_int_equal(r->detector.direction, DIRECTION_UP);
        assert_true(r->detector.threshold > 3.99 && r->detector.threshold < 4.01);
        assert_int_equal(r->for_usec, USEC_PER_MINUTE);
        assert_int_equal(r->reopen_within_usec, 10 * USEC_PER_MINUTE);
        assert_int_equal(r->grace_usec, 2 * USEC_PER_MINUTE);
        assert_int_equal(r->absent_for_usec, 0);
        assert_string_equal(r->timezone, "UTC");
        assert_int_equal(r->transform, TRANSFORM_AUTO);
        assert_int_equal(r->guard.breaker_after, 3);
        assert_int_equal(r->guard.breaker_window_usec, 6 * USEC_PER_HOUR);
        assert_int_equal(r->n_notify, 2);
        assert_int_equal(r->notify[0], 1);
        assert_int_equal(r->notify[1], 0);
        assert_int_equal(r->n_steps, 6);

        const Step *s = &r->steps[0];
        assert_int_equal(s->action, ACTION_RESTART);
        assert_string_equal(s->unit.text, "api.service");
        assert_false(s->unit.templated);
        assert_int_equal(s->settle_usec, 5 * USEC_PER_SEC);
        assert_false(action_has_undo(s));
        s = &r->steps[1];
        assert_int_equal(s->haproxy_state, HAPROXY_STATE_DRAIN);
        assert_int_equal(s->weight, -1);
        assert_int_equal(s->max_hold_usec, USEC_PER_HOUR);
        assert_int_equal(s->verify_usec, 10 * USEC_PER_MINUTE);
        assert_true(action_has_undo(s));
        assert_int_equal(r->steps[2].signal, SIGKILL);
        s = &r->steps[3];
        assert_true(s->has_cpu_quota && s->has_memory_high && !s->has_io_weight && !s->has_tasks_max);
        assert_int_equal(s->cpu_quota_per_sec_usec, 500000);
        assert_int_equal(s->memory_high_bytes, 512ULL << 20);
        assert_true(action_has_undo(s));
        s = &r->steps[4];
        assert_string_equal(s->method, "POST");
        assert_int_equal(s->timeout_usec, 10 * USEC_PER_SEC);
        assert_int_equal(s->n_expect, 0);
        assert_int_equal(r->steps[5].timeout_usec, 30 * USEC_PER_SEC);

        assert_non_null(config_find_source(c, "api-probe"));
        assert_null(config_find_source(c, "nope"));
        assert_string_equal(detector_kind_to_string(DETECTOR_BURNRATE), "burnrate");
        assert_string_equal(action_kind_to_string(ACTION_TRY_RESTART), "try-restart");
        assert_string_equal(source_kind_to_string(SOURCE_HTTP_PROBE), "http_probe");
        assert_string_equal(notifier_kind_to_string(NOTIFIER_ALERTMANAGER), "alertmanager");
        assert_string_equal(haproxy_state_to_string(HAPROXY_STATE_MAINT), "maint");
        assert_string_equal(transform_to_string(TRANSFORM_RAW), "raw");
        assert_string_equal(rule_mode_to_string(RULE_MODE_OBSERVE), "observe");
        assert_string_equal(direction_to_string(DIRECTION_DOWN), "down");
        assert_null(detector_kind_to_string(_DETECTOR_KIND_MAX));
        assert_int_equal(c->n_files, 1);
        assert_string_equal(r->loc.file, "arch.yaml");
        config_free(c);
        diagnostics_done(&d);
}

static uint64_t fingerprint_of(const char *rule_yaml) {
        Diagnostics d = {};
        char *text = NULL;
        assert_true(asprintf(&text, "rules:\n%s", rule_yaml) > 0);
        Config *c = load_ok("f.yaml", text, &d);
        uint64_t f = c->rules[0].fingerprint;
        config_free(c);
        diagnostics_done(&d);
        free(text);
        return f;
}

static void test_fingerprint(void **state) {
        uint64_t a = fingerprint_of(
                "  - {name: a, series: 'x{b=\"1\",a=~\"2\"}', detector: {kind: ewma, threshold: 3}, for: 1m}\n");
        uint64_t b = fingerprint_of(
                "  - {for: 5m, detector: {threshold: 3.0, kind: ewma}, series: \"x{ a=~'2', b='1' }\", name: zz}\n");
        uint64_t c = fingerprint_of(
                "  - {name: a, series: 'x{b=\"1\",a=~\"2\"}', detector: {kind: ewma, threshold: 3.5}}\n");
        uint64_t d = fingerprint_of(
                "  - {name: a, series: 'x{b=\"1\",a=~\"2\"}', detector: {kind: ewma, threshold: 3}, transform: raw}\n");
        uint64_t e = fingerprint_of(
                "  - {name: a, series: 'x{b=\"1\",a=~\"2\"}', detector: {kind: ewma, threshold: 3}, timezone: UTC}\n");
        uint64_t f = fingerprint_of(
                "  - {name: a, series: 'x{b=\"1\",a=~\"2\"}', detector: {kind: cusum, threshold: 3}}\n");
        assert_true(a == b); /* key order, spelling of the selector, name and for: do not matter */
        assert_true(a != c);
        assert_true(a != d);
        assert_true(a == e);
        assert_true(a != f);
        uint64_t g = fingerprint_of(
                "  - {name: s, detector: {kind: burnrate, errors: e, total: t, objective: 99, on: [a, b]}}\n");
        uint64_t h = fingerprint_of(
                "  - {name: s, detector: {kind: burnrate, errors: e, total: t, objective: 99, on: [b, a]}}\n");
        uint64_t i = fingerprint_of(
                "  - {name: s, detector: {kind: burnrate, errors: e, total: t, objective: 99.5, on: [b, a]}}\n");
        assert_true(g == h);
        assert_true(g != i);
        assert_true(a != 0);
}

static void test_defaults_burnrate(void **state) {
        Diagnostics d = {};
        Config *c = load_ok(
                "b.json",
                "{\"rules\": [{\"name\": \"s\", \"detector\": {\"kind\": \"burnrate\", \"errors\": \"e\", "
                "\"total\": \"t\", \"objective\": 99.9}}]}",
                &d);
        const DetectorSpec *ds = &c->rules[0].detector;
        assert_null(c->rules[0].series);
        assert_int_equal(ds->n_windows, 2);
        assert_int_equal(ds->windows[0].long_usec, USEC_PER_HOUR);
        assert_int_equal(ds->windows[0].short_usec, 5 * USEC_PER_MINUTE);
        assert_true(ds->windows[0].factor > 14.39 && ds->windows[0].factor < 14.41);
        assert_int_equal(ds->windows[1].long_usec, 6 * USEC_PER_HOUR);
        assert_string_equal(ds->errors->metric, "e");
        config_free(c);
        diagnostics_done(&d);
}

static void test_errors_all_reported(void **state) {
        Diagnostics d = {};
        Config *c = NULL;
        const char *bad = "rules:\n"
                          "  - {name: A, series: up, detector: {kind: ewma}}\n"
                          "  - {name: b, series: 'up{', detector: {kind: nope}}\n"
                          "  - {name: c, series: up, detector: {kind: ewma}, fro: 1m}\n";
        assert_int_equal(config_load_buffer("e.yaml", bad, strlen(bad), NULL, &c, &d), -EINVAL);
        assert_null(c);
        assert_int_equal(d.n_errors, 4);
        assert_int_equal(d.items[0].loc.line, 2);
        assert_int_equal(d.items[3].loc.line, 4);
        assert_string_equal(d.items[0].file, "e.yaml");
        diagnostics_done(&d);

        /* Warnings only: valid, unless strict. */
        const char *risky =
                "rules:\n  - {name: a, series: up, detector: {kind: ewma}, remediate: [{action: restart, unit: a.service}]}\n";
        ConfigLoadOptions strict = { .strict = true };
        assert_int_equal(config_load_buffer("w.yaml", risky, strlen(risky), NULL, &c, &d), 0);
        assert_int_equal(d.n_warnings, 2);
        config_free(c);
        c = NULL;
        diagnostics_done(&d);
        assert_int_equal(config_load_buffer("w.yaml", risky, strlen(risky), &strict, &c, &d), -EINVAL);
        assert_null(c);
        diagnostics_done(&d);

        /* The size cap. */
        ConfigLoadOptions small = { .max_file_bytes = 10 };
        assert_int_equal(config_load_buffer("s.yaml", "rules: []\n# more", 16, &small, &c, &d), -EINVAL);
        assert_non_null(strstr(d.items[0].message, "too large"));
        diagnostics_done(&d);
}

/* A notifier's URL is a bearer secret: a diagnostic about it names the problem and the place, never the
 * value, even when the value is malformed (a webhook URL pasted without its scheme). */
static void test_notifier_url_not_echoed(void **state) {
        static const char *const bad[] = {
                "notifiers:\n  - {name: ops, kind: slack, url: hooks.example.com/services/T0/B0/SECRETTOKEN}\nrules: []\n",
                "notifiers:\n  - {name: ops, kind: slack, url: 'https://SECRETTOKEN@hooks.example.com/x y'}\nrules: []\n",
                "notifiers:\n  - {name: ops, kind: slack, url: 'gopher://hooks.example.com/SECRETTOKEN'}\nrules: []\n",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                Diagnostics d = {};
                Config *c = NULL;
                assert_int_equal(config_load_buffer("n.yaml", bad[i], strlen(bad[i]), NULL, &c, &d), -EINVAL);
                assert_null(c);
                assert_int_equal(d.n_errors, 1);
                assert_int_equal(d.items[0].loc.line, 2);
                for (size_t k = 0; k < d.n_items; k++) {
                        assert_non_null(strstr(d.items[k].message, "'url'"));
                        assert_null(strstr(d.items[k].message, "SECRETTOKEN"));
                        assert_null(strstr(d.items[k].message, "hooks.example.com"));
                }
                diagnostics_done(&d);
        }
}

static void write_file(const char *dir, const char *name, const char *text) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static void test_layout(void **state) {
        char dir[] = "/tmp/test-rules-XXXXXX", sub[100], path[700];
        Diagnostics d = {};
        Config *c = NULL;

        assert_non_null(mkdtemp(dir));
        snprintf(sub, sizeof(sub), "%s/rules.d", dir);
        assert_int_equal(mkdir(sub, 0755), 0);
        write_file(
                dir, "homeostat.yaml", "notifiers: [{name: ops, kind: slack, url_credential: o}]\nrules: []\n");
        write_file(
                sub,
                "20-b.json",
                "{\"rules\": [{\"name\": \"b\", \"series\": \"up\", \"detector\": {\"kind\": \"ewma\"}, \"notify\": [\"late\"]}]}");
        write_file(sub, "10-a.yml", "rules: [{name: a, series: up, detector: {kind: ewma}, notify: [ops]}]\n");
        write_file(sub, "30-c.yaml", "notifiers: [{name: late, kind: teams, url_credential: t}]\n");
        write_file(sub, "README", "ignored");
        write_file(sub, ".hidden.yaml", "this: [is not parsed");
        write_file(sub, "x.yaml~", "ignored too");

        assert_int_equal(config_load(dir, NULL, &c, &d), 0);
        assert_int_equal(d.n_items, 0);
        assert_int_equal(c->n_files, 4);
        assert_true(endswith(c->files[0], "/homeostat.yaml"));
        assert_true(endswith(c->files[1], "/rules.d/10-a.yml"));
        assert_true(endswith(c->files[2], "/rules.d/20-b.json"));
        assert_string_equal(c->rules[0].name, "a");
        assert_string_equal(c->rules[1].name, "b");
        assert_int_equal(c->rules[1].notify[0], 1);
        assert_string_equal(c->rules[1].loc.file, c->files[2]);
        config_free(c);
        c = NULL;

        /* The main file given as a file picks up rules.d beside it too. */
        snprintf(path, sizeof(path), "%s/homeostat.yaml", dir);
        assert_int_equal(config_load(path, NULL, &c, &d), 0);
        assert_int_equal(c->n_rules, 2);
        config_free(c);
        c = NULL;

        /* An invalid drop-in makes the whole configuration invalid, naming the drop-in. */
        write_file(sub, "40-bad.yaml", "rules: [{name: a, series: up, detector: {kind: ewma}}]\n");
        assert_int_equal(config_load(dir, NULL, &c, &d), -EINVAL);
        assert_int_equal(d.n_errors, 1);
        assert_true(endswith(d.items[0].file, "40-bad.yaml"));
        assert_non_null(strstr(d.items[0].message, "10-a.yml:1:16"));
        diagnostics_done(&d);

        /* Exit codes of the checker. */
        char missing[200];
        snprintf(missing, sizeof(missing), "%s/missing.yaml", dir);
        char *paths[] = { path, missing };
        assert_int_equal(config_check_main(paths, 1, false), 1);
        assert_int_equal(config_check_main(paths + 1, 1, false), 2);
        assert_int_equal(config_check_main(paths, 2, false), 2);
        snprintf(path, sizeof(path), "%s/40-bad.yaml", sub);
        assert_int_equal(unlink(path), 0);
        snprintf(path, sizeof(path), "%s/homeostat.yaml", dir);
        assert_int_equal(config_check_main(paths, 1, false), 0);

        /* Unreadable: a negative errno other than -EINVAL, diagnosed with the path. */
        assert_int_equal(config_load(missing, NULL, &c, &d), -ENOENT);
        assert_non_null(strstr(d.items[0].file, "missing.yaml"));
        diagnostics_done(&d);
        assert_int_equal(config_load(sub, NULL, &c, &d), -ENOENT); /* a directory without homeostat.yaml */
        diagnostics_done(&d);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(mkdir(path, 0755), 0);
        assert_int_equal(config_load(dir, NULL, &c, &d), -EISDIR);
        diagnostics_done(&d);

        /* Clean up. */
        assert_int_equal(rmdir(path), 0);
        const char *names[] = { "20-b.json", "10-a.yml", "30-c.yaml", "README", ".hidden.yaml", "x.yaml~" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                snprintf(path, sizeof(path), "%s/%s", sub, names[i]);
                assert_int_equal(unlink(path), 0);
        }
        assert_int_equal(rmdir(sub), 0);
        assert_int_equal(rmdir(dir), 0);
}

static void test_templates_in_model(void **state) {
        Diagnostics d = {};
        Config *c = load_ok(
                "t.yaml",
                "rules:\n  - name: t\n    series: 'm{unit=~\"api-.*\"}'\n    detector: {kind: ewma}\n    for: 1m\n"
                "    mode: observe\n"
                "    remediate:\n      - {action: restart, unit: '${labels.unit}', targets: ['api-*.service']}\n"
                "      - {action: exec, argv: [/bin/echo, '$$HOME']}\n",
                &d);
        const Step *s = &c->rules[0].steps[0];
        assert_true(s->unit.templated);
        assert_int_equal(s->n_targets, 1);
        Label labels[] = { { "unit", "api-7.service" } };
        TemplateVars v = { .rule = "t", .labels = labels, .n_labels = 1 };
        char *out = NULL;
        assert_int_equal(template_expand(&s->unit, &v, TEMPLATE_UNIT, &out), 0);
        assert_string_equal(out, "api-7.service");
        assert_true(step_target_allowed(s, out));
        free(out);
        labels[0].value = "db.service";
        assert_int_equal(template_expand(&s->unit, &v, TEMPLATE_UNIT, &out), 0);
        assert_false(step_target_allowed(s, out));
        free(out);
        s = &c->rules[0].steps[1];
        assert_true(s->argv[1].templated); /* $$ must be expanded to $ */
        assert_int_equal(template_expand(&s->argv[1], &v, TEMPLATE_ARGV, &out), 0);
        assert_string_equal(out, "$HOME");
        free(out);
        config_free(c);
        diagnostics_done(&d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_model),
                cmocka_unit_test(test_fingerprint),
                cmocka_unit_test(test_defaults_burnrate),
                cmocka_unit_test(test_errors_all_reported),
                cmocka_unit_test(test_notifier_url_not_echoed),
                cmocka_unit_test(test_layout),
                cmocka_unit_test(test_templates_in_model),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

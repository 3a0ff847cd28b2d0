/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests for remediations/ that need no peer: the unit-state policy, HAProxy output parsing, URL
 * redaction and text excerpts, address parsing, the undo JSON format, target keys and template checks,
 * and the failures a context reports when it lacks a bus or an HTTP client.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "remediation-internal.h"

/* ---- unit_check ---- */

static UnitCheck
        check(ActionKind k,
              const char *load,
              const char *active,
              const char *sub,
              const char *result,
              uint32_t job,
              char **why) {
        UnitInfo i = {
                .load_state = (char *) load,
                .active_state = (char *) active,
                .sub_state = (char *) sub,
                .result = (char *) result,
                .job_id = job,
        };
        free(*why);
        *why = NULL;
        return unit_check(k, &i, why);
}

static void test_unit_check(void **state) {
        _cleanup_free_ char *why = NULL;

        assert_int_equal(
                check(ACTION_RESTART, "not-found", "inactive", "dead", NULL, 0, &why), UNIT_CHECK_FAIL);
        assert_string_equal(why, "does not exist (LoadState=not-found)");
        assert_int_equal(check(ACTION_STOP, "masked", "inactive", "dead", NULL, 0, &why), UNIT_CHECK_FAIL);

        assert_int_equal(
                check(ACTION_RESTART, "loaded", "active", "running", "success", 0, &why), UNIT_CHECK_GO);
        assert_null(why);
        assert_int_equal(
                check(ACTION_RESTART, "loaded", "failed", "failed", "exit-code", 0, &why), UNIT_CHECK_GO);
        assert_int_equal(
                check(ACTION_RESTART, "loaded", "inactive", "dead", "success", 0, &why), UNIT_CHECK_SKIP);
        assert_string_equal(why, "is stopped on purpose (inactive, no job)");
        assert_int_equal(
                check(ACTION_TRY_RESTART, "loaded", "inactive", "dead", "success", 0, &why), UNIT_CHECK_SKIP);
        assert_int_equal(
                check(ACTION_RELOAD, "loaded", "inactive", "dead", "success", 0, &why), UNIT_CHECK_SKIP);
        assert_int_equal(check(ACTION_KILL, "loaded", "inactive", "dead", "success", 0, &why), UNIT_CHECK_SKIP);
        assert_int_equal(check(ACTION_KILL, "loaded", "failed", "failed", "signal", 0, &why), UNIT_CHECK_SKIP);
        assert_string_equal(why, "is not running (failed)");

        /* A start step is meant for a stopped unit; a running one needs nothing. */
        assert_int_equal(check(ACTION_START, "loaded", "inactive", "dead", "success", 0, &why), UNIT_CHECK_GO);
        assert_int_equal(
                check(ACTION_START, "loaded", "active", "running", "success", 0, &why), UNIT_CHECK_SKIP);
        assert_int_equal(check(ACTION_STOP, "loaded", "inactive", "dead", "success", 0, &why), UNIT_CHECK_SKIP);
        assert_int_equal(check(ACTION_STOP, "loaded", "failed", "failed", "exit-code", 0, &why), UNIT_CHECK_GO);

        /* Transitions and queued jobs. */
        assert_int_equal(
                check(ACTION_RESTART, "loaded", "activating", "start", "success", 0, &why), UNIT_CHECK_SKIP);
        assert_string_equal(why, "is activating (start)");
        assert_int_equal(
                check(ACTION_STOP, "loaded", "deactivating", "stop-sigterm", "success", 0, &why),
                UNIT_CHECK_SKIP);
        assert_int_equal(
                check(ACTION_RESTART, "loaded", "active", "running", "success", 42, &why), UNIT_CHECK_SKIP);
        assert_string_equal(why, "has a job queued (job 42)");

        /* The start limit is an escalation, for every action that would start the unit. */
        assert_int_equal(
                check(ACTION_RESTART, "loaded", "failed", "failed", "start-limit-hit", 0, &why),
                UNIT_CHECK_FAIL);
        assert_string_equal(why, "start limit hit; escalate");
        assert_int_equal(
                check(ACTION_START, "loaded", "failed", "failed", "start-limit-hit", 0, &why),
                UNIT_CHECK_FAIL);
        assert_int_equal(
                check(ACTION_STOP, "loaded", "failed", "failed", "start-limit-hit", 0, &why), UNIT_CHECK_GO);

        assert_int_equal(check(ACTION_LIMIT, "loaded", "active", "running", "success", 7, &why), UNIT_CHECK_GO);
        assert_int_equal(
                check(ACTION_LIMIT, "loaded", "inactive", "dead", "success", 0, &why), UNIT_CHECK_SKIP);
}

/* ---- HAProxy ---- */

static const char servers_state[] =
        "1\n"
        "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
        "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state "
        "srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port "
        "srv_check_addr srv_agent_addr srv_agent_port\n"
        "3 api 1 web1 127.0.0.1 2 8 10 10 1 1 0 2 0 0 0 0 - 1 - 0 0 - - 0\n"
        "3 api 2 web2 127.0.0.1 2 0 1 1 4 1 0 2 0 0 0 0 - 2 - 0 0 - - 0\n"
        "\n";

static void test_haproxy_parse(void **state) {
        HaproxyServerState st;
        _cleanup_free_ char *e1 = NULL, *e2 = NULL;

        assert_int_equal(haproxy_parse_servers_state(servers_state, "api/web1", &st), 0);
        assert_int_equal(st.admin_state, 8);
        assert_int_equal(st.uweight, 10);
        assert_int_equal(haproxy_state_from_admin(st.admin_state), HAPROXY_STATE_DRAIN);
        assert_int_equal(haproxy_parse_servers_state(servers_state, "api/web2", &st), 0);
        assert_int_equal(st.admin_state, 0);
        assert_int_equal(st.uweight, 1);
        assert_int_equal(haproxy_parse_servers_state(servers_state, "api/web3", &st), -ENOENT);
        assert_int_equal(haproxy_parse_servers_state(servers_state, "web/web1", &st), -ENOENT);
        assert_int_equal(haproxy_parse_servers_state("Can't find backend.\n\n", "x/y", &st), -EBADMSG);
        assert_int_equal(haproxy_parse_servers_state("1\n3 api 1 web1\n", "api/web1", &st), -EBADMSG);
        assert_int_equal(
                haproxy_parse_servers_state("1\n3 api 1 web1 1.2.3.4 2 x 10\n", "api/web1", &st), -EBADMSG);

        assert_int_equal(haproxy_state_from_admin(0), HAPROXY_STATE_READY);
        assert_int_equal(haproxy_state_from_admin(1), HAPROXY_STATE_MAINT);
        assert_int_equal(haproxy_state_from_admin(9), HAPROXY_STATE_MAINT);

        assert_null(haproxy_reply_error("\n"));
        assert_null(haproxy_reply_error(""));
        e1 = haproxy_reply_error("No such server.\n\n");
        assert_string_equal(e1, "No such server.");
        e2 = haproxy_reply_error("Permission denied\r\n");
        assert_string_equal(e2, "Permission denied");

        assert_true(haproxy_server_name_valid("api/web1"));
        assert_true(haproxy_server_name_valid("be-1.x/srv_2:a"));
        assert_false(haproxy_server_name_valid("api"));
        assert_false(haproxy_server_name_valid("/web1"));
        assert_false(haproxy_server_name_valid("api/"));
        assert_false(haproxy_server_name_valid("a/b/c"));
        assert_false(haproxy_server_name_valid("api/web1;shutdown sessions"));
        assert_false(haproxy_server_name_valid("api/web 1"));
        assert_false(haproxy_server_name_valid("api/web1\nset"));
}

/* ---- text ---- */

static void check_redact(const char *url, const char *want) {
        _cleanup_free_ char *r = NULL;
        assert_int_equal(url_redact(url, &r), 0);
        assert_string_equal(r, want);
}

static void test_url_redact(void **state) {
        char *r = NULL;

        check_redact(
                "http://127.0.0.1:8500/v1/agent/maintenance", "http://127.0.0.1:8500/v1/agent/maintenance");
        check_redact("https://user:secret@lb.example/api?token=abc#frag", "https://lb.example/api?…");
        check_redact("http://[::1]:9901/healthcheck/fail", "http://[::1]:9901/healthcheck/fail");
        check_redact("http://127.0.0.1", "http://127.0.0.1/");
        assert_int_equal(url_redact("ftp://127.0.0.1/x", &r), -EPROTONOSUPPORT);
        assert_int_equal(url_redact("not a url", &r), -EINVAL);
        assert_null(r);
}

static void test_text_excerpt(void **state) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;

        a = text_excerpt("ok\n", 3, 100);
        assert_string_equal(a, "ok");
        b = text_excerpt(
                "a\x01"
                "b\tc\r\nd\xff",
                9,
                100);
        assert_string_equal(b, "a?b c  d?");
        c = text_excerpt("0123456789", 10, 4);
        assert_string_equal(c, "0123…");
        d = text_excerpt("h\xc3\xa9llo", 6, 100);
        assert_string_equal(d, "h\xc3\xa9llo");
}

static void test_address_parse(void **state) {
        SockAddress a;
        const char *e = NULL;

        assert_int_equal(sock_address_parse("/run/haproxy/admin.sock", NULL, &a, &e), 0);
        assert_int_equal(a.sa.sa_family, AF_UNIX);
        assert_string_equal(a.display, "/run/haproxy/admin.sock");
        assert_int_equal(sock_address_parse(NULL, "127.0.0.1:6379", &a, &e), 0);
        assert_int_equal(a.sa.sa_family, AF_INET);
        assert_string_equal(a.display, "127.0.0.1:6379");
        assert_int_equal(a.port, 6379);
        assert_int_equal(sock_address_parse(NULL, "[::1]:11211", &a, &e), 0);
        assert_int_equal(a.sa.sa_family, AF_INET6);
        assert_string_equal(a.host, "::1");
        assert_string_equal(a.display, "[::1]:11211");

        assert_int_equal(sock_address_parse(NULL, NULL, &a, &e), -EINVAL);
        assert_int_equal(sock_address_parse("/x", "127.0.0.1:1", &a, &e), -EINVAL);
        assert_int_equal(sock_address_parse("relative.sock", NULL, &a, &e), -EINVAL);
        assert_string_equal(e, "the socket path must be absolute");
        assert_int_equal(sock_address_parse(NULL, "localhost:6379", &a, &e), -EINVAL);
        assert_true(strstr(e, "numeric IP address"));
        assert_int_equal(sock_address_parse(NULL, "127.0.0.1", &a, &e), -EINVAL);
        assert_int_equal(sock_address_parse(NULL, "127.0.0.1:0", &a, &e), -EINVAL);
        assert_int_equal(sock_address_parse(NULL, "127.0.0.1:65536", &a, &e), -EINVAL);
        assert_int_equal(sock_address_parse(NULL, "127.0.0.1:80x", &a, &e), -EINVAL);
        assert_int_equal(sock_address_parse(NULL, "::1:80", &a, &e), -EINVAL);
        char longpath[200];
        memset(longpath, 'a', sizeof(longpath) - 1);
        longpath[0] = '/';
        longpath[sizeof(longpath) - 1] = 0;
        assert_int_equal(sock_address_parse(longpath, NULL, &a, &e), -EINVAL);
}

/* ---- undo JSON ---- */

static void roundtrip(const ActionUndo *u, const char *want_json) {
        _cleanup_free_ char *json = NULL, *json2 = NULL;
        _cleanup_(action_undo_freep) ActionUndo *back = NULL;

        assert_int_equal(remediation_undo_to_json(u, &json), 0);
        assert_string_equal(json, want_json);
        assert_int_equal(remediation_undo_from_json(json, &back), 0);
        assert_int_equal(remediation_undo_to_json(back, &json2), 0);
        assert_string_equal(json2, json);
        assert_string_equal(action_undo_target(back), action_undo_target(u));
}

static void test_undo_json(void **state) {
        _cleanup_(action_undo_freep) ActionUndo *h1 = NULL, *h2 = NULL, *l = NULL;
        _cleanup_free_ char *d1 = NULL, *d2 = NULL, *d3 = NULL;
        LimitValues v = { .has_cpu_quota = true,
                          .cpu_quota_per_sec_usec = UINT64_MAX,
                          .has_tasks_max = true,
                          .tasks_max = 4915 };

        assert_int_equal(
                action_undo_new_haproxy(
                        "/run/haproxy/admin.sock", NULL, "api/web1", HAPROXY_STATE_READY, -1, 0, &h1),
                0);
        roundtrip(
                h1,
                "{\"version\":1,\"kind\":\"haproxy\",\"socket\":\"/run/haproxy/admin.sock\","
                "\"server\":\"api/web1\",\"state\":\"ready\"}");
        assert_string_equal(action_undo_target(h1), "haproxy:/run/haproxy/admin.sock:api/web1");
        assert_int_equal(action_undo_describe(h1, &d1), 0);
        assert_string_equal(d1, "set api/web1 back to ready");

        assert_int_equal(
                action_undo_new_haproxy(
                        NULL, "127.0.0.1:9999", "api/web2", HAPROXY_STATE_NONE, 10, 2 * USEC_PER_SEC, &h2),
                0);
        roundtrip(
                h2,
                "{\"version\":1,\"kind\":\"haproxy\",\"timeout_usec\":2000000,\"address\":\"127.0.0.1:9999\","
                "\"server\":\"api/web2\",\"weight\":10}");
        assert_int_equal(action_undo_describe(h2, &d2), 0);
        assert_string_equal(d2, "set the weight of api/web2 back to 10");

        assert_int_equal(action_undo_new_limit("api.service", &v, 0, &l), 0);
        roundtrip(
                l,
                "{\"version\":1,\"kind\":\"limit\",\"unit\":\"api.service\","
                "\"properties\":{\"CPUQuotaPerSecUSec\":\"infinity\",\"TasksMax\":4915}}");
        assert_string_equal(action_undo_target(l), "unit:api.service");
        assert_int_equal(action_undo_describe(l, &d3), 0);
        assert_string_equal(d3, "restore CPUQuota=infinity TasksMax=4915 on api.service");

        static const char *const bad[] = {
                "",
                "[]",
                "{\"version\":2,\"kind\":\"haproxy\",\"socket\":\"/s\",\"server\":\"a/b\",\"state\":\"ready\"}",
                "{\"kind\":\"haproxy\",\"socket\":\"/s\",\"server\":\"a/b\",\"state\":\"ready\"}",
                "{\"version\":1,\"kind\":\"haproxy\",\"socket\":\"/s\",\"server\":\"a/b\",\"state\":\"ready\",\"x\":1}",
                "{\"version\":1,\"kind\":\"haproxy\",\"socket\":\"/s\",\"server\":\"a/b\"}",
                "{\"version\":1,\"kind\":\"haproxy\",\"socket\":\"/s\",\"server\":\"a/b\",\"state\":\"ready\",\"weight\":1}",
                "{\"version\":1,\"kind\":\"haproxy\",\"socket\":\"/s\",\"server\":\"a/b\",\"state\":\"up\"}",
                "{\"version\":1,\"kind\":\"haproxy\",\"socket\":\"/s\",\"server\":\"a/b\",\"weight\":300}",
                "{\"version\":1,\"kind\":\"haproxy\",\"socket\":\"/s\",\"server\":\"a;b\",\"state\":\"ready\"}",
                "{\"version\":1,\"kind\":\"haproxy\",\"server\":\"a/b\",\"state\":\"ready\"}",
                "{\"version\":1,\"kind\":\"haproxy\",\"address\":\"host:1\",\"server\":\"a/b\",\"state\":\"ready\"}",
                "{\"version\":1,\"kind\":\"limit\",\"unit\":\"a.service\",\"properties\":{}}",
                "{\"version\":1,\"kind\":\"limit\",\"unit\":\"a.service\",\"properties\":{\"CPUQuota\":1}}",
                "{\"version\":1,\"kind\":\"limit\",\"unit\":\"a.service\",\"properties\":{\"TasksMax\":-1}}",
                "{\"version\":1,\"kind\":\"limit\",\"unit\":\"a.service\",\"properties\":{\"TasksMax\":\"lots\"}}",
                "{\"version\":1,\"kind\":\"limit\",\"properties\":{\"TasksMax\":1}}",
                "{\"version\":1,\"kind\":\"restart\",\"unit\":\"a.service\"}",
                "{\"version\":1,\"kind\":\"limit\",\"kind\":\"haproxy\"}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ActionUndo *u = NULL;
                if (remediation_undo_from_json(bad[i], &u) != -EINVAL)
                        fail_msg("accepted: %s", bad[i]);
                assert_null(u);
        }
}

/* ---- targets ---- */

static Step step(ActionKind k) {
        return (Step){ .action = k, .signal = SIGTERM, .weight = -1 };
}

static Template tmpl(const char *s) {
        return (Template){ .text = (char *) s, .templated = strstr(s, "${") != NULL };
}

static void check_target(const Step *s, const TemplateVars *vars, int want_r, const char *want) {
        _cleanup_free_ char *key = NULL, *err = NULL;
        int r = remediation_target(s, vars, &key, &err);
        if (r != want_r)
                fail_msg("remediation_target() = %d (%s), expected %d", r, strna(err), want_r);
        if (want_r == 0)
                assert_string_equal(key, want);
        else
                assert_string_equal(err, want);
}

static void test_targets(void **state) {
        Label labels[] = { { "instance", "web1" }, { "unit", "api.service" } };
        TemplateVars vars = { .rule = "r", .incident = "0123", .labels = labels, .n_labels = 2 };
        char *unit_targets[] = { (char *) "api*.service" };
        Step s;

        s = step(ACTION_RESTART);
        s.unit = tmpl("api.service");
        check_target(&s, NULL, 0, "unit:api.service");
        s.action = ACTION_LIMIT;
        s.has_tasks_max = true;
        s.tasks_max = 10;
        check_target(&s, NULL, 0, "unit:api.service"); /* a limit shares its unit's key */

        /* kill: every signal `check` accepts (1..64, SIGRTMAX included) is one the action sends. */
        s = step(ACTION_KILL);
        s.unit = tmpl("api.service");
        s.signal = SIGRTMAX;
        check_target(&s, NULL, 0, "unit:api.service");
        s.signal = SIGRTMAX + 1;
        check_target(&s, NULL, -EINVAL, "signal 65 is not a valid signal");
        s.signal = 0;
        check_target(&s, NULL, -EINVAL, "signal 0 is not a valid signal");

        s = step(ACTION_RESTART);
        s.unit = tmpl("${labels.unit}");
        s.targets = unit_targets;
        s.n_targets = 1;
        check_target(&s, &vars, 0, "unit:api.service");
        labels[1].value = "db.service";
        check_target(&s, &vars, -EPERM, "unit \"db.service\" is not in the step's targets allow-list");
        labels[1].value = "api.service; rm -rf";
        check_target(&s, &vars, -EINVAL, "unit \"${labels.unit}\" does not expand to a valid unit");
        labels[1].value = "api.service";
        /* A label the series does not carry expands to "", which is no unit name. */
        s.unit = tmpl("${labels.missing}");
        check_target(&s, &vars, -EINVAL, "unit \"${labels.missing}\" does not expand to a valid unit");

        s = step(ACTION_HAPROXY);
        s.socket = (char *) "/run/haproxy/admin.sock";
        s.server = tmpl("api/web1");
        s.haproxy_state = HAPROXY_STATE_DRAIN;
        check_target(&s, NULL, 0, "haproxy:/run/haproxy/admin.sock:api/web1");
        s.server = tmpl("web1");
        check_target(&s, NULL, -EINVAL, "server \"web1\" does not expand to a valid server");
        s.server = tmpl("api/web1");
        s.haproxy_state = HAPROXY_STATE_NONE;
        s.weight = 257;
        check_target(&s, NULL, -EINVAL, "weight 257 is outside 0..256");

        s = step(ACTION_REDIS);
        s.address = (char *) "127.0.0.1:6379";
        s.db = 3;
        check_target(&s, NULL, 0, "redis:127.0.0.1:6379/3");
        s.address = (char *) "redis.local:6379";
        check_target(
                &s, NULL, -EINVAL, "the host must be a numeric IP address (names would need a blocking lookup)");

        s = step(ACTION_MEMCACHED);
        s.socket = (char *) "/run/memcached.sock";
        check_target(&s, NULL, 0, "memcached:/run/memcached.sock");

        s = step(ACTION_HTTP);
        s.url = tmpl("http://tok:en@127.0.0.1:8500/v1/agent/maintenance?enable=true");
        check_target(&s, NULL, 0, "http:POST http://127.0.0.1:8500/v1/agent/maintenance?…");
        HttpHeader h[] = { { tmpl("Bad Header"), tmpl("x") } };
        s.headers = h;
        s.n_headers = 1;
        check_target(&s, NULL, -EINVAL, "\"Bad Header\" is not a valid header name");

        s = step(ACTION_EXEC);
        Template argv[] = { tmpl("/usr/local/bin/fix-it"), tmpl("${labels.instance}") };
        s.argv = argv;
        s.n_argv = 1;
        check_target(&s, &vars, 0, "exec:/usr/local/bin/fix-it");
        s.n_argv = 2;
        char *argv_targets[] = { (char *) "db*" };
        s.targets = argv_targets;
        s.n_targets = 1;
        check_target(
                &s, &vars, -EPERM, "an argv element \"(expanded)\" is not in the step's targets allow-list");
        s.n_argv = 0;
        check_target(&s, &vars, -EINVAL, "the exec step has an empty argv");
}

/* ---- contexts without a bus or HTTP client ---- */

typedef struct Got {
        bool done;
        ActionOutcome outcome;
        char *message;
} Got;

static void on_done(Action *a, ActionResult *r, void *userdata) {
        Got *g = userdata;
        g->done = true;
        g->outcome = r->outcome;
        g->message = strdup(r->message);
}

static void run(sd_event *e, RemediationCtx *c, const Step *s, Got *g) {
        free(g->message);
        *g = (Got){};
        assert_int_equal(remediation_start(c, s, NULL, on_done, g, NULL), 0);
        assert_false(g->done);
        for (int i = 0; i < 100 && !g->done; i++)
                assert_true(sd_event_run(e, 10 * USEC_PER_MSEC) >= 0);
        assert_true(g->done);
}

static void test_ctx_without_peers(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL, *other = NULL;
        _cleanup_(remediation_ctx_freep) RemediationCtx *c = NULL;
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        Got g = {};
        Step s;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(remediation_ctx_new(e, NULL, NULL, 0, &c), 0);

        s = step(ACTION_RESTART);
        s.unit = tmpl("api.service");
        run(e, c, &s, &g);
        assert_int_equal(g.outcome, ACTION_OUTCOME_FAILED);
        assert_string_equal(g.message, "restart of api.service: no connection to the service manager");

        s = step(ACTION_HTTP);
        s.url = tmpl("http://127.0.0.1:1/x");
        run(e, c, &s, &g);
        assert_int_equal(g.outcome, ACTION_OUTCOME_FAILED);
        assert_true(strstr(g.message, "no HTTP client"));

        s = step(ACTION_LIMIT);
        s.unit = tmpl("api.service");
        run(e, c, &s, &g);
        assert_int_equal(g.outcome, ACTION_OUTCOME_FAILED);
        assert_string_equal(g.message, "limit: the limit step sets no property");

        s = step(ACTION_KILL);
        s.unit = tmpl("api.service");
        s.signal = 0;
        run(e, c, &s, &g);
        assert_int_equal(g.outcome, ACTION_OUTCOME_FAILED);

        s = step(_ACTION_KIND_MAX);
        assert_int_equal(remediation_start(c, &s, NULL, on_done, &g, NULL), -EINVAL);
        assert_int_equal(remediation_start(c, NULL, NULL, on_done, &g, NULL), -EINVAL);
        assert_int_equal(remediation_ctx_in_flight(c), 0);
        free(g.message);

        /* A bus on another loop would never deliver our replies. */
        assert_int_equal(sd_event_new(&other), 0);
        assert_int_equal(sd_bus_new(&bus), 0);
        assert_int_equal(sd_bus_attach_event(bus, other, 0), 0);
        RemediationCtx *c2 = NULL;
        assert_int_equal(remediation_ctx_new(e, bus, NULL, 0, &c2), -EINVAL);
        assert_null(c2);
        sd_bus_detach_event(bus);
}

static void cancel_inside(Action *a, ActionResult *r, void *userdata) {
        int *calls = userdata;
        (*calls)++;
        remediation_cancel(a); /* must be harmless: the Action is freed after we return */
}

static void test_cancel_and_free(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        RemediationCtx *c = NULL;
        int calls = 0;
        Step s = step(ACTION_RESTART);

        s.unit = tmpl("api.service");
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(remediation_ctx_new(e, NULL, NULL, 0, &c), 0);
        assert_int_equal(remediation_start(c, &s, NULL, cancel_inside, &calls, NULL), 0);
        for (int i = 0; i < 10; i++)
                assert_true(sd_event_run(e, 0) >= 0);
        assert_int_equal(calls, 1);

        /* Freeing a context with actions in flight: no callbacks, nothing leaks. */
        assert_int_equal(remediation_start(c, &s, NULL, cancel_inside, &calls, NULL), 0);
        assert_int_equal(remediation_start(c, &s, NULL, cancel_inside, &calls, NULL), 0);
        assert_int_equal(remediation_ctx_in_flight(c), 2);
        remediation_ctx_free(c);
        for (int i = 0; i < 10; i++)
                assert_true(sd_event_run(e, 0) >= 0);
        assert_int_equal(calls, 1);
}

static void test_limit_format(void **state) {
        _cleanup_free_ char *a = NULL, *b = NULL;
        LimitValues v = { .has_cpu_quota = true,
                          .cpu_quota_per_sec_usec = 1250000,
                          .has_io_weight = true,
                          .io_weight = UINT64_MAX,
                          .has_memory_high = true,
                          .memory_high_bytes = 1024 };
        LimitValues w = { .has_cpu_quota = true, .cpu_quota_per_sec_usec = 12345 };

        assert_int_equal(limit_values_format(&v, &a), 0);
        assert_string_equal(a, "CPUQuota=125% MemoryHigh=1024 IOWeight=default");
        assert_int_equal(limit_values_format(&w, &b), 0);
        assert_string_equal(b, "CPUQuota=1.23%");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_unit_check),    cmocka_unit_test(test_haproxy_parse),
                cmocka_unit_test(test_url_redact),    cmocka_unit_test(test_text_excerpt),
                cmocka_unit_test(test_address_parse), cmocka_unit_test(test_undo_json),
                cmocka_unit_test(test_targets),       cmocka_unit_test(test_ctx_without_peers),
                cmocka_unit_test(test_limit_format),  cmocka_unit_test(test_cancel_and_free),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

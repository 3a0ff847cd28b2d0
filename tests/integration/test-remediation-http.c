/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * http steps against a loopback receiver (peers.c) that records every request and answers 200, 500,
 * never, or with a reset. Also checks what must not leak into results: URL credentials and queries,
 * header values, bodies.
 */
#include "remediation-harness.h"

static PeerHttp *peer;
static sd_event *event;
static CurlGlue *glue;
static RemediationCtx *ctx, *ctx_dry;

#define WAIT (10 * USEC_PER_SEC)

static char *url(const char *fmt_path) {
        char *u = NULL;
        assert_true(asprintf(&u, "http://127.0.0.1:%u%s", peer->port, fmt_path) > 0);
        return u;
}

static char *request_log(void) {
        char *text = NULL;
        assert_int_equal(peer_http_log(peer, &text), 0);
        return text;
}

static bool captured_mentions(const Captured *c, const char *secret) {
        if (contains(c->message, secret) || contains(c->target, secret))
                return true;
        for (size_t i = 0; i < c->n_attrs; i++)
                if (contains(c->values[i], secret))
                        return true;
        return false;
}

static void test_ok_with_headers_and_body(void **state) {
        _cleanup_free_ char *u = url("/ok"), *expect_msg = NULL, *log = NULL;
        Captured r = {};
        HttpHeader headers[] = {
                { tmpl("Authorization"), tmpl("Bearer s3cret-token") },
                { tmpl("X-Incident"), tmpl("${incident}") },
        };
        TemplateVars vars = { .rule = "api-errors", .incident = "00112233445566778899aabbccddeeff" };
        Step s = step_new(ACTION_HTTP);

        s.url = tmpl(u);
        s.headers = headers;
        s.n_headers = 2;
        s.body = tmpl("{\"rule\":\"${rule}\",\"secret-body\":true}");
        s.timeout_usec = 5 * USEC_PER_SEC;
        run_step(ctx, event, &s, &vars, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        assert_true(asprintf(&expect_msg, "POST %s answered 200", u) > 0);
        assert_string_equal(r.message, expect_msg);
        assert_string_equal(captured_attr(&r, "http_status"), "200");
        assert_string_equal(captured_attr(&r, "response_excerpt"), "ok");
        assert_string_equal(captured_attr(&r, "header_names"), "Authorization, X-Incident");
        assert_false(captured_mentions(&r, "s3cret"));
        assert_false(captured_mentions(&r, "secret-body"));

        log = request_log();
        assert_true(contains(log, "POST /ok HTTP/1.1\n"));
        assert_true(contains(log, "Authorization: Bearer s3cret-token\n"));
        assert_true(contains(log, "X-Incident: 00112233445566778899aabbccddeeff\n"));
        assert_true(contains(log, "{\"rule\":\"api-errors\",\"secret-body\":true}\n--\n"));
        captured_done(&r);
}

static void test_credentials_redacted(void **state) {
        _cleanup_free_ char *u = NULL;
        Captured r = {};
        Step s = step_new(ACTION_HTTP);

        assert_true(asprintf(&u, "http://admin:pa55word@127.0.0.1:%u/ok?token=t0ken", peer->port) > 0);
        s.url = tmpl(u);
        s.method = (char *) "PUT";
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        assert_false(captured_mentions(&r, "pa55word"));
        assert_false(captured_mentions(&r, "admin"));
        assert_false(captured_mentions(&r, "t0ken"));
        assert_true(contains(r.message, "PUT http://127.0.0.1:"));
        assert_true(contains(r.message, "/ok?… answered 200"));
        captured_done(&r);
}

/* An API that quotes the request back in its error answer must not carry the step's secrets into the
 * result: the URL's user and password (also as the Basic credentials curl sends), its query, header
 * values and the body are masked in the excerpt. */
static void test_echoed_secrets_masked(void **state) {
        _cleanup_free_ char *u = NULL, *plain = url("/echo");
        Captured r = {};
        Step s = step_new(ACTION_HTTP);
        HttpHeader headers[] = { { tmpl("X-Api-Key"), tmpl("Key k3y-s3cret") } };

        assert_true(asprintf(&u, "http://admin:pa55word@127.0.0.1:%u/echo?token=t0ken&x=1", peer->port) > 0);
        s.url = tmpl(u);
        s.method = (char *) "PUT";
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_string_equal(captured_attr(&r, "http_status"), "400");
        assert_true(contains(captured_attr(&r, "response_excerpt"), "PUT /echo?"));
        assert_true(contains(captured_attr(&r, "response_excerpt"), "Authorization: Basic "));
        assert_true(contains(r.message, "answered 400: "));
        assert_false(captured_mentions(&r, "pa55word"));
        assert_false(captured_mentions(&r, "t0ken"));
        assert_false(captured_mentions(&r, "YWRtaW46cGE1NXdvcmQ")); /* base64("admin:pa55word") */

        /* One thing at a time, so that each lands inside the 160 characters quoted. */
        s.url = tmpl(plain);
        s.headers = headers;
        s.n_headers = 1;
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_true(contains(captured_attr(&r, "response_excerpt"), "X-Api-Key: "));
        assert_false(captured_mentions(&r, "k3y-s3cret"));

        s.headers = NULL;
        s.n_headers = 0;
        s.body = tmpl("{\"reason\": \"b0dy-s3cret-value\"}");
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_true(contains(captured_attr(&r, "response_excerpt"), "PUT /echo HTTP/1.1"));
        assert_false(captured_mentions(&r, "b0dy-s3cret-value"));
        captured_done(&r);
}

static void test_statuses(void **state) {
        _cleanup_free_ char *fail = url("/fail"), *ok = url("/ok"), *log = NULL;
        unsigned want_202[] = { 202 }, want_500[] = { 500 };
        Captured r = {};
        Step s = step_new(ACTION_HTTP);

        s.url = tmpl(fail);
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_true(contains(r.message, "answered 500: boom: internal error"));
        assert_string_equal(captured_attr(&r, "http_status"), "500");

        s.expect = want_500;
        s.n_expect = 1;
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);

        s.url = tmpl(ok);
        s.expect = want_202;
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);

        s.expect = NULL;
        s.n_expect = 0;
        s.method = (char *) "GET";
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        log = request_log();
        assert_true(contains(log, "GET /ok HTTP/1.1\n"));
        captured_done(&r);
}

static void test_hang_reset_refused(void **state) {
        _cleanup_free_ char *hang = url("/hang"), *reset = url("/reset"), *refused = NULL;
        unsigned port;
        Captured r = {};
        Step s = step_new(ACTION_HTTP);

        s.url = tmpl(hang);
        s.timeout_usec = 400 * USEC_PER_MSEC;
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_TIMED_OUT);
        assert_int_equal(r.error, -ETIMEDOUT);

        s.url = tmpl(reset);
        s.timeout_usec = 5 * USEC_PER_SEC;
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_null(captured_attr(&r, "http_status"));

        assert_int_equal(peer_free_port(&port), 0);
        assert_true(asprintf(&refused, "http://127.0.0.1:%u/ok", port) > 0);
        s.url = tmpl(refused);
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_true(contains(r.message, "failed: "));
        captured_done(&r);
}

static void test_templated_url(void **state) {
        _cleanup_free_ char *u = url("/ok/${labels.instance}"), *allowed = url("/ok/*"), *log = NULL;
        Captured r = {};
        Label labels[] = { { "instance", "web1" } };
        TemplateVars vars = { .rule = "r", .labels = labels, .n_labels = 1 };
        Step s = step_new(ACTION_HTTP);
        char *targets[] = { allowed }, *wrong[] = { (char *) "http://127.0.0.1:*/fail/*" };

        s.url = tmpl(u);
        run_allow_list(ctx, event, &s, &vars, wrong, targets, &r, WAIT);
        log = request_log();
        assert_true(contains(log, "POST /ok/web1 HTTP/1.1\n"));

        /* Substituted values are percent-encoded: a label cannot add path segments or a query. */
        labels[0].value = "web1/../admin?x=1";
        run_step(ctx, event, &s, &vars, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        free(log);
        log = request_log();
        assert_true(contains(log, "POST /ok/web1%2F..%2Fadmin%3Fx%3D1 HTTP/1.1\n"));

        s.method = (char *) "post";
        run_step(ctx, event, &s, &vars, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_true(contains(r.message, "not a valid HTTP method"));
        captured_done(&r);
}

static void test_dry_run(void **state) {
        _cleanup_free_ char *u = url("/ok/dry-run-marker"), *log = NULL, *expect_msg = NULL;
        Captured r = {};
        Step s = step_new(ACTION_HTTP);

        s.url = tmpl(u);
        run_step(ctx_dry, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SKIPPED);
        assert_true(r.dry_run);
        assert_true(asprintf(&expect_msg, "would POST %s", u) > 0);
        assert_string_equal(r.message, expect_msg);
        log = request_log();
        assert_false(contains(log, "dry-run-marker"));

        s.url = tmpl("ftp://127.0.0.1/x");
        run_step(ctx_dry, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        captured_done(&r);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ok_with_headers_and_body),
                cmocka_unit_test(test_credentials_redacted),
                cmocka_unit_test(test_echoed_secrets_masked),
                cmocka_unit_test(test_statuses),
                cmocka_unit_test(test_hang_reset_refused),
                cmocka_unit_test(test_templated_url),
                cmocka_unit_test(test_dry_run),
        };
        int r;

        signal(SIGPIPE, SIG_IGN);
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return 1;
        r = peer_start_verdict(peer_http_start(&peer), "the HTTP receiver");
        if (r != 0)
                return r;
        if (sd_event_new(&event) < 0 || curl_glue_new(event, &glue) < 0 ||
            contexts_new(event, NULL, glue, &ctx, &ctx_dry) < 0)
                return 1;
        r = cmocka_run_group_tests(tests, NULL, NULL);
        contexts_free(ctx, ctx_dry);
        curl_glue_free(glue);
        sd_event_unref(event);
        peer_http_stop(peer);
        curl_global_cleanup();
        return r;
}

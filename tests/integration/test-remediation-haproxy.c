/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * HAProxy traffic shift against a real haproxy (peers.c): drain, maint and weight through the runtime
 * API over a unix socket and over TCP, their undo (also after a JSON round trip, as after a daemon
 * restart), HAProxy's own error messages, dead and hung sockets, dry run. The state is checked with
 * `show servers state`, read by the test itself.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include "remediation-harness.h"

static PeerHaproxy *peer;
static sd_event *event;
static RemediationCtx *ctx, *ctx_dry;

#define WAIT (10 * USEC_PER_SEC)
#define ADMF_FMAINT 0x01u
#define ADMF_FDRAIN 0x08u

static void server_state(const char *server, unsigned *admin, unsigned *weight) {
        assert_int_equal(peer_haproxy_server(peer, "api", server, admin, weight), 0);
}

static Step haproxy_step(const char *server, HaproxyState state, int weight) {
        Step s = step_new(ACTION_HAPROXY);
        s.socket = peer->admin_socket;
        s.server = tmpl(server);
        s.haproxy_state = state;
        s.weight = weight;
        return s;
}

static void test_drain_and_undo(void **state) {
        _cleanup_(action_undo_freep) ActionUndo *undo = NULL, *reread = NULL;
        _cleanup_free_ char *json = NULL, *key = NULL, *desc = NULL;
        unsigned admin, weight;
        Captured r = {};
        Step s = haproxy_step("api/web1", HAPROXY_STATE_DRAIN, -1);

        server_state("web1", &admin, &weight);
        assert_int_equal(admin, 0);

        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        assert_string_equal(r.message, "set api/web1 to drain (was ready)");
        assert_string_equal(captured_attr(&r, "previous_state"), "ready");
        assert_string_equal(captured_attr(&r, "previous_weight"), "10");
        assert_true(asprintf(&key, "haproxy:%s:api/web1", peer->admin_socket) > 0);
        assert_string_equal(r.target, key);
        server_state("web1", &admin, &weight);
        assert_true(admin & ADMF_FDRAIN);
        server_state("web2", &admin, &weight);
        assert_int_equal(admin, 0); /* only the named server */

        undo = TAKE_PTR(r.undo);
        assert_non_null(undo);
        assert_string_equal(action_undo_target(undo), key);
        assert_int_equal(action_undo_describe(undo, &desc), 0);
        assert_string_equal(desc, "set api/web1 back to ready");
        assert_int_equal(remediation_undo_to_json(undo, &json), 0);
        assert_int_equal(remediation_undo_from_json(json, &reread), 0);

        /* Draining again: already so, nothing to undo. */
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SKIPPED);
        assert_null(r.undo);

        run_undo(ctx, event, reread, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        assert_true(r.is_undo);
        assert_string_equal(r.message, "set api/web1 back to ready (was drain)");
        server_state("web1", &admin, &weight);
        assert_int_equal(admin, 0);
        captured_done(&r);
}

static void test_weight_and_undo(void **state) {
        _cleanup_(action_undo_freep) ActionUndo *undo = NULL;
        unsigned admin, weight;
        Captured r = {};
        Step s = haproxy_step("api/web1", HAPROXY_STATE_NONE, 3);

        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        assert_string_equal(r.message, "set the weight of api/web1 to 3 (was 10)");
        server_state("web1", &admin, &weight);
        assert_int_equal(weight, 3);
        undo = TAKE_PTR(r.undo);
        assert_non_null(undo);

        run_undo(ctx, event, undo, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        server_state("web1", &admin, &weight);
        assert_int_equal(weight, 10);
        captured_done(&r);
}

static void test_maint_over_tcp(void **state) {
        _cleanup_(action_undo_freep) ActionUndo *undo = NULL;
        _cleanup_free_ char *address = NULL, *json = NULL;
        unsigned admin, weight;
        Captured r = {};
        Step s = haproxy_step("api/web2", HAPROXY_STATE_MAINT, -1);

        assert_true(asprintf(&address, "127.0.0.1:%u", peer->admin_port) > 0);
        s.socket = NULL;
        s.address = address;
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        server_state("web2", &admin, &weight);
        assert_true(admin & ADMF_FMAINT);

        undo = TAKE_PTR(r.undo);
        assert_int_equal(remediation_undo_to_json(undo, &json), 0);
        assert_true(contains(json, "\"address\":\"127.0.0.1:"));
        run_undo(ctx, event, undo, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        server_state("web2", &admin, &weight);
        assert_int_equal(admin, 0);
        captured_done(&r);
}

static void test_haproxy_errors(void **state) {
        _cleanup_free_ char *stale = NULL, *hung = NULL, *address = NULL;
        _cleanup_close_ int hung_fd = -EBADF;
        unsigned port;
        Captured r = {};
        Step s = haproxy_step("api/nope", HAPROXY_STATE_DRAIN, -1);

        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_string_equal(r.message, "HAProxy: api/nope: No such server.");
        assert_null(r.undo);

        s = haproxy_step("nope/web1", HAPROXY_STATE_DRAIN, -1);
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_true(contains(r.message, "No such backend."));

        /* A socket path nobody listens on, a stale socket file, a closed TCP port. */
        s = haproxy_step("api/web1", HAPROXY_STATE_DRAIN, -1);
        s.socket = (char *) "/tmp/homeostat-no-such-dir/admin.sock";
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_int_equal(r.error, -ENOENT);

        stale = strjoin_path(peer->dir, "stale.sock");
        {
                int fd;
                assert_int_equal(peer_listen_unix(stale, &fd), 0);
                close(fd);
        }
        s.socket = stale;
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_int_equal(r.error, -ECONNREFUSED);

        assert_int_equal(peer_free_port(&port), 0);
        assert_true(asprintf(&address, "127.0.0.1:%u", port) > 0);
        s.socket = NULL;
        s.address = address;
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_int_equal(r.error, -ECONNREFUSED);

        /* A peer that accepts and never answers. */
        hung = strjoin_path(peer->dir, "hung.sock");
        assert_int_equal(peer_listen_unix(hung, &hung_fd), 0);
        s.address = NULL;
        s.socket = hung;
        s.timeout_usec = 300 * USEC_PER_MSEC;
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_TIMED_OUT);
        assert_true(contains(r.message, "did not answer \"get weight api/web1\" within 300ms"));

        /* A host name would need a blocking lookup: refused up front. */
        s.socket = NULL;
        s.address = (char *) "localhost:9999";
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_true(contains(r.message, "numeric IP address"));
        captured_done(&r);
}

static void test_templated_server(void **state) {
        unsigned admin, weight;
        Captured r = {};
        Label labels[] = { { "instance", "web2" } };
        TemplateVars vars = { .rule = "r", .labels = labels, .n_labels = 1 };
        Step s = haproxy_step("api/${labels.instance}", HAPROXY_STATE_NONE, 0);
        char *targets[] = { (char *) "api/web*" }, *wrong[] = { (char *) "api/db*" };

        run_allow_list(ctx, event, &s, &vars, wrong, targets, &r, WAIT);
        server_state("web2", &admin, &weight);
        assert_int_equal(weight, 0);
        _cleanup_(action_undo_freep) ActionUndo *undo = TAKE_PTR(r.undo);
        run_undo(ctx, event, undo, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        server_state("web2", &admin, &weight);
        assert_int_equal(weight, 1);

        /* A label value that would smuggle a second command is refused. */
        labels[0].value = "web1;shutdown sessions";
        run_step(ctx, event, &s, &vars, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        captured_done(&r);
}

static void test_dry_run(void **state) {
        unsigned admin, weight;
        Captured r = {};
        Step s = haproxy_step("api/web1", HAPROXY_STATE_DRAIN, -1);

        run_step(ctx_dry, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SKIPPED);
        assert_true(r.dry_run);
        assert_string_equal(r.message, "would set api/web1 to drain (now ready, weight 10)");
        assert_null(r.undo);
        server_state("web1", &admin, &weight);
        assert_int_equal(admin, 0);

        s = haproxy_step("api/nope", HAPROXY_STATE_DRAIN, -1);
        run_step(ctx_dry, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        captured_done(&r);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_drain_and_undo),   cmocka_unit_test(test_weight_and_undo),
                cmocka_unit_test(test_maint_over_tcp),   cmocka_unit_test(test_haproxy_errors),
                cmocka_unit_test(test_templated_server), cmocka_unit_test(test_dry_run),
        };
        int r;

        r = peer_start_verdict(peer_haproxy_start(&peer), "haproxy");
        if (r != 0)
                return r;
        if (sd_event_new(&event) < 0 || contexts_new(event, NULL, NULL, &ctx, &ctx_dry) < 0) {
                peer_haproxy_stop(peer);
                return 1;
        }
        r = cmocka_run_group_tests(tests, NULL, NULL);
        contexts_free(ctx, ctx_dry);
        sd_event_unref(event);
        peer_haproxy_stop(peer);
        return r;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Cache flushes against a real redis-server and memcached (peers.c): FLUSHDB of one database only,
 * pattern deletion in several SCAN batches with the count reported, unix socket and TCP, Redis' own
 * errors, dead and hung sockets, dry run. Keys are checked with an independent synchronous client.
 */
#include <hiredis/hiredis.h>

#include "remediation-harness.h"

static PeerRedis *redis;
static PeerMemcached *memcached;
static sd_event *event;
static RemediationCtx *ctx, *ctx_dry;

#define WAIT (10 * USEC_PER_SEC)

static redisContext *client(void) {
        redisContext *c = redisConnectUnix(redis->socket);
        assert_non_null(c);
        assert_int_equal(c->err, 0);
        return c;
}

static void cmd_ok(redisContext *c, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        redisReply *rep = redisvCommand(c, fmt, ap);
        va_end(ap);
        assert_non_null(rep);
        assert_int_not_equal(rep->type, REDIS_REPLY_ERROR);
        freeReplyObject(rep);
}

static long long dbsize(unsigned db) {
        redisContext *c = client();
        cmd_ok(c, "SELECT %u", db);
        redisReply *rep = redisCommand(c, "DBSIZE");
        assert_non_null(rep);
        assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
        long long n = rep->integer;
        freeReplyObject(rep);
        redisFree(c);
        return n;
}

static void fill(unsigned db, const char *prefix, unsigned n) {
        redisContext *c = client();
        cmd_ok(c, "SELECT %u", db);
        for (unsigned i = 0; i < n; i++)
                cmd_ok(c, "SET %s%u v", prefix, i);
        redisFree(c);
}

static Step redis_step(unsigned db, const char *pattern) {
        Step s = step_new(ACTION_REDIS);
        s.socket = redis->socket;
        s.db = db;
        s.pattern = (char *) pattern;
        return s;
}

static void test_flushdb(void **state) {
        _cleanup_free_ char *address = NULL;
        Captured r = {};
        Step s = redis_step(2, NULL);

        fill(0, "other:", 4);
        fill(2, "k", 3);
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        assert_true(contains(r.message, "flushed redis db 2 at "));
        assert_true(contains(r.message, "(3 keys)"));
        assert_string_equal(captured_attr(&r, "keys_deleted"), "3");
        assert_int_equal(dbsize(2), 0);
        assert_int_equal(dbsize(0), 4); /* only the named database */

        /* The same over TCP. */
        fill(3, "t", 2);
        assert_true(asprintf(&address, "127.0.0.1:%u", redis->port) > 0);
        s = redis_step(3, NULL);
        s.socket = NULL;
        s.address = address;
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        assert_int_equal(dbsize(3), 0);
        assert_non_null(r.target);
        assert_true(contains(r.target, "redis:127.0.0.1:"));
        captured_done(&r);
}

static void test_pattern(void **state) {
        Captured r = {};
        Step s = redis_step(1, "session:*");

        fill(1, "session:", 600);
        fill(1, "keep:", 5);

        run_step(ctx_dry, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SKIPPED);
        assert_true(r.dry_run);
        assert_int_equal(dbsize(1), 605);

        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        assert_string_equal(captured_attr(&r, "keys_deleted"), "600");
        assert_true(contains(r.message, "deleted 600 keys matching 'session:*' from redis db 1"));
        uint64_t batches;
        assert_int_equal(safe_atou64(captured_attr(&r, "scan_batches"), &batches), 0);
        assert_true(batches >= 2); /* bounded batches, not one big sweep */
        assert_int_equal(dbsize(1), 5);

        /* Nothing left to match. */
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        assert_string_equal(captured_attr(&r, "keys_deleted"), "0");
        captured_done(&r);
}

static void test_redis_errors(void **state) {
        _cleanup_free_ char *hung = NULL, *address = NULL;
        _cleanup_close_ int hung_fd = -EBADF;
        unsigned port;
        Captured r = {};
        Step s = redis_step(99, NULL);

        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_true(contains(r.message, "DB index is out of range"));

        s = redis_step(0, NULL);
        s.socket = (char *) "/tmp/homeostat-no-such-dir/redis.sock";
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_true(contains(r.message, "could not connect to redis"));

        assert_int_equal(peer_free_port(&port), 0);
        assert_true(asprintf(&address, "127.0.0.1:%u", port) > 0);
        s.socket = NULL;
        s.address = address;
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_true(contains(r.message, "could not connect to redis"));

        hung = strjoin_path(redis->dir, "hung.sock");
        assert_int_equal(peer_listen_unix(hung, &hung_fd), 0);
        s.address = NULL;
        s.socket = hung;
        s.timeout_usec = 300 * USEC_PER_MSEC;
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_TIMED_OUT);
        assert_true(contains(r.message, "did not answer within 300ms"));
        captured_done(&r);
}

static void test_redis_dry_run(void **state) {
        Captured r = {};
        Step s = redis_step(4, NULL);

        fill(4, "d", 7);
        run_step(ctx_dry, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SKIPPED);
        assert_true(contains(r.message, "would flush redis db 4 at "));
        assert_true(contains(r.message, "(7 keys)"));
        assert_int_equal(dbsize(4), 7);
        captured_done(&r);
}

static void mc(const char *request, const char *terminator, const char *expect) {
        _cleanup_free_ char *reply = NULL;
        assert_int_equal(peer_socket_request(memcached->socket, 0, request, terminator, &reply), 0);
        assert_string_equal(reply, expect);
}

static void test_memcached(void **state) {
        Captured r = {};
        Step s = step_new(ACTION_MEMCACHED);

        s.socket = memcached->socket;
        mc("set k1 0 0 1\r\na\r\n", "\r\n", "STORED\r\n");
        mc("set k2 0 0 1\r\nb\r\n", "\r\n", "STORED\r\n");

        run_step(ctx_dry, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SKIPPED);
        assert_true(contains(r.message, "would flush_all memcached at "));
        mc("get k1\r\n", "END\r\n", "VALUE k1 0 1\r\na\r\nEND\r\n");

        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_SUCCEEDED);
        assert_true(contains(r.message, "flushed memcached at "));
        mc("get k1\r\n", "END\r\n", "END\r\n");
        mc("get k2\r\n", "END\r\n", "END\r\n");

        s.socket = (char *) "/tmp/homeostat-no-such-dir/mc.sock";
        run_step(ctx, event, &s, NULL, &r, WAIT);
        assert_int_equal(r.outcome, ACTION_OUTCOME_FAILED);
        assert_int_equal(r.error, -ENOENT);
        captured_done(&r);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_flushdb),      cmocka_unit_test(test_pattern),
                cmocka_unit_test(test_redis_errors), cmocka_unit_test(test_redis_dry_run),
                cmocka_unit_test(test_memcached),
        };
        int r;

        r = peer_redis_start(&redis);
        if (r >= 0)
                r = peer_memcached_start(&memcached);
        r = peer_start_verdict(r, "redis-server or memcached");
        if (r != 0) {
                peer_redis_stop(redis);
                return r;
        }
        if (sd_event_new(&event) < 0 || contexts_new(event, NULL, NULL, &ctx, &ctx_dry) < 0)
                return 1;
        r = cmocka_run_group_tests(tests, NULL, NULL);
        contexts_free(ctx, ctx_dry);
        sd_event_unref(event);
        peer_memcached_stop(memcached);
        peer_redis_stop(redis);
        return r;
}

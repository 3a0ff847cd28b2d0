/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Cache flushes: Redis through hiredis' asynchronous API on our sd-event adapter, memcached through one
 * line-oriented request.
 *
 * Redis:  CONNECT+SELECT db -> FLUSH (DBSIZE for the count, then FLUSHDB ASYNC: the keys are gone from
 *         the keyspace when it answers, the memory is freed in the background)
 *      or CONNECT+SELECT db -> SCAN cursor MATCH pattern COUNT 256 -> UNLINK the batch -> SCAN ... until
 *         the cursor is 0. Each reply is handled in its own loop iteration and each batch is bounded, so a
 *         large keyspace never holds the loop. The count reported is the sum of UNLINK's answers (keys
 *         actually deleted; SCAN may return a key twice).
 * The action's deadline covers connect and all round trips (hiredis 0.14 has no timeout of its own).
 *
 * memcached: "flush_all" expecting "OK"; a dry run asks "version" instead, proving the peer answers.
 */
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "redis-sd-event.h"
#include "remediation-internal.h"

#define REDIS_SCAN_COUNT "256"
#define MEMCACHED_MAX_REPLY 4096

typedef enum RedisPhase {
        REDIS_PHASE_SELECT, /* also covers connecting: SELECT is queued before the connection is up */
        REDIS_PHASE_DBSIZE,
        REDIS_PHASE_FLUSH,
        REDIS_PHASE_SCAN,
        REDIS_PHASE_UNLINK,
        _REDIS_PHASE_MAX,
} RedisPhase;

static const char *const redis_phase_names[_REDIS_PHASE_MAX] = {
        [REDIS_PHASE_SELECT] = "connecting and selecting the database",
        [REDIS_PHASE_DBSIZE] = "counting keys",
        [REDIS_PHASE_FLUSH] = "flushing",
        [REDIS_PHASE_SCAN] = "scanning for matching keys",
        [REDIS_PHASE_UNLINK] = "deleting keys",
};

typedef struct RedisAction {
        RedisPhase phase;
        SockAddress addr;
        redisAsyncContext *ac;
        unsigned db;
        char *pattern; /* NULL: FLUSHDB */
        char *cursor;  /* SCAN cursor for the next round */
        uint64_t dbsize;
        uint64_t deleted;
        uint64_t matched; /* dry run: keys SCAN returned */
        uint64_t batches;
} RedisAction;

static RedisAction *ra(Action *a) {
        return a->data;
}

static void redis_release(Action *a) {
        RedisAction *r = a->data;

        if (!r)
                return;
        if (r->ac) {
                redisAsyncContext *ac = TAKE_PTR(r->ac);
                /* Pending callbacks run from here with a NULL reply; they see a->finished and return. */
                redisAsyncFree(ac);
        }
        free(r->pattern);
        free(r->cursor);
        free(r);
}

static void redis_timeout(Action *a) {
        RedisAction *r = ra(a);
        char buf[DURATION_MAX];

        if (r->deleted > 0)
                action_attr_u64(a, "keys_deleted", r->deleted);
        action_finish(
                a,
                ACTION_OUTCOME_TIMED_OUT,
                -ETIMEDOUT,
                "redis at %s did not answer within %s (%s%s)",
                r->addr.display,
                format_duration(buf, sizeof(buf), a->timeout_usec),
                redis_phase_names[r->phase],
                r->deleted > 0 ? "; some keys were already deleted" : "");
}

static const ActionOps redis_ops = {
        .name = "redis",
        .release = redis_release,
        .timeout = redis_timeout,
};

static void on_redis_reply(redisAsyncContext *ac, void *reply, void *privdata);

static int redis_command(Action *a, RedisPhase phase, const char *fmt, ...) {
        RedisAction *r = ra(a);
        va_list ap;
        int k;

        r->phase = phase;
        va_start(ap, fmt);
        k = redisvAsyncCommand(r->ac, on_redis_reply, a, fmt, ap);
        va_end(ap);
        return k == REDIS_OK ? 0 : -EIO;
}

static void redis_fail(Action *a, int error, const char *what) {
        RedisAction *r = ra(a);
        action_finish(
                a,
                ACTION_OUTCOME_FAILED,
                error,
                "redis at %s: %s while %s",
                r->addr.display,
                what,
                redis_phase_names[r->phase]);
}

static void scan_next(Action *a) {
        RedisAction *r = ra(a);
        if (redis_command(
                    a, REDIS_PHASE_SCAN, "SCAN %s MATCH %s COUNT " REDIS_SCAN_COUNT, r->cursor, r->pattern) < 0)
                redis_fail(a, -EIO, "could not send SCAN");
}

static void scan_done(Action *a) {
        RedisAction *r = ra(a);

        action_attr_u64(a, "scan_batches", r->batches);
        if (a->dry_run) {
                action_attr_u64(a, "keys_matching", r->matched);
                action_finish(
                        a,
                        ACTION_OUTCOME_SKIPPED,
                        0,
                        "would delete %" PRIu64 " keys matching '%s' from redis db %u at %s",
                        r->matched,
                        r->pattern,
                        r->db,
                        r->addr.display);
                return;
        }
        action_attr_u64(a, "keys_deleted", r->deleted);
        action_finish(
                a,
                ACTION_OUTCOME_SUCCEEDED,
                0,
                "deleted %" PRIu64 " keys matching '%s' from redis db %u at %s",
                r->deleted,
                r->pattern,
                r->db,
                r->addr.display);
}

/* One SCAN answer: [cursor, [keys...]]. Unlink the batch (or count it in a dry run), then go on. */
static void on_scan(Action *a, redisReply *rep) {
        RedisAction *r = ra(a);

        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
            rep->element[0]->type != REDIS_REPLY_STRING || rep->element[1]->type != REDIS_REPLY_ARRAY) {
                redis_fail(a, -EBADMSG, "unexpected SCAN reply");
                return;
        }
        free(r->cursor);
        r->cursor = strndup(rep->element[0]->str, rep->element[0]->len);
        if (!r->cursor) {
                redis_fail(a, -ENOMEM, "out of memory");
                return;
        }
        r->batches++;
        redisReply *keys = rep->element[1];
        if (keys->elements > 0 && !a->dry_run) {
                size_t n = keys->elements + 1;
                _cleanup_free_ const char **argv = calloc(n, sizeof(char *));
                _cleanup_free_ size_t *argvlen = calloc(n, sizeof(size_t));
                if (!argv || !argvlen || n > INT32_MAX) {
                        redis_fail(a, -ENOMEM, "out of memory");
                        return;
                }
                argv[0] = "UNLINK";
                argvlen[0] = 6;
                for (size_t i = 0; i < keys->elements; i++) {
                        if (keys->element[i]->type != REDIS_REPLY_STRING) {
                                redis_fail(a, -EBADMSG, "unexpected key in SCAN reply");
                                return;
                        }
                        argv[i + 1] = keys->element[i]->str;
                        argvlen[i + 1] = keys->element[i]->len;
                }
                r->phase = REDIS_PHASE_UNLINK;
                /* hiredis formats the command right away: the reply's strings may go after this. */
                if (redisAsyncCommandArgv(r->ac, on_redis_reply, a, (int) n, argv, argvlen) != REDIS_OK)
                        redis_fail(a, -EIO, "could not send UNLINK");
                return;
        }
        r->matched += keys->elements;
        if (streq(r->cursor, "0"))
                scan_done(a);
        else
                scan_next(a);
}

static void on_redis_reply(redisAsyncContext *ac, void *reply, void *privdata) {
        Action *a = privdata;
        redisReply *rep = reply;
        RedisAction *r;

        if (a->finished)
                return;
        r = ra(a);
        if (!rep) {
                /* The connection went away; the disconnect callback reports why if it has not yet. */
                redis_fail(a, -ECONNRESET, ac->errstr[0] ? ac->errstr : "connection lost");
                return;
        }
        if (rep->type == REDIS_REPLY_ERROR) {
                _cleanup_free_ char *m = text_excerpt(rep->str, rep->len, 200);
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        -EIO,
                        "redis at %s answered: %s (while %s)",
                        r->addr.display,
                        strna(m),
                        redis_phase_names[r->phase]);
                return;
        }

        switch (r->phase) {
        case REDIS_PHASE_SELECT:
                if (r->pattern) {
                        scan_next(a);
                        return;
                }
                if (redis_command(a, REDIS_PHASE_DBSIZE, "DBSIZE") < 0)
                        redis_fail(a, -EIO, "could not send DBSIZE");
                return;

        case REDIS_PHASE_DBSIZE:
                if (rep->type != REDIS_REPLY_INTEGER || rep->integer < 0) {
                        redis_fail(a, -EBADMSG, "unexpected DBSIZE reply");
                        return;
                }
                r->dbsize = (uint64_t) rep->integer;
                action_attr_u64(a, "keys_before", r->dbsize);
                if (a->dry_run) {
                        action_finish(
                                a,
                                ACTION_OUTCOME_SKIPPED,
                                0,
                                "would flush redis db %u at %s (%" PRIu64 " keys)",
                                r->db,
                                r->addr.display,
                                r->dbsize);
                        return;
                }
                if (redis_command(a, REDIS_PHASE_FLUSH, "FLUSHDB ASYNC") < 0)
                        redis_fail(a, -EIO, "could not send FLUSHDB");
                return;

        case REDIS_PHASE_FLUSH:
                if (rep->type != REDIS_REPLY_STATUS || !streq(rep->str, "OK")) {
                        redis_fail(a, -EBADMSG, "unexpected FLUSHDB reply");
                        return;
                }
                action_attr_u64(a, "keys_deleted", r->dbsize);
                action_finish(
                        a,
                        ACTION_OUTCOME_SUCCEEDED,
                        0,
                        "flushed redis db %u at %s (%" PRIu64 " keys)",
                        r->db,
                        r->addr.display,
                        r->dbsize);
                return;

        case REDIS_PHASE_SCAN:
                on_scan(a, rep);
                return;

        case REDIS_PHASE_UNLINK:
                if (rep->type != REDIS_REPLY_INTEGER || rep->integer < 0) {
                        redis_fail(a, -EBADMSG, "unexpected UNLINK reply");
                        return;
                }
                r->deleted += (uint64_t) rep->integer;
                if (streq(r->cursor, "0"))
                        scan_done(a);
                else
                        scan_next(a);
                return;

        default:
                return;
        }
}

static void on_redis_connect(const redisAsyncContext *ac, int status) {
        Action *a = ac->data;

        if (!a || a->finished || status == REDIS_OK)
                return;
        /* hiredis frees the context after this callback. */
        ra(a)->ac = NULL;
        action_finish(
                a,
                ACTION_OUTCOME_FAILED,
                -ECONNREFUSED,
                "could not connect to redis at %s: %s",
                ra(a)->addr.display,
                ac->errstr);
}

static void on_redis_disconnect(const redisAsyncContext *ac, int status) {
        Action *a = ac->data;

        if (!a || a->finished) {
                if (a && a->data)
                        ra(a)->ac = NULL;
                return;
        }
        ra(a)->ac = NULL;
        action_finish(
                a,
                ACTION_OUTCOME_FAILED,
                -ECONNRESET,
                "redis at %s closed the connection: %s",
                ra(a)->addr.display,
                ac->errstr[0] ? ac->errstr : "no reason given");
}

int redis_start(Action *a, const SockAddress *addr, unsigned db, const char *pattern) {
        RedisAction *r;
        redisAsyncContext *ac;
        int k;

        a->ops = &redis_ops;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        a->data = r;
        r->addr = *addr;
        r->db = db;
        r->cursor = strdup("0");
        if (!r->cursor)
                return -ENOMEM;
        if (pattern) {
                r->pattern = strdup(pattern);
                if (!r->pattern)
                        return -ENOMEM;
                action_attr(a, "pattern", "%s", pattern);
        }
        action_attr(a, "redis", "%s", addr->display);
        action_attr_u64(a, "db", db);

        if (addr->sa.sa_family == AF_UNIX)
                ac = redisAsyncConnectUnix(addr->un.sun_path);
        else
                ac = redisAsyncConnect(addr->host, (int) addr->port);
        if (!ac)
                return -ENOMEM;
        if (ac->err) {
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        -ECONNREFUSED,
                        "could not connect to redis at %s: %s",
                        addr->display,
                        ac->errstr);
                redisAsyncFree(ac);
                return 0;
        }
        k = redis_sd_event_attach(ac, a->ctx->event);
        if (k < 0) {
                redisAsyncFree(ac);
                return k;
        }
        r->ac = ac;
        ac->data = a;
        (void) redisAsyncSetConnectCallback(ac, on_redis_connect);
        (void) redisAsyncSetDisconnectCallback(ac, on_redis_disconnect);
        if (redis_command(a, REDIS_PHASE_SELECT, "SELECT %u", db) < 0)
                redis_fail(a, -EIO, "could not send SELECT");
        return 0;
}

/* ---- memcached ---- */

typedef struct MemcachedAction {
        SockAddress addr;
        SockRequest *req;
        const char *command;
} MemcachedAction;

static void memcached_release(Action *a) {
        MemcachedAction *m = a->data;

        if (!m)
                return;
        sock_request_free(m->req);
        free(m);
}

static void memcached_timeout(Action *a) {
        MemcachedAction *m = a->data;
        char buf[DURATION_MAX];

        action_finish(
                a,
                ACTION_OUTCOME_TIMED_OUT,
                -ETIMEDOUT,
                "memcached at %s did not answer %s within %s",
                m->addr.display,
                m->command,
                format_duration(buf, sizeof(buf), a->timeout_usec));
}

static const ActionOps memcached_ops = {
        .name = "memcached",
        .release = memcached_release,
        .timeout = memcached_timeout,
};

static void on_memcached_reply(SockRequest *q, int error, const char *reply, size_t len, void *userdata) {
        Action *a = userdata;
        MemcachedAction *m = a->data;
        _cleanup_free_ char *line = NULL;

        if (a->finished)
                return;
        if (error < 0) {
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        error,
                        "memcached at %s: %s failed: %s",
                        m->addr.display,
                        m->command,
                        errno_text(error));
                return;
        }
        line = text_excerpt(reply, strcspn(reply, "\r\n"), 200);
        if (!line) {
                action_finish(a, ACTION_OUTCOME_FAILED, -ENOMEM, "out of memory");
                return;
        }
        if (a->dry_run) {
                const char *v = startswith(line, "VERSION ");
                if (!v)
                        action_finish(
                                a,
                                ACTION_OUTCOME_FAILED,
                                -EBADMSG,
                                "memcached at %s answered version with: %s",
                                m->addr.display,
                                line);
                else
                        action_finish(
                                a,
                                ACTION_OUTCOME_SKIPPED,
                                0,
                                "would flush_all memcached at %s (version %s)",
                                m->addr.display,
                                v);
                return;
        }
        if (!streq(line, "OK")) {
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        -EIO,
                        "memcached at %s answered flush_all with: %s",
                        m->addr.display,
                        line);
                return;
        }
        action_finish(a, ACTION_OUTCOME_SUCCEEDED, 0, "flushed memcached at %s", m->addr.display);
}

int memcached_start(Action *a, const SockAddress *addr) {
        MemcachedAction *m;
        int r;

        a->ops = &memcached_ops;
        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        a->data = m;
        m->addr = *addr;
        m->command = a->dry_run ? "version" : "flush_all";
        action_attr(a, "memcached", "%s", addr->display);

        r = sock_request_start(
                a->ctx->event,
                addr,
                a->dry_run ? "version\r\n" : "flush_all\r\n",
                SOCK_REPLY_LINE,
                MEMCACHED_MAX_REPLY,
                on_memcached_reply,
                a,
                &m->req);
        if (r < 0)
                action_finish(a, ACTION_OUTCOME_FAILED, r, "memcached at %s: %s", addr->display, errno_text(r));
        return 0;
}

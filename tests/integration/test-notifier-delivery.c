/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The notifier hub against a real HTTP peer: webhook-receiver.py on 127.0.0.1, told to answer 500, 429
 * with Retry-After, 400, to hang, to reset the connection or to close mid-response. Proves that a message
 * survives failures and is delivered exactly once per Idempotency-Key once the receiver recovers, that a
 * hang times out and is retried, that a new hub on the same spool delivers what the old one queued, that
 * a 400 dead-letters, that chat notifiers coalesce and rate-limit, how reconfiguration treats credentials,
 * removed and orphaned notifiers, and that the URL's secret never shows up in reports, stats or the spool.
 *
 * Usage: test-notifier-delivery PYTHON3 webhook-receiver.py (meson passes both). The last test prints
 * delivery figures with baselines measured in the same run; nothing asserts on timing except lower bounds
 * that follow from the protocol (Retry-After, the request timeout).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "notifier-spool.h"
#include "notifier.h"
#include "util.h"
#include "webhook-receiver.h"

#define SECRET "SECRET-TOKEN"
#define MS USEC_PER_MSEC
#define S USEC_PER_SEC

static const char *arg_python, *arg_script;
static Receiver receiver = { .pid = -1 };

/* ---- reports ---- */

#define MAX_REPORTS 1024
typedef struct Captured {
        NotifierReportKind kind;
        long status;
        usec_t retry_in;
        size_t n_messages;
        char *line;
} Captured;
static Captured reports[MAX_REPORTS];
static size_t n_reports;

static void on_report(const NotifierReport *r, void *userdata) {
        char *line = NULL;
        assert_int_equal(notifier_report_format(r, &line), 0);
        if (n_reports < MAX_REPORTS)
                reports[n_reports++] =
                        (Captured){ r->kind, r->http_status, r->retry_in_usec, r->n_messages, line };
        else
                free(line);
}

static void reports_clear(void) {
        for (size_t i = 0; i < n_reports; i++)
                free(reports[i].line);
        n_reports = 0;
}

static size_t reports_count(NotifierReportKind kind) {
        size_t k = 0;
        for (size_t i = 0; i < n_reports; i++)
                k += reports[i].kind == kind;
        return k;
}

static const Captured *report_find(NotifierReportKind kind) {
        for (size_t i = 0; i < n_reports; i++)
                if (reports[i].kind == kind)
                        return &reports[i];
        return NULL;
}

/* ---- fixture ---- */

typedef struct Ctx {
        char spool[128];
        sd_event *event;
        CurlGlue *glue;
        NotifierHub *hub;
        NotifierHubOptions opts;
} Ctx;

static void test_options(NotifierHubOptions *o) {
        notifier_hub_options_default(o);
        o->request_timeout_usec = 1500 * MS;
        o->backoff_min_usec = 100 * MS;
        o->backoff_max_usec = 1 * S;
        o->group_wait_usec = 200 * MS;
}

static void hub_start(Ctx *c) {
        assert_int_equal(notifier_hub_new(c->event, c->glue, c->spool, &c->opts, &c->hub), 0);
        notifier_hub_set_report_callback(c->hub, on_report, NULL);
}

static void hub_stop(Ctx *c) {
        c->hub = notifier_hub_free(c->hub);
}

static int setup(void **state) {
        Ctx *c = calloc(1, sizeof(*c));
        snprintf(c->spool, sizeof(c->spool), "/tmp/test-notifier-delivery-XXXXXX");
        assert_non_null(mkdtemp(c->spool));
        strncat(c->spool, "/outbox", sizeof(c->spool) - strlen(c->spool) - 1); /* created by the hub */
        assert_int_equal(sd_event_new(&c->event), 0);
        assert_int_equal(curl_glue_new(c->event, &c->glue), 0);
        test_options(&c->opts);
        assert_int_equal(receiver_reset(&receiver), 0);
        reports_clear();
        *state = c;
        return 0;
}

static void check_no_secret(Ctx *c);

static int teardown(void **state) {
        Ctx *c = *state;
        char *slash;

        check_no_secret(c);
        hub_stop(c);
        curl_glue_free(c->glue);
        sd_event_unref(c->event);
        slash = strrchr(c->spool, '/');
        *slash = 0;
        remove_tree(c->spool);
        reports_clear();
        free(c);
        return 0;
}

static char *url_for(const char *path) {
        char *u;
        assert_true(asprintf(&u, "http://127.0.0.1:%d%s", receiver.port, path) > 0);
        return u;
}

static void configure(Ctx *c, const NotifierConfig *cfg, size_t n, int expect) {
        assert_int_equal(notifier_hub_configure(c->hub, cfg, n), expect);
}

/* A literal-URL notifier config whose url_ref the caller frees. */
static NotifierConfig literal(const char *name, NotifierKind kind, const char *path) {
        return (NotifierConfig){
                .name = (char *) name, .kind = kind, .url_from = URL_FROM_LITERAL, .url_ref = url_for(path)
        };
}

static void script(const char *fmt, ...) _printf_(1, 2);
static void script(const char *fmt, ...) {
        char *s;
        va_list ap;
        va_start(ap, fmt);
        assert_true(vasprintf(&s, fmt, ap) > 0);
        va_end(ap);
        assert_int_equal(receiver_script(&receiver, s), 0);
        free(s);
}

static json_t *incident(const char *id, const char *state) {
        bool resolved = streq(state, "resolved");
        return json_pack(
                "{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:[]}",
                "id",
                id,
                "rule",
                "api-latency",
                "series",
                "http_request_duration_seconds{quantile=\"0.99\",source=\"api\"}",
                "host",
                "web1",
                "state",
                state,
                "detected_at",
                "2026-11-28T02:30:38.000Z",
                "resolved_at",
                resolved ? json_string("2026-11-28T02:31:20.000Z") : json_null(),
                "mttr_seconds",
                resolved ? json_real(42.0) : json_null(),
                "events");
}

static json_t *event(int seq, const char *kind, const char *message) {
        return json_pack(
                "{s:i, s:s, s:s, s:s, s:{s:f, s:f, s:f, s:f}}",
                "seq",
                seq,
                "at",
                "2026-11-28T02:30:39.000Z",
                "kind",
                kind,
                "message",
                message,
                "attrs",
                "value",
                0.52,
                "expected",
                0.15,
                "lower",
                0.11,
                "upper",
                0.19);
}

static int publish(
        Ctx *c, const char *name, const char *id, const char *state, int seq, const char *kind, const char *msg) {
        json_t *i = incident(id, state), *e = event(seq, kind, msg);
        int r = notifier_hub_publish(c->hub, name, i, e);
        json_decref(i);
        json_decref(e);
        return r;
}

static bool stats_of(Ctx *c, const char *name, NotifierStats *ret) {
        NotifierStats *v = NULL;
        size_t n = 0;
        bool found = false;

        assert_int_equal(notifier_hub_stats(c->hub, &v, &n), 0);
        for (size_t i = 0; i < n; i++)
                if (streq(v[i].name, name)) {
                        *ret = v[i];
                        found = true;
                }
        free(v);
        return found;
}

typedef bool (*Predicate)(Ctx *c, const void *arg);

/* Run the loop until pred holds; false on timeout (a guard against hangs, generous on purpose). */
static bool run_until(Ctx *c, Predicate pred, const void *arg, usec_t timeout) {
        usec_t end = now(CLOCK_MONOTONIC) + timeout;
        while (!pred(c, arg)) {
                if (now(CLOCK_MONOTONIC) > end)
                        return false;
                assert_true(sd_event_run(c->event, 50 * MS) >= 0);
        }
        return true;
}

static void run_for(Ctx *c, usec_t duration) {
        usec_t end = now(CLOCK_MONOTONIC) + duration;
        while (now(CLOCK_MONOTONIC) < end)
                assert_true(
                        sd_event_run(c->event, MIN(50 * MS, end - MIN(end, now(CLOCK_MONOTONIC)) + 1)) >= 0);
}

typedef struct Want {
        const char *name;
        uint64_t delivered;
} Want;

static bool delivered_at_least(Ctx *c, const void *arg) {
        const Want *w = arg;
        NotifierStats s;
        return stats_of(c, w->name, &s) && s.delivered >= w->delivered && s.queued == 0 && !s.in_flight;
}

static bool drained(Ctx *c, const void *arg) {
        NotifierStats s;
        return !stats_of(c, arg, &s) || (s.queued == 0 && !s.in_flight);
}

static bool gone(Ctx *c, const void *arg) {
        NotifierStats s;
        return !stats_of(c, arg, &s);
}

static void wait_delivered(Ctx *c, const char *name, uint64_t n) {
        Want w = { name, n };
        if (!run_until(c, delivered_at_least, &w, 60 * S)) {
                NotifierStats s = {};
                stats_of(c, name, &s);
                fail_msg(
                        "%s: %" PRIu64 " of %" PRIu64 " delivered, %" PRIu64 " queued",
                        name,
                        s.delivered,
                        n,
                        s.queued);
        }
}

static size_t count_message_files(const char *spool, const char *notifier) {
        char path[512];
        DIR *d;
        struct dirent *de;
        size_t k = 0;
        uint64_t seq;

        snprintf(path, sizeof(path), "%s/%s", spool, notifier);
        d = opendir(path);
        if (!d)
                return 0;
        while ((de = readdir(d)))
                k += spool_parse_message_file_name(de->d_name, &seq);
        closedir(d);
        return k;
}

/* ---- the secret ---- */

static bool tree_has_secret;
static int scan_entry(const char *path, const struct stat *st, int type, struct FTW *f) {
        if (strstr(path, SECRET))
                tree_has_secret = true;
        if (type == FTW_F) {
                char *data = NULL;
                if (read_full_file(path, 4 * 1024 * 1024, &data, NULL) >= 0 && strstr(data, SECRET))
                        tree_has_secret = true;
                free(data);
        }
        return 0;
}

static void check_no_secret(Ctx *c) {
        for (size_t i = 0; i < n_reports; i++)
                if (strstr(reports[i].line, SECRET))
                        fail_msg("a report leaks the URL: %s", reports[i].line);
        if (c->hub) {
                NotifierStats *v = NULL;
                size_t n = 0;
                assert_int_equal(notifier_hub_stats(c->hub, &v, &n), 0);
                for (size_t i = 0; i < n; i++) {
                        assert_true(!v[i].redacted_url || !strstr(v[i].redacted_url, SECRET));
                        assert_true(!v[i].url_error || !strstr(v[i].url_error, SECRET));
                        assert_true(!strstr(v[i].name, SECRET));
                }
                free(v);
                assert_true(
                        !notifier_hub_last_error(c->hub) || !strstr(notifier_hub_last_error(c->hub), SECRET));
        }
        tree_has_secret = false;
        assert_int_equal(nftw(c->spool, scan_entry, 16, FTW_PHYS), 0);
        assert_false(tree_has_secret);
}

/* ---- receiver records ---- */

static const char *rs(json_t *req, const char *key) {
        return json_string_value(json_object_get(req, key));
}

static const char *rheader(json_t *req, const char *name) {
        return json_string_value(json_object_get(json_object_get(req, "headers"), name));
}

static bool rcompleted_2xx(json_t *req) {
        const char *o = rs(req, "outcome");
        return json_is_true(json_object_get(req, "completed")) && o && o[0] == '2';
}

/* Every key in keys[] was answered 2xx exactly once, in this order, and no other key was. */
static void assert_exactly_once_in_order(json_t *reqs, const char *const *keys, size_t n) {
        size_t k = 0, i;
        json_t *r;

        json_array_foreach(reqs, i, r) {
                if (!rcompleted_2xx(r))
                        continue;
                if (k >= n)
                        fail_msg("unexpected extra delivery of %s", strna(rheader(r, "idempotency-key")));
                assert_string_equal(rheader(r, "idempotency-key"), keys[k]);
                k++;
        }
        assert_int_equal(k, n);
}

static void assert_serial(json_t *reqs) {
        size_t i;
        json_t *r;
        json_array_foreach(reqs, i, r)
                assert_int_equal(json_integer_value(json_object_get(r, "concurrent")), 1);
}

/* ---- tests ---- */

static void test_webhook_survives_500(void **state) {
        Ctx *c = *state;
        const char *path = "/t1/" SECRET "-t1";
        NotifierConfig cfg = literal("hook", NOTIFIER_WEBHOOK, path);
        const char *keys[] = { "inc1/1", "inc1/2", "inc1/3", "inc1/4", "inc1/5" };
        const char *kinds[] = { "detected", "firing", "action_started", "action_succeeded", "verify_passed" };
        NotifierStats s;
        json_t *reqs, *r;
        size_t i;

        script("{\"path\":\"%s\",\"actions\":[{\"status\":500},{\"status\":500},{\"status\":502}],\"default\":{\"status\":200}}",
               path);
        hub_start(c);
        configure(c, &cfg, 1, 0);
        for (int k = 1; k <= 5; k++)
                assert_int_equal(publish(c, "hook", "inc1", "firing", k, kinds[k - 1], "m"), 0);
        wait_delivered(c, "hook", 5);

        reqs = receiver_requests(&receiver, path);
        assert_non_null(reqs);
        assert_int_equal(json_array_size(reqs), 8);
        for (i = 0; i < 3; i++) /* the head is retried, nothing overtakes it */
                assert_string_equal(rheader(json_array_get(reqs, i), "idempotency-key"), "inc1/1");
        assert_exactly_once_in_order(reqs, keys, 5);
        assert_serial(reqs);
        json_array_foreach(reqs, i, r) {
                json_error_t err;
                json_t *body = json_loads(rs(r, "body"), 0, &err);
                assert_non_null(body);
                assert_string_equal(rs(r, "method"), "POST");
                assert_string_equal(rheader(r, "content-type"), "application/json");
                /* exactly {"version":1,"incident":{8 members},"event":{5 members}} */
                assert_int_equal(json_object_size(body), 3);
                assert_int_equal(json_integer_value(json_object_get(body, "version")), 1);
                assert_int_equal(json_object_size(json_object_get(body, "incident")), 8);
                assert_int_equal(json_object_size(json_object_get(body, "event")), 5);
                char key[32];
                snprintf(
                        key,
                        sizeof(key),
                        "inc1/%" JSON_INTEGER_FORMAT,
                        json_integer_value(json_object_get(json_object_get(body, "event"), "seq")));
                assert_string_equal(rheader(r, "idempotency-key"), key);
                json_decref(body);
        }
        json_decref(reqs);

        assert_true(stats_of(c, "hook", &s));
        assert_int_equal(s.delivered, 5);
        assert_int_equal(s.requests, 5);
        assert_int_equal(s.failed_attempts, 3);
        assert_int_equal(s.dead_lettered, 0);
        assert_int_equal(s.consecutive_failures, 0);
        assert_int_equal(s.last_http_status, 200);
        assert_int_equal(s.state, NOTIFIER_STATE_READY);
        assert_true(startswith(s.redacted_url, "http://127.0.0.1:"));
        assert_true(endswith(s.redacted_url, "/\xE2\x80\xA6")); /* "/…" */
        assert_int_equal(reports_count(NOTIFIER_REPORT_RETRY), 3);
        assert_int_equal(reports_count(NOTIFIER_REPORT_DELIVERED), 5);
        assert_int_equal(report_find(NOTIFIER_REPORT_RETRY)->status, 500);
        assert_int_equal(count_message_files(c->spool, "hook"), 0);
        free(cfg.url_ref);
}

static void test_hang_times_out(void **state) {
        Ctx *c = *state;
        const char *path = "/t2/" SECRET "-t2";
        NotifierConfig cfg = literal("hook", NOTIFIER_WEBHOOK, path);
        const char *keys[] = { "inc2/1" };
        json_t *reqs;
        NotifierStats s;

        script("{\"path\":\"%s\",\"actions\":[{\"action\":\"hang\",\"seconds\":6}]}", path);
        hub_start(c);
        configure(c, &cfg, 1, 0);
        assert_int_equal(publish(c, "hook", "inc2", "firing", 1, "firing", "m"), 0);
        wait_delivered(c, "hook", 1);

        reqs = receiver_requests(&receiver, path);
        assert_int_equal(json_array_size(reqs), 2);
        assert_string_equal(rs(json_array_get(reqs, 0), "outcome"), "hang");
        assert_string_equal(rs(json_array_get(reqs, 1), "outcome"), "200");
        /* Not given up before the request timeout (1.5 s). */
        double gap = json_real_value(json_object_get(json_array_get(reqs, 1), "t_start")) -
                json_real_value(json_object_get(json_array_get(reqs, 0), "t_start"));
        assert_true(gap >= 1.4);
        assert_exactly_once_in_order(reqs, keys, 1);
        json_decref(reqs);

        assert_true(stats_of(c, "hook", &s));
        assert_int_equal(s.failed_attempts, 1);
        assert_non_null(strstr(report_find(NOTIFIER_REPORT_RETRY)->line, "Timeout"));
        free(cfg.url_ref);
}

static void test_reset_and_close_mid_response(void **state) {
        Ctx *c = *state;
        const char *path = "/t3/" SECRET "-t3";
        NotifierConfig cfg = literal("hook", NOTIFIER_WEBHOOK, path);
        const char *keys[] = { "inc3/1", "inc3/2" };
        json_t *reqs;
        NotifierStats s;

        script("{\"path\":\"%s\",\"actions\":[{\"action\":\"reset\"},{\"action\":\"close_mid\"},{\"action\":\"reset\"}]}",
               path);
        hub_start(c);
        configure(c, &cfg, 1, 0);
        assert_int_equal(publish(c, "hook", "inc3", "firing", 1, "firing", "m"), 0);
        assert_int_equal(publish(c, "hook", "inc3", "firing", 2, "action_started", "m"), 0);
        wait_delivered(c, "hook", 2);

        reqs = receiver_requests(&receiver, path);
        assert_int_equal(json_array_size(reqs), 5);
        assert_string_equal(rs(json_array_get(reqs, 0), "outcome"), "reset");
        assert_string_equal(rs(json_array_get(reqs, 1), "outcome"), "close_mid");
        assert_string_equal(rs(json_array_get(reqs, 2), "outcome"), "reset");
        for (size_t i = 0; i < 3; i++)
                assert_string_equal(rheader(json_array_get(reqs, i), "idempotency-key"), "inc3/1");
        assert_exactly_once_in_order(reqs, keys, 2);
        json_decref(reqs);
        assert_true(stats_of(c, "hook", &s));
        assert_int_equal(s.failed_attempts, 3);
        assert_int_equal(s.delivered, 2);
        free(cfg.url_ref);
}

static void test_retry_after(void **state) {
        Ctx *c = *state;
        const char *path = "/t4/" SECRET "-t4";
        NotifierConfig cfg = literal("hook", NOTIFIER_WEBHOOK, path);
        const Captured *retry;
        json_t *reqs;

        script("{\"path\":\"%s\",\"actions\":[{\"status\":429,\"headers\":{\"Retry-After\":\"2\"},\"body\":\"slow down\"}]}",
               path);
        hub_start(c);
        configure(c, &cfg, 1, 0);
        assert_int_equal(publish(c, "hook", "inc4", "firing", 1, "firing", "m"), 0);
        wait_delivered(c, "hook", 1);

        retry = report_find(NOTIFIER_REPORT_RETRY);
        assert_non_null(retry);
        assert_int_equal(retry->status, 429);
        assert_int_equal(retry->retry_in, 2 * S); /* Retry-After, not the 100 ms back-off */
        assert_non_null(strstr(retry->line, "HTTP 429: slow down"));
        reqs = receiver_requests(&receiver, path);
        assert_int_equal(json_array_size(reqs), 2);
        double gap = json_real_value(json_object_get(json_array_get(reqs, 1), "t_start")) -
                json_real_value(json_object_get(json_array_get(reqs, 0), "t_end"));
        assert_true(gap >= 1.9);
        json_decref(reqs);
        free(cfg.url_ref);
}

static void test_400_dead_letters(void **state) {
        Ctx *c = *state;
        const char *path = "/t5/" SECRET "-t5";
        NotifierConfig cfg = literal("hook", NOTIFIER_WEBHOOK, path);
        const char *keys[] = { "inc5/2" };
        const Captured *dead;
        NotifierStats s;
        json_t *reqs;
        char deaddir[256];

        /* The receiver echoes the request path (with the secret) in its error body. */
        script("{\"path\":\"%s\",\"actions\":[{\"status\":400,\"body\":\"invalid_payload\",\"echo_path\":true}]}",
               path);
        hub_start(c);
        configure(c, &cfg, 1, 0);
        assert_int_equal(publish(c, "hook", "inc5", "firing", 1, "firing", "m"), 0);
        assert_int_equal(publish(c, "hook", "inc5", "firing", 2, "action_started", "m"), 0);
        wait_delivered(c, "hook", 1);

        reqs = receiver_requests(&receiver, path);
        assert_int_equal(json_array_size(reqs), 2); /* the 400 is not retried */
        assert_string_equal(rs(json_array_get(reqs, 0), "outcome"), "400");
        assert_string_equal(rheader(json_array_get(reqs, 0), "idempotency-key"), "inc5/1");
        assert_exactly_once_in_order(reqs, keys, 1);
        json_decref(reqs);

        assert_true(stats_of(c, "hook", &s));
        assert_int_equal(s.dead_lettered, 1);
        assert_int_equal(s.delivered, 1);
        assert_int_equal(s.failed_attempts, 1);
        dead = report_find(NOTIFIER_REPORT_DEAD_LETTER);
        assert_non_null(dead);
        assert_int_equal(dead->status, 400);
        assert_non_null(strstr(dead->line, "HTTP 400: invalid_payload"));
        assert_non_null(strstr(dead->line, "incident inc5 seq 1"));
        snprintf(deaddir, sizeof(deaddir), "%s/hook", c->spool);
        int fd = open(deaddir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(spool_count_files(fd, "dead"), 1);
        close(fd);
        free(cfg.url_ref);
}

static bool in_flight(Ctx *c, const void *arg) {
        NotifierStats s;
        return stats_of(c, arg, &s) && s.in_flight;
}

static bool dead_lettered(Ctx *c, const void *arg) {
        NotifierStats s;
        return stats_of(c, arg, &s) && s.dead_lettered > 0;
}

/* The URL is rotated (configure with a new one) while a request to the old one is in flight, and the old
 * receiver's error body echoes the old path. The report must scrub the secret of the URL the request went
 * to, not only that of the URL configured now. */
static void test_rotated_url_scrubbed(void **state) {
        Ctx *c = *state;
        const char *old_path = "/t5b/" SECRET "-old", *new_path = "/t5b/new";
        NotifierConfig old_cfg = literal("hook", NOTIFIER_WEBHOOK, old_path),
                       new_cfg = literal("hook", NOTIFIER_WEBHOOK, new_path);
        const Captured *dead;

        script("{\"path\":\"%s\",\"actions\":[{\"status\":400,\"body\":\"revoked\",\"echo_path\":true,\"delay\":1.0}]}",
               old_path);
        hub_start(c);
        configure(c, &old_cfg, 1, 0);
        assert_int_equal(publish(c, "hook", "inc5b", "firing", 1, "firing", "m"), 0);
        assert_true(run_until(c, in_flight, "hook", 30 * S));
        configure(c, &new_cfg, 1, 0);
        assert_true(run_until(c, dead_lettered, "hook", 30 * S));

        dead = report_find(NOTIFIER_REPORT_DEAD_LETTER);
        assert_non_null(dead);
        assert_int_equal(dead->status, 400);
        assert_non_null(strstr(dead->line, "HTTP 400: revoked"));
        assert_null(strstr(dead->line, SECRET));
        free(old_cfg.url_ref);
        free(new_cfg.url_ref);
}

/* A response body is quoted only up to a limit (200 bytes). The secret must be masked in the whole body
 * before it is cut: a token that straddles the cut must not leave its first bytes behind. */
static void test_secret_across_excerpt_limit(void **state) {
        Ctx *c = *state;
        const char *path = "/t5c/" SECRET "-t5c";
        NotifierConfig cfg = literal("hook", NOTIFIER_WEBHOOK, path);
        const Captured *dead;
        char padding[168];

        /* The body is the padding, then " (no route for POST /t5c/SECRET-TOKEN-t5c)": SECRET starts
         * at byte 167 + 20 + 5 = 192, so the 200-byte excerpt ends inside it. */
        memset(padding, 'a', sizeof(padding) - 1);
        padding[sizeof(padding) - 1] = 0;
        script("{\"path\":\"%s\",\"actions\":[{\"status\":400,\"body\":\"%s\",\"echo_path\":true}]}",
               path,
               padding);
        hub_start(c);
        configure(c, &cfg, 1, 0);
        assert_int_equal(publish(c, "hook", "inc5c", "firing", 1, "firing", "m"), 0);
        assert_true(run_until(c, dead_lettered, "hook", 30 * S));

        dead = report_find(NOTIFIER_REPORT_DEAD_LETTER);
        assert_non_null(dead);
        assert_non_null(strstr(dead->line, "HTTP 400: aaaa"));
        assert_non_null(strstr(dead->line, "(no route for POST /t5c/"));
        assert_null(strstr(dead->line, "SECRET"));
        free(cfg.url_ref);
}

static void test_restart_resumes(void **state) {
        Ctx *c = *state;
        const char *path = "/t6/" SECRET "-t6";
        NotifierConfig cfg = literal("hook", NOTIFIER_WEBHOOK, path);
        const char *keys[] = { "inc6/1", "inc6/2", "inc6/3" };
        NotifierStats s;
        json_t *reqs;

        script("{\"path\":\"%s\",\"default\":{\"status\":503}}", path);
        hub_start(c);
        configure(c, &cfg, 1, 0);
        for (int k = 1; k <= 3; k++) {
                assert_int_equal(publish(c, "hook", "inc6", "firing", k, "firing", "m"), 0);
                /* Durable when publish returns: on disk before the loop has run at all. */
                assert_int_equal(count_message_files(c->spool, "hook"), (size_t) k);
        }
        run_for(c, 1200 * MS);
        assert_true(stats_of(c, "hook", &s));
        assert_true(s.failed_attempts >= 1);
        assert_int_equal(s.delivered, 0);
        hub_stop(c); /* possibly with a request in flight */
        assert_int_equal(count_message_files(c->spool, "hook"), 3);

        script("{\"path\":\"%s\",\"default\":{\"status\":200}}", path);
        hub_start(c);
        configure(c, &cfg, 1, 0);
        wait_delivered(c, "hook", 3);
        reqs = receiver_requests(&receiver, path);
        assert_exactly_once_in_order(reqs, keys, 3);
        assert_serial(reqs);
        json_decref(reqs);
        assert_int_equal(count_message_files(c->spool, "hook"), 0);
        free(cfg.url_ref);
}

static void test_chat_kinds_coalesce(void **state) {
        Ctx *c = *state;
        const char *paths[] = {
                "/t7/slack/" SECRET, "/t7/mattermost/" SECRET, "/t7/teams/" SECRET, "/t7/discord/" SECRET
        };
        const char *names[] = { "slack", "mattermost", "teams", "discord" };
        const char *top[] = { "blocks", "text", "attachments", "embeds" };
        NotifierConfig cfg[4];

        c->opts.bucket_burst = 2;
        c->opts.bucket_interval_usec = 1 * S;
        c->opts.group_wait_usec = 300 * MS;
        hub_start(c);
        for (size_t k = 0; k < 4; k++)
                cfg[k] = literal(names[k], (NotifierKind) k, paths[k]);
        configure(c, cfg, 4, 0);

        for (int seq = 1; seq <= 12; seq++) {
                char msg[32];
                snprintf(msg, sizeof(msg), "event #%02d", seq);
                for (size_t k = 0; k < 4; k++)
                        assert_int_equal(
                                publish(c, names[k], "inc7a", "remediating", seq, "verify_failed", msg), 0);
        }
        for (size_t k = 0; k < 4; k++) {
                assert_int_equal(publish(c, names[k], "inc7b", "firing", 1, "firing", "other #1"), 0);
                assert_int_equal(publish(c, names[k], "inc7b", "firing", 2, "action_started", "other #2"), 0);
        }
        for (size_t k = 0; k < 4; k++)
                assert_true(run_until(c, drained, names[k], 30 * S));

        for (size_t k = 0; k < 4; k++) {
                json_t *reqs = receiver_requests(&receiver, paths[k]);
                NotifierStats s;
                const char *first, *second;
                json_error_t err;

                /* 14 events, 2 incidents: 2 messages. */
                assert_int_equal(json_array_size(reqs), 2);
                assert_serial(reqs);
                first = rs(json_array_get(reqs, 0), "body");
                second = rs(json_array_get(reqs, 1), "body");
                for (size_t i = 0; i < 2; i++) {
                        json_t *b = json_loads(rs(json_array_get(reqs, i), "body"), 0, &err);
                        assert_non_null(b);
                        assert_non_null(json_object_get(b, top[k]));
                        json_decref(b);
                }
                assert_non_null(strstr(first, "2 earlier events suppressed (homeostatctl incident inc7a)"));
                for (int seq = 3; seq <= 12; seq++) {
                        char msg[32];
                        snprintf(msg, sizeof(msg), "event #%02d", seq);
                        assert_non_null(strstr(first, msg));
                }
                assert_null(strstr(first, "event #01"));
                assert_null(strstr(first, "event #02"));
                assert_non_null(strstr(second, "other #1"));
                assert_non_null(strstr(second, "other #2"));
                json_decref(reqs);

                assert_true(stats_of(c, names[k], &s));
                assert_int_equal(s.delivered, 14);
                assert_int_equal(s.requests, 2);
                assert_int_equal(s.coalesced, 12);
                assert_int_equal(s.suppressed, 2);
                free(cfg[k].url_ref);
        }
}

static void test_bucket_coalesces_when_empty(void **state) {
        Ctx *c = *state;
        const char *path = "/t8/" SECRET;
        NotifierConfig cfg = literal("chat", NOTIFIER_SLACK, path);
        NotifierStats s;
        json_t *reqs;

        c->opts.bucket_burst = 1;
        c->opts.bucket_interval_usec = 3 * S;
        c->opts.group_wait_usec = 0;
        hub_start(c);
        configure(c, &cfg, 1, 0);
        assert_int_equal(publish(c, "chat", "inc8", "firing", 1, "firing", "first"), 0);
        wait_delivered(c, "chat", 1);
        /* The bucket is empty now: what arrives meanwhile waits for the next token and goes as one. */
        assert_int_equal(publish(c, "chat", "inc8", "remediating", 2, "action_started", "second"), 0);
        assert_int_equal(publish(c, "chat", "inc8", "remediating", 3, "action_succeeded", "third"), 0);
        assert_int_equal(publish(c, "chat", "inc8", "verifying", 4, "verify_passed", "fourth"), 0);
        assert_true(stats_of(c, "chat", &s));
        assert_true(s.next_attempt_usec > now(CLOCK_MONOTONIC) + 1 * S); /* held back by the bucket */
        wait_delivered(c, "chat", 4);

        reqs = receiver_requests(&receiver, path);
        assert_int_equal(json_array_size(reqs), 2);
        const char *second = rs(json_array_get(reqs, 1), "body");
        assert_non_null(strstr(second, "second"));
        assert_non_null(strstr(second, "third"));
        assert_non_null(strstr(second, "fourth"));
        assert_non_null(strstr(second, "VERIFYING")); /* the latest incident state heads the message */
        json_decref(reqs);
        free(cfg.url_ref);
}

static void write_text(const char *path, const char *text) {
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static void test_configure_semantics(void **state) {
        Ctx *c = *state;
        char creds[256], credfile[300];
        const char *cred_path = "/t9/cred/" SECRET, *old_path = "/t9/old/" SECRET;
        NotifierConfig old = literal("old", NOTIFIER_WEBHOOK, old_path);
        NotifierConfig cred = { .name = (char *) "cred",
                                .kind = NOTIFIER_WEBHOOK,
                                .url_from = URL_FROM_CREDENTIAL,
                                .url_ref = (char *) "hook-cred" };
        NotifierConfig both[2] = { old, cred };
        NotifierStats s;
        json_t *reqs;

        snprintf(creds, sizeof(creds), "%s.creds", c->spool);
        assert_int_equal(mkdir(creds, 0700), 0);
        c->opts.credentials_dir = creds;
        script("{\"path\":\"%s\",\"default\":{\"status\":500}}", old_path);
        hub_start(c);

        /* A missing credential: configured, queueing, not sending, and the reason names the credential. */
        configure(c, both, 2, 1);
        assert_true(stats_of(c, "cred", &s));
        assert_int_equal(s.state, NOTIFIER_STATE_URL_ERROR);
        assert_non_null(strstr(s.url_error, "credential \"hook-cred\" not found"));
        assert_null(s.redacted_url);
        assert_non_null(strstr(report_find(NOTIFIER_REPORT_URL_ERROR)->line, "hook-cred"));
        assert_int_equal(publish(c, "cred", "inc9", "firing", 1, "firing", "m"), 0);
        assert_int_equal(publish(c, "old", "inc9", "firing", 1, "firing", "m"), 0);

        /* Malformed input and unknown names are refused with a reason. */
        json_t *bad = json_pack("{s:s}", "id", "inc9");
        json_t *ev = event(2, "firing", "m");
        assert_int_equal(notifier_hub_publish(c->hub, "cred", bad, ev), -EINVAL);
        assert_non_null(strstr(notifier_hub_last_error(c->hub), "incident.rule"));
        json_decref(bad);
        json_decref(ev);
        assert_int_equal(publish(c, "nobody", "inc9", "firing", 1, "firing", "m"), -ENOENT);
        assert_non_null(strstr(notifier_hub_last_error(c->hub), "no notifier named \"nobody\""));
        /* Publishing the same (incident, seq) again is a no-op. */
        assert_int_equal(publish(c, "cred", "inc9", "firing", 1, "firing", "m"), 0);
        assert_true(stats_of(c, "cred", &s));
        assert_int_equal(s.queued, 1);

        /* Invalid configurations change nothing. */
        NotifierConfig dup[2] = { old, old };
        configure(c, dup, 2, -EINVAL);
        NotifierConfig noname = { .name = (char *) "",
                                  .kind = NOTIFIER_SLACK,
                                  .url_from = URL_FROM_LITERAL,
                                  .url_ref = old.url_ref };
        configure(c, &noname, 1, -EINVAL);
        NotifierConfig badkind = { .name = (char *) "x",
                                   .kind = (NotifierKind) 99,
                                   .url_from = URL_FROM_LITERAL,
                                   .url_ref = old.url_ref };
        configure(c, &badkind, 1, -EINVAL);
        NotifierConfig noref = { .name = (char *) "x", .kind = NOTIFIER_SLACK, .url_from = URL_FROM_LITERAL };
        configure(c, &noref, 1, -EINVAL);
        assert_true(stats_of(c, "old", &s));
        assert_int_equal(s.state, NOTIFIER_STATE_READY);

        run_for(c, 500 * MS);
        reqs = receiver_requests(&receiver, cred_path);
        assert_int_equal(json_array_size(reqs), 0);
        json_decref(reqs);

        /* The credential appears (systemd restarted us with LoadCredential=, or a reload): delivered. "old"
         * is removed from the configuration at the same time: it retires, still draining to its URL. */
        snprintf(credfile, sizeof(credfile), "%s/hook-cred", creds);
        char *u = url_for(cred_path);
        write_text(credfile, u);
        free(u);
        configure(c, &cred, 1, 0);
        wait_delivered(c, "cred", 1);
        assert_true(stats_of(c, "old", &s));
        assert_int_equal(s.state, NOTIFIER_STATE_RETIRED);
        assert_int_equal(s.queued, 1);
        assert_int_equal(publish(c, "old", "inc9", "firing", 2, "firing", "m"), -ENOENT);
        script("{\"path\":\"%s\",\"default\":{\"status\":200}}", old_path);
        assert_true(run_until(c, gone, "old", 30 * S));
        reqs = receiver_requests(&receiver, old_path);
        const char *old_keys[] = { "inc9/1" };
        assert_exactly_once_in_order(reqs, old_keys, 1);
        json_decref(reqs);

        c->opts.credentials_dir = NULL;
        free(old.url_ref);
        remove_tree(creds);
}

static void test_orphan_corrupt_queue_full_expiry(void **state) {
        Ctx *c = *state;
        const char *path = "/t10/" SECRET;
        NotifierConfig ghost = literal("ghost", NOTIFIER_WEBHOOK, path);
        NotifierStats s;
        char file[512];

        /* A previous run queued a message for "ghost" (its receiver was down). */
        script("{\"path\":\"%s\",\"default\":{\"status\":500}}", path);
        hub_start(c);
        configure(c, &ghost, 1, 0);
        assert_int_equal(publish(c, "ghost", "inc10", "firing", 1, "firing", "m"), 0);
        hub_stop(c);
        /* ... and something wrote garbage into its spool. */
        snprintf(file, sizeof(file), "%s/ghost/00000000000000000099.json", c->spool);
        write_text(file, "{\"homeostat_outbox\":1,");

        /* This run does not configure it: an orphan, counted, kept. */
        c->opts.max_queue = 2;
        hub_start(c);
        configure(c, NULL, 0, 0);
        assert_true(stats_of(c, "ghost", &s));
        assert_int_equal(s.state, NOTIFIER_STATE_ORPHAN);
        assert_int_equal(s.queued, 1);
        assert_int_equal(s.corrupt, 1);
        assert_non_null(report_find(NOTIFIER_REPORT_ORPHAN));
        assert_non_null(strstr(report_find(NOTIFIER_REPORT_CORRUPT)->line, "00000000000000000099.json"));
        assert_int_equal(publish(c, "ghost", "inc10", "firing", 2, "firing", "m"), -ENOENT);

        /* Configured again: delivered. A full queue refuses more. */
        configure(c, &ghost, 1, 0);
        assert_int_equal(publish(c, "ghost", "inc10", "firing", 2, "firing", "m"), 0);
        assert_int_equal(publish(c, "ghost", "inc10", "firing", 3, "firing", "m"), -ENOBUFS);
        assert_true(stats_of(c, "ghost", &s));
        assert_int_equal(s.rejected, 1);
        assert_int_equal(s.dropped, 1);
        script("{\"path\":\"%s\",\"default\":{\"status\":200}}", path);
        wait_delivered(c, "ghost", 2);
        hub_stop(c);

        /* Expiry: a receiver that never recovers; messages older than max_age are dropped and counted. */
        script("{\"path\":\"%s\",\"default\":{\"status\":500}}", path);
        c->opts.max_age_usec = 1 * S;
        hub_start(c);
        configure(c, &ghost, 1, 0);
        assert_int_equal(publish(c, "ghost", "inc10", "firing", 4, "firing", "m"), 0);
        run_for(c, 1500 * MS);
        assert_true(stats_of(c, "ghost", &s));
        assert_int_equal(s.expired, 1);
        assert_int_equal(s.queued, 0);
        assert_true(s.failed_attempts >= 1);
        assert_non_null(strstr(report_find(NOTIFIER_REPORT_EXPIRED)->line, "incident inc10 seq 4"));
        assert_int_equal(count_message_files(c->spool, "ghost"), 0);

        /* An orphan whose messages expire disappears. */
        assert_int_equal(publish(c, "ghost", "inc10", "firing", 5, "firing", "m"), 0);
        hub_stop(c);
        hub_start(c);
        configure(c, NULL, 0, 0);
        assert_true(stats_of(c, "ghost", &s));
        assert_int_equal(s.state, NOTIFIER_STATE_ORPHAN);
        assert_true(run_until(c, gone, "ghost", 10 * S));
        assert_int_equal(count_message_files(c->spool, "ghost"), 0);
        free(ghost.url_ref);
}

/* ---- figures ---- */

static int cmp_u64(const void *a, const void *b) {
        usec_t x = *(const usec_t *) a, y = *(const usec_t *) b;
        return x < y ? -1 : x > y;
}

static void test_figures(void **state) {
        Ctx *c = *state;
        const char *path = "/fig/" SECRET;
        NotifierConfig cfg = literal("fig", NOTIFIER_WEBHOOK, path);
        enum { N = 200 };
        usec_t pub[N], base[N], t0, t_hub, t_curl, t_recover;
        char dir[256], name[300];
        json_t *reqs;

        hub_start(c);
        configure(c, &cfg, 1, 0);

        /* 1. publish latency (fsync + rename) against plain unsynced writes of the same size, same disk. */
        script("{\"path\":\"%s\",\"default\":{\"status\":503}}", path); /* keep them queued */
        for (int i = 0; i < N; i++) {
                t0 = now(CLOCK_MONOTONIC);
                assert_int_equal(
                        publish(c, "fig", "incf", "firing", i + 1, "firing", "a message of ordinary length"),
                        0);
                pub[i] = now(CLOCK_MONOTONIC) - t0;
        }
        snprintf(dir, sizeof(dir), "%s/fig", c->spool);
        for (int i = 0; i < N; i++) {
                char payload[700];
                memset(payload, 'x', sizeof(payload));
                snprintf(name, sizeof(name), "%s/.baseline-%d", dir, i);
                t0 = now(CLOCK_MONOTONIC);
                int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                assert_int_equal(write(fd, payload, sizeof(payload)), (ssize_t) sizeof(payload));
                close(fd);
                base[i] = now(CLOCK_MONOTONIC) - t0;
                unlink(name);
        }
        qsort(pub, N, sizeof(usec_t), cmp_u64);
        qsort(base, N, sizeof(usec_t), cmp_u64);
        printf("# figure publish-latency: p50 %.3f ms, p99 %.3f ms (durable: write+fsync+rename+dir fsync); "
               "baseline unsynced write p50 %.3f ms; ratio %.1fx\n",
               pub[N / 2] / 1e3,
               pub[N * 99 / 100] / 1e3,
               base[N / 2] / 1e3,
               (double) pub[N / 2] / MAX(base[N / 2], 1ULL));

        /* 2. throughput of delivery, one request in flight, against a blocking curl loop to the same receiver. */
        script("{\"path\":\"%s\",\"default\":{\"status\":200}}", path);
        t0 = now(CLOCK_MONOTONIC);
        wait_delivered(c, "fig", N);
        t_hub = now(CLOCK_MONOTONIC) - t0;
        {
                CURL *e = curl_easy_init();
                char *u = url_for(path);
                struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
                FILE *null = fopen("/dev/null", "we");
                curl_easy_setopt(e, CURLOPT_URL, u);
                curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
                curl_easy_setopt(e, CURLOPT_POSTFIELDS, "{\"version\":1}");
                curl_easy_setopt(e, CURLOPT_WRITEDATA, null);
                curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
                t0 = now(CLOCK_MONOTONIC);
                for (int i = 0; i < N; i++)
                        assert_int_equal(curl_easy_perform(e), CURLE_OK);
                t_curl = now(CLOCK_MONOTONIC) - t0;
                fclose(null);
                curl_slist_free_all(h);
                curl_easy_cleanup(e);
                free(u);
        }
        printf("# figure delivery-throughput: %d queued messages in %.3f s = %.0f msg/s (one in flight, each "
               "removed from the spool with a directory fsync); baseline blocking curl loop %.0f req/s; "
               "ratio %.3f\n",
               N,
               t_hub / 1e6,
               N / (t_hub / 1e6),
               N / (t_curl / 1e6),
               (double) t_curl / (double) MAX(t_hub, 1ULL));

        /* 3. time to deliver after the receiver recovers, with the default back-off (1 s doubling, jitter). */
        hub_stop(c);
        notifier_hub_options_default(&c->opts);
        hub_start(c);
        configure(c, &cfg, 1, 0);
        script("{\"path\":\"%s\",\"default\":{\"status\":500}}", path);
        assert_int_equal(receiver_reset(&receiver), 0);
        script("{\"path\":\"%s\",\"default\":{\"status\":500}}", path);
        assert_int_equal(publish(c, "fig", "incr", "firing", 1, "firing", "m"), 0);
        run_for(c, 8 * S);
        script("{\"path\":\"%s\",\"default\":{\"status\":200}}", path);
        t_recover = now(CLOCK_REALTIME);
        wait_delivered(c, "fig", 1);
        reqs = receiver_requests(&receiver, path);
        size_t n = json_array_size(reqs);
        double first_ok = json_real_value(json_object_get(json_array_get(reqs, n - 1), "t_start"));
        printf("# figure recovery: receiver down 8 s (%zu failed attempts at 1 s doubling back-off); delivered "
               "%.3f s after it recovered; the bound is the back-off step in progress (here up to %.0f s)\n",
               n - 1,
               first_ok - t_recover / 1e6,
               pow(2, (double) n - 2));
        json_decref(reqs);
        free(cfg.url_ref);
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_webhook_survives_500, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hang_times_out, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reset_and_close_mid_response, setup, teardown),
                cmocka_unit_test_setup_teardown(test_retry_after, setup, teardown),
                cmocka_unit_test_setup_teardown(test_400_dead_letters, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rotated_url_scrubbed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_secret_across_excerpt_limit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_restart_resumes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_chat_kinds_coalesce, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bucket_coalesces_when_empty, setup, teardown),
                cmocka_unit_test_setup_teardown(test_configure_semantics, setup, teardown),
                cmocka_unit_test_setup_teardown(test_orphan_corrupt_queue_full_expiry, setup, teardown),
                cmocka_unit_test_setup_teardown(test_figures, setup, teardown),
        };
        int r;

        if (argc < 3) {
                fprintf(stderr, "usage: %s PYTHON3 webhook-receiver.py\n", argv[0]);
                return 2;
        }
        arg_python = argv[1];
        arg_script = argv[2];
        (void) signal(SIGPIPE, SIG_IGN);
        curl_global_init(CURL_GLOBAL_DEFAULT);
        if (access(arg_python, X_OK) < 0) {
                fprintf(stderr, "python3 (%s) is not available: skipping\n", arg_python);
                return 77;
        }
        r = receiver_start(arg_python, arg_script, &receiver);
        if (r < 0) {
                fprintf(stderr, "cannot start the webhook receiver: %s\n", strerror(-r));
                return 1;
        }
        r = cmocka_run_group_tests(tests, NULL, NULL);
        receiver_stop(&receiver);
        curl_global_cleanup();
        return r;
}

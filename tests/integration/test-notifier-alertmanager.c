/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The alertmanager notifier against a real prometheus-alertmanager on a free 127.0.0.1 port (its own
 * storage dir, clustering off). A firing incident shows in GET /api/v2/alerts with our labels and stays
 * active past its endsAt because the hub re-sends it; a resolved incident leaves the active list and
 * Alertmanager itself notifies its receiver (webhook-receiver.py) "resolved"; a new hub on the same spool
 * refreshes the firing alerts it inherited; queued events of one incident collapse into its latest state;
 * a notifier removed from the configuration stops refreshing, and its alerts lapse in Alertmanager.
 *
 * Usage: test-notifier-alertmanager PYTHON3 webhook-receiver.py. Skips (77) when
 * prometheus-alertmanager is not installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "notifier.h"
#include "util.h"
#include "webhook-receiver.h"

#define MS USEC_PER_MSEC
#define S USEC_PER_SEC
#define SERIES "http_request_duration_seconds{quantile=\"0.99\",source=\"api\"}"

static const char *alertmanager_binary = "/usr/bin/prometheus-alertmanager";
static Receiver receiver = { .pid = -1 };
static pid_t am_pid = -1;
static int am_port;
static char workdir[] = "/tmp/test-notifier-am-XXXXXX";

typedef struct Ctx {
        char spool[256];
        sd_event *event;
        CurlGlue *glue;
        NotifierHub *hub;
        NotifierHubOptions opts;
        NotifierConfig cfg;
} Ctx;

static void on_report(const NotifierReport *r, void *userdata) {
        char *line = NULL;
        if (notifier_report_format(r, &line) >= 0 && r->kind != NOTIFIER_REPORT_DELIVERED)
                fprintf(stderr, "# %s\n", line);
        free(line);
}

static void hub_start(Ctx *c) {
        assert_int_equal(notifier_hub_new(c->event, c->glue, c->spool, &c->opts, &c->hub), 0);
        notifier_hub_set_report_callback(c->hub, on_report, NULL);
        assert_int_equal(notifier_hub_configure(c->hub, &c->cfg, 1), 0);
}

static int setup(void **state) {
        static unsigned counter;
        Ctx *c = calloc(1, sizeof(*c));

        snprintf(c->spool, sizeof(c->spool), "%s/spool-%u", workdir, counter++);
        assert_int_equal(sd_event_new(&c->event), 0);
        assert_int_equal(curl_glue_new(c->event, &c->glue), 0);
        notifier_hub_options_default(&c->opts);
        c->opts.alert_resend_usec = 1 * S;
        c->opts.alert_ttl_usec = 3 * S;
        c->opts.backoff_min_usec = 100 * MS;
        c->cfg = (NotifierConfig){ .name = (char *) "am",
                                   .kind = NOTIFIER_ALERTMANAGER,
                                   .url_from = URL_FROM_LITERAL };
        assert_true(asprintf(&c->cfg.url_ref, "http://127.0.0.1:%d/", am_port) > 0);
        *state = c;
        return 0;
}

static int teardown(void **state) {
        Ctx *c = *state;
        notifier_hub_free(c->hub);
        curl_glue_free(c->glue);
        sd_event_unref(c->event);
        free(c->cfg.url_ref);
        free(c);
        return 0;
}

static void run_for(Ctx *c, usec_t d) {
        usec_t end = now(CLOCK_MONOTONIC) + d;
        while (now(CLOCK_MONOTONIC) < end)
                assert_true(sd_event_run(c->event, 50 * MS) >= 0);
}

static NotifierStats stats(Ctx *c) {
        NotifierStats *v = NULL, s = {};
        size_t n = 0;
        assert_int_equal(notifier_hub_stats(c->hub, &v, &n), 0);
        assert_int_equal(n, 1);
        s = v[0];
        free(v);
        return s;
}

/* Run until the hub has made `requests` successful requests and nothing is queued or in flight. */
static void wait_requests(Ctx *c, uint64_t requests) {
        usec_t end = now(CLOCK_MONOTONIC) + 30 * S;
        for (;;) {
                NotifierStats s = stats(c);
                if (s.requests >= requests && s.queued == 0 && !s.in_flight)
                        return;
                if (now(CLOCK_MONOTONIC) > end)
                        fail_msg(
                                "alertmanager: %" PRIu64 " of %" PRIu64 " requests, %" PRIu64 " queued",
                                s.requests,
                                requests,
                                s.queued);
                assert_true(sd_event_run(c->event, 50 * MS) >= 0);
        }
}

static char *timestamp_ago(usec_t ago) {
        char buf[TIMESTAMP_MAX];
        return strdup(format_timestamp(buf, sizeof(buf), now(CLOCK_REALTIME) - ago));
}

static void publish(Ctx *c, const char *id, const char *state, int seq, const char *kind, const char *message) {
        bool resolved = streq(state, "resolved");
        char *detected = timestamp_ago(60 * S), *resolved_at = timestamp_ago(1 * S), *at = timestamp_ago(0);
        json_t *i = json_pack(
                "{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o}",
                "id",
                id,
                "rule",
                "api-latency",
                "series",
                SERIES,
                "host",
                "web1",
                "state",
                state,
                "detected_at",
                detected,
                "resolved_at",
                resolved ? json_string(resolved_at) : json_null(),
                "mttr_seconds",
                resolved ? json_real(59.0) : json_null());
        json_t *e = json_pack(
                "{s:i, s:s, s:s, s:s, s:{s:f, s:f, s:f, s:f}}",
                "seq",
                seq,
                "at",
                at,
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
        assert_int_equal(notifier_hub_publish(c->hub, "am", i, e), 0);
        json_decref(i);
        json_decref(e);
        free(detected);
        free(resolved_at);
        free(at);
}

/* Our alert in Alertmanager's active list (a new reference), or NULL. */
static json_t *am_alert(const char *incident_id) {
        char url[128], *body = NULL;
        long status = 0;
        json_error_t err;
        json_t *all, *v, *found = NULL;
        size_t i;

        snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v2/alerts", am_port);
        assert_int_equal(http_call("GET", url, NULL, &status, &body), 0);
        assert_int_equal(status, 200);
        all = json_loads(body, 0, &err);
        assert_non_null(all);
        json_array_foreach(all, i, v) {
                json_t *l = json_object_get(v, "labels"), *a = json_object_get(v, "annotations");
                if (streq_ptr(json_string_value(json_object_get(a, "incident")), incident_id)) {
                        /* labels identify rule + series + host */
                        assert_string_equal(json_string_value(json_object_get(l, "alertname")), "api-latency");
                        assert_string_equal(json_string_value(json_object_get(l, "rule")), "api-latency");
                        assert_string_equal(json_string_value(json_object_get(l, "series")), SERIES);
                        assert_string_equal(json_string_value(json_object_get(l, "host")), "web1");
                        found = json_incref(v);
                }
        }
        json_decref(all);
        free(body);
        return found;
}

/* Alertmanager's own notification to its webhook receiver with this status for our alert. */
static bool am_notified(const char *status, const char *incident_id) {
        json_t *reqs = receiver_requests(&receiver, "/am"), *r;
        bool seen = false;
        size_t i;

        json_array_foreach(reqs, i, r) {
                json_error_t err;
                json_t *body = json_loads(json_string_value(json_object_get(r, "body")), 0, &err), *a;
                size_t j;
                json_array_foreach(json_object_get(body, "alerts"), j, a) if (
                        streq_ptr(json_string_value(json_object_get(a, "status")), status) &&
                        streq_ptr(
                                json_string_value(
                                        json_object_get(json_object_get(a, "annotations"), "incident")),
                                incident_id)) seen = true;
                json_decref(body);
        }
        json_decref(reqs);
        return seen;
}

static void wait_notified(Ctx *c, const char *status, const char *id) {
        usec_t end = now(CLOCK_MONOTONIC) + 30 * S;
        while (!am_notified(status, id)) {
                if (now(CLOCK_MONOTONIC) > end)
                        fail_msg("Alertmanager never notified \"%s\" for %s", status, id);
                run_for(c, 200 * MS);
        }
}

static void test_firing_refreshed_then_resolved(void **state) {
        Ctx *c = *state;
        const char *id = "4f9c1d2e8a7b4c3d9e0f1a2b3c4d5e6f";
        json_t *a;
        char *ends1;

        hub_start(c);
        publish(c, id, "firing", 1, "firing", "anomalous for 1m");
        wait_requests(c, 1);
        assert_int_equal(stats(c).firing_alerts, 1);

        a = am_alert(id);
        assert_non_null(a);
        assert_string_equal(
                json_string_value(json_object_get(json_object_get(a, "status"), "state")), "active");
        json_t *ann = json_object_get(a, "annotations");
        assert_non_null(
                strstr(json_string_value(json_object_get(ann, "summary")),
                       "0.52 s, expected 0.15 s (0.11\xE2\x80\x93"
                       "0.19)"));
        assert_string_equal(json_string_value(json_object_get(ann, "state")), "firing");
        ends1 = strdup(json_string_value(json_object_get(a, "endsAt")));
        json_decref(a);

        /* Past the first endsAt (ttl 3 s): still active, because the hub re-sent it every second. */
        run_for(c, 4 * S);
        a = am_alert(id);
        assert_non_null(a);
        assert_string_equal(
                json_string_value(json_object_get(json_object_get(a, "status"), "state")), "active");
        assert_true(strcmp(json_string_value(json_object_get(a, "endsAt")), ends1) > 0);
        json_decref(a);
        free(ends1);
        assert_true(stats(c).requests >= 3);

        /* Routed by Alertmanager to its receiver. */
        wait_notified(c, "firing", id);

        /* Resolution: endsAt = resolved_at, the alert leaves the active list, Alertmanager says "resolved". */
        uint64_t before = stats(c).requests;
        publish(c, id, "resolved", 2, "resolved", "back to normal for 2m");
        wait_requests(c, before + 1);
        assert_int_equal(stats(c).firing_alerts, 0);
        assert_null(am_alert(id));
        wait_notified(c, "resolved", id);
        /* Nothing is re-sent for it any more. */
        before = stats(c).requests;
        run_for(c, 2 * S);
        assert_int_equal(stats(c).requests, before);
}

static void test_new_hub_refreshes_inherited_alerts(void **state) {
        Ctx *c = *state;
        const char *id = "5a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d";
        json_t *a;

        hub_start(c);
        publish(c, id, "escalated", 1, "escalated", "no step brought it back");
        wait_requests(c, 1);
        c->hub = notifier_hub_free(c->hub);

        /* A restart longer than the alert's TTL: Alertmanager lets it lapse ... */
        usec_t end = now(CLOCK_MONOTONIC) + 10 * S;
        while ((a = am_alert(id))) {
                json_decref(a);
                assert_true(now(CLOCK_MONOTONIC) < end);
                usleep(200 * 1000);
        }
        /* ... and the new hub, reading firing/ from the spool, brings it back at once. */
        hub_start(c);
        assert_int_equal(stats(c).firing_alerts, 1);
        wait_requests(c, 1);
        a = am_alert(id);
        assert_non_null(a);
        assert_string_equal(
                json_string_value(json_object_get(json_object_get(a, "annotations"), "state")), "escalated");
        json_decref(a);

        publish(c, id, "resolved", 2, "resolved", "recovered");
        wait_requests(c, 2);
        assert_null(am_alert(id));
}

static void test_queued_events_collapse_to_latest_state(void **state) {
        Ctx *c = *state;
        const char *id = "6b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e";
        NotifierStats s;

        hub_start(c);
        /* Three events queued before the loop runs: one request carrying the latest state (resolved). */
        publish(c, id, "firing", 1, "firing", "anomalous for 1m");
        publish(c, id, "remediating", 2, "action_started", "restarting api.service");
        publish(c, id, "resolved", 3, "resolved", "back to normal");
        wait_requests(c, 1);
        s = stats(c);
        assert_int_equal(s.requests, 1);
        assert_int_equal(s.delivered, 3);
        assert_int_equal(s.coalesced, 2);
        assert_int_equal(s.firing_alerts, 0);
        assert_null(am_alert(id));
}

static void test_removed_notifier_lets_alerts_lapse(void **state) {
        Ctx *c = *state;
        const char *id = "7c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f";
        NotifierStats *v = NULL;
        size_t n = 0;
        json_t *a;

        hub_start(c);
        publish(c, id, "firing", 1, "firing", "anomalous for 1m");
        wait_requests(c, 1);
        a = am_alert(id);
        assert_non_null(a);
        json_decref(a);

        /* Removed from the configuration: nothing queued, so it goes at once, records and all. */
        assert_int_equal(notifier_hub_configure(c->hub, NULL, 0), 0);
        assert_int_equal(notifier_hub_stats(c->hub, &v, &n), 0);
        assert_int_equal(n, 0);
        free(v);

        /* Configured again: nothing inherited to refresh; Alertmanager resolves it at its endsAt. */
        assert_int_equal(notifier_hub_configure(c->hub, &c->cfg, 1), 0);
        assert_int_equal(stats(c).firing_alerts, 0);
        usec_t end = now(CLOCK_MONOTONIC) + 15 * S;
        while ((a = am_alert(id))) {
                json_decref(a);
                assert_true(now(CLOCK_MONOTONIC) < end);
                run_for(c, 200 * MS);
        }
        assert_int_equal(stats(c).requests, 0);
}

static int start_alertmanager(void) {
        char cfg[512], storage[512], log[512], listen[64], config_flag[600], storage_flag[600];
        FILE *f;

        snprintf(cfg, sizeof(cfg), "%s/alertmanager.yml", workdir);
        snprintf(storage, sizeof(storage), "%s/am-data", workdir);
        snprintf(log, sizeof(log), "%s/alertmanager.log", workdir);
        f = fopen(cfg, "we");
        if (!f)
                return -errno;
        fprintf(f,
                "route:\n"
                "  receiver: rec\n"
                "  group_by: ['alertname']\n"
                "  group_wait: 1s\n"
                "  group_interval: 1s\n"
                "  repeat_interval: 1h\n"
                "receivers:\n"
                "  - name: rec\n"
                "    webhook_configs:\n"
                "      - url: http://127.0.0.1:%d/am\n"
                "        send_resolved: true\n",
                receiver.port);
        fclose(f);
        snprintf(config_flag, sizeof(config_flag), "--config.file=%s", cfg);
        snprintf(storage_flag, sizeof(storage_flag), "--storage.path=%s", storage);

        for (int attempt = 0; attempt < 3; attempt++) {
                am_port = free_tcp_port();
                if (am_port < 0)
                        return am_port;
                snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%d", am_port);
                char *argv[] = { (char *) alertmanager_binary,         config_flag, storage_flag, listen,
                                 (char *) "--cluster.listen-address=", NULL };
                am_pid = spawn_process(argv, log);
                if (am_pid < 0)
                        return am_pid;
                for (int i = 0; i < 300; i++) {
                        char url[128];
                        long status = 0;
                        snprintf(url, sizeof(url), "http://127.0.0.1:%d/-/ready", am_port);
                        if (http_call("GET", url, NULL, &status, NULL) >= 0 && status == 200)
                                return 0;
                        if (waitpid(am_pid, NULL, WNOHANG) == am_pid) {
                                am_pid = -1;
                                break; /* lost the port race, or broken: try again */
                        }
                        usleep(100 * 1000);
                }
                stop_process(am_pid);
                am_pid = -1;
        }
        return -EIO;
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_firing_refreshed_then_resolved, setup, teardown),
                cmocka_unit_test_setup_teardown(test_new_hub_refreshes_inherited_alerts, setup, teardown),
                cmocka_unit_test_setup_teardown(test_queued_events_collapse_to_latest_state, setup, teardown),
                cmocka_unit_test_setup_teardown(test_removed_notifier_lets_alerts_lapse, setup, teardown),
        };
        int r;

        if (argc < 3) {
                fprintf(stderr, "usage: %s PYTHON3 webhook-receiver.py\n", argv[0]);
                return 2;
        }
        if (getenv("ALERTMANAGER"))
                alertmanager_binary = getenv("ALERTMANAGER");
        if (access(alertmanager_binary, X_OK) < 0 || access(argv[1], X_OK) < 0) {
                fprintf(stderr, "%s or %s is not available: skipping\n", alertmanager_binary, argv[1]);
                return 77;
        }
        (void) signal(SIGPIPE, SIG_IGN);
        curl_global_init(CURL_GLOBAL_DEFAULT);
        if (!mkdtemp(workdir))
                return 1;
        r = receiver_start(argv[1], argv[2], &receiver);
        if (r < 0) {
                fprintf(stderr, "cannot start the webhook receiver: %s\n", strerror(-r));
                remove_tree(workdir);
                return 1;
        }
        r = start_alertmanager();
        if (r < 0) {
                fprintf(stderr,
                        "cannot start %s (see its log in %s): %s\n",
                        alertmanager_binary,
                        workdir,
                        strerror(-r));
                receiver_stop(&receiver);
                return 1;
        }
        r = cmocka_run_group_tests(tests, NULL, NULL);
        stop_process(am_pid);
        receiver_stop(&receiver);
        remove_tree(workdir);
        curl_global_cleanup();
        return r;
}

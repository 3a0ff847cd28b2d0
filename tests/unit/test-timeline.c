/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Tests for supervisor/timeline.c: journal entries (fields and MESSAGE_ID, captured through log.h's sink),
 * the JSON Lines file (webhook shape, one line per event, rotation within the size bound, no line lost or
 * reordered), and publication to the rule's notifiers through a real notifier hub (its durable spool).
 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "curl-glue.h"
#include "incident-json.h"
#include "log.h"
#include "timeline.h"

typedef struct Captured {
        int priority;
        char message[2048];
        char fields[TIMELINE_FIELDS_MAX][256];
        size_t n_fields;
        unsigned count;
} Captured;

static void capture(
        int priority, const char *message, const char *const *fields, size_t n_fields, void *userdata) {
        Captured *c = userdata;
        c->priority = priority;
        snprintf(c->message, sizeof(c->message), "%s", message);
        c->n_fields = MIN(n_fields, (size_t) TIMELINE_FIELDS_MAX);
        for (size_t k = 0; k < c->n_fields; k++)
                snprintf(c->fields[k], sizeof(c->fields[k]), "%s", fields[k]);
        c->count++;
}

static bool has_field(const Captured *c, const char *f) {
        for (size_t k = 0; k < c->n_fields; k++)
                if (streq(c->fields[k], f))
                        return true;
        return false;
}

static Incident *make_incident(Rule *rule) {
        Id128 id = { { 0xde, 0xad } };
        Label l = { "unit", "api.service" };
        Incident *i = NULL;

        assert_int_equal(incident_new(&id, "api-latency", "m{unit=\"api.service\"}", "m", &l, 1, &i), 0);
        i->rule = rule;
        i->detected_at = 1700000000ULL * USEC_PER_SEC;
        return i;
}

static const TimelineEvent *add(Incident *i, IncidentEventKind k, const char *msg) {
        const TimelineEvent *e;
        assert_int_equal(
                incident_append_event(
                        i,
                        i->detected_at + i->next_seq * USEC_PER_SEC,
                        k,
                        strdup(msg),
                        json_pack("{s:s}", "note", msg),
                        &e),
                0);
        return e;
}

static char *tmpdir(void) {
        char *d = strdup("/tmp/homeostat-test-timeline-XXXXXX");
        assert_non_null(mkdtemp(d));
        return d;
}

static void rm_rf(const char *dir) {
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

static void test_journal_fields(void **state) {
        Rule rule = { .name = (char *) "api-latency" };
        Incident *i = make_incident(&rule);
        Timeline *t;
        Captured c = {};

        log_set_sink(capture, &c);
        assert_int_equal(timeline_new(-1, &(TimelineOptions){ .journal = true }, &t), 0);
        const TimelineEvent *e = add(i, IEV_ACTION_FAILED, "restart api.service failed: no such unit");
        assert_int_equal(timeline_emit(t, i, e, "host1", true), 0);
        assert_int_equal(c.count, 1);
        assert_int_equal(c.priority, LOG_WARNING);
        assert_true(has_field(&c, "MESSAGE_ID=d79eed110f974032ae4eaf0f29809407"));
        assert_true(has_field(&c, "HOMEOSTAT_INCIDENT=dead0000000000000000000000000000"));
        assert_true(has_field(&c, "HOMEOSTAT_RULE=api-latency"));
        assert_true(has_field(&c, "HOMEOSTAT_EVENT=action_failed"));
        assert_true(has_field(&c, "HOMEOSTAT_SERIES=m{unit=\"api.service\"}"));
        assert_true(has_field(&c, "HOMEOSTAT_SEQ=1"));
        assert_string_equal(
                c.message,
                "incident dead0000 api-latency action_failed: restart api.service failed: no such unit");

        e = add(i, IEV_DETECTED, "anomalous");
        assert_int_equal(timeline_emit(t, i, e, "host1", true), 0);
        assert_int_equal(c.priority, LOG_NOTICE);
        assert_true(has_field(&c, "MESSAGE_ID=560867175a404fd9851eac031e49707e"));
        log_set_sink(NULL, NULL);
        timeline_free(t);
        incident_free(i);
}

static json_t *read_lines(int dir_fd, const char *name, size_t *ret_bytes) {
        json_t *a = json_array();
        char line[8192];
        int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
        FILE *f;

        *ret_bytes = 0;
        if (fd < 0)
                return a;
        f = fdopen(fd, "r");
        assert_non_null(f);
        while (fgets(line, sizeof(line), f)) {
                *ret_bytes += strlen(line);
                assert_true(endswith(line, "\n"));
                json_t *j = json_loads(line, 0, NULL);
                assert_non_null(j);
                json_array_append_new(a, j);
        }
        fclose(f);
        return a;
}

static void test_jsonl_rotation(void **state) {
        Rule rule = { .name = (char *) "api-latency" };
        Incident *i = make_incident(&rule);
        char *dir = tmpdir();
        int dfd = open(dir, O_DIRECTORY | O_CLOEXEC);
        Timeline *t;
        TimelineStats st;

        assert_true(dfd >= 0);
        assert_int_equal(timeline_new(dfd, &(TimelineOptions){ .max_bytes = 2000, .keep = 2 }, &t), 0);
        for (unsigned k = 0; k < 40; k++) {
                const TimelineEvent *e = add(
                        i, k % 2 ? IEV_ACTION_SKIPPED : IEV_FIRING, "an event of some length");
                assert_int_equal(timeline_emit(t, i, e, "host1", false), 0);
        }
        timeline_get_stats(t, &st);
        assert_int_equal(st.events, 40);
        assert_true(st.rotations >= 2);
        assert_int_equal(st.jsonl_errors, 0);
        assert_int_equal(faccessat(dfd, "timeline.jsonl.3", F_OK, 0), -1);

        /* The newest events, in order, each file within the bound; what is older than .2 is gone. */
        size_t b2, b1, b0;
        json_t *l2 = read_lines(dfd, "timeline.jsonl.2", &b2),
               *l1 = read_lines(dfd, "timeline.jsonl.1", &b1), *l0 = read_lines(dfd, "timeline.jsonl", &b0);
        assert_true(b2 <= 2000 && b1 <= 2000 && b0 <= 2000);
        assert_true(json_array_size(l2) > 0 && json_array_size(l1) > 0 && json_array_size(l0) > 0);
        json_array_extend(l2, l1);
        json_array_extend(l2, l0);
        json_t *last = json_array_get(l2, json_array_size(l2) - 1);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(last, "event"), "seq")), 40);
        for (size_t k = 1; k < json_array_size(l2); k++) {
                json_t *a = json_array_get(l2, k - 1), *b = json_array_get(l2, k);
                assert_int_equal(
                        json_integer_value(json_object_get(json_object_get(a, "event"), "seq")) + 1,
                        json_integer_value(json_object_get(json_object_get(b, "event"), "seq")));
                assert_int_equal(json_integer_value(json_object_get(b, "version")), 1);
                assert_string_equal(
                        json_string_value(json_object_get(json_object_get(b, "incident"), "id")),
                        "dead0000000000000000000000000000");
                assert_null(json_object_get(json_object_get(b, "incident"), "events"));
                assert_string_equal(
                        json_string_value(json_object_get(json_object_get(b, "incident"), "host")), "host1");
        }
        json_decref(l2);
        json_decref(l1);
        json_decref(l0);
        timeline_free(t);
        incident_free(i);
        close(dfd);
        rm_rf(dir);
        free(dir);
}

static void test_notifiers(void **state) {
        NotifierConfig notifiers[] = {
                { .name = (char *) "ops",
                  .kind = NOTIFIER_WEBHOOK,
                  .url_from = URL_FROM_LITERAL,
                  .url_ref = (char *) "http://127.0.0.1:9/hook" },
                { .name = (char *) "other",
                  .kind = NOTIFIER_WEBHOOK,
                  .url_from = URL_FROM_LITERAL,
                  .url_ref = (char *) "http://127.0.0.1:9/other" },
        };
        size_t notify[] = { 0 };
        Rule rule = { .name = (char *) "api-latency", .notify = notify, .n_notify = 1 };
        Config config = { .notifiers = notifiers, .n_notifiers = 2, .rules = &rule, .n_rules = 1 };
        Incident *i = make_incident(&rule);
        char *dir = tmpdir(), spool[256];
        sd_event *event = NULL;
        CurlGlue *glue = NULL;
        NotifierHub *hub = NULL;
        NotifierStats *stats = NULL;
        size_t n;
        Timeline *t;
        TimelineStats st;

        snprintf(spool, sizeof(spool), "%s/outbox", dir);
        assert_int_equal(sd_event_new(&event), 0);
        assert_int_equal(curl_glue_new(event, &glue), 0);
        assert_int_equal(notifier_hub_new(event, glue, spool, NULL, &hub), 0);
        assert_int_equal(notifier_hub_configure(hub, notifiers, 2), 0);
        assert_int_equal(timeline_new(-1, &(TimelineOptions){}, &t), 0);
        timeline_set_hub(t, hub, &config);

        assert_int_equal(timeline_emit(t, i, add(i, IEV_DETECTED, "one"), "host1", true), 0);
        assert_int_equal(timeline_emit(t, i, add(i, IEV_FIRING, "two"), "host1", true), 0);
        /* Muted (a silenced incident): not published. */
        assert_int_equal(timeline_emit(t, i, add(i, IEV_ACTION_SKIPPED, "three"), "host1", false), 0);
        timeline_get_stats(t, &st);
        assert_int_equal(st.published, 2);
        assert_int_equal(st.notify_errors, 0);
        assert_int_equal(notifier_hub_stats(hub, &stats, &n), 0);
        assert_int_equal(n, 2);
        for (size_t k = 0; k < n; k++)
                assert_int_equal(stats[k].queued, streq(stats[k].name, "ops") ? 2 : 0);
        free(stats);

        timeline_free(t);
        notifier_hub_free(hub);
        curl_glue_free(glue);
        sd_event_unref(event);
        incident_free(i);
        rm_rf(dir);
        free(dir);
}

int main(void) {
        assert_int_equal(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_journal_fields),
                cmocka_unit_test(test_jsonl_rotation),
                cmocka_unit_test(test_notifiers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

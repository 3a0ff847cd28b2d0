/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests for notifiers/notifier-format.c and notifier-text.c: incident/event validation, one golden payload
 * per notifier kind (compared structurally with json_equal), escaping of hostile text per dialect, unicode,
 * truncation at UTF-8 boundaries within each service's limits, and the "N earlier events suppressed" line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "notifier-format.h"
#include "notifier-text.h"
#include "util.h"

#define ID "4f9c1d2e8a7b4c3d9e0f1a2b3c4d5e6f"
#define SERIES "http_request_duration_seconds{quantile=\\\"0.99\\\",source=\\\"api\\\"}"
#define SERIES_JSON "\"" SERIES "\""

static const char incident_json[] =
        "{\"id\":\"" ID "\",\"rule\":\"api-latency\",\"series\":" SERIES_JSON ",\"host\":\"web1\","
        "\"state\":\"remediating\",\"detected_at\":\"2026-11-28T02:30:38.000Z\",\"resolved_at\":null,"
        "\"mttr_seconds\":null,\"events\":[{\"seq\":1}],\"extra\":true}";
static const char event1_json[] =
        "{\"seq\":1,\"at\":\"2026-11-28T02:30:38.000Z\",\"kind\":\"firing\",\"message\":\"anomalous for 1m\","
        "\"attrs\":{\"value\":0.52,\"expected\":0.15,\"lower\":0.11,\"upper\":0.19}}";
static const char event2_json[] =
        "{\"seq\":2,\"at\":\"2026-11-28T02:30:39.250Z\",\"kind\":\"action_started\","
        "\"message\":\"restarting api.service\",\"attrs\":{\"action\":\"restart\",\"unit\":\"api.service\"}}";

static json_t *load(const char *s) {
        json_error_t err;
        json_t *j = json_loads(s, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
        if (!j)
                fail_msg("bad test JSON at %d: %s\n%s", err.position, err.text, s);
        return j;
}

static json_t *norm_incident(const char *s) {
        json_t *in = load(s), *out = NULL;
        const char *reason = NULL;
        int r = notifier_incident_normalize(in, &out, &reason);
        if (r < 0)
                fail_msg("normalize incident: %s", reason);
        json_decref(in);
        return out;
}

static json_t *norm_event(const char *s) {
        json_t *in = load(s), *out = NULL;
        const char *reason = NULL;
        int r = notifier_event_normalize(in, &out, &reason);
        if (r < 0)
                fail_msg("normalize event: %s", reason);
        json_decref(in);
        return out;
}

static void assert_json_equal(const char *actual, const char *golden) {
        json_t *a = load(actual), *g = load(golden);
        if (!json_equal(a, g)) {
                char *ga = json_dumps(a, JSON_INDENT(1) | JSON_SORT_KEYS),
                     *gg = json_dumps(g, JSON_INDENT(1) | JSON_SORT_KEYS);
                print_error("actual:\n%s\ngolden:\n%s\n", ga, gg);
                free(ga);
                free(gg);
                fail();
        }
        json_decref(a);
        json_decref(g);
}

/* ---- validation ---- */

static void expect_bad_incident(const char *s, const char *reason_part) {
        json_t *in = load(s), *out = NULL;
        const char *reason = NULL;
        assert_int_equal(notifier_incident_normalize(in, &out, &reason), -EINVAL);
        assert_null(out);
        assert_non_null(reason);
        if (!strstr(reason, reason_part))
                fail_msg("reason \"%s\" does not mention \"%s\"", reason, reason_part);
        json_decref(in);
}

static void expect_bad_event(const char *s, const char *reason_part) {
        json_t *in = load(s), *out = NULL;
        const char *reason = NULL;
        assert_int_equal(notifier_event_normalize(in, &out, &reason), -EINVAL);
        assert_null(out);
        if (!reason || !strstr(reason, reason_part))
                fail_msg("reason \"%s\" does not mention \"%s\"", strna(reason), reason_part);
        json_decref(in);
}

#define INC(fields) "{" fields "}"
#define GOOD_TAIL "\"detected_at\":\"2026-11-28T02:30:38Z\",\"resolved_at\":null,\"mttr_seconds\":null"

static void test_normalize(void **state) {
        json_t *i = norm_incident(incident_json), *e;

        /* Exactly the eight members, "events" and unknown members dropped. */
        char *dump = json_dumps(i, 0);
        assert_json_equal(
                dump,
                "{\"id\":\"" ID "\",\"rule\":\"api-latency\",\"series\":" SERIES_JSON ",\"host\":\"web1\","
                "\"state\":\"remediating\",\"detected_at\":\"2026-11-28T02:30:38.000Z\",\"resolved_at\":null,"
                "\"mttr_seconds\":null}");
        free(dump);
        json_decref(i);

        e = norm_event("{\"seq\":3,\"at\":\"2026-11-28T02:30:38Z\",\"kind\":\"resolved\",\"message\":\"\"}");
        assert_true(json_is_object(json_object_get(e, "attrs"))); /* attrs defaults to {} */
        json_decref(e);

        expect_bad_incident("[]", "not a JSON object");
        expect_bad_incident(
                INC("\"rule\":\"r\",\"series\":\"s\",\"host\":\"h\",\"state\":\"firing\"," GOOD_TAIL),
                "incident.id");
        expect_bad_incident(
                INC("\"id\":\"../x\",\"rule\":\"r\",\"series\":\"s\",\"host\":\"h\",\"state\":\"firing\"," GOOD_TAIL),
                "incident.id");
        expect_bad_incident(
                INC("\"id\":\"a\",\"rule\":\"\",\"series\":\"s\",\"host\":\"h\",\"state\":\"firing\"," GOOD_TAIL),
                "incident.rule");
        expect_bad_incident(
                INC("\"id\":\"a\",\"rule\":\"r\",\"series\":5,\"host\":\"h\",\"state\":\"firing\"," GOOD_TAIL),
                "incident.series");
        expect_bad_incident(
                INC("\"id\":\"a\",\"rule\":\"r\",\"series\":\"s\",\"host\":\"h\\u0000x\",\"state\":\"firing\"," GOOD_TAIL),
                "incident.host");
        expect_bad_incident(
                INC("\"id\":\"a\",\"rule\":\"r\",\"series\":\"s\",\"host\":\"h\",\"state\":\"pending\"," GOOD_TAIL),
                "incident.state");
        expect_bad_incident(
                INC("\"id\":\"a\",\"rule\":\"r\",\"series\":\"s\",\"host\":\"h\",\"state\":\"firing\","
                    "\"detected_at\":\"yesterday\",\"resolved_at\":null,\"mttr_seconds\":null"),
                "incident.detected_at");
        expect_bad_incident(
                INC("\"id\":\"a\",\"rule\":\"r\",\"series\":\"s\",\"host\":\"h\",\"state\":\"firing\","
                    "\"detected_at\":\"2026-11-28T02:30:38Z\",\"mttr_seconds\":null"),
                "incident.resolved_at is missing");
        expect_bad_incident(
                INC("\"id\":\"a\",\"rule\":\"r\",\"series\":\"s\",\"host\":\"h\",\"state\":\"resolved\"," GOOD_TAIL),
                "resolved_at is null");
        expect_bad_incident(
                INC("\"id\":\"a\",\"rule\":\"r\",\"series\":\"s\",\"host\":\"h\",\"state\":\"firing\","
                    "\"detected_at\":\"2026-11-28T02:30:38Z\",\"resolved_at\":null,\"mttr_seconds\":\"5\""),
                "incident.mttr_seconds");

        expect_bad_event(
                "{\"seq\":0,\"at\":\"2026-11-28T02:30:38Z\",\"kind\":\"firing\",\"message\":\"m\"}",
                "event.seq");
        expect_bad_event(
                "{\"seq\":1.5,\"at\":\"2026-11-28T02:30:38Z\",\"kind\":\"firing\",\"message\":\"m\"}",
                "event.seq");
        expect_bad_event("{\"seq\":1,\"at\":\"\",\"kind\":\"firing\",\"message\":\"m\"}", "event.at");
        expect_bad_event(
                "{\"seq\":1,\"at\":\"2026-11-28T02:30:38Z\",\"kind\":\"exploded\",\"message\":\"m\"}",
                "event.kind");
        expect_bad_event("{\"seq\":1,\"at\":\"2026-11-28T02:30:38Z\",\"kind\":\"firing\"}", "event.message");
        expect_bad_event(
                "{\"seq\":1,\"at\":\"2026-11-28T02:30:38Z\",\"kind\":\"firing\",\"message\":\"m\",\"attrs\":[]}",
                "event.attrs");

        /* The closed list. */
        const char *kinds[] = { "detected",      "firing",         "action_started", "action_succeeded",
                                "action_failed", "action_skipped", "verify_passed",  "verify_failed",
                                "escalated",     "undo_started",   "undo_succeeded", "undo_failed",
                                "silenced",      "unsilenced",     "reopened",       "resolved" };
        for (size_t k = 0; k < ELEMENTSOF(kinds); k++)
                assert_true(notifier_event_kind_is_valid(kinds[k]));
        assert_false(notifier_event_kind_is_valid("Firing"));
        assert_false(notifier_event_kind_is_valid(NULL));
        assert_true(notifier_incident_id_is_valid("4f9c1d2e-8a7b-4c3d-9e0f-1a2b3c4d5e6f"));
        assert_false(notifier_incident_id_is_valid(""));
        assert_false(notifier_incident_id_is_valid("a.b"));
}

/* ---- goldens ---- */

typedef struct Fixture {
        json_t *incident, *e1, *e2;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));
        f->incident = norm_incident(incident_json);
        f->e1 = norm_event(event1_json);
        f->e2 = norm_event(event2_json);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        json_decref(f->incident);
        json_decref(f->e1);
        json_decref(f->e2);
        free(f);
        return 0;
}

static char *chat(
        NotifierKind kind, const json_t *incident, const json_t *const *events, size_t n, NotifierPayload *ret) {
        NotifierPayload p = {};
        assert_int_equal(notifier_format_chat(kind, incident, events, n, &p), 0);
        assert_non_null(p.body);
        assert_null(p.idempotency_key);
        if (ret)
                *ret = p;
        return p.body;
}

static void test_slack_golden(void **state) {
        Fixture *f = *state;
        const json_t *ev[] = { f->e2, f->e1 }; /* any order; sorted by seq */
        NotifierPayload p;

        chat(NOTIFIER_SLACK, f->incident, ev, 2, &p);
        assert_json_equal(
                p.body,
                "{\"text\":\"🟠 REMEDIATING: api-latency on " SERIES ": 0.52 s, expected 0.15 s (0.11–0.19) — "
                "restarting api.service\",\"blocks\":[{\"type\":\"section\",\"text\":{\"type\":\"mrkdwn\","
                "\"text\":\"*🟠 REMEDIATING: api-latency* on `" SERIES
                "` · host web1\"}},{\"type\":\"section\","
                "\"text\":{\"type\":\"mrkdwn\",\"text\":\"• `02:30:38` *firing*: 0.52 s, expected 0.15 s "
                "(0.11–0.19) — anomalous for 1m\\n• `02:30:39` *action started*: restarting api.service\"}},"
                "{\"type\":\"context\",\"elements\":[{\"type\":\"mrkdwn\",\"text\":\"incident `" ID "` · "
                "detected 2026-11-28T02:30:38.000Z\"}]}]}");
        assert_int_equal(p.n_shown, 2);
        assert_int_equal(p.n_suppressed, 0);
        notifier_payload_done(&p);
}

static void test_mattermost_golden(void **state) {
        Fixture *f = *state;
        const json_t *ev[] = { f->e1, f->e2 };
        NotifierPayload p;

        chat(NOTIFIER_MATTERMOST, f->incident, ev, 2, &p);
        assert_json_equal(
                p.body,
                "{\"text\":\"**🟠 REMEDIATING: api-latency** on `" SERIES "` · host web1\\n"
                "- `02:30:38` **firing**: 0.52 s, expected 0.15 s (0.11–0.19) — anomalous for 1m\\n"
                "- `02:30:39` **action started**: restarting api.service\\n\\n"
                "incident `" ID "` · detected 2026-11-28T02:30:38.000Z\"}");
        notifier_payload_done(&p);
}

static void test_teams_golden(void **state) {
        Fixture *f = *state;
        const json_t *ev[] = { f->e1, f->e2 };
        NotifierPayload p;

        chat(NOTIFIER_TEAMS, f->incident, ev, 2, &p);
        assert_json_equal(
                p.body,
                "{\"type\":\"message\",\"attachments\":[{\"contentType\":\"application/vnd.microsoft.card.adaptive\","
                "\"contentUrl\":null,\"content\":{\"$schema\":\"http://adaptivecards.io/schemas/adaptive-card.json\","
                "\"type\":\"AdaptiveCard\",\"version\":\"1.4\",\"msteams\":{\"width\":\"Full\"},\"body\":["
                "{\"type\":\"TextBlock\",\"text\":\"🟠 REMEDIATING: api-latency\",\"weight\":\"Bolder\","
                "\"size\":\"Medium\",\"color\":\"Warning\",\"wrap\":true},"
                "{\"type\":\"TextBlock\",\"text\":\"" SERIES
                "\",\"fontType\":\"Monospace\",\"spacing\":\"Small\","
                "\"wrap\":true},"
                "{\"type\":\"TextBlock\",\"text\":\"02:30:38 **firing**: 0.52 s, expected 0.15 s (0.11–0.19) — "
                "anomalous for 1m\",\"spacing\":\"Small\",\"wrap\":true},"
                "{\"type\":\"TextBlock\",\"text\":\"02:30:39 **action started**: restarting api.service\","
                "\"spacing\":\"Small\",\"wrap\":true},"
                "{\"type\":\"FactSet\",\"facts\":[{\"title\":\"Host\",\"value\":\"web1\"},{\"title\":\"Incident\","
                "\"value\":\"" ID "\"},{\"title\":\"State\",\"value\":\"remediating\"},{\"title\":\"Detected\","
                "\"value\":\"2026-11-28T02:30:38.000Z\"}]}]}}]}");
        notifier_payload_done(&p);
}

static void test_discord_golden(void **state) {
        Fixture *f = *state;
        const json_t *ev[] = { f->e1, f->e2 };
        NotifierPayload p;

        chat(NOTIFIER_DISCORD, f->incident, ev, 2, &p);
        assert_json_equal(
                p.body,
                "{\"allowed_mentions\":{\"parse\":[]},\"embeds\":[{\"title\":\"🟠 REMEDIATING: api-latency\","
                "\"description\":\"`" SERIES "` · host web1\\n\\n• `02:30:38` **firing**: 0.52 s, expected "
                "0.15 s (0.11–0.19) — anomalous for 1m\\n• `02:30:39` **action started**: restarting "
                "api.service\",\"color\":15512110,\"fields\":[{\"name\":\"Incident\",\"value\":\"`" ID "`\","
                "\"inline\":true},{\"name\":\"State\",\"value\":\"remediating\",\"inline\":true}],"
                "\"footer\":{\"text\":\"homeostat\"},\"timestamp\":\"2026-11-28T02:30:39.250Z\"}]}");
        notifier_payload_done(&p);
}

static void test_webhook_golden(void **state) {
        Fixture *f = *state;
        NotifierPayload p = {};
        json_t *full = load(incident_json);

        assert_int_equal(notifier_format_webhook(f->incident, f->e2, &p), 0);
        assert_string_equal(p.idempotency_key, ID "/2");
        assert_json_equal(
                p.body,
                "{\"version\":1,\"incident\":{\"id\":\"" ID "\",\"rule\":\"api-latency\",\"series\":" SERIES_JSON
                ",\"host\":\"web1\",\"state\":\"remediating\",\"detected_at\":\"2026-11-28T02:30:38.000Z\","
                "\"resolved_at\":null,\"mttr_seconds\":null},\"event\":{\"seq\":2,\"at\":\"2026-11-28T02:30:39.250Z\","
                "\"kind\":\"action_started\",\"message\":\"restarting api.service\",\"attrs\":{\"action\":"
                "\"restart\",\"unit\":\"api.service\"}}}");
        notifier_payload_done(&p);

        /* A full incident (with events) is sent without them. */
        assert_int_equal(notifier_format_webhook(full, f->e1, &p), 0);
        json_t *body = load(p.body);
        assert_null(json_object_get(json_object_get(body, "incident"), "events"));
        assert_string_equal(p.idempotency_key, ID "/1");
        json_decref(body);
        json_decref(full);
        notifier_payload_done(&p);
}

static void test_alertmanager_golden(void **state) {
        Fixture *f = *state;
        NotifierPayload p = {};
        NotifierAlert a = { f->incident, f->e1 };
        /* 2026-11-28T02:30:38Z */
        usec_t now = 1795833038ULL * USEC_PER_SEC;

        assert_int_equal(notifier_format_alertmanager(&a, 1, now, 4 * USEC_PER_MINUTE, &p), 0);
        assert_null(p.idempotency_key);
        assert_json_equal(
                p.body,
                "[{\"labels\":{\"alertname\":\"api-latency\",\"rule\":\"api-latency\",\"series\":" SERIES_JSON
                ",\"host\":\"web1\"},\"annotations\":{\"summary\":\"api-latency on " SERIES ": 0.52 s, "
                "expected 0.15 s (0.11–0.19) — anomalous for 1m\",\"description\":\"anomalous for 1m\","
                "\"incident\":\"" ID "\",\"state\":\"remediating\",\"event\":\"firing\",\"value\":\"0.52\","
                "\"expected\":\"0.15\",\"lower\":\"0.11\",\"upper\":\"0.19\"},\"startsAt\":"
                "\"2026-11-28T02:30:38.000Z\",\"endsAt\":\"2026-11-28T02:34:38.000Z\"}]");
        notifier_payload_done(&p);

        /* Resolved: endsAt is resolved_at, MTTR annotated. */
        json_t *res = norm_incident(
                "{\"id\":\"" ID "\",\"rule\":\"api-latency\",\"series\":\"up\",\"host\":\"web1\","
                "\"state\":\"resolved\",\"detected_at\":\"2026-11-28T02:30:38Z\",\"resolved_at\":"
                "\"2026-11-28T02:31:20.5Z\",\"mttr_seconds\":42.5}");
        json_t *ev = norm_event("{\"seq\":6,\"at\":\"2026-11-28T02:33:20Z\",\"kind\":\"resolved\",\"message\":"
                                "\"back to normal\",\"attrs\":{}}");
        NotifierAlert b[] = { { res, ev }, { f->incident, f->e2 } };
        assert_int_equal(
                notifier_format_alertmanager(b, 2, now + 300 * USEC_PER_SEC, 4 * USEC_PER_MINUTE, &p), 0);
        json_t *body = load(p.body);
        assert_int_equal(json_array_size(body), 2);
        json_t *a0 = json_array_get(body, 0), *a1 = json_array_get(body, 1);
        assert_string_equal(json_string_value(json_object_get(a0, "startsAt")), "2026-11-28T02:30:38.000Z");
        assert_string_equal(json_string_value(json_object_get(a0, "endsAt")), "2026-11-28T02:31:20.500Z");
        assert_string_equal(
                json_string_value(json_object_get(json_object_get(a0, "annotations"), "mttr_seconds")),
                "42.5");
        assert_string_equal(
                json_string_value(json_object_get(json_object_get(a0, "annotations"), "state")), "resolved");
        assert_string_equal(json_string_value(json_object_get(a1, "endsAt")), "2026-11-28T02:39:38.000Z");
        json_decref(body);
        json_decref(res);
        json_decref(ev);
        notifier_payload_done(&p);

        assert_int_equal(notifier_format_alertmanager(NULL, 0, now, 0, &p), -EINVAL);
}

/* ---- hostile text ---- */

static const char *field(json_t *root, const char *path) {
        /* path like "blocks.1.text.text" */
        char buf[256];
        json_t *j = root;
        snprintf(buf, sizeof(buf), "%s", path);
        for (char *p = buf, *dot; p && j; p = dot) {
                dot = strchr(p, '.');
                if (dot)
                        *dot++ = 0;
                if (json_is_array(j))
                        j = json_array_get(j, (size_t) (p[0] - '0'));
                else
                        j = json_object_get(j, p);
        }
        assert_non_null(j);
        return json_string_value(j);
}

static void assert_contains(const char *hay, const char *needle) {
        if (!strstr(hay, needle))
                fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

static void assert_not_contains(const char *hay, const char *needle) {
        if (strstr(hay, needle))
                fail_msg("\"%s\" contains \"%s\"", hay, needle);
}

static void test_escapes(void **state) {
        json_t *inc = norm_incident(
                "{\"id\":\"" ID "\",\"rule\":\"r_1*\",\"series\":\"m{l=\\\"a`b<c>&d\\\"}\","
                "\"host\":\"h\",\"state\":\"firing\",\"detected_at\":\"2026-11-28T02:30:38Z\","
                "\"resolved_at\":null,\"mttr_seconds\":null}");
        json_t *ev = norm_event(
                "{\"seq\":1,\"at\":\"2026-11-28T02:30:38Z\",\"kind\":\"firing\",\"message\":"
                "\"<!channel> & *bold* _it_ @here [x](http://e) a_b {{DATE(x)}} `c`\\nline2\"}");
        const json_t *evs[] = { ev };
        NotifierPayload p;
        json_t *b;
        const char *t;

        /* Slack: & < > as entities everywhere; backtick inside code replaced; no raw newline from input. */
        chat(NOTIFIER_SLACK, inc, evs, 1, &p);
        b = load(p.body);
        t = field(b, "blocks.1.text.text");
        assert_contains(t, "&lt;!channel&gt; &amp; *bold*");
        assert_not_contains(t, "<!channel>");
        assert_not_contains(t, "\n");
        assert_contains(t, " line2");
        t = field(b, "blocks.0.text.text");
        assert_contains(
                t,
                "`m{l=\"a\xCB\x8B"
                "b&lt;c&gt;&amp;d\"}`");
        assert_not_contains(field(b, "text"), "<!channel>");
        json_decref(b);
        notifier_payload_done(&p);

        /* Mattermost: backslash escapes, mentions defused, intraword underscore kept, code span intact. */
        chat(NOTIFIER_MATTERMOST, inc, evs, 1, &p);
        b = load(p.body);
        t = field(b, "text");
        assert_contains(t, "\\<\\!channel\\> \\& \\*bold\\* \\_it\\_ @\xE2\x80\x8Bhere \\[x\\](http://e) a_b");
        assert_contains(t, "\\`c\\`");
        assert_contains(
                t,
                "`m{l=\"a\xCB\x8B"
                "b<c>&d\"}`"); /* code spans are literal in CommonMark */
        assert_contains(t, "**🔴 FIRING: r_1\\***");
        assert_not_contains(t, "@here");
        json_decref(b);
        notifier_payload_done(&p);

        /* Teams: Markdown subset escaped, template braces defused. */
        chat(NOTIFIER_TEAMS, inc, evs, 1, &p);
        b = load(p.body);
        t = field(b, "attachments.0.content.body.2.text");
        assert_contains(t, "\\*bold\\* \\_it\\_");
        assert_contains(t, "{\xE2\x80\x8B{DATE(x)}}");
        assert_not_contains(t, "{{");
        json_decref(b);
        notifier_payload_done(&p);

        /* Discord: backslash escapes, mentions off for the whole message. */
        chat(NOTIFIER_DISCORD, inc, evs, 1, &p);
        b = load(p.body);
        t = field(b, "embeds.0.description");
        assert_contains(t, "\\<!channel\\> & \\*bold\\* \\_it\\_ @here \\[x\\](http://e) a_b");
        assert_true(json_array_size(json_object_get(json_object_get(b, "allowed_mentions"), "parse")) == 0);
        json_decref(b);
        notifier_payload_done(&p);

        /* The generic webhook and Alertmanager carry the text unchanged (JSON escaping only). */
        assert_int_equal(notifier_format_webhook(inc, ev, &p), 0);
        b = load(p.body);
        assert_string_equal(
                field(b, "event.message"),
                "<!channel> & *bold* _it_ @here [x](http://e) a_b {{DATE(x)}} `c`\nline2");
        json_decref(b);
        notifier_payload_done(&p);

        json_decref(inc);
        json_decref(ev);
}

static void test_unicode(void **state) {
        json_t *inc = norm_incident(
                "{\"id\":\"" ID "\",\"rule\":\"räkna\",\"series\":\"größe_bytes{z=\\\"日本\\\"}\","
                "\"host\":\"hôte\",\"state\":\"resolved\",\"detected_at\":\"2026-11-28T02:30:38Z\","
                "\"resolved_at\":\"2026-11-28T03:32:00Z\",\"mttr_seconds\":3682}");
        json_t *ev = norm_event(
                "{\"seq\":9,\"at\":\"2026-11-28T03:33:00+01:00\",\"kind\":\"resolved\",\"message\":"
                "\"zurück 🙂 \\u2028 ok\",\"attrs\":{\"value\":1610612736,\"expected\":536870912,"
                "\"lower\":419430400,\"upper\":629145600}}");
        const json_t *evs[] = { ev };

        for (NotifierKind k = NOTIFIER_SLACK; k <= NOTIFIER_DISCORD; k++) {
                NotifierPayload p;
                chat(k, inc, evs, 1, &p);
                assert_true(utf8_is_valid(p.body, strlen(p.body), NULL));
                assert_contains(p.body, "räkna");
                assert_contains(p.body, "日本");
                assert_contains(p.body, "zurück 🙂");
                assert_not_contains(p.body, "\xE2\x80\xA8"); /* U+2028 became a space */
                /* bytes are humanised, the clock is UTC */
                assert_contains(p.body, "1.5 GiB, expected 512 MiB (400 MiB–600 MiB)");
                assert_contains(p.body, "02:33:00");
                assert_contains(p.body, "MTTR");
                assert_contains(p.body, "1h1m22s");
                notifier_payload_done(&p);
        }
        json_decref(inc);
        json_decref(ev);
}

static size_t max_line_units(const char *s) {
        size_t best = 0;
        while (*s) {
                size_t n = strcspn(s, "\n");
                best = MAX(best, text_units(s, n));
                s += n;
                if (*s)
                        s++;
        }
        return best;
}

static void test_truncation(void **state) {
        StrBuf huge = STRBUF_INIT, series = STRBUF_INIT;
        for (int i = 0; i < 3000; i++)
                strbuf_puts(&huge, "é🙂&<");
        strbuf_puts(&series, "m{l=\"");
        for (int i = 0; i < 2000; i++)
                strbuf_puts(&series, "日");
        strbuf_puts(&series, "\"}");
        json_t *inc = json_pack(
                "{s:s, s:s, s:s, s:s, s:s, s:s, s:n, s:n}",
                "id",
                ID,
                "rule",
                "r",
                "series",
                strbuf_str(&series),
                "host",
                "h",
                "state",
                "firing",
                "detected_at",
                "2026-11-28T02:30:38Z",
                "resolved_at",
                "mttr_seconds");
        json_t *ev[20], *ni = NULL;
        const char *reason;
        assert_int_equal(notifier_incident_normalize(inc, &ni, &reason), 0);
        for (int i = 0; i < 20; i++) {
                json_t *raw = json_pack(
                        "{s:i, s:s, s:s, s:s}",
                        "seq",
                        i + 1,
                        "at",
                        "2026-11-28T02:30:38Z",
                        "kind",
                        "action_failed",
                        "message",
                        strbuf_str(&huge));
                assert_int_equal(notifier_event_normalize(raw, &ev[i], &reason), 0);
                json_decref(raw);
        }

        for (NotifierKind k = NOTIFIER_SLACK; k <= NOTIFIER_DISCORD; k++) {
                NotifierPayload p;
                json_t *b;
                chat(k, ni, (const json_t *const *) ev, 20, &p);
                assert_true(utf8_is_valid(p.body, strlen(p.body), NULL));
                b = load(p.body);
                assert_true(p.n_shown >= 1);
                assert_int_equal(p.n_shown + p.n_suppressed, 20);
                assert_true(p.n_suppressed >= 10);
                switch (k) {
                case NOTIFIER_SLACK:
                        assert_true(text_units_str(field(b, "blocks.1.text.text")) <= SLACK_SECTION_MAX);
                        assert_true(text_units_str(field(b, "blocks.0.text.text")) <= SLACK_SECTION_MAX);
                        assert_true(text_units_str(field(b, "text")) <= SLACK_FALLBACK_MAX);
                        assert_contains(field(b, "blocks.1.text.text"), "earlier events suppressed");
                        /* an escape sequence is never cut: every & starts a whole entity */
                        for (const char *s = field(b, "blocks.1.text.text"); (s = strchr(s, '&')); s++)
                                assert_true(
                                        startswith(s, "&amp;") || startswith(s, "&lt;") ||
                                        startswith(s, "&gt;"));
                        break;
                case NOTIFIER_MATTERMOST:
                        assert_true(text_units_str(field(b, "text")) <= MATTERMOST_TEXT_MAX);
                        break;
                case NOTIFIER_TEAMS:
                        break;
                case NOTIFIER_DISCORD: {
                        size_t total = text_units_str(field(b, "embeds.0.title")) +
                                text_units_str(field(b, "embeds.0.description")) + 40;
                        assert_true(text_units_str(field(b, "embeds.0.title")) <= DISCORD_TITLE_MAX);
                        assert_true(
                                text_units_str(field(b, "embeds.0.description")) <= DISCORD_DESCRIPTION_MAX);
                        assert_true(total <= DISCORD_TOTAL_MAX);
                        break;
                }
                default:
                        break;
                }
                assert_true(max_line_units(p.body) > 0);
                assert_contains(p.body, "\xE2\x80\xA6"); /* truncated with an ellipsis */
                json_decref(b);
                notifier_payload_done(&p);
        }
        for (int i = 0; i < 20; i++)
                json_decref(ev[i]);
        json_decref(inc);
        json_decref(ni);
        strbuf_done(&huge);
        strbuf_done(&series);
}

static void test_suppressed_line(void **state) {
        Fixture *f = *state;
        json_t *ev[60];
        NotifierPayload p;
        json_t *b;
        const char *t;

        for (int i = 0; i < 60; i++) {
                char msg[32];
                snprintf(msg, sizeof(msg), "event #%d", i + 1);
                json_t *raw = json_pack(
                        "{s:i, s:s, s:s, s:s}",
                        "seq",
                        i + 1,
                        "at",
                        "2026-11-28T02:30:38Z",
                        "kind",
                        "verify_failed",
                        "message",
                        msg);
                const char *reason;
                assert_int_equal(notifier_event_normalize(raw, &ev[i], &reason), 0);
                json_decref(raw);
        }
        chat(NOTIFIER_SLACK, f->incident, (const json_t *const *) ev, 60, &p);
        assert_int_equal(p.n_shown, 10);
        assert_int_equal(p.n_suppressed, 50);
        b = load(p.body);
        t = field(b, "blocks.1.text.text");
        assert_true(startswith(t, "• _… 50 earlier events suppressed (homeostatctl incident " ID ")_\n"));
        assert_not_contains(t, "event #50\n");
        assert_contains(t, "event #51\n");
        assert_true(endswith(t, "event #60"));
        assert_true(strstr(t, "event #51") < strstr(t, "event #60"));
        json_decref(b);
        notifier_payload_done(&p);

        /* One suppressed event reads in the singular. */
        chat(NOTIFIER_MATTERMOST, f->incident, (const json_t *const *) ev + 49, 11, &p);
        assert_contains(p.body, "- _… 1 earlier event suppressed (homeostatctl incident " ID ")_");
        notifier_payload_done(&p);

        /* Duplicates of a seq are shown once. */
        const json_t *dup[] = { ev[0], ev[0], ev[1] };
        chat(NOTIFIER_SLACK, f->incident, dup, 3, &p);
        assert_int_equal(p.n_shown, 2);
        notifier_payload_done(&p);

        for (int i = 0; i < 60; i++)
                json_decref(ev[i]);
        assert_int_equal(notifier_format_chat(NOTIFIER_WEBHOOK, f->incident, NULL, 0, &p), -EINVAL);
}

/* ---- text helpers ---- */

static char *esc(const char *s, TextStyle st, size_t max) {
        StrBuf b = STRBUF_INIT;
        assert_true(text_append_escaped(&b, s, st, max) >= 0);
        return strbuf_steal(&b);
}

static void assert_esc(const char *s, TextStyle st, size_t max, const char *expected) {
        char *e = esc(s, st, max);
        assert_string_equal(e, expected);
        free(e);
}

static void test_text(void **state) {
        char nb[NUMBER_MAX], *m;

        assert_int_equal(text_units_str("abc"), 3);
        assert_int_equal(text_units_str("é日"), 2);
        assert_int_equal(text_units_str("🙂"), 2);
        assert_int_equal(text_units("\xff", 1), 1);

        assert_esc("a&b<c>", TEXT_SLACK, 100, "a&amp;b&lt;c&gt;");
        assert_esc("a&b", TEXT_SLACK, 5, "a…"); /* "&amp;" (5 units) does not fit before the ellipsis */
        assert_esc("a&b", TEXT_SLACK, 7, "a&amp;b");
        assert_esc("abcdef", TEXT_PLAIN, 4, "abc…");
        assert_esc("abc", TEXT_PLAIN, 3, "abc");
        assert_esc("abc", TEXT_PLAIN, 0, "");
        assert_esc("🙂🙂🙂", TEXT_PLAIN, 4, "🙂…"); /* a surrogate pair is never split */
        assert_esc("é🙂", TEXT_PLAIN, 2, "é…");
        assert_esc("a\tb\nc\x7f", TEXT_PLAIN, 10, "a b c ");
        assert_esc("\xff\xfe", TEXT_PLAIN, 10, "\xEF\xBF\xBD\xEF\xBF\xBD");
        assert_esc("x*y", TEXT_MARKDOWN, 3, "x…"); /* "\*" is never cut in half */
        assert_esc("a_b _c_", TEXT_MARKDOWN, 100, "a_b \\_c\\_");
        assert_esc("`", TEXT_MARKDOWN_CODE, 100, "\xCB\x8B");
        assert_esc("{{x}}", TEXT_TEAMS, 100, "{\xE2\x80\x8B{x}}");
        assert_esc("<@123> ||s||", TEXT_DISCORD, 100, "\\<@123\\> \\|\\|s\\|\\|");

        assert_string_equal(text_format_number(nb, sizeof(nb), 0.52), "0.52");
        assert_string_equal(text_format_number(nb, sizeof(nb), 0.155), "0.155");
        assert_string_equal(text_format_number(nb, sizeof(nb), 12.345), "12.3");
        assert_string_equal(text_format_number(nb, sizeof(nb), 999.4), "999");
        assert_string_equal(text_format_number(nb, sizeof(nb), 999.6), "1000");
        assert_string_equal(text_format_number(nb, sizeof(nb), 123456.7), "123457");
        assert_string_equal(text_format_number(nb, sizeof(nb), -3), "-3");
        assert_string_equal(text_format_number(nb, sizeof(nb), 0.0000123), "1.23e-05");
        assert_string_equal(text_format_number(nb, sizeof(nb), 1e20), "1e+20");

        assert_string_equal(text_series_unit("http_request_duration_seconds{a=\"b\"}"), "s");
        assert_string_equal(text_series_unit("homeostat_unit_memory_bytes"), "B");
        assert_string_equal(text_series_unit("disk_used_percent{x=\"_seconds\"}"), "%");
        assert_null(text_series_unit("http_requests_total"));
        assert_null(text_series_unit("process_cpu_seconds_total"));
        assert_null(text_series_unit("_seconds"));

        json_t *a = load("{\"value\":0.52,\"expected\":0.15,\"lower\":0.11,\"upper\":0.19}");
        assert_int_equal(text_format_measurement(a, "s", &m), 0);
        assert_string_equal(m, "0.52 s, expected 0.15 s (0.11–0.19)");
        free(m);
        assert_int_equal(text_format_measurement(a, NULL, &m), 0);
        assert_string_equal(m, "0.52, expected 0.15 (0.11–0.19)");
        free(m);
        assert_int_equal(text_format_measurement(a, "%", &m), 0);
        assert_string_equal(m, "0.52%, expected 0.15% (0.11–0.19)");
        free(m);
        json_decref(a);
        a = load("{\"value\":7,\"value_unit\":\"req/s\"}");
        assert_int_equal(text_format_measurement(a, "s", &m), 0);
        assert_string_equal(m, "7 req/s");
        free(m);
        json_decref(a);
        a = load("{\"value\":7,\"lower\":1,\"upper\":2}");
        assert_int_equal(text_format_measurement(a, "s", &m), 0);
        assert_string_equal(m, "7 s, expected 1–2 s");
        free(m);
        json_decref(a);
        a = load("{\"value\":\"7\",\"reason\":\"cooldown\"}");
        assert_int_equal(text_format_measurement(a, "s", &m), 0);
        assert_null(m);
        json_decref(a);

        assert_int_equal(text_format_clock("2026-11-28T23:59:59.9-02:00", &m), 0);
        assert_string_equal(m, "01:59:59");
        free(m);
        assert_int_equal(text_format_clock("garbage", &m), 0);
        assert_string_equal(m, "garbage");
        free(m);

        assert_string_equal(text_format_seconds(nb, sizeof(nb), 4.25), "4.2s");
        assert_string_equal(text_format_seconds(nb, sizeof(nb), 42.4), "42s");
        assert_string_equal(text_format_seconds(nb, sizeof(nb), 192), "3m12s");
        assert_string_equal(text_format_seconds(nb, sizeof(nb), -1), "n/a");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_normalize),
                cmocka_unit_test_setup_teardown(test_slack_golden, setup, teardown),
                cmocka_unit_test_setup_teardown(test_mattermost_golden, setup, teardown),
                cmocka_unit_test_setup_teardown(test_teams_golden, setup, teardown),
                cmocka_unit_test_setup_teardown(test_discord_golden, setup, teardown),
                cmocka_unit_test_setup_teardown(test_webhook_golden, setup, teardown),
                cmocka_unit_test_setup_teardown(test_alertmanager_golden, setup, teardown),
                cmocka_unit_test(test_escapes),
                cmocka_unit_test(test_unicode),
                cmocka_unit_test(test_truncation),
                cmocka_unit_test_setup_teardown(test_suppressed_line, setup, teardown),
                cmocka_unit_test(test_text),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

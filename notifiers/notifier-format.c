/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Incident/event validation and the per-kind request bodies; see notifier-format.h for the formats.
 *
 * Chat messages are assembled from escaped pieces, each with its own budget, so that a limit is never
 * reached in the middle of an escape sequence or of our own markup: rule, host and series are truncated
 * on their own, each event becomes one line of bounded length, and lines are taken newest first until the
 * kind's limit would be passed.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "notifier-format.h"
#include "notifier-text.h"
#include "strbuf.h"
#include "util.h"

#define RULE_MAX_UNITS 120
#define HOST_MAX_UNITS 120
#define SERIES_MAX_UNITS 400
#define ID_MAX_UNITS 64
#define MAX_LINES 10 /* events listed in one chat message; older ones are summarised in one line */

/* jansson's own json_decrefp() (2.14) accepts NULL. */
#define _cleanup_json_ _cleanup_(json_decrefp)

static const char *const event_kinds[] = {
        "detected",      "firing",         "action_started", "action_succeeded",
        "action_failed", "action_skipped", "verify_passed",  "verify_failed",
        "escalated",     "undo_started",   "undo_succeeded", "undo_failed",
        "silenced",      "unsilenced",     "reopened",       "resolved",
};

static const char *const incident_states[] = {
        "firing", "remediating", "verifying", "resolved", "escalated",
};

bool notifier_event_kind_is_valid(const char *kind) {
        if (!kind)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(event_kinds); i++)
                if (streq(kind, event_kinds[i]))
                        return true;
        return false;
}

bool notifier_incident_state_is_valid(const char *state) {
        if (!state)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(incident_states); i++)
                if (streq(state, incident_states[i]))
                        return true;
        return false;
}

bool notifier_incident_id_is_valid(const char *id) {
        size_t n = 0;

        if (!id)
                return false;
        for (const char *p = id; *p; p++, n++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '-' || *p == '_'))
                        return false;
        return n >= 1 && n <= 64;
}

/* A string member without embedded NUL bytes (jansson allows them; C string users would be misled). */
static const char *get_string(const json_t *o, const char *key, size_t max_bytes) {
        const json_t *v = json_object_get(o, key);
        const char *s;

        if (!v || !json_is_string(v))
                return NULL;
        s = json_string_value(v);
        if (strlen(s) != json_string_length(v) || json_string_length(v) > max_bytes)
                return NULL;
        return s;
}

static bool is_timestamp(const char *s) {
        double t;
        return s && strlen(s) >= 10 && parse_timestamp(s, strlen(s), &t) >= 0 && isfinite(t) && t >= 0;
}

#define REASON(r)                          \
        do {                               \
                if (ret_reason)            \
                        *ret_reason = (r); \
                return -EINVAL;            \
        } while (0)

int notifier_incident_normalize(const json_t *incident, json_t **ret, const char **ret_reason) {
        _cleanup_json_ json_t *o = NULL;
        const char *id, *rule, *series, *host, *state, *detected_at, *resolved_at = NULL;
        const json_t *ra, *mttr;

        if (!incident || !json_is_object(incident))
                REASON("the incident is not a JSON object");
        id = get_string(incident, "id", 64);
        if (!id || !notifier_incident_id_is_valid(id))
                REASON("incident.id is missing or not [A-Za-z0-9_-]{1,64}");
        rule = get_string(incident, "rule", 1024);
        if (!rule || !*rule)
                REASON("incident.rule is missing, empty or not a string");
        series = get_string(incident, "series", 16384);
        if (!series || !*series)
                REASON("incident.series is missing, empty or not a string");
        host = get_string(incident, "host", 1024);
        if (!host || !*host)
                REASON("incident.host is missing, empty or not a string");
        state = get_string(incident, "state", 32);
        if (!notifier_incident_state_is_valid(state))
                REASON("incident.state is missing or not one of firing, remediating, verifying, resolved, escalated");
        detected_at = get_string(incident, "detected_at", 64);
        if (!is_timestamp(detected_at))
                REASON("incident.detected_at is missing or not an RFC 3339 timestamp");
        ra = json_object_get(incident, "resolved_at");
        if (!ra)
                REASON("incident.resolved_at is missing (null while the incident is open)");
        if (!json_is_null(ra)) {
                resolved_at = get_string(incident, "resolved_at", 64);
                if (!is_timestamp(resolved_at))
                        REASON("incident.resolved_at is neither null nor an RFC 3339 timestamp");
        }
        if (streq(state, "resolved") && !resolved_at)
                REASON("incident.state is resolved but incident.resolved_at is null");
        mttr = json_object_get(incident, "mttr_seconds");
        if (!mttr)
                REASON("incident.mttr_seconds is missing (null while the incident is open)");
        if (!json_is_null(mttr) && !json_is_number(mttr))
                REASON("incident.mttr_seconds is neither null nor a number");

        o = json_pack(
                "{s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:O}",
                "id",
                id,
                "rule",
                rule,
                "series",
                series,
                "host",
                host,
                "state",
                state,
                "detected_at",
                detected_at,
                "resolved_at",
                ra,
                "mttr_seconds",
                mttr);
        if (!o)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

int notifier_event_normalize(const json_t *event, json_t **ret, const char **ret_reason) {
        _cleanup_json_ json_t *o = NULL, *attrs = NULL;
        const json_t *seq, *a;
        const char *at, *kind, *message;

        if (!event || !json_is_object(event))
                REASON("the event is not a JSON object");
        seq = json_object_get(event, "seq");
        if (!seq || !json_is_integer(seq) || json_integer_value(seq) < 1)
                REASON("event.seq is missing or not an integer >= 1");
        at = get_string(event, "at", 64);
        if (!is_timestamp(at))
                REASON("event.at is missing or not an RFC 3339 timestamp");
        kind = get_string(event, "kind", 64);
        if (!notifier_event_kind_is_valid(kind))
                REASON("event.kind is missing or not one of the event kinds of ARCHITECTURE.md");
        message = get_string(event, "message", 65536);
        if (!message)
                REASON("event.message is missing or not a string");
        a = json_object_get(event, "attrs");
        if (a && !json_is_object(a))
                REASON("event.attrs is not an object");
        attrs = a ? json_deep_copy(a) : json_object();
        if (!attrs)
                return -ENOMEM;

        o = json_pack(
                "{s:I, s:s, s:s, s:s, s:O}",
                "seq",
                (json_int_t) json_integer_value(seq),
                "at",
                at,
                "kind",
                kind,
                "message",
                message,
                "attrs",
                attrs);
        if (!o)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

void notifier_payload_done(NotifierPayload *p) {
        if (!p)
                return;
        free(p->body);
        free(p->idempotency_key);
        *p = (NotifierPayload){};
}

static const char *sget(const json_t *o, const char *key) {
        const json_t *v = json_object_get(o, key);
        return v && json_is_string(v) ? json_string_value(v) : "";
}

static int64_t event_seq(const json_t *e) {
        return json_integer_value(json_object_get(e, "seq"));
}

static int cmp_event_seq(const void *a, const void *b) {
        int64_t x = event_seq(*(const json_t *const *) a), y = event_seq(*(const json_t *const *) b);
        return x < y ? -1 : x > y ? 1 : 0;
}

/* Sorted by seq, one per seq (the last one given wins, as a re-published event supersedes). */
static int sorted_events(const json_t *const *events, size_t n, const json_t ***ret, size_t *ret_n) {
        const json_t **v;
        size_t k = 0;

        v = calloc(MAX(n, (size_t) 1), sizeof(*v));
        if (!v)
                return -ENOMEM;
        if (n > 0)
                memcpy(v, events, n * sizeof(*v));
        /* qsort is not stable; keep the last of equal seqs by marking positions first. */
        for (size_t i = 0; i < n; i++)
                for (size_t j = i + 1; j < n; j++)
                        if (v[i] && v[j] && event_seq(v[i]) == event_seq(v[j])) {
                                v[i] = NULL;
                                break;
                        }
        for (size_t i = 0; i < n; i++)
                if (v[i])
                        v[k++] = v[i];
        qsort(v, k, sizeof(*v), cmp_event_seq);
        *ret = v;
        *ret_n = k;
        return 0;
}

static const char *state_label(const char *state) {
        if (streq(state, "firing"))
                return "\xF0\x9F\x94\xB4 FIRING"; /* 🔴 */
        if (streq(state, "remediating"))
                return "\xF0\x9F\x9F\xA0 REMEDIATING"; /* 🟠 */
        if (streq(state, "verifying"))
                return "\xF0\x9F\x9F\xA1 VERIFYING"; /* 🟡 */
        if (streq(state, "escalated"))
                return "\xF0\x9F\x9A\xA8 ESCALATED"; /* 🚨 */
        if (streq(state, "resolved"))
                return "\xE2\x9C\x85 RESOLVED"; /* ✅ */
        return state;
}

/* The newest event with a measurement, rendered; NULL if none has one. */
static int latest_measurement(const char *series, const json_t *const *sorted, size_t n, char **ret) {
        *ret = NULL;
        for (size_t i = n; i > 0; i--) {
                int r = text_format_measurement(
                        json_object_get(sorted[i - 1], "attrs"), text_series_unit(series), ret);
                if (r < 0)
                        return r;
                if (*ret)
                        return 0;
        }
        return 0;
}

int notifier_summary(const json_t *incident, const json_t *const *events, size_t n_events, char **ret) {
        _cleanup_free_ const json_t **sorted = NULL;
        _cleanup_free_ char *measurement = NULL;
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        const char *message = "";
        size_t n;
        int r;

        r = sorted_events(events, n_events, &sorted, &n);
        if (r < 0)
                return r;
        r = latest_measurement(sget(incident, "series"), sorted, n, &measurement);
        if (r < 0)
                return r;
        if (n > 0)
                message = sget(sorted[n - 1], "message");

        text_append_escaped(&b, sget(incident, "rule"), TEXT_PLAIN, RULE_MAX_UNITS);
        strbuf_puts(&b, " on ");
        text_append_escaped(&b, sget(incident, "series"), TEXT_PLAIN, SERIES_MAX_UNITS);
        if (measurement || *message)
                strbuf_puts(&b, ": ");
        if (measurement)
                strbuf_puts(&b, measurement);
        if (measurement && *message)
                strbuf_puts(&b, " \xE2\x80\x94 "); /* — */
        if (*message)
                text_append_escaped(&b, message, TEXT_PLAIN, NOTIFIER_EVENT_LINE_MAX);
        if (strbuf_failed(&b))
                return -ENOMEM;
        *ret = strbuf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

/* How one chat dialect marks things up. */
typedef struct ChatStyle {
        TextStyle text;
        TextStyle code;
        const char *bullet;
        const char *bold; /* same string opens and closes */
        const char *code_delim;
        const char *italic;
} ChatStyle;

static const ChatStyle style_slack = {
        .text = TEXT_SLACK,
        .code = TEXT_SLACK_CODE,
        .bullet = "\xE2\x80\xA2 ",
        .bold = "*",
        .code_delim = "`",
        .italic = "_",
};
static const ChatStyle style_mattermost = {
        .text = TEXT_MARKDOWN,
        .code = TEXT_MARKDOWN_CODE,
        .bullet = "- ",
        .bold = "**",
        .code_delim = "`",
        .italic = "_",
};
/* Adaptive Cards' Markdown has no code spans; each line is its own TextBlock, so no bullet either. */
static const ChatStyle style_teams = {
        .text = TEXT_TEAMS,
        .code = TEXT_TEAMS,
        .bullet = "",
        .bold = "**",
        .code_delim = "",
        .italic = "_",
};
static const ChatStyle style_discord = {
        .text = TEXT_DISCORD,
        .code = TEXT_MARKDOWN_CODE,
        .bullet = "\xE2\x80\xA2 ",
        .bold = "**",
        .code_delim = "`",
        .italic = "_",
};

static void append_code(StrBuf *b, const ChatStyle *st, const char *s, size_t max_units) {
        strbuf_puts(b, st->code_delim);
        text_append_escaped(b, s, st->code, max_units);
        strbuf_puts(b, st->code_delim);
}

/* "• `02:30:38` *firing*: 0.52 s, expected 0.15 s (0.11–0.19) — restarting api.service" */
static int event_line(const ChatStyle *st, const char *series, const json_t *ev, char **ret) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        _cleanup_free_ char *clock = NULL, *measurement = NULL, *kind = NULL;
        const char *message = sget(ev, "message");
        size_t used;
        int r;

        r = text_format_clock(sget(ev, "at"), &clock);
        if (r < 0)
                return r;
        r = text_format_measurement(json_object_get(ev, "attrs"), text_series_unit(series), &measurement);
        if (r < 0)
                return r;
        kind = strdup(sget(ev, "kind"));
        if (!kind)
                return -ENOMEM;
        for (char *p = kind; *p; p++)
                if (*p == '_')
                        *p = ' ';

        strbuf_puts(&b, st->bullet);
        append_code(&b, st, clock, 32);
        strbuf_printf(&b, " %s%s%s", st->bold, kind, st->bold);
        if (measurement || *message)
                strbuf_puts(&b, ": ");
        if (measurement)
                text_append_escaped(&b, measurement, st->text, 200);
        if (measurement && *message)
                strbuf_puts(&b, " \xE2\x80\x94 ");
        used = text_units(strbuf_str(&b), b.len);
        if (*message && used < NOTIFIER_EVENT_LINE_MAX)
                text_append_escaped(&b, message, st->text, NOTIFIER_EVENT_LINE_MAX - used);
        if (strbuf_failed(&b))
                return -ENOMEM;
        *ret = strbuf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

static int suppressed_line(const ChatStyle *st, size_t n, const char *id, char **ret) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;

        strbuf_printf(
                &b,
                "%s%s\xE2\x80\xA6 %zu earlier event%s suppressed (homeostatctl incident ",
                st->bullet,
                st->italic,
                n,
                n == 1 ? "" : "s");
        text_append_escaped(&b, id, st->text, ID_MAX_UNITS * 2);
        strbuf_printf(&b, ")%s", st->italic);
        if (strbuf_failed(&b))
                return -ENOMEM;
        *ret = strbuf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

/* The event lines that fit into max_units (joined by sep), newest kept, at most MAX_LINES, plus the
 * suppressed line first when events were left out. Returns them as an array (the caller joins or places
 * them), with the counts. */
typedef struct Lines {
        char **v;
        size_t n;
        size_t n_shown;
        size_t n_suppressed;
} Lines;

static void lines_done(Lines *l) {
        strv_free_n(l->v, l->n);
        *l = (Lines){};
}

static int build_lines(
        const ChatStyle *st,
        const json_t *incident,
        const json_t *const *sorted,
        size_t n,
        size_t max_units,
        size_t sep_units,
        Lines *ret) {
        _cleanup_(lines_done) Lines l = {};
        size_t total = 0, first; /* sorted[first..n) are shown */
        int r;

        l.v = calloc(MIN(n, (size_t) MAX_LINES) + 1, sizeof(char *));
        if (!l.v)
                return -ENOMEM;

        /* Measure from the newest backwards; reserve room for the suppressed line whenever some are left. */
        _cleanup_strv_free_ char **cand = calloc(MIN(n, (size_t) MAX_LINES) + 1, sizeof(char *));
        if (!cand)
                return -ENOMEM;
        size_t k = 0;
        const size_t reserve = 120 + ID_MAX_UNITS * 2;
        for (first = n; first > 0 && k < MAX_LINES; first--) {
                _cleanup_free_ char *line = NULL;
                r = event_line(st, sget(incident, "series"), sorted[first - 1], &line);
                if (r < 0)
                        return r;
                size_t u = text_units_str(line) + (k > 0 ? sep_units : 0);
                bool more = first - 1 > 0;
                if (k > 0 && total + u + (more ? reserve + sep_units : 0) > max_units)
                        break;
                total += u;
                cand[k++] = TAKE_PTR(line);
        }
        /* cand holds newest first; emit oldest first. */
        l.n_shown = k;
        l.n_suppressed = first;
        if (first > 0) {
                r = suppressed_line(st, first, sget(incident, "id"), &l.v[l.n]);
                if (r < 0)
                        return r;
                l.n++;
        }
        for (size_t i = k; i > 0; i--)
                l.v[l.n++] = TAKE_PTR(cand[i - 1]);
        *ret = l;
        l = (Lines){};
        return 0;
}

static char *join_lines(const Lines *l, const char *sep) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;

        for (size_t i = 0; i < l->n; i++) {
                if (i > 0)
                        strbuf_puts(&b, sep);
                strbuf_puts(&b, l->v[i]);
        }
        return strbuf_failed(&b) ? NULL : strbuf_steal(&b);
}

/* "incident `ID` · detected 2026-… · MTTR 42s" */
static int footer_text(const ChatStyle *st, const json_t *incident, char **ret) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        const json_t *mttr = json_object_get(incident, "mttr_seconds");
        char nb[DURATION_MAX];

        strbuf_puts(&b, "incident ");
        append_code(&b, st, sget(incident, "id"), ID_MAX_UNITS);
        strbuf_puts(&b, " \xC2\xB7 detected ");
        text_append_escaped(&b, sget(incident, "detected_at"), st->text, 64);
        if (mttr && json_is_number(mttr))
                strbuf_printf(
                        &b, " \xC2\xB7 MTTR %s", text_format_seconds(nb, sizeof(nb), json_number_value(mttr)));
        if (strbuf_failed(&b))
                return -ENOMEM;
        *ret = strbuf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

static int dump_payload(json_t *body, NotifierPayload *ret) {
        char *s = json_dumps(body, JSON_COMPACT);
        if (!s)
                return -ENOMEM;
        ret->body = s;
        return 0;
}

static int format_slack(const json_t *incident, const json_t *const *sorted, size_t n, NotifierPayload *ret) {
        const ChatStyle *st = &style_slack;
        _cleanup_strbuf_ StrBuf head = STRBUF_INIT, fallback = STRBUF_INIT;
        _cleanup_free_ char *summary = NULL, *foot = NULL, *joined = NULL;
        _cleanup_(lines_done) Lines lines = {};
        _cleanup_json_ json_t *body = NULL;
        int r;

        r = notifier_summary(incident, sorted, n, &summary);
        if (r < 0)
                return r;
        strbuf_printf(&fallback, "%s: ", state_label(sget(incident, "state")));
        text_append_escaped(&fallback, summary, TEXT_SLACK, SLACK_FALLBACK_MAX - 20);

        strbuf_printf(&head, "*%s: ", state_label(sget(incident, "state")));
        text_append_escaped(&head, sget(incident, "rule"), st->text, RULE_MAX_UNITS);
        strbuf_puts(&head, "* on ");
        append_code(&head, st, sget(incident, "series"), SERIES_MAX_UNITS);
        strbuf_puts(&head, " \xC2\xB7 host ");
        text_append_escaped(&head, sget(incident, "host"), st->text, HOST_MAX_UNITS);

        r = build_lines(st, incident, sorted, n, SLACK_SECTION_MAX, 1, &lines);
        if (r < 0)
                return r;
        joined = join_lines(&lines, "\n");
        r = footer_text(st, incident, &foot);
        if (r < 0)
                return r;
        if (!joined || strbuf_failed(&head) || strbuf_failed(&fallback))
                return -ENOMEM;

        body = json_pack(
                "{s:s, s:[{s:s, s:{s:s, s:s}}, {s:s, s:{s:s, s:s}}, {s:s, s:[{s:s, s:s}]}]}",
                "text",
                strbuf_str(&fallback),
                "blocks",
                "type",
                "section",
                "text",
                "type",
                "mrkdwn",
                "text",
                strbuf_str(&head),
                "type",
                "section",
                "text",
                "type",
                "mrkdwn",
                "text",
                joined,
                "type",
                "context",
                "elements",
                "type",
                "mrkdwn",
                "text",
                foot);
        if (!body)
                return -ENOMEM;
        ret->n_shown = lines.n_shown;
        ret->n_suppressed = lines.n_suppressed;
        return dump_payload(body, ret);
}

static int format_mattermost(const json_t *incident, const json_t *const *sorted, size_t n, NotifierPayload *ret) {
        const ChatStyle *st = &style_mattermost;
        _cleanup_strbuf_ StrBuf text = STRBUF_INIT;
        _cleanup_free_ char *foot = NULL, *joined = NULL;
        _cleanup_(lines_done) Lines lines = {};
        _cleanup_json_ json_t *body = NULL;
        size_t used;
        int r;

        strbuf_printf(&text, "%s%s: ", st->bold, state_label(sget(incident, "state")));
        text_append_escaped(&text, sget(incident, "rule"), st->text, RULE_MAX_UNITS);
        strbuf_printf(&text, "%s on ", st->bold);
        append_code(&text, st, sget(incident, "series"), SERIES_MAX_UNITS);
        strbuf_puts(&text, " \xC2\xB7 host ");
        text_append_escaped(&text, sget(incident, "host"), st->text, HOST_MAX_UNITS);
        r = footer_text(st, incident, &foot);
        if (r < 0)
                return r;
        if (strbuf_failed(&text))
                return -ENOMEM;
        used = text_units(strbuf_str(&text), text.len) + text_units_str(foot) + 4;

        r = build_lines(
                st, incident, sorted, n, MATTERMOST_TEXT_MAX - MIN(used, MATTERMOST_TEXT_MAX / 2), 1, &lines);
        if (r < 0)
                return r;
        joined = join_lines(&lines, "\n");
        if (!joined)
                return -ENOMEM;
        /* A blank line before the footer, or CommonMark would continue the last list item with it. */
        strbuf_printf(&text, "\n%s\n\n%s", joined, foot);
        if (strbuf_failed(&text))
                return -ENOMEM;

        body = json_pack("{s:s}", "text", strbuf_str(&text));
        if (!body)
                return -ENOMEM;
        ret->n_shown = lines.n_shown;
        ret->n_suppressed = lines.n_suppressed;
        return dump_payload(body, ret);
}

static const char *teams_color(const char *state) {
        if (streq(state, "resolved"))
                return "Good";
        if (streq(state, "remediating") || streq(state, "verifying"))
                return "Warning";
        return "Attention";
}

static int escaped(const char *s, TextStyle style, size_t max_units, char **ret) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;

        if (text_append_escaped(&b, s, style, max_units) < 0)
                return -ENOMEM;
        *ret = strbuf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

static int format_teams(const json_t *incident, const json_t *const *sorted, size_t n, NotifierPayload *ret) {
        const ChatStyle *st = &style_teams;
        _cleanup_strbuf_ StrBuf title = STRBUF_INIT;
        _cleanup_free_ char *series = NULL, *host = NULL, *id = NULL, *detected = NULL;
        _cleanup_(lines_done) Lines lines = {};
        _cleanup_json_ json_t *body = NULL, *blocks = NULL, *facts = NULL;
        const json_t *mttr = json_object_get(incident, "mttr_seconds");
        const char *state = sget(incident, "state");
        int r;

        strbuf_printf(&title, "%s: ", state_label(state));
        text_append_escaped(&title, sget(incident, "rule"), st->text, RULE_MAX_UNITS);
        if (strbuf_failed(&title))
                return -ENOMEM;
        if (escaped(sget(incident, "series"), st->text, SERIES_MAX_UNITS, &series) < 0 ||
            escaped(sget(incident, "host"), st->text, HOST_MAX_UNITS, &host) < 0 ||
            escaped(sget(incident, "id"), st->text, ID_MAX_UNITS * 2, &id) < 0 ||
            escaped(sget(incident, "detected_at"), st->text, 64, &detected) < 0)
                return -ENOMEM;

        blocks = json_pack(
                "[{s:s, s:s, s:s, s:s, s:s, s:b}, {s:s, s:s, s:s, s:s, s:b}]",
                "type",
                "TextBlock",
                "text",
                strbuf_str(&title),
                "weight",
                "Bolder",
                "size",
                "Medium",
                "color",
                teams_color(state),
                "wrap",
                1,
                "type",
                "TextBlock",
                "text",
                series,
                "fontType",
                "Monospace",
                "spacing",
                "Small",
                "wrap",
                1);
        if (!blocks)
                return -ENOMEM;

        r = build_lines(st, incident, sorted, n, TEAMS_TEXT_MAX, 0, &lines);
        if (r < 0)
                return r;
        for (size_t i = 0; i < lines.n; i++) {
                json_t *block = json_pack(
                        "{s:s, s:s, s:s, s:b}",
                        "type",
                        "TextBlock",
                        "text",
                        lines.v[i],
                        "spacing",
                        "Small",
                        "wrap",
                        1);
                if (!block ||
                    (lines.n_suppressed > 0 && i == 0 &&
                     json_object_set_new(block, "isSubtle", json_true()) < 0) ||
                    json_array_append_new(blocks, block) < 0)
                        return -ENOMEM;
        }

        facts = json_pack(
                "[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}]",
                "title",
                "Host",
                "value",
                host,
                "title",
                "Incident",
                "value",
                id,
                "title",
                "State",
                "value",
                state,
                "title",
                "Detected",
                "value",
                detected);
        if (!facts)
                return -ENOMEM;
        if (mttr && json_is_number(mttr)) {
                char nb[DURATION_MAX];
                if (json_array_append_new(
                            facts,
                            json_pack(
                                    "{s:s, s:s}",
                                    "title",
                                    "MTTR",
                                    "value",
                                    text_format_seconds(nb, sizeof(nb), json_number_value(mttr)))) < 0)
                        return -ENOMEM;
        }
        if (json_array_append_new(blocks, json_pack("{s:s, s:O}", "type", "FactSet", "facts", facts)) < 0)
                return -ENOMEM;

        body = json_pack(
                "{s:s, s:[{s:s, s:n, s:{s:s, s:s, s:s, s:{s:s}, s:O}}]}",
                "type",
                "message",
                "attachments",
                "contentType",
                "application/vnd.microsoft.card.adaptive",
                "contentUrl",
                "content",
                "$schema",
                "http://adaptivecards.io/schemas/adaptive-card.json",
                "type",
                "AdaptiveCard",
                "version",
                "1.4",
                "msteams",
                "width",
                "Full",
                "body",
                blocks);
        if (!body)
                return -ENOMEM;
        ret->n_shown = lines.n_shown;
        ret->n_suppressed = lines.n_suppressed;
        return dump_payload(body, ret);
}

static json_int_t discord_color(const char *state) {
        if (streq(state, "resolved"))
                return 0x2EB67D;
        if (streq(state, "remediating") || streq(state, "verifying"))
                return 0xECB22E;
        if (streq(state, "escalated"))
                return 0x8B0000;
        return 0xE01E5A;
}

/* RFC 3339 in the canonical form (milliseconds, Z), or NULL if it does not parse. */
static int canonical_time(const char *s, char **ret) {
        char buf[TIMESTAMP_MAX];
        double t;

        if (parse_timestamp(s, strlen(s), &t) < 0 || !isfinite(t) || t < 0)
                return -EINVAL;
        format_timestamp(buf, sizeof(buf), (usec_t) llround(t * 1e6));
        *ret = strdup(buf);
        return *ret ? 0 : -ENOMEM;
}

static int format_discord(const json_t *incident, const json_t *const *sorted, size_t n, NotifierPayload *ret) {
        const ChatStyle *st = &style_discord;
        _cleanup_strbuf_ StrBuf title = STRBUF_INIT, desc = STRBUF_INIT, id = STRBUF_INIT;
        _cleanup_free_ char *joined = NULL, *when = NULL;
        _cleanup_(lines_done) Lines lines = {};
        _cleanup_json_ json_t *body = NULL, *fields = NULL;
        const json_t *mttr = json_object_get(incident, "mttr_seconds");
        const char *state = sget(incident, "state");
        size_t used, total;
        int r;

        strbuf_printf(&title, "%s: ", state_label(state));
        text_append_escaped(
                &title,
                sget(incident, "rule"),
                st->text,
                DISCORD_TITLE_MAX - MIN(text_units(strbuf_str(&title), title.len), (size_t) 64));

        append_code(&desc, st, sget(incident, "series"), SERIES_MAX_UNITS);
        strbuf_puts(&desc, " \xC2\xB7 host ");
        text_append_escaped(&desc, sget(incident, "host"), st->text, HOST_MAX_UNITS);
        strbuf_puts(&desc, "\n\n");
        if (strbuf_failed(&title) || strbuf_failed(&desc))
                return -ENOMEM;
        used = text_units(strbuf_str(&desc), desc.len);

        r = build_lines(st, incident, sorted, n, DISCORD_DESCRIPTION_MAX - 96 - used, 1, &lines);
        if (r < 0)
                return r;
        joined = join_lines(&lines, "\n");
        if (!joined)
                return -ENOMEM;
        strbuf_puts(&desc, joined);

        append_code(&id, st, sget(incident, "id"), ID_MAX_UNITS);
        if (strbuf_failed(&desc) || strbuf_failed(&id))
                return -ENOMEM;
        fields = json_pack(
                "[{s:s, s:s, s:b}, {s:s, s:s, s:b}]",
                "name",
                "Incident",
                "value",
                strbuf_str(&id),
                "inline",
                1,
                "name",
                "State",
                "value",
                state,
                "inline",
                1);
        if (!fields)
                return -ENOMEM;
        if (mttr && json_is_number(mttr)) {
                char nb[DURATION_MAX];
                if (json_array_append_new(
                            fields,
                            json_pack(
                                    "{s:s, s:s, s:b}",
                                    "name",
                                    "MTTR",
                                    "value",
                                    text_format_seconds(nb, sizeof(nb), json_number_value(mttr)),
                                    "inline",
                                    1)) < 0)
                        return -ENOMEM;
        }

        total = text_units(strbuf_str(&title), title.len) + text_units(strbuf_str(&desc), desc.len) +
                text_units(strbuf_str(&id), id.len) + 64;
        if (total > DISCORD_TOTAL_MAX)
                return -E2BIG; /* cannot happen with the budgets above; never send what Discord rejects */

        r = canonical_time(n > 0 ? sget(sorted[n - 1], "at") : sget(incident, "detected_at"), &when);
        if (r < 0)
                return r;
        body = json_pack(
                "{s:{s:[]}, s:[{s:s, s:s, s:I, s:O, s:{s:s}, s:s}]}",
                "allowed_mentions",
                "parse",
                "embeds",
                "title",
                strbuf_str(&title),
                "description",
                strbuf_str(&desc),
                "color",
                discord_color(state),
                "fields",
                fields,
                "footer",
                "text",
                "homeostat",
                "timestamp",
                when);
        if (!body)
                return -ENOMEM;
        ret->n_shown = lines.n_shown;
        ret->n_suppressed = lines.n_suppressed;
        return dump_payload(body, ret);
}

int notifier_format_chat(
        NotifierKind kind,
        const json_t *incident,
        const json_t *const *events,
        size_t n_events,
        NotifierPayload *ret) {
        _cleanup_free_ const json_t **sorted = NULL;
        NotifierPayload p = {};
        size_t n;
        int r;

        if (!incident || (n_events > 0 && !events))
                return -EINVAL;
        r = sorted_events(events, n_events, &sorted, &n);
        if (r < 0)
                return r;

        switch (kind) {
        case NOTIFIER_SLACK:
                r = format_slack(incident, sorted, n, &p);
                break;
        case NOTIFIER_MATTERMOST:
                r = format_mattermost(incident, sorted, n, &p);
                break;
        case NOTIFIER_TEAMS:
                r = format_teams(incident, sorted, n, &p);
                break;
        case NOTIFIER_DISCORD:
                r = format_discord(incident, sorted, n, &p);
                break;
        default:
                return -EINVAL;
        }
        if (r < 0) {
                notifier_payload_done(&p);
                return r;
        }
        *ret = p;
        return 0;
}

int notifier_format_webhook(const json_t *incident, const json_t *event, NotifierPayload *ret) {
        _cleanup_json_ json_t *body = NULL;
        NotifierPayload p = {};

        if (!incident || !event)
                return -EINVAL;
        body = json_pack("{s:i, s:O, s:O}", "version", 1, "incident", incident, "event", event);
        if (!body)
                return -ENOMEM;
        /* The incident object is shared with the caller: drop "events" if a caller passed a full incident. */
        if (json_object_get(incident, "events")) {
                json_t *copy = json_deep_copy(incident);
                if (!copy)
                        return -ENOMEM;
                json_object_del(copy, "events");
                json_object_set_new(body, "incident", copy);
        }
        if (asprintf(&p.idempotency_key, "%s/%" PRId64, sget(incident, "id"), event_seq(event)) < 0)
                return -ENOMEM;
        if (dump_payload(body, &p) < 0) {
                notifier_payload_done(&p);
                return -ENOMEM;
        }
        *ret = p;
        return 0;
}

static int annotation_number(json_t *annotations, const char *key, const json_t *v) {
        char buf[64];

        if (!v || !json_is_number(v))
                return 0;
        snprintf(buf, sizeof(buf), "%.15g", json_number_value(v));
        for (char *p = buf; *p; p++)
                if (*p == ',')
                        *p = '.';
        return json_object_set_new(annotations, key, json_string(buf)) < 0 ? -ENOMEM : 0;
}

static int alert_object(const NotifierAlert *a, usec_t now_realtime_usec, usec_t firing_ttl_usec, json_t **ret) {
        _cleanup_free_ char *summary = NULL, *starts = NULL, *ends = NULL, *description = NULL;
        _cleanup_json_ json_t *labels = NULL, *annotations = NULL, *alert = NULL;
        const json_t *attrs = json_object_get(a->event, "attrs");
        const char *resolved_at = sget(a->incident, "resolved_at");
        char buf[TIMESTAMP_MAX];
        int r;

        r = notifier_summary(a->incident, &a->event, 1, &summary);
        if (r < 0)
                return r;
        r = escaped(sget(a->event, "message"), TEXT_PLAIN, 4096, &description);
        if (r < 0)
                return r;
        r = canonical_time(sget(a->incident, "detected_at"), &starts);
        if (r < 0)
                return r;
        if (streq(sget(a->incident, "state"), "resolved") && *resolved_at) {
                r = canonical_time(resolved_at, &ends);
                if (r < 0)
                        return r;
                /* Alertmanager rejects endsAt before startsAt; both come from one clock, but be safe. */
                if (strcmp(ends, starts) < 0) {
                        free(ends);
                        ends = strdup(starts);
                        if (!ends)
                                return -ENOMEM;
                }
        } else {
                ends = strdup(format_timestamp(buf, sizeof(buf), now_realtime_usec + firing_ttl_usec));
                if (!ends)
                        return -ENOMEM;
        }

        labels = json_pack(
                "{s:s, s:s, s:s, s:s}",
                "alertname",
                sget(a->incident, "rule"),
                "rule",
                sget(a->incident, "rule"),
                "series",
                sget(a->incident, "series"),
                "host",
                sget(a->incident, "host"));
        annotations = json_pack(
                "{s:s, s:s, s:s, s:s, s:s}",
                "summary",
                summary,
                "description",
                description,
                "incident",
                sget(a->incident, "id"),
                "state",
                sget(a->incident, "state"),
                "event",
                sget(a->event, "kind"));
        if (!labels || !annotations)
                return -ENOMEM;
        if (annotation_number(annotations, "value", json_object_get(attrs, "value")) < 0 ||
            annotation_number(annotations, "expected", json_object_get(attrs, "expected")) < 0 ||
            annotation_number(annotations, "lower", json_object_get(attrs, "lower")) < 0 ||
            annotation_number(annotations, "upper", json_object_get(attrs, "upper")) < 0 ||
            annotation_number(annotations, "mttr_seconds", json_object_get(a->incident, "mttr_seconds")) < 0)
                return -ENOMEM;

        alert = json_pack(
                "{s:O, s:O, s:s, s:s}",
                "labels",
                labels,
                "annotations",
                annotations,
                "startsAt",
                starts,
                "endsAt",
                ends);
        if (!alert)
                return -ENOMEM;
        *ret = TAKE_PTR(alert);
        return 0;
}

int notifier_format_alertmanager(
        const NotifierAlert *alerts,
        size_t n,
        usec_t now_realtime_usec,
        usec_t firing_ttl_usec,
        NotifierPayload *ret) {
        _cleanup_json_ json_t *body = NULL;
        NotifierPayload p = {};
        int r;

        if (n == 0 || !alerts)
                return -EINVAL;
        body = json_array();
        if (!body)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_t *alert = NULL;
                r = alert_object(&alerts[i], now_realtime_usec, firing_ttl_usec, &alert);
                if (r < 0)
                        return r;
                if (json_array_append_new(body, alert) < 0)
                        return -ENOMEM;
        }
        r = dump_payload(body, &p);
        if (r < 0)
                return r;
        *ret = p;
        return 0;
}

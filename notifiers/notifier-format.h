/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * From an incident and its events to the body of one HTTP request, per notifier kind.
 *
 * Input is the incident JSON of ARCHITECTURE.md ({"id","rule","series","host","state","detected_at",
 * "resolved_at","mttr_seconds"}; an "events" member, if present, is ignored) and events
 * ({"seq","at","kind","message","attrs"}). notifier_incident_normalize()/notifier_event_normalize() check
 * that shape strictly and return a canonical copy holding exactly those members, which is what the outbox
 * stores and what the generic webhook sends.
 *
 * Formats (each one JSON, built with jansson, so JSON escaping is jansson's):
 *   slack       incoming webhook: {"text": fallback, "blocks": [section, section, context]} in mrkdwn
 *   mattermost  incoming webhook: {"text": Markdown}
 *   teams       a Workflows ("Post to a channel when a webhook request is received") / incoming webhook
 *               message carrying an Adaptive Card 1.4 attachment. MessageCard is the legacy Office 365
 *               connector format, which Microsoft is retiring; Workflows only accept Adaptive Cards.
 *   discord     webhook with one embed (title ≤ 256, description ≤ 4096, field values ≤ 1024, total
 *               ≤ 6000 — counted in UTF-16 units) and "allowed_mentions": {"parse": []} so that no label
 *               value can ping @everyone
 *   webhook     exactly {"version": 1, "incident": {…}, "event": {…}} and an Idempotency-Key of
 *               "<incident id>/<seq>"
 *   alertmanager the body of POST /api/v2/alerts: one alert per incident, labels alertname=<rule>,
 *               rule, series, host; annotations summary, description, incident, state, event and the
 *               measurement; startsAt = detected_at; endsAt = resolved_at for a resolved incident, else
 *               now + firing_ttl (re-sent before it passes, as Prometheus does)
 *
 * Chat messages of several coalesced events list them newest last; when more than fit, the oldest are
 * replaced by one line "… N earlier events suppressed (homeostatctl incident ID)".
 */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "rules.h"
#include "time-util.h"

/* Text limits in UTF-16 units, below each service's documented maximum. */
#define SLACK_SECTION_MAX 3000   /* section text: 3000 */
#define SLACK_FALLBACK_MAX 3000  /* top-level text: 40000, but notifications show far less */
#define MATTERMOST_TEXT_MAX 4000 /* post: 16383 */
#define TEAMS_TEXT_MAX 4000      /* card: ~28 KB in total */
#define DISCORD_TITLE_MAX 256
#define DISCORD_DESCRIPTION_MAX 4096
#define DISCORD_FIELD_MAX 1024
#define DISCORD_TOTAL_MAX 6000
#define NOTIFIER_EVENT_LINE_MAX 600 /* one event's line, before the message limit of the kind */

/* Event kinds: the closed list of ARCHITECTURE.md ("Incidents"). */
bool notifier_event_kind_is_valid(const char *kind);
/* Incident states. */
bool notifier_incident_state_is_valid(const char *state);
/* Incident ids are used in file names: [A-Za-z0-9_-]{1,64} (an sd_id128 in hex or UUID form). */
bool notifier_incident_id_is_valid(const char *id);

/* Check and copy. -EINVAL (with a static reason in *ret_reason if not NULL) when a member is missing,
 * has the wrong type, contains a NUL byte, or a value is outside its closed list. */
int notifier_incident_normalize(const json_t *incident, json_t **ret, const char **ret_reason);
int notifier_event_normalize(const json_t *event, json_t **ret, const char **ret_reason);

typedef struct NotifierPayload {
        char *body;            /* JSON text */
        char *idempotency_key; /* webhook only */
        size_t n_shown;        /* chat: events listed as their own line */
        size_t n_suppressed;   /* chat: events folded into the "N earlier events suppressed" line */
} NotifierPayload;

void notifier_payload_done(NotifierPayload *p);

/* slack, mattermost, teams, discord: one incident (its latest snapshot) and some of its events (any
 * order; sorted by seq here, duplicates of a seq shown once). Inputs must be normalized. */
int notifier_format_chat(
        NotifierKind kind,
        const json_t *incident,
        const json_t *const *events,
        size_t n_events,
        NotifierPayload *ret);

int notifier_format_webhook(const json_t *incident, const json_t *event, NotifierPayload *ret);

typedef struct NotifierAlert {
        const json_t *incident; /* normalized */
        const json_t *event;    /* the incident's latest event, normalized */
} NotifierAlert;

int notifier_format_alertmanager(
        const NotifierAlert *alerts,
        size_t n,
        usec_t now_realtime_usec,
        usec_t firing_ttl_usec,
        NotifierPayload *ret);

/* The one-line summary used as notification text and Alertmanager's summary annotation (plain text):
 * "api-latency on http_request_duration_seconds{…}: 0.52 s, expected 0.15 s (0.11–0.19) — restarting
 * api.service". The measurement comes from the newest event that has one, the message from the newest. */
int notifier_summary(const json_t *incident, const json_t *const *events, size_t n_events, char **ret);

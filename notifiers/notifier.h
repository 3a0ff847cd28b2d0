/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The notifier hub: where incident timelines leave the host for chat (Slack, Mattermost, Teams, Discord),
 * machine consumers (the generic webhook) and Alertmanager. It is the one object the incident state
 * machine talks to:
 *
 *   NotifierHub *hub;
 *   notifier_hub_new(event, curl_glue, "/var/lib/homeostat/outbox", NULL, &hub);
 *   notifier_hub_configure(hub, config->notifiers, config->n_notifiers);   at start and on every reload
 *   notifier_hub_publish(hub, "ops", incident_json, event_json);          for each name in rule.notify
 *   notifier_hub_stats(hub, &stats, &n);                                  for /metrics and status
 *
 * Guarantees:
 *   - Durable: publish returns only after the message is on disk (fsync + rename). A crash, a restart or
 *     a receiver that is down for hours loses nothing younger than max_age (24 h); a new hub on the same
 *     spool directory resumes delivery. Delivery is at least once: a message whose success response was
 *     lost (crash right after it) is sent again — the generic webhook's Idempotency-Key lets the receiver
 *     drop the duplicate.
 *   - Ordered: per notifier one request at a time, oldest first, so each incident's events arrive in
 *     order. Notifiers run in parallel on the shared CurlGlue.
 *   - Retried: transport errors, timeouts (10 s per request), 408, 429 and 5xx are retried with
 *     exponential back-off and jitter (1 s doubling to 5 min); Retry-After on 429/503 is honoured (capped
 *     at 1 h). Any other status is permanent: the message is moved to the notifier's dead/ directory,
 *     counted and reported. A message older than max_age is dropped, counted and reported.
 *   - Not flooding chat: chat kinds share a token bucket per notifier (burst 10, then one message per
 *     6 s). A new incident's first event waits group_wait (2 s) so a burst (firing, action started,
 *     action succeeded) becomes one message, and whatever of one incident is still queued when a token is
 *     available goes out as one message listing the events (newest 10; older ones become one line
 *     "… N earlier events suppressed (homeostatctl incident ID)"), never silently dropped.
 *     The generic webhook gets every event as its own request (no bucket, no coalescing: each carries its
 *     own Idempotency-Key). Alertmanager gets the current state of each incident (queued events of one
 *     incident collapse into one alert), firing alerts are re-sent every 60 s with endsAt = now + 4 min,
 *     so Alertmanager keeps them active while homeostat runs and resolves them by itself within 4 minutes
 *     if homeostat stops; a resolved incident is sent with endsAt = resolved_at.
 *   - Secrets: the URL is never logged, reported, stored in the spool or shown in stats. Reports and stats
 *     carry the notifier name and the redacted URL "scheme://host[:port]/…" (see notifier-url.h).
 *
 * Reconfiguration (notifier_hub_configure): notifiers are identified by name.
 *   - A name kept: the new kind and URL apply to everything still queued (a rotated webhook URL is
 *     exactly the case this is for); a changed URL also resets the back-off, so a fix is tried at once.
 *   - A name whose URL cannot be resolved (missing credential, unreadable url_file, not http(s)): its
 *     messages stay queued and nothing is sent until a later configure resolves it (no fallback to the
 *     previous URL, which may be the revoked one). The reason is in its stats and reported.
 *   - A name removed: the notifier is "retired". Its queued messages are still delivered to its last
 *     URL, under the same retry and max_age rules, and the notifier disappears once its queue is empty.
 *     Publishing to it fails with -ENOENT. Its firing alerts are no longer refreshed and their records
 *     are dropped: Alertmanager resolves them by their endsAt (within alert_ttl), and configuring the name
 *     again later does not resurrect alerts whose "resolved" it never received.
 *   - A spool directory found at start whose name is not configured ("orphan"): its messages cannot be
 *     sent (the URL is never stored); they are kept, counted in stats, and delivered if the name is
 *     configured again, else dropped when they reach max_age. Its firing-alert records are dropped as for a
 *     removed notifier.
 *
 * Asynchronous outcomes (delivered, retry, dead letter, expired, corrupt spool file, URL problem) are
 * handed to the report callback; without one they are logged through log.h (the hub is where those
 * decisions are made and no caller is waiting for them).
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "curl-glue.h"
#include "macro.h"
#include "rules.h"
#include "time-util.h"

typedef struct NotifierHub NotifierHub;

typedef struct NotifierHubOptions {
        usec_t request_timeout_usec;   /* per request, connect included; default 10 s */
        usec_t backoff_min_usec;       /* first retry delay; default 1 s */
        usec_t backoff_max_usec;       /* retry delay cap; default 5 min */
        usec_t retry_after_max_usec;   /* longest Retry-After honoured; default 1 h */
        usec_t max_age_usec;           /* undelivered messages older than this are dropped; default 24 h */
        unsigned bucket_burst;         /* chat: messages sent back to back; default 10 */
        usec_t bucket_interval_usec;   /* chat: one more message per interval; default 6 s */
        usec_t group_wait_usec;        /* chat: hold an incident's first event this long; default 2 s */
        size_t max_events_per_message; /* chat: events coalesced into one message; default 50 */
        size_t max_queue;              /* per notifier; publish fails with -ENOBUFS beyond; default 10000 */
        usec_t alert_resend_usec;      /* alertmanager: re-send firing alerts; default 60 s */
        usec_t alert_ttl_usec;       /* alertmanager: endsAt of a firing alert = now + this; default 4 min */
        size_t max_response_bytes;   /* response bodies are read up to this; default 64 KiB */
        const char *credentials_dir; /* NULL: $CREDENTIALS_DIRECTORY */
} NotifierHubOptions;

void notifier_hub_options_default(NotifierHubOptions *ret);

/* Create a hub delivering on event through glue (both must outlive the hub). spool_dir is created (0700)
 * if missing; notifier directories found in it are loaded (messages validated, corrupt files moved
 * aside) and stay "orphans" until configure names them. opts NULL means the defaults. */
int notifier_hub_new(
        sd_event *event, CurlGlue *glue, const char *spool_dir, const NotifierHubOptions *opts, NotifierHub **ret);

/* Stop: transfers in flight are abandoned (their messages stay in the spool and are sent by the next
 * hub). Returns NULL. */
NotifierHub *notifier_hub_free(NotifierHub *hub);
DEFINE_TRIVIAL_CLEANUP_FUNC(NotifierHub *, notifier_hub_free);

/* Apply a configuration (the full list of notifiers). -EINVAL if the list itself is invalid (empty or
 * duplicate name, unknown kind or URL source, missing url_ref) — then nothing changes. Otherwise all of
 * it is applied and the return value is the number of notifiers whose URL could not be resolved (0 when
 * all are ready); their reasons are reported and in notifier_hub_stats(). Another negative errno means
 * a spool directory could not be created; nothing changes then either. */
int notifier_hub_configure(NotifierHub *hub, const NotifierConfig *notifiers, size_t n);

/* Queue one event for one notifier and return once it is durable. incident and event must have the
 * shape of ARCHITECTURE.md (incident "events" member ignored); the hub keeps its own copy.
 *   0          queued (or the same incident id and seq is already queued for this notifier: nothing to do)
 *   -ENOENT    no configured notifier of that name (including retired ones)
 *   -EINVAL    incident or event malformed (see notifier_hub_last_error())
 *   -ENOBUFS   the notifier's queue is full (max_queue); counted as rejected
 *   -E2BIG     the message is larger than the spool accepts (1 MiB)
 *   other      the spool write failed (disk full, I/O error) */
int notifier_hub_publish(NotifierHub *hub, const char *notifier, const json_t *incident, const json_t *event);

/* Why the last publish or configure failed, for the caller's log line (static or hub-owned text, never
 * containing a URL), or NULL. */
const char *notifier_hub_last_error(const NotifierHub *hub);

typedef enum NotifierState {
        NOTIFIER_STATE_READY,     /* configured, URL resolved */
        NOTIFIER_STATE_URL_ERROR, /* configured, URL could not be resolved: queueing, not sending */
        NOTIFIER_STATE_RETIRED,   /* removed from configuration, draining to its last URL */
        NOTIFIER_STATE_ORPHAN,    /* found in the spool, never configured in this run: not sending */
        _NOTIFIER_STATE_MAX,
} NotifierState;

const char *notifier_state_to_string(NotifierState s);

typedef struct NotifierStats {
        const char *name;
        NotifierKind kind; /* orphans: guessed as webhook (unknown until configured) */
        NotifierState state;
        const char *redacted_url; /* NULL if there is no URL */
        const char *url_error;    /* why the URL could not be resolved, or NULL */
        uint64_t queued;          /* messages in the spool now */
        uint64_t delivered;       /* messages delivered (each message of a coalesced request counts) */
        uint64_t requests; /* successful requests (coalesced messages and alert refreshes count one) */
        uint64_t failed_attempts; /* requests that failed and were retried or dead-lettered */
        uint64_t dead_lettered;   /* messages given up on after a permanent failure */
        uint64_t expired;         /* messages dropped at max_age */
        uint64_t rejected;        /* publishes refused because the queue was full */
        uint64_t dropped;         /* dead_lettered + expired + rejected: events that never got there */
        uint64_t corrupt;         /* spool files moved aside */
        uint64_t coalesced;       /* messages merged into another message */
        uint64_t suppressed;      /* events folded into an "N earlier events suppressed" line */
        usec_t oldest_age_usec;   /* age of the oldest queued message (0 if none) */
        usec_t next_attempt_usec; /* CLOCK_MONOTONIC time of the next request, USEC_INFINITY if none */
        unsigned consecutive_failures;
        long last_http_status; /* of the last completed request, 0 if none */
        size_t firing_alerts;  /* alertmanager: alerts kept active by re-sending */
        bool in_flight;
} NotifierStats;

/* A snapshot, sorted by name. The array is the caller's (free()); its strings belong to the hub and are
 * valid until control returns to the event loop (a retired notifier disappears once drained) or the hub
 * is reconfigured or freed: copy what you keep. */
int notifier_hub_stats(NotifierHub *hub, NotifierStats **ret, size_t *ret_n);

typedef enum NotifierReportKind {
        NOTIFIER_REPORT_DELIVERED,   /* a request succeeded */
        NOTIFIER_REPORT_RETRY,       /* a request failed; it is retried after retry_in_usec */
        NOTIFIER_REPORT_DEAD_LETTER, /* permanent failure: messages moved to dead/ */
        NOTIFIER_REPORT_EXPIRED,     /* a message reached max_age and was dropped */
        NOTIFIER_REPORT_CORRUPT,     /* a spool file could not be read and was moved to corrupt/ */
        NOTIFIER_REPORT_URL_ERROR,   /* the URL could not be resolved at configure */
        NOTIFIER_REPORT_SPOOL_ERROR, /* the spool could not be updated (unlink, rename, fsync failed) */
        NOTIFIER_REPORT_ORPHAN,      /* queued messages for a name that is not configured */
        _NOTIFIER_REPORT_KIND_MAX,
} NotifierReportKind;

const char *notifier_report_kind_to_string(NotifierReportKind k);

typedef struct NotifierReport {
        NotifierReportKind kind;
        const char *notifier;     /* name */
        const char *redacted_url; /* may be NULL */
        const char *incident_id;  /* may be NULL */
        uint64_t seq;             /* event seq of the (first) message concerned, 0 if none */
        size_t n_messages;        /* messages concerned */
        long http_status;         /* 0 if no HTTP status */
        int error;                /* negative errno, or 0 */
        const char *detail;       /* for humans; never contains the URL (response bodies are scrubbed) */
        usec_t retry_in_usec;     /* RETRY: delay before the next attempt */
} NotifierReport;

typedef void (*NotifierReportCallback)(const NotifierReport *report, void *userdata);

void notifier_hub_set_report_callback(NotifierHub *hub, NotifierReportCallback cb, void *userdata);

/* One line for a log: "notifier ops (https://hooks.slack.com/…): dead letter, 1 message of incident X
 * seq 3: HTTP 400: invalid_payload". */
int notifier_report_format(const NotifierReport *r, char **ret);

/* Number of requests in flight over all notifiers (0 or 1 each). */
size_t notifier_hub_in_flight(const NotifierHub *hub);

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The delivery policy of the notifier outbox, as pure functions of explicit times: the token bucket that
 * keeps chat notifiers from flooding a channel, the exponential back-off with jitter between failed
 * attempts, the classification of an HTTP outcome (delivered, retry, permanent), Retry-After parsing and
 * the choice of which queued messages go out together in the next request (coalescing).
 *
 * Nothing here reads a clock, does I/O or allocates, so the unit tests drive it with made-up times and the
 * hub (notifier-hub.c) only feeds it CLOCK_MONOTONIC readings.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules.h"
#include "time-util.h"

/* A token bucket kept as "credit" in microseconds: one token costs interval_usec of credit, credit grows
 * by one microsecond per elapsed microsecond and is capped at burst tokens. Integer arithmetic only, so
 * the behaviour is exact and reproducible in tests. */
typedef struct TokenBucket {
        unsigned burst;       /* capacity in tokens (>= 1) */
        usec_t interval_usec; /* one token is earned per interval (> 0) */
        usec_t credit_usec;   /* 0 .. burst * interval_usec */
        usec_t last_usec;     /* when credit was last brought up to date */
} TokenBucket;

/* Start full: a quiet notifier may send a burst right away. */
void token_bucket_init(TokenBucket *b, unsigned burst, usec_t interval_usec, usec_t now_usec);
/* Whole tokens available at now. */
unsigned token_bucket_available(const TokenBucket *b, usec_t now_usec);
/* Earliest time >= now at which a token is available (now itself if one is). */
usec_t token_bucket_next(const TokenBucket *b, usec_t now_usec);
/* Take one token if available; false (and no change) if the bucket is empty. */
bool token_bucket_take(TokenBucket *b, usec_t now_usec);

/* Delay before the next attempt after `failures` consecutive failures (>= 1): min doubled per failure,
 * capped at max, then "equal jitter" — a uniformly random point in [d/2, d] — so that many hosts whose
 * receiver came back at the same moment do not retry in lockstep. `random` is any 64-bit random value. */
usec_t backoff_delay(unsigned failures, usec_t min_usec, usec_t max_usec, uint64_t random);

typedef enum DeliveryOutcome {
        DELIVERY_OK,        /* 2xx: done */
        DELIVERY_RETRY,     /* transport error, timeout, 408, 429, 5xx: try again later */
        DELIVERY_PERMANENT, /* any other status: retrying cannot help; dead-letter */
        _DELIVERY_OUTCOME_MAX,
} DeliveryOutcome;

/* transport_ok: the request completed with an HTTP status (status is then 100..599). A transport failure
 * (connect, reset, timeout, truncated response) is always worth a retry. */
DeliveryOutcome delivery_classify(bool transport_ok, long status);
const char *delivery_outcome_to_string(DeliveryOutcome o);
/* Whether Retry-After is honoured for this status (429 and 503, RFC 9110 section 10.2.3). */
bool delivery_honours_retry_after(long status);

/* Parse a Retry-After header value: delay-seconds ("120") or an IMF-fixdate
 * ("Sun, 06 Nov 1994 08:49:37 GMT", RFC 9110), relative to now_realtime_usec. A date in the past is a
 * delay of 0. Leading/trailing blanks are ignored. -EINVAL for anything else (the caller then falls back
 * to its own back-off), -ERANGE for absurd values. */
int retry_after_parse(const char *value, usec_t now_realtime_usec, usec_t *ret_delay_usec);

/* How a notifier kind treats its queue. */
typedef enum OutboxMode {
        OUTBOX_CHAT,  /* humans: rate-limited, events of one incident coalesced into one message */
        OUTBOX_EACH,  /* generic webhook: every event is its own request, in order */
        OUTBOX_STATE, /* alertmanager: only the incident's latest state matters */
        _OUTBOX_MODE_MAX,
} OutboxMode;

OutboxMode outbox_mode_for_kind(NotifierKind kind);

/* One queued message as the planner sees it, in queue (publish) order. */
typedef struct OutboxEntry {
        const char *incident_id;
        usec_t queued_usec; /* CLOCK_MONOTONIC time it entered the queue */
} OutboxEntry;

typedef struct OutboxPolicy {
        usec_t group_wait_usec; /* chat: hold a new incident's first event this long to merge a burst */
        size_t max_batch;       /* chat: most events in one message (>= 1) */
} OutboxPolicy;

/* Decide the next request. The head of the queue (q[0]) always goes first, which keeps every incident's
 * events in order. Writes the indices of the entries to send together into ret_pick (room for
 * max(max_batch, n) entries) and returns how many; sets *ret_not_before to the earliest time the request
 * may start: retry_at (back-off), and for chat also the group wait of the head and the next token.
 *   CHAT:  every queued entry of the head's incident, up to max_batch;
 *   EACH:  the head alone;
 *   STATE: every queued entry of the head's incident (only the last one's state is sent).
 * Returns 0 (and *ret_not_before = USEC_INFINITY) when the queue is empty. */
size_t outbox_plan(
        OutboxMode mode,
        const OutboxEntry *q,
        size_t n,
        const OutboxPolicy *p,
        const TokenBucket *bucket,
        usec_t now_usec,
        usec_t retry_at_usec,
        size_t *ret_pick,
        usec_t *ret_not_before);

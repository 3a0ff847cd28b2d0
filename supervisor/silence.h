/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Silences: an operator's "leave it alone for a while". A silence matches incidents by rule name and/or
 * label matchers (=, !=, =~, !~; regular expressions are POSIX ERE, fully anchored, as in selectors; the
 * metric name is the label __name__) and has an expiry. While a silence matches an open incident, the
 * incident takes no action (action_skipped, reason "silence") and nothing about it goes to chat except the
 * silenced / unsilenced events themselves; the journal and the JSONL file still get everything.
 *
 * Created through POST /api/v1/silences (strictly validated: silence_from_request_json), persisted in
 * silences.json, expired by the incident engine's clock. Pure: no I/O, no clock.
 *
 * Request body:
 *   {"rule": "api-latency",                                 (optional)
 *    "matchers": [{"label": "unit", "op": "=", "value": "api.service"}],   (optional, op defaults to "=")
 *    "duration": "1h"  or  "ends_at": "2026-01-01T00:00:00Z",             (exactly one)
 *    "comment": "deploy in progress", "created_by": "alice"}             (comment required)
 * At least one of rule and matchers is required: a silence of everything is refused.
 */
#pragma once

#include <jansson.h>
#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include "incident.h"
#include "rules.h"

#define SILENCES_MAX 1000u
#define SILENCE_MATCHERS_MAX 32u
#define SILENCE_DURATION_MAX (90 * USEC_PER_DAY)
#define SILENCE_COMMENT_MAX 1024u
#define SILENCE_CREATED_BY_MAX 256u
#define SILENCE_VALUE_MAX 1024u

typedef struct SilenceMatcher {
        char *label;
        MatchOp op;
        char *value;
        regex_t *regex; /* =~ and !~ */
} SilenceMatcher;

typedef struct Silence {
        Id128 id;
        char *rule; /* NULL: any rule */
        SilenceMatcher *matchers;
        size_t n_matchers;
        usec_t created_at; /* realtime */
        usec_t ends_at;    /* realtime */
        usec_t ends_mono;  /* the engine's clock */
        char *comment;
        char *created_by;
        bool expired; /* the engine processed its expiry */
} Silence;

Silence *silence_free(Silence *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Silence *, silence_free);

/* Validate an API request body into a Silence. On a bad body: -EINVAL and a message for the client in
 * *ret_error. created_by_default is used when the body has none (the API passes the peer's uid). */
int silence_from_request_json(
        json_t *body,
        const Id128 *id,
        IncidentNow now,
        const char *created_by_default,
        Silence **ret,
        char **ret_error);

/* Whether the silence matches an incident's rule and series labels (metric as __name__). */
bool silence_matches(const Silence *s, const char *rule, const char *metric, const Label *labels, size_t n_labels);
bool silence_is_active(const Silence *s, usec_t now_mono);

/* API form: {"id", "rule", "matchers": [{"label", "op", "value"}], "created_at", "ends_at", "comment",
 * "created_by", "active"}. */
json_t *silence_to_json(const Silence *s, usec_t now_mono);

/* The set held by the engine, oldest first. */
typedef struct SilenceSet {
        Silence **items;
        size_t n;
} SilenceSet;

void silence_set_done(SilenceSet *set);
/* Takes ownership of s on success. -E2BIG beyond SILENCES_MAX, -EEXIST for a duplicate id. */
int silence_set_add(SilenceSet *set, Silence *s);
Silence *silence_set_find(const SilenceSet *set, const Id128 *id);
/* The first active silence that matches, or NULL. */
const Silence *silence_set_match(
        const SilenceSet *set,
        usec_t now_mono,
        const char *rule,
        const char *metric,
        const Label *labels,
        size_t n_labels);
/* Drop silences that ended more than keep_usec ago. */
void silence_set_prune(SilenceSet *set, usec_t now_mono, usec_t keep_usec);

/* Persistence: {"version": 1, "silences": [...]}, strict; on failure set is unchanged. */
json_t *silence_set_to_json(const SilenceSet *set, IncidentNow now);
int silence_set_from_json(SilenceSet *set, json_t *j, IncidentNow now, char **ret_error);

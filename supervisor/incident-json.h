/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * JSON forms of incidents, with jansson.
 *
 * Public form (API, JSONL on disk, webhook), exactly as ARCHITECTURE.md publishes it:
 *   {"id", "rule", "series", "host", "state", "detected_at", "resolved_at" (null while open),
 *    "mttr_seconds" (null while open), "events": [{"seq", "at", "kind", "message", "attrs": {…}}]}
 * with times in RFC 3339, UTC, millisecond precision. The webhook / JSONL line form is
 *   {"version": 1, "incident": {…without events…}, "event": {…}}.
 *
 * State form (incidents.json in the state directory): everything the engine needs to carry on after a
 * restart — the action in flight (the intent), undo obligations, deadlines — with times as integer
 * realtime microseconds, so that a round trip is exact. Loading is strict: an unknown key, a wrong type, a
 * value out of range is an error naming the place, never a silent default.
 *
 * Also the small strict readers (json_read_*) that guard.c and silence.c share.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "incident.h"

#define INCIDENT_STATE_VERSION 1

/* ---- public form ---- */

/* An RFC 3339 string for a realtime timestamp, JSON null for 0. NULL on OOM. */
json_t *json_timestamp(usec_t wall);
json_t *incident_event_to_json(const TimelineEvent *e);
json_t *incident_to_json(const Incident *i, const char *host, bool with_events);
/* {"version": 1, "incident": {…}, "event": {…}} */
json_t *incident_event_payload(const Incident *i, const char *host, const TimelineEvent *e);

/* ---- state form ---- */

json_t *incident_to_state_json(const Incident *i, IncidentNow now);
/* Builds a new Incident (rule pointer NULL: the engine attaches it). -EBADMSG with *ret_error. */
int incident_from_state_json(json_t *j, IncidentNow now, Incident **ret, char **ret_error);

/* ---- strict readers ----
 * All return 0, or -EBADMSG and set *error (if still NULL) to "where: what is wrong". A JSON null counts
 * as absent. `where` names the object for the message. */
int json_read_error(char **error, const char *where, const char *fmt, ...) _printf_(3, 4);
int json_read_keys(json_t *obj, const char *where, const char *const *allowed, char **error);
int json_read_string(
        json_t *obj, const char *key, bool required, const char *where, const char **ret, char **error);
int json_read_u64(json_t *obj, const char *key, bool required, const char *where, uint64_t *ret, char **error);
int json_read_unsigned(
        json_t *obj, const char *key, bool required, const char *where, unsigned *ret, char **error);
int json_read_bool(json_t *obj, const char *key, bool required, const char *where, bool *ret, char **error);
/* A number, or null / absent for NaN. */
int json_read_double(json_t *obj, const char *key, const char *where, double *ret, char **error);
int json_read_id128(json_t *obj, const char *key, bool required, const char *where, Id128 *ret, char **error);
/* A JSON array of non-negative integers into a malloc'ed usec_t array. */
int json_read_usec_array(
        json_t *obj, const char *key, const char *where, usec_t **ret, size_t *ret_n, char **error);
/* A JSON number for a double (null for NaN/Inf, which JSON cannot hold). */
json_t *json_number_or_null(double v);

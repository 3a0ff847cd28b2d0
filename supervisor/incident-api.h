/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What the incident routes of the HTTP API answer, built from the engine (pure; incident-manager.c
 * registers the routes and does the HTTP side):
 *
 *   GET    /api/v1/incidents        {"incidents": [incident JSON with events, …]}, oldest first: every incident
 *                                   still open and the resolved ones of the retention window (24 h, or the
 *                                   longest reopen_within if longer; at most INCIDENT_MAX_INCIDENTS).
 *                                   ?state=open|resolved|escalated|… filters; ?limit=N keeps the newest N.
 *   GET    /api/v1/incidents/ID     one incident; ID is the full 32-digit id or a unique prefix (≥ 4).
 *   GET    /api/v1/silences         {"silences": [...]}, oldest first, active and recently ended.
 *   POST   /api/v1/silences         create (body: silence.h); 201 with the silence.
 *   DELETE /api/v1/silences/ID      end a silence now; 200 with the silence.
 */
#pragma once

#include <jansson.h>

#include "incident-engine.h"

/* On error *ret_status is the HTTP status and *ret_error the message; *ret is the answer on success. */
int incident_api_list(
        const IncidentEngine *e,
        const char *state_filter,
        const char *limit,
        json_t **ret,
        unsigned *ret_status,
        char **ret_error);
int incident_api_get(
        const IncidentEngine *e, const char *id, json_t **ret, unsigned *ret_status, char **ret_error);
json_t *incident_api_silences(const IncidentEngine *e, usec_t now_mono);

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * JSON answers of the incident API routes. See incident-api.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "incident-api.h"
#include "incident-json.h"
#include "util.h"

static int fail(unsigned status, unsigned *ret_status, char **ret_error, const char *fmt, ...) _printf_(4, 5);
static int fail(unsigned status, unsigned *ret_status, char **ret_error, const char *fmt, ...) {
        va_list ap;

        *ret_status = status;
        va_start(ap, fmt);
        if (vasprintf(ret_error, fmt, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return -EINVAL;
}

int incident_api_list(
        const IncidentEngine *e,
        const char *state_filter,
        const char *limit,
        json_t **ret,
        unsigned *ret_status,
        char **ret_error) {
        _cleanup_(json_decrefp) json_t *list = NULL;
        IncidentState want = _INCIDENT_STATE_INVALID;
        bool only_open = false;
        uint64_t max = UINT64_MAX;
        size_t n, first = 0, matching = 0;
        Incident *const *all = incident_engine_incidents(e, &n);

        if (state_filter) {
                if (streq(state_filter, "open"))
                        only_open = true;
                else if ((want = incident_state_from_string(state_filter)) < 0)
                        return fail(
                                400,
                                ret_status,
                                ret_error,
                                "unknown state '%s' (open, firing, remediating, verifying, escalated, resolved)",
                                state_filter);
        }
        if (limit && (safe_atou64(limit, &max) < 0 || max == 0))
                return fail(400, ret_status, ret_error, "limit must be a positive integer");

#define KEEP(i) ((!only_open || incident_state_is_open((i)->state)) && (want < 0 || (i)->state == want))
        for (size_t k = 0; k < n; k++)
                matching += KEEP(all[k]);
        if (matching > max)
                for (size_t skipped = 0; first < n && skipped < matching - max; first++)
                        skipped += KEEP(all[first]);
        list = json_array();
        if (!list)
                return -ENOMEM;
        for (size_t k = first; k < n; k++)
                if (KEEP(all[k]) &&
                    json_array_append_new(list, incident_to_json(all[k], incident_engine_host(e), true)) < 0)
                        return -ENOMEM;
#undef KEEP
        *ret = json_pack("{s:O}", "incidents", list);
        return *ret ? 0 : -ENOMEM;
}

int incident_api_get(
        const IncidentEngine *e, const char *id, json_t **ret, unsigned *ret_status, char **ret_error) {
        Incident *i = NULL;
        int r;

        r = incident_engine_find_prefix(e, id, &i);
        if (r == -EINVAL)
                return fail(
                        400, ret_status, ret_error, "'%s' is not an incident id (4 to 32 hexadecimal digits)", id);
        if (r == -ENOTUNIQ)
                return fail(409, ret_status, ret_error, "'%s' matches several incidents; give more digits", id);
        if (r < 0)
                return fail(404, ret_status, ret_error, "no incident %s", id);
        *ret = incident_to_json(i, incident_engine_host(e), true);
        return *ret ? 0 : -ENOMEM;
}

json_t *incident_api_silences(const IncidentEngine *e, usec_t now_mono) {
        const SilenceSet *set = incident_engine_silences(e);
        _cleanup_(json_decrefp) json_t *a = json_array();

        if (!a)
                return NULL;
        for (size_t k = 0; k < set->n; k++)
                if (json_array_append_new(a, silence_to_json(set->items[k], now_mono)) < 0)
                        return NULL;
        return json_pack("{s:O}", "silences", a);
}

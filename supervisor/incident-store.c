/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Loading and serializing the incident engine's three state files. See incident-store.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "incident-store.h"
#include "state-file.h"

static const char *const file_names[_STORE_FILE_MAX] = {
        [STORE_INCIDENTS] = INCIDENT_STORE_INCIDENTS,
        [STORE_GUARDS] = INCIDENT_STORE_GUARDS,
        [STORE_SILENCES] = INCIDENT_STORE_SILENCES,
};

const char *incident_store_file_name(IncidentStoreFile f) {
        return f < _STORE_FILE_MAX ? file_names[f] : NULL;
}

void incident_store_load_done(IncidentStoreLoad *l) {
        for (size_t k = 0; k < _STORE_FILE_MAX; k++) {
                free(l->message[k]);
                free(l->moved_to[k]);
        }
        *l = (IncidentStoreLoad){};
}

static int load_document(IncidentEngine *e, IncidentStoreFile f, json_t *j, IncidentNow now, char **error) {
        switch (f) {
        case STORE_INCIDENTS:
                return incident_engine_load_incidents(e, j, now, error);
        case STORE_GUARDS:
                return incident_engine_load_guards(e, j, now, error);
        case STORE_SILENCES:
                return incident_engine_load_silences(e, j, now, error);
        default:
                return -EINVAL;
        }
}

/* Silences and guards first: incidents loaded after them find their silences (and nothing in the engine
 * depends on the order otherwise). */
int incident_store_load(IncidentEngine *e, int dir_fd, IncidentNow now, IncidentStoreLoad *ret) {
        static const IncidentStoreFile order[] = { STORE_SILENCES, STORE_GUARDS, STORE_INCIDENTS };
        IncidentStoreLoad l = {};
        int result = 0;

        for (size_t k = 0; k < ELEMENTSOF(order); k++) {
                IncidentStoreFile f = order[k];
                _cleanup_free_ char *data = NULL;
                json_t *j;
                json_error_t jerr;
                size_t len;
                int r;

                r = state_file_read(dir_fd, file_names[f], INCIDENT_STORE_MAX_BYTES, &data, &len);
                if (r == -ENOENT)
                        continue;
                l.found[f] = true;
                if (r < 0 && r != -EFBIG) {
                        l.error[f] = r;
                        if (asprintf(&l.message[f], "cannot read %s: %s", file_names[f], strerror(-r)) < 0)
                                l.message[f] = NULL;
                        *ret = l;
                        return r;
                }
                if (r == -EFBIG) {
                        if (asprintf(&l.message[f], "larger than %zu bytes", INCIDENT_STORE_MAX_BYTES) < 0)
                                l.message[f] = NULL;
                } else {
                        j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
                        if (!j) {
                                r = -EBADMSG;
                                if (asprintf(
                                            &l.message[f],
                                            "line %d column %d: %s",
                                            jerr.line,
                                            jerr.column,
                                            jerr.text) < 0)
                                        l.message[f] = NULL;
                        } else {
                                r = load_document(e, f, j, now, &l.message[f]);
                                json_decref(j);
                        }
                        if (r == -ENOMEM) {
                                *ret = l;
                                return r;
                        }
                        if (r >= 0) {
                                l.loaded[f] = true;
                                continue;
                        }
                }
                l.error[f] = r < 0 ? r : -EFBIG;
                (void) state_file_move_aside(dir_fd, file_names[f], now.wall, &l.moved_to[f]);
                result = 1;
        }
        *ret = l;
        return result;
}

int incident_store_serialize(
        IncidentEngine *e, IncidentStoreFile f, IncidentNow now, char **ret, size_t *ret_len) {
        json_t *j;
        char *s;

        switch (f) {
        case STORE_INCIDENTS:
                j = incident_engine_incidents_to_json(e, now);
                break;
        case STORE_GUARDS:
                j = incident_engine_guards_to_json(e, now);
                break;
        case STORE_SILENCES:
                j = incident_engine_silences_to_json(e, now);
                break;
        default:
                return -EINVAL;
        }
        if (!j)
                return -ENOMEM;
        s = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        if (!s)
                return -ENOMEM;
        size_t n = strlen(s);
        char *t = realloc(s, n + 2);
        if (!t) {
                free(s);
                return -ENOMEM;
        }
        t[n] = '\n';
        t[n + 1] = 0;
        *ret = t;
        *ret_len = n + 1;
        return 0;
}

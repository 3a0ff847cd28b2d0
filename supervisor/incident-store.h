/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The incident engine's state files in the state directory, separate from the evaluator's learned state so
 * that a corrupt detector state never drops an incident, an undo obligation, a guard or a silence — and
 * separate from each other for the same reason:
 *
 *   incidents.json   incidents with their timelines, actions in flight (intents) and undo obligations
 *   guards.json      cooldowns, token buckets, breaker failures, last InvocationIDs per target
 *   silences.json    silences
 *
 * Each is versioned JSON written atomically (state-file.h). Loading is strict: a file that does not parse
 * or does not validate is moved aside (NAME.corrupt-<UTC timestamp>) and reported, and the engine starts
 * without that part; the caller logs it loudly. A missing file is a fresh start.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "incident-engine.h"

#define INCIDENT_STORE_INCIDENTS "incidents.json"
#define INCIDENT_STORE_GUARDS "guards.json"
#define INCIDENT_STORE_SILENCES "silences.json"
#define INCIDENT_STORE_MAX_BYTES ((size_t) 256 * 1024 * 1024)

typedef enum IncidentStoreFile {
        STORE_INCIDENTS,
        STORE_GUARDS,
        STORE_SILENCES,
        _STORE_FILE_MAX,
} IncidentStoreFile;

const char *incident_store_file_name(IncidentStoreFile f);

typedef struct IncidentStoreLoad {
        bool found[_STORE_FILE_MAX];     /* the file existed */
        bool loaded[_STORE_FILE_MAX];    /* and was loaded */
        int error[_STORE_FILE_MAX];      /* negative errno when not loaded (0 otherwise) */
        char *message[_STORE_FILE_MAX];  /* what was wrong, for the log */
        char *moved_to[_STORE_FILE_MAX]; /* where a corrupt file went */
} IncidentStoreLoad;

void incident_store_load_done(IncidentStoreLoad *l);

/* Load the three files into a fresh engine. Returns 0 when everything present loaded, 1 when some file
 * was corrupt (moved aside, see *ret), or a negative errno for a failure to read at all (permissions,
 * I/O: nothing is moved then, and the caller must not start with an empty state over it). */
int incident_store_load(IncidentEngine *e, int dir_fd, IncidentNow now, IncidentStoreLoad *ret);

/* Serialize one file's document (compact JSON, newline-terminated). */
int incident_store_serialize(IncidentEngine *e, IncidentStoreFile f, IncidentNow now, char **ret, size_t *ret_len);

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The incident layer of homeostatd: it plugs the pure incident engine into the Manager (eval hook,
 * extension, API routes) and carries out what the engine decides — journal/JSONL/notifier sinks
 * (timeline.h), unit state reads (incident-unit.h), remediation actions and undos (remediations/), timers
 * on the sd-event loop, and the state files (incident-store.h).
 *
 * Order in homeostatd: manager_new(), incident_manager_new(), manager_start(), incident_manager_start()
 * (the API exists only once the manager started), manager_run(),
 * manager_stop() (its final save includes ours), incident_manager_free(), manager_free(). The incident
 * manager must be freed before the Manager: it cancels actions and notifier transfers that use the
 * Manager's bus and libcurl glue.
 *
 * Persistence: an action's intent, a new undo obligation, an undo in flight and a new silence are written
 * synchronously (fsync) before anything is done about them — at most a few per hour thanks to the
 * guards; everything else is written at most once a second by the state savers' forked writers, and at
 * stop. Without --state-dir nothing is persisted and no notifier can queue (their outbox lives there).
 *
 * The engine's monotonic clock is CLOCK_MONOTONIC + INCIDENT_MANAGER_MONO_OFFSET, so that times loaded
 * from a state file written before a reboot stay positive.
 */
#pragma once

#include "incident-engine.h"
#include "macro.h"
#include "manager.h"

#define INCIDENT_MANAGER_MONO_OFFSET (10ULL * 366 * USEC_PER_DAY)
#define INCIDENT_MANAGER_SAVE_DELAY_USEC (1 * USEC_PER_SEC)
#define INCIDENT_MANAGER_PRUNE_INTERVAL_USEC (10 * USEC_PER_MINUTE)
#define INCIDENT_MANAGER_OUTBOX "outbox"

typedef struct IncidentManager IncidentManager;

/* Load the state files (a corrupt one is moved aside and logged), create the sinks, the executor and the
 * notifier hub, register the eval hook and the extension, and resume (reconcile actions found in flight).
 * Errors are logged. */
int incident_manager_new(Manager *m, IncidentManager **ret);
/* Register the API routes (after manager_start(), before the loop runs). */
int incident_manager_start(IncidentManager *im);
IncidentManager *incident_manager_free(IncidentManager *im);
DEFINE_TRIVIAL_CLEANUP_FUNC(IncidentManager *, incident_manager_free);

IncidentEngine *incident_manager_engine(IncidentManager *im);

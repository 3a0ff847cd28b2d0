/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The timeline sinks: where every incident event goes once the engine has recorded it.
 *
 *  - The journal, as a structured entry through log.h (homeostatd's journal sink passes the fields on):
 *    MESSAGE_ID= (stable per event kind, incident.h), HOMEOSTAT_INCIDENT=, HOMEOSTAT_RULE=,
 *    HOMEOSTAT_EVENT=, HOMEOSTAT_SERIES=, HOMEOSTAT_SEQ=, HOMEOSTAT_STATE=, and a MESSAGE= for people.
 *    Priority: warning for failures and escalations, notice otherwise.
 *  - A JSON Lines file in the state directory (timeline.jsonl): one line per event, the webhook shape
 *    {"version": 1, "incident": {…without events…}, "event": {…}}. Size-bounded: when a line would take
 *    the file past max_bytes it is rotated (timeline.jsonl.1, .2, … up to keep files; the oldest goes).
 *  - Each of the rule's notifiers through the durable notifier hub (unless the event is muted by a
 *    silence).
 *
 * A failing sink does not stop the others; timeline_emit() reports the first error and counts them all.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "incident.h"
#include "notifier.h"
#include "rules.h"

#define TIMELINE_FILE "timeline.jsonl"
#define TIMELINE_MAX_BYTES_DEFAULT (16u * 1024u * 1024u)
#define TIMELINE_KEEP_DEFAULT 3u
#define TIMELINE_FIELDS_MAX 8

typedef struct Timeline Timeline;

typedef struct TimelineOptions {
        size_t max_bytes; /* 0: TIMELINE_MAX_BYTES_DEFAULT */
        unsigned keep;    /* rotated files kept; 0: TIMELINE_KEEP_DEFAULT */
        bool journal;     /* write journal entries (tests may turn them off) */
} TimelineOptions;

typedef struct TimelineStats {
        uint64_t events;
        uint64_t jsonl_errors;
        uint64_t notify_errors;
        uint64_t published;
        uint64_t rotations;
        int last_error;
} TimelineStats;

/* dir_fd: the state directory (the Timeline keeps a dup), or -1: no JSONL file. */
int timeline_new(int dir_fd, const TimelineOptions *opts, Timeline **ret);
Timeline *timeline_free(Timeline *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Timeline *, timeline_free);

/* Notifications go to this hub (may be NULL: none) for the rules of this config (names of rule->notify). */
void timeline_set_hub(Timeline *t, NotifierHub *hub, const Config *config);

/* Send one event to every sink. notify: also to the rule's notifiers. Returns 0 or the first error. */
int timeline_emit(Timeline *t, const Incident *i, const TimelineEvent *e, const char *host, bool notify);

void timeline_get_stats(const Timeline *t, TimelineStats *ret);

/* The journal fields of an event ("KEY=value", malloc'ed, *ret_n of them) and its MESSAGE text. */
int timeline_journal_fields(
        const Incident *i, const TimelineEvent *e, char ***ret, size_t *ret_n, char **ret_message);

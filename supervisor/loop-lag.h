/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Event-loop lag bookkeeping. homeostatd arms a CLOCK_MONOTONIC timer every LOOP_LAG_INTERVAL_USEC with
 * 1 ms accuracy and records how late it fired; a loop that is blocked (a slow callback, a stalled disk,
 * CPU starvation) shows up as lateness. This file only keeps the numbers (pure, no clock: callers pass the
 * monotonic time), so it is unit-tested without a loop.
 *
 * The remediation side refuses to act while the loop is lagging, because measurements taken by a late
 * loop are wrong: "lagging" means the maximum lag within the last LOOP_LAG_WINDOW_USEC (10 s) exceeds
 * LOOP_LAG_THRESHOLD_USEC (1 s), or the lag timer itself is overdue by more than the threshold right now
 * (the loop is blocked at this very moment, e.g. the caller runs inside a long callback).
 */
#pragma once

#include <stdbool.h>

#include "time-util.h"

#define LOOP_LAG_INTERVAL_USEC (250 * USEC_PER_MSEC)
#define LOOP_LAG_WINDOW_USEC (10 * USEC_PER_SEC)
#define LOOP_LAG_THRESHOLD_USEC (1 * USEC_PER_SEC)

/* One bucket per second of monotonic time; a window of 10 s needs 11 (partial seconds at both ends). */
#define LOOP_LAG_BUCKETS 16

typedef struct LoopLag {
        usec_t last_lag_usec; /* lateness of the most recent tick */
        usec_t next_due_usec; /* when the next tick is due (0: no tick armed yet) */
        usec_t max_ever_usec; /* since start */
        uint64_t ticks;
        uint64_t bucket_second[LOOP_LAG_BUCKETS]; /* monotonic second the bucket belongs to, +1 (0: empty) */
        usec_t bucket_max[LOOP_LAG_BUCKETS];
} LoopLag;

void loop_lag_init(LoopLag *l);

/* A tick that was scheduled for scheduled_usec ran at now_usec; the next one is due at next_due_usec. */
void loop_lag_record(LoopLag *l, usec_t scheduled_usec, usec_t now_usec, usec_t next_due_usec);

/* The lag right now: the last tick's lateness, or how overdue the next tick is, whichever is larger. */
usec_t loop_lag_current(const LoopLag *l, usec_t now_usec);

/* The largest lag seen within [now - window, now], including the current overdue time. */
usec_t loop_lag_max(const LoopLag *l, usec_t now_usec, usec_t window_usec);

/* max over LOOP_LAG_WINDOW_USEC > LOOP_LAG_THRESHOLD_USEC. */
bool loop_lag_is_lagging(const LoopLag *l, usec_t now_usec);

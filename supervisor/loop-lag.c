/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Loop-lag bookkeeping: per-second maximum buckets in a small ring, so "the maximum over the last 10 s" is
 * a scan of 16 numbers and memory stays constant. See loop-lag.h.
 */
#include <string.h>

#include "loop-lag.h"
#include "macro.h"

void loop_lag_init(LoopLag *l) {
        memset(l, 0, sizeof(*l));
}

void loop_lag_record(LoopLag *l, usec_t scheduled_usec, usec_t now_usec, usec_t next_due_usec) {
        usec_t lag = now_usec > scheduled_usec ? now_usec - scheduled_usec : 0;
        uint64_t sec = now_usec / USEC_PER_SEC;
        size_t i = sec % LOOP_LAG_BUCKETS;

        l->last_lag_usec = lag;
        l->next_due_usec = next_due_usec;
        l->ticks++;
        if (lag > l->max_ever_usec)
                l->max_ever_usec = lag;
        if (l->bucket_second[i] != sec + 1) {
                l->bucket_second[i] = sec + 1;
                l->bucket_max[i] = lag;
        } else if (lag > l->bucket_max[i])
                l->bucket_max[i] = lag;
}

usec_t loop_lag_current(const LoopLag *l, usec_t now_usec) {
        usec_t overdue = 0;

        if (l->next_due_usec > 0 && now_usec > l->next_due_usec)
                overdue = now_usec - l->next_due_usec;
        return MAX(l->last_lag_usec, overdue);
}

usec_t loop_lag_max(const LoopLag *l, usec_t now_usec, usec_t window_usec) {
        uint64_t sec_now = now_usec / USEC_PER_SEC;
        uint64_t sec_from = now_usec > window_usec ? (now_usec - window_usec) / USEC_PER_SEC : 0;
        usec_t m = 0;

        if (l->next_due_usec > 0 && now_usec > l->next_due_usec)
                m = now_usec - l->next_due_usec;
        for (size_t i = 0; i < LOOP_LAG_BUCKETS; i++) {
                uint64_t s;
                if (l->bucket_second[i] == 0)
                        continue;
                s = l->bucket_second[i] - 1;
                if (s < sec_from || s > sec_now)
                        continue;
                if (l->bucket_max[i] > m)
                        m = l->bucket_max[i];
        }
        return m;
}

bool loop_lag_is_lagging(const LoopLag *l, usec_t now_usec) {
        return loop_lag_max(l, now_usec, LOOP_LAG_WINDOW_USEC) > LOOP_LAG_THRESHOLD_USEC;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * threshold: static limits, for what is not statistical (a queue must stay below 1000, a pool above 2).
 *
 * x > above or x < below is anomalous. There is no model, so p and score are binary: a crossing has
 * p = 1e-16 (score 1), anything else p = 1 (score 0). `direction` narrows which limit counts (up: only
 * above, down: only below). The band is [below, above] (NAN for a side that is not set); there is no
 * expected value. No warm-up by default (a limit means the same from the first sample).
 */
#include <errno.h>

#include "detector-internal.h"

typedef struct ThresholdState {
        double last_t;
        double first_t;
        uint64_t n;
} ThresholdState;

static int threshold_prepare(DetectorParams *p) {
        p->derived.state_size = sizeof(ThresholdState);
        return 0;
}

static void threshold_init(const DetectorParams *p, void *state) {
        ThresholdState *s = state;
        s->last_t = NAN;
}

int detector_threshold_update(const DetectorParams *p, void *state, const DetectorSample *sample, Verdict *v) {
        ThresholdState *s = state;
        double x = sample->x, t = sample->t;

        if (!isfinite(x) || !isfinite(t)) {
                verdict_skipped(v);
                return DETECTOR_SKIPPED_NONFINITE;
        }
        if (s->n > 0 && !(t > s->last_t)) {
                verdict_skipped(v);
                return DETECTOR_SKIPPED_OUT_OF_ORDER;
        }
        if (s->n == 0)
                s->first_t = t;

        bool up = p->direction != DETECTOR_DIRECTION_DOWN, down = p->direction != DETECTOR_DIRECTION_UP;
        bool crossed = (up && p->has_above && x > p->above) || (down && p->has_below && x < p->below);
        *v = (Verdict){
                .score = crossed ? 1 : 0,
                .p = crossed ? 1e-16 : 1,
                .anomalous = crossed,
                .expected = NAN,
                .lower = p->has_below ? p->below : NAN,
                .upper = p->has_above ? p->above : NAN,
        };
        if (!detector_is_warm(p, s->n + 1, t - s->first_t))
                verdict_warming(v);
        s->last_t = t;
        s->n++;
        return DETECTOR_OK;
}

static size_t threshold_describe(const DetectorParams *p, FieldDesc out[static FIELDS_MAX]) {
        const FieldDesc f[] = {
                FIELD(ThresholdState, last_t, FIELD_F64),
                FIELD(ThresholdState, first_t, FIELD_F64),
                FIELD(ThresholdState, n, FIELD_U64),
        };
        memcpy(out, f, sizeof(f));
        return ELEMENTSOF(f);
}

static int threshold_check(const DetectorParams *p, const void *state) {
        const ThresholdState *s = state;
        if (s->n > 0 && (!isfinite(s->last_t) || !isfinite(s->first_t) || s->first_t > s->last_t))
                return -EBADMSG;
        return 0;
}

const DetectorKind detector_threshold = {
        .name = "threshold",
        .prepare = threshold_prepare,
        .init = threshold_init,
        .update = detector_threshold_update,
        .describe = threshold_describe,
        .check = threshold_check,
};

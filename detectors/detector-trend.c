/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * trend: will the series reach `limit` within `horizon`? (a disk filling up, memory leaking).
 *
 * Model. A weighted least-squares line through the recent samples, weights halving every window/2 seconds
 * of data time (so the fit is dominated by the last `window`; default 6 h). The sums are kept centred
 * (weighted Welford updates of the mean time, the mean value and the co-moments), so the per-sample cost is
 * O(1), no history is stored and there is no cancellation however long the series runs.
 *
 * Verdict. The projection at t + horizon is the expected value; its standard error combines the residual
 * scatter and the uncertainty of level and slope (effective sample count n_eff = (sum w)^2 / sum w^2). The
 * crossing side is the rule's direction (up: limit is a ceiling, down: a floor; both: whichever side of
 * the current level the limit is on). With z = (projection - limit) / se towards that side, the sample is
 * anomalous when z >= 0 (the projection reaches the limit, or the series is already past it), and
 * p = 2 Q_t(z) for z > 0 (1 otherwise) -- the chance the line's true value at the horizon stays short of
 * the limit, on the common t(10) scale. The band is projection +- threshold * se.
 *
 * Warm-up default: half a window and 10 samples (a line needs some history before it means anything).
 */
#include <errno.h>

#include "detector-internal.h"

typedef struct TrendState {
        double last_t;
        double first_t;
        double cache_dt, cache_decay;
        double t0, x0;        /* weighted means of time and value */
        double sw, sww;       /* sum of weights and of squared weights */
        double stt, stx, sxx; /* centred weighted co-moments */
        uint64_t n;
} TrendState;

static int trend_prepare(DetectorParams *p) {
        p->derived.state_size = sizeof(TrendState);
        p->derived.decay_rate = M_LN2 / (p->window_seconds / 2);
        p->derived.warmup_samples = 10;
        p->derived.warmup_seconds = p->window_seconds / 2;
        return 0;
}

static void trend_init(const DetectorParams *p, void *state) {
        TrendState *s = state;
        s->last_t = NAN;
        s->cache_dt = NAN;
}

int detector_trend_update(const DetectorParams *p, void *state, const DetectorSample *sample, Verdict *v) {
        TrendState *s = state;
        double x = sample->x, t = sample->t;

        if (!isfinite(x) || !isfinite(t)) {
                verdict_skipped(v);
                return DETECTOR_SKIPPED_NONFINITE;
        }
        if (s->n > 0 && !(t > s->last_t)) {
                verdict_skipped(v);
                return DETECTOR_SKIPPED_OUT_OF_ORDER;
        }

        /* Learn first: the projection is about the future, so the newest sample belongs in it. */
        if (s->n == 0) {
                s->first_t = t;
                s->t0 = t;
                s->x0 = x;
                s->sw = s->sww = 1;
        } else {
                double d = decay_cached(t - s->last_t, p->derived.decay_rate, &s->cache_dt, &s->cache_decay);
                s->sw *= d;
                s->sww *= d * d;
                s->stt *= d;
                s->stx *= d;
                s->sxx *= d;
                double sw = s->sw + 1, dtt = t - s->t0, dxx = x - s->x0;
                s->t0 += dtt / sw;
                s->x0 += dxx / sw;
                s->stt += dtt * (t - s->t0);
                s->stx += dtt * (x - s->x0);
                s->sxx += dxx * (x - s->x0);
                s->sw = sw;
                s->sww += 1;
        }
        s->last_t = t;
        s->n++;

        *v = (Verdict){ .p = 1, .expected = NAN, .lower = NAN, .upper = NAN };
        if (s->n < 3 || !(s->stt > 0)) {
                verdict_warming(v);
                return DETECTOR_OK;
        }

        double b = s->stx / s->stt;
        double n_eff = s->sw * s->sw / s->sww;
        double resid = MAX(s->sxx - b * s->stx, 0.0) / s->sw;
        double s2 = n_eff > 2.5 ? resid * n_eff / (n_eff - 2) : resid * 3;
        double tau = t + p->horizon_seconds - s->t0;
        double proj = s->x0 + b * tau;
        double se = sqrt(s2 * (1 / n_eff + tau * tau / (s->stt * n_eff / s->sw)));
        se = sigma_floor(se, proj);

        int side;
        switch (p->direction) {
        case DETECTOR_DIRECTION_UP:
                side = 1;
                break;
        case DETECTOR_DIRECTION_DOWN:
                side = -1;
                break;
        default:
                side = p->limit >= s->x0 ? 1 : -1;
        }
        double z = side * (proj - p->limit) / se;

        v->expected = proj;
        v->lower = proj - p->threshold * se;
        v->upper = proj + p->threshold * se;
        v->anomalous = z >= 0;
        if (z > 0) {
                double f = tail_neglog10(z, &v->p);
                v->score = f >= 16 ? 1 : f / 16;
        }
        if (!detector_is_warm(p, s->n, t - s->first_t))
                verdict_warming(v);
        return DETECTOR_OK;
}

static size_t trend_describe(const DetectorParams *p, FieldDesc out[static FIELDS_MAX]) {
        const FieldDesc f[] = {
                FIELD(TrendState, last_t, FIELD_F64),   FIELD(TrendState, first_t, FIELD_F64),
                FIELD(TrendState, cache_dt, FIELD_F64), FIELD(TrendState, cache_decay, FIELD_F64),
                FIELD(TrendState, t0, FIELD_F64),       FIELD(TrendState, x0, FIELD_F64),
                FIELD(TrendState, sw, FIELD_F64),       FIELD(TrendState, sww, FIELD_F64),
                FIELD(TrendState, stt, FIELD_F64),      FIELD(TrendState, stx, FIELD_F64),
                FIELD(TrendState, sxx, FIELD_F64),      FIELD(TrendState, n, FIELD_U64),
        };
        memcpy(out, f, sizeof(f));
        return ELEMENTSOF(f);
}

static int trend_check(const DetectorParams *p, const void *state) {
        const TrendState *s = state;
        if (s->n == 0)
                return 0;
        if (!isfinite(s->last_t) || !isfinite(s->first_t) || s->first_t > s->last_t || !isfinite(s->t0) ||
            !isfinite(s->x0) || !(s->sw > 0) || !isfinite(s->sw) || !(s->sww > 0) || !(s->stt >= 0) ||
            !isfinite(s->stt) || !isfinite(s->stx) || !(s->sxx >= 0) || !isfinite(s->sxx))
                return -EBADMSG;
        return 0;
}

const DetectorKind detector_trend = {
        .name = "trend",
        .prepare = trend_prepare,
        .init = trend_init,
        .update = detector_trend_update,
        .describe = trend_describe,
        .check = trend_check,
};

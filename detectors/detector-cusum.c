/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * cusum: sustained small shifts that a per-sample z-score misses (a latency that creeps up by half a
 * sigma and stays there).
 *
 * Model. A robust baseline as in ewma (mean and mean absolute deviation, time-based half-life, default 6 h;
 * the scale remembers 4 times longer, at most 1024 samples)
 * standardizes each sample, z = (x - mean) / sigma. Two one-sided Page CUSUM statistics accumulate the
 * evidence for a shift, with each step clipped at 4 sigma so that a lone spike cannot carry the chart:
 *     S+ = max(0, S+ + min(z, 4) - k),   S- = max(0, S- - max(z, -4) - k),   k = drift (default 0.5).
 * The chart signals when the statistic for the watched direction reaches the decision interval h.
 *
 * Threshold. `threshold` keeps its meaning of "how rare a false alarm may be": h is chosen so that the
 * in-control average run length (Siegmund's approximation, ARL = (e^(2kb) - 2kb - 1) / (2k^2), b = h + 1.166)
 * equals the mean spacing of one-sided `threshold`-sigma Gaussian outliers, 1/Q(threshold). Threshold 4 with
 * drift 0.5 gives h = 8.5 and an ARL of about 31 600 samples; threshold 3 gives the textbook h = 4.1.
 *
 * p. Under no shift the statistic's stationary tail is exponential, P(S >= s) ~ e^(-2ks) (a reflected
 * random walk with drift -k), so p = min(1, m e^(-2kS)) with m = 2 when both directions are watched. At
 * the default decision interval this is p = 4e-4 (score 0.21).
 *
 * Robustness and re-learning. The baseline learns only while both statistics are below h/2 (in control),
 * so a shift does not teach the baseline. If the chart stays at or above h for 2 baseline half-lives (12 h), the
 * shift is accepted as the new normal: the mean moves by the CUSUM estimate of the shift,
 * sigma * (k + S/N) with N the samples since the statistic left zero, and the statistics restart.
 * drift 0 is allowed by the rule language; it is used as 0.05 (a zero drift has no stationary state).
 *
 * Calibration. Siegmund's h assumes independent noise around a baseline that keeps up; a series with a
 * rhythm the baseline lags, or with correlated noise, makes the statistic wander much further. So the
 * statistic's own distribution is kept as a tail histogram (as for the z-score kinds, detector-internal.h)
 * and the decision interval moves up past any level the statistic is seen to exceed (at least 3 times in
 * the histogram's memory) more often than the false-alarm budget allows; p is computed on the statistic
 * rescaled by h_iid / h.
 *
 * Warm-up default: 30 samples and 1 h of data.
 */
#include <errno.h>

#include "detector-internal.h"

#define BOOT_SAMPLES 8
#define HUBER_C 2.0
#define STEP_CLIP 4.0
#define RELEARN_HALFLIVES 2.0

typedef struct CusumState {
        double last_t;
        double first_t;
        double mean;
        double cache_dt, cache_decay;
        double s_hi, s_lo; /* the statistics, in sigmas */
        double alarm_time; /* seconds the chart has been at or above h */
        float scale, weight;
        uint32_t n;
        uint32_t n_hi, n_lo; /* samples since each statistic was last zero */
        uint32_t quiet;      /* tail quiet period left (bit 31: the previous statistic was below 2) */
        float h_cal;         /* decision interval calibrated on the series' own statistic (0 before) */
        TailCal tail;
} CusumState;

/* Siegmund: the decision interval h with in-control ARL `arl` for reference value k. */
static double decision_interval(double k, double arl) {
        double c = 2 * k * k * arl, b = log(c + 1) / (2 * k);
        for (int i = 0; i < 50; i++)
                b = log(c + 2 * k * b + 1) / (2 * k);
        return MAX(b - 1.166, 0.5);
}

static int cusum_prepare(DetectorParams *p) {
        p->derived.state_size = sizeof(CusumState);
        p->derived.decay_rate = M_LN2 / p->halflife_seconds;
        p->derived.cusum_k = MAX(p->drift, 0.05);
        /* One-sided Gaussian tail at threshold, computed from erfc so that it stays accurate far out. */
        double q = 0.5 * erfc(p->threshold / M_SQRT2);
        p->derived.cusum_h = decision_interval(p->derived.cusum_k, 1 / MAX(q, 1e-300));
        p->derived.warmup_samples = 30;
        p->derived.warmup_seconds = 3600;
        return 0;
}

static void cusum_init(const DetectorParams *p, void *state) {
        CusumState *s = state;
        s->last_t = NAN;
        s->cache_dt = NAN;
        tail_init(&s->tail);
}

int detector_cusum_update(const DetectorParams *p, void *state, const DetectorSample *sample, Verdict *v) {
        CusumState *s = state;
        double x = sample->x, t = sample->t;
        double k = p->derived.cusum_k, h = p->derived.cusum_h;

        if (!isfinite(x) || !isfinite(t)) {
                verdict_skipped(v);
                return DETECTOR_SKIPPED_NONFINITE;
        }
        if (s->n == 0) {
                s->mean = x;
                s->weight = 1;
                s->first_t = s->last_t = t;
                s->n = 1;
                verdict_skipped(v);
                verdict_warming(v);
                return DETECTOR_OK;
        }
        if (!(t > s->last_t)) {
                verdict_skipped(v);
                return DETECTOR_SKIPPED_OUT_OF_ORDER;
        }

        double dt = t - s->last_t;
        double d = decay_cached(dt, p->derived.decay_rate, &s->cache_dt, &s->cache_decay);
        /* The decision interval: Siegmund's for iid noise, or what this series' statistic shows it reaches
         * normally (a baseline that lags a daily rhythm makes the statistic wander far more). */
        h = MAX(h, s->h_cal);
        double sigma = sigma_floor(s->scale * MAD_TO_SIGMA, s->mean);
        double r = x - s->mean, z = r / sigma;
        bool warm = detector_is_warm(p, s->n, t - s->first_t);

        /* The chart runs only once the baseline is warm: a bootstrap baseline would fake shifts. */
        if (warm) {
                double zc = clamp_abs(z, STEP_CLIP);
                s->s_hi = MAX(0.0, s->s_hi + zc - k);
                s->s_lo = MAX(0.0, s->s_lo - zc - k);
                s->n_hi = s->s_hi > 0 ? s->n_hi + 1 : 0;
                s->n_lo = s->s_lo > 0 ? s->n_lo + 1 : 0;
        }

        double stat, m = 1;
        switch (p->direction) {
        case DETECTOR_DIRECTION_UP:
                stat = s->s_hi;
                break;
        case DETECTOR_DIRECTION_DOWN:
                stat = s->s_lo;
                break;
        default:
                stat = MAX(s->s_hi, s->s_lo);
                m = 2;
        }
        v->warming_up = false;
        v->expected = s->mean;
        v->lower = s->mean - p->threshold * sigma;
        v->upper = s->mean + p->threshold * sigma;
        /* In control both statistics are often exactly 0, and then p is exactly 1 (no exp() needed). */
        v->p = stat > 0 ? MIN(1.0, m * exp(-2 * k * stat * p->derived.cusum_h / h)) : 1;
        v->score = detector_score_from_p(v->p);
        v->anomalous = stat >= h;
        if (!warm)
                verdict_warming(v);

        /* The statistic's own tail (one-sided, so counted twice), as for the z-score kinds. */
        double big = MAX(s->s_hi, s->s_lo);
        uint32_t quiet = s->quiet & 0xff;
        bool calm = s->quiet >> 31;
        if (warm && big >= 2 && tail_counts_now(big >= h, calm, quiet))
                tail_count_weighted(&s->tail, big, 2);
        quiet = big >= h ? TAIL_QUIET : quiet > 0 ? quiet - 1 : 0;
        s->quiet = quiet | (big < 2 ? 1u << 31 : 0);

        /* Learn while in control. */
        double w = s->weight * d + 1, a = 1 / w;
        if (s->n < BOOT_SAMPLES) {
                s->mean += a * r;
                s->scale += (float) (a * (fabs(r) - s->scale));
                s->weight = (float) w;
        } else if (s->s_hi < h / 2 && s->s_lo < h / 2 && fabs(z) < MAX(p->threshold, STEP_CLIP)) {
                s->mean += a * clamp_abs(r, HUBER_C * sigma);
                s->scale += (float) (MAX(a * 0.25, 1.0 / 1024) * (fabs(r) - s->scale));
                s->weight = (float) w;
        } else
                s->weight = (float) (s->weight * d);

        /* A shift that lasts is the new normal. */
        if (MAX(s->s_hi, s->s_lo) >= h) {
                s->alarm_time += dt;
                if (s->alarm_time >= RELEARN_HALFLIVES * p->halflife_seconds) {
                        if (s->s_hi >= s->s_lo && s->n_hi > 0)
                                s->mean += sigma * (k + s->s_hi / s->n_hi);
                        else if (s->n_lo > 0)
                                s->mean -= sigma * (k + s->s_lo / s->n_lo);
                        s->s_hi = s->s_lo = 0;
                        s->n_hi = s->n_lo = 0;
                        s->alarm_time = 0;
                        s->weight = MIN(s->weight, 8.0f);
                }
        } else
                s->alarm_time = 0;

        s->last_t = t;
        if (s->n < UINT32_MAX)
                s->n++;
        if ((s->n & 4095) == 0 || (s->n < 4096 && s->n >= 64 && (s->n & (s->n - 1)) == 0))
                s->h_cal = tail_empirical(&s->tail, t, p->threshold, 1, s->n);
        return DETECTOR_OK;
}

static size_t cusum_describe(const DetectorParams *p, FieldDesc out[static FIELDS_MAX]) {
        const FieldDesc f[] = {
                FIELD(CusumState, last_t, FIELD_F64),      FIELD(CusumState, first_t, FIELD_F64),
                FIELD(CusumState, mean, FIELD_F64),        FIELD(CusumState, cache_dt, FIELD_F64),
                FIELD(CusumState, cache_decay, FIELD_F64), FIELD(CusumState, s_hi, FIELD_F64),
                FIELD(CusumState, s_lo, FIELD_F64),        FIELD(CusumState, alarm_time, FIELD_F64),
                FIELD(CusumState, scale, FIELD_F32),       FIELD(CusumState, weight, FIELD_F32),
                FIELD(CusumState, n, FIELD_U32),           FIELD(CusumState, n_hi, FIELD_U32),
                FIELD(CusumState, n_lo, FIELD_U32),        FIELD(CusumState, quiet, FIELD_U32),
                FIELD(CusumState, h_cal, FIELD_F32),       TAIL_FIELDS(CusumState, tail),
        };
        memcpy(out, f, sizeof(f));
        return ELEMENTSOF(f);
}

static int cusum_check(const DetectorParams *p, const void *state) {
        const CusumState *s = state;
        if (s->n == 0)
                return 0;
        if (!isfinite(s->last_t) || !isfinite(s->first_t) || s->first_t > s->last_t || !isfinite(s->mean) ||
            !(s->scale >= 0) || !isfinite(s->scale) || !(s->weight >= 0) || !isfinite(s->weight) ||
            !(s->s_hi >= 0) || !isfinite(s->s_hi) || !(s->s_lo >= 0) || !isfinite(s->s_lo) ||
            !(s->alarm_time >= 0))
                return -EBADMSG;
        return 0;
}

const DetectorKind detector_cusum = {
        .name = "cusum",
        .prepare = cusum_prepare,
        .init = cusum_init,
        .update = detector_cusum_update,
        .describe = cusum_describe,
        .check = cusum_check,
};

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * ewma: a robust exponentially weighted baseline (mean and scale) with a time-based half-life.
 *
 * Model. Every sample carries weight 1 that halves every `halflife` seconds of data time, so the baseline is
 * a weighted mean over roughly the last 1.44 half-lives whatever the sampling rate, and a gap simply leaves
 * less weight behind (the first samples after a long gap count for more). The scale is the weighted mean
 * absolute deviation of the residuals (with 4 times the mean's memory, at most 256 samples), reported as a
 * Gaussian-consistent sigma. Each sample is judged
 * against the baseline *before* it is learned (a prediction, not a fit): z = (x - mean) / sigma.
 *
 * Alarm boundary. Core sigmas describe the bulk of the noise; the alarm boundary, k core sigmas, comes from
 * the series' own tails (tail calibration, detector-internal.h), so heavy-tailed noise and recurring blips
 * do not alarm while a sample as rare in time as a `threshold`-sigma Gaussian event every 5 minutes does.
 * The verdict's sigma is k/threshold core sigmas, so z >= threshold exactly at the boundary.
 *
 * Robustness. After a short bootstrap (8 samples, plain averaging), a sample past the boundary teaches
 * nothing (anomalies do not drag the baseline), and accepted samples move the mean by a Huber-clipped
 * residual (at most 2 core sigmas per sample, scaled by its weight). A lasting change of level is re-learned
 * in bounded time: once a run of samples on one side of the baseline beyond 1 sigma has lasted 2 half-lives
 * (1 h by default) and at least 5 samples, the baseline jumps to the run's mean. A lasting change of
 * variance is learned progressively: samples inside the band widen it step by step.
 *
 * State: 64 hot bytes (one cache line: everything a sample touches in the common case) plus 80 cold bytes
 * (first sample time, tail histogram). The half-life decay factor is cached per series, so regular sampling
 * costs no exp() per sample.
 *
 * Warm-up default: 30 samples and one half-life of data.
 */
#include <errno.h>

#include "detector-internal.h"

#define BOOT_SAMPLES 8
#define HUBER_C 2.0
#define RUN_SIGMA 1.0
#define RUN_MIN_SAMPLES 5
#define RELEARN_HALFLIVES 2.0

enum {
        EWMA_WARM = 1u << 0,  /* warm-up is over (then first_t is not read again) */
        EWMA_CALM = 1u << 1,  /* the previous sample was within 2 core sigmas */
        EWMA_QUIET_SHIFT = 8, /* bits 8..15: samples left in the tail's quiet period (TAIL_QUIET) */
};

typedef struct EwmaState {
        /* Hot: every sample reads and writes only this cache line. */
        double last_t; /* NAN before the first sample */
        double mean;
        double cache_dt, cache_decay; /* the last (dt, decay factor) pair */
        float scale;    /* core scale: weighted mean absolute deviation of accepted residuals */
        float weight;   /* decayed sum of the weights behind mean */
        float k;        /* alarm boundary in core sigmas (tail calibration) */
        uint32_t n;     /* samples used (saturates) */
        int32_t run;    /* consecutive samples beyond 1 core sigma on one side: +k above, -k below */
        float run_time; /* seconds the run has lasted */
        float run_sum;  /* sum of its residuals */
        uint32_t flags;
        /* Cold: read during warm-up, on tail exceedances (|z| >= 2) and at recalibrations. */
        double first_t;
        TailCal tail;
} EwmaState;

_Static_assert(offsetof(EwmaState, first_t) == 64, "ewma hot state must be one cache line");

static int ewma_prepare(DetectorParams *p) {
        p->derived.state_size = sizeof(EwmaState);
        p->derived.decay_rate = M_LN2 / p->halflife_seconds;
        p->derived.warmup_samples = 30;
        p->derived.warmup_seconds = p->halflife_seconds;
        return 0;
}

static void ewma_init(const DetectorParams *p, void *state) {
        EwmaState *s = state;
        s->last_t = NAN;
        s->cache_dt = NAN;
        s->first_t = NAN;
        tail_init(&s->tail);
}

/* Recalibrate the boundary at 16, 32, ... 4096 samples, then every 4096 (a recalibration costs tens of
 * microseconds; this keeps it to a few nanoseconds per sample). */
static inline bool recal_due(uint32_t n) {
        return (n & 4095) == 0 || (n < 4096 && n >= 16 && (n & (n - 1)) == 0);
}

int detector_ewma_update(const DetectorParams *p, void *state, const DetectorSample *sample, Verdict *verdict) {
        /* The state, the verdict and the parameters never overlap: telling the compiler so lets it keep
         * state in registers across the verdict's stores. */
        EwmaState *restrict s = state;
        Verdict *restrict v = verdict;
        double x = sample->x, t = sample->t;

        if (_unlikely_(!isfinite(x) || !isfinite(t))) {
                verdict_skipped(v);
                return DETECTOR_SKIPPED_NONFINITE;
        }
        if (_unlikely_(s->n == 0)) {
                s->mean = x;
                s->scale = 0;
                s->weight = 1;
                s->first_t = s->last_t = t;
                s->n = 1;
                s->k = tail_recalibrate(&s->tail, t, p->threshold, 1, 1);
                verdict_skipped(v);
                verdict_warming(v);
                return DETECTOR_OK;
        }
        if (_unlikely_(!(t > s->last_t))) {
                verdict_skipped(v);
                return DETECTOR_SKIPPED_OUT_OF_ORDER;
        }

        double dt = t - s->last_t;
        double d = decay_cached(dt, p->derived.decay_rate, &s->cache_dt, &s->cache_decay);
        double core = sigma_floor(s->scale * MAD_TO_SIGMA, s->mean);
        double sigma = div_threshold(p, core * s->k);
        double r = x - s->mean, z = r / sigma, zc = r / core, azc = fabs(zc);
        bool past = azc >= s->k;

        v->expected = s->mean;
        v->lower = s->mean - p->threshold * sigma;
        v->upper = s->mean + p->threshold * sigma;
        v->warming_up = false;
        /* Warm-up and the tail histogram (except near samples past the boundary). The common case -- warm,
         * no quiet period, a calm sample after a calm one -- changes nothing and counts nothing. */
        bool warming = false;
        if (_unlikely_(s->flags != (EWMA_WARM | EWMA_CALM) || azc >= 2 || past)) {
                if (!(s->flags & EWMA_WARM)) {
                        if (detector_is_warm(p, s->n, t - s->first_t))
                                s->flags |= EWMA_WARM;
                        else
                                warming = true;
                }
                uint32_t quiet = (s->flags >> EWMA_QUIET_SHIFT) & 0xff;
                if (azc >= 2 && (s->flags & EWMA_WARM) && tail_counts_now(past, s->flags & EWMA_CALM, quiet) &&
                    (!past || tail_claim_past(&s->tail, t)))
                        tail_count(&s->tail, azc);
                quiet = past ? TAIL_QUIET : quiet > 0 ? quiet - 1 : 0;
                s->flags = (s->flags & EWMA_WARM) | (azc < 2 ? EWMA_CALM : 0) | quiet << EWMA_QUIET_SHIFT;
        }

        /* Learn. */
        double w = s->weight * d + 1, a = 1 / w;
        double ar = fabs(r);
        if (s->n < BOOT_SAMPLES) {
                s->mean += a * r;
                s->scale += (float) (a * (ar - s->scale));
                s->weight = (float) w;
        } else if (!past) {
                s->mean += a * clamp_abs(r, HUBER_C * core);
                /* The scale remembers 4 times longer (at most 256 samples): a scale averaged over a handful
                 * of samples is noisy, and its noise would look like heavy tails. */
                s->scale += (float) (MAX(a * 0.25, 1.0 / 256) * (ar - s->scale));
                s->weight = (float) w;
        } else
                s->weight = (float) (s->weight * d);

        /* Runs on one side: a lasting level change is re-learned after RELEARN_HALFLIVES half-lives. */
        int side = zc > RUN_SIGMA ? 1 : zc < -RUN_SIGMA ? -1 : 0;
        if (side == 0)
                s->run = 0;
        else if ((s->run > 0 && side > 0) || (s->run < 0 && side < 0)) {
                s->run += side;
                s->run_time += (float) dt;
                s->run_sum += (float) r;
                uint32_t len = (uint32_t) abs(s->run);
                if (len >= RUN_MIN_SAMPLES && s->run_time >= RELEARN_HALFLIVES * p->halflife_seconds) {
                        s->mean += s->run_sum / len;
                        s->weight = MIN(s->weight, (float) len);
                        s->run = 0;
                }
        } else {
                s->run = side;
                s->run_time = 0;
                s->run_sum = (float) r;
        }

        s->last_t = t;
        if (s->n < UINT32_MAX)
                s->n++;
        if (_unlikely_(recal_due(s->n)))
                s->k = tail_recalibrate(&s->tail, t, p->threshold, 1, s->n);

        /* The score last: its long chain of dependent operations then overlaps the next sample's work. */
        v->anomalous = verdict_from_z(p, z, v);
        if (_unlikely_(warming))
                verdict_warming(v);
        return DETECTOR_OK;
}

static size_t ewma_describe(const DetectorParams *p, FieldDesc out[static FIELDS_MAX]) {
        const FieldDesc f[] = {
                FIELD(EwmaState, last_t, FIELD_F64),   FIELD(EwmaState, mean, FIELD_F64),
                FIELD(EwmaState, cache_dt, FIELD_F64), FIELD(EwmaState, cache_decay, FIELD_F64),
                FIELD(EwmaState, scale, FIELD_F32),    FIELD(EwmaState, weight, FIELD_F32),
                FIELD(EwmaState, k, FIELD_F32),        FIELD(EwmaState, n, FIELD_U32),
                FIELD(EwmaState, run, FIELD_I32),      FIELD(EwmaState, run_time, FIELD_F32),
                FIELD(EwmaState, run_sum, FIELD_F32),  FIELD(EwmaState, flags, FIELD_U32),
                FIELD(EwmaState, first_t, FIELD_F64),  TAIL_FIELDS(EwmaState, tail),
        };
        memcpy(out, f, sizeof(f));
        return ELEMENTSOF(f);
}

static int ewma_check(const DetectorParams *p, const void *state) {
        const EwmaState *s = state;
        if (s->n == 0)
                return 0;
        if (!isfinite(s->last_t) || !isfinite(s->first_t) || s->first_t > s->last_t || !isfinite(s->mean) ||
            !(s->scale >= 0) || !isfinite(s->scale) || !(s->weight >= 0) || !isfinite(s->weight) ||
            !(s->run_time >= 0) || !isfinite(s->run_sum) || s->run == INT32_MIN || !(s->k > 0) ||
            !isfinite(s->k) || (s->flags & ~(EWMA_WARM | EWMA_CALM | 0xffu << EWMA_QUIET_SHIFT)))
                return -EBADMSG;
        return tail_check(&s->tail);
}

const DetectorKind detector_ewma = {
        .name = "ewma",
        .prepare = ewma_prepare,
        .init = ewma_init,
        .update = detector_ewma_update,
        .describe = ewma_describe,
        .check = ewma_check,
};

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What the detector kinds share and nobody else sees: the per-kind entry points that detector.c dispatches
 * to, the field descriptions that drive binary save/load and the JSON dump, and the small hot-path helpers
 * (half-life decay with a cache for regular sampling, the z-score tail, warm-up, verdict filling).
 */
#pragma once

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "detector.h"
#include "macro.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ---- field descriptions: one table per kind drives save, load and dump ---- */

typedef enum FieldType {
        FIELD_F64,
        FIELD_F32,
        FIELD_U64,
        FIELD_U32,
        FIELD_I32,
} FieldType;

typedef struct FieldDesc {
        const char *name;
        FieldType type;
        size_t offset; /* in the state blob */
        size_t count;  /* 1 for scalars */
        uint8_t since; /* the state format version that added the field (0: every version) */
} FieldDesc;

#define FIELDS_MAX 96
#define FIELD(st, member, ft) \
        { #member, ft, offsetof(st, member), 1 }

/* ---- per-kind entry points ---- */

typedef struct DetectorKind {
        const char *name;
        /* Check kind-specific parameters and fill p->derived (state_size and the kind's own fields). */
        int (*prepare)(DetectorParams *p);
        void (*init)(const DetectorParams *p, void *state);
        int (*update)(const DetectorParams *p, void *state, const DetectorSample *s, Verdict *ret);
        /* Describe the state's fields, in serialization order; returns how many. */
        size_t (*describe)(const DetectorParams *p, FieldDesc out[static FIELDS_MAX]);
        /* Sanity of a loaded state (finite where it must be, counts in range): 0 or -EBADMSG. */
        int (*check)(const DetectorParams *p, const void *state);
        /* Optional: after loading a state of an older format version, derive the fields that version lacks
         * (they hold their initial values) from those it has. */
        void (*migrate)(const DetectorParams *p, void *state, unsigned from_version);
} DetectorKind;

extern const DetectorKind detector_ewma, detector_seasonal, detector_threshold, detector_cusum,
        detector_burnrate, detector_trend;

int detector_ewma_update(const DetectorParams *p, void *state, const DetectorSample *s, Verdict *ret);
int detector_seasonal_update(const DetectorParams *p, void *state, const DetectorSample *s, Verdict *ret);
int detector_threshold_update(const DetectorParams *p, void *state, const DetectorSample *s, Verdict *ret);
int detector_cusum_update(const DetectorParams *p, void *state, const DetectorSample *s, Verdict *ret);
int detector_burnrate_update(const DetectorParams *p, void *state, const DetectorSample *s, Verdict *ret);
int detector_trend_update(const DetectorParams *p, void *state, const DetectorSample *s, Verdict *ret);

/* ---- helpers ---- */

/* Mean absolute deviation of a Gaussian is sigma * sqrt(2/pi); we keep mean absolute deviations and report
 * sigmas. */
#define MAD_TO_SIGMA 1.2533141373155003

/* Robust scales never reach zero: a constant series would make every change infinitely surprising, which is
 * right for a change from exactly constant, but 0/0 must not happen. */
static inline double sigma_floor(double sigma, double level) {
        double f = 1e-9 * fabs(level) + 1e-300;
        return sigma > f ? sigma : f;
}

/* Exact equality that is false for NaN (macro.h's double_eq() is true for NaN against anything). */
static inline bool feq(double a, double b) {
        return a <= b && a >= b;
}

/* exp(-dt * rate), remembering the last (dt, factor) pair: with regular sampling dt repeats exactly and the
 * exponential is computed once per series, not once per sample. The exponential is out of line, so that the
 * common path has no call (and no registers to save around one). */
double decay_refresh(double dt, double rate, double *cache_dt, double *cache_factor);

static inline double decay_cached(double dt, double rate, double *cache_dt, double *cache_factor) {
        if (_likely_(feq(dt, *cache_dt)))
                return *cache_factor;
        return decay_refresh(dt, rate, cache_dt, cache_factor);
}

/* v / threshold, as a multiplication where that is exact (detector_params_prepare()): a division is the
 * slowest step on the way from a sample to its score. */
static inline double div_threshold(const DetectorParams *p, double v) {
        double inv = p->derived.threshold_inv_exact;
        return inv > 0 ? v * inv : v / p->threshold;
}

/* Warm-up: both the sample count and the data time must be reached. */
static inline bool detector_is_warm(const DetectorParams *p, uint64_t n, double elapsed) {
        return n >= p->derived.warmup_samples && elapsed >= p->derived.warmup_seconds;
}

extern const double detector_tail_table[][5];
double detector_tail_neglog10_slow(double z);

/* -log10 of the two-sided t(10) tail at |z| (z >= 0), and p. Below z = 16 a generated table of cubics
 * (error < 1e-8 in -log10 p; three multiply-adds); above it the exact series. This is on every sample's
 * path, and its latency (not its instruction count) is what limits throughput: the exponential for p is a
 * degree-5 Taylor polynomial evaluated in Estrin's form (two short chains instead of one long one; its
 * truncation error, 3e-9 relative, is far larger than the rounding differences between the two forms). */
static inline double tail_neglog10(double z, double *ret_p) {
        if (z < 16.0) {
                double u = z * 16.0;
                int i = (int) u;
                double s = u - i;
                const double *c = detector_tail_table[i];
                double f = c[0] + s * (c[1] + s * (c[2] + s * c[3]));
                /* p from the interval's left end: p = p_i * 10^-(f - f_i), with 0 <= f - f_i < 0.05. */
                double d = (f - c[0]) * -2.302585092994046, d2 = d * d;
                *ret_p = c[4] * ((1 + d) + d2 * ((0.5 + d * (1.0 / 6)) + d2 * (1.0 / 24 + d * (1.0 / 120))));
                return f;
        }
        double f = detector_tail_neglog10_slow(z);
        *ret_p = exp(-f * 2.302585092994046);
        return f;
}

/* Fill score and p of a verdict from a watched z: z as seen from the rule's direction (z when watching up,
 * -z down, |z| both), positive when it deviates in the watched direction. A deviation in the unwatched
 * direction is unremarkable (p = 1). Split from the decision (zz >= threshold) so that a kind can take the
 * decision early and leave this long chain of dependent operations for last, where it overlaps other work. */
static inline void verdict_score(double zz, Verdict *v) {
        if (!(zz > 0)) {
                v->p = 1;
                v->score = 0;
                return;
        }
        double f = tail_neglog10(zz, &v->p);
        v->score = f >= 16 ? 1 : f * (1.0 / 16);
}

/* Fill score and p of a verdict from a robust z and the rule's direction; returns whether |z| is past
 * threshold in the watched direction. A deviation in the unwatched direction is unremarkable (p = 1). The
 * same as verdict_score() of the watched z and the decision, in one piece (ewma's hot path, as tuned). */
static inline bool verdict_from_z(const DetectorParams *p, double z, Verdict *v) {
        double zz;
        switch (p->direction) {
        case DETECTOR_DIRECTION_UP:
                zz = z;
                break;
        case DETECTOR_DIRECTION_DOWN:
                zz = -z;
                break;
        default:
                zz = fabs(z);
        }
        if (!(zz > 0)) {
                v->p = 1;
                v->score = 0;
                return false;
        }
        double f = tail_neglog10(zz, &v->p);
        v->score = f >= 16 ? 1 : f * (1.0 / 16);
        return zz >= p->threshold;
}

/* ---- tail calibration ----
 *
 * Robust scales (mean absolute deviation of accepted residuals) describe the core of a series' noise, not
 * its tails: a latency with heavy-tailed noise, a gauge that dips to half every few hours or a quantized
 * counter would alarm on every blip at a fixed multiple of the core scale. So each z-score kind keeps a
 * histogram of |z| = |residual| / core sigma on a log grid (levels 2 * 1.5^j) with counts fading with a
 * half-life of a week, and periodically sets the alarm boundary k (in core sigmas) at the
 * quantile where a false alarm on normal data is as rare *in time* as a `threshold`-sigma Gaussian event
 * every 5 minutes: per-sample rarity alpha = 2 Q(threshold) * (sampling interval / 300 s). Where the data
 * has too few exceedances to see that quantile, it is extrapolated: the Student-t whose core sigma matches
 * the detector's and whose degrees of freedom best explain the whole histogram (binned maximum likelihood;
 * below TAIL_MIN_FIT samples, the prior's t(4)) supplies the quantile -- Gaussian noise gets a boundary near
 * the Gaussian quantile, t5 noise one about 2.3 times wider; tails heavier than t(1.5) (a far cluster of
 * recurring blips) fall back to a local power law. Levels the data shows (at least 3 times) to be exceeded
 * more often than alpha are always inside. Only samples after warm-up count (a young scale makes meaningless
 * z). k is never below the Gaussian quantile of alpha. A sample past the boundary counts when the sample
 * before it was calm (within 2 core sigmas) or none was past in the TAIL_QUIET samples before it; other
 * exceedances do not count in the TAIL_QUIET samples after one past the boundary, and of the exceedances
 * past the boundary at most one per TAIL_PAST_SPACING counts. So an isolated recurring blip, or a second
 * mode of the data, becomes normal after a handful spread over hours, while a sustained or wandering anomaly
 * counts once and a fault that recurs minutes apart keeps being caught: a service that degrades every few
 * minutes is still seen as degraded hours later (before, a x10 fault every 10 minutes was normal tail
 * after its third time: test_recurring_faults). The guards, not the detector, stop remediation from
 * looping. The verdict's sigma is then k/threshold core sigmas, so |z| >= threshold exactly when the
 * sample is past the boundary and the band shown to people is the alarm band. */

#define TAIL_LEVELS 12
/* Samples after one past the boundary during which nothing is counted: an anomaly that wanders back and
 * forth across the boundary (a noisy level shift) must not teach the tail. */
#define TAIL_QUIET 16
#define TAIL_RECAL_SAMPLES 256
/* Seconds within which only one exceedance past the boundary counts. */
#define TAIL_PAST_SPACING 3600.0

typedef struct TailCal {
        double checkpoint_t;       /* t of the last recalibration (NAN before) */
        float counts[TAIL_LEVELS]; /* faded counts of |z| in [2*1.5^j, 2*1.5^(j+1)) */
        float total;               /* faded count of all samples */
        float dt_mean;             /* typical sampling interval, seconds (0: unknown) */
        uint32_t n_checkpoint;     /* the kind's sample count at the last recalibration */
        double past_t;             /* t of the last counted exceedance past the boundary (NAN: none) */
} TailCal;

static inline void tail_init(TailCal *c) {
        memset(c, 0, sizeof(*c));
        c->checkpoint_t = NAN;
        c->past_t = NAN;
}

/* Count one exceedance |z| >= 2 (a one-sided statistic counts with weight 2, as the calibration assumes a
 * two-sided |z|; callers skip the common |z| < 2 case and samples that continue a run
 * past the boundary). */
static inline void tail_count_weighted(TailCal *c, double az, float weight) {
        double lv = 3.0;
        int j = 0;
        while (j < TAIL_LEVELS - 1 && az >= lv) {
                lv *= 1.5;
                j++;
        }
        c->counts[j] += weight;
}

static inline void tail_count(TailCal *c, double az) {
        tail_count_weighted(c, az, 1);
}

/* Field descriptions and load check of an embedded TailCal. */
#define TAIL_FIELDS(st, m)                                                            \
        { #m "_checkpoint_t", FIELD_F64, offsetof(st, m.checkpoint_t), 1 },           \
                { #m "_counts", FIELD_F32, offsetof(st, m.counts), TAIL_LEVELS },     \
                { #m "_total", FIELD_F32, offsetof(st, m.total), 1 },                 \
                { #m "_dt_mean", FIELD_F32, offsetof(st, m.dt_mean), 1 },             \
                { #m "_n_checkpoint", FIELD_U32, offsetof(st, m.n_checkpoint), 1 }, { \
#m "_past_t", FIELD_F64, offsetof(st, m.past_t), 1, 3                 \
        }

static inline int tail_check(const TailCal *c) {
        for (int j = 0; j < TAIL_LEVELS; j++)
                if (!(c->counts[j] >= 0) || !isfinite(c->counts[j]))
                        return -EBADMSG;
        if (!(c->total >= 0) || !isfinite(c->total) || !(c->dt_mean >= 0) || !isfinite(c->dt_mean) ||
            isinf(c->past_t))
                return -EBADMSG;
        return 0;
}

/* Whether an exceedance counts: one past the boundary counts when the sample before it was calm (within 2
 * core sigmas) -- a recurring isolated blip or a second mode of the data is learned, while a noisy level
 * shift (whose samples in between are displaced too) is not; one inside the boundary counts outside the
 * quiet period after a sample past it. */
static inline bool tail_counts_now(bool past, bool prev_calm, uint32_t quiet) {
        return past ? prev_calm || quiet == 0 : quiet == 0;
}

/* Whether an exceedance past the boundary at t may count (at most one per TAIL_PAST_SPACING); if so, it is
 * the one for this spacing. Exceedances inside the boundary are not limited: they calibrate it. */
static inline bool tail_claim_past(TailCal *c, double t) {
        if (t - c->past_t < TAIL_PAST_SPACING)
                return false;
        c->past_t = t;
        return true;
}

/* Whether a recalibration is due (for kinds that check at their periodic refit): when the sample count has
 * doubled since the last one (from 16 on), then every 4096 samples, and at least daily. A recalibration
 * costs a few microseconds. */
static inline bool tail_due(const TailCal *c, double t, uint32_t n) {
        uint32_t since = n - c->n_checkpoint;
        if (n < 16 || since == 0)
                return false;
        return n >= 2 * c->n_checkpoint || since >= 4096 || !(t - c->checkpoint_t < 86400);
}

/* Fold the samples since the last call (the kind's sample count is n) into the histogram and return the
 * new boundary k, in core sigmas. share is this test's part of the false-alarm budget (a kind that runs
 * several tests per sample splits it, so that together they keep the rate). */
float tail_recalibrate(TailCal *c, double t, double threshold, double share, uint32_t n);

/* The same for a single-sample test, whose sparse exceedances are recurring blips of one size (a daily cron
 * spike): a level that the data shows (TAIL_SEEN times) to be exceeded more often than alpha puts the
 * boundary past the top of that level's bin, not at its bottom -- there the blips themselves would be past
 * the boundary, one day in two. */
float tail_recalibrate_blips(TailCal *c, double t, double threshold, double share, uint32_t n);

/* Only the empirical part, for statistics that are not z-like (no fit, no Gaussian floor): the level above
 * the highest one the data shows (at least 3 times) to be exceeded more often than alpha, or 0. */
float tail_empirical(TailCal *c, double t, double threshold, double share, uint32_t n);

/* detector_state_save() in an older format version (>= the oldest one detector_state_load() reads): for
 * the tests of format migration. */
size_t detector_state_save_version(
        const DetectorParams *p, const void *state, void *buf, size_t buf_size, uint8_t version);

static inline void verdict_skipped(Verdict *v) {
        *v = (Verdict){ .score = 0, .p = 1, .expected = NAN, .lower = NAN, .upper = NAN };
}

/* Warm-up overrides: no score and no alarm, but the expectation is shown. */
static inline void verdict_warming(Verdict *v) {
        v->warming_up = true;
        v->anomalous = false;
        v->score = 0;
        v->p = 1;
}

/* c ? a : b on doubles and floats as bit masks, so that no branch depends on c (a comparison of noisy
 * values, a coin toss for the branch predictor). */
static inline double select_double(bool c, double a, double b) {
        uint64_t ua, ub, m = -(uint64_t) c, u;
        memcpy(&ua, &a, sizeof(ua));
        memcpy(&ub, &b, sizeof(ub));
        u = (ua & m) | (ub & ~m);
        memcpy(&a, &u, sizeof(a));
        return a;
}

static inline float select_float(bool c, float a, float b) {
        uint32_t ua, ub, m = -(uint32_t) c, u;
        memcpy(&ua, &a, sizeof(ua));
        memcpy(&ub, &b, sizeof(ub));
        u = (ua & m) | (ub & ~m);
        memcpy(&a, &u, sizeof(a));
        return a;
}

/* a > b ? a : b and a < b ? a : b, exactly (NaN and signed zeros included: the second operand wins), as one
 * instruction where there is one: compilers turn some of these into branches, and on noisy data those are a
 * coin toss for the branch predictor. */
static inline double max_sel(double a, double b) {
#ifdef __SSE2__
        return _mm_cvtsd_f64(_mm_max_sd(_mm_set_sd(a), _mm_set_sd(b)));
#else
        return a > b ? a : b;
#endif
}

static inline double min_sel(double a, double b) {
#ifdef __SSE2__
        return _mm_cvtsd_f64(_mm_min_sd(_mm_set_sd(a), _mm_set_sd(b)));
#else
        return a < b ? a : b;
#endif
}

/* v clipped to [-lim, lim] (lim >= 0; NaN stays NaN). Written as two selects that map exactly onto minsd and
 * maxsd (each returns its second operand when unordered), so that no branch depends on the data: whether a
 * residual is clipped is a coin toss on heavy-tailed data. Same results as v > lim ? lim : v < -lim ? -lim
 * : v. */
static inline double clamp_abs(double v, double lim) {
        double c = lim < v ? lim : v;
        return -lim > c ? -lim : c;
}

static inline float clampf_abs(double v, double lim) {
        return (float) clamp_abs(v, lim);
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * seasonal: the general-purpose default. A robust baseline that knows the daily and weekly rhythm.
 *
 * Model. Up to three candidate predictors run side by side, each with its own robust level and scale:
 *   flat    expected = L0                                 (level half-life 1 h: the fallback)
 *   daily   expected = L1 + D(phase of day)               (level half-life 30 min)
 *   weekly  expected = L2 + D(phase of day) + W(phase of week)   (with period [1w] alone: L2 + W)
 * D and W are seasonal profiles kept as fixed phase bins (daily: `resolution`, default 15 min, 96 bins;
 * weekly: max(resolution, 1 h), 168 bins), read with linear interpolation between bin centres except across
 * a step (neighbouring bins more than 3 core sigmas apart: a square daily edge). D is the average daily
 * shape, learned against a slow (12 h) de-seasonalized reference level; W is the week's deviation from it.
 * So the profiles learn the shape while the candidate levels follow drifts.
 *
 * Per sample (O(1), no GSL, no allocation): find the phases from local_t, predict with every candidate,
 * judge the sample with the active candidate, then learn: levels and scales by Huber-clipped time-decayed
 * updates that skip samples past the boundary, the profile bins of this phase by clipped running means, a
 * per-phase relative noise level (noise often follows load), and each candidate's out-of-sample error.
 *
 * Judging. Four statistical tests, each calibrated at a third of the false-alarm budget, since they are
 * three kinds of evidence: the sample itself (z = residual over the phase's core sigma) and a run test (the
 * smallest same-signed z of the last 3 samples: a shift or a spike of a few samples, at a level where one
 * sample would be unremarkable) judge the residuals at two lengths and count as one, a run being made of
 * samples that are large too; a shift chart (an exponentially weighted mean of the clipped z, about 6
 * samples of memory: a level shift too small for one sample) and a variance chart (the same of |z| minus its
 * long-run mean, about 20 samples: a burst of noise). Each has its own boundary from tail calibration
 * (detector-internal.h), so heavy tails, recurring blips and a model that is a little off for hours do not
 * alarm; the sample test's boundary also carries a guard against heavy tails (recalibrate()). A fifth test
 * needs no noise model: novelty, the median of the last 3 de-seasonalized values outside the envelope of
 * everything the series has done in the past weeks (by 3 % of its width at the default threshold, for 3
 * medians in a row), or the last two values beyond where two values in a row have been (by 20 %); at most
 * once a day on each side while an excursion goes on. It catches what the residual tests cannot see on
 * series whose noise is quantized, two-level, heavy-tailed or strongly autocorrelated: a move to where the
 * series has not been. The verdict
 * reports the most surprising test, scaled so that each boundary sits at |z| = threshold (Student-t(10)
 * score).
 *
 * Periodic refit (GSL's part): every hour of data time the active candidate is chosen; the daily profile is
 * refitted every 6 hours and the weekly one daily (hourly until they first fit): decay the bin weights
 * (profile half-life: 4 cycles), fit a weighted harmonic regression to the bins (6 harmonics per day, 5 per
 * week; normal equations solved with gsl_linalg_cholesky on stack matrices), shrink each bin towards that
 * fit in proportion to how little data it has (sparse bins and small gaps borrow from their neighbours),
 * and centre the profile. Tail calibrations run when the sample count has doubled, then every 4096 samples.
 *
 * Periods. With `period` unset the candidates compete: a profile becomes eligible once it is fitted (a full
 * cycle seen, no gap longer than 1/8 of the cycle) and has been evaluated out of sample for a day (daily) or
 * two days (weekly); the active candidate is the one with the smallest mean absolute prediction error (over
 * about 4 days, so that a weekly rhythm shows) after a complexity penalty (daily +5 %, weekly +10 %), with
 * 3 % hysteresis. So a series without rhythm stays flat, a daily one switches to daily after about two
 * days, a weekly one to weekly after about nine -- useful from the first hours (flat), better every cycle. A
 * configured period forces that candidate once its profile is fitted; until then the flat candidate answers.
 *
 * Robustness. Samples past the boundary teach neither the levels nor the (mature) profile bins. A lasting
 * change of level is re-learned in bounded samples and time: once 4 consecutive samples over at least 15
 * minutes have alarmed on one side (past a candidate's boundary, or for the active candidate a run, shift or
 * one-signed variance alarm), the shift is confirmed and the candidate's level jumps by their mean residual
 * (learn_level()). So the alarm of a lasting shift is short -- its onset is the news -- and still long
 * enough for a rule's `for:` of up to 15 minutes. Slower drifts: once a run of samples beyond 1 core sigma
 * on one side has lasted 3 hours (and 5 samples), every level jumps by the run's mean residual; a moderate
 * shift is followed by the levels (30 min half-life). A lasting change of variance widens the band step by
 * step. Core sigmas never fall below 2 % of the series' overall spread (noise-free series).
 *
 * Memory (default, period detection): an 840-byte header (levels, scales, charts, four tail histograms, the
 * novelty envelopes) and 4-byte floats per bin -- 5 per daily bin, 4 per weekly bin: 5 448 bytes per series.
 * [1d] alone: 2 760 bytes; [1w] alone: 3 528; the worst case (resolution 1m): 32 KB. Profile floats hold
 * deviations from the level, so their precision is relative to the seasonal amplitude, not to the level.
 *
 * Warm-up default: 2 hours and 24 samples.
 */
#include <errno.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#include "detector-internal.h"

#define DAY 86400.0
#define WEEK 604800.0

/* Arrays per bin: daily raw, weight, harmonic, relative scale, value; weekly raw, weight, harmonic, value. */
enum { A_RAW, A_W, A_HARM, A_REL, A_DVAL };
#define A_WVAL 3
#define D_ARRAYS 5
#define W_ARRAYS 4

#define LAYOUT_DAILY 1u
#define LAYOUT_WEEKLY 2u
#define LAYOUT_AUTO 4u

enum { M_FLAT, M_DAILY, M_WEEKLY, N_MODELS };

#define BOOT_SAMPLES 8
#define HUBER_C 2.0
#define RUN_SIGMA 1.0
#define RUN_MIN_SAMPLES 5
#define RELEARN_SECONDS (3 * 3600.0)
#define REFIT_SECONDS 3600.0
#define REFIT_DAILY_SECONDS (6 * 3600.0)
#define REFIT_WEEKLY_SECONDS (24 * 3600.0)

#define HALFLIFE_LEVEL_FLAT 3600.0
#define HALFLIFE_LEVEL_SEASONAL (1800.0)
#define HALFLIFE_REF (12 * 3600.0)
#define HALFLIFE_SCALE (6 * 3600.0)
#define HALFLIFE_ERR (4 * DAY) /* a week's rhythm shows in the candidates' errors before they are compared */
#define PROFILE_HALFLIFE_CYCLES 4.0
#define BIN_PRIOR_WEIGHT 2.0 /* how many samples the harmonic fit is worth in a bin */
#define BIN_MATURE_WEIGHT 3.0
#define BIN_SCALE_PRIOR 16.0 /* how many samples the global scale is worth in a bin's scale */
#define REL_SCALE_MAX 8.0
#define SPREAD_FLOOR 0.02
#define STEP_SIGMAS 3.0 /* neighbouring bins further apart than this many core sigmas are a step */
#define TEST_SHARE \
        (1.0 / 3) /* each test's part of the budget: three kinds of evidence (residuals, shift, variance) */
#define SAMPLE_RARITY 0.01 /* the heavy-tail guard of the sample test: see recalibrate() */
#define CHART_ALPHA 0.15   /* about 6 samples of memory */
#define VAR_ALPHA 0.05     /* the variance chart: about 20 samples (a burst lasts; a blip does not) */
#define CHART_CLIP 4.0     /* a single sample moves a chart by at most this many core sigmas */
#define MOMENT_ALPHA (1.0 / 2048)
#define RUN_LEN 3 /* the run test: every one of the last RUN_LEN samples beyond its level, on one side */
#define CONFIRM_SAMPLES 4     /* a shift is confirmed after this many alarming samples on one side ... */
#define CONFIRM_SECONDS 900.0 /* ... lasting at least this long */
#define NOVELTY_MARGIN 0.03   /* beyond the envelope by this fraction of its width ... */
#define NOVELTY_RUN 3         /* ... for this many medians in a row */
#define NOVELTY_PAIR 0.2      /* two samples beyond the pairs' envelope by this fraction of its width */
#define NOVELTY_HOLDOFF DAY   /* an excursion on one side that goes on alarms once in this time */
#define NOVELTY_WARMUP DAY    /* the envelope needs a daily cycle before it means anything */
#define NOVELTY_BULK_MADS 4.0 /* the envelope forgets down to the bulk: centre +- this many MADs */
#define HALFLIFE_NOVELTY (28 * DAY)
#define HALFLIFE_BULK DAY

#define HARMONICS_DAILY 6
#define HARMONICS_WEEKLY 5
#define HARMONICS_WEEKLY_ALONE 14
#define HARMONICS_MAX 14

static const double model_penalty[N_MODELS] = { 0, 0.05, 0.10 };
#define SWITCH_HYSTERESIS 0.97

enum {
        FLAG_DAILY_FIT = 1u << 0,
        FLAG_WEEKLY_FIT = 1u << 1,
        FLAG_CALM = 1u << 2,  /* the previous sample was within 2 core sigmas */
        FLAG_QUIET_SHIFT = 8, /* bits 8..15: samples left in the tail's quiet period (TAIL_QUIET) */
};

/* Indices of the per-sample exponential decays, all for the same dt: computed once per new dt. */
enum { DK_FLAT, DK_SEAS, DK_REF, DK_SCALE, DK_ERR, DK_NOVELTY, DK_BULK, N_DECAYS };

static const double decay_halflife[N_DECAYS] = {
        HALFLIFE_LEVEL_FLAT, HALFLIFE_LEVEL_SEASONAL, HALFLIFE_REF,  HALFLIFE_SCALE,
        HALFLIFE_ERR,        HALFLIFE_NOVELTY,        HALFLIFE_BULK,
};

typedef struct Chart {
        float m;        /* the exponentially weighted statistic */
        float k;        /* boundary, in the statistic's own core sigmas */
        uint32_t quiet; /* tail quiet period left */
        float scale; /* the statistic's own mean absolute value (long memory), when not past the boundary */
        TailCal tail;
} Chart;

/* Field descriptions of an embedded Chart (names "<c>.m", "<c>.k", ...). */
#define CHART_FIELDS(st, c)                                                                  \
        FIELD(st, c.m, FIELD_F32), FIELD(st, c.k, FIELD_F32), FIELD(st, c.quiet, FIELD_U32), \
                FIELD(st, c.scale, FIELD_F32), TAIL_FIELDS(st, c.tail)

typedef struct SeasonalState {
        double last_t;
        double first_t;
        double next_refit;   /* data time of the next refit */
        double last_refit_d; /* last refit of the daily profile */
        double last_refit_w; /* ... and of the weekly one */
        double cache_dt;
        double cache_decay[N_DECAYS];
        double level[N_MODELS];
        double ref;                 /* slow de-seasonalized level the profiles are learned against */
        double err_since[N_MODELS]; /* data time since which a candidate has been evaluated (NAN: not yet) */
        float level_w[N_MODELS];
        float scale[N_MODELS]; /* mean absolute residual per candidate */
        float scale_w[N_MODELS];
        float err[N_MODELS]; /* out-of-sample mean absolute error (clipped) per candidate */
        float err_w[N_MODELS];
        float ref_w;
        float spread_level,
                spread; /* slow mean of x and mean absolute deviation from it: the floor of sigma */
        float run_time, run_sum;
        int32_t run;
        uint32_t n;
        uint32_t active;
        uint32_t flags;
        float k; /* alarm boundary in core sigmas (tail calibration) */
        TailCal tail;
        /* Short-memory control charts on the active candidate's clipped z: the shift chart averages z
         * (a level shift too small for any one sample), the variance chart averages |z| - its long-run
         * mean (a burst of noise). Each has its own calibrated boundary. */
        float abs_mean, sq_mean; /* long-run E|zc| and E zc^2 (clipped) */
        Chart shift, var;
        /* The run test: the smallest same-signed z (core sigmas) of the last RUN_LEN samples, times
         * sqrt(RUN_LEN); its calibrated boundary and tail histogram. */
        float run_k;
        uint32_t run_quiet;
        float zprev[RUN_LEN - 1]; /* the previous samples' z, newest first */
        TailCal run_tail;
        /* Confirmation of a lasting shift, per candidate: consecutive alarming samples on one side (+/-),
         * how long they have lasted and the sum of their residuals. */
        int32_t conf[N_MODELS];
        float conf_time[N_MODELS], conf_sum[N_MODELS];
        /* The novelty test, per candidate (each removes its own seasonal part, so that a change of the
         * active one is no novelty): the envelope [nov_lo, nov_hi] of the de-seasonalized value (median of
         * the last three samples), widened at once by every new extreme and slowly forgetting down to the
         * bulk, nov_mid +- NOVELTY_BULK_MADS nov_mad (a day's mean and mean absolute deviation). */
        double nov_hi[N_MODELS], nov_lo[N_MODELS], nov_mid[N_MODELS], nov_mad[N_MODELS];
        double pair_hi[N_MODELS],
                pair_lo[N_MODELS];       /* the envelope of where two samples in a row have been */
        double nov_pend_hi, nov_pend_lo; /* the active candidate's pending excursion beyond its envelope */
        int32_t nov_run;                 /* ... its consecutive novel medians on one side (+/-) */
        double nov_alarm_t[2];           /* the last novel excursions' data times, above/below (NAN: none) */
        float yprev[N_MODELS][2];        /* the previous two de-seasonalized values, newest first */
        /* then: daily arrays d_raw, d_w, d_harm, d_rel, d_val (bins_d floats each), weekly arrays w_raw,
         * w_w, w_harm, w_val (bins_w each); *_val is the bin's value (raw shrunk towards the harmonic fit),
         * kept up to date so that a lookup needs no division */
} SeasonalState;

static inline float *arr_d(const DetectorParams *p, SeasonalState *s, unsigned which) {
        return (float *) (s + 1) + (size_t) which * p->derived.bins_d;
}

static inline float *arr_w(const DetectorParams *p, SeasonalState *s, unsigned which) {
        return (float *) (s + 1) + D_ARRAYS * (size_t) p->derived.bins_d + (size_t) which * p->derived.bins_w;
}

static int seasonal_prepare(DetectorParams *p) {
        bool daily = false, weekly = false;
        unsigned layout = 0;

        for (size_t i = 0; i < p->n_periods; i++) {
                if (feq(p->periods_seconds[i], DAY))
                        daily = true;
                else
                        weekly = true;
        }
        if (p->n_periods == 0) {
                daily = weekly = true;
                layout |= LAYOUT_AUTO;
        }
        double res = p->resolution_seconds > 0 ? p->resolution_seconds : 900;
        if (daily) {
                layout |= LAYOUT_DAILY;
                p->derived.res_d = res;
                /* Two divisions per sample less (the same correctly rounded double as 1 / res then). */
                p->derived.inv_res_d = 1 / res;
                p->derived.bins_d = (uint32_t) ceil(DAY / res);
        }
        if (weekly) {
                layout |= LAYOUT_WEEKLY;
                double rw = daily ? MAX(res, 3600.0) : (p->resolution_seconds > 0 ? MAX(res, 300.0) : 3600.0);
                p->derived.res_w = rw;
                p->derived.inv_res_w = 1 / rw;
                p->derived.bins_w = (uint32_t) ceil(WEEK / rw);
        }
        p->derived.seasonal_layout = layout;
        /* Per rule, not per sample (the same expressions, so the same doubles). */
        double margin = NOVELTY_MARGIN * p->threshold / 4, pmargin = NOVELTY_PAIR * p->threshold / 4;
        p->derived.nov_margin = margin;
        p->derived.nov_zscale = p->threshold / margin;
        p->derived.pair_margin = pmargin;
        p->derived.pair_zscale = p->threshold / pmargin;
        p->derived.state_size = sizeof(SeasonalState) +
                sizeof(float) * (D_ARRAYS * p->derived.bins_d + W_ARRAYS * p->derived.bins_w);
        p->derived.warmup_samples = 24;
        p->derived.warmup_seconds = 2 * 3600;
        return 0;
}

static void chart_init(Chart *c) {
        memset(c, 0, sizeof(*c));
        tail_init(&c->tail);
}

static void seasonal_init(const DetectorParams *p, void *state) {
        SeasonalState *s = state;
        s->last_t = NAN;
        s->cache_dt = NAN;
        s->nov_alarm_t[0] = s->nov_alarm_t[1] = NAN;
        for (size_t m = 0; m < N_MODELS; m++)
                s->err_since[m] = NAN;
        tail_init(&s->tail);
        chart_init(&s->shift);
        chart_init(&s->var);
        tail_init(&s->run_tail);
        s->abs_mean = (float) (1 / MAD_TO_SIGMA);
        s->sq_mean = 1;
        float *rel = arr_d(p, s, A_REL);
        for (uint32_t b = 0; b < p->derived.bins_d; b++)
                rel[b] = 1;
}

/* floor() without a libm call (the baseline x86-64 has no rounding instruction); |v| < 2^62. */
static inline int64_t floor_i64(double v) {
        int64_t i = (int64_t) v;
        return i - (v < (double) i);
}

/* v, computed out of line: on a path that is practically never taken, this keeps the compiler from turning
 * the branch into a select. A correctly predicted branch costs nothing, while a select makes every sample
 * wait for the comparison's inputs: on the way from a sample to its z, that latency is the update's time. */
__attribute__((noinline, cold)) static double rare_path(double v) {
        return v;
}

/* sigma_floor() as a branch, not a select: the floor practically never applies, and as a select it would put
 * the whole chain that computes the prediction in front of every division by the sigma. */
static inline double sigma_floor_br(double sigma, double level) {
        double f = 1e-9 * fabs(level) + 1e-300;
        if (_likely_(sigma > f))
                return sigma;
        return rare_path(f);
}

/* (double) floor_i64(v), without the round trip through an integer register (three conversions in a row on
 * the way from a sample's time to its profile): rounding to an integer by adding and subtracting 1.5 * 2^52
 * is exact below 2^51, and a comparison mask takes 1 off where that rounded up. */
static inline double floor_d(double v) {
#ifdef __SSE2__
        if (_likely_(fabs(v) < 0x1p51)) {
                __m128d x = _mm_set_sd(v), big = _mm_set_sd(0x1.8p52);
                __m128d r = _mm_sub_sd(_mm_add_sd(x, big), big);
                r = _mm_sub_sd(r, _mm_and_pd(_mm_cmpgt_sd(r, x), _mm_set_sd(1.0)));
                return _mm_cvtsd_f64(r);
        }
#endif
        return (double) floor_i64(v);
}

/* Phase position in bins: [0, bins). */
static inline double phase_bins(double local_t, double period, double inv_res) {
        double ph = local_t - floor_d(local_t * (1 / period)) * period;
        if (_unlikely_(ph < 0)) /* rounding at a period boundary */
                ph = rare_path(0);
        return ph * inv_res;
}

/* A bin's value: its own running mean, shrunk towards the harmonic fit in proportion to how little data it
 * has. */
static inline double bin_value_of(float raw, float w, float harm) {
        double wb = w;
        return (wb * raw + BIN_PRIOR_WEIGHT * harm) / (wb + BIN_PRIOR_WEIGHT);
}

static inline double bin_value(const float *raw, const float *w, const float *harm, uint32_t b) {
        return bin_value_of(raw[b], w[b], harm[b]);
}

/* The profile at a phase position: linear between bin centres (circular), except across a step (neighbours
 * further apart than `step`), where the sample's own bin answers -- interpolating a square edge would be
 * wrong on both sides of it every day. */
static inline double profile_between(const float *val, uint32_t a, uint32_t b, double frac, double step) {
        double d = val[b] - val[a];
        if (fabs(d) > step)
                return frac < 0.5 ? val[a] : val[b];
        return val[a] + frac * d;
}

static inline double profile_at(const float *val, uint32_t bins, double u, double step) {
        double v = u - 0.5;
        /* The common case first, on a short chain to the loads: v >= 0 truncates to its floor, and the two
         * bins need no wrapping. */
        int64_t i0 = (int64_t) v;
        if (_likely_(v >= 0 && i0 < (int64_t) bins - 1))
                return profile_between(val, (uint32_t) i0, (uint32_t) i0 + 1, v - (double) i0, step);
        i0 = floor_i64(v);
        double frac = v - (double) i0;
        /* i0 is in [-1, bins]: u is below bins but for the rounding of a phase at the very end of a cycle. */
        if (i0 < 0)
                i0 += bins;
        uint32_t a = (uint32_t) i0 < bins ? (uint32_t) i0 : (uint32_t) i0 - bins,
                 b = a + 1 == bins ? 0 : a + 1;
        return profile_between(val, a, b, frac, step);
}

__attribute__((noinline, cold)) static uint32_t rare_path_u32(uint32_t v) {
        return v;
}

static inline uint32_t bin_of(double u, uint32_t bins) {
        uint32_t b = (uint32_t) u;
        return _likely_(b < bins) ? b : rare_path_u32(bins - 1);
}

/* ---- refit ---- */

/* Longest circular run of bins without data, as a fraction of the cycle. */
static double longest_gap(const float *w, uint32_t bins) {
        uint32_t best = 0, cur = 0, first = 0;
        bool any = false, in_first = true;
        for (uint32_t i = 0; i < bins; i++) {
                if (w[i] > 0) {
                        any = true;
                        if (in_first) {
                                first = cur;
                                in_first = false;
                        }
                        best = MAX(best, cur);
                        cur = 0;
                } else
                        cur++;
        }
        if (!any)
                return 1;
        best = MAX(best, cur + first); /* the run that wraps around */
        return (double) best / bins;
}

/* Weighted harmonic regression of raw[] (weights w[]) with `harmonics` harmonics; writes the fitted curve
 * into out[]. Returns 0, or a negative errno if the system could not be solved (the caller keeps the
 * previous fit). */
static int harmonic_fit(const float *raw, const float *w, uint32_t bins, unsigned harmonics, float *out) {
        enum { P_MAX = 2 * HARMONICS_MAX + 1 };
        double ata[P_MAX * P_MAX] = {}, atb[P_MAX] = {}, beta[P_MAX], phi[P_MAX];
        size_t np = 2 * harmonics + 1;

        /* cos and sin of the bin centres by rotation: one sincos per refit instead of one per bin. */
        double step = 2 * M_PI / bins, rc = cos(step), rs = sin(step);
        double c1 = cos(step / 2), s1 = sin(step / 2);
        for (uint32_t b = 0; b < bins; b++) {
                double wb = w[b];
                if (b > 0) {
                        double cn = c1 * rc - s1 * rs;
                        s1 = s1 * rc + c1 * rs;
                        c1 = cn;
                }
                if (!(wb > 0))
                        continue;
                double c = 1, s = 0;
                phi[0] = 1;
                for (unsigned j = 1; j <= harmonics; j++) {
                        double cn = c * c1 - s * s1, sn = s * c1 + c * s1;
                        c = cn, s = sn;
                        phi[2 * j - 1] = c;
                        phi[2 * j] = s;
                }
                for (size_t i = 0; i < np; i++) {
                        double wi = wb * phi[i];
                        atb[i] += wi * raw[b];
                        for (size_t k = 0; k <= i; k++)
                                ata[i * np + k] += wi * phi[k];
                }
        }
        double trace = 0;
        for (size_t i = 0; i < np; i++) {
                for (size_t k = 0; k < i; k++)
                        ata[k * np + i] = ata[i * np + k];
                trace += ata[i * np + i];
        }
        if (!(trace > 0))
                return -EDOM;
        /* A small ridge keeps the system positive definite when some phases have no data. */
        double ridge = 1e-6 * trace / np + 1e-12;
        for (size_t i = 0; i < np; i++)
                ata[i * np + i] += ridge;

        gsl_matrix_view A = gsl_matrix_view_array(ata, np, np);
        gsl_vector_view B = gsl_vector_view_array(atb, np), X = gsl_vector_view_array(beta, np);
        if (gsl_linalg_cholesky_decomp1(&A.matrix) != GSL_SUCCESS ||
            gsl_linalg_cholesky_solve(&A.matrix, &B.vector, &X.vector) != GSL_SUCCESS)
                return -EDOM;

        c1 = cos(step / 2), s1 = sin(step / 2);
        for (uint32_t b = 0; b < bins; b++) {
                if (b > 0) {
                        double cn = c1 * rc - s1 * rs;
                        s1 = s1 * rc + c1 * rs;
                        c1 = cn;
                }
                double c = 1, s = 0, v = beta[0];
                for (unsigned j = 1; j <= harmonics; j++) {
                        double cn = c * c1 - s * s1, sn = s * c1 + c * s1;
                        c = cn, s = sn;
                        v += beta[2 * j - 1] * c + beta[2 * j] * s;
                }
                out[b] = (float) v;
        }
        return 0;
}

/* Refit one profile: decay the bin weights, check coverage, fit the harmonic curve, centre. Returns the mean
 * removed (to be added to the levels), or NAN if the profile is not usable (yet). */
static double refit_profile(
        float *raw,
        float *w,
        float *harm,
        float *val,
        uint32_t bins,
        unsigned harmonics,
        double decay,
        double span,
        double period) {
        double mean = NAN;
        for (uint32_t b = 0; b < bins; b++)
                w[b] = (float) (w[b] * decay);
        if (span >= period && longest_gap(w, bins) <= 1.0 / 8 &&
            harmonic_fit(raw, w, bins, harmonics, harm) >= 0) {
                mean = 0;
                for (uint32_t b = 0; b < bins; b++)
                        mean += bin_value(raw, w, harm, b);
                mean /= bins;
                for (uint32_t b = 0; b < bins; b++) {
                        harm[b] = (float) (harm[b] - mean);
                        raw[b] = (float) (raw[b] - mean);
                }
        }
        for (uint32_t b = 0; b < bins; b++)
                val[b] = (float) bin_value(raw, w, harm, b);
        return mean;
}

static void refit(const DetectorParams *p, SeasonalState *s, double t) {
        unsigned layout = p->derived.seasonal_layout;
        double span = t - s->first_t;

        /* Profiles are refitted rarely (their bins learn on every sample); an unfitted one is retried hourly. */
        if ((layout & LAYOUT_DAILY) &&
            t - s->last_refit_d >= ((s->flags & FLAG_DAILY_FIT) ? REFIT_DAILY_SECONDS : REFIT_SECONDS)) {
                double decay = exp(-(t - s->last_refit_d) * M_LN2 / (PROFILE_HALFLIFE_CYCLES * DAY));
                s->last_refit_d = t;
                double mu = refit_profile(
                        arr_d(p, s, A_RAW),
                        arr_d(p, s, A_W),
                        arr_d(p, s, A_HARM),
                        arr_d(p, s, A_DVAL),
                        p->derived.bins_d,
                        HARMONICS_DAILY,
                        decay,
                        span,
                        DAY);
                if (isnan(mu)) {
                        if (!(s->flags & FLAG_DAILY_FIT))
                                memset(arr_d(p, s, A_HARM), 0, sizeof(float) * p->derived.bins_d);
                } else {
                        s->flags |= FLAG_DAILY_FIT;
                        s->ref += mu;
                        s->level[M_DAILY] += mu;
                        s->level[M_WEEKLY] += mu;
                        if (isnan(s->err_since[M_DAILY]))
                                s->err_since[M_DAILY] = t;
                }
        }
        if ((layout & LAYOUT_WEEKLY) &&
            t - s->last_refit_w >= ((s->flags & FLAG_WEEKLY_FIT) ? REFIT_WEEKLY_SECONDS : REFIT_SECONDS)) {
                double decay = exp(-(t - s->last_refit_w) * M_LN2 / (PROFILE_HALFLIFE_CYCLES * WEEK));
                s->last_refit_w = t;
                unsigned h = (layout & LAYOUT_DAILY) ? HARMONICS_WEEKLY : HARMONICS_WEEKLY_ALONE;
                double mu = refit_profile(
                        arr_w(p, s, A_RAW),
                        arr_w(p, s, A_W),
                        arr_w(p, s, A_HARM),
                        arr_w(p, s, A_WVAL),
                        p->derived.bins_w,
                        h,
                        decay,
                        span,
                        WEEK);
                if (isnan(mu)) {
                        if (!(s->flags & FLAG_WEEKLY_FIT))
                                memset(arr_w(p, s, A_HARM), 0, sizeof(float) * p->derived.bins_w);
                } else {
                        bool first = !(s->flags & FLAG_WEEKLY_FIT);
                        s->flags |= FLAG_WEEKLY_FIT;
                        s->ref += mu;
                        /* The weekly candidate starts from the daily one's level when it becomes available. */
                        if (first && (layout & LAYOUT_DAILY))
                                s->level[M_WEEKLY] = s->level[M_DAILY] + mu;
                        else
                                s->level[M_WEEKLY] += mu;
                        /* With a daily profile in the model, the weekly candidate waits for it. */
                        if (isnan(s->err_since[M_WEEKLY]) &&
                            (!(layout & LAYOUT_DAILY) || (s->flags & FLAG_DAILY_FIT)))
                                s->err_since[M_WEEKLY] = t;
                }
        }

        /* Choose the active candidate (a pending novelty excursion was the old one's). */
        unsigned was = s->active;
        bool d_ok = s->flags & FLAG_DAILY_FIT;
        bool w_ok = (s->flags & FLAG_WEEKLY_FIT) && (!(layout & LAYOUT_DAILY) || d_ok);
        if (!(layout & LAYOUT_AUTO)) {
                if (layout & LAYOUT_WEEKLY)
                        s->active = w_ok ? M_WEEKLY : (layout & LAYOUT_DAILY) && d_ok ? M_DAILY : M_FLAT;
                else
                        s->active = d_ok ? M_DAILY : M_FLAT;
        } else {
                bool eligible[N_MODELS] = {
                        true,
                        d_ok && t - s->err_since[M_DAILY] >= DAY,
                        w_ok && t - s->err_since[M_WEEKLY] >= 2 * DAY,
                };
                if (!eligible[s->active])
                        s->active = M_FLAT;
                uint32_t best = s->active;
                double best_cost = s->err[best] * (1 + model_penalty[best]);
                for (uint32_t m = 0; m < N_MODELS; m++) {
                        double cost = s->err[m] * (1 + model_penalty[m]);
                        if (eligible[m] && m != s->active && cost < best_cost * SWITCH_HYSTERESIS) {
                                best = m;
                                best_cost = cost;
                        }
                }
                s->active = best;
        }
        if (s->active != was)
                s->nov_run = 0;
        s->next_refit = t + REFIT_SECONDS;
}

/* Recalibrate the four tests' boundaries. The sample test carries a guard against heavy tails: its boundary
 * is at least the one for a SAMPLE_RARITY times rarer event, divided by the ratio of those two quantiles for
 * Gaussian noise. For Gaussian noise the guard is inert (a 5-sigma spike still alarms); for heavy tails,
 * whose extrapolation beyond the data is the least certain part of the calibration and whose quantiles
 * spread far apart, the boundary moves out: one sample of a latency with heavy-tailed noise must be far out
 * to page, while a real spike of a few samples is the run test's (whose boundary needs no extrapolation). */
static void recalibrate(const DetectorParams *p, SeasonalState *s, double t) {
        TailCal rare = s->tail;
        s->k = tail_recalibrate_blips(&s->tail, t, p->threshold, TEST_SHARE, s->n);
        float k_rare = tail_recalibrate_blips(&rare, t, p->threshold, TEST_SHARE * SAMPLE_RARITY, s->n);
        /* The per-sample rarity alpha that tail_recalibrate() aims at, from the same sampling interval and
         * within the same bounds (a threshold of hundreds of sigmas underflows erfc()). */
        double interval = s->tail.dt_mean > 0 ? s->tail.dt_mean : 300;
        double alpha = TEST_SHARE * erfc(p->threshold / M_SQRT2) * CLAMP(interval / 300, 1.0 / 3600, 12.0);
        alpha = CLAMP(alpha, 1e-300 / SAMPLE_RARITY, 0.5);
        double ratio = gsl_cdf_ugaussian_Qinv(alpha * SAMPLE_RARITY / 2) / gsl_cdf_ugaussian_Qinv(alpha / 2);
        if (ratio > 0 && isfinite(ratio))
                s->k = (float) MAX(s->k, k_rare / ratio);
        s->shift.k = tail_recalibrate(&s->shift.tail, t, p->threshold, TEST_SHARE, s->n);
        s->var.k = tail_recalibrate(&s->var.tail, t, p->threshold, TEST_SHARE, s->n);
        s->run_k = tail_recalibrate(&s->run_tail, t, p->threshold, TEST_SHARE, s->n);
}

/* ---- per sample ---- */

/* The rule's direction (up, down or both: detector_params_prepare() accepts nothing else), decoded once per
 * sample: every test asks it. */
typedef struct Watch {
        bool both;   /* direction both: every deviation is watched */
        double sign; /* +1 up, -1 down: z * sign > 0 is the watched side */
} Watch;

static inline Watch watch_of(DetectorDirection d) {
        return (Watch){ d == DETECTOR_DIRECTION_BOTH, d == DETECTOR_DIRECTION_UP ? 1.0 : -1.0 };
}

/* Both without a branch on z: bitwise operators on the comparisons, not && and ||. */
static inline bool chart_watched(double z, Watch w) {
        return w.both | (z * w.sign > 0);
}

static inline bool chart_past(const Chart *c, double z, Watch w) {
        return chart_watched(z, w) & (fabs(z) >= c->k);
}

static inline void chart_count(Chart *c, double t, double az, bool past, bool warm, float weight) {
        if (az >= 2 && c->quiet == 0 && warm && (!past || tail_claim_past(&c->tail, t)))
                tail_count_weighted(&c->tail, az, weight);
        c->quiet = past ? TAIL_QUIET : c->quiet > 0 ? c->quiet - 1 : 0;
}

/* The rate of a time-decayed average for this sample: 1 - e^(-dt/halflife) once the average has seen
 * enough samples, a plain running mean before that (so the first samples are not underweighted); counts the
 * sample. A gap gives the new sample more weight, as it should. */
static inline double ew_rate(float *count, double one_minus_decay) {
        double c = *count + 1;
        if (c < 1e6)
                *count = (float) c;
        /* A branch, not a select: the running mean is over after the first few thousand samples, and as a
         * select the division (the slowest operation here) would run on every one. */
        if (_unlikely_(c * one_minus_decay < 1))
                return rare_path(1 / c);
        return one_minus_decay;
}

/* Learn candidate m's level and global core scale from its residual r, unless r is past its boundary (k core
 * sigmas). Levels and scales use decayed sample weights (the weight behind an average halves every
 * half-life): after a gap the old estimate still counts for what it was worth, which a plain exponential
 * average would forget at once. a_* are 1 - decay factors.
 *
 * Samples past the boundary teach nothing (anomalies must not drag the baseline), so a lasting change of
 * level needs an explicit rule: once CONFIRM_SAMPLES consecutive samples have alarmed on one side over at
 * least CONFIRM_SECONDS, the shift is confirmed and the level jumps by their mean residual (for the active
 * candidate an alarm of the run or shift test counts too, and one of the variance test with the residual's
 * sign: a shift shows there first, while a burst of noise changes sign and is not confirmed; alarm_side).
 * The alarm of a lasting shift thus ends after a bounded number of samples *and* a bounded time: 15 minutes
 * (4 samples at 5-minute sampling) -- long enough for a rule's `for:` of up to 15 minutes to fire, short
 * enough that the new normal is not reported for hours. Confirming the active seasonal candidate moves the
 * reference level of the profiles too; a flat candidate's confirmations do not (on a rhythmic series they
 * follow the rhythm). */
static inline void learn_level(
        SeasonalState *s,
        unsigned m,
        double r,
        double core,
        double a_level,
        double a_scale,
        bool robust,
        double k,
        int alarm_side,
        double dt) {
        double wl = s->level_w[m] * (1 - a_level) + 1, ws = s->scale_w[m] * (1 - a_scale) + 1;
        bool past = robust && fabs(r) >= k * core;
        if (!robust) {
                s->level[m] += r / wl;
                s->scale[m] += (float) ((fabs(r) - s->scale[m]) / ws);
        } else if (!past) {
                s->level[m] += clamp_abs(r, HUBER_C * core) / wl;
                s->scale[m] += (float) ((fabs(r) - s->scale[m]) / ws);
        } else {
                wl -= 1;
                ws -= 1;
        }
        s->level_w[m] = (float) wl;
        s->scale_w[m] = (float) ws;

        int side = past ? (r > 0 ? 1 : -1) : alarm_side;
        if (side == 0 || s->conf[m] == 0 || (s->conf[m] > 0) != (side > 0)) {
                s->conf[m] = side;
                s->conf_time[m] = 0;
                s->conf_sum[m] = (float) r;
                return;
        }
        s->conf[m] += side;
        s->conf_time[m] += (float) dt;
        s->conf_sum[m] += (float) r;
        uint32_t len = (uint32_t) abs(s->conf[m]);
        if (len < CONFIRM_SAMPLES || s->conf_time[m] < CONFIRM_SECONDS)
                return;
        double shift = s->conf_sum[m] / len;
        s->level[m] += shift;
        s->level_w[m] = MIN(s->level_w[m], (float) len);
        if (m == s->active) {
                if (m != M_FLAT) {
                        s->ref += shift;
                        s->ref_w = MIN(s->ref_w, (float) len);
                }
                s->run = 0;
                s->shift.m = s->var.m = 0; /* the charts' memory is of the old level */
        }
        s->conf[m] = 0;
}

static inline void
        learn_bin(float *raw, float *w, const float *harm, float *val, uint32_t b, double u, double clip) {
        double wb = w[b] + 1;
        double dev = u - raw[b];
        if (w[b] >= BIN_MATURE_WEIGHT && fabs(dev) >= clip * 2)
                return; /* an outlier for a bin that knows its value */
        /* From the new values, not from memory: the arrays might alias as far as the compiler knows, and a
         * store and reload would lengthen the chain from this sample to the next one's profile. */
        float nraw = (float) (raw[b] + clamp_abs(dev, clip) / wb), nw = (float) wb;
        raw[b] = nraw;
        w[b] = nw;
        val[b] = (float) bin_value_of(nraw, nw, harm[b]);
}

int detector_seasonal_update(const DetectorParams *p, void *state, const DetectorSample *sample, Verdict *v) {
        SeasonalState *s = state;
        unsigned layout = p->derived.seasonal_layout;
        Watch watch = watch_of(p->direction);
        double x = sample->x, t = sample->t, lt = sample->local_t;

        /* The sum is finite when all three are but for an overflow, which the exact test then rules out:
         * one test on the common path instead of three. */
        if (_unlikely_(!isfinite(x + t + lt)) && (!isfinite(x) || !isfinite(t) || !isfinite(lt))) {
                verdict_skipped(v);
                return DETECTOR_SKIPPED_NONFINITE;
        }
        if (_unlikely_(s->n > 0 && !(t > s->last_t))) {
                verdict_skipped(v);
                return DETECTOR_SKIPPED_OUT_OF_ORDER;
        }

        double ud = 0, uw = 0, dval = 0, wval = 0;
        double step_d = STEP_SIGMAS * MAX(s->scale[M_DAILY] * MAD_TO_SIGMA, SPREAD_FLOOR * s->spread),
               step_w = STEP_SIGMAS * MAX(s->scale[M_WEEKLY] * MAD_TO_SIGMA, SPREAD_FLOOR * s->spread);
        if (layout & LAYOUT_DAILY) {
                ud = phase_bins(lt, DAY, p->derived.inv_res_d);
                if (s->flags & FLAG_DAILY_FIT)
                        dval = profile_at(arr_d(p, s, A_DVAL), p->derived.bins_d, ud, step_d);
        }
        if (layout & LAYOUT_WEEKLY) {
                uw = phase_bins(lt + 3 * DAY, WEEK, p->derived.inv_res_w); /* weeks start on Monday */
                if (s->flags & FLAG_WEEKLY_FIT)
                        wval = profile_at(arr_w(p, s, A_WVAL), p->derived.bins_w, uw, step_w);
        }
        double dpart = (layout & LAYOUT_DAILY) ? dval : 0;

        if (_unlikely_(s->n == 0)) {
                for (unsigned m = 0; m < N_MODELS; m++) {
                        s->level[m] = x;
                        s->level_w[m] = 1;
                        s->scale_w[m] = 1;
                }
                s->ref = x;
                s->ref_w = 1;
                s->spread_level = (float) x;
                s->first_t = s->last_t = s->last_refit_d = s->last_refit_w = t;
                s->next_refit = t + REFIT_SECONDS;
                s->n = 1;
                s->k = tail_recalibrate(&s->tail, t, p->threshold, TEST_SHARE, 1);
                s->shift.k = tail_recalibrate(&s->shift.tail, t, p->threshold, TEST_SHARE, 1);
                s->var.k = tail_recalibrate(&s->var.tail, t, p->threshold, TEST_SHARE, 1);
                s->run_k = tail_recalibrate(&s->run_tail, t, p->threshold, TEST_SHARE, 1);
                for (unsigned m = 0; m < N_MODELS; m++) {
                        s->nov_hi[m] = s->nov_lo[m] = s->nov_mid[m] = x;
                        s->pair_hi[m] = s->pair_lo[m] = x;
                        s->yprev[m][0] = s->yprev[m][1] = (float) x;
                }
                verdict_skipped(v);
                verdict_warming(v);
                return DETECTOR_OK;
        }

        double dt = t - s->last_t;
        if (!feq(dt, s->cache_dt)) {
                s->cache_dt = dt;
                for (unsigned k = 0; k < N_DECAYS; k++)
                        s->cache_decay[k] = -expm1(-dt * M_LN2 / decay_halflife[k]); /* 1 - decay */
        }
        const double *dk = s->cache_decay;

        double pred[N_MODELS] = {
                s->level[M_FLAT],
                s->level[M_DAILY] + dval,
                s->level[M_WEEKLY] + dpart + wval,
        };
        /* Core sigmas never go below SPREAD_FLOOR of the series' overall spread: a noise-free series must
         * not make rounding-size deviations infinitely surprising (nor stop learning for fear of them). */
        double floor_spread = SPREAD_FLOOR * s->spread;
        double core[N_MODELS];
        for (unsigned m = 0; m < N_MODELS; m++)
                core[m] = sigma_floor_br(MAX(s->scale[m] * MAD_TO_SIGMA, floor_spread), pred[m]);

        /* The active candidate's core sigma at this phase: with a daily profile, scaled by the phase's
         * relative noise level (noise often follows load), shrunk towards 1 while the bin has little data. */
        unsigned a = s->active;
        uint32_t bd = (layout & LAYOUT_DAILY) ? bin_of(ud, p->derived.bins_d) : 0;
        double core_a = core[a];
        if (a != M_FLAT && (layout & LAYOUT_DAILY)) {
                double wb = arr_d(p, s, A_W)[bd], rb = arr_d(p, s, A_REL)[bd];
                double sc = core[a] * (wb * rb + BIN_SCALE_PRIOR) / (wb + BIN_SCALE_PRIOR);
                /* MAX(sc, floor_spread), on the longest chain to z: as a branch (see rare_path()). */
                core_a = sigma_floor_br(_likely_(sc > floor_spread) ? sc : rare_path(floor_spread), pred[a]);
        }
        double sigma = div_threshold(p, core_a * s->k);
        double r = x - pred[a], z = r / sigma, zc = r / core_a, azc = fabs(zc);
        bool past = azc >= s->k;
        bool robust = s->n >= BOOT_SAMPLES;

        /* The charts. */
        double zcc = _likely_(fabs(zc) <= CHART_CLIP) ? zc : rare_path(clamp_abs(zc, CHART_CLIP));
        /* Each chart is measured in its own core sigmas: the iid theory, or more where residuals are
         * autocorrelated (a model that is a little off for hours), so that the calibration sees a sane scale. */
        double sm = sqrt(MAX(s->sq_mean, 0.05) * CHART_ALPHA / (2 - CHART_ALPHA));
        double sv = sqrt(MAX(s->sq_mean - s->abs_mean * s->abs_mean, 0.05) * VAR_ALPHA / (2 - VAR_ALPHA));
        sm = MAX(sm, s->shift.scale * MAD_TO_SIGMA);
        sv = MAX(sv, s->var.scale * MAD_TO_SIGMA);
        s->shift.m = (float) (s->shift.m + (zcc - s->shift.m) * CHART_ALPHA);
        s->var.m = (float) (s->var.m + (fabs(zcc) - s->abs_mean - s->var.m) * VAR_ALPHA);
        double zm = s->shift.m / sm, zv = s->var.m / sv;
        bool shift_past = robust & chart_past(&s->shift, zm, watch);

        /* The run test: all of the last RUN_LEN samples beyond the same level on one side. Under independent
         * noise its tail is that of one sample raised to the RUN_LEN-th power, so its boundary sits well
         * inside the range the data shows (no extrapolation into a heavy tail): a shift or a spike of a few
         * samples is caught at a level where a single sample would be unremarkable. The sqrt(RUN_LEN) scale
         * brings it near a single z for the tail histogram's levels. */
        double mup = zc, mdn = zc;
        for (unsigned i = 0; i < RUN_LEN - 1; i++) {
                mup = MIN(mup, s->zprev[i]);
                mdn = MAX(mdn, s->zprev[i]);
        }
        /* mup > 0 ? mup : mdn < 0 ? mdn : 0 without a branch on noise (mup <= mdn: at most one term is not
         * zero). */
        double zr = (max_sel(mup, 0.0) + min_sel(mdn, 0.0)) * sqrt((double) RUN_LEN);
        for (unsigned i = RUN_LEN - 2; i > 0; i--)
                s->zprev[i] = s->zprev[i - 1];
        s->zprev[0] = (float) clamp_abs(zc, 1e30);
        bool run_past = robust & chart_watched(zr, watch) & (fabs(zr) >= s->run_k);

        /* The novelty test: has the series gone where it has not been for weeks? y is the value without a
         * candidate's seasonal part (each candidate keeps its own envelope, so that a change of the active
         * one is no novelty; the active one's is tested), and its median over three samples (one stray
         * sample is no place) is compared with the envelope of all earlier ones; beyond it by NOVELTY_MARGIN
         * of its width (at the default threshold 4, in proportion to the threshold) is novel, and
         * NOVELTY_RUN novel medians in a row alarm. Then the envelope takes them in, so a new level alarms
         * once, at its onset; an excursion that does not last is taken in without an alarm: a record of
         * independent noise (which any series sets now and then, ever more rarely) never lasts three
         * medians. A shorter excursion must go further to be as rare, and be judged against its own kind:
         * the pair rule compares the last two values (the lower of them upwards, the higher downwards) with
         * the envelope of every earlier such pair, and alarms beyond it by NOVELTY_PAIR of the medians'
         * width (for Gaussian noise about as rare as three medians at NOVELTY_MARGIN, by simulation against
         * three days of history). So a burst of two or three samples far out -- 10-15 minutes at 5-minute
         * scrapes, an incident already over when three medians would have seen it -- is news however wide
         * the calibrated boundaries of a spiky series are, while spikes that come in pairs now and then
         * (independent blips, two in a row by chance) are where pairs have been. An excursion that goes on
         * -- a level that keeps creeping out after its alarm, each step novel again -- is one piece of news:
         * after a novelty alarm on one side, further novel excursions on that side alarm only once
         * NOVELTY_HOLDOFF has passed since the last of them (each one, alarmed or not, restarts it); the
         * residual tests are not held off, so a fault that recurs is still caught. The envelope slowly
         * (HALFLIFE_NOVELTY) forgets old extremes down to the bulk of the last day. The test needs no noise
         * model, so quantized, two-level and heavy-tailed series, whose calibrated boundaries must be wide,
         * are judged by the same rule as smooth ones, and a creeping trend (each new extreme a little beyond
         * the last) is no novelty. */
        double znov = 0;
        for (unsigned m = 0; m < N_MODELS; m++) {
                if ((m == M_DAILY && !(layout & LAYOUT_DAILY)) || (m == M_WEEKLY && !(layout & LAYOUT_WEEKLY)))
                        continue;
                double y = x - (pred[m] - s->level[m]);
                double y0 = s->yprev[m][0], y1 = s->yprev[m][1];
                double ym = MAX(MIN(y, y0), MIN(MAX(y, y0), y1)), pu = MIN(y, y0), pd = MAX(y, y0);
                s->yprev[m][1] = s->yprev[m][0];
                s->yprev[m][0] = (float) y;
                s->nov_mid[m] += (ym - s->nov_mid[m]) * dk[DK_BULK];
                s->nov_mad[m] += (fabs(y - s->nov_mid[m]) - s->nov_mad[m]) * dk[DK_BULK];
                double keep = 1 - dk[DK_NOVELTY], hi = s->nov_mid[m] + NOVELTY_BULK_MADS * s->nov_mad[m],
                       lo = s->nov_mid[m] - NOVELTY_BULK_MADS * s->nov_mad[m];
                if (s->nov_hi[m] > hi)
                        s->nov_hi[m] = hi + (s->nov_hi[m] - hi) * keep;
                if (s->nov_lo[m] < lo)
                        s->nov_lo[m] = lo + (s->nov_lo[m] - lo) * keep;
                if (s->pair_hi[m] > hi)
                        s->pair_hi[m] = hi + (s->pair_hi[m] - hi) * keep;
                if (s->pair_lo[m] < lo)
                        s->pair_lo[m] = lo + (s->pair_lo[m] - lo) * keep;
                if (m != a) { /* the envelopes only: the tests are the active candidate's */
                        s->pair_hi[m] = MAX(s->pair_hi[m], pu);
                        s->pair_lo[m] = MIN(s->pair_lo[m], pd);
                        s->nov_hi[m] = MAX(s->nov_hi[m], ym);
                        s->nov_lo[m] = MIN(s->nov_lo[m], ym);
                        continue;
                }
                double width = MAX(s->nov_hi[m] - s->nov_lo[m], 1e-12 * fabs(s->nov_mid[m]) + 1e-300);
                double ep = pu > s->pair_hi[m] ? (pu - s->pair_hi[m]) / width
                        : pd < s->pair_lo[m]   ? (pd - s->pair_lo[m]) / width
                                               : 0;
                s->pair_hi[m] = MAX(s->pair_hi[m], pu);
                s->pair_lo[m] = MIN(s->pair_lo[m], pd);
                double ex = ym > s->nov_hi[m] ? (ym - s->nov_hi[m]) / width
                        : ym < s->nov_lo[m]   ? (ym - s->nov_lo[m]) / width
                                              : 0;
                double margin = p->derived.nov_margin;
                bool novel = fabs(ex) > margin && t - s->first_t >= NOVELTY_WARMUP;
                int side = novel ? (ex > 0 ? 1 : -1) : 0;
                if (side != 0 && s->nov_run != 0 && (s->nov_run > 0) == (side > 0)) {
                        s->nov_run += side;
                        s->nov_pend_hi = MAX(s->nov_pend_hi, ym);
                        s->nov_pend_lo = MIN(s->nov_pend_lo, ym);
                } else {
                        if (s->nov_run != 0) { /* an excursion that did not last: a place seen now */
                                s->nov_hi[m] = MAX(s->nov_hi[m], s->nov_pend_hi);
                                s->nov_lo[m] = MIN(s->nov_lo[m], s->nov_pend_lo);
                        }
                        s->nov_run = side;
                        s->nov_pend_hi = s->nov_pend_lo = ym;
                }
                double pmargin = p->derived.pair_margin;
                bool pair = fabs(ep) > pmargin && t - s->first_t >= NOVELTY_WARMUP;
                double zn = (unsigned) abs(s->nov_run) >= NOVELTY_RUN ? ex * p->derived.nov_zscale : 0,
                       zp = pair ? ep * p->derived.pair_zscale : 0;
                if (fabs(zp) > fabs(zn))
                        zn = zp;
                if (fabs(zn) > 0) {
                        unsigned sd = zn > 0 ? 0 : 1;
                        if (!(t - s->nov_alarm_t[sd] < NOVELTY_HOLDOFF)) /* also when NAN: none yet */
                                znov = zn;
                        s->nov_alarm_t[sd] = t;
                }
                if ((unsigned) abs(s->nov_run) >= NOVELTY_RUN) {
                        s->nov_hi[m] = MAX(s->nov_hi[m], s->nov_pend_hi);
                        s->nov_lo[m] = MIN(s->nov_lo[m], s->nov_pend_lo);
                        s->nov_run = 0;
                } else if (s->nov_run == 0) {
                        s->nov_hi[m] = MAX(s->nov_hi[m], ym);
                        s->nov_lo[m] = MIN(s->nov_lo[m], ym);
                }
        }

        /* The verdict: the most surprising of the tests, each scaled so that its boundary is at
         * |z| = threshold, as seen from the rule's direction (verdict_score()): the sample's own z,
         * unless a test in the watched direction (the variance test: only when both are) goes further from
         * zero. A test that is not finite is no test. The band is the sample's. */
        double zshift = zm * p->threshold / s->shift.k, zvar = MAX(zv, 0.0) * p->threshold / s->var.k;
        double zrun = zr * p->threshold / s->run_k;
        /* Maxima and selects, not branches: which test is the most surprising is a coin toss on noise, and a
         * mispredicted branch here would throw away all the learning below that the processor has already
         * run ahead into. (max_sel(a, b) is b when a is NaN; the branch on the rule's direction is always
         * predicted.) */
        double zz;
        if (watch.both) {
                double m = max_sel(
                        max_sel(fabs(znov), max_sel(fabs(zshift), 0.0)),
                        max_sel(fabs(zrun), max_sel(zvar, 0.0)));
                zz = max_sel(m, fabs(z));
        } else {
                double m = max_sel(
                        znov * watch.sign, max_sel(zshift * watch.sign, max_sel(zrun * watch.sign, 0.0)));
                zz = select_double(m > fabs(z), m, z * watch.sign);
        }
        v->expected = pred[a];
        v->lower = pred[a] - p->threshold * sigma;
        v->upper = pred[a] + p->threshold * sigma;
        v->warming_up = false;
        /* The decision now (the rest of the update needs it), the score last (verdict_score()). */
        bool warm = detector_is_warm(p, s->n, t - s->first_t);
        v->anomalous = warm && zz > 0 && zz >= p->threshold;

        /* Tail histograms of the sample and of the charts. */
        uint32_t quiet = (s->flags >> FLAG_QUIET_SHIFT) & 0xff;
        if (azc >= 2 && warm && tail_counts_now(past, s->flags & FLAG_CALM, quiet) &&
            (!past || tail_claim_past(&s->tail, t)))
                tail_count(&s->tail, azc);
        quiet = past ? TAIL_QUIET : quiet > 0 ? quiet - 1 : 0;
        s->flags = (s->flags & (FLAG_DAILY_FIT | FLAG_WEEKLY_FIT)) | (azc < 2 ? FLAG_CALM : 0) |
                quiet << FLAG_QUIET_SHIFT;
        chart_count(&s->shift, t, fabs(zm), fabs(zm) >= s->shift.k, warm, 1);
        chart_count(&s->var, t, MAX(zv, 0.0), zv >= s->var.k, warm, 2); /* one-sided */
        if (fabs(zr) >= 2 && s->run_quiet == 0 && warm &&
            (fabs(zr) < s->run_k || tail_claim_past(&s->run_tail, t)))
                tail_count(&s->run_tail, fabs(zr));
        s->run_quiet = fabs(zr) >= s->run_k ? TAIL_QUIET : s->run_quiet > 0 ? s->run_quiet - 1 : 0;
        if (robust && fabs(zm) < s->shift.k)
                s->shift.scale =
                        (float) (s->shift.scale + (fabs(s->shift.m) - s->shift.scale) * MOMENT_ALPHA * 4);
        if (robust && zv < s->var.k)
                s->var.scale = (float) (s->var.scale + (fabs(s->var.m) - s->var.scale) * MOMENT_ALPHA * 4);
        if (!past) {
                s->abs_mean = (float) (s->abs_mean + (fabs(zcc) - s->abs_mean) * MOMENT_ALPHA);
                s->sq_mean = (float) (s->sq_mean + (zcc * zcc - s->sq_mean) * MOMENT_ALPHA);
        }
        /* A shift the chart sees does not teach the levels and profiles (the run rule re-learns it if it
         * lasts). */
        bool outlier = robust && past;

        /* Out-of-sample errors of the candidates that have a profile to offer. */
        bool has[N_MODELS] = {
                true,
                (s->flags & FLAG_DAILY_FIT) != 0,
                (s->flags & FLAG_WEEKLY_FIT) && (!(layout & LAYOUT_DAILY) || (s->flags & FLAG_DAILY_FIT)),
        };
        for (unsigned m = 0; m < N_MODELS; m++) {
                if (!has[m])
                        continue;
                double e = MIN(fabs(x - pred[m]), 4 * core[m]);
                s->err[m] += (float) ((e - s->err[m]) * ew_rate(&s->err_w[m], dk[DK_ERR]));
        }

        /* Levels and scales of every candidate, each judged by its own band; the active one's alarms of the
         * multi-sample tests count towards confirming a shift. */
        double k = s->k;
        bool var_past = robust & watch.both & (zv >= s->var.k);
        int alarm_side = shift_past ? 2 * (s->shift.m > 0) - 1
                : run_past          ? 2 * (zr > 0) - 1
                : var_past          ? 2 * (r > 0) - 1
                                    : 0;
        learn_level(
                s,
                M_FLAT,
                x - pred[M_FLAT],
                core[M_FLAT],
                dk[DK_FLAT],
                dk[DK_SCALE],
                robust,
                k,
                a == M_FLAT ? alarm_side : 0,
                dt);
        if (layout & LAYOUT_DAILY)
                learn_level(
                        s,
                        M_DAILY,
                        x - pred[M_DAILY],
                        core[M_DAILY],
                        dk[DK_SEAS],
                        dk[DK_SCALE],
                        robust,
                        k,
                        a == M_DAILY ? alarm_side : 0,
                        dt);
        if (layout & LAYOUT_WEEKLY)
                learn_level(
                        s,
                        M_WEEKLY,
                        x - pred[M_WEEKLY],
                        core[M_WEEKLY],
                        dk[DK_SEAS],
                        dk[DK_SCALE],
                        robust,
                        k,
                        a == M_WEEKLY ? alarm_side : 0,
                        dt);

        /* The reference level, the profiles and the per-phase scale (not from samples past the boundary). */
        double core_shape = core[(layout & LAYOUT_DAILY) ? M_DAILY : M_WEEKLY];
        if (!outlier) {
                double deseason = x - dpart - wval;
                double ar = ew_rate(&s->ref_w, dk[DK_REF]);
                s->ref += (robust ? clamp_abs(deseason - s->ref, HUBER_C * core_a) : deseason - s->ref) * ar;
        }
        /* The phase's relative noise: |residual| / global core sigma of the seasonal candidate in use (the
         * daily one while the flat one answers), capped, from samples neither past the boundary nor inside
         * an alarm of any test: recurring rough phases (the edges of a nightly job) are learned, a displaced
         * level (which the run and shift tests see within a few samples) does not widen the band it is
         * judged by. */
        if ((layout & LAYOUT_DAILY) && !outlier && !shift_past && !v->anomalous) {
                float *rel = arr_d(p, s, A_REL);
                double wb = arr_d(p, s, A_W)[bd] + 1;
                unsigned m = a == M_FLAT ? M_DAILY : a;
                double q = MIN(fabs(x - pred[m]) / (core[m] / MAD_TO_SIGMA), REL_SCALE_MAX);
                rel[bd] = (float) (rel[bd] + (q - rel[bd]) / wb);
        }
        {
                double as = dk[DK_ERR];
                s->spread_level = (float) (s->spread_level + (x - s->spread_level) * as);
                s->spread = (float) (s->spread + (fabs(x - s->spread_level) - s->spread) * as);
        }
        if (!outlier || !(s->flags & (FLAG_DAILY_FIT | FLAG_WEEKLY_FIT))) {
                bool fitted = s->flags & (FLAG_DAILY_FIT | FLAG_WEEKLY_FIT);
                double clip = robust && fitted ? HUBER_C * MAX(core_shape, core_a) : INFINITY;
                if (layout & LAYOUT_DAILY)
                        learn_bin(
                                arr_d(p, s, A_RAW),
                                arr_d(p, s, A_W),
                                arr_d(p, s, A_HARM),
                                arr_d(p, s, A_DVAL),
                                bd,
                                x - s->ref,
                                clip);
                if (layout & LAYOUT_WEEKLY)
                        learn_bin(
                                arr_w(p, s, A_RAW),
                                arr_w(p, s, A_W),
                                arr_w(p, s, A_HARM),
                                arr_w(p, s, A_WVAL),
                                bin_of(uw, p->derived.bins_w),
                                x - s->ref - dpart,
                                clip);
        }

        /* A lasting change of level is the new normal after RELEARN_SECONDS. */
        /* Which side of 1 core sigma a sample falls is a coin toss: selects, no branches. A sample within
         * it ends the run (and leaves its time and sum as they were). */
        int side = (zc > RUN_SIGMA) - (zc < -RUN_SIGMA);
        bool cont = (int64_t) s->run * side > 0, restart = side != 0 && !cont;
        s->run = cont ? s->run + side : side;
        s->run_time = select_float(cont, s->run_time + (float) dt, select_float(restart, 0, s->run_time));
        s->run_sum = select_float(cont, s->run_sum + (float) r, select_float(restart, (float) r, s->run_sum));
        if (_unlikely_(cont & ((uint32_t) abs(s->run) >= RUN_MIN_SAMPLES) & (s->run_time >= RELEARN_SECONDS))) {
                uint32_t len = (uint32_t) abs(s->run);
                double shift = s->run_sum / len;
                for (unsigned m = 0; m < N_MODELS; m++) {
                        s->level[m] += shift;
                        s->level_w[m] = MIN(s->level_w[m], (float) len);
                }
                s->ref += shift;
                s->ref_w = MIN(s->ref_w, (float) len);
                s->run = 0;
        }

        verdict_score(zz, v);
        if (!warm)
                verdict_warming(v);

        s->last_t = t;
        if (s->n < UINT32_MAX)
                s->n++;
        if (t >= s->next_refit) {
                refit(p, s, t);
                if (tail_due(&s->tail, t, s->n))
                        recalibrate(p, s, t);
        }
        return DETECTOR_OK;
}

static size_t seasonal_describe(const DetectorParams *p, FieldDesc out[static FIELDS_MAX]) {
        const FieldDesc f[] = {
                FIELD(SeasonalState, last_t, FIELD_F64),
                FIELD(SeasonalState, first_t, FIELD_F64),
                FIELD(SeasonalState, next_refit, FIELD_F64),
                FIELD(SeasonalState, last_refit_d, FIELD_F64),
                FIELD(SeasonalState, last_refit_w, FIELD_F64),
                FIELD(SeasonalState, cache_dt, FIELD_F64),
                { "cache_decay", FIELD_F64, offsetof(SeasonalState, cache_decay), N_DECAYS },
                { "level", FIELD_F64, offsetof(SeasonalState, level), N_MODELS },
                FIELD(SeasonalState, ref, FIELD_F64),
                { "err_since", FIELD_F64, offsetof(SeasonalState, err_since), N_MODELS },
                { "level_w", FIELD_F32, offsetof(SeasonalState, level_w), N_MODELS },
                { "scale", FIELD_F32, offsetof(SeasonalState, scale), N_MODELS },
                { "scale_w", FIELD_F32, offsetof(SeasonalState, scale_w), N_MODELS },
                { "err", FIELD_F32, offsetof(SeasonalState, err), N_MODELS },
                { "err_w", FIELD_F32, offsetof(SeasonalState, err_w), N_MODELS },
                FIELD(SeasonalState, ref_w, FIELD_F32),
                FIELD(SeasonalState, spread_level, FIELD_F32),
                FIELD(SeasonalState, spread, FIELD_F32),
                FIELD(SeasonalState, run_time, FIELD_F32),
                FIELD(SeasonalState, run_sum, FIELD_F32),
                FIELD(SeasonalState, run, FIELD_I32),
                FIELD(SeasonalState, n, FIELD_U32),
                FIELD(SeasonalState, active, FIELD_U32),
                FIELD(SeasonalState, flags, FIELD_U32),
                FIELD(SeasonalState, k, FIELD_F32),
                TAIL_FIELDS(SeasonalState, tail),
                FIELD(SeasonalState, abs_mean, FIELD_F32),
                FIELD(SeasonalState, sq_mean, FIELD_F32),
                CHART_FIELDS(SeasonalState, shift),
                CHART_FIELDS(SeasonalState, var),
                FIELD(SeasonalState, run_k, FIELD_F32),
                FIELD(SeasonalState, run_quiet, FIELD_U32),
                { "zprev", FIELD_F32, offsetof(SeasonalState, zprev), RUN_LEN - 1 },
                TAIL_FIELDS(SeasonalState, run_tail),
                { "conf", FIELD_I32, offsetof(SeasonalState, conf), N_MODELS },
                { "conf_time", FIELD_F32, offsetof(SeasonalState, conf_time), N_MODELS },
                { "conf_sum", FIELD_F32, offsetof(SeasonalState, conf_sum), N_MODELS },
                { "nov_hi", FIELD_F64, offsetof(SeasonalState, nov_hi), N_MODELS },
                { "nov_lo", FIELD_F64, offsetof(SeasonalState, nov_lo), N_MODELS },
                { "nov_mid", FIELD_F64, offsetof(SeasonalState, nov_mid), N_MODELS },
                { "nov_mad", FIELD_F64, offsetof(SeasonalState, nov_mad), N_MODELS },
                { "pair_hi", FIELD_F64, offsetof(SeasonalState, pair_hi), N_MODELS, 4 },
                { "pair_lo", FIELD_F64, offsetof(SeasonalState, pair_lo), N_MODELS, 4 },
                FIELD(SeasonalState, nov_pend_hi, FIELD_F64),
                FIELD(SeasonalState, nov_pend_lo, FIELD_F64),
                FIELD(SeasonalState, nov_run, FIELD_I32),
                { "nov_alarm_t", FIELD_F64, offsetof(SeasonalState, nov_alarm_t), 2, 4 },
                { "yprev", FIELD_F32, offsetof(SeasonalState, yprev), 2 * N_MODELS },
        };
        size_t n = ELEMENTSOF(f), bd = p->derived.bins_d, bw = p->derived.bins_w;
        memcpy(out, f, sizeof(f));
        static const char *const names_d[D_ARRAYS] = {
                "daily_raw", "daily_weight", "daily_harmonic", "daily_rel_scale", "daily_value"
        };
        static const char *const names_w[W_ARRAYS] = {
                "weekly_raw", "weekly_weight", "weekly_harmonic", "weekly_value"
        };
        for (size_t i = 0; i < D_ARRAYS && bd > 0; i++)
                out[n++] = (FieldDesc){
                        names_d[i], FIELD_F32, sizeof(SeasonalState) + i * bd * sizeof(float), bd
                };
        for (size_t i = 0; i < W_ARRAYS && bw > 0; i++)
                out[n++] = (FieldDesc){ names_w[i],
                                        FIELD_F32,
                                        sizeof(SeasonalState) + (D_ARRAYS * bd + i * bw) * sizeof(float),
                                        bw };
        return n;
}

static int seasonal_check(const DetectorParams *p, const void *state) {
        const SeasonalState *s = state;
        if (s->n == 0)
                return 0;
        if (!isfinite(s->last_t) || !isfinite(s->first_t) || s->first_t > s->last_t || !isfinite(s->ref) ||
            !isfinite(s->next_refit) || s->active >= N_MODELS ||
            (s->flags & ~(7u | 0xffu << FLAG_QUIET_SHIFT)) || !(s->run_time >= 0) || !(s->k > 0) ||
            !isfinite(s->k) || tail_check(&s->tail) < 0 || !(s->shift.k > 0) || !isfinite(s->shift.k) ||
            !isfinite(s->shift.m) || tail_check(&s->shift.tail) < 0 || !(s->var.k > 0) ||
            !isfinite(s->var.k) || !isfinite(s->var.m) || tail_check(&s->var.tail) < 0 ||
            !(s->abs_mean >= 0) || !(s->sq_mean >= 0) || s->shift.quiet > TAIL_QUIET ||
            s->var.quiet > TAIL_QUIET || !(s->run_k > 0) || !isfinite(s->run_k) || s->run_quiet > TAIL_QUIET ||
            tail_check(&s->run_tail) < 0 || !isfinite(s->nov_pend_hi) || !isfinite(s->nov_pend_lo) ||
            s->nov_run == INT32_MIN || isinf(s->nov_alarm_t[0]) || isinf(s->nov_alarm_t[1]))
                return -EBADMSG;
        for (unsigned i = 0; i < RUN_LEN - 1; i++)
                if (!isfinite(s->zprev[i]))
                        return -EBADMSG;
        for (unsigned m = 0; m < N_MODELS; m++)
                if (!isfinite(s->level[m]) || !(s->scale[m] >= 0) || !isfinite(s->scale[m]) ||
                    !(s->level_w[m] >= 0) || !(s->scale_w[m] >= 0) || !(s->err[m] >= 0) ||
                    !isfinite(s->err[m]) || s->conf[m] == INT32_MIN || !(s->conf_time[m] >= 0) ||
                    !isfinite(s->conf_time[m]) || !isfinite(s->conf_sum[m]) || !isfinite(s->nov_mid[m]) ||
                    !(s->nov_mad[m] >= 0) || !isfinite(s->nov_mad[m]) || !(s->nov_lo[m] <= s->nov_hi[m]) ||
                    !isfinite(s->nov_lo[m]) || !isfinite(s->nov_hi[m]) || !isfinite(s->pair_lo[m]) ||
                    !isfinite(s->pair_hi[m]) || !isfinite(s->yprev[m][0]) || !isfinite(s->yprev[m][1]))
                        return -EBADMSG;
        const float *bins = (const float *) (s + 1);
        size_t nb = D_ARRAYS * (size_t) p->derived.bins_d + W_ARRAYS * (size_t) p->derived.bins_w;
        for (size_t i = 0; i < nb; i++)
                if (!isfinite(bins[i]))
                        return -EBADMSG;
        return 0;
}

/* A state of format 2 or 3 has no pair envelope: it starts as the envelope of the medians, which the pairs'
 * lies within, so an upgrade raises no novelty (an empty one would make the first pair novel). */
static void seasonal_migrate(const DetectorParams *p, void *state, unsigned from_version) {
        SeasonalState *s = state;
        if (from_version < 4 && s->n > 0)
                for (unsigned m = 0; m < N_MODELS; m++) {
                        s->pair_hi[m] = s->nov_hi[m];
                        s->pair_lo[m] = s->nov_lo[m];
                }
}

const DetectorKind detector_seasonal = {
        .name = "seasonal",
        .prepare = seasonal_prepare,
        .init = seasonal_init,
        .update = detector_seasonal_update,
        .describe = seasonal_describe,
        .check = seasonal_check,
        .migrate = seasonal_migrate,
};

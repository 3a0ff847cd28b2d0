/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Tests for detectors/: the score and its tail model against GSL; parameters; and per kind, on deterministic
 * synthetic input (a fixed-seed generator), that a 5-sigma spike, a level shift, a variance burst and (for
 * seasonal) a night-time phase anomaly are caught within a stated number of samples, that clean series
 * (including daily and weekly seasonality over weeks) raise nothing after warm-up, that gaps, irregular
 * sampling, NaN and out-of-order samples are handled without touching state, and that save/load gives
 * bit-identical verdicts while refusing other versions, parameters and corrupt blobs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "detector-internal.h"
#include "detector.h"
#include "macro.h"

#define T0 1704067200.0 /* 2024-01-01 00:00:00 UTC, a Monday */

/* ---- deterministic noise ---- */

static uint64_t rng_state;

static void rng_seed(uint64_t s) {
        rng_state = s;
}

static uint64_t rng(void) {
        uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static double uniform(void) {
        return ((double) (rng() >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(void) {
        return sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform());
}

/* ---- helpers ---- */

typedef struct Det {
        DetectorParams p;
        void *state;
} Det;

static void det_new(Det *d, DetectorType type) {
        detector_params_init(&d->p, type);
}

static void det_start(Det *d) {
        assert_int_equal(detector_params_prepare(&d->p), 0);
        size_t n = detector_state_size(&d->p);
        assert_true(n > 0 && n % 8 == 0);
        d->state = aligned_alloc(8, n);
        assert_non_null(d->state);
        detector_state_init(&d->p, d->state);
}

static void det_done(Det *d) {
        free(d->state);
        d->state = NULL;
}

static Verdict feed(Det *d, double t, double x) {
        Verdict v;
        DetectorSample s = { .t = t, .local_t = t, .x = x };
        assert_int_equal(detector_update(&d->p, d->state, &s, &v), DETECTOR_OK);
        return v;
}

/* A daily (and optionally weekly) load shape: low at night, high by day, lower at weekends. */
static double load_shape(double t, bool weekly) {
        double ph = fmod(t - T0, 86400) / 86400;
        double day = 60 + 40 * sin(2 * M_PI * (ph - 0.3)) + 10 * sin(4 * M_PI * ph);
        int dow = (int) (fmod(t - T0, 604800) / 86400); /* 0 = Monday */
        if (weekly && dow >= 5)
                day *= 0.6;
        return day;
}

/* ---- score ---- */

static void test_score(void **state) {
        double prev = -1;
        for (double z = 0; z < 300; z += z < 20 ? 0.013 : 0.7) {
                double score, p = detector_tail_p(z, &score);
                double ref = 2 * gsl_cdf_tdist_Q(z, DETECTOR_TAIL_DOF);
                if (ref > 1e-300) {
                        double err = fabs(log10(p) - log10(ref));
                        if (err > 1e-6)
                                fail_msg("z=%g: p=%g, GSL %g", z, p, ref);
                }
                assert_true(score >= prev - 1e-12); /* monotone */
                assert_true(score >= 0 && score <= 1);
                prev = score;
        }
        double s;
        detector_tail_p(4, &s);
        assert_true(s > 0.15 && s < 0.2); /* the default threshold */
        detector_tail_p(8, &s);
        assert_true(s < 0.35); /* not saturated at z = 8 */
        detector_tail_p(50, &s);
        assert_true(s > 0.75 && s < 1);
        detector_tail_p(1e200, &s);
        assert_true(s >= 1);
        assert_true(detector_score_from_p(1) <= 0);
        assert_true(detector_score_from_p(NAN) <= 0);
        assert_true(detector_score_from_p(0) >= 1);
        assert_true(fabs(detector_score_from_p(1e-8) - 0.5) < 1e-12);
}

/* ---- hot-path shortcuts: the same results as the plain expressions they replace ---- */

static bool same_bits(double a, double b) {
        return memcmp(&a, &b, sizeof(a)) == 0 || (isnan(a) && isnan(b));
}

static void test_fast_paths(void **state) {
        /* p from the tail table: Estrin's form of the exponential's polynomial against Horner's. */
        for (double z = 1e-3; z < 16; z += 0.00731) {
                double p, f = tail_neglog10(z, &p);
                const double *c = detector_tail_table[(int) (z * 16)];
                double d = (f - c[0]) * -2.302585092994046;
                double horner = c[4] *
                        (1 + d * (1 + d * (0.5 + d * (1.0 / 6 + d * (1.0 / 24 + d * (1.0 / 120))))));
                if (fabs(p - horner) > 1e-15 * horner)
                        fail_msg("z=%.17g: p=%.17g, Horner %.17g", z, p, horner);
        }

        /* Division by a power-of-two threshold as a multiplication: bit-identical. */
        static const double pow2[] = { 0.25, 0.5, 1, 2, 4, 8, 64, 512 }, other[] = { 3, 4.5, 0.3, 1000 };
        rng_seed(7);
        for (size_t i = 0; i < ELEMENTSOF(pow2); i++) {
                DetectorParams p;
                detector_params_init(&p, DETECTOR_TYPE_EWMA);
                p.threshold = pow2[i];
                assert_int_equal(detector_params_prepare(&p), 0);
                assert_true(p.derived.threshold_inv_exact > 0);
                for (int j = 0; j < 20000; j++) {
                        uint64_t bits = rng();
                        double v;
                        memcpy(&v, &bits, sizeof(v)); /* any double: subnormal, huge, NaN, Inf */
                        if (!same_bits(div_threshold(&p, v), v / pow2[i]))
                                fail_msg("%.17g / %g", v, pow2[i]);
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(other); i++) {
                DetectorParams p;
                detector_params_init(&p, DETECTOR_TYPE_SEASONAL);
                p.threshold = other[i];
                assert_int_equal(detector_params_prepare(&p), 0);
                assert_true(p.derived.threshold_inv_exact <= 0);
                assert_true(same_bits(div_threshold(&p, 1.2345), 1.2345 / other[i]));
        }

        /* Branch-free clipping against the conditional it replaces. */
        static const double vs[] = { 0.0,    -0.0,    1,     -1,     2.5,      -2.5,      3,  -3,
                                     1e-310, -1e-310, 1e300, -1e300, INFINITY, -INFINITY, NAN },
                            lims[] = { 0, 1e-300, 1, 2.5, 1e300, INFINITY };
        for (size_t i = 0; i < ELEMENTSOF(vs); i++)
                for (size_t j = 0; j < ELEMENTSOF(lims); j++) {
                        double v = vs[i], lim = lims[j];
                        double old = v > lim ? lim : v < -lim ? -lim : v;
                        if (!same_bits(clamp_abs(v, lim), old))
                                fail_msg("clamp_abs(%g, %g) = %g, want %g", v, lim, clamp_abs(v, lim), old);
                }

        /* The saturated score without log10(). */
        for (double p = 1e-30; p < 1; p *= 1.37) {
                double old = -log10(MAX(p, 1e-300)) / 16;
                assert_true(same_bits(detector_score_from_p(p), old > 1 ? 1 : old));
        }
}

static void test_params(void **state) {
        DetectorParams p;
        for (DetectorType t = 0; t < _DETECTOR_TYPE_MAX; t++) {
                detector_params_init(&p, t);
                assert_non_null(detector_type_to_string(t));
                if (t == DETECTOR_TYPE_THRESHOLD) {
                        assert_int_equal(detector_params_validate(&p), -EINVAL); /* needs above or below */
                        p.has_above = true;
                        p.above = 10;
                }
                assert_int_equal(detector_params_prepare(&p), 0);
                assert_int_equal(detector_params_prepare(&p), 0); /* idempotent */
                assert_true(detector_state_size(&p) > 0);
        }
        detector_params_init(&p, DETECTOR_TYPE_EWMA);
        p.threshold = 0;
        assert_int_equal(detector_params_prepare(&p), -EINVAL);
        detector_params_init(&p, DETECTOR_TYPE_EWMA);
        p.halflife_seconds = NAN;
        assert_int_equal(detector_params_prepare(&p), -EINVAL);
        detector_params_init(&p, DETECTOR_TYPE_SEASONAL);
        p.n_periods = 1;
        p.periods_seconds[0] = 3600;
        assert_int_equal(detector_params_prepare(&p), -EINVAL);
        detector_params_init(&p, DETECTOR_TYPE_SEASONAL);
        p.resolution_seconds = 10;
        assert_int_equal(detector_params_prepare(&p), -EINVAL);
        detector_params_init(&p, DETECTOR_TYPE_THRESHOLD);
        p.has_above = p.has_below = true;
        p.above = 1;
        p.below = 2;
        assert_int_equal(detector_params_prepare(&p), -EINVAL);
        detector_params_init(&p, DETECTOR_TYPE_BURNRATE);
        p.objective = 1;
        assert_int_equal(detector_params_prepare(&p), -EINVAL);
        detector_params_init(&p, DETECTOR_TYPE_BURNRATE);
        p.windows[0].short_seconds = 7200; /* longer than the long window */
        assert_int_equal(detector_params_prepare(&p), -EINVAL);
        detector_params_init(&p, DETECTOR_TYPE_TREND);
        p.limit = NAN;
        assert_int_equal(detector_params_prepare(&p), -EINVAL);

        /* an unprepared detector refuses to run */
        detector_params_init(&p, DETECTOR_TYPE_EWMA);
        uint64_t st[64];
        Verdict v;
        DetectorSample s = { .t = 1, .x = 1 };
        assert_int_equal(detector_update(&p, st, &s, &v), -EINVAL);
        assert_int_equal(detector_state_size(&p), 0);
}

/* ---- per kind: clean, spike, shift, burst ---- */

/* Feed n samples of level + sigma * noise every dt seconds from t0; count anomalous verdicts after skip. */
static unsigned feed_noise(Det *d, double *t, unsigned n, double dt, double level, double sigma, unsigned skip) {
        unsigned anomalies = 0;
        for (unsigned i = 0; i < n; i++) {
                Verdict v = feed(d, *t, level + sigma * gauss());
                if (i >= skip && v.anomalous)
                        anomalies++;
                *t += dt;
        }
        return anomalies;
}

/* Samples from the start of an injected anomaly until the first anomalous verdict, or UINT_MAX. */
static unsigned
        detect_delay(Det *d, double *t, unsigned n, double dt, double (*value)(unsigned i, void *u), void *u) {
        unsigned first = UINT32_MAX;
        for (unsigned i = 0; i < n; i++) {
                Verdict v = feed(d, *t, value(i, u));
                if (v.anomalous && first == UINT32_MAX)
                        first = i;
                *t += dt;
        }
        return first;
}

typedef struct Inject {
        double level, sigma, amount;
} Inject;

static double spike_value(unsigned i, void *u) {
        Inject *in = u;
        return i == 0 ? in->level + in->amount * in->sigma : in->level + in->sigma * gauss();
}

static double shift_value(unsigned i, void *u) {
        Inject *in = u;
        return in->level + in->amount * in->sigma + in->sigma * gauss();
}

static double burst_value(unsigned i, void *u) {
        Inject *in = u;
        return in->level + in->amount * in->sigma * gauss();
}

typedef struct KindCase {
        DetectorType type;
        unsigned spike_within; /* a 5-sigma spike: caught at sample 0 */
        double shift;          /* sigmas */
        unsigned shift_within; /* samples */
        unsigned burst_within; /* x6 noise */
} KindCase;

static void run_kind(const KindCase *kc) {
        /* 5-minute samples, 3 days of warm-up on N(100, 1), then each anomaly after a day of clean data. */
        const double dt = 300;
        Det d;
        double t = T0;
        rng_seed(42 + kc->type);
        det_new(&d, kc->type);
        det_start(&d);

        assert_int_equal(feed_noise(&d, &t, 3 * 288, dt, 100, 1, 2 * 288), 0);
        /* clean: a week without a single anomalous sample */
        assert_int_equal(feed_noise(&d, &t, 7 * 288, dt, 100, 1, 0), 0);

        Inject in = { 100, 1, 5 };
        unsigned delay = detect_delay(&d, &t, 1, dt, spike_value, &in);
        if (kc->spike_within != UINT32_MAX && delay > kc->spike_within)
                fail_msg("%s: 5-sigma spike not caught (delay %u)", detector_type_to_string(kc->type), delay);
        feed_noise(&d, &t, 288, dt, 100, 1, 0);

        in.amount = kc->shift;
        delay = detect_delay(&d, &t, 48, dt, shift_value, &in);
        if (delay > kc->shift_within)
                fail_msg(
                        "%s: %g-sigma level shift caught after %u samples",
                        detector_type_to_string(kc->type),
                        kc->shift,
                        delay);
        /* back to normal for a day: the baseline must come back without a storm of alarms afterwards */
        feed_noise(&d, &t, 288, dt, 100, 1, 0);
        unsigned late = feed_noise(&d, &t, 288, dt, 100, 1, 0);
        assert_true(late <= 2);

        if (kc->burst_within != UINT32_MAX) {
                in.amount = 6;
                delay = detect_delay(&d, &t, 24, dt, burst_value, &in);
                if (delay > kc->burst_within)
                        fail_msg(
                                "%s: variance burst caught after %u samples",
                                detector_type_to_string(kc->type),
                                delay);
        }
        det_done(&d);
}

static void test_ewma(void **state) {
        run_kind(&(KindCase){
                DETECTOR_TYPE_EWMA, .spike_within = 0, .shift = 6, .shift_within = 0, .burst_within = 8 });
}

static void test_seasonal_flat(void **state) {
        /* the general-purpose kind also catches a small shift through its shift chart */
        run_kind(&(KindCase){
                DETECTOR_TYPE_SEASONAL, .spike_within = 0, .shift = 2.5, .shift_within = 12, .burst_within = 8 });
}

static void test_cusum(void **state) {
        /* a 1.5-sigma shift that no single sample reveals; spikes are not cusum's business */
        run_kind(&(KindCase){ DETECTOR_TYPE_CUSUM,
                              .spike_within = UINT32_MAX,
                              .shift = 1.5,
                              .shift_within = 12,
                              .burst_within = UINT32_MAX });
}

/* ---- recurring faults and recurring blips ---- */

/* A day of a latency-like series at 10 s, then `to` excursions to 10 times the level, one every 10 minutes,
 * each lasting len samples. Returns how many of the excursions from..to-1 raised no alarm at all. */
static unsigned recurring_missed(DetectorType type, unsigned len, unsigned from, unsigned to) {
        const double dt = 10;
        Det d;
        double t = T0;
        unsigned missed = 0;
        rng_seed(17);
        det_new(&d, type);
        det_start(&d);
        for (unsigned i = 0; i < 8640; i++, t += dt)
                feed(&d, t, 0.036 * (1 + 0.05 * gauss()));
        for (unsigned e = 0; e < to; e++) {
                bool alarmed = false;
                for (unsigned i = 0; i < 60; i++, t += dt) {
                        double x = 0.036 * (1 + 0.05 * gauss());
                        Verdict v = feed(&d, t, i < len ? 10 * x : x);
                        if (i < len)
                                alarmed |= v.anomalous;
                        if (v.anomalous)
                                assert_true(i < len + 20); /* within the charts' memory (seasonal) */
                }
                if (e >= from && e < to && !alarmed)
                        missed++;
        }
        det_done(&d);
        return missed;
}

static void test_recurring_faults(void **state) {
        /* A fault that lasts several samples and recurs every 10 minutes is caught every time for the first
         * three hours (it once became normal tail after three occurrences, and remediation stopped). */
        assert_int_equal(recurring_missed(DETECTOR_TYPE_EWMA, 6, 0, 18), 0);
        assert_int_equal(recurring_missed(DETECTOR_TYPE_SEASONAL, 6, 0, 18), 0);
        /* A one-sample blip that keeps recurring for hours becomes part of the series' normal tail: after
         * about 10 hours (ewma) or 15 (seasonal, whose four tests each learn it). */
        assert_int_equal(recurring_missed(DETECTOR_TYPE_EWMA, 1, 70, 80), 10);
        assert_int_equal(recurring_missed(DETECTOR_TYPE_SEASONAL, 1, 150, 160), 10);
}

static void test_short_history(void **state) {
        /* The demo's case: an ewma on a p99 latency scraped every second, warm after 20 samples, and a x10
         * fault half a minute in, with the next tail recalibration (at 32 samples) falling inside the fault.
         * Then five more faults, each ended by a restart (a missing sample, a few slow samples of a cold
         * start). From so short a history the tail's shape cannot be told; the boundary once came out at
         * hundreds of core sigmas and every later fault went unseen. Each fault must raise an alarm on one
         * of its first three samples and keep it until it ends. */
        Det d;
        double t = T0;
        rng_seed(23);
        det_new(&d, DETECTOR_TYPE_EWMA);
        d.p.halflife_seconds = 600;
        d.p.direction = DETECTOR_DIRECTION_UP;
        d.p.has_warmup = true;
        d.p.warmup_samples = 20;
        det_start(&d);
        for (unsigned i = 0; i < 30; i++, t += 1)
                feed(&d, t, 0.001 * round(35 + 1.5 * gauss())); /* quantized, as a summary's p99 is */
        for (unsigned f = 0; f < 6; f++) {
                unsigned first = UINT_MAX, quiet_after = 0;
                for (unsigned i = 0; i < 12; i++, t += 1) {
                        Verdict v = feed(&d, t, 0.35 + 0.03 * uniform());
                        if (v.anomalous && first == UINT_MAX)
                                first = i;
                        if (first != UINT_MAX && !v.anomalous)
                                quiet_after++;
                }
                if (first > 2)
                        fail_msg("fault %u: first alarm on sample %u", f, first);
                assert_int_equal(quiet_after, 0);
                t += 1; /* the restart: no sample */
                for (unsigned i = 0; i < 3; i++, t += 1)
                        feed(&d, t, 0.06 + 0.005 * gauss());
                for (unsigned i = 0; i < 10; i++, t += 1)
                        feed(&d, t, 0.001 * round(35 + 1.5 * gauss()));
        }
        det_done(&d);
}

static void test_seasonal_daily_blip(void **state) {
        /* A quiet quantized gauge (CPU 0.13 % +- steps of 0.01) with a cron job's blip of one sample to
         * 1.4-1.6 once a day at about the same time: after the first days the blip is the series' normal
         * tail, every day. The blips land inside one level of the tail histogram; a boundary at that
         * level's bottom put 10 of them past it. */
        const double dt = 300;
        Det d;
        double t = T0;
        unsigned late = 0;
        rng_seed(16);
        det_new(&d, DETECTOR_TYPE_SEASONAL);
        det_start(&d);
        for (unsigned i = 0; i < 16 * 288; i++, t += dt) {
                double x = 0.13 + 0.01 * floor(2 * gauss() + 0.5);
                if (i % 288 == 100 + (unsigned) (i / 288 * 7) % 3)
                        x = 1.4 + 0.2 * uniform();
                if (feed(&d, t, x).anomalous && i >= 4 * 288)
                        late++;
        }
        assert_int_equal(late, 0);
        det_done(&d);
}

/* ---- seasonal: weeks of daily and weekly rhythm, and a phase anomaly ---- */

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static void test_seasonal_rhythm(void **state) {
        const double dt = 300;
        Det d;
        double t = T0;
        unsigned late_alarms = 0, early_alarms = 0, n_err = 0;
        static double rel_err[7 * 288];

        rng_seed(7);
        det_new(&d, DETECTOR_TYPE_SEASONAL);
        det_start(&d);
        /* five weeks of daily + weekly load with 3 % noise */
        for (unsigned i = 0; i < 35 * 288; i++, t += dt) {
                double base = load_shape(t, true);
                Verdict v = feed(&d, t, base * (1 + 0.03 * gauss()));
                if (v.anomalous && i < 14 * 288)
                        early_alarms++;
                else if (v.anomalous)
                        late_alarms++;
                if (i >= 28 * 288)
                        rel_err[n_err++] = fabs(v.expected - base) / 60; /* relative to the mean level */
        }
        /* by the fifth week the expectation follows the rhythm closely (errors relative to the mean level) */
        qsort(rel_err, n_err, sizeof(double), cmp_double);
        print_message(
                "seasonal rhythm, last week: median error %.1f %%, 95th percentile %.1f %%\n",
                100 * rel_err[n_err / 2],
                100 * rel_err[n_err * 95 / 100]);
        assert_true(rel_err[n_err / 2] < 0.03);
        /* the tail is the weekday/weekend switch at midnight, which 1-hour weekly bins smooth over an hour */
        assert_true(rel_err[n_err * 95 / 100] < 0.20);
        /* nothing after two weeks, when the weekly profile is in place */
        assert_int_equal(late_alarms, 0);
        print_message("seasonal rhythm: %u anomalous samples in the first two weeks, 0 after\n", early_alarms);

        /* a Tuesday night: at 02:00 the daytime level appears for two hours */
        while ((int64_t) (t - T0) % 86400 != 2 * 3600) {
                feed(&d, t, load_shape(t, true) * (1 + 0.03 * gauss()));
                t += dt;
        }
        unsigned first = UINT32_MAX;
        for (unsigned i = 0; i < 24; i++, t += dt) {
                Verdict v = feed(&d, t, load_shape(t + 12 * 3600, true) * (1 + 0.03 * gauss()));
                if (v.anomalous && first == UINT32_MAX)
                        first = i;
        }
        if (first > 1)
                fail_msg("night-time phase anomaly caught after %u samples", first);
        det_done(&d);
}

/* ---- seasonal: a lasting shift alarms briefly; novelty on a two-level series ---- */

static void test_seasonal_lasting_shift(void **state) {
        /* 5-minute samples of N(100, 1) for ten days, then a 10-sigma step that lasts two days: the alarm
         * starts at the step and ends once the shift is confirmed (4 samples over at least 15 minutes),
         * instead of reporting the new normal for hours; the return two days later is reported the same way,
         * and the day after it is quiet. */
        const double dt = 300;
        Det d;
        double t = T0;
        rng_seed(11);
        det_new(&d, DETECTOR_TYPE_SEASONAL);
        det_start(&d);
        assert_int_equal(feed_noise(&d, &t, 10 * 288, dt, 100, 1, 3 * 288), 0);
        unsigned first = UINT32_MAX, alarms = 0;
        for (unsigned i = 0; i < 2 * 288; i++, t += dt) {
                Verdict v = feed(&d, t, 110 + gauss());
                if (v.anomalous) {
                        alarms++;
                        if (first == UINT32_MAX)
                                first = i;
                }
        }
        print_message(
                "seasonal: 10-sigma step caught at sample %u, %u anomalous samples in two days\n",
                first,
                alarms);
        assert_int_equal(first, 0);
        assert_true(alarms <= 6);
        unsigned back = feed_noise(&d, &t, 288, dt, 100, 1, 0);
        print_message("seasonal: %u anomalous samples on the day of the return\n", back);
        assert_true(back >= 1 && back <= 6);
        assert_int_equal(feed_noise(&d, &t, 288, dt, 100, 1, 0), 0);
        det_done(&d);
}

/* The rule's direction: the same series (a week of N(100, 1) at 5-minute samples, then an 8-sigma spike up,
 * a day later one down, then a 4-sigma shift up for an hour, a day later one down) under up, down and both.
 * Each direction catches its own side (a spike at once, a shift within 3 samples) and never alarms on the
 * other side (the sample's z, the shift and run tests and the novelty test all look one way; the variance
 * test only when both do), and a deviation on the unwatched side scores 0. */
static unsigned direction_events(DetectorDirection dir, unsigned caught[4], unsigned wrong_side[4]) {
        const double dt = 300;
        Det d;
        double t = T0;
        rng_seed(5);
        det_new(&d, DETECTOR_TYPE_SEASONAL);
        d.p.direction = dir;
        det_start(&d);
        unsigned clean = feed_noise(&d, &t, 7 * 288, dt, 100, 1, 2 * 288);
        for (unsigned e = 0; e < 4; e++) {
                double sign = e % 2 == 0 ? 1 : -1;
                bool spike = e < 2,
                     watched = dir == DETECTOR_DIRECTION_BOTH || (dir == DETECTOR_DIRECTION_UP) == (sign > 0);
                caught[e] = UINT_MAX;
                wrong_side[e] = 0;
                for (unsigned i = 0; i < (spike ? 1u : 12u); i++, t += dt) {
                        Verdict v = feed(&d, t, 100 + sign * (spike ? 8 : 4) + (spike ? 0 : gauss()));
                        if (v.anomalous && caught[e] == UINT_MAX)
                                caught[e] = i;
                        if (!watched && (v.anomalous || v.score > 0))
                                wrong_side[e]++;
                }
                clean += feed_noise(&d, &t, 288, dt, 100, 1, 36); /* after the event's own echo */
        }
        det_done(&d);
        return clean;
}

static void test_seasonal_direction(void **state) {
        static const DetectorDirection dirs[] = { DETECTOR_DIRECTION_UP,
                                                  DETECTOR_DIRECTION_DOWN,
                                                  DETECTOR_DIRECTION_BOTH };
        for (size_t k = 0; k < ELEMENTSOF(dirs); k++) {
                unsigned caught[4], wrong[4];
                unsigned clean = direction_events(dirs[k], caught, wrong);
                print_message(
                        "seasonal direction %s: spike up/down caught at %u/%u, shift up/down at %u/%u; %u alarms on "
                        "clean data\n",
                        (const char *[]){ "up", "down", "both" }[k],
                        caught[0],
                        caught[1],
                        caught[2],
                        caught[3],
                        clean);
                assert_int_equal(clean, 0);
                for (unsigned e = 0; e < 4; e++) {
                        bool up = e % 2 == 0;
                        bool watched = dirs[k] == DETECTOR_DIRECTION_BOTH ||
                                (dirs[k] == DETECTOR_DIRECTION_UP) == up;
                        if (watched)
                                assert_true(caught[e] <= (e < 2 ? 0u : 3u)); /* a spike at once, a shift soon */
                        else {
                                assert_int_equal(caught[e], UINT_MAX);
                                assert_int_equal(wrong[e], 0);
                        }
                }
        }
}

static void test_seasonal_novelty(void **state) {
        /* A two-level series (a host that is either idle at 10 or busy at 20, switching every hour or so,
         * with quantized noise of 0.5) for two weeks: its residuals are bimodal, so the calibrated
         * boundaries sit wide. A move to 35 -- where the series has never been -- is still caught within 3
         * samples (by the novelty test at the latest: three medians of three beyond the envelope), and the
         * two weeks before it raise nothing after warm-up. */
        const double dt = 300;
        Det d;
        double t = T0;
        bool busy = false;
        unsigned early = 0;
        rng_seed(12);
        det_new(&d, DETECTOR_TYPE_SEASONAL);
        det_start(&d);
        for (unsigned i = 0; i < 14 * 288; i++, t += dt) {
                if (uniform() < 1.0 / 12)
                        busy = !busy;
                double x = (busy ? 20 : 10) + 0.5 * floor(2 * gauss() + 0.5);
                Verdict v = feed(&d, t, x);
                if (i >= 2 * 288 && v.anomalous)
                        early++;
        }
        assert_int_equal(early, 0);
        unsigned first = UINT32_MAX;
        for (unsigned i = 0; i < 12; i++, t += dt) {
                Verdict v = feed(&d, t, 35 + 0.5 * floor(2 * gauss() + 0.5));
                if (v.anomalous && first == UINT32_MAX)
                        first = i;
        }
        print_message("seasonal: a two-level series at a new level, caught after %u samples\n", first);
        assert_true(first <= 3);
        det_done(&d);
}

/* Two weeks of a spiky quantized series: a floor of 10 with noise in steps of 0.5, and a spike of one
 * sample to 40-60 every 6 hours or so (a cron job, a GC): the calibrated boundary of the sample test sits
 * beyond the spikes. Returns the detector, warmed up, with *t at the next sample; asserts that the two
 * weeks raise nothing. */
static void spiky_two_weeks(Det *d, double *t) {
        unsigned early = 0;
        det_new(d, DETECTOR_TYPE_SEASONAL);
        det_start(d);
        for (unsigned i = 0; i < 14 * 288; i++, *t += 300) {
                double x = 10 + 0.5 * floor(2 * gauss() + 0.5);
                if (i % 72 == 36 + (unsigned) (i / 72 * 7919) % 30)
                        x = 40 + 20 * uniform();
                Verdict v = feed(d, *t, x);
                if (i >= 2 * 288 && v.anomalous)
                        early++;
        }
        assert_int_equal(early, 0);
}

static void test_seasonal_novelty_burst(void **state) {
        /* A burst of two samples to 16 on the spiky series: far below its spikes, so no single sample is
         * remarkable, and too short for the run test, but two samples in a row far beyond where two
         * samples in a row have been -- caught by the novelty test's pair rule (without it: not at all).
         * Two samples a little high (11.5 and 12) are no news. */
        Det d;
        double t = T0;
        rng_seed(14);
        spiky_two_weeks(&d, &t);
        unsigned alarms = 0;
        for (unsigned i = 0; i < 24; i++, t += 300) {
                double x = i < 2 ? (i == 0 ? 11.5 : 12) : 10 + 0.5 * floor(2 * gauss() + 0.5);
                alarms += feed(&d, t, x).anomalous;
        }
        assert_int_equal(alarms, 0);
        unsigned first = UINT32_MAX;
        for (unsigned i = 0; i < 12; i++, t += 300) {
                double x = i < 2 ? 16 : 10 + 0.5 * floor(2 * gauss() + 0.5);
                if (feed(&d, t, x).anomalous && first == UINT32_MAX)
                        first = i;
        }
        print_message("seasonal: a two-sample burst on a spiky series, caught at sample %u\n", first);
        assert_true(first <= 1);
        det_done(&d);
}

static void test_seasonal_novelty_holdoff(void **state) {
        /* On the spiky series, bursts of two samples every 2 hours for 6 hours, each further out (16, 20,
         * 24) -- each one beyond where two samples have been, so each is novel again. The series that keeps
         * going out is one piece of news: one alarm episode for the three bursts (three without the
         * hold-off). A burst the other way is news at once, and a burst up again the next day too. */
        Det d;
        double t = T0;
        rng_seed(15);
        spiky_two_weeks(&d, &t);
        unsigned episodes = 0;
        bool prev = false;
        for (unsigned i = 0; i < 6 * 12; i++, t += 300) {
                double x = i % 24 < 2 ? 16 + 4 * (i / 24) : 10 + 0.5 * floor(2 * gauss() + 0.5);
                bool a = feed(&d, t, x).anomalous;
                episodes += a && !prev;
                prev = a;
        }
        print_message("seasonal: three bursts further and further out, %u alarm episode(s)\n", episodes);
        assert_int_equal(episodes, 1);
        unsigned down = 0, up = 0;
        for (unsigned i = 0; i < 24 * 12; i++, t += 300) {
                double x = 10 + 0.5 * floor(2 * gauss() + 0.5);
                if (i == 12 || i == 13)
                        x = -10;
                if (i == 23 * 12 || i == 23 * 12 + 1)
                        x = 45;
                Verdict v = feed(&d, t, x);
                down += i >= 12 && i < 24 && v.anomalous;
                up += i >= 23 * 12 && v.anomalous;
        }
        assert_true(down > 0);
        assert_true(up > 0);
        det_done(&d);
}

static void test_seasonal_extreme_threshold(void **state) {
        /* The largest threshold a rule may give (1000: the false-alarm rarity underflows a double and is
         * held at 1e-300) still gives finite boundaries after the recalibrations, and neither noise nor a
         * step of 20 sigmas raises anything. */
        Det d;
        double t = T0;
        rng_seed(13);
        det_new(&d, DETECTOR_TYPE_SEASONAL);
        d.p.threshold = 1000;
        det_start(&d);
        for (unsigned i = 0; i < 3 * 288; i++, t += 300) {
                Verdict v = feed(&d, t, (i < 2 * 288 ? 100 : 120) + gauss());
                assert_false(v.anomalous);
                if (!v.warming_up)
                        assert_true(isfinite(v.lower) && isfinite(v.upper) && isfinite(v.score));
        }
        det_done(&d);
}

/* ---- threshold, burnrate, trend ---- */

static void test_threshold(void **state) {
        Det d;
        det_new(&d, DETECTOR_TYPE_THRESHOLD);
        d.p.has_above = true;
        d.p.above = 10;
        d.p.has_below = true;
        d.p.below = 2;
        det_start(&d);
        Verdict v = feed(&d, 1, 5);
        assert_false(v.anomalous);
        assert_true(v.score <= 0);
        assert_true(v.lower >= 2 && v.lower <= 2 && v.upper >= 10 && v.upper <= 10);
        assert_true(isnan(v.expected));
        v = feed(&d, 2, 10.5);
        assert_true(v.anomalous && v.score >= 1);
        v = feed(&d, 3, 1);
        assert_true(v.anomalous);
        det_done(&d);

        det_new(&d, DETECTOR_TYPE_THRESHOLD);
        d.p.has_above = d.p.has_below = true;
        d.p.above = 10;
        d.p.below = 2;
        d.p.direction = DETECTOR_DIRECTION_UP;
        det_start(&d);
        assert_false(feed(&d, 1, 1).anomalous); /* below does not count when watching up */
        assert_true(feed(&d, 2, 11).anomalous);
        det_done(&d);
}

static void test_burnrate(void **state) {
        Det d;
        double t = T0;
        det_new(&d, DETECTOR_TYPE_BURNRATE); /* 99.9 %, [[1h, 5m, 14.4], [6h, 30m, 6]] */
        det_start(&d);
        /* 100 requests/s with 0.05 % errors for a day: half the budget, nothing */
        for (unsigned i = 0; i < 1440; i++, t += 60) {
                DetectorSample s = { .t = t, .local_t = t, .x = 0.05, .x2 = 100 };
                Verdict v;
                assert_int_equal(detector_update(&d.p, d.state, &s, &v), DETECTOR_OK);
                assert_false(v.anomalous);
                if (i > 60)
                        assert_true(fabs(v.expected - 0.1) < 1e-12);
        }
        /* an outage: 20 % errors; 14.4x over 1 h needs a 1.44 % error ratio in both windows */
        unsigned first = UINT32_MAX;
        double score = 0;
        for (unsigned i = 0; i < 30; i++, t += 60) {
                DetectorSample s = { .t = t, .local_t = t, .x = 20, .x2 = 100 };
                Verdict v;
                assert_int_equal(detector_update(&d.p, d.state, &s, &v), DETECTOR_OK);
                if (v.anomalous && first == UINT32_MAX)
                        first = i;
                score = v.score;
        }
        print_message("burnrate: 20%% errors caught after %u one-minute samples\n", first);
        assert_true(first <= 6);
        assert_true(score >= 1); /* 6000 requests a minute: the burn is certain */
        /* bad input */
        DetectorSample bad = { .t = t, .x = -1, .x2 = 1 };
        Verdict v;
        assert_int_equal(detector_update(&d.p, d.state, &bad, &v), DETECTOR_SKIPPED_NONFINITE);
        det_done(&d);
}

static void test_trend(void **state) {
        Det d;
        double t = T0;
        det_new(&d, DETECTOR_TYPE_TREND);
        d.p.limit = 100;
        d.p.horizon_seconds = 24 * 3600;
        d.p.window_seconds = 6 * 3600;
        det_start(&d);
        rng_seed(3);
        /* a disk at 50 % growing 1 % per hour: the projection reaches 100 % 24 h ahead at 76 %, after 26 h */
        double fired_at = NAN;
        for (unsigned i = 0; i < 40 * 60; i++, t += 60) {
                double x = 50 + (t - T0) / 3600 + 0.2 * gauss();
                Verdict v = feed(&d, t, x);
                if (v.anomalous && isnan(fired_at))
                        fired_at = (t - T0) / 3600;
                if (i > 600 && !v.warming_up)
                        assert_true(fabs(v.expected - (x + 24)) < 2);
        }
        print_message("trend: fired after %.2f h (projection crosses at 26 h)\n", fired_at);
        assert_true(fired_at > 25 && fired_at < 27);
        det_done(&d);

        /* a flat series never fires */
        det_new(&d, DETECTOR_TYPE_TREND);
        d.p.limit = 100;
        det_start(&d);
        t = T0;
        assert_int_equal(feed_noise(&d, &t, 3 * 1440, 60, 50, 2, 0), 0);
        det_done(&d);
}

/* ---- robustness of input handling ---- */

static void test_bad_input(void **state) {
        for (DetectorType k = 0; k < _DETECTOR_TYPE_MAX; k++) {
                Det d;
                det_new(&d, k);
                d.p.has_above = true;
                d.p.above = 1000;
                det_start(&d);
                size_t n = detector_state_size(&d.p);
                _cleanup_free_ void *copy = malloc(n);
                double t = T0;
                rng_seed(11);
                for (unsigned i = 0; i < 500; i++, t += 60) {
                        DetectorSample s = { .t = t, .local_t = t, .x = 100 + gauss(), .x2 = 1000 };
                        Verdict v;
                        assert_int_equal(detector_update(&d.p, d.state, &s, &v), DETECTOR_OK);
                }
                Verdict v;
                memcpy(copy, d.state, n);
                DetectorSample nan_s = { .t = t, .local_t = t, .x = NAN, .x2 = 1 };
                assert_int_equal(detector_update(&d.p, d.state, &nan_s, &v), DETECTOR_SKIPPED_NONFINITE);
                assert_memory_equal(copy, d.state, n);
                assert_true(isnan(v.expected) && v.score <= 0 && !v.anomalous);
                DetectorSample inf_s = { .t = t, .local_t = t, .x = INFINITY, .x2 = 1 };
                assert_int_equal(detector_update(&d.p, d.state, &inf_s, &v), DETECTOR_SKIPPED_NONFINITE);
                DetectorSample inf_t = { .t = INFINITY, .local_t = t, .x = 1, .x2 = 1 };
                assert_int_equal(detector_update(&d.p, d.state, &inf_t, &v), DETECTOR_SKIPPED_NONFINITE);
                DetectorSample old = { .t = t - 120, .local_t = t - 120, .x = 100, .x2 = 1000 };
                assert_int_equal(detector_update(&d.p, d.state, &old, &v), DETECTOR_SKIPPED_OUT_OF_ORDER);
                DetectorSample same = { .t = t - 60, .local_t = t - 60, .x = 100, .x2 = 1000 };
                assert_int_equal(detector_update(&d.p, d.state, &same, &v), DETECTOR_SKIPPED_OUT_OF_ORDER);
                assert_memory_equal(copy, d.state, n);
                det_done(&d);
        }
}

static void test_gaps_and_irregular(void **state) {
        /* ewma and seasonal on a stationary series sampled at random intervals of 20-100 s (about 20 days),
         * with gaps of 6 h and 2 days: no alarm after the gaps (at most one chance alarm over the whole run,
         * the design rate being about one per 50 days), and a spike after the long gap is still caught */
        DetectorType kinds[] = { DETECTOR_TYPE_EWMA, DETECTOR_TYPE_SEASONAL };
        for (size_t k = 0; k < ELEMENTSOF(kinds); k++) {
                Det d;
                double t = T0;
                unsigned alarms = 0, after_gap = 0;
                rng_seed(99);
                det_new(&d, kinds[k]);
                det_start(&d);
                for (unsigned i = 0; i < 30000; i++) {
                        Verdict v = feed(&d, t, 50 + 2 * gauss());
                        alarms += v.anomalous;
                        if ((i > 12000 && i <= 12300) || (i > 20000 && i <= 20300))
                                after_gap += v.anomalous;
                        t += 20 + 80 * uniform();
                        if (i == 12000)
                                t += 6 * 3600;
                        if (i == 20000)
                                t += 2 * 86400;
                }
                assert_int_equal(after_gap, 0);
                assert_true(alarms <= 1);
                Verdict v = feed(&d, t, 50 + 2 * 12);
                assert_true(v.anomalous);
                det_done(&d);
        }
}

/* ---- serialization ---- */

static void test_save_load(void **state) {
        for (DetectorType k = 0; k < _DETECTOR_TYPE_MAX; k++) {
                Det a, b;
                det_new(&a, k);
                a.p.has_above = true;
                a.p.above = 150;
                a.p.limit = 1000;
                det_start(&a);
                b.p = a.p;
                b.state = aligned_alloc(8, detector_state_size(&a.p));
                detector_state_init(&b.p, b.state);
                double t = T0;
                rng_seed(5);
                for (unsigned i = 0; i < 4000; i++, t += 60) {
                        DetectorSample s = { .t = t,
                                             .local_t = t + 3600,
                                             .x = load_shape(t, false) + gauss(),
                                             .x2 = 500 + gauss() };
                        Verdict v;
                        detector_update(&a.p, a.state, &s, &v);
                }
                size_t need = detector_state_save(&a.p, a.state, NULL, 0);
                assert_true(need > 24);
                _cleanup_free_ uint8_t *buf = malloc(need);
                assert_int_equal(detector_state_save(&a.p, a.state, buf, need), need);
                assert_int_equal(detector_state_load(&b.p, b.state, buf, need), 0);
                assert_memory_equal(a.state, b.state, detector_state_size(&a.p));

                /* identical verdicts afterwards, bit for bit */
                for (unsigned i = 0; i < 3000; i++, t += 60) {
                        DetectorSample s = { .t = t,
                                             .local_t = t + 3600,
                                             .x = load_shape(t, false) + gauss() + (i == 1000 ? 40 : 0),
                                             .x2 = 500 };
                        Verdict va, vb;
                        int ra = detector_update(&a.p, a.state, &s, &va),
                            rb = detector_update(&b.p, b.state, &s, &vb);
                        assert_int_equal(ra, rb);
                        assert_memory_equal(&va.score, &vb.score, sizeof(double));
                        assert_memory_equal(&va.p, &vb.p, sizeof(double));
                        assert_memory_equal(&va.expected, &vb.expected, sizeof(double));
                        assert_memory_equal(&va.lower, &vb.lower, sizeof(double));
                        assert_memory_equal(&va.upper, &vb.upper, sizeof(double));
                        assert_int_equal(va.anomalous, vb.anomalous);
                }

                /* refusals, each leaving the state untouched */
                size_t n = detector_state_size(&a.p);
                _cleanup_free_ void *before = malloc(n);
                memcpy(before, b.state, n);
                uint8_t version = buf[3];
                buf[3] = 99;
                assert_int_equal(detector_state_load(&b.p, b.state, buf, need), -EPROTONOSUPPORT);
                buf[3] = version;
                DetectorParams other = a.p;
                other.threshold = 5;
                assert_int_equal(detector_params_prepare(&other), 0);
                assert_int_equal(detector_state_load(&other, b.state, buf, need), -ESTALE);
                buf[need - 1] ^= 0x40;
                assert_int_equal(detector_state_load(&b.p, b.state, buf, need), -EBADMSG);
                buf[need - 1] ^= 0x40;
                assert_int_equal(detector_state_load(&b.p, b.state, buf, need - 1), -EBADMSG);
                assert_int_equal(detector_state_load(&b.p, b.state, buf, 10), -EBADMSG);
                buf[0] = 'X';
                assert_int_equal(detector_state_load(&b.p, b.state, buf, need), -EBADMSG);
                assert_memory_equal(before, b.state, n);

                /* the dump is valid JSON naming the kind */
                _cleanup_free_ char *dump = detector_state_dump(&a.p, a.state);
                assert_non_null(dump);
                json_error_t err;
                json_t *j = json_loads(dump, 0, &err);
                if (!j)
                        fail_msg("%s: %s", dump, err.text);
                assert_string_equal(json_string_value(json_object_get(j, "kind")), detector_type_to_string(k));
                json_decref(j);
                det_done(&a);
                det_done(&b);
        }
}

static const DetectorKind *kind_of(DetectorType k) {
        const DetectorKind *all[_DETECTOR_TYPE_MAX] = {
                [DETECTOR_TYPE_EWMA] = &detector_ewma,
                [DETECTOR_TYPE_SEASONAL] = &detector_seasonal,
                [DETECTOR_TYPE_THRESHOLD] = &detector_threshold,
                [DETECTOR_TYPE_CUSUM] = &detector_cusum,
                [DETECTOR_TYPE_BURNRATE] = &detector_burnrate,
                [DETECTOR_TYPE_TREND] = &detector_trend,
        };
        return all[k];
}

/* Whether field f of kind k is one that the kind derives when it loads an older version (migrate()). */
static bool field_migrated(DetectorType k, const char *name) {
        return k == DETECTOR_TYPE_SEASONAL && (streq(name, "pair_hi") || streq(name, "pair_lo"));
}

static void test_state_migration(void **state) {
        /* A state saved by an older format version (2 or 3) loads: every field it has keeps its value, the
         * fields added later start as in a new state or are derived (the seasonal pair envelope from the
         * medians' envelope); an upgrade does not forget what was learned, and the next verdicts raise
         * nothing that the original state would not. */
        for (uint8_t version = 2; version <= 3; version++)
                for (DetectorType k = 0; k < _DETECTOR_TYPE_MAX; k++) {
                        Det a, b;
                        det_new(&a, k);
                        a.p.has_above = true;
                        a.p.above = 150;
                        a.p.limit = 1000;
                        det_start(&a);
                        size_t size = detector_state_size(&a.p);
                        b.p = a.p;
                        b.state = aligned_alloc(8, size);
                        detector_state_init(&b.p, b.state);
                        _cleanup_free_ uint8_t *fresh = aligned_alloc(8, size);
                        detector_state_init(&a.p, fresh);
                        double t = T0;
                        rng_seed(6);
                        for (unsigned i = 0; i < 3000; i++, t += 60) {
                                /* spikes now and then, so that the tails have exceedances past the boundary */
                                DetectorSample s = { .t = t,
                                                     .local_t = t,
                                                     .x = load_shape(t, false) + gauss() +
                                                             (i % 500 == 499 ? 60 : 0),
                                                     .x2 = 500 + gauss() };
                                Verdict v;
                                detector_update(&a.p, a.state, &s, &v);
                        }
                        size_t need = detector_state_save_version(&a.p, a.state, NULL, 0, version);
                        assert_true(need > 24);
                        assert_true(need <= detector_state_save(&a.p, a.state, NULL, 0));
                        _cleanup_free_ uint8_t *buf = malloc(need);
                        assert_int_equal(detector_state_save_version(&a.p, a.state, buf, need, version), need);
                        assert_int_equal(buf[3], version);
                        assert_int_equal(detector_state_load(&b.p, b.state, buf, need), 0);

                        FieldDesc f[FIELDS_MAX];
                        size_t n = kind_of(k)->describe(&a.p, f), added = 0;
                        for (size_t i = 0; i < n; i++) {
                                size_t bytes = (f[i].type == FIELD_F64 || f[i].type == FIELD_U64 ? 8 : 4) *
                                        f[i].count;
                                const uint8_t *got = (const uint8_t *) b.state + f[i].offset;
                                added += f[i].since > version;
                                if (f[i].since > version && field_migrated(k, f[i].name))
                                        continue;
                                const uint8_t *want = (f[i].since > version ? fresh
                                                                            : (const uint8_t *) a.state) +
                                        f[i].offset;
                                if (memcmp(got, want, bytes) != 0)
                                        fail_msg(
                                                "%s from version %u: field %s",
                                                detector_type_to_string(k),
                                                version,
                                                f[i].name);
                        }
                        if (version == 2 &&
                            (k == DETECTOR_TYPE_EWMA || k == DETECTOR_TYPE_SEASONAL ||
                             k == DETECTOR_TYPE_CUSUM))
                                assert_true(added > 0); /* the kinds with a tail calibration */
                        if (k == DETECTOR_TYPE_SEASONAL)
                                assert_true(added > 0);

                        /* what follows on normal data: no alarm from either, nothing from the migration */
                        for (unsigned i = 0; i < 1000; i++, t += 60) {
                                DetectorSample s = { .t = t,
                                                     .local_t = t,
                                                     .x = load_shape(t, false) + gauss(),
                                                     .x2 = 500 + gauss() };
                                Verdict va, vb;
                                detector_update(&a.p, a.state, &s, &va);
                                detector_update(&b.p, b.state, &s, &vb);
                                if (vb.anomalous && !va.anomalous)
                                        fail_msg(
                                                "%s from version %u: an alarm after the upgrade at %u",
                                                detector_type_to_string(k),
                                                version,
                                                i);
                        }
                        /* the version before 2 is not read */
                        buf[3] = 1;
                        assert_int_equal(detector_state_load(&b.p, b.state, buf, need), -EPROTONOSUPPORT);
                        det_done(&a);
                        det_done(&b);
                }
}

static void test_nonfinite_state_survives(void **state) {
        /* NaN and Inf inside a state (fresh states hold NaN) survive a round trip bit for bit */
        Det a;
        det_new(&a, DETECTOR_TYPE_EWMA);
        det_start(&a);
        size_t need = detector_state_save(&a.p, a.state, NULL, 0);
        _cleanup_free_ uint8_t *buf = malloc(need);
        detector_state_save(&a.p, a.state, buf, need);
        size_t n = detector_state_size(&a.p);
        _cleanup_free_ void *copy = aligned_alloc(8, n);
        memset(copy, 0xa5, n);
        assert_int_equal(detector_state_load(&a.p, copy, buf, need), 0);
        assert_memory_equal(copy, a.state, n);
        det_done(&a);
}

int main(void) {
        gsl_set_error_handler_off();
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_score),
                cmocka_unit_test(test_fast_paths),
                cmocka_unit_test(test_params),
                cmocka_unit_test(test_ewma),
                cmocka_unit_test(test_seasonal_flat),
                cmocka_unit_test(test_cusum),
                cmocka_unit_test(test_seasonal_rhythm),
                cmocka_unit_test(test_seasonal_lasting_shift),
                cmocka_unit_test(test_seasonal_novelty),
                cmocka_unit_test(test_seasonal_novelty_burst),
                cmocka_unit_test(test_seasonal_novelty_holdoff),
                cmocka_unit_test(test_seasonal_extreme_threshold),
                cmocka_unit_test(test_seasonal_direction),
                cmocka_unit_test(test_recurring_faults),
                cmocka_unit_test(test_short_history),
                cmocka_unit_test(test_seasonal_daily_blip),
                cmocka_unit_test(test_threshold),
                cmocka_unit_test(test_burnrate),
                cmocka_unit_test(test_trend),
                cmocka_unit_test(test_bad_input),
                cmocka_unit_test(test_gaps_and_irregular),
                cmocka_unit_test(test_save_load),
                cmocka_unit_test(test_state_migration),
                cmocka_unit_test(test_nonfinite_state_survives),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

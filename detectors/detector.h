/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The detector contract. A detector is pure: update(params, state, sample) -> verdict, with no I/O, no
 * clock, no globals and no allocation on the per-sample path. Everything a detector knows arrives in the
 * sample: its timestamp t (seconds since the epoch, UTC; used for half-life decay, so irregular sampling
 * and gaps are normal) and local_t (the same instant in the rule's time zone, seconds, i.e. t + UTC offset;
 * used only for seasonal phase). The evaluator computes local_t, so tests and replay drive detectors with
 * exactly the inputs the daemon does.
 *
 * State is a fixed-size blob per series (detector_state_size()), owned by the caller. It serializes to a
 * versioned binary form (detector_state_save/load) and to JSON for people (detector_state_dump).
 *
 * Use: detector_params_init(&p, type) fills the published defaults, the caller overrides what a rule says,
 * detector_params_prepare(&p) validates and derives what the kinds need (bin counts, decision intervals,
 * the identity hash used by save/load). Every other function requires prepared params.
 *
 * Scores. p is a tail probability in each kind's own model and score = min(1, -log10(p) / 16), so equal
 * scores mean equal surprise across series and kinds. The z-score kinds (ewma, seasonal, and the band of
 * cusum and trend) use a Student-t tail with 10 degrees of freedom on a robust z: service metrics have heavy
 * tails, so a Gaussian tail would call a 6-sigma blip a one-in-a-billion event and saturate the score at
 * z = 8.3; with t(10) the default threshold (z = 4) scores 0.16, z = 10 scores 0.38, and the score reaches 1
 * only near z = 100. The tail is computed directly in log space (a table of cubics below z = 16, the exact
 * closed-form series above), never as 1 - CDF. For ewma and seasonal, z is measured in units of the series'
 * calibrated band: the alarm boundary comes from the series' own tails so that a false alarm is as rare in
 * time as a `threshold`-sigma Gaussian event every 5 minutes (detector-internal.h, "tail calibration"), and
 * z = threshold exactly at that boundary.
 *
 * This header is the only thing the evaluator uses; per-kind files (detector-ewma.c, ...) stay private.
 * detectors/ does not depend on rules/: the evaluator maps a rule's DetectorSpec to DetectorParams.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum DetectorType {
        DETECTOR_TYPE_EWMA,
        DETECTOR_TYPE_SEASONAL,
        DETECTOR_TYPE_THRESHOLD,
        DETECTOR_TYPE_CUSUM,
        DETECTOR_TYPE_BURNRATE,
        DETECTOR_TYPE_TREND,
        _DETECTOR_TYPE_MAX,
} DetectorType;

typedef enum DetectorDirection {
        DETECTOR_DIRECTION_BOTH,
        DETECTOR_DIRECTION_UP,
        DETECTOR_DIRECTION_DOWN,
} DetectorDirection;

#define DETECTOR_BURN_WINDOWS_MAX 8
#define DETECTOR_PERIODS_MAX 2

/* The Student-t degrees of freedom of the z-score tail model (see above). */
#define DETECTOR_TAIL_DOF 10

/* All durations in seconds (double). detector_params_init() sets the defaults noted here. */
typedef struct DetectorParams {
        DetectorType type;
        double threshold;            /* robust sigmas; default 4 */
        DetectorDirection direction; /* default both */
        double warmup_seconds;       /* no alarm before this much data time, or */
        uint64_t warmup_samples;     /* before this many samples (has_warmup: one of them is set) */
        bool has_warmup;             /* false: the kind's default warm-up (see detector_params_prepare) */

        double halflife_seconds; /* ewma (default 1800) and cusum's baseline (default 21600) */

        double periods_seconds[DETECTOR_PERIODS_MAX]; /* seasonal: 86400 and/or 604800; n_periods 0: detect */
        size_t n_periods;
        double resolution_seconds; /* seasonal phase bin width; 0: 15 min for the daily profile */

        double drift; /* cusum, in sigmas; default 0.5 */

        double above, below; /* threshold */
        bool has_above, has_below;

        double objective; /* burnrate: fraction of good events, e.g. 0.999 */
        struct {
                double long_seconds, short_seconds, factor;
        } windows[DETECTOR_BURN_WINDOWS_MAX];
        size_t n_windows; /* default [[1h, 5m, 14.4], [6h, 30m, 6]] */

        double limit;           /* trend */
        double horizon_seconds; /* default 1d */
        double window_seconds;  /* fit window; default 6h */

        /* Filled by detector_params_prepare(); callers only read it. */
        struct {
                bool prepared;
                uint64_t hash;         /* identity of everything that shapes state (save/load: -ESTALE) */
                size_t state_size;     /* bytes, multiple of 8 */
                double warmup_seconds; /* effective warm-up: both must be reached */
                uint64_t warmup_samples;
                double decay_rate; /* ln 2 / half-life, of the kind's main baseline */
                /* 1/threshold when dividing by threshold is exactly multiplying by it (a power of two, such
                 * as the default 4), else 0: the hot paths then multiply, with bit-identical results. */
                double threshold_inv_exact;
                /* cusum */
                double cusum_k, cusum_h; /* reference value and decision interval, in sigmas per sample */
                /* seasonal */
                unsigned seasonal_layout;    /* which profiles exist (see detector-seasonal.c) */
                uint32_t bins_d, bins_w;     /* daily and weekly phase bins (0: none) */
                double res_d, res_w;         /* their widths in seconds */
                double inv_res_d, inv_res_w; /* 1 / res_d, 1 / res_w */
                /* novelty test margins and the factors that put their boundaries at |z| = threshold */
                double nov_margin, nov_zscale, pair_margin, pair_zscale;
                /* burnrate: distinct window lengths and, per pair, indices into them */
                double burn_tau[2 * DETECTOR_BURN_WINDOWS_MAX];
                size_t n_tau;
                uint8_t pair_long[DETECTOR_BURN_WINDOWS_MAX], pair_short[DETECTOR_BURN_WINDOWS_MAX];
        } derived;
} DetectorParams;

/* One observation. For burnrate, x is the error count rate and x2 the total rate (both per second); other
 * kinds ignore x2. */
typedef struct DetectorSample {
        double t;       /* seconds since the epoch, UTC */
        double local_t; /* t shifted into the rule's time zone, for seasonal phase */
        double x;
        double x2;
} DetectorSample;

typedef struct Verdict {
        double score;   /* min(1, -log10(p) / 16); 0 during warm-up */
        double p;       /* the detector's tail probability for this sample (1 when unremarkable) */
        bool anomalous; /* this sample alone is past the threshold (for:/recover_for: are the evaluator's) */
        bool warming_up;
        double expected; /* the value the detector expected, NAN when it has none yet */
        double lower;    /* the band of normal values, NAN when none */
        double upper;
} Verdict;

/* Result codes of detector_update(). */
enum {
        DETECTOR_OK = 0,
        DETECTOR_SKIPPED_NONFINITE = 1,    /* x was NaN/Inf: state untouched, verdict all NAN/0 */
        DETECTOR_SKIPPED_OUT_OF_ORDER = 2, /* t not after the last sample: state untouched */
};

/* Defaults for a kind (everything else zero). */
void detector_params_init(DetectorParams *p, DetectorType type);

/* Check params for internal consistency; returns 0 or -EINVAL. */
int detector_params_validate(const DetectorParams *p);

/* Validate, then fill p->derived. Returns 0 or -EINVAL. Idempotent. */
int detector_params_prepare(DetectorParams *p);

/* Size and alignment (8) of the per-series state blob for these params; 0 if not prepared. */
size_t detector_state_size(const DetectorParams *p);
void detector_state_init(const DetectorParams *p, void *state);

/* Feed one sample. Returns DETECTOR_OK, or a DETECTOR_SKIPPED_* code (the sample was not used), or -EINVAL
 * for unprepared params. */
int detector_update(const DetectorParams *p, void *state, const DetectorSample *s, Verdict *ret);

/* Binary serialization: versioned and self-describing enough to refuse a blob made for other params.
 * save appends to buf (returns bytes needed if buf is too small, like snprintf); load returns 0,
 * -EBADMSG for corrupt input, -EPROTONOSUPPORT for an unknown version, -ESTALE if made for different
 * params. A failed load leaves state untouched. */
size_t detector_state_save(const DetectorParams *p, const void *state, void *buf, size_t buf_size);
int detector_state_load(const DetectorParams *p, void *state, const void *buf, size_t size);

/* A JSON object (as text, malloc'ed) describing the state, for people and the API. NULL on OOM. Non-finite
 * numbers are written as the strings "NaN", "Inf", "-Inf". */
char *detector_state_dump(const DetectorParams *p, const void *state);

/* score = min(1, -log10(p)/16), with p clamped to [1e-300, 1]. */
double detector_score_from_p(double p);

/* The z-score tail model: two-sided p of a robust z under Student-t(DETECTOR_TAIL_DOF), and its score.
 * Exposed for tests and for the evaluator's messages. */
double detector_tail_p(double z, double *ret_score);

const char *detector_type_to_string(DetectorType t);

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

/* All durations in seconds (double). A zero/unset value means "the kind's default" where documented. */
typedef struct DetectorParams {
        DetectorType type;
        double threshold;            /* robust sigmas */
        DetectorDirection direction;
        double warmup_seconds;       /* no alarm before this much data time, or */
        uint64_t warmup_samples;     /* before this many samples; both 0: the kind's default */
        bool has_warmup;

        double halflife_seconds; /* ewma */

        double periods_seconds[DETECTOR_PERIODS_MAX]; /* seasonal; n_periods 0: detect */
        size_t n_periods;
        double resolution_seconds;

        double drift; /* cusum */

        double above, below; /* threshold */
        bool has_above, has_below;

        double objective; /* burnrate: fraction of good events, e.g. 0.999 */
        struct {
                double long_seconds, short_seconds, factor;
        } windows[DETECTOR_BURN_WINDOWS_MAX];
        size_t n_windows;

        double limit; /* trend */
        double horizon_seconds;
        double window_seconds;
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
        double score;     /* min(1, -log10(p) / 16); 0 during warm-up */
        double p;         /* the detector's tail probability for this sample (1 when unremarkable) */
        bool anomalous;   /* this sample alone is past the threshold (for:/recover_for: are the evaluator's) */
        bool warming_up;
        double expected;  /* the value the detector expected, NAN when it has none yet */
        double lower;     /* the band of normal values, NAN when none */
        double upper;
} Verdict;

/* Result codes of detector_update(). */
enum {
        DETECTOR_OK = 0,
        DETECTOR_SKIPPED_NONFINITE = 1, /* x was NaN/Inf: state untouched, verdict all NAN/0 */
        DETECTOR_SKIPPED_OUT_OF_ORDER = 2, /* t not after the last sample: state untouched */
};

/* Check params for internal consistency; returns 0 or -EINVAL. */
int detector_params_validate(const DetectorParams *p);

/* Size and alignment (8) of the per-series state blob for these params. */
size_t detector_state_size(const DetectorParams *p);
void detector_state_init(const DetectorParams *p, void *state);

/* Feed one sample. Returns DETECTOR_OK, or a DETECTOR_SKIPPED_* code (the sample was not used). */
int detector_update(const DetectorParams *p, void *state, const DetectorSample *s, Verdict *ret);

/* Binary serialization: versioned and self-describing enough to refuse a blob made for other params.
 * save appends to buf (returns bytes needed if buf is too small, like snprintf); load returns 0,
 * -EBADMSG for corrupt input, -EPROTONOSUPPORT for an unknown version, -ESTALE if made for different
 * params. */
size_t detector_state_save(const DetectorParams *p, const void *state, void *buf, size_t buf_size);
int detector_state_load(const DetectorParams *p, void *state, const void *buf, size_t size);

/* A JSON object (as text, malloc'ed) describing the state, for people and the API. */
char *detector_state_dump(const DetectorParams *p, const void *state);

/* score = min(1, -log10(p)/16), with p clamped to [1e-300, 1]. */
double detector_score_from_p(double p);

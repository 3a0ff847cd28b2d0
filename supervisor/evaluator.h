/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The evaluator: rules × detectors over a stream of samples. It is the one piece of code that decides
 * whether a rule fires, and both `homeostatctl replay` and homeostatd run it unchanged; it does no I/O,
 * reads no clock and keeps no globals, so a backtest is the truth about what the daemon would have done.
 *
 * Samples arrive with their own timestamps (seconds since the epoch) and a series identity (metric name
 * plus a label set). The evaluator interns series, finds the rules whose selectors match (cached per
 * series), applies each rule's transform (counters become per-second rates with resets handled; the first
 * sample of a counter has no rate yet), computes seasonal local time in the rule's time zone, runs the
 * detector, and applies `for`, `recover_for` and `absent_for`. For every (sample, matching rule) it reports
 * one EvalRow through a callback (replay prints them; the daemon feeds incidents), including the firing
 * state transitions the incident machinery acts on.
 *
 * Time only moves forward through samples and evaluator_tick(): the daemon calls tick with the wall-clock
 * time so that absent_for and staleness work when no sample arrives.
 *
 * Lifetime: an Evaluator references, but does not own, the Config it was built from; the caller keeps
 * the Config alive as long as the Evaluator. On reload the daemon builds a new Evaluator for the new
 * Config and calls evaluator_adopt(), which carries learned state over for rules whose name and
 * fingerprint are unchanged.
 *
 * The rule's state machine, per (rule, subject): a subject is the series for ordinary rules and the join
 * group for burnrate rules (see below). An anomalous sample after normal ones starts a run at detected_at
 * = t (EVAL_PENDING); once the run has lasted `for` (t - detected_at >= for; immediately with for: 0) the
 * rule fires (EVAL_FIRING). A normal sample while pending ends the run (EVAL_CLEARED). While firing, the
 * first normal sample starts a normal run at normal_since = t; an anomalous sample cancels it; once it has
 * lasted `recover_for` the rule resolves (EVAL_RESOLVED) with resolved_at = normal_since, the start of the
 * final normal run. Only observed samples count: a gap neither fires nor resolves. Warm-up verdicts are
 * normal. A counter's first sample (no rate yet) changes nothing.
 *
 * absent_for, per rule: from the first time the evaluator sees (a sample or a tick), if no series matching
 * the rule's selector has had a sample for absent_for, evaluator_tick() reports EVAL_ABSENT once; the first
 * tick after a matching sample arrives again reports EVAL_RESOLVED (resolved_at = that sample's time). Both
 * rows have absent = true and the rule's selector text as their subject.
 *
 * burnrate rules have no `series`; samples matching the rule's `errors` or `total` selector are members.
 * Members are grouped by the values of the `on` labels (default none: every matched series is summed into
 * one group, like sum(rate(...)) in PromQL). Each member contributes its increase since its previous sample
 * (counters, or any series with transform: rate; with transform: raw the value is taken as a per-second
 * rate and integrated over the interval); the group's detector sees x = error rate and x2 = event rate over
 * the interval since its previous update. Members sampled at the same instant are integrated together at
 * the group's next instant; their rows carry the group's latest verdict.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "detector.h"
#include "rules.h"

typedef struct Evaluator Evaluator;
/* An interned series (owned by the Evaluator; valid until the Evaluator is freed or the series expires). */
typedef struct EvalSeries EvalSeries;

typedef enum SampleType {
        SAMPLE_UNKNOWN, /* decide by name: "_total", "_bucket", "_count", "_sum" are counters */
        SAMPLE_GAUGE,
        SAMPLE_COUNTER,
} SampleType;

typedef struct SampleIn {
        const char *metric;  /* metric name */
        const Label *labels; /* sorted by name, no __name__; the evaluator copies what it keeps */
        size_t n_labels;
        SampleType type;
        double t;     /* seconds since the epoch, UTC */
        double value; /* NaN/Inf: skipped and counted */
} SampleIn;

/* How a rule's state for one series changed with this sample (or tick). */
typedef enum EvalTransition {
        EVAL_NONE,     /* nothing changed */
        EVAL_PENDING,  /* first anomalous sample after normal: detected_at = t (for: not yet elapsed) */
        EVAL_FIRING,   /* for: has elapsed: the rule fires (an incident opens or reopens) */
        EVAL_CLEARED,  /* pending went back to normal before for: elapsed (no incident) */
        EVAL_RESOLVED, /* normal for recover_for: the rule stops firing; resolved_at = start of normal run */
        EVAL_ABSENT,   /* absent_for elapsed with no matching series: fires like EVAL_FIRING */
} EvalTransition;

typedef struct EvalRow {
        const Rule *rule;
        size_t rule_index;      /* index into Config.rules */
        const char *series_key; /* canonical `name{a="x",b="y"}`, labels sorted; valid during the callback */
        const char *metric;
        const Label *labels; /* the series' labels (sorted); valid during the callback */
        size_t n_labels;
        /* Whose firing state this row reports: the series itself, or for burnrate the join group
         * (`{on labels}`, "{}" for the single default group), or for absent rows the selector text. This is
         * what incidents belong to and what evaluator_is_firing() takes. */
        const char *subject_key;
        const Label *subject_labels;
        size_t n_subject_labels;
        bool absent; /* an absent_for row (EVAL_ABSENT or its EVAL_RESOLVED), from evaluator_tick() */
        double t;
        double value;    /* the input value */
        double x;        /* after transform; NAN when none yet (a counter's first sample) */
        Verdict verdict; /* score, anomalous, expected/lower/upper (units of x) */
        bool firing;     /* the rule fires for this series after this sample */
        EvalTransition transition;
        double detected_at; /* start of the current anomalous run (pending or firing), NAN if none */
        double resolved_at; /* with EVAL_RESOLVED: the start of the final normal run */
        bool from_tick;     /* produced by evaluator_tick (absent_for), not by a sample */
} EvalRow;

typedef void (*EvalCallback)(const EvalRow *row, void *userdata);

typedef struct EvaluatorStats {
        uint64_t samples;
        uint64_t skipped_nonfinite;
        uint64_t skipped_out_of_order;
        uint64_t series;
        uint64_t rows;
        uint64_t expired; /* series dropped by evaluator_tick() after stale_seconds without samples */
} EvaluatorStats;

typedef struct EvaluatorOptions {
        const char *zoneinfo_dir; /* NULL: /usr/share/zoneinfo */
        double stale_seconds;     /* drop series (not firing) without samples for this long; 0: 7 days,
                                   * INFINITY: never (replay) */
        size_t *ret_bad_rule; /* if not NULL, set to the index of the rule that failed evaluator_new_full() */
} EvaluatorOptions;

/* Result codes of evaluator_push() besides 0 and negative errnos. */
enum {
        EVAL_SKIPPED_NONFINITE = 1,    /* NaN/Inf value or time: counted, no rows */
        EVAL_SKIPPED_OUT_OF_ORDER = 2, /* not after the series' previous sample: counted, no rows */
};

/* Build an evaluator: maps every rule's detector to DetectorParams and loads each rule's time zone once
 * (/usr/share/zoneinfo/NAME; "UTC" needs no file). -EINVAL if a rule's detector parameters are invalid,
 * -ENOENT/-EBADMSG/-EINVAL if a time zone cannot be loaded, -ENOMEM. */
int evaluator_new(const Config *config, Evaluator **ret);
int evaluator_new_full(const Config *config, const EvaluatorOptions *opts, Evaluator **ret);
Evaluator *evaluator_free(Evaluator *e);
static inline void evaluator_freep(Evaluator **e) {
        if (*e)
                evaluator_free(*e);
}

/* Feed one sample; calls cb once per matching rule, in rule order. Returns 0, EVAL_SKIPPED_* (counted, no
 * rows), or a negative errno (-ENOMEM). */
int evaluator_push(Evaluator *e, const SampleIn *s, EvalCallback cb, void *userdata);

/* The same in two steps, for callers that see the same series over and over (replay, a scrape loop with a
 * series cache): intern once, then push values. evaluator_push() is evaluator_intern() + this. */
int evaluator_intern(
        Evaluator *e, const char *metric, const Label *labels, size_t n_labels, SampleType type, EvalSeries **ret);
int evaluator_push_series(
        Evaluator *e, EvalSeries *series, double t, double value, EvalCallback cb, void *userdata);
const char *eval_series_key(const EvalSeries *series);
/* How many rules match the series (0: its samples produce no rows). */
size_t eval_series_n_rules(const EvalSeries *series);

/* Advance time without a sample (absent_for, expiry of stale series). Time never goes back: a t before the
 * latest time seen is ignored. */
int evaluator_tick(Evaluator *e, double t, EvalCallback cb, void *userdata);

/* Move learned state from old into e for rules with the same name and fingerprint. */
int evaluator_adopt(Evaluator *e, Evaluator *old);

/* The firing state of a rule for one subject key (EvalRow.subject_key), for incident verification. */
bool evaluator_is_firing(const Evaluator *e, size_t rule_index, const char *series_key);

/* Whether any rule has absent_for (callers that replay files tick only then). */
bool evaluator_uses_absent(const Evaluator *e);

void evaluator_get_stats(const Evaluator *e, EvaluatorStats *ret);

/* Persist and restore all learned state (series, transform state, detector state, for/recover_for
 * timers, burnrate groups, absent_for timers) in a versioned binary format; load refuses (-EBADMSG,
 * -EPROTONOSUPPORT) corrupt or unknown data without changing e, and skips entries whose rule name or
 * fingerprint no longer match (and detector states made for other parameters). Load is meant for a fresh
 * evaluator; series it already has are overwritten. */
int evaluator_save(const Evaluator *e, FILE *f);
int evaluator_load(Evaluator *e, FILE *f);

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
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "detector.h"
#include "rules.h"

typedef struct Evaluator Evaluator;

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
        EVAL_NONE,      /* nothing changed */
        EVAL_PENDING,   /* first anomalous sample after normal: detected_at = t (for: not yet elapsed) */
        EVAL_FIRING,    /* for: has elapsed: the rule fires (an incident opens or reopens) */
        EVAL_CLEARED,   /* pending went back to normal before for: elapsed (no incident) */
        EVAL_RESOLVED,  /* normal for recover_for: the rule stops firing; resolved_at = start of normal run */
        EVAL_ABSENT,    /* absent_for elapsed with no matching series: fires like EVAL_FIRING */
} EvalTransition;

typedef struct EvalRow {
        const Rule *rule;
        size_t rule_index;      /* index into Config.rules */
        const char *series_key; /* canonical `name{a="x",b="y"}`, labels sorted; valid during the callback */
        const char *metric;
        const Label *labels; /* the series' labels (sorted); valid during the callback */
        size_t n_labels;
        double t;
        double value;         /* the input value */
        double x;             /* after transform; NAN when none yet (a counter's first sample) */
        Verdict verdict;      /* score, anomalous, expected/lower/upper (units of x) */
        bool firing;          /* the rule fires for this series after this sample */
        EvalTransition transition;
        double detected_at;   /* start of the current anomalous run (pending or firing), NAN if none */
        double resolved_at;   /* with EVAL_RESOLVED: the start of the final normal run */
        bool from_tick;       /* produced by evaluator_tick (absent_for), not by a sample */
} EvalRow;

typedef void (*EvalCallback)(const EvalRow *row, void *userdata);

typedef struct EvaluatorStats {
        uint64_t samples;
        uint64_t skipped_nonfinite;
        uint64_t skipped_out_of_order;
        uint64_t series;
        uint64_t rows;
} EvaluatorStats;

int evaluator_new(const Config *config, Evaluator **ret);
Evaluator *evaluator_free(Evaluator *e);

/* Feed one sample; calls cb once per matching rule, in rule order. Returns 0 or a negative errno
 * (-ENOMEM). Non-finite and out-of-order samples are counted and produce no rows. */
int evaluator_push(Evaluator *e, const SampleIn *s, EvalCallback cb, void *userdata);

/* Advance time without a sample (absent_for, expiry of stale series). */
int evaluator_tick(Evaluator *e, double t, EvalCallback cb, void *userdata);

/* Move learned state from old into e for rules with the same name and fingerprint. */
int evaluator_adopt(Evaluator *e, Evaluator *old);

/* The firing state of a rule for one series key, for incident verification. */
bool evaluator_is_firing(const Evaluator *e, size_t rule_index, const char *series_key);

void evaluator_get_stats(const Evaluator *e, EvaluatorStats *ret);

/* Persist and restore all learned state (series, transform state, detector state, for/recover_for
 * timers) in a versioned binary format; load refuses (-EBADMSG, -EPROTONOSUPPORT) corrupt or unknown
 * data without changing e, and skips entries whose rule name or fingerprint no longer match. */
int evaluator_save(const Evaluator *e, FILE *f);
int evaluator_load(Evaluator *e, FILE *f);

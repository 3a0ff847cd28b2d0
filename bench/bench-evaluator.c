/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Evaluator overhead per sample: what the evaluator adds around detector_update() in replay and in the
 * daemon. 10 000 series, one rule over all of them, one sample per series per round (10 s apart); for each
 * rule kind three figures, nanoseconds per sample, thread CPU time, best of --repeat runs:
 *
 *   detector      detector_update() alone on the same parameters and states laid out in an array: the
 *                 baseline, measured in the same run
 *   push_series   evaluator_push_series() on a pre-interned series (what replay does): the detector plus
 *                 the rule loop, transform, local time, the for/recover_for step and the row callback
 *   push          evaluator_push() with metric and labels (what the daemon does per scraped sample):
 *                 the above plus interning (series key, hash, lookup)
 *
 * The overhead is push_series - detector (evaluation) and push - push_series (interning). Rules: threshold
 * (the cheapest detector, so the overhead is what shows), ewma, seasonal with a time zone (local time for
 * the phase) and ewma on a counter (transform: per-second rate). Nothing is asserted.
 * Usage: bench-evaluator [--seconds S] [--repeat N]
 */
#include <gsl/gsl_errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evaluator.h"
#include "util.h"

#define N_SERIES 10000
#define T0 1.7e9
#define STEP 10.0
#define WARM_ROUNDS 400

static double budget = 0.1;
static unsigned repeat = 5;

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static void on_row(const EvalRow *row, void *userdata) {
        *(uint64_t *) userdata += row->verdict.anomalous;
}

typedef struct Case {
        const char *name;
        const char *metric;
        const char *detector; /* the rule's detector line */
        const char *extra;    /* more rule keys */
        DetectorType type;
        bool counter;
} Case;

static const Case cases[] = {
        { "threshold", "bench_value", "{kind: threshold, above: 1000}", "", DETECTOR_TYPE_THRESHOLD, false },
        { "ewma", "bench_value", "{kind: ewma}", "", DETECTOR_TYPE_EWMA, false },
        { "seasonal",
          "bench_value",
          "{kind: seasonal}",
          "    timezone: Europe/Berlin\n",
          DETECTOR_TYPE_SEASONAL,
          false },
        { "ewma, rate", "bench_requests_total", "{kind: ewma}", "", DETECTOR_TYPE_EWMA, true },
};

/* The value of series i in round k: a daily rhythm (a counter: its running sum). */
static double value_of(size_t i, uint64_t k, bool counter) {
        double t = k * STEP,
               g = 100 + 40 * sin(2 * M_PI * t / 86400 + (double) (i % 17)) + (double) ((i * 7 + k * 13) % 11);
        return counter ? (double) k * 100 + g : g;
}

typedef struct Figures {
        double detector, push_series, push; /* ns per sample */
} Figures;

static int run_case(const Case *c, Figures *ret) {
        char text[1024];
        _cleanup_(config_freep) Config *config = NULL;
        _cleanup_(evaluator_freep) Evaluator *e = NULL;
        Diagnostics diags = {};
        char ids[N_SERIES][8];
        Label labels[N_SERIES][2];
        static EvalSeries *series[N_SERIES];
        uint64_t sink = 0, k = 0;
        int r;

        snprintf(
                text,
                sizeof(text),
                "sources:\n"
                "  - {name: bench, prometheus: 'http://127.0.0.1:9/metrics'}\n"
                "rules:\n"
                "  - name: bench\n"
                "    series: '%s{source=\"bench\"}'\n"
                "    detector: %s\n%s",
                c->metric,
                c->detector,
                c->extra);
        r = config_load_buffer("bench.yaml", text, strlen(text), NULL, &config, &diags);
        if (r < 0) {
                diagnostics_print(&diags, stderr);
                return r;
        }
        diagnostics_done(&diags);
        r = evaluator_new(config, &e);
        if (r < 0)
                return r;
        for (size_t i = 0; i < N_SERIES; i++) {
                snprintf(ids[i], sizeof(ids[i]), "%zu", i);
                labels[i][0] = (Label){ "id", ids[i] };
                labels[i][1] = (Label){ "source", "bench" };
                r = evaluator_intern(e, c->metric, labels[i], 2, SAMPLE_UNKNOWN, &series[i]);
                if (r < 0)
                        return r;
        }
        for (; k < WARM_ROUNDS; k++)
                for (size_t i = 0; i < N_SERIES; i++)
                        (void) evaluator_push_series(
                                e, series[i], T0 + k * STEP, value_of(i, k, c->counter), on_row, &sink);

        /* The detector alone: the same parameters, states warmed on the same values. */
        DetectorParams p;
        detector_params_init(&p, c->type);
        if (c->type == DETECTOR_TYPE_THRESHOLD) {
                p.has_above = true;
                p.above = 1000;
        }
        if (detector_params_prepare(&p) < 0)
                return -EINVAL;
        size_t stride = (detector_state_size(&p) + 63) & ~(size_t) 63;
        uint8_t *states = aligned_alloc(64, stride * N_SERIES);
        if (!states)
                return -ENOMEM;
        uint64_t dk = 1; /* a counter's rate needs the round before */
        for (size_t i = 0; i < N_SERIES; i++)
                detector_state_init(&p, states + i * stride);
        for (; dk < WARM_ROUNDS; dk++)
                for (size_t i = 0; i < N_SERIES; i++) {
                        Verdict v;
                        double prev = value_of(i, dk - 1, c->counter);
                        DetectorSample s = { .t = T0 + dk * STEP, .local_t = T0 + dk * STEP + 3600 };
                        s.x = c->counter ? (value_of(i, dk, c->counter) - prev) / STEP
                                         : value_of(i, dk, false);
                        detector_update(&p, states + i * stride, &s, &v);
                }

        *ret = (Figures){ INFINITY, INFINITY, INFINITY };
        for (unsigned rep = 0; rep < repeat; rep++) {
                double start, el;
                uint64_t n;
                /* The values are computed the same way in all three loops (their cost is in every figure). */
                n = 0;
                start = now_s();
                do {
                        for (size_t i = 0; i < N_SERIES; i++) {
                                Verdict v;
                                double x = value_of(i, dk, c->counter);
                                DetectorSample s = { .t = T0 + dk * STEP, .local_t = T0 + dk * STEP + 3600 };
                                s.x = c->counter ? (x - value_of(i, dk - 1, c->counter)) / STEP : x;
                                detector_update(&p, states + i * stride, &s, &v);
                                sink += v.anomalous;
                        }
                        dk++;
                        n += N_SERIES;
                        el = now_s() - start;
                } while (el < budget);
                ret->detector = MIN(ret->detector, el / n * 1e9);

                n = 0;
                start = now_s();
                do {
                        for (size_t i = 0; i < N_SERIES; i++)
                                (void) evaluator_push_series(
                                        e, series[i], T0 + k * STEP, value_of(i, k, c->counter), on_row, &sink);
                        k++;
                        n += N_SERIES;
                        el = now_s() - start;
                } while (el < budget);
                ret->push_series = MIN(ret->push_series, el / n * 1e9);

                n = 0;
                start = now_s();
                do {
                        for (size_t i = 0; i < N_SERIES; i++) {
                                SampleIn s = {
                                        .metric = c->metric,
                                        .labels = labels[i],
                                        .n_labels = 2,
                                        .type = SAMPLE_UNKNOWN,
                                        .t = T0 + k * STEP,
                                        .value = value_of(i, k, c->counter),
                                };
                                (void) evaluator_push(e, &s, on_row, &sink);
                        }
                        k++;
                        n += N_SERIES;
                        el = now_s() - start;
                } while (el < budget);
                ret->push = MIN(ret->push, el / n * 1e9);
        }
        free(states);
        if (sink == 1)
                puts("");
        return 0;
}

int main(int argc, char *argv[]) {
        gsl_set_error_handler_off();
        for (int i = 1; i < argc; i++) {
                uint64_t u;
                if (streq(argv[i], "--seconds") && i + 1 < argc) {
                        if (parse_double(argv[i + 1], strlen(argv[i + 1]), &budget) < 0 || !(budget > 0) ||
                            budget > 600)
                                goto usage;
                        i++;
                } else if (streq(argv[i], "--repeat") && i + 1 < argc) {
                        if (safe_atou64(argv[i + 1], &u) < 0 || u == 0 || u > 100)
                                goto usage;
                        repeat = (unsigned) u;
                        i++;
                } else
                        goto usage;
        }

        printf("evaluator overhead per sample, %d series, one rule, 10 s rounds; ns per sample (thread CPU time, best "
               "of %u runs of %.2f s)\n",
               N_SERIES,
               repeat,
               budget);
        printf("  %-12s %9s %12s %9s   %10s %10s\n",
               "rule",
               "detector",
               "push_series",
               "push",
               "evaluation",
               "interning");
        for (size_t c = 0; c < ELEMENTSOF(cases); c++) {
                Figures f;
                int r = run_case(&cases[c], &f);
                if (r < 0) {
                        fprintf(stderr, "bench-evaluator: %s: %s\n", cases[c].name, strerror(-r));
                        return 1;
                }
                printf("  %-12s %9.1f %12.1f %9.1f   %10.1f %10.1f\n",
                       cases[c].name,
                       f.detector,
                       f.push_series,
                       f.push,
                       f.push_series - f.detector,
                       f.push - f.push_series);
        }
        printf("  (evaluation = push_series - detector: rule loop, transform, local time, for/recover_for, row "
               "callback; interning = push - push_series: series key, hash, lookup)\n");
        return 0;
usage:
        fprintf(stderr, "usage: bench-evaluator [--seconds S] [--repeat N]\n");
        return 2;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Detector speed: updates per second per core for each kind on one series, bytes of state per series, a
 * 10 000-series mix of kinds fed like a scrape loop (every series one sample per round), and the shortest
 * double formatter against printf. Every figure is printed with a baseline measured in the same run: for
 * detectors the cheapest possible "detector" (an exponentially weighted mean, one multiply-add per sample,
 * over the same data through the same call shape), for formatting glibc's "%.17g". Nothing is asserted:
 * this is a benchmark, run by `meson test --benchmark` or directly.
 *
 * Data: a daily rhythm with 2 % noise sampled every 10 s (so seasonal refits and tail recalibrations are
 * amortized as in production), starting 2024-01-01. Options: bench-detectors [SECONDS-PER-FIGURE].
 */
#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detector.h"
#include "fmt-double.h"
#include "macro.h"

#define N_DATA (1u << 20)
#define T0 1704067200.0

static double *data;
static double budget = 1.0;

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng_state = 12345;

static double uniform(void) {
        uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        return ((double) (z >> 11) + 0.5) / 9007199254740992.0;
}

static void make_data(void) {
        data = malloc(sizeof(double) * N_DATA);
        if (!data)
                abort();
        for (unsigned i = 0; i < N_DATA; i++) {
                double t = i * 10.0, g = sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform());
                data[i] = (100 + 40 * sin(2 * M_PI * t / 86400)) * (1 + 0.02 * g);
        }
}

/* The baseline "detector": one exponentially weighted mean, called like detector_update(). */
typedef struct Baseline {
        double mean;
} Baseline;

__attribute__((noinline)) static int baseline_update(Baseline *b, const DetectorSample *s, Verdict *v) {
        b->mean += (s->x - b->mean) * 0.01;
        v->expected = b->mean;
        v->score = 0;
        return 0;
}

static double run_baseline(uint64_t *ret_n) {
        Baseline b = { 0 };
        Verdict v;
        double sink = 0, start = now_s(), el;
        uint64_t n = 0;
        do {
                for (unsigned i = 0; i < N_DATA; i++) {
                        DetectorSample s = { .t = T0 + 10.0 * (double) (n + i), .x = data[i] };
                        s.local_t = s.t;
                        baseline_update(&b, &s, &v);
                        sink += v.expected;
                }
                n += N_DATA;
                el = now_s() - start;
        } while (el < budget);
        if (sink < -1) /* keep the loop */
                puts("");
        *ret_n = n;
        return n / el;
}

static void params_for(DetectorType k, DetectorParams *p) {
        detector_params_init(p, k);
        if (k == DETECTOR_TYPE_THRESHOLD) {
                p->has_above = true;
                p->above = 1000;
        }
        if (k == DETECTOR_TYPE_TREND)
                p->limit = 1000;
        if (detector_params_prepare(p) < 0)
                abort();
}

static double run_kind(DetectorType k, uint64_t *ret_n, uint64_t *ret_anomalies) {
        DetectorParams p;
        params_for(k, &p);
        void *st = aligned_alloc(64, (detector_state_size(&p) + 63) & ~(size_t) 63);
        detector_state_init(&p, st);
        Verdict v;
        double sink = 0, start = now_s(), el;
        uint64_t n = 0, anomalies = 0;
        do {
                for (unsigned i = 0; i < N_DATA; i++) {
                        DetectorSample s = { .t = T0 + 10.0 * (double) (n + i),
                                             .x = data[i],
                                             .x2 = data[i] * 50 };
                        s.local_t = s.t;
                        detector_update(&p, st, &s, &v);
                        sink += v.score;
                        anomalies += v.anomalous;
                }
                n += N_DATA;
                el = now_s() - start;
        } while (el < budget);
        if (sink < 0)
                puts("");
        free(st);
        *ret_n = n;
        *ret_anomalies = anomalies;
        return n / el;
}

/* 10 000 series, kinds mixed as a host would run them, fed round by round. */
static void run_mix(double base_rate) {
        enum { N_SERIES = 10000 };
        static const struct {
                DetectorType type;
                unsigned share; /* per 100 series */
        } mix[] = {
                { DETECTOR_TYPE_SEASONAL, 50 },  { DETECTOR_TYPE_EWMA, 25 }, { DETECTOR_TYPE_CUSUM, 10 },
                { DETECTOR_TYPE_THRESHOLD, 10 }, { DETECTOR_TYPE_TREND, 4 }, { DETECTOR_TYPE_BURNRATE, 1 },
        };
        DetectorParams params[ELEMENTSOF(mix)];
        static void *states[N_SERIES];
        static unsigned kind_of[N_SERIES];
        size_t bytes = 0;
        for (size_t m = 0; m < ELEMENTSOF(mix); m++)
                params_for(mix[m].type, &params[m]);
        for (unsigned i = 0; i < N_SERIES; i++) {
                unsigned slot = i % 100, m = 0, acc = 0;
                while (slot >= acc + mix[m].share)
                        acc += mix[m++].share;
                kind_of[i] = m;
                size_t sz = detector_state_size(&params[m]);
                states[i] = aligned_alloc(64, (sz + 63) & ~(size_t) 63);
                detector_state_init(&params[m], states[i]);
                bytes += sz;
        }
        /* warm up one simulated day (8640 rounds of 10 s would take long: 3 hours of data) */
        double t = T0, sink = 0;
        Verdict v;
        for (unsigned r = 0; r < 1080; r++, t += 10)
                for (unsigned i = 0; i < N_SERIES; i++) {
                        DetectorSample s = { .t = t, .local_t = t, .x = data[(r * 7 + i) % N_DATA], .x2 = 50 };
                        detector_update(&params[kind_of[i]], states[i], &s, &v);
                }
        double start = now_s(), el;
        uint64_t n = 0;
        unsigned r = 0;
        do {
                for (unsigned rr = 0; rr < 20; rr++, r++, t += 10)
                        for (unsigned i = 0; i < N_SERIES; i++) {
                                DetectorSample s = {
                                        .t = t, .local_t = t, .x = data[(r * 7 + i) % N_DATA], .x2 = 50
                                };
                                detector_update(&params[kind_of[i]], states[i], &s, &v);
                                sink += v.score;
                        }
                n += 20 * N_SERIES;
                el = now_s() - start;
        } while (el < budget * 2);
        printf("mix of 10000 series (50%% seasonal, 25%% ewma, 10%% cusum, 10%% threshold, 4%% trend, 1%% burnrate):\n"
               "  %.2f M updates/s per core (%.1f ns/update, %.1fx the baseline's time), state %.1f MB (%.0f bytes/series)\n",
               n / el / 1e6,
               el / n * 1e9,
               base_rate / (n / el),
               bytes / 1e6,
               (double) bytes / N_SERIES);
        if (sink < 0)
                puts("");
        for (unsigned i = 0; i < N_SERIES; i++)
                free(states[i]);
}

static void run_fmt(void) {
        enum { N = 1 << 20 };
        double *v = malloc(sizeof(double) * N);
        char buf[64];
        size_t total = 0;
        for (unsigned i = 0; i < N; i++)
                v[i] = i % 3 == 0 ? data[i % N_DATA] : i % 3 == 1 ? uniform() : (double) (i % 100000) / 1000;
        double start = now_s();
        for (unsigned i = 0; i < N; i++)
                total += fmt_double(buf, v[i]);
        double ours = now_s() - start;
        start = now_s();
        for (unsigned i = 0; i < N; i++)
                total += (size_t) snprintf(buf, sizeof(buf), "%.17g", v[i]);
        double libc17 = now_s() - start;
        start = now_s();
        for (unsigned i = 0; i < N; i++)
                total += (size_t) snprintf(buf, sizeof(buf), "%.6g", v[i]);
        double libc6 = now_s() - start;
        printf("double formatting, %d values (a third each: metric values, uniform [0,1), 3-decimal numbers):\n"
               "  fmt_double %.1f ns/value (shortest round trip); snprintf %%.17g %.1f ns (%.1fx slower), %%.6g %.1f ns "
               "(%.1fx slower, not round-trip)\n",
               N,
               ours / N * 1e9,
               libc17 / N * 1e9,
               libc17 / ours,
               libc6 / N * 1e9,
               libc6 / ours);
        if (total == 1)
                puts("");
        free(v);
}

int main(int argc, char *argv[]) {
        gsl_set_error_handler_off();
        if (argc > 1)
                budget = strtod(argv[1], NULL);
        if (!(budget > 0))
                budget = 1;
        make_data();

        uint64_t n;
        double base = run_baseline(&n);
        printf("detector updates on one series (10 s samples, daily rhythm, 2%% noise), %.1f s per figure\n",
               budget);
        printf("  %-10s %8.1f M/s  %6.1f ns/update  (baseline: one EW mean through the same call)\n",
               "baseline",
               base / 1e6,
               1e9 / base);
        for (DetectorType k = 0; k < _DETECTOR_TYPE_MAX; k++) {
                uint64_t anomalies;
                double rate = run_kind(k, &n, &anomalies);
                DetectorParams p;
                params_for(k, &p);
                printf("  %-10s %8.1f M/s  %6.1f ns/update  %5.1fx baseline time  state %5zu bytes%s\n",
                       detector_type_to_string(k),
                       rate / 1e6,
                       1e9 / rate,
                       base / rate,
                       detector_state_size(&p),
                       k == DETECTOR_TYPE_EWMA ? " (64 hot)" : "");
        }
        run_mix(base);
        run_fmt();
        free(data);
        return 0;
}

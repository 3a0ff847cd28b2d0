/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Detector speed: updates per second per core and nanoseconds per update for each kind, on one series and
 * on 10 000 series of the kind (states laid out in one array, one sample per series per round, as a scrape
 * loop feeds them), bytes of state per series, a 10 000-series mix of kinds (the realistic figure), and the
 * shortest double formatter against printf. Every figure is printed with a baseline measured in the same
 * run: for detectors the cheapest possible "detector" (an exponentially weighted mean, one multiply-add per
 * sample, over the same data through the same call shape and the same state layout), for formatting glibc's
 * "%.17g". Times are the thread's CPU time (per core; time the scheduler gives to other processes does not
 * count) and each figure is the best of --repeat short runs (on a shared machine the best run is the one
 * least disturbed by cache and frequency effects of neighbours); the load average before and after is
 * printed. Nothing is asserted: this is a benchmark.
 *
 * Data: a daily rhythm with 2 % noise sampled every 10 s, starting 2024-01-01. States are warmed up on 8
 * days of data first (seasonal profiles fitted and active, tail calibrations done), then measured on the
 * following samples, so refits and recalibrations are amortized as in production. The many-series and mix
 * figures clone the warmed state of each kind into every series.
 *
 * Usage:
 *   bench-detectors [--seconds S] [--repeat N] [--kind KIND]   the report (default: best of 10 runs of
 *                                                               0.05 s; --kind: only that kind)
 *   bench-detectors --count KIND|baseline|mix N [STEP]
 *     warm up, then feed exactly N samples (STEP seconds apart, default 10) inside count_loop(), for
 *     callgrind's instruction counts (bench/bench-instructions.sh runs it).
 */
#include <gsl/gsl_errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "detector.h"
#include "fmt-double.h"
#include "macro.h"
#include "util.h"

#define DAY_SAMPLES 8640u          /* one day of 10 s samples: the rhythm's period in samples */
#define N_DATA (120 * DAY_SAMPLES) /* whole days, so that the rhythm stays in phase where indices wrap */
#define T0 1704067200.0
#define STEP 10.0
#define WARM_SECONDS (8 * 86400.0)
#define N_SERIES 10000
#define LINE 64

static double *data; /* N_DATA samples, stored twice */
/* Series i reads the data some whole days later than series 0 (other noise, the same phase of the rhythm
 * as the state it was cloned from learned): series_offset[i] < N_DATA. */
static unsigned series_offset[N_SERIES];
static double budget = 0.05;
static unsigned repeat = 10;

/* CPU time of this thread: the figures are per core, and time the scheduler gives to other processes on a
 * shared machine is not ours. */
static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
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
        data = malloc(sizeof(double) * 2 * N_DATA);
        if (!data)
                abort();
        for (unsigned i = 0; i < N_DATA; i++) {
                double t = i * STEP, g = sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform());
                data[i] = (100 + 40 * sin(2 * M_PI * t / 86400)) * (1 + 0.02 * g);
        }
        memcpy(data + N_DATA, data, sizeof(double) * N_DATA);
        for (unsigned i = 0; i < N_SERIES; i++)
                series_offset[i] = (i % 97) * DAY_SAMPLES;
}

static void loadavg(double ret[static 1]) {
        FILE *f = fopen("/proc/loadavg", "re");
        ret[0] = NAN;
        if (f) {
                if (fscanf(f, "%lf", &ret[0]) != 1)
                        ret[0] = NAN;
                fclose(f);
        }
}

/* ---- the kinds under test, and the baseline ---- */

/* The baseline "detector": one exponentially weighted mean, called like detector_update() through a
 * function pointer the compiler cannot see through (as detector_update() is in another library). */
typedef struct Baseline {
        double mean;
} Baseline;

__attribute__((noinline)) static int
        baseline_update(const DetectorParams *p, void *state, const DetectorSample *s, Verdict *v) {
        Baseline *b = state;
        b->mean += (s->x - b->mean) * 0.01;
        v->expected = b->mean;
        v->score = 0;
        v->anomalous = false;
        return 0;
}

typedef int (*UpdateFn)(const DetectorParams *p, void *state, const DetectorSample *s, Verdict *v);
static volatile UpdateFn update_fns[2] = { baseline_update, detector_update };

#define KIND_BASELINE (-1)

typedef struct Subject {
        int kind; /* DetectorType or KIND_BASELINE */
        DetectorParams p;
        UpdateFn fn;
        size_t size, stride; /* state bytes, and bytes per series in an array (whole cache lines) */
} Subject;

static void subject_init(Subject *s, int kind) {
        *s = (Subject){ .kind = kind };
        if (kind == KIND_BASELINE) {
                s->fn = update_fns[0];
                s->size = sizeof(Baseline);
        } else {
                detector_params_init(&s->p, (DetectorType) kind);
                if (kind == DETECTOR_TYPE_THRESHOLD) {
                        s->p.has_above = true;
                        s->p.above = 1000;
                }
                if (kind == DETECTOR_TYPE_TREND)
                        s->p.limit = 1000;
                if (detector_params_prepare(&s->p) < 0)
                        abort();
                s->fn = update_fns[1];
                s->size = detector_state_size(&s->p);
        }
        s->stride = (s->size + LINE - 1) & ~(size_t) (LINE - 1);
}

/* The sample at index i of the data, for i < 2 N_DATA (the data is stored twice, so that a loop wraps its
 * base index once per round, not its index once per sample). */
static inline DetectorSample sample_at(double t, unsigned i) {
        double x = data[i];
        /* burnrate reads x2 (events/s) with x (errors/s): 0.05 % errors, half of a 99.9 % budget */
        return (DetectorSample){ .t = t, .local_t = t, .x = x, .x2 = x * 2000 };
}

/* A state of the kind after WARM_SECONDS (less `early` seconds) of data at `step`; returns the time of its
 * last sample. */
static double warm_state(const Subject *s, void *st, double step, double early) {
        Verdict v;
        double t = T0;
        memset(st, 0, s->size);
        if (s->kind != KIND_BASELINE)
                detector_state_init(&s->p, st);
        for (unsigned i = 0; t < T0 + WARM_SECONDS - early; i++, t += step) {
                DetectorSample smp = sample_at(t, i % N_DATA);
                s->fn(&s->p, st, &smp, &v);
        }
        return t - step;
}

/* Series laid out in one array, cloned from VARIANTS warmed states whose warm-up ended up to an hour
 * before the measurement (a gap, which is normal input): hourly refits then fall on different rounds for
 * different series, as they do in production. Returns the array; *ret_t is the first time to measure. */
#define VARIANTS 36
static uint8_t *clone_states(const Subject *s, size_t n, double *ret_t) {
        uint8_t *a = aligned_alloc(LINE, s->stride * n), *v = aligned_alloc(LINE, s->stride * VARIANTS);
        if (!a || !v)
                abort();
        memset(a, 0, s->stride * n);
        for (unsigned j = 0; j < VARIANTS; j++)
                warm_state(s, v + j * s->stride, STEP, j * (3600.0 / VARIANTS));
        *ret_t = T0 + WARM_SECONDS;
        for (size_t i = 0; i < n; i++)
                memcpy(a + i * s->stride, v + (i % VARIANTS) * s->stride, s->size);
        free(v);
        return a;
}

/* ---- measured loops ---- */

typedef struct Run {
        double rate;   /* updates per second, best of the repeats */
        uint64_t sink; /* anomalous verdicts (keeps results alive) */
        uint64_t updates;
        double next_t; /* data time to continue from */
        unsigned next_i;
} Run;

/* One series: samples one after another. */
static void run_single(const Subject *s, void *st, Run *run) {
        Verdict v;
        double best = 0;
        for (unsigned rep = 0; rep < repeat; rep++) {
                uint64_t n = 0, anomalies = 0;
                double start = now_s(), el;
                do {
                        unsigned base = run->next_i % N_DATA;
                        double t = run->next_t;
                        for (unsigned j = 0; j < 65536; j++, t += STEP) {
                                DetectorSample smp = sample_at(t, base + j);
                                s->fn(&s->p, st, &smp, &v);
                                anomalies += v.anomalous;
                        }
                        run->next_i += 65536;
                        run->next_t += 65536 * STEP;
                        n += 65536;
                        el = now_s() - start;
                } while (el < budget);
                best = MAX(best, n / el);
                run->sink += anomalies;
                run->updates += n;
        }
        run->rate = best;
}

/* Many series in an array, fed round by round (every series one sample per round, same time). */
static void run_many(const Subject *s, uint8_t *states, size_t n_series, Run *run) {
        Verdict v;
        double best = 0;
        for (unsigned rep = 0; rep < repeat; rep++) {
                uint64_t n = 0, anomalies = 0;
                double start = now_s(), el;
                do {
                        unsigned base = run->next_i % N_DATA;
                        for (size_t i = 0; i < n_series; i++) {
                                DetectorSample smp = sample_at(run->next_t, base + series_offset[i]);
                                s->fn(&s->p, states + i * s->stride, &smp, &v);
                                anomalies += v.anomalous;
                        }
                        run->next_t += STEP;
                        run->next_i++;
                        n += n_series;
                        el = now_s() - start;
                } while (el < budget);
                best = MAX(best, n / el);
                run->sink += anomalies;
                run->updates += n;
        }
        run->rate = best;
}

static double mono_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

/* The per-sample path of one series: nanoseconds per update, the median over chunks of CHUNK samples.
 * Periodic work (a seasonal refit, a tail recalibration) falls into a few chunks, and so does a preemption;
 * the median leaves them out. Wall-clock chunks (the thread CPU clock is a system call, too slow to read
 * this often). */
#define CHUNK 64
#define N_CHUNKS 4096
static double run_path(const Subject *s, void *st, Run *run) {
        static double ns[N_CHUNKS];
        Verdict v;
        for (unsigned c = 0; c < N_CHUNKS; c++) {
                unsigned base = run->next_i % N_DATA;
                double t = run->next_t, start = mono_s();
                for (unsigned j = 0; j < CHUNK; j++, t += STEP) {
                        DetectorSample smp = sample_at(t, base + j);
                        s->fn(&s->p, st, &smp, &v);
                        run->sink += v.anomalous;
                }
                ns[c] = (mono_s() - start) / CHUNK * 1e9;
                run->next_i += CHUNK;
                run->next_t += CHUNK * STEP;
                run->updates += CHUNK;
        }
        qsort(ns, N_CHUNKS, sizeof(double), cmp_double);
        return ns[N_CHUNKS / 2];
}

typedef struct KindFigures {
        double single, many;
        double path_ns;   /* per-sample path, median */
        double anomalous; /* fraction of anomalous verdicts over all runs */
        size_t bytes;
} KindFigures;

static void measure_kind(int kind, KindFigures *ret, uint64_t *sink) {
        Subject s;
        subject_init(&s, kind);
        void *st = aligned_alloc(LINE, s.stride);
        if (!st)
                abort();
        Run run = { .next_t = warm_state(&s, st, STEP, 0) + STEP }, many = {};
        run.next_i = (unsigned) ((run.next_t - T0) / STEP);
        uint8_t *states = clone_states(&s, N_SERIES, &many.next_t);
        many.next_i = (unsigned) ((many.next_t - T0) / STEP);
        run_single(&s, st, &run);
        double path = run_path(&s, st, &run);
        run_many(&s, states, N_SERIES, &many);
        *ret = (KindFigures){
                .single = run.rate,
                .many = many.rate,
                .path_ns = path,
                .anomalous = (double) (run.sink + many.sink) / (double) (run.updates + many.updates),
                .bytes = s.size,
        };
        *sink += run.sink + many.sink;
        free(states);
        free(st);
}

/* 10 000 series, kinds mixed as a host would run them, fed round by round. */
static const struct {
        int kind;
        unsigned share; /* per 100 series */
} mix[] = {
        { DETECTOR_TYPE_SEASONAL, 50 },  { DETECTOR_TYPE_EWMA, 25 }, { DETECTOR_TYPE_CUSUM, 10 },
        { DETECTOR_TYPE_THRESHOLD, 10 }, { DETECTOR_TYPE_TREND, 4 }, { DETECTOR_TYPE_BURNRATE, 1 },
};

typedef struct Mix {
        Subject subj[ELEMENTSOF(mix)];
        uint8_t *states;
        size_t offset[N_SERIES];
        uint8_t kind_of[N_SERIES];
        size_t bytes;
        double t;
} Mix;

static void mix_init(Mix *m) {
        uint8_t *arrays[ELEMENTSOF(mix)];
        size_t total = 0, count[ELEMENTSOF(mix)] = {};
        m->bytes = 0;
        for (unsigned i = 0; i < N_SERIES; i++) {
                unsigned slot = i % 100, k = 0, acc = 0;
                while (slot >= acc + mix[k].share)
                        acc += mix[k++].share;
                m->kind_of[i] = (uint8_t) k;
                count[k]++;
        }
        for (size_t k = 0; k < ELEMENTSOF(mix); k++) {
                subject_init(&m->subj[k], mix[k].kind);
                arrays[k] = clone_states(&m->subj[k], count[k], &m->t);
                count[k] = 0;
        }
        for (unsigned i = 0; i < N_SERIES; i++) {
                m->offset[i] = total;
                total += m->subj[m->kind_of[i]].stride;
                m->bytes += m->subj[m->kind_of[i]].size;
        }
        m->states = aligned_alloc(LINE, total);
        if (!m->states)
                abort();
        for (unsigned i = 0; i < N_SERIES; i++) {
                const Subject *s = &m->subj[m->kind_of[i]];
                memcpy(m->states + m->offset[i],
                       arrays[m->kind_of[i]] + count[m->kind_of[i]]++ * s->stride,
                       s->size);
        }
        for (size_t k = 0; k < ELEMENTSOF(mix); k++)
                free(arrays[k]);
}

static void mix_round(Mix *m, unsigned r, uint64_t *anomalies) {
        Verdict v;
        unsigned base = r % N_DATA;
        for (unsigned i = 0; i < N_SERIES; i++) {
                const Subject *s = &m->subj[m->kind_of[i]];
                DetectorSample smp = sample_at(m->t, base + series_offset[i]);
                s->fn(&s->p, m->states + m->offset[i], &smp, &v);
                *anomalies += v.anomalous;
        }
        m->t += STEP;
}

static double run_mix(Mix *m, uint64_t *sink) {
        double best = 0;
        unsigned r = (unsigned) ((m->t - T0) / STEP);
        for (unsigned rep = 0; rep < repeat; rep++) {
                uint64_t n = 0;
                double start = now_s(), el;
                do {
                        mix_round(m, r++, sink);
                        n += N_SERIES;
                        el = now_s() - start;
                } while (el < budget);
                best = MAX(best, n / el);
        }
        return best;
}

static void run_fmt(void) {
        enum { N = 1 << 18 };
        double *v = malloc(sizeof(double) * N);
        char buf[64];
        size_t total = 0;
        double ours = INFINITY, libc17 = INFINITY, libc6 = INFINITY;
        if (!v)
                abort();
        for (unsigned i = 0; i < N; i++)
                v[i] = i % 3 == 0 ? data[i % N_DATA] : i % 3 == 1 ? uniform() : (double) (i % 100000) / 1000;
        for (unsigned rep = 0; rep < repeat; rep++) {
                double start = now_s();
                for (unsigned i = 0; i < N; i++)
                        total += fmt_double(buf, v[i]);
                ours = MIN(ours, now_s() - start);
                start = now_s();
                for (unsigned i = 0; i < N; i++)
                        total += (size_t) snprintf(buf, sizeof(buf), "%.17g", v[i]);
                libc17 = MIN(libc17, now_s() - start);
                start = now_s();
                for (unsigned i = 0; i < N; i++)
                        total += (size_t) snprintf(buf, sizeof(buf), "%.6g", v[i]);
                libc6 = MIN(libc6, now_s() - start);
        }
        printf("double formatting, %d values (a third each: metric values, uniform [0,1), 3-decimal numbers):\n"
               "  fmt_double %.1f ns/value (shortest round trip); snprintf %%.17g %.1f ns (%.1fx slower), %%.6g "
               "%.1f ns (%.1fx slower, not round-trip)\n",
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

static int kind_by_name(const char *name) {
        for (int k = 0; k < _DETECTOR_TYPE_MAX; k++)
                if (streq(name, detector_type_to_string((DetectorType) k)))
                        return k;
        return -1;
}

/* ---- --count: a fixed number of updates for callgrind ---- */

__attribute__((noinline)) static uint64_t
        count_loop(const Subject *s, void *st, double t, unsigned i0, uint64_t n, double step) {
        Verdict v;
        uint64_t anomalies = 0;
        unsigned base = i0 % N_DATA; /* n <= N_DATA */
        for (uint64_t j = 0; j < n; j++, t += step) {
                DetectorSample smp = sample_at(t, base + (unsigned) j);
                s->fn(&s->p, st, &smp, &v);
                anomalies += v.anomalous;
        }
        return anomalies;
}

__attribute__((noinline)) static uint64_t count_loop_mix(Mix *m, uint64_t rounds) {
        uint64_t anomalies = 0;
        unsigned r = (unsigned) ((m->t - T0) / STEP);
        for (uint64_t j = 0; j < rounds; j++)
                mix_round(m, r++, &anomalies);
        return anomalies;
}

static int count_main(const char *what, const char *n_str, const char *step_str) {
        uint64_t n;
        double step = STEP;
        if (safe_atou64(n_str, &n) < 0 || n == 0 || n > N_DATA ||
            (step_str && (parse_double(step_str, strlen(step_str), &step) < 0 || !(step >= 0.001)))) {
                fprintf(stderr, "bench-detectors: --count KIND N [STEP]: bad N or STEP\n");
                return 2;
        }
        if (streq(what, "mix")) {
                static Mix m;
                mix_init(&m);
                uint64_t rounds = (n + N_SERIES - 1) / N_SERIES;
                printf("mix: %" PRIu64 " updates, %" PRIu64 " anomalous\n",
                       rounds * N_SERIES,
                       count_loop_mix(&m, rounds));
                free(m.states);
                return 0;
        }
        int kind = streq(what, "baseline") ? KIND_BASELINE : kind_by_name(what);
        if (kind < KIND_BASELINE || (kind == KIND_BASELINE && !streq(what, "baseline"))) {
                fprintf(stderr, "bench-detectors: unknown kind '%s'\n", what);
                return 2;
        }
        Subject s;
        subject_init(&s, kind);
        void *st = aligned_alloc(LINE, s.stride);
        if (!st)
                abort();
        double t = warm_state(&s, st, step, 0) + step;
        uint64_t a = count_loop(&s, st, t, (unsigned) ((t - T0) / step), n, step);
        printf("%s: %" PRIu64 " updates, %" PRIu64 " anomalous, %zu bytes of state\n", what, n, a, s.size);
        free(st);
        return 0;
}

static int usage(void) {
        fprintf(stderr,
                "usage: bench-detectors [--seconds S] [--repeat N] [--kind KIND]\n"
                "       bench-detectors --count KIND|baseline|mix N [STEP]\n");
        return 2;
}

int main(int argc, char *argv[]) {
        int only = -1;
        gsl_set_error_handler_off();
        for (int i = 1; i < argc; i++) {
                uint64_t u;
                if (streq(argv[i], "--seconds") && i + 1 < argc) {
                        if (parse_double(argv[i + 1], strlen(argv[i + 1]), &budget) < 0 || !(budget > 0) ||
                            budget > 600)
                                return usage();
                        i++;
                } else if (streq(argv[i], "--repeat") && i + 1 < argc) {
                        if (safe_atou64(argv[i + 1], &u) < 0 || u == 0 || u > 100)
                                return usage();
                        repeat = (unsigned) u;
                        i++;
                } else if (streq(argv[i], "--kind") && i + 1 < argc) {
                        only = kind_by_name(argv[++i]);
                        if (only < 0)
                                return usage();
                } else if (streq(argv[i], "--count") && i + 2 < argc) {
                        make_data();
                        int r = count_main(argv[i + 1], argv[i + 2], i + 3 < argc ? argv[i + 3] : NULL);
                        free(data);
                        return r;
                } else
                        return usage();
        }
        make_data();

        double load[2];
        uint64_t sink = 0;
        loadavg(&load[0]);
        printf("detector speed: 10 s samples of a daily rhythm with 2%% noise, after 8 days of warm-up; best of %u "
               "runs of %.2f s per figure; load average %.2f at start\n",
               repeat,
               budget,
               load[0]);
        printf("  %-10s %-27s %-21s %-27s %-11s %s\n",
               "",
               "one series",
               "per-sample path",
               "10000 series, round-robin",
               "state",
               "anomalous");
        KindFigures base;
        measure_kind(KIND_BASELINE, &base, &sink);
        printf("  %-10s %6.1f M/s %6.1f ns        %6.1f M/s %6.1f ns  %6.1f M/s %6.1f ns        %5zu bytes  (one EW mean "
               "behind the same call; %d-byte stride)\n",
               "baseline",
               base.single / 1e6,
               1e9 / base.single,
               1e3 / base.path_ns,
               base.path_ns,
               base.many / 1e6,
               1e9 / base.many,
               base.bytes,
               LINE);
        for (int k = 0; k < _DETECTOR_TYPE_MAX; k++) {
                KindFigures f;
                if (only >= 0 && k != only)
                        continue;
                measure_kind(k, &f, &sink);
                printf("  %-10s %6.1f M/s %6.1f ns %4.1fx  %6.1f M/s %6.1f ns  %6.1f M/s %6.1f ns %4.1fx  %5zu bytes  %5.2f%%%s\n",
                       detector_type_to_string((DetectorType) k),
                       f.single / 1e6,
                       1e9 / f.single,
                       base.single / f.single,
                       1e3 / f.path_ns,
                       f.path_ns,
                       f.many / 1e6,
                       1e9 / f.many,
                       base.many / f.many,
                       f.bytes,
                       100 * f.anomalous,
                       k == DETECTOR_TYPE_EWMA ? "  (64 hot bytes)" : "");
        }
        printf("  (one series: thread CPU time, everything included; per-sample path: wall-clock median of %d-sample "
               "chunks, so periodic refits and recalibrations are left out; Nx: the update's time in units of the "
               "baseline's in the same layout)\n",
               CHUNK);
        if (only >= 0) {
                free(data);
                return 0;
        }

        static Mix m;
        mix_init(&m);
        double mix_rate = run_mix(&m, &sink);
        printf("mix of %d series (50%% seasonal, 25%% ewma, 10%% cusum, 10%% threshold, 4%% trend, 1%% burnrate):\n"
               "  %.2f M updates/s per core, %.1f ns/update, %.1fx the baseline's time; state %.1f MB (%.0f "
               "bytes/series)\n",
               N_SERIES,
               mix_rate / 1e6,
               1e9 / mix_rate,
               base.many / mix_rate,
               m.bytes / 1e6,
               (double) m.bytes / N_SERIES);
        free(m.states);
        run_fmt();
        loadavg(&load[1]);
        printf("load average %.2f at end, %ld cores online%s\n",
               load[1],
               sysconf(_SC_NPROCESSORS_ONLN),
               sink == 1 ? " " : "");
        free(data);
        return 0;
}

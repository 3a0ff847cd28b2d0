/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * How long homeostatd's event loop is blocked when it saves learned state, for N series (default 10000).
 * The periodic save is the daemon's own path (manager_save_state -> state_saver_save_func): fork() of a
 * writer child that serializes its copy-on-write snapshot of the evaluator, writes, fsyncs and renames
 * while the loop goes on. Measured with the real evaluator and detectors, an ewma and a seasonal rule over
 * every series, after 200 samples per series:
 *
 *   one round        evaluator_push() of one sample for every series (what a 1 s scrape costs the
 *                    evaluator): the baseline the others are compared with
 *   save: loop       state_saver_save_func(): what the loop is blocked for (the fork)
 *   save: child      serialize + write + fsync + rename + fsync of the directory, in the child
 *   in-loop serialize  for comparison: evaluator_save() into memory in the loop, what a design that
 *                    serializes before forking would block for
 *   final save       state_saver_save_func_sync() at stop (in-process, the loop has ended)
 *   restore          evaluator_load() at start-up
 *
 * Wall-clock times (the loop is blocked in wall time), best of 5. Usage: bench-state-save [SERIES] [DIR].
 */
#include <gsl/gsl_errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "evaluator.h"
#include "state-file.h"
#include "strbuf.h"
#include "util.h"

#define REPS 5

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void on_row(const EvalRow *row, void *userdata) {
        (*(uint64_t *) userdata)++;
}

static int write_state(FILE *f, void *userdata) {
        return evaluator_save(userdata, f);
}

static const char config_text[] = "sources:\n"
                                  "  - {name: bench, prometheus: 'http://127.0.0.1:9/metrics'}\n"
                                  "rules:\n"
                                  "  - name: ewma\n"
                                  "    series: 'bench_value{source=\"bench\"}'\n"
                                  "    detector: {kind: ewma, halflife: 10m}\n"
                                  "  - name: seasonal\n"
                                  "    series: 'bench_value{source=\"bench\"}'\n"
                                  "    detector: {kind: seasonal, period: 1d}\n";

int main(int argc, char *argv[]) {
        const char *dir = argc > 2 ? argv[2] : "/tmp/homeostat-bench-state-save";
        uint64_t n = 10000;
        _cleanup_(config_freep) Config *config = NULL;
        Evaluator *e = NULL, *e2 = NULL;
        Diagnostics diags = {};
        EvalSeries **series;
        double best_round = INFINITY, best_ser = INFINITY, best_fork = INFINITY, best_write = INFINITY,
               best_load = INFINITY, best_final = INFINITY;
        char *buf = NULL;
        size_t len = 0;
        uint64_t rows = 0;
        int dfd, r;

        gsl_set_error_handler_off();
        /* as in homeostatd: sd_event_add_child() needs SIGCHLD blocked */
        sigset_t ss;
        sigemptyset(&ss);
        sigaddset(&ss, SIGCHLD);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        if (argc > 1 && (safe_atou64(argv[1], &n) < 0 || n == 0 || n > 10000000)) {
                fprintf(stderr, "usage: bench-state-save [SERIES] [DIR]\n");
                return 2;
        }
        r = config_load_buffer("bench.yaml", config_text, strlen(config_text), NULL, &config, &diags);
        if (r < 0) {
                diagnostics_print(&diags, stderr);
                return 2;
        }
        diagnostics_done(&diags);
        if (evaluator_new(config, &e) < 0)
                return 2;
        series = calloc(n, sizeof(EvalSeries *));
        if (!series)
                return 2;
        for (size_t i = 0; i < n; i++) {
                char id[32];
                snprintf(id, sizeof(id), "%zu", i);
                Label labels[] = { { "id", id }, { "source", "bench" } };
                if (evaluator_intern(e, "bench_value", labels, 2, SAMPLE_GAUGE, &series[i]) < 0)
                        return 2;
        }

        /* warm up: 200 samples per series, 10 s apart */
        double t0 = 1.7e9;
        for (int k = 0; k < 200; k++)
                for (size_t i = 0; i < n; i++)
                        (void) evaluator_push_series(
                                e, series[i], t0 + k * 10.0, 100 + 10 * sin((double) i + k * 0.1), on_row, &rows);

        for (int rep = 0; rep < REPS; rep++) {
                double a = now_s();
                for (size_t i = 0; i < n; i++)
                        (void) evaluator_push_series(
                                e, series[i], t0 + (200 + rep) * 10.0, 100 + 10 * sin((double) i), on_row, &rows);
                best_round = fmin(best_round, now_s() - a);
        }

        if (state_dir_open(dir, true, &dfd) < 0) {
                fprintf(stderr, "cannot open %s\n", dir);
                return 2;
        }
        sd_event *event = NULL;
        StateSaver *saver = NULL;
        if (sd_event_new(&event) < 0 || state_saver_new(event, dfd, "bench-evaluator.state", &saver) < 0)
                return 2;
        for (int rep = 0; rep < REPS; rep++) {
                StateSaverStats st;
                double a = now_s(), b;

                if (state_saver_save_func(saver, write_state, e) != 0)
                        return 2;
                b = now_s();
                best_fork = fmin(best_fork, b - a);
                if (state_saver_flush(saver) < 0)
                        return 2;
                state_saver_get_stats(saver, &st);
                best_write = fmin(best_write, (double) st.last_write_usec / 1e6);
                len = st.last_size;
        }
        for (int rep = 0; rep < REPS; rep++) {
                double a = now_s();
                if (state_saver_save_func_sync(saver, write_state, e) < 0)
                        return 2;
                best_final = fmin(best_final, now_s() - a);
        }
        saver = state_saver_free(saver);
        sd_event_unref(event);
        (void) unlinkat(dfd, "bench-evaluator.state", 0);

        for (int rep = 0; rep < REPS; rep++) {
                FILE *f;
                double a = now_s();

                free(buf);
                buf = NULL;
                f = open_memstream(&buf, &len);
                if (!f || evaluator_save(e, f) < 0 || fclose(f) != 0)
                        return 2;
                best_ser = fmin(best_ser, now_s() - a);
        }

        for (int rep = 0; rep < REPS; rep++) {
                FILE *f = fmemopen(buf, len, "r");
                double a;
                if (!f || evaluator_new(config, &e2) < 0)
                        return 2;
                a = now_s();
                r = evaluator_load(e2, f);
                best_load = fmin(best_load, now_s() - a);
                fclose(f);
                evaluator_free(e2);
                if (r < 0) {
                        fprintf(stderr, "evaluator_load: %s\n", strerror(-r));
                        return 2;
                }
        }

        printf("state save, %" PRIu64
               " series x 2 rules (ewma, seasonal 1d), state file %.1f MB, best of %d\n",
               n,
               (double) len / 1e6,
               REPS);
        printf("  one round (baseline)   %8.2f ms   evaluator_push of one sample per series\n",
               best_round * 1e3);
        printf("  save: loop blocked     %8.2f ms   %6.2fx a round   (fork of the writer child)\n",
               best_fork * 1e3,
               best_fork / best_round);
        printf("  save: in the child     %8.2f ms   %6.2fx a round   (serialize, write, fsync; the loop runs on)\n",
               best_write * 1e3,
               best_write / best_round);
        printf("  in-loop serialize      %8.2f ms   %6.2fx a round   (for comparison: not what homeostatd does)\n",
               best_ser * 1e3,
               best_ser / best_round);
        printf("  final save at stop     %8.2f ms\n", best_final * 1e3);
        printf("  restore at start       %8.2f ms\n", best_load * 1e3);
        free(buf);
        free(series);
        evaluator_free(e);
        safe_close(dfd);
        return rows > 0 ? 0 : 2;
}

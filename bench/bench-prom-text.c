/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Throughput of the Prometheus text parser (supervisor/prom-text.c) on real node_exporter output,
 * replicated into a large buffer so that it streams from memory like a big scrape does. Every figure is
 * measured in the same run on the same buffer, single-threaded, as CPU time of this thread (best of
 * several repetitions), so the ratios hold on a busy machine:
 *
 *   memchr lines       only splitting into lines: the upper bound for any line-oriented parser
 *   naive sscanf       a straightforward parser: copy each line, sscanf the name, strchr the braces,
 *                      strtod the value, strtoll the timestamp (the baseline)
 *   parse              prom-text's tokenizer: full syntax check, value, timestamp, type
 *   parse+decode       plus unescaping, validating and sorting every label set (no cache)
 *   parse+canonical    plus the canonical key and a table lookup per sample, without the raw-bytes cache
 *                      (what a parser without the cache has to do to find a sample's series)
 *   parse+lookup       what a scrape does: parse and find the series by its raw bytes (the cache)
 *
 * It also prints the memory the series table holds for 10 000 series and the CPU a steady-state scrape of
 * them costs (the daemon's budget: 10 000 series at 1 s within 1% of a core and 32 MB).
 *
 * Usage: bench-prom-text FILE [MEGABYTES]. Prints MB/s (10^6 bytes per second of CPU time) and ratios.
 */
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "macro.h"
#include "prom-text.h"
#include "strbuf.h"
#include "util.h"

#define REPS 5

static double cpu_seconds(void) {
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

typedef struct Input {
        const char *name;
        char *buf;
        size_t len;
} Input;

/* ---- the runs ---- */

static volatile uint64_t sink;

static uint64_t run_memchr(const Input *in) {
        const char *p = in->buf, *e = in->buf + in->len;
        uint64_t n = 0;

        while (p < e) {
                const char *nl = memchr(p, '\n', (size_t) (e - p));
                n++;
                p = nl ? nl + 1 : e;
        }
        return n;
}

/* The baseline: what one writes without thinking about speed. */
static uint64_t run_naive(const Input *in) {
        const char *p = in->buf, *e = in->buf + in->len;
        char line[4096], name[1024], labels[4096];
        uint64_t n = 0;
        double sum = 0;

        while (p < e) {
                const char *start = p, *nl = memchr(p, '\n', (size_t) (e - p));
                size_t len = (size_t) ((nl ?: e) - start);
                p = nl ? nl + 1 : e;
                if (len >= sizeof(line))
                        continue;
                memcpy(line, start, len);
                line[len] = 0;
                if (line[0] == '#' || line[0] == 0)
                        continue;
                if (sscanf(line, "%1023[^{ ]", name) != 1)
                        continue;
                char *rest = line + strlen(name);
                if (*rest == '{') {
                        char *close = strchr(rest, '}');
                        if (!close)
                                continue;
                        memcpy(labels, rest + 1, (size_t) (close - rest - 1));
                        labels[close - rest - 1] = 0;
                        rest = close + 1;
                }
                char *end;
                double v = strtod(rest, &end);
                if (end == rest)
                        continue;
                long long ts = strtoll(end, &end, 10);
                sum += v + (double) ts;
                n++;
        }
        sink += (uint64_t) sum;
        return n;
}

typedef struct Ctx {
        PromSeriesTable *table;
        PromLabels *labels;
        uint64_t n;
        double sum;
} Ctx;

static int cb_parse(const PromSample *s, const char **ret_error, void *userdata) {
        Ctx *c = userdata;
        c->n++;
        c->sum += s->value;
        return 0;
}

static int cb_decode(const PromSample *s, const char **ret_error, void *userdata) {
        Ctx *c = userdata;
        if (s->labels) {
                int r = prom_labels_decode(s->labels, s->labels_len, c->labels, ret_error);
                if (r < 0)
                        return r;
                c->sum += (double) c->labels->n_labels;
        }
        c->n++;
        return 0;
}

static int cb_canonical(const PromSample *s, const char **ret_error, void *userdata) {
        Ctx *c = userdata;
        const PromSeries *series;
        char metric[PROM_NAME_MAX + 1];
        size_t n = 0;
        int r;

        if (s->labels) {
                r = prom_labels_decode(s->labels, s->labels_len, c->labels, ret_error);
                if (r < 0)
                        return r;
                n = c->labels->n_labels;
        }
        memcpy(metric, s->series, s->name_len);
        metric[s->name_len] = 0;
        r = prom_series_table_lookup(c->table, metric, c->labels->labels, n, 1, &series);
        if (r < 0)
                return r;
        c->n++;
        c->sum += (double) series->n_labels;
        return 0;
}

static int cb_lookup(const PromSample *s, const char **ret_error, void *userdata) {
        Ctx *c = userdata;
        const PromSeries *series;
        int r = prom_series_table_lookup_raw(c->table, s, 1, &series, ret_error);
        if (r < 0)
                return r;
        c->n++;
        c->sum += (double) series->n_labels;
        return 0;
}

static uint64_t run_parser(const Input *in, PromSampleCallback cb, Ctx *c) {
        static PromParser *p;
        if (!p && prom_parser_new(&p) < 0)
                abort();
        c->n = 0;
        prom_parser_begin(p);
        if (prom_parser_feed(p, in->buf, in->len, cb, c) < 0)
                abort();
        if (prom_parser_get_stats(p)->bad_lines > 0) {
                fprintf(stderr,
                        "unexpected bad lines: first at %" PRIu64 ": %s\n",
                        prom_parser_get_stats(p)->first_bad_line,
                        prom_parser_get_stats(p)->first_error);
                abort();
        }
        sink += (uint64_t) c->sum;
        return c->n;
}

typedef enum Kind { K_MEMCHR, K_NAIVE, K_PARSE, K_DECODE, K_CANONICAL, K_LOOKUP, _K_MAX } Kind;
static const char *const kind_names[_K_MAX] = { "memchr lines", "naive sscanf",    "parse",
                                                "parse+decode", "parse+canonical", "parse+lookup" };

static uint64_t run(Kind k, const Input *in, Ctx *c) {
        switch (k) {
        case K_MEMCHR:
                return run_memchr(in);
        case K_NAIVE:
                return run_naive(in);
        case K_PARSE:
                return run_parser(in, cb_parse, c);
        case K_DECODE:
                return run_parser(in, cb_decode, c);
        case K_CANONICAL:
                return run_parser(in, cb_canonical, c);
        case K_LOOKUP:
                return run_parser(in, cb_lookup, c);
        default:
                abort();
        }
}

static void bench(const Input *in) {
        static PromLabels labels;
        const Label base[] = { { "source", "node" }, { "instance", "host1" } };
        double mbps[_K_MAX];
        uint64_t count[_K_MAX];
        Ctx c = { .labels = &labels };

        for (Kind k = 0; k < _K_MAX; k++) {
                double best = INFINITY;
                /* A fresh table per kind; the first repetition warms it (and the page cache). */
                if (prom_series_table_new(base, ELEMENTSOF(base), 1000000, &c.table) < 0)
                        abort();
                for (int rep = 0; rep < REPS; rep++) {
                        double t0 = cpu_seconds();
                        count[k] = run(k, in, &c);
                        double dt = cpu_seconds() - t0;
                        if (dt < best)
                                best = dt;
                }
                c.table = prom_series_table_free(c.table);
                mbps[k] = (double) in->len / best / 1e6;
        }

        printf("\n%s: %.1f MB, %" PRIu64 " lines, %" PRIu64 " samples\n",
               in->name,
               (double) in->len / 1e6,
               count[K_MEMCHR],
               count[K_PARSE]);
        printf("  %-16s %10s %12s %14s\n", "run", "MB/s", "vs naive", "vs memchr");
        for (Kind k = 0; k < _K_MAX; k++)
                printf("  %-16s %10.0f %11.2fx %13.2f%%\n",
                       kind_names[k],
                       mbps[k],
                       mbps[k] / mbps[K_NAIVE],
                       100.0 * mbps[k] / mbps[K_MEMCHR]);
        printf("  raw-bytes cache: parse+lookup is %.2fx parse+canonical\n",
               mbps[K_LOOKUP] / mbps[K_CANONICAL]);
        printf("  samples/s with lookup: %.1f M\n",
               (double) count[K_LOOKUP] * mbps[K_LOOKUP] / (double) in->len);
        printf("  target >= 300 MB/s for parse+lookup: %s\n", mbps[K_LOOKUP] >= 300 ? "met" : "NOT met");
        if (count[K_NAIVE] != count[K_PARSE])
                printf("  (the naive parser counted %" PRIu64 " samples)\n", count[K_NAIVE]);
}

/* The footprint side of the budget (10 000 series scraped every second): memory the series table holds
 * for 10 000 node_exporter-like series, and the CPU one scrape of them costs in steady state. */
static void bench_ten_thousand(void) {
        const Label base[] = { { "source", "node" }, { "instance", "host1" } };
        _cleanup_strbuf_ StrBuf text = STRBUF_INIT;
        PromSeriesTable *table = NULL;
        PromParser *p = NULL;
        Ctx c = {};
        const char *modes[] = { "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user" };

        strbuf_puts(
                &text,
                "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n"
                "# TYPE node_cpu_seconds_total counter\n");
        for (unsigned i = 0; i < 10000; i++)
                strbuf_printf(
                        &text,
                        "node_cpu_seconds_total{cpu=\"%u\",mode=\"%s\"} %u.%02u\n",
                        i / 8,
                        modes[i % 8],
                        i * 37,
                        i % 100);
        if (strbuf_failed(&text) || prom_parser_new(&p) < 0)
                abort();

        struct mallinfo2 before = mallinfo2();
        if (prom_series_table_new(base, ELEMENTSOF(base), 10000, &table) < 0)
                abort();
        c.table = table;
        prom_parser_begin(p);
        if (prom_parser_feed(p, text.data, text.len, cb_lookup, &c) < 0 || c.n != 10000)
                abort();
        struct mallinfo2 after = mallinfo2();

        double best = INFINITY;
        for (int rep = 0; rep < 20; rep++) {
                double t0 = cpu_seconds();
                c.n = 0;
                prom_parser_begin(p);
                if (prom_parser_feed(p, text.data, text.len, cb_lookup, &c) < 0)
                        abort();
                best = MIN(best, cpu_seconds() - t0);
        }
        printf("\n10 000 series (%.0f kB of exposition), steady state:\n", (double) text.len / 1e3);
        printf("  series table: %.1f MB (%.0f bytes per series)\n",
               (double) (after.uordblks - before.uordblks) / 1e6,
               (double) (after.uordblks - before.uordblks) / 10000.0);
        printf("  one scrape parsed and looked up: %.2f ms of CPU = %.3f%% of a core at a 1 s interval\n",
               best * 1e3,
               best * 100.0);
        prom_series_table_free(table);
        prom_parser_free(p);
}

/* Replicate text until the buffer holds at least `bytes`. */
static Input replicate(const char *name, const char *text, size_t len, size_t bytes) {
        Input in = { .name = name };
        size_t copies = MAX(bytes / MAX(len, (size_t) 1), (size_t) 1);

        in.buf = malloc(copies * len + 1);
        if (!in.buf)
                abort();
        for (size_t i = 0; i < copies; i++)
                memcpy(in.buf + i * len, text, len);
        in.len = copies * len;
        in.buf[in.len] = 0;
        return in;
}

int main(int argc, char *argv[]) {
        _cleanup_free_ char *text = NULL;
        _cleanup_strbuf_ StrBuf samples_only = STRBUF_INIT;
        size_t len = 0, megabytes = 64;
        int r;

        if (argc < 2 || argc > 3) {
                fprintf(stderr, "usage: %s FILE [MEGABYTES]\n", argv[0]);
                return 2;
        }
        if (argc == 3) {
                uint64_t v;
                if (safe_atou64(argv[2], &v) < 0 || v == 0 || v > 4096) {
                        fprintf(stderr, "invalid size: %s\n", argv[2]);
                        return 2;
                }
                megabytes = (size_t) v;
        }
        r = read_full_file(argv[1], 64 * 1024 * 1024, &text, &len);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", argv[1], strerror(-r));
                return 1;
        }
        if (len == 0 || text[len - 1] != '\n') {
                fprintf(stderr, "%s: expected newline-terminated exposition text\n", argv[1]);
                return 1;
        }

        /* The same exposition without HELP/TYPE lines: every byte is a sample. */
        for (const char *p = text; p < text + len;) {
                const char *nl = memchr(p, '\n', (size_t) (text + len - p));
                if (*p != '#')
                        strbuf_append(&samples_only, p, (size_t) (nl - p) + 1);
                p = nl + 1;
        }
        if (strbuf_failed(&samples_only))
                return 1;

        printf("bench-prom-text: %s, %zu MB per input, best of %d, CPU time of one thread\n",
               argv[1],
               megabytes,
               REPS);
        printf("reference (not measured here): Prometheus' Go text parser, about 110-190 MB/s with labels\n");

        Input a = replicate("node_exporter as served (HELP/TYPE included)", text, len, megabytes << 20);
        bench(&a);
        free(a.buf);
        Input b = replicate("node_exporter samples only", samples_only.data, samples_only.len, megabytes << 20);
        bench(&b);
        free(b.buf);
        bench_ten_thousand();
        return 0;
}

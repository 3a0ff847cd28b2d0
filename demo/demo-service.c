/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * homeostat-demo-service: a small HTTP service that can be broken on purpose, for the demo and the
 * recovery benchmark. It serves real requests whose latency and errors follow a fault model, runs its own
 * steady synthetic load (so its metrics move without an external load generator), and exposes Prometheus
 * metrics about itself:
 *
 *   demo_request_duration_seconds{quantile="0.5|0.9|0.99"}  over the last 5 s (a summary)
 *   demo_request_duration_seconds_sum / _count               counters
 *   demo_requests_total{code="200|500"}                       counter
 *   demo_leaked_bytes                                         gauge
 *   process_resident_memory_bytes                             gauge
 *
 * Faults are injected with POST /fault?kind=latency&factor=10 | errors&rate=0.5 | leak&mb_per_s=20 |
 * hang | crash | clear (factor 0..1000, rate 0..1, mb_per_s 0..1024; anything else is a 400, never a
 * default). They live in memory, so a restart cures them — like the real faults homeostat
 * exists for (a wedged connection pool, a leak, a bad cache). `&sticky=1` also writes the fault to the
 * state file given with --state, so it survives restarts: a service that never recovers.
 *
 * Under systemd with WatchdogSec= it pings the watchdog from its load loop, so a hang (not a slow
 * service) is what systemd alone can see.
 */
#include <errno.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "strbuf.h"
#include "util.h"

#define WINDOW_SEC 5
#define RING 8192
#define LOAD_WORKERS 4
#define BASE_LATENCY_SEC 0.020

typedef enum FaultKind {
        FAULT_NONE,
        FAULT_LATENCY,
        FAULT_ERRORS,
        FAULT_LEAK,
        FAULT_HANG,
} FaultKind;

typedef struct Fault {
        FaultKind kind;
        double factor;   /* latency multiplier */
        double rate;     /* error probability */
        double mb_per_s; /* leak speed */
} Fault;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static Fault fault = { FAULT_NONE, 1, 0, 0 };
static struct {
        double t;
        double latency;
} ring[RING];
static size_t ring_next;
static uint64_t count_ok, count_err;
static double latency_sum;
static atomic_ullong leaked_bytes;
static const char *arg_state = NULL;
static atomic_ullong heartbeat; /* load-loop iterations completed: the watchdog's evidence of progress */
static atomic_uint request_seq; /* seeds for real requests (never counted as progress) */

static double now_sec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static double uniform(unsigned *seed) {
        return ((double) rand_r(seed) + 1.0) / ((double) RAND_MAX + 2.0);
}

/* Log-normal latency around BASE_LATENCY_SEC with a modest spread, like a healthy service. */
static double model_latency(unsigned *seed, const Fault *f) {
        double z = sqrt(-2.0 * log(uniform(seed))) * cos(2 * M_PI * uniform(seed));
        double l = BASE_LATENCY_SEC * exp(0.25 * z);
        if (f->kind == FAULT_LATENCY)
                l *= f->factor;
        return l;
}

static void sleep_sec(double s) {
        struct timespec ts = { (time_t) s, (long) ((s - floor(s)) * 1e9) };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static Fault get_fault(void) {
        pthread_mutex_lock(&lock);
        Fault f = fault;
        pthread_mutex_unlock(&lock);
        return f;
}

static void hang_forever(void) {
        for (;;)
                pause();
}

/* Serve one (real or synthetic) request: sleep for the modelled latency, decide success, record it. */
static bool serve_one(unsigned *seed) {
        Fault f = get_fault();
        if (f.kind == FAULT_HANG)
                hang_forever();
        double l = model_latency(seed, &f);
        sleep_sec(l);
        bool ok = !(f.kind == FAULT_ERRORS && uniform(seed) < f.rate);

        pthread_mutex_lock(&lock);
        ring[ring_next % RING].t = now_sec();
        ring[ring_next % RING].latency = l;
        ring_next++;
        latency_sum += l;
        if (ok)
                count_ok++;
        else
                count_err++;
        pthread_mutex_unlock(&lock);
        return ok;
}

static void *load_worker(void *arg) {
        unsigned seed = (unsigned) (uintptr_t) arg * 7919u + (unsigned) getpid();
        for (;;) {
                (void) serve_one(&seed);
                atomic_fetch_add(&heartbeat, 1);
                sleep_sec(0.030 * uniform(&seed));
        }
        return NULL;
}

static void *leak_worker(void *arg) {
        for (;;) {
                Fault f = get_fault();
                if (f.kind == FAULT_HANG)
                        hang_forever();
                if (f.kind == FAULT_LEAK && f.mb_per_s > 0) {
                        size_t n = (size_t) (f.mb_per_s * 1024 * 1024 / 10);
                        char *p = malloc(n);
                        if (p) {
                                memset(p, 0xa5, n); /* touch it so it is resident */
                                atomic_fetch_add(&leaked_bytes, n);
                        }
                }
                sleep_sec(0.1);
        }
        return NULL;
}

/* Ping systemd's watchdog only while the load loop makes progress: a hung service stops pinging. */
static void *watchdog_worker(void *arg) {
        uint64_t usec = 0;
        unsigned long long last = 0;
        if (sd_watchdog_enabled(false, &usec) <= 0)
                return NULL;
        for (;;) {
                sleep_sec((double) usec / 1e6 / 4);
                unsigned long long hb = atomic_load(&heartbeat);
                if (hb != last)
                        (void) sd_notify(false, "WATCHDOG=1");
                last = hb;
        }
        return NULL;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y ? 1 : 0;
}

/* Each connection has its own thread, so concurrent scrapes each copy and sort their own window. */
static char *render_metrics(void) {
        _cleanup_free_ double *window = malloc(RING * sizeof(double));
        size_t n = 0;
        double cutoff = now_sec() - WINDOW_SEC;
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        uint64_t ok, err;
        double sum;

        if (!window)
                return NULL;
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < RING && i < ring_next; i++) {
                size_t k = (ring_next - 1 - i) % RING;
                if (ring[k].t < cutoff)
                        break;
                window[n++] = ring[k].latency;
        }
        ok = count_ok;
        err = count_err;
        sum = latency_sum;
        pthread_mutex_unlock(&lock);

        qsort(window, n, sizeof(double), cmp_double);
        strbuf_puts(
                &b,
                "# HELP demo_request_duration_seconds Request latency over the last 5 s.\n"
                "# TYPE demo_request_duration_seconds summary\n");
        const double qs[] = { 0.5, 0.9, 0.99 };
        for (size_t i = 0; i < ELEMENTSOF(qs); i++) {
                if (n == 0)
                        strbuf_printf(&b, "demo_request_duration_seconds{quantile=\"%g\"} NaN\n", qs[i]);
                else {
                        size_t k = (size_t) ceil(qs[i] * (double) n) - 1;
                        strbuf_printf(
                                &b,
                                "demo_request_duration_seconds{quantile=\"%g\"} %.6f\n",
                                qs[i],
                                window[MIN(k, n - 1)]);
                }
        }
        strbuf_printf(&b, "demo_request_duration_seconds_sum %.6f\n", sum);
        strbuf_printf(&b, "demo_request_duration_seconds_count %llu\n", (unsigned long long) (ok + err));
        strbuf_printf(
                &b,
                "# HELP demo_requests_total Requests served, by HTTP status.\n"
                "# TYPE demo_requests_total counter\n"
                "demo_requests_total{code=\"200\"} %llu\n"
                "demo_requests_total{code=\"500\"} %llu\n",
                (unsigned long long) ok,
                (unsigned long long) err);
        strbuf_printf(
                &b,
                "# HELP demo_leaked_bytes Memory leaked on purpose by the leak fault.\n"
                "# TYPE demo_leaked_bytes gauge\n"
                "demo_leaked_bytes %llu\n",
                (unsigned long long) atomic_load(&leaked_bytes));

        long pages = 0;
        _cleanup_fclose_ FILE *f = fopen("/proc/self/statm", "re");
        long size_pages = 0;
        if (f && fscanf(f, "%ld %ld", &size_pages, &pages) == 2)
                strbuf_printf(
                        &b,
                        "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                        "# TYPE process_resident_memory_bytes gauge\n"
                        "process_resident_memory_bytes %ld\n",
                        pages * sysconf(_SC_PAGESIZE));
        return strbuf_failed(&b) ? NULL : strbuf_steal(&b);
}

static int reply(struct MHD_Connection *c, unsigned status, const char *type, char *body) {
        struct MHD_Response *r;
        int ret;

        if (!body)
                return MHD_NO;
        r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
        if (!r) {
                free(body);
                return MHD_NO;
        }
        (void) MHD_add_response_header(r, "Content-Type", type);
        ret = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        return ret;
}

static int reply_text(struct MHD_Connection *c, unsigned status, const char *text) {
        return reply(c, status, "text/plain; charset=utf-8", strdup(text));
}

/* The ranges a fault's parameters may take: beyond them the model would sleep for ever or allocate more
 * than exists, through conversions of huge doubles that C leaves undefined. */
#define FACTOR_MAX 1000.0
#define LEAK_MB_PER_S_MAX 1024.0

static bool fault_valid(const Fault *f) {
        return f->kind >= FAULT_NONE && f->kind <= FAULT_HANG && f->factor >= 0 && f->factor <= FACTOR_MAX &&
                f->rate >= 0 && f->rate <= 1 && f->mb_per_s >= 0 && f->mb_per_s <= LEAK_MB_PER_S_MAX;
}

static void save_sticky(const Fault *f) {
        if (!arg_state)
                return;
        _cleanup_fclose_ FILE *s = fopen(arg_state, "we");
        if (s)
                fprintf(s, "%d %.17g %.17g %.17g\n", (int) f->kind, f->factor, f->rate, f->mb_per_s);
}

static void load_sticky(void) {
        int kind;
        Fault f;
        if (!arg_state)
                return;
        _cleanup_fclose_ FILE *s = fopen(arg_state, "re");
        if (!s)
                return;
        if (fscanf(s, "%d %lf %lf %lf", &kind, &f.factor, &f.rate, &f.mb_per_s) != 4 || kind < FAULT_NONE ||
            kind > FAULT_HANG) {
                fprintf(stderr, "demo-service: ignoring %s: not a saved fault\n", arg_state);
                return;
        }
        f.kind = (FaultKind) kind;
        if (!fault_valid(&f)) {
                fprintf(stderr, "demo-service: ignoring %s: fault parameters out of range\n", arg_state);
                return;
        }
        fault = f;
        fprintf(stderr, "demo-service: sticky fault %d loaded from %s\n", kind, arg_state);
}

/* A number argument in [min, max], or def when it is absent. -EINVAL when it is there but not such a
 * number: a bad value is refused, never replaced by the default. */
static int arg_double(struct MHD_Connection *c, const char *key, double def, double min, double max, double *ret) {
        const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
        double d;

        if (!v) {
                *ret = def;
                return 0;
        }
        if (parse_double(v, strlen(v), &d) < 0 || !(d >= min && d <= max))
                return -EINVAL;
        *ret = d;
        return 0;
}

static int handle_fault(struct MHD_Connection *c) {
        const char *kind = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "kind");
        Fault f = { FAULT_NONE, 1, 0, 0 };
        double sticky;

        if (!kind)
                return reply_text(c, 400, "missing kind=\n");
        if (arg_double(c, "sticky", 0, 0, 1, &sticky) < 0)
                return reply_text(c, 400, "sticky must be 0 or 1\n");
        if (streq(kind, "latency")) {
                f.kind = FAULT_LATENCY;
                if (arg_double(c, "factor", 10, 0, FACTOR_MAX, &f.factor) < 0)
                        return reply_text(c, 400, "factor must be a number from 0 to 1000\n");
        } else if (streq(kind, "errors")) {
                f.kind = FAULT_ERRORS;
                if (arg_double(c, "rate", 0.5, 0, 1, &f.rate) < 0)
                        return reply_text(c, 400, "rate must be a number from 0 to 1\n");
        } else if (streq(kind, "leak")) {
                f.kind = FAULT_LEAK;
                if (arg_double(c, "mb_per_s", 20, 0, LEAK_MB_PER_S_MAX, &f.mb_per_s) < 0)
                        return reply_text(c, 400, "mb_per_s must be a number from 0 to 1024\n");
        } else if (streq(kind, "hang")) {
                f.kind = FAULT_HANG;
        } else if (streq(kind, "crash")) {
                fprintf(stderr, "demo-service: crashing on request\n");
                abort();
        } else if (streq(kind, "clear")) {
                f.kind = FAULT_NONE;
        } else
                return reply_text(c, 400, "unknown kind (latency, errors, leak, hang, crash, clear)\n");

        pthread_mutex_lock(&lock);
        fault = f;
        pthread_mutex_unlock(&lock);
        if (sticky > 0 || f.kind == FAULT_NONE)
                save_sticky(&f);
        fprintf(stderr, "demo-service: fault set to %s\n", kind);
        return reply_text(c, 200, "ok\n");
}

static enum MHD_Result on_request(
        void *cls,
        struct MHD_Connection *c,
        const char *url,
        const char *method,
        const char *version,
        const char *upload_data,
        size_t *upload_data_size,
        void **con_cls) {
        static int first;
        unsigned seed;

        if (!*con_cls) { /* first call: headers only */
                *con_cls = &first;
                return MHD_YES;
        }
        if (*upload_data_size > 0) {
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (streq(url, "/fault") && streq(method, "POST"))
                return (enum MHD_Result) handle_fault(c);
        if (!streq(method, "GET"))
                return (enum MHD_Result) reply_text(c, 405, "method not allowed\n");
        if (streq(url, "/metrics")) {
                if (get_fault().kind == FAULT_HANG)
                        hang_forever();
                return (enum MHD_Result) reply(
                        c, 200, "text/plain; version=0.0.4; charset=utf-8", render_metrics());
        }
        if (streq(url, "/") || streq(url, "/healthz")) {
                /* A request that arrives proves nothing about progress: a hung service still accepts
                 * connections, so it must not feed the watchdog. */
                seed = atomic_fetch_add(&request_seq, 1) * 2654435761u + (unsigned) getpid();
                bool ok = serve_one(&seed);
                return (enum MHD_Result)(ok ? reply_text(c, 200, "ok\n") : reply_text(c, 500, "error\n"));
        }
        return (enum MHD_Result) reply_text(c, 404, "not found\n");
}

int main(int argc, char *argv[]) {
        uint64_t port = 8080;
        struct MHD_Daemon *d;
        pthread_t th;

        for (int i = 1; i < argc; i++) {
                if (streq(argv[i], "--port") && i + 1 < argc) {
                        if (safe_atou64(argv[++i], &port) < 0 || port == 0 || port > 65535) {
                                fprintf(stderr, "demo-service: invalid port '%s'\n", argv[i]);
                                return 2;
                        }
                } else if (streq(argv[i], "--state") && i + 1 < argc)
                        arg_state = argv[++i];
                else {
                        fprintf(stderr, "usage: %s [--port PORT] [--state FILE]\n", argv[0]);
                        return 2;
                }
        }
        signal(SIGPIPE, SIG_IGN);
        load_sticky();

        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        d = MHD_start_daemon(
                MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
                (uint16_t) port,
                NULL,
                NULL,
                on_request,
                NULL,
                MHD_OPTION_SOCK_ADDR,
                &sa,
                MHD_OPTION_CONNECTION_TIMEOUT,
                (unsigned) 30,
                MHD_OPTION_END);
        if (!d) {
                fprintf(stderr, "demo-service: cannot listen on 127.0.0.1:%llu\n", (unsigned long long) port);
                return 2;
        }
        for (uintptr_t i = 0; i < LOAD_WORKERS; i++)
                if (pthread_create(&th, NULL, load_worker, (void *) i) != 0)
                        return 2;
        if (pthread_create(&th, NULL, leak_worker, NULL) != 0 ||
            pthread_create(&th, NULL, watchdog_worker, NULL) != 0)
                return 2;

        (void) sd_notify(false, "READY=1");
        fprintf(stderr, "demo-service: listening on 127.0.0.1:%llu\n", (unsigned long long) port);
        for (;;)
                pause();
}

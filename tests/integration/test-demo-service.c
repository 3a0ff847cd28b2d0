/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The demo service (demo/demo-service.c) as the demo and the recovery benchmark use it: the real binary on
 * a free 127.0.0.1 port, scraped and broken over HTTP. Proves that its metrics are well formed (also while
 * several scrapers read them at once), that the errors fault and its clearing show in what it serves, and
 * that fault parameters outside their range are refused with 400 instead of being applied (a latency
 * factor of 1e308 or a negative leak speed would make undefined conversions) or silently replaced.
 *
 * Usage: test-demo-service PATH-TO-homeostat-demo-service (meson passes it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "util.h"
#include "webhook-receiver.h"

#define SCRAPERS 8
#define SCRAPES_PER_THREAD 150

static const char *arg_binary;
static pid_t service_pid = -1;
static int service_port;
static char log_path[] = "/tmp/test-demo-service-XXXXXX";

static char *url(const char *path) {
        char *u;
        assert_true(asprintf(&u, "http://127.0.0.1:%d%s", service_port, path) > 0);
        return u;
}

/* GET or POST; returns the status, -1 when the request failed. The body goes to *ret_body if given. */
static long call(const char *method, const char *path, char **ret_body) {
        _cleanup_free_ char *u = url(path);
        long status = 0;
        int r = http_call(method, u, streq(method, "POST") ? "" : NULL, &status, ret_body);
        return r < 0 ? -1 : status;
}

static int start_service(void **state) {
        char port[16];
        int fd;

        fd = mkstemp(log_path);
        assert_true(fd >= 0);
        close(fd);
        service_port = free_tcp_port();
        assert_true(service_port > 0);
        snprintf(port, sizeof(port), "%d", service_port);
        char *argv[] = { (char *) arg_binary, (char *) "--port", port, NULL };
        service_pid = spawn_process(argv, log_path);
        assert_true(service_pid > 0);
        for (int i = 0; i < 300; i++) {
                if (call("GET", "/healthz", NULL) == 200)
                        return 0;
                usleep(20000);
        }
        fail_msg("the demo service did not answer on port %d", service_port);
        return -1;
}

static int stop_service(void **state) {
        stop_process(service_pid);
        service_pid = -1;
        (void) unlink(log_path);
        return 0;
}

/* The value of the first sample line starting with prefix (a metric name and its labels). */
static bool sample(const char *text, const char *prefix, double *ret) {
        for (const char *line = text; line && *line;
             line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                const char *rest = startswith(line, prefix);
                if (!rest || *rest != ' ')
                        continue;
                rest++;
                return parse_double(rest, strcspn(rest, "\n"), ret) >= 0;
        }
        return false;
}

/* One scrape's summary is internally consistent: every quantile is there and they are ordered. */
static bool metrics_consistent(const char *text) {
        double p50, p90, p99, count, ok, err;

        if (!sample(text, "demo_request_duration_seconds{quantile=\"0.5\"}", &p50) ||
            !sample(text, "demo_request_duration_seconds{quantile=\"0.9\"}", &p90) ||
            !sample(text, "demo_request_duration_seconds{quantile=\"0.99\"}", &p99) ||
            !sample(text, "demo_request_duration_seconds_count", &count) ||
            !sample(text, "demo_requests_total{code=\"200\"}", &ok) ||
            !sample(text, "demo_requests_total{code=\"500\"}", &err))
                return false;
        if (isnan(p50))
                return isnan(p90) && isnan(p99);
        return p50 > 0 && p50 <= p90 && p90 <= p99 && double_eq(count, ok + err);
}

static void test_metrics(void **state) {
        _cleanup_free_ char *body = NULL;
        double v;

        assert_int_equal(call("GET", "/metrics", &body), 200);
        assert_true(metrics_consistent(body));
        assert_true(sample(body, "demo_leaked_bytes", &v));
        assert_true(double_eq(v, 0));
        assert_true(sample(body, "process_resident_memory_bytes", &v));
        assert_true(v > 0);
        assert_non_null(strstr(body, "# TYPE demo_request_duration_seconds summary\n"));
        assert_non_null(strstr(body, "# TYPE demo_requests_total counter\n"));
        assert_int_equal(call("GET", "/nope", NULL), 404);
        assert_int_equal(call("PUT", "/metrics", NULL), 405);
}

static void *scraper(void *arg) {
        unsigned *bad = arg;

        for (int i = 0; i < SCRAPES_PER_THREAD; i++) {
                char *body = NULL;
                if (call("GET", "/metrics", &body) != 200 || !metrics_consistent(body))
                        (*bad)++;
                free(body);
        }
        return NULL;
}

/* The service runs a thread per connection: concurrent scrapes must each see a consistent window. */
static void test_concurrent_scrapes(void **state) {
        pthread_t threads[SCRAPERS];
        unsigned bad[SCRAPERS] = {};
        unsigned total = 0;

        for (size_t i = 0; i < SCRAPERS; i++)
                assert_int_equal(pthread_create(&threads[i], NULL, scraper, &bad[i]), 0);
        for (size_t i = 0; i < SCRAPERS; i++) {
                assert_int_equal(pthread_join(threads[i], NULL), 0);
                total += bad[i];
        }
        assert_int_equal(total, 0);
}

static void test_errors_fault(void **state) {
        unsigned failed = 0;

        assert_int_equal(call("POST", "/fault?kind=errors&rate=1", NULL), 200);
        for (int i = 0; i < 5; i++)
                failed += call("GET", "/healthz", NULL) == 500;
        assert_int_equal(failed, 5);
        assert_int_equal(call("POST", "/fault?kind=clear", NULL), 200);
        assert_int_equal(call("GET", "/healthz", NULL), 200);
}

static void test_fault_parameters_checked(void **state) {
        static const char *const bad[] = {
                "/fault?kind=latency&factor=1e308",
                "/fault?kind=latency&factor=-2",
                "/fault?kind=latency&factor=NaN",
                "/fault?kind=latency&factor=fast",
                "/fault?kind=errors&rate=1.5",
                "/fault?kind=errors&rate=-0.1",
                "/fault?kind=leak&mb_per_s=-5",
                "/fault?kind=leak&mb_per_s=1e30",
                "/fault?kind=nope",
                "/fault",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *body = NULL;
                long status = call("POST", bad[i], &body);
                if (status != 400)
                        fail_msg("%s: status %ld (%s), expected 400", bad[i], status, strna(body));
        }
        /* Nothing of it was applied: the service is as healthy as before. */
        assert_int_equal(call("GET", "/healthz", NULL), 200);
        assert_int_equal(call("POST", "/fault?kind=latency&factor=1", NULL), 200);
        assert_int_equal(call("POST", "/fault?kind=clear", NULL), 200);
}

static void test_crash(void **state) {
        int status = 0;

        (void) call("POST", "/fault?kind=crash", NULL);
        assert_int_equal(waitpid(service_pid, &status, 0), service_pid);
        service_pid = -1;
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGABRT);
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_metrics),      cmocka_unit_test(test_concurrent_scrapes),
                cmocka_unit_test(test_errors_fault), cmocka_unit_test(test_fault_parameters_checked),
                cmocka_unit_test(test_crash),
        };

        if (argc != 2) {
                fprintf(stderr, "usage: %s PATH-TO-homeostat-demo-service\n", argv[0]);
                return 2;
        }
        arg_binary = argv[1];
        signal(SIGPIPE, SIG_IGN);
        curl_global_init(CURL_GLOBAL_DEFAULT);
        return cmocka_run_group_tests(tests, start_service, stop_service);
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Tests for supervisor/manager.c and manager-api.c: the real Manager with the real rule loader, the real
 * `listen` source and the real HTTP API on a real sd-event loop; only the evaluator is a test double
 * (evaluator-double.c), so what is tested is the manager's own logic: samples reach the evaluator and
 * rows reach the hook and the per-rule counts; reload swaps a valid configuration (keeping an unchanged
 * source running), keeps the old one for a broken file, rolls sources back when a new one cannot be set
 * up; state is saved at stop and restored, a corrupt state file is moved aside; StrictModes refuses a
 * group-writable file. A client thread pushes samples and talks to the API while the main thread runs the
 * loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <gsl/gsl_errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "manager.h"
#include "state-file.h"
#include "strbuf.h"

uint64_t evaluator_double_restored(const Evaluator *e);

static char tmpdir[] = "/tmp/test-manager-XXXXXX";
static char confdir[300], conffile[320], statedir[300], apisock[300], pushsock[300];

static void write_file(const char *path, const char *fmt, ...) _printf_(2, 3);
static void write_file(const char *path, const char *fmt, ...) {
        FILE *f = fopen(path, "we");
        va_list ap;

        assert_non_null(f);
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(chmod(path, 0644), 0);
}

/* One listen source ("push", with the given interval) and optionally a second one that cannot be set up,
 * plus n_rules threshold rules. */
static void write_config_ex(unsigned n_rules, const char *push_path, const char *interval, bool bad_source) {
        StrBuf b = STRBUF_INIT;

        (void) strbuf_printf(
                &b, "sources:\n  - name: push\n    listen: %s\n    interval: %s\n", push_path, interval);
        if (bad_source)
                (void) strbuf_printf(&b, "  - name: zz-bad\n    listen: %s/no/such/dir/bad.sock\n", tmpdir);
        (void) strbuf_puts(&b, "rules:\n");
        for (unsigned i = 0; i < n_rules; i++)
                (void) strbuf_printf(
                        &b,
                        "  - name: high-%u\n"
                        "    series: 'load{source=\"push\"}'\n"
                        "    detector:\n"
                        "      kind: threshold\n"
                        "      above: 100\n",
                        i);
        write_file(conffile, "%s", strbuf_str(&b));
        strbuf_done(&b);
}

static void write_config(unsigned n_rules, const char *push_path) {
        write_config_ex(n_rules, push_path, "1s", false);
}

/* ---- client side (runs in a thread) ---- */

static size_t write_cb(char *p, size_t size, size_t n, void *ud) {
        (void) strbuf_append(ud, p, size * n);
        return size * n;
}

static long http(const char *method, const char *path, StrBuf *body) {
        CURL *c = curl_easy_init();
        char url[256];
        long status = 0;

        strbuf_reset(body);
        snprintf(url, sizeof(url), "http://localhost%s", path);
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, apisock);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
        if (!streq(method, "GET"))
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
        return status;
}

static json_t *status_json(void) {
        StrBuf b = STRBUF_INIT;
        json_t *j;

        if (http("GET", "/api/v1/status", &b) != 200) {
                strbuf_done(&b);
                return NULL;
        }
        j = json_loads(strbuf_str(&b), 0, NULL);
        strbuf_done(&b);
        return j;
}

static bool push(const char *lines) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool ok;

        memcpy(sa.sun_path, pushsock, strlen(pushsock) + 1);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                if (fd >= 0)
                        close(fd);
                return false;
        }
        ok = write(fd, lines, strlen(lines)) == (ssize_t) strlen(lines);
        close(fd);
        return ok;
}

/* Wait (bounded) until the status satisfies a condition on a number at a JSON path. */
static json_int_t wait_status_int(const char *obj, const char *key, json_int_t at_least) {
        for (int i = 0; i < 200; i++) {
                json_t *j = status_json();
                json_t *o = j && obj ? json_object_get(j, obj) : j;
                json_int_t v = o ? json_integer_value(json_object_get(o, key)) : -1;
                json_decref(j);
                if (v >= at_least)
                        return v;
                usleep(25000);
        }
        return -1;
}

static json_t *rule_json(json_t *status, const char *name) {
        size_t i;
        json_t *v;
        json_array_foreach(
                json_object_get(status, "rules"),
                i,
                v) if (streq(json_string_value(json_object_get(v, "name")) ?: "", name)) return v;
        return NULL;
}

typedef struct Client {
        int done_fd;
        int failures;
        char failed_at[256];
} Client;

#define CHECK(c, cond)                                                                                    \
        do {                                                                                              \
                if (!(cond) && (c)->failures++ == 0)                                                      \
                        snprintf((c)->failed_at, sizeof((c)->failed_at), "line %d: %s", __LINE__, #cond); \
        } while (0)

static int hook_rows, hook_firing;

static void eval_hook(Manager *m, const EvalRow *row, void *ud) {
        hook_rows++;
        if (row->transition == EVAL_FIRING)
                hook_firing++;
}

static void *client_main(void *p) {
        Client *c = p;
        StrBuf b = STRBUF_INIT;
        uint64_t one = 1;
        json_t *j, *r;
        long st;

        CHECK(c, push("load 5\nload 200\n"));
        CHECK(c, wait_status_int("samples", "received", 2) >= 2);
        j = status_json();
        CHECK(c, j != NULL);
        CHECK(c, json_integer_value(json_object_get(j, "rule_count")) == 1);
        r = rule_json(j, "high-0");
        CHECK(c, r && json_integer_value(json_object_get(r, "fired_total")) == 1);
        CHECK(c, r && json_integer_value(json_object_get(r, "firing")) == 1);
        CHECK(c, strstr(json_string_value(json_object_get(j, "status")) ?: "", "1 firing") != NULL);
        json_decref(j);

        /* the recent verdicts, filtered */
        CHECK(c, http("GET", "/api/v1/verdicts?rule=high-0&series=load%7Bsource%3D%22push%22%7D", &b) == 200);
        j = json_loads(strbuf_str(&b), 0, NULL);
        CHECK(c, j && json_array_size(json_object_get(j, "verdicts")) == 2);
        r = j ? json_array_get(json_object_get(j, "verdicts"), 1) : NULL;
        CHECK(c, r && json_real_value(json_object_get(r, "value")) > 199.0);
        CHECK(c, r && json_is_true(json_object_get(r, "anomalous")));
        CHECK(c, r && streq(json_string_value(json_object_get(r, "transition")) ?: "", "firing"));
        json_decref(j);
        CHECK(c, http("GET", "/api/v1/verdicts?rule=nope", &b) == 200);
        CHECK(c, strstr(strbuf_str(&b), "\"verdicts\":[]") != NULL);

        /* a valid change: two rules; the unchanged listen source keeps running */
        write_config(2, pushsock);
        st = http("POST", "/api/v1/reload", &b);
        CHECK(c, st == 200);
        j = json_loads(strbuf_str(&b), 0, NULL);
        CHECK(c, j && json_is_true(json_object_get(j, "ok")));
        CHECK(c, j && json_integer_value(json_object_get(j, "rules")) == 2);
        CHECK(c, j && strstr(json_string_value(json_object_get(j, "message")) ?: "", "1 kept running"));
        json_decref(j);
        j = status_json();
        CHECK(c, j && json_integer_value(json_object_get(j, "rule_count")) == 2);
        r = j ? rule_json(j, "high-0") : NULL;
        CHECK(c, r && json_integer_value(json_object_get(r, "firing")) == 1); /* carried by name */
        json_decref(j);
        CHECK(c, push("load 300\n"));
        CHECK(c, wait_status_int("samples", "received", 3) >= 3);

        /* a broken file: refused with diagnostics, the two rules stay */
        write_file(conffile, "rules:\n  - name: Bad Name\n    series: 'x'\n");
        st = http("POST", "/api/v1/reload", &b);
        CHECK(c, st == 422);
        j = json_loads(strbuf_str(&b), 0, NULL);
        CHECK(c, j && json_is_false(json_object_get(j, "ok")));
        CHECK(c, j && json_integer_value(json_object_get(j, "errors")) >= 1);
        CHECK(c, j && json_array_size(json_object_get(j, "diagnostics")) >= 1);
        CHECK(c,
              j &&
                      strstr(json_string_value(json_array_get(json_object_get(j, "diagnostics"), 0)) ?: "",
                             conffile));
        CHECK(c, j && strstr(json_string_value(json_object_get(j, "message")) ?: "", "reload failed"));
        CHECK(c, j && json_integer_value(json_object_get(j, "rules")) == 2);
        json_decref(j);
        j = status_json();
        CHECK(c, j && json_integer_value(json_object_get(j, "rule_count")) == 2);
        CHECK(c, j && strstr(json_string_value(json_object_get(j, "status")) ?: "", "reload failed"));
        CHECK(c, j && json_is_false(json_object_get(json_object_get(j, "last_reload"), "ok")));
        json_decref(j);

        /* a source that cannot be set up: refused, the old listen source comes back */
        {
                char bad[400];
                snprintf(bad, sizeof(bad), "%s/no/such/dir/push.sock", tmpdir);
                write_config(1, bad);
        }
        st = http("POST", "/api/v1/reload", &b);
        CHECK(c, st == 500 || st == 422);
        j = json_loads(strbuf_str(&b), 0, NULL);
        CHECK(c, j && json_is_false(json_object_get(j, "ok")));
        json_decref(j);
        CHECK(c, push("load 7\n"));
        CHECK(c, wait_status_int("samples", "received", 4) >= 4);
        j = status_json();
        CHECK(c, j && json_integer_value(json_object_get(j, "rule_count")) == 2);
        json_decref(j);

        /* the listen source changes (same path, other interval) while a later source fails: the new push
         * source took the path over and is gone with the failed reload; the old one must work again */
        write_config_ex(2, pushsock, "2s", true);
        st = http("POST", "/api/v1/reload", &b);
        CHECK(c, st == 500);
        CHECK(c, push("load 8\n"));
        CHECK(c, wait_status_int("samples", "received", 5) >= 5);

        /* the same change without the failing source: the new push source takes over, the old one goes */
        write_config_ex(2, pushsock, "2s", false);
        st = http("POST", "/api/v1/reload", &b);
        CHECK(c, st == 200);
        j = json_loads(strbuf_str(&b), 0, NULL);
        CHECK(c, j && strstr(json_string_value(json_object_get(j, "message")) ?: "", "0 kept running"));
        json_decref(j);
        CHECK(c, push("load 9\n"));
        CHECK(c, wait_status_int("samples", "received", 6) >= 6);

        /* metrics and the page */
        CHECK(c, http("GET", "/metrics", &b) == 200);
        CHECK(c, strstr(strbuf_str(&b), "\nhomeostat_rules 2\n") != NULL);
        /* fired at 200, and again at 300 after the reload (the double does not carry series state) */
        CHECK(c, strstr(strbuf_str(&b), "homeostat_rule_fired_total{rule=\"high-0\"} 2\n") != NULL);
        CHECK(c, strstr(strbuf_str(&b), "homeostat_config_reloads_total{result=\"failure\"} 3\n") != NULL);
        CHECK(c, strstr(strbuf_str(&b), "homeostat_config_reloads_total{result=\"success\"} 2\n") != NULL);
        CHECK(c, strstr(strbuf_str(&b), "homeostat_source_up{source=\"push\"}") != NULL);
        CHECK(c, http("GET", "/", &b) == 200);
        CHECK(c, strstr(strbuf_str(&b), "<pre>") && strstr(strbuf_str(&b), "high-1"));
        CHECK(c, http("DELETE", "/api/v1/status", &b) == 405);

        strbuf_done(&b);
        CHECK(c, write(c->done_fd, &one, sizeof(one)) == sizeof(one));
        return NULL;
}

static int on_client_done(sd_event_source *s, int fd, uint32_t revents, void *ud) {
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static void test_manager_lifecycle(void **state) {
        _cleanup_(manager_freep) Manager *m = NULL;
        ReloadResult res = {};
        Config *config = NULL;
        Client c = {};
        sd_event_source *done = NULL;
        pthread_t t;
        char *data = NULL;
        size_t len;
        int dfd;

        write_config(1, pushsock);
        assert_int_equal(manager_load_config(confdir, false, &config, &res), 0);
        assert_true(res.ok);
        assert_int_equal(res.n_rules, 1);
        reload_result_done(&res);

        assert_int_equal(
                manager_new(
                        &(ManagerOptions){ .config_path = confdir, .state_dir = statedir, .api_socket = apisock },
                        config,
                        &m),
                0);
        manager_set_eval_hook(m, eval_hook, NULL);
        assert_int_equal(manager_start(m), 0);
        assert_false(manager_loop_lagging(m));

        c.done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        assert_int_equal(
                sd_event_add_io(manager_get_event(m), &done, c.done_fd, EPOLLIN, on_client_done, NULL), 0);
        assert_int_equal(pthread_create(&t, NULL, client_main, &c), 0);
        assert_int_equal(manager_run(m), 0);
        pthread_join(t, NULL);
        if (c.failures > 0)
                fail_msg("%d client checks failed, first at %s", c.failures, c.failed_at);
        sd_event_source_disable_unref(done);
        close(c.done_fd);

        assert_true(hook_rows >= 4);
        assert_int_equal(hook_firing, 3); /* high-0 at 200; high-0 and high-1 at 300 after the reload */

        assert_int_equal(manager_stop(m), 0);
        m = manager_free(m);

        assert_int_equal(state_dir_open(statedir, false, &dfd), 0);
        assert_int_equal(state_file_read(dfd, MANAGER_EVALUATOR_STATE_FILE, 4096, &data, &len), 0);
        /* the double saves "EVALDBL1 <samples incl. adopted> <series>" */
        assert_true(startswith(data, "EVALDBL1 "));
        free(data);
        close(dfd);
        struct stat st;
        assert_int_equal(lstat(apisock, &st), -1); /* the API socket is gone with the manager */
}

static int count_corrupt(void) {
        DIR *d = opendir(statedir);
        struct dirent *de;
        int n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (startswith(de->d_name, MANAGER_EVALUATOR_STATE_FILE ".corrupt-"))
                        n++;
        closedir(d);
        return n;
}

static void test_manager_restore(void **state) {
        _cleanup_(manager_freep) Manager *m = NULL;
        ReloadResult res = {};
        Config *config = NULL;
        char path[400];
        int before = count_corrupt();

        snprintf(path, sizeof(path), "%s/%s", statedir, MANAGER_EVALUATOR_STATE_FILE);
        write_config(1, pushsock);

        write_file(path, "EVALDBL1 42 3\n");
        assert_int_equal(manager_load_config(confdir, false, &config, &res), 0);
        reload_result_done(&res);
        assert_int_equal(
                manager_new(&(ManagerOptions){ .config_path = confdir, .state_dir = statedir }, config, &m),
                0);
        assert_int_equal(evaluator_double_restored(manager_get_evaluator(m)), 42);
        m = manager_free(m);
        assert_int_equal(count_corrupt(), before);

        /* corrupt and unknown-version files are moved aside, learning starts fresh */
        write_file(path, "garbage\n");
        assert_int_equal(manager_load_config(confdir, false, &config, &res), 0);
        reload_result_done(&res);
        assert_int_equal(
                manager_new(&(ManagerOptions){ .config_path = confdir, .state_dir = statedir }, config, &m),
                0);
        assert_int_equal(evaluator_double_restored(manager_get_evaluator(m)), 0);
        m = manager_free(m);
        assert_int_equal(count_corrupt(), before + 1);
        assert_int_equal(access(path, F_OK), -1);

        write_file(path, "EVALDBL9 1 1\n");
        assert_int_equal(manager_load_config(confdir, false, &config, &res), 0);
        reload_result_done(&res);
        assert_int_equal(
                manager_new(&(ManagerOptions){ .config_path = confdir, .state_dir = statedir }, config, &m),
                0);
        json_t *j = manager_status_json(m);
        assert_non_null(j);
        assert_non_null(strstr(
                json_string_value(json_object_get(json_object_get(j, "state"), "restore")), "moved to"));
        json_decref(j);
        m = manager_free(m);
        assert_true(count_corrupt() >= before + 1);
}

static void test_manager_strict_modes(void **state) {
        ReloadResult res = {};
        Config *config = NULL;

        write_config(1, pushsock);
        assert_int_equal(chmod(conffile, 0664), 0);
        assert_int_equal(manager_load_config(confdir, true, &config, &res), -EPERM);
        assert_null(config);
        assert_false(res.ok);
        assert_true(res.n_errors >= 1);
        bool found = false;
        for (size_t i = 0; i < res.n_diagnostics; i++)
                if (strstr(res.diagnostics[i], conffile) && strstr(res.diagnostics[i], "chmod go-w"))
                        found = true;
        assert_true(found);
        reload_result_done(&res);
        assert_int_equal(chmod(conffile, 0644), 0);

        /* a file that does not parse: -EINVAL with file:line:col diagnostics */
        write_file(conffile, "rules: [\n");
        assert_int_equal(manager_load_config(confdir, false, &config, &res), -EINVAL);
        assert_true(res.n_diagnostics >= 1);
        assert_non_null(strstr(res.diagnostics[0], conffile));
        reload_result_done(&res);

        /* what the evaluator refuses is a configuration error naming the rule */
        write_file(
                conffile,
                "rules:\n"
                "  - name: ok\n"
                "    series: 'a'\n"
                "    detector: {kind: ewma}\n"
                "  - name: bad-eval\n"
                "    series: 'a'\n"
                "    detector: {kind: ewma}\n");
        assert_int_equal(manager_load_config(confdir, false, &config, &res), -EINVAL);
        assert_null(config);
        assert_int_equal(res.n_errors, 1);
        assert_non_null(strstr(res.diagnostics[res.n_diagnostics - 1], "homeostat.yaml:5:"));
        assert_non_null(
                strstr(res.diagnostics[res.n_diagnostics - 1], "rule 'bad-eval': the evaluator refuses"));
        reload_result_done(&res);

        /* a path that does not exist: not -EINVAL (the caller exits 2, not 1) */
        char nope[400];
        snprintf(nope, sizeof(nope), "%s/nope.yaml", tmpdir);
        int r = manager_load_config(nope, false, &config, &res);
        assert_true(r < 0 && r != -EINVAL);
        assert_true(res.n_diagnostics >= 1);
        reload_result_done(&res);
}

static int setup(void **state) {
        assert_non_null(mkdtemp(tmpdir));
        assert_int_equal(chmod(tmpdir, 0755), 0);
        snprintf(confdir, sizeof(confdir), "%s/etc", tmpdir);
        snprintf(conffile, sizeof(conffile), "%s/homeostat.yaml", confdir);
        snprintf(statedir, sizeof(statedir), "%s/state", tmpdir);
        snprintf(apisock, sizeof(apisock), "%s/api.sock", tmpdir);
        snprintf(pushsock, sizeof(pushsock), "%s/push.sock", tmpdir);
        assert_int_equal(mkdir(confdir, 0755), 0);
        return 0;
}

static int teardown(void **state) {
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_manager_lifecycle),
                cmocka_unit_test(test_manager_restore),
                cmocka_unit_test(test_manager_strict_modes),
        };
        sigset_t ss;

        /* as homeostatd's main does, before any thread */
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGHUP);
        sigaddset(&ss, SIGCHLD);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        signal(SIGPIPE, SIG_IGN);
        gsl_set_error_handler_off();
        curl_global_init(CURL_GLOBAL_DEFAULT);
        return cmocka_run_group_tests(tests, setup, teardown);
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The systemd source against a real service manager: `systemd --user` in a private mount namespace (see
 * /work/shared/recipes/real-peers.md), with transient units started by systemd-run. It checks that the
 * memory of a unit that allocates 50 MiB arrives, that a glob matches several units and not others, that
 * restarts are counted by InvocationID, that a stopped transient unit stops producing samples while a new
 * one appears, that absent properties ([not set]) yield no sample, and that a manager that does not answer
 * makes the collection fail (source_up 0, no samples) until it answers again.
 *
 * Usage: test-source-systemd MEMHOG_BINARY. Exits 77 if no user manager can be started here.
 */
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sources-test.h"

static char *memhog;
static char *rt;
static pid_t manager_pid = -1;
static char env_runtime[600];
static sd_event *event;
static sd_bus *bus;

/* ---- the user manager ---- */

/* On a cgroup v1 hybrid host (like the test machines), every root user manager would take the cgroup
 * root for its own and put its units in /app.slice, so two tests running at once (this one and another
 * suite's) would stop each other's units. The manager therefore first moves itself into a cgroup of its
 * own in every hierarchy (cpuset excepted: a new cpuset cgroup has no CPUs), which becomes its root. */
static const char manager_script[] =
        "if [ -d /sys/fs/cgroup/unified ] && [ -d /sys/fs/cgroup/systemd ]; then "
        "  for d in /sys/fs/cgroup/*/; do "
        "    case \"$d\" in */cpuset/) continue;; esac; "
        "    mkdir -p \"$d$1\" && echo $$ > \"$d$1/cgroup.procs\" || exit 1; "
        "  done; "
        "fi; "
        "mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/system && "
        "HOME=\"$0/home\" XDG_RUNTIME_DIR=\"$0/run\" exec /lib/systemd/systemd --user";

static char cgroup_name[64];

static int start_manager(void) {
        char dir[600], private[700], log[700];

        rt = make_temp_dir();
        if (!rt)
                return -errno;
        snprintf(dir, sizeof(dir), "%s/home", rt);
        if (mkdir(dir, 0700) < 0)
                return -errno;
        snprintf(dir, sizeof(dir), "%s/run", rt);
        if (mkdir(dir, 0700) < 0)
                return -errno;
        snprintf(env_runtime, sizeof(env_runtime), "XDG_RUNTIME_DIR=%s/run", rt);
        snprintf(private, sizeof(private), "%s/run/systemd/private", rt);
        snprintf(log, sizeof(log), "%s/manager.log", rt);
        snprintf(cgroup_name, sizeof(cgroup_name), "homeostat-sources-test-%d", (int) getpid());

        manager_pid = spawn(
                (char *[]){ (char *) "unshare",
                            (char *) "--mount",
                            (char *) "--propagation",
                            (char *) "private",
                            (char *) "sh",
                            (char *) "-c",
                            (char *) manager_script,
                            rt,
                            cgroup_name,
                            NULL },
                NULL,
                log);
        if (manager_pid < 0)
                return manager_pid;
        if (!wait_for_path(private, 20 * USEC_PER_SEC)) {
                fprintf(stderr, "systemd --user did not come up; its log is in %s\n", log);
                return -ETIMEDOUT;
        }
        return 0;
}

static void stop_manager(void) {
        char path[256];

        if (manager_pid > 0)
                (void) kill(manager_pid, SIGCONT); /* in case a failed test left it stopped */
        stop_pid(manager_pid);
        manager_pid = -1;
        rmdir_rf(rt);
        free(rt);
        rt = NULL;
        /* Our cgroups, now empty: only directories can go on cgroupfs, leaves first. */
        for (const char *const *h = (const char *const[]){ "systemd",
                                                           "unified",
                                                           "memory",
                                                           "pids",
                                                           "cpu",
                                                           "cpuacct",
                                                           "blkio",
                                                           "devices",
                                                           "freezer",
                                                           "net_cls",
                                                           "perf_event",
                                                           "hugetlb",
                                                           "rdma",
                                                           "misc",
                                                           NULL };
             *h;
             h++) {
                if (!cgroup_name[0])
                        break;
                snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/%s", *h, cgroup_name);
                rmdir_rf(path);
        }
}

static int systemctl(const char *verb, const char *unit) {
        return run_program(
                (char *[]){ (char *) "systemctl", (char *) "--user", (char *) verb, (char *) unit, NULL },
                (char *[]){ env_runtime, NULL },
                30 * USEC_PER_SEC);
}

static int run_unit(const char *unit, const char *mib) {
        char arg[128];
        snprintf(arg, sizeof(arg), "--unit=%s", unit);
        return run_program(
                (char *[]){ (char *) "systemd-run",
                            (char *) "--user",
                            (char *) "--quiet",
                            arg,
                            (char *) "-p",
                            (char *) "MemoryAccounting=yes",
                            (char *) "-p",
                            (char *) "TasksAccounting=yes",
                            (char *) memhog,
                            (char *) mib,
                            NULL },
                (char *[]){ env_runtime, NULL },
                30 * USEC_PER_SEC);
}

static int setup(void **state) {
        char address[700];

        assert_int_equal(sd_event_new(&event), 0);
        assert_int_equal(sd_bus_new(&bus), 0);
        snprintf(address, sizeof(address), "unix:path=%s/run/systemd/private", rt);
        assert_true(sd_bus_set_address(bus, address) >= 0);
        assert_true(sd_bus_start(bus) >= 0);
        assert_true(sd_bus_attach_event(bus, event, 0) >= 0);

        assert_int_equal(run_unit("memhog-a.service", "50"), 0);
        assert_int_equal(run_unit("memhog-b.service", "8"), 0);
        assert_int_equal(run_unit("other.service", "1"), 0);
        return 0;
}

static int teardown(void **state) {
        sd_bus_flush_close_unref(bus);
        sd_event_unref(event);
        return 0;
}

/* ---- helpers ---- */

static Source *units_source(Recorder *rec, usec_t timeout) {
        static char *units[] = { (char *) "memhog-*.service", (char *) "no-such-unit-*.service", NULL };
        SourceConfig c = {
                .name = (char *) "units",
                .kind = SOURCE_SYSTEMD,
                .units = units,
                .n_units = 2,
                .interval_usec = 250 * USEC_PER_MSEC,
                .timeout_usec = timeout,
                .max_series = 1000,
        };
        const SourceDeps deps = { .event = event, .bus = bus };
        Source *s = NULL;

        assert_int_equal(source_new(&deps, &c, recorder_cb, rec, &s), 0);
        track_source(s);
        assert_int_equal(source_start(s), 0);
        return s;
}

static char *key(const char *metric, const char *unit) {
        static char buf[4][256];
        static unsigned i;
        char *k = buf[i++ % 4];
        snprintf(k, sizeof(buf[0]), "%s{source=\"units\",unit=\"%s\"}", metric, unit);
        return k;
}

typedef struct ValueWait {
        Recorder *rec;
        const char *key;
        double at_least;
} ValueWait;

static bool value_reached(void *userdata) {
        ValueWait *w = userdata;
        const RecSample *x = recorder_last(w->rec, w->key);
        return x && x->value >= w->at_least;
}

static void wait_value(Recorder *rec, const char *k, double at_least) {
        ValueWait w = { rec, k, at_least };
        if (!run_until(event, value_reached, &w, 20 * USEC_PER_SEC)) {
                const RecSample *x = recorder_last(rec, k);
                fail_msg("%s never reached %g (last %g)", k, at_least, x ? x->value : NAN);
        }
}

typedef struct Wait {
        Recorder *rec;
        uint64_t collections;
} Wait;

static bool enough_collections(void *userdata) {
        Wait *w = userdata;
        return w->rec->collections >= w->collections;
}

static void wait_collections(Recorder *rec, uint64_t more) {
        Wait w = { rec, rec->collections + more };
        assert_true(run_until(event, enough_collections, &w, 20 * USEC_PER_SEC));
}

static size_t samples_of_unit(const Recorder *rec, const char *unit, uint64_t collection) {
        char needle[128];
        size_t n = 0;
        snprintf(needle, sizeof(needle), "unit=\"%s\"", unit);
        for (size_t i = 0; i < rec->n; i++)
                n += rec->v[i].collection == collection && strstr(rec->v[i].key, needle);
        return n;
}

static uint64_t cpu_usage_property(const char *unit) {
        _cleanup_free_ char *path = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint64_t v = 0;

        assert_int_equal(sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit, &path), 0);
        assert_int_equal(
                sd_bus_get_property_trivial(
                        bus,
                        "org.freedesktop.systemd1",
                        path,
                        "org.freedesktop.systemd1.Service",
                        "CPUUsageNSec",
                        &error,
                        't',
                        &v),
                0);
        sd_bus_error_free(&error);
        return v;
}

/* ---- tests ---- */

static void test_memory_and_glob(void **state) {
        Recorder rec;
        SourceStats st;
        const RecSample *x;

        recorder_init(&rec);
        Source *s = units_source(&rec, 2 * USEC_PER_SEC);

        wait_value(&rec, key("homeostat_unit_memory_bytes", "memhog-a.service"), 50.0 * 1024 * 1024);
        wait_value(&rec, key("homeostat_unit_memory_bytes", "memhog-b.service"), 8.0 * 1024 * 1024);
        x = recorder_last(&rec, key("homeostat_unit_memory_bytes", "memhog-a.service"));
        assert_int_equal(x->type, SAMPLE_GAUGE);
        assert_true(x->value < 200.0 * 1024 * 1024);
        x = recorder_last(&rec, key("homeostat_unit_memory_bytes", "memhog-b.service"));
        assert_true(x->value < 50.0 * 1024 * 1024);

        x = recorder_last(&rec, key("homeostat_unit_tasks", "memhog-a.service"));
        assert_non_null(x);
        assert_int_equal(x->type, SAMPLE_GAUGE);
        assert_true(double_eq(x->value, 1));
        x = recorder_last(&rec, key("homeostat_unit_active", "memhog-a.service"));
        assert_non_null(x);
        assert_int_equal(x->type, SAMPLE_GAUGE);
        assert_true(double_eq(x->value, 1));
        x = recorder_last(&rec, key("homeostat_unit_restarts_total", "memhog-a.service"));
        assert_non_null(x);
        assert_int_equal(x->type, SAMPLE_COUNTER);
        assert_true(double_eq(x->value, 0));

        /* The glob matched both memhogs and nothing else. */
        assert_int_equal(recorder_count_metric_in(&rec, "homeostat_unit_active", rec.collections - 1), 2);
        for (size_t i = 0; i < rec.n; i++)
                assert_null(strstr(rec.v[i].key, "other.service"));

        /* CPUUsageNSec: a sample exactly when the manager has a value ([not set] on cgroup v1). */
        uint64_t cpu = cpu_usage_property("memhog-a.service");
        size_t n_cpu = recorder_count(&rec, key("homeostat_unit_cpu_seconds_total", "memhog-a.service"));
        if (cpu == UINT64_MAX)
                assert_int_equal(n_cpu, 0);
        else {
                assert_true(n_cpu > 0);
                x = recorder_last(&rec, key("homeostat_unit_cpu_seconds_total", "memhog-a.service"));
                assert_int_equal(x->type, SAMPLE_COUNTER);
                assert_true(x->value >= 0 && x->value <= (double) cpu / 1e9);
        }
        print_message("CPUUsageNSec of memhog-a.service: %s\n", cpu == UINT64_MAX ? "[not set]" : "set");

        source_get_stats(s, &st);
        assert_true(st.up);
        assert_int_equal(st.failures, 0);
        assert_string_equal(st.last_error, "");
        assert_true(double_eq(rec.last_up, 1));
        recorder_done(&rec);
}

static void test_restarts(void **state) {
        Recorder rec;

        recorder_init(&rec);
        Source *s = units_source(&rec, 2 * USEC_PER_SEC);
        wait_value(&rec, key("homeostat_unit_active", "memhog-a.service"), 1);
        const RecSample *x = recorder_last(&rec, key("homeostat_unit_restarts_total", "memhog-a.service"));
        assert_true(double_eq(x->value, 0));

        assert_int_equal(systemctl("restart", "memhog-a.service"), 0);
        wait_value(&rec, key("homeostat_unit_restarts_total", "memhog-a.service"), 1);
        assert_int_equal(systemctl("restart", "memhog-a.service"), 0);
        wait_value(&rec, key("homeostat_unit_restarts_total", "memhog-a.service"), 2);
        wait_collections(&rec, 2);
        x = recorder_last(&rec, key("homeostat_unit_restarts_total", "memhog-a.service"));
        assert_true(double_eq(x->value, 2));
        /* The other unit was not restarted. */
        x = recorder_last(&rec, key("homeostat_unit_restarts_total", "memhog-b.service"));
        assert_true(double_eq(x->value, 0));
        SourceStats st;
        source_get_stats(s, &st);
        assert_int_equal(st.failures, 0);
        recorder_done(&rec);
}

static void test_units_come_and_go(void **state) {
        Recorder rec;

        recorder_init(&rec);
        Source *s = units_source(&rec, 2 * USEC_PER_SEC);
        wait_value(&rec, key("homeostat_unit_active", "memhog-b.service"), 1);

        /* A stopped transient unit vanishes and yields no more samples. */
        assert_int_equal(systemctl("stop", "memhog-b.service"), 0);
        wait_collections(&rec, 2);
        uint64_t last = rec.collections - 1;
        assert_int_equal(samples_of_unit(&rec, "memhog-b.service", last), 0);
        assert_true(samples_of_unit(&rec, "memhog-a.service", last) >= 3);

        /* A new unit matching the glob shows up. */
        assert_int_equal(run_unit("memhog-c.service", "2"), 0);
        wait_value(&rec, key("homeostat_unit_memory_bytes", "memhog-c.service"), 2.0 * 1024 * 1024);
        wait_value(&rec, key("homeostat_unit_active", "memhog-c.service"), 1);
        assert_true(double_eq(rec.last_up, 1));
        SourceStats st;
        source_get_stats(s, &st);
        assert_int_equal(st.failures, 0);
        recorder_done(&rec);
}

static void test_manager_not_answering(void **state) {
        Recorder rec;
        SourceStats st;

        recorder_init(&rec);
        Source *s = units_source(&rec, 300 * USEC_PER_MSEC);
        wait_value(&rec, key("homeostat_unit_active", "memhog-a.service"), 1);

        /* A stopped manager: collections time out, emit only source_up 0. */
        assert_int_equal(kill(manager_pid, SIGSTOP), 0);
        wait_collections(&rec, 1); /* the one in flight may still have succeeded */
        uint64_t first = rec.collections;
        wait_collections(&rec, 2);
        (void) kill(manager_pid, SIGCONT);
        source_get_stats(s, &st);
        assert_false(st.up);
        assert_true(st.failures >= 2);
        assert_string_equal(st.last_error, "timed out after 300ms");
        for (uint64_t c = first; c < rec.collections; c++)
                assert_int_equal(samples_of_unit(&rec, "memhog-a.service", c), 0);
        assert_true(double_eq(rec.last_up, 0));

        /* It answers again: the source recovers. */
        wait_collections(&rec, 3);
        assert_true(double_eq(rec.last_up, 1));
        source_get_stats(s, &st);
        assert_true(st.up);
        recorder_done(&rec);
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_memory_and_glob, teardown_sources),
                cmocka_unit_test_teardown(test_restarts, teardown_sources),
                cmocka_unit_test_teardown(test_units_come_and_go, teardown_sources),
                cmocka_unit_test_teardown(test_manager_not_answering, teardown_sources),
        };
        int r;

        if (argc != 2) {
                fprintf(stderr, "usage: %s MEMHOG_BINARY\n", argv[0]);
                return 2;
        }
        memhog = realpath(argv[1], NULL); /* systemd-run wants an absolute path */
        if (!memhog) {
                fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
                return 2;
        }
        signal(SIGPIPE, SIG_IGN);
        if (geteuid() != 0 || access("/lib/systemd/systemd", X_OK) < 0) {
                fprintf(stderr, "needs root and /lib/systemd/systemd for a private user manager: skipping\n");
                return 77;
        }
        if (start_manager() < 0) {
                stop_manager();
                fprintf(stderr, "cannot start systemd --user here: skipping\n");
                return 77;
        }
        r = cmocka_run_group_tests(tests, setup, teardown);
        stop_manager();
        free(memhog);
        return r;
}

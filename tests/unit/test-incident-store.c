/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Tests for supervisor/incident-store.c: the three state files round-trip through the state directory; a
 * corrupt or unknown-version file is moved aside and reported while the other files still load; missing
 * files are a fresh start.
 */
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "incident-harness.h"
#include "incident-store.h"
#include "state-file.h"

static char *tmpdir(void) {
        char *d = strdup("/tmp/homeostat-test-store-XXXXXX");
        assert_non_null(mkdtemp(d));
        return d;
}

static void rm_rf(const char *dir) {
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

static void save(Harness *h, int dfd) {
        for (IncidentStoreFile f = 0; f < _STORE_FILE_MAX; f++) {
                char *data;
                size_t len;
                assert_int_equal(incident_store_serialize(h->engine, f, h->now, &data, &len), 0);
                assert_int_equal(data[len - 1], '\n');
                assert_int_equal(state_file_write_atomic(dfd, incident_store_file_name(f), data, len), 0);
                free(data);
        }
}

static void populate(Harness *h) {
        static Step s[1];
        s[0] = h_drain("api/web1");
        h->labels[0] = (Label){ "unit", "api.service" };
        h->n_labels = 1;
        h_rule(h, 0, "api-latency", s, 1);
        h_start(h, false);
        Silence *si = NULL;
        json_t *body = json_pack("{s:s, s:s, s:s}", "rule", "other", "duration", "1h", "comment", "c");
        char *error = NULL;
        Id128 sid = { { 7 } };
        assert_int_equal(silence_from_request_json(body, &sid, h->now, "uid 0", &si, &error), 0);
        json_decref(body);
        assert_int_equal(incident_engine_add_silence(h->engine, si, h->now, &h->fx), 0);
        h_row(h, 0, "m{unit=\"api.service\"}", EVAL_FIRING, true, 0.52, h_t(h) - 60, NAN);
        Incident *i = h_incident(h, 0);
        json_t *undo = json_pack("{s:s}", "state", "ready");
        h_result(h, i, STEP_SUCCEEDED, NULL, undo);
        json_decref(undo);
}

static void test_round_trip(void **state) {
        Harness h = {};
        char *dir = tmpdir();
        int dfd = open(dir, O_DIRECTORY | O_CLOEXEC);
        IncidentEngine *e;
        IncidentStoreLoad l = {};

        populate(&h);
        save(&h, dfd);
        assert_int_equal(incident_engine_new(&h.opts, &e), 0);
        assert_int_equal(incident_store_load(e, dfd, h.now, &l), 0);
        for (IncidentStoreFile f = 0; f < _STORE_FILE_MAX; f++) {
                assert_true(l.found[f]);
                assert_true(l.loaded[f]);
        }
        incident_store_load_done(&l);
        json_t *a = incident_engine_incidents_to_json(h.engine, h.now),
               *b = incident_engine_incidents_to_json(e, h.now);
        assert_true(json_equal(a, b));
        json_decref(a);
        json_decref(b);
        assert_int_equal(incident_engine_silences(e)->n, 1);
        assert_non_null(guard_find_rule(incident_engine_guards(e), "api-latency"));
        incident_engine_free(e);
        h_stop(&h);
        close(dfd);
        rm_rf(dir);
        free(dir);
}

static size_t count_prefix(const char *dir, const char *prefix) {
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;
        assert_non_null(d);
        while ((de = readdir(d)))
                n += startswith(de->d_name, prefix) != NULL;
        closedir(d);
        return n;
}

static void test_corrupt_moved_aside(void **state) {
        Harness h = {};
        char *dir = tmpdir();
        int dfd = open(dir, O_DIRECTORY | O_CLOEXEC);
        IncidentEngine *e;
        IncidentStoreLoad l = {};
        static const char garbage[] = "{\"version\": 1, \"incidents\": [{\"id\": \"nope\"";
        static const char future[] = "{\"version\": 2, \"silences\": []}\n";

        populate(&h);
        save(&h, dfd);
        assert_int_equal(state_file_write_atomic(dfd, INCIDENT_STORE_INCIDENTS, garbage, strlen(garbage)), 0);
        assert_int_equal(state_file_write_atomic(dfd, INCIDENT_STORE_SILENCES, future, strlen(future)), 0);

        assert_int_equal(incident_engine_new(&h.opts, &e), 0);
        assert_int_equal(incident_store_load(e, dfd, h.now, &l), 1);
        assert_false(l.loaded[STORE_INCIDENTS]);
        assert_int_equal(l.error[STORE_INCIDENTS], -EBADMSG);
        assert_non_null(strstr(l.message[STORE_INCIDENTS], "line 1"));
        assert_non_null(l.moved_to[STORE_INCIDENTS]);
        assert_non_null(startswith(l.moved_to[STORE_INCIDENTS], "incidents.json.corrupt-"));
        assert_false(l.loaded[STORE_SILENCES]);
        assert_int_equal(l.error[STORE_SILENCES], -EPROTONOSUPPORT);
        assert_non_null(strstr(l.message[STORE_SILENCES], "unsupported version 2"));
        /* The guards still loaded. */
        assert_true(l.loaded[STORE_GUARDS]);
        assert_non_null(guard_find_rule(incident_engine_guards(e), "api-latency"));
        incident_store_load_done(&l);
        assert_int_equal(count_prefix(dir, "incidents.json.corrupt-"), 1);
        assert_int_equal(count_prefix(dir, "silences.json.corrupt-"), 1);
        assert_int_equal(faccessat(dfd, INCIDENT_STORE_INCIDENTS, F_OK, 0), -1);
        size_t n;
        (void) incident_engine_incidents(e, &n);
        assert_int_equal(n, 0);
        incident_engine_free(e);

        /* Nothing there: a fresh start. */
        assert_int_equal(unlinkat(dfd, INCIDENT_STORE_GUARDS, 0), 0);
        assert_int_equal(incident_engine_new(&h.opts, &e), 0);
        assert_int_equal(incident_store_load(e, dfd, h.now, &l), 0);
        assert_false(l.found[STORE_INCIDENTS] || l.found[STORE_GUARDS] || l.found[STORE_SILENCES]);
        incident_store_load_done(&l);
        incident_engine_free(e);
        h_stop(&h);
        close(dfd);
        rm_rf(dir);
        free(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_corrupt_moved_aside),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

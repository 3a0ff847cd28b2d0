/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests for notifiers/notifier-spool.c: durable write and read back in order, leftover temporary files,
 * corrupt and unexpected files moved aside (never crashed on), dead letters bounded, notifier names as
 * directory names, firing-alert records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "notifier-format.h"
#include "notifier-spool.h"
#include "util.h"

static char tmpdir[] = "/tmp/test-notifier-spool-XXXXXX";
static int dirfd_ = -1;

typedef struct Reports {
        size_t n;
        char files[16][64];
} Reports;

static void on_report(const char *file, const char *reason, void *userdata) {
        Reports *r = userdata;
        assert_non_null(reason);
        if (r->n < 16)
                snprintf(r->files[r->n], sizeof(r->files[0]), "%s", file);
        r->n++;
}

static int setup(void **state) {
        char cmd[256];
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-notifier-spool-XXXXXX");
        assert_non_null(mkdtemp(tmpdir));
        snprintf(cmd, sizeof(cmd), "%s", tmpdir);
        assert_int_equal(spool_open_dir(AT_FDCWD, tmpdir, &dirfd_), 0);
        return 0;
}

static int teardown(void **state) {
        char cmd[256];
        close(dirfd_);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        assert_int_equal(system(cmd), 0);
        return 0;
}

static json_t *incident(const char *id, const char *state) {
        json_t *raw = json_pack(
                "{s:s, s:s, s:s, s:s, s:s, s:s, s:n, s:n}",
                "id",
                id,
                "rule",
                "api-latency",
                "series",
                "m{a=\"b\"}",
                "host",
                "web1",
                "state",
                state,
                "detected_at",
                "2026-11-28T02:30:38Z",
                "resolved_at",
                "mttr_seconds");
        json_t *out = NULL;
        assert_int_equal(notifier_incident_normalize(raw, &out, NULL), 0);
        json_decref(raw);
        return out;
}

static json_t *event(int seq, const char *message) {
        json_t *raw = json_pack(
                "{s:i, s:s, s:s, s:s, s:{s:f}}",
                "seq",
                seq,
                "at",
                "2026-11-28T02:30:38Z",
                "kind",
                "firing",
                "message",
                message,
                "attrs",
                "value",
                0.52);
        json_t *out = NULL;
        assert_int_equal(notifier_event_normalize(raw, &out, NULL), 0);
        json_decref(raw);
        return out;
}

static void write_msg(uint64_t seq, const char *id, int eseq, const char *message) {
        SpoolMessage m = { .seq = seq,
                           .created_usec = 1795833038000000ULL + seq,
                           .incident = incident(id, "firing"),
                           .event = event(eseq, message) };
        assert_int_equal(spool_write_message(dirfd_, &m), 0);
        spool_message_done(&m);
}

static void write_raw(const char *name, const char *content) {
        int fd = openat(dirfd_, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, content, strlen(content)), (ssize_t) strlen(content));
        close(fd);
}

static bool exists(const char *rel) {
        struct stat st;
        return fstatat(dirfd_, rel, &st, 0) >= 0;
}

static void free_msgs(SpoolMessage *v, size_t n) {
        for (size_t i = 0; i < n; i++)
                spool_message_done(&v[i]);
        free(v);
}

static void test_roundtrip_in_order(void **state) {
        SpoolMessage *v = NULL;
        size_t n = 0;
        uint64_t next = 0;
        Reports rep = {};

        write_msg(3, "inc-b", 1, "third");
        write_msg(1, "inc-a", 1, "first \xF0\x9F\x99\x82");
        write_msg(2, "inc-a", 2, "second");
        write_msg(12, "inc-a", 3, "fourth");
        /* Nothing temporary left behind by a successful write. */
        assert_false(exists(".tmp-00000000000000000001.json"));

        assert_int_equal(spool_load_messages(dirfd_, &v, &n, &next, on_report, &rep), 0);
        assert_int_equal(rep.n, 0);
        assert_int_equal(n, 4);
        assert_int_equal(next, 13);
        assert_int_equal(v[0].seq, 1);
        assert_int_equal(v[1].seq, 2);
        assert_int_equal(v[2].seq, 3);
        assert_int_equal(v[3].seq, 12);
        assert_string_equal(
                json_string_value(json_object_get(v[0].event, "message")), "first \xF0\x9F\x99\x82");
        assert_string_equal(json_string_value(json_object_get(v[2].incident, "id")), "inc-b");
        assert_int_equal(v[0].created_usec, 1795833038000001ULL);
        assert_true(json_is_real(json_object_get(json_object_get(v[0].event, "attrs"), "value")));
        free_msgs(v, n);

        /* Remove one, read again. */
        assert_int_equal(spool_remove_message(dirfd_, 2), 0);
        assert_int_equal(spool_remove_message(dirfd_, 2), 0); /* already gone is fine */
        assert_int_equal(spool_sync(dirfd_), 0);
        assert_int_equal(spool_load_messages(dirfd_, &v, &n, &next, on_report, &rep), 0);
        assert_int_equal(n, 3);
        assert_int_equal(v[1].seq, 3);
        free_msgs(v, n);
}

static void test_corrupt_moved_aside(void **state) {
        SpoolMessage *v = NULL;
        size_t n = 0;
        uint64_t next = 0;
        Reports rep = {};
        char name[SPOOL_NAME_MAX];

        write_msg(1, "inc-a", 1, "good");
        write_raw(spool_message_file_name(2, name), "{\"homeostat_outbox\":1,\"created_us"); /* truncated */
        write_raw(spool_message_file_name(3, name), "\x00\x01garbage");
        write_raw(spool_message_file_name(4, name), "{\"homeostat_outbox\":2,\"created_usec\":1}");
        write_raw(
                spool_message_file_name(5, name),
                "{\"homeostat_outbox\":1,\"created_usec\":1,\"incident\":{\"id\":\"x\"},\"event\":{}}");
        write_raw(spool_message_file_name(6, name), "");
        write_raw("notes.txt", "someone's notes");
        write_raw(".tmp-00000000000000000007.json", "{\"half\":"); /* an interrupted write */
        write_msg(8, "inc-a", 2, "good too");

        assert_int_equal(spool_load_messages(dirfd_, &v, &n, &next, on_report, &rep), 0);
        assert_int_equal(n, 2);
        assert_int_equal(v[0].seq, 1);
        assert_int_equal(v[1].seq, 8);
        assert_int_equal(next, 9);
        free_msgs(v, n);
        /* 2,3,4,5,6 and notes.txt reported and moved aside; the temporary file is silently removed. */
        assert_int_equal(rep.n, 6);
        assert_false(exists("00000000000000000002.json"));
        assert_false(exists("notes.txt"));
        assert_false(exists(".tmp-00000000000000000007.json"));
        assert_int_equal(spool_count_files(dirfd_, "corrupt"), 6);

        /* A second load finds a clean directory. */
        rep = (Reports){};
        assert_int_equal(spool_load_messages(dirfd_, &v, &n, &next, on_report, &rep), 0);
        assert_int_equal(n, 2);
        assert_int_equal(rep.n, 0);
        free_msgs(v, n);

        /* Parsing directly gives a reason. */
        SpoolMessage m;
        const char *reason = NULL;
        assert_int_equal(spool_message_parse("[1]", 3, &m, &reason), -EINVAL);
        assert_string_equal(reason, "not a JSON object");
        assert_int_equal(
                spool_message_parse("{\"homeostat_outbox\":1,\"homeostat_outbox\":1}", 44, &m, &reason),
                -EINVAL);
}

/* The next sequence number is one past the highest on disk; a file name near UINT64_MAX (a hand-made or
 * damaged name) must not make it wrap around to 0, which would queue every new message before the old
 * ones (and, after a restart, in the wrong order). */
static void test_sequence_cannot_wrap(void **state) {
        SpoolMessage *v = NULL, m = { .created_usec = 1795833038000000ULL };
        size_t n = 0;
        uint64_t next = 0;
        Reports rep = {};
        char name[SPOOL_NAME_MAX];
        char *data = NULL;

        write_msg(5, "inc-a", 1, "ordinary");
        m.incident = incident("inc-a", "firing");
        m.event = event(2, "far away");
        assert_int_equal(spool_message_serialize(&m, &data), 0);
        write_raw(spool_message_file_name(UINT64_MAX, name), data);
        write_raw(spool_message_file_name(UINT64_MAX - 1, name), data);
        free(data);

        assert_int_equal(spool_load_messages(dirfd_, &v, &n, &next, on_report, &rep), 0);
        for (size_t i = 0; i < n; i++)
                assert_true(v[i].seq < next);
        assert_true(next > 5);
        /* Such names are never written: they are moved aside as unexpected files. */
        assert_int_equal(n, 1);
        assert_int_equal(next, 6);
        assert_int_equal(rep.n, 2);
        free_msgs(v, n);

        /* And the writer refuses to produce one. */
        m.seq = (uint64_t) INT64_MAX + 1;
        assert_int_equal(spool_write_message(dirfd_, &m), -ERANGE);
        m.seq = 0;
        assert_int_equal(spool_write_message(dirfd_, &m), -ERANGE);
        spool_message_done(&m);
}

static void test_dead_letters_bounded(void **state) {
        char name[SPOOL_NAME_MAX];

        for (uint64_t i = 1; i <= 5; i++) {
                write_msg(i, "inc-a", (int) i, "x");
                assert_int_equal(spool_move_aside(dirfd_, spool_message_file_name(i, name), "dead"), 0);
                assert_false(exists(name));
        }
        assert_int_equal(spool_count_files(dirfd_, "dead"), 5);
        assert_int_equal(spool_move_aside(dirfd_, "does-not-exist", "dead"), -ENOENT);

        /* The bound: fill past SPOOL_ASIDE_KEEP and check the count stays at it. */
        for (int i = 0; i < SPOOL_ASIDE_KEEP + 3; i++) {
                char n2[32];
                snprintf(n2, sizeof(n2), "x%04d", i);
                write_raw(n2, "x");
                assert_int_equal(spool_move_aside(dirfd_, n2, "dead"), 0);
        }
        assert_int_equal(spool_count_files(dirfd_, "dead"), SPOOL_ASIDE_KEEP);
}

static void test_names(void **state) {
        char *e = NULL, *u = NULL;
        const char *names[] = { "ops",        "ops-chat_2", "a.b", ".hidden", "..",
                                "with space", "ünï/côdé",   "%41", "a%b" };

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                assert_int_equal(spool_escape_name(names[i], &e), 0);
                assert_null(strchr(e, '/'));
                assert_true(e[0] != '.');
                assert_int_equal(spool_unescape_name(e, &u), 0);
                assert_string_equal(u, names[i]);
                free(e);
                free(u);
        }
        assert_int_equal(spool_escape_name("ops", &e), 0);
        assert_string_equal(e, "ops");
        free(e);
        assert_int_equal(spool_escape_name("a b/c", &e), 0);
        assert_string_equal(e, "a%20b%2Fc");
        free(e);
        assert_int_equal(spool_escape_name("", &e), -EINVAL);
        assert_int_equal(spool_unescape_name(".tmp-x", &u), -EINVAL);
        assert_int_equal(spool_unescape_name("a%2fb", &u), -EINVAL); /* not canonical */
        assert_int_equal(spool_unescape_name("a%00", &u), -EINVAL);
        assert_int_equal(spool_unescape_name("a b", &u), -EINVAL);
        assert_int_equal(spool_unescape_name("%4", &u), -EINVAL);

        uint64_t seq;
        char buf[SPOOL_NAME_MAX];
        assert_true(spool_parse_message_file_name(spool_message_file_name(42, buf), &seq));
        assert_int_equal(seq, 42);
        assert_false(spool_parse_message_file_name("42.json", &seq));
        assert_false(spool_parse_message_file_name("0000000000000000004a.json", &seq));
        assert_false(spool_parse_message_file_name("99999999999999999999.json", &seq)); /* > UINT64_MAX */
}

static void test_alerts(void **state) {
        SpoolAlert *v = NULL;
        size_t n = 0;
        Reports rep = {};
        json_t *i1 = incident("inc-a", "firing"), *i2 = incident("inc-b", "escalated"), *e = event(3, "m");

        assert_int_equal(spool_load_alerts(dirfd_, &v, &n, on_report, &rep), 0); /* no firing/ yet */
        assert_int_equal(n, 0);
        assert_int_equal(spool_write_alert(dirfd_, i1, e), 0);
        assert_int_equal(spool_write_alert(dirfd_, i2, e), 0);
        assert_int_equal(spool_write_alert(dirfd_, i1, e), 0); /* replace */
        assert_true(exists("firing/inc-a.json"));
        assert_int_equal(spool_load_alerts(dirfd_, &v, &n, on_report, &rep), 0);
        assert_int_equal(n, 2);
        assert_int_equal(rep.n, 0);
        for (size_t i = 0; i < n; i++)
                spool_alert_done(&v[i]);
        free(v);

        assert_int_equal(spool_remove_alert(dirfd_, "inc-a"), 0);
        assert_int_equal(spool_remove_alert(dirfd_, "inc-a"), 0);
        assert_int_equal(spool_remove_alert(dirfd_, "../x"), -EINVAL);

        /* A corrupt alert file and one whose name does not match its incident. */
        int sub = openat(dirfd_, "firing", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(sub >= 0);
        int fd = openat(sub, "junk.json", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_int_equal(write(fd, "{", 1), 1);
        close(fd);
        assert_int_equal(renameat(sub, "inc-b.json", sub, "inc-c.json"), 0);
        close(sub);
        assert_int_equal(spool_load_alerts(dirfd_, &v, &n, on_report, &rep), 0);
        assert_int_equal(n, 0);
        assert_int_equal(rep.n, 2);
        free(v);
        assert_int_equal(spool_count_files(dirfd_, "firing/corrupt"), 2);

        json_decref(i1);
        json_decref(i2);
        json_decref(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_roundtrip_in_order, setup, teardown),
                cmocka_unit_test_setup_teardown(test_corrupt_moved_aside, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sequence_cannot_wrap, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dead_letters_bounded, setup, teardown),
                cmocka_unit_test(test_names),
                cmocka_unit_test_setup_teardown(test_alerts, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

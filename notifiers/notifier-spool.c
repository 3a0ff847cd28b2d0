/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The notifier outbox's files; see notifier-spool.h for the layout and why it is a file per message.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "notifier-format.h"
#include "notifier-spool.h"
#include "strbuf.h"
#include "util.h"

#define TMP_PREFIX ".tmp-"

/* jansson's own json_decrefp() (2.14) accepts NULL. */
#define _cleanup_json_ _cleanup_(json_decrefp)

static void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

void spool_message_done(SpoolMessage *m) {
        if (!m)
                return;
        json_decref(m->incident);
        json_decref(m->event);
        *m = (SpoolMessage){};
}

void spool_alert_done(SpoolAlert *a) {
        if (!a)
                return;
        json_decref(a->incident);
        json_decref(a->event);
        *a = (SpoolAlert){};
}

static bool keep_char(char c, bool first) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                c == '-' || (c == '.' && !first);
}

int spool_escape_name(const char *name, char **ret) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;

        if (!name || !*name)
                return -EINVAL;
        for (const char *p = name; *p; p++) {
                if (keep_char(*p, p == name))
                        strbuf_putc(&b, *p);
                else
                        strbuf_printf(&b, "%%%02X", (unsigned) (unsigned char) *p);
        }
        if (strbuf_failed(&b))
                return -ENOMEM;
        if (b.len > 255)
                return -ENAMETOOLONG;
        *ret = strbuf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int spool_unescape_name(const char *dirname, char **ret) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        _cleanup_free_ char *again = NULL;

        if (!dirname || !*dirname || dirname[0] == '.')
                return -EINVAL;
        for (const char *p = dirname; *p; p++) {
                if (*p == '%') {
                        int hi = unhex(p[1]), lo = hi >= 0 ? unhex(p[2]) : -1;
                        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                                return -EINVAL;
                        strbuf_putc(&b, (char) (hi * 16 + lo));
                        p += 2;
                } else if (keep_char(*p, p == dirname))
                        strbuf_putc(&b, *p);
                else
                        return -EINVAL;
        }
        if (strbuf_failed(&b))
                return -ENOMEM;
        /* Only canonical encodings: escaping the result must give the directory name back. */
        if (spool_escape_name(strbuf_str(&b), &again) < 0 || !streq(again, dirname))
                return -EINVAL;
        *ret = strbuf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

int spool_open_dir(int parent_fd, const char *name, int *ret_fd) {
        int fd;

        if (mkdirat(parent_fd, name, 0700) < 0 && errno != EEXIST)
                return -errno;
        fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        return 0;
}

static int write_all(int fd, const char *data, size_t len) {
        while (len > 0) {
                ssize_t k = write(fd, data, len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                data += k;
                len -= (size_t) k;
        }
        return 0;
}

int spool_sync(int dirfd) {
        return fsync(dirfd) < 0 ? -errno : 0;
}

int spool_write_atomic(int dirfd, const char *name, const char *data, size_t len) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (asprintf(&tmp, TMP_PREFIX "%s", name) < 0)
                return -ENOMEM;
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        r = write_all(fd, data, len);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0) {
                int k = close(TAKE_FD(fd));
                if (k < 0 && errno != EINTR)
                        r = -errno;
        }
        if (r >= 0 && renameat(dirfd, tmp, dirfd, name) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(dirfd, tmp, 0);
                return r;
        }
        return spool_sync(dirfd);
}

const char *spool_message_file_name(uint64_t seq, char buf[static SPOOL_NAME_MAX]) {
        snprintf(buf, SPOOL_NAME_MAX, "%020" PRIu64 ".json", seq);
        return buf;
}

bool spool_parse_message_file_name(const char *name, uint64_t *ret_seq) {
        char digits[21];
        uint64_t seq;

        if (strlen(name) != 25 || !streq(name + 20, ".json"))
                return false;
        for (size_t i = 0; i < 20; i++)
                if (name[i] < '0' || name[i] > '9')
                        return false;
        memcpy(digits, name, 20);
        digits[20] = 0;
        if (safe_atou64(digits, &seq) < 0 || seq == 0 || seq > SPOOL_SEQ_MAX)
                return false;
        *ret_seq = seq;
        return true;
}

int spool_message_serialize(const SpoolMessage *m, char **ret) {
        _cleanup_json_ json_t *o = NULL;
        char *s;

        if (m->created_usec > (usec_t) INT64_MAX)
                return -ERANGE;
        o = json_pack(
                "{s:i, s:I, s:O, s:O}",
                "homeostat_outbox",
                1,
                "created_usec",
                (json_int_t) m->created_usec,
                "incident",
                m->incident,
                "event",
                m->event);
        if (!o)
                return -ENOMEM;
        s = json_dumps(o, JSON_COMPACT);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

#define REASON(r)                          \
        do {                               \
                if (ret_reason)            \
                        *ret_reason = (r); \
                return -EINVAL;            \
        } while (0)

/* The envelope both kinds of spool file share: a JSON object (no duplicate keys) whose version_key is 1. */
static int record_open(
        const char *data,
        size_t len,
        const char *version_key,
        const char *bad_version,
        json_t **ret,
        const char **ret_reason) {
        _cleanup_json_ json_t *o = NULL;
        const json_t *version;
        json_error_t err;

        o = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
        if (!o)
                REASON("not valid JSON (truncated or damaged)");
        if (!json_is_object(o))
                REASON("not a JSON object");
        version = json_object_get(o, version_key);
        if (!version || !json_is_integer(version) || json_integer_value(version) != 1)
                REASON(bad_version);
        *ret = TAKE_PTR(o);
        return 0;
}

/* The incident and event a record carries, checked and normalized as when they were published. */
static int record_incident_event(
        const json_t *o, json_t **ret_incident, json_t **ret_event, const char **ret_reason) {
        _cleanup_json_ json_t *incident = NULL, *event = NULL;
        int r;

        r = notifier_incident_normalize(json_object_get(o, "incident"), &incident, ret_reason);
        if (r < 0)
                return r;
        r = notifier_event_normalize(json_object_get(o, "event"), &event, ret_reason);
        if (r < 0)
                return r;
        *ret_incident = TAKE_PTR(incident);
        *ret_event = TAKE_PTR(event);
        return 0;
}

int spool_message_parse(const char *data, size_t len, SpoolMessage *ret, const char **ret_reason) {
        _cleanup_json_ json_t *o = NULL;
        const json_t *created;
        json_t *incident, *event;
        int r;

        r = record_open(
                data, len, "homeostat_outbox", "not a homeostat outbox message of version 1", &o, ret_reason);
        if (r < 0)
                return r;
        created = json_object_get(o, "created_usec");
        if (!created || !json_is_integer(created) || json_integer_value(created) < 0)
                REASON("created_usec missing or invalid");
        r = record_incident_event(o, &incident, &event, ret_reason);
        if (r < 0)
                return r;
        *ret = (SpoolMessage){
                .created_usec = (usec_t) json_integer_value(created),
                .incident = incident,
                .event = event,
        };
        return 0;
}

int spool_write_message(int dirfd, const SpoolMessage *m) {
        _cleanup_free_ char *data = NULL;
        char name[SPOOL_NAME_MAX];
        int r;

        if (m->seq == 0 || m->seq > SPOOL_SEQ_MAX)
                return -ERANGE;
        r = spool_message_serialize(m, &data);
        if (r < 0)
                return r;
        if (strlen(data) > SPOOL_FILE_MAX_BYTES)
                return -E2BIG;
        return spool_write_atomic(dirfd, spool_message_file_name(m->seq, name), data, strlen(data));
}

int spool_remove_message(int dirfd, uint64_t seq) {
        char name[SPOOL_NAME_MAX];

        if (unlinkat(dirfd, spool_message_file_name(seq, name), 0) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Regular file names in a directory (no dot files), sorted. */
static int list_dir(int dirfd, char ***ret, size_t *ret_n) {
        _cleanup_(closedirp) DIR *d = NULL;
        char **v = NULL;
        size_t n = 0, alloc = 0;
        struct dirent *de;
        int fd;

        fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return -errno;
        }
        errno = 0;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (GREEDY_REALLOC(v, alloc, n + 2) < 0) {
                        strv_free_n(v, n);
                        return -ENOMEM;
                }
                v[n] = strdup(de->d_name);
                if (!v[n]) {
                        strv_free_n(v, n);
                        return -ENOMEM;
                }
                n++;
                errno = 0;
        }
        if (errno != 0) {
                int e = -errno;
                strv_free_n(v, n);
                return e;
        }
        if (n > 0)
                qsort(v, n, sizeof(char *), cmp_str);
        *ret = v;
        *ret_n = n;
        return 0;
}

/* A regular file below dirfd, never following a link or blocking on a FIFO someone left there. */
static int read_file_at(int dirfd, const char *name, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        return read_full_fd(fd, SPOOL_FILE_MAX_BYTES, ret, ret_size);
}

static int prune_dir(int dirfd, size_t keep) {
        char **names = NULL;
        size_t n = 0;
        int r;

        r = list_dir(dirfd, &names, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; n > keep && i < n - keep; i++)
                (void) unlinkat(dirfd, names[i], 0);
        strv_free_n(names, n);
        return 0;
}

int spool_move_aside(int dirfd, const char *name, const char *subdir) {
        _cleanup_close_ int sub = -EBADF;
        _cleanup_free_ char *target = NULL;
        int r;

        r = spool_open_dir(dirfd, subdir, &sub);
        if (r < 0)
                return r;
        if (asprintf(&target, "%020" PRIu64 "-%s", (uint64_t) now(CLOCK_REALTIME), name) < 0)
                return -ENOMEM;
        if (renameat(dirfd, name, sub, target) < 0)
                return -errno;
        (void) prune_dir(sub, SPOOL_ASIDE_KEEP);
        (void) spool_sync(sub);
        return spool_sync(dirfd);
}

static int cmp_message(const void *a, const void *b) {
        const SpoolMessage *x = a, *y = b;
        return x->seq < y->seq ? -1 : x->seq > y->seq ? 1 : 0;
}

static void move_aside_reported(
        int dirfd, const char *name, const char *reason, SpoolReportFn report, void *userdata) {
        int r = spool_move_aside(dirfd, name, "corrupt");
        if (r < 0)
                /* Cannot even move it: remove it rather than trip over it on every start. */
                (void) unlinkat(dirfd, name, 0);
        if (report)
                report(name, reason, userdata);
}

int spool_load_messages(
        int dirfd, SpoolMessage **ret, size_t *ret_n, uint64_t *ret_next_seq, SpoolReportFn report, void *userdata) {
        SpoolMessage *v = NULL;
        size_t n = 0, alloc = 0, n_names = 0;
        char **names = NULL;
        uint64_t next = 1;
        int r;

        r = list_dir(dirfd, &names, &n_names);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n_names; i++) {
                const char *name = names[i];
                _cleanup_free_ char *data = NULL;
                const char *reason = NULL;
                struct stat st;
                size_t size;
                uint64_t seq;

                if (startswith(name, TMP_PREFIX)) {
                        /* An interrupted write; its publish never returned success. */
                        (void) unlinkat(dirfd, name, 0);
                        continue;
                }
                if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISDIR(st.st_mode))
                        continue; /* firing/, dead/, corrupt/ */
                if (!spool_parse_message_file_name(name, &seq)) {
                        move_aside_reported(
                                dirfd, name, "unexpected file in the spool directory", report, userdata);
                        continue;
                }
                next = MAX(next, seq + 1);

                r = read_file_at(dirfd, name, &data, &size);
                if (r == -ENOMEM)
                        goto fail;
                if (r < 0) {
                        move_aside_reported(
                                dirfd, name, r == -EFBIG ? "file too large" : "cannot be read", report, userdata);
                        continue;
                }
                if (GREEDY_REALLOC(v, alloc, n + 1) < 0) {
                        r = -ENOMEM;
                        goto fail;
                }
                r = spool_message_parse(data, size, &v[n], &reason);
                if (r == -ENOMEM)
                        goto fail;
                if (r < 0) {
                        move_aside_reported(dirfd, name, reason ?: "invalid message", report, userdata);
                        continue;
                }
                v[n].seq = seq;
                n++;
        }
        strv_free_n(names, n_names);
        if (n > 0)
                qsort(v, n, sizeof(*v), cmp_message);
        *ret = v;
        *ret_n = n;
        if (ret_next_seq)
                *ret_next_seq = next;
        return 0;

fail:
        for (size_t i = 0; i < n; i++)
                spool_message_done(&v[i]);
        free(v);
        strv_free_n(names, n_names);
        return r;
}

int spool_write_alert(int dirfd, const json_t *incident, const json_t *event) {
        _cleanup_json_ json_t *o = NULL;
        _cleanup_free_ char *data = NULL, *name = NULL;
        _cleanup_close_ int sub = -EBADF;
        const char *id = json_string_value(json_object_get(incident, "id"));
        int r;

        if (!notifier_incident_id_is_valid(id))
                return -EINVAL;
        o = json_pack("{s:i, s:O, s:O}", "homeostat_alert", 1, "incident", incident, "event", event);
        if (!o)
                return -ENOMEM;
        data = json_dumps(o, JSON_COMPACT);
        if (!data)
                return -ENOMEM;
        if (asprintf(&name, "%s.json", id) < 0)
                return -ENOMEM;
        r = spool_open_dir(dirfd, "firing", &sub);
        if (r < 0)
                return r;
        return spool_write_atomic(sub, name, data, strlen(data));
}

int spool_remove_alert(int dirfd, const char *incident_id) {
        _cleanup_free_ char *name = NULL;
        _cleanup_close_ int sub = -EBADF;

        if (!notifier_incident_id_is_valid(incident_id))
                return -EINVAL;
        sub = openat(dirfd, "firing", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (sub < 0)
                return errno == ENOENT ? 0 : -errno;
        if (asprintf(&name, "%s.json", incident_id) < 0)
                return -ENOMEM;
        if (unlinkat(sub, name, 0) < 0 && errno != ENOENT)
                return -errno;
        return spool_sync(sub);
}

int spool_alert_parse(const char *data, size_t len, const char *name, SpoolAlert *ret, const char **ret_reason) {
        _cleanup_json_ json_t *o = NULL, *incident = NULL, *event = NULL;
        _cleanup_free_ char *expected = NULL;
        int r;

        r = record_open(data, len, "homeostat_alert", "not a homeostat alert of version 1", &o, ret_reason);
        if (r < 0)
                return r;
        r = record_incident_event(o, &incident, &event, ret_reason);
        if (r < 0)
                return r;
        if (asprintf(&expected, "%s.json", json_string_value(json_object_get(incident, "id"))) < 0)
                return -ENOMEM;
        if (!streq(expected, name))
                REASON("file name does not match the incident id");
        *ret = (SpoolAlert){ .incident = TAKE_PTR(incident), .event = TAKE_PTR(event) };
        return 0;
}

int spool_load_alerts(int dirfd, SpoolAlert **ret, size_t *ret_n, SpoolReportFn report, void *userdata) {
        _cleanup_close_ int sub = -EBADF;
        SpoolAlert *v = NULL;
        size_t n = 0, alloc = 0, n_names = 0;
        char **names = NULL;
        int r;

        sub = openat(dirfd, "firing", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (sub < 0) {
                if (errno != ENOENT)
                        return -errno;
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        r = list_dir(sub, &names, &n_names);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_names; i++) {
                _cleanup_free_ char *data = NULL;
                const char *reason = NULL;
                size_t size;

                struct stat st;

                if (startswith(names[i], TMP_PREFIX)) {
                        (void) unlinkat(sub, names[i], 0);
                        continue;
                }
                if (fstatat(sub, names[i], &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISDIR(st.st_mode))
                        continue; /* firing/corrupt/ */
                r = read_file_at(sub, names[i], &data, &size);
                if (r == -ENOMEM)
                        goto fail;
                if (r >= 0) {
                        if (GREEDY_REALLOC(v, alloc, n + 1) < 0) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        r = spool_alert_parse(data, size, names[i], &v[n], &reason);
                        if (r == -ENOMEM)
                                goto fail;
                        if (r >= 0) {
                                n++;
                                continue;
                        }
                }
                move_aside_reported(sub, names[i], reason ?: "cannot be read", report, userdata);
        }
        strv_free_n(names, n_names);
        *ret = v;
        *ret_n = n;
        return 0;

fail:
        for (size_t i = 0; i < n; i++)
                spool_alert_done(&v[i]);
        free(v);
        strv_free_n(names, n_names);
        return r;
}

size_t spool_count_files(int dirfd, const char *subdir) {
        _cleanup_close_ int sub = -EBADF;
        char **names = NULL;
        size_t n = 0;

        sub = openat(dirfd, subdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (sub < 0)
                return 0;
        if (list_dir(sub, &names, &n) < 0)
                return 0;
        strv_free_n(names, n);
        return n;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Timeline sinks: journal entries, the size-bounded JSONL file, the notifier hub. See timeline.h.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "incident-json.h"
#include "log.h"
#include "timeline.h"

struct Timeline {
        int dir_fd;
        int fd; /* the JSONL file, opened lazily */
        size_t size;
        TimelineOptions opts;
        NotifierHub *hub;
        const Config *config;
        TimelineStats stats;
};

int timeline_new(int dir_fd, const TimelineOptions *opts, Timeline **ret) {
        Timeline *t = calloc(1, sizeof(*t));

        if (!t)
                return -ENOMEM;
        t->fd = -EBADF;
        t->dir_fd = -EBADF;
        t->opts = opts ? *opts : (TimelineOptions){ .journal = true };
        if (t->opts.max_bytes == 0)
                t->opts.max_bytes = TIMELINE_MAX_BYTES_DEFAULT;
        if (t->opts.keep == 0)
                t->opts.keep = TIMELINE_KEEP_DEFAULT;
        if (dir_fd >= 0) {
                t->dir_fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
                if (t->dir_fd < 0) {
                        free(t);
                        return -errno;
                }
        }
        *ret = t;
        return 0;
}

Timeline *timeline_free(Timeline *t) {
        if (!t)
                return NULL;
        safe_close(t->fd);
        safe_close(t->dir_fd);
        free(t);
        return NULL;
}

void timeline_set_hub(Timeline *t, NotifierHub *hub, const Config *config) {
        t->hub = hub;
        t->config = config;
}

void timeline_get_stats(const Timeline *t, TimelineStats *ret) {
        *ret = t->stats;
}

int timeline_journal_fields(
        const Incident *i, const TimelineEvent *e, char ***ret, size_t *ret_n, char **ret_message) {
        char id[ID128_STRING_MAX];
        char **f = calloc(TIMELINE_FIELDS_MAX, sizeof(char *));
        size_t n = 0;

        if (!f)
                return -ENOMEM;
        id128_to_string(&i->id, id);
        if (asprintf(&f[n++], "MESSAGE_ID=%s", incident_event_kind_message_id(e->kind)) < 0 ||
            asprintf(&f[n++], "HOMEOSTAT_INCIDENT=%s", id) < 0 ||
            asprintf(&f[n++], "HOMEOSTAT_RULE=%s", i->rule_name) < 0 ||
            asprintf(&f[n++], "HOMEOSTAT_EVENT=%s", incident_event_kind_to_string(e->kind)) < 0 ||
            asprintf(&f[n++], "HOMEOSTAT_SERIES=%s", i->series_key) < 0 ||
            asprintf(&f[n++], "HOMEOSTAT_SEQ=%llu", (unsigned long long) e->seq) < 0 ||
            asprintf(&f[n++], "HOMEOSTAT_STATE=%s", incident_state_to_string(i->state)) < 0 ||
            asprintf(
                    ret_message,
                    "incident %.8s %s %s: %s",
                    id,
                    i->rule_name,
                    incident_event_kind_to_string(e->kind),
                    e->message) < 0) {
                f[n - 1] = NULL; /* asprintf leaves it undefined on failure */
                strv_free_n(f, n);
                return -ENOMEM;
        }
        *ret = f;
        *ret_n = n;
        return 0;
}

static int journal(const Incident *i, const TimelineEvent *e) {
        _cleanup_free_ char *message = NULL;
        char **fields = NULL;
        size_t n = 0;
        int r;

        r = timeline_journal_fields(i, e, &fields, &n, &message);
        if (r < 0)
                return r;
        (void) log_fields(
                incident_event_kind_priority(e->kind), 0, (const char *const *) fields, n, "%s", message);
        strv_free_n(fields, n);
        return 0;
}

static int open_file(Timeline *t) {
        struct stat st;

        if (t->fd >= 0)
                return 0;
        t->fd = openat(t->dir_fd, TIMELINE_FILE, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (t->fd < 0)
                return -errno;
        if (fstat(t->fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode)) {
                t->fd = safe_close(t->fd);
                return -EBADFD;
        }
        t->size = (size_t) st.st_size;
        return 0;
}

/* timeline.jsonl.(keep-1) -> .keep (dropped beyond), ..., timeline.jsonl -> .1 */
static int rotate(Timeline *t) {
        char from[64], to[64];

        t->fd = safe_close(t->fd);
        snprintf(to, sizeof(to), "%s.%u", TIMELINE_FILE, t->opts.keep);
        if (unlinkat(t->dir_fd, to, 0) < 0 && errno != ENOENT)
                return -errno;
        for (unsigned k = t->opts.keep; k > 1; k--) {
                snprintf(from, sizeof(from), "%s.%u", TIMELINE_FILE, k - 1);
                snprintf(to, sizeof(to), "%s.%u", TIMELINE_FILE, k);
                if (renameat(t->dir_fd, from, t->dir_fd, to) < 0 && errno != ENOENT)
                        return -errno;
        }
        snprintf(to, sizeof(to), "%s.1", TIMELINE_FILE);
        if (renameat(t->dir_fd, TIMELINE_FILE, t->dir_fd, to) < 0 && errno != ENOENT)
                return -errno;
        t->stats.rotations++;
        return open_file(t);
}

static int append_line(Timeline *t, const json_t *payload) {
        _cleanup_free_ char *line = json_dumps(payload, JSON_COMPACT);
        size_t len;
        int r;

        if (!line)
                return -ENOMEM;
        len = strlen(line);
        line[len] = '\n'; /* json_dumps' NUL becomes the newline; we write len + 1 bytes */
        r = open_file(t);
        if (r < 0)
                return r;
        if (t->size > 0 && t->size + len + 1 > t->opts.max_bytes) {
                r = rotate(t);
                if (r < 0)
                        return r;
        }
        ssize_t k = write(t->fd, line, len + 1);
        if (k < 0)
                return -errno;
        if ((size_t) k != len + 1)
                return -EIO;
        t->size += len + 1;
        return 0;
}

int timeline_emit(Timeline *t, const Incident *i, const TimelineEvent *e, const char *host, bool notify) {
        _cleanup_(json_decrefp) json_t *payload = NULL;
        int first = 0, r;

        t->stats.events++;
        if (t->opts.journal) {
                r = journal(i, e);
                if (r < 0 && first == 0)
                        first = r;
        }
        payload = incident_event_payload(i, host, e);
        if (!payload)
                return -ENOMEM;
        if (t->dir_fd >= 0) {
                r = append_line(t, payload);
                if (r < 0) {
                        t->stats.jsonl_errors++;
                        t->stats.last_error = r;
                        if (first == 0)
                                first = r;
                }
        }
        if (notify && t->hub && i->rule) {
                json_t *incident = json_object_get(payload, "incident"),
                       *event = json_object_get(payload, "event");
                for (size_t k = 0; k < i->rule->n_notify; k++) {
                        size_t idx = i->rule->notify[k];
                        if (!t->config || idx >= t->config->n_notifiers)
                                continue;
                        r = notifier_hub_publish(t->hub, t->config->notifiers[idx].name, incident, event);
                        if (r < 0) {
                                t->stats.notify_errors++;
                                t->stats.last_error = r;
                                if (first == 0)
                                        first = r;
                        } else
                                t->stats.published++;
                }
        }
        return first;
}

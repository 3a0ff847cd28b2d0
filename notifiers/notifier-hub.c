/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The notifier hub: per-notifier queues backed by the spool, one request in flight per notifier on the
 * shared CurlGlue, retries, rate limiting, coalescing, Alertmanager refreshes, stats. See notifier.h for
 * the guarantees and notifier-policy.h for the decisions it delegates to pure functions.
 *
 * Each notifier has one CLOCK_MONOTONIC timer. Every change (publish, configure, completion) calls
 * reschedule(), which computes the earliest moment something is due — the next request (back-off, group
 * wait, token bucket), the next Alertmanager refresh, or the next message to expire — and arms the timer;
 * the timer's handler (dispatch) does what is due. Requests are never started from inside a caller's
 * stack or a curl callback, only from the timer, so there is no re-entrancy to reason about.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "log.h"
#include "notifier-format.h"
#include "notifier-policy.h"
#include "notifier-spool.h"
#include "notifier-url.h"
#include "notifier.h"
#include "strbuf.h"
#include "util.h"

#define TIMER_ACCURACY_USEC (1 * USEC_PER_MSEC)
#define DETAIL_BODY_MAX 200 /* bytes of a response body quoted in a report */

typedef struct Notifier Notifier;
typedef struct Message Message;
typedef struct Attempt Attempt;

struct Message {
        Message *prev, *next;
        SpoolMessage m;
        const char *incident_id; /* inside m.incident */
        int64_t event_seq;
        usec_t queued_usec; /* CLOCK_MONOTONIC */
        bool in_flight;
};

struct Attempt {
        Notifier *notifier;
        char *url; /* the URL this request went to (the notifier's may be rotated meanwhile): a secret */
        CURL *easy;
        struct curl_slist *headers;
        CurlBody body;
        char *retry_after;
        Message **batch; /* NULL for an alert refresh */
        size_t n_batch;
        size_t n_shown, n_suppressed;
        bool refresh;
};

struct Notifier {
        Notifier *prev, *next;
        NotifierHub *hub;
        char *name;
        int dirfd;
        NotifierKind kind;
        NotifierState state;
        char *url;      /* the secret; never printed */
        char *endpoint; /* the URL actually posted to (secret as well) */
        char *redacted;
        char *url_error;

        Message *head, *tail;
        size_t n_queued;
        uint64_t next_seq;

        TokenBucket bucket;
        unsigned failures;
        usec_t retry_at; /* CLOCK_MONOTONIC; 0 = no back-off */
        usec_t next_attempt;
        sd_event_source *timer;
        Attempt *attempt;

        SpoolAlert *alerts; /* alertmanager: firing alerts, refreshed every alert_resend_usec */
        size_t n_alerts, alloc_alerts;
        usec_t last_refresh;

        uint64_t delivered, requests, failed_attempts, dead_lettered, expired, rejected, corrupt, coalesced,
                suppressed;
        long last_http_status;
};

struct NotifierHub {
        sd_event *event;
        CurlGlue *glue;
        char *spool_dir;
        int spool_fd;
        NotifierHubOptions opts;
        char *credentials_dir;
        Notifier *notifiers;
        bool scanned;
        NotifierReportCallback report_cb;
        void *report_userdata;
        char *last_error;
        uint64_t rng;
};

static void notifier_reschedule(Notifier *n);
static Notifier *notifier_free(Notifier *n);

void notifier_hub_options_default(NotifierHubOptions *ret) {
        *ret = (NotifierHubOptions){
                .request_timeout_usec = 10 * USEC_PER_SEC,
                .backoff_min_usec = 1 * USEC_PER_SEC,
                .backoff_max_usec = 5 * USEC_PER_MINUTE,
                .retry_after_max_usec = 1 * USEC_PER_HOUR,
                .max_age_usec = 24 * USEC_PER_HOUR,
                .bucket_burst = 10,
                .bucket_interval_usec = 6 * USEC_PER_SEC,
                .group_wait_usec = 2 * USEC_PER_SEC,
                .max_events_per_message = 50,
                .max_queue = 10000,
                .alert_resend_usec = 60 * USEC_PER_SEC,
                .alert_ttl_usec = 4 * USEC_PER_MINUTE,
                .max_response_bytes = 64 * 1024,
        };
}

const char *notifier_state_to_string(NotifierState s) {
        static const char *const table[_NOTIFIER_STATE_MAX] = {
                [NOTIFIER_STATE_READY] = "ready",
                [NOTIFIER_STATE_URL_ERROR] = "url-error",
                [NOTIFIER_STATE_RETIRED] = "retired",
                [NOTIFIER_STATE_ORPHAN] = "orphan",
        };
        return s >= 0 && s < _NOTIFIER_STATE_MAX ? table[s] : NULL;
}

const char *notifier_report_kind_to_string(NotifierReportKind k) {
        static const char *const table[_NOTIFIER_REPORT_KIND_MAX] = {
                [NOTIFIER_REPORT_DELIVERED] = "delivered",
                [NOTIFIER_REPORT_RETRY] = "failed, will retry",
                [NOTIFIER_REPORT_DEAD_LETTER] = "dead letter",
                [NOTIFIER_REPORT_EXPIRED] = "expired",
                [NOTIFIER_REPORT_CORRUPT] = "corrupt spool file moved aside",
                [NOTIFIER_REPORT_URL_ERROR] = "URL not available",
                [NOTIFIER_REPORT_SPOOL_ERROR] = "spool error",
                [NOTIFIER_REPORT_ORPHAN] = "not configured",
        };
        return k >= 0 && k < _NOTIFIER_REPORT_KIND_MAX ? table[k] : NULL;
}

static usec_t mono(void) {
        return now(CLOCK_MONOTONIC);
}

static uint64_t hub_random(NotifierHub *h) {
        /* xorshift64*: jitter needs spread, not secrecy. */
        h->rng ^= h->rng >> 12;
        h->rng ^= h->rng << 25;
        h->rng ^= h->rng >> 27;
        return h->rng * UINT64_C(2685821657736338717);
}

static void set_last_error(NotifierHub *h, const char *fmt, ...) _printf_(2, 3);
static void set_last_error(NotifierHub *h, const char *fmt, ...) {
        va_list ap;
        char *s = NULL;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        free(h->last_error);
        h->last_error = s;
}

const char *notifier_hub_last_error(const NotifierHub *hub) {
        return hub ? hub->last_error : NULL;
}

/* ---- reports ---- */

int notifier_report_format(const NotifierReport *r, char **ret) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        char d[DURATION_MAX];

        strbuf_printf(&b, "notifier %s", strna(r->notifier));
        if (r->redacted_url)
                strbuf_printf(&b, " (%s)", r->redacted_url);
        strbuf_printf(&b, ": %s", strna(notifier_report_kind_to_string(r->kind)));
        if (r->n_messages > 0)
                strbuf_printf(&b, ", %zu message%s", r->n_messages, r->n_messages == 1 ? "" : "s");
        if (r->incident_id)
                strbuf_printf(&b, " of incident %s seq %" PRIu64, r->incident_id, r->seq);
        if (r->detail)
                strbuf_printf(&b, ": %s", r->detail);
        if (r->kind == NOTIFIER_REPORT_RETRY)
                strbuf_printf(
                        &b,
                        "; next attempt in %s",
                        format_duration(d, sizeof(d), r->retry_in_usec / USEC_PER_MSEC * USEC_PER_MSEC));
        if (strbuf_failed(&b))
                return -ENOMEM;
        *ret = strbuf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

static void default_report(const NotifierReport *r, unsigned failures) {
        _cleanup_free_ char *line = NULL;
        int level;

        switch (r->kind) {
        case NOTIFIER_REPORT_DELIVERED:
                level = LOG_DEBUG;
                break;
        case NOTIFIER_REPORT_RETRY:
                /* The first failure is news; the following ones of the same outage are not. */
                level = failures <= 1 ? LOG_WARNING : LOG_INFO;
                break;
        default:
                level = LOG_WARNING;
                break;
        }
        if (level > log_get_max_level())
                return;
        if (notifier_report_format(r, &line) < 0)
                return;
        log_full_errno(level, r->error, "%s", line);
}

static void report(Notifier *n, NotifierReport r) {
        NotifierHub *h = n->hub;

        r.notifier = n->name;
        r.redacted_url = n->redacted;
        if (h->report_cb)
                h->report_cb(&r, h->report_userdata);
        else
                default_report(&r, n->failures);
}

static void report_message(
        Notifier *n,
        NotifierReportKind kind,
        const Message *m,
        size_t n_messages,
        long status,
        int error,
        const char *detail,
        usec_t retry_in) {
        report(n,
               (NotifierReport){
                       .kind = kind,
                       .incident_id = m ? m->incident_id : NULL,
                       .seq = m ? (uint64_t) m->event_seq : 0,
                       .n_messages = n_messages,
                       .http_status = status,
                       .error = error,
                       .detail = detail,
                       .retry_in_usec = retry_in,
               });
}

/* A response body may be quoted in a report for diagnosis ("invalid_payload", "channel_not_found"), but
 * some servers echo the request path, which holds the secret. Every piece of the URL after the authority
 * that is long enough to be a token is masked in the whole body first (also one cut off where the body was
 * cut), then the first DETAIL_BODY_MAX bytes are kept, as printable ASCII. */
static char *scrub_body(const char *body, size_t len, bool truncated, const char *url) {
        _cleanup_(secret_list_done) SecretList secrets = {};
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        _cleanup_free_ char *text = NULL;
        const char *rest;

        rest = url ? strstr(url, "://") : NULL;
        if (secret_list_add(&secrets, rest ? rest + 3 : "", "/?&=#;:@", 4, false) < 0)
                return NULL;
        text = malloc(len + 1);
        if (!text)
                return NULL;
        memcpy(text, body, len);
        secret_list_mask(&secrets, text, len, truncated);
        len = MIN(len, (size_t) DETAIL_BODY_MAX);
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) text[i];
                text[i] = c >= 0x20 && c < 0x7F ? (char) c : ' ';
        }
        text[len] = 0;

        /* Collapse the runs of blanks and stars left behind. */
        for (const char *p = text; *p; p++) {
                if ((*p == ' ' || *p == '*') && b.len > 0 && strbuf_str(&b)[b.len - 1] == *p)
                        continue;
                strbuf_putc(&b, *p);
        }
        while (b.len > 0 && b.data[b.len - 1] == ' ')
                b.data[--b.len] = 0;
        return strbuf_failed(&b) ? NULL : strbuf_steal(&b);
}

/* ---- messages and alerts ---- */

static void message_free(Message *m) {
        if (!m)
                return;
        spool_message_done(&m->m);
        free(m);
}

static void queue_append(Notifier *n, Message *m) {
        m->prev = n->tail;
        m->next = NULL;
        if (n->tail)
                n->tail->next = m;
        else
                n->head = m;
        n->tail = m;
        n->n_queued++;
}

static void queue_remove(Notifier *n, Message *m) {
        if (m->prev)
                m->prev->next = m->next;
        else
                n->head = m->next;
        if (m->next)
                m->next->prev = m->prev;
        else
                n->tail = m->prev;
        m->prev = m->next = NULL;
        n->n_queued--;
}

static Message *message_new(SpoolMessage *sm) {
        Message *m = calloc(1, sizeof(*m));
        if (!m)
                return NULL;
        m->m = *sm;
        *sm = (SpoolMessage){};
        m->incident_id = json_string_value(json_object_get(m->m.incident, "id"));
        m->event_seq = json_integer_value(json_object_get(m->m.event, "seq"));
        m->queued_usec = mono();
        return m;
}

static ssize_t alert_find(Notifier *n, const char *id) {
        for (size_t i = 0; i < n->n_alerts; i++)
                if (streq(json_string_value(json_object_get(n->alerts[i].incident, "id")), id))
                        return (ssize_t) i;
        return -1;
}

static void alert_remove_at(Notifier *n, size_t i) {
        spool_alert_done(&n->alerts[i]);
        memmove(n->alerts + i, n->alerts + i + 1, (n->n_alerts - i - 1) * sizeof(*n->alerts));
        n->n_alerts--;
}

/* Remember (or forget, when resolved) an incident's delivered alert state, in memory and in firing/. */
static void alert_track(Notifier *n, const json_t *incident, const json_t *event) {
        const char *id = json_string_value(json_object_get(incident, "id"));
        bool resolved = streq_ptr(json_string_value(json_object_get(incident, "state")), "resolved");
        ssize_t i = alert_find(n, id);
        int r;

        if (resolved) {
                if (i >= 0)
                        alert_remove_at(n, (size_t) i);
                r = spool_remove_alert(n->dirfd, id);
        } else {
                if (i < 0) {
                        if (GREEDY_REALLOC(n->alerts, n->alloc_alerts, n->n_alerts + 1) < 0) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        i = (ssize_t) n->n_alerts++;
                        n->alerts[i] = (SpoolAlert){};
                }
                spool_alert_done(&n->alerts[i]);
                n->alerts[i] = (SpoolAlert){ .incident = json_deep_copy(incident),
                                             .event = json_deep_copy(event) };
                if (!n->alerts[i].incident || !n->alerts[i].event) {
                        alert_remove_at(n, (size_t) i);
                        r = -ENOMEM;
                        goto fail;
                }
                r = spool_write_alert(n->dirfd, incident, event);
        }
        if (r >= 0)
                return;
fail:
        report(n,
               (NotifierReport){
                       .kind = NOTIFIER_REPORT_SPOOL_ERROR,
                       .incident_id = id,
                       .error = r,
                       .detail = "could not record the firing alert for periodic re-sending",
               });
}

/* Stop keeping a notifier's alerts firing: it left the configuration. Alertmanager lets them lapse at their
 * endsAt (alert_ttl_usec). The records go too, or a later reconfiguration that brings the name back would
 * resurrect alerts whose incidents may have resolved meanwhile (their "resolved" was never published to a
 * notifier that was not configured). */
static void alerts_forget_all(Notifier *n) {
        while (n->n_alerts > 0) {
                (void) spool_remove_alert(
                        n->dirfd, json_string_value(json_object_get(n->alerts[0].incident, "id")));
                alert_remove_at(n, 0);
        }
}

/* ---- loading ---- */

typedef struct LoadContext {
        Notifier *notifier;
        const char *what;
} LoadContext;

static void on_corrupt(const char *file, const char *reason, void *userdata) {
        LoadContext *c = userdata;
        _cleanup_free_ char *detail = NULL;

        c->notifier->corrupt++;
        if (asprintf(&detail, "%s%s: %s", c->what, file, reason) < 0)
                detail = NULL;
        report(c->notifier,
               (NotifierReport){
                       .kind = NOTIFIER_REPORT_CORRUPT,
                       .error = -EBADMSG,
                       .detail = detail ?: reason,
               });
}

static int notifier_load(Notifier *n) {
        SpoolMessage *msgs = NULL;
        SpoolAlert *alerts = NULL;
        size_t n_msgs = 0, n_alerts = 0;
        LoadContext c = { .notifier = n, .what = "" };
        int r;

        r = spool_load_messages(n->dirfd, &msgs, &n_msgs, &n->next_seq, on_corrupt, &c);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_msgs; i++) {
                Message *m = message_new(&msgs[i]);
                if (!m) {
                        for (size_t j = i; j < n_msgs; j++)
                                spool_message_done(&msgs[j]);
                        free(msgs);
                        return -ENOMEM;
                }
                queue_append(n, m);
        }
        free(msgs);

        c.what = "firing/";
        r = spool_load_alerts(n->dirfd, &alerts, &n_alerts, on_corrupt, &c);
        if (r < 0)
                return r;
        n->alerts = alerts;
        n->n_alerts = n->alloc_alerts = n_alerts;
        n->last_refresh = 0; /* refresh right away: Alertmanager may have let them lapse while we were down */
        return 0;
}

static int notifier_new(NotifierHub *h, const char *name, Notifier **ret) {
        _cleanup_free_ char *dirname = NULL;
        Notifier *n;
        int r;

        r = spool_escape_name(name, &dirname);
        if (r < 0)
                return r;
        n = calloc(1, sizeof(*n));
        if (!n)
                return -ENOMEM;
        n->hub = h;
        n->dirfd = -EBADF;
        n->kind = NOTIFIER_WEBHOOK;
        n->state = NOTIFIER_STATE_ORPHAN;
        n->next_seq = 1;
        n->name = strdup(name);
        if (!n->name) {
                notifier_free(n);
                return -ENOMEM;
        }
        token_bucket_init(&n->bucket, h->opts.bucket_burst, h->opts.bucket_interval_usec, mono());
        r = spool_open_dir(h->spool_fd, dirname, &n->dirfd);
        if (r < 0) {
                notifier_free(n);
                return r;
        }
        r = notifier_load(n);
        if (r < 0) {
                notifier_free(n);
                return r;
        }
        *ret = n;
        return 0;
}

static void hub_link(NotifierHub *h, Notifier *n) {
        n->prev = NULL;
        n->next = h->notifiers;
        if (h->notifiers)
                h->notifiers->prev = n;
        h->notifiers = n;
}

static void hub_unlink(NotifierHub *h, Notifier *n) {
        if (n->prev)
                n->prev->next = n->next;
        else if (h->notifiers == n)
                h->notifiers = n->next;
        if (n->next)
                n->next->prev = n->prev;
        n->prev = n->next = NULL;
}

static Notifier *hub_find(NotifierHub *h, const char *name) {
        for (Notifier *n = h->notifiers; n; n = n->next)
                if (streq(n->name, name))
                        return n;
        return NULL;
}

static void attempt_free(Attempt *a) {
        if (!a)
                return;
        if (a->easy) {
                curl_glue_cancel(a->notifier->hub->glue, a->easy);
                curl_easy_cleanup(a->easy);
        }
        curl_slist_free_all(a->headers);
        strbuf_done(&a->body.buf);
        free(a->url);
        free(a->retry_after);
        for (size_t i = 0; i < a->n_batch; i++)
                a->batch[i]->in_flight = false;
        free(a->batch);
        free(a);
}

static Notifier *notifier_free(Notifier *n) {
        if (!n)
                return NULL;
        attempt_free(n->attempt);
        while (n->head) {
                Message *m = n->head;
                queue_remove(n, m);
                message_free(m);
        }
        for (size_t i = 0; i < n->n_alerts; i++)
                spool_alert_done(&n->alerts[i]);
        free(n->alerts);
        sd_event_source_disable_unref(n->timer);
        safe_close(n->dirfd);
        free(n->name);
        free(n->url);
        free(n->endpoint);
        free(n->redacted);
        free(n->url_error);
        free(n);
        return NULL;
}

/* The spool's subdirectories that are notifier names become orphans until configured. */
static int hub_scan(NotifierHub *h) {
        _cleanup_close_ int fd = -EBADF;
        DIR *d;
        struct dirent *de;

        fd = openat(h->spool_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d)
                return -errno;
        TAKE_FD(fd);
        while ((de = readdir(d))) {
                _cleanup_free_ char *name = NULL;
                struct stat st;
                Notifier *n;

                if (de->d_name[0] == '.')
                        continue;
                if (fstatat(h->spool_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                if (spool_unescape_name(de->d_name, &name) < 0 || hub_find(h, name))
                        continue;
                if (notifier_new(h, name, &n) < 0)
                        continue;
                if (n->n_queued == 0 && n->n_alerts == 0) {
                        notifier_free(n); /* nothing to deliver; it is loaded again if configured */
                        continue;
                }
                hub_link(h, n);
        }
        closedir(d);
        return 0;
}

static int mkdir_p(const char *path) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, 0700) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int notifier_hub_new(
        sd_event *event, CurlGlue *glue, const char *spool_dir, const NotifierHubOptions *opts, NotifierHub **ret) {
        NotifierHub *h;
        int r;

        if (!event || !glue || !spool_dir || !*spool_dir || !ret)
                return -EINVAL;
        h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->spool_fd = -EBADF;
        if (opts)
                h->opts = *opts;
        else
                notifier_hub_options_default(&h->opts);
        h->opts.credentials_dir = NULL;
        h->opts.bucket_burst = MAX(h->opts.bucket_burst, 1u);
        h->opts.bucket_interval_usec = MAX(h->opts.bucket_interval_usec, (usec_t) 1);
        h->opts.max_events_per_message = MAX(h->opts.max_events_per_message, (size_t) 1);
        h->opts.max_queue = MAX(h->opts.max_queue, (size_t) 1);
        h->opts.request_timeout_usec = MAX(h->opts.request_timeout_usec, USEC_PER_MSEC);
        h->opts.alert_resend_usec = MAX(h->opts.alert_resend_usec, USEC_PER_MSEC);
        h->opts.max_response_bytes = MAX(h->opts.max_response_bytes, (size_t) 1024);
        if (opts && opts->credentials_dir) {
                h->credentials_dir = strdup(opts->credentials_dir);
                if (!h->credentials_dir) {
                        notifier_hub_free(h);
                        return -ENOMEM;
                }
        }
        h->event = sd_event_ref(event);
        h->glue = glue;
        h->spool_dir = strdup(spool_dir);
        if (!h->spool_dir) {
                notifier_hub_free(h);
                return -ENOMEM;
        }
        r = mkdir_p(spool_dir);
        if (r < 0) {
                notifier_hub_free(h);
                return r;
        }
        h->spool_fd = open(spool_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (h->spool_fd < 0) {
                r = -errno;
                notifier_hub_free(h);
                return r;
        }
        if (getrandom(&h->rng, sizeof(h->rng), GRND_NONBLOCK) != sizeof(h->rng))
                h->rng = now(CLOCK_REALTIME) ^ ((uint64_t) getpid() << 32);
        h->rng |= 1;
        *ret = h;
        return 0;
}

NotifierHub *notifier_hub_free(NotifierHub *h) {
        if (!h)
                return NULL;
        while (h->notifiers) {
                Notifier *n = h->notifiers;
                hub_unlink(h, n);
                notifier_free(n);
        }
        safe_close(h->spool_fd);
        sd_event_unref(h->event);
        free(h->spool_dir);
        free(h->credentials_dir);
        free(h->last_error);
        free(h);
        return NULL;
}

void notifier_hub_set_report_callback(NotifierHub *hub, NotifierReportCallback cb, void *userdata) {
        hub->report_cb = cb;
        hub->report_userdata = userdata;
}

size_t notifier_hub_in_flight(const NotifierHub *hub) {
        size_t k = 0;
        for (Notifier *n = hub->notifiers; n; n = n->next)
                if (n->attempt)
                        k++;
        return k;
}

/* ---- configuration ---- */

static bool can_send(const Notifier *n) {
        return n->url && (n->state == NOTIFIER_STATE_READY || n->state == NOTIFIER_STATE_RETIRED);
}

static void notifier_set_url(Notifier *n, char *url, char *endpoint, char *redacted) {
        bool changed = !streq_ptr(n->url, url);

        free(n->url);
        free(n->endpoint);
        free(n->redacted);
        n->url = url;
        n->endpoint = endpoint;
        n->redacted = redacted;
        if (changed) {
                /* A new URL deserves a fresh start: the back-off was about the old one. */
                n->failures = 0;
                n->retry_at = 0;
        }
}

int notifier_hub_configure(NotifierHub *h, const NotifierConfig *cfgs, size_t n_cfgs) {
        Notifier **targets = NULL;
        bool *created = NULL;
        unsigned n_errors = 0;
        int r = 0;

        if (!h || (n_cfgs > 0 && !cfgs))
                return -EINVAL;
        for (size_t i = 0; i < n_cfgs; i++) {
                const NotifierConfig *c = &cfgs[i];
                if (!c->name || !*c->name || strlen(c->name) > 128) {
                        set_last_error(h, "notifier %zu: empty or overlong name", i);
                        return -EINVAL;
                }
                if (c->kind < 0 || c->kind >= _NOTIFIER_KIND_MAX || c->url_from < 0 ||
                    c->url_from >= _URL_FROM_MAX || !c->url_ref) {
                        set_last_error(h, "notifier %s: unknown kind or URL source, or no URL given", c->name);
                        return -EINVAL;
                }
                for (size_t j = 0; j < i; j++)
                        if (streq(cfgs[j].name, c->name)) {
                                set_last_error(h, "notifier %s: defined twice", c->name);
                                return -EINVAL;
                        }
        }

        if (!h->scanned) {
                r = hub_scan(h);
                if (r < 0) {
                        set_last_error(h, "cannot read the spool directory %s: %s", h->spool_dir, strerror(-r));
                        return r;
                }
                h->scanned = true;
        }

        /* Stage: open every new notifier's spool first, so that a failure changes nothing. */
        targets = calloc(MAX(n_cfgs, (size_t) 1), sizeof(*targets));
        created = calloc(MAX(n_cfgs, (size_t) 1), sizeof(*created));
        if (!targets || !created) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < n_cfgs; i++) {
                targets[i] = hub_find(h, cfgs[i].name);
                if (targets[i])
                        continue;
                r = notifier_new(h, cfgs[i].name, &targets[i]);
                if (r < 0) {
                        set_last_error(
                                h,
                                "notifier %s: cannot open its spool directory: %s",
                                cfgs[i].name,
                                strerror(-r));
                        for (size_t j = 0; j < i; j++)
                                if (created[j])
                                        targets[j] = notifier_free(targets[j]);
                        goto finish;
                }
                created[i] = true;
        }

        /* Commit. */
        for (size_t i = 0; i < n_cfgs; i++) {
                Notifier *n = targets[i];
                _cleanup_free_ char *url = NULL, *error = NULL, *endpoint = NULL, *redacted = NULL;
                int k;

                if (created[i])
                        hub_link(h, n);
                n->kind = cfgs[i].kind;
                free(n->url_error);
                n->url_error = NULL;

                k = notifier_url_resolve(&cfgs[i], h->credentials_dir, &url, &error);
                if (k >= 0)
                        k = notifier_url_endpoint(n->kind, url, &endpoint);
                if (k >= 0)
                        k = notifier_url_redact(url, &redacted);
                if (k >= 0) {
                        notifier_set_url(n, TAKE_PTR(url), TAKE_PTR(endpoint), TAKE_PTR(redacted));
                        n->state = NOTIFIER_STATE_READY;
                } else {
                        notifier_set_url(n, NULL, NULL, NULL);
                        n->state = NOTIFIER_STATE_URL_ERROR;
                        n->url_error = error ? TAKE_PTR(error) : strdup(strerror(-k));
                        n_errors++;
                        report(n,
                               (NotifierReport){
                                       .kind = NOTIFIER_REPORT_URL_ERROR,
                                       .error = k,
                                       .detail = n->url_error,
                                       .n_messages = n->n_queued,
                               });
                }
        }

        /* Everything not named any more retires (or, without a URL, waits as an orphan). */
        for (Notifier *n = h->notifiers, *next; n; n = next) {
                bool named = false;
                next = n->next;
                for (size_t i = 0; i < n_cfgs && !named; i++)
                        named = targets[i] == n;
                if (named)
                        continue;
                if (n->state == NOTIFIER_STATE_READY || n->state == NOTIFIER_STATE_URL_ERROR)
                        n->state = n->url ? NOTIFIER_STATE_RETIRED : NOTIFIER_STATE_ORPHAN;
                alerts_forget_all(n);
                if (n->n_queued == 0 && !n->attempt) {
                        hub_unlink(h, n);
                        notifier_free(n);
                        continue;
                }
                if (n->state == NOTIFIER_STATE_ORPHAN && n->n_queued > 0)
                        report(n,
                               (NotifierReport){
                                       .kind = NOTIFIER_REPORT_ORPHAN,
                                       .n_messages = n->n_queued,
                                       .detail = "queued messages are kept until the notifier is configured again or "
                                                 "they reach the maximum age",
                               });
        }

        for (Notifier *n = h->notifiers; n; n = n->next)
                notifier_reschedule(n);
        r = (int) n_errors;
        if (n_errors == 0) {
                free(h->last_error);
                h->last_error = NULL;
        } else
                set_last_error(h, "%u notifier%s without a usable URL", n_errors, n_errors == 1 ? "" : "s");

finish:
        free(targets);
        free(created);
        return r;
}

/* ---- publishing ---- */

int notifier_hub_publish(NotifierHub *h, const char *name, const json_t *incident, const json_t *event) {
        _cleanup_(spool_message_done) SpoolMessage sm = {};
        const char *reason = NULL, *id;
        Notifier *n;
        Message *m;
        int64_t seq;
        int r;

        if (!h || !name)
                return -EINVAL;
        n = hub_find(h, name);
        if (!n || (n->state != NOTIFIER_STATE_READY && n->state != NOTIFIER_STATE_URL_ERROR)) {
                set_last_error(h, "no notifier named \"%s\" is configured", name);
                return -ENOENT;
        }
        r = notifier_incident_normalize(incident, &sm.incident, &reason);
        if (r >= 0)
                r = notifier_event_normalize(event, &sm.event, &reason);
        if (r < 0) {
                if (r == -EINVAL)
                        set_last_error(h, "notifier %s: %s", name, reason ?: "malformed incident or event");
                return r;
        }

        id = json_string_value(json_object_get(sm.incident, "id"));
        seq = json_integer_value(json_object_get(sm.event, "seq"));
        for (Message *q = n->head; q; q = q->next)
                if (q->event_seq == seq && streq(q->incident_id, id))
                        return 0; /* already queued */

        if (n->n_queued >= h->opts.max_queue) {
                n->rejected++;
                set_last_error(h, "notifier %s: queue full (%zu messages)", name, n->n_queued);
                return -ENOBUFS;
        }

        sm.seq = n->next_seq++;
        sm.created_usec = now(CLOCK_REALTIME);
        r = spool_write_message(n->dirfd, &sm);
        if (r < 0) {
                set_last_error(h, "notifier %s: cannot write to the spool: %s", name, strerror(-r));
                return r;
        }
        m = message_new(&sm);
        if (!m) {
                /* On disk already: the next hub on this spool sends it. */
                set_last_error(h, "notifier %s: out of memory", name);
                return -ENOMEM;
        }
        queue_append(n, m);
        notifier_reschedule(n);
        return 0;
}

/* ---- delivery ---- */

static void notifier_disarm(Notifier *n) {
        if (n->timer)
                (void) sd_event_source_set_enabled(n->timer, SD_EVENT_OFF);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata);

static void notifier_arm(Notifier *n, usec_t when) {
        int r;

        if (when == USEC_INFINITY) {
                notifier_disarm(n);
                return;
        }
        if (!n->timer) {
                r = sd_event_add_time(
                        n->hub->event, &n->timer, CLOCK_MONOTONIC, when, TIMER_ACCURACY_USEC, on_timer, n);
                if (r >= 0)
                        (void) sd_event_source_set_description(n->timer, "notifier");
        } else {
                r = sd_event_source_set_time(n->timer, when);
                if (r >= 0)
                        r = sd_event_source_set_enabled(n->timer, SD_EVENT_ONESHOT);
        }
        if (r < 0)
                report(n,
                       (NotifierReport){
                               .kind = NOTIFIER_REPORT_SPOOL_ERROR,
                               .error = r,
                               .detail = "cannot arm the delivery timer; delivery resumes with the next event",
                       });
}

static usec_t oldest_created(const Notifier *n) {
        usec_t t = USEC_INFINITY;
        for (const Message *m = n->head; m; m = m->next)
                t = MIN(t, m->m.created_usec);
        return t;
}

static OutboxPolicy hub_policy(const NotifierHub *h) {
        return (OutboxPolicy){
                .group_wait_usec = h->opts.group_wait_usec,
                .max_batch = h->opts.max_events_per_message,
        };
}

/* When the next request may start, USEC_INFINITY if none is due. */
static usec_t next_send(Notifier *n, usec_t now_m) {
        NotifierHub *h = n->hub;

        if (!can_send(n))
                return USEC_INFINITY;
        if (n->head) {
                OutboxEntry e = { .incident_id = n->head->incident_id, .queued_usec = n->head->queued_usec };
                OutboxPolicy p = hub_policy(h);
                size_t pick;
                usec_t t;

                (void) outbox_plan(
                        outbox_mode_for_kind(n->kind), &e, 1, &p, &n->bucket, now_m, n->retry_at, &pick, &t);
                return t;
        }
        if (n->kind == NOTIFIER_ALERTMANAGER && n->state == NOTIFIER_STATE_READY && n->n_alerts > 0)
                return MAX(MAX(n->last_refresh + h->opts.alert_resend_usec, n->retry_at), now_m);
        return USEC_INFINITY;
}

static void notifier_reschedule(Notifier *n) {
        usec_t now_m = mono(), when = USEC_INFINITY, oldest;

        if (n->attempt) {
                notifier_disarm(n);
                n->next_attempt = USEC_INFINITY;
                return;
        }
        n->next_attempt = next_send(n, now_m);
        when = n->next_attempt;
        oldest = oldest_created(n);
        if (oldest != USEC_INFINITY) {
                usec_t now_r = now(CLOCK_REALTIME), expiry = oldest + n->hub->opts.max_age_usec;
                when = MIN(when, expiry <= now_r ? now_m : now_m + (expiry - now_r));
        }
        notifier_arm(n, when);
}

static void expire_messages(Notifier *n) {
        usec_t now_r = now(CLOCK_REALTIME), max_age = n->hub->opts.max_age_usec;
        _cleanup_free_ char *first_id = NULL;
        uint64_t first_seq = 0;
        size_t k = 0;

        for (Message *m = n->head, *next; m; m = next) {
                next = m->next;
                if (m->in_flight || m->m.created_usec + max_age > now_r)
                        continue;
                if (k == 0) {
                        first_id = strdup(m->incident_id);
                        first_seq = (uint64_t) m->event_seq;
                }
                (void) spool_remove_message(n->dirfd, m->m.seq);
                queue_remove(n, m);
                message_free(m);
                k++;
        }
        if (k == 0)
                return;
        (void) spool_sync(n->dirfd);
        n->expired += k;
        report(n,
               (NotifierReport){
                       .kind = NOTIFIER_REPORT_EXPIRED,
                       .n_messages = k,
                       .incident_id = first_id,
                       .seq = first_seq,
                       .detail = "not delivered within the maximum age",
               });
}

static size_t header_cb(char *buf, size_t size, size_t nitems, void *userdata) {
        Attempt *a = userdata;
        size_t len = size * nitems;
        static const char name[] = "retry-after:";

        if (len > strlen(name) && strncasecmp(buf, name, strlen(name)) == 0 && len < 256) {
                free(a->retry_after);
                a->retry_after = strndup(buf + strlen(name), len - strlen(name));
                if (a->retry_after)
                        for (char *p = a->retry_after; *p; p++)
                                if (*p == '\r' || *p == '\n')
                                        *p = 0;
        }
        return len;
}

static void on_done(CurlGlue *g, CURL *easy, CURLcode result, void *userdata);
static void batch_remove(Notifier *n, Attempt *a, bool dead);

static void format_failed(Notifier *n, Attempt *a, int error) {
        if (a->refresh) {
                size_t k = n->n_alerts;
                alerts_forget_all(n);
                n->dead_lettered += k;
                report_message(
                        n, NOTIFIER_REPORT_DEAD_LETTER, NULL, k, 0, error, "the alerts cannot be formatted", 0);
                return;
        }
        n->dead_lettered += a->n_batch;
        report_message(
                n,
                NOTIFIER_REPORT_DEAD_LETTER,
                a->batch[0],
                a->n_batch,
                0,
                error,
                "the message cannot be formatted",
                0);
        batch_remove(n, a, true);
}

/* Build the request body for the chosen messages (or the alert refresh) and start it. */
static int attempt_start(Notifier *n, Message **batch, size_t n_batch, bool refresh) {
        NotifierHub *h = n->hub;
        NotifierPayload p = {};
        Attempt *a;
        int r;

        a = calloc(1, sizeof(*a));
        if (!a) {
                free(batch);
                return -ENOMEM;
        }
        a->notifier = n;
        a->batch = batch;
        a->n_batch = n_batch;
        a->refresh = refresh;
        a->body.max_bytes = h->opts.max_response_bytes;
        for (size_t i = 0; i < n_batch; i++)
                batch[i]->in_flight = true;

        switch (refresh ? OUTBOX_STATE : outbox_mode_for_kind(n->kind)) {
        case OUTBOX_CHAT: {
                _cleanup_free_ const json_t **events = calloc(n_batch, sizeof(json_t *));
                const Message *latest = batch[0];
                if (!events) {
                        r = -ENOMEM;
                        break;
                }
                for (size_t i = 0; i < n_batch; i++) {
                        events[i] = batch[i]->m.event;
                        if (batch[i]->event_seq >= latest->event_seq)
                                latest = batch[i];
                }
                r = notifier_format_chat(n->kind, latest->m.incident, events, n_batch, &p);
                break;
        }
        case OUTBOX_EACH:
                r = notifier_format_webhook(batch[0]->m.incident, batch[0]->m.event, &p);
                break;
        case OUTBOX_STATE:
        default:
                if (refresh) {
                        _cleanup_free_ NotifierAlert *alerts = calloc(
                                MAX(n->n_alerts, (size_t) 1), sizeof(*alerts));
                        if (!alerts) {
                                r = -ENOMEM;
                                break;
                        }
                        for (size_t i = 0; i < n->n_alerts; i++)
                                alerts[i] = (NotifierAlert){ n->alerts[i].incident, n->alerts[i].event };
                        r = notifier_format_alertmanager(
                                alerts, n->n_alerts, now(CLOCK_REALTIME), h->opts.alert_ttl_usec, &p);
                } else {
                        const Message *latest = batch[0];
                        for (size_t i = 0; i < n_batch; i++)
                                if (batch[i]->event_seq >= latest->event_seq)
                                        latest = batch[i];
                        NotifierAlert alert = { latest->m.incident, latest->m.event };
                        r = notifier_format_alertmanager(
                                &alert, 1, now(CLOCK_REALTIME), h->opts.alert_ttl_usec, &p);
                }
                break;
        }
        if (r < 0 && r != -ENOMEM) {
                /* The stored event passed validation but cannot be turned into a request (a limit of the
                 * format): sending it again cannot help, so it is handled like a permanent rejection. */
                notifier_payload_done(&p);
                format_failed(n, a, r);
                attempt_free(a);
                return 0;
        }
        if (r < 0)
                goto fail;
        a->n_shown = p.n_shown;
        a->n_suppressed = p.n_suppressed;

        a->url = strdup(n->url);
        if (!a->url) {
                r = -ENOMEM;
                goto fail;
        }
        r = curl_glue_easy_new(n->endpoint, h->opts.request_timeout_usec, &a->easy);
        if (r < 0)
                goto fail;
        a->headers = curl_slist_append(NULL, "Content-Type: application/json");
        if (a->headers)
                a->headers = curl_slist_append(a->headers, "Expect:");
        if (a->headers && p.idempotency_key) {
                _cleanup_free_ char *hdr = NULL;
                if (asprintf(&hdr, "Idempotency-Key: %s", p.idempotency_key) < 0) {
                        r = -ENOMEM;
                        goto fail;
                }
                a->headers = curl_slist_append(a->headers, hdr);
        }
        if (!a->headers) {
                r = -ENOMEM;
                goto fail;
        }
        if (curl_easy_setopt(a->easy, CURLOPT_POST, 1L) != CURLE_OK ||
            curl_easy_setopt(a->easy, CURLOPT_POSTFIELDSIZE, (long) strlen(p.body)) != CURLE_OK ||
            curl_easy_setopt(a->easy, CURLOPT_COPYPOSTFIELDS, p.body) != CURLE_OK ||
            curl_easy_setopt(a->easy, CURLOPT_HTTPHEADER, a->headers) != CURLE_OK ||
            curl_easy_setopt(a->easy, CURLOPT_HEADERFUNCTION, header_cb) != CURLE_OK ||
            curl_easy_setopt(a->easy, CURLOPT_HEADERDATA, a) != CURLE_OK) {
                r = -EIO;
                goto fail;
        }
        r = curl_glue_capture_body(a->easy, &a->body);
        if (r < 0)
                goto fail;
        r = curl_glue_add(h->glue, a->easy, on_done, a);
        if (r < 0)
                goto fail;
        notifier_payload_done(&p);
        n->attempt = a;
        return 0;

fail:
        notifier_payload_done(&p);
        if (a->easy) {
                curl_easy_cleanup(a->easy);
                a->easy = NULL;
        }
        attempt_free(a);
        return r;
}

static void batch_remove(Notifier *n, Attempt *a, bool dead) {
        for (size_t i = 0; i < a->n_batch; i++) {
                Message *m = a->batch[i];
                char name[SPOOL_NAME_MAX];
                int r;

                if (dead) {
                        r = spool_move_aside(n->dirfd, spool_message_file_name(m->m.seq, name), "dead");
                        if (r < 0)
                                r = spool_remove_message(n->dirfd, m->m.seq);
                } else
                        r = spool_remove_message(n->dirfd, m->m.seq);
                if (r < 0)
                        report_message(
                                n,
                                NOTIFIER_REPORT_SPOOL_ERROR,
                                m,
                                1,
                                0,
                                r,
                                "cannot remove the message from the spool; it may be sent again after a restart",
                                0);
                queue_remove(n, m);
                message_free(m);
        }
        a->n_batch = 0;
        (void) spool_sync(n->dirfd);
}

static const Message *batch_latest(const Attempt *a) {
        const Message *latest = a->n_batch > 0 ? a->batch[0] : NULL;
        for (size_t i = 1; i < a->n_batch; i++)
                if (a->batch[i]->event_seq >= latest->event_seq)
                        latest = a->batch[i];
        return latest;
}

static void on_done(CurlGlue *g, CURL *easy, CURLcode result, void *userdata) {
        Attempt *a = userdata;
        Notifier *n = a->notifier;
        NotifierHub *h = n->hub;
        _cleanup_free_ char *detail = NULL, *scrubbed = NULL;
        const Message *first = a->n_batch > 0 ? a->batch[0] : NULL;
        DeliveryOutcome outcome;
        long status = 0;
        bool transport_ok;

        a->easy = NULL; /* the glue already removed it; we clean it up below */
        (void) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        transport_ok = result == CURLE_OK || (result == CURLE_WRITE_ERROR && a->body.too_big && status >= 100);
        outcome = delivery_classify(transport_ok, status);
        n->last_http_status = transport_ok ? status : 0;
        curl_easy_cleanup(easy);

        if (outcome != DELIVERY_OK) {
                if (!transport_ok)
                        detail = strdup(curl_easy_strerror(result));
                else {
                        scrubbed = scrub_body(
                                strbuf_str(&a->body.buf), a->body.buf.len, a->body.too_big, a->url);
                        if (asprintf(
                                    &detail,
                                    "HTTP %ld%s%s",
                                    status,
                                    scrubbed && *scrubbed ? ": " : "",
                                    scrubbed ?: "") < 0)
                                detail = NULL;
                }
        }

        switch (outcome) {
        case DELIVERY_OK: {
                const Message *latest = batch_latest(a);
                size_t k = a->refresh ? n->n_alerts : a->n_batch;

                if (n->kind == NOTIFIER_ALERTMANAGER && latest)
                        alert_track(n, latest->m.incident, latest->m.event);
                n->requests++;
                if (a->refresh)
                        n->last_refresh = mono();
                else {
                        n->delivered += a->n_batch;
                        if (outbox_mode_for_kind(n->kind) != OUTBOX_EACH && a->n_batch > 1)
                                n->coalesced += a->n_batch - 1;
                        n->suppressed += a->n_suppressed;
                }
                report_message(
                        n,
                        NOTIFIER_REPORT_DELIVERED,
                        first,
                        k,
                        status,
                        0,
                        a->refresh ? "firing alerts refreshed" : NULL,
                        0);
                batch_remove(n, a, false);
                n->failures = 0;
                n->retry_at = 0;
                break;
        }
        case DELIVERY_RETRY: {
                usec_t delay = 0;
                bool honoured = false;

                n->failed_attempts++;
                n->failures++;
                if (transport_ok && delivery_honours_retry_after(status) && a->retry_after &&
                    retry_after_parse(a->retry_after, now(CLOCK_REALTIME), &delay) >= 0) {
                        delay = MIN(delay, h->opts.retry_after_max_usec);
                        honoured = true;
                }
                if (!honoured)
                        delay = backoff_delay(
                                n->failures, h->opts.backoff_min_usec, h->opts.backoff_max_usec, hub_random(h));
                n->retry_at = mono() + delay;
                report_message(
                        n,
                        NOTIFIER_REPORT_RETRY,
                        first,
                        a->refresh ? n->n_alerts : a->n_batch,
                        transport_ok ? status : 0,
                        transport_ok ? 0 : -EIO,
                        detail ?: "request failed",
                        delay);
                break;
        }
        case DELIVERY_PERMANENT:
        default:
                n->failed_attempts++;
                if (a->refresh) {
                        /* Alertmanager rejects our own alert state: re-sending it forever cannot help. */
                        size_t k = n->n_alerts;
                        alerts_forget_all(n);
                        n->dead_lettered += k;
                        report_message(
                                n,
                                NOTIFIER_REPORT_DEAD_LETTER,
                                NULL,
                                k,
                                status,
                                0,
                                detail ?: "alert refresh rejected",
                                0);
                } else {
                        n->dead_lettered += a->n_batch;
                        report_message(
                                n,
                                NOTIFIER_REPORT_DEAD_LETTER,
                                first,
                                a->n_batch,
                                status,
                                0,
                                detail ?: "rejected",
                                0);
                        batch_remove(n, a, true);
                }
                n->failures = 0;
                n->retry_at = 0;
                break;
        }

        n->attempt = NULL;
        attempt_free(a);
        if ((n->state == NOTIFIER_STATE_RETIRED || n->state == NOTIFIER_STATE_ORPHAN) && n->n_queued == 0) {
                hub_unlink(h, n);
                notifier_free(n);
                return;
        }
        notifier_reschedule(n);
}

/* Pick what goes next and start it. Returns 0 when nothing was due or a request started, negative when a
 * request was due but could not be started. */
static int dispatch_one(Notifier *n, usec_t now_m) {
        NotifierHub *h = n->hub;

        if (n->head) {
                _cleanup_free_ OutboxEntry *entries = calloc(n->n_queued, sizeof(*entries));
                _cleanup_free_ size_t *pick = calloc(n->n_queued, sizeof(*pick));
                _cleanup_free_ Message **index = calloc(n->n_queued, sizeof(*index));
                OutboxPolicy p = hub_policy(h);
                Message **batch;
                usec_t not_before;
                size_t i = 0, k;

                if (!entries || !pick || !index)
                        return -ENOMEM;
                for (Message *m = n->head; m; m = m->next, i++) {
                        entries[i] = (OutboxEntry){ .incident_id = m->incident_id,
                                                    .queued_usec = m->queued_usec };
                        index[i] = m;
                }
                k = outbox_plan(
                        outbox_mode_for_kind(n->kind),
                        entries,
                        n->n_queued,
                        &p,
                        &n->bucket,
                        now_m,
                        n->retry_at,
                        pick,
                        &not_before);
                if (k == 0 || not_before > now_m)
                        return 0;
                if (outbox_mode_for_kind(n->kind) == OUTBOX_CHAT && !token_bucket_take(&n->bucket, now_m))
                        return 0;
                batch = calloc(k, sizeof(*batch));
                if (!batch)
                        return -ENOMEM;
                for (size_t j = 0; j < k; j++)
                        batch[j] = index[pick[j]];
                return attempt_start(n, batch, k, false);
        }
        if (n->kind == NOTIFIER_ALERTMANAGER && n->state == NOTIFIER_STATE_READY && n->n_alerts > 0 &&
            next_send(n, now_m) <= now_m)
                return attempt_start(n, NULL, 0, true);
        return 0;
}

static void dispatch(Notifier *n) {
        NotifierHub *h = n->hub;
        int r;

        expire_messages(n);
        if ((n->state == NOTIFIER_STATE_RETIRED || n->state == NOTIFIER_STATE_ORPHAN) && n->n_queued == 0 &&
            !n->attempt) {
                /* Everything it still had has expired. (Freeing an event source from its own callback is
                 * allowed by sd-event.) */
                hub_unlink(h, n);
                notifier_free(n);
                return;
        }
        if (n->attempt || !can_send(n)) {
                notifier_reschedule(n);
                return;
        }

        r = dispatch_one(n, mono());
        if (r < 0) {
                /* Could not even build or start the request (out of memory, curl refused the handle): treat
                 * it like a failed attempt so that the back-off applies and the loop does not spin. */
                n->failures++;
                n->failed_attempts++;
                usec_t delay = backoff_delay(
                        n->failures, h->opts.backoff_min_usec, h->opts.backoff_max_usec, hub_random(h));
                n->retry_at = mono() + delay;
                report_message(
                        n,
                        NOTIFIER_REPORT_RETRY,
                        n->head,
                        n->head ? 1 : 0,
                        0,
                        r,
                        "could not start the request",
                        delay);
        }
        notifier_reschedule(n);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Notifier *n = userdata;
        dispatch(n);
        return 0;
}

/* ---- stats ---- */

static int cmp_stats(const void *a, const void *b) {
        return strcmp(((const NotifierStats *) a)->name, ((const NotifierStats *) b)->name);
}

int notifier_hub_stats(NotifierHub *h, NotifierStats **ret, size_t *ret_n) {
        NotifierStats *v;
        size_t k = 0, count = 0;
        usec_t now_r = now(CLOCK_REALTIME);

        for (Notifier *n = h->notifiers; n; n = n->next)
                count++;
        v = calloc(MAX(count, (size_t) 1), sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (Notifier *n = h->notifiers; n; n = n->next) {
                usec_t oldest = oldest_created(n);
                v[k++] = (NotifierStats){
                        .name = n->name,
                        .kind = n->kind,
                        .state = n->state,
                        .redacted_url = n->redacted,
                        .url_error = n->url_error,
                        .queued = n->n_queued,
                        .delivered = n->delivered,
                        .requests = n->requests,
                        .failed_attempts = n->failed_attempts,
                        .dead_lettered = n->dead_lettered,
                        .expired = n->expired,
                        .rejected = n->rejected,
                        .dropped = n->dead_lettered + n->expired + n->rejected,
                        .corrupt = n->corrupt,
                        .coalesced = n->coalesced,
                        .suppressed = n->suppressed,
                        .oldest_age_usec = oldest == USEC_INFINITY || oldest > now_r ? 0 : now_r - oldest,
                        .next_attempt_usec = n->attempt ? USEC_INFINITY : n->next_attempt,
                        .consecutive_failures = n->failures,
                        .last_http_status = n->last_http_status,
                        .firing_alerts = n->n_alerts,
                        .in_flight = n->attempt != NULL,
                };
        }
        if (k > 1)
                qsort(v, k, sizeof(*v), cmp_stats);
        *ret = v;
        *ret_n = k;
        return 0;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The part of every metric source that does not depend on its kind: the configuration copy, the series
 * table with the source's own labels, the collection timer and deadline, homeostat_source_up, statistics
 * and the sweep of series that went away. The kinds (source-prometheus.c, source-systemd.c,
 * source-http-probe.c, source-listen.c) only start collections and emit what they found.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hashmap.h"
#include "source-internal.h"

double source_now_realtime(void) {
        return (double) now(CLOCK_REALTIME) / (double) USEC_PER_SEC;
}

static void config_done(SourceConfig *c) {
        free(c->name);
        free((char *) c->loc.file);
        free(c->url);
        strv_free_n(c->units, c->n_units);
        free(c->listen_path);
        for (size_t i = 0; i < c->n_labels; i++) {
                free(c->labels[i].key);
                free(c->labels[i].value);
        }
        free(c->labels);
        *c = (SourceConfig){};
}

static int strdup_null(const char *s, char **ret) {
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

/* A deep copy, so that a Source outlives the Config it came from (a kept source across a reload). */
static int config_copy(const SourceConfig *from, SourceConfig *to) {
        *to = (SourceConfig){
                .loc = { .line = from->loc.line, .column = from->loc.column },
                .kind = from->kind,
                .interval_usec = from->interval_usec,
                .timeout_usec = from->timeout_usec,
                .max_series = from->max_series,
        };
        if (strdup_null(from->name, &to->name) < 0 ||
            strdup_null(from->loc.file, (char **) &to->loc.file) < 0 ||
            strdup_null(from->url, &to->url) < 0 || strdup_null(from->listen_path, &to->listen_path) < 0)
                goto oom;
        if (from->n_units > 0) {
                to->units = calloc(from->n_units + 1, sizeof(char *));
                if (!to->units)
                        goto oom;
                for (size_t i = 0; i < from->n_units; i++) {
                        to->n_units = i + 1;
                        if (strdup_null(from->units[i], &to->units[i]) < 0)
                                goto oom;
                }
        }
        if (from->n_labels > 0) {
                to->labels = calloc(from->n_labels, sizeof(KeyValue));
                if (!to->labels)
                        goto oom;
                for (size_t i = 0; i < from->n_labels; i++) {
                        to->n_labels = i + 1;
                        if (strdup_null(from->labels[i].key, &to->labels[i].key) < 0 ||
                            strdup_null(from->labels[i].value, &to->labels[i].value) < 0)
                                goto oom;
                }
        }
        return 0;
oom:
        config_done(to);
        return -ENOMEM;
}

bool source_config_equal(const SourceConfig *a, const SourceConfig *b) {
        if (!a || !b)
                return a == b;
        if (a->kind != b->kind || !streq_ptr(a->name, b->name) || !streq_ptr(a->url, b->url) ||
            !streq_ptr(a->listen_path, b->listen_path) || a->interval_usec != b->interval_usec ||
            a->timeout_usec != b->timeout_usec || a->max_series != b->max_series ||
            a->n_units != b->n_units || a->n_labels != b->n_labels)
                return false;
        for (size_t i = 0; i < a->n_units; i++)
                if (!streq_ptr(a->units[i], b->units[i]))
                        return false;
        for (size_t i = 0; i < a->n_labels; i++)
                if (!streq_ptr(a->labels[i].key, b->labels[i].key) ||
                    !streq_ptr(a->labels[i].value, b->labels[i].value))
                        return false;
        return true;
}

static bool label_name_ok(const char *s) {
        if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
                return false;
        for (s++; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                      *s == '_'))
                        return false;
        return true;
}

static int config_validate(const SourceConfig *c) {
        if (!c->name || !*c->name || c->interval_usec == 0 || c->timeout_usec == 0 || c->max_series == 0)
                return -EINVAL;
        switch (c->kind) {
        case SOURCE_PROMETHEUS:
        case SOURCE_HTTP_PROBE:
                if (!c->url || !*c->url)
                        return -EINVAL;
                break;
        case SOURCE_SYSTEMD:
                if (c->n_units == 0)
                        return -EINVAL;
                for (size_t i = 0; i < c->n_units; i++)
                        if (!c->units[i] || !*c->units[i])
                                return -EINVAL;
                break;
        case SOURCE_LISTEN:
                if (!c->listen_path || !*c->listen_path)
                        return -EINVAL;
                break;
        default:
                return -EINVAL;
        }
        if (c->n_labels > PROM_LABELS_MAX - 1)
                return -EINVAL;
        for (size_t i = 0; i < c->n_labels; i++) {
                const KeyValue *kv = &c->labels[i];
                if (!label_name_ok(kv->key) || startswith(kv->key, "__") || streq(kv->key, "source") ||
                    !kv->value || !*kv->value)
                        return -EINVAL;
                for (size_t j = 0; j < i; j++)
                        if (streq(kv->key, c->labels[j].key))
                                return -EINVAL;
        }
        return 0;
}

static int label_cmp(const void *a, const void *b) {
        return strcmp(((const Label *) a)->name, ((const Label *) b)->name);
}

static int on_timer(sd_event_source *es, uint64_t usec, void *userdata);
static int on_deadline(sd_event_source *es, uint64_t usec, void *userdata);

int source_new(
        const SourceDeps *deps, const SourceConfig *config, SourceSampleCallback cb, void *userdata, Source **ret) {
        _cleanup_(source_freep) Source *s = NULL;
        int r;

        if (!deps || !deps->event || !config || !cb || !ret)
                return -EINVAL;
        r = config_validate(config);
        if (r < 0)
                return r;
        if ((config->kind == SOURCE_PROMETHEUS || config->kind == SOURCE_HTTP_PROBE) && !deps->curl)
                return -ENOTCONN;
        if (config->kind == SOURCE_SYSTEMD && !deps->bus)
                return -ENOTCONN;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        r = config_copy(config, &s->config);
        if (r < 0)
                return r;
        s->event = sd_event_ref(deps->event);
        s->bus = deps->bus ? sd_bus_ref(deps->bus) : NULL;
        s->curl = deps->curl;
        s->cb = cb;
        s->userdata = userdata;

        s->base = calloc(s->config.n_labels + 1, sizeof(Label));
        if (!s->base)
                return -ENOMEM;
        for (size_t i = 0; i < s->config.n_labels; i++)
                s->base[s->n_base++] = (Label){ s->config.labels[i].key, s->config.labels[i].value };
        s->base[s->n_base++] = (Label){ "source", s->config.name };
        qsort(s->base, s->n_base, sizeof(Label), label_cmp);

        r = prom_series_table_new(s->base, s->n_base, s->config.max_series, &s->table);
        if (r < 0)
                return r;

        switch (s->config.kind) {
        case SOURCE_PROMETHEUS:
                s->vt = &source_prometheus_vtable;
                break;
        case SOURCE_SYSTEMD:
                s->vt = &source_systemd_vtable;
                break;
        case SOURCE_HTTP_PROBE:
                s->vt = &source_http_probe_vtable;
                break;
        case SOURCE_LISTEN:
                s->vt = &source_listen_vtable;
                break;
        default:
                return -EINVAL;
        }
        r = s->vt->init(s);
        if (r < 0) {
                s->vt = NULL; /* init cleans up after itself */
                return r;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

Source *source_free(Source *s) {
        if (!s)
                return NULL;
        if (s->vt)
                s->vt->done(s);
        sd_event_source_disable_unref(s->timer);
        sd_event_source_disable_unref(s->deadline);
        prom_series_table_free(s->table);
        free(s->base);
        sd_bus_unref(s->bus);
        sd_event_unref(s->event);
        config_done(&s->config);
        free(s);
        return NULL;
}

const SourceConfig *source_get_config(const Source *s) {
        return &s->config;
}

const char *source_get_name(const Source *s) {
        return s->config.name;
}

void source_get_stats(const Source *s, SourceStats *ret) {
        *ret = s->stats;
        ret->series = prom_series_table_size(s->table);
}

static usec_t timer_accuracy(const Source *s) {
        return CLAMP(s->config.interval_usec / 20, USEC_PER_MSEC, 50 * USEC_PER_MSEC);
}

/* One timer per source, re-armed after each collection: a collection can never overlap the next. */
static int arm_timer(Source *s, usec_t when) {
        int r;

        if (s->timer) {
                r = sd_event_source_set_time(s->timer, when);
                if (r < 0)
                        return r;
                return sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
        }
        r = sd_event_add_time(s->event, &s->timer, CLOCK_MONOTONIC, when, timer_accuracy(s), on_timer, s);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(s->timer, "source-collect");
        return 0;
}

int source_start(Source *s) {
        int r;

        if (s->started)
                return 0;
        if (s->vt->start) {
                r = s->vt->start(s);
                if (r < 0)
                        return r;
        }
        /* Soon, and spread by the name so that many sources do not all fire at once. */
        usec_t spread = MIN(s->config.interval_usec, 100 * USEC_PER_MSEC);
        usec_t delay = hash_bytes(s->config.name, strlen(s->config.name)) % (spread + 1);
        r = arm_timer(s, now(CLOCK_MONOTONIC) + delay);
        if (r < 0)
                return r;
        s->started = true;
        return 0;
}

static _printf_(2, 0) void vset_error(Source *s, const char *format, va_list ap) {
        (void) vsnprintf(s->stats.last_error, sizeof(s->stats.last_error), format, ap);
}

void source_set_error(Source *s, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        vset_error(s, format, ap);
        va_end(ap);
}

int source_start_request(Source *s, CURL *easy, bool set_up, CurlDoneCallback done, CURL **ret_easy) {
        int r;

        if (!set_up) {
                curl_easy_cleanup(easy);
                source_set_error(s, "cannot set up the request");
                return -EINVAL;
        }
        r = curl_glue_add(s->curl, easy, done, s);
        if (r < 0) {
                curl_easy_cleanup(easy);
                source_set_error(s, "cannot start the request: %s", strerror(-r));
                return r;
        }
        *ret_easy = easy;
        return 0;
}

/* Start a collection: stamp it (monotonic for durations and series ages, wall clock for samples), arm the
 * deadline first so that a kind that never calls back still ends, then let the kind begin. */
static int on_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        Source *s = userdata;
        int r;

        if (s->collecting)
                return 0; /* cannot happen: the timer is re-armed only when a collection ends */
        s->collecting = true;
        s->collection_start = now(CLOCK_MONOTONIC);
        s->collection_t = source_now_realtime();
        s->emit_now = s->collection_start;
        s->stats.collections++;

        usec_t deadline = s->collection_start + s->config.timeout_usec + s->vt->deadline_slack_usec;
        if (s->deadline) {
                r = sd_event_source_set_time(s->deadline, deadline);
                if (r >= 0)
                        r = sd_event_source_set_enabled(s->deadline, SD_EVENT_ONESHOT);
        } else {
                r = sd_event_add_time(
                        s->event, &s->deadline, CLOCK_MONOTONIC, deadline, USEC_PER_MSEC, on_deadline, s);
                if (r >= 0)
                        (void) sd_event_source_set_description(s->deadline, "source-deadline");
        }
        if (r < 0) {
                source_collection_end(s, r, "cannot arm the collection deadline: %s", strerror(-r));
                return 0;
        }

        r = s->vt->collect(s);
        if (r < 0 && s->collecting)
                source_collection_end(s, r, NULL);
        return 0;
}

/* The kind did not finish in time: abort its work (no callback may follow) and fail the collection. */
static int on_deadline(sd_event_source *es, uint64_t usec, void *userdata) {
        Source *s = userdata;
        char buf[DURATION_MAX];

        if (!s->collecting)
                return 0;
        s->vt->cancel(s);
        source_collection_end(
                s, -ETIMEDOUT, "timed out after %s", format_duration(buf, sizeof(buf), s->config.timeout_usec));
        return 0;
}

/* homeostat_source_up carries only the source's own labels and does not count against max_series. */
static void emit_up(Source *s, bool up) {
        SampleIn in = {
                .metric = "homeostat_source_up",
                .labels = s->base,
                .n_labels = s->n_base,
                .type = SAMPLE_GAUGE,
                .t = s->collection_t,
                .value = up ? 1 : 0,
        };
        s->stats.samples++;
        s->cb(s, &in, s->userdata);
}

void source_collection_end(Source *s, int error, const char *format, ...) {
        usec_t n = now(CLOCK_MONOTONIC);
        int r;

        if (!s->collecting)
                return;
        s->collecting = false;
        if (s->deadline)
                (void) sd_event_source_set_enabled(s->deadline, SD_EVENT_OFF);

        if (format) {
                va_list ap;
                va_start(ap, format);
                vset_error(s, format, ap);
                va_end(ap);
        } else if (error < 0 && !s->stats.last_error[0])
                source_set_error(s, "%s", strerror(-error));

        s->stats.last_duration_usec = n - s->collection_start;
        s->stats.up = error >= 0;
        if (error < 0)
                s->stats.failures++;
        emit_up(s, error >= 0);

        usec_t horizon = MAX((usec_t) SOURCE_SERIES_STALE_USEC, 10 * s->config.interval_usec);
        if (n > horizon)
                (void) prom_series_table_sweep(s->table, n - horizon);

        /* Next one an interval after this one started; at once if that has passed (never overlapping). */
        usec_t next = s->collection_start + s->config.interval_usec;
        r = arm_timer(s, MAX(next, n));
        if (r < 0)
                source_set_error(s, "cannot arm the collection timer: %s", strerror(-r));
}

int source_emit_parsed(Source *s, const PromSample *sample, double t, const char **ret_error) {
        const PromSeries *series;
        int r;

        r = prom_series_table_lookup_raw(s->table, sample, s->emit_now, &series, ret_error);
        if (r <= 0) {
                if (r == 0)
                        s->stats.dropped_max_series++;
                return r;
        }
        SampleIn in = {
                .metric = series->metric,
                .labels = series->labels,
                .n_labels = series->n_labels,
                .type = sample->type,
                .t = t,
                .value = sample->value,
        };
        s->stats.samples++;
        s->cb(s, &in, s->userdata);
        return 1;
}

int source_emit(
        Source *s, const char *metric, const Label *labels, size_t n_labels, SampleType type, double t, double value) {
        const PromSeries *series;
        int r;

        r = prom_series_table_lookup(s->table, metric, labels, n_labels, s->emit_now, &series);
        if (r <= 0) {
                if (r == 0)
                        s->stats.dropped_max_series++;
                return r;
        }
        SampleIn in = {
                .metric = series->metric,
                .labels = series->labels,
                .n_labels = series->n_labels,
                .type = type,
                .t = t,
                .value = value,
        };
        s->stats.samples++;
        s->cb(s, &in, s->userdata);
        return 1;
}

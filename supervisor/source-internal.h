/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What the source kinds share with the generic part (source.c): the Source object, the per-kind
 * operations, and the helpers that emit samples and end a collection. Not for use outside source*.c.
 *
 * A collection is: source.c's timer calls vt->collect(); the kind starts asynchronous work and, when it
 * is done (or failed), calls source_collection_end(). If the deadline (timeout plus the kind's slack)
 * passes first, source.c calls vt->cancel() and ends the collection as failed. Samples of a successful
 * collection go out through source_emit*() before source_collection_end(); source.c then emits
 * homeostat_source_up and schedules the next collection.
 */
#pragma once

#include "prom-text.h"
#include "source.h"

typedef struct SourceVTable {
        /* Set up kind data in s->data (sockets are bound here so that errors show up at creation). */
        int (*init)(Source *s);
        /* Free kind data; anything in flight is abandoned without callbacks. */
        void (*done)(Source *s);
        /* Optional: source_start() was called (listen starts accepting). */
        int (*start)(Source *s);
        /* Begin a collection; return <0 if it could not even begin (the collection then failed). */
        int (*collect)(Source *s);
        /* Abort the collection in flight; no source_collection_end() call may follow. */
        void (*cancel)(Source *s);
        /* Time beyond `timeout` before the deadline strikes (curl reports its own timeout first). */
        usec_t deadline_slack_usec;
} SourceVTable;

struct Source {
        SourceConfig config; /* deep copy */
        const SourceVTable *vt;
        sd_event *event;
        sd_bus *bus;
        CurlGlue *curl;
        SourceSampleCallback cb;
        void *userdata;

        Label *base; /* config labels + source="<name>", sorted; strings point into config */
        size_t n_base;
        PromSeriesTable *table;

        sd_event_source *timer;    /* next collection */
        sd_event_source *deadline; /* the collection in flight */
        bool started, collecting;
        usec_t collection_start; /* CLOCK_MONOTONIC */
        double collection_t;     /* wall clock, seconds since the epoch */
        usec_t emit_now;         /* CLOCK_MONOTONIC "last seen" for series emitted now */

        SourceStats stats;
        void *data; /* per kind */
};

extern const SourceVTable source_prometheus_vtable;
extern const SourceVTable source_systemd_vtable;
extern const SourceVTable source_http_probe_vtable;
extern const SourceVTable source_listen_vtable;

/* Emit a parsed sample through the series table (max_series, canonical labels). t: seconds since the
 * epoch. Returns 1 emitted, 0 dropped (max_series), -EBADMSG (*ret_error set) or -ENOMEM. */
int source_emit_parsed(Source *s, const PromSample *sample, double t, const char **ret_error);
/* Emit a series built by code; labels in any order, the source's own labels are added. */
int source_emit(
        Source *s, const char *metric, const Label *labels, size_t n_labels, SampleType type, double t, double value);

/* End the collection in flight: error == 0 for success, else a negative errno and a message for
 * last_error (printf format; may be NULL to keep a message the kind already set). */
void source_collection_end(Source *s, int error, const char *format, ...) _printf_(3, 4);

/* Record a message in last_error without ending anything (bad lines of a successful scrape). */
void source_set_error(Source *s, const char *format, ...) _printf_(2, 3);

/* Start a prepared HTTP request on the source's CurlGlue: set_up is whether the kind's options were all
 * accepted. On failure easy is freed and last_error says why; on success *ret_easy is the request in
 * flight (done is called when it ends). */
int source_start_request(Source *s, CURL *easy, bool set_up, CurlDoneCallback done, CURL **ret_easy);

/* Seconds since the epoch, now. */
double source_now_realtime(void);

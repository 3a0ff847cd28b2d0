/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Metric sources: where samples come from in the daemon. Each configured source (rules.h SourceConfig:
 * prometheus scrape, systemd units, http_probe, listen socket) becomes one Source on the event loop that
 * emits samples through a callback on its interval, asynchronously. Every sample carries the source's
 * labels plus source="<name>"; each collection also emits homeostat_source_up{source="<name>"} (1 or 0).
 * A failed collection emits no samples (a failed scrape is not a sample of zero). max_series is enforced
 * per source: series beyond it are dropped and counted.
 *
 * The manager creates Sources from a Config and forwards samples to the evaluator; on reload it recreates
 * them (a source whose config did not change may be kept).
 */
#pragma once

#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "curl-glue.h"
#include "evaluator.h"
#include "rules.h"

typedef struct Source Source;

/* Called for every sample. The SampleIn and everything it points to are valid only during the call. */
typedef void (*SourceSampleCallback)(Source *s, const SampleIn *sample, void *userdata);

typedef struct SourceDeps {
        sd_event *event;
        sd_bus *bus;      /* systemd sources: the system bus, or the user bus with --user; may be NULL */
        CurlGlue *curl;   /* prometheus and http_probe */
} SourceDeps;

typedef struct SourceStats {
        uint64_t collections;       /* scrapes/probes/polls attempted */
        uint64_t failures;          /* of which failed */
        uint64_t samples;           /* samples emitted */
        uint64_t dropped_max_series;/* samples dropped because of max_series */
        uint64_t series;            /* distinct series seen (bounded by max_series) */
        uint64_t last_duration_usec;
        uint64_t last_bytes;
        bool up;
        char last_error[256];       /* human-readable, secrets redacted; "" when none */
} SourceStats;

int source_new(const SourceDeps *deps, const SourceConfig *config, SourceSampleCallback cb, void *userdata,
               Source **ret);
/* Start collecting (first collection soon, then every interval). */
int source_start(Source *s);
Source *source_free(Source *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Source *, source_free);

const SourceConfig *source_get_config(const Source *s);
void source_get_stats(const Source *s, SourceStats *ret);

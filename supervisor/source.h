/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Metric sources: where samples come from in the daemon. Each configured source (rules.h SourceConfig:
 * prometheus scrape, systemd units, http_probe, listen socket) becomes one Source on the event loop that
 * emits samples through a callback on its interval, asynchronously. Every sample carries the source's
 * labels plus source="<name>"; each collection also emits homeostat_source_up{source="<name>"} (1 or 0).
 * A failed collection emits no samples (a failed scrape is not a sample of zero). max_series is enforced
 * per source: series beyond it are dropped and counted.
 *
 * Use by the daemon: one sd_event loop, one CurlGlue on it, and (for systemd sources) the manager's bus
 * attached to the same loop (sd_bus_attach_event); SIGPIPE ignored. For each SourceConfig: source_new(),
 * then source_start() once the loop is set up; the callback forwards each SampleIn to evaluator_push()
 * (it must not free sources). On reload, keep a running Source whose name matches and whose config is
 * source_config_equal() to the new one, create the others from the new Config before freeing the old
 * ones (a new listen source takes the socket path over; freeing the old one then leaves the path alone),
 * so a reload that fails halfway keeps the old sources. A Source copies its config, so it may outlive
 * the Config it came from. source_get_stats() feeds /metrics and the status API.
 *
 * Scheduling: source_start() arms the first collection within 100 ms (spread by the source name), then
 * one every `interval`, measured from the start of the previous one; a collection never overlaps the next
 * and is bounded by `timeout`. The sample timestamp is the wall-clock time at the start of the collection,
 * unless the exposition carries its own (milliseconds, converted to seconds).
 *
 * Labels: a scraped or pushed label that collides with one of the source's own labels (`source`, or a key
 * of `labels:`) is kept as exported_<name> (exported_exported_<name> if that is taken too), as Prometheus
 * does with honor_labels: false. A label with an empty value is the same as no label. Labels are sorted.
 *
 * Series bookkeeping: a source remembers the series it has emitted so that steady-state scrapes do no
 * label work; a series not seen for SOURCE_SERIES_STALE_USEC or 10 intervals, whichever is longer, is
 * forgotten and stops counting against max_series (the evaluator keeps its own state).
 *
 * Per kind:
 * - prometheus: GET url with `Accept: text/plain;version=0.0.4`, gzip accepted, at most
 *   SOURCE_SCRAPE_MAX_BYTES after decompression. Failed (source_up 0, no samples, reason in last_error):
 *   transport error, timeout, oversize body, HTTP status other than 200, or a body without one valid
 *   sample. Invalid lines are skipped and counted in bad_lines; the scrape still succeeds.
 * - http_probe: GET url (redirects not followed), body read and discarded up to SOURCE_PROBE_MAX_BYTES.
 *   Emits homeostat_probe_success (1 for a 2xx or 3xx status, else 0) and homeostat_probe_duration_seconds
 *   (until the response ended, failed or timed out). Like the blackbox exporter, source_up stays 1 when
 *   the target fails (that is what probe_success is for); failures and last_error count failed probes.
 * - systemd: each interval ListUnitsByPatterns(patterns=units), then per unit InvocationID and, for units
 *   with a cgroup (service, scope, slice, socket, mount, swap), MemoryCurrent, CPUUsageNSec and
 *   TasksCurrent; at most SOURCE_SYSTEMD_CALLS_IN_FLIGHT calls in flight (the system bus limits pending
 *   replies). Emits homeostat_unit_active (ActiveState == "active"), homeostat_unit_restarts_total,
 *   homeostat_unit_memory_bytes, homeostat_unit_cpu_seconds_total, homeostat_unit_tasks, all with
 *   unit="<name>"; a property that reads UINT64_MAX ([not set], e.g. CPUUsageNSec on cgroup v1) is absent
 *   and yields no sample. restarts_total counts InvocationID changes seen by this source (NRestarts goes
 *   back to 0 on a manual restart): it starts at 0 when the source first sees a unit, so after a daemon
 *   restart or reload the counter starts again at 0, which the evaluator treats as a counter reset; restarts
 *   while nobody watched are not counted. A unit that no longer matches (stopped transient units vanish)
 *   yields no more samples. Failed: the list call fails or the collection exceeds timeout; a unit vanishing
 *   between the list and its property reads just loses those values.
 * - listen: a unix stream socket (a stale socket at the path is replaced; anything else there is an error;
 *   mode 0660) taking up to SOURCE_LISTEN_MAX_CLIENTS clients that write Prometheus text lines
 *   (`name{labels} value [timestamp_ms]`, `# TYPE` lines optional). Samples are emitted as they arrive,
 *   stamped with the line's timestamp or the arrival time. Bad lines are skipped and counted; a client is
 *   disconnected after a line longer than PROM_LINE_MAX or SOURCE_LISTEN_MAX_BAD_IN_A_ROW bad lines in a
 *   row. Each interval counts as a collection that emits source_up 1 (the socket is listening).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "curl-glue.h"
#include "evaluator.h"
#include "rules.h"

#define SOURCE_SCRAPE_MAX_BYTES (16U * 1024U * 1024U) /* prometheus: response body, after decompression */
#define SOURCE_PROBE_MAX_BYTES (1U * 1024U * 1024U)   /* http_probe: body bytes read before giving up */
#define SOURCE_SYSTEMD_MAX_UNITS 1024U                /* systemd: units polled per collection */
#define SOURCE_SYSTEMD_CALLS_IN_FLIGHT 32U            /* systemd: property reads outstanding at once */
#define SOURCE_LISTEN_MAX_CLIENTS 64U                 /* listen: connected clients */
#define SOURCE_LISTEN_MAX_BAD_IN_A_ROW 8U             /* listen: bad lines in a row before disconnecting */
#define SOURCE_SERIES_STALE_USEC (5U * USEC_PER_MINUTE)

typedef struct Source Source;

/* Called for every sample. The SampleIn and everything it points to are valid only during the call. The
 * callback must not free the source (defer that to another event). */
typedef void (*SourceSampleCallback)(Source *s, const SampleIn *sample, void *userdata);

typedef struct SourceDeps {
        sd_event *event;
        sd_bus *bus;    /* systemd sources: the system bus (the user bus with --user), attached to event;
                         * may be NULL when there is no systemd source */
        CurlGlue *curl; /* prometheus and http_probe: running on event; must outlive the sources */
} SourceDeps;

typedef struct SourceStats {
        uint64_t collections;        /* scrapes/probes/polls attempted (listen: interval ticks) */
        uint64_t failures;           /* of which failed (http_probe: probes with success 0) */
        uint64_t samples;            /* samples emitted, source_up included */
        uint64_t dropped_max_series; /* samples dropped because of max_series */
        uint64_t series;             /* distinct series held now (bounded by max_series) */
        uint64_t last_duration_usec;
        uint64_t last_bytes;      /* prometheus: body size after decompression; listen: bytes received */
        uint64_t bad_lines;       /* prometheus, listen: exposition lines skipped as invalid */
        uint64_t clients;         /* listen: clients connected now */
        uint64_t clients_dropped; /* listen: clients disconnected for bad input, or refused over the limit */
        bool up;
        char last_error[256]; /* human-readable, secrets redacted; "" when none */
} SourceStats;

/* Create a source from a copy of config (the Source does not keep the pointer). Fails with -EINVAL for a
 * config it cannot run (no name, missing url/units/path, zero interval, timeout or max_series, invalid or
 * duplicate label names, empty label values, a label named `source` or starting with `__`), -ENOTCONN for
 * a systemd source without a bus or a curl source without CurlGlue, and for listen with the errors of
 * creating the socket (-EEXIST when something other than a socket is at the path, -ENAMETOOLONG,
 * -ENOENT for a missing directory, -EACCES, ...). Nothing runs until source_start(). */
int source_new(
        const SourceDeps *deps, const SourceConfig *config, SourceSampleCallback cb, void *userdata, Source **ret);
/* Start collecting (first collection soon, then every interval). */
int source_start(Source *s);
/* Stops everything in flight; a listen source removes its socket file if it is still its own. */
Source *source_free(Source *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Source *, source_free);

const SourceConfig *source_get_config(const Source *s);
const char *source_get_name(const Source *s);
void source_get_stats(const Source *s, SourceStats *ret);

/* Whether two configurations describe the same source (everything but the location in the file). */
bool source_config_equal(const SourceConfig *a, const SourceConfig *b);

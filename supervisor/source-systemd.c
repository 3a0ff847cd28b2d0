/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The systemd source: per-unit series from the service manager over sd-bus, asynchronously. Each
 * collection lists the units matching the configured globs (ListUnitsByPatterns, which also gives the
 * active state), then reads InvocationID and the cgroup counters of each unit with targeted
 * Properties.Get calls, a bounded number in flight. Samples go out only when every reply is in, so a
 * collection that times out emits nothing but homeostat_source_up 0.
 *
 * Restarts are counted here, by InvocationID changes, because NRestarts goes back to 0 when someone
 * restarts a unit by hand; the per-unit memory of the last InvocationID outlives a unit that disappears for
 * a while (a transient unit being re-created), and is forgotten like stale series.
 */
#include <inttypes.h>
#include <string.h>
#include <systemd/sd-id128.h>

#include "hashmap.h"
#include "source-internal.h"

enum {
        PROP_INVOCATION,
        PROP_MEMORY,
        PROP_CPU,
        PROP_TASKS,
        _PROP_MAX,
};

static const char *const prop_names[_PROP_MAX] = {
        [PROP_INVOCATION] = "InvocationID",
        [PROP_MEMORY] = "MemoryCurrent",
        [PROP_CPU] = "CPUUsageNSec",
        [PROP_TASKS] = "TasksCurrent",
};

/* One unit in the collection in flight. */
typedef struct UnitPoll {
        char *name;
        char *path;
        const char *cgroup_interface; /* NULL for units without a cgroup (targets, timers, ...) */
        bool active;
        bool have[_PROP_MAX];
        uint64_t value[_PROP_MAX];
        sd_id128_t invocation;
} UnitPoll;

typedef struct Call {
        Source *source;
        size_t unit;
        unsigned prop;
        sd_bus_slot *slot;
} Call;

/* What we remember about a unit between collections. */
typedef struct UnitState {
        sd_id128_t invocation;
        uint64_t restarts;
        usec_t last_seen;
        size_t len;
        char name[];
} UnitState;

typedef struct Systemd {
        sd_bus_slot *list_slot;
        UnitPoll *units;
        size_t n_units;
        size_t n_skipped; /* matched beyond SOURCE_SYSTEMD_MAX_UNITS */
        Call *calls;
        size_t n_calls, next_call, in_flight, finished;
        HashMap *states; /* unit name -> UnitState */
} Systemd;

static const char *cgroup_interface(const char *unit) {
        static const struct {
                const char *suffix, *interface;
        } map[] = {
                { ".service", "org.freedesktop.systemd1.Service" },
                { ".scope", "org.freedesktop.systemd1.Scope" },
                { ".slice", "org.freedesktop.systemd1.Slice" },
                { ".socket", "org.freedesktop.systemd1.Socket" },
                { ".mount", "org.freedesktop.systemd1.Mount" },
                { ".swap", "org.freedesktop.systemd1.Swap" },
        };
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (endswith(unit, map[i].suffix))
                        return map[i].interface;
        return NULL;
}

static void poll_reset(Systemd *d) {
        d->list_slot = sd_bus_slot_unref(d->list_slot);
        for (size_t i = 0; i < d->n_calls; i++)
                sd_bus_slot_unref(d->calls[i].slot);
        free(d->calls);
        d->calls = NULL;
        d->n_calls = d->next_call = d->in_flight = d->finished = 0;
        for (size_t i = 0; i < d->n_units; i++) {
                free(d->units[i].name);
                free(d->units[i].path);
        }
        free(d->units);
        d->units = NULL;
        d->n_units = d->n_skipped = 0;
}

static int systemd_init(Source *s) {
        Systemd *d = calloc(1, sizeof(*d));
        int r;

        if (!d)
                return -ENOMEM;
        r = hashmap_new(&d->states);
        if (r < 0) {
                free(d);
                return r;
        }
        s->data = d;
        return 0;
}

static void systemd_cancel(Source *s) {
        poll_reset(s->data);
}

static void systemd_done(Source *s) {
        Systemd *d = s->data;
        size_t i = 0;
        void *v;

        if (!d)
                return;
        poll_reset(d);
        while (hashmap_iterate(d->states, &i, NULL, NULL, &v))
                free(v);
        hashmap_free(d->states);
        free(d);
        s->data = NULL;
}

static usec_t remaining(const Source *s) {
        usec_t end = s->collection_start + s->config.timeout_usec, n = now(CLOCK_MONOTONIC);
        return end > n + USEC_PER_MSEC ? end - n : USEC_PER_MSEC;
}

/* Update the restart count of a unit from the InvocationID just read. */
static UnitState *unit_state_update(Source *s, const UnitPoll *u) {
        Systemd *d = s->data;
        size_t len = strlen(u->name);
        uint64_t h = hash_bytes(u->name, len);
        UnitState *st = hashmap_get(d->states, u->name, len, h);
        bool known = u->have[PROP_INVOCATION] && !sd_id128_is_null(u->invocation);

        if (!st) {
                st = calloc(1, sizeof(UnitState) + len + 1);
                if (!st)
                        return NULL;
                st->len = len;
                memcpy(st->name, u->name, len + 1);
                if (hashmap_put(d->states, st->name, len, h, st) < 0) {
                        free(st);
                        return NULL;
                }
                if (known)
                        st->invocation = u->invocation;
        } else if (known) {
                if (!sd_id128_is_null(st->invocation) && !sd_id128_equal(st->invocation, u->invocation))
                        st->restarts++;
                st->invocation = u->invocation;
        }
        st->last_seen = s->collection_start;
        return st;
}

static void forget_stale_units(Source *s) {
        Systemd *d = s->data;
        usec_t horizon = MAX((usec_t) SOURCE_SERIES_STALE_USEC, 10 * s->config.interval_usec);
        _cleanup_free_ UnitState **stale = NULL;
        size_t n = 0, allocated = 0, i = 0;
        void *v;

        if (s->collection_start <= horizon)
                return;
        while (hashmap_iterate(d->states, &i, NULL, NULL, &v)) {
                UnitState *st = v;
                if (st->last_seen < s->collection_start - horizon) {
                        if (GREEDY_REALLOC(stale, allocated, n + 1) < 0)
                                return;
                        stale[n++] = st;
                }
        }
        for (size_t k = 0; k < n; k++) {
                (void) hashmap_remove(
                        d->states, stale[k]->name, stale[k]->len, hash_bytes(stale[k]->name, stale[k]->len));
                free(stale[k]);
        }
}

static void poll_finish(Source *s) {
        Systemd *d = s->data;
        double t = s->collection_t;

        for (size_t i = 0; i < d->n_units; i++) {
                const UnitPoll *u = &d->units[i];
                const Label l = { "unit", u->name };
                UnitState *st = unit_state_update(s, u);

                (void) source_emit(s, "homeostat_unit_active", &l, 1, SAMPLE_GAUGE, t, u->active ? 1 : 0);
                if (st)
                        (void) source_emit(
                                s, "homeostat_unit_restarts_total", &l, 1, SAMPLE_COUNTER, t, (double) st->restarts);
                /* UINT64_MAX is systemd's "[not set]": no value, not a huge one. */
                if (u->have[PROP_MEMORY] && u->value[PROP_MEMORY] != UINT64_MAX)
                        (void) source_emit(
                                s,
                                "homeostat_unit_memory_bytes",
                                &l,
                                1,
                                SAMPLE_GAUGE,
                                t,
                                (double) u->value[PROP_MEMORY]);
                if (u->have[PROP_CPU] && u->value[PROP_CPU] != UINT64_MAX)
                        (void) source_emit(
                                s,
                                "homeostat_unit_cpu_seconds_total",
                                &l,
                                1,
                                SAMPLE_COUNTER,
                                t,
                                (double) u->value[PROP_CPU] / 1e9);
                if (u->have[PROP_TASKS] && u->value[PROP_TASKS] != UINT64_MAX)
                        (void) source_emit(
                                s, "homeostat_unit_tasks", &l, 1, SAMPLE_GAUGE, t, (double) u->value[PROP_TASKS]);
        }
        forget_stale_units(s);
        if (d->n_skipped > 0)
                source_set_error(
                        s,
                        "%zu matching units beyond the first %u were not polled",
                        d->n_skipped,
                        SOURCE_SYSTEMD_MAX_UNITS);
        else
                s->stats.last_error[0] = 0;
        poll_reset(d);
        source_collection_end(s, 0, NULL);
}

static int issue_calls(Source *s);

static int on_property(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Call *c = userdata;
        Source *s = c->source;
        Systemd *d = s->data;
        UnitPoll *u = &d->units[c->unit];
        int r;

        /* An error reply (the unit vanished since the list, no such property) just leaves a gap. */
        if (!sd_bus_message_is_method_error(m, NULL)) {
                if (c->prop == PROP_INVOCATION) {
                        const void *p;
                        size_t n;
                        r = sd_bus_message_enter_container(m, 'v', "ay");
                        if (r > 0)
                                r = sd_bus_message_read_array(m, 'y', &p, &n);
                        if (r >= 0 && n == sizeof(u->invocation.bytes)) {
                                memcpy(u->invocation.bytes, p, n);
                                u->have[c->prop] = true;
                        } else if (r >= 0 && n == 0) {
                                u->invocation = SD_ID128_NULL;
                                u->have[c->prop] = true;
                        }
                } else {
                        uint64_t v;
                        r = sd_bus_message_read(m, "v", "t", &v);
                        if (r > 0) {
                                u->value[c->prop] = v;
                                u->have[c->prop] = true;
                        }
                }
        }
        c->slot = sd_bus_slot_unref(c->slot);
        d->in_flight--;
        d->finished++;
        if (d->finished == d->n_calls)
                poll_finish(s);
        else {
                r = issue_calls(s);
                if (r < 0) {
                        poll_reset(d);
                        source_collection_end(s, r, "cannot read unit properties: %s", strerror(-r));
                }
        }
        return 0;
}

static int issue_calls(Source *s) {
        Systemd *d = s->data;
        int r;

        while (d->next_call < d->n_calls && d->in_flight < SOURCE_SYSTEMD_CALLS_IN_FLIGHT) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                Call *c = &d->calls[d->next_call];
                const UnitPoll *u = &d->units[c->unit];
                const char *iface = c->prop == PROP_INVOCATION ? "org.freedesktop.systemd1.Unit"
                                                               : u->cgroup_interface;

                r = sd_bus_message_new_method_call(
                        s->bus, &m, "org.freedesktop.systemd1", u->path, "org.freedesktop.DBus.Properties", "Get");
                if (r < 0)
                        return r;
                r = sd_bus_message_append(m, "ss", iface, prop_names[c->prop]);
                if (r < 0)
                        return r;
                r = sd_bus_call_async(s->bus, &c->slot, m, on_property, c, remaining(s));
                if (r < 0)
                        return r;
                d->next_call++;
                d->in_flight++;
        }
        return 0;
}

static int on_list(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Source *s = userdata;
        Systemd *d = s->data;
        const char *name, *desc, *load, *active, *sub, *following, *path, *job_type, *job_path;
        uint32_t job_id;
        size_t allocated = 0;
        int r;

        d->list_slot = sd_bus_slot_unref(d->list_slot);
        if (sd_bus_message_is_method_error(m, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(m);
                source_collection_end(
                        s,
                        -EIO,
                        "ListUnitsByPatterns failed: %s",
                        e && e->message        ? e->message
                                : e && e->name ? e->name
                                               : "unknown error");
                return 0;
        }
        r = sd_bus_message_enter_container(m, 'a', "(ssssssouso)");
        if (r < 0)
                goto bad;
        while ((r = sd_bus_message_read(
                        m,
                        "(ssssssouso)",
                        &name,
                        &desc,
                        &load,
                        &active,
                        &sub,
                        &following,
                        &path,
                        &job_id,
                        &job_type,
                        &job_path)) > 0) {
                if (d->n_units >= SOURCE_SYSTEMD_MAX_UNITS) {
                        d->n_skipped++;
                        continue;
                }
                if (GREEDY_REALLOC(d->units, allocated, d->n_units + 1) < 0) {
                        r = -ENOMEM;
                        goto bad;
                }
                UnitPoll *u = &d->units[d->n_units];
                *u = (UnitPoll){
                        .name = strdup(name),
                        .path = strdup(path),
                        .cgroup_interface = cgroup_interface(name),
                        .active = streq(active, "active"),
                };
                d->n_units++;
                if (!u->name || !u->path) {
                        r = -ENOMEM;
                        goto bad;
                }
        }
        if (r < 0)
                goto bad;

        d->calls = calloc(d->n_units * _PROP_MAX + 1, sizeof(Call));
        if (!d->calls) {
                r = -ENOMEM;
                goto bad;
        }
        for (size_t i = 0; i < d->n_units; i++)
                for (unsigned p = 0; p < _PROP_MAX; p++)
                        if (p == PROP_INVOCATION || d->units[i].cgroup_interface)
                                d->calls[d->n_calls++] = (Call){ .source = s, .unit = i, .prop = p };
        if (d->n_calls == 0) {
                poll_finish(s); /* nothing matched: a successful collection without unit samples */
                return 0;
        }
        r = issue_calls(s);
        if (r < 0) {
                poll_reset(d);
                source_collection_end(s, r, "cannot read unit properties: %s", strerror(-r));
        }
        return 0;

bad:
        poll_reset(d);
        source_collection_end(s, r, "cannot parse the unit list: %s", strerror(-r));
        return 0;
}

static int systemd_collect(Source *s) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        Systemd *d = s->data;
        int r;

        poll_reset(d);
        r = sd_bus_message_new_method_call(
                s->bus,
                &m,
                "org.freedesktop.systemd1",
                "/org/freedesktop/systemd1",
                "org.freedesktop.systemd1.Manager",
                "ListUnitsByPatterns");
        if (r >= 0)
                r = sd_bus_message_append_strv(m, (char *[]){ NULL });
        if (r >= 0)
                r = sd_bus_message_append_strv(m, s->config.units);
        if (r >= 0)
                r = sd_bus_call_async(s->bus, &d->list_slot, m, on_list, s, s->config.timeout_usec);
        if (r < 0) {
                source_set_error(s, "cannot call ListUnitsByPatterns: %s", strerror(-r));
                return r;
        }
        return 0;
}

const SourceVTable source_systemd_vtable = {
        .init = systemd_init,
        .done = systemd_done,
        .collect = systemd_collect,
        .cancel = systemd_cancel,
        .deadline_slack_usec = 0,
};

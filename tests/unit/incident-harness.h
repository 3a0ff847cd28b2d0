/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A small harness for driving the pure incident engine in tests: hand-built rules and steps, a fake
 * clock that moves both realtime and monotonic time, evaluator rows, and helpers to find effects and check
 * an incident's timeline. Header-only (static functions) so that each test program stays one file.
 */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "incident-engine.h"
#include "incident-json.h"
#include "util.h"

#define H_WALL0 (1700000000ULL * USEC_PER_SEC)
#define H_MONO0 (1000ULL * USEC_PER_SEC)
#define H_MAX_RULES 4
#define H_MAX_STEPS 4

typedef struct Harness {
        Config config;
        Rule rules[H_MAX_RULES];
        Step steps[H_MAX_RULES][H_MAX_STEPS];
        IncidentEngine *engine;
        IncidentEngineOptions opts;
        IncidentNow now;
        Effects fx;  /* effects of the last call */
        Effects all; /* every effect since the start */
        uint64_t next_id;
        Label labels[2];
        size_t n_labels;
} Harness;

static inline Guard h_default_guard(void) {
        return (Guard){
                .cooldown_usec = 10 * USEC_PER_MINUTE,
                .max_actions = 3,
                .per_usec = USEC_PER_HOUR,
                .breaker_after = 3,
                .breaker_window_usec = 6 * USEC_PER_HOUR,
        };
}

static inline Step h_restart(const char *unit) {
        return (Step){
                .action = ACTION_RESTART,
                .verify_usec = USEC_PER_MINUTE,
                .settle_usec = 5 * USEC_PER_SEC,
                .unit = { .text = (char *) unit, .templated = strstr(unit, "${") != NULL },
                .weight = -1,
        };
}

static inline Step h_drain(const char *server) {
        return (Step){
                .action = ACTION_HAPROXY,
                .verify_usec = USEC_PER_MINUTE,
                .settle_usec = 5 * USEC_PER_SEC,
                .socket = (char *) "/run/haproxy/admin.sock",
                .server = { .text = (char *) server },
                .haproxy_state = HAPROXY_STATE_DRAIN,
                .weight = -1,
                .max_hold_usec = USEC_PER_HOUR,
        };
}

/* Define rule k with n steps. */
static inline Rule *h_rule(Harness *h, size_t k, const char *name, const Step *steps, size_t n) {
        Rule *r = &h->rules[k];

        *r = (Rule){
                .name = (char *) name,
                .for_usec = USEC_PER_MINUTE,
                .recover_for_usec = 0,
                .reopen_within_usec = 10 * USEC_PER_MINUTE,
                .guard = h_default_guard(),
                .grace_usec = 2 * USEC_PER_MINUTE,
                .mode = RULE_MODE_REMEDIATE,
                .steps = h->steps[k],
                .n_steps = n,
        };
        for (size_t s = 0; s < n; s++)
                h->steps[k][s] = steps[s];
        if (h->config.n_rules < k + 1)
                h->config.n_rules = k + 1;
        return r;
}

/* ${labels.NAME} expansion and the targets: allow-list, enough for tests of the engine. */
static inline char *h_expand(const char *text, const Incident *i) {
        const char *p = strstr(text, "${labels.");
        if (!p)
                return strdup(text);
        const char *end = strchr(p, '}');
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int) (end - p - 9), p + 9);
        const char *v = incident_label(i, name);
        if (!v)
                return NULL;
        char *out = NULL;
        assert_true(asprintf(&out, "%.*s%s%s", (int) (p - text), text, v, end + 1) >= 0);
        return out;
}

static int h_step_target(
        void *userdata,
        const Rule *rule,
        const Step *step,
        const Incident *i,
        IncidentTarget *ret,
        char **ret_reason) {
        IncidentTarget t = {};
        char *x;

        switch (step->action) {
        case ACTION_HAPROXY:
                x = h_expand(step->server.text, i);
                assert_non_null(x);
                assert_true(asprintf(&t.key, "haproxy:%s:%s", step->socket, x) >= 0);
                t.display = x;
                break;
        case ACTION_EXEC:
                assert_true(asprintf(&t.key, "exec:%s", step->unit.text) >= 0);
                t.display = strdup(step->unit.text);
                break;
        default:
                x = h_expand(step->unit.text, i);
                if (!x) {
                        *ret_reason = strdup("label missing");
                        return -EINVAL;
                }
                if (step->unit.templated) {
                        bool ok = false;
                        for (size_t k = 0; k < step->n_targets; k++)
                                ok = ok || glob_match(step->targets[k], x);
                        if (!ok) {
                                assert_true(asprintf(ret_reason, "%s is not in the step's targets", x) >= 0);
                                free(x);
                                return -EPERM;
                        }
                }
                assert_true(asprintf(&t.key, "unit:%s", x) >= 0);
                t.display = strdup(x);
                t.unit = x;
                break;
        }
        *ret = t;
        return 0;
}

static inline int h_new_id(void *userdata, Id128 *ret) {
        Harness *h = userdata;
        Id128 id = {};
        uint64_t n = ++h->next_id;

        for (int k = 0; k < 8; k++)
                id.bytes[15 - k] = (uint8_t) (n >> (8 * k));
        id.bytes[0] = 0xab;
        *ret = id;
        return 0;
}

static inline void h_collect(Harness *h) {
        for (size_t k = 0; k < h->fx.n; k++) {
                if (h->all.n >= h->all.allocated) {
                        h->all.allocated = h->all.allocated ? h->all.allocated * 2 : 64;
                        h->all.items = reallocarray(h->all.items, h->all.allocated, sizeof(Effect));
                        assert_non_null(h->all.items);
                }
                h->all.items[h->all.n++] = h->fx.items[k];
        }
}

static inline void h_start(Harness *h, bool dry_run) {
        h->config.rules = h->rules;
        h->now = (IncidentNow){ H_WALL0, H_MONO0 };
        h->opts = (IncidentEngineOptions){
                .host = "testhost",
                .dry_run = dry_run,
                .new_id = h_new_id,
                .step_target = h_step_target,
                .userdata = h,
        };
        assert_int_equal(incident_engine_new(&h->opts, &h->engine), 0);
        effects_clear(&h->fx);
        assert_int_equal(incident_engine_set_config(h->engine, &h->config, h->now, &h->fx), 0);
        h_collect(h);
}

static inline void h_stop(Harness *h) {
        assert_int_equal(incident_engine_impossible_count(h->engine), 0);
        incident_engine_free(h->engine);
        effects_done(&h->fx);
        effects_done(&h->all);
}

static inline void h_advance(Harness *h, usec_t d) {
        h->now.wall += d;
        h->now.mono += d;
}

static inline double h_t(const Harness *h) {
        return (double) h->now.wall / (double) USEC_PER_SEC;
}

/* An evaluator row for rule k and the harness labels (series api{unit=...}). */
static void
        h_row(Harness *h,
              size_t k,
              const char *series,
              EvalTransition tr,
              bool firing,
              double value,
              double detected_at,
              double resolved_at) {
        EvalRow row = {
                .rule = &h->rules[k],
                .rule_index = k,
                .series_key = series,
                .metric = "http_request_duration_seconds",
                .labels = h->labels,
                .n_labels = h->n_labels,
                .t = h_t(h),
                .value = value,
                .x = value,
                .verdict = { .expected = 0.15, .lower = 0.11, .upper = 0.19, .anomalous = firing },
                .firing = firing,
                .transition = tr,
                .detected_at = detected_at,
                .resolved_at = resolved_at,
        };
        effects_clear(&h->fx);
        assert_int_equal(incident_engine_eval(h->engine, &row, h->now, &h->fx), 0);
        h_collect(h);
}

static inline void h_timers(Harness *h) {
        effects_clear(&h->fx);
        assert_int_equal(incident_engine_run_timers(h->engine, h->now, &h->fx), 0);
        h_collect(h);
}

/* Advance to the engine's next wake-up (which must exist and lie within max) and run timers. */
static inline void h_wake(Harness *h, usec_t max) {
        usec_t w = incident_engine_next_wakeup(h->engine);
        assert_true(w != USEC_INFINITY);
        assert_true(w <= h->now.mono || w - h->now.mono <= max);
        if (w > h->now.mono)
                h_advance(h, w - h->now.mono);
        h_timers(h);
}

static inline size_t h_count(const Effects *fx, EffectKind kind) {
        size_t n = 0;
        for (size_t k = 0; k < fx->n; k++)
                n += fx->items[k].kind == kind;
        return n;
}

static inline const Effect *h_find(const Effects *fx, EffectKind kind) {
        for (size_t k = 0; k < fx->n; k++)
                if (fx->items[k].kind == kind)
                        return &fx->items[k];
        return NULL;
}

static inline Incident *h_incident(Harness *h, size_t index) {
        size_t n;
        Incident *const *list = incident_engine_incidents(h->engine, &n);
        assert_true(index < n);
        return list[index];
}

static inline size_t h_n_incidents(Harness *h) {
        size_t n;
        (void) incident_engine_incidents(h->engine, &n);
        return n;
}

static inline UnitSnapshot h_unit(const char *inv, const char *state, usec_t active_enter_mono) {
        UnitSnapshot u = {};
        snprintf(u.invocation_id, sizeof(u.invocation_id), "%s", inv);
        snprintf(u.active_state, sizeof(u.active_state), "%s", state);
        snprintf(u.result, sizeof(u.result), "success");
        u.active_enter_mono = active_enter_mono;
        return u;
}

#define INV_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define INV_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define INV_C "cccccccccccccccccccccccccccccccc"

/* Answer the pending preflight of incident i with a healthy, long-running unit. */
static inline void h_preflight(Harness *h, Incident *i, const UnitSnapshot *u) {
        const Effect *e = NULL;
        for (size_t k = h->all.n; k > 0 && !e; k--)
                if (h->all.items[k - 1].kind == EFFECT_PREFLIGHT &&
                    id128_equal(&h->all.items[k - 1].incident, &i->id))
                        e = &h->all.items[k - 1];
        assert_non_null(e);
        uint64_t id = e->action_id;
        effects_clear(&h->fx);
        assert_int_equal(
                incident_engine_preflight_result(
                        h->engine, &i->id, id, u, u ? NULL : "no such unit", h->now, &h->fx),
                0);
        h_collect(h);
}

static inline void h_preflight_ok(Harness *h, Incident *i) {
        UnitSnapshot u = h_unit(INV_A, "active", 1);
        h_preflight(h, i, &u);
}

static inline void h_result(Harness *h, Incident *i, StepOutcome outcome, const char *inv_after, json_t *undo) {
        assert_int_equal(i->action.phase, ACTION_PHASE_EXECUTING);
        StepResult res = {
                .outcome = outcome,
                .message = outcome == STEP_SUCCEEDED ? "job done" : "job failed",
                .invocation_id_after = inv_after,
                .undo = undo,
        };
        effects_clear(&h->fx);
        assert_int_equal(
                incident_engine_action_result(h->engine, &i->id, i->action.id, &res, h->now, &h->fx), 0);
        h_collect(h);
}

/* The timeline's kinds, space-separated, for compact asserts. */
static inline char *h_kinds(const Incident *i) {
        static char buf[4096];
        size_t off = 0;
        buf[0] = 0;
        for (size_t k = 0; k < i->n_events; k++)
                off += (size_t) snprintf(
                        buf + off,
                        sizeof(buf) - off,
                        "%s%s",
                        k ? " " : "",
                        incident_event_kind_to_string(i->events[k].kind));
        return buf;
}

static inline const TimelineEvent *h_last(const Incident *i, IncidentEventKind kind) {
        for (size_t k = i->n_events; k > 0; k--)
                if (i->events[k - 1].kind == kind)
                        return &i->events[k - 1];
        return NULL;
}

static inline const char *h_attr(const TimelineEvent *e, const char *key) {
        return json_string_value(json_object_get(e->attrs, key));
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * JSON forms of incidents (public and state) and the strict readers used by every state file of the
 * incident machinery. See incident-json.h.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "incident-json.h"
#include "strbuf.h"

/* ---- strict readers ---- */

int json_read_error(char **error, const char *where, const char *fmt, ...) {
        if (error && !*error) {
                _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
                va_list ap;

                strbuf_printf(&b, "%s: ", where);
                va_start(ap, fmt);
                strbuf_vprintf(&b, fmt, ap);
                va_end(ap);
                if (!strbuf_failed(&b))
                        *error = strbuf_steal(&b);
        }
        return -EBADMSG;
}

int json_read_keys(json_t *obj, const char *where, const char *const *allowed, char **error) {
        const char *key;
        json_t *v;

        if (!json_is_object(obj))
                return json_read_error(error, where, "expected an object");
        json_object_foreach(obj, key, v) {
                bool ok = false;
                for (const char *const *a = allowed; *a; a++)
                        if (streq(*a, key)) {
                                ok = true;
                                break;
                        }
                if (!ok)
                        return json_read_error(error, where, "unknown key '%s'", key);
        }
        return 0;
}

static json_t *get(json_t *obj, const char *key) {
        json_t *v = json_object_get(obj, key);
        return json_is_null(v) ? NULL : v;
}

int json_read_string(
        json_t *obj, const char *key, bool required, const char *where, const char **ret, char **error) {
        json_t *v = get(obj, key);

        if (!v) {
                if (required)
                        return json_read_error(error, where, "missing '%s'", key);
                *ret = NULL;
                return 0;
        }
        if (!json_is_string(v))
                return json_read_error(error, where, "'%s' must be a string", key);
        if (strlen(json_string_value(v)) != json_string_length(v))
                return json_read_error(error, where, "'%s' contains a NUL byte", key);
        *ret = json_string_value(v);
        return 0;
}

int json_read_u64(json_t *obj, const char *key, bool required, const char *where, uint64_t *ret, char **error) {
        json_t *v = get(obj, key);

        if (!v) {
                if (required)
                        return json_read_error(error, where, "missing '%s'", key);
                *ret = 0;
                return 0;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 0)
                return json_read_error(error, where, "'%s' must be a non-negative integer", key);
        *ret = (uint64_t) json_integer_value(v);
        return 0;
}

int json_read_unsigned(
        json_t *obj, const char *key, bool required, const char *where, unsigned *ret, char **error) {
        uint64_t u;
        int r = json_read_u64(obj, key, required, where, &u, error);
        if (r < 0)
                return r;
        if (u > UINT32_MAX)
                return json_read_error(error, where, "'%s' is too large", key);
        *ret = (unsigned) u;
        return 0;
}

int json_read_bool(json_t *obj, const char *key, bool required, const char *where, bool *ret, char **error) {
        json_t *v = get(obj, key);

        if (!v) {
                if (required)
                        return json_read_error(error, where, "missing '%s'", key);
                *ret = false;
                return 0;
        }
        if (!json_is_boolean(v))
                return json_read_error(error, where, "'%s' must be true or false", key);
        *ret = json_is_true(v);
        return 0;
}

int json_read_double(json_t *obj, const char *key, const char *where, double *ret, char **error) {
        json_t *v = get(obj, key);

        if (!v) {
                *ret = NAN;
                return 0;
        }
        if (!json_is_number(v))
                return json_read_error(error, where, "'%s' must be a number or null", key);
        *ret = json_number_value(v);
        return 0;
}

int json_read_id128(json_t *obj, const char *key, bool required, const char *where, Id128 *ret, char **error) {
        const char *s;
        int r = json_read_string(obj, key, required, where, &s, error);
        if (r < 0)
                return r;
        if (!s) {
                *ret = (Id128){};
                return 0;
        }
        if (id128_from_string(s, ret) < 0)
                return json_read_error(error, where, "'%s' must be 32 hexadecimal digits", key);
        return 0;
}

int json_read_usec_array(
        json_t *obj, const char *key, const char *where, usec_t **ret, size_t *ret_n, char **error) {
        json_t *a = get(obj, key), *v;
        _cleanup_free_ usec_t *out = NULL;
        size_t i;

        *ret = NULL;
        *ret_n = 0;
        if (!a)
                return 0;
        if (!json_is_array(a))
                return json_read_error(error, where, "'%s' must be an array", key);
        if (json_array_size(a) == 0)
                return 0;
        out = calloc(json_array_size(a), sizeof(usec_t));
        if (!out)
                return -ENOMEM;
        json_array_foreach(a, i, v) {
                if (!json_is_integer(v) || json_integer_value(v) <= 0)
                        return json_read_error(error, where, "'%s' must hold positive integers", key);
                out[i] = (usec_t) json_integer_value(v);
        }
        *ret_n = json_array_size(a);
        *ret = TAKE_PTR(out);
        return 0;
}

json_t *json_number_or_null(double v) {
        return isfinite(v) ? json_real(v) : json_null();
}

/* ---- public form ---- */

json_t *json_timestamp(usec_t wall) {
        char buf[TIMESTAMP_MAX];

        if (wall == 0)
                return json_null();
        return json_string(format_timestamp(buf, sizeof(buf), wall));
}

json_t *incident_event_to_json(const TimelineEvent *e) {
        return json_pack(
                "{s:I, s:o, s:s, s:s, s:O}",
                "seq",
                (json_int_t) e->seq,
                "at",
                json_timestamp(e->at),
                "kind",
                incident_event_kind_to_string(e->kind),
                "message",
                e->message,
                "attrs",
                e->attrs);
}

json_t *incident_to_json(const Incident *i, const char *host, bool with_events) {
        _cleanup_(json_decrefp) json_t *j = NULL;
        char id[ID128_STRING_MAX];
        usec_t mttr = incident_mttr(i);

        j = json_pack(
                "{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o}",
                "id",
                id128_to_string(&i->id, id),
                "rule",
                i->rule_name,
                "series",
                i->series_key,
                "host",
                host ?: "",
                "state",
                incident_state_to_string(i->state),
                "detected_at",
                json_timestamp(i->detected_at),
                "resolved_at",
                json_timestamp(i->state == INCIDENT_RESOLVED ? i->resolved_at : 0),
                "mttr_seconds",
                mttr == USEC_INFINITY ? json_null() : json_real((double) mttr / (double) USEC_PER_SEC));
        if (!j)
                return NULL;
        if (with_events) {
                json_t *events = json_array();
                if (!events || json_object_set_new(j, "events", events) < 0)
                        return NULL;
                for (size_t k = 0; k < i->n_events; k++)
                        if (json_array_append_new(events, incident_event_to_json(&i->events[k])) < 0)
                                return NULL;
        }
        return TAKE_PTR(j);
}

json_t *incident_event_payload(const Incident *i, const char *host, const TimelineEvent *e) {
        return json_pack(
                "{s:i, s:o, s:o}",
                "version",
                1,
                "incident",
                incident_to_json(i, host, false),
                "event",
                incident_event_to_json(e));
}

/* ---- state form ---- */

static json_t *json_usec(usec_t t) {
        return t == 0 ? json_null() : json_integer((json_int_t) t);
}

static json_t *mono_json(IncidentNow now, usec_t mono) {
        return json_usec(incident_mono_to_wall(now, mono));
}

static json_t *target_to_json(const IncidentTarget *t) {
        return json_pack("{s:s?, s:s?, s:s?}", "key", t->key, "display", t->display, "unit", t->unit);
}

json_t *incident_to_state_json(const Incident *i, IncidentNow now) {
        _cleanup_(json_decrefp) json_t *j = NULL, *labels = NULL, *obligations = NULL, *events = NULL,
                                       *action = NULL;
        char id[ID128_STRING_MAX], sid[ID128_STRING_MAX];

        labels = json_object();
        obligations = json_array();
        events = json_array();
        if (!labels || !obligations || !events)
                return NULL;
        for (size_t k = 0; k < i->n_labels; k++)
                if (json_object_set_new(labels, i->labels[k].name, json_string(i->labels[k].value)) < 0)
                        return NULL;

        if (i->action.phase != ACTION_PHASE_NONE) {
                const PendingAction *a = &i->action;
                action = json_pack(
                        "{s:I, s:s, s:I, s:s, s:o, s:s, s:o, s:I, s:I, s:I, s:b, s:I}",
                        "id",
                        (json_int_t) a->id,
                        "phase",
                        action_phase_to_string(a->phase),
                        "step",
                        (json_int_t) a->step,
                        "action",
                        incident_action_name(a->action),
                        "target",
                        target_to_json(&a->target),
                        "invocation_id_before",
                        a->invocation_id_before,
                        "started",
                        mono_json(now, a->started_mono),
                        "settle_usec",
                        (json_int_t) a->settle_usec,
                        "verify_usec",
                        (json_int_t) a->verify_usec,
                        "max_hold_usec",
                        (json_int_t) a->max_hold_usec,
                        "undoable",
                        a->undoable,
                        "interruptions",
                        (json_int_t) a->interruptions);
                if (!action)
                        return NULL;
        }

        for (size_t k = 0; k < i->n_obligations; k++) {
                const Obligation *o = &i->obligations[k];
                if (json_array_append_new(
                            obligations,
                            json_pack(
                                    "{s:I, s:I, s:s, s:o, s:O, s:s, s:o, s:I, s:I, s:I, s:o, s:b}",
                                    "id",
                                    (json_int_t) o->id,
                                    "step",
                                    (json_int_t) o->step,
                                    "action",
                                    incident_action_name(o->action),
                                    "target",
                                    target_to_json(&o->target),
                                    "undo",
                                    o->undo ?: json_null(),
                                    "state",
                                    obligation_state_to_string(o->state),
                                    "held_since",
                                    mono_json(now, o->held_since_mono),
                                    "max_hold_usec",
                                    (json_int_t) o->max_hold_usec,
                                    "undo_id",
                                    (json_int_t) o->undo_id,
                                    "attempts",
                                    (json_int_t) o->attempts,
                                    "retry",
                                    mono_json(now, o->retry_mono),
                                    "hold_expired",
                                    o->hold_expired)) < 0)
                        return NULL;
        }

        for (size_t k = 0; k < i->n_events; k++) {
                const TimelineEvent *e = &i->events[k];
                if (json_array_append_new(
                            events,
                            json_pack(
                                    "{s:I, s:I, s:s, s:s, s:O}",
                                    "seq",
                                    (json_int_t) e->seq,
                                    "at",
                                    (json_int_t) e->at,
                                    "kind",
                                    incident_event_kind_to_string(e->kind),
                                    "message",
                                    e->message,
                                    "attrs",
                                    e->attrs)) < 0)
                        return NULL;
        }

        j = json_pack(
                "{s:s, s:s, s:s, s:s, s:O, s:s, s:o, s:o, s:o, s:I, s:I, s:b, s:b, s:b}",
                "id",
                id128_to_string(&i->id, id),
                "rule",
                i->rule_name,
                "series",
                i->series_key,
                "metric",
                i->metric,
                "labels",
                labels,
                "state",
                incident_state_to_string(i->state),
                "detected_at",
                json_usec(i->detected_at),
                "resolved_at",
                json_usec(i->resolved_at),
                "resolved_mono",
                mono_json(now, i->resolved_mono),
                "round",
                (json_int_t) i->round,
                "step",
                (json_int_t) i->step,
                "acted",
                i->acted,
                "simulated",
                i->simulated,
                "orphaned",
                i->orphaned);
        if (!j)
                return NULL;
        json_t *rest = json_pack(
                "{s:O, s:o, s:o, s:o, s:s, s:I, s:b, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:o, "
                "s:O, s:I, s:O, s:I, s:I}",
                "action",
                action ?: json_null(),
                "settle",
                mono_json(now, i->settle_mono),
                "verify",
                mono_json(now, i->verify_mono),
                "retry",
                mono_json(now, i->retry_mono),
                "last_skip",
                skip_reason_to_string(i->last_skip),
                "last_skip_step",
                (json_int_t) i->last_skip_step,
                "series_firing",
                i->series_firing,
                "recovered_at",
                json_usec(i->recovered_at),
                "normal_since",
                json_usec(i->normal_since),
                "value",
                json_number_or_null(i->value),
                "expected",
                json_number_or_null(i->expected),
                "lower",
                json_number_or_null(i->lower),
                "upper",
                json_number_or_null(i->upper),
                "detected_value",
                json_number_or_null(i->detected_value),
                "detected_expected",
                json_number_or_null(i->detected_expected),
                "detected_lower",
                json_number_or_null(i->detected_lower),
                "detected_upper",
                json_number_or_null(i->detected_upper),
                "silenced",
                i->silenced,
                "silence_id",
                id128_is_null(&i->silence_id) ? json_null()
                                              : json_string(id128_to_string(&i->silence_id, sid)),
                "obligations",
                obligations,
                "next_obligation_id",
                (json_int_t) i->next_obligation_id,
                "events",
                events,
                "next_seq",
                (json_int_t) i->next_seq,
                "events_dropped",
                (json_int_t) i->events_dropped);
        if (!rest || json_object_update(j, rest) < 0) {
                json_decref(rest);
                return NULL;
        }
        json_decref(rest);
        return TAKE_PTR(j);
}

static int action_from_name(const char *s, ActionKind *ret) {
        for (int k = 0; s && k < _ACTION_KIND_MAX; k++)
                if (streq(s, incident_action_name((ActionKind) k))) {
                        *ret = (ActionKind) k;
                        return 0;
                }
        return -EINVAL;
}

/* Times read back from the state file: realtime microseconds, converted to the engine's monotonic clock. */
static int read_mono(json_t *obj, const char *key, const char *where, IncidentNow now, usec_t *ret, char **error) {
        uint64_t t;
        int r = json_read_u64(obj, key, false, where, &t, error);
        if (r < 0)
                return r;
        *ret = incident_wall_to_mono(now, t);
        return 0;
}

#define STATE_STRING_MAX 65536u
#define STATE_LABELS_MAX 256u

static int read_target(json_t *obj, const char *where, bool key_required, IncidentTarget *ret, char **error) {
        static const char *const keys[] = { "key", "display", "unit", NULL };
        const char *key, *display, *unit;
        int r;

        if (!json_is_object(obj))
                return json_read_error(error, where, "'target' must be an object");
        if ((r = json_read_keys(obj, where, keys, error)) < 0 ||
            (r = json_read_string(obj, "key", key_required, where, &key, error)) < 0 ||
            (r = json_read_string(obj, "display", key_required, where, &display, error)) < 0 ||
            (r = json_read_string(obj, "unit", false, where, &unit, error)) < 0)
                return r;
        IncidentTarget t = {
                .key = (char *) key,
                .display = (char *) display,
                .unit = (char *) unit,
        };
        return incident_target_copy(&t, ret);
}

static int read_action(json_t *a, IncidentNow now, PendingAction *ret, char **error) {
        static const char *const keys[] = {
                "id",      "phase",       "step",        "action",        "target",   "invocation_id_before",
                "started", "settle_usec", "verify_usec", "max_hold_usec", "undoable", "interruptions",
                NULL
        };
        static const char *const where = "action";
        const char *phase, *action, *inv;
        PendingAction p = {};
        int r;

        if ((r = json_read_keys(a, where, keys, error)) < 0 ||
            (r = json_read_u64(a, "id", true, where, &p.id, error)) < 0 ||
            (r = json_read_string(a, "phase", true, where, &phase, error)) < 0 ||
            (r = json_read_unsigned(a, "step", true, where, &p.step, error)) < 0 ||
            (r = json_read_string(a, "action", true, where, &action, error)) < 0 ||
            (r = json_read_string(a, "invocation_id_before", true, where, &inv, error)) < 0 ||
            (r = read_mono(a, "started", where, now, &p.started_mono, error)) < 0 ||
            (r = json_read_u64(a, "settle_usec", true, where, &p.settle_usec, error)) < 0 ||
            (r = json_read_u64(a, "verify_usec", true, where, &p.verify_usec, error)) < 0 ||
            (r = json_read_u64(a, "max_hold_usec", true, where, &p.max_hold_usec, error)) < 0 ||
            (r = json_read_bool(a, "undoable", true, where, &p.undoable, error)) < 0 ||
            (r = json_read_unsigned(a, "interruptions", true, where, &p.interruptions, error)) < 0)
                return r;
        p.phase = action_phase_from_string(phase);
        if (p.phase <= ACTION_PHASE_NONE)
                return json_read_error(error, where, "unknown phase '%s'", phase);
        if (action_from_name(action, &p.action) < 0)
                return json_read_error(error, where, "unknown action '%s'", action);
        if (p.id == 0)
                return json_read_error(error, where, "'id' must be positive");
        if (!streq(inv, "")) {
                Id128 check;
                if (id128_from_string(inv, &check) < 0)
                        return json_read_error(
                                error, where, "'invocation_id_before' must be 32 hex digits or empty");
        }
        snprintf(p.invocation_id_before, sizeof(p.invocation_id_before), "%s", inv);
        if ((r = read_target(json_object_get(a, "target"), "action.target", true, &p.target, error)) < 0)
                return r;
        *ret = p;
        return 0;
}

static int read_obligation(json_t *o, size_t index, IncidentNow now, Obligation *ret, char **error) {
        static const char *const keys[] = { "id",      "step",     "action",     "target",
                                            "undo",    "state",    "held_since", "max_hold_usec",
                                            "undo_id", "attempts", "retry",      "hold_expired",
                                            NULL };
        char where[64];
        const char *action, *state;
        Obligation b = {};
        int r;

        snprintf(where, sizeof(where), "obligations[%zu]", index);
        if ((r = json_read_keys(o, where, keys, error)) < 0 ||
            (r = json_read_u64(o, "id", true, where, &b.id, error)) < 0 ||
            (r = json_read_unsigned(o, "step", true, where, &b.step, error)) < 0 ||
            (r = json_read_string(o, "action", true, where, &action, error)) < 0 ||
            (r = json_read_string(o, "state", true, where, &state, error)) < 0 ||
            (r = read_mono(o, "held_since", where, now, &b.held_since_mono, error)) < 0 ||
            (r = json_read_u64(o, "max_hold_usec", true, where, &b.max_hold_usec, error)) < 0 ||
            (r = json_read_u64(o, "undo_id", true, where, &b.undo_id, error)) < 0 ||
            (r = json_read_unsigned(o, "attempts", true, where, &b.attempts, error)) < 0 ||
            (r = read_mono(o, "retry", where, now, &b.retry_mono, error)) < 0 ||
            (r = json_read_bool(o, "hold_expired", true, where, &b.hold_expired, error)) < 0)
                return r;
        if (b.id == 0)
                return json_read_error(error, where, "'id' must be positive");
        if (action_from_name(action, &b.action) < 0)
                return json_read_error(error, where, "unknown action '%s'", action);
        b.state = obligation_state_from_string(state);
        if (b.state < 0)
                return json_read_error(error, where, "unknown state '%s'", state);
        json_t *undo = json_object_get(o, "undo");
        if (!undo)
                return json_read_error(error, where, "missing 'undo'");
        if ((r = read_target(json_object_get(o, "target"), where, true, &b.target, error)) < 0)
                return r;
        b.undo = json_incref(undo);
        *ret = b;
        return 0;
}

static int read_event(json_t *e, size_t index, TimelineEvent *ret, char **error) {
        static const char *const keys[] = { "seq", "at", "kind", "message", "attrs", NULL };
        char where[64];
        const char *kind, *message;
        TimelineEvent t = {};
        int r;

        snprintf(where, sizeof(where), "events[%zu]", index);
        if ((r = json_read_keys(e, where, keys, error)) < 0 ||
            (r = json_read_u64(e, "seq", true, where, &t.seq, error)) < 0 ||
            (r = json_read_u64(e, "at", true, where, &t.at, error)) < 0 ||
            (r = json_read_string(e, "kind", true, where, &kind, error)) < 0 ||
            (r = json_read_string(e, "message", true, where, &message, error)) < 0)
                return r;
        t.kind = incident_event_kind_from_string(kind);
        if (t.kind < 0)
                return json_read_error(error, where, "unknown event kind '%s'", kind);
        if (strlen(message) > STATE_STRING_MAX)
                return json_read_error(error, where, "message too long");
        json_t *attrs = json_object_get(e, "attrs");
        if (!json_is_object(attrs))
                return json_read_error(error, where, "'attrs' must be an object");
        t.message = strdup(message);
        if (!t.message)
                return -ENOMEM;
        t.attrs = json_incref(attrs);
        *ret = t;
        return 0;
}

static int label_cmp(const void *a, const void *b) {
        return strcmp(((const Label *) a)->name, ((const Label *) b)->name);
}

int incident_from_state_json(json_t *j, IncidentNow now, Incident **ret, char **ret_error) {
        static const char *const keys[] = { "id",
                                            "rule",
                                            "series",
                                            "metric",
                                            "labels",
                                            "state",
                                            "detected_at",
                                            "resolved_at",
                                            "resolved_mono",
                                            "round",
                                            "step",
                                            "acted",
                                            "simulated",
                                            "orphaned",
                                            "action",
                                            "settle",
                                            "verify",
                                            "retry",
                                            "last_skip",
                                            "last_skip_step",
                                            "series_firing",
                                            "recovered_at",
                                            "normal_since",
                                            "value",
                                            "expected",
                                            "lower",
                                            "upper",
                                            "detected_value",
                                            "detected_expected",
                                            "detected_lower",
                                            "detected_upper",
                                            "silenced",
                                            "silence_id",
                                            "obligations",
                                            "next_obligation_id",
                                            "events",
                                            "next_seq",
                                            "events_dropped",
                                            NULL };
        _cleanup_(incident_freep) Incident *i = NULL;
        _cleanup_free_ Label *labels = NULL;
        const char *rule, *series, *metric, *state, *last_skip, *key;
        json_t *v, *lj, *arr;
        Id128 id;
        size_t n_labels = 0, k;
        char where[96] = "incident";
        int r;

        if ((r = json_read_keys(j, where, keys, ret_error)) < 0 ||
            (r = json_read_id128(j, "id", true, where, &id, ret_error)) < 0)
                return r;
        {
                char idbuf[ID128_STRING_MAX];
                snprintf(where, sizeof(where), "incident %s", id128_to_string(&id, idbuf));
        }
        if ((r = json_read_string(j, "rule", true, where, &rule, ret_error)) < 0 ||
            (r = json_read_string(j, "series", true, where, &series, ret_error)) < 0 ||
            (r = json_read_string(j, "metric", true, where, &metric, ret_error)) < 0 ||
            (r = json_read_string(j, "state", true, where, &state, ret_error)) < 0)
                return r;
        if (strlen(rule) == 0 || strlen(rule) > STATE_STRING_MAX || strlen(series) == 0 ||
            strlen(series) > STATE_STRING_MAX || strlen(metric) > STATE_STRING_MAX)
                return json_read_error(ret_error, where, "rule, series or metric empty or too long");

        lj = json_object_get(j, "labels");
        if (!json_is_object(lj))
                return json_read_error(ret_error, where, "'labels' must be an object");
        if (json_object_size(lj) > STATE_LABELS_MAX)
                return json_read_error(ret_error, where, "too many labels");
        if (json_object_size(lj) > 0) {
                labels = calloc(json_object_size(lj), sizeof(Label));
                if (!labels)
                        return -ENOMEM;
                json_object_foreach(lj, key, v) {
                        if (!json_is_string(v))
                                return json_read_error(ret_error, where, "label '%s' must be a string", key);
                        labels[n_labels++] = (Label){ key, json_string_value(v) };
                }
                qsort(labels, n_labels, sizeof(Label), label_cmp);
        }

        r = incident_new(&id, rule, series, metric, labels, n_labels, &i);
        if (r < 0)
                return r;

        i->state = incident_state_from_string(state);
        if (i->state < 0)
                return json_read_error(ret_error, where, "unknown state '%s'", state);

        if ((r = json_read_u64(j, "detected_at", true, where, &i->detected_at, ret_error)) < 0 ||
            (r = json_read_u64(j, "resolved_at", false, where, &i->resolved_at, ret_error)) < 0 ||
            (r = read_mono(j, "resolved_mono", where, now, &i->resolved_mono, ret_error)) < 0 ||
            (r = json_read_unsigned(j, "round", true, where, &i->round, ret_error)) < 0 ||
            (r = json_read_unsigned(j, "step", true, where, &i->step, ret_error)) < 0 ||
            (r = json_read_bool(j, "acted", true, where, &i->acted, ret_error)) < 0 ||
            (r = json_read_bool(j, "simulated", true, where, &i->simulated, ret_error)) < 0 ||
            (r = json_read_bool(j, "orphaned", true, where, &i->orphaned, ret_error)) < 0 ||
            (r = read_mono(j, "settle", where, now, &i->settle_mono, ret_error)) < 0 ||
            (r = read_mono(j, "verify", where, now, &i->verify_mono, ret_error)) < 0 ||
            (r = read_mono(j, "retry", where, now, &i->retry_mono, ret_error)) < 0 ||
            (r = json_read_string(j, "last_skip", true, where, &last_skip, ret_error)) < 0 ||
            (r = json_read_unsigned(j, "last_skip_step", true, where, &i->last_skip_step, ret_error)) < 0 ||
            (r = json_read_bool(j, "series_firing", true, where, &i->series_firing, ret_error)) < 0 ||
            (r = json_read_u64(j, "recovered_at", false, where, &i->recovered_at, ret_error)) < 0 ||
            (r = json_read_u64(j, "normal_since", false, where, &i->normal_since, ret_error)) < 0 ||
            (r = json_read_double(j, "value", where, &i->value, ret_error)) < 0 ||
            (r = json_read_double(j, "expected", where, &i->expected, ret_error)) < 0 ||
            (r = json_read_double(j, "lower", where, &i->lower, ret_error)) < 0 ||
            (r = json_read_double(j, "upper", where, &i->upper, ret_error)) < 0 ||
            (r = json_read_double(j, "detected_value", where, &i->detected_value, ret_error)) < 0 ||
            (r = json_read_double(j, "detected_expected", where, &i->detected_expected, ret_error)) < 0 ||
            (r = json_read_double(j, "detected_lower", where, &i->detected_lower, ret_error)) < 0 ||
            (r = json_read_double(j, "detected_upper", where, &i->detected_upper, ret_error)) < 0 ||
            (r = json_read_bool(j, "silenced", true, where, &i->silenced, ret_error)) < 0 ||
            (r = json_read_id128(j, "silence_id", false, where, &i->silence_id, ret_error)) < 0 ||
            (r = json_read_u64(j, "next_obligation_id", true, where, &i->next_obligation_id, ret_error)) < 0 ||
            (r = json_read_u64(j, "next_seq", true, where, &i->next_seq, ret_error)) < 0 ||
            (r = json_read_u64(j, "events_dropped", true, where, &i->events_dropped, ret_error)) < 0)
                return r;
        i->last_skip = skip_reason_from_string(last_skip);
        if (i->last_skip < 0)
                return json_read_error(ret_error, where, "unknown skip reason '%s'", last_skip);
        if (i->detected_at == 0)
                return json_read_error(ret_error, where, "'detected_at' must be set");
        if ((i->state == INCIDENT_RESOLVED) != (i->resolved_at != 0))
                return json_read_error(ret_error, where, "'resolved_at' must be set exactly when resolved");
        if (i->next_seq == 0 || i->next_obligation_id == 0)
                return json_read_error(
                        ret_error, where, "'next_seq' and 'next_obligation_id' must be positive");

        v = json_object_get(j, "action");
        if (v && !json_is_null(v)) {
                if ((r = read_action(v, now, &i->action, ret_error)) < 0)
                        return r;
        }
        if ((i->state == INCIDENT_REMEDIATING) != (i->action.phase != ACTION_PHASE_NONE) &&
            i->state != INCIDENT_RESOLVED && i->state != INCIDENT_ESCALATED)
                return json_read_error(ret_error, where, "an action is in flight exactly while remediating");

        arr = json_object_get(j, "obligations");
        if (!json_is_array(arr))
                return json_read_error(ret_error, where, "'obligations' must be an array");
        if (json_array_size(arr) > 0) {
                i->obligations = calloc(json_array_size(arr), sizeof(Obligation));
                if (!i->obligations)
                        return -ENOMEM;
                json_array_foreach(arr, k, v) {
                        if ((r = read_obligation(v, k, now, &i->obligations[k], ret_error)) < 0)
                                return r;
                        i->n_obligations = k + 1;
                        if (i->obligations[k].id >= i->next_obligation_id)
                                return json_read_error(
                                        ret_error, where, "obligation id beyond next_obligation_id");
                }
        }

        arr = json_object_get(j, "events");
        if (!json_is_array(arr))
                return json_read_error(ret_error, where, "'events' must be an array");
        if (json_array_size(arr) > INCIDENT_EVENTS_MAX)
                return json_read_error(ret_error, where, "more than %u events", INCIDENT_EVENTS_MAX);
        if (json_array_size(arr) > 0) {
                i->events = calloc(json_array_size(arr), sizeof(TimelineEvent));
                if (!i->events)
                        return -ENOMEM;
                json_array_foreach(arr, k, v) {
                        if ((r = read_event(v, k, &i->events[k], ret_error)) < 0)
                                return r;
                        i->n_events = k + 1;
                        if (i->events[k].seq == 0 || (k > 0 && i->events[k].seq != i->events[k - 1].seq + 1))
                                return json_read_error(
                                        ret_error, where, "event seq must count up by one from 1");
                }
                if (i->events[i->n_events - 1].seq + 1 != i->next_seq)
                        return json_read_error(ret_error, where, "'next_seq' does not follow the last event");
                if (i->events[0].seq != i->events_dropped + 1)
                        return json_read_error(
                                ret_error, where, "'events_dropped' does not match the first seq");
        }
        *ret = TAKE_PTR(i);
        return 0;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The incident data model: ids, the closed lists of states, event kinds and skip reasons with their
 * string forms and journal MESSAGE_IDs, the timeline of one incident, and the formatting of values for
 * humans ("0.52 s, expected 0.15 s (0.11–0.19)"). No I/O, no clock.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "incident.h"
#include "strbuf.h"

/* ---- time ---- */

static usec_t shift(usec_t t, usec_t from, usec_t to) {
        if (t == 0)
                return 0;
        if (to >= from) {
                usec_t d = to - from;
                return t > USEC_INFINITY - d ? USEC_INFINITY : t + d;
        }
        usec_t d = from - to;
        return t > d ? t - d : 1;
}

usec_t incident_mono_to_wall(IncidentNow now, usec_t mono) {
        return shift(mono, now.mono, now.wall);
}

usec_t incident_wall_to_mono(IncidentNow now, usec_t wall) {
        return shift(wall, now.wall, now.mono);
}

/* ---- ids ---- */

const char *id128_to_string(const Id128 *id, char buf[static ID128_STRING_MAX]) {
        static const char hex[] = "0123456789abcdef";

        for (size_t i = 0; i < 16; i++) {
                buf[2 * i] = hex[id->bytes[i] >> 4];
                buf[2 * i + 1] = hex[id->bytes[i] & 15];
        }
        buf[32] = 0;
        return buf;
}

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -EINVAL;
}

int id128_from_string(const char *s, Id128 *ret) {
        Id128 id;

        if (!s || strlen(s) != 32)
                return -EINVAL;
        for (size_t i = 0; i < 16; i++) {
                int a = unhex(s[2 * i]), b = unhex(s[2 * i + 1]);
                if (a < 0 || b < 0)
                        return -EINVAL;
                id.bytes[i] = (uint8_t) (a << 4 | b);
        }
        *ret = id;
        return 0;
}

bool id128_equal(const Id128 *a, const Id128 *b) {
        return memcmp(a->bytes, b->bytes, 16) == 0;
}

bool id128_is_null(const Id128 *id) {
        static const Id128 null;
        return id128_equal(id, &null);
}

/* ---- enums ---- */

static const char *const state_table[_INCIDENT_STATE_MAX] = {
        [INCIDENT_FIRING] = "firing",       [INCIDENT_REMEDIATING] = "remediating",
        [INCIDENT_VERIFYING] = "verifying", [INCIDENT_ESCALATED] = "escalated",
        [INCIDENT_RESOLVED] = "resolved",
};

const char *incident_state_to_string(IncidentState s) {
        return s >= 0 && s < _INCIDENT_STATE_MAX ? state_table[s] : NULL;
}

IncidentState incident_state_from_string(const char *s) {
        for (int i = 0; s && i < _INCIDENT_STATE_MAX; i++)
                if (streq(s, state_table[i]))
                        return (IncidentState) i;
        return _INCIDENT_STATE_INVALID;
}

static const struct {
        const char *name;
        const char *message_id;
        int priority;
} event_kind_table[_IEV_MAX] = {
        /* Generated once with `systemd-id128 new`; never change them (documented in docs/operations.md). */
        [IEV_DETECTED] = { "detected", "560867175a404fd9851eac031e49707e", LOG_NOTICE },
        [IEV_FIRING] = { "firing", "87efa3f4a4af401391c3d08a19ff446b", LOG_WARNING },
        [IEV_ACTION_STARTED] = { "action_started", "d2174b8409df4918923479064b8278a3", LOG_NOTICE },
        [IEV_ACTION_SUCCEEDED] = { "action_succeeded", "5e798deaba1245ef99a32d8db8e5a071", LOG_NOTICE },
        [IEV_ACTION_FAILED] = { "action_failed", "d79eed110f974032ae4eaf0f29809407", LOG_WARNING },
        [IEV_ACTION_SKIPPED] = { "action_skipped", "74c4544ea48346708bbedd974a6d4bb2", LOG_NOTICE },
        [IEV_VERIFY_PASSED] = { "verify_passed", "2db35a0299674fd39b189046bfc2dacb", LOG_NOTICE },
        [IEV_VERIFY_FAILED] = { "verify_failed", "0bc6c95070744e629caac4f6ea1cbe17", LOG_WARNING },
        [IEV_ESCALATED] = { "escalated", "191b05f86ca546bdb17dfb3969298099", LOG_WARNING },
        [IEV_UNDO_STARTED] = { "undo_started", "934ed5642627450fbf06c0740896acca", LOG_NOTICE },
        [IEV_UNDO_SUCCEEDED] = { "undo_succeeded", "9e1fed3930744625b1093eb2b69b7ec5", LOG_NOTICE },
        [IEV_UNDO_FAILED] = { "undo_failed", "6a5f0a95e0cd4921baa91ab179b330cc", LOG_WARNING },
        [IEV_SILENCED] = { "silenced", "c74c8ba51b6b4d79925f50710b9bb0fe", LOG_NOTICE },
        [IEV_UNSILENCED] = { "unsilenced", "3e7493f6f966427f8bf39e367fe4b6b5", LOG_NOTICE },
        [IEV_REOPENED] = { "reopened", "7dbe110c05184a98bcbd6af7f9b9705e", LOG_WARNING },
        [IEV_RESOLVED] = { "resolved", "fb394eece3ab4944b9e10123dd877f50", LOG_NOTICE },
};

const char *incident_event_kind_to_string(IncidentEventKind k) {
        return k >= 0 && k < _IEV_MAX ? event_kind_table[k].name : NULL;
}

IncidentEventKind incident_event_kind_from_string(const char *s) {
        for (int i = 0; s && i < _IEV_MAX; i++)
                if (streq(s, event_kind_table[i].name))
                        return (IncidentEventKind) i;
        return _IEV_INVALID;
}

const char *incident_event_kind_message_id(IncidentEventKind k) {
        return k >= 0 && k < _IEV_MAX ? event_kind_table[k].message_id : NULL;
}

int incident_event_kind_priority(IncidentEventKind k) {
        return k >= 0 && k < _IEV_MAX ? event_kind_table[k].priority : LOG_NOTICE;
}

static const char *const skip_table[_SKIP_REASON_MAX] = {
        [SKIP_NONE] = "none",         [SKIP_OBSERVE] = "observe",
        [SKIP_DRY_RUN] = "dry-run",   [SKIP_SILENCE] = "silence",
        [SKIP_BREAKER] = "breaker",   [SKIP_NOT_ALLOWED] = "not allowed by targets",
        [SKIP_LOOP_LAG] = "loop lag", [SKIP_TARGET_BUSY] = "target busy",
        [SKIP_COOLDOWN] = "cooldown", [SKIP_RATE_LIMIT] = "rate limit",
        [SKIP_GRACE] = "grace",       [SKIP_UNIT_STATE] = "unit state",
};

const char *skip_reason_to_string(SkipReason r) {
        return r >= 0 && r < _SKIP_REASON_MAX ? skip_table[r] : NULL;
}

SkipReason skip_reason_from_string(const char *s) {
        for (int i = 0; s && i < _SKIP_REASON_MAX; i++)
                if (streq(s, skip_table[i]))
                        return (SkipReason) i;
        return _SKIP_REASON_INVALID;
}

bool skip_reason_is_guard(SkipReason r) {
        switch (r) {
        case SKIP_BREAKER:
        case SKIP_LOOP_LAG:
        case SKIP_TARGET_BUSY:
        case SKIP_COOLDOWN:
        case SKIP_RATE_LIMIT:
        case SKIP_GRACE:
                return true;
        default:
                return false;
        }
}

static const char *const phase_table[_ACTION_PHASE_MAX] = {
        [ACTION_PHASE_NONE] = "none",
        [ACTION_PHASE_PREFLIGHT] = "preflight",
        [ACTION_PHASE_EXECUTING] = "executing",
        [ACTION_PHASE_RECONCILING] = "reconciling",
};

const char *action_phase_to_string(ActionPhase p) {
        return p >= 0 && p < _ACTION_PHASE_MAX ? phase_table[p] : NULL;
}

ActionPhase action_phase_from_string(const char *s) {
        for (int i = 0; s && i < _ACTION_PHASE_MAX; i++)
                if (streq(s, phase_table[i]))
                        return (ActionPhase) i;
        return _ACTION_PHASE_INVALID;
}

static const char *const obligation_table[_OBLIGATION_STATE_MAX] = {
        [OBLIGATION_HELD] = "held",
        [OBLIGATION_UNDOING] = "undoing",
        [OBLIGATION_RETRY] = "retry",
        [OBLIGATION_DONE] = "done",
};

const char *obligation_state_to_string(ObligationState s) {
        return s >= 0 && s < _OBLIGATION_STATE_MAX ? obligation_table[s] : NULL;
}

ObligationState obligation_state_from_string(const char *s) {
        for (int i = 0; s && i < _OBLIGATION_STATE_MAX; i++)
                if (streq(s, obligation_table[i]))
                        return (ObligationState) i;
        return _OBLIGATION_STATE_INVALID;
}

/* ---- targets ---- */

void incident_target_done(IncidentTarget *t) {
        if (!t)
                return;
        free(t->key);
        free(t->display);
        free(t->unit);
        *t = (IncidentTarget){};
}

int incident_target_copy(const IncidentTarget *from, IncidentTarget *to) {
        IncidentTarget t = {};

        if (from->key && !(t.key = strdup(from->key)))
                goto oom;
        if (from->display && !(t.display = strdup(from->display)))
                goto oom;
        if (from->unit && !(t.unit = strdup(from->unit)))
                goto oom;
        *to = t;
        return 0;
oom:
        incident_target_done(&t);
        return -ENOMEM;
}

/* ---- incidents ---- */

int incident_new(
        const Id128 *id,
        const char *rule_name,
        const char *series_key,
        const char *metric,
        const Label *labels,
        size_t n_labels,
        Incident **ret) {
        _cleanup_(incident_freep) Incident *i = NULL;

        i = calloc(1, sizeof(*i));
        if (!i)
                return -ENOMEM;
        i->id = *id;
        i->state = INCIDENT_FIRING;
        i->next_seq = 1;
        i->next_obligation_id = 1;
        i->value = i->expected = i->lower = i->upper = NAN;
        i->detected_value = i->detected_expected = i->detected_lower = i->detected_upper = NAN;
        i->rule_name = strdup(rule_name);
        i->series_key = strdup(series_key);
        i->metric = strdup(metric ?: "");
        if (!i->rule_name || !i->series_key || !i->metric)
                return -ENOMEM;
        if (n_labels > 0) {
                i->labels = calloc(n_labels, sizeof(Label));
                if (!i->labels)
                        return -ENOMEM;
                for (size_t k = 0; k < n_labels; k++) {
                        char *n = strdup(labels[k].name), *v = strdup(labels[k].value);
                        i->labels[k] = (Label){ n, v };
                        i->n_labels = k + 1;
                        if (!n || !v)
                                return -ENOMEM;
                }
        }
        *ret = TAKE_PTR(i);
        return 0;
}

static void event_done(TimelineEvent *e) {
        free(e->message);
        json_decref(e->attrs);
}

static void obligation_done(Obligation *o) {
        incident_target_done(&o->target);
        json_decref(o->undo);
}

Incident *incident_free(Incident *i) {
        if (!i)
                return NULL;
        free(i->rule_name);
        free(i->series_key);
        free(i->metric);
        for (size_t k = 0; k < i->n_labels; k++) {
                free((char *) i->labels[k].name);
                free((char *) i->labels[k].value);
        }
        free(i->labels);
        incident_target_done(&i->action.target);
        for (size_t k = 0; k < i->n_obligations; k++)
                obligation_done(&i->obligations[k]);
        free(i->obligations);
        for (size_t k = 0; k < i->n_events; k++)
                event_done(&i->events[k]);
        free(i->events);
        free(i);
        return NULL;
}

/* Appending never fails half-way: on -ENOMEM the message and attrs are released and the timeline is
 * unchanged, so the caller can report the error without cleaning up. When the timeline is full, the oldest
 * event goes; seq keeps counting so that sinks and webhooks stay idempotent. */
int incident_append_event(
        Incident *i, usec_t at, IncidentEventKind kind, char *message, json_t *attrs, const TimelineEvent **ret) {
        _cleanup_free_ char *m = message;

        if (!attrs)
                attrs = json_object();
        if (!attrs || !m) {
                json_decref(attrs);
                return -ENOMEM;
        }
        if (i->n_events >= INCIDENT_EVENTS_MAX) {
                event_done(&i->events[0]);
                memmove(i->events, i->events + 1, (i->n_events - 1) * sizeof(TimelineEvent));
                i->n_events--;
                i->events_dropped++;
        } else {
                TimelineEvent *n = reallocarray(i->events, i->n_events + 1, sizeof(TimelineEvent));
                if (!n) {
                        json_decref(attrs);
                        return -ENOMEM;
                }
                i->events = n;
        }
        TimelineEvent *e = &i->events[i->n_events++];
        *e = (TimelineEvent){
                .seq = i->next_seq++,
                .at = at,
                .kind = kind,
                .message = TAKE_PTR(m),
                .attrs = attrs,
        };
        if (ret)
                *ret = e;
        return 0;
}

const TimelineEvent *incident_find_event(const Incident *i, uint64_t seq) {
        if (i->n_events == 0 || seq < i->events[0].seq)
                return NULL;
        uint64_t k = seq - i->events[0].seq;
        return k < i->n_events ? &i->events[k] : NULL;
}

const TimelineEvent *incident_last_event(const Incident *i) {
        return i->n_events > 0 ? &i->events[i->n_events - 1] : NULL;
}

usec_t incident_mttr(const Incident *i) {
        if (i->state != INCIDENT_RESOLVED || i->resolved_at == 0)
                return USEC_INFINITY;
        return i->resolved_at > i->detected_at ? i->resolved_at - i->detected_at : 0;
}

size_t incident_open_obligations(const Incident *i) {
        size_t n = 0;
        for (size_t k = 0; k < i->n_obligations; k++)
                if (i->obligations[k].state != OBLIGATION_DONE)
                        n++;
        return n;
}

Obligation *incident_find_obligation(Incident *i, uint64_t id) {
        for (size_t k = 0; k < i->n_obligations; k++)
                if (i->obligations[k].id == id)
                        return &i->obligations[k];
        return NULL;
}

const char *incident_label(const Incident *i, const char *name) {
        for (size_t k = 0; k < i->n_labels; k++)
                if (streq(i->labels[k].name, name))
                        return i->labels[k].value;
        return NULL;
}

/* ---- values for humans ---- */

/* Three significant digits without exponent for everyday magnitudes, trailing zeros removed; %g beyond. */
static const char *format_number(char *buf, size_t len, double v) {
        double a = fabs(v);

        if (a >= 1e-3 && a < 1e6) {
                int decimals = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : a >= 0.1 ? 2 : a >= 0.01 ? 3 : 4;
                snprintf(buf, len, "%.*f", decimals, v);
                if (decimals > 0 && strchr(buf, '.')) {
                        size_t n = strlen(buf);
                        while (n > 0 && buf[n - 1] == '0')
                                buf[--n] = 0;
                        if (n > 0 && buf[n - 1] == '.')
                                buf[--n] = 0;
                }
        } else if (a < 1e-12)
                snprintf(buf, len, "0");
        else
                snprintf(buf, len, "%.3g", v);
        return buf;
}

typedef enum ValueUnit {
        UNIT_NONE,
        UNIT_SECONDS,
        UNIT_BYTES,
        UNIT_RATE,
} ValueUnit;

static ValueUnit metric_unit(const char *metric) {
        if (!metric)
                return UNIT_NONE;
        if (endswith(metric, "_total") || endswith(metric, "_count") || endswith(metric, "_bucket"))
                return UNIT_RATE;
        if (endswith(metric, "_seconds"))
                return UNIT_SECONDS;
        if (endswith(metric, "_bytes"))
                return UNIT_BYTES;
        return UNIT_NONE;
}

const char *incident_format_value(char *buf, size_t len, const char *metric, double v) {
        char num[32];

        if (!isfinite(v)) {
                snprintf(buf, len, "%s", isnan(v) ? "n/a" : v > 0 ? "+Inf" : "-Inf");
                return buf;
        }
        switch (metric_unit(metric)) {
        case UNIT_SECONDS:
                snprintf(buf, len, "%s s", format_number(num, sizeof(num), v));
                break;
        case UNIT_BYTES: {
                static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
                double x = v;
                size_t u = 0;
                while (fabs(x) >= 1024 && u + 1 < ELEMENTSOF(units)) {
                        x /= 1024;
                        u++;
                }
                snprintf(buf, len, "%s %s", format_number(num, sizeof(num), x), units[u]);
                break;
        }
        case UNIT_RATE:
                snprintf(buf, len, "%s/s", format_number(num, sizeof(num), v));
                break;
        case UNIT_NONE:
                snprintf(buf, len, "%s", format_number(num, sizeof(num), v));
                break;
        }
        return buf;
}

const char *incident_format_elapsed(char *buf, size_t len, usec_t d) {
        if (d == USEC_INFINITY)
                return format_duration(buf, len, d);
        if (d < USEC_PER_SEC)
                return format_duration(buf, len, (d + USEC_PER_MSEC / 2) / USEC_PER_MSEC * USEC_PER_MSEC);
        if (d < USEC_PER_MINUTE) {
                char num[32];
                snprintf(buf, len, "%ss", format_number(num, sizeof(num), (double) d / (double) USEC_PER_SEC));
                return buf;
        }
        return format_duration(buf, len, (d + USEC_PER_SEC / 2) / USEC_PER_SEC * USEC_PER_SEC);
}

/* The band is printed without the unit, as in ARCHITECTURE.md's example, and with an en dash. */
char *incident_describe_value(const char *metric, double value, double expected, double lower, double upper) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        char v[INCIDENT_VALUE_MAX], e[INCIDENT_VALUE_MAX], l[INCIDENT_VALUE_MAX], u[INCIDENT_VALUE_MAX];

        strbuf_puts(&b, incident_format_value(v, sizeof(v), metric, value));
        if (!isfinite(expected) && (isfinite(lower) || isfinite(upper))) {
                /* A static threshold: the band is all there is. */
                if (isfinite(lower) && isfinite(upper))
                        strbuf_printf(
                                &b,
                                ", expected %s\u2013%s",
                                incident_format_value(l, sizeof(l), metric, lower),
                                incident_format_value(u, sizeof(u), metric, upper));
                else if (isfinite(upper))
                        strbuf_printf(
                                &b,
                                ", expected at most %s",
                                incident_format_value(u, sizeof(u), metric, upper));
                else
                        strbuf_printf(
                                &b,
                                ", expected at least %s",
                                incident_format_value(l, sizeof(l), metric, lower));
        } else if (isfinite(expected)) {
                strbuf_printf(&b, ", expected %s", incident_format_value(e, sizeof(e), metric, expected));
                if (isfinite(lower) && isfinite(upper)) {
                        double sl = lower, su = upper;
                        if (metric_unit(metric) == UNIT_BYTES) {
                                /* Keep the band in the same unit as the expected value. */
                                double x = fabs(expected), scale = 1;
                                while (x >= 1024 && scale < 1125899906842624.0) {
                                        x /= 1024;
                                        scale *= 1024;
                                }
                                sl /= scale;
                                su /= scale;
                        }
                        strbuf_printf(
                                &b,
                                " (%s\u2013%s)",
                                format_number(l, sizeof(l), sl),
                                format_number(u, sizeof(u), su));
                }
        } else
                strbuf_puts(&b, ", no expectation yet");
        if (strbuf_failed(&b))
                return NULL;
        return strbuf_steal(&b);
}

const char *incident_action_name(ActionKind k) {
        return action_kind_to_string(k) ?: "unknown";
}

const char *incident_action_verb(const Step *s) {
        switch (s->action) {
        case ACTION_HAPROXY:
                switch (s->haproxy_state) {
                case HAPROXY_STATE_DRAIN:
                        return "drain";
                case HAPROXY_STATE_MAINT:
                        return "put in maintenance";
                case HAPROXY_STATE_READY:
                        return "set ready";
                default:
                        return "set the weight of";
                }
        case ACTION_REDIS:
        case ACTION_MEMCACHED:
                return "flush";
        case ACTION_HTTP:
                return "call";
        case ACTION_EXEC:
                return "run";
        default:
                return incident_action_name(s->action);
        }
}

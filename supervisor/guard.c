/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Guards: cooldowns, rate limits, one action per target, the circuit breaker and grace after a foreign
 * restart. Pure and persisted; the semantics are documented in guard.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "incident-json.h"

void guard_state_init(GuardState *g, unsigned host_max_actions, usec_t host_per_usec) {
        *g = (GuardState){
                .host_max_actions = host_max_actions,
                .host_per_usec = host_per_usec,
        };
}

static GuardRuleState *rule_state_free(GuardRuleState *r) {
        if (!r)
                return NULL;
        free(r->rule);
        free(r->actions);
        free(r->failures);
        free(r);
        return NULL;
}

static GuardTargetState *target_state_free(GuardTargetState *t) {
        if (!t)
                return NULL;
        free(t->key);
        free(t);
        return NULL;
}

void guard_state_done(GuardState *g) {
        for (size_t i = 0; i < g->n_rules; i++)
                rule_state_free(g->rules[i]);
        free(g->rules);
        for (size_t i = 0; i < g->n_targets; i++)
                target_state_free(g->targets[i]);
        free(g->targets);
        free(g->host_actions);
        guard_state_init(g, g->host_max_actions, g->host_per_usec);
}

const GuardRuleState *guard_find_rule(const GuardState *g, const char *rule) {
        for (size_t i = 0; i < g->n_rules; i++)
                if (streq(g->rules[i]->rule, rule))
                        return g->rules[i];
        return NULL;
}

const GuardTargetState *guard_find_target(const GuardState *g, const char *key) {
        for (size_t i = 0; i < g->n_targets; i++)
                if (streq(g->targets[i]->key, key))
                        return g->targets[i];
        return NULL;
}

static GuardRuleState *get_rule(GuardState *g, const char *rule) {
        GuardRuleState *r = (GuardRuleState *) guard_find_rule(g, rule), **n;

        if (r)
                return r;
        r = calloc(1, sizeof(*r));
        if (!r)
                return NULL;
        r->rule = strdup(rule);
        n = reallocarray(g->rules, g->n_rules + 1, sizeof(*n));
        if (!r->rule || !n) {
                if (n)
                        g->rules = n;
                return rule_state_free(r);
        }
        g->rules = n;
        g->rules[g->n_rules++] = r;
        return r;
}

static GuardTargetState *get_target(GuardState *g, const char *key) {
        GuardTargetState *t = (GuardTargetState *) guard_find_target(g, key), **n;

        if (t)
                return t;
        t = calloc(1, sizeof(*t));
        if (!t)
                return NULL;
        t->key = strdup(key);
        n = reallocarray(g->targets, g->n_targets + 1, sizeof(*n));
        if (!t->key || !n) {
                if (n)
                        g->targets = n;
                return target_state_free(t);
        }
        g->targets = n;
        g->targets[g->n_targets++] = t;
        return t;
}

/* Number of timestamps in (now - window, now], and the oldest of them. */
static size_t count_in_window(const usec_t *log, size_t n, usec_t window, usec_t now, usec_t *ret_oldest) {
        size_t c = 0;

        *ret_oldest = 0;
        for (size_t i = 0; i < n; i++) {
                if (log[i] + window <= now)
                        continue;
                if (c == 0)
                        *ret_oldest = log[i];
                c++;
        }
        return c;
}

/* Append now to a log, dropping entries older than keep and the oldest beyond GUARD_LOG_MAX. */
static int log_append(usec_t **log, size_t *n, usec_t now, usec_t keep) {
        size_t j = 0;

        for (size_t i = 0; i < *n; i++)
                if ((*log)[i] + keep > now)
                        (*log)[j++] = (*log)[i];
        *n = j;
        if (*n >= GUARD_LOG_MAX) {
                memmove(*log, *log + 1, (*n - 1) * sizeof(usec_t));
                (*n)--;
        }
        usec_t *m = reallocarray(*log, *n + 1, sizeof(usec_t));
        if (!m)
                return -ENOMEM;
        *log = m;
        m[(*n)++] = now;
        return 0;
}

static const char *dur(char *buf, size_t len, usec_t d) {
        return format_duration(buf, len, d);
}

bool guard_breaker_open(
        const GuardState *g, const char *rule, const Guard *limits, usec_t now_mono, size_t *ret_failures) {
        const GuardRuleState *r = guard_find_rule(g, rule);
        usec_t oldest;
        size_t c = 0;

        if (r)
                c = count_in_window(r->failures, r->n_failures, limits->breaker_window_usec, now_mono, &oldest);
        if (ret_failures)
                *ret_failures = c;
        return limits->breaker_after > 0 && c >= limits->breaker_after;
}

static bool cooldown_applies(
        bool has_last, const Id128 *last_incident, unsigned last_round, const GuardRequest *req) {
        /* The steps of one incident round follow each other by design: exempt. */
        return has_last && !(id128_equal(last_incident, &req->incident) && last_round == req->round);
}

void guard_check(const GuardState *g, const GuardRequest *req, usec_t now_mono, GuardDecision *ret) {
        const GuardRuleState *r = guard_find_rule(g, req->rule);
        const GuardTargetState *t = req->target_key ? guard_find_target(g, req->target_key) : NULL;
        char a[DURATION_MAX], b[DURATION_MAX];
        size_t failures, c;
        usec_t oldest;

        *ret = (GuardDecision){ .reason = SKIP_NONE };

        if (guard_breaker_open(g, req->rule, req->limits, now_mono, &failures)) {
                ret->reason = SKIP_BREAKER;
                snprintf(
                        ret->detail,
                        sizeof(ret->detail),
                        "circuit breaker open: %zu failed recoveries within %s",
                        failures,
                        dur(a, sizeof(a), req->limits->breaker_window_usec));
                return;
        }
        if (t && t->busy && !id128_equal(&t->busy_incident, &req->incident)) {
                ret->reason = SKIP_TARGET_BUSY;
                snprintf(ret->detail, sizeof(ret->detail), "another action runs on the same target");
                return;
        }
        if (r && cooldown_applies(r->has_last, &r->last_incident, r->last_round, req) &&
            r->last_action_mono + req->limits->cooldown_usec > now_mono) {
                ret->reason = SKIP_COOLDOWN;
                ret->until_mono = r->last_action_mono + req->limits->cooldown_usec;
                snprintf(
                        ret->detail,
                        sizeof(ret->detail),
                        "cooldown of the rule: last action %s ago, cooldown %s",
                        incident_format_elapsed(a, sizeof(a), now_mono - r->last_action_mono),
                        dur(b, sizeof(b), req->limits->cooldown_usec));
                return;
        }
        if (t && cooldown_applies(t->has_last, &t->last_incident, t->last_round, req) &&
            t->last_action_mono + req->limits->cooldown_usec > now_mono) {
                ret->reason = SKIP_COOLDOWN;
                ret->until_mono = t->last_action_mono + req->limits->cooldown_usec;
                snprintf(
                        ret->detail,
                        sizeof(ret->detail),
                        "cooldown of the target: last action on it %s ago, cooldown %s",
                        incident_format_elapsed(a, sizeof(a), now_mono - t->last_action_mono),
                        dur(b, sizeof(b), req->limits->cooldown_usec));
                return;
        }
        c = r ? count_in_window(r->actions, r->n_actions, req->limits->per_usec, now_mono, &oldest) : 0;
        if (c >= req->limits->max_actions) {
                ret->reason = SKIP_RATE_LIMIT;
                ret->until_mono = c > 0 ? oldest + req->limits->per_usec : 0;
                snprintf(
                        ret->detail,
                        sizeof(ret->detail),
                        "rate limit of the rule: %zu actions within %s (at most %u)",
                        c,
                        dur(a, sizeof(a), req->limits->per_usec),
                        req->limits->max_actions);
                return;
        }
        c = count_in_window(g->host_actions, g->n_host_actions, g->host_per_usec, now_mono, &oldest);
        if (c >= g->host_max_actions) {
                ret->reason = SKIP_RATE_LIMIT;
                ret->until_mono = c > 0 ? oldest + g->host_per_usec : 0;
                snprintf(
                        ret->detail,
                        sizeof(ret->detail),
                        "rate limit of the host: %zu actions within %s (at most %u)",
                        c,
                        dur(a, sizeof(a), g->host_per_usec),
                        g->host_max_actions);
                return;
        }
}

bool guard_in_grace(
        const GuardState *g,
        const char *target_key,
        const char *invocation_id,
        usec_t active_enter_mono,
        usec_t grace_usec,
        usec_t now_mono,
        usec_t *ret_until) {
        const GuardTargetState *t = guard_find_target(g, target_key);

        if (active_enter_mono == 0 || active_enter_mono > now_mono ||
            active_enter_mono + grace_usec <= now_mono)
                return false;
        if (t) {
                /* Our own restart: the InvocationID we saw after it, or a start while ours ran. */
                if (invocation_id && invocation_id[0] && streq(t->invocation_id, invocation_id))
                        return false;
                if (t->our_started_mono != 0 && active_enter_mono >= t->our_started_mono &&
                    (t->busy || active_enter_mono <= t->our_finished_mono))
                        return false;
        }
        if (ret_until)
                *ret_until = active_enter_mono + grace_usec;
        return true;
}

bool guard_target_busy(const GuardState *g, const char *target_key) {
        const GuardTargetState *t = guard_find_target(g, target_key);
        return t && t->busy;
}

int guard_reserve_target(GuardState *g, const char *target_key, const Id128 *incident) {
        GuardTargetState *t = get_target(g, target_key);

        if (!t)
                return -ENOMEM;
        if (t->busy && !id128_equal(&t->busy_incident, incident))
                return -EBUSY;
        t->busy = true;
        t->busy_incident = *incident;
        return 0;
}

int guard_record_action(GuardState *g, const GuardRequest *req, usec_t now_mono) {
        GuardRuleState *r = get_rule(g, req->rule);
        GuardTargetState *t = req->target_key ? get_target(g, req->target_key) : NULL;
        int k;

        if (!r || (req->target_key && !t))
                return -ENOMEM;
        if ((k = log_append(&r->actions, &r->n_actions, now_mono, MAX(req->limits->per_usec, (usec_t) 1))) < 0)
                return k;
        if ((k = log_append(
                     &g->host_actions, &g->n_host_actions, now_mono, MAX(g->host_per_usec, (usec_t) 1))) < 0)
                return k;
        r->has_last = true;
        r->last_action_mono = now_mono;
        r->last_incident = req->incident;
        r->last_round = req->round;
        if (t) {
                t->has_last = true;
                t->last_action_mono = now_mono;
                t->last_incident = req->incident;
                t->last_round = req->round;
                t->busy = true;
                t->busy_incident = req->incident;
                t->our_started_mono = now_mono;
                t->our_finished_mono = 0;
        }
        return 0;
}

int guard_release_target(
        GuardState *g,
        const char *target_key,
        const Id128 *incident,
        bool our_action,
        const char *invocation_id,
        usec_t now_mono) {
        GuardTargetState *t = (GuardTargetState *) guard_find_target(g, target_key);

        if (!t || !t->busy || !id128_equal(&t->busy_incident, incident))
                return 0;
        t->busy = false;
        t->busy_incident = (Id128){};
        if (our_action) {
                t->our_finished_mono = now_mono;
                if (invocation_id)
                        snprintf(t->invocation_id, sizeof(t->invocation_id), "%s", invocation_id);
        }
        return 1;
}

int guard_record_failure(GuardState *g, const char *rule, const Guard *limits, usec_t now_mono) {
        GuardRuleState *r = get_rule(g, rule);
        bool was_open;
        int k;

        if (!r)
                return -ENOMEM;
        was_open = guard_breaker_open(g, rule, limits, now_mono, NULL);
        if ((k = log_append(
                     &r->failures, &r->n_failures, now_mono, MAX(limits->breaker_window_usec, (usec_t) 1))) < 0)
                return k;
        return !was_open && guard_breaker_open(g, rule, limits, now_mono, NULL);
}

static void prune_log(usec_t *log, size_t *n, usec_t now, usec_t max_age) {
        size_t j = 0;
        for (size_t i = 0; i < *n; i++)
                if (log[i] + max_age > now)
                        log[j++] = log[i];
        *n = j;
}

void guard_prune(GuardState *g, usec_t now_mono, usec_t max_age) {
        size_t j = 0;

        for (size_t i = 0; i < g->n_rules; i++) {
                GuardRuleState *r = g->rules[i];
                prune_log(r->actions, &r->n_actions, now_mono, max_age);
                prune_log(r->failures, &r->n_failures, now_mono, max_age);
                if (r->n_actions == 0 && r->n_failures == 0 &&
                    (!r->has_last || r->last_action_mono + max_age <= now_mono))
                        rule_state_free(r);
                else
                        g->rules[j++] = r;
        }
        g->n_rules = j;

        j = 0;
        for (size_t i = 0; i < g->n_targets; i++) {
                GuardTargetState *t = g->targets[i];
                if (!t->busy && (!t->has_last || t->last_action_mono + max_age <= now_mono))
                        target_state_free(t);
                else
                        g->targets[j++] = t;
        }
        g->n_targets = j;
        prune_log(g->host_actions, &g->n_host_actions, now_mono, max_age);
}

/* ---- persistence ---- */

static json_t *times_json(const usec_t *log, size_t n, IncidentNow now) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < n; i++)
                if (json_array_append_new(a, json_integer((json_int_t) incident_mono_to_wall(now, log[i]))) < 0)
                        return json_decref(a), NULL;
        return a;
}

static json_t *opt_time(IncidentNow now, bool has, usec_t mono) {
        return has ? json_integer((json_int_t) incident_mono_to_wall(now, mono)) : json_null();
}

json_t *guard_state_to_json(const GuardState *g, IncidentNow now) {
        _cleanup_(json_decrefp) json_t *rules = json_array(), *targets = json_array();
        char id[ID128_STRING_MAX];

        if (!rules || !targets)
                return NULL;
        for (size_t i = 0; i < g->n_rules; i++) {
                const GuardRuleState *r = g->rules[i];
                if (json_array_append_new(
                            rules,
                            json_pack(
                                    "{s:s, s:o, s:s, s:I, s:o, s:o}",
                                    "rule",
                                    r->rule,
                                    "last_action",
                                    opt_time(now, r->has_last, r->last_action_mono),
                                    "last_incident",
                                    id128_to_string(&r->last_incident, id),
                                    "last_round",
                                    (json_int_t) r->last_round,
                                    "actions",
                                    times_json(r->actions, r->n_actions, now),
                                    "failures",
                                    times_json(r->failures, r->n_failures, now))) < 0)
                        return NULL;
        }
        for (size_t i = 0; i < g->n_targets; i++) {
                const GuardTargetState *t = g->targets[i];
                if (json_array_append_new(
                            targets,
                            json_pack(
                                    "{s:s, s:o, s:s, s:I, s:s, s:o, s:o}",
                                    "key",
                                    t->key,
                                    "last_action",
                                    opt_time(now, t->has_last, t->last_action_mono),
                                    "last_incident",
                                    id128_to_string(&t->last_incident, id),
                                    "last_round",
                                    (json_int_t) t->last_round,
                                    "invocation_id",
                                    t->invocation_id,
                                    "our_started",
                                    opt_time(now, t->our_started_mono != 0, t->our_started_mono),
                                    "our_finished",
                                    opt_time(now, t->our_finished_mono != 0, t->our_finished_mono))) < 0)
                        return NULL;
        }
        return json_pack(
                "{s:i, s:O, s:O, s:{s:o}}",
                "version",
                1,
                "rules",
                rules,
                "targets",
                targets,
                "host",
                "actions",
                times_json(g->host_actions, g->n_host_actions, now));
}

static int read_times(
        json_t *obj, const char *key, const char *where, IncidentNow now, usec_t **ret, size_t *ret_n, char **error) {
        int r = json_read_usec_array(obj, key, where, ret, ret_n, error);
        if (r < 0)
                return r;
        if (*ret_n > GUARD_LOG_MAX) {
                free(*ret);
                *ret = NULL;
                return json_read_error(error, where, "'%s' holds more than %u entries", key, GUARD_LOG_MAX);
        }
        for (size_t i = 0; i < *ret_n; i++)
                (*ret)[i] = incident_wall_to_mono(now, (*ret)[i]);
        return 0;
}

static int read_opt_time(
        json_t *obj, const char *key, const char *where, IncidentNow now, bool *ret_has, usec_t *ret, char **error) {
        uint64_t t;
        int r = json_read_u64(obj, key, false, where, &t, error);
        if (r < 0)
                return r;
        *ret_has = t != 0;
        *ret = incident_wall_to_mono(now, t);
        return 0;
}

int guard_state_from_json(GuardState *g, json_t *j, IncidentNow now, char **ret_error) {
        static const char *const top_keys[] = { "version", "rules", "targets", "host", NULL };
        static const char *const rule_keys[] = { "rule",       "last_action", "last_incident",
                                                 "last_round", "actions",     "failures",
                                                 NULL };
        static const char *const target_keys[] = { "key",           "last_action",
                                                   "last_incident", "last_round",
                                                   "invocation_id", "our_started",
                                                   "our_finished",  NULL };
        static const char *const host_keys[] = { "actions", NULL };
        GuardState n;
        uint64_t version;
        json_t *arr, *v;
        size_t i;
        int r;

        if ((r = json_read_keys(j, "guards", top_keys, ret_error)) < 0 ||
            (r = json_read_u64(j, "version", true, "guards", &version, ret_error)) < 0)
                return r;
        if (version != 1) {
                json_read_error(ret_error, "guards", "unsupported version %llu", (unsigned long long) version);
                return -EPROTONOSUPPORT;
        }
        guard_state_init(&n, g->host_max_actions, g->host_per_usec);

        arr = json_object_get(j, "rules");
        if (!json_is_array(arr)) {
                r = json_read_error(ret_error, "guards", "'rules' must be an array");
                goto fail;
        }
        json_array_foreach(arr, i, v) {
                char where[64];
                const char *name;
                GuardRuleState *rs;

                snprintf(where, sizeof(where), "guards.rules[%zu]", i);
                if ((r = json_read_keys(v, where, rule_keys, ret_error)) < 0 ||
                    (r = json_read_string(v, "rule", true, where, &name, ret_error)) < 0)
                        goto fail;
                if (guard_find_rule(&n, name)) {
                        r = json_read_error(ret_error, where, "rule '%s' appears twice", name);
                        goto fail;
                }
                rs = get_rule(&n, name);
                if (!rs) {
                        r = -ENOMEM;
                        goto fail;
                }
                if ((r = read_opt_time(
                             v, "last_action", where, now, &rs->has_last, &rs->last_action_mono, ret_error)) <
                            0 ||
                    (r = json_read_id128(v, "last_incident", true, where, &rs->last_incident, ret_error)) < 0 ||
                    (r = json_read_unsigned(v, "last_round", true, where, &rs->last_round, ret_error)) < 0 ||
                    (r = read_times(v, "actions", where, now, &rs->actions, &rs->n_actions, ret_error)) < 0 ||
                    (r = read_times(v, "failures", where, now, &rs->failures, &rs->n_failures, ret_error)) < 0)
                        goto fail;
        }

        arr = json_object_get(j, "targets");
        if (!json_is_array(arr)) {
                r = json_read_error(ret_error, "guards", "'targets' must be an array");
                goto fail;
        }
        json_array_foreach(arr, i, v) {
                char where[64];
                const char *key, *inv;
                GuardTargetState *ts;
                bool has;

                snprintf(where, sizeof(where), "guards.targets[%zu]", i);
                if ((r = json_read_keys(v, where, target_keys, ret_error)) < 0 ||
                    (r = json_read_string(v, "key", true, where, &key, ret_error)) < 0 ||
                    (r = json_read_string(v, "invocation_id", true, where, &inv, ret_error)) < 0)
                        goto fail;
                if (guard_find_target(&n, key)) {
                        r = json_read_error(ret_error, where, "target '%s' appears twice", key);
                        goto fail;
                }
                if (inv[0]) {
                        Id128 check;
                        if (id128_from_string(inv, &check) < 0) {
                                r = json_read_error(
                                        ret_error, where, "'invocation_id' must be 32 hex digits or empty");
                                goto fail;
                        }
                }
                ts = get_target(&n, key);
                if (!ts) {
                        r = -ENOMEM;
                        goto fail;
                }
                snprintf(ts->invocation_id, sizeof(ts->invocation_id), "%s", inv);
                if ((r = read_opt_time(
                             v, "last_action", where, now, &ts->has_last, &ts->last_action_mono, ret_error)) <
                            0 ||
                    (r = json_read_id128(v, "last_incident", true, where, &ts->last_incident, ret_error)) < 0 ||
                    (r = json_read_unsigned(v, "last_round", true, where, &ts->last_round, ret_error)) < 0 ||
                    (r = read_opt_time(v, "our_started", where, now, &has, &ts->our_started_mono, ret_error)) <
                            0 ||
                    (r = read_opt_time(
                             v, "our_finished", where, now, &has, &ts->our_finished_mono, ret_error)) < 0)
                        goto fail;
        }

        v = json_object_get(j, "host");
        if ((r = json_read_keys(v, "guards.host", host_keys, ret_error)) < 0 ||
            (r = read_times(v, "actions", "guards.host", now, &n.host_actions, &n.n_host_actions, ret_error)) <
                    0)
                goto fail;

        guard_state_done(g);
        *g = n;
        return 0;
fail:
        guard_state_done(&n);
        return r;
}

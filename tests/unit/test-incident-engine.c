/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Tests for the pure incident engine (supervisor/incident-engine.c): the state × input table, steps and
 * verification, MTTR, reopening, guards as the engine applies them (breaker, cooldown, rate limits, target
 * busy, grace, loop lag, unit state), observe and dry-run, silences, undo obligations through reload and
 * max_hold, persistence and crash reconciliation. The engine never reads a clock: the harness moves time.
 */
#include "incident-harness.h"

#define SERIES "http_request_duration_seconds{unit=\"api.service\"}"
#define SERIES2 "http_request_duration_seconds{unit=\"worker.service\"}"

static void setup_labels(Harness *h, const char *unit) {
        h->labels[0] = (Label){ "unit", unit };
        h->n_labels = 1;
}

/* Pending at now, firing one minute later; returns the incident. */
static Incident *fire(Harness *h, size_t k, const char *series) {
        double detected = h_t(h);
        size_t before = h_n_incidents(h);

        h_row(h, k, series, EVAL_PENDING, false, 0.52, detected, NAN);
        h_advance(h, USEC_PER_MINUTE);
        h_row(h, k, series, EVAL_FIRING, true, 0.52, detected, NAN);
        if (h_n_incidents(h) > before)
                return h_incident(h, h_n_incidents(h) - 1);
        return NULL;
}

static void recover(Harness *h, size_t k, const char *series, usec_t normal_since_ago) {
        h_row(h,
              k,
              series,
              EVAL_RESOLVED,
              false,
              0.14,
              NAN,
              (double) (h->now.wall - normal_since_ago) / (double) USEC_PER_SEC);
}

static void test_table_is_complete(void **state) {
        for (int s = 0; s < _INCIDENT_STATE_MAX; s++)
                for (int in = 0; in < _IN_MAX; in++) {
                        const char *n = incident_engine_handler_name((IncidentState) s, (IncidentInput) in);
                        assert_non_null(n);
                        assert_true(startswith(n, "h_") != NULL);
                }
        /* A few pairs that define the semantics. */
        assert_string_equal(incident_engine_handler_name(INCIDENT_RESOLVED, IN_FIRE), "h_reopen");
        assert_string_equal(incident_engine_handler_name(INCIDENT_ESCALATED, IN_RECOVER), "h_resolve");
        assert_string_equal(
                incident_engine_handler_name(INCIDENT_VERIFYING, IN_VERIFY_DEADLINE), "h_verify_failed");
        assert_string_equal(incident_engine_handler_name(INCIDENT_VERIFYING, IN_PENDING), "h_void_recovery");
        for (int in = 0; in < _IN_MAX; in++)
                assert_non_null(incident_input_to_string((IncidentInput) in));
}

static void test_event_kinds_closed_list(void **state) {
        static const char *const kinds[] = { "detected",         "firing",         "action_started",
                                             "action_succeeded", "action_failed",  "action_skipped",
                                             "verify_passed",    "verify_failed",  "escalated",
                                             "undo_started",     "undo_succeeded", "undo_failed",
                                             "silenced",         "unsilenced",     "reopened",
                                             "resolved" };
        assert_int_equal(ELEMENTSOF(kinds), _IEV_MAX);
        for (size_t k = 0; k < ELEMENTSOF(kinds); k++) {
                assert_int_equal(incident_event_kind_from_string(kinds[k]), (int) k);
                assert_string_equal(incident_event_kind_to_string((IncidentEventKind) k), kinds[k]);
                const char *mid = incident_event_kind_message_id((IncidentEventKind) k);
                Id128 id;
                assert_int_equal(id128_from_string(mid, &id), 0);
                for (size_t m = 0; m < k; m++)
                        assert_string_not_equal(mid, incident_event_kind_message_id((IncidentEventKind) m));
        }
        assert_int_equal(incident_event_kind_from_string("anomaly"), -EINVAL);
        assert_int_equal(skip_reason_from_string("not allowed by targets"), SKIP_NOT_ALLOWED);
        assert_int_equal(skip_reason_from_string("bogus"), -EINVAL);
}

/* A degraded service is restarted, recovers, and the incident resolves with the right MTTR. */
static void test_restart_resolves_with_mttr(void **state) {
        Harness h = {};
        Step s[] = { h_restart("api.service") };
        setup_labels(&h, "api.service");
        h_rule(&h, 0, "api-latency", s, 1);
        h_start(&h, false);

        usec_t detected = h.now.wall;
        Incident *i = fire(&h, 0, SERIES);
        assert_non_null(i);
        assert_int_equal(i->state, INCIDENT_REMEDIATING);
        assert_string_equal(h_kinds(i), "detected firing");
        assert_int_equal(i->events[0].at, detected);
        assert_int_equal(i->events[0].seq, 1);
        assert_int_equal(i->events[1].seq, 2);
        assert_non_null(strstr(i->events[0].message, "0.52 s, expected 0.15 s (0.11\u20130.19)"));
        assert_int_equal(h_count(&h.fx, EFFECT_PREFLIGHT), 1);
        assert_int_equal(h_count(&h.fx, EFFECT_ACTION), 0);

        h_preflight_ok(&h, i);
        assert_int_equal(h_count(&h.fx, EFFECT_ACTION), 1);
        assert_true(h.fx.save);
        assert_int_equal(i->action.phase, ACTION_PHASE_EXECUTING);
        assert_string_equal(i->action.invocation_id_before, INV_A);
        assert_string_equal(h_kinds(i), "detected firing action_started");
        assert_non_null(strstr(h_last(i, IEV_ACTION_STARTED)->message, "restart api.service (step 1 of 1)"));

        h_advance(&h, 2 * USEC_PER_SEC);
        h_result(&h, i, STEP_SUCCEEDED, INV_B, NULL);
        assert_int_equal(i->state, INCIDENT_VERIFYING);
        assert_string_equal(h_kinds(i), "detected firing action_started action_succeeded");

        /* Normal since 3 s ago (within settle): judged once settle is over. */
        h_advance(&h, 4 * USEC_PER_SEC);
        usec_t normal_since = h.now.wall - 3 * USEC_PER_SEC;
        recover(&h, 0, SERIES, 3 * USEC_PER_SEC);
        assert_int_equal(i->state, INCIDENT_VERIFYING);
        h_wake(&h, 5 * USEC_PER_SEC);
        assert_int_equal(i->state, INCIDENT_RESOLVED);
        assert_string_equal(
                h_kinds(i), "detected firing action_started action_succeeded verify_passed resolved");
        assert_int_equal(i->resolved_at, normal_since);
        assert_int_equal(incident_mttr(i), normal_since - detected);

        json_t *j = incident_to_json(i, "testhost", true);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "state")), "resolved");
        assert_true(
                fabs(json_real_value(json_object_get(j, "mttr_seconds")) -
                     (double) (normal_since - detected) / 1e6) < 1e-9);
        assert_true(json_is_string(json_object_get(j, "resolved_at")));
        json_decref(j);
        assert_int_equal(incident_engine_next_wakeup(h.engine), USEC_INFINITY);
        h_stop(&h);
}

/* A step that does not help: the next step runs; after the last, escalated; still resolves later. */
static void test_next_step_then_escalated(void **state) {
        Harness h = {};
        Step s[] = { h_restart("api.service"), h_drain("api/web1") };
        setup_labels(&h, "api.service");
        h_rule(&h, 0, "api-latency", s, 2);
        h_start(&h, false);

        Incident *i = fire(&h, 0, SERIES);
        h_preflight_ok(&h, i);
        h_result(&h, i, STEP_SUCCEEDED, INV_B, NULL);
        /* No data at all during verification is not recovery. */
        h_wake(&h, 5 * USEC_PER_SEC); /* settle */
        assert_int_equal(i->state, INCIDENT_VERIFYING);
        h_wake(&h, USEC_PER_MINUTE); /* verify deadline */
        assert_int_equal(i->state, INCIDENT_REMEDIATING);
        assert_int_equal(i->action.step, 1);
        assert_int_equal(i->action.phase, ACTION_PHASE_EXECUTING); /* haproxy: no unit preflight */
        assert_int_equal(h_count(&h.fx, EFFECT_ACTION), 1);
        const TimelineEvent *vf = h_last(i, IEV_VERIFY_FAILED);
        assert_non_null(vf);
        assert_non_null(strstr(
                vf->message, "still 0.52 s, expected 0.15 s (0.11\u20130.19) 1m after restart api.service"));

        json_t *undo = json_pack("{s:s}", "state", "ready");
        h_result(&h, i, STEP_SUCCEEDED, NULL, undo);
        json_decref(undo);
        assert_int_equal(i->n_obligations, 1);
        assert_int_equal(i->obligations[0].state, OBLIGATION_HELD);
        h_wake(&h, 5 * USEC_PER_SEC);
        h_wake(&h, USEC_PER_MINUTE);
        assert_int_equal(i->state, INCIDENT_ESCALATED);
        assert_string_equal(
                h_kinds(i),
                "detected firing action_started action_succeeded verify_failed action_started "
                "action_succeeded verify_failed escalated");
        assert_string_equal(h_attr(h_last(i, IEV_ESCALATED), "reason"), "no step left");
        /* Escalated and still not helping: nothing more happens. */
        size_t actions = h_count(&h.all, EFFECT_ACTION);
        h_advance(&h, 10 * USEC_PER_MINUTE);
        h_timers(&h);
        assert_int_equal(h_count(&h.all, EFFECT_ACTION), actions);

        /* An escalated incident still resolves, and the drain is undone. */
        recover(&h, 0, SERIES, 0);
        assert_int_equal(i->state, INCIDENT_RESOLVED);
        const Effect *u = h_find(&h.fx, EFFECT_UNDO);
        assert_non_null(u);
        assert_int_equal(i->obligations[0].state, OBLIGATION_UNDOING);
        StepResult ok = { .outcome = STEP_SUCCEEDED };
        effects_clear(&h.fx);
        assert_int_equal(
                incident_engine_undo_result(h.engine, &i->id, u->obligation_id, u->undo_id, &ok, h.now, &h.fx),
                0);
        assert_int_equal(i->obligations[0].state, OBLIGATION_DONE);
        assert_string_equal(
                h_kinds(i) + strlen(h_kinds(i)) - strlen("resolved undo_started undo_succeeded"),
                "resolved undo_started undo_succeeded");
        assert_false(guard_target_busy(
                incident_engine_guards(h.engine), "haproxy:/run/haproxy/admin.sock:api/web1"));
        h_stop(&h);
}

/* Firing again within reopen_within reopens the incident (MTTR from the first detection); later: new one. */
static void test_reopen_within_window(void **state) {
        Harness h = {};
        Step s[] = { h_restart("api.service") };
        setup_labels(&h, "api.service");
        Rule *r = h_rule(&h, 0, "api-latency", s, 1);
        r->guard.cooldown_usec = 0;
        h_start(&h, false);

        usec_t detected = h.now.wall;
        Incident *i = fire(&h, 0, SERIES);
        h_preflight_ok(&h, i);
        h_result(&h, i, STEP_SUCCEEDED, INV_B, NULL);
        h_advance(&h, 10 * USEC_PER_SEC);
        recover(&h, 0, SERIES, 0);
        assert_int_equal(i->state, INCIDENT_RESOLVED);

        h_advance(&h, 3 * USEC_PER_MINUTE);
        Incident *again = fire(&h, 0, SERIES);
        assert_null(again);
        assert_int_equal(h_n_incidents(&h), 1);
        assert_int_equal(i->state, INCIDENT_REMEDIATING);
        assert_int_equal(i->round, 1);
        assert_int_equal(i->resolved_at, 0);
        assert_int_equal(i->detected_at, detected);
        assert_non_null(h_last(i, IEV_REOPENED));
        /* The recovery after our restart did not hold: one failed recovery for the breaker. */
        size_t failures;
        assert_false(guard_breaker_open(
                incident_engine_guards(h.engine), "api-latency", &r->guard, h.now.mono, &failures));
        assert_int_equal(failures, 1);

        UnitSnapshot u = h_unit(INV_B, "active", 1);
        h_preflight(&h, i, &u);
        h_result(&h, i, STEP_SUCCEEDED, INV_C, NULL);
        h_advance(&h, 10 * USEC_PER_SEC);
        usec_t normal = h.now.wall;
        recover(&h, 0, SERIES, 0);
        assert_int_equal(i->state, INCIDENT_RESOLVED);
        assert_int_equal(incident_mttr(i), normal - detected);

        /* Beyond reopen_within: a new incident. */
        h_advance(&h, 11 * USEC_PER_MINUTE);
        Incident *n = fire(&h, 0, SERIES);
        assert_non_null(n);
        assert_false(id128_equal(&n->id, &i->id));
        assert_int_equal(h_n_incidents(&h), 2);
        h_stop(&h);
}

/* The breaker opens after breaker_after failed recoveries and no further action runs. */
static void test_breaker_stops_actions(void **state) {
        Harness h = {};
        Step s[] = { h_restart("api.service"), h_restart("api.service"), h_restart("api.service") };
        setup_labels(&h, "api.service");
        Rule *r = h_rule(&h, 0, "api-latency", s, 3);
        r->guard.breaker_after = 2;
        r->guard.max_actions = 10;
        h_start(&h, false);

        Incident *i = fire(&h, 0, SERIES);
        for (int k = 0; k < 2; k++) {
                UnitSnapshot u = h_unit(k == 0 ? INV_A : INV_B, "active", 1);
                h_preflight(&h, i, &u);
                assert_int_equal(h_count(&h.fx, EFFECT_ACTION), 1);
                h_result(&h, i, STEP_SUCCEEDED, k == 0 ? INV_B : INV_C, NULL);
                h_wake(&h, 5 * USEC_PER_SEC);
                h_wake(&h, USEC_PER_MINUTE);
        }
        assert_int_equal(i->state, INCIDENT_ESCALATED);
        assert_true(guard_breaker_open(
                incident_engine_guards(h.engine), "api-latency", &r->guard, h.now.mono, NULL));
        const TimelineEvent *sk = h_last(i, IEV_ACTION_SKIPPED);
        assert_non_null(sk);
        assert_string_equal(h_attr(sk, "reason"), "breaker");
        assert_string_equal(h_attr(sk, "category"), "guard");
        assert_string_equal(h_attr(h_last(i, IEV_ESCALATED), "reason"), "breaker open");
        assert_int_equal(h_count(&h.all, EFFECT_ACTION), 2);

        /* Another series of the same rule: no action either, straight to a human. */
        setup_labels(&h, "worker.service");
        Incident *j = fire(&h, 0, SERIES2);
        assert_non_null(j);
        assert_int_equal(j->state, INCIDENT_ESCALATED);
        assert_int_equal(h_count(&h.all, EFFECT_PREFLIGHT), 2);
        assert_int_equal(h_count(&h.all, EFFECT_ACTION), 2);
        /* No loop: time passes, nothing is retried. */
        h_advance(&h, USEC_PER_HOUR);
        h_timers(&h);
        assert_int_equal(h_count(&h.all, EFFECT_ACTION), 2);

        /* After the window the breaker closes by itself. */
        h_advance(&h, 6 * USEC_PER_HOUR);
        assert_false(guard_breaker_open(
                incident_engine_guards(h.engine), "api-latency", &r->guard, h.now.mono, NULL));
        h_stop(&h);
}

/* Cooldown per rule across incidents (not within one incident's steps), then the rule's token bucket. */
static void test_cooldown_and_rate_limit(void **state) {
        Harness h = {};
        Step s[] = { h_restart("${labels.unit}") };
        char *targets[] = { (char *) "*.service" };
        s[0].targets = targets;
        s[0].n_targets = 1;
        Rule *r = h_rule(&h, 0, "api-latency", s, 1);
        r->guard.cooldown_usec = 2 * USEC_PER_MINUTE;
        r->guard.max_actions = 2;
        r->guard.per_usec = USEC_PER_HOUR;
        h_start(&h, false);

        static const char *const units[] = { "a.service", "b.service", "c.service" };
        static const char *const series[] = { "m{unit=\"a.service\"}",
                                              "m{unit=\"b.service\"}",
                                              "m{unit=\"c.service\"}" };
        usec_t first_action = 0;

        setup_labels(&h, units[0]);
        Incident *a = fire(&h, 0, series[0]);
        h_preflight_ok(&h, a);
        first_action = h.now.mono;
        h_result(&h, a, STEP_SUCCEEDED, INV_B, NULL);
        h_advance(&h, 10 * USEC_PER_SEC);
        setup_labels(&h, units[0]);
        recover(&h, 0, series[0], 0);
        assert_int_equal(a->state, INCIDENT_RESOLVED);

        /* b fires 70 s after a's action: rule cooldown (2m). */
        setup_labels(&h, units[1]);
        Incident *b = fire(&h, 0, series[1]);
        assert_int_equal(b->state, INCIDENT_FIRING);
        const TimelineEvent *sk = h_last(b, IEV_ACTION_SKIPPED);
        assert_string_equal(h_attr(sk, "reason"), "cooldown");
        assert_non_null(strstr(sk->message, "cooldown of the rule"));
        assert_int_equal(b->retry_mono, first_action + 2 * USEC_PER_MINUTE);
        /* Retries while the reason persists do not repeat the event. */
        size_t n_events = b->n_events;
        h_wake(&h, 2 * USEC_PER_MINUTE);
        assert_int_equal(b->state, INCIDENT_REMEDIATING);
        assert_int_equal(b->n_events, n_events);
        h_preflight_ok(&h, b);
        h_result(&h, b, STEP_SUCCEEDED, INV_B, NULL);
        h_advance(&h, 10 * USEC_PER_SEC);
        recover(&h, 0, series[1], 0);
        assert_int_equal(b->state, INCIDENT_RESOLVED);

        /* c: past the cooldown but the bucket (2 per hour) is empty until a's token returns. */
        setup_labels(&h, units[2]);
        h_advance(&h, 3 * USEC_PER_MINUTE);
        Incident *c = fire(&h, 0, series[2]);
        sk = h_last(c, IEV_ACTION_SKIPPED);
        assert_non_null(sk);
        assert_string_equal(h_attr(sk, "reason"), "rate limit");
        assert_non_null(strstr(sk->message, "rate limit of the rule"));
        assert_int_equal(c->retry_mono, first_action + USEC_PER_HOUR);
        h_wake(&h, USEC_PER_HOUR);
        assert_int_equal(c->state, INCIDENT_REMEDIATING);
        assert_int_equal(h_count(&h.fx, EFFECT_PREFLIGHT), 1);
        h_stop(&h);
}

/* The host bucket caps actions over all rules. */
static void test_host_rate_limit(void **state) {
        Harness h = {};
        Step s0[] = { h_drain("api/web1") }, s1[] = { h_drain("api/web2") };
        h_rule(&h, 0, "r0", s0, 1);
        h_rule(&h, 1, "r1", s1, 1);
        h.config.rules = h.rules;
        h.now = (IncidentNow){ H_WALL0, H_MONO0 };
        h.opts = (IncidentEngineOptions){
                .host = "testhost",
                .host_max_actions = 1,
                .host_per_usec = USEC_PER_HOUR,
                .new_id = h_new_id,
                .step_target = h_step_target,
                .userdata = &h,
        };
        assert_int_equal(incident_engine_new(&h.opts, &h.engine), 0);
        assert_int_equal(incident_engine_set_config(h.engine, &h.config, h.now, &h.fx), 0);
        setup_labels(&h, "x");

        Incident *a = fire(&h, 0, "m{unit=\"x\"}");
        assert_int_equal(a->state, INCIDENT_REMEDIATING);
        Incident *b = fire(&h, 1, "m{unit=\"x\"}");
        assert_int_equal(b->state, INCIDENT_FIRING);
        const TimelineEvent *sk = h_last(b, IEV_ACTION_SKIPPED);
        assert_string_equal(h_attr(sk, "reason"), "rate limit");
        assert_non_null(strstr(sk->message, "rate limit of the host"));
        h_stop(&h);
}

/* observe and --dry-run: the plan is recorded ("would ..."), nothing is asked of the world. */
static void run_simulated(bool observe) {
        Harness h = {};
        Step s[] = { h_restart("api.service"), h_drain("api/web1") };
        setup_labels(&h, "api.service");
        Rule *r = h_rule(&h, 0, "api-latency", s, 2);
        if (observe)
                r->mode = RULE_MODE_OBSERVE;
        h_start(&h, !observe);

        Incident *i = fire(&h, 0, SERIES);
        assert_int_equal(i->state, INCIDENT_FIRING);
        assert_string_equal(h_kinds(i), "detected firing action_skipped action_skipped");
        assert_string_equal(h_attr(&i->events[2], "reason"), observe ? "observe" : "dry-run");
        assert_non_null(strstr(i->events[2].message, "would restart api.service"));
        assert_non_null(strstr(i->events[3].message, "would drain api/web1"));
        h_advance(&h, USEC_PER_HOUR);
        h_timers(&h);
        assert_int_equal(
                h_count(&h.all, EFFECT_PREFLIGHT) + h_count(&h.all, EFFECT_ACTION) +
                        h_count(&h.all, EFFECT_UNDO),
                0);
        assert_int_equal(guard_find_rule(incident_engine_guards(h.engine), "api-latency"), NULL);
        recover(&h, 0, SERIES, 0);
        assert_int_equal(i->state, INCIDENT_RESOLVED);
        h_stop(&h);
}

static void test_observe_changes_nothing(void **state) {
        run_simulated(true);
}

static void test_dry_run_changes_nothing(void **state) {
        run_simulated(false);
}

static Silence *make_silence(Harness *h, const char *body_text) {
        json_error_t err;
        json_t *body = json_loads(body_text, 0, &err);
        Silence *s = NULL;
        _cleanup_free_ char *error = NULL;
        Id128 id = { { 0x51 } };
        assert_non_null(body);
        id.bytes[15] = (uint8_t) ++h->next_id;
        assert_int_equal(silence_from_request_json(body, &id, h->now, "uid 0", &s, &error), 0);
        json_decref(body);
        return s;
}

/* Silences: no action while one matches, no chat, resume when it expires. */
static void test_silence_with_expiry(void **state) {
        Harness h = {};
        Step s[] = { h_restart("api.service") };
        setup_labels(&h, "api.service");
        h_rule(&h, 0, "api-latency", s, 1);
        h_start(&h, false);

        Silence *si = make_silence(
                &h, "{\"rule\":\"api-latency\",\"duration\":\"30m\",\"comment\":\"deploy\"}");
        effects_clear(&h.fx);
        assert_int_equal(incident_engine_add_silence(h.engine, si, h.now, &h.fx), 0);
        assert_true(h.fx.save);

        Incident *i = fire(&h, 0, SERIES);
        assert_int_equal(i->state, INCIDENT_FIRING);
        assert_string_equal(h_kinds(i), "detected firing silenced action_skipped");
        assert_string_equal(h_attr(&i->events[3], "reason"), "silence");
        assert_non_null(strstr(i->events[2].message, "by uid 0: deploy"));
        /* Events of a silenced incident go to journal and disk, not to chat (except silenced). */
        for (size_t k = 0; k < h.fx.n; k++)
                if (h.fx.items[k].kind == EFFECT_EVENT) {
                        const TimelineEvent *e = incident_find_event(i, h.fx.items[k].seq);
                        assert_int_equal(h.fx.items[k].notify, e->kind != IEV_ACTION_SKIPPED);
                }
        assert_int_equal(incident_engine_next_wakeup(h.engine), si->ends_mono);
        h_wake(&h, 30 * USEC_PER_MINUTE);
        assert_int_equal(i->state, INCIDENT_REMEDIATING);
        assert_string_equal(h_kinds(i), "detected firing silenced action_skipped unsilenced");
        assert_int_equal(h_count(&h.fx, EFFECT_PREFLIGHT), 1);

        /* A silence added while an incident is open silences it; expiring it early unsilences it. */
        Silence *s2 = make_silence(
                &h,
                "{\"matchers\":[{\"label\":\"unit\",\"op\":\"=~\",\"value\":\"api\\\\..*\"}],\"duration\":\"1h\","
                "\"comment\":\"investigating\",\"created_by\":\"alice\"}");
        Id128 s2id = s2->id;
        effects_clear(&h.fx);
        assert_int_equal(incident_engine_add_silence(h.engine, s2, h.now, &h.fx), 0);
        assert_true(i->silenced);
        assert_int_equal(h_last(i, IEV_SILENCED)->kind, IEV_SILENCED);
        effects_clear(&h.fx);
        assert_int_equal(incident_engine_expire_silence(h.engine, &s2id, h.now, &h.fx), 0);
        assert_false(i->silenced);
        assert_int_equal(i->events[i->n_events - 1].kind, IEV_UNSILENCED);
        h_stop(&h);
}

/* A unit restarted by someone else gets its grace; our own restart does not count as foreign. */
static void test_foreign_restart_grace(void **state) {
        Harness h = {};
        Step s[] = { h_restart("api.service"), h_restart("api.service") };
        setup_labels(&h, "api.service");
        h_rule(&h, 0, "api-latency", s, 2);
        h_start(&h, false);

        Incident *i = fire(&h, 0, SERIES);
        /* Started 30 s ago by a deploy. */
        UnitSnapshot u = h_unit(INV_A, "active", h.now.mono - 30 * USEC_PER_SEC);
        h_preflight(&h, i, &u);
        assert_int_equal(i->state, INCIDENT_FIRING);
        const TimelineEvent *sk = h_last(i, IEV_ACTION_SKIPPED);
        assert_string_equal(h_attr(sk, "reason"), "grace");
        assert_non_null(strstr(sk->message, "started by someone else 30s ago; grace 2m"));
        assert_false(guard_target_busy(incident_engine_guards(h.engine), "unit:api.service"));
        h_wake(&h, 90 * USEC_PER_SEC);
        assert_int_equal(i->state, INCIDENT_REMEDIATING);
        h_preflight(&h, i, &u); /* same start, now 2 minutes ago */
        assert_int_equal(h_count(&h.fx, EFFECT_ACTION), 1);
        h_advance(&h, USEC_PER_SEC);
        usec_t our_start = h.now.mono;
        h_result(&h, i, STEP_SUCCEEDED, INV_B, NULL);
        h_wake(&h, 5 * USEC_PER_SEC);
        h_wake(&h, USEC_PER_MINUTE);
        /* Step 2 on the same unit: its fresh InvocationID is ours, no grace. */
        UnitSnapshot ours = h_unit(INV_B, "active", our_start);
        h_preflight(&h, i, &ours);
        assert_int_equal(h_count(&h.fx, EFFECT_ACTION), 1);
        h_stop(&h);
}

/* No action while the loop lags; resumed when it stops lagging. */
static void test_loop_lag(void **state) {
        Harness h = {};
        Step s[] = { h_restart("api.service") };
        setup_labels(&h, "api.service");
        h_rule(&h, 0, "api-latency", s, 1);
        h_start(&h, false);

        assert_int_equal(incident_engine_set_loop_lag(h.engine, true, h.now, &h.fx), 0);
        Incident *i = fire(&h, 0, SERIES);
        assert_int_equal(i->state, INCIDENT_FIRING);
        assert_string_equal(h_attr(h_last(i, IEV_ACTION_SKIPPED), "reason"), "loop lag");
        size_t n = i->n_events;
        h_wake(&h, INCIDENT_RETRY_USEC);
        assert_int_equal(i->n_events, n);
        assert_int_equal(i->state, INCIDENT_FIRING);
        effects_clear(&h.fx);
        assert_int_equal(incident_engine_set_loop_lag(h.engine, false, h.now, &h.fx), 0);
        assert_int_equal(i->state, INCIDENT_REMEDIATING);
        assert_int_equal(h_count(&h.fx, EFFECT_PREFLIGHT), 1);
        h_stop(&h);
}

/* Respect the service manager: busy units wait, units stopped on purpose wait, start limit escalates. */
static void test_unit_states(void **state) {
        Harness h = {};
        Step s[] = { h_restart("api.service") };
        setup_labels(&h, "api.service");
        h_rule(&h, 0, "api-latency", s, 1);
        h_start(&h, false);

        Incident *i = fire(&h, 0, SERIES);
        UnitSnapshot u = h_unit(INV_A, "active", 1);
        u.job_queued = true;
        h_preflight(&h, i, &u);
        assert_int_equal(i->state, INCIDENT_FIRING);
        assert_string_equal(h_attr(h_last(i, IEV_ACTION_SKIPPED), "reason"), "unit state");
        assert_non_null(strstr(h_last(i, IEV_ACTION_SKIPPED)->message, "queued job"));
        h_wake(&h, INCIDENT_RETRY_USEC);

        u = h_unit("", "inactive", 1);
        h_preflight(&h, i, &u);
        assert_non_null(strstr(h_last(i, IEV_ACTION_SKIPPED)->message, "stopped on purpose"));
        h_wake(&h, INCIDENT_RETRY_SLOW_USEC);

        u = h_unit("", "failed", 1);
        snprintf(u.result, sizeof(u.result), "start-limit-hit");
        h_preflight(&h, i, &u);
        assert_int_equal(i->state, INCIDENT_ESCALATED);
        assert_string_equal(h_attr(h_last(i, IEV_ESCALATED), "reason"), "unit start limit");
        assert_int_equal(h_count(&h.all, EFFECT_ACTION), 0);
        h_stop(&h);
}

static void test_preflight_error_fails_step(void **state) {
        Harness h = {};
        Step s[] = { h_restart("missing.service") };
        setup_labels(&h, "api.service");
        h_rule(&h, 0, "api-latency", s, 1);
        h_start(&h, false);

        Incident *i = fire(&h, 0, SERIES);
        h_preflight(&h, i, NULL);
        assert_string_equal(h_kinds(i), "detected firing action_failed escalated");
        assert_non_null(strstr(i->events[2].message, "cannot read the state of missing.service: no such unit"));
        assert_false(guard_target_busy(incident_engine_guards(h.engine), "unit:missing.service"));
        h_stop(&h);
}

/* Two rules on one unit: never two actions at once; then the target's cooldown. */
static void test_target_busy_then_target_cooldown(void **state) {
        Harness h = {};
        Step s[] = { h_restart("api.service") };
        setup_labels(&h, "api.service");
        h_rule(&h, 0, "latency", s, 1);
        h_rule(&h, 1, "errors", s, 1);
        h_start(&h, false);

        Incident *a = fire(&h, 0, SERIES);
        assert_int_equal(a->state, INCIDENT_REMEDIATING);
        Incident *b = fire(&h, 1, SERIES);
        assert_int_equal(b->state, INCIDENT_FIRING);
        assert_string_equal(h_attr(h_last(b, IEV_ACTION_SKIPPED), "reason"), "target busy");
        h_preflight_ok(&h, a);
        h_result(&h, a, STEP_SUCCEEDED, INV_B, NULL);
        h_wake(&h, INCIDENT_RETRY_USEC);
        assert_int_equal(b->state, INCIDENT_FIRING);
        const TimelineEvent *sk = h_last(b, IEV_ACTION_SKIPPED);
        assert_string_equal(h_attr(sk, "reason"), "cooldown");
        assert_non_null(strstr(sk->message, "cooldown of the target"));
        h_stop(&h);
}

static void test_target_not_allowed_moves_on(void **state) {
        Harness h = {};
        Step s[] = { h_restart("${labels.unit}"), h_drain("api/web1") };
        char *targets[] = { (char *) "api-*.service" };
        s[0].targets = targets;
        s[0].n_targets = 1;
        setup_labels(&h, "sshd.service");
        h_rule(&h, 0, "api-latency", s, 2);
        h_start(&h, false);

        Incident *i = fire(&h, 0, "m{unit=\"sshd.service\"}");
        assert_string_equal(h_kinds(i), "detected firing action_skipped action_started");
        assert_string_equal(h_attr(&i->events[2], "reason"), "not allowed by targets");
        assert_non_null(strstr(i->events[2].message, "sshd.service is not in the step's targets"));
        assert_int_equal(i->action.step, 1);
        h_stop(&h);
}

/* Recovery while the action runs is judged after it; before the action (preflight): no action. */
static void test_recovery_during_action(void **state) {
        Harness h = {};
        Step s[] = { h_restart("api.service") };
        setup_labels(&h, "api.service");
        Rule *r = h_rule(&h, 0, "api-latency", s, 1);
        r->steps[0].settle_usec = 0;
        h_start(&h, false);

        Incident *i = fire(&h, 0, SERIES);
        recover(&h, 0, SERIES, 0);
        assert_int_equal(i->state, INCIDENT_RESOLVED);
        assert_string_equal(h_kinds(i), "detected firing resolved");
        assert_false(guard_target_busy(incident_engine_guards(h.engine), "unit:api.service"));
        /* The late preflight answer is dropped. */
        h_preflight_ok(&h, i);
        assert_int_equal(h_count(&h.all, EFFECT_ACTION), 0);

        setup_labels(&h, "worker.service");
        h_advance(&h, 20 * USEC_PER_MINUTE);
        Incident *j = fire(&h, 0, SERIES2);
        h_preflight_ok(&h, j);
        h_advance(&h, USEC_PER_SEC);
        usec_t normal = h.now.wall;
        recover(&h, 0, SERIES2, 0);
        assert_int_equal(j->state, INCIDENT_REMEDIATING);
        h_advance(&h, USEC_PER_SEC);
        h_result(&h, j, STEP_SUCCEEDED, INV_B, NULL);
        assert_int_equal(j->state, INCIDENT_RESOLVED);
        assert_string_equal(
                h_kinds(j), "detected firing action_started action_succeeded verify_passed resolved");
        assert_int_equal(j->resolved_at, normal);
        h_stop(&h);
}

static void h_row_normal(Harness *h, const char *series, EvalTransition tr) {
        EvalRow row = {
                .rule = &h->rules[0],
                .series_key = series,
                .metric = "http_request_duration_seconds",
                .labels = h->labels,
                .n_labels = h->n_labels,
                .t = h_t(h),
                .value = 0.14,
                .x = 0.14,
                .verdict = { .expected = 0.15, .lower = 0.11, .upper = 0.19 },
                .transition = tr,
                .detected_at = NAN,
                .resolved_at = NAN,
        };
        effects_clear(&h->fx);
        assert_int_equal(incident_engine_eval(h->engine, &row, h->now, &h->fx), 0);
        h_collect(h);
}

/* The evaluator lost its state (or a relapse voided the recovery and cleared before `for`): it says "not
 * firing" without ever saying "resolved". The incident sees normal samples for recover_for itself. */
static void test_quiet_recovery(void **state) {
        Harness h = {};
        Step s[] = { h_restart("api.service") };
        setup_labels(&h, "api.service");
        Rule *r = h_rule(&h, 0, "api-latency", s, 1);
        r->recover_for_usec = 10 * USEC_PER_SEC;
        h_start(&h, false);

        Incident *i = fire(&h, 0, SERIES);
        h_preflight_ok(&h, i);
        h_result(&h, i, STEP_SUCCEEDED, INV_B, NULL);
        /* Within settle: the recovery is seen, then voided by a relapse that clears before `for`. */
        recover(&h, 0, SERIES, 0);
        assert_int_equal(i->state, INCIDENT_VERIFYING);
        assert_true(i->recovered_at != 0);
        h_advance(&h, USEC_PER_SEC);
        h_row(&h, 0, SERIES, EVAL_PENDING, false, 0.52, h_t(&h), NAN);
        assert_int_equal(i->recovered_at, 0);
        h_advance(&h, USEC_PER_SEC);
        usec_t start = h.now.wall;
        h_row_normal(&h, SERIES, EVAL_CLEARED);
        h_timers(&h); /* settle ends: nothing to judge */
        assert_int_equal(i->state, INCIDENT_VERIFYING);
        h_advance(&h, 10 * USEC_PER_SEC);
        h_row_normal(&h, SERIES, EVAL_NONE);
        assert_int_equal(i->state, INCIDENT_RESOLVED);
        assert_int_equal(i->resolved_at, start);
        h_stop(&h);

        /* Lost evaluator state: the fresh evaluator reports normal, not-firing rows and nothing else. */
        Harness g = {};
        setup_labels(&g, "api.service");
        r = h_rule(&g, 0, "api-latency", s, 1);
        r->recover_for_usec = 10 * USEC_PER_SEC;
        h_start(&g, false);
        i = fire(&g, 0, SERIES);
        h_preflight_ok(&g, i);
        h_result(&g, i, STEP_SUCCEEDED, INV_B, NULL);
        h_wake(&g, 5 * USEC_PER_SEC);
        /* A warm-up row is no opinion, a missing value is no data. */
        EvalRow warm = { .rule = &g.rules[0],
                         .series_key = SERIES,
                         .metric = "m",
                         .t = h_t(&g),
                         .x = 0.1,
                         .verdict = { .warming_up = true, .expected = NAN, .lower = NAN, .upper = NAN },
                         .detected_at = NAN,
                         .resolved_at = NAN };
        effects_clear(&g.fx);
        assert_int_equal(incident_engine_eval(g.engine, &warm, g.now, &g.fx), 0);
        assert_int_equal(i->normal_since, 0);
        start = g.now.wall;
        h_row_normal(&g, SERIES, EVAL_NONE);
        assert_int_equal(i->normal_since, start);
        h_advance(&g, 5 * USEC_PER_SEC);
        h_row_normal(&g, SERIES, EVAL_NONE);
        assert_int_equal(i->state, INCIDENT_VERIFYING);
        h_advance(&g, 5 * USEC_PER_SEC);
        h_row_normal(&g, SERIES, EVAL_CLEARED);
        assert_int_equal(i->state, INCIDENT_RESOLVED);
        assert_int_equal(i->resolved_at, start);
        assert_string_equal(
                h_kinds(i), "detected firing action_started action_succeeded verify_passed resolved");
        h_stop(&g);
}

/* Resolved while the action still runs, and reopened before its result: the late result is recorded (and
 * its undo kept), then the new round acts. */
static void test_reopen_while_action_runs(void **state) {
        Harness h = {};
        Step s[] = { h_drain("api/web1") };
        setup_labels(&h, "api.service");
        Rule *r = h_rule(&h, 0, "api-latency", s, 1);
        r->guard.cooldown_usec = 0;
        h_start(&h, false);

        Incident *i = fire(&h, 0, SERIES);
        uint64_t first = i->action.id;
        assert_int_equal(i->action.phase, ACTION_PHASE_EXECUTING);
        /* Escalated by a reload that removes the rule, the series recovers, the rule comes back and fires. */
        Config empty = { .rules = h.rules, .n_rules = 0 };
        assert_int_equal(incident_engine_set_config(h.engine, &empty, h.now, &h.fx), 0);
        assert_int_equal(incident_engine_set_config(h.engine, &h.config, h.now, &h.fx), 0);
        recover(&h, 0, SERIES, 0);
        assert_int_equal(i->state, INCIDENT_RESOLVED);
        h_advance(&h, USEC_PER_SEC);
        h_row(&h, 0, SERIES, EVAL_FIRING, true, 0.52, h_t(&h), NAN);
        assert_int_equal(i->state, INCIDENT_FIRING);
        assert_int_equal(i->action.id, first); /* not replaced */
        json_t *undo = json_pack("{s:s}", "state", "ready");
        StepResult ok = { .outcome = STEP_SUCCEEDED, .undo = undo };
        effects_clear(&h.fx);
        assert_int_equal(incident_engine_action_result(h.engine, &i->id, first, &ok, h.now, &h.fx), 0);
        json_decref(undo);
        assert_int_equal(i->n_obligations, 1);
        h_wake(&h, INCIDENT_RETRY_USEC);
        assert_int_equal(i->state, INCIDENT_REMEDIATING);
        assert_int_equal(i->action.id, first + 1);
        h_stop(&h);
}

/* A failed action counts as a failed recovery and moves on. */
static void test_action_failure(void **state) {
        Harness h = {};
        Step s[] = { h_restart("api.service"), h_drain("api/web1") };
        setup_labels(&h, "api.service");
        Rule *r = h_rule(&h, 0, "api-latency", s, 2);
        h_start(&h, false);

        Incident *i = fire(&h, 0, SERIES);
        h_preflight_ok(&h, i);
        h_result(&h, i, STEP_TIMED_OUT, NULL, NULL);
        assert_non_null(
                strstr(h_last(i, IEV_ACTION_FAILED)->message, "restart api.service timed out: job failed"));
        assert_int_equal(i->action.step, 1);
        assert_int_equal(i->state, INCIDENT_REMEDIATING);
        size_t f;
        guard_breaker_open(incident_engine_guards(h.engine), "api-latency", &r->guard, h.now.mono, &f);
        assert_int_equal(f, 1);
        h_stop(&h);
}

/* The executor changed nothing: temporary refusals retry the step, others move on (no breaker count). */
static void test_executor_skips(void **state) {
        Harness h = {};
        Step s[] = { h_drain("api/web1"), h_drain("api/web2") };
        setup_labels(&h, "api.service");
        Rule *r = h_rule(&h, 0, "api-latency", s, 2);
        r->guard.cooldown_usec = 0;
        h_start(&h, false);

        Incident *i = fire(&h, 0, SERIES);
        StepResult busy = { .outcome = STEP_SKIPPED, .message = "api/web1 is in transition", .retry = true };
        effects_clear(&h.fx);
        assert_int_equal(incident_engine_action_result(h.engine, &i->id, i->action.id, &busy, h.now, &h.fx), 0);
        assert_int_equal(i->state, INCIDENT_FIRING);
        assert_string_equal(h_attr(h_last(i, IEV_ACTION_SKIPPED), "reason"), "unit state");
        assert_false(guard_target_busy(
                incident_engine_guards(h.engine), "haproxy:/run/haproxy/admin.sock:api/web1"));
        h_wake(&h, INCIDENT_RETRY_USEC);
        assert_int_equal(i->state, INCIDENT_REMEDIATING);
        assert_int_equal(i->action.step, 0);

        StepResult same = { .outcome = STEP_SKIPPED, .message = "api/web1 is already drained" };
        effects_clear(&h.fx);
        assert_int_equal(incident_engine_action_result(h.engine, &i->id, i->action.id, &same, h.now, &h.fx), 0);
        h_collect(&h);
        assert_int_equal(i->state, INCIDENT_REMEDIATING);
        assert_int_equal(i->action.step, 1);
        assert_int_equal(i->n_obligations, 0);
        size_t f;
        guard_breaker_open(incident_engine_guards(h.engine), "api-latency", &r->guard, h.now.mono, &f);
        assert_int_equal(f, 0);
        h_stop(&h);
}

/* Executor attributes that look like secrets never reach the timeline. */
static void test_no_secret_in_attrs(void **state) {
        Harness h = {};
        Step s[] = { h_drain("api/web1") };
        setup_labels(&h, "api.service");
        h_rule(&h, 0, "api-latency", s, 1);
        h_start(&h, false);

        Incident *i = fire(&h, 0, SERIES);
        json_t *attrs = json_pack(
                "{s:i, s:s, s:s, s:{s:s, s:s}}",
                "status",
                200,
                "Authorization",
                "Bearer x",
                "url",
                "https://u:p@h/",
                "nested",
                "api_token",
                "t",
                "ok",
                "yes");
        StepResult res = { .outcome = STEP_SUCCEEDED, .attrs = attrs, .message = "line1\nline2" };
        effects_clear(&h.fx);
        assert_int_equal(incident_engine_action_result(h.engine, &i->id, i->action.id, &res, h.now, &h.fx), 0);
        json_decref(attrs);
        const TimelineEvent *e = h_last(i, IEV_ACTION_SUCCEEDED);
        assert_int_equal(json_integer_value(json_object_get(e->attrs, "status")), 200);
        assert_null(json_object_get(e->attrs, "Authorization"));
        assert_null(json_object_get(e->attrs, "url"));
        assert_null(json_object_get(json_object_get(e->attrs, "nested"), "api_token"));
        assert_string_equal(
                json_string_value(json_object_get(json_object_get(e->attrs, "nested"), "ok")), "yes");
        assert_null(strchr(e->message, '\n'));
        h_stop(&h);
}

/* Save everything, load into a fresh engine: the same JSON comes out. */
static void roundtrip(Harness *h, IncidentEngine **ret) {
        json_t *inc = incident_engine_incidents_to_json(h->engine, h->now);
        json_t *gu = incident_engine_guards_to_json(h->engine, h->now);
        json_t *si = incident_engine_silences_to_json(h->engine, h->now);
        char *error = NULL;
        IncidentEngine *e;

        assert_non_null(inc);
        assert_non_null(gu);
        assert_non_null(si);
        /* Through text, as on disk. */
        char *t1 = json_dumps(inc, JSON_COMPACT), *t2 = json_dumps(gu, JSON_COMPACT),
             *t3 = json_dumps(si, JSON_COMPACT);
        json_t *l1 = json_loads(t1, 0, NULL), *l2 = json_loads(t2, 0, NULL), *l3 = json_loads(t3, 0, NULL);

        assert_int_equal(incident_engine_new(&h->opts, &e), 0);
        assert_int_equal(incident_engine_load_incidents(e, l1, h->now, &error), 0);
        assert_null(error);
        assert_int_equal(incident_engine_load_guards(e, l2, h->now, &error), 0);
        assert_int_equal(incident_engine_load_silences(e, l3, h->now, &error), 0);

        json_t *again = incident_engine_incidents_to_json(e, h->now);
        json_t *gagain = incident_engine_guards_to_json(e, h->now);
        json_t *sagain = incident_engine_silences_to_json(e, h->now);
        assert_true(json_equal(inc, again));
        assert_true(json_equal(gu, gagain));
        assert_true(json_equal(si, sagain));
        json_decref(again);
        json_decref(gagain);
        json_decref(sagain);
        json_decref(inc);
        json_decref(gu);
        json_decref(si);
        json_decref(l1);
        json_decref(l2);
        json_decref(l3);
        free(t1);
        free(t2);
        free(t3);
        *ret = e;
}

static void test_persistence_round_trip(void **state) {
        Harness h = {};
        Step s[] = { h_drain("api/web1"), h_restart("api.service") };
        setup_labels(&h, "api.service");
        h_rule(&h, 0, "api-latency", s, 2);
        h_start(&h, false);
        incident_engine_add_silence(
                h.engine,
                make_silence(&h, "{\"rule\":\"other\",\"duration\":\"1h\",\"comment\":\"c\"}"),
                h.now,
                &h.fx);

        Incident *i = fire(&h, 0, SERIES);
        json_t *undo = json_pack("{s:s}", "state", "ready");
        h_result(&h, i, STEP_SUCCEEDED, NULL, undo);
        json_decref(undo);
        assert_int_equal(i->state, INCIDENT_VERIFYING);

        IncidentEngine *e;
        roundtrip(&h, &e);
        effects_clear(&h.fx);
        assert_int_equal(incident_engine_set_config(e, &h.config, h.now, &h.fx), 0);
        assert_int_equal(incident_engine_resume(e, h.now, &h.fx), 0);
        assert_int_equal(h.fx.n, 0);
        /* The loaded engine carries on: deadlines survived. */
        assert_int_equal(incident_engine_next_wakeup(e), incident_engine_next_wakeup(h.engine));
        incident_engine_free(h.engine);
        h.engine = e;
        h_wake(&h, 5 * USEC_PER_SEC);
        h_wake(&h, USEC_PER_MINUTE);
        assert_int_equal(h_incident(&h, 0)->state, INCIDENT_REMEDIATING);
        assert_int_equal(h_incident(&h, 0)->obligations[0].state, OBLIGATION_HELD);
        h_stop(&h);
}

/* The intent was persisted and homeostatd died while the restart ran: reconcile, never act twice. */
static void crash_during_action(Harness *h, IncidentEngine **ret) {
        IncidentEngine *e;

        roundtrip(h, &e);
        incident_engine_free(h->engine);
        h->engine = e;
        effects_clear(&h->fx);
        assert_int_equal(incident_engine_set_config(e, &h->config, h->now, &h->fx), 0);
        assert_int_equal(incident_engine_resume(e, h->now, &h->fx), 0);
        h_collect(h);
        if (ret)
                *ret = e;
}

static void test_crash_reconciliation(void **state) {
        Harness h = {};
        Step s[] = { h_restart("api.service"),
                     (Step){ .action = ACTION_EXEC,
                             .verify_usec = USEC_PER_MINUTE,
                             .unit = { .text = (char *) "fix" } } };
        setup_labels(&h, "api.service");
        h_rule(&h, 0, "api-latency", s, 2);
        h_start(&h, false);

        Incident *i = fire(&h, 0, SERIES);
        h_preflight_ok(&h, i);
        assert_int_equal(i->action.phase, ACTION_PHASE_EXECUTING);
        size_t actions = h_count(&h.all, EFFECT_ACTION);

        /* Restart: the InvocationID changed, the restart happened. */
        crash_during_action(&h, NULL);
        i = h_incident(&h, 0);
        assert_int_equal(i->action.phase, ACTION_PHASE_RECONCILING);
        assert_int_equal(i->action.interruptions, 1);
        const Effect *rc = h_find(&h.fx, EFFECT_RECONCILE);
        assert_non_null(rc);
        assert_true(guard_target_busy(incident_engine_guards(h.engine), "unit:api.service"));
        effects_clear(&h.fx);
        assert_int_equal(
                incident_engine_reconcile_result(
                        h.engine,
                        &i->id,
                        rc->action_id,
                        RECONCILE_DONE,
                        "InvocationID " INV_A " -> " INV_B,
                        h.now,
                        &h.fx),
                0);
        h_collect(&h);
        assert_int_equal(i->state, INCIDENT_VERIFYING);
        assert_non_null(
                strstr(h_last(i, IEV_ACTION_SUCCEEDED)->message, "completed before homeostatd restarted"));
        assert_int_equal(h_count(&h.all, EFFECT_ACTION), actions);

        /* Step 2 is an exec: outcome unknown after a crash means not repeated. */
        h_wake(&h, 5 * USEC_PER_SEC);
        h_wake(&h, USEC_PER_MINUTE);
        assert_int_equal(i->action.step, 1);
        assert_int_equal(i->action.phase, ACTION_PHASE_EXECUTING);
        actions = h_count(&h.all, EFFECT_ACTION);
        crash_during_action(&h, NULL);
        i = h_incident(&h, 0);
        rc = h_find(&h.fx, EFFECT_RECONCILE);
        effects_clear(&h.fx);
        assert_int_equal(
                incident_engine_reconcile_result(
                        h.engine, &i->id, rc->action_id, RECONCILE_UNKNOWN, "no way to tell", h.now, &h.fx),
                0);
        h_collect(&h);
        assert_non_null(
                strstr(h_last(i, IEV_ACTION_FAILED)->message, "outcome unknown after homeostatd restarted"));
        assert_int_equal(i->state, INCIDENT_ESCALATED);
        assert_int_equal(h_count(&h.all, EFFECT_ACTION), actions);
        h_stop(&h);
}

/* A drain whose outcome is unknown after a crash is neither repeated nor forgotten: a human must look. */
static void test_crash_undoable_unknown(void **state) {
        Harness h = {};
        Step s[] = { h_drain("api/web1"), h_restart("api.service") };
        setup_labels(&h, "api.service");
        h_rule(&h, 0, "api-latency", s, 2);
        h_start(&h, false);

        Incident *i = fire(&h, 0, SERIES);
        assert_int_equal(i->action.phase, ACTION_PHASE_EXECUTING);
        size_t actions = h_count(&h.all, EFFECT_ACTION);
        crash_during_action(&h, NULL);
        i = h_incident(&h, 0);
        const Effect *rc = h_find(&h.fx, EFFECT_RECONCILE);
        effects_clear(&h.fx);
        assert_int_equal(
                incident_engine_reconcile_result(
                        h.engine,
                        &i->id,
                        rc->action_id,
                        RECONCILE_UNKNOWN,
                        "nothing to check a haproxy against",
                        h.now,
                        &h.fx),
                0);
        h_collect(&h);
        assert_int_equal(h_count(&h.all, EFFECT_ACTION), actions);
        assert_int_equal(i->state, INCIDENT_ESCALATED);
        assert_string_equal(h_attr(h_last(i, IEV_ESCALATED), "reason"), "outcome unknown");
        assert_non_null(strstr(h_last(i, IEV_ACTION_FAILED)->message, "check api/web1 by hand"));
        assert_false(guard_target_busy(
                incident_engine_guards(h.engine), "haproxy:/run/haproxy/admin.sock:api/web1"));
        h_stop(&h);
}

static void test_crash_restart_not_done(void **state) {
        Harness h = {};
        Step s[] = { h_restart("api.service") };
        setup_labels(&h, "api.service");
        h_rule(&h, 0, "api-latency", s, 1);
        h_start(&h, false);

        Incident *i = fire(&h, 0, SERIES);
        h_preflight_ok(&h, i);
        crash_during_action(&h, NULL);
        i = h_incident(&h, 0);
        const Effect *rc = h_find(&h.fx, EFFECT_RECONCILE);
        effects_clear(&h.fx);
        assert_int_equal(
                incident_engine_reconcile_result(
                        h.engine, &i->id, rc->action_id, RECONCILE_NOT_DONE, "same InvocationID", h.now, &h.fx),
                0);
        h_collect(&h);
        /* It never happened: run it now, once. */
        assert_int_equal(h_count(&h.fx, EFFECT_ACTION), 1);
        assert_true(h.fx.save);
        assert_non_null(strstr(h_last(i, IEV_ACTION_STARTED)->message, "restart api.service again"));
        /* Interrupted a second time: given up. */
        crash_during_action(&h, NULL);
        i = h_incident(&h, 0);
        rc = h_find(&h.fx, EFFECT_RECONCILE);
        effects_clear(&h.fx);
        assert_int_equal(
                incident_engine_reconcile_result(
                        h.engine, &i->id, rc->action_id, RECONCILE_NOT_DONE, "same", h.now, &h.fx),
                0);
        assert_int_equal(h_count(&h.fx, EFFECT_ACTION), 0);
        assert_non_null(strstr(
                h_last(i, IEV_ACTION_FAILED)->message, "interrupted by restarts of homeostatd 2 times"));
        h_stop(&h);
}

/* Undo obligations survive reload (rule removed), restart, and are undone after max_hold with escalation;
 * failed undos are retried until done. */
static void test_undo_obligation_reload_and_max_hold(void **state) {
        Harness h = {};
        Step s[] = { h_drain("api/web1") };
        setup_labels(&h, "api.service");
        h_rule(&h, 0, "api-latency", s, 1);
        h_start(&h, false);

        Incident *i = fire(&h, 0, SERIES);
        json_t *undo = json_pack("{s:s}", "state", "ready");
        usec_t held_since = h.now.mono;
        h_result(&h, i, STEP_SUCCEEDED, NULL, undo);
        json_decref(undo);
        assert_int_equal(i->obligations[0].state, OBLIGATION_HELD);

        /* Reload without the rule. */
        Config empty = { .rules = h.rules, .n_rules = 0 };
        effects_clear(&h.fx);
        assert_int_equal(incident_engine_set_config(h.engine, &empty, h.now, &h.fx), 0);
        assert_int_equal(i->state, INCIDENT_ESCALATED);
        assert_true(i->orphaned);
        assert_string_equal(h_attr(h_last(i, IEV_ESCALATED), "reason"), "rule removed");
        assert_int_equal(i->obligations[0].state, OBLIGATION_HELD);
        assert_int_equal(h_count(&h.fx, EFFECT_UNDO), 0);

        /* Restart of homeostatd: the obligation comes back with the incident. */
        IncidentEngine *e;
        roundtrip(&h, &e);
        incident_engine_free(h.engine);
        h.engine = e;
        effects_clear(&h.fx);
        assert_int_equal(incident_engine_set_config(e, &empty, h.now, &h.fx), 0);
        assert_int_equal(incident_engine_resume(e, h.now, &h.fx), 0);
        i = h_incident(&h, 0);
        assert_int_equal(i->obligations[0].state, OBLIGATION_HELD);
        assert_int_equal(incident_engine_next_wakeup(e), held_since + USEC_PER_HOUR);
        /* Pruning keeps it while the obligation is open. */
        h_advance(&h, 30 * USEC_PER_MINUTE);
        assert_int_equal(incident_engine_prune(e, h.now), 0);

        h_wake(&h, USEC_PER_HOUR);
        assert_int_equal(i->obligations[0].state, OBLIGATION_UNDOING);
        assert_true(i->obligations[0].hold_expired);
        const Effect *u = h_find(&h.fx, EFFECT_UNDO);
        assert_non_null(u);
        StepResult bad = { .outcome = STEP_FAILED, .message = "connection refused" };
        effects_clear(&h.fx);
        assert_int_equal(
                incident_engine_undo_result(h.engine, &i->id, u->obligation_id, u->undo_id, &bad, h.now, &h.fx),
                0);
        assert_int_equal(i->obligations[0].state, OBLIGATION_RETRY);
        assert_non_null(strstr(h_last(i, IEV_UNDO_FAILED)->message, "retrying in 10s"));
        /* A stale result for the old attempt changes nothing. */
        h_wake(&h, INCIDENT_UNDO_RETRY_MIN_USEC);
        u = h_find(&h.fx, EFFECT_UNDO);
        assert_non_null(u);
        assert_int_equal(u->undo_id, 2);
        StepResult ok = { .outcome = STEP_SUCCEEDED };
        effects_clear(&h.fx);
        assert_int_equal(
                incident_engine_undo_result(h.engine, &i->id, u->obligation_id, 1, &ok, h.now, &h.fx), 0);
        assert_int_equal(i->obligations[0].state, OBLIGATION_UNDOING);
        assert_int_equal(
                incident_engine_undo_result(h.engine, &i->id, u->obligation_id, 2, &ok, h.now, &h.fx), 0);
        assert_int_equal(i->obligations[0].state, OBLIGATION_DONE);

        /* The rule comes back: the incident is re-attached; it resolves when the series recovers. */
        effects_clear(&h.fx);
        assert_int_equal(incident_engine_set_config(h.engine, &h.config, h.now, &h.fx), 0);
        assert_false(i->orphaned);
        recover(&h, 0, SERIES, 0);
        assert_int_equal(i->state, INCIDENT_RESOLVED);
        h_advance(&h, INCIDENT_RETENTION_USEC);
        assert_int_equal(incident_engine_prune(h.engine, h.now), 1);
        assert_int_equal(h_n_incidents(&h), 0);
        h_stop(&h);
}

/* max_hold while the incident is still open: undone and escalated. */
static void test_max_hold_escalates_open_incident(void **state) {
        Harness h = {};
        Step s[] = { h_drain("api/web1"), h_restart("api.service") };
        setup_labels(&h, "api.service");
        Rule *r = h_rule(&h, 0, "api-latency", s, 2);
        r->steps[0].max_hold_usec = 30 * USEC_PER_SEC;
        r->steps[0].verify_usec = 5 * USEC_PER_MINUTE;
        h_start(&h, false);

        Incident *i = fire(&h, 0, SERIES);
        h_result(&h, i, STEP_SUCCEEDED, NULL, NULL);
        h_wake(&h, 5 * USEC_PER_SEC);
        h_wake(&h, 30 * USEC_PER_SEC);
        assert_int_equal(i->state, INCIDENT_ESCALATED);
        assert_string_equal(h_attr(h_last(i, IEV_ESCALATED), "reason"), "max_hold");
        assert_int_equal(h_count(&h.fx, EFFECT_UNDO), 1);
        assert_true(json_is_null(i->obligations[0].undo));
        h_stop(&h);
}

static void test_corrupt_state_is_refused(void **state) {
        Harness h = {};
        Step s[] = { h_restart("api.service") };
        setup_labels(&h, "api.service");
        h_rule(&h, 0, "api-latency", s, 1);
        h_start(&h, false);
        Incident *i = fire(&h, 0, SERIES);
        (void) i;

        json_t *good = incident_engine_incidents_to_json(h.engine, h.now);
        char *error = NULL;

        /* An unknown event kind. */
        json_t *bad = json_deep_copy(good);
        json_t *ev = json_array_get(
                json_object_get(json_array_get(json_object_get(bad, "incidents"), 0), "events"), 0);
        json_object_set_new(ev, "kind", json_string("anomaly"));
        assert_int_equal(incident_engine_load_incidents(h.engine, bad, h.now, &error), -EBADMSG);
        assert_non_null(strstr(error, "unknown event kind 'anomaly'"));
        free(error);
        error = NULL;
        json_decref(bad);
        assert_int_equal(h_n_incidents(&h), 1); /* unchanged */

        /* An unknown key. */
        bad = json_deep_copy(good);
        json_object_set_new(json_array_get(json_object_get(bad, "incidents"), 0), "surprise", json_true());
        assert_int_equal(incident_engine_load_incidents(h.engine, bad, h.now, &error), -EBADMSG);
        assert_non_null(strstr(error, "unknown key 'surprise'"));
        free(error);
        error = NULL;
        json_decref(bad);

        /* A gap in seq. */
        bad = json_deep_copy(good);
        ev = json_array_get(json_object_get(json_array_get(json_object_get(bad, "incidents"), 0), "events"), 1);
        json_object_set_new(ev, "seq", json_integer(7));
        assert_int_equal(incident_engine_load_incidents(h.engine, bad, h.now, &error), -EBADMSG);
        free(error);
        error = NULL;
        json_decref(bad);

        /* Another version. */
        bad = json_deep_copy(good);
        json_object_set_new(bad, "version", json_integer(2));
        assert_int_equal(incident_engine_load_incidents(h.engine, bad, h.now, &error), -EPROTONOSUPPORT);
        free(error);
        json_decref(bad);
        json_decref(good);
        h_stop(&h);
}

static void test_incident_json_shape(void **state) {
        Harness h = {};
        Step s[] = { h_restart("api.service") };
        setup_labels(&h, "api.service");
        h_rule(&h, 0, "api-latency", s, 1);
        h_start(&h, false);
        Incident *i = fire(&h, 0, SERIES);

        json_t *j = incident_to_json(i, "testhost", true);
        static const char *const keys[] = { "id",          "rule",        "series",       "host",  "state",
                                            "detected_at", "resolved_at", "mttr_seconds", "events" };
        assert_int_equal(json_object_size(j), ELEMENTSOF(keys));
        for (size_t k = 0; k < ELEMENTSOF(keys); k++)
                assert_non_null(json_object_get(j, keys[k]));
        assert_true(json_is_null(json_object_get(j, "resolved_at")));
        assert_true(json_is_null(json_object_get(j, "mttr_seconds")));
        assert_string_equal(json_string_value(json_object_get(j, "state")), "remediating");
        assert_string_equal(json_string_value(json_object_get(j, "detected_at")), "2023-11-14T22:13:20.000Z");
        assert_int_equal(strlen(json_string_value(json_object_get(j, "id"))), 32);
        json_t *e0 = json_array_get(json_object_get(j, "events"), 0);
        assert_int_equal(json_object_size(e0), 5);
        assert_int_equal(json_integer_value(json_object_get(e0, "seq")), 1);
        assert_string_equal(json_string_value(json_object_get(e0, "kind")), "detected");
        assert_true(json_is_object(json_object_get(e0, "attrs")));
        json_decref(j);

        j = incident_event_payload(i, "testhost", &i->events[1]);
        assert_int_equal(json_integer_value(json_object_get(j, "version")), 1);
        assert_null(json_object_get(json_object_get(j, "incident"), "events"));
        assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "event"), "seq")), 2);
        json_decref(j);

        Incident *found;
        char id[ID128_STRING_MAX];
        id128_to_string(&i->id, id);
        id[8] = 0;
        assert_int_equal(incident_engine_find_prefix(h.engine, id, &found), 0);
        assert_ptr_equal(found, i);
        assert_int_equal(incident_engine_find_prefix(h.engine, "ab", &found), -EINVAL);
        assert_int_equal(incident_engine_find_prefix(h.engine, "ffff", &found), -ENOENT);
        assert_int_equal(incident_engine_find_prefix(h.engine, "zzzz", &found), -EINVAL);
        h_stop(&h);
}

static void test_values_for_humans(void **state) {
        char *s = incident_describe_value("http_request_duration_seconds", 0.52, 0.15, 0.11, 0.19);
        assert_string_equal(s, "0.52 s, expected 0.15 s (0.11\u20130.19)");
        free(s);
        s = incident_describe_value(
                "process_resident_memory_bytes",
                3.0 * 1024 * 1024 * 1024,
                1024.0 * 1024 * 1024,
                512.0 * 1024 * 1024,
                1536.0 * 1024 * 1024);
        assert_string_equal(s, "3 GiB, expected 1 GiB (0.5\u20131.5)");
        free(s);
        s = incident_describe_value("http_requests_total", 12.5, NAN, NAN, NAN);
        assert_string_equal(s, "12.5/s, no expectation yet");
        free(s);
        s = incident_describe_value("queue_depth", 1234567, 100, 90, 110);
        assert_string_equal(s, "1.23e+06, expected 100 (90\u2013110)");
        free(s);
        /* A static threshold: the band is the expectation. */
        s = incident_describe_value("demo_latency_seconds", 0.9, NAN, NAN, 0.5);
        assert_string_equal(s, "0.9 s, expected at most 0.5 s");
        free(s);
        s = incident_describe_value("free_bytes", 1024, NAN, 4096, NAN);
        assert_string_equal(s, "1 KiB, expected at least 4 KiB");
        free(s);
        s = incident_describe_value("x", 7, NAN, 1, 5);
        assert_string_equal(s, "7, expected 1\u20135");
        free(s);
        char buf[INCIDENT_VALUE_MAX];
        assert_string_equal(incident_format_value(buf, sizeof(buf), "x", NAN), "n/a");
        assert_string_equal(incident_format_elapsed(buf, sizeof(buf), 3046228), "3.05s");
        assert_string_equal(incident_format_elapsed(buf, sizeof(buf), 72400000), "1m12s");
        assert_string_equal(incident_format_elapsed(buf, sizeof(buf), 250400), "250ms");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table_is_complete),
                cmocka_unit_test(test_event_kinds_closed_list),
                cmocka_unit_test(test_restart_resolves_with_mttr),
                cmocka_unit_test(test_next_step_then_escalated),
                cmocka_unit_test(test_reopen_within_window),
                cmocka_unit_test(test_breaker_stops_actions),
                cmocka_unit_test(test_cooldown_and_rate_limit),
                cmocka_unit_test(test_host_rate_limit),
                cmocka_unit_test(test_observe_changes_nothing),
                cmocka_unit_test(test_dry_run_changes_nothing),
                cmocka_unit_test(test_silence_with_expiry),
                cmocka_unit_test(test_foreign_restart_grace),
                cmocka_unit_test(test_loop_lag),
                cmocka_unit_test(test_unit_states),
                cmocka_unit_test(test_preflight_error_fails_step),
                cmocka_unit_test(test_target_busy_then_target_cooldown),
                cmocka_unit_test(test_target_not_allowed_moves_on),
                cmocka_unit_test(test_recovery_during_action),
                cmocka_unit_test(test_action_failure),
                cmocka_unit_test(test_quiet_recovery),
                cmocka_unit_test(test_reopen_while_action_runs),
                cmocka_unit_test(test_executor_skips),
                cmocka_unit_test(test_no_secret_in_attrs),
                cmocka_unit_test(test_persistence_round_trip),
                cmocka_unit_test(test_crash_reconciliation),
                cmocka_unit_test(test_crash_restart_not_done),
                cmocka_unit_test(test_crash_undoable_unknown),
                cmocka_unit_test(test_undo_obligation_reload_and_max_hold),
                cmocka_unit_test(test_max_hold_escalates_open_incident),
                cmocka_unit_test(test_corrupt_state_is_refused),
                cmocka_unit_test(test_incident_json_shape),
                cmocka_unit_test(test_values_for_humans),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Shared by the remediation integration tests: start the peer and the loop with its two contexts (acting
 * and dry run), build Steps in C (the rule parser is not needed for this), start an action, run the loop
 * until its result arrives (bounded), and keep a copy of the result to assert on.
 */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "peers.h"
#include "remediation.h"
#include "util.h"

typedef struct Captured {
        bool done;
        ActionOutcome outcome;
        bool dry_run;
        bool is_undo;
        int error;
        char *message;
        char *target;
        ActionUndo *undo;
        char **keys, **values;
        size_t n_attrs;
} Captured;

static inline void captured_done(Captured *c) {
        free(c->message);
        free(c->target);
        action_undo_free(c->undo);
        strv_free_n(c->keys, c->n_attrs);
        strv_free_n(c->values, c->n_attrs);
        *c = (Captured){};
}

static inline void capture_cb(Action *a, ActionResult *r, void *userdata) {
        Captured *c = userdata;

        assert_false(c->done); /* exactly once */
        c->done = true;
        c->outcome = r->outcome;
        c->dry_run = r->dry_run;
        c->is_undo = r->is_undo;
        c->error = r->error;
        assert_non_null(r->message);
        c->message = strdup(r->message);
        c->target = r->target ? strdup(r->target) : NULL;
        c->undo = action_result_take_undo(r);
        c->keys = calloc(r->n_attrs + 1, sizeof(char *));
        c->values = calloc(r->n_attrs + 1, sizeof(char *));
        assert_non_null(c->keys);
        assert_non_null(c->values);
        for (size_t i = 0; i < r->n_attrs; i++) {
                c->keys[i] = strdup(r->attrs[i].key);
                c->values[i] = strdup(r->attrs[i].value);
        }
        c->n_attrs = r->n_attrs;
        fprintf(stderr, "  -> %s: %s\n", action_outcome_to_string(r->outcome), r->message);
}

static inline const char *captured_attr(const Captured *c, const char *key) {
        for (size_t i = 0; i < c->n_attrs; i++)
                if (streq(c->keys[i], key))
                        return c->values[i];
        return NULL;
}

/* Run the loop until the action reports, at most timeout. */
static inline void run_until_done(sd_event *e, Captured *c, usec_t timeout_usec) {
        usec_t end = now(CLOCK_MONOTONIC) + timeout_usec;

        while (!c->done) {
                assert_true(now(CLOCK_MONOTONIC) < end);
                assert_true(sd_event_run(e, 50 * USEC_PER_MSEC) >= 0);
        }
}

/* Start a step and wait for its result. */
static inline void run_step(
        RemediationCtx *ctx, sd_event *e, const Step *s, const TemplateVars *vars, Captured *c, usec_t timeout_usec) {
        captured_done(c);
        assert_int_equal(remediation_start(ctx, s, vars, capture_cb, c, NULL), 0);
        assert_false(c->done); /* never called from inside remediation_start() */
        run_until_done(e, c, timeout_usec);
}

static inline void
        run_undo(RemediationCtx *ctx, sd_event *e, const ActionUndo *u, Captured *c, usec_t timeout_usec) {
        captured_done(c);
        assert_int_equal(remediation_undo(ctx, u, capture_cb, c, NULL), 0);
        assert_false(c->done);
        run_until_done(e, c, timeout_usec);
}

/* A templated target must pass the step's targets: allow-list. With `wrong` the step is refused (and
 * nothing happens); with `right` it runs and succeeds. */
static inline void run_allow_list(
        RemediationCtx *ctx,
        sd_event *e,
        Step *s,
        const TemplateVars *vars,
        char **wrong,
        char **right,
        Captured *c,
        usec_t timeout_usec) {
        s->targets = wrong;
        s->n_targets = 1;
        run_step(ctx, e, s, vars, c, timeout_usec);
        assert_int_equal(c->outcome, ACTION_OUTCOME_FAILED);
        assert_true(c->message && strstr(c->message, "allow-list"));
        s->targets = right;
        s->n_targets = 1;
        run_step(ctx, e, s, vars, c, timeout_usec);
        assert_int_equal(c->outcome, ACTION_OUTCOME_SUCCEEDED);
}

/* What main() makes of a peer's start: 0 to go on, else the exit code (skipped when the peer is not
 * installed here, failed otherwise), with the reason on stderr. */
static inline int peer_start_verdict(int r, const char *what) {
        if (r == -EOPNOTSUPP) {
                fprintf(stderr, "skipping: %s cannot run here (not installed)\n", what);
                return PEER_SKIP;
        }
        if (r < 0) {
                fprintf(stderr, "%s did not start: %s\n", what, strerror(-r));
                return 1;
        }
        return 0;
}

/* The two contexts every test uses on one loop: one that acts and one in dry-run mode. */
static inline int contexts_new(
        sd_event *e, sd_bus *bus, CurlGlue *glue, RemediationCtx **ret_ctx, RemediationCtx **ret_dry) {
        int r = remediation_ctx_new(e, bus, glue, 0, ret_ctx);
        if (r >= 0)
                r = remediation_ctx_new(e, bus, glue, REMEDIATION_DRY_RUN, ret_dry);
        return r;
}

static inline void contexts_free(RemediationCtx *ctx, RemediationCtx *dry) {
        remediation_ctx_free(ctx);
        remediation_ctx_free(dry);
}

static inline Template tmpl(const char *text) {
        return (Template){ .text = (char *) text, .templated = text && strstr(text, "${") != NULL };
}

static inline Step step_new(ActionKind kind) {
        return (Step){
                .action = kind,
                .verify_usec = 5 * USEC_PER_MINUTE,
                .settle_usec = 5 * USEC_PER_SEC,
                .signal = SIGTERM,
                .weight = -1,
                .max_hold_usec = USEC_PER_HOUR,
        };
}

static inline char *strjoin_path(const char *a, const char *b) {
        char *p = NULL;
        assert_true(asprintf(&p, "%s/%s", a, b) > 0);
        return p;
}

static inline bool contains(const char *haystack, const char *needle) {
        return haystack && strstr(haystack, needle);
}

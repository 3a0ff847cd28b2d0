/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A test double of the evaluator contract (supervisor/evaluator.h) for test-manager: it lets the manager's
 * own logic (reload and swap, source handling, persistence, API) be tested without depending on detector
 * behaviour. It is never linked into a program.
 *
 * Behaviour: every sample is matched against every rule's selector; a match produces one row whose
 * verdict is "anomalous" when the value is above 100, and the rule fires (EVAL_FIRING) on the first such
 * sample of a series and resolves (EVAL_RESOLVED) on the first one at or below 100. Series are counted.
 * evaluator_save writes "EVALDBL1 <samples> <series>\n"; load accepts exactly that (else -EBADMSG, or
 * -EPROTONOSUPPORT for "EVALDBL9") and restores the sample count. evaluator_adopt copies the counts.
 * evaluator_new_full() refuses rules named "bad-eval*".
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "evaluator.h"
#include "hashmap.h"
#include "strbuf.h"

typedef struct SeriesState {
        char *key;
        bool firing[64];
} SeriesState;

struct Evaluator {
        const Config *config;
        HashMap *series;
        EvaluatorStats stats;
        uint64_t restored_samples;
};

int evaluator_new(const Config *config, Evaluator **ret) {
        Evaluator *e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->config = config;
        if (hashmap_new(&e->series) < 0) {
                free(e);
                return -ENOMEM;
        }
        *ret = e;
        return 0;
}

/* Refuses rules named "bad-eval*", as the real evaluator refuses detector parameters it cannot run. */
int evaluator_new_full(const Config *config, const EvaluatorOptions *opts, Evaluator **ret) {
        for (size_t i = 0; i < config->n_rules; i++)
                if (startswith(config->rules[i].name, "bad-eval")) {
                        if (opts && opts->ret_bad_rule)
                                *opts->ret_bad_rule = i;
                        return -EINVAL;
                }
        return evaluator_new(config, ret);
}

Evaluator *evaluator_free(Evaluator *e) {
        size_t it = 0;
        void *v;

        if (!e)
                return NULL;
        while (hashmap_iterate(e->series, &it, NULL, NULL, &v)) {
                SeriesState *s = v;
                free(s->key);
                free(s);
        }
        hashmap_free(e->series);
        free(e);
        return NULL;
}

static char *series_key(const SampleIn *s) {
        StrBuf b = STRBUF_INIT;

        (void) strbuf_printf(&b, "%s{", s->metric);
        for (size_t i = 0; i < s->n_labels; i++)
                (void) strbuf_printf(&b, "%s%s=\"%s\"", i ? "," : "", s->labels[i].name, s->labels[i].value);
        (void) strbuf_putc(&b, '}');
        return strbuf_steal(&b);
}

int evaluator_push(Evaluator *e, const SampleIn *s, EvalCallback cb, void *userdata) {
        _cleanup_free_ char *key = series_key(s);
        SeriesState *st;

        if (!key)
                return -ENOMEM;
        if (!isfinite(s->value)) {
                e->stats.skipped_nonfinite++;
                return 0;
        }
        e->stats.samples++;
        st = hashmap_get(e->series, key, strlen(key), hash_bytes(key, strlen(key)));
        if (!st) {
                st = calloc(1, sizeof(*st));
                if (!st)
                        return -ENOMEM;
                st->key = TAKE_PTR(key);
                if (hashmap_put(e->series, st->key, strlen(st->key), hash_bytes(st->key, strlen(st->key)), st) <
                    0) {
                        free(st->key);
                        free(st);
                        return -ENOMEM;
                }
                e->stats.series++;
        }
        for (size_t i = 0; i < e->config->n_rules && i < 64; i++) {
                const Rule *r = &e->config->rules[i];
                EvalRow row = {
                        .rule = r,
                        .rule_index = i,
                        .series_key = st->key,
                        .subject_key = st->key,
                        .metric = s->metric,
                        .labels = s->labels,
                        .n_labels = s->n_labels,
                        .t = s->t,
                        .value = s->value,
                        .x = s->value,
                        .verdict = { .score = s->value > 100 ? 1 : 0,
                                     .p = 1,
                                     .anomalous = s->value > 100,
                                     .expected = 50,
                                     .lower = 0,
                                     .upper = 100 },
                        .detected_at = NAN,
                        .resolved_at = NAN,
                };
                if (!r->series || !selector_matches(r->series, s->metric, s->labels, s->n_labels))
                        continue;
                if (row.verdict.anomalous && !st->firing[i]) {
                        st->firing[i] = true;
                        row.transition = EVAL_FIRING;
                        row.detected_at = s->t;
                } else if (!row.verdict.anomalous && st->firing[i]) {
                        st->firing[i] = false;
                        row.transition = EVAL_RESOLVED;
                        row.resolved_at = s->t;
                }
                row.firing = st->firing[i];
                e->stats.rows++;
                cb(&row, userdata);
        }
        return 0;
}

int evaluator_tick(Evaluator *e, double t, EvalCallback cb, void *userdata) {
        return 0;
}

int evaluator_adopt(Evaluator *e, Evaluator *old) {
        e->restored_samples = old->restored_samples + old->stats.samples;
        return 0;
}

bool evaluator_is_firing(const Evaluator *e, size_t rule_index, const char *series_key) {
        SeriesState *st = hashmap_get(
                e->series, series_key, strlen(series_key), hash_bytes(series_key, strlen(series_key)));
        return st && rule_index < 64 && st->firing[rule_index];
}

void evaluator_get_stats(const Evaluator *e, EvaluatorStats *ret) {
        *ret = e->stats;
}

int evaluator_save(const Evaluator *e, FILE *f) {
        if (fprintf(f,
                    "EVALDBL1 %" PRIu64 " %" PRIu64 "\n",
                    e->restored_samples + e->stats.samples,
                    e->stats.series) < 0)
                return -EIO;
        return 0;
}

int evaluator_load(Evaluator *e, FILE *f) {
        char magic[16] = "";
        uint64_t samples, series;

        if (fscanf(f, "%15s %" SCNu64 " %" SCNu64, magic, &samples, &series) != 3)
                return -EBADMSG;
        if (streq(magic, "EVALDBL9"))
                return -EPROTONOSUPPORT;
        if (!streq(magic, "EVALDBL1"))
                return -EBADMSG;
        e->restored_samples = samples;
        return 0;
}

/* For the test: how many samples the state restored/adopted carries. */
uint64_t evaluator_double_restored(const Evaluator *e);
uint64_t evaluator_double_restored(const Evaluator *e) {
        return e->restored_samples;
}

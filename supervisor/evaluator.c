/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The evaluator; see evaluator.h for the contract and the state machine.
 *
 * Data layout. Series are interned in a hash map keyed by their canonical key (series.h). Each series
 * carries, computed once when it is first seen, the list of rules whose selector matches it (a Match):
 * for an ordinary rule the Match owns the rule's Track for that series (the for/recover_for state followed
 * by the detector's state blob, one allocation); for a burnrate rule it points at the join Group (owned by
 * the rule) that the series feeds. A series also keeps its previous sample, which is all the rate transform
 * needs. So a sample costs one hash lookup (none through evaluator_push_series()), and per matching rule one
 * transform, one detector update and a few comparisons.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "evaluator.h"
#include "hashmap.h"
#include "series.h"
#include "strbuf.h"
#include "tz.h"

#define STALE_DEFAULT_SECONDS (7 * 86400.0)
#define EXPIRY_CHECK_SECONDS 60.0

enum {
        ROLE_ERRORS = 1,
        ROLE_TOTAL = 2,
};

typedef struct Track {
        double detected_at;  /* start of the current anomalous run; NAN when normal */
        double normal_since; /* while firing: start of the current normal run; NAN otherwise */
        bool pending, firing;
        uint8_t reserved[6];
        uint64_t state[]; /* the detector's blob */
} Track;

typedef struct Group {
        char *key; /* `{a="x"}`, "{}" for the default group */
        Label *labels;
        size_t n_labels;
        double last_t; /* of the last detector update; NAN before the first */
        double err_pending, tot_pending;
        double x, x2; /* rates at the last update */
        Verdict verdict;
        Track *track;
} Group;

typedef struct Match {
        uint32_t rule;
        uint8_t role;
        Track *track; /* ordinary rules */
        Group *group; /* burnrate */
} Match;

struct EvalSeries {
        char *storage; /* one allocation: labels, key, metric, label strings */
        const char *key;
        size_t key_len;
        uint64_t hash;
        char *metric;
        Label *labels;
        size_t n_labels;
        SampleType type;
        bool counter;
        double last_t, last_value; /* NAN before the first sample */
        Match *matches;
        size_t n_matches;
        size_t index; /* in Evaluator.series */
};

typedef struct EvalRule {
        const Rule *rule;
        DetectorParams params;
        size_t track_size;
        bool burnrate;
        double for_s, recover_s, absent_s;
        const TzInfo *tz;
        int64_t tz_from, tz_until;
        int32_t tz_off;
        /* burnrate */
        HashMap *groups;
        Group **group_list;
        size_t n_groups, alloc_groups;
        /* absent_for */
        double last_seen; /* last sample of a matching series; NAN if none */
        bool absent_firing;
        double absent_since; /* when data was last seen before the absence (detected_at) */
        double back_at;      /* first sample after the absence; NAN while absent */
        char *absent_key;
} EvalRule;

struct Evaluator {
        const Config *config;
        EvalRule *rules;
        size_t n_rules;
        HashMap *map;
        EvalSeries **series;
        size_t n_series, alloc_series;
        StrBuf scratch;
        EvaluatorStats stats;
        double now, start_t; /* latest time seen; first time seen */
        double stale_s, next_expiry;
        bool uses_absent;
        TzInfo **tzs;
        size_t n_tzs;
};

/* ---- construction ---- */

static DetectorDirection map_direction(Direction d) {
        return d == DIRECTION_UP      ? DETECTOR_DIRECTION_UP
                : d == DIRECTION_DOWN ? DETECTOR_DIRECTION_DOWN
                                      : DETECTOR_DIRECTION_BOTH;
}

/* A rule's DetectorSpec (rule-file units) as DetectorParams (seconds, fractions). Parameters a kind does
 * not have keep the detector's defaults: the loader fills halflife for every kind, but only ewma has it. */
static int params_from_spec(const DetectorSpec *d, DetectorParams *p) {
        static const DetectorType types[_DETECTOR_KIND_MAX] = {
                [DETECTOR_EWMA] = DETECTOR_TYPE_EWMA,           [DETECTOR_SEASONAL] = DETECTOR_TYPE_SEASONAL,
                [DETECTOR_THRESHOLD] = DETECTOR_TYPE_THRESHOLD, [DETECTOR_CUSUM] = DETECTOR_TYPE_CUSUM,
                [DETECTOR_BURNRATE] = DETECTOR_TYPE_BURNRATE,   [DETECTOR_TREND] = DETECTOR_TYPE_TREND,
        };
        if ((unsigned) d->kind >= _DETECTOR_KIND_MAX)
                return -EINVAL;
        detector_params_init(p, types[d->kind]);
        p->threshold = d->threshold;
        p->direction = map_direction(d->direction);
        if (d->has_warmup) {
                p->has_warmup = true;
                p->warmup_seconds = (double) d->warmup_usec / USEC_PER_SEC;
                p->warmup_samples = d->warmup_samples;
        }
        switch (d->kind) {
        case DETECTOR_EWMA:
                if (d->halflife_usec > 0)
                        p->halflife_seconds = (double) d->halflife_usec / USEC_PER_SEC;
                break;
        case DETECTOR_SEASONAL:
                if (d->n_periods > DETECTOR_PERIODS_MAX)
                        return -EINVAL;
                p->n_periods = d->n_periods;
                for (size_t i = 0; i < d->n_periods; i++)
                        p->periods_seconds[i] = (double) d->periods_usec[i] / USEC_PER_SEC;
                p->resolution_seconds = (double) d->resolution_usec / USEC_PER_SEC;
                break;
        case DETECTOR_CUSUM:
                p->drift = d->drift;
                break;
        case DETECTOR_THRESHOLD:
                p->has_above = d->has_above;
                p->above = d->above;
                p->has_below = d->has_below;
                p->below = d->below;
                break;
        case DETECTOR_BURNRATE:
                p->objective = d->objective / 100;
                if (d->n_windows > 0) {
                        if (d->n_windows > DETECTOR_BURN_WINDOWS_MAX)
                                return -EINVAL;
                        p->n_windows = d->n_windows;
                        for (size_t i = 0; i < d->n_windows; i++) {
                                p->windows[i].long_seconds = (double) d->windows[i].long_usec / USEC_PER_SEC;
                                p->windows[i].short_seconds = (double) d->windows[i].short_usec / USEC_PER_SEC;
                                p->windows[i].factor = d->windows[i].factor;
                        }
                }
                break;
        case DETECTOR_TREND:
                if (!d->has_limit)
                        return -EINVAL;
                p->limit = d->limit;
                if (d->horizon_usec > 0)
                        p->horizon_seconds = (double) d->horizon_usec / USEC_PER_SEC;
                if (d->window_usec > 0)
                        p->window_seconds = (double) d->window_usec / USEC_PER_SEC;
                break;
        default:
                return -EINVAL;
        }
        return detector_params_prepare(p);
}

static const TzInfo *get_tz(Evaluator *e, const char *dir, const char *name, int *ret_error) {
        const char *n = name && *name ? name : "UTC";
        /* Rules usually share a handful of zones: load each once. tzs[i] pairs with the rule that loaded it. */
        for (size_t i = 0; i < e->n_rules && i < e->n_tzs; i++)
                if (e->tzs[i] && streq_ptr(e->rules[i].rule->timezone ?: "UTC", n))
                        return e->tzs[i];
        TzInfo *tz = NULL;
        int r = tz_load(dir, n, &tz);
        if (r < 0) {
                *ret_error = r;
                return NULL;
        }
        e->tzs[e->n_tzs - 1] = tz;
        return tz;
}

static void group_free(Group *g) {
        if (!g)
                return;
        free(g->track);
        free(g->key);
        free(g->labels);
        free(g);
}

static void series_free(EvalSeries *s) {
        if (!s)
                return;
        for (size_t i = 0; i < s->n_matches; i++)
                free(s->matches[i].track);
        free(s->matches);
        free(s->storage);
        free(s);
}

Evaluator *evaluator_free(Evaluator *e) {
        if (!e)
                return NULL;
        for (size_t i = 0; i < e->n_series; i++)
                series_free(e->series[i]);
        free(e->series);
        hashmap_free(e->map);
        for (size_t i = 0; i < e->n_rules; i++) {
                EvalRule *R = &e->rules[i];
                for (size_t j = 0; j < R->n_groups; j++)
                        group_free(R->group_list[j]);
                free(R->group_list);
                hashmap_free(R->groups);
                free(R->absent_key);
        }
        for (size_t i = 0; i < e->n_tzs; i++)
                tz_free(e->tzs[i]);
        free(e->tzs);
        free(e->rules);
        strbuf_done(&e->scratch);
        free(e);
        return NULL;
}

int evaluator_new_full(const Config *config, const EvaluatorOptions *opts, Evaluator **ret) {
        static const EvaluatorOptions defaults = {};
        int r;

        if (!opts)
                opts = &defaults;
        _cleanup_(evaluator_freep) Evaluator *e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->config = config;
        e->now = NAN;
        e->start_t = NAN;
        e->next_expiry = -INFINITY;
        e->stale_s = opts->stale_seconds > 0 ? opts->stale_seconds : STALE_DEFAULT_SECONDS;
        r = hashmap_new(&e->map);
        if (r < 0)
                return r;
        if (config->n_rules > 0) {
                e->rules = calloc(config->n_rules, sizeof(EvalRule));
                e->tzs = calloc(config->n_rules, sizeof(TzInfo *));
                if (!e->rules || !e->tzs)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < config->n_rules; i++) {
                const Rule *rule = &config->rules[i];
                EvalRule *R = &e->rules[i];

                e->n_rules = i + 1;
                e->n_tzs = i + 1;
                R->rule = rule;
                R->last_seen = R->absent_since = R->back_at = NAN;
                r = params_from_spec(&rule->detector, &R->params);
                if (r < 0) {
                        if (opts->ret_bad_rule)
                                *opts->ret_bad_rule = i;
                        return r;
                }
                R->burnrate = rule->detector.kind == DETECTOR_BURNRATE;
                R->track_size = sizeof(Track) + detector_state_size(&R->params);
                R->for_s = (double) rule->for_usec / USEC_PER_SEC;
                R->recover_s = (double) rule->recover_for_usec / USEC_PER_SEC;
                R->absent_s = (double) rule->absent_for_usec / USEC_PER_SEC;
                if (R->absent_s > 0) {
                        e->uses_absent = true;
                        const char *text = rule->series ? rule->series->text : rule->name;
                        R->absent_key = strdup(text ?: rule->name);
                        if (!R->absent_key)
                                return -ENOMEM;
                }
                int tzr = 0;
                R->tz = get_tz(e, opts->zoneinfo_dir, rule->timezone, &tzr);
                if (!R->tz) {
                        if (opts->ret_bad_rule)
                                *opts->ret_bad_rule = i;
                        return tzr;
                }
                R->tz_from = R->tz_until = 0; /* empty cache */
                if (R->burnrate) {
                        r = hashmap_new(&R->groups);
                        if (r < 0)
                                return r;
                }
        }
        *ret = TAKE_PTR(e);
        return 0;
}

int evaluator_new(const Config *config, Evaluator **ret) {
        return evaluator_new_full(config, NULL, ret);
}

/* ---- interning ---- */

static Track *track_new(const EvalRule *R) {
        Track *k = aligned_alloc(8, (R->track_size + 7) & ~(size_t) 7);
        if (!k)
                return NULL;
        memset(k, 0, sizeof(Track));
        k->detected_at = k->normal_since = NAN;
        detector_state_init(&R->params, k->state);
        return k;
}

/* One allocation holding a copy of labels (the Label array first, so the allocation is the array), the key
 * and the metric; returns it (free() it), with pointers to the copies. */
static char *copy_identity(
        const char *key,
        size_t key_len,
        const char *metric,
        const Label *labels,
        size_t n,
        const char **ret_key,
        char **ret_metric,
        Label **ret_labels) {
        size_t size = key_len + 1 + strlen(metric) + 1 + n * sizeof(Label);
        for (size_t i = 0; i < n; i++)
                size += strlen(labels[i].name) + strlen(labels[i].value) + 2;
        char *buf = malloc(size + _Alignof(Label));
        if (!buf)
                return NULL;
        /* Labels first (aligned), then strings. */
        Label *l = (Label *) buf;
        char *p = buf + n * sizeof(Label);
        memcpy(p, key, key_len);
        p[key_len] = 0;
        *ret_key = p;
        p += key_len + 1;
        size_t ml = strlen(metric);
        memcpy(p, metric, ml + 1);
        *ret_metric = p;
        p += ml + 1;
        for (size_t i = 0; i < n; i++) {
                size_t a = strlen(labels[i].name) + 1, b = strlen(labels[i].value) + 1;
                memcpy(p, labels[i].name, a);
                l[i].name = p;
                p += a;
                memcpy(p, labels[i].value, b);
                l[i].value = p;
                p += b;
        }
        *ret_labels = l;
        return buf;
}

static int group_get(EvalRule *R, const EvalSeries *s, StrBuf *scratch, Group **ret) {
        const DetectorSpec *d = &R->rule->detector;
        Label sel[64];
        size_t n = 0;

        /* The group's labels: the series' values of the `on` labels ("" when missing), sorted; its key is
         * `{a="x"}`, or "{}" for the default group of everything. */
        for (size_t i = 0; i < d->n_on && n < ELEMENTSOF(sel); i++) {
                const char *v = "";
                for (size_t j = 0; j < s->n_labels; j++)
                        if (streq(s->labels[j].name, d->on[i]))
                                v = s->labels[j].value;
                sel[n++] = (Label){ d->on[i], v };
        }
        series_labels_sort(sel, n);
        strbuf_reset(scratch);
        if (n == 0)
                strbuf_puts(scratch, "{}");
        else
                series_key_append(scratch, "", sel, n);
        if (strbuf_failed(scratch))
                return -ENOMEM;
        const char *key = strbuf_str(scratch);
        size_t len = scratch->len;
        uint64_t h = hash_bytes(key, len);
        Group *g = hashmap_get(R->groups, key, len, h);
        if (g) {
                *ret = g;
                return 0;
        }

        g = calloc(1, sizeof(*g));
        if (!g)
                return -ENOMEM;
        g->key = strndup(key, len);
        g->track = track_new(R);
        const char *dummy_key;
        char *dummy_metric;
        char *storage = copy_identity("", 0, "", sel, n, &dummy_key, &dummy_metric, &g->labels);
        if (!g->key || !g->track || !storage) {
                free(storage);
                g->labels = NULL;
                group_free(g);
                return -ENOMEM;
        }
        g->n_labels = n;
        g->last_t = NAN;
        g->x = g->x2 = NAN;
        g->verdict = (Verdict){ .p = 1, .expected = NAN, .lower = NAN, .upper = NAN, .warming_up = true };
        if (GREEDY_REALLOC(R->group_list, R->alloc_groups, R->n_groups + 1) < 0 ||
            hashmap_put(R->groups, g->key, len, h, g) < 0) {
                group_free(g);
                return -ENOMEM;
        }
        R->group_list[R->n_groups++] = g;
        *ret = g;
        return 0;
}

static int compute_matches(Evaluator *e, EvalSeries *s) {
        for (size_t i = 0; i < e->n_rules; i++) {
                EvalRule *R = &e->rules[i];
                const Rule *rule = R->rule;
                Match m = { .rule = (uint32_t) i };

                if (!R->burnrate) {
                        if (!rule->series ||
                            !selector_matches(rule->series, s->metric, s->labels, s->n_labels))
                                continue;
                        m.track = track_new(R);
                        if (!m.track)
                                return -ENOMEM;
                } else {
                        const DetectorSpec *d = &rule->detector;
                        if (d->errors && selector_matches(d->errors, s->metric, s->labels, s->n_labels))
                                m.role |= ROLE_ERRORS;
                        if (d->total && selector_matches(d->total, s->metric, s->labels, s->n_labels))
                                m.role |= ROLE_TOTAL;
                        if (!m.role)
                                continue;
                        int r = group_get(R, s, &e->scratch, &m.group);
                        if (r < 0)
                                return r;
                }
                Match *n = reallocarray(s->matches, s->n_matches + 1, sizeof(Match));
                if (!n) {
                        free(m.track);
                        return -ENOMEM;
                }
                s->matches = n;
                s->matches[s->n_matches++] = m;
        }
        return 0;
}

static bool labels_sorted(const Label *l, size_t n) {
        for (size_t i = 1; i < n; i++)
                if (strcmp(l[i - 1].name, l[i].name) > 0)
                        return false;
        return true;
}

static EvalSeries *lookup_key(const Evaluator *e, const char *key, size_t len) {
        return hashmap_get(e->map, key, len, hash_bytes(key, len));
}

int evaluator_intern(
        Evaluator *e, const char *metric, const Label *labels, size_t n_labels, SampleType type, EvalSeries **ret) {
        _cleanup_free_ Label *sorted = NULL;
        int r;

        if (!metric)
                return -EINVAL;
        if (n_labels > 0 && !labels_sorted(labels, n_labels)) {
                sorted = malloc(n_labels * sizeof(Label));
                if (!sorted)
                        return -ENOMEM;
                memcpy(sorted, labels, n_labels * sizeof(Label));
                series_labels_sort(sorted, n_labels);
                labels = sorted;
        }
        strbuf_reset(&e->scratch);
        r = series_key_append(&e->scratch, metric, labels, n_labels);
        if (r < 0)
                return r;
        uint64_t h = hash_bytes(e->scratch.data, e->scratch.len);
        EvalSeries *s = hashmap_get(e->map, e->scratch.data, e->scratch.len, h);
        if (s) {
                *ret = s;
                return 0;
        }

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->key_len = e->scratch.len;
        s->hash = h;
        s->storage = copy_identity(
                e->scratch.data, e->scratch.len, metric, labels, n_labels, &s->key, &s->metric, &s->labels);
        if (!s->storage) {
                free(s);
                return -ENOMEM;
        }
        s->n_labels = n_labels;
        s->type = type;
        s->counter = type == SAMPLE_COUNTER || (type == SAMPLE_UNKNOWN && series_name_is_counter(metric));
        s->last_t = s->last_value = NAN;

        r = compute_matches(e, s);
        if (r >= 0)
                r = GREEDY_REALLOC(e->series, e->alloc_series, e->n_series + 1);
        if (r >= 0)
                r = hashmap_put(e->map, s->key, s->key_len, h, s);
        if (r < 0) {
                series_free(s);
                return r;
        }
        s->index = e->n_series;
        e->series[e->n_series++] = s;
        e->stats.series++;
        *ret = s;
        return 0;
}

static inline const char *skey(const EvalSeries *s) {
        return s->key;
}

const char *eval_series_key(const EvalSeries *s) {
        return skey(s);
}

size_t eval_series_n_rules(const EvalSeries *s) {
        return s->n_matches;
}

/* ---- per sample ---- */

static inline double local_time(EvalRule *R, double t) {
        int64_t it = (int64_t) floor(t);
        if (it < R->tz_from || it >= R->tz_until)
                R->tz_off = tz_offset(R->tz, it, &R->tz_from, &R->tz_until);
        return t + R->tz_off;
}

static inline bool rule_rates(const EvalRule *R, const EvalSeries *s) {
        Transform tr = R->rule->transform;
        return tr == TRANSFORM_RATE || (tr == TRANSFORM_AUTO && s->counter);
}

/* x for an ordinary rule: the value, or the per-second rate since the previous sample. For a counter a
 * decrease is a reset (the new value is the increase); for a gauge with `transform: rate` it is a real
 * fall (a negative rate: memory freed by a restart is not a burst of growth). NAN when a rate has no
 * previous sample. */
static inline double transform_x(const EvalRule *R, const EvalSeries *s, double t, double v) {
        if (!rule_rates(R, s))
                return v;
        if (isnan(s->last_t))
                return NAN;
        double inc = v >= s->last_value || !s->counter ? v - s->last_value : v;
        return inc / (t - s->last_t);
}

/* A burnrate member's contribution over (last_t, t]: the counter increase, or value * interval for a raw
 * rate series. 0 for the first sample. */
static inline double member_amount(const EvalRule *R, const EvalSeries *s, double t, double v) {
        if (isnan(s->last_t))
                return 0;
        if (R->rule->transform == TRANSFORM_RAW)
                return v * (t - s->last_t);
        if (!rule_rates(R, s))
                return v * (t - s->last_t); /* auto on a gauge: it is a rate already */
        return v >= s->last_value ? v - s->last_value : v;
}

/* The for/recover_for state machine. Returns the transition; *ret_detected is the run's start to report,
 * *ret_resolved the resolution time (RESOLVED only). */
static EvalTransition step(
        Track *k, const EvalRule *R, bool anomalous, double t, double *ret_detected, double *ret_resolved) {
        EvalTransition tr = EVAL_NONE;
        *ret_resolved = NAN;
        if (anomalous) {
                k->normal_since = NAN;
                if (!k->pending && !k->firing) {
                        k->pending = true;
                        k->detected_at = t;
                        tr = EVAL_PENDING;
                }
                if (k->pending && !k->firing && t - k->detected_at >= R->for_s) {
                        k->firing = true;
                        k->pending = false;
                        tr = EVAL_FIRING;
                }
                *ret_detected = k->detected_at;
                return tr;
        }
        *ret_detected = k->detected_at;
        if (k->firing) {
                if (isnan(k->normal_since))
                        k->normal_since = t;
                if (t - k->normal_since >= R->recover_s) {
                        *ret_resolved = k->normal_since;
                        k->firing = false;
                        k->detected_at = k->normal_since = NAN;
                        tr = EVAL_RESOLVED;
                }
        } else if (k->pending) {
                k->pending = false;
                k->detected_at = NAN;
                tr = EVAL_CLEARED;
        }
        return tr;
}

static inline void verdict_none(Verdict *v) {
        *v = (Verdict){ .score = 0, .p = 1, .expected = NAN, .lower = NAN, .upper = NAN };
}

int evaluator_push_series(Evaluator *e, EvalSeries *s, double t, double value, EvalCallback cb, void *userdata) {
        if (_unlikely_(!isfinite(t) || !isfinite(value))) {
                e->stats.skipped_nonfinite++;
                return EVAL_SKIPPED_NONFINITE;
        }
        if (_unlikely_(!(t > s->last_t) && !isnan(s->last_t))) {
                e->stats.skipped_out_of_order++;
                return EVAL_SKIPPED_OUT_OF_ORDER;
        }
        e->stats.samples++;
        if (!(t <= e->now))
                e->now = t;
        if (isnan(e->start_t))
                e->start_t = t;

        for (size_t i = 0; i < s->n_matches; i++) {
                Match *m = &s->matches[i];
                EvalRule *R = &e->rules[m->rule];
                EvalRow row = {
                        .rule = R->rule,
                        .rule_index = m->rule,
                        .series_key = skey(s),
                        .metric = s->metric,
                        .labels = s->labels,
                        .n_labels = s->n_labels,
                        .subject_key = skey(s),
                        .subject_labels = s->labels,
                        .n_subject_labels = s->n_labels,
                        .t = t,
                        .value = value,
                        .detected_at = NAN,
                        .resolved_at = NAN,
                };
                Track *k;

                if (R->absent_firing && isnan(R->back_at))
                        R->back_at = t;
                R->last_seen = t;

                if (!R->burnrate) {
                        k = m->track;
                        row.x = transform_x(R, s, t, value);
                        if (isnan(row.x)) {
                                verdict_none(&row.verdict);
                                row.detected_at = k->detected_at;
                        } else {
                                DetectorSample ds = { .t = t, .x = row.x };
                                if (R->params.type == DETECTOR_TYPE_SEASONAL)
                                        ds.local_t = local_time(R, t);
                                else
                                        ds.local_t = t;
                                if (detector_update(&R->params, k->state, &ds, &row.verdict) == DETECTOR_OK)
                                        row.transition = step(
                                                k, R, row.verdict.anomalous, t, &row.detected_at, &row.resolved_at);
                                else
                                        row.detected_at = k->detected_at;
                        }
                } else {
                        Group *g = m->group;
                        k = g->track;
                        double amount = member_amount(R, s, t, value);
                        if (m->role & ROLE_ERRORS)
                                g->err_pending += amount;
                        if (m->role & ROLE_TOTAL)
                                g->tot_pending += amount;
                        row.subject_key = g->key;
                        row.subject_labels = g->labels;
                        row.n_subject_labels = g->n_labels;
                        if (isnan(g->last_t) || t > g->last_t) {
                                DetectorSample ds = { .t = t, .local_t = t };
                                if (!isnan(g->last_t)) {
                                        double dt = t - g->last_t;
                                        ds.x = g->err_pending / dt;
                                        ds.x2 = g->tot_pending / dt;
                                        g->err_pending = g->tot_pending = 0;
                                        g->x = ds.x;
                                        g->x2 = ds.x2;
                                } else
                                        g->err_pending = g->tot_pending = 0;
                                g->last_t = t;
                                if (detector_update(&R->params, k->state, &ds, &g->verdict) == DETECTOR_OK)
                                        row.transition = step(
                                                k, R, g->verdict.anomalous, t, &row.detected_at, &row.resolved_at);
                                else
                                        row.detected_at = k->detected_at;
                        } else
                                row.detected_at = k->detected_at;
                        row.x = g->x;
                        row.verdict = g->verdict;
                }
                row.firing = k->firing;
                e->stats.rows++;
                if (cb)
                        cb(&row, userdata);
        }
        s->last_t = t;
        s->last_value = value;
        return 0;
}

int evaluator_push(Evaluator *e, const SampleIn *in, EvalCallback cb, void *userdata) {
        EvalSeries *s;
        if (!isfinite(in->t) || !isfinite(in->value)) {
                e->stats.skipped_nonfinite++;
                return EVAL_SKIPPED_NONFINITE;
        }
        int r = evaluator_intern(e, in->metric, in->labels, in->n_labels, in->type, &s);
        if (r < 0)
                return r;
        return evaluator_push_series(e, s, in->t, in->value, cb, userdata);
}

/* ---- time without samples ---- */

static void emit_absent(
        Evaluator *e,
        size_t i,
        EvalTransition tr,
        double t,
        double detected,
        double resolved,
        EvalCallback cb,
        void *userdata) {
        EvalRule *R = &e->rules[i];
        const Selector *sel = R->rule->series;
        EvalRow row = {
                .rule = R->rule,
                .rule_index = i,
                .series_key = R->absent_key,
                .metric = sel && sel->metric ? sel->metric : "",
                .subject_key = R->absent_key,
                .absent = true,
                .t = t,
                .value = NAN,
                .x = NAN,
                .firing = tr == EVAL_ABSENT,
                .transition = tr,
                .detected_at = detected,
                .resolved_at = resolved,
                .from_tick = true,
        };
        verdict_none(&row.verdict);
        if (tr == EVAL_ABSENT) {
                row.verdict.anomalous = true;
                row.verdict.score = 1;
                row.verdict.p = 1e-16;
        }
        e->stats.rows++;
        if (cb)
                cb(&row, userdata);
}

static bool series_firing(const EvalSeries *s) {
        for (size_t i = 0; i < s->n_matches; i++)
                if (s->matches[i].track && (s->matches[i].track->firing || s->matches[i].track->pending))
                        return true;
        return false;
}

static void expire(Evaluator *e) {
        for (size_t i = 0; i < e->n_series;) {
                EvalSeries *s = e->series[i];
                if (!(e->now - s->last_t > e->stale_s) || series_firing(s)) {
                        i++;
                        continue;
                }
                hashmap_remove(e->map, skey(s), s->key_len, s->hash);
                e->series[i] = e->series[--e->n_series];
                e->series[i]->index = i;
                series_free(s);
                e->stats.expired++;
        }
}

int evaluator_tick(Evaluator *e, double t, EvalCallback cb, void *userdata) {
        if (!isfinite(t))
                return -EINVAL;
        if (!(t <= e->now))
                e->now = t;
        if (isnan(e->start_t))
                e->start_t = e->now;

        for (size_t i = 0; i < e->n_rules; i++) {
                EvalRule *R = &e->rules[i];
                if (!(R->absent_s > 0))
                        continue;
                if (!R->absent_firing) {
                        double ref = isnan(R->last_seen) ? e->start_t : R->last_seen;
                        if (e->now - ref >= R->absent_s) {
                                R->absent_firing = true;
                                R->absent_since = ref;
                                R->back_at = NAN;
                                emit_absent(e, i, EVAL_ABSENT, e->now, ref, NAN, cb, userdata);
                        }
                } else if (!isnan(R->back_at)) {
                        double since = R->absent_since;
                        R->absent_firing = false;
                        R->absent_since = NAN;
                        emit_absent(e, i, EVAL_RESOLVED, e->now, since, R->back_at, cb, userdata);
                        R->back_at = NAN;
                }
        }

        if (isfinite(e->stale_s) && e->now >= e->next_expiry) {
                expire(e);
                e->next_expiry = e->now + EXPIRY_CHECK_SECONDS;
        }
        return 0;
}

/* ---- queries ---- */

bool evaluator_is_firing(const Evaluator *e, size_t rule_index, const char *series_key) {
        if (rule_index >= e->n_rules || !series_key)
                return false;
        const EvalRule *R = &e->rules[rule_index];
        size_t len = strlen(series_key);
        if (R->absent_key && R->absent_firing && streq(R->absent_key, series_key))
                return true;
        if (R->burnrate) {
                Group *g = hashmap_get(R->groups, series_key, len, hash_bytes(series_key, len));
                return g && g->track->firing;
        }
        const EvalSeries *s = lookup_key(e, series_key, len);
        if (!s)
                return false;
        for (size_t i = 0; i < s->n_matches; i++)
                if (s->matches[i].rule == rule_index)
                        return s->matches[i].track->firing;
        return false;
}

bool evaluator_uses_absent(const Evaluator *e) {
        return e->uses_absent;
}

void evaluator_get_stats(const Evaluator *e, EvaluatorStats *ret) {
        *ret = e->stats;
        ret->series = e->n_series;
}

/* ---- reload ---- */

static const Match *find_match(const EvalSeries *s, size_t rule) {
        for (size_t i = 0; i < s->n_matches; i++)
                if (s->matches[i].rule == rule)
                        return &s->matches[i];
        return NULL;
}

/* For each rule of e, the index of the same rule (name and fingerprint) in old, or SIZE_MAX. */
static size_t *map_rules(const Evaluator *e, const Evaluator *old) {
        size_t *map = calloc(MAX(e->n_rules, (size_t) 1), sizeof(size_t));
        if (!map)
                return NULL;
        for (size_t i = 0; i < e->n_rules; i++) {
                map[i] = SIZE_MAX;
                for (size_t j = 0; j < old->n_rules; j++)
                        if (streq(e->rules[i].rule->name, old->rules[j].rule->name) &&
                            e->rules[i].rule->fingerprint == old->rules[j].rule->fingerprint &&
                            e->rules[i].track_size == old->rules[j].track_size) {
                                map[i] = j;
                                break;
                        }
        }
        return map;
}

int evaluator_adopt(Evaluator *e, Evaluator *old) {
        _cleanup_free_ size_t *map = map_rules(e, old);
        int r;

        if (!map)
                return -ENOMEM;
        for (size_t i = 0; i < old->n_series; i++) {
                const EvalSeries *os = old->series[i];
                EvalSeries *ns;
                r = evaluator_intern(e, os->metric, os->labels, os->n_labels, os->type, &ns);
                if (r < 0)
                        return r;
                ns->last_t = os->last_t;
                ns->last_value = os->last_value;
                for (size_t j = 0; j < ns->n_matches; j++) {
                        Match *m = &ns->matches[j];
                        if (!m->track || map[m->rule] == SIZE_MAX)
                                continue;
                        const Match *om = find_match(os, map[m->rule]);
                        if (om && om->track)
                                memcpy(m->track, om->track, e->rules[m->rule].track_size);
                }
        }
        for (size_t i = 0; i < e->n_rules; i++) {
                EvalRule *R = &e->rules[i];
                if (map[i] == SIZE_MAX)
                        continue;
                const EvalRule *O = &old->rules[map[i]];
                R->last_seen = O->last_seen;
                R->absent_firing = O->absent_firing;
                R->absent_since = O->absent_since;
                R->back_at = O->back_at;
                if (!R->burnrate)
                        continue;
                for (size_t j = 0; j < O->n_groups; j++) {
                        const Group *og = O->group_list[j];
                        size_t len = strlen(og->key);
                        uint64_t h = hash_bytes(og->key, len);
                        Group *g = hashmap_get(R->groups, og->key, len, h);
                        if (!g)
                                continue; /* only groups with a member series in e (all of old's are) */
                        g->last_t = og->last_t;
                        g->err_pending = og->err_pending;
                        g->tot_pending = og->tot_pending;
                        g->x = og->x;
                        g->x2 = og->x2;
                        g->verdict = og->verdict;
                        memcpy(g->track, og->track, R->track_size);
                }
        }
        if (!isnan(old->now) && !(old->now <= e->now))
                e->now = old->now;
        if (isnan(e->start_t) || old->start_t < e->start_t)
                e->start_t = old->start_t;
        return 0;
}

/* ---- save / load ----
 *
 * Format (version 1, little-endian): "HEVL" u32 version; f64 now, start_t; u64 n_series, per series: str
 * metric, u32 n_labels, (str name, str value)*, u8 type, f64 last_t, last_value, u32 n_tracks, per track:
 * str rule name, u64 fingerprint, track; then u32 n_rules, per rule: str name, u64 fingerprint, f64
 * last_seen, u8 absent_firing, f64 absent_since, f64 back_at, u32 n_groups, per group: str key, labels, f64
 * last_t, err_pending, tot_pending, x, x2, verdict, track. Series come first so that loading recreates the
 * burnrate groups (from their member series) before their state is read. A track is u8 pending, u8 firing,
 * f64 detected_at, f64 normal_since, u32 blob length, blob (detector_state_save). A verdict is f64 score, p,
 * expected, lower, upper, u8 anomalous, u8 warming_up. Last: u64 checksum (hash_bytes of all before). */

#define EVAL_MAGIC "HEVL"
#define EVAL_VERSION 1
#define EVAL_FILE_MAX ((size_t) 4 << 30)

static void put_bytes(StrBuf *b, const void *p, size_t n) {
        strbuf_append(b, p, n);
}

static void put_u8(StrBuf *b, uint8_t v) {
        put_bytes(b, &v, 1);
}

static void put_u32(StrBuf *b, uint32_t v) {
        uint8_t o[4];
        for (size_t i = 0; i < 4; i++)
                o[i] = (uint8_t) (v >> (8 * i));
        put_bytes(b, o, 4);
}

static void put_u64(StrBuf *b, uint64_t v) {
        uint8_t o[8];
        for (size_t i = 0; i < 8; i++)
                o[i] = (uint8_t) (v >> (8 * i));
        put_bytes(b, o, 8);
}

static void put_f64(StrBuf *b, double v) {
        uint64_t u;
        memcpy(&u, &v, 8);
        put_u64(b, u);
}

static void put_str(StrBuf *b, const char *s) {
        size_t n = strlen(s);
        put_u32(b, (uint32_t) n);
        put_bytes(b, s, n);
}

static void put_labels(StrBuf *b, const Label *l, size_t n) {
        put_u32(b, (uint32_t) n);
        for (size_t i = 0; i < n; i++) {
                put_str(b, l[i].name);
                put_str(b, l[i].value);
        }
}

static void put_track(StrBuf *b, const EvalRule *R, const Track *k) {
        put_u8(b, k->pending);
        put_u8(b, k->firing);
        put_f64(b, k->detected_at);
        put_f64(b, k->normal_since);
        size_t need = detector_state_save(&R->params, k->state, NULL, 0);
        put_u32(b, (uint32_t) need);
        if (strbuf_reserve(b, need) < 0)
                return;
        detector_state_save(&R->params, k->state, b->data + b->len, need);
        b->len += need;
        b->data[b->len] = 0;
}

static void put_verdict(StrBuf *b, const Verdict *v) {
        put_f64(b, v->score);
        put_f64(b, v->p);
        put_f64(b, v->expected);
        put_f64(b, v->lower);
        put_f64(b, v->upper);
        put_u8(b, v->anomalous);
        put_u8(b, v->warming_up);
}

int evaluator_save(const Evaluator *e, FILE *f) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;

        put_bytes(&b, EVAL_MAGIC, 4);
        put_u32(&b, EVAL_VERSION);
        put_f64(&b, e->now);
        put_f64(&b, e->start_t);
        put_u64(&b, e->n_series);
        for (size_t i = 0; i < e->n_series; i++) {
                const EvalSeries *s = e->series[i];
                size_t n_tracks = 0;
                put_str(&b, s->metric);
                put_labels(&b, s->labels, s->n_labels);
                put_u8(&b, (uint8_t) s->type);
                put_f64(&b, s->last_t);
                put_f64(&b, s->last_value);
                for (size_t j = 0; j < s->n_matches; j++)
                        n_tracks += s->matches[j].track != NULL;
                put_u32(&b, (uint32_t) n_tracks);
                for (size_t j = 0; j < s->n_matches; j++) {
                        const Match *m = &s->matches[j];
                        if (!m->track)
                                continue;
                        put_str(&b, e->rules[m->rule].rule->name);
                        put_u64(&b, e->rules[m->rule].rule->fingerprint);
                        put_track(&b, &e->rules[m->rule], m->track);
                }
        }
        put_u32(&b, (uint32_t) e->n_rules);
        for (size_t i = 0; i < e->n_rules; i++) {
                const EvalRule *R = &e->rules[i];
                put_str(&b, R->rule->name);
                put_u64(&b, R->rule->fingerprint);
                put_f64(&b, R->last_seen);
                put_u8(&b, R->absent_firing);
                put_f64(&b, R->absent_since);
                put_f64(&b, R->back_at);
                put_u32(&b, (uint32_t) R->n_groups);
                for (size_t j = 0; j < R->n_groups; j++) {
                        const Group *g = R->group_list[j];
                        put_str(&b, g->key);
                        put_labels(&b, g->labels, g->n_labels);
                        put_f64(&b, g->last_t);
                        put_f64(&b, g->err_pending);
                        put_f64(&b, g->tot_pending);
                        put_f64(&b, g->x);
                        put_f64(&b, g->x2);
                        put_verdict(&b, &g->verdict);
                        put_track(&b, R, g->track);
                }
        }
        if (strbuf_failed(&b))
                return -ENOMEM;
        put_u64(&b, hash_bytes(b.data, b.len));
        if (strbuf_failed(&b))
                return -ENOMEM;
        if (fwrite(b.data, 1, b.len, f) != b.len || fflush(f) != 0)
                return errno_or_else(EIO);
        return 0;
}

typedef struct Reader {
        const uint8_t *p, *end;
        bool bad;
} Reader;

static const uint8_t *take(Reader *r, size_t n) {
        if (r->bad || (size_t) (r->end - r->p) < n) {
                r->bad = true;
                return NULL;
        }
        const uint8_t *q = r->p;
        r->p += n;
        return q;
}

static uint64_t get_le(Reader *r, size_t n) {
        const uint8_t *q = take(r, n);
        uint64_t v = 0;
        if (!q)
                return 0;
        for (size_t i = 0; i < n; i++)
                v |= (uint64_t) q[i] << (8 * i);
        return v;
}

static double get_f64(Reader *r) {
        uint64_t u = get_le(r, 8);
        double d;
        memcpy(&d, &u, 8);
        return d;
}

/* A string (not NUL-terminated in the buffer): pointer and length. */
static const char *get_str(Reader *r, size_t *ret_len) {
        uint32_t n = (uint32_t) get_le(r, 4);
        const uint8_t *q = take(r, n);
        if (q && memchr(q, 0, n)) {
                r->bad = true;
                return NULL;
        }
        *ret_len = n;
        return (const char *) q;
}

static char *get_strdup(Reader *r) {
        size_t n;
        const char *s = get_str(r, &n);
        return s ? strndup(s, n) : NULL;
}

/* Labels into a malloc'ed array whose strings are malloc'ed too (freed with free_labels). */
static void free_labels(Label *l, size_t n) {
        for (size_t i = 0; i < n && l; i++) {
                free((char *) l[i].name);
                free((char *) l[i].value);
        }
        free(l);
}

static int get_labels(Reader *r, Label **ret, size_t *ret_n) {
        uint32_t n = (uint32_t) get_le(r, 4);
        if (r->bad || n > 4096) {
                r->bad = true;
                return -EBADMSG;
        }
        Label *l = calloc(MAX(n, 1u), sizeof(Label));
        if (!l)
                return -ENOMEM;
        for (uint32_t i = 0; i < n; i++) {
                l[i].name = get_strdup(r);
                l[i].value = get_strdup(r);
                if (!l[i].name || !l[i].value) {
                        free_labels(l, n);
                        r->bad = true;
                        return -EBADMSG;
                }
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

/* Read a track; with a target, load it there (only if the detector accepts the blob). Returns 0, or
 * -EBADMSG/-EPROTONOSUPPORT for a corrupt or unknown blob. A blob for other parameters (-ESTALE) is skipped. */
static int get_track(Reader *r, const EvalRule *R, Track *target, void *scratch) {
        uint8_t pending = (uint8_t) get_le(r, 1), firing = (uint8_t) get_le(r, 1);
        double detected = get_f64(r), normal = get_f64(r);
        uint32_t n = (uint32_t) get_le(r, 4);
        const uint8_t *blob = take(r, n);
        if (r->bad || pending > 1 || firing > 1)
                return -EBADMSG;
        if (!R)
                return 0;
        int q = detector_state_load(&R->params, target ? target->state : scratch, blob, n);
        if (q == -ESTALE)
                return 0;
        if (q < 0)
                return q;
        if (target) {
                target->pending = pending;
                target->firing = firing;
                target->detected_at = detected;
                target->normal_since = normal;
        }
        return 0;
}

static EvalRule *find_rule(Evaluator *e, const char *name, size_t len, uint64_t fp) {
        for (size_t i = 0; i < e->n_rules; i++)
                if (strlen(e->rules[i].rule->name) == len && memcmp(e->rules[i].rule->name, name, len) == 0)
                        return e->rules[i].rule->fingerprint == fp ? &e->rules[i] : NULL;
        return NULL;
}

/* One pass over the file: validating only (apply = false) or applying to e. */
static int load_pass(Evaluator *e, const uint8_t *data, size_t size, bool apply) {
        Reader r = { data + 8, data + size - 8 };
        _cleanup_free_ void *scratch = NULL;
        size_t max_state = 8;
        int q;

        for (size_t i = 0; i < e->n_rules; i++)
                max_state = MAX(max_state, detector_state_size(&e->rules[i].params));
        scratch = aligned_alloc(8, (max_state + 7) & ~(size_t) 7);
        if (!scratch)
                return -ENOMEM;

        double now = get_f64(&r), start = get_f64(&r);
        uint64_t n_series = get_le(&r, 8);
        if (r.bad || n_series > size)
                return -EBADMSG;
        for (uint64_t i = 0; i < n_series && !r.bad; i++) {
                _cleanup_free_ char *metric = get_strdup(&r);
                Label *labels = NULL;
                size_t n_labels = 0;
                if (!metric)
                        return -EBADMSG;
                q = get_labels(&r, &labels, &n_labels);
                if (q < 0)
                        return q;
                uint8_t type = (uint8_t) get_le(&r, 1);
                double last_t = get_f64(&r), last_value = get_f64(&r);
                uint32_t n_tracks = (uint32_t) get_le(&r, 4);
                EvalSeries *s = NULL;
                if (r.bad || type > SAMPLE_COUNTER) {
                        free_labels(labels, n_labels);
                        return -EBADMSG;
                }
                if (apply) {
                        q = evaluator_intern(e, metric, labels, n_labels, (SampleType) type, &s);
                        if (q < 0) {
                                free_labels(labels, n_labels);
                                return q;
                        }
                        s->last_t = last_t;
                        s->last_value = last_value;
                }
                free_labels(labels, n_labels);
                for (uint32_t j = 0; j < n_tracks && !r.bad; j++) {
                        size_t nlen;
                        const char *name = get_str(&r, &nlen);
                        uint64_t fp = get_le(&r, 8);
                        if (r.bad)
                                return -EBADMSG;
                        EvalRule *R = find_rule(e, name, nlen, fp);
                        Track *target = NULL;
                        if (R && s) {
                                const Match *m = find_match(s, (size_t) (R - e->rules));
                                target = m ? m->track : NULL;
                        }
                        q = get_track(&r, R && !R->burnrate ? R : NULL, target, scratch);
                        if (q < 0)
                                return q;
                }
        }
        uint32_t n_rules = (uint32_t) get_le(&r, 4);
        for (uint32_t i = 0; i < n_rules && !r.bad; i++) {
                size_t nlen;
                const char *name = get_str(&r, &nlen);
                uint64_t fp = get_le(&r, 8);
                double last_seen = get_f64(&r);
                uint8_t absent = (uint8_t) get_le(&r, 1);
                double since = get_f64(&r), back = get_f64(&r);
                uint32_t n_groups = (uint32_t) get_le(&r, 4);
                if (r.bad || absent > 1)
                        return -EBADMSG;
                EvalRule *R = find_rule(e, name, nlen, fp);
                if (R && apply) {
                        R->last_seen = last_seen;
                        R->absent_firing = absent && R->absent_s > 0;
                        R->absent_since = since;
                        R->back_at = back;
                }
                for (uint32_t j = 0; j < n_groups && !r.bad; j++) {
                        size_t klen;
                        const char *key = get_str(&r, &klen);
                        Label *labels = NULL;
                        size_t n_labels = 0;
                        q = get_labels(&r, &labels, &n_labels);
                        if (q < 0)
                                return q;
                        free_labels(labels, n_labels);
                        double last_t = get_f64(&r), ep = get_f64(&r), tp = get_f64(&r), x = get_f64(&r),
                               x2 = get_f64(&r);
                        Verdict v = { .score = get_f64(&r),
                                      .p = get_f64(&r),
                                      .expected = get_f64(&r),
                                      .lower = get_f64(&r),
                                      .upper = get_f64(&r) };
                        v.anomalous = get_le(&r, 1);
                        v.warming_up = get_le(&r, 1);
                        Group *g = NULL;
                        if (R && R->burnrate && apply && key)
                                g = hashmap_get(R->groups, key, klen, hash_bytes(key, klen));
                        q = get_track(&r, R && R->burnrate ? R : NULL, g ? g->track : NULL, scratch);
                        if (q < 0)
                                return q;
                        if (g) {
                                g->last_t = last_t;
                                g->err_pending = ep;
                                g->tot_pending = tp;
                                g->x = x;
                                g->x2 = x2;
                                g->verdict = v;
                        }
                }
        }

        if (r.bad || r.p != r.end)
                return -EBADMSG;
        if (apply) {
                if (!isnan(now) && !(now <= e->now))
                        e->now = now;
                if (isnan(e->start_t) || start < e->start_t)
                        e->start_t = start;
        }
        return 0;
}

int evaluator_load(Evaluator *e, FILE *f) {
        _cleanup_free_ uint8_t *data = NULL;
        size_t size = 0, alloc = 0;

        for (;;) {
                if (size == alloc) {
                        if (alloc >= EVAL_FILE_MAX)
                                return -EFBIG;
                        size_t na = alloc ? alloc * 2 : 65536;
                        uint8_t *n = realloc(data, na);
                        if (!n)
                                return -ENOMEM;
                        data = n;
                        alloc = na;
                }
                size_t k = fread(data + size, 1, alloc - size, f);
                size += k;
                if (k == 0) {
                        if (ferror(f))
                                return errno_or_else(EIO);
                        break;
                }
        }
        if (size < 16 || memcmp(data, EVAL_MAGIC, 4) != 0)
                return -EBADMSG;
        Reader hdr = { data + 4, data + 8 };
        if (get_le(&hdr, 4) != EVAL_VERSION)
                return -EPROTONOSUPPORT;
        Reader tail = { data + size - 8, data + size };
        if (get_le(&tail, 8) != hash_bytes(data, size - 8))
                return -EBADMSG;

        int r = load_pass(e, data, size, false);
        if (r < 0)
                return r;
        return load_pass(e, data, size, true);
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Silences: validation of API requests, matching, the set held by the incident engine and its state file.
 * See silence.h for the semantics.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "incident-json.h"
#include "silence.h"
#include "util.h"

static void matcher_done(SilenceMatcher *m) {
        free(m->label);
        free(m->value);
        if (m->regex) {
                regfree(m->regex);
                free(m->regex);
        }
}

Silence *silence_free(Silence *s) {
        if (!s)
                return NULL;
        free(s->rule);
        for (size_t i = 0; i < s->n_matchers; i++)
                matcher_done(&s->matchers[i]);
        free(s->matchers);
        free(s->comment);
        free(s->created_by);
        free(s);
        return NULL;
}

static const char *const op_names[_MATCH_OP_MAX] = {
        [MATCH_EQUAL] = "=",
        [MATCH_NOT_EQUAL] = "!=",
        [MATCH_REGEX] = "=~",
        [MATCH_NOT_REGEX] = "!~",
};

/* Printable text only: no control characters (newlines would forge journal lines and chat formatting). */
static bool text_ok(const char *s, size_t max) {
        size_t n = strlen(s);
        if (n > max || !utf8_is_valid(s, n, NULL))
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
                        return false;
        return true;
}

static bool label_name_ok(const char *s) {
        if (!s[0] || strlen(s) > 256)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
                      (p != s && *p >= '0' && *p <= '9')))
                        return false;
        return true;
}

static bool rule_name_ok(const char *s) {
        if (!s[0] || strlen(s) > 256)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
                      *p == '-'))
                        return false;
        return true;
}

static int compile_matcher(SilenceMatcher *m) {
        _cleanup_free_ char *anchored = NULL;

        if (m->op != MATCH_REGEX && m->op != MATCH_NOT_REGEX)
                return 0;
        if (asprintf(&anchored, "^(%s)$", m->value) < 0)
                return -ENOMEM;
        m->regex = calloc(1, sizeof(regex_t));
        if (!m->regex)
                return -ENOMEM;
        if (regcomp(m->regex, anchored, REG_EXTENDED | REG_NOSUB) != 0) {
                free(m->regex);
                m->regex = NULL;
                return -EINVAL;
        }
        return 0;
}

/* Shared by the API request and the state file: "matchers" as an array of {label, op, value}. */
static int read_matchers(json_t *arr, Silence *s, const char *where, char **error) {
        static const char *const keys[] = { "label", "op", "value", NULL };
        json_t *v;
        size_t i;
        int r;

        if (!arr || json_is_null(arr))
                return 0;
        if (!json_is_array(arr))
                return json_read_error(error, where, "'matchers' must be an array");
        if (json_array_size(arr) > SILENCE_MATCHERS_MAX)
                return json_read_error(error, where, "at most %u matchers", SILENCE_MATCHERS_MAX);
        if (json_array_size(arr) == 0)
                return 0;
        s->matchers = calloc(json_array_size(arr), sizeof(SilenceMatcher));
        if (!s->matchers)
                return -ENOMEM;
        json_array_foreach(arr, i, v) {
                char w[64];
                const char *label, *op, *value;
                SilenceMatcher *m = &s->matchers[i];

                snprintf(w, sizeof(w), "matchers[%zu]", i);
                if ((r = json_read_keys(v, w, keys, error)) < 0 ||
                    (r = json_read_string(v, "label", true, w, &label, error)) < 0 ||
                    (r = json_read_string(v, "op", false, w, &op, error)) < 0 ||
                    (r = json_read_string(v, "value", true, w, &value, error)) < 0)
                        return r;
                if (!label_name_ok(label))
                        return json_read_error(error, w, "'%s' is not a label name", label);
                if (!text_ok(value, SILENCE_VALUE_MAX))
                        return json_read_error(error, w, "'value' is too long or holds control characters");
                m->op = _MATCH_OP_MAX;
                for (int k = 0; k < _MATCH_OP_MAX; k++)
                        if (streq(op ?: "=", op_names[k]))
                                m->op = (MatchOp) k;
                if (m->op == _MATCH_OP_MAX)
                        return json_read_error(error, w, "unknown op '%s' (expected =, !=, =~ or !~)", op);
                m->label = strdup(label);
                m->value = strdup(value);
                s->n_matchers = i + 1;
                if (!m->label || !m->value)
                        return -ENOMEM;
                r = compile_matcher(m);
                if (r == -EINVAL)
                        return json_read_error(
                                error, w, "'%s' is not a valid POSIX extended regular expression", value);
                if (r < 0)
                        return r;
        }
        return 0;
}

int silence_from_request_json(
        json_t *body,
        const Id128 *id,
        IncidentNow now,
        const char *created_by_default,
        Silence **ret,
        char **ret_error) {
        static const char *const keys[] = { "rule",    "matchers",   "duration", "ends_at",
                                            "comment", "created_by", NULL };
        static const char *const where = "silence";
        _cleanup_(silence_freep) Silence *s = NULL;
        const char *rule, *duration, *ends_at, *comment, *created_by;
        usec_t length;
        int r;

        if (!json_is_object(body))
                return json_read_error(ret_error, where, "the body must be a JSON object"), -EINVAL;
        if (json_read_keys(body, where, keys, ret_error) < 0 ||
            json_read_string(body, "rule", false, where, &rule, ret_error) < 0 ||
            json_read_string(body, "duration", false, where, &duration, ret_error) < 0 ||
            json_read_string(body, "ends_at", false, where, &ends_at, ret_error) < 0 ||
            json_read_string(body, "comment", true, where, &comment, ret_error) < 0 ||
            json_read_string(body, "created_by", false, where, &created_by, ret_error) < 0)
                return -EINVAL;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->id = *id;
        s->created_at = now.wall;

        if (rule) {
                if (!rule_name_ok(rule))
                        return json_read_error(ret_error, where, "'rule' must be a rule name ([a-z0-9_.-]+)"),
                               -EINVAL;
                s->rule = strdup(rule);
                if (!s->rule)
                        return -ENOMEM;
        }
        r = read_matchers(json_object_get(body, "matchers"), s, where, ret_error);
        if (r == -EBADMSG)
                return -EINVAL;
        if (r < 0)
                return r;
        if (!s->rule && s->n_matchers == 0)
                return json_read_error(
                               ret_error,
                               where,
                               "give 'rule' or 'matchers': a silence of everything is refused"),
                       -EINVAL;

        if (!!duration == !!ends_at)
                return json_read_error(ret_error, where, "give exactly one of 'duration' and 'ends_at'"),
                       -EINVAL;
        if (duration) {
                size_t off;
                if (parse_duration(duration, &length, &off) < 0)
                        return json_read_error(
                                       ret_error, where, "'duration' is not a duration like 30m, 1h or 2d"),
                               -EINVAL;
        } else {
                double t;
                if (parse_timestamp(ends_at, strlen(ends_at), &t) < 0 ||
                    t * (double) USEC_PER_SEC <= (double) now.wall)
                        return json_read_error(
                                       ret_error, where, "'ends_at' must be an RFC 3339 time in the future"),
                               -EINVAL;
                length = (usec_t) (t * (double) USEC_PER_SEC) - now.wall;
        }
        if (length == 0 || length > SILENCE_DURATION_MAX)
                return json_read_error(ret_error, where, "the silence must last more than 0s and at most 90d"),
                       -EINVAL;
        s->ends_at = now.wall + length;
        s->ends_mono = now.mono + length;

        if (!text_ok(comment, SILENCE_COMMENT_MAX) || comment[0] == 0)
                return json_read_error(
                               ret_error,
                               where,
                               "'comment' must be non-empty printable text of at most %u bytes",
                               SILENCE_COMMENT_MAX),
                       -EINVAL;
        created_by = created_by ?: created_by_default;
        if (!created_by || !text_ok(created_by, SILENCE_CREATED_BY_MAX) || created_by[0] == 0)
                return json_read_error(
                               ret_error,
                               where,
                               "'created_by' must be non-empty printable text of at most %u bytes",
                               SILENCE_CREATED_BY_MAX),
                       -EINVAL;
        s->comment = strdup(comment);
        s->created_by = strdup(created_by);
        if (!s->comment || !s->created_by)
                return -ENOMEM;
        *ret = TAKE_PTR(s);
        return 0;
}

static const char *find_label(const char *name, const char *metric, const Label *labels, size_t n) {
        if (streq(name, "__name__"))
                return metric;
        for (size_t i = 0; i < n; i++)
                if (streq(labels[i].name, name))
                        return labels[i].value;
        return NULL;
}

/* A missing label matches as the empty string, as in Prometheus selectors. */
bool silence_matches(
        const Silence *s, const char *rule, const char *metric, const Label *labels, size_t n_labels) {
        if (s->rule && !streq(s->rule, rule))
                return false;
        for (size_t i = 0; i < s->n_matchers; i++) {
                const SilenceMatcher *m = &s->matchers[i];
                const char *v = find_label(m->label, metric, labels, n_labels) ?: "";
                bool eq;

                switch (m->op) {
                case MATCH_EQUAL:
                case MATCH_NOT_EQUAL:
                        eq = streq(v, m->value);
                        break;
                default:
                        eq = m->regex && regexec(m->regex, v, 0, NULL, 0) == 0;
                        break;
                }
                if ((m->op == MATCH_EQUAL || m->op == MATCH_REGEX) != eq)
                        return false;
        }
        return true;
}

bool silence_is_active(const Silence *s, usec_t now_mono) {
        return now_mono < s->ends_mono;
}

static json_t *matchers_json(const Silence *s) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < s->n_matchers; i++)
                if (json_array_append_new(
                            a,
                            json_pack(
                                    "{s:s, s:s, s:s}",
                                    "label",
                                    s->matchers[i].label,
                                    "op",
                                    op_names[s->matchers[i].op],
                                    "value",
                                    s->matchers[i].value)) < 0)
                        return json_decref(a), NULL;
        return a;
}

json_t *silence_to_json(const Silence *s, usec_t now_mono) {
        char id[ID128_STRING_MAX];

        return json_pack(
                "{s:s, s:s?, s:o, s:o, s:o, s:s, s:s, s:b}",
                "id",
                id128_to_string(&s->id, id),
                "rule",
                s->rule,
                "matchers",
                matchers_json(s),
                "created_at",
                json_timestamp(s->created_at),
                "ends_at",
                json_timestamp(s->ends_at),
                "comment",
                s->comment,
                "created_by",
                s->created_by,
                "active",
                silence_is_active(s, now_mono));
}

void silence_set_done(SilenceSet *set) {
        for (size_t i = 0; i < set->n; i++)
                silence_free(set->items[i]);
        free(set->items);
        *set = (SilenceSet){};
}

Silence *silence_set_find(const SilenceSet *set, const Id128 *id) {
        for (size_t i = 0; i < set->n; i++)
                if (id128_equal(&set->items[i]->id, id))
                        return set->items[i];
        return NULL;
}

int silence_set_add(SilenceSet *set, Silence *s) {
        Silence **n;

        if (set->n >= SILENCES_MAX)
                return -E2BIG;
        if (silence_set_find(set, &s->id))
                return -EEXIST;
        n = reallocarray(set->items, set->n + 1, sizeof(*n));
        if (!n)
                return -ENOMEM;
        set->items = n;
        set->items[set->n++] = s;
        return 0;
}

const Silence *silence_set_match(
        const SilenceSet *set,
        usec_t now_mono,
        const char *rule,
        const char *metric,
        const Label *labels,
        size_t n_labels) {
        for (size_t i = 0; i < set->n; i++)
                if (silence_is_active(set->items[i], now_mono) &&
                    silence_matches(set->items[i], rule, metric, labels, n_labels))
                        return set->items[i];
        return NULL;
}

void silence_set_prune(SilenceSet *set, usec_t now_mono, usec_t keep_usec) {
        size_t j = 0;
        for (size_t i = 0; i < set->n; i++) {
                Silence *s = set->items[i];
                if (s->expired && s->ends_mono + keep_usec <= now_mono)
                        silence_free(s);
                else
                        set->items[j++] = s;
        }
        set->n = j;
}

json_t *silence_set_to_json(const SilenceSet *set, IncidentNow now) {
        _cleanup_(json_decrefp) json_t *a = json_array();
        char id[ID128_STRING_MAX];

        if (!a)
                return NULL;
        for (size_t i = 0; i < set->n; i++) {
                const Silence *s = set->items[i];
                if (json_array_append_new(
                            a,
                            json_pack(
                                    "{s:s, s:s?, s:o, s:I, s:I, s:I, s:s, s:s, s:b}",
                                    "id",
                                    id128_to_string(&s->id, id),
                                    "rule",
                                    s->rule,
                                    "matchers",
                                    matchers_json(s),
                                    "created_at",
                                    (json_int_t) s->created_at,
                                    "ends_at",
                                    (json_int_t) s->ends_at,
                                    "ends",
                                    (json_int_t) incident_mono_to_wall(now, s->ends_mono),
                                    "comment",
                                    s->comment,
                                    "created_by",
                                    s->created_by,
                                    "expired",
                                    s->expired)) < 0)
                        return NULL;
        }
        return json_pack("{s:i, s:O}", "version", 1, "silences", a);
}

int silence_set_from_json(SilenceSet *set, json_t *j, IncidentNow now, char **ret_error) {
        static const char *const top_keys[] = { "version", "silences", NULL };
        static const char *const keys[] = { "id",   "rule",    "matchers",   "created_at", "ends_at",
                                            "ends", "comment", "created_by", "expired",    NULL };
        _cleanup_(silence_set_done) SilenceSet n = {};
        uint64_t version;
        json_t *arr, *v;
        size_t i;
        int r;

        if ((r = json_read_keys(j, "silences", top_keys, ret_error)) < 0 ||
            (r = json_read_u64(j, "version", true, "silences", &version, ret_error)) < 0)
                return r;
        if (version != 1) {
                json_read_error(
                        ret_error, "silences", "unsupported version %llu", (unsigned long long) version);
                return -EPROTONOSUPPORT;
        }
        arr = json_object_get(j, "silences");
        if (!json_is_array(arr))
                return json_read_error(ret_error, "silences", "'silences' must be an array");
        if (json_array_size(arr) > SILENCES_MAX)
                return json_read_error(ret_error, "silences", "more than %u silences", SILENCES_MAX);
        json_array_foreach(arr, i, v) {
                _cleanup_(silence_freep) Silence *s = NULL;
                char where[64];
                const char *rule, *comment, *created_by;
                uint64_t ends;

                snprintf(where, sizeof(where), "silences[%zu]", i);
                s = calloc(1, sizeof(*s));
                if (!s)
                        return -ENOMEM;
                if ((r = json_read_keys(v, where, keys, ret_error)) < 0 ||
                    (r = json_read_id128(v, "id", true, where, &s->id, ret_error)) < 0 ||
                    (r = json_read_string(v, "rule", false, where, &rule, ret_error)) < 0 ||
                    (r = json_read_u64(v, "created_at", true, where, &s->created_at, ret_error)) < 0 ||
                    (r = json_read_u64(v, "ends_at", true, where, &s->ends_at, ret_error)) < 0 ||
                    (r = json_read_u64(v, "ends", true, where, &ends, ret_error)) < 0 ||
                    (r = json_read_string(v, "comment", true, where, &comment, ret_error)) < 0 ||
                    (r = json_read_string(v, "created_by", true, where, &created_by, ret_error)) < 0 ||
                    (r = json_read_bool(v, "expired", true, where, &s->expired, ret_error)) < 0 ||
                    (r = read_matchers(json_object_get(v, "matchers"), s, where, ret_error)) < 0)
                        return r;
                if (rule && !rule_name_ok(rule))
                        return json_read_error(ret_error, where, "bad rule name");
                if (!text_ok(comment, SILENCE_COMMENT_MAX) || !text_ok(created_by, SILENCE_CREATED_BY_MAX))
                        return json_read_error(ret_error, where, "bad comment or created_by");
                if (!rule && s->n_matchers == 0)
                        return json_read_error(ret_error, where, "a silence needs a rule or matchers");
                s->rule = rule ? strdup(rule) : NULL;
                s->comment = strdup(comment);
                s->created_by = strdup(created_by);
                if ((rule && !s->rule) || !s->comment || !s->created_by)
                        return -ENOMEM;
                s->ends_mono = incident_wall_to_mono(now, ends);
                r = silence_set_add(&n, s);
                if (r == -EEXIST)
                        return json_read_error(ret_error, where, "duplicate id");
                if (r < 0)
                        return r;
                TAKE_PTR(s);
        }
        silence_set_done(set);
        *set = n;
        n = (SilenceSet){};
        return 0;
}

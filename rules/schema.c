/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The schema pass (schema.h): every key of the rule language, its type, range and default, and the
 * diagnostics an SRE sees when something is off. The style of every check is the same: find the problem,
 * point at the exact place (the value, or the character inside it), say what is wrong and what would be
 * right, and carry on so that all problems are reported in one run.
 *
 * Values are read as the type their key needs; a scalar is never guessed into a boolean or a number (so a
 * key `on:` is the string "on"). Numbers must be plain (unquoted) and finite; durations use the duration
 * syntax of time-util.h; names, URLs, unit names, paths, sockets and addresses are checked for their
 * grammar without touching the host (the one exception: a timezone is looked up, read-only, in
 * /usr/share/zoneinfo).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"
#include "macro.h"
#include "schema.h"
#include "selector-internal.h"
#include "strbuf.h"
#include "template.h"
#include "util.h"

#define RULE_NAME_MAX 128
#define DEFAULT_GUARD_COOLDOWN (10 * USEC_PER_MINUTE)
#define DEFAULT_GUARD_MAX_ACTIONS 3U
#define DEFAULT_GUARD_PER USEC_PER_HOUR
#define DEFAULT_GUARD_BREAKER_AFTER 3U
#define DEFAULT_GUARD_BREAKER_WINDOW (6 * USEC_PER_HOUR)

typedef struct NameRef {
        char *name;
        Location loc;
} NameRef;

typedef struct LabelRef {
        char *label;
        Location loc;
} LabelRef;

typedef struct StepAux {
        bool has_verify;
        Location verify_loc;
        bool has_settle;
        Location settle_loc;
} StepAux;

/* What the cross-file checks need to know about a rule beyond the model: where things were written. */
typedef struct RuleAux {
        Location name_loc;
        NameRef *notify;
        size_t n_notify;
        LabelRef *label_refs;
        size_t n_label_refs;
        NameRef *source_refs; /* source="NAME" pinned by a selector */
        size_t n_source_refs;
        bool has_for, has_recover_for, has_notify, has_mode;
        Location for_loc, recover_for_loc, notify_loc;
        Location series_loc, errors_loc, total_loc;
        StepAux *steps;
        bool guard_set[5];
        Location guard_loc[5];
} RuleAux;

enum { GUARD_COOLDOWN, GUARD_MAX_ACTIONS, GUARD_PER, GUARD_BREAKER_AFTER, GUARD_BREAKER_WINDOW };

struct ConfigBuilder {
        Diagnostics *diags;
        Config *c;
        size_t sources_alloc, notifiers_alloc, rules_alloc, files_alloc;
        RuleAux *aux; /* parallel to c->rules */
        Location *source_name_locs;
        Location *notifier_name_locs;
        size_t aux_alloc, source_name_locs_alloc, notifier_name_locs_alloc;
        bool incomplete; /* a file could not be parsed */
};

typedef struct Ctx {
        ConfigBuilder *b;
        Diagnostics *d;
} Ctx;

/* ---- diagnostics helpers ---- */

static void err_at(Ctx *x, Location loc, const char *fmt, ...) _printf_(3, 4);
static void err_at(Ctx *x, Location loc, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        diag_addv(x->d, SEVERITY_ERROR, loc, fmt, ap);
        va_end(ap);
}

static void warn_at(Ctx *x, Location loc, const char *fmt, ...) _printf_(3, 4);
static void warn_at(Ctx *x, Location loc, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        diag_addv(x->d, SEVERITY_WARNING, loc, fmt, ap);
        va_end(ap);
}

/* Replace *ret with a copy of s (what every need_*() stores once s is validated). */
static int set_string(char **ret, const char *s) {
        char *c = strdup(s);
        if (!c)
                return -ENOMEM;
        free(*ret);
        *ret = c;
        return 0;
}

static const char *nearest(const char *word, const char *const *known) {
        const char *best = NULL;
        size_t best_d = SIZE_MAX, len = strlen(word);

        for (size_t i = 0; known[i]; i++) {
                size_t d = string_distance(word, known[i]);
                if (d < best_d) {
                        best_d = d;
                        best = known[i];
                }
        }
        if (best && (best_d <= 2 || best_d <= len / 3) && best_d < len)
                return best;
        return NULL;
}

static void unknown_key(Ctx *x, const Node *key, const char *where, const char *const *known) {
        const char *s = nearest(key->value, known);
        _cleanup_strbuf_ StrBuf list = STRBUF_INIT;

        if (s) {
                err_at(x, key->loc, "unknown key '%s' in %s; did you mean '%s'?", key->value, where, s);
                return;
        }
        for (size_t i = 0; known[i]; i++)
                strbuf_printf(&list, "%s%s", i ? ", " : "", known[i]);
        err_at(x, key->loc, "unknown key '%s' in %s (known keys: %s)", key->value, where, strbuf_str(&list));
}

static void missing_key(Ctx *x, const Node *map, const char *what, const char *key, const char *hint) {
        err_at(x, map->loc, "%s is missing required key '%s'%s%s", what, key, hint ? ": " : "", strempty(hint));
}

/* ---- value readers: each reports its own error and returns NULL / -EINVAL ---- */

static const char *need_scalar(Ctx *x, const char *name, const Node *v, const char *expected) {
        if (v->kind != NODE_SCALAR) {
                err_at(x, v->loc, "'%s' must be %s, not %s", name, expected, node_kind_to_string(v));
                return NULL;
        }
        if (v->is_null) {
                err_at(x, v->loc, "'%s' has no value; expected %s", name, expected);
                return NULL;
        }
        return v->value;
}

static int need_string(Ctx *x, const char *name, const Node *v, char **ret) {
        const char *s = need_scalar(x, name, v, "a string");
        if (!s)
                return -EINVAL;
        if (!*s) {
                err_at(x, v->loc, "'%s' must not be empty", name);
                return -EINVAL;
        }
        return set_string(ret, s);
}

static int need_number(Ctx *x, const char *name, const Node *v, double *ret) {
        const char *s = need_scalar(x, name, v, "a number");
        double d;

        if (!s)
                return -EINVAL;
        if (v->style != STYLE_PLAIN) {
                err_at(x, v->loc, "'%s' must be a number, not a quoted string", name);
                return -EINVAL;
        }
        if (parse_double(s, v->len, &d) < 0) {
                err_at(x, v->loc, "'%s' must be a number, got '%s'", name, s);
                return -EINVAL;
        }
        if (!isfinite(d)) {
                err_at(x, v->loc, "'%s' must be a finite number, got '%s'", name, s);
                return -EINVAL;
        }
        *ret = d;
        return 0;
}

static int need_uint(Ctx *x, const char *name, const Node *v, uint64_t min, uint64_t max, uint64_t *ret) {
        const char *s = need_scalar(x, name, v, "a whole number");
        uint64_t u;
        int r;

        if (!s)
                return -EINVAL;
        if (v->style != STYLE_PLAIN) {
                err_at(x, v->loc, "'%s' must be a whole number, not a quoted string", name);
                return -EINVAL;
        }
        r = safe_atou64(s, &u);
        if (r == -ERANGE || (r == 0 && (u < min || u > max)) ||
            (r < 0 && s[0] == '-' && safe_atou64(s + 1, &u) == 0)) {
                err_at(x,
                       v->loc,
                       "'%s' must be between %llu and %llu, got %s",
                       name,
                       (unsigned long long) min,
                       (unsigned long long) max,
                       s);
                return -EINVAL;
        }
        if (r < 0) {
                err_at(x, v->loc, "'%s' must be a whole number, got '%s'", name, s);
                return -EINVAL;
        }
        *ret = u;
        return 0;
}

static int need_duration(Ctx *x, const char *name, const Node *v, usec_t *ret) {
        const char *s = need_scalar(x, name, v, "a duration such as 30s, 5m or 1h30m");
        size_t off = 0;
        usec_t u;
        int r;

        if (!s)
                return -EINVAL;
        r = parse_duration(s, &u, &off);
        if (r == -ERANGE) {
                err_at(x, v->loc, "'%s': duration '%s' is too large", name, s);
                return -EINVAL;
        }
        if (r < 0) {
                bool digits = *s != 0;
                for (const char *c = s; *c; c++)
                        if (*c < '0' || *c > '9')
                                digits = false;
                if (digits)
                        err_at(x,
                               node_value_location(v, strlen(s)),
                               "'%s': '%s' needs a unit (ms, s, m, h, d or w), e.g. '%ss'",
                               name,
                               s,
                               s);
                else if (s[0] == '-')
                        err_at(x, v->loc, "'%s': a duration cannot be negative ('%s')", name, s);
                else
                        err_at(x,
                               node_value_location(v, off),
                               "'%s': '%s' is not a duration (examples: 250ms, 30s, 5m, 1h30m, 1d, 1w)",
                               name,
                               s);
                return -EINVAL;
        }
        *ret = u;
        return 0;
}

static int need_positive_duration(Ctx *x, const char *name, const Node *v, usec_t *ret) {
        usec_t u;
        int r = need_duration(x, name, v, &u);
        if (r < 0)
                return r;
        if (u == 0) {
                err_at(x, v->loc, "'%s' must be longer than 0", name);
                return -EINVAL;
        }
        *ret = u;
        return 0;
}

static const Node *need_list(Ctx *x, const char *name, const Node *v, const char *example) {
        if (v->kind == NODE_SEQUENCE)
                return v;
        if (v->kind == NODE_SCALAR && v->is_null)
                err_at(x,
                       v->loc,
                       "'%s' has no value; expected a list%s%s",
                       name,
                       example ? ", e.g. " : "",
                       strempty(example));
        else
                err_at(x,
                       v->loc,
                       "'%s' must be a list%s%s, not %s",
                       name,
                       example ? ", e.g. " : "",
                       strempty(example),
                       node_kind_to_string(v));
        return NULL;
}

static const Node *need_map(Ctx *x, const char *name, const Node *v) {
        if (v->kind == NODE_MAPPING)
                return v;
        if (v->kind == NODE_SCALAR && v->is_null)
                err_at(x, v->loc, "'%s' has no value; expected a mapping of keys to values", name);
        else
                err_at(x, v->loc, "'%s' must be a mapping (key: value), not %s", name, node_kind_to_string(v));
        return NULL;
}

/* Match a word against a closed list; report with a suggestion. Returns the index or -EINVAL. */
static int need_enum(Ctx *x, const char *name, const Node *v, const char *const *names, size_t n) {
        const char *s = need_scalar(x, name, v, "a word");
        _cleanup_strbuf_ StrBuf list = STRBUF_INIT;
        _cleanup_free_ const char **known = NULL;

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (names[i] && streq(s, names[i]))
                        return (int) i;
        known = calloc(n + 1, sizeof(char *));
        if (!known)
                return -ENOMEM;
        for (size_t i = 0, k = 0; i < n; i++)
                if (names[i]) {
                        known[k++] = names[i];
                        strbuf_printf(&list, "%s%s", k > 1 ? ", " : "", names[i]);
                }
        const char *s2 = nearest(s, known);
        if (s2)
                err_at(x, v->loc, "unknown %s '%s'; did you mean '%s'?", name, s, s2);
        else
                err_at(x, v->loc, "unknown %s '%s' (expected one of: %s)", name, s, strbuf_str(&list));
        return -EINVAL;
}

static bool name_char_ok(char c, bool upper) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-' ||
                (upper && c >= 'A' && c <= 'Z');
}

/* Rule names are [a-z0-9_.-]+; source and notifier names also allow upper case. */
static int need_name(Ctx *x, const char *what, const Node *v, bool upper, char **ret, Location *ret_loc) {
        const char *s = need_scalar(x, "name", v, "a name");
        if (!s)
                return -EINVAL;
        if (!*s) {
                err_at(x, v->loc, "%s name must not be empty", what);
                return -EINVAL;
        }
        for (const char *c = s; *c; c++)
                if (!name_char_ok(*c, upper)) {
                        err_at(x,
                               node_value_location(v, (size_t) (c - s)),
                               "%s name '%s' may only contain %s",
                               what,
                               s,
                               upper ? "letters, digits, '_', '.' and '-'"
                                     : "lower-case letters, digits, '_', '.' and '-'");
                        return -EINVAL;
                }
        if (strlen(s) > RULE_NAME_MAX) {
                err_at(x, v->loc, "%s name is longer than %d characters", what, RULE_NAME_MAX);
                return -EINVAL;
        }
        *ret = strdup(s);
        if (!*ret)
                return -ENOMEM;
        *ret_loc = v->loc;
        return 0;
}

static int add_name_ref(NameRef **refs, size_t *n, const char *name, Location loc) {
        NameRef *a = reallocarray(*refs, *n + 1, sizeof(NameRef));
        if (!a)
                return -ENOMEM;
        *refs = a;
        a[*n] = (NameRef){ .name = strdup(name), .loc = loc };
        if (!a[*n].name)
                return -ENOMEM;
        (*n)++;
        return 0;
}

/* A selector that pins source="NAME" refers to a source; remember where, for the cross-file check. */
static int note_source_refs(RuleAux *aux, const Selector *sel, const Node *v) {
        for (size_t i = 0; i < sel->n_matchers; i++)
                if (sel->matchers[i].op == MATCH_EQUAL && streq(sel->matchers[i].name, "source")) {
                        int r = add_name_ref(
                                &aux->source_refs,
                                &aux->n_source_refs,
                                sel->matchers[i].value,
                                node_value_location(v, sel->matchers[i].value_offset));
                        if (r < 0)
                                return r;
                }
        return 0;
}

/* http:// or https://, a host, no white space. A secret URL (a notifier's webhook: whoever has it can post
 * to the channel) is never quoted, not even in part: diagnostics end up in logs and the journal. */
static int check_url(Ctx *x, const char *name, const Node *v, const char *s, bool secret) {
        const char *rest = startswith(s, "http://") ?: startswith(s, "https://");
        if (!rest) {
                const char *colon = strstr(s, "://");
                if (secret)
                        err_at(x,
                               v->loc,
                               "'%s': only http:// and https:// URLs are supported (expected http://HOST[:PORT]/PATH; "
                               "the value is not shown, it may hold a secret)",
                               name);
                else if (colon)
                        err_at(x,
                               v->loc,
                               "'%s': only http:// and https:// URLs are supported, not '%.*s'",
                               name,
                               (int) MIN((size_t) (colon - s + 3), (size_t) 32),
                               s);
                else
                        err_at(x, v->loc, "'%s': '%s' is not a URL (expected http://HOST[:PORT]/PATH)", name, s);
                return -EINVAL;
        }
        if (!*rest || *rest == '/' || *rest == ':' || *rest == '?' || *rest == '#') {
                err_at(x, node_value_location(v, (size_t) (rest - s)), "'%s': URL has no host", name);
                return -EINVAL;
        }
        for (const unsigned char *c = (const unsigned char *) s; *c; c++)
                if (*c <= ' ' || *c == 0x7F) {
                        err_at(x,
                               node_value_location(v, (size_t) ((const char *) c - s)),
                               "'%s': white space or a control character in a URL must be percent-encoded",
                               name);
                        return -EINVAL;
                }
        return 0;
}

static int need_url(Ctx *x, const char *name, const Node *v, bool secret, char **ret) {
        const char *s = need_scalar(x, name, v, "a URL");
        if (!s || check_url(x, name, v, s, secret) < 0)
                return -EINVAL;
        return set_string(ret, s);
}

static int need_abs_path(Ctx *x, const char *name, const Node *v, size_t max, char **ret) {
        const char *s = need_scalar(x, name, v, "an absolute path");
        if (!s)
                return -EINVAL;
        if (s[0] != '/') {
                err_at(x, v->loc, "'%s' must be an absolute path (starting with '/'), got '%s'", name, s);
                return -EINVAL;
        }
        if (strlen(s) > max) {
                err_at(x, v->loc, "'%s' is longer than %zu bytes", name, max);
                return -EINVAL;
        }
        return set_string(ret, s);
}

/* host:port, [v6]:port. */
static int need_address(Ctx *x, const char *name, const Node *v, char **ret) {
        const char *s = need_scalar(x, name, v, "an address HOST:PORT");
        const char *colon, *host_end;
        uint64_t port;

        if (!s)
                return -EINVAL;
        if (s[0] == '[') {
                host_end = strchr(s, ']');
                if (!host_end || host_end == s + 1 || host_end[1] != ':') {
                        err_at(x, v->loc, "'%s': '%s' is not an address (expected [IPv6]:PORT)", name, s);
                        return -EINVAL;
                }
                colon = host_end + 1;
        } else {
                colon = strrchr(s, ':');
                if (!colon || colon == s || memchr(s, ':', (size_t) (colon - s))) {
                        err_at(x,
                               v->loc,
                               "'%s': '%s' is not an address (expected HOST:PORT, e.g. 127.0.0.1:6379)",
                               name,
                               s);
                        return -EINVAL;
                }
                for (const char *c = s; c < colon; c++)
                        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                              (*c >= '0' && *c <= '9') || *c == '.' || *c == '-')) {
                                err_at(x,
                                       node_value_location(v, (size_t) (c - s)),
                                       "'%s': invalid character in host name",
                                       name);
                                return -EINVAL;
                        }
        }
        if (safe_atou64(colon + 1, &port) < 0 || port < 1 || port > 65535) {
                err_at(x,
                       node_value_location(v, (size_t) (colon + 1 - s)),
                       "'%s': port must be a number from 1 to 65535",
                       name);
                return -EINVAL;
        }
        return set_string(ret, s);
}

/* Parse a selector value and report a syntax error at its exact column. */
static int need_selector(Ctx *x, const char *name, const Node *v, Selector **ret, Location *ret_loc) {
        const char *s = need_scalar(x, name, v, "a selector such as 'metric{label=\"value\"}'");
        _cleanup_free_ char *msg = NULL;
        size_t off = 0;
        int r;

        if (!s)
                return -EINVAL;
        r = selector_parse(s, ret, &msg, &off);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                err_at(x, node_value_location(v, off), "'%s': %s", name, msg ?: "invalid selector");
                return -EINVAL;
        }
        *ret_loc = v->loc;
        return 0;
}

/* Parse a template; remember its ${labels.X} references (with their columns) for the selector check. */
static int need_template(
        Ctx *x, RuleAux *aux, const char *name, const Node *v, bool allow_empty, Template *ret, bool *ret_has_vars) {
        const char *s = need_scalar(x, name, v, "a string");
        _cleanup_free_ char *msg = NULL;
        TemplateRef *refs = NULL;
        size_t n_refs = 0, off = 0;
        int r;

        if (!s)
                return -EINVAL;
        if (!*s && !allow_empty) {
                err_at(x, v->loc, "'%s' must not be empty", name);
                return -EINVAL;
        }
        r = template_parse(s, &refs, &n_refs, &msg, &off);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                err_at(x, node_value_location(v, off), "'%s': %s", name, msg ?: "invalid template");
                return -EINVAL;
        }
        bool service_controlled = false;
        for (size_t i = 0; i < n_refs; i++) {
                if (refs[i].kind == TEMPLATE_VAR_SERIES)
                        service_controlled = true;
                if (refs[i].kind != TEMPLATE_VAR_LABEL)
                        continue;
                service_controlled = true;
                LabelRef *a = reallocarray(aux->label_refs, aux->n_label_refs + 1, sizeof(LabelRef));
                if (!a) {
                        template_refs_free(refs, n_refs);
                        return -ENOMEM;
                }
                aux->label_refs = a;
                a[aux->n_label_refs++] = (LabelRef){ .label = TAKE_PTR(refs[i].label),
                                                     .loc = node_value_location(v, refs[i].offset) };
        }
        template_refs_free(refs, n_refs);
        free(ret->text);
        ret->text = strdup(s);
        if (!ret->text)
                return -ENOMEM;
        /* "$$" needs expanding too, so it makes the text a template (but not a variable target). */
        ret->templated = n_refs > 0 || strstr(s, "$$");
        /* Only ${labels.X} and ${series} carry text that the monitored service chooses. */
        if (ret_has_vars)
                *ret_has_vars = service_controlled;
        return 0;
}

static int grow(void **array, size_t *alloc, size_t need, size_t sz) {
        size_t old = *alloc;
        int r = greedy_realloc(array, alloc, need, sz);
        if (r < 0)
                return r;
        if (*alloc > old)
                memset((char *) *array + old * sz, 0, (*alloc - old) * sz);
        return 0;
}

/* ---- sources ---- */

static const char *const source_keys[] = { "name",     "prometheus", "systemd",    "http_probe", "listen",
                                           "interval", "timeout",    "max_series", "labels",     NULL };

static int parse_source_labels(Ctx *x, SourceConfig *src, const Node *v) {
        if (!need_map(x, "labels", v))
                return -EINVAL;
        src->labels = calloc(MAX(v->n_pairs, (size_t) 1), sizeof(KeyValue));
        if (!src->labels)
                return -ENOMEM;
        for (size_t i = 0; i < v->n_pairs; i++) {
                const Node *k = v->pairs[i].key, *val = v->pairs[i].value;
                const char *s;
                if (!label_name_is_valid(k->value)) {
                        err_at(x, k->loc, "'%s' is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)", k->value);
                        continue;
                }
                if (startswith(k->value, "__") || streq(k->value, "source")) {
                        err_at(x,
                               k->loc,
                               "label '%s' is reserved (%s)",
                               k->value,
                               streq(k->value, "source") ? "homeostat sets source=\"<name>\" itself"
                                                         : "names starting with '__' are internal");
                        continue;
                }
                s = need_scalar(x, k->value, val, "a string");
                if (!s)
                        continue;
                KeyValue *kv = &src->labels[src->n_labels];
                kv->key = strdup(k->value);
                kv->value = strdup(s);
                src->n_labels++;
                if (!kv->key || !kv->value)
                        return -ENOMEM;
        }
        /* Sorted by key, as rules.h promises. */
        for (size_t i = 1; i < src->n_labels; i++)
                for (size_t j = i; j > 0 && strcmp(src->labels[j - 1].key, src->labels[j].key) > 0; j--) {
                        KeyValue t = src->labels[j];
                        src->labels[j] = src->labels[j - 1];
                        src->labels[j - 1] = t;
                }
        return 0;
}

static int parse_source(Ctx *x, const Node *m) {
        ConfigBuilder *b = x->b;
        Config *c = b->c;
        SourceConfig *src;
        Location name_loc = m->loc;
        const Node *kind_node = NULL;
        bool has_interval = false, has_timeout = false;
        Location interval_loc = {}, timeout_loc = {};
        int r;

        if (m->kind != NODE_MAPPING) {
                err_at(x,
                       m->loc,
                       "a source must be a mapping with 'name' and one of prometheus, systemd, http_probe, listen; got %s",
                       node_kind_to_string(m));
                return 0;
        }
        r = grow((void **) &c->sources, &b->sources_alloc, c->n_sources + 1, sizeof(SourceConfig));
        if (r < 0)
                return r;
        r = grow((void **) &b->source_name_locs, &b->source_name_locs_alloc, c->n_sources + 1, sizeof(Location));
        if (r < 0)
                return r;
        src = &c->sources[c->n_sources++];
        src->loc = m->loc;
        src->kind = _SOURCE_KIND_MAX;
        src->interval_usec = 10 * USEC_PER_SEC;
        src->max_series = 10000;

        for (size_t i = 0; i < m->n_pairs; i++) {
                const char *k = m->pairs[i].key->value;
                const Node *v = m->pairs[i].value;
                SourceKind kind = _SOURCE_KIND_MAX;

                if (streq(k, "name"))
                        r = need_name(x, "source", v, true, &src->name, &name_loc);
                else if (streq(k, "prometheus") || streq(k, "http_probe")) {
                        kind = streq(k, "prometheus") ? SOURCE_PROMETHEUS : SOURCE_HTTP_PROBE;
                        r = need_url(x, k, v, false, &src->url);
                } else if (streq(k, "systemd")) {
                        kind = SOURCE_SYSTEMD;
                        r = 0;
                        if (!need_list(x, k, v, "[api.service, \"worker@*.service\"]"))
                                r = -EINVAL;
                        else if (v->n_items == 0) {
                                err_at(x, v->loc, "'systemd' needs at least one unit name or glob");
                                r = -EINVAL;
                        } else {
                                src->units = calloc(v->n_items, sizeof(char *));
                                if (!src->units)
                                        return -ENOMEM;
                                for (size_t j = 0; j < v->n_items; j++) {
                                        const char *u = need_scalar(
                                                x, "systemd", v->items[j], "a unit name or glob");
                                        if (!u)
                                                continue;
                                        if (!unit_glob_is_valid(u)) {
                                                err_at(x,
                                                       v->items[j]->loc,
                                                       "'%s' is not a unit name or glob (expected e.g. api.service or worker@*.service)",
                                                       u);
                                                continue;
                                        }
                                        src->units[src->n_units] = strdup(u);
                                        if (!src->units[src->n_units++])
                                                return -ENOMEM;
                                }
                        }
                } else if (streq(k, "listen")) {
                        kind = SOURCE_LISTEN;
                        r = need_abs_path(x, k, v, 107, &src->listen_path);
                } else if (streq(k, "interval")) {
                        r = need_positive_duration(x, k, v, &src->interval_usec);
                        has_interval = r >= 0;
                        interval_loc = v->loc;
                } else if (streq(k, "timeout")) {
                        r = need_positive_duration(x, k, v, &src->timeout_usec);
                        has_timeout = r >= 0;
                        timeout_loc = v->loc;
                } else if (streq(k, "max_series"))
                        r = need_uint(x, k, v, 1, 10000000, &src->max_series);
                else if (streq(k, "labels"))
                        r = parse_source_labels(x, src, v);
                else {
                        unknown_key(x, m->pairs[i].key, "source", source_keys);
                        r = 0;
                }
                if (r == -ENOMEM)
                        return r;
                if (kind != _SOURCE_KIND_MAX) {
                        if (kind_node)
                                err_at(x,
                                       m->pairs[i].key->loc,
                                       "a source has exactly one of prometheus, systemd, http_probe, listen; "
                                       "this one already has '%s'",
                                       kind_node->value);
                        else {
                                kind_node = m->pairs[i].key;
                                src->kind = kind;
                        }
                }
        }
        if (!src->name)
                missing_key(x, m, "source", "name", NULL);
        if (!kind_node)
                err_at(x,
                       m->loc,
                       "source%s%s%s needs one of prometheus: URL, systemd: [units], http_probe: URL, listen: PATH",
                       src->name ? " '" : "",
                       strempty(src->name),
                       src->name ? "'" : "");
        if (!has_timeout)
                src->timeout_usec = MIN(src->interval_usec, 5 * USEC_PER_SEC);
        else if (src->timeout_usec > src->interval_usec) {
                char a[DURATION_MAX], bb[DURATION_MAX];
                warn_at(x,
                        timeout_loc,
                        "timeout %s is longer than the interval %s: a slow %s overlaps the next one",
                        format_duration(a, sizeof(a), src->timeout_usec),
                        format_duration(bb, sizeof(bb), src->interval_usec),
                        src->kind == SOURCE_HTTP_PROBE ? "probe" : "scrape");
        }
        if (has_interval && src->interval_usec < USEC_PER_SEC) {
                char a[DURATION_MAX];
                warn_at(x,
                        interval_loc,
                        "interval %s is shorter than 1s: this costs CPU on every host and rarely detects "
                        "anything sooner",
                        format_duration(a, sizeof(a), src->interval_usec));
        }
        b->source_name_locs[c->n_sources - 1] = name_loc;
        return 0;
}

/* ---- notifiers ---- */

static const char *const notifier_keys[] = { "name", "kind", "url", "url_file", "url_credential", NULL };
static const char *const notifier_kind_names[_NOTIFIER_KIND_MAX] = {
        [NOTIFIER_SLACK] = "slack",     [NOTIFIER_MATTERMOST] = "mattermost",
        [NOTIFIER_TEAMS] = "teams",     [NOTIFIER_DISCORD] = "discord",
        [NOTIFIER_WEBHOOK] = "webhook", [NOTIFIER_ALERTMANAGER] = "alertmanager",
};

static int parse_notifier(Ctx *x, const Node *m) {
        ConfigBuilder *b = x->b;
        Config *c = b->c;
        NotifierConfig *n;
        Location name_loc = m->loc;
        const Node *url_key = NULL;
        bool has_kind = false;
        int r;

        if (m->kind != NODE_MAPPING) {
                err_at(x,
                       m->loc,
                       "a notifier must be a mapping with name, kind and url_credential (or url, url_file); got %s",
                       node_kind_to_string(m));
                return 0;
        }
        r = grow((void **) &c->notifiers, &b->notifiers_alloc, c->n_notifiers + 1, sizeof(NotifierConfig));
        if (r < 0)
                return r;
        r = grow(
                (void **) &b->notifier_name_locs,
                &b->notifier_name_locs_alloc,
                c->n_notifiers + 1,
                sizeof(Location));
        if (r < 0)
                return r;
        n = &c->notifiers[c->n_notifiers++];
        n->loc = m->loc;
        n->url_from = _URL_FROM_MAX;

        for (size_t i = 0; i < m->n_pairs; i++) {
                const char *k = m->pairs[i].key->value;
                const Node *v = m->pairs[i].value;
                UrlFrom from = _URL_FROM_MAX;
                _cleanup_free_ char *val = NULL;

                r = 0;
                if (streq(k, "name"))
                        r = need_name(x, "notifier", v, true, &n->name, &name_loc);
                else if (streq(k, "kind")) {
                        r = need_enum(x, "notifier kind", v, notifier_kind_names, _NOTIFIER_KIND_MAX);
                        if (r >= 0) {
                                n->kind = (NotifierKind) r;
                                has_kind = true;
                        }
                } else if (streq(k, "url")) {
                        from = URL_FROM_LITERAL;
                        r = need_url(x, k, v, true, &val);
                        if (r >= 0)
                                warn_at(x,
                                        m->pairs[i].key->loc,
                                        "the webhook URL is a secret but sits in the rule file; use url_credential: NAME "
                                        "(systemd LoadCredential=) or url_file: PATH instead");
                } else if (streq(k, "url_file")) {
                        from = URL_FROM_FILE;
                        r = need_abs_path(x, k, v, 4096, &val);
                } else if (streq(k, "url_credential")) {
                        from = URL_FROM_CREDENTIAL;
                        const char *s = need_scalar(x, k, v, "a credential name");
                        if (!s)
                                r = -EINVAL;
                        else {
                                for (const char *p = s; *p && r == 0; p++)
                                        if (!name_char_ok(*p, true)) {
                                                err_at(x,
                                                       node_value_location(v, (size_t) (p - s)),
                                                       "credential name '%s' may only contain letters, digits, '_', '.' and '-'",
                                                       s);
                                                r = -EINVAL;
                                        }
                                if (r == 0 && !*s) {
                                        err_at(x, v->loc, "'url_credential' must not be empty");
                                        r = -EINVAL;
                                }
                                if (r == 0 && !(val = strdup(s)))
                                        return -ENOMEM;
                        }
                } else
                        unknown_key(x, m->pairs[i].key, "notifier", notifier_keys);
                if (r == -ENOMEM)
                        return r;
                if (from != _URL_FROM_MAX) {
                        if (url_key)
                                err_at(x,
                                       m->pairs[i].key->loc,
                                       "a notifier has exactly one of url, url_file, url_credential; this one already has '%s'",
                                       url_key->value);
                        else {
                                url_key = m->pairs[i].key;
                                if (val) {
                                        n->url_from = from;
                                        n->url_ref = TAKE_PTR(val);
                                }
                        }
                }
        }
        if (!n->name)
                missing_key(x, m, "notifier", "name", NULL);
        if (!has_kind && !node_get(m, "kind"))
                missing_key(
                        x, m, "notifier", "kind", "slack, mattermost, teams, discord, webhook or alertmanager");
        if (!url_key)
                err_at(x,
                       m->loc,
                       "notifier%s%s%s needs one of url_credential: NAME, url_file: PATH or url: URL",
                       n->name ? " '" : "",
                       strempty(n->name),
                       n->name ? "'" : "");
        b->notifier_name_locs[c->n_notifiers - 1] = name_loc;
        return 0;
}

/* ---- detectors ---- */

static const char *const detector_kind_names[_DETECTOR_KIND_MAX] = {
        [DETECTOR_EWMA] = "ewma",   [DETECTOR_SEASONAL] = "seasonal", [DETECTOR_THRESHOLD] = "threshold",
        [DETECTOR_CUSUM] = "cusum", [DETECTOR_BURNRATE] = "burnrate", [DETECTOR_TREND] = "trend",
};
static const char *const direction_names[_DIRECTION_MAX] = {
        [DIRECTION_BOTH] = "both",
        [DIRECTION_UP] = "up",
        [DIRECTION_DOWN] = "down",
};

/* Which detector kinds take a key: a bit per DetectorKind; ALL for the common keys. */
#define DK(k) (1U << (k))
#define DK_ALL ((1U << _DETECTOR_KIND_MAX) - 1)
static const struct {
        const char *key;
        unsigned kinds;
} detector_keys[] = {
        { "kind", DK_ALL },
        { "threshold", DK_ALL },
        { "direction", DK_ALL },
        { "warmup", DK_ALL },
        { "halflife", DK(DETECTOR_EWMA) },
        { "period", DK(DETECTOR_SEASONAL) },
        { "resolution", DK(DETECTOR_SEASONAL) },
        { "drift", DK(DETECTOR_CUSUM) },
        { "above", DK(DETECTOR_THRESHOLD) },
        { "below", DK(DETECTOR_THRESHOLD) },
        { "errors", DK(DETECTOR_BURNRATE) },
        { "total", DK(DETECTOR_BURNRATE) },
        { "objective", DK(DETECTOR_BURNRATE) },
        { "windows", DK(DETECTOR_BURNRATE) },
        { "on", DK(DETECTOR_BURNRATE) },
        { "limit", DK(DETECTOR_TREND) },
        { "horizon", DK(DETECTOR_TREND) },
        { "window", DK(DETECTOR_TREND) },
};

static void kinds_to_string(unsigned kinds, char *buf, size_t size) {
        size_t off = 0;
        buf[0] = 0;
        for (DetectorKind k = 0; k < _DETECTOR_KIND_MAX; k++)
                if (kinds & DK(k)) {
                        int n = snprintf(
                                buf + off, size - off, "%s%s", off ? ", " : "", detector_kind_names[k]);
                        if (n < 0 || (size_t) n >= size - off)
                                return;
                        off += (size_t) n;
                }
}

static int parse_warmup(Ctx *x, DetectorSpec *d, const Node *v) {
        const char *s = need_scalar(x, "warmup", v, "a duration (2h) or a sample count (100)");
        bool digits;

        if (!s)
                return -EINVAL;
        digits = *s != 0;
        for (const char *c = s; *c; c++)
                if (*c < '0' || *c > '9')
                        digits = false;
        if (digits) {
                uint64_t n;
                int r = need_uint(x, "warmup", v, 0, 1000000000, &n);
                if (r < 0)
                        return r;
                d->warmup_samples = n;
        } else {
                int r = need_duration(x, "warmup", v, &d->warmup_usec);
                if (r < 0)
                        return r;
        }
        d->has_warmup = true;
        return 0;
}

/* One seasonal period: the detector models the daily and the weekly rhythm (phase bins of a day and of a
 * week), so those are the periods a rule may name; anything else would pass here and be refused when the
 * rule is loaded into the evaluator. */
static int need_period(Ctx *x, const Node *v, usec_t *ret) {
        int r = need_positive_duration(x, "period", v, ret);
        if (r < 0)
                return r;
        if (*ret != USEC_PER_DAY && *ret != USEC_PER_WEEK) {
                char a[DURATION_MAX];
                err_at(x,
                       v->loc,
                       "'period' must be 1d or 1w (the daily and weekly rhythms the seasonal detector models); got %s",
                       format_duration(a, sizeof(a), *ret));
                return -EINVAL;
        }
        return 0;
}

static int parse_period(Ctx *x, DetectorSpec *d, const Node *v) {
        int r;
        if (v->kind == NODE_SCALAR) {
                r = need_period(x, v, &d->periods_usec[0]);
                if (r < 0)
                        return r;
                d->n_periods = 1;
                return 0;
        }
        if (!need_list(x, "period", v, "1d or [1d, 1w]"))
                return -EINVAL;
        if (v->n_items == 0 || v->n_items > SEASONAL_PERIODS_MAX) {
                err_at(x,
                       v->loc,
                       "'period' takes one or %d durations, e.g. [1d, 1w]; got %zu",
                       SEASONAL_PERIODS_MAX,
                       v->n_items);
                return -EINVAL;
        }
        for (size_t i = 0; i < v->n_items; i++) {
                r = need_period(x, v->items[i], &d->periods_usec[i]);
                if (r < 0)
                        return r;
                if (i > 0 && d->periods_usec[i] == d->periods_usec[0]) {
                        err_at(x, v->items[i]->loc, "the same period is given twice");
                        return -EINVAL;
                }
        }
        d->n_periods = v->n_items;
        return 0;
}

static int parse_windows(Ctx *x, DetectorSpec *d, const Node *v) {
        if (!need_list(x, "windows", v, "[[1h, 5m, 14.4], [6h, 30m, 6]]"))
                return -EINVAL;
        if (v->n_items == 0 || v->n_items > BURN_WINDOWS_MAX) {
                err_at(x,
                       v->loc,
                       "'windows' takes 1 to %d entries of [long, short, factor]; got %zu",
                       BURN_WINDOWS_MAX,
                       v->n_items);
                return -EINVAL;
        }
        for (size_t i = 0; i < v->n_items; i++) {
                const Node *w = v->items[i];
                BurnWindow bw = {};
                if (w->kind != NODE_SEQUENCE || w->n_items != 3) {
                        err_at(x, w->loc, "each burn-rate window is [long, short, factor], e.g. [1h, 5m, 14.4]");
                        return -EINVAL;
                }
                if (need_positive_duration(x, "windows", w->items[0], &bw.long_usec) < 0 ||
                    need_positive_duration(x, "windows", w->items[1], &bw.short_usec) < 0 ||
                    need_number(x, "windows", w->items[2], &bw.factor) < 0)
                        return -EINVAL;
                if (bw.short_usec >= bw.long_usec) {
                        err_at(x,
                               w->items[1]->loc,
                               "the short window must be shorter than the long window ([long, short, factor])");
                        return -EINVAL;
                }
                if (bw.factor <= 0) {
                        err_at(x, w->items[2]->loc, "the burn-rate factor must be greater than 0");
                        return -EINVAL;
                }
                d->windows[i] = bw;
        }
        d->n_windows = v->n_items;
        return 0;
}

static int parse_label_list(Ctx *x, const char *name, const Node *v, char ***ret, size_t *ret_n) {
        if (!need_list(x, name, v, "[service, code]"))
                return -EINVAL;
        char **l = calloc(MAX(v->n_items, (size_t) 1), sizeof(char *));
        if (!l)
                return -ENOMEM;
        size_t n = 0;
        for (size_t i = 0; i < v->n_items; i++) {
                const char *s = need_scalar(x, name, v->items[i], "a label name");
                if (!s)
                        continue;
                if (!label_name_is_valid(s)) {
                        err_at(x, v->items[i]->loc, "'%s' is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)", s);
                        continue;
                }
                bool dup = false;
                for (size_t j = 0; j < n; j++)
                        if (streq(l[j], s))
                                dup = true;
                if (dup) {
                        err_at(x, v->items[i]->loc, "label '%s' is listed twice", s);
                        continue;
                }
                l[n] = strdup(s);
                if (!l[n++]) {
                        strv_free_n(l, n);
                        return -ENOMEM;
                }
        }
        strv_free_n(*ret, *ret_n);
        *ret = l;
        *ret_n = n;
        return 0;
}

static int parse_detector(Ctx *x, Rule *rule, RuleAux *aux, const Node *m, bool *ret_ok) {
        DetectorSpec *d = &rule->detector;
        const Node *kind_node;
        int r;

        *ret_ok = false;
        if (!need_map(x, "detector", m))
                return 0;
        d->loc = m->loc;
        kind_node = node_get(m, "kind");
        if (!kind_node) {
                missing_key(x, m, "detector", "kind", "ewma, seasonal, threshold, cusum, burnrate or trend");
                return 0;
        }
        r = need_enum(x, "detector kind", kind_node, detector_kind_names, _DETECTOR_KIND_MAX);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return 0;
        d->kind = (DetectorKind) r;
        d->threshold = 4;
        d->direction = DIRECTION_BOTH;
        d->halflife_usec = 30 * USEC_PER_MINUTE;
        d->drift = 0.5;

        bool has_limit = false, has_horizon = false, has_objective = false;
        for (size_t i = 0; i < m->n_pairs; i++) {
                const Node *key = m->pairs[i].key, *v = m->pairs[i].value;
                const char *k = key->value;
                unsigned kinds = 0;
                size_t idx;

                for (idx = 0; idx < ELEMENTSOF(detector_keys); idx++)
                        if (streq(detector_keys[idx].key, k)) {
                                kinds = detector_keys[idx].kinds;
                                break;
                        }
                if (kinds == 0) {
                        const char *known[ELEMENTSOF(detector_keys) + 1] = {};
                        for (size_t j = 0; j < ELEMENTSOF(detector_keys); j++)
                                known[j] = detector_keys[j].key;
                        const char *s = nearest(k, known);
                        if (s)
                                err_at(x, key->loc, "unknown key '%s' in detector; did you mean '%s'?", k, s);
                        else {
                                _cleanup_strbuf_ StrBuf list = STRBUF_INIT;
                                for (size_t j = 0; j < ELEMENTSOF(detector_keys); j++)
                                        if (detector_keys[j].kinds & DK(d->kind))
                                                strbuf_printf(
                                                        &list,
                                                        "%s%s",
                                                        list.len ? ", " : "",
                                                        detector_keys[j].key);
                                err_at(x,
                                       key->loc,
                                       "unknown key '%s' in a %s detector (its keys: %s)",
                                       k,
                                       detector_kind_names[d->kind],
                                       strbuf_str(&list));
                        }
                        continue;
                }
                if (!(kinds & DK(d->kind))) {
                        char buf[128];
                        kinds_to_string(kinds, buf, sizeof(buf));
                        err_at(x,
                               key->loc,
                               "'%s' does not apply to a %s detector (it is for %s)",
                               k,
                               detector_kind_names[d->kind],
                               buf);
                        continue;
                }
                r = 0;
                if (streq(k, "kind"))
                        continue;
                else if (streq(k, "threshold")) {
                        r = need_number(x, k, v, &d->threshold);
                        if (r >= 0 && (d->threshold <= 0 || d->threshold > 1000)) {
                                err_at(x,
                                       v->loc,
                                       "'threshold' is in robust standard deviations and must be greater than 0 "
                                       "(and at most 1000); got %s",
                                       v->value);
                                r = -EINVAL;
                        }
                } else if (streq(k, "direction")) {
                        r = need_enum(x, "direction", v, direction_names, _DIRECTION_MAX);
                        if (r >= 0)
                                d->direction = (Direction) r;
                } else if (streq(k, "warmup"))
                        r = parse_warmup(x, d, v);
                else if (streq(k, "halflife"))
                        r = need_positive_duration(x, k, v, &d->halflife_usec);
                else if (streq(k, "period"))
                        r = parse_period(x, d, v);
                else if (streq(k, "resolution"))
                        r = need_positive_duration(x, k, v, &d->resolution_usec);
                else if (streq(k, "drift")) {
                        r = need_number(x, k, v, &d->drift);
                        if (r >= 0 && (d->drift < 0 || d->drift > 100)) {
                                err_at(x,
                                       v->loc,
                                       "'drift' is in standard deviations and must be between 0 and 100; got %s",
                                       v->value);
                                r = -EINVAL;
                        }
                } else if (streq(k, "above")) {
                        r = need_number(x, k, v, &d->above);
                        d->has_above = r >= 0;
                } else if (streq(k, "below")) {
                        r = need_number(x, k, v, &d->below);
                        d->has_below = r >= 0;
                } else if (streq(k, "errors") || streq(k, "total")) {
                        Selector **sel = streq(k, "errors") ? &d->errors : &d->total;
                        Location *loc = streq(k, "errors") ? &aux->errors_loc : &aux->total_loc;
                        r = need_selector(x, k, v, sel, loc);
                        if (r >= 0)
                                r = note_source_refs(aux, *sel, v);
                } else if (streq(k, "objective")) {
                        r = need_number(x, k, v, &d->objective);
                        if (r >= 0 && (d->objective <= 0 || d->objective >= 100)) {
                                err_at(x,
                                       v->loc,
                                       "'objective' is a percentage between 0 and 100 (exclusive), e.g. 99.9; got %s",
                                       v->value);
                                r = -EINVAL;
                        }
                        has_objective = r >= 0;
                } else if (streq(k, "windows"))
                        r = parse_windows(x, d, v);
                else if (streq(k, "on"))
                        r = parse_label_list(x, k, v, &d->on, &d->n_on);
                else if (streq(k, "limit")) {
                        r = need_number(x, k, v, &d->limit);
                        d->has_limit = has_limit = r >= 0;
                } else if (streq(k, "horizon")) {
                        r = need_positive_duration(x, k, v, &d->horizon_usec);
                        has_horizon = r >= 0;
                } else if (streq(k, "window"))
                        r = need_positive_duration(x, k, v, &d->window_usec);
                if (r == -ENOMEM)
                        return r;
        }

        switch (d->kind) {
        case DETECTOR_SEASONAL:
                /* The detector's bounds: finer bins than a minute would hold too few samples each, coarser
                 * ones than 6 h would blur a day into four values. */
                if (d->resolution_usec > 0 &&
                    (d->resolution_usec < USEC_PER_MINUTE || d->resolution_usec > 6 * USEC_PER_HOUR)) {
                        char a[DURATION_MAX];
                        err_at(x,
                               node_get(m, "resolution")->loc,
                               "'resolution' (the phase bin width) must be between 1m and 6h; got %s",
                               format_duration(a, sizeof(a), d->resolution_usec));
                }
                break;
        case DETECTOR_THRESHOLD:
                if (!d->has_above && !d->has_below && !node_get(m, "above") && !node_get(m, "below"))
                        err_at(x, m->loc, "a threshold detector needs 'above', 'below' or both");
                else if (d->has_above && d->has_below && d->below >= d->above)
                        err_at(x,
                               node_get(m, "below")->loc,
                               "'below' (%g) must be less than 'above' (%g)",
                               d->below,
                               d->above);
                break;
        case DETECTOR_BURNRATE:
                if (!node_get(m, "errors"))
                        missing_key(x, m, "burnrate detector", "errors", "a selector for the failed events");
                if (!node_get(m, "total"))
                        missing_key(x, m, "burnrate detector", "total", "a selector for all events");
                if (!has_objective && !node_get(m, "objective"))
                        missing_key(x, m, "burnrate detector", "objective", "the SLO in percent, e.g. 99.9");
                if (d->n_windows == 0 && !node_get(m, "windows")) {
                        d->windows[0] = (BurnWindow){ USEC_PER_HOUR, 5 * USEC_PER_MINUTE, 14.4 };
                        d->windows[1] = (BurnWindow){ 6 * USEC_PER_HOUR, 30 * USEC_PER_MINUTE, 6 };
                        d->n_windows = 2;
                }
                break;
        case DETECTOR_TREND:
                if (!has_limit && !node_get(m, "limit"))
                        missing_key(x, m, "trend detector", "limit", "the value the series must not reach");
                if (!has_horizon && !node_get(m, "horizon"))
                        missing_key(x, m, "trend detector", "horizon", "how far ahead to look, e.g. 4h");
                break;
        default:
                break;
        }
        *ret_ok = true;
        return 0;
}

/* ---- remediation steps ---- */

static const char *const action_names[_ACTION_KIND_MAX] = {
        [ACTION_RESTART] = "restart", [ACTION_RELOAD] = "reload",       [ACTION_TRY_RESTART] = "try-restart",
        [ACTION_STOP] = "stop",       [ACTION_START] = "start",         [ACTION_KILL] = "kill",
        [ACTION_LIMIT] = "limit",     [ACTION_EXEC] = "exec",           [ACTION_HAPROXY] = "haproxy",
        [ACTION_REDIS] = "redis",     [ACTION_MEMCACHED] = "memcached", [ACTION_HTTP] = "http",
};
static const char *const haproxy_state_names[_HAPROXY_STATE_MAX] = {
        [HAPROXY_STATE_DRAIN] = "drain",
        [HAPROXY_STATE_MAINT] = "maint",
        [HAPROXY_STATE_READY] = "ready",
};

#define AK(k) (1U << (k))
#define AK_ALL ((1U << _ACTION_KIND_MAX) - 1)
#define AK_UNIT                                                                              \
        (AK(ACTION_RESTART) | AK(ACTION_RELOAD) | AK(ACTION_TRY_RESTART) | AK(ACTION_STOP) | \
         AK(ACTION_START) | AK(ACTION_KILL) | AK(ACTION_LIMIT))
#define AK_SOCKET (AK(ACTION_HAPROXY) | AK(ACTION_REDIS) | AK(ACTION_MEMCACHED))
static const struct {
        const char *key;
        unsigned actions;
} step_keys[] = {
        { "action", AK_ALL },
        { "verify", AK_ALL },
        { "settle", AK_ALL },
        { "targets", AK_UNIT | AK(ACTION_EXEC) | AK(ACTION_HAPROXY) | AK(ACTION_HTTP) },
        { "unit", AK_UNIT },
        { "signal", AK(ACTION_KILL) },
        { "cpu_quota", AK(ACTION_LIMIT) },
        { "memory_high", AK(ACTION_LIMIT) },
        { "io_weight", AK(ACTION_LIMIT) },
        { "tasks_max", AK(ACTION_LIMIT) },
        { "max_hold", AK(ACTION_LIMIT) | AK(ACTION_HAPROXY) },
        { "argv", AK(ACTION_EXEC) },
        { "timeout", AK(ACTION_EXEC) | AK(ACTION_HTTP) },
        { "socket", AK_SOCKET },
        { "address", AK_SOCKET },
        { "server", AK(ACTION_HAPROXY) },
        { "state", AK(ACTION_HAPROXY) },
        { "weight", AK(ACTION_HAPROXY) },
        { "db", AK(ACTION_REDIS) },
        { "pattern", AK(ACTION_REDIS) },
        { "url", AK(ACTION_HTTP) },
        { "method", AK(ACTION_HTTP) },
        { "headers", AK(ACTION_HTTP) },
        { "body", AK(ACTION_HTTP) },
        { "expect", AK(ACTION_HTTP) },
};

static const struct {
        const char *name;
        int number;
} signal_table[] = {
        { "HUP", SIGHUP },       { "INT", SIGINT },   { "QUIT", SIGQUIT },   { "ILL", SIGILL },
        { "TRAP", SIGTRAP },     { "ABRT", SIGABRT }, { "BUS", SIGBUS },     { "FPE", SIGFPE },
        { "KILL", SIGKILL },     { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV },   { "USR2", SIGUSR2 },
        { "PIPE", SIGPIPE },     { "ALRM", SIGALRM }, { "TERM", SIGTERM },   { "CHLD", SIGCHLD },
        { "CONT", SIGCONT },     { "STOP", SIGSTOP }, { "TSTP", SIGTSTP },   { "TTIN", SIGTTIN },
        { "TTOU", SIGTTOU },     { "URG", SIGURG },   { "XCPU", SIGXCPU },   { "XFSZ", SIGXFSZ },
        { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF }, { "WINCH", SIGWINCH }, { "IO", SIGIO },
        { "PWR", SIGPWR },       { "SYS", SIGSYS },
};

static int parse_signal(Ctx *x, const Node *v, int *ret) {
        const char *s = need_scalar(x, "signal", v, "a signal name (SIGTERM) or number");
        uint64_t n;

        if (!s)
                return -EINVAL;
        if (safe_atou64(s, &n) == 0) {
                if (n < 1 || n > 64) {
                        err_at(x, v->loc, "signal number must be between 1 and 64, got %s", s);
                        return -EINVAL;
                }
                *ret = (int) n;
                return 0;
        }
        const char *bare = startswith(s, "SIG") ?: s;
        for (size_t i = 0; i < ELEMENTSOF(signal_table); i++)
                if (streq(bare, signal_table[i].name)) {
                        *ret = signal_table[i].number;
                        return 0;
                }
        for (size_t i = 0; i < ELEMENTSOF(signal_table); i++)
                if (strcasecmp(startswith(s, "sig") ?: startswith(s, "Sig") ?: s, signal_table[i].name) == 0 ||
                    strcasecmp(s, signal_table[i].name) == 0) {
                        err_at(x,
                               v->loc,
                               "unknown signal '%s'; signal names are upper case: SIG%s",
                               s,
                               signal_table[i].name);
                        return -EINVAL;
                }
        err_at(x,
               v->loc,
               "unknown signal '%s' (expected a name such as SIGTERM, SIGKILL, SIGHUP or a number 1-64)",
               s);
        return -EINVAL;
}

/* CPUQuota= as systemd writes it: a percentage of one CPU, may exceed 100%. */
static int parse_cpu_quota(Ctx *x, const Node *v, uint64_t *ret) {
        const char *s = need_scalar(x, "cpu_quota", v, "a percentage such as 50%");
        size_t len;
        double pct;

        if (!s)
                return -EINVAL;
        len = strlen(s);
        if (len < 2 || s[len - 1] != '%') {
                err_at(x, v->loc, "'cpu_quota' is a percentage of one CPU, e.g. 50%% or 200%%; got '%s'", s);
                return -EINVAL;
        }
        if (parse_double(s, len - 1, &pct) < 0 || !isfinite(pct)) {
                err_at(x, v->loc, "'cpu_quota': '%s' is not a percentage (e.g. 50%%)", s);
                return -EINVAL;
        }
        if (pct <= 0 || pct > 100000) {
                err_at(x, v->loc, "'cpu_quota' must be greater than 0%% and at most 100000%%; got %s", s);
                return -EINVAL;
        }
        *ret = (uint64_t) llround(pct * 10000.0);
        if (*ret == 0) {
                err_at(x, v->loc, "'cpu_quota' %s is too small (at least 0.0001%%)", s);
                return -EINVAL;
        }
        return 0;
}

/* MemoryHigh= as systemd writes it: bytes, with K M G T P (base 1024), or infinity. */
static int parse_bytes(Ctx *x, const char *name, const Node *v, uint64_t *ret) {
        const char *s = need_scalar(x, name, v, "a size such as 512M, 2G or infinity");
        static const struct {
                char suffix;
                unsigned shift;
        } units[] = { { 'K', 10 }, { 'M', 20 }, { 'G', 30 }, { 'T', 40 }, { 'P', 50 } };
        size_t len;
        unsigned shift = 0;
        double d;

        if (!s)
                return -EINVAL;
        if (streq(s, "infinity")) {
                *ret = UINT64_MAX;
                return 0;
        }
        len = strlen(s);
        for (size_t i = 0; len > 0 && i < ELEMENTSOF(units); i++)
                if (s[len - 1] == units[i].suffix) {
                        shift = units[i].shift;
                        len--;
                }
        if (len == 0 || s[0] < '0' || s[0] > '9' || parse_double(s, len, &d) < 0 || !isfinite(d) ||
            strpbrk(s, "eE")) {
                err_at(x,
                       v->loc,
                       "'%s': '%s' is not a size (use bytes or K, M, G, T with base 1024, e.g. 512M, or infinity)",
                       name,
                       s);
                return -EINVAL;
        }
        d = ldexp(d, (int) shift);
        if (d >= 18446744073709551615.0) {
                err_at(x, v->loc, "'%s': %s is too large (use infinity for no limit)", name, s);
                return -EINVAL;
        }
        if (d < 1) {
                err_at(x, v->loc, "'%s' must be greater than 0", name);
                return -EINVAL;
        }
        *ret = (uint64_t) d;
        return 0;
}

static int parse_headers(Ctx *x, RuleAux *aux, Step *s, const Node *v) {
        if (!need_map(x, "headers", v))
                return -EINVAL;
        s->headers = calloc(MAX(v->n_pairs, (size_t) 1), sizeof(HttpHeader));
        if (!s->headers)
                return -ENOMEM;
        for (size_t i = 0; i < v->n_pairs; i++) {
                const Node *k = v->pairs[i].key, *val = v->pairs[i].value;
                const char *bad = NULL;
                int r;

                for (const char *c = k->value; *c && !bad; c++)
                        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                              (*c >= '0' && *c <= '9') || strchr("!#$%&'*+-.^_`|~", *c)))
                                bad = c;
                if (bad || !*k->value) {
                        err_at(x,
                               bad ? node_value_location(k, (size_t) (bad - k->value)) : k->loc,
                               "'%s' is not an HTTP header name (letters, digits and !#$%%&'*+-.^_`|~ only)",
                               k->value);
                        continue;
                }
                HttpHeader *h = &s->headers[s->n_headers];
                h->name.text = strdup(k->value);
                if (!h->name.text)
                        return -ENOMEM;
                s->n_headers++;
                r = need_template(x, aux, k->value, val, true, &h->value, NULL);
                if (r == -ENOMEM)
                        return r;
                if (r == 0 && !h->value.templated && strpbrk(h->value.text, "\r\n"))
                        err_at(x, val->loc, "header '%s' must not contain a line break", k->value);
        }
        return 0;
}

static int parse_expect(Ctx *x, Step *s, const Node *v) {
        const Node *const *items = &v;
        size_t n = 1;

        if (v->kind == NODE_SEQUENCE) {
                items = (const Node *const *) v->items;
                n = v->n_items;
                if (n == 0) {
                        err_at(x,
                               v->loc,
                               "'expect' needs at least one HTTP status (leave it out to accept any 2xx)");
                        return -EINVAL;
                }
        }
        s->expect = calloc(n, sizeof(unsigned));
        if (!s->expect)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                uint64_t code;
                if (need_uint(x, "expect", items[i], 100, 599, &code) < 0)
                        continue;
                s->expect[s->n_expect++] = (unsigned) code;
        }
        return 0;
}

static const char *const http_methods[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", NULL };

static int parse_method(Ctx *x, Step *s, const Node *v) {
        const char *m = need_scalar(x, "method", v, "an HTTP method such as POST");
        if (!m)
                return -EINVAL;
        for (size_t i = 0; http_methods[i]; i++) {
                if (streq(m, http_methods[i])) {
                        free(s->method);
                        s->method = strdup(m);
                        return s->method ? 0 : -ENOMEM;
                }
                if (strcasecmp(m, http_methods[i]) == 0) {
                        err_at(x, v->loc, "HTTP method '%s' must be upper case: %s", m, http_methods[i]);
                        return -EINVAL;
                }
        }
        err_at(x, v->loc, "unknown HTTP method '%s' (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS)", m);
        return -EINVAL;
}

/* Where a templated target was written, to insist on targets: and to check literal targets against it. */
typedef struct TargetNote {
        const char *what;
        Location loc;
        bool has_vars;
        const char *literal; /* points into the Step */
} TargetNote;

static int parse_step(Ctx *x, Rule *rule, RuleAux *aux, const Node *m) {
        Step *s;
        StepAux *sa;
        const Node *action_node;
        TargetNote notes[64];
        size_t n_notes = 0;
        bool limit_any = false, has_state = false, has_weight = false;
        const Node *conn_key = NULL;
        int r;

        if (m->kind != NODE_MAPPING) {
                err_at(x,
                       m->loc,
                       "a remediation step must be a mapping with 'action' and its keys, not %s",
                       node_kind_to_string(m));
                return 0;
        }
        s = &rule->steps[rule->n_steps];
        sa = &aux->steps[rule->n_steps];
        rule->n_steps++;
        s->loc = m->loc;
        s->action = _ACTION_KIND_MAX;
        s->verify_usec = 5 * USEC_PER_MINUTE;
        s->settle_usec = 5 * USEC_PER_SEC;
        s->signal = SIGTERM;
        s->weight = -1;

        action_node = node_get(m, "action");
        if (!action_node) {
                missing_key(
                        x,
                        m,
                        "remediation step",
                        "action",
                        "restart, reload, try-restart, stop, start, kill, limit, exec, haproxy, redis, memcached or http");
                return 0;
        }
        r = need_enum(x, "action", action_node, action_names, _ACTION_KIND_MAX);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return 0;
        s->action = (ActionKind) r;
        const char *an = action_names[s->action];

        for (size_t i = 0; i < m->n_pairs; i++) {
                const Node *key = m->pairs[i].key, *v = m->pairs[i].value;
                const char *k = key->value;
                unsigned actions = 0;
                bool has_vars = false;

                for (size_t j = 0; j < ELEMENTSOF(step_keys); j++)
                        if (streq(step_keys[j].key, k))
                                actions = step_keys[j].actions;
                if (actions == 0) {
                        const char *known[ELEMENTSOF(step_keys) + 1] = {};
                        size_t nk = 0;
                        for (size_t j = 0; j < ELEMENTSOF(step_keys); j++)
                                if (step_keys[j].actions & AK(s->action))
                                        known[nk++] = step_keys[j].key;
                        const char *sug = nearest(k, known);
                        if (!sug) {
                                const char *all[ELEMENTSOF(step_keys) + 1] = {};
                                for (size_t j = 0; j < ELEMENTSOF(step_keys); j++)
                                        all[j] = step_keys[j].key;
                                sug = nearest(k, all);
                        }
                        if (sug)
                                err_at(x,
                                       key->loc,
                                       "unknown key '%s' in a %s step; did you mean '%s'?",
                                       k,
                                       an,
                                       sug);
                        else {
                                _cleanup_strbuf_ StrBuf list = STRBUF_INIT;
                                for (size_t j = 0; known[j]; j++)
                                        strbuf_printf(&list, "%s%s", j ? ", " : "", known[j]);
                                err_at(x,
                                       key->loc,
                                       "unknown key '%s' in a %s step (its keys: %s)",
                                       k,
                                       an,
                                       strbuf_str(&list));
                        }
                        continue;
                }
                if (!(actions & AK(s->action))) {
                        _cleanup_strbuf_ StrBuf list = STRBUF_INIT;
                        for (ActionKind a = 0; a < _ACTION_KIND_MAX; a++)
                                if (actions & AK(a))
                                        strbuf_printf(&list, "%s%s", list.len ? ", " : "", action_names[a]);
                        err_at(x,
                               key->loc,
                               "'%s' does not apply to a %s step (it is for %s)",
                               k,
                               an,
                               strbuf_str(&list));
                        continue;
                }
                r = 0;
                if (streq(k, "action"))
                        continue;
                else if (streq(k, "verify")) {
                        r = need_positive_duration(x, k, v, &s->verify_usec);
                        sa->has_verify = r >= 0;
                        sa->verify_loc = v->loc;
                } else if (streq(k, "settle")) {
                        r = need_duration(x, k, v, &s->settle_usec);
                        sa->has_settle = r >= 0;
                        sa->settle_loc = v->loc;
                } else if (streq(k, "targets")) {
                        if (!need_list(x, k, v, "[\"api-*.service\"]"))
                                r = -EINVAL;
                        else if (v->n_items == 0) {
                                err_at(x, v->loc, "'targets' needs at least one glob");
                                r = -EINVAL;
                        } else {
                                s->targets = calloc(v->n_items, sizeof(char *));
                                if (!s->targets)
                                        return -ENOMEM;
                                for (size_t j = 0; j < v->n_items; j++) {
                                        const char *g = need_scalar(x, k, v->items[j], "a glob");
                                        if (!g)
                                                continue;
                                        if (!*g) {
                                                err_at(x, v->items[j]->loc, "an empty glob matches nothing");
                                                continue;
                                        }
                                        if (AK_UNIT & AK(s->action) && !unit_glob_is_valid(g)) {
                                                err_at(x,
                                                       v->items[j]->loc,
                                                       "'%s' is not a unit name glob (e.g. \"api-*.service\")",
                                                       g);
                                                continue;
                                        }
                                        s->targets[s->n_targets] = strdup(g);
                                        if (!s->targets[s->n_targets++])
                                                return -ENOMEM;
                                }
                        }
                } else if (streq(k, "unit")) {
                        r = need_template(x, aux, k, v, false, &s->unit, &has_vars);
                        if (r == 0 && !has_vars && !s->unit.templated && !unit_name_is_valid(s->unit.text)) {
                                char with[300];
                                snprintf(with, sizeof(with), "%s.service", s->unit.text);
                                if (!strchr(s->unit.text, '.') && strlen(s->unit.text) < 250 &&
                                    unit_name_is_valid(with))
                                        err_at(x,
                                               v->loc,
                                               "'%s' is not a full unit name; did you mean '%s.service'?",
                                               s->unit.text,
                                               s->unit.text);
                                else
                                        err_at(x,
                                               v->loc,
                                               "'%s' is not a valid unit name (letters, digits, ':_.\\-@', a suffix such as .service, at most 255 characters)",
                                               s->unit.text);
                                r = -EINVAL;
                        }
                        if (r == 0 && n_notes < ELEMENTSOF(notes))
                                notes[n_notes++] = (TargetNote){
                                        "unit", v->loc, has_vars, has_vars ? NULL : s->unit.text
                                };
                } else if (streq(k, "signal"))
                        r = parse_signal(x, v, &s->signal);
                else if (streq(k, "cpu_quota")) {
                        r = parse_cpu_quota(x, v, &s->cpu_quota_per_sec_usec);
                        s->has_cpu_quota = r >= 0;
                        limit_any = true;
                } else if (streq(k, "memory_high")) {
                        r = parse_bytes(x, k, v, &s->memory_high_bytes);
                        s->has_memory_high = r >= 0;
                        limit_any = true;
                } else if (streq(k, "io_weight")) {
                        r = need_uint(x, k, v, 1, 10000, &s->io_weight);
                        s->has_io_weight = r >= 0;
                        limit_any = true;
                } else if (streq(k, "tasks_max")) {
                        if (v->kind == NODE_SCALAR && streq(strempty(v->value), "infinity")) {
                                s->tasks_max = UINT64_MAX;
                                r = 0;
                        } else
                                r = need_uint(x, k, v, 1, 1000000000, &s->tasks_max);
                        s->has_tasks_max = r >= 0;
                        limit_any = true;
                } else if (streq(k, "max_hold"))
                        r = need_positive_duration(x, k, v, &s->max_hold_usec);
                else if (streq(k, "argv")) {
                        if (!need_list(x, k, v, "[/usr/local/bin/fix-it, \"--unit\", \"${labels.unit}\"]"))
                                r = -EINVAL;
                        else if (v->n_items == 0) {
                                err_at(x, v->loc, "'argv' needs at least the program to run (an absolute path)");
                                r = -EINVAL;
                        } else {
                                s->argv = calloc(v->n_items, sizeof(Template));
                                if (!s->argv)
                                        return -ENOMEM;
                                for (size_t j = 0; j < v->n_items; j++) {
                                        bool hv = false;
                                        r = need_template(
                                                x, aux, "argv", v->items[j], true, &s->argv[s->n_argv], &hv);
                                        if (r == -ENOMEM)
                                                return r;
                                        if (r < 0)
                                                continue;
                                        Template *t = &s->argv[s->n_argv++];
                                        if (j == 0 && (t->templated || t->text[0] != '/')) {
                                                err_at(x,
                                                       v->items[j]->loc,
                                                       "argv[0] must be the program as an absolute path (no templates; exec runs no shell and searches no PATH)");
                                                continue;
                                        }
                                        if (hv && n_notes < ELEMENTSOF(notes))
                                                notes[n_notes++] =
                                                        (TargetNote){ "argv", v->items[j]->loc, true, NULL };
                                }
                                r = 0;
                        }
                } else if (streq(k, "timeout"))
                        r = need_positive_duration(x, k, v, &s->timeout_usec);
                else if (streq(k, "socket") || streq(k, "address")) {
                        if (streq(k, "socket"))
                                r = need_abs_path(x, k, v, 107, &s->socket);
                        else
                                r = need_address(x, k, v, &s->address);
                        if (conn_key)
                                err_at(x,
                                       key->loc,
                                       "a %s step has exactly one of 'socket' and 'address'; this one already has '%s'",
                                       an,
                                       conn_key->value);
                        else
                                conn_key = key;
                } else if (streq(k, "server")) {
                        r = need_template(x, aux, k, v, false, &s->server, &has_vars);
                        if (r == 0 && !s->server.templated) {
                                const char *t = s->server.text, *slash = strchr(t, '/');
                                bool ok = slash && slash != t && slash[1] && !strchr(slash + 1, '/');
                                for (const unsigned char *c = (const unsigned char *) t; ok && *c; c++)
                                        if (*c <= ' ' || *c == ';' || *c == 0x7F)
                                                ok = false;
                                if (!ok) {
                                        err_at(x,
                                               v->loc,
                                               "'server' must be BACKEND/SERVER (no spaces or ';'), e.g. api/web1; got '%s'",
                                               t);
                                        r = -EINVAL;
                                }
                        }
                        if (r == 0 && n_notes < ELEMENTSOF(notes))
                                notes[n_notes++] = (TargetNote){
                                        "server", v->loc, has_vars, has_vars ? NULL : s->server.text
                                };
                } else if (streq(k, "state")) {
                        r = need_enum(x, "haproxy state", v, haproxy_state_names, _HAPROXY_STATE_MAX);
                        if (r >= 0)
                                s->haproxy_state = (HaproxyState) r;
                        has_state = true;
                        if (has_weight)
                                err_at(x, key->loc, "a haproxy step sets either 'state' or 'weight', not both");
                } else if (streq(k, "weight")) {
                        uint64_t w;
                        r = need_uint(x, k, v, 0, 256, &w);
                        if (r >= 0)
                                s->weight = (int) w;
                        has_weight = true;
                        if (has_state)
                                err_at(x, key->loc, "a haproxy step sets either 'state' or 'weight', not both");
                } else if (streq(k, "db")) {
                        uint64_t db;
                        r = need_uint(x, k, v, 0, 15, &db);
                        if (r >= 0)
                                s->db = (unsigned) db;
                } else if (streq(k, "pattern")) {
                        r = need_string(x, k, v, &s->pattern);
                        if (r == 0)
                                for (const unsigned char *c = (const unsigned char *) s->pattern; *c; c++)
                                        if (*c <= ' ' || *c == 0x7F) {
                                                err_at(x,
                                                       node_value_location(
                                                               v, (size_t) ((const char *) c - s->pattern)),
                                                       "'pattern' must not contain white space or control characters");
                                                r = -EINVAL;
                                                break;
                                        }
                } else if (streq(k, "url")) {
                        r = need_template(x, aux, k, v, false, &s->url, &has_vars);
                        if (r == 0 && !has_vars)
                                r = check_url(x, k, v, s->url.text, false);
                        else if (r == 0 && !startswith(s->url.text, "http://") && !startswith(s->url.text, "https://")) {
                                err_at(x,
                                       v->loc,
                                       "'url' must start with http:// or https:// (templates may fill in the rest)");
                                r = -EINVAL;
                        }
                        if (r == 0 && n_notes < ELEMENTSOF(notes))
                                notes[n_notes++] = (TargetNote){
                                        "url", v->loc, has_vars, has_vars ? NULL : s->url.text
                                };
                } else if (streq(k, "method"))
                        r = parse_method(x, s, v);
                else if (streq(k, "headers"))
                        r = parse_headers(x, aux, s, v);
                else if (streq(k, "body"))
                        r = need_template(x, aux, k, v, true, &s->body, NULL);
                else if (streq(k, "expect"))
                        r = parse_expect(x, s, v);
                if (r == -ENOMEM)
                        return r;
        }

        /* Required keys and defaults per action. */
        switch (s->action) {
        case ACTION_LIMIT:
                if (!limit_any)
                        err_at(x,
                               m->loc,
                               "a limit step needs at least one of cpu_quota, memory_high, io_weight, tasks_max");
                if (s->max_hold_usec == 0)
                        s->max_hold_usec = USEC_PER_HOUR;
                _fallthrough_;
        case ACTION_RESTART:
        case ACTION_RELOAD:
        case ACTION_TRY_RESTART:
        case ACTION_STOP:
        case ACTION_START:
        case ACTION_KILL:
                if (!node_get(m, "unit"))
                        missing_key(
                                x,
                                m,
                                "a remediation step",
                                "unit",
                                "the systemd unit to act on, e.g. api.service");
                break;
        case ACTION_EXEC:
                if (!node_get(m, "argv"))
                        missing_key(x, m, "an exec step", "argv", "the program and its arguments as a list");
                if (s->timeout_usec == 0)
                        s->timeout_usec = 30 * USEC_PER_SEC;
                break;
        case ACTION_HAPROXY:
                if (!node_get(m, "server"))
                        missing_key(x, m, "a haproxy step", "server", "BACKEND/SERVER, e.g. api/web1");
                if (!has_state && !has_weight)
                        err_at(x,
                               m->loc,
                               "a haproxy step needs 'state' (drain, maint, ready) or 'weight' (0-256)");
                if (s->max_hold_usec == 0)
                        s->max_hold_usec = USEC_PER_HOUR;
                _fallthrough_;
        case ACTION_REDIS:
        case ACTION_MEMCACHED:
                if (!conn_key)
                        err_at(x,
                               m->loc,
                               "a %s step needs 'socket' (a unix socket path) or 'address' (HOST:PORT)",
                               an);
                break;
        case ACTION_HTTP:
                if (!node_get(m, "url"))
                        missing_key(x, m, "an http step", "url", NULL);
                if (!s->method && !(s->method = strdup("POST")))
                        return -ENOMEM;
                if (s->timeout_usec == 0)
                        s->timeout_usec = 10 * USEC_PER_SEC;
                break;
        default:
                break;
        }
        if (sa->has_settle && s->settle_usec >= s->verify_usec) {
                char a[DURATION_MAX], bb[DURATION_MAX];
                err_at(x,
                       sa->settle_loc,
                       "'settle' (%s) must be shorter than the step's 'verify' (%s): the step could never pass",
                       format_duration(a, sizeof(a), s->settle_usec),
                       format_duration(bb, sizeof(bb), s->verify_usec));
        }

        /* Templated targets need an allow-list; literal targets must be on it when there is one. */
        bool any_vars = false;
        for (size_t i = 0; i < n_notes; i++) {
                if (notes[i].has_vars) {
                        any_vars = true;
                        if (s->n_targets == 0 && !node_get(m, "targets"))
                                err_at(x,
                                       notes[i].loc,
                                       "this %s is filled in from the series' labels, which the monitored service controls; "
                                       "add 'targets:' with the globs it may expand to (e.g. targets: [\"api-*.service\"])",
                                       notes[i].what);
                } else if (notes[i].literal && s->n_targets > 0 && !step_target_allowed(s, notes[i].literal))
                        err_at(x,
                               notes[i].loc,
                               "%s '%s' is not allowed by this step's targets",
                               notes[i].what,
                               notes[i].literal);
        }
        if (s->n_targets > 0 && !any_vars)
                warn_at(x,
                        node_get(m, "targets")->loc,
                        "'targets' has no effect: nothing in this step is templated from labels");
        return 0;
}

/* ---- guard ---- */

static const char *const guard_keys[] = { "cooldown",      "max_actions",    "per",
                                          "breaker_after", "breaker_window", NULL };

static int parse_guard(Ctx *x, Rule *rule, RuleAux *aux, const Node *m) {
        Guard *g = &rule->guard;
        int r = 0;

        if (!need_map(x, "guard", m))
                return 0;
        for (size_t i = 0; i < m->n_pairs; i++) {
                const char *k = m->pairs[i].key->value;
                const Node *v = m->pairs[i].value;
                uint64_t u;
                int which = -1;

                if (streq(k, "cooldown")) {
                        r = need_duration(x, k, v, &g->cooldown_usec);
                        which = GUARD_COOLDOWN;
                } else if (streq(k, "max_actions")) {
                        r = need_uint(x, k, v, 1, 1000, &u);
                        if (r >= 0)
                                g->max_actions = (unsigned) u;
                        which = GUARD_MAX_ACTIONS;
                } else if (streq(k, "per")) {
                        r = need_positive_duration(x, k, v, &g->per_usec);
                        which = GUARD_PER;
                } else if (streq(k, "breaker_after")) {
                        r = need_uint(x, k, v, 1, 1000, &u);
                        if (r >= 0)
                                g->breaker_after = (unsigned) u;
                        which = GUARD_BREAKER_AFTER;
                } else if (streq(k, "breaker_window")) {
                        r = need_positive_duration(x, k, v, &g->breaker_window_usec);
                        which = GUARD_BREAKER_WINDOW;
                } else {
                        unknown_key(x, m->pairs[i].key, "guard", guard_keys);
                        r = 0;
                }
                if (r == -ENOMEM)
                        return r;
                if (which >= 0 && r >= 0) {
                        aux->guard_set[which] = true;
                        aux->guard_loc[which] = v->loc;
                }
        }
        return 0;
}

static void guard_warnings(Ctx *x, const Rule *rule, const RuleAux *aux) {
        const Guard *g = &rule->guard;
        char a[DURATION_MAX], b[DURATION_MAX];

        if (aux->guard_set[GUARD_COOLDOWN] && g->cooldown_usec < DEFAULT_GUARD_COOLDOWN)
                warn_at(x,
                        aux->guard_loc[GUARD_COOLDOWN],
                        "guard cooldown %s is looser than the default %s: a flapping service can be acted on every %s",
                        format_duration(a, sizeof(a), g->cooldown_usec),
                        format_duration(b, sizeof(b), DEFAULT_GUARD_COOLDOWN),
                        a);
        if (aux->guard_set[GUARD_MAX_ACTIONS] && g->max_actions > DEFAULT_GUARD_MAX_ACTIONS)
                warn_at(x,
                        aux->guard_loc[GUARD_MAX_ACTIONS],
                        "guard max_actions %u is looser than the default %u per hour: repeated actions usually hide a problem "
                        "a human should see",
                        g->max_actions,
                        DEFAULT_GUARD_MAX_ACTIONS);
        if (aux->guard_set[GUARD_PER] && g->per_usec < DEFAULT_GUARD_PER)
                warn_at(x,
                        aux->guard_loc[GUARD_PER],
                        "guard per %s is looser than the default %s: the action budget refills faster",
                        format_duration(a, sizeof(a), g->per_usec),
                        format_duration(b, sizeof(b), DEFAULT_GUARD_PER));
        if (aux->guard_set[GUARD_BREAKER_AFTER] && g->breaker_after > DEFAULT_GUARD_BREAKER_AFTER)
                warn_at(x,
                        aux->guard_loc[GUARD_BREAKER_AFTER],
                        "guard breaker_after %u is looser than the default %u: more failed recoveries before a human is called in",
                        g->breaker_after,
                        DEFAULT_GUARD_BREAKER_AFTER);
        if (aux->guard_set[GUARD_BREAKER_WINDOW] && g->breaker_window_usec < DEFAULT_GUARD_BREAKER_WINDOW)
                warn_at(x,
                        aux->guard_loc[GUARD_BREAKER_WINDOW],
                        "guard breaker_window %s is looser than the default %s: failures spread out over time never trip the breaker",
                        format_duration(a, sizeof(a), g->breaker_window_usec),
                        format_duration(b, sizeof(b), DEFAULT_GUARD_BREAKER_WINDOW));
}

/* ---- rules ---- */

static const char *const rule_keys[] = { "name",        "series",        "detector",   "for",
                                         "recover_for", "reopen_within", "absent_for", "transform",
                                         "timezone",    "remediate",     "guard",      "grace",
                                         "notify",      "mode",          NULL };
static const char *const transform_names[_TRANSFORM_MAX] = {
        [TRANSFORM_AUTO] = "auto",
        [TRANSFORM_RATE] = "rate",
        [TRANSFORM_RAW] = "raw",
};
static const char *const mode_names[_RULE_MODE_MAX] = {
        [RULE_MODE_REMEDIATE] = "remediate",
        [RULE_MODE_OBSERVE] = "observe",
};

/* A zone name is valid if /usr/share/zoneinfo/NAME is a TZif file (read only; nothing else is touched). */
static int check_timezone(Ctx *x, const Node *v, const char *tz) {
        char path[512], magic[4];
        struct stat st;
        int fd;
        ssize_t n;

        if (streq(tz, "UTC"))
                return 0;
        for (const char *c = tz; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                      strchr("_+-./", *c))) {
                        err_at(x,
                               node_value_location(v, (size_t) (c - tz)),
                               "'%s' is not a time zone name (expected e.g. Europe/Berlin or UTC)",
                               tz);
                        return -EINVAL;
                }
        if (tz[0] == '/' || tz[0] == '.' || strstr(tz, "/.") || strlen(tz) > 200) {
                err_at(x, v->loc, "'%s' is not a time zone name (expected e.g. Europe/Berlin or UTC)", tz);
                return -EINVAL;
        }
        snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                err_at(x, v->loc, "unknown time zone '%s' (no such zone in /usr/share/zoneinfo)", tz);
                return -EINVAL;
        }
        n = (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) ? read(fd, magic, sizeof(magic)) : -1;
        safe_close(fd);
        if (n != 4 || memcmp(magic, "TZif", 4) != 0) {
                err_at(x, v->loc, "'%s' is not a time zone (/usr/share/zoneinfo/%s is not a zone file)", tz, tz);
                return -EINVAL;
        }
        return 0;
}

static int parse_notify(Ctx *x, RuleAux *aux, const Node *v) {
        if (!need_list(x, "notify", v, "[ops]"))
                return -EINVAL;
        for (size_t i = 0; i < v->n_items; i++) {
                const char *s = need_scalar(x, "notify", v->items[i], "a notifier name");
                bool dup = false;
                if (!s)
                        continue;
                for (size_t j = 0; j < aux->n_notify; j++)
                        if (streq(aux->notify[j].name, s))
                                dup = true;
                if (dup) {
                        err_at(x, v->items[i]->loc, "notifier '%s' is listed twice", s);
                        continue;
                }
                if (add_name_ref(&aux->notify, &aux->n_notify, s, v->items[i]->loc) < 0)
                        return -ENOMEM;
        }
        aux->has_notify = true;
        aux->notify_loc = v->loc;
        return 0;
}

static bool label_is_constrained(const Rule *rule, const char *label) {
        const DetectorSpec *d = &rule->detector;
        if (rule->series)
                return selector_constrains(rule->series, label);
        for (size_t i = 0; i < d->n_on; i++)
                if (streq(d->on[i], label))
                        return true;
        return d->errors && d->total && selector_constrains(d->errors, label) &&
                selector_constrains(d->total, label);
}

static int parse_rule(Ctx *x, const Node *m) {
        ConfigBuilder *b = x->b;
        Config *c = b->c;
        Rule *rule;
        RuleAux *aux;
        const Node *series_node = NULL, *remediate = NULL;
        bool detector_ok = false;
        int r;

        if (m->kind != NODE_MAPPING) {
                err_at(x,
                       m->loc,
                       "a rule must be a mapping with name, series, detector, ...; got %s",
                       node_kind_to_string(m));
                return 0;
        }
        r = grow((void **) &c->rules, &b->rules_alloc, c->n_rules + 1, sizeof(Rule));
        if (r < 0)
                return r;
        r = grow((void **) &b->aux, &b->aux_alloc, c->n_rules + 1, sizeof(RuleAux));
        if (r < 0)
                return r;
        rule = &c->rules[c->n_rules];
        aux = &b->aux[c->n_rules];
        c->n_rules++;
        rule->loc = m->loc;
        aux->name_loc = m->loc;
        rule->reopen_within_usec = 10 * USEC_PER_MINUTE;
        rule->grace_usec = 2 * USEC_PER_MINUTE;
        rule->guard = (Guard){
                .cooldown_usec = DEFAULT_GUARD_COOLDOWN,
                .max_actions = DEFAULT_GUARD_MAX_ACTIONS,
                .per_usec = DEFAULT_GUARD_PER,
                .breaker_after = DEFAULT_GUARD_BREAKER_AFTER,
                .breaker_window_usec = DEFAULT_GUARD_BREAKER_WINDOW,
        };

        /* The detector first: which keys make sense (series or not) depends on its kind. */
        const Node *det = node_get(m, "detector");
        if (det) {
                r = parse_detector(x, rule, aux, det, &detector_ok);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < m->n_pairs; i++) {
                const Node *key = m->pairs[i].key, *v = m->pairs[i].value;
                const char *k = key->value;

                r = 0;
                if (streq(k, "name"))
                        r = need_name(x, "rule", v, false, &rule->name, &aux->name_loc);
                else if (streq(k, "detector"))
                        continue;
                else if (streq(k, "series")) {
                        series_node = v;
                        if (detector_ok && rule->detector.kind == DETECTOR_BURNRATE) {
                                err_at(x,
                                       key->loc,
                                       "a burnrate rule takes no 'series': its selectors are the detector's "
                                       "'errors' and 'total'");
                                continue;
                        }
                        r = need_selector(x, k, v, &rule->series, &aux->series_loc);
                        if (r >= 0)
                                r = note_source_refs(aux, rule->series, v);
                } else if (streq(k, "for")) {
                        r = need_duration(x, k, v, &rule->for_usec);
                        aux->has_for = r >= 0;
                        aux->for_loc = v->loc;
                } else if (streq(k, "recover_for")) {
                        r = need_duration(x, k, v, &rule->recover_for_usec);
                        aux->has_recover_for = r >= 0;
                        aux->recover_for_loc = v->loc;
                } else if (streq(k, "reopen_within"))
                        r = need_duration(x, k, v, &rule->reopen_within_usec);
                else if (streq(k, "absent_for"))
                        r = need_positive_duration(x, k, v, &rule->absent_for_usec);
                else if (streq(k, "grace"))
                        r = need_duration(x, k, v, &rule->grace_usec);
                else if (streq(k, "transform")) {
                        r = need_enum(x, "transform", v, transform_names, _TRANSFORM_MAX);
                        if (r >= 0)
                                rule->transform = (Transform) r;
                } else if (streq(k, "mode")) {
                        r = need_enum(x, "mode", v, mode_names, _RULE_MODE_MAX);
                        if (r >= 0)
                                rule->mode = (RuleMode) r;
                } else if (streq(k, "timezone")) {
                        const char *tz = need_scalar(x, k, v, "a time zone name such as Europe/Berlin");
                        r = tz ? check_timezone(x, v, tz) : -EINVAL;
                        if (r >= 0 && !(rule->timezone = strdup(tz)))
                                return -ENOMEM;
                } else if (streq(k, "remediate")) {
                        if (need_list(x, k, v, "[{action: restart, unit: api.service}]"))
                                remediate = v;
                } else if (streq(k, "guard"))
                        r = parse_guard(x, rule, aux, v);
                else if (streq(k, "notify"))
                        r = parse_notify(x, aux, v);
                else
                        unknown_key(x, key, "rule", rule_keys);
                if (r == -ENOMEM)
                        return r;
        }
        if (!rule->timezone && !(rule->timezone = strdup("UTC")))
                return -ENOMEM;

        if (remediate && remediate->n_items > 0) {
                rule->steps = calloc(remediate->n_items, sizeof(Step));
                aux->steps = calloc(remediate->n_items, sizeof(StepAux));
                if (!rule->steps || !aux->steps)
                        return -ENOMEM;
                for (size_t i = 0; i < remediate->n_items; i++) {
                        r = parse_step(x, rule, aux, remediate->items[i]);
                        if (r < 0)
                                return r;
                }
        }

        if (!rule->name && !node_get(m, "name"))
                missing_key(x, m, "rule", "name", NULL);
        if (!det)
                missing_key(
                        x,
                        m,
                        "rule",
                        "detector",
                        "a mapping with 'kind' (ewma, seasonal, threshold, cusum, burnrate, trend)");
        if (detector_ok && rule->detector.kind != DETECTOR_BURNRATE && !series_node)
                missing_key(x, m, "rule", "series", "a selector such as 'http_requests_total{source=\"api\"}'");

        /* Template labels must be provably present. */
        if (detector_ok)
                for (size_t i = 0; i < aux->n_label_refs; i++) {
                        const char *l = aux->label_refs[i].label;
                        if (label_is_constrained(rule, l))
                                continue;
                        if (rule->detector.kind == DETECTOR_BURNRATE)
                                err_at(x,
                                       aux->label_refs[i].loc,
                                       "${labels.%s}: label '%s' is neither in the detector's 'on' list nor pinned or matched "
                                       "by both 'errors' and 'total'",
                                       l,
                                       l);
                        else if (rule->series || !series_node)
                                err_at(x,
                                       aux->label_refs[i].loc,
                                       "${labels.%s}: the rule's selector does not pin or match label '%s', so a series "
                                       "may lack it; add %s=\"...\" or %s=~\"...\" to 'series'",
                                       l,
                                       l,
                                       l,
                                       l);
                }

        /* Verification windows. */
        for (size_t i = 0; i < rule->n_steps; i++) {
                const Step *s = &rule->steps[i];
                const StepAux *sa = &aux->steps[i];
                char a[DURATION_MAX], bb[DURATION_MAX], cc[DURATION_MAX];
                if (s->action == _ACTION_KIND_MAX)
                        continue;
                if (rule->recover_for_usec >= s->verify_usec)
                        err_at(x,
                               sa->has_verify ? sa->verify_loc : aux->recover_for_loc,
                               "recover_for (%s) must be shorter than the %s step's verify (%s%s): the step could never pass",
                               format_duration(a, sizeof(a), rule->recover_for_usec),
                               action_names[s->action],
                               format_duration(bb, sizeof(bb), s->verify_usec),
                               sa->has_verify ? "" : ", the default");
                else if (rule->recover_for_usec > 0 && rule->recover_for_usec + s->settle_usec >= s->verify_usec)
                        warn_at(x,
                                sa->has_verify ? sa->verify_loc : aux->recover_for_loc,
                                "settle (%s) plus recover_for (%s) leave no time inside the %s step's verify (%s): recovery "
                                "can only be confirmed at the very deadline",
                                format_duration(cc, sizeof(cc), s->settle_usec),
                                format_duration(a, sizeof(a), rule->recover_for_usec),
                                action_names[s->action],
                                format_duration(bb, sizeof(bb), s->verify_usec));
        }

        /* Risky but valid. */
        if (rule->mode == RULE_MODE_REMEDIATE && rule->for_usec == 0) {
                for (size_t i = 0; i < rule->n_steps; i++) {
                        ActionKind a = rule->steps[i].action;
                        if (a == ACTION_RESTART || a == ACTION_TRY_RESTART || a == ACTION_STOP ||
                            a == ACTION_KILL) {
                                warn_at(x,
                                        aux->has_for ? aux->for_loc : aux->name_loc,
                                        "rule '%s' will %s on the first anomalous sample (for: %s); one noisy sample is "
                                        "enough, consider for: 1m",
                                        strna(rule->name),
                                        a == ACTION_STOP           ? "stop a unit"
                                                : a == ACTION_KILL ? "kill a unit"
                                                                   : "restart a unit",
                                        aux->has_for ? "0s" : "0s, the default");
                                break;
                        }
                }
        }
        if (rule->mode == RULE_MODE_REMEDIATE && rule->n_steps > 0 && aux->n_notify == 0)
                warn_at(x,
                        aux->has_notify ? aux->notify_loc : aux->name_loc,
                        "rule '%s' changes the system but notifies no one (notify is empty); add a notifier so a human "
                        "learns about the incident",
                        strna(rule->name));
        guard_warnings(x, rule, aux);
        return 0;
}

/* ---- top level ---- */

static const char *const top_keys[] = { "sources", "notifiers", "rules", NULL };

int config_builder_add_document(ConfigBuilder *b, const Node *root, bool is_main) {
        Ctx x = { .b = b, .d = b->diags };
        int r;

        if (root->kind != NODE_MAPPING) {
                err_at(&x,
                       root->loc,
                       "the top level must be a mapping with sources, notifiers and rules; got %s",
                       node_kind_to_string(root));
                return 0;
        }
        for (size_t i = 0; i < root->n_pairs; i++) {
                const char *k = root->pairs[i].key->value;
                const Node *v = root->pairs[i].value;
                int (*parse)(Ctx *, const Node *) = NULL;
                const char *example = NULL;

                if (streq(k, "sources")) {
                        parse = parse_source;
                        example = "[{name: api, prometheus: \"http://127.0.0.1:8080/metrics\"}]";
                } else if (streq(k, "notifiers")) {
                        parse = parse_notifier;
                        example = "[{name: ops, kind: slack, url_credential: ops-webhook}]";
                } else if (streq(k, "rules")) {
                        parse = parse_rule;
                        example = "[] for none";
                } else if (startswith(k, "x-"))
                        continue; /* extension keys: a place for YAML anchors, as in compose files */
                else {
                        unknown_key(&x, root->pairs[i].key, "the top level", top_keys);
                        continue;
                }
                if (!need_list(&x, k, v, example))
                        continue;
                for (size_t j = 0; j < v->n_items; j++) {
                        r = parse(&x, v->items[j]);
                        if (r < 0)
                                return r;
                }
        }
        if (is_main && !node_get(root, "rules"))
                err_at(&x,
                       root->loc,
                       "the main configuration file is missing required key 'rules' (write rules: [] if all rules "
                       "are in rules.d/)");
        return 0;
}

/* ---- the builder and cross-file checks ---- */

int config_builder_new(Diagnostics *diags, ConfigBuilder **ret) {
        ConfigBuilder *b = calloc(1, sizeof(ConfigBuilder));
        if (!b)
                return -ENOMEM;
        b->c = calloc(1, sizeof(Config));
        if (!b->c) {
                free(b);
                return -ENOMEM;
        }
        b->diags = diags;
        *ret = b;
        return 0;
}

static void rule_aux_done(RuleAux *a) {
        for (size_t i = 0; i < a->n_notify; i++)
                free(a->notify[i].name);
        free(a->notify);
        for (size_t i = 0; i < a->n_source_refs; i++)
                free(a->source_refs[i].name);
        free(a->source_refs);
        for (size_t i = 0; i < a->n_label_refs; i++)
                free(a->label_refs[i].label);
        free(a->label_refs);
        free(a->steps);
}

ConfigBuilder *config_builder_free(ConfigBuilder *b) {
        if (!b)
                return NULL;
        if (b->c) {
                for (size_t i = 0; i < b->c->n_rules; i++)
                        rule_aux_done(&b->aux[i]);
                config_free(b->c);
        }
        free(b->aux);
        free(b->source_name_locs);
        free(b->notifier_name_locs);
        free(b);
        return NULL;
}

void config_builder_mark_incomplete(ConfigBuilder *b) {
        b->incomplete = true;
}

int config_builder_add_file_name(ConfigBuilder *b, const char *name, const char **ret) {
        Config *c = b->c;
        int r = grow((void **) &c->files, &b->files_alloc, c->n_files + 1, sizeof(char *));
        if (r < 0)
                return r;
        c->files[c->n_files] = strdup(name);
        if (!c->files[c->n_files])
                return -ENOMEM;
        *ret = c->files[c->n_files++];
        return 0;
}

typedef struct NamedAt {
        const char *name;
        Location loc;
        size_t index;
} NamedAt;

static int cmp_named(const void *a, const void *b) {
        const NamedAt *x = a, *y = b;
        int c = strcmp(x->name, y->name);
        if (c != 0)
                return c;
        return x->index < y->index ? -1 : x->index > y->index;
}

/* Report every name that repeats an earlier one (in file order), naming the first definition. */
static int check_duplicate_names(Ctx *x, const char *what, NamedAt *v, size_t n) {
        qsort(v, n, sizeof(NamedAt), cmp_named);
        for (size_t i = 1, first = 0; i < n; i++) {
                if (!streq(v[i].name, v[first].name)) {
                        first = i;
                        continue;
                }
                char where[LOCATION_MAX];
                location_to_string(where, sizeof(where), v[first].loc);
                err_at(x, v[i].loc, "duplicate %s name '%s'; first defined at %s", what, v[i].name, where);
        }
        return 0;
}

static void suggest_name(
        Ctx *x,
        Location loc,
        const char *what,
        const char *name,
        const char *const *names,
        size_t n,
        const char *hint) {
        _cleanup_free_ const char **known = calloc(n + 1, sizeof(char *));
        const char *s = NULL;
        if (known) {
                for (size_t i = 0; i < n; i++)
                        known[i] = names[i];
                s = nearest(name, known);
        }
        if (s)
                err_at(x, loc, "no %s named '%s' is defined; did you mean '%s'?", what, name, s);
        else
                err_at(x, loc, "no %s named '%s' is defined%s", what, name, hint);
}

static const char *builtin_metric(const Selector *s) {
        return s ? (s->metric ?: selector_pinned_value(s, "__name__")) : NULL;
}

static void builtin_warning(Ctx *x, const Config *c, const Selector *s, Location loc) {
        const char *m = builtin_metric(s);
        bool systemd = false, probe = false;

        if (!m || !startswith(m, "homeostat_"))
                return;
        for (size_t i = 0; i < c->n_sources; i++) {
                systemd = systemd || c->sources[i].kind == SOURCE_SYSTEMD;
                probe = probe || c->sources[i].kind == SOURCE_HTTP_PROBE;
        }
        if (startswith(m, "homeostat_unit_") && !systemd)
                warn_at(x,
                        loc,
                        "'%s' comes from a systemd source, but none is declared: this rule will never see data",
                        m);
        else if (startswith(m, "homeostat_probe_") && !probe)
                warn_at(x,
                        loc,
                        "'%s' comes from an http_probe source, but none is declared: this rule will never see data",
                        m);
        else if (streq(m, "homeostat_source_up") && c->n_sources == 0)
                warn_at(x,
                        loc,
                        "'%s' comes from sources, but none is declared: this rule will never see data",
                        m);
}

int config_builder_finish(ConfigBuilder *b, Config **ret) {
        Ctx x = { .b = b, .d = b->diags };
        Config *c = b->c;
        _cleanup_free_ NamedAt *names = NULL;
        _cleanup_free_ const char **notifier_names = NULL, **source_names = NULL;
        size_t n;

        names = calloc(MAX(MAX(c->n_rules, c->n_sources), MAX(c->n_notifiers, (size_t) 1)), sizeof(NamedAt));
        notifier_names = calloc(c->n_notifiers + 1, sizeof(char *));
        source_names = calloc(c->n_sources + 1, sizeof(char *));
        if (!names || !notifier_names || !source_names)
                return -ENOMEM;

        n = 0;
        for (size_t i = 0; i < c->n_sources; i++)
                if (c->sources[i].name) {
                        names[n] = (NamedAt){ c->sources[i].name, b->source_name_locs[i], i };
                        source_names[n++] = c->sources[i].name;
                }
        size_t n_source_names = n;
        check_duplicate_names(&x, "source", names, n);
        n = 0;
        for (size_t i = 0; i < c->n_notifiers; i++)
                if (c->notifiers[i].name) {
                        names[n] = (NamedAt){ c->notifiers[i].name, b->notifier_name_locs[i], i };
                        notifier_names[n++] = c->notifiers[i].name;
                }
        size_t n_notifier_names = n;
        check_duplicate_names(&x, "notifier", names, n);
        n = 0;
        for (size_t i = 0; i < c->n_rules; i++)
                if (c->rules[i].name)
                        names[n++] = (NamedAt){ c->rules[i].name, b->aux[i].name_loc, i };
        check_duplicate_names(&x, "rule", names, n);

        for (size_t i = 0; i < c->n_rules; i++) {
                Rule *rule = &c->rules[i];
                RuleAux *aux = &b->aux[i];

                if (aux->n_notify > 0) {
                        rule->notify = calloc(aux->n_notify, sizeof(size_t));
                        if (!rule->notify)
                                return -ENOMEM;
                }
                for (size_t j = 0; j < aux->n_notify; j++) {
                        const NotifierConfig *found = NULL;
                        for (size_t k = 0; k < c->n_notifiers && !found; k++)
                                if (streq_ptr(c->notifiers[k].name, aux->notify[j].name)) {
                                        found = &c->notifiers[k];
                                        rule->notify[rule->n_notify++] = k;
                                }
                        if (!found && !b->incomplete)
                                suggest_name(
                                        &x,
                                        aux->notify[j].loc,
                                        "notifier",
                                        aux->notify[j].name,
                                        notifier_names,
                                        n_notifier_names,
                                        " (declare it under notifiers:)");
                }
                for (size_t j = 0; j < aux->n_source_refs; j++) {
                        if (b->incomplete || config_find_source(c, aux->source_refs[j].name))
                                continue;
                        suggest_name(
                                &x,
                                aux->source_refs[j].loc,
                                "source",
                                aux->source_refs[j].name,
                                source_names,
                                n_source_names,
                                " (every scraped series carries source=\"<name of its source>\")");
                }
                builtin_warning(&x, c, rule->series, aux->series_loc);
                builtin_warning(&x, c, rule->detector.errors, aux->errors_loc);
                builtin_warning(&x, c, rule->detector.total, aux->total_loc);
                rule->fingerprint = rule_compute_fingerprint(rule);
        }

        for (size_t i = 0; i < c->n_rules; i++)
                rule_aux_done(&b->aux[i]);
        free(b->aux);
        b->aux = NULL;
        b->aux_alloc = 0;
        *ret = TAKE_PTR(b->c);
        return 0;
}

/* ---- fingerprint ---- */

/* FNV-1a, 64 bit, over a canonical byte stream: every field is length-prefixed or fixed-size, so different
 * models cannot produce the same stream, and nothing depends on pointers or on key order in the file. */
typedef struct Hash {
        uint64_t h;
} Hash;

static void hash_bytes(Hash *h, const void *p, size_t n) {
        const unsigned char *c = p;
        for (size_t i = 0; i < n; i++) {
                h->h ^= c[i];
                h->h *= UINT64_C(0x100000001b3);
        }
}

static void hash_u64(Hash *h, uint64_t v) {
        unsigned char b[8];
        for (int i = 0; i < 8; i++)
                b[i] = (unsigned char) (v >> (8 * i));
        hash_bytes(h, b, 8);
}

static void hash_str(Hash *h, const char *s) {
        if (!s) {
                hash_u64(h, UINT64_MAX);
                return;
        }
        size_t n = strlen(s);
        hash_u64(h, n);
        hash_bytes(h, s, n);
}

static void hash_double(Hash *h, double d) {
        uint64_t u;
        if (double_eq(d, 0)) /* -0 and +0 mean the same */
                d = 0;
        memcpy(&u, &d, sizeof(u));
        hash_u64(h, u);
}

static void hash_selector(Hash *h, const Selector *s) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        if (!s) {
                hash_str(h, NULL);
                return;
        }
        (void) selector_format_normalized(s, &b);
        hash_str(h, strbuf_str(&b));
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

uint64_t rule_compute_fingerprint(const Rule *r) {
        const DetectorSpec *d = &r->detector;
        Hash h = { UINT64_C(0xcbf29ce484222325) };

        hash_str(&h, "homeostat-rule-v1");
        hash_selector(&h, r->series);
        hash_u64(&h, (uint64_t) r->transform);
        hash_str(&h, r->timezone ?: "UTC");
        hash_u64(&h, (uint64_t) d->kind);
        hash_double(&h, d->threshold);
        hash_u64(&h, (uint64_t) d->direction);
        hash_u64(&h, d->has_warmup);
        hash_u64(&h, d->warmup_usec);
        hash_u64(&h, d->warmup_samples);
        hash_u64(&h, d->halflife_usec);
        hash_u64(&h, d->n_periods);
        for (size_t i = 0; i < d->n_periods; i++)
                hash_u64(&h, d->periods_usec[i]);
        hash_u64(&h, d->resolution_usec);
        hash_double(&h, d->drift);
        hash_u64(&h, d->has_above);
        hash_double(&h, d->has_above ? d->above : 0);
        hash_u64(&h, d->has_below);
        hash_double(&h, d->has_below ? d->below : 0);
        hash_selector(&h, d->errors);
        hash_selector(&h, d->total);
        hash_double(&h, d->objective);
        hash_u64(&h, d->n_windows);
        for (size_t i = 0; i < d->n_windows; i++) {
                hash_u64(&h, d->windows[i].long_usec);
                hash_u64(&h, d->windows[i].short_usec);
                hash_double(&h, d->windows[i].factor);
        }
        /* The join labels are a set. */
        {
                _cleanup_free_ const char **on = d->n_on ? calloc(d->n_on, sizeof(char *)) : NULL;
                hash_u64(&h, d->n_on);
                if (on) {
                        memcpy(on, d->on, d->n_on * sizeof(char *));
                        qsort(on, d->n_on, sizeof(char *), cmp_str);
                        for (size_t i = 0; i < d->n_on; i++)
                                hash_str(&h, on[i]);
                }
        }
        hash_u64(&h, d->has_limit);
        hash_double(&h, d->has_limit ? d->limit : 0);
        hash_u64(&h, d->horizon_usec);
        hash_u64(&h, d->window_usec);
        return h.h;
}

/* ---- names ---- */

const char *detector_kind_to_string(DetectorKind k) {
        return k >= 0 && k < _DETECTOR_KIND_MAX ? detector_kind_names[k] : NULL;
}
const char *action_kind_to_string(ActionKind k) {
        return k >= 0 && k < _ACTION_KIND_MAX ? action_names[k] : NULL;
}
const char *source_kind_to_string(SourceKind k) {
        static const char *const names[_SOURCE_KIND_MAX] = {
                [SOURCE_PROMETHEUS] = "prometheus",
                [SOURCE_SYSTEMD] = "systemd",
                [SOURCE_HTTP_PROBE] = "http_probe",
                [SOURCE_LISTEN] = "listen",
        };
        return k >= 0 && k < _SOURCE_KIND_MAX ? names[k] : NULL;
}
const char *notifier_kind_to_string(NotifierKind k) {
        return k >= 0 && k < _NOTIFIER_KIND_MAX ? notifier_kind_names[k] : NULL;
}
const char *direction_to_string(Direction d) {
        return d >= 0 && d < _DIRECTION_MAX ? direction_names[d] : NULL;
}
const char *haproxy_state_to_string(HaproxyState s) {
        if (s == HAPROXY_STATE_NONE)
                return "none";
        return s > 0 && s < _HAPROXY_STATE_MAX ? haproxy_state_names[s] : NULL;
}
const char *transform_to_string(Transform t) {
        return t >= 0 && t < _TRANSFORM_MAX ? transform_names[t] : NULL;
}
const char *rule_mode_to_string(RuleMode m) {
        return m >= 0 && m < _RULE_MODE_MAX ? mode_names[m] : NULL;
}

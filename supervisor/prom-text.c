/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Prometheus text exposition 0.0.4: the line parser and the per-source series table; see prom-text.h.
 *
 * The parser is a single forward pass per line: memchr() finds the line end, a 256-entry class table
 * scans names, label values are walked once for quotes and escapes, and the value goes to parse_double().
 * Everything the table needs later (whether a label block decodes, duplicates, UTF-8) is a pure function
 * of the raw bytes, which is what makes caching by raw bytes exact: a spelling that decoded once decodes
 * the same way every time, and a spelling that did not is never cached.
 */
#include <string.h>

#include "hashmap.h"
#include "prom-text.h"
#include "util.h"

/* ---- character classes ---- */

enum {
        C_NAME_START = 1 << 0,  /* [a-zA-Z_:] */
        C_NAME = 1 << 1,        /* [a-zA-Z0-9_:] */
        C_LABEL_START = 1 << 2, /* [a-zA-Z_] */
        C_LABEL = 1 << 3,       /* [a-zA-Z0-9_] */
        C_BLANK = 1 << 4,       /* space, tab */
};

#define ALPHA_ (C_NAME_START | C_NAME | C_LABEL_START | C_LABEL)
#define DIGIT_ (C_NAME | C_LABEL)

static const uint8_t cls[256] = {
        ['\t'] = C_BLANK,       [' '] = C_BLANK,        [':'] = C_NAME_START | C_NAME, ['_'] = ALPHA_,
        ['0' ... '9'] = DIGIT_, ['a' ... 'z'] = ALPHA_, ['A' ... 'Z'] = ALPHA_,
};

static inline bool is_class(char c, unsigned m) {
        return cls[(unsigned char) c] & m;
}

static inline const char *skip_blanks(const char *p, const char *e) {
        while (p < e && is_class(*p, C_BLANK))
                p++;
        return p;
}

static const char *const type_names[_PROM_TYPE_MAX] = {
        [PROM_TYPE_UNTYPED] = "untyped",     [PROM_TYPE_COUNTER] = "counter", [PROM_TYPE_GAUGE] = "gauge",
        [PROM_TYPE_HISTOGRAM] = "histogram", [PROM_TYPE_SUMMARY] = "summary",
};

const char *prom_type_to_string(PromType t) {
        return t >= 0 && t < _PROM_TYPE_MAX ? type_names[t] : NULL;
}

static int prom_type_from(const char *s, size_t n) {
        for (int t = 0; t < _PROM_TYPE_MAX; t++)
                if (strlen(type_names[t]) == n && memcmp(type_names[t], s, n) == 0)
                        return t;
        return -EINVAL;
}

/* ---- the parser ---- */

typedef struct Family {
        PromType type;
        uint64_t generation; /* the exposition that declared it last */
        size_t len;
        char name[];
} Family;

struct PromParser {
        HashMap *families; /* name -> Family, at most PROM_FAMILIES_MAX */
        uint64_t generation;
        /* The family of the latest `# TYPE` line: almost every sample belongs to it. */
        char cur_name[PROM_NAME_MAX];
        size_t cur_len;
        PromType cur_type;
        PromParseStats stats;
};

int prom_parser_new(PromParser **ret) {
        PromParser *p = calloc(1, sizeof(*p));
        int r;

        if (!p)
                return -ENOMEM;
        r = hashmap_new(&p->families);
        if (r < 0) {
                free(p);
                return r;
        }
        prom_parser_begin(p);
        *ret = p;
        return 0;
}

PromParser *prom_parser_free(PromParser *p) {
        Family *f;
        size_t i = 0;

        if (!p)
                return NULL;
        while (hashmap_iterate(p->families, &i, NULL, NULL, (void **) &f))
                free(f);
        hashmap_free(p->families);
        free(p);
        return NULL;
}

void prom_parser_begin(PromParser *p) {
        p->generation++;
        p->cur_len = 0;
        p->stats = (PromParseStats){};
}

const PromParseStats *prom_parser_get_stats(const PromParser *p) {
        return &p->stats;
}

static bool has_suffix(const char *s, size_t n, const char *suffix, size_t sn) {
        return n >= sn && memcmp(s + n - sn, suffix, sn) == 0;
}

/* The sample type for a name with no usable `# TYPE`: ARCHITECTURE.md makes `_total` a counter. */
static SampleType type_by_name(const char *name, size_t n) {
        return has_suffix(name, n, "_total", 6) ? SAMPLE_COUNTER : SAMPLE_UNKNOWN;
}

/* The type of a sample whose name is a family name plus `suffix` (possibly empty), or -1 if a family of
 * this type has no such series. */
static int type_in_family(PromType ft, const char *suffix, size_t sn, const char *name, size_t n) {
        if (sn == 0)
                switch (ft) {
                case PROM_TYPE_COUNTER:
                        return SAMPLE_COUNTER;
                case PROM_TYPE_GAUGE:
                case PROM_TYPE_SUMMARY: /* the quantile series */
                        return SAMPLE_GAUGE;
                case PROM_TYPE_HISTOGRAM:
                        return SAMPLE_UNKNOWN;
                default:
                        return type_by_name(name, n);
                }
        if (sn == 7 && memcmp(suffix, "_bucket", 7) == 0)
                return ft == PROM_TYPE_HISTOGRAM ? SAMPLE_COUNTER : -1;
        if ((sn == 4 && memcmp(suffix, "_sum", 4) == 0) || (sn == 6 && memcmp(suffix, "_count", 6) == 0))
                return ft == PROM_TYPE_HISTOGRAM || ft == PROM_TYPE_SUMMARY ? SAMPLE_COUNTER : -1;
        if (sn == 6 && memcmp(suffix, "_total", 6) == 0) /* OpenMetrics-style counter family */
                return ft == PROM_TYPE_COUNTER ? SAMPLE_COUNTER : -1;
        return -1;
}

/* Why: the fast path compares the name with the family of the latest `# TYPE` line (well-formed
 * expositions keep families contiguous); only other names pay for map lookups. */
static SampleType resolve_type(const PromParser *p, const char *name, size_t n) {
        static const struct {
                const char *s;
                size_t n;
        } suffixes[] = { { "", 0 }, { "_bucket", 7 }, { "_sum", 4 }, { "_count", 6 }, { "_total", 6 } };
        int t;

        if (p->cur_len > 0 && n >= p->cur_len && memcmp(name, p->cur_name, p->cur_len) == 0) {
                t = type_in_family(p->cur_type, name + p->cur_len, n - p->cur_len, name, n);
                if (t >= 0)
                        return (SampleType) t;
        }
        if (hashmap_size(p->families) == 0)
                return type_by_name(name, n);
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                size_t sn = suffixes[i].n;
                if (!has_suffix(name, n, suffixes[i].s, sn) || n == sn)
                        continue;
                Family *f = hashmap_get(p->families, name, n - sn, hash_bytes(name, n - sn));
                if (!f)
                        continue;
                t = type_in_family(f->type, name + n - sn, sn, name, n);
                if (t >= 0)
                        return (SampleType) t;
        }
        return type_by_name(name, n);
}

static const char *scan_metric_name(const char *p, const char *e) {
        if (p >= e || !is_class(*p, C_NAME_START))
                return NULL;
        p++;
        while (p < e && is_class(*p, C_NAME))
                p++;
        return p;
}

/* `# HELP name text`: the text may only use the escapes \\ and \n. */
static const char *parse_help(const char *p, const char *e) {
        const char *n = scan_metric_name(p, e);

        if (!n)
                return "HELP without a valid metric name";
        if ((size_t) (n - p) > PROM_NAME_MAX)
                return "metric name too long";
        if (n < e && !is_class(*n, C_BLANK))
                return "invalid character in metric name";
        for (const char *q = n; q < e; q++) {
                q = memchr(q, '\\', (size_t) (e - q));
                if (!q)
                        break;
                q++;
                if (q >= e || (*q != '\\' && *q != 'n'))
                        return "invalid escape sequence in HELP text";
        }
        return NULL;
}

static const char *parse_type(PromParser *p, const char *s, const char *e) {
        const char *n = scan_metric_name(s, e), *t, *te;
        size_t len;
        int type;

        if (!n)
                return "TYPE without a valid metric name";
        len = (size_t) (n - s);
        if (len > PROM_NAME_MAX)
                return "metric name too long";
        if (n >= e || !is_class(*n, C_BLANK))
                return n >= e ? "TYPE without a type" : "invalid character in metric name";
        t = skip_blanks(n, e);
        te = t;
        while (te < e && !is_class(*te, C_BLANK))
                te++;
        if (skip_blanks(te, e) != e)
                return "unexpected text after the type";
        type = prom_type_from(t, (size_t) (te - t));
        if (type < 0)
                return "unknown metric type (expected counter, gauge, histogram, summary or untyped)";

        uint64_t h = hash_bytes(s, len);
        Family *f = hashmap_get(p->families, s, len, h);
        if (f) {
                if (f->generation == p->generation && f->type != (PromType) type)
                        return "TYPE conflicts with an earlier TYPE for the same metric";
                f->type = (PromType) type;
                f->generation = p->generation;
        } else if (hashmap_size(p->families) < PROM_FAMILIES_MAX) {
                f = malloc(sizeof(Family) + len);
                if (!f)
                        return "out of memory";
                f->type = (PromType) type;
                f->generation = p->generation;
                f->len = len;
                memcpy(f->name, s, len);
                if (hashmap_put(p->families, f->name, len, h, f) < 0) {
                        free(f);
                        return "out of memory";
                }
        }
        memcpy(p->cur_name, s, len);
        p->cur_len = len;
        p->cur_type = (PromType) type;
        return NULL;
}

static const char *parse_comment(PromParser *p, const char *s, const char *e) {
        s = skip_blanks(s + 1, e); /* past '#' */
        if (e - s >= 4 && memcmp(s, "HELP", 4) == 0 && (e - s == 4 || is_class(s[4], C_BLANK)))
                return parse_help(skip_blanks(s + 4, e), e);
        if (e - s >= 4 && memcmp(s, "TYPE", 4) == 0 && (e - s == 4 || is_class(s[4], C_BLANK)))
                return parse_type(p, skip_blanks(s + 4, e), e);
        return NULL; /* any other comment */
}

/* Walk a label block after '{' up to and including '}', checking the syntax completely. Returns the
 * position after '}' or NULL with *ret_error. */
static const char *scan_labels(const char *p, const char *e, size_t *ret_n, const char **ret_error) {
        size_t n = 0;

        for (;;) {
                const char *q;

                p = skip_blanks(p, e);
                if (p >= e)
                        goto unterminated;
                if (*p == '}')
                        break;
                if (!is_class(*p, C_LABEL_START)) {
                        *ret_error = "invalid label name";
                        return NULL;
                }
                q = p++;
                while (p < e && is_class(*p, C_LABEL))
                        p++;
                if ((size_t) (p - q) > PROM_NAME_MAX) {
                        *ret_error = "label name too long";
                        return NULL;
                }
                p = skip_blanks(p, e);
                if (p >= e || *p != '=') {
                        *ret_error = p < e ? "expected '=' after the label name" : "unterminated label set";
                        return NULL;
                }
                p = skip_blanks(p + 1, e);
                if (p >= e || *p != '"') {
                        *ret_error = p < e ? "expected '\"' to start the label value"
                                           : "unterminated label set";
                        return NULL;
                }
                p++;
                for (;;) {
                        if (p >= e) {
                                *ret_error = "unterminated label value";
                                return NULL;
                        }
                        char c = *p;
                        if (c == '"')
                                break;
                        if (c == '\\') {
                                p++;
                                if (p >= e || (*p != '\\' && *p != '"' && *p != 'n')) {
                                        *ret_error = "invalid escape sequence in label value";
                                        return NULL;
                                }
                        }
                        p++;
                }
                p++;
                if (++n > PROM_LABELS_MAX) {
                        *ret_error = "too many labels";
                        return NULL;
                }
                p = skip_blanks(p, e);
                if (p >= e)
                        goto unterminated;
                if (*p == ',') {
                        p++;
                        continue;
                }
                if (*p == '}')
                        break;
                *ret_error = "expected ',' or '}' after a label";
                return NULL;
        }
        *ret_n = n;
        return p + 1;

unterminated:
        *ret_error = "unterminated label set";
        return NULL;
}

static int parse_int64(const char *s, size_t n, int64_t *ret) {
        bool neg = false;
        uint64_t v = 0;

        if (n > 0 && (*s == '-' || *s == '+')) {
                neg = *s == '-';
                s++;
                n--;
        }
        if (n == 0)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                if (__builtin_mul_overflow(v, 10, &v) ||
                    __builtin_add_overflow(v, (uint64_t) (s[i] - '0'), &v))
                        return -ERANGE;
        }
        if (v > (uint64_t) INT64_MAX + (neg ? 1 : 0))
                return -ERANGE;
        *ret = neg ? (int64_t) (0 - v) : (int64_t) v;
        return 0;
}

/* One sample line [s, e) (no line end, no leading blanks). Returns 0, -EBADMSG with *ret_error, or the
 * callback's fatal error. */
static int parse_sample(
        PromParser *p, const char *s, const char *e, PromSampleCallback cb, void *userdata, const char **ret_error) {
        PromSample sm;
        const char *q, *v, *ve;

        q = scan_metric_name(s, e);
        if (!q) {
                *ret_error = "invalid metric name";
                return -EBADMSG;
        }
        sm.series = s;
        sm.name_len = (size_t) (q - s);
        if (sm.name_len > PROM_NAME_MAX) {
                *ret_error = "metric name too long";
                return -EBADMSG;
        }
        sm.labels = NULL;
        sm.labels_len = 0;
        sm.n_labels = 0;

        const char *after_name = q;
        q = skip_blanks(q, e);
        if (q < e && *q == '{') {
                sm.labels = q + 1;
                q = scan_labels(q + 1, e, &sm.n_labels, ret_error);
                if (!q)
                        return -EBADMSG;
                sm.labels_len = (size_t) (q - 1 - sm.labels);
                sm.series_len = (size_t) (q - s);
        } else {
                if (q == after_name && q < e) {
                        *ret_error = "invalid character in metric name";
                        return -EBADMSG;
                }
                sm.series_len = sm.name_len;
        }

        v = skip_blanks(q, e);
        if (v >= e) {
                *ret_error = "missing value";
                return -EBADMSG;
        }
        ve = v;
        while (ve < e && !is_class(*ve, C_BLANK))
                ve++;
        if (parse_double(v, (size_t) (ve - v), &sm.value) < 0) {
                *ret_error = "invalid value";
                return -EBADMSG;
        }
        sm.has_timestamp = false;
        sm.timestamp_ms = 0;
        v = skip_blanks(ve, e);
        if (v < e) {
                ve = v;
                while (ve < e && !is_class(*ve, C_BLANK))
                        ve++;
                if (parse_int64(v, (size_t) (ve - v), &sm.timestamp_ms) < 0) {
                        *ret_error = "invalid timestamp (expected integer milliseconds)";
                        return -EBADMSG;
                }
                sm.has_timestamp = true;
                if (skip_blanks(ve, e) != e) {
                        *ret_error = "unexpected text after the timestamp";
                        return -EBADMSG;
                }
        }

        sm.type = resolve_type(p, s, sm.name_len);
        sm.line = p->stats.lines;
        return cb(&sm, ret_error, userdata);
}

static void bad_line(PromParser *p, const char *error) {
        p->stats.bad_lines++;
        p->stats.last_bad_line = p->stats.lines;
        p->stats.last_error = error;
        if (p->stats.first_bad_line == 0) {
                p->stats.first_bad_line = p->stats.lines;
                p->stats.first_error = error;
        }
}

int prom_parser_feed(PromParser *p, const char *buf, size_t len, PromSampleCallback cb, void *userdata) {
        const char *s = buf, *end = buf + len;

        while (s < end) {
                const char *nl = memchr(s, '\n', (size_t) (end - s));
                const char *e = nl ?: end, *next = nl ? nl + 1 : end;
                const char *error = NULL;

                p->stats.lines++;
                if (e > s && e[-1] == '\r')
                        e--;
                if ((size_t) (e - s) > PROM_LINE_MAX) {
                        bad_line(p, "line too long");
                        s = next;
                        continue;
                }
                s = skip_blanks(s, e);
                if (s == e) {
                        s = next;
                        continue;
                }
                if (*s == '#')
                        error = parse_comment(p, s, e);
                else {
                        int r = parse_sample(p, s, e, cb, userdata, &error);
                        if (r == 0)
                                p->stats.samples++;
                        else if (r != -EBADMSG)
                                return r;
                        else if (!error)
                                error = "rejected";
                }
                if (error)
                        bad_line(p, error);
                s = next;
        }
        return 0;
}

/* ---- labels ---- */

static int label_cmp(const void *a, const void *b) {
        return strcmp(((const Label *) a)->name, ((const Label *) b)->name);
}

/* Insertion sort: label sets are small and often nearly sorted already. */
static void sort_labels(Label *l, size_t n) {
        if (n > 16) {
                qsort(l, n, sizeof(Label), label_cmp);
                return;
        }
        for (size_t i = 1; i < n; i++) {
                Label x = l[i];
                size_t j = i;
                while (j > 0 && strcmp(l[j - 1].name, x.name) > 0) {
                        l[j] = l[j - 1];
                        j--;
                }
                l[j] = x;
        }
}

int prom_labels_decode(const char *text, size_t len, PromLabels *ret, const char **ret_error) {
        const char *p = text, *e = text + len;
        char *o = ret->buf;
        size_t n = 0;

        /* Decoding never grows the text, plus a NUL after each name and value: buf is large enough. */
        if (len > PROM_LINE_MAX) {
                *ret_error = "label set too long";
                return -EBADMSG;
        }
        for (;;) {
                const char *name, *q;
                char *value;

                p = skip_blanks(p, e);
                if (p >= e)
                        break;
                if (!is_class(*p, C_LABEL_START))
                        goto syntax;
                q = p;
                while (p < e && is_class(*p, C_LABEL))
                        p++;
                if ((size_t) (p - q) > PROM_NAME_MAX)
                        goto syntax;
                if (n >= PROM_LABELS_MAX) {
                        *ret_error = "too many labels";
                        return -EBADMSG;
                }
                if (p - q == 8 && memcmp(q, "__name__", 8) == 0) {
                        *ret_error = "label __name__ is not allowed in a label set";
                        return -EBADMSG;
                }
                memcpy(o, q, (size_t) (p - q));
                name = o;
                o += p - q;
                *o++ = 0;

                p = skip_blanks(p, e);
                if (p >= e || *p != '=')
                        goto syntax;
                p = skip_blanks(p + 1, e);
                if (p >= e || *p != '"')
                        goto syntax;
                p++;
                value = o;
                for (;;) {
                        if (p >= e)
                                goto syntax;
                        const char *stop = p;
                        while (stop < e && *stop != '"' && *stop != '\\' && *stop != 0)
                                stop++;
                        memcpy(o, p, (size_t) (stop - p));
                        o += stop - p;
                        p = stop;
                        if (p >= e)
                                goto syntax;
                        if (*p == 0) {
                                *ret_error = "NUL byte in label value";
                                return -EBADMSG;
                        }
                        if (*p == '"')
                                break;
                        p++; /* backslash */
                        if (p >= e)
                                goto syntax;
                        if (*p == '\\' || *p == '"')
                                *o++ = *p;
                        else if (*p == 'n')
                                *o++ = '\n';
                        else
                                goto syntax;
                        p++;
                }
                p++; /* closing quote */
                if (!utf8_is_valid(value, (size_t) (o - value), NULL)) {
                        *ret_error = "label value is not valid UTF-8";
                        return -EBADMSG;
                }
                *o++ = 0;
                if (*value) /* an empty value is the same as no label */
                        ret->labels[n++] = (Label){ .name = name, .value = value };
                else {
                        /* still a name that must not be duplicated: keep it for the check below */
                        ret->labels[n++] = (Label){ .name = name, .value = NULL };
                }

                p = skip_blanks(p, e);
                if (p >= e)
                        break;
                if (*p != ',')
                        goto syntax;
                p++;
        }

        sort_labels(ret->labels, n);
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                if (i > 0 && streq(ret->labels[i].name, ret->labels[i - 1].name)) {
                        *ret_error = "duplicate label name";
                        return -EBADMSG;
                }
        }
        for (size_t i = 0; i < n; i++)
                if (ret->labels[i].value)
                        ret->labels[k++] = ret->labels[i];
        ret->n_labels = k;
        return 0;

syntax:
        *ret_error = "invalid label set";
        return -EBADMSG;
}

int prom_format_series(StrBuf *b, const char *metric, const Label *labels, size_t n_labels) {
        (void) strbuf_puts(b, metric);
        if (n_labels > 0) {
                (void) strbuf_putc(b, '{');
                for (size_t i = 0; i < n_labels; i++) {
                        if (i > 0)
                                (void) strbuf_putc(b, ',');
                        (void) strbuf_puts(b, labels[i].name);
                        (void) strbuf_append(b, "=\"", 2);
                        for (const char *v = labels[i].value; *v;) {
                                size_t run = strcspn(v, "\\\"\n");
                                (void) strbuf_append(b, v, run);
                                v += run;
                                if (!*v)
                                        break;
                                (void) strbuf_append(b, *v == '\n' ? "\\n" : *v == '"' ? "\\\"" : "\\\\", 2);
                                v++;
                        }
                        (void) strbuf_putc(b, '"');
                }
                (void) strbuf_putc(b, '}');
        }
        return strbuf_failed(b) ? -ENOMEM : 0;
}

/* ---- the series table ---- */

/* A spelling of a series as it appeared in an exposition; series == NULL marks one that was dropped
 * because the table was full (so it is not decoded again on every scrape). */
typedef struct Alias {
        PromSeries *series;
        usec_t last_seen;
        size_t len;
        char raw[];
} Alias;

struct PromSeriesTable {
        Label *base; /* sorted, owned strings */
        size_t n_base;
        uint64_t max_series;
        size_t max_aliases;
        HashMap *series;  /* canonical key -> PromSeries */
        HashMap *aliases; /* raw spelling -> Alias */
        PromLabels decoded;
        Label *merged; /* room for PROM_LABELS_MAX + n_base */
        StrBuf key;
        StrBuf names; /* exported_ names built during a merge */
};

static bool label_name_valid(const char *s) {
        if (!s || !is_class(*s, C_LABEL_START))
                return false;
        size_t n = 1;
        for (s++; *s; s++, n++)
                if (!is_class(*s, C_LABEL))
                        return false;
        return n <= PROM_NAME_MAX;
}

static bool metric_name_valid(const char *s) {
        if (!s || !is_class(*s, C_NAME_START))
                return false;
        size_t n = 1;
        for (s++; *s; s++, n++)
                if (!is_class(*s, C_NAME))
                        return false;
        return n <= PROM_NAME_MAX;
}

int prom_series_table_new(const Label *base, size_t n_base, uint64_t max_series, PromSeriesTable **ret) {
        _cleanup_(prom_series_table_freep) PromSeriesTable *t = NULL;
        int r;

        if (n_base > PROM_LABELS_MAX)
                return -E2BIG;
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->max_series = max_series;
        /* Raw spellings per series: usually one; extra whitespace variants and dropped series are bounded
         * by this so a hostile target cannot grow the cache. */
        t->max_aliases = (size_t) MIN(max_series, (uint64_t) (SIZE_MAX / 8)) * 2 + 1024;
        t->base = calloc(n_base + 1, sizeof(Label));
        t->merged = calloc(PROM_LABELS_MAX + n_base + 1, sizeof(Label));
        if (!t->base || !t->merged)
                return -ENOMEM;
        for (size_t i = 0; i < n_base; i++) {
                if (!label_name_valid(base[i].name) || !base[i].value || !*base[i].value ||
                    streq(base[i].name, "__name__"))
                        return -EINVAL;
                t->base[i].name = strdup(base[i].name);
                t->base[i].value = strdup(base[i].value);
                t->n_base = i + 1;
                if (!t->base[i].name || !t->base[i].value)
                        return -ENOMEM;
        }
        sort_labels(t->base, t->n_base);
        for (size_t i = 1; i < t->n_base; i++)
                if (streq(t->base[i].name, t->base[i - 1].name))
                        return -EINVAL;
        r = hashmap_new(&t->series);
        if (r < 0)
                return r;
        r = hashmap_new(&t->aliases);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

PromSeriesTable *prom_series_table_free(PromSeriesTable *t) {
        void *v;
        size_t i;

        if (!t)
                return NULL;
        if (t->aliases) {
                i = 0;
                while (hashmap_iterate(t->aliases, &i, NULL, NULL, &v))
                        free(v);
                hashmap_free(t->aliases);
        }
        if (t->series) {
                i = 0;
                while (hashmap_iterate(t->series, &i, NULL, NULL, &v))
                        free(v);
                hashmap_free(t->series);
        }
        for (size_t k = 0; k < t->n_base; k++) {
                free((char *) t->base[k].name);
                free((char *) t->base[k].value);
        }
        free(t->base);
        free(t->merged);
        strbuf_done(&t->key);
        strbuf_done(&t->names);
        free(t);
        return NULL;
}

size_t prom_series_table_size(const PromSeriesTable *t) {
        return hashmap_size(t->series);
}

static bool merged_has(const Label *l, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (streq(l[i].name, name))
                        return true;
        return false;
}

/* Merge the series' own labels (unique names) with the table's base labels into t->merged, sorted. A
 * label whose name is taken by a base label becomes exported_<name> (prefixed again while that is taken
 * too), as Prometheus does for scraped labels that collide with target labels. Returns the count. */
static int merge_labels(PromSeriesTable *t, const Label *own, size_t n_own, size_t *ret_n) {
        size_t n = 0, n_conflicts = 0;
        const Label *conflicts[PROM_LABELS_MAX];

        if (n_own > PROM_LABELS_MAX)
                return -E2BIG;
        for (size_t i = 0; i < t->n_base; i++)
                t->merged[n++] = t->base[i];
        for (size_t i = 0; i < n_own; i++) {
                if (merged_has(t->base, t->n_base, own[i].name))
                        conflicts[n_conflicts++] = &own[i];
                else
                        t->merged[n++] = own[i];
        }
        if (n_conflicts > 0) {
                /* Offsets into t->names, turned into pointers once the buffer no longer moves. */
                size_t offsets[PROM_LABELS_MAX];
                char cand[PROM_NAME_MAX + 9 * (2 * PROM_LABELS_MAX + 2) + 1];

                strbuf_reset(&t->names);
                for (size_t i = 0; i < n_conflicts; i++) {
                        size_t name_len = strlen(conflicts[i]->name), prefix = 0;
                        bool taken;

                        /* At most n names can be taken, so this ends after n + 1 prefixes. */
                        do {
                                memcpy(cand + prefix, "exported_", 9);
                                prefix += 9;
                                memcpy(cand + prefix, conflicts[i]->name, name_len + 1);
                                taken = merged_has(t->merged, n, cand);
                                for (size_t j = 0; !taken && j < i; j++)
                                        taken = streq(t->names.data + offsets[j], cand);
                        } while (taken && prefix + 9 + name_len < sizeof(cand));
                        if (taken || prefix + name_len > PROM_NAME_MAX)
                                return -EBADMSG; /* would not parse back */
                        offsets[i] = t->names.len;
                        (void) strbuf_append(&t->names, cand, prefix + name_len + 1);
                        if (strbuf_failed(&t->names))
                                return -ENOMEM;
                }
                for (size_t i = 0; i < n_conflicts; i++)
                        t->merged[n++] = (Label){ .name = t->names.data + offsets[i],
                                                  .value = conflicts[i]->value };
        }
        sort_labels(t->merged, n);
        *ret_n = n;
        return 0;
}

static PromSeries *
        series_new(const char *key, size_t key_len, const char *metric, const Label *labels, size_t n) {
        size_t size = sizeof(PromSeries) + n * sizeof(Label) + key_len + 1 + strlen(metric) + 1;
        PromSeries *s;
        Label *l;
        char *o;

        for (size_t i = 0; i < n; i++)
                size += strlen(labels[i].name) + strlen(labels[i].value) + 2;
        s = malloc(size);
        if (!s)
                return NULL;
        l = (Label *) (s + 1);
        o = (char *) (l + n);
        memcpy(o, key, key_len + 1);
        s->key = o;
        s->key_len = key_len;
        o += key_len + 1;
        s->metric = o;
        o = stpcpy(o, metric) + 1;
        for (size_t i = 0; i < n; i++) {
                l[i].name = o;
                o = stpcpy(o, labels[i].name) + 1;
                l[i].value = o;
                o = stpcpy(o, labels[i].value) + 1;
        }
        s->labels = l;
        s->n_labels = n;
        s->last_seen = 0;
        return s;
}

/* The canonical half of a lookup: merge, format the key, find or create. Returns 1, 0 (full), <0. */
static int lookup_canonical(
        PromSeriesTable *t, const char *metric, const Label *own, size_t n_own, usec_t now, PromSeries **ret) {
        size_t n;
        int r;

        r = merge_labels(t, own, n_own, &n);
        if (r < 0)
                return r;
        strbuf_reset(&t->key);
        r = prom_format_series(&t->key, metric, t->merged, n);
        if (r < 0)
                return r;
        uint64_t h = hash_bytes(t->key.data, t->key.len);
        PromSeries *s = hashmap_get(t->series, t->key.data, t->key.len, h);
        if (!s) {
                if (hashmap_size(t->series) >= t->max_series) {
                        *ret = NULL;
                        return 0;
                }
                s = series_new(t->key.data, t->key.len, metric, t->merged, n);
                if (!s)
                        return -ENOMEM;
                r = hashmap_put(t->series, s->key, s->key_len, h, s);
                if (r < 0) {
                        free(s);
                        return r;
                }
        }
        s->last_seen = now;
        *ret = s;
        return 1;
}

int prom_series_table_lookup_raw(
        PromSeriesTable *t, const PromSample *sample, usec_t now, const PromSeries **ret, const char **ret_error) {
        uint64_t h = hash_bytes(sample->series, sample->series_len);
        Alias *a = hashmap_get(t->aliases, sample->series, sample->series_len, h);
        PromSeries *s;
        int r, found;

        if (_likely_(a)) {
                a->last_seen = now;
                if (!a->series) {
                        /* dropped before; room may have appeared since (a sweep) */
                        if (hashmap_size(t->series) >= t->max_series)
                                return 0;
                } else {
                        a->series->last_seen = now;
                        *ret = a->series;
                        return 1;
                }
        }

        /* Miss: decode, canonicalize, find or create, remember this spelling. */
        char metric[PROM_NAME_MAX + 1];
        if (sample->name_len == 0 || sample->name_len > PROM_NAME_MAX) {
                *ret_error = "invalid metric name";
                return -EBADMSG;
        }
        memcpy(metric, sample->series, sample->name_len);
        metric[sample->name_len] = 0;
        t->decoded.n_labels = 0;
        if (sample->labels) {
                r = prom_labels_decode(sample->labels, sample->labels_len, &t->decoded, ret_error);
                if (r < 0)
                        return r;
        }
        r = lookup_canonical(t, metric, t->decoded.labels, t->decoded.n_labels, now, &s);
        if (r == -EBADMSG)
                *ret_error = "label name too long once renamed to exported_*";
        if (r < 0)
                return r;
        found = r;
        if (a)
                a->series = s;
        else if (hashmap_size(t->aliases) < t->max_aliases) {
                a = malloc(sizeof(Alias) + sample->series_len);
                if (!a)
                        return -ENOMEM;
                a->series = s;
                a->last_seen = now;
                a->len = sample->series_len;
                memcpy(a->raw, sample->series, sample->series_len);
                r = hashmap_put(t->aliases, a->raw, a->len, h, a);
                if (r < 0) {
                        free(a);
                        return r;
                }
        }
        if (!found)
                return 0;
        *ret = s;
        return 1;
}

int prom_series_table_lookup(
        PromSeriesTable *t,
        const char *metric,
        const Label *labels,
        size_t n_labels,
        usec_t now,
        const PromSeries **ret) {
        PromSeries *s;
        int r;

        if (!metric_name_valid(metric) || n_labels > PROM_LABELS_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n_labels; i++) {
                if (!label_name_valid(labels[i].name) || !labels[i].value || streq(labels[i].name, "__name__"))
                        return -EINVAL;
                for (size_t j = 0; j < i; j++)
                        if (streq(labels[i].name, labels[j].name))
                                return -EINVAL;
        }
        /* Empty values mean "no label", as for scraped series. */
        Label own[PROM_LABELS_MAX];
        size_t n = 0;
        for (size_t i = 0; i < n_labels; i++)
                if (*labels[i].value)
                        own[n++] = labels[i];
        r = lookup_canonical(t, metric, own, n, now, &s);
        if (r == -EBADMSG)
                return -EINVAL;
        if (r <= 0)
                return r;
        *ret = s;
        return 1;
}

size_t prom_series_table_sweep(PromSeriesTable *t, usec_t older_than) {
        _cleanup_free_ void **stale = NULL;
        size_t n_stale = 0, allocated = 0, i, removed = 0;
        const char *key;
        size_t len;
        void *v;

        /* Aliases first: an alias is never seen later than its series, so a stale series has only stale
         * aliases left, and none of them can dangle after the second pass. */
        i = 0;
        while (hashmap_iterate(t->aliases, &i, &key, &len, &v)) {
                Alias *a = v;
                if (a->last_seen < older_than || (a->series && a->series->last_seen < older_than)) {
                        if (GREEDY_REALLOC(stale, allocated, n_stale + 1) < 0)
                                return removed; /* try again next time */
                        stale[n_stale++] = a;
                }
        }
        for (size_t k = 0; k < n_stale; k++) {
                Alias *a = stale[k];
                (void) hashmap_remove(t->aliases, a->raw, a->len, hash_bytes(a->raw, a->len));
                free(a);
        }

        n_stale = 0;
        i = 0;
        while (hashmap_iterate(t->series, &i, &key, &len, &v)) {
                PromSeries *s = v;
                if (s->last_seen < older_than) {
                        if (GREEDY_REALLOC(stale, allocated, n_stale + 1) < 0)
                                return removed;
                        stale[n_stale++] = s;
                }
        }
        for (size_t k = 0; k < n_stale; k++) {
                PromSeries *s = stale[k];
                (void) hashmap_remove(t->series, s->key, s->key_len, hash_bytes(s->key, s->key_len));
                free(s);
                removed++;
        }
        return removed;
}

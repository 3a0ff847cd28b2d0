/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * `homeostatctl replay --rules FILE [--series NAME] [--skip-bad] INPUT.csv...`: run rules over recorded
 * data with exactly the evaluator the daemon runs, and print what it decided.
 *
 * Input: CSV rows `timestamp,value` or `timestamp,series,value`, an optional header line (recognised by a
 * first field that is not a timestamp), fields optionally quoted (RFC 4180, "" for a quote, newlines inside
 * quotes), CRLF or LF line ends, blank lines ignored. Timestamps are epoch seconds, RFC 3339 or
 * `YYYY-MM-DD HH:MM:SS` (UTC). A two-column file's series is named after the file (basename without
 * extension; "-" reads stdin, named "stdin"); a three-column file's series column is a series as written
 * `name{a="x",b="y"}`; --series NAME overrides both.
 *
 * Output (stdout): `timestamp,series,rule,value,score,anomaly,expected,lower,upper`, one row per (sample,
 * matching rule) in input order. The timestamp and value are copied verbatim from the input; the series is
 * the canonical key, quoted as CSV requires; numbers use the shortest round-trip form (fmt-double.h);
 * expected, lower and upper are empty where the detector has none. anomaly is 1 while the rule fires.
 *
 * Skipped, each counted in the summary with its first line: rows whose value is empty or not a (finite)
 * number, and out-of-order rows. Malformed rows (wrong field count, bad timestamp, bad series) are an error
 * `file:line: error: ...` and exit status 1, unless --skip-bad skips and counts them too.
 *
 * Summary (stderr): per rule the alarm episodes (start, end, peak score, subject) and absences, per file
 * the skipped rows, and totals.
 *
 * Speed: the input is read in 4 MiB blocks and split by hand (a memchr for the line end, a scan for commas;
 * quoted fields take a slower path), the series of two-column files is interned once and the series of
 * three-column files is looked up only when the text changes, numbers are printed by fmt_double(), and
 * output goes through a 1 MiB buffer written with write(2).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <gsl/gsl_errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "evaluator.h"
#include "fmt-double.h"
#include "hashmap.h"
#include "rules.h"
#include "series.h"
#include "strbuf.h"
#include "time-util.h"
#include "util.h"

#define READ_BLOCK (4u << 20)
#define RECORD_MAX (64u << 20)
#define OUT_BUF (1u << 20)
#define FIELDS_MAX 8

/* ---- buffered CSV reader ---- */

typedef struct Field {
        const char *p;
        size_t len;
} Field;

typedef struct CsvReader {
        int fd;
        char *buf;
        size_t alloc, pos, end;
        bool eof;
        unsigned line; /* line number of buf[pos] */
        StrBuf unq;    /* unquoted copy of the current record (slow path only) */
} CsvReader;

static void csv_reader_done(CsvReader *r) {
        free(r->buf);
        strbuf_done(&r->unq);
        if (r->fd > STDERR_FILENO)
                safe_close(r->fd);
        r->fd = -EBADF;
}

/* Move the unread bytes to the front and read more. Returns >0 if bytes were added, 0 at EOF, <0 errno. */
static int csv_refill(CsvReader *r) {
        if (r->eof)
                return 0;
        if (r->pos > 0) {
                memmove(r->buf, r->buf + r->pos, r->end - r->pos);
                r->end -= r->pos;
                r->pos = 0;
        }
        if (r->end + READ_BLOCK / 2 > r->alloc) {
                if (r->alloc >= RECORD_MAX)
                        return -E2BIG;
                size_t na = r->alloc * 2;
                char *n = realloc(r->buf, na + 1);
                if (!n)
                        return -ENOMEM;
                r->buf = n;
                r->alloc = na;
        }
        for (;;) {
                ssize_t k = read(r->fd, r->buf + r->end, r->alloc - r->end);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0) {
                        r->eof = true;
                        return 0;
                }
                r->end += (size_t) k;
                return 1;
        }
}

/* Split the unquoted line [p, e) at commas. */
static size_t split_plain(const char *p, const char *e, Field *f) {
        size_t n = 0;
        for (;;) {
                const char *c = memchr(p, ',', (size_t) (e - p));
                if (n == FIELDS_MAX) /* too many: the count says so, the content does not matter */
                        return n + 1;
                if (!c) {
                        f[n++] = (Field){ p, (size_t) (e - p) };
                        return n;
                }
                f[n++] = (Field){ p, (size_t) (c - p) };
                p = c + 1;
        }
}

/* The slow path for a record with quotes, starting at buf[pos]. Returns the record's length in the buffer
 * (through its line end) or 0 if it is not complete in the buffer. Fields point into r->unq. */
static size_t split_quoted(CsvReader *r, Field *f, size_t *ret_n, unsigned *ret_lines) {
        const char *s = r->buf + r->pos, *e = r->buf + r->end;
        size_t offs[FIELDS_MAX + 1], lens[FIELDS_MAX + 1], n = 0, fstart = 0;
        unsigned lines = 0;
        bool in_quotes = false, was_quoted = false;
        const char *p = s;

        strbuf_reset(&r->unq);
        if (strbuf_reserve(&r->unq, (size_t) (e - s) + 1) < 0)
                return 0;
        offs[0] = 0;
        for (; p < e; p++) {
                char c = *p;
                if (in_quotes) {
                        if (c == '"') {
                                if (p + 1 >= e && !r->eof)
                                        return 0; /* need the next byte to know */
                                if (p + 1 < e && p[1] == '"') {
                                        strbuf_putc(&r->unq, '"');
                                        p++;
                                } else
                                        in_quotes = false;
                        } else {
                                if (c == '\n')
                                        lines++;
                                strbuf_putc(&r->unq, c);
                        }
                        continue;
                }
                if (c == '"' && r->unq.len == fstart && !was_quoted) {
                        in_quotes = was_quoted = true;
                        continue;
                }
                if (c == ',' || c == '\n') {
                        size_t l = r->unq.len - fstart;
                        /* CRLF: drop the CR of an unquoted field end. */
                        if (c == '\n' && !was_quoted && l > 0 && r->unq.data[r->unq.len - 1] == '\r')
                                l--;
                        if (n <= FIELDS_MAX)
                                lens[n] = l;
                        n++;
                        was_quoted = false;
                        if (c == '\n') {
                                lines++;
                                break;
                        }
                        fstart = r->unq.len;
                        if (n <= FIELDS_MAX)
                                offs[n] = fstart;
                        continue;
                }
                if (c == '\r' && was_quoted)
                        continue;
                strbuf_putc(&r->unq, c);
        }
        if (p >= e) {
                if (!r->eof || in_quotes)
                        return in_quotes && r->eof ? (size_t) -1 : 0;
                /* last record without a line end */
                if (n <= FIELDS_MAX)
                        lens[n] = r->unq.len - fstart;
                n++;
        } else
                p++;
        for (size_t i = 0; i < n && i <= FIELDS_MAX; i++)
                f[i] = (Field){ r->unq.data + offs[i], lens[i] };
        *ret_n = n;
        *ret_lines = lines;
        return (size_t) (p - s);
}

/* The next record: 1 and its fields and first line, 0 at the end, negative errno; -EBADMSG for a quote
 * that never closes. */
static int csv_next(CsvReader *r, Field *f, size_t *ret_n, unsigned *ret_line) {
        for (;;) {
                const char *s = r->buf + r->pos, *e = r->buf + r->end;
                const char *nl = memchr(s, '\n', (size_t) (e - s));
                if (nl || (r->eof && s < e)) {
                        const char *le = nl ?: e;
                        if (!memchr(s, '"', (size_t) (le - s))) {
                                const char *ce = le;
                                if (ce > s && ce[-1] == '\r')
                                        ce--;
                                *ret_n = split_plain(s, ce, f);
                                *ret_line = r->line;
                                r->line++;
                                r->pos = (size_t) (le - r->buf) + (nl != NULL);
                                return 1;
                        }
                        unsigned lines;
                        size_t used = split_quoted(r, f, ret_n, &lines);
                        if (used == (size_t) -1)
                                return -EBADMSG;
                        if (used > 0) {
                                *ret_line = r->line;
                                r->line += lines + (lines == 0);
                                r->pos += used;
                                return 1;
                        }
                }
                if (r->eof && r->pos >= r->end)
                        return 0;
                int k = csv_refill(r);
                if (k < 0)
                        return k;
                if (k == 0 && r->pos >= r->end)
                        return 0;
        }
}

/* ---- output ---- */

typedef struct Out {
        int fd;
        char *buf;
        size_t len;
        int error; /* first write error */
} Out;

static int out_flush(Out *o) {
        size_t done = 0;
        while (done < o->len && o->error == 0) {
                ssize_t k = write(o->fd, o->buf + done, o->len - done);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        o->error = -errno;
                        break;
                }
                done += (size_t) k;
        }
        o->len = 0;
        return o->error;
}

/* Append s as one CSV field: quoted (with "" for ") if it contains a comma, quote, CR or LF. */
static void csv_quote(StrBuf *b, const char *s, size_t len) {
        bool need = false;
        for (size_t i = 0; i < len; i++)
                if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r') {
                        need = true;
                        break;
                }
        if (!need) {
                strbuf_append(b, s, len);
                return;
        }
        strbuf_putc(b, '"');
        for (size_t i = 0; i < len; i++) {
                if (s[i] == '"')
                        strbuf_putc(b, '"');
                strbuf_putc(b, s[i]);
        }
        strbuf_putc(b, '"');
}

/* ---- summary ---- */

typedef struct Episode {
        char *subject;
        double start, end; /* end NAN: still firing at the end of the input */
        double peak;
        bool absent;
} Episode;

typedef struct RunState {
        bool firing;
        double start, peak, run_peak;
} RunState;

typedef struct RuleSummary {
        HashMap *runs; /* subject key -> RunState (keys owned in run_keys) */
        char **run_keys;
        RunState **run_states;
        size_t n_runs, alloc_runs, alloc_states;
        const char *last_subject; /* pointer cache for the common single-series case */
        RunState *last_run;
        Episode *episodes;
        size_t n_episodes, alloc_episodes;
        uint64_t rows, firing_rows;
        char *csv_name;
        size_t csv_name_len;
} RuleSummary;

typedef struct FileSummary {
        const char *path;
        uint64_t rows, samples;
        uint64_t nan, ooo, bad;
        unsigned nan_line, ooo_line, bad_line;
} FileSummary;

typedef struct Ctx {
        const Config *config;
        Evaluator *e;
        Out out;
        RuleSummary *rules;
        /* the row being evaluated */
        const char *ts;
        size_t ts_len;
        const char *val;
        size_t val_len;
        const EvalSeries *cur_series;
        const char *series_csv;
        size_t series_csv_len;
        StrBuf series_csv_buf;
        double last_t;
        int error;
} Ctx;

static RunState *run_state(RuleSummary *rs, const char *subject) {
        if (rs->last_subject == subject)
                return rs->last_run;
        size_t len = strlen(subject);
        uint64_t h = hash_bytes(subject, len);
        RunState *st = hashmap_get(rs->runs, subject, len, h);
        if (!st) {
                char *k = strdup(subject);
                st = calloc(1, sizeof(*st));
                if (!k || !st || GREEDY_REALLOC(rs->run_keys, rs->alloc_runs, rs->n_runs + 1) < 0 ||
                    GREEDY_REALLOC(rs->run_states, rs->alloc_states, rs->n_runs + 1) < 0 ||
                    hashmap_put(rs->runs, k, len, h, st) < 0) {
                        free(k);
                        free(st);
                        return NULL;
                }
                rs->run_keys[rs->n_runs] = k;
                rs->run_states[rs->n_runs++] = st;
        }
        rs->last_subject = subject;
        rs->last_run = st;
        return st;
}

static int add_episode(RuleSummary *rs, const char *subject, double start, double end, double peak, bool absent) {
        if (GREEDY_REALLOC(rs->episodes, rs->alloc_episodes, rs->n_episodes + 1) < 0)
                return -ENOMEM;
        char *s = strdup(subject);
        if (!s)
                return -ENOMEM;
        rs->episodes[rs->n_episodes++] = (Episode){ s, start, end, peak, absent };
        return 0;
}

static void track_summary(Ctx *c, const EvalRow *row) {
        RuleSummary *rs = &c->rules[row->rule_index];
        if (row->absent) {
                if (row->transition == EVAL_RESOLVED &&
                    add_episode(rs, row->subject_key, row->detected_at, row->resolved_at, 1, true) < 0)
                        c->error = -ENOMEM;
                return;
        }
        rs->rows++;
        rs->firing_rows += row->firing;
        RunState *st = run_state(rs, row->subject_key);
        if (!st) {
                c->error = -ENOMEM;
                return;
        }
        double score = row->verdict.score;
        if (!isnan(row->detected_at) && score > st->run_peak)
                st->run_peak = score;
        switch (row->transition) {
        case EVAL_FIRING:
                st->firing = true;
                st->start = row->detected_at;
                st->peak = st->run_peak;
                break;
        case EVAL_RESOLVED:
                if (add_episode(rs, row->subject_key, st->start, row->resolved_at, st->peak, false) < 0)
                        c->error = -ENOMEM;
                st->firing = false;
                st->run_peak = 0;
                break;
        case EVAL_CLEARED:
                st->run_peak = 0;
                break;
        default:
                break;
        }
        if (st->firing && score > st->peak)
                st->peak = score;
}

/* ---- rows ---- */

static inline char *put_num(char *p, double v) {
        if (!isnan(v))
                p += fmt_double(p, v);
        return p;
}

static void on_row(const EvalRow *row, void *userdata) {
        Ctx *c = userdata;
        RuleSummary *rs = &c->rules[row->rule_index];

        track_summary(c, row);
        if (row->from_tick)
                return;
        if (c->cur_series == NULL || c->series_csv == NULL) {
                strbuf_reset(&c->series_csv_buf);
                csv_quote(&c->series_csv_buf, row->series_key, strlen(row->series_key));
                c->series_csv = strbuf_str(&c->series_csv_buf);
                c->series_csv_len = c->series_csv_buf.len;
        }
        size_t need = c->ts_len + c->series_csv_len + rs->csv_name_len + c->val_len + 4 * FMT_DOUBLE_MAX + 16;
        if (c->out.len + need > OUT_BUF) {
                out_flush(&c->out);
                if (need > OUT_BUF) {
                        c->error = -E2BIG;
                        return;
                }
        }
        char *p = c->out.buf + c->out.len, *start = p;
        memcpy(p, c->ts, c->ts_len);
        p += c->ts_len;
        *p++ = ',';
        memcpy(p, c->series_csv, c->series_csv_len);
        p += c->series_csv_len;
        *p++ = ',';
        memcpy(p, rs->csv_name, rs->csv_name_len);
        p += rs->csv_name_len;
        *p++ = ',';
        memcpy(p, c->val, c->val_len);
        p += c->val_len;
        *p++ = ',';
        if (row->verdict.score <= 0)
                *p++ = '0';
        else
                p += fmt_double(p, row->verdict.score);
        *p++ = ',';
        *p++ = row->firing ? '1' : '0';
        *p++ = ',';
        p = put_num(p, row->verdict.expected);
        *p++ = ',';
        p = put_num(p, row->verdict.lower);
        *p++ = ',';
        p = put_num(p, row->verdict.upper);
        *p++ = '\n';
        c->out.len += (size_t) (p - start);
}

/* ---- files ---- */

static bool field_is_header(const Field *f) {
        double t;
        if (parse_timestamp(f->p, f->len, &t) >= 0)
                return false;
        for (size_t i = 0; i < f->len; i++)
                if ((f->p[i] >= 'a' && f->p[i] <= 'z') || (f->p[i] >= 'A' && f->p[i] <= 'Z'))
                        return true;
        return false;
}

/* The series named after a file: basename without its extension. */
static char *series_name_from_path(const char *path) {
        if (streq(path, "-"))
                return strdup("stdin");
        const char *b = strrchr(path, '/');
        b = b ? b + 1 : path;
        const char *dot = strrchr(b, '.');
        size_t len = dot && dot > b ? (size_t) (dot - b) : strlen(b);
        return strndup(b, len);
}

typedef struct SeriesCache {
        HashMap *map; /* series text as written -> EvalSeries */
        char **keys;
        size_t n, alloc;
} SeriesCache;

static void series_cache_done(SeriesCache *sc) {
        hashmap_free(sc->map);
        strv_free_n(sc->keys, sc->n);
        *sc = (SeriesCache){};
}

typedef struct Opts {
        const char *series;
        bool skip_bad;
} Opts;

static int intern_id(Evaluator *e, const SeriesId *id, EvalSeries **ret) {
        return evaluator_intern(e, id->metric, id->labels, id->n_labels, SAMPLE_UNKNOWN, ret);
}

static void report_unmatched(const EvalSeries *s, const char *path) {
        if (eval_series_n_rules(s) == 0)
                fprintf(stderr, "replay: %s: no rule matches series %s\n", path, eval_series_key(s));
}

/* Replay one file. Returns 0, 1 (a malformed row without --skip-bad), or a negative errno. */
static int replay_file(Ctx *c, const Opts *o, const char *path, EvalSeries *fixed, FileSummary *fs) {
        _cleanup_(csv_reader_done) CsvReader r = { .fd = -EBADF, .line = 1 };
        _cleanup_(series_cache_done) SeriesCache sc = {};
        Field f[FIELDS_MAX + 1];
        size_t n, ncols = 0;
        unsigned line;
        bool first = true, warned = false;
        EvalSeries *file_series = fixed, *last = NULL;
        const char *last_text = NULL;
        size_t last_text_len = 0;
        _cleanup_free_ char *last_copy = NULL;
        bool tick = evaluator_uses_absent(c->e);
        int k;

        fs->path = path;
        if (streq(path, "-"))
                r.fd = STDIN_FILENO;
        else {
                r.fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (r.fd < 0) {
                        int err = -errno;
                        fprintf(stderr, "replay: %s: cannot open: %s\n", path, strerror(-err));
                        return err;
                }
        }
        r.alloc = READ_BLOCK;
        r.buf = malloc(r.alloc + 1);
        if (!r.buf || hashmap_new(&sc.map) < 0)
                return -ENOMEM;

#define BAD(...)                                                       \
        do {                                                           \
                if (!o->skip_bad) {                                    \
                        out_flush(&c->out);                            \
                        fprintf(stderr, "%s:%u: error: ", path, line); \
                        fprintf(stderr, __VA_ARGS__);                  \
                        fputc('\n', stderr);                           \
                        return 1;                                      \
                }                                                      \
                if (fs->bad++ == 0)                                    \
                        fs->bad_line = line;                           \
                goto next;                                             \
        } while (0)

        while ((k = csv_next(&r, f, &n, &line)) > 0) {
                if (n == 1 && f[0].len == 0)
                        continue; /* blank line */
                fs->rows++;
                if (first) {
                        first = false;
                        if ((n == 2 || n == 3) && field_is_header(&f[0])) {
                                ncols = n;
                                fs->rows--;
                                continue;
                        }
                }
                if (ncols == 0 && (n == 2 || n == 3))
                        ncols = n;
                if (n != ncols) {
                        if (ncols == 0)
                                BAD("expected 2 fields (timestamp,value) or 3 (timestamp,series,value), got %zu",
                                    n);
                        BAD("expected %zu fields like the first row, got %zu", ncols, n);
                }

                double t, v;
                if (parse_timestamp(f[0].p, f[0].len, &t) < 0)
                        BAD("bad timestamp '%.*s' (epoch seconds, RFC 3339 or YYYY-MM-DD HH:MM:SS)",
                            (int) MIN(f[0].len, (size_t) 64),
                            f[0].p);
                const Field *vf = &f[ncols - 1];
                if (vf->len == 0 || parse_double(vf->p, vf->len, &v) < 0 || !isfinite(v)) {
                        if (fs->nan++ == 0)
                                fs->nan_line = line;
                        goto next;
                }

                EvalSeries *s = file_series;
                if (!s && ncols == 2) {
                        _cleanup_free_ char *name = series_name_from_path(path);
                        if (!name)
                                return -ENOMEM;
                        k = evaluator_intern(c->e, name, NULL, 0, SAMPLE_UNKNOWN, &file_series);
                        if (k < 0)
                                return k;
                        s = file_series;
                        report_unmatched(s, path);
                } else if (!s) {
                        const Field *sf = &f[1];
                        if (last && sf->len == last_text_len && memcmp(sf->p, last_text, last_text_len) == 0)
                                s = last;
                        else {
                                uint64_t h = hash_bytes(sf->p, sf->len);
                                s = hashmap_get(sc.map, sf->p, sf->len, h);
                                if (!s) {
                                        _cleanup_(series_id_done) SeriesId id = {};
                                        const char *msg = NULL;
                                        size_t off = 0;
                                        k = series_id_parse(sf->p, sf->len, &id, &msg, &off);
                                        if (k == -ENOMEM)
                                                return k;
                                        if (k < 0)
                                                BAD("bad series '%.*s': %s at offset %zu",
                                                    (int) MIN(sf->len, (size_t) 200),
                                                    sf->p,
                                                    msg,
                                                    off);
                                        k = intern_id(c->e, &id, &s);
                                        if (k < 0)
                                                return k;
                                        char *key = strndup(sf->p, sf->len);
                                        if (!key || GREEDY_REALLOC(sc.keys, sc.alloc, sc.n + 1) < 0) {
                                                free(key);
                                                return -ENOMEM;
                                        }
                                        sc.keys[sc.n++] = key;
                                        if (hashmap_put(sc.map, key, sf->len, h, s) < 0)
                                                return -ENOMEM;
                                        report_unmatched(s, path);
                                }
                                /* Remember the text (the record buffer is reused). */
                                free(last_copy);
                                last_copy = strndup(sf->p, sf->len);
                                if (!last_copy)
                                        return -ENOMEM;
                                last_text = last_copy;
                                last_text_len = sf->len;
                                last = s;
                        }
                }
                if (fixed && !warned) {
                        warned = true;
                        report_unmatched(s, path);
                }

                if (c->cur_series != s) {
                        c->cur_series = s;
                        c->series_csv = NULL;
                }
                c->ts = f[0].p;
                c->ts_len = f[0].len;
                c->val = vf->p;
                c->val_len = vf->len;
                if (tick)
                        evaluator_tick(c->e, t, on_row, c);
                k = evaluator_push_series(c->e, s, t, v, on_row, c);
                if (k < 0)
                        return k;
                if (k == EVAL_SKIPPED_OUT_OF_ORDER) {
                        if (fs->ooo++ == 0)
                                fs->ooo_line = line;
                } else {
                        fs->samples++;
                        c->last_t = MAX(c->last_t, t);
                }
                if (c->error < 0)
                        return c->error;
                if (c->out.error < 0)
                        return c->out.error;
        next:;
        }
#undef BAD
        if (k == -EBADMSG) {
                out_flush(&c->out);
                fprintf(stderr,
                        "%s:%u: error: a quoted field is not closed before the end of the file\n",
                        path,
                        r.line);
                if (!o->skip_bad)
                        return 1;
                if (fs->bad++ == 0)
                        fs->bad_line = r.line;
                return 0;
        }
        if (k == -E2BIG) {
                fprintf(stderr, "%s:%u: error: a record longer than %u MiB\n", path, r.line, RECORD_MAX >> 20);
                return 1;
        }
        if (k < 0) {
                fprintf(stderr, "replay: %s: read error: %s\n", path, strerror(-k));
                return k;
        }
        return 0;
}

static void print_time(FILE *f, double t) {
        char buf[TIMESTAMP_MAX];
        if (isnan(t) || t < 0) {
                fputs("?", f);
                return;
        }
        fputs(format_timestamp(buf, sizeof(buf), (usec_t) llround(t * 1e6)), f);
}

static void print_summary(const Ctx *c, const FileSummary *fs, size_t n_files) {
        const EvaluatorStats *st = NULL;
        EvaluatorStats stats;

        evaluator_get_stats(c->e, &stats);
        st = &stats;
        for (size_t i = 0; i < c->config->n_rules; i++) {
                const RuleSummary *rs = &c->rules[i];
                size_t open = 0;
                for (size_t j = 0; j < rs->n_runs; j++)
                        open += rs->run_states[j]->firing;
                fprintf(stderr,
                        "replay: rule %s: %zu alarm episode%s, %" PRIu64 " row%s, %" PRIu64 " while firing\n",
                        c->config->rules[i].name,
                        rs->n_episodes + open,
                        rs->n_episodes + open == 1 ? "" : "s",
                        rs->rows,
                        rs->rows == 1 ? "" : "s",
                        rs->firing_rows);
                for (size_t j = 0; j < rs->n_episodes; j++) {
                        const Episode *ep = &rs->episodes[j];
                        fputs("  ", stderr);
                        print_time(stderr, ep->start);
                        fputs(" .. ", stderr);
                        print_time(stderr, ep->end);
                        if (ep->absent)
                                fprintf(stderr, "  no data  %s\n", ep->subject);
                        else
                                fprintf(stderr, "  peak %.3g  %s\n", ep->peak, ep->subject);
                }
                for (size_t j = 0; j < rs->n_runs; j++) {
                        const RunState *r = rs->run_states[j];
                        if (!r->firing)
                                continue;
                        fputs("  ", stderr);
                        print_time(stderr, r->start);
                        fputs(" .. (still firing at ", stderr);
                        print_time(stderr, c->last_t);
                        fprintf(stderr, ")  peak %.3g  %s\n", r->peak, rs->run_keys[j]);
                }
        }
        for (size_t i = 0; i < n_files; i++) {
                const FileSummary *f = &fs[i];
                if (!f->path)
                        continue;
                if (f->nan > 0)
                        fprintf(stderr,
                                "replay: %s: %" PRIu64
                                " row%s skipped: empty or not a number (first at line %u)\n",
                                f->path,
                                f->nan,
                                f->nan == 1 ? "" : "s",
                                f->nan_line);
                if (f->ooo > 0)
                        fprintf(stderr,
                                "replay: %s: %" PRIu64 " row%s skipped: out of order (first at line %u)\n",
                                f->path,
                                f->ooo,
                                f->ooo == 1 ? "" : "s",
                                f->ooo_line);
                if (f->bad > 0)
                        fprintf(stderr,
                                "replay: %s: %" PRIu64 " malformed row%s skipped (first at line %u)\n",
                                f->path,
                                f->bad,
                                f->bad == 1 ? "" : "s",
                                f->bad_line);
        }
        uint64_t rows = 0, samples = 0;
        for (size_t i = 0; i < n_files; i++) {
                rows += fs[i].rows;
                samples += fs[i].samples;
        }
        fprintf(stderr,
                "replay: %" PRIu64 " row%s read, %" PRIu64 " sample%s evaluated, %" PRIu64
                " series, %" PRIu64 " row%s written\n",
                rows,
                rows == 1 ? "" : "s",
                samples,
                samples == 1 ? "" : "s",
                st->series,
                st->rows,
                st->rows == 1 ? "" : "s");
}

static void help(void) {
        printf("Usage: homeostatctl replay --rules FILE [--series NAME] [--skip-bad] INPUT.csv...\n"
               "\n"
               "Run the rules of FILE over recorded samples with the daemon's evaluator and print, for every\n"
               "sample and matching rule, the verdict as CSV:\n"
               "  timestamp,series,rule,value,score,anomaly,expected,lower,upper\n"
               "\n"
               "INPUT is CSV: timestamp,value or timestamp,series,value (an optional header line; \"-\" is\n"
               "stdin). Timestamps: epoch seconds, RFC 3339, or YYYY-MM-DD HH:MM:SS (UTC). A two-column file's\n"
               "series is named after the file; the series column reads like name{label=\"value\"}.\n"
               "\n"
               "  --rules FILE   the configuration (a file, or a directory with homeostat.yaml)\n"
               "  --series NAME  every row belongs to series NAME (name or name{labels})\n"
               "  --skip-bad     skip and count malformed rows instead of stopping\n"
               "  -h --help      show this help\n"
               "\n"
               "A summary (alarm episodes per rule, skipped rows) goes to stderr.\n"
               "Exit status: 0 done, 1 invalid rules or a malformed row, 2 usage or system failure.\n");
}

int ctl_replay(int argc, char *argv[], const CtlGlobals *g) {
        static const struct option options[] = {
                { "rules", required_argument, NULL, 'r' },
                { "series", required_argument, NULL, 's' },
                { "skip-bad", no_argument, NULL, 'b' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *rules_path = NULL;
        Opts o = {};
        int c, ret = 0, r;

        gsl_set_error_handler_off();
        if (g->json) {
                fprintf(stderr, "homeostatctl replay: --json is not supported; the output is CSV\n");
                return 2;
        }
        optind = 0;
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
                switch (c) {
                case 'r':
                        rules_path = optarg;
                        break;
                case 's':
                        o.series = optarg;
                        break;
                case 'b':
                        o.skip_bad = true;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        fprintf(stderr, "Try 'homeostatctl replay --help'.\n");
                        return 2;
                }
        if (!rules_path) {
                fprintf(stderr, "homeostatctl replay: --rules FILE is required.\n");
                return 2;
        }
        if (optind >= argc) {
                fprintf(stderr, "homeostatctl replay: no INPUT.csv given.\n");
                return 2;
        }

        _cleanup_(config_freep) Config *config = NULL;
        Diagnostics diags = {};
        r = config_load(rules_path, NULL, &config, &diags);
        diagnostics_print(&diags, stderr);
        diagnostics_done(&diags);
        if (r < 0)
                return r == -EINVAL ? 1 : 2;

        size_t bad_rule = SIZE_MAX;
        EvaluatorOptions eo = { .stale_seconds = INFINITY, .ret_bad_rule = &bad_rule };
        _cleanup_(evaluator_freep) Evaluator *e = NULL;
        r = evaluator_new_full(config, &eo, &e);
        if (r < 0) {
                if (bad_rule < config->n_rules)
                        fprintf(stderr,
                                "homeostatctl replay: rule %s: %s: %s\n",
                                config->rules[bad_rule].name,
                                r == -EINVAL ? "invalid detector parameters or time zone"
                                             : "cannot load its time zone",
                                strerror(-r));
                else
                        fprintf(stderr, "homeostatctl replay: %s\n", strerror(-r));
                return r == -EINVAL ? 1 : 2;
        }

        Ctx ctx = { .config = config, .e = e, .out = { .fd = STDOUT_FILENO }, .last_t = -INFINITY };
        _cleanup_free_ char *outbuf = malloc(OUT_BUF);
        _cleanup_free_ FileSummary *fs = calloc((size_t) (argc - optind), sizeof(FileSummary));
        ctx.rules = calloc(MAX(config->n_rules, (size_t) 1), sizeof(RuleSummary));
        if (!outbuf || !fs || !ctx.rules) {
                free(ctx.rules);
                fprintf(stderr, "homeostatctl replay: out of memory\n");
                return 2;
        }
        ctx.out.buf = outbuf;
        for (size_t i = 0; i < config->n_rules; i++) {
                StrBuf b = STRBUF_INIT;
                csv_quote(&b, config->rules[i].name, strlen(config->rules[i].name));
                ctx.rules[i].csv_name_len = b.len;
                ctx.rules[i].csv_name = strbuf_steal(&b);
                if (!ctx.rules[i].csv_name || hashmap_new(&ctx.rules[i].runs) < 0) {
                        ret = 2;
                        goto finish;
                }
        }

        EvalSeries *fixed = NULL;
        if (o.series) {
                _cleanup_(series_id_done) SeriesId id = {};
                const char *msg = NULL;
                size_t off = 0;
                r = series_id_parse(o.series, strlen(o.series), &id, &msg, &off);
                if (r < 0) {
                        fprintf(stderr,
                                "homeostatctl replay: --series '%s': %s at offset %zu\n",
                                o.series,
                                msg ?: strerror(-r),
                                off);
                        ret = 2;
                        goto finish;
                }
                r = intern_id(e, &id, &fixed);
                if (r < 0) {
                        ret = 2;
                        goto finish;
                }
        }

        static const char header[] = "timestamp,series,rule,value,score,anomaly,expected,lower,upper\n";
        memcpy(ctx.out.buf, header, sizeof(header) - 1);
        ctx.out.len = sizeof(header) - 1;

        for (int i = optind; i < argc; i++) {
                r = replay_file(&ctx, &o, argv[i], fixed, &fs[i - optind]);
                if (r == 1) {
                        ret = 1;
                        break;
                }
                if (r < 0) {
                        if (r == -EPIPE)
                                break;
                        if (r != -ENOENT && r != -EACCES && r != -EISDIR)
                                fprintf(stderr, "homeostatctl replay: %s: %s\n", argv[i], strerror(-r));
                        ret = 2;
                        break;
                }
        }
        if (out_flush(&ctx.out) < 0 && ctx.out.error != -EPIPE) {
                fprintf(stderr, "homeostatctl replay: write error: %s\n", strerror(-ctx.out.error));
                ret = 2;
        }
        print_summary(&ctx, fs, (size_t) (argc - optind));

finish:
        for (size_t i = 0; i < config->n_rules; i++) {
                RuleSummary *rs = &ctx.rules[i];
                hashmap_free(rs->runs);
                strv_free_n(rs->run_keys, rs->n_runs);
                for (size_t j = 0; j < rs->n_runs; j++)
                        free(rs->run_states[j]);
                free(rs->run_states);
                for (size_t j = 0; j < rs->n_episodes; j++)
                        free(rs->episodes[j].subject);
                free(rs->episodes);
                free(rs->csv_name);
        }
        free(ctx.rules);
        strbuf_done(&ctx.series_csv_buf);
        return ret;
}

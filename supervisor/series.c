/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Canonical series keys and their parser; see series.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "series.h"

int series_key_append(StrBuf *b, const char *metric, const Label *labels, size_t n_labels) {
        strbuf_puts(b, metric);
        if (n_labels > 0) {
                strbuf_putc(b, '{');
                for (size_t i = 0; i < n_labels; i++) {
                        if (i > 0)
                                strbuf_putc(b, ',');
                        strbuf_puts(b, labels[i].name);
                        strbuf_append(b, "=\"", 2);
                        const char *v = labels[i].value, *run = v;
                        for (; *v; v++) {
                                const char *esc = *v == '\\' ? "\\\\"
                                        : *v == '"'          ? "\\\""
                                        : *v == '\n'         ? "\\n"
                                                             : NULL;
                                if (!esc)
                                        continue;
                                strbuf_append(b, run, (size_t) (v - run));
                                strbuf_append(b, esc, 2);
                                run = v + 1;
                        }
                        strbuf_append(b, run, (size_t) (v - run));
                        strbuf_putc(b, '"');
                }
                strbuf_putc(b, '}');
        }
        return strbuf_failed(b) ? -ENOMEM : 0;
}

bool series_name_is_counter(const char *metric) {
        return endswith(metric, "_total") || endswith(metric, "_bucket") || endswith(metric, "_count") ||
                endswith(metric, "_sum");
}

void series_labels_sort(Label *labels, size_t n) {
        for (size_t i = 1; i < n; i++) {
                Label l = labels[i];
                size_t j = i;
                while (j > 0 && strcmp(labels[j - 1].name, l.name) > 0) {
                        labels[j] = labels[j - 1];
                        j--;
                }
                labels[j] = l;
        }
}

void series_id_done(SeriesId *id) {
        free(id->labels);
        free(id->buf);
        *id = (SeriesId){};
}

static bool is_space(char c) {
        return c == ' ' || c == '\t';
}

static bool is_name_start(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(char c) {
        return is_name_start(c) || (c >= '0' && c <= '9');
}

static bool is_metric_char(char c) {
        return c != '{' && c != '}' && c != '"' && c != ',' && c != '=' && !is_space(c) && c != '\n' &&
                c != '\r' && c != 0;
}

#define FAIL(msg, at)                                     \
        do {                                              \
                if (ret_error)                            \
                        *ret_error = (msg);               \
                if (ret_offset)                           \
                        *ret_offset = (size_t) ((at) -s); \
                return -EINVAL;                           \
        } while (0)

int series_id_parse(const char *s, size_t len, SeriesId *ret, const char **ret_error, size_t *ret_offset) {
        const char *p = s, *end = s + len;
        /* The unescaped text is never longer than the input; names and values are copied NUL-terminated. */
        _cleanup_free_ char *buf = malloc(len + 2);
        _cleanup_free_ Label *labels = NULL;
        size_t n = 0, alloc = 0, o = 0;
        const char *metric = NULL;

        if (!buf)
                return -ENOMEM;
        while (p < end && is_space(*p))
                p++;
        if (p < end && *p != '{') {
                const char *m = p;
                while (p < end && is_metric_char(*p))
                        p++;
                if (p == m)
                        FAIL("expected a metric name", p);
                memcpy(buf + o, m, (size_t) (p - m));
                metric = buf + o;
                o += (size_t) (p - m);
                buf[o++] = 0;
                while (p < end && is_space(*p))
                        p++;
        }
        if (p < end && *p == '{') {
                p++;
                for (;;) {
                        while (p < end && is_space(*p))
                                p++;
                        if (p < end && *p == '}') {
                                p++;
                                break;
                        }
                        const char *nm = p;
                        if (p >= end || !is_name_start(*p))
                                FAIL("expected a label name", p);
                        while (p < end && is_name_char(*p))
                                p++;
                        size_t nlen = (size_t) (p - nm);
                        while (p < end && is_space(*p))
                                p++;
                        if (p >= end || *p != '=')
                                FAIL("expected '=' after the label name", p);
                        p++;
                        while (p < end && is_space(*p))
                                p++;
                        if (p >= end || *p != '"')
                                FAIL("expected a quoted label value", p);
                        p++;
                        if (GREEDY_REALLOC(labels, alloc, n + 1) < 0)
                                return -ENOMEM;
                        memcpy(buf + o, nm, nlen);
                        labels[n].name = buf + o;
                        o += nlen;
                        buf[o++] = 0;
                        labels[n].value = buf + o;
                        for (;;) {
                                if (p >= end)
                                        FAIL("unterminated label value", p);
                                if (*p == '"')
                                        break;
                                if (*p == '\\') {
                                        p++;
                                        if (p >= end)
                                                FAIL("unterminated label value", p);
                                        if (*p == 'n')
                                                buf[o++] = '\n';
                                        else if (*p == '\\' || *p == '"')
                                                buf[o++] = *p;
                                        else
                                                FAIL("unknown escape in label value (only \\\\, \\\" and \\n)",
                                                     p - 1);
                                        p++;
                                        continue;
                                }
                                if (*p == 0)
                                        FAIL("NUL byte in label value", p);
                                buf[o++] = *p++;
                        }
                        p++;
                        buf[o++] = 0;
                        n++;
                        while (p < end && is_space(*p))
                                p++;
                        if (p < end && *p == ',') {
                                p++;
                                continue;
                        }
                        if (p < end && *p == '}') {
                                p++;
                                break;
                        }
                        FAIL("expected ',' or '}' after a label", p);
                }
        }
        while (p < end && is_space(*p))
                p++;
        if (p != end)
                FAIL("unexpected text after the series", p);

        /* {__name__="x"} names the metric. */
        for (size_t i = 0; i < n; i++)
                if (streq(labels[i].name, "__name__")) {
                        if (metric)
                                FAIL("both a metric name and __name__", s);
                        metric = labels[i].value;
                        memmove(labels + i, labels + i + 1, (n - i - 1) * sizeof(Label));
                        n--;
                        break;
                }
        if (!metric || !*metric)
                FAIL("the series has no metric name", s);
        series_labels_sort(labels, n);
        for (size_t i = 1; i < n; i++)
                if (streq(labels[i - 1].name, labels[i].name))
                        FAIL("duplicate label", s);

        *ret = (SeriesId){
                .metric = metric,
                .labels = TAKE_PTR(labels),
                .n_labels = n,
                .buf = TAKE_PTR(buf),
        };
        return 0;
}

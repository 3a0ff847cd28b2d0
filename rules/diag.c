/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Diagnostics: the list of errors and warnings a load produced, in the `file:line:col: error: message`
 * format that editors jump to.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "strbuf.h"

void diag_addv(Diagnostics *d, Severity sev, Location loc, const char *fmt, va_list ap) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        _cleanup_free_ char *file = NULL;

        (void) strbuf_vprintf(&b, fmt, ap);
        /* One node reached through several aliases (a guard anchored once and used by every rule) is checked
         * once per use: say the same thing about the same place once. */
        if (!strbuf_failed(&b) && d->n_items < DIAGNOSTICS_MAX)
                for (size_t i = 0; i < d->n_items; i++)
                        if (d->items[i].severity == sev && d->items[i].loc.line == loc.line &&
                            d->items[i].loc.column == loc.column && streq_ptr(d->items[i].file, loc.file) &&
                            streq(d->items[i].message, strbuf_str(&b)))
                                return;

        if (sev == SEVERITY_ERROR)
                d->n_errors++;
        else
                d->n_warnings++;
        /* A hostile file can produce an error per line; keep the first DIAGNOSTICS_MAX (all are counted). */
        if (strbuf_failed(&b) || d->n_items >= DIAGNOSTICS_MAX)
                return;
        if (loc.file) {
                file = strdup(loc.file);
                if (!file)
                        return;
        }
        Diagnostic *items = reallocarray(d->items, d->n_items + 1, sizeof(Diagnostic));
        if (!items)
                return;
        d->items = items;
        d->items[d->n_items++] = (Diagnostic){
                .loc = loc,
                .severity = sev,
                .message = strbuf_steal(&b),
                .file = TAKE_PTR(file),
        };
        /* loc.file may point into a Config that is about to be freed: point at our own copy. */
        d->items[d->n_items - 1].loc.file = d->items[d->n_items - 1].file;
}

void diag_add(Diagnostics *d, Severity sev, Location loc, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        diag_addv(d, sev, loc, fmt, ap);
        va_end(ap);
}

void diagnostics_done(Diagnostics *d) {
        if (!d)
                return;
        for (size_t i = 0; i < d->n_items; i++) {
                free(d->items[i].message);
                free(d->items[i].file);
        }
        free(d->items);
        *d = (Diagnostics){};
}

const char *location_to_string(char *buf, size_t size, Location loc) {
        if (!loc.file)
                snprintf(buf, size, "<input>");
        else if (loc.line == 0)
                snprintf(buf, size, "%s", loc.file);
        else
                snprintf(buf, size, "%s:%u:%u", loc.file, loc.line, loc.column);
        return buf;
}

void diagnostics_print(const Diagnostics *d, FILE *f) {
        for (size_t i = 0; i < d->n_items; i++) {
                char where[LOCATION_MAX];
                fprintf(f,
                        "%s: %s: %s\n",
                        location_to_string(where, sizeof(where), d->items[i].loc),
                        d->items[i].severity == SEVERITY_ERROR ? "error" : "warning",
                        d->items[i].message);
        }
        if (d->n_errors + d->n_warnings > d->n_items)
                fprintf(f, "(%zu more diagnostics not shown)\n", d->n_errors + d->n_warnings - d->n_items);
}

typedef struct SortKey {
        size_t file, line, column, seq;
} SortKey;

static int cmp_key(const void *a, const void *b) {
        const SortKey *x = a, *y = b;
        if (x->file != y->file)
                return x->file < y->file ? -1 : 1;
        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        if (x->column != y->column)
                return x->column < y->column ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void diagnostics_sort(Diagnostics *d, char *const *files, size_t n_files) {
        _cleanup_free_ SortKey *keys = NULL;
        _cleanup_free_ Diagnostic *sorted = NULL;

        if (d->n_items < 2)
                return;
        keys = calloc(d->n_items, sizeof(SortKey));
        sorted = calloc(d->n_items, sizeof(Diagnostic));
        if (!keys || !sorted)
                return; /* unsorted is still correct output */
        for (size_t i = 0; i < d->n_items; i++) {
                size_t fi = n_files;
                for (size_t j = 0; j < n_files; j++)
                        if (streq_ptr(files[j], d->items[i].file)) {
                                fi = j;
                                break;
                        }
                keys[i] = (SortKey){ fi, d->items[i].loc.line, d->items[i].loc.column, i };
        }
        qsort(keys, d->n_items, sizeof(SortKey), cmp_key);
        for (size_t i = 0; i < d->n_items; i++)
                sorted[i] = d->items[keys[i].seq];
        memcpy(d->items, sorted, d->n_items * sizeof(Diagnostic));
}

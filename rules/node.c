/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The loaders' document tree (node.h): construction, deep copy for aliases, and the mapping from a byte
 * inside a scalar's value back to the line:column where that byte was written.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "macro.h"
#include "node.h"

static bool utf8_continuation(unsigned char c) {
        return (c & 0xC0) == 0x80;
}

int source_text_init(SourceText *s, const char *file, const char *data, size_t len, bool yaml) {
        size_t n = 1, alloc = 0;
        size_t *starts = NULL;

        if (GREEDY_REALLOC(starts, alloc, 1) < 0)
                return -ENOMEM;
        starts[0] = 0;
        for (size_t i = 0; i < len; i++) {
                /* Line breaks as YAML counts them: LF, CR LF, lone CR. */
                bool brk = data[i] == '\n' || (data[i] == '\r' && (i + 1 >= len || data[i + 1] != '\n'));
                size_t skip = 0;
                /* YAML 1.1 (libyaml) also breaks lines at NEL, LS and PS. */
                if (yaml && !brk && i + 1 < len && (unsigned char) data[i] == 0xC2 &&
                    (unsigned char) data[i + 1] == 0x85)
                        brk = true, skip = 1;
                if (yaml && !brk && i + 2 < len && (unsigned char) data[i] == 0xE2 &&
                    (unsigned char) data[i + 1] == 0x80 &&
                    ((unsigned char) data[i + 2] == 0xA8 || (unsigned char) data[i + 2] == 0xA9))
                        brk = true, skip = 2;
                if (!brk)
                        continue;
                if (GREEDY_REALLOC(starts, alloc, n + 1) < 0) {
                        free(starts);
                        return -ENOMEM;
                }
                i += skip;
                starts[n++] = i + 1;
        }
        size_t n_counts = len / SOURCE_TEXT_STRIDE + 1, chars = 0;
        size_t *counts = calloc(n_counts, sizeof(size_t));
        if (!counts) {
                free(starts);
                return -ENOMEM;
        }
        for (size_t i = 0; i < len; i++) {
                if (i % SOURCE_TEXT_STRIDE == 0)
                        counts[i / SOURCE_TEXT_STRIDE] = chars;
                chars += !utf8_continuation((unsigned char) data[i]);
        }
        if (len % SOURCE_TEXT_STRIDE == 0)
                counts[n_counts - 1] = chars;
        *s = (SourceText){
                .file = file,
                .data = data,
                .len = len,
                .line_starts = starts,
                .n_lines = n,
                .char_counts = counts,
                .n_char_counts = n_counts,
        };
        return 0;
}

void source_text_done(SourceText *s) {
        free(s->line_starts);
        free(s->char_counts);
        s->line_starts = s->char_counts = NULL;
        s->n_lines = s->n_char_counts = 0;
}

/* Characters (UTF-8 lead bytes) in data[0, offset): the index up to the last stride boundary, then at
 * most SOURCE_TEXT_STRIDE - 1 bytes counted. */
static size_t chars_before(const SourceText *s, size_t offset) {
        size_t k = offset / SOURCE_TEXT_STRIDE, c = s->char_counts[k];

        for (size_t i = k * SOURCE_TEXT_STRIDE; i < offset; i++)
                c += !utf8_continuation((unsigned char) s->data[i]);
        return c;
}

/* The offset of character number `nth` (0-based, counted from the start of the text), or len. */
static size_t char_offset(const SourceText *s, size_t nth) {
        size_t lo = 0, hi = s->n_char_counts;

        /* The last stride that starts at or before that character. */
        while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;
                if (s->char_counts[mid] <= nth)
                        lo = mid;
                else
                        hi = mid;
        }
        for (size_t i = lo * SOURCE_TEXT_STRIDE, c = s->char_counts[lo]; i < s->len; i++)
                if (!utf8_continuation((unsigned char) s->data[i]) && c++ == nth)
                        return i;
        return s->len;
}

Location source_text_location(const SourceText *s, size_t offset) {
        size_t lo = 0, hi = s->n_lines;
        unsigned col = 1;

        if (offset > s->len)
                offset = s->len;
        /* Last line start <= offset. */
        while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;
                if (s->line_starts[mid] <= offset)
                        lo = mid;
                else
                        hi = mid;
        }
        size_t i0 = s->line_starts[lo];
        if (lo == 0 && s->len >= 3 && memcmp(s->data, "\xEF\xBB\xBF", 3) == 0 && offset >= 3)
                i0 = 3;
        col += (unsigned) (chars_before(s, offset) - chars_before(s, i0));
        return (Location){ .file = s->file, .line = (unsigned) lo + 1, .column = col };
}

size_t source_text_offset(const SourceText *s, size_t line, size_t column) {
        size_t i;

        if (line >= s->n_lines)
                return s->len;
        i = s->line_starts[line];
        /* libyaml skips a byte order mark without counting it as a column. */
        if (line == 0 && s->len >= 3 && memcmp(s->data, "\xEF\xBB\xBF", 3) == 0)
                i = 3;
        if (column == 0 || i >= s->len)
                return i;
        /* Past `column` characters: the start of the next one (the loaders only see valid UTF-8, so the
         * line starts at a character). */
        return char_offset(s, chars_before(s, i) + column);
}

Node *node_new(NodeKind kind, const SourceText *src, size_t offset, Location loc) {
        Node *n = calloc(1, sizeof(Node));
        if (!n)
                return NULL;
        n->kind = kind;
        n->src = src;
        n->offset = offset;
        n->loc = loc;
        return n;
}

/* Frees iteratively over the spine of deep trees is unnecessary: the loaders cap the depth. */
Node *node_free(Node *n) {
        if (!n)
                return NULL;
        free(n->value);
        for (size_t i = 0; i < n->n_items; i++)
                node_free(n->items[i]);
        free(n->items);
        for (size_t i = 0; i < n->n_pairs; i++) {
                node_free(n->pairs[i].key);
                node_free(n->pairs[i].value);
        }
        free(n->pairs);
        free(n);
        return NULL;
}

int node_append_item(Node *seq, Node *item) {
        /* Capacity is tracked implicitly: grow to the next power of two. */
        size_t n = seq->n_items;
        if ((n & (n - 1)) == 0) {
                size_t cap = n ? n * 2 : 4;
                Node **items = reallocarray(seq->items, cap, sizeof(Node *));
                if (!items)
                        return -ENOMEM;
                seq->items = items;
        }
        seq->items[seq->n_items++] = item;
        return 0;
}

int node_append_pair(Node *map, Node *key, Node *value) {
        size_t n = map->n_pairs;
        if ((n & (n - 1)) == 0) {
                size_t cap = n ? n * 2 : 4;
                NodePair *pairs = reallocarray(map->pairs, cap, sizeof(NodePair));
                if (!pairs)
                        return -ENOMEM;
                map->pairs = pairs;
        }
        map->pairs[map->n_pairs++] = (NodePair){ key, value };
        return 0;
}

int node_copy(const Node *n, Node **ret) {
        _cleanup_(node_freep) Node *c = NULL;
        int r;

        c = node_new(n->kind, n->src, n->offset, n->loc);
        if (!c)
                return -ENOMEM;
        c->style = n->style;
        c->is_null = n->is_null;
        c->json = n->json;
        c->multiline = n->multiline;
        c->len = n->len;
        if (n->value) {
                c->value = malloc(n->len + 1);
                if (!c->value)
                        return -ENOMEM;
                memcpy(c->value, n->value, n->len + 1);
        }
        for (size_t i = 0; i < n->n_items; i++) {
                Node *item;
                r = node_copy(n->items[i], &item);
                if (r < 0)
                        return r;
                r = node_append_item(c, item);
                if (r < 0) {
                        node_free(item);
                        return r;
                }
        }
        for (size_t i = 0; i < n->n_pairs; i++) {
                Node *k, *v;
                r = node_copy(n->pairs[i].key, &k);
                if (r < 0)
                        return r;
                r = node_copy(n->pairs[i].value, &v);
                if (r < 0) {
                        node_free(k);
                        return r;
                }
                r = node_append_pair(c, k, v);
                if (r < 0) {
                        node_free(k);
                        node_free(v);
                        return r;
                }
        }
        *ret = TAKE_PTR(c);
        return 0;
}

size_t node_count(const Node *n) {
        size_t c = 1;
        for (size_t i = 0; i < n->n_items; i++)
                c += node_count(n->items[i]);
        for (size_t i = 0; i < n->n_pairs; i++)
                c += node_count(n->pairs[i].key) + node_count(n->pairs[i].value);
        return c;
}

Node *node_get(const Node *map, const char *key) {
        if (!map || map->kind != NODE_MAPPING)
                return NULL;
        for (size_t i = 0; i < map->n_pairs; i++)
                if (streq(map->pairs[i].key->value, key))
                        return map->pairs[i].value;
        return NULL;
}

const char *node_kind_to_string(const Node *n) {
        switch (n->kind) {
        case NODE_SEQUENCE:
                return "a list";
        case NODE_MAPPING:
                return "a mapping";
        case NODE_SCALAR:
                break;
        }
        if (n->is_null)
                return "nothing (null)";
        return n->style == STYLE_PLAIN ? "a plain value" : "a string";
}

static unsigned hexval(char c) {
        if (c >= '0' && c <= '9')
                return (unsigned) (c - '0');
        if (c >= 'a' && c <= 'f')
                return (unsigned) (c - 'a' + 10);
        if (c >= 'A' && c <= 'F')
                return (unsigned) (c - 'A' + 10);
        return 16;
}

static size_t utf8_len_of(unsigned cp) {
        return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/* Walk the spelling of a quoted scalar in the source, counting the value bytes each source character
 * produces, until `off` value bytes have been produced. Returns the source offset, or SIZE_MAX if the
 * spelling cannot be followed (then the caller falls back to the scalar's start). */
static size_t quoted_source_offset(const Node *n, size_t off) {
        const char *d = n->src->data;
        size_t end = n->src->len, i = n->offset, produced = 0;
        char q = n->style == STYLE_SINGLE ? '\'' : '"';

        if (i >= end || d[i] != q)
                return SIZE_MAX;
        i++;
        while (i < end && produced < off) {
                char c = d[i];
                if (c == '\n' || c == '\r')
                        return SIZE_MAX;
                if (n->style == STYLE_SINGLE) {
                        if (c == '\'') {
                                if (i + 1 < end && d[i + 1] == '\'') {
                                        i += 2;
                                        produced++;
                                        continue;
                                }
                                return SIZE_MAX;
                        }
                } else if (c == '"')
                        return SIZE_MAX;
                else if (c == '\\') {
                        char e = i + 1 < end ? d[i + 1] : 0;
                        unsigned digits = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
                        if (digits > 0) {
                                unsigned cp = 0;
                                if (i + 2 + digits > end)
                                        return SIZE_MAX;
                                for (unsigned k = 0; k < digits; k++) {
                                        unsigned h = hexval(d[i + 2 + k]);
                                        if (h > 15)
                                                return SIZE_MAX;
                                        cp = cp * 16 + h;
                                }
                                /* A JSON surrogate pair \uD83D\uDE00 makes one 4-byte character. */
                                if (e == 'u' && cp >= 0xD800 && cp <= 0xDBFF && i + 12 <= end &&
                                    d[i + 6] == '\\' && d[i + 7] == 'u') {
                                        produced += 4;
                                        i += 12;
                                        continue;
                                }
                                produced += utf8_len_of(cp);
                                i += 2 + digits;
                                continue;
                        }
                        /* \N \_ \L \P are multi-byte characters in YAML. */
                        produced += (e == 'N' || e == '_') ? 2 : (e == 'L' || e == 'P') ? 3 : 1;
                        i += 2;
                        continue;
                }
                /* An ordinary character: as many value bytes as source bytes. */
                size_t k = 1;
                while (i + k < end && utf8_continuation((unsigned char) d[i + k]))
                        k++;
                produced += k;
                i += k;
        }
        return i;
}

Location node_value_location(const Node *n, size_t off) {
        size_t at;

        if (n->kind != NODE_SCALAR || n->multiline || n->style == STYLE_BLOCK || !n->src)
                return n->loc;
        if (off > n->len)
                off = n->len;
        if (n->style == STYLE_PLAIN)
                at = n->offset + off;
        else {
                at = quoted_source_offset(n, off);
                if (at == SIZE_MAX)
                        return n->loc;
        }
        return source_text_location(n->src, at);
}

static int cmp_pair_idx(const void *a, const void *b, void *userdata) {
        const NodePair *pairs = userdata;
        size_t i = *(const size_t *) a, j = *(const size_t *) b;
        int c = strcmp(pairs[i].key->value, pairs[j].key->value);
        if (c != 0)
                return c;
        return i < j ? -1 : i > j;
}

/* Sorting indices keeps this O(n log n) for hostile mappings with very many keys. */
int node_dedup_keys(Node *map, Diagnostics *diags, void (*drop)(void *userdata, Node *n), void *userdata) {
        _cleanup_free_ size_t *idx = NULL;
        _cleanup_free_ bool *dup = NULL;
        size_t n = map->n_pairs, k = 0;

        if (n < 2)
                return 0;
        idx = calloc(n, sizeof(size_t));
        dup = calloc(n, sizeof(bool));
        if (!idx || !dup)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                idx[i] = i;
        qsort_r(idx, n, sizeof(size_t), cmp_pair_idx, map->pairs);
        for (size_t i = 1, first = 0; i < n; i++) {
                const Node *key = map->pairs[idx[i]].key;
                if (!streq(key->value, map->pairs[idx[first]].key->value)) {
                        first = i;
                        continue;
                }
                char where[LOCATION_MAX];
                location_to_string(where, sizeof(where), map->pairs[idx[first]].key->loc);
                diag_error(
                        diags,
                        key->loc,
                        "duplicate key '%s' in this mapping; first given at %s",
                        key->value,
                        where);
                dup[idx[i]] = true;
        }
        for (size_t i = 0; i < n; i++) {
                if (dup[i]) {
                        drop(userdata, map->pairs[i].key);
                        drop(userdata, map->pairs[i].value);
                } else
                        map->pairs[k++] = map->pairs[i];
        }
        map->n_pairs = k;
        return 0;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The document tree that both loaders (YAML via libyaml's event parser, JSON via our own parser) build, and
 * that the schema pass turns into the model. Every node keeps where it was written (1-based line and
 * column, columns counted in characters) and enough about its spelling (quoting style, byte offset in the
 * source) to point a diagnostic at a character *inside* a scalar, e.g. the bad `\d` in a selector regex.
 *
 * The tree has no types beyond scalar/sequence/mapping: a scalar stays text and is interpreted by the key
 * it belongs to (no YAML 1.1 guessing: `on`, `yes`, `no` are just words). Nothing here is exported outside
 * rules/.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "rules.h"

/* One input file's bytes and an index, so byte offsets can be turned into line:column and back in
 * O(log n) whatever the shape of the file: a minified JSON or a YAML flow document is one long line, and
 * every node's position is computed, so counting characters from the line's start each time would make
 * loading quadratic in the line length. */
typedef struct SourceText {
        const char *file; /* name as shown in diagnostics */
        const char *data;
        size_t len;
        size_t *line_starts; /* byte offset of each line's first byte */
        size_t n_lines;
        size_t *char_counts; /* [k]: characters (UTF-8 lead bytes) in the first k * SOURCE_TEXT_STRIDE bytes */
        size_t n_char_counts;
} SourceText;

#define SOURCE_TEXT_STRIDE 64

/* yaml: also count NEL, LS and PS as line breaks, as libyaml does. */
int source_text_init(SourceText *s, const char *file, const char *data, size_t len, bool yaml);
void source_text_done(SourceText *s);
/* Location of a byte offset (clamped to the text). */
Location source_text_location(const SourceText *s, size_t offset);
/* Byte offset of a 0-based line and 0-based character column (as libyaml reports them). */
size_t source_text_offset(const SourceText *s, size_t line, size_t column);

typedef enum NodeKind {
        NODE_SCALAR,
        NODE_SEQUENCE,
        NODE_MAPPING,
} NodeKind;

typedef enum ScalarStyle {
        STYLE_PLAIN,  /* YAML plain scalar; also JSON numbers, true, false */
        STYLE_SINGLE, /* YAML 'single quoted' */
        STYLE_DOUBLE, /* YAML "double quoted" and JSON strings */
        STYLE_BLOCK,  /* YAML | and > block scalars */
} ScalarStyle;

typedef struct Node Node;

typedef struct NodePair {
        Node *key; /* always a scalar */
        Node *value;
} NodePair;

struct Node {
        NodeKind kind;
        Location loc;          /* where the node starts (for a quoted scalar: its opening quote) */
        const SourceText *src; /* the text it was read from */
        size_t offset;         /* byte offset of loc in src->data */

        /* NODE_SCALAR */
        ScalarStyle style;
        bool is_null;   /* YAML ~, null, empty plain scalar; JSON null */
        bool json;      /* read from JSON (escapes are JSON's) */
        bool multiline; /* the scalar's spelling spans several lines */
        char *value;    /* NUL-terminated; never contains NUL (the loaders reject that) */
        size_t len;

        /* NODE_SEQUENCE */
        Node **items;
        size_t n_items;

        /* NODE_MAPPING: pairs in file order, keys unique (the loaders reject duplicates) */
        NodePair *pairs;
        size_t n_pairs;
};

Node *node_free(Node *n);
DEFINE_TRIVIAL_CLEANUP_FUNC(Node *, node_free);
Node *node_new(NodeKind kind, const SourceText *src, size_t offset, Location loc);
int node_append_item(Node *seq, Node *item);
int node_append_pair(Node *map, Node *key, Node *value);
/* Deep copy (for YAML aliases); positions are kept, so diagnostics point at the anchored original. */
int node_copy(const Node *n, Node **ret);
/* Number of nodes in a subtree. */
size_t node_count(const Node *n);
/* Report each key that repeats an earlier key of the same mapping (naming both places) and remove the
 * later pairs, handing their nodes to drop(). */
int node_dedup_keys(Node *map, Diagnostics *diags, void (*drop)(void *userdata, Node *n), void *userdata);
/* Mapping lookup by key, or NULL. */
Node *node_get(const Node *map, const char *key);
const char *node_kind_to_string(const Node *n);

/* Where the byte at value offset `off` of a scalar's value was written. Exact for single-line plain,
 * quoted and JSON scalars (escapes are accounted for); for multi-line and block scalars it is the start of
 * the scalar. */
Location node_value_location(const Node *n, size_t off);

/* Limits that protect the loaders from hostile input. */
typedef struct LoadLimits {
        unsigned max_depth;     /* nesting of sequences and mappings */
        size_t max_alias_nodes; /* nodes created by expanding aliases, summed over the document */
} LoadLimits;

#define LOAD_MAX_DEPTH 32U
#define LOAD_MAX_ALIAS_NODES 100000U

/* Parse a whole YAML or JSON document into a tree. Every problem is added to diags. Returns 0 and the
 * root (a mapping, sequence or scalar); -ENODATA for a document without content (empty or only
 * comments: diagnosed as an error). -EINVAL after a fatal problem (diagnosed), -ENOMEM. */
int yaml_load_document(const SourceText *src, const LoadLimits *limits, Diagnostics *diags, Node **ret);
int json_load_document(const SourceText *src, const LoadLimits *limits, Diagnostics *diags, Node **ret);

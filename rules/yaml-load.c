/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * YAML → node tree, with libyaml's event parser. libyaml checks syntax only; everything that makes a
 * document hostile or ambiguous is checked here: duplicate keys in a mapping (both places named), nesting
 * deeper than LOAD_MAX_DEPTH, aliases that refer to themselves (a cycle) or that expand to more than
 * LOAD_MAX_ALIAS_NODES nodes (a "billion laughs" bomb), `<<` merge keys (unsupported, said so), tags other
 * than !!str, NUL characters produced by "\0" escapes, keys that are not scalars, and more than one
 * document per file. Aliases are supported: an alias becomes a copy of the anchored node (the copy keeps the
 * anchor's positions), which is what an SRE sharing a step list between rules expects.
 *
 * The builder uses an explicit stack, so hostile nesting cannot overflow the C stack, and it stops at the
 * first fatal problem (syntax, depth, alias abuse) because nothing after it can be trusted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "diag.h"
#include "macro.h"
#include "node.h"

typedef struct Anchor {
        char *name;
        Node *node;    /* the anchored node, owned by the tree; NULL while it is being built */
        bool complete; /* false while the anchored collection is still open (an alias to it is a cycle) */
} Anchor;

typedef struct Frame {
        Node *node;        /* the open collection */
        Node *key;         /* mapping: the key waiting for its value */
        bool skip_value;   /* mapping: the key was rejected (merge key, bad key); drop its value */
        size_t anchor_idx; /* index into anchors + 1, or 0 */
} Frame;

typedef struct Builder {
        const SourceText *src;
        const LoadLimits *limits;
        Diagnostics *diags;
        Frame *stack;
        size_t depth, stack_alloc;
        Anchor *anchors;
        size_t n_anchors, anchors_alloc;
        size_t alias_nodes;
        Node *root;
        /* Nodes that were rejected (bad keys, duplicates, merge keys) or replaced. They are freed only when
         * the builder is done, because an anchor may still point into them. */
        Node **graveyard;
        size_t n_graveyard, graveyard_alloc;
} Builder;

/* Park a rejected node; on allocation failure free it at once (anchors to it are then dropped too). */
static void bury(Builder *b, Node *n) {
        if (!n)
                return;
        if (GREEDY_REALLOC(b->graveyard, b->graveyard_alloc, b->n_graveyard + 1) < 0) {
                for (size_t i = 0; i < b->n_anchors; i++)
                        b->anchors[i].node = NULL, b->anchors[i].complete = true;
                node_free(n);
                return;
        }
        b->graveyard[b->n_graveyard++] = n;
}

static void bury_cb(void *userdata, Node *n) {
        bury(userdata, n);
}

static void builder_done(Builder *b) {
        for (size_t i = 0; i < b->depth; i++) {
                node_free(b->stack[i].node);
                node_free(b->stack[i].key);
        }
        free(b->stack);
        for (size_t i = 0; i < b->n_anchors; i++)
                free(b->anchors[i].name);
        free(b->anchors);
        node_free(b->root);
        for (size_t i = 0; i < b->n_graveyard; i++)
                node_free(b->graveyard[i]);
        free(b->graveyard);
}

static Location mark_location(const Builder *b, yaml_mark_t m, size_t *ret_offset) {
        size_t off = source_text_offset(b->src, m.line, m.column);
        if (ret_offset)
                *ret_offset = off;
        return (Location){ .file = b->src->file,
                           .line = (unsigned) m.line + 1,
                           .column = (unsigned) m.column + 1 };
}

static int add_anchor(Builder *b, const char *name, Node *node, bool complete, size_t *ret_idx) {
        if (GREEDY_REALLOC(b->anchors, b->anchors_alloc, b->n_anchors + 1) < 0)
                return -ENOMEM;
        char *copy = strdup(name);
        if (!copy)
                return -ENOMEM;
        b->anchors[b->n_anchors++] = (Anchor){ .name = copy, .node = node, .complete = complete };
        if (ret_idx)
                *ret_idx = b->n_anchors;
        return 0;
}

/* The latest definition of an anchor wins, as YAML says. */
static const Anchor *find_anchor(const Builder *b, const char *name) {
        for (size_t i = b->n_anchors; i > 0; i--)
                if (streq(b->anchors[i - 1].name, name))
                        return &b->anchors[i - 1];
        return NULL;
}

static int check_tag(Builder *b, const yaml_char_t *tag, Location loc, bool scalar, bool *ret_str) {
        const char *t = (const char *) tag;

        *ret_str = false;
        if (!t || streq(t, "!"))
                return 0;
        if (scalar && streq(t, YAML_STR_TAG)) {
                *ret_str = true;
                return 0;
        }
        if ((!scalar && (streq(t, YAML_MAP_TAG) || streq(t, YAML_SEQ_TAG))))
                return 0;
        const char *shown = startswith(t, "tag:yaml.org,2002:");
        diag_error(
                b->diags,
                loc,
                "YAML tag '%s%s' is not supported: homeostat reads every value as the type its key needs%s",
                shown ? "!!" : "",
                shown ?: t,
                scalar ? " (only !!str is accepted)" : "");
        return -EINVAL;
}

/* Attach a finished node to its parent (or make it the root). Takes ownership of n in every case. */
static int attach(Builder *b, Node *n) {
        Frame *f;
        int r;

        if (b->depth == 0) {
                bury(b, b->root);
                b->root = n;
                return 0;
        }
        f = &b->stack[b->depth - 1];
        if (f->node->kind == NODE_SEQUENCE) {
                r = node_append_item(f->node, n);
                if (r < 0)
                        node_free(n);
                return r;
        }
        /* Mapping: n is either a key or a value. */
        if (!f->key && !f->skip_value) {
                if (n->kind != NODE_SCALAR) {
                        diag_error(
                                b->diags,
                                n->loc,
                                "a key must be a plain string, not %s",
                                node_kind_to_string(n));
                        f->skip_value = true;
                        bury(b, n);
                        return 0;
                }
                if (n->is_null) {
                        diag_error(b->diags, n->loc, "empty key");
                        f->skip_value = true;
                        bury(b, n);
                        return 0;
                }
                if (n->style == STYLE_PLAIN && streq(n->value, "<<")) {
                        diag_error(
                                b->diags,
                                n->loc,
                                "merge keys ('<<') are not supported: write the keys out, or use an alias (*name) for a whole value");
                        f->skip_value = true;
                        bury(b, n);
                        return 0;
                }
                f->key = n;
                return 0;
        }
        if (f->skip_value) {
                f->skip_value = false;
                bury(b, n);
                return 0;
        }
        r = node_append_pair(f->node, f->key, n);
        if (r < 0) {
                node_free(n);
                return r;
        }
        f->key = NULL;
        return 0;
}

static int push(Builder *b, Node *n, const yaml_char_t *anchor) {
        size_t anchor_idx = 0;
        int r;

        if (b->depth >= b->limits->max_depth) {
                diag_error(b->diags, n->loc, "nesting is deeper than %u levels", b->limits->max_depth);
                node_free(n);
                return -EINVAL;
        }
        if (anchor) {
                r = add_anchor(b, (const char *) anchor, NULL, false, &anchor_idx);
                if (r < 0) {
                        node_free(n);
                        return r;
                }
        }
        if (GREEDY_REALLOC(b->stack, b->stack_alloc, b->depth + 1) < 0) {
                node_free(n);
                return -ENOMEM;
        }
        b->stack[b->depth++] = (Frame){ .node = n, .anchor_idx = anchor_idx };
        return 0;
}

static int pop(Builder *b) {
        Frame f = b->stack[--b->depth];
        int r;

        bury(b, f.key); /* only non-NULL for a malformed event stream */
        if (f.node->kind == NODE_MAPPING) {
                r = node_dedup_keys(f.node, b->diags, bury_cb, b);
                if (r < 0) {
                        node_free(f.node);
                        return r;
                }
        }
        if (f.anchor_idx > 0) {
                b->anchors[f.anchor_idx - 1].node = f.node;
                b->anchors[f.anchor_idx - 1].complete = true;
        }
        return attach(b, f.node);
}

static int on_scalar(Builder *b, const yaml_event_t *e) {
        _cleanup_(node_freep) Node *n = NULL;
        size_t off;
        Location loc = mark_location(b, e->start_mark, &off);
        bool is_str = false;
        int r;

        n = node_new(NODE_SCALAR, b->src, off, loc);
        if (!n)
                return -ENOMEM;
        (void) check_tag(b, e->data.scalar.tag, loc, true, &is_str);
        switch (e->data.scalar.style) {
        case YAML_SINGLE_QUOTED_SCALAR_STYLE:
                n->style = STYLE_SINGLE;
                break;
        case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
                n->style = STYLE_DOUBLE;
                break;
        case YAML_LITERAL_SCALAR_STYLE:
        case YAML_FOLDED_SCALAR_STYLE:
                n->style = STYLE_BLOCK;
                break;
        default:
                n->style = STYLE_PLAIN;
        }
        n->multiline = e->start_mark.line != e->end_mark.line;
        n->len = e->data.scalar.length;
        if (memchr(e->data.scalar.value, 0, n->len)) {
                diag_error(b->diags, loc, "a NUL character (\\0) is not allowed in a value");
        }
        n->value = strndup((const char *) e->data.scalar.value, n->len);
        if (!n->value)
                return -ENOMEM;
        n->len = strlen(n->value);
        if (n->style == STYLE_PLAIN && !is_str && !e->data.scalar.tag &&
            (n->len == 0 || streq(n->value, "~") || streq(n->value, "null") || streq(n->value, "Null") ||
             streq(n->value, "NULL")))
                n->is_null = true;
        if (e->data.scalar.anchor) {
                r = add_anchor(b, (const char *) e->data.scalar.anchor, n, true, NULL);
                if (r < 0)
                        return r;
        }
        return attach(b, TAKE_PTR(n));
}

static int on_alias(Builder *b, const yaml_event_t *e) {
        const char *name = (const char *) e->data.alias.anchor;
        Location loc = mark_location(b, e->start_mark, NULL);
        const Anchor *a = find_anchor(b, name);
        Node *copy;
        size_t count;
        int r;

        if (!a) {
                diag_error(
                        b->diags, loc, "alias '*%s' refers to no anchor '&%s' defined before it", name, name);
                return -EINVAL;
        }
        if (!a->complete) {
                diag_error(b->diags, loc, "alias '*%s' is inside the node it refers to (a cycle)", name);
                return -EINVAL;
        }
        count = node_count(a->node);
        if (count > b->limits->max_alias_nodes || b->alias_nodes > b->limits->max_alias_nodes - count) {
                diag_error(
                        b->diags,
                        loc,
                        "aliases expand to more than %zu nodes; refusing (an alias bomb?)",
                        b->limits->max_alias_nodes);
                return -EINVAL;
        }
        b->alias_nodes += count;
        r = node_copy(a->node, &copy);
        if (r < 0)
                return r;
        return attach(b, copy);
}

static int on_collection(Builder *b, const yaml_event_t *e, NodeKind kind) {
        size_t off;
        Location loc = mark_location(b, e->start_mark, &off);
        const yaml_char_t *tag = kind == NODE_MAPPING ? e->data.mapping_start.tag : e->data.sequence_start.tag;
        const yaml_char_t *anchor = kind == NODE_MAPPING ? e->data.mapping_start.anchor
                                                         : e->data.sequence_start.anchor;
        bool is_str;
        Node *n;

        (void) check_tag(b, tag, loc, false, &is_str);
        n = node_new(kind, b->src, off, loc);
        if (!n)
                return -ENOMEM;
        return push(b, n, anchor);
}

static void report_syntax_error(Builder *b, const yaml_parser_t *p) {
        Location loc;
        size_t off;
        const char *hint = "";

        if (p->error == YAML_MEMORY_ERROR)
                return;
        if (p->error == YAML_READER_ERROR) {
                loc = source_text_location(b->src, p->problem_offset);
                diag_error(b->diags, loc, "YAML: %s", strna(p->problem));
                return;
        }
        loc = mark_location(b, p->problem_mark, &off);
        if (off < b->src->len && b->src->data[off] == '\t')
                hint = " (a tab cannot indent YAML; use spaces)";
        if (p->context &&
            (p->context_mark.line != p->problem_mark.line || p->context_mark.column != p->problem_mark.column))
                diag_error(
                        b->diags,
                        loc,
                        "YAML syntax error: %s (%s that starts at line %zu, column %zu)%s",
                        strna(p->problem),
                        p->context,
                        p->context_mark.line + 1,
                        p->context_mark.column + 1,
                        hint);
        else
                diag_error(b->diags, loc, "YAML syntax error: %s%s", strna(p->problem), hint);
}

static bool only_blank(const char *s, size_t len) {
        for (size_t i = 0; i < len; i++)
                if (!strchr(" \t\r\n", s[i]))
                        return false;
        return true;
}

int yaml_load_document(const SourceText *src, const LoadLimits *limits, Diagnostics *diags, Node **ret) {
        yaml_parser_t parser;
        Builder b = { .src = src, .limits = limits, .diags = diags };
        unsigned documents = 0;
        int r = 0;

        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&parser, (const unsigned char *) src->data, src->len);
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);

        for (bool done = false; !done;) {
                yaml_event_t e;

                if (!yaml_parser_parse(&parser, &e)) {
                        if (parser.error == YAML_MEMORY_ERROR)
                                r = -ENOMEM;
                        else {
                                report_syntax_error(&b, &parser);
                                r = -EINVAL;
                        }
                        break;
                }
                switch (e.type) {
                case YAML_STREAM_END_EVENT:
                        done = true;
                        break;
                case YAML_DOCUMENT_START_EVENT:
                        if (++documents > 1) {
                                diag_error(
                                        diags,
                                        mark_location(&b, e.start_mark, NULL),
                                        "a second YAML document ('---') in one file; put each configuration in its own file");
                                r = -EINVAL;
                        }
                        break;
                case YAML_SCALAR_EVENT:
                        r = on_scalar(&b, &e);
                        break;
                case YAML_ALIAS_EVENT:
                        r = on_alias(&b, &e);
                        break;
                case YAML_SEQUENCE_START_EVENT:
                        r = on_collection(&b, &e, NODE_SEQUENCE);
                        break;
                case YAML_MAPPING_START_EVENT:
                        r = on_collection(&b, &e, NODE_MAPPING);
                        break;
                case YAML_SEQUENCE_END_EVENT:
                case YAML_MAPPING_END_EVENT:
                        if (b.depth > 0)
                                r = pop(&b);
                        break;
                default:
                        break;
                }
                yaml_event_delete(&e);
                if (r < 0)
                        break;
        }
        yaml_parser_delete(&parser);

        if (r < 0) {
                builder_done(&b);
                return r;
        }
        if (!b.root || (b.root->kind == NODE_SCALAR && b.root->is_null)) {
                diag_error(
                        diags,
                        ((Location){ .file = src->file, .line = 1, .column = 1 }),
                        only_blank(src->data, src->len) ? "file is empty: it holds no configuration"
                                                        : "file holds only comments: no configuration");
                builder_done(&b);
                return -ENODATA;
        }
        *ret = TAKE_PTR(b.root);
        builder_done(&b);
        return 0;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Stand-in for rules/template.h while that header is being written (issue 2). remediations/ is written
 * against exactly its announced interface:
 *
 *     int template_expand(const Template *t, const TemplateVars *vars, TemplateTarget where, char **ret);
 *     bool step_target_allowed(const Step *s, const char *expanded);
 *
 * When rules/template.h exists this header only includes it, and remediations/meson.build stops building
 * template-adapter.c, so the adapter disappears by itself once the real one lands; then delete both files.
 * The definitions below are the adapter's own guesses at TemplateVars and TemplateTarget; remediations/
 * uses TemplateVars only through template_expand() (never its fields), so only the TEMPLATE_TARGET_* names
 * may need renaming.
 */
#pragma once

#if __has_include("template.h")
#include "template.h"
#else

#include <stdbool.h>
#include <stddef.h>

#include "rules.h"

typedef enum TemplateTarget {
        TEMPLATE_TARGET_UNIT,           /* systemd unit-name grammar */
        TEMPLATE_TARGET_HAPROXY_SERVER, /* backend/server: no ';', whitespace or control characters */
        TEMPLATE_TARGET_ARGV,           /* one argv element: no control characters */
        TEMPLATE_TARGET_URL,            /* no whitespace or control characters */
        TEMPLATE_TARGET_HEADER,         /* no CR, LF or other control characters */
        TEMPLATE_TARGET_BODY,           /* valid UTF-8 */
        _TEMPLATE_TARGET_MAX,
} TemplateTarget;

/* The incident fields a template may use. NULL strings and n_labels == 0 mean "not available": a
 * template that uses them does not expand (-ENOENT). */
typedef struct TemplateVars {
        const char *rule;
        const char *series;   /* name{a="x",...} */
        const char *value;    /* formatted by the caller */
        const char *expected; /* formatted by the caller */
        const char *incident; /* 32 hex digits */
        const Label *labels;  /* sorted by name */
        size_t n_labels;
} TemplateVars;

/* Expand ${labels.NAME}, ${rule}, ${series}, ${value}, ${expected}, ${incident} in t and validate the
 * result for where it lands. 0 and a new string, -ENOENT for a variable that is not available, -EINVAL
 * for a value that is not valid there, -ENOMEM. vars may be NULL for a template without variables. */
int template_expand(const Template *t, const TemplateVars *vars, TemplateTarget where, char **ret);

/* Whether an expanded templated target passes the step's targets: allow-list (globs). A step without
 * an allow-list allows no templated target. */
bool step_target_allowed(const Step *s, const char *expanded);

#endif

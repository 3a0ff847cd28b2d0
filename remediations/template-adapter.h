/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Stand-in for rules/template.h while that header lands (issue 2). remediations/ is written against its
 * interface:
 *
 *     int template_expand(const Template *t, const TemplateVars *vars, TemplateTarget where, char **ret);
 *     bool step_target_allowed(const Step *s, const char *expanded);
 *
 * When rules/template.h exists this header only includes it, and remediations/meson.build stops building
 * template-adapter.c, so the adapter disappears by itself once the real one is merged; then delete both
 * files. The declarations below mirror rules/template.h as published on the rules branch (same names,
 * same TemplateVars fields, same semantics), so nothing else changes at the switch.
 */
#pragma once

#if __has_include("template.h")
#include "template.h"
#else

#include <stdbool.h>
#include <stddef.h>

#include "rules.h"

typedef enum TemplateTarget {
        TEMPLATE_UNIT,   /* a systemd unit name */
        TEMPLATE_SERVER, /* HAProxy backend/server */
        TEMPLATE_ARGV,   /* one exec argument */
        TEMPLATE_URL,    /* an http(s) URL; substituted values are percent-encoded */
        TEMPLATE_HEADER, /* an HTTP header name or value */
        TEMPLATE_BODY,   /* an HTTP body, as is */
        _TEMPLATE_TARGET_MAX,
} TemplateTarget;

/* What a step's templates are expanded with at run time. */
typedef struct TemplateVars {
        const char *rule;     /* rule name */
        const char *series;   /* series key, e.g. http_requests_total{code="500",source="api"} */
        const char *incident; /* incident id */
        double value;         /* the sample that fired */
        double expected;      /* the detector's expected value, NAN when none */
        const Label *labels;  /* the series' labels (any order) */
        size_t n_labels;
} TemplateVars;

/* Expand t for vars and validate the result for where it lands: 0 and a malloc'ed string; -EINVAL if
 * the result is not acceptable there; -EBADMSG if the template text is malformed; -ENOMEM. A label the
 * series does not carry, and a NULL string variable, expand to "". Text NULL expands to "". */
int template_expand(const Template *t, const TemplateVars *vars, TemplateTarget where, char **ret);

/* True if the step has no targets: list, else if any glob in it matches the expanded target. */
bool step_target_allowed(const Step *s, const char *expanded);

#endif

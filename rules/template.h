/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Templates in remediation steps: `${labels.NAME}`, `${rule}`, `${series}`, `${value}`, `${expected}`,
 * `${incident}`; `$$` is a literal `$`.
 *
 * Templates are parsed when rules load (template_parse: unknown variables and an unterminated `${` are
 * errors at their offset) and expanded when a step runs (template_expand). The expanded text is validated
 * for the place it lands, because a monitored service controls its own label values: a unit name must follow
 * systemd's unit-name grammar, a HAProxy `backend/server` cannot smuggle `;` or a newline into the admin
 * socket, a URL gets every substituted value percent-encoded, a header cannot carry CR/LF. On top of that a
 * step whose target is templated has a `targets:` allow-list of globs (step_target_allowed).
 *
 * Everything here is pure: no I/O, no allocation beyond the result, safe to call from any code.
 */
#pragma once

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

typedef enum TemplateVarKind {
        TEMPLATE_VAR_LABEL, /* ${labels.NAME} */
        TEMPLATE_VAR_RULE,
        TEMPLATE_VAR_SERIES,
        TEMPLATE_VAR_VALUE,
        TEMPLATE_VAR_EXPECTED,
        TEMPLATE_VAR_INCIDENT,
        _TEMPLATE_VAR_MAX,
} TemplateVarKind;

/* One ${...} in a template's text. */
typedef struct TemplateRef {
        TemplateVarKind kind;
        char *label;   /* TEMPLATE_VAR_LABEL: the label name */
        size_t offset; /* byte offset of the '$' in the text */
} TemplateRef;

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

/* Parse text. On success *ret_refs and *ret_n_refs (may be NULL) list the variables used (free with
 * template_refs_free). On a syntax error: -EINVAL, *ret_error (malloc'ed, may be NULL) and
 * *ret_error_offset (byte offset in text). */
int template_parse(
        const char *text, TemplateRef **ret_refs, size_t *ret_n_refs, char **ret_error, size_t *ret_error_offset);
void template_refs_free(TemplateRef *refs, size_t n);

/* Expand t for vars and validate the result for where it lands. Returns 0 and a malloc'ed string;
 * -EINVAL if the result is not acceptable there (bad unit name, ';' towards HAProxy, CR/LF in a header,
 * ...), -EBADMSG if the template text itself is malformed, -ENOMEM. A label the series does not carry
 * expands to the empty string. A template with text NULL expands to "". */
int template_expand(const Template *t, const TemplateVars *vars, TemplateTarget where, char **ret);

/* Whether an expanded target may be acted on: true if the step has no targets: list, else if any glob in
 * it matches (fnmatch, no flags). */
bool step_target_allowed(const Step *s, const char *expanded);

/* systemd's unit-name grammar: [A-Za-z0-9:_.\\-] plus one '@' for instances, at most 255 characters, a
 * known suffix (.service, .socket, .target, .timer, .path, .slice, .scope, .mount, .automount, .swap,
 * .device). Instance names may not be empty (no bare templates). */
bool unit_name_is_valid(const char *s);
/* The same, with glob characters (* ? [ ]) allowed, for unit patterns (systemd sources, targets:). */
bool unit_glob_is_valid(const char *s);

const char *template_target_to_string(TemplateTarget t);

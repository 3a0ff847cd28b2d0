/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Where a step of a rule lands for one incident: its templates expanded with the incident's variables
 * (rules/template.h), checked against the step's `targets:` allow-list, and described for guards (a stable
 * key) and for humans (display text without secrets). This is the IncidentStepTargetFn the daemon gives
 * the incident engine. Pure.
 *
 * Keys (identical to remediations/' remediation_target()): "unit:api.service",
 * "haproxy:/run/haproxy/admin.sock:api/web1", "redis:127.0.0.1:6379/0", "memcached:/run/mc.sock",
 * "http:POST http://127.0.0.1:8500/v1/agent/maintenance" (no credentials, no query), "exec:/usr/bin/x".
 * A limit targets its unit, so a restart and a limit of one unit share a key.
 */
#pragma once

#include "incident.h"
#include "rules.h"
#include "template.h"

/* The template variables of an incident (pointers into i; valid while i is). id_buf holds the id text. */
void incident_template_vars(const Incident *i, char id_buf[static ID128_STRING_MAX], TemplateVars *ret);

/* IncidentStepTargetFn: -EPERM (not in targets:) or -EINVAL (does not expand to something valid) with a
 * sentence in *ret_reason. */
int incident_step_target(
        void *userdata,
        const Rule *rule,
        const Step *step,
        const Incident *i,
        IncidentTarget *ret,
        char **ret_reason);

/* "https://user:pw@host/p?q#f" -> "https://host/p": no credentials, query or fragment. Malloc'ed. */
char *incident_url_without_secrets(const char *url);

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * homeostatctl's incident verbs, thin clients of homeostatd's API:
 *
 *   incidents [--json] [--open] [--limit N]  a table: id (short), rule, series, state, detected, MTTR
 *   incident ID [--json]                      one incident's timeline (times, actions, results, MTTR);
 *                                             ID may be a unique prefix of at least 4 hex digits
 *   silence --rule NAME [--match LABEL=VALUE]... (--for DURATION | --until TIME) [--comment TEXT] [--json]
 *   silence --list [--json]                   the silences (active and recently ended)
 *   silence --expire ID [--json]              end a silence now
 *
 * --match takes =, !=, =~ and !~ (regular expressions are POSIX ERE, fully anchored). With --json each
 * verb prints exactly what the API returned. Exit codes: 0 ok, 1 a negative answer (no such incident, the
 * daemon refused the silence), 2 usage or the daemon cannot be reached.
 */
#pragma once

#include <jansson.h>
#include <stdio.h>

#include "ctl.h"

int ctl_incidents(int argc, char *argv[], const CtlGlobals *g);
int ctl_incident(int argc, char *argv[], const CtlGlobals *g);
int ctl_silence(int argc, char *argv[], const CtlGlobals *g);

/* Formatting, shared with the tests. Return 0 or -EBADMSG when the answer does not have the expected
 * shape. */
int ctl_print_incidents(json_t *answer, FILE *f);
int ctl_print_incident(json_t *incident, FILE *f);
int ctl_print_silences(json_t *answer, FILE *f);
/* "unit=api.service" -> {"label": "unit", "op": "=", "value": "api.service"}; NULL if malformed. */
json_t *ctl_parse_matcher(const char *s);

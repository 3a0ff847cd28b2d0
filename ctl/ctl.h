/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * homeostatctl's verbs. Each verb lives in its own ctl-VERB.c and is one line in the table in
 * homeostatctl.c. A verb gets its own arguments (argv[0] is the verb's name, so getopt works as usual) and
 * the global options, which main() parses before the verb; a verb may also accept --json after its name with
 * ctl_parse_json_flag().
 */
#pragma once

#include <stdbool.h>

typedef struct CtlGlobals {
        const char *api; /* --api unix:PATH (the value as given), NULL for the default socket */
        bool json;       /* --json: print exactly what the API returned */
} CtlGlobals;

#define CTL_DEFAULT_API "unix:/run/homeostat/api.sock"

/* A verb returns the process exit code (0 ok, 1 a negative answer such as an invalid configuration,
 * 2 usage or system failure). */
typedef int (*CtlVerbFunc)(int argc, char *argv[], const CtlGlobals *g);

int ctl_check(int argc, char *argv[], const CtlGlobals *g);
int ctl_replay(int argc, char *argv[], const CtlGlobals *g);

/* Remove "--json" from argv (up to a "--"), setting g->json; returns the new argc. For verbs that accept
 * --json after their name. */
int ctl_parse_json_flag(int argc, char *argv[], CtlGlobals *g);

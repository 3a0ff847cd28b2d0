/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * `homeostatctl check [--strict] PATH...`: validate configurations offline, with no daemon and no root.
 * The work is config_check_main(), shared with `homeostatd --check`.
 */
#include <getopt.h>
#include <stdio.h>

#include "config-check.h"
#include "ctl.h"

static void help(void) {
        printf("Usage: homeostatctl check [--strict] PATH...\n"
               "\n"
               "Validate configurations without a running daemon. Each PATH is its own configuration:\n"
               "a file (plus rules.d/ beside it, if present) or a directory (its homeostat.yaml plus\n"
               "rules.d/*.yaml|*.yml|*.json, in lexical order).\n"
               "\n"
               "  --strict   treat warnings as errors\n"
               "  -h --help  show this help\n"
               "\n"
               "Exit status: 0 all valid, 1 a configuration is invalid, 2 a file could not be read.\n");
}

int ctl_check(int argc, char *argv[], const CtlGlobals *g) {
        static const struct option options[] = {
                { "strict", no_argument, NULL, 's' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        bool strict = false;
        int c;

        if (g->json) {
                fprintf(stderr,
                        "homeostatctl check: --json is not supported; diagnostics are printed as text\n");
                return 2;
        }
        optind = 0;
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
                switch (c) {
                case 's':
                        strict = true;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        fprintf(stderr, "Try 'homeostatctl check --help'.\n");
                        return 2;
                }
        if (optind >= argc) {
                fprintf(stderr,
                        "homeostatctl check: no PATH given.\nUsage: homeostatctl check [--strict] PATH...\n");
                return 2;
        }
        return config_check_main(argv + optind, (size_t) (argc - optind), strict);
}

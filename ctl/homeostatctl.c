/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * homeostatctl: the client and offline tool. main() parses the global options (--api, --json, --help,
 * --version), finds the verb in a table and hands it the rest of the command line. Adding a verb is one
 * line in verbs[] plus its ctl-VERB.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "ctl-api.h"
#include "ctl-incidents.h"
#include "macro.h"

typedef struct Verb {
        const char *name;
        CtlVerbFunc func;
        const char *usage; /* arguments, for --help */
        const char *summary;
} Verb;

static const Verb verbs[] = {
        { "check", ctl_check, "[--strict] PATH...", "validate rule files offline" },
        { "status", ctl_status, "[--json]", "summary of the running daemon" },
        { "reload", ctl_reload, "[--json]", "reload the daemon's configuration, print the outcome" },
        { "incidents", ctl_incidents, "[--json] [--open] [--limit N]", "list incidents, oldest first" },
        { "incident", ctl_incident, "ID [--json]", "one incident's timeline, with MTTR" },
        { "silence",
          ctl_silence,
          "--rule NAME [--match L=V] --for 1h",
          "silence incidents (also --list, --expire ID)" },
        { "replay", ctl_replay, "--rules FILE INPUT.csv...", "backtest rules over recorded data" },
};

static void usage(FILE *f) {
        fprintf(f,
                "Usage: homeostatctl [--api unix:PATH] [--json] VERB [ARGS...]\n"
                "\n"
                "Verbs:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                char left[64];
                snprintf(left, sizeof(left), "%s %s", verbs[i].name, verbs[i].usage);
                fprintf(f, "  %-28s %s\n", left, verbs[i].summary);
        }
        fprintf(f,
                "\n"
                "Options:\n"
                "  --api unix:PATH     the daemon's API socket (default %s)\n"
                "  --json              print what the API returned, as JSON\n"
                "  -h --help           show this help\n"
                "  --version           show the version\n",
                CTL_DEFAULT_API);
}

int ctl_parse_json_flag(int argc, char *argv[], CtlGlobals *g) {
        int k = 1;
        bool rest = false;

        for (int i = 1; i < argc; i++) {
                if (!rest && streq(argv[i], "--"))
                        rest = true;
                if (!rest && streq(argv[i], "--json")) {
                        g->json = true;
                        continue;
                }
                argv[k++] = argv[i];
        }
        argv[k] = NULL;
        return k;
}

int main(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_API, ARG_JSON };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "api", required_argument, NULL, ARG_API },
                { "json", no_argument, NULL, ARG_JSON },
                {},
        };
        CtlGlobals g = {};
        int c;

        /* '+': stop at the verb; its options are its own. */
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        usage(stdout);
                        return 0;
                case ARG_VERSION:
                        printf("homeostatctl %s\n", PROJECT_VERSION);
                        return 0;
                case ARG_API:
                        if (!startswith(optarg, "unix:") || optarg[5] != '/') {
                                fprintf(stderr,
                                        "homeostatctl: --api takes unix:/ABSOLUTE/PATH, not '%s'\n",
                                        optarg);
                                return 2;
                        }
                        g.api = optarg;
                        break;
                case ARG_JSON:
                        g.json = true;
                        break;
                default:
                        usage(stderr);
                        return 2;
                }

        if (optind >= argc) {
                fprintf(stderr, "homeostatctl: no verb given.\n\n");
                usage(stderr);
                return 2;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(argv[optind], verbs[i].name))
                        return verbs[i].func(argc - optind, argv + optind, &g);

        fprintf(stderr, "homeostatctl: unknown verb '%s'.\n\n", argv[optind]);
        usage(stderr);
        return 2;
}

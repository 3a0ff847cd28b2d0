/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The checker that SREs run before a reload: every path is loaded exactly as the daemon would load it,
 * every diagnostic printed in file order, and one line per path says what the verdict is. Nothing on the
 * host is touched except reading the files (and the zone database for `timezone:`).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config-check.h"
#include "macro.h"
#include "rules.h"

static const char *plural(size_t n, const char *one, const char *many) {
        return n == 1 ? one : many;
}

static int check_one(const char *path, bool strict) {
        _cleanup_(config_freep) Config *c = NULL;
        Diagnostics d = {};
        ConfigLoadOptions opts = { .strict = strict };
        int r, code;

        r = config_load(path, &opts, &c, &d);
        fflush(stdout);
        diagnostics_print(&d, stderr);
        fflush(stderr);
        if (r == 0) {
                printf("%s: OK: %zu %s, %zu %s, %zu %s, %zu %s\n",
                       path,
                       c->n_rules,
                       plural(c->n_rules, "rule", "rules"),
                       c->n_sources,
                       plural(c->n_sources, "source", "sources"),
                       c->n_notifiers,
                       plural(c->n_notifiers, "notifier", "notifiers"),
                       d.n_warnings,
                       plural(d.n_warnings, "warning", "warnings"));
                code = 0;
        } else if (r == -EINVAL) {
                printf("%s: INVALID: %zu %s, %zu %s%s\n",
                       path,
                       d.n_errors,
                       plural(d.n_errors, "error", "errors"),
                       d.n_warnings,
                       plural(d.n_warnings, "warning", "warnings"),
                       strict && d.n_errors == 0 ? " (--strict treats warnings as errors)" : "");
                code = 1;
        } else {
                printf("%s: UNREADABLE: %s\n", path, strerror(-r));
                code = 2;
        }
        fflush(stdout);
        diagnostics_done(&d);
        return code;
}

int config_check_main(char **paths, size_t n_paths, bool strict) {
        int code = 0;

        for (size_t i = 0; i < n_paths; i++) {
                int k = check_one(paths[i], strict);
                if (k > code)
                        code = k;
        }
        return code;
}

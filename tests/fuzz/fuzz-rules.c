/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz the rule loader: every input is loaded twice through config_load_buffer(), once as YAML and once as
 * JSON, so both parsers, the schema pass, selectors and templates see it. Any crash, leak, hang or
 * quadratic blow-up is a bug. A loaded Config is also walked through the public lookups.
 */
#include <stdint.h>
#include <stdlib.h>

#include "macro.h"
#include "rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void load(const char *name, const uint8_t *data, size_t size) {
        Config *c = NULL;
        Diagnostics d = {};
        ConfigLoadOptions opts = { .max_file_bytes = 1024 * 1024 };

        if (config_load_buffer(name, (const char *) data, size, &opts, &c, &d) == 0) {
                for (size_t i = 0; i < c->n_rules; i++) {
                        (void) config_find_rule(c, c->rules[i].name);
                        (void) selector_matches(c->rules[i].series, "up", NULL, 0);
                }
                config_free(c);
        }
        /* Printing exercises every message's formatting. */
        FILE *f = fopen("/dev/null", "we");
        if (f) {
                diagnostics_print(&d, f);
                fclose(f);
        }
        diagnostics_done(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        load("fuzz.yaml", data, size);
        load("fuzz.json", data, size);
        return 0;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz remediation_undo_from_json(), the reader of persisted undo obligations (a drain to lift, a limit
 * to restore) that the daemon reads back from its state directory after a restart. A damaged or hostile
 * state file must be rejected, never crash the daemon or become an undo that does something else. Every
 * input that is accepted must survive a round trip: to JSON and back gives the same JSON, the same target
 * key and the same description.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "remediation.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(action_undo_freep) ActionUndo *u = NULL, *again = NULL;
        _cleanup_free_ char *text = NULL, *json = NULL, *json2 = NULL, *d1 = NULL, *d2 = NULL;

        text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = 0;
        if (remediation_undo_from_json(text, &u) < 0)
                return 0;

        /* Accepted: it must write itself out and read back as exactly the same obligation. */
        if (remediation_undo_to_json(u, &json) < 0 || remediation_undo_from_json(json, &again) < 0 ||
            remediation_undo_to_json(again, &json2) < 0 || !streq(json, json2) ||
            !streq(action_undo_target(u), action_undo_target(again)) || action_undo_describe(u, &d1) < 0 ||
            action_undo_describe(again, &d2) < 0 || !streq(d1, d2))
                abort();
        return 0;
}

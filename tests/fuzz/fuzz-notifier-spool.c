/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz the notifier outbox's reader: a spool file, damaged by a crash, a full disk or a hand edit, is read
 * back at start as a queued message and as a firing-alert record, and whatever it accepts is then turned
 * into a request body for every notifier kind (chat coalescing, the webhook, Alertmanager), exactly as the
 * hub would. A corrupt spool file must be rejected with a reason, never crash the hub.
 */
#include <stdint.h>
#include <stdlib.h>

#include "macro.h"
#include "notifier-format.h"
#include "notifier-spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void format_all(const json_t *incident, const json_t *event) {
        static const NotifierKind chat[] = {
                NOTIFIER_SLACK, NOTIFIER_MATTERMOST, NOTIFIER_TEAMS, NOTIFIER_DISCORD
        };
        const json_t *events[] = { event, event };
        NotifierAlert alert = { incident, event };
        NotifierPayload p = {};
        char *summary = NULL;

        for (size_t i = 0; i < ELEMENTSOF(chat); i++)
                for (size_t n = 1; n <= ELEMENTSOF(events); n++) {
                        if (notifier_format_chat(chat[i], incident, events, n, &p) == 0)
                                notifier_payload_done(&p);
                }
        if (notifier_format_webhook(incident, event, &p) == 0)
                notifier_payload_done(&p);
        if (notifier_format_alertmanager(&alert, 1, 1764297038 * USEC_PER_SEC, 4 * USEC_PER_MINUTE, &p) == 0)
                notifier_payload_done(&p);
        if (notifier_summary(incident, events, 1, &summary) == 0)
                free(summary);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        SpoolMessage m = {};
        SpoolAlert a = {};
        const char *reason = NULL;
        int r;

        r = spool_message_parse((const char *) data, size, &m, &reason);
        if (r == -EINVAL && !reason)
                abort(); /* a rejected file is moved aside with its reason */
        if (r == 0) {
                format_all(m.incident, m.event);
                spool_message_done(&m);
        }

        reason = NULL;
        r = spool_alert_parse((const char *) data, size, "0123456789abcdef0123456789abcdef.json", &a, &reason);
        if (r == -EINVAL && !reason)
                abort();
        if (r == 0) {
                format_all(a.incident, a.event);
                spool_alert_done(&a);
        }
        return 0;
}

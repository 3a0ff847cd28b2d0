/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The journal/stderr log sink for homeostatd; see journal-log.h.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "journal-log.h"
#include "log.h"
#include "util.h"

#define JOURNAL_FIELDS_MAX 32

static const char *identifier = "homeostatd";

bool journal_field_is_valid(const char *field) {
        const char *eq;
        size_t n;

        if (!field)
                return false;
        eq = strchr(field, '=');
        if (!eq)
                return false;
        n = (size_t) (eq - field);
        if (n == 0 || n > 64)
                return false;
        if (field[0] == '_' || (field[0] >= '0' && field[0] <= '9'))
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = field[i];
                if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
                        return false;
        }
        /* Fields we set ourselves must not be overridden by callers. */
        if ((n == 7 && strneq(field, "MESSAGE", 7)) || (n == 8 && strneq(field, "PRIORITY", 8)) ||
            (n == 17 && strneq(field, "SYSLOG_IDENTIFIER", 17)))
                return false;
        return true;
}

static void stderr_sink(
        int priority, const char *message, const char *const *fields, size_t n_fields, void *userdata) {
        fprintf(stderr, "%s: %s\n", identifier, message);
}

/* Why: one journal entry per message with the caller's structured fields, so `journalctl
 * HOMEOSTAT_RULE=api-latency` finds everything about a rule. Falls back to stderr if journald refuses the
 * message (it reports no error when journald is gone altogether; journal_log_setup() checks that). */
static void journal_sink(
        int priority, const char *message, const char *const *fields, size_t n_fields, void *userdata) {
        struct iovec iov[3 + JOURNAL_FIELDS_MAX];
        char prio[32], ident[64], mbuf[2100];
        size_t n = 0;
        int k;

        k = snprintf(mbuf, sizeof(mbuf), "MESSAGE=%s", message);
        if (k < 0)
                return;
        iov[n++] = (struct iovec){ mbuf, MIN((size_t) k, sizeof(mbuf) - 1) };
        k = snprintf(prio, sizeof(prio), "PRIORITY=%d", priority & LOG_PRIMASK);
        iov[n++] = (struct iovec){ prio, (size_t) MAX(k, 0) };
        k = snprintf(ident, sizeof(ident), "SYSLOG_IDENTIFIER=%s", identifier);
        iov[n++] = (struct iovec){ ident, MIN((size_t) MAX(k, 0), sizeof(ident) - 1) };
        for (size_t i = 0; i < n_fields && n < ELEMENTSOF(iov); i++) {
                if (!journal_field_is_valid(fields[i]))
                        continue;
                iov[n++] = (struct iovec){ (void *) fields[i], strlen(fields[i]) };
        }
        if (sd_journal_sendv(iov, (int) n) < 0)
                stderr_sink(priority, message, fields, n_fields, userdata);
}

bool journal_log_wanted(void) {
        const char *e = getenv("JOURNAL_STREAM");
        struct stat st;

        if (e) {
                const char *colon = strchr(e, ':');
                uint64_t dev, ino;
                char devs[32];
                size_t l = colon ? (size_t) (colon - e) : 0;

                if (colon && l > 0 && l < sizeof(devs)) {
                        memcpy(devs, e, l);
                        devs[l] = 0;
                        if (safe_atou64(devs, &dev) >= 0 && safe_atou64(colon + 1, &ino) >= 0 &&
                            fstat(STDERR_FILENO, &st) >= 0 && (uint64_t) st.st_dev == dev &&
                            (uint64_t) st.st_ino == ino)
                                return true;
                }
        }
        return getenv("INVOCATION_ID") != NULL;
}

/* sd_journal_send() silently succeeds when journald is not running (it drops the message on ENOENT), so
 * whether the journal can take messages at all is checked here, once. */
static bool journal_socket_present(void) {
        struct stat st;
        return stat("/run/systemd/journal/socket", &st) >= 0 && S_ISSOCK(st.st_mode);
}

bool journal_log_setup(const char *program_name, bool force_journal) {
        bool journal = force_journal || (journal_log_wanted() && journal_socket_present());

        if (program_name)
                identifier = program_name;
        log_set_program_name(identifier);
        log_set_sink(journal ? journal_sink : stderr_sink, NULL);
        return journal;
}

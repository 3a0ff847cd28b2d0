/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * homeostatd's log sink: structured journal entries (MESSAGE=, PRIORITY=, SYSLOG_IDENTIFIER= plus the
 * caller's HOMEOSTAT_*= fields) when the daemon runs under systemd, plain "homeostatd: message" lines on
 * stderr otherwise. Without a journald socket (a service manager but no journald, as in the tests), or for
 * a message the journal refuses, stderr is used, so nothing is lost.
 *
 * Secrets never reach this sink: callers do not log notifier URLs, and sources redact theirs.
 */
#pragma once

#include <stdbool.h>

/* Whether stderr is connected to the journal (JOURNAL_STREAM names stderr's device:inode) or the process
 * was started by systemd (INVOCATION_ID is set). */
bool journal_log_wanted(void);

/* Install the sink (journal when journal_log_wanted() and journald's socket exists, or force_journal; else
 * stderr with the program name as prefix). Returns true if the journal is used. */
bool journal_log_setup(const char *program_name, bool force_journal);

/* Whether a "KEY=value" field is acceptable to journald (KEY: A-Z, 0-9, _, not starting with _ or a digit,
 * at most 64 characters). Invalid fields make journald drop the whole entry, so the sink skips them. */
bool journal_field_is_valid(const char *field);

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The durable outbox on disk: one directory per notifier, one file per queued message.
 *
 *   SPOOL/<escaped notifier name>/00000000000000000042.json   a queued message (incident + event)
 *   SPOOL/<name>/firing/<incident id>.json                     alertmanager: alerts we keep firing
 *   SPOOL/<name>/dead/<time>-<file>                            dead letters (permanent HTTP failures)
 *   SPOOL/<name>/corrupt/<time>-<file>                         files that could not be read back
 *
 * Why a file per message rather than an append-only log with a cursor: messages do not leave in the order
 * they came (chat coalesces one incident's events, a permanently rejected message is moved aside while
 * later ones are delivered, expired ones are dropped from anywhere), which a log handles only with
 * tombstones and compaction. A file per message makes each of those one rename or unlink, makes a
 * corrupt message cost exactly that message, and the volume is small (chat is rate-limited to a few
 * messages a minute). A message is written to a temporary file, fsync'ed, renamed into place and the
 * directory fsync'ed before publish returns; names carry a 64-bit sequence number, so lexical order is
 * queue order and a restart resumes in order. The URL is never stored: it is resolved from configuration.
 *
 * Nothing here logs; problems with individual files are handed to a report callback.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "time-util.h"

#define SPOOL_FILE_MAX_BYTES (1024 * 1024) /* a stored message or alert larger than this is corrupt */
#define SPOOL_ASIDE_KEEP 1000              /* dead/ and corrupt/ keep at most this many files each */
#define SPOOL_NAME_MAX 32
/* Sequence numbers run from 1 to SPOOL_SEQ_MAX. Nothing larger is ever written, so a file name beyond it is
 * damage, and one past the highest sequence number on disk can never wrap around to 0. */
#define SPOOL_SEQ_MAX ((uint64_t) INT64_MAX)

typedef struct SpoolMessage {
        uint64_t seq;        /* position in the queue, the file name */
        usec_t created_usec; /* CLOCK_REALTIME when published; the maximum age counts from here */
        json_t *incident;    /* normalized (notifier_incident_normalize) */
        json_t *event;       /* normalized */
} SpoolMessage;

void spool_message_done(SpoolMessage *m);

typedef struct SpoolAlert {
        json_t *incident;
        json_t *event;
} SpoolAlert;

void spool_alert_done(SpoolAlert *a);

/* Called for every file that was moved aside while loading: its name and why. */
typedef void (*SpoolReportFn)(const char *file, const char *reason, void *userdata);

/* Notifier names as directory names: [A-Za-z0-9_-] and non-leading "." are kept, every other byte
 * becomes %XX. -EINVAL for an empty name, -ENAMETOOLONG if the result exceeds 255 bytes. */
int spool_escape_name(const char *name, char **ret);
/* The inverse; -EINVAL for names escape would not have produced (including dot files). */
int spool_unescape_name(const char *dirname, char **ret);

/* mkdir (0700, if missing) and open a directory below parent_fd (AT_FDCWD for a path). */
int spool_open_dir(int parent_fd, const char *name, int *ret_fd);

/* Write data to dirfd/name durably: temporary file, fsync, rename over name, fsync the directory. */
int spool_write_atomic(int dirfd, const char *name, const char *data, size_t len);

const char *spool_message_file_name(uint64_t seq, char buf[static SPOOL_NAME_MAX]);
/* Whether name is a message file name (of a sequence number in 1..SPOOL_SEQ_MAX); the number in *ret_seq. */
bool spool_parse_message_file_name(const char *name, uint64_t *ret_seq);

int spool_message_serialize(const SpoolMessage *m, char **ret);
/* Parse a stored message; -EINVAL with a static reason for anything unexpected. */
int spool_message_parse(const char *data, size_t len, SpoolMessage *ret, const char **ret_reason);

/* Store a message durably. -ERANGE for a sequence number outside 1..SPOOL_SEQ_MAX. */
int spool_write_message(int dirfd, const SpoolMessage *m);
/* Remove a delivered or expired message (the directory is not synced; see spool_sync()). */
int spool_remove_message(int dirfd, uint64_t seq);
int spool_sync(int dirfd);

/* Move dirfd/name into dirfd/subdir/ (created if missing) under "<realtime usec>-<name>", then prune the
 * subdirectory to SPOOL_ASIDE_KEEP files, oldest first. */
int spool_move_aside(int dirfd, const char *name, const char *subdir);

/* Every message in the directory, sorted by seq. Leftover temporary files are removed; files that cannot
 * be parsed, and unexpected files, are moved to corrupt/ and reported. *ret_next_seq is one more than the
 * highest sequence number seen. */
int spool_load_messages(
        int dirfd, SpoolMessage **ret, size_t *ret_n, uint64_t *ret_next_seq, SpoolReportFn report, void *userdata);

/* The alertmanager notifier's firing alerts (firing/<incident id>.json). */
int spool_write_alert(int dirfd, const json_t *incident, const json_t *event);
int spool_remove_alert(int dirfd, const char *incident_id);
int spool_load_alerts(int dirfd, SpoolAlert **ret, size_t *ret_n, SpoolReportFn report, void *userdata);
/* Parse a stored alert; name is its file name, which must be "<incident id>.json". -EINVAL with a static
 * reason for anything unexpected. */
int spool_alert_parse(const char *data, size_t len, const char *name, SpoolAlert *ret, const char **ret_reason);

/* Number of files in dirfd/subdir (0 if it does not exist). */
size_t spool_count_files(int dirfd, const char *subdir);

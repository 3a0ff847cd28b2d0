/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Atomic persistence of whole files in homeostatd's state directory (/var/lib/homeostat).
 *
 * Every piece of persisted state is one file that is replaced as a whole: the data goes to a temporary
 * file in the same directory, which is fsync()ed and rename()d over the old one, and then the directory is
 * fsync()ed, so after a crash or power loss the file holds either the old or the new contents, never a mix.
 * Different kinds of state live in different files (the evaluator's learned state in "evaluator.state";
 * incidents, undo obligations, guards and silences in files of their own), so a corrupt detector state
 * file can be moved aside without touching anything else.
 *
 * Two ways to write:
 *  - state_file_write_atomic(): synchronous; for stop, for tests and for small files.
 *  - StateSaver: one per file; save() forks a child that does the write and the fsyncs, so the event loop
 *    only pays for serializing into memory and for fork(). A save requested while one is in flight is
 *    coalesced (the newest data wins and is written when the running child exits). state_saver_flush()
 *    waits for the child and writes what is pending synchronously: call it at stop.
 *
 * The StateSaver child is reaped through sd_event_add_child(), so SIGCHLD must be blocked in all threads
 * (homeostatd's main does that first thing).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

#include "macro.h"
#include "time-util.h"

/* Open (creating it and missing parents, mode 0700, if create is true) the state directory. */
int state_dir_open(const char *path, bool create, int *ret_fd);

/* Remove temporary files left behind by a crash during a write (".NAME.tmp.*"). Returns how many. */
int state_dir_remove_temporaries(int dir_fd);

/* Write data as dir/name atomically (temp file, fsync, rename, fsync of the directory). Mode 0600. */
int state_file_write_atomic(int dir_fd, const char *name, const void *data, size_t len);

/* Read dir/name whole. -ENOENT if it does not exist, -EFBIG beyond max_bytes. The buffer is
 * NUL-terminated (not counted in *ret_len). */
int state_file_read(int dir_fd, const char *name, size_t max_bytes, char **ret_data, size_t *ret_len);

/* Rename dir/name to dir/name.corrupt-<UTC timestamp> (e.g. evaluator.state.corrupt-20240501T120000Z),
 * so that it can be inspected later while a fresh file takes its place. realtime_usec is the timestamp to
 * use. Returns the new name in *ret_name (may be NULL). */
int state_file_move_aside(int dir_fd, const char *name, usec_t realtime_usec, char **ret_name);

/* ---- asynchronous, coalescing writer for one file ---- */

typedef struct StateSaver StateSaver;

typedef struct StateSaverStats {
        uint64_t saves_ok;
        uint64_t saves_failed;
        usec_t last_ok_realtime_usec; /* 0 if never */
        usec_t last_write_usec;       /* how long the last child took (write + fsyncs) */
        usec_t last_fork_usec;        /* how long fork() blocked the loop */
        int last_error;               /* negative errno of the last failed save, 0 after a success */
        size_t last_size;
        bool in_flight;
} StateSaverStats;

/* Called on the loop when a write finished (error is 0 or a negative errno). */
typedef void (*StateSaverDone)(StateSaver *s, int error, void *userdata);

int state_saver_new(sd_event *event, int dir_fd, const char *name, StateSaver **ret);
/* Waits for a running child (bounded by the child's I/O) but does not write pending data: call
 * state_saver_flush() first if it must reach the disk. */
StateSaver *state_saver_free(StateSaver *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(StateSaver *, state_saver_free);

void state_saver_set_callback(StateSaver *s, StateSaverDone cb, void *userdata);

/* Hand over data (malloc'ed; the saver frees it) to be written asynchronously. Returns 0 when a child was
 * started, 1 when the data was queued behind a running child, or a negative errno (data freed). */
int state_saver_save(StateSaver *s, void *data, size_t len);

/* Block until nothing is in flight, writing queued data synchronously. Returns the result of the last
 * write (0 or a negative errno). */
int state_saver_flush(StateSaver *s);

/* Write data now, synchronously, after waiting for a running child; queued data is dropped (data is
 * newer). For the final save at stop. Takes ownership of data. */
int state_saver_save_sync(StateSaver *s, void *data, size_t len);

void state_saver_get_stats(const StateSaver *s, StateSaverStats *ret);
const char *state_saver_name(const StateSaver *s);

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
 *  - state_file_write_atomic() / state_file_write_func(): synchronous; for stop, tests and small files.
 *  - StateSaver: one per file; a save forks a child that writes and fsyncs while the event loop goes on.
 *    With state_saver_save_func() even the serialization happens in the child, on the copy-on-write
 *    snapshot fork() gives it (like Redis's BGSAVE), so the loop pays only for fork() itself (about 2 ms
 *    for homeostatd with 10 000 series, see bench/bench-state-save.c); the price is that pages the parent
 *    changes meanwhile are copied, bounded by the size of the state. state_saver_save() takes a buffer
 *    serialized beforehand instead. A save requested while one is in flight is coalesced (the newest
 *    request wins and runs when the child exits). state_saver_flush() / *_sync() wait for the child and
 *    write synchronously: for stop.
 *
 * The StateSaver child is reaped through sd_event_add_child(), so SIGCHLD must be blocked in all threads
 * (homeostatd's main does that first thing).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <systemd/sd-event.h>

#include "macro.h"
#include "time-util.h"

/* Open (creating it and missing parents, mode 0700, if create is true) the state directory. */
int state_dir_open(const char *path, bool create, int *ret_fd);

/* Remove temporary files left behind by a crash during a write (".NAME.tmp.*"). Returns how many. */
int state_dir_remove_temporaries(int dir_fd);

/* Write data as dir/name atomically (temp file, fsync, rename, fsync of the directory). Mode 0600. */
int state_file_write_atomic(int dir_fd, const char *name, const void *data, size_t len);

/* Produces a file's contents; returns 0 or a negative errno (then the old file stays). */
typedef int (*StateWriteFunc)(FILE *f, void *userdata);

/* The same with the contents written by fn (buffered, 1 MiB). */
int state_file_write_func(int dir_fd, const char *name, StateWriteFunc fn, void *userdata);

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
        usec_t last_write_usec;       /* how long the last write took (child: serialize, write, fsyncs) */
        usec_t last_fork_usec;        /* how long fork() blocked the loop */
        int last_error;               /* negative errno of the last failed save, 0 after a success */
        size_t last_size;             /* of the file after the last successful save */
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

/* Have fn write the file in a forked child, on a snapshot of this process taken at fork() time. fn and
 * userdata must stay valid until then (a coalesced request runs when the running child exits). Returns 0
 * when a child was started, 1 when queued, or a negative errno. */
int state_saver_save_func(StateSaver *s, StateWriteFunc fn, void *userdata);

/* Block until nothing is in flight, writing queued data synchronously. Returns the result of the last
 * write (0 or a negative errno). */
int state_saver_flush(StateSaver *s);

/* Write data now, synchronously, after waiting for a running child; queued data is dropped (data is
 * newer). For the final save at stop. Takes ownership of data. */
int state_saver_save_sync(StateSaver *s, void *data, size_t len);
int state_saver_save_func_sync(StateSaver *s, StateWriteFunc fn, void *userdata);

void state_saver_get_stats(const StateSaver *s, StateSaverStats *ret);
const char *state_saver_name(const StateSaver *s);

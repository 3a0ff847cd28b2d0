/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Atomic state files and the forking, coalescing StateSaver; see state-file.h for the contract.
 *
 * The write path that runs in the forked child (write_atomic_at) only uses async-signal-safe calls (open,
 * write, fsync, rename, close, unlink) and no allocation, because the parent has other threads (curl's
 * resolver) whose locks may be held at the moment of fork(). Everything the child needs (the temporary
 * name) is prepared in the parent.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "state-file.h"
#include "util.h"

static unsigned tmp_counter = 0;

/* mkdir -p with the given mode for every component that has to be created. */
static int mkdir_parents(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int state_dir_open(const char *path, bool create, int *ret_fd) {
        int fd, r;

        if (!path || !*path)
                return -EINVAL;
        if (create) {
                r = mkdir_parents(path, 0700);
                if (r < 0)
                        return r;
        }
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        return 0;
}

static bool is_temporary_name(const char *n) {
        return n[0] == '.' && strstr(n, ".tmp.") != NULL;
}

int state_dir_remove_temporaries(int dir_fd) {
        int fd, removed = 0;
        DIR *d;
        struct dirent *de;

        fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                int r = -errno;
                safe_close(fd);
                return r;
        }
        rewinddir(d);
        while ((de = readdir(d))) {
                if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
                        continue;
                if (!is_temporary_name(de->d_name))
                        continue;
                if (unlinkat(dir_fd, de->d_name, 0) >= 0)
                        removed++;
        }
        closedir(d);
        return removed;
}

/* The part of an atomic write that may run in a forked child: async-signal-safe, no allocation. */
static int write_atomic_at(int dir_fd, const char *tmp, const char *name, const void *data, size_t len) {
        const char *p = data;
        int fd, r = 0;

        fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        while (len > 0) {
                ssize_t k = write(fd, p, len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto fail;
                }
                p += k;
                len -= (size_t) k;
        }
        if (fsync(fd) < 0) {
                r = -errno;
                goto fail;
        }
        if (close(fd) < 0) {
                fd = -EBADF;
                r = -errno;
                goto fail;
        }
        fd = -EBADF;
        if (renameat(dir_fd, tmp, dir_fd, name) < 0) {
                r = -errno;
                goto fail;
        }
        if (fsync(dir_fd) < 0)
                return -errno;
        return 0;

fail:
        if (fd >= 0)
                (void) close(fd);
        (void) unlinkat(dir_fd, tmp, 0);
        return r;
}

static int make_temporary_name(const char *name, char *buf, size_t size) {
        int n = snprintf(buf, size, ".%s.tmp.%d.%u", name, (int) getpid(), tmp_counter++);
        if (n < 0 || (size_t) n >= size)
                return -ENAMETOOLONG;
        return 0;
}

static bool name_is_valid(const char *name) {
        return name && *name && *name != '.' && !strchr(name, '/') && strlen(name) <= 200;
}

int state_file_write_atomic(int dir_fd, const char *name, const void *data, size_t len) {
        char tmp[256];
        int r;

        if (!name_is_valid(name) || (!data && len > 0))
                return -EINVAL;
        r = make_temporary_name(name, tmp, sizeof(tmp));
        if (r < 0)
                return r;
        return write_atomic_at(dir_fd, tmp, name, data, len);
}

int state_file_read(int dir_fd, const char *name, size_t max_bytes, char **ret_data, size_t *ret_len) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (!name_is_valid(name))
                return -EINVAL;
        fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        return read_full_fd(fd, max_bytes, ret_data, ret_len);
}

int state_file_move_aside(int dir_fd, const char *name, usec_t realtime_usec, char **ret_name) {
        time_t sec = (time_t) (realtime_usec / USEC_PER_SEC);
        char stamp[32], target[320];
        struct tm tm;

        if (!name_is_valid(name))
                return -EINVAL;
        if (!gmtime_r(&sec, &tm))
                return -EINVAL;
        if (strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) == 0)
                return -EINVAL;

        for (unsigned i = 0; i < 100; i++) {
                int n = i == 0 ? snprintf(target, sizeof(target), "%s.corrupt-%s", name, stamp)
                               : snprintf(target, sizeof(target), "%s.corrupt-%s-%u", name, stamp, i);
                if (n < 0 || (size_t) n >= sizeof(target))
                        return -ENAMETOOLONG;
                if (renameat2(dir_fd, name, dir_fd, target, RENAME_NOREPLACE) >= 0) {
                        (void) fsync(dir_fd);
                        if (ret_name) {
                                char *c = strdup(target);
                                if (!c)
                                        return -ENOMEM;
                                *ret_name = c;
                        }
                        return 0;
                }
                if (errno != EEXIST)
                        return -errno;
        }
        return -EEXIST;
}

/* ---- StateSaver ---- */

/* What to write: a buffer, or a function that produces the contents into a FILE. */
typedef struct Job {
        StateWriteFunc fn; /* NULL: data/len */
        void *userdata;
        void *data;
        size_t len;
} Job;

static void job_done(Job *j) {
        free(j->data);
        *j = (Job){};
}

/* Write a function's output atomically. In the writer child this runs on a copy-on-write snapshot of the
 * parent; it uses stdio and malloc, which glibc keeps usable in a child of a threaded process (fork()
 * takes and resets their locks), as Redis's BGSAVE relies on too. */
static int write_func_at(int dir_fd, const char *tmp, const char *name, StateWriteFunc fn, void *userdata) {
        FILE *f;
        int fd, r;

        fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        f = fdopen(fd, "w");
        if (!f) {
                r = -errno;
                (void) close(fd);
                (void) unlinkat(dir_fd, tmp, 0);
                return r;
        }
        (void) setvbuf(f, NULL, _IOFBF, 1024 * 1024);
        r = fn(f, userdata);
        if (r >= 0 && fflush(f) != 0)
                r = errno_or_else(EIO);
        if (r >= 0 && fsync(fileno(f)) < 0)
                r = -errno;
        if (fclose(f) != 0 && r >= 0)
                r = errno_or_else(EIO);
        if (r >= 0 && renameat(dir_fd, tmp, dir_fd, name) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(dir_fd, tmp, 0);
                return r;
        }
        if (fsync(dir_fd) < 0)
                return -errno;
        return 0;
}

static int write_job_at(int dir_fd, const char *tmp, const char *name, const Job *j) {
        if (j->fn)
                return write_func_at(dir_fd, tmp, name, j->fn, j->userdata);
        return write_atomic_at(dir_fd, tmp, name, j->data, j->len);
}

int state_file_write_func(int dir_fd, const char *name, StateWriteFunc fn, void *userdata) {
        char tmp[256];
        int r;

        if (!name_is_valid(name) || !fn)
                return -EINVAL;
        r = make_temporary_name(name, tmp, sizeof(tmp));
        if (r < 0)
                return r;
        return write_func_at(dir_fd, tmp, name, fn, userdata);
}

struct StateSaver {
        sd_event *event;
        int dir_fd;
        char *name;

        pid_t child;
        sd_event_source *child_source;
        usec_t child_started; /* CLOCK_MONOTONIC */

        Job pending; /* the newest request, waiting for the running child to finish */
        bool has_pending;

        StateSaverDone cb;
        void *userdata;
        StateSaverStats stats;
};

int state_saver_new(sd_event *event, int dir_fd, const char *name, StateSaver **ret) {
        StateSaver *s;

        if (!event || dir_fd < 0 || !name_is_valid(name))
                return -EINVAL;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->dir_fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
        if (s->dir_fd < 0) {
                int r = -errno;
                free(s);
                return r;
        }
        s->name = strdup(name);
        if (!s->name) {
                safe_close(s->dir_fd);
                free(s);
                return -ENOMEM;
        }
        s->event = sd_event_ref(event);
        *ret = s;
        return 0;
}

void state_saver_set_callback(StateSaver *s, StateSaverDone cb, void *userdata) {
        s->cb = cb;
        s->userdata = userdata;
}

static void record_result(StateSaver *s, int error, usec_t duration) {
        struct stat st;

        s->stats.last_write_usec = duration;
        s->stats.last_error = error;
        if (error < 0) {
                s->stats.saves_failed++;
                return;
        }
        s->stats.saves_ok++;
        s->stats.last_ok_realtime_usec = now(CLOCK_REALTIME);
        if (fstatat(s->dir_fd, s->name, &st, AT_SYMLINK_NOFOLLOW) >= 0)
                s->stats.last_size = (size_t) st.st_size;
}

static int exit_status_to_error(int si_code, int status) {
        if (si_code == CLD_EXITED)
                return status == 0 ? 0 : -status;
        return -EINTR; /* killed by a signal */
}

static int start_child(StateSaver *s, Job *job);

/* Why: runs on the loop when the writer child exits; records the result and starts the coalesced
 * follow-up write, if any, so the newest state always reaches the disk. */
static int on_child_exit(sd_event_source *src, const siginfo_t *si, void *userdata) {
        StateSaver *s = userdata;
        int error = exit_status_to_error(si->si_code, si->si_status);

        s->child_source = sd_event_source_unref(s->child_source);
        s->child = 0;
        s->stats.in_flight = false;
        record_result(s, error, now(CLOCK_MONOTONIC) - s->child_started);

        if (s->has_pending) {
                Job j = s->pending;
                s->pending = (Job){};
                s->has_pending = false;
                (void) start_child(s, &j);
        }
        if (s->cb)
                s->cb(s, error, s->userdata);
        return 0;
}

/* Fork a writer child for job (consumed: its data is freed here, the child has its own copy). */
static int start_child(StateSaver *s, Job *job) {
        char tmp[256];
        usec_t t0;
        pid_t pid;
        int r;

        r = make_temporary_name(s->name, tmp, sizeof(tmp));
        if (r < 0) {
                job_done(job);
                record_result(s, r, 0);
                return r;
        }

        t0 = now(CLOCK_MONOTONIC);
        pid = fork();
        if (pid < 0) {
                r = -errno;
                job_done(job);
                record_result(s, r, 0);
                return r;
        }
        if (pid == 0) {
                r = write_job_at(s->dir_fd, tmp, s->name, job);
                _exit(r < 0 ? (-r & 0xff) : 0);
        }
        s->stats.last_fork_usec = now(CLOCK_MONOTONIC) - t0;
        job_done(job);

        s->child = pid;
        s->child_started = t0;
        s->stats.in_flight = true;
        r = sd_event_add_child(s->event, &s->child_source, pid, WEXITED, on_child_exit, s);
        if (r < 0) {
                /* Cannot watch it: wait for it here, so that no zombie and no second writer remain. */
                int status = 0;
                while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                        ;
                s->child = 0;
                s->stats.in_flight = false;
                r = WIFEXITED(status) ? exit_status_to_error(CLD_EXITED, WEXITSTATUS(status)) : -EINTR;
                record_result(s, r, now(CLOCK_MONOTONIC) - t0);
                return r;
        }
        (void) sd_event_source_set_description(s->child_source, "state-saver-child");
        return 0;
}

static int save_job(StateSaver *s, Job *job) {
        if (s->child > 0) {
                job_done(&s->pending);
                s->pending = *job;
                *job = (Job){};
                s->has_pending = true;
                return 1;
        }
        return start_child(s, job);
}

int state_saver_save(StateSaver *s, void *data, size_t len) {
        Job j = { .data = data, .len = len };

        if (!s || (!data && len > 0)) {
                free(data);
                return -EINVAL;
        }
        return save_job(s, &j);
}

int state_saver_save_func(StateSaver *s, StateWriteFunc fn, void *userdata) {
        Job j = { .fn = fn, .userdata = userdata };

        if (!s || !fn)
                return -EINVAL;
        return save_job(s, &j);
}

/* Reap a running child synchronously (at stop), without its event source. */
static int wait_child(StateSaver *s) {
        int status = 0, e;

        if (s->child <= 0)
                return s->stats.last_error;
        s->child_source = sd_event_source_disable_unref(s->child_source);
        while (waitpid(s->child, &status, 0) < 0) {
                if (errno != EINTR) {
                        e = -errno;
                        s->child = 0;
                        s->stats.in_flight = false;
                        record_result(s, e, now(CLOCK_MONOTONIC) - s->child_started);
                        return e;
                }
        }
        e = WIFEXITED(status) ? exit_status_to_error(CLD_EXITED, WEXITSTATUS(status)) : -EINTR;
        s->child = 0;
        s->stats.in_flight = false;
        record_result(s, e, now(CLOCK_MONOTONIC) - s->child_started);
        return e;
}

/* Write a job now, in this process. */
static int write_job_sync(StateSaver *s, Job *job) {
        char tmp[256];
        usec_t t0 = now(CLOCK_MONOTONIC);
        int r;

        r = make_temporary_name(s->name, tmp, sizeof(tmp));
        if (r >= 0)
                r = write_job_at(s->dir_fd, tmp, s->name, job);
        job_done(job);
        record_result(s, r, now(CLOCK_MONOTONIC) - t0);
        return r;
}

int state_saver_flush(StateSaver *s) {
        int r;

        r = wait_child(s);
        if (s->has_pending) {
                Job j = s->pending;
                s->pending = (Job){};
                s->has_pending = false;
                r = write_job_sync(s, &j);
        }
        return r;
}

int state_saver_save_sync(StateSaver *s, void *data, size_t len) {
        Job j = { .data = data, .len = len };

        if (!s || (!data && len > 0)) {
                free(data);
                return -EINVAL;
        }
        (void) wait_child(s);
        job_done(&s->pending);
        s->has_pending = false;
        return write_job_sync(s, &j);
}

int state_saver_save_func_sync(StateSaver *s, StateWriteFunc fn, void *userdata) {
        Job j = { .fn = fn, .userdata = userdata };

        if (!s || !fn)
                return -EINVAL;
        (void) wait_child(s);
        job_done(&s->pending);
        s->has_pending = false;
        return write_job_sync(s, &j);
}

StateSaver *state_saver_free(StateSaver *s) {
        if (!s)
                return NULL;
        (void) wait_child(s);
        job_done(&s->pending);
        safe_close(s->dir_fd);
        free(s->name);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

void state_saver_get_stats(const StateSaver *s, StateSaverStats *ret) {
        *ret = s->stats;
}

const char *state_saver_name(const StateSaver *s) {
        return s->name;
}

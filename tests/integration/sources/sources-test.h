/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Shared pieces of the metric-source integration tests: starting and stopping real peers by PID, free
 * loopback ports, bounded waits, running the event loop until a condition holds (or a deadline passes),
 * and a recorder that keeps every sample a Source emits, grouped by collection.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "source.h"

typedef struct RecSample {
        char *key; /* name{labels} canonical, as prom_format_series() writes it */
        char *metric;
        SampleType type;
        double t;
        double value;
        uint64_t collection; /* number of homeostat_source_up samples seen before this one */
} RecSample;

typedef struct Recorder {
        RecSample *v;
        size_t n, allocated;
        uint64_t collections; /* homeostat_source_up samples seen */
        uint64_t up_value_sum;
        double last_up; /* value of the latest source_up, NAN before the first */
} Recorder;

void recorder_init(Recorder *r);
void recorder_done(Recorder *r);
void recorder_reset(Recorder *r);
/* A SourceSampleCallback; userdata is a Recorder. */
void recorder_cb(Source *s, const SampleIn *in, void *userdata);
/* The latest sample whose key equals key, or NULL. */
const RecSample *recorder_last(const Recorder *r, const char *key);
/* How many samples have this key (or metric, when key has no '{' and by_metric is true). */
size_t recorder_count(const Recorder *r, const char *key);
size_t recorder_count_metric(const Recorder *r, const char *metric);
size_t recorder_count_metric_in(const Recorder *r, const char *metric, uint64_t collection);

/* Run the loop until pred(userdata) is true or timeout passes; returns pred's last value. */
bool run_until(sd_event *e, bool (*pred)(void *userdata), void *userdata, uint64_t timeout_usec);
/* Run the loop for a while regardless. */
void run_for(sd_event *e, uint64_t usec);

/* A loopback TCP port that was free a moment ago. */
int free_tcp_port(void);
/* Wait until something accepts connections on 127.0.0.1:port. */
bool wait_for_port(int port, uint64_t timeout_usec);
bool wait_for_path(const char *path, uint64_t timeout_usec);

/* Start argv[0] (searched in PATH) in its own session with stdout/stderr to log_path (or /dev/null); it
 * gets SIGTERM if the test process dies first. env: extra NAME=value strings, NULL-terminated, or NULL.
 * Returns the PID or a negative errno. */
pid_t spawn(char *const argv[], char *const env[], const char *log_path);
/* Run a program to completion (bounded wait); returns its exit status or a negative errno. */
int run_program(char *const argv[], char *const env[], uint64_t timeout_usec);
/* SIGTERM, wait up to 5 s, then SIGKILL; reaps the child. */
void stop_pid(pid_t pid);

/* A temporary directory, removed (recursively) by rmdir_rf(). */
char *make_temp_dir(void);
void rmdir_rf(const char *path);

/* Sources made by a test are tracked and freed by the per-test teardown, so that a failed assertion (which
 * leaves the test function by longjmp, skipping _cleanup_) cannot leave a source behind on the loop. */
Source *track_source(Source *s);
void free_source(Source *s); /* free one now */
int teardown_sources(void **state);

/* Bounded wait for a condition outside the loop, polling every 20 ms. */
bool wait_for(bool (*pred)(void *userdata), void *userdata, uint64_t timeout_usec);

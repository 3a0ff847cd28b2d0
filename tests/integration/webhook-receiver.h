/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The C side of webhook-receiver.py for the notifier integration tests: start it on a free 127.0.0.1
 * port, script its misbehaviour, read back what it received, stop it by PID. Also small helpers those tests
 * share: a blocking HTTP call for control requests, starting a child process, finding a free port.
 * Everything here blocks; it runs between event-loop iterations, never inside them.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

typedef struct Receiver {
        pid_t pid;
        int port;
        char dir[256]; /* temp dir holding the port file and the log */
} Receiver;

/* Start python3 receiver_script; wait (up to 30 s) until it listens. -errno on failure. */
int receiver_start(const char *python, const char *receiver_script, Receiver *ret);
/* SIGTERM to its PID, reap it, remove its temp dir. */
void receiver_stop(Receiver *r);

/* POST /_control/script with the given JSON. */
int receiver_script(const Receiver *r, const char *json);
int receiver_reset(const Receiver *r);
/* The recorded requests (a new reference to an array), only those to `path` if not NULL. */
json_t *receiver_requests(const Receiver *r, const char *path);

/* A blocking request with a 10 s timeout. *ret_body (if not NULL) gets the response body. */
int http_call(const char *method, const char *url, const char *body, long *ret_status, char **ret_body);

/* fork + exec argv with stdout/stderr to log_path; returns the PID or -errno. */
pid_t spawn_process(char *const argv[], const char *log_path);
/* SIGTERM, wait up to 10 s, then SIGKILL; reaps. */
void stop_process(pid_t pid);
/* A port on 127.0.0.1 that was free a moment ago. */
int free_tcp_port(void);
/* rm -rf for test directories. */
void remove_tree(const char *path);

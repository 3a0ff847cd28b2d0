/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Real peers for integration tests, each started by the test in its own temp dir and stopped by PID:
 * a systemd --user manager in a private mount namespace (recipes/real-peers.md), HAProxy with an admin
 * socket and two backend servers, Redis and memcached on unix sockets, and a loopback HTTP receiver
 * that records requests and can answer 200, 500, hang or reset. Everything talks over unix sockets or
 * 127.0.0.1 only.
 *
 * Start functions return -EOPNOTSUPP when the peer truly cannot run here (binary missing, unshare not
 * permitted); tests turn that into exit code 77 (skipped). Any other failure is a test failure. The
 * blocking helpers here (systemctl, a synchronous socket request) are for test setup and checks only;
 * the code under test never blocks.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "macro.h"
#include "time-util.h"

#define PEER_SKIP 77
#define _sentinel_ __attribute__((sentinel))

/* Poll cond(userdata) every 20 ms until it is true or timeout passes. Returns whether it became true. */
bool peer_wait_until(bool (*cond)(void *userdata), void *userdata, usec_t timeout_usec);

/* A fresh directory under /tmp, removed (recursively) by peer_rm_rf(). */
int peer_mkdtemp(const char *prefix, char **ret);
int peer_rm_rf(const char *path);

/* Run argv (absolute path) with extra environment entries ("K=V", NULL-terminated, may be NULL),
 * capturing stdout (if ret_out) and waiting at most 15 s (then SIGKILL). Returns the exit status (>= 0)
 * or a negative errno. */
int peer_run(char *const argv[], char *const env_extra[], char **ret_out);

/* A free TCP port on 127.0.0.1 (bind to 0 and read it back). */
int peer_free_port(unsigned *ret);

/* Send request over a unix socket (or to 127.0.0.1:port when path is NULL), read until EOF or until
 * the reply contains terminator (if not NULL); blocking, 5 s timeout. */
int peer_socket_request(
        const char *path, unsigned port, const char *request, const char *terminator, char **ret_reply);

/* A listening unix socket that never accepts or answers: a hung peer. */
int peer_listen_unix(const char *path, int *ret_fd);

/* ---- systemd --user ---- */

typedef struct PeerSystemd {
        char *dir;
        char *runtime_dir; /* XDG_RUNTIME_DIR of the manager */
        char *home;
        char *unit_dir; /* $HOME/.config/systemd/user */
        pid_t pid;
} PeerSystemd;

int peer_systemd_start(PeerSystemd **ret);
PeerSystemd *peer_systemd_stop(PeerSystemd *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(PeerSystemd *, peer_systemd_stop);
/* A bus connection to the manager: its private socket (a direct connection), or through the user bus
 * (dbus-daemon, socket-activated by the manager) when via_broker. Not yet attached to any event loop. */
int peer_systemd_bus(PeerSystemd *p, bool via_broker, sd_bus **ret);
/* Write a unit file and daemon-reload. */
int peer_systemd_write_unit(PeerSystemd *p, const char *name, const char *contents);
/* systemctl --user ARGS... against this manager; returns the exit status. */
int peer_systemctl(PeerSystemd *p, char **ret_out, const char *arg, ...) _sentinel_;
/* The value of one property (systemctl show -p NAME --value). */
int peer_systemd_show(PeerSystemd *p, const char *unit, const char *property, char **ret);
/* systemd-run --user --unit=UNIT [--property=P ...] -- argv...; props and argv NULL-terminated. */
int peer_systemd_run(PeerSystemd *p, const char *unit, char *const props[], char *const argv[]);

/* ---- HAProxy ---- */

typedef struct PeerHaproxy {
        char *dir;
        char *admin_socket;  /* unix socket, level admin */
        unsigned admin_port; /* the same API on 127.0.0.1 */
        pid_t pid;
} PeerHaproxy;

/* Backend "api" with servers web1 (weight 10) and web2 (weight 1). */
int peer_haproxy_start(PeerHaproxy **ret);
PeerHaproxy *peer_haproxy_stop(PeerHaproxy *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(PeerHaproxy *, peer_haproxy_stop);
/* srv_admin_state and srv_uweight of backend/server from `show servers state`. */
int peer_haproxy_server(
        PeerHaproxy *p, const char *backend, const char *server, unsigned *ret_admin, unsigned *ret_weight);

/* ---- Redis ---- */

typedef struct PeerRedis {
        char *dir;
        char *socket;
        unsigned port; /* also listening on 127.0.0.1:port */
        pid_t pid;
} PeerRedis;

int peer_redis_start(PeerRedis **ret);
PeerRedis *peer_redis_stop(PeerRedis *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(PeerRedis *, peer_redis_stop);

/* ---- memcached ---- */

typedef struct PeerMemcached {
        char *dir;
        char *socket;
        pid_t pid;
} PeerMemcached;

int peer_memcached_start(PeerMemcached **ret);
PeerMemcached *peer_memcached_stop(PeerMemcached *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(PeerMemcached *, peer_memcached_stop);

/* ---- HTTP receiver ---- */

/* Paths: /ok -> 200 "ok", /fail -> 500 "boom: internal error", /echo -> 400 quoting the request (its
 * body, then its request line and headers), /hang -> never answers, /reset -> the connection is reset
 * (RST) after the request is read, anything else -> 404. Every request is appended
 * to log_path as "METHOD TARGET\n<header lines>\n\n<body>\n--\n". */
typedef struct PeerHttp {
        char *dir;
        char *log_path;
        unsigned port;
        pid_t pid;
} PeerHttp;

int peer_http_start(PeerHttp **ret);
PeerHttp *peer_http_stop(PeerHttp *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(PeerHttp *, peer_http_stop);
/* The request log so far ("" if none). */
int peer_http_log(PeerHttp *p, char **ret);

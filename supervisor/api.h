/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * homeostatd's HTTP API server: libmicrohttpd driven by the sd-event loop (no thread of its own), serving a
 * table of routes on one or more listeners.
 *
 *  - The unix socket listener (--api unix:PATH) serves every route. Requests that change something (any
 *    method but GET/HEAD) are accepted only from root or members of the write group (group `homeostat`),
 *    checked with SO_PEERCRED/SO_PEERGROUPS on the connection; others get 403. The socket itself is mode
 *    0666 so that anyone on the host can read the status.
 *  - A TCP listener (--metrics-listen HOST:PORT) serves only the read-only routes (GET/HEAD); anything else
 *    gets 403 there, whoever asks.
 *
 * Routes are registered with api_add_route(): an exact path ("/api/v1/status") or a prefix
 * ("/api/v1/incidents/", handler sees the rest in req->subpath). Dispatch answers 404 for an unknown path,
 * 405 (with Allow:) for a known path with another method, 413 for a body over API_BODY_MAX, and 500 when a
 * handler fails; errors are JSON objects {"error": "..."}. Handlers run on the event loop and must not
 * block; they fill an ApiResponse synchronously.
 *
 * The incident layer adds its routes (GET /api/v1/incidents, GET /api/v1/incidents/ID, POST
 * /api/v1/silences) with api_add_route() on the Api returned by manager_get_api(); no dispatch code needs
 * editing.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "macro.h"

#define API_BODY_MAX (64U * 1024U)
#define API_CONNECTIONS_MAX 64U
#define API_CONNECTION_TIMEOUT_SEC 30U
/* Where homeostatctl and homeostatd look by default (systemd's RuntimeDirectory=homeostat). */
#define API_DEFAULT_SOCKET "/run/homeostat/api.sock"

typedef struct Api Api;

typedef struct ApiRequest {
        const char *method;  /* "GET", "POST", ... (HEAD is dispatched as GET) */
        const char *path;    /* URL path, without the query string */
        const char *subpath; /* prefix routes: what follows the prefix; "" for exact routes */
        const char *body;    /* NUL-terminated request body ("" when none) */
        size_t body_size;
        bool over_tcp;    /* came in on the --metrics-listen listener */
        bool privileged;  /* unix socket peer is root or in the write group */
        uid_t peer_uid;   /* unix socket only; (uid_t) -1 otherwise */
        pid_t peer_pid;   /* unix socket only; 0 otherwise */
        void *connection; /* struct MHD_Connection *, for api_request_query() */
} ApiRequest;

typedef struct ApiResponse {
        unsigned status;          /* HTTP status; 200 if the handler leaves it 0 */
        const char *content_type; /* static string; "application/json" if NULL */
        char *body;               /* malloc'ed, owned by the response */
        size_t body_size;
} ApiResponse;

/* Handlers return 0 (the response is filled in) or a negative errno (the server answers 500). */
typedef int (*ApiHandler)(const ApiRequest *req, ApiResponse *resp, void *userdata);

typedef enum ApiRouteFlags {
        API_ROUTE_PREFIX = 1 << 0,    /* path is a prefix ending in '/'; the rest goes to req->subpath */
        API_ROUTE_UNIX_ONLY = 1 << 1, /* a read-only route not served over TCP either */
} ApiRouteFlags;

int api_new(sd_event *event, Api **ret);
Api *api_free(Api *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(Api *, api_free);

/* Group whose members may write over the unix socket (besides root); (gid_t) -1: root only. */
void api_set_write_group(Api *a, gid_t gid);

/* Register a handler for method + path. Adding a path/method pair twice is -EEXIST. Routes may be added
 * before or after listeners start. */
int api_add_route(
        Api *a, const char *method, const char *path, unsigned flags, ApiHandler handler, void *userdata);

/* Prepare a unix socket path for binding: -ENOENT/0 if nothing is there, 0 after removing a stale socket
 * (nobody accepts connections on it), -EADDRINUSE if something is listening on it (another homeostatd),
 * -EEXIST if the path exists and is not a socket (never removed). */
int api_unix_socket_prepare(const char *path);

/* Listen on a unix socket at path (replacing a stale one, see api_unix_socket_prepare()), mode 0666. The
 * socket file is removed when the Api is freed, if it is still ours. */
int api_listen_unix(Api *a, const char *path);

/* Listen on TCP HOST:PORT (numeric IPv4, [IPv6] or a name resolving to loopback/any; port 0 picks one),
 * read-only routes only. */
int api_listen_tcp(Api *a, const char *host_port);

/* The port a TCP listener got (for port 0), or 0. */
unsigned api_tcp_port(const Api *a);

/* Query-string lookup for a handler ("?limit=10"); NULL when absent. */
const char *api_request_query(const ApiRequest *req, const char *key);

/* Response helpers. They take ownership of what they are given even on failure, and return 0 or -ENOMEM. */
int api_reply_json(ApiResponse *resp, unsigned status, json_t *j);
int api_reply_error(ApiResponse *resp, unsigned status, const char *fmt, ...) _printf_(3, 4);
int api_reply_text(ApiResponse *resp, unsigned status, const char *content_type, char *body, size_t size);

/* Counters for /metrics. */
typedef struct ApiStats {
        uint64_t requests;
        uint64_t errors_4xx;
        uint64_t errors_5xx;
        uint64_t refused_writes; /* 403 on a write */
} ApiStats;
void api_get_stats(const Api *a, ApiStats *ret);

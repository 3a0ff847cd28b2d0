/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The HTTP API server: libmicrohttpd in "external epoll" mode on sd-event, a route table, and the write
 * authorization on the unix socket. See api.h for what it promises.
 *
 * How MHD runs on our loop: each listener's MHD daemon is started with MHD_USE_EPOLL and no internal
 * thread, on a socket we created and bound ourselves (MHD_OPTION_LISTEN_SOCKET). MHD's own epoll fd
 * (MHD_DAEMON_INFO_EPOLL_FD) becomes readable whenever any of its sockets has work; we watch it with an
 * sd-event IO source, call MHD_run() on every wake-up and then re-arm a one-shot timer from
 * MHD_get_timeout(), which is also how MHD tells us that it has buffered work left (timeout 0) and how
 * idle connections time out.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <sys/epoll.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "api.h"
#include "log.h"
#include "strbuf.h"
#include "time-util.h"
#include "util.h"

typedef struct Route {
        char *method;
        char *path;
        size_t path_len;
        unsigned flags;
        ApiHandler handler;
        void *userdata;
} Route;

typedef struct Listener {
        Api *api;
        struct MHD_Daemon *mhd;
        sd_event_source *io;
        sd_event_source *timer;
        bool tcp;
        char *unix_path; /* removed at free if it is still our socket */
        dev_t unix_dev;
        ino_t unix_ino;
        unsigned port;
} Listener;

#define API_LISTENERS_MAX 4
#define API_BODY_DRAIN_MAX (1024U * 1024U)

struct Api {
        sd_event *event;
        Route *routes;
        size_t n_routes, alloc_routes;
        Listener *listeners[API_LISTENERS_MAX];
        size_t n_listeners;
        gid_t write_gid;
        ApiStats stats;
};

/* Per-request state kept by MHD between calls of the access handler. */
typedef struct Request {
        StrBuf body;
        bool too_big;
        bool responded;
} Request;

int api_new(sd_event *event, Api **ret) {
        Api *a;

        if (!event || !ret)
                return -EINVAL;
        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->event = sd_event_ref(event);
        a->write_gid = (gid_t) -1;
        *ret = a;
        return 0;
}

static Listener *listener_free(Listener *l) {
        if (!l)
                return NULL;
        l->io = sd_event_source_disable_unref(l->io);
        l->timer = sd_event_source_disable_unref(l->timer);
        if (l->mhd)
                MHD_stop_daemon(l->mhd);
        if (l->unix_path) {
                struct stat st;
                /* Only remove the socket file if nobody replaced it meanwhile. */
                if (lstat(l->unix_path, &st) >= 0 && S_ISSOCK(st.st_mode) && st.st_dev == l->unix_dev &&
                    st.st_ino == l->unix_ino)
                        (void) unlink(l->unix_path);
                free(l->unix_path);
        }
        free(l);
        return NULL;
}

Api *api_free(Api *a) {
        if (!a)
                return NULL;
        for (size_t i = 0; i < a->n_listeners; i++)
                listener_free(a->listeners[i]);
        for (size_t i = 0; i < a->n_routes; i++) {
                free(a->routes[i].method);
                free(a->routes[i].path);
        }
        free(a->routes);
        sd_event_unref(a->event);
        free(a);
        return NULL;
}

void api_set_write_group(Api *a, gid_t gid) {
        a->write_gid = gid;
}

int api_add_route(
        Api *a, const char *method, const char *path, unsigned flags, ApiHandler handler, void *userdata) {
        Route *r;

        if (!a || !method || !path || path[0] != '/' || !handler)
                return -EINVAL;
        if ((flags & API_ROUTE_PREFIX) && !endswith(path, "/"))
                return -EINVAL;
        for (size_t i = 0; i < a->n_routes; i++)
                if (streq(a->routes[i].method, method) && streq(a->routes[i].path, path) &&
                    (a->routes[i].flags & API_ROUTE_PREFIX) == (flags & API_ROUTE_PREFIX))
                        return -EEXIST;
        if (GREEDY_REALLOC(a->routes, a->alloc_routes, a->n_routes + 1) < 0)
                return -ENOMEM;
        r = &a->routes[a->n_routes];
        *r = (Route){ .flags = flags, .handler = handler, .userdata = userdata };
        r->method = strdup(method);
        r->path = strdup(path);
        if (!r->method || !r->path) {
                free(r->method);
                free(r->path);
                return -ENOMEM;
        }
        r->path_len = strlen(path);
        a->n_routes++;
        return 0;
}

/* ---- responses ---- */

int api_reply_text(ApiResponse *resp, unsigned status, const char *content_type, char *body, size_t size) {
        free(resp->body);
        resp->status = status;
        resp->content_type = content_type;
        resp->body = body;
        resp->body_size = body ? size : 0;
        return 0;
}

int api_reply_json(ApiResponse *resp, unsigned status, json_t *j) {
        char *s;

        if (!j)
                return -ENOMEM;
        s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
        json_decref(j);
        if (!s)
                return -ENOMEM;
        /* a trailing newline makes curl output and `homeostatctl --json` friendlier */
        size_t n = strlen(s);
        char *t = realloc(s, n + 2);
        if (!t) {
                free(s);
                return -ENOMEM;
        }
        t[n] = '\n';
        t[n + 1] = 0;
        return api_reply_text(resp, status, "application/json", t, n + 1);
}

int api_reply_error(ApiResponse *resp, unsigned status, const char *fmt, ...) {
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return api_reply_json(resp, status, json_pack("{s:s}", "error", msg));
}

const char *api_request_query(const ApiRequest *req, const char *key) {
        if (!req->connection)
                return NULL;
        return MHD_lookup_connection_value(req->connection, MHD_GET_ARGUMENT_KIND, key);
}

void api_get_stats(const Api *a, ApiStats *ret) {
        *ret = a->stats;
}

static enum MHD_Result
        queue(Listener *l, struct MHD_Connection *c, Request *rq, ApiResponse *resp, const char *allow) {
        struct MHD_Response *r;
        enum MHD_Result ret;
        unsigned status = resp->status ?: 200;

        if (resp->body)
                r = MHD_create_response_from_buffer_with_free_callback(resp->body_size, resp->body, free);
        else
                r = MHD_create_response_from_buffer(0, (void *) "", MHD_RESPMEM_PERSISTENT);
        if (!r) {
                free(resp->body);
                resp->body = NULL;
                return MHD_NO;
        }
        resp->body = NULL; /* owned by MHD now */
        (void) MHD_add_response_header(
                r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type ?: "application/json");
        (void) MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        (void) MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
        if (allow)
                (void) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
        ret = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        rq->responded = true;

        l->api->stats.requests++;
        if (status >= 400 && status < 500)
                l->api->stats.errors_4xx++;
        else if (status >= 500)
                l->api->stats.errors_5xx++;
        return ret;
}

static enum MHD_Result queue_error(
        Listener *l, struct MHD_Connection *c, Request *rq, unsigned status, const char *allow, const char *fmt, ...)
        _printf_(6, 7);
static enum MHD_Result queue_error(
        Listener *l,
        struct MHD_Connection *c,
        Request *rq,
        unsigned status,
        const char *allow,
        const char *fmt,
        ...) {
        ApiResponse resp = {};
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (api_reply_json(&resp, status, json_pack("{s:s}", "error", msg)) < 0)
                return MHD_NO;
        return queue(l, c, rq, &resp, allow);
}

/* Who is on the other end of a unix connection, and may they write? */
static void peer_credentials(Listener *l, struct MHD_Connection *c, ApiRequest *req) {
        const union MHD_ConnectionInfo *ci;
        struct ucred uc;
        socklen_t len = sizeof(uc);
        gid_t groups[256];
        int fd;

        req->peer_uid = (uid_t) -1;
        req->peer_pid = 0;
        req->privileged = false;
        ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!ci)
                return;
        fd = ci->connect_fd;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0 || len != sizeof(uc))
                return;
        req->peer_uid = uc.uid;
        req->peer_pid = uc.pid;
        if (uc.uid == 0) {
                req->privileged = true;
                return;
        }
        if (l->api->write_gid == (gid_t) -1)
                return;
        if (uc.gid == l->api->write_gid) {
                req->privileged = true;
                return;
        }
        len = sizeof(groups);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
                return; /* more than 256 groups: not privileged, rather than guess */
        for (size_t i = 0; i < len / sizeof(gid_t); i++)
                if (groups[i] == l->api->write_gid) {
                        req->privileged = true;
                        return;
                }
}

/* Find the route for path+method. Exact routes win over prefix routes, longer prefixes over shorter ones.
 * Without a method match, *ret_allow lists the methods the path does have (for 405). */
static const Route *find_route(Api *a, const char *path, const char *method, StrBuf *allow) {
        const Route *best = NULL;
        bool exact_path = false;
        size_t best_len = 0;

        /* Does any exact route have this path? Then prefix routes do not apply. */
        for (size_t i = 0; i < a->n_routes; i++)
                if (!(a->routes[i].flags & API_ROUTE_PREFIX) && streq(a->routes[i].path, path))
                        exact_path = true;

        for (size_t i = 0; i < a->n_routes; i++) {
                const Route *r = &a->routes[i];
                bool match;

                if (r->flags & API_ROUTE_PREFIX)
                        match = !exact_path && strneq(path, r->path, r->path_len);
                else
                        match = streq(path, r->path);
                if (!match)
                        continue;
                if (!streq(r->method, method)) {
                        if (!strstr(strbuf_str(allow), r->method)) {
                                if (allow->len > 0)
                                        (void) strbuf_puts(allow, ", ");
                                (void) strbuf_puts(allow, r->method);
                        }
                        continue;
                }
                if (!best || r->path_len > best_len) {
                        best = r;
                        best_len = r->path_len;
                }
        }
        return best;
}

static bool method_is_read(const char *m) {
        return streq(m, "GET") || streq(m, "HEAD");
}

/* Why: the single place where a complete request becomes a response: routing, the TCP/unix and
 * privilege policy, the handler call, and turning handler failures into 500s. */
static enum MHD_Result
        dispatch(Listener *l, struct MHD_Connection *c, Request *rq, const char *url, const char *method) {
        _cleanup_strbuf_ StrBuf allow = STRBUF_INIT;
        const char *eff_method = streq(method, "HEAD") ? "GET" : method;
        ApiRequest req = {
                .method = eff_method,
                .path = url,
                .body = strbuf_str(&rq->body),
                .body_size = rq->body.len,
                .over_tcp = l->tcp,
                .peer_uid = (uid_t) -1,
                .connection = c,
        };
        ApiResponse resp = {};
        const Route *r;
        int k;

        r = find_route(l->api, url, eff_method, &allow);
        if (!r) {
                if (allow.len > 0) {
                        if (strstr(strbuf_str(&allow), "GET"))
                                (void) strbuf_puts(&allow, ", HEAD");
                        return queue_error(
                                l, c, rq, 405, strbuf_str(&allow), "method %s not allowed for %s", method, url);
                }
                return queue_error(l, c, rq, 404, NULL, "no such resource: %s", url);
        }
        if (l->tcp && (!method_is_read(eff_method) || (r->flags & API_ROUTE_UNIX_ONLY))) {
                l->api->stats.refused_writes++;
                return queue_error(
                        l, c, rq, 403, NULL, "%s %s is only served on homeostatd's unix socket", method, url);
        }
        if (!l->tcp)
                peer_credentials(l, c, &req);
        if (!method_is_read(eff_method) && !req.privileged) {
                l->api->stats.refused_writes++;
                return queue_error(
                        l,
                        c,
                        rq,
                        403,
                        NULL,
                        "permission denied: %s %s needs root or membership in group homeostat "
                        "(peer uid %d)",
                        method,
                        url,
                        (int) req.peer_uid);
        }
        req.subpath = (r->flags & API_ROUTE_PREFIX) ? url + r->path_len : "";

        k = r->handler(&req, &resp, r->userdata);
        if (k < 0) {
                free(resp.body);
                log_debug_errno(k, "API handler for %s %s failed: %m", method, url);
                return queue_error(l, c, rq, 500, NULL, "internal error: %s", strerror(-k));
        }
        return queue(l, c, rq, &resp, NULL);
}

static enum MHD_Result on_access(
        void *cls,
        struct MHD_Connection *c,
        const char *url,
        const char *method,
        const char *version,
        const char *upload_data,
        size_t *upload_data_size,
        void **req_cls) {
        Listener *l = cls;
        Request *rq = *req_cls;

        if (!rq) {
                const char *cl;
                uint64_t v;

                rq = calloc(1, sizeof(*rq));
                if (!rq)
                        return MHD_NO;
                *req_cls = rq;
                /* A declared oversized body: up to API_BODY_DRAIN_MAX it is read and discarded, so that the
                 * 413 reaches a client that is still sending (closing a socket with unread input resets the
                 * connection and the client never sees the answer); beyond that we answer at once. */
                cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
                if (cl && (safe_atou64(cl, &v) < 0 || v > API_BODY_DRAIN_MAX))
                        return queue_error(
                                l, c, rq, 413, NULL, "request body larger than %u bytes", API_BODY_MAX);
                if (cl && v > API_BODY_MAX)
                        rq->too_big = true;
                return MHD_YES;
        }
        if (rq->responded) {
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (*upload_data_size > 0) {
                /* A chunked body can only be judged while it arrives: keep reading (and discarding) it and
                 * answer 413 at the end, with memory bounded by API_BODY_MAX. */
                if (!rq->too_big) {
                        if (rq->body.len + *upload_data_size > API_BODY_MAX) {
                                rq->too_big = true;
                                strbuf_done(&rq->body);
                        } else if (strbuf_append(&rq->body, upload_data, *upload_data_size) < 0)
                                return MHD_NO;
                }
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (rq->too_big)
                return queue_error(l, c, rq, 413, NULL, "request body larger than %u bytes", API_BODY_MAX);
        return dispatch(l, c, rq, url, method);
}

static void on_completed(
        void *cls, struct MHD_Connection *c, void **req_cls, enum MHD_RequestTerminationCode toe) {
        Request *rq = *req_cls;

        if (!rq)
                return;
        strbuf_done(&rq->body);
        free(rq);
        *req_cls = NULL;
}

_printf_(2, 0) static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        char buf[512];

        if (log_get_max_level() < LOG_DEBUG)
                return;
        (void) vsnprintf(buf, sizeof(buf), fmt, ap);
        buf[strcspn(buf, "\n")] = 0;
        log_debug("microhttpd: %s", buf);
}

/* ---- the loop glue ---- */

static void listener_run(Listener *l) {
        MHD_UNSIGNED_LONG_LONG timeout_ms = 0;

        (void) MHD_run(l->mhd);
        if (MHD_get_timeout(l->mhd, &timeout_ms) == MHD_YES) {
                usec_t when = now(CLOCK_MONOTONIC) +
                        (usec_t) MIN(timeout_ms, (MHD_UNSIGNED_LONG_LONG) 3600000) * USEC_PER_MSEC;
                if (sd_event_source_set_time(l->timer, when) >= 0)
                        (void) sd_event_source_set_enabled(l->timer, SD_EVENT_ONESHOT);
        } else
                (void) sd_event_source_set_enabled(l->timer, SD_EVENT_OFF);
}

static int on_mhd_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        listener_run(userdata);
        return 0;
}

static int on_mhd_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        listener_run(userdata);
        return 0;
}

/* Start MHD on an already listening socket and hook it into the loop. Takes ownership of fd. */
static int listener_start(Api *a, int fd, bool tcp, Listener **ret) {
        const union MHD_DaemonInfo *di;
        Listener *l;
        int r;

        if (a->n_listeners >= API_LISTENERS_MAX) {
                safe_close(fd);
                return -ENOSPC;
        }
        l = calloc(1, sizeof(*l));
        if (!l) {
                safe_close(fd);
                return -ENOMEM;
        }
        l->api = a;
        l->tcp = tcp;
        l->mhd = MHD_start_daemon(
                MHD_USE_EPOLL | MHD_USE_ERROR_LOG,
                0,
                NULL,
                NULL,
                on_access,
                l,
                MHD_OPTION_EXTERNAL_LOGGER,
                on_mhd_log,
                l,
                MHD_OPTION_LISTEN_SOCKET,
                fd,
                MHD_OPTION_NOTIFY_COMPLETED,
                on_completed,
                l,
                MHD_OPTION_CONNECTION_LIMIT,
                (unsigned) API_CONNECTIONS_MAX,
                MHD_OPTION_CONNECTION_TIMEOUT,
                (unsigned) API_CONNECTION_TIMEOUT_SEC,
                MHD_OPTION_END);
        if (!l->mhd) {
                /* MHD may or may not have closed fd on this path; leaking it once at start-up is safer
                 * than a double close. */
                free(l);
                return -EIO;
        }
        di = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        if (!di) {
                r = -EIO;
                goto fail;
        }
        r = sd_event_add_io(a->event, &l->io, di->epoll_fd, EPOLLIN, on_mhd_io, l);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(l->io, tcp ? "api-tcp" : "api-unix");
        /* accuracy 1 µs: MHD_get_timeout() == 0 means "run me again now", not within the default 250 ms */
        r = sd_event_add_time(a->event, &l->timer, CLOCK_MONOTONIC, 0, 1, on_mhd_timer, l);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_enabled(l->timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(l->timer, "api-timer");

        a->listeners[a->n_listeners++] = l;
        if (ret)
                *ret = l;
        return 0;
fail:
        listener_free(l);
        return r;
}

int api_unix_socket_prepare(const char *path) {
        union {
                struct sockaddr sa;
                struct sockaddr_un un;
        } sa = { .un.sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (strlen(path) >= sizeof(sa.un.sun_path))
                return -ENAMETOOLONG;
        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISSOCK(st.st_mode))
                return -EEXIST;

        memcpy(sa.un.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, &sa.sa, sizeof(sa.un)) >= 0)
                return -EADDRINUSE;
        if (errno != ECONNREFUSED)
                return -errno;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

int api_listen_unix(Api *a, const char *path) {
        union {
                struct sockaddr sa;
                struct sockaddr_un un;
        } sa = { .un.sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        Listener *l = NULL;
        struct stat st;
        int r;

        if (!a || !path || path[0] == 0)
                return -EINVAL;
        r = api_unix_socket_prepare(path);
        if (r < 0)
                return r;

        memcpy(sa.un.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, &sa.sa, sizeof(sa.un)) < 0)
                return -errno;
        /* Everyone may connect and read; writes are checked per request with SO_PEERCRED. */
        if (chmod(path, 0666) < 0 || lstat(path, &st) < 0) {
                r = -errno;
                (void) unlink(path);
                return r;
        }
        if (listen(fd, SOMAXCONN) < 0) {
                r = -errno;
                (void) unlink(path);
                return r;
        }
        r = listener_start(a, TAKE_FD(fd), false, &l);
        if (r < 0) {
                (void) unlink(path);
                return r;
        }
        l->unix_path = strdup(path);
        l->unix_dev = st.st_dev;
        l->unix_ino = st.st_ino;
        return 0;
}

/* Split "HOST:PORT", "[V6]:PORT" into host and port strings. */
static int split_host_port(const char *s, char *host, size_t host_size, char *port, size_t port_size) {
        const char *colon, *h = s;
        size_t hl;

        if (s[0] == '[') {
                const char *close = strchr(s, ']');
                if (!close || close[1] != ':')
                        return -EINVAL;
                h = s + 1;
                hl = (size_t) (close - h);
                colon = close + 1;
        } else {
                colon = strrchr(s, ':');
                if (!colon)
                        return -EINVAL;
                hl = (size_t) (colon - s);
                if (memchr(s, ':', hl))
                        return -EINVAL; /* an unbracketed IPv6 address */
        }
        if (hl == 0 || hl >= host_size || strlen(colon + 1) == 0 || strlen(colon + 1) >= port_size)
                return -EINVAL;
        memcpy(host, h, hl);
        host[hl] = 0;
        memcpy(port, colon + 1, strlen(colon + 1) + 1);
        for (const char *p = port; *p; p++)
                if (*p < '0' || *p > '9')
                        return -EINVAL;
        return 0;
}

int api_listen_tcp(Api *a, const char *host_port) {
        struct addrinfo hints = {
                .ai_socktype = SOCK_STREAM,
                .ai_flags = AI_NUMERICSERV | AI_PASSIVE,
        };
        struct addrinfo *res = NULL;
        char host[256], port[16];
        _cleanup_close_ int fd = -EBADF;
        Listener *l = NULL;
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
                struct sockaddr_storage ss;
        } bound;
        socklen_t blen = sizeof(bound);
        uint64_t pn;
        int r, one = 1;

        if (!a || !host_port)
                return -EINVAL;
        r = split_host_port(host_port, host, sizeof(host), port, sizeof(port));
        if (r < 0)
                return r;
        if (safe_atou64(port, &pn) < 0 || pn > 65535)
                return -EINVAL;
        r = getaddrinfo(host, port, &hints, &res);
        if (r != 0)
                return r == EAI_SYSTEM ? -errno : -EADDRNOTAVAIL;

        fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
                r = -errno;
                goto out;
        }
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (res->ai_family == AF_INET6)
                (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
                r = -errno;
                goto out;
        }
        if (getsockname(fd, &bound.sa, &blen) < 0) {
                r = -errno;
                goto out;
        }
        r = listener_start(a, TAKE_FD(fd), true, &l);
        if (r < 0)
                goto out;
        l->port = ntohs(bound.sa.sa_family == AF_INET6 ? bound.in6.sin6_port : bound.in.sin_port);
        r = 0;
out:
        freeaddrinfo(res);
        return r;
}

unsigned api_tcp_port(const Api *a) {
        for (size_t i = 0; i < a->n_listeners; i++)
                if (a->listeners[i]->tcp)
                        return a->listeners[i]->port;
        return 0;
}

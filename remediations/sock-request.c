/* SPDX-License-Identifier: GPL-3.0-or-later */
/* One request and its reply over a non-blocking stream socket on sd-event; see sock-request.h. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include "sock-request.h"
#include "strbuf.h"
#include "util.h"

typedef enum SockPhase {
        SOCK_CONNECTING,
        SOCK_WRITING,
        SOCK_READING,
} SockPhase;

struct SockRequest {
        int fd;
        sd_event_source *io;
        SockPhase phase;
        SockReplyEnd end;
        char *request;
        size_t request_len, written;
        StrBuf reply;
        size_t max_reply;
        SockRequestCallback cb;
        void *userdata;
};

static int parse_port(const char *s, unsigned *ret) {
        uint64_t v;

        if (safe_atou64(s, &v) < 0 || v == 0 || v > 65535)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

int sock_address_parse(const char *socket_path, const char *address, SockAddress *ret, const char **ret_error) {
        SockAddress a = {};
        const char *err = NULL;

        if (!!socket_path == !!address) {
                err = "exactly one of socket and address is needed";
                goto fail;
        }
        if (socket_path) {
                size_t l = strlen(socket_path);
                if (socket_path[0] != '/') {
                        err = "the socket path must be absolute";
                        goto fail;
                }
                if (l >= sizeof(a.un.sun_path) || l >= sizeof(a.display)) {
                        err = "the socket path is too long for a unix socket";
                        goto fail;
                }
                a.un.sun_family = AF_UNIX;
                memcpy(a.un.sun_path, socket_path, l + 1);
                a.len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + l + 1);
                memcpy(a.display, socket_path, l + 1);
                *ret = a;
                return 0;
        }

        const char *colon, *host_start;
        size_t host_len;
        if (address[0] == '[') {
                const char *close = strchr(address, ']');
                if (!close || close[1] != ':') {
                        err = "an IPv6 address is written [addr]:port";
                        goto fail;
                }
                host_start = address + 1;
                host_len = (size_t) (close - host_start);
                colon = close + 1;
        } else {
                colon = strrchr(address, ':');
                if (!colon) {
                        err = "the address needs a port (host:port)";
                        goto fail;
                }
                host_start = address;
                host_len = (size_t) (colon - address);
                if (memchr(address, ':', host_len)) {
                        err = "an IPv6 address is written [addr]:port";
                        goto fail;
                }
        }
        if (host_len == 0 || host_len >= sizeof(a.host)) {
                err = "the address has no valid host part";
                goto fail;
        }
        memcpy(a.host, host_start, host_len);
        a.host[host_len] = 0;
        if (parse_port(colon + 1, &a.port) < 0) {
                err = "the port must be a number from 1 to 65535";
                goto fail;
        }
        if (inet_pton(AF_INET, a.host, &a.in.sin_addr) == 1) {
                a.in.sin_family = AF_INET;
                a.in.sin_port = htons((uint16_t) a.port);
                a.len = sizeof(a.in);
                (void) snprintf(a.display, sizeof(a.display), "%s:%u", a.host, a.port);
        } else if (inet_pton(AF_INET6, a.host, &a.in6.sin6_addr) == 1) {
                a.in6.sin6_family = AF_INET6;
                a.in6.sin6_port = htons((uint16_t) a.port);
                a.len = sizeof(a.in6);
                (void) snprintf(a.display, sizeof(a.display), "[%s]:%u", a.host, a.port);
        } else {
                err = "the host must be a numeric IP address (names would need a blocking lookup)";
                goto fail;
        }
        *ret = a;
        return 0;
fail:
        if (ret_error)
                *ret_error = err;
        return -EINVAL;
}

SockRequest *sock_request_free(SockRequest *q) {
        if (!q)
                return NULL;
        sd_event_source_disable_unref(q->io);
        safe_close(q->fd);
        free(q->request);
        strbuf_done(&q->reply);
        free(q);
        return NULL;
}

/* Hand the outcome to the owner. The callback may free q, so nothing touches q afterwards. */
static void complete(SockRequest *q, int error) {
        (void) sd_event_source_set_enabled(q->io, SD_EVENT_OFF);
        q->cb(q, error, strbuf_str(&q->reply), q->reply.len, q->userdata);
}

static bool reply_complete(const SockRequest *q) {
        return q->end == SOCK_REPLY_LINE && q->reply.len > 0 && memchr(q->reply.data, '\n', q->reply.len);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        SockRequest *q = userdata;
        ssize_t n;

        if (q->phase == SOCK_CONNECTING) {
                int err = 0;
                socklen_t l = sizeof(err);
                if (getsockopt(q->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
                        err = errno;
                if (err != 0) {
                        complete(q, -err);
                        return 0;
                }
                q->phase = SOCK_WRITING;
        }

        if (q->phase == SOCK_WRITING) {
                n = send(q->fd, q->request + q->written, q->request_len - q->written, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        complete(q, -errno);
                        return 0;
                }
                q->written += (size_t) n;
                if (q->written < q->request_len)
                        return 0;
                q->phase = SOCK_READING;
                if (sd_event_source_set_io_events(q->io, EPOLLIN) < 0)
                        complete(q, -EIO);
                return 0;
        }

        for (;;) {
                char buf[4096];
                n = recv(q->fd, buf, sizeof(buf), 0);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        complete(q, -errno);
                        return 0;
                }
                if (n == 0) {
                        /* A line-oriented peer that hangs up before finishing its line broke protocol. */
                        complete(q, q->end == SOCK_REPLY_LINE ? -EPROTO : 0);
                        return 0;
                }
                if (q->reply.len + (size_t) n > q->max_reply) {
                        complete(q, -EMSGSIZE);
                        return 0;
                }
                if (strbuf_append(&q->reply, buf, (size_t) n) < 0) {
                        complete(q, -ENOMEM);
                        return 0;
                }
                if (reply_complete(q)) {
                        complete(q, 0);
                        return 0;
                }
        }
}

int sock_request_start(
        sd_event *e,
        const SockAddress *addr,
        const char *request,
        SockReplyEnd end,
        size_t max_reply,
        SockRequestCallback cb,
        void *userdata,
        SockRequest **ret) {
        _cleanup_(sock_request_freep) SockRequest *q = NULL;
        int r;

        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->fd = -EBADF;
        q->end = end;
        q->max_reply = max_reply;
        q->cb = cb;
        q->userdata = userdata;
        q->request = strdup(request);
        if (!q->request)
                return -ENOMEM;
        q->request_len = strlen(request);

        q->fd = socket(addr->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (q->fd < 0)
                return -errno;
        if (connect(q->fd, &addr->sa, addr->len) < 0) {
                if (errno != EINPROGRESS)
                        return -errno;
                q->phase = SOCK_CONNECTING;
        } else
                q->phase = SOCK_WRITING;

        r = sd_event_add_io(e, &q->io, q->fd, EPOLLOUT, on_io, q);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(q->io, "remediation-socket");
        *ret = TAKE_PTR(q);
        return 0;
}

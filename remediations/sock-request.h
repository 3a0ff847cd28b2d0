/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * One request, one reply over a stream socket on the sd-event loop: connect (unix socket or TCP, non-
 * blocking), write the request, read until the reply is complete (the peer closes the connection, as
 * HAProxy's runtime API does in non-interactive mode, or a first line ends, as memcached answers), hand
 * the reply to a callback. The reply size is capped. There is no timer here: the action that owns the
 * request has one deadline for all of its round trips and frees the request when it passes.
 *
 * Addresses: a unix socket path, or a numeric "IPv4:port" / "[IPv6]:port". Host names are refused on
 * purpose: resolving them would block the loop, and a remediation target should not depend on DNS.
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-event.h>

#include "macro.h"

typedef struct SockAddress {
        union {
                struct sockaddr sa;
                struct sockaddr_un un;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        };
        socklen_t len;
        char display[128]; /* the path, "127.0.0.1:6379" or "[::1]:6379" */
        char host[64];     /* TCP: the numeric address without brackets; "" for unix */
        unsigned port;     /* TCP: the port; 0 for unix */
} SockAddress;

/* Exactly one of socket_path and address must be given. -EINVAL (with *ret_error, a static sentence,
 * if given) for a relative or too long path, a host name, a bad port. */
int sock_address_parse(const char *socket_path, const char *address, SockAddress *ret, const char **ret_error);

typedef enum SockReplyEnd {
        SOCK_REPLY_EOF,  /* the peer closes the connection after the reply */
        SOCK_REPLY_LINE, /* the reply is one line ending in \n */
} SockReplyEnd;

typedef struct SockRequest SockRequest;

/* error: 0, or a negative errno (-ECONNREFUSED, -ENOENT, -ECONNRESET, -EMSGSIZE for a reply over the
 * cap, -EPROTO for a connection closed before a complete line). reply is NUL-terminated (it may hold
 * NULs of its own; len counts them). The callback may free the request. */
typedef void (*SockRequestCallback)(SockRequest *q, int error, const char *reply, size_t len, void *userdata);

/* Start a request. Fails right away (negative errno, nothing started) when the connection is refused
 * or the socket path does not exist; otherwise the callback reports the outcome. */
int sock_request_start(
        sd_event *e,
        const SockAddress *addr,
        const char *request,
        SockReplyEnd end,
        size_t max_reply,
        SockRequestCallback cb,
        void *userdata,
        SockRequest **ret);
/* Abort (no callback) and free. */
SockRequest *sock_request_free(SockRequest *q);
DEFINE_TRIVIAL_CLEANUP_FUNC(SockRequest *, sock_request_free);

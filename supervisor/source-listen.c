/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The listen source: a unix stream socket that local programs push Prometheus text lines into
 * (`name{labels} value [timestamp_ms]`, `# TYPE` lines optional). Each client has its own line buffer,
 * bounded by PROM_LINE_MAX, and its own parser state (its `# TYPE` lines apply to its later samples).
 * Samples go out as their lines complete. A client that sends a line too long to buffer, or nothing but
 * bad lines for a while, is disconnected; nothing a client sends can make the daemon grow without bound.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/epoll.h>
#include <sys/un.h>
#include <unistd.h>

#include "source-internal.h"

#define CLIENT_BUFFER_MAX (PROM_LINE_MAX + 2) /* the longest line plus CRLF */
#define CLIENT_READS_PER_WAKEUP 16            /* then let other event sources run */

typedef struct Client Client;

typedef struct Listen {
        int fd;
        sd_event_source *io;
        dev_t dev; /* the socket file we created, so that we only ever remove our own */
        ino_t ino;
        Client *clients;
        size_t n_clients;
        uint64_t next_id;
} Listen;

struct Client {
        Source *source;
        Client *prev, *next;
        uint64_t id; /* for messages: "client 3" */
        int fd;
        sd_event_source *io;
        PromParser *parser;
        char *buf;
        size_t len, alloc;
        unsigned bad_in_a_row;
};

static void client_free(Client *c) {
        Listen *l;

        if (!c)
                return;
        l = c->source->data;
        if (c->prev)
                c->prev->next = c->next;
        else if (l->clients == c)
                l->clients = c->next;
        if (c->next)
                c->next->prev = c->prev;
        l->n_clients--;
        c->source->stats.clients = l->n_clients;
        sd_event_source_disable_unref(c->io);
        safe_close(c->fd);
        prom_parser_free(c->parser);
        free(c->buf);
        free(c);
}

static int on_sample(const PromSample *sample, const char **ret_error, void *userdata) {
        Client *c = userdata;
        Source *s = c->source;
        double t = sample->has_timestamp ? (double) sample->timestamp_ms / 1000.0 : s->collection_t;
        int r;

        r = source_emit_parsed(s, sample, t, ret_error);
        return r < 0 ? r : 0;
}

/* Feed one complete line. Returns false if the client is to be disconnected. */
static bool client_line(Client *c, const char *line, size_t len) {
        Source *s = c->source;
        const PromParseStats *ps = prom_parser_get_stats(c->parser);
        uint64_t bad = ps->bad_lines;
        int r;

        r = prom_parser_feed(c->parser, line, len, on_sample, c);
        if (r < 0) {
                source_set_error(s, "client %" PRIu64 ": cannot process a sample: %s", c->id, strerror(-r));
                return false;
        }
        if (ps->bad_lines == bad) {
                c->bad_in_a_row = 0;
                return true;
        }
        s->stats.bad_lines++;
        source_set_error(
                s, "client %" PRIu64 ": line %" PRIu64 ": %s", c->id, ps->last_bad_line, ps->last_error);
        if (++c->bad_in_a_row >= SOURCE_LISTEN_MAX_BAD_IN_A_ROW) {
                source_set_error(
                        s,
                        "client %" PRIu64 ": disconnected after %u bad lines in a row (line %" PRIu64 ": %s)",
                        c->id,
                        c->bad_in_a_row,
                        ps->last_bad_line,
                        ps->last_error);
                return false;
        }
        return true;
}

/* Feed every complete line in the buffer and keep the rest. Returns false to disconnect. */
static bool client_process(Client *c, bool eof) {
        size_t start = 0;

        while (start < c->len) {
                const char *nl = memchr(c->buf + start, '\n', c->len - start);
                if (!nl)
                        break;
                size_t n = (size_t) (nl - (c->buf + start)) + 1;
                if (!client_line(c, c->buf + start, n))
                        return false;
                start += n;
        }
        if (start > 0) {
                memmove(c->buf, c->buf + start, c->len - start);
                c->len -= start;
        }
        if (eof && c->len > 0) {
                bool ok = client_line(c, c->buf, c->len);
                c->len = 0;
                return ok;
        }
        if (c->len >= CLIENT_BUFFER_MAX) {
                c->source->stats.bad_lines++;
                source_set_error(
                        c->source,
                        "client %" PRIu64 ": disconnected: line longer than %u bytes",
                        c->id,
                        PROM_LINE_MAX);
                return false;
        }
        return true;
}

static int on_client_io(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        Client *c = userdata;
        Source *s = c->source;

        s->emit_now = now(CLOCK_MONOTONIC);
        s->collection_t = source_now_realtime();
        for (unsigned i = 0; i < CLIENT_READS_PER_WAKEUP; i++) {
                if (c->len == c->alloc) {
                        size_t a = MIN(MAX(c->alloc * 2, (size_t) 4096), (size_t) CLIENT_BUFFER_MAX);
                        char *b = realloc(c->buf, a);
                        if (!b) {
                                source_set_error(s, "client %" PRIu64 ": out of memory", c->id);
                                goto drop;
                        }
                        c->buf = b;
                        c->alloc = a;
                }
                ssize_t n = read(c->fd, c->buf + c->len, c->alloc - c->len);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        client_free(c); /* reset by the peer: not its fault, not counted */
                        return 0;
                }
                if (n == 0) {
                        (void) client_process(c, true);
                        client_free(c);
                        return 0;
                }
                s->stats.last_bytes += (uint64_t) n;
                c->len += (size_t) n;
                if (!client_process(c, false))
                        goto drop;
        }
        return 0;

drop:
        s->stats.clients_dropped++;
        client_free(c);
        return 0;
}

static int on_accept(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        Source *s = userdata;
        Listen *l = s->data;

        for (;;) {
                int cfd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                Client *c;
                int r;

                if (cfd < 0) {
                        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                                source_set_error(s, "accept: %s", strerror(errno));
                        return 0;
                }
                if (l->n_clients >= SOURCE_LISTEN_MAX_CLIENTS) {
                        safe_close(cfd);
                        s->stats.clients_dropped++;
                        source_set_error(
                                s, "refused a client: %u clients connected already", SOURCE_LISTEN_MAX_CLIENTS);
                        continue;
                }
                c = calloc(1, sizeof(*c));
                if (!c || prom_parser_new(&c->parser) < 0) {
                        free(c);
                        safe_close(cfd);
                        s->stats.clients_dropped++;
                        source_set_error(s, "refused a client: out of memory");
                        continue;
                }
                c->source = s;
                c->fd = cfd;
                c->id = ++l->next_id;
                r = sd_event_add_io(s->event, &c->io, cfd, EPOLLIN, on_client_io, c);
                if (r < 0) {
                        prom_parser_free(c->parser);
                        free(c);
                        safe_close(cfd);
                        s->stats.clients_dropped++;
                        source_set_error(s, "refused a client: %s", strerror(-r));
                        continue;
                }
                (void) sd_event_source_set_description(c->io, "source-listen-client");
                c->next = l->clients;
                if (l->clients)
                        l->clients->prev = c;
                l->clients = c;
                l->n_clients++;
                s->stats.clients = l->n_clients;
        }
}

static int listen_init(Source *s) {
        const char *path = s->config.listen_path;
        union {
                struct sockaddr sa;
                struct sockaddr_un un;
        } addr = { .un.sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        Listen *l;

        if (strlen(path) >= sizeof(addr.un.sun_path))
                return -ENAMETOOLONG;
        memcpy(addr.un.sun_path, path, strlen(path) + 1);

        /* Replace a socket left behind (like systemd socket units do); never remove anything else. */
        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                        return -EEXIST;
                if (unlink(path) < 0 && errno != ENOENT)
                        return -errno;
        } else if (errno != ENOENT)
                return -errno;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, &addr.sa, sizeof(addr.un)) < 0)
                return -errno;
        if (chmod(path, 0660) < 0 || stat(path, &st) < 0 || listen(fd, SOMAXCONN) < 0) {
                int r = -errno;
                (void) unlink(path);
                return r;
        }
        l = calloc(1, sizeof(*l));
        if (!l) {
                (void) unlink(path);
                return -ENOMEM;
        }
        l->fd = TAKE_FD(fd);
        l->dev = st.st_dev;
        l->ino = st.st_ino;
        s->data = l;
        return 0;
}

static void listen_done(Source *s) {
        Listen *l = s->data;
        struct stat st;

        if (!l)
                return;
        while (l->clients)
                client_free(l->clients);
        sd_event_source_disable_unref(l->io);
        safe_close(l->fd);
        if (lstat(s->config.listen_path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino)
                (void) unlink(s->config.listen_path);
        free(l);
        s->data = NULL;
}

static int listen_start(Source *s) {
        Listen *l = s->data;
        int r;

        r = sd_event_add_io(s->event, &l->io, l->fd, EPOLLIN, on_accept, s);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(l->io, "source-listen");
        return 0;
}

/* Samples arrive on their own; a collection only reports that the socket is there. */
static int listen_collect(Source *s) {
        Listen *l = s->data;

        s->stats.clients = l->n_clients;
        source_collection_end(s, l->fd >= 0 && l->io ? 0 : -EBADF, NULL);
        return 0;
}

static void listen_cancel(Source *s) {
}

const SourceVTable source_listen_vtable = {
        .init = listen_init,
        .done = listen_done,
        .start = listen_start,
        .collect = listen_collect,
        .cancel = listen_cancel,
};

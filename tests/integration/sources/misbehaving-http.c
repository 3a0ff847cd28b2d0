/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A scrape target that misbehaves on purpose, for the prometheus and http_probe source tests. It listens
 * on 127.0.0.1 (a port the kernel picks, written to the file named on the command line), serves each
 * connection in its own thread, and answers by path:
 *
 *   /ok          200, a small valid exposition (counter, gauge, histogram, a timestamp, a `source` label,
 *                one bad line)
 *   /headers     200, says whether the request carried the expected Accept and Accept-Encoding headers
 *   /garbage     200, binary noise and nonsense lines
 *   /huge        200, chunked, 100 MB of sample lines (or until the client gives up)
 *   /hang        reads the request and never answers
 *   /close       promises 100000 bytes, sends a few, closes
 *   /500         500 with a valid exposition body
 *   /gzip        the /ok body gzip-compressed (Content-Encoding: gzip)
 *   /gzip-bomb   a gzip body of ~100 kB that inflates to 32 MiB
 *   /redirect    302 to /ok
 *   /empty       200 with an empty body
 *   /slow        /ok after 300 ms
 *
 * Stop it with SIGTERM to its PID.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

static const char ok_body[] = "# HELP test_requests_total Requests.\n"
                              "# TYPE test_requests_total counter\n"
                              "test_requests_total{code=\"200\",source=\"scraped\"} 42\n"
                              "# TYPE test_temperature_celsius gauge\n"
                              "test_temperature_celsius 21.5\n"
                              "test_with_timestamp 7 1700000000123\n"
                              "# TYPE test_latency_seconds histogram\n"
                              "test_latency_seconds_bucket{le=\"0.1\"} 3\n"
                              "test_latency_seconds_bucket{le=\"+Inf\"} 5\n"
                              "test_latency_seconds_sum 0.4\n"
                              "test_latency_seconds_count 5\n"
                              "this is a bad line\n";

static unsigned char *gzip_ok;
static size_t gzip_ok_len;
static unsigned char *gzip_bomb;
static size_t gzip_bomb_len;

static bool send_all(int fd, const void *p, size_t n) {
        const char *c = p;
        while (n > 0) {
                ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
                if (k <= 0)
                        return false;
                c += k;
                n -= (size_t) k;
        }
        return true;
}

static void respond(int fd, int code, const char *extra_headers, const void *body, size_t len) {
        char head[512];
        int n = snprintf(
                head,
                sizeof(head),
                "HTTP/1.1 %d X\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: %zu\r\n"
                "Connection: close\r\n%s\r\n",
                code,
                len,
                extra_headers ?: "");
        if (send_all(fd, head, (size_t) n))
                (void) send_all(fd, body, len);
}

/* Compress len bytes produced by fill() (called repeatedly) into a gzip stream. */
static unsigned char *gzip_of(const char *chunk, size_t chunk_len, size_t total, size_t *ret_len) {
        z_stream z = {};
        size_t cap = total / 8 + 65536, done = 0;
        unsigned char *out = malloc(cap);

        if (!out || deflateInit2(&z, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY) != Z_OK)
                abort();
        z.next_out = out;
        z.avail_out = (uInt) cap;
        while (done < total) {
                size_t n = chunk_len < total - done ? chunk_len : total - done;
                z.next_in = (unsigned char *) chunk;
                z.avail_in = (uInt) n;
                if (deflate(&z, Z_NO_FLUSH) != Z_OK || z.avail_in != 0)
                        abort();
                done += n;
        }
        if (deflate(&z, Z_FINISH) != Z_STREAM_END)
                abort();
        *ret_len = z.total_out;
        deflateEnd(&z);
        return out;
}

static bool header_has(const char *req, const char *name, const char *needle) {
        const char *p = req;
        size_t nl = strlen(name);
        while ((p = strstr(p, "\r\n"))) {
                p += 2;
                if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
                        const char *e = strstr(p, "\r\n");
                        size_t len = e ? (size_t) (e - p) : strlen(p);
                        char line[1024];
                        if (len >= sizeof(line))
                                return false;
                        memcpy(line, p, len);
                        line[len] = 0;
                        return strstr(line, needle) != NULL;
                }
        }
        return false;
}

static void *serve(void *arg) {
        int fd = (int) (intptr_t) arg;
        char req[8192];
        size_t len = 0;
        char path[256] = "";

        while (len < sizeof(req) - 1) {
                ssize_t k = recv(fd, req + len, sizeof(req) - 1 - len, 0);
                if (k <= 0)
                        goto out;
                len += (size_t) k;
                req[len] = 0;
                if (strstr(req, "\r\n\r\n"))
                        break;
        }
        if (sscanf(req, "GET %255s ", path) != 1)
                goto out;

        if (strcmp(path, "/ok") == 0)
                respond(fd, 200, NULL, ok_body, strlen(ok_body));
        else if (strcmp(path, "/slow") == 0) {
                usleep(300000);
                respond(fd, 200, NULL, ok_body, strlen(ok_body));
        } else if (strcmp(path, "/headers") == 0) {
                char body[256];
                int n = snprintf(
                        body,
                        sizeof(body),
                        "accept_ok %d\ngzip_ok %d\n",
                        header_has(req, "Accept", "text/plain;version=0.0.4"),
                        header_has(req, "Accept-Encoding", "gzip"));
                respond(fd, 200, NULL, body, (size_t) n);
        } else if (strcmp(path, "/garbage") == 0) {
                char body[4096];
                unsigned x = 12345;
                for (size_t i = 0; i < sizeof(body); i++) {
                        x = x * 1103515245 + 12345;
                        body[i] = (char) (x >> 16);
                }
                static const char junk[] = "\nthis is { not \"an\" exposition\n== 1 2 3\n";
                memcpy(body + 1000, junk, sizeof(junk) - 1);
                respond(fd, 200, NULL, body, sizeof(body));
        } else if (strcmp(path, "/huge") == 0) {
                static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                           "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
                char chunk[65536 + 32];
                size_t sent = 0, body = 0;
                int h = snprintf(chunk, sizeof(chunk), "%x\r\n", 65536);
                while (body < 65536) {
                        const char line[] = "huge_metric{label=\"value\"} 1\n";
                        size_t n = sizeof(line) - 1 < 65536 - body ? sizeof(line) - 1 : 65536 - body;
                        memcpy(chunk + h + body, line, n);
                        body += n;
                }
                memcpy(chunk + h + body, "\r\n", 2);
                if (!send_all(fd, head, sizeof(head) - 1))
                        goto out;
                while (sent < 100u * 1024 * 1024) {
                        if (!send_all(fd, chunk, (size_t) h + body + 2))
                                goto out;
                        sent += body;
                }
                (void) send_all(fd, "0\r\n\r\n", 5);
        } else if (strcmp(path, "/hang") == 0) {
                char c;
                /* until the client goes away; a minute at most */
                struct timeval tv = { .tv_sec = 60 };
                (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
                while (recv(fd, &c, 1, 0) > 0)
                        ;
        } else if (strcmp(path, "/close") == 0) {
                static const char r[] = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\na 1\nb 2\nc 3";
                (void) send_all(fd, r, sizeof(r) - 1);
        } else if (strcmp(path, "/500") == 0)
                respond(fd, 500, NULL, ok_body, strlen(ok_body));
        else if (strcmp(path, "/gzip") == 0)
                respond(fd, 200, "Content-Encoding: gzip\r\n", gzip_ok, gzip_ok_len);
        else if (strcmp(path, "/gzip-bomb") == 0)
                respond(fd, 200, "Content-Encoding: gzip\r\n", gzip_bomb, gzip_bomb_len);
        else if (strcmp(path, "/redirect") == 0)
                respond(fd, 302, "Location: /ok\r\n", "", 0);
        else if (strcmp(path, "/empty") == 0)
                respond(fd, 200, NULL, "", 0);
        else
                respond(fd, 404, NULL, "not found\n", 10);
out:
        close(fd);
        return NULL;
}

int main(int argc, char *argv[]) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t alen = sizeof(a);
        char tmp[4096];
        FILE *f;
        int fd;

        if (argc != 2) {
                fprintf(stderr, "usage: %s PORTFILE\n", argv[0]);
                return 2;
        }
        signal(SIGPIPE, SIG_IGN);

        gzip_ok = gzip_of(ok_body, strlen(ok_body), strlen(ok_body), &gzip_ok_len);
        static char bomb_chunk[65536];
        for (size_t i = 0; i + 4 <= sizeof(bomb_chunk); i += 4)
                memcpy(bomb_chunk + i, "a 1\n", 4);
        gzip_bomb = gzip_of(bomb_chunk, sizeof(bomb_chunk), 32u * 1024 * 1024, &gzip_bomb_len);

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0 || listen(fd, 64) < 0 ||
            getsockname(fd, (struct sockaddr *) &a, &alen) < 0) {
                perror("socket");
                return 1;
        }
        snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
        f = fopen(tmp, "we");
        if (!f || fprintf(f, "%d\n", ntohs(a.sin_port)) < 0 || fclose(f) != 0 || rename(tmp, argv[1]) < 0) {
                perror(argv[1]);
                return 1;
        }
        for (;;) {
                int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
                pthread_t t;
                if (c < 0)
                        continue;
                if (pthread_create(&t, NULL, serve, (void *) (intptr_t) c) != 0) {
                        close(c);
                        continue;
                }
                pthread_detach(t);
        }
}

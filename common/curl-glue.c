/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libcurl multi on sd-event; see curl-glue.h. The pattern: CURLMOPT_SOCKETFUNCTION adds, changes or
 * removes an IO source per socket; CURLMOPT_TIMERFUNCTION (re)arms one CLOCK_MONOTONIC time source; both
 * event handlers call curl_multi_socket_action() and then drain curl_multi_info_read().
 */
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "curl-glue.h"
#include "log.h"

typedef struct Transfer Transfer;
struct Transfer {
        Transfer *prev, *next;
        CURL *easy;
        CurlDoneCallback cb;
        void *userdata;
};

struct CurlGlue {
        sd_event *event;
        CURLM *multi;
        sd_event_source *timer;
        Transfer *transfers; /* in flight, a doubly linked list */
        size_t in_flight;
};

static void transfer_unlink(CurlGlue *g, Transfer *t) {
        if (t->prev)
                t->prev->next = t->next;
        else
                g->transfers = t->next;
        if (t->next)
                t->next->prev = t->prev;
        t->prev = t->next = NULL;
        if (g->in_flight > 0)
                g->in_flight--;
}

static void process_done(CurlGlue *g) {
        CURLMsg *msg;
        int left;

        while ((msg = curl_multi_info_read(g->multi, &left))) {
                Transfer *t = NULL;
                CURL *easy;
                CURLcode result;

                if (msg->msg != CURLMSG_DONE)
                        continue;
                easy = msg->easy_handle;
                result = msg->data.result;
                (void) curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &t);
                (void) curl_multi_remove_handle(g->multi, easy);
                if (t) {
                        CurlDoneCallback cb = t->cb;
                        transfer_unlink(g, t);
                        void *ud = t->userdata;
                        (void) curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
                        free(t);
                        if (cb)
                                cb(g, easy, result, ud);
                }
        }
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        CurlGlue *g = userdata;
        int action = 0, running = 0;

        if (revents & (EPOLLIN | EPOLLPRI))
                action |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                action |= CURL_CSELECT_OUT;
        if (revents & (EPOLLERR | EPOLLHUP))
                action |= CURL_CSELECT_ERR;

        if (curl_multi_socket_action(g->multi, fd, action, &running) != CURLM_OK)
                log_debug("curl_multi_socket_action() failed on fd %d", fd);
        process_done(g);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        CurlGlue *g = userdata;
        int running = 0;

        if (curl_multi_socket_action(g->multi, CURL_SOCKET_TIMEOUT, 0, &running) != CURLM_OK)
                log_debug("curl_multi_socket_action() failed on timeout");
        process_done(g);
        return 0;
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        CurlGlue *g = userp;
        sd_event_source *io = socketp;
        uint32_t events = 0;
        int r;

        if (what == CURL_POLL_REMOVE) {
                if (io) {
                        (void) sd_event_source_set_enabled(io, SD_EVENT_OFF);
                        sd_event_source_unref(io);
                        (void) curl_multi_assign(g->multi, fd, NULL);
                }
                return 0;
        }

        if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
                events |= EPOLLIN;
        if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
                events |= EPOLLOUT;

        if (io) {
                r = sd_event_source_set_io_events(io, events);
                if (r >= 0)
                        r = sd_event_source_set_enabled(io, SD_EVENT_ON);
        } else {
                r = sd_event_add_io(g->event, &io, fd, events, on_io, g);
                if (r >= 0) {
                        (void) sd_event_source_set_description(io, "curl-io");
                        if (curl_multi_assign(g->multi, fd, io) != CURLM_OK) {
                                sd_event_source_unref(io);
                                r = -EIO;
                        }
                }
        }
        if (r < 0) {
                log_debug_errno(r, "Failed to watch curl socket %d: %m", fd);
                return -1;
        }
        return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp) {
        CurlGlue *g = userp;
        int r;

        if (timeout_ms < 0) {
                if (g->timer)
                        (void) sd_event_source_set_enabled(g->timer, SD_EVENT_OFF);
                return 0;
        }
        usec_t when = now(CLOCK_MONOTONIC) + (usec_t) timeout_ms * USEC_PER_MSEC;
        if (g->timer) {
                r = sd_event_source_set_time(g->timer, when);
                if (r >= 0)
                        r = sd_event_source_set_enabled(g->timer, SD_EVENT_ONESHOT);
        } else {
                /* Accuracy 1 µs: 0 would mean sd-event's default of 250 ms, which delays every curl
                 * timeout and every "run me again soon" that curl asks for. */
                r = sd_event_add_time(g->event, &g->timer, CLOCK_MONOTONIC, when, 1, on_timer, g);
                if (r >= 0)
                        (void) sd_event_source_set_description(g->timer, "curl-timer");
        }
        return r < 0 ? -1 : 0;
}

int curl_glue_new(sd_event *event, CurlGlue **ret) {
        CurlGlue *g;

        g = calloc(1, sizeof(*g));
        if (!g)
                return -ENOMEM;
        g->event = sd_event_ref(event);
        g->multi = curl_multi_init();
        if (!g->multi) {
                curl_glue_free(g);
                return -ENOMEM;
        }
        if (curl_multi_setopt(g->multi, CURLMOPT_SOCKETFUNCTION, socket_cb) != CURLM_OK ||
            curl_multi_setopt(g->multi, CURLMOPT_SOCKETDATA, g) != CURLM_OK ||
            curl_multi_setopt(g->multi, CURLMOPT_TIMERFUNCTION, timer_cb) != CURLM_OK ||
            curl_multi_setopt(g->multi, CURLMOPT_TIMERDATA, g) != CURLM_OK) {
                curl_glue_free(g);
                return -EIO;
        }
        *ret = g;
        return 0;
}

CurlGlue *curl_glue_free(CurlGlue *g) {
        if (!g)
                return NULL;
        /* Transfers still in flight are abandoned: their callbacks never run. Their easy handles belong
         * to whoever started them, so only our bookkeeping is freed here. */
        while (g->transfers) {
                Transfer *t = g->transfers;
                transfer_unlink(g, t);
                (void) curl_multi_remove_handle(g->multi, t->easy);
                (void) curl_easy_setopt(t->easy, CURLOPT_PRIVATE, NULL);
                free(t);
        }
        if (g->multi)
                curl_multi_cleanup(g->multi);
        sd_event_source_disable_unref(g->timer);
        sd_event_unref(g->event);
        free(g);
        return NULL;
}

int curl_glue_add(CurlGlue *g, CURL *easy, CurlDoneCallback cb, void *userdata) {
        Transfer *t;

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->easy = easy;
        t->cb = cb;
        t->userdata = userdata;
        if (curl_easy_setopt(easy, CURLOPT_PRIVATE, t) != CURLE_OK) {
                free(t);
                return -EIO;
        }
        if (curl_multi_add_handle(g->multi, easy) != CURLM_OK) {
                (void) curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
                free(t);
                return -EIO;
        }
        t->next = g->transfers;
        if (g->transfers)
                g->transfers->prev = t;
        g->transfers = t;
        g->in_flight++;
        return 0;
}

void curl_glue_cancel(CurlGlue *g, CURL *easy) {
        Transfer *t = NULL;

        if (!g || !easy)
                return;
        (void) curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &t);
        if (!t)
                return;
        transfer_unlink(g, t);
        (void) curl_multi_remove_handle(g->multi, easy);
        (void) curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        free(t);
}

size_t curl_glue_in_flight(const CurlGlue *g) {
        return g->in_flight;
}

int curl_glue_easy_new(const char *url, usec_t timeout_usec, CURL **ret) {
        CURL *c;
        long timeout_ms = (long) MAX(timeout_usec / USEC_PER_MSEC, (usec_t) 1);

        c = curl_easy_init();
        if (!c)
                return -ENOMEM;
        if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_NOPROXY, "localhost,127.0.0.0/8,::1") != CURLE_OK ||
            curl_easy_setopt(c, CURLOPT_USERAGENT, "homeostat/" PROJECT_VERSION) != CURLE_OK) {
                curl_easy_cleanup(c);
                return -EINVAL;
        }
        *ret = c;
        return 0;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata) {
        CurlBody *body = userdata;
        size_t n = size * nmemb;

        if (body->buf.len + n > body->max_bytes) {
                body->too_big = true;
                return 0; /* CURLE_WRITE_ERROR */
        }
        if (strbuf_append(&body->buf, ptr, n) < 0)
                return 0;
        return n;
}

int curl_glue_capture_body(CURL *easy, CurlBody *body) {
        if (curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_cb) != CURLE_OK ||
            curl_easy_setopt(easy, CURLOPT_WRITEDATA, body) != CURLE_OK)
                return -EINVAL;
        return 0;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The hiredis adapter for sd-event; see redis-sd-event.h.
 *
 * The one subtle point: redisAsyncHandleRead()/HandleWrite() may free the context (peer hung up, error,
 * or our own callback freed it), and freeing calls ev.cleanup, which frees this adapter. The IO handler
 * therefore holds a reference while it calls into hiredis, and cleanup only marks the adapter dead when
 * it happens inside that window.
 */
#include <stdlib.h>
#include <sys/epoll.h>

#include "macro.h"
#include "redis-sd-event.h"

typedef struct RedisSdEvent {
        redisAsyncContext *ac;
        sd_event_source *io;
        uint32_t events;
        unsigned n_ref;
        bool dead;
} RedisSdEvent;

static void adapter_unref(RedisSdEvent *e) {
        if (--e->n_ref > 0)
                return;
        sd_event_source_disable_unref(e->io);
        free(e);
}

static void update(RedisSdEvent *e) {
        if (e->dead)
                return;
        if (e->events == 0) {
                (void) sd_event_source_set_enabled(e->io, SD_EVENT_OFF);
                return;
        }
        /* Changing the mask of an existing source is an epoll_ctl(MOD); it does not allocate. */
        (void) sd_event_source_set_io_events(e->io, e->events);
        (void) sd_event_source_set_enabled(e->io, SD_EVENT_ON);
}

static void add_read(void *p) {
        RedisSdEvent *e = p;
        e->events |= EPOLLIN;
        update(e);
}

static void del_read(void *p) {
        RedisSdEvent *e = p;
        e->events &= ~(uint32_t) EPOLLIN;
        update(e);
}

static void add_write(void *p) {
        RedisSdEvent *e = p;
        e->events |= EPOLLOUT;
        update(e);
}

static void del_write(void *p) {
        RedisSdEvent *e = p;
        e->events &= ~(uint32_t) EPOLLOUT;
        update(e);
}

static void cleanup(void *p) {
        RedisSdEvent *e = p;

        e->dead = true;
        e->ac = NULL;
        (void) sd_event_source_set_enabled(e->io, SD_EVENT_OFF);
        adapter_unref(e);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        RedisSdEvent *e = userdata;

        e->n_ref++;
        /* Errors and hang-ups surface through a read, which is where hiredis detects them. */
        if (!e->dead && (revents & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                redisAsyncHandleRead(e->ac);
        if (!e->dead && (revents & EPOLLOUT))
                redisAsyncHandleWrite(e->ac);
        adapter_unref(e);
        return 0;
}

int redis_sd_event_attach(redisAsyncContext *ac, sd_event *event) {
        RedisSdEvent *e;
        int r;

        if (ac->ev.data)
                return -EEXIST;
        e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        r = sd_event_add_io(event, &e->io, ac->c.fd, 0, on_io, e);
        if (r >= 0)
                r = sd_event_source_set_enabled(e->io, SD_EVENT_OFF);
        if (r < 0) {
                sd_event_source_disable_unref(e->io);
                free(e);
                return r;
        }
        (void) sd_event_source_set_description(e->io, "redis-io");
        e->ac = ac;
        e->n_ref = 1;
        ac->ev.data = e;
        ac->ev.addRead = add_read;
        ac->ev.delRead = del_read;
        ac->ev.addWrite = add_write;
        ac->ev.delWrite = del_write;
        ac->ev.cleanup = cleanup;
        return 0;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * hiredis' asynchronous API on an sd-event loop. hiredis 0.14.1 ships adapters for libevent, libev, glib
 * and others, but not for sd-event: this is ours. hiredis asks for read and write interest through its
 * ev.addRead/delRead/addWrite/delWrite hooks and drops the adapter through ev.cleanup when the context is
 * freed; we keep one IO source per context whose event mask follows those calls. hiredis has no timeouts
 * in its async API: the caller keeps its own timer and frees the context when it fires.
 */
#pragma once

#include <hiredis/async.h>
#include <systemd/sd-event.h>

/* Attach ac to the loop. Fails (and leaves ac untouched) if ac already has an adapter or the IO source
 * cannot be created. */
int redis_sd_event_attach(redisAsyncContext *ac, sd_event *event);

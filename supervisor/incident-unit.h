/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Reading a systemd unit's state before acting on it (and after a crash, to reconcile): LoadState,
 * ActiveState, InvocationID, the queued Job, ActiveEnterTimestampMonotonic and, for services, Result.
 * Asynchronous over sd-bus (org.freedesktop.DBus.Properties.GetAll on the unit's object, then Get of the
 * Service's Result); the callback always comes from the event loop, never from inside unit_probe_start().
 */
#pragma once

#include <systemd/sd-bus.h>

#include "incident-engine.h"
#include "macro.h"

typedef struct UnitProbe UnitProbe;

/* error: 0 with *snapshot filled (active_enter_mono on CLOCK_MONOTONIC, 0 when never active), or a
 * negative errno with a sentence in message (-ENOENT: the unit does not exist). The probe is freed after
 * the callback returns. */
typedef void (*UnitProbeCallback)(int error, const char *message, const UnitSnapshot *snapshot, void *userdata);

int unit_probe_start(sd_bus *bus, const char *unit, UnitProbeCallback cb, void *userdata, UnitProbe **ret);
/* Cancel: no callback. Returns NULL. */
UnitProbe *unit_probe_cancel(UnitProbe *p);

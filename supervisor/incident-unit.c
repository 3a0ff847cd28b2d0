/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Asynchronous read of a unit's state over sd-bus, for the preflight before an action and for
 * reconciliation after a crash. See incident-unit.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "incident-unit.h"

#define UNIT_PROBE_TIMEOUT_USEC (10 * USEC_PER_SEC)

struct UnitProbe {
        sd_bus *bus;
        sd_bus_slot *slot;
        char *unit;
        char *path;
        UnitSnapshot snap;
        UnitProbeCallback cb;
        void *userdata;
};

UnitProbe *unit_probe_cancel(UnitProbe *p) {
        if (!p)
                return NULL;
        sd_bus_slot_unref(p->slot);
        sd_bus_unref(p->bus);
        free(p->unit);
        free(p->path);
        free(p);
        return NULL;
}

static int finish(UnitProbe *p, int error, const char *fmt, ...) _printf_(3, 4);
static int finish(UnitProbe *p, int error, const char *fmt, ...) {
        char message[512] = "";

        if (fmt) {
                va_list ap;
                va_start(ap, fmt);
                (void) vsnprintf(message, sizeof(message), fmt, ap);
                va_end(ap);
        }
        p->cb(error, error < 0 ? message : NULL, error < 0 ? NULL : &p->snap, p->userdata);
        unit_probe_cancel(p);
        return 0;
}

static int reply_error(UnitProbe *p, sd_bus_message *m) {
        const sd_bus_error *e = sd_bus_message_get_error(m);
        int r = sd_bus_error_get_errno(e);
        return finish(
                p,
                r > 0 ? -r : -EIO,
                "cannot read the state of %s: %s",
                p->unit,
                e && e->message ? e->message : "D-Bus error");
}

static int on_result(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        UnitProbe *p = userdata;
        const char *result = NULL;
        int r;

        if (sd_bus_message_is_method_error(m, NULL))
                return reply_error(p, m);
        r = sd_bus_message_read(m, "v", "s", &result);
        if (r < 0)
                return finish(p, r, "cannot parse the Result of %s", p->unit);
        snprintf(p->snap.result, sizeof(p->snap.result), "%s", result);
        return finish(p, 0, NULL);
}

static int read_string(sd_bus_message *m, char *buf, size_t len) {
        const char *s;
        int r = sd_bus_message_read(m, "v", "s", &s);
        if (r < 0)
                return r;
        snprintf(buf, len, "%s", s);
        return 0;
}

static int on_unit(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        static const char hex[] = "0123456789abcdef";
        UnitProbe *p = userdata;
        char load_state[32] = "";
        int r;

        if (sd_bus_message_is_method_error(m, NULL))
                return reply_error(p, m);
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                goto bad;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *name;

                r = sd_bus_message_read(m, "s", &name);
                if (r < 0)
                        goto bad;
                if (streq(name, "LoadState"))
                        r = read_string(m, load_state, sizeof(load_state));
                else if (streq(name, "ActiveState"))
                        r = read_string(m, p->snap.active_state, sizeof(p->snap.active_state));
                else if (streq(name, "InvocationID")) {
                        const void *bytes;
                        size_t n;
                        r = sd_bus_message_enter_container(m, 'v', "ay");
                        if (r < 0)
                                goto bad;
                        r = sd_bus_message_read_array(m, 'y', &bytes, &n);
                        if (r < 0)
                                goto bad;
                        p->snap.invocation_id[0] = 0;
                        if (n == 16) {
                                bool zero = true;
                                for (size_t k = 0; k < 16; k++) {
                                        uint8_t b = ((const uint8_t *) bytes)[k];
                                        zero = zero && b == 0;
                                        p->snap.invocation_id[2 * k] = hex[b >> 4];
                                        p->snap.invocation_id[2 * k + 1] = hex[b & 15];
                                }
                                p->snap.invocation_id[zero ? 0 : 32] = 0;
                        }
                        r = sd_bus_message_exit_container(m);
                } else if (streq(name, "Job")) {
                        uint32_t id;
                        const char *path;
                        r = sd_bus_message_read(m, "v", "(uo)", &id, &path);
                        if (r >= 0)
                                p->snap.job_queued = id != 0;
                } else if (streq(name, "ActiveEnterTimestampMonotonic")) {
                        uint64_t t;
                        r = sd_bus_message_read(m, "v", "t", &t);
                        if (r >= 0)
                                p->snap.active_enter_mono = t;
                } else
                        r = sd_bus_message_skip(m, "v");
                if (r < 0)
                        goto bad;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        goto bad;
        }
        if (r < 0)
                goto bad;

        if (streq(load_state, "not-found"))
                return finish(p, -ENOENT, "unit %s does not exist", p->unit);
        if (streq(load_state, "masked"))
                return finish(p, -EPERM, "unit %s is masked", p->unit);
        if (!streq(load_state, "loaded"))
                return finish(
                        p, -EINVAL, "unit %s is not loaded (%s)", p->unit, load_state[0] ? load_state : "unknown");
        snprintf(p->snap.result, sizeof(p->snap.result), "success");
        if (!endswith(p->unit, ".service"))
                return finish(p, 0, NULL);

        p->slot = sd_bus_slot_unref(p->slot);
        r = sd_bus_call_method_async(
                p->bus,
                &p->slot,
                "org.freedesktop.systemd1",
                p->path,
                "org.freedesktop.DBus.Properties",
                "Get",
                on_result,
                p,
                "ss",
                "org.freedesktop.systemd1.Service",
                "Result");
        if (r < 0)
                return finish(p, r, "cannot ask for the Result of %s", p->unit);
        return 0;
bad:
        return finish(p, r, "cannot parse the properties of %s", p->unit);
}

int unit_probe_start(sd_bus *bus, const char *unit, UnitProbeCallback cb, void *userdata, UnitProbe **ret) {
        _cleanup_free_ UnitProbe *p = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        int r;

        if (!bus)
                return -ENOTCONN;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->unit = strdup(unit);
        if (!p->unit)
                return -ENOMEM;
        r = sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit, &p->path);
        if (r < 0) {
                free(p->unit);
                return r;
        }
        r = sd_bus_message_new_method_call(
                bus, &call, "org.freedesktop.systemd1", p->path, "org.freedesktop.DBus.Properties", "GetAll");
        if (r >= 0)
                r = sd_bus_message_append(call, "s", "org.freedesktop.systemd1.Unit");
        if (r >= 0)
                r = sd_bus_call_async(bus, &p->slot, call, on_unit, p, UNIT_PROBE_TIMEOUT_USEC);
        if (r < 0) {
                free(p->unit);
                free(p->path);
                return r;
        }
        p->bus = sd_bus_ref(bus);
        p->cb = cb;
        p->userdata = userdata;
        if (ret)
                *ret = p;
        TAKE_PTR(p);
        return 0;
}

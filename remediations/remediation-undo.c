/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Undo data: what an action changed and how to put it back, self-contained so that the incident can
 * persist it (as JSON text) and undo after a daemon restart, a reload or the rule's removal. The JSON
 * form is versioned and read strictly: persisted state that we do not fully understand must not be
 * acted upon.
 *
 *   {"version":1,"kind":"haproxy","socket":"/run/haproxy/admin.sock","server":"api/web1","state":"ready"}
 *   {"version":1,"kind":"haproxy","address":"127.0.0.1:9999","server":"api/web1","weight":10}
 *   {"version":1,"kind":"limit","unit":"api.service",
 *    "properties":{"CPUQuotaPerSecUSec":"infinity","TasksMax":4915}}
 *
 * Property values are the bus values; "infinity" stands for UINT64_MAX (also "not set" for IOWeight).
 * An optional "timeout_usec" carries the original step's timeout.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "remediation-internal.h"

ActionUndo *action_undo_free(ActionUndo *u) {
        if (!u)
                return NULL;
        free(u->target);
        free(u->socket);
        free(u->address);
        free(u->server);
        free(u->unit);
        free(u);
        return NULL;
}

const char *action_undo_target(const ActionUndo *u) {
        return u->target;
}

int target_key_haproxy(const SockAddress *a, const char *server, char **ret) {
        if (asprintf(ret, "haproxy:%s:%s", a->display, server) < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

static int strdup_or_null(const char *s, char **ret) {
        *ret = NULL;
        if (!s)
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int action_undo_new_haproxy(
        const char *socket,
        const char *address,
        const char *server,
        HaproxyState state,
        int weight,
        usec_t timeout_usec,
        ActionUndo **ret) {
        _cleanup_(action_undo_freep) ActionUndo *u = NULL;
        SockAddress a;
        int r;

        if (!server || !haproxy_server_name_valid(server))
                return -EINVAL;
        if ((state == HAPROXY_STATE_NONE) == (weight < 0) || weight > 256 ||
            (unsigned) state >= _HAPROXY_STATE_MAX)
                return -EINVAL;
        r = sock_address_parse(socket, address, &a, NULL);
        if (r < 0)
                return r;
        u = calloc(1, sizeof(*u));
        if (!u)
                return -ENOMEM;
        u->kind = UNDO_HAPROXY;
        u->state = state;
        u->weight = weight;
        u->timeout_usec = timeout_usec;
        if (strdup_or_null(socket, &u->socket) < 0 || strdup_or_null(address, &u->address) < 0 ||
            strdup_or_null(server, &u->server) < 0)
                return -ENOMEM;
        r = target_key_haproxy(&a, server, &u->target);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(u);
        return 0;
}

int action_undo_new_limit(const char *unit, const LimitValues *v, usec_t timeout_usec, ActionUndo **ret) {
        _cleanup_(action_undo_freep) ActionUndo *u = NULL;

        if (!unit || unit[0] == 0 || strlen(unit) > 255 || strpbrk(unit, "/ \t\n"))
                return -EINVAL;
        if (!v->has_cpu_quota && !v->has_memory_high && !v->has_io_weight && !v->has_tasks_max)
                return -EINVAL;
        u = calloc(1, sizeof(*u));
        if (!u)
                return -ENOMEM;
        u->kind = UNDO_LIMIT;
        u->limits = *v;
        u->weight = -1;
        u->timeout_usec = timeout_usec;
        u->unit = strdup(unit);
        if (!u->unit || asprintf(&u->target, "unit:%s", unit) < 0) {
                u->target = NULL;
                return -ENOMEM;
        }
        *ret = TAKE_PTR(u);
        return 0;
}

int action_undo_describe(const ActionUndo *u, char **ret) {
        int k;

        if (u->kind == UNDO_HAPROXY) {
                if (u->state != HAPROXY_STATE_NONE)
                        k = asprintf(ret, "set %s back to %s", u->server, haproxy_state_name(u->state));
                else
                        k = asprintf(ret, "set the weight of %s back to %d", u->server, u->weight);
        } else {
                _cleanup_free_ char *v = NULL;
                int r = limit_values_format(&u->limits, &v);
                if (r < 0)
                        return r;
                k = asprintf(ret, "restore %s on %s", v, u->unit);
        }
        if (k < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

/* ---- JSON ---- */

static json_t *u64_to_json(uint64_t v) {
        if (v == UINT64_MAX)
                return json_string("infinity");
        if (v > (uint64_t) INT64_MAX)
                return NULL;
        return json_integer((json_int_t) v);
}

static int u64_from_json(const json_t *j, uint64_t *ret) {
        if (json_is_string(j) && streq(json_string_value(j), "infinity")) {
                *ret = UINT64_MAX;
                return 0;
        }
        if (!json_is_integer(j) || json_integer_value(j) < 0)
                return -EINVAL;
        *ret = (uint64_t) json_integer_value(j);
        return 0;
}

/* The four properties by index, so that the JSON form, the bus calls and the messages walk one list. */
static const char *const limit_prop_names[LIMIT_PROP_MAX] = {
        "CPUQuotaPerSecUSec",
        "MemoryHigh",
        "IOWeight",
        "TasksMax",
};

const char *limit_prop_name(unsigned i) {
        return i < LIMIT_PROP_MAX ? limit_prop_names[i] : NULL;
}

bool limit_get(const LimitValues *v, unsigned i, uint64_t *ret) {
        switch (i) {
        case 0:
                *ret = v->cpu_quota_per_sec_usec;
                return v->has_cpu_quota;
        case 1:
                *ret = v->memory_high_bytes;
                return v->has_memory_high;
        case 2:
                *ret = v->io_weight;
                return v->has_io_weight;
        case 3:
                *ret = v->tasks_max;
                return v->has_tasks_max;
        default:
                return false;
        }
}

void limit_set(LimitValues *v, unsigned i, uint64_t value) {
        switch (i) {
        case 0:
                v->cpu_quota_per_sec_usec = value;
                v->has_cpu_quota = true;
                break;
        case 1:
                v->memory_high_bytes = value;
                v->has_memory_high = true;
                break;
        case 2:
                v->io_weight = value;
                v->has_io_weight = true;
                break;
        case 3:
                v->tasks_max = value;
                v->has_tasks_max = true;
                break;
        default:
                break;
        }
}

int remediation_undo_to_json(const ActionUndo *u, char **ret) {
        _cleanup_(json_decrefp) json_t *o = json_object();
        int r = 0;

        if (!u || !ret)
                return -EINVAL;
        if (!o)
                return -ENOMEM;
        r |= json_object_set_new(o, "version", json_integer(1));
        r |= json_object_set_new(o, "kind", json_string(u->kind == UNDO_HAPROXY ? "haproxy" : "limit"));
        if (u->timeout_usec > 0 && u->timeout_usec <= (usec_t) INT64_MAX)
                r |= json_object_set_new(o, "timeout_usec", json_integer((json_int_t) u->timeout_usec));
        if (u->kind == UNDO_HAPROXY) {
                if (u->socket)
                        r |= json_object_set_new(o, "socket", json_string(u->socket));
                if (u->address)
                        r |= json_object_set_new(o, "address", json_string(u->address));
                r |= json_object_set_new(o, "server", json_string(u->server));
                if (u->state != HAPROXY_STATE_NONE)
                        r |= json_object_set_new(o, "state", json_string(haproxy_state_name(u->state)));
                else
                        r |= json_object_set_new(o, "weight", json_integer(u->weight));
        } else {
                json_t *props = json_object();
                r |= json_object_set_new(o, "unit", json_string(u->unit));
                r |= json_object_set_new(o, "properties", props);
                if (!props)
                        return -ENOMEM;
                for (unsigned i = 0; i < LIMIT_PROP_MAX; i++) {
                        uint64_t value;
                        if (!limit_get(&u->limits, i, &value))
                                continue;
                        json_t *v = u64_to_json(value);
                        if (!v)
                                return -ERANGE;
                        r |= json_object_set_new(props, limit_prop_names[i], v);
                }
        }
        /* json_object_set_new() returns -1 for a NULL value, which is how an allocation failure shows. */
        if (r != 0)
                return -ENOMEM;
        *ret = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        return *ret ? 0 : -ENOMEM;
}

static bool keys_known(const json_t *o, const char *const *known, size_t n) {
        const char *key;
        json_t *v;

        json_object_foreach((json_t *) o, key, v) {
                bool found = false;
                for (size_t i = 0; i < n; i++)
                        if (streq(key, known[i]))
                                found = true;
                if (!found)
                        return false;
        }
        return true;
}

static const char *opt_string(const json_t *o, const char *key, bool *bad) {
        json_t *v = json_object_get(o, key);
        if (!v)
                return NULL;
        if (!json_is_string(v)) {
                *bad = true;
                return NULL;
        }
        return json_string_value(v);
}

int remediation_undo_from_json(const char *text, ActionUndo **ret) {
        _cleanup_(json_decrefp) json_t *o = NULL;
        json_error_t err;
        bool bad = false;
        usec_t timeout = 0;
        json_t *v;

        if (!text || !ret)
                return -EINVAL;
        o = json_loads(text, JSON_REJECT_DUPLICATES, &err);
        if (!o || !json_is_object(o))
                return -EINVAL;
        v = json_object_get(o, "version");
        if (!json_is_integer(v) || json_integer_value(v) != 1)
                return -EINVAL;
        v = json_object_get(o, "timeout_usec");
        if (v) {
                if (!json_is_integer(v) || json_integer_value(v) <= 0)
                        return -EINVAL;
                timeout = (usec_t) json_integer_value(v);
        }
        const char *kind = opt_string(o, "kind", &bad);
        if (bad || !kind)
                return -EINVAL;

        if (streq(kind, "haproxy")) {
                static const char *const known[] = { "version", "kind",   "timeout_usec", "socket",
                                                     "address", "server", "state",        "weight" };
                if (!keys_known(o, known, ELEMENTSOF(known)))
                        return -EINVAL;
                const char *socket = opt_string(o, "socket", &bad), *address = opt_string(o, "address", &bad),
                           *server = opt_string(o, "server", &bad), *state = opt_string(o, "state", &bad);
                json_t *w = json_object_get(o, "weight");
                HaproxyState s = HAPROXY_STATE_NONE;
                int weight = -1;
                if (bad || !server || (!!state == !!w))
                        return -EINVAL;
                if (state) {
                        if (streq(state, "ready"))
                                s = HAPROXY_STATE_READY;
                        else if (streq(state, "drain"))
                                s = HAPROXY_STATE_DRAIN;
                        else if (streq(state, "maint"))
                                s = HAPROXY_STATE_MAINT;
                        else
                                return -EINVAL;
                } else {
                        if (!json_is_integer(w) || json_integer_value(w) < 0 || json_integer_value(w) > 256)
                                return -EINVAL;
                        weight = (int) json_integer_value(w);
                }
                return action_undo_new_haproxy(socket, address, server, s, weight, timeout, ret);
        }

        if (streq(kind, "limit")) {
                static const char *const known[] = { "version", "kind", "timeout_usec", "unit", "properties" };
                LimitValues lv = {};
                if (!keys_known(o, known, ELEMENTSOF(known)))
                        return -EINVAL;
                const char *unit = opt_string(o, "unit", &bad);
                json_t *props = json_object_get(o, "properties");
                if (bad || !unit || !json_is_object(props))
                        return -EINVAL;
                const char *key;
                json_object_foreach(props, key, v) {
                        bool found = false;
                        for (unsigned i = 0; i < LIMIT_PROP_MAX; i++)
                                if (streq(key, limit_prop_names[i])) {
                                        uint64_t value;
                                        if (u64_from_json(v, &value) < 0)
                                                return -EINVAL;
                                        limit_set(&lv, i, value);
                                        found = true;
                                }
                        if (!found)
                                return -EINVAL;
                }
                return action_undo_new_limit(unit, &lv, timeout, ret);
        }
        return -EINVAL;
}

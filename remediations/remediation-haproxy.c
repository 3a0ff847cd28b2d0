/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Traffic shift through HAProxy's runtime API (the stats socket at level admin, a unix socket or TCP):
 * `set server B/S state drain|maint|ready` or `set weight B/S N`, undone later by restoring the state or
 * weight the server had before. One command per connection (HAProxy's non-interactive mode answers and
 * closes), four round trips, each its own phase:
 *
 *   GET_WEIGHT ("get weight B/S": proves the server exists, or yields HAProxy's own "No such server.")
 *     -> READ_STATE ("show servers state B": admin flags and user weight before)
 *     -> decide (already so: skipped without undo; dry run ends here)
 *     -> SET -> VERIFY ("show servers state B" again) -> finished
 *
 * A `set` answer is empty on success; any text is HAProxy's error message and becomes the failure.
 * The undo restores the previous admin state (normally ready: never a drain an operator had set).
 */
#include <stdio.h>
#include <string.h>

#include "remediation-internal.h"
#include "util.h"

#define HAPROXY_MAX_REPLY (1024 * 1024)

/* From HAProxy's server-t.h: the admin-state flags shown by `show servers state`. */
#define SRV_ADMF_FMAINT 0x01u
#define SRV_ADMF_IMAINT 0x02u
#define SRV_ADMF_CMAINT 0x04u
#define SRV_ADMF_FDRAIN 0x08u
#define SRV_ADMF_IDRAIN 0x10u
#define SRV_ADMF_RMAINT 0x20u
#define SRV_ADMF_HMAINT 0x40u
#define SRV_ADMF_ANY_MAINT \
        (SRV_ADMF_FMAINT | SRV_ADMF_IMAINT | SRV_ADMF_CMAINT | SRV_ADMF_RMAINT | SRV_ADMF_HMAINT)

typedef enum HaproxyPhase {
        HAPROXY_PHASE_GET_WEIGHT,
        HAPROXY_PHASE_READ_STATE,
        HAPROXY_PHASE_SET,
        HAPROXY_PHASE_VERIFY,
        _HAPROXY_PHASE_MAX,
} HaproxyPhase;

typedef struct HaproxyAction {
        HaproxyPhase phase;
        SockAddress addr;
        char *server;            /* backend/server */
        char *backend;           /* the part before the slash */
        HaproxyState want_state; /* NONE: set the weight */
        int want_weight;
        bool is_undo;
        HaproxyServerState before;
        SockRequest *req;
        char *command; /* the command in flight, for messages */
} HaproxyAction;

const char *haproxy_state_name(HaproxyState s) {
        switch (s) {
        case HAPROXY_STATE_DRAIN:
                return "drain";
        case HAPROXY_STATE_MAINT:
                return "maint";
        case HAPROXY_STATE_READY:
                return "ready";
        default:
                return "none";
        }
}

HaproxyState haproxy_state_from_admin(unsigned admin_state) {
        if (admin_state & SRV_ADMF_ANY_MAINT)
                return HAPROXY_STATE_MAINT;
        if (admin_state & (SRV_ADMF_FDRAIN | SRV_ADMF_IDRAIN))
                return HAPROXY_STATE_DRAIN;
        return HAPROXY_STATE_READY;
}

/* Whether the forced flags we set say the server is in the state we asked for. */
static bool admin_is(unsigned admin_state, HaproxyState s) {
        switch (s) {
        case HAPROXY_STATE_MAINT:
                return admin_state & SRV_ADMF_FMAINT;
        case HAPROXY_STATE_DRAIN:
                return (admin_state & SRV_ADMF_FDRAIN) && !(admin_state & SRV_ADMF_FMAINT);
        case HAPROXY_STATE_READY:
                return !(admin_state & (SRV_ADMF_FMAINT | SRV_ADMF_FDRAIN));
        default:
                return false;
        }
}

bool haproxy_server_name_valid(const char *s) {
        const char *slash;

        if (!s || strlen(s) > 200)
                return false;
        slash = strchr(s, '/');
        if (!slash || slash == s || slash[1] == 0 || strchr(slash + 1, '/'))
                return false;
        for (const char *p = s; *p; p++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/", *p))
                        return false;
        return true;
}

char *haproxy_reply_error(const char *reply) {
        const char *p = reply, *end;

        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
                p++;
        if (*p == 0)
                return NULL;
        end = p + strcspn(p, "\r\n");
        return text_excerpt(p, (size_t) (end - p), 200);
}

/* Split one line into whitespace-separated fields (at most max); returns the count. */
static size_t split_fields(const char *line, size_t len, const char **fields, size_t *lens, size_t max) {
        size_t n = 0, i = 0;

        while (i < len && n < max) {
                while (i < len && (line[i] == ' ' || line[i] == '\t'))
                        i++;
                if (i >= len)
                        break;
                size_t start = i;
                while (i < len && line[i] != ' ' && line[i] != '\t')
                        i++;
                fields[n] = line + start;
                lens[n] = i - start;
                n++;
        }
        return n;
}

static bool field_eq(const char *f, size_t len, const char *s, size_t slen) {
        return len == slen && memcmp(f, s, len) == 0;
}

static int field_uint(const char *f, size_t len, unsigned *ret) {
        char buf[24];
        uint64_t v;

        if (len == 0 || len >= sizeof(buf))
                return -EBADMSG;
        memcpy(buf, f, len);
        buf[len] = 0;
        if (safe_atou64(buf, &v) < 0 || v > UINT32_MAX)
                return -EBADMSG;
        *ret = (unsigned) v;
        return 0;
}

int haproxy_parse_servers_state(const char *reply, const char *server, HaproxyServerState *ret) {
        const char *slash = strchr(server, '/');
        const char *p = reply;
        bool version_seen = false;

        if (!slash)
                return -EINVAL;
        size_t blen = (size_t) (slash - server), slen = strlen(slash + 1);

        while (*p) {
                size_t len = strcspn(p, "\n");
                const char *line = p;
                p += len;
                if (*p == '\n')
                        p++;
                if (len > 0 && line[len - 1] == '\r')
                        len--;
                if (len == 0 || line[0] == '#')
                        continue;
                if (!version_seen) {
                        /* Format version 1 is the only one HAProxy has. */
                        if (!(len == 1 && line[0] == '1'))
                                return -EBADMSG;
                        version_seen = true;
                        continue;
                }
                const char *f[9];
                size_t fl[9];
                if (split_fields(line, len, f, fl, ELEMENTSOF(f)) < 8)
                        return -EBADMSG;
                if (!field_eq(f[1], fl[1], server, blen) || !field_eq(f[3], fl[3], slash + 1, slen))
                        continue;
                HaproxyServerState st;
                if (field_uint(f[5], fl[5], &st.op_state) < 0 ||
                    field_uint(f[6], fl[6], &st.admin_state) < 0 || field_uint(f[7], fl[7], &st.uweight) < 0)
                        return -EBADMSG;
                *ret = st;
                return 0;
        }
        return version_seen ? -ENOENT : -EBADMSG;
}

static HaproxyAction *ha(Action *a) {
        return a->data;
}

static void haproxy_release(Action *a) {
        HaproxyAction *h = a->data;

        if (!h)
                return;
        sock_request_free(h->req);
        free(h->server);
        free(h->backend);
        free(h->command);
        free(h);
}

static const char *const phase_names[_HAPROXY_PHASE_MAX] = {
        [HAPROXY_PHASE_GET_WEIGHT] = "looking up the server",
        [HAPROXY_PHASE_READ_STATE] = "reading the server state",
        [HAPROXY_PHASE_SET] = "changing the server",
        [HAPROXY_PHASE_VERIFY] = "verifying the change",
};

static void haproxy_timeout(Action *a) {
        HaproxyAction *h = ha(a);
        char buf[DURATION_MAX];

        action_finish(
                a,
                ACTION_OUTCOME_TIMED_OUT,
                -ETIMEDOUT,
                "HAProxy at %s did not answer \"%s\" within %s (%s)",
                h->addr.display,
                strna(h->command),
                format_duration(buf, sizeof(buf), a->timeout_usec),
                phase_names[h->phase]);
}

static const ActionOps haproxy_ops = {
        .name = "haproxy",
        .release = haproxy_release,
        .timeout = haproxy_timeout,
};

static void on_reply(SockRequest *q, int error, const char *reply, size_t len, void *userdata);

static int send_command(Action *a, HaproxyPhase phase, const char *fmt, ...) _printf_(3, 4);
static int send_command(Action *a, HaproxyPhase phase, const char *fmt, ...) {
        HaproxyAction *h = ha(a);
        _cleanup_free_ char *line = NULL;
        va_list ap;
        int r;

        h->req = sock_request_free(h->req);
        free(h->command);
        va_start(ap, fmt);
        r = vasprintf(&h->command, fmt, ap);
        va_end(ap);
        if (r < 0) {
                h->command = NULL;
                return -ENOMEM;
        }
        if (asprintf(&line, "%s\n", h->command) < 0)
                return -ENOMEM;
        h->phase = phase;
        return sock_request_start(
                a->ctx->event, &h->addr, line, SOCK_REPLY_EOF, HAPROXY_MAX_REPLY, on_reply, a, &h->req);
}

static void fail_send(Action *a, int r) {
        HaproxyAction *h = ha(a);
        action_finish(
                a,
                ACTION_OUTCOME_FAILED,
                r,
                "HAProxy at %s: \"%s\" failed: %s",
                h->addr.display,
                strna(h->command),
                errno_text(r));
}

static void describe_want(const HaproxyAction *h, char *buf, size_t len) {
        if (h->want_state != HAPROXY_STATE_NONE)
                (void) snprintf(buf, len, "%s", haproxy_state_name(h->want_state));
        else
                (void) snprintf(buf, len, "weight %d", h->want_weight);
}

static void after_read_state(Action *a) {
        HaproxyAction *h = ha(a);
        HaproxyState now_state = haproxy_state_from_admin(h->before.admin_state);
        char want[32];
        int r;

        action_attr(a, "previous_state", "%s", haproxy_state_name(now_state));
        action_attr_u64(a, "previous_weight", h->before.uweight);
        describe_want(h, want, sizeof(want));

        bool already = h->want_state != HAPROXY_STATE_NONE ? admin_is(h->before.admin_state, h->want_state)
                                                           : h->before.uweight == (unsigned) h->want_weight;
        if (already) {
                action_finish(
                        a,
                        ACTION_OUTCOME_SKIPPED,
                        0,
                        "skipped: %s is already %s%s",
                        h->server,
                        h->want_state != HAPROXY_STATE_NONE ? "in " : "at ",
                        want);
                return;
        }
        if (a->dry_run) {
                action_finish(
                        a,
                        ACTION_OUTCOME_SKIPPED,
                        0,
                        "would set %s to %s (now %s, weight %u)",
                        h->server,
                        want,
                        haproxy_state_name(now_state),
                        h->before.uweight);
                return;
        }
        if (!h->is_undo) {
                ActionUndo *u;
                SockAddress *x = &h->addr;
                bool unix_sock = x->sa.sa_family == AF_UNIX;
                if (h->want_state != HAPROXY_STATE_NONE)
                        r = action_undo_new_haproxy(
                                unix_sock ? x->display : NULL,
                                unix_sock ? NULL : x->display,
                                h->server,
                                now_state,
                                -1,
                                a->timeout_usec,
                                &u);
                else
                        r = action_undo_new_haproxy(
                                unix_sock ? x->display : NULL,
                                unix_sock ? NULL : x->display,
                                h->server,
                                HAPROXY_STATE_NONE,
                                (int) MIN(h->before.uweight, 256u),
                                a->timeout_usec,
                                &u);
                if (r < 0) {
                        action_finish(
                                a,
                                ACTION_OUTCOME_FAILED,
                                r,
                                "could not record the undo for %s: %s",
                                h->server,
                                errno_text(r));
                        return;
                }
                /* From the moment the command leaves, the server may have changed. */
                action_set_undo(a, u);
        }
        if (h->want_state != HAPROXY_STATE_NONE)
                r = send_command(
                        a,
                        HAPROXY_PHASE_SET,
                        "set server %s state %s",
                        h->server,
                        haproxy_state_name(h->want_state));
        else
                r = send_command(a, HAPROXY_PHASE_SET, "set weight %s %d", h->server, h->want_weight);
        if (r < 0) {
                action_set_undo(a, NULL); /* nothing was sent */
                fail_send(a, r);
        }
}

static void after_verify(Action *a, const HaproxyServerState *now_st) {
        HaproxyAction *h = ha(a);
        HaproxyState was = haproxy_state_from_admin(h->before.admin_state);
        char want[32];

        describe_want(h, want, sizeof(want));
        action_attr(a, "state", "%s", haproxy_state_name(haproxy_state_from_admin(now_st->admin_state)));
        action_attr_u64(a, "weight", now_st->uweight);
        bool ok = h->want_state != HAPROXY_STATE_NONE ? admin_is(now_st->admin_state, h->want_state)
                                                      : now_st->uweight == (unsigned) h->want_weight;
        if (!ok) {
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        -EIO,
                        "HAProxy accepted \"%s\" but %s reads back as %s, weight %u",
                        strna(h->command),
                        h->server,
                        haproxy_state_name(haproxy_state_from_admin(now_st->admin_state)),
                        now_st->uweight);
                return;
        }
        if (h->want_state != HAPROXY_STATE_NONE)
                action_finish(
                        a,
                        ACTION_OUTCOME_SUCCEEDED,
                        0,
                        "set %s %sto %s (was %s)",
                        h->server,
                        h->is_undo ? "back " : "",
                        want,
                        haproxy_state_name(was));
        else
                action_finish(
                        a,
                        ACTION_OUTCOME_SUCCEEDED,
                        0,
                        "set the weight of %s %sto %d (was %u)",
                        h->server,
                        h->is_undo ? "back " : "",
                        h->want_weight,
                        h->before.uweight);
}

static void on_reply(SockRequest *q, int error, const char *reply, size_t len, void *userdata) {
        Action *a = userdata;
        HaproxyAction *h = ha(a);
        _cleanup_free_ char *msg = NULL;
        HaproxyServerState st;
        int r;

        if (a->finished)
                return;
        if (error < 0) {
                fail_send(a, error);
                return;
        }

        switch (h->phase) {
        case HAPROXY_PHASE_GET_WEIGHT:
                /* "10 (initial 10)" or an error sentence. */
                if (!(reply[0] >= '0' && reply[0] <= '9')) {
                        msg = haproxy_reply_error(reply);
                        bool gone = msg &&
                                (startswith(msg, "No such server") || startswith(msg, "No such backend"));
                        if (h->is_undo && gone)
                                action_finish(
                                        a,
                                        ACTION_OUTCOME_SKIPPED,
                                        0,
                                        "skipped: %s no longer exists in HAProxy (%s); nothing to restore",
                                        h->server,
                                        msg);
                        else
                                action_finish(
                                        a,
                                        ACTION_OUTCOME_FAILED,
                                        gone ? -ENOENT : -EIO,
                                        "HAProxy: %s: %s",
                                        h->server,
                                        msg ?: "empty reply to get weight");
                        return;
                }
                r = send_command(a, HAPROXY_PHASE_READ_STATE, "show servers state %s", h->backend);
                if (r < 0)
                        fail_send(a, r);
                return;

        case HAPROXY_PHASE_READ_STATE:
        case HAPROXY_PHASE_VERIFY:
                r = haproxy_parse_servers_state(reply, h->server, &st);
                if (r < 0) {
                        msg = haproxy_reply_error(reply);
                        action_finish(
                                a,
                                ACTION_OUTCOME_FAILED,
                                r,
                                "HAProxy: \"%s\" gave %s%s%s",
                                h->command,
                                r == -ENOENT ? "no line for " : "an unreadable answer",
                                r == -ENOENT ? h->server : ": ",
                                r == -ENOENT ? "" : strna(msg));
                        return;
                }
                if (h->phase == HAPROXY_PHASE_READ_STATE) {
                        h->before = st;
                        after_read_state(a);
                } else
                        after_verify(a, &st);
                return;

        case HAPROXY_PHASE_SET:
                msg = haproxy_reply_error(reply);
                if (msg) {
                        /* HAProxy said no: nothing changed. */
                        if (!h->is_undo)
                                action_set_undo(a, NULL);
                        action_finish(
                                a, ACTION_OUTCOME_FAILED, -EIO, "HAProxy refused \"%s\": %s", h->command, msg);
                        return;
                }
                r = send_command(a, HAPROXY_PHASE_VERIFY, "show servers state %s", h->backend);
                if (r < 0)
                        fail_send(a, r);
                return;

        default:
                return;
        }
}

int haproxy_start(
        Action *a, const SockAddress *addr, const char *server, HaproxyState state, int weight, bool is_undo) {
        HaproxyAction *h;
        int r;

        a->ops = &haproxy_ops;
        h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        a->data = h;
        h->addr = *addr;
        h->want_state = state;
        h->want_weight = weight;
        h->is_undo = is_undo;
        h->server = strdup(server);
        if (!h->server)
                return -ENOMEM;
        h->backend = strndup(server, strcspn(server, "/"));
        if (!h->backend)
                return -ENOMEM;
        action_attr(a, "server", "%s", server);
        action_attr(a, "haproxy", "%s", addr->display);

        r = send_command(a, HAPROXY_PHASE_GET_WEIGHT, "get weight %s", server);
        if (r < 0)
                fail_send(a, r);
        return 0;
}

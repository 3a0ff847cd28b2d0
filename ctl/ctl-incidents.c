/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * `homeostatctl incidents`, `homeostatctl incident ID` and `homeostatctl silence`: clients of the incident
 * routes of homeostatd's API (see ctl-incidents.h). The daemon does all the work; this file parses the
 * command line, sends one request and prints the answer for people (or verbatim with --json).
 */
#include <getopt.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl-api.h"
#include "ctl-incidents.h"
#include "macro.h"
#include "strbuf.h"
#include "time-util.h"
#include "util.h"

#define SERIES_COLUMN 44

static const char *str(json_t *o, const char *key) {
        return json_string_value(json_object_get(o, key));
}

/* "2026-11-28T02:30:38.123Z" -> "2026-11-28 02:30:38Z". */
static const char *short_time(const char *rfc3339, char *buf, size_t len) {
        if (!rfc3339 || strlen(rfc3339) < 19) {
                snprintf(buf, len, "-");
                return buf;
        }
        snprintf(buf, len, "%.10s %.8sZ", rfc3339, rfc3339 + 11);
        return buf;
}

/* A measured duration for people: "3.05s" below a minute, whole seconds above ("1m12s"). */
static const char *elapsed(char *buf, size_t len, usec_t d) {
        if (d < USEC_PER_MINUTE) {
                snprintf(buf, len, "%.2f", (double) d / (double) USEC_PER_SEC);
                size_t n = strlen(buf);
                while (n > 0 && buf[n - 1] == '0')
                        buf[--n] = 0;
                if (n > 0 && buf[n - 1] == '.')
                        buf[--n] = 0;
                snprintf(buf + n, len - n, "s");
                return buf;
        }
        return format_duration(buf, len, (d + USEC_PER_SEC / 2) / USEC_PER_SEC * USEC_PER_SEC);
}

static const char *mttr(json_t *v, char *buf, size_t len) {
        if (!json_is_number(v)) {
                snprintf(buf, len, "-");
                return buf;
        }
        double s = json_number_value(v);
        if (!isfinite(s) || s < 0 || s > 1e12) {
                snprintf(buf, len, "?");
                return buf;
        }
        return elapsed(buf, len, (usec_t) llround(s * 1e6));
}

/* Truncate to width code points (UTF-8 aware), marking the cut with an ellipsis. */
static void put_cell(FILE *f, const char *s, size_t width, bool last) {
        size_t cps = 0, bytes = 0, n = strlen(s);

        while (bytes < n) {
                size_t l = 1;
                unsigned char c = (unsigned char) s[bytes];
                if (c >= 0xf0)
                        l = 4;
                else if (c >= 0xe0)
                        l = 3;
                else if (c >= 0xc0)
                        l = 2;
                if (cps + 1 > width && bytes + l < n)
                        break;
                bytes += l;
                cps++;
        }
        if (bytes < n) {
                /* Leave room for the ellipsis. */
                size_t back = bytes;
                while (back > 0 && ((unsigned char) s[back - 1] & 0xc0) == 0x80)
                        back--;
                if (back > 0)
                        back--;
                fprintf(f, "%.*s\u2026", (int) back, s);
                cps = width;
        } else
                fputs(s, f);
        if (!last)
                fprintf(f, "%*s", (int) (width - MIN(width, cps) + 2), "");
}

int ctl_print_incidents(json_t *answer, FILE *f) {
        json_t *list = json_object_get(answer, "incidents"), *i;
        size_t k, rule_w = 4;

        if (!json_is_array(list))
                return -EBADMSG;
        if (json_array_size(list) == 0) {
                fprintf(f, "No incidents.\n");
                return 0;
        }
        json_array_foreach(list, k, i) {
                const char *r = str(i, "rule");
                if (!r || !str(i, "id") || !str(i, "series") || !str(i, "state"))
                        return -EBADMSG;
                rule_w = MAX(rule_w, MIN(strlen(r), (size_t) 32));
        }
        put_cell(f, "ID", 8, false);
        put_cell(f, "RULE", rule_w, false);
        put_cell(f, "SERIES", SERIES_COLUMN, false);
        put_cell(f, "STATE", 11, false);
        put_cell(f, "DETECTED", 20, false);
        put_cell(f, "MTTR", 8, true);
        fputc('\n', f);
        json_array_foreach(list, k, i) {
                char id[9], when[32], m[DURATION_MAX];
                snprintf(id, sizeof(id), "%.8s", str(i, "id"));
                put_cell(f, id, 8, false);
                put_cell(f, str(i, "rule"), rule_w, false);
                put_cell(f, str(i, "series"), SERIES_COLUMN, false);
                put_cell(f, str(i, "state"), 11, false);
                put_cell(f, short_time(str(i, "detected_at"), when, sizeof(when)), 20, false);
                put_cell(f, mttr(json_object_get(i, "mttr_seconds"), m, sizeof(m)), 8, true);
                fputc('\n', f);
        }
        return 0;
}

/* Microseconds of an RFC 3339 time, 0 if absent or unreadable. */
static usec_t parse_at(const char *s) {
        double t;
        if (!s || parse_timestamp(s, strlen(s), &t) < 0 || t <= 0)
                return 0;
        return (usec_t) llround(t * 1e6);
}

int ctl_print_incident(json_t *i, FILE *f) {
        json_t *events = json_object_get(i, "events"), *e;
        char when[32], m[DURATION_MAX];
        usec_t detected;
        size_t k;

        if (!json_is_object(i) || !str(i, "id") || !str(i, "rule") || !str(i, "series") ||
            !str(i, "state") || !json_is_array(events))
                return -EBADMSG;
        detected = parse_at(str(i, "detected_at"));
        fprintf(f, "Incident %s\n", str(i, "id"));
        fprintf(f, "    Rule: %s\n", str(i, "rule"));
        fprintf(f, "  Series: %s\n", str(i, "series"));
        fprintf(f, "    Host: %s\n", strna(str(i, "host")));
        fprintf(f, "   State: %s\n", str(i, "state"));
        fprintf(f, "Detected: %s\n", short_time(str(i, "detected_at"), when, sizeof(when)));
        fprintf(f, "Resolved: %s\n", short_time(str(i, "resolved_at"), when, sizeof(when)));
        fprintf(f,
                "    MTTR: %s%s\n",
                mttr(json_object_get(i, "mttr_seconds"), m, sizeof(m)),
                json_is_number(json_object_get(i, "mttr_seconds"))
                        ? " (detected to the start of the final normal run)"
                        : "");
        fprintf(f, "\nTimeline:\n");
        json_array_foreach(events, k, e) {
                const char *at = str(e, "at"), *kind = str(e, "kind"), *message = str(e, "message");
                json_t *seq = json_object_get(e, "seq");
                char rel[DURATION_MAX + 1] = "";
                usec_t t = parse_at(at);

                if (!at || !kind || !message || !json_is_integer(seq))
                        return -EBADMSG;
                if (detected && t >= detected) {
                        rel[0] = '+';
                        elapsed(rel + 1, sizeof(rel) - 1, t - detected);
                }
                fprintf(f,
                        "%4lld  %.12s  %-9s %-16s %s\n",
                        (long long) json_integer_value(seq),
                        strlen(at) >= 23 ? at + 11 : at,
                        rel,
                        kind,
                        message);
        }
        return 0;
}

int ctl_print_silences(json_t *answer, FILE *f) {
        json_t *list = json_object_get(answer, "silences"), *s;
        size_t k;

        if (!json_is_array(list))
                return -EBADMSG;
        if (json_array_size(list) == 0) {
                fprintf(f, "No silences.\n");
                return 0;
        }
        json_array_foreach(list, k, s) {
                _cleanup_strbuf_ StrBuf match = STRBUF_INIT;
                char until[32];
                json_t *m;
                size_t j;

                if (!str(s, "id") || !str(s, "comment"))
                        return -EBADMSG;
                if (str(s, "rule"))
                        strbuf_printf(&match, "rule=%s", str(s, "rule"));
                json_array_foreach(json_object_get(s, "matchers"), j, m) strbuf_printf(
                        &match,
                        "%s%s%s%s",
                        match.len ? " " : "",
                        strna(str(m, "label")),
                        strna(str(m, "op")),
                        strna(str(m, "value")));
                fprintf(f,
                        "%s  %-6s  until %s  %s  by %s: %s\n",
                        str(s, "id"),
                        json_is_true(json_object_get(s, "active")) ? "active" : "ended",
                        short_time(str(s, "ends_at"), until, sizeof(until)),
                        strbuf_str(&match),
                        strna(str(s, "created_by")),
                        str(s, "comment"));
        }
        return 0;
}

json_t *ctl_parse_matcher(const char *s) {
        static const char *const ops[] = { "!=", "=~", "!~", "=" };
        const char *best = NULL, *op = NULL;

        /* The first operator from the left; at the same place the two-character one wins. */
        for (size_t k = 0; k < ELEMENTSOF(ops); k++) {
                const char *p = strstr(s, ops[k]);
                if (p && (!best || p < best)) {
                        best = p;
                        op = ops[k];
                }
        }
        if (!best || best == s)
                return NULL;
        _cleanup_free_ char *label = strndup(s, (size_t) (best - s));
        if (!label)
                return NULL;
        return json_pack("{s:s, s:s, s:s}", "label", label, "op", op, "value", best + strlen(op));
}

/* Print the body as is (--json) or through a formatter; map the HTTP status to the exit code. */
static int answer(const CtlGlobals *g, long status, const char *body, int (*print)(json_t *, FILE *)) {
        _cleanup_(json_decrefp) json_t *j = NULL;
        json_error_t err;

        if (g->json) {
                fputs(body, stdout);
                if (!endswith(body, "\n"))
                        fputc('\n', stdout);
                return status >= 200 && status < 300 ? 0 : 1;
        }
        j = json_loads(body, 0, &err);
        if (status < 200 || status >= 300) {
                const char *e = j ? str(j, "error") : NULL;
                fprintf(stderr, "homeostatctl: the daemon answered %ld: %s\n", status, e ?: body);
                return status >= 500 ? 2 : 1;
        }
        if (!j) {
                fprintf(stderr, "homeostatctl: the daemon's answer is not JSON: %s\n", err.text);
                return 2;
        }
        if (print(j, stdout) < 0) {
                fprintf(stderr, "homeostatctl: unexpected answer from the daemon (try --json)\n");
                return 2;
        }
        return 0;
}

static int
        request(const CtlGlobals *g,
                const char *method,
                const char *path,
                const char *body,
                int (*print)(json_t *, FILE *)) {
        _cleanup_free_ char *resp = NULL;
        long status = 0;
        int r;

        r = ctl_api_request(g, method, path, body, &status, &resp);
        if (r < 0)
                return 2; /* ctl_api_request said why */
        return answer(g, status, resp, print);
}

static bool hex_id(const char *s, size_t min) {
        size_t n = strlen(s);
        if (n < min || n > 32)
                return false;
        for (size_t k = 0; k < n; k++)
                if (!strchr("0123456789abcdefABCDEF", s[k]))
                        return false;
        return true;
}

int ctl_incidents(int argc, char *argv[], const CtlGlobals *g0) {
        static const struct option options[] = {
                { "open", no_argument, NULL, 'o' },
                { "limit", required_argument, NULL, 'l' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        CtlGlobals g = *g0;
        const char *limit = NULL;
        bool open_only = false;
        char path[128];
        uint64_t n;
        int c;

        argc = ctl_parse_json_flag(argc, argv, &g);
        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'o':
                        open_only = true;
                        break;
                case 'l':
                        if (safe_atou64(optarg, &n) < 0 || n == 0) {
                                fprintf(stderr,
                                        "homeostatctl incidents: --limit takes a positive number, not '%s'\n",
                                        optarg);
                                return 2;
                        }
                        limit = optarg;
                        break;
                case 'h':
                        printf("Usage: homeostatctl incidents [--json] [--open] [--limit N]\n");
                        return 0;
                default:
                        return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "homeostatctl incidents: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }
        snprintf(
                path,
                sizeof(path),
                "/api/v1/incidents%s%s%s%s%s",
                open_only || limit ? "?" : "",
                open_only ? "state=open" : "",
                open_only && limit ? "&" : "",
                limit ? "limit=" : "",
                strempty(limit));
        return request(&g, "GET", path, NULL, ctl_print_incidents);
}

int ctl_incident(int argc, char *argv[], const CtlGlobals *g0) {
        CtlGlobals g = *g0;
        char path[128];

        argc = ctl_parse_json_flag(argc, argv, &g);
        if (argc == 2 && (streq(argv[1], "-h") || streq(argv[1], "--help"))) {
                printf("Usage: homeostatctl incident ID [--json]\n");
                return 0;
        }
        if (argc != 2) {
                fprintf(stderr,
                        "homeostatctl incident: give exactly one incident id (or a unique prefix of it)\n");
                return 2;
        }
        if (!hex_id(argv[1], 4)) {
                fprintf(stderr,
                        "homeostatctl incident: '%s' is not an incident id (4 to 32 hexadecimal digits)\n",
                        argv[1]);
                return 2;
        }
        snprintf(path, sizeof(path), "/api/v1/incidents/%s", argv[1]);
        return request(&g, "GET", path, NULL, ctl_print_incident);
}

static int print_one_silence(json_t *s, FILE *f) {
        _cleanup_(json_decrefp) json_t *wrap = json_pack("{s:[O]}", "silences", s);
        if (!wrap)
                return -ENOMEM;
        return ctl_print_silences(wrap, f);
}

static const char *user_name(char *buf, size_t len) {
        struct passwd *pw = getpwuid(getuid());
        snprintf(buf, len, "%s", pw && pw->pw_name ? pw->pw_name : "");
        if (!buf[0])
                snprintf(buf, len, "uid %u", (unsigned) getuid());
        return buf;
}

int ctl_silence(int argc, char *argv[], const CtlGlobals *g0) {
        enum { ARG_FOR = 0x100, ARG_UNTIL, ARG_COMMENT, ARG_LIST, ARG_EXPIRE };
        static const struct option options[] = {
                { "rule", required_argument, NULL, 'r' },
                { "match", required_argument, NULL, 'm' },
                { "for", required_argument, NULL, ARG_FOR },
                { "until", required_argument, NULL, ARG_UNTIL },
                { "comment", required_argument, NULL, ARG_COMMENT },
                { "list", no_argument, NULL, ARG_LIST },
                { "expire", required_argument, NULL, ARG_EXPIRE },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(json_decrefp) json_t *body = json_object(), *matchers = json_array();
        _cleanup_free_ char *text = NULL;
        CtlGlobals g = *g0;
        const char *duration = NULL, *until = NULL, *comment = NULL, *expire = NULL, *rule = NULL;
        bool list = false;
        char who[128], path[128];
        int c;

        if (!body || !matchers)
                return 2;
        argc = ctl_parse_json_flag(argc, argv, &g);
        optind = 0;
        while ((c = getopt_long(argc, argv, "r:m:h", options, NULL)) >= 0)
                switch (c) {
                case 'r':
                        rule = optarg;
                        break;
                case 'm': {
                        json_t *m = ctl_parse_matcher(optarg);
                        if (!m) {
                                fprintf(stderr,
                                        "homeostatctl silence: --match takes LABEL=VALUE (or !=, =~, !~), not '%s'\n",
                                        optarg);
                                return 2;
                        }
                        json_array_append_new(matchers, m);
                        break;
                }
                case ARG_FOR: {
                        usec_t d;
                        if (parse_duration(optarg, &d, NULL) < 0 || d == 0) {
                                fprintf(stderr,
                                        "homeostatctl silence: --for takes a duration like 30m, 1h or 2d, not '%s'\n",
                                        optarg);
                                return 2;
                        }
                        duration = optarg;
                        break;
                }
                case ARG_UNTIL:
                        until = optarg;
                        break;
                case ARG_COMMENT:
                        comment = optarg;
                        break;
                case ARG_LIST:
                        list = true;
                        break;
                case ARG_EXPIRE:
                        expire = optarg;
                        break;
                case 'h':
                        printf("Usage: homeostatctl silence --rule NAME [--match LABEL=VALUE]... (--for DURATION | --until TIME)\n"
                               "                            [--comment TEXT] [--json]\n"
                               "       homeostatctl silence --list [--json]\n"
                               "       homeostatctl silence --expire ID [--json]\n");
                        return 0;
                default:
                        return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "homeostatctl silence: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }
        if (list + !!expire > 1 ||
            ((list || expire) && (rule || json_array_size(matchers) || duration || until))) {
                fprintf(stderr, "homeostatctl silence: --list and --expire stand alone\n");
                return 2;
        }
        if (list)
                return request(&g, "GET", "/api/v1/silences", NULL, ctl_print_silences);
        if (expire) {
                if (!hex_id(expire, 32)) {
                        fprintf(stderr,
                                "homeostatctl silence: '%s' is not a silence id (32 hexadecimal digits)\n",
                                expire);
                        return 2;
                }
                snprintf(path, sizeof(path), "/api/v1/silences/%s", expire);
                return request(&g, "DELETE", path, NULL, print_one_silence);
        }
        if (!rule && json_array_size(matchers) == 0) {
                fprintf(stderr, "homeostatctl silence: give --rule NAME and/or --match LABEL=VALUE\n");
                return 2;
        }
        if (!!duration == !!until) {
                fprintf(stderr, "homeostatctl silence: give exactly one of --for DURATION and --until TIME\n");
                return 2;
        }
        user_name(who, sizeof(who));
        if ((rule && json_object_set_new(body, "rule", json_string(rule)) < 0) ||
            (json_array_size(matchers) > 0 && json_object_set(body, "matchers", matchers) < 0) ||
            json_object_set_new(body, duration ? "duration" : "ends_at", json_string(duration ?: until)) < 0 ||
            json_object_set_new(body, "created_by", json_string(who)) < 0)
                return 2;
        char dflt[192];
        snprintf(dflt, sizeof(dflt), "silenced by %s with homeostatctl", who);
        if (json_object_set_new(body, "comment", json_string(comment ?: dflt)) < 0) {
                fprintf(stderr, "homeostatctl silence: the comment is not valid UTF-8\n");
                return 2;
        }
        text = json_dumps(body, JSON_COMPACT);
        if (!text)
                return 2;
        return request(&g, "POST", "/api/v1/silences", text, print_one_silence);
}

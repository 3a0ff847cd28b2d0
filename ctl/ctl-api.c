/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * `homeostatctl status` and `homeostatctl reload`: thin clients of homeostatd's HTTP API over its unix
 * socket (libcurl with CURLOPT_UNIX_SOCKET_PATH; blocking is fine in a command-line tool). With --json they
 * print exactly what the API returned; otherwise a summary for people.
 *
 * reload is what homeostat.service's ExecReload= runs, synchronously: it prints the outcome and the
 * configuration diagnostics and exits 0 when the new configuration is in force, 1 when homeostatd refused
 * it (the old one keeps running; systemctl reload then fails and says so), 2 when the daemon cannot be
 * reached.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "ctl-api.h"
#include "macro.h"
#include "strbuf.h"

#define CTL_API_TIMEOUT_SEC 60L /* a reload parses the whole configuration; status is instant */
#define CTL_API_MAX_BYTES (64U * 1024U * 1024U)

static size_t on_body(char *p, size_t size, size_t n, void *userdata) {
        StrBuf *b = userdata;
        size_t len = size * n;

        if (b->len + len > CTL_API_MAX_BYTES || strbuf_append(b, p, len) < 0)
                return 0; /* makes curl fail with CURLE_WRITE_ERROR */
        return len;
}

static const char *socket_path(const CtlGlobals *g) {
        const char *api = g->api ?: CTL_DEFAULT_API;
        return startswith(api, "unix:") ?: api;
}

int ctl_api_request(
        const CtlGlobals *g,
        const char *method,
        const char *path,
        const char *body,
        long *ret_status,
        char **ret_body) {
        _cleanup_strbuf_ StrBuf resp = STRBUF_INIT;
        char url[512], errbuf[CURL_ERROR_SIZE] = "";
        struct curl_slist *headers = NULL;
        const char *sock = socket_path(g);
        long status = 0, os_errno = 0;
        CURLcode cc;
        CURL *c;

        if (snprintf(url, sizeof(url), "http://localhost%s", path) >= (int) sizeof(url))
                return -ENAMETOOLONG;
        c = curl_easy_init();
        if (!c)
                return -ENOMEM;
        (void) curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
        (void) curl_easy_setopt(c, CURLOPT_URL, url);
        (void) curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
        (void) curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        (void) curl_easy_setopt(c, CURLOPT_TIMEOUT, CTL_API_TIMEOUT_SEC);
        (void) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        (void) curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        (void) curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
        (void) curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        (void) curl_easy_setopt(c, CURLOPT_USERAGENT, "homeostatctl/" PROJECT_VERSION);
        if (body || !streq(method, "GET")) {
                headers = curl_slist_append(headers, "Content-Type: application/json");
                (void) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
                (void) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ?: "");
                (void) curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(body ?: ""));
        }
        cc = curl_easy_perform(c);
        (void) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        (void) curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
        curl_slist_free_all(headers);
        curl_easy_cleanup(c);

        if (cc != CURLE_OK) {
                if (cc == CURLE_COULDNT_CONNECT)
                        fprintf(stderr,
                                "homeostatctl: cannot reach homeostatd at %s: %s (is it running? another socket "
                                "can be given with --api unix:PATH)\n",
                                sock,
                                os_errno > 0 ? strerror((int) os_errno) : "connection failed");
                else
                        fprintf(stderr,
                                "homeostatctl: request to homeostatd at %s failed: %s\n",
                                sock,
                                errbuf[0] ? errbuf : curl_easy_strerror(cc));
                return -ECONNREFUSED;
        }
        if (strbuf_failed(&resp))
                return -ENOMEM;
        *ret_status = status;
        *ret_body = strbuf_steal(&resp);
        return *ret_body ? 0 : -ENOMEM;
}

/* Parse a JSON answer, or explain why it is not one. */
static json_t *parse_answer(const char *body, const CtlGlobals *g) {
        json_error_t err;
        json_t *j = json_loads(body, 0, &err);

        if (!j || !json_is_object(j)) {
                fprintf(stderr,
                        "homeostatctl: homeostatd at %s answered something that is not a JSON object: %s\n",
                        socket_path(g),
                        j ? "not an object" : err.text);
                json_decref(j);
                return NULL;
        }
        return j;
}

static const char *jstr(json_t *o, const char *key) {
        const char *s = json_string_value(json_object_get(o, key));
        return s ?: "";
}

static json_int_t jint(json_t *o, const char *key) {
        return json_integer_value(json_object_get(o, key));
}

static double jnum(json_t *o, const char *key) {
        return json_number_value(json_object_get(o, key));
}

static void print_duration(double sec) {
        uint64_t s = sec > 0 ? (uint64_t) sec : 0;

        if (s >= 86400)
                printf("%" PRIu64 "d%" PRIu64 "h", s / 86400, (s % 86400) / 3600);
        else if (s >= 3600)
                printf("%" PRIu64 "h%" PRIu64 "m", s / 3600, (s % 3600) / 60);
        else if (s >= 60)
                printf("%" PRIu64 "m%" PRIu64 "s", s / 60, s % 60);
        else
                printf("%" PRIu64 "s", s);
}

static void print_status(json_t *j) {
        json_t *lag = json_object_get(j, "loop_lag"), *rl = json_object_get(j, "last_reload");
        json_t *samples = json_object_get(j, "samples"), *state = json_object_get(j, "state");
        json_t *sources = json_object_get(j, "sources"), *rules = json_object_get(j, "rules");
        size_t i;
        json_t *v;

        printf("homeostatd %s on %s, pid %" JSON_INTEGER_FORMAT ", up ",
               jstr(j, "version"),
               jstr(j, "host"),
               jint(j, "pid"));
        print_duration(jnum(j, "uptime_seconds"));
        printf("%s\n", json_is_true(json_object_get(j, "dry_run")) ? " (dry run)" : "");
        printf("  status:     %s\n", jstr(j, "status"));
        printf("  config:     %s: %" JSON_INTEGER_FORMAT " rules, %" JSON_INTEGER_FORMAT " sources\n",
               jstr(j, "config"),
               jint(j, "rule_count"),
               jint(j, "source_count"));
        if (rl && !json_is_null(json_object_get(rl, "at")))
                printf("  reload:     %s at %s: %s\n",
                       json_is_true(json_object_get(rl, "ok")) ? "ok" : "FAILED",
                       jstr(rl, "at"),
                       jstr(rl, "message"));
        printf("  series:     %" JSON_INTEGER_FORMAT "\n", jint(j, "series_count"));
        if (samples)
                printf("  samples:    %" JSON_INTEGER_FORMAT " received, %" JSON_INTEGER_FORMAT
                       " evaluated, %" JSON_INTEGER_FORMAT " not finite, %" JSON_INTEGER_FORMAT
                       " out of order\n",
                       jint(samples, "received"),
                       jint(samples, "evaluated"),
                       jint(samples, "skipped_nonfinite"),
                       jint(samples, "skipped_out_of_order"));
        if (lag)
                printf("  loop lag:   %.1f ms (max %.1f ms in the last %.0f s)%s\n",
                       jnum(lag, "current_seconds") * 1000.0,
                       jnum(lag, "max_seconds") * 1000.0,
                       jnum(lag, "window_seconds"),
                       json_is_true(json_object_get(lag, "lagging")) ? ", LAGGING: no actions run" : "");
        if (state && !json_is_null(json_object_get(state, "file")))
                printf("  state:      %s, last saved %s\n",
                       jstr(state, "file"),
                       json_is_null(json_object_get(state, "last_save_at")) ? "never"
                                                                            : jstr(state, "last_save_at"));

        if (json_array_size(sources) > 0) {
                printf("\n  %-24s %-11s %-4s %8s %10s  %s\n",
                       "SOURCE",
                       "KIND",
                       "UP",
                       "SERIES",
                       "FAILURES",
                       "LAST ERROR");
                json_array_foreach(sources, i, v)
                        printf("  %-24s %-11s %-4s %8" JSON_INTEGER_FORMAT " %10" JSON_INTEGER_FORMAT "  %s\n",
                               jstr(v, "name"),
                               jstr(v, "kind"),
                               json_is_true(json_object_get(v, "up")) ? "yes" : "no",
                               jint(v, "series"),
                               jint(v, "failures"),
                               jstr(v, "last_error"));
        }
        if (json_array_size(rules) > 0) {
                printf("\n  %-24s %-10s %-10s %7s %7s\n", "RULE", "DETECTOR", "MODE", "FIRING", "FIRED");
                json_array_foreach(rules, i, v)
                        printf("  %-24s %-10s %-10s %7" JSON_INTEGER_FORMAT " %7" JSON_INTEGER_FORMAT "\n",
                               jstr(v, "name"),
                               jstr(v, "detector"),
                               jstr(v, "mode"),
                               jint(v, "firing"),
                               jint(v, "fired_total"));
        }
}

/* A verb takes no arguments besides --json. */
static int no_more_args(int argc, char *argv[], const char *verb) {
        if (argc > 1) {
                fprintf(stderr,
                        "homeostatctl %s: unexpected argument '%s' (usage: homeostatctl %s [--json])\n",
                        verb,
                        argv[1],
                        verb);
                return -EINVAL;
        }
        return 0;
}

int ctl_status(int argc, char *argv[], const CtlGlobals *g0) {
        CtlGlobals g = *g0;
        _cleanup_free_ char *body = NULL;
        long status;
        json_t *j;

        argc = ctl_parse_json_flag(argc, argv, &g);
        if (no_more_args(argc, argv, "status") < 0)
                return 2;
        if (ctl_api_request(&g, "GET", "/api/v1/status", NULL, &status, &body) < 0)
                return 2;
        if (status != 200) {
                j = json_loads(body, 0, NULL);
                fprintf(stderr,
                        "homeostatctl: homeostatd answered %ld: %s\n",
                        status,
                        j && json_string_value(json_object_get(j, "error"))
                                ? json_string_value(json_object_get(j, "error"))
                                : body);
                json_decref(j);
                return 1;
        }
        if (g.json) {
                fputs(body, stdout);
                return fflush(stdout) == 0 ? 0 : 2;
        }
        j = parse_answer(body, &g);
        if (!j)
                return 2;
        print_status(j);
        json_decref(j);
        return fflush(stdout) == 0 ? 0 : 2;
}

int ctl_reload(int argc, char *argv[], const CtlGlobals *g0) {
        CtlGlobals g = *g0;
        _cleanup_free_ char *body = NULL;
        json_t *j, *diags, *v;
        bool ok;
        long status;
        size_t i;

        argc = ctl_parse_json_flag(argc, argv, &g);
        if (no_more_args(argc, argv, "reload") < 0)
                return 2;
        if (ctl_api_request(&g, "POST", "/api/v1/reload", "{}", &status, &body) < 0)
                return 2;
        j = parse_answer(body, &g);
        if (!j) {
                fprintf(stderr, "homeostatctl: reload: HTTP status %ld\n", status);
                return 2;
        }
        ok = status == 200 && json_is_true(json_object_get(j, "ok"));
        if (g.json)
                fputs(body, stdout);
        else if (json_object_get(j, "error"))
                /* refused before it ran: permission, method, ... */
                fprintf(stderr,
                        "homeostatctl: reload refused by homeostatd (%ld): %s\n",
                        status,
                        jstr(j, "error"));
        else {
                diags = json_object_get(j, "diagnostics");
                json_array_foreach(diags, i, v) fprintf(stderr, "%s\n", json_string_value(v) ?: "");
                fprintf(ok ? stdout : stderr, "%s\n", jstr(j, "message"));
                if (!ok)
                        fprintf(stderr,
                                "homeostatctl: the running configuration (%" JSON_INTEGER_FORMAT
                                " rules) stays in force.\n",
                                jint(j, "rules"));
        }
        json_decref(j);
        if (fflush(stdout) != 0)
                return 2;
        return ok ? 0 : 1;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * http steps: one request to any HTTP API (Consul maintenance mode, Envoy's healthcheck/fail, a load
 * balancer) through the loop's CurlGlue. The method, URL, headers and body are already expanded and
 * validated by the dispatcher. The result carries the status and a short, sanitized excerpt of the
 * response body; never the URL's credentials or query, never header values, never the request body —
 * also not when the API quotes the request back in its answer (those are masked in the excerpt).
 * A dry run validates the URL and stops: there is no side-effect-free way to ask an arbitrary API
 * whether a POST would work.
 *
 * Also here: the text helpers for results (URL redaction, body excerpts), which other families use too.
 */
#include <stdio.h>
#include <string.h>

#include "remediation-internal.h"
#include "util.h"

#define HTTP_EXCERPT_CAPTURE 1024 /* bytes of the body kept; the rest is read and dropped */
#define HTTP_EXCERPT_SHOWN 160

typedef struct HttpAction {
        HttpSpec spec;
        char *redacted;
        CURL *easy;
        struct curl_slist *headers;
        StrBuf body;        /* the first HTTP_EXCERPT_CAPTURE bytes */
        bool body_cut;      /* more came than was kept */
        SecretList secrets; /* what the request carried that the answer must not repeat */
} HttpAction;

void http_spec_done(HttpSpec *s) {
        free(s->method);
        free(s->url);
        strv_free(s->header_lines);
        free(s->body);
        free(s->expect);
        *s = (HttpSpec){};
}

int url_redact(const char *url, char **ret) {
        CURLU *u = curl_url();
        char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL;
        int r = 0;

        if (!u)
                return -ENOMEM;
        if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
                r = -EINVAL;
                goto finish;
        }
        if (!streq(scheme, "http") && !streq(scheme, "https")) {
                r = -EPROTONOSUPPORT;
                goto finish;
        }
        (void) curl_url_get(u, CURLUPART_PORT, &port, 0);
        (void) curl_url_get(u, CURLUPART_PATH, &path, 0);
        (void) curl_url_get(u, CURLUPART_QUERY, &query, 0);
        if (asprintf(
                    ret,
                    "%s://%s%s%s%s%s",
                    scheme,
                    host,
                    port ? ":" : "",
                    strempty(port),
                    path ?: "/",
                    query ? "?…" : "") < 0) {
                *ret = NULL;
                r = -ENOMEM;
        }
finish:
        curl_free(scheme);
        curl_free(host);
        curl_free(port);
        curl_free(path);
        curl_free(query);
        curl_url_cleanup(u);
        return r;
}

char *text_excerpt(const char *s, size_t len, size_t max) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        size_t i = 0;

        while (i < len) {
                if (b.len >= max) {
                        strbuf_puts(&b, "…");
                        break;
                }
                unsigned char c = (unsigned char) s[i];
                if (c == '\n' || c == '\r' || c == '\t') {
                        strbuf_putc(&b, ' ');
                        i++;
                } else if (c < 0x20 || c == 0x7f) {
                        strbuf_putc(&b, '?');
                        i++;
                } else if (c < 0x80) {
                        strbuf_putc(&b, (char) c);
                        i++;
                } else {
                        /* Copy one whole valid UTF-8 sequence, or replace the bad byte. */
                        uint32_t cp;
                        int n = utf8_decode(s + i, len - i, &cp);
                        if (n > 1) {
                                strbuf_append(&b, s + i, (size_t) n);
                                i += (size_t) n;
                        } else {
                                strbuf_putc(&b, '?');
                                i++;
                        }
                }
        }
        if (strbuf_failed(&b))
                return NULL;
        /* Trailing blanks carry no information. */
        while (b.len > 0 && b.data[b.len - 1] == ' ')
                b.data[--b.len] = 0;
        return strbuf_steal(&b);
}

bool http_header_name_valid(const char *s) {
        if (!s || !*s || strlen(s) > 256)
                return false;
        /* RFC 9110 token characters. */
        for (const char *p = s; *p; p++)
                if (!strchr("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
                            *p))
                        return false;
        return true;
}

bool http_method_valid(const char *s) {
        if (!s || !*s || strlen(s) > 32)
                return false;
        for (const char *p = s; *p; p++)
                if (!(*p >= 'A' && *p <= 'Z'))
                        return false;
        return true;
}

static HttpAction *hta(Action *a) {
        return a->data;
}

static char *base64(const char *s) {
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t len = strlen(s);
        char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;

        if (!out)
                return NULL;
        for (size_t i = 0; i < len; i += 3) {
                uint32_t v = (uint32_t) (unsigned char) s[i] << 16;
                if (i + 1 < len)
                        v |= (uint32_t) (unsigned char) s[i + 1] << 8;
                if (i + 2 < len)
                        v |= (unsigned char) s[i + 2];
                *o++ = alphabet[(v >> 18) & 63];
                *o++ = alphabet[(v >> 12) & 63];
                *o++ = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
                *o++ = i + 2 < len ? alphabet[v & 63] : '=';
        }
        *o = 0;
        return out;
}

/* What the request carries that its answer must not repeat into the result (an API's error page may quote
 * the request): the URL's user and password, also as the Basic credentials curl sends for them, its query
 * and fragment; header values; the body. Each also in its token-sized pieces (from 4 bytes; from 8 for
 * the body, whose short words are too likely to be ordinary words of the answer). */
static int collect_secrets(const HttpSpec *spec, SecretList *l) {
        CURLU *u = curl_url();
        char *user = NULL, *password = NULL, *user_raw = NULL, *password_raw = NULL, *query = NULL,
             *fragment = NULL;
        int r = 0;

        if (!u)
                return -ENOMEM;
        if (curl_url_set(u, CURLUPART_URL, spec->url, 0) == CURLUE_OK) {
                (void) curl_url_get(u, CURLUPART_USER, &user, CURLU_URLDECODE);
                (void) curl_url_get(u, CURLUPART_PASSWORD, &password, CURLU_URLDECODE);
                (void) curl_url_get(u, CURLUPART_USER, &user_raw, 0);
                (void) curl_url_get(u, CURLUPART_PASSWORD, &password_raw, 0);
                (void) curl_url_get(u, CURLUPART_QUERY, &query, 0);
                (void) curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0);
        }
        if (user || password) {
                _cleanup_free_ char *pair = NULL, *basic = NULL;
                if (asprintf(&pair, "%s:%s", strempty(user), strempty(password)) < 0)
                        pair = NULL;
                basic = pair ? base64(pair) : NULL;
                if (!basic)
                        r = -ENOMEM;
                else
                        r = secret_list_add(l, basic, "", 1, true);
        }
        const char *parts[] = { user, password, user_raw, password_raw, query, fragment };
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(parts); i++)
                r = secret_list_add(l, parts[i], "&=;", 4, true);
        for (char **line = spec->header_lines; r >= 0 && line && *line; line++) {
                const char *value = strchr(*line, ':');
                value = value ? value + 1 + strspn(value + 1, " ") : "";
                r = secret_list_add(l, value, " \t,;=", 4, true);
        }
        if (r >= 0)
                r = secret_list_add(l, spec->body, " \t\r\n{}[]\":,=&", 8, true);

        curl_free(user);
        curl_free(password);
        curl_free(user_raw);
        curl_free(password_raw);
        curl_free(query);
        curl_free(fragment);
        curl_url_cleanup(u);
        return r;
}

static void http_release(Action *a) {
        HttpAction *h = a->data;

        if (!h)
                return;
        if (h->easy) {
                if (a->ctx && a->ctx->curl)
                        curl_glue_cancel(a->ctx->curl, h->easy);
                curl_easy_cleanup(h->easy);
        }
        curl_slist_free_all(h->headers);
        strbuf_done(&h->body);
        secret_list_done(&h->secrets);
        http_spec_done(&h->spec);
        free(h->redacted);
        free(h);
}

static void http_timeout(Action *a) {
        HttpAction *h = hta(a);
        char buf[DURATION_MAX];

        action_finish(
                a,
                ACTION_OUTCOME_TIMED_OUT,
                -ETIMEDOUT,
                "%s %s did not complete within %s",
                h->spec.method,
                h->redacted,
                format_duration(buf, sizeof(buf), a->timeout_usec));
}

static const ActionOps http_ops = {
        .name = "http",
        .release = http_release,
        .timeout = http_timeout,
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
        HttpAction *h = userdata;
        size_t n = size * nmemb;

        if (n > HTTP_EXCERPT_CAPTURE - h->body.len)
                h->body_cut = true;
        if (h->body.len < HTTP_EXCERPT_CAPTURE)
                if (strbuf_append(&h->body, ptr, MIN(n, HTTP_EXCERPT_CAPTURE - h->body.len)) < 0)
                        return 0;
        return n;
}

static bool status_expected(const HttpSpec *s, long status) {
        if (s->n_expect == 0)
                return status >= 200 && status <= 299;
        for (size_t i = 0; i < s->n_expect; i++)
                if ((long) s->expect[i] == status)
                        return true;
        return false;
}

static void on_done(CurlGlue *g, CURL *easy, CURLcode result, void *userdata) {
        Action *a = userdata;
        HttpAction *h = hta(a);
        _cleanup_free_ char *excerpt = NULL;
        long status = 0;

        if (a->finished)
                return;
        (void) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        if (result != CURLE_OK) {
                /* curl's error buffer may quote the URL; only the code's generic text is used. */
                if (result == CURLE_OPERATION_TIMEDOUT)
                        action_finish(
                                a,
                                ACTION_OUTCOME_TIMED_OUT,
                                -ETIMEDOUT,
                                "%s %s timed out",
                                h->spec.method,
                                h->redacted);
                else
                        action_finish(
                                a,
                                ACTION_OUTCOME_FAILED,
                                -EIO,
                                "%s %s failed: %s",
                                h->spec.method,
                                h->redacted,
                                curl_easy_strerror(result));
                return;
        }
        action_attr_i64(a, "http_status", status);
        /* The capture is ours: mask in place, then cut for display. */
        secret_list_mask(&h->secrets, h->body.data ?: (char *) "", h->body.len, h->body_cut);
        excerpt = text_excerpt(strbuf_str(&h->body), h->body.len, HTTP_EXCERPT_SHOWN);
        if (excerpt && excerpt[0])
                action_attr(a, "response_excerpt", "%s", excerpt);
        if (!status_expected(&h->spec, status))
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        -EIO,
                        "%s %s answered %ld%s%s",
                        h->spec.method,
                        h->redacted,
                        status,
                        excerpt && excerpt[0] ? ": " : "",
                        strempty(excerpt));
        else
                action_finish(
                        a, ACTION_OUTCOME_SUCCEEDED, 0, "%s %s answered %ld", h->spec.method, h->redacted, status);
}

int http_start(Action *a, HttpSpec *spec) {
        HttpAction *h;
        int r;

        a->ops = &http_ops;
        h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        a->data = h;
        h->spec = *spec;
        *spec = (HttpSpec){};
        r = url_redact(h->spec.url, &h->redacted);
        if (r < 0)
                return r;
        r = collect_secrets(&h->spec, &h->secrets);
        if (r < 0)
                return r;
        action_attr(a, "method", "%s", h->spec.method);
        action_attr(a, "url", "%s", h->redacted);
        if (h->spec.header_lines && h->spec.header_lines[0]) {
                /* Header names only: values may be tokens. */
                _cleanup_strbuf_ StrBuf names = STRBUF_INIT;
                for (char **l = h->spec.header_lines; *l; l++) {
                        if (names.len > 0)
                                strbuf_puts(&names, ", ");
                        strbuf_append(&names, *l, strcspn(*l, ":"));
                }
                if (!strbuf_failed(&names))
                        action_attr(a, "header_names", "%s", strbuf_str(&names));
        }

        if (h->spec.body && (streq(h->spec.method, "GET") || streq(h->spec.method, "HEAD"))) {
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        -EINVAL,
                        "%s %s: a %s request cannot carry a body",
                        h->spec.method,
                        h->redacted,
                        h->spec.method);
                return 0;
        }
        if (!a->ctx->curl) {
                action_finish(
                        a,
                        ACTION_OUTCOME_FAILED,
                        -ENOTCONN,
                        "%s %s: no HTTP client on this loop",
                        h->spec.method,
                        h->redacted);
                return 0;
        }
        if (a->dry_run) {
                action_finish(a, ACTION_OUTCOME_SKIPPED, 0, "would %s %s", h->spec.method, h->redacted);
                return 0;
        }

        r = curl_glue_easy_new(h->spec.url, a->timeout_usec, &h->easy);
        if (r < 0)
                return r;
        for (char **l = h->spec.header_lines; l && *l; l++) {
                struct curl_slist *n = curl_slist_append(h->headers, *l);
                if (!n)
                        return -ENOMEM;
                h->headers = n;
        }
        if (curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
            curl_easy_setopt(h->easy, CURLOPT_WRITEDATA, h) != CURLE_OK ||
            (h->headers && curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, h->headers) != CURLE_OK))
                return -EINVAL;

        if (streq(h->spec.method, "GET")) {
                if (curl_easy_setopt(h->easy, CURLOPT_HTTPGET, 1L) != CURLE_OK)
                        return -EINVAL;
        } else if (streq(h->spec.method, "HEAD")) {
                if (curl_easy_setopt(h->easy, CURLOPT_NOBODY, 1L) != CURLE_OK)
                        return -EINVAL;
        } else {
                const char *body = h->spec.body ?: "";
                /* POSTFIELDS makes the request a POST with this body; CUSTOMREQUEST renames the method. */
                if (curl_easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(body)) !=
                            CURLE_OK ||
                    curl_easy_setopt(h->easy, CURLOPT_COPYPOSTFIELDS, body) != CURLE_OK)
                        return -EINVAL;
                if (!streq(h->spec.method, "POST") &&
                    curl_easy_setopt(h->easy, CURLOPT_CUSTOMREQUEST, h->spec.method) != CURLE_OK)
                        return -EINVAL;
        }
        r = curl_glue_add(a->ctx->curl, h->easy, on_done, a);
        if (r < 0)
                return r;
        return 0;
}

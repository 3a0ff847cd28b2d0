/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Resolving and redacting notifier URLs; see notifier-url.h. Parsing is libcurl's own URL parser
 * (curl_url), so what is checked here is exactly what the transfer will use.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notifier-url.h"
#include "strbuf.h"
#include "util.h"

/* A url_file or credential holds one URL; anything much larger is a mistake (a wrong path). */
#define URL_FILE_MAX (64 * 1024)

static void curl_url_cleanupp(CURLU **u) {
        if (*u)
                curl_url_cleanup(*u);
}

static void curl_freep(char **p) {
        if (*p)
                curl_free(*p);
}

int notifier_url_check(const char *url, const char **ret_reason) {
        _cleanup_(curl_url_cleanupp) CURLU *u = NULL;
        _cleanup_(curl_freep) char *scheme = NULL, *host = NULL;
        const char *reason = NULL;
        size_t len;

        if (!url || !*url) {
                reason = "the URL is empty";
                goto fail;
        }
        len = strlen(url);
        if (len > NOTIFIER_URL_MAX) {
                reason = "the URL is too long";
                goto fail;
        }
        if (!utf8_is_valid(url, len, NULL)) {
                reason = "the URL is not valid UTF-8";
                goto fail;
        }
        for (const unsigned char *p = (const unsigned char *) url; *p; p++)
                if (*p <= 0x20 || *p == 0x7F) {
                        reason = "the URL contains whitespace or control characters";
                        goto fail;
                }

        u = curl_url();
        if (!u)
                return -ENOMEM;
        if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
                reason = "the URL cannot be parsed (it needs to look like https://host/path)";
                goto fail;
        }
        if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || !scheme ||
            (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
                reason = "the URL's scheme must be http or https";
                goto fail;
        }
        if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host) {
                reason = "the URL has no host";
                goto fail;
        }
        if (ret_reason)
                *ret_reason = NULL;
        return 0;

fail:
        if (ret_reason)
                *ret_reason = reason;
        return -EINVAL;
}

int notifier_url_redact(const char *url, char **ret) {
        _cleanup_(curl_url_cleanupp) CURLU *u = NULL;
        _cleanup_(curl_freep) char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL,
                                   *user = NULL, *fragment = NULL;
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        bool more;

        u = curl_url();
        if (!u)
                return -ENOMEM;
        if (!url || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
                *ret = strdup("(invalid URL)");
                return *ret ? 0 : -ENOMEM;
        }
        (void) curl_url_get(u, CURLUPART_PORT, &port, 0); /* only when given explicitly */
        (void) curl_url_get(u, CURLUPART_PATH, &path, 0);
        (void) curl_url_get(u, CURLUPART_QUERY, &query, 0);
        (void) curl_url_get(u, CURLUPART_USER, &user, 0);
        (void) curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0);

        more = (path && strcmp(path, "/") != 0 && *path) || query || user || fragment;
        strbuf_printf(&b, "%s://%s", scheme, host);
        if (port)
                strbuf_printf(&b, ":%s", port);
        if (more)
                strbuf_puts(&b, "/\xE2\x80\xA6");
        if (strbuf_failed(&b))
                return -ENOMEM;
        *ret = strbuf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

int notifier_url_endpoint(NotifierKind kind, const char *url, char **ret) {
        static const char api[] = "/api/v2/alerts";
        _cleanup_(curl_url_cleanupp) CURLU *u = NULL;
        _cleanup_(curl_freep) char *path = NULL, *full = NULL;
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        size_t len;

        if (kind != NOTIFIER_ALERTMANAGER) {
                *ret = strdup(url);
                return *ret ? 0 : -ENOMEM;
        }

        u = curl_url();
        if (!u)
                return -ENOMEM;
        if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
                return -EINVAL;
        if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK || !path)
                return -EINVAL;
        len = strlen(path);
        while (len > 0 && path[len - 1] == '/')
                len--;
        strbuf_append(&b, path, len);
        if (!(b.len >= strlen(api) && streq(strbuf_str(&b) + b.len - strlen(api), api)))
                strbuf_puts(&b, api);
        if (strbuf_failed(&b))
                return -ENOMEM;
        if (curl_url_set(u, CURLUPART_PATH, strbuf_str(&b), 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK)
                return -EINVAL;
        *ret = strdup(full);
        return *ret ? 0 : -ENOMEM;
}

bool notifier_credential_name_is_valid(const char *name) {
        return name && *name && strlen(name) <= 255 && !strchr(name, '/') && !streq(name, ".") &&
                !streq(name, "..");
}

static int set_error(char **ret_error, const char *fmt, ...) _printf_(2, 3);
static int set_error(char **ret_error, const char *fmt, ...) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        va_list ap;

        if (!ret_error)
                return 0;
        va_start(ap, fmt);
        (void) strbuf_vprintf(&b, fmt, ap);
        va_end(ap);
        *ret_error = strbuf_failed(&b) ? NULL : strbuf_steal(&b);
        return 0;
}

/* The URL is the first line of the file, with surrounding blanks and a trailing CR removed, so that
 * "echo URL > file", CRLF editors and a final newline all work. Later lines are ignored (room for a
 * comment). `what` describes the source for messages ("url_file /etc/x", "credential \"ops\""). */
static int read_url_file(const char *path, const char *what, char **ret_url, char **ret_error) {
        _cleanup_free_ char *data = NULL;
        const char *reason = NULL;
        size_t size;
        char *start, *end;
        int r;

        r = read_full_file(path, URL_FILE_MAX, &data, &size);
        if (r == -EFBIG) {
                set_error(ret_error, "%s is larger than %u bytes; it should hold one URL", what, URL_FILE_MAX);
                return r;
        }
        if (r < 0) {
                set_error(ret_error, "%s cannot be read: %s", what, strerror(-r));
                return r;
        }
        if (memchr(data, 0, size)) {
                set_error(ret_error, "%s contains a NUL byte; it should hold one URL", what);
                return -EINVAL;
        }
        start = data;
        while (*start == ' ' || *start == '\t')
                start++;
        end = strchrnul(start, '\n');
        while (end > start && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
                end--;
        *end = 0;
        if (!*start) {
                set_error(ret_error, "%s: the first line is empty; it should be the URL", what);
                return -EINVAL;
        }
        r = notifier_url_check(start, &reason);
        if (r < 0) {
                set_error(ret_error, "%s: %s", what, reason ?: "invalid URL");
                return r;
        }
        *ret_url = strdup(start);
        return *ret_url ? 0 : -ENOMEM;
}

int notifier_url_resolve(
        const NotifierConfig *cfg, const char *credentials_dir, char **ret_url, char **ret_error) {
        _cleanup_free_ char *path = NULL, *what = NULL;
        const char *reason = NULL;
        int r;

        if (ret_error)
                *ret_error = NULL;
        if (!cfg || !cfg->url_ref) {
                set_error(ret_error, "no URL source given");
                return -EINVAL;
        }

        switch (cfg->url_from) {
        case URL_FROM_LITERAL:
                r = notifier_url_check(cfg->url_ref, &reason);
                if (r < 0) {
                        set_error(ret_error, "url: %s", reason ?: "invalid URL");
                        return r;
                }
                *ret_url = strdup(cfg->url_ref);
                return *ret_url ? 0 : -ENOMEM;

        case URL_FROM_FILE:
                if (asprintf(&what, "url_file %s", cfg->url_ref) < 0)
                        return -ENOMEM;
                return read_url_file(cfg->url_ref, what, ret_url, ret_error);

        case URL_FROM_CREDENTIAL:
                if (!notifier_credential_name_is_valid(cfg->url_ref)) {
                        set_error(
                                ret_error,
                                "url_credential: \"%s\" is not a valid credential name (no \"/\", not \".\" or \"..\")",
                                cfg->url_ref);
                        return -EINVAL;
                }
                if (!credentials_dir)
                        credentials_dir = secure_getenv("CREDENTIALS_DIRECTORY");
                if (!credentials_dir || !*credentials_dir) {
                        set_error(
                                ret_error,
                                "credential \"%s\": $CREDENTIALS_DIRECTORY is not set; the service needs "
                                "LoadCredential=%s:PATH (or SetCredential=)",
                                cfg->url_ref,
                                cfg->url_ref);
                        return -ENXIO;
                }
                if (asprintf(&path, "%s/%s", credentials_dir, cfg->url_ref) < 0 ||
                    asprintf(&what, "credential \"%s\"", cfg->url_ref) < 0)
                        return -ENOMEM;
                if (access(path, F_OK) < 0 && errno == ENOENT) {
                        set_error(
                                ret_error,
                                "credential \"%s\" not found in $CREDENTIALS_DIRECTORY (%s); the service needs "
                                "LoadCredential=%s:PATH",
                                cfg->url_ref,
                                credentials_dir,
                                cfg->url_ref);
                        return -ENOENT;
                }
                return read_url_file(path, what, ret_url, ret_error);

        default:
                set_error(ret_error, "unknown URL source");
                return -EINVAL;
        }
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The http_probe source: GET a URL with a timeout and report how long it took and whether it answered
 * with a 2xx or 3xx status (redirects are not followed). The body is read and thrown away, up to
 * SOURCE_PROBE_MAX_BYTES. A probe that fails still produces its two samples (success 0 and the time until
 * the failure or the timeout): a dead target is a measurement, not a broken source.
 */
#include <string.h>

#include "source-internal.h"

typedef struct Probe {
        CURL *easy; /* the transfer in flight, or NULL */
        size_t bytes;
        bool too_big;
        char curl_error[CURL_ERROR_SIZE];
} Probe;

static int probe_init(Source *s) {
        s->data = calloc(1, sizeof(Probe));
        return s->data ? 0 : -ENOMEM;
}

static void probe_cancel(Source *s) {
        Probe *p = s->data;

        if (!p->easy)
                return;
        curl_glue_cancel(s->curl, p->easy);
        curl_easy_cleanup(p->easy);
        p->easy = NULL;
}

static void probe_done(Source *s) {
        if (!s->data)
                return;
        probe_cancel(s);
        free(s->data);
        s->data = NULL;
}

static size_t discard_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
        Probe *p = userdata;
        size_t n = size * nmemb;

        if (p->bytes + n > SOURCE_PROBE_MAX_BYTES) {
                p->too_big = true;
                return 0; /* CURLE_WRITE_ERROR */
        }
        p->bytes += n;
        return n;
}

static void on_done(CurlGlue *g, CURL *easy, CURLcode result, void *userdata) {
        Source *s = userdata;
        Probe *p = s->data;
        curl_off_t total_usec = 0;
        long code = 0;
        double duration;
        bool success;

        (void) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
        if (curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &total_usec) != CURLE_OK || total_usec <= 0)
                total_usec = (curl_off_t) (now(CLOCK_MONOTONIC) - s->collection_start);
        curl_easy_cleanup(easy);
        p->easy = NULL;

        duration = (double) total_usec / (double) USEC_PER_SEC;
        success = result == CURLE_OK && code >= 200 && code < 400;
        s->stats.last_bytes = p->bytes;
        if (success)
                s->stats.last_error[0] = 0;
        else {
                s->stats.failures++;
                if (p->too_big)
                        source_set_error(s, "response body larger than %u bytes", SOURCE_PROBE_MAX_BYTES);
                else if (result == CURLE_OPERATION_TIMEDOUT) {
                        char buf[DURATION_MAX];
                        source_set_error(
                                s,
                                "timed out after %s",
                                format_duration(buf, sizeof(buf), s->config.timeout_usec));
                } else if (result != CURLE_OK)
                        source_set_error(
                                s, "%s", p->curl_error[0] ? p->curl_error : curl_easy_strerror(result));
                else
                        source_set_error(s, "HTTP status %ld", code);
        }

        (void) source_emit(
                s, "homeostat_probe_duration_seconds", NULL, 0, SAMPLE_GAUGE, s->collection_t, duration);
        (void) source_emit(
                s, "homeostat_probe_success", NULL, 0, SAMPLE_GAUGE, s->collection_t, success ? 1 : 0);
        source_collection_end(s, 0, NULL);
}

static int probe_collect(Source *s) {
        Probe *p = s->data;
        CURL *easy = NULL;
        int r;

        p->bytes = 0;
        p->too_big = false;
        p->curl_error[0] = 0;
        r = curl_glue_easy_new(s->config.url, s->config.timeout_usec, &easy);
        if (r < 0) {
                source_set_error(s, "cannot set up the request: %s", strerror(-r));
                return r;
        }
        bool set_up = curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard_body) == CURLE_OK &&
                curl_easy_setopt(easy, CURLOPT_WRITEDATA, p) == CURLE_OK &&
                curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, p->curl_error) == CURLE_OK;
        return source_start_request(s, easy, set_up, on_done, &p->easy);
}

const SourceVTable source_http_probe_vtable = {
        .init = probe_init,
        .done = probe_done,
        .collect = probe_collect,
        .cancel = probe_cancel,
        .deadline_slack_usec = USEC_PER_SEC,
};

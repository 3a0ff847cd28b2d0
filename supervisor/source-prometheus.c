/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The prometheus source: scrape a Prometheus text exposition over HTTP with libcurl (through CurlGlue,
 * so the loop never blocks), parse it with prom-text and emit every sample with the source's labels. One
 * scrape at a time; the body is capped after decompression; anything short of a 200 with at least one
 * valid sample is a failed scrape that emits nothing but homeostat_source_up 0.
 */
#include <inttypes.h>
#include <string.h>

#include "source-internal.h"

typedef struct Scrape {
        CURL *easy; /* the transfer in flight, or NULL */
        struct curl_slist *headers;
        CurlBody body;
        PromParser *parser;
        char curl_error[CURL_ERROR_SIZE];
} Scrape;

static int prometheus_init(Source *s) {
        Scrape *sc = calloc(1, sizeof(*sc));
        int r;

        if (!sc)
                return -ENOMEM;
        sc->headers = curl_slist_append(NULL, "Accept: text/plain;version=0.0.4");
        if (!sc->headers) {
                free(sc);
                return -ENOMEM;
        }
        r = prom_parser_new(&sc->parser);
        if (r < 0) {
                curl_slist_free_all(sc->headers);
                free(sc);
                return r;
        }
        sc->body.max_bytes = SOURCE_SCRAPE_MAX_BYTES;
        s->data = sc;
        return 0;
}

static void prometheus_cancel(Source *s) {
        Scrape *sc = s->data;

        if (!sc->easy)
                return;
        curl_glue_cancel(s->curl, sc->easy);
        curl_easy_cleanup(sc->easy);
        sc->easy = NULL;
}

static void prometheus_done(Source *s) {
        Scrape *sc = s->data;

        if (!sc)
                return;
        prometheus_cancel(s);
        prom_parser_free(sc->parser);
        curl_slist_free_all(sc->headers);
        strbuf_done(&sc->body.buf);
        free(sc);
        s->data = NULL;
}

static int on_sample(const PromSample *sample, const char **ret_error, void *userdata) {
        Source *s = userdata;
        double t = sample->has_timestamp ? (double) sample->timestamp_ms / 1000.0 : s->collection_t;
        int r;

        r = source_emit_parsed(s, sample, t, ret_error);
        return r < 0 ? r : 0;
}

/* Parse the body and end the collection. */
static void scrape_finish(Source *s) {
        Scrape *sc = s->data;
        const PromParseStats *ps;
        int r;

        s->stats.last_bytes = sc->body.buf.len;
        prom_parser_begin(sc->parser);
        r = prom_parser_feed(sc->parser, strbuf_str(&sc->body.buf), sc->body.buf.len, on_sample, s);
        ps = prom_parser_get_stats(sc->parser);
        s->stats.bad_lines += ps->bad_lines;

        /* Keep a small buffer for the next scrape, give a large one back. */
        if (sc->body.buf.alloc > 1024 * 1024)
                strbuf_done(&sc->body.buf);
        else
                strbuf_reset(&sc->body.buf);

        if (r < 0) {
                source_collection_end(s, r, "cannot process the response: %s", strerror(-r));
                return;
        }
        if (ps->samples == 0) {
                if (ps->bad_lines > 0)
                        source_collection_end(
                                s,
                                -EBADMSG,
                                "no valid sample in the response (%" PRIu64
                                " bad lines, first at line %" PRIu64 ": %s)",
                                ps->bad_lines,
                                ps->first_bad_line,
                                ps->first_error);
                else
                        source_collection_end(s, -ENODATA, "no sample in the response");
                return;
        }
        if (ps->bad_lines > 0)
                source_set_error(
                        s,
                        "%" PRIu64 " bad lines skipped, first at line %" PRIu64 ": %s",
                        ps->bad_lines,
                        ps->first_bad_line,
                        ps->first_error);
        else
                s->stats.last_error[0] = 0;
        source_collection_end(s, 0, NULL);
}

static void on_done(CurlGlue *g, CURL *easy, CURLcode result, void *userdata) {
        Source *s = userdata;
        Scrape *sc = s->data;
        long code = 0;

        (void) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_cleanup(easy);
        sc->easy = NULL;

        if (sc->body.too_big) {
                strbuf_done(&sc->body.buf);
                source_collection_end(s, -EFBIG, "response larger than %u bytes", SOURCE_SCRAPE_MAX_BYTES);
                return;
        }
        if (result != CURLE_OK) {
                strbuf_done(&sc->body.buf);
                if (result == CURLE_OPERATION_TIMEDOUT) {
                        char buf[DURATION_MAX];
                        source_collection_end(
                                s,
                                -ETIMEDOUT,
                                "timed out after %s",
                                format_duration(buf, sizeof(buf), s->config.timeout_usec));
                } else
                        source_collection_end(
                                s, -EIO, "%s", sc->curl_error[0] ? sc->curl_error : curl_easy_strerror(result));
                return;
        }
        if (code != 200) {
                strbuf_reset(&sc->body.buf);
                source_collection_end(s, -EPROTO, "HTTP status %ld", code);
                return;
        }
        scrape_finish(s);
}

static int prometheus_collect(Source *s) {
        Scrape *sc = s->data;
        CURL *easy = NULL;
        int r;

        strbuf_reset(&sc->body.buf);
        sc->body.too_big = false;
        sc->curl_error[0] = 0;
        r = curl_glue_easy_new(s->config.url, s->config.timeout_usec, &easy);
        if (r < 0) {
                source_set_error(s, "cannot set up the request: %s", strerror(-r));
                return r;
        }
        bool set_up = curl_easy_setopt(easy, CURLOPT_HTTPHEADER, sc->headers) == CURLE_OK &&
                curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "gzip") == CURLE_OK &&
                curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, sc->curl_error) == CURLE_OK &&
                curl_glue_capture_body(easy, &sc->body) >= 0;
        return source_start_request(s, easy, set_up, on_done, &sc->easy);
}

const SourceVTable source_prometheus_vtable = {
        .init = prometheus_init,
        .done = prometheus_done,
        .collect = prometheus_collect,
        .cancel = prometheus_cancel,
        .deadline_slack_usec = USEC_PER_SEC,
};

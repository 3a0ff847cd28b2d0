/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libcurl's multi interface driven by an sd-event loop: one CurlGlue (one CURLM) per loop serves
 * scrapes, probes, webhooks and HTTP remediations. The multi handle's socket callback keeps one
 * sd_event_add_io source per socket curl cares about, its timer callback arms a single time source, and
 * after every wake-up finished transfers are collected and handed to their completion callbacks. Nothing
 * blocks the loop; name resolution happens in curl's resolver thread.
 *
 * This lives in common/ as its own small library (homeostat-event) because remediations/, notifiers/ and
 * supervisor/ all need it and none of them may depend on another.
 */
#pragma once

#include <curl/curl.h>
#include <systemd/sd-event.h>

#include "macro.h"
#include "strbuf.h"
#include "time-util.h"

typedef struct CurlGlue CurlGlue;

/* Called once per transfer when it ends, successfully or not. The easy handle has already been removed
 * from the multi handle; the callback owns it again (free it with curl_easy_cleanup or reuse it). */
typedef void (*CurlDoneCallback)(CurlGlue *g, CURL *easy, CURLcode result, void *userdata);

int curl_glue_new(sd_event *event, CurlGlue **ret);
CurlGlue *curl_glue_free(CurlGlue *g);
DEFINE_TRIVIAL_CLEANUP_FUNC(CurlGlue *, curl_glue_free);

/* Start a transfer. On success the glue holds the easy handle until it completes or curl_glue_cancel()
 * is called. */
int curl_glue_add(CurlGlue *g, CURL *easy, CurlDoneCallback cb, void *userdata);

/* Abort a transfer that is still running; its callback is not called. The caller owns easy again. */
void curl_glue_cancel(CurlGlue *g, CURL *easy);

/* Number of transfers in flight. */
size_t curl_glue_in_flight(const CurlGlue *g);

/* Create an easy handle with homeostat's safe defaults: http/https only (also for redirects), no
 * redirects followed unless asked, CURLOPT_NOSIGNAL, a total timeout, a connect timeout of at most the
 * total, no proxy taken from the environment for loopback, a User-Agent naming homeostat. */
int curl_glue_easy_new(const char *url, usec_t timeout_usec, CURL **ret);

/* A response body collected into memory with a hard cap that also holds for chunked and compressed
 * bodies (checked after decompression in the write callback). When the cap is hit the transfer fails
 * with CURLE_WRITE_ERROR and .too_big is set. */
typedef struct CurlBody {
        StrBuf buf;
        size_t max_bytes;
        bool too_big;
} CurlBody;

/* Point the easy handle's write callback at body. */
int curl_glue_capture_body(CURL *easy, CurlBody *body);

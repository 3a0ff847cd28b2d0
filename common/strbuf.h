/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A growable byte buffer, always NUL-terminated, for building messages, JSON-free text output and
 * Prometheus exposition. Appends report -ENOMEM instead of aborting; after a failed append the buffer
 * keeps what it had and remembers the failure (strbuf_failed()), so a series of appends can be checked once.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>

#include "macro.h"

typedef struct StrBuf {
        char *data;   /* NUL-terminated, NULL until the first append */
        size_t len;   /* bytes used, excluding the NUL */
        size_t alloc; /* bytes allocated */
        bool failed;  /* an append ran out of memory */
} StrBuf;

#define STRBUF_INIT { NULL, 0, 0, false }

int strbuf_reserve(StrBuf *b, size_t extra);
int strbuf_append(StrBuf *b, const char *s, size_t len);
int strbuf_puts(StrBuf *b, const char *s);
int strbuf_putc(StrBuf *b, char c);
int strbuf_printf(StrBuf *b, const char *fmt, ...) _printf_(2, 3);
int strbuf_vprintf(StrBuf *b, const char *fmt, va_list ap) _printf_(2, 0);
void strbuf_reset(StrBuf *b);
void strbuf_done(StrBuf *b);
static inline bool strbuf_failed(const StrBuf *b) {
        return b->failed;
}
/* Hand the string over to the caller (never NULL on success: "" for an empty buffer). */
char *strbuf_steal(StrBuf *b);
static inline const char *strbuf_str(const StrBuf *b) {
        return b->data ?: "";
}

static inline void strbuf_donep(StrBuf *b) {
        strbuf_done(b);
}
#define _cleanup_strbuf_ _cleanup_(strbuf_donep)

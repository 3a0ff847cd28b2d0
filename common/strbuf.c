/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Growable NUL-terminated buffer; see strbuf.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

int strbuf_reserve(StrBuf *b, size_t extra) {
        size_t need;

        if (__builtin_add_overflow(b->len, extra, &need) || __builtin_add_overflow(need, 1, &need)) {
                b->failed = true;
                return -ENOMEM;
        }
        if (need <= b->alloc)
                return 0;
        size_t a = b->alloc ? b->alloc : 64;
        while (a < need) {
                if (a > SIZE_MAX / 2) {
                        a = need;
                        break;
                }
                a *= 2;
        }
        char *n = realloc(b->data, a);
        if (!n) {
                b->failed = true;
                return -ENOMEM;
        }
        if (!b->data)
                n[0] = 0;
        b->data = n;
        b->alloc = a;
        return 0;
}

int strbuf_append(StrBuf *b, const char *s, size_t len) {
        int r = strbuf_reserve(b, len);
        if (r < 0)
                return r;
        memcpy(b->data + b->len, s, len);
        b->len += len;
        b->data[b->len] = 0;
        return 0;
}

int strbuf_puts(StrBuf *b, const char *s) {
        return strbuf_append(b, s, strlen(s));
}

int strbuf_putc(StrBuf *b, char c) {
        return strbuf_append(b, &c, 1);
}

int strbuf_vprintf(StrBuf *b, const char *fmt, va_list ap) {
        va_list aq;
        int k, r;

        r = strbuf_reserve(b, 64);
        if (r < 0)
                return r;
        va_copy(aq, ap);
        k = vsnprintf(b->data + b->len, b->alloc - b->len, fmt, aq);
        va_end(aq);
        if (k < 0)
                return -EINVAL;
        if ((size_t) k >= b->alloc - b->len) {
                r = strbuf_reserve(b, (size_t) k);
                if (r < 0)
                        return r;
                k = vsnprintf(b->data + b->len, b->alloc - b->len, fmt, ap);
                if (k < 0)
                        return -EINVAL;
        }
        b->len += (size_t) k;
        return 0;
}

int strbuf_printf(StrBuf *b, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = strbuf_vprintf(b, fmt, ap);
        va_end(ap);
        return r;
}

void strbuf_reset(StrBuf *b) {
        b->len = 0;
        if (b->data)
                b->data[0] = 0;
        b->failed = false;
}

void strbuf_done(StrBuf *b) {
        free(b->data);
        *b = (StrBuf) STRBUF_INIT;
}

char *strbuf_steal(StrBuf *b) {
        char *s = b->data;
        if (!s)
                s = strdup("");
        *b = (StrBuf) STRBUF_INIT;
        return s;
}

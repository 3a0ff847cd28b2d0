/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Small macros used everywhere: cleanup attributes for scope-bound ownership (in the style of systemd's
 * macro.h), array sizes, min/max, and compiler attributes. Nothing here allocates or has state.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _pure_ __attribute__((pure))
#define _const_ __attribute__((const))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _warn_unused_result_ __attribute__((warn_unused_result))
#define _likely_(x) (__builtin_expect(!!(x), 1))
#define _unlikely_(x) (__builtin_expect(!!(x), 0))
#define _public_ __attribute__((visibility("default")))
#define _noreturn_ __attribute__((noreturn))
#define _fallthrough_ __attribute__((fallthrough))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

#define XCONCATENATE(x, y) x##y
#define CONCATENATE(x, y) XCONCATENATE(x, y)
#define UNIQ_T(x, uniq) CONCATENATE(__unique_prefix_, CONCATENATE(x, uniq))
#define UNIQ __COUNTER__

#define MIN(a, b) __MIN(UNIQ, (a), UNIQ, (b))
#define __MIN(aq, a, bq, b)                                                 \
        __extension__({                                                     \
                const typeof(a) UNIQ_T(A, aq) = (a);                        \
                const typeof(b) UNIQ_T(B, bq) = (b);                        \
                UNIQ_T(A, aq) < UNIQ_T(B, bq) ? UNIQ_T(A, aq) : UNIQ_T(B, bq); \
        })
#define MAX(a, b) __MAX(UNIQ, (a), UNIQ, (b))
#define __MAX(aq, a, bq, b)                                                 \
        __extension__({                                                     \
                const typeof(a) UNIQ_T(A, aq) = (a);                        \
                const typeof(b) UNIQ_T(B, bq) = (b);                        \
                UNIQ_T(A, aq) > UNIQ_T(B, bq) ? UNIQ_T(A, aq) : UNIQ_T(B, bq); \
        })
#define CLAMP(x, lo, hi) MIN(MAX((x), (lo)), (hi))

/* Take ownership of a pointer out of a _cleanup_ variable: returns it and leaves NULL behind. */
#define TAKE_PTR(p)                                \
        __extension__({                            \
                typeof(p) _p = (p);                \
                (p) = NULL;                        \
                _p;                                \
        })

#define TAKE_FD(fd)                                \
        __extension__({                            \
                int _fd = (fd);                    \
                (fd) = -EBADF;                     \
                _fd;                               \
        })

/* Define a cleanup helper "funcp(type *p)" that calls func(*p) when *p is not NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)    \
        static inline void func##p(type *p) {      \
                if (*p)                            \
                        func(*p);                  \
        }

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}

static inline void closep(int *fd) {
        (void) safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) {
        if (*f)
                (void) fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Free a NULL-terminated or counted array of strings. */
static inline void strv_free_n(char **v, size_t n) {
        if (!v)
                return;
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

static inline char **strv_free(char **v) {
        if (!v)
                return NULL;
        for (char **i = v; *i; i++)
                free(*i);
        free(v);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)

#include <string.h>
#define streq(a, b) (strcmp((a), (b)) == 0)
#define strneq(a, b, n) (strncmp((a), (b), (n)) == 0)
static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return streq(a, b);
}

static inline const char *strempty(const char *s) {
        return s ?: "";
}

static inline const char *strna(const char *s) {
        return s ?: "n/a";
}

/* Return the pointer past prefix if s starts with it, else NULL. */
static inline const char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);
        return strncmp(s, prefix, l) == 0 ? s + l : NULL;
}

static inline bool endswith(const char *s, const char *suffix) {
        size_t ls = strlen(s), lx = strlen(suffix);
        return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

/* Overflow-checked size arithmetic for allocations. */
static inline bool size_mul_overflow(size_t a, size_t b, size_t *ret) {
        return __builtin_mul_overflow(a, b, ret);
}

/* Grow *array (of element size sz) so that it has room for at least need elements; doubles capacity. */
int greedy_realloc(void **array, size_t *allocated, size_t need, size_t sz);
#define GREEDY_REALLOC(array, allocated, need) greedy_realloc((void **) &(array), &(allocated), (need), sizeof((array)[0]))

/* Equality of doubles without tripping -Wfloat-equal, for the places where exactness is intended. */
static inline bool double_eq(double a, double b) {
        return !(a < b) && !(a > b);
}

#define FOREACH_ARRAY(i, array, num) for (typeof(array[0]) *i = (array), *_end_##i = (array) + (num); i && i < _end_##i; i++)

#define errno_or_else(fallback) (errno > 0 ? -errno : -(fallback))
#define RET_NERRNO(expr)                           \
        __extension__({                            \
                int _r = (expr);                   \
                _r < 0 ? -errno : _r;              \
        })

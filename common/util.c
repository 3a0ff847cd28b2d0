/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Checked parsing and small helpers; see util.h. parse_double() takes Clinger's exact fast path for the
 * common case (at most 15 significant digits and a small power of ten, where one IEEE multiplication or
 * division is correctly rounded) and falls back to strtod_l() in the "C" locale otherwise, so results are
 * always correctly rounded and never depend on LC_NUMERIC.
 */
#include <fcntl.h>
#include <fnmatch.h>
#include <locale.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

int greedy_realloc(void **array, size_t *allocated, size_t need, size_t sz) {
        size_t a, bytes;
        void *n;

        if (need <= *allocated)
                return 0;
        a = MAX(need, *allocated * 2);
        a = MAX(a, (size_t) 4);
        if (size_mul_overflow(a, sz, &bytes))
                return -ENOMEM;
        n = realloc(*array, bytes);
        if (!n)
                return -ENOMEM;
        *array = n;
        *allocated = a;
        return 0;
}

int safe_atou64(const char *s, uint64_t *ret) {
        uint64_t v = 0;
        const char *p = s;

        if (!s || !*s)
                return -EINVAL;
        for (; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (uint64_t) (*p - '0'), &v))
                        return -ERANGE;
        }
        *ret = v;
        return 0;
}

int safe_atoi64(const char *s, int64_t *ret) {
        uint64_t u;
        bool neg = false;
        int r;

        if (!s)
                return -EINVAL;
        if (*s == '-' || *s == '+') {
                neg = *s == '-';
                s++;
        }
        r = safe_atou64(s, &u);
        if (r < 0)
                return r;
        if (neg) {
                if (u > (uint64_t) INT64_MAX + 1)
                        return -ERANGE;
                *ret = (int64_t) (0 - u);
        } else {
                if (u > (uint64_t) INT64_MAX)
                        return -ERANGE;
                *ret = (int64_t) u;
        }
        return 0;
}

static locale_t c_locale(void) {
        static locale_t loc = (locale_t) 0;
        if (loc == (locale_t) 0)
                loc = newlocale(LC_ALL_MASK, "C", (locale_t) 0);
        return loc;
}

static bool eq_nocase(const char *s, size_t len, const char *word) {
        size_t l = strlen(word);
        return len == l && strncasecmp(s, word, l) == 0;
}

int parse_double(const char *s, size_t len, double *ret) {
        static const double pow10[] = { 1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                        1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                        1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };
        const char *p = s, *end = s + len;
        bool neg = false;
        uint64_t mant = 0;
        int digits = 0, exp10 = 0;
        bool any = false, exact = true;

        if (len == 0)
                return -EINVAL;
        if (*p == '+' || *p == '-') {
                neg = *p == '-';
                p++;
        }
        if (p < end && (*p == 'n' || *p == 'N' || *p == 'i' || *p == 'I')) {
                size_t rest = (size_t) (end - p);
                if (eq_nocase(p, rest, "nan"))
                        *ret = neg ? -NAN : NAN;
                else if (eq_nocase(p, rest, "inf") || eq_nocase(p, rest, "infinity"))
                        *ret = neg ? -INFINITY : INFINITY;
                else
                        return -EINVAL;
                return 0;
        }

        while (p < end && *p >= '0' && *p <= '9') {
                any = true;
                if (mant == 0 && *p == '0') {
                        p++;
                        continue;
                }
                if (digits < 19) {
                        mant = mant * 10 + (uint64_t) (*p - '0');
                        digits++;
                } else {
                        exp10++;
                        if (*p != '0')
                                exact = false;
                }
                p++;
        }
        if (p < end && *p == '.') {
                p++;
                while (p < end && *p >= '0' && *p <= '9') {
                        any = true;
                        if (mant == 0 && *p == '0') {
                                exp10--;
                                p++;
                                continue;
                        }
                        if (digits < 19) {
                                mant = mant * 10 + (uint64_t) (*p - '0');
                                digits++;
                                exp10--;
                        } else if (*p != '0')
                                exact = false;
                        p++;
                }
        }
        if (!any)
                return -EINVAL;
        if (p < end && (*p == 'e' || *p == 'E')) {
                int esign = 1, e = 0;
                p++;
                if (p < end && (*p == '+' || *p == '-')) {
                        esign = *p == '-' ? -1 : 1;
                        p++;
                }
                if (p >= end || *p < '0' || *p > '9')
                        return -EINVAL;
                while (p < end && *p >= '0' && *p <= '9') {
                        if (e < 100000)
                                e = e * 10 + (*p - '0');
                        p++;
                }
                exp10 += esign * e;
        }
        if (p != end)
                return -EINVAL;

        if (exact && mant <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
                double v = (double) mant;
                v = exp10 >= 0 ? v * pow10[exp10] : v / pow10[-exp10];
                *ret = neg ? -v : v;
                return 0;
        }

        /* Slow path: correctly rounded by the C library, in the C locale. */
        char buf[128];
        char *e;
        if (len >= sizeof(buf)) {
                _cleanup_free_ char *copy = strndup(s, len);
                if (!copy)
                        return -ENOMEM;
                *ret = strtod_l(copy, &e, c_locale());
                return *e ? -EINVAL : 0;
        }
        memcpy(buf, s, len);
        buf[len] = 0;
        *ret = strtod_l(buf, &e, c_locale());
        return *e ? -EINVAL : 0;
}

int utf8_decode(const char *str, size_t len, uint32_t *ret_cp) {
        const unsigned char *s = (const unsigned char *) str;
        size_t n;
        uint32_t cp;

        if (len == 0)
                return -EILSEQ;
        if (s[0] < 0x80) {
                *ret_cp = s[0];
                return 1;
        } else if ((s[0] & 0xE0) == 0xC0) {
                n = 2;
                cp = s[0] & 0x1F;
        } else if ((s[0] & 0xF0) == 0xE0) {
                n = 3;
                cp = s[0] & 0x0F;
        } else if ((s[0] & 0xF8) == 0xF0) {
                n = 4;
                cp = s[0] & 0x07;
        } else
                return -EILSEQ;
        if (n > len)
                return -EILSEQ;
        for (size_t k = 1; k < n; k++) {
                if ((s[k] & 0xC0) != 0x80)
                        return -EILSEQ;
                cp = (cp << 6) | (s[k] & 0x3F);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
                return -EILSEQ;
        *ret_cp = cp;
        return (int) n;
}

size_t utf8_encode(uint32_t cp, char out[static 4]) {
        if (cp < 0x80) {
                out[0] = (char) cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (char) (0xC0 | (cp >> 6));
                out[1] = (char) (0x80 | (cp & 0x3F));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (char) (0xE0 | (cp >> 12));
                out[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
                out[2] = (char) (0x80 | (cp & 0x3F));
                return 3;
        }
        out[0] = (char) (0xF0 | (cp >> 18));
        out[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
        out[3] = (char) (0x80 | (cp & 0x3F));
        return 4;
}

bool utf8_is_valid(const char *s, size_t len, size_t *ret_offset) {
        for (size_t i = 0; i < len;) {
                uint32_t cp;
                int n = utf8_decode(s + i, len - i, &cp);
                if (n < 0) {
                        if (ret_offset)
                                *ret_offset = i;
                        return false;
                }
                i += (size_t) n;
        }
        return true;
}

int read_full_file(const char *path, size_t max_bytes, char **ret_data, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        return read_full_fd(fd, max_bytes, ret_data, ret_size);
}

int read_full_fd(int fd, size_t max_bytes, char **ret_data, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, alloc = 0;
        struct stat st;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (S_ISREG(st.st_mode) && (uint64_t) st.st_size > max_bytes)
                return -EFBIG;

        for (;;) {
                if (size + 1 >= alloc) {
                        size_t na = alloc ? alloc * 2 : 4096;
                        if (na > max_bytes + 2)
                                na = max_bytes + 2;
                        if (na <= size + 1)
                                return -EFBIG;
                        char *n = realloc(buf, na);
                        if (!n)
                                return -ENOMEM;
                        buf = n;
                        alloc = na;
                }
                ssize_t k = read(fd, buf + size, alloc - size - 1);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                size += (size_t) k;
                if (size > max_bytes)
                        return -EFBIG;
        }
        if (!buf) {
                buf = malloc(1);
                if (!buf)
                        return -ENOMEM;
        }
        buf[size] = 0;
        *ret_data = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = size;
        return 0;
}

void secret_list_done(SecretList *l) {
        strv_free_n(l->v, l->n);
        *l = (SecretList){};
}

static int secret_list_push(SecretList *l, const char *s, size_t len) {
        char **v, *c;

        for (size_t i = 0; i < l->n; i++)
                if (strlen(l->v[i]) == len && memcmp(l->v[i], s, len) == 0)
                        return 0;
        c = strndup(s, len);
        if (!c)
                return -ENOMEM;
        v = reallocarray(l->v, l->n + 1, sizeof(char *));
        if (!v) {
                free(c);
                return -ENOMEM;
        }
        l->v = v;
        l->v[l->n++] = c;
        return 0;
}

int secret_list_add(SecretList *l, const char *s, const char *delims, size_t min_len, bool whole) {
        int r;

        if (!s || !*s)
                return 0;
        if (whole) {
                r = secret_list_push(l, s, strlen(s));
                if (r < 0)
                        return r;
        }
        for (const char *p = s; *p;) {
                size_t k = strcspn(p, delims);
                if (k >= MAX(min_len, (size_t) 1)) {
                        r = secret_list_push(l, p, k);
                        if (r < 0)
                                return r;
                }
                p += k;
                if (*p)
                        p++;
        }
        return 0;
}

void secret_list_mask(const SecretList *l, char *buf, size_t len, bool truncated) {
        for (size_t i = 0; i < l->n; i++) {
                size_t sl = strlen(l->v[i]);
                char *p = buf, *end = buf + len;

                if (sl == 0)
                        continue;
                while ((size_t) (end - p) >= sl && (p = memmem(p, (size_t) (end - p), l->v[i], sl))) {
                        memset(p, '*', sl);
                        p += sl;
                }
                if (!truncated)
                        continue;
                /* The longest beginning of the secret that buf ends with. */
                for (size_t k = MIN(sl - 1, len); k > 0; k--)
                        if (memcmp(buf + len - k, l->v[i], k) == 0) {
                                memset(buf + len - k, '*', k);
                                break;
                        }
        }
}

size_t string_distance(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        size_t row[65];

        if (lb >= ELEMENTSOF(row) || la >= 64)
                return SIZE_MAX;
        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t prev = row[0];
                row[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t cur = row[j];
                        size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
                        row[j] = MIN(MIN(row[j] + 1, row[j - 1] + 1), prev + cost);
                        prev = cur;
                }
        }
        return row[lb];
}

bool glob_match(const char *pattern, const char *s) {
        return fnmatch(pattern, s, 0) == 0;
}

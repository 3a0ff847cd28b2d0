/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Escaping, truncation and number rendering for chat text; see notifier-text.h.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "notifier-text.h"
#include "time-util.h"
#include "util.h"

#define ELLIPSIS "\xE2\x80\xA6"         /* U+2026 … */
#define EN_DASH "\xE2\x80\x93"          /* U+2013 – */
#define ZERO_WIDTH_SPACE "\xE2\x80\x8B" /* U+200B */
#define GRAVE_LOOKALIKE "\xCB\x8B"      /* U+02CB ˋ, stands in for ` inside code spans */

/* Decode one code point at s[0..len). Invalid or truncated sequences yield U+FFFD and consume one byte,
 * so the output is valid UTF-8 whatever the input. */
static uint32_t decode_or_replace(const char *s, size_t len, size_t *ret_n) {
        uint32_t cp;
        int n = utf8_decode(s, len, &cp);

        if (n < 0) {
                *ret_n = 1;
                return 0xFFFD;
        }
        *ret_n = (size_t) n;
        return cp;
}

static size_t cp_units(uint32_t cp) {
        return cp >= 0x10000 ? 2 : 1;
}

size_t text_units(const char *s, size_t len) {
        size_t units = 0;

        for (size_t i = 0; i < len;) {
                size_t n;
                uint32_t cp = decode_or_replace(s + i, len - i, &n);
                units += cp_units(cp);
                i += n;
        }
        return units;
}

static bool is_control(uint32_t cp) {
        return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0) || cp == 0x2028 || cp == 0x2029;
}

/* The escaped form of one code point. prev and next are its neighbours (0 at either end), needed for
 * "{{" and for underscores: inside a word ("http_requests_total") CommonMark and Discord never read "_" as
 * emphasis, so it stays as it is and names remain readable; elsewhere it is escaped. Output goes to out
 * (at most 8 bytes); returns its length in bytes and its UTF-16 units in *ret_units. */
static bool is_word(uint32_t cp) {
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') || cp >= 0x80;
}

static size_t escape_cp(
        uint32_t prev, uint32_t cp, uint32_t next, TextStyle style, char out[static 8], size_t *ret_units) {
        const char *esc = NULL;
        size_t n;

        if (is_control(cp))
                cp = ' ';

        switch (style) {
        case TEXT_SLACK:
        case TEXT_SLACK_CODE:
                if (cp == '&')
                        esc = "&amp;";
                else if (cp == '<')
                        esc = "&lt;";
                else if (cp == '>')
                        esc = "&gt;";
                else if (cp == '`' && style == TEXT_SLACK_CODE)
                        esc = GRAVE_LOOKALIKE;
                break;
        case TEXT_MARKDOWN:
                if (cp == '@')
                        esc = "@" ZERO_WIDTH_SPACE;
                else if (cp == '_' && is_word(prev) && is_word(next))
                        break;
                else if (cp < 0x80 && strchr("\\`*_[]<>!&|~", (int) cp))
                        goto backslash;
                break;
        case TEXT_MARKDOWN_CODE:
                if (cp == '`')
                        esc = GRAVE_LOOKALIKE;
                break;
        case TEXT_TEAMS:
                if (cp == '{' && next == '{')
                        esc = "{" ZERO_WIDTH_SPACE;
                else if (cp == '_' && is_word(prev) && is_word(next))
                        break;
                else if (cp < 0x80 && strchr("\\`*_[]~", (int) cp))
                        goto backslash;
                break;
        case TEXT_DISCORD:
                if (cp == '_' && is_word(prev) && is_word(next))
                        break;
                if (cp < 0x80 && strchr("\\`*_~|<>[]", (int) cp))
                        goto backslash;
                break;
        case TEXT_PLAIN:
        default:
                break;
        }

        if (esc) {
                n = strlen(esc);
                memcpy(out, esc, n);
                *ret_units = text_units(esc, n);
                return n;
        }
        n = utf8_encode(cp, out);
        *ret_units = cp_units(cp);
        return n;

backslash:
        out[0] = '\\';
        out[1] = (char) cp;
        *ret_units = 2;
        return 2;
}

/* Walk s once; with b == NULL only count the units the escaped whole would take. With b, append escaped
 * characters while they fit into limit units. Returns units produced. */
static size_t escape_walk(StrBuf *b, const char *s, TextStyle style, size_t limit) {
        size_t len = strlen(s), used = 0;
        uint32_t prev = 0;

        for (size_t i = 0; i < len;) {
                size_t n, n2 = 0, units, k;
                uint32_t cp = decode_or_replace(s + i, len - i, &n);
                uint32_t next = i + n < len ? decode_or_replace(s + i + n, len - i - n, &n2) : 0;
                char out[8];

                k = escape_cp(prev, cp, next, style, out, &units);
                if (used + units > limit)
                        break;
                if (b)
                        (void) strbuf_append(b, out, k);
                used += units;
                i += n;
                prev = cp;
        }
        return used;
}

int text_append_escaped(StrBuf *b, const char *s, TextStyle style, size_t max_units) {
        size_t total, used;

        if (!s || max_units == 0)
                return 0;
        total = escape_walk(NULL, s, style, SIZE_MAX);
        if (total <= max_units) {
                used = escape_walk(b, s, style, SIZE_MAX);
        } else {
                used = escape_walk(b, s, style, max_units - 1);
                (void) strbuf_puts(b, ELLIPSIS);
                used++;
        }
        return strbuf_failed(b) ? -ENOMEM : (int) MIN(used, (size_t) INT32_MAX);
}

int text_truncate(const char *s, size_t max_units, char **ret) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        int r;

        r = text_append_escaped(&b, s, TEXT_PLAIN, max_units);
        if (r < 0)
                return r;
        *ret = strbuf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

const char *text_format_number(char *buf, size_t len, double v) {
        double a = fabs(v);

        if (isnan(v))
                snprintf(buf, len, "NaN");
        else if (isinf(v))
                snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
        else if (a >= 999.5 && a < 1e15)
                snprintf(buf, len, "%.0f", v);
        else
                snprintf(buf, len, "%.3g", v);
        /* Whatever LC_NUMERIC the program runs under, a decimal point is a point. */
        for (char *p = buf; *p; p++)
                if (*p == ',')
                        *p = '.';
        return buf;
}

static bool attr_number(const json_t *attrs, const char *key, double *ret) {
        const json_t *v = json_object_get(attrs, key);

        if (!v || !json_is_number(v))
                return false;
        *ret = json_number_value(v);
        return true;
}

const char *text_series_unit(const char *series) {
        static const struct {
                const char *suffix, *unit;
        } table[] = {
                { "_seconds", "s" },
                { "_bytes", "B" },
                { "_percent", "%" },
        };
        size_t len;

        if (!series)
                return NULL;
        len = strcspn(series, "{");
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                size_t sl = strlen(table[i].suffix);
                if (len > sl && memcmp(series + len - sl, table[i].suffix, sl) == 0)
                        return table[i].unit;
        }
        return NULL;
}

/* 1536 -> "1.5 KiB"; below 1024 plain bytes. */
static void append_bytes(StrBuf *b, double v) {
        static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
        char nb[NUMBER_MAX];
        size_t i = 0;
        double a = fabs(v);

        while (isfinite(a) && a >= 1024 && i + 1 < ELEMENTSOF(units)) {
                a /= 1024;
                v /= 1024;
                i++;
        }
        strbuf_printf(b, "%s %s", text_format_number(nb, sizeof(nb), v), units[i]);
}

static void append_quantity(StrBuf *b, double v, const char *unit, bool with_unit) {
        char nb[NUMBER_MAX];

        if (unit && streq(unit, "B")) {
                append_bytes(b, v);
                return;
        }
        strbuf_puts(b, text_format_number(nb, sizeof(nb), v));
        if (unit && with_unit)
                strbuf_printf(b, unit[0] == '%' ? "%s" : " %s", unit);
}

int text_format_measurement(const json_t *attrs, const char *unit, char **ret) {
        _cleanup_strbuf_ StrBuf b = STRBUF_INIT;
        _cleanup_free_ char *own_unit = NULL;
        double value = 0, expected = 0, lower = 0, upper = 0;
        bool has_value, has_expected, has_band;
        const json_t *u;

        *ret = NULL;
        if (!attrs || !json_is_object(attrs))
                return 0;
        has_value = attr_number(attrs, "value", &value);
        has_expected = attr_number(attrs, "expected", &expected);
        has_band = attr_number(attrs, "lower", &lower) && attr_number(attrs, "upper", &upper);
        if (!has_value && !has_expected)
                return 0;

        u = json_object_get(attrs, "value_unit");
        if (u && json_is_string(u) && json_string_length(u) > 0) {
                int r = text_truncate(json_string_value(u), 16, &own_unit);
                if (r < 0)
                        return r;
                unit = own_unit;
        }

        if (has_value)
                append_quantity(&b, value, unit, true);
        if (has_expected) {
                strbuf_puts(&b, has_value ? ", expected " : "expected ");
                append_quantity(&b, expected, unit, true);
                if (has_band) {
                        strbuf_puts(&b, " (");
                        append_quantity(&b, lower, unit, false);
                        strbuf_puts(&b, EN_DASH);
                        append_quantity(&b, upper, unit, false);
                        strbuf_puts(&b, ")");
                }
        } else if (has_band) {
                strbuf_puts(&b, ", expected ");
                append_quantity(&b, lower, unit, false);
                strbuf_puts(&b, EN_DASH);
                append_quantity(&b, upper, unit, true);
        }
        if (strbuf_failed(&b))
                return -ENOMEM;
        *ret = strbuf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

int text_format_clock(const char *rfc3339, char **ret) {
        double t;
        char buf[16];

        if (parse_timestamp(rfc3339, strlen(rfc3339), &t) < 0 || !isfinite(t)) {
                *ret = strdup(rfc3339);
                return *ret ? 0 : -ENOMEM;
        }
        int64_t secs = (int64_t) floor(t);
        int64_t day = ((secs % 86400) + 86400) % 86400;
        snprintf(
                buf,
                sizeof(buf),
                "%02u:%02u:%02u",
                (unsigned) (day / 3600),
                (unsigned) (day % 3600 / 60),
                (unsigned) (day % 60));
        *ret = strdup(buf);
        return *ret ? 0 : -ENOMEM;
}

const char *text_format_seconds(char *buf, size_t len, double seconds) {
        if (!isfinite(seconds) || seconds < 0)
                snprintf(buf, len, "n/a");
        else if (seconds < 10) {
                snprintf(buf, len, "%.1fs", seconds);
                for (char *p = buf; *p; p++)
                        if (*p == ',')
                                *p = '.';
        } else if (seconds >= 1e12)
                snprintf(buf, len, "%.0fs", seconds);
        else
                format_duration(buf, len, (usec_t) llround(seconds) * USEC_PER_SEC);
        return buf;
}

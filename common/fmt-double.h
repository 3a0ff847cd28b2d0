/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Shortest round-trip formatting of doubles, for hot text output (replay CSV, JSON dumps, /metrics).
 * glibc's printf("%.17g") is both slow and not shortest; this writes the fewest decimal digits that parse
 * back (strtod, parse_double) to exactly the same double, using the Schubfach algorithm (R. Giulietti,
 * "The Schubfach way to render doubles", 2020): one 128-bit multiplication per boundary, no loops over
 * digits, no allocation, no locale.
 *
 * Output format (locale-free, no leading '+'):
 *   - integers below 1e21 in plain digits: "0", "-0", "42", "1500000";
 *   - other values in [1e-6, 1e21) in fixed notation: "0.15", "123.456", "0.000001";
 *   - everything else in scientific notation with the shortest exponent: "1e-7", "1.5e+21", "5e-324";
 *   - NaN as "NaN", infinities as "Inf" and "-Inf" (what parse_double and Prometheus accept).
 */
#pragma once

#include <stddef.h>

/* Enough for the longest output ("-2.2250738585072014e-308" is 24 bytes) plus a NUL. */
#define FMT_DOUBLE_MAX 32

/* Write v into buf (at least FMT_DOUBLE_MAX bytes) without a terminating NUL; returns the length. */
size_t fmt_double(char *buf, double v);

/* The same, NUL-terminated, returning buf: for printf("%s") in tests and messages. */
const char *fmt_double_str(char buf[static FMT_DOUBLE_MAX], double v);

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Assorted small helpers: checked number parsing (never atoi/strtol unchecked), locale-free double
 * parsing, UTF-8 validation, reading a whole file with a size cap.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/* Parse a whole string as an unsigned/signed decimal integer. -EINVAL on syntax, -ERANGE on overflow. */
int safe_atou64(const char *s, uint64_t *ret);
int safe_atoi64(const char *s, int64_t *ret);

/* Parse a whole string [s, s+len) as a finite or non-finite double without consulting the locale.
 * Accepts what Prometheus and CSV inputs use: [+-]digits[.digits][e[+-]digits], ".5", "NaN", "+Inf",
 * "-Inf", "Inf" (case-insensitive for the names). -EINVAL if anything is left over. */
int parse_double(const char *s, size_t len, double *ret);

/* Validate UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF). On failure *ret_offset is the
 * offset of the first bad byte. */
bool utf8_is_valid(const char *s, size_t len, size_t *ret_offset);

/* Decode the one UTF-8 sequence that starts s[0..len) (len > 0): returns its length in bytes (1..4) and
 * the code point in *ret_cp, or -EILSEQ for a byte that starts no valid sequence (malformed, overlong,
 * truncated, a surrogate or above U+10FFFF; *ret_cp is untouched). */
int utf8_decode(const char *s, size_t len, uint32_t *ret_cp);

/* Encode a code point (at most U+10FFFF) as UTF-8; returns the number of bytes written to out (1..4). */
size_t utf8_encode(uint32_t cp, char out[static 4]);

/* Read a whole file into a NUL-terminated buffer. -EFBIG if it is larger than max_bytes. */
int read_full_file(const char *path, size_t max_bytes, char **ret_data, size_t *ret_size);
/* The same from an open file descriptor, read from its current position to the end (not closed). */
int read_full_fd(int fd, size_t max_bytes, char **ret_data, size_t *ret_size);

/* Secrets (a webhook URL's path, a query, header values) that a peer may echo in a response we quote. */
typedef struct SecretList {
        char **v;
        size_t n;
} SecretList;

void secret_list_done(SecretList *l);
/* Add the pieces of s between any of the bytes in delims that are at least min_len bytes long, and s
 * itself if `whole` (and it is not empty). */
int secret_list_add(SecretList *l, const char *s, const char *delims, size_t min_len, bool whole);
/* Overwrite with '*' every occurrence of every secret in buf[0..len). When buf was cut off at a size
 * limit (truncated), also the start of a secret that buf ends with, so that no first bytes of a token
 * survive the cut. Mask before shortening a text for display, never after. */
void secret_list_mask(const SecretList *l, char *buf, size_t len, bool truncated);

/* Levenshtein distance, for "did you mean" suggestions. */
size_t string_distance(const char *a, const char *b);

/* Shell-style glob match (fnmatch without flags), for unit globs and targets: allow-lists. */
bool glob_match(const char *pattern, const char *s);

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Selector helpers shared inside rules/ (and with their unit tests). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "rules.h"
#include "strbuf.h"

/* [a-zA-Z_:][a-zA-Z0-9_:]* */
bool metric_name_is_valid(const char *s);
/* [a-zA-Z_][a-zA-Z0-9_]* */
bool label_name_is_valid(const char *s);
/* The first RE2/PCRE-only construct in a regex, with an explanation of the POSIX spelling; NULL if none. */
const char *regex_posix_problem(const char *re, size_t *ret_off);
/* The selector with its matchers sorted and values re-quoted: equal for selectors that mean the same. */
int selector_format_normalized(const Selector *s, StrBuf *b);

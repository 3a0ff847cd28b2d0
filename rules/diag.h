/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Adding to a Diagnostics list from inside rules/. Messages are formatted once, here, and the list is
 * sorted by position (file order, then line, then column) before anyone prints it, so the output reads
 * top to bottom however many passes found the problems.
 */
#pragma once

#include <stdarg.h>

#include "macro.h"
#include "rules.h"

#define DIAGNOSTICS_MAX 1000

/* Add a diagnostic. Never fails visibly: on allocation failure the message is lost but the error is still
 * counted, so an invalid configuration can never look valid. */
void diag_add(Diagnostics *d, Severity sev, Location loc, const char *fmt, ...) _printf_(4, 5);
void diag_addv(Diagnostics *d, Severity sev, Location loc, const char *fmt, va_list ap) _printf_(4, 0);
#define diag_error(d, loc, ...) diag_add((d), SEVERITY_ERROR, (loc), __VA_ARGS__)
#define diag_warning(d, loc, ...) diag_add((d), SEVERITY_WARNING, (loc), __VA_ARGS__)

/* Stable sort: by the index of the file in files[] (unknown files last, in order of appearance), then
 * line, then column. */
void diagnostics_sort(Diagnostics *d, char *const *files, size_t n_files);

/* "file:12:3" (or "file" for the file as a whole) into buf. */
const char *location_to_string(char *buf, size_t size, Location loc);
#define LOCATION_MAX 4200

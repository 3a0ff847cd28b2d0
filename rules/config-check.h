/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * `homeostatctl check` and `homeostatd --check`: validate configurations offline and say so.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Check each path as its own configuration (a file plus rules.d/ beside it, or a directory). Diagnostics go
 * to stderr, one summary line per path to stdout ("PATH: OK: 3 rules, 3 sources, 1 notifier, 2 warnings").
 * strict: warnings make a configuration invalid. Returns the process exit code: 0 all valid, 1 any invalid,
 * 2 any could not be read (2 wins over 1). */
int config_check_main(char **paths, size_t n_paths, bool strict);

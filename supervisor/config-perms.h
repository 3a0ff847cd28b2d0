/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * "StrictModes" for homeostat's configuration. Rules decide which units homeostatd restarts and which
 * commands it runs; running as root, a rule file that another user can write is a way to make homeostatd
 * act as root for them. So, like sshd with StrictModes, homeostatd (when its effective uid is 0) refuses a
 * configuration unless the main file, rules.d/, every drop-in it read, and every directory above them are
 * owned by root and not writable by group or others. The one exception is a directory *above* those that
 * is root-owned and sticky (like /tmp): there nobody else can replace or rename our entries.
 *
 * The check reads metadata only (stat), has no side effects, and reports every problem it finds with the
 * path and the command that fixes it.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "rules.h"

/* Check paths (files or directories, each checked strictly) and all their ancestor directories, both as
 * written and after resolving symlinks. Acceptable owners are root and `owner` (pass 0 for root only).
 * Returns 0 when everything is fine, -EPERM with one human-readable line per problem in *ret_problems
 * (NULL-terminated; may be NULL), or another negative errno if a path cannot be examined (also described
 * in *ret_problems). */
int config_permissions_check(const char *const *paths, size_t n_paths, uid_t owner, char ***ret_problems);

/* The paths a loaded configuration depends on: config_path itself, the rules.d/ directory that belongs
 * to it (if present), and every file in c->files. NULL-terminated. */
int config_permission_paths(const char *config_path, const Config *c, char ***ret);

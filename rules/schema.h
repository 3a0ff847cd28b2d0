/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The schema pass: document trees (node.h) → the model (rules.h). A ConfigBuilder takes the main file and
 * each drop-in in turn, checks every key of every mapping (all problems are reported, each at the column of
 * the offending key or value), fills in the published defaults, and at the end checks what spans files:
 * duplicate names, references to notifiers and sources, templates against selectors, and the warnings.
 */
#pragma once

#include "node.h"
#include "rules.h"

typedef struct ConfigBuilder ConfigBuilder;

int config_builder_new(Diagnostics *diags, ConfigBuilder **ret);
ConfigBuilder *config_builder_free(ConfigBuilder *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(ConfigBuilder *, config_builder_free);

/* Remember a file name; the returned pointer lives as long as the Config (Location.file points at it). */
int config_builder_add_file_name(ConfigBuilder *b, const char *name, const char **ret);
/* Validate one file's tree. is_main: the file must have `rules`. */
int config_builder_add_document(ConfigBuilder *b, const Node *root, bool is_main);
/* A file could not be read or parsed: skip reference checks (what it defined is unknown, so "no notifier
 * named X" would be noise). */
void config_builder_mark_incomplete(ConfigBuilder *b);
/* Cross-file checks, warnings, fingerprints. Hands over the Config (also when errors were found: the
 * caller decides by the diagnostics). */
int config_builder_finish(ConfigBuilder *b, Config **ret);

/* The stable hash of what shapes a rule's detector state. */
uint64_t rule_compute_fingerprint(const Rule *r);

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A string-keyed hash map for interning (series keys, unit names): open addressing with linear probing and
 * backward-shift deletion, so lookups touch one or two cache lines and there are no tombstones. Keys are
 * byte strings with explicit length; the map stores a pointer to the key, which must stay valid while the
 * entry exists (usually the key lives inside the value). Callers pass the hash so that a hash computed
 * once (e.g. while parsing) is reused for lookup and insertion.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

typedef struct HashMap HashMap;

/* A fast, well-mixed 64-bit hash of n bytes (not cryptographic; the seed defends against nothing). */
uint64_t hash_bytes(const void *p, size_t n);

int hashmap_new(HashMap **ret);
/* Frees the table only; keys and values belong to the caller. */
HashMap *hashmap_free(HashMap *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(HashMap *, hashmap_free);

void *hashmap_get(const HashMap *h, const char *key, size_t len, uint64_t hash);
/* Insert; -EEXIST if the key is present (value unchanged), -ENOMEM. */
int hashmap_put(HashMap *h, const char *key, size_t len, uint64_t hash, void *value);
/* Remove and return the value, or NULL if absent. */
void *hashmap_remove(HashMap *h, const char *key, size_t len, uint64_t hash);
size_t hashmap_size(const HashMap *h);

/* Iterate: start with *state = 0; returns false at the end. Do not insert or remove while iterating. */
bool hashmap_iterate(const HashMap *h, size_t *state, const char **ret_key, size_t *ret_len, void **ret_value);

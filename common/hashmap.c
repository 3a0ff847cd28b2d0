/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Open-addressing hash map; see hashmap.h. The table size is a power of two and the load factor stays
 * below 0.75. Each slot caches the full 64-bit hash so that most probes compare one integer and only a
 * real candidate compares key bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"

typedef struct Slot {
        uint64_t hash; /* 0 marks an empty slot; real hashes are forced non-zero */
        const char *key;
        size_t len;
        void *value;
} Slot;

struct HashMap {
        Slot *slots;
        size_t mask; /* capacity - 1 */
        size_t size;
};

static inline uint64_t rd64(const uint8_t *p) {
        uint64_t v;
        memcpy(&v, p, 8);
        return v;
}

static inline uint64_t mix(uint64_t a, uint64_t b) {
        __uint128_t r = (__uint128_t) a * b;
        return (uint64_t) r ^ (uint64_t) (r >> 64);
}

uint64_t hash_bytes(const void *data, size_t n) {
        static const uint64_t k0 = 0xa0761d6478bd642fULL, k1 = 0xe7037ed1a0b428dbULL,
                              k2 = 0x8ebc6af09c88c6e3ULL;
        const uint8_t *p = data;
        uint64_t h = k0 ^ (uint64_t) n;
        size_t i = 0;

        for (; i + 16 <= n; i += 16)
                h = mix(rd64(p + i) ^ k1, rd64(p + i + 8) ^ h);
        if (i + 8 <= n) {
                h = mix(rd64(p + i) ^ k1, h ^ k2);
                i += 8;
        }
        if (i < n) {
                uint64_t tail = 0;
                memcpy(&tail, p + i, n - i);
                h = mix(tail ^ k2, h ^ k1);
        }
        h = mix(h ^ k0, k1 ^ (uint64_t) n);
        return h ? h : 1;
}

static inline uint64_t fix_hash(uint64_t h) {
        return h ? h : 1;
}

int hashmap_new(HashMap **ret) {
        HashMap *h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->slots = calloc(16, sizeof(Slot));
        if (!h->slots) {
                free(h);
                return -ENOMEM;
        }
        h->mask = 15;
        *ret = h;
        return 0;
}

HashMap *hashmap_free(HashMap *h) {
        if (!h)
                return NULL;
        free(h->slots);
        free(h);
        return NULL;
}

static Slot *find(const HashMap *h, const char *key, size_t len, uint64_t hash) {
        for (size_t i = hash & h->mask;; i = (i + 1) & h->mask) {
                Slot *s = &h->slots[i];
                if (s->hash == 0)
                        return NULL;
                if (s->hash == hash && s->len == len && memcmp(s->key, key, len) == 0)
                        return s;
        }
}

void *hashmap_get(const HashMap *h, const char *key, size_t len, uint64_t hash) {
        Slot *s = find(h, key, len, fix_hash(hash));
        return s ? s->value : NULL;
}

static void insert_slot(Slot *slots, size_t mask, const Slot *e) {
        size_t i = e->hash & mask;
        while (slots[i].hash != 0)
                i = (i + 1) & mask;
        slots[i] = *e;
}

static int grow(HashMap *h) {
        size_t cap = (h->mask + 1) * 2;
        Slot *n;

        if (cap > SIZE_MAX / sizeof(Slot))
                return -ENOMEM;
        n = calloc(cap, sizeof(Slot));
        if (!n)
                return -ENOMEM;
        for (size_t i = 0; i <= h->mask; i++)
                if (h->slots[i].hash != 0)
                        insert_slot(n, cap - 1, &h->slots[i]);
        free(h->slots);
        h->slots = n;
        h->mask = cap - 1;
        return 0;
}

int hashmap_put(HashMap *h, const char *key, size_t len, uint64_t hash, void *value) {
        hash = fix_hash(hash);
        if (find(h, key, len, hash))
                return -EEXIST;
        if ((h->size + 1) * 4 > (h->mask + 1) * 3) {
                int r = grow(h);
                if (r < 0)
                        return r;
        }
        Slot e = { .hash = hash, .key = key, .len = len, .value = value };
        insert_slot(h->slots, h->mask, &e);
        h->size++;
        return 0;
}

void *hashmap_remove(HashMap *h, const char *key, size_t len, uint64_t hash) {
        Slot *s = find(h, key, len, fix_hash(hash));
        void *value;
        size_t i, j;

        if (!s)
                return NULL;
        value = s->value;
        i = (size_t) (s - h->slots);
        /* Backward-shift: move later members of the probe run into the hole when their home slot allows. */
        j = i;
        for (;;) {
                j = (j + 1) & h->mask;
                if (h->slots[j].hash == 0)
                        break;
                size_t home = h->slots[j].hash & h->mask;
                /* slot j may move to i if its home is not cyclically in (i, j] */
                bool in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
                if (in_range)
                        continue;
                h->slots[i] = h->slots[j];
                i = j;
        }
        h->slots[i] = (Slot){};
        h->size--;
        return value;
}

size_t hashmap_size(const HashMap *h) {
        return h->size;
}

bool hashmap_iterate(const HashMap *h, size_t *state, const char **ret_key, size_t *ret_len, void **ret_value) {
        for (size_t i = *state; i <= h->mask; i++)
                if (h->slots[i].hash != 0) {
                        if (ret_key)
                                *ret_key = h->slots[i].key;
                        if (ret_len)
                                *ret_len = h->slots[i].len;
                        if (ret_value)
                                *ret_value = h->slots[i].value;
                        *state = i + 1;
                        return true;
                }
        *state = h->mask + 1;
        return false;
}

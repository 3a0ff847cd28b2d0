/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests for common/hashmap.c: insert, lookup, removal with backward shift, growth, iteration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>

#include "hashmap.h"

#define N 20000

static void test_hashmap_basic(void **state) {
        _cleanup_(hashmap_freep) HashMap *h = NULL;
        static char keys[N][16];
        size_t len[N];

        assert_int_equal(hashmap_new(&h), 0);
        for (int i = 0; i < N; i++) {
                len[i] = (size_t) snprintf(keys[i], sizeof(keys[i]), "k%d", i);
                assert_int_equal(hashmap_put(h, keys[i], len[i], hash_bytes(keys[i], len[i]), &keys[i]), 0);
        }
        assert_int_equal(hashmap_size(h), N);
        assert_int_equal(hashmap_put(h, keys[7], len[7], hash_bytes(keys[7], len[7]), NULL), -EEXIST);
        for (int i = 0; i < N; i++)
                assert_ptr_equal(hashmap_get(h, keys[i], len[i], hash_bytes(keys[i], len[i])), &keys[i]);
        assert_null(hashmap_get(h, "nope", 4, hash_bytes("nope", 4)));

        /* remove every third, then all the rest must still be found */
        for (int i = 0; i < N; i += 3)
                assert_ptr_equal(hashmap_remove(h, keys[i], len[i], hash_bytes(keys[i], len[i])), &keys[i]);
        for (int i = 0; i < N; i++) {
                void *v = hashmap_get(h, keys[i], len[i], hash_bytes(keys[i], len[i]));
                if (i % 3 == 0)
                        assert_null(v);
                else
                        assert_ptr_equal(v, &keys[i]);
        }
        size_t it = 0, count = 0;
        void *v;
        while (hashmap_iterate(h, &it, NULL, NULL, &v))
                count++;
        assert_int_equal(count, hashmap_size(h));
        assert_int_equal(count, N - (N + 2) / 3);
}

static void test_hashmap_collisions(void **state) {
        _cleanup_(hashmap_freep) HashMap *h = NULL;
        static char keys[64][8];

        /* every key with the same hash: exercises probing and backward shift */
        assert_int_equal(hashmap_new(&h), 0);
        for (int i = 0; i < 64; i++) {
                snprintf(keys[i], sizeof(keys[i]), "c%d", i);
                assert_int_equal(hashmap_put(h, keys[i], strlen(keys[i]), 42, keys[i]), 0);
        }
        for (int i = 0; i < 64; i += 2)
                assert_ptr_equal(hashmap_remove(h, keys[i], strlen(keys[i]), 42), keys[i]);
        for (int i = 1; i < 64; i += 2)
                assert_ptr_equal(hashmap_get(h, keys[i], strlen(keys[i]), 42), keys[i]);
        for (int i = 0; i < 64; i += 2)
                assert_null(hashmap_get(h, keys[i], strlen(keys[i]), 42));
}

static void test_hash_bytes(void **state) {
        char buf[64] = {};
        /* all lengths hash differently and deterministically */
        for (size_t n = 0; n < 40; n++) {
                assert_true(hash_bytes(buf, n) == hash_bytes(buf, n));
                assert_true(hash_bytes(buf, n) != hash_bytes(buf, n + 1));
        }
        assert_true(hash_bytes("abc", 3) != hash_bytes("abd", 3));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_hashmap_basic),
                cmocka_unit_test(test_hashmap_collisions),
                cmocka_unit_test(test_hash_bytes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A service for the systemd source test: allocates and touches the number of MiB given as its argument,
 * so that the unit's MemoryCurrent really holds that much, then sleeps until it is stopped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char *argv[]) {
        char *end;
        unsigned long mib;
        char *p;

        if (argc != 2) {
                fprintf(stderr, "usage: %s MIB\n", argv[0]);
                return 2;
        }
        mib = strtoul(argv[1], &end, 10);
        if (*end || mib > 4096) {
                fprintf(stderr, "invalid size: %s\n", argv[1]);
                return 2;
        }
        p = malloc(mib << 20);
        if (!p && mib > 0)
                return 1;
        for (size_t i = 0; i < (mib << 20); i += 4096)
                p[i] = (char) i | 1;
        for (;;)
                pause();
}

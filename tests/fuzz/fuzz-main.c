/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A main() for fuzz targets when libFuzzer is not linked: feeds every file named on the command line
 * (or every file in a named directory) to LLVMFuzzerTestOneInput once. This keeps the seed corpus a
 * regression test in every build, gcc included.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "macro.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        int r;

        r = read_full_file(path, 64 * 1024 * 1024, &data, &size);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(-r));
                return r;
        }
        (void) LLVMFuzzerTestOneInput((const uint8_t *) data, size);
        return 0;
}

int main(int argc, char *argv[]) {
        unsigned n = 0;

        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        perror(argv[i]);
                        return 1;
                }
                if (!S_ISDIR(st.st_mode)) {
                        if (run_file(argv[i]) < 0)
                                return 1;
                        n++;
                        continue;
                }
                struct dirent **list = NULL;
                int k = scandir(argv[i], &list, NULL, alphasort);
                if (k < 0) {
                        perror(argv[i]);
                        return 1;
                }
                for (int j = 0; j < k; j++) {
                        if (list[j]->d_name[0] != '.') {
                                char path[4096];
                                snprintf(path, sizeof(path), "%s/%s", argv[i], list[j]->d_name);
                                if (run_file(path) < 0)
                                        return 1;
                                n++;
                        }
                        free(list[j]);
                }
                free(list);
        }
        printf("%u inputs ran without a crash\n", n);
        return n > 0 ? 0 : 1;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* homeostatd: placeholder main until the supervisor lands (issue 4). */
#include <stdio.h>

int main(int argc, char *argv[]) {
        fprintf(stderr, "homeostatd: not built yet\n");
        return 2;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* homeostatctl: placeholder main until the verbs land. */
#include <stdio.h>

int main(int argc, char *argv[]) {
        fprintf(stderr, "homeostatctl: not built yet\n");
        return 2;
}

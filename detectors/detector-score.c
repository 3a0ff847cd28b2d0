/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The z-score tail table, generated at build time by gen-tail-table.py (see detector.h for the model and
 * detector-internal.h for the interpolation). Kept in its own file so the table is defined exactly once.
 */
#include "detector-internal.h"
#include "tail-table.h"

_Static_assert(TAIL_TABLE_STEPS_PER_UNIT == 16 && TAIL_TABLE_N == 256, "tail_neglog10() assumes this grid");

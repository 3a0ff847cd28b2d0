/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Placeholder until the rule parser lands (issue 2). */
#include "rules.h"

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Placeholder until the detectors land (issue 3). */
#include "detector.h"

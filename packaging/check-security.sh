#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Rate a unit file's sandbox with `systemd-analyze security --offline=true` and fail when the exposure is
# above the limit (default 2.0; lower is better). A configuration check, not a timing measurement.
# Usage: check-security.sh UNIT-FILE [LIMIT]
set -eu
unit=$1
limit=${2:-2.0}
if ! command -v systemd-analyze >/dev/null 2>&1; then
        echo "systemd-analyze not installed" >&2
        exit 77
fi
out=$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1) || {
        echo "$out" >&2
        echo "systemd-analyze security failed for $unit" >&2
        exit 1
}
level=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' | tail -n 1)
if [ -z "$level" ]; then
        printf '%s\n' "$out" >&2
        echo "could not find the overall exposure level in the output" >&2
        exit 1
fi
printf '%s\n' "$out" | grep '✗' || true
echo "exposure level of $(basename "$unit"): $level (limit $limit)"
awk -v l="$level" -v m="$limit" 'BEGIN { exit !(l + 0 <= m + 0) }' || {
        echo "FAIL: $level is above $limit" >&2
        exit 1
}

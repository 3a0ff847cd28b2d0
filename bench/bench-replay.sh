#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Replay speed: `homeostatctl replay` end to end (parse the CSV, evaluate, write the CSV) against the
# baseline of awk merely summing the same file's second column, measured in the same run on the same file.
# Usage: bench-replay.sh HOMEOSTATCTL [ROWS]   (default 10 000 000 rows, about 230 MB in a temporary dir)
# Prints figures and ratios; asserts nothing.
set -eu

ctl=${1:?usage: bench-replay.sh HOMEOSTATCTL [ROWS]}
rows=${2:-10000000}
dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-replay.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }

# A daily rhythm with noise, every 10 s: timestamp,value with three decimals.
awk -v n="$rows" 'BEGIN { srand(1); for (i = 0; i < n; i++)
        printf "%d,%.3f\n", 1700000000 + 10 * i, 100 + 40 * sin(i * 6.283185 / 8640) + 4 * (rand() - 0.5) }' \
        >"$dir/bench.csv"
size=$(wc -c <"$dir/bench.csv")

for kind in seasonal ewma; do
        cat >"$dir/$kind.yaml" <<RULES
rules:
  - name: bench-$kind
    series: bench
    detector: {kind: $kind}
RULES
done

best() { # best of two runs of "$@", in seconds
        b=""
        for _ in 1 2; do
                s=$(now)
                "$@" >/dev/null 2>&1
                e=$(now)
                t=$(elapsed "$s" "$e")
                if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" = 1 ]; then b=$t; fi
        done
        echo "$b"
}

awk_t=$(best awk -F, '{s+=$2} END {print s}' "$dir/bench.csv")
printf 'replay speed, %s rows (%s bytes, epoch timestamps, one series, 10 s steps)\n' "$rows" "$size"
printf '  %-28s %7.2f s  %6.1f M rows/s\n' "awk sum (baseline)" "$awk_t" "$(echo "$rows / $awk_t / 1000000" | bc -l)"
for kind in seasonal ewma; do
        t=$(best "$ctl" replay --rules "$dir/$kind.yaml" "$dir/bench.csv")
        printf '  %-28s %7.2f s  %6.1f M rows/s  %5.2fx awk\n' "replay, one $kind rule" "$t" \
                "$(echo "$rows / $t / 1000000" | bc -l)" "$(echo "$t / $awk_t" | bc -l)"
done

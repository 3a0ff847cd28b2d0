#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Replay speed: `homeostatctl replay` end to end (parse the CSV, evaluate, write the CSV) against the
# baseline of awk merely summing the same file's second column, measured in the same run on the same file.
# Usage: bench-replay.sh HOMEOSTATCTL [ROWS]   (default 10 000 000 rows, about 185 MB in a temporary dir)
# Each figure is the best of three runs, pinned to one core with taskset when it is available; CPU time
# (user + system of the child, from the shell's `times`) is printed next to wall time, and the ratios use
# CPU time: on a shared machine wall time also counts other processes. Prints figures; asserts nothing.
set -eu

ctl=${1:?usage: bench-replay.sh HOMEOSTATCTL [ROWS]}
rows=${2:-10000000}
dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-replay.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
pin=""
if command -v taskset >/dev/null 2>&1 && taskset -c 0 true 2>/dev/null; then
        pin="taskset -c 0"
fi

now() { date +%s.%N; }

# Children's user + system seconds from a file written by `times` (its second line), in the main shell: a
# command substitution would run `times` in a subshell that has no children of its own.
cpu_of() {
        sed -n 2p "$1" | awk '{ n = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); n += a[1] * 60 + a[2] }
                printf "%.3f\n", n }'
}

# A daily rhythm with noise, every 10 s: timestamp,value with three decimals.
awk -v n="$rows" 'BEGIN { srand(1); for (i = 0; i < n; i++)
        printf "%d,%.3f\n", 1700000000 + 10 * i, 100 + 40 * sin(i * 6.283185 / 8640) + 4 * (rand() - 0.5) }' \
        >"$dir/bench.csv"
size=$(wc -c <"$dir/bench.csv")

for kind in seasonal ewma threshold; do
        extra=""
        [ "$kind" = threshold ] && extra=", above: 1000"
        cat >"$dir/$kind.yaml" <<RULES
rules:
  - name: bench-$kind
    series: bench
    detector: {kind: $kind$extra}
RULES
done

# best "$@": the best of three runs; prints "cpu wall" in seconds
best() {
        bc_=""
        bw_=""
        for _ in 1 2 3; do
                times >"$dir/times0"
                w0=$(now)
                $pin "$@" >/dev/null 2>&1
                w1=$(now)
                times >"$dir/times1"
                c=$(echo "$(cpu_of "$dir/times1") - $(cpu_of "$dir/times0")" | bc -l)
                w=$(echo "$w1 - $w0" | bc -l)
                if [ -z "$bc_" ] || [ "$(echo "$c < $bc_" | bc -l)" = 1 ]; then bc_=$c; fi
                if [ -z "$bw_" ] || [ "$(echo "$w < $bw_" | bc -l)" = 1 ]; then bw_=$w; fi
        done
        echo "$bc_ $bw_"
}

read -r awk_c awk_w <<EOF
$(best awk -F, '{s+=$2} END {print s}' "$dir/bench.csv")
EOF
printf 'replay speed, %s rows (%s bytes, epoch timestamps, one series, 10 s steps); best of 3%s; load average %s\n' \
        "$rows" "$size" "${pin:+, pinned to one core}" "$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')"
printf '  %-28s %7.2f s CPU %7.2f s wall  %6.1f M rows/s\n' "awk sum (baseline)" "$awk_c" "$awk_w" \
        "$(echo "$rows / $awk_c / 1000000" | bc -l)"
for kind in seasonal ewma threshold; do
        read -r c w <<EOF
$(best "$ctl" replay --rules "$dir/$kind.yaml" "$dir/bench.csv")
EOF
        printf '  %-28s %7.2f s CPU %7.2f s wall  %6.1f M rows/s  %5.2fx awk (CPU), %5.2fx (wall)\n' \
                "replay, one $kind rule" "$c" "$w" "$(echo "$rows / $c / 1000000" | bc -l)" \
                "$(echo "$c / $awk_c" | bc -l)" "$(echo "$w / $awk_w" | bc -l)"
done

#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Instructions per detector update, counted by callgrind: independent of the machine's load, so the stable
# figure next to bench-detectors' timings. For each kind (and the baseline, one EW mean behind the same
# call) bench-detectors --count warms a state up on 8 days of 10 s samples, then feeds N samples inside
# count_loop(); only count_loop is instrumented. For seasonal, the per-sample path leaves out the periodic
# work (profile refits and tail recalibrations: refit_profile, tail_recalibrate, tail_empirical inclusive).
# Usage: bench-instructions.sh BENCH-DETECTORS [N]   (default 200000 samples per kind)
# Prints figures; asserts nothing. Needs valgrind (exit 77 without it).
set -eu

bin=${1:?usage: bench-instructions.sh BENCH-DETECTORS [N]}
n=${2:-200000}
command -v valgrind >/dev/null 2>&1 || { echo "valgrind not installed: skipped"; exit 77; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-instructions.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM

# count KIND N [STEP] -> prints "total periodic" instruction counts in count_loop
count() {
        out="$dir/$1-${3:-10}.out"
        valgrind --tool=callgrind --collect-atstart=no --toggle-collect='count_loop*' \
                --callgrind-out-file="$out" "$bin" --count "$@" >/dev/null 2>"$dir/err" ||
                { cat "$dir/err" >&2; exit 1; }
        total=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$out")
        periodic=$(callgrind_annotate --inclusive=yes "$out" 2>/dev/null |
                awk '/refit_profile|tail_recalibrate|tail_empirical/ { gsub(",", "", $1); s += $1 }
                     END { print s + 0 }')
        echo "$total $periodic"
}

per() { echo "scale=1; $1 / $2" | bc -l; }

printf 'instructions per update (callgrind, %s samples per kind after 8 days of warm-up, 10 s steps)\n' "$n"
set -- $(count baseline "$n")
base=$(per "$1" "$n")
printf '  %-10s %8s\n' baseline "$base"
for kind in ewma seasonal threshold cusum burnrate trend; do
        set -- $(count "$kind" "$n")
        all=$(per "$1" "$n")
        printf '  %-10s %8s  (%.1fx baseline)' "$kind" "$all" "$(echo "$all / $base" | bc -l)"
        if [ "$2" -gt 0 ]; then
                printf '  per-sample path %s, periodic refits/recalibrations %s' \
                        "$(per "$(($1 - $2))" "$n")" "$(per "$2" "$n")"
        fi
        printf '\n'
done
set -- $(count seasonal "$n" 1)
printf '  %-10s %8s  with 1 s samples; per-sample path %s\n' seasonal "$(per "$1" "$n")" \
        "$(per "$(($1 - $2))" "$n")"
set -- $(count mix "$n")
printf '  %-10s %8s  (10000-series mix of kinds, round-robin)\n' mix "$(per "$1" "$n")"

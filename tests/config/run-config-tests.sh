#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Data-driven tests of `homeostatctl check` (suite "config"):
#   - every entry of GOOD_DIR (a *.yaml|*.yml|*.json file or a directory) must pass with exit 0;
#   - every NAME.expected in BAD_DIR names a case: the first line is "exit N", the rest is the exact stderr.
#     The case is checked as NAME.yaml, NAME.yml, NAME.json or the directory NAME, or with the arguments in
#     NAME.args if that exists; a NAME.gen script writes the input NAME.yaml first (for inputs too big or too
#     odd to keep in git). Cases run from a copy of BAD_DIR, so diagnostics carry relative paths.
# Any mismatch prints a diff and fails the run. The slowest case is reported (not asserted: timing belongs
# in bench/).
#
# Usage: run-config-tests.sh HOMEOSTATCTL GOOD_DIR BAD_DIR
set -u

ctl=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
good=$2
bad=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

passed=0
failed=0
slowest=0
slowest_name=none

now_ms() {
        date +%s%3N
}

time_case() { # name start
        t=$(( $(now_ms) - $2 ))
        if [ "$t" -gt "$slowest" ]; then
                slowest=$t
                slowest_name=$1
        fi
}

# ---- good ----
cd "$good" || exit 1
for f in *; do
        case "$f" in
        *.yaml|*.yml|*.json) ;;
        *) [ -d "$f" ] || continue ;;
        esac
        start=$(now_ms)
        "$ctl" check "$f" >"$tmp/out" 2>"$tmp/err"
        rc=$?
        time_case "good/$f" "$start"
        if [ "$rc" -ne 0 ] || grep -q ': error: ' "$tmp/err"; then
                echo "FAIL good/$f: exit $rc"
                cat "$tmp/err" "$tmp/out"
                failed=$((failed + 1))
        else
                passed=$((passed + 1))
        fi
done

# ---- bad ----
cp -R "$bad" "$tmp/bad" || exit 1
cd "$tmp/bad" || exit 1
for gen in *.gen; do
        [ -e "$gen" ] || continue
        sh "$gen" >"${gen%.gen}.yaml" || { echo "FAIL generating $gen"; failed=$((failed + 1)); }
done
n_bad=0
for exp in *.expected; do
        name=${exp%.expected}
        n_bad=$((n_bad + 1))
        if [ -e "$name.args" ]; then
                args=$(cat "$name.args")
        elif [ -e "$name.yaml" ]; then
                args=$name.yaml
        elif [ -e "$name.yml" ]; then
                args=$name.yml
        elif [ -e "$name.json" ]; then
                args=$name.json
        elif [ -d "$name" ]; then
                args=$name
        else
                echo "FAIL bad/$name: no input for $exp"
                failed=$((failed + 1))
                continue
        fi
        want_rc=$(sed -n '1s/^exit //p' "$exp")
        sed 1d "$exp" >"$tmp/want"
        start=$(now_ms)
        # shellcheck disable=SC2086 # args are deliberately split
        "$ctl" check $args >"$tmp/out" 2>"$tmp/got"
        rc=$?
        time_case "bad/$name" "$start"
        if [ "$rc" != "$want_rc" ] || ! cmp -s "$tmp/want" "$tmp/got"; then
                echo "FAIL bad/$name: exit $rc (expected $want_rc)"
                diff -u "$tmp/want" "$tmp/got" | sed 's/^/    /'
                failed=$((failed + 1))
        else
                passed=$((passed + 1))
        fi
done
for f in *.yaml *.yml *.json; do
        [ -e "$f" ] || continue
        name=${f%.*}
        [ -e "$name.expected" ] || { echo "FAIL bad/$f has no $name.expected"; failed=$((failed + 1)); }
done

echo "config: $n_bad bad cases; slowest check: $slowest_name, $slowest ms"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]

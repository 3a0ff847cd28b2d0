#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# A restart restores learned state. Three hours of a seasonal pattern (a 1 h sine with deterministic noise,
# one sample every 10 s) are pushed through a `listen` source into a seasonal and an ewma rule; the daemon
# is stopped (SIGTERM: final save) and started again on the same state directory, and then probe samples
# follow. Their verdicts (score, expected, band, anomalous) must be exactly those of a reference daemon that
# saw the same training and probes without a restart, and must differ from those of a daemon that never
# saw the training (so the comparison can fail). Also: a corrupt state file is moved aside at start and
# learning starts fresh, without the daemon failing.
set -eu
HS_SRC=${HOMEOSTAT_SOURCE_ROOT:?}
. "$HS_SRC/tests/integration/daemon/common.sh"
hs_init daemon-restore
T=$HS_TMP

mkdir -p "$T/etc"
cat >"$T/etc/homeostat.yaml" <<EOF2
sources:
  - name: push
    listen: $T/push.sock
    interval: 1s
rules:
  - name: seasonal
    series: 'load{source="push"}'
    detector: {kind: seasonal, period: 1d, resolution: 15m, threshold: 4, warmup: 60}
  - name: ewma
    series: 'load{source="push"}'
    detector: {kind: ewma, halflife: 10m, threshold: 4, warmup: 30}
EOF2
chmod 644 "$T/etc/homeostat.yaml"

NOW=$(date +%s)
START=$((NOW - 3 * 3600))
# training: START .. NOW-15min every 10 s; probes: 4 samples after that, two of them far off
python3 - "$START" "$NOW" >"$T/train.txt" 3>"$T/probe.txt" <<'PY'
import math, os, sys
start, now = int(sys.argv[1]), int(sys.argv[2])
probe = os.fdopen(3, "w")
def value(t, i):
    noise = ((i * 7919) % 101 - 50) / 50.0          # deterministic, in [-1, 1]
    return 100 + 40 * math.sin(2 * math.pi * (t % 3600) / 3600) + 3 * noise
t, i = start, 0
while t < now - 900:
    print(f"load {value(t, i):.6f} {t * 1000}")
    t += 10; i += 1
for k, bump in enumerate((0, 400, 0, -300)):
    print(f"load {value(t, i) + bump:.6f} {t * 1000}", file=probe)
    t += 10; i += 1
PY
NTRAIN=$(wc -l <"$T/train.txt")
NPROBE=$(wc -l <"$T/probe.txt")

# run NAME STATE-DIR: start a daemon; sets PID and SOCK
run() {
        SOCK=$T/$1.sock
        hs_start_daemon "$T/$1.log" --config "$T/etc" --state-dir "$2" --api "unix:$SOCK"
        PID=$HS_DAEMON_PID
        hs_wait 10 hs_ctl "$SOCK" status || hs_fail "daemon $1 did not come up"
}

# feed FILE N: push the lines and wait until the seasonal rule has seen N more verdicts
feed() {
        _before=$(hs_status_value "$SOCK" 'j["rules"][0]["verdicts"]')
        hs_push "$T/push.sock" <"$1"
        hs_wait 30 hs_status_at_least "$SOCK" 'j["rules"][0]["verdicts"]' $((_before + $2)) ||
                hs_fail "the samples of $1 were not all evaluated"
}

# verdicts OUT: the probes' verdicts of both rules (rule, t, score, expected, lower, upper, anomalous)
verdicts() {
        for rule in seasonal ewma; do
                curl -sS --unix-socket "$SOCK" \
                        "http://localhost/api/v1/verdicts?rule=$rule&series=load%7Bsource%3D%22push%22%7D"
                echo
        done | python3 -c '
import json, sys
rows = []
for line in sys.stdin:
    if line.strip():
        rows += json.loads(line)["verdicts"]
n = int(sys.argv[1])
by_rule = {}
for r in rows:
    by_rule.setdefault(r["rule"], []).append(r)
for rule in sorted(by_rule):
    for r in by_rule[rule][-n:]:
        print(rule, r["t"], r["score"], r["expected"], r["lower"], r["upper"], r["anomalous"], r["warming_up"])
' "$NPROBE" >"$1"
        [ "$(wc -l <"$1")" -eq $((2 * NPROBE)) ] || hs_fail "expected $((2 * NPROBE)) probe verdicts in $1"
}

# --- A: train, stop, start again on the same state, probe ---
run a "$T/state-a"
feed "$T/train.txt" "$NTRAIN"
hs_stop_pid "$PID" 15 || hs_fail "daemon a did not stop cleanly"
[ -s "$T/state-a/evaluator.state" ] || hs_fail "no state saved at stop"
run a2 "$T/state-a"
grep -Eq "Restored learned state for [1-9][0-9]* series" "$T/a2.log" || hs_fail "the state was not restored: $(cat "$T/a2.log")"
feed "$T/probe.txt" "$NPROBE"
verdicts "$T/restarted.txt"
hs_stop_pid "$PID" 15 || true

# --- C: the same without a restart ---
run c "$T/state-c"
feed "$T/train.txt" "$NTRAIN"
feed "$T/probe.txt" "$NPROBE"
verdicts "$T/continuous.txt"
hs_stop_pid "$PID" 15 || true

# --- D: no training at all ---
run d "$T/state-d"
feed "$T/probe.txt" "$NPROBE"
verdicts "$T/untrained.txt"
hs_stop_pid "$PID" 15 || true

if ! cmp -s "$T/restarted.txt" "$T/continuous.txt"; then
        diff "$T/continuous.txt" "$T/restarted.txt" >&2 || true
        hs_fail "verdicts after the restart differ from those without a restart"
fi
cmp -s "$T/restarted.txt" "$T/untrained.txt" && hs_fail "verdicts without training are the same: the test cannot tell"
hs_log "verdicts after restart match ($(wc -l <"$T/restarted.txt") rows)"

# --- a corrupt state file is moved aside, learning starts fresh ---
printf 'not a state file\n' >"$T/state-a/evaluator.state"
run e "$T/state-a"
grep -q "moved it to evaluator.state.corrupt-" "$T/e.log" || hs_fail "the corrupt state was not moved aside: $(cat "$T/e.log")"
ls "$T/state-a"/evaluator.state.corrupt-* >/dev/null || hs_fail "no evaluator.state.corrupt-* file"
[ "$(cat "$T/state-a"/evaluator.state.corrupt-*)" = "not a state file" ] || hs_fail "the corrupt file was altered"
# only the source's own homeostat_source_up series exists, the trained load series is gone
[ "$(hs_status_value "$SOCK" 'j["series_count"] <= 1')" = true ] || hs_fail "learned state was not dropped"
hs_status_value "$SOCK" 'j["state"]["restore"]' | grep -q "moved to evaluator.state.corrupt-" ||
        hs_fail "the status does not tell what happened to the state"
hs_stop_pid "$PID" 15 || hs_fail "daemon e did not stop cleanly"

hs_log "ok"

#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# homeostatd's HTTP API against the real daemon: GET /api/v1/status (and `homeostatctl status`, with and
# without --json), /metrics on the unix socket and over --metrics-listen checked by `promtool check
# metrics`, the status page, the recent verdicts, 404/405, writes refused over TCP, and a POST from a user
# who is neither root nor in group homeostat refused (the client runs under setpriv as nobody/nogroup
# against a socket it can connect to) while reads from that user work.
set -eu
HS_SRC=${HOMEOSTAT_SOURCE_ROOT:?}
. "$HS_SRC/tests/integration/daemon/common.sh"
hs_init daemon-api
T=$HS_TMP
command -v promtool >/dev/null || hs_skip "promtool (package prometheus) is not installed"

hs_write_config "$T/etc" 2
PORT=$(hs_free_port)
hs_start_daemon "$T/daemon.log" --config "$T/etc" --state-dir "$T/state" --api "unix:$T/api.sock" \
        --metrics-listen "127.0.0.1:$PORT"
hs_wait 10 hs_ctl "$T/api.sock" status || hs_fail "the daemon did not come up"

# explicit timestamps (ms): two lines arriving in the same millisecond would be one instant
NOW=$(($(date +%s) * 1000))
printf 'load 5 %s\nload 250 %s\n' $((NOW - 2000)) $((NOW - 1000)) | hs_push "$T/push.sock"
hs_wait 10 hs_status_at_least "$T/api.sock" 'j["rules"][0]["verdicts"]' 2 || hs_fail "pushed samples were not evaluated"

# --- status ---
hs_status_json "$T/api.sock" >"$T/status.json"
[ "$(hs_json 'j["rule_count"]' <"$T/status.json")" = 2 ] || hs_fail "rule_count is not 2"
[ "$(hs_json 'j["source_count"]' <"$T/status.json")" = 1 ] || hs_fail "source_count is not 1"
[ "$(hs_json 'j["version"]' <"$T/status.json")" != null ] || hs_fail "no version"
[ "$(hs_json 'j["config"]' <"$T/status.json")" = "$T/etc" ] || hs_fail "config path missing"
[ "$(hs_json 'j["loop_lag"]["lagging"]' <"$T/status.json")" = false ] || hs_fail "the loop claims to lag"
[ "$(hs_json 'j["rules"][0]["fired_total"]' <"$T/status.json")" = 1 ] || hs_fail "the rule did not fire once"
[ "$(hs_json 'j["sources"][0]["name"]' <"$T/status.json")" = push ] || hs_fail "sources missing"
# --json prints exactly what the API returned: the same compact one-line document (the numbers move
# between two requests, so compare the shape)
curl -sS --unix-socket "$T/api.sock" http://localhost/api/v1/status >"$T/raw.json"
[ "$(wc -l <"$T/status.json")" -eq 1 ] && [ "$(wc -l <"$T/raw.json")" -eq 1 ] || hs_fail "not one line each"
python3 - "$T/raw.json" "$T/status.json" <<'PY' || hs_fail "status --json differs from the API's answer"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
def shape(x):
    if isinstance(x, dict):
        return {k: shape(v) for k, v in x.items()}
    if isinstance(x, list):
        return [shape(v) for v in x]
    return type(x).__name__
sys.exit(0 if shape(a) == shape(b) and list(a) == list(b) else 1)
PY
hs_ctl "$T/api.sock" status >"$T/status.txt"
grep -q "high-0" "$T/status.txt" || hs_fail "human status lacks the rules"
grep -q "config:.*2 rules, 1 sources" "$T/status.txt" || hs_fail "human status lacks the counts"

# --- /metrics, on both listeners ---
curl -sS --unix-socket "$T/api.sock" http://localhost/metrics >"$T/metrics.txt"
promtool check metrics <"$T/metrics.txt" || hs_fail "promtool rejects /metrics"
grep -q '^homeostat_rules 2$' "$T/metrics.txt" || hs_fail "homeostat_rules missing"
grep -q '^homeostat_loop_lag_seconds ' "$T/metrics.txt" || hs_fail "loop lag missing"
grep -q '^homeostat_rule_fired_total{rule="high-0"} 1$' "$T/metrics.txt" || hs_fail "per-rule firing count missing"
grep -q '^homeostat_source_up{source="push"} 1$' "$T/metrics.txt" || hs_fail "source up missing"
curl -sS "http://127.0.0.1:$PORT/metrics" | promtool check metrics || hs_fail "promtool rejects /metrics over TCP"
curl -sS "http://127.0.0.1:$PORT/" | grep -q "<pre>" || hs_fail "no status page over TCP"

# --- verdicts ---
curl -sS --unix-socket "$T/api.sock" 'http://localhost/api/v1/verdicts?rule=high-1' >"$T/verdicts.json"
[ "$(hs_json 'len(j["verdicts"])' <"$T/verdicts.json")" = 2 ] || hs_fail "expected 2 verdicts of high-1"
[ "$(hs_json 'j["verdicts"][1]["firing"]' <"$T/verdicts.json")" = true ] || hs_fail "high-1 is not firing"

# --- errors ---
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code --unix-socket "$T/api.sock" http://localhost/nope)" = 404 ] || hs_fail "unknown path is not 404"
[ "$(code --unix-socket "$T/api.sock" -X DELETE http://localhost/api/v1/status)" = 405 ] || hs_fail "wrong method is not 405"
[ "$(code -X POST "http://127.0.0.1:$PORT/api/v1/reload")" = 403 ] || hs_fail "a write over TCP is not 403"
head -c 70000 /dev/zero | tr '\0' x >"$T/big"
[ "$(code --unix-socket "$T/api.sock" -X POST --data-binary @"$T/big" http://localhost/api/v1/reload)" = 413 ] ||
        hs_fail "a 70 kB body is not 413"

# --- a user who is neither root nor in group homeostat ---
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
        NOBODY="setpriv --reuid=nobody --regid=nogroup --clear-groups"
        $NOBODY "$HOMEOSTATCTL" --api "unix:$T/api.sock" status >/dev/null || hs_fail "nobody cannot read the status"
        set +e
        $NOBODY "$HOMEOSTATCTL" --api "unix:$T/api.sock" reload >"$T/nobody.log" 2>&1
        rc=$?
        set -e
        [ "$rc" -eq 1 ] || hs_fail "a reload by nobody exited $rc, expected 1 (refused)"
        grep -q "permission denied" "$T/nobody.log" || hs_fail "the refusal does not say why: $(cat "$T/nobody.log")"
        grep -q "Reload requested" "$T/daemon.log" && hs_fail "the refused reload ran anyway"
        # root may
        hs_ctl "$T/api.sock" reload >/dev/null || hs_fail "root cannot reload"
else
        hs_log "not root or no setpriv: the unprivileged-write check is not run"
fi

hs_stop_pid "$HS_DAEMON_PID" 10 || hs_fail "homeostatd did not stop cleanly"
hs_log "ok"

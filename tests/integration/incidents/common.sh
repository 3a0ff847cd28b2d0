# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=sh
#
# Helpers shared by the incident integration tests: a demo service (demo-service.py) run as a unit of a
# real `systemd --user`, scraped by homeostatd with a prometheus source, a rule file per test, homeostatd in
# the foreground of the test (tracked by PID, --user), and readers of the incident API through
# homeostatctl --json.

. "$HS_SRC/tests/integration/lib.sh"

HI_DIR=$HS_SRC/tests/integration/incidents

# hi_start_demo UNIT: the demo service as UNIT; it picks a free port itself ($HI_PORT once it runs).
# $HI_BROKEN is its "never heals" marker file.
hi_start_demo() {
        HI_UNIT=$1
        HI_BROKEN=$HS_TMP/broken
        cat >"$HS_TMP/$HI_UNIT" <<UNIT
[Unit]
Description=homeostat test service
[Service]
ExecStart=/usr/bin/python3 $HI_DIR/demo-service.py $HS_TMP/demo.port $HI_BROKEN
StandardOutput=append:$HS_TMP/demo.log
StandardError=append:$HS_TMP/demo.log
UNIT
        hs_install_unit "$HS_TMP/$HI_UNIT"
        hs_systemctl start "$HI_UNIT" || hs_fail "cannot start $HI_UNIT"
        hs_wait 10 test -s "$HS_TMP/demo.port" || hs_fail "$HI_UNIT did not pick a port"
        HI_PORT=$(cat "$HS_TMP/demo.port")
        hs_wait 10 hi_metrics || hs_fail "$HI_UNIT does not serve /metrics"
        hs_wait 10 sh -c "[ -n \"\$(systemctl --user show -p InvocationID --value $HI_UNIT)\" ]" ||
                hs_fail "$HI_UNIT has no InvocationID"
}

hi_metrics() {
        python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())' \
                "http://127.0.0.1:$HI_PORT/metrics"
}

# hi_post PATH: POST to the demo service (/degrade, /heal).
hi_post() {
        python3 -c 'import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=b"", method="POST"), timeout=2).read()' \
                "http://127.0.0.1:$HI_PORT$1"
}

hi_invocation() {
        hs_unit_prop "$HI_UNIT" InvocationID
}

# hi_start_receiver: the loopback webhook receiver ($HI_HOOK_PORT); requests land in $HS_TMP/hook.jsonl.
hi_start_receiver() {
        python3 "$HI_DIR/webhook-receiver.py" "$HS_TMP/hook.port" "$HS_TMP/hook.jsonl" >"$HS_TMP/hook.log" 2>&1 &
        hs_track_pid $!
        hs_wait 10 test -s "$HS_TMP/hook.port" || hs_fail "the webhook receiver did not start"
        HI_HOOK_PORT=$(cat "$HS_TMP/hook.port")
}

# hi_config RULE_EXTRA_YAML [TOP_LEVEL_YAML]: $HS_TMP/etc/homeostat.yaml scraping the demo service every second, with one
# rule demo-latency (threshold 0.5 s) on $HI_UNIT; the argument is appended to the rule (indented keys).
hi_config() {
        mkdir -p "$HS_TMP/etc"
        cat >"$HS_TMP/etc/homeostat.yaml" <<YAML
${2:-}
sources:
  - name: demo
    prometheus: http://127.0.0.1:$HI_PORT/metrics
    interval: 1s
rules:
  - name: demo-latency
    series: 'demo_latency_seconds{source="demo"}'
    detector: {kind: threshold, above: 0.5}
    for: 2s
    recover_for: 2s
    grace: 1s
$1
YAML
        "$HOMEOSTATCTL" check "$HS_TMP/etc/homeostat.yaml" >"$HS_TMP/check.log" 2>&1 ||
                hs_fail "the test configuration does not check: $(cat "$HS_TMP/check.log")"
}

# hi_start_daemon [ARGS...]: homeostatd --user with the test's config, state dir and API socket.
hi_start_daemon() {
        HI_API=$HS_TMP/api.sock
        HI_STATE=$HS_TMP/state
        "$HOMEOSTATD" --config "$HS_TMP/etc/homeostat.yaml" --state-dir "$HI_STATE" --api "unix:$HI_API" --user "$@" \
                >>"$HS_TMP/daemon.log" 2>&1 &
        HI_DAEMON_PID=$!
        hs_track_pid "$HI_DAEMON_PID"
        hs_wait 15 test -S "$HI_API" || hs_fail "homeostatd did not open its API socket"
        hs_wait 15 hi_ctl status || hs_fail "homeostatd does not answer"
}

hi_ctl() {
        "$HOMEOSTATCTL" --api "unix:$HI_API" "$@"
}

# hi_incidents EXPR: a Python expression over the incident list `j` (GET /api/v1/incidents).
hi_incidents() {
        hi_ctl incidents --json | hs_json "$1"
}

# hi_check EXPR: true when the Python expression over the incident list `j` is true.
hi_check() {
        hi_ctl incidents --json 2>/dev/null | python3 -c '
import json, sys
j = json.load(sys.stdin)
sys.exit(0 if eval(sys.argv[1], {"j": j}) else 1)
' "$1"
}

# hi_until SECONDS EXPR: wait until hi_check EXPR.
hi_until() {
        hs_wait "$1" hi_check "$2"
}

# hi_kinds INDEX: the event kinds of incident INDEX, space-separated.
hi_kinds() {
        hi_incidents "' '.join(e['kind'] for e in j['incidents'][$1]['events'])"
}

# Each test names its unit differently (hi-TEST.service): user managers of parallel tests run as the same
# user in the same cgroup, so equal unit names would share a cgroup and one test's restart would kill the
# other's service.

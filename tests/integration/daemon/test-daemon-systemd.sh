#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# homeostatd as a Type=notify unit of a real `systemd --user` manager (private mount namespace), with the
# packaged unit file (see hs_test_unit for the few differences): the unit becomes active only once the
# daemon said READY=1 and its API answers at that moment; STATUS= reaches systemd; the watchdog (2 s here)
# keeps it alive well beyond its period; `systemctl reload` applies a valid changed file and fails for a
# broken one while the old rules stay in force (API and STATUS= say so, the log names the error); SIGHUP
# reloads too; SIGTERM stops it cleanly (exit 0, no restart) with the state written; an invalid
# configuration fails the start with exit 1 and no restart loop (RestartPreventExitStatus=1), while a
# system failure (an unbindable socket) exits 2 and is restarted.
set -eu
HS_SRC=${HOMEOSTAT_SOURCE_ROOT:?}
. "$HS_SRC/tests/integration/daemon/common.sh"
hs_init daemon-systemd
T=$HS_TMP
hs_user_manager_start

hs_write_config "$T/etc" 1
# plus a systemd source watching this very unit: the sandboxed daemon must reach its service manager's bus
cat >"$T/etc/rules.d.tmp" <<EOF2
sources:
  - name: units
    systemd: [homeostat.service]
    interval: 1s
EOF2
mkdir -p "$T/etc/rules.d"
chmod 644 "$T/etc/rules.d.tmp"
mv "$T/etc/rules.d.tmp" "$T/etc/rules.d/10-units.yaml"
hs_test_unit "$T/homeostat.service" "$T/etc" "$T/state" "$T/api.sock" 2s
hs_install_unit "$T/homeostat.service"
[ "$(hs_unit_prop homeostat Type)" = notify ] || hs_fail "the unit is not Type=notify"

# --- start: active only after READY, and then the API answers at once ---
hs_systemctl start homeostat || hs_fail "systemctl start failed"
[ "$(hs_unit_prop homeostat ActiveState)" = active ] || hs_fail "not active after start"
hs_ctl "$T/api.sock" status >/dev/null || hs_fail "active, but the API does not answer yet"
PID=$(hs_unit_prop homeostat MainPID)
[ "$PID" -gt 0 ] || hs_fail "no MainPID"
hs_wait 10 sh -c "systemctl --user show -p StatusText --value homeostat | grep -q '1 rule, 2 sources'" ||
        hs_fail "STATUS= did not reach systemd: '$(hs_unit_prop homeostat StatusText)'"
# the sandbox is applied as packaged
grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$PID/status" || hs_fail "NoNewPrivileges= is not in effect"
grep -q '^CapEff:[[:space:]]*0000000000000000' "/proc/$PID/status" || hs_fail "the daemon has capabilities"
grep -q '^Seccomp:[[:space:]]*2' "/proc/$PID/status" || hs_fail "the system call filter is not in effect"

# the systemd source reads the unit through the bus from inside the sandbox
hs_wait 10 sh -c "$HOMEOSTATCTL --api unix:$T/api.sock status --json | python3 -c '
import json, sys
j = json.load(sys.stdin)
s = [x for x in j[\"sources\"] if x[\"name\"] == \"units\"][0]
sys.exit(0 if s[\"up\"] and s[\"series\"] >= 2 else 1)'" ||
        hs_fail "the systemd source cannot read the unit over the bus: $(hs_status_json "$T/api.sock")"

# --- the watchdog keeps it alive for more than twice its period ---
[ "$(hs_unit_prop homeostat WatchdogUSec)" = 2s ] || hs_fail "WatchdogSec= not applied"
sleep 5
[ "$(hs_unit_prop homeostat MainPID)" = "$PID" ] || hs_fail "the daemon was restarted (watchdog?)"
[ "$(hs_unit_prop homeostat NRestarts)" = 0 ] || hs_fail "NRestarts is not 0"
[ "$(hs_unit_prop homeostat ActiveState)" = active ] || hs_fail "not active after 5 s"

# --- reload with a valid changed file ---
hs_write_config "$T/etc" 3
hs_systemctl reload homeostat || hs_fail "systemctl reload failed for a valid file"
[ "$(hs_status_value "$T/api.sock" 'j["rule_count"]')" = 3 ] || hs_fail "the new rules are not in force"
hs_wait 5 sh -c "systemctl --user show -p StatusText --value homeostat | grep -q '3 rules'" ||
        hs_fail "STATUS= does not show the new rules"
[ "$(hs_status_value "$T/api.sock" 'j["source_count"]')" = 2 ] || hs_fail "the drop-in's source is gone"
[ "$(hs_unit_prop homeostat ActiveState)" = active ] || hs_fail "not active after the reload"

# --- reload with a broken file: fails, the 3 rules stay ---
printf 'rules:\n  - name: broken\n    series: x\n    detector: {kind: ewma, halflife: soon}\n' >"$T/etc/homeostat.yaml"
if hs_systemctl reload homeostat 2>"$T/reload.err"; then
        hs_fail "systemctl reload succeeded with a broken file"
fi
[ "$(hs_status_value "$T/api.sock" 'j["rule_count"]')" = 3 ] || hs_fail "the old rules are not in force"
[ "$(hs_status_value "$T/api.sock" 'j["last_reload"]["ok"]')" = false ] || hs_fail "the API does not report the failure"
hs_wait 5 sh -c "systemctl --user show -p StatusText --value homeostat | grep -q 'reload failed: 1 error (see journal)'" ||
        hs_fail "STATUS= does not report the failed reload: '$(hs_unit_prop homeostat StatusText)'"
grep -q "$T/etc/homeostat.yaml:4:.*error" "$T/daemon.log" || hs_fail "the log does not name the error's file:line"
[ "$(hs_unit_prop homeostat ActiveState)" = active ] || hs_fail "not active after the failed reload"
[ "$(hs_unit_prop homeostat MainPID)" = "$PID" ] || hs_fail "the daemon was restarted by a failed reload"

# --- SIGHUP reloads too ---
hs_write_config "$T/etc" 2
kill -HUP "$PID"
hs_wait 10 sh -c "[ \"\$($HOMEOSTATCTL --api unix:$T/api.sock status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"rule_count\"])')\" = 2 ]" ||
        hs_fail "SIGHUP did not reload"
hs_wait 10 sh -c "[ \"\$(systemctl --user show -p ActiveState --value homeostat)\" = active ]" ||
        hs_fail "not active after SIGHUP (RELOADING=1 without READY=1?)"

# --- SIGTERM: clean stop, state written, no restart ---
kill -TERM "$PID"
hs_wait 15 sh -c "[ \"\$(systemctl --user show -p ActiveState --value homeostat)\" = inactive ]" ||
        hs_fail "not inactive after SIGTERM: $(hs_unit_prop homeostat ActiveState)"
[ "$(hs_unit_prop homeostat Result)" = success ] || hs_fail "Result is $(hs_unit_prop homeostat Result)"
[ "$(hs_unit_prop homeostat ExecMainStatus)" = 0 ] || hs_fail "exit status $(hs_unit_prop homeostat ExecMainStatus)"
[ "$(hs_unit_prop homeostat NRestarts)" = 0 ] || hs_fail "restarted after a clean stop"
[ -s "$T/state/evaluator.state" ] || hs_fail "no state file after SIGTERM"
grep -q "Saved learned state to $T/state/evaluator.state" "$T/daemon.log" || hs_fail "the final save was not logged"
[ ! -e "$T/api.sock" ] || hs_fail "the API socket was left behind"

# --- an invalid configuration: start fails with exit 1, no restart loop ---
mkdir -p "$T/bad"
printf 'rules:\n  - name: Bad\n' >"$T/bad/homeostat.yaml"
hs_test_unit "$T/homeostat-bad.service" "$T/bad" "$T/state-bad" "$T/bad.sock"
hs_install_unit "$T/homeostat-bad.service"
if hs_systemctl start homeostat-bad 2>/dev/null; then
        hs_fail "a unit with an invalid configuration started"
fi
sleep 3
[ "$(hs_unit_prop homeostat-bad ExecMainStatus)" = 1 ] || hs_fail "exit status is not 1"
[ "$(hs_unit_prop homeostat-bad NRestarts)" = 0 ] || hs_fail "an invalid configuration is restarted in a loop"
[ "$(hs_unit_prop homeostat-bad ActiveState)" = failed ] || hs_fail "not failed"

# --- a system failure (cannot bind): exit 2, restarted (Restart=on-failure) ---
hs_write_config "$T/sys" 1 "$T/no/such/dir/push.sock"
hs_test_unit "$T/homeostat-sys.service" "$T/sys" "$T/state-sys" "$T/sys.sock"
hs_install_unit "$T/homeostat-sys.service"
if hs_systemctl start homeostat-sys 2>/dev/null; then
        hs_fail "a unit that cannot bind its listen socket became active"
fi
[ "$(hs_unit_prop homeostat-sys ExecMainStatus)" = 2 ] || hs_fail "exit status is not 2"
hs_wait 10 sh -c "[ \"\$(systemctl --user show -p NRestarts --value homeostat-sys)\" -ge 1 ]" ||
        hs_fail "a system failure was not restarted"
hs_systemctl stop homeostat-sys || true

hs_log "ok"

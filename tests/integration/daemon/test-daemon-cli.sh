#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# homeostatd's command line and start-up, run directly (no service manager): --check and its exit codes,
# usage errors, StrictModes (a group-writable rule file is refused with exit 1 when running as root), an
# unreadable configuration (exit 2), the state directory being created, a stale API socket being replaced,
# a second daemon on the same socket being refused (exit 2) while the first keeps serving, and
# homeostatctl's answer when no daemon is there.
set -eu
HS_SRC=${HOMEOSTAT_SOURCE_ROOT:?}
. "$HS_SRC/tests/integration/daemon/common.sh"
hs_init daemon-cli
T=$HS_TMP

expect_exit() {
        _want=$1
        shift
        set +e
        "$@" >"$T/out.log" 2>&1
        _rc=$?
        set -e
        [ "$_rc" -eq "$_want" ] || {
                cat "$T/out.log" >&2
                hs_fail "expected exit $_want, got $_rc: $*"
        }
}

# --- --check, same as homeostatctl check ---
hs_write_config "$T/good" 2
mkdir -p "$T/bad"
printf 'rules:\n  - name: x\n    series: y\n    detector: {kind: nope}\n' >"$T/bad/homeostat.yaml"
expect_exit 0 "$HOMEOSTATD" --check "$T/good"
grep -q "OK: 2 rules" "$T/out.log" || hs_fail "--check did not summarize: $(cat "$T/out.log")"
expect_exit 1 "$HOMEOSTATD" --check "$T/bad"
grep -q "homeostat.yaml:4:.*error" "$T/out.log" || hs_fail "--check did not print file:line diagnostics"
expect_exit 2 "$HOMEOSTATD" --check "$T/missing.yaml"
expect_exit 1 "$HOMEOSTATD" --check "$T/good" "$T/bad"
expect_exit 0 "$HOMEOSTATCTL" check "$T/good"

# --- usage errors are exit 1 (no restart loop under systemd) ---
expect_exit 1 "$HOMEOSTATD"
expect_exit 1 "$HOMEOSTATD" --config "$T/good" --api /relative.sock
expect_exit 1 "$HOMEOSTATD" --config "$T/good" --bogus
expect_exit 0 "$HOMEOSTATD" --help
expect_exit 0 "$HOMEOSTATD" --version

# --- invalid and unreadable configurations at start ---
expect_exit 1 "$HOMEOSTATD" --config "$T/bad" --api "unix:$T/x.sock"
grep -q "homeostat.yaml:4:" "$T/out.log" || hs_fail "start with a bad file did not name file:line"
[ ! -e "$T/x.sock" ] || hs_fail "the API socket exists although the configuration was invalid"
expect_exit 2 "$HOMEOSTATD" --config "$T/missing.yaml"

if [ "$(id -u)" -eq 0 ]; then
        chmod 664 "$T/good/homeostat.yaml"
        expect_exit 1 "$HOMEOSTATD" --config "$T/good"
        grep -q "$T/good/homeostat.yaml is writable by its group" "$T/out.log" ||
                hs_fail "StrictModes did not name the file: $(cat "$T/out.log")"
        grep -q "chmod go-w $T/good/homeostat.yaml" "$T/out.log" || hs_fail "StrictModes did not name the fix"
        chmod 644 "$T/good/homeostat.yaml"
        chmod 777 "$T/good"
        expect_exit 1 "$HOMEOSTATD" --config "$T/good/homeostat.yaml"
        grep -q "$T/good is writable by group and others" "$T/out.log" ||
                hs_fail "StrictModes did not refuse the directory: $(cat "$T/out.log")"
        chmod 755 "$T/good"
else
        hs_log "not root: StrictModes is not enforced, not tested here"
fi

# --- a stale socket is replaced, the state directory is created ---
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$T/api.sock"
[ -S "$T/api.sock" ] || hs_fail "could not create a stale socket"
hs_start_daemon "$T/daemon.log" --config "$T/good" --state-dir "$T/state/sub" --api "unix:$T/api.sock"
FIRST=$HS_DAEMON_PID
hs_wait 10 hs_ctl "$T/api.sock" status || hs_fail "the daemon did not answer on a replaced stale socket"
[ -d "$T/state/sub" ] || hs_fail "the state directory was not created"
[ "$(stat -c %a "$T/state/sub")" = 700 ] || hs_fail "the state directory is not mode 0700"

# --- a second daemon on the same socket is refused, the first keeps serving ---
expect_exit 2 "$HOMEOSTATD" --config "$T/good" --api "unix:$T/api.sock"
grep -q "listening on $T/api.sock" "$T/out.log" || hs_fail "the refusal did not name the socket: $(cat "$T/out.log")"
hs_ctl "$T/api.sock" status >/dev/null || hs_fail "the first daemon stopped answering"
hs_pid_alive "$FIRST" || hs_fail "the first daemon died"

# --- a file at the socket path that is not a socket is never removed ---
echo keep >"$T/file.sock"
expect_exit 2 "$HOMEOSTATD" --config "$T/good" --api "unix:$T/file.sock"
[ "$(cat "$T/file.sock")" = keep ] || hs_fail "a regular file at the socket path was touched"

# --- clean stop ---
set +e
hs_stop_pid "$FIRST" 10
rc=$?
set -e
[ "$rc" -eq 0 ] || hs_fail "homeostatd exited $rc after SIGTERM"
[ ! -e "$T/api.sock" ] || hs_fail "the API socket was left behind"
[ -f "$T/state/sub/evaluator.state" ] || hs_fail "no state file after stop"
grep -q "Saved learned state" "$T/daemon.log" || hs_fail "the final save was not logged"

# --- homeostatctl without a daemon ---
expect_exit 2 "$HOMEOSTATCTL" --api "unix:$T/api.sock" status
grep -q "cannot reach homeostatd at $T/api.sock" "$T/out.log" || hs_fail "homeostatctl did not name the socket"
expect_exit 2 "$HOMEOSTATCTL" --api "unix:$T/api.sock" reload

hs_log "ok"

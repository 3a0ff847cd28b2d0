# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=sh
#
# Shared helpers for homeostat's shell integration tests: a private temporary directory, bounded waits,
# processes tracked by PID and stopped at exit (never by name), a real `systemd --user` manager in a
# private mount namespace (see /work/shared/recipes/real-peers.md), and small JSON helpers (python3 is
# always there: meson needs it).
#
#   . "$HOMEOSTAT_SOURCE_ROOT/tests/integration/lib.sh"
#   hs_init my-test                 # $HS_TMP, cleanup trap, $HOMEOSTATD, $HOMEOSTATCTL
#   hs_user_manager_start           # skips (77) only if unshare --mount is not permitted
#   hs_wait 10 test -S "$HS_TMP/api.sock" || hs_fail "no socket"
#
# Exit codes follow meson: 0 pass, 1 fail, 77 skip.

set -eu

HS_SRC=${HOMEOSTAT_SOURCE_ROOT:-$(cd "$(dirname "$0")/../../.." && pwd)}
HS_BUILD=${HOMEOSTAT_BUILD_ROOT:-$HS_SRC/build}
HOMEOSTATD=${HOMEOSTATD:-$HS_BUILD/supervisor/homeostatd}
HOMEOSTATCTL=${HOMEOSTATCTL:-$HS_BUILD/ctl/homeostatctl}
HS_TMP=
HS_PIDS=
HS_UM_PID=
HS_NAME=test

hs_log() {
        printf '%s: %s\n' "$HS_NAME" "$*" >&2
}

hs_fail() {
        printf '%s: FAIL: %s\n' "$HS_NAME" "$*" >&2
        exit 1
}

hs_skip() {
        printf '%s: SKIP: %s\n' "$HS_NAME" "$*" >&2
        exit 77
}

# hs_wait SECONDS COMMAND...: run COMMAND every 0.1 s until it succeeds; 1 if it never did.
hs_wait() {
        _hs_deadline=$(($(date +%s%N) / 1000000 + $1 * 1000))
        shift
        while :; do
                if "$@" >/dev/null 2>&1; then
                        return 0
                fi
                if [ "$(($(date +%s%N) / 1000000))" -ge "$_hs_deadline" ]; then
                        return 1
                fi
                sleep 0.1
        done
}

hs_track_pid() {
        HS_PIDS="$HS_PIDS $1"
}

hs_pid_alive() {
        kill -0 "$1" 2>/dev/null
}

# hs_stop_pid PID [SECONDS]: SIGTERM, wait (bounded), then SIGKILL. Returns the exit status if PID is our
# child, else 0.
hs_stop_pid() {
        _hs_pid=$1
        _hs_t=${2:-10}
        hs_pid_alive "$_hs_pid" || return 0
        kill -TERM "$_hs_pid" 2>/dev/null || true
        if ! hs_wait "$_hs_t" sh -c "! kill -0 $_hs_pid 2>/dev/null"; then
                hs_log "PID $_hs_pid did not stop within ${_hs_t}s, killing it"
                kill -KILL "$_hs_pid" 2>/dev/null || true
        fi
        wait "$_hs_pid" 2>/dev/null
}

hs_cleanup() {
        _hs_rc=$?
        set +e
        for _hs_p in $HS_PIDS; do
                if hs_pid_alive "$_hs_p"; then
                        kill -TERM "$_hs_p" 2>/dev/null
                fi
        done
        for _hs_p in $HS_PIDS; do
                hs_wait 5 sh -c "! kill -0 $_hs_p 2>/dev/null" || kill -KILL "$_hs_p" 2>/dev/null
        done
        hs_user_manager_stop
        if [ -n "$HS_TMP" ] && [ -d "$HS_TMP" ]; then
                if [ "$_hs_rc" -ne 0 ] && [ "$_hs_rc" -ne 77 ] && [ -z "${HS_KEEP:-}" ]; then
                        for _hs_f in "$HS_TMP"/*.log; do
                                [ -f "$_hs_f" ] || continue
                                echo "----- $_hs_f (last 40 lines)" >&2
                                tail -n 40 "$_hs_f" >&2
                        done
                fi
                if [ -z "${HS_KEEP:-}" ]; then
                        rm -rf "$HS_TMP"
                else
                        echo "kept $HS_TMP" >&2
                fi
        fi
        exit "$_hs_rc"
}

# hs_init NAME: a fresh temporary directory (reachable by other users, so tests can drop privileges), and
# the cleanup trap.
hs_init() {
        HS_NAME=$1
        [ -x "$HOMEOSTATD" ] || hs_fail "$HOMEOSTATD is not built"
        [ -x "$HOMEOSTATCTL" ] || hs_fail "$HOMEOSTATCTL is not built"
        HS_TMP=$(mktemp -d "/tmp/homeostat-$1-XXXXXX")
        chmod 755 "$HS_TMP"
        trap hs_cleanup EXIT
        trap 'exit 1' INT TERM
}

# ---- a systemd user manager in a private mount namespace ----

# hs_user_manager_start: XDG_RUNTIME_DIR points at it afterwards; `hs_systemctl` talks to it.
hs_user_manager_start() {
        if ! unshare --mount --propagation private true 2>/dev/null; then
                hs_skip "unshare --mount is not permitted here, cannot run a systemd user manager"
        fi
        [ -x /lib/systemd/systemd ] || hs_skip "/lib/systemd/systemd is not installed"
        HS_RT=$HS_TMP/um
        mkdir -p "$HS_RT/home" "$HS_RT/run"
        chmod 700 "$HS_RT/run"
        # The tmpfs over /run/systemd (in the private namespace only) makes the manager believe it was
        # booted with systemd.
        setsid unshare --mount --propagation private sh -c '
                mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/system &&
                HOME="$0/home" XDG_RUNTIME_DIR="$0/run" exec /lib/systemd/systemd --user' "$HS_RT" \
                >"$HS_TMP/user-manager.log" 2>&1 &
        HS_UM_PID=$!
        export XDG_RUNTIME_DIR="$HS_RT/run"
        hs_wait 15 test -S "$XDG_RUNTIME_DIR/systemd/private" || hs_fail "the user manager did not come up"
        hs_wait 15 systemctl --user show -p Version --value || hs_fail "the user manager does not answer"
        mkdir -p "$XDG_RUNTIME_DIR/systemd/user"
}

hs_user_manager_stop() {
        if [ -n "$HS_UM_PID" ]; then
                hs_stop_pid "$HS_UM_PID" 15 || true
                HS_UM_PID=
        fi
}

hs_systemctl() {
        systemctl --user --no-pager "$@"
}

# hs_unit_prop UNIT PROPERTY: one property's value.
hs_unit_prop() {
        systemctl --user show -p "$2" --value "$1"
}

# hs_install_unit FILE: put a unit file where the user manager looks for runtime units, and reload it.
hs_install_unit() {
        cp "$1" "$XDG_RUNTIME_DIR/systemd/user/$(basename "$1")"
        hs_systemctl daemon-reload
}

# ---- JSON (python3) ----

# hs_json EXPR < JSON: print a Python expression over the parsed document `j` (None prints as "null").
hs_json() {
        python3 -c '
import json, sys
j = json.load(sys.stdin)
v = eval(sys.argv[1], {"j": j})
print("null" if v is None else (json.dumps(v) if isinstance(v, (dict, list, bool)) else v))
' "$1"
}

# hs_free_port: a TCP port on 127.0.0.1 that was free a moment ago.
hs_free_port() {
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# hs_push SOCKET: send stdin to a `listen` source (a unix stream socket), then close.
hs_push() {
        python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(sys.stdin.buffer.read())
s.close()
' "$1"
}

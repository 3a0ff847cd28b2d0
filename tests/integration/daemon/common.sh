# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=sh
#
# Helpers shared by the homeostatd integration tests: configurations with a `listen` source, starting the
# daemon in the foreground of the test (tracked by PID), and the test unit derived from
# packaging/homeostat.service.

. "$HS_SRC/tests/integration/lib.sh"

# hs_write_config DIR N_RULES [PUSH_SOCKET]: DIR/homeostat.yaml with one listen source and N threshold rules.
hs_write_config() {
        _d=$1
        _n=$2
        _push=${3:-$HS_TMP/push.sock}
        mkdir -p "$_d"
        {
                echo "sources:"
                echo "  - name: push"
                echo "    listen: $_push"
                echo "    interval: 1s"
                echo "rules:"
                _i=0
                while [ "$_i" -lt "$_n" ]; do
                        echo "  - name: high-$_i"
                        echo "    series: 'load{source=\"push\"}'"
                        echo "    detector: {kind: threshold, above: 100}"
                        _i=$((_i + 1))
                done
                [ "$_n" -gt 0 ] || echo "  []"
        } >"$_d/homeostat.yaml.tmp"
        chmod 644 "$_d/homeostat.yaml.tmp"
        mv "$_d/homeostat.yaml.tmp" "$_d/homeostat.yaml"
}

# hs_start_daemon LOG ARGS...: run homeostatd in the background; sets HS_DAEMON_PID.
hs_start_daemon() {
        _log=$1
        shift
        "$HOMEOSTATD" "$@" >>"$_log" 2>&1 &
        HS_DAEMON_PID=$!
        hs_track_pid "$HS_DAEMON_PID"
}

# hs_ctl SOCKET ARGS...
hs_ctl() {
        _s=$1
        shift
        "$HOMEOSTATCTL" --api "unix:$_s" "$@"
}

hs_status_json() {
        hs_ctl "$1" status --json
}

# hs_status_value SOCKET EXPR: a Python expression over the status JSON `j` (see hs_json).
hs_status_value() {
        hs_status_json "$1" | hs_json "$2"
}

# hs_status_at_least SOCKET EXPR N: true once the expression is a number >= N.
hs_status_at_least() {
        _v=$(hs_status_value "$1" "$2" 2>/dev/null) || return 1
        [ "${_v%%.*}" -ge "$3" ] 2>/dev/null
}

# hs_test_unit OUT CONFIG STATE API [WATCHDOG]: the packaged unit, pointed at the build directory and the
# test's files, talking to the user manager (--user). What differs from packaging/homeostat.service:
#  - ExecStart=/ExecReload= use the build tree and the test's paths, plus --user;
#  - PrivateTmp= is dropped (the test's files live in /tmp) and ReadWritePaths= names the test directory
#    (ProtectSystem=strict makes everything else read-only);
#  - ProtectHome=yes becomes ProtectHome=tmpfs: in this nested user manager the "inaccessible" mounts
#    ProtectHome=yes needs fail with 226/NAMESPACE (tmpfs hides /home, /root and /run/user just as well);
#  - WatchdogSec= is shortened so that the watchdog test is quick; stderr goes to a file (no journald);
#  - under a sanitizer build (ASAN_OPTIONS set, as meson's test environment does), leak detection is off.
# Everything else (Type=notify, NotifyAccess=main, RestartPreventExitStatus=1, the rest of the sandbox:
# no capabilities, NoNewPrivileges, the system call filter, ...) is applied as packaged.
hs_test_unit() {
        _out=$1
        _cfg=$2
        _state=$3
        _api=$4
        _wd=${5:-30s}
        sed -e "s|^ExecStart=.*|ExecStart=$HOMEOSTATD --config $_cfg --state-dir $_state --api unix:$_api --user|" \
            -e "s|^ExecReload=.*|ExecReload=$HOMEOSTATCTL --api unix:$_api reload|" \
            -e "s|^PrivateTmp=yes|ReadWritePaths=$HS_TMP|" \
            -e "s|^ProtectHome=yes|ProtectHome=tmpfs|" \
            -e "s|^WatchdogSec=.*|WatchdogSec=$_wd|" \
            -e '/^\[Install\]/,$d' \
            "$HS_SRC/packaging/homeostat.service" >"$_out"
        # A sanitizer build: LeakSanitizer cannot stop the world inside this sandbox (no ptrace), so leaks are
        # checked by the other daemon tests; everything else (ASan, UBSan) stays on.
        if [ -n "${ASAN_OPTIONS:-}" ]; then
                echo "Environment=ASAN_OPTIONS=detect_leaks=0:abort_on_error=1" >>"$_out"
                echo "Environment=UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" >>"$_out"
        fi
        echo "StandardOutput=append:$HS_TMP/daemon.log" >>"$_out"
        echo "StandardError=append:$HS_TMP/daemon.log" >>"$_out"
        grep -q "^ExecStart=$HOMEOSTATD " "$_out" || hs_fail "could not rewrite ExecStart= in the unit"
        grep -q "^ReadWritePaths=$HS_TMP" "$_out" || hs_fail "could not rewrite PrivateTmp= in the unit"
}

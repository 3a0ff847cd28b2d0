#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The intent is persisted before an action runs, and a crash is reconciled with the world instead of
# acting twice: the demo unit takes 10 s to stop, homeostatd is killed with SIGKILL while its restart job
# runs (10 s of ExecStop=, so that a loaded machine still catches it), and the restarted homeostatd finds the action in flight, sees that the unit's InvocationID changed
# (the restart happened), records it as succeeded, verifies and resolves — with exactly one restart.
HS_SRC=${HOMEOSTAT_SOURCE_ROOT:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$HS_SRC/tests/integration/incidents/common.sh"

hs_init incident-crash
hs_user_manager_start
hi_start_demo hi-crash.service
# A slow stop: the restart job takes 10 s.
mkdir -p "$XDG_RUNTIME_DIR/systemd/user/hi-crash.service.d"
printf '[Service]\nExecStop=/bin/sleep 10\n' >"$XDG_RUNTIME_DIR/systemd/user/hi-crash.service.d/slow.conf"
hs_systemctl daemon-reload
sleep 1.5
hi_config "    remediate:
      - action: restart
        unit: $HI_UNIT
        settle: 1s
        verify: 30s"
hi_start_daemon
before=$(hi_invocation)

hi_post /degrade
# The intent is on disk before the action runs: wait for it there (not through the API, so that the check is
# quick even on a loaded machine), then kill homeostatd while the restart job runs.
intent() {
        python3 - "$HI_STATE/incidents.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
a = j["incidents"][0]["action"] if j["incidents"] else None
sys.exit(0 if a and a["phase"] == "executing" and a["action"] == "restart" and a["invocation_id_before"] else 1)
PY
}
hs_wait 30 intent || hs_fail "no intent in incidents.json: $(cat "$HI_STATE/incidents.json")"
kill -KILL "$HI_DAEMON_PID"
wait "$HI_DAEMON_PID" 2>/dev/null || true
hs_wait 30 sh -c "[ \"\$(systemctl --user show -p ActiveState --value $HI_UNIT)\" = active ] &&
        [ \"\$(systemctl --user show -p InvocationID --value $HI_UNIT)\" != $before ]" ||
        hs_fail "the restart job did not finish on its own"
restarted=$(hi_invocation)

rm -f "$HI_API"
hi_start_daemon
hi_until 30 "j['incidents'][0]['state'] == 'resolved'" || hs_fail "did not resolve after the crash: $(hi_ctl incidents --json)"
kinds=$(hi_kinds 0)
[ "$kinds" = "detected firing action_started action_succeeded verify_passed resolved" ] || hs_fail "unexpected timeline: $kinds"
hi_incidents "j['incidents'][0]['events'][3]['message']" | grep -q "completed before homeostatd restarted (InvocationID $before -> $restarted)" ||
        hs_fail "the reconciliation is not recorded: $(hi_incidents "j['incidents'][0]['events'][3]['message']")"
[ "$(hi_invocation)" = "$restarted" ] || hs_fail "$HI_UNIT was restarted a second time"
hs_log "ok: one restart across a crash, reconciled by InvocationID"

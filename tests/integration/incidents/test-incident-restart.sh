#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# A degraded service is restarted and the incident resolves: a real `systemd --user` runs the demo
# service, homeostatd scrapes it, the fault is injected, and the test watches homeostatd detect it, restart
# the unit (its InvocationID changes), verify the recovery and resolve the incident with an MTTR; the
# timeline is the same through the API, homeostatctl, the JSONL file on disk and a webhook notifier (a
# loopback receiver gets every event, in order, with an Idempotency-Key).
HS_SRC=${HOMEOSTAT_SOURCE_ROOT:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$HS_SRC/tests/integration/incidents/common.sh"

hs_init incident-restart
hs_user_manager_start
hi_start_demo hi-restart.service
hi_start_receiver
hi_config "    notify: [ops]
    remediate:
      - action: restart
        unit: $HI_UNIT
        settle: 1s
        verify: 20s" "notifiers:
  - name: ops
    kind: webhook
    url: http://127.0.0.1:$HI_HOOK_PORT/hook"
hi_start_daemon

sleep 2 # past the 1 s grace after our own start of the unit
before=$(hi_invocation)
[ -n "$before" ] || hs_fail "$HI_UNIT has no InvocationID"
[ "$(hi_incidents 'len(j["incidents"])')" = 0 ] || hs_fail "an incident before any fault"

hi_post /degrade
hi_until 30 "j['incidents'] and j['incidents'][0]['state'] == 'resolved'" ||
        hs_fail "the incident did not resolve: $(hi_ctl incidents --json)"

after=$(hi_invocation)
[ "$after" != "$before" ] || hs_fail "$HI_UNIT was not restarted (InvocationID $before unchanged)"
kinds=$(hi_kinds 0)
[ "$kinds" = "detected firing action_started action_succeeded verify_passed resolved" ] ||
        hs_fail "unexpected timeline: $kinds"
mttr=$(hi_incidents "j['incidents'][0]['mttr_seconds']")
python3 -c "import sys; m = float(sys.argv[1]); sys.exit(0 if 0 < m < 30 else 1)" "$mttr" ||
        hs_fail "MTTR $mttr is not a plausible number of seconds"
started=$(hi_incidents "j['incidents'][0]['events'][2]['attrs']['invocation_id_before']")
[ "$started" = "$before" ] || hs_fail "action_started recorded InvocationID $started, the unit had $before"
hi_incidents "j['incidents'][0]['events'][0]['message']" | grep -q "0.9 s, expected" ||
        hs_fail "the detection message does not carry value and expectation"

# homeostatctl: the table, and the timeline by a short prefix.
id=$(hi_incidents "j['incidents'][0]['id']")
hi_ctl incidents >"$HS_TMP/table.txt" || hs_fail "homeostatctl incidents failed"
grep -q "^${id%"${id#????????}"}  *demo-latency .*resolved" "$HS_TMP/table.txt" ||
        hs_fail "the table does not list the incident: $(cat "$HS_TMP/table.txt")"
hi_ctl incident "$(echo "$id" | cut -c1-6)" >"$HS_TMP/incident.txt" || hs_fail "homeostatctl incident failed"
grep -q "MTTR: " "$HS_TMP/incident.txt" || hs_fail "no MTTR in: $(cat "$HS_TMP/incident.txt")"
grep -q "action_succeeded.*restart $HI_UNIT succeeded" "$HS_TMP/incident.txt" ||
        hs_fail "no restart in the timeline: $(cat "$HS_TMP/incident.txt")"
hi_ctl incident ffffffff >/dev/null 2>&1 && hs_fail "an unknown incident was found"
[ $? -eq 1 ] || hs_fail "an unknown incident should exit 1"

# The JSONL file: one line per event, the webhook shape, in order.
python3 - "$HI_STATE/timeline.jsonl" "$id" <<'PY' || hs_fail "timeline.jsonl does not match"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
mine = [l for l in lines if l["incident"]["id"] == sys.argv[2]]
assert [l["event"]["seq"] for l in mine] == list(range(1, 7)), mine
assert all(l["version"] == 1 and "events" not in l["incident"] for l in mine)
assert mine[-1]["event"]["kind"] == "resolved"
PY

# The webhook: one POST per event, in order, the ARCHITECTURE.md payload, a distinct Idempotency-Key each.
hook_ok() {
        python3 - "$HS_TMP/hook.jsonl" "$id" <<'PY'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
mine = [r for r in reqs if json.loads(r["body"])["incident"]["id"] == sys.argv[2]]
bodies = [json.loads(r["body"]) for r in mine]
assert [b["event"]["seq"] for b in bodies] == list(range(1, 7)), [b["event"]["seq"] for b in bodies]
assert all(b["version"] == 1 and "events" not in b["incident"] for b in bodies)
assert len({r["key"] for r in mine}) == 6 and all(r["key"] for r in mine)
assert all(r["path"] == "/hook" and r["type"].startswith("application/json") for r in mine)
assert bodies[-1]["incident"]["state"] == "resolved" and bodies[-1]["event"]["kind"] == "resolved"
PY
}
hs_wait 30 hook_ok || hs_fail "the webhook did not get the timeline: $(cat "$HS_TMP/hook.jsonl" 2>/dev/null)"

# The state survives a restart of homeostatd.
hs_stop_pid "$HI_DAEMON_PID" 15 || hs_fail "homeostatd did not stop cleanly"
hi_start_daemon
[ "$(hi_incidents "j['incidents'][0]['id']")" = "$id" ] || hs_fail "the incident was lost across a restart"
[ "$(hi_invocation)" = "$after" ] || hs_fail "$HI_UNIT was restarted again after homeostatd restarted"
hs_log "ok: restarted, resolved in ${mttr}s"

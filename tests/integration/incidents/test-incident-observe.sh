#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# mode: observe, then homeostatd --dry-run: the incident records what would be done ("would restart
# the unit", action_skipped with reason observe / dry-run), nothing is changed (the unit keeps its
# InvocationID), and the incident resolves when the service recovers by itself.
HS_SRC=${HOMEOSTAT_SOURCE_ROOT:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$HS_SRC/tests/integration/incidents/common.sh"

hs_init incident-observe
hs_user_manager_start
hi_start_demo hi-observe.service
sleep 1.5

run_case() {
        reason=$1
        n=$2
        before=$(hi_invocation)
        hi_post /degrade
        hi_until 20 "len(j['incidents']) == $n and any(e['kind'] == 'action_skipped' for e in j['incidents'][-1]['events'])" ||
                hs_fail "$reason: no skipped action recorded: $(hi_ctl incidents --json)"
        i=$((n - 1))
        [ "$(hi_incidents "j['incidents'][$i]['events'][2]['attrs']['reason']")" = "$reason" ] ||
                hs_fail "$reason: the skip has another reason"
        hi_incidents "j['incidents'][$i]['events'][2]['message']" | grep -q "^would restart $HI_UNIT" ||
                hs_fail "$reason: the skip does not say what would have been done"
        sleep 3
        [ "$(hi_invocation)" = "$before" ] || hs_fail "$reason: $HI_UNIT was restarted"
        [ "$(hi_incidents "j['incidents'][$i]['state']")" = firing ] || hs_fail "$reason: the incident is not just firing"
        hi_post /heal
        hi_until 20 "j['incidents'][$i]['state'] == 'resolved'" || hs_fail "$reason: did not resolve after healing"
        [ "$(hi_kinds $i)" = "detected firing action_skipped resolved" ] || hs_fail "$reason: timeline $(hi_kinds $i)"
        [ "$(hi_invocation)" = "$before" ] || hs_fail "$reason: $HI_UNIT was restarted"
}

hi_config "    remediate:
      - action: restart
        unit: $HI_UNIT
    mode: observe"
hi_start_daemon
run_case observe 1
hs_stop_pid "$HI_DAEMON_PID" 15 || hs_fail "homeostatd did not stop cleanly"

# Same rule in remediate mode, the daemon in --dry-run. A new incident (past reopen_within: 1s).
hi_config "    reopen_within: 1s
    remediate:
      - action: restart
        unit: $HI_UNIT"
hi_start_daemon --dry-run
sleep 2
run_case dry-run 2
hs_log "ok: observe and dry-run change nothing"

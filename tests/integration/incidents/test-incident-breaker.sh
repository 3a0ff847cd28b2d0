#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# A service that never recovers trips the circuit breaker: the demo service starts degraded every time (a
# fault a restart does not fix), the rule declares three restarts with breaker_after: 2. homeostatd
# restarts it twice, each verification fails, the breaker opens, the third step is skipped with reason
# "breaker", the incident escalates to a human — and no restart loop follows.
HS_SRC=${HOMEOSTAT_SOURCE_ROOT:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$HS_SRC/tests/integration/incidents/common.sh"

hs_init incident-breaker
hs_user_manager_start
hi_start_demo hi-breaker.service
touch "$HI_BROKEN"
hs_systemctl restart "$HI_UNIT"
hs_wait 10 sh -c "python3 -c 'import urllib.request, sys; sys.exit(0 if b\"0.9\" in urllib.request.urlopen(\"http://127.0.0.1:$HI_PORT/metrics\").read() else 1)'" ||
        hs_fail "$HI_UNIT did not start degraded"
sleep 1.5 # past the grace after the test's own restart
hi_config "    remediate:
      - action: restart
        unit: $HI_UNIT
        settle: 1s
        verify: 4s
      - action: restart
        unit: $HI_UNIT
        settle: 1s
        verify: 4s
      - action: restart
        unit: $HI_UNIT
        settle: 1s
        verify: 4s
    guard:
      breaker_after: 2
      breaker_window: 1h"
first=$(hi_invocation)
hi_start_daemon

hi_until 40 "j['incidents'] and j['incidents'][0]['state'] == 'escalated'" ||
        hs_fail "the incident did not escalate: $(hi_ctl incidents --json)"
kinds=$(hi_kinds 0)
expected="detected firing action_started action_succeeded verify_failed action_started action_succeeded verify_failed action_skipped escalated"
[ "$kinds" = "$expected" ] || hs_fail "unexpected timeline: $kinds"
[ "$(hi_incidents "j['incidents'][0]['events'][8]['attrs']['reason']")" = breaker ] || hs_fail "the skip is not the breaker's"
[ "$(hi_incidents "j['incidents'][0]['events'][9]['attrs']['reason']")" = "breaker open" ] ||
        hs_fail "the escalation does not name the breaker"
second=$(hi_incidents "j['incidents'][0]['events'][6]['attrs']['invocation_id']")
[ "$(hi_invocation)" = "$second" ] || hs_fail "the unit is not where the second restart left it"
[ "$second" != "$first" ] || hs_fail "the unit was never restarted"

# No restart loop: time passes, the series keeps firing, nothing more happens.
sleep 10
[ "$(hi_invocation)" = "$second" ] || hs_fail "$HI_UNIT was restarted again after the breaker opened"
[ "$(hi_kinds 0)" = "$expected" ] || hs_fail "the timeline went on: $(hi_kinds 0)"
[ "$(hi_incidents 'len(j["incidents"])')" = 1 ] || hs_fail "another incident was opened"

# The breaker is persisted: a restarted homeostatd does not act either.
hs_stop_pid "$HI_DAEMON_PID" 15 || hs_fail "homeostatd did not stop cleanly"
hi_start_daemon
sleep 6
[ "$(hi_invocation)" = "$second" ] || hs_fail "$HI_UNIT was restarted after homeostatd restarted"
hs_log "ok: two restarts, breaker open, escalated, no loop"

#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Silences through homeostatctl and the API: while a silence matches, the incident takes no action
# (action_skipped, reason silence) and the unit is left alone; ending the silence (homeostatctl silence
# --expire) lets the remediation run and the incident resolve. Bad silences are refused with a reason.
HS_SRC=${HOMEOSTAT_SOURCE_ROOT:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$HS_SRC/tests/integration/incidents/common.sh"

hs_init incident-silence
hs_user_manager_start
hi_start_demo hi-silence.service
sleep 1.5
hi_config "    remediate:
      - action: restart
        unit: $HI_UNIT
        settle: 1s
        verify: 20s"
hi_start_daemon

# Refused: no matcher, a bad duration, a bad regular expression.
hi_ctl silence --for 1h >/dev/null 2>&1 && hs_fail "a silence of everything was accepted"
hi_ctl silence --rule demo-latency --for forever >/dev/null 2>&1 && hs_fail "a bad duration was accepted"
out=$(hi_ctl silence --rule demo-latency --match 'source=~(' --for 1h 2>&1) && hs_fail "a bad regex was accepted"
echo "$out" | grep -q "regular expression" || hs_fail "the refusal does not say why: $out"

hi_ctl silence --json --rule demo-latency --match source=demo --for 1h --comment "deploy in progress" >"$HS_TMP/silence.json" ||
        hs_fail "the silence was refused"
sid=$(hs_json "j['id']" <"$HS_TMP/silence.json")
[ "$(hs_json "j['comment']" <"$HS_TMP/silence.json")" = "deploy in progress" ] || hs_fail "comment lost"
hi_ctl silence --list | grep -q "$sid  active" || hs_fail "the silence is not listed"

before=$(hi_invocation)
hi_post /degrade
hi_until 20 "j['incidents'] and any(e['kind'] == 'action_skipped' for e in j['incidents'][0]['events'])" ||
        hs_fail "no silenced skip: $(hi_ctl incidents --json)"
[ "$(hi_kinds 0)" = "detected firing silenced action_skipped" ] || hs_fail "unexpected timeline: $(hi_kinds 0)"
sleep 3
[ "$(hi_invocation)" = "$before" ] || hs_fail "$HI_UNIT was restarted while silenced"

hi_ctl silence --expire "$sid" >/dev/null || hs_fail "cannot end the silence"
hi_until 20 "j['incidents'][0]['state'] == 'resolved'" || hs_fail "did not resolve after the silence: $(hi_ctl incidents --json)"
[ "$(hi_kinds 0)" = "detected firing silenced action_skipped unsilenced action_started action_succeeded verify_passed resolved" ] ||
        hs_fail "unexpected timeline: $(hi_kinds 0)"
[ "$(hi_invocation)" != "$before" ] || hs_fail "$HI_UNIT was not restarted after the silence"
hs_log "ok: silenced, then remediated"

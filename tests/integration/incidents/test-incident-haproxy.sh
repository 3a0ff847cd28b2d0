#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Traffic shift with a real HAProxy: the rule drains api/web1 when the demo service degrades. The drain is
# checked with `show servers state`; when the service recovers the incident resolves and the drain is
# undone (back to ready), also checked with `show servers state`.
HS_SRC=${HOMEOSTAT_SOURCE_ROOT:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$HS_SRC/tests/integration/incidents/common.sh"

command -v haproxy >/dev/null || hs_skip "haproxy is not installed"
hs_init incident-haproxy
hs_user_manager_start
hi_start_demo hi-haproxy.service

# HAProxy with an admin socket, a frontend on a free port and two servers (no health checks).
fe_port=$(hs_free_port)
cat >"$HS_TMP/haproxy.cfg" <<CFG
global
    stats socket $HS_TMP/haproxy.sock mode 600 level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:$fe_port
    default_backend api
backend api
    server web1 127.0.0.1:9 weight 10
    server web2 127.0.0.1:9
CFG
haproxy -db -f "$HS_TMP/haproxy.cfg" >"$HS_TMP/haproxy.log" 2>&1 &
hs_track_pid $!
hs_wait 10 test -S "$HS_TMP/haproxy.sock" || hs_fail "haproxy did not open its admin socket"

# srv_admin_state of api/SERVER from `show servers state api` (field 7).
admin_state() {
        python3 - "$HS_TMP/haproxy.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"show servers state api\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
for line in data.decode().splitlines():
    f = line.split()
    if len(f) > 6 and not line.startswith("#") and f[1] == "api" and f[3] == sys.argv[2]:
        print(f[6])
        sys.exit(0)
sys.exit(1)
PY
}

[ "$(admin_state web1)" = 0 ] || hs_fail "web1 is not ready at the start"
sleep 1.5
hi_config "    remediate:
      - action: haproxy
        socket: $HS_TMP/haproxy.sock
        server: api/web1
        state: drain
        settle: 1s
        verify: 60s"
hi_start_daemon

hi_post /degrade
hi_until 20 "j['incidents'] and any(e['kind'] == 'action_succeeded' for e in j['incidents'][0]['events'])" ||
        hs_fail "no drain: $(hi_ctl incidents --json)"
state=$(admin_state web1)
[ $((state & 8)) -eq 8 ] || hs_fail "web1 is not draining (srv_admin_state $state)"
[ "$(admin_state web2)" = 0 ] || hs_fail "web2 was touched"

# The service recovers: the incident resolves and the drain is undone.
hi_post /heal
hi_until 20 "j['incidents'][0]['state'] == 'resolved' and j['incidents'][0]['events'][-1]['kind'] == 'undo_succeeded'" ||
        hs_fail "the drain was not undone: $(hi_ctl incidents --json)"
[ "$(admin_state web1)" = 0 ] || hs_fail "web1 is not back to ready (srv_admin_state $(admin_state web1))"
kinds=$(hi_kinds 0)
[ "$kinds" = "detected firing action_started action_succeeded verify_passed resolved undo_started undo_succeeded" ] ||
        hs_fail "unexpected timeline: $kinds"
hs_log "ok: drained, resolved, back to ready"

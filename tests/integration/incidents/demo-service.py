#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# A tiny service for the incident integration tests, run as a unit of a real `systemd --user`:
# GET /metrics exposes demo_latency_seconds (0.1 while healthy, 0.9 while degraded) in Prometheus text
# format. POST /degrade makes this process degraded until it exits (a restart heals it); POST /heal heals
# it. When the file named by the second argument exists, every new process starts degraded: a fault that
# a restart does not fix.
#
# The first argument is a port file: the first start binds 127.0.0.1:0 (the kernel picks a free port, so
# parallel tests never collide) and writes the port there; later starts (restarts) bind the same port.
import http.server
import os
import sys

port_file = sys.argv[1]
broken = sys.argv[2] if len(sys.argv) > 2 else None
state = {"degraded": bool(broken and os.path.exists(broken))}


class Handler(http.server.BaseHTTPRequestHandler):
    def reply(self, code, body, ctype="text/plain; version=0.0.4"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/metrics":
            v = 0.9 if state["degraded"] else 0.1
            self.reply(200, "# TYPE demo_latency_seconds gauge\ndemo_latency_seconds %g\n" % v)
        else:
            self.reply(404, "not found\n")

    def do_POST(self):
        if self.path in ("/degrade", "/heal"):
            state["degraded"] = self.path == "/degrade"
            self.reply(200, "ok\n")
        else:
            self.reply(404, "not found\n")

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    allow_reuse_address = True


port = int(open(port_file).read()) if os.path.exists(port_file) else 0
server = Server(("127.0.0.1", port), Handler)
if port == 0:
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(port_file + ".tmp", port_file)
server.serve_forever()

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A Prometheus exporter for the daemon benchmark: N gauge series (bench_value{id="0".."N-1"}) that move a
little on every scrape, served on 127.0.0.1:PORT/metrics. The body is rebuilt at most once per second (all
scrapes within that second see the same values), so the exporter's own cost stays small and constant.
Usage: exporter.py PORT N"""
import http.server
import math
import sys
import threading
import time


class State:
    lock = threading.Lock()
    body = b""
    built_at = 0.0
    n = 10000


def build(n, t):
    lines = ["# HELP bench_value A synthetic gauge per id.", "# TYPE bench_value gauge"]
    phase = t / 60.0
    for i in range(n):
        lines.append('bench_value{id="%d"} %.4f' % (i, 100.0 + 10.0 * math.sin(phase + i)))
    return ("\n".join(lines) + "\n").encode()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/metrics":
            self.send_error(404)
            return
        now = time.time()
        with State.lock:
            if now - State.built_at >= 1.0:
                State.body = build(State.n, now)
                State.built_at = now
            body = State.body
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    port, State.n = int(sys.argv[1]), int(sys.argv[2])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()

#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A fake chat/webhook receiver for the notifier integration tests: it records every request and
misbehaves on command, to prove retries, timeouts and the durable outbox against a real TCP peer.

It listens on 127.0.0.1 on a free port and writes that port to --port-file once it accepts connections.
Stop it with SIGTERM (the tests stop it by PID).

Control endpoints (JSON):
  POST /_control/script    {"path": "/hook", "actions": [ACTION, ...], "default": ACTION}
                           actions are consumed one per request to that exact path, then "default"
                           answers (initially {"status": 200}); "path": "*" sets the fallback for all paths
  GET  /_control/requests  {"requests": [RECORD, ...]} in arrival order
  POST /_control/reset     forget requests and scripts

ACTION:
  {"status": 500, "body": "...", "headers": {"Retry-After": "2"}, "echo_path": true}
  {"action": "hang", "seconds": 30}     read the request, answer nothing, close after `seconds`
  {"action": "reset"}                   read the request, close with a TCP RST
  {"action": "close_mid"}               send a status line, headers and half the promised body, close
  {"status": 200, "delay": 1.5}         answer after a delay

RECORD: {"n", "path", "method", "headers" (lower-case names), "body", "t_start", "t_end" (time.time()),
"outcome" ("200", "hang", "reset", "close_mid", ...), "completed" (a full response was sent),
"concurrent" (requests to the same path in progress when this one arrived, itself included)}
"""

import argparse
import json
import os
import signal
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
requests = []
scripts = {}      # path -> list of actions
defaults = {}     # path -> action; "*" is the fallback
in_progress = {}  # path -> count


def next_action(path):
    with lock:
        queue = scripts.get(path)
        if queue:
            return queue.pop(0)
        return defaults.get(path) or defaults.get("*") or {"status": 200}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "webhook-receiver/1"
    # Headers and body go out in separate writes; without this, Nagle and delayed ACKs add 40 ms to
    # every keep-alive response and the receiver, not the client, would set every figure.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # quiet
        pass

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send_json(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def control(self, method, body):
        path = self.path.split("?", 1)[0]
        if method == "GET" and path == "/_control/requests":
            with lock:
                snapshot = list(requests)
            return self.send_json(200, {"requests": snapshot})
        if method == "POST" and path == "/_control/reset":
            with lock:
                requests.clear()
                scripts.clear()
                defaults.clear()
            return self.send_json(200, {})
        if method == "POST" and path == "/_control/script":
            spec = json.loads(body or b"{}")
            target = spec.get("path", "*")
            with lock:
                if "actions" in spec:
                    scripts[target] = list(spec["actions"])
                if "default" in spec:
                    defaults[target] = spec["default"]
            return self.send_json(200, {})
        return self.send_json(404, {"error": "unknown control endpoint"})

    def handle_any(self, method):
        body = self.read_body()
        if self.path.startswith("/_control/"):
            return self.control(method, body)

        path = self.path.split("?", 1)[0]
        with lock:
            in_progress[path] = in_progress.get(path, 0) + 1
            record = {
                "n": len(requests),
                "path": path,
                "method": method,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace"),
                "t_start": time.time(),
                "t_end": None,
                "outcome": None,
                "completed": False,
                "concurrent": in_progress[path],
            }
            requests.append(record)
        try:
            self.respond(next_action(path), record, path)
        finally:
            with lock:
                in_progress[path] -= 1
                record["t_end"] = time.time()

    def respond(self, action, record, path):
        kind = action.get("action")
        if kind == "hang":
            record["outcome"] = "hang"
            deadline = time.time() + float(action.get("seconds", 30))
            while time.time() < deadline:
                time.sleep(0.05)
            self.close_connection = True
            return
        if kind == "reset":
            record["outcome"] = "reset"
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        if kind == "close_mid":
            record["outcome"] = "close_mid"
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\npartial")
            self.wfile.flush()
            self.close_connection = True
            return

        if action.get("delay"):
            time.sleep(float(action["delay"]))
        status = int(action.get("status", 200))
        text = action.get("body", "ok")
        if action.get("echo_path"):
            text = "%s (no route for POST %s)" % (text, path)
        data = text.encode()
        self.send_response(status)
        for name, value in (action.get("headers") or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        record["outcome"] = str(status)
        record["completed"] = True

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_GET(self):
        self.handle_any("GET")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--bind", default="127.0.0.1")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server = Server((args.bind, 0), Handler)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, args.port_file)
    server.serve_forever(poll_interval=0.1)


if __name__ == "__main__":
    main()

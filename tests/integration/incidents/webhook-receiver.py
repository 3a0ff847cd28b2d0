#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# A loopback webhook receiver for the incident integration tests: binds 127.0.0.1:0, writes its port to
# the file named by the first argument, answers every POST with 200 and appends one JSON line per request
# (path, Idempotency-Key, Content-Type, body) to the file named by the second argument.
import http.server
import json
import os
import sys

port_file, log_file = sys.argv[1], sys.argv[2]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode()
        with open(log_file, "a") as f:
            f.write(json.dumps({"path": self.path, "key": self.headers.get("Idempotency-Key"),
                                "type": self.headers.get("Content-Type"), "body": body}) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % server.server_address[1])
os.rename(port_file + ".tmp", port_file)
server.serve_forever()

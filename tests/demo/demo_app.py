#!/usr/bin/env python3
"""A tiny annotated example application for the demo: serves Prometheus text on
/metrics with a request counter and a latency histogram that move over time.
Usage: demo_app.py PORT NAME [PORTFILE]
PORT 0 takes a free port; the port bound is written to PORTFILE (when given) once the
server listens. A port that cannot be bound is one line on stderr and exit status 1."""
import http.server
import os
import random
import sys
import threading
import time

PORT, NAME = int(sys.argv[1]), sys.argv[2]
PORTFILE = sys.argv[3] if len(sys.argv) > 3 else None
lock = threading.Lock()
state = {"requests": 0, "buckets": [0, 0, 0, 0], "sum": 0.0}
BOUNDS = [0.05, 0.1, 0.5]


def tick():
    while True:
        with lock:
            for _ in range(random.randint(1, 20)):
                d = random.expovariate(10)
                state["requests"] += 1
                state["sum"] += d
                for i, b in enumerate(BOUNDS):
                    if d <= b:
                        state["buckets"][i] += 1
                state["buckets"][3] += 1
        time.sleep(1)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/metrics":
            self.send_error(404)
            return
        with lock:
            lines = [
                "# HELP demo_requests_total Requests served by the demo app.",
                "# TYPE demo_requests_total counter",
                f'demo_requests_total{{app="{NAME}"}} {state["requests"]}',
                "# HELP demo_request_duration_seconds Request latency.",
                "# TYPE demo_request_duration_seconds histogram",
            ]
            for i, b in enumerate(BOUNDS):
                lines.append(f'demo_request_duration_seconds_bucket{{le="{b}"}} {state["buckets"][i]}')
            lines.append(f'demo_request_duration_seconds_bucket{{le="+Inf"}} {state["buckets"][3]}')
            lines.append(f'demo_request_duration_seconds_sum {state["sum"]:.6f}')
            lines.append(f'demo_request_duration_seconds_count {state["buckets"][3]}')
        body = ("\n".join(lines) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    except OSError as e:
        sys.stderr.write("demo_app %s: cannot listen on 127.0.0.1:%d: %s\n" % (NAME, PORT, e.strerror or e))
        sys.exit(1)
    if PORTFILE:  # written whole, then renamed: a reader never sees half a number
        with open(PORTFILE + ".tmp", "w") as f:
            f.write("%d\n" % server.server_address[1])
        os.rename(PORTFILE + ".tmp", PORTFILE)
    threading.Thread(target=tick, daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:  # Ctrl-C reaches the whole foreground group: no traceback
        pass


main()

#!/usr/bin/env python3
"""app.py PORT -- a tiny application exposing /metrics (text format 0.0.4), used as the
scrape target of the annotated frontend pod on demo-node-1 (podIP 127.0.0.1)."""
import http.server
import sys
import time

START = time.time()


class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.split("?")[0] != "/metrics":
            self.send_error(404)
            return
        body = ("# HELP e2e_app_requests_total Requests served by the e2e app.\n"
                "# TYPE e2e_app_requests_total counter\n"
                'e2e_app_requests_total{code="200"} %d\n'
                "# HELP e2e_app_up_seconds Seconds since start.\n"
                "# TYPE e2e_app_up_seconds gauge\n"
                "e2e_app_up_seconds %.3f\n" % (int((time.time() - START) * 10), time.time() - START)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()

#!/usr/bin/env python3
"""Hostile tenant targets for tests/integration/test_attack_scrape.sh.

  attack.py PORT:KIND[:ARG] ...   (all on 127.0.0.1; prints READY)

KIND: ok (3 series), secret (an unparsable first line holding a secret, as a
loopback service would answer), redirect (302 to ARG, a URL), forge
(kube-state-metrics series of kube-system), big (ARG series of ~120 bytes),
million (1,000,000 series), sink (answers ok and prints "HIT PORT PATH" for
every request: a service the agent must never reach)."""
import http.server, socketserver, sys, threading, time

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

def handler(port, kind, arg):
    cache = {}
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *a):
            pass
        def body(self, data, code=200, headers=()):
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        def do_GET(self):
            try:
                self.serve()
            except (BrokenPipeError, ConnectionResetError):
                pass
        def serve(self):
            if kind == "ok":
                return self.body(b'app_ok{i="0"} 1\napp_ok{i="1"} 2\napp_ok{i="2"} 3\n')
            if kind == "secret":
                return self.body(b"SECRET-s3kr1t-token-value is not exposition\n")
            if kind == "redirect":
                return self.body(b"", 302, [("Location", arg)])
            if kind == "forge":
                return self.body(b'kube_pod_status_ready{namespace="kube-system",pod="coredns-0",'
                                 b'job="kube-state-metrics",condition="true"} 1\n')
            if kind == "million":
                if "b" not in cache:
                    cache["b"] = b"".join(b"m%d 1\n" % i for i in range(1000000))
                return self.body(cache["b"])
            if kind == "big":
                n = int(arg)
                if "b" not in cache:
                    pad = "x" * 80
                    cache["b"] = "".join('big_series{i="%d",pad="%s"} 1\n' % (i, pad)
                                         for i in range(n)).encode()
                return self.body(cache["b"])
            if kind == "sink":
                print("HIT %d %s" % (port, self.path), flush=True)
                return self.body(b"sink_reached 1\n")
            self.send_error(404)
    return H

def main():
    for spec in sys.argv[1:]:
        parts = spec.split(":", 2)
        port, kind = int(parts[0]), parts[1]
        arg = parts[2] if len(parts) > 2 else ""
        # The sink listens on every address: reachable as the node IP too.
        srv = Server(("0.0.0.0" if kind == "sink" else "127.0.0.1", port), handler(port, kind, arg))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("READY", flush=True)
    while True:
        time.sleep(3600)

if __name__ == "__main__":
    main()

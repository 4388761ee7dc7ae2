#!/usr/bin/env python3
"""Loopback scrape targets for tests and benchmarks: one process, many ports.

  targets.py [--bind 127.0.0.1] [--tls-cert C --tls-key K] PORT:KIND[:N] ...

KIND: ok (N series, default 3), slow (sleeps 30 s), endless (never-ending
body), garbage (10 MB of random bytes), million (1,000,000 series), clash
(labels namespace/pod/job set by the target), badutf8 (invalid UTF-8 label
value), redirect (redirects to itself forever), tls (ok over TLS with the
given certificate), gzip (ok, gzip-encoded), backtrack (N series whose label
values, "a" x 30 then "b", make patterns like (a+)+ backtrack). Prints READY
once listening."""
import gzip, http.server, os, socketserver, ssl, sys, threading, time

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

def body_ok(n, port):
    lines = ["# HELP app_requests_total Requests.", "# TYPE app_requests_total counter"]
    for i in range(n):
        lines.append('app_requests_total{code="200",i="%d",port="%d"} %d' % (i, port, i))
    return ("\n".join(lines) + "\n").encode()

def make_handler(kind, n, port):
    cache = {}
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *a):
            pass
        def send_body(self, data, ctype="text/plain; version=0.0.4"):
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        def do_POST(self):
            # "sink": a remote-write receiver that accepts and drops.
            n = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(n)
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
        def do_GET(self):
            try:
                self.serve()
            except (BrokenPipeError, ConnectionResetError):
                pass
        def serve(self):
            if kind in ("ok", "tls"):
                if "b" not in cache:
                    cache["b"] = body_ok(n, port)
                return self.send_body(cache["b"])
            if kind == "gzip":
                data = gzip.compress(body_ok(n, port))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                return self.wfile.write(data)
            if kind == "slow":
                time.sleep(30)
                return self.send_body(body_ok(1, port))
            if kind == "endless":
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                # Comments only: the body cap, not the sample limit, must stop it.
                chunk = b"# endless padding line ........................................\n" * 16000
                while True:
                    self.wfile.write(chunk)
            if kind == "garbage":
                if "b" not in cache:
                    cache["b"] = os.urandom(10 << 20)
                return self.send_body(cache["b"])
            if kind == "million":
                if "b" not in cache:
                    cache["b"] = b"".join(b"m%d 1\n" % i for i in range(1000000))
                return self.send_body(cache["b"])
            if kind == "backtrack":
                if "b" not in cache:
                    v = "a" * 30 + "b"
                    cache["b"] = "".join('bt_metric{i="%d",v="%s",w="%s"} 1\n' % (i, v, v)
                                         for i in range(n)).encode()
                return self.send_body(cache["b"])
            if kind == "clash":
                return self.send_body(b'clash_metric{namespace="evil",pod="evil",job="evil"} 1\n')
            if kind == "badutf8":
                return self.send_body(b'bad_metric{v="\xff\xfe"} 1\n')
            if kind == "redirect":
                self.send_response(302)
                self.send_header("Location", "/metrics")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_error(404)
    return H

def main():
    args = sys.argv[1:]
    bind, cert, key = "127.0.0.1", None, None
    specs = []
    while args:
        a = args.pop(0)
        if a == "--bind":
            bind = args.pop(0)
        elif a == "--tls-cert":
            cert = args.pop(0)
        elif a == "--tls-key":
            key = args.pop(0)
        else:
            specs.append(a)
    for s in specs:
        if "-" in s.split(":")[0]:
            lo, hi = s.split(":")[0].split("-")
            rest = s.split(":", 1)[1]
            specs.extend("%d:%s" % (p, rest) for p in range(int(lo), int(hi) + 1))
            continue
        parts = s.split(":")
        port, kind = int(parts[0]), parts[1]
        n = int(parts[2]) if len(parts) > 2 else 3
        srv = Server((bind, port), make_handler(kind, n, port))
        if kind == "tls":
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("READY", flush=True)
    while True:
        time.sleep(3600)

if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A tiny HTTPS stand-in for Kubernetes components (tests/integration/test_components.sh).

  server.py --cert C --key K --token-file F --log L PORT:KIND ...

Checks the bearer token as a kubelet or API server with token
authentication does: the Authorization header must be exactly
"Bearer <contents of F>" (re-read per request, so the test can rotate it),
else 401. KIND: kubelet (serves /metrics, /metrics/probes, /metrics/resource,
/metrics/cadvisor with a few real metric names), apiserver (/metrics with
apiserver_request_total), forbidden (403 after a good token, as an RBAC
denial), garbage (200 with bytes that are not an exposition). Every request
is appended to L as "PORT PATH good|bad". Prints READY once listening."""
import http.server, socketserver, ssl, sys, threading

KUBELET = {
    "/metrics": "# HELP kubelet_running_pods Number of pods running\n# TYPE kubelet_running_pods gauge\n"
                "kubelet_running_pods 7\n"
                "# TYPE kubelet_runtime_operations counter\nkubelet_runtime_operations 5\n"
                "# TYPE kubelet_volume_stats_used_bytes gauge\n"
                'kubelet_volume_stats_used_bytes{namespace="app",persistentvolumeclaim="data"} 1024\n',
    "/metrics/probes": '# TYPE prober_probe_total counter\n'
                       'prober_probe_total{container="c",namespace="app",pod="p",probe_type="Liveness",result="successful"} 3\n',
    "/metrics/resource": '# TYPE node_cpu_usage_seconds_total counter\nnode_cpu_usage_seconds_total 12.5 1700000000000\n',
    "/metrics/cadvisor": '# TYPE container_cpu_usage_seconds_total counter\n'
                         'container_cpu_usage_seconds_total{container="c",namespace="app",pod="p"} 1\n',
}
APISERVER = {"/metrics": '# TYPE apiserver_request_total counter\n'
                         'apiserver_request_total{code="200",verb="GET",resource="pods"} 42\n'}


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def handler(kind, port, token_file, log, lock):
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def reply(self, code, body, ctype="text/plain; version=0.0.4"):
            data = body.encode() if isinstance(body, str) else body
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            with open(token_file) as f:
                want = "Bearer " + f.read().strip()
            good = self.headers.get("Authorization") == want
            with lock, open(log, "a") as f:
                f.write("%d %s %s\n" % (port, self.path, "good" if good else "bad"))
            if not good:
                return self.reply(401, "Unauthorized\n")
            if kind == "forbidden":
                return self.reply(403, "forbidden: User cannot get path /metrics\n")
            if kind == "garbage":
                return self.reply(200, b"\x00\xff{{{ not an exposition\n" * 100)
            pages = KUBELET if kind == "kubelet" else APISERVER
            if self.path not in pages:
                return self.reply(404, "404 page not found\n")
            self.reply(200, pages[self.path])
    return H


def main():
    args = sys.argv[1:]
    opts = {}
    while args and args[0].startswith("--"):
        opts[args[0][2:]] = args[1]
        args = args[2:]
    lock = threading.Lock()
    for spec in args:
        port, kind = spec.split(":")
        srv = Server(("127.0.0.1", int(port)), handler(kind, int(port), opts["token-file"], opts["log"], lock))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(opts["cert"], opts["key"])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("READY", flush=True)
    threading.Event().wait()


main()

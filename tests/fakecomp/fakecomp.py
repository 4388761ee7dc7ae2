#!/usr/bin/env python3
"""fakecomp.py -- serves RECORDED Kubernetes component metrics the way the components do
(issue 19), for the agent's component jobs. Python 3 stdlib only (+ the openssl CLI).

Usage
-----
  fakecomp.py --state-dir DIR [--fixtures DIR] [--host 127.0.0.1]
              [--api-url URL --api-ca FILE (--api-token TOK | --api-cert F --api-key F)]
              [--node NAME] [--port-COMPONENT N ...] [--control-port N] [--ca-from DIR]

One listener per component, each on its own port (0 = a free one), as in a cluster:

  component                 scheme  paths                                   authentication / authorization
  kubelet                   https   /metrics /metrics/probes                bearer token -> TokenReview, then
                                    /metrics/resource /metrics/cadvisor     SubjectAccessReview get nodes/metrics
                                                                             (name = --node), like the kubelet's
                                                                             webhook authn/authz
  kube-apiserver            https   /metrics                                TokenReview, then SAR get path /metrics
  kube-scheduler            https   /metrics                                  (the delegated authn/authz of
  kube-controller-manager   https   /metrics                                   k8s.io/apiserver, non-resource URL)
  kube-proxy                http    /metrics                                none (kube-proxy's metrics port)
  coredns                   http    /metrics                                none (CoreDNS's prometheus plugin)
  etcd                      https   /metrics                                client certificate required, signed by
                                                                             DIR/etcd-client-ca.crt (etcd's
                                                                             --client-cert-auth); no token

TokenReview and SubjectAccessReview go to the API server given by --api-* (the fake API
server tests/fakeapi, or a real kube-apiserver from tests/peers/apiserver.sh). Without
--api-url every bearer token is refused (401). No caching: a token the API server stops
accepting is refused on the next request (the real components cache for up to 2 min).

Replies as the components reply:
  * kubelet: 401 body "Unauthorized"; 403 body
    "Forbidden (user=U, verb=get, resource=nodes, subresource(s)=[metrics])\n" (text/plain);
  * k8s.io/apiserver based (apiserver, scheduler, controller-manager): 401/403 as a JSON
    metav1.Status ({"kind":"Status",...,"reason":"Unauthorized"|"Forbidden","code":..});
  * the body is DIR-independent: FIXTURES/<component>/<file>.prom, where <file> is the
    path with '/' -> '_' ("metrics", "metrics_probes", ...), with the recorded
    Content-Type from <file>.ctype when present; gzip when the client accepts it.

State dir (created): ca.crt/ca.key (serving CA for every HTTPS listener, or a copy of
--ca-from's ca.crt; server certificate SANs 127.0.0.1, ::1, localhost, --host), etcd-client-ca.crt/.key and etcd-client.crt/.key (a client
certificate etcd accepts), server.json {"host", "control_url", "ca", "etcd_client_cert",
"etcd_client_key", "ports": {component: port}, "pid"}. Prints "READY <control_url>".

Control API (plain HTTP on 127.0.0.1:--control-port):
  GET  /health                            -> {"ok": true}
  GET  /requests                          -> {"count": {"COMPONENT PATH STATUS": n}, "log": [last 200]}
  POST /requests/reset
  POST /fault {"component": C | "*", "mode": M, ...}     mode, until the next fault on C:
       ok        serve the fixture (default); with "set": {"metric_name": value, ...} every
                 sample of those names gets that value (labels and the rest as recorded)
       down      the listener is closed (connection refused); "ok" opens it again on
                 the same port
       slow      the reply never comes (the connection hangs until the mode changes or
                 "seconds", default 3600, pass; then it is closed without a reply)
       401 / 403 refuse as the component does, whatever the token
       garbage   200 with a body that is not the exposition format
       series    200 with "series" (default 1000000) distinct series of one gauge
       huge      200 with "mb" (default 256) MiB: one valid sample, then comment lines
Exits on SIGTERM/SIGINT.
"""

import argparse
import gzip
import http.server
import json
import os
import re
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
import urllib.request

COMPONENTS = {
    # name: (tls, auth, paths)
    "kubelet": (True, "kubelet", ["/metrics", "/metrics/probes", "/metrics/resource", "/metrics/cadvisor"]),
    "kube-apiserver": (True, "delegated", ["/metrics"]),
    "kube-scheduler": (True, "delegated", ["/metrics"]),
    "kube-controller-manager": (True, "delegated", ["/metrics"]),
    "kube-proxy": (False, "none", ["/metrics"]),
    "coredns": (False, "none", ["/metrics"]),
    "etcd": (True, "clientcert", ["/metrics"]),
}
EXPOSITION = "text/plain; version=0.0.4; charset=utf-8"


def openssl(*args):
    p = subprocess.run(("openssl",) + args, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("fakecomp: openssl %s failed: %s" % (" ".join(args[:2]), p.stderr.strip()))


def make_ca(d, name, cn):
    crt, key = os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")
    if not os.path.exists(crt):
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", key, "-out", crt, "-days", "3", "-subj", "/CN=" + cn)
    return crt, key


def make_leaf(d, name, ca, cn, ext):
    crt, key, csr = (os.path.join(d, name + s) for s in (".crt", ".key", ".csr"))
    if os.path.exists(crt):
        return crt, key
    extf = os.path.join(d, name + ".ext")
    with open(extf, "w") as f:
        f.write(ext)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", csr, "-subj", "/CN=" + cn)
    openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
            "-out", crt, "-days", "3", "-extfile", extf)
    return crt, key


class Api:
    """TokenReview / SubjectAccessReview client (the components' webhook authn/authz)."""

    def __init__(self, a):
        self.url = (a.api_url or "").rstrip("/")
        self.token = a.api_token
        self.ctx = None
        if self.url.startswith("https"):
            self.ctx = ssl.create_default_context(cafile=a.api_ca)
            if a.api_cert:
                self.ctx.load_cert_chain(a.api_cert, a.api_key)

    def post(self, path, obj):
        req = urllib.request.Request(self.url + path, data=json.dumps(obj).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        if self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        with urllib.request.urlopen(req, context=self.ctx, timeout=30) as r:
            return json.load(r)

    def authenticate(self, token):
        """-> user dict or None."""
        if not self.url or not token:
            return None
        try:
            st = self.post("/apis/authentication.k8s.io/v1/tokenreviews",
                           {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                            "spec": {"token": token}}).get("status") or {}
        except Exception as e:  # the API server unreachable: the components answer 401
            sys.stderr.write("fakecomp: TokenReview failed: %s\n" % e)
            return None
        return st.get("user") if st.get("authenticated") else None

    def authorize(self, user, attrs):
        spec = {"user": user.get("username", ""), "groups": user.get("groups") or [],
                "uid": user.get("uid", "")}
        spec.update(attrs)
        try:
            st = self.post("/apis/authorization.k8s.io/v1/subjectaccessreviews",
                           {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                            "spec": spec}).get("status") or {}
        except Exception as e:
            sys.stderr.write("fakecomp: SubjectAccessReview failed: %s\n" % e)
            return False
        return bool(st.get("allowed"))


class State:
    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        self.modes = {c: {"mode": "ok"} for c in COMPONENTS}
        self.gen = {c: 0 for c in COMPONENTS}  # bumped on each fault: releases hung requests
        self.count = {}
        self.log = []
        self.api = Api(a)

    def record(self, comp, path, status, note=""):
        with self.lock:
            k = "%s %s %d" % (comp, path, status)
            self.count[k] = self.count.get(k, 0) + 1
            self.log.append({"t": time.time(), "component": comp, "path": path, "status": status, "note": note})
            del self.log[:-200]


def fixture(a, comp, path):
    base = os.path.join(a.fixtures, comp, path.strip("/").replace("/", "_"))
    try:
        with open(base + ".prom", "rb") as f:
            body = f.read()
    except OSError:
        return None, None
    try:
        with open(base + ".ctype") as f:
            ctype = f.read().strip() or EXPOSITION
    except OSError:
        ctype = EXPOSITION
    return body, ctype


def override(body, values):
    """The fixture with the value of every sample of the named metrics replaced (the
    recorded series and labels stay): a component in a state the recording did not
    catch, e.g. a full volume or a crowded kubelet."""
    out = []
    for line in body.split(b"\n"):
        if line and not line.startswith(b"#"):
            end = line.find(b"{")
            sp = line.find(b" ")
            name = line[:end if 0 <= end < sp else sp].decode()
            if name in values:
                close = line.rfind(b"}")
                head = line[:close + 1] if close > 0 else line[:sp]
                line = head + b" " + str(values[name]).encode()
        out.append(line)
    return b"\n".join(out)


TS = re.compile(rb"^([^#].*[ \t])([0-9]{13})$", re.M)


def fresh(body):
    """The fixture with every explicit sample timestamp set to now: the recorded
    ones are as old as the recording, which a remote-write receiver refuses (out of
    bounds), while a live kubelet stamps /metrics/resource with its latest stats."""
    now = str(int(time.time() * 1000)).encode()
    return TS.sub(lambda m: m.group(1) + now, body)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakecomp"

    def log_message(self, *args):
        pass

    def reply(self, status, body, ctype, extra=None):
        gz = "gzip" in (self.headers.get("Accept-Encoding") or "") and status == 200
        if gz:
            body = gzip.compress(body, 1)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if gz:
            self.send_header("Content-Encoding", "gzip")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def deny(self, status, user=None):
        comp, auth = self.server.comp, COMPONENTS[self.server.comp][1]
        if auth == "kubelet":
            if status == 401:
                body = b"Unauthorized"
            else:
                body = ("Forbidden (user=%s, verb=get, resource=nodes, subresource(s)=[metrics])\n" %
                        ((user or {}).get("username", "system:anonymous"))).encode()
            self.reply(status, body, "text/plain; charset=utf-8")
        else:
            if status == 401:
                msg, reason = "Unauthorized", "Unauthorized"
            else:
                msg = 'forbidden: User "%s" cannot get path "%s"' % (
                    (user or {}).get("username", "system:anonymous"), self.path.split("?")[0])
                reason = "Forbidden"
            st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": msg, "reason": reason, "details": {}, "code": status}
            self.reply(status, json.dumps(st).encode() + b"\n", "application/json")
        self.server.state.record(comp, self.path, status)

    def check_auth(self):
        """-> True when the request may be served (else a reply was sent)."""
        comp = self.server.comp
        auth = COMPONENTS[comp][1]
        if auth in ("none", "clientcert"):  # clientcert: enforced by the TLS handshake
            return True
        h = self.headers.get("Authorization") or ""
        token = h[7:].strip() if h[:7].lower() == "bearer " else ""
        st = self.server.state
        user = st.api.authenticate(token)
        if user is None:
            self.deny(401)
            return False
        path = self.path.split("?")[0]
        if auth == "kubelet":
            attrs = {"resourceAttributes": {"verb": "get", "resource": "nodes", "subresource": "metrics",
                                            "name": st.a.node}}
        else:
            attrs = {"nonResourceAttributes": {"verb": "get", "path": path}}
        if not st.api.authorize(user, attrs):
            self.deny(403, user)
            return False
        return True

    def do_GET(self):
        comp, st = self.server.comp, self.server.state
        path = self.path.split("?")[0]
        with st.lock:
            m = dict(st.modes[comp])
            gen = st.gen[comp]
        mode = m["mode"]
        if mode == "down":
            # a connection kept alive from before the fault: a dead process answers
            # nothing (the listener is closed already, new connections are refused)
            st.record(comp, path, 0, "down")
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            except OSError:
                pass
            return
        if mode == "slow":
            st.record(comp, path, 0, "hung")
            end = time.time() + float(m.get("seconds", 3600))
            while time.time() < end and st.gen[comp] == gen and not self.server.stopping:
                time.sleep(0.05)
            self.close_connection = True
            return
        if mode in ("401", "403"):
            self.deny(int(mode))
            return
        if not self.check_auth():
            return
        if path not in COMPONENTS[comp][2]:
            self.reply(404, b"404 page not found\n", "text/plain; charset=utf-8")
            st.record(comp, path, 404)
            return
        if mode == "garbage":
            self.reply(200, b"\x00\x01<html>not metrics {{{\n\xff\xfe garbage = = =\n" * 64, EXPOSITION)
            st.record(comp, path, 200, "garbage")
            return
        if mode in ("series", "huge"):
            self.stream(comp, path, m)
            return
        body, ctype = fixture(st.a, comp, path)
        if body is None:
            self.reply(404, b"404 page not found\n", "text/plain; charset=utf-8")
            st.record(comp, path, 404, "no fixture")
            return
        if m.get("set"):
            body = override(body, m["set"])
        if st.a.fresh_timestamps:
            body = fresh(body)
        self.reply(200, body, ctype)
        st.record(comp, path, 200, "set" if m.get("set") else "")

    def stream(self, comp, path, m):
        """Large bodies are written in chunks, never held whole in memory."""
        self.send_response(200)
        self.send_header("Content-Type", EXPOSITION)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.server.state.record(comp, path, 200, m["mode"])

        def chunk(b):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(b), b))

        try:
            if m["mode"] == "series":
                n = int(m.get("series", 1000000))
                chunk(b"# HELP fakecomp_flood A flood of series.\n# TYPE fakecomp_flood gauge\n")
                step = 10000
                for i in range(0, n, step):
                    chunk(b"".join(b'fakecomp_flood{i="%d"} 1\n' % j for j in range(i, min(n, i + step))))
            else:
                chunk(b"# HELP fakecomp_huge One sample in a huge body.\n# TYPE fakecomp_huge gauge\nfakecomp_huge 1\n")
                line = b"# " + b"x" * 1021 + b"\n"
                block = line * 1024
                for _ in range(int(m.get("mb", 256))):
                    chunk(block)
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass  # the scraper gave up (its limit): that is the point
        self.close_connection = True


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    stopping = False

    def __init__(self, comp, state, host, port, ctx):
        self.comp, self.state, self.ctx = comp, state, ctx
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.address_family = fam
        super().__init__((host, port), Handler)

    def get_request(self):
        sock, addr = super().get_request()
        if self.ctx is None:
            return sock, addr
        sock.settimeout(30)
        try:
            return self.ctx.wrap_socket(sock, server_side=True), addr
        except (ssl.SSLError, OSError) as e:
            self.state.record(self.comp, "-", 0, "tls: %s" % e)
            sock.close()
            raise OSError("handshake failed")

    def handle_error(self, request, client_address):
        pass


class Listener:
    """One component's port; close() / open() for the "down" mode keep the port."""

    def __init__(self, comp, state, host, port, ctx):
        self.comp, self.state, self.host, self.port, self.ctx = comp, state, host, port, ctx
        self.srv = None
        self.open()

    def open(self):
        if self.srv:
            return
        for _ in range(100):
            try:
                self.srv = Server(self.comp, self.state, self.host, self.port, self.ctx)
                break
            except OSError:
                time.sleep(0.1)  # the closed socket may linger a moment
        if not self.srv:
            raise SystemExit("fakecomp: cannot bind %s:%d for %s" % (self.host, self.port, self.comp))
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def close(self):
        if not self.srv:
            return
        srv, self.srv = self.srv, None
        srv.stopping = True
        srv.shutdown()
        srv.server_close()


class Control(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, code, obj):
        b = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_GET(self):
        st = self.server.state
        if self.path == "/health":
            return self.send_json(200, {"ok": True})
        if self.path == "/requests":
            with st.lock:
                return self.send_json(200, {"count": dict(st.count), "log": list(st.log)})
        if self.path == "/modes":
            with st.lock:
                return self.send_json(200, st.modes)
        self.send_json(404, {"error": "not found"})

    def do_POST(self):
        st = self.server.state
        n = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(n) or b"{}")
        except ValueError:
            return self.send_json(400, {"error": "body is not JSON"})
        if self.path == "/requests/reset":
            with st.lock:
                st.count.clear()
                st.log.clear()
            return self.send_json(200, {"ok": True})
        if self.path != "/fault":
            return self.send_json(404, {"error": "not found"})
        comp, mode = body.get("component"), body.get("mode")
        comps = list(COMPONENTS) if comp == "*" else [comp]
        if any(c not in COMPONENTS for c in comps):
            return self.send_json(400, {"error": "unknown component %r (one of %s or *)" % (comp, ", ".join(COMPONENTS))})
        if mode not in ("ok", "down", "slow", "401", "403", "garbage", "series", "huge"):
            return self.send_json(400, {"error": "unknown mode %r" % mode})
        for c in comps:
            with st.lock:
                st.modes[c] = dict(body, component=c)
                st.gen[c] += 1
            lst = self.server.listeners[c]
            if mode == "down":
                lst.close()
            else:
                lst.open()
        self.send_json(200, {"ok": True, "components": comps, "mode": mode})


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--state-dir", required=True)
    p.add_argument("--fixtures", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures"))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--node", default="k8smon-node", help="node name in the kubelet's SubjectAccessReview")
    p.add_argument("--fresh-timestamps", action="store_true",
                   help="serve explicit sample timestamps as the current time (remote-write tests)")
    p.add_argument("--api-url")
    p.add_argument("--api-ca")
    p.add_argument("--api-token")
    p.add_argument("--api-cert")
    p.add_argument("--api-key")
    p.add_argument("--control-port", type=int, default=0)
    p.add_argument("--ca-from", help="directory with ca.crt/ca.key to sign the serving certificate with "
                   "(e.g. the fake API server's state dir); default: a CA of its own")
    for c in COMPONENTS:
        p.add_argument("--port-" + c, type=int, default=0, dest="port_" + c.replace("-", "_"))
    a = p.parse_args()
    os.makedirs(a.state_dir, exist_ok=True)
    d = a.state_dir
    if a.ca_from:
        # serve with a certificate of the cluster CA (the fake API server's): the
        # agent verifies every component, the API server included, against one CA
        ca = (os.path.join(a.ca_from, "ca.crt"), os.path.join(a.ca_from, "ca.key"))
        if not os.path.exists(os.path.join(d, "ca.crt")):
            with open(ca[0], "rb") as f, open(os.path.join(d, "ca.crt"), "wb") as g:
                g.write(f.read())
    else:
        ca = make_ca(d, "ca", "fakecomp-ca")
    sans = "DNS:localhost,IP:127.0.0.1,IP:::1"
    if a.host not in ("127.0.0.1", "::1", "localhost"):
        sans += (",IP:" if a.host.replace(".", "").replace(":", "").isalnum() and any(ch.isdigit() for ch in a.host) else ",DNS:") + a.host
    srv = make_leaf(d, "server", ca, "fakecomp", "subjectAltName=%s\nextendedKeyUsage=serverAuth\n" % sans)
    cca = make_ca(d, "etcd-client-ca", "fakecomp-etcd-client-ca")
    cli = make_leaf(d, "etcd-client", cca, "k8smon-etcd-client", "extendedKeyUsage=clientAuth\n")

    def ctx_for(comp):
        tls, auth, _ = COMPONENTS[comp]
        if not tls:
            return None
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        c.load_cert_chain(*srv)
        if auth == "clientcert":
            c.verify_mode = ssl.CERT_REQUIRED
            c.load_verify_locations(cca[0])
        return c

    state = State(a)
    listeners = {c: Listener(c, state, a.host, getattr(a, "port_" + c.replace("-", "_")), ctx_for(c))
                 for c in COMPONENTS}
    ctl = http.server.ThreadingHTTPServer(("127.0.0.1", a.control_port), Control)
    ctl.daemon_threads = True
    ctl.state, ctl.listeners = state, listeners
    curl = "http://127.0.0.1:%d" % ctl.server_address[1]
    info = {"host": a.host, "control_url": curl, "ca": srv and ca[0], "etcd_client_cert": cli[0],
            "etcd_client_key": cli[1], "etcd_client_ca": cca[0], "node": a.node,
            "ports": {c: l.port for c, l in listeners.items()}, "pid": os.getpid()}
    tmp = os.path.join(d, "server.json.tmp")
    with open(tmp, "w") as f:
        json.dump(info, f, indent=1)
    os.rename(tmp, os.path.join(d, "server.json"))

    def stop(*_):
        for lst in listeners.values():
            if lst.srv:
                lst.srv.stopping = True
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("READY " + curl, flush=True)
    ctl.serve_forever()


if __name__ == "__main__":
    main()

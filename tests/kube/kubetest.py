"""Shared helpers for the src/kube integration tests: start the fake API
server and kubewatch, talk to both. Python 3 stdlib only."""
import json
import os
import queue
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import http.client
import urllib.parse

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FAKEAPI = os.path.join(ROOT, "tests", "fakeapi", "fakeapi.py")


def log(*a):
    print("[kubetest]", *a, file=sys.stderr, flush=True)


class Fake:
    def __init__(self, *extra):
        self.dir = tempfile.mkdtemp(prefix="kubetest-")
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        self.p = subprocess.Popen(
            [sys.executable, FAKEAPI, "--state-dir", self.dir, "--kubeconfig-out", self.kubeconfig] + list(extra),
            stdout=subprocess.PIPE, stderr=open(os.path.join(self.dir, "fake.log"), "w"), text=True)
        line = self.p.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError("fakeapi did not start: %r" % line)
        self.url = line.split()[1]
        info = json.load(open(os.path.join(self.dir, "server.json")))
        self.token = info["token"]
        self.info = info
        self.ctx = ssl.create_default_context(cafile=info["ca"])
        if info.get("client_cert"):  # --client-auth: the control API needs a client cert too
            self.ctx.load_cert_chain(info["client_cert"], info["client_key"])
        u = urllib.parse.urlparse(self.url)
        self.host, self.port = u.hostname, u.port
        self.conn = None

    def req(self, method, path, body=None, ctype="application/json", auth=True):
        for attempt in range(5):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=30)
                h = {"Content-Type": ctype}
                if auth:
                    h["Authorization"] = "Bearer " + self.token
                data = json.dumps(body) if body is not None else None
                self.conn.request(method, path, body=data, headers=h)
                r = self.conn.getresponse()
                raw = r.read()
                try:
                    return r.status, json.loads(raw) if raw else None
                except ValueError:
                    return r.status, raw
            except (OSError, http.client.HTTPException):
                self.conn = None
                time.sleep(0.1)
        raise RuntimeError("request failed: %s %s" % (method, path))

    def fault(self, **kw):
        st, _ = self.req("POST", "/_fake/fault", kw, auth=False)
        assert st == 200, (st, kw)

    def objects(self, resource="pods", group=None):
        q = "/_fake/objects?resource=" + resource + ("&group=" + group if group else "")
        st, b = self.req("GET", q, auth=False)
        assert st == 200
        return b

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()


class Watcher:
    """A kubewatch process; stdout lines are collected in a queue."""

    def __init__(self, binary, args, name="kw"):
        self.name = name
        self.errpath = tempfile.mktemp(prefix=name + "-", suffix=".log")
        self.p = subprocess.Popen([binary] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=open(self.errpath, "w"), text=True, bufsize=1)
        self.q = queue.Queue()
        self.lines = []
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        for ln in self.p.stdout:
            ln = ln.rstrip("\n")
            self.lines.append(ln)
            self.q.put(ln)
        self.q.put(None)

    def send(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()

    def expect(self, prefix, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            try:
                ln = self.q.get(timeout=max(0.05, end - time.time()))
            except queue.Empty:
                break
            if ln is None:
                raise RuntimeError("%s exited while waiting for %r" % (self.name, prefix))
            if ln.startswith(prefix):
                return ln
        raise RuntimeError("%s: timeout waiting for %r" % (self.name, prefix))

    def dump(self):
        path = tempfile.mktemp(prefix="dump-", suffix=".json")
        self.send("dump " + path)
        self.expect("DUMPED")
        with open(path) as fh:
            d = json.load(fh)
        os.unlink(path)
        return d

    def metrics(self):
        self.send("metrics")
        out = []
        while True:
            ln = self.expect("")
            if ln == "END":
                return "\n".join(out)
            out.append(ln)

    def stderr(self):
        with open(self.errpath) as fh:
            return fh.read()

    def quit(self, timeout=20):
        if self.p.poll() is None:
            try:
                self.send("quit")
                self.p.wait(timeout)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.p.kill()
        return self.p.returncode


def metric_value(text, prefix):
    tot = 0.0
    for ln in text.splitlines():
        if ln.startswith(prefix):
            tot += float(ln.rsplit(" ", 1)[1])
    return tot


def kubeconfig(path, server, ca=None, token=None, token_file=None, cert=None, key=None, insecure=False):
    """Writes a one-context kubeconfig (JSON, which is YAML) and returns its path."""
    cluster = {"server": server}
    if ca:
        cluster["certificate-authority"] = ca
    if insecure:
        cluster["insecure-skip-tls-verify"] = True
    user = {}
    if token:
        user["token"] = token
    if token_file:
        user["tokenFile"] = token_file
    if cert:
        user["client-certificate"] = cert
        user["client-key"] = key
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
           "clusters": [{"name": "c", "cluster": cluster}],
           "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u", "namespace": "default"}}],
           "users": [{"name": "u", "user": user}]}
    with open(path, "w") as fh:
        json.dump(doc, fh)
    return path

#!/usr/bin/env python3
"""chaos.py -- k8smon against the fake API server under churn and injected faults.

Starts tests/fakeapi/fakeapi.py (loaded with crds/ and examples/cluster) and the agent
(Kubernetes mode, -nodeName=demo-node-1, Lease election on), then for --seconds:

  * churn      pods created/deleted on demo-node-1..3 (and unscheduled), nodes flapping
               (Ready condition toggled, a label changed), K8sMonitor and ScrapeRule objects
               edited with valid and invalid specs.  Written through the control API's bulk
               upsert/delete (emits watch events like the real API, and is not itself hit by
               the injected faults); K8sMonitor edits bump metadata.generation.
  * faults     at random: 500, 503, 429 + Retry-After, stalls, dropped and aborted watches,
               garbage lines, 410 expiry (compaction), new_epoch (new RV history in place).
  * outage     once, at --outage-at (fraction of the run): every object is dumped
               (GET /_fake/objects), the fake is killed (SIGKILL), nothing listens for
               --outage seconds, then a new fake starts on the same port with the same state
               dir (same CA, token) and the dumped objects (--load), with a new
               resourceVersion history (--restart-rv low: counter restarts at 1000, below
               every RV the agent has seen; high: far above).
  * poller     one thread scrapes every endpoint in turn without pause and records every
               non-200 answer or connection error.
  * sampler    VmRSS and open fds of the agent every --sample-every seconds.

Then faults are cleared, a final valid K8sMonitor is written, and after a quiet period the
agent's view must equal the server's (polled up to --converge seconds):
  kube_pod_info (namespace, pod, uid, node), kube_node_info (node),
  kube_node_status_condition{condition="Ready",status="true"} value, kube_node_labels
  label_chaos_k8smon_io_flap, kube_namespace_created / kube_namespace_status_phase
  (namespace) -- all after the final K8sMonitor's namespace filter -- and /config's
  effective configuration.  The agent's PID and process_start_time_seconds must not change.

Writes a JSON report to --out (and prints a summary).  Exit 0 when every check passed.
Only the Python standard library.
"""

import argparse
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from freeport import free_port  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FAKEAPI = os.path.join(ROOT, "tests", "fakeapi", "fakeapi.py")
ENDPOINTS = ["/metrics", "/metrics/node", "/metrics/kube-state", "/metrics/cadvisor",
             "/metrics/self", "/healthz"]
NODES = ["demo-node-1", "demo-node-2", "demo-node-3"]
CHURN_NS = ["chaos-a", "chaos-b", "chaos-x"]       # chaos-x is excluded by the final monitor
FLAP_LABEL = "chaos.k8smon.io/flap"
FINAL_SPEC = {
    "collectors": ["node", "container", "kube-state", "app"],
    "interval": "15s",
    "excludeNamespaces": ["chaos-x"],
    "kubeState": {"labelsAllowlist": {"nodes": [FLAP_LABEL]}},
}


def log(*a):
    sys.stderr.write("chaos: %s %s\n" % (time.strftime("%H:%M:%S"), " ".join(str(x) for x in a)))
    sys.stderr.flush()


def http(method, url, body=None, timeout=10.0):
    """(status, bytes); status 0 = connection error."""
    data = None
    hdr = {}
    if body is not None:
        data = json.dumps(body).encode()
        hdr["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=hdr)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except Exception as e:  # noqa: BLE001 -- connection refused, reset, timeout
        return 0, str(e).encode()


class Fake(object):
    """The fake API server process; restartable on the same ports and state dir."""

    def __init__(self, tmp, verbose=False):
        self.tmp = tmp
        self.port = free_port()
        self.cport = free_port()
        self.proc = None
        self.starts = 0
        self.verbose = verbose

    def start(self, loads, rv_start=None):
        self.starts += 1
        args = [sys.executable, FAKEAPI, "--port", str(self.port), "--state-dir",
                os.path.join(self.tmp, "api"), "--kubeconfig-out", os.path.join(self.tmp, "kubeconfig"),
                "--control-port", str(self.cport)]
        for p in loads:
            args += ["--load", p]
        if rv_start is not None:
            args += ["--rv-start", str(rv_start)]
        out = open(os.path.join(self.tmp, "fakeapi.%d.out" % self.starts), "w")
        err = open(os.path.join(self.tmp, "fakeapi.%d.log" % self.starts), "w")
        deadline = time.time() + 60
        while True:
            self.proc = subprocess.Popen(args, stdout=out, stderr=err, cwd=ROOT)
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    break
                st, _ = http("GET", self.ctl("/health"), timeout=1)
                if st == 200:
                    return
                time.sleep(0.1)
            if time.time() >= deadline:
                raise SystemExit("chaos: fake API server did not start (see %s)" % err.name)
            time.sleep(0.5)   # port still held (TIME_WAIT without reuse): retry

    def ctl(self, path):
        return "http://127.0.0.1:%d/_fake%s" % (self.cport, path)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def objects(self, resource, group=None):
        q = "/objects?resource=" + resource + ("&group=" + group if group else "")
        st, body = http("GET", self.ctl(q), timeout=20)
        if st != 200:
            raise RuntimeError("objects %s: %d %s" % (resource, st, body[:200]))
        return json.loads(body)["items"]

    def upsert(self, objs):
        return http("POST", self.ctl("/objects"), objs, timeout=20)[0]

    def delete(self, resource, namespace=None, name=None, group=None):
        q = "/objects?resource=" + resource
        if group:
            q += "&group=" + group
        if namespace:
            q += "&namespace=" + namespace
        if name:
            q += "&name=" + name
        return http("DELETE", self.ctl(q), timeout=20)[0]

    def fault(self, f):
        return http("POST", self.ctl("/fault"), f, timeout=10)[0]

    def dump_all(self):
        """Every object of every served type (the API server's whole state)."""
        import importlib.util
        spec = importlib.util.spec_from_file_location("fakeapi_mod", FAKEAPI)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        items = []
        types = [(g, p) for (g, _v, p, *_rest) in mod.BUILTINS]
        types += [("k8smon.io", "k8smonitors"), ("k8smon.io", "scraperules")]
        for g, p in types:
            try:
                items.extend(self.objects(p, g))
            except RuntimeError:
                pass    # e.g. both "events" groups; a type unknown to this fake
        seen, out = set(), []
        for o in items:
            md = o.get("metadata") or {}
            k = (o.get("apiVersion"), o.get("kind"), md.get("namespace"), md.get("name"))
            if k in seen:
                continue
            seen.add(k)
            md = dict(md)
            md.pop("resourceVersion", None)
            out.append(dict(o, metadata=md))
        return out


class Agent(object):
    def __init__(self, binary, tmp, kubeconfig):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.logf = open(os.path.join(tmp, "k8smon.log"), "w")
        self.proc = subprocess.Popen(
            [binary, "-promscrape.kubernetes", "-kubeconfig=" + kubeconfig, "-nodeName=demo-node-1",
             "-httpListenAddr=127.0.0.1:%d" % self.port, "-leaderElection.namespace=default",
             "-loggerLevel=" + os.environ.get("CHAOS_LOG_LEVEL", "INFO")],
            stdout=self.logf, stderr=subprocess.STDOUT, cwd=ROOT)
        self.pid = self.proc.pid

    def get(self, path, timeout=10.0):
        return http("GET", self.url + path, timeout=timeout)

    def alive(self):
        return self.proc.poll() is None

    def proc_stat(self):
        rss = fds = None
        try:
            with open("/proc/%d/status" % self.pid) as fh:
                for ln in fh:
                    if ln.startswith("VmRSS:"):
                        rss = int(ln.split()[1]) * 1024
            fds = len(os.listdir("/proc/%d/fd" % self.pid))
        except OSError:
            pass
        return rss, fds


# ---------------------------------------------------------------------------------------
# exposition parsing (enough for the series we compare)

SERIES_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prom(text):
    out = []
    for ln in text.splitlines():
        if not ln or ln[0] == "#":
            continue
        m = SERIES_RE.match(ln)
        if not m:
            continue
        labels = dict(LABEL_RE.findall(m.group(2) or ""))
        try:
            v = float(m.group(3))
        except ValueError:
            v = float("nan")
        out.append((m.group(1), labels, v))
    return out


def sanitize_label(k):
    return "label_" + re.sub(r"[^a-zA-Z0-9_]", "_", k)


# ---------------------------------------------------------------------------------------

class Chaos(object):
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.tmp = a.tmp
        os.makedirs(self.tmp, exist_ok=True)
        self.fake = Fake(self.tmp)
        self.stop = threading.Event()          # poller and sampler
        self.stop_churn = threading.Event()    # churn and faults
        self.api_down = threading.Event()
        self.lock = threading.Lock()
        self.faults = {}
        self.churn = {}
        self.polls = {e: {"ok": 0, "failed": 0, "max_ms": 0.0} for e in ENDPOINTS}
        self.failures = []
        self.samples = []
        self.pod_seq = 0
        self.generation = {}

    def count(self, d, k, n=1):
        with self.lock:
            d[k] = d.get(k, 0) + n

    # ---- churn
    def churn_once(self):
        f = self.fake
        r = self.rng
        x = r.random()
        if x < 0.75:
            # pods: created or deleted, balanced around --pods churn pods (steady state for
            # the soak: a growing object count would look like a leak)
            churn = [p for p in f.objects("pods") if p["metadata"]["name"].startswith("churn-")]
            if not churn or r.random() < self.a.pods / float(self.a.pods + len(churn)):
                self.pod_seq += 1
                ns = r.choice(CHURN_NS)
                node = r.choice(NODES + [None])
                pod = {"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": "churn-%d" % self.pod_seq, "namespace": ns,
                                    "labels": {"app": "churn", "seq": str(self.pod_seq)}},
                       "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}]},
                       "status": {"phase": r.choice(["Pending", "Running", "Running", "Succeeded"])}}
                if node:
                    pod["spec"]["nodeName"] = node
                st = f.upsert([pod])
                self.count(self.churn, "pod_create" if st == 200 else "pod_create_failed")
            else:
                p = r.choice(churn)
                st = f.delete("pods", p["metadata"]["namespace"], p["metadata"]["name"])
                self.count(self.churn, "pod_delete" if st == 200 else "pod_delete_failed")
        elif x < 0.88:
            node = r.choice(f.objects("nodes"))
            st_ = node.setdefault("status", {})
            conds = st_.setdefault("conditions", [])
            ready = [c for c in conds if c.get("type") == "Ready"]
            if not ready:
                ready = [{"type": "Ready", "status": "True"}]
                conds.append(ready[0])
            ready[0]["status"] = "False" if ready[0].get("status") == "True" else "True"
            ready[0]["lastTransitionTime"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            md = node["metadata"]
            md.pop("resourceVersion", None)
            md.setdefault("labels", {})[FLAP_LABEL] = "v%d" % r.randint(0, 9)
            st = f.upsert([node])
            self.count(self.churn, "node_flap" if st == 200 else "node_flap_failed")
        elif x < 0.96:
            self.edit_monitor(r.random() < 0.3)
        else:
            self.edit_rule(r.random() < 0.3)

    def edit_monitor(self, invalid):
        r = self.rng
        spec = {"collectors": r.sample(["node", "container", "kube-state", "app"], r.randint(1, 4)),
                "interval": r.choice(["10s", "15s", "30s", "1m"]),
                "excludeNamespaces": r.sample(CHURN_NS + ["shop", "batch"], r.randint(0, 2))}
        if r.random() < 0.3:
            spec["namespaces"] = r.sample(CHURN_NS + ["shop", "default", "kube-system"], r.randint(1, 3))
        if invalid:
            bad = r.choice([("interval", "15"), ("collectors", ["node", "bogus"]), ("interval", "-3s"),
                            ("excludeNamespaces", ["Not_A_Namespace!"])])
            spec[bad[0]] = bad[1]
        self.put_cr("k8smonitors", "K8sMonitor", None, "chaos", spec)
        self.count(self.churn, "k8smonitor_edit_invalid" if invalid else "k8smonitor_edit_valid")

    def edit_rule(self, invalid):
        r = self.rng
        spec = {"role": r.choice(["pod", "service", "endpoints", "node"]),
                "annotationPrefix": r.choice(["victoriametrics.com", "prometheus.io"]),
                "path": "/metrics", "interval": r.choice(["15s", "30s"])}
        if invalid:
            bad = r.choice([("role", "daemonset"), ("interval", "soon"), ("scheme", "gopher")])
            spec[bad[0]] = bad[1]
        self.put_cr("scraperules", "ScrapeRule", r.choice(["shop", "chaos-a"]), "chaos-%d" % r.randint(1, 3), spec)
        self.count(self.churn, "scraperule_edit_invalid" if invalid else "scraperule_edit_valid")

    def put_cr(self, plural, kind, ns, name, spec):
        key = (plural, ns, name)
        cur = [o for o in self.fake.objects(plural, "k8smon.io")
               if o["metadata"]["name"] == name and o["metadata"].get("namespace") == ns]
        md = {"name": name}
        if ns:
            md["namespace"] = ns
        status = None
        if cur:
            md = dict(cur[0]["metadata"])
            md.pop("resourceVersion", None)
            status = cur[0].get("status")
        gen = max(self.generation.get(key, 0), int(md.get("generation", 0))) + 1
        self.generation[key] = gen
        md["generation"] = gen
        obj = {"apiVersion": "k8smon.io/v1alpha1", "kind": kind, "metadata": md, "spec": spec}
        if status:
            obj["status"] = status
        return self.fake.upsert([obj])

    def ensure_namespaces(self):
        self.fake.upsert([{"apiVersion": "v1", "kind": "Namespace",
                           "metadata": {"name": n, "labels": {"kubernetes.io/metadata.name": n}},
                           "status": {"phase": "Active"}} for n in CHURN_NS])

    def churn_loop(self):
        while not self.stop_churn.is_set():
            if not self.api_down.is_set():
                try:
                    self.churn_once()
                except Exception as e:  # noqa: BLE001 -- API restarting under us
                    self.count(self.churn, "churn_error")
                    if self.a.verbose:
                        log("churn error:", e)
            self.stop_churn.wait(self.rng.expovariate(self.a.churn_rate))

    # ---- faults
    def fault_once(self):
        r = self.rng
        kinds = ["fail500", "fail503", "fail429", "stall", "drop_watches", "abort_watches",
                 "garbage", "expire", "new_epoch"]
        weights = [4, 2, 3, 2, 3, 2, 2, 1, 0.5]
        k = r.choices(kinds, weights)[0]
        if k.startswith("fail"):
            code = int(k[4:])
            f = {"action": "fail", "count": r.randint(1, 5), "code": code}
            if code == 429:
                f["retry_after"] = r.randint(1, 2)
            if r.random() < 0.5:
                f["watch"] = r.random() < 0.5
        elif k == "stall":
            f = {"action": "stall", "seconds": round(r.uniform(0.5, 4.0), 1), "count": r.randint(1, 3)}
        elif k == "drop_watches":
            f = {"action": "drop_watches", "abort": False}
        elif k == "abort_watches":
            f = {"action": "drop_watches", "abort": True}
        elif k == "garbage":
            f = {"action": "garbage", "line": r.choice(["this is not json {", "{\"type\":\"ADDED\"}",
                                                         "{\"type\":\"MODIFIED\",\"object\":7}", "\x00\x01\x02"])}
        elif k == "expire":
            f = {"action": "expire"}
        else:
            f = {"action": "new_epoch", "rewrite": True}
        if self.fake.fault(f) == 200:
            self.count(self.faults, k)

    def fault_loop(self):
        while not self.stop_churn.is_set():
            self.stop_churn.wait(self.rng.expovariate(self.a.fault_rate))
            if self.stop_churn.is_set() or self.api_down.is_set():
                continue
            try:
                self.fault_once()
            except Exception:  # noqa: BLE001
                pass

    # ---- outage
    def outage(self):
        log("outage: dumping objects and killing the API server")
        objs = self.fake.dump_all()
        path = os.path.join(self.tmp, "dump.json")
        with open(path, "w") as fh:
            json.dump({"apiVersion": "v1", "kind": "List", "items": objs}, fh)
        old_rv = int(json.loads(http("GET", self.fake.ctl("/state"))[1]).get("rv", 0))
        self.api_down.set()
        time.sleep(0.3)    # let an in-flight churn call finish
        self.fake.kill()
        t0 = time.time()
        time.sleep(self.a.outage)
        rv = 1000 if self.a.restart_rv == "low" else old_rv + 10000000
        self.fake.start([path], rv_start=rv)
        self.count(self.faults, "api_server_restart")
        self.api_down.clear()
        log("outage: API server back after %.1f s (%d objects, rv %d -> %d)" %
            (time.time() - t0, len(objs), old_rv, rv))
        return {"seconds": round(time.time() - t0, 1), "objects": len(objs), "old_rv": old_rv, "new_rv_start": rv}

    # ---- poller and sampler
    def poll_loop(self):
        i = 0
        while not self.stop.is_set():
            e = ENDPOINTS[i % len(ENDPOINTS)]
            i += 1
            t = time.time()
            st, body = self.agent.get(e, timeout=10)
            ms = (time.time() - t) * 1000
            with self.lock:
                p = self.polls[e]
                p["max_ms"] = max(p["max_ms"], round(ms, 1))
                if st == 200:
                    p["ok"] += 1
                    if e == "/metrics/kube-state" and b"kube_pod_info{" not in body:
                        p["empty"] = p.get("empty", 0) + 1     # kube-state disabled by the K8sMonitor in effect, or not the leader
                else:
                    p["failed"] += 1
                    if len(self.failures) < 50:
                        self.failures.append({"t": round(t - self.t0, 1), "endpoint": e, "status": st,
                                              "body": body[:200].decode("utf-8", "replace")})
            if self.a.poll_pause:
                self.stop.wait(self.a.poll_pause)

    def sample_loop(self):
        while not self.stop.is_set():
            rss, fds = self.agent.proc_stat()
            self.samples.append((round(time.time() - self.t0, 1), rss, fds))
            self.stop.wait(self.a.sample_every)

    # ---- final comparison
    def expected(self):
        f = self.fake
        inc = set(FINAL_SPEC.get("namespaces") or [])
        exc = set(FINAL_SPEC.get("excludeNamespaces") or [])

        def ns_ok(n):
            return (not inc or n in inc) and n not in exc
        pods = set()
        for p in f.objects("pods"):
            md = p["metadata"]
            if ns_ok(md["namespace"]):
                pods.add((md["namespace"], md["name"], md["uid"], (p.get("spec") or {}).get("nodeName", "")))
        nodes, ready, flap = set(), {}, {}
        for n in f.objects("nodes"):
            name = n["metadata"]["name"]
            nodes.add(name)
            for c in (n.get("status") or {}).get("conditions") or []:
                if c.get("type") == "Ready":
                    ready[name] = 1.0 if c.get("status") == "True" else 0.0
            flap[name] = ((n["metadata"].get("labels") or {}).get(FLAP_LABEL, ""))
        # Namespace objects are cluster-scoped: namespaces/excludeNamespaces do not
        # filter them (as kube-state-metrics' --namespaces-denylist does not).
        nss = set(n["metadata"]["name"] for n in f.objects("namespaces"))
        return {"pods": pods, "nodes": nodes, "ready": ready, "flap": flap, "namespaces": nss}

    def actual(self):
        st, body = self.agent.get("/metrics/kube-state", timeout=20)
        if st != 200:
            return None
        pods, nodes, ready, flap, ns_created, ns_phase = set(), set(), {}, {}, set(), set()
        for name, l, v in parse_prom(body.decode("utf-8", "replace")):
            if name == "kube_pod_info":
                pods.add((l.get("namespace"), l.get("pod"), l.get("uid"), l.get("node", "")))
            elif name == "kube_node_info":
                nodes.add(l.get("node"))
            elif name == "kube_node_status_condition" and l.get("condition") == "Ready" and l.get("status") == "true":
                ready[l.get("node")] = v
            elif name == "kube_node_labels":
                flap[l.get("node")] = l.get(sanitize_label(FLAP_LABEL), "")
            elif name == "kube_namespace_created":
                ns_created.add(l.get("namespace"))
            elif name == "kube_namespace_status_phase":
                ns_phase.add(l.get("namespace"))
        return {"pods": pods, "nodes": nodes, "ready": ready, "flap": flap, "namespaces": ns_created,
                "namespaces_phase": ns_phase}

    def config_diff(self):
        st, body = self.agent.get("/config")
        if st != 200:
            return ["/config answered %d" % st]
        c = json.loads(body)
        e = c.get("effective") or {}
        d = []
        if c.get("source") != "K8sMonitor/chaos":
            d.append("source %r != 'K8sMonitor/chaos'" % c.get("source"))
        want = ",".join(FINAL_SPEC["collectors"])
        if e.get("collectors") != want:
            d.append("collectors %r != %r" % (e.get("collectors"), want))
        if e.get("intervalMs") != 15000:
            d.append("intervalMs %r != 15000" % e.get("intervalMs"))
        if sorted(e.get("excludeNamespaces") or []) != sorted(FINAL_SPEC["excludeNamespaces"]):
            d.append("excludeNamespaces %r" % e.get("excludeNamespaces"))
        if e.get("namespaces"):
            d.append("namespaces %r != []" % e.get("namespaces"))
        return d

    def diff(self):
        exp, act = self.expected(), self.actual()
        if act is None:
            return ["/metrics/kube-state did not answer 200"]
        d = []

        def setdiff(what, e, a):
            for x in sorted(e - a, key=str)[:10]:
                d.append("%s missing in agent: %s" % (what, x))
            for x in sorted(a - e, key=str)[:10]:
                d.append("%s extra in agent: %s" % (what, x))
            if len(e ^ a) > 20:
                d.append("%s: %d differences in all" % (what, len(e ^ a)))
        setdiff("kube_pod_info", exp["pods"], act["pods"])
        setdiff("kube_node_info", exp["nodes"], act["nodes"])
        setdiff("kube_namespace_created", exp["namespaces"], act["namespaces"])
        setdiff("kube_namespace_status_phase", exp["namespaces"], act["namespaces_phase"])
        for n, v in sorted(exp["ready"].items()):
            if act["ready"].get(n) != v:
                d.append("kube_node_status_condition Ready %s: agent %r, server %r" % (n, act["ready"].get(n), v))
        for n, v in sorted(exp["flap"].items()):
            if act["flap"].get(n, "") != v:
                d.append("kube_node_labels %s %s: agent %r, server %r" % (n, FLAP_LABEL, act["flap"].get(n), v))
        d.extend("config: " + x for x in self.config_diff())
        return d, len(exp["pods"]), len(exp["nodes"]), len(exp["namespaces"])

    def start_time(self):
        st, body = self.agent.get("/metrics/self")
        if st != 200:
            return None
        for name, _l, v in parse_prom(body.decode("utf-8", "replace")):
            if name == "process_start_time_seconds":
                return v
        return None

    def self_counters(self):
        st, body = self.agent.get("/metrics/self")
        out = {}
        if st != 200:
            return out
        for name, l, v in parse_prom(body.decode("utf-8", "replace")):
            if name == "k8smon_kube_requests_total":
                k = "kube_requests{code=%s}" % l.get("code")
                out[k] = out.get(k, 0) + v
            elif name.startswith("k8smon_kube_") and name.endswith("_total") and "_bucket" not in name:
                k = name + ("{%s}" % ",".join("%s=%s" % kv for kv in sorted(l.items()) if kv[0] != "resource")
                            if l else "")
                out[k] = out.get(k, 0) + v
        return out

    # ---- run
    def run(self):
        a = self.a
        self.fake.start([os.path.join(ROOT, "crds"), os.path.join(ROOT, "examples", "cluster")])
        self.ensure_namespaces()
        self.agent = Agent(a.binary, self.tmp, os.path.join(self.tmp, "kubeconfig"))
        deadline = time.time() + 20
        while time.time() < deadline and self.agent.get("/readyz", timeout=2)[0] != 200:
            time.sleep(0.2)
        if self.agent.get("/readyz")[0] != 200:
            raise SystemExit("chaos: agent not ready in 20 s (see %s/k8smon.log)" % self.tmp)
        start_time0 = self.start_time()
        self.t0 = time.time()
        threads = [threading.Thread(target=t, daemon=True) for t in (self.churn_loop, self.fault_loop)]
        poll = threading.Thread(target=self.poll_loop, daemon=True)
        samp = threading.Thread(target=self.sample_loop, daemon=True)
        poll.start()
        samp.start()
        for t in threads:
            t.start()
        log("agent pid %d on %s, fake API on port %d; chaos for %d s (outage %d s at %.0f%%)" %
            (self.agent.pid, self.agent.url, self.fake.port, a.seconds, a.outage, a.outage_at * 100))
        outage = None
        t_out = self.t0 + a.seconds * a.outage_at
        while time.time() < self.t0 + a.seconds:
            if outage is None and a.outage > 0 and time.time() >= t_out:
                outage = self.outage()
            time.sleep(0.2)
            if not self.agent.alive():
                break
        chaos_end = time.time()
        # quiet period: stop churn and faults, keep the poller and the sampler going
        self.stop_churn.set()
        for t in threads:
            t.join(timeout=15)
        self.fake.fault({"action": "clear"})
        self.put_cr("k8smonitors", "K8sMonitor", None, "chaos", FINAL_SPEC)
        t_conv = time.time()
        diff = ["not compared"]
        counts = (0, 0, 0)
        while self.agent.alive():
            time.sleep(1)
            res = self.diff()
            diff, counts = res[0], res[1:]
            if not diff or time.time() - t_conv > a.converge:
                break
        converge_s = round(time.time() - t_conv, 1)
        # a few seconds more of polling after convergence
        time.sleep(3)
        self.stop.set()
        poll.join(timeout=15)
        samp.join(timeout=15)
        alive = self.agent.alive()
        start_time1 = self.start_time() if alive else None
        counters = self.self_counters() if alive else {}
        rc = self.agent.proc.poll()
        if alive:
            self.agent.proc.terminate()
            try:
                rc = self.agent.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.agent.proc.kill()
                rc = "killed"
        self.fake.kill()
        rep = {
            "seconds": a.seconds, "chaos_seconds_actual": round(chaos_end - self.t0, 1),
            "seed": a.seed, "churn_rate": a.churn_rate, "fault_rate": a.fault_rate,
            "faults": self.faults, "churn": self.churn, "outage": outage,
            "endpoints": self.polls, "failed_requests": self.failures,
            "converged_after_s": converge_s, "final_diff": diff,
            "final_counts": {"pods": counts[0], "nodes": counts[1], "namespaces": counts[2]},
            "pid_unchanged_alive": alive, "agent_pid": self.agent.pid,
            "process_start_time": [start_time0, start_time1], "exit_after_sigterm": rc,
            "self_counters": counters, "samples": self.samples,
        }
        failed = sum(p["failed"] for p in self.polls.values())
        checks = {
            "agent alive, same PID": alive,
            "process_start_time_seconds unchanged": alive and start_time0 == start_time1,
            "every endpoint answered 200 (%d failed)" % failed: failed == 0,
            "final diff empty": not diff,
            "API outage happened": outage is not None or a.outage == 0,
        }
        rep["checks"] = checks
        with open(a.out, "w") as fh:
            json.dump(rep, fh, indent=1, default=list)
        for k, v in checks.items():
            print("%s - %s" % ("ok  " if v else "FAIL", k))
        print("faults injected: %s" % json.dumps(self.faults, sort_keys=True))
        print("churn: %s" % json.dumps(self.churn, sort_keys=True))
        print("endpoint polls: %s" % json.dumps(self.polls, sort_keys=True))
        print("converged after %.1f s; final diff: %s" % (converge_s, diff if diff else "empty"))
        return 0 if all(checks.values()) else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default=os.environ.get("K8SMON_BIN", os.path.join(ROOT, "bin", "k8smon")))
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("CHAOS_SECONDS", 600)))
    ap.add_argument("--outage", type=float, default=60.0, help="API server down for S seconds (0: none)")
    ap.add_argument("--outage-at", type=float, default=0.5, help="fraction of the run")
    ap.add_argument("--restart-rv", choices=("low", "high"), default="low")
    ap.add_argument("--churn-rate", type=float, default=10.0, help="churn operations per second")
    ap.add_argument("--pods", type=int, default=60, help="churn pods kept around this count")
    ap.add_argument("--fault-rate", type=float, default=1.0, help="faults per second")
    ap.add_argument("--poll-pause", type=float, default=0.0, help="pause between poller requests")
    ap.add_argument("--sample-every", type=float, default=10.0)
    ap.add_argument("--converge", type=float, default=60.0, help="max seconds to converge at the end")
    ap.add_argument("--seed", type=int, default=int(os.environ.get("CHAOS_SEED", int(time.time()))))
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    return Chaos(a).run()


if __name__ == "__main__":
    sys.exit(main())

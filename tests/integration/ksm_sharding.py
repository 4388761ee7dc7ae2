#!/usr/bin/env python3
"""ksm_sharding.py -- issue 21: kube-state pod sharding with many agents (driver of
tests/integration/test_ksm_sharding.sh; Python 3 stdlib only).

usage: ksm_sharding.py BIN WORKDIR
       ksm_sharding.py compare REFERENCE_URL AGENT_URL...   (one sample, JSON; used by
                                                           test_ksm_sharding_real.sh)
       ksm_sharding.py manifests FILE N   (the real-server case's objects, for load_cluster.py)

One fake API server (tests/fakeapi/fakeapi.py), AGENTS k8smon processes (each
-nodeName node-NN, its own port, POD_NAME=k8smon-node-NN, leader election on:
one Lease) and one reference agent (-leaderElection=false, and
-kubeState.podSharding=leader where the binary has the flag: it always serves
every kube_* series, as today's single leader does).

The agents' own Pods (namespace k8smon, label app.kubernetes.io/name=k8smon,
spec.nodeName=node-NN) are written by this script, which stands in for the
kubelet: it sets their Ready condition, flips it to False when it kills an
agent and back to True once the agent answers /healthz again.

Checks (each an ok/FAIL line):
  * at sampled moments after churn settles, the union of every agent's
    /metrics/kube-state equals the reference's, series for series (name,
    labels, value; kube_lease_renew_time by series only: the Lease is renewed
    between two scrapes), and no series is served by two agents;
  * node mode: each agent serves exactly the pods whose spec.nodeName is its
    node; the leader serves the pods with no node or on a node without a
    Ready agent pod; k8smon_kube_state_pods_emitted adds up to the pod count;
  * churn: pods created, deleted, scheduled later (nodeName set on a pending
    pod), a pod moved to another node (delete + recreate: the real API server
    refuses a change of spec.nodeName, see test_ksm_sharding_real.sh), a
    node and its agent added;
  * bad input: a pod on a node with no agent (the leader emits it), a pod on a
    node that has no Node object (node mode: nobody emits it, the documented
    limit; the rest must still be equal), two Ready agent pods on one node (one
    emits; the log lines once), spec.nodeName changed in place (the fake allows
    it; the real server does not);
  * a node renamed (Node, its pods and its agent replaced under a new name);
  * node mode switched live to leader mode by a K8sMonitor and back (deleted);
  * a leader hand-over (kill -9 of the Lease holder) and an agent restart,
    sampled every SAMPLE_S: per pod, how long some of its series were missing
    from the union (gap) and how long some were served twice (overlap).
    Printed and written as JSON to WORKDIR/transitions.json; durations are
    measured, never asserted (the assertion is that both end).

Environment knobs (bigger runs): KSM_SHARD_AGENTS (20), KSM_SHARD_PODS (4 per
node), KSM_SHARD_MODE (node, or leader; default node when the binary has
-kubeState.podSharding, else leader and the node mode is reported as not
verified), KSM_SHARD_SAMPLE_S (0.2), KSM_SHARD_LEASE_S (5), KSM_SHARD_KEEP_GOING (0: stop
at the first phase that does not settle).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

BIN, WORK = (sys.argv[1], sys.argv[2]) if len(sys.argv) > 2 and sys.argv[1] not in ("compare", "manifests") \
    else ("", "")
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
N_AGENTS = int(os.environ.get("KSM_SHARD_AGENTS", "20"))
PODS_PER_NODE = int(os.environ.get("KSM_SHARD_PODS", "4"))
SAMPLE_S = float(os.environ.get("KSM_SHARD_SAMPLE_S", "0.2"))
LEASE_S = int(os.environ.get("KSM_SHARD_LEASE_S", "5"))
NS_AGENT, NS_WORK = "k8smon", "work"
# Families that describe the agent itself, not the cluster: they differ per agent.
SELF_PREFIXES = ("kube_state_metrics_", "k8smon_")
# Series whose value legitimately differs between two scrapes of the same state.
VOLATILE = ("kube_lease_renew_time",)
SETTLE_S = 90  # bound for "the agents have caught up", not a timing assertion
# A phase that never settles stops the run (each further phase would wait SETTLE_S for nothing).
KEEP_GOING = os.environ.get("KSM_SHARD_KEEP_GOING", "0") == "1"


class Abort(Exception):
    pass

FAILS = []


def ok(msg):
    print("ok   - " + msg, flush=True)


def fail(msg):
    print("FAIL - " + msg, flush=True)
    FAILS.append(msg)


def check(cond, msg):
    (ok if cond else fail)(msg)
    return cond


# --------------------------------------------------------------------------- ports

_used_ports = set()


def free_port():
    while True:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        s.close()
        if p not in _used_ports:
            _used_ports.add(p)
            return p


# --------------------------------------------------------------------------- fake API server


class Fake:
    def __init__(self):
        self.dir = os.path.join(WORK, "fake")
        os.makedirs(self.dir, exist_ok=True)
        cport = free_port()
        self.out = open(os.path.join(WORK, "fakeapi.out"), "w+")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "tests/fakeapi/fakeapi.py"), "--port", "0",
             "--state-dir", self.dir, "--kubeconfig-out", os.path.join(WORK, "kubeconfig"),
             "--control-port", str(cport), "--load", os.path.join(ROOT, "crds")],
            stdout=self.out, stderr=open(os.path.join(WORK, "fakeapi.log"), "w"))
        self.control = "http://127.0.0.1:%d/_fake" % cport
        self.kubeconfig = os.path.join(WORK, "kubeconfig")
        for _ in range(300):
            self.out.seek(0)
            if "CONTROL" in self.out.read():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise SystemExit("fake API server did not start (see %s/fakeapi.log)" % WORK)

    def req(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        r = urllib.request.Request(self.control + path, data=data, method=method,
                                   headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(r, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def put(self, objs):
        return self.req("POST", "/objects", objs if isinstance(objs, list) else [objs])

    def get(self, resource, ns=None, name=None, group=None):
        q = "resource=" + resource
        if group:
            q += "&group=" + group
        if ns:
            q += "&namespace=" + ns
        if name:
            q += "&name=" + name
        return self.req("GET", "/objects?" + q)["items"]

    def delete(self, resource, ns, name, group=None):
        q = "resource=%s&name=%s" % (resource, name)
        if ns:
            q += "&namespace=" + ns
        if group:
            q += "&group=" + group
        return self.req("DELETE", "/objects?" + q)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


# --------------------------------------------------------------------------- objects

T0 = "2026-12-06T06:00:00Z"


def namespace(name):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "creationTimestamp": T0},
            "status": {"phase": "Active"}}


def node(name):
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "creationTimestamp": T0, "labels": {"kubernetes.io/hostname": name}},
            "spec": {"podCIDR": "10.244.0.0/24"},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "lastTransitionTime": T0, "lastHeartbeatTime": T0}],
                       "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                       "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                       "nodeInfo": {"kubeletVersion": "v1.36.3", "containerRuntimeVersion": "containerd://1.6.20",
                                    "kernelVersion": "6.1.0", "osImage": "Debian GNU/Linux 12",
                                    "kubeProxyVersion": "v1.36.3", "systemUUID": name, "machineID": name}}}


def pod(ns, name, node_name, ready=True, labels=None, init=False):
    """A running pod on node_name (pending when node_name is empty)."""
    spec = {"containers": [{"name": "main", "image": "busybox:1.36",
                            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}
    if init:
        spec["initContainers"] = [{"name": "setup", "image": "busybox:1.36"}]
    meta = {"name": name, "namespace": ns, "creationTimestamp": T0, "labels": labels or {"app": name}}
    if not node_name:
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec,
                "status": {"phase": "Pending", "qosClass": "Burstable",
                           "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                           "lastTransitionTime": T0}]}}
    spec["nodeName"] = node_name
    rs = "True" if ready else "False"
    status = {"phase": "Running", "qosClass": "Burstable", "hostIP": "10.0.0.1", "podIP": "10.244.0.9",
              "startTime": T0,
              "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": T0},
                             {"type": "Initialized", "status": "True", "lastTransitionTime": T0},
                             {"type": "ContainersReady", "status": rs, "lastTransitionTime": T0},
                             {"type": "Ready", "status": rs, "lastTransitionTime": T0}],
              "containerStatuses": [{"name": "main", "image": "busybox:1.36", "imageID": "docker.io/busybox@sha256:1",
                                     "containerID": "containerd://" + name, "ready": ready, "restartCount": 0,
                                     "started": True, "state": {"running": {"startedAt": T0}}}]}
    if init:
        status["initContainerStatuses"] = [{"name": "setup", "image": "busybox:1.36", "imageID": "x",
                                            "containerID": "containerd://i" + name, "ready": True,
                                            "restartCount": 0, "state": {"terminated": {
                                                "exitCode": 0, "reason": "Completed",
                                                "startedAt": T0, "finishedAt": T0}}}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def agent_pod(name, node_name, ready):
    p = pod(NS_AGENT, name, node_name, ready=ready,
            labels={"app.kubernetes.io/name": "k8smon", "app.kubernetes.io/instance": "k8smon"})
    p["spec"]["serviceAccountName"] = "k8smon"  # the chart's account (no "default" one on a bare server)
    return p


def node_name(i):
    return "node-%02d" % i


# --------------------------------------------------------------------------- agents


def has_shard_flag():
    if not BIN:
        return False
    r = subprocess.run([BIN, "-help"], capture_output=True)
    return b"podSharding" in r.stdout + r.stderr


HAS_SHARD_FLAG = has_shard_flag()
MODE = os.environ.get("KSM_SHARD_MODE", "node" if HAS_SHARD_FLAG else "leader")


class Agent:
    def __init__(self, fake, node_nm, pod_name, reference=False):
        self.fake, self.node, self.pod_name, self.reference = fake, node_nm, pod_name, reference
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = os.path.join(WORK, "agent-%s.log" % (pod_name or "reference"))
        self.proc = None
        self.starts = 0

    def start(self):
        args = [BIN, "-promscrape.kubernetes", "-kubeconfig=" + self.fake.kubeconfig,
                "-nodeName=" + self.node, "-httpListenAddr=127.0.0.1:%d" % self.port,
                "-promscrape.kubernetes.collectors=kube-state", "-components=",
                "-leaderElection.leaseDuration=%ds" % LEASE_S,
                "-leaderElection.renewDeadline=%ds" % max(LEASE_S - 2, 1),
                "-leaderElection.retryPeriod=1s"]
        env = dict(os.environ, POD_NAMESPACE=NS_AGENT)
        env.pop("POD_NAME", None)
        env.pop("NODE_NAME", None)
        if self.reference:
            args.append("-leaderElection=false")
            if HAS_SHARD_FLAG:
                args.append("-kubeState.podSharding=leader")
        else:
            env["POD_NAME"] = self.pod_name
            if HAS_SHARD_FLAG:
                args.append("-kubeState.podSharding=" + MODE)
        self.starts += 1
        with open(self.log, "a") as lf:
            lf.write("=== start %d\n" % self.starts)
            lf.flush()
            self.proc = subprocess.Popen(args, env=env, stdout=lf, stderr=subprocess.STDOUT)

    def kill(self, sig):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def healthy(self):
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=5) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def fetch(self, path):
        """Text of path, or None when the agent does not answer."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=20) as r:
                return r.read().decode()
        except (urllib.error.URLError, OSError):
            return None

    def self_value(self, name_prefix):
        text = self.fetch("/metrics/self") or ""
        for line in text.splitlines():
            if line.startswith(name_prefix):
                return float(line.rsplit(" ", 1)[1])
        return None

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()


def parse(text):
    """{series: value} of a kube-state exposition, without comments and self families."""
    out = {}
    if not text:
        return out
    for line in text.splitlines():
        if not line or line[0] == "#" or line.startswith(SELF_PREFIXES):
            continue
        key, _, val = line.rpartition(" ")
        out[key] = val
    return out


def pod_of(series):
    """(namespace, pod) of a kube_pod_* series, else None."""
    if not series.startswith("kube_pod_"):
        return None
    ns = pod = None
    for part in series[series.index("{") + 1:-1].split('",'):
        k, _, v = part.partition('="')
        if k == "namespace":
            ns = v.rstrip('"')
        elif k == "pod":
            pod = v.rstrip('"')
    return (ns, pod) if pod is not None else None


def scrape_all(agents):
    """Scrapes every agent at once: [(agent, {series: value} or None)]."""
    res = [None] * len(agents)

    def one(i):
        t = agents[i].fetch("/metrics/kube-state")
        res[i] = None if t is None else parse(t)

    ths = [threading.Thread(target=one, args=(i,)) for i in range(len(agents))]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    return list(zip(agents, res))


class Compare:
    """One sampled moment: reference vs the union of the agents."""

    def __init__(self, ref, got, values=True):
        self.owner = {}  # series -> [agent]
        union = {}
        for a, s in got:
            for k, v in (s or {}).items():
                self.owner.setdefault(k, []).append(a)
                union[k] = v
        self.missing = [k for k in ref if k not in union]
        self.extra = [k for k in union if k not in ref]
        self.dup = [k for k, o in self.owner.items() if len(o) > 1]
        self.diff = []
        if values:
            self.diff = [k for k in ref if k in union and union[k] != ref[k] and not k.startswith(VOLATILE)]
        self.n = len(ref)

    def clean(self):
        return not (self.missing or self.extra or self.dup or self.diff)

    def summary(self):
        def few(xs):
            return "; ".join(x if len(x) < 120 else x[:117] + "..." for x in sorted(xs)[:3]) + \
                (" ..." if len(xs) > 3 else "")
        parts = []
        for name, xs in (("missing", self.missing), ("extra", self.extra), ("served twice", self.dup),
                         ("value differs", self.diff)):
            if xs:
                parts.append("%d %s (%s)" % (len(xs), name, few(xs)))
        return ", ".join(parts) or "equal"


class Cluster:
    def __init__(self):
        self.fake = Fake()
        self.agents = {}  # pod name -> Agent
        self.ref = Agent(self.fake, "reference-node", None, reference=True)
        self.pods = {}  # (ns, name) -> node name ("" = pending)

    def live_agents(self):
        return [a for a in self.agents.values()]

    def add_agent(self, i, pod_name=None, ready=True, wait=True):
        nm = node_name(i)
        pod_name = pod_name or "k8smon-" + nm
        a = Agent(self.fake, nm, pod_name)
        self.agents[pod_name] = a
        a.start()
        if wait:
            deadline = time.time() + SETTLE_S
            while not a.healthy() and time.time() < deadline:
                time.sleep(0.2)
        self.fake.put(agent_pod(pod_name, nm, ready))
        return a

    def set_ready(self, a, ready):
        self.fake.put(agent_pod(a.pod_name, a.node, ready))

    def leader(self):
        """The agent whose k8smon_leader is 1 (None when none or several)."""
        ls = [a for a in self.agents.values() if a.self_value("k8smon_leader{") == 1]
        return ls[0] if len(ls) == 1 else None

    def compare(self, values=True):
        both = scrape_all([self.ref] + self.live_agents())
        ref = both[0][1] or {}
        return Compare(ref, both[1:], values), both

    def compare_except(self, pods):
        """compare() with the series of pods (set of (ns, name)) left out of the reference."""
        c, both = self.compare()
        if pods:
            ref = {k: v for k, v in (both[0][1] or {}).items() if pod_of(k) not in pods}
            c = Compare(ref, both[1:])
        return c, both

    def settle(self, what, except_pods=None):
        """Polls until the union equals the reference (less except_pods' series), then
        requires 3 more equal samples."""
        deadline = time.time() + SETTLE_S
        t0 = time.time()
        c = None
        while time.time() < deadline:
            c, both = self.compare_except(except_pods)
            if c.clean() and c.n > 0 and both[0][1]:
                good = 0
                for _ in range(3):
                    time.sleep(0.3)
                    c, both = self.compare_except(except_pods)
                    if not c.clean():
                        break
                    good += 1
                if good == 3:
                    ok("%s: union of %d agents == reference (%d series, none twice; 3 samples) after %.1f s"
                       % (what, len(self.agents), c.n, time.time() - t0))
                    return c, both
            time.sleep(0.5)
        fail("%s: union != reference after %d s: %s" % (what, SETTLE_S, c.summary() if c else "no sample"))
        if not KEEP_GOING:
            raise Abort()
        return c, None

    def check_owners(self, what, both, mode=None):
        """Node mode: each pod's series come from its node's Ready agent (smallest pod name),
        the rest from the leader; leader mode: everything from the leader."""
        mode = mode or MODE
        if both is None:
            return
        leader = self.leader()
        if not check(leader is not None, "%s: exactly one agent has k8smon_leader 1" % what):
            return
        ready = {}
        for p in self.fake.get("pods", NS_AGENT):
            conds = {c["type"]: c["status"] for c in p.get("status", {}).get("conditions", [])}
            if conds.get("Ready") == "True" and p["metadata"]["name"] in self.agents:
                nm = p["spec"].get("nodeName", "")
                if nm not in ready or p["metadata"]["name"] < ready[nm]:
                    ready[nm] = p["metadata"]["name"]
        wrong = []
        served = {}
        for a, s in both[1:]:
            for k in s or {}:
                po = pod_of(k)
                if po is None:
                    if a is not leader:
                        wrong.append("%s from %s (not the leader)" % (k, a.pod_name))
                    continue
                served.setdefault(po, set()).add(a)
        for (ns, name), who in served.items():
            nd = self.pods.get((ns, name))
            if nd is None:
                p = self.fake.get("pods", ns, name)
                nd = p[0]["spec"].get("nodeName", "") if p else ""
            want = leader
            if mode == "node" and nd in ready:
                want = self.agents[ready[nd]]
            if who != {want}:
                wrong.append("pod %s/%s on %r from %s, want %s" % (
                    ns, name, nd, ",".join(sorted(x.pod_name for x in who)), want.pod_name))
        check(not wrong, "%s: every series from the agent that owns it (%s mode)%s" % (
            what, mode, "" if not wrong else ": " + "; ".join(sorted(wrong)[:5])))
        if mode == "node":
            emitted = {a.pod_name: a.self_value("k8smon_kube_state_pods_emitted") for a in self.agents.values()}
            missing = [n for n, v in emitted.items() if v is None]
            if check(not missing, "%s: every agent serves k8smon_kube_state_pods_emitted" % what):
                per = {a.pod_name: len([p for p, who in served.items() if a in who]) for a in self.agents.values()}
                bad = ["%s %g != %d" % (n, emitted[n], per[n]) for n in per if emitted[n] != per[n]]
                check(not bad, "%s: k8smon_kube_state_pods_emitted = pods served, per agent%s" % (
                    what, "" if not bad else ": " + "; ".join(bad[:5])))

    def stop(self):
        for a in list(self.agents.values()) + [self.ref]:
            a.kill(signal.SIGKILL)
        self.fake.stop()


# --------------------------------------------------------------------------- transitions


class Sampler(threading.Thread):
    """Samples reference and agents every SAMPLE_S; per pod, the time some of its series
    were missing from the union (gap) or served by two agents (overlap)."""

    def __init__(self, cl):
        super().__init__(daemon=True)
        self.cl, self.stop_ev = cl, threading.Event()
        self.samples = []  # (t, missing pods, dup pods, other missing, other dup, n)

    def run(self):
        while not self.stop_ev.is_set():
            t = time.time()
            c, _ = self.cl.compare(values=False)
            mp, dp = set(), set()
            om = od = 0
            for k in c.missing:
                po = pod_of(k)
                if po:
                    mp.add(po)
                else:
                    om += 1
            for k in c.dup:
                po = pod_of(k)
                if po:
                    dp.add(po)
                else:
                    od += 1
            self.samples.append(((t + time.time()) / 2, mp, dp, om, od, c.n))
            rest = SAMPLE_S - (time.time() - t)
            if rest > 0:
                self.stop_ev.wait(rest)

    def finish(self):
        self.stop_ev.set()
        self.join()
        s = self.samples
        gap, over = {}, {}
        other_gap = other_over = 0.0
        other_gap_max = 0
        for i in range(len(s) - 1):
            dt = s[i + 1][0] - s[i][0]
            for p in s[i][1]:
                gap[p] = gap.get(p, 0.0) + dt
            for p in s[i][2]:
                over[p] = over.get(p, 0.0) + dt
            if s[i][3]:
                other_gap += dt
                other_gap_max = max(other_gap_max, s[i][3])
            if s[i][4]:
                other_over += dt
        iv = [s[i + 1][0] - s[i][0] for i in range(len(s) - 1)]
        return {"samples": len(s), "interval_mean_s": round(sum(iv) / len(iv), 3) if iv else None,
                "interval_max_s": round(max(iv), 3) if iv else None,
                "gap_s": {"%s/%s" % p: round(v, 2) for p, v in sorted(gap.items())},
                "overlap_s": {"%s/%s" % p: round(v, 2) for p, v in sorted(over.items())},
                "other_kinds_gap_s": round(other_gap, 2), "other_kinds_gap_series_max": other_gap_max,
                "other_kinds_overlap_s": round(other_over, 2),
                "last_sample_clean": bool(s) and not (s[-1][1] or s[-1][2] or s[-1][3] or s[-1][4])}


def report(name, r):
    g, o = r["gap_s"], r["overlap_s"]
    print("# %s: %d samples, interval mean %s s max %s s" % (name, r["samples"], r["interval_mean_s"],
                                                            r["interval_max_s"]))
    print("#   pods with a gap: %d, longest %.2f s, mean %.2f s" % (
        len(g), max(g.values()) if g else 0, sum(g.values()) / len(g) if g else 0))
    print("#   pods served twice: %d, longest %.2f s" % (len(o), max(o.values()) if o else 0))
    print("#   other kinds (leader): gap %.2f s (up to %d series), overlap %.2f s" % (
        r["other_kinds_gap_s"], r["other_kinds_gap_series_max"], r["other_kinds_overlap_s"]))
    rows = sorted(set(g) | set(o), key=lambda p: (-max(g.get(p, 0), o.get(p, 0)), p))
    for p in rows[:12]:
        print("#     %-40s gap %5.2f s  overlap %5.2f s" % (p, g.get(p, 0), o.get(p, 0)))
    if len(rows) > 12:
        print("#     ... %d more pods (transitions.json)" % (len(rows) - 12))


def count_lines(agent, text):
    """Lines of agent's log (since its last start) that contain text."""
    log = agent.log_text()
    log = log[log.rfind("=== start "):]
    return sum(1 for ln in log.splitlines() if text in ln)


def wait_until(secs, fn):
    deadline = time.time() + secs
    while time.time() < deadline:
        if fn():
            return True
        time.sleep(0.2)
    return False


# --------------------------------------------------------------------------- scenario


class Url:
    """An agent known only by its URL (compare mode)."""

    def __init__(self, url):
        self.url = self.pod_name = url

    fetch = Agent.fetch


def compare_main(ref_url, urls):
    """compare REF URL...: one sample; prints {"clean", "summary", "series", "pods": {url: [ns/pod]}};
    exit 0 when the union equals the reference and no series is served twice."""
    both = scrape_all([Url(ref_url)] + [Url(u) for u in urls])
    c = Compare(both[0][1] or {}, both[1:])
    pods = {}
    for a, s in both[1:]:
        pods[a.url] = sorted({"%s/%s" % po for po in map(pod_of, s or {}) if po})
    print(json.dumps({"clean": c.clean() and c.n > 0, "summary": c.summary(), "series": c.n, "pods": pods}))
    return 0 if c.clean() and c.n > 0 else 1


def manifests_main(path, n):
    """manifests FILE N: the small real-server cluster (N nodes with an agent pod each, 2 pods
    per node, a pending pod, a pod on a node with no agent) as YAML for tests/peers/load_cluster.py."""
    objs = [namespace(NS_WORK), node("node-noagent")]
    for i in range(1, n + 1):
        objs += [node(node_name(i)), agent_pod("k8smon-" + node_name(i), node_name(i), True)]
        objs += [pod(NS_WORK, "w-%02d-%d" % (i, j), node_name(i), init=j == 0) for j in range(2)]
    objs += [pod(NS_WORK, "pending-0", ""), pod(NS_WORK, "on-noagent", "node-noagent")]
    with open(path, "w") as f:
        f.write("\n---\n".join(json.dumps(o) for o in objs) + "\n")
    return 0


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "compare":
        return compare_main(sys.argv[2], sys.argv[3:])
    if len(sys.argv) > 3 and sys.argv[1] == "manifests":
        return manifests_main(sys.argv[2], int(sys.argv[3]))
    os.makedirs(WORK, exist_ok=True)
    if not HAS_SHARD_FLAG:
        print("NOTE: %s has no -kubeState.podSharding: every agent runs today's behaviour "
              "(the leader emits every pod); node mode NOT verified" % BIN)
    print("mode %s, %d agents, %d pods per node, sampling every %.2f s, lease %d s; this script stands in "
          "for the kubelet: it writes the agents' Pods and their Ready condition" % (
              MODE, N_AGENTS, PODS_PER_NODE, SAMPLE_S, LEASE_S), flush=True)
    cl = Cluster()
    results = {"mode": MODE, "agents": N_AGENTS, "pods_per_node": PODS_PER_NODE}
    try:
        run(cl, results)
    except Abort:
        fail("stopped after the first phase that did not settle (KSM_SHARD_KEEP_GOING=1 runs the rest)")
    finally:
        cl.stop()
        with open(os.path.join(WORK, "transitions.json"), "w") as f:
            json.dump(results, f, indent=1)
    if FAILS:
        print("%d check(s) failed:" % len(FAILS))
        for f in FAILS:
            print("    failed: " + f)
        return 1
    print("all checks passed")
    return 0


def run(cl, results):
    fk = cl.fake
    objs = [namespace(NS_AGENT), namespace(NS_WORK)]
    objs += [node(node_name(i)) for i in range(1, N_AGENTS + 1)] + [node("node-noagent")]
    for i in range(1, N_AGENTS + 1):
        for j in range(PODS_PER_NODE):
            objs.append(pod(NS_WORK, "w-%02d-%d" % (i, j), node_name(i), ready=j % 3 != 2, init=j == 0))
            cl.pods[(NS_WORK, "w-%02d-%d" % (i, j))] = node_name(i)
    for j in range(3):
        objs.append(pod(NS_WORK, "pending-%d" % j, ""))
        cl.pods[(NS_WORK, "pending-%d" % j)] = ""
    # Bad input: a node with no agent, and a node name no Node object has.
    objs.append(pod(NS_WORK, "on-noagent", "node-noagent"))
    cl.pods[(NS_WORK, "on-noagent")] = "node-noagent"
    objs.append({"apiVersion": "apps/v1", "kind": "Deployment",
                 "metadata": {"name": "web", "namespace": NS_WORK, "creationTimestamp": T0, "generation": 1},
                 "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                          "template": {"metadata": {"labels": {"app": "web"}},
                                       "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
                 "status": {"replicas": 2, "readyReplicas": 2, "availableReplicas": 2, "observedGeneration": 1}})
    objs.append({"apiVersion": "v1", "kind": "Service",
                 "metadata": {"name": "web", "namespace": NS_WORK, "creationTimestamp": T0},
                 "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.20", "ports": [{"port": 80}]}})
    fk.put(objs)

    cl.ref.start()
    for i in range(1, N_AGENTS + 1):
        cl.add_agent(i, wait=False)
    up = wait_until(SETTLE_S, lambda: cl.ref.healthy() and all(a.healthy() for a in cl.agents.values()))
    if not check(up, "reference and %d agents ready" % N_AGENTS):
        for a in cl.agents.values():
            if not a.healthy():
                print(a.log_text()[-2000:])
        return
    holder = fk.get("leases", NS_AGENT, "k8smon", group="coordination.k8s.io")
    check(holder and holder[0]["spec"].get("holderIdentity") in cl.agents,
          "the Lease is held by one of the agents (the reference does not contend)")
    c, both = cl.settle("initial")
    cl.check_owners("initial", both)
    results["series"] = c.n if c else None

    # --- churn: created, deleted, scheduled later, moved, a node + agent added
    new = []
    for i in range(1, N_AGENTS + 1, 2):
        nm = "new-%02d" % i
        new.append(pod(NS_WORK, nm, node_name(i)))
        cl.pods[(NS_WORK, nm)] = node_name(i)
    new.append(pod(NS_WORK, "pending-late", ""))
    cl.pods[(NS_WORK, "pending-late")] = ""
    fk.put(new)
    for i in range(2, N_AGENTS + 1, 3):
        fk.delete("pods", NS_WORK, "w-%02d-1" % i)
        cl.pods.pop((NS_WORK, "w-%02d-1" % i), None)
    # scheduled: nodeName set on a pending pod (a binding)
    for j, i in ((0, 3), (1, 4)):
        fk.put(pod(NS_WORK, "pending-%d" % j, node_name(i)))
        cl.pods[(NS_WORK, "pending-%d" % j)] = node_name(i)
    # moved: the real server refuses a new spec.nodeName, so the pod is recreated elsewhere
    fk.delete("pods", NS_WORK, "w-05-0")
    fk.put(pod(NS_WORK, "w-05-0", node_name(6), init=True))
    cl.pods[(NS_WORK, "w-05-0")] = node_name(6)
    # a node and its agent join
    n_new = N_AGENTS + 1
    fk.put([node(node_name(n_new)), pod(NS_WORK, "w-%02d-0" % n_new, node_name(n_new))])
    cl.pods[(NS_WORK, "w-%02d-0" % n_new)] = node_name(n_new)
    cl.add_agent(n_new)
    c, both = cl.settle("after churn")
    cl.check_owners("after churn", both)
    if MODE == "node":
        ld = cl.leader()
        line = "node node-noagent has no Ready agent pod (selector app.kubernetes.io/name=k8smon): " \
            "the leader emits its pods"
        if ld:
            check(count_lines(ld, line) == 1, "the leader logs once: '%s' (%d times)" % (line, count_lines(ld, line)))

    # --- bad input: spec.nodeName changed in place (only the fake lets this through)
    fk.put(pod(NS_WORK, "w-07-0", node_name(8), init=True))
    cl.pods[(NS_WORK, "w-07-0")] = node_name(8)
    c, both = cl.settle("spec.nodeName changed in place")
    cl.check_owners("spec.nodeName changed in place", both)

    # --- bad input: two Ready agent pods on one node (names: the original is smaller)
    dup = cl.add_agent(3, pod_name="k8smon-node-03-dup")
    c, both = cl.settle("two Ready agents on node-03")
    cl.check_owners("two Ready agents on node-03", both)
    if MODE == "node":
        served = [k for k in (both[[a for a, _ in both].index(dup)][1] or {}) if k.startswith("kube_pod_")] \
            if both else ["?"]
        check(not served, "the second agent on node-03 (larger pod name) serves no pod series")
    if MODE == "node":
        time.sleep(1)  # more coverage evaluations: still one line each
        line = "pod k8smon-node-03-dup: agent k8smon-node-03 emits node node-03's pods, this one none"
        check(count_lines(dup, line) == 1, "the second agent logs once: '%s' (%d times)" % (line, count_lines(dup, line)))
        line = "node node-03 has 2 Ready agent pods (k8smon-node-03, k8smon-node-03-dup): k8smon-node-03 emits " \
            "its pods, the others none"
        for a in (cl.agents["k8smon-node-03"], cl.leader()):
            if a:
                check(count_lines(a, line) == 1, "%s logs once: '%s' (%d times)" % (a.pod_name, line,
                                                                                   count_lines(a, line)))
    cl.agents.pop(dup.pod_name)
    dup.kill(signal.SIGTERM)
    fk.delete("pods", NS_AGENT, dup.pod_name)
    results["duplicate_agent_log"] = dup.log_text()[-4000:]

    # --- leader hand-over: kill -9 the Lease holder
    old = cl.leader()
    if not check(old is not None, "a leader before the hand-over"):
        return
    smp = Sampler(cl)
    smp.start()
    time.sleep(1)
    t_kill = time.time()
    old.kill(signal.SIGKILL)
    cl.set_ready(old, False)  # the kubelet sees the container die
    others = [a for a in cl.agents.values() if a is not old]
    took = wait_until(SETTLE_S + LEASE_S, lambda: sum(1 for a in others if a.self_value("k8smon_leader{") == 1) == 1)
    check(took, "another agent leads after kill -9 of %s (%.1f s)" % (old.pod_name, time.time() - t_kill))
    cl.agents.pop(old.pod_name)
    c, both = cl.settle("hand-over, old leader down")
    old.start()
    cl.agents[old.pod_name] = old
    wait_until(SETTLE_S, old.healthy)
    cl.set_ready(old, True)
    c, both = cl.settle("hand-over, old leader back as an agent")
    time.sleep(1)
    r = smp.finish()
    results["handover"] = r
    report("leader hand-over (kill -9 %s, its pod Ready false, restart, Ready true)" % old.pod_name, r)
    check(r["last_sample_clean"], "hand-over: the last sample has no gap and no overlap")
    cl.check_owners("after the hand-over", both)

    # --- agent restart (a node agent, not the leader)
    ld = cl.leader()
    victim = next(a for n, a in sorted(cl.agents.items()) if a is not ld)
    smp = Sampler(cl)
    smp.start()
    time.sleep(1)
    victim.kill(signal.SIGTERM)
    cl.agents.pop(victim.pod_name)
    cl.set_ready(victim, False)
    c, both = cl.settle("agent restart, %s down" % victim.pod_name)
    victim.start()
    cl.agents[victim.pod_name] = victim
    wait_until(SETTLE_S, victim.healthy)
    cl.set_ready(victim, True)
    c, both = cl.settle("agent restart, %s back" % victim.pod_name)
    time.sleep(1)
    r = smp.finish()
    results["restart"] = r
    report("agent restart (SIGTERM %s, its pod Ready false, restart, Ready true)" % victim.pod_name, r)
    check(r["last_sample_clean"], "agent restart: the last sample has no gap and no overlap")
    cl.check_owners("after the agent restart", both)

    # --- a node renamed: Node node-07 goes with its pods (the pod garbage collector),
    # its agent stops and its pod goes; node-07r registers, gets an agent and pods
    gone = cl.agents.pop("k8smon-node-07")
    gone.kill(signal.SIGTERM)
    fk.delete("pods", NS_AGENT, gone.pod_name)
    for (ns, name), nd in list(cl.pods.items()):
        if nd == node_name(7):
            fk.delete("pods", ns, name)
            cl.pods.pop((ns, name))
    fk.delete("nodes", None, node_name(7))
    fk.put([node("node-07r")] + [pod(NS_WORK, "r-07-%d" % j, "node-07r") for j in range(2)])
    cl.pods.update({(NS_WORK, "r-07-%d" % j): "node-07r" for j in range(2)})
    a = Agent(fk, "node-07r", "k8smon-node-07r")
    cl.agents[a.pod_name] = a
    a.start()
    wait_until(SETTLE_S, a.healthy)
    fk.put(agent_pod(a.pod_name, a.node, True))
    c, both = cl.settle("node-07 renamed node-07r (Node, pods and agent replaced)")
    cl.check_owners("node renamed", both)

    # --- live switch: a K8sMonitor sets podSharding=leader on every agent; deleting it
    # returns to the flag (node)
    if MODE == "node":
        kmon = {"apiVersion": "k8smon.io/v1alpha1", "kind": "K8sMonitor",
                "metadata": {"name": "sharding", "creationTimestamp": T0, "generation": 1},
                "spec": {"collectors": ["kube-state"], "kubeState": {"podSharding": "leader"}}}
        smp = Sampler(cl)
        smp.start()
        time.sleep(1)
        fk.put(kmon)
        c, both = cl.settle("live switch to leader mode (K8sMonitor spec.kubeState.podSharding)")
        cl.check_owners("live switch to leader mode", both, mode="leader")
        modes = {a.pod_name: a.self_value('k8smon_kube_state_pod_shard{mode="leader"') for a in cl.agents.values()}
        bad = sorted(n for n, v in modes.items() if v != 1)
        check(not bad, "every agent reports k8smon_kube_state_pod_shard{mode=\"leader\"} 1%s" % (
            "" if not bad else " (not: %s)" % ", ".join(bad[:5])))
        fk.delete("k8smonitors", None, "sharding", group="k8smon.io")
        c, both = cl.settle("K8sMonitor deleted: back to node mode (the flag)")
        cl.check_owners("back to node mode", both, mode="node")
        time.sleep(1)
        r = smp.finish()
        results["switch"] = r
        report("live switch node -> leader -> node (K8sMonitor created, deleted)", r)
        check(r["last_sample_clean"], "live switch: the last sample has no gap and no overlap")

    # --- bad input: a pod bound to a node that has no Node object (deleted, or never
    # registered: the pod garbage collector removes such pods only after a while)
    # Node mode: nobody emits it (docs/kube-state-sharding.md, "Limits": the leader's
    # uncovered nodes are Node objects). Leader mode: the leader does.
    fk.put(pod(NS_WORK, "on-ghost", "ghost-node"))
    ghost = {(NS_WORK, "on-ghost")}
    if MODE == "node":
        c, both = cl.settle("a pod on node ghost-node, which has no Node object (all but that pod)", ghost)
        if both:
            ref_n = len([k for k in both[0][1] if pod_of(k) in ghost])
            who = sorted(a.pod_name for a, sr in both[1:] if any(pod_of(k) in ghost for k in sr or {}))
            check(ref_n > 0 and not who, "the pod on ghost-node: %d series in the reference, served by %s "
                  "(documented limit: nobody)" % (ref_n, ", ".join(who) or "nobody"))
    else:
        cl.pods[(NS_WORK, "on-ghost")] = "ghost-node"
        c, both = cl.settle("a pod on node ghost-node, which has no Node object")
        cl.check_owners("a pod on a node with no Node object", both)


if __name__ == "__main__":
    sys.exit(main())

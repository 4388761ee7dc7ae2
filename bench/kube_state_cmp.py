#!/usr/bin/env python3
"""The measuring half of bench/kube_state.sh: runs k8smon and then the real
kube-state-metrics, one after the other, against the same static API server
(bench/kube_state_api.py) and prints one table with the ratio k8smon / KSM.

  kube_state_cmp.py CLUSTER.jsonl KUBECONFIG K8SMON KSM PODS SCRAPES OUTDIR [only]

Each process is started by this script (so "time to first complete scrape"
counts from its exec) and measured the same way:
  first complete scrape   polled every second; complete = every pod's
                          kube_pod_info is in the body
  RSS at first complete   VmRSS / VmHWM right after that scrape (the store is
                          synced: every object has its series)
  scrape CPU              utime+stime of the exporter around one full scrape,
                          average of SCRAPES, plain and with Accept-Encoding: gzip
  RSS after the scrapes   VmRSS / VmHWM after them
  series                  counted per family in the last plain scrape (the
                          synced state; the first complete scrape may still
                          lack kinds KSM has not finished listing)
The two never run at once (2 shared CPUs: they would measure each other).

Like with like: KSM serves its own kube_state_metrics_* families (list/watch
counters, shard gauges) on its telemetry port, k8smon on /metrics/kube-state
(tests/peers/ksm_known_diff.txt). The series rows count the object families
and the self families apart, KSM's self families from its telemetry port;
every object family whose series count differs between the two is printed.
"""
import http.client
import collections
import json
import os
import re
import subprocess
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")
KSM_KINDS = ("certificatesigningrequests configmaps cronjobs daemonsets deployments "
             "endpoints endpointslices horizontalpodautoscalers ingresses jobs leases "
             "limitranges mutatingadmissionpolicies mutatingadmissionpolicybindings "
             "mutatingwebhookconfigurations namespaces networkpolicies nodes "
             "persistentvolumeclaims persistentvolumes poddisruptionbudgets pods "
             "replicasets replicationcontrollers resourcequotas secrets services "
             "statefulsets storageclasses validatingadmissionpolicies "
             "validatingadmissionpolicybindings validatingwebhookconfigurations "
             "volumeattachments").split()
M = 1024 * 1024


def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / HZ


def status(pid, key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def get(port, path, gzip=False):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    c.request("GET", path, headers={"Accept-Encoding": "gzip"} if gzip else {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


SELF = b"kube_state_metrics_"
FAMILY = re.compile(rb"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", re.M)


def families(body):
    """{family: series count} of an exposition body (comment lines do not
    match FAMILY)."""
    return collections.Counter(m.group(1) for m in FAMILY.finditer(body))


def self_series(fams):
    return sum(n for f, n in fams.items() if f.startswith(SELF))


def measure(name, argv, port, path, pods, scrapes, log, telemetry=None, done=None, env=None,
            self_metrics=("k8smon_kube_state_store_bytes",), poll=1.0):
    """done(code, body, port): the state is complete (default: at least pods
    kube_pod_info series); self_metrics: k8smon /metrics/self values kept
    (first sample of each, by name with its labels); poll: seconds between
    two scrapes until complete (each costs the process a scrape)."""
    if done is None:
        def done(code, body, _port):
            return code == 200 and body.count(b"\nkube_pod_info{") >= pods
    res = {"load_start": os.getloadavg()[0]}
    with open(log, "wb") as lf:
        t0 = time.time()
        proc = subprocess.Popen(argv, stdout=lf, stderr=subprocess.STDOUT,
                                env=dict(os.environ, **env) if env else None)
    pid = proc.pid
    try:
        polls = 0
        while True:
            if proc.poll() is not None:
                sys.exit(f"{name} exited with {proc.returncode} (log: {log})")
            if time.time() - t0 > 1800:
                sys.exit(f"{name}: no complete scrape after 30 min (log: {log})")
            try:
                code, body = get(port, path)
                polls += 1
                if done(code, body, port):
                    break
            except OSError:
                pass
            time.sleep(poll)
        res["first"] = time.time() - t0
        res["first_cpu"] = cpu(pid)
        res["polls"] = polls
        res["rss1"], res["hwm1"] = status(pid, "VmRSS"), status(pid, "VmHWM")
        res["series"] = sum(1 for ln in body.split(b"\n") if ln and not ln.startswith(b"#"))
        res["bytes"] = len(body)
        del body
        for gz in (False, True):
            cpus, walls = [], []
            for _ in range(scrapes):
                c0, w0 = cpu(pid), time.time()
                code, b = get(port, path, gz)
                walls.append(time.time() - w0)
                cpus.append(cpu(pid) - c0)
                if code != 200:
                    sys.exit(f"{name}: {path} answers HTTP {code}: {b[:200]!r}")
                size = len(b)
                if not gz:
                    last = b
                del b
            key = "gz" if gz else "plain"
            res[key + "_cpu"] = sum(cpus) / len(cpus)
            res[key + "_wall"] = sum(walls) / len(walls)
            res[key + "_bytes"] = size
        res["rss2"], res["hwm2"] = status(pid, "VmRSS"), status(pid, "VmHWM")
        fams = families(last)
        del last
        res["fams"] = {f.decode(): n for f, n in fams.items() if not f.startswith(SELF)}
        res["series_obj"] = sum(res["fams"].values())
        res["series_self"] = self_series(fams)
        res["self_fams"] = {f.decode(): n for f, n in fams.items() if f.startswith(SELF)}
        if telemetry:
            # KSM's self families are on its telemetry port
            code, t = get(telemetry, "/metrics")
            if code != 200:
                sys.exit(f"{name}: telemetry /metrics answers HTTP {code}")
            tf = families(t)
            res["series_self"] = self_series(tf)
            res["self_fams"] = {f.decode(): n for f, n in tf.items() if f.startswith(SELF)}
        if name.startswith("k8smon"):
            _, s = get(port, "/metrics/self")
            for metric in self_metrics:
                m = re.search(rb"^" + re.escape(metric.encode()) + rb"(?:\{[^}]*\})? (\S+)", s, re.M)
                res[metric] = float(m.group(1)) if m else None
            res["store"] = res.get("k8smon_kube_state_store_bytes") or 0.0
        res["load_end"] = os.getloadavg()[0]
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return res


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    cluster, kc, k8smon, ksm, pods, scrapes, out = sys.argv[1:8]
    only = sys.argv[8] if len(sys.argv) > 8 else ""
    pods, scrapes = int(pods), int(scrapes)
    resources = set()
    nobj = 0
    with open(cluster, "rb") as f:
        for line in f:
            resources.add(line[:line.index(b"\t")].decode().split("/")[-1])
            nobj += 1
    runs = {}
    saved = os.path.join(out, "result.json")

    def save():
        with open(saved, "w") as f:
            json.dump(runs, f, indent=1)

    if only in ("", "k8smon"):
        kp = free_port()
        runs["k8smon"] = measure("k8smon", [
            k8smon, "-promscrape.kubernetes", f"-kubeconfig={kc}", "-nodeName=bench-node",
            "-leaderElection=false", "-promscrape.kubernetes.collectors=kube-state",
            f"-httpListenAddr=127.0.0.1:{kp}"], kp, "/metrics/kube-state", pods, scrapes,
            os.path.join(out, "k8smon.log"))
        save()
    if only in ("", "ksm"):
        kp, tp = free_port(), free_port()
        # The same resources as k8smon's default (every kind KSM knows plus
        # endpoints): the static server answers the kinds without objects
        # with empty lists, so both watch the same 33 resources.
        kinds = KSM_KINDS
        runs["ksm"] = measure("ksm", [
            ksm, f"--kubeconfig={kc}", "--host=127.0.0.1", f"--port={kp}",
            "--telemetry-host=127.0.0.1", f"--telemetry-port={tp}", "--enable-gzip-encoding",
            # its default 1 min write timeout cuts a 100k-pod gzip scrape on
            # a loaded machine (IncompleteRead): the benchmark wants the
            # whole scrape's cost
            "--server-write-timeout=30m",
            "--resources=" + ",".join(kinds)], kp, "/metrics", pods, scrapes,
            os.path.join(out, "ksm.log"), telemetry=tp)
        save()
    a, b = runs.get("k8smon"), runs.get("ksm")

    def row(label, key, scale=1.0, fmt="{:.0f}", unit=""):
        va = a[key] / scale if a and key in a else None
        vb = b[key] / scale if b and key in b else None
        sa = fmt.format(va) + unit if va is not None else "-"
        sb = fmt.format(vb) + unit if vb is not None else "-"
        r = f"{va / vb:.3f}" if va is not None and vb else "-"
        print(f"| {label} | {sa} | {sb} | {r} |")

    print(f"objects: {nobj} in {len(resources)} resources; pods {pods}; "
          f"scrape averages of {scrapes}; load {os.getloadavg()[0]:.1f}")
    print("| metric | k8smon | KSM | k8smon / KSM |")
    print("|---|---|---|---|")
    row("time to first complete scrape", "first", 1, "{:.1f}", " s")
    row("CPU until then", "first_cpu", 1, "{:.1f}", " s")
    row("VmRSS at first complete scrape", "rss1", M, unit=" MiB")
    row("VmHWM at first complete scrape", "hwm1", M, unit=" MiB")
    row(f"VmRSS after {2 * scrapes} scrapes", "rss2", M, unit=" MiB")
    row(f"VmHWM after {2 * scrapes} scrapes", "hwm2", M, unit=" MiB")
    row("full scrape CPU, plain", "plain_cpu", 1, "{:.3f}", " s")
    row("full scrape CPU, gzip", "gz_cpu", 1, "{:.3f}", " s")
    row("full scrape wall, plain", "plain_wall", 1, "{:.3f}", " s")
    row("full scrape wall, gzip", "gz_wall", 1, "{:.3f}", " s")
    row("bytes per scrape, plain", "plain_bytes", M, "{:.1f}", " MiB")
    row("bytes per scrape, gzip", "gz_bytes", M, "{:.1f}", " MiB")
    row("series in the first complete scrape (all)", "series")
    row("series after the scrapes: object families", "series_obj")
    row("series after the scrapes: kube_state_metrics_* (KSM: telemetry port)", "series_self")
    if a and b:
        fa, fb = a["fams"], b["fams"]
        diff = sorted(f for f in set(fa) | set(fb) if fa.get(f, 0) != fb.get(f, 0))
        for f in diff:
            print(f"object family {f}: k8smon {fa.get(f, 0)} series, KSM {fb.get(f, 0)}")
        if not diff:
            print(f"object families: the same {len(fa)} families, the same series count in each")
        for who, r in (("k8smon /metrics/kube-state", a), ("KSM telemetry port", b)):
            print(f"self families, {who}: " + ", ".join(
                f"{f[len(SELF):]} {n}" for f, n in sorted(r["self_fams"].items())))
    if a and "store" in a:
        print(f"k8smon kube-state store: {a['store'] / M:.1f} MiB = {a['store'] / nobj:.0f} B/object")


# ---- kube-state sharding (issue 21): bench/kube_state.sh with SHARD=1 ----

AGENT_NS = "k8smon"


def cluster_pods(cluster):
    """(pods in all, {nodeName: pods}, pods with no node) of a cluster file."""
    node = re.compile(rb'"nodeName":"([^"]*)"')
    per = collections.Counter()
    with open(cluster, "rb") as f:
        for line in f:
            if line.startswith(b"v1/pods\t"):
                m = node.search(line)
                per[m.group(1).decode() if m else ""] += 1
    nodes = sum(1 for line in open(cluster, "rb") if line.startswith(b"v1/nodes\t"))
    return sum(per.values()), per, per.pop("", 0), nodes


def uncovered_nodes(cluster):
    """Nodes whose agent pod (kube_state_gen.py --agents) is not Ready."""
    out = set()
    with open(cluster, "rb") as f:
        for line in f:
            if line.startswith(b"v1/pods\t") and b'"uid":"agent-uid-' in line:
                p = json.loads(line.split(b"\t", 1)[1])
                if not any(c["type"] == "Ready" and c["status"] == "True"
                           for c in p["status"]["conditions"]):
                    out.add(p["spec"]["nodeName"])
    return out


def has_flag(binary, flag):
    r = subprocess.run([binary, "-help"], capture_output=True)
    return flag.encode() in r.stdout + r.stderr


def count_info(body, family):
    return body.count(b"\n" + family + b"{") + body.startswith(family + b"{")


def shard_main(args):
    """SHARD=1 bench/kube_state.sh: the leader at full size in podSharding=leader
    and =node (every node has a Ready agent pod), then per node size one node
    agent in node mode, the same agent in leader mode (a follower: the agent
    without pod state) and kube-state-metrics --node=<node> --resources=pods."""
    cluster, kc, k8smon, ksm, scrapes, agent_scrapes, out, sizes = args[:8]
    only = args[8] if len(args) > 8 else ""
    scrapes, agent_scrapes = int(scrapes), int(agent_scrapes)
    sizes = [int(x) for x in sizes.split(",") if x]
    total, per_node, unscheduled, nodes = cluster_pods(cluster)
    uncovered = uncovered_nodes(cluster)
    sharding = has_flag(k8smon, "kubeState.podSharding")
    runs = {}
    saved = os.path.join(out, "result-shard.json")

    def save():
        with open(saved, "w") as f:
            json.dump(runs, f, indent=1)

    def k8smon_argv(port, node, mode, elect):
        a = [k8smon, "-promscrape.kubernetes", f"-kubeconfig={kc}", f"-nodeName={node}",
             "-promscrape.kubernetes.collectors=kube-state", f"-httpListenAddr=127.0.0.1:{port}"]
        if not elect:
            a.append("-leaderElection=false")
        if sharding:
            a.append(f"-kubeState.podSharding={mode}")
        return a

    def agent_env(node):
        return {"POD_NAME": f"k8smon-{node}", "POD_NAMESPACE": AGENT_NS}

    def pods_done(want, also=None):
        """Exactly want kube_pod_info series (and also(body))."""
        def done(code, body, _port):
            return code == 200 and count_info(body, b"kube_pod_info") == want and \
                (also is None or also(body))
        return done

    extra = ("k8smon_kube_state_store_bytes", "k8smon_kube_state_pods_emitted",
             "k8smon_kube_state_uncovered_nodes", "k8smon_leader")
    leader_node = "node-00000"
    # 1. the leader (no election: it is the Lease holder), itself the agent of node-00000
    for mode in ("leader", "node") if only in ("", "leader") else ():
        if mode == "node" and not sharding:
            print(f"{k8smon} has no -kubeState.podSharding: node mode not measured", file=sys.stderr)
            break
        # node mode: the pods with no node, its own node's, the uncovered nodes'
        want = total if mode == "leader" else \
            unscheduled + sum(per_node[x] for x in uncovered | {leader_node})
        port = free_port()
        runs[f"leader:{mode}"] = measure(
            "k8smon", k8smon_argv(port, leader_node, mode, False), port, "/metrics/kube-state", 0,
            scrapes, os.path.join(out, f"leader-{mode}.log"),
            done=pods_done(want, lambda b: count_info(b, b"kube_node_info") == nodes),
            env=agent_env(leader_node), self_metrics=extra)
        runs[f"leader:{mode}"]["want_pods"] = want
        save()
    # KSM's counterpart of the node-mode leader (its DaemonSet mode needs two
    # more instances): every kind but pods, and the pods with no node
    if ksm != "none" and only in ("", "leader"):
        counts = collections.Counter(line[:line.index(b"\t")].decode().split("/")[-1]
                                     for line in open(cluster, "rb"))
        created = {"nodes": b"kube_node_created", "namespaces": b"kube_namespace_created",
                   "deployments": b"kube_deployment_created",
                   "replicasets": b"kube_replicaset_created", "daemonsets": b"kube_daemonset_created"}

        def rest_done(code, body, _port):
            return code == 200 and all(count_info(body, f) == counts[r] for r, f in created.items())
        kp, tp = free_port(), free_port()
        runs["ksm:rest"] = measure("ksm", [
            ksm, f"--kubeconfig={kc}", "--host=127.0.0.1", f"--port={kp}",
            "--telemetry-host=127.0.0.1", f"--telemetry-port={tp}", "--enable-gzip-encoding",
            "--server-write-timeout=30m", "--resources=" + ",".join(k for k in KSM_KINDS if k != "pods")],
            kp, "/metrics", 0, scrapes, os.path.join(out, "ksm-rest.log"), telemetry=tp, done=rest_done)
        save()
        kp, tp = free_port(), free_port()
        runs["ksm:unscheduled"] = measure("ksm", [
            ksm, f"--kubeconfig={kc}", "--host=127.0.0.1", f"--port={kp}",
            "--telemetry-host=127.0.0.1", f"--telemetry-port={tp}", "--enable-gzip-encoding",
            "--resources=pods", "--track-unscheduled-pods"], kp, "/metrics", 0, agent_scrapes,
            os.path.join(out, "ksm-unscheduled.log"), telemetry=tp, done=pods_done(unscheduled),
            poll=0.1)
        save()
    # 2. per-agent cost: node-0000i holds sizes[i] pods (kube_state_gen.py --node-pods)
    for i, n in enumerate(sizes if only in ("", "agents") else ()):
        node = "node-%05d" % i
        if per_node[node] != n:
            sys.exit(f"{cluster}: {node} has {per_node[node]} pods, not {n} (--node-pods)")
        if sharding:
            port = free_port()
            runs[f"agent:node:{n}"] = measure(
                "k8smon", k8smon_argv(port, node, "node", True), port, "/metrics/kube-state", 0,
                agent_scrapes, os.path.join(out, f"agent-node-{n}.log"), done=pods_done(n),
                env=agent_env(node), self_metrics=extra, poll=0.1)
            save()

        def follower(code, _body, port):
            # today's agent: a follower, its node's pods listed (the scrape
            # manager's watch), nothing on /metrics/kube-state
            _, s = get(port, "/metrics/self")
            return code == 200 and b'k8smon_leader{lease="k8smon/k8smon"} 0' in s and \
                b'k8smon_kube_requests_total{verb="LIST",resource="pods",code="200"}' in s
        port = free_port()
        runs[f"agent:leader:{n}"] = measure(
            "k8smon", k8smon_argv(port, node, "leader", True), port, "/metrics/kube-state", 0,
            agent_scrapes, os.path.join(out, f"agent-leader-{n}.log"), done=follower,
            env=agent_env(node), self_metrics=extra, poll=0.1)
        save()
        if ksm != "none":
            kp, tp = free_port(), free_port()
            runs[f"ksm:{n}"] = measure("ksm", [
                ksm, f"--kubeconfig={kc}", "--host=127.0.0.1", f"--port={kp}",
                "--telemetry-host=127.0.0.1", f"--telemetry-port={tp}", "--enable-gzip-encoding",
                f"--node={node}", "--resources=pods"], kp, "/metrics", 0, agent_scrapes,
                os.path.join(out, f"ksm-{n}.log"), telemetry=tp, done=pods_done(n), poll=0.1)
            save()
    print_shard(runs, total, unscheduled, nodes, uncovered, sizes, scrapes, agent_scrapes)


def print_shard(runs, total, unscheduled, nodes, uncovered, sizes, scrapes, agent_scrapes):
    def val(r, key, scale):
        return r[key] / scale if r and r.get(key) is not None else None

    def fmt(v, f, unit):
        return f.format(v) + unit if v is not None else "-"

    def table(head, cols, rows, ratio):
        print("| metric | " + " | ".join(head) + " | " + ratio[2] + " |")
        print("|---" * (len(head) + 2) + "|")
        for label, key, scale, f, unit in rows:
            vs = [val(runs.get(c), key, scale) for c in cols]
            a, b = vs[ratio[0]], vs[ratio[1]]
            r = f"{a / b:.3f}" if a is not None and b else "-"
            print(f"| {label} | " + " | ".join(fmt(v, f, unit) for v in vs) + f" | {r} |")

    rows = [
        ("time to first complete scrape", "first", 1, "{:.1f}", " s"),
        ("CPU until then", "first_cpu", 1, "{:.2f}", " s"),
        ("VmRSS at first complete scrape", "rss1", M, "{:.1f}", " MiB"),
        ("VmHWM at first complete scrape", "hwm1", M, "{:.1f}", " MiB"),
        ("VmRSS after the scrapes", "rss2", M, "{:.1f}", " MiB"),
        ("VmHWM after the scrapes", "hwm2", M, "{:.1f}", " MiB"),
        ("scrape CPU, plain", "plain_cpu", 1e-3, "{:.2f}", " ms"),
        ("scrape CPU, gzip", "gz_cpu", 1e-3, "{:.2f}", " ms"),
        ("scrape wall, plain", "plain_wall", 1e-3, "{:.2f}", " ms"),
        ("bytes per scrape, plain", "plain_bytes", 1, "{:,.0f}", ""),
        ("bytes per scrape, gzip", "gz_bytes", 1, "{:,.0f}", ""),
        ("series (after the scrapes, object families)", "series_obj", 1, "{:,.0f}", ""),
        ("k8smon_kube_state_pods_emitted", "k8smon_kube_state_pods_emitted", 1, "{:,.0f}", ""),
        ("k8smon_kube_state_uncovered_nodes (first sample)", "k8smon_kube_state_uncovered_nodes", 1,
         "{:,.0f}", ""),
        ("kube-state store", "store", M, "{:.1f}", " MiB"),
        ("load average at the start of the run", "load_start", 1, "{:.1f}", ""),
        ("load average at the end of the run", "load_end", 1, "{:.1f}", ""),
    ]
    print(f"cluster: {nodes} nodes, {total} pods ({unscheduled} with no node), an agent pod per "
          f"node, {len(uncovered)} of them not Ready (uncovered nodes); scrape averages of "
          f"{scrapes} (leader) and {agent_scrapes} (agents)")
    print("\nThe leader (the Lease holder, also node-00000's agent)")
    a, b = runs.get("ksm:rest"), runs.get("ksm:unscheduled")
    if a and b:
        runs["ksm:sum"] = {k: a[k] + b[k] for k in a if k in b and isinstance(a[k], (int, float))
                           and not k.startswith("load") and k != "first"}
        runs["ksm:sum"]["first"] = max(a["first"], b["first"])
    if "leader:leader" in runs:
        table(["podSharding=leader", "podSharding=node", "KSM: every kind but pods",
           "KSM: --resources=pods --track-unscheduled-pods", "KSM: the two"],
              ["leader:leader", "leader:node", "ksm:rest", "ksm:unscheduled", "ksm:sum"], rows,
              (1, 0, "node / leader"))
    r = runs.get("leader:node"), runs.get("ksm:sum")
    if all(r):
        print("k8smon node-mode leader / KSM's two: " + ", ".join(
            f"{k} {r[0][k] / r[1][k]:.3f}" for k in ("rss2", "hwm2", "plain_cpu", "gz_cpu",
                                                      "plain_bytes", "series_obj") if r[1].get(k)))
    for n in sizes if any(k.startswith("agent:") for k in runs) else ():
        print(f"\nOne node agent, {n} pods on its node (k8smon: a follower)")
        table(["k8smon, podSharding=node", "k8smon, podSharding=leader (no pod state)",
               "KSM --node --resources=pods"], [f"agent:node:{n}", f"agent:leader:{n}", f"ksm:{n}"],
              rows, (0, 2, "k8smon node / KSM"))
        a, b = runs.get(f"agent:node:{n}"), runs.get(f"ksm:{n}")
        if a and b:
            fa, fb = a["fams"], b["fams"]
            diff = sorted(f for f in set(fa) | set(fb) if fa.get(f, 0) != fb.get(f, 0))
            for f in diff:
                print(f"object family {f}: k8smon {fa.get(f, 0)} series, KSM {fb.get(f, 0)}")
            if not diff:
                print(f"object families: the same {len(fa)} families, the same series count in each")


if __name__ == "__main__":
    if sys.argv[1:2] == ["shard"]:
        shard_main(sys.argv[2:])
    else:
        main()

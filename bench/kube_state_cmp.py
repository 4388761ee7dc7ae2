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


def measure(name, argv, port, path, pods, scrapes, log, telemetry=None):
    with open(log, "wb") as lf:
        t0 = time.time()
        proc = subprocess.Popen(argv, stdout=lf, stderr=subprocess.STDOUT)
    pid = proc.pid
    res = {}
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
                if code == 200 and body.count(b"\nkube_pod_info{") >= pods:
                    break
            except OSError:
                pass
            time.sleep(1)
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
        if name == "k8smon":
            _, s = get(port, "/metrics/self")
            m = re.search(rb"^k8smon_kube_state_store_bytes (\S+)", s, re.M)
            res["store"] = float(m.group(1)) if m else 0.0
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
        kinds = ("certificatesigningrequests configmaps cronjobs daemonsets deployments "
                 "endpoints endpointslices horizontalpodautoscalers ingresses jobs leases "
                 "limitranges mutatingadmissionpolicies mutatingadmissionpolicybindings "
                 "mutatingwebhookconfigurations namespaces networkpolicies nodes "
                 "persistentvolumeclaims persistentvolumes poddisruptionbudgets pods "
                 "replicasets replicationcontrollers resourcequotas secrets services "
                 "statefulsets storageclasses validatingadmissionpolicies "
                 "validatingadmissionpolicybindings validatingwebhookconfigurations "
                 "volumeattachments").split()
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


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Reconfiguration latency: time from a K8sMonitor write (PATCH answered by the
API server) to the change being visible on the agent's /metrics/kube-state,
over N changes, while a second thread scrapes /metrics continuously and counts
failed requests. Usage: reconfig.py STATE_DIR AGENT_URL N

K8SMON_RECONFIG_MIXED=1 (the ASan leak run): every change also varies the
interval, kubeState resources / metric allow- and denylists, node options and a
ScrapeRule's annotation prefix, and every 10th change is preceded by an invalid
spec (rejected, InvalidSpec status) -- so every path of the configuration build
and swap runs N times.

K8SMON_RECONFIG_INTERVAL=1: every change also toggles spec.interval (20s /
30s), and its effect is the kube-state change plus every app target in
/api/v1/targets showing the new scrapeInterval. (That targets keep their
series across such a change is tests/integration/test_scrape_interval_keep.sh:
the example cluster's targets are not reachable, so they have no series.)"""
import os
import json
import ssl
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request

state, agent, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
srv = json.load(open(f"{state}/api/server.json"))
ctx = ssl.create_default_context(cafile=srv["ca"])
MON = f'{srv["url"]}/apis/k8smon.io/v1alpha1/k8smonitors'
SR = f'{srv["url"]}/apis/k8smon.io/v1alpha1/namespaces/shop/scraperules'
MIXED = os.environ.get("K8SMON_RECONFIG_MIXED") == "1"
INTERVAL = os.environ.get("K8SMON_RECONFIG_INTERVAL") == "1"


def api(method, url, body=None, ctype="application/json"):
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None)
    req.add_header("Authorization", "Bearer " + srv["token"])
    req.add_header("Content-Type", ctype)
    with urllib.request.urlopen(req, context=ctx) as r:
        return json.load(r)


def scrape(path):
    with urllib.request.urlopen(agent + path, timeout=10) as r:
        return r.status, r.read().decode()


stop = False
poll = {"ok": 0, "failed": 0}


def poller():
    while not stop:
        try:
            status, _ = scrape("/metrics")
            poll["ok" if status == 200 else "failed"] += 1
        except Exception:  # noqa: BLE001 - any failure counts
            poll["failed"] += 1


try:
    api("POST", MON, {"apiVersion": "k8smon.io/v1alpha1", "kind": "K8sMonitor",
                      "metadata": {"name": "bench"}, "spec": {"excludeNamespaces": []}})
except urllib.error.HTTPError as e:  # a second run against the same agent
    if e.code != 409:
        raise
    api("PATCH", MON + "/bench", {"spec": {"excludeNamespaces": []}}, "application/merge-patch+json")
if MIXED:
    # The mixed run sends specs the CRD forbids ("15", "Bad") on purpose: the fake
    # stands in for an older, looser CRD (no schema checks) so the agent's own
    # validation and last-good handling get them.
    api("POST", srv["url"] + "/_fake/fault", {"action": "cr_validation", "enabled": False})
    api("POST", SR, {"apiVersion": "k8smon.io/v1alpha1", "kind": "ScrapeRule",
                     "metadata": {"name": "bench", "namespace": "shop"}, "spec": {"annotationPrefix": "prometheus.io"}})
time.sleep(1)
t = threading.Thread(target=poller, daemon=True)
t.start()
lat = []
targets_seen = 0


def all_at(iv):
    _, body = scrape("/api/v1/targets")
    active = json.loads(body)["data"]["activeTargets"]
    return bool(active) and all(t["scrapeInterval"] == iv for t in active), len(active)


for i in range(n):
    excluded = i % 2 == 0
    spec = {"spec": {"excludeNamespaces": ["shop"] if excluded else []}}
    if INTERVAL:
        iv = "20s" if i % 2 == 0 else "30s"
        spec["spec"]["interval"] = iv
    if MIXED:
        if i % 10 == 0:
            api("PATCH", MON + "/bench", {"spec": {"interval": "15", "kubeState": {"metricAllowlist": ["["]}}},
                "application/merge-patch+json")
        spec["spec"]["interval"] = "%ds" % (10 + i % 7)
        spec["spec"]["kubeState"] = ({"resources": ["pods", "namespaces", "nodes"], "metricDenylist": ["kube_pod_status_.*"],
                                      "metricAllowlist": None, "labelsAllowlist": {"pods": ["app"]}}
                                     if i % 3 == 0 else
                                     {"resources": None, "metricDenylist": None, "metricAllowlist": ["kube_pod_.*", "kube_node_.*"],
                                      "labelsAllowlist": None})
        spec["spec"]["node"] = {"netdevExclude": "^lo$"} if i % 2 else None
        api("PATCH", SR + "/bench", {"spec": {"annotationPrefix": "prometheus.io" if i % 2 else "victoriametrics.com",
                                              "interval": "Bad" if i % 10 == 5 else "%ds" % (5 + i % 3)}},
            "application/merge-patch+json")
    api("PATCH", MON + "/bench", spec, "application/merge-patch+json")
    t0 = time.monotonic()
    while True:
        _, body = scrape("/metrics/kube-state")
        has_shop = 'kube_pod_info{namespace="shop"' in body
        done = has_shop != excluded
        if INTERVAL:
            at, targets_seen = all_at(iv)
            done = done and at
        if done:
            break
        # A correctness bound, not a latency one (latency is what this prints):
        # under ASan on a loaded 2-core machine a change has taken over 10 s.
        if time.monotonic() - t0 > 60:
            print(f"change {i} not visible after 60 s", file=sys.stderr)
            sys.exit(1)
        time.sleep(0.002)
    lat.append((time.monotonic() - t0) * 1000)
stop = True
t.join()
lat.sort()
p99 = lat[min(len(lat) - 1, int(round(0.99 * len(lat))) - 1)]
print(json.dumps({"changes": n, "p50_ms": round(statistics.median(lat), 1), "p99_ms": round(p99, 1),
                  "max_ms": round(lat[-1], 1), "concurrent_scrapes_ok": poll["ok"],
                  "concurrent_scrapes_failed": poll["failed"],
                  **({"interval_changes": True, "app_targets": targets_seen} if INTERVAL else {})}))

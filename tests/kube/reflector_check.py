#!/usr/bin/env python3
"""Convergence test for the reflector: a seeded random stream of >= 1000 pod
changes interleaved with injected faults (dropped/aborted watches, 410s as
ERROR events and as HTTP status, 500s, 429s, garbage lines, stalled
responses, watches gone silent, a new RV epoch). At the end kubewatch's
store must equal the fake server's objects exactly (key -> resourceVersion)
and no event may have been applied twice or out of order (kubewatch counts violations: an add of a present object, an
update/delete of an absent one, an add/update whose resourceVersion is not
newer than the last one seen for that object). Watch restarts are bounded
by the faults injected (a reflector that loops re-watching fails even when
its store converges). Then, K times: the server compacts past the
reflector's resourceVersion so that its next watch gets an in-stream ERROR
410 (HTTP 200); each time the reflector must relist (relists counter up,
a LIST seen by the server) and pick up a pod created after the compaction,
with few watch restarts.

usage: reflector_check.py KUBEWATCH [--seed N] [--changes N]"""
import argparse
import random
import sys
import time

from kubetest import Fake, Watcher, log, metric_value


def pod(ns, name, node, gen):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": {"gen": str(gen)}},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}]}}


def expected(fake, node=None):
    items = fake.objects("pods")["items"]
    out = {}
    for o in items:
        if node is not None and o.get("spec", {}).get("nodeName") != node:
            continue
        m = o["metadata"]
        out["%s/%s" % (m["namespace"], m["name"])] = m["resourceVersion"]
    return out


def list_requests(fake):
    _, rq = fake.req("GET", "/_fake/requests", auth=False)
    return sum(1 for r in rq["log"] if r["method"] == "GET" and r["path"] == "/api/v1/pods" and not r["watch"])


def check_410_relists(fake, w, rounds=5):
    """Each in-stream ERROR 410 is followed by a relist (polled, 60 s bound)."""
    ok = True
    m = w.metrics()
    restarts0 = metric_value(m, "k8smon_kube_watch_restarts_total")
    for k in range(rounds):
        m = w.metrics()
        relists0 = metric_value(m, "k8smon_kube_relists_total")
        lists0 = list_requests(fake)
        st, body = fake.req("GET", "/api/v1/pods?limit=1")
        assert st == 200, st
        rv = int(body["metadata"]["resourceVersion"])
        # Watches from an RV below rv+1 get ERROR 410 in the stream; the pod
        # created next has rv+1, so the relist's RV is fresh enough.
        fake.fault(action="expire", rv=rv + 1)
        name = "after-410-%d" % k
        st, _ = fake.req("POST", "/api/v1/namespaces/ns-a/pods", pod("ns-a", name, "n1", 0))
        assert st == 201, st
        deadline = time.time() + 60
        while True:
            relists = metric_value(w.metrics(), "k8smon_kube_relists_total")
            d = w.dump()
            if relists > relists0 and "ns-a/" + name in d["objects"].get("pods", {}) and d["synced"]:
                break
            if time.time() > deadline:
                log("%s: in-stream ERROR 410 #%d: no relist within 60 s (relists %d -> %d, pod seen: %s)" % (
                    w.name, k + 1, relists0, relists, "ns-a/" + name in d["objects"].get("pods", {})))
                return False
            time.sleep(0.2)
        if list_requests(fake) <= lists0:
            log("%s: in-stream ERROR 410 #%d: the server saw no LIST" % (w.name, k + 1))
            ok = False
    restarts = metric_value(w.metrics(), "k8smon_kube_watch_restarts_total") - restarts0
    # One restart per 410 (the watch that got it), a few more for bookmarks
    # and timeouts while polling; a reflector that re-watches in a loop makes
    # thousands.
    if restarts > 4 * rounds + 10:
        log("%s: %d watch restarts for %d in-stream 410s (bound %d)" % (w.name, restarts, rounds, 4 * rounds + 10))
        ok = False
    log("%s: %d in-stream ERROR 410s, each followed by a relist; %d watch restarts" % (w.name, rounds, restarts))
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kubewatch")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--changes", type=int, default=1200)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    fake = Fake("--bookmark-interval", "1", "--history", "300")
    ok = True
    watchers = []
    try:
        for ns in ("ns-a", "ns-b", "ns-c"):
            fake.req("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        # Some objects before the start so the first list is paginated
        # (--page-size 7).
        live = {}
        for i in range(30):
            ns, name = rnd.choice(("ns-a", "ns-b", "ns-c")), "pre-%d" % i
            st, _ = fake.req("POST", "/api/v1/namespaces/%s/pods" % ns, pod(ns, name, "n1", 0))
            assert st == 201, st
            live[(ns, name)] = 0
        common = ["--kubeconfig", fake.kubeconfig, "--resource", "v1/pods", "--idle-timeout", "3",
                  "--watch-timeout", "20", "--page-size", "7"]
        allw = Watcher(a.kubewatch, common, "all")
        nodew = Watcher(a.kubewatch, common + ["--field-selector", "spec.nodeName=n1"], "node")
        watchers = [allw, nodew]
        for w in watchers:
            w.expect("SYNCED", 30)
        faults = [
            lambda: fake.fault(action="drop_watches"),
            lambda: fake.fault(action="drop_watches", abort=True),
            lambda: fake.fault(action="expire"),
            # 410 as the HTTP status of the watch (not an ERROR event).
            lambda: fake.fault(action="fail", count=1, code=410, watch=True),
            lambda: fake.fault(action="fail", count=2, code=500, watch=True),
            lambda: fake.fault(action="fail", count=2, code=429, retry_after=1, watch=True),
            lambda: fake.fault(action="fail", count=1, code=500, path="/api/v1/pods", method="GET", watch=False),
            lambda: fake.fault(action="garbage", line="this is not json"),
            lambda: fake.fault(action="stall", seconds=5, count=1, watch=True),
            lambda: fake.fault(action="drop_watches", resource="pods"),
            lambda: fake.fault(action="pause_watches", seconds=5),
        ]
        nfaults = 0
        paused_until = 0.0
        t_start = time.time()
        for i in range(a.changes):
            r = rnd.random()
            if r < 0.3 or not live:
                ns, name = rnd.choice(("ns-a", "ns-b", "ns-c")), "p-%d" % i
                st, _ = fake.req("POST", "/api/v1/namespaces/%s/pods" % ns, pod(ns, name, rnd.choice(("n1", "n2")), 0))
                assert st == 201, st
                live[(ns, name)] = 0
            elif r < 0.75:
                ns, name = rnd.choice(sorted(live))
                live[(ns, name)] += 1
                patch = {"metadata": {"labels": {"gen": str(live[(ns, name)])}}}
                if rnd.random() < 0.2:  # moves between nodes: selector enter/leave
                    patch = {"metadata": {"labels": {"gen": str(live[(ns, name)])}},
                             "spec": {"nodeName": rnd.choice(("n1", "n2"))}}
                st, _ = fake.req("PATCH", "/api/v1/namespaces/%s/pods/%s" % (ns, name), patch,
                                 ctype="application/merge-patch+json")
                assert st == 200, st
            else:
                ns, name = rnd.choice(sorted(live))
                st, _ = fake.req("DELETE", "/api/v1/namespaces/%s/pods/%s" % (ns, name))
                assert st == 200, st
                del live[(ns, name)]
            if rnd.random() < 0.03 and time.time() > paused_until:
                rnd.choice(faults)()
                nfaults += 1
            if i == a.changes // 2:
                fake.fault(action="new_epoch")
                nfaults += 1
            if i == 3 * a.changes // 4:
                fake.fault(action="fail", count=2, code=410, watch=True)
                fake.fault(action="drop_watches")
                nfaults += 1
            if i == a.changes // 4:
                # Both watches go silent (no events, no bookmarks) for longer
                # than --idle-timeout (3 s) plus libcurl's speed window (up
                # to 5 s) while changes keep coming. Wait for both to be open
                # first: a watcher in backoff has nothing to pause.
                fake.fault(action="clear")
                deadline = time.time() + 30
                while time.time() < deadline:
                    st, ws = fake.req("GET", "/_fake/watches", auth=False)
                    if sum(1 for x in ws["watches"] if x["resource"] == "pods") >= 2:
                        break
                    time.sleep(0.2)
                fake.fault(action="pause_watches", seconds=12)
                nfaults += 1
                paused_until = time.time() + 10
            if rnd.random() < 0.01 or time.time() < paused_until:
                time.sleep(rnd.random() * 0.5)
        fake.fault(action="clear")
        log("%d changes, %d faults injected" % (a.changes, nfaults))
        for w, node in ((allw, None), (nodew, "n1")):
            want = expected(fake, node)
            deadline = time.time() + 60
            while True:
                d = w.dump()
                got = d["objects"].get("pods", {})
                if got == want and d["synced"]:
                    break
                if time.time() > deadline:
                    missing = set(want) - set(got)
                    extra = set(got) - set(want)
                    stale = [k for k in want if k in got and got[k] != want[k]]
                    log("%s: NOT CONVERGED: %d missing, %d extra, %d stale" % (w.name, len(missing), len(extra), len(stale)))
                    ok = False
                    break
                time.sleep(0.5)
            if d["violations"]:
                log("%s: %d resourceVersion order violations" % (w.name, d["violations"]))
                ok = False
            m = w.metrics()
            log("%s: %d objects; relists=%d watch_restarts=%d decode_errors=%d events=%d" % (
                w.name, len(got), metric_value(m, "k8smon_kube_relists_total"),
                metric_value(m, "k8smon_kube_watch_restarts_total"),
                metric_value(m, "k8smon_kube_decode_errors_total"),
                metric_value(m, "k8smon_kube_watch_events_total")))
            if metric_value(m, "k8smon_kube_relists_total") < 1 or metric_value(m, "k8smon_kube_watch_restarts_total") < 1:
                log("%s: expected relists and watch restarts to be counted" % w.name)
                ok = False
            # Restarts follow the faults (a few each) and the watch timeout
            # (--watch-timeout 20); a reflector that re-watches in a loop
            # (an ignored ERROR 410) made tens of thousands.
            bound = 6 * nfaults + 2 * int((time.time() - t_start) / 20) + 30
            if metric_value(m, "k8smon_kube_watch_restarts_total") > bound:
                log("%s: %d watch restarts, more than %d for %d faults" % (
                    w.name, metric_value(m, "k8smon_kube_watch_restarts_total"), bound, nfaults))
                ok = False
        if not check_410_relists(fake, allw):
            ok = False
        # Every (re)list went through limit/continue pages.
        _, rq = fake.req("GET", "/_fake/requests", auth=False)
        lists = [r for r in rq["log"] if r["method"] == "GET" and r["path"] == "/api/v1/pods" and not r["watch"]]
        if not any("limit=7" in r["query"] and "continue=" in r["query"] for r in lists):
            log("no paginated LIST (limit=7 with continue) seen by the server")
            ok = False
        for w in watchers:
            rc = w.quit()
            if rc != 0:
                log("%s exited with %s" % (w.name, rc))
                ok = False
            err = w.stderr()
            if "ERROR: AddressSanitizer" in err or "runtime error" in err or "LeakSanitizer" in err:
                log("%s: sanitizer report:\n%s" % (w.name, err[-4000:]))
                ok = False
            if "watch silent for" not in err:
                log("%s: a watch gone silent was not detected (no log line)" % w.name)
                ok = False
            if "fakeapi-token" in err:
                log("%s: token leaked into the log" % w.name)
                ok = False
    finally:
        for w in watchers:
            if w.p.poll() is None:
                w.p.kill()
        fake.stop()
    print("reflector convergence: %s" % ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

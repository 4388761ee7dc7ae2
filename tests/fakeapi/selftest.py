#!/usr/bin/env python3
"""Self-test of fakeapi.py semantics that clients (our C agent) rely on and kubectl does
not exercise: pagination, selectors, optimistic concurrency, patches, watch resume,
bookmarks, 410, selector transitions, faults, new epochs, TokenReview/SAR.

Starts its own fakeapi (TLS + token) on a free port; prints one line per check; exit 1
on failure.  Usage: python3 tests/fakeapi/selftest.py
"""
import http.client
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
TOKEN = "selftest-token"
failures = 0


def check(name, cond, detail=""):
    global failures
    if cond:
        print("ok   - %s" % name)
    else:
        failures += 1
        print("FAIL - %s %s" % (name, detail))


class Client(object):
    def __init__(self, url, ca, token):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.ctx = ssl.create_default_context(cafile=ca)
        self.token = token

    def conn(self, timeout=30):
        return http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=timeout)

    def req(self, method, path, body=None, ct="application/json", headers=None, token=True):
        h = {}
        if token:
            h["Authorization"] = "Bearer " + self.token
        h.update(headers or {})
        if body is not None:
            h["Content-Type"] = ct
            if not isinstance(body, (bytes, str)):
                body = json.dumps(body)
        c = self.conn()
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        try:
            data = json.loads(data)
        except ValueError:
            pass
        return r.status, data, r

    def ctl(self, body):
        return self.req("POST", "/_fake/fault", body, token=False)[1]

    def wait_watches(self, n, secs=30):
        """Until n pod watches are open (a fixed sleep loses events on a loaded machine)."""
        deadline = time.time() + secs
        while time.time() < deadline:
            st, ws, _ = self.req("GET", "/_fake/watches", token=False)
            if st == 200 and sum(1 for x in ws["watches"] if x["resource"] == "pods") >= n:
                return True
            time.sleep(0.05)
        return False

    def watch(self, path, seconds):
        """Collect watch events for up to `seconds`; returns (status, [events or raw lines])."""
        c = self.conn(timeout=seconds + 10)
        c.request("GET", path, headers={"Authorization": "Bearer " + self.token})
        r = c.getresponse()
        out = []
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                line = r.readline()
            except Exception as e:       # aborted stream
                out.append(("EXC", repr(e)))
                break
            if not line:
                break
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append(("RAW", line))
        c.close()
        return r.status, out


def pod(name, ns="t", labels=None, node="n1", phase="Running"):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}]},
            "status": {"phase": phase}}


def names(items):
    return [i["metadata"]["name"] for i in items]


def main():
    tmp = tempfile.mkdtemp(prefix="fakeapi-selftest-")
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "fakeapi.py"), "--port", "0",
                             "--state-dir", tmp, "--token", TOKEN, "--bookmark-interval", "0.3",
                             "--history", "50", "--user", "tok-bob=bob:devs"],
                            stdout=subprocess.PIPE, universal_newlines=True)
    try:
        line = proc.stdout.readline()
        check("server prints READY <url>", line.startswith("READY https://"), line)
        url = line.split()[1]
        c = Client(url, os.path.join(tmp, "ca.crt"), TOKEN)
        run(c)
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print("# selftest: %d failure(s)" % failures)
    return 1 if failures else 0


def run(c):
    s, d, _ = c.req("GET", "/api/v1/pods", token=False)
    check("no token -> 401 Status", s == 401 and d.get("reason") == "Unauthorized", d)

    for i in range(12):
        s, d, _ = c.req("POST", "/api/v1/namespaces/t/pods",
                        pod("p%02d" % i, labels={"app": "a%d" % (i % 3)}, node="n%d" % (i % 2)))
    check("create -> 201 with server metadata", s == 201 and d["metadata"].get("uid")
          and d["metadata"].get("resourceVersion") and d["metadata"].get("generation") == 1
          and d["metadata"].get("creationTimestamp"), d)
    s, d, _ = c.req("POST", "/api/v1/namespaces/t/pods", pod("p00"))
    check("duplicate create -> 409 AlreadyExists", s == 409 and d["reason"] == "AlreadyExists", d)

    # pagination
    got, cont, rvs = [], None, set()
    while True:
        s, d, _ = c.req("GET", "/api/v1/namespaces/t/pods?limit=5" + ("&continue=" + cont if cont else ""))
        got += names(d["items"])
        rvs.add(d["metadata"]["resourceVersion"])
        cont = d["metadata"].get("continue")
        if not cont:
            break
    check("limit/continue returns every item once, one RV", got == sorted(got) and len(got) == 12 and len(rvs) == 1,
          (got, rvs))
    s, d, _ = c.req("GET", "/api/v1/namespaces/t/pods?limit=5")
    tok = d["metadata"]["continue"]
    c.ctl({"action": "expire"})
    s, d, _ = c.req("GET", "/api/v1/namespaces/t/pods?limit=5&continue=" + tok)
    check("expired continue -> 410 Expired", s == 410 and d["reason"] == "Expired", d)

    s, d, _ = c.req("GET", "/api/v1/namespaces/t/pods?limit=5&resourceVersion=1")
    check("list with limit and compacted RV -> 410", s == 410 and d["reason"] == "Expired", d)
    s, d, _ = c.req("GET", "/api/v1/namespaces/t/pods?resourceVersion=1")
    check("list with compacted RV, no limit -> served (not-older-than)", s == 200 and len(d["items"]) == 12, s)
    s, d, _ = c.req("GET", "/api/v1/namespaces/t/pods?resourceVersion=999999999")
    check("list with future RV -> 504 Too large", s == 504, d)

    # selectors
    s, d, _ = c.req("GET", "/api/v1/pods?labelSelector=app%3Da1&fieldSelector=spec.nodeName%3Dn1")
    check("label+field selector", names(d["items"]) == ["p01", "p07"], names(d["items"]))
    s, d, _ = c.req("GET", "/api/v1/pods?labelSelector=app+in+(a0,a2),app!=a2")
    check("set selector", names(d["items"]) == ["p00", "p03", "p06", "p09"], names(d["items"]))
    s, d, _ = c.req("GET", "/api/v1/namespaces/t/pods?fieldSelector=metadata.name!%3Dp00,status.phase%3DRunning")
    check("field selector != and status.phase", len(d["items"]) == 11, names(d["items"]))

    # optimistic concurrency + generation
    s, cur, _ = c.req("GET", "/api/v1/namespaces/t/pods/p00")
    upd = json.loads(json.dumps(cur))
    upd["spec"]["nodeName"] = "n9"
    s, d, _ = c.req("PUT", "/api/v1/namespaces/t/pods/p00", upd)
    check("PUT with current RV -> 200, generation+1", s == 200 and d["metadata"]["generation"] == 2, d)
    s, d, _ = c.req("PUT", "/api/v1/namespaces/t/pods/p00", upd)
    check("PUT with stale RV -> 409 Conflict", s == 409 and d["reason"] == "Conflict", d)
    s, d, _ = c.req("PATCH", "/api/v1/namespaces/t/pods/p00/status", {"status": {"phase": "Failed"}},
                    "application/merge-patch+json")
    check("status patch: status changes, generation kept", s == 200 and d["status"]["phase"] == "Failed"
          and d["metadata"]["generation"] == 2, d)
    rv = d["metadata"]["resourceVersion"]
    s, d, _ = c.req("PATCH", "/api/v1/namespaces/t/pods/p00/status", {"status": {"phase": "Failed"}},
                    "application/merge-patch+json")
    check("no-op patch keeps resourceVersion", d["metadata"]["resourceVersion"] == rv, d)
    s, d, _ = c.req("PATCH", "/api/v1/namespaces/t/pods/p00",
                    [{"op": "add", "path": "/metadata/labels/x", "value": "y"}], "application/json-patch+json")
    check("json patch", s == 200 and d["metadata"]["labels"].get("x") == "y", d)
    s, d, _ = c.req("PATCH", "/apis/coordination.k8s.io/v1/namespaces/t/leases/l?fieldManager=me",
                    {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "spec": {"holderIdentity": "a"}},
                    "application/apply-patch+yaml")
    check("apply patch creates", s == 201 and d["spec"]["holderIdentity"] == "a", d)

    # watch: resume, bookmarks, selector transitions
    s, d, _ = c.req("GET", "/api/v1/namespaces/t/pods")
    rv0 = d["metadata"]["resourceVersion"]
    res = {}

    def bg(key, path, secs):
        res[key] = c.watch(path, secs)

    ths = [threading.Thread(target=bg, args=("rv", "/api/v1/namespaces/t/pods?watch=1&resourceVersion=%s"
                                             "&allowWatchBookmarks=true&timeoutSeconds=2" % rv0, 5)),
           threading.Thread(target=bg, args=("sel", "/api/v1/pods?watch=true&labelSelector=app%3Da1"
                                             "&timeoutSeconds=2", 5)),
           threading.Thread(target=bg, args=("fs", "/api/v1/pods?watch=true&fieldSelector=spec.nodeName%3Dn0"
                                             "&resourceVersion=" + rv0 + "&timeoutSeconds=2", 5))]
    for t in ths:
        t.start()
    c.wait_watches(3)
    c.req("PATCH", "/api/v1/namespaces/t/pods/p01", {"metadata": {"labels": {"app": "zz"}}}, "application/merge-patch+json")
    c.req("PATCH", "/api/v1/namespaces/t/pods/p01", {"metadata": {"labels": {"app": "a1"}}}, "application/merge-patch+json")
    c.req("DELETE", "/api/v1/namespaces/t/pods/p02")
    for t in ths:
        t.join()
    ev = res["rv"][1]
    types = [e["type"] for e in ev]
    nonbm = [e for e in ev if e["type"] != "BOOKMARK"]
    check("watch from RV: no synthetic ADDED, events in order",
          [e["type"] for e in nonbm] == ["MODIFIED", "MODIFIED", "DELETED"], types)
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in nonbm]
    check("watch RVs increase", rvs[:3] == sorted(rvs[:3]) and rvs[0] > int(rv0), rvs)
    bms = [e for e in ev if e["type"] == "BOOKMARK"]
    check("BOOKMARKs sent, carry latest RV, last one at timeout",
          len(bms) >= 3 and types[-1] == "BOOKMARK" and int(bms[-1]["object"]["metadata"]["resourceVersion"]) >= rvs[2]
          and set(bms[-1]["object"]["metadata"]) == {"resourceVersion"} and bms[-1]["object"]["kind"] == "Pod", ev[-1])
    ev = res["sel"][1]
    check("watch without RV: synthetic ADDED first", [e["type"] for e in ev[:4]] == ["ADDED"] * 4, ev[:4])
    check("selector watch: leaving -> DELETED, re-entering -> ADDED",
          [(e["type"], e["object"]["metadata"]["name"]) for e in ev[4:]] == [("DELETED", "p01"), ("ADDED", "p01")],
          ev[4:])
    ev = res["fs"][1]
    check("field-selector watch sees only its node", [(e["type"], e["object"]["metadata"]["name"]) for e in ev] ==
          [("DELETED", "p02")], ev)
    st, ev = c.watch("/api/v1/namespaces/t/pods?watch=1&resourceVersion=%s&timeoutSeconds=1" % rv0, 3)
    check("watch resume from history replays events", [e["type"] for e in ev][:3] == ["MODIFIED", "MODIFIED", "DELETED"],
          ev)
    st, ev = c.watch("/api/v1/namespaces/t/pods?watch=1&sendInitialEvents=true&allowWatchBookmarks=true"
                     "&resourceVersionMatch=NotOlderThan&timeoutSeconds=1", 3)
    check("sendInitialEvents: ADDED then initial-events-end BOOKMARK",
          [e["type"] for e in ev[:12]] == ["ADDED"] * 11 + ["BOOKMARK"] and
          ev[11]["object"]["metadata"].get("annotations", {}).get("k8s.io/initial-events-end") == "true",
          [e["type"] for e in ev])

    # history bound (--history 50) -> compaction
    for i in range(60):
        c.req("PATCH", "/api/v1/namespaces/t/pods/p03", {"metadata": {"annotations": {"n": str(i)}}},
              "application/merge-patch+json")
    st, ev = c.watch("/api/v1/namespaces/t/pods?watch=1&resourceVersion=%s" % rv0, 3)
    check("RV older than bounded history -> ERROR 410 Expired then end",
          st == 200 and len(ev) == 1 and ev[0]["type"] == "ERROR" and ev[0]["object"]["code"] == 410
          and ev[0]["object"]["reason"] == "Expired", ev)

    # faults
    def bg2(key, path, secs):
        res[key] = c.watch(path, secs)
    t = threading.Thread(target=bg2, args=("g", "/api/v1/pods?watch=1&timeoutSeconds=5", 6))
    t.start()
    c.wait_watches(1)
    c.ctl({"action": "garbage", "line": "garbage!"})
    time.sleep(0.2)
    r = c.ctl({"action": "drop_watches"})
    t.join()
    check("garbage line then drop_watches ends the watch early",
          ("RAW", b"garbage!\n") in res["g"][1] and r.get("dropped") == 1, (res["g"][1][-2:], r))
    s, d, _ = c.req("GET", "/api/v1/namespaces/t/pods")
    t = threading.Thread(target=bg2, args=("p", "/api/v1/namespaces/t/pods?watch=1&timeoutSeconds=3"
                                           "&allowWatchBookmarks=true&resourceVersion=%s" % d["metadata"]["resourceVersion"], 6))
    t.start()
    time.sleep(0.3)
    c.ctl({"action": "pause_watches", "seconds": 1.5})
    t0 = time.time()
    c.req("DELETE", "/api/v1/namespaces/t/pods/p11")
    t.join()
    evs = [e for e in res["p"][1] if e["type"] != "BOOKMARK"]
    check("pause_watches: silent, then delivers what queued", [e["type"] for e in evs] == ["DELETED"] and
          len(res["p"][1]) <= 8, res["p"][1])
    c.ctl({"action": "fail", "count": 2, "code": 503, "path": "/api/v1/nodes"})
    codes = [c.req("GET", "/api/v1/nodes")[0] for _ in range(3)]
    check("fail next 2 with 503", codes == [503, 503, 200], codes)
    c.ctl({"action": "fail", "count": 1, "code": 429, "retry_after": 3})
    s, d, r = c.req("GET", "/api/v1/nodes")
    check("429 with Retry-After", s == 429 and r.getheader("Retry-After") == "3", (s, r.getheader("Retry-After")))
    c.ctl({"action": "stall", "count": 1, "seconds": 1.0, "path": "/api/v1/nodes"})
    t0 = time.time()
    c.req("GET", "/api/v1/nodes")
    check("stall delays the response", time.time() - t0 >= 0.9, time.time() - t0)
    s, d, _ = c.req("GET", "/api/v1/namespaces/t/pods")
    rv_e = d["metadata"]["resourceVersion"]
    c.req("PATCH", "/api/v1/namespaces/t/pods/p04", {"metadata": {"annotations": {"e": "1"}}},
          "application/merge-patch+json")
    c.ctl({"action": "expire"})
    st, ev = c.watch("/api/v1/namespaces/t/pods?watch=1&resourceVersion=%s" % rv_e, 3)
    check("expire: watch from an older RV -> ERROR 410 Expired",
          ev and ev[0]["type"] == "ERROR" and ev[0]["object"]["code"] == 410, ev)

    # CRDs: discovery follows create/delete; Table uses additionalPrinterColumns
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {"type": "object",
                                                                 "x-kubernetes-preserve-unknown-fields": True}},
                                  "additionalPrinterColumns": [
                                      {"name": "Size", "type": "integer", "jsonPath": ".spec.size"}]}]}}
    s, d, _ = c.req("GET", "/apis/example.com/v1")
    check("discovery: group absent before its CRD", s == 404, s)
    s, d, _ = c.req("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    s, d, _ = c.req("GET", "/apis/example.com/v1")
    check("discovery: CRD resource appears", s == 200 and
          [r["name"] for r in d.get("resources", []) if r["name"] == "widgets"] == ["widgets"], d)
    s, d, _ = c.req("GET", "/apis")
    check("discovery: /apis lists the CRD group", s == 200 and
          "example.com" in [g["name"] for g in d.get("groups", [])], d)
    c.req("POST", "/apis/example.com/v1/namespaces/t/widgets",
          {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 7}})
    s, d, _ = c.req("GET", "/apis/example.com/v1/namespaces/t/widgets",
                    headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    cols = [x["name"] for x in d.get("columnDefinitions", [])] if s == 200 else []
    cells = d["rows"][0]["cells"] if s == 200 and d.get("rows") else []
    check("Table: CRD printer columns", d.get("kind") == "Table" and "Size" in cols and
          cells and cells[cols.index("Size")] == 7, d)
    c.req("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")
    s, d, _ = c.req("GET", "/apis/example.com/v1")
    check("discovery: CRD resource gone after delete", s == 404, (s, d))
    s, d, _ = c.req("GET", "/api/v1/namespaces/t/pods")
    rv1 = d["metadata"]["resourceVersion"]
    r = c.ctl({"action": "new_epoch", "base": 5000000})
    st, ev = c.watch("/api/v1/namespaces/t/pods?watch=1&resourceVersion=%s" % rv1, 3)
    check("new_epoch: old RV -> 410", ev and ev[0]["type"] == "ERROR" and ev[0]["object"]["code"] == 410, ev)
    s, d, _ = c.req("GET", "/api/v1/namespaces/t/pods")
    check("new_epoch: objects kept, list RV is the new base", len(d["items"]) == 10 and
          d["metadata"]["resourceVersion"] == "5000000", d["metadata"])
    s, d, _ = c.req("GET", "/_fake/objects?resource=pods&namespace=t", token=False)
    check("control dump", len(d["items"]) == 10, d)
    s, d, _ = c.req("GET", "/_fake/requests", token=False)
    check("request log counts", d["verbs"].get("list pods", 0) >= 5 and d["counts"].get("GET /api/v1/nodes", 0) >= 5,
          d["verbs"])

    # authn/authz reviews and token rotation
    s, d, _ = c.req("POST", "/apis/authentication.k8s.io/v1/tokenreviews",
                    {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": "tok-bob"}})
    check("TokenReview known token", s == 201 and d["status"]["authenticated"] and
          d["status"]["user"]["username"] == "bob" and "devs" in d["status"]["user"]["groups"], d)
    s, d, _ = c.req("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {"spec": {"token": "nope"}})
    check("TokenReview unknown token", s == 201 and d["status"]["authenticated"] is False, d)
    c.req("POST", "/_fake/auth", {"rules": [{"group": "system:masters", "allowed": True},
                                            {"user": "bob", "verb": "get", "resource": "nodes",
                                             "subresource": ["metrics", "stats"], "allowed": True}]}, token=False)
    sar = {"spec": {"user": "bob", "groups": ["devs"],
                    "resourceAttributes": {"verb": "get", "resource": "nodes", "subresource": "metrics"}}}
    s, d, _ = c.req("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar)
    check("SAR allowed by rule", s == 201 and d["status"]["allowed"] is True, d)
    sar["spec"]["resourceAttributes"]["subresource"] = "proxy"
    s, d, _ = c.req("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar)
    check("SAR denied without rule", s == 201 and d["status"]["allowed"] is False, d)
    c.req("POST", "/_fake/tokens", {"add": ["second"]}, token=False)
    c.token = "second"
    check("added token accepted", c.req("GET", "/api/v1/nodes")[0] == 200)
    c.req("POST", "/_fake/tokens", {"set": ["third"]}, token=False)
    check("replaced token rejected", c.req("GET", "/api/v1/nodes")[0] == 401)
    c.token = "third"
    check("new token accepted", c.req("GET", "/api/v1/nodes")[0] == 200)
    s, d, _ = c.req("GET", "/_fake/state", token=False)
    check("server alive, no watches left", d.get("watches") == 0, d)


if __name__ == "__main__":
    sys.exit(main())

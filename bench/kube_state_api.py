#!/usr/bin/env python3
"""A minimal static Kubernetes list/watch server, for bench/kube_state.sh only.

  kube_state_api.py CLUSTER.jsonl PORT [--lease-holder NAME]

Serves the objects of CLUSTER.jsonl (from kube_state_gen.py) over plain HTTP:
  GET /api/v1/<res> and /apis/<group>/<version>/<res>   list, with limit/continue
  ... /namespaces/<ns>/<res>                            the same, in one namespace
  ... ?watch=1                                          a stream that stays open and
                                                        only sends BOOKMARKs
  ... ?watch=1&sendInitialEvents=true                   a streaming list (client-go's
                                                        WatchListClient): ADDED per object,
                                                        the initial-events-end BOOKMARK,
                                                        then as above
  GET /version                                          v1.36.3 (kube-state-metrics asks)
  ... &fieldSelector=                                   metadata.name, metadata.namespace
                                                        and (pods) spec.nodeName and
                                                        status.phase, each with
                                                        =, == or != (spec.nodeName= : no
                                                        node), comma-joined; any other
                                                        field 400, as the API server does
  ... &labelSelector=                                   k=v, k==v, k!=v, k, !k, k in (..),
                                                        k notin (..), comma-joined
  GET .../namespaces/<ns>/leases/<name>                 with --lease-holder: a Lease held
                                                        by NAME, renewed every second (node
                                                        agents stay followers); PUT/POST 409
  anything else                                         404 (K8sMonitor CRD, ...)
Each object is serialized once at start, so a LIST costs a join, not a dump:
the benchmark measures k8smon, not this server. tests/fakeapi/fakeapi.py is
the faithful fake; it is too slow to list 100,000 pods in a few seconds.
Prints "READY" on stdout when listening.
"""
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

RV = "1000"
TS0 = "2026-11-01T10:00:00Z"
VERSION = {"major": "1", "minor": "36", "gitVersion": "v1.36.3", "gitCommit": "bench",
           "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
           "goVersion": "go1.25", "compiler": "gc", "platform": "linux/amd64"}

# Every kind k8smon's kube-state collector watches (src/agent/kube.c): the
# ones the cluster file has no objects of are served as empty lists, as a
# real API server would (a 404 would keep kube-state from ever syncing).
KINDS = {
    "/api/v1/configmaps": ("ConfigMap", "v1"), "/api/v1/endpoints": ("Endpoints", "v1"),
    "/api/v1/namespaces": ("Namespace", "v1"), "/api/v1/nodes": ("Node", "v1"),
    "/api/v1/persistentvolumeclaims": ("PersistentVolumeClaim", "v1"),
    "/api/v1/persistentvolumes": ("PersistentVolume", "v1"), "/api/v1/pods": ("Pod", "v1"),
    "/api/v1/resourcequotas": ("ResourceQuota", "v1"), "/api/v1/secrets": ("Secret", "v1"),
    "/api/v1/services": ("Service", "v1"),
    "/apis/apps/v1/daemonsets": ("DaemonSet", "apps/v1"),
    "/apis/apps/v1/deployments": ("Deployment", "apps/v1"),
    "/apis/apps/v1/replicasets": ("ReplicaSet", "apps/v1"),
    "/apis/apps/v1/statefulsets": ("StatefulSet", "apps/v1"),
    "/apis/batch/v1/cronjobs": ("CronJob", "batch/v1"), "/apis/batch/v1/jobs": ("Job", "batch/v1"),
    "/apis/autoscaling/v2/horizontalpodautoscalers": ("HorizontalPodAutoscaler", "autoscaling/v2"),
    "/apis/networking.k8s.io/v1/ingresses": ("Ingress", "networking.k8s.io/v1"),
    "/apis/networking.k8s.io/v1/networkpolicies": ("NetworkPolicy", "networking.k8s.io/v1"),
    "/apis/policy/v1/poddisruptionbudgets": ("PodDisruptionBudget", "policy/v1"),
    "/api/v1/limitranges": ("LimitRange", "v1"),
    "/api/v1/replicationcontrollers": ("ReplicationController", "v1"),
    "/apis/certificates.k8s.io/v1/certificatesigningrequests":
        ("CertificateSigningRequest", "certificates.k8s.io/v1"),
    "/apis/coordination.k8s.io/v1/leases": ("Lease", "coordination.k8s.io/v1"),
    "/apis/discovery.k8s.io/v1/endpointslices": ("EndpointSlice", "discovery.k8s.io/v1"),
    "/apis/storage.k8s.io/v1/storageclasses": ("StorageClass", "storage.k8s.io/v1"),
    "/apis/storage.k8s.io/v1/volumeattachments": ("VolumeAttachment", "storage.k8s.io/v1"),
    "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations":
        ("MutatingWebhookConfiguration", "admissionregistration.k8s.io/v1"),
    "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations":
        ("ValidatingWebhookConfiguration", "admissionregistration.k8s.io/v1"),
    "/apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicies":
        ("MutatingAdmissionPolicy", "admissionregistration.k8s.io/v1"),
    "/apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicybindings":
        ("MutatingAdmissionPolicyBinding", "admissionregistration.k8s.io/v1"),
    "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies":
        ("ValidatingAdmissionPolicy", "admissionregistration.k8s.io/v1"),
    "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings":
        ("ValidatingAdmissionPolicyBinding", "admissionregistration.k8s.io/v1"),
}


NAME = re.compile(rb'"metadata":\{"name":"([^"]*)"')
NAMESPACE = re.compile(rb'"namespace":"([^"]*)"')
NODE = re.compile(rb'"nodeName":"([^"]*)"')
PHASE = re.compile(rb'"phase":"([^"]*)"')


class Items(list):
    """The serialized objects of one resource, with what the selectors need,
    found without parsing (kube_state_gen.py writes metadata.name first):
    meta[i] = (namespace, name, nodeName, phase) of self[i]; labels parsed on the
    first label selector that looks at an object."""

    def __init__(self, objs):
        super().__init__(objs)
        self.meta = []
        for o in objs:
            self.meta.append(tuple((m.group(1) if m else b"").decode() for m in (
                NAMESPACE.search(o), NAME.search(o), NODE.search(o), PHASE.search(o))))
        self.labels = {}

    def labels_of(self, i):
        if i not in self.labels:
            self.labels[i] = json.loads(self[i])["metadata"].get("labels", {})
        return self.labels[i]


def load(path):
    res = {p: (kind, av, Items([])) for p, (kind, av) in KINDS.items()}
    by_key = {}
    with open(path, "rb") as f:
        for line in f:
            key, obj = line.rstrip(b"\n").split(b"\t", 1)
            by_key.setdefault(key.decode(), []).append(obj)
    for key, items in by_key.items():
        parts = key.split("/")
        prefix = "/api/v1/" if len(parts) == 2 else "/apis/%s/%s/" % (parts[0], parts[1])
        path = prefix + parts[-1]
        kind, av = KINDS[path]
        res[path] = (kind, av, Items(items))
    return res


class BadSelector(Exception):
    pass


FIELDS = {"metadata.namespace": 0, "metadata.name": 1, "spec.nodeName": 2, "status.phase": 3}
POD_ONLY = ("spec.nodeName", "status.phase")
REQ = re.compile(r"\s*(!?)([^\s!=,()]+)\s*(?:(==|=|!=)\s*([^,\s]*)|\s(in|notin)\s*\(([^)]*)\))?\s*(?:,|$)")


def field_test(sel, kind):
    """[(index in meta, value, equal?)] of a fieldSelector, or BadSelector."""
    out = []
    for term in sel.split(","):
        m = re.fullmatch(r"([^=!]+)(==|=|!=)(.*)", term.strip())
        if not m or m.group(1) not in FIELDS or (m.group(1) in POD_ONLY and kind != "Pod"):
            raise BadSelector('field label not supported: "%s"' % term)
        out.append((FIELDS[m.group(1)], m.group(3), m.group(2) != "!="))
    return out


def label_test(sel):
    """[(key, op, values)] of a labelSelector, or BadSelector."""
    out, pos = [], 0
    while pos < len(sel):
        m = REQ.match(sel, pos)
        if not m or m.end() == pos:
            raise BadSelector('unable to parse requirement: "%s"' % sel[pos:])
        neg, key, op, val, setop, vals = m.groups()
        if neg and (op or setop):
            raise BadSelector('unable to parse requirement: "%s"' % m.group(0))
        if setop:
            out.append((key, setop, {v.strip() for v in vals.split(",")}))
        elif op:
            out.append((key, "!=" if op == "!=" else "=", {val}))
        else:
            out.append((key, "!" if neg else "exists", set()))
        pos = m.end()
    return out


def label_ok(labels, reqs):
    for key, op, vals in reqs:
        has = key in labels
        if op == "exists" and not has or op == "!" and has:
            return False
        if op in ("=", "in") and (not has or labels[key] not in vals):
            return False
        if op in ("!=", "notin") and has and labels[key] in vals:
            return False
    return True


def select(items, kind, ns, fsel, lsel):
    """The objects of items in namespace ns ("" = all) matching both selectors."""
    if not ns and not fsel and not lsel:
        return items
    ftests = field_test(fsel, kind) if fsel else []
    if ns:
        ftests.append((0, ns, True))
    ltests = label_test(lsel) if lsel else []
    out = []
    for i, md in enumerate(items.meta):
        if all((md[f] == v) == eq for f, v, eq in ftests) and \
                (not ltests or label_ok(items.labels_of(i), ltests)):
            out.append(items[i])
    return out


def now_micro():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int(t % 1 * 1e6)


def status(code, reason, message):
    return json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": message, "reason": reason, "code": code}).encode()


NSPATH = re.compile(r"^(/api/v1|/apis/[^/]+/[^/]+)/namespaces/([^/]+)/([^/]+)(?:/([^/]+))?$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    resources = {}
    lease_holder = ""
    started = time.time()

    def log_message(self, *a):
        pass

    def send_body(self, code, body, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urlparse(self.path)
        q = parse_qs(u.query)
        if u.path == "/version":
            # kube-state-metrics asks for it once before its informers start
            self.send_body(200, json.dumps(VERSION).encode())
            return
        path, ns, name = u.path, "", None
        m = NSPATH.match(u.path)
        if m:
            path, ns, name = m.group(1) + "/" + m.group(3), m.group(2), m.group(4)
        if name is not None:
            if path.endswith("/leases") and self.lease_holder:
                self.send_body(200, self.lease(ns, name))
            else:
                self.send_body(404, status(404, "NotFound", "%s not found" % u.path))
            return
        entry = self.resources.get(path)
        if entry is None:
            self.send_body(404, status(404, "NotFound", "%s not found" % u.path))
            return
        kind, api_version, items = entry
        try:
            items = select(items, kind, ns, q.get("fieldSelector", [""])[0],
                           q.get("labelSelector", [""])[0])
        except BadSelector as e:
            self.send_body(400, status(400, "BadRequest", str(e)))
            return
        if q.get("watch", ["0"])[0] in ("1", "true"):
            initial = items if q.get("sendInitialEvents", [""])[0] == "true" else None
            self.watch(kind, api_version, int(q.get("timeoutSeconds", ["300"])[0]), initial)
            return
        limit = int(q.get("limit", ["0"])[0]) or len(items) or 1
        start = int(q.get("continue", ["0"])[0] or 0)
        page = items[start:start + limit]
        nxt = start + limit if start + limit < len(items) else None
        meta = b'{"resourceVersion":"' + RV.encode() + b'"'
        if nxt is not None:
            meta += b',"continue":"' + str(nxt).encode() + b'","remainingItemCount":' + \
                str(len(items) - nxt).encode()
        meta += b"}"
        body = (b'{"kind":"' + kind.encode() + b'List","apiVersion":"' + api_version.encode() +
                b'","metadata":' + meta + b',"items":[' + b",".join(page) + b"]}")
        self.send_body(200, body)

    def lease(self, ns, name):
        """A Lease another instance holds and renews every second: an agent
        that elects stays a follower (src/kube/leader.c judges expiry by
        when it last saw renewTime change)."""
        t0 = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(self.started))
        return json.dumps({
            "kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
            "metadata": {"name": name, "namespace": ns, "uid": "lease-" + name,
                         "resourceVersion": str(int(time.time())), "creationTimestamp": TS0},
            "spec": {"holderIdentity": self.lease_holder, "leaseDurationSeconds": 15,
                     "acquireTime": t0, "renewTime": now_micro(), "leaseTransitions": 0}}).encode()

    def refuse_write(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        self.send_body(409, status(409, "Conflict", "bench: the Lease is held by " +
                                   (self.lease_holder or "nobody") + "; writes are refused"))

    do_PUT = refuse_write
    do_POST = refuse_write

    def watch(self, kind, api_version, timeout, initial=None):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        end = time.time() + timeout

        def bookmark(meta):
            return json.dumps({"type": "BOOKMARK", "object": {
                "kind": kind, "apiVersion": api_version, "metadata": meta}}).encode() + b"\n"

        def chunk(data):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

        try:
            if initial is not None:
                # A streaming list (client-go's WatchListClient, on by default since
                # v0.35; kube-state-metrics uses it): every object as ADDED, then the
                # bookmark that ends the initial events.
                for i in range(0, len(initial), 500):
                    chunk(b"".join(b'{"type":"ADDED","object":' + o + b"}\n"
                                   for o in initial[i:i + 500]))
                chunk(bookmark({"resourceVersion": RV, "annotations": {
                    "k8s.io/initial-events-end": "true"}}))
                self.wfile.flush()
            while time.time() < end:
                chunk(bookmark({"resourceVersion": RV}))
                self.wfile.flush()
                time.sleep(min(30, max(0.1, end - time.time())))
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass


def main():
    Handler.resources = load(sys.argv[1])
    if len(sys.argv) > 4 and sys.argv[3] == "--lease-holder":
        Handler.lease_holder = sys.argv[4]
    # A leader opens ~90 watches at once in node mode with 50 uncovered
    # nodes: with the default listen backlog of 5 the kernel drops SYNs and
    # the client's connects wait out TCP's 1-3-7-15 s retransmission backoff.
    ThreadingHTTPServer.request_queue_size = 1024
    srv = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Handler)
    srv.daemon_threads = True
    print("READY", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()

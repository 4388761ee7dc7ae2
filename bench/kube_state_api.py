#!/usr/bin/env python3
"""A minimal static Kubernetes list/watch server, for bench/kube_state.sh only.

  kube_state_api.py CLUSTER.jsonl PORT

Serves the objects of CLUSTER.jsonl (from kube_state_gen.py) over plain HTTP:
  GET /api/v1/<res> and /apis/<group>/<version>/<res>   list, with limit/continue
  ... ?watch=1                                          a stream that stays open and
                                                        only sends BOOKMARKs
  ... ?watch=1&sendInitialEvents=true                   a streaming list (client-go's
                                                        WatchListClient): ADDED per object,
                                                        the initial-events-end BOOKMARK,
                                                        then as above
  GET /version                                          v1.36.3 (kube-state-metrics asks)
  requests with a fieldSelector                         an empty list (the agent's own
                                                        node / node pods: not benchmarked)
  anything else                                         404 (Lease, K8sMonitor CRD, ...)
Each object is serialized once at start, so a LIST costs a join, not a dump:
the benchmark measures k8smon, not this server. tests/fakeapi/fakeapi.py is
the faithful fake; it is too slow to list 100,000 pods in a few seconds.
Prints "READY" on stdout when listening.
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

RV = "1000"
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


def load(path):
    res = {p: (kind, av, []) for p, (kind, av) in KINDS.items()}
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
        res[path] = (kind, av, items)
    return res


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    resources = {}

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
        entry = self.resources.get(u.path)
        if entry is None:
            self.send_body(404, json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                            "reason": "NotFound", "code": 404}).encode())
            return
        kind, api_version, items = entry
        if q.get("fieldSelector"):
            items = []
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
    srv = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Handler)
    srv.daemon_threads = True
    print("READY", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()

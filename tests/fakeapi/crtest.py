#!/usr/bin/env python3
"""The fake API server's custom-resource schema handling and /openapi/v3, against what
kube-apiserver v1.36 does (tests/integration/test_fakeapi_schema.sh runs this).

  1. tests/peers/cr_cases.yaml -- the table test_real_apiserver.sh runs against the real
     server -- through `kubectl create --dry-run=server --validate=strict` against the
     fake: same verdict and field path for every case (cr_cases.py --fake);
  2. `kubectl explain` of our kinds answers from the fake's /openapi/v3;
  3. the write paths (PUT, merge and JSON patches, /status) validate, prune and default
     like the real server; unknown fields per fieldValidation; a refused write changes
     nothing; any CRD is handled (a test CRD with nullable, int-or-string,
     preserve-unknown-fields, minItems, required, an oldSelf rule the fake cannot check).

usage: crtest.py KUBECTL [KUBECTL2 ...]   prints ok/FAIL/KNOWN lines; exit 1 on a failure
(everything with KUBECTL; `kubectl explain` also with each further one, e.g. the
v1.36 kubectl of tests/peers next to the machine's)
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from selftest import Client  # noqa: E402

failures = 0


def check(name, cond, detail=""):
    global failures
    if cond:
        print("ok   - %s" % name)
    else:
        failures += 1
        print("FAIL - %s %s" % (name, str(detail)[:600]))


KM = "/apis/k8smon.io/v1alpha1/k8smonitors"
SR = "/apis/k8smon.io/v1alpha1/namespaces/default/scraperules"

WIDGETS = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.test.example.com"},
    "spec": {"group": "test.example.com", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object",
                 "properties": {"spec": {
                     "type": "object", "required": ["size"],
                     "x-kubernetes-validations": [
                         {"rule": "self.size == oldSelf.size", "message": "size is immutable"},
                         {"rule": "!has(self.tags) || size(self.tags) <= self.size",
                          "message": "no more tags than size", "reason": "FieldValueForbidden"}],
                     "properties": {
                         "size": {"type": "integer", "minimum": 1},
                         "note": {"type": "string", "nullable": True},
                         "port": {"x-kubernetes-int-or-string": True},
                         "tags": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                         "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                         "ratio": {"type": "number", "maximum": 1, "exclusiveMaximum": True}}}}}}}]}}
WD = "/apis/test.example.com/v1/namespaces/default/widgets"


def start(tmp):
    kc = os.path.join(tmp, "kubeconfig")
    err = open(os.path.join(tmp, "fakeapi.log"), "w")
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "fakeapi.py"), "--port", "0",
                             "--state-dir", os.path.join(tmp, "api"), "--kubeconfig-out", kc,
                             "--token", "crtest", "--load", os.path.join(ROOT, "crds")],
                            stdout=subprocess.PIPE, stderr=err, text=True)
    line = proc.stdout.readline()
    if not line.startswith("READY "):
        raise SystemExit("fakeapi did not start: %r (log %s)" % (line, err.name))
    return proc, line.split()[1], kc


def causes(r):
    return [c.get("field") for c in ((r.get("details") or {}).get("causes") or [])]


def main():
    kubectls = sys.argv[1:] or ["kubectl"]
    tmp = tempfile.mkdtemp(prefix="crtest-")
    proc, url, kc = start(tmp)
    try:
        for k in kubectls[1:]:
            explain_checks(k, kc, tmp)
        run(kubectls[0], url, kc, tmp)
    finally:
        proc.terminate()
        proc.wait()
    print("%d failure(s)" % failures)
    return 1 if failures else 0


def explain_checks(kubectl, kc, tmp):
    home = tempfile.mkdtemp(dir=tmp)                     # own kubectl cache per kubectl
    ver = subprocess.run([kubectl, "version", "--client", "-o", "json"], capture_output=True, text=True)
    try:
        ver = json.loads(ver.stdout)["clientVersion"]["gitVersion"]
    except (ValueError, KeyError):
        ver = kubectl

    def explain(what):
        return subprocess.run([kubectl, "explain", what], capture_output=True, text=True,
                              env=dict(os.environ, KUBECONFIG=kc, HOME=home))
    e = explain("k8smonitor.spec.kubeState")
    check("kubectl %s explain k8smonitor.spec.kubeState: description and fields" % ver,
          e.returncode == 0 and "kube-state-metrics v2 compatible" in e.stdout and "metricAllowlist" in e.stdout
          and "labelsAllowlist" in e.stdout, e.stdout + e.stderr)
    e = explain("scraperule.spec")
    check("kubectl %s explain scraperule.spec: field descriptions" % ver,
          e.returncode == 0 and "Prefix of the scrape annotations" in e.stdout and "relabelings" in e.stdout,
          e.stdout + e.stderr)
    e = explain("scraperule.spec.relabelings.action")
    check("kubectl %s explain scraperule.spec.relabelings.action" % ver,
          e.returncode == 0 and "Relabel action" in e.stdout, e.stdout + e.stderr)


def run(kubectl, url, kc, tmp):
    env = dict(os.environ, KUBECONFIG=kc, HOME=tmp)     # own kubectl cache: no stale OpenAPI
    c = Client(url, os.path.join(tmp, "api", "ca.crt"), "crtest")

    # 1. the shared table
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "peers", "cr_cases.py"), "--fake",
                        kubectl, kc, os.path.join(ROOT, "tests", "peers", "cr_cases.yaml")],
                       capture_output=True, text=True, env=env, cwd=ROOT)
    for line in p.stdout.splitlines():
        if line.startswith(("FAIL", "KNOWN")) or " cases, " in line:
            print("   cr_cases: " + line)
    n_ok = sum(1 for line in p.stdout.splitlines() if line.startswith("ok"))
    check("tests/peers/cr_cases.yaml against the fake: same verdict and field path as the real server "
          "(%d cases agree)" % n_ok, p.returncode == 0 and n_ok >= 40, p.stderr)

    # 2. kubectl explain from /openapi/v3
    explain_checks(kubectl, kc, tmp)
    code, root = c.req("GET", "/openapi/v3")[:2]
    gv = (root.get("paths") or {}).get("apis/k8smon.io/v1alpha1", {}).get("serverRelativeURL", "")
    check("/openapi/v3 lists apis/k8smon.io/v1alpha1 with a hash", code == 200 and "?hash=" in gv, root)
    conn = c.conn()
    conn.request("GET", gv, headers={"Authorization": "Bearer crtest"})
    body = conn.getresponse().read()
    conn.close()
    doc = json.loads(body)
    km = doc.get("components", {}).get("schemas", {}).get("io.k8smon.v1alpha1.K8sMonitor", {})
    check("the group-version document: K8sMonitor schema with its GVK, hash = SHA-512 of the body",
          km.get("x-kubernetes-group-version-kind") == [{"group": "k8smon.io", "kind": "K8sMonitor",
                                                         "version": "v1alpha1"}]
          and gv.endswith(hashlib.sha512(body).hexdigest().upper()), gv)
    patch = doc.get("paths", {}).get(KM + "/{name}", {}).get("patch", {})
    check("PATCH lists fieldValidation and no strategic merge (kubectl sends Strict, merge-patches CRs)",
          any(x.get("name") == "fieldValidation" for x in patch.get("parameters", []))
          and "application/strategic-merge-patch+json" not in patch.get("requestBody", {}).get("content", {}),
          patch)

    # 3. write paths
    r = c.req("POST", KM, {"apiVersion": "k8smon.io/v1alpha1", "kind": "K8sMonitor", "metadata": {"name": "m"},
                           "spec": {"interval": "30s", "colectors": ["node"], "namespaces": None}})
    check("create without fieldValidation: unknown field pruned, 201, defaults filled, null dropped",
          r[0] == 201 and "colectors" not in r[1]["spec"] and r[1]["spec"].get("collectors") ==
          ["node", "container", "kube-state", "app"] and "namespaces" not in r[1]["spec"], r[1])
    warn = r[2].headers.get_all("Warning")
    check("... with the real server's Warning header", warn == ['299 - "unknown field \\"spec.colectors\\""'], warn)
    r = c.req("POST", KM + "?fieldValidation=Ignore", {"apiVersion": "k8smon.io/v1alpha1", "kind": "K8sMonitor",
                                                        "metadata": {"name": "m2"}, "spec": {"zzz": 1}})
    check("fieldValidation=Ignore: pruned, no warning", r[0] == 201 and not r[2].headers.get_all("Warning")
          and "zzz" not in r[1]["spec"], r)
    r = c.req("POST", KM + "?fieldValidation=Strict", {"apiVersion": "k8smon.io/v1alpha1", "kind": "K8sMonitor",
                                                        "metadata": {"name": "m3"},
                                                        "spec": {"zzz": 1, "kubeState": {"x": 1}}})
    check("fieldValidation=Strict: 400 naming every unknown field, sorted",
          r[0] == 400 and r[1].get("message", "").endswith(
              'strict decoding error: unknown field "spec.kubeState.x", unknown field "spec.zzz"'), r[1])
    before = c.req("GET", KM + "/m")[1]
    r = c.req("PATCH", KM + "/m", {"spec": {"interval": "2h"}}, ct="application/merge-patch+json")
    check("merge patch to an invalid spec: 422 Invalid, causes[].field spec.interval (CEL rule)",
          r[0] == 422 and r[1].get("reason") == "Invalid" and causes(r[1]) == ["spec.interval"]
          and r[1]["message"] == 'K8sMonitor.k8smon.io "m" is invalid: spec.interval: Invalid value: "2h": '
                                 'interval must be between 1s and 1h', r[1])
    r = c.req("PATCH", KM + "/m", [{"op": "replace", "path": "/spec/collectors", "value": ["gpu"]}],
              ct="application/json-patch+json")
    check("JSON patch to an enum violation: 422 Unsupported value + the CEL-skipped cause",
          r[0] == 422 and causes(r[1]) == ["spec.collectors[0]", "<nil>"]
          and "Unsupported value: \"gpu\"" in r[1]["message"], r[1])
    obj = dict(before)
    obj["spec"] = {"namespaces": ["a"], "excludeNamespaces": ["a"]}
    r = c.req("PUT", KM + "/m", obj)
    check("PUT with a namespace included and excluded: 422 at spec.excludeNamespaces (CEL fieldPath)",
          r[0] == 422 and causes(r[1]) == ["spec.excludeNamespaces"], r[1])
    after = c.req("GET", KM + "/m")[1]
    check("refused writes changed nothing (resourceVersion, spec)",
          after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
          and after["spec"] == before["spec"], after)
    r = c.req("PATCH", KM + "/m/status", {"status": {"nodes": -1}}, ct="application/merge-patch+json")
    check("/status write: status is validated (status.nodes minimum, the real message)",
          r[0] == 422 and causes(r[1]) == ["status.nodes"] and r[1]["message"] ==
          'K8sMonitor.k8smon.io "m" is invalid: status.nodes: Invalid value: -1: nodes in body should be '
          'greater than or equal to 0', r[1])
    r = c.req("PATCH", KM + "/m/status", {"status": {"nodes": 2, "bogus": True}}, ct="application/merge-patch+json")
    check("/status write: unknown status field pruned with a warning, the rest stored",
          r[0] == 200 and r[1]["status"] == {"nodes": 2} and r[2].headers.get_all("Warning") ==
          ['299 - "unknown field \\"status.bogus\\""'], r)
    r = c.req("PATCH", KM + "/m", {"spec": {"interval": "45s"}}, ct="application/merge-patch+json")
    check("a valid main-resource patch goes through (generation 2, status kept)",
          r[0] == 200 and r[1]["spec"]["interval"] == "45s" and r[1]["metadata"]["generation"] == 2
          and r[1]["status"] == {"nodes": 2}, r[1])
    r = c.req("POST", SR + "?dryRun=All", {"apiVersion": "k8smon.io/v1alpha1", "kind": "ScrapeRule",
                                           "metadata": {"name": "r"}, "spec": {"port": True}})
    check("int-or-string port: a boolean is a type error naming integer,string",
          r[0] == 422 and causes(r[1])[:1] == ["spec.port"] and "must be of type integer,string" in r[1]["message"],
          r[1])

    # a CRD of another group: the fake handles any CRD it is given
    r = c.req("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", WIDGETS)
    check("a test CRD with an oldSelf rule is accepted", r[0] == 201, r[1])
    deadline = time.time() + 10
    while time.time() < deadline and "oldSelf" not in open(os.path.join(tmp, "fakeapi.log")).read():
        time.sleep(0.1)
    log = open(os.path.join(tmp, "fakeapi.log")).read()
    check("the rule the fake cannot check is named on its stderr",
          "widgets.test.example.com/v1 spec: x-kubernetes-validations rule not checked (transition rules "
          "(oldSelf)): self.size == oldSelf.size" in log, log[-400:])

    def widget(spec, q=""):
        return c.req("POST", WD + "?dryRun=All" + q, {"apiVersion": "test.example.com/v1", "kind": "Widget",
                                                       "metadata": {"name": "w"}, "spec": spec})
    r = widget({"note": None, "port": "http", "free": {"any": {"thing": 1}}, "tags": ["a"], "size": 1})
    check("nullable null kept, int-or-string string, preserve-unknown-fields kept",
          r[0] == 201 and r[1]["spec"].get("note", 1) is None and r[1]["spec"]["free"] == {"any": {"thing": 1}},
          r[1])
    r = widget({"tags": []})
    check("required and minItems: spec.size Required value, spec.tags at least 1 items",
          r[0] == 422 and causes(r[1]) == ["spec.tags", "spec.size", "<nil>"]
          and "spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items" in r[1]["message"],
          r[1])
    r = widget({"size": 1, "tags": ["a", "b"]})
    check("CEL rule with reason FieldValueForbidden: 'Forbidden: <message>'",
          r[0] == 422 and r[1]["details"]["causes"] == [{"reason": "FieldValueForbidden", "field": "spec",
                                                         "message": "Forbidden: no more tags than size"}], r[1])
    r = widget({"size": 1, "ratio": 1})
    check("exclusiveMaximum: 'should be less than 1'",
          r[0] == 422 and "spec.ratio in body should be less than 1" in r[1]["message"], r[1])
    c.req("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.test.example.com")
    root = c.req("GET", "/openapi/v3")[1]
    check("deleting the CRD drops its group-version from /openapi/v3",
          "apis/test.example.com/v1" not in root["paths"] and "apis/k8smon.io/v1alpha1" in root["paths"], root)

    # validation off (an older, looser CRD): stored as sent, still pruned and defaulted
    c.req("POST", "/_fake/fault", {"action": "cr_validation", "enabled": False}, token=False)
    r = c.req("PATCH", KM + "/m", {"spec": {"interval": "15", "zzz": 1}}, ct="application/merge-patch+json")
    check("cr_validation off: an invalid spec is stored (pruned), as a looser CRD would",
          r[0] == 200 and r[1]["spec"]["interval"] == "15" and "zzz" not in r[1]["spec"], r[1])
    c.req("POST", "/_fake/fault", {"action": "cr_validation", "enabled": True}, token=False)
    r = c.req("PATCH", KM + "/m", {"spec": {"interval": "16"}}, ct="application/merge-patch+json")
    check("cr_validation back on: 422 again", r[0] == 422, r[1])


if __name__ == "__main__":
    sys.exit(main())

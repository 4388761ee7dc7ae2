#!/usr/bin/env python3
"""Structural checks of the helm/k8smon chart rendered by render.py, and of
examples/deploy against it. One line per check; exit 1 on failure. Stdlib only."""
import filecmp
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import k8syaml  # noqa: E402
import render  # noqa: E402

CHART = os.path.join(ROOT, "helm/k8smon")
FAILS = 0
NAMESPACED = {"ServiceAccount", "Secret", "Role", "RoleBinding", "DaemonSet", "Service", "PodMonitor", "VMPodScrape"}


def check(ok, desc, detail=""):
    global FAILS
    print(("ok   - " if ok else "FAIL - ") + desc + ("" if ok or not detail else ": " + str(detail)))
    FAILS += 0 if ok else 1
    return ok


def objects(docs, tmp):
    out = []
    for i, (path, text) in enumerate(docs):
        f = os.path.join(tmp, "%02d.yaml" % i)
        with open(f, "w") as fh:
            fh.write(text)
        try:
            out += [(path, o) for o in k8syaml.load_objects(f)]
        except ValueError as e:
            check(False, "%s renders to valid YAML" % path, e)
    return out


def find(objs, kind, name=None):
    r = [o for _p, o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    return r[0] if r else None


# The code-derived check is tests/helm/rbaccheck.py; this pins the chart too.
EXPECTED_RULES = {  # (apiGroup, resource) -> verbs of the agent's ClusterRole
    **{("", r): ["list", "watch"] for r in ["pods", "nodes", "namespaces", "services", "endpoints",
                                             "persistentvolumes", "persistentvolumeclaims", "resourcequotas",
                                             "limitranges", "replicationcontrollers"]},
    **{("apps", r): ["list", "watch"] for r in ["deployments", "replicasets", "statefulsets", "daemonsets"]},
    ("batch", "jobs"): ["list", "watch"], ("batch", "cronjobs"): ["list", "watch"],
    ("autoscaling", "horizontalpodautoscalers"): ["list", "watch"],
    ("policy", "poddisruptionbudgets"): ["list", "watch"],
    ("networking.k8s.io", "ingresses"): ["list", "watch"],
    ("networking.k8s.io", "networkpolicies"): ["list", "watch"],
    ("discovery.k8s.io", "endpointslices"): ["list", "watch"],
    ("certificates.k8s.io", "certificatesigningrequests"): ["list", "watch"],
    ("storage.k8s.io", "storageclasses"): ["list", "watch"],
    ("storage.k8s.io", "volumeattachments"): ["list", "watch"],
    ("coordination.k8s.io", "leases"): ["list", "watch"],
    **{("admissionregistration.k8s.io", r): ["list", "watch"]
       for r in ["mutatingadmissionpolicies", "mutatingadmissionpolicybindings", "mutatingwebhookconfigurations",
                 "validatingadmissionpolicies", "validatingadmissionpolicybindings",
                 "validatingwebhookconfigurations"]},
    ("k8smon.io", "k8smonitors"): ["list", "watch"], ("k8smon.io", "scraperules"): ["list", "watch"],
    ("k8smon.io", "k8smonitors/status"): ["patch"], ("k8smon.io", "scraperules/status"): ["patch"],
    ("authentication.k8s.io", "tokenreviews"): ["create"],
    ("authorization.k8s.io", "subjectaccessreviews"): ["create"],
    ("", "nodes/metrics"): ["get"],  # component jobs: the kubelet (docs/components.md)
}


def flat_rules(role):
    out = {}
    for r in role["rules"]:
        for g in r.get("apiGroups", []):
            for res in r.get("resources", []):
                key = (g, res) if not r.get("resourceNames") else (g, res, tuple(r["resourceNames"]))
                out.setdefault(key, set()).update(r["verbs"])
    return {k: sorted(v) for k, v in out.items()}


def check_default(objs, ns):
    for path, o in objs:
        md = o.get("metadata", {})
        good = o.get("apiVersion") and o.get("kind") and md.get("name")
        if o["kind"] in NAMESPACED:
            good = good and md.get("namespace") == ns
        elif o["kind"] != "Namespace":
            good = good and "namespace" not in md
        check(bool(good), "%s: %s %s is a valid object (apiVersion, kind, name, namespace for its scope)"
              % (path, o.get("kind"), md.get("name")))
    ds = find(objs, "DaemonSet")
    if not check(ds is not None, "a DaemonSet is rendered"):
        return
    pod = ds["spec"]["template"]["spec"]
    c = pod["containers"][0]
    check(ds["spec"]["selector"]["matchLabels"].items() <= ds["spec"]["template"]["metadata"]["labels"].items(),
          "DaemonSet selector matches its pod labels")
    check(pod["hostNetwork"] is True and pod["hostPID"] is True and pod.get("dnsPolicy") == "ClusterFirstWithHostNet",
          "DaemonSet: hostNetwork + hostPID (+ ClusterFirstWithHostNet)")
    check(c["ports"] == [{"name": "http-metrics", "containerPort": 9420, "protocol": "TCP"}], "port 9420 named http-metrics")
    check(c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http-metrics"}, "liveness probe GET /healthz")
    check(c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http-metrics"}, "readiness probe GET /readyz")
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    vols = {v["name"]: v.get("hostPath", {}).get("path") for v in pod["volumes"]}
    for name, host, mnt in (("proc", "/proc", "/host/proc"), ("sys", "/sys", "/host/sys"), ("root", "/", "/host/root")):
        check(vols.get(name) == host and mounts.get(name, {}).get("mountPath") == mnt and mounts[name].get("readOnly") is True,
              "hostPath %s mounted read-only at %s" % (host, mnt))
    for a in ("-path.procfs=/host/proc", "-path.sysfs=/host/sys", "-path.rootfs=/host/root", "-promscrape.kubernetes=true",
              "-httpListenAddr=:9420"):
        check(a in c["args"], "arg %s" % a)
    env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") for e in c["env"]}
    check(env.get("NODE_NAME") == "spec.nodeName" and env.get("POD_NAME") == "metadata.name"
          and env.get("POD_NAMESPACE") == "metadata.namespace", "NODE_NAME/POD_NAME/POD_NAMESPACE from the downward API")
    sc = c["securityContext"]
    check(sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False
          and sc.get("privileged") is False and sc["capabilities"]["drop"] == ["ALL"],
          "container securityContext: read-only root, no privilege escalation, drop ALL")
    psc = pod["securityContext"]
    check("add" not in sc["capabilities"] and psc.get("runAsUser") == 10642 and psc.get("runAsGroup") == 10642
          and psc.get("runAsNonRoot") is True and "runAsUser" not in sc,
          "default: user/group 10642 (its own, not the shared 65534), runAsNonRoot, no capability added")
    check(pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, "seccomp RuntimeDefault")
    check(c["resources"].get("requests", {}).get("memory") and c["resources"].get("limits", {}).get("memory"),
          "resources: memory request and limit")
    check(pod["serviceAccountName"] == find(objs, "ServiceAccount", "k8smon")["metadata"]["name"], "DaemonSet uses the chart's ServiceAccount")
    check_auth(objs, ns, c)

    cr = find(objs, "ClusterRole", "k8smon")
    got = flat_rules(cr)
    check(got == {k: sorted(v) for k, v in EXPECTED_RULES.items()}, "ClusterRole: exactly the least-privilege rules",
          {k: v for k, v in got.items() if EXPECTED_RULES.get(k) != v} or sorted(set(EXPECTED_RULES) - set(got)))
    check(all("*" not in r.get("verbs", []) + r.get("resources", []) + r.get("apiGroups", []) for r in cr["rules"]),
          "ClusterRole: no wildcards")
    check([r for r in cr["rules"] if "nonResourceURLs" in r] == [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}],
          "ClusterRole: get /metrics (component jobs: API server, scheduler, controller-manager), no other URL")
    check(not any("nodes/proxy" in r.get("resources", []) for r in cr["rules"]), "ClusterRole: no nodes/proxy")
    mr = find(objs, "ClusterRole", "k8smon-metrics-reader")
    check(mr and mr["rules"] == [{"nonResourceURLs": ["/metrics", "/metrics/*"], "verbs": ["get"]}],
          "metrics-reader ClusterRole: get /metrics, /metrics/*")
    crb = find(objs, "ClusterRoleBinding", "k8smon")
    check(crb["roleRef"]["name"] == "k8smon" and crb["subjects"] == [{"kind": "ServiceAccount", "name": "k8smon", "namespace": ns}],
          "ClusterRoleBinding binds the ServiceAccount")
    role = find(objs, "Role")
    check(role and flat_rules(role) == {("coordination.k8s.io", "leases"): ["create"],
                                        ("coordination.k8s.io", "leases", ("k8smon",)): ["get", "update"]},
          "Role: leases create + get/update of the k8smon Lease, in the release namespace")
    rb = find(objs, "RoleBinding")
    check(rb and rb["roleRef"]["name"] == role["metadata"]["name"] and rb["subjects"][0]["namespace"] == ns, "RoleBinding")
    svc = find(objs, "Service")
    check(svc and svc["spec"]["ports"][0]["targetPort"] == "http-metrics"
          and svc["spec"]["selector"] == ds["spec"]["selector"]["matchLabels"], "Service selects the agents on http-metrics")
    km = find(objs, "K8sMonitor")
    check(km is not None and "namespace" not in km["metadata"], "default K8sMonitor rendered (cluster-scoped)")
    check(not any(r in ("secrets", "configmaps") for _p, o in objs if o["kind"] in ("ClusterRole", "Role")
                  for rule in o["rules"] for r in rule.get("resources", [])),
          "default: no Role or ClusterRole grants Secrets or ConfigMaps")
    res = km["spec"]["kubeState"]["resources"]
    check(len(res) == 31 and "secrets" not in res and "configmaps" not in res,
          "default K8sMonitor: kubeState.resources = every kind but secrets and configmaps", res)
    check(find(objs, "PodMonitor") is None and find(objs, "VMPodScrape") is None, "PodMonitor / VMPodScrape off by default")


def check_auth(objs, ns, c):
    """Default: endpoints authenticated, and the chart supplies a scraper that may read them."""
    check("-http.auth=kubernetes" in c["args"], "auth on by default (-http.auth=kubernetes)")
    sa = find(objs, "ServiceAccount", "k8smon-scraper")
    sec = find(objs, "Secret", "k8smon-scraper-token")
    check(sa is not None and sa.get("automountServiceAccountToken") is False, "scraper ServiceAccount, no token mounted anywhere")
    check(sec is not None and sec.get("type") == "kubernetes.io/service-account-token"
          and sec["metadata"]["annotations"].get("kubernetes.io/service-account.name") == "k8smon-scraper",
          "scraper token Secret of type service-account-token for k8smon-scraper")
    b = find(objs, "ClusterRoleBinding", "k8smon-metrics-reader")
    check(b is not None and b["roleRef"]["name"] == "k8smon-metrics-reader"
          and b["subjects"] == [{"kind": "ServiceAccount", "name": "k8smon-scraper", "namespace": ns}],
          "metrics-reader bound to the scraper account only")


def check_monitor_auth(objs, ns, on):
    """Every PodMonitor / VMPodScrape endpoint presents the scraper token iff auth is on."""
    sec = find(objs, "Secret", "k8smon-scraper-token")
    for kind, get in (("PodMonitor", lambda e: (e.get("authorization") or {}).get("credentials")),
                      ("VMPodScrape", lambda e: e.get("bearerTokenSecret"))):
        m = find(objs, kind)
        creds = [get(e) for e in m["spec"]["podMetricsEndpoints"]] if m else []
        if on:
            ok = creds and all(x == {"name": "k8smon-scraper-token", "key": "token"} for x in creds) and sec is not None
            if kind == "PodMonitor":
                ok = ok and all(e["authorization"].get("type") == "Bearer" for e in m["spec"]["podMetricsEndpoints"])
        else:
            ok = m is not None and not any(creds) and sec is None and find(objs, "ClusterRoleBinding", "k8smon-metrics-reader") is None
        check(bool(ok), "%s: %s" % (kind, "every endpoint presents the chart's scraper token" if on
                                     else "auth.enabled=false: no credentials, no scraper objects"))


def check_options(objs):
    ds = find(objs, "DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    c = pod["containers"][0]
    check(pod["securityContext"].get("runAsNonRoot") is False and pod["securityContext"].get("runAsUser") == 0
          and "add" not in c["securityContext"]["capabilities"] and c["securityContext"]["capabilities"]["drop"] == ["ALL"],
          "runAsRoot=true: root, still every capability dropped")
    check("-tls" in c["args"] and c["livenessProbe"]["httpGet"].get("scheme") == "HTTPS"
          and any(v["name"] == "tls" and v["secret"]["secretName"] == "k8smon-tls" for v in pod["volumes"]),
          "tls.enabled: -tls flags, HTTPS probes, Secret mounted")
    check("dnsPolicy" not in pod and pod["hostNetwork"] is False, "hostNetwork=false drops ClusterFirstWithHostNet")
    want = {"/metrics/node": "node-exporter", "/metrics/cadvisor": "kubelet", "/metrics/kube-state": "kube-state-metrics",
            "/metrics/apps": None, "/metrics/components": None, "/metrics/self": "k8smon"}
    for kind, relkey in (("PodMonitor", "relabelings"), ("VMPodScrape", "relabelConfigs")):
        m = find(objs, kind)
        if not check(m is not None, "%s rendered when enabled" % kind):
            continue
        eps = {e["path"]: e for e in m["spec"]["podMetricsEndpoints"]}
        check(sorted(eps) == sorted(want), "%s: one endpoint per path" % kind, sorted(eps))
        for path, job in want.items():
            e = eps.get(path, {})
            jobs = [r.get("replacement") for r in e.get(relkey, []) if r.get("targetLabel") == "job"]
            check(jobs == ([job] if job else []) and e.get("port") == "http-metrics" and e.get("scheme") == "https",
                  "%s %s: job %s, port http-metrics" % (kind, path, job or "(from targets)"))
        check(eps["/metrics/cadvisor"].get("honorTimestamps") is False and eps["/metrics/cadvisor"].get("honorLabels") is True,
              "%s: cadvisor endpoint honorTimestamps false, honorLabels true" % kind)
        comp = eps.get("/metrics/components", {})
        check(comp.get("honorLabels") is True and {"action": "labeldrop", "regex": "(pod|namespace|container|endpoint|service|node)"}
              in comp.get(relkey, []),
              "%s: components endpoint keeps the series' kube-prometheus labels (honorLabels, the pod's dropped)" % kind)
        check(m["spec"]["selector"]["matchLabels"] == find(objs, "DaemonSet")["spec"]["selector"]["matchLabels"],
              "%s selects the agent pods" % kind)
    check(find(objs, "K8sMonitor") is None and find(objs, "Role") is None,
          "k8smonitor.create=false and leaderElection.enabled=false drop the K8sMonitor and the Role")


RW_VALUES = {"remoteWrite": {
    "destinations": [
        {"url": "http://vm.monitoring:8428/api/v1/write", "bearerTokenSecret": {"name": "vm-token", "key": "token"},
         "headers": "X-Scope-OrgID:team-a", "forceVMProto": True},
        {"url": "https://prom.example/api/v1/write",
         "basicAuth": {"username": "k8smon", "passwordSecret": {"name": "prom-basic", "key": "pw"}},
         "tls": {"caSecret": {"name": "prom-ca", "key": "ca.crt"}, "certSecret": {"name": "cli", "key": "tls.crt"},
                 "keySecret": {"name": "cli", "key": "tls.key"}, "serverName": "prom.internal"}},
    ],
    "labels": ["cluster=prod"]}}


def check_remote_write(objs, hostpath):
    pod = find(objs, "DaemonSet")["spec"]["template"]["spec"]
    c = pod["containers"][0]
    args = c["args"]
    vols = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    per_url = ["url", "bearerTokenFile", "basicAuth.username", "basicAuth.passwordFile", "tlsCAFile", "tlsCertFile",
               "tlsKeyFile", "tlsInsecureSkipVerify", "tlsServerName", "headers", "forceVMProto", "forcePromProto"]
    counts = {f: sum(1 for a in args if a.startswith("-remoteWrite.%s=" % f)) for f in per_url}
    check(set(counts.values()) == {2}, "remoteWrite: every per-URL flag once per destination (vmagent's indexing)", counts)
    vals = lambda f: [a.split("=", 1)[1] for a in args if a.startswith("-remoteWrite.%s=" % f)]  # noqa: E731
    check(vals("url") == ["http://vm.monitoring:8428/api/v1/write", "https://prom.example/api/v1/write"]
          and vals("bearerTokenFile") == ["/etc/k8smon/remote-write/0/bearer/token", ""]
          and vals("basicAuth.username") == ["", "k8smon"]
          and vals("basicAuth.passwordFile") == ["", "/etc/k8smon/remote-write/1/basic/password"]
          and vals("tlsCAFile") == ["", "/etc/k8smon/remote-write/1/ca/ca.crt"]
          and vals("tlsServerName") == ["", "prom.internal"] and vals("headers") == ["X-Scope-OrgID:team-a", ""]
          and vals("forceVMProto") == ["true", "false"] and vals("label") == ["cluster=prod"],
          "remoteWrite: each destination's values in its place", args)
    ok = True
    for name, secret, key, path in (("rw-0-bearer", "vm-token", "token", "/etc/k8smon/remote-write/0/bearer"),
                                    ("rw-1-basic", "prom-basic", "pw", "/etc/k8smon/remote-write/1/basic"),
                                    ("rw-1-ca", "prom-ca", "ca.crt", "/etc/k8smon/remote-write/1/ca"),
                                    ("rw-1-cert", "cli", "tls.crt", "/etc/k8smon/remote-write/1/cert"),
                                    ("rw-1-key", "cli", "tls.key", "/etc/k8smon/remote-write/1/key")):
        v = vols.get(name, {}).get("secret", {})
        ok = ok and v.get("secretName") == secret and v.get("items", [{}])[0].get("key") == key and mounts.get(name) == path
    check(ok and "rw-0-ca" not in vols, "remoteWrite: each Secret mounted for its destination only, where its flag points")
    q = vols.get("rw-queue", {})
    want = "hostPath" if hostpath else "emptyDir"
    check(want in q and mounts.get("rw-queue") == "/var/lib/k8smon/remotewrite"
          and "-remoteWrite.tmpDataPath=/var/lib/k8smon/remotewrite" in args
          and (not hostpath or q["hostPath"] == {"path": "/var/lib/k8smon/rw", "type": "DirectoryOrCreate"}),
          "remoteWrite: queue volume %s mounted at -remoteWrite.tmpDataPath" % want, q)


def main():
    ns = "k8smon"
    with tempfile.TemporaryDirectory() as tmp:
        docs = render.render_chart(CHART, "k8smon", ns)
        check(True, "chart renders with default values (%d documents)" % len(docs))
        objs = objects(docs, tmp)
        check_default(objs, ns)
        # CRDs in the chart == crds/
        same = sorted(os.listdir(os.path.join(CHART, "crds"))) == sorted(os.listdir(os.path.join(ROOT, "crds"))) and all(
            filecmp.cmp(os.path.join(CHART, "crds", f), os.path.join(ROOT, "crds", f), shallow=False)
            for f in os.listdir(os.path.join(ROOT, "crds")))
        check(same, "helm/k8smon/crds/ is identical to crds/ (cp crds/*.yaml helm/k8smon/crds/)")
        # examples/deploy == the chart rendered with default values
        out = os.path.join(tmp, "deploy")
        render.write_deploy(docs, out)
        dep = os.path.join(ROOT, "examples/deploy")
        names = sorted(os.listdir(out))
        same = names == sorted(os.listdir(dep)) and all(filecmp.cmp(os.path.join(out, f), os.path.join(dep, f), shallow=False)
                                                        for f in names)
        check(same, "examples/deploy is the chart rendered with defaults (python3 tests/helm/render.py --write-deploy examples/deploy)")
        dobjs = k8syaml.load_objects(dep)
        key = lambda o: (o["kind"], o["metadata"]["name"])  # noqa: E731
        chart_objs = {key(o): o for _p, o in objs if o["kind"] != "K8sMonitor"}
        dep_objs = {key(o): o for o in dobjs if o["kind"] != "Namespace"}
        check(sorted(chart_objs) == sorted(dep_objs), "examples/deploy has the chart's kinds and names", sorted(set(chart_objs) ^ set(dep_objs)))
        check(all(flat_rules(chart_objs[k]) == flat_rules(dep_objs[k]) for k in chart_objs if k[0] in ("ClusterRole", "Role")),
              "examples/deploy RBAC rules equal the chart's")
        ns_obj = [o for o in dobjs if o["kind"] == "Namespace"]
        check(len(ns_obj) == 1 and ns_obj[0]["metadata"]["name"] == ns and
              ns_obj[0]["metadata"]["labels"].get("pod-security.kubernetes.io/enforce") == "privileged",
              "examples/deploy creates namespace k8smon (Pod Security level privileged: hostPath/hostPID)")
        # non-default values
        docs2 = render.render_chart(CHART, "k8smon", ns, ["podMonitor.enabled=true", "vmPodScrape.enabled=true",
                                                          "tls.enabled=true", "runAsRoot=true", "hostNetwork=false",
                                                          "k8smonitor.create=false", "leaderElection.enabled=false"])
        objs2 = objects(docs2, tmp)
        check_options(objs2)
        check_monitor_auth(objs2, ns, True)
        docs3 = render.render_chart(CHART, "k8smon", ns, ["podMonitor.enabled=true", "vmPodScrape.enabled=true",
                                                          "auth.enabled=false", "auth.readerServiceAccount.name=prometheus-k8s"])
        objs3 = objects(docs3, tmp)
        check_monitor_auth(objs3, ns, False)
        check("-http.auth=kubernetes" not in find(objs3, "DaemonSet")["spec"]["template"]["spec"]["containers"][0]["args"],
              "auth.enabled=false: no -http.auth flag")
        docs4 = render.render_chart(CHART, "k8smon", ns, ["auth.readerServiceAccount.name=prometheus-k8s"])
        b = find(objects(docs4, tmp), "ClusterRoleBinding", "k8smon-metrics-reader")
        check(b is not None and {"kind": "ServiceAccount", "name": "prometheus-k8s", "namespace": "monitoring"} in b["subjects"],
              "auth.readerServiceAccount binds an existing scraper account too")
        docs5 = render.render_chart(CHART, "k8smon", ns, ["kubeState.secretsAndConfigMaps.enabled=true", "runAsUser=4242",
                                                          "runAsGroup=4343"])
        objs5 = objects(docs5, tmp)
        cr5 = find(objs5, "ClusterRole", "k8smon-kube-state-secrets")
        crb5 = find(objs5, "ClusterRoleBinding", "k8smon-kube-state-secrets")
        check(cr5 is not None and flat_rules(cr5) == {("", "configmaps"): ["list", "watch"], ("", "secrets"): ["list", "watch"]}
              and flat_rules(find(objs5, "ClusterRole", "k8smon")) == flat_rules(find(objs, "ClusterRole", "k8smon")),
              "kubeState.secretsAndConfigMaps.enabled: a separate ClusterRole with list/watch on secrets and configmaps only")
        check(crb5 is not None and crb5["roleRef"]["name"] == "k8smon-kube-state-secrets"
              and crb5["subjects"] == [{"kind": "ServiceAccount", "name": "k8smon", "namespace": ns}],
              "...bound to the agents' ServiceAccount")
        res5 = find(objs5, "K8sMonitor")["spec"]["kubeState"]["resources"]
        check(len(res5) == 33 and "secrets" in res5 and "configmaps" in res5, "...and the K8sMonitor asks for them")
        psc5 = find(objs5, "DaemonSet")["spec"]["template"]["spec"]["securityContext"]
        check(psc5.get("runAsUser") == 4242 and psc5.get("runAsGroup") == 4343, "runAsUser / runAsGroup configurable")
        ds6 = find(objects(render.render_chart(CHART, "k8smon", ns, ["processFdStats=true",
                                                                     "sandboxImage=registry.k8s.io/pause:3.10",
                                                                     "systemdCollector=true"]), tmp), "DaemonSet")
        check("-collector.systemd" in ds6["spec"]["template"]["spec"]["containers"][0]["args"]
              and "-collector.systemd" not in find(objs, "DaemonSet")["spec"]["template"]["spec"]["containers"][0]["args"],
              "systemdCollector: -collector.systemd only when true (off by default, as node_exporter)")
        check("-container.sandboxImage=registry.k8s.io/pause:3.10" in ds6["spec"]["template"]["spec"]["containers"][0]["args"]
              and not any(a.startswith("-container.sandboxImage") for a in find(objs, "DaemonSet")["spec"]["template"]["spec"]["containers"][0]["args"]),
              "sandboxImage: -container.sandboxImage only when set")
        psc6 = ds6["spec"]["template"]["spec"]["securityContext"]
        cap6 = ds6["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"]
        check(psc6.get("runAsUser") == 0 and psc6.get("runAsNonRoot") is False
              and cap6 == {"drop": ["ALL"], "add": ["SYS_PTRACE"]},
              "processFdStats=true: root with SYS_PTRACE only (other processes' /proc/<pid>/fd)")
        ds7 = find(objects(render.render_chart(CHART, "k8smon", ns, ["crioFsStats=true"]), tmp), "DaemonSet")
        psc7 = ds7["spec"]["template"]["spec"]["securityContext"]
        cap7 = ds7["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"]
        check(psc7.get("runAsUser") == 0 and psc7.get("runAsNonRoot") is False
              and cap7 == {"drop": ["ALL"], "add": ["DAC_READ_SEARCH"]}
              and "-container.crioSocket=/host/root/run/crio/crio.sock" in ds7["spec"]["template"]["spec"]["containers"][0]["args"],
              "crioFsStats=true: the host's CRI-O socket, root with DAC_READ_SEARCH only (CRI-O layers)")
        check("-container.crioSocket=" in find(objs, "DaemonSet")["spec"]["template"]["spec"]["containers"][0]["args"]
              and "add" not in find(objs, "DaemonSet")["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"],
              "crioFsStats off (default): CRI-O not asked, no capability added")
        ex = {(o["kind"], o["metadata"]["name"]): o for o in k8syaml.load_objects(os.path.join(ROOT, "examples/kube-state-secrets.yaml"))}
        check(sorted(ex) == [("ClusterRole", "k8smon-kube-state-secrets"), ("ClusterRoleBinding", "k8smon-kube-state-secrets")]
              and flat_rules(ex[("ClusterRole", "k8smon-kube-state-secrets")]) == flat_rules(cr5)
              and ex[("ClusterRoleBinding", "k8smon-kube-state-secrets")]["subjects"] == crb5["subjects"],
              "examples/kube-state-secrets.yaml is the chart's opt-in ClusterRole and binding")
        ds0 = find(objs, "DaemonSet")["spec"]["template"]["spec"]
        check(not any(a.startswith("-remoteWrite.") for a in ds0["containers"][0]["args"])
              and not any(v["name"].startswith("rw-") for v in ds0["volumes"]),
              "remoteWrite: no destinations (default), no flags and no volumes")
        check(find(objs, "Role", "k8smon-remote-write-secrets") is None, "remoteWrite.secretNames empty (default): no Secret access")
        o7 = objects(render.render_chart(CHART, "k8smon", ns, [], {"remoteWrite": {"secretNames": ["vm-auth", "vm-tls"]}}), tmp)
        r7, b7 = find(o7, "Role", "k8smon-remote-write-secrets"), find(o7, "RoleBinding", "k8smon-remote-write-secrets")
        check(r7 is not None and r7["metadata"]["namespace"] == ns
              and r7["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["vm-auth", "vm-tls"], "verbs": ["get"]}]
              and b7 is not None and b7["subjects"] == [{"kind": "ServiceAccount", "name": "k8smon", "namespace": ns}],
              "remoteWrite.secretNames: a Role with get on exactly those Secrets, bound to the agents")
        check_remote_write(objects(render.render_chart(CHART, "k8smon", ns, [], RW_VALUES), tmp), False)
        check_remote_write(objects(render.render_chart(CHART, "k8smon", ns, ["remoteWrite.queue.hostPath=/var/lib/k8smon/rw"],
                                                       RW_VALUES), tmp), True)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())

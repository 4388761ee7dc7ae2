#!/bin/sh
# `make demo` as a user runs it: started in its own process group with SIGINT at its
# default disposition (as in a terminal), it prints the URLs and `kubectl get kmon,sr -A`,
# serves the simulated cluster, and Ctrl-C (SIGINT to the whole foreground group) stops
# it: every process of the group gone, the port closed, make ending normally or by the
# SIGINT itself (never an error status). Also (issue 16):
#   - the example apps take free ports: 18081 held by this test changes nothing, and an
#     app given a busy port says so in one line (no Python traceback);
#   - every app README.md's demo section names is scraped (up 1, its samples in /metrics/apps);
#   - as root the apps' pods get real cgroups (kubelet layout) and /metrics/cadvisor has a
#     row per app container with its pod; not as root the demo says why there are none;
#   - README's InvalidSpec example is what the binary says for a metricAllowlist regex
#     that does not compile (the CRD, which the fake enforces, cannot catch it);
#   - the component jobs all up against tests/fakecomp (recorded real components);
#   - after Ctrl-C no kubeconfig points at the dead server and the demo's cgroups are gone.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/common.sh
TMP=$(mktemp -d)
PORT=$(free_port_low)
trap '[ -n "${KEEP:-}" ] && echo "kept $TMP" || rm -rf "$TMP"' EXIT

python3 - "$PORT" "$TMP" <<'PY'
import os, re, signal, subprocess, sys, time, urllib.request
port, tmp = sys.argv[1], sys.argv[2]
fails = 0
def check(cond, msg, detail=""):
    global fails
    print(("ok   - " if cond else "FAIL - ") + msg + ("" if cond or not detail else "\n    " + str(detail)[:800]))
    fails += 0 if cond else 1
def get(path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%s%s" % (port, path), timeout=5) as r:
            return r.status, r.read().decode()
    except Exception as e:  # noqa: BLE001
        return getattr(e, "code", 0), ""
def wait_until(fn, secs=60):
    end = time.time() + secs
    while time.time() < end:
        if fn():
            return True
        time.sleep(0.5)
    return fn()
def dfl():
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)
import socket
held = socket.socket()
held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    held.bind(("127.0.0.1", 18081)); held.listen(1)
    held_port = 18081
except OSError:  # already busy: as good for the demo
    held.bind(("127.0.0.1", 0)); held.listen(1)
    held_port = held.getsockname()[1]
r = subprocess.run([sys.executable, "tests/demo/demo_app.py", str(held_port), "frontend"], capture_output=True, text=True, timeout=30)
check(r.returncode == 1 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
      and "cannot listen on 127.0.0.1:%d" % held_port in r.stderr,
      "an example app given a busy port: exit 1 with one line, no traceback", r.stderr)
state = os.path.join(tmp, "demo")
env = dict(os.environ, K8SMON_DEMO_PORT=port, K8SMON_DEMO_STATE=state)
out = open(os.path.join(tmp, "out"), "w+")
p = subprocess.Popen(["make", "--no-print-directory", "demo"], stdout=out, stderr=subprocess.STDOUT, env=env,
                     preexec_fn=dfl)
pg = p.pid
text = ""
deadline = time.time() + 120
while time.time() < deadline and p.poll() is None:
    out.seek(0); text = out.read()
    if re.search(r"scraperule\.k8smon\.io/\S+", text) and "kubectl get kmon,sr -A" in text:
        break
    time.sleep(0.5)
time.sleep(1)
out.seek(0); text = out.read()
check(p.poll() is None, "make demo is running", text[-800:])
for ep in ("/metrics", "/metrics/node", "/metrics/cadvisor", "/metrics/kube-state", "/metrics/apps", "/metrics/self", "/metrics/components", "/config"):
    check(re.search(r"http://127\.0\.0\.1:%s%s\s" % (port, re.escape(ep)), text) is not None, "prints the URL %s" % ep)
check(re.search(r"k8smonitor\.k8smon\.io/default\s+True\s+Accepted\s+4", text) is not None,
      "prints kubectl get kmon,sr -A: the example K8sMonitor Accepted with 4 collectors", text[-800:])
check(len(re.findall(r"scraperule\.k8smon\.io/", text)) >= 3, "prints the example ScrapeRules (kubectl get kmon,sr -A)")
st, body = get("/readyz")
check(st == 200, "agent ready")
st, body = get("/metrics/kube-state")
check(re.search(r'^kube_pod_container_status_waiting_reason\{[^}]*reason="CrashLoopBackOff"[^}]*\} 1$', body, re.M) is not None,
      "kube-state shows the crash-looping pod of the example cluster")
check(len(re.findall(r"^kube_node_info\{", body, re.M)) >= 3, "kube-state shows the example nodes")
# the apps README.md's demo section names, all scraped
readme = open("README.md").read()
demo_doc = readme[readme.index("## What `make demo` shows"):readme.index("## Deploying in a cluster")]
m = re.search(r"as the pods `(\w+)`, `(\w+)` and `(\w+)`", demo_doc)
apps = list(m.groups()) if m else []
check(len(apps) == 3, "README.md's demo section names the three example apps", apps)
ports = re.search(r"example apps +frontend 127\.0\.0\.1:(\d+), checkout 127\.0\.0\.1:(\d+), grafana 127\.0\.0\.1:(\d+)", text)
check(ports is not None and all(int(p) not in (18081, 18082, 18083) for p in ports.groups()),
      "the example apps run on free ports (18081 held by the test), printed", ports and ports.groups())
def up(app):
    body = get("/metrics/apps")[1]
    return (re.search(r'^up\{[^}]*pod="%s-[^"]*"[^}]*\} 1$' % app, body, re.M) is not None and
            re.search(r'^demo_requests_total\{app="%s",' % app, body, re.M) is not None)
for app in apps:
    check(wait_until(lambda: up(app)), "app %s mentioned in README.md is scraped: up 1 and its samples in /metrics/apps" % app,
          get("/metrics/apps")[1][-600:])
logs = text + open(os.path.join(state, "apps.log")).read()
# the component jobs scrape tests/fakecomp's recorded components: every job up
jobs = ("apiserver", "etcd", "kube-controller-manager", "kube-dns", "kube-proxy", "kube-scheduler", "kubelet")
def comp_up():
    b = get("/metrics/components")[1]
    return all(re.search(r'^up\{[^}]*job="%s"[^}]*\} 1$' % j, b, re.M) for j in jobs) and \
        not re.search(r'^up\{.*\} 0$', b, re.M)
check(wait_until(comp_up, 90), "/metrics/components: every component job (%s) up 1 from the recorded components" % ", ".join(jobs),
      "\n".join(l for l in get("/metrics/components")[1].splitlines() if l.startswith("up{")))
check("recorded real components" in text, "says the component jobs replay recorded components", text[-800:])
check("Traceback" not in logs, "no Python traceback from the demo or its apps", logs[-600:])
# cgroups: rows per app container as root, else the reason printed
cad = get("/metrics/cadvisor")[1]
cgline = re.search(r"^  cgroups +(.*) \(the example apps' pods, kubelet layout\)$", text, re.M)
cgroots = cgline.group(1).split() if cgline else []
if os.geteuid() == 0:
    check(cgline is not None, "as root: the demo creates cgroups for the example pods", text[-800:])
    for app in apps:
        check(re.search(r'^container_cpu_usage_seconds_total\{container="%s",[^}]*id="/kubepods/burstable/pod[0-9a-f-]+/[0-9a-f]{64}",[^}]*pod="%s-[^"]*"' % (app, app),
                        cad, re.M) is not None,
              "as root: /metrics/cadvisor has the %s container's row (pod, kubelet cgroup path)" % app,
              "\n".join(l for l in cad.splitlines() if l.startswith("container_cpu_usage_seconds_total"))[:800])
else:
    check(re.search(r"/metrics/cadvisor shows only the node's own cgroups, no pod rows: not root", text) is not None,
          "not root: the demo says why /metrics/cadvisor has no pod rows", text[-800:])
# README's InvalidSpec example is the binary's message
WIDE = r"^default\s+False\s+InvalidSpec\s+(\d+)\s+(\d+)\s+(spec\.kubeState\.metricAllowlist.*?)\s+\S+$"
inv = re.search(WIDE, readme, re.M)
check(inv is not None, "README.md shows the InvalidSpec example")
kenv = dict(os.environ, KUBECONFIG=os.path.join(state, "kubeconfig"))
subprocess.run(["kubectl", "patch", "kmon", "default", "--type=merge", "-p",
                '{"spec":{"kubeState":{"metricAllowlist":["kube_pod_("]}}}'],
               env=kenv, capture_output=True, timeout=30)
def invalid():
    r = subprocess.run(["kubectl", "get", "kmon", "default", "-o", "wide", "--no-headers"], env=kenv,
                       capture_output=True, text=True, timeout=30)
    return r.stdout if "InvalidSpec" in r.stdout else ""
wait_until(invalid, 30)
got = invalid()
gm = re.search(WIDE, got.rstrip(), re.M)
check(inv is not None and gm is not None and gm.groups() == inv.groups(),
      "kubectl get kmon -o wide after metricAllowlist [\"kube_pod_(\"]: the message README.md shows", got)
members = subprocess.run(["ps", "-o", "pid=,args=", "-g", str(pg)], capture_output=True, text=True).stdout
check("fakeapi.py" in members and "bin/k8smon" in members, "the fake API server and the agent run in the demo's process group",
      members)
check("kubectl explain k8smonitor.spec" in text, "prints the kubectl explain hint")
kenv = dict(os.environ, KUBECONFIG=os.path.join(tmp, "demo", "kubeconfig"), HOME=tmp)
ex = subprocess.run(["kubectl", "explain", "k8smonitor.spec.kubeState"], capture_output=True, text=True, env=kenv)
check(ex.returncode == 0 and "kube-state-metrics v2 compatible" in ex.stdout and "labelsAllowlist" in ex.stdout,
      "kubectl explain k8smonitor.spec.kubeState against the demo: description and fields", ex.stdout + ex.stderr)
ex = subprocess.run(["kubectl", "patch", "kmon", "default", "--type=merge", "-p", '{"spec":{"interval":"2h"}}'],
                    capture_output=True, text=True, env=kenv)
check(ex.returncode != 0 and "spec.interval: Invalid value" in ex.stderr,
      "an edit the CRD forbids is refused by the demo's API server with the field path", ex.stdout + ex.stderr)
# Ctrl-C: the terminal sends SIGINT to the foreground process group
os.killpg(pg, signal.SIGINT)
try:
    rc = p.wait(timeout=30)
except subprocess.TimeoutExpired:
    rc = None
out.seek(0); text = out.read()
check(rc in (0, -signal.SIGINT), "make demo ends on SIGINT within 30 s (status %s: 0 or killed by SIGINT)" % rc, text[-600:])
check("demo: stopping" in text, "the demo's cleanup ran")
time.sleep(0.5)
left = subprocess.run(["ps", "-o", "pid=,args=", "-g", str(pg)], capture_output=True, text=True).stdout.strip()
check(left == "", "no process of the demo is left", left)
if left:
    os.killpg(pg, signal.SIGKILL)
check(get("/healthz")[0] == 0, "port %s is closed" % port)
check(not os.path.exists(os.path.join(state, "kubeconfig")), "after Ctrl-C: no kubeconfig left pointing at the stopped server")
check(cgroots == [] or not any(os.path.exists(r) for r in cgroots), "after Ctrl-C: the demo's cgroups are removed", cgroots)
held.close()
sys.exit(1 if fails else 0)
PY
rc=$?
[ $rc -eq 0 ] && echo "all checks passed" || { echo "test_demo failed"; exit 1; }

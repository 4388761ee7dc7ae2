#!/bin/sh
# `make demo` as a user runs it: started in its own process group with SIGINT at its
# default disposition (as in a terminal), it prints the URLs and `kubectl get kmon,sr -A`,
# serves the simulated cluster, and Ctrl-C (SIGINT to the whole foreground group) stops
# it: every process of the group gone, the port closed, make ending normally or by the
# SIGINT itself (never an error status).
set -u
cd "$(dirname "$0")/../.."
. tests/lib/common.sh
TMP=$(mktemp -d)
PORT=$(free_port)
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
def dfl():
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)
env = dict(os.environ, K8SMON_DEMO_PORT=port, K8SMON_DEMO_STATE=os.path.join(tmp, "demo"))
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
for ep in ("/metrics", "/metrics/node", "/metrics/cadvisor", "/metrics/kube-state", "/metrics/apps", "/metrics/self", "/config"):
    check("http://127.0.0.1:%s%s\n" % (port, ep) in text, "prints the URL %s" % ep)
check(re.search(r"k8smonitor\.k8smon\.io/default\s+True\s+Accepted\s+4", text) is not None,
      "prints kubectl get kmon,sr -A: the example K8sMonitor Accepted with 4 collectors", text[-800:])
check(len(re.findall(r"scraperule\.k8smon\.io/", text)) >= 3, "prints the example ScrapeRules (kubectl get kmon,sr -A)")
st, body = get("/readyz")
check(st == 200, "agent ready")
st, body = get("/metrics/kube-state")
check(re.search(r'^kube_pod_container_status_waiting_reason\{[^}]*reason="CrashLoopBackOff"[^}]*\} 1$', body, re.M) is not None,
      "kube-state shows the crash-looping pod of the example cluster")
check(len(re.findall(r"^kube_node_info\{", body, re.M)) >= 3, "kube-state shows the example nodes")
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
sys.exit(1 if fails else 0)
PY
rc=$?
[ $rc -eq 0 ] && echo "all checks passed" || { echo "test_demo failed"; exit 1; }

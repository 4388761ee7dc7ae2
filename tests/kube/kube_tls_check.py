#!/usr/bin/env python3
"""src/kube TLS against a live fake API server that requires client
certificates (fakeapi.py --client-auth required --no-default-sans):

* client-certificate/client-key files, then client-certificate-data/
  client-key-data: kubewatch lists+watches pods, syncs, sees a pod created
  afterwards, and the server authenticated it by the certificate's CN (the
  kubeconfigs hold no token);
* no client certificate, and a client certificate the server does not trust:
  one clear log line naming the cause, counted as cause="tls", retried, no crash;
* host-name mismatch (the server certificate has only IP 127.0.0.1, the
  kubeconfig says https://localhost:PORT): refused with one log line naming
  the mismatch; the same kubeconfig with insecure-skip-tls-verify: true syncs;
* no log line of any of them holds the client key (PEM body or the base64 of
  the -data kubeconfig) or a token.

usage: kube_tls_check.py KUBEWATCH"""
import base64
import os
import sys
import time

from kubetest import Fake, Watcher, kubeconfig, log, metric_value
from kube_misc_check import finish, mkpod, wait_keys

CN = "k8smon-client"


def secrets(fake):
    """Strings that must never appear in a log: every base64 line of the client
    key's PEM body, the base64 of the whole key file (client-key-data), tokens."""
    with open(fake.info["client_key"], "rb") as fh:
        raw = fh.read()
    out = [ln for ln in raw.decode().splitlines() if ln and not ln.startswith("-----")]
    out.append(base64.b64encode(raw).decode()[:40])
    out.append(fake.token)
    return out


def leaks(fake, w):
    err = w.stderr()
    bad = [s for s in secrets(fake) if s in err]
    if bad:
        log("%s: secret material in the log (%d strings)" % (w.name, len(bad)))
    return not bad


def requests_since(fake, seq):
    _, rq = fake.req("GET", "/_fake/requests?since=%d" % seq, auth=False)
    return rq["log"], rq["seq"]


def check_sync(kw, fake, name, kc, pod, debug=False):
    """Lists+watches pods with kc, sees a pod created after the sync, and every
    request it made was authenticated as the certificate's CN."""
    with open(kc) as fh:
        text = fh.read()
    if "token" in text:
        log("%s: the kubeconfig holds a token, it would not prove certificate auth" % name)
        return False
    _, seq = requests_since(fake, 0)
    w = Watcher(kw, ["--kubeconfig", kc, "--resource", "v1/pods"] + (["--debug"] if debug else []), name)
    ok = True
    try:
        w.expect("SYNCED v1/pods", 20)
        mkpod(fake, pod)
        if not wait_keys(w, ["default/" + pod], 20):
            log("%s: pod created after the sync never arrived" % name)
            ok = False
        d = w.dump()
        if not d["synced"] or d["violations"]:
            log("%s: synced %s, %d violations" % (name, d["synced"], d["violations"]))
            ok = False
        # A watch is logged when it ends: end them (kubewatch re-watches).
        fake.fault(action="drop_watches")
        time.sleep(1.0)
        # The harness itself talks with the same certificate: keep only the
        # client's LIST/WATCH of pods (the harness GETs /_fake, POSTs pods).
        mine = [r for r in requests_since(fake, seq)[0] if r["method"] == "GET" and r["path"] == "/api/v1/pods"]
        lists = [r for r in mine if not r["watch"]]
        watches = [r for r in mine if r["watch"]]
        if not lists or not watches or any(r["user"] != CN or r["code"] != 200 for r in mine):
            log("%s: expected LIST+WATCH as user %s with 200, got %s" %
                (name, CN, [(r["watch"], r["user"], r["code"]) for r in mine]))
            ok = False
        if metric_value(w.metrics(), 'k8smon_kube_errors_total{resource="pods"') != 0:
            log("%s: errors counted:\n%s" % (name, w.stderr()[-2000:]))
            ok = False
        ok &= leaks(fake, w)
    finally:
        ok &= finish(w)
    log("%s: %s" % (name, "ok" if ok else "FAILED"))
    return ok


def check_refused(kw, fake, name, kc, needle):
    """Exactly one log line, naming the resource and containing needle, while
    the LIST is retried and each failure is counted as cause="tls"; clean exit;
    no secret in the log."""
    w = Watcher(kw, ["--kubeconfig", kc, "--resource", "v1/pods"], name)
    ok = True
    try:
        w.expect("STARTED", 10)
        time.sleep(5)  # several retries (backoff 0.8 s doubling) in this time
        m = w.metrics()
        n = metric_value(m, 'k8smon_kube_errors_total{resource="pods",cause="tls"}')
        reqs = metric_value(m, 'k8smon_kube_requests_total{verb="LIST"')
        fails = [ln for ln in w.stderr().splitlines() if "failed" in ln]
        lines = [ln for ln in fails if needle in ln]
        if len(lines) != 1 or len(fails) != 1 or "resource=pods" not in lines[0]:
            log("%s: expected exactly 1 failure line naming resource=pods with %r, got:\n%s" %
                (name, needle, w.stderr()[-2000:]))
            ok = False
        if n < 2 or reqs < 2:
            log("%s: expected retries counted as cause=tls: %s errors, %s LIST requests" % (name, n, reqs))
            ok = False
        if "SYNCED v1/pods" in w.lines:
            log("%s: synced although TLS must fail" % name)
            ok = False
        if lines:
            log("%s: %s" % (name, lines[0]))
        ok &= leaks(fake, w)
    finally:
        ok &= finish(w)
    log("%s: %s" % (name, "ok" if ok else "FAILED"))
    return ok


def main():
    kw = sys.argv[1]
    fake = Fake("--client-auth", "required", "--no-default-sans", "--bookmark-interval", "1")
    ok = True
    try:
        info = fake.info
        ca = info["ca"]
        port = info["port"]
        ok &= check_sync(kw, fake, "cert-files", info["kubeconfig_cert"], "tls-files")
        ok &= check_sync(kw, fake, "cert-data", info["kubeconfig_cert_data"], "tls-data", debug=True)
        # No client certificate (and no token): the handshake is refused.
        ok &= check_refused(kw, fake, "no-client-cert",
                            kubeconfig(os.path.join(fake.dir, "kc-nocert"), fake.url, ca=ca),
                            "requires a client certificate")
        # A certificate from a CA the server does not trust for clients (the
        # server's own certificate): refused too, and said so.
        ok &= check_refused(kw, fake, "untrusted-client-cert",
                            kubeconfig(os.path.join(fake.dir, "kc-badcert"), fake.url, ca=ca,
                                       cert=os.path.join(fake.dir, "server.crt"),
                                       key=os.path.join(fake.dir, "server.key")),
                            "rejected the client certificate")
        # Host-name verification: the server certificate names only 127.0.0.1.
        local = "https://localhost:%d" % port
        ok &= check_refused(kw, fake, "host-mismatch",
                            kubeconfig(os.path.join(fake.dir, "kc-host"), local, ca=ca,
                                       cert=info["client_cert"], key=info["client_key"]),
                            "does not match the host name")
        ok &= check_sync(kw, fake, "host-mismatch-insecure",
                         kubeconfig(os.path.join(fake.dir, "kc-insecure"), local,
                                    cert=info["client_cert"], key=info["client_key"], insecure=True),
                         "tls-insecure")
    finally:
        fake.stop()
    print("kube TLS checks: %s" % ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

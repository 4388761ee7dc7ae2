#!/usr/bin/env python3
"""fakeapi.py -- a fake Kubernetes API server for k8smon tests (Python 3 stdlib only).

Faithful enough for the installed kubectl (v1.32): discovery, CRDs, CRUD, patches,
status subresource, list pagination, selectors, watch with bookmarks and 410,
server-side Table printing (incl. CRD additionalPrinterColumns), TLS + bearer token,
TokenReview / SubjectAccessReview, and a fault-injection control API.

Usage
-----
  fakeapi.py [--port 0] [--host 127.0.0.1] [--state-dir DIR] [--kubeconfig-out PATH]
             [--token TOK] [--extra-token TOK2 ...] [--plain-http] [--load PATH ...]
             [--history N] [--bookmark-interval S] [--watch-timeout S]
             [--continue-ttl S] [--rv-start N] [--control-port N]
             [--user TOKEN=NAME[:GROUP,GROUP]] [--authz-default allow|deny]
             [--enforce-authz] [--no-auth] [--auth-on-http] [--san NAME] [--no-default-sans]
             [--client-auth none|optional|required] [--client-cert-cn CN]
             [--client-cert-group G ...] [--strict-namespaces] [--request-log N] [--verbose]

Prints "READY <url>" on stdout once listening (url = https://127.0.0.1:PORT, or http://
with --plain-http).  With --control-port, a second line "CONTROL <url>" follows.
The state dir (default: a fresh temp dir) gets ca.crt/ca.key/server.crt/server.key
(made with the openssl CLI, reused if present), server.json
{"url", "control_url", "token", "ca", "kubeconfig", "pid", "port"} and serviceaccount/
{token, ca.crt, namespace} for in-cluster emulation.  --plain-http implies --no-auth
(kubectl never sends bearer tokens over plain HTTP) unless --auth-on-http.
The server certificate's SANs are 127.0.0.1, ::1, localhost, --host and every --san;
--no-default-sans leaves out the first three (host-name verification tests).

Client certificates (--client-auth optional|required; default none = no client certs):
the state dir also gets client-ca.crt/client-ca.key (a CA separate from the server's)
and client.crt/client.key (EC P-256, CN = --client-cert-cn, default "k8smon-client",
one O per --client-cert-group, default system:masters, EKU clientAuth).  The TLS
context verifies client certificates against client-ca.crt (required: a client
without one fails the handshake).  A request with a verified client certificate is
authenticated as user CN with groups O (as kube-apiserver's x509 authenticator does,
it is tried before the bearer token); without one the bearer token path is unchanged.
With --kubeconfig-out PATH, PATH keeps the token, and PATH-cert (client-certificate /
client-key file paths, no token) and PATH-cert-data (client-certificate-data /
client-key-data, base64, no token) are written too.  server.json then also holds
client_ca, client_cert, client_key, kubeconfig_cert, kubeconfig_cert_data.
Full documentation: tests/fakeapi/README.md.

Loading (--load FILE|DIR, repeatable; directories: *.json *.yaml *.yml, sorted, recursive):
JSON is parsed natively (objects, arrays, kind: *List, several concatenated documents).
YAML is converted offline by `kubectl label --local -o json -f FILE` (no server needed).
Loaded objects keep uid/creationTimestamp/status if given; CRDs and Namespaces load first.

Control API (no bearer token needed; served under /_fake/ on the main port -- over TLS
when TLS is on -- and, with --control-port, as plain HTTP on 127.0.0.1:<control-port>):
  GET  /_fake/health                       -> {"ok": true}
  GET  /_fake/state                        -> rv, compacted_rv, epoch, open watches, faults, tokens
  GET  /_fake/objects?resource=pods[&group=G][&namespace=NS][&name=N]
                                           -> {"resourceVersion": RV, "items": [...]}
  POST /_fake/objects   body: object | [objects] | {"items": [...]}   bulk upsert (emits events,
                        keeps status/uid); -> {"loaded": n}
  DELETE /_fake/objects?resource=pods[&group=G][&namespace=NS][&name=N]  -> {"deleted": n}
  GET  /_fake/requests[?since=SEQ]         -> {"seq": last, "counts": {"GET /api/v1/pods": n, ...},
                                               "verbs": {"list pods": n, ...}, "log": [...]}
  POST /_fake/requests/reset               -> clears request log and counters
  GET  /_fake/watches                      -> list of open watches
  POST /_fake/tokens    {"set": [..]} | {"add": [..]} | {"remove": [..]}   admin bearer tokens
  POST /_fake/auth      {"users": {"TOKEN": {"username": u, "groups": [..], "uid": ..}},
                         "rules": [{"user"|"group"|"verb"|"resource"|"subresource"|"namespace"|
                                    "name"|"apiGroup"|"path": value-or-list-or-"*",
                                    "allowed": bool, "reason": str}, ...],
                         "default_allowed": bool, "enforce": bool}
                        TokenReview answers from users + admin tokens; SubjectAccessReview from
                        rules (first match wins, else default_allowed).  With enforce (or
                        --enforce-authz) normal API requests of non-admin users are checked too.
  POST /_fake/fault     body {"action": ...}:
     {"action":"fail", "count":N, "code":500|429|503..., "retry_after":S, "path":substr,
      "method":"GET", "watch":true|false}       next N matching API requests fail (429 gets
                                                 Retry-After, default 1)
     {"action":"stall", "seconds":S, "count":N, "path":..., "method":..., "watch":..}
                                                 next N matching requests sleep S before serving
                                                 (both: "query":{"fieldSelector":"..."} matches
                                                 only requests with those exact parameters)
     {"action":"drop_watches", "abort":false, "resource":"pods"}  end open watches now
                                                 (abort=true: RST/close without final chunk)
     {"action":"garbage", "line":"not json", "resource":..}  write a garbage line into watches
     {"action":"pause_watches", "seconds":S, "resource":..}  open watches go silent (no events,
                                                 no bookmarks) for S seconds, then resume
     {"action":"expire", ["rv": R]}              compact history: watches from RV < R (default:
                                                 current RV) get ERROR 410 Expired; continue
                                                 tokens expire (410); open watches are dropped
     {"action":"new_epoch", "base": B, "rewrite": true}  "restart with new history": RV counter
                                                 jumps to B (default current+1000000), history
                                                 cleared, watches dropped, old RVs -> 410;
                                                 rewrite=true stamps every object with RV B
     {"action":"clear"}                          remove pending fail/stall faults
     {"action":"bookmark_interval", "seconds": S}
     {"action":"cr_validation", "enabled": false}   custom resources are pruned and defaulted
                                                 but not validated (no 422): "an older, looser
                                                 CRD"; true restores (also --no-cr-validation)
  Any request to a /_fake path not listed -> 404.

Semantics and deviations (documented choices)
  * One global integer resourceVersion counter (string on the wire); history of the last
    --history events (default 10000).  Watch RV "0"/absent: synthetic ADDED for current
    objects, then live events.  Watch RV older than the compaction horizon: HTTP 200 with one
    ERROR event (Status 410, reason Expired) then end.  Watch RV newer than the current RV:
    ERROR event with code 504 reason Timeout ("Too large resource version").
    sendInitialEvents=true: ADDED for all, then a BOOKMARK annotated
    k8s.io/initial-events-end=true.
  * Selectors on watches behave like the real server: an object that stops matching yields
    DELETED, one that starts matching yields ADDED.
  * Field selectors accept any dotted path (real server: metadata.name/namespace and a few
    per-kind fields), operators = == !=.
  * Deletes are immediate (finalizers / graceful deletion are ignored).  Deleting a namespace
    deletes its objects; deleting a CRD deletes its custom resources and its discovery.
  * Status subresource: CRs declaring it -- status dropped on create, status changes via
    main resource ignored, /status changes only status; generation bumps when anything
    outside metadata/status changes.  Built-ins: status is KEPT on create (so fixtures and
    --load can set pod phases), ignored on main-resource update, writable via /status.
  * PATCH: merge-patch, json-patch, strategic-merge (merge with list merge keys for common
    fields; 415 for custom resources like the real server), apply-patch+yaml with a JSON body
    is treated as a merge patch that creates when absent (fieldManager required; YAML bodies
    -> 415).
  * No-op updates keep the resourceVersion and emit no event (like the real server).
  * /openapi/v2 returns an empty protobuf document (kubectl then skips client-side
    validation); /openapi/v3 lists the CRD group-versions and serves their schemas
    (openapi3.py: kubectl explain, and kubectl sends fieldValidation=Strict for them).
  * Custom resources are pruned, defaulted and validated with the CRD's OpenAPI v3 schema
    and CEL rules on every API write (crschema.py): 422 Invalid with the real server's
    causes, unknown fields per fieldValidation (Strict 400, Warn header, Ignore).
    --load and POST /_fake/objects bypass it; --no-cr-validation / the cr_validation
    fault turn validation (not pruning/defaulting) off.
"""

import argparse
import base64
import collections
import datetime
import http.server
import json
import os
import queue
import random
import re
import select
import socket
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crschema  # noqa: E402  (next to this file; schema validation of custom resources)
import openapi3  # noqa: E402  (/openapi/v3 documents of custom resources)

JSON_CT = "application/json"

# --------------------------------------------------------------------------------------
# resource types

BUILTINS = [
    # group, version, plural, kind, namespaced, shortNames, categories, status
    ("", "v1", "namespaces", "Namespace", False, ["ns"], [], True),
    ("", "v1", "nodes", "Node", False, ["no"], [], True),
    ("", "v1", "pods", "Pod", True, ["po"], ["all"], True),
    ("", "v1", "services", "Service", True, ["svc"], ["all"], True),
    ("", "v1", "endpoints", "Endpoints", True, ["ep"], [], False),
    ("", "v1", "configmaps", "ConfigMap", True, ["cm"], [], False),
    ("", "v1", "secrets", "Secret", True, [], [], False),
    ("", "v1", "serviceaccounts", "ServiceAccount", True, ["sa"], [], False),
    ("", "v1", "events", "Event", True, ["ev"], [], False),
    ("", "v1", "resourcequotas", "ResourceQuota", True, ["quota"], [], True),
    ("", "v1", "limitranges", "LimitRange", True, ["limits"], [], False),
    ("", "v1", "persistentvolumes", "PersistentVolume", False, ["pv"], [], True),
    ("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ["pvc"], [], True),
    ("", "v1", "replicationcontrollers", "ReplicationController", True, ["rc"], ["all"], True),
    ("", "v1", "podtemplates", "PodTemplate", True, [], [], False),
    ("apps", "v1", "deployments", "Deployment", True, ["deploy"], ["all"], True),
    ("apps", "v1", "replicasets", "ReplicaSet", True, ["rs"], ["all"], True),
    ("apps", "v1", "statefulsets", "StatefulSet", True, ["sts"], ["all"], True),
    ("apps", "v1", "daemonsets", "DaemonSet", True, ["ds"], ["all"], True),
    ("apps", "v1", "controllerrevisions", "ControllerRevision", True, [], [], False),
    ("batch", "v1", "jobs", "Job", True, [], ["all"], True),
    ("batch", "v1", "cronjobs", "CronJob", True, ["cj"], ["all"], True),
    ("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, ["hpa"], ["all"], True),
    ("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ["pdb"], [], True),
    ("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True, [], [], False),
    ("networking.k8s.io", "v1", "ingresses", "Ingress", True, ["ing"], [], True),
    ("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, ["netpol"], [], False),
    ("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False, [], [], False),
    ("coordination.k8s.io", "v1", "leases", "Lease", True, [], [], False),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False,
     ["crd", "crds"], ["api-extensions"], True),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role", True, [], [], False),
    ("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True, [], [], False),
    ("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, [], [], False),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False, [], [], False),
    ("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, ["sc"], [], False),
    ("certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest", False,
     ["csr"], [], True),
    ("storage.k8s.io", "v1", "volumeattachments", "VolumeAttachment", False, [], [], True),
    ("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, ["pc"], [], False),
    ("events.k8s.io", "v1", "events", "Event", True, ["ev"], [], False),
    ("certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest", False, ["csr"], [], True),
    ("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", False, [], ["api-extensions"], False),
    ("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", False, [], ["api-extensions"], False),
    ("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies", "ValidatingAdmissionPolicy", False, [], ["api-extensions"], True),
    ("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings", "ValidatingAdmissionPolicyBinding", False, [], ["api-extensions"], False),
    ("admissionregistration.k8s.io", "v1", "mutatingadmissionpolicies", "MutatingAdmissionPolicy", False, [], ["api-extensions"], True),
    ("admissionregistration.k8s.io", "v1", "mutatingadmissionpolicybindings", "MutatingAdmissionPolicyBinding", False, [], ["api-extensions"], False),
    ("apiregistration.k8s.io", "v1", "apiservices", "APIService", False, [], ["api-extensions"], True),
    ("node.k8s.io", "v1", "runtimeclasses", "RuntimeClass", False, [], [], False),
]
# create-only "virtual" resources
VIRTUAL = [
    ("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", False),
    ("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", False),
    ("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", False),
    ("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False),
    ("authorization.k8s.io", "v1", "localsubjectaccessreviews", "LocalSubjectAccessReview", True),
]
ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


class RType(object):
    def __init__(self, group, versions, plural, kind, namespaced, short=(), categories=(),
                 status_versions=(), crd=False, virtual=False, columns=None, singular=None,
                 list_kind=None):
        self.group = group
        self.versions = list(versions)          # served versions, preferred first
        self.plural = plural
        self.kind = kind
        self.singular = singular or kind.lower()
        self.list_kind = list_kind or (kind + "List")
        self.namespaced = namespaced
        self.short = list(short)
        self.categories = list(categories)
        self.status_versions = set(status_versions)
        self.crd = crd
        self.virtual = virtual
        self.columns = columns or {}            # version -> additionalPrinterColumns (CRDs)
        self.scale = {}                         # version -> {specReplicasPath, statusReplicasPath, labelSelectorPath}
        self.schemas = {}                       # version -> (openAPIV3Schema, crschema.Rules) (CRDs)

    @property
    def gk(self):
        return (self.group, self.plural)

    def gv(self, version):
        return version if not self.group else self.group + "/" + version

    def has_status(self, version):
        return version in self.status_versions

    def qual(self):
        return self.plural if not self.group else self.plural + "." + self.group


_VER_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(v):
    m = _VER_RE.match(v)
    if not m:
        return (3, 0, 0, v)
    major = int(m.group(1))
    if m.group(2) is None:
        return (0, -major, 0, v)
    return (1 if m.group(2) == "beta" else 2, -major, -int(m.group(3)), v)


# --------------------------------------------------------------------------------------
# small helpers

_ts_cache = [0, ""]


def now_ts():
    t = int(time.time())
    if t != _ts_cache[0]:
        _ts_cache[1] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        _ts_cache[0] = t
    return _ts_cache[1]


def parse_ts(s):
    try:
        s = s.strip()
        if s.endswith("Z"):
            s = s[:-1] + "+00:00"
        return datetime.datetime.fromisoformat(s).timestamp()
    except Exception:
        return None


def human_duration(seconds):
    """apimachinery duration.HumanDuration."""
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    s = int(seconds)
    if s < 120:
        return "%ds" % s
    minutes = s // 60
    if minutes < 10:
        return "%dm" % minutes if s % 60 == 0 else "%dm%ds" % (minutes, s % 60)
    if minutes < 180:
        return "%dm" % minutes
    hours = s // 3600
    if hours < 8:
        return "%dh" % hours if minutes % 60 == 0 else "%dh%dm" % (hours, minutes % 60)
    if hours < 48:
        return "%dh" % hours
    if hours < 24 * 8:
        return "%dd" % (hours // 24) if hours % 24 == 0 else "%dd%dh" % (hours // 24, hours % 24)
    if hours < 24 * 365 * 2:
        return "%dd" % (hours // 24)
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return "%dy" % (hours // 24 // 365) if dy == 0 else "%dy%dd" % (hours // 24 // 365, dy)
    return "%dy" % (hours // 24 // 365)


def age_of(obj):
    ts = (obj.get("metadata") or {}).get("creationTimestamp")
    t = parse_ts(ts) if isinstance(ts, str) else None
    if t is None:
        return "<unknown>"
    return human_duration(time.time() - t)


def dumps(o):
    return json.dumps(o, separators=(",", ":")).encode()


def jcopy(o):
    return json.loads(json.dumps(o))


REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
           405: "MethodNotAllowed", 406: "NotAcceptable", 409: "Conflict", 410: "Expired",
           415: "UnsupportedMediaType", 422: "Invalid", 429: "TooManyRequests",
           500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}


def status_obj(code, message, reason=None, details=None):
    st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
          "message": message, "reason": reason or REASONS.get(code, ""), "code": code}
    if details:
        st["details"] = details
    return st


class ApiError(Exception):
    def __init__(self, code, message, reason=None, details=None, headers=None):
        Exception.__init__(self, message)
        self.code = code
        self.status = status_obj(code, message, reason, details)
        self.headers = headers or {}


def check_shape(obj):
    """Reject objects whose metadata would break the server (422 like the real one)."""
    if not isinstance(obj, dict):
        raise ApiError(400, "object must be a JSON object")
    md = obj.get("metadata")
    if md is None:
        return
    if not isinstance(md, dict):
        raise ApiError(400, "metadata must be an object")
    for k in ("labels", "annotations"):
        v = md.get(k)
        if v is not None and (not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values())):
            raise ApiError(422, "metadata.%s: Invalid value: must be a map of strings" % k, "Invalid")
    for k in ("name", "namespace", "generateName", "resourceVersion"):
        v = md.get(k)
        if v is not None and not isinstance(v, str):
            raise ApiError(400, "metadata.%s must be a string" % k)


def not_found(rt, name):
    return ApiError(404, '%s "%s" not found' % (rt.qual(), name), "NotFound",
                    {"name": name, "group": rt.group, "kind": rt.plural})


# --------------------------------------------------------------------------------------
# selectors

def _split_top(s):
    out, depth, cur = [], 0, []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return [x.strip() for x in out if x.strip()]


_KEY_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$")
_SET_RE = re.compile(r"^(\S+)\s+(in|notin)\s*\((.*)\)$")


def parse_label_selector(s):
    reqs = []
    if not s:
        return reqs
    for p in _split_top(s):
        m = _SET_RE.match(p)
        if m:
            vals = set(v.strip() for v in m.group(3).split(",") if v.strip())
            reqs.append((m.group(2), m.group(1), vals))
            continue
        if p.startswith("!"):
            k = p[1:].strip()
            if not _KEY_RE.match(k):
                raise ValueError("invalid label selector term %r" % p)
            reqs.append(("!exists", k, None))
            continue
        for op in ("!=", "==", "=", ">", "<"):
            if op in p:
                k, v = p.split(op, 1)
                k, v = k.strip(), v.strip()
                if not _KEY_RE.match(k):
                    raise ValueError("invalid label selector term %r" % p)
                reqs.append(({"==": "="}.get(op, op), k, v))
                break
        else:
            if not _KEY_RE.match(p):
                raise ValueError("invalid label selector term %r" % p)
            reqs.append(("exists", p, None))
    return reqs


def label_match(reqs, labels):
    for op, k, v in reqs:
        has = k in labels
        val = labels.get(k)
        if op == "=":
            if not has or val != v:
                return False
        elif op == "!=":
            if has and val == v:
                return False
        elif op == "in":
            if not has or val not in v:
                return False
        elif op == "notin":
            if has and val in v:
                return False
        elif op == "exists":
            if not has:
                return False
        elif op == "!exists":
            if has:
                return False
        elif op in (">", "<"):
            try:
                a, b = int(val), int(v)
            except (TypeError, ValueError):
                return False
            if (op == ">" and not a > b) or (op == "<" and not a < b):
                return False
    return True


def parse_field_selector(s):
    reqs = []
    if not s:
        return reqs
    for p in _split_top(s):
        for op in ("!=", "==", "="):
            if op in p:
                k, v = p.split(op, 1)
                reqs.append(("!=" if op == "!=" else "=", k.strip(), v.strip()))
                break
        else:
            raise ValueError("invalid field selector term %r" % p)
    return reqs


def field_value(obj, path):
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
        if cur is None:
            return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if isinstance(cur, (dict, list)):
        return json.dumps(cur)
    return str(cur)


def field_match(reqs, obj):
    for op, k, v in reqs:
        fv = field_value(obj, k)
        if op == "=" and fv != v:
            return False
        if op == "!=" and fv == v:
            return False
    return True


# --------------------------------------------------------------------------------------
# JSONPath subset (CRD additionalPrinterColumns)

def _jp_parse(path):
    p = path.strip()
    if p.startswith("{") and p.endswith("}"):
        p = p[1:-1]
    steps, i, n = [], 0, len(p)
    if p.startswith("$"):
        i = 1
    while i < n:
        c = p[i]
        if c == ".":
            i += 1
            j = i
            while j < n and p[j] not in ".[":
                j += 1
            if j > i:
                steps.append(("key", p[i:j]))
            i = j
        elif c == "[":
            j = i + 1
            depth = 1
            quote = None
            while j < n and depth:
                ch = p[j]
                if quote:
                    if ch == quote:
                        quote = None
                elif ch in "'\"":
                    quote = ch
                elif ch == "[":
                    depth += 1
                elif ch == "]":
                    depth -= 1
                j += 1
            inner = p[i + 1:j - 1].strip()
            i = j
            if inner == "*":
                steps.append(("all", None))
            elif inner.startswith("?(") and inner.endswith(")"):
                steps.append(("filter", _jp_filter(inner[2:-1].strip())))
            elif inner[:1] in "'\"":
                steps.append(("key", inner[1:-1]))
            else:
                if ":" in inner:
                    a, b = inner.split(":", 1)
                    steps.append(("slice", (int(a) if a.strip() else None, int(b) if b.strip() else None)))
                else:
                    steps.append(("index", int(inner)))
        else:
            j = i
            while j < n and p[j] not in ".[":
                j += 1
            steps.append(("key", p[i:j]))
            i = j
    return steps


_FILTER_RE = re.compile(r"^@((?:\.[^\s=!<>]+)+)\s*(==|!=|<=|>=|<|>)?\s*(.*)$")


def _jp_filter(expr):
    m = _FILTER_RE.match(expr)
    if not m:
        raise ValueError("unsupported filter %r" % expr)
    keys = m.group(1)[1:].split(".")
    op = m.group(2)
    val = m.group(3).strip()
    if val[:1] in "'\"" and val[-1:] == val[:1]:
        val = val[1:-1]
    else:
        try:
            val = json.loads(val) if val else None
        except ValueError:
            pass
    return (keys, op, val)


def _jp_get(obj, keys):
    cur = obj
    for k in keys:
        if not isinstance(cur, dict) or k not in cur:
            return False, None
        cur = cur[k]
    return True, cur


def jsonpath(obj, path):
    cur = [obj]
    for kind, arg in _jp_parse(path):
        nxt = []
        for v in cur:
            if kind == "key":
                if isinstance(v, dict) and arg in v:
                    nxt.append(v[arg])
            elif kind == "index":
                if isinstance(v, list) and -len(v) <= arg < len(v):
                    nxt.append(v[arg])
            elif kind == "slice":
                if isinstance(v, list):
                    nxt.extend(v[arg[0]:arg[1]])
            elif kind == "all":
                if isinstance(v, list):
                    nxt.extend(v)
                elif isinstance(v, dict):
                    nxt.extend(v.values())
            elif kind == "filter":
                if isinstance(v, dict):
                    v = list(v.values())
                if not isinstance(v, list):
                    continue
                keys, op, want = arg
                for item in v:
                    ok, got = _jp_get(item, keys)
                    if not ok:
                        continue
                    if op is None:
                        nxt.append(item)
                        continue
                    a, b = got, want
                    if isinstance(a, (int, float)) and not isinstance(a, bool) and isinstance(b, (int, float)):
                        pass
                    else:
                        a, b = _jp_str(a), _jp_str(b)
                    try:
                        r = {"==": a == b, "!=": a != b, "<": a < b, ">": a > b,
                             "<=": a <= b, ">=": a >= b}[op]
                    except TypeError:
                        r = False
                    if r:
                        nxt.append(item)
        cur = nxt
    return cur


def _jp_str(v):
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return ""
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


# --------------------------------------------------------------------------------------
# minimal protobuf request decoding (kubectl's typed clients send protobuf bodies for
# e.g. `create namespace`, `create configmap/secret`, `auth can-i`, `auth whoami`)

def _pb_fields(buf):
    i, n = 0, len(buf)

    def varint():
        nonlocal i
        shift = val = 0
        while True:
            b = buf[i]
            i += 1
            val |= (b & 0x7F) << shift
            if not b & 0x80:
                return val
            shift += 7

    while i < n:
        key = varint()
        fno, wt = key >> 3, key & 7
        if wt == 0:
            yield fno, varint()
        elif wt == 2:
            ln = varint()
            yield fno, buf[i:i + ln]
            i += ln
        elif wt == 1:
            yield fno, buf[i:i + 8]
            i += 8
        elif wt == 5:
            yield fno, buf[i:i + 4]
            i += 4
        else:
            raise ValueError("unsupported protobuf wire type %d" % wt)


_PB_META = {1: ("name", "s"), 2: ("generateName", "s"), 3: ("namespace", "s"), 5: ("uid", "s"),
            6: ("resourceVersion", "s"), 7: ("generation", "i"), 11: ("labels", "map"),
            12: ("annotations", "map"), 14: ("finalizers", "rs")}
_PB_RA = {1: ("namespace", "s"), 2: ("verb", "s"), 3: ("group", "s"), 4: ("version", "s"),
          5: ("resource", "s"), 6: ("subresource", "s"), 7: ("name", "s")}
_PB_SCHEMAS = {
    "Namespace": {1: ("metadata", _PB_META), 2: ("spec", {1: ("finalizers", "rs")})},
    "ConfigMap": {1: ("metadata", _PB_META), 2: ("data", "map"), 3: ("binaryData", "bmap"),
                  4: ("immutable", "b")},
    "Secret": {1: ("metadata", _PB_META), 2: ("data", "bmap"), 3: ("type", "s"), 4: ("stringData", "map"),
               5: ("immutable", "b")},
    "ServiceAccount": {1: ("metadata", _PB_META)},
    "SelfSubjectReview": {1: ("metadata", _PB_META)},
    "SelfSubjectAccessReview": {1: ("metadata", _PB_META), 2: ("spec", {
        1: ("resourceAttributes", _PB_RA), 2: ("nonResourceAttributes", {1: ("path", "s"), 2: ("verb", "s")})})},
}


def _pb_decode(buf, schema):
    out = {}
    for fno, val in _pb_fields(buf):
        if fno not in schema:
            continue
        name, typ = schema[fno]
        if isinstance(typ, dict):
            out[name] = _pb_decode(val, typ)
        elif typ == "s":
            out[name] = val.decode("utf-8")
        elif typ == "rs":
            out.setdefault(name, []).append(val.decode("utf-8"))
        elif typ == "i":
            out[name] = val
        elif typ == "b":
            out[name] = bool(val)
        elif typ in ("map", "bmap"):
            k = v = b""
            for f2, v2 in _pb_fields(val):
                if f2 == 1:
                    k = v2
                elif f2 == 2:
                    v = v2
            out.setdefault(name, {})[k.decode("utf-8")] = (
                v.decode("utf-8") if typ == "map" else base64.b64encode(v).decode())
    return out


def decode_k8s_protobuf(body):
    """k8s protobuf envelope ("k8s\\0" + runtime.Unknown) -> dict, for the kinds in _PB_SCHEMAS."""
    if not body.startswith(b"k8s\x00"):
        raise ValueError("missing k8s protobuf magic")
    tm, raw = {}, b""
    for fno, val in _pb_fields(body[4:]):
        if fno == 1:
            tm = _pb_decode(val, {1: ("apiVersion", "s"), 2: ("kind", "s")})
        elif fno == 2:
            raw = val
    schema = _PB_SCHEMAS.get(tm.get("kind"))
    if schema is None:
        raise KeyError(tm.get("kind"))
    obj = {"apiVersion": tm.get("apiVersion", ""), "kind": tm["kind"]}
    obj.update(_pb_decode(raw, schema))
    return obj


# --------------------------------------------------------------------------------------
# patches

def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


SMP_KEYS = {"containers": "name", "initContainers": "name", "ephemeralContainers": "name",
            "env": "name", "volumes": "name", "volumeMounts": "mountPath",
            "volumeDevices": "devicePath", "imagePullSecrets": "name", "conditions": "type",
            "ownerReferences": "uid", "hostAliases": "ip", "readinessGates": "conditionType",
            "topologySpreadConstraints": "topologyKey", "ports": None, "finalizers": None,
            "addresses": "type", "taints": "key", "containerStatuses": "name"}


def _smp_list(cur, patch, field):
    if not all(isinstance(x, dict) for x in patch) or not all(isinstance(x, dict) for x in cur):
        # primitive merge list (finalizers): union keeping order
        if field == "finalizers":
            out = list(cur)
            for x in patch:
                if x not in out:
                    out.append(x)
            return out
        return patch
    key = SMP_KEYS.get(field)
    if key is None:
        key = "containerPort" if any("containerPort" in x for x in patch + cur) else "port"
    out = list(cur)
    for item in patch:
        directive = item.get("$patch")
        kv = item.get(key)
        idx = next((i for i, x in enumerate(out) if x.get(key) == kv), None)
        if directive == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if directive == "replace":
            return [dict((k, v) for k, v in x.items() if k != "$patch") for x in patch]
        if idx is None:
            out.append(strategic_patch({}, item))
        else:
            out[idx] = strategic_patch(out[idx], item)
    return out


def strategic_patch(target, patch):
    if not isinstance(patch, dict):
        return patch
    if patch.get("$patch") == "replace":
        return dict((k, v) for k, v in patch.items() if k != "$patch")
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if k == "$patch" or k.startswith("$setElementOrder/") or k.startswith("$retainKeys"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            f = k.split("/", 1)[1]
            if isinstance(result.get(f), list):
                result[f] = [x for x in result[f] if x not in v]
            continue
        if v is None:
            result.pop(k, None)
            continue
        cur = result.get(k)
        if isinstance(v, list) and k in SMP_KEYS and isinstance(cur, list):
            result[k] = _smp_list(cur, v, k)
        elif isinstance(v, dict):
            if v.get("$patch") == "delete":
                result.pop(k, None)
            else:
                result[k] = strategic_patch(cur, v)
        elif isinstance(v, list):
            result[k] = [strategic_patch({}, x) if isinstance(x, dict) else x for x in v]
        else:
            result[k] = v
    return result


def _ptr(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, "invalid JSON pointer %r" % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _ptr_parent(doc, parts):
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, list):
            cur = cur[int(p)]
        elif isinstance(cur, dict):
            cur = cur[p]
        else:
            raise KeyError(p)
    return cur


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise ApiError(400, "json patch must be an array")
    doc = jcopy(doc)
    for op in ops:
        try:
            kind = op["op"]
            parts = _ptr(op.get("path", ""))
            if kind in ("add", "replace", "test"):
                val = jcopy(op["value"])
            if kind in ("move", "copy"):
                fparts = _ptr(op["from"])
                src = _ptr_parent(doc, fparts)
                last = fparts[-1]
                val = src[int(last)] if isinstance(src, list) else src[last]
                val = jcopy(val)
                if kind == "move":
                    if isinstance(src, list):
                        src.pop(int(last))
                    else:
                        del src[last]
                kind = "add"
            if not parts:
                if kind == "add" or kind == "replace":
                    doc = val
                    continue
                if kind == "test":
                    if doc != val:
                        raise ApiError(422, "test operation failed")
                    continue
                raise ApiError(422, "cannot remove root")
            parent = _ptr_parent(doc, parts)
            last = parts[-1]
            if isinstance(parent, list):
                if kind == "add":
                    if last == "-":
                        parent.append(val)
                    else:
                        i = int(last)
                        if i < 0 or i > len(parent):
                            raise IndexError(last)
                        parent.insert(i, val)
                elif kind == "replace":
                    parent[int(last)] = val
                elif kind == "remove":
                    parent.pop(int(last))
                elif kind == "test":
                    if parent[int(last)] != val:
                        raise ApiError(422, "test operation failed for path %s" % op["path"])
                else:
                    raise ApiError(400, "unknown json patch op %r" % kind)
            elif isinstance(parent, dict):
                if kind == "add":
                    parent[last] = val
                elif kind == "replace":
                    if last not in parent:
                        raise KeyError(last)
                    parent[last] = val
                elif kind == "remove":
                    del parent[last]
                elif kind == "test":
                    if parent.get(last) != val:
                        raise ApiError(422, "test operation failed for path %s" % op["path"])
                else:
                    raise ApiError(400, "unknown json patch op %r" % kind)
            else:
                raise KeyError(last)
        except ApiError:
            raise
        except (KeyError, IndexError, ValueError, TypeError) as e:
            raise ApiError(422, "the server rejected our request due to an error in our request: "
                           "json patch %s operation does not apply: %s" % (op.get("op") if isinstance(op, dict) else op, e),
                           "Invalid")
    return doc


# --------------------------------------------------------------------------------------
# store

class Entry(object):
    __slots__ = ("obj", "_enc")

    def __init__(self, obj):
        self.obj = obj
        self._enc = None

    def enc(self):
        e = self._enc
        if e is None:
            e = self._enc = dumps(self.obj)
        return e


class Event(object):
    __slots__ = ("rv", "gk", "type", "entry", "old")

    def __init__(self, rv, gk, etype, entry, old):
        self.rv, self.gk, self.type, self.entry, self.old = rv, gk, etype, entry, old


class Watcher(object):
    _ids = 0

    def __init__(self, rt, ns, client, path):
        Watcher._ids += 1
        self.id = Watcher._ids
        self.rt = rt
        self.ns = ns
        self.q = queue.Queue()
        self.client = client
        self.path = path
        self.started = time.time()


class Store(object):
    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()
        self.rv = args.rv_start
        self.compacted_rv = args.rv_start
        self.epoch = 0
        self.data = {}                 # gk -> ns -> name -> Entry
        self.history = collections.deque()
        self.history_max = max(1, args.history)
        self.watchers = {}             # gk -> set(Watcher)
        self.types = {}                # gk -> RType
        self.by_gv = {}                # (group, version) -> {plural: RType}
        self.kinds = {}                # (group, kind) -> RType
        self.snapshots = collections.OrderedDict()   # sid -> (time, rv, [entries])
        self.bookmark_interval = args.bookmark_interval
        for g, v, plural, kind, nsd, short, cats, st in BUILTINS:
            rt = RType(g, [v], plural, kind, nsd, short, cats, [v] if st else [])
            if plural in ("deployments", "replicasets", "statefulsets", "replicationcontrollers"):
                rt.scale[v] = {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
                               "labelSelectorPath": ".spec.selector"}
            self._register(rt)
        for g, v, plural, kind, nsd in VIRTUAL:
            self._register(RType(g, [v], plural, kind, nsd, virtual=True))

    # ---- registry
    def _register(self, rt):
        for v, (_, rules) in sorted(rt.schemas.items()):
            for where, rule, why in rules.unsupported:
                sys.stderr.write("fakeapi: %s/%s %s: x-kubernetes-validations rule not checked (%s): %s\n"
                                 % (rt.qual(), v, where, why, rule))
        old = self.types.get(rt.gk)
        if old is not None:
            self._unregister(old)
        self.types[rt.gk] = rt
        for v in rt.versions:
            self.by_gv.setdefault((rt.group, v), {})[rt.plural] = rt
        self.kinds[(rt.group, rt.kind)] = rt
        self.data.setdefault(rt.gk, {})

    def _unregister(self, rt):
        self.types.pop(rt.gk, None)
        for v in rt.versions:
            d = self.by_gv.get((rt.group, v))
            if d is not None:
                d.pop(rt.plural, None)
                if not d:
                    del self.by_gv[(rt.group, v)]
        if self.kinds.get((rt.group, rt.kind)) is rt:
            del self.kinds[(rt.group, rt.kind)]

    def lookup(self, group, version, plural):
        d = self.by_gv.get((group, version))
        return d.get(plural) if d else None

    def groups(self):
        """group -> sorted versions (preferred first)."""
        out = collections.OrderedDict()
        seen = {}
        for (g, v) in self.by_gv:
            seen.setdefault(g, set()).add(v)
        for g, vs in seen.items():
            if g == "":
                continue
            out[g] = sorted(vs, key=version_priority)
        return out

    def crd_type(self, crd):
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group = spec.get("group")
        plural = names.get("plural")
        kind = names.get("kind")
        if not group or not plural or not kind:
            raise ApiError(422, "CustomResourceDefinition is invalid: spec.group, spec.names.plural "
                           "and spec.names.kind are required", "Invalid")
        name = (crd.get("metadata") or {}).get("name")
        if name != plural + "." + group:
            raise ApiError(422, 'CustomResourceDefinition.apiextensions.k8s.io "%s" is invalid: '
                           'metadata.name: Invalid value: "%s": must be spec.names.plural+"."+spec.group'
                           % (name, name), "Invalid")
        vers = [v for v in (spec.get("versions") or []) if v.get("served", True) and v.get("name")]
        if not vers:
            raise ApiError(422, "CustomResourceDefinition is invalid: spec.versions: at least one "
                           "served version is required", "Invalid")
        vnames = sorted((v["name"] for v in vers), key=version_priority)
        st = [v["name"] for v in vers
              if "status" in ((v.get("subresources") or spec.get("subresources") or {}))]
        cols = {}
        for v in vers:
            c = v.get("additionalPrinterColumns")
            if c is None:
                c = spec.get("additionalPrinterColumns")
            cols[v["name"]] = c or []
        rt = RType(group, vnames, plural, kind, spec.get("scope", "Namespaced") == "Namespaced",
                   names.get("shortNames") or [], names.get("categories") or [], st, crd=True,
                   columns=cols, singular=names.get("singular") or kind.lower(),
                   list_kind=names.get("listKind"))
        for v in vers:
            sc = (v.get("subresources") or spec.get("subresources") or {}).get("scale")
            if isinstance(sc, dict) and sc.get("specReplicasPath"):
                rt.scale[v["name"]] = sc
            schema = (v.get("schema") or spec.get("validation") or {}).get("openAPIV3Schema")
            if isinstance(schema, dict):
                schema = jcopy(schema)
                rt.schemas[v["name"]] = (schema, crschema.Rules(schema))
        return rt

    # ---- core mutation (caller holds the lock)
    def _next_rv(self):
        self.rv += 1
        return self.rv

    def _record(self, rt, etype, entry, old):
        ev = Event(self.rv, rt.gk, etype, entry, old)
        if len(self.history) >= self.history_max:
            dropped = self.history.popleft()
            if dropped.rv > self.compacted_rv:
                self.compacted_rv = dropped.rv
        self.history.append(ev)
        for w in self.watchers.get(rt.gk, ()):
            w.q.put(ev)

    def get_entry(self, rt, ns, name):
        d = self.data.get(rt.gk, {}).get(ns or "")
        return d.get(name) if d else None

    def put_entry(self, rt, ns, name, obj, etype, old):
        """obj already has its final metadata.resourceVersion == self.rv."""
        e = Entry(obj)
        self.data[rt.gk].setdefault(ns or "", {})[name] = e
        self._record(rt, etype, e, old)
        return e

    def delete_entry(self, rt, ns, name):
        d = self.data.get(rt.gk, {}).get(ns or "")
        old = d.pop(name, None) if d else None
        if old is None:
            return None
        if not d:
            self.data[rt.gk].pop(ns or "", None)
        rv = self._next_rv()
        obj = dict(old.obj)
        md = dict(obj.get("metadata") or {})
        md["resourceVersion"] = str(rv)
        obj["metadata"] = md
        e = Entry(obj)
        self._record(rt, "DELETED", e, old)
        if rt.gk == ("", "namespaces"):
            self._cascade_namespace(name)
        elif rt.gk == ("apiextensions.k8s.io", "customresourcedefinitions"):
            self._drop_crd(old.obj)
        return e

    def _cascade_namespace(self, ns):
        for gk, rt in list(self.types.items()):
            if not rt.namespaced:
                continue
            d = self.data.get(gk, {}).get(ns)
            if d:
                for name in sorted(d):
                    self.delete_entry(rt, ns, name)

    def _drop_crd(self, crd):
        try:
            rt0 = self.crd_type(crd)
        except ApiError:
            return
        rt = self.types.get(rt0.gk)
        if rt is None or not rt.crd:
            return
        for ns in sorted(self.data.get(rt.gk, {})):
            for name in sorted(self.data[rt.gk].get(ns, {})):
                self.delete_entry(rt, ns, name)
        self._unregister(rt)
        self.data.pop(rt.gk, None)
        for w in list(self.watchers.get(rt.gk, ())):
            w.q.put(("drop", False))

    def entries(self, rt, ns):
        """Sorted entries for a list (ns None = all namespaces). Caller holds the lock."""
        d = self.data.get(rt.gk, {})
        if ns:
            sub = d.get(ns)
            return [sub[n] for n in sorted(sub)] if sub else []
        out = []
        for n in sorted(d):
            sub = d[n]
            out.extend(sub[k] for k in sorted(sub))
        return out

    def add_watcher(self, w):
        self.watchers.setdefault(w.rt.gk, set()).add(w)

    def remove_watcher(self, w):
        with self.lock:
            s = self.watchers.get(w.rt.gk)
            if s:
                s.discard(w)

    def all_watchers(self, resource=None):
        out = []
        for gk, s in self.watchers.items():
            if resource and gk[1] != resource:
                continue
            out.extend(s)
        return out

    # ---- continue snapshots
    def new_snapshot(self, rv, entries):
        sid = uuid.uuid4().hex[:16]
        self.snapshots[sid] = (time.time(), rv, entries)
        while len(self.snapshots) > 64:
            self.snapshots.popitem(last=False)
        return sid

    def get_snapshot(self, sid):
        s = self.snapshots.get(sid)
        if s is None:
            return None
        if time.time() - s[0] > self.args.continue_ttl or s[1] < self.compacted_rv:
            self.snapshots.pop(sid, None)
            return None
        return s


# --------------------------------------------------------------------------------------
# Table printing

def _col(name, typ="string", fmt="", desc="", priority=0):
    return {"name": name, "type": typ, "format": fmt, "description": desc or name, "priority": priority}


NAME_COL = _col("Name", "string", "name", "Name must be unique within a namespace.")
AGE_COL = _col("Age", "string", "", "CreationTimestamp is a timestamp representing the server time when this object was created.")


def _pod_cells(o):
    spec, st = o.get("spec") or {}, o.get("status") or {}
    cs = st.get("containerStatuses") or []
    total = len(spec.get("containers") or [])
    ready = sum(1 for c in cs if c.get("ready"))
    restarts = sum(int(c.get("restartCount") or 0) for c in cs)
    reason = st.get("reason") or st.get("phase") or "Unknown"
    running = False
    for c in reversed(cs):
        state = c.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif (state.get("terminated") or {}).get("reason"):
            reason = state["terminated"]["reason"]
        elif "terminated" in state:
            t = state["terminated"]
            reason = "Signal:%s" % t["signal"] if t.get("signal") else "ExitCode:%s" % t.get("exitCode", 0)
        elif c.get("ready") and "running" in state:
            running = True
    if reason == "Completed" and running:
        reason = "Running"
    if (o.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    return ["%d/%d" % (ready, total), reason, restarts, age_of(o), st.get("podIP") or "<none>",
            spec.get("nodeName") or "<none>", st.get("nominatedNodeName") or "<none>", "<none>"]


def _node_cells(o):
    st = o.get("status") or {}
    conds = st.get("conditions") or []
    status = "Unknown"
    for c in conds:
        if c.get("type") == "Ready":
            status = "Ready" if c.get("status") == "True" else "NotReady"
    if (o.get("spec") or {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    labels = (o.get("metadata") or {}).get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/") and "/" in k)
    if labels.get("kubernetes.io/role"):
        roles.append(labels["kubernetes.io/role"])
    info = st.get("nodeInfo") or {}
    ip = next((a.get("address") for a in st.get("addresses") or [] if a.get("type") == "InternalIP"), "<none>")
    return [status, ",".join(roles) or "<none>", age_of(o), info.get("kubeletVersion", ""), ip,
            info.get("osImage", "<unknown>"), info.get("kernelVersion", "<unknown>"),
            info.get("containerRuntimeVersion", "<unknown>")]


def _svc_cells(o):
    spec = o.get("spec") or {}
    ports = ",".join("%s%s/%s" % (p.get("port"), (":%s" % p["nodePort"]) if p.get("nodePort") else "",
                                  p.get("protocol", "TCP")) for p in spec.get("ports") or [])
    ext = ",".join(spec.get("externalIPs") or []) or "<none>"
    return [spec.get("type", "ClusterIP"), spec.get("clusterIP") or "<none>", ext, ports or "<none>", age_of(o)]


def _deploy_cells(o):
    spec, st = o.get("spec") or {}, o.get("status") or {}
    return ["%d/%d" % (st.get("readyReplicas", 0), spec.get("replicas", 1)), st.get("updatedReplicas", 0),
            st.get("availableReplicas", 0), age_of(o)]


BUILTIN_TABLES = {
    ("", "pods"): ([_col("Ready"), _col("Status"), _col("Restarts", "integer"), AGE_COL,
                    _col("IP", priority=1), _col("Node", priority=1),
                    _col("Nominated Node", priority=1), _col("Readiness Gates", priority=1)], _pod_cells),
    ("", "nodes"): ([_col("Status"), _col("Roles"), AGE_COL, _col("Version"),
                     _col("Internal-IP", priority=1), _col("OS-Image", priority=1),
                     _col("Kernel-Version", priority=1), _col("Container-Runtime", priority=1)], _node_cells),
    ("", "namespaces"): ([_col("Status"), AGE_COL],
                         lambda o: [(o.get("status") or {}).get("phase", "Active"), age_of(o)]),
    ("", "services"): ([_col("Type"), _col("Cluster-IP"), _col("External-IP"), _col("Port(s)"), AGE_COL], _svc_cells),
    ("apps", "deployments"): ([_col("Ready"), _col("Up-to-date", "integer"), _col("Available", "integer"), AGE_COL],
                              _deploy_cells),
    ("apiextensions.k8s.io", "customresourcedefinitions"): (
        [_col("Created At", "date")], lambda o: [(o.get("metadata") or {}).get("creationTimestamp")]),
}


def _cr_cell(obj, col):
    try:
        res = jsonpath(obj, col.get("jsonPath", ""))
    except Exception:
        return None
    if not res:
        return None
    v = res[0]
    t = col.get("type", "string")
    if t == "date":
        if not isinstance(v, str):
            return None
        ts = parse_ts(v)
        return "<invalid>" if ts is None else human_duration(time.time() - ts)
    if t == "integer":
        return v if isinstance(v, int) and not isinstance(v, bool) else None
    if t == "number":
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None
    if t == "boolean":
        return v if isinstance(v, bool) else None
    return _jp_str(v)


def table_columns(rt, version):
    if rt.crd:
        cols = rt.columns.get(version) or []
        if not cols:
            return [NAME_COL, AGE_COL], lambda o: [age_of(o)]
        defs = [NAME_COL] + [_col(c.get("name", ""), "string" if c.get("type") == "date" else c.get("type", "string"),
                                  c.get("format", "") if c.get("type") != "date" else "",
                                  c.get("description", ""), c.get("priority", 0)) for c in cols]
        return defs, lambda o: [_cr_cell(o, c) for c in cols]
    spec = BUILTIN_TABLES.get(rt.gk)
    if spec:
        return [NAME_COL] + spec[0], spec[1]
    return [NAME_COL, AGE_COL], lambda o: [age_of(o)]


def table_row(obj, fn, include):
    md = obj.get("metadata") or {}
    try:
        cells = [md.get("name", "")] + fn(obj)
    except Exception:
        cells = [md.get("name", "")]
    row = {"cells": cells}
    if include == "Object":
        row["object"] = obj
    elif include != "None":
        row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": md}
    return row


# --------------------------------------------------------------------------------------
# the server

class Server(object):
    def __init__(self, args):
        self.args = args
        self.store = Store(args)
        self.admin_tokens = []
        self.users = {}                    # token -> {"username":..,"groups":[..],"uid":..}
        self.rules = [{"group": "system:masters", "allowed": True}]
        self.default_allowed = args.authz_default == "allow"
        self.enforce = args.enforce_authz
        self.cr_validation = not args.no_cr_validation
        self.faults = []
        self.flock = threading.Lock()
        self.reqlog = collections.deque(maxlen=args.request_log)
        self.counts = collections.Counter()
        self.verbs = collections.Counter()
        self.seq = 0
        self.url = None
        self.started = time.time()
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.upsert({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns},
                         "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})

    # ---- auth
    def authenticate(self, token):
        if not isinstance(token, str):
            return None
        if token in self.admin_tokens:
            return {"username": "admin", "uid": "admin-uid", "groups": ["system:masters", "system:authenticated"]}
        u = self.users.get(token)
        if u is not None:
            u = dict(u)
            u.setdefault("groups", [])
            if "system:authenticated" not in u["groups"]:
                u["groups"] = list(u["groups"]) + ["system:authenticated"]
            return u
        return None

    def authorize(self, user, groups, attrs):
        for r in self.rules:
            ok = True
            for key, val in r.items():
                if key in ("allowed", "reason"):
                    continue
                vals = val if isinstance(val, list) else [val]
                if "*" in vals:
                    continue
                if key == "user":
                    ok = user in vals
                elif key == "group":
                    ok = any(g in vals for g in groups or [])
                else:
                    ok = attrs.get(key, "") in vals
                if not ok:
                    break
            if ok:
                return bool(r.get("allowed", True)), r.get("reason", "")
        return self.default_allowed, "no rule matched" if not self.default_allowed else ""

    # ---- faults
    def take_fault(self, method, path, is_watch, q=None):
        with self.flock:
            for f in self.faults:
                if f.get("path") and f["path"] not in path:
                    continue
                if any((q or {}).get(k) != v for k, v in (f.get("query") or {}).items()):
                    continue
                if f.get("method") and f["method"].upper() != method:
                    continue
                if "watch" in f and bool(f["watch"]) != is_watch:
                    continue
                f["count"] -= 1
                if f["count"] <= 0:
                    self.faults.remove(f)
                return dict(f)
        return None

    # ---- object loading (bypasses the API; keeps status/uid)
    def upsert(self, obj, emit=True):
        st = self.store
        check_shape(obj)
        av = obj.get("apiVersion", "")
        group, _, version = av.rpartition("/")
        with st.lock:
            rt = st.kinds.get((group, obj.get("kind")))
            if rt is None:
                raise ApiError(400, "no resource for %s %s" % (av, obj.get("kind")))
            md = dict(obj.get("metadata") or {})
            name = md.get("name")
            if not name:
                raise ApiError(400, "metadata.name required")
            ns = (md.get("namespace") or "default") if rt.namespaced else ""
            if rt.namespaced:
                md["namespace"] = ns
            else:
                md.pop("namespace", None)
            old = st.get_entry(rt, ns, name)
            if rt.gk == ("apiextensions.k8s.io", "customresourcedefinitions"):
                nrt = st.crd_type(dict(obj, metadata=md))
                obj = self._crd_status(obj)
            rv = st._next_rv()
            md["resourceVersion"] = str(rv)
            if "uid" not in md:
                md["uid"] = old.obj["metadata"]["uid"] if old else str(uuid.uuid4())
            if "creationTimestamp" not in md:
                md["creationTimestamp"] = old.obj["metadata"].get("creationTimestamp") if old else now_ts()
            if "generation" not in md:
                md["generation"] = 1
            obj = dict(obj, metadata=md)
            if rt.gk == ("apiextensions.k8s.io", "customresourcedefinitions"):
                st._register(nrt)
            if emit:
                st.put_entry(rt, ns, name, obj, "MODIFIED" if old else "ADDED", old)
            else:
                st.data[rt.gk].setdefault(ns, {})[name] = Entry(obj)
        return obj

    def _crd_status(self, crd):
        names = dict((crd.get("spec") or {}).get("names") or {})
        names.setdefault("singular", names.get("kind", "").lower())
        names.setdefault("listKind", names.get("kind", "") + "List")
        vers = (crd.get("spec") or {}).get("versions") or []
        storage = [v["name"] for v in vers if v.get("storage")] or [v.get("name") for v in vers[:1]]
        ts = now_ts()
        status = {"conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": ts},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": ts}],
            "acceptedNames": names, "storedVersions": storage}
        return dict(crd, status=status)


def load_path(path):
    """Return a list of objects from a JSON/YAML file or directory."""
    files = []
    if os.path.isdir(path):
        for root, _dirs, fnames in os.walk(path):
            for f in fnames:
                if f.endswith((".json", ".yaml", ".yml")):
                    files.append(os.path.join(root, f))
        files.sort()
    else:
        files = [path]
    lenient = os.path.isdir(path)     # in directories, skip files that are not k8s objects
    objs = []
    for f in files:
        try:
            if f.endswith(".json"):
                with open(f) as fh:
                    text = fh.read()
            else:
                p = subprocess.run(["kubectl", "label", "--local", "-o", "json", "-f", f,
                                    "fakeapi-dummy-label-", "--kubeconfig=/dev/null"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
                if p.returncode != 0:
                    raise ValueError(p.stderr.strip()[:300])
                text = p.stdout
            docs = flatten_docs(parse_json_stream(text), strip_empty_labels=not f.endswith(".json"))
            for d in docs:
                if not d.get("apiVersion") or not d.get("kind"):
                    raise ValueError("document without apiVersion/kind")
        except (ValueError, OSError) as e:
            if not lenient:
                raise SystemExit("fakeapi: cannot load %s: %s" % (f, e))
            sys.stderr.write("fakeapi: skipping %s: %s\n" % (f, str(e)[:200]))
            continue
        for d in docs:
            d["_fakeapi_src"] = (f, lenient)
        objs.extend(docs)
    return objs


def parse_json_stream(text):
    dec = json.JSONDecoder()
    i, n, out = 0, len(text), []
    while True:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            break
        v, i = dec.raw_decode(text, i)
        out.append(v)
    return out


def flatten_docs(docs, strip_empty_labels=False):
    out = []
    for d in docs:
        if isinstance(d, list):
            out.extend(flatten_docs(d, strip_empty_labels))
        elif isinstance(d, dict) and isinstance(d.get("items"), list) and str(d.get("kind", "")).endswith("List"):
            out.extend(flatten_docs(d["items"], strip_empty_labels))
        elif isinstance(d, dict):
            if strip_empty_labels and (d.get("metadata") or {}).get("labels") == {}:
                d["metadata"].pop("labels")
            out.append(d)
    return out


def load_order(o):
    k = o.get("kind")
    return 0 if k == "CustomResourceDefinition" else 1 if k == "Namespace" else 2


# --------------------------------------------------------------------------------------
# HTTP handler

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakeapi/1"
    control_only = False

    def log_message(self, fmt, *a):
        if self.server.app.args.verbose:
            sys.stderr.write("fakeapi: %s %s\n" % (self.address_string(), fmt % a))

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_HEAD(self):
        self.dispatch("HEAD")

    # ---- plumbing
    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send_raw(self, code, body, ctype=JSON_CT, headers=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (headers.items() if isinstance(headers, dict) else headers or []):
            self.send_header(k, str(v))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._code = code

    def send_json(self, code, obj, headers=None):
        self.send_raw(code, obj if isinstance(obj, bytes) else dumps(obj), JSON_CT, headers)

    def send_error_status(self, e):
        self.send_json(e.code, e.status, e.headers)

    def dispatch(self, method):
        app = self.server.app
        t0 = time.time()
        self._code = 0
        self._headers_sent = False
        self._user = ""
        self._verb = ""
        u = urllib.parse.urlsplit(self.path)
        path = u.path
        q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        is_watch = q.get("watch") in ("1", "true", "True")
        try:
            body = self.read_body()
        except Exception:
            self.close_connection = True
            return
        try:
            if path.startswith("/_fake/") or path == "/_fake" or self.control_only:
                try:
                    self.control(method, path, q, body)
                except (TypeError, AttributeError, ValueError, KeyError) as e:
                    raise ApiError(400, "bad control API request: %s: %s" % (type(e).__name__, e))
            else:
                self.api(method, path, q, body, is_watch)
        except ApiError as e:
            self._safe_error(e)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
            self.close_connection = True
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            self._safe_error(ApiError(500, "fakeapi internal error: %s: %s" % (type(e).__name__, e)))
        finally:
            if not (path.startswith("/_fake") or self.control_only):
                with app.flock:
                    app.seq += 1
                    key = "%s %s" % (method, path)
                    app.counts[key] += 1
                    if self._verb:
                        app.verbs[self._verb] += 1
                    app.reqlog.append({"seq": app.seq, "time": t0, "method": method, "path": path,
                                       "query": u.query, "code": self._code, "user": self._user,
                                       "verb": self._verb, "watch": is_watch,
                                       "ms": round((time.time() - t0) * 1000, 2)})

    def cert_user(self):
        """The identity of a verified client certificate (CN = user, O = groups), else None."""
        if self.server.ssl_ctx is None or self.server.ssl_ctx.verify_mode == ssl.CERT_NONE:
            return None
        try:
            cert = self.connection.getpeercert()
        except (AttributeError, ValueError, ssl.SSLError):
            return None
        if not cert:
            return None
        cn, groups = None, []
        for rdn in cert.get("subject", ()):
            for k, v in rdn:
                if k == "commonName":
                    cn = v
                elif k == "organizationName":
                    groups.append(v)
        if not cn:
            return None
        return {"username": cn, "uid": cn + "-uid", "groups": groups + ["system:authenticated"]}

    def _safe_error(self, e):
        if getattr(self, "_headers_sent", False):
            self.close_connection = True
            return
        try:
            self.send_error_status(e)
        except Exception:
            self.close_connection = True

    def end_headers(self):
        self._headers_sent = True
        http.server.BaseHTTPRequestHandler.end_headers(self)

    # ---- the API
    def api(self, method, path, q, body, is_watch):
        app = self.server.app
        public = path in ("/healthz", "/livez", "/readyz", "/version", "/version/") or \
            path.startswith(("/healthz/", "/livez/", "/readyz/"))
        auth = self.headers.get("Authorization") or ""
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        user = self.cert_user() or app.authenticate(token)
        if user is None and not public and not app.args.no_auth:
            raise ApiError(401, "Unauthorized", "Unauthorized")
        if user:
            self._user = user["username"]
        f = app.take_fault(method, path, is_watch, q)
        if f is not None:
            if f["action"] == "stall":
                time.sleep(float(f.get("seconds", 1)))
            else:
                code = int(f.get("code", 500))
                hdr = {}
                if code == 429 or "retry_after" in f:
                    hdr["Retry-After"] = str(f.get("retry_after", 1))
                msg = f.get("message") or ("injected fault: %s" % REASONS.get(code, code))
                raise ApiError(code, msg, headers=hdr,
                               details={"retryAfterSeconds": int(f.get("retry_after", 1))} if code == 429 else None)
        if path in ("/healthz", "/livez", "/readyz") or path.startswith(("/healthz/", "/livez/", "/readyz/")):
            return self.send_raw(200, b"ok", "text/plain; charset=utf-8")
        if path in ("/version", "/version/"):
            return self.send_json(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0-fakeapi",
                                        "gitCommit": "0000000000000000000000000000000000000000",
                                        "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z",
                                        "goVersion": "go1.23.0", "compiler": "gc", "platform": "linux/amd64"})
        if path == "/openapi/v2":
            return self.send_raw(200, b"", "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
        if path == "/openapi/v3" or path.startswith("/openapi/v3/"):
            return self.openapi_v3(path[len("/openapi/v3"):].strip("/"))
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["api"]:
            group, rest = "", parts[1:]
            if not rest:
                self._verb = "discovery"
                return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                            "serverAddressByClientCIDRs": [
                                                {"clientCIDR": "0.0.0.0/0", "serverAddress": self.server_addr()}]})
        elif parts[:1] == ["apis"]:
            if len(parts) == 1:
                self._verb = "discovery"
                return self.send_json(200, self.group_list())
            group, rest = parts[1], parts[2:]
            if not rest:
                self._verb = "discovery"
                g = self.group_list(only=group)
                if not g["groups"]:
                    raise ApiError(404, "the server could not find the requested resource")
                return self.send_json(200, dict(g["groups"][0], kind="APIGroup", apiVersion="v1"))
        else:
            raise ApiError(404, "the server could not find the requested resource")
        version, rest = rest[0], rest[1:]
        st = app.store
        if not rest:
            self._verb = "discovery"
            with st.lock:
                d = st.by_gv.get((group, version))
                if d is None:
                    raise ApiError(404, "the server could not find the requested resource")
                return self.send_json(200, self.resource_list(group, version, d))
        ns = None
        if rest[0] == "namespaces" and len(rest) >= 3 and not (group == "" and len(rest) == 3 and rest[2] in ("status", "finalize")):
            ns, rest = rest[1], rest[2:]
        if len(rest) > 3:
            raise ApiError(404, "the server could not find the requested resource")
        plural = rest[0]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        with st.lock:
            rt = st.lookup(group, version, plural)
        if rt is None:
            raise ApiError(404, "the server could not find the requested resource")
        if sub == "finalize" and rt.gk == ("", "namespaces"):
            sub = "status"
        if rt.namespaced is False and ns is not None:
            raise ApiError(404, "the server could not find the requested resource")
        if sub is not None and not ((sub == "status" and rt.has_status(version)) or
                                    (sub == "scale" and version in rt.scale)):
            raise ApiError(404, "the server could not find the requested resource")
        if rt.namespaced and ns is None and (name is not None or method == "POST") and not rt.virtual:
            raise ApiError(404, "the server could not find the requested resource")
        verb = {"GET": "get" if name else ("watch" if is_watch else "list"), "HEAD": "get",
                "POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete" if name else "deletecollection"}.get(method, method.lower())
        self._verb = "%s %s%s" % (verb, rt.plural, "/" + sub if sub else "")
        if user is not None and app.enforce and "system:masters" not in user.get("groups", []):
            ok, why = app.authorize(user["username"], user.get("groups"),
                                    {"verb": verb, "resource": rt.plural, "subresource": sub or "",
                                     "namespace": ns or "", "name": name or "", "apiGroup": group})
            if not ok:
                raise ApiError(403, '%s%s is forbidden: User "%s" cannot %s resource "%s" in API group "%s"%s'
                               % (rt.qual(), ' "%s"' % name if name else "", user["username"], verb, rt.plural, group,
                                  ' in the namespace "%s"' % ns if ns else " at the cluster scope"),
                               "Forbidden", {"name": name or "", "group": group, "kind": rt.plural})
        if rt.virtual:
            if method != "POST" or name is not None:
                raise ApiError(405, "the server does not allow this method on the requested resource")
            return self.review(rt, version, ns, body, user)
        ops = Ops(app, rt, version, ns, q)
        if sub == "scale":
            return self.scale(ops, method, name, body)
        if method in ("GET", "HEAD"):
            if name is None:
                if is_watch:
                    return self.watch(ops)
                return self.send_list(ops)
            return self.send_obj(200, ops.get(name), ops)
        if method == "POST":
            if name is not None:
                raise ApiError(405, "the server does not allow this method on the requested resource")
            return self.send_obj(201, ops.create(self.parse_body(body)), ops)
        if method == "PUT":
            if name is None:
                raise ApiError(405, "the server does not allow this method on the requested resource")
            return self.send_obj(200, ops.update(name, self.parse_body(body), sub), ops)
        if method == "PATCH":
            if name is None:
                raise ApiError(405, "the server does not allow this method on the requested resource")
            ct = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            code, obj = ops.patch(name, ct, body, sub)
            return self.send_obj(code, obj, ops)
        if method == "DELETE":
            opts = {}
            if body.strip():
                try:
                    opts = json.loads(body)
                except ValueError:
                    raise ApiError(400, "invalid DeleteOptions body")
            if name is None:
                items = ops.delete_collection()
                return self.send_json(200, {"kind": rt.list_kind, "apiVersion": rt.gv(version),
                                            "metadata": {"resourceVersion": str(st.rv)}, "items": items})
            return self.send_obj(200, ops.delete(name, opts if isinstance(opts, dict) else {}), ops)
        raise ApiError(405, "method not allowed")

    def openapi_v3(self, gv):
        """/openapi/v3: the group-versions of custom resources with a schema; /openapi/v3/apis/G/V:
        their document (openapi3.py). The ?hash= a client sends is not checked."""
        self._verb = "openapi"
        st = self.server.app.store
        with st.lock:
            docs = {}
            for rt in st.types.values():
                for v, (schema, _) in rt.schemas.items():
                    docs.setdefault("apis/%s/%s" % (rt.group, v), (rt.group, v, []))[2].append(
                        {"kind": rt.kind, "list_kind": rt.list_kind, "plural": rt.plural,
                         "namespaced": rt.namespaced, "status": rt.has_status(v), "schema": schema})
            docs = dict((k, openapi3.encode(openapi3.gv_document(g, v, sorted(kinds, key=lambda x: x["kind"]))))
                        for k, (g, v, kinds) in docs.items())
        if not gv:
            return self.send_json(200, {"paths": dict(
                (k, {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (k, h)}) for k, (_, h) in sorted(docs.items()))})
        if gv not in docs:
            raise ApiError(404, "the server could not find the requested resource")
        return self.send_raw(200, docs[gv][0], JSON_CT)

    def parse_body(self, body):
        ct = self.headers.get("Content-Type") or ""
        if "protobuf" in ct:
            try:
                return decode_k8s_protobuf(body)
            except (KeyError, ValueError, IndexError, UnicodeDecodeError):
                pass
        if "protobuf" in ct or "cbor" in ct:
            raise ApiError(415, "the body of the request was in an unknown format - accepted media types "
                           "include: application/json, application/yaml", "UnsupportedMediaType")
        try:
            obj = json.loads(body or b"null")
        except ValueError as e:
            ct = self.headers.get("Content-Type") or ""
            if "yaml" in ct:
                raise ApiError(415, "fakeapi accepts only JSON bodies", "UnsupportedMediaType")
            raise ApiError(400, "invalid JSON body: %s" % e)
        if not isinstance(obj, dict):
            raise ApiError(400, "body must be a JSON object")
        return obj

    def server_addr(self):
        h, p = self.server.server_address[:2]
        return "%s:%d" % (h, p)

    def group_list(self, only=None):
        st = self.server.app.store
        groups = []
        with st.lock:
            for g, vs in st.groups().items():
                if only is not None and g != only:
                    continue
                groups.append({"name": g,
                               "versions": [{"groupVersion": g + "/" + v, "version": v} for v in vs],
                               "preferredVersion": {"groupVersion": g + "/" + vs[0], "version": vs[0]}})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def resource_list(self, group, version, d):
        res = []
        for plural in sorted(d):
            rt = d[plural]
            if rt.virtual:
                verbs = ["create"]
            else:
                verbs = list(ALL_VERBS)
            r = {"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
                 "kind": rt.kind, "verbs": verbs}
            if rt.short:
                r["shortNames"] = rt.short
            if rt.categories:
                r["categories"] = rt.categories
            res.append(r)
            if rt.has_status(version):
                res.append({"name": rt.plural + "/status", "singularName": "", "namespaced": rt.namespaced,
                            "kind": rt.kind, "verbs": ["get", "patch", "update"]})
            if version in rt.scale:
                res.append({"name": rt.plural + "/scale", "singularName": "", "namespaced": rt.namespaced,
                            "group": "autoscaling", "version": "v1", "kind": "Scale",
                            "verbs": ["get", "patch", "update"]})
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": version if not group else group + "/" + version, "resources": res}

    # ---- response shaping
    def want_table(self):
        a = self.headers.get("Accept") or ""
        for part in a.split(","):
            if "as=Table" in part:
                return True
            if part.strip().startswith("application/json") and "as=" not in part:
                return False
        return False

    def want_partial(self):
        a = (self.headers.get("Accept") or "").split(",")[0]
        return "as=PartialObjectMetadata" in a

    def include_object(self, ops):
        return ops.q.get("includeObject") or "Metadata"

    def send_obj(self, code, obj, ops):
        if self.want_table() and self.command == "GET":
            defs, fn = table_columns(ops.rt, ops.version)
            return self.send_json(code, {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                                         "metadata": {"resourceVersion": (obj.get("metadata") or {}).get("resourceVersion", "")},
                                         "columnDefinitions": defs,
                                         "rows": [table_row(obj, fn, self.include_object(ops))]})
        if self.want_partial() and self.command == "GET":
            return self.send_json(code, {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                         "metadata": obj.get("metadata") or {}})
        self.send_json(code, obj, [("Warning", w) for w in ops.warnings])

    def send_list(self, ops):
        rv, items, cont, remaining = ops.list()
        meta = {"resourceVersion": str(rv)}
        if cont:
            meta["continue"] = cont
            if remaining is not None:
                meta["remainingItemCount"] = remaining
        if self.want_table():
            defs, fn = table_columns(ops.rt, ops.version)
            inc = self.include_object(ops)
            rows = [table_row(ops.fix(e).obj, fn, inc) for e in items]
            return self.send_json(200, {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                                        "columnDefinitions": defs, "rows": rows})
        if self.want_partial():
            return self.send_json(200, {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                                        "metadata": meta,
                                        "items": [{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                                   "metadata": e.obj.get("metadata") or {}} for e in items]})
        head = dumps({"kind": ops.rt.list_kind, "apiVersion": ops.rt.gv(ops.version), "metadata": meta})
        body = head[:-1] + b',"items":[' + b",".join(ops.fix(e).enc() for e in items) + b"]}"
        self.send_raw(200, body)

    # ---- watch
    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def watch(self, ops):
        app = self.server.app
        st = app.store
        q = ops.q
        try:
            timeout = float(q.get("timeoutSeconds") or 0)
        except ValueError:
            raise ApiError(400, "invalid timeoutSeconds")
        if timeout <= 0:
            timeout = app.args.watch_timeout
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1", "True")
        send_initial = q.get("sendInitialEvents") in ("true", "1")
        rvp = q.get("resourceVersion", "")
        table = self.want_table()
        defs, fn = table_columns(ops.rt, ops.version) if table else (None, None)
        inc = self.include_object(ops)
        w = Watcher(ops.rt, ops.ns, self.client_address, self.path)
        initial, backlog, err = [], [], None
        with st.lock:
            if rvp in ("", "0") or send_initial:
                initial = [e for e in st.entries(ops.rt, ops.ns) if ops.match(e.obj)]
            else:
                try:
                    r = int(rvp)
                except ValueError:
                    raise ApiError(400, "invalid resourceVersion %r" % rvp)
                if r < st.compacted_rv:
                    err = status_obj(410, "too old resource version: %d (%d)" % (r, st.compacted_rv), "Expired")
                elif r > st.rv:
                    err = status_obj(504, "Too large resource version: %d, current: %d" % (r, st.rv), "Timeout",
                                     {"causes": [{"reason": "ResourceVersionTooLarge",
                                                  "message": "Too large resource version"}],
                                      "retryAfterSeconds": 1})
                else:
                    backlog = [ev for ev in st.history if ev.rv > r and ev.gk == ops.rt.gk]
            start_rv = st.rv
            if err is None:
                st.add_watcher(w)
        self.send_response(200)
        self.send_header("Content-Type", JSON_CT)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self._code = 200
        abort = False

        def line(etype, obj):
            if table and etype != "ERROR" and etype != "BOOKMARK":
                o = {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                     "metadata": {"resourceVersion": (obj.get("metadata") or {}).get("resourceVersion", "")},
                     "columnDefinitions": defs, "rows": [table_row(obj, fn, inc)]}
                return b'{"type":"%s","object":%s}\n' % (etype.encode(), dumps(o))
            return b'{"type":"%s","object":%s}\n' % (etype.encode(), dumps(obj))

        def ev_line(etype, entry):
            entry = ops.fix(entry)
            if table:
                return line(etype, entry.obj)
            return b'{"type":"%s","object":%s}\n' % (etype.encode(), entry.enc())

        def bookmark(rv, initial_end=False):
            md = {"resourceVersion": str(rv)}
            if initial_end:
                md["annotations"] = {"k8s.io/initial-events-end": "true"}
            return line("BOOKMARK", {"kind": ops.rt.kind, "apiVersion": ops.rt.gv(ops.version), "metadata": md})

        try:
            if err is not None:
                self.write_chunk(line("ERROR", err))
                return
            for e in initial:
                self.write_chunk(ev_line("ADDED", e))
            if send_initial and bookmarks:
                self.write_chunk(bookmark(start_rv, True))
            for ev in backlog:
                ln = self.translate(ops, ev, ev_line)
                if ln:
                    self.write_chunk(ln)
            deadline = time.time() + timeout
            next_bm = time.time() + st.bookmark_interval
            while True:
                now = time.time()
                if now >= deadline:
                    break
                wait = deadline - now
                if bookmarks:
                    wait = min(wait, max(0.0, next_bm - now))
                try:
                    item = w.q.get(timeout=max(0.001, min(wait, 1.0)))
                except queue.Empty:
                    item = None
                    if self.client_gone():
                        return
                if item is not None:
                    if isinstance(item, tuple):
                        kind, arg = item
                        if kind == "drop":
                            abort = arg
                            return
                        if kind == "garbage":
                            self.write_chunk(arg)
                        elif kind == "pause":
                            time.sleep(arg)          # silent: no events, no bookmarks
                            next_bm = time.time() + st.bookmark_interval
                        continue
                    ln = self.translate(ops, item, ev_line)
                    if ln:
                        self.write_chunk(ln)
                    continue
                if bookmarks and time.time() >= next_bm:
                    self.flush_and_bookmark(w, ops, ev_line, bookmark)
                    if not w.alive:
                        return
                    next_bm = time.time() + st.bookmark_interval
            if bookmarks:
                self.flush_and_bookmark(w, ops, ev_line, bookmark)
        finally:
            st.remove_watcher(w)
            self.close_connection = True
            if abort:
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except Exception:
                    pass
            else:
                try:
                    self.wfile.write(b"0\r\n\r\n")
                except Exception:
                    pass

    def client_gone(self):
        """True when the watch client closed its side (so idle watch threads do not linger)."""
        try:
            r, _, _ = select.select([self.connection], [], [], 0)
            if not r:
                return False
            self.connection.settimeout(0)
            try:
                data = self.connection.recv(1)
            finally:
                self.connection.settimeout(None)
            return data == b""
        except (ssl.SSLWantReadError, BlockingIOError, InterruptedError):
            return False
        except Exception:
            return True

    def flush_and_bookmark(self, w, ops, ev_line, bookmark):
        st = self.server.app.store
        pending = []
        with st.lock:
            while True:
                try:
                    pending.append(w.q.get_nowait())
                except queue.Empty:
                    break
            rv = st.rv
        w.alive = True
        for item in pending:
            if isinstance(item, tuple):
                if item[0] == "drop":
                    w.alive = False
                    return
                if item[0] == "pause":
                    time.sleep(item[1])
                else:
                    self.write_chunk(item[1])
                continue
            ln = self.translate(ops, item, ev_line)
            if ln:
                self.write_chunk(ln)
        self.write_chunk(bookmark(rv))

    def translate(self, ops, ev, ev_line):
        if ev.type == "ADDED":
            return ev_line("ADDED", ev.entry) if ops.match(ev.entry.obj) else None
        if ev.type == "DELETED":
            return ev_line("DELETED", ev.entry) if ops.match(ev.old.obj) or ops.match(ev.entry.obj) else None
        new_m = ops.match(ev.entry.obj)
        old_m = ev.old is not None and ops.match(ev.old.obj)
        if new_m and old_m:
            return ev_line("MODIFIED", ev.entry)
        if new_m:
            return ev_line("ADDED", ev.entry)
        if old_m:
            return ev_line("DELETED", ev.entry)
        return None

    # ---- /scale
    def scale(self, ops, method, name, body):
        sc = ops.rt.scale[ops.version]
        st = self.server.app.store

        def to_scale(obj):
            md = obj.get("metadata") or {}
            spec_r = jsonpath(obj, sc["specReplicasPath"])
            stat_r = jsonpath(obj, sc.get("statusReplicasPath") or ".status.replicas")
            sel = jsonpath(obj, sc["labelSelectorPath"]) if sc.get("labelSelectorPath") else []
            sel = sel[0] if sel else ""
            if isinstance(sel, dict):
                sel = ",".join("%s=%s" % kv for kv in sorted((sel.get("matchLabels") or {}).items()))
            return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                    "metadata": {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                                     "creationTimestamp") if k in md},
                    "spec": {"replicas": spec_r[0] if spec_r else 0},
                    "status": {"replicas": stat_r[0] if stat_r else 0, "selector": sel}}

        if method in ("GET", "HEAD"):
            return self.send_json(200, to_scale(ops.get(name)))
        if method not in ("PUT", "PATCH"):
            raise ApiError(405, "the server does not allow this method on the requested resource")
        with st.lock:
            old = st.get_entry(ops.rt, ops.ns, name)
            if old is None:
                raise not_found(ops.rt, name)
            cur = to_scale(old.obj)
            if method == "PUT":
                new = self.parse_body(body)
            else:
                ct = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                try:
                    p = json.loads(body or b"null")
                except ValueError:
                    raise ApiError(400, "invalid JSON patch body")
                new = json_patch(cur, p) if ct == "application/json-patch+json" else merge_patch(cur, p)
            check_shape(new)
            want_rv = (new.get("metadata") or {}).get("resourceVersion")
            replicas = (new.get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                raise ApiError(422, "Scale.autoscaling \"%s\" is invalid: spec.replicas: Invalid value" % name, "Invalid")
            keys = [k for k in sc["specReplicasPath"].split(".") if k]
            obj = jcopy(old.obj)
            cur_o = obj
            for k in keys[:-1]:
                cur_o = cur_o.setdefault(k, {})
            cur_o[keys[-1]] = replicas
            if want_rv:
                obj["metadata"]["resourceVersion"] = want_rv
            res = ops._commit_update(name, old, obj, None)
        return self.send_json(200, to_scale(res))

    # ---- reviews
    def review(self, rt, version, ns, body, user):
        app = self.server.app
        obj = self.parse_body(body)
        check_shape(obj)
        spec = obj.get("spec") or {}
        if not isinstance(spec, dict) or not all(isinstance(spec.get(k) or {}, dict) for k in
                                                 ("resourceAttributes", "nonResourceAttributes")):
            raise ApiError(400, "%s: spec is invalid" % rt.kind)
        out = {"kind": rt.kind, "apiVersion": rt.gv(version), "metadata": obj.get("metadata") or {},
               "spec": spec}
        out["metadata"].setdefault("creationTimestamp", None)
        if rt.plural == "tokenreviews":
            u = app.authenticate(spec.get("token"))
            if u:
                out["status"] = {"authenticated": True, "user": {"username": u["username"], "uid": u.get("uid", ""),
                                                                 "groups": u.get("groups", [])},
                                 "audiences": spec.get("audiences") or ["https://kubernetes.default.svc"]}
            else:
                out["status"] = {"authenticated": False, "error": "invalid bearer token"}
        elif rt.plural == "selfsubjectreviews":
            u = user or {"username": "system:anonymous", "groups": ["system:unauthenticated"]}
            out["status"] = {"userInfo": {"username": u["username"], "uid": u.get("uid", ""), "groups": u.get("groups", [])}}
        else:
            if rt.plural == "selfsubjectaccessreviews":
                u = user or {"username": "system:anonymous", "groups": []}
                uname, groups = u["username"], u.get("groups", [])
            else:
                uname, groups = spec.get("user", ""), spec.get("groups") or []
            ra = spec.get("resourceAttributes")
            nra = spec.get("nonResourceAttributes")
            if ra is not None:
                attrs = {"verb": ra.get("verb", ""), "resource": ra.get("resource", ""),
                         "subresource": ra.get("subresource", ""), "namespace": ra.get("namespace", ns or ""),
                         "name": ra.get("name", ""), "apiGroup": ra.get("group", "")}
            else:
                nra = nra or {}
                attrs = {"verb": nra.get("verb", ""), "path": nra.get("path", "")}
            ok, why = app.authorize(uname, groups, attrs)
            out["status"] = {"allowed": ok}
            if why:
                out["status"]["reason"] = why
            if not ok:
                out["status"]["denied"] = False
        self.send_json(201, out)

    # ---- control API
    def control(self, method, path, q, body):
        app = self.server.app
        st = app.store
        p = path[len("/_fake"):] if path.startswith("/_fake") else path
        data = {}
        if body.strip():
            try:
                data = json.loads(body)
            except ValueError:
                raise ApiError(400, "control API body must be JSON")
        if p in ("/health", "/healthz"):
            return self.send_json(200, {"ok": True})
        if p == "/state" and method == "GET":
            with st.lock:
                nw = sum(len(s) for s in st.watchers.values())
                counts = dict(("%s/%s" % gk if gk[0] else gk[1], sum(len(x) for x in d.values()))
                              for gk, d in st.data.items() if d)
                out = {"url": app.url, "rv": st.rv, "compacted_rv": st.compacted_rv, "epoch": st.epoch,
                       "history": len(st.history), "watches": nw, "objects": counts,
                       "bookmark_interval": st.bookmark_interval}
            with app.flock:
                out["faults"] = list(app.faults)
                out["tokens"] = list(app.admin_tokens)
                out["requests"] = app.seq
            return self.send_json(200, out)
        if p == "/objects":
            return self.control_objects(method, q, data)
        if p == "/requests" and method == "GET":
            since = int(q.get("since") or 0)
            with app.flock:
                out = {"seq": app.seq, "counts": dict(app.counts), "verbs": dict(app.verbs),
                       "log": [r for r in app.reqlog if r["seq"] > since]}
            return self.send_json(200, out)
        if p == "/requests/reset" or (p == "/requests" and method == "DELETE"):
            with app.flock:
                app.reqlog.clear()
                app.counts.clear()
                app.verbs.clear()
            return self.send_json(200, {"ok": True})
        if p == "/watches":
            with st.lock:
                ws = [{"id": w.id, "resource": w.rt.plural, "group": w.rt.group, "namespace": w.ns,
                       "path": w.path, "age": round(time.time() - w.started, 3)} for w in st.all_watchers()]
            return self.send_json(200, {"watches": ws})
        if p == "/tokens" and method == "POST":
            for k in ("set", "add", "remove"):
                if isinstance(data.get(k), str):
                    data[k] = [data[k]]
                if k in data and not (isinstance(data[k], list) and all(isinstance(t, str) for t in data[k])):
                    raise ApiError(400, "%s must be a list of strings" % k)
            with app.flock:
                if "set" in data:
                    app.admin_tokens = list(data["set"])
                for t in data.get("add") or []:
                    if t not in app.admin_tokens:
                        app.admin_tokens.append(t)
                for t in data.get("remove") or []:
                    if t in app.admin_tokens:
                        app.admin_tokens.remove(t)
                return self.send_json(200, {"tokens": list(app.admin_tokens)})
        if p == "/auth" and method == "POST":
            with app.flock:
                if "users" in data:
                    app.users = dict(data["users"])
                if "rules" in data:
                    app.rules = list(data["rules"])
                if "default_allowed" in data:
                    app.default_allowed = bool(data["default_allowed"])
                if "enforce" in data:
                    app.enforce = bool(data["enforce"])
                return self.send_json(200, {"users": app.users, "rules": app.rules,
                                            "default_allowed": app.default_allowed, "enforce": app.enforce})
        if p == "/fault" and method == "POST":
            return self.send_json(200, self.fault(data))
        raise ApiError(404, "unknown control endpoint %s %s" % (method, path))

    def control_objects(self, method, q, data):
        app = self.server.app
        st = app.store
        if method == "POST":
            objs = flatten_docs(data if isinstance(data, list) else [data])
            objs.sort(key=load_order)
            n = 0
            for o in objs:
                app.upsert(o)
                n += 1
            return self.send_json(200, {"loaded": n, "resourceVersion": str(st.rv)})
        res = q.get("resource")
        if not res:
            raise ApiError(400, "resource= required")
        with st.lock:
            cands = [rt for rt in st.types.values() if res in (rt.plural, rt.singular, rt.kind) or res in rt.short]
            if "group" in q:
                cands = [rt for rt in cands if rt.group == q["group"]]
            if not cands:
                raise ApiError(404, "unknown resource %s" % res)
            cands.sort(key=lambda rt: (rt.group != "", rt.group))
            rt = cands[0]
            ns = q.get("namespace") or None
            ents = st.entries(rt, ns)
            if q.get("name"):
                ents = [e for e in ents if e.obj["metadata"].get("name") == q["name"]]
            if method == "DELETE":
                n = 0
                for e in ents:
                    md = e.obj["metadata"]
                    if st.delete_entry(rt, md.get("namespace", ""), md["name"]):
                        n += 1
                return self.send_json(200, {"deleted": n})
            rv = st.rv
        body = b'{"resourceVersion":"%d","items":[' % rv + b",".join(e.enc() for e in ents) + b"]}"
        return self.send_raw(200, body)

    def fault(self, f):
        app = self.server.app
        st = app.store
        act = f.get("action")
        if act in ("fail", "stall"):
            f = dict(f)
            f["count"] = int(f.get("count", 1))
            with app.flock:
                app.faults.append(f)
            return {"ok": True, "pending": len(app.faults)}
        if act == "clear":
            with app.flock:
                app.faults = []
            return {"ok": True}
        if act == "drop_watches":
            with st.lock:
                ws = st.all_watchers(f.get("resource"))
                for w in ws:
                    w.q.put(("drop", bool(f.get("abort"))))
            return {"ok": True, "dropped": len(ws)}
        if act == "garbage":
            ln = f.get("line", "this is not json {")
            ln = ln.encode() if isinstance(ln, str) else ln
            if not ln.endswith(b"\n"):
                ln += b"\n"
            with st.lock:
                ws = st.all_watchers(f.get("resource"))
                for w in ws:
                    w.q.put(("garbage", ln))
            return {"ok": True, "watches": len(ws)}
        if act == "pause_watches":
            with st.lock:
                ws = st.all_watchers(f.get("resource"))
                for w in ws:
                    w.q.put(("pause", float(f.get("seconds", 5))))
            return {"ok": True, "watches": len(ws)}
        if act == "expire":
            with st.lock:
                r = int(f.get("rv", st.rv))
                st.compacted_rv = max(st.compacted_rv, r)
                while st.history and st.history[0].rv <= st.compacted_rv:
                    st.history.popleft()
                st.snapshots.clear()
                ws = st.all_watchers()
                if f.get("drop_watches", True):
                    for w in ws:
                        w.q.put(("drop", False))
            return {"ok": True, "compacted_rv": st.compacted_rv}
        if act == "new_epoch":
            with st.lock:
                base = int(f.get("base", st.rv + 1000000))
                st.rv = base
                st.compacted_rv = base
                st.epoch += 1
                st.history.clear()
                st.snapshots.clear()
                if f.get("rewrite", True):
                    for gk, nsd in st.data.items():
                        for ns, d in nsd.items():
                            for name, e in list(d.items()):
                                md = dict(e.obj.get("metadata") or {})
                                md["resourceVersion"] = str(base)
                                d[name] = Entry(dict(e.obj, metadata=md))
                for w in st.all_watchers():
                    w.q.put(("drop", bool(f.get("abort"))))
            return {"ok": True, "rv": st.rv, "epoch": st.epoch}
        if act == "bookmark_interval":
            st.bookmark_interval = float(f.get("seconds", 1.0))
            return {"ok": True}
        if act == "cr_validation":
            self.server.app.cr_validation = bool(f.get("enabled", True))
            return {"ok": True, "enabled": self.server.app.cr_validation}
        raise ApiError(400, "unknown fault action %r" % act)


class ControlHandler(Handler):
    control_only = True


# --------------------------------------------------------------------------------------
# operations on one resource type

class Ops(object):
    def __init__(self, app, rt, version, ns, q):
        self.app = app
        self.st = app.store
        self.rt = rt
        self.version = version
        self.ns = ns
        self.q = q
        self.gv = rt.gv(version)
        try:
            self.lsel = parse_label_selector(q.get("labelSelector", ""))
            self.fsel = parse_field_selector(q.get("fieldSelector", ""))
        except ValueError as e:
            raise ApiError(400, "unable to parse requirement: %s" % e)
        self.dry = q.get("dryRun") == "All"
        self.warnings = []                      # Warning headers of the response

    def fix(self, entry):
        """Serve CRs under the requested version (no conversion: apiVersion is rewritten)."""
        if self.rt.crd and entry.obj.get("apiVersion") != self.gv:
            return Entry(dict(entry.obj, apiVersion=self.gv))
        return entry

    def match(self, obj):
        md = obj.get("metadata") or {}
        if self.ns and md.get("namespace") != self.ns:
            return False
        if self.lsel and not label_match(self.lsel, md.get("labels") or {}):
            return False
        if self.fsel and not field_match(self.fsel, obj):
            return False
        return True

    def _ns_check(self, ns):
        if self.app.args.strict_namespaces and self.rt.namespaced:
            nrt = self.st.types[("", "namespaces")]
            if self.st.get_entry(nrt, "", ns) is None:
                raise ApiError(404, 'namespaces "%s" not found' % ns, "NotFound",
                               {"name": ns, "kind": "namespaces"})

    # -- reads
    def get(self, name):
        with self.st.lock:
            e = self.st.get_entry(self.rt, self.ns, name)
        if e is None:
            raise not_found(self.rt, name)
        return self.fix(e).obj

    def list(self):
        q = self.q
        try:
            limit = int(q.get("limit") or 0)
        except ValueError:
            raise ApiError(400, "invalid limit")
        cont = q.get("continue")
        st = self.st
        if cont:
            try:
                tok = json.loads(base64.urlsafe_b64decode(cont.encode() + b"=" * (-len(cont) % 4)))
                sid, off = tok["s"], int(tok["o"])
            except Exception:
                raise ApiError(400, "continue key is not valid: illegal base64 or JSON", "BadRequest")
            with st.lock:
                snap = st.get_snapshot(sid)
            if snap is None:
                raise ApiError(410, "The provided continue parameter is too old to display a consistent list "
                               "result. You can start a new list without the continue parameter.", "Expired")
            rv, ents = snap[1], snap[2]
        else:
            rvq = q.get("resourceVersion", "")
            with st.lock:
                if rvq not in ("", "0"):
                    try:
                        r = int(rvq)
                    except ValueError:
                        raise ApiError(400, "invalid resourceVersion %r" % rvq)
                    if r > st.rv:
                        raise ApiError(504, "Too large resource version: %d, current: %d" % (r, st.rv), "Timeout",
                                       {"causes": [{"reason": "ResourceVersionTooLarge",
                                                    "message": "Too large resource version"}],
                                        "retryAfterSeconds": 1})
                    if r < st.compacted_rv and (limit > 0 or q.get("resourceVersionMatch") == "Exact"):
                        raise ApiError(410, "The resourceVersion for the provided list is too old.", "Expired")
                rv = st.rv
                ents = st.entries(self.rt, self.ns)
            if self.lsel or self.fsel:
                ents = [e for e in ents if self.match(e.obj)]
            off = 0
            sid = None
        if limit <= 0 or off + limit >= len(ents):
            return rv, ents[off:], None, None
        if sid is None:
            with st.lock:
                sid = st.new_snapshot(rv, ents)
        nxt = off + limit
        token = base64.urlsafe_b64encode(dumps({"s": sid, "o": nxt, "rv": rv})).decode().rstrip("=")
        return rv, ents[off:nxt], token, len(ents) - nxt

    # -- writes
    def _prepare_create(self, obj):
        rt = self.rt
        check_shape(obj)
        if obj.get("kind") not in (None, "", rt.kind):
            raise ApiError(400, "the API version in the data (%s) does not match the expected API version (%s) "
                           "or kind %s does not match %s" % (obj.get("apiVersion"), self.gv, obj.get("kind"), rt.kind))
        md = dict(obj.get("metadata") or {})
        name = md.get("name")
        if not name:
            gen = md.get("generateName")
            if not gen:
                raise ApiError(422, "%s is invalid: metadata.name: Required value: name or generateName is required"
                               % rt.kind, "Invalid", {"kind": rt.kind, "group": rt.group})
            name = gen + "".join(random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
            md["name"] = name
        if rt.namespaced:
            if md.get("namespace") and md["namespace"] != self.ns:
                raise ApiError(400, "the namespace of the provided object does not match the namespace sent "
                               "on the request")
            md["namespace"] = self.ns
        else:
            md.pop("namespace", None)
        for k in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion"):
            md.pop(k, None)
        md["uid"] = str(uuid.uuid4())
        md["creationTimestamp"] = now_ts()
        md["generation"] = 1
        obj = dict(obj, metadata=md, apiVersion=self.gv, kind=rt.kind)
        if rt.crd and rt.has_status(self.version):
            obj.pop("status", None)
        if rt.gk == ("", "namespaces"):
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj["status"] = {"phase": "Active"}
            md["labels"] = dict(md.get("labels") or {}, **{"kubernetes.io/metadata.name": name})
        elif rt.gk == ("", "pods") and not (obj.get("status") or {}).get("phase"):
            obj["status"] = dict(obj.get("status") or {}, phase="Pending")
        return name, obj

    def _admit(self, obj, sub=None):
        """Custom resources: prune, default and validate obj in place against this version's
        CRD schema, as kube-apiserver does (crschema.py). Unknown fields: 400 under
        fieldValidation=Strict, a Warning header under Warn (the default), nothing under Ignore.
        With a status subresource a /status write answers for status only, other writes for
        the rest (status is the stored one there)."""
        got = self.rt.schemas.get(self.version)
        if got is None:
            return
        schema, rules = got
        kind = self.rt.kind
        dropped = crschema.prune(obj, schema)
        mode = self.q.get("fieldValidation") or "Warn"
        if dropped and mode == "Strict":
            raise ApiError(400, '%s in version "%s" cannot be handled as a %s: strict decoding error: %s'
                           % (kind, self.version, kind, ", ".join('unknown field "%s"' % f for f in dropped)),
                           "BadRequest")
        if mode == "Warn":
            self.warnings += ['299 - "unknown field \\"%s\\""' % f for f in dropped]
        crschema.default(obj, schema)
        if not self.app.cr_validation:
            return
        causes = crschema.validate(obj, schema, rules)
        if self.rt.has_status(self.version):
            def is_status(f):
                return f == "status" or f.startswith(("status.", "status["))
            causes = [c for c in causes if c.field == "<nil>" or is_status(c.field) == (sub == "status")]
            if sub == "status":                 # the real server names fields in body from status down
                for c in causes:
                    c.message = c.message.replace(" %s in body " % c.field, " %s in body " % c.field[7:])
        if all(c.field == "<nil>" for c in causes):
            return
        text = causes[0].text() if len(causes) == 1 else "[%s]" % ", ".join(c.text() for c in causes)
        name = (obj.get("metadata") or {}).get("name", "")
        raise ApiError(422, '%s.%s "%s" is invalid: %s' % (kind, self.rt.group, name, text), "Invalid",
                       {"name": name, "group": self.rt.group, "kind": kind,
                        "causes": [c.as_cause() for c in causes]})

    def create(self, obj):
        rt, st = self.rt, self.st
        name, obj = self._prepare_create(obj)
        self._admit(obj)
        with st.lock:
            self._ns_check(self.ns)
            if st.get_entry(rt, self.ns, name) is not None:
                raise ApiError(409, '%s "%s" already exists' % (rt.qual(), name), "AlreadyExists",
                               {"name": name, "group": rt.group, "kind": rt.plural})
            nrt = None
            if rt.gk == ("apiextensions.k8s.io", "customresourcedefinitions"):
                nrt = st.crd_type(obj)
                if nrt.gk in st.types and not st.types[nrt.gk].crd:
                    raise ApiError(422, "CRD would shadow a built-in resource", "Invalid")
                obj = self.app._crd_status(obj)
            if self.dry:
                obj["metadata"]["resourceVersion"] = str(st.rv)
                return obj
            obj["metadata"]["resourceVersion"] = str(st._next_rv())
            if nrt is not None:
                st._register(nrt)
            st.put_entry(rt, self.ns, name, obj, "ADDED", None)
        return obj

    def _commit_update(self, name, old, new, sub):
        """new: full candidate object. Applies status/generation rules, no-op detection."""
        rt, st = self.rt, self.st
        check_shape(new)
        omd = old.obj.get("metadata") or {}
        nmd = dict(new.get("metadata") or {})
        if nmd.get("name", name) != name:
            raise ApiError(400, "the name of the object (%s) does not match the name on the URL (%s)"
                           % (nmd.get("name"), name))
        want_rv = nmd.get("resourceVersion")
        if want_rv not in (None, "") and want_rv != omd.get("resourceVersion"):
            raise ApiError(409, 'Operation cannot be fulfilled on %s "%s": the object has been modified; please '
                           'apply your changes to the latest version and try again' % (rt.qual(), name),
                           "Conflict", {"name": name, "group": rt.group, "kind": rt.plural})
        if rt.namespaced and nmd.get("namespace") not in (None, "", self.ns):
            raise ApiError(400, "the namespace of the provided object does not match the namespace sent on the request")
        has_status = rt.has_status(self.version) or (not rt.crd and rt.status_versions)
        if sub == "status":
            res = dict(old.obj)
            if "status" in new:
                res["status"] = new["status"]
            else:
                res.pop("status", None)
            md = dict(omd)
        else:
            res = dict(new)
            res["apiVersion"], res["kind"] = self.gv, rt.kind
            if has_status:
                if "status" in old.obj:
                    res["status"] = old.obj["status"]
                else:
                    res.pop("status", None)
            md = nmd
            for k in ("uid", "creationTimestamp", "generation", "deletionTimestamp"):
                if k in omd:
                    md[k] = omd[k]
                else:
                    md.pop(k, None)
            md["name"] = name
            if rt.namespaced:
                md["namespace"] = self.ns
            else:
                md.pop("namespace", None)
        md["resourceVersion"] = omd.get("resourceVersion")
        res["metadata"] = md
        if rt.schemas:
            res = jcopy(res)                    # pruning and defaulting work in place
            self._admit(res, sub)
            md = res["metadata"]
        if res == old.obj:
            return old.obj                      # no-op: no new RV, no event
        if sub != "status":
            skip = ("metadata", "status") if has_status else ("metadata",)
            a = dict((k, v) for k, v in old.obj.items() if k not in skip + ("apiVersion", "kind"))
            b = dict((k, v) for k, v in res.items() if k not in skip + ("apiVersion", "kind"))
            if a != b:
                md["generation"] = int(omd.get("generation") or 1) + 1
        nrt = None
        if rt.gk == ("apiextensions.k8s.io", "customresourcedefinitions") and sub != "status":
            nrt = st.crd_type(res)
            res = self.app._crd_status(res)
        if self.dry:
            return res
        md["resourceVersion"] = str(st._next_rv())
        if nrt is not None:
            old_rt = st.crd_type(old.obj)
            if old_rt.gk != nrt.gk:
                st._drop_crd(old.obj)
            st._register(nrt)
        st.put_entry(rt, self.ns, name, res, "MODIFIED", old)
        return res

    def update(self, name, obj, sub):
        if obj.get("kind") not in (None, "", self.rt.kind):
            raise ApiError(400, "kind %s does not match %s" % (obj.get("kind"), self.rt.kind))
        with self.st.lock:
            old = self.st.get_entry(self.rt, self.ns, name)
            if old is None:
                raise not_found(self.rt, name)
            return self._commit_update(name, old, obj, sub)

    def patch(self, name, ctype, body, sub):
        rt = self.rt
        try:
            p = json.loads(body or b"null")
        except ValueError:
            if ctype == "application/apply-patch+yaml":
                raise ApiError(415, "fakeapi supports server-side apply only with a JSON body",
                               "UnsupportedMediaType")
            raise ApiError(400, "invalid JSON patch body")
        if ctype == "application/strategic-merge-patch+json" and rt.crd:
            raise ApiError(415, "the body of the request was in an unknown format - accepted media types include: "
                           "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                           "UnsupportedMediaType")
        if ctype not in ("application/merge-patch+json", "application/json-patch+json",
                         "application/strategic-merge-patch+json", "application/apply-patch+yaml"):
            raise ApiError(415, "the body of the request was in an unknown format - accepted media types include: "
                           "application/json-patch+json, application/merge-patch+json, "
                           "application/apply-patch+yaml, application/strategic-merge-patch+json",
                           "UnsupportedMediaType")
        if ctype == "application/apply-patch+yaml" and not self.q.get("fieldManager"):
            raise ApiError(400, "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: "
                           "is required for apply patch", "BadRequest")
        with self.st.lock:
            old = self.st.get_entry(rt, self.ns, name)
            if old is None:
                if ctype == "application/apply-patch+yaml" and sub is None and isinstance(p, dict):
                    check_shape(p)
                    p = dict(p)
                    md = dict(p.get("metadata") or {})
                    md.setdefault("name", name)
                    p["metadata"] = md
                    return 201, self.create(p)
                raise not_found(rt, name)
            if ctype == "application/json-patch+json":
                new = json_patch(old.obj, p)
            elif ctype == "application/strategic-merge-patch+json":
                if not isinstance(p, dict):
                    raise ApiError(400, "strategic merge patch must be a JSON object")
                new = strategic_patch(old.obj, p)
            else:
                if not isinstance(p, dict):
                    raise ApiError(400, "merge patch must be a JSON object")
                new = merge_patch(old.obj, p)
            if not isinstance(new, dict):
                raise ApiError(422, "patch result is not an object", "Invalid")
            return 200, self._commit_update(name, old, new, sub)

    def delete(self, name, opts):
        rt, st = self.rt, self.st
        with st.lock:
            old = st.get_entry(rt, self.ns, name)
            if old is None:
                raise not_found(rt, name)
            pre = opts.get("preconditions") or {}
            md = old.obj.get("metadata") or {}
            if pre.get("uid") and pre["uid"] != md.get("uid"):
                raise ApiError(409, "Precondition failed: UID in precondition: %s, UID in object meta: %s"
                               % (pre["uid"], md.get("uid")), "Conflict")
            if pre.get("resourceVersion") and pre["resourceVersion"] != md.get("resourceVersion"):
                raise ApiError(409, "Precondition failed: ResourceVersion in precondition: %s, ResourceVersion "
                               "in object meta: %s" % (pre["resourceVersion"], md.get("resourceVersion")), "Conflict")
            if self.dry or opts.get("dryRun") == ["All"]:
                return self.fix(old).obj
            e = st.delete_entry(rt, self.ns, name)
        return self.fix(e).obj

    def delete_collection(self):
        rt, st = self.rt, self.st
        out = []
        with st.lock:
            ents = [e for e in st.entries(rt, self.ns) if self.match(e.obj)]
            if self.dry:
                return [e.obj for e in ents]
            for e in ents:
                md = e.obj["metadata"]
                d = st.delete_entry(rt, md.get("namespace", ""), md["name"])
                if d:
                    out.append(d.obj)
        return out


# --------------------------------------------------------------------------------------
# HTTP servers

class ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    ssl_ctx = None

    def finish_request(self, request, client_address):
        sock = request
        if self.ssl_ctx is not None:
            try:
                sock.settimeout(30)
                # Handshake by hand: wrap_socket's own handshake closes the
                # socket at once when it fails (see close_after_failed_handshake).
                sock = self.ssl_ctx.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
                sock.do_handshake()
                sock.settimeout(None)
            except Exception:
                self.close_after_failed_handshake(sock)
                return
        try:
            self.RequestHandlerClass(sock, client_address, self)
        finally:
            if sock is not request:
                try:
                    sock.close()
                except Exception:
                    pass

    @staticmethod
    def close_after_failed_handshake(sock):
        """The alert (e.g. TLS 1.3 certificate_required, which the client gets
        after it thinks the handshake is done) must reach the client: closing
        with the client's HTTP request unread would make the kernel send an
        RST, and the client would see a reset (or worse, a stale note) instead.
        So: FIN, drain for at most a second, then close.  sock is the plain
        socket or the SSLSocket (whose shutdown drops TLS and shuts the socket)."""
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.settimeout(0.5)
            end = time.time() + 1.0
            while time.time() < end and socket.socket.recv(sock, 65536):
                pass
        except Exception:
            pass
        try:
            sock.close()
        except Exception:
            pass

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout, OSError)):
            return
        traceback.print_exc(file=sys.stderr)


def _openssl(*cmd):
    p = subprocess.run(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    if p.returncode != 0:
        raise SystemExit("fakeapi: openssl failed: %s\n%s" % (" ".join(cmd), p.stderr))


def _ca_and_leaf(state_dir, ca_name, leaf_name, ca_cn, subj, ext_text):
    """A self-signed EC CA <ca_name>.crt/.key and a leaf <leaf_name>.crt/.key signed by it with
    the x509v3 extensions ext_text; kept when all four files exist. Returns (ca, crt, key)."""
    ca_crt = os.path.join(state_dir, ca_name + ".crt")
    ca_key = os.path.join(state_dir, ca_name + ".key")
    crt = os.path.join(state_dir, leaf_name + ".crt")
    key = os.path.join(state_dir, leaf_name + ".key")
    if all(os.path.exists(p) for p in (ca_crt, ca_key, crt, key)):
        return ca_crt, crt, key
    _openssl("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", ca_key, "-out", ca_crt, "-days", "3650", "-subj", "/CN=" + ca_cn,
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    csr = os.path.join(state_dir, leaf_name + ".csr")
    _openssl("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", csr, "-subj", subj)
    ext = os.path.join(state_dir, leaf_name + ".ext")
    with open(ext, "w") as fh:
        fh.write(ext_text)
    _openssl("openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
             "-out", crt, "-days", "3650", "-extfile", ext)
    os.chmod(key, 0o600)
    return ca_crt, crt, key


def make_certs(state_dir, sans):
    alt = ",".join(("IP:" if re.match(r"^[0-9.]+$|:", s) else "DNS:") + s for s in sans)
    return _ca_and_leaf(state_dir, "ca", "server", "fakeapi-ca", "/CN=fakeapi",
                        "subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,"
                        "keyEncipherment\nextendedKeyUsage=serverAuth\n" % alt)


def make_client_certs(state_dir, cn, groups):
    """A client CA (separate from the server CA) and one client cert/key signed by it."""
    subj = "".join("/O=%s" % g for g in groups) + "/CN=%s" % cn
    return _ca_and_leaf(state_dir, "client-ca", "client", "fakeapi-client-ca", subj,
                        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n")


def write_kubeconfig(path, url, token, ca_crt, cert=None, key=None, inline=False):
    """token: bearer token or None; cert/key: client certificate and key paths, written as
    client-certificate/client-key, or with inline as client-certificate-data/client-key-data."""
    lines = ["apiVersion: v1", "kind: Config", "clusters:", "- name: fakeapi", "  cluster:",
             "    server: %s" % url]
    if ca_crt:
        with open(ca_crt, "rb") as fh:
            lines.append("    certificate-authority-data: %s" % base64.b64encode(fh.read()).decode())
    lines += ["contexts:", "- name: fakeapi", "  context:", "    cluster: fakeapi", "    user: fakeapi",
              "    namespace: default", "current-context: fakeapi", "preferences: {}", "users:",
              "- name: fakeapi", "  user:"]
    if token is not None:
        lines.append("    token: %s" % json.dumps(token))
    for field, p in (("client-certificate", cert), ("client-key", key)):
        if p is None:
            continue
        if inline:
            with open(p, "rb") as fh:
                lines.append("    %s-data: %s" % (field, base64.b64encode(fh.read()).decode()))
        else:
            lines.append("    %s: %s" % (field, json.dumps(os.path.abspath(p))))
    if token is None and cert is None:
        lines[-1] = "  user: {}"
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description="fake Kubernetes API server (see module docstring)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    ap.add_argument("--state-dir", default=None, help="certs + server.json (default: new temp dir)")
    ap.add_argument("--kubeconfig-out", default=None)
    ap.add_argument("--token", default="fakeapi-token", help="admin bearer token")
    ap.add_argument("--extra-token", action="append", default=[], help="additional accepted admin token")
    ap.add_argument("--user", action="append", default=[], help="TOKEN=NAME[:GROUP,GROUP] non-admin identity")
    ap.add_argument("--authz-default", choices=("allow", "deny"), default="deny")
    ap.add_argument("--enforce-authz", action="store_true", help="apply SAR rules to non-admin API requests")
    ap.add_argument("--no-auth", action="store_true", help="accept requests without a token")
    ap.add_argument("--plain-http", action="store_true",
                    help="HTTP instead of HTTPS; implies --no-auth (kubectl never sends tokens over plain "
                         "HTTP) unless --auth-on-http")
    ap.add_argument("--auth-on-http", action="store_true", help="require the token even with --plain-http")
    ap.add_argument("--san", action="append", default=[], help="extra server cert SAN")
    ap.add_argument("--no-default-sans", action="store_true",
                    help="server cert SANs are only --host and --san (not 127.0.0.1, ::1, localhost)")
    ap.add_argument("--client-auth", choices=("none", "optional", "required"), default="none",
                    help="generate a client CA + client cert/key and verify client certs against it "
                         "(required: no cert -> handshake fails); a verified cert authenticates as its CN")
    ap.add_argument("--client-cert-cn", default="k8smon-client", help="CN (user name) of the client cert")
    ap.add_argument("--client-cert-group", action="append", default=None,
                    help="O (group) of the client cert; repeatable (default: system:masters)")
    ap.add_argument("--load", action="append", default=[], help="JSON/YAML file or directory to load")
    ap.add_argument("--history", type=int, default=10000, help="events kept for watch resume")
    ap.add_argument("--bookmark-interval", type=float, default=1.0)
    ap.add_argument("--watch-timeout", type=float, default=1800.0, help="default watch duration (s)")
    ap.add_argument("--continue-ttl", type=float, default=300.0)
    ap.add_argument("--rv-start", type=int, default=1000)
    ap.add_argument("--request-log", type=int, default=20000)
    ap.add_argument("--control-port", type=int, default=None, help="also serve the control API on plain HTTP")
    ap.add_argument("--strict-namespaces", action="store_true", help="creating in a missing namespace -> 404")
    ap.add_argument("--no-cr-validation", action="store_true",
                    help="custom resources are pruned and defaulted but not validated (no 422)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    if args.plain_http and not args.auth_on_http:
        args.no_auth = True

    app = Server(args)
    app.admin_tokens = [args.token] + list(args.extra_token)
    for u in args.user:
        tok, _, rest = u.partition("=")
        uname, _, groups = rest.partition(":")
        app.users[tok] = {"username": uname, "uid": uname + "-uid", "groups": [g for g in groups.split(",") if g]}
    objs = []
    for p in args.load:
        objs.extend(load_path(p))
    objs.sort(key=load_order)
    for o in objs:
        src, lenient = o.pop("_fakeapi_src", ("?", False))
        try:
            app.upsert(o, emit=False)
        except ApiError as e:
            if lenient:
                sys.stderr.write("fakeapi: skipping %s from %s: %s\n" % (o.get("kind"), src, e.status["message"]))
                continue
            raise SystemExit("fakeapi: cannot load %s/%s: %s" % (o.get("kind"), (o.get("metadata") or {}).get("name"),
                                                                 e.status["message"]))
    with app.store.lock:
        # startup objects are not in the event history: watches must start from here
        app.store.compacted_rv = app.store.rv

    state_dir = args.state_dir or tempfile.mkdtemp(prefix="fakeapi-")
    os.makedirs(state_dir, exist_ok=True)
    srv = ThreadingServer((args.host, args.port), Handler)
    srv.app = app
    ca_crt = None
    client = None  # (client CA, client cert, client key)
    if args.client_auth != "none" and args.plain_http:
        raise SystemExit("fakeapi: --client-auth needs TLS (not --plain-http)")
    if not args.plain_http:
        sans = ([] if args.no_default_sans else ["127.0.0.1", "::1", "localhost"]) + [args.host] + args.san
        ca_crt, crt, key = make_certs(state_dir, list(dict.fromkeys(sans)))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        ctx.set_alpn_protocols(["http/1.1"])
        if args.client_auth != "none":
            groups = args.client_cert_group if args.client_cert_group is not None else ["system:masters"]
            client = make_client_certs(state_dir, args.client_cert_cn, groups)
            ctx.load_verify_locations(cafile=client[0])
            ctx.verify_mode = ssl.CERT_REQUIRED if args.client_auth == "required" else ssl.CERT_OPTIONAL
        srv.ssl_ctx = ctx
    port = srv.server_address[1]
    host = args.host if ":" not in args.host else "[%s]" % args.host
    url = "%s://%s:%d" % ("http" if args.plain_http else "https", host, port)
    app.url = url
    control_url = None
    csrv = None
    if args.control_port is not None:
        csrv = ThreadingServer(("127.0.0.1", args.control_port), ControlHandler)
        csrv.app = app
        control_url = "http://127.0.0.1:%d" % csrv.server_address[1]
        threading.Thread(target=csrv.serve_forever, daemon=True).start()
    extra = {}
    if args.kubeconfig_out:
        write_kubeconfig(args.kubeconfig_out, url, args.token, ca_crt)
    if client:
        extra = {"client_ca": client[0], "client_cert": client[1], "client_key": client[2]}
        if args.kubeconfig_out:
            extra["kubeconfig_cert"] = args.kubeconfig_out + "-cert"
            extra["kubeconfig_cert_data"] = args.kubeconfig_out + "-cert-data"
            write_kubeconfig(extra["kubeconfig_cert"], url, None, ca_crt, client[1], client[2])
            write_kubeconfig(extra["kubeconfig_cert_data"], url, None, ca_crt, client[1], client[2], inline=True)
    # in-cluster emulation: KUBERNETES_SERVICE_HOST/PORT + this directory
    sa_dir = os.path.join(state_dir, "serviceaccount")
    os.makedirs(sa_dir, exist_ok=True)
    for fname, content in (("token", args.token), ("namespace", "default")):
        with open(os.path.join(sa_dir, fname), "w") as fh:
            fh.write(content)
    if ca_crt:
        with open(ca_crt) as src, open(os.path.join(sa_dir, "ca.crt"), "w") as dst:
            dst.write(src.read())
    with open(os.path.join(state_dir, "server.json"), "w") as fh:
        json.dump(dict({"url": url, "control_url": control_url, "token": args.token, "ca": ca_crt,
                        "kubeconfig": args.kubeconfig_out, "pid": os.getpid(), "port": port}, **extra), fh)
    print("READY %s" % url, flush=True)
    if control_url:
        print("CONTROL %s" % control_url, flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

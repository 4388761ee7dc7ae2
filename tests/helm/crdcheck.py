#!/usr/bin/env python3
"""Structural checks of the k8smon CRDs and of objects against their schemas.

  crdcheck.py crds CRD_DIR                    structural-schema rules, printer columns,
                                              defaults/enums, CEL rule coverage
  crdcheck.py selftest CRD_DIR                 the validator rejects known-bad specs
  crdcheck.py objects CRD_DIR PATH...         every k8smon.io object under PATH validates
                                              (unknown field, type, enum, pattern, bounds,
                                              CEL rules via their Python equivalents)
Prints one "ok   - ..." / "FAIL - ..." line per check; exit status 1 on any failure.
Python 3 standard library only (YAML converted by kubectl, see k8syaml.py).
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import k8syaml  # noqa: E402

FAILS = []


def check(ok, desc, detail=""):
    print(("ok   - " if ok else "FAIL - ") + desc + ("" if ok or not detail else ": " + detail))
    if not ok:
        FAILS.append(desc)
    return ok


# ------------------------------------------------------------ durations (Go subset)
DUR_RE = re.compile(r"^([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$")


def dur(s):
    m = DUR_RE.match(s)
    if not m or not s:
        raise ValueError("bad duration %r" % s)
    total = 0.0
    for part, mul in zip(m.groups(), (3600, 60, 1, 0.001)):
        if part:
            total += int(re.match(r"[0-9]+", part).group(0)) * mul
    return total


DUR_PAT = "^([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$"
KSM_RES = ['certificatesigningrequests', 'configmaps', 'cronjobs', 'daemonsets', 'deployments',
           'endpoints', 'endpointslices', 'horizontalpodautoscalers', 'ingresses', 'jobs', 'leases',
           'limitranges', 'mutatingadmissionpolicies', 'mutatingadmissionpolicybindings',
           'mutatingwebhookconfigurations', 'namespaces', 'networkpolicies', 'nodes',
           'persistentvolumeclaims', 'persistentvolumes', 'poddisruptionbudgets', 'pods', 'replicasets',
           'replicationcontrollers', 'resourcequotas', 'secrets', 'services', 'statefulsets',
           'storageclasses', 'validatingadmissionpolicies', 'validatingadmissionpolicybindings',
           'validatingwebhookconfigurations', 'volumeattachments']

# Python equivalents of every CEL rule in crds/ (keyed by the rule text). A CRD rule
# without an entry here fails the "crds" check, so the two cannot drift apart.
CEL = {
    "!has(self.namespaces) || !has(self.excludeNamespaces) || !self.namespaces.exists(n, n in self.excludeNamespaces)":
        lambda s: not (set(s.get("namespaces", [])) & set(s.get("excludeNamespaces", []))),
    "(self.operator in ['In', 'NotIn']) == (has(self.values) && size(self.values) > 0)":
        lambda s: (s["operator"] in ("In", "NotIn")) == bool(s.get("values")),
    "!(has(self.metricAllowlist) && size(self.metricAllowlist) > 0 && has(self.metricDenylist) && size(self.metricDenylist) > 0)":
        lambda s: not (s.get("metricAllowlist") and s.get("metricDenylist")),
    "self.all(k, k in %s)" % ("[" + ", ".join("'%s'" % r for r in KSM_RES) + "]"):
        lambda s: all(k in KSM_RES for k in s),
    "!has(self.defaultSampleLimit) || !has(self.maxSampleLimit) || self.maxSampleLimit == 0 || (self.defaultSampleLimit > 0 && self.defaultSampleLimit <= self.maxSampleLimit)":
        lambda s: "defaultSampleLimit" not in s or "maxSampleLimit" not in s or s["maxSampleLimit"] == 0
        or 0 < s["defaultSampleLimit"] <= s["maxSampleLimit"],
    # duration() only on strings that match the duration pattern: the real API server
    # evaluates CEL even when the pattern fails, and duration("1d") is a "type
    # conversion error" reported next to the pattern error (tests/peers/cr_cases.yaml).
    "!self.matches('%s') || (duration(self) >= duration('1s') && duration(self) <= duration('1h'))" % DUR_PAT:
        lambda s: not re.search(DUR_PAT, s) or 1 <= dur(s) <= 3600,
    "!self.matches('%s') || (duration(self) >= duration('100ms') && duration(self) <= duration('1h'))" % DUR_PAT:
        lambda s: not re.search(DUR_PAT, s) or 0.1 <= dur(s) <= 3600,
    "!has(self.interval) || !has(self.scrapeTimeout) || !self.interval.matches('%s') || !self.scrapeTimeout.matches('%s') || duration(self.scrapeTimeout) <= duration(self.interval)" % (DUR_PAT, DUR_PAT):
        lambda s: ("interval" not in s or "scrapeTimeout" not in s or not re.search(DUR_PAT, s["interval"])
                   or not re.search(DUR_PAT, s["scrapeTimeout"]) or dur(s["scrapeTimeout"]) <= dur(s["interval"])),
    "self.all(k, k.matches('^[a-zA-Z_][a-zA-Z0-9_]*$') && k != '__name__')":
        lambda s: all(re.search(r"^[a-zA-Z_][a-zA-Z0-9_]*$", k) and k != "__name__" for k in s),
    "!(self.action in ['replace', 'hashmod', 'lowercase', 'uppercase', 'keepequal', 'dropequal']) || (has(self.targetLabel) && size(self.targetLabel) > 0)":
        lambda s: s.get("action", "replace") not in ('replace', 'hashmod', 'lowercase', 'uppercase', 'keepequal', 'dropequal') or bool(s.get("targetLabel")),
    "self.action != 'hashmod' || (has(self.modulus) && self.modulus > 0)":
        lambda s: s.get("action", "replace") != "hashmod" or s.get("modulus", 0) > 0,
    "!(self.action in ['labeldrop', 'labelkeep']) || (!has(self.sourceLabels) && !has(self.targetLabel))":
        lambda s: s.get("action", "replace") not in ("labeldrop", "labelkeep") or ("sourceLabels" not in s and "targetLabel" not in s),
    "!(has(self.bearerTokenSecret) && has(self.basicAuth))":
        lambda s: not ("bearerTokenSecret" in s and "basicAuth" in s),
    "has(self.cert) == has(self.keySecret)":
        lambda s: ("cert" in s) == ("keySecret" in s),
    "!(self.action in ['keepequal', 'dropequal']) || (!has(self.regex) && !has(self.replacement))":
        lambda s: s.get("action", "replace") not in ("keepequal", "dropequal") or ("regex" not in s and "replacement" not in s),
}

FORBIDDEN = {"definitions", "dependencies", "deprecated", "discriminator", "id", "patternProperties",
             "readOnly", "writeOnly", "xml", "$ref"}
TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "number": (int, float), "integer": int}


def type_ok(v, t):
    if t == "integer" and isinstance(v, bool):
        return False
    if t == "number" and isinstance(v, bool):
        return False
    return isinstance(v, TYPES[t])


# ------------------------------------------------------------------ value validation
def validate(v, s, path, errs, apply_cel=True):
    """Append 'path: problem' strings for v against schema s."""
    if s.get("x-kubernetes-int-or-string"):
        if not (isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool))):
            errs.append("%s: want int or string" % path)
        return
    if s.get("x-kubernetes-preserve-unknown-fields") and "type" not in s:
        return
    t = s.get("type")
    if t and not type_ok(v, t):
        errs.append("%s: want %s, got %r" % (path, t, v))
        return
    if "enum" in s and v not in s["enum"]:
        errs.append("%s: %r not in %s" % (path, v, s["enum"]))
    if isinstance(v, str):
        if "pattern" in s and not re.search(s["pattern"], v):
            errs.append("%s: %r does not match %s" % (path, v, s["pattern"]))
        if len(v) < s.get("minLength", 0) or len(v) > s.get("maxLength", 1 << 30):
            errs.append("%s: length out of bounds" % path)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if "minimum" in s and v < s["minimum"] or "maximum" in s and v > s["maximum"]:
            errs.append("%s: %r out of bounds" % (path, v))
    if isinstance(v, list):
        if len(v) < s.get("minItems", 0) or len(v) > s.get("maxItems", 1 << 30):
            errs.append("%s: item count out of bounds" % path)
        if s.get("x-kubernetes-list-type") == "set" and len(set(map(repr, v))) != len(v):
            errs.append("%s: duplicate items in a set" % path)
        for i, it in enumerate(v):
            validate(it, s.get("items", {}), "%s[%d]" % (path, i), errs, apply_cel)
    if isinstance(v, dict):
        props = s.get("properties")
        addl = s.get("additionalProperties")
        if len(v) > s.get("maxProperties", 1 << 30):
            errs.append("%s: too many properties" % path)
        for r in s.get("required", []):
            if r not in v:
                errs.append("%s: missing required field %s" % (path, r))
        for k, sub in v.items():
            if props is not None and k in props:
                validate(sub, props[k], path + "." + k, errs, apply_cel)
            elif isinstance(addl, dict):
                validate(sub, addl, "%s[%s]" % (path, k), errs, apply_cel)
            elif not s.get("x-kubernetes-preserve-unknown-fields") and path != "":
                errs.append("%s.%s: unknown field" % (path, k))
    if apply_cel:
        for rule in s.get("x-kubernetes-validations", []):
            fn = CEL.get(rule["rule"])
            try:
                good = fn(with_defaults(v, s)) if fn else True
            except (KeyError, ValueError, TypeError) as e:
                good = False
                rule = dict(rule, message="%s (%s)" % (rule.get("message"), e))
            if not good:
                errs.append("%s: CEL rule failed: %s" % (path, rule.get("message", rule["rule"])))


def with_defaults(v, s):
    """Defaulting as the API server does it (defaults of absent object properties)."""
    if isinstance(v, dict) and "properties" in s:
        out = dict(v)
        for k, sub in s["properties"].items():
            if k not in out and "default" in sub:
                out[k] = sub["default"]
            if k in out:
                out[k] = with_defaults(out[k], sub)
        return out
    if isinstance(v, list) and "items" in s:
        return [with_defaults(x, s["items"]) for x in v]
    return v


# ------------------------------------------------------------------ structural checks
def walk_schema(s, path, problems, rules, root=False):
    if not isinstance(s, dict):
        problems.append("%s: schema is not an object" % path)
        return
    bad = FORBIDDEN & set(s)
    if bad:
        problems.append("%s: forbidden keywords %s" % (path, sorted(bad)))
    if s.get("uniqueItems") is True:
        problems.append("%s: uniqueItems true is forbidden" % path)
    if s.get("additionalProperties") is False:
        problems.append("%s: additionalProperties false is forbidden" % path)
    if "additionalProperties" in s and "properties" in s:
        problems.append("%s: additionalProperties with properties" % path)
    for j in ("allOf", "anyOf", "oneOf", "not"):
        if j in s:
            problems.append("%s: junctor %s not used by these CRDs (keep them simple)" % (path, j))
    special = s.get("x-kubernetes-int-or-string") or s.get("x-kubernetes-preserve-unknown-fields")
    t = s.get("type")
    if not t and not special:
        problems.append("%s: no type" % path)
    if t and t not in TYPES:
        problems.append("%s: unknown type %r" % (path, t))
    if "enum" in s:
        for e in s["enum"]:
            if t and not type_ok(e, t):
                problems.append("%s: enum value %r is not %s" % (path, e, t))
    if "default" in s:
        errs = []
        validate(with_defaults(s["default"], s), s, path + "(default)", errs)
        problems += errs
    if "pattern" in s:
        try:
            re.compile(s["pattern"])
        except re.error as e:
            problems.append("%s: bad pattern: %s" % (path, e))
    if s.get("x-kubernetes-list-type") == "map":
        keys = s.get("x-kubernetes-list-map-keys", [])
        req = s.get("items", {}).get("required", [])
        if not keys or not all(k in req or "default" in s["items"]["properties"].get(k, {}) for k in keys):
            problems.append("%s: listType map keys must be required or defaulted" % path)
    for r in s.get("x-kubernetes-validations", []):
        rules.append((path, r))
        if r.get("fieldPath"):
            fp = r["fieldPath"].lstrip(".").split(".")
            if fp[0] not in s.get("properties", {}):
                problems.append("%s: CEL fieldPath %s not in schema" % (path, r["fieldPath"]))
    if t == "array":
        if "items" not in s:
            problems.append("%s: array without items" % path)
        else:
            walk_schema(s["items"], path + "[]", problems, rules)
    for k, sub in s.get("properties", {}).items():
        walk_schema(sub, path + "." + k, problems, rules)
    if isinstance(s.get("additionalProperties"), dict):
        walk_schema(s["additionalProperties"], path + "{}", problems, rules)


ROOT_ALLOWED = {"description", "example", "exclusiveMaximum", "exclusiveMinimum", "externalDocs", "format",
                "items", "maximum", "maxItems", "maxLength", "minimum", "minItems", "minLength", "multipleOf",
                "pattern", "properties", "required", "title", "type", "uniqueItems"}


def jsonpath_schema(jp, schema):
    """Resolve a printer-column JSONPath (.a.b[?(...)].c / .a[0].b) to the schema node."""
    if jp.startswith(".metadata."):
        return {"type": "string", "format": "date-time"} if jp == ".metadata.creationTimestamp" else {"type": "string"}
    s = schema
    for tok in re.findall(r"\.([A-Za-z0-9_]+)|(\[[^\]]*\])", jp):
        name, idx = tok
        if name:
            props = s.get("properties", {})
            if name not in props:
                return None
            s = props[name]
        else:
            if s.get("type") != "array":
                return None
            s = s["items"]
            if idx.startswith("[?("):
                m = re.match(r'\[\?\(@\.([A-Za-z0-9_]+)\s*==\s*["\']([^"\']*)["\']\)\]', idx)
                if not m or m.group(1) not in s.get("properties", {}):
                    return None
    return s


def check_crds(crd_dir):
    crds = k8syaml.load_objects(crd_dir)
    check(len(crds) == 2, "crds/ holds two CRDs", str([c["metadata"]["name"] for c in crds]))
    seen_rules = set()
    for crd in crds:
        n = crd["metadata"]["name"]
        sp = crd["spec"]
        names = sp["names"]
        check(crd["apiVersion"] == "apiextensions.k8s.io/v1" and crd["kind"] == "CustomResourceDefinition",
              "%s is an apiextensions.k8s.io/v1 CRD" % n)
        check(n == "%s.%s" % (names["plural"], sp["group"]) and sp["group"] == "k8smon.io",
              "%s: name is <plural>.k8smon.io" % n)
        check(names.get("listKind") == names["kind"] + "List" and names.get("singular") == names["plural"][:-1],
              "%s: singular/listKind consistent" % n)
        check(names.get("categories") == ["k8smon"], "%s: category k8smon" % n)
        exp = {"K8sMonitor": ("Cluster", ["kmon"]), "ScrapeRule": ("Namespaced", ["sr"])}[names["kind"]]
        check(sp["scope"] == exp[0] and names.get("shortNames") == exp[1], "%s: scope %s, short name %s" % (n, exp[0], exp[1][0]))
        vers = sp["versions"]
        check([v["name"] for v in vers] == ["v1alpha1"] and sum(v["storage"] for v in vers) == 1 and vers[0]["served"],
              "%s: one served+storage version v1alpha1" % n)
        v = vers[0]
        check(v.get("subresources", {}).get("status") == {}, "%s: status subresource" % n)
        schema = v["schema"]["openAPIV3Schema"]
        check(set(schema) <= ROOT_ALLOWED, "%s: root schema uses only keywords allowed with subresources" % n,
              str(set(schema) - ROOT_ALLOWED))
        problems, rules = [], []
        walk_schema(schema, "", problems, rules, root=True)
        check(not problems, "%s: structural schema (types everywhere, no forbidden keywords, defaults/enums valid)" % n,
              "; ".join(problems[:8]))
        unknown = [r["rule"] for _p, r in rules if r["rule"] not in CEL]
        check(not unknown, "%s: every CEL rule has a Python equivalent in crdcheck.py" % n, "; ".join(unknown))
        seen_rules |= {r["rule"] for _p, r in rules}
        check(all(r.get("message") for _p, r in rules), "%s: every CEL rule has a message" % n)
        st = schema["properties"].get("status", {}).get("properties", {})
        conds = st.get("conditions", {})
        check("observedGeneration" in st and conds.get("x-kubernetes-list-type") == "map"
              and conds.get("x-kubernetes-list-map-keys") == ["type"]
              and set(conds.get("items", {}).get("required", [])) == {"type", "status", "lastTransitionTime", "reason", "message"},
              "%s: status has observedGeneration and metav1.Condition conditions (listType map on type)" % n)
        cols = v.get("additionalPrinterColumns", [])
        want = ["Ready", "Reason", "Collectors" if names["kind"] == "K8sMonitor" else "Targets", "Age"]
        check(all(w in [c["name"] for c in cols if c.get("priority", 0) == 0] for w in want),
              "%s: printer columns %s" % (n, ", ".join(want)))
        for c in cols:
            node = jsonpath_schema(c["jsonPath"], schema)
            good = node is not None
            if good:
                st_t = node.get("type")
                good = (c["type"] == "date" and node.get("format") == "date-time") or c["type"] == st_t or \
                       (c["type"] == "string" and st_t in ("array", "string"))
            check(good, "%s: printer column %s (%s) points at a %s schema field" % (n, c["name"], c["jsonPath"], c["type"]))
        for c in cols:
            if c["name"] in ("Ready", "Reason"):
                check(c["jsonPath"] == '.status.conditions[?(@.type=="Ready")].' + ("status" if c["name"] == "Ready" else "reason"),
                      "%s: %s column reads the Ready condition" % (n, c["name"]))
    stale = set(CEL) - seen_rules
    check(not stale, "crdcheck.py has no CEL equivalents for rules that no CRD uses", "; ".join(stale))
    check_ks_resources(crds)
    return crds


def check_ks_resources(crds):
    """spec.kubeState.resources: the CRD accepts exactly the names the agent accepts
    (the names of ks_kind_table in src/collect/kubestate/kinds.c), so no resource the
    agent serves is refused by the API server and none the agent refuses gets past it."""
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../src/collect/kubestate/kinds.c")
    m = re.search(r"ks_kind_table\[KS_KIND_NAMES\] = \{(.*?)\n\};", open(src).read(), re.S)
    code = sorted(re.findall(r'KIND\(\s*KS_\w+,\s*"(\w+)"', m.group(1))) if m else []
    km = [c for c in crds if c["spec"]["names"]["kind"] == "K8sMonitor"]
    if not km:
        return
    ks = km[0]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["kubeState"]
    res = ks["properties"]["resources"]
    enum = sorted(res["items"]["enum"])
    check(code and enum == code, "K8sMonitor spec.kubeState.resources enum == the agent's ks_kind_table (src/collect/kubestate/kinds.c)",
          "CRD only: %s; code only: %s" % (sorted(set(enum) - set(code)), sorted(set(code) - set(enum))))
    check(sorted(KSM_RES) == code and res.get("maxItems") == len(code)
          and ks["properties"]["labelsAllowlist"].get("maxProperties") == len(code),
          "K8sMonitor kubeState: maxItems/maxProperties and the labelsAllowlist CEL list cover the same %d resources" % len(code))


def check_objects(crd_dir, paths):
    crds = {(c["spec"]["group"], c["spec"]["names"]["kind"]): c for c in k8syaml.load_objects(crd_dir)}
    n = 0
    for p in paths:
        for f in k8syaml.files_under(p):
            try:
                objs = k8syaml.load_objects(f)
            except ValueError as e:
                check(False, "%s parses" % f, str(e))
                continue
            for o in objs:
                g = o.get("apiVersion", "").split("/")[0]
                crd = crds.get((g, o.get("kind")))
                if g != "k8smon.io":
                    continue
                n += 1
                desc = "%s: %s %s validates against the CRD schema" % (f, o["kind"], o["metadata"].get("name"))
                if crd is None or o["apiVersion"] != "k8smon.io/v1alpha1":
                    check(False, desc, "no CRD for it")
                    continue
                schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
                body = {k: val for k, val in o.items() if k not in ("apiVersion", "kind", "metadata")}
                errs = []
                validate(with_defaults(body, schema), schema, "", errs)
                scope_ok = (crd["spec"]["scope"] == "Namespaced") == bool(o["metadata"].get("namespace"))
                if not scope_ok:
                    errs.append("metadata.namespace does not match scope %s" % crd["spec"]["scope"])
                check(not errs, desc, "; ".join(errs[:6]))
                if os.path.basename(f).endswith("-full.yaml"):
                    missing = sorted(schema_paths(schema["properties"]["spec"], ".spec") - value_paths(o["spec"], ".spec")
                                     - EXCLUSIVE)
                    check(not missing, "%s uses every spec field" % f, ", ".join(missing))
    check(n > 0, "found k8smon.io objects to validate (%d)" % n)


# Fields that exclude a field the -full examples use (shown there in a comment).
EXCLUSIVE = {".spec.kubeState.metricAllowlist"}


def schema_paths(s, path):
    out = {path}
    for k, sub in s.get("properties", {}).items():
        out |= schema_paths(sub, path + "." + k)
    if "items" in s:
        out |= {p for p in schema_paths(s["items"], path) if p != path}
    return out


def value_paths(v, path):
    out = {path}
    if isinstance(v, dict):
        for k, sub in v.items():
            out |= value_paths(sub, path + "." + k)
    elif isinstance(v, list):
        for it in v:
            out |= value_paths(it, path)
    return out


BAD = [  # (kind, spec, what the validator must report)
    ("K8sMonitor", {"collectors": ["node", "gpu"]}, "not in"),
    ("K8sMonitor", {"intervall": "15s"}, "unknown field"),
    ("K8sMonitor", {"interval": "15"}, "does not match"),
    ("K8sMonitor", {"interval": "2h"}, "CEL rule failed"),
    ("K8sMonitor", {"namespaces": ["a"], "excludeNamespaces": ["a"]}, "CEL rule failed"),
    ("K8sMonitor", {"kubeState": {"metricAllowlist": ["a"], "metricDenylist": ["b"]}}, "CEL rule failed"),
    ("K8sMonitor", {"kubeState": {"labelsAllowlist": {"pod": ["app"]}}}, "CEL rule failed"),
    ("K8sMonitor", {"nodeSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}, "CEL rule failed"),
    ("K8sMonitor", {"scrape": {"defaultSampleLimit": 300000, "maxSampleLimit": 200000}}, "CEL rule failed"),
    ("K8sMonitor", {"scrape": {"allowLoopback": "yes"}}, "boolean"),
    ("K8sMonitor", {"components": {"enabled": ["kubelet", "scheduler"]}}, "not in"),
    ("K8sMonitor", {"components": {"kubelet": {"insecure": True}}}, "unknown field"),
    ("K8sMonitor", {"remoteWrite": [{"url": "http://a/w", "externalLabels": {"9x": "a"}}]}, "CEL rule failed"),
    ("K8sMonitor", {"remoteWrite": [{"url": "http://a/w", "maxDiskUsage": "1 GiB"}]}, "does not match"),
    ("ScrapeRule", {"role": "pods"}, "not in"),
    ("ScrapeRule", {"interval": "10s", "scrapeTimeout": "30s"}, "CEL rule failed"),
    ("ScrapeRule", {"sampleLimit": -1}, "out of bounds"),
    ("ScrapeRule", {"port": 1.5}, "int or string"),
    ("ScrapeRule", {"relabelings": [{"action": "hashmod", "targetLabel": "x"}]}, "CEL rule failed"),
    ("ScrapeRule", {"relabelings": [{"sourceLabels": ["a"]}]}, "CEL rule failed"),
    ("ScrapeRule", {"metricRelabelings": [{"action": "Keep"}]}, "not in"),
    ("ScrapeRule", {"metricRelabelings": [{"action": "labeldrop", "regex": "x", "targetLabel": "y"}]}, "CEL rule failed"),
]


def selftest(crd_dir):
    crds = {c["spec"]["names"]["kind"]: c for c in k8syaml.load_objects(crd_dir)}
    for kind, spec, want in BAD:
        schema = crds[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        errs = []
        validate(with_defaults({"spec": spec}, schema), schema, "", errs)
        check(any(want in e for e in errs), "validator rejects %s spec %s (%s)" % (kind, spec, want), "; ".join(errs) or "accepted")


def main(argv):
    if len(argv) >= 3 and argv[1] == "crds":
        check_crds(argv[2])
    elif len(argv) >= 3 and argv[1] == "selftest":
        selftest(argv[2])
    elif len(argv) >= 4 and argv[1] == "objects":
        check_objects(argv[2], argv[3:])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

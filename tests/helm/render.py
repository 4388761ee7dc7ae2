#!/usr/bin/env python3
"""Renders helm/k8smon without helm: the template subset the chart uses (Python 3 stdlib).

Supported: {{ .Values.a.b }}, {{ .Release.Name }}, {{ .Release.Namespace }},
{{ .Chart.Name / .Version / .AppVersion }}, string literals, {{- / -}} whitespace
trimming, {{/* comments */}}, {{ if X }} / {{ if not X }} / {{ else }} / {{ end }},
{{ range $i, $v := X }} / {{ range $v := X }} over a list (. is the element inside, as
in helm; $v.a.b, $i and $.Values... are readable; a key an element leaves out is
empty, as in helm),
{{ define "n" }} + {{ include "n" . }}, {{ toYaml X }}, and the pipeline functions
nindent N, indent N, quote, default V. A missing value is an error (helm would print
"<no value>" or nothing), so typos in templates fail the test.

  render.py [--chart DIR] [--name N] [--namespace NS] [--set a.b=v ...] [--out DIR]
            [--write-deploy DIR]
Without --out / --write-deploy the rendered manifests go to stdout, one document each,
CRDs (the chart's crds/ directory, which helm installs first) included first.
--write-deploy DIR writes examples/deploy: namespace, CRDs, one file per template
(numbered in apply order), and the kustomization file "Kustomization".
"""
import argparse
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import k8syaml  # noqa: E402

TOKEN = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)


class TemplateError(Exception):
    pass


# ----------------------------------------------------------------------- parsing
def tokenize(text):
    out, pos = [], 0
    for m in TOKEN.finditer(text):
        out.append(["text", text[pos:m.start()]])
        out.append(["action", m.group(2), m.group(1) == "-", m.group(3) == "-"])
        pos = m.end()
    out.append(["text", text[pos:]])
    for i, t in enumerate(out):  # whitespace trimming
        if t[0] == "action":
            if t[2] and out[i - 1][0] == "text":
                out[i - 1][1] = out[i - 1][1].rstrip(" \t\r\n")
            if t[3] and out[i + 1][0] == "text":
                out[i + 1][1] = out[i + 1][1].lstrip(" \t\r\n")
    return [t for t in out if not (t[0] == "action" and t[1].startswith("/*"))]


def parse(tokens, defines, i=0, stop=("end",)):
    """-> (nodes, index of the stopping token, its keyword)."""
    nodes = []
    while i < len(tokens):
        t = tokens[i]
        if t[0] == "text":
            nodes.append(("text", t[1]))
            i += 1
            continue
        expr = t[1]
        word = expr.split()[0] if expr.split() else ""
        if word in stop:
            return nodes, i, word
        if word == "if":
            then, i, kw = parse(tokens, defines, i + 1, ("else", "end"))
            other = []
            if kw == "else":
                other, i, kw = parse(tokens, defines, i + 1, ("end",))
            nodes.append(("if", expr[2:].strip(), then, other))
            i += 1
        elif word == "range":
            body, i, _kw = parse(tokens, defines, i + 1, ("end",))
            nodes.append(("range", expr[5:].strip(), body))
            i += 1
        elif word == "define":
            name = json.loads(expr.split(None, 1)[1])
            body, i, _kw = parse(tokens, defines, i + 1, ("end",))
            defines[name] = body
            i += 1
        elif word in ("else", "end"):
            raise TemplateError("unexpected {{ %s }}" % word)
        else:
            nodes.append(("expr", expr))
            i += 1
    return nodes, i, None


# --------------------------------------------------------------------- evaluation
def lookup(ctx, path):
    cur = ctx
    for p in path.strip(".").split("."):
        if not isinstance(cur, dict) or p not in cur:
            raise TemplateError("no value for %s" % path)
        cur = cur[p]
    return cur


def split_pipe(expr):
    parts, cur, q = [], "", False
    for ch in expr:
        if ch == '"':
            q = not q
        if ch == "|" and not q:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    parts.append(cur.strip())
    return parts


def args_of(s):
    return re.findall(r'"(?:[^"\\]|\\.)*"|\S+', s)


# Variables of the enclosing ranges, innermost last: {"$": root, "$i": 0, "$v": {...}}.
VARS = [{}]


def value(ctx, a):
    if a.startswith('"'):
        return json.loads(a)
    if a.startswith("$"):
        name, _dot, rest = a.partition(".")
        for scope in reversed(VARS):
            if name in scope:
                if not rest:
                    return scope[name]
                try:
                    return lookup(scope[name], rest)
                except TemplateError:
                    return None  # a range element's optional key, as in helm
        raise TemplateError("undefined variable %s" % name)
    if a == ".":
        return ctx
    if a.startswith(".") and len(VARS) > 1:
        # Inside a range, as in helm: an element leaves out what it does not use.
        try:
            return lookup(ctx, a)
        except TemplateError:
            return None
    if a.startswith("."):
        return lookup(ctx, a)
    if re.fullmatch(r"-?[0-9]+", a):
        return int(a)
    if a in ("true", "false"):
        return a == "true"
    raise TemplateError("unsupported operand %r" % a)


def truthy(v):
    return not (v is None or v is False or v == 0 and not isinstance(v, bool) or v in ("", [], {}))


def to_str(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return ""
    if isinstance(v, (dict, list)):
        raise TemplateError("cannot print a map/list without toYaml: %r" % (v,))
    return str(v)


PLAIN = re.compile(r"^[A-Za-z0-9_/][A-Za-z0-9_./%-]*$")


def yscalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return repr(v)
    if PLAIN.match(v) and v.lower() not in ("true", "false", "yes", "no", "on", "off", "null", "~") \
            and not re.fullmatch(r"[-+]?[0-9.]+([eE][-+]?[0-9]+)?", v):
        return v
    return json.dumps(v)


def to_yaml(v, indent=0):
    pad = " " * indent
    if isinstance(v, dict):
        if not v:
            return pad + "{}"
        lines = []
        for k in sorted(v):
            x = v[k]
            if isinstance(x, (dict, list)) and x:
                lines.append("%s%s:\n%s" % (pad, yscalar(k), to_yaml(x, indent + (2 if isinstance(x, dict) else 0))))
            else:
                lines.append("%s%s: %s" % (pad, yscalar(k), to_yaml(x, 0).strip()))
        return "\n".join(lines)
    if isinstance(v, list):
        if not v:
            return pad + "[]"
        lines = []
        for x in v:
            if isinstance(x, dict) and x:
                body = to_yaml(x, indent + 2)
                lines.append(pad + "- " + body[indent + 2:])
            elif isinstance(x, list) and x:
                raise TemplateError("nested lists are not supported by toYaml here")
            else:
                lines.append(pad + "- " + to_yaml(x, 0).strip())
        return "\n".join(lines)
    return pad + yscalar(v)


def call(ctx, defines, cmd, piped, has_piped):
    a = args_of(cmd)
    fn, rest = a[0], a[1:]
    if has_piped:
        rest = rest + [None]
    vals = [piped if x is None else value(ctx, x) for x in rest]
    if fn == "include":
        name = vals[0]
        if name not in defines:
            raise TemplateError("include of undefined template %r" % name)
        return render_nodes(defines[name], vals[1], defines)
    if fn == "toYaml":
        return to_yaml(vals[0])
    if fn == "nindent":
        return "\n" + "\n".join(" " * vals[0] + l if l else l for l in to_str(vals[1]).split("\n"))
    if fn == "indent":
        return "\n".join(" " * vals[0] + l if l else l for l in to_str(vals[1]).split("\n"))
    if fn == "quote":
        return json.dumps(to_str(vals[0]))
    if fn == "default":
        return vals[1] if truthy(vals[1]) else vals[0]
    if fn == "not":
        return not truthy(vals[0])
    if fn == "or":  # Go templates: the first truthy argument, else the last
        return next((v for v in vals if truthy(v)), vals[-1])
    if len(a) == 1 and not has_piped:
        return value(ctx, fn)
    raise TemplateError("unsupported function %r" % fn)


def evaluate(ctx, defines, expr):
    piped, has = None, False
    for cmd in split_pipe(expr):
        piped = call(ctx, defines, cmd, piped, has)
        has = True
    return piped


def render_nodes(nodes, ctx, defines):
    out = []
    for n in nodes:
        if n[0] == "text":
            out.append(n[1])
        elif n[0] == "expr":
            out.append(to_str(evaluate(ctx, defines, n[1])))
        elif n[0] == "if":
            out.append(render_nodes(n[2] if truthy(evaluate(ctx, defines, n[1])) else n[3], ctx, defines))
        elif n[0] == "range":
            m = re.fullmatch(r"(?:(\$\w+)\s*,\s*)?(?:(\$\w+)\s*:=\s*)?(.+)", n[1])
            items = evaluate(ctx, defines, m.group(3))
            if items in (None, ""):
                items = []
            if not isinstance(items, list):
                raise TemplateError("range over a non-list: %s" % n[1])
            for idx, item in enumerate(items):
                scope = {}
                if m.group(1):
                    scope[m.group(1)] = idx
                if m.group(2):
                    scope[m.group(2)] = item
                VARS.append(scope)
                try:
                    out.append(render_nodes(n[2], item, defines))
                finally:
                    VARS.pop()
    return "".join(out)


# ----------------------------------------------------------------------- the chart
def set_value(values, assignment):
    key, raw = assignment.split("=", 1)
    cur = values
    parts = key.split(".")
    for p in parts[:-1]:
        cur = cur.setdefault(p, {})
    cur[parts[-1]] = k8syaml._scalar(raw)


def merge(dst, src):
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            merge(dst[k], v)
        else:
            dst[k] = v


def render_chart(chart, name="k8smon", namespace="k8smon", sets=(), values_over=None):
    """-> list of (template file name, rendered text), CRDs first as ('crds/<f>', text).
    values_over: a dict merged over values.yaml (for lists, which --set cannot give)."""
    values = k8syaml.parse_yaml(open(os.path.join(chart, "values.yaml")).read())
    merge(values, values_over or {})
    for s in sets:
        set_value(values, s)
    meta = k8syaml.parse_yaml(open(os.path.join(chart, "Chart.yaml")).read())
    ctx = {"Values": values, "Release": {"Name": name, "Namespace": namespace, "Service": "Helm"},
           "Chart": {"Name": meta["name"], "Version": meta["version"], "AppVersion": meta["appVersion"]}}
    VARS[0] = {"$": ctx}
    tdir = os.path.join(chart, "templates")
    defines, docs = {}, []
    files = sorted(os.listdir(tdir))
    for f in files:
        if f.startswith("_"):
            parse(tokenize(open(os.path.join(tdir, f)).read()), defines)
    for f in sorted(os.listdir(os.path.join(chart, "crds"))):
        docs.append(("crds/" + f, open(os.path.join(chart, "crds", f)).read()))
    for f in files:
        if f.startswith("_") or not f.endswith(".yaml"):
            continue
        try:
            nodes, _i, _kw = parse(tokenize(open(os.path.join(tdir, f)).read()), defines)
            text = render_nodes(nodes, ctx, defines)
        except TemplateError as e:
            raise TemplateError("%s: %s" % (f, e))
        if re.sub(r"(?m)^\s*#.*$", "", text).replace("---", "").strip():
            docs.append(("templates/" + f, text.strip("\n") + "\n"))
    return docs


DEPLOY_HEADER = ("# Generated from helm/k8smon (release k8smon, namespace k8smon, default values) by\n"
                 "#   python3 tests/helm/render.py --write-deploy examples/deploy\n"
                 "# Do not edit: change the chart and re-run (tests/integration/test_helm_chart.sh checks it).\n")


def write_deploy(docs, out):
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        if f.endswith(".yaml"):
            os.remove(os.path.join(out, f))
    for f in os.listdir(out):
        if f == "Kustomization":
            os.remove(os.path.join(out, f))
    files = ["00-namespace.yaml"]
    with open(os.path.join(out, files[0]), "w") as fh:
        fh.write(DEPLOY_HEADER + "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: k8smon\n"
                 "  labels:\n    app.kubernetes.io/name: k8smon\n"
                 "    pod-security.kubernetes.io/enforce: privileged\n")
    for path, text in docs:
        if path.endswith("templates/k8smonitor.yaml"):
            continue  # a CR cannot be applied in the same kubectl run that creates its CRD
        order = "01" if path.startswith("crds/") else "02" if "serviceaccount" in path or "role" in path else "03"
        base = order + "-" + path.replace("templates/", "").replace("crds/", "crd-")
        with open(os.path.join(out, base), "w") as fh:
            fh.write(DEPLOY_HEADER + text)
        files.append(base)
    # Named "Kustomization" (a name kustomize and Flux recognise) rather than
    # kustomization.yaml so that `kubectl apply -f examples/deploy/` does not try to
    # apply it as an object; `kubectl apply -k examples/deploy/` uses it.
    with open(os.path.join(out, "Kustomization"), "w") as fh:
        fh.write(DEPLOY_HEADER + "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                 "namespace: k8smon\nresources:\n" + "".join("- %s\n" % f for f in sorted(files)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chart", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../helm/k8smon"))
    ap.add_argument("--name", default="k8smon")
    ap.add_argument("--namespace", default="k8smon")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--out")
    ap.add_argument("--write-deploy")
    a = ap.parse_args()
    try:
        docs = render_chart(a.chart, a.name, a.namespace, a.set)
    except (TemplateError, ValueError) as e:
        sys.stderr.write("render: %s\n" % e)
        return 1
    if a.write_deploy:
        write_deploy(docs, a.write_deploy)
    elif a.out:
        os.makedirs(a.out, exist_ok=True)
        for path, text in docs:
            with open(os.path.join(a.out, path.replace("/", "_")), "w") as fh:
                fh.write(text)
    else:
        for path, text in docs:
            sys.stdout.write("---\n# Source: %s\n%s" % (path, text))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""YAML helpers for the k8smon manifest tests (Python 3 standard library only).

load_objects(path): Kubernetes objects from a YAML/JSON file or directory, converted
  offline by `kubectl label --local -o json` (the parser kubectl itself uses).
parse_yaml(text): a small YAML subset for files that are not Kubernetes objects
  (helm values.yaml): block mappings and sequences, plain/quoted scalars, flow [] and {}
  of scalars, comments. No anchors, no multi-line scalars (| and > are rejected).
"""
import json
import os
import re
import subprocess


def _json_stream(text):
    dec, i, out = json.JSONDecoder(), 0, []
    while True:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        if i >= len(text):
            return out
        v, i = dec.raw_decode(text, i)
        out.append(v)


def _flatten(docs):
    out = []
    for d in docs:
        if isinstance(d, list):
            out.extend(_flatten(d))
        elif isinstance(d, dict) and str(d.get("kind", "")).endswith("List") and isinstance(d.get("items"), list):
            out.extend(_flatten(d["items"]))
        elif isinstance(d, dict):
            if (d.get("metadata") or {}).get("labels") == {}:
                del d["metadata"]["labels"]
            out.append(d)
    return out


def files_under(path, exts=(".yaml", ".yml", ".json")):
    if not os.path.isdir(path):
        return [path]
    res = []
    for root, _d, fs in os.walk(path):
        res += [os.path.join(root, f) for f in fs if f.endswith(exts)]
    return sorted(res)


def load_objects(path):
    objs = []
    for f in files_under(path):
        if f.endswith(".json"):
            with open(f) as fh:
                objs += _flatten(_json_stream(fh.read()))
            continue
        p = subprocess.run(["kubectl", "label", "--local", "-o", "json", "-f", f, "k8smon-test-dummy-",
                            "--kubeconfig=/dev/null"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True)
        if p.returncode != 0:
            raise ValueError("%s: %s" % (f, p.stderr.strip()))
        objs += _flatten(_json_stream(p.stdout))
    return objs


# ------------------------------------------------------------------ YAML subset parser
def _scalar(s):
    s = s.strip()
    if s == "" or s in ("~", "null"):
        return None
    if s[0] == '"':
        return json.loads(s)
    if s[0] == "'":
        return s[1:-1].replace("''", "'")
    if s in ("true", "True"):
        return True
    if s in ("false", "False"):
        return False
    if re.fullmatch(r"-?[0-9]+", s):
        return int(s)
    if re.fullmatch(r"-?[0-9]+\.[0-9]*", s):
        return float(s)
    if s.startswith("["):
        inner = s[1:-1].strip()
        return [_scalar(x) for x in _split_flow(inner)] if inner else []
    if s.startswith("{"):
        inner = s[1:-1].strip()
        out = {}
        for item in (_split_flow(inner) if inner else []):
            k, v = item.split(":", 1)
            out[_scalar(k)] = _scalar(v)
        return out
    if s[0] in "|>&*!":
        raise ValueError("unsupported YAML construct: %r" % s)
    return s


def _split_flow(s):
    parts, cur, q = [], "", None
    for ch in s:
        if q:
            cur += ch
            if ch == q:
                q = None
        elif ch in "\"'":
            q = ch
            cur += ch
        elif ch == ",":
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts]


def _strip_comment(line):
    q = None
    for i, ch in enumerate(line):
        if q:
            if ch == q:
                q = None
        elif ch in "\"'":
            q = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def _split_key(s):
    """'key: value' -> (key, value-or-None); None if s is not a mapping entry."""
    m = re.match(r'^("[^"]*"|\'[^\']*\'|[^\s:#][^:#]*?)\s*:(\s+(.*))?$', s)
    if not m:
        return None
    return _scalar(m.group(1)), (m.group(3) if m.group(2) else None)


def parse_yaml(text):
    lines = []
    for raw in text.split("\n"):
        if raw.strip() in ("---", "..."):
            continue
        ln = _strip_comment(raw)
        if ln.strip():
            lines.append((len(ln) - len(ln.lstrip(" ")), ln.strip()))
    pos = [0]

    def block(indent):
        if pos[0] >= len(lines):
            return None
        ind, txt = lines[pos[0]]
        if txt.startswith("- ") or txt == "-":
            return seq(ind)
        return mapping(ind)

    def mapping(ind):
        out = {}
        while pos[0] < len(lines):
            i, txt = lines[pos[0]]
            if i < ind:
                break
            if i > ind:
                raise ValueError("bad indentation at %r" % txt)
            kv = _split_key(txt)
            if kv is None:
                raise ValueError("expected key: value, got %r" % txt)
            pos[0] += 1
            k, v = kv
            if v is None:
                if pos[0] < len(lines) and (lines[pos[0]][0] > ind or
                                            (lines[pos[0]][0] == ind and lines[pos[0]][1].startswith("- "))):
                    out[k] = block(lines[pos[0]][0])
                else:
                    out[k] = None
            else:
                out[k] = _scalar(v)
        return out

    def seq(ind):
        out = []
        while pos[0] < len(lines):
            i, txt = lines[pos[0]]
            if i != ind or not (txt.startswith("- ") or txt == "-"):
                break
            rest = txt[2:].strip() if txt != "-" else ""
            if rest == "":
                pos[0] += 1
                out.append(block(lines[pos[0]][0]) if pos[0] < len(lines) and lines[pos[0]][0] > ind else None)
            elif _split_key(rest) is not None and not rest.startswith(("[", "{", '"', "'")):
                # "- key: v" starts a mapping whose keys are indented by ind+2
                lines[pos[0]] = (ind + 2, rest)
                out.append(mapping(ind + 2))
            else:
                pos[0] += 1
                out.append(_scalar(rest))
        return out

    return block(0) if lines else {}

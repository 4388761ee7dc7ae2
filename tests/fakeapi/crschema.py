"""crschema.py -- what kube-apiserver does to a custom resource with its CRD's
openAPIV3Schema, for fakeapi.py (Python 3 stdlib only).

One write goes through, in the real server's order:
  prune(obj)      unknown fields (and nulls in non-nullable fields) are dropped;
                  their paths come back for fieldValidation Strict (400) / Warn (header)
  default(obj)    absent properties with a `default` get it (then their own defaults)
  validate(obj)   schema checks, then list-type set/map duplicates, then the CEL
                  x-kubernetes-validations rules -- which the real server skips when a
                  "blocking" error (type, enum, required, too long, too many) was found

The error texts, reasons and field paths are the ones kube-apiserver v1.36 produces
(checked by tests/fakeapi/test_cr_cases.py against the table tests/peers/cr_cases.yaml
that tests/integration/test_real_apiserver.sh runs against the real server).

CEL: a small interpreter for the subset our CRDs use (literals, lists, field
selection, indexing, ! && || == != < <= > >= in, has(), size(), duration(),
string.matches(), list/map .exists() and .all()). A rule outside that subset does not
stop the CRD: it is reported by unsupported_rules() and not checked.
"""
import json
import re

BLOCKED = ("some validation rules were not checked because the object was invalid; "
           "correct the existing errors to complete validation")


class Cause(object):
    """One field error: reason (FieldValue*), field path, message without the path."""

    def __init__(self, reason, field, message, blocking=False):
        self.reason = reason
        self.field = field
        self.message = message
        self.blocking = blocking

    def text(self):
        return "%s: %s" % (self.field, self.message)

    def as_cause(self):
        return {"reason": self.reason, "message": self.message, "field": self.field}


# ---------------------------------------------------------------- value rendering

def go_value(v):
    """A value as Go's field errors print it (%q for strings, %d for numbers)."""
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


def json_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer()):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _type_ok(schema, v):
    t = json_type(v)
    if schema.get("x-kubernetes-int-or-string"):
        return t in ("integer", "string")
    want = schema.get("type")
    if not want:
        return True
    if want == "number":
        return t in ("integer", "number")
    return t == want


def _child(path, key):
    return key if not path else path + "." + key


def _props(schema):
    return schema.get("properties") or {}


def _addl(schema):
    a = schema.get("additionalProperties")
    return a if isinstance(a, dict) else None


def _preserve(schema):
    return bool(schema.get("x-kubernetes-preserve-unknown-fields"))


# ---------------------------------------------------------------- pruning + defaulting

def prune(obj, schema, root=True):
    """Drops what the schema does not know; returns the dropped paths, sorted.

    At the root apiVersion, kind and metadata are always kept (metadata is ObjectMeta,
    not the CRD's business)."""
    dropped = []
    _prune(obj, schema, "", dropped, root)
    return sorted(dropped)


def _prune(v, schema, path, dropped, root=False):
    if isinstance(v, dict):
        props, addl = _props(schema), _addl(schema)
        for k in list(v):
            if root and k in ("apiVersion", "kind", "metadata"):
                continue
            sub = props.get(k) if k in props else addl
            if sub is None:
                if _preserve(schema) or schema.get("x-kubernetes-int-or-string"):
                    continue
                del v[k]
                dropped.append(_child(path, k))
                continue
            if v[k] is None and not sub.get("nullable"):
                del v[k]                            # not unknown: no warning
                continue
            _prune(v[k], sub, _child(path, k), dropped)
    elif isinstance(v, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(v):
            _prune(item, schema["items"], "%s[%d]" % (path, i), dropped)


def default(v, schema):
    """Fills absent properties from `default`, then defaults inside what was filled."""
    if isinstance(v, dict):
        props = _props(schema)
        for k, sub in props.items():
            if k not in v and "default" in sub:
                v[k] = json.loads(json.dumps(sub["default"]))
        for k in v:
            sub = props.get(k) if k in props else _addl(schema)
            if sub is not None:
                default(v[k], sub)
    elif isinstance(v, list) and isinstance(schema.get("items"), dict):
        for item in v:
            default(item, schema["items"])


# ---------------------------------------------------------------- schema validation

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _check_scalar(v, s, path, out):
    if "enum" in s and v not in s["enum"]:
        out.append(Cause("FieldValueNotSupported", path, "Unsupported value: %s: supported values: %s"
                         % (go_value(v), ", ".join(go_value(e) for e in s["enum"])), True))
    if isinstance(v, str):
        if "maxLength" in s and len(v.encode()) > s["maxLength"]:
            out.append(Cause("FieldValueTooLong", path, "Too long: may not be more than %d bytes"
                             % s["maxLength"], True))
        if "minLength" in s and len(v) < s["minLength"]:
            out.append(Cause("FieldValueInvalid", path, "Invalid value: %s: %s in body should be at least "
                             "%d chars long" % (go_value(v), path, s["minLength"])))
        if "pattern" in s and not re.search(s["pattern"], v):
            out.append(Cause("FieldValueInvalid", path, "Invalid value: %s: %s in body should match '%s'"
                             % (go_value(v), path, s["pattern"])))
        if s.get("format") == "date-time" and not _DATE_TIME.match(v):
            out.append(Cause("FieldValueInvalid", path, "Invalid value: %s: %s in body must be of type "
                             "date-time: %s" % (go_value(v), path, go_value(v))))
    elif isinstance(v, (int, float)) and not isinstance(v, bool):
        n = int(v) if isinstance(v, float) and v.is_integer() and s.get("type") == "integer" else v
        if "minimum" in s:
            excl = s.get("exclusiveMinimum") is True
            if n < s["minimum"] or (excl and n == s["minimum"]):
                out.append(Cause("FieldValueInvalid", path, "Invalid value: %s: %s in body should be greater than %s%s"
                                 % (go_value(n), path, "" if excl else "or equal to ", go_value(s["minimum"]))))
        if "maximum" in s:
            excl = s.get("exclusiveMaximum") is True
            if n > s["maximum"] or (excl and n == s["maximum"]):
                out.append(Cause("FieldValueInvalid", path, "Invalid value: %s: %s in body should be less than %s%s"
                                 % (go_value(n), path, "" if excl else "or equal to ", go_value(s["maximum"]))))


def _check(v, s, path, out):
    if v is None:
        if s.get("nullable"):
            return
        out.append(Cause("FieldValueTypeInvalid", path, 'Invalid value: "null": %s in body must be of type %s: "null"'
                         % (path, _type_name(s)), True))
        return
    if not _type_ok(s, v):
        t = json_type(v)
        out.append(Cause("FieldValueTypeInvalid", path, 'Invalid value: "%s": %s in body must be of type %s: "%s"'
                         % (t, path, _type_name(s), t), True))
        return
    if isinstance(v, dict):
        n = len(v)
        if "maxProperties" in s and n > s["maxProperties"]:
            out.append(Cause("FieldValueTooMany", path, "Too many: %d: must have at most %d items"
                             % (n, s["maxProperties"]), True))
        if "minProperties" in s and n < s["minProperties"]:
            out.append(Cause("FieldValueInvalid", path, "Invalid value: %d: %s in body should have at least "
                             "%d properties" % (n, path, s["minProperties"])))
        props, addl = _props(s), _addl(s)
        for k in sorted(v):
            if path == "" and k == "metadata":
                continue
            sub = props.get(k) if k in props else addl
            if sub is not None:
                _check(v[k], sub, _child(path, k), out)
        for r in s.get("required") or []:     # after the properties, as the real server reports
            if r not in v:
                out.append(Cause("FieldValueRequired", _child(path, r), "Required value", True))
    elif isinstance(v, list):
        n = len(v)
        if "maxItems" in s and n > s["maxItems"]:
            out.append(Cause("FieldValueTooMany", path, "Too many: %d: must have at most %d items"
                             % (n, s["maxItems"]), True))
        if "minItems" in s and n < s["minItems"]:
            out.append(Cause("FieldValueInvalid", path, "Invalid value: %d: %s in body should have at least "
                             "%d items" % (n, path, s["minItems"])))
        if isinstance(s.get("items"), dict):
            for i, item in enumerate(v):
                _check(item, s["items"], "%s[%d]" % (path, i), out)
    else:
        _check_scalar(v, s, path, out)


def _type_name(s):
    return "integer,string" if s.get("x-kubernetes-int-or-string") else s.get("type", "")


def _check_lists(v, s, path, out):
    """x-kubernetes-list-type set / map: the second occurrence of a value or key is a duplicate."""
    if isinstance(v, dict):
        props, addl = _props(s), _addl(s)
        for k in sorted(v):
            sub = props.get(k) if k in props else addl
            if sub is not None and not (path == "" and k == "metadata"):
                _check_lists(v[k], sub, _child(path, k), out)
    elif isinstance(v, list):
        lt = s.get("x-kubernetes-list-type")
        keys = s.get("x-kubernetes-list-map-keys") or []
        seen, reported = [], []
        for i, item in enumerate(v):
            if lt == "set":
                ident = item
            elif lt == "map" and isinstance(item, dict):
                ident = dict((k, item.get(k)) for k in keys)
            else:
                ident = None
            if ident is not None:
                if ident in seen and ident not in reported:
                    out.append(Cause("FieldValueDuplicate", "%s[%d]" % (path, i), "Duplicate value: %s"
                                     % go_value(ident)))
                    reported.append(ident)
                seen.append(ident)
            if isinstance(s.get("items"), dict):
                _check_lists(item, s["items"], "%s[%d]" % (path, i), out)


def validate(obj, schema, rules):
    """All field errors of obj (already pruned and defaulted), in the real server's order.

    rules: a Rules instance for this schema (compiled CEL)."""
    out = []
    _check(obj, schema, "", out)
    _check_lists(obj, schema, "", out)
    if rules.any:
        if any(c.blocking for c in out):
            out.append(Cause("FieldValueInvalid", "<nil>", "Invalid value: null: " + BLOCKED))
        else:
            rules.run(obj, schema, "", out)
    return out


# ---------------------------------------------------------------- CEL subset

class CelUnsupported(Exception):
    pass


class CelError(Exception):
    pass


_TOKEN = re.compile(r"""\s*(?:
    (?P<num>\d+)
  | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\|\||&&|==|!=|<=|>=|[!<>()\[\],.])
)""", re.X)


def _tokens(src):
    pos, out = 0, []
    src = src.rstrip()
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if not m or m.end() == pos:
            raise CelUnsupported("unsupported syntax at %r" % src[pos:pos + 12])
        pos = m.end()
        if m.group("num"):
            out.append(("lit", int(m.group("num"))))
        elif m.group("str"):
            s = m.group("str")
            if "\\" in s:
                raise CelUnsupported("escapes in string literals")
            out.append(("lit", s[1:-1]))
        elif m.group("id"):
            w = m.group("id")
            if w in ("true", "false"):
                out.append(("lit", w == "true"))
            elif w == "in":
                out.append(("op", "in"))
            else:
                out.append(("id", w))
        else:
            out.append(("op", m.group("op")))
    out.append(("end", None))
    return out


class _Parser(object):
    """Recursive descent over CEL's precedence: || < && < relations < ! < member."""

    def __init__(self, src):
        self.t = _tokens(src)
        self.i = 0

    def peek(self, kind, val=None):
        k, v = self.t[self.i]
        return k == kind and (val is None or v == val)

    def take(self, kind, val=None):
        if not self.peek(kind, val):
            raise CelUnsupported("expected %s at token %d" % (val or kind, self.i))
        self.i += 1
        return self.t[self.i - 1][1]

    def parse(self):
        e = self.or_()
        self.take("end")
        return e

    def or_(self):
        e = self.and_()
        while self.peek("op", "||"):
            self.i += 1
            e = ("or", e, self.and_())
        return e

    def and_(self):
        e = self.rel()
        while self.peek("op", "&&"):
            self.i += 1
            e = ("and", e, self.rel())
        return e

    def rel(self):
        e = self.unary()
        for op in ("==", "!=", "<=", ">=", "<", ">", "in"):
            if self.peek("op", op):
                self.i += 1
                return ("cmp", op, e, self.unary())
        return e

    def unary(self):
        if self.peek("op", "!"):
            self.i += 1
            return ("not", self.unary())
        return self.member()

    def args(self):
        out = []
        self.take("op", "(")
        while not self.peek("op", ")"):
            out.append(self.or_())
            if not self.peek("op", ")"):
                self.take("op", ",")
        self.take("op", ")")
        return out

    def member(self):
        e = self.primary()
        while True:
            if self.peek("op", "."):
                self.i += 1
                name = self.take("id")
                if self.peek("op", "("):
                    e = ("method", name, e, self.args())
                else:
                    e = ("field", e, name)
            elif self.peek("op", "["):
                self.i += 1
                idx = self.or_()
                self.take("op", "]")
                e = ("index", e, idx)
            else:
                return e

    def primary(self):
        if self.peek("lit"):
            return ("lit", self.take("lit"))
        if self.peek("op", "("):
            self.i += 1
            e = self.or_()
            self.take("op", ")")
            return e
        if self.peek("op", "["):
            self.i += 1
            items = []
            while not self.peek("op", "]"):
                items.append(self.or_())
                if not self.peek("op", "]"):
                    self.take("op", ",")
            self.take("op", "]")
            return ("list", items)
        name = self.take("id")
        if self.peek("op", "("):
            if name not in ("has", "size", "duration"):
                raise CelUnsupported("function %s()" % name)
            args = self.args()
            if name == "has" and (len(args) != 1 or args[0][0] != "field"):
                raise CelUnsupported("has() needs a field selection")
            return ("call", name, args)
        if name == "oldSelf":
            raise CelUnsupported("transition rules (oldSelf)")
        return ("var", name)


_DUR_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|ms|s|m|h)")
_DUR_UNIT = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_duration(s):
    """Seconds of a Go duration string (what CEL's duration() accepts), or CelError."""
    if not isinstance(s, str):
        raise CelError("no such overload: duration(%s)" % json_type(s))
    bad = CelError("type conversion error from 'string' to 'google.protobuf.Duration'")
    sign, body = (-1.0, s[1:]) if s.startswith("-") else (1.0, s[1:] if s.startswith("+") else s)
    if body == "0":
        return 0.0
    if not body:
        raise bad
    total, pos = 0.0, 0
    while pos < len(body):
        m = _DUR_PART.match(body, pos)
        if not m:
            raise bad
        total += float(m.group(1)) * _DUR_UNIT[m.group(2)]
        pos = m.end()
    return sign * total


class _Dur(float):
    """A duration value (compares with other durations only)."""


def _eval(e, env):
    op = e[0]
    if op == "lit":
        return e[1]
    if op == "var":
        if e[1] not in env:
            raise CelError("undeclared reference to '%s'" % e[1])
        return env[e[1]]
    if op == "list":
        return [_eval(x, env) for x in e[1]]
    if op == "not":
        v = _eval(e[1], env)
        if not isinstance(v, bool):
            raise CelError("no such overload: !%s" % json_type(v))
        return not v
    if op in ("or", "and"):
        a = _eval(e[1], env)
        if not isinstance(a, bool):
            raise CelError("no matching overload for '%s'" % ("||" if op == "or" else "&&"))
        if a == (op == "or"):
            return a
        b = _eval(e[2], env)
        if not isinstance(b, bool):
            raise CelError("no matching overload for '%s'" % ("||" if op == "or" else "&&"))
        return b
    if op == "field":
        obj = _eval(e[1], env)
        if not isinstance(obj, dict):
            raise CelError("type '%s' does not support field selection" % json_type(obj))
        if e[2] not in obj:
            raise CelError("no such key: %s" % e[2])
        return obj[e[2]]
    if op == "index":
        obj, idx = _eval(e[1], env), _eval(e[2], env)
        try:
            return obj[idx]
        except (KeyError, IndexError, TypeError):
            raise CelError("no such key: %s" % idx)
    if op == "cmp":
        a, b = _eval(e[2], env), _eval(e[3], env)
        if e[1] == "in":
            if isinstance(b, (list, dict)):
                return a in b
            raise CelError("no such overload: in %s" % json_type(b))
        if e[1] == "==":
            return a == b and type(a) is type(b)
        if e[1] == "!=":
            return not (a == b and type(a) is type(b))
        if type(a) is not type(b) or isinstance(a, (bool, list, dict)):
            raise CelError("no such overload: %s %s %s" % (json_type(a), e[1], json_type(b)))
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[e[1]]
    if op == "call":
        name, args = e[1], e[2]
        if name == "has":
            obj = _eval(args[0][1], env)
            return isinstance(obj, dict) and args[0][2] in obj
        if len(args) != 1:
            raise CelError("%s() takes one argument" % name)
        v = _eval(args[0], env)
        if name == "size":
            if isinstance(v, (str, list, dict)):
                return len(v)
            raise CelError("no such overload: size(%s)" % json_type(v))
        return _Dur(go_duration(v))
    if op == "method":
        name, recv, args = e[1], _eval(e[2], env), e[3]
        if name == "matches" and len(args) == 1:
            pat = _eval(args[0], env)
            if not isinstance(recv, str) or not isinstance(pat, str):
                raise CelError("no such overload: matches")
            return re.search(pat, recv) is not None
        if name in ("exists", "all") and len(args) == 2 and args[0][0] == "var":
            if not isinstance(recv, (list, dict)):
                raise CelError("no such overload: %s" % name)
            var = args[0][1]
            results = []
            for x in recv:                      # a map iterates its keys, as in CEL
                r = _eval(args[1], dict(env, **{var: x}))
                if not isinstance(r, bool):
                    raise CelError("no such overload: %s predicate" % name)
                results.append(r)
            return any(results) if name == "exists" else all(results)
        raise CelError("found no matching overload for '%s'" % name)
    raise CelError("unsupported expression")


def _check_methods(e):
    """Parse-time check that every method is one _eval knows (unsupported -> not checked)."""
    if isinstance(e, tuple):
        if e[0] == "method" and e[1] not in ("matches", "exists", "all"):
            raise CelUnsupported("method .%s()" % e[1])
        for x in e[1:]:
            _check_methods(x)
    elif isinstance(e, list):
        for x in e:
            _check_methods(x)


_REASON_PREFIX = {"FieldValueInvalid": None, "FieldValueForbidden": "Forbidden",
                  "FieldValueRequired": "Required value", "FieldValueDuplicate": "Duplicate value"}


class Rules(object):
    """The x-kubernetes-validations of one schema, compiled once per CRD version."""

    def __init__(self, schema):
        self.compiled = {}                  # id(rule dict) -> AST
        self.unsupported = []               # (schema path, rule, why)
        self.any = False
        self._compile(schema, "")

    def _compile(self, s, path):
        if not isinstance(s, dict):
            return
        for r in s.get("x-kubernetes-validations") or []:
            self.any = True
            try:
                if "messageExpression" in r and "message" not in r:
                    raise CelUnsupported("messageExpression")
                ast = _Parser(r.get("rule", "")).parse()
                _check_methods(ast)
                self.compiled[id(r)] = ast
            except CelUnsupported as e:
                self.unsupported.append((path or "<root>", r.get("rule", ""), str(e)))
        for k, sub in _props(s).items():
            self._compile(sub, _child(path, k))
        if _addl(s):
            self._compile(_addl(s), path + "[*]")
        if isinstance(s.get("items"), dict):
            self._compile(s["items"], path + "[*]")

    def run(self, v, s, path, out):
        """CEL rules of every present node: its own, then its children's (the real order)."""
        for r in s.get("x-kubernetes-validations") or []:
            ast = self.compiled.get(id(r))
            if ast is None:
                continue
            field = path
            fp = r.get("fieldPath")
            if fp:
                field = path + fp if fp.startswith(".") else _child(path, fp)
            try:
                ok = _eval(ast, {"self": v})
                if not isinstance(ok, bool):
                    raise CelError("rule did not evaluate to a bool")
            except CelError as e:
                out.append(Cause("FieldValueInvalid", path, "Invalid value: %s: %s evaluating rule: %s"
                                 % (go_value(json_type(v)), e, r.get("rule"))))
                continue
            if ok:
                continue
            msg = r.get("message") or "failed rule: %s" % r.get("rule")
            reason = r.get("reason") or "FieldValueInvalid"
            prefix = _REASON_PREFIX.get(reason)
            if prefix:
                text = "%s: %s" % (prefix, msg)
            elif isinstance(v, (dict, list)):
                text = "Invalid value: %s" % msg
            else:
                text = "Invalid value: %s: %s" % (go_value(v), msg)
            out.append(Cause(reason, field, text))
        if isinstance(v, dict):
            props, addl = _props(s), _addl(s)
            for k in sorted(v):
                sub = props.get(k) if k in props else addl
                if sub is not None and not (path == "" and k == "metadata"):
                    self.run(v[k], sub, _child(path, k), out)
        elif isinstance(v, list) and isinstance(s.get("items"), dict):
            for i, item in enumerate(v):
                self.run(item, s["items"], "%s[%d]" % (path, i), out)

"""openapi3.py -- /openapi/v3 documents for the custom resources of fakeapi.py.

kubectl (1.27+) reads OpenAPI v3 for two things we need: `kubectl explain` (the
schema under components.schemas, found by x-kubernetes-group-version-kind) and
server-side field validation (kubectl sends fieldValidation=Strict only when the
PATCH operation of the kind lists that query parameter). The shape follows what
kube-apiserver v1.36 serves for a CRD group-version; descriptions of the shared
meta types are short and our own. Built-in groups are not listed: kubectl then falls
back to /openapi/v2 (an empty document) as it did before.

`kubectl -v=8 explain k8smonitor.spec.kubeState` (v1.36) against the real server asks
for discovery, then GET /openapi/v3 (the root: {"paths": {"apis/<g>/<v>":
{"serverRelativeURL": "/openapi/v3/apis/<g>/<v>?hash=<SHA-512>"}}}) and the one
group-version document by that URL; nothing of core/v1 is needed for our kinds.
"""
import hashlib
import json

META = "io.k8s.apimachinery.pkg.apis.meta.v1."


def _ref(name):
    return {"$ref": "#/components/schemas/" + name}


def _str(desc):
    return {"type": "string", "description": desc}


def _meta_schemas():
    """The apimachinery types a CRD document refers to, trimmed to what explain shows."""
    strmap = {"type": "object", "additionalProperties": {"type": "string", "default": ""}}
    return {
        META + "ObjectMeta": {
            "description": "Metadata every persisted object has (name, namespace, labels, ...).",
            "type": "object",
            "properties": {
                "name": _str("Name, unique within a namespace (or the cluster for cluster-scoped kinds)."),
                "generateName": _str("Prefix the server completes into a unique name when name is empty."),
                "namespace": _str("Namespace of the object; empty for cluster-scoped kinds."),
                "uid": _str("Unique id set by the server on creation."),
                "resourceVersion": _str("Opaque version of the object, for optimistic concurrency and watches."),
                "generation": {"type": "integer", "format": "int64",
                               "description": "Sequence number of the desired state (changes of spec)."},
                "creationTimestamp": dict(_ref(META + "Time"),
                                          description="When the server created the object."),
                "deletionTimestamp": dict(_ref(META + "Time"),
                                          description="When the object will be deleted (set by the server)."),
                "labels": dict(strmap, description="Key/value pairs for selecting objects."),
                "annotations": dict(strmap, description="Key/value pairs for tools; not used for selection."),
                "finalizers": {"type": "array", "items": {"type": "string", "default": ""},
                               "x-kubernetes-list-type": "set",
                               "description": "Names that must be removed before the object is deleted."},
                "ownerReferences": {"type": "array", "items": {"type": "object"},
                                    "description": "Objects this one depends on (garbage collection)."},
                "managedFields": {"type": "array", "items": {"type": "object"},
                                  "description": "Field ownership of server-side apply."},
            },
        },
        META + "ListMeta": {
            "description": "Metadata of a list: resourceVersion and the continue token of paged lists.",
            "type": "object",
            "properties": {
                "resourceVersion": _str("Version of the list, to start a watch from."),
                "continue": _str("Token for the next page of a paged list."),
                "remainingItemCount": {"type": "integer", "format": "int64",
                                       "description": "Items after this page (approximate)."},
            },
        },
        META + "Time": {"type": "string", "format": "date-time",
                        "description": "RFC 3339 time with second precision."},
        META + "Patch": {"type": "object", "description": "A patch body; its format is the Content-Type."},
        META + "Status": {"type": "object", "description": "Result of an operation that returns no object.",
                          "properties": {"code": {"type": "integer", "format": "int32"},
                                         "message": {"type": "string"}, "reason": {"type": "string"},
                                         "status": {"type": "string"}}},
        META + "DeleteOptions": {"type": "object", "description": "Options of a delete request.",
                                 "properties": {"dryRun": {"type": "array", "items": {"type": "string"}},
                                                "propagationPolicy": {"type": "string"}}},
    }


def schema_id(group, version, kind):
    """io.k8smon.v1alpha1.K8sMonitor for k8smon.io/v1alpha1 K8sMonitor (reversed group)."""
    return "%s.%s.%s" % (".".join(reversed(group.split("."))), version, kind)


def _kind_schema(group, version, kind, schema):
    s = json.loads(json.dumps(schema))
    props = s.setdefault("properties", {})
    props["apiVersion"] = _str("Versioned schema of this representation of the object (group/version).")
    props["kind"] = _str("REST resource this object represents, in CamelCase.")
    props["metadata"] = {"description": "Standard object metadata.", "allOf": [_ref(META + "ObjectMeta")]}
    s["x-kubernetes-group-version-kind"] = [{"group": group, "kind": kind, "version": version}]
    return s


def _list_schema(group, version, kind, list_kind, plural):
    return {"description": "%s is a list of %s" % (list_kind, kind), "type": "object", "required": ["items"],
            "properties": {
                "apiVersion": _str("Versioned schema of this representation of the object."),
                "kind": _str("REST resource this object represents."),
                "items": {"type": "array", "description": "List of %s." % plural,
                          "items": _ref(schema_id(group, version, kind))},
                "metadata": {"description": "Standard list metadata.", "allOf": [_ref(META + "ListMeta")]}},
            "x-kubernetes-group-version-kind": [{"group": group, "kind": list_kind, "version": version}]}


def _param(name, typ="string", where="query"):
    p = {"name": name, "in": where, "schema": {"type": typ, "uniqueItems": True}}
    if where == "path":
        p["required"] = True
    return p


def _body(ref):
    return {"content": {"application/json": {"schema": ref}, "application/yaml": {"schema": ref}}}


def _op(action, verb, gvk, ref, params, request=None, codes=("200",)):
    op = {"operationId": "%s%s" % (verb, gvk["kind"]), "parameters": [_param(p) for p in params],
          "responses": dict((c, _body(ref)) for c in codes), "x-kubernetes-action": action,
          "x-kubernetes-group-version-kind": gvk}
    op["responses"]["401"] = {}
    if request is not None:
        op["requestBody"] = dict(request, required=True)
    return op


WRITE = ("dryRun", "fieldManager", "fieldValidation")
LIST = ("allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "resourceVersion",
        "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch")


def _item_ops(gvk, ref, status=False):
    """get/put/patch(/delete) of one object; patch bodies without strategic merge, as for CRDs
    (kubectl apply then sends a JSON merge patch)."""
    patch_ref = _ref(META + "Patch")
    patch_body = {"content": dict((ct, {"schema": patch_ref}) for ct in (
        "application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json"))}
    suffix = "Status" if status else ""
    ops = {"get": _op("get", "read" + suffix, gvk, ref, ("resourceVersion",)),
           "put": _op("put", "replace" + suffix, gvk, ref, WRITE, _body(ref), ("200", "201")),
           "patch": _op("patch", "patch" + suffix, gvk, ref, WRITE + ("force",), patch_body)}
    if not status:
        ops["delete"] = _op("delete", "delete", gvk, _ref(META + "Status"),
                            ("dryRun", "gracePeriodSeconds", "propagationPolicy"),
                            _body(_ref(META + "DeleteOptions")), ("200", "202"))
    return ops


def gv_document(group, version, kinds):
    """The document of /openapi/v3/apis/<group>/<version>.

    kinds: [{"kind", "list_kind", "plural", "namespaced", "status", "schema"}]."""
    schemas = _meta_schemas()
    paths = {}
    base = "/apis/%s/%s" % (group, version)
    for k in kinds:
        kind, plural = k["kind"], k["plural"]
        gvk = {"group": group, "version": version, "kind": kind}
        ref = _ref(schema_id(group, version, kind))
        list_ref = _ref(schema_id(group, version, k["list_kind"]))
        schemas[schema_id(group, version, kind)] = _kind_schema(group, version, kind, k["schema"])
        schemas[schema_id(group, version, k["list_kind"])] = _list_schema(group, version, kind, k["list_kind"],
                                                                         plural)
        coll = base + ("/namespaces/{namespace}/" if k["namespaced"] else "/") + plural
        scope = [_param("namespace", where="path")] if k["namespaced"] else []
        paths[coll] = {"get": _op("list", "list", gvk, list_ref, LIST),
                       "post": _op("post", "create", gvk, ref, WRITE, _body(ref), ("200", "201", "202")),
                       "delete": _op("deletecollection", "deleteCollection", gvk, _ref(META + "Status"),
                                     ("dryRun", "labelSelector", "fieldSelector")),
                       "parameters": scope + [_param("pretty")]}
        item = dict(_item_ops(gvk, ref), parameters=scope + [_param("name", where="path"), _param("pretty")])
        paths[coll + "/{name}"] = item
        if k["status"]:
            paths[coll + "/{name}/status"] = dict(_item_ops(gvk, ref, status=True),
                                                  parameters=item["parameters"])
        if k["namespaced"]:
            paths[base + "/" + plural] = {"get": _op("list", "listForAllNamespaces", gvk, list_ref, LIST),
                                          "parameters": [_param("pretty")]}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes CRD Swagger", "version": "v0.1.0"},
            "paths": paths, "components": {"schemas": schemas}}


def encode(doc):
    """Bytes of a document and its hash (uppercase SHA-512, as the real server's ?hash=)."""
    body = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    return body, hashlib.sha512(body).hexdigest().upper()

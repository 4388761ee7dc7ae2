"""kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status Compute) for custom resources,
as summarized in reference crd_api.md 2.11. Python 3 standard library only.

compute(obj) -> (status, message) with status in
Terminating, InProgress, Failed, Current (NotFound/Unknown are not produced from an object).
"""


def _cond(obj, t):
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == t:
            return c
    return None


def compute(obj):
    md = obj.get("metadata") or {}
    status = obj.get("status") or {}
    # 1 deletion in progress
    if md.get("deletionTimestamp"):
        return "Terminating", "Resource scheduled for deletion"
    # 2 generation not observed (only when both fields are present)
    gen, og = md.get("generation"), status.get("observedGeneration")
    if gen is not None and og is not None and gen != og:
        return "InProgress", "LatestGenerationNotObserved: %s generation is %d, but latest observed generation is %d" % (
            obj.get("kind"), gen, og)
    # 3 Reconciling=True
    c = _cond(obj, "Reconciling")
    if c and c.get("status") == "True":
        return "InProgress", "%s: %s" % (c.get("reason", ""), c.get("message", ""))
    # 4 Stalled=True
    c = _cond(obj, "Stalled")
    if c and c.get("status") == "True":
        return "Failed", "%s: %s" % (c.get("reason", ""), c.get("message", ""))
    # 5 no built-in type rules for custom resources
    # 6 Ready
    c = _cond(obj, "Ready")
    if c:
        if c.get("status") == "True":
            return "Current", "Resource is Ready"
        return "InProgress", "%s: %s" % (c.get("reason", ""), c.get("message", ""))
    # 7 nothing matched: assumed reconciled
    return "Current", "Resource is current"


# What each kstatus result corresponds to in Argo CD's vocabulary.
TO_ARGO = {"Current": "Healthy", "InProgress": "Progressing", "Failed": "Degraded", "Terminating": "Progressing"}

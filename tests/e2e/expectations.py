"""Which kube-prometheus recording rules and alerts k8smon feeds in the e2e scenario.

Shared by tests/e2e/check_prom.py (the assertions) and tests/e2e/gen_metrics_doc.py
(the tables in docs/metrics.md), so the doc says exactly what the test checks.
"""
import re

# (regex on the record name, reason) -- recording rules whose inputs k8smon does not export.
NOT_EXPORTED = [
    (r"apiserver", "kube-apiserver's own /metrics (apiserver_request_*): scrape the API server"),
    (r"scheduler_", "kube-scheduler's own /metrics: scrape the scheduler"),
    (r"kubelet_pleg", "kubelet's own /metrics (kubelet_pleg_relist_*, kubelet_node_name): scrape kubelet /metrics"),
]
# Rules fed by container_* only when the node has kubelet-shaped pod cgroups.
NEEDS_CGROUPS = r"^node_namespace_pod_container:container_"

# Alerts the example cluster (examples/cluster + tests/e2e/cluster-extra) is built to fire.
SCENARIO_ALERTS = {
    "KubePodCrashLooping": "shop/checkout pod on demo-node-2 waits in CrashLoopBackOff",
    "KubePodNotReady": "kube-proxy on lost demo-node-3 and the crash-looping checkout pod are Running but not ready",
    "KubeNodeNotReady": "demo-node-3 Ready=Unknown",
    "KubeNodeUnreachable": "demo-node-3 has the node.kubernetes.io/unreachable NoSchedule taint",
    "KubeDeploymentReplicasMismatch": "shop/checkout: 2 desired, 1 available",
    "KubeDaemonSetRolloutStuck": "kube-system/kube-proxy: 3 desired, 2 available",
    "KubeJobFailed": "batch/migrate-db has condition Failed=True",
    "KubeCPUQuotaOvercommit": "quota requests.cpu 2+24 cores vs 11.76 allocatable (> 1.5x)",
    "KubeMemoryQuotaOvercommit": "quota requests.memory 66 GiB vs 43.5 GiB allocatable (> 1.5x)",
    "KubeQuotaExceeded": "shop/compute requests.memory used 2176Mi of 2Gi",
    "Watchdog": "always firing by design",
    # examples/alerts/k8smon-alerts.yaml
    "DeploymentUnavailableReplicas": "shop/checkout has 1 unavailable replica",
    "PersistentVolumeClaimPending": "batch/scratch has no volume",
    "AppTargetDown": "annotated pods on demo-node-1 whose metrics port does not answer (checkout 18082, grafana 18083)",
}
# Alerts that fire here only because k8smon does not replace a component.
SIDE_EFFECT_ALERTS = {
    "KubeletDown": "no job=kubelet,metrics_path=/metrics target (kubelet's own /metrics is not replaced)",
    "TargetDown": "counts the application targets that are down (AppTargetDown)",
    "KubeAPIDown": "absent(up{job=\"apiserver\"}): the API server is not scraped here",
    "KubeSchedulerDown": "absent(up{job=\"kube-scheduler\"}): not scraped here",
    "KubeControllerManagerDown": "absent(up{job=\"kube-controller-manager\"}): not scraped here",
    "NodeClockNotSynchronising": "this VM's clock is not NTP-synchronised (node_timex_sync_status 0)",
    "NodeCPUHighUsage": "host load from parallel test runs",
    "NodeSystemSaturation": "host load from parallel test runs",
    "NodeCPUSaturated": "host load from parallel test runs",
    "NodeMemoryHighUtilization": "host memory use",
    "InfoInhibitor": "fires whenever an info-severity alert fires (KubeQuotaAlmostFull-like, by design)",
    "CPUThrottlingHigh": "real throttling of the e2e processes, if any",
}


def recording_expectation(record, cgroups):
    """-> (expected: bool, reason: str)"""
    for rx, why in NOT_EXPORTED:
        if re.search(rx, record):
            return False, why
    if re.search(NEEDS_CGROUPS, record) and not cgroups:
        return False, "needs container_* of pod cgroups (none on this host run: not root)"
    return True, ""


def rules_from_dir(path):
    """[(group, rule dict)] from plain rule files (after shorten_rules.py)."""
    import os
    import yaml
    out = []
    for f in sorted(os.listdir(path)):
        if f.endswith((".yaml", ".yml")):
            with open(os.path.join(path, f)) as fh:
                for g in yaml.safe_load(fh)["groups"]:
                    for r in g["rules"]:
                        out.append((g["name"], r))
    return out

/* kube_pod_* families (KSM internal/store/pod.go). Reads
 * spec.{containers,initContainers,nodeName,priorityClassName,hostNetwork,
 * restartPolicy,serviceAccountName,schedulerName,overhead,resourceClaims,
 * runtimeClassName,volumes,tolerations} and status.{phase,reason,qosClass,
 * hostIP,podIP,podIPs,startTime,conditions,containerStatuses,
 * initContainerStatuses,resourceClaimStatuses}. The one KSM family not
 * here is the opt-in kube_pod_nodeselectors. */
#include "collect/kubestate/ks_common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "base/err.h"

#define CS "status.containerStatuses"
#define ICS "status.initContainerStatuses"

#define FOREACH_STATUS(obj, i, cs) FOREACH_IN(obj, CS, i, cs)
#define FOREACH_IN(obj, list, i, cs) json_array_foreach(ks_json_path((obj), (list)), (i), (cs))

static double time_or_zero(const json_t *o, const char *path)
{
	double t;

	return ks_parse_time(ks_str(o, path), &t) ? t : KS_GO_ZERO_TIME;
}

static void completion_time(struct ks_render *r, const json_t *p)
{
	double last = 0;
	size_t i;
	json_t *cs;

	FOREACH_STATUS(p, i, cs) {
		if (json_is_object(ks_json_path(cs, "state.terminated"))) {
			double t = time_or_zero(cs, "state.terminated.finishedAt");
			if (last == 0 || last < t)
				last = t;
		}
	}
	if (last > 0)
		ks_emit(r, last, NULL);
}

static void container_info(struct ks_render *r, const json_t *p)
{
	size_t i, j;
	json_t *c, *cs;

	json_array_foreach(ks_json_path(p, "spec.containers"), i, c) {
		FOREACH_STATUS(p, j, cs) {
			if (strcmp(ks_str(cs, "name"), ks_str(c, "name")) != 0)
				continue;
			ks_emit(r, 1, "container", ks_str(cs, "name"), "image_spec",
				ks_str(c, "image"), "image", ks_str(cs, "image"), "image_id",
				ks_str(cs, "imageID"), "container_id", ks_str(cs, "containerID"),
				NULL);
		}
	}
}

/* requests/limits of spec.<list>[*].resources.<which>: cpu in cores,
 * memory/storage/ephemeral-storage/hugepages-X/attachable-volumes-X in bytes
 * (Value(), rounded up), extended resources as integers; others dropped. */
static void resources(struct ks_render *r, const json_t *p, const char *list, const char *which)
{
	const char *node = ks_str(p, "spec.nodeName");
	size_t i;
	json_t *c;

	json_array_foreach(ks_json_path(p, list), i, c) {
		const json_t *res = ks_json_path(json_object_get(c, "resources"), which);
		const char *name;
		json_t *q;

		json_object_foreach((json_t *)res, name, q) {
			const char *unit = NULL;
			double v;
			bool ok;
			struct buf san;

			if (strcmp(name, "cpu") == 0) {
				unit = "core";
				ok = ks_render_milli(r, q, &v);
			} else {
				ok = ks_render_value(r, q, &v);
				if (strcmp(name, "memory") == 0 || strcmp(name, "storage") == 0 ||
				    strcmp(name, "ephemeral-storage") == 0 ||
				    strncmp(name, "hugepages-", 10) == 0 ||
				    strncmp(name, "attachable-volumes-", 19) == 0)
					unit = "byte";
				else if (ks_res_is_extended(name))
					unit = "integer";
			}
			if (!unit || !ok)
				continue;
			buf_init(&san, 4096);
			if (ks_sanitize(&san, name) && !r->err)
				r->err = KM_ENOMEM;
			ks_emit(r, v, "container", ks_str(c, "name"), "node", node, "resource",
				buf_cstr(&san), "unit", unit, NULL);
			buf_fini(&san);
		}
	}
}

static void limits(struct ks_render *r, const json_t *p)
{
	resources(r, p, "spec.containers", "limits");
}

static void requests(struct ks_render *r, const json_t *p)
{
	resources(r, p, "spec.containers", "requests");
}

static void init_limits(struct ks_render *r, const json_t *p)
{
	resources(r, p, "spec.initContainers", "limits");
}

static void init_requests(struct ks_render *r, const json_t *p)
{
	resources(r, p, "spec.initContainers", "requests");
}

static void last_terminated_reason_in(struct ks_render *r, const json_t *p, const char *list)
{
	size_t i;
	json_t *cs;

	FOREACH_IN(p, list, i, cs) {
		if (json_is_object(ks_json_path(cs, "lastState.terminated")))
			ks_emit(r, 1, "container", ks_str(cs, "name"), "reason",
				ks_str(cs, "lastState.terminated.reason"), NULL);
	}
}

static void last_terminated_exitcode_in(struct ks_render *r, const json_t *p, const char *list)
{
	size_t i;
	json_t *cs;

	FOREACH_IN(p, list, i, cs) {
		double code = 0;
		if (!json_is_object(ks_json_path(cs, "lastState.terminated")))
			continue;
		ks_int(cs, "lastState.terminated.exitCode", &code);
		ks_emit(r, code, "container", ks_str(cs, "name"), NULL);
	}
}

static void last_terminated_timestamp_in(struct ks_render *r, const json_t *p, const char *list)
{
	size_t i;
	json_t *cs;

	FOREACH_IN(p, list, i, cs) {
		if (json_is_object(ks_json_path(cs, "lastState.terminated")))
			ks_emit(r, time_or_zero(cs, "lastState.terminated.finishedAt"),
				"container", ks_str(cs, "name"), NULL);
	}
}

static void status_ready_in(struct ks_render *r, const json_t *p, const char *list)
{
	size_t i;
	json_t *cs;

	FOREACH_IN(p, list, i, cs)
		ks_emit(r, ks_bool(cs, "ready"), "container", ks_str(cs, "name"), NULL);
}

static void restarts_in(struct ks_render *r, const json_t *p, const char *list)
{
	size_t i;
	json_t *cs;

	FOREACH_IN(p, list, i, cs) {
		double n = 0;
		ks_int(cs, "restartCount", &n);
		ks_emit(r, n, "container", ks_str(cs, "name"), NULL);
	}
}

static void state_is(struct ks_render *r, const json_t *p, const char *list, const char *state)
{
	size_t i;
	json_t *cs;

	FOREACH_IN(p, list, i, cs) {
		bool set = json_is_object(ks_json_path(json_object_get(cs, "state"), state));
		ks_emit(r, set, "container", ks_str(cs, "name"), NULL);
	}
}

/* Container and init-container variants of the per-status families. */
#define BOTH(fn)                                                       \
	static void fn(struct ks_render *r, const json_t *p)           \
	{                                                              \
		fn##_in(r, p, CS);                                     \
	}                                                              \
	static void init_##fn(struct ks_render *r, const json_t *p)    \
	{                                                              \
		fn##_in(r, p, ICS);                                    \
	}
#define STATE(fn, state)                                               \
	static void fn(struct ks_render *r, const json_t *p)           \
	{                                                              \
		state_is(r, p, CS, state);                             \
	}                                                              \
	static void init_##fn(struct ks_render *r, const json_t *p)    \
	{                                                              \
		state_is(r, p, ICS, state);                            \
	}
STATE(running, "running")
STATE(terminated, "terminated")
STATE(waiting, "waiting")

static void terminated_reason_in(struct ks_render *r, const json_t *p, const char *list)
{
	size_t i;
	json_t *cs;

	FOREACH_IN(p, list, i, cs) {
		if (json_is_object(ks_json_path(cs, "state.terminated")))
			ks_emit(r, 1, "container", ks_str(cs, "name"), "reason",
				ks_str(cs, "state.terminated.reason"), NULL);
	}
}

static void waiting_reason_in(struct ks_render *r, const json_t *p, const char *list)
{
	size_t i;
	json_t *cs;

	FOREACH_IN(p, list, i, cs) {
		if (json_is_object(ks_json_path(cs, "state.waiting")))
			ks_emit(r, 1, "container", ks_str(cs, "name"), "reason",
				ks_str(cs, "state.waiting.reason"), NULL);
	}
}

/* Running: state.running.startedAt; else terminated: its startedAt; a
 * waiting container has no series. */
static void state_started_in(struct ks_render *r, const json_t *p, const char *list)
{
	size_t i;
	json_t *cs;

	FOREACH_IN(p, list, i, cs) {
		const char *path = json_is_object(ks_json_path(cs, "state.running"))
					   ? "state.running.startedAt"
				   : json_is_object(ks_json_path(cs, "state.terminated"))
					   ? "state.terminated.startedAt"
					   : NULL;
		if (path)
			ks_emit(r, time_or_zero(cs, path), "container", ks_str(cs, "name"), NULL);
	}
}

BOTH(last_terminated_reason)
BOTH(last_terminated_exitcode)
BOTH(last_terminated_timestamp)
BOTH(status_ready)
BOTH(restarts)
BOTH(terminated_reason)
BOTH(waiting_reason)
BOTH(state_started)

/* Like container_info plus the init container's own restartPolicy
 * (sidecars: "Always"), "" when unset. */
static void init_container_info(struct ks_render *r, const json_t *p)
{
	size_t i, j;
	json_t *c, *cs;

	json_array_foreach(ks_json_path(p, "spec.initContainers"), i, c) {
		FOREACH_IN(p, ICS, j, cs) {
			if (strcmp(ks_str(cs, "name"), ks_str(c, "name")) != 0)
				continue;
			ks_emit(r, 1, "container", ks_str(cs, "name"), "image_spec",
				ks_str(c, "image"), "image", ks_str(cs, "image"), "image_id",
				ks_str(cs, "imageID"), "container_id", ks_str(cs, "containerID"),
				"restart_policy", ks_str(c, "restartPolicy"), NULL);
		}
	}
}

/* status.podIPs[].ip with its family; unparsable addresses are skipped and
 * IPv4-mapped IPv6 counts as 4 (Go netip Unmap). */
static void ips(struct ks_render *r, const json_t *p)
{
	size_t i;
	json_t *x;

	json_array_foreach(ks_json_path(p, "status.podIPs"), i, x) {
		const char *ip = ks_str(x, "ip");
		unsigned char a[16];
		const char *fam = NULL;

		if (inet_pton(AF_INET, ip, a) == 1)
			fam = "4";
		else if (inet_pton(AF_INET6, ip, a) == 1)
			fam = IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a) ? "4" : "6";
		if (fam)
			ks_emit(r, 1, "ip", ip, "ip_family", fam, NULL);
	}
}

static void info(struct ks_render *r, const json_t *p)
{
	const json_t *refs = ks_json_path(p, "metadata.ownerReferences");
	const char *kind = "", *name = "";
	size_t i;
	json_t *ref;

	/* metav1.GetControllerOf: the first reference with controller=true. */
	json_array_foreach(refs, i, ref) {
		if (json_is_true(json_object_get(ref, "controller"))) {
			kind = ks_str(ref, "kind");
			name = ks_str(ref, "name");
			break;
		}
	}
	ks_emit(r, 1, "host_ip", ks_str(p, "status.hostIP"), "pod_ip", ks_str(p, "status.podIP"),
		"node", ks_str(p, "spec.nodeName"), "created_by_kind", kind, "created_by_name",
		name, "priority_class", ks_str(p, "spec.priorityClassName"), "host_network",
		ks_bool(p, "spec.hostNetwork") ? "true" : "false", NULL);
}

static void owner(struct ks_render *r, const json_t *p)
{
	ks_emit_owners(r, p, true);
}

static void restart_policy(struct ks_render *r, const json_t *p)
{
	ks_emit(r, 1, "type", ks_str(p, "spec.restartPolicy"), NULL);
}

static void start_time(struct ks_render *r, const json_t *p)
{
	double t;

	if (ks_parse_time(ks_str(p, "status.startTime"), &t))
		ks_emit(r, t, NULL);
}

static void phase(struct ks_render *r, const json_t *p)
{
	static const char *const phases[] = { "Pending", "Succeeded", "Failed", "Unknown",
					      "Running" };
	const char *ph = ks_str(p, "status.phase");

	if (!*ph)
		return;
	for (size_t i = 0; i < 5; i++)
		ks_emit(r, strcmp(ph, phases[i]) == 0, "phase", phases[i], NULL);
}

static void qos(struct ks_render *r, const json_t *p)
{
	static const char *const classes[] = { "BestEffort", "Burstable", "Guaranteed" };
	const char *q = ks_str(p, "status.qosClass");

	if (!*q)
		return;
	for (size_t i = 0; i < 3; i++)
		ks_emit(r, strcmp(q, classes[i]) == 0, "qos_class", classes[i], NULL);
}

static void condition(struct ks_render *r, const json_t *p, const char *type)
{
	size_t i;
	json_t *c;

	json_array_foreach(ks_json_path(p, "status.conditions"), i, c) {
		if (strcmp(ks_str(c, "type"), type) == 0)
			ks_emit_condition(r, ks_str(c, "status"), NULL, NULL, NULL, NULL,
					  "condition");
	}
}

static void ready(struct ks_render *r, const json_t *p)
{
	condition(r, p, "Ready");
}

static void scheduled(struct ks_render *r, const json_t *p)
{
	condition(r, p, "PodScheduled");
}

/* One series per condition of type with that status (KSM loops, so a
 * duplicated condition gives duplicated series), valued by its
 * lastTransitionTime (Go zero time when unset) or by 1 (time false). */
static void condition_at(struct ks_render *r, const json_t *p, const char *type,
			 const char *status, bool time)
{
	size_t i;
	json_t *c;

	json_array_foreach(ks_json_path(p, "status.conditions"), i, c) {
		if (strcmp(ks_str(c, "type"), type) == 0 && strcmp(ks_str(c, "status"), status) == 0)
			ks_emit(r, time ? time_or_zero(c, "lastTransitionTime") : 1, NULL);
	}
}

static void ready_time(struct ks_render *r, const json_t *p)
{
	condition_at(r, p, "Ready", "True", true);
}

static void initialized_time(struct ks_render *r, const json_t *p)
{
	condition_at(r, p, "Initialized", "True", true);
}

static void container_ready_time(struct ks_render *r, const json_t *p)
{
	condition_at(r, p, "ContainersReady", "True", true);
}

static void scheduled_time(struct ks_render *r, const json_t *p)
{
	condition_at(r, p, "PodScheduled", "True", true);
}

static void unschedulable(struct ks_render *r, const json_t *p)
{
	condition_at(r, p, "PodScheduled", "False", false);
}

static void unscheduled_time(struct ks_render *r, const json_t *p)
{
	condition_at(r, p, "PodScheduled", "False", true);
}

static const char *const disruption_reasons[] = {
	"PreemptionByScheduler", "DeletionByTaintManager", "EvictionByEvictionAPI",
	"DeletionByPodGC",	 "TerminationByKubelet",
};

static void disruption_reason(struct ks_render *r, const json_t *p)
{
	size_t i, n = sizeof(disruption_reasons) / sizeof(disruption_reasons[0]);
	json_t *c;

	json_array_foreach(ks_json_path(p, "status.conditions"), i, c) {
		const char *reason = "Other";

		if (strcmp(ks_str(c, "type"), "DisruptionTarget") != 0)
			continue;
		for (size_t k = 0; k < n; k++) {
			if (strcmp(ks_str(c, "reason"), disruption_reasons[k]) == 0)
				reason = disruption_reasons[k];
		}
		ks_emit(r, 1, "reason", reason, NULL);
	}
}

/* spec.overhead.<name>: cpu as cores, memory as Value(). */
static void overhead(struct ks_render *r, const json_t *p, const char *name)
{
	const json_t *q = json_object_get(ks_json_path(p, "spec.overhead"), name);
	double v;

	if (!q)
		return;
	if (strcmp(name, "cpu") == 0 ? ks_render_milli(r, q, &v) : ks_render_value(r, q, &v))
		ks_emit(r, v, NULL);
}

static void overhead_cpu(struct ks_render *r, const json_t *p)
{
	overhead(r, p, "cpu");
}

static void overhead_memory(struct ks_render *r, const json_t *p)
{
	overhead(r, p, "memory");
}

static void runtimeclass(struct ks_render *r, const json_t *p)
{
	const json_t *rc = ks_json_path(p, "spec.runtimeClassName");

	if (json_is_string(rc))
		ks_emit(r, 1, "runtimeclass_name", json_string_value(rc), NULL);
}

/* A template-backed claim's object name is in status.resourceClaimStatuses
 * once the kubelet created it, "" until then; an entry naming neither a
 * claim nor a template references nothing and is skipped. */
static void resourceclaim(struct ks_render *r, const json_t *p)
{
	size_t i, j;
	json_t *c, *st;

	json_array_foreach(ks_json_path(p, "spec.resourceClaims"), i, c) {
		const json_t *claim = json_object_get(c, "resourceClaimName");
		const json_t *tmpl = json_object_get(c, "resourceClaimTemplateName");
		const char *name = "";

		if (!json_is_string(claim) && !json_is_string(tmpl))
			continue;
		if (json_is_string(claim)) {
			name = json_string_value(claim);
		} else {
			json_array_foreach(ks_json_path(p, "status.resourceClaimStatuses"), j, st) {
				if (strcmp(ks_str(st, "name"), ks_str(c, "name")) == 0 &&
				    json_is_string(json_object_get(st, "resourceClaimName")))
					name = ks_str(st, "resourceClaimName");
			}
		}
		ks_emit(r, 1, "claim_name", ks_str(c, "name"), "resourceclaim_name", name,
			"resourceclaim_template_name", json_string_value(tmpl), NULL);
	}
}

/* One series per persistentVolumeClaim or ephemeral volume; an ephemeral
 * volume's claim is named <pod>-<volume> (ephemeral.VolumeClaimName). */
static void pvc_volumes(struct ks_render *r, const json_t *p, bool readonly)
{
	size_t i;
	json_t *v;

	json_array_foreach(ks_json_path(p, "spec.volumes"), i, v) {
		struct buf claim;

		if (json_is_object(json_object_get(v, "persistentVolumeClaim"))) {
			ks_emit(r, readonly ? ks_bool(v, "persistentVolumeClaim.readOnly") : 1,
				"volume", ks_str(v, "name"), "persistentvolumeclaim",
				ks_str(v, "persistentVolumeClaim.claimName"), "ephemeral", "false",
				NULL);
		} else if (json_is_object(json_object_get(v, "ephemeral"))) {
			buf_init(&claim, 1024);
			if (buf_printf(&claim, "%s-%s", ks_str(p, "metadata.name"),
				       ks_str(v, "name")) && !r->err)
				r->err = KM_ENOMEM;
			ks_emit(r, readonly ? 0 : 1, "volume", ks_str(v, "name"),
				"persistentvolumeclaim", buf_cstr(&claim), "ephemeral", "true", NULL);
			buf_fini(&claim);
		}
	}
}

static void pvc_info(struct ks_render *r, const json_t *p)
{
	pvc_volumes(r, p, false);
}

static void pvc_readonly(struct ks_render *r, const json_t *p)
{
	pvc_volumes(r, p, true);
}

/* One series per distinct (key, operator, value, effect, seconds), first
 * occurrence order; a set keyed by the joined fields keeps a pod with
 * thousands of tolerations linear. */
static void tolerations(struct ks_render *r, const json_t *p)
{
	json_t *seen = json_object(), *t;
	struct buf key;
	size_t i;

	if (!seen) {
		r->err = r->err ? r->err : KM_ENOMEM;
		return;
	}
	buf_init(&key, 4096);
	json_array_foreach(ks_json_path(p, "spec.tolerations"), i, t) {
		const json_t *sec = json_object_get(t, "tolerationSeconds");
		char secs[24] = "";

		if (json_is_integer(sec))
			snprintf(secs, sizeof(secs), "%lld", (long long)json_integer_value(sec));
		buf_reset(&key);
		if (buf_printf(&key, "%s\x1f%s\x1f%s\x1f%s\x1f%s", ks_str(t, "key"),
			       ks_str(t, "operator"), ks_str(t, "value"), ks_str(t, "effect"), secs)) {
			r->err = r->err ? r->err : KM_ENOMEM;
			break;
		}
		if (json_object_get(seen, buf_cstr(&key)))
			continue;
		if (json_object_set_new(seen, buf_cstr(&key), json_true())) {
			r->err = r->err ? r->err : KM_ENOMEM;
			break;
		}
		ks_emit(r, 1, "key", ks_str(t, "key"), "operator", ks_str(t, "operator"), "value",
			ks_str(t, "value"), "effect", ks_str(t, "effect"), "toleration_seconds", secs,
			NULL);
	}
	buf_fini(&key);
	json_decref(seen);
}

static const char *const status_reasons[] = {
	"Evicted",	 "NodeAffinity", "NodeLost",	 "PreemptionByScheduler",
	"SchedulingGated", "Shutdown",	 "TerminationByKubelet", "UnexpectedAdmissionError",
};

static bool has_reason(const json_t *p, const char *reason)
{
	size_t i;
	json_t *x;

	if (strcmp(ks_str(p, "status.reason"), reason) == 0)
		return true;
	json_array_foreach(ks_json_path(p, "status.conditions"), i, x) {
		if (strcmp(ks_str(x, "reason"), reason) == 0)
			return true;
	}
	FOREACH_STATUS(p, i, x) {
		if (json_is_object(ks_json_path(x, "state.terminated")) &&
		    strcmp(ks_str(x, "state.terminated.reason"), reason) == 0)
			return true;
	}
	return false;
}

/* v2.20: one series per matching listed reason; a status.reason outside
 * the list adds reason="Other". */
static void status_reason(struct ks_render *r, const json_t *p)
{
	const char *sr = ks_str(p, "status.reason");
	bool listed = false;
	size_t n = sizeof(status_reasons) / sizeof(status_reasons[0]);

	for (size_t i = 0; i < n; i++) {
		if (strcmp(sr, status_reasons[i]) == 0)
			listed = true;
		if (has_reason(p, status_reasons[i]))
			ks_emit(r, 1, "reason", status_reasons[i], NULL);
	}
	if (*sr && !listed)
		ks_emit(r, 1, "reason", "Other", NULL);
}

static void service_account(struct ks_render *r, const json_t *p)
{
	ks_emit(r, 1, "service_account", ks_str(p, "spec.serviceAccountName"), NULL);
}

static void scheduler(struct ks_render *r, const json_t *p)
{
	ks_emit(r, 1, "name", ks_str(p, "spec.schedulerName"), NULL);
}


const struct ks_family ks_pod_families[] = {
	{ "kube_pod_completion_time", "[STABLE] Completion time in unix timestamp for a pod.", G,
	  completion_time },
	{ "kube_pod_container_info", "[STABLE] Information about a container in a pod.", G,
	  container_info },
	{ "kube_pod_container_resource_limits",
	  "[STABLE] The number of requested limit resource by a container. It is recommended to "
	  "use the kube_pod_resource_limits metric exposed by kube-scheduler instead, as it is "
	  "more precise.",
	  G, limits },
	{ "kube_pod_container_resource_requests",
	  "[STABLE] The number of requested request resource by a container. It is recommended "
	  "to use the kube_pod_resource_requests metric exposed by kube-scheduler instead, as it "
	  "is more precise.",
	  G, requests },
	{ "kube_pod_container_state_started",
	  "[STABLE] Start time in unix timestamp for a pod container.", G, state_started },
	{ "kube_pod_container_status_last_terminated_reason",
	  "Describes the last reason the container was in terminated state.", G,
	  last_terminated_reason },
	{ "kube_pod_container_status_last_terminated_exitcode",
	  "Describes the exit code for the last container in terminated state.", G,
	  last_terminated_exitcode },
	{ "kube_pod_container_status_last_terminated_timestamp",
	  "Last terminated time for a pod container in unix timestamp.", G,
	  last_terminated_timestamp },
	{ "kube_pod_container_status_ready",
	  "[STABLE] Describes whether the containers readiness check succeeded.", G,
	  status_ready },
	{ "kube_pod_container_status_restarts_total",
	  "[STABLE] The number of container restarts per container.", EXPO_COUNTER, restarts },
	{ "kube_pod_container_status_running",
	  "[STABLE] Describes whether the container is currently in running state.", G, running },
	{ "kube_pod_container_status_terminated",
	  "[STABLE] Describes whether the container is currently in terminated state.", G,
	  terminated },
	{ "kube_pod_container_status_terminated_reason",
	  "Describes the reason the container is currently in terminated state.", G,
	  terminated_reason },
	{ "kube_pod_container_status_waiting",
	  "[STABLE] Describes whether the container is currently in waiting state.", G, waiting },
	{ "kube_pod_container_status_waiting_reason",
	  "[STABLE] Describes the reason the container is currently in waiting state.", G,
	  waiting_reason },
	{ "kube_pod_created", KS_HELP_CREATED, G, ks_emit_created },
	{ "kube_pod_deletion_timestamp", KS_HELP_DELETION, G, ks_emit_deletion },
	{ "kube_pod_info", "[STABLE] Information about pod.", G, info },
	{ "kube_pod_ips", "Pod IP addresses", G, ips },
	{ "kube_pod_init_container_info", "[STABLE] Information about an init container in a pod.",
	  G, init_container_info },
	{ "kube_pod_init_container_resource_limits",
	  "The number of requested limit resource by an init container.", G, init_limits },
	{ "kube_pod_init_container_resource_requests",
	  "The number of requested request resource by an init container.", G, init_requests },
	{ "kube_pod_init_container_state_started",
	  "Start time in unix timestamp for a pod init container.", G, init_state_started },
	{ "kube_pod_init_container_status_last_terminated_reason",
	  "Describes the last reason the init container was in terminated state.", G,
	  init_last_terminated_reason },
	{ "kube_pod_init_container_status_last_terminated_exitcode",
	  "Describes the exit code for the last init container in terminated state.", G,
	  init_last_terminated_exitcode },
	{ "kube_pod_init_container_status_last_terminated_timestamp",
	  "Last terminated time for a pod init container in unix timestamp.", G,
	  init_last_terminated_timestamp },
	{ "kube_pod_init_container_status_ready",
	  "[STABLE] Describes whether the init containers readiness check succeeded.", G,
	  init_status_ready },
	{ "kube_pod_init_container_status_restarts_total",
	  "[STABLE] The number of restarts for the init container.", EXPO_COUNTER, init_restarts },
	{ "kube_pod_init_container_status_running",
	  "[STABLE] Describes whether the init container is currently in running state.", G,
	  init_running },
	{ "kube_pod_init_container_status_terminated",
	  "[STABLE] Describes whether the init container is currently in terminated state.", G,
	  init_terminated },
	{ "kube_pod_init_container_status_terminated_reason",
	  "Describes the reason the init container is currently in terminated state.", G,
	  init_terminated_reason },
	{ "kube_pod_init_container_status_waiting",
	  "[STABLE] Describes whether the init container is currently in waiting state.", G,
	  init_waiting },
	{ "kube_pod_init_container_status_waiting_reason",
	  "Describes the reason the init container is currently in waiting state.", G,
	  init_waiting_reason },
	{ "kube_pod_annotations", KS_HELP_ANNOTATIONS, G, ks_emit_annotations },
	{ "kube_pod_labels", KS_HELP_LABELS, G, ks_emit_labels },
	{ "kube_pod_overhead_cpu_cores",
	  "The pod overhead in regards to cpu cores associated with running a pod.", G,
	  overhead_cpu },
	{ "kube_pod_overhead_memory_bytes",
	  "The pod overhead in regards to memory associated with running a pod.", G,
	  overhead_memory },
	{ "kube_pod_owner", "[STABLE] Information about the Pod's owner.", G, owner },
	{ "kube_pod_resourceclaim_info",
	  "Information about a DRA ResourceClaim referenced by a pod, one series per "
	  "pod.spec.resourceClaims entry; claim_name is the pod-local reference and "
	  "resourceclaim_name is the resolved ResourceClaim object name.",
	  G, resourceclaim },
	{ "kube_pod_restart_policy", "[STABLE] Describes the restart policy in use by this pod.",
	  G, restart_policy },
	{ "kube_pod_runtimeclass_name_info", "The runtimeclass associated with the pod.", G,
	  runtimeclass },
	{ "kube_pod_spec_volumes_persistentvolumeclaims_info",
	  "[STABLE] Information about persistentvolumeclaim and ephemeral volumes in a pod.", G,
	  pvc_info },
	{ "kube_pod_spec_volumes_persistentvolumeclaims_readonly",
	  "[STABLE] Describes whether a persistentvolumeclaim is mounted read only. Ephemeral "
	  "volumes always report 0 since the ephemeral volume source does not support a "
	  "read-only flag.",
	  G, pvc_readonly },
	{ "kube_pod_start_time", "[STABLE] Start time in unix timestamp for a pod.", G,
	  start_time },
	{ "kube_pod_status_phase", "[STABLE] The pods current phase.", G, phase },
	{ "kube_pod_status_qos_class", "The pods current qosClass.", G, qos },
	{ "kube_pod_status_ready", "[STABLE] Describes whether the pod is ready to serve requests.",
	  G, ready },
	{ "kube_pod_status_ready_time", "Readiness achieved time in unix timestamp for a pod.", G,
	  ready_time },
	{ "kube_pod_status_initialized_time", "Initialized time in unix timestamp for a pod.", G,
	  initialized_time },
	{ "kube_pod_status_container_ready_time",
	  "Readiness achieved time in unix timestamp for a pod containers.", G,
	  container_ready_time },
	{ "kube_pod_status_reason", "The pod status reasons", G, status_reason },
	{ "kube_pod_status_disruption_reason", "The pod disruption condition reason", G,
	  disruption_reason },
	{ "kube_pod_status_scheduled",
	  "[STABLE] Describes the status of the scheduling process for the pod.", G, scheduled },
	{ "kube_pod_status_scheduled_time",
	  "[STABLE] Unix timestamp when pod moved into scheduled status", G, scheduled_time },
	{ "kube_pod_status_unschedulable",
	  "[STABLE] Describes the unschedulable status for the pod.", G, unschedulable },
	{ "kube_pod_status_unscheduled_time",
	  "Unix timestamp when pod moved into unscheduled status", G, unscheduled_time },
	{ "kube_pod_tolerations", "Information about the pod tolerations", G, tolerations },
	{ "kube_pod_service_account", "The service account for a pod.", G, service_account },
	{ "kube_pod_scheduler", "The scheduler for a pod.", G, scheduler },
};
const size_t ks_pod_nfamilies = sizeof(ks_pod_families) / sizeof(ks_pod_families[0]);

#include "config/flags.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "base/parse.h"
#include "base/rx.h"
#include "collect/kubestate/shard.h"
#include "collect/node/node.h"
#include "collect/components/components.h"
#include "remotewrite/rw.h"

enum flag_type { F_BOOL, F_STR, F_DURATION, F_LIST, F_COLLECTORS, F_INT, F_COUNT, F_LEVEL, F_FORMAT,
		 F_MULTI /* repeatable: each occurrence appends one entry */, F_SIZE /* bytes, KB/MiB/... suffixes */,
		 F_PERURL /* per -remoteWrite.url: like F_MULTI, an empty value also takes its place */ };

struct flag_def {
	const char *name;
	enum flag_type type;
	size_t off;
	const char *def;
	const char *help;
};

#define OFF(field) offsetof(struct flags, field)

static const struct flag_def defs[] = {
	{ "promscrape.kubernetes", F_BOOL, OFF(kubernetes), "false",
	  "Kubernetes mode (API server used); false = host mode (node + container collectors over local /proc and cgroups)" },
	{ "promscrape.kubernetes.collectors", F_COLLECTORS, OFF(collectors), "node,container,kube-state,app",
	  "Comma-separated collectors to enable: node, container, kube-state, app" },
	{ "promscrape.kubernetes.interval", F_DURATION, OFF(interval_ms), "15s",
	  "Default collection and scrape interval" },
	{ "promscrape.kubernetes.namespaces", F_LIST, OFF(namespaces), "",
	  "Comma-separated namespaces to include (empty: all)" },
	{ "promscrape.kubernetes.exclude-namespaces", F_LIST, OFF(exclude_namespaces), "",
	  "Comma-separated namespaces to exclude" },
	{ "httpListenAddr", F_STR, OFF(listen_addr), ":9420", "HTTP listen address" },
	{ "kubeconfig", F_STR, OFF(kubeconfig), "",
	  "Path to a kubeconfig for out-of-cluster access (default: in-cluster, else $KUBECONFIG)" },
	{ "nodeName", F_STR, OFF(node_name), "", "The node this agent serves (default: $NODE_NAME, else the hostname)" },
	{ "podName", F_STR, OFF(pod_name), "",
	  "This agent's own Pod (default: $POD_NAME): its Lease identity, and how it finds itself "
	  "among its node's agent pods (-kubeState.podSharding=node)" },
	{ "kubeState.podSharding", F_STR, OFF(ks_pod_sharding), "leader",
	  "Who emits the kube_pod_* families: leader (the Lease holder, every pod) or node (each agent "
	  "its node's pods, the leader pods with no node or no agent; docs/kube-state-sharding.md); "
	  "a K8sMonitor's spec.kubeState.podSharding wins" },
	{ "kubeState.agentSelector", F_STR, OFF(ks_agent_selector), "app.kubernetes.io/name=k8smon",
	  "Label selector (key=value terms, comma-separated) of the agents' own Pods in their namespace: "
	  "a node is covered by -kubeState.podSharding=node when one of them is Ready there" },
	{ "kubeState.uncoveredNodeWatches", F_INT, OFF(ks_uncovered_watches), "64",
	  "Leader, -kubeState.podSharding=node: watches of single uncovered nodes (1-64) before it "
	  "switches to one cluster-wide pod watch kept to those nodes' pods (back at half); a tuning "
	  "and testing knob" },
	{ "leaderElection", F_BOOL, OFF(leader_election), "true",
	  "Elect one leader through a Lease; false: this instance always serves kube-state" },
	{ "leaderElection.namespace", F_STR, OFF(lease_namespace), "",
	  "Namespace of the Lease (default: own namespace from $POD_NAMESPACE or the service account)" },
	{ "leaderElection.leaseName", F_STR, OFF(lease_name), "k8smon", "Name of the Lease" },
	{ "leaderElection.leaseDuration", F_DURATION, OFF(lease_duration_ms), "15s", "Lease duration" },
	{ "leaderElection.renewDeadline", F_DURATION, OFF(renew_deadline_ms), "10s", "Leader renew deadline" },
	{ "leaderElection.retryPeriod", F_DURATION, OFF(retry_period_ms), "2s", "Lease retry period" },
	{ "path.procfs", F_STR, OFF(procfs), "/proc", "procfs mountpoint" },
	{ "path.sysfs", F_STR, OFF(sysfs), "/sys", "sysfs mountpoint" },
	{ "path.rootfs", F_STR, OFF(rootfs), "/", "rootfs mountpoint" },
	{ "collector.textfile.directory", F_STR, OFF(textfile_dir), "",
	  "Directory (or glob) of *.prom files for the node textfile collector, as node-exporter's "
	  "--collector.textfile.directory; empty: none" },
	{ "collector.filesystem.mount-points-exclude", F_STR, OFF(fs_mount_points_exclude), "",
	  "Regexp of mount points to exclude from the node filesystem collector (node_exporter's flag; "
	  "empty: its default; a K8sMonitor's spec.node.mountPointsExclude wins)" },
	{ "collector.filesystem.fs-types-exclude", F_STR, OFF(fs_types_exclude), "",
	  "Regexp of filesystem types to exclude (empty: node_exporter's default; spec.node.fsTypesExclude wins)" },
	{ "collector.filesystem.mount-timeout", F_DURATION, OFF(mount_timeout_ms), "5s",
	  "How long a statfs() may take before the mount point is reported as stuck "
	  "(node_filesystem_device_error with device_error=\"mountpoint timeout\") and skipped until "
	  "the call returns; network and FUSE filesystems only (node_exporter's flag)" },
	{ "collector.netdev.device-exclude", F_STR, OFF(netdev_device_exclude), "",
	  "Regexp of network devices to exclude from netdev and netclass (spec.node.netdevExclude wins)" },
	{ "collector.netdev.device-include", F_STR, OFF(netdev_device_include), "",
	  "Regexp of network devices to include (mutually exclusive to device-exclude)" },
	{ "collector.diskstats.device-exclude", F_STR, OFF(diskstats_device_exclude), "",
	  "Regexp of block devices to exclude from diskstats (empty: node_exporter's default; "
	  "spec.node.diskstatsExclude wins)" },
	{ "collector.diskstats.device-include", F_STR, OFF(diskstats_device_include), "",
	  "Regexp of block devices to include (the default exclude then does not apply)" },
	{ "collector.hwmon.chip-include", F_STR, OFF(hwmon_chip_include), "",
	  "Regexp of hwmon chips (the chip label) to include (node_exporter's flag; search semantics)" },
	{ "collector.hwmon.chip-exclude", F_STR, OFF(hwmon_chip_exclude), "",
	  "Regexp of hwmon chips (the chip label) to exclude" },
	{ "collector.hwmon.sensor-include", F_STR, OFF(hwmon_sensor_include), "",
	  "Regexp of hwmon sensors to include, matched on \"<chip>;<sensor>\" (e.g. platform_coretemp_0;temp1)" },
	{ "collector.hwmon.sensor-exclude", F_STR, OFF(hwmon_sensor_exclude), "",
	  "Regexp of hwmon sensors to exclude, matched on \"<chip>;<sensor>\"" },
	{ "collector.powersupply.ignored-supplies", F_STR, OFF(powersupply_ignored), "^$",
	  "Regexp of power supplies to ignore for the powersupplyclass collector" },
	{ "collector.systemd.unit-include", F_STR, OFF(systemd_unit_include), ".+",
	  "Regexp of systemd units to include (anchored); units must match it and not the exclude "
	  "(the systemd collector is off by default: -collector.systemd)" },
	{ "collector.systemd.unit-exclude", F_STR, OFF(systemd_unit_exclude),
	  ".+\\.(automount|device|mount|scope|slice)",
	  "Regexp of systemd units to exclude (anchored)" },
	{ "collector.systemd.enable-task-metrics", F_BOOL, OFF(systemd_task_metrics), "false",
	  "Adds node_systemd_unit_tasks_current and node_systemd_unit_tasks_max for service units" },
	{ "collector.systemd.enable-restarts-metrics", F_BOOL, OFF(systemd_restarts_metrics), "false",
	  "Adds node_systemd_service_restart_total for service units" },
	{ "collector.systemd.enable-start-time-metrics", F_BOOL, OFF(systemd_start_time_metrics), "false",
	  "Adds node_systemd_unit_start_time_seconds" },
	{ "collector.systemd.private", F_BOOL, OFF(systemd_private), "false",
	  "Talk to systemd on its private socket <path.rootfs>/run/systemd/private only (root), "
	  "not the system bus" },
	{ "container.sandboxImage", F_STR, OFF(sandbox_image), "",
	  "The runtime's sandbox (pause) image, e.g. registry.k8s.io/pause:3.10: the image label "
	  "of the sandbox rows of /metrics/cadvisor, which the kubelet gets from the runtime and "
	  "the API does not name; empty: image=\"\"" },
	{ "container.crioSocket", F_STR, OFF(crio_socket), "/var/run/crio/crio.sock",
	  "CRI-O's socket as seen by the agent (the chart: the host's under -path.rootfs): asked "
	  "for CRI-O containers' writable layer and log file, whose usage gives their own "
	  "container_fs_* rows on /metrics/cadvisor as cAdvisor's CRI-O handler reports them "
	  "(Kubernetes mode); empty: not asked, no such rows" },
	{ "loggerLevel", F_LEVEL, OFF(log_level), "INFO", "Minimum log level: DEBUG, INFO, WARN, ERROR, FATAL" },
	{ "loggerFormat", F_FORMAT, OFF(log_format), "logfmt", "Log format: logfmt or json" },
	{ "tls", F_BOOL, OFF(tls), "false", "Serve HTTPS on httpListenAddr" },
	{ "tlsCertFile", F_STR, OFF(tls_cert_file), "", "TLS certificate file (reloaded when it changes)" },
	{ "tlsKeyFile", F_STR, OFF(tls_key_file), "", "TLS key file (reloaded when it changes)" },
	{ "http.maxConnections", F_INT, OFF(http_max_connections), "512",
	  "Maximum open HTTP connections; at the cap an idle one (no request in progress, oldest "
	  "first) is closed to admit a new one, and only when all are busy is a new one refused" },
	{ "http.maxConnectionsPerAddress", F_INT, OFF(http_max_conns_per_addr), "256",
	  "Maximum open HTTP connections from one client address (at most -http.maxConnections); "
	  "past it the address's own oldest idle connection is closed" },
	{ "http.headerTimeout", F_DURATION, OFF(http_header_timeout_ms), "10s",
	  "Time a connection has to send a complete request head, however slowly it sends "
	  "(after a keep-alive response: -http.timeout plus this)" },
	{ "http.maxSeries", F_COUNT, OFF(http_max_series), "20000000",
	  "Most series in one metrics response (/metrics/self excepted); a larger one fails "
	  "(500, or a streamed response ends with an error) and is counted in "
	  "k8smon_http_series_limit_exceeded_total; 0: no limit" },
	{ "http.timeout", F_DURATION, OFF(http_timeout_ms), "30s", "HTTP keep-alive idle timeout, and longest stall while sending a response" },
	{ "http.auth", F_STR, OFF(http_auth), "none",
	  "Scraper authentication: none, or kubernetes (bearer token checked by TokenReview, "
	  "authorized by SubjectAccessReview get on the path; 401/403 otherwise; /, /healthz and /readyz stay open)" },
	{ "promscrape.allowLoopback", F_BOOL, OFF(scrape_allow_loopback), "false",
	  "Let application targets be loopback addresses (127.0.0.0/8, ::1, localhost); the default of "
	  "K8sMonitor spec.scrape.allowLoopback. For tests and single-host setups" },
	{ "promscrape.noStaleMarkers", F_BOOL, OFF(no_stale_markers), "false",
	  "Send no staleness markers (Prometheus' StaleNaN) by remote write for application series that "
	  "vanish, targets whose scrape fails, removed targets, nor for series of the rendered sections "
	  "(node, cadvisor, kube-state, ...) that vanish between cycles (as vmagent's flag)" },
	{ "components", F_STR, OFF(components),
	  "kubelet,apiserver,kube-scheduler,kube-controller-manager,kube-proxy,coredns,etcd",
	  "Built-in component jobs (docs/components.md): kubelet, apiserver (leader only), kube-scheduler, "
	  "kube-controller-manager, etcd (control-plane nodes only; etcd needs -components.etcd.certFile), "
	  "kube-proxy (where its pod runs), coredns (its pods on this node); empty: none" },
	{ "components.tokenFile", F_STR, OFF(comp_token_file), "",
	  "Bearer token sent to HTTPS components, re-read at every scrape "
	  "(default: the service-account token)" },
	{ "components.caFile", F_STR, OFF(comp_ca_file), "",
	  "CA bundle the HTTPS components are verified against (default: the service-account ca.crt)" },
	{ "components.dropLists", F_BOOL, OFF(comp_drop_lists), "true",
	  "Apply kube-prometheus's metricRelabelings drop lists (deprecated, high-cardinality families)" },
	{ "components.kubelet.address", F_STR, OFF(comp_kubelet_address), "",
	  "Kubelet host (default: this node's InternalIP, else $NODE_IP)" },
	{ "components.kubelet.port", F_INT, OFF(comp_kubelet_port), "10250", "Kubelet HTTPS port" },
	{ "components.kubelet.insecureSkipVerify", F_BOOL, OFF(comp_kubelet_insecure), "false",
	  "Do not verify the kubelet's serving certificate (kubelets with self-signed certificates, "
	  "as kube-prometheus configures)" },
	{ "components.kubelet.cadvisor", F_BOOL, OFF(comp_kubelet_cadvisor), "false",
	  "Also scrape the kubelet's /metrics/cadvisor (k8smon's own /metrics/cadvisor is the default)" },
	{ "components.controlPlaneAddress", F_STR, OFF(comp_control_plane_address), "",
	  "Host where kube-scheduler, kube-controller-manager and etcd listen (default 127.0.0.1)" },
	{ "components.kube-scheduler.port", F_INT, OFF(comp_scheduler_port), "10259", "kube-scheduler HTTPS port" },
	{ "components.kube-scheduler.insecureSkipVerify", F_BOOL, OFF(comp_scheduler_insecure), "false",
	  "Do not verify kube-scheduler's (usually self-signed) certificate" },
	{ "components.kube-controller-manager.port", F_INT, OFF(comp_cm_port), "10257",
	  "kube-controller-manager HTTPS port" },
	{ "components.kube-controller-manager.insecureSkipVerify", F_BOOL, OFF(comp_cm_insecure), "false",
	  "Do not verify kube-controller-manager's (usually self-signed) certificate" },
	{ "components.kube-proxy.address", F_STR, OFF(comp_proxy_address), "",
	  "kube-proxy metrics host (default 127.0.0.1, scraped where a kube-proxy pod runs; set: always)" },
	{ "components.kube-proxy.port", F_INT, OFF(comp_proxy_port), "10249", "kube-proxy metrics port (HTTP)" },
	{ "components.coredns.port", F_INT, OFF(comp_coredns_port), "9153", "CoreDNS metrics port (HTTP)" },
	{ "components.etcd.port", F_INT, OFF(comp_etcd_port), "2379", "etcd client port (HTTPS)" },
	{ "components.etcd.certFile", F_STR, OFF(comp_etcd_cert_file), "",
	  "etcd client certificate (e.g. a hostPath mount of /etc/kubernetes/pki/etcd/healthcheck-client.crt)" },
	{ "components.etcd.keyFile", F_STR, OFF(comp_etcd_key_file), "", "etcd client key" },
	{ "components.etcd.caFile", F_STR, OFF(comp_etcd_ca_file), "", "etcd CA (default: the service-account ca.crt)" },
	{ "remoteWrite.url", F_MULTI, OFF(rw_urls), "",
	  "Prometheus remote write 1.0 endpoint to push everything collected to, at every interval "
	  "(e.g. http://victoria-metrics:8428/api/v1/write); repeatable, each URL has its own queue" },
	{ "remoteWrite.label", F_MULTI, OFF(rw_labels), "",
	  "External label name=value added to every pushed series (wins over the series' own); repeatable" },
	{ "remoteWrite.bearerTokenFile", F_PERURL, OFF(rw_bearer_token_file), "",
	  "File with a bearer token (re-read per request); per URL: the i-th for the i-th -remoteWrite.url, one for all" },
	{ "remoteWrite.basicAuth.username", F_PERURL, OFF(rw_basic_user), "",
	  "Basic auth username; per URL as -remoteWrite.bearerTokenFile" },
	{ "remoteWrite.basicAuth.passwordFile", F_PERURL, OFF(rw_basic_password_file), "",
	  "File with the basic auth password (re-read per request); per URL" },
	{ "remoteWrite.tlsCAFile", F_PERURL, OFF(rw_tls_ca_file), "",
	  "CA bundle to verify https -remoteWrite.url servers (default: the system bundle); per URL" },
	{ "remoteWrite.tlsCertFile", F_PERURL, OFF(rw_tls_cert_file), "",
	  "Client certificate (PEM) for https -remoteWrite.url servers, with -remoteWrite.tlsKeyFile; per URL" },
	{ "remoteWrite.tlsKeyFile", F_PERURL, OFF(rw_tls_key_file), "", "Key of -remoteWrite.tlsCertFile; per URL" },
	{ "remoteWrite.tlsInsecureSkipVerify", F_PERURL, OFF(rw_tls_insecure), "",
	  "true: do not verify the server certificate; per URL" },
	{ "remoteWrite.tlsServerName", F_PERURL, OFF(rw_tls_server_name), "",
	  "Name to verify the server certificate against (and send as SNI) instead of the URL's host; per URL" },
	{ "remoteWrite.headers", F_PERURL, OFF(rw_headers), "",
	  "Custom HTTP headers 'Name1:value1^^Name2:value2'; per URL" },
	{ "remoteWrite.forceVMProto", F_PERURL, OFF(rw_force_vm_proto), "",
	  "true: always send zstd (VictoriaMetrics remote-write protocol) without asking the receiver; per URL" },
	{ "remoteWrite.forcePromProto", F_PERURL, OFF(rw_force_prom_proto), "",
	  "true: always send snappy (Prometheus remote-write protocol) without asking the receiver; per URL" },
	{ "remoteWrite.tmpDataPath", F_STR, OFF(rw_tmp_data_path), "",
	  "Directory of the persistent per-URL queues (sent after a restart); empty: queues in memory, "
	  "capped at 64MiB each and lost on restart" },
	{ "remoteWrite.maxDiskUsagePerURL", F_PERURL, OFF(rw_max_disk), "",
	  "Cap of each URL's queue (default 1GiB); over it the oldest blocks are dropped (counted in "
	  "k8smon_remotewrite_blocks_dropped_total{reason=\"overflow\"}); per URL" },
	{ "remoteWrite.sendTimeout", F_PERURL, OFF(rw_send_timeout), "",
	  "Timeout of one push (default 1m); a push that times out is retried; per URL" },
	{ "remoteWrite.urlLabels", F_PERURL, OFF(rw_url_labels), "",
	  "External labels 'name1=value1,name2=value2' for this URL only (win over -remoteWrite.label); per URL" },
	{ "remoteWrite.retryMinInterval", F_DURATION, OFF(rw_retry_min_ms), "1s",
	  "First retry delay after a failed push; doubles (jittered) up to 1m" },
};

#define NDEFS (sizeof(defs) / sizeof(defs[0]))

static const char *const collector_names[] = { "node", "container", "kube-state", "app" };

int flags_parse_collectors(const char *s, unsigned *out, char *err, size_t errlen)
{
	unsigned bits = 0;
	const char *p = s;

	while (*p) {
		size_t n = strcspn(p, ",");
		bool found = false;
		/* Tolerate spaces around names and empty entries ("node,,app"). */
		const char *q = p;
		size_t m = n;
		while (m && *q == ' ') {
			q++;
			m--;
		}
		while (m && q[m - 1] == ' ')
			m--;
		for (size_t i = 0; m && i < 4; i++) {
			if (strlen(collector_names[i]) == m && strncmp(q, collector_names[i], m) == 0) {
				bits |= 1u << i;
				found = true;
			}
		}
		if (m && !found) {
			snprintf(err, errlen, "unknown collector \"%.*s\" (known: node, container, kube-state, app)",
				 (int)(m > 64 ? 64 : m), q);
			return KM_EINVAL;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	*out = bits;
	return 0;
}

void flags_format_collectors(unsigned bits, char *dst, size_t n)
{
	size_t pos = 0;

	dst[0] = '\0';
	for (size_t i = 0; i < 4; i++) {
		if (bits & (1u << i)) {
			int w = snprintf(dst + pos, n - pos, "%s%s", pos ? "," : "", collector_names[i]);
			if (w < 0 || (size_t)w >= n - pos)
				return;
			pos += (size_t)w;
		}
	}
}

int flags_parse_size(const char *s, int64_t *out)
{
	static const struct {
		const char *sfx;
		int64_t mul;
	} units[] = {
		{ "KiB", 1LL << 10 }, { "MiB", 1LL << 20 }, { "GiB", 1LL << 30 }, { "TiB", 1LL << 40 },
		{ "KB", 1000LL }, { "MB", 1000000LL }, { "GB", 1000000000LL }, { "TB", 1000000000000LL },
		{ "B", 1 }, { "", 1 },
	};
	size_t n = strlen(s);

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		size_t k = strlen(units[i].sfx);
		int64_t v;

		if (n <= k || strcmp(s + n - k, units[i].sfx) != 0)
			continue;
		if (parse_i64(s, n - k, &v) || v <= 0 || v > (1LL << 50) / units[i].mul)
			return KM_EINVAL;
		v *= units[i].mul;
		if (v < (64LL << 10))
			return KM_EINVAL;
		*out = v;
		return 0;
	}
	return KM_EINVAL;
}

static void list_clear(struct str_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

static int list_parse(struct str_list *l, const char *s, char *err, size_t errlen)
{
	list_clear(l);
	while (*s) {
		size_t n = strcspn(s, ",");
		if (n) {
			if (l->n == FLAGS_LIST_MAX) {
				snprintf(err, errlen, "more than %d entries", FLAGS_LIST_MAX);
				return KM_ETOOBIG;
			}
			l->v[l->n] = strndup(s, n);
			if (!l->v[l->n]) {
				snprintf(err, errlen, "out of memory");
				return KM_ENOMEM;
			}
			l->n++;
		}
		s += n;
		if (*s == ',')
			s++;
	}
	return 0;
}

/* Stores value into the field of f described by d; on error explains why in err. */
static int set_value(struct flags *f, const struct flag_def *d, const char *v, char *err, size_t errlen)
{
	char *field = (char *)f + d->off;
	size_t n = strlen(v);

	if (n >= FLAGS_STR_MAX) {
		snprintf(err, errlen, "value longer than %d bytes", FLAGS_STR_MAX);
		return KM_ETOOBIG;
	}
	switch (d->type) {
	case F_BOOL:
		if (parse_bool(v, n, (bool *)field)) {
			snprintf(err, errlen, "not a boolean (true or false)");
			return KM_EINVAL;
		}
		return 0;
	case F_DURATION: {
		int64_t ms;
		if (parse_duration_ms(v, n, &ms) || ms <= 0) {
			snprintf(err, errlen, "not a positive duration (e.g. 15s, 1m30s, 500ms)");
			return KM_EINVAL;
		}
		*(int64_t *)field = ms;
		return 0;
	}
	case F_INT: {
		int64_t i;
		if (parse_i64(v, n, &i) || i <= 0 || i > 1000000) {
			snprintf(err, errlen, "not an integer between 1 and 1000000");
			return KM_EINVAL;
		}
		*(int64_t *)field = i;
		return 0;
	}
	case F_COUNT: {
		int64_t i;
		if (parse_i64(v, n, &i) || i < 0 || i > FLAGS_COUNT_MAX) {
			snprintf(err, errlen, "not an integer between 0 and %lld", (long long)FLAGS_COUNT_MAX);
			return KM_EINVAL;
		}
		*(int64_t *)field = i;
		return 0;
	}
	case F_COLLECTORS:
		return flags_parse_collectors(v, (unsigned *)field, err, errlen);
	case F_MULTI:
	case F_PERURL: {
		struct str_list *l = (struct str_list *)field;

		if (!n && d->type == F_MULTI)
			return 0;
		if (l->n == FLAGS_LIST_MAX) {
			snprintf(err, errlen, "given more than %d times", FLAGS_LIST_MAX);
			return KM_ETOOBIG;
		}
		l->v[l->n] = strdup(v);
		if (!l->v[l->n]) {
			snprintf(err, errlen, "out of memory");
			return KM_ENOMEM;
		}
		l->n++;
		return 0;
	}
	case F_SIZE:
		if (flags_parse_size(v, (int64_t *)field)) {
			snprintf(err, errlen, "not a size in bytes (e.g. 1073741824, 500MB, 1GiB; at least 64KiB)");
			return KM_EINVAL;
		}
		return 0;
	case F_LIST:
		return list_parse((struct str_list *)field, v, err, errlen);
	case F_LEVEL: {
		enum log_level lv;
		if (log_parse_level(v, &lv)) {
			snprintf(err, errlen, "unknown level (DEBUG, INFO, WARN, ERROR, FATAL)");
			return KM_EINVAL;
		}
		break;
	}
	case F_FORMAT: {
		enum log_format fmt;
		if (log_parse_format(v, &fmt)) {
			snprintf(err, errlen, "unknown format (logfmt, json)");
			return KM_EINVAL;
		}
		break;
	}
	case F_STR:
		break;
	}
	/* String-valued types. */
	{
		char *dup = strdup(v);
		if (!dup) {
			snprintf(err, errlen, "out of memory");
			return KM_ENOMEM;
		}
		free(*(char **)field);
		*(char **)field = dup;
	}
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: k8smon [flags]\n\n"
		     "One agent for node, container and Kubernetes object metrics and application\n"
		     "discovery. Flags take -name=value or --name=value.\n\n");
	for (size_t i = 0; i < NDEFS; i++) {
		fprintf(out, "  -%s\n    \t%s", defs[i].name, defs[i].help);
		if (defs[i].def[0])
			fprintf(out, " (default \"%s\")", defs[i].def);
		fputc('\n', out);
	}
	fprintf(out, "  -collector.<name>[=false], -no-collector.<name>\n    \tSwitch a node sub-collector on or off, as node_exporter (");
	for (size_t i = 0; i < node_sub_count(); i++)
		fprintf(out, "%s%s", i ? ", " : "", node_sub_name(i));
	fprintf(out, "; systemd is off unless enabled, as in node_exporter)\n  -collector.disable-defaults\n    \tOnly the node sub-collectors enabled with -collector.<name> run\n");
	fprintf(out, "  -version\n    \tPrint the version and exit\n");
}

static const struct flag_def *find_def(const char *name, size_t nlen)
{
	for (size_t i = 0; i < NDEFS; i++)
		if (strlen(defs[i].name) == nlen && strncmp(defs[i].name, name, nlen) == 0)
			return &defs[i];
	return NULL;
}

static int set_named(struct flags *f, const char *name, const char *v, char *err, size_t errlen)
{
	return set_value(f, find_def(name, strlen(name)), v, err, errlen);
}

static int apply_env_defaults(struct flags *f, char *err, size_t errlen)
{
	char host[256];
	const char *v;

	if (!f->node_name[0]) {
		v = getenv("NODE_NAME");
		if (!v || !v[0]) {
			if (gethostname(host, sizeof(host)) != 0)
				host[0] = '\0';
			host[sizeof(host) - 1] = '\0';
			v = host;
		}
		if (set_named(f, "nodeName", v, err, errlen))
			return KM_EINVAL;
	}
	if (!f->pod_name[0]) {
		v = getenv("POD_NAME");
		if (v && v[0] && set_named(f, "podName", v, err, errlen))
			return KM_EINVAL;
	}
	if (!f->lease_namespace[0]) {
		v = getenv("POD_NAMESPACE");
		if (v && v[0] && set_named(f, "leaderElection.namespace", v, err, errlen))
			return KM_EINVAL;
	}
	/* $KUBECONFIG is read where the API server is chosen
	 * (kube/conn.c kube_conn_load: in-cluster first, as DESIGN.md §2
	 * says), so that its errors name what the user set: the flag or the
	 * variable. */
	return 0;
}

/* "; did you mean -x?" for the flag whose name equals name ignoring case,
 * or whose last dotted part does (-maxconnections: -http.maxConnections),
 * else "". */
static void suggest(const char *name, size_t nlen, char *out, size_t outlen)
{
	out[0] = '\0';
	for (size_t i = 0; i < NDEFS; i++) {
		const char *dn = defs[i].name, *dot = strrchr(dn, '.');
		size_t dl = strlen(dn);

		if ((dl == nlen && strncasecmp(dn, name, nlen) == 0) ||
		    (dot && strlen(dot + 1) == nlen && strncasecmp(dot + 1, name, nlen) == 0)) {
			snprintf(out, outlen, "; did you mean -%s?", dn);
			return;
		}
	}
}

/* The one object that holds the version string: an incremental build
 * recompiles only what changed, so a second copy could say another. */
const char *flags_version(void)
{
	return K8SMON_VERSION;
}

/* vmagent's per-URL indexing: the i-th value, or the only one. */
static const char *per_url(const struct str_list *l, size_t i)
{
	if (i < l->n)
		return l->v[i];
	return l->n == 1 ? l->v[0] : "";
}

static int url_bool(const struct str_list *l, size_t i, const char *flag, bool *out, char *err, size_t errlen)
{
	const char *v = per_url(l, i);

	*out = false;
	if (!v[0])
		return 0;
	if (parse_bool(v, strlen(v), out)) {
		snprintf(err, errlen, "invalid value \"%.64s\" for flag -%s: not a boolean (true or false)", v, flag);
		return KM_EINVAL;
	}
	return 0;
}

int flags_rw_size(const char *v, uint64_t *out, char *err, size_t errlen)
{
	int64_t b;

	*out = 0;
	if (!v[0])
		return 0;
	if (flags_parse_size(v, &b)) {
		snprintf(err, errlen, "invalid value \"%.64s\" for flag -remoteWrite.maxDiskUsagePerURL: "
			 "not a size in bytes (e.g. 1073741824, 500MB, 1GiB; at least 64KiB)", v);
		return KM_EINVAL;
	}
	*out = (uint64_t)b;
	return 0;
}

int flags_rw_timeout(const char *v, int64_t *out, char *err, size_t errlen)
{
	*out = 0;
	if (!v[0])
		return 0;
	if (parse_duration_ms(v, strlen(v), out) || *out <= 0) {
		snprintf(err, errlen, "invalid value \"%.64s\" for flag -remoteWrite.sendTimeout: want a duration above 0 (e.g. 30s, 1m)", v);
		return KM_EINVAL;
	}
	return 0;
}

int flags_rw_dest(const struct flags *f, size_t i, struct rw_dest *d, char *hdr, size_t hdrcap, char *lbl, size_t lblcap,
		  char *err, size_t errlen)
{
	char why[300];
	bool vm, prom;
	int rc;

	memset(d, 0, sizeof(*d));
	d->url = f->rw_urls.v[i];
#define STR(field, list) d->field = (char *)per_url(&f->list, i);
	STR(bearer_token_file, rw_bearer_token_file)
	STR(basic_user, rw_basic_user)
	STR(basic_password_file, rw_basic_password_file)
	STR(ca_file, rw_tls_ca_file)
	STR(cert_file, rw_tls_cert_file)
	STR(key_file, rw_tls_key_file)
	STR(server_name, rw_tls_server_name)
#undef STR
	rc = url_bool(&f->rw_tls_insecure, i, "remoteWrite.tlsInsecureSkipVerify", &d->insecure_skip_verify, err, errlen);
	if (!rc)
		rc = url_bool(&f->rw_force_vm_proto, i, "remoteWrite.forceVMProto", &vm, err, errlen);
	if (!rc)
		rc = url_bool(&f->rw_force_prom_proto, i, "remoteWrite.forcePromProto", &prom, err, errlen);
	if (rc)
		return rc;
	if (vm && prom) {
		snprintf(err, errlen, "-remoteWrite.forceVMProto and -remoteWrite.forcePromProto both true for %.128s", d->url);
		return KM_EINVAL;
	}
	d->proto = vm ? RW_PROTO_VM : prom ? RW_PROTO_PROMETHEUS : RW_PROTO_AUTO;
	if (rw_headers_parse(per_url(&f->rw_headers, i), hdr, hdrcap, &d->headers_len, why, sizeof(why))) {
		snprintf(err, errlen, "invalid value for flag -remoteWrite.headers: %s", why);
		return KM_EINVAL;
	}
	d->headers = d->headers_len ? hdr : NULL;
	if (flags_rw_size(per_url(&f->rw_max_disk, i), &d->max_disk, err, errlen) ||
	    flags_rw_timeout(per_url(&f->rw_send_timeout, i), &d->send_timeout_ms, err, errlen))
		return KM_EINVAL;
	if (rw_dest_labels_parse(per_url(&f->rw_url_labels, i), lbl, lblcap, &d->labels_len, why, sizeof(why))) {
		snprintf(err, errlen, "invalid value for flag -remoteWrite.urlLabels: %s", why);
		return KM_EINVAL;
	}
	d->labels = d->labels_len ? lbl : NULL;
	if (rw_dest_check(d, why, sizeof(why))) {
		snprintf(err, errlen, "-remoteWrite.url=%.128s: %s", d->url, why);
		return KM_EINVAL;
	}
	return 0;
}

static int check_remote_write(struct flags *f, char *err, size_t errlen)
{
	char why[200], hdr[RW_HEADERS_MAX], lbl[RW_DEST_LABELS_MAX];
	struct rw_dest d;
	uint64_t disk;
	int64_t timeout;

	/* The value for all (given once), also the K8sMonitor destinations' default. */
	if (flags_rw_size(f->rw_max_disk.n == 1 ? f->rw_max_disk.v[0] : "", &disk, err, errlen) ||
	    flags_rw_timeout(f->rw_send_timeout.n == 1 ? f->rw_send_timeout.v[0] : "", &timeout, err, errlen))
		return KM_EINVAL;
	f->rw_max_disk_per_url = disk ? (int64_t)disk : RW_DEFAULT_MAX_DISK;
	f->rw_send_timeout_ms = timeout ? timeout : RW_DEFAULT_SEND_TIMEOUT_MS;

	/* Every per-URL flag of the table: a new one is checked too. */
	for (size_t k = 0; k < NDEFS; k++) {
		const struct str_list *l = (const struct str_list *)((const char *)f + defs[k].off);

		if (defs[k].type != F_PERURL)
			continue;
		if (l->n > 1 && l->n != f->rw_urls.n) {
			snprintf(err, errlen, "-%s given %zu times for %zu -remoteWrite.url: give it once (for every URL) "
				 "or once per URL, in the same order", defs[k].name, l->n, f->rw_urls.n);
			return KM_EINVAL;
		}
	}
	for (size_t i = 0; i < f->rw_urls.n; i++) {
		const char *u = f->rw_urls.v[i];

		if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) {
			snprintf(err, errlen, "invalid value \"%.128s\" for flag -remoteWrite.url: want an http:// or https:// URL", u);
			return KM_EINVAL;
		}
		if (flags_rw_dest(f, i, &d, hdr, sizeof(hdr), lbl, sizeof(lbl), err, errlen))
			return KM_EINVAL;
	}
	for (size_t i = 0; i < f->rw_labels.n; i++) {
		if (rw_label_check(f->rw_labels.v[i], why, sizeof(why))) {
			snprintf(err, errlen, "invalid value \"%.128s\" for flag -remoteWrite.label: %s", f->rw_labels.v[i], why);
			return KM_EINVAL;
		}
	}
	return 0;
}

/* node_exporter's -collector.<name>[=bool], -no-collector.<name> and
 * -collector.disable-defaults. KM_ENOENT: not such a flag (the caller
 * reports an unknown flag); another error has its message in err. */
static int node_collector_flag(struct flags *f, const char *name, size_t nlen, const char *val,
			       char *err, size_t errlen)
{
	char sub[64];
	bool on = true, neg = false;
	int idx;

	if (nlen > 13 && strncmp(name, "no-collector.", 13) == 0) {
		neg = true;
		name += 13;
		nlen -= 13;
	} else if (nlen > 10 && strncmp(name, "collector.", 10) == 0) {
		name += 10;
		nlen -= 10;
	} else {
		return KM_ENOENT;
	}
	if (nlen >= sizeof(sub))
		return KM_ENOENT;
	memcpy(sub, name, nlen);
	sub[nlen] = '\0';
	if (val && parse_bool(val, strlen(val), &on)) {
		snprintf(err, errlen, "invalid value \"%.64s\" for flag -%s%s: not a boolean (true or false)",
			 val, neg ? "no-collector." : "collector.", sub);
		return KM_EINVAL;
	}
	if (neg)
		on = !on;
	if (!neg && strcmp(sub, "disable-defaults") == 0) {
		f->node_disable_defaults = on;
		return 0;
	}
	idx = node_sub_index(sub);
	if (idx < 0)
		return KM_ENOENT;
	if (on) {
		f->node_on |= 1ull << idx;
		f->node_off &= ~(1ull << idx);
	} else {
		f->node_off |= 1ull << idx;
		f->node_on &= ~(1ull << idx);
	}
	return 0;
}

/* The filter flags compile (search semantics, as Go's regexp.MatchString)
 * and the include/exclude pairs node_exporter refuses together. */
static int check_node_filters(const struct flags *f, char *err, size_t errlen)
{
	static const char *const names[] = {
		"collector.filesystem.mount-points-exclude", "collector.filesystem.fs-types-exclude",
		"collector.netdev.device-exclude", "collector.netdev.device-include",
		"collector.diskstats.device-exclude", "collector.diskstats.device-include",
		"collector.hwmon.chip-include", "collector.hwmon.chip-exclude",
		"collector.hwmon.sensor-include", "collector.hwmon.sensor-exclude",
		"collector.powersupply.ignored-supplies",
		"collector.systemd.unit-include", "collector.systemd.unit-exclude",
	};
	char why[200];

	/* The values through the flag table (each name's field), so that a
	 * name and its value cannot drift apart. */
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct flag_def *d = find_def(names[i], strlen(names[i]));
		const char *v = d ? *(char *const *)((const char *)f + d->off) : NULL;
		struct rx *r;

		if (!d) {
			snprintf(err, errlen, "internal: no flag -%s", names[i]);
			return KM_EINVAL;
		}
		if (!v || !v[0])
			continue;
		r = rx_new_search(v, why, sizeof(why));
		if (!r) {
			snprintf(err, errlen, "invalid value \"%.128s\" for flag -%s: %s", v, names[i], why);
			return KM_EINVAL;
		}
		rx_free(r);
	}
	if (f->netdev_device_exclude[0] && f->netdev_device_include[0]) {
		snprintf(err, errlen, "flags -collector.netdev.device-exclude and -collector.netdev.device-include are mutually exclusive");
		return KM_EINVAL;
	}
	if (f->diskstats_device_exclude[0] && f->diskstats_device_include[0]) {
		snprintf(err, errlen, "flags -collector.diskstats.device-exclude and -collector.diskstats.device-include are mutually exclusive");
		return KM_EINVAL;
	}
	return 0;
}

enum flags_result flags_parse(struct flags *f, int argc, char **argv, FILE *out,
			      char *err, size_t errlen)
{
	char why[256];

	for (size_t i = 0; i < NDEFS; i++) {
		if (defs[i].type == F_PERURL)
			continue;   /* none given: no entry */
		if (set_value(f, &defs[i], defs[i].def, why, sizeof(why))) {
			snprintf(err, errlen, "internal: bad default for -%s: %s", defs[i].name, why);
			return FLAGS_EXIT_USAGE;
		}
	}
	for (int a = 1; a < argc; a++) {
		const char *arg = argv[a], *name, *eq, *val;
		const struct flag_def *d;
		size_t nlen;

		if (arg[0] != '-' || arg[1] == '\0') {
			const char *prev = a > 1 ? argv[a - 1] : NULL;
			const struct flag_def *pd = NULL;

			/* "-leaderElection false": a boolean flag takes no separate
			 * value (as in Go's flag package); say how to write it. */
			if (prev && prev[0] == '-' && !strchr(prev, '=')) {
				const char *pn = prev + (prev[1] == '-' ? 2 : 1);
				pd = find_def(pn, strlen(pn));
			}
			if (pd && pd->type == F_BOOL)
				snprintf(err, errlen,
					 "unexpected argument \"%.64s\" after the boolean flag -%s, which takes no "
					 "separate value: write -%s=%.64s",
					 arg, pd->name, pd->name, arg);
			else
				snprintf(err, errlen,
					 "unexpected argument \"%.64s\" (flags start with -; a value goes after "
					 "its flag, as -name=value or -name value)", arg);
			return FLAGS_EXIT_USAGE;
		}
		name = arg + (arg[1] == '-' ? 2 : 1);
		eq = strchr(name, '=');
		nlen = eq ? (size_t)(eq - name) : strlen(name);
		if ((nlen == 4 && strncmp(name, "help", 4) == 0) || (nlen == 1 && name[0] == 'h')) {
			usage(out);
			return FLAGS_EXIT_OK;
		}
		if (nlen == 7 && strncmp(name, "version", 7) == 0) {
			fprintf(out, "k8smon %s\n", flags_version());
			return FLAGS_EXIT_OK;
		}
		d = find_def(name, nlen);
		if (!d) {
			int nrc = node_collector_flag(f, name, nlen, eq ? eq + 1 : NULL, err, errlen);

			if (nrc == 0)
				continue;
			if (nrc != KM_ENOENT)
				return FLAGS_EXIT_USAGE;
		}
		if (!d) {
			suggest(name, nlen, why, sizeof(why));
			snprintf(err, errlen, "unknown flag -%.*s%s (see -help for the list)", (int)(nlen > 80 ? 80 : nlen),
				 name, why);
			return FLAGS_EXIT_USAGE;
		}
		if (eq) {
			val = eq + 1;
		} else if (d->type == F_BOOL) {
			val = "true";
		} else if (a + 1 < argc) {
			val = argv[++a];
		} else {
			snprintf(err, errlen, "flag -%s needs a value: -%s=VALUE (default %s)", d->name, d->name,
				 d->def[0] ? d->def : "empty");
			return FLAGS_EXIT_USAGE;
		}
		if (set_value(f, d, val, why, sizeof(why))) {
			snprintf(err, errlen, "invalid value \"%.128s\" for flag -%s: %s", val, d->name, why);
			return FLAGS_EXIT_USAGE;
		}
	}
	if (apply_env_defaults(f, why, sizeof(why))) {
		snprintf(err, errlen, "environment: %s", why);
		return FLAGS_EXIT_USAGE;
	}
	if (f->tls && (!f->tls_cert_file[0] || !f->tls_key_file[0])) {
		snprintf(err, errlen, "flag -tls needs -tlsCertFile and -tlsKeyFile");
		return FLAGS_EXIT_USAGE;
	}
	if (strcmp(f->http_auth, "none") != 0 && strcmp(f->http_auth, "kubernetes") != 0) {
		snprintf(err, errlen, "invalid value \"%.64s\" for flag -http.auth: want none or kubernetes", f->http_auth);
		return FLAGS_EXIT_USAGE;
	}
	/* Host mode has no API server to ask. */
	if (strcmp(f->http_auth, "kubernetes") == 0 && !f->kubernetes) {
		snprintf(err, errlen, "flag -http.auth=kubernetes needs -promscrape.kubernetes (host mode has no API server)");
		return FLAGS_EXIT_USAGE;
	}
	if (check_remote_write(f, err, errlen))
		return FLAGS_EXIT_USAGE;
	{
		enum ks_pod_sharding m;
		json_t *sel;

		if (ks_shard_parse_mode(f->ks_pod_sharding, &m)) {
			snprintf(err, errlen, "invalid value \"%.64s\" for flag -kubeState.podSharding: want node or leader",
				 f->ks_pod_sharding);
			return FLAGS_EXIT_USAGE;
		}
		if (ks_shard_selector_parse(f->ks_agent_selector, &sel, why, sizeof(why))) {
			snprintf(err, errlen, "invalid value \"%.128s\" for flag -kubeState.agentSelector: %s",
				 f->ks_agent_selector, why);
			return FLAGS_EXIT_USAGE;
		}
		json_decref(sel);
		if (f->ks_uncovered_watches < 1 || f->ks_uncovered_watches > 64) {
			snprintf(err, errlen, "invalid value %lld for flag -kubeState.uncoveredNodeWatches: want 1 to 64",
				 (long long)f->ks_uncovered_watches);
			return FLAGS_EXIT_USAGE;
		}
	}
	if (check_node_filters(f, err, errlen))
		return FLAGS_EXIT_USAGE;
	{
		unsigned bits;
		if (comp_parse_list(f->components, &bits, why, sizeof(why))) {
			snprintf(err, errlen, "invalid value \"%.128s\" for flag -components: %s", f->components, why);
			return FLAGS_EXIT_USAGE;
		}
	}
	{
		const int64_t ports[] = { f->comp_kubelet_port, f->comp_scheduler_port, f->comp_cm_port,
					  f->comp_proxy_port, f->comp_coredns_port, f->comp_etcd_port };
		for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
			if (ports[i] < 1 || ports[i] > 65535) {
				snprintf(err, errlen, "flag -components.*.port: %lld is not a port (1-65535)",
					 (long long)ports[i]);
				return FLAGS_EXIT_USAGE;
			}
		}
	}
	if (f->renew_deadline_ms >= f->lease_duration_ms) {
		snprintf(err, errlen, "flag -leaderElection.renewDeadline must be shorter than -leaderElection.leaseDuration");
		return FLAGS_EXIT_USAGE;
	}
	/* As client-go: the retries (jittered up to 1.2 x the period) must fit
	 * in the renew deadline, else a leader cannot renew in time. */
	if (f->renew_deadline_ms * 10 <= f->retry_period_ms * 12) {
		snprintf(err, errlen, "flag -leaderElection.renewDeadline must be longer than 1.2 x -leaderElection.retryPeriod");
		return FLAGS_EXIT_USAGE;
	}
	return FLAGS_RUN;
}

void flags_fini(struct flags *f)
{
	for (size_t i = 0; i < NDEFS; i++) {
		char *field = (char *)f + defs[i].off;
		switch (defs[i].type) {
		case F_STR:
		case F_LEVEL:
		case F_FORMAT:
			free(*(char **)field);
			*(char **)field = NULL;
			break;
		case F_LIST:
		case F_MULTI:
		case F_PERURL:
			list_clear((struct str_list *)field);
			break;
		default:
			break;
		}
	}
}

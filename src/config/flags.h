/* Command-line flags (DESIGN.md §2). One table drives parsing, defaults,
 * validation and --help, so they cannot drift apart.
 *
 * Both "-name=value" and "--name=value" are accepted, and "-name value" for
 * non-boolean flags. A boolean given alone ("-tls") means true. */
#ifndef K8SMON_CONFIG_FLAGS_H
#define K8SMON_CONFIG_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FLAGS_LIST_MAX 64     /* entries in a comma-separated list flag */
#define FLAGS_STR_MAX 1024    /* bytes in one string flag value */

/* Collector bits for flags.collectors. */
enum {
	COLLECTOR_NODE = 1 << 0,
	COLLECTOR_CONTAINER = 1 << 1,
	COLLECTOR_KUBE_STATE = 1 << 2,
	COLLECTOR_APP = 1 << 3,
};

struct str_list {
	size_t n;
	char *v[FLAGS_LIST_MAX]; /* owned */
};

struct flags {
	bool kubernetes;
	unsigned collectors;         /* COLLECTOR_* bits */
	int64_t interval_ms;
	struct str_list namespaces;
	struct str_list exclude_namespaces;
	char *listen_addr;
	char *kubeconfig;
	char *node_name;
	char *pod_name;              /* -podName, else $POD_NAME; "" outside a cluster */
	/* Per-node pod state (docs/kube-state-sharding.md): "node" or
	 * "leader" (checked by flags_parse), and the agents' label selector
	 * (equality terms, checked by flags_parse). */
	char *ks_pod_sharding;
	char *ks_agent_selector;
	int64_t ks_uncovered_watches;   /* leader node watches before the wide one */
	bool leader_election;
	char *lease_namespace;
	char *lease_name;
	int64_t lease_duration_ms;
	int64_t renew_deadline_ms;
	int64_t retry_period_ms;
	char *procfs;
	char *sysfs;
	char *rootfs;
	char *textfile_dir;   /* node textfile collector directory or glob; "" none */
	/* node_exporter's filter flags (regexes, search semantics; "" = the
	 * node collector's default), validated by flags_parse(). */
	char *fs_mount_points_exclude;
	char *fs_types_exclude;
	char *netdev_device_exclude;
	char *netdev_device_include;
	char *diskstats_device_exclude;
	char *diskstats_device_include;
	char *hwmon_chip_include;      /* "" none */
	char *hwmon_chip_exclude;
	char *hwmon_sensor_include;
	char *hwmon_sensor_exclude;
	char *powersupply_ignored;     /* default "^$" */
	/* systemd collector: anchored regexes (node_exporter's ^(?:...)$) */
	char *systemd_unit_include;
	char *systemd_unit_exclude;
	bool systemd_task_metrics;
	bool systemd_restarts_metrics;
	bool systemd_start_time_metrics;
	bool systemd_private;
	/* -collector.<name> / -no-collector.<name> / -collector.disable-defaults
	 * for the node sub-collectors: bit i is node_sub_name(i), the last flag
	 * for a name wins. */
	uint64_t node_on, node_off;
	int64_t mount_timeout_ms;    /* -collector.filesystem.mount-timeout */
	bool node_disable_defaults;
	char *sandbox_image;  /* image label of sandbox (pause) rows; "" as the API gives none */
	char *crio_socket;    /* CRI-O's socket for CRI-O containers' fs rows; "" none */
	char *log_level;
	char *log_format;
	bool tls;
	char *tls_cert_file;
	char *tls_key_file;
	int64_t http_max_connections;
	int64_t http_max_conns_per_addr;
	int64_t http_header_timeout_ms;
	int64_t http_max_series;     /* 0: no limit */
	int64_t http_timeout_ms;
	char *http_auth;             /* "none" or "kubernetes" */
	bool scrape_allow_loopback;  /* default of K8sMonitor spec.scrape.allowLoopback */
	bool no_stale_markers;       /* remote write: no StaleNaN for vanished application series */
	/* Built-in component jobs (src/collect/components/, docs/components.md). */
	char *components;            /* "kubelet,apiserver,..." (checked by flags_parse) */
	char *comp_token_file;
	char *comp_ca_file;
	bool comp_drop_lists;
	char *comp_kubelet_address;
	int64_t comp_kubelet_port;
	bool comp_kubelet_insecure;
	bool comp_kubelet_cadvisor;
	char *comp_control_plane_address;
	int64_t comp_scheduler_port;
	bool comp_scheduler_insecure;
	int64_t comp_cm_port;
	bool comp_cm_insecure;
	char *comp_proxy_address;
	int64_t comp_proxy_port;
	int64_t comp_coredns_port;
	int64_t comp_etcd_port;
	char *comp_etcd_cert_file;
	char *comp_etcd_key_file;
	char *comp_etcd_ca_file;
	/* Remote write (src/remotewrite/rw.h); repeatable flags append. */
	struct str_list rw_urls;
	struct str_list rw_labels;   /* "name=value" */
	/* Per-URL (vmagent's indexing): the i-th value for the i-th URL, one
	 * value for every URL, or none. */
	struct str_list rw_bearer_token_file;
	struct str_list rw_basic_user;
	struct str_list rw_basic_password_file;
	struct str_list rw_tls_ca_file;
	struct str_list rw_tls_cert_file;
	struct str_list rw_tls_key_file;
	struct str_list rw_tls_insecure;      /* "true"/"false" */
	struct str_list rw_tls_server_name;
	struct str_list rw_headers;           /* "k1:v1^^k2:v2" */
	struct str_list rw_force_vm_proto;    /* "true"/"false" */
	struct str_list rw_force_prom_proto;  /* "true"/"false" */
	char *rw_tmp_data_path;
	struct str_list rw_url_labels;        /* "name=value,..." per URL */
	struct str_list rw_max_disk;          /* sizes, per URL */
	struct str_list rw_send_timeout;      /* durations, per URL */
	/* -remoteWrite.maxDiskUsagePerURL and -remoteWrite.sendTimeout when
	 * given once (else the defaults): for K8sMonitor destinations without
	 * their own. */
	int64_t rw_max_disk_per_url; /* bytes */
	int64_t rw_send_timeout_ms;
	int64_t rw_retry_min_ms;
};

/* Largest value of a count flag (-http.maxSeries). */
#define FLAGS_COUNT_MAX 1000000000000LL

enum flags_result { FLAGS_RUN = 0, FLAGS_EXIT_OK = 1, FLAGS_EXIT_USAGE = 2 };

/* The version -version prints (static string); every place that shows the
 * version uses it (landing page, k8smon_build_info). */
const char *flags_version(void);

/* Parse argv into f (which must be zeroed). Defaults are applied first, then
 * the environment (NODE_NAME, POD_NAMESPACE), then argv. On a bad flag or
 * value writes one line naming the flag and the problem into err and returns
 * FLAGS_EXIT_USAGE. --help and --version print to out and return
 * FLAGS_EXIT_OK. f must be released with flags_fini() in every case. */
enum flags_result flags_parse(struct flags *f, int argc, char **argv, FILE *out,
			      char *err, size_t errlen);
void flags_fini(struct flags *f);
/* Parse "node,container,..." into COLLECTOR_* bits; KM_EINVAL names the bad one in err. */
int flags_parse_collectors(const char *s, unsigned *out, char *err, size_t errlen);
/* Parse a byte size: digits with an optional B, KB/MB/GB/TB (powers of 1000) or
 * KiB/MiB/GiB/TiB (1024) suffix, as vmagent's size flags; at least 64KiB. */
int flags_parse_size(const char *s, int64_t *out);
/* Render collector bits as "node,container" into dst. */
void flags_format_collectors(unsigned bits, char *dst, size_t n);

/* The settings of the i-th -remoteWrite.url from the per-URL flags into *d,
 * whose strings are borrowed from f (do not rw_dest_fini it); the parsed
 * headers go to hdr (hdrcap bytes, RW_HEADERS_MAX is enough), the URL's own
 * labels to lbl (RW_DEST_LABELS_MAX). KM_EINVAL with the flag and the
 * reason in err. */
struct rw_dest;
int flags_rw_dest(const struct flags *f, size_t i, struct rw_dest *d, char *hdr, size_t hdrcap, char *lbl, size_t lblcap,
		  char *err, size_t errlen);
/* One -remoteWrite.maxDiskUsagePerURL / -remoteWrite.sendTimeout value
 * ("" gives 0: the default). KM_EINVAL with the flag and reason in err. */
int flags_rw_size(const char *v, uint64_t *out, char *err, size_t errlen);
int flags_rw_timeout(const char *v, int64_t *out, char *err, size_t errlen);

#endif

/* The metricRelabelings kube-prometheus applies by default to the
 * component jobs (manifests/kubernetesControlPlane-serviceMonitor*.yaml,
 * kube-prometheus main of 2026-08): deprecated and high-cardinality
 * families dropped. Data, kept as JSON so that it goes through the same
 * relabeling compiler as a ScrapeRule's metricRelabelings. */
#include <stdbool.h>
#include <string.h>

#include "collect/components/comp_int.h"

/* The drops kube-prometheus repeats at the head of the kubelet, API server
 * and controller-manager lists (the deprecated families of every component):
 * one copy, each list below starts with it. */
#define KP_DEPRECATED_DROPS \
	"[{\"action\":\"drop\",\"regex\":\"kubelet_(pod_worker_latency_microseconds|pod_start_laten" \
	"cy_microseconds|cgroup_manager_latency_microseconds|pod_worker_start_latency_microseconds|" \
	"pleg_relist_latency_microseconds|pleg_relist_interval_microseconds|runtime_operations|runt" \
	"ime_operations_latency_microseconds|runtime_operations_errors|eviction_stats_age_microseco" \
	"nds|device_plugin_registration_count|device_plugin_alloc_latency_microseconds|network_plug" \
	"in_operations_latency_microseconds)\",\"sourceLabels\":[\"__name__\"]},{\"action\":\"drop\"" \
	",\"regex\":\"scheduler_(e2e_scheduling_latency_microseconds|scheduling_algorithm_predicate" \
	"_evaluation|scheduling_algorithm_priority_evaluation|scheduling_algorithm_preemption_evalu" \
	"ation|scheduling_algorithm_latency_microseconds|binding_latency_microseconds|scheduling_la" \
	"tency_seconds)\",\"sourceLabels\":[\"__name__\"]},{\"action\":\"drop\",\"regex\":\"apiserv" \
	"er_(request_count|request_latencies|request_latencies_summary|dropped_requests|storage_dat" \
	"a_key_generation_latencies_microseconds|storage_transformation_failures_total|storage_tran" \
	"sformation_latencies_microseconds|proxy_tunnel_sync_latency_secs|longrunning_gauge|registe" \
	"red_watchers|storage_db_total_size_in_bytes|flowcontrol_request_concurrency_limit|flowcont" \
	"rol_request_concurrency_in_use|storage_objects)\",\"sourceLabels\":[\"__name__\"]},{\"acti" \
	"on\":\"drop\",\"regex\":\"kubelet_docker_(operations|operations_latency_microseconds|opera" \
	"tions_errors|operations_timeout)\",\"sourceLabels\":[\"__name__\"]},{\"action\":\"drop\",\"" \
	"regex\":\"reflector_(items_per_list|items_per_watch|list_duration_seconds|lists_total|shor" \
	"t_watches_total|watch_duration_seconds|watches_total)\",\"sourceLabels\":[\"__name__\"]},{" \
	"\"action\":\"drop\",\"regex\":\"etcd_(helper_cache_hit_count|helper_cache_miss_count|helpe" \
	"r_cache_entry_count|object_counts|request_cache_get_latencies_summary|request_cache_add_la" \
	"tencies_summary|request_latencies_summary)\",\"sourceLabels\":[\"__name__\"]},{\"action\":" \
	"\"drop\",\"regex\":\"transformation_(transformation_latencies_microseconds|failures_total)" \
	"\",\"sourceLabels\":[\"__name__\"]},{\"action\":\"drop\",\"regex\":\"(admission_quota_cont" \
	"roller_adds|admission_quota_controller_depth|admission_quota_controller_longest_running_pr" \
	"ocessor_microseconds|admission_quota_controller_queue_latency|admission_quota_controller_u" \
	"nfinished_work_seconds|admission_quota_controller_work_duration|APIServiceOpenAPIAggregati" \
	"onControllerQueue1_adds|APIServiceOpenAPIAggregationControllerQueue1_depth|APIServiceOpenA" \
	"PIAggregationControllerQueue1_longest_running_processor_microseconds|APIServiceOpenAPIAggr" \
	"egationControllerQueue1_queue_latency|APIServiceOpenAPIAggregationControllerQueue1_retries" \
	"|APIServiceOpenAPIAggregationControllerQueue1_unfinished_work_seconds|APIServiceOpenAPIAgg" \
	"regationControllerQueue1_work_duration|APIServiceRegistrationController_adds|APIServiceReg" \
	"istrationController_depth|APIServiceRegistrationController_longest_running_processor_micro" \
	"seconds|APIServiceRegistrationController_queue_latency|APIServiceRegistrationController_re" \
	"tries|APIServiceRegistrationController_unfinished_work_seconds|APIServiceRegistrationContr" \
	"oller_work_duration|autoregister_adds|autoregister_depth|autoregister_longest_running_proc" \
	"essor_microseconds|autoregister_queue_latency|autoregister_retries|autoregister_unfinished" \
	"_work_seconds|autoregister_work_duration|AvailableConditionController_adds|AvailableCondit" \
	"ionController_depth|AvailableConditionController_longest_running_processor_microseconds|Av" \
	"ailableConditionController_queue_latency|AvailableConditionController_retries|AvailableCon" \
	"ditionController_unfinished_work_seconds|AvailableConditionController_work_duration|crd_au" \
	"toregistration_controller_adds|crd_autoregistration_controller_depth|crd_autoregistration_" \
	"controller_longest_running_processor_microseconds|crd_autoregistration_controller_queue_la" \
	"tency|crd_autoregistration_controller_retries|crd_autoregistration_controller_unfinished_w" \
	"ork_seconds|crd_autoregistration_controller_work_duration|crdEstablishing_adds|crdEstablis" \
	"hing_depth|crdEstablishing_longest_running_processor_microseconds|crdEstablishing_queue_la" \
	"tency|crdEstablishing_retries|crdEstablishing_unfinished_work_seconds|crdEstablishing_work" \
	"_duration|crd_finalizer_adds|crd_finalizer_depth|crd_finalizer_longest_running_processor_m" \
	"icroseconds|crd_finalizer_queue_latency|crd_finalizer_retries|crd_finalizer_unfinished_wor" \
	"k_seconds|crd_finalizer_work_duration|crd_naming_condition_controller_adds|crd_naming_cond" \
	"ition_controller_depth|crd_naming_condition_controller_longest_running_processor_microseco" \
	"nds|crd_naming_condition_controller_queue_latency|crd_naming_condition_controller_retries|" \
	"crd_naming_condition_controller_unfinished_work_seconds|crd_naming_condition_controller_wo" \
	"rk_duration|crd_openapi_controller_adds|crd_openapi_controller_depth|crd_openapi_controlle" \
	"r_longest_running_processor_microseconds|crd_openapi_controller_queue_latency|crd_openapi_" \
	"controller_retries|crd_openapi_controller_unfinished_work_seconds|crd_openapi_controller_w" \
	"ork_duration|DiscoveryController_adds|DiscoveryController_depth|DiscoveryController_longes" \
	"t_running_processor_microseconds|DiscoveryController_queue_latency|DiscoveryController_ret" \
	"ries|DiscoveryController_unfinished_work_seconds|DiscoveryController_work_duration|kubepro" \
	"xy_sync_proxy_rules_latency_microseconds|non_structural_schema_condition_controller_adds|n" \
	"on_structural_schema_condition_controller_depth|non_structural_schema_condition_controller" \
	"_longest_running_processor_microseconds|non_structural_schema_condition_controller_queue_l" \
	"atency|non_structural_schema_condition_controller_retries|non_structural_schema_condition_" \
	"controller_unfinished_work_seconds|non_structural_schema_condition_controller_work_duratio" \
	"n|rest_client_request_latency_seconds|storage_operation_errors_total|storage_operation_sta" \
	"tus_count)\",\"sourceLabels\":[\"__name__\"]}"

static const char kubelet_metrics[] = KP_DEPRECATED_DROPS "]";

static const char kubelet_cadvisor[] =
	"[{\"action\":\"drop\",\"regex\":\"container_(network_tcp_usage_total|network_udp_usage_total|task"
	"s_state|cpu_load_average_10s)\",\"sourceLabels\":[\"__name__\"]},{\"action\":\"drop\",\"regex\":\"(con"
	"tainer_spec_.*|container_file_descriptors|container_sockets|container_threads_max|containe"
	"r_threads|container_start_time_seconds|container_last_seen);;\",\"sourceLabels\":[\"__name__\","
	"\"pod\",\"namespace\"]},{\"action\":\"drop\",\"regex\":\"(container_blkio_device_usage_total);.+\",\"so"
	"urceLabels\":[\"__name__\",\"container\"]}]";

/* One deliberate difference: le="30" is kept. kube-prometheus's regex
 * drops it, but its own read burn-rate rules take the slow cluster-scope
 * reads from apiserver_request_sli_duration_seconds_bucket{le="30"}, so
 * KubeAPIErrorBudgetBurn could never fire (test_component_rules.sh);
 * kube-prometheus-stack removed 30 from the same regex (helm-charts #5516). */
static const char apiserver_metrics[] = KP_DEPRECATED_DROPS
	",{\"action\":\"drop\",\"regex\":\"etcd_(debugging|disk|server).*\",\"sourceLabels\":[\"__n"
	"ame__\"]},{\"action\":\"drop\",\"regex\":\"apiserver_admission_controller_admission_latenc"
	"ies_seconds_.*\",\"sourceLabels\":[\"__name__\"]},{\"action\":\"drop\",\"regex\":\"apiserv"
	"er_admission_step_admission_latencies_seconds_.*\",\"sourceLabels\":[\"__name__\"]},{\"act"
	"ion\":\"drop\",\"regex\":\"(apiserver_request|apiserver_request_sli|etcd_request)_duration"
	"_seconds_bucket;(0.15|0.25|0.3|0.35|0.4|0.45|0.6|0.7|0.8|0.9|1.25|1.5|1.75|2.5|3|3.5|4.5|6"
	"|7|8|9|15|25|50)\",\"sourceLabels\":[\"__name__\",\"le\"]},{\"action\":\"drop\",\"regex\":"
	"\"apiserver_request_body_size_bytes_bucket;(150000|350000|550000|650000|850000|950000|(1\\"
	"\\.15|1\\\\.35|1\\\\.55|1\\\\.65|1\\\\.85|1\\\\.95|2\\\\.15|2\\\\.35|2\\\\.55|2\\\\.65|2\\"
	"\\.85|2\\\\.95)e\\\\+06)\",\"sourceLabels\":[\"__name__\",\"le\"]}]";

static const char controller_manager_metrics[] = KP_DEPRECATED_DROPS
	",{\"action\":\"drop\",\"regex\":\"etcd_(debugging|disk|request|server).*\",\"sourceLabels\""
	":[\"__name__\"]}]";

static const char coredns_metrics[] =
	"[{\"action\":\"drop\",\"regex\":\"coredns_cache_misses_total\",\"sourceLabels\":[\"__name__\"]}]";

const char *comp_drop_list(enum comp_id id, const char *path)
{
	bool metrics = strcmp(path, "/metrics") == 0;

	switch (id) {
	case COMP_KUBELET:
		if (metrics)
			return kubelet_metrics;
		return strcmp(path, "/metrics/cadvisor") == 0 ? kubelet_cadvisor : NULL;
	case COMP_APISERVER:
		return metrics ? apiserver_metrics : NULL;
	case COMP_CONTROLLER_MANAGER:
		return metrics ? controller_manager_metrics : NULL;
	case COMP_COREDNS:
		return metrics ? coredns_metrics : NULL;
	default:
		return NULL;
	}
}

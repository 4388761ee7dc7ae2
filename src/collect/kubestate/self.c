/* kube_state_metrics_* self-metrics, printed from the caller's counters. */
#include "collect/kubestate/kubestate.h"

#include <stdio.h>

#include "expo/writer.h"

static int counter_family(struct buf *out, const char *name, const char *help,
			  const struct ks_self_counts *c, size_t n, bool watch)
{
	int rc = expo_family(out, name, help, EXPO_COUNTER);

	for (size_t i = 0; i < n && !rc; i++) {
		struct label_pair ok[2] = { { "resource", c[i].resource }, { "result", "success" } };
		struct label_pair err[2] = { { "resource", c[i].resource }, { "result", "error" } };
		rc = expo_sample(out, name, ok, 2,
				 (double)(watch ? c[i].watch_success : c[i].list_success));
		if (!rc)
			rc = expo_sample(out, name, err, 2,
					 (double)(watch ? c[i].watch_error : c[i].list_error));
	}
	return rc;
}

int ks_write_self(struct buf *out, const struct ks_self_counts *counts, size_t n,
		  unsigned shard_ordinal, unsigned total_shards)
{
	size_t mark = out->len;
	char ord[16];
	struct label_pair l = { "shard_ordinal", ord };
	int rc;

	snprintf(ord, sizeof(ord), "%u", shard_ordinal);
	rc = counter_family(out, "kube_state_metrics_list_total",
			    "Number of total resource list calls in kube-state-metrics", counts, n,
			    false);
	if (!rc)
		rc = counter_family(out, "kube_state_metrics_watch_total",
				    "Number of total resource watch calls in kube-state-metrics",
				    counts, n, true);
	if (!rc)
		rc = expo_family(out, "kube_state_metrics_shard_ordinal",
				 "Current sharding ordinal/index of this instance", EXPO_GAUGE);
	if (!rc)
		rc = expo_sample(out, "kube_state_metrics_shard_ordinal", &l, 1, shard_ordinal);
	if (!rc)
		rc = expo_family(out, "kube_state_metrics_total_shards",
				 "Number of total shards this instance is aware of", EXPO_GAUGE);
	if (!rc)
		rc = expo_sample(out, "kube_state_metrics_total_shards", NULL, 0, total_shards);
	if (rc)
		buf_truncate(out, mark);
	return rc;
}

int ks_write_store_metrics(struct buf *out, struct ks_store *s)
{
	size_t mark = out->len;
	int rc;

	if (!s)
		return 0;
	rc = expo_family(out, "k8smon_kube_state_store_bytes",
			 "Bytes held by the kube-state store's rendered objects (malloc'd size "
			 "requested, index excluded).",
			 EXPO_GAUGE);
	if (!rc)
		rc = expo_sample(out, "k8smon_kube_state_store_bytes", NULL, 0,
				 (double)ks_store_bytes(s));
	if (!rc)
		rc = expo_family(out, "k8smon_kube_state_store_objects",
				 "Objects in the kube-state store, per resource.", EXPO_GAUGE);
	for (int k = 0; k < KS_KIND_COUNT && !rc; k++) {
		struct label_pair l = { "resource", ks_kind_resource((enum ks_kind)k) };
		rc = expo_sample(out, "k8smon_kube_state_store_objects", &l, 1,
				 (double)ks_store_count(s, (enum ks_kind)k));
	}
	if (!rc) {
		struct ks_label_drops d;
		struct label_pair lv = { "reason", "value_length" }, lc = { "reason", "label_count" };

		ks_store_label_drops(s, &d);
		rc = expo_family(out, "k8smon_kube_state_labels_dropped_total",
				 "Allow-listed labels/annotations left out of kube_*_labels and kube_*_annotations series: value_length = value over 4096 bytes, label_count = past 64 pairs in one series.",
				 EXPO_COUNTER);
		if (!rc)
			rc = expo_sample(out, "k8smon_kube_state_labels_dropped_total", &lv, 1,
					 (double)d.value_length);
		if (!rc)
			rc = expo_sample(out, "k8smon_kube_state_labels_dropped_total", &lc, 1,
					 (double)d.label_count);
	}
	if (!rc) {
		struct ks_label_drops d;
		struct label_pair lq = { "reason", "bad_quantity" };

		ks_store_label_drops(s, &d);
		rc = expo_family(out, "k8smon_kube_state_values_skipped_total",
				 "Series left out because a field of the object did not parse: bad_quantity = a resource quantity that is not one (the API server never serves such an object).",
				 EXPO_COUNTER);
		if (!rc)
			rc = expo_sample(out, "k8smon_kube_state_values_skipped_total", &lq, 1,
					 (double)d.bad_quantity);
	}
	if (!rc)
		rc = expo_family(out, "k8smon_kube_state_render_errors_total",
				 "Objects that could not be rendered (over a size cap, out of memory); their previous rendering is served.",
				 EXPO_COUNTER);
	if (!rc)
		rc = expo_sample(out, "k8smon_kube_state_render_errors_total", NULL, 0,
				 (double)ks_store_render_errors(s));
	if (rc)
		buf_truncate(out, mark);
	return rc;
}

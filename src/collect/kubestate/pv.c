/* kube_persistentvolume_* (KSM internal/store/persistentvolume.go), without
 * the opt-in csi_attributes family. Reads spec.{capacity.storage,volumeMode,
 * accessModes,claimRef,storageClassName,persistentVolumeReclaimPolicy, the
 * volume source (gcePersistentDisk, awsElasticBlockStore, azureDisk, fc,
 * iscsi, nfs, csi, local, hostPath)}, status.phase. */
#include "collect/kubestate/ks_common.h"

#include <stdio.h>
#include <string.h>

#include "base/err.h"

static void phase(struct ks_render *r, const json_t *o)
{
	static const char *const phases[] = { "Pending", "Available", "Bound", "Released",
					      "Failed" };
	const char *ph = ks_str(o, "status.phase");

	if (!*ph)
		return;
	for (size_t i = 0; i < KS_NFAM(phases); i++)
		ks_emit(r, strcmp(ph, phases[i]) == 0, "phase", phases[i], NULL);
}

/* A missing capacity is a zero Quantity in KSM: the series is still 0. */
static void capacity(struct ks_render *r, const json_t *o)
{
	double v = 0;

	ks_render_value(r, ks_json_path(o, "spec.capacity.storage"), &v);
	ks_emit(r, v, NULL);
}

static void volume_mode(struct ks_render *r, const json_t *o)
{
	const char *m = json_string_value(ks_json_path(o, "spec.volumeMode"));

	ks_emit(r, 1, "volumemode", m ? m : "Filesystem", NULL);
}

static void access_mode(struct ks_render *r, const json_t *o)
{
	size_t i;
	json_t *m;

	json_array_foreach(ks_json_path(o, "spec.accessModes"), i, m)
		ks_emit(r, 1, "access_mode", json_string_value(m), NULL);
}

static void claim_ref(struct ks_render *r, const json_t *o)
{
	const json_t *c = ks_json_path(o, "spec.claimRef");

	if (json_is_object(c))
		ks_emit(r, 1, "name", ks_str(c, "name"), "claim_namespace", ks_str(c, "namespace"),
			NULL);
}

/* Joins the strings of array a with "," into b. */
static int join(struct buf *b, const json_t *a)
{
	size_t i;
	json_t *x;
	int rc = 0;

	json_array_foreach(a, i, x) {
		if (!rc && i)
			rc = buf_addc(b, ',');
		if (!rc)
			rc = buf_adds(b, json_string_value(x) ? json_string_value(x) : "");
	}
	return rc;
}

enum {
	I_SC, I_GCE, I_EBS, I_AZURE, I_FC_WWIDS, I_FC_LUN, I_FC_WWNS, I_ISCSI_PORTAL, I_ISCSI_IQN,
	I_ISCSI_LUN, I_ISCSI_INIT, I_NFS_SERVER, I_NFS_PATH, I_CSI_DRIVER, I_CSI_HANDLE,
	I_LOCAL_PATH, I_LOCAL_FS, I_HOST_PATH, I_HOST_PATH_TYPE, I_RECLAIM, I_N
};

/* One series; only the first volume source set (in KSM's switch order)
 * fills its labels, the others stay "". */
static void info(struct ks_render *r, const json_t *o)
{
	static const char *const keys[I_N] = {
		"storageclass", "gce_persistent_disk_name", "ebs_volume_id", "azure_disk_name",
		"fc_wwids", "fc_lun", "fc_target_wwns", "iscsi_target_portal", "iscsi_iqn",
		"iscsi_lun", "iscsi_initiator_name", "nfs_server", "nfs_path", "csi_driver",
		"csi_volume_handle", "local_path", "local_fs", "host_path", "host_path_type",
		"reclaim_policy",
	};
	const char *v[I_N];
	const json_t *spec = json_object_get(o, "spec"), *src;
	char fc_lun[24] = "", iscsi_lun[24] = "";
	struct buf wwids, wwns;

	for (int i = 0; i < I_N; i++)
		v[i] = "";
	buf_init(&wwids, 64u << 10);
	buf_init(&wwns, 64u << 10);
	v[I_SC] = ks_str(spec, "storageClassName");
	v[I_RECLAIM] = ks_str(spec, "persistentVolumeReclaimPolicy");
	if ((src = json_object_get(spec, "gcePersistentDisk"))) {
		v[I_GCE] = ks_str(src, "pdName");
	} else if ((src = json_object_get(spec, "awsElasticBlockStore"))) {
		v[I_EBS] = ks_str(src, "volumeID");
	} else if ((src = json_object_get(spec, "azureDisk"))) {
		v[I_AZURE] = ks_str(src, "diskName");
	} else if ((src = json_object_get(spec, "fc"))) {
		if (json_is_integer(json_object_get(src, "lun")))
			snprintf(fc_lun, sizeof(fc_lun), "%lld",
				 (long long)json_integer_value(json_object_get(src, "lun")));
		if ((join(&wwns, json_object_get(src, "targetWWNs")) ||
		     join(&wwids, json_object_get(src, "wwids"))) && !r->err)
			r->err = KM_ENOMEM;
		v[I_FC_LUN] = fc_lun;
		v[I_FC_WWNS] = buf_cstr(&wwns);
		v[I_FC_WWIDS] = buf_cstr(&wwids);
	} else if ((src = json_object_get(spec, "iscsi"))) {
		snprintf(iscsi_lun, sizeof(iscsi_lun), "%lld",
			 (long long)json_integer_value(json_object_get(src, "lun")));
		v[I_ISCSI_PORTAL] = ks_str(src, "targetPortal");
		v[I_ISCSI_IQN] = ks_str(src, "iqn");
		v[I_ISCSI_LUN] = iscsi_lun;
		v[I_ISCSI_INIT] = ks_str(src, "initiatorName");
	} else if ((src = json_object_get(spec, "nfs"))) {
		v[I_NFS_SERVER] = ks_str(src, "server");
		v[I_NFS_PATH] = ks_str(src, "path");
	} else if ((src = json_object_get(spec, "csi"))) {
		v[I_CSI_DRIVER] = ks_str(src, "driver");
		v[I_CSI_HANDLE] = ks_str(src, "volumeHandle");
	} else if ((src = json_object_get(spec, "local"))) {
		v[I_LOCAL_PATH] = ks_str(src, "path");
		v[I_LOCAL_FS] = ks_str(src, "fsType");
	} else if ((src = json_object_get(spec, "hostPath"))) {
		v[I_HOST_PATH] = ks_str(src, "path");
		v[I_HOST_PATH_TYPE] = ks_str(src, "type");
	}
	ks_emitv(r, 1, keys, v, I_N);
	buf_fini(&wwids);
	buf_fini(&wwns);
}

/* KSM generator order (persistentVolumeMetricFamilies). */
const struct ks_family ks_pv_families[] = {
	{ "kube_persistentvolume_claim_ref",
	  "[STABLE] Information about the Persistent Volume Claim Reference.", G, claim_ref },
	{ "kube_persistentvolume_annotations", KS_HELP_ANNOTATIONS, G, ks_emit_annotations },
	{ "kube_persistentvolume_labels", KS_HELP_LABELS, G, ks_emit_labels },
	{ "kube_persistentvolume_status_phase",
	  "[STABLE] The phase indicates if a volume is available, bound to a claim, or released "
	  "by a claim.",
	  G, phase },
	{ "kube_persistentvolume_info", "[STABLE] Information about persistentvolume.", G, info },
	{ "kube_persistentvolume_capacity_bytes", "[STABLE] Persistentvolume capacity in bytes.", G,
	  capacity },
	{ "kube_persistentvolume_created", KS_HELP_CREATED_ALPHA, G, ks_emit_created },
	{ "kube_persistentvolume_deletion_timestamp", KS_HELP_DELETION, G, ks_emit_deletion },
	{ "kube_persistentvolume_volume_mode", "Volume Mode information for the PersistentVolume.",
	  G, volume_mode },
	{ "kube_persistentvolume_access_mode",
	  "The access mode(s) specified by the persistent volume.", G, access_mode },
};
const size_t ks_pv_nfamilies = KS_NFAM(ks_pv_families);

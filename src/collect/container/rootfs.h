/* The host filesystems of the "/" row: container_fs_{usage,limit}_bytes,
 * container_fs_inodes_{free,total} and the /proc/diskstats families
 * (container_fs_{reads,writes}_total, _merged_total, _sector_*_total,
 * _{read,write}_seconds_total, _io_current, _io_time[_weighted]_seconds_total),
 * one set per filesystem, as cAdvisor v0.56's raw handler reports for the
 * root cgroup (fs.GetGlobalFsInfo):
 *
 *   mounts    <procfs>/1/mountinfo (the host's mount table), in order. Kept: the
 *             fs types cAdvisor has a plugin for (ext*, xfs, btrfs, zfs,
 *             squashfs, f2fs, jfs, reiserfs, hfs[plus], ntfs, [v]fat, msdos,
 *             exfat, udf, iso9660, tmpfs, overlay). The device label is the mount
 *             source (first mount of a source wins: bind mounts are skipped), the
 *             mount point for tmpfs (a later tmpfs on the same point replaces
 *             the earlier), "<source>_<major>-<minor>" for overlay.
 *   not kept  nfs (a statfs on a dead server hangs the scrape; cAdvisor keeps
 *             it), and mounts under the kubelet's and the runtimes' per-pod and
 *             per-container directories (/var/lib/kubelet/pods/, /run/containerd/,
 *             /var/lib/containerd/, /var/lib/docker/, /run/k3s/): cAdvisor lists
 *             the mounts present when the kubelet started, so those come and go
 *             with kubelet restarts; a scrape reflects the host's filesystems.
 *   values    statfs(<rootfs><mountpoint>): limit = f_blocks x f_frsize, usage =
 *             limit - f_bfree x f_frsize, inodes f_files / f_ffree.
 *             /proc/diskstats of the device named /dev/<name> when the name is
 *             sd*, vd*, xvd* or dm-N (cAdvisor's pattern; others, nvme included,
 *             count 0), else of the same major:minor; times are cAdvisor's
 *             milliseconds / 1e9 (sic).
 *
 * The walk is bounded (ROOTFS_MAX filesystems). */
#ifndef K8SMON_COLLECT_CONTAINER_ROOTFS_H
#define K8SMON_COLLECT_CONTAINER_ROOTFS_H

#include <stddef.h>
#include <stdint.h>

#include "collect/container/cgread.h"

#define ROOTFS_MAX 256
#define ROOTFS_DEV_MAX 256

/* /proc/diskstats columns after the name, in order. */
enum { DS_READS = 0, DS_READS_MERGED, DS_SECTORS_READ, DS_READ_MS, DS_WRITES, DS_WRITES_MERGED,
       DS_SECTORS_WRITTEN, DS_WRITE_MS, DS_IO_NOW, DS_IO_MS, DS_IO_WEIGHTED_MS, DS_COUNT };

struct rootfs_entry {
	char dev[ROOTFS_DEV_MAX];      /* the device label */
	char mnt[ROOTFS_DEV_MAX];      /* mount point (host view) */
	uint32_t major;
	uint32_t minor;
	uint64_t limit;
	uint64_t usage;
	uint64_t inodes;
	uint64_t inodes_free;
	uint64_t ds[DS_COUNT];
	enum { DSM_NONE = 0, DSM_NUMBER, DSM_NAME } ds_match;  /* which diskstats line */
};

struct rootfs {
	struct rootfs_entry *v;        /* owned, ROOTFS_MAX entries once allocated */
	size_t n;
};

void rootfs_init(struct rootfs *fs);
void rootfs_fini(struct rootfs *fs);
/* Fills fs from the mount table and statfs/diskstats (rootfs: the host's "/"
 * as seen here). A filesystem whose statfs fails is left out, as cAdvisor
 * does. Returns 0, KM_ENOMEM, or KM_EIO when no mount table can be read
 * (fs->n is then 0). */
int rootfs_read(struct rootfs *fs, struct cg_reader *r, const char *procfs, const char *rootfs);

#endif

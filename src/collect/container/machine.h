/* The machine_* families and cadvisor_version_info that the kubelet serves
 * on /metrics/cadvisor next to the container_* families, derived as cAdvisor's
 * machine info is (lib/machine):
 *
 *   labels       boot_id  <procfs>/sys/kernel/random/boot_id
 *                machine_id  <rootfs>/etc/machine-id, else /var/lib/dbus/machine-id
 *                system_uuid <sysfs>/class/dmi/id/product_uuid, else
 *                            <procfs>/device-tree/{system-id,vm,uuid}, else
 *                            <rootfs>/etc/machine-id (cAdvisor's s390x path,
 *                            which is what it ends up reading on a VM without DMI)
 *   machine_cpu_cores           "processor" entries of <procfs>/cpuinfo
 *   machine_cpu_physical_cores  distinct "core id" values of cpuinfo (as cAdvisor
 *                               counts them: not per socket)
 *   machine_cpu_sockets         distinct "physical id" values
 *   machine_cpu_books, _drawers 0 (s390x only)
 *   machine_memory_bytes        MemTotal, machine_swap_bytes SwapTotal (bytes)
 *   machine_nvm_*               0: the kubelet's cAdvisor is built without libipmctl
 *   machine_scrape_error        1 when cpuinfo or meminfo could not be read
 *
 * cadvisor_version_info carries kernelVersion (<procfs>/sys/kernel/osrelease)
 * and osVersion (PRETTY_NAME of <rootfs>/etc/os-release); the version,
 * revision and docker labels are empty, as in the kubelet. */
#ifndef K8SMON_COLLECT_CONTAINER_MACHINE_H
#define K8SMON_COLLECT_CONTAINER_MACHINE_H

#include "base/buf.h"
#include "collect/container/cgread.h"

struct machine_paths {
	const char *procfs;   /* borrowed */
	const char *sysfs;    /* borrowed */
	const char *rootfs;   /* borrowed; "/" on a host */
};

/* Appends cadvisor_version_info (sorts before container_*). */
int machine_write_version(struct buf *out, struct cg_reader *r, const struct machine_paths *p);
/* Appends the machine_* families (sort after container_*). Unreadable
 * files give 0 values and machine_scrape_error 1; returns 0 or the buffer's
 * error (KM_ETOOBIG / KM_ENOMEM). */
int machine_write(struct buf *out, struct cg_reader *r, const struct machine_paths *p);

#endif

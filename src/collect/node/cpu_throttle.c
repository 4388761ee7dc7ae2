/* Part of the cpu collector: node_cpu_package_throttles_total{package} and
 * node_cpu_core_throttles_total{package,core} from
 * <sysfs>/devices/system/cpu/cpu<N>/{topology,thermal_throttle}, as
 * node-exporter v1.12.1's cpu collector: a CPU without physical_package_id
 * or core_id is skipped; each package and each (package, core) is read from
 * the first of its CPUs whose counter file reads; nothing here fails the
 * collector (VMs have no thermal_throttle directory: no samples). */
#include "collect/node/node_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/vec.h"

struct thr_ent {
	uint64_t pkg, core;
	double count;
};

/* Most packages plus cores kept (bounded by the CPU count). */
#define THR_MAX (2 * NODE_CPU_MAX)

/* cpu/file, opened relative to dirfd (the open devices/system/cpu). */
static int read_u64(struct node_ctx *ctx, int dirfd, const char *cpu, const char *file,
		    uint64_t *v)
{
	char rel[128];
	const char *data;
	size_t len;
	double d;
	int rc;

	node_cat(rel, sizeof(rel),
		 (const struct node_span[]){ NS("devices/system/cpu/"), { cpu, strnlen(cpu, 32) },
					     NS("/"), NSS(file) },
		 4);
	rc = procfile_read_at(&ctx->nc->pf, dirfd, rel + sizeof("devices/system/cpu/") - 1,
			      ctx->sysfs, rel, &data, &len);
	if (!rc)
		rc = node_parse_numbers(data, len, &d, 1);
	if (!rc && d < 0)
		rc = KM_ERANGE;
	if (!rc)
		*v = (uint64_t)d;
	return rc;
}

static bool find(const struct thr_ent *e, size_t n, uint64_t pkg, uint64_t core)
{
	for (size_t i = 0; i < n; i++)
		if (e[i].pkg == pkg && e[i].core == core)
			return true;
	return false;
}

static int add(struct thr_ent **e, size_t *n, size_t *alloc, uint64_t pkg, uint64_t core,
	       uint64_t count)
{
	int rc = VEC_RESERVE(*e, *alloc, *n + 1, 16, THR_MAX);

	if (rc)
		return rc;
	(*e)[*n].pkg = pkg;
	(*e)[*n].core = core;
	(*e)[(*n)++].count = (double)count;
	return 0;
}

static int write_throttles(struct node_ctx *ctx, const struct thr_ent *pk, size_t npk,
			   const struct thr_ent *co, size_t nco)
{
	char ps[24], cs[24];
	int rc = 0;

	if (npk)
		rc = expo_family(ctx->out, "node_cpu_package_throttles_total",
				 "Number of times this CPU package has been throttled.", EXPO_COUNTER);
	for (size_t i = 0; !rc && i < npk; i++) {
		struct label_pair l = { "package", ps };

		node_fmt_u64(ps, sizeof(ps), pk[i].pkg);
		rc = expo_sample(ctx->out, "node_cpu_package_throttles_total", &l, 1, pk[i].count);
	}
	if (!rc && nco)
		rc = expo_family(ctx->out, "node_cpu_core_throttles_total",
				 "Number of times this CPU core has been throttled.", EXPO_COUNTER);
	for (size_t i = 0; !rc && i < nco; i++) {
		struct label_pair l[2] = { { "core", cs }, { "package", ps } };

		node_fmt_u64(ps, sizeof(ps), co[i].pkg);
		node_fmt_u64(cs, sizeof(cs), co[i].core);
		rc = expo_sample(ctx->out, "node_cpu_core_throttles_total", l, 2, co[i].count);
	}
	return rc;
}

/* True when this sysfs was seen without thermal_throttle on every online
 * CPU. Only x86's therm_throt.c creates the group: thermal_throttle_online()
 * adds it to each CPU that comes online, registered as a CPU hotplug state
 * by an initcall only when the boot CPU has the thermal monitor
 * (therm_throt_en, set at boot). So a sysfs where no online CPU (topology
 * readable) has it never gets it: VMs, AMD and non-x86 hosts, where the two
 * failed opens per CPU were ~3 us (0.2 ms a scrape on 64 CPUs). A copy of
 * sysfs (fixtures) is looked at every scrape. */
static bool throttle_known_absent(const struct node_collector *nc, const char *sysfs)
{
	return nc->thr_absent_sysfs && strcmp(nc->thr_absent_sysfs, sysfs) == 0;
}

static void throttle_note_absent(struct node_collector *nc, const char *sysfs)
{
	free(nc->thr_absent_sysfs);
	/* Without memory the files are simply looked for next time. */
	nc->thr_absent_sysfs = strdup(sysfs);
}

int node_cpu_throttle(struct node_ctx *ctx)
{
	struct thr_ent *pk = NULL, *co = NULL;
	size_t npk = 0, apk = 0, nco = 0, aco = 0;
	bool on_sysfs = false;
	size_t online = 0, absent = 0;
	struct dirent *de;
	DIR *d;
	int rc = 0;

	/* Nothing to list: the topology is read only to label counters. */
	if (throttle_known_absent(ctx->nc, ctx->sysfs))
		return 0;
	d = node_dir_open(ctx->nc, ctx->sysfs, "devices/system/cpu", &on_sysfs);
	if (!d)
		return errno == ENAMETOOLONG ? KM_EINVAL : 0;
	while ((de = readdir(d)) != NULL) {
		const char *cpu = de->d_name;
		uint64_t pkg, core, count;
		int fd = dirfd(d);

		if (strncmp(cpu, "cpu", 3) != 0 || cpu[3] < '0' || cpu[3] > '9')
			continue;
		if (read_u64(ctx, fd, cpu, "topology/physical_package_id", &pkg) ||
		    read_u64(ctx, fd, cpu, "topology/core_id", &core))
			continue;
		online++;
		if (!find(co, nco, pkg, core)) {
			int r = read_u64(ctx, fd, cpu, "thermal_throttle/core_throttle_count", &count);

			absent += r == KM_ENOENT;
			if (!r)
				rc = add(&co, &nco, &aco, pkg, core, count);
			if (rc)
				break;
		}
		if (!find(pk, npk, pkg, 0)) {
			int r = read_u64(ctx, fd, cpu, "thermal_throttle/package_throttle_count", &count);

			absent += r == KM_ENOENT;
			if (!r)
				rc = add(&pk, &npk, &apk, pkg, 0, count);
			if (rc)
				break;
		}
	}
	node_dir_close(ctx->nc, d);
	/* Every CPU read had both files missing (2 per online CPU). */
	if (!rc && on_sysfs && online > 0 && absent == 2 * online)
		throttle_note_absent(ctx->nc, ctx->sysfs);
	if (!rc)
		rc = write_throttles(ctx, pk, npk, co, nco);
	free(pk);
	free(co);
	return rc;
}

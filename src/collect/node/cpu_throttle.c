/* Part of the cpu collector: node_cpu_package_throttles_total{package} and
 * node_cpu_core_throttles_total{package,core} from
 * <sysfs>/devices/system/cpu/cpu<N>/{topology,thermal_throttle}, as
 * node-exporter v1.12.1's cpu collector: a CPU without physical_package_id
 * or core_id is skipped; each package and each (package, core) is read from
 * the first of its CPUs whose counter file reads; nothing here fails the
 * collector (VMs have no thermal_throttle directory: no samples). */
#include "collect/node/node_int.h"

#include <dirent.h>
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

int node_cpu_throttle(struct node_ctx *ctx)
{
	struct thr_ent *pk = NULL, *co = NULL;
	size_t npk = 0, apk = 0, nco = 0, aco = 0;
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int rc;

	rc = node_path_join(dir, sizeof(dir), ctx->sysfs, "devices/system/cpu");
	if (rc)
		return rc;
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		const char *cpu = de->d_name;
		uint64_t pkg, core, count;
		int fd = dirfd(d);

		if (strncmp(cpu, "cpu", 3) != 0 || cpu[3] < '0' || cpu[3] > '9')
			continue;
		if (read_u64(ctx, fd, cpu, "topology/physical_package_id", &pkg) ||
		    read_u64(ctx, fd, cpu, "topology/core_id", &core))
			continue;
		if (!find(co, nco, pkg, core) &&
		    !read_u64(ctx, fd, cpu, "thermal_throttle/core_throttle_count", &count)) {
			rc = add(&co, &nco, &aco, pkg, core, count);
			if (rc)
				break;
		}
		if (!find(pk, npk, pkg, 0) &&
		    !read_u64(ctx, fd, cpu, "thermal_throttle/package_throttle_count", &count)) {
			rc = add(&pk, &npk, &apk, pkg, 0, count);
			if (rc)
				break;
		}
	}
	closedir(d);
	if (!rc)
		rc = write_throttles(ctx, pk, npk, co, nco);
	free(pk);
	free(co);
	return rc;
}

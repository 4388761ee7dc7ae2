/* Container collector: walk, name, read, write. */
#include "collect/container/container.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/vec.h"
#include "collect/container/cgread.h"
#include "collect/container/cgroup.h"
#include "collect/container/crio.h"
#include "collect/container/family.h"
#include "collect/container/machine.h"
#include "collect/container/rootfs.h"

struct devname {
	uint32_t major;
	uint32_t minor;
	char dev[48];  /* "/dev/sda"; "" for devices cAdvisor does not name */
};

struct container_collector {
	pthread_mutex_t mu;      /* serialises scrapes */
	struct cg_walk walk;
	struct cg_reader rd;
	struct ctr_rows rows;
	bool *sandbox;           /* owned; per row: read the pod network */
	bool *gone;              /* owned; per row: vanished mid-scrape */
	size_t capflags;         /* entries in sandbox and gone */
	struct devname *devs;    /* owned; per-scrape maj:min cache */
	size_t ndevs;
	size_t capdevs;
	struct log_limit lim;    /* malformed-file warnings */
	struct log_limit lim_fd; /* refused fd listings */
	struct rootfs fs;        /* host filesystems of the "/" row */
	struct crio_fs *crio;    /* owned; CRI-O containers' layers, NULL until
				  * a scrape names a socket */
	bool crio_failed;        /* crio_fs_new() failed: not retried */
	uint64_t crio_errors;    /* the tracker's failures at the previous scrape */
};

struct container_collector *container_collector_new(void)
{
	struct container_collector *cc = calloc(1, sizeof(*cc));

	if (!cc)
		return NULL;
	if (pthread_mutex_init(&cc->mu, NULL) != 0) {
		free(cc);
		return NULL;
	}
	cg_walk_init(&cc->walk);
	cg_reader_init(&cc->rd);
	ctr_rows_init(&cc->rows);
	rootfs_init(&cc->fs);
	return cc;
}

void container_collector_free(struct container_collector *cc)
{
	if (!cc)
		return;
	cg_walk_fini(&cc->walk);
	cg_reader_fini(&cc->rd);
	ctr_rows_fini(&cc->rows);
	rootfs_fini(&cc->fs);
	crio_fs_free(cc->crio);
	free(cc->sandbox);
	free(cc->gone);
	free(cc->devs);
	pthread_mutex_destroy(&cc->mu);
	free(cc);
}

/* docker and CRI-O name containers k8s_<ctr>_<pod>_<ns>_<uid>_<attempt>. */
static int set_k8s_name(struct ctr_rows *rows, struct ctr_row *row, const char *ctr,
			const struct podmap_pod *p, uint32_t attempt)
{
	char name[640];

	if (snprintf(name, sizeof(name), "k8s_%s_%s_%s_%s_%u", ctr, p->name, p->ns, p->uid,
		     attempt) >= (int)sizeof(name))
		return ctr_row_set(rows, row, CL_NAME, "");
	return ctr_row_set(rows, row, CL_NAME, name);
}

/* Labels of a container row whose pod p is known. Sets *sandbox when the
 * container is not one the pod reports. */
static int label_pod_ctr(struct ctr_rows *rows, struct ctr_row *row, const struct cg_node *n,
			 const struct podmap_pod *p, const char *sandbox_image, bool *sandbox)
{
	const struct podmap_ctr *c = podmap_pod_ctr(p, n->cid);
	enum cg_runtime rt = n->rt != CG_RT_UNKNOWN ? n->rt : c ? c->rt : p->rt;
	bool k8s_name = rt == CG_RT_CRIO || rt == CG_RT_DOCKER;
	int err;

	row->crio = rt == CG_RT_CRIO;

	err = ctr_row_set(rows, row, CL_NAMESPACE, p->ns);
	if (!err)
		err = ctr_row_set(rows, row, CL_POD, p->name);
	if (err)
		return err;
	if (c) {
		err = ctr_row_set(rows, row, CL_CONTAINER, c->name);
		if (!err)
			err = ctr_row_set(rows, row, CL_IMAGE, c->image);
		if (!err)
			err = k8s_name ? set_k8s_name(rows, row, c->name, p, c->restarts)
				       : ctr_row_set(rows, row, CL_NAME, n->cid);
		return err;
	}
	*sandbox = true;
	err = ctr_row_set(rows, row, CL_CONTAINER, k8s_name ? "POD" : "");
	if (!err)
		err = ctr_row_set(rows, row, CL_IMAGE, sandbox_image);
	if (!err)
		err = k8s_name ? set_k8s_name(rows, row, "POD", p, 0)
			       : ctr_row_set(rows, row, CL_NAME, n->cid);
	return err;
}

/* Fills the labels of node n into a new row (pod map read-locked by caller). */
static int label_node(struct container_collector *cc, const struct cg_node *n,
		      const struct podmap *pm, const char *sandbox_image, bool *sandbox)
{
	struct ctr_row *row = ctr_rows_add(&cc->rows);
	const struct podmap_pod *p = NULL;
	int err;

	*sandbox = false;
	if (!row)
		return KM_ENOMEM;
	err = ctr_row_set(&cc->rows, row, CL_ID, cg_node_path(&cc->walk, n));
	if (err)
		return err;
	if (pm && (n->kind == CG_K_POD || n->kind == CG_K_CONTAINER))
		p = podmap_find_locked(pm, n->uid);
	if (n->kind == CG_K_POD && p) {
		err = ctr_row_set(&cc->rows, row, CL_NAMESPACE, p->ns);
		if (!err)
			err = ctr_row_set(&cc->rows, row, CL_POD, p->name);
	} else if (n->kind == CG_K_CONTAINER && p) {
		err = label_pod_ctr(&cc->rows, row, n, p, sandbox_image, sandbox);
	} else if (n->kind == CG_K_CONTAINER || n->kind == CG_K_HOSTCTR) {
		row->crio = n->rt == CG_RT_CRIO;
		err = ctr_row_set(&cc->rows, row, CL_NAME, n->cid);
	}
	return err;
}

static int label_all(struct container_collector *cc, struct podmap *pm, const char *sandbox_image)
{
	int err = KM_OK;

	if (cc->capflags < cc->walk.n) {
		bool *s = reallocarray(cc->sandbox, cc->walk.n, sizeof(*s));
		bool *g;

		if (!s)
			return KM_ENOMEM;
		cc->sandbox = s;
		g = reallocarray(cc->gone, cc->walk.n, sizeof(*g));
		if (!g)
			return KM_ENOMEM;
		cc->gone = g;
		cc->capflags = cc->walk.n;
	}
	if (pm)
		podmap_rdlock(pm);
	for (size_t i = 0; i < cc->walk.n && !err; i++)
		err = label_node(cc, &cc->walk.nodes[i], pm, sandbox_image, &cc->sandbox[i]);
	if (pm)
		podmap_unlock(pm);
	return err;
}

/* Result of reading a row's io file(s): only running out of memory fails the
 * scrape. A malformed (counted by the reader), oversized or unreadable file
 * drops this row's fs series, as a malformed stats file drops its families. */
static int read_io(struct container_collector *cc, int err, size_t ios0)
{
	if (!err || err == KM_ENOMEM)
		return err;
	if (err != KM_EPARSE)
		cc->rd.malformed++;
	cc->rd.nios = ios0;
	return KM_OK;
}

/* Reads row i's stats, network and io. KM_ENOENT when the cgroup is gone. */
static int read_row(struct container_collector *cc, const struct cg_layout *l,
		    const struct container_opts *o, size_t i, int64_t btime)
{
	const struct cg_node *n = &cc->walk.nodes[i];
	struct ctr_row *row = &cc->rows.v[i];
	const char *path = cg_node_path(&cc->walk, n);
	bool is_root = n->kind == CG_K_ROOT;
	int fds[CG_C_COUNT];
	int err = KM_OK;
	int procs_fd;
	uint64_t pid = 1;
	bool has_pid;
	size_t ios0 = cc->rd.nios;

	for (int c = 0; c < CG_C_COUNT; c++) {
		fds[c] = l->root[c] < 0 ? -1 : cg_open_dir(l->root[c], path);
		if (fds[c] < 0)
			fds[c] = -1;
	}
	procs_fd = l->mode == CG_V2 ? fds[CG_C_UNIFIED]
				    : fds[CG_C_CPU] >= 0 ? fds[CG_C_CPU] : fds[l->walk_ctrl];
	if (procs_fd < 0) {
		err = KM_ENOENT;
		goto out_close;
	}
	if (l->mode == CG_V2) {
		err = cgv2_read(&cc->rd, procs_fd, is_root, &row->st);
		if (!err)
			err = read_io(cc, cgv2_read_io(&cc->rd, procs_fd, (uint32_t)i), ios0);
		if (!err && is_root && cg_read_meminfo_swap(&cc->rd, o->procfs, &row->st.swap) == 0)
			row->st.have |= CGS_MEM_SWAP;
	} else {
		err = cgv1_read(&cc->rd, fds, &row->st);
		if (!err)
			err = read_io(cc, cgv1_read_io(&cc->rd, fds[CG_C_BLKIO], (uint32_t)i), ios0);
	}
	if (err)
		goto out_close;
	/* "/" too: cAdvisor's lowest mtime of the hierarchy root, floored at boot */
	cg_read_start(procs_fd, l->mode == CG_V2 ? "cgroup.events" : "cgroup.clone_children",
		      btime, &row->st);
	/* cAdvisor counts the processes of the cpu controller's cgroup.procs */
	(void)cg_read_procs(&cc->rd, l->mode != CG_V2 && fds[CG_C_CPU] >= 0 ? fds[CG_C_CPU] : procs_fd,
			    o->procfs, &row->st);
	/* A container's root process (the kubelet's cAdvisor knows its pid from
	 * the runtime; the first of cgroup.procs is the oldest, the init), or
	 * pid 1 for "/": its network (sandboxes only) and its ulimits. */
	has_pid = is_root;
	if (!is_root && (n->kind == CG_K_CONTAINER || n->kind == CG_K_HOSTCTR))
		has_pid = cg_first_pid(&cc->rd, procs_fd, &pid) == 0;
	if (has_pid)
		(void)cg_read_ulimit(&cc->rd, o->procfs, pid, &row->st);
	if (has_pid && (is_root || cc->sandbox[i])) {
		err = cg_read_netdev(&cc->rd, o->procfs, pid, (uint32_t)i);
		if (err == KM_ENOENT || err == KM_EPARSE || err == KM_EIO)
			err = KM_OK;  /* process exited or odd netns: no network rows */
	}
out_close:
	for (int c = 0; c < CG_C_COUNT; c++)
		if (fds[c] >= 0)
			close(fds[c]);
	return err;
}

/* Drops row i (a vanished cgroup) and everything it appended. */
static void drop_row(struct container_collector *cc, size_t i, size_t nets0, size_t ios0)
{
	cc->rd.nnets = nets0;
	cc->rd.nios = ios0;
	cc->rows.v[i].st.have = 0;
	cc->sandbox[i] = false;
}

static const struct devname *dev_lookup(struct container_collector *cc, const char *sysfs,
					uint32_t maj, uint32_t min)
{
	struct devname *d;
	char path[512];
	size_t len;
	const char *p;

	for (size_t i = 0; i < cc->ndevs; i++)
		if (cc->devs[i].major == maj && cc->devs[i].minor == min)
			return &cc->devs[i];
	/* Bounded by the block devices io.stat files name. */
	if (VEC_RESERVE(cc->devs, cc->capdevs, cc->ndevs + 1, 16, VEC_UNBOUNDED))
		return NULL;
	d = &cc->devs[cc->ndevs++];
	d->major = maj;
	d->minor = min;
	d->dev[0] = '\0';
	if (snprintf(path, sizeof(path), "%s/dev/block/%u:%u/uevent", sysfs, maj, min) >=
		    (int)sizeof(path) ||
	    cg_read_file(&cc->rd, AT_FDCWD, path, &len) != 0)
		return d;
	p = strstr(cc->rd.buf, "DEVNAME=");
	if (p) {
		size_t n;

		p += 8;
		n = strcspn(p, "\n");
		/* machine info excludes loop, ram and sr devices */
		if (n > 0 && n + 6 < sizeof(d->dev) && strncmp(p, "loop", 4) != 0 &&
		    strncmp(p, "ram", 3) != 0 && strncmp(p, "sr", 2) != 0)
			snprintf(d->dev, sizeof(d->dev), "/dev/%.*s", (int)n, p);
	}
	return d;
}

static void name_devices(struct container_collector *cc, const char *sysfs)
{
	cc->ndevs = 0;
	for (size_t i = 0; i < cc->rd.nios; i++) {
		struct cg_io *io = &cc->rd.ios[i];
		const struct devname *d = dev_lookup(cc, sysfs, io->major, io->minor);

		snprintf(io->dev, sizeof(io->dev), "%s", d ? d->dev : "");
	}
}

/* Compacts away dropped rows (have == 0 and not the root), remapping the
 * row indices of nets and ios. */
static void compact_rows(struct container_collector *cc, const bool *gone)
{
	size_t w = 0;

	for (size_t i = 0; i < cc->rows.n; i++) {
		if (gone[i])
			continue;
		for (size_t k = 0; k < cc->rd.nnets; k++)
			if (cc->rd.nets[k].row == i)
				cc->rd.nets[k].row = (uint32_t)w;
		for (size_t k = 0; k < cc->rd.nios; k++)
			if (cc->rd.ios[k].row == i)
				cc->rd.ios[k].row = (uint32_t)w;
		cc->rows.v[w++] = cc->rows.v[i];
	}
	cc->rows.n = w;
}

/* The CRI-O tracker for this scrape, created at the first scrape that names
 * a socket; NULL when there is none. */
static struct crio_fs *crio_tracker(struct container_collector *cc, const struct container_opts *o)
{
	if (!cc->crio && !cc->crio_failed && o->crio_socket && o->crio_socket[0]) {
		cc->crio = crio_fs_new(o->crio_socket, o->rootfs, 0);
		if (!cc->crio) {
			cc->crio_failed = true;
			log_warn("container", "out of memory for the CRI-O filesystem tracker: CRI-O "
				 "containers have no container_fs_* rows");
		}
	}
	return cc->crio;
}

/* Row i's writable-layer figures, for a CRI-O container: cAdvisor's CRI-O
 * handler returns a sandbox's stats before its filesystem ones when the
 * sandbox has no network interface (nets0: r->nnets before the row). */
static void read_crio(struct container_collector *cc, struct crio_fs *crio, size_t i, size_t nets0)
{
	struct ctr_row *row = &cc->rows.v[i];
	const struct cg_node *n = &cc->walk.nodes[i];

	if (!crio || !row->crio || (cc->sandbox[i] && cc->rd.nnets == nets0))
		return;
	row->has_cfs = crio_fs_get(crio, n->cid, &row->cfs);
}

/* Reads every row and removes those whose cgroup vanished. */
static int read_all(struct container_collector *cc, const struct cg_layout *l,
		    const struct container_opts *o)
{
	struct crio_fs *crio = crio_tracker(cc, o);
	bool *gone = cc->gone;
	int64_t btime = 0;
	size_t ngone = 0;

	(void)cg_read_btime(&cc->rd, o->procfs, &btime);
	if (crio)
		crio_fs_begin(crio);
	for (size_t i = 0; i < cc->rows.n; i++) {
		size_t nets0 = cc->rd.nnets;
		size_t ios0 = cc->rd.nios;
		int err = read_row(cc, l, o, i, btime);

		gone[i] = false;
		if (err == KM_ENOENT && i > 0) {
			drop_row(cc, i, nets0, ios0);
			gone[i] = true;
			ngone++;
		} else if (err && err != KM_ENOENT) {
			return err;
		} else {
			read_crio(cc, crio, i, nets0);
		}
	}
	if (crio)
		crio_fs_end(crio);
	if (ngone)
		compact_rows(cc, gone);
	return KM_OK;
}

/* The cgroup part: walk, label, read, write the container_* families. */
static int collect_cgroups(struct container_collector *cc, const struct container_opts *o,
			   struct buf *out, int64_t ts, bool *failed)
{
	struct cg_layout l;
	int err;

	if (cg_layout_open(&l, o->sysfs) != 0) {
		*failed = true;
		return ctr_write_families(out, &cc->rows, &cc->rd, NULL, ts, true);
	}
	err = cg_walk_run(&cc->walk, &l, o->podmap == NULL);
	if (err)
		goto out_close;
	cg_walk_sort(&cc->walk);
	err = label_all(cc, o->podmap, o->sandbox_image ? o->sandbox_image : "");
	if (err)
		goto out_close;
	err = read_all(cc, &l, o);
	if (err)
		goto out_close;
	name_devices(cc, o->sysfs);
	/* no mount table: the "/" row has no filesystem rows (not an error
	 * of the cgroup scrape) */
	err = rootfs_read(&cc->fs, &cc->rd, o->procfs, o->rootfs ? o->rootfs : "/");
	if (err == KM_ENOMEM)
		goto out_close;
	err = KM_OK;
	*failed = cc->rd.malformed > 0 || cc->walk.truncated;
	if (cc->rd.malformed)
		log_limited(&cc->lim, 60000, LOG_WARN, "container",
			    "%u malformed cgroup/proc files in the last scrape", cc->rd.malformed);
	/* Not a scrape error: the kubelet's cAdvisor also reports 0 for fd
	 * tables it cannot list; but say why the figures are 0. */
	if (cc->rd.denied)
		log_limited(&cc->lim_fd, 600000, LOG_WARN, "container",
			    "%u processes' /proc/<pid>/fd not readable (no CAP_SYS_PTRACE): "
			    "container_file_descriptors and container_sockets count 0 for them "
			    "(chart: processFdStats=true)", cc->rd.denied);
	err = ctr_write_families(out, &cc->rows, &cc->rd, &cc->fs, ts, *failed);
out_close:
	cg_layout_close(&l);
	return err;
}

static int collect_locked(struct container_collector *cc, const struct container_opts *o,
			  struct buf *out, bool *failed)
{
	struct machine_paths mp = { o->procfs, o->sysfs, o->rootfs ? o->rootfs : "/" };
	int64_t ts = o->now_ms ? o->now_ms : clock_wall_ms();
	int err;

	cg_reader_reset(&cc->rd);
	err = ctr_rows_reset(&cc->rows);
	if (!err)
		err = machine_write_version(out, &cc->rd, &mp);
	if (!err)
		err = collect_cgroups(cc, o, out, ts, failed);
	if (!err)
		err = machine_write(out, &cc->rd, &mp);
	return err;
}

int container_collect_settle(struct container_collector *cc, int64_t timeout_ms)
{
	struct crio_fs *crio;

	pthread_mutex_lock(&cc->mu);
	crio = cc->crio;
	pthread_mutex_unlock(&cc->mu);
	return crio ? crio_fs_settle(crio, timeout_ms) : KM_OK;
}

int container_collect(struct container_collector *cc, const struct container_opts *opts,
		      struct buf *out, struct collect_stats *stats)
{
	size_t len0 = out->len;
	int64_t t0 = clock_mono_ns();
	bool failed = false;
	int err;

	pthread_mutex_lock(&cc->mu);
	err = collect_locked(cc, opts, out, &failed);
	if (cc->crio && stats) {
		/* the CRI-O tracker's health: a failed "run" when it failed since
		 * the previous scrape; its duration: the last round (walk) */
		struct crio_fs_health h;

		crio_fs_health(cc->crio, &h);
		if (h.started) {
			collect_stats_record(stats, "container.crio", h.last_round_s, h.errors == cc->crio_errors);
			cc->crio_errors = h.errors;
		}
	}
	pthread_mutex_unlock(&cc->mu);
	if (err)
		buf_truncate(out, len0);
	if (stats)
		collect_stats_record(stats, "container", (double)(clock_mono_ns() - t0) / 1e9,
				     !err && !failed);
	return err;
}

/* Cgroup hierarchy detection and the bounded, symlink-free kubelet walk. */
#include "collect/container/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/err.h"
#include "base/vec.h"

#define CG_PATH_MAX 1024

/* Component-by-component fallback for kernels without openat2: every step is
 * O_NOFOLLOW|O_DIRECTORY, so a symlink anywhere fails the open. */
static int open_dir_steps(int dirfd, const char *rel)
{
	char comp[NAME_MAX + 1];
	int fd = dup(dirfd);
	const char *p = rel;

	if (fd < 0)
		return KM_EIO;
	while (*p) {
		const char *e;
		size_t n;
		int next;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		e = strchr(p, '/');
		n = e ? (size_t)(e - p) : strlen(p);
		if (n > NAME_MAX || (n == 2 && p[0] == '.' && p[1] == '.')) {
			close(fd);
			return KM_EINVAL;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			int err = km_from_errno(errno == ELOOP ? ENOENT : errno);

			close(fd);
			return err;
		}
		close(fd);
		fd = next;
		p += n;
	}
	return fd;
}

int cg_open_dir(int dirfd, const char *rel)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	const char *p = rel;
	long fd;

	while (*p == '/')
		p++;
	if (!*p)
		p = ".";
	fd = syscall(SYS_openat2, dirfd, p, &how, sizeof(how));
	if (fd >= 0)
		return (int)fd;
	if (errno == ENOSYS || errno == EPERM)  /* old kernel or seccomp */
		return open_dir_steps(dirfd, rel);
	if (errno == ELOOP || errno == EXDEV)
		return KM_ENOENT;               /* a symlink: treat as absent */
	return km_from_errno(errno);
}

const char *cg_mode_name(enum cg_mode mode)
{
	switch (mode) {
	case CG_V1:
		return "v1";
	case CG_V2:
		return "v2";
	case CG_HYBRID:
		return "hybrid";
	default:
		return "none";
	}
}

static bool file_exists_at(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

/* Opens the first of the candidate names that is a directory. At the mount
 * root, distributions link cpu -> cpu,cpuacct, so symlinks are allowed here
 * (and only here). */
static int open_ctrl(int top, const char *const *names)
{
	for (; *names; names++) {
		int fd = openat(top, *names, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd >= 0)
			return fd;
	}
	return -1;
}

void cg_layout_close(struct cg_layout *l)
{
	for (int i = 0; i < CG_C_COUNT; i++) {
		if (l->root[i] >= 0)
			close(l->root[i]);
		l->root[i] = -1;
	}
	l->mode = CG_NONE;
}

int cg_layout_open(struct cg_layout *l, const char *sysfs)
{
	static const char *const cpu[] = { "cpu,cpuacct", "cpu", "cpuacct,cpu", NULL };
	static const char *const cpuacct[] = { "cpu,cpuacct", "cpuacct", "cpuacct,cpu", NULL };
	static const char *const memory[] = { "memory", NULL };
	static const char *const blkio[] = { "blkio", NULL };
	static const char *const pids[] = { "pids", NULL };
	static const char *const *const names[CG_C_COUNT] = { cpu, cpuacct, memory, blkio, pids };
	char path[PATH_MAX];
	int top;
	int err = KM_OK;

	for (int i = 0; i < CG_C_COUNT; i++)
		l->root[i] = -1;
	l->mode = CG_NONE;
	l->walk_ctrl = CG_C_UNIFIED;
	if (snprintf(path, sizeof(path), "%s/fs/cgroup", sysfs) >= (int)sizeof(path))
		return KM_EINVAL;
	top = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (top < 0)
		return km_from_errno(errno);
	if (file_exists_at(top, "cgroup.controllers")) {
		l->mode = CG_V2;
		l->root[CG_C_UNIFIED] = top;
		return KM_OK;
	}
	for (int i = 0; i < CG_C_COUNT; i++)
		l->root[i] = open_ctrl(top, names[i]);
	if (l->root[CG_C_MEMORY] >= 0)
		l->walk_ctrl = CG_C_MEMORY;
	else if (l->root[CG_C_CPU] >= 0)
		l->walk_ctrl = CG_C_CPU;
	else if (l->root[CG_C_CPUACCT] >= 0)
		l->walk_ctrl = CG_C_CPUACCT;
	else {
		err = KM_ENOENT;
		goto out_close_top;
	}
	l->mode = file_exists_at(top, "unified/cgroup.controllers") ? CG_HYBRID : CG_V1;
out_close_top:
	close(top);
	if (err)
		cg_layout_close(l);
	return err;
}

/* ---- name classification ---- */

static bool ends_with(const char *s, size_t n, const char *suf)
{
	size_t m = strlen(suf);

	return n >= m && memcmp(s + n - m, suf, m) == 0;
}

static bool is_hex_uid(const char *s, size_t n, char sep)
{
	if (n == 0 || n >= CG_UID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		      (c >= 'A' && c <= 'F') || c == sep))
			return false;
	}
	return true;
}

bool cg_name_pod_uid(const char *name, char uid[CG_UID_MAX])
{
	size_t n = strlen(name);
	const char *u;
	size_t un;

	if (strncmp(name, "kubepods", 8) == 0 && ends_with(name, n, ".slice")) {
		const char *last = NULL;

		for (const char *p = strstr(name, "-pod"); p; p = strstr(p + 1, "-pod"))
			last = p;
		if (!last)
			return false;
		u = last + 4;
		un = (size_t)(name + n - 6 - u);
		if (!is_hex_uid(u, un, '_'))
			return false;
		for (size_t i = 0; i < un; i++)
			uid[i] = u[i] == '_' ? '-' : u[i];
		uid[un] = '\0';
		return true;
	}
	if (strncmp(name, "pod", 3) == 0) {
		u = name + 3;
		un = n - 3;
		if (!is_hex_uid(u, un, '-'))
			return false;
		memcpy(uid, u, un);
		uid[un] = '\0';
		return true;
	}
	return false;
}

static bool is_cid(const char *s, size_t n)
{
	if (n == 0 || n >= CG_CID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			return false;
	}
	return true;
}

bool cg_name_container(const char *name, char cid[CG_CID_MAX], enum cg_runtime *rt)
{
	static const struct {
		const char *prefix;
		enum cg_runtime rt;
	} pre[] = {
		{ "cri-containerd-", CG_RT_CONTAINERD },
		{ "crio-conmon-", CG_RT_UNKNOWN },   /* conmon monitor: not a container */
		{ "crio-", CG_RT_CRIO },
		{ "docker-", CG_RT_DOCKER },
		{ "libpod-conmon-", CG_RT_UNKNOWN },
		{ "libpod-", CG_RT_PODMAN },
	};
	size_t n = strlen(name);

	if (ends_with(name, n, ".mount"))
		return false;
	for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
		size_t pn = strlen(pre[i].prefix);
		const char *id = name + pn;
		size_t idn;

		if (strncmp(name, pre[i].prefix, pn) != 0)
			continue;
		if (pre[i].rt == CG_RT_UNKNOWN)
			return false;
		idn = n - pn;
		if (ends_with(id, idn, ".scope"))
			idn -= 6;
		if (!is_cid(id, idn))
			return false;
		memcpy(cid, id, idn);
		cid[idn] = '\0';
		*rt = pre[i].rt;
		return true;
	}
	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'z')))
			return false;
	memcpy(cid, name, n + 1);
	*rt = CG_RT_UNKNOWN;
	return true;
}

static bool is_qos_name(const char *name)
{
	return strcmp(name, "burstable") == 0 || strcmp(name, "besteffort") == 0 ||
	       strcmp(name, "kubepods-burstable.slice") == 0 ||
	       strcmp(name, "kubepods-besteffort.slice") == 0;
}

/* ---- walk ---- */

void cg_walk_init(struct cg_walk *w)
{
	memset(w, 0, sizeof(*w));
	buf_init(&w->paths, (size_t)CG_MAX_NODES * CG_PATH_MAX);
}

void cg_walk_fini(struct cg_walk *w)
{
	for (int i = 0; i < CG_MAX_DEPTH; i++)
		free(w->dents[i]);
	free(w->nodes);
	buf_fini(&w->paths);
	memset(w, 0, sizeof(*w));
}

const char *cg_node_path(const struct cg_walk *w, const struct cg_node *n)
{
	return w->paths.data + n->path;
}

static bool node_less(const struct cg_walk *w, const struct cg_node *a, const struct cg_node *b)
{
	return strcmp(cg_node_path(w, a), cg_node_path(w, b)) < 0;
}

static void sift_down(struct cg_walk *w, struct cg_node *v, size_t i, size_t n)
{
	for (;;) {
		size_t big = i;
		size_t l = 2 * i + 1;
		struct cg_node t;

		if (l < n && node_less(w, &v[big], &v[l]))
			big = l;
		if (l + 1 < n && node_less(w, &v[big], &v[l + 1]))
			big = l + 1;
		if (big == i)
			return;
		t = v[i];
		v[i] = v[big];
		v[big] = t;
		i = big;
	}
}

/* Heapsort: in place, O(n log n), no allocation. Paths are unique, so
 * stability does not matter. */
void cg_walk_sort(struct cg_walk *w)
{
	struct cg_node *v = w->nodes + 1;
	size_t n = w->n > 1 ? w->n - 1 : 0;

	for (size_t i = n / 2; i-- > 0;)
		sift_down(w, v, i, n);
	for (size_t end = n; end > 1; end--) {
		struct cg_node t = v[0];

		v[0] = v[end - 1];
		v[end - 1] = t;
		sift_down(w, v, 0, end - 1);
	}
}

/* Appends a node; returns it, or NULL on allocation failure / cap. */
static struct cg_node *add_node(struct cg_walk *w, const char *path, enum cg_kind kind)
{
	struct cg_node *n;
	size_t off = w->paths.len;

	if (w->n >= CG_MAX_NODES) {
		w->truncated = true;
		return NULL;
	}
	if (VEC_RESERVE(w->nodes, w->cap, w->n + 1, 64, CG_MAX_NODES))
		return NULL;
	if (buf_add(&w->paths, path, strlen(path) + 1) != 0)
		return NULL;
	n = &w->nodes[w->n++];
	memset(n, 0, sizeof(*n));
	n->path = (uint32_t)off;
	n->kind = kind;
	return n;
}

struct walk_ctx {
	struct cg_walk *w;
	int err;             /* first fatal error (KM_ENOMEM) */
};

/* What a child of a directory of kind parent is, given its name; false to skip. */
static bool classify_child(enum cg_kind parent, const char *name, struct cg_node *tmp)
{
	switch (parent) {
	case CG_K_KUBEPODS:
		if (cg_name_pod_uid(name, tmp->uid)) {
			tmp->kind = CG_K_POD;
			return true;
		}
		if (is_qos_name(name)) {
			tmp->kind = CG_K_QOS;
			return true;
		}
		return false;
	case CG_K_QOS:
		tmp->kind = CG_K_POD;
		return cg_name_pod_uid(name, tmp->uid);
	case CG_K_POD:
		tmp->kind = CG_K_CONTAINER;
		if (cg_name_container(name, tmp->cid, &tmp->rt))
			return true;
		/* cAdvisor's raw factory takes every cgroup under the kubelet's
		 * root that no runtime claims, except systemd's .mount units */
		tmp->kind = CG_K_RAW;
		return !ends_with(name, strlen(name), ".mount");
	case CG_K_ROOT:  /* host runtime parents: children are containers */
		tmp->kind = CG_K_HOSTCTR;
		return cg_name_container(name, tmp->cid, &tmp->rt);
	default:
		return false;
	}
}

static void walk_dir(struct walk_ctx *c, int dirfd, const char *path, enum cg_kind parent,
		     const char *uid, int depth, enum cg_runtime host_rt);

/* Adds the child name of dirfd (the cgroup at path, of kind parent) if it
 * is a cgroup the walk keeps, recursing into pod and QoS levels. */
static void walk_child(struct walk_ctx *c, int dirfd, const char *path, enum cg_kind parent,
		       const char *uid, int depth, enum cg_runtime host_rt, const char *name,
		       unsigned char type)
{
	struct cg_node tmp = { 0 };
	struct cg_node *n;
	char child[CG_PATH_MAX];
	int fd = -1;

	if (type != DT_DIR && type != DT_UNKNOWN)
		return;  /* files and symlinks */
	if (name[0] == '.')
		return;
	if (!classify_child(parent, name, &tmp))
		return;
	if (snprintf(child, sizeof(child), "%s/%s", strcmp(path, "/") == 0 ? "" : path, name) >=
	    (int)sizeof(child))
		return;
	if (tmp.kind == CG_K_POD || tmp.kind == CG_K_QOS) {
		if (depth + 1 >= CG_MAX_DEPTH) {
			c->w->truncated = true;
			return;
		}
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return;  /* vanished, or a symlink */
	} else if (type == DT_UNKNOWN) {
		struct stat st;

		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
			return;
	}
	n = add_node(c->w, child, tmp.kind);
	if (!n) {
		if (!c->w->truncated)
			c->err = KM_ENOMEM;
		if (fd >= 0)
			close(fd);
		return;
	}
	snprintf(n->uid, sizeof(n->uid), "%s", tmp.kind == CG_K_POD ? tmp.uid : uid);
	memcpy(n->cid, tmp.cid, CG_CID_MAX);
	n->rt = tmp.rt != CG_RT_UNKNOWN ? tmp.rt : host_rt;
	if (fd >= 0)
		walk_dir(c, fd, child, tmp.kind, tmp.kind == CG_K_POD ? tmp.uid : "", depth + 1,
			 CG_RT_UNKNOWN);
}

/* Lists dirfd (the cgroup at path, of kind parent) with getdents64() into
 * the walk's buffer of this depth and adds the children it recognises.
 * Consumes dirfd. */
static void walk_dir(struct walk_ctx *c, int dirfd, const char *path, enum cg_kind parent,
		     const char *uid, int depth, enum cg_runtime host_rt)
{
	char *b = c->w->dents[depth];

	if (!b) {
		b = malloc(CG_DENTS_BUF);
		if (!b) {
			c->err = KM_ENOMEM;
			goto out_close;
		}
		c->w->dents[depth] = b;
	}
	while (!c->err) {
		ssize_t got = getdents64(dirfd, b, CG_DENTS_BUF);

		if (got <= 0)
			break;  /* end, or the directory vanished */
		for (ssize_t off = 0; off < got && !c->err;) {
			const struct dirent64 *de = (const struct dirent64 *)(b + off);

			off += de->d_reclen;
			walk_child(c, dirfd, path, parent, uid, depth, host_rt, de->d_name,
				   de->d_type);
		}
	}
out_close:
	close(dirfd);
}

/* Walks one top-level directory of the walk root if it exists. */
static void walk_top(struct walk_ctx *c, int rootfd, const char *name, enum cg_kind kind,
		     enum cg_runtime host_rt)
{
	char path[CG_PATH_MAX];
	int fd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return;
	if (snprintf(path, sizeof(path), "/%s", name) >= (int)sizeof(path)) {
		close(fd);
		return;
	}
	if (kind == CG_K_KUBEPODS && !add_node(c->w, path, kind)) {
		if (!c->w->truncated)
			c->err = KM_ENOMEM;
		close(fd);
		return;
	}
	/* Children of a host runtime parent are classified like ROOT children. */
	walk_dir(c, fd, path, kind == CG_K_KUBEPODS ? CG_K_KUBEPODS : CG_K_ROOT, "", 1, host_rt);
}

int cg_walk_run(struct cg_walk *w, const struct cg_layout *l, bool host)
{
	static const struct {
		const char *name;
		enum cg_runtime rt;  /* runtime of plain-ID children */
	} host_tops[] = {
		{ "docker", CG_RT_DOCKER },          /* docker, cgroupfs driver */
		{ "system.slice", CG_RT_UNKNOWN },   /* docker-/cri-containerd-/crio-<id>.scope */
		{ "machine.slice", CG_RT_UNKNOWN },  /* podman libpod-<id>.scope */
		{ "default", CG_RT_CONTAINERD },     /* containerd namespaces, cgroupfs */
		{ "k8s.io", CG_RT_CONTAINERD },
		{ "moby", CG_RT_DOCKER },
	};
	struct walk_ctx c = { .w = w, .err = KM_OK };
	int rootfd = l->root[l->walk_ctrl];

	w->n = 0;
	w->truncated = false;
	buf_reset(&w->paths);
	if (rootfd < 0)
		return KM_EIO;
	if (!add_node(w, "/", CG_K_ROOT))
		return KM_ENOMEM;
	walk_top(&c, rootfd, "kubepods.slice", CG_K_KUBEPODS, CG_RT_UNKNOWN);
	walk_top(&c, rootfd, "kubepods", CG_K_KUBEPODS, CG_RT_UNKNOWN);
	if (host)
		for (size_t i = 0; i < sizeof(host_tops) / sizeof(host_tops[0]); i++)
			walk_top(&c, rootfd, host_tops[i].name, CG_K_HOSTCTR, host_tops[i].rt);
	return c.err;
}

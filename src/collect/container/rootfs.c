/* Host filesystems of the "/" row (see rootfs.h). */
#include "collect/container/rootfs.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "base/err.h"
#include "base/parse.h"

void rootfs_init(struct rootfs *fs)
{
	memset(fs, 0, sizeof(*fs));
}

void rootfs_fini(struct rootfs *fs)
{
	free(fs->v);
	memset(fs, 0, sizeof(*fs));
}

/* cAdvisor's vfs plugin types besides ext* (btrfs and zfs have plugins of
 * their own there; statfs gives what those report for a plain mount). */
static const char *const vfs_types[] = {
	"xfs", "btrfs", "zfs", "squashfs", "f2fs", "jfs", "reiserfs", "hfs", "hfsplus",
	"ntfs", "vfat", "fat", "msdos", "exfat", "udf", "iso9660",
};

/* Per-pod and per-container mounts of the kubelet and the runtimes. */
static const char *const transient_prefixes[] = {
	"/var/lib/kubelet/pods/", "/run/containerd/", "/var/lib/containerd/",
	"/var/lib/docker/", "/run/k3s/",
};

static bool vfs_type(const char *t)
{
	if (strncmp(t, "ext", 3) == 0)
		return true;
	for (size_t i = 0; i < sizeof(vfs_types) / sizeof(vfs_types[0]); i++)
		if (strcmp(t, vfs_types[i]) == 0)
			return true;
	return false;
}

static bool transient_mount(const char *mnt)
{
	for (size_t i = 0; i < sizeof(transient_prefixes) / sizeof(transient_prefixes[0]); i++)
		if (strncmp(mnt, transient_prefixes[i], strlen(transient_prefixes[i])) == 0)
			return true;
	return false;
}

/* Copies field f (n bytes) to out with mountinfo's \NNN octal escapes
 * undone. False when it does not fit. */
static bool unescape(const char *f, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = f[i];

		if (c == '\\' && i + 3 < n && f[i + 1] >= '0' && f[i + 1] <= '3' && f[i + 2] >= '0' && f[i + 2] <= '7' &&
		    f[i + 3] >= '0' && f[i + 3] <= '7') {
			c = (char)((f[i + 1] - '0') * 64 + (f[i + 2] - '0') * 8 + (f[i + 3] - '0'));
			i += 3;
		}
		if (o + 1 >= cap)
			return false;
		out[o++] = c;
	}
	out[o] = '\0';
	return true;
}

static struct rootfs_entry *find(struct rootfs *fs, const char *dev)
{
	for (size_t i = 0; i < fs->n; i++)
		if (strcmp(fs->v[i].dev, dev) == 0)
			return &fs->v[i];
	return NULL;
}

/* One mountinfo line [p, le): adds or replaces its filesystem. */
static void add_mount(struct rootfs *fs, const char *p, const char *le)
{
	const char *f[6];
	size_t fn[6];
	const char *x;
	size_t xn;
	char mnt[ROOTFS_DEV_MAX];
	char src[ROOTFS_DEV_MAX];
	char type[64];
	char key[ROOTFS_DEV_MAX];
	uint32_t maj;
	uint32_t min;
	struct rootfs_entry *e;
	int i = 0;

	/* id parent maj:min root mountpoint opts [optional...] - type source super */
	while (i < 6 && parse_field(&p, le, &f[i], &fn[i]))
		i++;
	if (i < 6)
		return;
	do {
		if (!parse_field(&p, le, &x, &xn))
			return;
	} while (!(xn == 1 && x[0] == '-'));
	if (!parse_field(&p, le, &f[0], &fn[0]) || !parse_field(&p, le, &f[1], &fn[1]) ||
	    fn[0] >= sizeof(type) || !unescape(f[4], fn[4], mnt, sizeof(mnt)) ||
	    !unescape(f[1], fn[1], src, sizeof(src)))
		return;
	memcpy(type, f[0], fn[0]);
	type[fn[0]] = '\0';
	if (cg_parse_majmin(f[2], fn[2], &maj, &min) != 0 || transient_mount(mnt))
		return;
	if (strcmp(type, "tmpfs") == 0) {
		snprintf(key, sizeof(key), "%s", mnt);
	} else if (strcmp(type, "overlay") == 0) {
		if (snprintf(key, sizeof(key), "%s_%u-%u", src, maj, min) >= (int)sizeof(key))
			return;
	} else if (vfs_type(type)) {
		snprintf(key, sizeof(key), "%s", src);
	} else {
		return;
	}
	/* a source seen before is a bind mount, except for tmpfs */
	if (strcmp(type, "tmpfs") != 0 && find(fs, src))
		return;
	e = find(fs, key);
	if (!e) {
		if (fs->n >= ROOTFS_MAX)
			return;
		e = &fs->v[fs->n++];
	}
	memset(e, 0, sizeof(*e));
	snprintf(e->dev, sizeof(e->dev), "%s", key);
	snprintf(e->mnt, sizeof(e->mnt), "%s", mnt);
	e->major = maj;
	e->minor = min;
}

/* cAdvisor's ^(?:(?:s|v|xv)d[a-z]+\d*|dm-\d+)$ */
static bool disk_name(const char *s, size_t n)
{
	size_t i = 0;

	if (n > 3 && memcmp(s, "dm-", 3) == 0) {
		for (i = 3; i < n; i++)
			if (!isdigit((unsigned char)s[i]))
				return false;
		return true;
	}
	if (n > 2 && memcmp(s, "xvd", 3) == 0)
		i = 3;
	else if (n > 1 && (s[0] == 's' || s[0] == 'v') && s[1] == 'd')
		i = 2;
	else
		return false;
	if (i >= n || !islower((unsigned char)s[i]))
		return false;
	while (i < n && islower((unsigned char)s[i]))
		i++;
	while (i < n && isdigit((unsigned char)s[i]))
		i++;
	return i == n;
}

/* Fills the diskstats of every entry from <procfs>/diskstats in r->buf. */
static void read_diskstats(struct rootfs *fs, const char *data, size_t len)
{
	const char *p = data;
	const char *end = data + len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end;
		const char *f;
		size_t fn;
		const char *name;
		size_t namen;
		uint64_t maj;
		uint64_t min;
		uint64_t v[DS_COUNT];
		int k = 0;

		if (parse_field(&p, le, &f, &fn) && parse_u64(f, fn, &maj) == 0 &&
		    parse_field(&p, le, &f, &fn) && parse_u64(f, fn, &min) == 0 &&
		    parse_field(&p, le, &name, &namen) && disk_name(name, namen)) {
			while (k < DS_COUNT && parse_field(&p, le, &f, &fn) && parse_u64(f, fn, &v[k]) == 0)
				k++;
		}
		for (size_t i = 0; k == DS_COUNT && i < fs->n; i++) {
			struct rootfs_entry *e = &fs->v[i];
			bool by_name = strncmp(e->dev, "/dev/", 5) == 0 && strlen(e->dev + 5) == namen &&
				       memcmp(e->dev + 5, name, namen) == 0;

			/* cAdvisor: the line of the device's name, else one of
			 * the same major:minor */
			if (by_name || (e->ds_match == DSM_NONE && e->major == maj && e->minor == min)) {
				memcpy(e->ds, v, sizeof(v));
				e->ds_match = by_name ? DSM_NAME : DSM_NUMBER;
			}
		}
		p = eol ? eol + 1 : end;
	}
}

int rootfs_read(struct rootfs *fs, struct cg_reader *r, const char *procfs, const char *rootfs)
{
	char path[512];
	size_t len;
	const char *p;
	const char *end;
	size_t w = 0;
	bool slash = strcmp(rootfs, "/") == 0;

	fs->n = 0;
	if (!fs->v) {
		fs->v = calloc(ROOTFS_MAX, sizeof(*fs->v));
		if (!fs->v)
			return KM_ENOMEM;
	}
	if (snprintf(path, sizeof(path), "%s/1/mountinfo", procfs) >= (int)sizeof(path) ||
	    cg_read_file(r, AT_FDCWD, path, &len) != 0)
		return KM_EIO;
	p = r->buf;
	end = r->buf + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		add_mount(fs, p, eol ? eol : end);
		p = eol ? eol + 1 : end;
	}
	for (size_t i = 0; i < fs->n; i++) {
		struct rootfs_entry *e = &fs->v[i];
		struct statvfs sv;

		if (snprintf(path, sizeof(path), "%s%s", slash ? "" : rootfs, e->mnt) >=
			    (int)sizeof(path) ||
		    statvfs(path, &sv) != 0)
			continue;  /* left out, as cAdvisor does on a failed statfs */
		e->limit = (uint64_t)sv.f_blocks * sv.f_frsize;
		e->usage = e->limit - (uint64_t)sv.f_bfree * sv.f_frsize;
		e->inodes = sv.f_files;
		e->inodes_free = sv.f_ffree;
		if (w != i)
			fs->v[w] = *e;
		w++;
	}
	fs->n = w;
	if (snprintf(path, sizeof(path), "%s/diskstats", procfs) < (int)sizeof(path) &&
	    cg_read_file(r, AT_FDCWD, path, &len) == 0)
		read_diskstats(fs, r->buf, len);
	return KM_OK;
}

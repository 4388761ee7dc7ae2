/* filesystem: node_filesystem_* from the mount table and statfs().
 *
 * Mounts come from <procfs>/1/mountinfo (the host's when the agent runs with
 * hostPID), falling back to <procfs>/self/mountinfo. The mountpoint label is
 * the mountinfo path with the rootfs prefix stripped (node_strip_rootfs), the
 * exclude filters run on that stripped path, and statfs() is called on
 * rootfs + stripped path, exactly as node-exporter does with --path.rootfs.
 * Labels follow upstream >= v1.8 (device, device_error, fstype, mountpoint);
 * node_filesystem_mount_info (>= v1.9) is exported too. When statfs fails,
 * only device_error (1, with the error text as label) and readonly are
 * exported for that mount (>= v1.7 behaviour; mount_info left out too, as
 * v1.12 does).
 *
 * A statfs() that hangs (dead NFS server, hung FUSE daemon) is waited for
 * at most ctx->mount_timeout_ms (node_exporter's mount-timeout, 5 s): the
 * mount is then reported with device_error "mountpoint timeout" (value 1,
 * readonly 0, as node_exporter reports a stuck mount), logged, and skipped
 * without a new statfs() until the blocked call returns (statfs_timed.c). */
#include "collect/node/node_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>

#include "base/err.h"

#define MI_MIN_FIELDS 10

struct fs_row {
	const char *dev, *fstype, *mp, *maj, *min;
	char err[64];            /* "" or the statfs error text */
	bool ro;
	double size, free, avail, files, files_free;
};

/* Undoes the kernel's octal escapes of space, tab, newline and backslash in place. */
static void unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
			continue;
		}
		*w++ = *r;
	}
	*w = '\0';
}

/* True if the comma-separated option list opts contains "ro" or "emergency_ro". */
static bool has_ro(const char *opts)
{
	const char *p = opts;

	while (*p) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);

		if ((n == 2 && memcmp(p, "ro", 2) == 0) ||
		    (n == 12 && memcmp(p, "emergency_ro", 12) == 0))
			return true;
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}

static void error_text(int e, char *dst, size_t n)
{
	char tmp[64];
	const char *s = strerror_r(e, tmp, sizeof(tmp));

	/* Go spells errno texts in lower case ("permission denied"). */
	snprintf(dst, n, "%s", s);
	if (dst[0])
		dst[0] = (char)tolower((unsigned char)dst[0]);
}

static bool duplicate(const struct fs_row *rows, size_t n, const struct fs_row *r)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].mp, r->mp) == 0 && strcmp(rows[i].dev, r->dev) == 0 &&
		    strcmp(rows[i].fstype, r->fstype) == 0)
			return true;
	return false;
}

/* Splits one mountinfo line (NUL-terminated, modifiable) into a row. */
static int parse_line(char *line, struct fs_row *r, const char **mnt_opts,
		      const char **super_opts)
{
	char *f[64];
	int nf = 0, sep = -1;
	char *colon;

	/* Fields are separated by single spaces (spaces inside paths are
	 * escaped), so split in place. */
	while (*line && nf < 64) {
		char *sp = strchr(line, ' ');

		f[nf++] = line;
		if (!sp)
			break;
		*sp = '\0';
		line = sp + 1;
	}
	if (nf < MI_MIN_FIELDS)
		return KM_EPARSE;
	/* Optional fields end with "-", then fstype, source, super options. */
	for (int i = 6; i < nf; i++)
		if (strcmp(f[i], "-") == 0) {
			sep = i;
			break;
		}
	if (sep < 0 || sep + 2 >= nf)
		return KM_EPARSE;
	colon = strchr(f[2], ':');
	if (!colon)
		return KM_EPARSE;
	*colon = '\0';
	r->maj = f[2];
	r->min = colon + 1;
	unescape(f[4]);
	r->mp = f[4];
	*mnt_opts = f[5];
	r->fstype = f[sep + 1];
	r->dev = f[sep + 2];
	*super_opts = sep + 3 < nf ? f[sep + 3] : "";
	return 0;
}

static int read_mountinfo(struct node_ctx *ctx, size_t *len)
{
	const char *data;
	int rc;

	rc = procfile_read(&ctx->nc->pf, ctx->procfs, "1/mountinfo", &data, len);
	/* hidepid or no /proc/1 in this pid namespace: use our own view. */
	if (rc == KM_ENOENT || rc == KM_EACCES)
		rc = procfile_read(&ctx->nc->pf, ctx->procfs, "self/mountinfo", &data, len);
	return rc;
}

static int write_family(struct node_ctx *ctx, const struct fs_row *rows, size_t n,
			const char *name, const char *help, size_t off)
{
	int rc = expo_family(ctx->out, name, help, EXPO_GAUGE);

	for (size_t i = 0; !rc && i < n; i++) {
		const struct fs_row *r = &rows[i];
		struct label_pair l[4] = { { "device", r->dev }, { "device_error", r->err },
					   { "fstype", r->fstype }, { "mountpoint", r->mp } };
		double v;

		if (r->err[0] && off != offsetof(struct fs_row, ro))
			continue;
		if (off == offsetof(struct fs_row, ro))
			v = r->ro;
		else
			memcpy(&v, (const char *)r + off, sizeof(v));
		rc = expo_sample(ctx->out, name, l, 4, v);
	}
	return rc;
}

/* statfs() of one mount: *e is its errno (0: st filled); a stuck mount
 * gets r->err "mountpoint timeout" and *e 0 with st unused. */
static int fs_stat(struct node_ctx *ctx, const char *path, struct fs_row *r, struct statfs *st,
		   int *e)
{
	struct node_collector *nc = ctx->nc;
	int rc;

	*e = 0;
	if (node_statfs_direct(r->fstype)) {
		if (nc->statfs_fn(path, st) != 0)
			*e = errno;
		return 0;
	}
	if (stuck_set_has(nc->stuck, r->mp)) {
		snprintf(r->err, sizeof(r->err), "mountpoint timeout");
		return 0;
	}
	rc = node_statfs_timed(nc->statfs_fn, nc->stuck, path, r->mp, ctx->mount_timeout_ms, st, e);
	if (rc == KM_ETIMEDOUT) {
		log_limited(&nc->stuck_limit, 60000, LOG_WARN, "node",
			    "filesystem: statfs(%s) did not return within %lld ms: mount point %s "
			    "reported as stuck (device_error \"mountpoint timeout\") until it answers",
			    path, (long long)ctx->mount_timeout_ms, r->mp);
		snprintf(r->err, sizeof(r->err), "mountpoint timeout");
		return 0;
	}
	return rc;
}

int node_filesystem_parse(struct node_ctx *ctx, char *data, size_t len)
{
	struct node_collector *nc = ctx->nc;
	struct fs_row *rows;
	char *p, *end, path[PATH_MAX];
	size_t n = 0;
	int rc;

	p = data;
	end = p + len;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *mnt_opts, *super_opts;
		struct fs_row r;
		struct statfs st;
		int e;

		if (!nl)
			nl = end;
		*nl = '\0';
		memset(&r, 0, sizeof(r));
		if (nl == p) {
			p = nl + 1;
			continue;
		}
		rc = parse_line(p, &r, &mnt_opts, &super_opts);
		p = nl + 1;
		if (rc)
			return rc;
		r.mp = node_strip_rootfs(ctx->rootfs, r.mp);
		if (node_rx_match(&ctx->nc->rxc[RXC_MOUNT], ctx->mount_points_exclude, r.mp,
				  strlen(r.mp)) ||
		    node_rx_match(&ctx->nc->rxc[RXC_FSTYPE], ctx->fs_types_exclude, r.fstype,
				  strlen(r.fstype)))
			continue;
		rows = nc->rows;
		if (duplicate(rows, n, &r))
			continue;
		r.ro = has_ro(mnt_opts) || has_ro(super_opts);
		rc = node_path_join(path, sizeof(path), ctx->rootfs, r.mp);
		if (rc)
			return rc;
		rc = fs_stat(ctx, path, &r, &st, &e);
		if (rc)
			return rc;
		if (e) {
			error_text(e, r.err, sizeof(r.err));
		} else if (r.err[0]) {
			r.ro = false;
		} else {
			double bs = (double)st.f_bsize;

			r.size = (double)st.f_blocks * bs;
			r.free = (double)st.f_bfree * bs;
			r.avail = (double)st.f_bavail * bs;
			r.files = (double)st.f_files;
			r.files_free = (double)st.f_ffree;
		}
		rc = node_rows_reserve(nc, (n + 1) * sizeof(r));
		if (rc)
			return rc;
		rows = nc->rows;
		rows[n++] = r;
	}
	if (n == 0)
		return 0;
	rows = nc->rows;
	rc = write_family(ctx, rows, n, "node_filesystem_avail_bytes",
			  "Filesystem space available to non-root users in bytes.",
			  offsetof(struct fs_row, avail));
	if (!rc)
		rc = write_family(ctx, rows, n, "node_filesystem_files",
				  "Filesystem total file nodes.", offsetof(struct fs_row, files));
	if (!rc)
		rc = write_family(ctx, rows, n, "node_filesystem_files_free",
				  "Filesystem total free file nodes.",
				  offsetof(struct fs_row, files_free));
	if (!rc)
		rc = write_family(ctx, rows, n, "node_filesystem_free_bytes",
				  "Filesystem free space in bytes.", offsetof(struct fs_row, free));
	if (!rc)
		rc = write_family(ctx, rows, n, "node_filesystem_readonly",
				  "Filesystem read-only status.", offsetof(struct fs_row, ro));
	if (!rc)
		rc = write_family(ctx, rows, n, "node_filesystem_size_bytes",
				  "Filesystem size in bytes.", offsetof(struct fs_row, size));
	if (!rc)
		rc = expo_family(ctx->out, "node_filesystem_device_error",
				 "Whether an error occurred while getting statistics for the given device.",
				 EXPO_GAUGE);
	for (size_t i = 0; !rc && i < n; i++) {
		struct label_pair l[4] = { { "device", rows[i].dev },
					   { "device_error", rows[i].err },
					   { "fstype", rows[i].fstype },
					   { "mountpoint", rows[i].mp } };

		rc = expo_sample(ctx->out, "node_filesystem_device_error", l, 4,
				 rows[i].err[0] ? 1 : 0);
	}
	if (!rc)
		rc = expo_family(ctx->out, "node_filesystem_mount_info",
				 "Filesystem mount information.", EXPO_GAUGE);
	for (size_t i = 0; !rc && i < n; i++) {
		struct label_pair l[4] = { { "device", rows[i].dev }, { "major", rows[i].maj },
					   { "minor", rows[i].min }, { "mountpoint", rows[i].mp } };

		/* node-exporter v1.12 writes it only for mounts statfs() read. */
		if (rows[i].err[0])
			continue;
		rc = expo_sample(ctx->out, "node_filesystem_mount_info", l, 4, 1);
	}
	return rc;
}

int node_filesystem(struct node_ctx *ctx)
{
	size_t len;
	int rc = read_mountinfo(ctx, &len);

	if (!rc)
		rc = node_filesystem_parse(ctx, ctx->nc->pf.b.data, len);
	return rc;
}

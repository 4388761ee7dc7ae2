#include "agent/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/err.h"
#include "base/parse.h"
#include "expo/writer.h"

/* Reads a small file whole into dst (NUL-terminated); returns bytes or -1. */
static ssize_t read_small(const char *path, char *dst, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, dst, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	dst[n] = '\0';
	return n;
}

static int gauge(struct buf *out, const char *name, const char *help, enum expo_type t, double v)
{
	int rc = expo_family(out, name, help, t);

	return rc ? rc : expo_sample(out, name, NULL, 0, v);
}

/* Field n (1-based, after the command) of /proc/self/stat. */
static int stat_field(const char *stat, int n, uint64_t *out)
{
	/* The command may hold spaces and parentheses: skip to the last ')'. */
	const char *p = strrchr(stat, ')');
	const char *end = stat + strlen(stat), *f = NULL;
	size_t len = 0;

	if (!p)
		return KM_EPARSE;
	p++;
	/* Field 3 (state) is the first after ')'. */
	for (int i = 3; i <= n; i++)
		if (!parse_field(&p, end, &f, &len))
			return KM_EPARSE;
	return parse_u64(f, len, out);
}

int process_metrics_write(const char *procfs, struct buf *out)
{
	char path[512], stat[1024], btime_buf[8192];
	double ticks = (double)sysconf(_SC_CLK_TCK);
	double page = (double)sysconf(_SC_PAGESIZE);
	uint64_t utime, stime, start, vsize, rss, btime = 0;
	struct rlimit rl;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/self/stat", procfs);
	if (read_small(path, stat, sizeof(stat)) > 0 && !stat_field(stat, 14, &utime) &&
	    !stat_field(stat, 15, &stime) && !stat_field(stat, 22, &start) &&
	    !stat_field(stat, 23, &vsize) && !stat_field(stat, 24, &rss)) {
		rc = gauge(out, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
			   EXPO_COUNTER, (double)(utime + stime) / ticks);
		if (!rc)
			rc = gauge(out, "process_resident_memory_bytes", "Resident memory size in bytes.",
				   EXPO_GAUGE, (double)rss * page);
		if (!rc)
			rc = gauge(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
				   EXPO_GAUGE, (double)vsize);
		snprintf(path, sizeof(path), "%s/stat", procfs);
		if (!rc && read_small(path, btime_buf, sizeof(btime_buf)) > 0) {
			const char *b = strstr(btime_buf, "\nbtime ");
			if (b) {
				b += 7;
				parse_u64(b, strcspn(b, "\n"), &btime);
			}
		}
		if (!rc && btime)
			rc = gauge(out, "process_start_time_seconds",
				   "Start time of the process since unix epoch in seconds.", EXPO_GAUGE,
				   (double)btime + (double)start / ticks);
	}
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "%s/self/fd", procfs);
	{
		DIR *d = opendir(path);
		if (d) {
			double n = 0;
			struct dirent *de;
			while ((de = readdir(d)))
				if (de->d_name[0] != '.')
					n++;
			closedir(d);
			/* Do not count the descriptor opendir itself used. */
			rc = gauge(out, "process_open_fds", "Number of open file descriptors.", EXPO_GAUGE, n - 1);
		}
	}
	if (!rc && getrlimit(RLIMIT_NOFILE, &rl) == 0)
		rc = gauge(out, "process_max_fds", "Maximum number of open file descriptors.", EXPO_GAUGE,
			   (double)rl.rlim_cur);
	return rc;
}

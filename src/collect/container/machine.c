/* machine_* families and cadvisor_version_info (see machine.h). */
#include "collect/container/machine.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/parse.h"
#include "expo/writer.h"

#define MACHINE_ID_MAX 128
/* Distinct core/package ids remembered; more only happens on machines with
 * over a thousand cores per id space and then saturates the count. */
#define MACHINE_IDS_MAX 1024

struct ids {
	uint64_t v[MACHINE_IDS_MAX];
	size_t n;
};

static void ids_add(struct ids *s, uint64_t v)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] == v)
			return;
	if (s->n < MACHINE_IDS_MAX)
		s->v[s->n++] = v;
}

/* Reads the first line of base+rel into out (trimmed of spaces and NULs).
 * Returns 0 when a non-empty value was read. */
static int read_line(struct cg_reader *r, const char *base, const char *rel, char *out,
		     size_t cap)
{
	char path[512];
	size_t len;
	size_t n;
	const char *s;
	size_t bl = strlen(base);

	out[0] = '\0';
	if (snprintf(path, sizeof(path), "%s%s%s", base, bl && base[bl - 1] == '/' ? "" : "/",
		     rel) >= (int)sizeof(path) ||
	    cg_read_file(r, AT_FDCWD, path, &len) != 0)
		return KM_ENOENT;
	s = r->buf;
	while (len > 0 && (*s == ' ' || *s == '\t'))
		s++, len--;
	n = strcspn(s, "\n");
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\0' || s[n - 1] == '\r'))
		n--;
	if (n == 0 || n >= cap)
		return KM_EPARSE;
	memcpy(out, s, n);
	out[n] = '\0';
	return KM_OK;
}

struct machine_info {
	char boot_id[MACHINE_ID_MAX];
	char machine_id[MACHINE_ID_MAX];
	char system_uuid[MACHINE_ID_MAX];
	uint64_t cores;
	uint64_t physical_cores;
	uint64_t sockets;
	uint64_t mem_bytes;
	uint64_t swap_bytes;
	bool error;
};

/* Value of a "key\t: value" cpuinfo line starting at line (n bytes), if its
 * key is key. */
static bool cpuinfo_value(const char *line, size_t n, const char *key, uint64_t *v)
{
	size_t kn = strlen(key);
	const char *colon;
	const char *p;
	const char *f;
	size_t fn;

	if (n < kn || memcmp(line, key, kn) != 0 || (line[kn] != ' ' && line[kn] != '\t' &&
						     line[kn] != ':'))
		return false;
	colon = memchr(line, ':', n);
	if (!colon)
		return false;
	p = colon + 1;
	return parse_field(&p, line + n, &f, &fn) && parse_u64(f, fn, v) == 0;
}

static int read_cpuinfo(struct cg_reader *r, const char *procfs, struct machine_info *m,
			struct ids *cores, struct ids *pkgs)
{
	char path[512];
	size_t len;
	const char *p;
	const char *end;

	if (snprintf(path, sizeof(path), "%s/cpuinfo", procfs) >= (int)sizeof(path) ||
	    cg_read_file(r, AT_FDCWD, path, &len) != 0)
		return KM_EIO;
	p = r->buf;
	end = r->buf + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((eol ? eol : end) - p);
		uint64_t v;

		if (n >= 9 && memcmp(p, "processor", 9) == 0 && (p[9] == ' ' || p[9] == '\t' ||
								   p[9] == ':'))
			m->cores++;
		else if (cpuinfo_value(p, n, "core id", &v))
			ids_add(cores, v);
		else if (cpuinfo_value(p, n, "physical id", &v))
			ids_add(pkgs, v);
		p = eol ? eol + 1 : end;
	}
	m->physical_cores = cores->n;
	m->sockets = pkgs->n;
	return m->cores ? KM_OK : KM_EPARSE;
}

static int read_meminfo(struct cg_reader *r, const char *procfs, struct machine_info *m)
{
	char path[512];
	size_t len;
	uint64_t total = 0;
	uint64_t swap = 0;
	struct cg_kv kv[] = { { "MemTotal:", &total, false }, { "SwapTotal:", &swap, false } };

	if (snprintf(path, sizeof(path), "%s/meminfo", procfs) >= (int)sizeof(path) ||
	    cg_read_file(r, AT_FDCWD, path, &len) != 0)
		return KM_EIO;
	if (cg_parse_kv(r->buf, len, kv, 2) != 0 || !kv[0].found)
		return KM_EPARSE;
	m->mem_bytes = total * 1024;
	m->swap_bytes = swap * 1024;
	return KM_OK;
}

static void read_info(struct cg_reader *r, const struct machine_paths *p, struct machine_info *m)
{
	struct ids cores = { .n = 0 };
	struct ids pkgs = { .n = 0 };

	memset(m, 0, sizeof(*m));
	(void)read_line(r, p->procfs, "sys/kernel/random/boot_id", m->boot_id, MACHINE_ID_MAX);
	if (read_line(r, p->rootfs, "etc/machine-id", m->machine_id, MACHINE_ID_MAX) != 0)
		(void)read_line(r, p->rootfs, "var/lib/dbus/machine-id", m->machine_id,
				MACHINE_ID_MAX);
	if (read_line(r, p->sysfs, "class/dmi/id/product_uuid", m->system_uuid, MACHINE_ID_MAX) &&
	    read_line(r, p->procfs, "device-tree/system-id", m->system_uuid, MACHINE_ID_MAX) &&
	    read_line(r, p->procfs, "device-tree/vm,uuid", m->system_uuid, MACHINE_ID_MAX))
		(void)read_line(r, p->rootfs, "etc/machine-id", m->system_uuid, MACHINE_ID_MAX);
	if (read_cpuinfo(r, p->procfs, m, &cores, &pkgs) != 0)
		m->error = true;
	if (read_meminfo(r, p->procfs, m) != 0)
		m->error = true;
}

static int gauge(struct buf *out, const char *name, const char *help,
		 const struct label_pair *l, size_t nl, double v)
{
	int err = expo_family(out, name, help, EXPO_GAUGE);

	return err ? err : expo_sample(out, name, l, nl, v);
}

int machine_write(struct buf *out, struct cg_reader *r, const struct machine_paths *p)
{
	struct machine_info m;
	struct label_pair l[3] = { { "boot_id", m.boot_id }, { "machine_id", m.machine_id },
				   { "system_uuid", m.system_uuid } };
	struct label_pair nvm[4] = { l[0], l[1], { "mode", "app_direct_mode" }, l[2] };
	int err;

	read_info(r, p, &m);
	err = gauge(out, "machine_cpu_books", "Number of CPU books.", l, 3, 0);
	if (!err)
		err = gauge(out, "machine_cpu_cores", "Number of logical CPU cores.", l, 3,
			    (double)m.cores);
	if (!err)
		err = gauge(out, "machine_cpu_drawers", "Number of CPU drawers.", l, 3, 0);
	if (!err)
		err = gauge(out, "machine_cpu_physical_cores", "Number of physical CPU cores.", l, 3,
			    (double)m.physical_cores);
	if (!err)
		err = gauge(out, "machine_cpu_sockets", "Number of CPU sockets.", l, 3,
			    (double)m.sockets);
	if (!err)
		err = gauge(out, "machine_memory_bytes", "Amount of memory installed on the machine.",
			    l, 3, (double)m.mem_bytes);
	if (!err)
		err = gauge(out, "machine_nvm_avg_power_budget_watts", "NVM power budget.", l, 3, 0);
	if (!err)
		err = gauge(out, "machine_nvm_capacity",
			    "NVM capacity value labeled by NVM mode (memory mode or app direct mode).",
			    nvm, 4, 0);
	if (!err) {
		nvm[2].value = "memory_mode";
		err = expo_sample(out, "machine_nvm_capacity", nvm, 4, 0);
	}
	if (!err)
		err = gauge(out, "machine_scrape_error",
			    "1 if there was an error while getting machine metrics, 0 otherwise.",
			    NULL, 0, m.error ? 1 : 0);
	if (!err)
		err = gauge(out, "machine_swap_bytes", "Amount of swap memory available on the machine.",
			    l, 3, (double)m.swap_bytes);
	return err;
}

/* PRETTY_NAME="..." of os-release, unquoted, into out. */
static void os_pretty_name(struct cg_reader *r, const char *rootfs, char *out, size_t cap)
{
	char path[512];
	size_t len;
	const char *s;
	size_t n;

	out[0] = '\0';
	/* /etc/os-release is usually a relative symlink to this one, which the
	 * reader (never following links) does not take */
	if (snprintf(path, sizeof(path), "%s/etc/os-release", rootfs) >= (int)sizeof(path) ||
	    cg_read_file(r, AT_FDCWD, path, &len) != 0) {
		if (snprintf(path, sizeof(path), "%s/usr/lib/os-release", rootfs) >=
			    (int)sizeof(path) ||
		    cg_read_file(r, AT_FDCWD, path, &len) != 0)
			return;
	}
	s = strstr(r->buf, "PRETTY_NAME=");
	if (!s)
		return;
	s += 12;
	n = strcspn(s, "\n");
	if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) {
		s++;
		n -= 2;
	}
	if (n < cap) {
		memcpy(out, s, n);
		out[n] = '\0';
	}
}

int machine_write_version(struct buf *out, struct cg_reader *r, const struct machine_paths *p)
{
	char kernel[128];
	char os[256];
	struct label_pair l[5] = { { "cadvisorRevision", "" }, { "cadvisorVersion", "" },
				   { "dockerVersion", "" },    { "kernelVersion", kernel },
				   { "osVersion", os } };

	(void)read_line(r, p->procfs, "sys/kernel/osrelease", kernel, sizeof(kernel));
	os_pretty_name(r, p->rootfs, os, sizeof(os));
	return gauge(out, "cadvisor_version_info",
		     "A metric with a constant '1' value labeled by kernel version, OS version, docker version, cadvisor version & cadvisor revision.",
		     l, 5, 1);
}

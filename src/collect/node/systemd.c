/* systemd: node_systemd_* over D-Bus, as node_exporter v1.12.1's systemd
 * collector (off by default there and here; -collector.systemd).
 *
 * Where: the system bus (DBUS_SYSTEM_BUS_ADDRESS when set, unix:path= or
 * unix:abstract=; else <rootfs>/run/dbus/system_bus_socket), and when that
 * fails and we are root, systemd's private socket <rootfs>/run/systemd/private
 * (node_exporter's dbus.NewWithContext order); -collector.systemd.private
 * goes to the private socket directly. The rootfs prefix lets the chart's
 * read-only host mount reach the host's sockets.
 *
 * What (upstream's Update()):
 *  - node_systemd_version{version} (Manager.Version; the value is the first
 *    [0-9]{3,}(\.[0-9]+)? in it; none: 0 with version="") and
 *    node_systemd_virtualization_info{virtualization_type} (Manager.
 *    Virtualization; "" -> "none", unreadable -> "unknown");
 *  - ListUnits: node_systemd_units{state} counts every unit by ActiveState
 *    (the five known states always present, others added as met);
 *  - the units that are loaded, match -collector.systemd.unit-include and do
 *    not match -collector.systemd.unit-exclude (both anchored, ^(?:...)$):
 *    node_systemd_unit_state{name,state,type} (type: Service.Type or
 *    Mount.Type, "" otherwise or when unreadable), sockets' NAccepted,
 *    NConnections, NRefused, timers' LastTriggerUSec (systemd >= 212), and
 *    behind their enable flags restarts, start time and tasks;
 *  - node_systemd_system_running (Manager.SystemState == "running",
 *    systemd >= 212).
 * A property the manager refuses (an error reply) leaves its sample out, as
 * upstream; a reply of the wrong type or a malformed message fails the
 * collector (upstream would panic on the type). Families and samples are
 * written in the order client_golang gathers them (sorted).
 *
 * Every call shares one deadline of SD_TIMEOUT_MS per scrape. */
#include "collect/node/node_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "collect/node/dbus.h"

#define SD_TIMEOUT_MS 4000
#define SD_NAME_MAX 256      /* systemd's UNIT_NAME_MAX + NUL */
#define SD_STATE_MAX 64
#define SD_TYPE_MAX 128
#define SD_UNITS_MAX 65536
#define SD_OTHER_STATES 32   /* distinct ActiveState values beyond the five */
#define SD_MIN_VERSION_STATE 212
#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_UNIT_PREFIX "/org/freedesktop/systemd1/unit/"
#define SD_DEF_EXCLUDE ".+\\.(automount|device|mount|scope|slice)"

enum {
	HAS_RESTARTS = 1 << 0, HAS_START = 1 << 1, HAS_TASKS_CUR = 1 << 2,
	HAS_TASKS_MAX = 1 << 3, HAS_TRIGGER = 1 << 4, HAS_ACCEPTED = 1 << 5,
	HAS_CURRENT = 1 << 6, HAS_REFUSED = 1 << 7,
};

struct sd_unit {
	char name[SD_NAME_MAX];
	char active[SD_STATE_MAX];
	char type[SD_TYPE_MAX];
	bool keep;                 /* passed the filters */
	unsigned has;              /* HAS_* bits */
	double restarts, start, tasks_cur, tasks_max, trigger, accepted, current, refused;
};

/* The five states upstream always reports, sorted. */
static const char *const known_states[] = { "activating", "active", "deactivating", "failed",
					    "inactive" };

struct sd_scrape {
	struct node_ctx *ctx;
	struct dbus_conn conn;
	struct sd_unit *units;     /* borrowed: ctx->nc->rows */
	size_t n;
};

/* org.freedesktop.DBus.Properties.Get(iface, prop) on path. *found false
 * when the manager answered with an error; KM_EPARSE when the value is not
 * of type want. */
static int get_prop(struct sd_scrape *s, const char *path, const char *iface, const char *prop,
		    char want, struct dbus_val *v, bool *found)
{
	const char *args[2] = { iface, prop };
	struct dbus_reply reply;
	struct dbus_rd r;
	int rc = dbus_call(&s->conn, SD_DEST, path, "org.freedesktop.DBus.Properties", "Get", args,
			   2, &reply);

	*found = false;
	if (rc)
		return rc;
	if (reply.is_error)
		return 0;
	if (strcmp(reply.sig, "v") != 0)
		return KM_EPARSE;
	dbus_rd_init(&r, &reply);
	if (dbus_rd_variant(&r, v) || v->type != want || r.pos != r.len)
		return KM_EPARSE;
	*found = true;
	return 0;
}

static int unit_prop(struct sd_scrape *s, const struct sd_unit *u, const char *type,
		     const char *prop, char want, struct dbus_val *v, bool *found)
{
	char path[sizeof(SD_UNIT_PREFIX) + 3 * SD_NAME_MAX], iface[64];
	int rc = dbus_unit_path(path, sizeof(path), SD_UNIT_PREFIX, u->name);

	if (rc)
		return rc;
	snprintf(iface, sizeof(iface), "org.freedesktop.systemd1.%s", type);
	return get_prop(s, path, iface, prop, want, v, found);
}

static bool has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n >= m && memcmp(s + n - m, suf, m) == 0;
}

static void copy_n(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* Value and label of upstream's getSystemdVersion(): the first run of 3+
 * digits with an optional ".digits", parsed as a float; none: 0 and "". */
double node_systemd_parse_version(const char *v, size_t n, bool *ok)
{
	char num[64];
	size_t i = 0;

	*ok = false;
	while (i < n) {
		size_t j = i;

		while (j < n && v[j] >= '0' && v[j] <= '9')
			j++;
		if (j - i >= 3) {
			if (j + 1 < n && v[j] == '.' && v[j + 1] >= '0' && v[j + 1] <= '9') {
				j++;
				while (j < n && v[j] >= '0' && v[j] <= '9')
					j++;
			}
			if (j - i >= sizeof(num))
				return 0;
			memcpy(num, v + i, j - i);
			num[j - i] = '\0';
			*ok = true;
			return strtod(num, NULL);
		}
		i = j > i ? j : i + 1;
	}
	return 0;
}

static int manager_str(struct sd_scrape *s, const char *prop, char *dst, size_t cap, bool *found)
{
	struct dbus_val v;
	int rc = get_prop(s, SD_PATH, "org.freedesktop.systemd1.Manager", prop, 's', &v, found);

	if (!rc && *found)
		copy_n(dst, cap, v.s, v.n);
	return rc;
}

/* ListUnits: a(ssssssouso) into s->units (name, load and active state). */
static int list_units(struct sd_scrape *s)
{
	struct dbus_reply reply;
	struct dbus_rd r;
	size_t end;
	int rc = dbus_call(&s->conn, SD_DEST, SD_PATH, "org.freedesktop.systemd1.Manager",
			   "ListUnits", NULL, 0, &reply);

	if (rc)
		return rc;
	if (reply.is_error)
		return KM_EIO;
	if (strcmp(reply.sig, "a(ssssssouso)") != 0)
		return KM_EPARSE;
	dbus_rd_init(&r, &reply);
	if (dbus_rd_array(&r, 8, &end))
		return KM_EPARSE;
	s->n = 0;
	while (r.pos < end) {
		const char *f[10];
		size_t fl[10];
		uint32_t job;
		struct sd_unit *u;

		if (s->n == SD_UNITS_MAX)
			return KM_ETOOBIG;
		if (dbus_rd_struct(&r))
			return KM_EPARSE;
		for (int i = 0; i < 10; i++) {
			rc = i == 7 ? dbus_rd_u32(&r, &job) : dbus_rd_str(&r, &f[i], &fl[i]);
			if (rc)
				return KM_EPARSE;
		}
		if (r.pos > end || fl[0] >= SD_NAME_MAX || fl[3] >= SD_STATE_MAX)
			return KM_EPARSE;
		rc = node_rows_reserve(s->ctx->nc, (s->n + 1) * sizeof(*u));
		if (rc)
			return rc;
		s->units = s->ctx->nc->rows;
		u = &s->units[s->n++];
		memset(u, 0, sizeof(*u));
		memcpy(u->name, f[0], fl[0]);
		memcpy(u->active, f[3], fl[3]);
		u->keep = fl[2] == 6 && memcmp(f[2], "loaded", 6) == 0;
	}
	return r.pos == end && r.pos == r.len ? 0 : KM_EPARSE;
}

static int cmp_unit(const void *a, const void *b)
{
	return strcmp(((const struct sd_unit *)a)->name, ((const struct sd_unit *)b)->name);
}

/* A u32 or u64 property into *dst with bit; absent: left out. For the
 * tasks counters UINT64_MAX means "no value" and is left out too (compared
 * before the conversion: near 2^64 doubles do not tell values apart). */
static int num_prop(struct sd_scrape *s, struct sd_unit *u, const char *type, const char *prop,
		    char want, double *dst, unsigned bit, bool *found)
{
	struct dbus_val v;
	int rc = unit_prop(s, u, type, prop, want, &v, found);

	if (!rc && *found) {
		*dst = (double)v.u;
		if (!((bit & (HAS_TASKS_CUR | HAS_TASKS_MAX)) && v.u == UINT64_MAX))
			u->has |= bit;
	}
	return rc;
}

/* The per-unit properties upstream reads for one kept unit. */
static int unit_details(struct sd_scrape *s, struct sd_unit *u, bool timers)
{
	const struct node_opts *o = s->ctx->opts;
	struct dbus_val v;
	bool svc = has_suffix(u->name, ".service"), found;
	int rc = 0;

	if (svc || has_suffix(u->name, ".mount")) {
		rc = unit_prop(s, u, svc ? "Service" : "Mount", "Type", 's', &v, &found);
		if (!rc && found)
			copy_n(u->type, sizeof(u->type), v.s, v.n);
	}
	if (!rc && svc && o->systemd_restarts_metrics)
		rc = num_prop(s, u, "Service", "NRestarts", 'u', &u->restarts, HAS_RESTARTS, &found);
	if (!rc && o->systemd_start_time_metrics) {
		if (strcmp(u->active, "active") != 0) {
			u->start = 0;
			u->has |= HAS_START;
		} else {
			rc = num_prop(s, u, "Unit", "ActiveEnterTimestamp", 't', &u->start, HAS_START,
				      &found);
			u->start /= 1e6;
		}
	}
	if (!rc && svc && o->systemd_task_metrics) {
		rc = num_prop(s, u, "Service", "TasksCurrent", 't', &u->tasks_cur, HAS_TASKS_CUR,
			      &found);
		if (!rc)
			rc = num_prop(s, u, "Service", "TasksMax", 't', &u->tasks_max, HAS_TASKS_MAX,
				      &found);
	}
	if (!rc && timers && has_suffix(u->name, ".timer")) {
		rc = num_prop(s, u, "Timer", "LastTriggerUSec", 't', &u->trigger, HAS_TRIGGER, &found);
		u->trigger /= 1e6;
	}
	if (!rc && has_suffix(u->name, ".socket")) {
		/* Upstream stops at the first property it cannot read. */
		rc = num_prop(s, u, "Socket", "NAccepted", 'u', &u->accepted, HAS_ACCEPTED, &found);
		if (!rc && found)
			rc = num_prop(s, u, "Socket", "NConnections", 'u', &u->current, HAS_CURRENT,
				      &found);
		if (!rc && found)
			rc = num_prop(s, u, "Socket", "NRefused", 'u', &u->refused, HAS_REFUSED,
				      &found);
	}
	return rc;
}

/* One family of per-unit values with label name; written only when some
 * kept unit has it (client_golang leaves empty families out). */
static int write_unit_family(struct sd_scrape *s, const char *fam, const char *help,
			     enum expo_type type, unsigned bit, size_t off)
{
	bool any = false;
	int rc = 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct sd_unit *u = &s->units[i];
		struct label_pair l = { "name", u->name };

		if (!u->keep || !(u->has & bit))
			continue;
		if (!any) {
			rc = expo_family(s->ctx->out, fam, help, type);
			any = true;
		}
		if (!rc)
			rc = expo_sample(s->ctx->out, fam, &l, 1,
					 *(const double *)((const char *)u + off));
		if (rc)
			break;
	}
	return rc;
}

static int write_unit_state(struct sd_scrape *s)
{
	static const char *const fam = "node_systemd_unit_state";
	bool any = false;
	int rc = 0;

	for (size_t i = 0; !rc && i < s->n; i++) {
		const struct sd_unit *u = &s->units[i];

		if (!u->keep)
			continue;
		if (!any) {
			rc = expo_family(s->ctx->out, fam, "Systemd unit", EXPO_GAUGE);
			any = true;
		}
		for (size_t k = 0; !rc && k < sizeof(known_states) / sizeof(known_states[0]); k++) {
			const struct label_pair l[3] = { { "name", u->name },
							 { "state", known_states[k] },
							 { "type", u->type } };

			rc = expo_sample(s->ctx->out, fam, l, 3,
					 strcmp(u->active, known_states[k]) == 0 ? 1 : 0);
		}
	}
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* node_systemd_units{state}: every listed unit, filtered or not. */
static int write_summary(struct sd_scrape *s)
{
	static const char *const fam = "node_systemd_units";
	const char *st[sizeof(known_states) / sizeof(known_states[0]) + SD_OTHER_STATES];
	size_t nst = 0;
	int rc;

	for (size_t k = 0; k < sizeof(known_states) / sizeof(known_states[0]); k++)
		st[nst++] = known_states[k];
	for (size_t i = 0; i < s->n; i++) {
		size_t k = 0;

		while (k < nst && strcmp(st[k], s->units[i].active) != 0)
			k++;
		if (k < nst)
			continue;
		if (nst == sizeof(st) / sizeof(st[0]))
			return KM_ETOOBIG;
		st[nst++] = s->units[i].active;
	}
	qsort(st, nst, sizeof(st[0]), cmp_str);
	rc = expo_family(s->ctx->out, fam, "Summary of systemd unit states", EXPO_GAUGE);
	for (size_t k = 0; !rc && k < nst; k++) {
		struct label_pair l = { "state", st[k] };
		double c = 0;

		for (size_t i = 0; i < s->n; i++)
			c += strcmp(s->units[i].active, st[k]) == 0;
		rc = expo_sample(s->ctx->out, fam, &l, 1, c);
	}
	return rc;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* An address entry of DBUS_SYSTEM_BUS_ADDRESS ("unix:path=/x,guid=..;..."):
 * the first unix path= or abstract= value, %XX decoded. */
int node_systemd_parse_address(const char *addr, char *path, size_t cap, bool *abstract)
{
	const char *p = addr;

	while (*p) {
		const char *end = strchr(p, ';');
		size_t elen = end ? (size_t)(end - p) : strlen(p);

		if (elen > 5 && strncmp(p, "unix:", 5) == 0) {
			const char *k = p + 5, *e = p + elen;

			while (k < e) {
				const char *ke = memchr(k, ',', (size_t)(e - k));
				const char *val;
				size_t n = 0;

				if (!ke)
					ke = e;
				*abstract = strncmp(k, "abstract=", 9) == 0;
				val = *abstract ? k + 9 : strncmp(k, "path=", 5) == 0 ? k + 5 : NULL;
				for (; val && val < ke; val++) {
					int hi, lo;
					char ch = *val;

					if (n + 1 >= cap)
						return KM_ETOOBIG;
					if (ch == '%') {
						if (ke - val < 3)
							return KM_EINVAL;
						hi = hexval(val[1]);
						lo = hexval(val[2]);
						if (hi < 0 || lo < 0)
							return KM_EINVAL;
						ch = (char)(hi << 4 | lo);
						val += 2;
					}
					path[n++] = ch;
				}
				if (n) {
					path[n] = '\0';
					return 0;
				}
				k = ke < e ? ke + 1 : e;
			}
		}
		p += elen;
		if (*p == ';')
			p++;
	}
	return KM_EINVAL;
}

static int sd_connect(struct sd_scrape *s, int64_t deadline)
{
	const char *env = getenv("DBUS_SYSTEM_BUS_ADDRESS");
	char path[PATH_MAX];
	bool abstract = false;
	int rc, bus_rc;

	if (!s->ctx->opts->systemd_private) {
		if (env && *env)
			rc = node_systemd_parse_address(env, path, sizeof(path), &abstract);
		else
			rc = node_path_join(path, sizeof(path), s->ctx->rootfs,
					    "run/dbus/system_bus_socket");
		if (!rc)
			rc = dbus_open(&s->conn, path, abstract, true, deadline);
		if (!rc || geteuid() != 0)
			return rc;
		bus_rc = rc;
		/* The fallback is systemd's private socket; when it fails too,
		 * the bus's error is the one worth reporting. */
		rc = node_path_join(path, sizeof(path), s->ctx->rootfs, "run/systemd/private");
		if (!rc)
			rc = dbus_open(&s->conn, path, false, false, deadline);
		return rc ? bus_rc : 0;
	}
	rc = node_path_join(path, sizeof(path), s->ctx->rootfs, "run/systemd/private");
	if (!rc)
		rc = dbus_open(&s->conn, path, false, false, deadline);
	return rc;
}

#define UOFF(f) offsetof(struct sd_unit, f)

static int sd_write(struct sd_scrape *s, double version, const char *vlabel,
		    const char *virt, bool state_known, bool running)
{
	struct node_ctx *ctx = s->ctx;
	struct label_pair l;
	int rc;

	rc = write_unit_family(s, "node_systemd_service_restart_total",
			       "Service unit count of Restart triggers", EXPO_COUNTER, HAS_RESTARTS,
			       UOFF(restarts));
	if (!rc)
		rc = write_unit_family(s, "node_systemd_socket_accepted_connections_total",
				       "Total number of accepted socket connections", EXPO_COUNTER,
				       HAS_ACCEPTED, UOFF(accepted));
	if (!rc)
		rc = write_unit_family(s, "node_systemd_socket_current_connections",
				       "Current number of socket connections", EXPO_GAUGE,
				       HAS_CURRENT, UOFF(current));
	if (!rc)
		rc = write_unit_family(s, "node_systemd_socket_refused_connections_total",
				       "Total number of refused socket connections", EXPO_GAUGE,
				       HAS_REFUSED, UOFF(refused));
	if (!rc && state_known)
		rc = node_write1(ctx->out, "node_systemd_system_running",
				 "Whether the system is operational (see 'systemctl is-system-running')",
				 EXPO_GAUGE, running ? 1 : 0);
	if (!rc)
		rc = write_unit_family(s, "node_systemd_timer_last_trigger_seconds",
				       "Seconds since epoch of last trigger.", EXPO_GAUGE, HAS_TRIGGER,
				       UOFF(trigger));
	if (!rc)
		rc = write_unit_family(s, "node_systemd_unit_start_time_seconds",
				       "Start time of the unit since unix epoch in seconds.", EXPO_GAUGE,
				       HAS_START, UOFF(start));
	if (!rc)
		rc = write_unit_state(s);
	if (!rc)
		rc = write_unit_family(s, "node_systemd_unit_tasks_current",
				       "Current number of tasks per Systemd unit", EXPO_GAUGE,
				       HAS_TASKS_CUR, UOFF(tasks_cur));
	if (!rc)
		rc = write_unit_family(s, "node_systemd_unit_tasks_max",
				       "Maximum number of tasks per Systemd unit", EXPO_GAUGE,
				       HAS_TASKS_MAX, UOFF(tasks_max));
	if (!rc)
		rc = write_summary(s);
	if (!rc)
		rc = expo_family(ctx->out, "node_systemd_version", "Detected systemd version",
				 EXPO_GAUGE);
	l.name = "version";
	l.value = vlabel;
	if (!rc)
		rc = expo_sample(ctx->out, "node_systemd_version", &l, 1, version);
	if (!rc)
		rc = expo_family(ctx->out, "node_systemd_virtualization_info",
				 "Detected virtualization technology", EXPO_GAUGE);
	l.name = "virtualization_type";
	l.value = virt;
	if (!rc)
		rc = expo_sample(ctx->out, "node_systemd_virtualization_info", &l, 1, 1);
	return rc;
}

/* Marks the units upstream's filterUnits() keeps (loaded already set). */
static int sd_filter(struct sd_scrape *s)
{
	const struct node_opts *o = s->ctx->opts;
	struct rx *def = NULL;
	const struct rx *exc = o->systemd_unit_exclude;
	char err[128];

	/* Built and freed per scrape (options filled without the flags):
	 * interpreted, a JIT compile would cost more than it saves. */
	if (!exc) {
		def = rx_new_filter(SD_DEF_EXCLUDE, err, sizeof(err));
		if (!def)
			return KM_ENOMEM;
		exc = def;
	}
	for (size_t i = 0; i < s->n; i++) {
		struct sd_unit *u = &s->units[i];
		size_t n = strlen(u->name);
		bool inc = o->systemd_unit_include ? rx_match(o->systemd_unit_include, u->name, n)
						   : n > 0;

		u->keep = u->keep && inc && !rx_match(exc, u->name, n);
	}
	rx_free(def);
	return 0;
}

int node_systemd(struct node_ctx *ctx)
{
	struct sd_scrape s = { .ctx = ctx };
	char vstr[128] = "", virt[128] = "", state[64] = "";
	const char *vlabel = "";
	double version;
	bool found, vok, state_found = false;
	int rc;

	rc = sd_connect(&s, clock_mono_ns() + (int64_t)SD_TIMEOUT_MS * 1000000);
	if (rc)
		return rc;
	rc = manager_str(&s, "Version", vstr, sizeof(vstr), &found);
	if (rc)
		goto out;
	version = found ? node_systemd_parse_version(vstr, strlen(vstr), &vok) : 0;
	if (found && vok)
		vlabel = vstr;
	rc = manager_str(&s, "Virtualization", virt, sizeof(virt), &found);
	if (rc)
		goto out;
	if (!found)
		snprintf(virt, sizeof(virt), "unknown");
	else if (!virt[0])
		snprintf(virt, sizeof(virt), "none");
	rc = list_units(&s);
	if (!rc)
		rc = sd_filter(&s);
	if (rc)
		goto out;
	if (s.n)
		qsort(s.units, s.n, sizeof(*s.units), cmp_unit);
	for (size_t i = 0; !rc && i < s.n; i++)
		if (s.units[i].keep)
			rc = unit_details(&s, &s.units[i], version >= SD_MIN_VERSION_STATE);
	if (!rc && version >= SD_MIN_VERSION_STATE) {
		rc = manager_str(&s, "SystemState", state, sizeof(state), &state_found);
		/* Upstream returns the error: the collector fails. */
		if (!rc && !state_found)
			rc = KM_EIO;
	}
	if (!rc)
		rc = sd_write(&s, version, vlabel, virt, state_found, strcmp(state, "running") == 0);
out:
	dbus_close(&s.conn);
	return rc;
}

/* CRI-O container filesystem usage (see crio.h). */
#include "collect/container/crio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/vec.h"
#include "dl/curl.h"

#define CRIO_WALK_DEPTH 128   /* directory levels walked (one fd each) */
#define CRIO_LOG_MS 600000    /* one failure line per 10 minutes */

enum crio_driver { DRV_UNKNOWN = 0, DRV_OVERLAY, DRV_OTHER };

struct crio_ent {
	char id[65];
	char *diff;             /* owned; host path of the writable layer, NULL until asked */
	char *log;              /* owned; host path of the log file, "" when CRI-O names none */
	struct crio_fs_usage u;
	bool have;              /* u holds a measurement */
	bool tried;             /* had its first round (settle) */
	bool busy;              /* the thread is working on it */
	int64_t due_ms;         /* monotonic time of the next round */
	int64_t period_ms;      /* current period (doubles after failures) */
	uint64_t seen;          /* last scrape generation that named it */
};

/* One walk's hard-linked inodes (open addressing, 0 = empty slot: inode 0
 * does not exist on Linux filesystems). Worker-only. */
struct inoset {
	uint64_t *v;            /* owned */
	size_t cap;             /* slots, a power of two or 0 */
	size_t n;
};

struct crio_fs {
	pthread_mutex_t mu;
	pthread_cond_t wake;    /* the thread: new work or stop */
	pthread_cond_t done;    /* settle: a round finished */
	pthread_t th;
	bool started;
	bool start_failed;
	bool stop;
	char *socket;           /* owned */
	char *rootfs;           /* owned; "" for "/" */
	int64_t period_ms;
	struct crio_ent *v;     /* owned */
	size_t n;
	size_t cap;
	uint64_t gen;           /* scrape generation */
	uint64_t errors;
	int64_t last_round_ns;  /* duration of the last finished round */
	struct log_limit lim;
	/* the thread's own state, never touched under the lock by others */
	enum crio_driver driver;
	CURL *easy;
	struct buf body;
	bool body_over;         /* the answer passed CRIO_BODY_MAX */
	char errbuf[CURL_ERROR_SIZE];
	struct inoset ino;
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct crio_fs *crio_fs_new(const char *socket, const char *rootfs, int64_t period_ms)
{
	struct crio_fs *c = calloc(1, sizeof(*c));
	pthread_condattr_t ca;

	if (!c)
		return NULL;
	c->socket = dup_or_null(socket ? socket : "");
	c->rootfs = dup_or_null(rootfs && strcmp(rootfs, "/") != 0 ? rootfs : "");
	if (!c->socket || !c->rootfs)
		goto out_free;
	c->period_ms = period_ms > 0 ? period_ms : CRIO_PERIOD_MS;
	buf_init(&c->body, CRIO_BODY_MAX);
	if (pthread_condattr_init(&ca) != 0)
		goto out_free;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_cond_init(&c->wake, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		goto out_free;
	}
	pthread_condattr_destroy(&ca);
	if (pthread_cond_init(&c->done, NULL) != 0) {
		pthread_cond_destroy(&c->wake);
		goto out_free;
	}
	if (pthread_mutex_init(&c->mu, NULL) != 0) {
		pthread_cond_destroy(&c->wake);
		pthread_cond_destroy(&c->done);
		goto out_free;
	}
	return c;
out_free:
	free(c->socket);
	free(c->rootfs);
	free(c);
	return NULL;
}

void crio_fs_free(struct crio_fs *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_cond_broadcast(&c->wake);
	pthread_mutex_unlock(&c->mu);
	if (c->started)
		pthread_join(c->th, NULL);
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].diff);
		free(c->v[i].log);
	}
	free(c->v);
	if (c->easy)
		curl_easy_cleanup(c->easy);
	buf_fini(&c->body);
	free(c->ino.v);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->wake);
	pthread_cond_destroy(&c->done);
	free(c->socket);
	free(c->rootfs);
	free(c);
}

/* ---- CRI-O's info API (the thread only) ---- */

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
	struct crio_fs *c = ud;
	size_t n = sz * nm;

	if (buf_add(&c->body, p, n) != 0) {
		c->body_over = true;
		return 0;  /* curl stops: CURLE_WRITE_ERROR */
	}
	return n;
}

/* GET path on the socket into c->body as a JSON object (*out, owned by the
 * caller). Fills why on failure. */
static int crio_get(struct crio_fs *c, const char *path, json_t **out, char *why, size_t whyn)
{
	char url[128];
	long status = 0;
	CURLcode rc;
	json_error_t je;

	*out = NULL;
	if (!c->easy && !(c->easy = curl_easy_init())) {
		snprintf(why, whyn, "curl_easy_init failed");
		return KM_ENOMEM;
	}
	if (snprintf(url, sizeof(url), "http://crio%s", path) >= (int)sizeof(url)) {
		snprintf(why, whyn, "path too long");
		return KM_EINVAL;
	}
	buf_reset(&c->body);
	c->body_over = false;
	c->errbuf[0] = '\0';
	curl_easy_setopt(c->easy, CURLOPT_URL, url);
	curl_easy_setopt(c->easy, CURLOPT_UNIX_SOCKET_PATH, c->socket);
	curl_easy_setopt(c->easy, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)CRIO_TIMEOUT_MS);
	curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, (long)CRIO_TIMEOUT_MS);
	curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
	rc = curl_easy_perform(c->easy);
	if (c->body_over) {
		snprintf(why, whyn, "GET %.80s: answer over %u bytes", path, CRIO_BODY_MAX);
		return KM_ETOOBIG;
	}
	if (rc != CURLE_OK) {
		snprintf(why, whyn, "GET %.60s on %.60s: %.120s", path, c->socket,
			 c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
		return rc == CURLE_OPERATION_TIMEDOUT ? KM_ETIMEDOUT : KM_EIO;
	}
	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		snprintf(why, whyn, "GET %.80s: status %ld: %.80s", path, status, buf_cstr(&c->body));
		return KM_EHTTP;
	}
	*out = json_loadb(c->body.data ? c->body.data : "", c->body.len, 0, &je);
	if (!*out || !json_is_object(*out)) {
		snprintf(why, whyn, "GET %.80s: not a JSON object: %.120s", path, *out ? "" : je.text);
		json_decref(*out);
		*out = NULL;
		return KM_EPARSE;
	}
	return KM_OK;
}

static int ask_driver(struct crio_fs *c, char *why, size_t whyn)
{
	json_t *o;
	const char *d;
	int err = crio_get(c, "/info", &o, why, whyn);

	if (err)
		return err;
	d = json_string_value(json_object_get(o, "storage_driver"));
	if (!d) {
		snprintf(why, whyn, "GET /info: no storage_driver");
		err = KM_EPARSE;
	} else {
		/* cAdvisor treats overlay and overlay2 alike and measures no other */
		c->driver = strcmp(d, "overlay") == 0 || strcmp(d, "overlay2") == 0 ? DRV_OVERLAY
										  : DRV_OTHER;
	}
	json_decref(o);
	return err;
}

/* Asks CRI-O for container id's writable layer and log file (host paths). */
static int ask_container(struct crio_fs *c, const char *id, char **diff, char **log, char *why,
			 size_t whyn)
{
	char path[96];
	json_t *o;
	const char *root;
	const char *lp;
	size_t rn;
	int err;

	snprintf(path, sizeof(path), "/containers/%s", id);
	err = crio_get(c, path, &o, why, whyn);
	if (err)
		return err;
	root = json_string_value(json_object_get(o, "root"));
	lp = json_string_value(json_object_get(o, "log_path"));
	if (!root || root[0] != '/') {
		snprintf(why, whyn, "GET %.80s: no absolute root", path);
		err = KM_EPARSE;
		goto out;
	}
	/* CRI-O names the overlay mount; the writable layer is its sibling */
	rn = strlen(root);
	if (rn >= 7 && strcmp(root + rn - 7, "/merged") == 0)
		rn -= 7;
	*diff = malloc(rn + 6);
	*log = strdup(lp && lp[0] == '/' ? lp : "");
	if (!*diff || !*log) {
		err = KM_ENOMEM;
		goto out;
	}
	memcpy(*diff, root, rn);
	memcpy(*diff + rn, "/diff", 6);
out:
	json_decref(o);
	return err;
}

/* ---- the walk (the thread only) ---- */

/* True when ino was already counted in this walk; remembers it otherwise.
 * KM_ETOOBIG past CRIO_INODE_SET_MAX, KM_ENOMEM. */
static int ino_seen(struct inoset *s, uint64_t ino, bool *seen)
{
	size_t i;

	if ((s->n + 1) * 2 > s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 1024;
		uint64_t *nv;

		if (ncap > 2 * (size_t)CRIO_INODE_SET_MAX)
			return KM_ETOOBIG;
		nv = calloc(ncap, sizeof(*nv));
		if (!nv)
			return KM_ENOMEM;
		for (size_t k = 0; k < s->cap; k++) {
			if (!s->v[k])
				continue;
			i = (size_t)(s->v[k] * 0x9E3779B97F4A7C15ull) & (ncap - 1);
			while (nv[i])
				i = (i + 1) & (ncap - 1);
			nv[i] = s->v[k];
		}
		free(s->v);
		s->v = nv;
		s->cap = ncap;
	}
	i = (size_t)(ino * 0x9E3779B97F4A7C15ull) & (s->cap - 1);
	while (s->v[i]) {
		if (s->v[i] == ino) {
			*seen = true;
			return KM_OK;
		}
		i = (i + 1) & (s->cap - 1);
	}
	s->v[i] = ino;
	s->n++;
	*seen = false;
	return KM_OK;
}

/* Counts st into u (hard-linked inodes once, as cAdvisor's GetDirUsage). */
static int count(struct inoset *s, const struct stat *st, struct crio_fs_usage *u)
{
	bool seen = false;
	int err = st->st_nlink > 1 ? ino_seen(s, (uint64_t)st->st_ino, &seen) : KM_OK;

	if (!err && !seen) {
		u->bytes += (uint64_t)st->st_blocks * 512;
		u->inodes++;
	}
	return err;
}

/* Counts the entries of directory fd (consumed) on device dev. Entries that
 * vanish meanwhile are skipped, as cAdvisor does. */
static int walk_dir(struct inoset *s, int fd, dev_t dev, int depth, struct crio_fs_usage *u)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int err = KM_OK;

	if (!d) {
		close(fd);
		return km_from_errno(errno);
	}
	while (!err && (errno = 0, de = readdir(d)) != NULL) {
		struct stat st;
		int sub;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno != ENOENT)
				err = km_from_errno(errno);
			continue;
		}
		if (st.st_dev != dev)
			continue;  /* another filesystem mounted inside: not this layer */
		err = count(s, &st, u);
		if (err || !S_ISDIR(st.st_mode))
			continue;
		if (depth + 1 >= CRIO_WALK_DEPTH) {
			err = KM_ETOOBIG;
			break;
		}
		sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			if (errno != ENOENT)
				err = km_from_errno(errno);
			continue;
		}
		err = walk_dir(s, sub, dev, depth + 1, u);
	}
	if (!err && errno != 0 && !de)
		err = km_from_errno(errno);
	closedir(d);
	return err;
}

/* Measures the layer diff and the log file (host paths) into *u. */
static int measure(struct crio_fs *c, const char *diff, const char *log, struct crio_fs_usage *u,
		   char *why, size_t whyn)
{
	char path[4096];
	struct stat st;
	int fd;
	int err;

	memset(u, 0, sizeof(*u));
	c->ino.n = 0;
	if (c->ino.v)
		memset(c->ino.v, 0, c->ino.cap * sizeof(*c->ino.v));
	if (snprintf(path, sizeof(path), "%s%s", c->rootfs, diff) >= (int)sizeof(path)) {
		snprintf(why, whyn, "layer path too long");
		return KM_ETOOBIG;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		err = km_from_errno(errno);
		snprintf(why, whyn, "%.160s: %.60s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return err;
	}
	u->major = major(st.st_dev);
	u->minor = minor(st.st_dev);
	err = count(&c->ino, &st, u);
	if (!err)
		err = walk_dir(&c->ino, fd, st.st_dev, 0, u);
	else
		close(fd);
	if (err) {
		snprintf(why, whyn, "walk of %.160s: %.60s", path, km_strerror(err));
		return err;
	}
	/* the log adds bytes only; a missing log leaves the layer's figures
	 * (cAdvisor keeps the root usage when the log walk fails) */
	if (log[0] && snprintf(path, sizeof(path), "%s%s", c->rootfs, log) < (int)sizeof(path) &&
	    lstat(path, &st) == 0)
		u->bytes += (uint64_t)st.st_blocks * 512;
	return KM_OK;
}

/* ---- the thread ---- */

static struct crio_ent *find(struct crio_fs *c, const char *id)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->v[i].id, id) == 0)
			return &c->v[i];
	return NULL;
}

/* The entry due first, or NULL; *wait_ms: how long until one is due. */
static struct crio_ent *pick(struct crio_fs *c, int64_t now, int64_t *wait_ms)
{
	struct crio_ent *best = NULL;

	*wait_ms = -1;
	for (size_t i = 0; i < c->n; i++) {
		struct crio_ent *e = &c->v[i];

		if (e->busy)
			continue;
		if (!best || e->due_ms < best->due_ms)
			best = e;
	}
	if (best && best->due_ms > now) {
		*wait_ms = best->due_ms - now;
		return NULL;
	}
	return best;
}

/* One round for a container, without the lock: ask what is not known yet,
 * then measure. KM_ENODATA: the storage driver has no such rows. */
static int round_one(struct crio_fs *c, const char *id, char **diff, char **log,
		     struct crio_fs_usage *u, char *why, size_t whyn)
{
	int err = KM_OK;

	if (c->driver == DRV_UNKNOWN)
		err = ask_driver(c, why, whyn);
	if (err)
		return err;
	if (c->driver != DRV_OVERLAY)
		return KM_ENODATA;
	if (!*diff)
		err = ask_container(c, id, diff, log, why, whyn);
	if (!err)
		err = measure(c, *diff, *log, u, why, whyn);
	return err;
}

static void wait_for(struct crio_fs *c, int64_t ms)
{
	struct timespec ts;

	if (ms < 0) {
		pthread_cond_wait(&c->wake, &c->mu);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&c->wake, &c->mu, &ts);
}

/* Stores the outcome of a round into the entry (if it is still tracked). */
static void store(struct crio_fs *c, const char *id, char *diff, char *log, int err,
		  const struct crio_fs_usage *u, const char *why)
{
	struct crio_ent *e = find(c, id);

	if (!e) {
		free(diff);
		free(log);
		return;
	}
	e->busy = false;
	e->tried = true;
	if (!e->diff && diff) {
		e->diff = diff;
		e->log = log;
	} else {
		free(diff);
		free(log);
	}
	if (err == KM_OK) {
		e->u = *u;
		e->have = true;
		e->period_ms = c->period_ms;
	} else if (err == KM_ENODATA) {
		e->period_ms = c->period_ms;
	} else {
		c->errors++;
		log_limited(&c->lim, CRIO_LOG_MS, LOG_WARN, "container",
			    "CRI-O container %.12s: %s (its container_fs_* rows are left out; %llu "
			    "failures so far)", id, why, (unsigned long long)c->errors);
		/* cAdvisor's fsHandler backoff */
		e->period_ms = e->period_ms * 2 > c->period_ms * CRIO_BACKOFF_MAX
				       ? c->period_ms * CRIO_BACKOFF_MAX : e->period_ms * 2;
	}
	e->due_ms = clock_mono_ms() + e->period_ms;
	pthread_cond_broadcast(&c->done);
}

static void *worker(void *arg)
{
	struct crio_fs *c = arg;

	pthread_mutex_lock(&c->mu);
	while (!c->stop) {
		int64_t wait_ms;
		struct crio_ent *e = pick(c, clock_mono_ms(), &wait_ms);
		char id[sizeof(e->id)];
		char *diff = NULL;
		char *log = NULL;
		struct crio_fs_usage u;
		char why[256] = "";
		int err = KM_OK;
		int64_t t0;

		if (!e) {
			wait_for(c, wait_ms);
			continue;
		}
		e->busy = true;
		memcpy(id, e->id, sizeof(id));
		if (e->diff) {
			diff = strdup(e->diff);
			log = strdup(e->log);
			if (!diff || !log)
				err = KM_ENOMEM;
		}
		pthread_mutex_unlock(&c->mu);
		t0 = clock_mono_ns();
		if (!err)
			err = round_one(c, id, &diff, &log, &u, why, sizeof(why));
		else
			snprintf(why, sizeof(why), "out of memory");
		pthread_mutex_lock(&c->mu);
		c->last_round_ns = clock_mono_ns() - t0;
		store(c, id, diff, log, err, &u, why);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* ---- the scrape's side ---- */

static bool start_locked(struct crio_fs *c)
{
	if (c->started || c->start_failed)
		return c->started;
	if (!dl_curl_loaded() || !c->socket[0]) {
		c->start_failed = true;
		return false;
	}
	if (pthread_create(&c->th, NULL, worker, c) != 0) {
		c->start_failed = true;
		log_warn("container", "cannot start the CRI-O filesystem thread: CRI-O containers "
			 "have no container_fs_* rows");
		return false;
	}
	c->started = true;
	return true;
}

void crio_fs_begin(struct crio_fs *c)
{
	pthread_mutex_lock(&c->mu);
	c->gen++;
	pthread_mutex_unlock(&c->mu);
}

bool crio_fs_get(struct crio_fs *c, const char *id, struct crio_fs_usage *u)
{
	struct crio_ent *e;
	bool have = false;

	if (strlen(id) != 64)
		return false;
	pthread_mutex_lock(&c->mu);
	if (!start_locked(c))
		goto out;
	e = find(c, id);
	if (!e) {
		if (VEC_RESERVE(c->v, c->cap, c->n + 1, 64, CRIO_MAX_CTRS) != 0)
			goto out;  /* at the cap or out of memory: not tracked */
		e = &c->v[c->n++];
		memset(e, 0, sizeof(*e));
		memcpy(e->id, id, 65);
		e->due_ms = clock_mono_ms();
		e->period_ms = c->period_ms;
		pthread_cond_signal(&c->wake);
	}
	e->seen = c->gen;
	if (e->have) {
		*u = e->u;
		have = true;
	}
out:
	pthread_mutex_unlock(&c->mu);
	return have;
}

void crio_fs_end(struct crio_fs *c)
{
	size_t w = 0;

	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->n; i++) {
		struct crio_ent *e = &c->v[i];

		/* a busy entry stays until its round is stored */
		if (e->seen + 2 <= c->gen && !e->busy) {
			free(e->diff);
			free(e->log);
			continue;
		}
		if (w != i)
			c->v[w] = *e;
		w++;
	}
	c->n = w;
	pthread_mutex_unlock(&c->mu);
}

int crio_fs_settle(struct crio_fs *c, int64_t timeout_ms)
{
	int64_t end = clock_mono_ms() + timeout_ms;
	int err = KM_OK;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		bool pending = false;
		struct timespec ts;
		int64_t left = end - clock_mono_ms();

		for (size_t i = 0; i < c->n && c->started; i++)
			pending |= !c->v[i].tried;
		if (!pending)
			break;
		if (left <= 0) {
			err = KM_ETIMEDOUT;
			break;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += left / 1000 + 1;
		pthread_cond_timedwait(&c->done, &c->mu, &ts);
	}
	pthread_mutex_unlock(&c->mu);
	return err;
}

void crio_fs_health(struct crio_fs *c, struct crio_fs_health *h)
{
	pthread_mutex_lock(&c->mu);
	h->started = c->started;
	h->errors = c->errors;
	h->last_round_s = (double)c->last_round_ns / 1e9;
	pthread_mutex_unlock(&c->mu);
}

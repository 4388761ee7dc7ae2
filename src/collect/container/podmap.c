/* Pod map: UID-keyed hash of pods with their container IDs. */
#include "collect/container/podmap.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/hash.h"

#define PODMAP_BUCKETS 1024

struct podmap {
	pthread_rwlock_t lock;
	struct podmap_pod *buckets[PODMAP_BUCKETS];  /* chains, owned */
	size_t count;
};

static unsigned bucket_of(const char *uid)
{
	return hash32_str(uid) % PODMAP_BUCKETS;
}

static void pod_free(struct podmap_pod *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nctrs; i++) {
		free(p->ctrs[i].id);
		free(p->ctrs[i].name);
		free(p->ctrs[i].image);
	}
	free(p->ctrs);
	free(p->uid);
	free(p->ns);
	free(p->name);
	free(p);
}

struct podmap *podmap_new(void)
{
	struct podmap *pm = calloc(1, sizeof(*pm));

	if (!pm)
		return NULL;
	if (pthread_rwlock_init(&pm->lock, NULL) != 0) {
		free(pm);
		return NULL;
	}
	return pm;
}

static void clear_locked(struct podmap *pm)
{
	for (size_t b = 0; b < PODMAP_BUCKETS; b++) {
		struct podmap_pod *p = pm->buckets[b];

		while (p) {
			struct podmap_pod *next = p->next;

			pod_free(p);
			p = next;
		}
		pm->buckets[b] = NULL;
	}
	pm->count = 0;
}

void podmap_free(struct podmap *pm)
{
	if (!pm)
		return;
	clear_locked(pm);
	pthread_rwlock_destroy(&pm->lock);
	free(pm);
}

void podmap_clear(struct podmap *pm)
{
	pthread_rwlock_wrlock(&pm->lock);
	clear_locked(pm);
	pthread_rwlock_unlock(&pm->lock);
}

size_t podmap_count(struct podmap *pm)
{
	size_t n;

	pthread_rwlock_rdlock(&pm->lock);
	n = pm->count;
	pthread_rwlock_unlock(&pm->lock);
	return n;
}

static const char *jstr(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "";
}

/* Splits "scheme://id" into runtime and id; an ID without scheme is kept. */
static const char *split_cid(const char *full, enum cg_runtime *rt)
{
	const char *sep = strstr(full, "://");

	*rt = CG_RT_UNKNOWN;
	if (!sep)
		return full;
	if ((size_t)(sep - full) == 10 && strncmp(full, "containerd", 10) == 0)
		*rt = CG_RT_CONTAINERD;
	else if ((size_t)(sep - full) == 5 && strncmp(full, "cri-o", 5) == 0)
		*rt = CG_RT_CRIO;
	else if ((size_t)(sep - full) == 6 && strncmp(full, "docker", 6) == 0)
		*rt = CG_RT_DOCKER;
	return sep + 3;
}

/* Image of container name in spec list key ("containers", ...), or "". */
static const char *spec_image(const json_t *spec, const char *key, const char *name)
{
	const json_t *arr = json_object_get(spec, key);
	size_t i;
	const json_t *c;

	json_array_foreach(arr, i, c) {
		if (strcmp(jstr(c, "name"), name) == 0)
			return jstr(c, "image");
	}
	return "";
}

static int add_ctr(struct podmap_pod *p, const char *full_id, const char *name, const char *image,
		   uint32_t restarts)
{
	struct podmap_ctr *c;
	enum cg_runtime rt;
	const char *id = split_cid(full_id, &rt);

	if (!*id || p->nctrs >= p->capctrs)
		return KM_OK;
	c = &p->ctrs[p->nctrs];
	c->id = strdup(id);
	c->name = strdup(name);
	c->image = strdup(image);
	c->restarts = restarts;
	c->rt = rt;
	p->nctrs++;  /* counted even on failure so pod_free() frees the parts */
	if (!c->id || !c->name || !c->image)
		return KM_ENOMEM;
	if (p->rt == CG_RT_UNKNOWN)
		p->rt = rt;
	return KM_OK;
}

/* Adds the current and previous IDs of every status in status[key]. */
static int add_statuses(struct podmap_pod *p, const json_t *spec, const json_t *status,
			const char *key, const char *spec_key)
{
	const json_t *arr = json_object_get(status, key);
	size_t i;
	const json_t *cs;

	json_array_foreach(arr, i, cs) {
		const char *name = jstr(cs, "name");
		const char *image = jstr(cs, "image");
		json_int_t rc = json_integer_value(json_object_get(cs, "restartCount"));
		const json_t *last = json_object_get(json_object_get(cs, "lastState"), "terminated");
		uint32_t restarts = rc > 0 && rc < UINT32_MAX ? (uint32_t)rc : 0;
		int err;

		if (!*image)
			image = spec_image(spec, spec_key, name);
		err = add_ctr(p, jstr(cs, "containerID"), name, image, restarts);
		if (!err && last)
			err = add_ctr(p, jstr(last, "containerID"), name, image,
				      restarts > 0 ? restarts - 1 : 0);
		if (err)
			return err;
	}
	return KM_OK;
}

/* Upper bound of IDs a status can list: current + previous per container. */
static size_t max_ctrs(const json_t *status)
{
	size_t n = json_array_size(json_object_get(status, "initContainerStatuses")) +
		   json_array_size(json_object_get(status, "containerStatuses")) +
		   json_array_size(json_object_get(status, "ephemeralContainerStatuses"));

	n *= 2;
	if (n > PODMAP_MAX_CTRS)
		n = PODMAP_MAX_CTRS;
	return n ? n : 1;
}

/* Builds a pod entry from JSON; NULL with *err set on failure. */
static struct podmap_pod *pod_from_json(const json_t *pod, int *err)
{
	const json_t *meta = json_object_get(pod, "metadata");
	const json_t *spec = json_object_get(pod, "spec");
	const json_t *status = json_object_get(pod, "status");
	struct podmap_pod *p;

	*err = KM_EINVAL;
	if (!*jstr(meta, "uid") || !*jstr(meta, "namespace") || !*jstr(meta, "name"))
		return NULL;
	*err = KM_ENOMEM;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->uid = strdup(jstr(meta, "uid"));
	p->ns = strdup(jstr(meta, "namespace"));
	p->name = strdup(jstr(meta, "name"));
	p->ctrs = calloc(max_ctrs(status), sizeof(*p->ctrs));
	if (!p->uid || !p->ns || !p->name || !p->ctrs)
		goto out_free_pod;
	p->capctrs = max_ctrs(status);
	*err = add_statuses(p, spec, status, "initContainerStatuses", "initContainers");
	if (!*err)
		*err = add_statuses(p, spec, status, "containerStatuses", "containers");
	if (!*err)
		*err = add_statuses(p, spec, status, "ephemeralContainerStatuses",
				    "ephemeralContainers");
	if (*err)
		goto out_free_pod;
	return p;
out_free_pod:
	pod_free(p);
	return NULL;
}

int podmap_upsert(struct podmap *pm, const json_t *pod)
{
	int err;
	struct podmap_pod *p = pod_from_json(pod, &err);
	struct podmap_pod **pp;
	unsigned b;

	if (!p)
		return err;
	b = bucket_of(p->uid);
	pthread_rwlock_wrlock(&pm->lock);
	for (pp = &pm->buckets[b]; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->uid, p->uid) == 0) {
			struct podmap_pod *old = *pp;

			p->next = old->next;
			*pp = p;
			pod_free(old);
			goto out_unlock;
		}
	}
	if (pm->count >= PODMAP_MAX_PODS) {
		pod_free(p);
		err = KM_ETOOBIG;
		goto out_unlock;
	}
	p->next = pm->buckets[b];
	pm->buckets[b] = p;
	pm->count++;
out_unlock:
	pthread_rwlock_unlock(&pm->lock);
	return err == KM_ETOOBIG ? err : KM_OK;
}

int podmap_delete_uid(struct podmap *pm, const char *uid)
{
	int err = KM_ENOENT;

	pthread_rwlock_wrlock(&pm->lock);
	for (struct podmap_pod **pp = &pm->buckets[bucket_of(uid)]; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->uid, uid) == 0) {
			struct podmap_pod *old = *pp;

			*pp = old->next;
			pod_free(old);
			pm->count--;
			err = KM_OK;
			break;
		}
	}
	pthread_rwlock_unlock(&pm->lock);
	return err;
}

/* A scan: deletes by name are rare and a node holds a few hundred pods. */
int podmap_delete(struct podmap *pm, const char *ns, const char *name)
{
	int err = KM_ENOENT;

	pthread_rwlock_wrlock(&pm->lock);
	for (size_t b = 0; b < PODMAP_BUCKETS; b++) {
		struct podmap_pod **pp = &pm->buckets[b];

		while (*pp) {
			struct podmap_pod *p = *pp;

			if (strcmp(p->ns, ns) == 0 && strcmp(p->name, name) == 0) {
				*pp = p->next;
				pod_free(p);
				pm->count--;
				err = KM_OK;
			} else {
				pp = &p->next;
			}
		}
	}
	pthread_rwlock_unlock(&pm->lock);
	return err;
}

void podmap_rdlock(struct podmap *pm)
{
	pthread_rwlock_rdlock(&pm->lock);
}

void podmap_unlock(struct podmap *pm)
{
	pthread_rwlock_unlock(&pm->lock);
}

const struct podmap_pod *podmap_find_locked(const struct podmap *pm, const char *uid)
{
	for (const struct podmap_pod *p = pm->buckets[bucket_of(uid)]; p; p = p->next)
		if (strcmp(p->uid, uid) == 0)
			return p;
	return NULL;
}

const struct podmap_ctr *podmap_pod_ctr(const struct podmap_pod *pod, const char *cid)
{
	for (size_t i = 0; i < pod->nctrs; i++)
		if (strcmp(pod->ctrs[i].id, cid) == 0)
			return &pod->ctrs[i];
	return NULL;
}

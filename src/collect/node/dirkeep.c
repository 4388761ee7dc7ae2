/* Kept directory descriptors: the sysfs directories listed every scrape
 * that exist for as long as the kernel runs are rewound instead of
 * reopened. See node_dir_open() in node_int.h. */
#include "collect/node/node_int.h"

#include <dirent.h>
#include <errno.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>

#include "base/err.h"

/* Created at boot and never removed: devices/system/cpu by cpu_dev_init()
 * (subsys_system_register of the cpu subsystem; a CPU going offline removes
 * its cpuN entries, never the directory), class/net by net_dev_init()
 * (class_register(&net_class)). A removed kernfs directory would list as
 * empty through a kept descriptor, so only these are kept. */
static const char *const keepable[] = { "devices/system/cpu", "class/net" };

static bool is_keepable(const char *rel)
{
	for (size_t i = 0; i < sizeof(keepable) / sizeof(keepable[0]); i++)
		if (strcmp(rel, keepable[i]) == 0)
			return true;
	return false;
}

static bool dir_on_sysfs(DIR *d)
{
	struct statfs sf;

	return fstatfs(dirfd(d), &sf) == 0 && sf.f_type == SYSFS_MAGIC;
}

DIR *node_dir_open(struct node_collector *nc, const char *base, const char *rel, bool *on_sysfs)
{
	char path[PATH_MAX];
	struct node_kept_dir *free_slot = NULL;
	bool sysfs;
	DIR *d;

	if (node_path_join(path, sizeof(path), base, rel) != 0) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	for (size_t i = 0; i < NODE_KEPT_DIRS; i++) {
		struct node_kept_dir *k = &nc->dirs[i];

		if (!k->path) {
			if (!free_slot)
				free_slot = k;
			continue;
		}
		if (strcmp(k->path, path) != 0)
			continue;
		rewinddir(k->d);
		k->gen = nc->fds.gen;
		k->busy = true;
		if (on_sysfs)
			*on_sysfs = true;
		return k->d;
	}
	d = opendir(path);
	if (!d)
		return NULL;
	sysfs = (on_sysfs || is_keepable(rel)) && dir_on_sysfs(d);
	if (on_sysfs)
		*on_sysfs = sysfs;
	/* Kept only with the fd cache on: a limit of 0 means keep nothing. */
	if (sysfs && free_slot && nc->fds.max_open && is_keepable(rel)) {
		free_slot->path = strdup(path);
		if (free_slot->path) {
			free_slot->d = d;
			free_slot->gen = nc->fds.gen;
			free_slot->busy = true;
		}
	}
	return d;
}

void node_dir_close(struct node_collector *nc, DIR *d)
{
	for (size_t i = 0; i < NODE_KEPT_DIRS; i++) {
		if (nc->dirs[i].path && nc->dirs[i].d == d) {
			nc->dirs[i].busy = false;
			return;
		}
	}
	closedir(d);
}

static void kept_release(struct node_kept_dir *k)
{
	closedir(k->d);
	free(k->path);
	k->path = NULL;
	k->d = NULL;
}

void node_dirs_sweep(struct node_collector *nc)
{
	for (size_t i = 0; i < NODE_KEPT_DIRS; i++)
		if (nc->dirs[i].path && !nc->dirs[i].busy && nc->dirs[i].gen != nc->fds.gen)
			kept_release(&nc->dirs[i]);
}

void node_dirs_fini(struct node_collector *nc)
{
	for (size_t i = 0; i < NODE_KEPT_DIRS; i++)
		if (nc->dirs[i].path)
			kept_release(&nc->dirs[i]);
}

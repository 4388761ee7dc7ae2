/* container_* family writer: turns the rows of one scrape into the
 * exposition, cAdvisor style (reference B.2-B.4).
 *
 * Families are written in name order, each contiguous, and only when they
 * have at least one sample. Labels are cAdvisor's base set in alphabetical
 * order {container, id, image, name, namespace, pod} plus cpu="total",
 * device or interface where cAdvisor has them. Per-stats families carry the
 * scrape timestamp in ms; container_spec_* and container_start_time_seconds
 * carry none. */
#ifndef K8SMON_COLLECT_CONTAINER_FAMILY_H
#define K8SMON_COLLECT_CONTAINER_FAMILY_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "collect/container/cgread.h"
#include "collect/container/crio.h"
#include "collect/container/rootfs.h"

enum ctr_label { CL_CONTAINER = 0, CL_ID, CL_IMAGE, CL_NAME, CL_NAMESPACE, CL_POD, CL_COUNT };

struct ctr_row {
	uint32_t lbl[CL_COUNT];  /* offsets of the label values in ctr_rows.strs */
	/* Set by ctr_write_families(): offsets in ctr_rows.pre where the
	 * rendered `name="value"` of each label starts; [CL_COUNT] is one past
	 * the end (as if a comma followed the last label). */
	uint32_t pre[CL_COUNT + 1];
	struct cg_stats st;
	bool crio;               /* a CRI-O container (not a pod or conmon cgroup) */
	bool has_cfs;            /* cfs holds its writable layer's figures */
	struct crio_fs_usage cfs;
};

/* Rows of one scrape; reused across scrapes. */
struct ctr_rows {
	struct ctr_row *v;       /* owned */
	size_t n;
	size_t cap;
	struct buf strs;         /* label values, NUL-separated; offset 0 is "" */
	struct buf pre;          /* each row's label set rendered once, escaped,
				  * so the ~30 samples of a row copy it */
	struct buf extra;        /* the extra label (cpu, device, interface) of
				  * the sample being written */
};

void ctr_rows_init(struct ctr_rows *rows);
void ctr_rows_fini(struct ctr_rows *rows);
/* Empties the rows and the arena (keeping memory); offset 0 becomes "". */
int ctr_rows_reset(struct ctr_rows *rows);
/* Appends a zeroed row (all labels ""); returns it or NULL on ENOMEM. */
struct ctr_row *ctr_rows_add(struct ctr_rows *rows);
/* Stores s as label l of row. */
int ctr_row_set(struct ctr_rows *rows, struct ctr_row *row, enum ctr_label l, const char *s);
/* Label value of row as a C string. */
const char *ctr_row_get(const struct ctr_rows *rows, const struct ctr_row *row, enum ctr_label l);

/* Writes every family. r->nets / r->ios index rows; ios with dev[0] == '\0'
 * are skipped. fs (may be NULL) holds the host filesystems of row 0 when
 * that row is "/", and names the device of the rows with has_cfs (their
 * container_fs_* rows, device the filesystem of cfs's major:minor; none
 * when fs has no such filesystem, as cAdvisor). ts_ms is the sample timestamp; last_seen is ts_ms / 1000.
 * scrape_error feeds container_scrape_error. Renders each row's labels into
 * rows->pre (and uses rows->extra) first. */
int ctr_write_families(struct buf *out, struct ctr_rows *rows, const struct cg_reader *r,
		       const struct rootfs *fs, int64_t ts_ms, bool scrape_error);

#endif

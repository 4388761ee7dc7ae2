/* Newline framing of a watch stream (one JSON event per line) across
 * arbitrary chunk boundaries, in a capped buffer.
 *
 * Not thread-safe: one framer belongs to one stream on the I/O loop. */
#ifndef K8SMON_KUBE_FRAMER_H
#define K8SMON_KUBE_FRAMER_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Called once per complete line, without the '\n' (and without a trailing
 * '\r'); empty lines are skipped. line is borrowed for the call. Return 0 to
 * continue, or a negative code to stop feeding (returned by the feed). */
typedef int (*kube_line_fn)(const char *line, size_t n, void *arg);

struct kube_framer {
	struct buf partial; /* bytes of the unfinished line; cap = max line */
};

void kube_framer_init(struct kube_framer *f, size_t max_line);
void kube_framer_fini(struct kube_framer *f);
/* Forget any partial line (new stream). */
void kube_framer_reset(struct kube_framer *f);
/* Feeds n bytes. Returns 0, a callback's negative code, or KM_ETOOBIG when a
 * single line would exceed max_line: the caller must count it, log it and
 * restart the stream (relist), because an event was lost. After an error the
 * framer is reset. */
int kube_framer_feed(struct kube_framer *f, const char *p, size_t n, kube_line_fn fn, void *arg);
/* Bytes buffered of an unfinished line. */
size_t kube_framer_pending(const struct kube_framer *f);

#endif

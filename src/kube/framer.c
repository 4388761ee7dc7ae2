#include "kube/framer.h"

#include <string.h>

#include "base/err.h"

void kube_framer_init(struct kube_framer *f, size_t max_line)
{
	buf_init(&f->partial, max_line);
}

void kube_framer_fini(struct kube_framer *f)
{
	buf_fini(&f->partial);
}

void kube_framer_reset(struct kube_framer *f)
{
	buf_reset(&f->partial);
}

size_t kube_framer_pending(const struct kube_framer *f)
{
	return f->partial.len;
}

static int emit(const char *line, size_t n, kube_line_fn fn, void *arg)
{
	if (n && line[n - 1] == '\r')
		n--;
	if (n == 0)
		return 0;
	return fn(line, n, arg);
}

int kube_framer_feed(struct kube_framer *f, const char *p, size_t n, kube_line_fn fn, void *arg)
{
	const char *end = p + n;
	int rc = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t take = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (!nl || f->partial.len) {
			/* Either the line continues in a later chunk or an earlier
			 * chunk started it: assemble in the capped buffer. */
			rc = buf_add(&f->partial, p, take);
			if (rc)
				goto fail;
			if (!nl)
				return 0;
			rc = emit(f->partial.data, f->partial.len, fn, arg);
			buf_reset(&f->partial);
		} else {
			/* Whole line inside this chunk: no copy. Still cap it, so
			 * the limit does not depend on how chunks happen to fall. */
			if (take > f->partial.cap) {
				rc = KM_ETOOBIG;
				goto fail;
			}
			rc = emit(p, take, fn, arg);
		}
		if (rc)
			goto fail;
		p = nl + 1;
	}
	return 0;
fail:
	buf_reset(&f->partial);
	return rc;
}

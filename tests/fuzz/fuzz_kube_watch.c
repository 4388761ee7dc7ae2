/* Kubernetes watch stream: the framer splits chunks (sizes from the first
 * byte) into lines under a small cap, each line goes through the event
 * decoder. Nothing may crash or leak; decoded events keep their invariants. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "kube/event.h"
#include "kube/framer.h"
#include "fuzz/fuzz.h"

static int fkw_line(const char *line, size_t n, void *arg)
{
	struct kube_event ev;

	(*(size_t *)arg)++;
	memset(&ev, 0, sizeof(ev));
	if (kube_event_decode(line, n, &ev) == 0) {
		FUZZ_CHECK(ev.object != NULL);
		FUZZ_CHECK((unsigned)ev.type < KUBE_EV__COUNT);
		if (ev.type != KUBE_EV_ERROR)
			FUZZ_CHECK(ev.rv != NULL);
		(void)kube_event_expired(&ev);
		(void)kube_obj_name(ev.object);
		(void)kube_obj_namespace(ev.object);
		kube_event_fini(&ev);
	}
	return 0;
}

int fuzz_kube_watch(const uint8_t *data, size_t size)
{
	struct kube_framer f;
	size_t chunk, off = 0, lines = 0;

	if (size < 1)
		return 0;
	chunk = (size_t)data[0] + 1;
	data++;
	size--;
	kube_framer_init(&f, 4096);
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk;

		(void)kube_framer_feed(&f, (const char *)data + off, n, fkw_line, &lines);
		off += n;
	}
	FUZZ_CHECK(kube_framer_pending(&f) <= 4096);
	kube_framer_fini(&f);
	return 0;
}

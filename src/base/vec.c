#include "base/vec.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"

int vec_grow(void *vp, size_t *alloc, size_t need, size_t elem, size_t first, size_t cap)
{
	void *old, *p;
	size_t n;

	if (need <= *alloc)
		return 0;
	if (need > cap)
		return KM_ETOOBIG;
	n = *alloc ? (*alloc > SIZE_MAX / 2 ? SIZE_MAX : *alloc * 2) : first;
	if (n < need)
		n = need;
	if (n > cap)
		n = cap;
	if (elem && n > SIZE_MAX / elem)
		n = SIZE_MAX / elem;
	if (n < need)
		return KM_ENOMEM; /* need * elem does not fit a size_t */
	/* The pointer is read and written as bytes: vp points at a T *, whatever
	 * T is, and C only guarantees void * conversions, not void ** aliasing. */
	memcpy(&old, vp, sizeof(old));
	p = realloc(old, n * elem);
	if (!p)
		return KM_ENOMEM;
	memcpy(vp, &p, sizeof(p));
	*alloc = n;
	return 0;
}

/* Growth of a hand-held array (T *v; size_t n, alloc): the realloc-doubling
 * that many files wrote for themselves, with an element cap and a checked
 * byte-size multiplication.
 *
 *	if ((rc = VEC_RESERVE(l->v, l->alloc, l->n + 1, 16, TL_MAX)) != 0)
 *		return rc;
 *	l->v[l->n++] = x;
 *
 * The array stays the caller's: its pointer, count and allocation are the
 * caller's fields; it frees v with free(). */
#ifndef K8SMON_BASE_VEC_H
#define K8SMON_BASE_VEC_H

#include <stddef.h>
#include <stdint.h>

/* For an array whose length something else bounds (say which at the call):
 * only the byte-size overflow check remains. */
#define VEC_UNBOUNDED SIZE_MAX

/* The slow path of vec_reserve(). */
int vec_grow(void *vp, size_t *alloc, size_t need, size_t elem, size_t first, size_t cap);

/* Makes room for need elements of elem bytes in the array whose pointer is
 * at vp (a T **), *alloc elements being allocated: grows to twice *alloc
 * (first when nothing is allocated), or to need if that is more, at most
 * cap. Returns 0, KM_ETOOBIG when need > cap, or KM_ENOMEM when the size in
 * bytes overflows or realloc() fails; on error the array and *alloc are
 * unchanged. New elements are not initialised. */
static inline int vec_reserve(void *vp, size_t *alloc, size_t need, size_t elem, size_t first,
			      size_t cap)
{
	return need <= *alloc ? 0 : vec_grow(vp, alloc, need, elem, first, cap);
}

/* vec_reserve() for the array v (a T * lvalue) with its allocation count
 * alloc (a size_t lvalue). */
#define VEC_RESERVE(v, alloc, need, first, cap) \
	vec_reserve(&(v), &(alloc), (need), sizeof(*(v)), (first), (cap))

#endif

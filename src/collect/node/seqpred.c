/* Slot sequence of the last scrape's lookups (see struct seqpred in
 * node_int.h). */
#include "collect/node/node_int.h"

#include <stdlib.h>

size_t seqpred_guess(const struct seqpred *sp)
{
	return sp->pos < sp->len ? sp->slot[sp->pos] : SIZE_MAX;
}

void seqpred_note(struct seqpred *sp, size_t slot)
{
	if (sp->pos >= SEQPRED_MAX || slot > UINT32_MAX)
		return;
	if (sp->pos == sp->cap) {
		size_t cap = sp->cap ? sp->cap * 2 : 64;
		uint32_t *s;

		if (cap > SEQPRED_MAX)
			cap = SEQPRED_MAX;
		s = realloc(sp->slot, cap * sizeof(*s));
		if (!s)
			return; /* unpredicted lookups hash as before */
		sp->slot = s;
		sp->cap = cap;
	}
	sp->slot[sp->pos++] = (uint32_t)slot;
	if (sp->pos > sp->len)
		sp->len = sp->pos;
}

void seqpred_restart(struct seqpred *sp)
{
	sp->pos = 0;
}

void seqpred_forget(struct seqpred *sp)
{
	sp->pos = 0;
	sp->len = 0;
}

void seqpred_fini(struct seqpred *sp)
{
	free(sp->slot);
	*sp = (struct seqpred){ 0 };
}

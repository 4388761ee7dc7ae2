/* Time helpers: monotonic milliseconds for intervals and deadlines, wall clock
 * for exported timestamps, and the jittered exponential backoff used for every
 * retry loop. */
#ifndef K8SMON_BASE_CLOCK_H
#define K8SMON_BASE_CLOCK_H

#include <stdint.h>

int64_t clock_mono_ms(void);
int64_t clock_mono_ns(void);
/* CPU time used by the calling thread (a system call, ~0.1-0.5 us: not for
 * every sample). */
int64_t clock_thread_cpu_ns(void);
/* Wall clock: seconds since the epoch with sub-second precision. */
double clock_wall(void);
int64_t clock_wall_ms(void);

/* Jittered exponential backoff: min_ms doubling to max_ms, each delay drawn
 * uniformly from [d/2, d] (so peers that failed together spread out). */
struct backoff {
	int64_t min_ms, max_ms;
	int64_t cur_ms;    /* next base delay; 0 before the first failure */
	uint64_t rng;      /* xorshift state, seeded per instance */
};

void backoff_init(struct backoff *bo, int64_t min_ms, int64_t max_ms, uint64_t seed);
/* Delay to wait after one more failure. */
int64_t backoff_next(struct backoff *bo);
/* Call after a success: the next failure starts from min_ms again. */
void backoff_reset(struct backoff *bo);

#endif

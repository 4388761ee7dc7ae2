#include "base/clock.h"

#include <time.h>

int64_t clock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t clock_thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t clock_mono_ms(void)
{
	return clock_mono_ns() / 1000000;
}

double clock_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t clock_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void backoff_init(struct backoff *bo, int64_t min_ms, int64_t max_ms, uint64_t seed)
{
	bo->min_ms = min_ms;
	bo->max_ms = max_ms;
	bo->cur_ms = 0;
	bo->rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

int64_t backoff_next(struct backoff *bo)
{
	int64_t d, half;

	bo->cur_ms = bo->cur_ms ? bo->cur_ms * 2 : bo->min_ms;
	if (bo->cur_ms > bo->max_ms)
		bo->cur_ms = bo->max_ms;
	d = bo->cur_ms;
	half = d / 2;
	return half + (int64_t)(xorshift(&bo->rng) % (uint64_t)(d - half + 1));
}

void backoff_reset(struct backoff *bo)
{
	bo->cur_ms = 0;
}

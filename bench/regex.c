/* Per-match cost of regular expressions through src/base/rx.h, as relabeling
 * calls them (fully anchored, rx_new + rx_match), for catastrophic
 * backtracking patterns and for ordinary relabel patterns. Built and run by
 * bench/regex.sh against build/libk8smon.a; prints one Markdown table row per
 * (pattern, subject). rx_limit_hits() is looked up weakly so the same file
 * measures builds from before the match limits existed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/rx.h"

uint64_t rx_limit_hits(void) __attribute__((weak));

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Subject: n copies of c followed by tail. */
static char *subject(char c, size_t n, const char *tail)
{
	size_t t = strlen(tail);
	char *s = malloc(n + t + 1);

	if (!s)
		exit(1);
	memset(s, c, n);
	memcpy(s + n, tail, t + 1);
	return s;
}

/* The pattern for a Markdown table cell: '|' escaped. */
static const char *cell(const char *p, char *out, size_t n)
{
	size_t j = 0;

	for (; *p && j + 3 < n; p++) {
		if (*p == '|')
			out[j++] = '\\';
		out[j++] = *p;
	}
	out[j] = 0;
	return out;
}

static void run(const char *pattern, const char *shown_subject, const char *s, double budget_ns)
{
	char err[256], shown[128];
	struct rx *r = rx_new(pattern, err, sizeof(err));
	uint64_t hits0 = rx_limit_hits ? rx_limit_hits() : 0, n = 0;
	double t0, t1;
	bool m = false;

	if (!r) {
		printf("| `%s` | %s | rejected: %s | | |\n", cell(pattern, shown, sizeof(shown)), shown_subject, err);
		return;
	}
	t0 = now_ns();
	do {
		m = rx_match(r, s, strlen(s));
		n++;
		t1 = now_ns();
	} while (t1 - t0 < budget_ns);
	printf("| `%s` | %s | %s | %.2f | %s |\n", cell(pattern, shown, sizeof(shown)), shown_subject, m ? "match" : "no match",
	       (t1 - t0) / (double)n / 1e3,
	       rx_limit_hits ? (rx_limit_hits() - hits0 == n ? "every match" :
				rx_limit_hits() - hits0 ? "some" : "none") : "n/a");
	rx_free(r);
}

int main(int argc, char **argv)
{
	double budget = (argc > 1 ? atof(argv[1]) : 0.5) * 1e9;
	char *a24b = subject('a', 24, "b"), *a30b = subject('a', 30, "b"), *a1k = subject('a', 1000, "!");
	char *x100 = subject('x', 100, ""), *name = strdup("http_requests_total");

	printf("| pattern | subject | result | µs per match | limit hit |\n|---|---|---|---:|---|\n");
	run("(a+)+", "a×24 b", a24b, budget);
	run("(a+)+", "a×30 b", a30b, budget);
	run("(a|a)+", "a×24 b", a24b, budget);
	run("(a*)*b", "a×1000 !", a1k, budget);
	run("(.*a){12}", "a×30 b", a30b, budget);
	run("(x+x+)+y", "x×100", x100, budget);
	run("http_.*_total", "http_requests_total", name, budget);
	run("(.*)_(.*)_(.*)", "http_requests_total", name, budget);
	run("go_.*|process_.*", "http_requests_total", name, budget);
	free(a24b);
	free(a30b);
	free(a1k);
	free(x100);
	free(name);
	return 0;
}

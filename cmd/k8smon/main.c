/* k8smon entry point: flags -> agent_start(); wait for SIGINT/SIGTERM; stop.
 * Exit codes: 0 clean shutdown, 1 runtime failure, 2 bad flags, a listen
 * address that cannot be bound (one line on stderr naming the flag) or, in
 * Kubernetes mode, no loadable libcurl (one line naming the library). */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "agent/agent.h"
#include "base/log.h"
#include "config/flags.h"
#include "dl/curl.h"
#include "dl/snappy.h"
#include "dl/zstd.h"

int main(int argc, char **argv)
{
	struct flags f;
	struct agent *a;
	char err[1200] = "";
	enum flags_result fr;
	enum log_level lv = LOG_INFO;
	enum log_format fmt = LOG_FMT_LOGFMT;
	sigset_t set;
	int sig = 0;
	bool need_curl;

	/* Not dumpable, first thing: /proc/<pid>/environ, /root (and with it
	 * the mounted service-account token), /mem, /fd and ptrace become
	 * root-only (CAP_SYS_PTRACE), so another process running as the same
	 * UID -- another container on the node that sees host PIDs -- cannot
	 * read our token or memory. Our own /proc/self reads are unaffected
	 * (the kernel always lets a thread group see itself). Also no core
	 * dumps, which would hold tokens and keys. */
	int dump_rc = prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

	memset(&f, 0, sizeof(f));
	fr = flags_parse(&f, argc, argv, stdout, err, sizeof(err));
	if (fr != FLAGS_RUN) {
		if (fr == FLAGS_EXIT_USAGE)
			fprintf(stderr, "k8smon: %s\n", err);
		flags_fini(&f);
		return fr == FLAGS_EXIT_OK ? 0 : 2;
	}
	log_parse_level(f.log_level, &lv);
	log_parse_format(f.log_format, &fmt);
	log_setup(lv, fmt);
	if (dump_rc != 0)
		log_warn("main", "prctl(PR_SET_DUMPABLE, 0) failed: other processes of this UID may read /proc/<pid>/environ");

	/* Block the signals before any thread starts, so every thread inherits
	 * the mask and only sigwait() below receives them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Host mode: scrapes are serialised on the collector mutexes, so
	 * per-thread malloc arenas for the HTTP threads only cost memory
	 * (about 0.3 MiB of peak RSS, bench/node.sh). Before threads start. */
	if (!f.kubernetes)
		mallopt(M_ARENA_MAX, 1);
	/* Kubernetes mode keeps every application target's last scrape as one
	 * block (tens of KiB to MiB), replaced at each scrape, and allocates
	 * large transient blocks (LIST page bodies, a kube-state scrape's
	 * snapshot: 4 MiB at 100k pods). From the heap, freed blocks left holes
	 * that stayed resident (1,000 targets x 1,000 series: 157-177 MiB of RSS
	 * for 78 MiB of samples; kube-state at 100k pods grew 15 MiB over six
	 * scrapes). At 64 KiB and up each block is a mapping of its own,
	 * returned whole when freed (bench/scrape.sh, bench/kube_state.sh,
	 * BENCHMARKS.md). Fixed, not glibc's sliding threshold, which rises to
	 * the block size after the first free and puts them back on the heap. */
	else
		mallopt(M_MMAP_THRESHOLD, 64 << 10);

	/* Only Kubernetes mode uses libcurl (API client, TokenReview, app
	 * scraper, all on the kube loop), so only it loads the library (and
	 * OpenSSL with it): host mode keeps 20 libraries out of memory (about
	 * 3 MiB of RSS, bench/node.sh). Loaded here, not on first use, so a
	 * missing libcurl is a startup error, like a bad flag. Before any
	 * thread starts: the table is written once and libcurl's global init
	 * is not thread-safe. */
	need_curl = f.kubernetes || f.rw_urls.n;
	if (need_curl && dl_curl_load(err, sizeof(err)) != 0) {
		fprintf(stderr, "k8smon: %s\n", err);
		flags_fini(&f);
		return 2;
	}
	/* Remote write compresses with snappy (C++: libstdc++ comes with it),
	 * loaded only when pushing. */
	if (f.rw_urls.n && dl_snappy_load(err, sizeof(err)) != 0) {
		fprintf(stderr, "k8smon: %s\n", err);
		flags_fini(&f);
		return 2;
	}
	/* In Kubernetes mode a K8sMonitor may add destinations later: loaded
	 * now (threads start next), a missing library only fails that spec. */
	if (f.kubernetes && !f.rw_urls.n && dl_snappy_load(err, sizeof(err)) != 0)
		fprintf(stderr, "k8smon: %s; K8sMonitor spec.remoteWrite will not work\n", err);
	/* zstd only for receivers that speak VictoriaMetrics' variant: without
	 * it every destination gets the Prometheus protocol (snappy). */
	if ((f.rw_urls.n || f.kubernetes) && dl_zstd_load(err, sizeof(err)) != 0)
		fprintf(stderr, "k8smon: %s; remote write uses snappy only\n", err);
	if (need_curl && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "k8smon: cannot initialise libcurl\n");
		flags_fini(&f);
		return 1;
	}
	a = agent_start(&f, err, sizeof(err));
	if (!a) {
		fprintf(stderr, "k8smon: %s\n", err);
		flags_fini(&f);
		if (need_curl)
			curl_global_cleanup();
		return 2;
	}
	sigwait(&set, &sig);
	log_info("main", "received %s, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	agent_stop(a);
	flags_fini(&f);
	if (need_curl)
		curl_global_cleanup();
	return 0;
}

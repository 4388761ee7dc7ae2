/* Internals shared by scrape.c (manager), scraper.c (HTTP + parse), apps.c
 * (/metrics/apps, self-metrics) and targets_json.c. Not a public API.
 *
 * Locking: m->lock guards the target array as HTTP threads see it (m->view)
 * and every "result" field of struct tstate. The loop thread is the only
 * writer of both. Rendered samples are immutable refcounted blobs so that a
 * reader copies them without holding the lock. */
#ifndef K8SMON_SCRAPE_SCRAPE_INT_H
#define K8SMON_SCRAPE_SCRAPE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "base/buf.h"
#include "base/log.h"
#include "dl/curl.h"
#include "expo/parser.h"
#include "kube/store.h"
#include "remotewrite/chunks.h"
#include "scrape/policy.h"
#include "scrape/scache.h"
#include "scrape/scrape.h"
#include "scrape/target.h"

enum scrape_health { HEALTH_UNKNOWN = 0, HEALTH_UP, HEALTH_DOWN, HEALTH__COUNT };

enum scrape_err {
	SERR_TIMEOUT = 0,
	SERR_CONNECT,
	SERR_HTTP_STATUS,
	SERR_TLS,
	SERR_REDIRECTS,
	SERR_BODY_TOO_LARGE,
	SERR_SAMPLE_LIMIT,
	SERR_LABEL_LIMIT,
	SERR_PARSE,
	SERR_OUTPUT_TOO_LARGE,
	SERR_RELABEL_CPU,
	SERR_OTHER,
	SERR_ADDRESS,               /* connected address refused by the policy */
	SERR_MEMORY_BUDGET,         /* agent-wide budget of scraped samples */
	SERR__COUNT
};

/* Samples of one successful scrape, in the stored form of scrape/blob.h.
 * With splice the target's labels are added to every sample when the blob
 * is written (apps.c); HELP/TYPE lines come before a family's first sample
 * and apps.c writes each only once per response. */
struct blob {
	_Atomic int refs;
	bool splice;
	size_t len;
	char data[];
};

void blob_unref(struct blob *b);

/* A streaming parser lent to one scrape at a time (scraper.c): the
 * manager pools them, so a target holds a parser (64 KiB line buffer and
 * family table) only while its scrape is in flight. The parser's callback
 * context is the slot, which names the target being parsed. */
struct pslot {
	struct expo_parser *p;      /* owned */
	struct tstate *s;           /* scrape using it; NULL when pooled */
	bool om;                    /* created for OpenMetrics text */
	struct pslot *next;         /* free list */
};

/* Pooled parsers kept at most (more are freed when returned). */
#define PSLOT_POOL_MAX 64
/* Remote-write scratch kept at most (~200 KiB each once grown): more
 * scrapes in flight at once than this allocate their own. */
#define PUSH_SCRATCH_POOL_MAX 16

/* libcurl connection caches the targets are spread over, each new target
 * to the one with the fewest (scraper.c). libcurl 7.88, at a transfer's start, at most once a second
 * per cache, checks every idle connection of the transfer's cache for a
 * close by its peer with a poll() each, and at every transfer's end walks
 * the whole cache again (connect-only bookkeeping): with one cache for
 * 1,000 kept-alive targets that was ~1,000 polls a second, ~17 % of push
 * mode's CPU (BENCHMARKS.md, h-diag). With the targets spread over this
 * many caches a sweep visits ~targets/SCRAPE_CONN_CACHES connections. A
 * cache (a CURLSH with its closure easy handle and a 103-slot hash) costs
 * ~9 KB, so caches are made when first dealt. A dead connection is still
 * found before its reuse: libcurl checks the one it is about to reuse. */
#define SCRAPE_CONN_CACHES 256

/* What remote write adds to every series of the manager's targets
 * (scrape_mgr_set_push): immutable once published. */
struct scrape_push {
	struct rw_label ext[32];   /* owned strings (mem) */
	size_t next;
	char *node;                /* owned */
	char *mem[32];
};

/* Per-target scrape state (scraper.c). */
struct tstate {
	struct scrape_mgr *m;
	struct target *t;
	CURL *easy;
	int conn_cache;             /* index in m->conn_caches while easy uses it, else -1 */
	uint64_t timer;
	bool busy;
	int64_t next_ms;            /* monotonic time of the next scrape */
	int64_t start_ns;
	/* during a scrape (loop thread): what it started with */
	struct scrape_rule *rule;   /* reference held while busy; else NULL */
	int64_t timeout_ms;
	bool splice;                /* blobs leave the target labels out */
	struct pslot *ps;           /* parser of the scrape in flight, or NULL */
	struct buf out;             /* samples being rendered, after a blob header */
	size_t out_hint;            /* rendered bytes of the last good scrape */
	struct buf scratch;
	struct curl_slist *hdrs;    /* this scrape's headers when its rule has a token, else NULL */
	char *tlabels_text;         /* target labels rendered 'a="b",c="d"' */
	size_t body_bytes;
	uint64_t n_scraped, n_post;
	uint64_t meta_last;         /* hash of the family whose HELP/TYPE was last rendered */
	bool meta_set;
	uint64_t n_label_drops;     /* samples over the label caps after metricRelabelings */
	/* CPU budget (metricRelabelings only): thread CPU spent on this
	 * scrape's body in earlier chunks, and at the start of this one. */
	int64_t cpu_ns, cpu_t0;
	unsigned cpu_tick;
	bool paused;                /* on m->paused, waiting for its next slice */
	struct tstate *next_paused;
	enum scrape_err fail;       /* set by callbacks to abort */
	bool failed;
	char fail_msg[256];
	size_t fail_pub;            /* fail_msg[0, fail_pub) holds no response bytes */
	/* Fixed at start from the rule and the manager's policy. */
	enum { REFUSE_NONE = 0, REFUSE_ADDRESS, REFUSE_TARGET_LIMIT } refuse;
	char refused[256];          /* why the target is not scraped (refuse != NONE) */
	bool honor;                 /* honorLabels, as the policy allows it */
	bool force_ns;              /* namespace label is the rule's: scraped never wins */
	uint64_t tl_mask;           /* name_bit() of every target label name (scraper.c) */
	uint64_t sample_limit;      /* effective, per scrape; 0 = none */
	size_t acct;                /* bytes of out counted in m->inflight_bytes */
	size_t name_off, name_len;  /* name of the last BLOB_NAME record in out; 0 = none */
	struct buf prev_pairs;      /* pairs of the last sample record in out (blob.h front coding) */
	/* remote write (push.c): during a scrape, loop thread */
	const struct scrape_push *push; /* the manager's, or NULL: not encoding */
	struct rw_chunker ck;
	struct buf pxn;             /* exported_<name> label names of one series */
	struct push_over *over;     /* this scrape's target-level labels, sorted (push.c); owned */
	size_t nover;
	int64_t scrape_ms;          /* wall time the scrape started */
	/* results (guarded by m->lock) */
	enum scrape_health health;
	char last_error[256];
	size_t last_error_pub;      /* published length without response excerpts */
	double last_scrape;         /* wall seconds; 0 = never */
	double last_duration;
	uint64_t r_scraped, r_post, r_added;
	struct blob *samples;       /* NULL when down */
	struct rw_chunks *pushed;   /* encoded last scrape, not collected yet; NULL: none */
	size_t pushed_acct;         /* bytes of pushed counted in m->kept_bytes (push only) */
	/* Staleness markers (stale.c): the last scrape's chunks (a reference
	 * shared with pushed), kept until the next scrape ends, and the
	 * markers not collected yet. */
	struct rw_chunks *stale_prev;
	int64_t stale_prev_ms;      /* its scrape_ms */
	size_t stale_acct;          /* bytes of stale_prev counted in m->kept_bytes */
	struct rw_chunks *stale_pending;
	bool vanished;              /* loop thread: a series of the last good scrape is not in this one */
	/* Push only (push_keep_text false when the scrape starts): no text is
	 * rendered for /metrics/apps, and the series identities
	 * (scrape/series.h) stand in for the blob in scrape_series_added. */
	bool text;                  /* this scrape keeps its samples as text */
	struct buf ids;             /* u64 ids of this scrape's samples, in order */
	uint64_t *ids_last;         /* of the last good push-only scrape (owned), or NULL */
	size_t nids_last;
	struct scache sc;           /* series text hashes beside ids_last (scrape/scache.h) */
	size_t sc_acct;             /* bytes of sc counted in m->kept_bytes */
	uint64_t n_hits;            /* samples of this scrape whose id came from sc */
};

/* Prometheus 2.x's Accept header for scrapes (scrape/scrape.go). */
#define SCRAPE_ACCEPT_HEADER                                                                   \
	"Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;"    \
	"version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

/* How often recompute re-reads the node's interface addresses. */
#define NODE_ADDRS_REFRESH_MS 10000

/* Kinds the manager may watch: the roles, then Namespaces, watched only
 * while a rule's namespaceSelector needs namespace labels. */
#define WATCH_NAMESPACES ((int)ROLE_COUNT)
#define WATCH_COUNT (WATCH_NAMESPACES + 1)

/* Reflector callback argument: which watched kind (a role or
 * WATCH_NAMESPACES) an object belongs to. */
struct scrape_role_arg {
	struct scrape_mgr *m;
	int kind;
	uint64_t seq;               /* of the reflector (m->refl_seq) */
};

struct scrape_mgr {
	struct kube_loop *loop;     /* the manager's own (scrape) loop, owned */
	struct kube_loop *api_loop; /* the informers' loop (borrowed) */
	struct kube_informers *informers;
	char *node_name;
	char *self_prefix;          /* of the self-metric families */
	size_t body_max;
	pthread_mutex_t lock;
	/* The settings in effect (scrape_mgr_apply): loop thread only. */
	int64_t interval_ms;
	bool leader;
	struct scrape_rule **rules; /* owned refs */
	size_t nrules;
	/* The enabled setting, for every thread: written only on the loop, by
	 * the constructor and by each applied snapshot. A lone flag, so a
	 * reader cannot see half a snapshot of it. */
	atomic_bool enabled;
	struct scrape_rule *builtin;
	json_t *objs[WATCH_COUNT];  /* key -> object, loop thread */
	struct kube_sub *sub[WATCH_COUNT];
	struct scrape_role_arg role_args[WATCH_COUNT];
	uint64_t refl_seq[WATCH_COUNT]; /* running reflector's number, 0 = none */
	uint64_t next_seq;
	uint64_t recompute_timer;
	bool stopping;
	struct tset set;            /* loop thread writes; readers lock */
	/* Targets given whole (scrape_mgr_set_static): loop thread only. */
	struct scrape_static *statics;
	size_t nstatics;
	struct curl_slist *headers;
	long conn_cache;            /* CURLMOPT_MAXCONNECTS set (loop thread) */
	/* Loop thread; each made at first use, owned, freed after the loop
	 * (the easy handles using them are gone by then). */
	CURLSH *conn_caches[SCRAPE_CONN_CACHES];
	unsigned conn_users[SCRAPE_CONN_CACHES]; /* targets using each */
	struct scrape_policy policy; /* loop thread */
	struct addr_set node_addrs;  /* loop thread; refreshed by recompute */
	int64_t node_addrs_ms;       /* monotonic time of the last refresh; 0 = never */
	struct addr_set api_addrs;   /* set at creation */
	struct pslot *pool;         /* idle parsers (loop thread) */
	size_t npool;
	/* Idle remote-write scratch (push.c; loop thread): lent to each
	 * scrape in flight, as the parsers are. */
	struct rw_scratch ckpool[PUSH_SCRATCH_POOL_MAX];
	size_t nckpool;
	/* counters (atomic, any thread reads) */
	_Atomic uint64_t errors[SERR__COUNT];
	_Atomic uint64_t scrapes, samples, discovery_errors, parse_errors;
	_Atomic uint64_t label_drops;  /* k8smon_scrape_samples_dropped_total{reason="label_limit"} */
	/* Time slices of the scrape loop (scraper.c): CPU spent in body
	 * callbacks of metricRelabelings targets since the loop last ran
	 * its posts, and the transfers paused until it does again. */
	int64_t slice_ns;
	struct tstate *paused;
	bool resume_posted;
	_Atomic uint64_t slice_pauses; /* k8smon_scrape_slice_pauses_total */
	_Atomic uint64_t stale_markers; /* k8smon_scrape_stale_markers_total (stale.c) */
	_Atomic uint64_t name_drops;   /* ...{reason="invalid_metric_name"} */
	_Atomic uint64_t lname_drops;  /* ...{reason="invalid_label_name"} */
	_Atomic uint64_t kept_bytes;   /* rendered samples held in blobs */
	_Atomic uint64_t inflight_bytes; /* rendered samples of scrapes in flight */
	_Atomic uint64_t memory_budget;  /* copy of policy.memory_budget for readers */
	_Atomic uint64_t rules_confined; /* rules denied a namespaceSelector/role beyond their namespace */
	_Atomic uint64_t honor_denied;   /* rules whose honorLabels the policy ignores */
	_Atomic uint64_t builtin_skipped; /* built-in targets left to a ScrapeRule (last recompute) */
	_Atomic(struct scrape_push *) push; /* set once (scrape_mgr_set_push), freed with m */
	_Atomic int64_t apps_read_ms;  /* monotonic time /metrics/apps was last opened; 0 = never */
	atomic_bool text_wanted;       /* scrape_mgr_set_text_wanted */
	atomic_bool no_stale;          /* scrape_mgr_set_stale_markers(false) */
	atomic_bool no_scache;         /* scrape_mgr_set_series_cache(false) */
	_Atomic uint64_t scache_hits;  /* samples whose id came from the series cache (for tests) */
	struct rw_chunks *stale_gone;  /* markers of removed targets, not collected (m->lock) */
	struct log_limit scrape_log;   /* loop thread */
	struct log_limit drop_log;     /* loop thread */
};

/* scraper.c */
/* Starts scraping t; with limit_msg (not NULL) the target is refused by a
 * target count limit: down with that message, never fetched. */
int tstate_start(struct scrape_mgr *m, struct target *t, const char *limit_msg);
/* Whether t's running state no longer matches what the policy and
 * limit_msg ask (then the caller restarts it). */
bool tstate_stale(const struct scrape_mgr *m, const struct target *t, const char *limit_msg);
void tstate_stop(struct target *t, void *arg);
/* tset_update's retuned callback: reschedules a kept target whose interval
 * changed; its samples, health and series stay. */
void tstate_retune(struct target *t, const struct disc_target *prev, void *arg);
/* Frees the idle parsers (loop thread, at stop). */
void pslot_pool_free(struct scrape_mgr *m);
const char *scrape_err_name(enum scrape_err e);

/* push.c, loop thread. Whether a scrape starting now keeps its samples as
 * text for /metrics/apps: always without remote write or with
 * spec.scrape.keepAppsText, else while /metrics/apps has been read within
 * SCRAPE_APPS_IDLE_MS (or 3 of the target's intervals, if longer). */
bool push_keep_text(const struct tstate *s);
/* At the start of a scrape: encoding or not. */
void push_begin(struct tstate *s);
/* Frees the idle scratch pool (at stop, after every target's). */
void push_pool_free(struct scrape_mgr *m);
/* One rendered sample (render's arguments): encoded too. */
/* lv[0, ln): the sample's labels, sorted, no empty value, not
 * NUL-terminated (the parser's slices or a label set's pairs). */
int push_series(struct tstate *s, const char *name, const struct label_ref *lv, size_t ln, double v, bool has_ts,
		int64_t ts);
/* Whether lv[0, ln) has a label called name (NUL-terminated). */
bool refs_has(const struct label_ref *lv, size_t ln, const char *name);
/* At the end of a scrape: the synthetic series, then the result goes to
 * s->pushed (under m->lock, taken here). up: the scrape succeeded. */
void push_end(struct tstate *s, bool up, double duration, uint64_t scraped, uint64_t post, uint64_t added);
/* Frees what s holds for remote write (tstate_stop). */
void push_fini(struct tstate *s);

/* stale.c, loop thread. At push_end, with the scrape's chunks k (a
 * reference is taken, kept until the next scrape ends) and up: the
 * markers for what vanished since the last scrape (the caller's), or
 * NULL. Decodes only when something vanished; no lock needed. */
struct rw_chunks *stale_after_scrape(struct tstate *s, struct rw_chunks *k, bool up);
/* Queues markers mk (taken over; NULL is ok) on s->stale_pending for the
 * next collection; the caller holds m->lock. */
void stale_pend(struct tstate *s, struct rw_chunks *mk);
/* The target goes away (tstate_stop, m->lock held; not at shutdown): its
 * uncollected chunks and markers for every series of its last scrape go
 * to m->stale_gone. Then frees the stale state of s. */
void stale_gone(struct tstate *s);
/* Frees the stale state of s. */
void stale_fini(struct tstate *s);
/* Frees m->push (scrape_mgr_free). */
void scrape_push_free(struct scrape_mgr *m);
const char *scrape_health_name(enum scrape_health h);

#endif

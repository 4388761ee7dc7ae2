/* ScrapeRule: the JSON of a k8smon.io/v1alpha1 ScrapeRule compiled into an
 * immutable, validated rule (crds/scraperules.k8smon.io.yaml is the schema),
 * plus the built-in annotation rule that runs next to them (unless K8sMonitor
 * spec.scrape.builtinRule is false).
 *
 * Validation repeats what the CRD's OpenAPI/CEL rules check (a rule may come
 * from an API server that does not enforce them, or from a test) and adds
 * what CEL cannot: regexes compile, durations parse. The first problem is
 * reported with its field path, e.g.
 *   spec.scrapeTimeout: 30s is longer than spec.interval 10s
 *
 * Ownership: a compiled rule owns all its strings, selectors and relabel
 * programs; it is reference counted because targets keep the rule they came
 * from while the manager swaps the rule list. */
#ifndef K8SMON_SCRAPE_RULE_H
#define K8SMON_SCRAPE_RULE_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct selector;
struct relabel_cfg;

enum scrape_role {
	ROLE_POD = 0,
	ROLE_SERVICE,
	ROLE_ENDPOINTS,
	ROLE_ENDPOINTSLICE,
	ROLE_NODE,
	ROLE_INGRESS,
	ROLE_COUNT
};

#define RULE_PREFIX_MAX 2       /* the built-in rule listens to two prefixes */
#define RULE_DEFAULT_PREFIX "victoriametrics.com"
#define RULE_BUILTIN_JOB "kubernetes-pods"
/* Prometheus' default scrape timeout, capped by the interval. */
#define RULE_DEFAULT_TIMEOUT_MS 10000

/* How a scrape authenticates: set only on the rules of the built-in
 * component jobs (src/collect/components/); ScrapeRules have none. */
struct scrape_auth {
	char *bearer_token_file;    /* owned; read at every scrape (tokens rotate); NULL = none */
	char *ca_file;              /* owned; NULL = the system bundle */
	char *cert_file, *key_file; /* owned; TLS client certificate, or NULL */
	bool insecure_skip_verify;  /* the server's certificate is not verified */
};

struct scrape_rule {
	_Atomic int refs;
	char *namespace;            /* "" for the built-in rule */
	char *name;                 /* "builtin" for the built-in rule */
	char *job;                  /* value of the job label: "<ns>/<name>" or RULE_BUILTIN_JOB */
	int64_t generation;         /* metadata.generation (0 for the built-in) */
	bool builtin;
	enum scrape_role role;
	char *prefix[RULE_PREFIX_MAX];
	size_t nprefix;
	bool require_annotation;
	struct selector *selector;  /* never NULL; empty = everything */
	/* namespaceSelector: absent = own namespace only; present = matched
	 * against the namespace's labels (see discovery.h for which labels). */
	struct selector *ns_selector; /* NULL = own namespace only */
	char *port;                 /* "8080" or "metrics"; NULL = every declared port */
	char *path;                 /* default "/metrics" */
	char *scheme;               /* "http" or "https" */
	int64_t interval_ms;        /* 0 = the agent's interval */
	int64_t timeout_ms;         /* 0 = min(10s, interval) */
	uint64_t sample_limit;      /* 0 = none */
	/* Prometheus' label_limit, label_name_length_limit and
	 * label_value_length_limit: checked on every sample's final label set
	 * (__name__ and target labels included); one sample over any of them
	 * fails the scrape. 0 = none. */
	uint32_t label_limit;
	uint32_t label_name_length_limit;
	uint32_t label_value_length_limit;
	bool honor_labels;
	struct relabel_cfg *relabel;        /* NULL = none */
	struct relabel_cfg *metric_relabel; /* NULL = none */
	struct scrape_auth auth;
};

/* Compiles a ScrapeRule object (borrowed). NULL with a field-path message in
 * err when invalid (or "out of memory"). */
struct scrape_rule *scrape_rule_compile(const json_t *obj, char *err, size_t errlen);
/* The built-in rule: role pod, prefixes victoriametrics.com and
 * prometheus.io, annotation required, every namespace. NULL on ENOMEM. */
struct scrape_rule *scrape_rule_builtin(void);
struct scrape_rule *scrape_rule_ref(struct scrape_rule *r);
/* Drops a reference; frees at zero. NULL is ok. */
void scrape_rule_unref(struct scrape_rule *r);

/* "pod", "service", ...; and back. KM_EINVAL for unknown names. */
const char *scrape_role_name(enum scrape_role role);
int scrape_role_parse(const char *s, enum scrape_role *out);

/* Effective interval/timeout of a rule given the agent's default interval
 * (annotations may still override per object). */
int64_t scrape_rule_interval(const struct scrape_rule *r, int64_t dflt_interval_ms);
int64_t scrape_rule_timeout(const struct scrape_rule *r, int64_t interval_ms);

#endif

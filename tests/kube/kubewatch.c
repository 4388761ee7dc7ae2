/* kubewatch: test vehicle for src/kube. Connects with a kubeconfig (or
 * in-cluster), runs one reflector per --resource and optionally Lease leader
 * election, and answers commands on stdin:
 *   dump PATH   write {"synced":b,"violations":n,"objects":{res:{key:rv}}} to PATH, print "DUMPED"
 *   metrics     print the self-metrics followed by "END"
 *   leader      print "LEADER yes|no"
 *   update NS NAME  kube_update() of pod NS/NAME setting label touched=yes,
 *               prints "UPDATED <rc> <status>"
 *   update-status NS NAME  the same on the /status subresource, setting
 *               status.message "touched"
 *   quit        clean shutdown (releases the Lease)
 * and prints "SYNCED <resource>" and "LEADER start|stop" as they happen.
 *
 * It also checks that every notification is applied once and in order, per
 * object: an add only for an absent object, an update or delete only for a
 * present one, and the resourceVersion of an add or update strictly greater
 * than any seen before (an event applied twice repeats its RV), of a delete
 * not smaller. Any breach is a "violation" (the fake API uses integer RVs;
 * real clients must treat RVs as opaque, this check is test-only). */
#include <jansson.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "base/parse.h"
#include "dl/curl.h"
#include "kube/client.h"
#include "kube/conn.h"
#include "kube/event.h"
#include "kube/leader.h"
#include "kube/loop.h"
#include "kube/reflector.h"
#include "kube/write.h"

#define MAX_RES 8

struct watched {
	struct kube_reflector *r;
	json_t *seen;     /* key -> [integer RV last reported, present] (loop thread) */
	long violations;
	char *spec;
};

static struct watched g_w[MAX_RES];
static int g_nw;
static atomic_bool g_leader;

enum change { CH_ADD, CH_UPDATE, CH_DELETE };

static void check_change(struct watched *w, json_t *obj, enum change ch)
{
	static const char *const what[] = { "add", "update", "delete" };
	struct buf key;
	const char *rv = kube_obj_rv(obj), *bad = NULL;
	int64_t v = 0, prev_v;
	json_t *prev;
	bool present;

	buf_init(&key, 1024);
	if (!rv || parse_i64(rv, strlen(rv), &v) || kube_store_key(obj, &key)) {
		w->violations++;
		fprintf(stderr, "VIOLATION %s without a key or an integer resourceVersion\n", what[ch]);
		buf_fini(&key);
		return;
	}
	prev = json_object_get(w->seen, buf_cstr(&key));
	prev_v = prev ? json_integer_value(json_array_get(prev, 0)) : 0;
	present = prev && json_is_true(json_array_get(prev, 1));
	if (ch == CH_ADD && present)
		bad = "add of an object already present";
	else if (ch != CH_ADD && !present)
		bad = ch == CH_UPDATE ? "update of an absent object" : "delete of an absent object";
	else if (prev && ch != CH_DELETE && v <= prev_v)
		bad = "resourceVersion not newer (applied twice or out of order)";
	else if (prev && ch == CH_DELETE && v < prev_v)
		bad = "resourceVersion went backwards";
	if (bad) {
		w->violations++;
		fprintf(stderr, "VIOLATION %s %s: %s (rv %lld, previous %lld)\n", what[ch], buf_cstr(&key),
			bad, (long long)v, (long long)prev_v);
	}
	json_object_set_new(w->seen, buf_cstr(&key),
			    json_pack("[I,b]", (json_int_t)v, ch != CH_DELETE));
	buf_fini(&key);
}

static void on_add(json_t *obj, void *arg) { check_change(arg, obj, CH_ADD); }
static void on_update(json_t *o, json_t *n, void *arg) { (void)o; check_change(arg, n, CH_UPDATE); }
static void on_delete(json_t *obj, void *arg) { check_change(arg, obj, CH_DELETE); }

static void on_synced(void *arg)
{
	struct watched *w = arg;

	printf("SYNCED %s\n", w->spec);
	fflush(stdout);
}

static void on_lead(void *arg)
{
	(void)arg;
	atomic_store(&g_leader, true);
	printf("LEADER start\n");
	fflush(stdout);
}

static void on_unlead(void *arg)
{
	(void)arg;
	atomic_store(&g_leader, false);
	printf("LEADER stop\n");
	fflush(stdout);
}

/* "v1/pods", "apps/v1/deployments", "k8smon.io/v1alpha1/k8smonitors:cluster" */
static int parse_res(char *spec, struct kube_resource *res)
{
	char *colon = strchr(spec, ':');
	char *a, *b;

	res->namespaced = true;
	if (colon) {
		*colon = '\0';
		res->namespaced = strcmp(colon + 1, "cluster") != 0;
	}
	a = strchr(spec, '/');
	if (!a)
		return KM_EINVAL;
	b = strchr(a + 1, '/');
	*a = '\0';
	if (b) {
		*b = '\0';
		res->group = spec;
		res->version = a + 1;
		res->resource = b + 1;
	} else {
		res->group = "";
		res->version = spec;
		res->resource = a + 1;
	}
	return 0;
}

struct dump_ctx {
	json_t *out;
};

static void dump_on_loop(void *arg)
{
	struct dump_ctx *d = arg;
	json_t *objs = json_object();
	bool synced = true;
	long viol = 0;

	for (int i = 0; i < g_nw; i++) {
		json_t *snap = kube_store_snapshot(kube_reflector_store(g_w[i].r));
		json_t *m = json_object(), *o;
		const char *k;

		json_object_foreach(snap, k, o)
			json_object_set_new(m, k, json_string(kube_obj_rv(o) ? kube_obj_rv(o) : ""));
		json_decref(snap);
		json_object_set_new(objs, kube_reflector_name(g_w[i].r), m);
		synced = synced && kube_reflector_synced(g_w[i].r);
		viol += g_w[i].violations;
	}
	d->out = json_pack("{s:b, s:i, s:o}", "synced", synced, "violations", (json_int_t)viol,
			   "objects", objs);
}

static json_t *touch(json_t *cur, void *arg)
{
	(void)cur;
	(void)arg;
	return json_pack("{s:{s:{s:s}}}", "metadata", "labels", "touched", "yes");
}

static json_t *touch_status(json_t *cur, void *arg)
{
	(void)cur;
	(void)arg;
	return json_pack("{s:{s:s}}", "status", "message", "touched");
}

static void updated(int rc, long status, json_t *obj, void *arg)
{
	(void)obj;
	(void)arg;
	printf("UPDATED %d %ld\n", rc, status);
	fflush(stdout);
}

static int get_int(const char *s, int *out)
{
	int64_t v;

	if (parse_i64(s, strlen(s), &v) || v < 0 || v > 1000000000)
		return KM_EINVAL;
	*out = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	const char *kubeconfig = NULL, *ns = NULL, *fsel = NULL, *lsel = NULL, *lease = NULL;
	const char *identity = NULL;
	char *specs[MAX_RES];
	int nspec = 0, watch_timeout = 0, idle = 0, lease_ms = 0, renew_ms = 0, retry_ms = 0;
	int warn_objects = 0, max_event = 0, token_ttl = 0, page_size = 0;
	struct kube_conn conn;
	struct kube_loop *loop = NULL;
	struct kube_client *client = NULL;
	struct kube_leader *leader = NULL;
	char err[1024], line[4096];
	int rc = 1;

	signal(SIGPIPE, SIG_IGN);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v && strcmp(a, "--debug") != 0) {
			fprintf(stderr, "usage: see header of tests/kube/kubewatch.c\n");
			return 2;
		}
		if (strcmp(a, "--debug") == 0) {
			log_setup(LOG_DEBUG, LOG_FMT_LOGFMT);
			continue;
		}
		i++;
		if (strcmp(a, "--kubeconfig") == 0) kubeconfig = v;
		else if (strcmp(a, "--resource") == 0 && nspec < MAX_RES) specs[nspec++] = strdup(v);
		else if (strcmp(a, "--namespace") == 0) ns = v;
		else if (strcmp(a, "--field-selector") == 0) fsel = v;
		else if (strcmp(a, "--label-selector") == 0) lsel = v;
		else if (strcmp(a, "--lease") == 0) lease = v;
		else if (strcmp(a, "--identity") == 0) identity = v;
		else if (strcmp(a, "--watch-timeout") == 0 && !get_int(v, &watch_timeout)) ;
		else if (strcmp(a, "--idle-timeout") == 0 && !get_int(v, &idle)) ;
		else if (strcmp(a, "--warn-objects") == 0 && !get_int(v, &warn_objects)) ;
		else if (strcmp(a, "--max-event-bytes") == 0 && !get_int(v, &max_event)) ;
		else if (strcmp(a, "--token-ttl-ms") == 0 && !get_int(v, &token_ttl)) ;
		else if (strcmp(a, "--page-size") == 0 && !get_int(v, &page_size)) ;
		else if (strcmp(a, "--lease-ms") == 0 && !get_int(v, &lease_ms)) ;
		else if (strcmp(a, "--renew-ms") == 0 && !get_int(v, &renew_ms)) ;
		else if (strcmp(a, "--retry-ms") == 0 && !get_int(v, &retry_ms)) ;
		else {
			fprintf(stderr, "bad argument %s\n", a);
			return 2;
		}
	}
	if (dl_curl_load(err, sizeof(err))) {
		fprintf(stderr, "kubewatch: %s\n", err);
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (kube_conn_load(&conn, kubeconfig, err, sizeof(err))) {
		fprintf(stderr, "kubewatch: %s\n", err);
		return 2;
	}
	conn.token_ttl_ms = token_ttl;
	loop = kube_loop_new();
	client = loop ? kube_client_new(&conn, loop, err, sizeof(err)) : NULL;
	kube_conn_fini(&conn);
	if (!client) {
		fprintf(stderr, "kubewatch: %s\n", err);
		goto out;
	}
	for (int i = 0; i < nspec; i++) {
		struct kube_reflector_opts o = { 0 };
		struct watched *w = &g_w[g_nw];

		w->spec = strdup(specs[i]);
		if (parse_res(specs[i], &o.res)) {
			fprintf(stderr, "kubewatch: bad --resource %s\n", w->spec);
			goto out;
		}
		o.namespace = ns;
		o.field_selector = fsel;
		o.label_selector = lsel;
		o.watch_timeout_s = watch_timeout;
		o.idle_timeout_s = idle;
		o.warn_objects = (size_t)warn_objects;
		o.max_event_bytes = (size_t)max_event;
		o.page_size = (unsigned)page_size;
		o.cbs = (struct kube_reflector_cbs){ on_add, on_update, on_delete, on_synced, w };
		w->seen = json_object();
		w->r = kube_reflector_new(client, &o);
		if (!w->r)
			goto out;
		g_nw++;
	}
	if (lease) {
		struct kube_leader_opts lo = { 0 };
		char *lns = strdup(lease), *slash = strchr(lns, '/');

		if (!slash) {
			fprintf(stderr, "kubewatch: --lease NS/NAME\n");
			free(lns);
			goto out;
		}
		*slash = '\0';
		lo.namespace = lns;
		lo.name = slash + 1;
		lo.identity = identity ? identity : "kubewatch";
		lo.lease_ms = lease_ms;
		lo.renew_deadline_ms = renew_ms;
		lo.retry_ms = retry_ms;
		lo.on_started = on_lead;
		lo.on_stopped = on_unlead;
		leader = kube_leader_new(client, &lo);
		free(lns);
		if (!leader)
			goto out;
	}
	if (kube_loop_start(loop))
		goto out;
	for (int i = 0; i < g_nw; i++)
		kube_reflector_start(g_w[i].r);
	if (leader)
		kube_leader_start(leader);
	printf("STARTED\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (strncmp(line, "dump ", 5) == 0) {
			struct dump_ctx d = { NULL };

			kube_loop_call(loop, dump_on_loop, &d);
			if (json_dump_file(d.out, line + 5, JSON_COMPACT))
				printf("DUMP-FAILED\n");
			else
				printf("DUMPED\n");
			json_decref(d.out);
		} else if (strcmp(line, "metrics") == 0) {
			struct buf b;

			buf_init(&b, 1 << 22);
			kube_metrics_write(client, &b);
			printf("%sEND\n", buf_cstr(&b));
			buf_fini(&b);
		} else if (strcmp(line, "leader") == 0) {
			printf("LEADER %s\n", leader && kube_leader_is_leader(leader) ? "yes" : "no");
		} else if (strncmp(line, "update ", 7) == 0 || strncmp(line, "update-status ", 14) == 0) {
			static const struct kube_resource pods = { "", "v1", "pods", true };
			bool st = line[6] == '-';
			char *nsp = line + (st ? 14 : 7), *sp = strchr(nsp, ' ');

			if (sp) {
				*sp = '\0';
				if (kube_update(client, &pods, nsp, sp + 1, st ? "status" : NULL,
						st ? touch_status : touch, NULL, updated, NULL))
					printf("UPDATED start-failed\n");
			}
		} else if (strcmp(line, "quit") == 0) {
			break;
		}
		fflush(stdout);
	}
	rc = 0;
out:
	/* Shutdown order: leader (releases the Lease while the loop runs),
	 * reflectors, loop, client. */
	if (leader)
		kube_leader_stop(leader);
	for (int i = 0; i < g_nw; i++)
		kube_reflector_stop(g_w[i].r);
	if (loop)
		kube_loop_stop(loop);
	kube_leader_free(leader);
	for (int i = 0; i < g_nw; i++) {
		kube_reflector_free(g_w[i].r);
		json_decref(g_w[i].seen);
		free(g_w[i].spec);
	}
	kube_client_free(client);
	kube_loop_free(loop);
	for (int i = 0; i < nspec; i++)
		free(specs[i]);
	curl_global_cleanup();
	printf("BYE\n");
	return rc;
}

/* The scraper through the manager's public API against in-process loopback
 * HTTP targets: exported_ renaming with honorLabels false and true,
 * sampleLimit (counted after metricRelabelings, exceeding it fails the
 * scrape), the body cap, scraped timestamps (0.0.4 milliseconds and
 * OpenMetrics seconds), the up/scrape_* series, and a target that disappears
 * taking its samples and synthetic series out of /metrics/apps; the
 * output written in blocks of any size equals the whole. */
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/clock.h"
#include "dl/curl.h"
#include "dl/snappy.h"
#include "remotewrite/chunks.h"
#include "remotewrite/encode.h"
#include "remotewrite/stale.h"
#include "kube/loop.h"
#include "scrape/rule.h"
#include "scrape/scrape.h"
/* push-only test: the time /metrics/apps was last read, set back */
#include "scrape/scrape_int.h"

#define NT 8                    /* targets served by the test server */
#define BODY_MAX (64 << 10)     /* the manager's body cap in this test */

#define NKEPT 16                /* kept-alive connections at once */

/* A connection a keep-alive target kept open (srv.keep). */
struct kept {
	int fd;
	int t;                      /* target index */
	bool dropped;               /* we half-closed it: waiting for the client's close */
};

/* Loopback HTTP targets: target i answers every request on port[i] with
 * ctype[i] and body[i] (both replaceable under mu), then closes; with
 * keep[i], it answers with keep-alive and serves the connection's next
 * requests too; with drop[i] as well, it half-closes each connection after
 * its answer (a server whose keep-alive timeout is shorter than the
 * interval) and records when the client closes its end. */
struct srv {
	int lfd[NT];
	int port[NT];
	char *body[NT];             /* owned */
	const char *ctype[NT];      /* static strings */
	pthread_mutex_t mu;
	int stop[2];                /* pipe: a byte stops the thread */
	pthread_t th;
	/* under mu */
	bool keep[NT], drop[NT];
	unsigned accepts[NT], reqs[NT];
	int ref;                    /* target counted in first_ref and eof_ref */
	unsigned first_ref[NT];     /* reqs[ref] at target i's first request */
	unsigned eof_ref[NT];       /* reqs[ref] when the client first closed a dropped connection of i */
	bool eof_seen[NT];
	/* server thread only */
	struct kept kept[NKEPT];
	int nkept;
};

/* Reads one request from fd and answers it; false when the client closed
 * (or sent nothing whole). */
static bool serve_one(struct srv *s, int i, int fd)
{
	char req[4096], head[256];
	size_t got = 0;
	char *body;
	int hl;

	while (got < sizeof(req) - 1) {
		ssize_t r = read(fd, req + got, sizeof(req) - 1 - got);
		if (r <= 0)
			return false;
		got += (size_t)r;
		req[got] = 0;
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	pthread_mutex_lock(&s->mu);
	if (s->reqs[i]++ == 0)
		s->first_ref[i] = s->reqs[s->ref];
	body = strdup(s->body[i]);
	hl = snprintf(head, sizeof(head),
		      "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: %s\r\n\r\n",
		      s->ctype[i], strlen(body), s->keep[i] ? "keep-alive" : "close");
	pthread_mutex_unlock(&s->mu);
	/* The client may abort mid-body (the cap): MSG_NOSIGNAL, errors ignored. */
	if (send(fd, head, (size_t)hl, MSG_NOSIGNAL) == hl)
		for (size_t off = 0, n = strlen(body); off < n;) {
			ssize_t w = send(fd, body + off, n - off, MSG_NOSIGNAL);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
	free(body);
	return true;
}

/* After an answer on fd of target i: keeps it (keep-alive target, room
 * left; half-closed when dropping), else closes it. */
static void after_answer(struct srv *s, int i, int fd, bool answered)
{
	bool keep, drop;

	pthread_mutex_lock(&s->mu);
	keep = s->keep[i];
	drop = s->drop[i];
	pthread_mutex_unlock(&s->mu);
	if (!answered || !keep || s->nkept == NKEPT) {
		close(fd);
		return;
	}
	if (drop)
		shutdown(fd, SHUT_WR);
	s->kept[s->nkept++] = (struct kept){ .fd = fd, .t = i, .dropped = drop };
}

/* A kept connection is readable: the client's next request, or its close. */
static void on_kept(struct srv *s, int k)
{
	struct kept c = s->kept[k];
	char b[64];

	s->kept[k] = s->kept[--s->nkept];
	if (c.dropped) {
		/* Nothing is answered on a half-closed connection: any read
		 * ends it (the client's close is the read of 0). */
		if (read(c.fd, b, sizeof(b)) == 0) {
			pthread_mutex_lock(&s->mu);
			if (!s->eof_seen[c.t]) {
				s->eof_seen[c.t] = true;
				s->eof_ref[c.t] = s->reqs[s->ref];
			}
			pthread_mutex_unlock(&s->mu);
		}
		close(c.fd);
		return;
	}
	after_answer(s, c.t, c.fd, serve_one(s, c.t, c.fd));
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	struct pollfd p[NT + 1 + NKEPT];

	for (int i = 0; i < NT; i++)
		p[i] = (struct pollfd){ .fd = s->lfd[i], .events = POLLIN };
	p[NT] = (struct pollfd){ .fd = s->stop[0], .events = POLLIN };
	for (;;) {
		int nk = s->nkept;

		for (int k = 0; k < nk; k++)
			p[NT + 1 + k] = (struct pollfd){ .fd = s->kept[k].fd, .events = POLLIN };
		if (poll(p, (nfds_t)(NT + 1 + nk), -1) < 0)
			continue;
		if (p[NT].revents)
			break;
		/* Kept connections first, from the last (on_kept moves the
		 * last entry into the one it removes). */
		for (int k = nk - 1; k >= 0; k--)
			if (p[NT + 1 + k].revents)
				on_kept(s, k);
		for (int i = 0; i < NT; i++) {
			int fd;
			if (!(p[i].revents & POLLIN) || (fd = accept(s->lfd[i], NULL, NULL)) < 0)
				continue;
			pthread_mutex_lock(&s->mu);
			s->accepts[i]++;
			pthread_mutex_unlock(&s->mu);
			after_answer(s, i, fd, serve_one(s, i, fd));
		}
	}
	for (int k = 0; k < s->nkept; k++)
		close(s->kept[k].fd);
	return NULL;
}

static void srv_start(struct srv *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	assert_int_equal(pipe(s->stop), 0);
	for (int i = 0; i < NT; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t al = sizeof(a);
		s->lfd[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(s->lfd[i] >= 0);
		assert_int_equal(bind(s->lfd[i], (struct sockaddr *)&a, sizeof(a)), 0);
		assert_int_equal(listen(s->lfd[i], 16), 0);
		assert_int_equal(getsockname(s->lfd[i], (struct sockaddr *)&a, &al), 0);
		s->port[i] = ntohs(a.sin_port);
		s->body[i] = strdup("");
		s->ctype[i] = "text/plain; version=0.0.4";
	}
	assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
}

/* Target i keeps its connections alive (and half-closes each after its
 * answer with drop). */
static void srv_keep(struct srv *s, int i, bool drop)
{
	pthread_mutex_lock(&s->mu);
	s->keep[i] = true;
	s->drop[i] = drop;
	pthread_mutex_unlock(&s->mu);
}

static unsigned srv_count(struct srv *s, const unsigned *counter)
{
	unsigned v;

	pthread_mutex_lock(&s->mu);
	v = *counter;
	pthread_mutex_unlock(&s->mu);
	return v;
}

/* Waits (up to 60 s, see wait_for) until *counter reaches want. */
static bool srv_wait(struct srv *s, const unsigned *counter, unsigned want)
{
	int64_t end = clock_mono_ms() + 60000;

	while (clock_mono_ms() < end) {
		if (srv_count(s, counter) >= want)
			return true;
		usleep(20 * 1000);
	}
	print_error("counter at %u, waited for %u\n", srv_count(s, counter), want);
	return false;
}

static void srv_set(struct srv *s, int i, const char *ctype, const char *body)
{
	pthread_mutex_lock(&s->mu);
	free(s->body[i]);
	s->body[i] = strdup(body);
	if (ctype)
		s->ctype[i] = ctype;
	pthread_mutex_unlock(&s->mu);
}

static void srv_stop(struct srv *s)
{
	assert_int_equal(write(s->stop[1], "x", 1), 1);
	pthread_join(s->th, NULL);
	for (int i = 0; i < NT; i++) {
		close(s->lfd[i]);
		free(s->body[i]);
	}
	close(s->stop[0]);
	close(s->stop[1]);
	pthread_mutex_destroy(&s->mu);
}

/* ---- manager helpers ------------------------------------------------------ */

struct fix {
	struct srv srv;
	struct kube_loop *loop;
	struct scrape_mgr *m;
	struct buf out;             /* last /metrics/apps or /api/v1/targets */
	struct scrape_rule *rules[4]; /* in effect (references held) */
	size_t nrules;
};

struct obj_msg {
	struct scrape_mgr *m;
	json_t *obj;
	bool del;
};

static void obj_on_loop(void *arg)
{
	struct obj_msg *msg = arg;

	if (msg->del)
		scrape_mgr_delete(msg->m, ROLE_POD, msg->obj);
	else
		scrape_mgr_upsert(msg->m, ROLE_POD, msg->obj);
}

/* A Running pod on node n1 in namespace t, label app=name, annotated for
 * the victoriametrics.com prefix with port and interval iv. */
static json_t *pod_iv(const char *name, int port, const char *iv)
{
	json_error_t je;
	json_t *j = json_pack_ex(&je, 0,
		"{s:s, s:s, s:{s:s, s:s, s:s, s:{s:s}, s:{s:s, s:s, s:s}},"
		" s:{s:s, s:[{s:s, s:[{s:i}]}]}, s:{s:s, s:s}}",
		"apiVersion", "v1", "kind", "Pod",
		"metadata", "name", name, "namespace", "t", "uid", name, "labels", "app", name,
		"annotations", "victoriametrics.com/scrape", "true", "victoriametrics.com/port", "0",
		"victoriametrics.com/interval", "1s",
		"spec", "nodeName", "n1", "containers", "name", "c", "ports", "containerPort", port,
		"status", "phase", "Running", "podIP", "127.0.0.1");
	char p[16];

	if (!j)
		fail_msg("pod JSON: %s", je.text);
	snprintf(p, sizeof(p), "%d", port);
	json_object_set_new(json_object_get(json_object_get(j, "metadata"), "annotations"),
			    "victoriametrics.com/port", json_string(p));
	json_object_set_new(json_object_get(json_object_get(j, "metadata"), "annotations"),
			    "victoriametrics.com/interval", json_string(iv));
	return j;
}

/* The same with a 1 s interval. */
static json_t *pod(const char *name, int port)
{
	return pod_iv(name, port, "1s");
}

static void put_pod_at(struct fix *f, const char *name, int port, const char *iv, bool del)
{
	struct obj_msg msg = { f->m, pod_iv(name, port, iv), del };

	assert_int_equal(kube_loop_call(f->loop, obj_on_loop, &msg), 0);
	json_decref(msg.obj);
}

static void put_pod(struct fix *f, const char *name, int port, bool del)
{
	put_pod_at(f, name, port, "1s", del);
}

/* put_pod with the interval (and timeout) annotation set to iv. */
static void put_pod_iv(struct fix *f, const char *name, int port, const char *iv)
{
	struct obj_msg msg = { f->m, pod_iv(name, port, iv), false };
	json_t *ann = json_object_get(json_object_get(msg.obj, "metadata"), "annotations");

	json_object_set_new(ann, "victoriametrics.com/interval", json_string(iv));
	json_object_set_new(ann, "victoriametrics.com/timeout", json_string(iv));
	assert_int_equal(kube_loop_call(f->loop, obj_on_loop, &msg), 0);
	json_decref(msg.obj);
}

/* A ScrapeRule t/<name> selecting pods with app=<name>, interval 1 s, with
 * extra spec fields (JSON members, may be ""). */
static struct scrape_rule *rule(const char *name, const char *extra)
{
	char text[1024], err[256];
	json_error_t je;
	json_t *o;
	struct scrape_rule *r;

	snprintf(text, sizeof(text),
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"t\",\"generation\":1},"
		 "\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"%s\"}},\"interval\":\"1s\"%s%s}}",
		 name, name, extra[0] ? "," : "", extra);
	o = json_loads(text, 0, &je);
	if (!o)
		fail_msg("rule JSON: %s", je.text);
	r = scrape_rule_compile(o, err, sizeof(err));
	if (!r)
		fail_msg("rule %s: %s", name, err);
	json_decref(o);
	return r;
}

static const char *apps(struct fix *f)
{
	int rc;

	buf_reset(&f->out);
	rc = scrape_mgr_write_apps(f->m, &f->out);
	if (rc)
		fail_msg("write_apps %d, %zu bytes", rc, f->out.len);
	return buf_cstr(&f->out);
}

static const char *targets(struct fix *f)
{
	buf_reset(&f->out);
	assert_int_equal(scrape_mgr_write_targets_view(f->m, true, &f->out), 0);
	return buf_cstr(&f->out);
}

/* Polls fn's output until it contains want (or, with absent, does not),
 * for up to 6 s; the last output is printed when it never does. */
/* A generous bound (a loaded 2-core CI machine): only a failure waits it out. */
static bool wait_for(struct fix *f, const char *(*fn)(struct fix *), const char *want, bool absent)
{
	int64_t end = clock_mono_ms() + 60000;

	while (clock_mono_ms() < end) {
		bool has = strstr(fn(f), want) != NULL;
		if (has != absent)
			return true;
		usleep(50 * 1000);
	}
	print_error("waited for %s\"%s\" in:\n%s\n", absent ? "no " : "", want, fn(f));
	return false;
}

static int setup_cap(void **state, size_t body_max)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct scrape_opts o = { .node_name = "n1", .interval_ms = 1000, .body_max = body_max,
				 .leader = true, .enabled = true };
	/* The fixture serves on 127.0.0.1 and tests the engine, not the
	 * policy (tests/integration/test_attack_scrape.sh does): loosened. */
	struct scrape_policy pol;

	scrape_policy_default(&pol);
	pol.allow_loopback = true;
	pol.allow_node_addresses = true;
	pol.builtin_rule = false;
	pol.default_sample_limit = pol.max_sample_limit = 0;
	pol.ncross = pol.nhonor = 1;
	snprintf(pol.cross_ns[0], sizeof(pol.cross_ns[0]), "*");
	snprintf(pol.honor_ns[0], sizeof(pol.honor_ns[0]), "*");
	o.policy = &pol;

	char err[256];

	assert_int_equal(dl_curl_load(err, sizeof(err)), 0);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	srv_start(&f->srv);
	buf_init(&f->out, 64 << 20);
	f->loop = kube_loop_new();
	assert_non_null(f->loop);
	assert_int_equal(kube_loop_start(f->loop), 0);
	f->m = scrape_mgr_new(f->loop, &o);
	assert_non_null(f->m);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_cap(state, BODY_MAX);
}

/* For targets with a large exposition. */
static int setup_big(void **state)
{
	return setup_cap(state, 8 << 20);
}

static int teardown(void **state)
{
	struct fix *f = *state;

	scrape_mgr_free(f->m);
	for (size_t i = 0; i < f->nrules; i++)
		scrape_rule_unref(f->rules[i]);
	kube_loop_stop(f->loop);
	kube_loop_free(f->loop);
	srv_stop(&f->srv);
	buf_fini(&f->out);
	free(f);
	curl_global_cleanup();
	return 0;
}

/* Applies a snapshot with the fixture's rules (posted to the scrape loop,
 * before any object change put after it). */
static void apply(struct fix *f, bool enabled)
{
	struct scrape_settings st = { .enabled = enabled, .leader = true, .interval_ms = 1000,
				      .rules = f->rules, .nrules = f->nrules };

	assert_int_equal(scrape_mgr_apply(f->m, &st), 0);
}

/* The rules r (references taken) replace the fixture's, applied. */
static void set_rules(struct fix *f, struct scrape_rule **r, size_t n)
{
	assert_true(n <= sizeof(f->rules) / sizeof(f->rules[0]));
	for (size_t i = 0; i < f->nrules; i++)
		scrape_rule_unref(f->rules[i]);
	for (size_t i = 0; i < n; i++)
		f->rules[i] = r[i];
	f->nrules = n;
	apply(f, true);
}

/* Target labels of pod <name> on port <port> under rule t/<name>, as
 * rendered after the sample labels. */
static char *tl(const char *name, int port, bool with_ns_pod)
{
	char *s = NULL;

	if (with_ns_pod)
		assert_true(asprintf(&s, "container=\"c\",instance=\"127.0.0.1:%d\",job=\"t/%s\",namespace=\"t\","
				     "node=\"n1\",pod=\"%s\"}", port, name, name) > 0);
	else
		assert_true(asprintf(&s, "container=\"c\",instance=\"127.0.0.1:%d\",job=\"t/%s\",node=\"n1\"}",
				     port, name) > 0);
	return s;
}

static bool wait_line(struct fix *f, const char *prefix, const char *name, int port, const char *suffix)
{
	char *t = tl(name, port, true), *want = NULL;
	bool ok;

	assert_true(asprintf(&want, "%s%s%s", prefix, t, suffix) > 0);
	ok = wait_for(f, apps, want, false);
	free(want);
	free(t);
	return ok;
}

/* Whether the output the last wait_line() matched also holds the line. */
static bool in_last(struct fix *f, const char *prefix, const char *name, int port, const char *suffix)
{
	char *t = tl(name, port, true), *want = NULL;
	bool ok;

	assert_true(asprintf(&want, "%s%s%s", prefix, t, suffix) > 0);
	ok = strstr(buf_cstr(&f->out), want) != NULL;
	if (!ok)
		print_error("no \"%s\" in:\n%s\n", want, buf_cstr(&f->out));
	free(want);
	free(t);
	return ok;
}

/* ---- tests ------------------------------------------------------------------ */

static const char clash_body[] =
	"# TYPE m counter\n"
	"m{namespace=\"evil\",pod=\"evil\",x=\"1\"} 1\n"
	"m{x=\"2\"} 2\n";

/* honorLabels false: a scraped label that is also a target label becomes
 * exported_<name> and the target's value is kept; true: the scraped value
 * wins and the target label is not added. */
static void test_exported_and_honor_labels(void **state)
{
	struct fix *f = *state;
	struct scrape_rule *r[2] = { rule("plain", ""), rule("honor", "\"honorLabels\":true") };
	int p0 = f->srv.port[0], p1 = f->srv.port[1];
	char *want = NULL, *t = NULL;

	srv_set(&f->srv, 0, NULL, clash_body);
	srv_set(&f->srv, 1, NULL, clash_body);
	set_rules(f, r, 2);
	put_pod(f, "plain", p0, false);
	put_pod(f, "honor", p1, false);
	assert_true(wait_line(f, "m{exported_namespace=\"evil\",exported_pod=\"evil\",x=\"1\",", "plain", p0, " 1\n"));
	assert_true(wait_line(f, "m{x=\"2\",", "plain", p0, " 2\n"));
	t = tl("honor", p1, false);
	assert_true(asprintf(&want, "m{namespace=\"evil\",pod=\"evil\",x=\"1\",%s 1\n", t) > 0);
	assert_true(wait_for(f, apps, want, false));
	free(want);
	free(t);
	/* Without a clash honorLabels changes nothing. */
	assert_true(wait_line(f, "m{x=\"2\",", "honor", p1, " 2\n"));
}

/* up, scrape_duration_seconds, scrape_samples_scraped,
 * scrape_samples_post_metric_relabeling, scrape_series_added: all series are
 * new on the first scrape, none on the next, one after the target adds one. */
static void test_synthetic_series(void **state)
{
	struct fix *f = *state;
	struct scrape_rule *r[1] = { rule("syn", "\"metricRelabelings\":[{\"sourceLabels\":[\"__name__\"],"
					      "\"regex\":\"drop_.*\",\"action\":\"drop\"}]") };
	int p = f->srv.port[2];

	srv_set(&f->srv, 2, NULL, "a 1\nb 2\ndrop_me 3\ndrop_too 4\n");
	set_rules(f, r, 1);
	put_pod(f, "syn", p, false);
	assert_true(wait_line(f, "up{", "syn", p, " 1\n"));
	assert_true(wait_line(f, "scrape_samples_scraped{", "syn", p, " 4\n"));
	assert_true(wait_line(f, "scrape_samples_post_metric_relabeling{", "syn", p, " 2\n"));
	assert_true(wait_line(f, "scrape_duration_seconds{", "syn", p, ""));
	assert_null(strstr(apps(f), "drop_me"));
	/* First scrape: both kept series were added; the next one: none. */
	assert_true(wait_line(f, "scrape_series_added{", "syn", p, " 0\n"));
	srv_set(&f->srv, 2, NULL, "a 1\nb 2\nc 3\ndrop_me 3\n");
	assert_true(wait_line(f, "scrape_series_added{", "syn", p, " 1\n"));
	assert_true(wait_line(f, "c{", "syn", p, " 3\n"));
	/* Same series in another order: none added (counted by set, not by
	 * position); then two replaced and the rest reordered: two added.
	 * Each count is read from the same output as the first sample of the
	 * scrape that produced it (new values mark it). */
	srv_set(&f->srv, 2, NULL, "c 30\na 10\nb 20\n");
	assert_true(wait_line(f, "a{", "syn", p, " 10\n"));
	assert_true(in_last(f, "scrape_series_added{", "syn", p, " 0\n"));
	srv_set(&f->srv, 2, NULL, "e 5\nb 2\nd 4\nc 3\n");
	assert_true(wait_line(f, "e{", "syn", p, " 5\n"));
	assert_true(in_last(f, "scrape_series_added{", "syn", p, " 2\n"));
	/* The same order again: none; as many series, one of them new: one. */
	srv_set(&f->srv, 2, NULL, "e 6\nb 2\nd 4\nc 3\n");
	assert_true(wait_line(f, "e{", "syn", p, " 6\n"));
	assert_true(in_last(f, "scrape_series_added{", "syn", p, " 0\n"));
	srv_set(&f->srv, 2, NULL, "f 7\nb 2\nd 4\nc 3\n");
	assert_true(wait_line(f, "f{", "syn", p, " 7\n"));
	assert_true(in_last(f, "scrape_series_added{", "syn", p, " 1\n"));
}

/* sampleLimit counts samples after metricRelabelings; one sample over it
 * fails the whole scrape: up 0, no samples, the reason in lastError. */
static void test_sample_limit(void **state)
{
	struct fix *f = *state;
	struct scrape_rule *r[2] = {
		rule("lim", "\"sampleLimit\":2"),
		rule("limrel", "\"sampleLimit\":2,\"metricRelabelings\":[{\"sourceLabels\":[\"__name__\"],"
			       "\"regex\":\"drop_.*\",\"action\":\"drop\"}]"),
	};
	int p0 = f->srv.port[3], p1 = f->srv.port[4];

	srv_set(&f->srv, 3, NULL, "a 1\nb 2\nc 3\n");
	srv_set(&f->srv, 4, NULL, "a 1\nb 2\ndrop_x 3\ndrop_y 4\n");
	set_rules(f, r, 2);
	put_pod(f, "lim", p0, false);
	put_pod(f, "limrel", p1, false);
	assert_true(wait_line(f, "up{", "lim", p0, " 0\n"));
	assert_true(wait_for(f, targets, "sample limit exceeded (2)", false));
	{
		char *want = NULL;
		assert_true(asprintf(&want, "a{container=\"c\",instance=\"127.0.0.1:%d\"", p0) > 0);
		assert_null(strstr(apps(f), want)); /* no sample of the failed scrape */
		free(want);
	}
	assert_true(wait_line(f, "up{", "limrel", p1, " 1\n"));
	assert_true(wait_line(f, "b{", "limrel", p1, " 2\n"));
	/* Exactly at the limit is fine; one more fails. */
	srv_set(&f->srv, 3, NULL, "a 1\nb 2\n");
	assert_true(wait_line(f, "up{", "lim", p0, " 1\n"));
	assert_true(wait_line(f, "b{", "lim", p0, " 2\n"));
}

/* labelLimit, labelNameLengthLimit and labelValueLengthLimit (Prometheus'
 * label_limit and friends) apply to the set a sample is stored with:
 * __name__, its labels (exported_* when renamed) and the 6 target labels
 * (container, instance, job, namespace, node, pod). Exactly at a limit is
 * fine; one sample over fails the scrape with Prometheus' message. */
static void test_label_limits(void **state)
{
	struct fix *f = *state;
	struct scrape_rule *r[3] = {
		rule("ln", "\"labelLimit\":8"),
		rule("lnl", "\"labelNameLengthLimit\":12"),
		rule("lvl", "\"labelValueLengthLimit\":20"),
	};
	int p0 = f->srv.port[3], p1 = f->srv.port[4], p2 = f->srv.port[5];

	srv_set(&f->srv, 3, NULL, "a{x=\"1\"} 1\n");
	srv_set(&f->srv, 4, NULL, "a{abcdefghijkl=\"1\"} 1\n");
	srv_set(&f->srv, 5, NULL, "a{x=\"12345678901234567890\"} 1\n");
	set_rules(f, r, 3);
	put_pod(f, "ln", p0, false);
	put_pod(f, "lnl", p1, false);
	put_pod(f, "lvl", p2, false);
	assert_true(wait_line(f, "a{x=\"1\",", "ln", p0, " 1\n"));
	assert_true(wait_line(f, "a{abcdefghijkl=\"1\",", "lnl", p1, " 1\n"));
	assert_true(wait_line(f, "a{x=\"12345678901234567890\",", "lvl", p2, " 1\n"));
	assert_true(wait_line(f, "up{", "ln", p0, " 1\n"));

	srv_set(&f->srv, 3, NULL, "a{x=\"1\",y=\"2\"} 1\n");
	srv_set(&f->srv, 4, NULL, "a{abcdefghijklm=\"1\"} 1\n");
	srv_set(&f->srv, 5, NULL, "a{x=\"123456789012345678901\"} 1\n");
	assert_true(wait_line(f, "up{", "ln", p0, " 0\n"));
	assert_true(wait_for(f, targets, "label_limit exceeded (metric: a, number of labels: 9, limit: 8)", false));
	assert_true(wait_for(f, targets,
			     "label_name_length_limit exceeded (metric: a, label name: abcdefghijklm, length: 13, limit: 12)",
			     false));
	assert_true(wait_for(f, targets,
			     "label_value_length_limit exceeded (metric: a, label name: x, length: 21, limit: 20)", false));
	assert_true(wait_line(f, "up{", "lnl", p1, " 0\n"));
	assert_true(wait_line(f, "up{", "lvl", p2, " 0\n"));
	assert_null(strstr(apps(f), "a{x=\"1\",y=\"2\""));

	/* A clash renamed exported_namespace (18 characters) is over 12. */
	srv_set(&f->srv, 4, NULL, "a{namespace=\"x\"} 1\n");
	assert_true(wait_for(f, targets, "label name: namespace, length: 18, limit: 12)", false));
}

static const char *self(struct fix *f)
{
	buf_reset(&f->out);
	assert_int_equal(scrape_mgr_write_self(f->m, &f->out), 0);
	return buf_cstr(&f->out);
}

/* A metricRelabelings rule that takes a label over LABELS_VALUE_MAX drops
 * that sample only; the drop is counted (never silent) and the rest of the
 * scrape is kept. */
static void test_label_limit_drops_counted(void **state)
{
	struct fix *f = *state;
	struct scrape_rule *r[1] = { rule("lbl", "\"metricRelabelings\":[{\"sourceLabels\":[\"a\",\"b\"],"
					      "\"targetLabel\":\"c\"}]") };
	int p = f->srv.port[0];
	struct buf body;

	buf_init(&body, 1 << 16);
	assert_int_equal(buf_adds(&body, "big{a=\""), 0);
	for (int i = 0; i < 3000; i++)
		assert_int_equal(buf_addc(&body, 'x'), 0);
	assert_int_equal(buf_adds(&body, "\",b=\""), 0);
	for (int i = 0; i < 3000; i++)
		assert_int_equal(buf_addc(&body, 'y'), 0);
	assert_int_equal(buf_adds(&body, "\"} 1\nsmall{a=\"1\",b=\"2\"} 2\n"), 0);
	srv_set(&f->srv, 0, NULL, buf_cstr(&body));
	buf_fini(&body);
	set_rules(f, r, 1);
	put_pod(f, "lbl", p, false);
	assert_true(wait_line(f, "up{", "lbl", p, " 1\n"));
	assert_true(wait_line(f, "scrape_samples_post_metric_relabeling{", "lbl", p, " 1\n"));
	assert_null(strstr(apps(f), "big{"));
	assert_non_null(strstr(apps(f), "small{a=\"1\",b=\"2\",c=\"1;2\""));
	assert_true(wait_for(f, self, "k8smon_scrape_samples_dropped_total{reason=\"label_limit\"} ", false));
	assert_null(strstr(self(f), "k8smon_scrape_samples_dropped_total{reason=\"label_limit\"} 0\n"));
}

/* metricRelabelings whose regexes hit the match limit on every sample: the
 * scrape stops at SCRAPE_RELABEL_CPU_MS of CPU, fails with that reason in
 * lastError, and is counted. */
static void test_relabel_cpu_budget(void **state)
{
	struct fix *f = *state;
	struct scrape_rule *r[1] = { rule("cpu", "\"metricRelabelings\":["
		"{\"sourceLabels\":[\"v\"],\"regex\":\"(a+)+\",\"targetLabel\":\"w\"},"
		"{\"sourceLabels\":[\"v\"],\"regex\":\"(a|a)+\",\"targetLabel\":\"w\"},"
		"{\"sourceLabels\":[\"v\"],\"regex\":\"(.*a){12}\",\"targetLabel\":\"w\"},"
		"{\"sourceLabels\":[\"v\"],\"regex\":\"(a+)+\",\"targetLabel\":\"x\"}]") };
	int p = f->srv.port[1];
	struct buf body;
	char want[160];

	buf_init(&body, 1 << 20);
	for (int i = 0; i < 20000; i++)
		assert_int_equal(buf_printf(&body, "m{i=\"%d\",v=\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaab\"} 1\n", i), 0);
	srv_set(&f->srv, 1, NULL, buf_cstr(&body));
	buf_fini(&body);
	set_rules(f, r, 1);
	/* The budget, not the timeout, must end the scrape on a loaded machine:
	 * 1 s of CPU within a 20 s timeout holds down to a 5 % share of a core. */
	put_pod_iv(f, "cpu", p, "20s");
	snprintf(want, sizeof(want), "metric relabeling exceeded its CPU budget of %d ms", SCRAPE_RELABEL_CPU_MS);
	/* First scrape within 20 s (spread), then at most 20 s for the budget. */
	for (int64_t end = clock_mono_ms() + 90000; clock_mono_ms() < end && !strstr(targets(f), want);)
		usleep(100 * 1000);
	assert_true(wait_for(f, targets, want, false));
	assert_true(wait_line(f, "up{", "cpu", p, " 0\n"));
	assert_null(strstr(self(f), "k8smon_scrape_errors_total{reason=\"relabel_cpu_budget\"} 0\n"));
	assert_non_null(strstr(self(f), "k8smon_scrape_errors_total{reason=\"relabel_cpu_budget\"} "));
}

/* The manager runs on a loop thread of its own, never on the caller's (the
 * API loop, which renews the Lease): with the caller's loop blocked, a pod
 * handed over before still becomes a scraped target, and one handed over
 * from another thread meanwhile too. */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool open;
};

static void gate_wait(void *arg)
{
	struct gate *g = arg;

	pthread_mutex_lock(&g->mu);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

static void test_not_on_caller_loop(void **state)
{
	struct fix *f = *state;
	struct scrape_rule *r[2] = { rule("own", ""), rule("own2", "") };
	struct gate g = { .open = false };
	int p = f->srv.port[2], p2 = f->srv.port[3];
	json_t *o2 = pod("own2", p2);
	bool up, up2;

	pthread_mutex_init(&g.mu, NULL);
	pthread_cond_init(&g.cv, NULL);
	srv_set(&f->srv, 2, NULL, "own_metric 1\n");
	srv_set(&f->srv, 3, NULL, "own_metric 2\n");
	set_rules(f, r, 2);
	put_pod(f, "own", p, false);
	assert_int_equal(kube_loop_post(f->loop, gate_wait, &g), 0);
	scrape_mgr_upsert(f->m, ROLE_POD, o2); /* from this thread */
	json_decref(o2);
	up = wait_line(f, "up{", "own", p, " 1\n");
	up2 = wait_line(f, "up{", "own2", p2, " 1\n");
	/* Open before asserting: teardown needs the caller's loop. */
	pthread_mutex_lock(&g.mu);
	g.open = true;
	pthread_cond_signal(&g.cv);
	pthread_mutex_unlock(&g.mu);
	assert_int_equal(kube_loop_call(f->loop, gate_wait, &g), 0); /* gate_wait returned */
	pthread_cond_destroy(&g.cv);
	pthread_mutex_destroy(&g.mu);
	assert_true(up);
	assert_true(up2);
}

/* A body over the manager's cap fails the scrape with body_too_large. */
static void test_body_cap(void **state)
{
	struct fix *f = *state;
	struct scrape_rule *r[2] = { rule("big", ""), rule("small", "") };
	struct buf big;
	int p0 = f->srv.port[5], p1 = f->srv.port[6];

	buf_init(&big, 1 << 20);
	for (int i = 0; big.len < BODY_MAX + 100; i++)
		assert_int_equal(buf_printf(&big, "series_%d{label=\"value\"} %d\n", i, i), 0);
	srv_set(&f->srv, 5, NULL, buf_cstr(&big));
	buf_fini(&big);
	srv_set(&f->srv, 6, NULL, "ok 1\n");
	set_rules(f, r, 2);
	put_pod(f, "big", p0, false);
	put_pod(f, "small", p1, false);
	assert_true(wait_line(f, "up{", "big", p0, " 0\n"));
	assert_true(wait_for(f, targets, "body size limit exceeded (65536 bytes)", false));
	assert_null(strstr(apps(f), "series_0{"));
	assert_true(wait_line(f, "up{", "small", p1, " 1\n"));
}

/* Scraped timestamps are kept as Prometheus' honor_timestamps does: 0.0.4
 * milliseconds as they are, OpenMetrics seconds converted to milliseconds;
 * samples without one get none. */
static void test_timestamps(void **state)
{
	struct fix *f = *state;
	struct scrape_rule *r[2] = { rule("ts", ""), rule("om", "") };
	int p0 = f->srv.port[5], p1 = f->srv.port[6];

	srv_set(&f->srv, 5, "text/plain; version=0.0.4", "with_ts 1 1700000000123\nwithout_ts 2\n");
	srv_set(&f->srv, 6, "application/openmetrics-text; version=1.0.0; charset=utf-8",
		"# TYPE g gauge\ng 3 1700000000.5\n# TYPE h gauge\nh 4\n# EOF\n");
	set_rules(f, r, 2);
	put_pod(f, "ts", p0, false);
	put_pod(f, "om", p1, false);
	assert_true(wait_line(f, "with_ts{", "ts", p0, " 1 1700000000123\n"));
	assert_true(wait_line(f, "without_ts{", "ts", p0, " 2\n"));
	assert_true(wait_line(f, "g{", "om", p1, " 3 1700000000500\n"));
	assert_true(wait_line(f, "h{", "om", p1, " 4\n"));
}

/* A deleted pod's target leaves /metrics/apps with all its series, while
 * its neighbour stays. */
static void test_target_disappears(void **state)
{
	struct fix *f = *state;
	struct scrape_rule *r[2] = { rule("gone", ""), rule("stay", "") };
	int p0 = f->srv.port[7], p1 = f->srv.port[6];

	srv_set(&f->srv, 7, NULL, "gone_metric 1\n");
	srv_set(&f->srv, 6, NULL, "stay_metric 1\n");
	set_rules(f, r, 2);
	put_pod(f, "gone", p0, false);
	put_pod(f, "stay", p1, false);
	assert_true(wait_line(f, "gone_metric{", "gone", p0, " 1\n"));
	assert_true(wait_line(f, "stay_metric{", "stay", p1, " 1\n"));
	put_pod(f, "gone", p0, true);
	assert_true(wait_for(f, apps, "pod=\"gone\"", true));
	assert_null(strstr(apps(f), "gone_metric"));
	assert_null(strstr(targets(f), "\"gone\""));
	assert_non_null(strstr(apps(f), "stay_metric{"));
	assert_non_null(strstr(apps(f), "pod=\"stay\"} 1\n"));
}

/* Drains a cursor in blocks of budget bytes into out; every block but the
 * last must be non-empty and end at a line end. */
static void drain(struct scrape_apps_cursor *c, size_t budget, struct buf *out)
{
	struct buf block;
	int rc;

	buf_init(&block, 64 << 20);
	do {
		buf_reset(&block);
		rc = scrape_apps_next(c, &block, budget);
		assert_true(rc == SCRAPE_APPS_MORE || rc == SCRAPE_APPS_DONE);
		if (rc == SCRAPE_APPS_MORE)
			assert_true(block.len > 0);
		if (block.len)
			assert_int_equal(block.data[block.len - 1], '\n');
		assert_int_equal(buf_add(out, block.data, block.len), 0);
	} while (rc == SCRAPE_APPS_MORE);
	buf_fini(&block);
}

static const char meta_body[] =
	"# HELP shared_total Shared by both targets.\n"
	"# TYPE shared_total counter\n"
	"shared_total{k=\"a\"} 1\n"
	"shared_total{k=\"b\"} 2\n"
	"# TYPE g gauge\n"
	"g 3\n"
	"g_untyped_neighbour 4\n";

/* /metrics/apps in blocks: whatever the block size, the blocks put together
 * are the whole output (spliced and honorLabels blobs, HELP/TYPE once per
 * response), and a cursor keeps serving its snapshot after the target was
 * deleted. */
static void test_apps_cursor(void **state)
{
	struct fix *f = *state;
	struct scrape_rule *r[2] = { rule("cs", ""), rule("ch", "\"honorLabels\":true") };
	static const size_t budgets[] = { 1, 7, 50, 200, 1 << 20 };
	int p0 = f->srv.port[3], p1 = f->srv.port[4];
	struct scrape_apps_cursor *c = NULL;
	struct buf whole, parts;
	bool same = false;

	buf_init(&whole, 64 << 20);
	buf_init(&parts, 64 << 20);
	srv_set(&f->srv, 3, NULL, meta_body);
	srv_set(&f->srv, 4, NULL, meta_body);
	set_rules(f, r, 2);
	put_pod(f, "cs", p0, false);
	put_pod(f, "ch", p1, false);
	assert_true(wait_line(f, "g{", "cs", p0, " 3\n"));
	assert_true(wait_line(f, "scrape_series_added{", "ch", p1, " 0\n"));
	assert_non_null(strstr(apps(f), "g_untyped_neighbour{container="));
	/* A scrape may land between two snapshots: a real difference shows
	 * on every attempt. */
	for (int attempt = 0; attempt < 5 && !same; attempt++) {
		same = true;
		for (size_t i = 0; same && i < sizeof(budgets) / sizeof(budgets[0]); i++) {
			buf_reset(&whole);
			buf_reset(&parts);
			assert_int_equal(scrape_mgr_write_apps(f->m, &whole), 0);
			assert_int_equal(scrape_apps_open(f->m, &c), 0);
			assert_non_null(c);
			drain(c, budgets[i], &parts);
			scrape_apps_close(c);
			same = whole.len == parts.len && !memcmp(whole.data, parts.data, whole.len);
		}
	}
	if (!same)
		fail_msg("blocks differ from the whole output:\n%s\n---\n%s", buf_cstr(&whole), buf_cstr(&parts));
	/* HELP/TYPE of a family both targets expose: once. */
	assert_non_null(strstr(buf_cstr(&whole), "# HELP shared_total Shared by both targets.\n"));
	assert_null(strstr(strstr(buf_cstr(&whole), "# HELP shared_total") + 1, "# HELP shared_total"));
	assert_null(strstr(strstr(buf_cstr(&whole), "# TYPE g gauge") + 1, "# TYPE g gauge"));

	/* The snapshot outlives the target. */
	assert_int_equal(scrape_apps_open(f->m, &c), 0);
	put_pod(f, "cs", p0, true);
	assert_true(wait_for(f, apps, "pod=\"cs\"", true));
	buf_reset(&parts);
	drain(c, 10, &parts);
	scrape_apps_close(c);
	assert_non_null(strstr(buf_cstr(&parts), "pod=\"cs\""));

	/* Collector off: no cursor, nothing written. */
	/* The snapshot applies on the scrape loop: wait for it. */
	apply(f, false);
	for (int64_t end = clock_mono_ms() + 60000;; usleep(10 * 1000)) {
		c = (struct scrape_apps_cursor *)&parts;
		assert_int_equal(scrape_apps_open(f->m, &c), 0);
		if (!c || clock_mono_ms() > end)
			break;
		scrape_apps_close(c);
	}
	assert_null(c);
	apply(f, true);
	buf_fini(&whole);
	buf_fini(&parts);
}

/* One honorLabels target (its blob is not spliced) with a long run of
 * sample lines and no metadata after the first line: drained in small
 * blocks, each block must cost about its own size. The search for the next
 * metadata line used to scan the rest of the blob on every block, so this
 * took minutes (quadratic in the blob size) instead of milliseconds. */
static void test_apps_cursor_long_run(void **state)
{
	struct fix *f = *state;
	struct scrape_rule *r[1] = { rule("big", "\"honorLabels\":true") };
	int port = f->srv.port[5];
	struct scrape_apps_cursor *c = NULL;
	struct buf body, whole, parts;
	int64_t t0, took;

	buf_init(&body, 8 << 20);
	buf_init(&whole, 64 << 20);
	buf_init(&parts, 64 << 20);
	assert_int_equal(buf_adds(&body, "# TYPE big gauge\n"), 0);
	for (int i = 0; body.len < (3u << 20); i++)
		assert_int_equal(buf_printf(&body, "big{i=\"%d\"} %d\n", i, i), 0);
	srv_set(&f->srv, 5, NULL, buf_cstr(&body));
	set_rules(f, r, 1);
	put_pod(f, "big", port, false);
	assert_true(wait_for(f, apps, "big{i=\"7\",", false));
	assert_int_equal(scrape_apps_open(f->m, &c), 0);
	assert_non_null(c);
	t0 = clock_mono_ms();
	drain(c, 4096, &parts);
	took = clock_mono_ms() - t0;
	scrape_apps_close(c);
	print_message("drained %zu bytes in %lld ms\n", parts.len, (long long)took);
	/* Quadratic: ~4000 blocks each searching ~8 MB on average. */
	if (took > 5000)
		fail_msg("draining a 16 MB blob in 4 KiB blocks took %lld ms", (long long)took);
	/* The same bytes as written whole (the blob is the same unless a
	 * scrape landed in between: its values do not change). */
	assert_int_equal(scrape_mgr_write_apps(f->m, &whole), 0);
	assert_int_equal(whole.len, parts.len);
	assert_memory_equal(whole.data, parts.data, whole.len);
	assert_non_null(strstr(buf_cstr(&parts), "big{i=\"7\","));
	buf_fini(&body);
	buf_fini(&whole);
	buf_fini(&parts);
}

/* Reads /metrics/apps every 10 ms for ms milliseconds; fails at the
 * first read that lacks one of the wanted lines (a restarted target has
 * neither up nor samples until its first new scrape). */
static void always_has(struct fix *f, int64_t ms, const char *const *want, size_t n)
{
	int64_t end = clock_mono_ms() + ms;
	unsigned reads = 0;

	while (clock_mono_ms() < end) {
		const char *text = apps(f);
		for (size_t i = 0; i < n; i++)
			if (!strstr(text, want[i]))
				fail_msg("read %u: \"%s\" missing from:\n%s", reads, want[i], text);
		reads++;
		usleep(10 * 1000);
	}
}

/* Issue 13: a target whose identity (rule, final labels, URL) is unchanged
 * keeps its samples, up and series while its interval, its timeout or its
 * rule (here scrapeTimeout and sampleLimit, which the next scrape obeys)
 * change; a changed label set or URL is a new target and the old one's
 * series end. */
static void test_identity_kept_across_interval(void **state)
{
	struct fix *f = *state;
	struct scrape_rule *r[1] = { rule("keep", "") };
	int p0 = f->srv.port[6], p1 = f->srv.port[7];
	char *up = NULL, *sample = NULL, *up1 = NULL, *team = NULL, *t0 = tl("keep", p0, true);

	assert_true(asprintf(&up, "up{%s 1\n", t0) > 0);
	assert_true(asprintf(&sample, "kept_total{%s 7\n", t0) > 0);
	srv_set(&f->srv, 6, NULL, "kept_total 7\nother 1\n");
	srv_set(&f->srv, 7, NULL, "kept_total 7\n");
	set_rules(f, r, 1);
	put_pod(f, "keep", p0, false);
	assert_true(wait_for(f, apps, sample, false));
	assert_true(wait_for(f, apps, up, false));
	{
		const char *want[2] = { up, sample };
		/* Annotation interval 1s -> 3s: over two old intervals, never
		 * missing; then the new schedule is the one shown. */
		put_pod_at(f, "keep", p0, "3s", false);
		always_has(f, 2500, want, 2);
		assert_true(wait_for(f, targets, "\"scrapeInterval\":\"3s\"", false));
		/* The rule's timeout changes (a new rule object, same
		 * identity): kept. */
		r[0] = rule("keep", "\"scrapeTimeout\":\"900ms\"");
		set_rules(f, r, 1);
		always_has(f, 400, want, 2);
		assert_true(wait_for(f, targets, "\"scrapeTimeout\":\"900ms\"", false));
		/* Its sampleLimit changes: the kept target's next scrape obeys
		 * the new rule (2 samples > 1: up 0, the reason shown). */
		r[0] = rule("keep", "\"sampleLimit\":1");
		set_rules(f, r, 1);
		assert_true(wait_for(f, targets, "sample limit exceeded (1)", false));
		/* No limit, and 1h: the scrape already due (within the old
		 * 3 s) still comes, and brings the target back up. */
		r[0] = rule("keep", "");
		set_rules(f, r, 1);
		put_pod_at(f, "keep", p0, "1h", false);
		assert_true(wait_for(f, apps, up, false));
		assert_true(wait_for(f, targets, "\"scrapeInterval\":\"3600s\"", false));
		/* Back to 1s: the next scrape comes within one new interval,
		 * not after the rest of the old hour (the new value shows). */
		srv_set(&f->srv, 6, NULL, "kept_total 8\nother 1\n");
		put_pod_at(f, "keep", p0, "1s", false);
		assert_true(wait_line(f, "kept_total{", "keep", p0, " 8\n"));
		free(sample);
		assert_true(asprintf(&sample, "kept_total{%s 8\n", t0) > 0);
		want[1] = sample;
		always_has(f, 2500, want, 2);
	}
	/* The final labels change (a relabeling adds team="a"): a new target;
	 * the old label set's series end. */
	r[0] = rule("keep", "\"relabelings\":[{\"targetLabel\":\"team\",\"replacement\":\"a\"}]");
	set_rules(f, r, 1);
	assert_true(asprintf(&team, "pod=\"keep\",team=\"a\"} 1\n") > 0);
	assert_true(wait_for(f, apps, team, false));
	assert_true(wait_for(f, apps, up, true));
	assert_true(wait_for(f, apps, sample, true));
	/* The URL changes (another port): a new target, the old one ends. */
	put_pod(f, "keep", p1, false);
	{
		char *t1 = NULL;
		assert_true(asprintf(&t1, "instance=\"127.0.0.1:%d\",job=\"t/keep\",namespace=\"t\",node=\"n1\",pod=\"keep\",team=\"a\"} 1\n", p1) > 0);
		assert_true(asprintf(&up1, "up{container=\"c\",%s", t1) > 0);
		free(t1);
	}
	assert_true(wait_for(f, apps, up1, false));
	assert_true(wait_for(f, apps, "other{", true));
	free(t0);
	free(up);
	free(up1);
	free(sample);
	free(team);
}


/* ---- remote write encoded at the scrape (scrape/push.c) ------------------ */

/* The series the collector gets for one target: its chunks packed into
 * one block (as rw.c packs them) and decoded. */
struct pushed {
	struct buf pb;              /* WriteRequest bytes, every target's */
	size_t targets;
};

static int on_packed(void *ctx, const char *z, size_t zlen, size_t series)
{
	struct buf *pb = ctx;
	size_t n = 0;

	(void)series;
	assert_int_equal(dl_snappy.uncompressed_length(z, zlen, &n), SNAPPY_OK);
	assert_int_equal(buf_reserve(pb, n), 0);
	assert_int_equal(dl_snappy.uncompress(z, zlen, pb->data + pb->len, &n), SNAPPY_OK);
	pb->len += n;
	return 0;
}

static int on_pushed(void *ctx, struct rw_chunks *k)
{
	struct pushed *p = ctx;
	struct rw_packer pk;
	struct rw_chunk_ref ch;
	size_t off = 0;

	buf_reset(&p->pb);
	rw_packer_init(&pk, 1u << 30, 1u << 30, on_packed, &p->pb);
	while (rw_chunks_next(k, &off, &ch))
		assert_int_equal(rw_packer_add(&pk, &ch), 0);
	assert_int_equal(rw_packer_flush(&pk), 0);
	rw_packer_fini(&pk);
	rw_chunks_unref(k);
	p->targets++;
	return 0;
}

static uint64_t varint(const unsigned char **p)
{
	uint64_t v = 0;

	for (int sh = 0;; sh += 7) {
		unsigned char b = *(*p)++;
		v |= (uint64_t)(b & 0x7f) << sh;
		if (!(b & 0x80))
			return v;
	}
}

/* Timestamp of the last TimeSeries in a WriteRequest (its last sample). */
static int64_t last_ts(const struct buf *pb)
{
	const unsigned char *p = (const unsigned char *)pb->data, *end = p + pb->len, *last = NULL;
	size_t lastn = 0;
	int64_t ts = -1;

	while (p < end) {
		assert_int_equal(*p++, 0x0a);
		lastn = (size_t)varint(&p);
		last = p;
		p += lastn;
	}
	assert_non_null(last);
	for (p = last; p < last + lastn;) {
		unsigned char key = *p++;
		size_t n = (size_t)varint(&p);
		const unsigned char *q = p;

		if (key == 0x12) {
			assert_int_equal(*q, 0x09);
			q += 9;
			assert_int_equal(*q++, 0x10);
			ts = (int64_t)varint(&q);
		}
		p += n;
	}
	return ts;
}

static int on_old_block(void *ctx, const char *pb, size_t len, size_t series)
{
	(void)series;
	return buf_add(ctx, pb, len);
}

/* Label values with every escape, a sample label clashing with a target
 * label and one with node, a scraped timestamp, NaN, -0.5, UTF-8. */
static const char push_body[] =
	"# TYPE m counter\n"
	"m{namespace=\"evil\",pod=\"evil\",x=\"1\"} 1\n"
	"m{x=\"2\"} 2\n"
	"# HELP g a gauge\n# TYPE g gauge\n"
	"g{node=\"mine\",q=\"a\\\"b\\\\c\\nd\"} -0.5 1700000000123\n"
	"h NaN\n"
	"h2{z=\"\xc3\xa9\"} 1e+300\n";

/* One target under rule rname: what the scrape encoded is byte for byte
 * what the collector made before, by rendering /metrics/apps and parsing
 * it back (remotewrite/encode.h) with the scrape's time as the cycle's. */
static void push_equiv_body(struct fix *f, const char *rname, const char *extra, int i, const char *body,
			    size_t samples, struct buf *text)
{
	static const struct label_pair ext[] = { { "cluster", "c1" }, { "pod", "ext-wins" } };
	struct label_pair node = { "node", "n1" };
	struct rw_target tgt = { &node, 1, true };
	struct scrape_rule *r[1] = { rule(rname, extra) };
	struct pushed p = { .targets = 0 };
	struct buf old;
	int port = f->srv.port[i];
	bool same = false;

	buf_init(&p.pb, 64 << 20);
	buf_init(&old, 64 << 20);
	srv_set(&f->srv, i, NULL, body);
	set_rules(f, r, 1);
	put_pod(f, rname, port, false);
	assert_true(wait_line(f, "up{", rname, port, " 1\n"));
	/* A scrape between the collect and the text would compare two
	 * scrapes: then again. */
	for (int tries = 0; tries < 50 && !same; tries++) {
		struct pushed again = { .targets = 0 };
		struct rw_encoder *e;

		usleep(1200 * 1000);
		p.targets = 0;
		assert_int_equal(scrape_mgr_push_collect(f->m, on_pushed, &p), 0);
		apps(f);
		buf_init(&again.pb, 64 << 20);
		assert_int_equal(scrape_mgr_push_collect(f->m, on_pushed, &again), 0);
		buf_fini(&again.pb);
		if (p.targets != 1 || again.targets)
			continue;
		buf_reset(&old);
		e = rw_encoder_new(1u << 30, ext, 2, on_old_block, &old);
		assert_non_null(e);
		rw_encoder_begin(e, &tgt, last_ts(&p.pb));
		assert_int_equal(rw_encoder_feed(e, f->out.data, f->out.len), 0);
		assert_int_equal(rw_encoder_end(e), 0);
		assert_int_equal(rw_encoder_flush(e), 0);
		assert_int_equal(rw_encoder_rejected(e), 0);
		assert_int_equal(rw_encoder_samples(e), samples + 5); /* and up, scrape_* */
		rw_encoder_free(e);
		same = true;
	}
	assert_true(same);
	assert_int_equal(p.pb.len, old.len);
	assert_memory_equal(p.pb.data, old.data, old.len);
	if (text) {
		buf_reset(text);
		assert_int_equal(buf_add(text, f->out.data, f->out.len), 0);
	}
	put_pod(f, rname, port, true);
	assert_true(wait_for(f, apps, "up{", true));
	buf_fini(&p.pb);
	buf_fini(&old);
}

static void push_equiv(struct fix *f, const char *rname, const char *extra, int i)
{
	push_equiv_body(f, rname, extra, i, push_body, 5, NULL);
}

static void test_push_matches_text(void **state)
{
	struct fix *f = *state;
	static const struct label_pair ext[] = { { "cluster", "c1" }, { "pod", "ext-wins" } };
	char err[256];

	assert_int_equal(dl_snappy_load(err, sizeof(err)), 0);
	assert_int_equal(scrape_mgr_set_push(f->m, ext, 2, "n1"), 0);
	push_equiv(f, "plain", "", 0);
	push_equiv(f, "honor", "\"honorLabels\":true", 1);
}

/* The sample lines of /metrics/apps text (those of the m0..m2 series) with
 * the target's own strings (rule name, port) replaced, joined. */
static void sample_lines(const struct buf *text, const char *rname, int port, struct buf *out)
{
	char portstr[16];
	const char *p = text->data, *end = text->data + text->len;

	snprintf(portstr, sizeof(portstr), "%d", port);
	buf_reset(out);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);

		if (p[0] == 'm') {
			for (size_t k = 0; k < len;) {
				if (k + strlen(rname) <= len && memcmp(p + k, rname, strlen(rname)) == 0) {
					assert_int_equal(buf_adds(out, "R"), 0);
					k += strlen(rname);
				} else if (k + strlen(portstr) <= len && memcmp(p + k, portstr, strlen(portstr)) == 0) {
					assert_int_equal(buf_adds(out, "P"), 0);
					k += strlen(portstr);
				} else {
					assert_int_equal(buf_addc(out, p[k]), 0);
					k++;
				}
			}
		}
		p += len;
	}
}

static uint64_t xs(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Random samples (seeded): labels named like the target's or a prefix of
 * one, in any order, with escapes, UTF-8 and empty values; one "i" label
 * numbers the series so that none repeats. */
static size_t random_body(struct buf *b, uint64_t seed)
{
	static const char *const names[] = { "a", "c", "co", "container", "instance", "inst", "job", "jo",
					     "namespace", "na", "node", "no", "pod", "po", "q", "z" };
	static const char *const vals[] = { "", "1", "v", "a\\\"b", "back\\\\slash", "nl\\nx", "\xc3\xa9t\xc3\xa9",
					    "}{,=", "long-value-0123456789-0123456789" };
	enum { NN = sizeof(names) / sizeof(names[0]), NV = sizeof(vals) / sizeof(vals[0]), LINES = 200 };
	uint64_t x = seed * 0x9e3779b97f4a7c15ull;

	buf_reset(b);
	for (int l = 0; l < LINES; l++) {
		const char *pick[NN];
		size_t np = 0, at;

		for (size_t k = 0; k < NN; k++)
			if (xs(&x) % 4 == 0)
				pick[np++] = names[k];
		for (size_t k = np; k > 1; k--) { /* shuffled: any order */
			size_t j = xs(&x) % k;
			const char *tmp = pick[k - 1];

			pick[k - 1] = pick[j];
			pick[j] = tmp;
		}
		at = xs(&x) % (np + 1);
		assert_int_equal(buf_printf(b, "m%d{", (int)(xs(&x) % 3)), 0);
		for (size_t k = 0; k <= np; k++) {
			if (k == at)
				assert_int_equal(buf_printf(b, "%si=\"%d\"", k ? "," : "", l), 0);
			if (k < np)
				assert_int_equal(buf_printf(b, "%s%s=\"%s\"", k || at == 0 ? "," : "", pick[k],
							    vals[xs(&x) % NV]), 0);
		}
		assert_int_equal(buf_printf(b, "} %d\n", l), 0);
	}
	return LINES;
}

/* The parser's slices and the label set give the same bytes, pushed and
 * rendered: targets whose rule has a label limit (a label set per sample)
 * and targets without (slices only), on random samples, with and without
 * honorLabels; each push is also checked against the text re-encoded. */
static void test_push_slices_match_set(void **state)
{
	struct fix *f = *state;
	static const struct label_pair ext[] = { { "cluster", "c1" }, { "pod", "ext-wins" } };
	struct buf body, t_fast, t_set, l_fast, l_set;
	char err[256];

	assert_int_equal(dl_snappy_load(err, sizeof(err)), 0);
	assert_int_equal(scrape_mgr_set_push(f->m, ext, 2, "n1"), 0);
	buf_init(&body, 1 << 20);
	buf_init(&t_fast, 64 << 20);
	buf_init(&t_set, 64 << 20);
	buf_init(&l_fast, 64 << 20);
	buf_init(&l_set, 64 << 20);
	for (uint64_t seed = 1; seed <= 2; seed++) {
		const char *honor = seed == 2 ? "\"honorLabels\":true," : "";
		char fast_extra[64], set_extra[64];
		size_t n = random_body(&body, seed);

		snprintf(fast_extra, sizeof(fast_extra), "%s\"sampleLimit\":100000", honor);
		snprintf(set_extra, sizeof(set_extra), "%s\"labelLimit\":1000", honor);
		push_equiv_body(f, "sfast", fast_extra, 0, buf_cstr(&body), n, &t_fast);
		push_equiv_body(f, "slset", set_extra, 1, buf_cstr(&body), n, &t_set);
		sample_lines(&t_fast, "sfast", f->srv.port[0], &l_fast);
		sample_lines(&t_set, "slset", f->srv.port[1], &l_set);
		assert_true(l_fast.len > 1000);
		assert_int_equal(l_fast.len, l_set.len);
		assert_memory_equal(l_fast.data, l_set.data, l_set.len);
	}
	buf_fini(&body);
	buf_fini(&t_fast);
	buf_fini(&t_set);
	buf_fini(&l_fast);
	buf_fini(&l_set);
}

/* A target label looked up by a slice (not NUL-terminated): the whole
 * name, never a prefix of a longer one, nor a longer name. */
static void test_tl_getn(void **state)
{
	static const char line[] = "containerX=\"1\",co=\"2\"";
	struct tlabels tl;

	(void)state;
	tl_init(&tl);
	assert_int_equal(tl_set(&tl, "container", "c"), 0);
	assert_int_equal(tl_set(&tl, "instance", "i"), 0);
	assert_string_equal(tl_getn(&tl, line, 9), "c");
	assert_null(tl_getn(&tl, line, 10));
	assert_null(tl_getn(&tl, line + 15, 2));
	assert_null(tl_getn(&tl, "in", 2));
	assert_string_equal(tl_getn(&tl, "instance", 8), "i");
	tl_fini(&tl);
}

/* A failed scrape is pushed as its synthetic series only (up 0), and each
 * scrape once: a second collect without a scrape in between has nothing. */
static void test_push_down_target(void **state)
{
	struct fix *f = *state;
	static const struct label_pair ext[] = { { "cluster", "c1" } };
	struct scrape_rule *r[1] = { rule("down", "") };
	struct pushed p = { .targets = 0 };
	char err[256];
	int port = f->srv.port[3];

	assert_int_equal(dl_snappy_load(err, sizeof(err)), 0);
	assert_int_equal(scrape_mgr_set_push(f->m, ext, 1, "n1"), 0);
	buf_init(&p.pb, 64 << 20);
	srv_set(&f->srv, 3, NULL, "ok 1\nbad{ 2\n");
	set_rules(f, r, 1);
	put_pod(f, "down", port, false);
	assert_true(wait_line(f, "up{", "down", port, " 0\n"));
	usleep(1200 * 1000);
	assert_int_equal(scrape_mgr_push_collect(f->m, on_pushed, &p), 0);
	assert_int_equal(p.targets, 1);
	assert_non_null(memmem(p.pb.data, p.pb.len, "\x0a\x08__name__\x12\x02up", 14));
	assert_null(memmem(p.pb.data, p.pb.len, "\x12\x02ok", 4));
	assert_non_null(memmem(p.pb.data, p.pb.len, "\x12\x02" "c1", 4));
	p.targets = 0;
	assert_int_equal(scrape_mgr_push_collect(f->m, on_pushed, &p), 0);
	assert_true(p.targets <= 1); /* one more scrape may have ended */
	buf_fini(&p.pb);
}

/* The value of the series named name in a WriteRequest; false when absent. */
static bool pb_value(const struct buf *pb, const char *name, double *v)
{
	const unsigned char *p = (const unsigned char *)pb->data, *end = p + pb->len;
	size_t nl = strlen(name);

	while (p < end) {
		const unsigned char *ts, *ts_end;
		bool match = false;
		double val = 0;
		size_t len;

		assert_int_equal(*p++, 0x0a);
		len = (size_t)varint(&p);
		ts_end = p + len;
		ts = p;
		p = ts_end;
		while (ts < ts_end) {
			unsigned char key = *ts++;
			const unsigned char *f = ts, *f_end;
			size_t flen = (size_t)varint(&f);

			f_end = f + flen;
			if (key == 0x0a) {
				/* Label: 1 name, 2 value */
				const unsigned char *q = f;
				size_t n;

				assert_int_equal(*q++, 0x0a);
				n = (size_t)varint(&q);
				if (n == 8 && memcmp(q, "__name__", 8) == 0) {
					q += n;
					assert_int_equal(*q++, 0x12);
					n = (size_t)varint(&q);
					match = n == nl && memcmp(q, name, nl) == 0;
				}
			} else if (key == 0x12) {
				assert_int_equal(*f, 0x09);
				memcpy(&val, f + 1, 8);
			}
			ts = f_end;
		}
		if (match) {
			*v = val;
			return true;
		}
	}
	return false;
}

/* Collects until one scrape of the one target was pushed (p->pb its
 * series): without reading /metrics/apps. */
static bool next_push(struct fix *f, struct pushed *p)
{
	int64_t end = clock_mono_ms() + 60000;

	while (clock_mono_ms() < end) {
		p->targets = 0;
		assert_int_equal(scrape_mgr_push_collect(f->m, on_pushed, p), 0);
		/* 2: a removed target's staleness markers, handed over first
		 * (a rule change re-creates its targets) */
		if (p->targets == 1 || p->targets == 2)
			return true;
		assert_int_equal(p->targets, 0);
		usleep(20 * 1000);
	}
	return false;
}

static double pushed_added(const struct pushed *p)
{
	double v = -1;

	assert_true(pb_value(&p->pb, "scrape_series_added", &v));
	return v;
}

/* Whether the last /metrics/apps output holds the sample line
 * name{<target labels>} value of target po. */
static bool has_sample(struct fix *f, const char *name, int port, const char *value)
{
	char *t = tl("po", port, true), *want = NULL;
	bool ok;

	assert_true(asprintf(&want, "%s{%s %s\n", name, t, value) > 0);
	ok = strstr(buf_cstr(&f->out), want) != NULL;
	free(want);
	free(t);
	return ok;
}

/* Push only: with remote write on and no /metrics/apps reader, a scrape
 * keeps no text (a first read shows up and scrape_* but no sample) while
 * every scrape is still pushed; scrape_series_added is exact from ids to
 * ids (same order, other order, new series), from ids to text once a
 * reader comes (text from the next scrape on), and from text to ids once
 * the reader is gone; a destination that needs the text keeps it. */
/* The remote-write scratch pool seen from the loop thread: how many idle,
 * whether the last one kept its grown memory, and whether a scrape is in
 * flight (it holds a scratch then). */
struct pool_view {
	struct scrape_mgr *m;
	size_t idle;
	bool grown, in_flight;
};

static void pool_on_loop(void *arg)
{
	struct pool_view *q = arg;

	q->idle = q->m->nckpool;
	q->grown = q->idle && q->m->ckpool[q->idle - 1].pb.alloc > 0;
	q->in_flight = false;
	for (size_t i = 0; i < q->m->set.n; i++) {
		const struct tstate *s = q->m->set.v[i]->state;

		q->in_flight |= s && s->push != NULL;
	}
}

/* Between two scrapes of one target, its scratch waits in the pool, grown:
 * the next scrape takes it instead of mapping a new one. */
static void assert_scratch_pooled(struct fix *f)
{
	struct pool_view q = { .m = f->m };

	for (int tries = 0; tries < 500; tries++) {
		assert_int_equal(kube_loop_call(f->loop, pool_on_loop, &q), 0);
		if (!q.in_flight)
			break;
		usleep(10000);
	}
	assert_false(q.in_flight);
	assert_int_equal(q.idle, 1);
	assert_true(q.grown);
}

static void test_push_only(void **state)
{
	struct fix *f = *state;
	static const struct label_pair ext[] = { { "cluster", "c1" } };
	struct scrape_rule *r[1] = { rule("po", "") };
	struct pushed p = { .targets = 0 };
	double v = 0;
	char err[256];
	int port = f->srv.port[4];

	assert_int_equal(dl_snappy_load(err, sizeof(err)), 0);
	assert_int_equal(scrape_mgr_set_push(f->m, ext, 1, "n1"), 0);
	buf_init(&p.pb, 64 << 20);
	srv_set(&f->srv, 4, NULL, "a 1\nb{x=\"1\"} 2\n");
	set_rules(f, r, 1);
	put_pod(f, "po", port, false);
	/* ids, no previous scrape: both series new; then the same: none */
	assert_true(next_push(f, &p));
	assert_true(pb_value(&p.pb, "a", &v) && v == 1);
	assert_true(pb_value(&p.pb, "b", &v) && v == 2);
	assert_true(pb_value(&p.pb, "up", &v) && v == 1);
	assert_true(pushed_added(&p) == 2);
	assert_true(next_push(f, &p));
	assert_true(pushed_added(&p) == 0);
	assert_scratch_pooled(f);
	/* ids to ids, reordered, one new */
	srv_set(&f->srv, 4, NULL, "b{x=\"1\"} 2\na 1\nc 3\n");
	do
		assert_true(next_push(f, &p));
	while (!pb_value(&p.pb, "c", &v));
	assert_true(pushed_added(&p) == 1);
	/* no text was kept: a first read has the target's up, not its samples */
	apps(f);
	assert_true(has_sample(f, "up", port, "1"));
	assert_false(has_sample(f, "c", port, "3"));
	assert_false(has_sample(f, "a", port, "1"));
	/* the read brings the text back from the next scrape: ids to text */
	assert_true(wait_line(f, "c{", "po", port, " 3\n"));
	assert_true(in_last(f, "scrape_series_added{", "po", port, " 0\n"));
	assert_true(in_last(f, "a{", "po", port, " 1\n"));
	assert_true(next_push(f, &p));
	assert_true(pb_value(&p.pb, "c", &v) && v == 3);
	/* text to ids: the reader goes away (as 5 minutes without a read do)
	 * just after a text scrape; the next one, with b gone and d new, is
	 * pushed with d as its only new series */
	assert_true(wait_line(f, "c{", "po", port, " 3\n"));
	srv_set(&f->srv, 4, NULL, "a 1\nc 3\nd 4\n");
	atomic_store(&f->m->apps_read_ms, 0);
	/* the text scrape's chunks, if not collected yet */
	assert_int_equal(scrape_mgr_push_collect(f->m, on_pushed, &p), 0);
	do
		assert_true(next_push(f, &p));
	while (!pb_value(&p.pb, "d", &v));
	assert_true(pushed_added(&p) == 1);
	assert_true(pb_value(&p.pb, "a", &v) && v == 1);
	/* b vanished across the switch: a staleness marker, no value */
	assert_true(pb_value(&p.pb, "b", &v) && rw_is_stale_nan(v));
	apps(f);
	assert_true(has_sample(f, "up", port, "1"));
	assert_false(has_sample(f, "d", port, "4"));
	/* a remote-write destination with labels of its own needs the text:
	 * kept with no reader (a scrape that started before may not have) */
	scrape_mgr_set_text_wanted(f->m, true);
	atomic_store(&f->m->apps_read_ms, 0);
	assert_true(next_push(f, &p));
	assert_true(next_push(f, &p));
	apps(f);
	assert_true(has_sample(f, "d", port, "4"));
	buf_fini(&p.pb);
}

/* One series of a WriteRequest, found by name. */
struct pb_hit {
	size_t count;               /* series of that name */
	char labels[1024];          /* label fields of the last one */
	size_t labels_len;
	double v;
	int64_t ts;
};

/* One TimeSeries of a WriteRequest, decoded from *p (advanced past it):
 * its label fields as pushed, its name, its sample's value and time. */
struct pb_series {
	const unsigned char *lab, *lab_end;
	const unsigned char *name;
	size_t name_len;
	double v;
	int64_t ts;
};

static void pb_series_next(const unsigned char **p, struct pb_series *o)
{
	const unsigned char *ts, *ts_end;
	size_t len;

	memset(o, 0, sizeof(*o));
	assert_int_equal(*(*p)++, 0x0a);
	len = (size_t)varint(p);
	ts = *p;
	ts_end = *p + len;
	*p = ts_end;
	while (ts < ts_end) {
		const unsigned char *start = ts, *f;
		unsigned char key = *ts++;
		size_t flen;

		f = ts;
		flen = (size_t)varint(&f);
		ts = f + flen;
		if (key == 0x0a) {
			const unsigned char *q = f;
			size_t n;

			o->lab = o->lab ? o->lab : start;
			o->lab_end = ts;
			assert_int_equal(*q++, 0x0a);
			n = (size_t)varint(&q);
			if (n == 8 && memcmp(q, "__name__", 8) == 0) {
				q += n;
				assert_int_equal(*q++, 0x12);
				o->name_len = (size_t)varint(&q);
				o->name = q;
			}
		} else if (key == 0x12) {
			const unsigned char *q = f + 9;

			assert_int_equal(*f, 0x09);
			memcpy(&o->v, f + 1, 8);
			assert_int_equal(*q++, 0x10);
			o->ts = (int64_t)varint(&q);
		}
	}
}

static bool pb_named(const struct pb_series *s, const char *name, size_t len)
{
	return s->name && s->name_len == len && memcmp(s->name, name, len) == 0;
}

/* Every series named name in pb (h->count 0: none); and the number of
 * staleness markers in pb, returned. */
static size_t pb_find(const struct buf *pb, const char *name, struct pb_hit *h)
{
	const unsigned char *p = (const unsigned char *)pb->data, *end = p + pb->len;
	size_t nl = name ? strlen(name) : 0, stale = 0;

	memset(h, 0, sizeof(*h));
	while (p < end) {
		struct pb_series s;

		pb_series_next(&p, &s);
		stale += rw_is_stale_nan(s.v);
		if (name && pb_named(&s, name, nl)) {
			h->count++;
			h->v = s.v;
			h->ts = s.ts;
			h->labels_len = (size_t)(s.lab_end - s.lab);
			assert_true(h->labels_len <= sizeof(h->labels));
			memcpy(h->labels, s.lab, h->labels_len);
		}
	}
	return stale;
}

/* Pushes until one whose series named name satisfy ok (or a minute). */
static bool push_until(struct fix *f, struct pushed *p, const char *name, bool (*ok)(const struct pb_hit *))
{
	struct pb_hit h;

	for (int i = 0; i < 200; i++) {
		if (!next_push(f, p))
			return false;
		(void)pb_find(&p->pb, name, &h);
		if (ok(&h))
			return true;
	}
	return false;
}

static bool hit_stale(const struct pb_hit *h)
{
	return h->count && rw_is_stale_nan(h->v);
}

static bool hit_live(const struct pb_hit *h)
{
	return h->count && !rw_is_stale_nan(h->v);
}

static bool hit_down(const struct pb_hit *h)
{
	return h->count && h->v == 0;
}

/* Staleness markers in remote write, on target i (text: /metrics/apps has
 * a reader, the blob path; else push only, the ids path):
 *  - b vanishes: exactly one marker, with the labels b was pushed with
 *    (target labels, exported_pod for its clash, node, the external
 *    label), at the scrape's time; never again after;
 *  - the scrape fails: markers for a (not for up, sent as 0), none at the
 *    next failure, none at recovery;
 *  - the target is removed: markers for a, up and scrape_*. */
/* k8smon_scrape_stale_markers_total now. */
static double stale_count(struct fix *f)
{
	const char *s = strstr(self(f), "\nk8smon_scrape_stale_markers_total ");

	assert_non_null(s);
	return strtod(s + strlen("\nk8smon_scrape_stale_markers_total "), NULL);
}

static void stale_flow(struct fix *f, const char *name, int i, bool text)
{
	struct scrape_rule *r[1] = { rule(name, "") };
	struct pushed p = { .targets = 0 };
	struct pb_hit b, h, up;
	int port = f->srv.port[i];
	double made = stale_count(f);
	size_t st;

	scrape_mgr_set_text_wanted(f->m, text);
	buf_init(&p.pb, 64 << 20);
	srv_set(&f->srv, i, NULL, "a 1\nb{pod=\"evil\",x=\"1\"} 2\n");
	set_rules(f, r, 1);
	put_pod(f, name, port, false);
	assert_true(push_until(f, &p, "b", hit_live));
	assert_true(push_until(f, &p, "b", hit_live)); /* a scrape after a scrape: nothing vanished */
	assert_int_equal(pb_find(&p.pb, "b", &b), 0);
	assert_non_null(memmem(b.labels, b.labels_len, "exported_pod", 12));
	assert_non_null(memmem(b.labels, b.labels_len, "\x12\x02" "c1", 4));
	assert_non_null(memmem(b.labels, b.labels_len, "\x12\x02n1", 4));
	assert_non_null(memmem(b.labels, b.labels_len, name, strlen(name)));
	if (text)
		assert_true(wait_line(f, "b{exported_pod=\"evil\",x=\"1\",", name, port, " 2\n"));
	/* b vanishes */
	srv_set(&f->srv, i, NULL, "a 1\n");
	assert_true(push_until(f, &p, "b", hit_stale));
	st = pb_find(&p.pb, "b", &h);
	assert_int_equal(st, 1);
	assert_int_equal(h.count, 1);
	assert_int_equal(h.labels_len, b.labels_len);
	assert_memory_equal(h.labels, b.labels, b.labels_len);
	(void)pb_find(&p.pb, "a", &up);
	assert_true(up.count == 1 && up.v == 1);
	assert_true(h.ts == up.ts && h.ts > b.ts);
	assert_true(stale_count(f) == made + 1);
	for (int k = 0; k < 2; k++) {
		assert_true(next_push(f, &p));
		assert_int_equal(pb_find(&p.pb, "b", &h), 0);
		assert_int_equal(h.count, 0);
	}
	/* the scrape fails: a goes stale with up 0 */
	srv_set(&f->srv, i, NULL, "a 1\nbad{ 2\n");
	assert_true(push_until(f, &p, "up", hit_down));
	assert_int_equal(pb_find(&p.pb, "a", &h), 1);
	assert_true(hit_stale(&h));
	(void)pb_find(&p.pb, "up", &up);
	assert_true(h.ts == up.ts);
	assert_true(stale_count(f) == made + 2);
	assert_true(next_push(f, &p));
	assert_int_equal(pb_find(&p.pb, "a", &h), 0);
	assert_int_equal(h.count, 0);
	/* recovery: a again, no marker */
	srv_set(&f->srv, i, NULL, "a 1\n");
	assert_true(push_until(f, &p, "a", hit_live));
	assert_int_equal(pb_find(&p.pb, "up", &up), 0);
	assert_true(up.v == 1);
	assert_true(next_push(f, &p));
	assert_int_equal(pb_find(&p.pb, "a", &h), 0);
	/* the target goes away: a, up and the four scrape_* series */
	put_pod(f, name, port, true);
	assert_true(push_until(f, &p, "up", hit_stale));
	assert_int_equal(pb_find(&p.pb, "a", &h), 6);
	assert_true(hit_stale(&h));
	(void)pb_find(&p.pb, "scrape_series_added", &h);
	assert_true(hit_stale(&h) && h.ts > up.ts);
	assert_true(stale_count(f) == made + 8);
	for (int k = 0; k < 20; k++) {
		p.targets = 0;
		assert_int_equal(scrape_mgr_push_collect(f->m, on_pushed, &p), 0);
		assert_int_equal(p.targets, 0);
		usleep(50 * 1000);
	}
	buf_fini(&p.pb);
}

static void test_push_stale(void **state)
{
	struct fix *f = *state;
	static const struct label_pair ext[] = { { "cluster", "c1" } };
	char err[256];

	assert_int_equal(dl_snappy_load(err, sizeof(err)), 0);
	assert_int_equal(scrape_mgr_set_push(f->m, ext, 1, "n1"), 0);
	stale_flow(f, "stp", 6, false);
	stale_flow(f, "stt", 7, true);
}

/* scrape_mgr_set_stale_markers(false), -promscrape.noStaleMarkers: a
 * vanished series and a removed target send no marker. */
static void test_push_no_stale(void **state)
{
	struct fix *f = *state;
	static const struct label_pair ext[] = { { "cluster", "c1" } };
	struct scrape_rule *r[1] = { rule("ns", "") };
	struct pushed p = { .targets = 0 };
	struct pb_hit h;
	char err[256];
	int port = f->srv.port[6];

	assert_int_equal(dl_snappy_load(err, sizeof(err)), 0);
	assert_int_equal(scrape_mgr_set_push(f->m, ext, 1, "n1"), 0);
	scrape_mgr_set_stale_markers(f->m, false);
	buf_init(&p.pb, 64 << 20);
	srv_set(&f->srv, 6, NULL, "a 1\nb 2\n");
	set_rules(f, r, 1);
	put_pod(f, "ns", port, false);
	assert_true(push_until(f, &p, "b", hit_live));
	srv_set(&f->srv, 6, NULL, "a 1\n");
	for (int k = 0; k < 4; k++) {
		assert_true(next_push(f, &p));
		assert_int_equal(pb_find(&p.pb, "b", &h), 0);
	}
	put_pod(f, "ns", port, true);
	for (int k = 0; k < 40; k++) {
		p.targets = 0;
		assert_int_equal(scrape_mgr_push_collect(f->m, on_pushed, &p), 0);
		assert_true(p.targets <= 1);
		if (p.targets)
			assert_int_equal(pb_find(&p.pb, NULL, &h), 0);
		usleep(50 * 1000);
	}
	assert_true(stale_count(f) == 0);
	buf_fini(&p.pb);
}

/* The fixture's policy with memory budget budget, applied with its rules. */
static void apply_budget(struct fix *f, uint64_t budget)
{
	struct scrape_policy pol;
	struct scrape_settings st = { .enabled = true, .leader = true, .interval_ms = 1000,
				      .rules = f->rules, .nrules = f->nrules, .policy = &pol };

	scrape_policy_default(&pol);
	pol.allow_loopback = true;
	pol.allow_node_addresses = true;
	pol.builtin_rule = false;
	pol.default_sample_limit = pol.max_sample_limit = 0;
	pol.memory_budget = budget;
	assert_int_equal(scrape_mgr_apply(f->m, &st), 0);
}

/* Push only keeps the limits: a scrape over its sampleLimit, or one whose
 * encoded samples would pass the memory budget, fails (up 0 pushed, no
 * sample, lastError in /api/v1/targets); with the budget lifted the same
 * target is pushed whole again. */
static void test_push_only_limits(void **state)
{
	struct fix *f = *state;
	static const struct label_pair ext[] = { { "cluster", "c1" } };
	struct scrape_rule *r[1] = { rule("lim", "\"sampleLimit\":100") };
	struct pushed p = { .targets = 0 };
	struct buf body;
	double v = 0;
	char err[256];
	int port = f->srv.port[5];

	assert_int_equal(dl_snappy_load(err, sizeof(err)), 0);
	assert_int_equal(scrape_mgr_set_push(f->m, ext, 1, "n1"), 0);
	buf_init(&p.pb, 64 << 20);
	buf_init(&body, 1 << 20);
	for (int i = 0; i < 200; i++)
		assert_int_equal(buf_printf(&body, "s{i=\"%d\"} %d\n", i, i), 0);
	srv_set(&f->srv, 5, NULL, buf_cstr(&body));
	set_rules(f, r, 1);
	put_pod(f, "lim", port, false);
	assert_true(next_push(f, &p));
	assert_true(pb_value(&p.pb, "up", &v) && v == 0);
	assert_false(pb_value(&p.pb, "s", &v));
	assert_true(wait_for(f, targets, "sample limit exceeded (100)", false));
	/* the memory budget: 200 ids and their encoding are over 1 KiB */
	scrape_rule_unref(f->rules[0]);
	f->rules[0] = rule("lim", "");
	apply_budget(f, 1024);
	assert_true(wait_for(f, targets, "memory budget exceeded", false));
	/* every scrape over it, not every other one (a scrape that kept its
	 * samples would count them against the next only) */
	for (int i = 0; i < 3; i++) {
		assert_true(next_push(f, &p));
		assert_true(pb_value(&p.pb, "up", &v) && v == 0);
		assert_false(pb_value(&p.pb, "s", &v));
	}
	/* lifted: every sample pushed again */
	apply_budget(f, 0);
	do
		assert_true(next_push(f, &p));
	while (!pb_value(&p.pb, "up", &v) || v != 1);
	assert_true(pb_value(&p.pb, "scrape_samples_scraped", &v) && v == 200);
	assert_true(pb_value(&p.pb, "s", &v));
	buf_fini(&body);
	buf_fini(&p.pb);
}

/* ---- series cache (scrape/scache.h) ---------------------------------------- */

/* A series of the randomized bodies below: name m<name>, its labels in
 * the order written (a value "" is no label), a unique "i". */
#define SC_LABELS 5
struct sc_series {
	int name;
	int nl;
	char ln[SC_LABELS][12];
	char lv[SC_LABELS][12];
	int v;
};

struct sc_model {
	struct sc_series s[128];
	int n;
	int next_i;                 /* for new series */
	int bumps;                  /* one-byte changes made */
	int meta;                   /* 0 none, 1 counter + HELP, 2 gauge + other HELP */
	bool om, ts, bad;
};

static void sc_new(struct sc_model *m, struct sc_series *s, uint64_t *x)
{
	static const char *const names[] = { "a", "b", "pod", "namespace", "z" };
	static const char *const vals[] = { "", "v", "w\\\"q", "x\\\\y", "\xc3\xa9" };

	memset(s, 0, sizeof(*s));
	s->name = (int)(xs(x) % 3);
	snprintf(s->ln[0], sizeof(s->ln[0]), "i");
	snprintf(s->lv[0], sizeof(s->lv[0]), "%03d", m->next_i++);
	s->nl = 1;
	for (int k = 0; k < 5 && s->nl < SC_LABELS; k++)
		if (xs(x) % 2) {
			snprintf(s->ln[s->nl], sizeof(s->ln[0]), "%s", names[k]);
			snprintf(s->lv[s->nl], sizeof(s->lv[0]), "%s", vals[xs(x) % 5]);
			s->nl++;
		}
	s->v = (int)(xs(x) % 1000);
}

/* The identity of a series: name and its non-empty labels, sorted. */
static void sc_key(const struct sc_series *s, char *out, size_t cap)
{
	int ord[SC_LABELS];
	size_t len;

	for (int k = 0; k < s->nl; k++)
		ord[k] = k;
	for (int k = 1; k < s->nl; k++)
		for (int j = k; j > 0 && strcmp(s->ln[ord[j - 1]], s->ln[ord[j]]) > 0; j--) {
			int t = ord[j];

			ord[j] = ord[j - 1];
			ord[j - 1] = t;
		}
	len = (size_t)snprintf(out, cap, "m%d", s->name);
	for (int k = 0; k < s->nl; k++)
		if (s->lv[ord[k]][0])
			len += (size_t)snprintf(out + len, cap - len, "|%s=%s", s->ln[ord[k]], s->lv[ord[k]]);
}

/* Series of a whose identity b lacks (b may be NULL: none). The "i"
 * label keeps them distinct. */
static int sc_minus(const struct sc_model *a, const struct sc_model *b)
{
	int n = 0;

	for (int i = 0; i < a->n; i++) {
		char ka[256], kb[256];
		bool found = false;

		sc_key(&a->s[i], ka, sizeof(ka));
		for (int j = 0; b && j < b->n && !found; j++) {
			sc_key(&b->s[j], kb, sizeof(kb));
			found = strcmp(ka, kb) == 0;
		}
		n += !found;
	}
	return n;
}

/* Whether some series of m has the "i" value v. */
static bool sc_taken(const struct sc_model *m, const char *v)
{
	for (int i = 0; i < m->n; i++)
		if (strcmp(m->s[i].lv[0], v) == 0)
			return true;
	return false;
}

/* One random change of the exposition: values, a series added, removed or
 * moved, a label value one byte off, labels reordered or an empty one
 * added (same identity, other text), TYPE/HELP, OpenMetrics, timestamps,
 * a scrape that fails halfway. */
static void sc_mutate(struct sc_model *m, int kind, uint64_t *x)
{
	int k = m->n ? (int)(xs(x) % (uint64_t)m->n) : 0;
	struct sc_series *s = &m->s[k];

	m->bad = false;
	switch (kind) {
	case 0:
		for (int i = 0; i < m->n; i++)
			m->s[i].v = (int)(xs(x) % 1000);
		break;
	case 1:
		if (m->n < (int)(sizeof(m->s) / sizeof(m->s[0]))) {
			memmove(&m->s[k + 1], &m->s[k], (size_t)(m->n - k) * sizeof(m->s[0]));
			sc_new(m, &m->s[k], x);
			m->n++;
		}
		break;
	case 2:
		if (m->n > 1) {
			memmove(&m->s[k], &m->s[k + 1], (size_t)(m->n - k - 1) * sizeof(m->s[0]));
			m->n--;
		}
		break;
	case 3:
		if (k + 1 < m->n) {
			struct sc_series t = m->s[k];

			m->s[k] = m->s[k + 1];
			m->s[k + 1] = t;
		}
		break;
	case 4: {
		/* one byte of the unique label: another series at the same place */
		char v[12];

		memcpy(v, s->lv[0], sizeof(v));
		v[0] = (char)('a' + m->bumps++ % 26); /* "012" -> "a12": unique but by chance */
		if (!sc_taken(m, v))
			memcpy(s->lv[0], v, sizeof(v));
		break;
	}
	case 5:
		if (s->nl > 1) {
			char n0[12], v0[12];

			memcpy(n0, s->ln[0], sizeof(n0));
			memcpy(v0, s->lv[0], sizeof(v0));
			memmove(s->ln[0], s->ln[1], (size_t)(s->nl - 1) * sizeof(s->ln[0]));
			memmove(s->lv[0], s->lv[1], (size_t)(s->nl - 1) * sizeof(s->lv[0]));
			memcpy(s->ln[s->nl - 1], n0, sizeof(n0));
			memcpy(s->lv[s->nl - 1], v0, sizeof(v0));
		}
		break;
	case 6:
		if (s->nl < SC_LABELS) {
			snprintf(s->ln[s->nl], sizeof(s->ln[0]), "e");
			s->lv[s->nl][0] = 0;
			s->nl++;
		}
		break;
	case 7:
		m->meta = (m->meta + 1) % 3;
		break;
	case 8:
		m->om = !m->om;
		break;
	case 9:
		m->ts = !m->ts;
		break;
	default:
		m->bad = true;
		break;
	}
}

/* The exposition of m at step k: sc_step k first, padded so that the body
 * spans several of libcurl's reads (lines split across chunks). */
static void sc_body(const struct sc_model *m, int k, struct buf *b)
{
	bool meta_done[3] = { false, false, false };

	buf_reset(b);
	assert_int_equal(buf_printf(b, "sc_step %d\n", k), 0);
	for (int i = 0; i < m->n; i++) {
		const struct sc_series *s = &m->s[i];

		/* once per family: a second TYPE would fail the scrape */
		if (m->meta && !meta_done[s->name] && (meta_done[s->name] = true))
			assert_int_equal(buf_printf(b, "# HELP m%d help %d\n# TYPE m%d %s\n", s->name, m->meta,
						    s->name, m->meta == 1 && !m->om ? "counter" : "gauge"), 0);
		assert_int_equal(buf_printf(b, "m%d{", s->name), 0);
		for (int l = 0; l < s->nl; l++)
			assert_int_equal(buf_printf(b, "%s%s=\"%s\"", l ? "," : "", s->ln[l], s->lv[l]), 0);
		assert_int_equal(buf_printf(b, "} %d", s->v), 0);
		if (m->ts)
			assert_int_equal(buf_printf(b, m->om ? " 1700000000.%03d" : " 1700000000%03d", i), 0);
		assert_int_equal(buf_printf(b, "\n# %0200d\n", 0), 0); /* a comment, to pad */
		if (m->bad && i == m->n / 2)
			assert_int_equal(buf_adds(b, "bad{ 2\n"), 0);
	}
	if (m->om)
		assert_int_equal(buf_adds(b, "# EOF\n"), 0);
}

/* What a push shows of the samples (not up nor scrape_*), in order: each
 * series' label fields and value, timestamps left out (the scrape's time
 * differs between runs); the staleness markers counted apart. */
static void sc_sig(const struct buf *pb, struct buf *sig, size_t *markers, size_t *live)
{
	const unsigned char *p = (const unsigned char *)pb->data, *end = p + pb->len;

	buf_reset(sig);
	*markers = *live = 0;
	while (p < end) {
		struct pb_series s;

		pb_series_next(&p, &s);
		if (pb_named(&s, "up", 2) || (s.name && s.name_len > 7 && memcmp(s.name, "scrape_", 7) == 0))
			continue;
		if (rw_is_stale_nan(s.v))
			(*markers)++;
		else
			(*live)++;
		assert_int_equal(buf_add(sig, s.lab, (size_t)(s.lab_end - s.lab)), 0);
		assert_int_equal(buf_add(sig, &s.v, sizeof(s.v)), 0);
	}
}

#define SC_KINDS 11
#define SC_STEPS (2 * SC_KINDS + 1)

/* One run of the random sequence (seed) on target i: every step's push
 * checked against the model (series added, markers, samples); its
 * signatures stored in sig[k] (first run) or compared with them. */
static void sc_run(struct fix *f, int i, uint64_t seed, struct buf *sig, bool compare)
{
	struct scrape_rule *r[1] = { rule("sc", "") };
	struct pushed p = { .targets = 0 };
	struct sc_model m = { .n = 0 }, prev = { .n = 0 };
	bool prev_up = false;       /* the last scrape was good: prev holds its series */
	struct buf body, cur;
	uint64_t x = seed;
	int port = f->srv.port[i];

	buf_init(&p.pb, 64 << 20);
	buf_init(&body, BODY_MAX);
	buf_init(&cur, 1 << 20);
	int kinds[SC_KINDS];

	/* every kind of change twice, in a random order */
	for (int k = 0; k < SC_KINDS; k++)
		kinds[k] = k;
	for (int k = SC_KINDS; k > 1; k--) {
		int j = (int)(xs(&x) % (uint64_t)k), t = kinds[k - 1];

		kinds[k - 1] = kinds[j];
		kinds[j] = t;
	}
	for (int k = 0; k < 60; k++)
		sc_new(&m, &m.s[m.n++], &x);
	set_rules(f, r, 1);
	for (int k = 0; k < SC_STEPS; k++) {
		size_t markers, live;
		double v = -1, added = -1;

		if (k)
			sc_mutate(&m, kinds[(k - 1) % SC_KINDS], &x);
		sc_body(&m, k, &body);
		srv_set(&f->srv, i, m.om ? "application/openmetrics-text; version=1.0.0; charset=utf-8" :
				   "text/plain; version=0.0.4", buf_cstr(&body));
		if (!k)
			put_pod_at(f, "sc", port, "1s", false);
		for (;;) {
			assert_true(next_push(f, &p));
			if (m.bad ? pb_value(&p.pb, "up", &v) && v == 0 : pb_value(&p.pb, "sc_step", &v) && v == k)
				break;
		}
		sc_sig(&p.pb, &cur, &markers, &live);
		/* Markers only for samples that came without a timestamp, as
		 * Prometheus writes them (sc_step never has one). */
		if (m.bad) {
			/* the failed scrape: every sample of the last good one
			 * marked, none pushed */
			assert_int_equal(live, 0);
			assert_int_equal(markers, prev_up ? (prev.ts ? 0 : prev.n) + 1 : 0);
		} else {
			/* sc_step is in both scrapes, or new with the others */
			assert_true(pb_value(&p.pb, "scrape_series_added", &added));
			assert_int_equal((int)added, prev_up ? sc_minus(&m, &prev) : sc_minus(&m, NULL) + 1);
			assert_int_equal(markers, prev_up && !prev.ts ? sc_minus(&prev, &m) : 0);
			assert_int_equal(live, m.n + 1);
		}
		if (compare) {
			assert_int_equal(cur.len, sig[k].len);
			assert_memory_equal(cur.data, sig[k].data, cur.len);
		} else {
			buf_reset(&sig[k]);
			assert_int_equal(buf_add(&sig[k], cur.data, cur.len), 0);
		}
		prev = m;
		prev_up = !m.bad; /* a failed scrape's series went stale */
		m.bad = false;
	}
	put_pod(f, "sc", port, true);
	assert_true(push_until(f, &p, "up", hit_stale));
	buf_fini(&p.pb);
	buf_fini(&body);
	buf_fini(&cur);
}

/* A text scrape (a /metrics/apps reader) between push-only ones: the
 * cache went with the ids; the next push-only scrape of the same series
 * finds nothing new and pushes them all. */
static void sc_text_between(struct fix *f)
{
	struct scrape_rule *r[1] = { rule("sct", "") };
	struct pushed p = { .targets = 0 };
	struct buf sig;
	size_t markers, live;
	double added = -1;
	int port = f->srv.port[2];

	buf_init(&p.pb, 64 << 20);
	buf_init(&sig, 1 << 20);
	srv_set(&f->srv, 2, NULL, "a 1\nb{x=\"1\"} 2\nc 3\n");
	set_rules(f, r, 1);
	put_pod(f, "sct", port, false);
	assert_true(next_push(f, &p));
	assert_true(next_push(f, &p)); /* a scrape after a push-only one: the cache in use */
	assert_true(wait_line(f, "b{x=\"1\",", "sct", port, " 2\n")); /* read: text from the next scrape */
	atomic_store(&f->m->apps_read_ms, 0);
	/* the text scrape's chunks, if not collected yet */
	assert_int_equal(scrape_mgr_push_collect(f->m, on_pushed, &p), 0);
	for (int k = 0; k < 3; k++) {
		assert_true(next_push(f, &p));
		sc_sig(&p.pb, &sig, &markers, &live);
		assert_int_equal(live, 3);
		assert_int_equal(markers, 0);
		assert_true(pb_value(&p.pb, "scrape_series_added", &added));
		assert_true(added == 0);
	}
	put_pod(f, "sct", port, true);
	buf_fini(&p.pb);
	buf_fini(&sig);
}

/* metricRelabelings: the cache stays off (a relabeled sample is not its
 * series text), every scrape pushes the relabeled series. */
static void sc_relabeled(struct fix *f)
{
	struct scrape_rule *r[1] = { rule("scr", "\"metricRelabelings\":[{\"targetLabel\":\"a\",\"replacement\":\"R\"}]") };
	struct pushed p = { .targets = 0 };
	uint64_t hits = atomic_load(&f->m->scache_hits);
	struct buf sig;
	size_t markers, live;
	int port = f->srv.port[1];

	buf_init(&p.pb, 64 << 20);
	buf_init(&sig, 1 << 20);
	srv_set(&f->srv, 1, NULL, "m{a=\"1\"} 1\nm{a=\"2\",b=\"x\"} 2\n");
	set_rules(f, r, 1);
	put_pod(f, "scr", port, false);
	for (int k = 0; k < 3; k++) {
		assert_true(next_push(f, &p));
		sc_sig(&p.pb, &sig, &markers, &live);
		assert_int_equal(live, 2);
		assert_int_equal(markers, 0);
		assert_non_null(memmem(sig.data, sig.len, "\x0a\x01" "a\x12\x01R", 6));
		assert_null(memmem(sig.data, sig.len, "\x0a\x01" "a\x12\x01" "1", 6));
	}
	assert_true(atomic_load(&f->m->scache_hits) == hits);
	put_pod(f, "scr", port, true);
	buf_fini(&p.pb);
	buf_fini(&sig);
}

/* The series cache changes nothing pushed: the same random sequence of
 * expositions (values changed, series added, removed, moved, a label value
 * one byte off, labels reordered or an empty one added, TYPE/HELP,
 * OpenMetrics, timestamps, scrapes failing halfway) on the same target,
 * first with the cache off, then on: every step's samples and markers
 * (labels and values) byte for byte the same, and both runs' series added
 * and markers as the model says. */
/* A kept-alive target's connection is reused from scrape to scrape; one
 * whose server closes it between scrapes (keep-alive timeout shorter than
 * the interval) is scraped fine on a new connection each time. */
static void test_keepalive_reuse_and_close(void **state)
{
	struct fix *f = *state;
	int p = f->srv.port[0];
	unsigned r;

	struct scrape_rule *rl[1] = { rule("ka", "") };

	srv_set(&f->srv, 0, NULL, "ka 1\n");
	srv_keep(&f->srv, 0, false);
	set_rules(f, rl, 1);
	put_pod(f, "ka", p, false);
	assert_true(srv_wait(&f->srv, &f->srv.reqs[0], 3));
	assert_int_equal(srv_count(&f->srv, &f->srv.accepts[0]), 1);
	assert_true(wait_line(f, "up{", "ka", p, " 1\n"));
	/* From the next answer on, each connection is closed by the server
	 * after its answer: every later scrape needs a connection of its own,
	 * and succeeds. */
	srv_keep(&f->srv, 0, true);
	r = srv_count(&f->srv, &f->srv.reqs[0]);
	srv_set(&f->srv, 0, NULL, "ka 2\n");
	assert_true(srv_wait(&f->srv, &f->srv.reqs[0], r + 3));
	assert_true(srv_count(&f->srv, &f->srv.accepts[0]) >= 3);
	assert_true(wait_line(f, "ka{", "ka", p, " 2\n"));
	assert_true(in_last(f, "up{", "ka", p, " 1\n"));
	srv_set(&f->srv, 0, NULL, "ka 3\n");
	assert_true(wait_line(f, "ka{", "ka", p, " 3\n"));
	assert_true(in_last(f, "up{", "ka", p, " 1\n"));
}

/* A target's scrape does not visit another target's idle connection
 * (scrape_int.h SCRAPE_CONN_CACHES: the two are in different connection
 * caches). Target 0 (every 4 s) has its connection closed by the server
 * after each answer; target 1 is scraped every second. With one cache for
 * both, libcurl's sweep at one of target 1's next scrapes (at most a second
 * apart) would find target 0's connection closed and close it: at most 2 of
 * target 1's requests after target 0's first. With a cache each, the
 * client's end stays open until target 0's own next scrape, 4 s later (about
 * 4 of target 1's requests), which finds it closed, closes it and scrapes
 * fine on a new connection. */
static void test_idle_connection_left_to_its_target(void **state)
{
	struct fix *f = *state;
	int pa = f->srv.port[0], pb = f->srv.port[1];
	unsigned first, eof;
	bool seen;
	struct scrape_rule *rl[2] = { rule("ia", "\"interval\":\"4s\""), rule("ib", "") };

	pthread_mutex_lock(&f->srv.mu);
	f->srv.ref = 1;
	pthread_mutex_unlock(&f->srv.mu);
	srv_set(&f->srv, 0, NULL, "a 1\n");
	srv_set(&f->srv, 1, NULL, "b 1\n");
	srv_keep(&f->srv, 0, true);
	srv_keep(&f->srv, 1, false);
	set_rules(f, rl, 2);
	put_pod_at(f, "ia", pa, "4s", false);
	put_pod(f, "ib", pb, false);
	assert_true(srv_wait(&f->srv, &f->srv.reqs[0], 2));
	assert_true(srv_wait(&f->srv, &f->srv.reqs[0], 3));
	pthread_mutex_lock(&f->srv.mu);
	first = f->srv.first_ref[0];
	eof = f->srv.eof_ref[0];
	seen = f->srv.eof_seen[0];
	pthread_mutex_unlock(&f->srv.mu);
	assert_true(seen);
	if (eof < first + 3)
		fail_msg("target 0's closed connection was closed by the client %u of target 1's "
			 "requests after target 0's first (its own next scrape is ~4 later)", eof - first);
	assert_true(wait_line(f, "up{", "ia", pa, " 1\n"));
	assert_true(in_last(f, "a{", "ia", pa, " 1\n"));
	assert_int_equal(srv_count(&f->srv, &f->srv.accepts[1]), 1);
}

static void test_push_series_cache(void **state)
{
	struct fix *f = *state;
	static const struct label_pair ext[] = { { "cluster", "c1" } };
	struct buf sig[SC_STEPS];
	char err[256];

	assert_int_equal(dl_snappy_load(err, sizeof(err)), 0);
	assert_int_equal(scrape_mgr_set_push(f->m, ext, 1, "n1"), 0);
	for (int k = 0; k < SC_STEPS; k++)
		buf_init(&sig[k], 1 << 20);
	scrape_mgr_set_series_cache(f->m, false);
	sc_run(f, 0, 0x9e3779b97f4a7c15ull, sig, false);
	assert_int_equal(atomic_load(&f->m->scache_hits), 0);
	scrape_mgr_set_series_cache(f->m, true);
	sc_run(f, 0, 0x9e3779b97f4a7c15ull, sig, true);
	/* and it was used: at least the repeated scrapes of the 23 steps
	 * (~60 series each, every one of them in place) */
	assert_true(atomic_load(&f->m->scache_hits) > SC_STEPS * 60 / 2);
	sc_relabeled(f);
	sc_text_between(f);
	for (int k = 0; k < SC_STEPS; k++)
		buf_fini(&sig[k]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exported_and_honor_labels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_synthetic_series, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sample_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_label_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_label_limit_drops_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relabel_cpu_budget, setup_big, teardown),
		cmocka_unit_test_setup_teardown(test_not_on_caller_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timestamps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_target_disappears, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apps_cursor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apps_cursor_long_run, setup_big, teardown),
		cmocka_unit_test_setup_teardown(test_identity_kept_across_interval, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_matches_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_slices_match_set, setup, teardown),
		cmocka_unit_test(test_tl_getn),
		cmocka_unit_test_setup_teardown(test_push_down_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_only_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_no_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_series_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keepalive_reuse_and_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_connection_left_to_its_target, setup, teardown),
	};

	/* TEST_FILTER=test_push_series_cache: one test while working on it */
	if (getenv("TEST_FILTER"))
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}

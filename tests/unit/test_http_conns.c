/* Connection admission (http/conns.c) on socketpairs standing for client
 * connections: at a cap the oldest idle connection is shut down to admit a
 * new one, a busy one never is, a full table of busy connections refuses,
 * the per-address cap evicts that address's own connections first, and a
 * connection without a complete request head is shut down at the header
 * deadline. The flood itself is tests/integration/test_http_flood.sh. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/err.h"
#include "http/conns.h"

struct pair {
	int srv, cli;
	struct http_conn *e;
};

static struct sockaddr_in addr_v4(const char *ip)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

static void open_pair(struct http_conns *t, struct pair *p, const char *ip)
{
	int sv[2];
	struct sockaddr_in a = addr_v4(ip);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	p->srv = sv[0];
	p->cli = sv[1];
	fcntl(p->cli, F_SETFL, O_NONBLOCK);
	p->e = http_conns_add(t, p->srv, (struct sockaddr *)&a, sizeof(a));
	assert_non_null(p->e);
}

/* The server side was shut down: the client reads end of stream. */
static bool shut(const struct pair *p)
{
	char c;

	return recv(p->cli, &c, 1, 0) == 0;
}

static void close_pair(struct http_conns *t, struct pair *p)
{
	http_conns_remove(t, p->e);
	close(p->srv);
	close(p->cli);
}

static int admit(struct http_conns *t, const char *ip, enum http_conn_refusal *why)
{
	struct sockaddr_in a = addr_v4(ip);

	return http_conns_admit(t, (struct sockaddr *)&a, sizeof(a), why);
}

static void test_cap_evicts_oldest_idle(void **state)
{
	struct http_conns *t = http_conns_new(&(struct http_conns_opts){ 3, 3, 60000, 60000 });
	struct pair p[3];
	enum http_conn_refusal why;

	(void)state;
	assert_non_null(t);
	for (int i = 0; i < 3; i++)
		open_pair(t, &p[i], i ? "10.0.0.1" : "10.0.0.2");
	http_conns_set_busy(t, p[0].e, true);
	/* Full: the oldest idle one (p[1]; p[0] is busy) makes room. */
	assert_int_equal(admit(t, "10.0.0.3", &why), 0);
	assert_false(shut(&p[0]));
	assert_true(shut(&p[1]));
	assert_false(shut(&p[2]));
	assert_int_equal(http_conns_closed(t, HTTP_CLOSED_EVICTED), 1);
	assert_int_equal(http_conns_open(t), 2);
	/* Every slot busy: refused and counted. */
	http_conns_set_busy(t, p[2].e, true);
	open_pair(t, &p[1], "10.0.0.3");
	http_conns_set_busy(t, p[1].e, true);
	assert_int_equal(admit(t, "10.0.0.4", &why), KM_ETOOBIG);
	assert_int_equal(why, HTTP_REFUSED_TOTAL);
	assert_int_equal(http_conns_refused(t, HTTP_REFUSED_TOTAL), 1);
	/* A finished response makes its connection evictable again. */
	http_conns_set_busy(t, p[2].e, false);
	assert_int_equal(admit(t, "10.0.0.4", &why), 0);
	assert_true(shut(&p[2]));
	for (int i = 0; i < 3; i++)
		close_pair(t, &p[i]);
	assert_int_equal(http_conns_open(t), 0);
	http_conns_free(t);
}

static void test_per_address_pays_for_itself(void **state)
{
	struct http_conns *t = http_conns_new(&(struct http_conns_opts){ 10, 2, 60000, 60000 });
	struct pair other, p[2];
	enum http_conn_refusal why;

	(void)state;
	assert_non_null(t);
	open_pair(t, &other, "10.0.0.9"); /* oldest overall, another address */
	open_pair(t, &p[0], "10.0.0.1");
	open_pair(t, &p[1], "10.0.0.1");
	/* 10.0.0.1 at its cap: its own oldest goes, not the other address's. */
	assert_int_equal(admit(t, "10.0.0.1", &why), 0);
	assert_false(shut(&other));
	assert_true(shut(&p[0]));
	assert_false(shut(&p[1]));
	close_pair(t, &p[0]);
	open_pair(t, &p[0], "10.0.0.1");
	http_conns_set_busy(t, p[0].e, true);
	http_conns_set_busy(t, p[1].e, true);
	assert_int_equal(admit(t, "10.0.0.1", &why), KM_ETOOBIG);
	assert_int_equal(why, HTTP_REFUSED_PER_ADDR);
	/* Another address is not affected. */
	assert_int_equal(admit(t, "10.0.0.2", &why), 0);
	close_pair(t, &other);
	close_pair(t, &p[0]);
	close_pair(t, &p[1]);
	http_conns_free(t);
}

static void test_header_deadline(void **state)
{
	struct http_conns *t = http_conns_new(&(struct http_conns_opts){ 10, 10, 200, 60000 });
	struct pair slow, busy;

	(void)state;
	assert_non_null(t);
	open_pair(t, &slow, "10.0.0.1");
	open_pair(t, &busy, "10.0.0.1");
	http_conns_set_busy(t, busy.e, true);
	/* Poll up to 5 s for the sweep (every 250 ms) past the 200 ms deadline. */
	for (int i = 0; i < 100 && !shut(&slow); i++)
		nanosleep(&(struct timespec){ 0, 50 * 1000000 }, NULL);
	assert_true(shut(&slow));
	assert_false(shut(&busy));
	assert_int_equal(http_conns_closed(t, HTTP_CLOSED_HEADER_TIMEOUT), 1);
	close_pair(t, &slow);
	close_pair(t, &busy);
	http_conns_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap_evicts_oldest_idle),
		cmocka_unit_test(test_per_address_pays_for_itself),
		cmocka_unit_test(test_header_deadline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

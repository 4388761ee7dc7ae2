/* The D-Bus client's message parser and body readers (src/collect/node/dbus.c)
 * and the systemd collector's helpers, on messages built here byte by byte:
 *  - a Properties.Get reply (variant u, t, s) and a ListUnits-shaped
 *    a(ssssssouso) body parse in both byte orders;
 *  - every malformed header or body (bad endianness/version/type/serial,
 *    oversized lengths, truncation, non-zero padding, missing reply serial
 *    or error name, unix fds, strings without NUL, with a NUL inside or
 *    invalid UTF-8, unsupported variant types) is refused, never read past;
 *  - systemd's object path escaping, upstream's version regex, and the
 *    unix path=/abstract= entry of DBUS_SYSTEM_BUS_ADDRESS.
 * The end-to-end behaviour against a real bus and node_exporter is
 * tests/integration/test_node_systemd.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/err.h"
#include "collect/node/dbus.h"
#include "collect/node/node_int.h"

struct mb {
	unsigned char b[4096];
	size_t n;
	bool be;
};

static void mb_pad(struct mb *m, size_t a)
{
	while (m->n % a)
		m->b[m->n++] = 0;
}

static void mb_u32(struct mb *m, uint32_t v)
{
	mb_pad(m, 4);
	for (int i = 0; i < 4; i++)
		m->b[m->n++] = (unsigned char)(v >> (m->be ? 24 - 8 * i : 8 * i));
}

static void mb_u64(struct mb *m, uint64_t v)
{
	mb_pad(m, 8);
	for (int i = 0; i < 8; i++)
		m->b[m->n++] = (unsigned char)(v >> (m->be ? 56 - 8 * i : 8 * i));
}

static void mb_str(struct mb *m, const char *s)
{
	mb_u32(m, (uint32_t)strlen(s));
	memcpy(m->b + m->n, s, strlen(s) + 1);
	m->n += strlen(s) + 1;
}

static void mb_sig(struct mb *m, const char *s)
{
	m->b[m->n++] = (unsigned char)strlen(s);
	memcpy(m->b + m->n, s, strlen(s) + 1);
	m->n += strlen(s) + 1;
}

/* A whole message of type with the given header fields and body. */
static size_t make_msg(unsigned char *out, bool be, int type, uint32_t rs, const char *sig,
		       const char *err, const struct mb *body)
{
	struct mb m = { .be = be };
	size_t fs;

	m.b[0] = be ? 'B' : 'l';
	m.b[1] = (unsigned char)type;
	m.b[2] = 0;
	m.b[3] = 1;
	m.n = 4;
	mb_u32(&m, (uint32_t)body->n);
	mb_u32(&m, 7);
	mb_u32(&m, 0);
	fs = m.n;
	if (rs) {
		mb_pad(&m, 8);
		m.b[m.n++] = 5;
		mb_sig(&m, "u");
		mb_u32(&m, rs);
	}
	if (sig) {
		mb_pad(&m, 8);
		m.b[m.n++] = 8;
		mb_sig(&m, "g");
		mb_sig(&m, sig);
	}
	if (err) {
		mb_pad(&m, 8);
		m.b[m.n++] = 4;
		mb_sig(&m, "s");
		mb_str(&m, err);
	}
	{
		struct mb l = { .be = be };

		mb_u32(&l, (uint32_t)(m.n - fs));
		memcpy(m.b + 12, l.b, 4);
	}
	mb_pad(&m, 8);
	memcpy(m.b + m.n, body->b, body->n);
	m.n += body->n;
	memcpy(out, m.b, m.n);
	return m.n;
}

static int parse(const unsigned char *msg, size_t n, struct dbus_reply *r)
{
	size_t need;
	int type;
	uint32_t serial, rs;
	char err[64];

	return dbus_parse_msg(msg, n, &need, &type, &serial, &rs, r, err, sizeof(err));
}

static void test_get_reply(void **state)
{
	(void)state;
	for (int be = 0; be < 2; be++) {
		unsigned char msg[4096];
		struct mb body = { .be = be };
		struct dbus_reply r;
		struct dbus_rd rd;
		struct dbus_val v;
		size_t n, need;
		int type;
		uint32_t serial, rs;
		char err[64];

		mb_sig(&body, "t");
		mb_u64(&body, (1ull << 40) + 5);
		n = make_msg(msg, be, 2, 3, "v", NULL, &body);
		assert_int_equal(dbus_parse_msg(msg, n, &need, &type, &serial, &rs, &r, err, sizeof(err)), 0);
		assert_int_equal(need, n);
		assert_int_equal(type, 2);
		assert_int_equal(serial, 7);
		assert_int_equal(rs, 3);
		assert_string_equal(r.sig, "v");
		assert_false(r.is_error);
		dbus_rd_init(&rd, &r);
		assert_int_equal(dbus_rd_variant(&rd, &v), 0);
		assert_int_equal(v.type, 't');
		assert_true(v.u == (1ull << 40) + 5);
		assert_int_equal(rd.pos, rd.len);
		/* one byte short: wait for more, never a parse of half a message */
		assert_int_equal(dbus_parse_msg(msg, n - 1, &need, &type, &serial, &rs, &r, err, sizeof(err)),
				 KM_EAGAIN);
		assert_int_equal(need, n);

		body.n = 0;
		mb_sig(&body, "s");
		mb_str(&body, "notify");
		n = make_msg(msg, be, 2, 3, "v", NULL, &body);
		assert_int_equal(parse(msg, n, &r), 0);
		dbus_rd_init(&rd, &r);
		assert_int_equal(dbus_rd_variant(&rd, &v), 0);
		assert_int_equal(v.type, 's');
		assert_int_equal(v.n, 6);
		assert_memory_equal(v.s, "notify", 6);

		body.n = 0;
		mb_str(&body, "no such property");
		n = make_msg(msg, be, 3, 3, "s", "org.freedesktop.DBus.Error.UnknownProperty", &body);
		assert_int_equal(dbus_parse_msg(msg, n, &need, &type, &serial, &rs, &r, err, sizeof(err)), 0);
		assert_true(r.is_error);
		assert_string_equal(err, "org.freedesktop.DBus.Error.UnknownProperty");
	}
}

/* Two ListUnits entries, as systemd sends them. */
static void list_body(struct mb *b)
{
	size_t len_at, start;

	mb_u32(b, 0);
	len_at = b->n - 4;
	mb_pad(b, 8);
	start = b->n;
	for (int i = 0; i < 2; i++) {
		mb_pad(b, 8);
		mb_str(b, i ? "cron.service" : "ssh.service");
		mb_str(b, "desc");
		mb_str(b, "loaded");
		mb_str(b, i ? "inactive" : "active");
		mb_str(b, "running");
		mb_str(b, "");
		mb_str(b, "/org/freedesktop/systemd1/unit/ssh_2eservice");
		mb_u32(b, 0);
		mb_str(b, "");
		mb_str(b, "/");
	}
	{
		struct mb l = { .be = b->be };

		mb_u32(&l, (uint32_t)(b->n - start));
		memcpy(b->b + len_at, l.b, 4);
	}
}

static void test_list_units(void **state)
{
	(void)state;
	for (int be = 0; be < 2; be++) {
		unsigned char msg[4096];
		struct mb body = { .be = be };
		struct dbus_reply r;
		struct dbus_rd rd;
		const char *s;
		size_t n, end, names = 0;
		uint32_t job;

		list_body(&body);
		n = make_msg(msg, be, 2, 9, "a(ssssssouso)", NULL, &body);
		assert_int_equal(parse(msg, n, &r), 0);
		dbus_rd_init(&rd, &r);
		assert_int_equal(dbus_rd_array(&rd, 8, &end), 0);
		while (rd.pos < end) {
			assert_int_equal(dbus_rd_struct(&rd), 0);
			for (int i = 0; i < 10; i++) {
				if (i == 7) {
					assert_int_equal(dbus_rd_u32(&rd, &job), 0);
					continue;
				}
				assert_int_equal(dbus_rd_str(&rd, &s, &n), 0);
				if (i == 0)
					assert_string_equal(s, names++ ? "cron.service" : "ssh.service");
			}
		}
		assert_int_equal(names, 2);
		assert_int_equal(rd.pos, rd.len);
	}
}

/* A good Get reply, then one corruption at a time: all refused. */
static void test_malformed(void **state)
{
	unsigned char good[4096], msg[4096];
	struct mb body = { .be = false };
	struct dbus_reply r;
	size_t n;

	(void)state;
	mb_sig(&body, "u");
	mb_u32(&body, 42);
	n = make_msg(good, false, 2, 3, "v", NULL, &body);
	assert_int_equal(parse(good, n, &r), 0);

#define BAD(stmt, want)                                                  \
	do {                                                             \
		memcpy(msg, good, n);                                    \
		stmt;                                                    \
		assert_int_equal(parse(msg, n, &r), want);               \
	} while (0)
	BAD(msg[0] = 'X', KM_EPARSE);                   /* endianness */
	BAD(msg[3] = 2, KM_EPARSE);                     /* protocol version */
	BAD(msg[1] = 0, KM_EPARSE);                     /* type 0 */
	BAD(msg[1] = 9, KM_EPARSE);                     /* unknown type */
	BAD(memset(msg + 8, 0, 4), KM_EPARSE);          /* serial 0 */
	BAD(memset(msg + 12, 0xff, 4), KM_ETOOBIG);     /* fields array 4 GiB */
	BAD(memset(msg + 4, 0x7f, 4), KM_ETOOBIG);      /* body 2 GiB */
	BAD(msg[12] += 8, KM_EAGAIN);                   /* fields past the end: wait, not read */
	BAD(msg[12] -= 1, KM_EPARSE);                   /* fields array cut inside a field */
	BAD(msg[4] += 1, KM_EAGAIN);                    /* body claims one byte more */
	BAD(msg[16] = 6, KM_EPARSE);                    /* reply serial field tagged DESTINATION (s) */
	BAD(msg[16] = 9, KM_EPARSE);                    /* unix fds, never negotiated */
	BAD(msg[18] = 's', KM_EPARSE);                  /* reply serial typed s */
	BAD(msg[18] = 'i', KM_EPARSE);                  /* reply serial typed i (same size as u) */
	BAD(msg[1] = 3, KM_EPARSE);                     /* an error without an error name */
	BAD(msg[30] = 'x', KM_EPARSE);                  /* SIGNATURE "v" without its NUL */
#undef BAD
	{
		/* non-zero padding between the fields and the body */
		unsigned char m2[4096];
		struct mb b2 = { .be = false };
		size_t n2;

		mb_sig(&b2, "u");
		mb_u32(&b2, 1);
		n2 = make_msg(m2, false, 2, 3, NULL, NULL, &b2);
		/* body without a SIGNATURE field */
		assert_int_equal(parse(m2, n2, &r), KM_EPARSE);
		n2 = make_msg(m2, false, 2, 0, "v", NULL, &b2);
		/* a reply without REPLY_SERIAL */
		assert_int_equal(parse(m2, n2, &r), KM_EPARSE);
		n2 = make_msg(m2, false, 2, 3, "v", NULL, &b2);
		/* the fields end at 31, one byte of padding to 32 */
		assert_int_equal(parse(m2, n2, &r), 0);
		m2[31] = 1;
		assert_int_equal(parse(m2, n2, &r), KM_EPARSE);
	}
}

static int read_body(bool be, const struct mb *body, const char *sig, struct dbus_val *v)
{
	unsigned char msg[4096];
	struct dbus_reply r;
	struct dbus_rd rd;
	size_t n = make_msg(msg, be, 2, 3, sig, NULL, body);

	assert_int_equal(parse(msg, n, &r), 0);
	dbus_rd_init(&rd, &r);
	return dbus_rd_variant(&rd, v);
}

static void test_bad_values(void **state)
{
	struct mb b = { .be = false };
	struct dbus_val v;

	(void)state;
	mb_sig(&b, "s");
	mb_u32(&b, 3);
	memcpy(b.b + b.n, "a\0b", 4);
	b.n += 4;
	assert_int_equal(read_body(false, &b, "v", &v), KM_EPARSE);     /* NUL inside */
	b.n = 0;
	mb_sig(&b, "s");
	mb_u32(&b, 2);
	memcpy(b.b + b.n, "\xff\xfe", 3);
	b.n += 3;
	assert_int_equal(read_body(false, &b, "v", &v), KM_EPARSE);     /* not UTF-8 */
	b.n = 0;
	mb_sig(&b, "s");
	mb_u32(&b, 1000);
	memcpy(b.b + b.n, "ab", 3);
	b.n += 3;
	assert_int_equal(read_body(false, &b, "v", &v), KM_EPARSE);     /* length past the body */
	b.n = 0;
	mb_sig(&b, "s");
	mb_u32(&b, 2);
	memcpy(b.b + b.n, "abc", 3);
	b.n += 3;
	assert_int_equal(read_body(false, &b, "v", &v), KM_EPARSE);     /* no NUL at the end */
	b.n = 0;
	mb_sig(&b, "as");
	mb_u32(&b, 0);
	assert_int_equal(read_body(false, &b, "v", &v), KM_EPARSE);     /* container in the variant */
	b.n = 0;
	mb_sig(&b, "b");
	mb_u32(&b, 2);
	assert_int_equal(read_body(false, &b, "v", &v), KM_EPARSE);     /* boolean 2 */
	b.n = 0;
	mb_sig(&b, "t");
	mb_u32(&b, 1);
	assert_int_equal(read_body(false, &b, "v", &v), KM_EPARSE);     /* u64 cut short */
	b.n = 0;
	mb_sig(&b, "u");
	mb_u32(&b, 5);
	assert_int_equal(read_body(false, &b, "v", &v), 0);
	assert_int_equal(v.u, 5);
}

static void test_unit_path(void **state)
{
	char p[128];

	(void)state;
	assert_int_equal(dbus_unit_path(p, sizeof(p), "/u/", "ssh.service"), 0);
	assert_string_equal(p, "/u/ssh_2eservice");
	assert_int_equal(dbus_unit_path(p, sizeof(p), "/u/", "9lives.service"), 0);
	assert_string_equal(p, "/u/_39lives_2eservice");
	assert_int_equal(dbus_unit_path(p, sizeof(p), "/u/", "odd\\x2dname@inst:1.service"), 0);
	assert_string_equal(p, "/u/odd_5cx2dname_40inst_3a1_2eservice");
	assert_int_equal(dbus_unit_path(p, sizeof(p), "/u/", ""), 0);
	assert_string_equal(p, "/u/_");
	assert_int_equal(dbus_unit_path(p, 10, "/u/", "long.service"), KM_ETOOBIG);
}

static void test_version(void **state)
{
	bool ok;

	(void)state;
	assert_true(node_systemd_parse_version("252.38-1~deb12u1", 16, &ok) == 252.38 && ok);
	assert_true(node_systemd_parse_version("v12 then 245", 12, &ok) == 245 && ok);
	assert_true(node_systemd_parse_version("1234.5.6", 8, &ok) == 1234.5 && ok);
	assert_true(node_systemd_parse_version("252.", 4, &ok) == 252 && ok);
	assert_true(node_systemd_parse_version("12", 2, &ok) == 0 && !ok);
	assert_true(node_systemd_parse_version("", 0, &ok) == 0 && !ok);
}

static void test_address(void **state)
{
	char p[64];
	bool abs;

	(void)state;
	assert_int_equal(node_systemd_parse_address("unix:path=/run/x,guid=abc", p, sizeof(p), &abs), 0);
	assert_string_equal(p, "/run/x");
	assert_false(abs);
	assert_int_equal(node_systemd_parse_address("tcp:host=a,port=1;unix:abstract=/tmp/d", p, sizeof(p), &abs), 0);
	assert_string_equal(p, "/tmp/d");
	assert_true(abs);
	assert_int_equal(node_systemd_parse_address("unix:guid=1,path=/a%2cb", p, sizeof(p), &abs), 0);
	assert_string_equal(p, "/a,b");
	assert_int_equal(node_systemd_parse_address("tcp:host=a", p, sizeof(p), &abs), KM_EINVAL);
	assert_int_equal(node_systemd_parse_address("unix:path=/a%zz", p, sizeof(p), &abs), KM_EINVAL);
	assert_int_equal(node_systemd_parse_address("unix:path=/a%:0", p, sizeof(p), &abs), KM_EINVAL);
	assert_int_equal(node_systemd_parse_address("unix:path=/0123456789", p, 8, &abs), KM_ETOOBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_reply),
		cmocka_unit_test(test_list_units),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_unit_path),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

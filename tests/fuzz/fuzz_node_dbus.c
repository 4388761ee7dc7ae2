/* The D-Bus client's reply parser (src/collect/node/dbus.c) on arbitrary
 * bytes as they would arrive on the socket: the message header, then the
 * body read the way the systemd collector reads it (a Properties.Get
 * variant, or ListUnits' a(ssssssouso)), plus the systemd helpers on the
 * same bytes as text. Invariants: a parsed message lies inside the input,
 * a reader never moves past its body, every string it returns is
 * NUL-terminated inside the body. */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "collect/node/dbus.h"
#include "collect/node/node_int.h"
#include "fuzz/fuzz.h"

static void fdbus_body(const struct dbus_reply *r)
{
	struct dbus_rd rd;
	struct dbus_val v;
	const char *s;
	size_t n, end;
	uint32_t u;

	dbus_rd_init(&rd, r);
	if (strcmp(r->sig, "v") == 0) {
		if (dbus_rd_variant(&rd, &v) == 0 && (v.type == 's' || v.type == 'o' || v.type == 'g'))
			FUZZ_CHECK(v.s >= (const char *)r->body &&
				   v.s + v.n < (const char *)r->body + r->len && v.s[v.n] == '\0');
	} else if (strcmp(r->sig, "a(ssssssouso)") == 0 && dbus_rd_array(&rd, 8, &end) == 0) {
		FUZZ_CHECK(end <= r->len);
		while (rd.pos < end && dbus_rd_struct(&rd) == 0) {
			int i;

			for (i = 0; i < 10; i++)
				if ((i == 7 ? dbus_rd_u32(&rd, &u) : dbus_rd_str(&rd, &s, &n)) != 0)
					break;
			if (i < 10)
				break;
		}
	} else {
		(void)dbus_rd_str(&rd, &s, &n);
	}
	FUZZ_CHECK(rd.pos <= rd.len);
}

int fuzz_node_dbus(const uint8_t *data, size_t size)
{
	struct dbus_reply r;
	size_t need;
	int type, rc;
	uint32_t serial, rs;
	char err[128], path[256];
	char *s;
	bool ok, abs;

	rc = dbus_parse_msg(data, size, &need, &type, &serial, &rs, &r, err, sizeof(err));
	FUZZ_CHECK(rc == 0 || rc == KM_EAGAIN || rc == KM_EPARSE || rc == KM_ETOOBIG);
	if (rc == KM_EAGAIN)
		FUZZ_CHECK(need > size && need <= DBUS_MSG_MAX);
	if (rc == 0) {
		FUZZ_CHECK(need <= size && r.body + r.len == data + need);
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		fdbus_body(&r);
	}
	s = malloc(size + 1);
	FUZZ_CHECK(s != NULL);
	memcpy(s, data, size);
	s[size] = '\0';
	(void)node_systemd_parse_version(s, size, &ok);
	if (node_systemd_parse_address(s, path, sizeof(path), &abs) == 0)
		FUZZ_CHECK(memchr(path, '\0', sizeof(path)) != NULL);
	if (dbus_unit_path(path, sizeof(path), "/u/", s) == 0)
		FUZZ_CHECK(strspn(path + 3, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") ==
			   strlen(path + 3));
	free(s);
	return 0;
}

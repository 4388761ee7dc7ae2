/* A minimal D-Bus client: enough of the protocol to call methods with string
 * arguments on one unix socket and read the replies (the systemd collector's
 * ListUnits and org.freedesktop.DBus.Properties.Get).
 *
 * Transport: a unix stream socket (path or abstract name), SASL EXTERNAL
 * with our uid, no unix fd passing. Messages are read in either byte order
 * and written little-endian. Every wait is bounded by the connection's
 * deadline; every message larger than DBUS_MSG_MAX, or whose header, body or
 * signature does not follow the specification, is KM_EPARSE and leaves the
 * connection unusable (the caller closes it). Nothing here allocates per
 * message beyond the connection's receive buffer.
 *
 * Not thread-safe: one connection belongs to one caller at a time. */
#ifndef K8SMON_COLLECT_NODE_DBUS_H
#define K8SMON_COLLECT_NODE_DBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest message accepted (header + body). systemd's ListUnits for ~10k
 * units is about 3 MiB. */
#define DBUS_MSG_MAX (16u << 20)
/* Messages we skip (signals, other replies) while waiting for one reply. */
#define DBUS_SKIP_MAX 256
/* Longest string argument of a call. */
#define DBUS_ARG_MAX 1024

struct dbus_conn {
	int fd;                /* -1 when closed */
	uint32_t serial;       /* serial of the last call sent */
	int64_t deadline_ns;   /* clock_mono_ns() after which every wait fails */
	unsigned char *rx;     /* owned receive buffer */
	size_t rx_alloc;
	size_t rx_len;         /* bytes held in rx */
	size_t msg_len;        /* bytes of rx the last returned reply occupies */
	char error[128];       /* error name of the last error reply ("" none) */
};

/* A reply as returned by dbus_call(): body and its signature borrow the
 * connection's buffer and stay valid until the next call on it. */
struct dbus_reply {
	const unsigned char *body;
	size_t len;
	const char *sig;       /* NUL-terminated; "" when the body is empty */
	bool be;               /* big-endian body */
	bool is_error;         /* an ERROR message: c->error names it */
};

/* Reader over one body. Offsets are relative to the body start, which is
 * 8-aligned in the message, so alignment is the same as the spec's. */
struct dbus_rd {
	const unsigned char *p;
	size_t len;
	size_t pos;
	bool be;
};

/* Opens path (abstract: a Linux abstract socket name) and authenticates;
 * hello: send org.freedesktop.DBus.Hello (a bus; systemd's private socket
 * is peer-to-peer and takes none). The deadline (clock_mono_ns) bounds
 * every later call too. On error c is closed. KM_EIO/KM_EACCES/KM_ENOENT
 * (connect), KM_ETIMEDOUT, KM_EPARSE (protocol), KM_ENOMEM, KM_EINVAL. */
int dbus_open(struct dbus_conn *c, const char *path, bool abstract, bool hello,
	      int64_t deadline_ns);
/* Closes the socket and frees the buffer; safe on a closed or zeroed conn
 * whose fd is -1. */
void dbus_close(struct dbus_conn *c);

/* Calls member with nargs string arguments (signature "s" x nargs) and
 * waits for its reply. dest may be NULL (peer-to-peer). An error reply is
 * returned with is_error set (0 returned): per-call failures are the
 * caller's decision. Signals and other messages met on the way are skipped. */
int dbus_call(struct dbus_conn *c, const char *dest, const char *path, const char *iface,
	      const char *member, const char *const *args, size_t nargs,
	      struct dbus_reply *reply);

/* Parses one complete message at data[0..len) (the wire format, either byte
 * order) into reply, checking the whole header; *serial and *reply_serial
 * (0 when absent) and *type are set. KM_EAGAIN when data holds less than
 * one message (*need then says how much is needed once known, else 16),
 * KM_EPARSE/KM_ETOOBIG when it is malformed. Exposed for tests and fuzzing. */
int dbus_parse_msg(const unsigned char *data, size_t len, size_t *need, int *type,
		   uint32_t *serial, uint32_t *reply_serial, struct dbus_reply *reply,
		   char *error, size_t errlen);

/* Body readers: each aligns as the type requires, checks bounds, and
 * returns 0 or KM_EPARSE. Strings (s, o) are checked for their NUL, no NUL
 * inside and valid UTF-8; *s borrows the body. */
void dbus_rd_init(struct dbus_rd *r, const struct dbus_reply *reply);
int dbus_rd_u32(struct dbus_rd *r, uint32_t *v);
int dbus_rd_u64(struct dbus_rd *r, uint64_t *v);
int dbus_rd_str(struct dbus_rd *r, const char **s, size_t *n);
/* A signature (g): one length byte, the bytes, NUL. */
int dbus_rd_sig(struct dbus_rd *r, const char **s, size_t *n);
/* Aligns to a struct/dict entry boundary (8). */
int dbus_rd_struct(struct dbus_rd *r);
/* An array header: *end is the offset where its elements stop (elements
 * are read until pos reaches it). elem_align: the element type's alignment
 * (padding to it follows the length even for an empty array). */
int dbus_rd_array(struct dbus_rd *r, size_t elem_align, size_t *end);

/* A variant holding a basic value: type is its one-character signature
 * ('s', 'o', 'g', 'u', 'i', 't', 'x', 'b', 'y', 'q', 'n', 'd'); the value
 * in u (integers, bool; d as its bits) or s/n (strings). Any other
 * signature in the variant is KM_EPARSE. */
struct dbus_val {
	char type;
	uint64_t u;
	const char *s;
	size_t n;
};
int dbus_rd_variant(struct dbus_rd *r, struct dbus_val *v);

/* systemd's object path element for a unit name (sd_bus_path_encode /
 * go-systemd's PathBusEscape): [A-Za-z0-9] kept, except a leading digit,
 * every other byte "_xx" in lower-case hex, "" -> "_". Appended after
 * prefix into dst (cap bytes); KM_ETOOBIG if it does not fit. */
int dbus_unit_path(char *dst, size_t cap, const char *prefix, const char *name);

#endif

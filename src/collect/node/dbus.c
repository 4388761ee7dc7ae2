/* A minimal D-Bus client (see dbus.h): SASL EXTERNAL over a unix socket,
 * method calls with string arguments, strict parsing of the replies.
 * Wire format: the D-Bus specification's "Message Protocol" section. */
#include "collect/node/dbus.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/utf8.h"

enum { MSG_CALL = 1, MSG_RETURN = 2, MSG_ERROR = 3, MSG_SIGNAL = 4 };
enum { HF_PATH = 1, HF_INTERFACE = 2, HF_MEMBER = 3, HF_ERROR_NAME = 4, HF_REPLY_SERIAL = 5,
       HF_DESTINATION = 6, HF_SENDER = 7, HF_SIGNATURE = 8, HF_UNIX_FDS = 9 };

/* Header fields array of a received message: generous, the fields we send
 * and receive take a few hundred bytes. */
#define DBUS_FIELDS_MAX 65536u
/* One SASL line from the server. */
#define DBUS_SASL_LINE_MAX 512
/* A message we build: header fields + string arguments. */
#define DBUS_OUT_MAX (8u * DBUS_ARG_MAX)

static size_t pad_to(size_t pos, size_t a)
{
	return (pos + a - 1) & ~(a - 1);
}

static uint32_t get32(const unsigned char *p, bool be)
{
	return be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
		  : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint64_t get64(const unsigned char *p, bool be)
{
	uint64_t hi = get32(be ? p : p + 4, be), lo = get32(be ? p + 4 : p, be);

	return hi << 32 | lo;
}

void dbus_rd_init(struct dbus_rd *r, const struct dbus_reply *reply)
{
	r->p = reply->body;
	r->len = reply->len;
	r->pos = 0;
	r->be = reply->be;
}

static int rd_align(struct dbus_rd *r, size_t a)
{
	size_t np = pad_to(r->pos, a);

	if (np > r->len)
		return KM_EPARSE;
	/* The specification requires padding bytes to be zero. */
	for (size_t i = r->pos; i < np; i++)
		if (r->p[i])
			return KM_EPARSE;
	r->pos = np;
	return 0;
}

int dbus_rd_u32(struct dbus_rd *r, uint32_t *v)
{
	if (rd_align(r, 4) || r->len - r->pos < 4)
		return KM_EPARSE;
	*v = get32(r->p + r->pos, r->be);
	r->pos += 4;
	return 0;
}

int dbus_rd_u64(struct dbus_rd *r, uint64_t *v)
{
	if (rd_align(r, 8) || r->len - r->pos < 8)
		return KM_EPARSE;
	*v = get64(r->p + r->pos, r->be);
	r->pos += 8;
	return 0;
}

/* n bytes of text at pos followed by a NUL: no NUL inside, valid UTF-8. */
static int rd_text(struct dbus_rd *r, size_t n, const char **s, size_t *outn)
{
	const char *t = (const char *)r->p + r->pos;

	if (r->len - r->pos < n + 1 || t[n] != '\0' || memchr(t, '\0', n) || !utf8_valid(t, n))
		return KM_EPARSE;
	*s = t;
	*outn = n;
	r->pos += n + 1;
	return 0;
}

int dbus_rd_str(struct dbus_rd *r, const char **s, size_t *n)
{
	uint32_t len;

	if (dbus_rd_u32(r, &len))
		return KM_EPARSE;
	if (len >= r->len - r->pos)
		return KM_EPARSE;
	return rd_text(r, len, s, n);
}

int dbus_rd_sig(struct dbus_rd *r, const char **s, size_t *n)
{
	size_t len;

	if (r->pos >= r->len)
		return KM_EPARSE;
	len = r->p[r->pos++];
	return rd_text(r, len, s, n);
}

int dbus_rd_struct(struct dbus_rd *r)
{
	return rd_align(r, 8);
}

int dbus_rd_array(struct dbus_rd *r, size_t elem_align, size_t *end)
{
	uint32_t n;

	/* The specification caps arrays at 64 MiB; the message cap is lower. */
	if (dbus_rd_u32(r, &n) || rd_align(r, elem_align) || n > r->len - r->pos)
		return KM_EPARSE;
	*end = r->pos + n;
	return 0;
}

static int rd_fixed(struct dbus_rd *r, size_t size, uint64_t *v)
{
	if (rd_align(r, size) || r->len - r->pos < size)
		return KM_EPARSE;
	switch (size) {
	case 1:
		*v = r->p[r->pos];
		break;
	case 2:
		*v = r->be ? (uint64_t)r->p[r->pos] << 8 | r->p[r->pos + 1]
			   : (uint64_t)r->p[r->pos + 1] << 8 | r->p[r->pos];
		break;
	case 4:
		*v = get32(r->p + r->pos, r->be);
		break;
	default:
		*v = get64(r->p + r->pos, r->be);
		break;
	}
	r->pos += size;
	return 0;
}

int dbus_rd_variant(struct dbus_rd *r, struct dbus_val *v)
{
	const char *sig;
	size_t n;

	memset(v, 0, sizeof(*v));
	if (dbus_rd_sig(r, &sig, &n) || n != 1)
		return KM_EPARSE;
	v->type = sig[0];
	switch (v->type) {
	case 's':
	case 'o':
		return dbus_rd_str(r, &v->s, &v->n);
	case 'g':
		return dbus_rd_sig(r, &v->s, &v->n);
	case 'y':
		return rd_fixed(r, 1, &v->u);
	case 'n':
	case 'q':
		return rd_fixed(r, 2, &v->u);
	case 'b':
		if (rd_fixed(r, 4, &v->u) || v->u > 1)
			return KM_EPARSE;
		return 0;
	case 'i':
	case 'u':
		return rd_fixed(r, 4, &v->u);
	case 'x':
	case 't':
	case 'd':
		return rd_fixed(r, 8, &v->u);
	default:
		return KM_EPARSE;
	}
}

/* Header fields: an array of (byte code, variant). The ones we use are
 * taken out; the others are checked for their specified type. */
static int parse_fields(struct dbus_rd *r, size_t end, uint32_t *reply_serial, const char **sig,
			const char **errname)
{
	while (r->pos < end) {
		struct dbus_val v;
		unsigned code;

		if (dbus_rd_struct(r) || r->pos >= end)
			return KM_EPARSE;
		code = r->p[r->pos++];
		if (dbus_rd_variant(r, &v) || r->pos > end)
			return KM_EPARSE;
		switch (code) {
		case HF_PATH:
			if (v.type != 'o')
				return KM_EPARSE;
			break;
		case HF_INTERFACE:
		case HF_MEMBER:
		case HF_DESTINATION:
		case HF_SENDER:
			if (v.type != 's')
				return KM_EPARSE;
			break;
		case HF_ERROR_NAME:
			if (v.type != 's')
				return KM_EPARSE;
			*errname = v.s;
			break;
		case HF_REPLY_SERIAL:
			if (v.type != 'u' || v.u == 0)
				return KM_EPARSE;
			*reply_serial = (uint32_t)v.u;
			break;
		case HF_SIGNATURE:
			if (v.type != 'g')
				return KM_EPARSE;
			*sig = v.s;
			break;
		case HF_UNIX_FDS:
			/* We never negotiated fd passing. */
			return KM_EPARSE;
		default:
			/* Unknown fields must be ignored (the specification). */
			break;
		}
	}
	return r->pos == end ? 0 : KM_EPARSE;
}

int dbus_parse_msg(const unsigned char *data, size_t len, size_t *need, int *type,
		   uint32_t *serial, uint32_t *reply_serial, struct dbus_reply *reply,
		   char *error, size_t errlen)
{
	struct dbus_rd r;
	const char *sig = "", *errname = "";
	uint32_t blen, flen;
	size_t hdr_end, total;
	bool be;

	*need = 16;
	if (len < 16)
		return KM_EAGAIN;
	if (data[0] != 'l' && data[0] != 'B')
		return KM_EPARSE;
	be = data[0] == 'B';
	if (data[1] < MSG_CALL || data[1] > MSG_SIGNAL || data[3] != 1)
		return KM_EPARSE;
	blen = get32(data + 4, be);
	*serial = get32(data + 8, be);
	flen = get32(data + 12, be);
	if (*serial == 0)
		return KM_EPARSE;
	if (flen > DBUS_FIELDS_MAX || blen > DBUS_MSG_MAX)
		return KM_ETOOBIG;
	hdr_end = pad_to(16 + (size_t)flen, 8);
	total = hdr_end + blen;
	if (total > DBUS_MSG_MAX)
		return KM_ETOOBIG;
	*need = total;
	if (len < total)
		return KM_EAGAIN;
	*type = data[1];
	*reply_serial = 0;
	r.p = data;
	r.len = hdr_end;
	r.pos = 16;
	r.be = be;
	if (parse_fields(&r, 16 + (size_t)flen, reply_serial, &sig, &errname) ||
	    rd_align(&r, 8))
		return KM_EPARSE;
	if (!*sig && blen)
		return KM_EPARSE;
	if ((*type == MSG_RETURN || *type == MSG_ERROR) && !*reply_serial)
		return KM_EPARSE;
	if (*type == MSG_ERROR && !*errname)
		return KM_EPARSE;
	reply->body = data + hdr_end;
	reply->len = blen;
	reply->sig = sig;
	reply->be = be;
	reply->is_error = *type == MSG_ERROR;
	if (error && errlen)
		snprintf(error, errlen, "%s", errname);
	return 0;
}

/* poll() for ev until the deadline; 0 when ready. */
static int wait_fd(struct dbus_conn *c, short ev)
{
	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = ev };
		int64_t left = c->deadline_ns - clock_mono_ns();
		int rc;

		if (left <= 0)
			return KM_ETIMEDOUT;
		rc = poll(&pfd, 1, (int)(left / 1000000 + 1));
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return KM_EIO;
	}
}

static int send_all(struct dbus_conn *c, const void *p, size_t n)
{
	const char *s = p;

	while (n) {
		ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
		int rc;

		if (w > 0) {
			s += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			rc = wait_fd(c, POLLOUT);
			if (rc)
				return rc;
			continue;
		}
		return KM_EIO;
	}
	return 0;
}

/* Reads more bytes into rx (at least one), growing it up to want bytes. */
static int recv_more(struct dbus_conn *c, size_t want)
{
	ssize_t n;
	int rc;

	if (want > c->rx_alloc) {
		size_t cap = c->rx_alloc ? c->rx_alloc : 4096;
		unsigned char *nb;

		while (cap < want)
			cap *= 2;
		if (cap > DBUS_MSG_MAX + 4096)
			cap = DBUS_MSG_MAX + 4096;
		nb = realloc(c->rx, cap);
		if (!nb)
			return KM_ENOMEM;
		c->rx = nb;
		c->rx_alloc = cap;
	}
	if (c->rx_len == c->rx_alloc)
		return KM_ETOOBIG;
	for (;;) {
		n = recv(c->fd, c->rx + c->rx_len, c->rx_alloc - c->rx_len, 0);
		if (n > 0) {
			c->rx_len += (size_t)n;
			return 0;
		}
		if (n == 0)
			return KM_EIO;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return KM_EIO;
		rc = wait_fd(c, POLLIN);
		if (rc)
			return rc;
	}
}

/* Drops the previously returned message from the front of rx. */
static void consume(struct dbus_conn *c)
{
	if (c->msg_len) {
		memmove(c->rx, c->rx + c->msg_len, c->rx_len - c->msg_len);
		c->rx_len -= c->msg_len;
		c->msg_len = 0;
	}
}

/* Reads one SASL line (without CRLF) into line. */
static int sasl_line(struct dbus_conn *c, char *line, size_t cap)
{
	for (;;) {
		unsigned char *nl = c->rx_len ? memchr(c->rx, '\n', c->rx_len) : NULL;
		int rc;

		if (nl) {
			size_t n = (size_t)(nl - c->rx);

			if (n == 0 || c->rx[n - 1] != '\r' || n >= cap)
				return KM_EPARSE;
			memcpy(line, c->rx, n - 1);
			line[n - 1] = '\0';
			c->msg_len = n + 1;
			consume(c);
			return 0;
		}
		if (c->rx_len >= DBUS_SASL_LINE_MAX)
			return KM_EPARSE;
		rc = recv_more(c, DBUS_SASL_LINE_MAX);
		if (rc)
			return rc;
	}
}

static int sasl_auth(struct dbus_conn *c)
{
	char uid[24], cmd[96], line[DBUS_SASL_LINE_MAX];
	size_t n = 0;
	int rc;

	snprintf(uid, sizeof(uid), "%u", (unsigned)geteuid());
	cmd[n++] = '\0';
	n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, "AUTH EXTERNAL ");
	for (const char *p = uid; *p; p++)
		n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, "%02x", (unsigned char)*p);
	n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, "\r\n");
	rc = send_all(c, cmd, n);
	if (!rc)
		rc = sasl_line(c, line, sizeof(line));
	if (rc)
		return rc;
	if (strncmp(line, "OK ", 3) != 0)
		return strncmp(line, "REJECTED", 8) == 0 ? KM_EACCES : KM_EPARSE;
	return send_all(c, "BEGIN\r\n", 7);
}

int dbus_open(struct dbus_conn *c, const char *path, bool abstract, bool hello,
	      int64_t deadline_ns)
{
	struct sockaddr_un sa;
	struct dbus_reply reply;
	size_t plen = strlen(path);
	socklen_t alen;
	int rc;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->deadline_ns = deadline_ns;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (plen + (abstract ? 1 : 0) >= sizeof(sa.sun_path))
		return KM_EINVAL;
	memcpy(sa.sun_path + (abstract ? 1 : 0), path, plen);
	/* A path counts its NUL; an abstract name its leading NUL instead. */
	alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		return km_from_errno(errno);
	if (connect(c->fd, (struct sockaddr *)&sa, alen) < 0) {
		if (errno != EINPROGRESS && errno != EAGAIN) {
			rc = km_from_errno(errno);
			goto out_close;
		}
		rc = wait_fd(c, POLLOUT);
		if (rc)
			goto out_close;
	}
	rc = sasl_auth(c);
	if (!rc && hello) {
		rc = dbus_call(c, "org.freedesktop.DBus", "/org/freedesktop/DBus",
			       "org.freedesktop.DBus", "Hello", NULL, 0, &reply);
		if (!rc && reply.is_error)
			rc = KM_EACCES;
	}
	if (!rc)
		return 0;
out_close:
	dbus_close(c);
	return rc;
}

void dbus_close(struct dbus_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->rx);
	c->rx = NULL;
	c->rx_alloc = c->rx_len = c->msg_len = 0;
}

/* Output message under construction (little-endian). */
struct wr {
	unsigned char b[DBUS_OUT_MAX];
	size_t n;
	bool full;
};

static void wr_pad(struct wr *w, size_t a)
{
	size_t np = pad_to(w->n, a);

	if (np > sizeof(w->b)) {
		w->full = true;
		return;
	}
	memset(w->b + w->n, 0, np - w->n);
	w->n = np;
}

static void wr_bytes(struct wr *w, const void *p, size_t n)
{
	if (w->full || n > sizeof(w->b) - w->n) {
		w->full = true;
		return;
	}
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static void wr_u32(struct wr *w, uint32_t v)
{
	unsigned char b[4];

	wr_pad(w, 4);
	put32(b, v);
	wr_bytes(w, b, 4);
}

static void wr_str(struct wr *w, const char *s)
{
	size_t n = strlen(s);

	if (n > DBUS_ARG_MAX) {
		w->full = true;
		return;
	}
	wr_u32(w, (uint32_t)n);
	wr_bytes(w, s, n + 1);
}

/* A header field (code, variant of type t holding s). */
static void wr_field(struct wr *w, unsigned char code, char t, const char *s)
{
	unsigned char sig[3] = { 1, (unsigned char)t, 0 };

	wr_pad(w, 8);
	wr_bytes(w, &code, 1);
	wr_bytes(w, sig, 3);
	if (t == 'g') {
		unsigned char len = (unsigned char)strlen(s);

		wr_bytes(w, &len, 1);
		wr_bytes(w, s, (size_t)len + 1);
	} else {
		wr_str(w, s);
	}
}

static int build_call(struct wr *w, uint32_t serial, const char *dest, const char *path,
		      const char *iface, const char *member, const char *const *args, size_t nargs)
{
	char sig[16];
	size_t fstart, bstart;

	if (nargs >= sizeof(sig))
		return KM_EINVAL;
	for (size_t i = 0; i < nargs; i++)
		sig[i] = 's';
	sig[nargs] = '\0';
	w->n = 0;
	w->full = false;
	wr_bytes(w, "l\1\0\1", 4);
	wr_u32(w, 0);          /* body length, set below */
	wr_u32(w, serial);
	wr_u32(w, 0);          /* fields length, set below */
	fstart = w->n;
	wr_field(w, HF_PATH, 'o', path);
	if (iface)
		wr_field(w, HF_INTERFACE, 's', iface);
	wr_field(w, HF_MEMBER, 's', member);
	if (dest)
		wr_field(w, HF_DESTINATION, 's', dest);
	if (nargs)
		wr_field(w, HF_SIGNATURE, 'g', sig);
	if (w->full)
		return KM_ETOOBIG;
	put32(w->b + 12, (uint32_t)(w->n - fstart));
	wr_pad(w, 8);
	bstart = w->n;
	for (size_t i = 0; i < nargs; i++)
		wr_str(w, args[i]);
	if (w->full)
		return KM_ETOOBIG;
	put32(w->b + 4, (uint32_t)(w->n - bstart));
	return 0;
}

int dbus_call(struct dbus_conn *c, const char *dest, const char *path, const char *iface,
	      const char *member, const char *const *args, size_t nargs,
	      struct dbus_reply *reply)
{
	struct wr *w;
	int rc;

	if (c->fd < 0)
		return KM_EIO;
	w = malloc(sizeof(*w));
	if (!w)
		return KM_ENOMEM;
	consume(c);
	c->serial++;
	if (c->serial == 0)
		c->serial = 1;
	rc = build_call(w, c->serial, dest, path, iface, member, args, nargs);
	if (!rc)
		rc = send_all(c, w->b, w->n);
	free(w);
	for (int skipped = 0; !rc; skipped++) {
		size_t need;
		uint32_t serial, rs;
		int type;

		if (skipped > DBUS_SKIP_MAX)
			return KM_ETOOBIG;
		rc = dbus_parse_msg(c->rx, c->rx_len, &need, &type, &serial, &rs, reply,
				    c->error, sizeof(c->error));
		while (rc == KM_EAGAIN) {
			rc = recv_more(c, need);
			if (!rc)
				rc = dbus_parse_msg(c->rx, c->rx_len, &need, &type, &serial, &rs,
						    reply, c->error, sizeof(c->error));
		}
		if (rc)
			break;
		c->msg_len = need;
		if ((type == MSG_RETURN || type == MSG_ERROR) && rs == c->serial)
			return 0;
		/* A signal (NameAcquired after Hello) or a call to us: skip. */
		consume(c);
	}
	return rc;
}

int dbus_unit_path(char *dst, size_t cap, const char *prefix, const char *name)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(prefix);

	if (n >= cap)
		return KM_ETOOBIG;
	memcpy(dst, prefix, n);
	if (!*name) {
		if (n + 2 > cap)
			return KM_ETOOBIG;
		dst[n++] = '_';
	}
	for (size_t i = 0; name[i]; i++) {
		unsigned char ch = (unsigned char)name[i];
		bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			    (ch >= '0' && ch <= '9' && i > 0);

		if (n + (keep ? 1 : 3) >= cap)
			return KM_ETOOBIG;
		if (keep) {
			dst[n++] = (char)ch;
		} else {
			dst[n++] = '_';
			dst[n++] = hex[ch >> 4];
			dst[n++] = hex[ch & 15];
		}
	}
	dst[n] = '\0';
	return 0;
}

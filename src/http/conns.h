/* Admission of HTTP connections: who gets a slot when many are held open.
 *
 * A scraper must keep being served while hundreds of idle or slow
 * connections are held open, possibly from its own address (a NAT, a node
 * shared with the attacker). Refusing new connections at a cap, as a plain
 * limit does, hands the server to whoever holds the most sockets; so:
 *
 * - a connection that has no request in progress (waiting for its first
 *   request head, or idle between keep-alive requests) can be closed to
 *   make room: at a cap, the oldest such one goes (the newest, which is
 *   about to send its request, stays);
 * - one address may hold at most max_per_addr connections; past it, its own
 *   oldest evictable connection goes, so a flood from one address evicts
 *   itself, not the other addresses' keep-alive connections;
 * - a connection must send a complete request head within header_timeout_ms
 *   of connecting (after a response: within idle_timeout_ms +
 *   header_timeout_ms), however slowly it trickles bytes (slowloris);
 * - only when every slot holds a request in progress is a new connection
 *   refused.
 *
 * Closing is a shutdown(2) of the socket: libmicrohttpd, on its own thread,
 * reads the end of stream and closes the connection. The socket stays open
 * until libmicrohttpd has told us it closed the connection
 * (http_conns_remove, under the same lock), so the shutdown never reaches
 * a reused descriptor.
 *
 * Thread-safe: one mutex; each call scans at most the open connections. */
#ifndef K8SMON_HTTP_CONNS_H
#define K8SMON_HTTP_CONNS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* Why a connection was refused or closed (self-metrics). */
enum http_conn_refusal { HTTP_REFUSED_TOTAL, HTTP_REFUSED_PER_ADDR, HTTP_REFUSED_N };
enum http_conn_closure { HTTP_CLOSED_EVICTED, HTTP_CLOSED_HEADER_TIMEOUT, HTTP_CLOSED_N };

struct http_conns_opts {
	unsigned max_total;         /* open connections, all addresses */
	unsigned max_per_addr;      /* open connections from one address */
	int64_t header_timeout_ms;  /* connect to complete request head */
	int64_t idle_timeout_ms;    /* keep-alive idle (libmicrohttpd's timeout) */
};

struct http_conn;
struct http_conns;

/* Starts the deadline thread. NULL on allocation or thread failure. */
struct http_conns *http_conns_new(const struct http_conns_opts *o);
/* Stops the deadline thread and frees the table and any entries left
 * (their sockets are libmicrohttpd's). NULL is ok. */
void http_conns_free(struct http_conns *t);

/* A connection from addr wants in: 0 (admitted, possibly after closing an
 * evictable one) or KM_ETOOBIG with *why set (refused, counted). Two
 * accepts racing on different threads may both pass a cap by one: the
 * caps are for floods, not exact. */
int http_conns_admit(struct http_conns *t, const struct sockaddr *addr, socklen_t len,
		     enum http_conn_refusal *why);
/* libmicrohttpd started the connection on fd: the entry to pass to the
 * calls below, or NULL when out of memory (the connection is then not
 * tracked: never evicted, never timed out by us). */
struct http_conn *http_conns_add(struct http_conns *t, int fd, const struct sockaddr *addr,
				 socklen_t len);
/* libmicrohttpd closed it (before it closes fd); frees e. NULL is ok. */
void http_conns_remove(struct http_conns *t, struct http_conn *e);
/* A request head is complete (busy) / its response is done (idle). */
void http_conns_set_busy(struct http_conns *t, struct http_conn *e, bool busy);

/* Counters since start, and connections open now. */
uint64_t http_conns_refused(struct http_conns *t, enum http_conn_refusal why);
uint64_t http_conns_closed(struct http_conns *t, enum http_conn_closure why);
unsigned http_conns_open(struct http_conns *t);

#endif

#include "scrape/policy.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "base/err.h"

void scrape_policy_default(struct scrape_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->builtin_rule = true;
	p->default_sample_limit = SCRAPE_DEFAULT_SAMPLE_LIMIT;
	p->max_sample_limit = SCRAPE_MAX_SAMPLE_LIMIT;
	p->max_targets = SCRAPE_MAX_TARGETS;
	p->max_targets_per_namespace = SCRAPE_MAX_TARGETS_PER_NAMESPACE;
	p->memory_budget = SCRAPE_MEMORY_BUDGET;
}

static bool in_list(const char (*v)[SCRAPE_POLICY_NS_LEN], size_t n, const char *ns)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], "*") == 0 || (ns && strcmp(v[i], ns) == 0))
			return true;
	return false;
}

bool scrape_policy_cross_ns(const struct scrape_policy *p, const char *ns)
{
	return in_list(p->cross_ns, p->ncross, ns);
}

bool scrape_policy_honor(const struct scrape_policy *p, const char *ns)
{
	return in_list(p->honor_ns, p->nhonor, ns);
}

/* Loopback and link-local addresses have their own allowances: the node
 * and API server sets leave them out, so that allowLoopback alone decides
 * for 127.0.0.1 (an API server on loopback included). */
static bool special(int family, const unsigned char *a)
{
	static const unsigned char any[16], lo[16] = { [15] = 1 };

	if (family == AF_INET)
		return a[0] == 127 || a[0] == 0 || (a[0] == 169 && a[1] == 254);
	return !memcmp(a, any, 16) || !memcmp(a, lo, 16) || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) ||
	       (!memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) && special(AF_INET, a + 12));
}

static void set_add(struct addr_set *s, int family, const void *a)
{
	size_t len = family == AF_INET ? 4 : 16;

	if (special(family, a))
		return;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].family == family && memcmp(s->v[i].a, a, len) == 0)
			return;
	if (s->n == ADDR_SET_MAX)
		return;
	s->v[s->n].family = family;
	memset(s->v[s->n].a, 0, sizeof(s->v[s->n].a));
	memcpy(s->v[s->n].a, a, len);
	s->n++;
}

static bool set_has(const struct addr_set *s, int family, const void *a)
{
	size_t len = family == AF_INET ? 4 : 16;

	for (size_t i = 0; s && i < s->n; i++)
		if (s->v[i].family == family && memcmp(s->v[i].a, a, len) == 0)
			return true;
	return false;
}

int addr_set_local(struct addr_set *s)
{
	struct ifaddrs *ifa, *i;

	s->n = 0;
	if (getifaddrs(&ifa))
		return KM_EIO;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			set_add(s, AF_INET, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr);
		else if (i->ifa_addr->sa_family == AF_INET6)
			set_add(s, AF_INET6, &((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr);
	}
	freeifaddrs(ifa);
	return 0;
}

int addr_set_add_host(struct addr_set *s, const char *host)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *r;
	unsigned char a[16];

	if (inet_pton(AF_INET, host, a) == 1) {
		set_add(s, AF_INET, a);
		return 0;
	}
	if (inet_pton(AF_INET6, host, a) == 1) {
		set_add(s, AF_INET6, a);
		return 0;
	}
	if (getaddrinfo(host, NULL, &hints, &res) || !res)
		return KM_EINVAL;
	for (r = res; r; r = r->ai_next) {
		if (r->ai_family == AF_INET)
			set_add(s, AF_INET, &((struct sockaddr_in *)(void *)r->ai_addr)->sin_addr);
		else if (r->ai_family == AF_INET6)
			set_add(s, AF_INET6, &((struct sockaddr_in6 *)(void *)r->ai_addr)->sin6_addr);
	}
	freeaddrinfo(res);
	return 0;
}

bool scrape_addr_refused(const struct scrape_policy *p, const struct addr_set *node,
			 const struct addr_set *api, int family, const void *addr, char *why, size_t n)
{
	const unsigned char *b = addr;
	unsigned char v4[4];
	char shown[INET6_ADDRSTRLEN];
	const char *reason = NULL;

	if (family != AF_INET && family != AF_INET6) {
		snprintf(why, n, "address family %d refused: only IPv4 and IPv6 targets are scraped", family);
		return true;
	}
	inet_ntop(family, addr, shown, sizeof(shown));
	/* ::ffff:a.b.c.d is a.b.c.d to the kernel. */
	if (family == AF_INET6 && !memcmp(b, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)) {
		memcpy(v4, b + 12, 4);
		family = AF_INET;
		b = v4;
	}
	if (family == AF_INET) {
		uint32_t x = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
		/* 0.0.0.0/8 connects to this host, as loopback does. */
		if (!p->allow_loopback && (b[0] == 127 || b[0] == 0))
			reason = "loopback targets are not allowed (K8sMonitor spec.scrape.allowLoopback)";
		else if (!p->allow_link_local && (x & 0xffff0000u) == 0xa9fe0000u)
			reason = "link-local targets are not allowed (K8sMonitor spec.scrape.allowLinkLocal)";
	} else {
		static const unsigned char any[16], lo[16] = { [15] = 1 };
		if (!p->allow_loopback && (!memcmp(b, any, 16) || !memcmp(b, lo, 16)))
			reason = "loopback targets are not allowed (K8sMonitor spec.scrape.allowLoopback)";
		else if (!p->allow_link_local && b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
			reason = "link-local targets are not allowed (K8sMonitor spec.scrape.allowLinkLocal)";
	}
	if (!reason && !p->allow_api_server && set_has(api, family, b))
		reason = "the API server's address is not a target (K8sMonitor spec.scrape.allowAPIServer)";
	if (!reason && !p->allow_node_addresses && set_has(node, family, b))
		reason = "the node's own addresses are not targets (K8sMonitor spec.scrape.allowNodeAddresses)";
	if (!reason)
		return false;
	snprintf(why, n, "address %s refused: %s", shown, reason);
	return true;
}

bool scrape_hostport_refused(const struct scrape_policy *p, const struct addr_set *node,
			     const struct addr_set *api, const char *hostport, char *why, size_t n)
{
	char host[INET6_ADDRSTRLEN + 2];
	unsigned char a[16];
	const char *e;
	size_t len;

	if (hostport[0] == '[') {
		e = strchr(hostport, ']');
		if (!e)
			return false;
		hostport++;
	} else {
		e = strrchr(hostport, ':');
		if (!e)
			e = hostport + strlen(hostport);
	}
	len = (size_t)(e - hostport);
	if (len >= sizeof(host))
		return false;
	memcpy(host, hostport, len);
	host[len] = 0;
	if (inet_pton(AF_INET, host, a) == 1)
		return scrape_addr_refused(p, node, api, AF_INET, a, why, n);
	if (inet_pton(AF_INET6, host, a) == 1)
		return scrape_addr_refused(p, node, api, AF_INET6, a, why, n);
	/* "localhost" and friends resolve to loopback: named here so that the
	 * target shows why at once, not only when it connects. */
	if (!p->allow_loopback && (strcasecmp(host, "localhost") == 0 ||
				   (len > 10 && strcasecmp(host + len - 10, ".localhost") == 0))) {
		snprintf(why, n, "address %s refused: loopback targets are not allowed (K8sMonitor spec.scrape.allowLoopback)",
			 host);
		return true;
	}
	return false;
}

bool scrape_valid_metric_name(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
			  (i && c >= '0' && c <= '9');
		if (!ok)
			return false;
	}
	return true;
}

bool scrape_valid_label_name(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			  (i && c >= '0' && c <= '9');
		if (!ok)
			return false;
	}
	return true;
}

/* The agent wires the subsystems together: configuration, collectors, the
 * HTTP endpoints of DESIGN.md §3, readiness, and ordered startup/shutdown.
 * It is the only module that knows every other module. */
#ifndef K8SMON_AGENT_AGENT_H
#define K8SMON_AGENT_AGENT_H

#include <stddef.h>

#include "config/flags.h"

struct agent;

/* Starts everything from flags (borrowed; must outlive the agent). On a
 * startup error that is the user's (a bad address, an unreadable kubeconfig)
 * returns NULL with one line in err. In Kubernetes mode libcurl must have
 * been loaded (dl_curl_load(), dl/curl.h) first; NULL otherwise. */
struct agent *agent_start(const struct flags *f, char *err, size_t errlen);
/* Stops serving (in-flight responses complete), releases everything. */
void agent_stop(struct agent *a);
/* The bound HTTP port (tests use port 0). */
unsigned agent_port(const struct agent *a);

#endif

/* process_* self-metrics with client_golang's names and HELP, read from
 * <procfs>/self: CPU, memory, start time, file descriptors. */
#ifndef K8SMON_AGENT_PROCESS_H
#define K8SMON_AGENT_PROCESS_H

#include "base/buf.h"

/* Appends the process_* families. A missing /proc file skips its family. */
int process_metrics_write(const char *procfs, struct buf *out);

#endif

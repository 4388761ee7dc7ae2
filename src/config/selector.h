/* Kubernetes label selectors (metav1.LabelSelector: matchLabels plus
 * matchExpressions with In, NotIn, Exists, DoesNotExist), compiled once from
 * a resource's JSON and matched against an object's labels. Also accepts a
 * plain {"key": "value"} map (the nodeSelector form of a pod spec).
 * A compiled selector is immutable and owns its strings. */
#ifndef K8SMON_CONFIG_SELECTOR_H
#define K8SMON_CONFIG_SELECTOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define SELECTOR_MAX_TERMS 64
#define SELECTOR_MAX_VALUES 64

struct selector;

/* Compiles sel (borrowed; NULL or {} selects everything). path names the
 * field for error messages, e.g. "spec.nodeSelector". Returns NULL with a
 * field-path message in err on invalid input. */
struct selector *selector_compile(const json_t *sel, const char *path, char *err, size_t errlen);
void selector_free(struct selector *s);
/* labels: the object's metadata.labels (borrowed; NULL = no labels). */
bool selector_matches(const struct selector *s, const json_t *labels);
/* True when the selector has no terms (selects everything). */
bool selector_empty(const struct selector *s);

#endif

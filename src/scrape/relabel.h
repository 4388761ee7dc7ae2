/* Prometheus relabeling (relabel_configs / metric_relabel_configs) with the
 * semantics of prometheus/model/relabel/relabel.go.
 *
 * A struct relabel_set is compiled once from the JSON of a ScrapeRule's
 * spec.relabelings or spec.metricRelabelings array (camelCase fields of
 * crds/scraperules.k8smon.io.yaml: sourceLabels, separator, targetLabel,
 * regex, modulus, replacement, action). Every check happens at compile time
 * with a field-path message ("spec.relabelings[2].regex: invalid regex ...",
 * "spec.relabelings[0].modulus: required for hashmod"); relabel_apply() has no
 * configuration errors, only resource caps.
 *
 * Semantics, per step, with val = values of sourceLabels (absent = "") joined
 * by separator:
 *  - defaults: action replace, separator ";", regex "(.*)", replacement "$1";
 *    regexes are fully anchored (^(?:re)$, rx_new); a given empty regex ""
 *    matches only "".
 *  - replace: no match -> nothing. Else targetLabel and replacement are
 *    expanded as Go's regexp.Expand does ($1, ${1}, $name, ${name}, $$; the
 *    name is the longest run of letters, digits and "_", so "$1x" is the group
 *    named "1x", which is empty; unknown groups are empty; a malformed "$" is
 *    literal). An expanded target that is not a valid label name is skipped;
 *    an empty result deletes the target label. Fast path as Prometheus: with
 *    the default regex, val "" and no "$" in target/replacement, the target is
 *    set to the replacement.
 *  - keep / drop: keep only if / drop if the regex matches val.
 *  - keepequal / dropequal: keep only if / drop if val equals the target
 *    label's value.
 *  - hashmod: target = (last 8 bytes of md5(val) as big-endian uint64) %
 *    modulus, in decimal.
 *  - labelmap: for every label (a snapshot taken before the step) whose name
 *    matches, copy its value to the expansion of replacement (default "$1");
 *    expansions that are not valid label names are skipped (Prometheus would
 *    create the label and fail the target later).
 *  - labeldrop / labelkeep: delete labels whose name matches / does not match.
 *  - lowercase / uppercase: target = val case-mapped (Unicode simple case
 *    mapping of the C.UTF-8 locale; invalid UTF-8 bytes become U+FFFD as in
 *    Go's strings.ToLower).
 *  - setting a label to "" deletes it (labels_set).
 * Label names are checked with the legacy scheme [a-zA-Z_][a-zA-Z0-9_]*.
 *
 * Compile-time validation (relabel.go Config.Validate, plus JSON types):
 * unknown action; hashmod without modulus >= 1; targetLabel missing for
 * replace/hashmod/lowercase/uppercase/keepequal/dropequal; invalid targetLabel
 * (replace: a template must match Prometheus' relabelTarget pattern);
 * replacement set for lowercase/uppercase/keepequal/dropequal (other than
 * "$1"); invalid labelmap replacement; regex/modulus/separator set for
 * keepequal/dropequal; sourceLabels/targetLabel/modulus/separator/replacement
 * set for labeldrop/labelkeep; invalid sourceLabels names; unknown fields;
 * more than RELABEL_MAX_RULES rules.
 *
 * A compiled set is immutable and may be shared by threads (each apply uses
 * the caller's struct labels and its own scratch space). */
#ifndef K8SMON_SCRAPE_RELABEL_H
#define K8SMON_SCRAPE_RELABEL_H

#include <jansson.h>
#include <stddef.h>

#include "scrape/labels.h"

#define RELABEL_MAX_RULES 256          /* as the CRD's maxItems */
#define RELABEL_MAX_SOURCE_LABELS 64   /* as the CRD's maxItems */

enum relabel_action {
	RELABEL_REPLACE = 0,
	RELABEL_KEEP_ACTION,
	RELABEL_DROP_ACTION,
	RELABEL_KEEPEQUAL,
	RELABEL_DROPEQUAL,
	RELABEL_LABELMAP,
	RELABEL_LABELDROP,
	RELABEL_LABELKEEP,
	RELABEL_HASHMOD,
	RELABEL_LOWERCASE,
	RELABEL_UPPERCASE,
};

/* relabel_apply() results (negative values are KM_* errors). */
enum {
	RELABEL_DROP = 0,
	RELABEL_KEEP = 1,
};

struct relabel_set;

/* Compile rules from a JSON array (NULL or JSON null gives an empty set that
 * keeps everything). path names the array in messages, e.g.
 * "spec.relabelings". Returns a new set (free with relabel_free) or NULL with
 * a field-path message in err (errlen bytes). The JSON is only borrowed. */
struct relabel_set *relabel_compile(const json_t *rules, const char *path,
				    char *err, size_t errlen);
/* Convenience: parse JSON text then compile (errors of the JSON text are
 * reported as "<path>: invalid JSON: ..."). */
struct relabel_set *relabel_compile_str(const char *json, size_t len, const char *path,
					char *err, size_t errlen);
void relabel_free(struct relabel_set *rs);
size_t relabel_count(const struct relabel_set *rs);
enum relabel_action relabel_action_of(const struct relabel_set *rs, size_t i);
const char *relabel_action_name(enum relabel_action a);

/* Apply every rule in order to lbls (modified in place). Returns RELABEL_KEEP
 * or RELABEL_DROP (lbls is then in an unspecified state), or a negative KM_*
 * code when a label cap or memory ran out (treat as drop). A NULL or empty
 * set keeps. */
int relabel_apply(const struct relabel_set *rs, struct labels *lbls);

#endif

/* A label: one name/value pair, the element of label lists built by hand
 * (exposition writers take arrays of them) and of the owned target label
 * list (src/scrape/tlabels.h). The strings are const here; whether they are
 * borrowed or owned is said by the type or function that holds the pair.
 * (src/scrape/labels.h is a different thing: a capped, sorted label set
 * packed in one arena for the scrape path.) */
#ifndef K8SMON_BASE_LABEL_H
#define K8SMON_BASE_LABEL_H

struct label_pair {
	const char *name;
	const char *value;
};

#endif

#include "config/selector.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum sel_op { OP_IN, OP_NOT_IN, OP_EXISTS, OP_NOT_EXISTS };

struct term {
	char *key;
	enum sel_op op;
	size_t nvalues;
	char **values;
};

struct selector {
	size_t n;
	struct term t[SELECTOR_MAX_TERMS];
};

void selector_free(struct selector *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->t[i].key);
		for (size_t v = 0; v < s->t[i].nvalues; v++)
			free(s->t[i].values[v]);
		free(s->t[i].values);
	}
	free(s);
}

/* Adds a term; values is a JSON array of strings or NULL. */
static int add_term(struct selector *s, const char *key, enum sel_op op, const json_t *values,
		    const char *path, char *err, size_t errlen)
{
	struct term *t;
	size_t i;
	json_t *v;

	if (s->n == SELECTOR_MAX_TERMS) {
		snprintf(err, errlen, "%s: more than %d terms", path, SELECTOR_MAX_TERMS);
		return -1;
	}
	if (!key[0] || strlen(key) > 316) {
		snprintf(err, errlen, "%s: invalid label key \"%.64s\"", path, key);
		return -1;
	}
	t = &s->t[s->n];
	memset(t, 0, sizeof(*t));
	t->op = op;
	t->key = strdup(key);
	if (!t->key)
		goto nomem;
	s->n++;
	if (!values)
		return 0;
	if (json_array_size(values) > SELECTOR_MAX_VALUES) {
		snprintf(err, errlen, "%s.values: more than %d values", path, SELECTOR_MAX_VALUES);
		return -1;
	}
	t->values = calloc(json_array_size(values) + 1, sizeof(char *));
	if (!t->values)
		goto nomem;
	json_array_foreach(values, i, v) {
		if (!json_is_string(v)) {
			snprintf(err, errlen, "%s.values[%zu]: must be a string", path, i);
			return -1;
		}
		t->values[i] = strdup(json_string_value(v));
		if (!t->values[i])
			goto nomem;
		t->nvalues++;
	}
	return 0;
nomem:
	snprintf(err, errlen, "%s: out of memory", path);
	return -1;
}

static int compile_map(struct selector *s, const json_t *map, const char *path, char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	char p[256];

	json_object_foreach((json_t *)map, k, v) {
		json_t *one;
		int rc;
		snprintf(p, sizeof(p), "%s.%s", path, k);
		if (!json_is_string(v)) {
			snprintf(err, errlen, "%s: must be a string", p);
			return -1;
		}
		one = json_pack("[O]", v);
		if (!one) {
			snprintf(err, errlen, "%s: out of memory", p);
			return -1;
		}
		rc = add_term(s, k, OP_IN, one, p, err, errlen);
		json_decref(one);
		if (rc)
			return rc;
	}
	return 0;
}

struct selector *selector_compile(const json_t *sel, const char *path, char *err, size_t errlen)
{
	struct selector *s = calloc(1, sizeof(*s));
	json_t *ml, *me, *e;
	char p[256];
	size_t i;

	if (!s) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	if (!sel || json_is_null(sel))
		return s;
	if (!json_is_object(sel)) {
		snprintf(err, errlen, "%s: must be an object", path);
		goto fail;
	}
	ml = json_object_get(sel, "matchLabels");
	me = json_object_get(sel, "matchExpressions");
	if (!ml && !me) {
		/* The plain map form. */
		if (compile_map(s, sel, path, err, errlen))
			goto fail;
		return s;
	}
	if (ml) {
		snprintf(p, sizeof(p), "%s.matchLabels", path);
		if (!json_is_object(ml)) {
			snprintf(err, errlen, "%s: must be an object", p);
			goto fail;
		}
		if (compile_map(s, ml, p, err, errlen))
			goto fail;
	}
	if (me && !json_is_array(me)) {
		snprintf(err, errlen, "%s.matchExpressions: must be a list", path);
		goto fail;
	}
	json_array_foreach(me, i, e) {
		const char *key = json_string_value(json_object_get(e, "key"));
		const char *op = json_string_value(json_object_get(e, "operator"));
		json_t *vals = json_object_get(e, "values");
		enum sel_op o;

		snprintf(p, sizeof(p), "%s.matchExpressions[%zu]", path, i);
		if (!key) {
			snprintf(err, errlen, "%s.key: required", p);
			goto fail;
		}
		if (!op) {
			snprintf(err, errlen, "%s.operator: required", p);
			goto fail;
		}
		if (strcmp(op, "In") == 0)
			o = OP_IN;
		else if (strcmp(op, "NotIn") == 0)
			o = OP_NOT_IN;
		else if (strcmp(op, "Exists") == 0)
			o = OP_EXISTS;
		else if (strcmp(op, "DoesNotExist") == 0)
			o = OP_NOT_EXISTS;
		else {
			snprintf(err, errlen, "%s.operator: \"%.32s\" is not one of In, NotIn, Exists, DoesNotExist", p, op);
			goto fail;
		}
		if ((o == OP_IN || o == OP_NOT_IN) && json_array_size(vals) == 0) {
			snprintf(err, errlen, "%s.values: must be non-empty for %s", p, op);
			goto fail;
		}
		if ((o == OP_EXISTS || o == OP_NOT_EXISTS) && json_array_size(vals) != 0) {
			snprintf(err, errlen, "%s.values: must be empty for %s", p, op);
			goto fail;
		}
		if (vals && !json_is_array(vals)) {
			snprintf(err, errlen, "%s.values: must be a list", p);
			goto fail;
		}
		if (add_term(s, key, o, json_array_size(vals) ? vals : NULL, p, err, errlen))
			goto fail;
	}
	return s;
fail:
	selector_free(s);
	return NULL;
}

bool selector_empty(const struct selector *s)
{
	return s->n == 0;
}

bool selector_matches(const struct selector *s, const json_t *labels)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct term *t = &s->t[i];
		const char *v = json_string_value(json_object_get(labels, t->key));
		bool in = false;

		for (size_t j = 0; v && j < t->nvalues; j++)
			if (strcmp(t->values[j], v) == 0)
				in = true;
		switch (t->op) {
		case OP_IN:
			if (!in)
				return false;
			break;
		case OP_NOT_IN:
			if (in)
				return false;
			break;
		case OP_EXISTS:
			if (!v)
				return false;
			break;
		case OP_NOT_EXISTS:
			if (v)
				return false;
			break;
		}
	}
	return true;
}

#include "kube/event.h"

#include <string.h>

#include "base/err.h"

static const char *const type_names[KUBE_EV__COUNT] = {
	"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR",
};

const char *kube_event_type_name(enum kube_event_type t)
{
	return (unsigned)t < KUBE_EV__COUNT ? type_names[t] : "UNKNOWN";
}

static const char *meta_str(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(json_object_get(obj, "metadata"), key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

const char *kube_obj_rv(const json_t *obj)
{
	if (json_is_string(obj))
		return json_string_value(obj);
	return meta_str(obj, "resourceVersion");
}

const char *kube_obj_namespace(const json_t *obj)
{
	return meta_str(obj, "namespace");
}

const char *kube_obj_name(const json_t *obj)
{
	return meta_str(obj, "name");
}

static const char *str_or_empty(const json_t *v)
{
	return json_is_string(v) ? json_string_value(v) : "";
}

int kube_event_decode(const char *line, size_t n, struct kube_event *ev)
{
	json_t *root = json_loadb(line, n, JSON_REJECT_DUPLICATES, NULL);
	const char *t;
	json_t *obj;
	int i;

	memset(ev, 0, sizeof(*ev));
	if (!json_is_object(root))
		goto bad;
	t = str_or_empty(json_object_get(root, "type"));
	obj = json_object_get(root, "object");
	if (!json_is_object(obj))
		goto bad;
	for (i = 0; i < KUBE_EV__COUNT; i++)
		if (strcmp(t, type_names[i]) == 0)
			break;
	if (i == KUBE_EV__COUNT)
		goto bad;
	ev->type = (enum kube_event_type)i;
	ev->object = json_incref(obj);
	json_decref(root);
	if (ev->type == KUBE_EV_ERROR) {
		json_t *code = json_object_get(obj, "code");

		ev->code = json_is_integer(code) ? (int)json_integer_value(code) : 0;
		ev->reason = str_or_empty(json_object_get(obj, "reason"));
		ev->message = str_or_empty(json_object_get(obj, "message"));
		return 0;
	}
	ev->rv = kube_obj_rv(obj);
	if (!ev->rv || !*ev->rv) {
		kube_event_fini(ev);
		return KM_EPARSE;
	}
	return 0;
bad:
	json_decref(root);
	return KM_EPARSE;
}

void kube_event_fini(struct kube_event *ev)
{
	json_decref(ev->object);
	memset(ev, 0, sizeof(*ev));
}

bool kube_event_expired(const struct kube_event *ev)
{
	return ev->type == KUBE_EV_ERROR &&
	       (ev->code == 410 || strcmp(ev->reason, "Expired") == 0 ||
		strcmp(ev->reason, "Gone") == 0);
}

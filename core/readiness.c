/* The registry of readiness checks evaluated by /readyz. */
#include "core/readiness.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"

struct readiness_check {
	char *name;
	readiness_check_fn fn;
	void *arg;
	struct readiness_check *next;
};

static struct readiness_check *checks_first, *checks_last;

int readiness_register(const char *name, readiness_check_fn fn, void *arg)
{
	struct readiness_check *c = calloc(1, sizeof(*c));
	if (!c || !(c->name = strdup(name))) {
		free(c);
		return -ENOMEM;
	}
	c->fn = fn;
	c->arg = arg;
	if (checks_last)
		checks_last->next = c;
	else
		checks_first = c;
	checks_last = c;
	return 0;
}

bool readiness_evaluate(struct buf *out)
{
	bool ready = true;
	struct buf details = {0};
	struct json j;
	json_init(&j, &details);
	json_object_begin(&j, "checks");
	for (struct readiness_check *c = checks_first; c; c = c->next) {
		char why[200] = "";
		int rc = c->fn(c->arg, why, sizeof(why));
		if (rc != 0) {
			ready = false;
			json_string(&j, c->name, why[0] ? why : "not ready");
		} else {
			json_string(&j, c->name, "ok");
		}
	}
	json_object_end(&j);
	buf_printf(out, "{\"ready\":%s,", ready ? "true" : "false");
	buf_append(out, details.data, details.len);
	buf_append_str(out, "}\n");
	buf_free(&details);
	return ready;
}

void readiness_unregister(readiness_check_fn fn, void *arg)
{
	struct readiness_check **link = &checks_first;
	checks_last = NULL;
	while (*link) {
		struct readiness_check *c = *link;
		if (c->fn != fn || c->arg != arg) {
			checks_last = c;
			link = &c->next;
			continue;
		}
		*link = c->next;
		free(c->name);
		free(c);
	}
}

void readiness_reset(void)
{
	while (checks_first) {
		struct readiness_check *next = checks_first->next;
		free(checks_first->name);
		free(checks_first);
		checks_first = next;
	}
	checks_last = NULL;
}

/* The registry of SIGHUP reload callbacks. */
#include "core/reload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

struct reload_hook {
	char *name;
	reload_fn fn;
	void *arg;
	struct reload_hook *next;
};

static struct reload_hook *hooks_first, *hooks_last;
static int last_failures;
static char last_failure[512];

int reload_register(const char *name, reload_fn fn, void *arg)
{
	struct reload_hook *h = calloc(1, sizeof(*h));
	if (!h || !(h->name = strdup(name))) {
		free(h);
		return -ENOMEM;
	}
	h->fn = fn;
	h->arg = arg;
	if (hooks_last)
		hooks_last->next = h;
	else
		hooks_first = h;
	hooks_last = h;
	return 0;
}

int reload_run_all(void)
{
	int n = 0;
	last_failures = 0;
	last_failure[0] = '\0';
	for (struct reload_hook *h = hooks_first; h; h = h->next) {
		log_info("reload: %s", h->name);
		h->fn(h->arg);
		n++;
	}
	return n;
}

void reload_note_failure(const char *name, const char *why)
{
	if (last_failures++ == 0)
		snprintf(last_failure, sizeof(last_failure), "%s: %s", name, why);
}

int reload_last_failures(char *why, size_t why_len)
{
	if (why_len)
		snprintf(why, why_len, "%s", last_failure);
	return last_failures;
}

void reload_unregister(reload_fn fn, void *arg)
{
	struct reload_hook **link = &hooks_first;
	hooks_last = NULL;
	while (*link) {
		struct reload_hook *h = *link;
		if (h->fn != fn || h->arg != arg) {
			hooks_last = h;
			link = &h->next;
			continue;
		}
		*link = h->next;
		free(h->name);
		free(h);
	}
}

void reload_reset(void)
{
	while (hooks_first) {
		struct reload_hook *next = hooks_first->next;
		free(hooks_first->name);
		free(hooks_first);
		hooks_first = next;
	}
	hooks_last = NULL;
}

/* crl_crash_publish: publishes a CRL as kenshod does (under the publication
 * lock) and dies at one step of it, as a kill at that moment would, so tests
 * can check what the next publisher makes of the leftovers.
 *
 *   crl_crash_publish --data DIR --kind sign|auth [--delta] --step STEP
 *
 * STEP is written, committed or renamed (ca/crl_issue.h). Exits 77 at the step,
 * 2 when publication ended without reaching it, 64 on bad arguments. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ca/ca.h"
#include "ca/crl_issue.h"
#include "storage/store.h"

static const char *crash_step;

static void crash_cb(const char *step)
{
	if (!strcmp(step, crash_step)) {
		fprintf(stderr, "crl_crash_publish: stopping at \"%s\"\n", step);
		_exit(77);
	}
}

int main(int argc, char **argv)
{
	const char *data = NULL, *kind = NULL;
	bool delta = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--delta"))
			delta = true;
		else if (i + 1 < argc && !strcmp(argv[i], "--data"))
			data = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--kind"))
			kind = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--step"))
			crash_step = argv[++i];
		else
			break;
	}
	if (!data || !kind || !crash_step) {
		fprintf(stderr, "usage: crl_crash_publish --data DIR --kind sign|auth [--delta] "
		                "--step written|committed|renamed\n");
		return 64;
	}
	struct store *store;
	int lock;
	if (ca_store_open(data, &store) || crl_publish_lock(data, true, &lock)) {
		fprintf(stderr, "crl_crash_publish: cannot open the store or lock in %s\n", data);
		return 1;
	}
	crl_set_publish_hook(crash_cb);
	struct crl_generate_options opts = {.data_dir = data, .label = kind, .delta = delta};
	struct crl_generate_result result;
	int err = crl_generate(store, &opts, &result);
	fprintf(stderr, "crl_crash_publish: publication ended (%s) before \"%s\"\n",
	        err ? strerror(-err) : "published", crash_step);
	crl_publish_unlock(lock);
	store_close(store);
	return 2;
}

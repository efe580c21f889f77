/* Fuzzes the config parser, its typed getters and the validation of values
 * against the key table (addresses, sizes, durations, did-you-mean). */
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void touch_cb(const char *key, const char *value, void *arg)
{
	(void)key;
	(void)value;
	(*(size_t *)arg)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c = config_new();
	if (!c)
		return 0;
	char err[128];
	if (config_parse(c, (const char *)data, size, err, sizeof(err)) == 0) {
		size_t n = 0;
		config_each(c, "", touch_cb, &n);
		(void)config_get_size(c, "limits.body_bytes", 0);
		(void)config_get_ms(c, "limits.idle_timeout", 0);
		(void)config_get_bool(c, "log.access", true);
		(void)config_get_int(c, "server.workers", 1);
		static const struct config_key *const tables[] = {core_config_keys, NULL};
		char problems[4096];
		(void)config_validate(c, tables, problems, sizeof(problems));
	}
	config_free(c);
	return 0;
}

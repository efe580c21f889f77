/* Request bodies of the admin API: a flat JSON object of strings (numbers
 * and booleans are kept as their text) or an HTML form
 * (application/x-www-form-urlencoded), both parsed into key/value strings. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define ADMIN_PARAMS_MAX 32

struct admin_params {
	size_t count;
	struct {
		char *key;
		char *value;
	} items[ADMIN_PARAMS_MAX];
};

/** Parses a body according to its Content-Type (NULL: form). Returns 0,
 * -EINVAL (err says why), -E2BIG (too many fields), -EPROTONOSUPPORT (another
 * media type) or -ENOMEM. On error nothing needs freeing. */
int admin_params_parse(const char *content_type, size_t content_type_len, const uint8_t *body,
                       size_t len, struct admin_params *out, char *err, size_t err_len);
/** The value of a key (the last one if repeated), or NULL. */
const char *admin_params_get(const struct admin_params *p, const char *key);
/** Frees the strings. */
void admin_params_free(struct admin_params *p);

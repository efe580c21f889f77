/* Role tables: names for the bits of a core_role_set (see role_set.h). */
#include "core/role_set.h"

#include <stdio.h>
#include <string.h>

const struct role_name *role_table_find(const struct role_table *t, const char *name, size_t len)
{
	for (size_t i = 0; t && i < t->count; i++) {
		const struct role_name *r = &t->names[i];
		if (r->grantable && strlen(r->name) == len && memcmp(r->name, name, len) == 0)
			return r;
	}
	return NULL;
}

const char *role_table_name(const struct role_table *t, core_role_set role)
{
	for (size_t i = 0; role && t && i < t->count; i++)
		if (t->names[i].roles == role)
			return t->names[i].name;
	return NULL;
}

void role_table_format(const struct role_table *t, core_role_set roles, const char *separator,
                       char *out, size_t out_len)
{
	size_t used = 0;
	if (out_len == 0)
		return;
	out[0] = '\0';
	for (core_role_set left = roles; left; left &= left - 1) {
		const char *name = role_table_name(t, core_role_set_first(left));
		if (!name)
			continue;
		int n = snprintf(out + used, out_len - used, "%s%s", used ? separator : "", name);
		if (n < 0 || (size_t)n >= out_len - used)
			return;
		used += (size_t)n;
	}
}

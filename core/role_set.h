/* Caller roles as core carries them: an opaque set of bits.
 *
 * Core keeps a caller's roles in its peer_info and checks a route's roles
 * against them, but knows neither what a role means nor what it is called.
 * An application names its roles in a table of this shape (kenshod's is
 * handlers/roles.h) and hands the table to whatever reads or prints role
 * names, such as the TLS client-certificate policy; core/config.h's key
 * tables follow the same pattern. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** A set of roles, one bit per role; 0 is no role. */
typedef uint32_t core_role_set;

/** True if `have` holds every role in `need` (always for an empty `need`). */
static inline bool core_role_set_has(core_role_set have, core_role_set need)
{
	return (have & need) == need;
}

/** The roles of `need` that `have` lacks. */
static inline core_role_set core_role_set_missing(core_role_set have, core_role_set need)
{
	return need & ~have;
}

/** The lowest-numbered role of `set` alone; 0 if `set` is empty. */
static inline core_role_set core_role_set_first(core_role_set set)
{
	return set & (~set + 1);
}

/** A name for one role or for roles granted together. */
struct role_name {
	const char *name;
	core_role_set roles;
	bool grantable; /**< a client-certificate policy may grant `roles` by this name */
};

/** An application's role names. */
struct role_table {
	const struct role_name *names;
	size_t count;
	/** Roles never granted to a caller nobody authenticated. */
	core_role_set authenticated_only;
};

/** The grantable entry called name[0..len), or NULL. */
const struct role_name *role_table_find(const struct role_table *t, const char *name, size_t len);

/** The name of one role: the entry that names exactly `role`; NULL if none. */
const char *role_table_name(const struct role_table *t, core_role_set role);

/** Writes the names of the roles in `roles`, lowest bit first, separated by
 * `separator` ("reader,writer"; "" for none; a role without a
 * name of its own is left out) and a NUL into out, truncated to fit. */
void role_table_format(const struct role_table *t, core_role_set roles, const char *separator,
                       char *out, size_t out_len);

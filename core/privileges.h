/* Running as an unprivileged user: kenshod binds its listeners and prepares
 * its data directory with the rights it was started with, then each worker
 * becomes the configured user (server.user, --user) before it serves. */
#pragma once
#include <stddef.h>
#include <sys/types.h>

/** The account a worker runs as. */
struct run_user {
	uid_t uid;
	gid_t gid; /**< the account's primary group */
	char name[64];
};

/** Looks up the account NAME. -ENOENT (or -errno) with the reason in err. */
int privileges_lookup(const char *name, struct run_user *out, char *err, size_t err_len);
/** Gives dir and everything below it (symbolic links not followed) to u. */
int privileges_chown_tree(const char *dir, const struct run_user *u);
/** Acts as u (effective uid and gid, u's groups) while root stays
 * regainable, so files a worker creates while it starts belong to u.
 * Returns 0 or a negative errno (logged). */
int privileges_assume(const struct run_user *u);
/** Acts as root again after privileges_assume (to bind ports below 1024).
 * Returns 0 or a negative errno (logged). */
int privileges_regain(void);
/** Becomes u for good: its groups (initgroups), its gid, its uid; then checks
 * that root cannot be regained. Returns 0 or a negative errno (logged). */
int privileges_drop(const struct run_user *u);

/* Dropping root after start-up (see privileges.h). */
#include "core/privileges.h"

#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

int privileges_lookup(const char *name, struct run_user *out, char *err, size_t err_len)
{
	if (!name || !*name || strlen(name) >= sizeof(out->name)) {
		snprintf(err, err_len, "user name \"%s\" is empty or longer than %zu bytes",
		         name ? name : "", sizeof(out->name) - 1);
		return -EINVAL;
	}
	errno = 0;
	struct passwd *pw = getpwnam(name);
	if (!pw) {
		int e = errno ? errno : ENOENT;
		if (e == ENOENT)
			snprintf(err, err_len,
			         "no user \"%s\" on this system; create it with "
			         "`useradd --system --user-group --home-dir /var/lib/kensho "
			         "--shell /usr/sbin/nologin %s`",
			         name, name);
		else
			snprintf(err, err_len, "cannot look up user \"%s\": %s", name, strerror(e));
		return -e;
	}
	out->uid = pw->pw_uid;
	out->gid = pw->pw_gid;
	snprintf(out->name, sizeof(out->name), "%s", name);
	return 0;
}

/* nftw passes no argument to its callback. */
static const struct run_user *chown_target;
static int chown_failed;

static int chown_entry_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	if (lchown(path, chown_target->uid, chown_target->gid) != 0) {
		chown_failed = -errno;
		log_error("cannot give %s to user %s: %s", path, chown_target->name,
		          strerror(errno));
		return 1;
	}
	return 0;
}

int privileges_chown_tree(const char *dir, const struct run_user *u)
{
	chown_target = u;
	chown_failed = 0;
	int rc = nftw(dir, chown_entry_cb, 16, FTW_PHYS);
	if (rc < 0 && !chown_failed) {
		chown_failed = -errno;
		log_error("cannot walk %s: %s", dir, strerror(errno));
	}
	return chown_failed;
}

int privileges_assume(const struct run_user *u)
{
	if (initgroups(u->name, u->gid) != 0 || setegid(u->gid) != 0 || seteuid(u->uid) != 0) {
		int e = errno;
		log_error("cannot act as user %s (uid %u, gid %u): %s", u->name, (unsigned)u->uid,
		          (unsigned)u->gid, strerror(e));
		return -e;
	}
	return 0;
}

int privileges_regain(void)
{
	if (seteuid(0) != 0 || setegid(0) != 0) {
		int e = errno;
		log_error("cannot act as root again to bind the listeners: %s", strerror(e));
		return -e;
	}
	return 0;
}

int privileges_drop(const struct run_user *u)
{
	if (initgroups(u->name, u->gid) != 0 || setgid(u->gid) != 0 || setuid(u->uid) != 0) {
		int e = errno;
		log_error("cannot become user %s (uid %u, gid %u): %s", u->name, (unsigned)u->uid,
		          (unsigned)u->gid, strerror(e));
		return -e;
	}
	/* setuid from root to another uid sets all three uids; make sure. */
	if (u->uid != 0 && (setuid(0) == 0 || geteuid() == 0)) {
		log_error("still able to become root after switching to user %s", u->name);
		return -EPERM;
	}
	return 0;
}

/* sd_notify(3) without libsystemd (see sdnotify.h for why). */
#include "core/sdnotify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

static int notify_fd = -1;
static uint64_t watchdog_usec;

/* $WATCHDOG_USEC applies to the process $WATCHDOG_PID names, when set: a
 * program started by kenshod would otherwise inherit its watchdog. */
static uint64_t read_watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	if (!usec || !*usec)
		return 0;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(usec, &end, 10);
	if (errno || *end || v == 0) {
		log_warn("sdnotify: ignoring WATCHDOG_USEC=%s: not a positive number", usec);
		return 0;
	}
	if (pid && *pid && strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	return v;
}

int sdnotify_open(void)
{
	if (notify_fd >= 0)
		return 0;
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !*path)
		return 0;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	size_t len = strlen(path);
	/* "@name" is an abstract socket: the name starts with a NUL byte. */
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(addr.sun_path)) {
		log_warn("sdnotify: ignoring NOTIFY_SOCKET=%s: neither a path nor @abstract name "
		         "shorter than %zu bytes",
		         path, sizeof(addr.sun_path));
		return -EINVAL;
	}
	memcpy(addr.sun_path, path, len);
	if (path[0] == '@')
		addr.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	socklen_t addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	if (connect(fd, (struct sockaddr *)&addr, addr_len) != 0) {
		int e = errno;
		log_warn("sdnotify: cannot reach NOTIFY_SOCKET=%s: %s", path, strerror(e));
		close(fd);
		return -e;
	}
	notify_fd = fd;
	watchdog_usec = read_watchdog_usec();
	return 0;
}

bool sdnotify_enabled(void)
{
	return notify_fd >= 0;
}

int sdnotify_send(const char *state)
{
	if (notify_fd < 0)
		return 0;
	ssize_t n;
	do
		n = send(notify_fd, state, strlen(state), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		int e = errno;
		log_debug("sdnotify: send failed: %s", strerror(e));
		return -e;
	}
	return 0;
}

int sdnotify_sendf(const char *fmt, ...)
{
	if (notify_fd < 0)
		return 0;
	char state[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(state, sizeof(state), fmt, ap);
	va_end(ap);
	return sdnotify_send(state);
}

int sdnotify_reloading(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t usec = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	return sdnotify_sendf("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
	                      (unsigned long long)usec);
}

uint64_t sdnotify_watchdog_usec(void)
{
	return watchdog_usec;
}

/* The access log: one JSON object per answered request, on stdout, so it can
 * be shipped apart from the people-facing log on stderr. Only the path is
 * logged, never the query or body (they may carry personal data). */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "core/json.h"
#include "core/server_impl.h"

/* "YYYY-MM-DDTHH:MM:SS" is formatted once per second; getpid() is a system
 * call in current glibc, so it is asked once. Both matter at 50k lines/s. */
struct accesslog_cache {
	time_t second;
	char stamp[32];
	pid_t pid;
};

void accesslog_write(struct server *s, const struct exchange *ex)
{
	(void)s;
	static struct accesslog_cache cache = {.second = -1};
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != cache.second) {
		struct tm tm;
		gmtime_r(&ts.tv_sec, &tm);
		strftime(cache.stamp, sizeof(cache.stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		cache.second = ts.tv_sec;
		cache.pid = getpid(); /* also right after a fork */
	}
	char when[48];
	snprintf(when, sizeof(when), "%s.%03ldZ", cache.stamp, ts.tv_nsec / 1000000);
	struct buf line = {0};
	struct json j;
	json_init(&j, &line);
	json_object_begin(&j, NULL);
	json_string(&j, "time", when);
	json_int(&j, "pid", cache.pid);
	json_string(&j, "peer", ex->peer.address);
	json_bool(&j, "tls", ex->peer.tls);
	json_string(&j, "method", ex->req.method_name[0] ? ex->req.method_name : "-");
	json_string_n(&j, "path", ex->req.path, ex->req.path_len);
	json_int(&j, "http", ex->req.http_minor);
	json_string(&j, "route", ex->route ? ex->route : "-");
	json_int(&j, "status", ex->status);
	json_uint(&j, "bytes_in", ex->bytes_in);
	json_uint(&j, "bytes_out", ex->out.len + ex->body_out_len);
	json_double(&j, "ms", (double)(uv_hrtime() - ex->start_ns) / 1e6);
	json_object_end(&j);
	buf_append_str(&line, "\n");
	if (!line.failed)
		fwrite(line.data, 1, line.len, stdout);
	buf_free(&line);
}

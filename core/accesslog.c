/* The access log: one JSON object per answered request, on stdout, so it can
 * be shipped apart from the people-facing log on stderr. Only the path is
 * logged, never the query or body (they may carry personal data). Every
 * line is valid JSON whatever bytes the client sent: the JSON writer escapes
 * control characters and replaces bytes that are not UTF-8. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "core/json.h"
#include "core/server_impl.h"

/* A user agent longer than this is cut (a line per request stays small). */
#define ACCESSLOG_UA_MAX 256

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
	json_string(&j, "id", ex->request_id);
	json_string(&j, "peer", ex->peer.address);
	if (ex->peer.via[0])
		json_string(&j, "via", ex->peer.via);
	json_bool(&j, "tls", ex->peer.tls);
	if (ex->peer.client_cert) {
		/* Who the client is on mutual TLS: the verified certificate's
		 * subject and the SHA-256 of its public key (what tls.* policy
		 * rules match on). */
		json_string(&j, "client_subject", ex->peer.subject);
		json_hex(&j, "client_spki_sha256", ex->peer.spki_sha256,
		         sizeof(ex->peer.spki_sha256));
	}
	bool parsed = ex->req.method_name[0] != '\0';
	json_string(&j, "method", parsed ? ex->req.method_name : "-");
	json_string_n(&j, "path", ex->req.path, ex->req.path_len);
	json_string(&j, "http", !parsed ? "-" : ex->req.http_minor ? "1.1" : "1.0");
	size_t ua_len;
	const char *ua = exchange_header(ex, "user-agent", &ua_len);
	if (ua)
		json_string_n(&j, "ua", ua, ua_len > ACCESSLOG_UA_MAX ? ACCESSLOG_UA_MAX : ua_len);
	else
		json_null(&j, "ua");
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

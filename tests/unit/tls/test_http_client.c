/* tls/http_client.c: URLs, response parsing, and the files a client loads.
 * Requests over the network are tested against real servers by
 * tests/integration/tls/test_http_client.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "tls/http_client.h"

static int parse(const char *text, struct http_reply *r)
{
	return http_response_parse((const uint8_t *)text, strlen(text), r);
}

static void test_url(void **state)
{
	struct http_url u;
	assert_int_equal(http_url_parse("http://127.0.0.1:8080", &u), 0);
	assert_string_equal(u.host, "127.0.0.1");
	assert_string_equal(u.port, "8080");
	assert_string_equal(u.base, "");
	assert_int_equal(http_url_parse("http://localhost/kensho/", &u), 0);
	assert_string_equal(u.port, "80");
	assert_string_equal(u.base, "/kensho");
	assert_false(u.tls);
	assert_int_equal(http_url_parse("https://localhost", &u), 0);
	assert_true(u.tls);
	assert_string_equal(u.host, "localhost");
	assert_string_equal(u.port, "443");
	assert_int_equal(http_url_parse("https://localhost:8443/k/", &u), 0);
	assert_true(u.tls);
	assert_string_equal(u.port, "8443");
	assert_string_equal(u.base, "/k");
	assert_int_equal(http_url_parse("ftp://localhost", &u), -EPROTONOSUPPORT);
	assert_int_equal(http_url_parse("https://", &u), -EINVAL);
	assert_int_equal(http_url_parse("httpss://h", &u), -EPROTONOSUPPORT);
	assert_int_equal(http_url_parse("localhost:80", &u), -EINVAL);
	assert_int_equal(http_url_parse("http://:80", &u), -EINVAL);
	assert_int_equal(http_url_parse("http://h:99999", &u), -EINVAL);
	assert_int_equal(http_url_parse("http://h:80x", &u), -EINVAL);
	assert_int_equal(http_url_parse("http://h/a b", &u), -EINVAL);
}

/* A directory with a self-signed certificate and its key (made by openssl,
 * a real peer), another key, and a file that is not PEM. */
static char dir[64];

static void path_of(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

static int make_credentials(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/kensho-http-client-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
	         "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	         "-keyout own.key -out own.pem -subj /CN=localhost -days 1 2>/dev/null && "
	         "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key "
	         "2>/dev/null && chmod 600 own.key other.key && echo not a certificate > junk.pem",
	         dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int remove_credentials(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* http_client_new with an https URL and these files; why gets the reason. */
static int client_new(const char *cacert, const char *cert, const char *key, char *why,
                      size_t why_len)
{
	struct http_client_options o = {0};
	assert_int_equal(http_url_parse("https://localhost:1", &o.url), 0);
	char paths[3][128];
	const char *names[3] = {cacert, cert, key};
	const char **fields[3] = {&o.cacert, &o.cert, &o.key};
	for (int i = 0; i < 3; i++) {
		if (names[i]) {
			path_of(paths[i], sizeof(paths[i]), names[i]);
			*fields[i] = paths[i];
		}
	}
	struct http_client *c = NULL;
	why[0] = '\0';
	int err = http_client_new(&o, &c, why, why_len);
	assert_true(err == 0 ? c != NULL : c == NULL);
	http_client_free(c);
	return err;
}

/* A private key others can read is refused, as kenshod refuses its own, and
 * so is a symbolic link to one: the file it points to is judged. */
static void test_key_file_mode(void **state)
{
	char why[512], key[128], link[128];
	path_of(key, sizeof(key), "own.key");
	path_of(link, sizeof(link), "link.key");
	assert_int_equal(client_new("own.pem", "own.pem", "own.key", why, sizeof(why)), 0);
	assert_int_equal(chmod(key, 0400), 0);
	assert_int_equal(client_new("own.pem", "own.pem", "own.key", why, sizeof(why)), 0);
	assert_int_equal(chmod(key, 0640), 0);
	assert_int_equal(client_new("own.pem", "own.pem", "own.key", why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "readable by group or others"));
	assert_non_null(strstr(why, key));
	assert_int_equal(chmod(key, 0604), 0);
	assert_int_equal(client_new("own.pem", "own.pem", "own.key", why, sizeof(why)), -EPERM);
	assert_int_equal(symlink(key, link), 0);
	assert_int_equal(client_new("own.pem", "own.pem", "link.key", why, sizeof(why)), -EPERM);
	assert_int_equal(chmod(key, 0600), 0);
	assert_int_equal(client_new("own.pem", "own.pem", "link.key", why, sizeof(why)), 0);
	unlink(link);
}

/* Every file is loaded by http_client_new, before any connection. */
static void test_credentials(void **state)
{
	char why[512];
	/* The server is verified, so https needs a CA file. */
	assert_int_equal(client_new(NULL, NULL, NULL, why, sizeof(why)), -ENOKEY);
	assert_non_null(strstr(why, "--cacert"));
	assert_int_equal(client_new("own.pem", NULL, NULL, why, sizeof(why)), 0);
	assert_int_equal(client_new("junk.pem", NULL, NULL, why, sizeof(why)), -ENOKEY);
	assert_non_null(strstr(why, "junk.pem"));
	assert_int_equal(client_new("missing.pem", NULL, NULL, why, sizeof(why)), -ENOKEY);
	assert_int_equal(client_new("own.pem", "junk.pem", "own.key", why, sizeof(why)), -ENOKEY);
	assert_int_equal(client_new("own.pem", "own.pem", "missing.key", why, sizeof(why)),
	                 -ENOKEY);
	assert_non_null(strstr(why, "missing.key"));
	/* A key that is not the certificate's. */
	assert_int_equal(client_new("own.pem", "own.pem", "other.key", why, sizeof(why)), -ENOKEY);
	assert_non_null(strstr(why, "other.key"));
	assert_int_equal(client_new("own.pem", "own.pem", NULL, why, sizeof(why)), -EINVAL);
	assert_int_equal(client_new("own.pem", NULL, "own.key", why, sizeof(why)), -EINVAL);

	/* Plain http takes no TLS files; it loads nothing. */
	struct http_client_options o = {0};
	assert_int_equal(http_url_parse("http://127.0.0.1:1", &o.url), 0);
	struct http_client *c = NULL;
	assert_int_equal(http_client_new(&o, &c, why, sizeof(why)), 0);
	http_client_free(c);
	char cacert[128];
	path_of(cacert, sizeof(cacert), "own.pem");
	o.cacert = cacert;
	assert_int_equal(http_client_new(&o, &c, why, sizeof(why)), -EINVAL);
	assert_null(c);
}

static void test_content_length(void **state)
{
	struct http_reply r;
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\n"
	                       "content-length: 3\r\n\r\nabcdef",
	                       &r),
	                 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.content_type, "application/ocsp-response");
	assert_int_equal(r.body_len, 3);
	assert_memory_equal(r.body, "abc", 3);
	char value[16];
	assert_int_equal(http_reply_header(&r, "CONTENT-LENGTH", value, sizeof(value)), 0);
	assert_string_equal(value, "3");
	assert_int_equal(http_reply_header(&r, "Kensho-Receipt", value, sizeof(value)), -ENOENT);
	assert_int_equal(http_reply_header(&r, "Content-Type", value, 4), -ENOSPC);
	http_reply_free(&r);
	/* A body shorter than announced: the connection broke. */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", &r), -EBADMSG);
	/* To the end without a length (HTTP/1.0 style). */
	assert_int_equal(parse("HTTP/1.0 404 Not Found\n\nnone", &r), 0);
	assert_int_equal(r.status, 404);
	assert_int_equal(r.body_len, 4);
	http_reply_free(&r);
	/* 204 and 304 never carry a body (RFC 9112 §6.3). */
	assert_int_equal(parse("HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\nabc", &r), 0);
	assert_int_equal(r.status, 204);
	assert_int_equal(r.body_len, 0);
	http_reply_free(&r);
}

static void test_chunked(void **state)
{
	struct http_reply r;
	assert_int_equal(parse("HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
	                       "3\r\nabc\r\n1;ext=1\r\nd\r\n0\r\n\r\n",
	                       &r),
	                 0);
	assert_int_equal(r.status, 201);
	assert_int_equal(r.body_len, 4);
	assert_memory_equal(r.body, "abcd", 4);
	http_reply_free(&r);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", &r),
	                 -EBADMSG);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", &r), -EBADMSG);
}

static void test_malformed(void **state)
{
	struct http_reply r;
	assert_int_equal(parse("", &r), -EBADMSG);
	assert_int_equal(parse("HTTP/1.1 2000 OK\r\n\r\n", &r), -EBADMSG);
	assert_int_equal(parse("HTTP/1.1 099 Low\r\n\r\n", &r), -EBADMSG);
	assert_int_equal(parse("SMTP 220 hello\r\n\r\n", &r), -EBADMSG);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 12345678901\r\n\r\n", &r),
	                 -EBADMSG);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nNo-End-Of-Headers: x\r\n", &r), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_url),
	        cmocka_unit_test(test_key_file_mode),
	        cmocka_unit_test(test_credentials),
	        cmocka_unit_test(test_content_length),
	        cmocka_unit_test(test_chunked),
	        cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, make_credentials, remove_credentials);
}

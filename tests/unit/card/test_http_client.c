/* card/http_client.c: URLs and response parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "card/http_client.h"

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
	assert_null(u.cacert);
	assert_int_equal(http_url_parse("ftp://localhost", &u), -EPROTONOSUPPORT);
	assert_int_equal(http_url_parse("https://", &u), -EINVAL);
	assert_int_equal(http_url_parse("httpss://h", &u), -EPROTONOSUPPORT);
	assert_int_equal(http_url_parse("localhost:80", &u), -EINVAL);
	assert_int_equal(http_url_parse("http://:80", &u), -EINVAL);
	assert_int_equal(http_url_parse("http://h:99999", &u), -EINVAL);
	assert_int_equal(http_url_parse("http://h:80x", &u), -EINVAL);
	assert_int_equal(http_url_parse("http://h/a b", &u), -EINVAL);
}

/* A private key others can read is refused, as everywhere in kensho. */
static void test_key_file_mode(void **state)
{
	char path[] = "/tmp/kensho-card-key-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(http_key_file_check(path), 0);
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(http_key_file_check(path), 0);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(http_key_file_check(path), -EPERM);
	assert_int_equal(chmod(path, 0604), 0);
	assert_int_equal(http_key_file_check(path), -EPERM);
	unlink(path);
	assert_int_equal(http_key_file_check(path), -ENOENT);
	assert_int_equal(http_key_file_check(NULL), -ENOENT);
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
	        cmocka_unit_test(test_content_length),
	        cmocka_unit_test(test_chunked),
	        cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

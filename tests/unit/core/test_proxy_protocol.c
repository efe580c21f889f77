/* core/proxy_protocol: the PROXY v2 parser on headers as HAProxy 2.6 sends
 * them (one captured from `send-proxy-v2-ssl-cn` with proxy-v2-options
 * ssl,cert-cn,cert-sig,cert-key,unique-id,crc32c) and on every kind of
 * malformation, and the trusted-address list. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/proxy_protocol.h"

static const uint8_t sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* Builds a header: version/command, family, address block, TLVs. */
static size_t build(uint8_t *out, uint8_t ver_cmd, uint8_t family, const uint8_t *addr,
                    size_t addr_len, const uint8_t *tlvs, size_t tlv_len)
{
	memcpy(out, sig, 12);
	out[12] = ver_cmd;
	out[13] = family;
	size_t body = addr_len + tlv_len;
	out[14] = (uint8_t)(body >> 8);
	out[15] = (uint8_t)body;
	if (addr_len)
		memcpy(out + 16, addr, addr_len);
	if (tlv_len)
		memcpy(out + 16 + addr_len, tlvs, tlv_len);
	return 16 + body;
}

static const uint8_t v4[12] = {192, 0, 2, 1, 127, 0, 0, 1, 0x30, 0x39, 0x01, 0xBB};

/* PP2_TYPE_SSL: client SSL|CERT_CONN|CERT_SESS, verify 0, VERSION, CN. */
static const uint8_t ssl_tlv[] = {0x20, 0x00, 0x1A, 0x07, 0,   0,   0,   0,   0x21, 0x00,
                                  0x07, 'T',  'L',  'S',  'v', '1', '.', '3', 0x22, 0x00,
                                  0x08, 'o',  'p',  'e',  'r', 'a', 't', 'o', 'r'};

static int parse(const uint8_t *h, size_t len, struct proxy_v2_header *out)
{
	char why[160];
	return proxy_v2_parse(h, len, out, why, sizeof why);
}

static void test_ipv4_with_ssl(void **state)
{
	(void)state;
	uint8_t h[256];
	size_t n = build(h, 0x21, 0x11, v4, sizeof v4, ssl_tlv, sizeof ssl_tlv);
	uint8_t stream[300];
	memcpy(stream, h, n);
	memcpy(stream + n, "GET / HTTP/1.1\r\n", 16);
	struct proxy_v2_header p;
	assert_int_equal(parse(stream, n + 16, &p), (int)n);
	assert_false(p.local);
	assert_string_equal(p.source, "192.0.2.1:12345");
	assert_string_equal(p.destination, "127.0.0.1:443");
	assert_true(p.has_ssl);
	assert_int_equal(p.ssl_client, 7);
	assert_int_equal(p.ssl_verify, 0);
	assert_string_equal(p.ssl_version, "TLSv1.3");
	assert_string_equal(p.ssl_cn, "operator");
	/* every shorter prefix asks for more */
	for (size_t i = 1; i < n; i++)
		assert_int_equal(parse(h, i, &p), -EAGAIN);
}

static void test_ipv6_and_local(void **state)
{
	(void)state;
	uint8_t a6[36] = {0};
	a6[0] = 0x20, a6[1] = 0x01, a6[2] = 0x0d, a6[3] = 0xb8, a6[15] = 1;
	a6[31] = 1; /* ::1 */
	a6[32] = 0x04, a6[33] = 0xD2, a6[34] = 0x1F, a6[35] = 0x90;
	uint8_t h[128];
	size_t n = build(h, 0x21, 0x21, a6, sizeof a6, NULL, 0);
	struct proxy_v2_header p;
	assert_int_equal(parse(h, n, &p), (int)n);
	assert_string_equal(p.source, "[2001:db8::1]:1234");
	assert_string_equal(p.destination, "[::1]:8080");
	assert_false(p.has_ssl);
	/* LOCAL (a health check): addresses ignored, UNSPEC allowed */
	n = build(h, 0x20, 0x00, NULL, 0, NULL, 0);
	assert_int_equal(parse(h, n, &p), 16);
	assert_true(p.local);
	assert_string_equal(p.source, "");
	n = build(h, 0x20, 0x11, v4, sizeof v4, NULL, 0);
	assert_int_equal(parse(h, n, &p), (int)n);
	assert_true(p.local);
	assert_string_equal(p.source, "");
}

static void test_crc32c(void **state)
{
	(void)state;
	assert_int_equal(proxy_crc32c((const uint8_t *)"123456789", 9), 0xE3069283u);
	uint8_t tlv[7] = {0x03, 0x00, 0x04, 0, 0, 0, 0};
	uint8_t h[64];
	size_t n = build(h, 0x21, 0x11, v4, sizeof v4, tlv, sizeof tlv);
	uint32_t crc = proxy_crc32c(h, n);
	h[n - 4] = (uint8_t)(crc >> 24), h[n - 3] = (uint8_t)(crc >> 16);
	h[n - 2] = (uint8_t)(crc >> 8), h[n - 1] = (uint8_t)crc;
	struct proxy_v2_header p;
	assert_int_equal(parse(h, n, &p), (int)n);
	assert_true(p.has_crc32c);
	h[16] ^= 1; /* the client's address changed on the way */
	assert_int_equal(parse(h, n, &p), -EBADMSG);
}

static void expect_bad(const uint8_t *h, size_t n, int err, const char *why_part)
{
	struct proxy_v2_header p;
	char why[160] = "";
	assert_int_equal(proxy_v2_parse(h, n, &p, why, sizeof why), err);
	if (why_part && !strstr(why, why_part)) {
		fprintf(stderr, "why: %s (wanted %s)\n", why, why_part);
		fail();
	}
}

static void test_malformed(void **state)
{
	(void)state;
	uint8_t h[2048];
	size_t n;
	expect_bad((const uint8_t *)"GET / HTTP/1.1\r\n", 16, -EPROTO, "signature");
	expect_bad((const uint8_t *)"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 32, -EPROTO, NULL);
	n = build(h, 0x11, 0x11, v4, sizeof v4, NULL, 0);
	expect_bad(h, n, -EBADMSG, "version 1");
	n = build(h, 0x22, 0x11, v4, sizeof v4, NULL, 0);
	expect_bad(h, n, -EBADMSG, "command");
	n = build(h, 0x21, 0x12, v4, sizeof v4, NULL, 0); /* UDP */
	expect_bad(h, n, -EBADMSG, "family");
	n = build(h, 0x21, 0x31, v4, sizeof v4, NULL, 0); /* UNIX */
	expect_bad(h, n, -EBADMSG, "family");
	n = build(h, 0x21, 0x00, NULL, 0, NULL, 0); /* UNSPEC with PROXY */
	expect_bad(h, n, -EBADMSG, "family");
	n = build(h, 0x21, 0x21, v4, sizeof v4, NULL, 0); /* IPv6 needs 36 */
	expect_bad(h, n, -EBADMSG, "address block");
	static const uint8_t overrun[] = {0x20, 0x00, 0x10, 0x01};
	n = build(h, 0x21, 0x11, v4, sizeof v4, overrun, sizeof overrun);
	expect_bad(h, n, -EBADMSG, "past");
	static const uint8_t stub[] = {0x20, 0x00};
	n = build(h, 0x21, 0x11, v4, sizeof v4, stub, sizeof stub);
	expect_bad(h, n, -EBADMSG, "inside a TLV");
	uint8_t two[sizeof ssl_tlv * 2];
	memcpy(two, ssl_tlv, sizeof ssl_tlv);
	memcpy(two + sizeof ssl_tlv, ssl_tlv, sizeof ssl_tlv);
	n = build(h, 0x21, 0x11, v4, sizeof v4, two, sizeof two);
	expect_bad(h, n, -EBADMSG, "two PP2_TYPE_SSL");
	static const uint8_t short_ssl[] = {0x20, 0x00, 0x04, 0x01, 0, 0, 0};
	n = build(h, 0x21, 0x11, v4, sizeof v4, short_ssl, sizeof short_ssl);
	expect_bad(h, n, -EBADMSG, "5 fixed");
	static const uint8_t sub_overrun[] = {0x20, 0x00, 0x09, 0x01, 0,    0,
	                                      0,    0,    0x22, 0x00, 0x05, 'x'};
	n = build(h, 0x21, 0x11, v4, sizeof v4, sub_overrun, sizeof sub_overrun);
	expect_bad(h, n, -EBADMSG, "sub-TLV");
	static const uint8_t cert_no_ssl[] = {0x20, 0x00, 0x05, 0x02, 0, 0, 0, 0};
	n = build(h, 0x21, 0x11, v4, sizeof v4, cert_no_ssl, sizeof cert_no_ssl);
	expect_bad(h, n, -EBADMSG, "without TLS");
	static const uint8_t cn_nul[] = {0x20, 0x00, 0x09, 0x07, 0,    0,
	                                 0,    0,    0x22, 0x00, 0x01, 0x00};
	n = build(h, 0x21, 0x11, v4, sizeof v4, cn_nul, sizeof cn_nul);
	expect_bad(h, n, -EBADMSG, "CN");
	static const uint8_t crc_short[] = {0x03, 0x00, 0x02, 0, 0};
	n = build(h, 0x21, 0x11, v4, sizeof v4, crc_short, sizeof crc_short);
	expect_bad(h, n, -EBADMSG, "CRC32C");
	uint8_t uid[3 + 129] = {0x05, 0x00, 129};
	memset(uid + 3, 'a', 129);
	n = build(h, 0x21, 0x11, v4, sizeof v4, uid, sizeof uid);
	expect_bad(h, n, -EBADMSG, "UNIQUE_ID");
	/* longer than PROXY_V2_MAX_BYTES: refused from the fixed part alone */
	uint8_t noop[3 + PROXY_V2_MAX_BYTES] = {0x04, PROXY_V2_MAX_BYTES >> 8,
	                                        PROXY_V2_MAX_BYTES & 0xFF};
	n = build(h, 0x21, 0x11, v4, sizeof v4, noop, sizeof noop);
	expect_bad(h, 16, -EMSGSIZE, "more than");
	/* unknown TLVs (NOOP, custom) are skipped */
	static const uint8_t unknown[] = {0x04, 0x00, 0x01, 0xFF, 0xE1, 0x00, 0x00};
	n = build(h, 0x21, 0x11, v4, sizeof v4, unknown, sizeof unknown);
	struct proxy_v2_header p;
	assert_int_equal(parse(h, n, &p), (int)n);
}

/* The headers Debian's HAProxy 2.6 sent, kept in the fuzz corpus. */
static size_t read_corpus(const char *name, uint8_t *out, size_t cap)
{
	const char *src = getenv("KENSHO_SOURCE_DIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/tests/fuzz/corpus/proxy_protocol/%s", src ? src : ".",
	         name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	size_t n = fread(out, 1, cap, f);
	fclose(f);
	return n;
}

static void test_haproxy_26(void **state)
{
	(void)state;
	uint8_t buf[2048];
	struct proxy_v2_header p;
	size_t n = read_corpus("haproxy-2.6-ssl-cn-crc32c-cert", buf, sizeof buf);
	int len = parse(buf, n, &p);
	assert_true(len > 0 && (size_t)len < n);
	assert_memory_equal(buf + len, "GET ", 4);
	assert_true(p.has_crc32c);
	assert_true(p.has_ssl);
	assert_int_equal(p.ssl_client, PROXY_V2_CLIENT_SSL | PROXY_V2_CLIENT_CERT_CONN |
	                                       PROXY_V2_CLIENT_CERT_SESS);
	assert_int_equal(p.ssl_verify, 0);
	assert_string_equal(p.ssl_cn, "operator");
	assert_string_equal(p.ssl_version, "TLSv1.3");
	assert_memory_equal(p.source, "127.0.0.1:", 10);
	n = read_corpus("haproxy-2.6-ssl-crc32c-no-cert", buf, sizeof buf);
	len = parse(buf, n, &p);
	assert_true(len > 0);
	assert_true(p.has_ssl);
	assert_int_equal(p.ssl_client, PROXY_V2_CLIENT_SSL);
	assert_string_equal(p.ssl_cn, "");
}

static void test_suspected(void **state)
{
	(void)state;
	assert_true(proxy_header_suspected(sig, 12));
	assert_true(proxy_header_suspected(sig, 3));
	assert_true(proxy_header_suspected((const uint8_t *)"PROXY TCP4 ", 11));
	assert_true(proxy_header_suspected((const uint8_t *)"PRO", 3));
	assert_false(proxy_header_suspected((const uint8_t *)"GET / HTTP/1.1", 14));
	assert_false(proxy_header_suspected((const uint8_t *)"\r\n\r\nx", 5));
	assert_false(proxy_header_suspected(sig, 0));
}

static void test_trust(void **state)
{
	(void)state;
	struct proxy_trust *t;
	char err[200];
	assert_int_equal(
	        proxy_trust_parse("10.1.0.0/16, 192.0.2.7 2001:db8::/32", &t, err, sizeof err), 0);
	assert_true(proxy_trust_allows(t, "10.1.200.3:5555"));
	assert_false(proxy_trust_allows(t, "10.2.0.1:5555"));
	assert_true(proxy_trust_allows(t, "192.0.2.7:1"));
	assert_false(proxy_trust_allows(t, "192.0.2.8:1"));
	assert_true(proxy_trust_allows(t, "[2001:db8:ffff::1]:443"));
	assert_false(proxy_trust_allows(t, "[2001:db9::1]:443"));
	assert_true(proxy_trust_allows(t, "[::ffff:10.1.0.9]:80")); /* IPv4-mapped */
	assert_false(proxy_trust_allows(t, "not an address"));
	assert_false(proxy_trust_allows(t, NULL));
	proxy_trust_free(t);
	assert_int_equal(proxy_trust_parse("127.0.0.3/20", &t, err, sizeof err), 0);
	assert_true(proxy_trust_allows(t, "127.0.15.1:9"));
	assert_false(proxy_trust_allows(t, "127.0.16.1:9"));
	proxy_trust_free(t);
	assert_int_equal(proxy_trust_parse("", &t, err, sizeof err), 0);
	assert_false(proxy_trust_allows(t, "127.0.0.1:1"));
	proxy_trust_free(t);
	const char *bad[] = {"10.0.0.0/33", "::/129",     "host.example",
	                     "10.0.0.1/",   "10.0.0.1/x", "1.2.3.4/8/8"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(proxy_trust_parse(bad[i], &t, err, sizeof err), -EINVAL);
		assert_non_null(strstr(err, "is not an IPv4 or IPv6 address"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_ipv4_with_ssl), cmocka_unit_test(test_ipv6_and_local),
	        cmocka_unit_test(test_crc32c),        cmocka_unit_test(test_malformed),
	        cmocka_unit_test(test_suspected),     cmocka_unit_test(test_trust),
	        cmocka_unit_test(test_haproxy_26),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

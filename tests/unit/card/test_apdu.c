/* card/apdu.c: command APDUs byte for byte, and response parsing (status
 * words, DER certificate lengths, token info). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <cmocka.h>

#include "card/apdu.h"

static void test_response_split(void **state)
{
	struct apdu_response r;
	const uint8_t raw[] = {0xaa, 0xbb, 0x90, 0x00};
	assert_int_equal(apdu_response_parse(raw, sizeof(raw), &r), 0);
	assert_int_equal(r.len, 2);
	assert_ptr_equal(r.data, raw);
	assert_int_equal(r.sw, 0x9000);
	assert_int_equal(apdu_response_parse(raw, 1, &r), -EPROTO);
	assert_int_equal(apdu_response_parse(raw, 0, &r), -EPROTO);
	uint8_t big[APDU_RESPONSE_MAX + 1] = {0};
	assert_int_equal(apdu_response_parse(big, sizeof(big), &r), -EPROTO);
	assert_int_equal(apdu_response_parse(big, APDU_RESPONSE_MAX, &r), 0);
	assert_int_equal(r.len, 256);
}

static void test_status_words(void **state)
{
	int tries = 99;
	assert_int_equal(apdu_status_error(0x9000, &tries), 0);
	assert_int_equal(tries, -1);
	assert_int_equal(apdu_status_error(0x63c4, &tries), -EKEYREJECTED);
	assert_int_equal(tries, 4);
	assert_int_equal(apdu_status_error(0x63c1, &tries), -EKEYREJECTED);
	assert_int_equal(tries, 1);
	assert_int_equal(apdu_status_error(0x63c0, &tries), -EKEYREVOKED);
	assert_int_equal(tries, 0);
	tries = 99;
	assert_int_equal(apdu_status_error(0x6983, &tries), -EKEYREVOKED);
	assert_int_equal(tries, 0);
	assert_int_equal(apdu_status_error(0x6982, &tries), -EACCES);
	assert_int_equal(tries, -1);
	assert_int_equal(apdu_status_error(0x6a82, NULL), -ENOENT);
	assert_int_equal(apdu_status_error(0x6b00, NULL), -ERANGE);
	assert_int_equal(apdu_status_error(0x6f00, NULL), -EPROTO);
	assert_int_equal(apdu_status_error(0x6300, NULL), -EPROTO);
}

static void test_der_length(void **state)
{
	size_t total = 0;
	/* Two length octets: a typical 1.3 KiB certificate. */
	assert_int_equal(apdu_der_total_length((const uint8_t *)"\x30\x82\x05\x10", 4, &total), 0);
	assert_int_equal(total, 4 + 0x510);
	assert_int_equal(apdu_der_total_length((const uint8_t *)"\x30\x81\xc8", 3, &total), 0);
	assert_int_equal(total, 3 + 0xc8);
	assert_int_equal(apdu_der_total_length((const uint8_t *)"\x30\x05", 2, &total), 0);
	assert_int_equal(total, 7);
	/* Needs more header. */
	assert_int_equal(apdu_der_total_length((const uint8_t *)"\x30", 1, &total), -EAGAIN);
	assert_int_equal(apdu_der_total_length((const uint8_t *)"\x30\x82\x05", 3, &total),
	                 -EAGAIN);
	/* Not a SEQUENCE, indefinite, non-minimal, too long, empty. */
	assert_int_equal(apdu_der_total_length((const uint8_t *)"\x31\x05", 2, &total), -EBADMSG);
	assert_int_equal(apdu_der_total_length((const uint8_t *)"\xff\xff\xff", 3, &total),
	                 -EBADMSG);
	assert_int_equal(apdu_der_total_length((const uint8_t *)"\x30\x80", 2, &total), -EBADMSG);
	assert_int_equal(apdu_der_total_length((const uint8_t *)"\x30\x81\x10", 3, &total),
	                 -EBADMSG);
	assert_int_equal(apdu_der_total_length((const uint8_t *)"\x30\x82\x00\xff", 4, &total),
	                 -EBADMSG);
	assert_int_equal(apdu_der_total_length((const uint8_t *)"\x30\x83\x01\x00\x00", 5, &total),
	                 -EBADMSG);
	assert_int_equal(apdu_der_total_length((const uint8_t *)"\x30\x82\x40\x00", 4, &total),
	                 -EBADMSG);
	assert_int_equal(apdu_der_total_length((const uint8_t *)"\x30\x82\x3f\xfc", 4, &total), 0);
	assert_int_equal(total, APDU_CERT_MAX);
	assert_int_equal(apdu_der_total_length((const uint8_t *)"\x30\x00", 2, &total), -EBADMSG);
}

static void test_token_info(void **state)
{
	char label[APDU_TOKEN_INFO_LEN + 1];
	enum apdu_card_kind kind;
	uint8_t info[APDU_TOKEN_INFO_LEN];
	memset(info, ' ', sizeof(info));
	memcpy(info, "JPKIAPICCTOKEN2", 15);
	assert_int_equal(apdu_token_info_parse(info, sizeof(info), label, sizeof(label), &kind), 0);
	assert_string_equal(label, "JPKIAPICCTOKEN2");
	assert_int_equal(kind, APDU_CARD_MY_NUMBER);

	info[14] = ' ';
	assert_int_equal(apdu_token_info_parse(info, sizeof(info), label, sizeof(label), &kind), 0);
	assert_string_equal(label, "JPKIAPICCTOKEN");
	assert_int_equal(kind, APDU_CARD_RESIDENT);

	memcpy(info, "SOMETHINGELSE ", 14);
	assert_int_equal(apdu_token_info_parse(info, sizeof(info), label, sizeof(label), &kind), 0);
	assert_int_equal(kind, APDU_CARD_UNKNOWN);

	memset(info, ' ', sizeof(info));
	assert_int_equal(apdu_token_info_parse(info, sizeof(info), label, sizeof(label), &kind),
	                 -EBADMSG);
	info[0] = 0x01;
	assert_int_equal(apdu_token_info_parse(info, sizeof(info), label, sizeof(label), &kind),
	                 -EBADMSG);
	memset(info, 'A', sizeof(info));
	assert_int_equal(apdu_token_info_parse(info, sizeof(info), label, 8, &kind), -ENOSPC);
}

static void test_command_bytes(void **state)
{
	uint8_t cmd[APDU_COMMAND_MAX];
	int n = apdu_build_select_jpki(cmd);
	assert_int_equal(n, 15);
	assert_memory_equal(cmd, "\x00\xa4\x04\x0c\x0a\xd3\x92\xf0\x00\x26\x01\x00\x00\x00\x01",
	                    15);
	n = apdu_build_select_ef(cmd, 0x001b);
	assert_int_equal(n, 7);
	assert_memory_equal(cmd, "\x00\xa4\x02\x0c\x02\x00\x1b", 7);
	n = apdu_build_read_binary(cmd, 0x0108, 256);
	assert_int_equal(n, 5);
	assert_memory_equal(cmd, "\x00\xb0\x01\x08\x00", 5);
	n = apdu_build_read_binary(cmd, 0, 8);
	assert_memory_equal(cmd, "\x00\xb0\x00\x00\x08", 5);
	assert_int_equal(apdu_build_read_binary(cmd, 0x8000, 1), -ERANGE);
	assert_int_equal(apdu_build_read_binary(cmd, 0, 257), -ERANGE);
	assert_int_equal(apdu_build_read_binary(cmd, 0, 0), -ERANGE);
	n = apdu_build_pin_status(cmd);
	assert_int_equal(n, 4);
	assert_memory_equal(cmd, "\x00\x20\x00\x80", 4);
	n = apdu_build_verify(cmd, "1234", 4);
	assert_int_equal(n, 9);
	assert_memory_equal(cmd,
	                    "\x00\x20\x00\x80\x04"
	                    "1234",
	                    9);
	assert_int_equal(apdu_build_verify(cmd, "12345678901234567", 17), -EINVAL);

	uint8_t hash[32];
	memset(hash, 0x5a, sizeof(hash));
	uint8_t di[51];
	assert_int_equal(apdu_sha256_digest_info(hash, di), 51);
	assert_memory_equal(di,
	                    "\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05"
	                    "\x00\x04\x20",
	                    19);
	n = apdu_build_sign(cmd, di, 51);
	assert_int_equal(n, 4 + 1 + 51 + 1);
	assert_memory_equal(cmd, "\x80\x2a\x00\x80\x33", 5);
	assert_memory_equal(cmd + 5, di, 51);
	assert_int_equal(cmd[56], 0x00);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_response_split), cmocka_unit_test(test_status_words),
	        cmocka_unit_test(test_der_length),     cmocka_unit_test(test_token_info),
	        cmocka_unit_test(test_command_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

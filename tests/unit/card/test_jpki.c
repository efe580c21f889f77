/* card/jpki.c over a scripted transport: the exact APDU sequence of each
 * operation, and what each answer of the card turns into. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <cmocka.h>

#include "card/jpki.h"

#define MAX_STEPS 32

/* One expected command and the card's answer (or a transport error). */
struct step {
	uint8_t cmd[APDU_COMMAND_MAX];
	size_t cmd_len;
	uint8_t resp[APDU_RESPONSE_MAX + 8];
	size_t resp_len;
	int error;
};

struct script {
	struct step steps[MAX_STEPS];
	int count;
	int next;
};

static int script_transmit(void *ctx, const uint8_t *cmd, size_t cmd_len, uint8_t *resp,
                           size_t *resp_len)
{
	struct script *s = ctx;
	assert_true(s->next < s->count);
	struct step *st = &s->steps[s->next++];
	assert_int_equal(cmd_len, st->cmd_len);
	assert_memory_equal(cmd, st->cmd, cmd_len);
	if (st->error)
		return st->error;
	assert_true(st->resp_len <= *resp_len);
	memcpy(resp, st->resp, st->resp_len);
	*resp_len = st->resp_len;
	return 0;
}

static struct step *expect(struct script *s, const void *cmd, size_t cmd_len)
{
	assert_true(s->count < MAX_STEPS);
	struct step *st = &s->steps[s->count++];
	memset(st, 0, sizeof(*st));
	memcpy(st->cmd, cmd, cmd_len);
	st->cmd_len = cmd_len;
	return st;
}

static void answer(struct step *st, const uint8_t *data, size_t len, uint16_t sw)
{
	if (len)
		memcpy(st->resp, data, len);
	st->resp[len] = (uint8_t)(sw >> 8);
	st->resp[len + 1] = (uint8_t)sw;
	st->resp_len = len + 2;
}

static void expect_select_ef(struct script *s, uint16_t fid, uint16_t sw)
{
	uint8_t cmd[7] = {0x00, 0xa4, 0x02, 0x0c, 0x02, (uint8_t)(fid >> 8), (uint8_t)fid};
	answer(expect(s, cmd, 7), NULL, 0, sw);
}

static void expect_read(struct script *s, size_t offset, size_t count, const uint8_t *data,
                        size_t len, uint16_t sw)
{
	uint8_t cmd[5] = {0x00, 0xb0, (uint8_t)(offset >> 8), (uint8_t)offset,
	                  (uint8_t)(count == 256 ? 0 : count)};
	answer(expect(s, cmd, 5), data, len, sw);
}

static struct card_transport transport(struct script *s)
{
	struct card_transport t = {.transmit = script_transmit, .ctx = s};
	return t;
}

static void test_select(void **state)
{
	static const uint8_t select[] = {0x00, 0xa4, 0x04, 0x0c, 0x0a, 0xd3, 0x92, 0xf0,
	                                 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01};
	struct script s = {0};
	struct card_transport t = transport(&s);
	answer(expect(&s, select, sizeof(select)), NULL, 0, 0x9000);
	assert_int_equal(jpki_select(&t), 0);
	/* A card without the application: not a JPKI card. */
	answer(expect(&s, select, sizeof(select)), NULL, 0, 0x6a82);
	assert_int_equal(jpki_select(&t), -ENOTSUP);
	/* Transport errors pass through. */
	expect(&s, select, sizeof(select))->error = -ENXIO;
	assert_int_equal(jpki_select(&t), -ENXIO);
	assert_int_equal(s.next, s.count);
}

/* A certificate of `len` bytes in an EF padded beyond it with 0xFF. */
static size_t make_cert(uint8_t *out, size_t len, size_t file_len)
{
	memset(out, 0xff, file_len);
	out[0] = 0x30;
	out[1] = 0x82;
	out[2] = (uint8_t)((len - 4) >> 8);
	out[3] = (uint8_t)(len - 4);
	for (size_t i = 4; i < len; i++)
		out[i] = (uint8_t)(i * 7);
	return len;
}

static void test_read_cert_in_chunks(void **state)
{
	static uint8_t file[1200];
	size_t len = make_cert(file, 600, sizeof(file));
	struct script s = {0};
	struct card_transport t = transport(&s);
	expect_select_ef(&s, 0x000a, 0x9000);
	expect_read(&s, 0, 8, file, 8, 0x9000);
	expect_read(&s, 8, 256, file + 8, 256, 0x9000);
	expect_read(&s, 264, 256, file + 264, 256, 0x9000);
	expect_read(&s, 520, 80, file + 520, 80, 0x9000);
	struct buf out = {0};
	assert_int_equal(jpki_read_cert(&t, JPKI_CERT_AUTH, &out), 0);
	assert_int_equal(out.len, len);
	assert_memory_equal(out.data, file, len);
	assert_int_equal(s.next, s.count);
	buf_free(&out);
}

static void test_read_cert_failures(void **state)
{
	static uint8_t file[700];
	make_cert(file, 600, sizeof(file));
	struct buf out = {0};

	/* The signing certificate before the PIN: 6982. */
	struct script s = {0};
	struct card_transport t = transport(&s);
	expect_select_ef(&s, 0x0001, 0x9000);
	expect_read(&s, 0, 8, NULL, 0, 0x6982);
	assert_int_equal(jpki_read_cert(&t, JPKI_CERT_SIGN, &out), -EACCES);

	/* The file ends before the DER says: corrupt. */
	s = (struct script){0};
	expect_select_ef(&s, 0x0002, 0x9000);
	expect_read(&s, 0, 8, file, 8, 0x9000);
	expect_read(&s, 8, 256, file + 8, 256, 0x9000);
	expect_read(&s, 264, 256, NULL, 0, 0x6b00);
	assert_int_equal(jpki_read_cert(&t, JPKI_CERT_SIGN_CA, &out), -EBADMSG);

	/* A chunk longer than asked for is a protocol error. */
	s = (struct script){0};
	expect_select_ef(&s, 0x000b, 0x9000);
	expect_read(&s, 0, 8, file, 9, 0x9000);
	assert_int_equal(jpki_read_cert(&t, JPKI_CERT_AUTH_CA, &out), -EPROTO);

	/* An empty EF (all 0xFF) is not a certificate. */
	s = (struct script){0};
	expect_select_ef(&s, 0x000a, 0x9000);
	memset(file, 0xff, 8);
	expect_read(&s, 0, 8, file, 8, 0x9000);
	assert_int_equal(jpki_read_cert(&t, JPKI_CERT_AUTH, &out), -EBADMSG);

	/* The card removed mid-read. */
	make_cert(file, 600, sizeof(file));
	s = (struct script){0};
	expect_select_ef(&s, 0x000a, 0x9000);
	expect_read(&s, 0, 8, file, 8, 0x9000);
	uint8_t cmd[5] = {0x00, 0xb0, 0x00, 0x08, 0x00};
	expect(&s, cmd, 5)->error = -ENXIO;
	assert_int_equal(jpki_read_cert(&t, JPKI_CERT_AUTH, &out), -ENXIO);

	/* A response without a status word. */
	s = (struct script){0};
	expect_select_ef(&s, 0x000a, 0x9000);
	struct step *st = expect(&s, "\x00\xb0\x00\x00\x08", 5);
	st->resp_len = 1;
	assert_int_equal(jpki_read_cert(&t, JPKI_CERT_AUTH, &out), -EPROTO);
	assert_int_equal(out.len, 0);
	buf_free(&out);
}

static void test_token_info(void **state)
{
	uint8_t info[32];
	memset(info, ' ', sizeof(info));
	memcpy(info, "JPKIAPICCTOKEN2", 15);
	struct script s = {0};
	struct card_transport t = transport(&s);
	expect_select_ef(&s, 0x0006, 0x9000);
	expect_read(&s, 0, 32, info, 32, 0x9000);
	char label[33];
	enum apdu_card_kind kind;
	assert_int_equal(jpki_read_token_info(&t, label, sizeof(label), &kind), 0);
	assert_string_equal(label, "JPKIAPICCTOKEN2");
	assert_int_equal(kind, APDU_CARD_MY_NUMBER);
}

static void test_pin_tries_and_verify(void **state)
{
	struct script s = {0};
	struct card_transport t = transport(&s);
	int tries = 0;

	expect_select_ef(&s, 0x001b, 0x9000);
	answer(expect(&s, "\x00\x20\x00\x80", 4), NULL, 0, 0x63c5);
	assert_int_equal(jpki_pin_tries(&t, JPKI_KEY_SIGN, &tries), 0);
	assert_int_equal(tries, 5);

	expect_select_ef(&s, 0x0018, 0x9000);
	answer(expect(&s, "\x00\x20\x00\x80", 4), NULL, 0, 0x63c0);
	assert_int_equal(jpki_pin_tries(&t, JPKI_KEY_AUTH, &tries), 0);
	assert_int_equal(tries, 0);

	/* Wrong PIN: counter comes back. */
	expect_select_ef(&s, 0x0018, 0x9000);
	answer(expect(&s,
	              "\x00\x20\x00\x80\x04"
	              "9999",
	              9),
	       NULL, 0, 0x63c2);
	assert_int_equal(jpki_verify_pin(&t, JPKI_KEY_AUTH, "9999", 4, &tries), -EKEYREJECTED);
	assert_int_equal(tries, 2);

	/* Right PIN. */
	expect_select_ef(&s, 0x001b, 0x9000);
	answer(expect(&s,
	              "\x00\x20\x00\x80\x06"
	              "ABC123",
	              11),
	       NULL, 0, 0x9000);
	assert_int_equal(jpki_verify_pin(&t, JPKI_KEY_SIGN, "ABC123", 6, &tries), 0);

	/* Blocked: the last wrong try answers 63C0, later ones 6983. */
	expect_select_ef(&s, 0x0018, 0x9000);
	answer(expect(&s,
	              "\x00\x20\x00\x80\x04"
	              "0000",
	              9),
	       NULL, 0, 0x63c0);
	assert_int_equal(jpki_verify_pin(&t, JPKI_KEY_AUTH, "0000", 4, &tries), -EKEYREVOKED);
	assert_int_equal(tries, 0);
	expect_select_ef(&s, 0x0018, 0x9000);
	answer(expect(&s,
	              "\x00\x20\x00\x80\x04"
	              "1234",
	              9),
	       NULL, 0, 0x6983);
	assert_int_equal(jpki_verify_pin(&t, JPKI_KEY_AUTH, "1234", 4, &tries), -EKEYREVOKED);

	/* Badly formed PINs never reach the card (no step scripted). */
	assert_int_equal(jpki_verify_pin(&t, JPKI_KEY_AUTH, "123", 3, &tries), -EINVAL);
	assert_int_equal(jpki_verify_pin(&t, JPKI_KEY_SIGN, "abc123", 6, &tries), -EINVAL);
	assert_int_equal(s.next, s.count);
}

static void test_pin_format(void **state)
{
	assert_int_equal(jpki_pin_check_format(JPKI_KEY_AUTH, "0123", 4), 0);
	assert_int_equal(jpki_pin_check_format(JPKI_KEY_AUTH, "01234", 5), -EINVAL);
	assert_int_equal(jpki_pin_check_format(JPKI_KEY_AUTH, "12a4", 4), -EINVAL);
	assert_int_equal(jpki_pin_check_format(JPKI_KEY_SIGN, "ABC123", 6), 0);
	assert_int_equal(jpki_pin_check_format(JPKI_KEY_SIGN, "A1B2C3D4E5F6G7H8", 16), 0);
	assert_int_equal(jpki_pin_check_format(JPKI_KEY_SIGN, "A1B2C3D4E5F6G7H8I", 17), -EINVAL);
	assert_int_equal(jpki_pin_check_format(JPKI_KEY_SIGN, "AB12C", 5), -EINVAL);
	assert_int_equal(jpki_pin_check_format(JPKI_KEY_SIGN, "ABCDEF", 6), -EINVAL);
	assert_int_equal(jpki_pin_check_format(JPKI_KEY_SIGN, "123456", 6), -EINVAL);
	assert_int_equal(jpki_pin_check_format(JPKI_KEY_SIGN, "ABC 123", 7), -EINVAL);
}

static void test_sign(void **state)
{
	uint8_t hash[32];
	memset(hash, 0x11, sizeof(hash));
	uint8_t cmd[57] = {0x80, 0x2a, 0x00, 0x80, 51};
	apdu_sha256_digest_info(hash, cmd + 5);
	cmd[56] = 0x00;
	uint8_t signature[256];
	memset(signature, 0x42, sizeof(signature));

	struct script s = {0};
	struct card_transport t = transport(&s);
	expect_select_ef(&s, 0x001a, 0x9000);
	answer(expect(&s, cmd, sizeof(cmd)), signature, 256, 0x9000);
	uint8_t sig[256];
	size_t sig_len = 0;
	assert_int_equal(jpki_sign_sha256(&t, JPKI_KEY_SIGN, hash, sig, &sig_len), 0);
	assert_int_equal(sig_len, 256);
	assert_memory_equal(sig, signature, 256);

	/* Without the PIN. */
	expect_select_ef(&s, 0x0017, 0x9000);
	answer(expect(&s, cmd, sizeof(cmd)), NULL, 0, 0x6982);
	assert_int_equal(jpki_sign_sha256(&t, JPKI_KEY_AUTH, hash, sig, &sig_len), -EACCES);

	/* A short signature is malformed. */
	expect_select_ef(&s, 0x001a, 0x9000);
	answer(expect(&s, cmd, sizeof(cmd)), signature, 128, 0x9000);
	assert_int_equal(jpki_sign_sha256(&t, JPKI_KEY_SIGN, hash, sig, &sig_len), -EBADMSG);
	assert_int_equal(s.next, s.count);
}

/* T=0 answers: 61xx is followed by GET RESPONSE, 6Cxx by the same command
 * with the right Le. */
static void test_t0_status_words(void **state)
{
	uint8_t info[32];
	memset(info, ' ', sizeof(info));
	memcpy(info, "JPKIAPICCTOKEN", 14);
	struct script s = {0};
	struct card_transport t = transport(&s);
	expect_select_ef(&s, 0x0006, 0x9000);
	expect_read(&s, 0, 32, NULL, 0, 0x6120);
	answer(expect(&s, "\x00\xc0\x00\x00\x20", 5), info, 32, 0x9000);
	char label[33];
	enum apdu_card_kind kind;
	assert_int_equal(jpki_read_token_info(&t, label, sizeof(label), &kind), 0);
	assert_string_equal(label, "JPKIAPICCTOKEN");
	assert_int_equal(kind, APDU_CARD_RESIDENT);

	expect_select_ef(&s, 0x0006, 0x9000);
	expect_read(&s, 0, 32, NULL, 0, 0x6c20);
	expect_read(&s, 0, 32, info, 32, 0x9000);
	assert_int_equal(jpki_read_token_info(&t, label, sizeof(label), &kind), 0);

	/* Followed once only. */
	expect_select_ef(&s, 0x0006, 0x9000);
	expect_read(&s, 0, 32, NULL, 0, 0x6120);
	answer(expect(&s, "\x00\xc0\x00\x00\x20", 5), NULL, 0, 0x6120);
	assert_int_equal(jpki_read_token_info(&t, label, sizeof(label), &kind), -EPROTO);
	assert_int_equal(s.next, s.count);
}

static void test_messages(void **state)
{
	assert_string_equal(card_strerror(-EKEYREJECTED), "wrong PIN");
	assert_non_null(strstr(card_strerror(-EKEYREVOKED), "PIN blocked"));
	assert_non_null(strstr(card_strerror(-ENOTSUP), "not a JPKI card"));
	assert_non_null(strstr(card_strerror(-ENXIO), "removed"));
	assert_non_null(strstr(card_strerror(-ENOMEDIUM), "no card"));
	assert_non_null(strstr(card_strerror(-ENODEV), "no smart card reader"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_select),
	        cmocka_unit_test(test_read_cert_in_chunks),
	        cmocka_unit_test(test_read_cert_failures),
	        cmocka_unit_test(test_token_info),
	        cmocka_unit_test(test_pin_tries_and_verify),
	        cmocka_unit_test(test_pin_format),
	        cmocka_unit_test(test_sign),
	        cmocka_unit_test(test_t0_status_words),
	        cmocka_unit_test(test_messages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

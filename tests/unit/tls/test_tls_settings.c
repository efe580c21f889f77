/* tls/tls_settings.c: kenshod's tls.* keys and their DIR/tls defaults. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/config.h"
#include "tls/tls.h"

static void touch(const char *path)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
}

static void test_defaults_follow_the_data_directory(void **state)
{
	char dir[64] = "/tmp/kensho-tls-settings-XXXXXX", path[128];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/tls", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	struct config *c = config_new();
	struct tls_settings s;
	char storage[1024], err[200];

	/* No trust store yet: client_auth falls back to none, policy unset. */
	assert_int_equal(
	        tls_settings_from_config(c, dir, &s, storage, sizeof(storage), err, sizeof(err)),
	        0);
	snprintf(path, sizeof(path), "%s/tls/server.pem", dir);
	assert_string_equal(s.cert_file, path);
	assert_null(s.trust_file);
	assert_null(s.policy_file);
	assert_int_equal(s.client_auth, TLS_CLIENT_AUTH_NONE);
	assert_int_equal(s.handshake_timeout_ms, 10000);
	assert_int_equal(s.ticket_lifetime_s, 3600);
	/* Tickets: DIR/tls/ticket.key (kenshod creates it before fork), 12 h. */
	snprintf(path, sizeof(path), "%s/tls/ticket.key", dir);
	assert_string_equal(s.ticket_key_file, path);
	assert_int_equal(s.ticket_rotation_s, 12 * 3600);

	/* With the demo files present: optional, and both are used. */
	snprintf(path, sizeof(path), "%s/tls/ca.pem", dir);
	touch(path);
	snprintf(path, sizeof(path), "%s/tls/policy.conf", dir);
	touch(path);
	assert_int_equal(
	        tls_settings_from_config(c, dir, &s, storage, sizeof(storage), err, sizeof(err)),
	        0);
	assert_int_equal(s.client_auth, TLS_CLIENT_AUTH_OPTIONAL);
	assert_string_equal(s.policy_file, path);
	assert_non_null(s.trust_file);

	/* Explicit keys win. */
	assert_int_equal(config_set(c, "tls.cert", "/etc/kensho/cert.pem"), 0);
	assert_int_equal(config_set(c, "tls.client_auth", "required"), 0);
	assert_int_equal(config_set(c, "tls.handshake_timeout", "3s"), 0);
	assert_int_equal(config_set(c, "tls.ticket_lifetime", "0"), 0);
	assert_int_equal(
	        tls_settings_from_config(c, dir, &s, storage, sizeof(storage), err, sizeof(err)),
	        0);
	assert_string_equal(s.cert_file, "/etc/kensho/cert.pem");
	assert_int_equal(s.client_auth, TLS_CLIENT_AUTH_REQUIRED);
	assert_int_equal(s.handshake_timeout_ms, 3000);
	assert_int_equal(s.ticket_lifetime_s, 0);

	/* A shared ticket key and its rotation; a rotation under a minute is
	 * refused. */
	assert_int_equal(config_set(c, "tls.ticket_key", "/etc/kensho/ticket.key"), 0);
	assert_int_equal(config_set(c, "tls.ticket_rotation", "6h"), 0);
	assert_int_equal(
	        tls_settings_from_config(c, dir, &s, storage, sizeof(storage), err, sizeof(err)),
	        0);
	assert_string_equal(s.ticket_key_file, "/etc/kensho/ticket.key");
	assert_int_equal(s.ticket_rotation_s, 6 * 3600);
	assert_int_equal(config_set(c, "tls.ticket_rotation", "30s"), 0);
	assert_int_equal(
	        tls_settings_from_config(c, dir, &s, storage, sizeof(storage), err, sizeof(err)),
	        -EINVAL);
	assert_non_null(strstr(err, "tls.ticket_rotation"));
	assert_int_equal(config_set(c, "tls.ticket_rotation", "12h"), 0);
	/* The client key bound: 4096 unless set, and only within 2048..8192. */
	assert_int_equal(
	        tls_settings_from_config(c, dir, &s, storage, sizeof(storage), err, sizeof(err)), 0);
	assert_int_equal(s.client_key_max_bits, 4096);
	assert_int_equal(config_set(c, "tls.client_key_max_bits", "8192"), 0);
	assert_int_equal(
	        tls_settings_from_config(c, dir, &s, storage, sizeof(storage), err, sizeof(err)), 0);
	assert_int_equal(s.client_key_max_bits, 8192);
	assert_int_equal(config_set(c, "tls.client_key_max_bits", "16384"), 0);
	assert_int_equal(
	        tls_settings_from_config(c, dir, &s, storage, sizeof(storage), err, sizeof(err)),
	        -EINVAL);
	assert_non_null(strstr(err, "tls.client_key_max_bits: 16384 is outside 2048..8192"));
	assert_int_equal(config_set(c, "tls.client_key_max_bits", "4096"), 0);

	assert_int_equal(config_set(c, "tls.client_auth", "sometimes"), 0);
	assert_int_equal(
	        tls_settings_from_config(c, dir, &s, storage, sizeof(storage), err, sizeof(err)),
	        -EINVAL);
	assert_non_null(strstr(err, "sometimes"));
	/* Paths that do not fit the caller's storage are refused, not cut. */
	assert_int_equal(config_set(c, "tls.client_auth", "none"), 0);
	assert_int_equal(tls_settings_from_config(c, dir, &s, storage, 20, err, sizeof(err)),
	                 -ENAMETOOLONG);
	config_free(c);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults_follow_the_data_directory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

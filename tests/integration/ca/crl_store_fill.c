/* crl_store_fill: puts revoked certificate records straight into a data
 * directory's store through the store API, for CRL tests that need many
 * entries or dates the command line does not offer (expired certificates,
 * back-dated revocations).
 *
 *   crl_store_fill --data DIR --kind sign|auth --count N [--first I]
 *                  [--not-after SECONDS] [--revoked-at SECONDS] [--reason R]
 *
 * Serials are 7e followed by I..I+N-1 as 8 big-endian octets (no clash with
 * kensho's random 16-octet serials). --not-after and --revoked-at are offsets
 * from now (defaults: one year ahead, now). Records are written in
 * transactions of 20,000. Prints the serial of the first record in hex. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/ca.h"
#include "storage/store.h"

#define BATCH 20000

static void make_serial(uint64_t n, struct store_serial *s)
{
	s->len = 9;
	s->bytes[0] = 0x7e;
	for (int i = 0; i < 8; i++)
		s->bytes[1 + i] = (uint8_t)(n >> (8 * (7 - i)));
}

int main(int argc, char **argv)
{
	const char *data = NULL, *label = NULL;
	uint64_t count = 0, first = 1;
	int64_t not_after = 365 * 86400, revoked_at = 0;
	int reason = CRL_REASON_KEY_COMPROMISE;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--data"))
			data = v;
		else if (!strcmp(k, "--kind"))
			label = v;
		else if (!strcmp(k, "--count"))
			count = strtoull(v, NULL, 10);
		else if (!strcmp(k, "--first"))
			first = strtoull(v, NULL, 10);
		else if (!strcmp(k, "--not-after"))
			not_after = strtoll(v, NULL, 10);
		else if (!strcmp(k, "--revoked-at"))
			revoked_at = strtoll(v, NULL, 10);
		else if (!strcmp(k, "--reason"))
			reason = atoi(v);
		else {
			fprintf(stderr, "crl_store_fill: unknown option %s\n", k);
			return 2;
		}
	}
	if (!data || !label || !count) {
		fprintf(stderr, "crl_store_fill: --data, --kind and --count are required\n");
		return 2;
	}
	struct store *store;
	int err = ca_store_open(data, &store);
	if (err) {
		fprintf(stderr, "crl_store_fill: cannot open the store: %s\n", strerror(-err));
		return 1;
	}
	int64_t now = (int64_t)time(NULL);
	struct store_issuer issuer = {0};
	uint64_t done = 0;
	while (!err && done < count) {
		struct store_txn *txn;
		if ((err = store_txn_begin(store, true, &txn)))
			break;
		if (!issuer.id && (err = store_issuer_by_label(txn, label, &issuer))) {
			store_txn_abort(txn);
			break;
		}
		uint64_t end = done + BATCH < count ? done + BATCH : count;
		for (uint64_t i = done; !err && i < end; i++) {
			struct store_cert c = {
			        .issuer_id = issuer.id,
			        .kind = issuer.kind,
			        .status = CERT_STATUS_GOOD,
			        .not_before = now - 86400,
			        .not_after = now + not_after,
			};
			make_serial(first + i, &c.serial);
			err = store_cert_insert(txn, &c, (struct store_blob){NULL, 0});
			if (!err)
				err = store_cert_revoke(txn, issuer.id, &c.serial, now + revoked_at,
				                        (enum crl_reason)reason);
		}
		if (err) {
			store_txn_abort(txn);
			break;
		}
		err = store_txn_commit(txn);
		if (err == -EAGAIN) { /* the map grew: redo the batch */
			err = 0;
			continue;
		}
		done = end;
	}
	store_close(store);
	if (err) {
		fprintf(stderr, "crl_store_fill: failed after %" PRIu64 " records: %s\n", done,
		        strerror(-err));
		return 1;
	}
	struct store_serial s;
	make_serial(first, &s);
	char hex[2 * STORE_SERIAL_MAX + 1];
	store_serial_to_hex(&s, hex);
	printf("%s\n", hex);
	return 0;
}

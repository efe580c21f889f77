/* Test helper, not part of kensho: changes a kensho store behind kensho's
 * back, as someone with write access to the files could, so that the tests
 * can show `kensho audit verify` catches it. Raw LMDB, no kensho code.
 *
 *   log_tamper STORE_DIR flip DB KEY OFFSET   xor one byte of a record's value
 *   log_tamper STORE_DIR delete DB KEY        delete a record
 *
 * DB is a sub-database name (intake, audit, log_leaves, ...); KEY is the
 * record's number (its 8-octet big-endian key). Exit 0 when done. */
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, int rc)
{
	fprintf(stderr, "log_tamper: %s: %s\n", what, mdb_strerror(rc));
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 5 || (strcmp(argv[2], "flip") == 0 && argc != 6) ||
	    (strcmp(argv[2], "delete") == 0 && argc != 5)) {
		fprintf(stderr, "usage: log_tamper STORE_DIR flip|delete DB KEY [OFFSET]\n");
		return 2;
	}
	uint64_t number = strtoull(argv[4], NULL, 10);
	uint8_t k[8];
	for (int i = 7; i >= 0; i--, number >>= 8)
		k[i] = (uint8_t)number;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	int rc = mdb_env_create(&env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(env, 64);
	if (rc == 0)
		rc = mdb_env_set_mapsize(env, 0);
	if (rc == 0)
		rc = mdb_env_open(env, argv[1], 0, 0600);
	if (rc)
		return fail("opening the environment", rc);
	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
		return fail("beginning a transaction", rc);
	if ((rc = mdb_dbi_open(txn, argv[3], 0, &dbi)) != 0)
		return fail(argv[3], rc);
	MDB_val key = {sizeof k, k}, val;
	if (strcmp(argv[2], "delete") == 0) {
		rc = mdb_del(txn, dbi, &key, NULL);
	} else {
		size_t at = strtoul(argv[5], NULL, 10);
		rc = mdb_get(txn, dbi, &key, &val);
		if (rc == 0 && at >= val.mv_size)
			rc = MDB_BAD_VALSIZE;
		if (rc == 0) {
			uint8_t *copy = malloc(val.mv_size);
			memcpy(copy, val.mv_data, val.mv_size);
			copy[at] ^= 0x01;
			val.mv_data = copy;
			rc = mdb_put(txn, dbi, &key, &val, 0);
			free(copy);
		}
	}
	if (rc)
		return fail("changing the record", rc);
	if ((rc = mdb_txn_commit(txn)) != 0)
		return fail("committing", rc);
	mdb_env_close(env);
	return 0;
}

/* Shared by the storage unit tests: a store in a fresh temporary directory,
 * removed afterwards, and small record builders. */
#pragma once
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/store.h"

struct fixture {
	char dir[64];
	struct store *store;
};

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Creates a temporary directory and opens a store in it (map sizes 0 =
 * defaults). Returns NULL on failure. */
static inline struct fixture *fixture_open(size_t map_size, size_t map_max)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	snprintf(f->dir, sizeof(f->dir), "/tmp/kensho-store-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return NULL;
	}
	struct store_options opts = {.path = f->dir, .map_size = map_size, .map_max = map_max};
	if (store_open(&opts, &f->store) != 0) {
		rmdir(f->dir);
		free(f);
		return NULL;
	}
	return f;
}

static inline void fixture_close(struct fixture *f)
{
	if (!f)
		return;
	store_close(f->store);
	nftw(f->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
}

/* A serial of `len` bytes counting up from `n` in its last bytes. */
static inline struct store_serial serial_of(uint64_t n, uint8_t len)
{
	struct store_serial s = {.len = len};
	for (int i = len - 1; i >= 0; i--, n >>= 8)
		s.bytes[i] = (uint8_t)n;
	s.bytes[0] = (uint8_t)((s.bytes[0] & 0x7f) | 0x10); /* positive, nonzero */
	return s;
}

/* Fills an issuer whose hashes are derived from `seed`. */
static inline struct store_issuer issuer_of(const char *label, enum cert_kind kind, uint8_t seed)
{
	struct store_issuer is = {.kind = kind};
	snprintf(is.label, sizeof(is.label), "%s", label);
	memset(is.name_sha1, seed, 20);
	memset(is.key_sha1, seed + 1, 20);
	memset(is.name_sha256, seed + 2, 32);
	memset(is.key_sha256, seed + 3, 32);
	return is;
}

static inline struct store_cert cert_of(uint32_t issuer_id, struct store_serial serial)
{
	struct store_cert c = {.issuer_id = issuer_id, .serial = serial, .kind = CERT_KIND_SIGN};
	c.not_before = 1700000000;
	c.not_after = 1700000000 + 5 * 365 * 86400;
	return c;
}

/* The responders of a data directory, one per issuer in the store, and the
 * pre-signing that issuance and revocation call after they commit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "storage/store.h"
#include "pki/ocsp.h"

#define SET_MAX 8

struct ocsp_responder_set {
	struct store *store;
	size_t count;
	struct ocsp_responder *responders[SET_MAX];
};

struct issuer_list {
	struct store_issuer items[SET_MAX];
	size_t count;
};

static int collect_issuer(const struct store_issuer *issuer, void *arg)
{
	struct issuer_list *list = arg;
	if (list->count == SET_MAX)
		return -E2BIG;
	list->items[list->count++] = *issuer;
	return 0;
}

int ocsp_responder_set_open(const char *data_dir, struct store *store,
                            const struct ocsp_responder_options *base,
                            struct ocsp_responder_set **out)
{
	struct issuer_list list = {.count = 0};
	struct store_txn *txn;
	int err = store_txn_begin(store, false, &txn);
	if (err)
		return err;
	err = store_issuer_each(txn, collect_issuer, &list);
	store_txn_abort(txn);
	if (err)
		return err;
	struct ocsp_responder_set *set = calloc(1, sizeof(*set));
	if (!set)
		return -ENOMEM;
	set->store = store;
	for (size_t i = 0; i < list.count; i++) {
		const char *label = list.items[i].label;
		char ca[4096], cert[4096], key[4096];
		snprintf(ca, sizeof(ca), "%s/ca/%s-ca.pem", data_dir, label);
		snprintf(cert, sizeof(cert), "%s/ca/%s-ocsp.pem", data_dir, label);
		snprintf(key, sizeof(key), "%s/ca/%s-ocsp.key", data_dir, label);
		struct ocsp_responder_options opts = *base;
		opts.store_issuer_id = list.items[i].id;
		err = ocsp_responder_load(ca, cert, key, &opts, &set->responders[set->count]);
		if (err) {
			log_error("ocsp: no responder for issuer \"%s\" (%s): %s", label, cert,
			          strerror(-err));
			ocsp_responder_set_free(set);
			return err;
		}
		set->count++;
	}
	*out = set;
	return 0;
}

void ocsp_responder_set_free(struct ocsp_responder_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->count; i++)
		ocsp_responder_free(set->responders[i]);
	free(set);
}

struct ocsp_responder *ocsp_responder_set_get(const struct ocsp_responder_set *set,
                                              uint32_t issuer_id)
{
	for (size_t i = 0; i < set->count; i++)
		if (ocsp_responder_options(set->responders[i])->store_issuer_id == issuer_id)
			return set->responders[i];
	return NULL;
}

struct ocsp_responder *ocsp_responder_set_match(const struct ocsp_responder_set *set,
                                                const struct ocsp_cert_id *ids, size_t count)
{
	struct ocsp_responder *found = NULL;
	for (size_t i = 0; i < count; i++) {
		struct ocsp_responder *match = NULL;
		for (size_t k = 0; k < set->count && !match; k++)
			if (ocsp_responder_matches(set->responders[k], &ids[i]))
				match = set->responders[k];
		if (!match || (found && match != found))
			return NULL;
		found = match;
	}
	return found;
}

struct put_args {
	uint32_t issuer_id;
	const struct store_serial *serial;
	const struct store_response *response;
};

static int put_fn(struct store_txn *txn, void *arg)
{
	struct put_args *a = arg;
	return store_response_put(txn, a->issuer_id, a->serial, a->response);
}

int ocsp_responder_set_presign(void *arg, uint32_t issuer_id, const struct store_serial *serial)
{
	struct ocsp_responder_set *set = arg;
	struct ocsp_responder *r = ocsp_responder_set_get(set, issuer_id);
	if (!r)
		return -ENOENT;
	int err = -ESTALE;
	/* Each -ESTALE means another change committed after our read; a
	 * handful of retries is plenty, the next miss signs live anyway. */
	for (int attempt = 0; attempt < 4 && err == -ESTALE; attempt++) {
		struct store_txn *txn;
		struct store_cert cert;
		err = store_txn_begin(set->store, false, &txn);
		if (err)
			return err;
		err = store_cert_get(txn, issuer_id, serial, &cert);
		store_txn_abort(txn);
		if (err)
			return err;
		struct ocsp_signed out;
		struct store_response cached;
		err = ocsp_presign(r, &cert, (int64_t)time(NULL), &out, &cached);
		if (err)
			return err;
		struct put_args put = {issuer_id, serial, &cached};
		err = store_write(set->store, put_fn, &put);
		free(out.der);
	}
	return err;
}

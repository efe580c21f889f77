/* The responders of a data directory, one per issuer in the store. */
#include "ocsp/responder_set.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "storage/store.h"

#define SET_MAX 8

struct ocsp_responder_set {
	struct store *store;
	size_t count;
	struct {
		uint32_t issuer_id;
		struct ocsp_responder *responder;
	} items[SET_MAX];
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

static int file_path(char *out, const char *data_dir, const char *label, const char *suffix)
{
	int n = snprintf(out, PATH_MAX, "%s/ca/%s-%s", data_dir, label, suffix);
	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

int ocsp_responder_files(const char *data_dir, const char *label, struct ocsp_responder_files *out)
{
	int err = file_path(out->ca, data_dir, label, "ca.pem");
	if (!err)
		err = file_path(out->cert, data_dir, label, "ocsp.pem");
	if (!err)
		err = file_path(out->key, data_dir, label, "ocsp.key");
	return err;
}

static int set_open(const char *data_dir, struct store *store,
                    const struct ocsp_responder_options *base, bool require_all,
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
		struct ocsp_responder_files files;
		struct ocsp_responder *r = NULL;
		err = ocsp_responder_files(data_dir, label, &files);
		if (!err)
			err = ocsp_responder_load(files.ca, files.cert, files.key, base, &r);
		if (err && require_all) {
			log_error("ocsp: no responder for issuer \"%s\" (%s): %s", label,
			          files.cert, strerror(-err));
			ocsp_responder_set_free(set);
			return err;
		}
		if (err) {
			log_warn("no OCSP pre-signing for %s certificates: loading %s failed (%s)",
			         label, files.key, strerror(-err));
			continue;
		}
		set->items[set->count].issuer_id = list.items[i].id;
		set->items[set->count].responder = r;
		set->count++;
	}
	*out = set;
	return 0;
}

int ocsp_responder_set_open(const char *data_dir, struct store *store,
                            const struct ocsp_responder_options *base,
                            struct ocsp_responder_set **out)
{
	return set_open(data_dir, store, base, true, out);
}

int ocsp_responder_set_open_available(const char *data_dir, struct store *store,
                                      const struct ocsp_responder_options *base,
                                      struct ocsp_responder_set **out)
{
	return set_open(data_dir, store, base, false, out);
}

void ocsp_responder_set_free(struct ocsp_responder_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->count; i++)
		ocsp_responder_free(set->items[i].responder);
	free(set);
}

struct store *ocsp_responder_set_store(const struct ocsp_responder_set *set)
{
	return set->store;
}

struct ocsp_responder *ocsp_responder_set_get(const struct ocsp_responder_set *set,
                                              uint32_t issuer_id)
{
	for (size_t i = 0; i < set->count; i++)
		if (set->items[i].issuer_id == issuer_id)
			return set->items[i].responder;
	return NULL;
}

struct ocsp_responder *ocsp_responder_set_match(const struct ocsp_responder_set *set,
                                                const struct ocsp_cert_id *ids, size_t count,
                                                uint32_t *issuer_id)
{
	size_t found = SET_MAX;
	for (size_t i = 0; i < count; i++) {
		size_t match = SET_MAX;
		for (size_t k = 0; k < set->count && match == SET_MAX; k++)
			if (ocsp_responder_matches(set->items[k].responder, &ids[i]))
				match = k;
		if (match == SET_MAX || (found != SET_MAX && match != found))
			return NULL;
		found = match;
	}
	if (found == SET_MAX)
		return NULL;
	*issuer_id = set->items[found].issuer_id;
	return set->items[found].responder;
}

/* Fuzz target: the replication change-entry decoder, fed raw entries as a
 * replica receives them from the wire. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "storage/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	uint32_t items;
	const uint8_t *end;
	const uint8_t *start;
};

static int item_cb(const struct store_change_item *item, void *arg)
{
	struct seen *s = arg;
	s->items++;
	/* every item lies inside the entry and has a key LMDB accepts */
	if (item->key.len == 0 || item->key.len > 511)
		__builtin_trap();
	if (item->key.data < s->start || item->key.data + item->key.len > s->end)
		__builtin_trap();
	if (item->op == STORE_CHANGE_DEL && item->value.len != 0)
		__builtin_trap();
	if (item->op != STORE_CHANGE_PUT && item->op != STORE_CHANGE_DEL)
		__builtin_trap();
	if (strcmp(item->db, "replication") == 0)
		__builtin_trap(); /* the log itself never travels */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_change_head head;
	struct seen s = {0, data + size, data};
	int rc = store_change_decode(data, size, &head, item_cb, &s);
	if (rc == 0 && (s.items != head.count || head.version != STORE_CHANGE_VERSION))
		__builtin_trap();
	if (rc != 0 && rc != -74 /* -EBADMSG */)
		__builtin_trap();
	if (rc != 0 && s.items != 0)
		__builtin_trap(); /* validated whole before the first callback */
	return 0;
}

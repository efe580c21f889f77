/* Fuzz target: a receipt's JSON content as kensho-card reads it after
 * verifying the receipt's signature (card/receipt_fields.c). */
#include <stddef.h>
#include <stdint.h>

#include "card/receipt_fields.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct receipt_summary summary;
	receipt_fields_parse(data, size, &summary);
	return 0;
}

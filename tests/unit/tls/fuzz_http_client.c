/* Fuzz target: what the shared HTTP client (tls/http_client.c) reads from a
 * server, an HTTP/1.1 response (status line, headers, Content-Length or
 * chunked body), and URL parsing. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tls/http_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_reply reply;
	if (http_response_parse(data, size, &reply) == 0) {
		/* Touch every body byte so a bad pointer shows under ASan. */
		volatile uint8_t sum = 0;
		for (size_t i = 0; i < reply.body_len; i++)
			sum ^= reply.body[i];
		(void)sum;
	}
	char value[32];
	http_reply_header(&reply, "Kensho-Receipt", value, sizeof(value));
	http_reply_free(&reply);

	char url_text[1024];
	size_t n = size < sizeof(url_text) - 1 ? size : sizeof(url_text) - 1;
	memcpy(url_text, data, n);
	url_text[n] = '\0';
	struct http_url url;
	http_url_parse(url_text, &url);
	return 0;
}

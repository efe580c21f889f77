/* Fuzzes the whole connection path: the input is what a client sends on one
 * connection (a socketpair into the real server, plain transport, llhttp,
 * router, responses), with tight limits so the limit paths are reached too.
 * The first byte chooses where the input is split into two writes, so
 * partial-read paths are exercised as well. */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/log.h"
#include "http_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	log_set_level(LOG_ERROR);
	struct server_limits l;
	server_limits_default(&l);
	l.header_bytes = 2048;
	l.uri_bytes = 512;
	l.body_bytes = 4096;
	l.pipeline_depth = 4;
	l.request_timeout_ms = 200;
	l.idle_timeout_ms = 200;
	l.linger_timeout_ms = 50;
	struct harness h;
	if (harness_start(&h, &l))
		return 0;
	if (harness_connect(&h) < 0) {
		harness_stop(&h);
		return 0;
	}
	size_t cut = size ? (data[0] * size) / 256 : 0;
	if (size)
		harness_send(&h, data + 1, cut ? cut - 1 : 0);
	harness_pump(&h, 0, 1);
	if (size > cut)
		harness_send(&h, data + (cut ? cut : 1), size - (cut ? cut : 1));
	shutdown(h.client, SHUT_WR);
	/* Answer whatever the /async/ route held so those paths run too. */
	for (int round = 0; round < 8 && !h.peer_closed; round++) {
		harness_pump(&h, 0, 5);
		for (int i = 0; i < harness_pending_count; i++) {
			if (harness_pending[i]) {
				exchange_respond(harness_pending[i], 200, "text/plain", "a", 1);
				harness_pending[i] = NULL;
			}
		}
	}
	harness_stop(&h);
	for (int i = 0; i < harness_pending_count; i++) {
		if (harness_pending[i])
			exchange_respond(harness_pending[i], 200, NULL, NULL, 0);
	}
	return 0;
}

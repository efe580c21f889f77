#include "bench/workload.h"

#include <stdlib.h>

/* Every 1/share-th request is checked, spread evenly rather than randomly so
 * short runs check a predictable number. */
static bool sample(uint64_t counter, double share)
{
	if (share <= 0)
		return false;
	if (share >= 1)
		return true;
	uint64_t every = (uint64_t)(1.0 / share);
	return counter % (every ? every : 1) == 0;
}

static int fixed_next(struct bench_workload *self, struct bench_request *req)
{
	struct fixed_workload *w = (struct fixed_workload *)self;
	*req = w->request;
	req->check = sample(w->counter++, w->check_share);
	return 0;
}

void fixed_workload_init(struct fixed_workload *w, const char *method, const char *path,
                         uint8_t *body, size_t body_len, const char *content_type,
                         double check_share)
{
	w->super.next = fixed_next;
	w->super.check = NULL;
	w->request = (struct bench_request){
	        .method = method,
	        .path = path,
	        .body = body,
	        .body_len = body_len,
	        .content_type = content_type,
	};
	w->body = body;
	w->check_share = check_share;
	w->counter = 0;
}

void fixed_workload_free(struct fixed_workload *w)
{
	free(w->body);
	w->body = NULL;
}

#include "bench/workload.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

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

static int files_next(struct bench_workload *self, struct bench_request *req)
{
	struct files_workload *w = (struct files_workload *)self;
	if (w->once && w->next_index >= w->count)
		return -1;
	size_t i = w->next_index++ % w->count;
	*req = (struct bench_request){
	        .method = "POST",
	        .path = w->path,
	        .body = w->bodies[i],
	        .body_len = w->lengths[i],
	        .content_type = w->content_type,
	        .check = sample(w->counter++, w->check_share),
	        .tag = (uint32_t)i,
	};
	return 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int files_workload_init(struct files_workload *w, const char *dir, const char *path,
                        const char *content_type, bool once, double check_share)
{
	memset(w, 0, sizeof(*w));
	w->super.next = files_next;
	w->path = path;
	w->content_type = content_type;
	w->once = once;
	w->check_share = check_share;
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	char **names = NULL;
	size_t count = 0;
	struct dirent *e;
	int rc = 0;
	while (rc == 0 && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char **more = realloc(names, (count + 1) * sizeof(*names));
		if (!more || !(more[count] = malloc(strlen(dir) + strlen(e->d_name) + 2))) {
			names = more ? more : names;
			rc = -ENOMEM;
			break;
		}
		names = more;
		sprintf(names[count++], "%s/%s", dir, e->d_name);
	}
	closedir(d);
	if (rc == 0 && count == 0)
		rc = -ENOENT;
	if (rc == 0) {
		qsort(names, count, sizeof(*names), compare_names);
		w->bodies = calloc(count, sizeof(*w->bodies));
		w->lengths = calloc(count, sizeof(*w->lengths));
		if (!w->bodies || !w->lengths)
			rc = -ENOMEM;
	}
	for (size_t i = 0; rc == 0 && i < count; i++) {
		FILE *f = fopen(names[i], "rb");
		struct buf b = {0};
		char chunk[65536];
		size_t n;
		if (!f) {
			rc = -errno;
			break;
		}
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			buf_append(&b, chunk, n);
		fclose(f);
		if (b.failed) {
			buf_free(&b);
			rc = -ENOMEM;
			break;
		}
		w->bodies[i] = buf_steal(&b, &w->lengths[i]);
		w->count++;
	}
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
	if (rc < 0)
		files_workload_free(w);
	return rc;
}

void files_workload_free(struct files_workload *w)
{
	for (size_t i = 0; i < w->count; i++)
		free(w->bodies[i]);
	free(w->bodies);
	free(w->lengths);
	w->bodies = NULL;
	w->lengths = NULL;
	w->count = 0;
}

/* Store-wide counters of OCSP signatures by purpose, shared by every process
 * that opens the environment (kenshod's workers, several kenshods, the
 * `kensho` tools).
 *
 * They live in a small file beside the environment (DIR/store/counters),
 * mapped MAP_SHARED by each store_open and bumped with atomic adds, rather
 * than in an LMDB record: a live answer to a nonce request is signed but
 * never written, and a write transaction (an fsync'd commit) per signature
 * would cost more than the signature. An atomic add on a shared page costs
 * nothing measurable, every process sees the others' adds at once, and the
 * file keeps the counts across restarts (the kernel writes the page back;
 * a crash may lose the last few adds, which a counter may). The counts are
 * host-endian: the file belongs to this machine, like LMDB's lock file. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "storage/store_internal.h"

#define COUNTERS_FILE  "counters"
#define COUNTERS_MAGIC 0x31544e43534b /* "KSCNT1" */
#define COUNTERS_SIZE  4096

/* The file's layout: a magic word, then one slot per purpose; the rest of
 * the page is zero, room for later purposes. */
struct counters_page {
	uint64_t magic;
	_Atomic uint64_t signatures[STORE_SIGNATURE_PURPOSES];
};

_Static_assert(sizeof(struct counters_page) <= COUNTERS_SIZE, "counters fit one page");

void store_counters_open(struct store *s, const char *dir, bool read_only)
{
	char path[4096];
	if (snprintf(path, sizeof(path), "%s/%s", dir, COUNTERS_FILE) >= (int)sizeof(path))
		return;
	int fd = open(path, read_only ? O_RDONLY | O_CLOEXEC : O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (!(read_only && errno == ENOENT))
			log_warn("store: cannot open %s, signatures are not counted: %s", path,
			         strerror(errno));
		return;
	}
	struct stat st;
	bool ok = fstat(fd, &st) == 0;
	if (ok && st.st_size < COUNTERS_SIZE)
		ok = !read_only && ftruncate(fd, COUNTERS_SIZE) == 0;
	void *page = MAP_FAILED;
	if (ok)
		page = mmap(NULL, COUNTERS_SIZE, read_only ? PROT_READ : PROT_READ | PROT_WRITE,
		            MAP_SHARED, fd, 0);
	close(fd);
	if (page == MAP_FAILED) {
		log_warn("store: cannot map %s, signatures are not counted", path);
		return;
	}
	struct counters_page *c = page;
	/* A fresh file is all zeros: stamp it (every opener writes the same
	 * word, so a race between two is harmless). */
	if (c->magic == 0 && !read_only)
		c->magic = COUNTERS_MAGIC;
	if (c->magic != COUNTERS_MAGIC) {
		if (!(read_only && c->magic == 0))
			log_warn("store: %s is not a counters file, signatures are not counted",
			         path);
		munmap(page, COUNTERS_SIZE);
		return;
	}
	s->counters = c;
	s->counters_writable = !read_only;
}

void store_counters_close(struct store *s)
{
	if (s->counters)
		munmap(s->counters, COUNTERS_SIZE);
	s->counters = NULL;
}

void store_signatures_add(struct store *s, enum store_signature_purpose purpose, uint64_t n)
{
	if (!s || !s->counters || !s->counters_writable ||
	    (unsigned)purpose >= STORE_SIGNATURE_PURPOSES)
		return;
	atomic_fetch_add_explicit(&s->counters->signatures[purpose], n, memory_order_relaxed);
}

void store_signatures_read(struct store *s, uint64_t out[STORE_SIGNATURE_PURPOSES])
{
	for (unsigned p = 0; p < STORE_SIGNATURE_PURPOSES; p++)
		out[p] = s && s->counters ? atomic_load_explicit(&s->counters->signatures[p],
		                                                 memory_order_relaxed)
		                          : 0;
}

const char *store_signature_purpose_name(enum store_signature_purpose purpose)
{
	static const char *const names[STORE_SIGNATURE_PURPOSES] = {"live", "refresh", "issuance"};
	return (unsigned)purpose < STORE_SIGNATURE_PURPOSES ? names[purpose] : "unknown";
}

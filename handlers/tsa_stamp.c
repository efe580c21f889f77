/* One RFC 3161 token from kensho's unit: see tsa_stamp.h. */
#include "handlers/tsa_stamp.h"

#include <errno.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ca/ca.h"
#include "pki/random.h"
#include "pki/signer.h"

/* Big-endian bytes of v into out. */
static void put_be(uint8_t *out, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		out[i] = (uint8_t)v;
}

int tsa_stamp(const struct tsa_stamper *s, const struct tsp_request *request, uint32_t counter,
              uint8_t **reply, size_t *reply_len)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	uint8_t serial[TSP_SERIAL_MAX];
	uint64_t micros = (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
	put_be(serial, micros, 8);
	put_be(serial + 8, (uint32_t)getpid(), 4);
	put_be(serial + 12, counter, 4);
	if (pki_random(NULL, serial + 16, 4) != 0)
		return -EIO;
	struct tsp_grant g = {
	        .request = request,
	        .policy = s->policy,
	        .serial = serial,
	        .serial_len = sizeof serial,
	        .gen_time = (int64_t)now.tv_sec,
	        .gen_time_millis = (unsigned)(now.tv_nsec / 1000000),
	        .accuracy_seconds = TSA_ACCURACY_SECONDS,
	        .cert = s->cert,
	        .cert_len = s->cert_len,
	        .sign = s->sign,
	        .sign_arg = s->sign_arg,
	};
	return tsp_response_grant(&g, reply, reply_len);
}

int tsa_unit_load(const char *data_dir, struct pki_signer **out)
{
	*out = NULL;
	struct ca_tsa_files files;
	int err = ca_tsa_files(data_dir, &files);
	if (err)
		return err;
	struct stat st;
	if (stat(files.cert, &st) < 0)
		return -errno;
	if (stat(files.key, &st) < 0)
		return -errno;
	if (st.st_mode & 077)
		return -EPERM;
	return pki_signer_load(files.cert, files.key, out);
}

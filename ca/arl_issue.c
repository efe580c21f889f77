/* The authority revocation lists: see arl_issue.h. */
#include "ca/arl_issue.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <mbedtls/pk.h>

#include "core/encoding.h"
#include "core/log.h"
#include "pki/crl_read.h"
#include "pki/crl_write.h"
#include "pki/x509_write.h"

#define SERIAL_MAX   20 /* RFC 5280 §4.1.2.2 */
#define LINE_MAX_LEN (2 * SERIAL_MAX + 48)

struct arl_item {
	uint8_t serial[SERIAL_MAX];
	size_t serial_len;
	int64_t revoked_at;
	int reason;
};

struct arl_list {
	struct arl_item items[ARL_ENTRIES_MAX];
	size_t count;
};

static bool label_valid(const char *label)
{
	return label && (!strcmp(label, "sign") || !strcmp(label, "auth"));
}

static int data_file(const char *data_dir, const char *fmt, const char *label, char *out,
                     size_t out_len)
{
	char name[64];
	snprintf(name, sizeof name, fmt, label);
	int n = snprintf(out, out_len, "%s/%s", data_dir, name);
	return n < 0 || (size_t)n >= out_len ? -ENAMETOOLONG : 0;
}

int arl_path(const char *data_dir, const char *label, char *out, size_t out_len)
{
	return data_file(data_dir, "crl/%s-arl.crl", label, out, out_len);
}

int arl_url(const char *base_url, const char *label, char *out, size_t out_len)
{
	size_t len = strlen(base_url);
	while (len > 0 && base_url[len - 1] == '/')
		len--;
	int n = snprintf(out, out_len, "%.*s/crl/%s/arl.crl", (int)len, base_url, label);
	return n < 0 || (size_t)n >= out_len ? -ENAMETOOLONG : 0;
}

/* --- the list ---------------------------------------------------------------------- */

static int parse_line(const char *line, struct arl_item *item)
{
	char hex[LINE_MAX_LEN];
	int64_t at;
	int reason;
	if (sscanf(line, "%60s %" SCNd64 " %d", hex, &at, &reason) != 3)
		return -EINVAL;
	if (reason < 0 || reason > 10)
		return -EINVAL;
	int len = hex_decode(hex, strlen(hex), item->serial, SERIAL_MAX);
	if (len <= 0)
		return -EINVAL;
	item->serial_len = (size_t)len;
	item->revoked_at = at;
	item->reason = reason;
	return 0;
}

/* Reads DIR/ca/<label>-arl.list; a missing file is an empty list. */
static int list_read(const char *data_dir, const char *label, struct arl_list *list)
{
	char path[4096], line[LINE_MAX_LEN + 2];
	list->count = 0;
	int err = data_file(data_dir, "ca/%s-arl.list", label, path, sizeof path);
	if (err)
		return err;
	FILE *f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (!err && fgets(line, sizeof line, f)) {
		if (line[0] == '\n' || line[0] == '#')
			continue;
		if (list->count == ARL_ENTRIES_MAX)
			err = -ENOSPC;
		else if ((err = parse_line(line, &list->items[list->count])) == 0)
			list->count++;
	}
	fclose(f);
	if (err)
		log_error("arl: %s is not a list kensho wrote (%s)", path, strerror(-err));
	return err;
}

static int list_write(const char *data_dir, const char *label, const struct arl_list *list)
{
	char path[4096];
	int err = data_file(data_dir, "ca/%s-arl.list", label, path, sizeof path);
	if (err)
		return err;
	size_t cap = list->count * (LINE_MAX_LEN + 1) + 1, used = 0;
	char *text = malloc(cap);
	if (!text)
		return -ENOMEM;
	for (size_t i = 0; i < list->count; i++) {
		const struct arl_item *it = &list->items[i];
		for (size_t j = 0; j < it->serial_len; j++)
			used += (size_t)snprintf(text + used, cap - used, "%02x", it->serial[j]);
		used += (size_t)snprintf(text + used, cap - used, " %" PRId64 " %d\n",
		                         it->revoked_at, it->reason);
	}
	err = x509_file_write(path, text, used, 0644);
	free(text);
	return err;
}

static bool item_is(const struct arl_item *it, const uint8_t *serial, size_t serial_len)
{
	return it->serial_len == serial_len && memcmp(it->serial, serial, serial_len) == 0;
}

int arl_listed(const char *data_dir, const char *label, const uint8_t *serial, size_t serial_len)
{
	if (!label_valid(label))
		return -EINVAL;
	struct arl_list *list = malloc(sizeof *list);
	if (!list)
		return -ENOMEM;
	int err = list_read(data_dir, label, list);
	int found = 0;
	for (size_t i = 0; !err && i < list->count && !found; i++)
		found = item_is(&list->items[i], serial, serial_len);
	free(list);
	return err ? err : found;
}

int arl_revoke(const char *data_dir, const char *label, const uint8_t *serial, size_t serial_len,
               int64_t revoked_at, enum crl_reason reason)
{
	if (!label_valid(label) || serial_len == 0 || serial_len > SERIAL_MAX)
		return -EINVAL;
	int fd;
	int err = crl_publish_lock(data_dir, true, &fd);
	if (err)
		return err;
	struct arl_list *list = malloc(sizeof *list);
	if (!list) {
		crl_publish_unlock(fd);
		return -ENOMEM;
	}
	err = list_read(data_dir, label, list);
	for (size_t i = 0; !err && i < list->count; i++)
		if (item_is(&list->items[i], serial, serial_len))
			err = -EALREADY;
	if (!err && list->count == ARL_ENTRIES_MAX)
		err = -ENOSPC;
	if (!err) {
		struct arl_item *it = &list->items[list->count++];
		memcpy(it->serial, serial, serial_len);
		it->serial_len = serial_len;
		it->revoked_at = revoked_at;
		it->reason = (int)reason;
		err = list_write(data_dir, label, list);
	}
	free(list);
	crl_publish_unlock(fd);
	return err;
}

/* --- the ARL ---------------------------------------------------------------------- */

struct arl_state {
	uint64_t number;
	int64_t this_update;
	uint64_t entries;
};

static int state_read(const char *data_dir, const char *label, struct arl_state *st)
{
	char path[4096];
	int err = data_file(data_dir, "crl/%s-arl.state", label, path, sizeof path);
	if (err)
		return err;
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	int n = fscanf(f, "%" SCNu64 " %" SCNd64 " %" SCNu64, &st->number, &st->this_update,
	               &st->entries);
	fclose(f);
	return n == 3 ? 0 : -EINVAL;
}

static int state_write(const char *data_dir, const char *label, const struct arl_state *st)
{
	char path[4096], text[128];
	int err = data_file(data_dir, "crl/%s-arl.state", label, path, sizeof path);
	if (err)
		return err;
	int n = snprintf(text, sizeof text, "%" PRIu64 " %" PRId64 " %" PRIu64 "\n", st->number,
	                 st->this_update, st->entries);
	return x509_file_write(path, text, (size_t)n, 0644);
}

/* The published ARL's header, read whole (it is small). */
static int published_info(const char *data_dir, const char *label, struct crl_info *info)
{
	char path[4096];
	uint8_t *der;
	size_t len;
	int err = arl_path(data_dir, label, path, sizeof path);
	if (!err)
		err = x509_file_read(path, &der, &len);
	if (err)
		return err;
	err = crl_read_info(der, len, info);
	free(der);
	return err;
}

static int ca_cert_der(const char *data_dir, const char *label, uint8_t **der, size_t *len)
{
	char path[4096];
	uint8_t *pem;
	size_t pem_len;
	int err = data_file(data_dir, "ca/%s-ca.pem", label, path, sizeof path);
	if (!err)
		err = x509_file_read(path, &pem, &pem_len);
	if (err)
		return err;
	err = x509_cert_from_pem((const char *)pem, pem_len, der, len);
	free(pem);
	return err;
}

static int list_source_cb(void *arg, crl_emit_fn emit, void *emit_arg)
{
	const struct arl_list *list = arg;
	int err = 0;
	for (size_t i = 0; !err && i < list->count; i++) {
		const struct arl_item *it = &list->items[i];
		struct crl_entry e = {
		        .serial = it->serial,
		        .serial_len = it->serial_len,
		        .revoked_at = it->revoked_at,
		        .reason = (enum crl_reason)it->reason,
		};
		err = emit(emit_arg, &e);
	}
	return err;
}

int arl_generate(const char *data_dir, const char *label, const char *base_url_opt, int64_t now,
                 int64_t validity, struct crl_generate_result *result)
{
	if (!data_dir || !label_valid(label) || !result)
		return -EINVAL;
	memset(result, 0, sizeof *result);
	char dir[4096], key_path[4096], base_url[1024], url[1200];
	snprintf(dir, sizeof dir, "%s/crl", data_dir);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return -errno;
	int err = arl_path(data_dir, label, result->path, sizeof result->path);
	if (!err)
		err = data_file(data_dir, "ca/%s-ca.key", label, key_path, sizeof key_path);
	if (err)
		return err;
	if (base_url_opt)
		snprintf(base_url, sizeof base_url, "%s", base_url_opt);
	else
		crl_base_url_read(data_dir, base_url, sizeof base_url);
	if ((err = arl_url(base_url, label, url, sizeof url)))
		return err;

	uint8_t *cert = NULL;
	struct arl_list *list = malloc(sizeof *list);
	mbedtls_pk_context key;
	mbedtls_pk_init(&key);
	char *buf = NULL;
	size_t buf_len = 0;
	FILE *out = NULL;
	if (!list) {
		err = -ENOMEM;
		goto done;
	}
	size_t cert_len;
	const uint8_t *name;
	size_t name_len, key_id_len;
	uint8_t key_id[64];
	if ((err = ca_cert_der(data_dir, label, &cert, &cert_len)) ||
	    (err = crl_issuer_from_cert(cert, cert_len, &name, &name_len, key_id, &key_id_len)))
		goto done;
	if ((err = x509_key_load(&key, key_path))) {
		if (err == -EPERM)
			log_error("arl: %s is readable by group or others; chmod 600 it", key_path);
		goto done;
	}
	if ((err = list_read(data_dir, label, list)))
		goto done;

	struct arl_state st = {0};
	struct crl_info info;
	uint64_t last = 0;
	if (state_read(data_dir, label, &st) == 0)
		last = st.number;
	/* A lost state file must not make the number go back. */
	if (published_info(data_dir, label, &info) == 0 && info.number > last)
		last = info.number;
	if (!now)
		now = (int64_t)time(NULL);
	if (!validity)
		validity = CRL_FULL_VALIDITY_DEFAULT;
	struct crl_spec spec = {
	        .issuer_name = name,
	        .issuer_name_len = name_len,
	        .authority_key_id = key_id,
	        .authority_key_id_len = key_id_len,
	        .number = last + 1,
	        .this_update = now,
	        .next_update = now + validity,
	        .distribution_point = url,
	        .distribution_point_dn = name,
	        .distribution_point_dn_len = name_len,
	        .source = list_source_cb,
	        .source_arg = list,
	};
	struct crl_result written;
	out = open_memstream(&buf, &buf_len);
	if (!out) {
		err = -ENOMEM;
		goto done;
	}
	err = crl_write(&spec, &key, out, &written);
	if (fclose(out) != 0 && !err)
		err = -ENOMEM;
	out = NULL;
	if (!err)
		err = x509_file_write(result->path, buf, buf_len, 0644);
	if (err) {
		log_error("arl: publishing %s failed: %s", result->path, strerror(-err));
		goto done;
	}
	st = (struct arl_state){spec.number, now, list->count};
	if ((err = state_write(data_dir, label, &st)))
		log_warn("arl: could not record %s-arl.state (%s): the next check publishes again",
		         label, strerror(-err));
	err = 0;
	result->number = spec.number;
	result->base_number = spec.number;
	result->entries = written.entries;
	result->bytes = written.bytes;
	log_info("arl: published %s (number %" PRIu64 ", %" PRIu64 " entries)", result->path,
	         result->number, result->entries);
done:
	free(buf);
	free(cert);
	free(list);
	mbedtls_pk_free(&key);
	return err;
}

int arl_due(const char *data_dir, const char *label, int64_t now_ms,
            const struct crl_policy *policy, bool *due)
{
	*due = false;
	if (!label_valid(label))
		return -EINVAL;
	char path[4096];
	struct stat sb;
	int err = data_file(data_dir, "ca/%s-ca.pem", label, path, sizeof path);
	if (err)
		return err;
	if (stat(path, &sb) != 0)
		return -ENOENT;
	struct arl_list *list = malloc(sizeof *list);
	if (!list)
		return -ENOMEM;
	err = list_read(data_dir, label, list);
	size_t count = list->count;
	free(list);
	if (err)
		return err;
	struct arl_state st;
	struct crl_info info;
	if (state_read(data_dir, label, &st) != 0 || published_info(data_dir, label, &info) != 0 ||
	    info.this_update != st.this_update || st.entries != count) {
		*due = true;
		return 0;
	}
	int64_t margin = crl_refresh_margin_ms(policy, info.this_update, info.next_update);
	*due = (info.next_update && now_ms >= info.next_update * 1000 - margin) ||
	       now_ms / 1000 - info.this_update >= policy->full_interval;
	return 0;
}

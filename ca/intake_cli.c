/* `kensho intake export N --out DIR`: writes receipt N's application and the
 * evidence of its moment of receipt as a bundle that an auditor checks with
 * openssl and a few lines of python alone, without kensho (docs/intake.md,
 * "Checking an exported application").
 *
 * Every file is listed in manifest.json with its SHA-256; the manifest's
 * "log" member names the record's leaf in the Merkle log, its inclusion
 * proof and the signed tree head it leads to (write_log_evidence below). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ca/ca.h"
#include "ca/cli.h"
#include "ca/log.h"
#include "core/buf.h"
#include "core/encoding.h"
#include "core/json.h"
#include "pki/cms.h"
#include "pki/hash.h"
#include "pki/verify.h"
#include "storage/store.h"

#define COMMAND   "intake export"
#define MAX_FILES 24

struct bundle_file {
	char name[32];
	const char *what;
	uint8_t sha256[32];
	size_t size;
};

struct bundle {
	char dir[4096];
	struct bundle_file files[MAX_FILES];
	int count;
};

/* Writes one file of the bundle and notes it for the manifest. */
static int bundle_write(struct bundle *b, const char *name, const char *what, const void *data,
                        size_t len)
{
	char path[4200];
	if (b->count == MAX_FILES ||
	    snprintf(path, sizeof path, "%s/%s", b->dir, name) >= (int)sizeof path)
		return -ENAMETOOLONG;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		cli_fail(COMMAND, "cannot write %s: %s", path, strerror(errno));
		return -errno;
	}
	const uint8_t *p = data;
	size_t left = len;
	while (left > 0) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = -errno;
			close(fd);
			cli_fail(COMMAND, "cannot write %s: %s", path, strerror(-err));
			return err;
		}
		p += n;
		left -= (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		cli_fail(COMMAND, "cannot write %s: %s", path, strerror(errno));
		return -EIO;
	}
	struct bundle_file *f = &b->files[b->count++];
	snprintf(f->name, sizeof f->name, "%s", name);
	f->what = what;
	f->size = len;
	pki_sha256(data, len, f->sha256);
	return 0;
}

/* Appends one certificate as PEM (RFC 7468 §2: 64-column base64). */
static void pem_append(struct buf *out, const uint8_t *der, size_t len)
{
	char *b64 = malloc(4 * ((len + 2) / 3) + 1);
	if (!b64) {
		out->failed = -ENOMEM;
		return;
	}
	size_t n = base64_encode(der, len, b64);
	buf_append_str(out, "-----BEGIN CERTIFICATE-----\n");
	for (size_t at = 0; at < n; at += 64) {
		buf_append(out, b64 + at, n - at < 64 ? n - at : 64);
		buf_append_str(out, "\n");
	}
	buf_append_str(out, "-----END CERTIFICATE-----\n");
	free(b64);
}

static int write_pem(struct bundle *b, const char *name, const char *what,
                     const struct pki_bytes *certs, int count)
{
	struct buf pem = {0};
	for (int i = 0; i < count; i++)
		pem_append(&pem, certs[i].p, certs[i].len);
	int rc = pem.failed ? -ENOMEM : bundle_write(b, name, what, pem.data, pem.len);
	buf_free(&pem);
	return rc;
}

/* Length of the DER TLV at the start of data (the SignedData before any
 * detached content), or 0 when it is not one. */
static size_t der_tlv_length(const uint8_t *data, size_t len)
{
	if (len < 2)
		return 0;
	size_t head = 2, n = data[1];
	if (n & 0x80) {
		size_t octets = n & 0x7f;
		if (octets == 0 || octets > 4 || len < 2 + octets)
			return 0;
		n = 0;
		for (size_t i = 0; i < octets; i++)
			n = n << 8 | data[2 + i];
		head += octets;
	}
	return n <= len - head ? head + n : 0;
}

/* Splits a DER certificate sequence (the record's chain) into its
 * certificates. Returns how many, or -EINVAL. */
static int split_chain(const struct store_blob *chain, struct pki_bytes *out, int cap)
{
	int count = 0;
	for (size_t at = 0; at < chain->len;) {
		size_t n = der_tlv_length(chain->data + at, chain->len - at);
		if (n == 0 || count == cap)
			return -EINVAL;
		out[count++] = (struct pki_bytes){chain->data + at, n};
		at += n;
	}
	return count;
}

static int copy_file(struct bundle *b, const char *name, const char *what, const char *path)
{
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		cli_fail(COMMAND, "cannot read %s: %s", path, strerror(errno));
		return -errno;
	}
	struct buf data = {0};
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
		buf_append(&data, chunk, n);
	int rc = ferror(fp) ? -EIO : data.failed ? -ENOMEM : 0;
	fclose(fp);
	if (rc == 0)
		rc = bundle_write(b, name, what, data.data, data.len);
	buf_free(&data);
	return rc;
}

/* The log's files in the bundle (made by ca_log_export, ca/log.h). */
static const struct {
	const char *name, *what;
} LOG_FILES[] = {
        {"leaf.bin", "the log leaf: type octet + this record's stored value"},
        {"proof.json", "the inclusion proof of that leaf in the tree head of sth.json"},
        {"sth.json", "the signed tree head the proof leads to"},
        {"sth.bin", "the tree head's 50 signed octets"},
        {"sth.sig", "the receipt key's signature over sth.bin"},
};

/* Reads a whole small file into *out (malloc'd). */
static int slurp(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	struct buf data = {0};
	uint8_t chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&data, chunk, n);
	int rc = ferror(f) ? -EIO : data.failed ? -ENOMEM : 0;
	fclose(f);
	if (rc) {
		buf_free(&data);
		return rc;
	}
	*out = data.data;
	*len = data.len;
	return 0;
}

/* The record's place in the Merkle log (docs/log.md): its leaf, the
 * inclusion proof and the latest signed tree head, as files listed in the
 * manifest and named in its "log" member. A record no signed tree head
 * covers yet (kenshod signs one every log.sth_interval) is exported without
 * them, "log" null, and a warning saying when to export again. */
static int write_log_evidence(struct bundle *b, struct store *store, struct store_txn *txn,
                              uint64_t receipt, struct json *manifest)
{
	uint64_t index;
	int rc = store_log_leaf_of(txn, STORE_LOG_INTAKE, receipt, &index);
	if (rc == -ENOENT) {
		fprintf(stderr,
		        "%s: warning: receipt %llu has no leaf in the log (a store opened "
		        "read-only before its upgrade)\n",
		        COMMAND, (unsigned long long)receipt);
		json_null(manifest, "log");
		return 0;
	}
	if (rc) {
		cli_fail(COMMAND, "reading the log: %s", strerror(-rc));
		return rc;
	}
	char err[CA_ERR_LEN] = "";
	rc = ca_log_export(store, index, b->dir, err);
	if (rc == -ENOENT) {
		fprintf(stderr,
		        "%s: warning: %s; the bundle has no log proof (export again once "
		        "kenshod has signed the next tree head)\n",
		        COMMAND, err);
		json_null(manifest, "log");
		return 0;
	}
	if (rc) {
		cli_fail(COMMAND, "%s", err);
		return rc;
	}
	/* ca_log_export wrote the files; list them (same bytes) in the manifest */
	for (size_t i = 0; i < sizeof LOG_FILES / sizeof LOG_FILES[0] && rc == 0; i++) {
		char path[4200];
		uint8_t *data = NULL;
		size_t len = 0;
		snprintf(path, sizeof path, "%s/%s", b->dir, LOG_FILES[i].name);
		rc = slurp(path, &data, &len);
		if (rc)
			cli_fail(COMMAND, "cannot read %s: %s", path, strerror(-rc));
		else
			rc = bundle_write(b, LOG_FILES[i].name, LOG_FILES[i].what, data, len);
		free(data);
	}
	if (rc == 0) {
		json_object_begin(manifest, "log");
		json_uint(manifest, "leaf_index", index);
		json_string(manifest, "proof", "proof.json");
		json_string(manifest, "tree_head", "sth.json");
		json_object_end(manifest);
	}
	return rc;
}

/* Ends the manifest begun in j (on m) with the list of files, and writes it. */
static int write_manifest(struct bundle *b, struct json *manifest, struct buf *m)
{
	struct json j = *manifest;
	json_array_begin(&j, "files");
	for (int i = 0; i < b->count; i++) {
		json_object_begin(&j, NULL);
		json_string(&j, "name", b->files[i].name);
		json_uint(&j, "size", b->files[i].size);
		json_hex(&j, "sha256", b->files[i].sha256, 32);
		json_string(&j, "what", b->files[i].what);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_object_end(&j);
	buf_append_str(m, "\n");
	return m->failed ? -ENOMEM : bundle_write(b, "manifest.json", "this list", m->data, m->len);
}

static const char README[] =
        "An application received by kensho, with the evidence of the moment it was\n"
        "received. manifest.json lists every file with its SHA-256. docs/intake.md\n"
        "(\"Checking an exported application\") shows each check in full; in short,\n"
        "with AT the timestamp token's genTime in unix seconds:\n"
        "\n"
        "  openssl cms -verify -binary -inform DER -in signature.p7s -CAfile chain.pem \\\n"
        "      -attime AT -out verified-content.bin   (detached: -content content.bin)\n"
        "  openssl ocsp -respin ocsp.der -issuer ca.pem -cert signer.pem -CAfile ca.pem \\\n"
        "      -attime AT\n"
        "  openssl ts -verify -in timestamp.tsr -data signature-value.bin \\\n"
        "      -CAfile tsa-ca.pem -attime AT\n"
        "  openssl cms -verify -binary -inform DER -in receipt.p7s -CAfile receipt.pem \\\n"
        "      -attime AT -out receipt.json\n"
        "  python3 check_log.py . receipt.pem application.bin   (docs/log.md's snippet:\n"
        "      leaf.bin is in the tree head sth.json that the receipt key signed)\n";

/* The whole bundle of one record, read in txn. */
static int export_record(struct bundle *b, struct store_txn *txn, const struct store_intake *rec,
                         const char *data_dir)
{
	const struct store_intake_evidence *ev = &rec->evidence;
	size_t cms_len = der_tlv_length(rec->original.data, rec->original.len);
	struct cms_signed_data sd;
	if (cms_len == 0 || cms_decode(rec->original.data, cms_len, &sd) != 0) {
		cli_fail(COMMAND, "receipt %llu: the stored application is not DER CMS",
		         (unsigned long long)rec->receipt);
		return -EIO;
	}
	const uint8_t *content = sd.detached ? rec->original.data + cms_len : sd.content.p;
	size_t content_len = sd.detached ? rec->original.len - cms_len : sd.content.len;
	int rc = bundle_write(b, "application.bin",
	                      "the bytes as submitted (the receipt's sha256 is theirs)",
	                      rec->original.data, rec->original.len);
	if (rc == 0)
		rc = bundle_write(b, "signature.p7s", "the CMS SignedData as submitted",
		                  rec->original.data, cms_len);
	if (rc == 0)
		rc = bundle_write(b, "content.bin", "the signed content", content, content_len);
	if (rc == 0)
		rc = bundle_write(b, "signature-value.bin",
		                  "the SignerInfo's signature octets (what the timestamp covers)",
		                  sd.signature.p, sd.signature.len);
	if (rc == 0)
		rc = bundle_write(b, "result.json", "kensho's verification result at receipt",
		                  rec->result.data, rec->result.len);
	if (rc == 0)
		rc = bundle_write(b, "receipt.p7s", "the signed receipt returned to the client",
		                  rec->receipt_der.data, rec->receipt_der.len);
	char path[4200];
	if (rc == 0) {
		snprintf(path, sizeof path, "%s/ca/receipt.pem", data_dir);
		rc = copy_file(b, "receipt.pem", "the receipt key's certificate", path);
	}
	if (rc < 0)
		return rc;
	if (rec->version < 2) {
		/* Received before kensho kept evidence: the bundle says so. */
		return 1;
	}
	struct pki_bytes certs[4];
	int n = split_chain(&ev->chain, certs, 4);
	if (n < 2) {
		cli_fail(COMMAND, "receipt %llu: the stored chain is unreadable",
		         (unsigned long long)rec->receipt);
		return -EIO;
	}
	rc = write_pem(b, "chain.pem", "the signer's certificate, then its CA's", certs, n);
	if (rc == 0)
		rc = write_pem(b, "signer.pem", "the signer's certificate", certs, 1);
	if (rc == 0)
		rc = write_pem(b, "ca.pem", "the CA that issued it", certs + n - 1, 1);
	if (rc == 0 && ev->ocsp.len)
		rc = bundle_write(b, "ocsp.der", "the signed OCSP answer used at receipt",
		                  ev->ocsp.data, ev->ocsp.len);
	if (rc == 0 && ev->timestamp.len) {
		rc = bundle_write(b, "timestamp.tsr",
		                  "RFC 3161 TimeStampResp over SHA-256 of the signature value",
		                  ev->timestamp.data, ev->timestamp.len);
		struct ca_tsa_files tsa;
		if (rc == 0)
			rc = ca_tsa_files(data_dir, &tsa);
		if (rc == 0)
			rc = copy_file(b, "tsa.pem", "kensho's time-stamping unit", tsa.cert);
		if (rc == 0)
			rc = copy_file(b, "tsa-ca.pem", "the CA that issued the time-stamping unit",
			               tsa.ca);
	}
	(void)txn;
	return rc;
}

static int parse_number(const char *text, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(text, &end, 10);
	if (errno || *end || end == text || text[0] == '-' || n == 0)
		return -EINVAL;
	*out = n;
	return 0;
}

static int intake_export(const char *data_dir, uint64_t number, const char *out_dir)
{
	struct bundle *b = calloc(1, sizeof(*b));
	if (!b)
		return CLI_EXIT_FAILED;
	snprintf(b->dir, sizeof b->dir, "%s", out_dir);
	struct store *store;
	int rc = ca_store_open(data_dir, &store);
	if (rc) {
		cli_fail(COMMAND, "cannot open the store in %s: %s", data_dir, strerror(-rc));
		free(b);
		return CLI_EXIT_FAILED;
	}
	struct store_txn *txn;
	struct store_intake rec;
	rc = store_txn_begin(store, false, &txn);
	if (rc == 0) {
		rc = store_intake_get(txn, number, &rec);
		if (rc == -ENOENT)
			cli_fail(COMMAND, "no receipt %llu in %s", (unsigned long long)number,
			         data_dir);
		else if (rc < 0)
			cli_fail(COMMAND, "reading receipt %llu: %s", (unsigned long long)number,
			         strerror(-rc));
		if (rc == 0 && mkdir(out_dir, 0755) < 0 && errno != EEXIST) {
			cli_fail(COMMAND, "cannot create %s: %s", out_dir, strerror(errno));
			rc = -errno;
		}
		bool without_evidence = false;
		if (rc == 0) {
			rc = export_record(b, txn, &rec, data_dir);
			without_evidence = rc == 1;
			rc = rc < 0 ? rc : 0;
		}
		if (rc == 0)
			rc = bundle_write(b, "README.txt", "how to check this bundle", README,
			                  sizeof README - 1);
		struct buf m = {0};
		struct json j;
		json_init(&j, &m);
		json_object_begin(&j, NULL);
		json_uint(&j, "receipt", number);
		json_time(&j, "received_at", rec.received_at);
		json_int(&j, "received_at_unix", rec.received_at);
		json_hex(&j, "sha256", rec.digest, sizeof rec.digest);
		json_bool(&j, "evidence", !without_evidence);
		if (!without_evidence)
			json_uint(&j, "crl_number", rec.evidence.crl_number);
		if (rc == 0)
			rc = write_log_evidence(b, store, txn, number, &j);
		if (rc == 0)
			rc = write_manifest(b, &j, &m);
		buf_free(&m);
		store_txn_abort(txn);
		if (rc == 0)
			printf("receipt %llu: %d files in %s%s\n", (unsigned long long)number,
			       b->count, out_dir,
			       without_evidence ? " (received before kensho kept evidence: none)"
			                        : "");
	}
	store_close(store);
	free(b);
	return rc == 0 ? 0 : CLI_EXIT_FAILED;
}

int cli_intake(const char *data_dir, int argc, char **argv)
{
	struct cli_args args;
	if (cli_parse(argc, argv, "out:", &args))
		return CLI_EXIT_USAGE;
	uint64_t number;
	const char *out = cli_get(&args, "out");
	if (args.positional_count != 2 || strcmp(args.positional[0], "export") != 0 || !out) {
		cli_fail("intake", "usage: kensho intake export N --out DIR");
		return CLI_EXIT_USAGE;
	}
	if (parse_number(args.positional[1], &number) < 0) {
		cli_fail(COMMAND, "a receipt number is 1, 2, 3, ..., not \"%s\"",
		         args.positional[1]);
		return CLI_EXIT_USAGE;
	}
	return intake_export(data_dir, number, out);
}

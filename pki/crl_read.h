/* Reads the header of a DER CRL (RFC 5280 §5.1) without walking its entries:
 * what a server needs to serve it (thisUpdate for Last-Modified, nextUpdate
 * for caching) and a generator needs to decide when the next one is due. The
 * signature is not checked: the files read are kensho's own. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** The fields of a CRL's header. */
struct crl_info {
	int64_t this_update;  /**< unix seconds */
	int64_t next_update;  /**< unix seconds; 0 when absent */
	uint64_t number;      /**< cRLNumber; 0 when absent */
	bool delta;           /**< has a deltaCRLIndicator */
	uint64_t base_number; /**< the delta's BaseCRLNumber */
	uint64_t entries_len; /**< length of revokedCertificates' content (0: none) */
};

/** Parses the CertificateList in der[0..len). Returns 0 or -EINVAL for
 * anything that is not a well-formed CRL header (the entries are skipped by
 * length, not parsed). */
int crl_read_info(const uint8_t *der, size_t len, struct crl_info *out);
/** Reads only thisUpdate and nextUpdate from the first len bytes of a CRL
 * (a prefix of the file is enough: a few kilobytes, however many entries
 * follow); number, delta and entries_len are left 0. Returns 0 or -EINVAL. */
int crl_read_head(const uint8_t *der, size_t len, struct crl_info *out);

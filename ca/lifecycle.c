/* A person's certificates over their life: issuing a pair, revoking one, and
 * the events of the real service (move, rename, death, loss, request,
 * renewal) with the rules docs/jpki.md gives. Each operation is one store write
 * transaction with its audit record; pre-signing follows the commit. */
#include "ca/ca_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/platform_util.h>

#include "ca/jpki_address.h"
#include "pki/x509_write.h"

#define SERIAL_RETRIES 3
#define NAME_MAX_BYTES 255

/* --- issuing ----------------------------------------------------------------------- */

static void issued_cert_free(struct ca_issued_cert *c)
{
	free(c->der);
	if (c->key_pem) {
		mbedtls_platform_zeroize(c->key_pem, strlen(c->key_pem));
		free(c->key_pem);
	}
	memset(c, 0, sizeof(*c));
}

void ca_issued_free(struct ca_issued *issued)
{
	issued_cert_free(&issued->sign);
	issued_cert_free(&issued->auth);
}

int ca_issued_cert_write(const char *out_dir, const char *kind, const struct ca_issued_cert *c,
                         char err[CA_ERR_LEN])
{
	if (!c->issued)
		return 0;
	char path[PATH_MAX];
	char *pem;
	int e = x509_cert_pem(c->der, c->der_len, &pem);
	if (e) {
		ca_error(err, "encoding the %s certificate failed: %s", kind, strerror(-e));
		return e;
	}
	snprintf(path, sizeof(path), "%s/%s.pem", out_dir, kind);
	e = x509_file_write(path, pem, strlen(pem), 0644);
	free(pem);
	if (!e && c->key_pem) {
		snprintf(path, sizeof(path), "%s/%s.key", out_dir, kind);
		e = x509_file_write(path, c->key_pem, strlen(c->key_pem), 0600);
	}
	if (e)
		ca_error(err, "writing %s failed: %s", path, strerror(-e));
	return e;
}

/* A person, validated, in the forms the certificate and the store need. */
struct person {
	struct store_person record;
	struct jpki_date birth;
	struct jpki_items items;
};

static int person_check(const struct ca_person *in, struct person *p, char *err)
{
	memset(p, 0, sizeof(*p));
	if (!in->name || !in->name[0] || strlen(in->name) > NAME_MAX_BYTES ||
	    jpki_utf8_chars(in->name) < 0) {
		ca_error(err, "the name must be UTF-8 text of 1 to %d bytes", NAME_MAX_BYTES);
		return -EINVAL;
	}
	/* The address as typed, in the resident register's form (full-width
	 * digits and dashes), checked against the municipalities table. */
	char address[JPKI_ADDRESS_BUF], why[CA_ERR_LEN - 32];
	if (jpki_address_normalize(in->address, address, why, sizeof(why))) {
		ca_error(err, "bad address: %s", why);
		return -EINVAL;
	}
	if (in->sex < 1 || in->sex > 3) {
		ca_error(err, "sex must be 1 (male), 2 (female) or 3 (unknown)");
		return -EINVAL;
	}
	struct jpki_date today;
	jpki_date_in_japan(time(NULL), &today);
	if (!in->birth || jpki_date_parse(in->birth, &p->birth) ||
	    jpki_age_on(&p->birth, &today) < 0) {
		ca_error(err, "the birth date must be YYYY-MM-DD, from 1868 and not in the future");
		return -EINVAL;
	}
	snprintf(p->record.name, sizeof(p->record.name), "%s", in->name);
	snprintf(p->record.address, sizeof(p->record.address), "%s", address);
	jpki_birth_code(&p->birth, p->record.birth);
	p->record.sex = in->sex;
	p->items = (struct jpki_items){p->record.name, p->record.birth, p->record.sex,
	                               p->record.address};
	return 0;
}

int ca_person_check(const struct ca_person *person, char err[CA_ERR_LEN])
{
	struct person p;
	return person_check(person, &p, err);
}

/* The stored person back in checked form (for renewals). */
static int person_from_record(const struct store_person *rec, struct person *p)
{
	memset(p, 0, sizeof(*p));
	p->record = *rec;
	char iso[11];
	if (strlen(rec->birth) != 9)
		return -EINVAL;
	snprintf(iso, sizeof(iso), "%.4s-%.2s-%.2s", rec->birth + 1, rec->birth + 5,
	         rec->birth + 7);
	if (jpki_date_parse(iso, &p->birth))
		return -EINVAL;
	p->items = (struct jpki_items){p->record.name, p->record.birth, p->record.sex,
	                               p->record.address};
	return 0;
}

/* Signs one certificate of a new pair, generating its key if none given. */
static int prepare_cert(struct ca *ca, enum cert_kind kind, const struct person *p,
                        const uint8_t *pubkey, size_t pubkey_len, int64_t now,
                        struct ca_issued_cert *out, char *err)
{
	mbedtls_pk_context key;
	mbedtls_pk_init(&key);
	int e;
	if (pubkey) {
		e = x509_pubkey_parse(&key, pubkey, pubkey_len);
		if (e)
			ca_error(err, "the %s public key is not an RSA public key in PEM or DER",
			         ca_kind_name(kind));
	} else {
		e = x509_key_generate(&key, CA_RSA_BITS, ca_random, ca);
		if (!e)
			e = x509_key_pem(&key, &out->key_pem);
		if (e)
			ca_error(err, "generating the %s key failed: %s", ca_kind_name(kind),
			         strerror(-e));
	}
	if (!e)
		e = ca_random_serial(ca, &out->serial);
	/* The CRL partition: the municipality of the address at issuance. */
	const struct jpki_municipality *m = jpki_address_municipality(p->record.address, NULL);
	out->partition = m ? (uint32_t)strtoul(m->code, NULL, 10) : 0;
	out->not_before = now;
	out->not_after = jpki_validity_end(&p->birth, now);
	if (!e) {
		e = ca_sign_ee(ca, kind, &out->serial, now, out->not_after, &key,
		               kind == CERT_KIND_SIGN ? &p->items : NULL, out->partition, &out->der,
		               &out->der_len);
		if (e)
			ca_error(err, "signing the %s certificate failed: %s", ca_kind_name(kind),
			         strerror(-e));
	}
	mbedtls_pk_free(&key);
	out->issued = e == 0;
	return e;
}

static bool sign_allowed(const struct person *p, int64_t now)
{
	struct jpki_date today;
	jpki_date_in_japan(now, &today);
	return jpki_age_on(&p->birth, &today) >= JPKI_SIGN_MIN_AGE;
}

static int prepare_pair(struct ca *ca, const struct person *p, const struct ca_issue_request *req,
                        int64_t now, struct ca_issued *out, char *err)
{
	memset(out, 0, sizeof(*out));
	int e = 0;
	if (sign_allowed(p, now))
		e = prepare_cert(ca, CERT_KIND_SIGN, p, req ? req->sign_pubkey : NULL,
		                 req ? req->sign_pubkey_len : 0, now, &out->sign, err);
	else if (req && req->sign_pubkey) {
		ca_error(err, "no signing certificate for people under %d (docs/jpki.md)",
		         JPKI_SIGN_MIN_AGE);
		e = -EPERM;
	}
	if (!e)
		e = prepare_cert(ca, CERT_KIND_AUTH, p, req ? req->auth_pubkey : NULL,
		                 req ? req->auth_pubkey_len : 0, now, &out->auth, err);
	if (e)
		ca_issued_free(out);
	return e;
}

/* Inserts a prepared pair for person_id, linking each certificate to its
 * pair and to the certificate it replaces (if any). */
static int insert_pair(struct ca *ca, struct store_txn *txn, struct ca_issued *pair,
                       uint64_t person_id, const struct store_serial *replaces)
{
	struct ca_issued_cert *certs[3] = {NULL, &pair->sign, &pair->auth};
	for (int k = CERT_KIND_SIGN; k <= CERT_KIND_AUTH; k++) {
		struct ca_issued_cert *c = certs[k];
		if (!c->issued)
			continue;
		struct ca_issued_cert *other =
		        certs[k == CERT_KIND_SIGN ? CERT_KIND_AUTH : CERT_KIND_SIGN];
		struct store_cert rec = {
		        .issuer_id = ca->issuer_id[k],
		        .serial = c->serial,
		        .kind = (enum cert_kind)k,
		        .status = CERT_STATUS_GOOD,
		        .person_id = person_id,
		};
		rec.not_before = c->not_before;
		rec.not_after = c->not_after;
		rec.partition = c->partition;
		int e;
		if (other->issued)
			rec.pair = other->serial;
		if (replaces && replaces[k].len)
			rec.replaces = replaces[k];
		e = store_cert_insert(txn, &rec, (struct store_blob){c->der, c->der_len});
		if (e)
			return e;
	}
	return 0;
}

struct issue_state {
	struct ca *ca;
	struct person *person;
	struct ca_issued *out;
	const char *actor;
	int64_t now;
};

static int issue_cb(struct store_txn *txn, void *arg)
{
	struct issue_state *st = arg;
	struct store_person rec = st->person->record;
	rec.id = 0;
	int e = store_person_put(txn, &rec);
	if (!e)
		e = insert_pair(st->ca, txn, st->out, rec.id, NULL);
	if (!e) {
		st->out->person_id = rec.id;
		char subject[128];
		ca_cert_label(CERT_KIND_AUTH, &st->out->auth.serial, subject, sizeof(subject));
		if (st->out->sign.issued) {
			char sign[64];
			ca_cert_label(CERT_KIND_SIGN, &st->out->sign.serial, sign, sizeof(sign));
			size_t n = strlen(subject);
			snprintf(subject + n, sizeof(subject) - n, " %s", sign);
		}
		e = ca_audit(txn, st->actor, "issue", subject);
	}
	return e;
}

int ca_issue(struct ca *ca, const struct ca_issue_request *req, struct ca_issued *out,
             char err[CA_ERR_LEN])
{
	struct person p;
	int e = person_check(&req->person, &p, err);
	if (e)
		return e;
	int64_t now = time(NULL);
	for (int attempt = 0; attempt < SERIAL_RETRIES; attempt++) {
		e = prepare_pair(ca, &p, req, now, out, err);
		if (e)
			return e;
		struct issue_state st = {ca, &p, out, req->actor, now};
		e = store_write(ca->store, issue_cb, &st);
		if (e != -EEXIST)
			break;
		ca_issued_free(out); /* a serial collided: draw new ones */
	}
	if (e) {
		ca_error(err, "storing the certificates failed: %s", strerror(-e));
		ca_issued_free(out);
		return e;
	}
	if (out->sign.issued)
		ca_presign_after_commit(ca, CERT_KIND_SIGN, &out->sign.serial);
	ca_presign_after_commit(ca, CERT_KIND_AUTH, &out->auth.serial);
	return 0;
}

/* --- revoking -------------------------------------------------------------------------- */

struct revoke_state {
	struct ca *ca;
	enum cert_kind kind;
	const struct store_serial *serial;
	enum crl_reason reason;
	const char *actor;
};

static int revoke_cb(struct store_txn *txn, void *arg)
{
	struct revoke_state *st = arg;
	uint32_t issuer = st->ca->issuer_id[st->kind];
	struct store_cert cert;
	int e = store_cert_get(txn, issuer, st->serial, &cert);
	if (!e)
		e = store_cert_revoke(txn, issuer, st->serial, time(NULL), st->reason);
	if (!e) {
		char subject[128];
		ca_cert_label(st->kind, st->serial, subject, sizeof(subject));
		size_t n = strlen(subject);
		snprintf(subject + n, sizeof(subject) - n, " %s", ca_reason_name(st->reason));
		e = ca_audit(txn, st->actor, "revoke", subject);
	}
	return e;
}

static void revoke_error(char *err, int e, enum cert_kind kind, const struct store_serial *serial)
{
	char label[64];
	ca_cert_label(kind, serial, label, sizeof(label));
	if (e == -ENOENT)
		ca_error(err, "no certificate %s was issued", label);
	else if (e == -EALREADY)
		ca_error(err, "%s is already revoked", label);
	else
		ca_error(err, "revoking %s failed: %s", label, strerror(-e));
}

int ca_revoke(struct ca *ca, enum cert_kind kind, const struct store_serial *serial,
              enum crl_reason reason, const char *actor, char err[CA_ERR_LEN])
{
	if (reason == CRL_REASON_REMOVE_FROM_CRL) {
		ca_error(err, "removeFromCRL is only for delta CRLs, not a revocation reason");
		return -EINVAL;
	}
	struct revoke_state st = {ca, kind, serial, reason, actor};
	int e = store_write(ca->store, revoke_cb, &st);
	if (e) {
		revoke_error(err, e, kind, serial);
		return e;
	}
	ca_presign_after_commit(ca, kind, serial);
	return 0;
}

/* --- events ------------------------------------------------------------------------------ */

/* Which certificates an event revokes, and why (docs/jpki.md, "revoked when").
 *
 * Death: the real service's code is not public. kensho uses
 * cessationOfOperation: the certificate is no longer needed, and a code of its
 * own would tell every CRL reader that the holder died, which is personal
 * data (docs/architecture.md rule 4). The audit log keeps the true event. */
static void event_rule(enum ca_event_type event, bool *sign, bool *auth, enum crl_reason *reason)
{
	*sign = true;
	*auth = true;
	switch (event) {
	case CA_EVENT_MOVE:
	case CA_EVENT_RENAME:
		*auth = false; /* the user-auth certificate carries none of the four items */
		*reason = CRL_REASON_AFFILIATION_CHANGED;
		break;
	case CA_EVENT_LOSS: *reason = CRL_REASON_KEY_COMPROMISE; break;
	case CA_EVENT_DEATH:
	case CA_EVENT_REQUEST: *reason = CRL_REASON_CESSATION_OF_OPERATION; break;
	case CA_EVENT_RENEW: *reason = CRL_REASON_SUPERSEDED; break;
	}
}

struct event_state {
	struct ca *ca;
	enum cert_kind kind;
	const struct store_serial *serial;
	enum ca_event_type event;
	const char *actor;
	struct ca_issued *renewed;    /* the new pair (renew) or signing certificate (change) */
	const struct person *changed; /* the person after a move or rename, or NULL */
	int64_t now;
	bool revoked[3];            /* by kind: what this event revoked */
	struct store_serial old[3]; /* the person's pair, by kind */
};

/* Finds the pair a certificate belongs to. */
static int pair_of(struct ca *ca, struct store_txn *txn, enum cert_kind kind,
                   const struct store_serial *serial, struct store_cert certs[3], bool have[3])
{
	enum cert_kind other = kind == CERT_KIND_SIGN ? CERT_KIND_AUTH : CERT_KIND_SIGN;
	have[kind] = have[other] = false;
	int e = store_cert_get(txn, ca->issuer_id[kind], serial, &certs[kind]);
	if (e)
		return e;
	have[kind] = true;
	if (certs[kind].pair.len) {
		e = store_cert_get(txn, ca->issuer_id[other], &certs[kind].pair, &certs[other]);
		if (e && e != -ENOENT)
			return e;
		have[other] = e == 0;
	}
	return 0;
}

/* After a move or rename: the replacement signing certificate, linked to the
 * one it replaces and to the pair's user-auth certificate, and the person's
 * new item. */
static int reissue_signing(struct ca *ca, struct store_txn *txn, struct event_state *st,
                           struct store_cert certs[3], const bool have[3])
{
	const struct ca_issued_cert *n = &st->renewed->sign;
	struct store_cert rec = {
	        .issuer_id = ca->issuer_id[CERT_KIND_SIGN],
	        .serial = n->serial,
	        .kind = CERT_KIND_SIGN,
	        .status = CERT_STATUS_GOOD,
	        .not_before = n->not_before,
	        .not_after = n->not_after,
	        .person_id = certs[CERT_KIND_SIGN].person_id,
	        .replaces = certs[CERT_KIND_SIGN].serial,
	        .partition = n->partition,
	};
	if (have[CERT_KIND_AUTH])
		rec.pair = certs[CERT_KIND_AUTH].serial;
	int e = store_cert_insert(txn, &rec, (struct store_blob){n->der, n->der_len});
	for (int k = CERT_KIND_SIGN; k <= CERT_KIND_AUTH && !e; k++) {
		struct store_cert old;
		if (!have[k])
			continue;
		e = store_cert_get(txn, ca->issuer_id[k], &certs[k].serial, &old);
		if (e)
			break;
		if (k == CERT_KIND_SIGN)
			old.replaced_by = n->serial;
		else
			old.pair = n->serial;
		e = store_cert_update_links(txn, &old);
	}
	if (!e) {
		struct store_person person = st->changed->record;
		person.id = rec.person_id;
		e = store_person_put(txn, &person);
	}
	if (!e)
		st->renewed->person_id = rec.person_id;
	return e;
}

static int event_cb(struct store_txn *txn, void *arg)
{
	struct event_state *st = arg;
	struct ca *ca = st->ca;
	struct store_cert certs[3];
	bool have[3];
	memset(st->revoked, 0, sizeof(st->revoked));
	int e = pair_of(ca, txn, st->kind, st->serial, certs, have);
	if (e)
		return e;

	bool want[3];
	enum crl_reason reason = CRL_REASON_UNSPECIFIED;
	event_rule(st->event, &want[CERT_KIND_SIGN], &want[CERT_KIND_AUTH], &reason);
	if (st->event != CA_EVENT_RENEW && !have[CERT_KIND_SIGN] && !want[CERT_KIND_AUTH])
		return -ENOENT; /* a move of someone who has no signing certificate */

	int revoked = 0;
	for (int k = CERT_KIND_SIGN; k <= CERT_KIND_AUTH; k++) {
		st->old[k] = have[k] ? certs[k].serial : (struct store_serial){0};
		if (!have[k] || !want[k])
			continue;
		if (certs[k].replaced_by.len && st->event == CA_EVENT_RENEW)
			return -EALREADY; /* renewed before */
		e = store_cert_revoke(txn, ca->issuer_id[k], &certs[k].serial, st->now, reason);
		if (e == -EALREADY)
			continue; /* revoked earlier, e.g. the signing one after a move */
		if (e)
			return e;
		st->revoked[k] = true;
		revoked++;
	}
	if (st->event == CA_EVENT_RENEW) {
		e = insert_pair(ca, txn, st->renewed, certs[st->kind].person_id, st->old);
		for (int k = CERT_KIND_SIGN; k <= CERT_KIND_AUTH && !e; k++) {
			struct ca_issued_cert *n =
			        k == CERT_KIND_SIGN ? &st->renewed->sign : &st->renewed->auth;
			if (!have[k] || !n->issued)
				continue;
			struct store_cert old;
			e = store_cert_get(txn, ca->issuer_id[k], &certs[k].serial, &old);
			if (!e) {
				old.replaced_by = n->serial;
				e = store_cert_update_links(txn, &old);
			}
		}
		if (e)
			return e;
		st->renewed->person_id = certs[st->kind].person_id;
	} else if (revoked == 0) {
		return -EALREADY;
	} else if (st->changed) {
		e = reissue_signing(ca, txn, st, certs, have);
		if (e)
			return e;
	}
	char subject[128];
	char action[32];
	ca_cert_label(st->kind, st->serial, subject, sizeof(subject));
	snprintf(action, sizeof(action), "event-%s", ca_event_name(st->event));
	return ca_audit(txn, st->actor, action, subject);
}

/* Reads what a renewal needs before any signing: the person behind a
 * certificate. */
static int renewal_person(struct ca *ca, enum cert_kind kind, const struct store_serial *serial,
                          struct person *p)
{
	struct store_txn *txn;
	int e = store_txn_begin(ca->store, false, &txn);
	if (e)
		return e;
	struct store_cert cert;
	struct store_person rec;
	e = store_cert_get(txn, ca->issuer_id[kind], serial, &cert);
	if (!e && cert.person_id == 0)
		e = -ENODATA;
	if (!e)
		e = store_person_get(txn, cert.person_id, &rec);
	store_txn_abort(txn);
	if (!e)
		e = person_from_record(&rec, p);
	return e;
}

/* The person after a move or rename, checked like a new issuance. */
static int changed_person(struct ca *ca, enum cert_kind kind, const struct store_serial *serial,
                          enum ca_event_type event, const struct ca_change *change,
                          struct person *out, char *err)
{
	bool move = event == CA_EVENT_MOVE;
	if ((event != CA_EVENT_MOVE && event != CA_EVENT_RENAME) ||
	    !(move ? change->address : change->name)) {
		ca_error(err,
		         "a reissue needs a move with the new address or a rename with the new "
		         "name");
		return -EINVAL;
	}
	struct person old;
	int e = renewal_person(ca, kind, serial, &old);
	if (e) {
		revoke_error(err, -ENOENT, kind, serial);
		return -ENOENT;
	}
	char birth[32];
	snprintf(birth, sizeof(birth), "%04d-%02d-%02d", old.birth.year % 10000,
	         old.birth.month % 100, old.birth.day % 100);
	struct ca_person in = {
	        .name = move ? old.record.name : change->name,
	        .birth = birth,
	        .sex = old.record.sex,
	        .address = move ? change->address : old.record.address,
	};
	return person_check(&in, out, err);
}

int ca_event(struct ca *ca, enum cert_kind kind, const struct store_serial *serial,
             enum ca_event_type event, const char *actor, struct ca_issued *renewed,
             char err[CA_ERR_LEN])
{
	return ca_event_change(ca, kind, serial, event, NULL, actor, renewed, err);
}

int ca_event_change(struct ca *ca, enum cert_kind kind, const struct store_serial *serial,
                    enum ca_event_type event, const struct ca_change *change, const char *actor,
                    struct ca_issued *renewed, char err[CA_ERR_LEN])
{
	struct ca_issued pair;
	struct person changed;
	struct event_state st = {ca,   kind, serial,     event, actor,
	                         NULL, NULL, time(NULL), {0},   {{0}}};
	int e = 0;
	if (change) {
		e = changed_person(ca, kind, serial, event, change, &changed, err);
		if (e)
			return e;
		st.changed = &changed;
	}
	for (int attempt = 0; attempt < SERIAL_RETRIES; attempt++) {
		if (change) {
			memset(&pair, 0, sizeof(pair));
			e = prepare_cert(ca, CERT_KIND_SIGN, &changed, change->sign_pubkey,
			                 change->sign_pubkey_len, st.now, &pair.sign, err);
			if (e) {
				ca_issued_free(&pair);
				return e;
			}
			st.renewed = &pair;
		} else if (event == CA_EVENT_RENEW) {
			struct person p;
			e = renewal_person(ca, kind, serial, &p);
			if (e == -ENOENT || e == -ENODATA) {
				revoke_error(err, -ENOENT, kind, serial);
				return -ENOENT;
			}
			if (!e)
				e = prepare_pair(ca, &p, NULL, st.now, &pair, err);
			if (e)
				return e;
			st.renewed = &pair;
		}
		e = store_write(ca->store, event_cb, &st);
		if (e != -EEXIST || !st.renewed)
			break;
		ca_issued_free(&pair);
	}
	if (e) {
		char label[64];
		ca_cert_label(kind, serial, label, sizeof(label));
		if (e == -ENOENT)
			ca_error(
			        err,
			        "%s: no such certificate, or the holder has no signing certificate",
			        label);
		else if (e == -EALREADY)
			ca_error(err, "%s: nothing to do, the certificates are already %s", label,
			         event == CA_EVENT_RENEW ? "renewed" : "revoked");
		else
			ca_error(err, "%s: %s failed: %s", label, ca_event_name(event),
			         strerror(-e));
		if (st.renewed)
			ca_issued_free(&pair);
		return e;
	}
	for (int k = CERT_KIND_SIGN; k <= CERT_KIND_AUTH; k++)
		if (st.revoked[k])
			ca_presign_after_commit(ca, (enum cert_kind)k, &st.old[k]);
	if (st.renewed) {
		if (pair.sign.issued)
			ca_presign_after_commit(ca, CERT_KIND_SIGN, &pair.sign.serial);
		if (pair.auth.issued)
			ca_presign_after_commit(ca, CERT_KIND_AUTH, &pair.auth.serial);
		if (renewed)
			*renewed = pair;
		else
			ca_issued_free(&pair);
	}
	return 0;
}

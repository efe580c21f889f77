/* Client-certificate policy file parsing and matching (see tls_policy.h). */
#include "tls/tls_policy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/encoding.h"
#include "core/role_set.h"

#define POLICY_MAX_BYTES (1 << 20)
#define POLICY_DN_MAX    256

#define POLICY_SERIAL_MAX 32 /* RFC 5280 §4.1.2.2 allows 20 octets; be lenient */

enum rule_kind { RULE_SUBJECT, RULE_SPKI, RULE_ANONYMOUS, RULE_DENY_SPKI, RULE_DENY_SERIAL };

struct rule {
	enum rule_kind kind;
	unsigned line;
	core_role_set roles;
	char subject[POLICY_DN_MAX]; /* normalised */
	uint8_t spki[32];
	bool has_issuer;
	uint8_t issuer[32];
	uint8_t serial[POLICY_SERIAL_MAX]; /* without leading zero octets */
	size_t serial_len;
};

struct tls_policy {
	struct rule *rules;
	size_t count;
};

/* A comma-separated list of the role names `roles` lets a policy grant. */
static int parse_roles(const struct role_table *roles, const char *text, size_t len,
                       core_role_set *out)
{
	core_role_set acc = 0;
	size_t i = 0;
	while (i < len) {
		size_t j = i;
		while (j < len && text[j] != ',')
			j++;
		const struct role_name *r = role_table_find(roles, text + i, j - i);
		if (!r)
			return -EINVAL;
		acc |= r->roles;
		i = j + 1;
	}
	if (len == 0 || text[len - 1] == ',')
		return -EINVAL;
	*out = acc;
	return 0;
}

/* "reader, writer, auditor": the names a policy may use, for messages. */
static void grantable_names(const struct role_table *roles, char *out, size_t out_len)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; roles && i < roles->count && used < out_len; i++) {
		if (!roles->names[i].grantable)
			continue;
		int n = snprintf(out + used, out_len - used, "%s%s", used ? ", " : "",
		                 roles->names[i].name);
		if (n < 0)
			return;
		used += (size_t)n;
	}
}

/* "CN=a,  O=b" and "CN=a, O=b" name the same subject: drop blanks that
 * follow an RDN separator so either spelling in the policy file matches. */
static void normalise_dn(const char *in, size_t len, char *out, size_t out_len)
{
	size_t o = 0;
	bool after_comma = false;
	for (size_t i = 0; i < len && o + 1 < out_len; i++) {
		char c = in[i];
		if (after_comma && (c == ' ' || c == '\t'))
			continue;
		after_comma = (c == ',' || c == '+');
		out[o++] = c;
	}
	while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
		o--;
	out[o] = '\0';
}

static int fail(char *err, size_t err_len, unsigned line, const char *fmt, ...)
{
	char why[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	snprintf(err, err_len, "line %u: %s", line, why);
	return -EINVAL;
}

static size_t skip_blank(const char *s, size_t i, size_t end)
{
	while (i < end && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i;
}

static size_t word_end(const char *s, size_t i, size_t end)
{
	while (i < end && s[i] != ' ' && s[i] != '\t')
		i++;
	return i;
}

/* Reads a 64-hex-digit SHA-256 word at s[*i]; advances *i past it. */
static bool read_hash(const char *s, size_t *i, size_t end, uint8_t out[32])
{
	size_t w = word_end(s, *i, end);
	bool ok = w - *i == 64 && hex_decode(s + *i, w - *i, out, 32) == 32;
	*i = skip_blank(s, w, end);
	return ok;
}

/* A serial number in hex, colons allowed ("0a:1b" or "0A1B"), stored without
 * leading zero octets so that DER's sign octet does not matter. */
static bool read_serial(const char *s, size_t i, size_t end, struct rule *r)
{
	uint8_t digits[2 * POLICY_SERIAL_MAX];
	size_t n = 0;
	for (; i < end; i++) {
		char c = s[i];
		int v = c >= '0' && c <= '9'   ? c - '0'
		        : c >= 'a' && c <= 'f' ? c - 'a' + 10
		        : c >= 'A' && c <= 'F' ? c - 'A' + 10
		                               : -1;
		if (c == ':')
			continue;
		if (v < 0 || n == sizeof digits)
			return false;
		digits[n++] = (uint8_t)v;
	}
	if (n == 0)
		return false;
	size_t d = 0;
	while (d < n && digits[d] == 0)
		d++;
	r->serial_len = 0;
	if ((n - d) % 2) /* an odd count: the first digit is an octet of its own */
		r->serial[r->serial_len++] = digits[d++];
	for (; d < n; d += 2)
		r->serial[r->serial_len++] = (uint8_t)(digits[d] << 4 | digits[d + 1]);
	return true;
}

static int parse_deny(const char *s, size_t i, size_t end, unsigned line, struct rule *r, char *err,
                      size_t err_len)
{
	size_t kind_end = word_end(s, i, end);
	size_t kind_len = kind_end - i;
	size_t rest = skip_blank(s, kind_end, end);
	if (kind_len == 4 && memcmp(s + i, "spki", 4) == 0) {
		if (!read_hash(s, &rest, end, r->spki) || rest != end)
			return fail(err, err_len, line,
			            "deny spki wants 64 hex digits (SHA-256 of the "
			            "SubjectPublicKeyInfo)");
		r->kind = RULE_DENY_SPKI;
		return 0;
	}
	if (kind_len == 6 && memcmp(s + i, "issuer", 6) == 0) {
		if (!read_hash(s, &rest, end, r->issuer))
			return fail(err, err_len, line,
			            "deny issuer wants the CA's SPKI SHA-256 (64 hex digits)");
		size_t kw_end = word_end(s, rest, end);
		if (kw_end - rest != 6 || memcmp(s + rest, "serial", 6) != 0)
			return fail(err, err_len, line,
			            "expected \"serial HEX\" after \"deny issuer CA\"");
		size_t hex = skip_blank(s, kw_end, end);
		if (word_end(s, hex, end) != end || !read_serial(s, hex, end, r))
			return fail(
			        err, err_len, line,
			        "deny serial wants the serial number in hex (at most %d octets)",
			        POLICY_SERIAL_MAX);
		r->has_issuer = true;
		r->kind = RULE_DENY_SERIAL;
		return 0;
	}
	return fail(err, err_len, line,
	            "expected \"deny spki HEX\" or \"deny issuer CA serial HEX\"");
}

static int parse_line(const struct role_table *roles, const char *s, size_t end, unsigned line,
                      struct rule *r, char *err, size_t err_len)
{
	r->line = line;
	size_t i = skip_blank(s, 0, end);
	size_t roles_end = word_end(s, i, end);
	if (roles_end - i == 4 && memcmp(s + i, "deny", 4) == 0)
		return parse_deny(s, skip_blank(s, roles_end, end), end, line, r, err, err_len);
	if (parse_roles(roles, s + i, roles_end - i, &r->roles) < 0) {
		char names[160];
		grantable_names(roles, names, sizeof names);
		return fail(err, err_len, line, "unknown role in \"%.*s\" (use %s%sdeny)",
		            (int)(roles_end - i), s + i, names, *names ? ", or " : "");
	}
	i = skip_blank(s, roles_end, end);
	size_t kind_end = word_end(s, i, end);
	if (kind_end - i == 6 && memcmp(s + i, "issuer", 6) == 0) {
		size_t h = skip_blank(s, kind_end, end);
		if (!read_hash(s, &h, end, r->issuer))
			return fail(err, err_len, line,
			            "issuer wants the CA's SPKI SHA-256 (64 hex digits; see "
			            "docs/tls.md for the openssl command)");
		r->has_issuer = true;
		i = h;
		kind_end = word_end(s, i, end);
	}
	size_t rest = skip_blank(s, kind_end, end);
	size_t kind_len = kind_end - i;
	if (kind_len == 9 && memcmp(s + i, "anonymous", 9) == 0) {
		if (rest != end)
			return fail(err, err_len, line, "nothing may follow \"anonymous\"");
		if (r->has_issuer)
			return fail(err, err_len, line,
			            "an anonymous caller has no issuer; drop \"issuer\"");
		/* Some roles need a certificate (for kenshod, docs/architecture.md
		 * rule 4: personal data and the admin API); an anonymous caller can
		 * never be granted them. */
		if (roles && (r->roles & roles->authenticated_only)) {
			char names[160];
			role_table_format(roles, roles->authenticated_only, " or ", names,
			                  sizeof names);
			return fail(err, err_len, line, "anonymous callers may not get %s roles",
			            names);
		}
		r->kind = RULE_ANONYMOUS;
		return 0;
	}
	if (kind_len == 7 && memcmp(s + i, "subject", 7) == 0) {
		if (rest == end)
			return fail(err, err_len, line, "subject rule without a DN");
		if (end - rest >= POLICY_DN_MAX)
			return fail(err, err_len, line, "subject longer than %d bytes",
			            POLICY_DN_MAX - 1);
		r->kind = RULE_SUBJECT;
		normalise_dn(s + rest, end - rest, r->subject, sizeof r->subject);
		return 0;
	}
	if (kind_len == 4 && memcmp(s + i, "spki", 4) == 0) {
		size_t hex_end = word_end(s, rest, end);
		if (skip_blank(s, hex_end, end) != end ||
		    hex_decode(s + rest, hex_end - rest, r->spki, sizeof r->spki) != 32)
			return fail(err, err_len, line,
			            "spki wants 64 hex digits (SHA-256 of the "
			            "SubjectPublicKeyInfo)");
		r->kind = RULE_SPKI;
		return 0;
	}
	return fail(err, err_len, line,
	            "expected \"subject\", \"spki\" or \"anonymous\" after roles");
}

int tls_policy_parse(const char *text, size_t len, const struct role_table *roles,
                     struct tls_policy **out, char *err, size_t err_len)
{
	struct tls_policy *p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	size_t cap = 0;
	unsigned line = 0;
	size_t pos = 0;
	while (pos < len) {
		size_t eol = pos;
		while (eol < len && text[eol] != '\n')
			eol++;
		line++;
		size_t end = eol;
		for (size_t k = pos; k < eol; k++) {
			if (text[k] == '#') {
				end = k;
				break;
			}
		}
		while (end > pos &&
		       (text[end - 1] == ' ' || text[end - 1] == '\t' || text[end - 1] == '\r'))
			end--;
		size_t start = skip_blank(text, pos, end);
		pos = eol + 1;
		if (start == end)
			continue;
		if (memchr(text + start, '\0', end - start)) {
			tls_policy_free(p);
			return fail(err, err_len, line, "NUL byte in line");
		}
		if (p->count == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct rule *n = realloc(p->rules, ncap * sizeof *n);
			if (!n) {
				tls_policy_free(p);
				return -ENOMEM;
			}
			p->rules = n;
			cap = ncap;
		}
		struct rule *r = &p->rules[p->count];
		memset(r, 0, sizeof *r);
		int rc = parse_line(roles, text + start, end - start, line, r, err, err_len);
		if (rc < 0) {
			tls_policy_free(p);
			return rc;
		}
		p->count++;
	}
	*out = p;
	return 0;
}

int tls_policy_load(const char *path, const struct role_table *roles, struct tls_policy **out,
                    char *err, size_t err_len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		int rc = -errno;
		snprintf(err, err_len, "cannot open: %s", strerror(errno));
		return rc;
	}
	char *text = malloc(POLICY_MAX_BYTES);
	if (!text) {
		fclose(f);
		return -ENOMEM;
	}
	size_t n = fread(text, 1, POLICY_MAX_BYTES, f);
	int read_error = ferror(f);
	int too_big = !feof(f) && n == POLICY_MAX_BYTES;
	fclose(f);
	int rc;
	if (read_error) {
		snprintf(err, err_len, "read error");
		rc = -EIO;
	} else if (too_big) {
		snprintf(err, err_len, "larger than %d bytes", POLICY_MAX_BYTES);
		rc = -EFBIG;
	} else {
		rc = tls_policy_parse(text, n, roles, out, err, err_len);
	}
	free(text);
	return rc;
}

void tls_policy_free(struct tls_policy *p)
{
	if (!p)
		return;
	free(p->rules);
	free(p);
}

int tls_policy_bind(struct tls_policy *p, const uint8_t (*ca_spki)[32], size_t ca_count, char *err,
                    size_t err_len)
{
	int unknown = 0;
	for (size_t i = 0; p && i < p->count; i++) {
		struct rule *r = &p->rules[i];
		if (r->has_issuer) {
			size_t k = 0;
			while (k < ca_count && memcmp(ca_spki[k], r->issuer, 32) != 0)
				k++;
			/* Harmless (it matches nothing), and refusing it would keep a
			 * CA just removed from the trust store in force. */
			if (k == ca_count && unknown++ == 0)
				snprintf(err, err_len,
				         "line %u: issuer %02x%02x%02x%02x... is not a CA in "
				         "tls.trust; "
				         "the rule matches nothing",
				         r->line, r->issuer[0], r->issuer[1], r->issuer[2],
				         r->issuer[3]);
			continue;
		}
		/* Without a trust store no certificate is ever verified, so an
		 * unbound rule can match nothing there. */
		if (r->kind != RULE_SUBJECT || ca_count == 0)
			continue;
		/* A subject is only a name: bound to no CA it would match a
		 * certificate any trusted CA chose to issue with that name. */
		if (ca_count != 1)
			return fail(err, err_len, r->line,
			            "subject rule names no issuer and tls.trust holds %zu CAs; "
			            "write \"ROLES issuer CA-SPKI-SHA256 subject DN\"",
			            ca_count);
		memcpy(r->issuer, ca_spki[0], 32);
		r->has_issuer = true;
	}
	return unknown;
}

static bool issuer_matches(const struct rule *r, const struct tls_client_id *id)
{
	return !r->has_issuer ||
	       (id->issuer_sha256 && memcmp(r->issuer, id->issuer_sha256, 32) == 0);
}

core_role_set tls_policy_roles(const struct tls_policy *p, const struct tls_client_id *id)
{
	if (!p)
		return 0;
	char norm[POLICY_DN_MAX];
	normalise_dn(id->subject, strlen(id->subject), norm, sizeof norm);
	core_role_set roles = 0;
	for (size_t i = 0; i < p->count; i++) {
		const struct rule *r = &p->rules[i];
		if (!issuer_matches(r, id))
			continue;
		if (r->kind == RULE_SUBJECT && strcmp(r->subject, norm) == 0)
			roles |= r->roles;
		else if (r->kind == RULE_SPKI && memcmp(r->spki, id->spki_sha256, 32) == 0)
			roles |= r->roles;
	}
	return roles;
}

bool tls_policy_denies(const struct tls_policy *p, const struct tls_client_id *id)
{
	const uint8_t *serial = id->serial;
	size_t serial_len = id->serial_len;
	while (serial_len > 0 && serial[0] == 0) {
		serial++;
		serial_len--;
	}
	for (size_t i = 0; p && i < p->count; i++) {
		const struct rule *r = &p->rules[i];
		if (r->kind == RULE_DENY_SPKI && memcmp(r->spki, id->spki_sha256, 32) == 0)
			return true;
		/* An issuer that could not be told is no excuse: deny on the
		 * serial alone then (fail closed). */
		if (r->kind == RULE_DENY_SERIAL &&
		    (!id->issuer_sha256 || memcmp(r->issuer, id->issuer_sha256, 32) == 0) &&
		    r->serial_len == serial_len && memcmp(r->serial, serial, serial_len) == 0)
			return true;
	}
	return false;
}

core_role_set tls_policy_anonymous_roles(const struct tls_policy *p)
{
	core_role_set roles = 0;
	for (size_t i = 0; p && i < p->count; i++)
		if (p->rules[i].kind == RULE_ANONYMOUS)
			roles |= p->rules[i].roles;
	return roles;
}

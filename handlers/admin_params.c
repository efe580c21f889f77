/* Admin API body parsing (see admin_params.h). Strict: a body that is not
 * exactly one flat object or one form is refused, not guessed at. */
#include "handlers/admin_params.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/encoding.h"
#include "core/buf.h"

static int add(struct admin_params *p, struct buf *key, struct buf *value)
{
	if (p->count == ADMIN_PARAMS_MAX)
		return -E2BIG;
	if (buf_append(key, "", 1) < 0 || buf_append(value, "", 1) < 0)
		return -ENOMEM;
	size_t kl, vl;
	p->items[p->count].key = (char *)buf_steal(key, &kl);
	p->items[p->count].value = (char *)buf_steal(value, &vl);
	p->count++;
	return 0;
}

/* application/x-www-form-urlencoded (WHATWG URL §5.1): '&'-separated
 * name=value, '+' is a space, %XX an octet. */
static int parse_form(const uint8_t *s, size_t len, struct admin_params *p, char *err,
                      size_t err_len)
{
	struct buf key = {0}, value = {0};
	struct buf *cur = &key;
	int rc = 0;
	for (size_t i = 0; i <= len && rc == 0; i++) {
		if (i == len || s[i] == '&') {
			if (key.len || value.len || cur == &value)
				rc = add(p, &key, &value);
			buf_reset(&key);
			buf_reset(&value);
			cur = &key;
			continue;
		}
		uint8_t c = s[i];
		if (c == '=' && cur == &key) {
			cur = &value;
			continue;
		}
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int octet = percent_escape_decode((const char *)s, len, i);
			if (octet < 0) {
				snprintf(err, err_len, "bad percent-escape at byte %zu", i);
				rc = -EINVAL;
				break;
			}
			c = (uint8_t)octet;
			i += 2;
		}
		if (c == 0) {
			snprintf(err, err_len, "NUL byte in form field");
			rc = -EINVAL;
			break;
		}
		rc = buf_append(cur, &c, 1);
	}
	buf_free(&key);
	buf_free(&value);
	return rc;
}

struct cursor {
	const uint8_t *s;
	size_t len, pos;
};

static void skip_ws(struct cursor *c)
{
	while (c->pos < c->len && (c->s[c->pos] == ' ' || c->s[c->pos] == '\t' ||
	                           c->s[c->pos] == '\n' || c->s[c->pos] == '\r'))
		c->pos++;
}

static int append_utf8(struct buf *b, uint32_t cp)
{
	uint8_t out[4];
	size_t n;
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		out[0] = (uint8_t)(0xc0 | cp >> 6);
		out[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		out[0] = (uint8_t)(0xe0 | cp >> 12);
		out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		out[0] = (uint8_t)(0xf0 | cp >> 18);
		out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
		out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		out[3] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(b, out, n);
}

static int read_hex4(struct cursor *c, uint32_t *out)
{
	if (c->len - c->pos < 4)
		return -EINVAL;
	uint8_t octets[2];
	if (hex_decode((const char *)c->s + c->pos, 4, octets, sizeof(octets)) != 2)
		return -EINVAL;
	c->pos += 4;
	*out = (uint32_t)octets[0] << 8 | octets[1];
	return 0;
}

/* A JSON string (RFC 8259 §7) after its opening quote. */
static int read_string(struct cursor *c, struct buf *out)
{
	while (c->pos < c->len) {
		uint8_t ch = c->s[c->pos++];
		if (ch == '"')
			return 0;
		if (ch < 0x20)
			return -EINVAL;
		if (ch != '\\') {
			if (buf_append(out, &ch, 1) < 0)
				return -ENOMEM;
			continue;
		}
		if (c->pos == c->len)
			return -EINVAL;
		ch = c->s[c->pos++];
		static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
		const char *hit = ch ? strchr(from, ch) : NULL;
		if (hit) {
			if (buf_append(out, &to[hit - from], 1) < 0)
				return -ENOMEM;
			continue;
		}
		if (ch != 'u')
			return -EINVAL;
		uint32_t cp, low;
		if (read_hex4(c, &cp) < 0)
			return -EINVAL;
		if (cp >= 0xd800 && cp < 0xdc00) {
			if (c->len - c->pos < 2 || c->s[c->pos] != '\\' || c->s[c->pos + 1] != 'u')
				return -EINVAL;
			c->pos += 2;
			if (read_hex4(c, &low) < 0 || low < 0xdc00 || low > 0xdfff)
				return -EINVAL;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
		} else if (cp >= 0xdc00 && cp <= 0xdfff) {
			return -EINVAL;
		}
		if (cp == 0)
			return -EINVAL; /* values become C strings */
		if (append_utf8(out, cp) < 0)
			return -ENOMEM;
	}
	return -EINVAL;
}

/* A number, true, false or null, kept as its text. */
static int read_bare(struct cursor *c, struct buf *out)
{
	size_t start = c->pos;
	while (c->pos < c->len &&
	       (c->s[c->pos] == '-' || c->s[c->pos] == '+' || c->s[c->pos] == '.' ||
	        (c->s[c->pos] >= '0' && c->s[c->pos] <= '9') ||
	        (c->s[c->pos] >= 'a' && c->s[c->pos] <= 'z') || c->s[c->pos] == 'E'))
		c->pos++;
	size_t n = c->pos - start;
	if (n == 0)
		return -EINVAL;
	const char *t = (const char *)c->s + start;
	bool word = (n == 4 && (memcmp(t, "true", 4) == 0 || memcmp(t, "null", 4) == 0)) ||
	            (n == 5 && memcmp(t, "false", 5) == 0);
	bool number = (t[0] == '-' || (t[0] >= '0' && t[0] <= '9'));
	if (!word && !number)
		return -EINVAL;
	return buf_append(out, t, n);
}

static int parse_json(const uint8_t *s, size_t len, struct admin_params *p, char *err,
                      size_t err_len)
{
	struct cursor c = {s, len, 0};
	struct buf key = {0}, value = {0};
	int rc = -EINVAL;
	skip_ws(&c);
	if (c.pos == c.len || c.s[c.pos++] != '{')
		goto bad;
	skip_ws(&c);
	if (c.pos < c.len && c.s[c.pos] == '}') {
		c.pos++;
		goto end;
	}
	for (;;) {
		skip_ws(&c);
		if (c.pos == c.len || c.s[c.pos++] != '"')
			goto bad;
		buf_reset(&key);
		buf_reset(&value);
		if ((rc = read_string(&c, &key)) < 0)
			goto bad;
		skip_ws(&c);
		if (c.pos == c.len || c.s[c.pos++] != ':')
			goto bad;
		skip_ws(&c);
		if (c.pos == c.len)
			goto bad;
		if (c.s[c.pos] == '"') {
			c.pos++;
			rc = read_string(&c, &value);
		} else if (c.s[c.pos] == '{' || c.s[c.pos] == '[') {
			snprintf(err, err_len, "nested objects and arrays are not accepted");
			rc = -EINVAL;
			goto out;
		} else {
			rc = read_bare(&c, &value);
		}
		if (rc < 0)
			goto bad;
		if ((rc = add(p, &key, &value)) < 0)
			goto out;
		skip_ws(&c);
		if (c.pos == c.len)
			goto bad;
		uint8_t ch = c.s[c.pos++];
		if (ch == '}')
			break;
		if (ch != ',')
			goto bad;
	}
end:
	skip_ws(&c);
	if (c.pos != c.len)
		goto bad;
	rc = 0;
	goto out;
bad:
	if (rc != -ENOMEM) {
		snprintf(err, err_len, "not a flat JSON object (stopped at byte %zu)", c.pos);
		rc = -EINVAL;
	}
out:
	buf_free(&key);
	buf_free(&value);
	return rc;
}

static bool media_type_is(const char *ct, size_t ct_len, const char *type)
{
	size_t n = strlen(type);
	if (ct_len < n || strncasecmp(ct, type, n) != 0)
		return false;
	return ct_len == n || ct[n] == ';' || ct[n] == ' ';
}

int admin_params_parse(const char *content_type, size_t content_type_len, const uint8_t *body,
                       size_t len, struct admin_params *out, char *err, size_t err_len)
{
	memset(out, 0, sizeof(*out));
	int rc;
	if (content_type && media_type_is(content_type, content_type_len, "application/json"))
		rc = parse_json(body, len, out, err, err_len);
	else if (!content_type ||
	         media_type_is(content_type, content_type_len, "application/x-www-form-urlencoded"))
		rc = parse_form(body, len, out, err, err_len);
	else {
		snprintf(err, err_len,
		         "send application/json or application/x-www-form-urlencoded");
		return -EPROTONOSUPPORT;
	}
	if (rc == -E2BIG)
		snprintf(err, err_len, "more than %d fields", ADMIN_PARAMS_MAX);
	if (rc < 0)
		admin_params_free(out);
	return rc;
}

const char *admin_params_get(const struct admin_params *p, const char *key)
{
	for (size_t i = p->count; i-- > 0;)
		if (strcmp(p->items[i].key, key) == 0)
			return p->items[i].value;
	return NULL;
}

void admin_params_free(struct admin_params *p)
{
	for (size_t i = 0; i < p->count; i++) {
		free(p->items[i].key);
		free(p->items[i].value);
	}
	p->count = 0;
}

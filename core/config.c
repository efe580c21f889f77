/* kenshod's settings: `key = value` lines overlaid by flags (see config.h). */
#include "core/config.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest key or value accepted from a file: settings are short, and a bound
 * keeps a hostile file from growing memory without limit. */
#define CONFIG_MAX_KEY   128
#define CONFIG_MAX_VALUE 4096
#define CONFIG_MAX_FILE  (1024 * 1024)

struct config_entry {
	char *key;
	size_t key_len; /* strlen(key): lookups compare lengths first */
	char *value;
	bool from_flag;
	bool shadowed;                  /* a file's value a flag overrides: only validated */
	size_t line;                    /* the file's line that set it; 0 for a flag */
	char origin[CONFIG_ORIGIN_MAX]; /* the flag that set it, "" if unnamed */
};

struct config {
	struct config_entry *entries;
	size_t count;
	size_t cap;
	uint64_t version; /* config_version */
	char *file;       /* the file config_load_file read, for messages */
};

/* Versions are drawn from one process-wide sequence, so no two states of
 * any configurations share one. */
static _Atomic uint64_t config_versions;

static uint64_t config_next_version(void)
{
	return atomic_fetch_add(&config_versions, 1) + 1;
}

struct config *config_new(void)
{
	struct config *c = calloc(1, sizeof(struct config));
	if (c)
		c->version = config_next_version();
	return c;
}

uint64_t config_version(const struct config *c)
{
	return c ? c->version : 0;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->count; i++) {
		free(c->entries[i].key);
		free(c->entries[i].value);
	}
	free(c->entries);
	free(c->file);
	free(c);
}

static struct config_entry *config_find(const struct config *c, const char *key, size_t key_len)
{
	for (size_t i = 0; i < c->count; i++) {
		if (c->entries[i].key_len == key_len && !c->entries[i].shadowed &&
		    memcmp(c->entries[i].key, key, key_len) == 0)
			return &c->entries[i];
	}
	return NULL;
}

static int config_store(struct config *c, const char *key, size_t key_len, const char *value,
                        size_t value_len, bool from_flag, size_t line, const char *origin)
{
	struct config_entry *e = config_find(c, key, key_len);
	c->version = config_next_version();
	/* Flags win over the file; the file's value is kept aside so that a
	 * mistake in it is still reported. */
	bool shadowed = e && e->from_flag && !from_flag;
	char *v = strndup(value, value_len);
	if (!v)
		return -ENOMEM;
	if (e && !shadowed) {
		free(e->value);
		e->value = v;
		e->from_flag = e->from_flag || from_flag;
		e->line = line;
		snprintf(e->origin, sizeof(e->origin), "%s", origin ? origin : "");
		return 0;
	}
	if (c->count == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct config_entry *bigger = realloc(c->entries, cap * sizeof(*bigger));
		if (!bigger) {
			free(v);
			return -ENOMEM;
		}
		c->entries = bigger;
		c->cap = cap;
	}
	char *k = strndup(key, key_len);
	if (!k) {
		free(v);
		return -ENOMEM;
	}
	struct config_entry *added = &c->entries[c->count++];
	*added = (struct config_entry){.key = k,
	                               .key_len = key_len,
	                               .value = v,
	                               .from_flag = from_flag,
	                               .shadowed = shadowed,
	                               .line = line};
	snprintf(added->origin, sizeof(added->origin), "%s", origin ? origin : "");
	return 0;
}

int config_set(struct config *c, const char *key, const char *value)
{
	return config_store(c, key, strlen(key), value, strlen(value), true, 0, NULL);
}

int config_set_flag(struct config *c, const char *key, const char *value, const char *flag)
{
	return config_store(c, key, strlen(key), value, strlen(value), true, 0, flag);
}

int config_copy_flags(struct config *dst, const struct config *src)
{
	for (size_t i = 0; src && i < src->count; i++) {
		const struct config_entry *e = &src->entries[i];
		if (e->shadowed || !e->from_flag)
			continue;
		int rc = config_store(dst, e->key, strlen(e->key), e->value, strlen(e->value), true,
		                      0, e->origin);
		if (rc)
			return rc;
	}
	return 0;
}

static bool key_char_ok(char ch)
{
	return isalnum((unsigned char)ch) || ch == '.' || ch == '_' || ch == '-';
}

static int parse_fail(char *err, size_t err_len, size_t line, const char *what)
{
	if (err && err_len)
		snprintf(err, err_len, "line %zu: %s", line, what);
	return -EINVAL;
}

static void trim(const char **start, const char **end)
{
	while (*start < *end && (**start == ' ' || **start == '\t'))
		(*start)++;
	while (*end > *start && ((*end)[-1] == ' ' || (*end)[-1] == '\t' || (*end)[-1] == '\r'))
		(*end)--;
}

/* One `key = value` line, its comment already cut off by the caller. */
static int parse_line(struct config *c, const char *p, const char *end, size_t line, char *err,
                      size_t err_len)
{
	const char *eq = memchr(p, '=', (size_t)(end - p));
	trim(&p, &end);
	if (p == end)
		return 0;
	if (!eq || eq >= end)
		return parse_fail(err, err_len, line, "expected `key = value`");
	const char *key_end = eq;
	const char *key = p;
	trim(&key, &key_end);
	if (key == key_end)
		return parse_fail(err, err_len, line, "missing key before '='");
	if ((size_t)(key_end - key) > CONFIG_MAX_KEY)
		return parse_fail(err, err_len, line, "key too long");
	for (const char *k = key; k < key_end; k++) {
		if (!key_char_ok(*k))
			return parse_fail(err, err_len, line,
			                  "key may contain only letters, digits, '.', '_', '-'");
	}
	const char *value = eq + 1;
	const char *value_end = end;
	trim(&value, &value_end);
	if (value < value_end && *value == '"') {
		const char *close = memchr(value + 1, '"', (size_t)(value_end - value - 1));
		if (!close)
			return parse_fail(err, err_len, line, "unterminated quoted value");
		const char *after = close + 1;
		const char *rest_end = value_end;
		trim(&after, &rest_end);
		if (after != rest_end)
			return parse_fail(err, err_len, line, "text after closing quote");
		value++;
		value_end = close;
	}
	if ((size_t)(value_end - value) > CONFIG_MAX_VALUE)
		return parse_fail(err, err_len, line, "value too long");
	for (const char *v = value; v < value_end; v++) {
		if (*v == '\0' || (*v > 0 && *v < 0x20 && *v != '\t'))
			return parse_fail(err, err_len, line, "control character in value");
	}
	if (config_store(c, key, (size_t)(key_end - key), value, (size_t)(value_end - value), false,
	                 line, NULL) != 0)
		return -ENOMEM;
	return 0;
}

int config_parse(struct config *c, const char *text, size_t len, char *err, size_t err_len)
{
	const char *p = text, *end = text + len;
	size_t line = 1;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;
		/* A quoted value may contain '#': find the comment start outside
		 * quotes before handing the line over. */
		bool quoted = false;
		const char *cut = line_end;
		for (const char *q = p; q < line_end; q++) {
			if (*q == '"')
				quoted = !quoted;
			else if (*q == '#' && !quoted) {
				cut = q;
				break;
			}
		}
		if (memchr(p, '\0', (size_t)(line_end - p)))
			return parse_fail(err, err_len, line, "NUL byte");
		int rc = parse_line(c, p, cut, line, err, err_len);
		if (rc)
			return rc;
		p = nl ? nl + 1 : end;
		line++;
	}
	return 0;
}

int config_load_file(struct config *c, const char *path, char *err, size_t err_len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		if (err && err_len)
			snprintf(err, err_len, "cannot open %s: %s", path, strerror(e));
		return -e;
	}
	char *text = malloc(CONFIG_MAX_FILE + 1);
	if (!text) {
		fclose(f);
		return -ENOMEM;
	}
	size_t len = fread(text, 1, CONFIG_MAX_FILE + 1, f);
	int read_error = ferror(f);
	fclose(f);
	int rc;
	if (read_error) {
		if (err && err_len)
			snprintf(err, err_len, "cannot read %s", path);
		rc = -EIO;
	} else if (len > CONFIG_MAX_FILE) {
		if (err && err_len)
			snprintf(err, err_len, "%s is larger than %d bytes", path, CONFIG_MAX_FILE);
		rc = -EFBIG;
	} else {
		free(c->file);
		c->file = strdup(path);
		rc = c->file ? config_parse(c, text, len, err, err_len) : -ENOMEM;
	}
	free(text);
	return rc;
}

const char *config_get(const struct config *c, const char *key, const char *fallback)
{
	if (!c)
		return fallback;
	const struct config_entry *e = config_find(c, key, strlen(key));
	return e ? e->value : fallback;
}

/* Parses an integer with an optional suffix from `units` (each with its
 * multiplier). Returns false when malformed or out of range. */
struct unit {
	const char *suffix;
	int64_t multiplier;
};

static bool parse_scaled(const char *text, const struct unit *units, int64_t *out)
{
	if (!text || !*text)
		return false;
	char *end;
	errno = 0;
	long long n = strtoll(text, &end, 10);
	if (errno || end == text)
		return false;
	while (*end == ' ')
		end++;
	int64_t mult = 1;
	if (*end) {
		bool found = false;
		for (const struct unit *u = units; u && u->suffix; u++) {
			if (strcasecmp(end, u->suffix) == 0) {
				mult = u->multiplier;
				found = true;
				break;
			}
		}
		if (!found)
			return false;
	}
	if (n != 0 && (n > INT64_MAX / mult || n < INT64_MIN / mult))
		return false;
	*out = (int64_t)n * mult;
	return true;
}

static const struct unit size_units[] = {
        {"K", 1024},
        {"KB", 1024},
        {"KiB", 1024},
        {"M", 1024 * 1024},
        {"MB", 1024 * 1024},
        {"MiB", 1024 * 1024},
        {"G", 1024LL * 1024 * 1024},
        {"GB", 1024LL * 1024 * 1024},
        {"GiB", 1024LL * 1024 * 1024},
        {NULL, 0},
};

static const struct unit duration_units[] = {
        {"ms", 1},          {"s", 1000},         {"m", 60 * 1000},
        {"h", 3600 * 1000}, {"d", 86400 * 1000}, {NULL, 0},
};

int64_t config_get_int(const struct config *c, const char *key, int64_t fallback)
{
	int64_t v;
	return parse_scaled(config_get(c, key, NULL), NULL, &v) ? v : fallback;
}

int64_t config_get_size(const struct config *c, const char *key, int64_t fallback)
{
	int64_t v;
	return parse_scaled(config_get(c, key, NULL), size_units, &v) ? v : fallback;
}

int64_t config_get_ms(const struct config *c, const char *key, int64_t fallback)
{
	int64_t v;
	return parse_scaled(config_get(c, key, NULL), duration_units, &v) ? v : fallback;
}

/* 1 true, 0 false, -1 neither. */
static int parse_bool(const char *v)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return 1;
		if (strcasecmp(v, no[i]) == 0)
			return 0;
	}
	return -1;
}

bool config_get_bool(const struct config *c, const char *key, bool fallback)
{
	const char *v = config_get(c, key, NULL);
	int b = v ? parse_bool(v) : -1;
	return b < 0 ? fallback : b == 1;
}

void config_each(const struct config *c, const char *prefix,
                 void (*fn)(const char *key, const char *value, void *arg), void *arg)
{
	if (!c)
		return;
	size_t plen = strlen(prefix);
	for (size_t i = 0; i < c->count; i++) {
		if (!c->entries[i].shadowed && strncmp(c->entries[i].key, prefix, plen) == 0)
			fn(c->entries[i].key, c->entries[i].value, arg);
	}
}

/* --- the accepted keys ------------------------------------------------------ */

int config_parse_address(const char *text, char *host, size_t host_len, unsigned *port, char *why,
                         size_t why_len)
{
	const char *h = text, *colon;
	size_t hlen;
	bool bracketed = text[0] == '[';
	if (bracketed) {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':') {
			snprintf(why, why_len, "\"%s\": an IPv6 address needs \"]:PORT\" after it",
			         text);
			return -EINVAL;
		}
		h = text + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon) {
			snprintf(why, why_len, "\"%s\" has no \":PORT\"", text);
			return -EINVAL;
		}
		hlen = (size_t)(colon - text);
		if (memchr(text, ':', hlen)) {
			snprintf(why, why_len,
			         "\"%s\": write an IPv6 address in brackets, [::1]:PORT", text);
			return -EINVAL;
		}
	}
	if (hlen >= host_len) {
		snprintf(why, why_len, "\"%s\": host name too long", text);
		return -EINVAL;
	}
	for (size_t i = 0; i < hlen; i++) {
		char ch = h[i];
		bool ok = isalnum((unsigned char)ch) || ch == '.' || ch == '-' ||
		          (bracketed && (ch == ':' || ch == '%')) ||
		          (!bracketed && hlen == 1 && ch == '*');
		if (!ok) {
			snprintf(why, why_len, "\"%s\": '%c' cannot be part of a host", text, ch);
			return -EINVAL;
		}
	}
	const char *p = colon + 1;
	size_t digits = strspn(p, "0123456789");
	unsigned long n = digits && digits <= 5 ? strtoul(p, NULL, 10) : 0;
	if (!digits || p[digits] || digits > 5 || n < 1 || n > 65535) {
		snprintf(why, why_len, "\"%s\": port \"%s\" is not a number from 1 to 65535", text,
		         p);
		return -EINVAL;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (strcmp(host, "*") == 0)
		host[0] = '\0';
	*port = (unsigned)n;
	return 0;
}

/* Writes a bound the way an operator would ("16K", "1m"). */
static void format_amount(const struct config_key *k, int64_t v, char *out, size_t len)
{
	const struct unit *units = k->type == CONFIG_SIZE       ? size_units
	                           : k->type == CONFIG_DURATION ? duration_units
	                                                        : NULL;
	const struct unit *best = NULL;
	for (const struct unit *u = units; u && u->suffix; u++) {
		if (v != 0 && v % u->multiplier == 0 &&
		    (!best || u->multiplier > best->multiplier) && strlen(u->suffix) <= 2 &&
		    strcmp(u->suffix, "KB") && strcmp(u->suffix, "MB") && strcmp(u->suffix, "GB"))
			best = u;
	}
	if (best && best->multiplier > 1)
		snprintf(out, len, "%lld%s", (long long)(v / best->multiplier), best->suffix);
	else
		snprintf(out, len, "%lld%s", (long long)v, k->type == CONFIG_DURATION ? "ms" : "");
}

void config_key_accepted(const struct config_key *k, char *out, size_t out_len)
{
	int n = 0;
	switch (k->type) {
	case CONFIG_STRING: n = snprintf(out, out_len, "any text"); break;
	case CONFIG_INT: n = snprintf(out, out_len, "an integer"); break;
	case CONFIG_SIZE:
		n = snprintf(out, out_len, "a size in bytes, optionally with K, M or G (x1024)");
		break;
	case CONFIG_DURATION:
		n = snprintf(out, out_len,
		             "a duration: milliseconds, or a number with ms, s, m, h or d");
		break;
	case CONFIG_BOOL: n = snprintf(out, out_len, "true/false, yes/no, on/off or 1/0"); break;
	case CONFIG_ENUM: {
		n = snprintf(out, out_len, "one of ");
		for (const char *p = k->choices; p && *p && n >= 0 && (size_t)n < out_len;) {
			size_t len = strcspn(p, "|");
			n += snprintf(out + n, out_len - (size_t)n, "%s%.*s",
			              p == k->choices ? "" : ", ", (int)len, p);
			p += len + (p[len] == '|');
		}
		break;
	}
	case CONFIG_ADDRESS_LIST:
		n = snprintf(out, out_len,
		             "HOST:PORT, [IPv6]:PORT or *:PORT with a port from 1 to 65535, "
		             "several separated by commas");
		break;
	}
	bool ranged = k->type == CONFIG_INT || k->type == CONFIG_SIZE || k->type == CONFIG_DURATION;
	if (ranged && (k->min || k->max) && n >= 0 && (size_t)n < out_len) {
		char lo[32], hi[32];
		format_amount(k, k->min, lo, sizeof(lo));
		format_amount(k, k->max, hi, sizeof(hi));
		snprintf(out + n, out_len - (size_t)n, ", from %s to %s", lo, hi);
	}
}

static const char *type_name(enum config_type type)
{
	switch (type) {
	case CONFIG_INT: return "an integer";
	case CONFIG_SIZE: return "a size";
	case CONFIG_DURATION: return "a duration";
	default: return "a value";
	}
}

int config_check_value(const struct config_key *k, const char *value, char *why, size_t why_len)
{
	int64_t v;
	switch (k->type) {
	case CONFIG_STRING: return 0;
	case CONFIG_INT:
	case CONFIG_SIZE:
	case CONFIG_DURATION: {
		const struct unit *units = k->type == CONFIG_SIZE       ? size_units
		                           : k->type == CONFIG_DURATION ? duration_units
		                                                        : NULL;
		if (!parse_scaled(value, units, &v)) {
			snprintf(why, why_len, "\"%s\" is not %s", value, type_name(k->type));
			return -EINVAL;
		}
		if ((k->min || k->max) && (v < k->min || v > k->max)) {
			snprintf(why, why_len, "%s is out of range", value);
			return -EINVAL;
		}
		return 0;
	}
	case CONFIG_BOOL:
		if (parse_bool(value) < 0) {
			snprintf(why, why_len, "\"%s\" is not a boolean", value);
			return -EINVAL;
		}
		return 0;
	case CONFIG_ENUM:
		for (const char *p = k->choices; p && *p;) {
			size_t len = strcspn(p, "|");
			if (strlen(value) == len && strncmp(value, p, len) == 0)
				return 0;
			p += len + (p[len] == '|');
		}
		snprintf(why, why_len, "\"%s\" is not a choice", value);
		return -EINVAL;
	case CONFIG_ADDRESS_LIST: {
		const char *p = value;
		while (*p) {
			p += strspn(p, ", \t");
			size_t len = strcspn(p, ", \t");
			if (!len)
				break;
			char one[300], host[256];
			unsigned port;
			if (len >= sizeof(one)) {
				snprintf(why, why_len, "an address is too long");
				return -EINVAL;
			}
			memcpy(one, p, len);
			one[len] = '\0';
			if (config_parse_address(one, host, sizeof(host), &port, why, why_len))
				return -EINVAL;
			p += len;
		}
		return 0;
	}
	}
	return 0;
}

const struct config_key *config_key_find(const struct config_key *const *tables, const char *name)
{
	for (size_t t = 0; tables[t]; t++)
		for (const struct config_key *k = tables[t]; k->name; k++)
			if (strcmp(k->name, name) == 0)
				return k;
	return NULL;
}

/* Levenshtein distance, capped: keys are short and a misspelling is near. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > CONFIG_MAX_KEY || lb > CONFIG_MAX_KEY)
		return SIZE_MAX;
	size_t row[CONFIG_MAX_KEY + 1];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diagonal = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diagonal + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diagonal = up;
		}
	}
	return row[lb];
}

struct report {
	char *out;
	size_t len, used;
	unsigned problems;
};

static void report_add(struct report *r, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void report_add(struct report *r, const char *fmt, ...)
{
	r->problems++;
	if (!r->out || r->used + 1 >= r->len)
		return;
	if (r->used)
		r->out[r->used++] = '\n';
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(r->out + r->used, r->len - r->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		r->used += (size_t)n < r->len - r->used ? (size_t)n : r->len - r->used - 1;
}

/* What an unknown key might have meant, and the keys of its section. */
static void describe_unknown(const struct config_key *const *tables, const char *name, char *out,
                             size_t len)
{
	const struct config_key *near = NULL;
	size_t near_distance = 3; /* at most two edits away */
	size_t section_len = strcspn(name, ".");
	bool section_known = false;
	for (size_t t = 0; tables[t]; t++)
		for (const struct config_key *k = tables[t]; k->name; k++) {
			size_t d = edit_distance(name, k->name);
			if (d < near_distance) {
				near = k;
				near_distance = d;
			}
			if (strncmp(k->name, name, section_len + 1) == 0 &&
			    name[section_len] == '.')
				section_known = true;
		}
	int n = near ? snprintf(out, len, "unknown key (did you mean %s?); accepted ", near->name)
	             : snprintf(out, len, "unknown key; accepted ");
	if (section_known)
		n += snprintf(out + n, len - (size_t)n, "in %.*s.:", (int)section_len, name);
	else
		n += snprintf(out + n, len - (size_t)n, "sections:");
	/* Each section or key once, in table order. */
	for (size_t t = 0; tables[t]; t++)
		for (const struct config_key *k = tables[t]; k->name && n >= 0 && (size_t)n < len;
		     k++) {
			size_t klen = strcspn(k->name, ".");
			if (section_known) {
				if (strncmp(k->name, name, section_len + 1) == 0)
					n += snprintf(out + n, len - (size_t)n, " %s",
					              k->name + section_len + 1);
				continue;
			}
			bool seen = false;
			for (size_t u = 0; u <= t && !seen && tables[u]; u++)
				for (const struct config_key *o = tables[u]; o->name && o != k; o++)
					if (strcspn(o->name, ".") == klen &&
					    strncmp(o->name, k->name, klen) == 0) {
						seen = true;
						break;
					}
			if (!seen)
				n += snprintf(out + n, len - (size_t)n, " %.*s", (int)klen,
				              k->name);
		}
}

int config_validate(const struct config *c, const struct config_key *const *tables, char *err,
                    size_t err_len)
{
	struct report r = {err, err_len, 0, 0};
	if (err && err_len)
		err[0] = '\0';
	for (size_t i = 0; c && i < c->count; i++) {
		const struct config_entry *e = &c->entries[i];
		char where[CONFIG_MAX_KEY + 64], why[512], accepted[512];
		if (e->line)
			snprintf(where, sizeof(where), "%s:%zu", c->file ? c->file : "line",
			         e->line);
		else
			snprintf(where, sizeof(where), "%s",
			         e->origin[0] ? e->origin : "command line");
		const struct config_key *k = config_key_find(tables, e->key);
		if (!k) {
			describe_unknown(tables, e->key, why, sizeof(why));
			report_add(&r, "%s: %s: %s", where, e->key, why);
			continue;
		}
		if (config_check_value(k, e->value, why, sizeof(why)) == 0)
			continue;
		config_key_accepted(k, accepted, sizeof(accepted));
		report_add(&r, "%s: %s: %s; accepted: %s", where, e->key, why, accepted);
	}
	return r.problems ? -EINVAL : 0;
}

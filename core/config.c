/* kenshod's settings: `key = value` lines overlaid by flags (see config.h). */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
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
	char *value;
	bool from_flag;
};

struct config {
	struct config_entry *entries;
	size_t count;
	size_t cap;
};

struct config *config_new(void)
{
	return calloc(1, sizeof(struct config));
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
	free(c);
}

static struct config_entry *config_find(const struct config *c, const char *key, size_t key_len)
{
	for (size_t i = 0; i < c->count; i++) {
		if (strlen(c->entries[i].key) == key_len &&
		    memcmp(c->entries[i].key, key, key_len) == 0)
			return &c->entries[i];
	}
	return NULL;
}

static int config_store(struct config *c, const char *key, size_t key_len, const char *value,
                        size_t value_len, bool from_flag)
{
	struct config_entry *e = config_find(c, key, key_len);
	if (e && e->from_flag && !from_flag)
		return 0; /* flags win over the file */
	char *v = strndup(value, value_len);
	if (!v)
		return -ENOMEM;
	if (e) {
		free(e->value);
		e->value = v;
		e->from_flag = e->from_flag || from_flag;
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
	c->entries[c->count++] = (struct config_entry){k, v, from_flag};
	return 0;
}

int config_set(struct config *c, const char *key, const char *value)
{
	return config_store(c, key, strlen(key), value, strlen(value), true);
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
	if (config_store(c, key, (size_t)(key_end - key), value, (size_t)(value_end - value),
	                 false) != 0)
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
		rc = config_parse(c, text, len, err, err_len);
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

int64_t config_get_int(const struct config *c, const char *key, int64_t fallback)
{
	int64_t v;
	return parse_scaled(config_get(c, key, NULL), NULL, &v) ? v : fallback;
}

int64_t config_get_size(const struct config *c, const char *key, int64_t fallback)
{
	static const struct unit units[] = {
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
	int64_t v;
	return parse_scaled(config_get(c, key, NULL), units, &v) ? v : fallback;
}

int64_t config_get_ms(const struct config *c, const char *key, int64_t fallback)
{
	static const struct unit units[] = {
	        {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}, {NULL, 0},
	};
	int64_t v;
	return parse_scaled(config_get(c, key, NULL), units, &v) ? v : fallback;
}

bool config_get_bool(const struct config *c, const char *key, bool fallback)
{
	const char *v = config_get(c, key, NULL);
	if (!v)
		return fallback;
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return true;
		if (strcasecmp(v, no[i]) == 0)
			return false;
	}
	return fallback;
}

void config_each(const struct config *c, const char *prefix,
                 void (*fn)(const char *key, const char *value, void *arg), void *arg)
{
	if (!c)
		return;
	size_t plen = strlen(prefix);
	for (size_t i = 0; i < c->count; i++) {
		if (strncmp(c->entries[i].key, prefix, plen) == 0)
			fn(c->entries[i].key, c->entries[i].value, arg);
	}
}

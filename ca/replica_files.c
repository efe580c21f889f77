/* See replica_files.h. */
#include "ca/replica_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUNDLE_VERSION 1
#define NAME_MAX_LEN   64
#define FILE_MAX       ((size_t)256 << 20)

static const char *const folders[] = {NULL, "ca", "crl"};
#define FOLDER_COUNT 3

static bool name_ok(const char *name, size_t len)
{
	if (len == 0 || len > NAME_MAX_LEN || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static bool ends_with(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);
	return n >= s && strcmp(name + n - s, suffix) == 0;
}

/* Which files of a folder travel. */
static bool wanted(int folder, const char *name)
{
	if (!name_ok(name, strlen(name)) || ends_with(name, ".key") || ends_with(name, ".tmp"))
		return false;
	if (folder == 1)
		return ends_with(name, ".pem") || strcmp(name, "base-url") == 0;
	return ends_with(name, ".crl");
}

static int read_file(const char *path, struct buf *out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > FILE_MAX) {
		close(fd);
		return -EINVAL;
	}
	size_t start = out->len;
	if (buf_reserve(out, (size_t)st.st_size) < 0) {
		close(fd);
		return -ENOMEM;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, out->data + start + got, (size_t)st.st_size - got);
		if (n <= 0) {
			close(fd);
			return n < 0 ? -errno : -EIO;
		}
		got += (size_t)n;
	}
	close(fd);
	out->len = start + got;
	*len = got;
	return 0;
}

int replica_files_collect(const char *data_dir, struct buf *out)
{
	uint8_t version = BUNDLE_VERSION;
	buf_append(out, &version, 1);
	for (int folder = 1; folder < FOLDER_COUNT; folder++) {
		char dir[4096];
		snprintf(dir, sizeof dir, "%s/%s", data_dir, folders[folder]);
		DIR *d = opendir(dir);
		if (!d)
			continue; /* no CRLs published yet */
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (!wanted(folder, e->d_name))
				continue;
			char path[4400];
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			size_t name_len = strlen(e->d_name);
			uint8_t head[2] = {(uint8_t)folder, (uint8_t)name_len};
			size_t mark = out->len;
			buf_append(out, head, 2);
			buf_append(out, e->d_name, name_len);
			uint8_t len_be[4] = {0};
			size_t len_at = out->len;
			buf_append(out, len_be, 4);
			size_t len = 0;
			int rc = read_file(path, out, &len);
			bool secret =
			        rc == 0 && memmem(out->data + len_at + 4, len, "PRIVATE KEY", 11);
			if (rc || secret || out->len > REPLICA_FILES_MAX) {
				out->len = mark; /* vanished, unreadable or a key: left out */
				if (rc == -ENOMEM || out->len > REPLICA_FILES_MAX) {
					closedir(d);
					return rc == -ENOMEM ? rc : -E2BIG;
				}
				continue;
			}
			for (int i = 0; i < 4; i++)
				out->data[len_at + i] = (uint8_t)(len >> (24 - 8 * i));
		}
		closedir(d);
	}
	return out->failed ? -ENOMEM : 0;
}

struct entry {
	int folder;
	char name[NAME_MAX_LEN + 1];
	const uint8_t *data;
	size_t len;
};

/* Reads the entry at *at; 1 at the end, -EBADMSG when malformed. */
static int entry_next(const uint8_t *b, size_t len, size_t *at, struct entry *e)
{
	if (*at == len)
		return 1;
	if (len - *at < 2)
		return -EBADMSG;
	e->folder = b[*at];
	size_t name_len = b[*at + 1];
	*at += 2;
	if (e->folder < 1 || e->folder >= FOLDER_COUNT || len - *at < name_len + 4 ||
	    !name_ok((const char *)b + *at, name_len))
		return -EBADMSG;
	memcpy(e->name, b + *at, name_len);
	e->name[name_len] = '\0';
	*at += name_len;
	size_t n = (size_t)b[*at] << 24 | (size_t)b[*at + 1] << 16 | (size_t)b[*at + 2] << 8 |
	           b[*at + 3];
	*at += 4;
	if (n > len - *at || n > FILE_MAX || !wanted(e->folder, e->name))
		return -EBADMSG;
	e->data = b + *at;
	e->len = n;
	if (memmem(e->data, e->len, "PRIVATE KEY", 11))
		return -EBADMSG;
	*at += n;
	return 0;
}

int replica_files_check(const uint8_t *bundle, size_t len)
{
	if (!bundle || len < 1 || len > REPLICA_FILES_MAX || bundle[0] != BUNDLE_VERSION)
		return -EBADMSG;
	size_t at = 1;
	struct entry e;
	int rc;
	while ((rc = entry_next(bundle, len, &at, &e)) == 0) {
	}
	return rc < 0 ? rc : 0;
}

/* True when path holds exactly these bytes. */
static bool same_content(const char *path, const uint8_t *data, size_t len)
{
	struct buf have = {0};
	size_t n = 0;
	bool same = read_file(path, &have, &n) == 0 && n == len &&
	            (len == 0 || memcmp(have.data, data, len) == 0);
	buf_free(&have);
	return same;
}

static int write_atomic(const char *path, const uint8_t *data, size_t len)
{
	char tmp[4300];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);
		if (n < 0) {
			int err = -errno;
			close(fd);
			unlink(tmp);
			return err;
		}
		done += (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		unlink(tmp);
		return -EIO;
	}
	return rename(tmp, path) == 0 ? 0 : -errno;
}

int replica_files_install(const char *data_dir, const uint8_t *bundle, size_t len,
                          unsigned *written)
{
	*written = 0;
	int rc = replica_files_check(bundle, len);
	if (rc)
		return rc;
	size_t at = 1;
	struct entry e;
	while ((rc = entry_next(bundle, len, &at, &e)) == 0) {
		char dir[4096], path[4200];
		snprintf(dir, sizeof dir, "%s/%s", data_dir, folders[e.folder]);
		if (mkdir(dir, 0755) != 0 && errno != EEXIST)
			return -errno;
		snprintf(path, sizeof path, "%s/%s", dir, e.name);
		if (same_content(path, e.data, e.len))
			continue;
		rc = write_atomic(path, e.data, e.len);
		if (rc)
			return rc;
		(*written)++;
	}
	return rc < 0 ? rc : 0;
}

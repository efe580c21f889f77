/* The public files of a data directory that a replica needs beside the
 * store (docs/cluster.md): DIR/ca's certificates and base-url, and DIR/crl's
 * published CRLs. Never a private key: a file is left out when its name ends
 * in .key or its text holds "PRIVATE KEY".
 *
 * Bundle, version 1: u8 1, then per file: u8 folder (1 ca, 2 crl), u8 name
 * length (1..64), name ([A-Za-z0-9._-], not starting with '.'), u32 length,
 * the bytes. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/** Largest bundle either side handles. */
#define REPLICA_FILES_MAX ((size_t)512 << 20)

/** Appends data_dir's public files to out as a bundle. 0 or -errno. */
int replica_files_collect(const char *data_dir, struct buf *out);

/** Checks a bundle strictly (-EBADMSG, before anything is written), then
 * writes each file that differs into data_dir's folder atomically (a
 * temporary file, fsync, rename). Sets *written to the files replaced.
 * 0 or -errno. */
int replica_files_install(const char *data_dir, const uint8_t *bundle, size_t len,
                          unsigned *written);

/** Only the strict check of replica_files_install (for the fuzz target). */
int replica_files_check(const uint8_t *bundle, size_t len);

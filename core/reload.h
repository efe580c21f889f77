/* Reload hooks: modules that read files at start (TLS keys, OCSP signers)
 * register a callback that SIGHUP runs in every worker. */
#pragma once
#include <stddef.h>

/** A reload callback: re-reads what it owns; on failure keeps the old state
 * and logs why. Runs on the loop thread. */
typedef void (*reload_fn)(void *arg);

/** Registers a named callback (name copied). Returns 0 or -ENOMEM. */
int reload_register(const char *name, reload_fn fn, void *arg);
/** Runs every callback in registration order. Returns how many ran. */
int reload_run_all(void);
/** Forgets the callbacks registered with this fn and arg: a module whose
 * state goes away before the process does (a handler family's dispose). */
void reload_unregister(reload_fn fn, void *arg);
/** Forgets every callback (tests, shutdown). */
void reload_reset(void);

/** Called by a callback that refused its new files (the old state stays), so
 * a caller of reload_run_all, such as the admin API, can report it. */
void reload_note_failure(const char *name, const char *why);
/** Failures noted during the last reload_run_all; the first one's
 * "name: why" goes into why (size why_len). */
int reload_last_failures(char *why, size_t why_len);

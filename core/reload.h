/* Reload hooks: modules that read files at start (TLS keys, OCSP signers)
 * register a callback that SIGHUP runs in every worker. */
#pragma once

/** A reload callback: re-reads what it owns; on failure keeps the old state
 * and logs why. Runs on the loop thread. */
typedef void (*reload_fn)(void *arg);

/** Registers a named callback (name copied). Returns 0 or -ENOMEM. */
int reload_register(const char *name, reload_fn fn, void *arg);
/** Runs every callback in registration order. Returns how many ran. */
int reload_run_all(void);
/** Forgets every callback (tests, shutdown). */
void reload_reset(void);

/* `kensho --data DIR crl --kind sign|auth [--delta] [--out FILE]`: generates
 * and publishes a CRL (DIR/crl/...) and, with --out, also copies it to FILE. */
#pragma once

/** Runs the crl subcommand; argv[0] is "crl". Returns the process exit code. */
int crl_command(int argc, char **argv, const char *data_dir);

/* Reading a PIN from the person at the terminal (no echo) or from a file
 * descriptor a calling program passes (--pin-fd N). PINs never come from the
 * command line (visible in ps and shell history) and are never logged. */
#pragma once
#include <stddef.h>

/** Longest PIN line accepted (JPKI PINs are at most 16 characters). */
#define PIN_INPUT_MAX 64

/** Reads one line: from fd when fd >= 0, else from /dev/tty after printing
 * prompt there, with echo off. The newline is dropped; out (capacity cap)
 * is NUL-terminated and *len set. Returns 0, -ENOTTY (no terminal and no fd),
 * -ENODATA (empty input) or -EIO. */
int pin_input_read(int fd, const char *prompt, char *out, size_t cap, size_t *len);

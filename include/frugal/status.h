/* status.h: error reporting for the whole library.
 *
 * Every fallible function returns an int status: 0 (FR_OK) on success, a
 * negative FR_E* code on failure, and sets a one-line, human-readable message
 * that fr_last_error() returns. The message is thread-local. The library never
 * prints to stdout and never exits; only the CLI chooses exit codes.
 * Functions returning pointers return NULL on failure and set the message too.
 */
#ifndef FRUGAL_STATUS_H
#define FRUGAL_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

enum fr_status {
    FR_OK = 0,
    FR_EINVAL = -1,   /* bad argument: shape, value, flag */
    FR_ENOMEM = -2,   /* allocation failed */
    FR_EIO = -3,      /* file could not be opened, read or written */
    FR_EFORMAT = -4,  /* malformed file contents */
    FR_ENOTFOUND = -5 /* named thing (tensor, dataset, model) does not exist */
};

/* The message set by the last failing call on this thread ("" if none). */
const char *fr_last_error(void);

/* Sets the message (printf-style) and returns code, so callers can write
 * `return fr_error(FR_EINVAL, "bad shape %d", n);`. */
int fr_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears the message. */
void fr_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif

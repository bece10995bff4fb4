/* status.c: the thread-local last-error message behind fr_last_error(). */
#include "frugal/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char g_msg[512];

const char *fr_last_error(void) {
    return g_msg;
}

/* Formats into a scratch buffer first: callers often pass fr_last_error()
 * itself as an argument ("%s: %s", path, fr_last_error()), which would
 * otherwise be read while it is written. */
int fr_error(int code, const char *fmt, ...) {
    char msg[sizeof g_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(g_msg, msg, sizeof g_msg);
    return code;
}

void fr_clear_error(void) {
    g_msg[0] = 0;
}

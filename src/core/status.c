/* status.c: the thread-local last-error message behind fr_last_error(). */
#include "frugal/status.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char g_msg[512];

const char *fr_last_error(void) {
    return g_msg;
}

int fr_error(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    return code;
}

void fr_clear_error(void) {
    g_msg[0] = 0;
}

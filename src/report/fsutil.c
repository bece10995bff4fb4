/* fsutil.c: see fsutil.h. */
#include "fsutil.h"

#include "frugal/status.h"

#include "../core/file.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fr_mkdirs(const char *dir) {
    char tmp[4096];
    size_t n = strlen(dir);
    if (n == 0) return 0;
    if (n >= sizeof tmp) return fr_error(FR_EINVAL, "path too long: %.64s...", dir);
    memcpy(tmp, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0') continue;
        char c = tmp[i];
        tmp[i] = '\0';
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
            return fr_error(FR_EIO, "cannot create directory %s: %s", tmp, strerror(errno));
        struct stat st;
        if (stat(tmp, &st) != 0 || !S_ISDIR(st.st_mode))
            return fr_error(FR_EIO, "%s exists and is not a directory", tmp);
        tmp[i] = c;
    }
    return 0;
}

int fr_mkdirs_for(const char *path) {
    char dir[4096];
    if (!path || !*path) return 0;
    if ((size_t)snprintf(dir, sizeof dir, "%s", path) >= sizeof dir)
        return fr_error(FR_EINVAL, "path too long: %.64s...", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return 0;
    *slash = '\0';
    return fr_mkdirs(dir);
}

int rp_write_file(const char *path, const char *data, size_t n) {
    char dir[4096];
    int rc = 0;
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if ((rc = fr_mkdirs(dir)) != 0) return rc;
    }
    struct fr_atomic a;
    if ((rc = fr_atomic_open(&a, path, "report"))) return rc;
    fr_atomic_write(&a, data, n);
    return fr_atomic_commit(&a);
}

static void grow(struct rp_buf *b, size_t extra) {
    if (b->oom || b->n + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + extra + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return;
    }
    b->p = p;
    b->cap = cap;
}

void rp_printf(struct rp_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0) return;
    grow(b, (size_t)need);
    if (b->oom) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    b->n += (size_t)need;
}

void rp_puts(struct rp_buf *b, const char *s) {
    size_t n = strlen(s);
    grow(b, n);
    if (b->oom) return;
    memcpy(b->p + b->n, s, n + 1);
    b->n += n;
}

void rp_escape(struct rp_buf *b, const char *s) {
    char one[2] = {0, 0};
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            rp_puts(b, "&amp;");
            break;
        case '<':
            rp_puts(b, "&lt;");
            break;
        case '>':
            rp_puts(b, "&gt;");
            break;
        case '"':
            rp_puts(b, "&quot;");
            break;
        case '\'':
            rp_puts(b, "&#39;");
            break;
        default:
            /* control characters are not allowed in XML 1.0 text */
            one[0] = ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t') ? '?' : *s;
            rp_puts(b, one);
        }
    }
}

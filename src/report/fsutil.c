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

/* fr_mkdirs that remembers what it made: *made gets the length of the
 * shortest prefix of dir it created (0: none), so undo_mkdirs can remove
 * exactly those again. */
static int mkdirs_undoable(const char *dir, size_t *made) {
    char tmp[4096];
    size_t n = strlen(dir);
    *made = 0;
    if (n >= sizeof tmp) return fr_error(FR_EINVAL, "path too long: %.64s...", dir);
    memcpy(tmp, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0') continue;
        char c = tmp[i];
        tmp[i] = '\0';
        if (mkdir(tmp, 0777) == 0) {
            if (!*made) *made = i;
        } else if (errno != EEXIST) {
            return fr_error(FR_EIO, "cannot create directory %s: %s", tmp, strerror(errno));
        }
        struct stat st;
        if (stat(tmp, &st) != 0 || !S_ISDIR(st.st_mode))
            return fr_error(FR_EIO, "%s exists and is not a directory", tmp);
        tmp[i] = c;
    }
    return 0;
}

static void undo_mkdirs(const char *dir, size_t made) {
    char tmp[4096];
    if (!made || snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp) return;
    for (size_t n = strlen(tmp); n >= made;) {
        rmdir(tmp);
        char *slash = strrchr(tmp, '/');
        if (!slash || slash == tmp) break;
        *slash = '\0';
        n = strlen(tmp);
    }
}

/* In dir (made when missing, and removed again), creates and removes a
 * uniquely named file beginning with name. */
static int probe(const char *dir, const char *name, const char *shown) {
    char tmp[4200];
    size_t made = 0;
    int rc = *dir ? mkdirs_undoable(dir, &made) : 0;
    if (rc) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", fr_last_error());
        undo_mkdirs(dir, made);
        return fr_error(rc, "cannot write %s: %s", shown, msg);
    }
    if ((size_t)snprintf(tmp, sizeof tmp, "%s%s%s.probe.XXXXXX", dir, *dir ? "/" : "", name) >=
        sizeof tmp) {
        undo_mkdirs(dir, made);
        return fr_error(FR_EINVAL, "path too long: %.64s...", shown);
    }
    int fd = mkstemp(tmp);
    if (fd < 0) rc = fr_error(FR_EIO, "cannot write %s: %s", shown, strerror(errno));
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    undo_mkdirs(dir, made);
    return rc;
}

int fr_check_writable(const char *path) {
    char dir[4096];
    struct stat st;
    if (!path || !*path) return 0;
    if ((size_t)snprintf(dir, sizeof dir, "%s", path) >= sizeof dir)
        return fr_error(FR_EINVAL, "path too long: %.64s...", path);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return fr_error(FR_EIO, "cannot write %s: it is a directory", path);
    char *slash = strrchr(dir, '/');
    const char *name = slash ? slash + 1 : dir;
    if (!*name) return fr_error(FR_EIO, "cannot write %s: it names a directory", path);
    if (slash == dir) return probe("/", name, path);
    if (slash) *slash = '\0';
    return probe(slash ? dir : "", name, path);
}

int fr_check_writable_dir(const char *dir) {
    return dir && *dir ? probe(dir, ".frugal", dir) : 0;
}

int fr_rescue_path(const char *path, char *buf, size_t cap) {
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    const char *tmpdir = getenv("TMPDIR");
    const char *dirs[3] = {tmpdir && *tmpdir ? tmpdir : "/tmp", "/tmp", "."};
    if (!*base) base = "output";
    for (int i = 0; i < 3; i++) {
        int n = snprintf(buf, cap, "%s/frugal-rescue-XXXXXX-%s", dirs[i], base);
        if (n < 0 || (size_t)n >= cap) continue;
        int fd = mkstemps(buf, (int)strlen(base) + 1);
        if (fd >= 0) {
            close(fd);
            return 0;
        }
    }
    if (cap) buf[0] = '\0';
    return fr_error(FR_EIO, "no rescue file for %s could be made in $TMPDIR, /tmp or .", path);
}

int fr_write_rescued(int rc, const char *path, const char *what,
                     int (*write)(void *user, const char *path), void *user, char *rescued,
                     size_t cap) {
    char why[512], spare[4200];
    snprintf(why, sizeof why, "%s", fr_last_error());
    if (fr_rescue_path(path, spare, sizeof spare) == 0) {
        if (write(user, spare) == 0) {
            /* the message first: rescued may be path's own buffer */
            fr_error(rc, "cannot write %s (%s); %s was saved to %s instead", path, why, what,
                     spare);
            if (rescued) snprintf(rescued, cap, "%s", spare);
            return rc;
        }
        unlink(spare);
    }
    char why2[512];
    snprintf(why2, sizeof why2, "%s", fr_last_error());
    fr_error(rc, "cannot write %s (%s), nor a rescue copy of %s (%s)", path, why, what, why2);
    if (rescued && cap) rescued[0] = '\0';
    return rc;
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

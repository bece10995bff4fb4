/* file.c: opening files to read, whole-file reading, atomic writing (see
 * file.h). */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "frugal/status.h"

static int not_regular(const char *path, mode_t mode) {
    const char *kind = S_ISDIR(mode)                    ? "a directory"
                       : S_ISFIFO(mode)                 ? "a FIFO"
                       : S_ISCHR(mode) || S_ISBLK(mode) ? "a device"
                       : S_ISSOCK(mode)                 ? "a socket"
                                                        : "not a file";
    return fr_error(FR_EIO, "%s is not a regular file (%s)", path, kind);
}

int fr_open_regular(const char *path, int64_t *size) {
    struct stat st;
    if (stat(path, &st) != 0) return fr_error(FR_EIO, "cannot open %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return not_regular(path, st.st_mode);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return fr_error(FR_EIO, "cannot open %s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        int rc = fr_error(FR_EIO, "cannot open %s: %s", path, strerror(errno));
        close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) { /* replaced since the stat above */
        close(fd);
        return not_regular(path, st.st_mode);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl != -1) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    if (size) *size = (int64_t)st.st_size;
    return fd;
}

char *fr_read_file(const char *path, size_t max, size_t *n_out) {
    int fd = fr_open_regular(path, NULL);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    if (!f) {
        fr_error(FR_EIO, "cannot open %s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    for (;;) {
        if (cap - n < 4096) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                fr_error(FR_ENOMEM, "out of memory reading %s", path);
                goto fail;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n > max) {
            fr_error(FR_EFORMAT, "%s is larger than %zu bytes", path, max);
            goto fail;
        }
        if (got == 0) break;
    }
    if (ferror(f)) {
        fr_error(FR_EIO, "cannot read %s: %s", path, strerror(errno));
        goto fail;
    }
    fclose(f);
    buf[n] = '\0';
    if (n_out) *n_out = n;
    return buf;
fail:
    fclose(f);
    free(buf);
    return NULL;
}

/* ---------------- atomic writing ---------------- */

/* Creates "PATH.tmp.XXXXXX" exclusively (mkstemp's method, but with mode
 * 0666 so the umask decides the finished file's permissions, as for any
 * other file the user creates). */
static int create_tmp(struct fr_atomic *a) {
    static atomic_uint counter;
    size_t n = strlen(a->path);
    a->tmp = malloc(n + 16);
    if (!a->tmp) return fr_error(FR_ENOMEM, "%s: out of memory", a->what);
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    for (int attempt = 0; attempt < 100; attempt++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30 ^ (uint64_t)getpid() << 20 ^
                     (uint64_t)atomic_fetch_add(&counter, 1) * 0x9e3779b97f4a7c15u;
        x ^= x >> 29;
        x *= 0xbf58476d1ce4e5b9u;
        x ^= x >> 32;
        memcpy(a->tmp, a->path, n);
        memcpy(a->tmp + n, ".tmp.", 5);
        for (int i = 0; i < 6; i++, x /= 62)
            a->tmp[n + 5 + i] = digits[x % 62];
        a->tmp[n + 11] = 0;
        int fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno == EEXIST) continue;
        if (fd < 0)
            return fr_error(FR_EIO, "%s: cannot create %s: %s", a->what, a->tmp, strerror(errno));
        a->fp = fdopen(fd, "wb");
        if (!a->fp) {
            int e = errno;
            close(fd);
            unlink(a->tmp);
            return fr_error(FR_EIO, "%s: cannot create %s: %s", a->what, a->tmp, strerror(e));
        }
        return 0;
    }
    return fr_error(FR_EIO, "%s: cannot find a free temporary name beside %s", a->what, a->path);
}

int fr_atomic_open(struct fr_atomic *a, const char *path, const char *what) {
    memset(a, 0, sizeof *a);
    a->what = what;
    a->path = strdup(path);
    if (!a->path) return fr_error(FR_ENOMEM, "%s: out of memory", what);
    int rc = create_tmp(a);
    if (rc) {
        free(a->tmp);
        free(a->path);
        memset(a, 0, sizeof *a);
    }
    return rc;
}

int fr_atomic_write(struct fr_atomic *a, const void *p, size_t n) {
    if (a->err) return FR_EIO;
    if (n == 0) return 0;
    errno = 0;
    if (!a->fp || fwrite(p, 1, n, a->fp) != n) {
        a->err = errno ? errno : EIO;
        return FR_EIO;
    }
    return 0;
}

/* fsync of the directory holding path, so the rename itself is durable. */
static void sync_dir(const char *path) {
    char *copy = strdup(path);
    if (!copy) return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

static void release(struct fr_atomic *a) {
    free(a->tmp);
    free(a->path);
    memset(a, 0, sizeof *a);
}

void fr_atomic_abort(struct fr_atomic *a) {
    if (a->fp) {
        fclose(a->fp);
        unlink(a->tmp);
    }
    release(a);
}

int fr_atomic_commit(struct fr_atomic *a) {
    if (!a->fp) {
        release(a);
        return fr_error(FR_EIO, "atomic write: nothing open to commit");
    }
    int err = a->err;
    errno = 0;
    if (!err && fflush(a->fp) != 0) err = errno ? errno : EIO;
    if (!err && fsync(fileno(a->fp)) != 0) err = errno;
    if (fclose(a->fp) != 0 && !err) err = errno ? errno : EIO;
    a->fp = NULL;
    int rc = 0;
    if (err) {
        rc = fr_error(FR_EIO, "%s: cannot write %s: %s", a->what, a->path, strerror(err));
    } else if (rename(a->tmp, a->path) != 0) {
        err = errno;
        rc = fr_error(FR_EIO, "%s: cannot rename %s to %s: %s", a->what, a->tmp, a->path,
                      strerror(err));
    }
    if (rc)
        unlink(a->tmp);
    else
        sync_dir(a->path);
    release(a);
    return rc;
}

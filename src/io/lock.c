/* lock.c: the advisory lock that keeps two live processes from writing one
 * checkpoint path (fr_ckpt_lock, io.h).
 *
 * The lock is flock(LOCK_EX | LOCK_NB) on "PATH.lock", which holds the
 * holder's pid for the message a second process gets. flock belongs to the
 * open file and dies with the process, so a crashed run leaves at most a
 * stale, unlocked file that the next run simply takes. The holder removes
 * the file when it lets go (nobody else can hold it then); a process that
 * opened the file just before that removal and locked the orphaned inode
 * notices that the path no longer names its file and tries again, so two
 * processes never both believe they hold the lock. Not for NFS.
 */
#include "frugal/io.h"
#include "frugal/status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static char *lock_path(const char *path) {
    size_t n = strlen(path);
    char *p = malloc(n + 6);
    if (p) {
        memcpy(p, path, n);
        memcpy(p + n, ".lock", 6);
    }
    return p;
}

/* The pid a holder wrote into its lock file, or 0. */
static long holder_pid(int fd) {
    char buf[32];
    ssize_t k = pread(fd, buf, sizeof buf - 1, 0);
    if (k <= 0) return 0;
    buf[k] = 0;
    return strtol(buf, NULL, 10);
}

int fr_ckpt_lock(const char *path, int *fd) {
    *fd = -1;
    if (!path || !path[0]) return fr_error(FR_EINVAL, "checkpoint lock: empty path");
    char *lp = lock_path(path);
    if (!lp) return fr_error(FR_ENOMEM, "checkpoint lock: out of memory");
    int rc = 0;
    for (int attempt = 0;; attempt++) {
        int f = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (f < 0) {
            rc = fr_error(FR_EIO, "cannot create the lock file %s: %s", lp, strerror(errno));
            break;
        }
        if (flock(f, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            long pid = e == EWOULDBLOCK ? holder_pid(f) : 0;
            close(f);
            if (e != EWOULDBLOCK) {
                rc = fr_error(FR_EIO, "cannot lock %s: %s", lp, strerror(e));
            } else if (pid > 0) {
                rc = fr_error(FR_EIO,
                              "checkpoint %s is being written by another live process (pid %ld "
                              "holds %s); two runs cannot share one checkpoint path",
                              path, pid, lp);
            } else {
                rc = fr_error(FR_EIO,
                              "checkpoint %s is being written by another live process (%s is "
                              "locked); two runs cannot share one checkpoint path",
                              path, lp);
            }
            break;
        }
        struct stat a, b;
        if (fstat(f, &a) == 0 && stat(lp, &b) == 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino) {
            char pid[32];
            int k = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
            int noted = ftruncate(f, 0) == 0 && pwrite(f, pid, (size_t)k, 0) == k;
            (void)noted; /* the pid is only for messages; the lock is what counts */
            *fd = f;
            break;
        }
        close(f); /* its holder removed the file as we opened it: take the new one */
        if (attempt == 100) {
            rc = fr_error(FR_EIO, "cannot lock %s: it keeps being replaced", lp);
            break;
        }
    }
    free(lp);
    return rc;
}

void fr_ckpt_unlock(const char *path, int fd) {
    if (fd < 0) return;
    char *lp = path ? lock_path(path) : NULL;
    struct stat a, b;
    /* remove the file only while it is still the one this lock is on */
    if (lp && fstat(fd, &a) == 0 && stat(lp, &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino)
        unlink(lp);
    free(lp);
    close(fd);
}

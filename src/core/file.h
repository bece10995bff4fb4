/* file.h: the library's file plumbing (private to the library): opening a
 * file to read it (regular files only), the one whole-file reader, and the
 * one atomic writer. */
#ifndef FRUGAL_CORE_FILE_H
#define FRUGAL_CORE_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Opens path read-only, refusing anything but a regular file: a FIFO would
 * block in open() or read() forever, a directory or a device confuses the
 * parsers. stat() is checked before opening, and the opened descriptor is
 * checked again (the path may change in between; the open itself is
 * O_NONBLOCK so even then it cannot hang). Returns the descriptor (>= 0,
 * close-on-exec, blocking) and *size (may be NULL) the file's size, or a
 * negative status with the message set: FR_EIO "cannot open PATH: reason"
 * or "PATH is not a regular file (a directory)". */
int fr_open_regular(const char *path, int64_t *size);

/* Reads the whole regular file at path into a malloc'd buffer with a NUL
 * after the last byte; *n_out (may be NULL) gets the byte count. Refuses
 * files larger than max bytes. NULL on failure with the message set: FR_EIO
 * (as fr_open_regular, read errors), FR_EFORMAT (too large), FR_ENOMEM.
 * Reads in growing chunks and never trusts a size it has not read (files in
 * /proc report 0 bytes). */
char *fr_read_file(const char *path, size_t max, size_t *n_out);

/* An atomic file write: the bytes go to a temporary file beside the target
 * with a name unique to this writer ("PATH.tmp.XXXXXX", created exclusively,
 * so two writers of one path never share it), which fr_atomic_commit
 * flushes, fsyncs and renames over the target, then fsyncs the directory.
 * Every write's result is checked (a full disk, or a file-size limit where
 * SIGXFSZ is ignored, gives EFBIG), the first failure is kept, and any
 * failure removes the temporary file: the target is the old file or the
 * whole new one, and nothing else is left behind.
 *
 *     struct fr_atomic a;
 *     if ((rc = fr_atomic_open(&a, path, "safetensors write"))) return rc;
 *     fr_atomic_write(&a, header, n); ...           // errors are sticky
 *     return fr_atomic_commit(&a);                  // or fr_atomic_abort(&a)
 */
struct fr_atomic {
    FILE *fp;
    char *path, *tmp;
    const char *what; /* message prefix */
    int err;          /* errno of the first failed write, 0 if none */
};
/* FR_EIO "WHAT: cannot create PATH.tmp.XXXXXX: reason", FR_ENOMEM. */
int fr_atomic_open(struct fr_atomic *a, const char *path, const char *what);
/* Appends n bytes (no-op after a failure); 0 or FR_EIO. */
int fr_atomic_write(struct fr_atomic *a, const void *p, size_t n);
/* Finishes: 0, or FR_EIO "WHAT: cannot write PATH: reason" with the
 * temporary file removed. Frees a either way. */
int fr_atomic_commit(struct fr_atomic *a);
/* Abandons the write: closes and removes the temporary file, frees a.
 * Safe on a zeroed struct. */
void fr_atomic_abort(struct fr_atomic *a);

#endif

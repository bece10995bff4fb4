/* fsutil.h: file helpers private to src/report: recursive mkdir, atomic
 * whole-file write and text escaping (reading: src/core/file.h) for XML/HTML. */
#ifndef FRUGAL_REPORT_FSUTIL_H
#define FRUGAL_REPORT_FSUTIL_H

#include "frugal/report.h"

#include <stddef.h>

/* Writes n bytes to path atomically (fr_atomic_open: a unique temporary file
 * beside it, every write checked, fsync, rename), creating parent dirs. */
int rp_write_file(const char *path, const char *data, size_t n);

/* A growable string. */
struct rp_buf {
    char *p;
    size_t n, cap;
    int oom;
};
void rp_printf(struct rp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rp_puts(struct rp_buf *b, const char *s);
/* Appends s with & < > " ' escaped (valid in XML and HTML text and attributes). */
void rp_escape(struct rp_buf *b, const char *s);

/* The cJSON tree behind a results document (results.c), for html.c. */
struct fr_results;
const void *rp_results_json(const struct fr_results *r);

#endif

/* idx.c: IDX arrays (LeCun's MNIST format, also used by Fashion-MNIST).
 *
 * Layout: 0x00 0x00, a type byte, a dims byte, then one big-endian u32 per
 * dim (outermost first), then the big-endian payload. Files are usually
 * gzip-compressed; zlib's gzread reads plain files transparently, so one
 * code path serves both.
 *
 * Hostile input: dims and sizes are checked before use, and the payload
 * buffer grows only as bytes actually arrive (a 20-byte file that claims
 * 4 GB allocates about 1 MB before it is found truncated). Depends only on
 * src/core's status.c and file.c (opening regular files only) and zlib, so
 * the fuzz target links just those.
 */
#include "frugal/io.h"
#include "frugal/status.h"

#include "../core/file.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define CHUNK ((size_t)1 << 20)

/* Reads exactly n bytes; 0 ok, else sets an error. */
static int read_exact(gzFile g, void *buf, size_t n, const char *path, const char *what) {
    size_t got = 0;
    while (got < n) {
        size_t want = n - got < CHUNK ? n - got : CHUNK;
        int r = gzread(g, (char *)buf + got, (unsigned)want);
        if (r < 0) {
            int zerr;
            const char *m = gzerror(g, &zerr);
            return fr_error(FR_EFORMAT, "%s: corrupt data while reading the %s: %s", path, what, m);
        }
        if (r == 0)
            return fr_error(FR_EFORMAT, "%s: file truncated in the %s (%zu of %zu bytes)", path,
                            what, got, n);
        got += (size_t)r;
    }
    return 0;
}

static void swap_bytes(uint8_t *p, int64_t n, int size) {
    for (int64_t i = 0; i < n; i++, p += size)
        for (int a = 0, b = size - 1; a < b; a++, b--) {
            uint8_t t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

void fr_idx_free(struct fr_idx *x) {
    if (!x) return;
    free(x->data);
    memset(x, 0, sizeof *x);
}

int fr_idx_load(const char *path, struct fr_idx *out) {
    int rc = 0;
    uint8_t *raw = NULL;
    memset(out, 0, sizeof *out);
    int fd = fr_open_regular(path, NULL);
    if (fd < 0) return fd;
    gzFile g = gzdopen(fd, "rb"); /* owns fd from here on */
    if (!g) {
        close(fd);
        return fr_error(FR_ENOMEM, "%s: cannot start zlib", path);
    }
    uint8_t magic[4];
    if ((rc = read_exact(g, magic, 4, path, "magic number"))) goto cleanup;
    int fsize = 0; /* element bytes in the file */
    enum fr_dtype dt = FR_U8;
    switch (magic[2]) {
    case 0x08:
        dt = FR_U8, fsize = 1;
        break;
    case 0x09:
        dt = FR_I8, fsize = 1;
        break;
    case 0x0B:
        dt = FR_I32, fsize = 2;
        break;
    case 0x0C:
        dt = FR_I32, fsize = 4;
        break;
    case 0x0D:
        dt = FR_F32, fsize = 4;
        break;
    case 0x0E:
        dt = FR_F64, fsize = 8;
        break;
    default:
        break;
    }
    if (magic[0] != 0 || magic[1] != 0 || fsize == 0) {
        rc = fr_error(FR_EFORMAT, "%s: not an IDX file (magic %02x %02x %02x %02x)", path, magic[0],
                      magic[1], magic[2], magic[3]);
        goto cleanup;
    }
    int ndim = magic[3];
    if (ndim < 1 || ndim > FR_IDX_MAX_DIMS) {
        rc = fr_error(FR_EFORMAT, "%s: IDX file has %d dims (1..%d supported)", path, ndim,
                      FR_IDX_MAX_DIMS);
        goto cleanup;
    }
    uint8_t dims[4 * FR_IDX_MAX_DIMS];
    if ((rc = read_exact(g, dims, 4 * (size_t)ndim, path, "dimensions"))) goto cleanup;
    uint64_t n = 1;
    int zero = 0;
    for (int d = 0; d < ndim; d++) {
        const uint8_t *b = dims + 4 * d;
        uint64_t v = (uint64_t)b[0] << 24 | (uint64_t)b[1] << 16 | (uint64_t)b[2] << 8 | b[3];
        out->dims[d] = (int64_t)v;
        if (v == 0)
            zero = 1;
        else if (n <= FR_IDX_MAX_BYTES)
            n *= v; /* both <= 2^32: no overflow */
    }
    if (zero) n = 0;
    size_t osize = dt == FR_I32 ? 4 : (size_t)fsize;
    if (n > FR_IDX_MAX_BYTES / osize) {
        rc = fr_error(FR_EFORMAT, "%s: IDX array is larger than %llu bytes", path,
                      (unsigned long long)FR_IDX_MAX_BYTES);
        goto cleanup;
    }
    size_t fbytes = (size_t)n * (size_t)fsize, cap = 0, got = 0;
    while (got < fbytes) {
        if (got == cap) {
            size_t ncap = cap ? cap * 2 : CHUNK;
            if (ncap > fbytes) ncap = fbytes;
            uint8_t *nr = realloc(raw, ncap);
            if (!nr) {
                rc = fr_error(FR_ENOMEM, "%s: out of memory reading %zu bytes", path, fbytes);
                goto cleanup;
            }
            raw = nr;
            cap = ncap;
        }
        size_t want = cap - got < CHUNK ? cap - got : CHUNK;
        int r = gzread(g, raw + got, (unsigned)want);
        if (r <= 0) {
            int zerr;
            rc = r < 0 ? fr_error(FR_EFORMAT, "%s: corrupt data: %s", path, gzerror(g, &zerr))
                       : fr_error(FR_EFORMAT, "%s: file truncated (%zu of %zu data bytes)", path,
                                  got, fbytes);
            goto cleanup;
        }
        got += (size_t)r;
    }
    uint8_t extra;
    int r = gzread(g, &extra, 1);
    if (r != 0) {
        rc = fr_error(FR_EFORMAT, "%s: %s after the %zu data bytes", path,
                      r > 0 ? "unexpected trailing bytes" : "corrupt compressed data", fbytes);
        goto cleanup;
    }
    if (fsize > 1) swap_bytes(raw, (int64_t)n, fsize);
    if (fsize == 2) { /* widen i16 to i32 */
        int32_t *w = malloc(n ? n * 4 : 4);
        if (!w) {
            rc = fr_error(FR_ENOMEM, "%s: out of memory", path);
            goto cleanup;
        }
        for (uint64_t i = 0; i < n; i++) {
            int16_t v;
            memcpy(&v, raw + 2 * i, 2);
            w[i] = v;
        }
        free(raw);
        raw = (uint8_t *)w;
    }
    if (!raw) raw = malloc(1); /* an empty array still owns a buffer */
    if (!raw) {
        rc = fr_error(FR_ENOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    out->dtype = dt;
    out->ndim = ndim;
    out->n = (int64_t)n;
    out->data = raw;
    raw = NULL;
cleanup:
    gzclose(g);
    free(raw);
    if (rc) memset(out, 0, sizeof *out);
    return rc;
}

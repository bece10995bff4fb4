/* file.c: whole-file reading (see file.h). */
#include "file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/status.h"

char *fr_read_file(const char *path, size_t max, size_t *n_out) {
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    if (!f) {
        fr_error(FR_EIO, "cannot open %s: %s", path, strerror(errno));
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
        fr_error(FR_EIO, "cannot read %s", path);
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

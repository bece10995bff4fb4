/* fuzz_safetensors.c: libFuzzer target for the safetensors reader (and, on
 * what it accepts, the writer and the finiteness check).
 *
 * Any input must either be rejected with a one-line message or be accepted
 * with entries whose every byte lies inside the input; accepted files with
 * few small tensors are written back with fr_st_write, re-read, and must
 * come back identical (names, dtypes, shapes, bytes, metadata). Violations
 * abort, which libFuzzer reports as a crash.
 */
#include "frugal/io.h"
#include "frugal/status.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t esize(enum fr_dtype dt) {
    switch (dt) {
    case FR_F64:
    case FR_I64:
        return 8;
    case FR_F32:
    case FR_I32:
        return 4;
    case FR_F16:
    case FR_BF16:
        return 2;
    default:
        return 1;
    }
}

#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "invariant failed: %s (%s:%d)\n", #c, __FILE__, __LINE__);             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void round_trip(const struct fr_st_file *f) {
    static char path[512];
    if (!path[0]) {
        const char *dir = getenv("TMPDIR"); /* slow_fuzz points it at its own directory */
        snprintf(path, sizeof path, "%s/frugal-fuzz-st-%d", dir && *dir ? dir : "/tmp",
                 (int)getpid());
    }
    struct fr_st_out out[16];
    int n = 0;
    for (int i = 0; i < f->n; i++) {
        const struct fr_st_entry *e = &f->entries[i];
        if (e->ndim > FR_MAX_DIMS || e->nbytes > 4096) return;
        out[n] = (struct fr_st_out){
            .name = e->name, .dtype = e->dtype, .ndim = e->ndim, .data = e->data};
        for (int d = 0; d < e->ndim; d++)
            out[n].ne[d] = e->shape[e->ndim - 1 - d];
        n++;
    }
    if (fr_st_write(path, out, n, (const char *const *)f->meta_keys,
                    (const char *const *)f->meta_vals, f->nmeta) != 0) {
        /* the only legitimate refusal: names the writer reserves or cannot take */
        REQUIRE(strstr(fr_last_error(), "name") || strstr(fr_last_error(), "__metadata__") ||
                strstr(fr_last_error(), "header"));
        return;
    }
    struct fr_st_file *g = NULL;
    REQUIRE(fr_st_open(path, &g) == 0);
    REQUIRE(g->n == f->n);
    for (int i = 0; i < f->n; i++) {
        const struct fr_st_entry *a = &f->entries[i], *b = fr_st_find(g, a->name);
        REQUIRE(b && b->dtype == a->dtype && b->ndim == a->ndim && b->nbytes == a->nbytes);
        REQUIRE(memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof a->shape[0]) == 0);
        REQUIRE(a->nbytes == 0 || memcmp(a->data, b->data, a->nbytes) == 0);
    }
    for (int i = 0; i < f->nmeta; i++) {
        const char *v = fr_st_meta(g, f->meta_keys[i]);
        REQUIRE(v && strcmp(v, fr_st_meta(f, f->meta_keys[i])) == 0);
    }
    fr_st_close(g);
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct fr_st_file *f = NULL;
    fr_clear_error();
    int rc = fr_st_open_mem(data, size, &f);
    if (rc) {
        const char *m = fr_last_error();
        REQUIRE(f == NULL && rc == FR_EFORMAT && m[0] && !strchr(m, '\n'));
        return 0;
    }
    float *buf = NULL;
    for (int i = 0; i < f->n; i++) {
        const struct fr_st_entry *e = &f->entries[i];
        const uint8_t *p = e->data;
        REQUIRE(p >= data + 8 && p + e->nbytes <= data + size);
        REQUIRE(e->nbytes == (size_t)e->nelem * esize(e->dtype));
        REQUIRE(fr_st_find(f, e->name) == e);
        if (i) REQUIRE(e->begin >= f->entries[i - 1].end);
        if (e->nelem <= (1 << 16)) {
            float *nb = realloc(buf, (size_t)(e->nelem ? e->nelem : 1) * sizeof *buf);
            REQUIRE(nb);
            buf = nb;
            fr_st_entry_to_f32(e, buf);
            /* the finiteness check agrees with the converted values */
            int64_t bad = -1;
            for (int64_t k = 0; k < e->nelem && bad < 0; k++)
                if (!isfinite(buf[k])) bad = k;
            fr_clear_error();
            int fin = fr_st_check_finite(e);
            REQUIRE((fin == 0) == (bad < 0));
            if (fin) {
                char at[48];
                snprintf(at, sizeof at, "element %lld ", (long long)bad);
                REQUIRE(fin == FR_EFORMAT && strstr(fr_last_error(), at) &&
                        !strchr(fr_last_error(), '\n'));
            }
        }
        int ndim;
        int64_t ne[FR_MAX_DIMS];
        if (fr_st_entry_ne(e, &ndim, ne) == 0) REQUIRE(fr_st_check_shape(e, e->ndim, ne) == 0);
    }
    for (int i = 0; i < f->nmeta; i++)
        REQUIRE(fr_st_meta(f, f->meta_keys[i]) != NULL);
    free(buf);
    if (f->n <= 16) round_trip(f);
    fr_st_close(f);
    return 0;
}

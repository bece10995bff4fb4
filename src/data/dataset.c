/* dataset.c: in-memory image classification datasets, the seeded split, the
 * mini-batch loader and its augmentation (see data.h).
 *
 * Resume by construction: the order of epoch e is a permutation drawn from
 * a generator seeded with (seed, e), so it depends on nothing that happened
 * before; the augmentation generator is part of the saved state and is
 * advanced by a fixed number of draws per sample (2 for crop, 1 for flip,
 * in that order), whether or not the draw changes the image.
 */
#include "frugal/data.h"
#include "frugal/io.h"
#include "frugal/status.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void fr_dataset_free(struct fr_dataset *ds) {
    if (!ds) return;
    free(ds->x);
    free(ds->y);
    memset(ds, 0, sizeof *ds);
}

int fr_dataset_from_idx(struct fr_dataset *ds, const char *images, const char *labels, float mean,
                        float std, int64_t limit) {
    int rc = 0;
    struct fr_idx im = {0}, lb = {0};
    memset(ds, 0, sizeof *ds);
    if (!(std > 0.0f) || !isfinite(mean))
        return fr_error(FR_EINVAL, "dataset: std must be > 0 and mean finite");
    if ((rc = fr_idx_load(images, &im)) || (rc = fr_idx_load(labels, &lb))) goto cleanup;
    if (im.dtype != FR_U8 || im.ndim != 3) {
        rc = fr_error(FR_EFORMAT, "%s: expected u8 images with dims (N, H, W), got %d dims", images,
                      im.ndim);
        goto cleanup;
    }
    if (lb.dtype != FR_U8 || lb.ndim != 1) {
        rc = fr_error(FR_EFORMAT, "%s: expected u8 labels with dims (N)", labels);
        goto cleanup;
    }
    if (im.dims[0] != lb.dims[0]) {
        rc = fr_error(FR_EFORMAT, "%s has %lld images but %s has %lld labels", images,
                      (long long)im.dims[0], labels, (long long)lb.dims[0]);
        goto cleanup;
    }
    int64_t n = im.dims[0];
    if (limit > 0 && limit < n) n = limit;
    int64_t hw = im.dims[1] * im.dims[2];
    if (im.dims[1] > 65536 || im.dims[2] > 65536) {
        rc = fr_error(FR_EFORMAT, "%s: images of %lldx%lld are too large", images,
                      (long long)im.dims[1], (long long)im.dims[2]);
        goto cleanup;
    }
    ds->x = malloc((size_t)(n * hw > 0 ? n * hw : 1) * sizeof *ds->x);
    ds->y = malloc((size_t)(n > 0 ? n : 1) * sizeof *ds->y);
    if (!ds->x || !ds->y) {
        rc = fr_error(FR_ENOMEM, "dataset: out of memory for %lld images", (long long)n);
        goto cleanup;
    }
    const uint8_t *px = im.data, *py = lb.data;
    float lut[256];
    for (int v = 0; v < 256; v++)
        lut[v] = ((float)v / 255.0f - mean) / std;
    for (int64_t i = 0; i < n * hw; i++)
        ds->x[i] = lut[px[i]];
    int maxy = -1;
    for (int64_t i = 0; i < n; i++) {
        ds->y[i] = py[i];
        if (py[i] > maxy) maxy = py[i];
    }
    ds->n = n;
    ds->C = 1;
    ds->H = (int)im.dims[1];
    ds->W = (int)im.dims[2];
    ds->nclass = maxy + 1;
    ds->mean = mean;
    ds->std = std;
    ds->fill = lut[0];
cleanup:
    fr_idx_free(&im);
    fr_idx_free(&lb);
    if (rc) fr_dataset_free(ds);
    return rc;
}

/* Path of a dataset file, preferring "<name>.gz"; NULL if neither exists.
 * Only stat()ed: opening a FIFO here would block (fr_idx_load refuses
 * anything that is not a regular file). */
static const char *find_file(const char *dir, const char *name, char *buf, size_t n) {
    struct stat st;
    snprintf(buf, n, "%s/%s.gz", dir, name);
    if (stat(buf, &st) == 0) return buf;
    snprintf(buf, n, "%s/%s", dir, name);
    return stat(buf, &st) == 0 ? buf : NULL;
}

int fr_dataset_fashion_mnist(struct fr_dataset *ds, const char *dir, int train, int64_t limit) {
    memset(ds, 0, sizeof *ds);
    if (!dir) dir = FR_FMNIST_DIR;
    const char *pre = train ? "train" : "t10k";
    char ni[64], nl[64], pi[4096], pl[4096];
    snprintf(ni, sizeof ni, "%s-images-idx3-ubyte", pre);
    snprintf(nl, sizeof nl, "%s-labels-idx1-ubyte", pre);
    const char *miss = !find_file(dir, ni, pi, sizeof pi)   ? ni
                       : !find_file(dir, nl, pl, sizeof pl) ? nl
                                                            : NULL;
    if (miss)
        return fr_error(FR_ENOTFOUND,
                        "Fashion-MNIST not found: no %s(.gz) in %s; run `apt-get install "
                        "dataset-fashion-mnist` or pass the directory that holds the files",
                        miss, dir);
    int rc = fr_dataset_from_idx(ds, pi, pl, FR_FMNIST_MEAN, FR_FMNIST_STD, limit);
    if (rc) return rc;
    if (ds->nclass > 10) {
        int top = ds->nclass - 1; /* read before fr_dataset_free zeroes ds */
        fr_dataset_free(ds);
        return fr_error(FR_EFORMAT, "%s: label %d outside 0..9", pl, top);
    }
    ds->nclass = 10;
    return 0;
}

void fr_subset_free(struct fr_subset *s) {
    if (!s) return;
    free(s->idx);
    s->idx = NULL;
    s->n = 0;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int fr_dataset_split(const struct fr_dataset *ds, double val_frac, uint64_t seed,
                     struct fr_subset *train, struct fr_subset *val) {
    memset(train, 0, sizeof *train);
    memset(val, 0, sizeof *val);
    if (!(val_frac >= 0.0 && val_frac < 1.0))
        return fr_error(FR_EINVAL, "dataset split: validation fraction %g not in [0, 1)", val_frac);
    int64_t n = ds->n, nv = (int64_t)llround(val_frac * (double)n);
    int64_t *perm = malloc((size_t)(n ? n : 1) * sizeof *perm);
    train->idx = malloc((size_t)(n - nv ? n - nv : 1) * sizeof *train->idx);
    val->idx = malloc((size_t)(nv ? nv : 1) * sizeof *val->idx);
    if (!perm || !train->idx || !val->idx) {
        free(perm);
        fr_subset_free(train);
        fr_subset_free(val);
        return fr_error(FR_ENOMEM, "dataset split: out of memory");
    }
    struct fr_rng r;
    fr_rng_seed(&r, seed);
    fr_rng_permutation(&r, perm, n);
    memcpy(val->idx, perm, (size_t)nv * sizeof *perm);
    memcpy(train->idx, perm + nv, (size_t)(n - nv) * sizeof *perm);
    val->n = nv;
    train->n = n - nv;
    qsort(val->idx, (size_t)val->n, sizeof *val->idx, cmp_i64);
    qsort(train->idx, (size_t)train->n, sizeof *train->idx, cmp_i64);
    free(perm);
    return 0;
}

/* ---------------- augmentation ---------------- */

void fr_image_crop(const float *src, float *dst, int C, int H, int W, int pad, int dx, int dy,
                   float fill) {
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++) {
            float *o = dst + ((size_t)c * H + y) * W;
            int sy = y + dy - pad;
            if (sy < 0 || sy >= H) {
                for (int x = 0; x < W; x++)
                    o[x] = fill;
                continue;
            }
            const float *s = src + ((size_t)c * H + sy) * W;
            for (int x = 0; x < W; x++) {
                int sx = x + dx - pad;
                o[x] = (sx >= 0 && sx < W) ? s[sx] : fill;
            }
        }
}

void fr_image_flip_h(float *img, int C, int H, int W) {
    for (int r = 0; r < C * H; r++) {
        float *row = img + (size_t)r * W;
        for (int a = 0, b = W - 1; a < b; a++, b--) {
            float t = row[a];
            row[a] = row[b];
            row[b] = t;
        }
    }
}

/* ---------------- loader ---------------- */

static void make_order(struct fr_loader *L) {
    int64_t n = L->st.n;
    if (!L->cfg.shuffle) {
        memcpy(L->order, L->idx, (size_t)n * sizeof *L->order);
        return;
    }
    struct fr_rng r;
    fr_rng_seed(&r, L->st.seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(L->st.epoch + 1)));
    fr_rng_permutation(&r, L->order, n);
    for (int64_t i = 0; i < n; i++)
        L->order[i] = L->idx[L->order[i]];
}

int fr_loader_init(struct fr_loader *L, const struct fr_dataset *ds, const struct fr_subset *sub,
                   const struct fr_loader_config *cfg) {
    memset(L, 0, sizeof *L);
    if (cfg->batch <= 0)
        return fr_error(FR_EINVAL, "loader: batch %lld must be > 0", (long long)cfg->batch);
    if (cfg->crop_pad < 0 || cfg->crop_pad > ds->H || cfg->crop_pad > ds->W)
        return fr_error(FR_EINVAL, "loader: crop padding %d out of range", cfg->crop_pad);
    int64_t n = sub ? sub->n : ds->n;
    L->idx = malloc((size_t)(n ? n : 1) * sizeof *L->idx);
    L->order = malloc((size_t)(n ? n : 1) * sizeof *L->order);
    if (!L->idx || !L->order) {
        fr_loader_free(L);
        return fr_error(FR_ENOMEM, "loader: out of memory");
    }
    for (int64_t i = 0; i < n; i++) {
        L->idx[i] = sub ? sub->idx[i] : i;
        if (L->idx[i] < 0 || L->idx[i] >= ds->n) {
            int64_t bad = L->idx[i];
            fr_loader_free(L);
            return fr_error(FR_EINVAL, "loader: index %lld outside the dataset (%lld samples)",
                            (long long)bad, (long long)ds->n);
        }
    }
    L->ds = ds;
    L->cfg = *cfg;
    L->st.seed = cfg->seed;
    L->st.n = n;
    fr_rng_seed(&L->st.rng, cfg->seed ^ 0x5851f42d4c957f2dULL);
    make_order(L);
    return 0;
}

void fr_loader_free(struct fr_loader *L) {
    if (!L) return;
    free(L->idx);
    free(L->order);
    memset(L, 0, sizeof *L);
}

int64_t fr_loader_batches(const struct fr_loader *L) {
    int64_t n = L->st.n, b = L->cfg.batch;
    return L->cfg.drop_last ? n / b : (n + b - 1) / b;
}

int64_t fr_loader_next(struct fr_loader *L, float *x, int32_t *y) {
    const struct fr_dataset *ds = L->ds;
    int64_t left = L->st.n - L->st.pos, B = L->cfg.batch < left ? L->cfg.batch : left;
    if (B == 0 || (L->cfg.drop_last && B < L->cfg.batch)) {
        L->st.epoch++;
        L->st.pos = 0;
        make_order(L);
        return 0;
    }
    size_t sz = (size_t)ds->C * ds->H * ds->W;
    int pad = L->cfg.crop_pad;
    for (int64_t k = 0; k < B; k++) {
        int64_t i = L->order[L->st.pos + k];
        const float *src = ds->x + (size_t)i * sz;
        float *dst = x + (size_t)k * sz;
        if (pad) {
            int dx = (int)fr_rng_below(&L->st.rng, (uint64_t)(2 * pad + 1));
            int dy = (int)fr_rng_below(&L->st.rng, (uint64_t)(2 * pad + 1));
            fr_image_crop(src, dst, ds->C, ds->H, ds->W, pad, dx, dy, ds->fill);
        } else {
            memcpy(dst, src, sz * sizeof *dst);
        }
        if (L->cfg.flip && fr_rng_bernoulli(&L->st.rng, 0.5))
            fr_image_flip_h(dst, ds->C, ds->H, ds->W);
        y[k] = ds->y[i];
    }
    L->st.pos += B;
    return B;
}

int64_t fr_loader_next_tensor(struct fr_loader *L, struct fr_ctx *ctx, struct fr_tensor **x,
                              struct fr_tensor **y) {
    *x = *y = NULL;
    const struct fr_dataset *ds = L->ds;
    int64_t B = L->cfg.batch;
    struct fr_tensor *tx = fr_new4(ctx, FR_F32, ds->W, ds->H, ds->C, B);
    struct fr_tensor *ty = fr_new1(ctx, FR_I32, B);
    if (!tx || !ty) return fr_error(FR_ENOMEM, "loader: arena out of memory for a batch");
    int64_t got = fr_loader_next(L, tx->data, ty->data);
    if (got <= 0) return got;
    tx->ne[3] = got; /* a partial last batch: same strides, fewer images */
    ty->ne[0] = got;
    *x = tx;
    *y = ty;
    return got;
}

static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

void fr_loader_get_state(const struct fr_loader *L, uint8_t buf[FR_LOADER_STATE_BYTES]) {
    put64(buf, L->st.seed);
    put64(buf + 8, (uint64_t)L->st.epoch);
    put64(buf + 16, (uint64_t)L->st.pos);
    put64(buf + 24, (uint64_t)L->st.n);
    for (int i = 0; i < 4; i++)
        put64(buf + 32 + 8 * i, L->st.rng.s[i]);
}

int fr_loader_set_state(struct fr_loader *L, const uint8_t buf[FR_LOADER_STATE_BYTES]) {
    struct fr_loader_state s;
    s.seed = get64(buf);
    s.epoch = (int64_t)get64(buf + 8);
    s.pos = (int64_t)get64(buf + 16);
    s.n = (int64_t)get64(buf + 24);
    for (int i = 0; i < 4; i++)
        s.rng.s[i] = get64(buf + 32 + 8 * i);
    if (s.n != L->st.n)
        return fr_error(FR_EINVAL, "loader state is for %lld samples, this loader has %lld",
                        (long long)s.n, (long long)L->st.n);
    if (s.epoch < 0 || s.pos < 0 || s.pos > s.n)
        return fr_error(FR_EINVAL, "loader state out of range (epoch %lld, position %lld)",
                        (long long)s.epoch, (long long)s.pos);
    L->st = s;
    make_order(L);
    return 0;
}

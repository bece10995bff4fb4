/* test_idx_data.c: the IDX reader (plain and gzip, every element type, every
 * malformed case), Fashion-MNIST loading when the package is installed, the
 * seeded split, and the mini-batch loader: each sample once per epoch,
 * partial batches, augmentation against naive references, determinism by
 * seed, and bit-exact resume from the 64-byte state.
 */
#include "check.h"
#include "frugal/data.h"
#include "frugal/io.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Writes bytes to name, gzip-compressed when gz. */
static const char *put_file(const char *name, const uint8_t *b, size_t n, int gz) {
    const char *path = check_tmp(name);
    if (gz) {
        gzFile g = gzopen(path, "wb");
        if (n) gzwrite(g, b, (unsigned)n);
        gzclose(g);
    } else {
        FILE *f = fopen(path, "wb");
        fwrite(b, 1, n, f);
        fclose(f);
    }
    return path;
}

/* An IDX header: type code, dims. Returns bytes written into b. */
static size_t idx_header(uint8_t *b, int type, int ndim, const uint32_t *dims) {
    b[0] = 0, b[1] = 0, b[2] = (uint8_t)type, b[3] = (uint8_t)ndim;
    for (int d = 0; d < ndim; d++)
        for (int k = 0; k < 4; k++)
            b[4 + 4 * d + k] = (uint8_t)(dims[d] >> (24 - 8 * k));
    return 4 + 4 * (size_t)ndim;
}

static void test_idx_good(void) {
    static uint8_t b[4096];
    uint32_t dims[3] = {5, 4, 3};
    for (int gz = 0; gz < 2; gz++) {
        size_t h = idx_header(b, 0x08, 3, dims);
        for (int i = 0; i < 60; i++)
            b[h + i] = (uint8_t)(i * 7);
        struct fr_idx x;
        int rc = fr_idx_load(put_file(gz ? "u8.gz" : "u8", b, h + 60, gz), &x);
        CHECK(rc == 0, "u8 gz=%d: %s", gz, fr_last_error());
        if (rc) continue;
        CHECK(x.dtype == FR_U8 && x.ndim == 3 && x.dims[0] == 5 && x.dims[1] == 4 &&
                  x.dims[2] == 3 && x.n == 60,
              "u8 header gz=%d", gz);
        int bad = 0;
        for (int i = 0; i < 60; i++)
            bad += ((uint8_t *)x.data)[i] != (uint8_t)(i * 7);
        CHECK(bad == 0, "u8 data gz=%d", gz);
        fr_idx_free(&x);
        CHECK(x.data == NULL && x.n == 0, "free clears");
    }
    /* big-endian element types */
    uint32_t d1[1] = {3};
    struct {
        int type;
        uint8_t bytes[24];
        int size;
        enum fr_dtype dt;
        double want[3];
    } cases[] = {
        {0x09, {0xff, 0x80, 0x7f}, 1, FR_I8, {-1, -128, 127}},
        {0x0B, {0xff, 0xfe, 0x80, 0x00, 0x01, 0x02}, 2, FR_I32, {-2, -32768, 258}},
        {0x0C,
         {0xff, 0xff, 0xff, 0xfd, 0x7f, 0xff, 0xff, 0xff, 0, 0, 1, 0},
         4,
         FR_I32,
         {-3, 2147483647, 256}},
        {0x0D, {0x3f, 0x80, 0, 0, 0xc0, 0x20, 0, 0, 0, 0, 0, 0}, 4, FR_F32, {1, -2.5, 0}},
        {0x0E,
         {0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x24, 0, 0, 0, 0, 0, 0},
         8,
         FR_F64,
         {1.5, -2, 10}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t h = idx_header(b, cases[c].type, 1, d1);
        memcpy(b + h, cases[c].bytes, 3 * (size_t)cases[c].size);
        struct fr_idx x;
        int rc = fr_idx_load(put_file("t.gz", b, h + 3 * (size_t)cases[c].size, 1), &x);
        CHECK(rc == 0 && x.dtype == cases[c].dt, "type 0x%02x: %s", cases[c].type, fr_last_error());
        if (rc) continue;
        struct fr_tensor t;
        fr_tensor_set_shape(&t, x.dtype, 1, (int64_t[]){3});
        t.data = x.data;
        for (int i = 0; i < 3; i++)
            CHECK(fr_get(&t, i) == cases[c].want[i], "type 0x%02x element %d: %g vs %g",
                  cases[c].type, i, fr_get(&t, i), cases[c].want[i]);
        fr_idx_free(&x);
    }
    /* an empty array is fine */
    uint32_t d0[2] = {0, 28};
    size_t h = idx_header(b, 0x08, 2, d0);
    struct fr_idx x;
    CHECK(fr_idx_load(put_file("empty", b, h, 0), &x) == 0 && x.n == 0 && x.data, "empty array: %s",
          fr_last_error());
    fr_idx_free(&x);
}

static void expect_idx_bad(const char *what, const char *path, int code, const char *needle) {
    struct fr_idx x;
    memset(&x, 0xab, sizeof x);
    int rc = fr_idx_load(path, &x);
    const char *m = fr_last_error();
    CHECK(rc == code, "%s: rc %d (%s)", what, rc, m);
    CHECK(x.data == NULL && x.n == 0, "%s: output not cleared", what);
    CHECK(!strchr(m, '\n') && strstr(m, needle), "%s: message '%s' lacks '%s'", what, m, needle);
}

static void test_idx_bad(void) {
    static uint8_t b[8192];
    uint32_t dims[3] = {2, 3, 4};
    size_t h = idx_header(b, 0x08, 3, dims);
    memset(b + h, 1, 24);
    for (int gz = 0; gz < 2; gz++) {
        char nm[32];
        snprintf(nm, sizeof nm, "trunc%d", gz);
        expect_idx_bad("truncated data", put_file(nm, b, h + 23, gz), FR_EFORMAT, "truncated");
        snprintf(nm, sizeof nm, "trail%d", gz);
        expect_idx_bad("trailing bytes", put_file(nm, b, h + 25, gz), FR_EFORMAT, "trailing");
        snprintf(nm, sizeof nm, "dims%d", gz);
        expect_idx_bad("truncated dims", put_file(nm, b, 9, gz), FR_EFORMAT, "truncated");
        snprintf(nm, sizeof nm, "magic%d", gz);
        expect_idx_bad("truncated magic", put_file(nm, b, 3, gz), FR_EFORMAT, "truncated");
    }
    uint8_t bad_magic[] = {0x1f, 0x00, 0x08, 0x01, 0, 0, 0, 1, 5};
    expect_idx_bad("bad magic", put_file("m1", bad_magic, sizeof bad_magic, 0), FR_EFORMAT,
                   "not an IDX");
    uint8_t bad_type[] = {0, 0, 0x0A, 0x01, 0, 0, 0, 1, 5};
    expect_idx_bad("unknown type", put_file("m2", bad_type, sizeof bad_type, 0), FR_EFORMAT,
                   "not an IDX");
    uint8_t nodims[] = {0, 0, 0x08, 0x00};
    expect_idx_bad("zero dims", put_file("m3", nodims, sizeof nodims, 0), FR_EFORMAT, "0 dims");
    uint8_t manydims[4 + 4 * 9] = {0, 0, 0x08, 9};
    expect_idx_bad("nine dims", put_file("m4", manydims, sizeof manydims, 0), FR_EFORMAT, "9 dims");
    uint32_t huge[2] = {0xffffffffu, 0xffffffffu};
    h = idx_header(b, 0x0E, 2, huge);
    expect_idx_bad("2^64 elements", put_file("huge", b, h + 16, 1), FR_EFORMAT, "larger than");
    uint32_t big[1] = {1u << 30}; /* 1 GB claimed, 100 bytes present */
    h = idx_header(b, 0x08, 1, big);
    expect_idx_bad("claims 1 GB", put_file("big", b, h + 100, 0), FR_EFORMAT, "truncated");
    /* gzip header followed by garbage */
    uint8_t gzbad[64] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    for (int i = 10; i < 64; i++)
        gzbad[i] = (uint8_t)(i * 37);
    expect_idx_bad("corrupt gzip", put_file("gzbad", gzbad, sizeof gzbad, 0), FR_EFORMAT, "");
    expect_idx_bad("missing file", check_tmp("nope"), FR_EIO, "cannot open");
}

/* A Fashion-MNIST directory whose test labels hold 200: the message names
 * that label (it once read the count after freeing, and said -1). And
 * fr_error may take fr_last_error() as an argument. */
static void test_bad_label(void) {
    static uint8_t b[64 + 16 * 28 * 28];
    char dir[800];
    snprintf(dir, sizeof dir, "%s", check_tmp("fm-bad"));
    CHECK(mkdir(dir, 0777) == 0, "mkdir %s", dir);
    uint32_t di[3] = {2, 28, 28}, dl[1] = {2};
    size_t h = idx_header(b, 0x08, 3, di);
    memset(b + h, 7, 2 * 28 * 28);
    char p[900];
    snprintf(p, sizeof p, "fm-bad/t10k-images-idx3-ubyte");
    put_file(p, b, h + 2 * 28 * 28, 0);
    h = idx_header(b, 0x08, 1, dl);
    b[h] = 3, b[h + 1] = 200;
    snprintf(p, sizeof p, "fm-bad/t10k-labels-idx1-ubyte");
    put_file(p, b, h + 2, 0);
    struct fr_dataset ds;
    int rc = fr_dataset_fashion_mnist(&ds, dir, 0, 0);
    CHECK(rc == FR_EFORMAT && strstr(fr_last_error(), "label 200 outside 0..9"),
          "label 200 is named: %s", fr_last_error());
    fr_error(FR_EINVAL, "inner");
    fr_error(FR_EINVAL, "outer (%s) and %s", fr_last_error(), fr_last_error());
    CHECK(strcmp(fr_last_error(), "outer (inner) and inner") == 0,
          "fr_error reading its own message: '%s'", fr_last_error());
}

static void test_fashion_mnist(void) {
    struct fr_dataset ds;
    int rc = fr_dataset_fashion_mnist(&ds, "/nonexistent/fmnist", 0, 0);
    CHECK(rc == FR_ENOTFOUND && strstr(fr_last_error(), "apt-get install dataset-fashion-mnist") &&
              strstr(fr_last_error(), "/nonexistent/fmnist"),
          "missing dataset message: %s", fr_last_error());
    if (access(FR_FMNIST_DIR "/t10k-labels-idx1-ubyte.gz", R_OK) != 0) {
        printf("test_idx_data: SKIPPED in part: the real-data checks (%s not installed: "
               "apt-get install dataset-fashion-mnist)\n",
               FR_FMNIST_DIR);
        return;
    }
    for (int train = 0; train < 2; train++) {
        rc = fr_dataset_fashion_mnist(&ds, NULL, train, 0);
        CHECK(rc == 0, "load fashion-mnist: %s", fr_last_error());
        if (rc) continue;
        int64_t want = train ? 60000 : 10000;
        CHECK(ds.n == want && ds.C == 1 && ds.H == 28 && ds.W == 28 && ds.nclass == 10,
              "n %lld %dx%dx%d classes %d", (long long)ds.n, ds.C, ds.H, ds.W, ds.nclass);
        int64_t count[10] = {0}, bad = 0;
        for (int64_t i = 0; i < ds.n; i++) {
            if (ds.y[i] < 0 || ds.y[i] > 9)
                bad++;
            else
                count[ds.y[i]]++;
        }
        CHECK(bad == 0, "%lld labels outside 0..9", (long long)bad);
        for (int c = 0; c < 10; c++)
            CHECK(count[c] == want / 10, "class %d has %lld", c, (long long)count[c]);
        double s = 0, s2 = 0;
        int64_t m = ds.n * 784;
        for (int64_t i = 0; i < m; i++) {
            s += ds.x[i];
            s2 += (double)ds.x[i] * ds.x[i];
        }
        double mean = s / (double)m, sd = sqrt(s2 / (double)m - mean * mean);
        CHECK(fabs(mean) < 0.01 && fabs(sd - 1) < 0.01, "normalised mean %g std %g", mean, sd);
        CHECK(ds.fill == (0.0f - FR_FMNIST_MEAN) / FR_FMNIST_STD, "fill %g", ds.fill);
        fr_dataset_free(&ds);
    }
    rc = fr_dataset_fashion_mnist(&ds, NULL, 1, 1000);
    CHECK(rc == 0 && ds.n == 1000, "limit: %s", fr_last_error());
    fr_dataset_free(&ds);
    /* images and labels that disagree */
    rc = fr_dataset_from_idx(&ds, FR_FMNIST_DIR "/t10k-images-idx3-ubyte.gz",
                             FR_FMNIST_DIR "/train-labels-idx1-ubyte.gz", 0.5f, 0.5f, 0);
    CHECK(rc == FR_EFORMAT && strstr(fr_last_error(), "10000 images") &&
              strstr(fr_last_error(), "60000 labels"),
          "count mismatch: %s", fr_last_error());
    rc = fr_dataset_from_idx(&ds, FR_FMNIST_DIR "/t10k-labels-idx1-ubyte.gz",
                             FR_FMNIST_DIR "/t10k-labels-idx1-ubyte.gz", 0.5f, 0.5f, 0);
    CHECK(rc == FR_EFORMAT, "labels as images accepted");
}

/* A synthetic dataset: n images of C x H x W random values; label = index. */
static void make_ds(struct fr_dataset *ds, int64_t n, int C, int H, int W, uint64_t seed) {
    memset(ds, 0, sizeof *ds);
    ds->n = n, ds->C = C, ds->H = H, ds->W = W, ds->nclass = (int)n;
    ds->mean = 0, ds->std = 1, ds->fill = -0.75f;
    ds->x = malloc((size_t)(n * C * H * W) * sizeof *ds->x);
    ds->y = malloc((size_t)n * sizeof *ds->y);
    struct fr_rng r;
    fr_rng_seed(&r, seed);
    fr_rng_fill_uniform(&r, ds->x, n * C * H * W, -1, 1);
    for (int64_t i = 0; i < n; i++)
        ds->y[i] = (int32_t)i;
}

static void test_split(void) {
    struct fr_dataset ds;
    make_ds(&ds, 1000, 1, 2, 2, 1);
    struct fr_subset tr, va, tr2, va2;
    CHECK(fr_dataset_split(&ds, 0.1, 42, &tr, &va) == 0, "split");
    CHECK(tr.n == 900 && va.n == 100, "sizes %lld %lld", (long long)tr.n, (long long)va.n);
    static int seen[1000];
    memset(seen, 0, sizeof seen);
    int sorted = 1;
    for (int64_t i = 0; i < tr.n; i++)
        seen[tr.idx[i]]++, sorted &= i == 0 || tr.idx[i] > tr.idx[i - 1];
    for (int64_t i = 0; i < va.n; i++)
        seen[va.idx[i]]++, sorted &= i == 0 || va.idx[i] > va.idx[i - 1];
    int once = 1;
    for (int i = 0; i < 1000; i++)
        once &= seen[i] == 1;
    CHECK(once && sorted, "split is not a sorted partition");
    CHECK(fr_dataset_split(&ds, 0.1, 42, &tr2, &va2) == 0 &&
              memcmp(va.idx, va2.idx, 100 * sizeof *va.idx) == 0,
          "same seed, different split");
    fr_subset_free(&tr2);
    fr_subset_free(&va2);
    CHECK(fr_dataset_split(&ds, 0.1, 43, &tr2, &va2) == 0 &&
              memcmp(va.idx, va2.idx, 100 * sizeof *va.idx) != 0,
          "different seed, same split");
    fr_subset_free(&tr2);
    fr_subset_free(&va2);
    CHECK(fr_dataset_split(&ds, 1.0, 1, &tr2, &va2) == FR_EINVAL, "fraction 1 accepted");
    CHECK(fr_dataset_split(&ds, -0.1, 1, &tr2, &va2) == FR_EINVAL, "negative fraction accepted");
    CHECK(fr_dataset_split(&ds, 0.0, 1, &tr2, &va2) == 0 && tr2.n == 1000 && va2.n == 0,
          "fraction 0");
    fr_subset_free(&tr2);
    fr_subset_free(&va2);
    fr_subset_free(&tr);
    fr_subset_free(&va);
    fr_dataset_free(&ds);
}

static void test_augment(void) {
    enum { C = 2, H = 5, W = 7 };
    float src[C * H * W], dst[C * H * W], tmp[C * H * W];
    struct fr_rng r;
    fr_rng_seed(&r, 3);
    fr_rng_fill_uniform(&r, src, C * H * W, -1, 1);
    for (int pad = 1; pad <= 4; pad++)
        for (int dy = 0; dy <= 2 * pad; dy++)
            for (int dx = 0; dx <= 2 * pad; dx++) {
                fr_image_crop(src, dst, C, H, W, pad, dx, dy, 9.0f);
                /* naive twin: pad the image, then cut the window at (dy, dx) */
                int PH = H + 2 * pad, PW = W + 2 * pad, bad = 0;
                float padded[C * 13 * 15];
                for (int c = 0; c < C; c++)
                    for (int y = 0; y < PH; y++)
                        for (int x = 0; x < PW; x++) {
                            int sy = y - pad, sx = x - pad;
                            padded[(c * PH + y) * PW + x] = (sy >= 0 && sy < H && sx >= 0 && sx < W)
                                                                ? src[(c * H + sy) * W + sx]
                                                                : 9.0f;
                        }
                for (int c = 0; c < C; c++)
                    for (int y = 0; y < H; y++)
                        for (int x = 0; x < W; x++)
                            bad +=
                                dst[(c * H + y) * W + x] != padded[(c * PH + y + dy) * PW + x + dx];
                CHECK(bad == 0, "crop pad %d dx %d dy %d: %d pixels differ", pad, dx, dy, bad);
                if (dx == pad && dy == pad) CHECK(memcmp(src, dst, sizeof src) == 0, "centre crop");
            }
    memcpy(tmp, src, sizeof src);
    fr_image_flip_h(tmp, C, H, W);
    int bad = 0;
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                bad += tmp[(c * H + y) * W + x] != src[(c * H + y) * W + W - 1 - x];
    CHECK(bad == 0, "flip moves x to W-1-x");
    fr_image_flip_h(tmp, C, H, W);
    CHECK(memcmp(tmp, src, sizeof src) == 0, "flip twice is not the identity");
}

/* Index of the sample an (augmented) image came from is its label; checks
 * the image is one of the allowed transforms of that sample. */
static int is_transform(const struct fr_dataset *ds, const float *img, int32_t label, int pad,
                        int flip, int *flipped, int *shift) {
    size_t sz = (size_t)ds->C * ds->H * ds->W;
    float cand[1024];
    for (int dy = 0; dy <= 2 * pad; dy++)
        for (int dx = 0; dx <= 2 * pad; dx++)
            for (int f = 0; f <= flip; f++) {
                fr_image_crop(ds->x + (size_t)label * sz, cand, ds->C, ds->H, ds->W, pad, dx, dy,
                              ds->fill);
                if (f) fr_image_flip_h(cand, ds->C, ds->H, ds->W);
                if (memcmp(cand, img, sz * sizeof *img) == 0) {
                    *flipped = f;
                    *shift = dx != pad || dy != pad;
                    return 1;
                }
            }
    return 0;
}

static void test_loader(void) {
    enum { N = 1000, CC = 1, HH = 6, WW = 6, SZ = CC * HH * WW };
    struct fr_dataset ds;
    make_ds(&ds, N, CC, HH, WW, 5);
    struct fr_subset tr, va;
    fr_dataset_split(&ds, 0.1, 9, &tr, &va);
    static float x[64 * SZ];
    static int32_t y[64];
    static int seen[N];

    for (int drop = 0; drop < 2; drop++) {
        struct fr_loader L;
        struct fr_loader_config cfg = {.batch = 64, .shuffle = 1, .drop_last = drop, .seed = 1};
        CHECK(fr_loader_init(&L, &ds, &tr, &cfg) == 0, "loader init: %s", fr_last_error());
        CHECK(fr_loader_batches(&L) == (drop ? 14 : 15), "batches %lld",
              (long long)fr_loader_batches(&L));
        int32_t first_order[64];
        for (int epoch = 0; epoch < 3; epoch++) {
            memset(seen, 0, sizeof seen);
            int64_t b, total = 0, nb = 0, last = 0;
            int img_ok = 1;
            while ((b = fr_loader_next(&L, x, y)) > 0) {
                for (int64_t k = 0; k < b; k++) {
                    seen[y[k]]++;
                    img_ok &= memcmp(x + k * SZ, ds.x + (size_t)y[k] * SZ, SZ * sizeof(float)) == 0;
                }
                if (nb == 0) {
                    if (epoch == 0)
                        memcpy(first_order, y, sizeof first_order);
                    else
                        CHECK(memcmp(first_order, y, sizeof first_order) != 0,
                              "epoch %d repeats epoch 0", epoch);
                }
                total += b, nb++, last = b;
            }
            CHECK(b == 0, "loader error %lld", (long long)b);
            CHECK(img_ok, "image does not match its label's sample");
            CHECK(nb == fr_loader_batches(&L) && last == (drop ? 64 : 900 - 14 * 64),
                  "drop %d: %lld batches, last %lld", drop, (long long)nb, (long long)last);
            int once = 1, val_seen = 0;
            for (int64_t i = 0; i < va.n; i++)
                val_seen += seen[va.idx[i]];
            for (int64_t i = 0; i < tr.n; i++)
                once &= seen[tr.idx[i]] <= 1;
            CHECK(val_seen == 0 && once && total == (drop ? 896 : 900),
                  "epoch %d: %lld samples, validation seen %d, repeats %d", epoch, (long long)total,
                  val_seen, !once);
            CHECK(L.st.epoch == epoch + 1, "epoch counter %lld", (long long)L.st.epoch);
        }
        fr_loader_free(&L);
    }

    /* no shuffle: subset order */
    struct fr_loader L;
    struct fr_loader_config plain = {.batch = 100, .seed = 1};
    static float xb[100 * SZ];
    static int32_t yb[100];
    fr_loader_init(&L, &ds, &va, &plain);
    int64_t b = fr_loader_next(&L, xb, yb);
    int inorder = b == 100;
    for (int i = 0; i < 100 && inorder; i++)
        inorder = yb[i] == va.idx[i];
    CHECK(inorder, "unshuffled loader not in subset order");
    CHECK(fr_loader_next(&L, xb, yb) == 0, "one batch per epoch expected");
    fr_loader_free(&L);

    /* augmentation: every image is a crop/flip of its sample; both kinds occur */
    struct fr_loader_config aug = {.batch = 64, .shuffle = 1, .crop_pad = 2, .flip = 1, .seed = 77};
    fr_loader_init(&L, &ds, &tr, &aug);
    int nflip = 0, nshift = 0, nimg = 0, bad = 0;
    while ((b = fr_loader_next(&L, x, y)) > 0)
        for (int64_t k = 0; k < b; k++) {
            int f = 0, s = 0;
            if (!is_transform(&ds, x + k * SZ, y[k], 2, 1, &f, &s)) bad++;
            nflip += f, nshift += s, nimg++;
        }
    CHECK(bad == 0, "%d augmented images are no crop/flip of their sample", bad);
    CHECK(nflip > 0.4 * nimg && nflip < 0.6 * nimg, "flipped %d of %d", nflip, nimg);
    CHECK(nshift > 0.8 * nimg, "shifted %d of %d (expect 24/25)", nshift, nimg);
    fr_loader_free(&L);

    /* determinism by seed, and bit-exact resume from the saved state */
    struct fr_loader A, B2, C2;
    fr_loader_init(&A, &ds, &tr, &aug);
    fr_loader_init(&B2, &ds, &tr, &aug);
    struct fr_loader_config aug2 = aug;
    aug2.seed = 78;
    fr_loader_init(&C2, &ds, &tr, &aug2);
    static float xa[64 * SZ], xc[64 * SZ];
    static int32_t ya[64], yc[64];
    int same = 1, differ = 0;
    for (int s = 0; s < 22; s++) { /* 1.5 epochs */
        int64_t na = fr_loader_next(&A, xa, ya), nb = fr_loader_next(&B2, x, y);
        int64_t nc = fr_loader_next(&C2, xc, yc);
        same &= na == nb && memcmp(xa, x, (size_t)na * SZ * 4) == 0 &&
                memcmp(ya, y, (size_t)na * 4) == 0;
        differ |= na != nc || memcmp(xa, xc, (size_t)na * SZ * 4) != 0;
    }
    CHECK(same, "same seed, different batches");
    CHECK(differ, "different seed, same batches");
    uint8_t state[FR_LOADER_STATE_BYTES];
    fr_loader_get_state(&A, state);
    fr_loader_free(&B2);
    struct fr_loader R;
    fr_loader_init(&R, &ds, &tr, &aug);
    CHECK(fr_loader_set_state(&R, state) == 0, "set_state: %s", fr_last_error());
    same = 1;
    for (int s = 0; s < 40; s++) {
        int64_t na = fr_loader_next(&A, xa, ya), nr = fr_loader_next(&R, x, y);
        same &= na == nr && memcmp(xa, x, (size_t)(na > 0 ? na : 0) * SZ * 4) == 0 &&
                memcmp(ya, y, (size_t)(na > 0 ? na : 0) * 4) == 0;
    }
    CHECK(same, "resumed loader diverges");
    CHECK(A.st.epoch == R.st.epoch && A.st.pos == R.st.pos, "resumed position differs");
    struct fr_loader V;
    fr_loader_init(&V, &ds, &va, &aug);
    CHECK(fr_loader_set_state(&V, state) == FR_EINVAL && strstr(fr_last_error(), "900"),
          "state of another subset accepted: %s", fr_last_error());
    uint8_t broken[FR_LOADER_STATE_BYTES];
    fr_loader_get_state(&R, broken);
    broken[16] = 0xff, broken[17] = 0xff; /* position past the end */
    CHECK(fr_loader_set_state(&R, broken) == FR_EINVAL, "out-of-range state accepted");
    fr_loader_free(&V);
    fr_loader_free(&R);
    fr_loader_free(&A);
    fr_loader_free(&C2);

    /* arena tensors, partial last batch */
    struct fr_ctx *ctx = fr_ctx_new(1 << 20);
    struct fr_loader_config tc = {.batch = 64, .seed = 2};
    fr_loader_init(&L, &ds, &va, &tc);
    fr_t *tx, *ty;
    b = fr_loader_next_tensor(&L, ctx, &tx, &ty);
    CHECK(b == 64 && tx->ne[0] == WW && tx->ne[1] == HH && tx->ne[2] == CC && tx->ne[3] == 64 &&
              tx->dtype == FR_F32 && ty->dtype == FR_I32 && ty->ne[0] == 64,
          "batch tensor shape");
    b = fr_loader_next_tensor(&L, ctx, &tx, &ty);
    CHECK(b == 36 && tx->ne[3] == 36 && ty->ne[0] == 36 && fr_is_contiguous(tx),
          "partial batch %lld", (long long)b);
    CHECK(b == 36 && ((int32_t *)ty->data)[35] == va.idx[99] &&
              memcmp(tx->data, ds.x + (size_t)va.idx[64] * SZ, SZ * 4) == 0,
          "partial batch contents");
    b = fr_loader_next_tensor(&L, ctx, &tx, &ty);
    CHECK(b == 0 && tx == NULL && ty == NULL, "epoch end");
    fr_loader_free(&L);
    fr_ctx_free(ctx);

    struct fr_loader_config badc = {.batch = 0};
    CHECK(fr_loader_init(&L, &ds, NULL, &badc) == FR_EINVAL, "batch 0 accepted");
    struct fr_subset oob = {.idx = (int64_t[]){1, N}, .n = 2};
    CHECK(fr_loader_init(&L, &ds, &oob, &tc) == FR_EINVAL, "index out of range accepted");
    fr_subset_free(&tr);
    fr_subset_free(&va);
    fr_dataset_free(&ds);
}

int main(void) {
    test_idx_good();
    test_idx_bad();
    test_bad_label();
    test_fashion_mnist();
    test_split();
    test_augment();
    test_loader();
    return check_report("test_idx_data");
}

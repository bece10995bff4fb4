/* data.h: in-memory image classification data: loading (Fashion-MNIST from
 * IDX files), a seeded train/validation split, and a shuffled mini-batch
 * loader with augmentation whose whole state fits in 64 bytes, so a resumed
 * run draws exactly the batches an uninterrupted run would have drawn.
 *
 *     struct fr_dataset train;
 *     if (fr_dataset_fashion_mnist(&train, NULL, 1, 0)) die(fr_last_error());
 *     struct fr_subset tr, va;
 *     fr_dataset_split(&train, 0.1, seed, &tr, &va);
 *     struct fr_loader L;
 *     struct fr_loader_config lc = {.batch = 128, .shuffle = 1, .crop_pad = 2,
 *                                   .flip = 1, .seed = seed};
 *     fr_loader_init(&L, &train, &tr, &lc);
 *     for (int epoch = 0; epoch < 2; epoch++) {
 *         fr_t *x, *y;
 *         while (fr_loader_next_tensor(&L, ctx, &x, &y) > 0) { ... one step ... }
 *     }
 *
 * Images are stored normalised, (pixel/255 - mean) / std, as f32 NCHW:
 * sample i is x[i*C*H*W ...], rows of W floats. A batch tensor has
 * ne = {W, H, C, B}; labels are I32 {B}.
 */
#ifndef FRUGAL_DATA_H
#define FRUGAL_DATA_H

#include <stdint.h>

#include "frugal/rng.h"
#include "frugal/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FR_FMNIST_DIR "/usr/share/datasets/fashion-mnist"
#define FR_FMNIST_MEAN 0.2860f
#define FR_FMNIST_STD 0.3530f

struct fr_dataset {
    int64_t n; /* samples */
    int C, H, W;
    int nclass;      /* labels are in [0, nclass) */
    float mean, std; /* of the normalisation applied */
    float fill;      /* normalised value of a raw 0 pixel: the crop padding */
    float *x;        /* n * C*H*W floats, malloc'd */
    int32_t *y;      /* n labels, malloc'd */
};

/* Loads images (IDX u8, dims (N, H, W)) and labels (IDX u8, dims (N)) and
 * normalises with mean/std (std > 0). limit > 0 keeps only the first limit
 * samples. nclass is set to 1 + the largest label. FR_EFORMAT if the files
 * disagree (counts, dtypes, dims); errors of fr_idx_load otherwise. */
int fr_dataset_from_idx(struct fr_dataset *ds, const char *images, const char *labels, float mean,
                        float std, int64_t limit);
/* Fashion-MNIST train (train != 0, 60000 images) or test (10000) split from
 * dir (NULL: FR_FMNIST_DIR), files "{train,t10k}-{images-idx3,labels-idx1}-
 * ubyte" with or without ".gz". Normalised with FR_FMNIST_MEAN/STD; nclass
 * is 10 and labels outside 0..9 are FR_EFORMAT. A missing file is
 * FR_ENOTFOUND with a message saying to `apt-get install
 * dataset-fashion-mnist` or pass the directory. */
int fr_dataset_fashion_mnist(struct fr_dataset *ds, const char *dir, int train, int64_t limit);
/* Releases x and y; NULL is a no-op. */
void fr_dataset_free(struct fr_dataset *ds);

/* Fashion-MNIST items on a side x side cluttered canvas (canvas.c says the
 * construction): sample i is src's image i at a random place among
 * `clutter` 8 x 8 fragments of random images of src, every draw from
 * (seed, train, i), so the canvases of a split never mix in the other
 * split's images. limit > 0 makes only the first limit samples. The
 * canvases are materialised: n x side^2 x 4 bytes (60,000 at 64 x 64: 983
 * MB). FR_EINVAL on a side smaller than the items or over 1024, FR_ENOMEM. */
int fr_dataset_canvas(struct fr_dataset *out, const struct fr_dataset *src, int side, int clutter,
                      uint64_t seed, int train, int64_t limit);
#define FR_CANVAS_SIDE 64
#define FR_CANVAS_CLUTTER 6
#define FR_CANVAS_SEED 20230529ull

/* A dataset by name: "fashion-mnist" (28 x 28) or "fashion-canvas" (the
 * items on canvases; canvas 0: FR_CANVAS_SIDE, clutter < 0: the default
 * count, seed 0: FR_CANVAS_SEED, a fixed seed so every run sees the same
 * canvases). */
struct fr_data_spec {
    const char *name; /* NULL: fashion-mnist */
    int canvas, clutter;
    uint64_t seed;
};
int fr_dataset_load(struct fr_dataset *ds, const struct fr_data_spec *spec, const char *dir,
                    int train, int64_t limit);
/* The spec as one word, "fashion-mnist" or "fashion-canvas:64:6:20230529"
 * (a checkpoint's "data" metadata), and back (FR_EFORMAT on anything
 * else). format returns nonzero when cap is too small. */
int fr_data_spec_format(const struct fr_data_spec *s, char *buf, size_t cap);
int fr_data_spec_parse(const char *v, struct fr_data_spec *s);

/* A list of sample indices into a dataset. */
struct fr_subset {
    int64_t *idx; /* malloc'd, ascending */
    int64_t n;
};

/* Splits 0..ds->n-1 into train and validation: round(val_frac * n) samples
 * picked by a permutation seeded with seed go to val, the rest to train;
 * both lists ascending. Same seed, same split. val_frac in [0, 1).
 * FR_EINVAL on a bad fraction, FR_ENOMEM. */
int fr_dataset_split(const struct fr_dataset *ds, double val_frac, uint64_t seed,
                     struct fr_subset *train, struct fr_subset *val);
void fr_subset_free(struct fr_subset *s);

/* ---- augmentation (exposed for tests and custom pipelines) ---- */

/* dst = src shifted: dst[c][y][x] = src[c][y+dy-pad][x+dx-pad], or fill
 * outside src. dx, dy in [0, 2*pad]; dx = dy = pad is the identity.
 * This is a random crop of the image zero-padded by pad on every side. */
void fr_image_crop(const float *src, float *dst, int C, int H, int W, int pad, int dx, int dy,
                   float fill);
/* Mirrors each row in place (x -> W-1-x). Applying it twice is the identity. */
void fr_image_flip_h(float *img, int C, int H, int W);

/* ---- mini-batch loader ---- */

struct fr_loader_config {
    int64_t batch; /* > 0 */
    int shuffle;   /* new permutation every epoch; 0: subset order */
    int drop_last; /* drop a last batch smaller than batch */
    int crop_pad;  /* random crop with this zero padding (0: off) */
    int flip;      /* random horizontal flip with p = 0.5 */
    uint64_t seed; /* epoch permutations and augmentation draws */
};

/* Everything a resume needs besides the config: the order of epoch e comes
 * from a generator seeded by (seed, e); rng feeds the augmentation. */
struct fr_loader_state {
    uint64_t seed;
    int64_t epoch, pos, n;
    struct fr_rng rng;
};
#define FR_LOADER_STATE_BYTES 64

struct fr_loader {
    const struct fr_dataset *ds; /* borrowed */
    int64_t *idx;                /* owned copy of the subset */
    int64_t *order;              /* this epoch's order (into ds) */
    struct fr_loader_config cfg;
    struct fr_loader_state st;
};

/* Makes a loader over sub (NULL: every sample of ds), positioned at the
 * start of epoch 0. ds must outlive it. FR_EINVAL on a bad config or an
 * index out of range, FR_ENOMEM. */
int fr_loader_init(struct fr_loader *L, const struct fr_dataset *ds, const struct fr_subset *sub,
                   const struct fr_loader_config *cfg);
void fr_loader_free(struct fr_loader *L);
/* Batches per epoch under the config (the partial one counted unless
 * drop_last). */
int64_t fr_loader_batches(const struct fr_loader *L);
/* Fills the next batch: x gets B*C*H*W floats, y gets B labels, and the
 * return is B (1..batch). At the end of an epoch it returns 0 and moves to
 * the start of the next epoch, so `while (fr_loader_next(...) > 0)` is one
 * epoch. x and y must hold a full batch. */
int64_t fr_loader_next(struct fr_loader *L, float *x, int32_t *y);
/* Same, into new arena tensors x {W, H, C, B} (F32) and y {B} (I32).
 * Returns B, 0 at epoch end (x, y NULL), or FR_ENOMEM. */
int64_t fr_loader_next_tensor(struct fr_loader *L, struct fr_ctx *ctx, struct fr_tensor **x,
                              struct fr_tensor **y);
/* The state as FR_LOADER_STATE_BYTES little-endian bytes (for a checkpoint
 * blob), and back. set_state fails with FR_EINVAL if the bytes belong to a
 * loader over a different number of samples or are out of range; the
 * loader is unchanged then. */
void fr_loader_get_state(const struct fr_loader *L, uint8_t buf[FR_LOADER_STATE_BYTES]);
int fr_loader_set_state(struct fr_loader *L, const uint8_t buf[FR_LOADER_STATE_BYTES]);

#ifdef __cplusplus
}
#endif
#endif

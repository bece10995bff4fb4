/* transfer.h: pretrained models for transfer experiments, trained once and
 * cached (essential sparsity, lottery tickets, Instant Soup Pruning).
 *
 *     struct fr_pretrain_spec ps;
 *     fr_pretrain_spec_defaults(&ps);
 *     ps.arch = "vit"; ps.objective = "mim"; ps.cache_dir = "out/pretrained";
 *     struct fr_model *pre;  struct fr_pretrain_info info;
 *     if (fr_pretrain(&ps, NULL, &pre, &info)) die(fr_last_error());
 *     ... fr_model_transfer(downstream_model, pre) (models.h), prune, fr_fit_classifier ...
 *
 * Pretraining uses the "pretrain" task of tasks.h (Fashion-MNIST training
 * images 0-49999) so downstream tasks never see its images. Objectives:
 * "supervised" (cross entropy on the 10 classes) and "mim" (masked-patch
 * reconstruction, vit only: fr_vit_mim_loss). The cache file name encodes
 * every field of the spec that changes the weights, so a cached model is
 * exactly what training would produce again (same thread count aside).
 */
#ifndef FRUGAL_TRANSFER_H
#define FRUGAL_TRANSFER_H

#include <stdint.h>

#include "frugal/models.h"

#ifdef __cplusplus
extern "C" {
#endif

struct fr_pretrain_spec {
    const char *arch;      /* fr_model_list(), default "vit" */
    const char *objective; /* "supervised" (default) | "mim" */
    int64_t images;        /* the first N pretraining images (0: all 50,000) */
    int epochs;            /* default 5 */
    int64_t steps;         /* > 0: exactly this many optimizer steps, cycling over the images
                              (epochs ignored), so runs on different amounts of data can take
                              equal steps; 0 (default): epochs */
    int batch;             /* default 128 */
    double lr;             /* AdamW peak, cosine to 0; default 1e-3 */
    double wd;             /* default 1e-4 (5e-2 is usual for mim; set it) */
    double mask_ratio;     /* mim: fraction of patches masked, default 0.5 */
    uint64_t seed;         /* init and batch order, default 1 */
    const char *cache_dir; /* NULL: no cache */
    int64_t test_images;   /* supervised: score the first N test images after training (0: all
                              10,000); does not change the weights, so not in the cache key */
    /* Called after every optimizer step (see fr_fit_classifier's on_step). Setting it
     * forces training (the cache is written but not read), so the hook sees
     * every step. */
    int (*on_step)(void *user, struct fr_model *m, int64_t step, int64_t total, double loss);
    void *user;
};

struct fr_pretrain_info {
    int cached;       /* loaded from the cache, not trained */
    int64_t steps;    /* optimizer steps of the (possibly cached) training */
    double seconds;   /* training time (0 when cached) */
    double last_loss; /* mean loss of the last steps (NAN when cached) */
    double test_acc;  /* supervised: accuracy on the test split; mim: NAN */
    char path[512];   /* the cache file ("" without a cache) */
};

void fr_pretrain_spec_defaults(struct fr_pretrain_spec *s);
/* Returns in *out a model pretrained by spec s on data from data_dir (NULL:
 * FR_FMNIST_DIR): from the cache when a matching file exists (and no hook
 * is set), else trained and, with a cache_dir, saved atomically. The model
 * of a "mim" spec has cfg.mim = 1 (transfer it into a classifier with
 * fr_model_transfer). FR_EINVAL on a bad spec (unknown objective, mim on a
 * non-vit, images outside [0, 50000], epochs < 1 without steps, steps < 0); data and training
 * errors otherwise. A corrupt cache file is an error naming it, not retrained. */
int fr_pretrain(const struct fr_pretrain_spec *s, const char *data_dir, struct fr_model **out,
                struct fr_pretrain_info *info);

#ifdef __cplusplus
}
#endif
#endif

/* train.h: supervised image-classification training as one call, used by
 * `frugal train`, `frugal demo` and the methods that fine-tune models.
 *
 * fr_train_run builds the model (models.h), loads the dataset (data.h),
 * trains with the chosen optimizer and schedule, evaluates on the validation
 * split each epoch (early stop when asked), writes a checkpoint atomically
 * every ckpt_every steps and at the end, and resumes bit-for-bit from a
 * checkpoint when cfg->resume is set (same seed, same thread count).
 * Progress goes to cfg->progress (may be NULL); nothing is printed.
 */
#ifndef FRUGAL_TRAIN_H
#define FRUGAL_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct fr_model;

struct fr_train_config {
    const char *model;    /* mlp | cnn | resnet20 | vgg-small */
    const char *data;     /* fashion-mnist */
    const char *data_dir; /* NULL: /usr/share/datasets/fashion-mnist */
    int epochs;           /* default 2 */
    int batch;            /* default 128 */
    const char *opt;      /* sgd | adamw */
    double lr, momentum, wd;
    int nesterov;
    const char *schedule; /* none | step | cosine */
    int warmup_steps;
    double step_gamma;  /* step schedule: lr *= gamma every step_every epochs */
    int step_every;
    double clip;        /* global grad-norm clip, 0 = off */
    double val_frac;    /* fraction of train held out for validation, default 0.1 */
    int patience;       /* early stop after this many epochs w/o val improvement; 0 = off */
    int augment;        /* random crop (pad 2) + horizontal flip */
    int64_t limit_train; /* use only the first N training images (0 = all) */
    int64_t limit_test;  /* evaluate only the first N test images (0 = all) */
    uint64_t seed;
    int threads;
    const char *out;    /* final checkpoint path (.safetensors), may be NULL */
    const char *ckpt;   /* periodic checkpoint path for resume, may be NULL */
    int ckpt_every;     /* steps between checkpoints (0 = each epoch end only) */
    int resume;         /* continue from ckpt if it exists */
    int64_t stop_after_steps; /* stop (as if killed) after this many steps; 0 = never (tests) */
    /* Optional start point: called once on the newly created model, before a
     * resume is loaded, e.g. to load pretrained or pruned weights with their
     * keep-mask (the mask is kept through training and written with the
     * final checkpoint as "__mask__"). A nonzero return stops the run and is
     * returned. init_name (required with init) is recorded in the run
     * checkpoint, so a resume must name the same start. */
    int (*init)(void *user, struct fr_model *m);
    void *init_user;
    const char *init_name;
    /* progress: called after each step and each epoch */
    void (*progress)(void *user, int epoch, int64_t step, int64_t steps_total, double loss,
                     double lr, int epoch_end, double val_acc);
    void *user;
};

struct fr_train_result {
    int epochs_run;
    int64_t steps;
    double test_acc, best_val_acc, final_train_loss;
    double seconds;
    size_t peak_arena_bytes;
    int64_t n_params;
    int interrupted;     /* stopped by stop_after_steps (no final eval/checkpoint) */
    int resumed;         /* continued from cfg->ckpt */
    int64_t resumed_step; /* the step the checkpoint held */
    /* per-epoch curves (malloc'd, epochs_run entries; free with fr_train_result_free) */
    double *train_loss, *val_acc, *epoch_seconds;
};

/* The default recipe: cnn on fashion-mnist, 2 epochs, batch 128, AdamW
 * lr 1e-3 (weight decay 1e-4, not on biases and norm weights), cosine decay
 * to 0, 10% validation, no augmentation, seed 1, threads 0 (keep the pool's
 * size). It reaches >= 88% test accuracy (tests/slow_train_cnn.c). */
void fr_train_config_defaults(struct fr_train_config *cfg);
int fr_train_run(const struct fr_train_config *cfg, struct fr_train_result *res);
void fr_train_result_free(struct fr_train_result *res);

/* ---- lower level: train / evaluate a model the caller holds ----
 *
 * fr_fit runs mini-batch training of m on the samples sub (NULL: all) of ds
 * from m's current weights, keeping m->params.mask (pruned weights and
 * their optimizer moments stay exactly zero). It is what fine-tuning,
 * pretraining for transfer, IMP/ISP rounds and weak-model training share.
 * No checkpoints, no validation split: callers that need those use
 * fr_train_run. Deterministic for a given seed and thread count. */
struct fr_model;
struct fr_ctx;
struct fr_tensor;
struct fr_dataset;
struct fr_subset;

struct fr_fit_config {
    int64_t steps;      /* optimizer steps, cycling over epochs (> 0), or ... */
    int epochs;         /* ... whole epochs when steps == 0 */
    int batch;          /* default 128 (a last partial batch is dropped) */
    const char *opt;    /* "adamw" (default) | "sgd" */
    double lr;          /* peak learning rate, default 1e-3 */
    double momentum;    /* sgd, default 0.9 */
    double wd;          /* decoupled weight decay (adamw) / L2 (sgd), default 1e-4 */
    const char *schedule; /* "cosine" (default, to 0) | "none" */
    int warmup_steps;   /* linear warmup, default 0 */
    double clip;        /* global grad-norm clip, 0 = off (default) */
    int augment;        /* random crop (pad 2) + horizontal flip, default 0 */
    uint64_t seed;      /* batch order and augmentation, default 1 */
    /* The training loss of one batch (tape recorded; x {W,H,C,B}, y {B}).
     * NULL: cross entropy of m->forward(x) against y. */
    struct fr_tensor *(*loss)(void *user, struct fr_model *m, struct fr_ctx *ctx,
                              struct fr_tensor *x, struct fr_tensor *y);
    void *loss_user;
    /* Called after optimizer step `step` (1-based) with that batch's loss;
     * a nonzero return stops training and is returned by fr_fit. */
    int (*on_step)(void *user, struct fr_model *m, int64_t step, int64_t total, double loss);
    void *step_user;
};

struct fr_fit_result {
    int64_t steps;       /* optimizer steps taken */
    int64_t samples;     /* training samples seen */
    double last_loss;    /* mean batch loss over the last min(steps, 50) steps */
    double seconds;
};

/* The defaults above. */
void fr_fit_config_defaults(struct fr_fit_config *c);
/* Trains m (see above). ctx: an arena to use (reset after every step), or
 * NULL to make one. FR_EINVAL on a bad config (no steps and no epochs,
 * batch larger than the sample count, unknown optimizer/schedule) or a
 * non-finite loss (training stops there, weights as of the last good step
 * plus that step's update are kept); errors of the loss/hook otherwise. */
int fr_fit(struct fr_model *m, const struct fr_dataset *ds, const struct fr_subset *sub,
           struct fr_ctx *ctx, const struct fr_fit_config *c, struct fr_fit_result *res);
/* Classification accuracy in [0, 1] (and mean cross-entropy when loss is not
 * NULL) of m on sub (NULL: all) of ds, eval mode, no grad, batches of
 * `batch` (0: 500). ctx as for fr_fit. */
int fr_evaluate(struct fr_model *m, const struct fr_dataset *ds, const struct fr_subset *sub,
                struct fr_ctx *ctx, int batch, double *acc, double *loss);

/* Evaluates a checkpoint on the test split: accuracy in [0,1]. */
int fr_eval_checkpoint(const char *path, const char *data_dir, int batch, double *acc);

#ifdef __cplusplus
}
#endif
#endif

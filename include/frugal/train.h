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

/* Evaluates a checkpoint on the test split: accuracy in [0,1]. */
int fr_eval_checkpoint(const char *path, const char *data_dir, int batch, double *acc);

#ifdef __cplusplus
}
#endif
#endif

/* train.h: supervised image-classification training as one call, used by
 * `frugal train`, `frugal demo` and the methods that fine-tune models.
 *
 * fr_train_run checks first what can fail without training: that files can
 * be written at out and ckpt (fr_check_writable, report.h), that both
 * splits hold images of one size (an empty test split is an error, not 0%
 * accuracy), and, with init, that the start checkpoint was made for these
 * images. It then builds the model (models.h), loads the dataset (data.h),
 * trains with the chosen optimizer and schedule, evaluates on the validation
 * split each epoch (early stop when asked), writes a checkpoint atomically
 * every ckpt_every steps and at the end, and resumes bit-for-bit from a
 * checkpoint when cfg->resume is set (same seed, same thread count). When
 * the final checkpoint still cannot be written at out, the model is written
 * to a rescue file (fr_write_rescued) and the error names it.
 * Progress goes to cfg->progress (may be NULL); nothing is printed.
 */
#ifndef FRUGAL_TRAIN_H
#define FRUGAL_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "frugal/models.h"
#include "frugal/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

struct fr_model;

struct fr_train_config {
    const char *model; /* mlp | cnn | resnet20 | vgg-small | vit */
    int width_mult;    /* resnet20, vgg-small: widths times this (0 or 1: as published) */
    int nwidths;       /* > 0: a shrunk model's channel-layer widths (models.h; --init sets them) */
    int widths[16];
    int kernels[3];   /* convnext, slak: depthwise kernel per stage (models.h; 0: default) */
    int small_kernel; /* slak: the small branch (0: 5) */
    int merged;       /* slak: the re-parameterised form (--init of a merged checkpoint) */
    int fd_channels;  /* convnext: a feature-distillation projection (models.h) */
    struct fr_nb201_cell nb201; /* nb201: the cell, C and N (models.h) */
    const char *data;           /* fashion-mnist | fashion-canvas */
    int canvas;                 /* fashion-canvas: the canvas side (0: 64) */
    int clutter;                /* fashion-canvas: fragments per canvas (< 0: 6, the default) */
    const char *data_dir;       /* NULL: /usr/share/datasets/fashion-mnist */
    int epochs;                 /* default 2 */
    int batch;                  /* default 128 */
    const char *opt;            /* sgd | adamw */
    double lr, momentum, wd;
    int nesterov;
    const char *schedule; /* none | step | cosine */
    int warmup_steps;
    double step_gamma; /* step schedule: lr *= gamma every step_every epochs */
    int step_every;
    double clip;         /* global grad-norm clip, 0 = off */
    double val_frac;     /* fraction of train held out for validation, default 0.1 */
    int patience;        /* early stop after this many epochs w/o val improvement; 0 = off */
    int augment;         /* random crop (pad 2) + horizontal flip */
    int64_t limit_train; /* use only the first N training images (0 = all) */
    int64_t limit_test;  /* evaluate only the first N test images (0 = all) */
    uint64_t seed;
    int threads;
    const char *precision;    /* GEMM precision: "f32" (NULL) or "bf16" (see fr_precision_begin) */
    int data_parallel;        /* shard every batch over the MPI ranks (fr_fit_config's) */
    int64_t bucket_bytes;     /* data parallel: all-reduce bucket (fr_fit_config's) */
    int local_bn;             /* data parallel: per-rank batch-norm statistics (fr_fit_config's) */
    const char *out;          /* final checkpoint path (.safetensors), may be NULL */
    const char *ckpt;         /* periodic checkpoint path for resume, may be NULL */
    int ckpt_every;           /* steps between checkpoints (0 = each epoch end only) */
    int resume;               /* continue from ckpt if it exists */
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
    /* Optional extension of the run (dynamic sparse training, methods/
     * dst.h): its hooks see the model, its state goes into the run
     * checkpoint, its metadata pairs are checked on resume. Once start
     * succeeded, exactly one of end (the run finished) and release (it
     * stopped early or failed) is called before fr_train_run returns. */
    const struct fr_train_ext *ext;
    /* progress: called after each step and each epoch */
    void (*progress)(void *user, int epoch, int64_t step, int64_t steps_total, double loss,
                     double lr, int epoch_end, double val_acc);
    void *user;
};

struct fr_fit_state;
struct fr_ckpt_blob;
struct fr_train_ext {
    void *user;
    /* metadata pairs recorded in the run checkpoint ("train.<key>") */
    const char *const *meta_keys, *const *meta_vals;
    int nmeta;
    /* Once the model is built (and cfg->init ran), before training or a
     * resume: total is the run's steps. */
    int (*start)(void *user, struct fr_model *m, int64_t total);
    /* The training loss of a batch (NULL: cross-entropy of m's logits):
     * distillation puts a teacher's logits beside the labels here. x is
     * the batch (this rank's slice under data parallelism), y its labels;
     * the context is in training mode with gradients on. */
    struct fr_tensor *(*loss)(void *user, struct fr_model *m, struct fr_ctx *ctx,
                              struct fr_tensor *x, struct fr_tensor *y);
    int (*after_backward)(void *user, const struct fr_fit_state *st);
    int (*after_step)(void *user, const struct fr_fit_state *st);
    /* the extension's run state (fr_fit_hooks' blobs / resumed) */
    int (*blobs)(void *user, struct fr_ckpt_blob *b, int cap);
    int (*resumed)(void *user);
    /* After the run (evaluated, final checkpoint written; not called when
     * stopped by stop_after_steps or an error), while m still exists: the
     * model is freed when fr_train_run returns. */
    int (*end)(void *user, struct fr_model *m);
    void (*release)(void *user);
};

struct fr_train_result {
    int epochs_run;
    int64_t steps;
    double test_acc, best_val_acc, final_train_loss;
    double seconds;
    size_t peak_arena_bytes;
    int64_t n_params;
    int interrupted;      /* stopped by stop_after_steps (no final eval/checkpoint) */
    int resumed;          /* continued from cfg->ckpt */
    int64_t resumed_step; /* the step the checkpoint held */
    double comm_seconds;  /* data parallel: this rank's time in all-reduces */
    int64_t comm_bytes;   /* data parallel: bytes this rank all-reduced */
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

/* Starting a run from a checkpoint (`frugal train --init`, e.g. one pruned
 * by `frugal prune` or shrunk by `frugal shrink`): fr_train_config_start_from
 * sets cfg->model to the image-classifier architecture the checkpoint's
 * metadata records (copied into arch[cap], which must outlive the run, as
 * must path), its width multiplier and widths, and cfg->init
 * to fr_train_init_checkpoint with init_user = init_name = path. Errors,
 * naming the file: fr_model_arch_load's, and FR_EINVAL when the
 * architecture is not one of the model zoo's image classifiers (a language
 * model fine-tunes with lm.h). The hook (user: the path) loads the
 * checkpoint's weights and keep-mask into the new model (other run state
 * in the file is ignored; pruned weights stay zero through training); its
 * errors read "--init PATH: ..." (a checkpoint made for another image size
 * or class count than the data's, a tensor the model lacks, a shape that
 * does not fit). */
int fr_train_config_start_from(struct fr_train_config *cfg, const char *path, char *arch,
                               size_t cap);
int fr_train_init_checkpoint(void *path, struct fr_model *m);

/* ---- the one training loop ----
 *
 * fr_fit runs mini-batch training of a parameter slab; every trainer in
 * frugal is this loop with hooks: image classification (fr_train_run,
 * fr_fit_classifier), language models (lm.h), DeepSets (methods/sets.h)
 * and the experiments. One step: hooks->next gives a batch, zero the gradients,
 * hooks->loss records the loss, backward, a non-finite loss stops the run,
 * clip, optimizer step at lr = schedule(step), the arena is reset. The
 * optimizer and schedule come from c->optim (fr_optim_build); masked
 * weights (p->mask) and their moments stay exactly zero.
 *
 * Epochs end when next returns 0 (a finite source such as the image
 * loader); a source that never does (random windows, random sets) runs
 * by steps only. The run ends after c->steps steps or c->epochs epochs
 * (whichever is set; both: whichever comes first), when a hook asks, when
 * the validation score has not improved for c->patience epochs, or after
 * c->stop_after steps of this call (a simulated kill for resume tests).
 *
 * Checkpoint + resume: with c->ckpt, the slab, the optimizer moments, the
 * loop's counters and the caller's blobs (hooks->blobs) are written
 * atomically every c->ckpt_every steps, at every epoch end when
 * c->ckpt_epoch_end, and when stop_after stops the run when
 * c->ckpt_on_stop. The metadata pairs c->meta_keys/vals go into the file;
 * with c->resume and an existing c->ckpt the run first checks that every
 * pair matches (a resume needs the same config) and continues from it, bit
 * for bit (same seed, same thread count). The run holds c->ckpt's lock
 * (fr_ckpt_lock, io.h) from start to end: while another live process
 * holds it, fr_fit fails at once with FR_EIO naming that process.
 */
struct fr_ckpt_blob;

/* What the loop tells its hooks. */
struct fr_fit_state {
    int64_t step;          /* optimizer steps done */
    int64_t total;         /* steps the run will take if nothing stops it (0: unknown) */
    int64_t epoch;         /* epochs finished */
    int64_t pos;           /* steps done in the current epoch */
    int64_t batch_samples; /* after_step: samples in the batch just taken */
    double seconds;        /* wall time of the whole run so far (resumed runs included) */
    double best_score;     /* best validation score so far (-inf: none) */
    int64_t bad_epochs;    /* epochs since it last improved */
};

struct fr_fit_hooks {
    void *user;
    /* Required. The next training batch, made in ctx: returns its sample
     * count (> 0), 0 when the epoch ended (the loop counts it and asks
     * again), < 0 an error. */
    int64_t (*next)(void *user, struct fr_ctx *ctx, struct fr_tensor **x, struct fr_tensor **y);
    /* Required. The batch's loss (one element, tape recorded); NULL with the
     * error set on failure. */
    struct fr_tensor *(*loss)(void *user, struct fr_ctx *ctx, struct fr_tensor *x,
                              struct fr_tensor *y);
    /* Optional; nonzero return values stop the run and are returned (use
     * FR_FIT_STOP to stop without an error). */
    int (*before_step)(void *user, const struct fr_fit_state *st); /* once per step, before next */
    /* After backward (and the data-parallel all-reduce), before clipping
     * and the optimizer step: p->grad holds this batch's dense gradient,
     * masked entries included (st->step: steps done before this one). */
    int (*after_backward)(void *user, const struct fr_fit_state *st);
    int (*after_step)(void *user, const struct fr_fit_state *st, double loss, double lr);
    /* At an epoch end (st->epoch already counts it): *score (preset NaN)
     * may receive a validation score, higher is better, which drives
     * best_score, bad_epochs and c->patience. */
    int (*epoch_end)(void *user, const struct fr_fit_state *st, double *score);
    /* The caller's run state saved with every checkpoint and restored on
     * resume (RNGs, data-loader state, curves): fills b[0..cap) and returns
     * the count. Called before each save and once before a resume load; after
     * the load, resumed (if set) is called. */
    int (*blobs)(void *user, struct fr_ckpt_blob *b, int cap);
    int (*resumed)(void *user, const struct fr_fit_state *st);
};

/* A hook's "stop here, no error". */
#define FR_FIT_STOP 1

/* Optimizer moments handed from one run to another (a model's optimizer
 * state carried across calls): slabs of the parameter layout (m: first
 * moment / momentum, v: AdamW's second moment; NULL where the optimizer has
 * none) and the steps they have seen. */
struct fr_optim_state {
    float *m, *v;
    int64_t steps;
};

struct fr_fit_config {
    struct fr_optim_spec optim;
    /* Moments to start from (NULL: zero): copied in after the optimizer is
     * built, their steps counted by AdamW's bias correction only (the
     * schedule and step counts start at 0). A resumed checkpoint overrides
     * them. */
    const struct fr_optim_state *from;
    struct fr_optim_state *to; /* receives the moments and steps at a clean end (NULL: none) */
    int64_t steps;             /* stop after this many steps in all (0: by epochs) */
    int64_t epochs;            /* stop after this many epochs (0: by steps) */
    int64_t total;             /* the steps the run will take, for schedules and progress when the
                                  loop cannot know (epochs of a source); 0: steps */
    double clip;               /* global gradient-norm clip, 0 = off */
    int patience;              /* stop after this many epochs without a better score; 0 = off */
    struct fr_ctx *ctx;        /* the arena to use (reset after every step); NULL: one of 64 MiB */
    /* checkpoint + resume */
    const char *ckpt;
    int64_t ckpt_every; /* steps between checkpoints (0: none by steps) */
    int ckpt_epoch_end; /* also at every epoch end */
    int ckpt_on_stop;   /* also when stop_after stops the run */
    int resume;         /* continue from ckpt when it exists */
    const char *const *meta_keys, *const *meta_vals; /* written, and checked on resume */
    int nmeta;
    int64_t stop_after; /* stop after this many steps of this call (0: never) */
    /* Data parallel over the ranks of dist.h (a no-op for one rank): each
     * rank takes the slice [n r / R, n (r+1) / R) of every global batch
     * of n samples, the gradients (weighted by slice size) and the loss are
     * summed over the ranks with one all-reduce each, and the buffers
     * (batch-norm statistics) averaged after each step, so every rank holds
     * the same weights. Only rank 0 writes and locks the checkpoint; every
     * rank reads it on resume. The hooks must give every rank the same
     * global batches (the same seed does). */
    int data_parallel;
    /* Data parallel: the gradient all-reduce in buckets of about this many
     * bytes (contiguous ranges of the slab, last parameters first), each
     * started while the backward pass goes on as soon as its gradients are
     * final (fr_backward_ready) and finished before the optimizer step;
     * < 0: one all-reduce after the backward pass; 0: FR_FIT_BUCKET_DEFAULT
     * when the ranks span several machines, one all-reduce when they share
     * one (there the overlap cannot hide a copy that needs the same busy
     * cores, and one blocking all-reduce measured faster: docs/scale-out.md).
     * The sums are the same numbers either way. */
    int64_t bucket_bytes;
    /* Data parallel: batch norm normalises each rank's slice with that
     * slice's statistics (PyTorch DDP without SyncBatchNorm) instead of
     * the global batch's (the default: the statistics are summed over the
     * ranks, fr_ctx_set_reduce, so N ranks compute what one process does). */
    int local_bn;
};

#define FR_FIT_BUCKET_DEFAULT ((int64_t)256 << 10)

struct fr_fit_result {
    int64_t steps;     /* optimizer steps done in all */
    int64_t samples;   /* training samples seen by this call */
    int64_t epochs;    /* epochs finished */
    double last_loss;  /* mean batch loss over the last min(steps, 50) steps of this call */
    double seconds;    /* wall time of the whole run (resumed runs included) */
    double best_score; /* best epoch_end score (-inf: none) */
    int stopped;       /* 1: stop_after, 2: patience, 3: a hook's FR_FIT_STOP */
    int resumed;       /* continued from c->ckpt */
    int64_t resumed_step;
    double comm_seconds; /* data parallel: time in all-reduces (this rank) */
    int64_t comm_bytes;  /* data parallel: bytes this rank all-reduced */
};

/* Mixed precision for a run: "bf16" makes every GEMM of the run (forward,
 * backward, evaluation) multiply in bf16 with f32 accumulation
 * (fr_gemm_precision_set: AMX-BF16 or AVX512-BF16); weights, gradients and
 * optimizer moments stay f32. "f32" or NULL: f32. *prev receives the
 * precision in force before, for fr_precision_end. FR_EINVAL for another
 * name or a CPU without bf16 hardware (nothing changed). */
int fr_precision_begin(const char *precision, int *prev);
void fr_precision_end(int prev);

/* Runs the loop on slab p (see above). Errors: FR_EINVAL for a bad config
 * or a non-finite loss (the run stops there), the hooks' and checkpoint
 * errors. res is filled as far as the run got. */

int fr_fit(struct fr_params *p, const struct fr_fit_config *c, const struct fr_fit_hooks *h,
           struct fr_fit_result *res);

/* ---- image classifiers: train / evaluate a model the caller holds ----
 *
 * fr_fit_classifier runs mini-batch training of m on the samples sub (NULL: all) of ds
 * from m's current weights, keeping m->params.mask (pruned weights and
 * their optimizer moments stay exactly zero). It is what fine-tuning,
 * pretraining for transfer, IMP/ISP rounds and weak-model training share:
 * fr_fit with the image loader (last partial batch dropped), cross
 * entropy (or c->loss) and no checkpoints. Deterministic for a given seed
 * and thread count. */
struct fr_model;
struct fr_ctx;
struct fr_tensor;
struct fr_dataset;
struct fr_subset;

struct fr_fit_classifier_config {
    int64_t steps;        /* optimizer steps, cycling over epochs (> 0), or ... */
    int epochs;           /* ... whole epochs when steps == 0 */
    int batch;            /* default 128 (a last partial batch is dropped) */
    const char *opt;      /* "adamw" (default) | "sgd" */
    double lr;            /* peak learning rate, default 1e-3 */
    double momentum;      /* sgd, default 0.9 */
    double wd;            /* decoupled weight decay (adamw) / L2 (sgd), default 1e-4 */
    const char *schedule; /* "cosine" (default, to 0) | "none" */
    int warmup_steps;     /* linear warmup, default 0 */
    double clip;          /* global grad-norm clip, 0 = off (default) */
    int augment;          /* random crop (pad 2) + horizontal flip, default 0 */
    uint64_t seed;        /* batch order and augmentation, default 1 */
    /* The training loss of one batch (tape recorded; x {W,H,C,B}, y {B}).
     * NULL: cross entropy of m->forward(x) against y. */
    struct fr_tensor *(*loss)(void *user, struct fr_model *m, struct fr_ctx *ctx,
                              struct fr_tensor *x, struct fr_tensor *y);
    void *loss_user;
    /* Called after optimizer step `step` (1-based) with that batch's loss;
     * a nonzero return stops training and is returned by fr_fit_classifier. */
    int (*on_step)(void *user, struct fr_model *m, int64_t step, int64_t total, double loss);
    void *step_user;
    const struct fr_optim_state *from; /* fr_fit_config's: start from these moments */
    struct fr_optim_state *to;         /* ... and hand them back */
};

/* The defaults above. */
void fr_fit_classifier_config_defaults(struct fr_fit_classifier_config *c);
/* Trains m (see above). ctx: an arena to use (reset after every step), or
 * NULL to make one. FR_EINVAL on a bad config (no steps and no epochs,
 * batch larger than the sample count, unknown optimizer/schedule) or a
 * non-finite loss (training stops there); errors of the loss/hook
 * otherwise. */
int fr_fit_classifier(struct fr_model *m, const struct fr_dataset *ds, const struct fr_subset *sub,
                      struct fr_ctx *ctx, const struct fr_fit_classifier_config *c,
                      struct fr_fit_result *res);
/* Classification accuracy in [0, 1] (and mean cross-entropy when loss is not
 * NULL) of m on sub (NULL: all) of ds, eval mode, no grad, batches of
 * `batch` (0: 500). ctx as for fr_fit_classifier. FR_EINVAL "evaluate: no
 * samples ..." when there is nothing to evaluate (an accuracy of an empty
 * split would be a wrong answer). */
int fr_evaluate(struct fr_model *m, const struct fr_dataset *ds, const struct fr_subset *sub,
                struct fr_ctx *ctx, int batch, double *acc, double *loss);

/* Re-estimates m's batch-norm running statistics on the training data:
 * `batches` forward passes (training mode, no gradients) over shuffled
 * batches of `batch` images of sub (NULL: all) of ds, drawn from seed, each
 * updating the running statistics with the layers' momentum (0.1), so the
 * statistics are an exponential average dominated by the last ~20
 * batches. The weights do not change. FR_EINVAL for batches < 1 or a
 * batch larger than the samples. */
int fr_bn_recalibrate(struct fr_model *m, const struct fr_dataset *ds, const struct fr_subset *sub,
                      struct fr_ctx *ctx, int batch, int64_t batches, uint64_t seed);

/* Evaluates a checkpoint on the test split of data_dir: accuracy in [0,1]
 * of the model its metadata names, with its keep-mask applied when it has
 * one (the weights `frugal sparsity` counts; a mask that removes every
 * weight of a tensor disconnects the network and evaluates as such).
 * Errors: the checkpoint loaders' (naming the file), the dataset's, FR_EINVAL for
 * an empty test split or images of another size or class count than the
 * model's. */
int fr_eval_checkpoint(const char *path, const char *data_dir, int batch, double *acc);

#ifdef __cplusplus
}
#endif
#endif

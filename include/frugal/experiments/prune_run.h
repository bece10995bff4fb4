/* experiments/prune_run.h: pruning a checkpoint file, what `frugal prune`
 * is: load the model a file holds, prune it, write it with its keep-mask and
 * provenance, and return the numbers to report.
 *
 *     struct fr_prune_file_config c;
 *     fr_prune_file_config_defaults(&c);          // omp, 50%, global
 *     c.model = "run/model.safetensors";
 *     c.out = "run/pruned.safetensors";
 *     struct fr_prune_file_result r;
 *     if (fr_prune_file(&c, &r)) die(fr_last_error());
 *     // r.scope_nonzero of r.scope weights are left
 *
 * Two kinds of file. An image classifier (metadata "arch" without
 * "frugal.model", as `frugal train` writes) is rebuilt from its metadata
 * (fr_model_load); SNIP and GraSP score it on the first `batch` Fashion-
 * MNIST training images (training mode, as the papers do); imp and isp
 * train while they prune (methods/lottery.h) on a task (tasks.h): IMP with
 * rewinding to the checkpoint's weights (the ticket is written, not
 * fine-tuned) or Instant Soup Pruning (the pruned, trained model is
 * written), scored on the task's test split before and after. Anything
 * else is tried as a transformer language model (any file fr_tf_load
 * reads), loaded into an f32 slab with its stored mask (lm.h); its scope is
 * the body's attention and MLP matrices, SNIP and GraSP score `batch`
 * windows of its context from the first 90% of `text` tokenized with
 * MODEL.tok (fr_prune_lm_batch; it must be the tokenizer the model names,
 * fr_lm_tokenizer_check), the output is a frugal transformer checkpoint
 * that names the same tokenizer, and MODEL.tok is copied to OUT.tok first.
 *
 * Masks only grow: weights the checkpoint already pruned stay pruned.
 * The output is checked first (its directory created, a probe file
 * written and removed: fr_check_writable), everything else before it is
 * written, and the writes are atomic, so a failure never leaves a partial
 * file; if the write still fails, the pruned model goes to a rescue file
 * (fr_write_rescued) and the error names it. An image classifier is told
 * apart by its metadata ("arch", or the image sizes frugal train writes),
 * so one that lost its "arch" is reported as such.
 */
#ifndef FRUGAL_EXPERIMENTS_PRUNE_RUN_H
#define FRUGAL_EXPERIMENTS_PRUNE_RUN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct fr_prune_file_config {
    const char *model;    /* checkpoint to prune */
    const char *out;      /* pruned checkpoint to write (weights + "__mask__") */
    const char *method;   /* omp, random, nm, snip, grasp; imp, isp (image classifiers) */
    double sparsity;      /* fraction of the scoped weights pruned, [0, 1); imp/isp: (0, 1) */
    int layerwise;        /* the same sparsity in every tensor (not imp/isp) */
    const char *scope;    /* comma globs of the tensors pruned ("" or NULL: prunable weights) */
    const char *exclude;  /* comma globs left dense ("" or NULL: none) */
    const char *nm;       /* "N:M" of method nm */
    uint64_t seed;        /* random, imp, isp */
    int64_t batch;        /* snip/grasp: images, or LM windows, scored */
    double temperature;   /* grasp: the logits are divided by it (1 = none) */
    const char *text;     /* LM snip/grasp: text whose first 90% is scored */
    const char *data_dir; /* Fashion-MNIST (NULL: FR_FMNIST_DIR) */
    /* imp / isp (methods/lottery.h) */
    const char *task;    /* the training data: a tasks.h task */
    int64_t limit_train; /* use only the first N training images (0: all) */
    int64_t steps;       /* imp: training steps per round (0: 200); isp: m's own (0: 40) */
    double rate;         /* fraction of the remaining weights pruned per round (0: default) */
    int64_t weak;        /* isp: weak masks per round */
    int64_t lookahead;   /* isp: training steps of each weak model */
    double subset;       /* isp: fraction of the training images per weak model */
    int soup;            /* isp: instant model soup */
    const char *merge;   /* isp: "trim" (union trimmed to each round's sparsity) | "union" (the
                            authors' rule: untrimmed union, weak models differing only by seed,
                            from m's optimizer moments, rate 0.1 unless set); NULL: trim */
    int64_t workers;     /* isp: weak-model processes (0: one per core) */
    int64_t fit_batch;   /* training batch */
    double lr;           /* AdamW learning rate (cosine within each run) */
};

/* What `frugal prune` reports. */
struct fr_prune_file_result {
    int language_model; /* the file was taken as a transformer language model */
    /* imp / isp: set once training ended, even if writing failed after */
    int trained;
    char task[16];
    int rounds;
    int64_t train_steps, weak_steps; /* optimizer steps, and of those in weak models */
    double seconds;
    double acc_before, acc_after; /* on the task's test split, in [0, 1] */
    /* the written model (counted: the count succeeded) */
    int counted;
    int64_t scope, scope_nonzero; /* weights in the scope, and of those nonzero */
    int64_t total, total_nonzero; /* all weights (buffers excluded) */
};

/* `frugal prune`'s defaults: omp, sparsity 0.5, global, "" scope and
 * exclude, nm "2:4", seed 1, batch 256, temperature 200,
 * text "data/tinyshakespeare.txt", data_dir NULL, task "fashion", steps 0,
 * rate 0, weak 4, lookahead 40, subset 0.1, no soup, merge "trim", workers 0,
 * fit_batch 64, lr 1e-3; model and out NULL. */
void fr_prune_file_config_defaults(struct fr_prune_file_config *c);

/* Prunes c->model into c->out as described at the top; r is zeroed, then
 * filled as far as the run got. Errors (messages name the CLI's flags):
 * FR_EINVAL for a bad method, sparsity (one that would leave no weight:
 * fr_prune), N:M pattern or scope, imp/isp with
 * layerwise, a zero sparsity or on a language model, SNIP/GraSP on a
 * language model without MODEL.tok, images or a task that do not fit the
 * model, fit_batch larger than the task; "dataset directory D: ..." when
 * the data directory cannot be read; the errors of the loaders, the
 * methods and the writers. */
int fr_prune_file(const struct fr_prune_file_config *c, struct fr_prune_file_result *r);

#ifdef __cplusplus
}
#endif
#endif

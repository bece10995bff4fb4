/* experiments/lm_run.h: one language-model training run recorded as an
 * experiment, what `frugal train-lm` is: fr_lm_train (lm.h), optionally
 * from a magnitude-pruned start, with a progress display, then
 * DIR/results.json with the config, the metrics, the loss curves
 * (loss.svg) and, in its notes, a sample from the best checkpoint.
 */
#ifndef FRUGAL_EXPERIMENTS_LM_RUN_H
#define FRUGAL_EXPERIMENTS_LM_RUN_H

#include "frugal/lm.h"

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What an LM run records besides its config, and how it starts. */
struct fr_lm_run_info {
    const char *command;     /* the command line that reproduces the run (may be NULL) */
    const char *results_dir; /* results.json and loss.svg; NULL or "": none */
    double prune;            /* magnitude-prune the start to this sparsity (fr_lm_prune_prepare),
                                [0, 1); 0: no pruning */
    int prune_layerwise;     /* the same sparsity in every matrix */
    FILE *log;               /* the progress display and the `iter N: train loss, val loss`
                                lines; NULL: none (cfg->progress is kept) */
};

struct fr_lm_run_result {
    struct fr_lm_result lm; /* the trainer's (fr_lm_result_free) */
    int trained;            /* training finished: lm holds its numbers, even when writing
                               the results failed afterwards */
};

/* Checks the outputs first (results_dir, cfg->out and cfg->ckpt: created
 * and writable, fr_check_writable), prepares the pruned start when
 * info->prune > 0, runs fr_lm_train, and, when results_dir is set, the run
 * evaluated at least once and was not stopped by stop_after, writes
 * results_dir/results.json (results_path receives its path; "" when none
 * was written; a rescue file's path, fr_write_rescued, when it could not
 * be written there after all) and loss.svg.
 * The results record data, tokenizer, arch, layers, heads, dim, block,
 * batch, iters, lr, dropout (init, prune when set), the metrics
 * best_val_loss, full_val_loss, train_seconds, tokens_per_s, params (and
 * init_val_loss, scope_sparsity for a fine-tune), the evaluation curves,
 * and as notes a 300-token sample of cfg->out at temperature 0.8 (when
 * cfg->out and its tokenizer are there; nanoGPT's configuration also gets
 * its paper and claim). Free res->lm with fr_lm_result_free, also on error.
 * Errors: FR_EINVAL for a prune outside [0, 1); fr_mkdirs', fr_lm_train's
 * and the results writer's. */
int fr_lm_run_recorded(const struct fr_lm_config *cfg, const struct fr_lm_run_info *info,
                       struct fr_lm_run_result *res, char *results_path, size_t cap);

/* The lines `frugal train-lm` prints after a run (size and speed; the
 * start's loss for a fine-tune; the best and final validation loss; for a
 * run stop_after stopped, that line and how to resume), each ending in a
 * newline, into buf. */
void fr_lm_run_summary(const struct fr_lm_config *cfg, const struct fr_lm_run_info *info,
                       const struct fr_lm_result *r, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif

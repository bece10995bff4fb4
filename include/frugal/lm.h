/* lm.h: training and evaluating transformer language models on a text
 * (or token-id) file, as `frugal train-lm` and `frugal perplexity` do.
 *
 * Data: the text's first 90% trains, the last 10% validates (nanoGPT's
 * split). Batches are random windows of `block` tokens drawn from a seeded
 * RNG. Optimizer AdamW (betas 0.9/beta2, decay on matrices and embeddings
 * only), linear warmup then cosine decay to min_lr, gradient clipping.
 * Every eval_interval iterations the loss is estimated on eval_iters random
 * validation batches (as nanoGPT); at the end the whole validation split is
 * scored in non-overlapping windows. The best model (by estimated val loss)
 * is written to `out` with its tokenizer beside it (`out` + ".tok").
 */
#ifndef FRUGAL_LM_H
#define FRUGAL_LM_H

#include <stdint.h>

#include "frugal/transformer.h"

#ifdef __cplusplus
extern "C" {
#endif

struct fr_tokenizer;

struct fr_lm_config {
    const char *data;      /* text file, or token ids (int32 little-endian, ".ids") */
    const char *tokenizer; /* "char", "bpe" or a tokenizer file */
    int bpe_vocab;         /* vocabulary size when training BPE (default 512) */
    struct fr_tf_config model; /* arch, layers, heads, kv heads, dim, dropout; vocab/max_seq filled */
    int block, batch, iters;
    double lr, min_lr, wd, beta2, clip;
    int warmup;
    int eval_interval, eval_iters;
    uint64_t seed;
    const char *out;  /* best checkpoint (NULL: none) */
    const char *ckpt; /* resumable checkpoint (NULL: none) */
    int ckpt_every;   /* iterations between resumable checkpoints */
    int resume;
    int64_t stop_after; /* stop as if killed after this many iterations (tests) */
    void (*progress)(void *user, int64_t it, int64_t iters, double loss, double lr,
                     int is_eval, double val_loss);
    void *user;
};

struct fr_lm_result {
    int64_t iters_done;
    double best_val_loss, final_val_loss, full_val_loss, train_loss;
    double seconds, tokens_per_s;
    int64_t n_params, vocab;
    int n_evals;
    int64_t *eval_iter; /* n_evals entries each (malloc'd) */
    double *eval_train, *eval_val;
};

/* nanoGPT's CPU shakespeare-char configuration. */
void fr_lm_config_defaults(struct fr_lm_config *c);
int fr_lm_train(const struct fr_lm_config *c, struct fr_lm_result *r);
void fr_lm_result_free(struct fr_lm_result *r);

/* Reads a text file into tokens with the tokenizer (or an .ids file as is). */
int fr_lm_load_tokens(const char *path, struct fr_tokenizer *tok, int32_t **ids, int64_t *n);
/* Mean next-token negative log-likelihood (nats) of ids[0..n) under the
 * model, in windows of `block` tokens (each window's first token has no
 * prediction; windows are non-overlapping), one window at a time through the
 * inference engine. */
int fr_lm_nll(struct fr_tf_model *m, const int32_t *ids, int64_t n, int block,
              double *nll, int64_t *count);

#ifdef __cplusplus
}
#endif
#endif

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
 *
 * Fine-tuning: with `init` the run starts from a checkpoint's weights (any
 * format fr_tf_load reads, converted to an f32 slab; its architecture and
 * context replace `model`) and its keep-mask when it has one. A `prepare`
 * hook then gets the starting model, e.g. to prune it (methods/prune.h:
 * fr_lm_prune_hook magnitude-prunes the body's matrices). Pruned weights
 * stay exactly zero through AdamW (optim.h honours p->mask) and the saved
 * checkpoint carries the mask. Training is the one training loop
 * (train.h): resumable checkpoints record the run's settings (the data's
 * path and a hash of its tokens, the tokenizer, the model, block, batch,
 * iters, learning rates, evaluation, prepare hook, seed) and a resume with
 * different ones is refused.
 *
 * No lost work: out and ckpt are checked writable before the data is read
 * (fr_check_writable, report.h); the tokenizer goes to out + ".tok" before
 * the first checkpoint (atomically), and out's metadata names it
 * (FR_LM_TOKENIZER_KEY); when out cannot be written during the run the
 * best checkpoint and its tokenizer go to a rescue file instead
 * (fr_write_rescued), training goes on, and the run's error names it.
 */
#ifndef FRUGAL_LM_H
#define FRUGAL_LM_H

#include <stddef.h>
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
    struct fr_tf_config
        model; /* arch, layers, heads, kv heads, dim, dropout; vocab/max_seq filled */
    int block, batch, iters;
    double lr, min_lr, wd, beta2, clip;
    int warmup;
    int eval_interval, eval_iters;
    int select_full; /* keep (out) the checkpoint best on the whole validation split, scored at
                        each evaluation (one inference pass over it each time), instead of
                        the one best on the eval_iters-batch estimate (nanoGPT's rule) */
    uint64_t seed;
    const char *precision; /* GEMM precision: "f32" (NULL) or "bf16" (train.h fr_precision_begin) */
    int data_parallel;     /* split every batch over the MPI ranks (train.h fr_fit_config's;
                              dropout masks are the whole batch's, so the answer is one
                              process's) */
    int64_t bucket_bytes;  /* data parallel: all-reduce bucket (fr_fit_config's) */
    const char *out;       /* best checkpoint (NULL: none) */
    const char *ckpt;      /* resumable checkpoint (NULL: none) */
    int ckpt_every;        /* iterations between resumable checkpoints */
    int resume;
    int64_t stop_after; /* stop as if killed after this many iterations (tests) */
    const char *init;   /* start from this checkpoint (NULL: random init); a "char" or
                           "bpe" tokenizer setting then means init + ".tok" */
    /* Optional: called once on the starting model (after init is loaded,
     * before it is scored and trained), e.g. to prune it. prepare_name
     * (required with prepare) says what it does; it is recorded in resumable
     * checkpoints. A nonzero return stops the run and is returned. */
    int (*prepare)(void *user, struct fr_tf_model *m);
    void *prepare_user;
    const char *prepare_name;
    void (*progress)(void *user, int64_t it, int64_t iters, double loss, double lr, int is_eval,
                     double val_loss);
    void *user;
};

struct fr_lm_result {
    int64_t iters_done;
    double best_val_loss, final_val_loss, full_val_loss, train_loss;
    /* best_val_loss: the lowest selection score (the estimate, or with
       select_full the whole split); full_val_loss: the final weights on the
       whole split */
    double init_val_loss;  /* whole validation split before the first step, after prepare
                              (computed when init or prepare is set, else NAN) */
    double scope_sparsity; /* fraction of the prunable weights that are zero at the end */
    double seconds, tokens_per_s;
    int64_t n_params, vocab;
    double comm_seconds; /* data parallel: this rank's time in all-reduces */
    int64_t comm_bytes;  /* data parallel: bytes this rank all-reduced */
    int n_evals;
    int64_t *eval_iter; /* n_evals entries each (malloc'd) */
    double *eval_train, *eval_val;
    int stopped; /* stop_after stopped the run: ckpt holds it; nothing was scored at the end */
};

/* The __metadata__ key under which a checkpoint trained on text names its
 * tokenizer: the value is fr_lm_tokenizer_tag's. */
#define FR_LM_TOKENIZER_KEY "frugal.tokenizer"

/* A tokenizer's tag: "KIND/N/HASH" (char, bpe or spm; its vocabulary size;
 * a 64-bit FNV-1a hash of every piece, score, merge and the BOS/EOS ids),
 * so a tokenizer file can be matched to the model trained with it. */
int fr_lm_tokenizer_tag(const struct fr_tokenizer *t, char *buf, size_t cap);
/* The tag a safetensors checkpoint records (printable, at most 80
 * characters), "" when it records none; fr_st_open's errors. */
int fr_lm_tokenizer_named(const char *path, char *buf, size_t cap);
/* Checks tok (may be NULL) against the model at path with vocab tokens
 * before a tool reads or writes text with it. FR_EINVAL "tokenizer has N
 * tokens but the model only V"; when the checkpoint names its tokenizer:
 * FR_EINVAL when tok is another one, and, with need_text, when tok is NULL
 * ("PATH was trained on text with a tokenizer (TAG) but there is none:
 * PATH.tok is missing ..."). A file that names none (llama2.c, Hugging
 * Face, older frugal checkpoints) passes. */
int fr_lm_tokenizer_check(const char *path, int vocab, const struct fr_tokenizer *tok,
                          int need_text);

/* nanoGPT's CPU shakespeare-char configuration (no init, no pruning). */
void fr_lm_config_defaults(struct fr_lm_config *c);
/* Trains (or, with init, fine-tunes) as described above; r is filled (free
 * it with fr_lm_result_free, also on error). Errors: FR_EINVAL for bad
 * settings (block longer than an init model's
 * context, a tokenizer whose vocabulary differs from the init model's), the
 * loaders' and tokenizer's errors, FR_ENOMEM. */
int fr_lm_train(const struct fr_lm_config *c, struct fr_lm_result *r);

/* Loads any checkpoint fr_tf_load reads into m as a trainable f32 slab
 * model, with the keep-mask of a frugal checkpoint that has one (*has_mask,
 * may be NULL, says which). m is zeroed first; on error it holds nothing. */
int fr_lm_load_trainable(struct fr_tf_model *m, const char *path, int *has_mask);

/* Rewrites the transformer checkpoint at in (any file fr_tf_load reads) as
 * a frugal safetensors file at out with its weights stored as dtype
 * (FR_F32, FR_F16 or FR_BF16; compute stays f32), as `frugal convert`
 * does: out is checked writable before anything is read, in + ".tok" (when
 * there is one; it must be the tokenizer in names) is copied to out +
 * ".tok" first, and out names the tokenizer in named (or that file's).
 * *n_params (may be NULL) gets the parameter count. Errors: those of
 * fr_check_writable, the loaders, fr_lm_tokenizer_check and the writers. */
int fr_lm_convert(const char *in, const char *out, int dtype, int64_t *n_params);

void fr_lm_result_free(struct fr_lm_result *r);

/* Reads a text file into tokens with the tokenizer (or an .ids file as is). */
int fr_lm_load_tokens(const char *path, struct fr_tokenizer *tok, int32_t **ids, int64_t *n);
/* One of train-lm's two splits of a text (or .ids) file: the first 90% of
 * its bytes (held_out == 0) or the last 10% (held_out != 0), each encoded
 * on its own, so the held-out part is exactly the text training never read
 * (an .ids file splits at 90% of its ids). */
int fr_lm_load_split(const char *path, struct fr_tokenizer *tok, int held_out, int32_t **ids,
                     int64_t *n);
/* Mean next-token negative log-likelihood (nats) of ids[0..n) under the
 * model, in windows of `block` tokens (each window's first token has no
 * prediction; windows are non-overlapping), one window at a time through the
 * inference engine. */
int fr_lm_nll(struct fr_tf_model *m, const int32_t *ids, int64_t n, int block, double *nll,
              int64_t *count);

#ifdef __cplusplus
}
#endif
#endif

/* prune.h: weight pruning on a parameter slab: which tensors (scope), which
 * weights (criteria), how sparse (accounting), masks in checkpoints, and a
 * sparse x dense kernel for inference on what is left.
 *
 *     int *sel = calloc(m->params.count, sizeof *sel);
 *     fr_prune_scope(&m->params, NULL, NULL, sel);    // FR_PARAM_PRUNABLE tensors
 *     struct fr_prune_config pc;
 *     fr_prune_config_defaults(&pc);                  // global magnitude (OMP)
 *     pc.sparsity = 0.8;
 *     fr_prune(&m->params, sel, &pc, NULL, NULL);     // mask set, weights zeroed
 *     ... fine-tune: optim.h keeps masked weights and moments exactly zero ...
 *     fr_prune_save(&m->params, "pruned.safetensors", &ckpt_opts);  // + "__mask__"
 *
 * The mask is the slab's own p->mask (params.h: 1 keep, 0 pruned). Pruning
 * only ever removes weights: entries already masked stay masked and are the
 * first counted towards the target, so one-shot magnitude masks at rising
 * sparsities are nested. Every criterion reduces to a score per weight
 * (larger = more worth keeping) and one selection rule: prune exactly
 * k = round(sparsity * n) weights with the lowest scores, ties broken by
 * slab index (lower index pruned first), over all scoped tensors at once
 * (global) or over each tensor (layer-wise). N:M is the exception: it keeps
 * the N largest |w| of each group of M consecutive weights of a row.
 *
 * SNIP and GraSP need gradients on data: the caller passes a loss callback
 * (fr_prune_loss_fn) that runs forward and backward on its batch at the
 * slab's current weights. GraSP's Hessian-gradient product is a central
 * finite difference of two more gradients (frugal has no double backward).
 */
#ifndef FRUGAL_PRUNE_H
#define FRUGAL_PRUNE_H

#include <stdint.h>

#include "frugal/io.h"
#include "frugal/kernels.h"
#include "frugal/params.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------- scope ---------------- */

/* Marks in sel[0..p->count) which tensors are prunable (1) or not (0).
 * include NULL or "": every FR_PARAM_PRUNABLE tensor; otherwise a comma-
 * separated list of shell globs (fnmatch, e.g. "layer*.conv*.weight,fc1.weight")
 * matched against parameter names, flags ignored. exclude (NULL: none) is a
 * glob list removed afterwards. Buffers (FR_PARAM_BUFFER) are never in
 * scope. FR_EINVAL if a pattern is empty or the scope ends up empty. */
int fr_prune_scope(const struct fr_params *p, const char *include, const char *exclude, int *sel);

/* ---------------- criteria ---------------- */

enum fr_prune_method {
    FR_PRUNE_MAGNITUDE = 0, /* |w| (one-shot magnitude pruning, "omp") */
    FR_PRUNE_RANDOM,        /* uniform random scores from seed */
    FR_PRUNE_NM,            /* N:M along rows */
    FR_PRUNE_SNIP,          /* |w * dL/dw| */
    FR_PRUNE_GRASP          /* GraSP: prune the largest -w * (H g) */
};

struct fr_prune_config {
    enum fr_prune_method method;
    double sparsity;  /* fraction of scoped weights to prune, [0, 1); ignored by N:M */
    int layerwise;    /* the same sparsity in each tensor instead of one global threshold */
    int nm_n, nm_m;   /* N:M: keep nm_n of every nm_m (1 <= N <= M <= 64) */
    uint64_t seed;    /* RANDOM */
    double grasp_eps; /* GraSP finite-difference step, as a length in weight space */
};

/* OMP (global magnitude), sparsity 0.5, 2:4, seed 1, grasp_eps 1e-3. */
void fr_prune_config_defaults(struct fr_prune_config *c);
/* Parses "omp"|"magnitude", "random", "nm", "snip", "grasp"; -1 if unknown. */
int fr_prune_method_parse(const char *name);
const char *fr_prune_method_name(enum fr_prune_method m);
/* Parses "N:M" into n, m; FR_EINVAL with a message unless 1 <= N <= M <= 64. */
int fr_prune_parse_nm(const char *s, int *n, int *m);

/* Computes the loss of the caller's batch at the slab's current weights and
 * leaves dL/dw in p->grad (the callee zeroes p->grad first). Returns 0 or an
 * fr_error code. It is called once (SNIP) or three times (GraSP) on the same
 * batch; it may change buffers (batch-norm statistics): fr_prune restores
 * the whole value slab afterwards. */
typedef int (*fr_prune_loss_fn)(void *user, struct fr_params *p, double *loss);

/* The loss callback for image classifiers: cross entropy of m on all of ds
 * as one batch (x {W, H, C, n}), arena ctx reset afterwards. Pass a
 * struct fr_prune_batch as user. */
struct fr_model;
struct fr_ctx;
struct fr_dataset;
struct fr_prune_batch {
    struct fr_model *m;
    struct fr_ctx *ctx;
    const struct fr_dataset *ds;
    float temperature; /* the logits are divided by it (0 or 1: as they are); GraSP's paper
                          scores with 200, which keeps the softmax far from saturation */
};
int fr_prune_batch_loss(void *user, struct fr_params *p, double *loss);
/* The end every scoring loss shares (fr_prune_batch_loss,
 * fr_prune_lm_batch_loss): cross entropy of logits / temperature (0 or 1:
 * as they are) against y, backward, *loss set, ctx reset. FR_EINVAL when logits or y is
 * NULL (an earlier op failed). */
struct fr_tensor;
int fr_prune_logits_loss(struct fr_ctx *ctx, struct fr_tensor *logits, struct fr_tensor *y,
                         float temperature, double *loss);

/* Per-weight keep-scores for method over the scoped tensors into score[0..p->n)
 * (entries outside the scope are left untouched). Weights already masked get
 * -INFINITY. MAGNITUDE |w|, RANDOM uniform [0,1), SNIP |w g|, GRASP w * (H g)
 * (the negative of the GraSP paper's score, so that the largest are kept).
 * SNIP/GRASP call loss (required) and leave p->data as it was and p->grad
 * zeroed. FR_EINVAL on a missing callback, a non-finite score or NM (which
 * has no global score). */
int fr_prune_scores(struct fr_params *p, const int *sel, const struct fr_prune_config *c,
                    fr_prune_loss_fn loss, void *user, float *score);

/* Prunes the scoped tensors of p by config c: allocates p->mask if needed,
 * clears the mask of the chosen weights and zeroes them (and their grads).
 * Exactly k = llround(sparsity * n) scoped weights end up masked (globally,
 * or per tensor when layerwise, n the tensor's size). A sparsity below 1
 * that rounds to every weight (0.999999 of a scope under a million weights)
 * is refused rather than obeyed or quietly changed: a model with no weight
 * left in its scope (or, layer-wise, in one tensor) is disconnected, so the
 * message says the largest sparsity that keeps one. Errors (nothing is
 * changed): FR_EINVAL for sparsity outside [0, 1) or one that would leave
 * no weight, a bad N:M or rows not a multiple of M, an empty scope, more
 * weights already masked than the target (masks only grow), a failed or
 * non-finite loss; FR_ENOMEM. */
int fr_prune(struct fr_params *p, const int *sel, const struct fr_prune_config *c,
             fr_prune_loss_fn loss, void *user);

/* Masks exactly k of the n entries with the lowest scores (ties: lower index
 * first) by setting mask[i] = 0 (entries not chosen are left as they are).
 * The building block of fr_prune, exposed for methods that score weights
 * their own way (IMP, ISP). Scores must not be NaN. FR_EINVAL if k > n. */
int fr_prune_lowest(const float *score, int64_t n, int64_t k, float *mask);

/* ---------------- accounting ---------------- */

struct fr_sparsity_row {
    char name[128];
    int ndim;
    int64_t ne[4]; /* innermost first */
    int64_t n;     /* elements */
    int64_t nonzero;
    int64_t masked; /* mask == 0 (0 without a mask) */
    int in_scope;
};

struct fr_sparsity_table {
    struct fr_sparsity_row *rows;
    int count;
    int64_t total, total_nonzero; /* all non-buffer tensors */
    int64_t scope, scope_nonzero; /* tensors with in_scope */
    int64_t scope_masked;         /* mask == 0 in tensors with in_scope (0 without a mask) */
};

/* One row per non-buffer tensor of p; in_scope from sel (NULL: the
 * FR_PARAM_PRUNABLE flag). Overall sparsity = 1 - nonzero / total. */
int fr_sparsity_table_params(const struct fr_params *p, const int *sel,
                             struct fr_sparsity_table *t);
void fr_sparsity_table_free(struct fr_sparsity_table *t);

/* The table of a checkpoint file, as `frugal sparsity` prints it. A frugal
 * transformer checkpoint (metadata "frugal.model" = "transformer") loads as
 * an f32 slab with its mask (fr_lm_load_trainable) and an image classifier
 * (metadata "arch") is rebuilt (fr_model_load); their scope is
 * fr_prune_scope(include, exclude). Any other safetensors file is read
 * tensor by tensor: rows in file order, trainer state ("__" arrays) and
 * tensors of more than 4 dims skipped, in scope every tensor of two or more
 * dims, or with include (NULL or "": none) those matching its comma globs,
 * minus those matching exclude (empty patterns are skipped). *mask (may be
 * NULL) gets 1 when the file is a model checkpoint (metadata "arch") that
 * stores a keep-mask, 0 when it stores none, -1 when it is not a model
 * checkpoint. Errors: fr_st_open's, the loaders' (naming the file),
 * fr_prune_scope's FR_EINVAL, FR_ENOMEM; t then holds nothing. Free t with
 * fr_sparsity_table_free. */
int fr_sparsity_table_file(const char *path, const char *include, const char *exclude,
                           struct fr_sparsity_table *t, int *mask);

/* Near-zero weights (abrupt sparsification, Essential Sparsity sec. 4):
 * over the scoped non-buffer tensors (sel as above, NULL: the
 * FR_PARAM_PRUNABLE flag), *n_scope gets the weight count, *n_rel the
 * weights with w == 0 or |w| < rel * max|w| of their own tensor, and *n_abs
 * those with w == 0 or |w| < abs_thresh (any output may be NULL). Exact
 * zeros (pruned weights) always count. FR_EINVAL unless rel and abs_thresh
 * are finite and >= 0. */
int fr_sparsity_near_zero(const struct fr_params *p, const int *sel, double rel, double abs_thresh,
                          int64_t *n_scope, int64_t *n_rel, int64_t *n_abs);

/* ---------------- essential sparsity ---------------- */

/* The essential sparsity of a curve (Essential Sparsity, arXiv 2306.03805):
 * score[0..n) are a model's scores at ascending sparsities, score[0] the
 * dense one. A point drops when its score is worse than limit: below it
 * when higher_is_better (an accuracy), above it otherwise (a loss); a NaN
 * score always drops. Returns the index of the last point before the first
 * that drops and sets *drop to the index of that point; when none drops,
 * returns n - 1 (the answer is then only a lower bound) with *drop = -1.
 * The caller sets the tolerance: limit = score[0] - 1 (one accuracy point),
 * score[0] * 1.01 (a loss 1% above dense). */
int fr_prune_essential_index(const double *score, int n, double limit, int higher_is_better,
                             int *drop);

/* ---------------- masks in checkpoints ---------------- */

#define FR_PRUNE_MASK_BLOB FR_MASK_BLOB /* U8 over the whole slab (p->n), io.h */

/* fr_params_save_masked / fr_params_load_masked (io.h), under the names the
 * pruning code has always used. */
int fr_prune_save(const struct fr_params *p, const char *path, const struct fr_ckpt *opt);
int fr_prune_load(struct fr_params *p, const char *path, struct fr_ckpt *opt, int *has_mask);

/* ---------------- sparse inference ---------------- */

/* struct fr_csr, fr_csr_from_dense and fr_csr_free are in kernels.h (the
 * convolution op reads a weight's CSR at inference). */

/* Y = X A^T: X is B x cols (row stride ldx), Y is B x rows (row stride ldy),
 * written (not accumulated). This is a linear layer y = W x on a batch of B
 * row vectors. Threaded over output rows, vectorised over the batch.
 * fr_csr_matmul_ref is the plain loop (double accumulation) it is tested
 * against. */
void fr_csr_matmul(const struct fr_csr *A, int64_t B, const float *X, int64_t ldx, float *Y,
                   int64_t ldy);
void fr_csr_matmul_ref(const struct fr_csr *A, int64_t B, const float *X, int64_t ldx, float *Y,
                       int64_t ldy);

/* 1 if the sparse kernel is expected to beat dense fr_gemm for this shape,
 * batch and density (nnz / (rows * cols)), from the crossovers measured by
 * bench/bench_sparse.c on the development machine (see BENCHMARKS.md). */
int fr_sparse_preferred(int64_t rows, int64_t cols, int64_t B, double density);

/* A weight kept for inference both ways: the dense matrix (borrowed) and,
 * when its density could ever pay off, its CSR. fr_spmat_matmul picks the
 * faster kernel per call with fr_sparse_preferred. */
struct fr_spmat {
    const float *w; /* rows x cols, row stride cols, borrowed */
    int64_t rows, cols;
    double density;
    int has_csr;
    struct fr_csr csr;
};

int fr_spmat_init(struct fr_spmat *S, const float *W, int64_t rows, int64_t cols);
void fr_spmat_free(struct fr_spmat *S);
/* Y = X W^T for B rows of X (strides cols and rows). Returns 1 if the
 * sparse kernel ran, 0 if dense. */
int fr_spmat_matmul(const struct fr_spmat *S, int64_t B, const float *X, float *Y);

/* A model's convolutions on their sparse kernels for inference: every
 * prunable 4-d weight of m whose density is at most max_density gets its
 * CSR (tensor.h's csr), which fr_conv2d uses whenever it records no
 * gradient (evaluation, serving); training is unchanged. The CSR is a
 * snapshot: detach before the weights change. Returns 0, FR_ENOMEM. */
struct fr_model;
struct fr_sparse_model {
    struct fr_model *m;
    int n;
    struct fr_csr *csr;
    int *param;         /* index in m->params per CSR */
    int64_t nnz, dense; /* kept and all entries of the attached weights */
};
int fr_sparse_attach(struct fr_sparse_model *s, struct fr_model *m, double max_density);
void fr_sparse_detach(struct fr_sparse_model *s);

/* ---- language models ---- */

struct fr_tf_model;
struct fr_lm_config;

/* The loss callback for language models (SNIP and GraSP on an LM; pass a
 * struct fr_prune_lm_batch as user): B windows of the model's context T
 * spread evenly over ids[0..n) (window k starts at k (n - T - 1) / (B - 1)),
 * inputs and next tokens, scored as one batch: cross entropy of the logits
 * divided by temperature (0 or 1: as they are). fr_prune_lm_batch_init
 * copies the windows (ids is not kept) and holds m until
 * fr_prune_lm_batch_free (b zeroed; a zeroed b is a no-op). FR_EINVAL for
 * batch < 1, fewer than T + 2 tokens or a token outside m's vocabulary;
 * FR_ENOMEM. */
struct fr_prune_lm_batch {
    struct fr_tf_model *m;
    struct fr_ctx *ctx;
    int32_t *x, *y; /* {T, B} each */
    int64_t T, B;
    float temperature;
};
int fr_prune_lm_batch_init(struct fr_prune_lm_batch *b, struct fr_tf_model *m, const int32_t *ids,
                           int64_t n, int64_t batch, float temperature);
void fr_prune_lm_batch_free(struct fr_prune_lm_batch *b);
int fr_prune_lm_batch_loss(void *user, struct fr_params *p, double *loss);

/* Magnitude-prunes m's prunable matrices (FR_PARAM_PRUNABLE: attention
 * q/k/v/o or fused qkv, MLP matrices; never embeddings, norms, biases,
 * positions or the LM head) to `sparsity` (global threshold, or per matrix
 * when layerwise); masks only grow. FR_EINVAL for sparsity outside [0, 1)
 * or a model without a slab (fr_lm_load_trainable gives one). */
int fr_lm_prune(struct fr_tf_model *m, double sparsity, int layerwise);

/* Pruning the start of an LM fine-tune (lm.h): fr_lm_prune_prepare sets c's
 * prepare hook to fr_lm_prune(sparsity, layerwise) when sparsity > 0 (s
 * must outlive the run; its name is what the run's checkpoints record).
 * FR_EINVAL for sparsity outside [0, 1). */
struct fr_lm_prune_spec {
    double sparsity;
    int layerwise;
    char name[64]; /* filled by fr_lm_prune_prepare */
};
int fr_lm_prune_prepare(struct fr_lm_config *c, struct fr_lm_prune_spec *s);
/* The hook itself (user: struct fr_lm_prune_spec *). */
int fr_lm_prune_hook(void *user, struct fr_tf_model *m);

#ifdef __cplusplus
}
#endif
#endif

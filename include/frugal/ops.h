/* ops.h: every differentiable operation. Each call computes its result now
 * (in the context's arena) and, when gradients are enabled and an input
 * requires them, records itself on the tape for fr_backward().
 *
 * Conventions (see tensor.h for layout): dim 0 is innermost. A "matrix"
 * [M x K] has ne = {K, M}. Images are NCHW: ne = {W, H, C, N}.
 * Inputs may be strided views unless a function says otherwise; ops copy to
 * contiguous internally where a kernel needs it. All compute is f32, and f64
 * through the scalar reference kernels (used by the gradient checks); inputs
 * of an op share one float dtype. Integer index tensors are FR_I32.
 *
 * Errors: on a bad shape or argument an op returns NULL and sets
 * fr_last_error(); every op passes NULL inputs through as NULL, so a chain
 * of ops can be checked once at the end.
 */
#ifndef FRUGAL_OPS_H
#define FRUGAL_OPS_H

#include "frugal/rng.h"
#include "frugal/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

struct fr_tensor;
struct fr_ctx;
typedef struct fr_tensor fr_t;

/* ---- the tape ---- */
/* Back-propagates from a scalar (one element) loss: loss->grad = 1, then
 * walks the tape in reverse. Gradients accumulate (+=) into leaves' grads;
 * leaves with requires_grad and no grad get a zeroed arena grad first.
 * Returns 0 or FR_EINVAL (loss not scalar / not on the tape). */
int fr_backward(struct fr_ctx *ctx, struct fr_tensor *loss);
/* fr_backward that also calls ready(user, leaf) once for each leaf with a
 * grad, as soon as that grad is final: right after the backward of the
 * first op on the tape that reads the leaf (the last one the reverse walk
 * reaches). Leaves the loss does not reach are not reported. Data-parallel
 * training starts a leaf's all-reduce there, while the rest of the
 * backward pass runs (train.h, fr_fit_config.bucket_bytes). When the
 * bookkeeping (a few pointers per op) cannot be allocated, nothing is
 * reported and the pass still runs: a caller must treat every leaf it was
 * not told about as final at the end. */
typedef void (*fr_grad_ready_fn)(void *user, struct fr_tensor *leaf);
int fr_backward_ready(struct fr_ctx *ctx, struct fr_tensor *loss, fr_grad_ready_fn ready,
                      void *user);

/* The name of the op that made t ("relu", "conv2d", "linear", ... as in
 * src/autograd/ops.def; "leaf" for a tensor no op made): what a forward
 * observer (tensor.h fr_ctx_set_observer) selects activations by. */
const char *fr_op_kind(const struct fr_tensor *t);

/* ---- views (share data; backward scatters into the source's grad) ---- */
/* New shape with the same element count; a non-contiguous x is copied first. */
fr_t *fr_reshape(struct fr_ctx *ctx, fr_t *x, int ndim, const int64_t *ne);
fr_t *fr_reshape2(struct fr_ctx *ctx, fr_t *x, int64_t n0, int64_t n1);
/* out dim i is x dim axes[i] (axes a permutation of 0..ndim-1). */
fr_t *fr_permute(struct fr_ctx *ctx, fr_t *x, const int *axes);
fr_t *fr_transpose(struct fr_ctx *ctx, fr_t *x, int d0, int d1);
/* Elements [start, start+len) of dim. */
fr_t *fr_slice(struct fr_ctx *ctx, fr_t *x, int dim, int64_t start, int64_t len);
/* Broadcast view to shape ne (each x dim equals ne or is 1; stride 0 there). */
fr_t *fr_expand(struct fr_ctx *ctx, fr_t *x, int ndim, const int64_t *ne);
/* Contiguous copy (returns x itself if already contiguous). */
fr_t *fr_contiguous(struct fr_ctx *ctx, fr_t *x);
/* Joins a and b along dim (other dims equal). */
fr_t *fr_concat(struct fr_ctx *ctx, fr_t *a, fr_t *b, int dim);

/* ---- elementwise, with NumPy broadcasting (dims aligned at dim 0) ---- */
fr_t *fr_add(struct fr_ctx *ctx, fr_t *a, fr_t *b);
fr_t *fr_sub(struct fr_ctx *ctx, fr_t *a, fr_t *b);
fr_t *fr_mul(struct fr_ctx *ctx, fr_t *a, fr_t *b);
fr_t *fr_div(struct fr_ctx *ctx, fr_t *a, fr_t *b);
fr_t *fr_neg(struct fr_ctx *ctx, fr_t *x);
fr_t *fr_scale(struct fr_ctx *ctx, fr_t *x, float s);      /* x * s */
fr_t *fr_add_scalar(struct fr_ctx *ctx, fr_t *x, float s); /* x + s */
fr_t *fr_relu(struct fr_ctx *ctx, fr_t *x);
fr_t *fr_gelu(struct fr_ctx *ctx, fr_t *x);      /* exact (erf) GELU, PyTorch default */
fr_t *fr_gelu_tanh(struct fr_ctx *ctx, fr_t *x); /* tanh approximation (GPT-2) */
fr_t *fr_silu(struct fr_ctx *ctx, fr_t *x);
fr_t *fr_tanh(struct fr_ctx *ctx, fr_t *x);
fr_t *fr_sigmoid(struct fr_ctx *ctx, fr_t *x);
fr_t *fr_exp(struct fr_ctx *ctx, fr_t *x);
fr_t *fr_log(struct fr_ctx *ctx, fr_t *x);
fr_t *fr_sqrt(struct fr_ctx *ctx, fr_t *x);
fr_t *fr_pow(struct fr_ctx *ctx, fr_t *x, float p); /* x^p elementwise */
fr_t *fr_clamp(struct fr_ctx *ctx, fr_t *x, float lo, float hi);
/* cond ? a : b, cond any dtype (nonzero = true), all three broadcast. The
 * gradient flows to a where cond holds and to b elsewhere. */
fr_t *fr_where(struct fr_ctx *ctx, fr_t *cond, fr_t *a, fr_t *b);

/* ---- reductions (keep the reduced dim with size 1) ---- */
/* dim in 0..3, or -1 for all elements (result has one element, ndim 1). */
fr_t *fr_sum(struct fr_ctx *ctx, fr_t *x, int dim);
fr_t *fr_mean(struct fr_ctx *ctx, fr_t *x, int dim);
/* Max over dim; gradient goes to the first maximal element. */
fr_t *fr_max(struct fr_ctx *ctx, fr_t *x, int dim);

/* ---- linear algebra ---- */
/* a [.., M, K] @ b [.., K, N] -> [.., M, N]; batch dims 2,3 broadcast. */
fr_t *fr_matmul(struct fr_ctx *ctx, fr_t *a, fr_t *b);
/* x [.., in] @ w[out, in]^T + bias[out] (bias may be NULL; PyTorch layout). */
fr_t *fr_linear(struct fr_ctx *ctx, fr_t *x, fr_t *w, fr_t *bias);

/* ---- convolution and pooling (NCHW) ---- */
struct fr_conv2d_opts {
    int stride_h, stride_w; /* 0 means 1 */
    int pad_h, pad_w;
    int dil_h, dil_w; /* 0 means 1 */
    int groups;       /* 0 means 1; groups == C_in == C_out is depthwise */
};
/* x {W,H,Cin,N}, w {KW,KH,Cin/groups,Cout}, bias {Cout} or NULL. */
fr_t *fr_conv2d(struct fr_ctx *ctx, fr_t *x, fr_t *w, fr_t *bias, const struct fr_conv2d_opts *o);
/* fr_conv2d, then ReLU, then (pool 2) a 2x2 stride-2 max pool, in one op:
 * the same values and gradients as
 * fr_maxpool2d(fr_relu(fr_conv2d(...)), 2, 2, 2, 2, 0, 0) (pool 1: no
 * pool), but each image's convolution output is activated and pooled
 * while it is in cache, and neither the full-size output nor its gradient
 * is ever stored. Grouped convs fall back to the composition. */
fr_t *fr_conv2d_relu_pool(struct fr_ctx *ctx, fr_t *x, fr_t *w, fr_t *bias,
                          const struct fr_conv2d_opts *o, int pool);
/* Pooling windows kh x kw, stride (0 = kernel size), zero padding ph, pw
 * (padded cells never win a max and count in an average as PyTorch's
 * count_include_pad=True does). */
fr_t *fr_maxpool2d(struct fr_ctx *ctx, fr_t *x, int kh, int kw, int sh, int sw, int ph, int pw);
fr_t *fr_avgpool2d(struct fr_ctx *ctx, fr_t *x, int kh, int kw, int sh, int sw, int ph, int pw);
/* The average over the window's real cells only (PyTorch's
 * count_include_pad=False): a padded border cell of a 3x3 window divides by
 * 4 or 6, not 9. NAS-Bench-201's avg_pool_3x3. */
fr_t *fr_avgpool2d_real(struct fr_ctx *ctx, fr_t *x, int kh, int kw, int sh, int sw, int ph,
                        int pw);
/* {W,H,C,N} -> {C,N} */
fr_t *fr_global_avgpool(struct fr_ctx *ctx, fr_t *x);

/* ---- normalisation ---- */
/* Batch norm over the channel dim: x {W,H,C,N} (channel dim 2) or {C,N}
 * (channel dim 0). In training mode uses batch statistics and updates
 * running_mean/running_var (plain f32 arrays of C, may be NULL) with
 * momentum (PyTorch convention, unbiased running var); in eval mode uses the
 * running statistics. gamma/beta {C} may be NULL. */
fr_t *fr_batchnorm(struct fr_ctx *ctx, fr_t *x, fr_t *gamma, fr_t *beta, float *running_mean,
                   float *running_var, float momentum, float eps);
/* Over dim 0: (x - mean) / sqrt(var + eps) * w + b (w, b {ne0} or NULL). */
fr_t *fr_layernorm(struct fr_ctx *ctx, fr_t *x, fr_t *w, fr_t *b, float eps);
/* Over the channels of x {W,H,C,N} at every position (ConvNeXt's
 * LayerNorm(data_format="channels_first")): fr_layernorm of x permuted to
 * {C,W,H,N} and back, without the copies. w, b {C} or NULL. */
fr_t *fr_layernorm_c(struct fr_ctx *ctx, fr_t *x, fr_t *w, fr_t *b, float eps);
/* Over dim 0: x / sqrt(mean(x^2) + eps) * w (w may be NULL). */
fr_t *fr_rmsnorm(struct fr_ctx *ctx, fr_t *x, fr_t *w, float eps);

/* ---- softmax and losses ---- */
fr_t *fr_softmax(struct fr_ctx *ctx, fr_t *x);     /* over dim 0 */
fr_t *fr_log_softmax(struct fr_ctx *ctx, fr_t *x); /* over dim 0 */
/* logits {C, N...}, labels I32 {N...} (value -1 = ignore): mean over the
 * non-ignored rows of the smoothed cross-entropy (PyTorch semantics). */
fr_t *fr_cross_entropy(struct fr_ctx *ctx, fr_t *logits, fr_t *labels, float label_smoothing);
fr_t *fr_mse(struct fr_ctx *ctx, fr_t *a, fr_t *b);                   /* mean (a-b)^2 */
fr_t *fr_smooth_l1(struct fr_ctx *ctx, fr_t *a, fr_t *b, float beta); /* mean */
/* KL(p || q) with logq log-probabilities and p probabilities, both {C, N..}:
 * sum p (log p - logq) / N ("batchmean"); terms with p = 0 count 0. */
fr_t *fr_kl_div(struct fr_ctx *ctx, fr_t *logq, fr_t *p);

/* ---- indexing ---- */
/* weight {D, V}, ids I32 of any shape -> {D, ids...}. Out-of-range id: NULL. */
fr_t *fr_embedding(struct fr_ctx *ctx, fr_t *weight, fr_t *ids);
/* Rows of x {D, N} picked by idx I32 {E} -> {D, E}. */
fr_t *fr_gather(struct fr_ctx *ctx, fr_t *x, fr_t *idx);
/* out {D, n} zero, then out[:, idx[e]] += src[:, e] for src {D, E}. */
fr_t *fr_scatter_add(struct fr_ctx *ctx, fr_t *src, fr_t *idx, int64_t n);

/* ---- attention ---- */
/* Rotary position embedding of x {n_heads*hs, T, B...}: in each head, pairs
 * (2i, 2i+1) (half = 0, llama2.c / Meta layout) or (i, i + hs/2) (half = 1,
 * Hugging Face layout) rotate by angle (pos0 + t) * theta^(-2i/hs). Rows may
 * be strided (dim 0 contiguous). */
fr_t *fr_rope(struct fr_ctx *ctx, fr_t *x, int n_heads, float theta, int half, int pos0);
/* Scaled dot-product attention, causal when `causal`: q {H*hs, T, B},
 * k and v {Hkv*hs, T, B} (H a multiple of Hkv: grouped-query attention; query
 * head h reads KV head h / (H/Hkv)) -> {H*hs, T, B}. softmax(q k^T/sqrt(hs))
 * v per head. Rows may be strided (slices of a fused qkv). Keeps the
 * attention probabilities (T*T*H*B floats) for backward. */
fr_t *fr_attention(struct fr_ctx *ctx, fr_t *q, fr_t *k, fr_t *v, int n_heads, int n_kv_heads,
                   int causal);

/* ---- regularisation ---- */
/* In training mode zeroes each element with probability p and scales the
 * rest by 1/(1-p), drawing from rng; identity in eval mode or when p == 0. */
fr_t *fr_dropout(struct fr_ctx *ctx, fr_t *x, float p, struct fr_rng *rng);

/* Reference mode: when on, f32 ops use their plain scalar kernels instead of
 * the SIMD / GEMM fast paths (tests compare the two). Global, not per ctx. */
void fr_set_reference_mode(int on);
int fr_reference_mode(void);

#ifdef __cplusplus
}
#endif
#endif

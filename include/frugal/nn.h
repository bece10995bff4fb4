/* nn.h: layer helpers over the parameter slab (params.h) and the ops (ops.h).
 *
 * A layer is a small struct of tensor views into a model's slab. Building a
 * model is three passes, so the slab is allocated once:
 *
 *     struct fr_linear fc1;
 *     fr_linear_declare(&P, &fc1, "fc1", 784, 256, 1);   // names fc1.weight, fc1.bias
 *     ... declare every layer ...
 *     fr_params_alloc(&P);
 *     fr_linear_init(&fc1, &rng);                        // PyTorch default init
 *     y = fr_linear_forward(ctx, &fc1, x);               // each step
 *
 * Names follow PyTorch's state_dict ("features.0.weight", "layer1.0.bn1.
 * running_mean"), so a frugal safetensors checkpoint loads into the same
 * PyTorch module and back. Initialisation matches PyTorch's defaults in
 * distribution (not in the random stream): Linear/Conv2d weights
 * kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and
 * biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)); BatchNorm weight 1, bias 0,
 * running_mean 0, running_var 1.
 */
#ifndef FRUGAL_NN_H
#define FRUGAL_NN_H

#include "frugal/ops.h"
#include "frugal/params.h"
#include "frugal/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* U(-bound, bound) with bound = 1/sqrt(fan_in): PyTorch's default for the
 * weights (kaiming_uniform_ with a = sqrt(5)) and biases of Linear/Conv. */
void fr_init_uniform_fan_in(struct fr_tensor *t, int64_t fan_in, struct fr_rng *rng);
/* Kaiming-normal (fan_in, ReLU gain): N(0, 2/fan_in). */
void fr_init_kaiming_normal(struct fr_tensor *t, int64_t fan_in, struct fr_rng *rng);
void fr_init_const(struct fr_tensor *t, float v);

/* nn.Linear(in, out, bias): weight {in, out} (PyTorch [out, in]), bias {out}. */
struct fr_linear {
    struct fr_tensor *w, *b;
    int64_t in, out;
};
/* Declares "<prefix>.weight" (FR_PARAM_PRUNABLE) and "<prefix>.bias"
 * (FR_PARAM_NO_DECAY) in p. Returns 0 or an error (duplicate name, ...). */
int fr_linear_declare(struct fr_params *p, struct fr_linear *l, const char *prefix, int64_t in,
                      int64_t out, int bias);
void fr_linear_init(struct fr_linear *l, struct fr_rng *rng);
/* x {in, N...} -> {out, N...}; NULL (error set) on bad input. */
struct fr_tensor *fr_linear_forward(struct fr_ctx *ctx, const struct fr_linear *l,
                                    struct fr_tensor *x);

/* nn.Conv2d: weight {k, k, cin/groups, cout}, bias {cout} or none. */
struct fr_conv {
    struct fr_tensor *w, *b;
    int64_t cin, cout;
    int k;
    struct fr_conv2d_opts o;
};
/* Declares "<prefix>.weight" (PRUNABLE) and, if bias, "<prefix>.bias". */
int fr_conv_declare(struct fr_params *p, struct fr_conv *c, const char *prefix, int64_t cin,
                    int64_t cout, int k, int stride, int pad, int bias);
void fr_conv_init(struct fr_conv *c, struct fr_rng *rng);
/* x {W, H, cin, N} -> {W', H', cout, N}. */
struct fr_tensor *fr_conv_forward(struct fr_ctx *ctx, const struct fr_conv *c, struct fr_tensor *x);

/* nn.BatchNorm2d / BatchNorm1d (momentum 0.1, eps 1e-5): "<prefix>.weight",
 * ".bias" (NO_DECAY) and the buffers ".running_mean", ".running_var",
 * ".num_batches_tracked" (a float count here; PyTorch's is int64). */
struct fr_bn {
    struct fr_tensor *w, *b, *mean, *var, *count;
    int64_t c;
    float momentum, eps;
};
int fr_bn_declare(struct fr_params *p, struct fr_bn *bn, const char *prefix, int64_t c);
void fr_bn_init(struct fr_bn *bn);
/* Batch statistics and running-stat update in training mode (ctx), running
 * statistics in eval mode. Under fr_no_grad in training mode the running
 * statistics still update, as in PyTorch. */
struct fr_tensor *fr_bn_forward(struct fr_ctx *ctx, const struct fr_bn *bn, struct fr_tensor *x);

/* nn.LayerNorm(c): "<prefix>.weight" (1) and ".bias" (0), both
 * NO_DECAY; the forward is the caller's (fr_layernorm over dim 0, or
 * fr_layernorm_c over the channels of an image map). */
struct fr_ln {
    struct fr_tensor *w, *b;
};
int fr_ln_declare(struct fr_params *p, struct fr_ln *ln, const char *prefix, int64_t c);
void fr_ln_init(struct fr_ln *ln);

/* Flattens {W, H, C, N} (or any shape) to {W*H*C, N}: PyTorch's
 * x.flatten(1) for an NCHW tensor, so linear weights stay compatible. */
struct fr_tensor *fr_flatten(struct fr_ctx *ctx, struct fr_tensor *x);

#ifdef __cplusplus
}
#endif
#endif

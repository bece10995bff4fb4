/* layers.c: Linear, Conv2d and BatchNorm helpers (see nn.h). Each declares
 * its tensors under PyTorch state_dict names, initialises them as PyTorch
 * does, and runs its forward through the public ops, so autograd, fast
 * paths and reference kernels come from the op layer. */
#include "frugal/nn.h"
#include "frugal/status.h"

#include <stdio.h>
#include <string.h>

static struct fr_tensor *add(struct fr_params *p, const char *prefix, const char *what, int ndim,
                             const int64_t *ne, int flags) {
    char name[128];
    if (snprintf(name, sizeof name, "%s.%s", prefix, what) >= (int)sizeof name) {
        fr_error(FR_EINVAL, "nn: parameter name '%s.%s' too long", prefix, what);
        return NULL;
    }
    return fr_params_add(p, name, ndim, ne, flags);
}

int fr_linear_declare(struct fr_params *p, struct fr_linear *l, const char *prefix, int64_t in,
                      int64_t out, int bias) {
    memset(l, 0, sizeof *l);
    if (in <= 0 || out <= 0)
        return fr_error(FR_EINVAL, "linear '%s': sizes %lld -> %lld must be positive", prefix,
                        (long long)in, (long long)out);
    l->in = in;
    l->out = out;
    l->w = add(p, prefix, "weight", 2, (int64_t[]){in, out}, FR_PARAM_PRUNABLE);
    if (!l->w) return FR_EINVAL;
    if (bias) {
        l->b = add(p, prefix, "bias", 1, (int64_t[]){out}, FR_PARAM_NO_DECAY);
        if (!l->b) return FR_EINVAL;
    }
    return 0;
}

void fr_linear_init(struct fr_linear *l, struct fr_rng *rng) {
    fr_init_uniform_fan_in(l->w, l->in, rng);
    if (l->b) fr_init_uniform_fan_in(l->b, l->in, rng);
}

struct fr_tensor *fr_linear_forward(struct fr_ctx *ctx, const struct fr_linear *l,
                                    struct fr_tensor *x) {
    return fr_linear(ctx, x, l->w, l->b);
}

int fr_conv_declare(struct fr_params *p, struct fr_conv *c, const char *prefix, int64_t cin,
                    int64_t cout, int k, int stride, int pad, int bias) {
    memset(c, 0, sizeof *c);
    if (cin <= 0 || cout <= 0 || k <= 0 || stride <= 0 || pad < 0)
        return fr_error(FR_EINVAL,
                        "conv '%s': bad geometry cin %lld cout %lld k %d stride %d pad %d", prefix,
                        (long long)cin, (long long)cout, k, stride, pad);
    c->cin = cin;
    c->cout = cout;
    c->k = k;
    c->o.stride_h = c->o.stride_w = stride;
    c->o.pad_h = c->o.pad_w = pad;
    c->w = add(p, prefix, "weight", 4, (int64_t[]){k, k, cin, cout}, FR_PARAM_PRUNABLE);
    if (!c->w) return FR_EINVAL;
    if (bias) {
        c->b = add(p, prefix, "bias", 1, (int64_t[]){cout}, FR_PARAM_NO_DECAY);
        if (!c->b) return FR_EINVAL;
    }
    return 0;
}

void fr_conv_init(struct fr_conv *c, struct fr_rng *rng) {
    int64_t fan_in = c->cin * c->k * c->k;
    fr_init_uniform_fan_in(c->w, fan_in, rng);
    if (c->b) fr_init_uniform_fan_in(c->b, fan_in, rng);
}

struct fr_tensor *fr_conv_forward(struct fr_ctx *ctx, const struct fr_conv *c,
                                  struct fr_tensor *x) {
    return fr_conv2d(ctx, x, c->w, c->b, &c->o);
}

int fr_bn_declare(struct fr_params *p, struct fr_bn *bn, const char *prefix, int64_t c) {
    memset(bn, 0, sizeof *bn);
    if (c <= 0) return fr_error(FR_EINVAL, "batchnorm '%s': %lld channels", prefix, (long long)c);
    bn->c = c;
    bn->momentum = 0.1f;
    bn->eps = 1e-5f;
    int64_t ne[1] = {c};
    bn->w = add(p, prefix, "weight", 1, ne, FR_PARAM_NO_DECAY);
    bn->b = add(p, prefix, "bias", 1, ne, FR_PARAM_NO_DECAY);
    bn->mean = add(p, prefix, "running_mean", 1, ne, FR_PARAM_BUFFER);
    bn->var = add(p, prefix, "running_var", 1, ne, FR_PARAM_BUFFER);
    bn->count = add(p, prefix, "num_batches_tracked", 1, (int64_t[]){1}, FR_PARAM_BUFFER);
    return bn->w && bn->b && bn->mean && bn->var && bn->count ? 0 : FR_EINVAL;
}

int fr_ln_declare(struct fr_params *p, struct fr_ln *ln, const char *prefix, int64_t c) {
    memset(ln, 0, sizeof *ln);
    if (c <= 0) return fr_error(FR_EINVAL, "layernorm '%s': %lld channels", prefix, (long long)c);
    ln->w = add(p, prefix, "weight", 1, (int64_t[]){c}, FR_PARAM_NO_DECAY);
    ln->b = add(p, prefix, "bias", 1, (int64_t[]){c}, FR_PARAM_NO_DECAY);
    return ln->w && ln->b ? 0 : FR_EINVAL;
}

void fr_ln_init(struct fr_ln *ln) {
    fr_init_const(ln->w, 1.0f);
    fr_init_const(ln->b, 0.0f);
}

void fr_bn_init(struct fr_bn *bn) {
    fr_init_const(bn->w, 1.0f);
    fr_init_const(bn->b, 0.0f);
    fr_init_const(bn->mean, 0.0f);
    fr_init_const(bn->var, 1.0f);
    fr_init_const(bn->count, 0.0f);
}

struct fr_tensor *fr_bn_forward(struct fr_ctx *ctx, const struct fr_bn *bn, struct fr_tensor *x) {
    if (!x) return NULL;
    struct fr_tensor *y =
        fr_batchnorm(ctx, x, bn->w, bn->b, bn->mean->data, bn->var->data, bn->momentum, bn->eps);
    if (y && fr_is_training(ctx)) ((float *)bn->count->data)[0] += 1.0f;
    return y;
}

struct fr_tensor *fr_flatten(struct fr_ctx *ctx, struct fr_tensor *x) {
    if (!x) return NULL;
    int64_t n = x->ne[x->ndim - 1];
    return fr_reshape2(ctx, x, fr_nelem(x) / n, n);
}

/* vit.c: a small Vision Transformer for 28x28 / 32x32 images.
 *
 * Layout (timm VisionTransformer names, so a frugal checkpoint maps onto
 * timm's state_dict with class_token=False, global_pool='avg'):
 *   patch_embed.proj  Conv2d(C, 64, 4, stride 4)       tokens T = (H/4)(W/4)
 *   pos_embed         learned {64, T} (PyTorch [1, T, 64]); no class token
 *   blocks.i (i < 2)  pre-LN: x += attn.proj(MHSA(attn.qkv(norm1(x))))
 *                             x += mlp.fc2(GELU(mlp.fc1(norm2(x))))
 *                     4 heads of 16, non-causal; MLP 64 -> 128 -> 64
 *   norm              final LayerNorm, then MEAN POOLING over the tokens
 *   head              Linear(64, n_classes)
 * The pooled-mean readout (instead of a class token) keeps the graph to
 * broadcasting adds and a mean. Init: Linear/Conv PyTorch defaults, LayerNorm
 * weight 1 / bias 0, pos_embed N(0, 0.02) (timm's trunc-normal std).
 *
 * Pruning scope: the body linears (qkv, proj, fc1, fc2) are
 * FR_PARAM_PRUNABLE; patch embedding, position embedding, norms, biases and
 * the classifier head are not (the convention in the sparsity papers).
 *
 * Masked image modelling (cfg.mim, SimMIM-style): two more groups, declared
 * after the head so the classifier's names and order are unchanged:
 *   mask_token        {64}, N(0, 0.02), replaces a masked patch's embedding
 *   mim_head          Linear(64, 16 C): a token's 4x4xC patch pixels
 * fr_vit_mim_loss masks round(ratio T) patch tokens per image, encodes with
 * the same encoder as the classifier (vit_encode) and scores the masked
 * patches only (MSE against the input's normalised pixels). The classifier
 * forward never reads the MIM groups, so a mim checkpoint's body copies
 * into a plain vit by name. Neither group is prunable.
 */
#include "zoo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VIT_DIM 64
#define VIT_DEPTH 2
#define VIT_HEADS 4
#define VIT_MLP 128
#define VIT_PATCH 4

struct vit_block {
    struct fr_ln norm1, norm2;
    struct fr_linear qkv, proj, fc1, fc2;
};

struct vit {
    struct fr_conv patch;
    struct fr_tensor *pos;
    struct vit_block blocks[VIT_DEPTH];
    struct fr_ln norm;
    struct fr_linear head;
    struct fr_tensor *mask_tok; /* cfg.mim only */
    struct fr_linear mim_head;  /* cfg.mim only */
    int64_t gw, gh;             /* patch grid */
};

static struct fr_tensor *ln(struct fr_ctx *ctx, const struct fr_ln *n, struct fr_tensor *x) {
    return fr_layernorm(ctx, x, n->w, n->b, 1e-6f); /* timm's eps */
}

static struct fr_tensor *block_forward(struct fr_ctx *ctx, const struct vit_block *b,
                                       struct fr_tensor *x) {
    struct fr_tensor *qkv = fr_linear_forward(ctx, &b->qkv, ln(ctx, &b->norm1, x));
    struct fr_tensor *q = fr_slice(ctx, qkv, 0, 0, VIT_DIM);
    struct fr_tensor *k = fr_slice(ctx, qkv, 0, VIT_DIM, VIT_DIM);
    struct fr_tensor *v = fr_slice(ctx, qkv, 0, 2 * VIT_DIM, VIT_DIM);
    struct fr_tensor *a = fr_attention(ctx, q, k, v, VIT_HEADS, VIT_HEADS, 0);
    x = fr_add(ctx, x, fr_linear_forward(ctx, &b->proj, a));
    struct fr_tensor *h = fr_gelu(ctx, fr_linear_forward(ctx, &b->fc1, ln(ctx, &b->norm2, x)));
    return fr_add(ctx, x, fr_linear_forward(ctx, &b->fc2, h));
}

/* x {W, H, C, N} -> patch tokens {D, T, N} (no position embedding yet). */
static struct fr_tensor *vit_embed(struct fr_model *m, struct fr_ctx *ctx, struct fr_tensor *x) {
    struct vit *n = m->impl;
    if (!x) return NULL;
    if (x->ndim < 3 || x->ne[0] != m->cfg.in_w || x->ne[1] != m->cfg.in_h ||
        x->ne[2] != m->cfg.in_channels) {
        fr_error(FR_EINVAL, "vit: input is not {%d, %d, %d, N}", m->cfg.in_w, m->cfg.in_h,
                 m->cfg.in_channels);
        return NULL;
    }
    int64_t N = x->ne[3], T = n->gw * n->gh;
    struct fr_tensor *t = fr_conv_forward(ctx, &n->patch, x);                 /* {gw, gh, D, N} */
    t = fr_reshape(ctx, t, 3, (int64_t[]){T, VIT_DIM, N});                    /* {T, D, N} */
    return fr_contiguous(ctx, fr_permute(ctx, t, (const int[]){1, 0, 2, 3})); /* {D, T, N} */
}

/* The encoder shared by classification and MIM: tokens {D, T, N} + pos_embed,
 * the blocks, the final norm -> {D, T, N}. */
static struct fr_tensor *vit_encode(const struct vit *n, struct fr_ctx *ctx, struct fr_tensor *t) {
    t = fr_add(ctx, t, n->pos);
    for (int i = 0; i < VIT_DEPTH; i++)
        t = block_forward(ctx, &n->blocks[i], t);
    return ln(ctx, &n->norm, t);
}

/* The encoded tokens as a map {gw, gh, D, N} (the patch grid), for
 * feature distillation and the ERF of the centre token. */
static struct fr_tensor *vit_features(struct fr_model *m, struct fr_ctx *ctx, struct fr_tensor *x) {
    struct vit *n = m->impl;
    struct fr_tensor *t = vit_embed(m, ctx, x);
    if (!t) return NULL;
    int64_t N = t->ne[2];
    t = fr_contiguous(ctx, fr_permute(ctx, vit_encode(n, ctx, t), (const int[]){1, 0, 2, 3}));
    return fr_reshape(ctx, t, 4, (int64_t[]){n->gw, n->gh, VIT_DIM, N});
}

static struct fr_tensor *vit_forward(struct fr_model *m, struct fr_ctx *ctx, struct fr_tensor *x) {
    struct vit *n = m->impl;
    struct fr_tensor *t = vit_embed(m, ctx, x);
    if (!t) return NULL;
    int64_t N = t->ne[2];
    t = fr_mean(ctx, vit_encode(n, ctx, t), 1); /* {D, 1, N} */
    t = fr_reshape2(ctx, t, VIT_DIM, N);
    return fr_linear_forward(ctx, &n->head, t);
}

/* Target pixels of every token: x {W, H, C, N} -> {16 C, T, N} with pixel
 * (px, py, c) of a patch at px + 4 py + 16 c (the conv weight's order). */
static struct fr_tensor *patch_pixels(const struct vit *n, struct fr_ctx *ctx,
                                      const struct fr_tensor *x) {
    /* x is f32 here: the patch convolution already refused anything else */
    const int64_t C = x->ne[2], N = x->ne[3], P = VIT_PATCH, T = n->gw * n->gh;
    struct fr_tensor *y = fr_new3(ctx, FR_F32, P * P * C, T, N);
    if (!y) return NULL;
    float *yd = y->data;
    for (int64_t b = 0; b < N; b++)
        for (int64_t gy = 0; gy < n->gh; gy++)
            for (int64_t gx = 0; gx < n->gw; gx++) {
                float *dst = yd + ((b * T + gy * n->gw + gx) * P * P * C);
                for (int64_t c = 0; c < C; c++)
                    for (int64_t py = 0; py < P; py++)
                        for (int64_t px = 0; px < P; px++) {
                            size_t off = fr_offset(x, gx * P + px, gy * P + py, c, b);
                            dst[c * P * P + py * P + px] =
                                *(const float *)((const char *)x->data + off);
                        }
            }
    return y;
}

struct fr_tensor *fr_vit_mim_loss(struct fr_model *m, struct fr_ctx *ctx, struct fr_tensor *x,
                                  double mask_ratio, struct fr_rng *rng) {
    if (!m || strcmp(m->arch, "vit") != 0 || !m->cfg.mim || !((struct vit *)m->impl)->mask_tok) {
        fr_error(FR_EINVAL, "vit mim loss: the model is not a vit built with mim=1");
        return NULL;
    }
    if (!(mask_ratio > 0 && mask_ratio < 1) || !rng) {
        fr_error(FR_EINVAL, "vit mim loss: mask ratio %g is outside (0, 1)", mask_ratio);
        return NULL;
    }
    struct vit *n = m->impl;
    const int64_t T = n->gw * n->gh;
    const int64_t nm = (int64_t)llround(mask_ratio * (double)T);
    if (nm < 1) {
        fr_error(FR_EINVAL, "vit mim loss: mask ratio %g masks no patch of %lld", mask_ratio,
                 (long long)T);
        return NULL;
    }
    struct fr_tensor *tok = vit_embed(m, ctx, x);
    if (!tok) return NULL;
    const int64_t N = tok->ne[2];
    /* mask {1, T, N} (1 = masked), keep = 1 - mask, idx: masked token rows */
    struct fr_tensor *mask = fr_zeros(ctx, tok->dtype, 3, (int64_t[]){1, T, N});
    struct fr_tensor *keep = fr_new(ctx, tok->dtype, 3, (int64_t[]){1, T, N});
    struct fr_tensor *idx = fr_new1(ctx, FR_I32, nm * N);
    int64_t *perm = fr_ctx_alloc(ctx, (size_t)T * sizeof *perm);
    if (!mask || !keep || !idx || !perm) {
        fr_error(FR_ENOMEM, "vit mim loss: out of memory");
        return NULL;
    }
    for (int64_t b = 0; b < N; b++) {
        fr_rng_permutation(rng, perm, T);
        for (int64_t j = 0; j < nm; j++)
            fr_set(mask, b * T + perm[j], 1.0);
        int64_t e = b * nm; /* masked rows of image b, ascending */
        for (int64_t t = 0; t < T; t++)
            if (fr_get(mask, b * T + t) != 0) ((int32_t *)idx->data)[e++] = (int32_t)(b * T + t);
    }
    for (int64_t i = 0; i < T * N; i++)
        fr_set(keep, i, 1.0 - fr_get(mask, i));
    tok = fr_add(ctx, fr_mul(ctx, tok, keep), fr_mul(ctx, n->mask_tok, mask));
    struct fr_tensor *h = vit_encode(n, ctx, tok);                /* {D, T, N} */
    h = fr_gather(ctx, fr_reshape2(ctx, h, VIT_DIM, T * N), idx); /* {D, nm N} */
    struct fr_tensor *pred = fr_linear_forward(ctx, &n->mim_head, h);
    struct fr_tensor *pix = patch_pixels(n, ctx, x);
    if (!pred || !pix) return NULL;
    pix = fr_reshape2(ctx, pix, pix->ne[0], T * N);
    struct fr_tensor *target = fr_gather(ctx, pix, idx); /* {16 C, nm N}, data only */
    return fr_mse(ctx, pred, target);
}

static void unprunable(struct fr_params *p, const char *name) {
    struct fr_param *q = fr_params_find(p, name);
    if (q) q->flags &= ~FR_PARAM_PRUNABLE;
}

int fr_build_vit(struct fr_model *m, struct fr_rng *rng) {
    if (m->cfg.in_h < VIT_PATCH || m->cfg.in_w < VIT_PATCH)
        return fr_error(FR_EINVAL, "vit: input %d x %d is smaller than one %d x %d patch",
                        m->cfg.in_h, m->cfg.in_w, VIT_PATCH, VIT_PATCH);
    struct vit *n = calloc(1, sizeof *n);
    if (!n) return fr_error(FR_ENOMEM, "vit: out of memory");
    m->impl = n;
    m->forward = vit_forward;
    m->features = vit_features;
    n->gw = m->cfg.in_w / VIT_PATCH;
    n->gh = m->cfg.in_h / VIT_PATCH;
    struct fr_params *p = &m->params;
    int rc = fr_conv_declare(p, &n->patch, "patch_embed.proj", m->cfg.in_channels, VIT_DIM,
                             VIT_PATCH, VIT_PATCH, 0, 1);
    if (!rc) {
        n->pos = fr_params_add(p, "pos_embed", 2, (int64_t[]){VIT_DIM, n->gw * n->gh},
                               FR_PARAM_NO_DECAY);
        if (!n->pos) rc = FR_EINVAL;
    }
    for (int i = 0; i < VIT_DEPTH && !rc; i++) {
        struct vit_block *b = &n->blocks[i];
        char pre[64];
        snprintf(pre, sizeof pre, "blocks.%d.norm1", i);
        rc = fr_ln_declare(p, &b->norm1, pre, VIT_DIM);
        snprintf(pre, sizeof pre, "blocks.%d.attn.qkv", i);
        if (!rc) rc = fr_linear_declare(p, &b->qkv, pre, VIT_DIM, 3 * VIT_DIM, 1);
        snprintf(pre, sizeof pre, "blocks.%d.attn.proj", i);
        if (!rc) rc = fr_linear_declare(p, &b->proj, pre, VIT_DIM, VIT_DIM, 1);
        snprintf(pre, sizeof pre, "blocks.%d.norm2", i);
        if (!rc) rc = fr_ln_declare(p, &b->norm2, pre, VIT_DIM);
        snprintf(pre, sizeof pre, "blocks.%d.mlp.fc1", i);
        if (!rc) rc = fr_linear_declare(p, &b->fc1, pre, VIT_DIM, VIT_MLP, 1);
        snprintf(pre, sizeof pre, "blocks.%d.mlp.fc2", i);
        if (!rc) rc = fr_linear_declare(p, &b->fc2, pre, VIT_MLP, VIT_DIM, 1);
    }
    if (!rc) rc = fr_ln_declare(p, &n->norm, "norm", VIT_DIM);
    if (!rc) rc = fr_linear_declare(p, &n->head, "head", VIT_DIM, m->cfg.n_classes, 1);
    if (!rc && m->cfg.mim) {
        n->mask_tok = fr_params_add(p, "mask_token", 1, (int64_t[]){VIT_DIM}, FR_PARAM_NO_DECAY);
        rc = n->mask_tok ? 0 : FR_EINVAL;
        if (!rc)
            rc = fr_linear_declare(p, &n->mim_head, "mim_head", VIT_DIM,
                                   (int64_t)VIT_PATCH * VIT_PATCH * m->cfg.in_channels, 1);
    }
    if (!rc) rc = fr_params_alloc(p);
    if (rc) return rc;
    unprunable(p, "patch_embed.proj.weight");
    unprunable(p, "mim_head.weight");
    fr_conv_init(&n->patch, rng);
    fr_rng_fill_normal(rng, n->pos->data, fr_nelem(n->pos), 0.0f, 0.02f);
    for (int i = 0; i < VIT_DEPTH; i++) {
        struct vit_block *b = &n->blocks[i];
        fr_ln_init(&b->norm1);
        fr_ln_init(&b->norm2);
        fr_linear_init(&b->qkv, rng);
        fr_linear_init(&b->proj, rng);
        fr_linear_init(&b->fc1, rng);
        fr_linear_init(&b->fc2, rng);
    }
    fr_ln_init(&n->norm);
    fr_linear_init(&n->head, rng);
    if (m->cfg.mim) { /* drawn last: a mim=0 vit of the same seed has the same body */
        fr_rng_fill_normal(rng, n->mask_tok->data, VIT_DIM, 0.0f, 0.02f);
        fr_linear_init(&n->mim_head, rng);
    }
    return 0;
}

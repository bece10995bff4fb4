/* convnext.c: a ConvNeXt-style family scaled to small images, and SLaK's
 * large-kernel form of it (the teacher of the large-kernel distillation
 * paper; models.h).
 *
 * Layout (ConvNeXt's and SLaK's state_dict names):
 *   downsample_layers.0.0  Conv2d(C, 32, 2, stride 2)  the patchify stem
 *   downsample_layers.0.1  LayerNorm over channels (eps 1e-6)
 *   downsample_layers.i.0  LayerNorm, i = 1, 2
 *   downsample_layers.i.1  Conv2d(d, 2d, 2, stride 2)
 *   stages.i.j (3 stages of 2 blocks, widths 32, 64, 128):
 *     convnext: dwconv            depthwise KxK conv with bias
 *     slak:     large_kernel.Decom1 (K x s), .Decom2 (s x K), .small_conv
 *               (s x s), each .conv (depthwise, no bias) + .bn (BatchNorm),
 *               summed; a block whose K is not above s has one branch,
 *               .lkb_origin (K x K), as SLaK builds it. Merged (cfg.merged):
 *               large_kernel.lkb_reparam, one KxK depthwise conv with bias.
 *     norm (LayerNorm over channels), pwconv1 Linear(d, 4d), GELU,
 *     pwconv2 Linear(4d, d), gamma (layer scale, init 1e-6), residual
 *   norm  LayerNorm of the globally average-pooled features; head Linear.
 * ConvNeXt's stem is 4x4/4 and it has 4 stages for 224x224 images; for
 * 28x28 the stem is 2x2/2 and 3 stages give maps of 14, 7 and 3.
 *
 * Kernel sizes (fr_convnext_kernels): SLaK's 51-49-47-13 for maps of
 * 56-28-14-7 are (nearly) the whole first map, then 2 less per stage, and
 * never more than 2 side - 1, past which every further tap reads padding
 * (13 = 2 x 7 - 1 in SLaK's last stage; its 47 on a 14 map is over that
 * bound, which reads zeros). Scaled: K1 the smallest odd number >= 0.9 x
 * the first map's side, K(s) = min(K(s-1) - 2, 2 side(s) - 1): 13-11-5 at
 * 28x28, 29-27-15 on a 64x64 canvas. The plain ConvNeXt takes 7x7 (capped
 * the same way); students pass their own (3 or 7).
 *
 * Init (ConvNeXt's): conv and linear weights N(0, 0.02) (timm's
 * trunc_normal_ with std 0.02 truncates at +-2, 100 standard deviations
 * out: a normal draw here), biases 0, LayerNorm 1 / 0, BatchNorm 1 / 0,
 * layer scale 1e-6.
 */
#include "zoo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CNX_STAGES 3
#define CNX_DEPTH 2
#define CNX_WIDTH 32
#define CNX_SMALL 5

/* one depthwise branch of SLaK's large kernel: conv + batch norm */
struct cnx_branch {
    struct fr_tensor *w; /* {kw, kh, 1, C} */
    struct fr_bn bn;
    int kh, kw;
};

struct cnx_block {
    /* convnext / merged slak: one conv (w, b); slak: branches */
    struct fr_tensor *dw, *dwb;
    int nbranch;
    struct cnx_branch br[3];
    struct fr_ln norm;
    struct fr_linear pw1, pw2;
    struct fr_tensor *gamma;
};

struct convnext {
    int slak, merged, K[CNX_STAGES], small;
    int64_t dims[CNX_STAGES];
    struct fr_conv down[CNX_STAGES]; /* stem, then the two downsampling convs */
    struct fr_ln down_norm[CNX_STAGES];
    struct cnx_block blocks[CNX_STAGES][CNX_DEPTH];
    struct fr_ln norm;
    struct fr_linear head;
    struct fr_linear fd_proj; /* cfg.fd_channels only */
};

/* the map side after the stem and after each downsampling */
static int stage_side(int side, int s) {
    for (int i = 0; i <= s; i++)
        side /= 2;
    return side;
}

int fr_convnext_kernels(const char *arch, int in_h, int in_w, int *K) {
    int large = arch && strcmp(arch, "slak") == 0;
    int prev = 0;
    for (int s = 0; s < CNX_STAGES; s++) {
        int side = stage_side(in_h > in_w ? in_h : in_w, s), cap = 2 * side - 1;
        if (cap < 1) return fr_error(FR_EINVAL, "%s: input %d x %d is too small", arch, in_h, in_w);
        int k;
        if (!large)
            k = 7;
        else if (s == 0)
            k = (int)ceil(0.9 * side - 1e-9) | 1;
        else
            k = prev - 2;
        if (k > cap) k = cap;
        if (k < 1) k = 1;
        K[s] = prev = k;
    }
    return 0;
}

/* {W, H, C, N} -> the same, normalised over C at every position */
static struct fr_tensor *ln_channels(struct fr_ctx *ctx, const struct fr_ln *n,
                                     struct fr_tensor *x) {
    return fr_layernorm_c(ctx, x, n->w, n->b, 1e-6f);
}

/* a Linear(in, out) on the channels of {W, H, in, N}: a 1 x 1 conv with
 * the linear's weight viewed as {1, 1, in, out} (the same memory) */
static struct fr_tensor *pointwise(struct fr_ctx *ctx, const struct fr_linear *l,
                                   struct fr_tensor *x) {
    struct fr_tensor *w = fr_reshape(ctx, l->w, 4, (int64_t[]){1, 1, l->in, l->out});
    return fr_conv2d(ctx, x, w, l->b, NULL);
}

static struct fr_tensor *dw_conv(struct fr_ctx *ctx, struct fr_tensor *x, struct fr_tensor *w,
                                 struct fr_tensor *b, int kh, int kw) {
    struct fr_conv2d_opts o = {.pad_h = kh / 2, .pad_w = kw / 2, .groups = (int)x->ne[2]};
    return fr_conv2d(ctx, x, w, b, &o);
}

static struct fr_tensor *large_kernel(struct fr_ctx *ctx, const struct convnext *n,
                                      const struct cnx_block *b, int K, struct fr_tensor *x) {
    if (!n->slak || n->merged) return dw_conv(ctx, x, b->dw, b->dwb, K, K);
    struct fr_tensor *y = NULL;
    for (int i = 0; i < b->nbranch; i++) {
        const struct cnx_branch *r = &b->br[i];
        struct fr_tensor *t = fr_bn_forward(ctx, &r->bn, dw_conv(ctx, x, r->w, NULL, r->kh, r->kw));
        y = y ? fr_add(ctx, y, t) : t;
    }
    return y;
}

static struct fr_tensor *block_forward(struct fr_ctx *ctx, const struct convnext *n,
                                       const struct cnx_block *b, int K, struct fr_tensor *x) {
    struct fr_tensor *y = large_kernel(ctx, n, b, K, x);
    if (!y) return NULL;
    /* channels-first all the way: the norm over channels, the pointwise
     * linears as 1 x 1 convs, layer scale broadcast over positions */
    struct fr_tensor *t = fr_layernorm_c(ctx, y, b->norm.w, b->norm.b, 1e-6f);
    t = pointwise(ctx, &b->pw2, fr_gelu(ctx, pointwise(ctx, &b->pw1, t)));
    t = fr_mul(ctx, t, fr_reshape(ctx, b->gamma, 4, (int64_t[]){1, 1, b->gamma->ne[0], 1}));
    return fr_add(ctx, x, t);
}

static struct fr_tensor *cnx_features(struct fr_model *m, struct fr_ctx *ctx, struct fr_tensor *x) {
    const struct convnext *n = m->impl;
    if (!x) return NULL;
    if (x->ndim < 3 || x->ne[0] != m->cfg.in_w || x->ne[1] != m->cfg.in_h ||
        x->ne[2] != m->cfg.in_channels) {
        fr_error(FR_EINVAL, "%s: input is not {%d, %d, %d, N}", m->arch, m->cfg.in_w, m->cfg.in_h,
                 m->cfg.in_channels);
        return NULL;
    }
    for (int s = 0; s < CNX_STAGES && x; s++) {
        if (s == 0) {
            x = ln_channels(ctx, &n->down_norm[0], fr_conv_forward(ctx, &n->down[0], x));
        } else {
            x = fr_conv_forward(ctx, &n->down[s], ln_channels(ctx, &n->down_norm[s], x));
        }
        for (int j = 0; j < CNX_DEPTH && x; j++)
            x = block_forward(ctx, n, &n->blocks[s][j], n->K[s], x);
    }
    return x;
}

static struct fr_tensor *cnx_head(struct fr_model *m, struct fr_ctx *ctx, struct fr_tensor *x) {
    const struct convnext *n = m->impl;
    if (!x) return NULL;
    x = fr_global_avgpool(ctx, x); /* {C, N} */
    x = fr_layernorm(ctx, x, n->norm.w, n->norm.b, 1e-6f);
    return fr_linear_forward(ctx, &n->head, x);
}

static struct fr_tensor *cnx_forward(struct fr_model *m, struct fr_ctx *ctx, struct fr_tensor *x) {
    return cnx_head(m, ctx, cnx_features(m, ctx, x));
}

static struct fr_tensor *dw_declare(struct fr_params *p, const char *name, int kh, int kw,
                                    int64_t c) {
    return fr_params_add(p, name, 4, (int64_t[]){kw, kh, 1, c}, FR_PARAM_PRUNABLE);
}

static int block_declare(struct fr_params *p, struct convnext *n, struct cnx_block *b, int s,
                         int j) {
    int64_t d = n->dims[s];
    int K = n->K[s], rc = 0;
    char pre[32], name[128];
    snprintf(pre, sizeof pre, "stages.%d.%d", s % 10, j % 10);
    if (!n->slak || n->merged) {
        snprintf(name, sizeof name,
                 n->slak ? "%s.large_kernel.lkb_reparam.weight" : "%s.dwconv.weight", pre);
        b->dw = dw_declare(p, name, K, K, d);
        snprintf(name, sizeof name, n->slak ? "%s.large_kernel.lkb_reparam.bias" : "%s.dwconv.bias",
                 pre);
        b->dwb = fr_params_add(p, name, 1, (int64_t[]){d}, FR_PARAM_NO_DECAY);
        if (!b->dw || !b->dwb) return FR_EINVAL;
    } else {
        static const char *const decom[3] = {"Decom1", "Decom2", "small_conv"};
        int sm = n->small;
        if (K > sm) {
            b->nbranch = 3;
            b->br[0].kh = K, b->br[0].kw = sm;
            b->br[1].kh = sm, b->br[1].kw = K;
            b->br[2].kh = sm, b->br[2].kw = sm;
        } else {
            b->nbranch = 1;
            b->br[0].kh = b->br[0].kw = K;
        }
        for (int i = 0; i < b->nbranch && !rc; i++) {
            const char *bn = b->nbranch == 1 ? "lkb_origin" : decom[i];
            snprintf(name, sizeof name, "%s.large_kernel.%s.conv.weight", pre, bn);
            b->br[i].w = dw_declare(p, name, b->br[i].kh, b->br[i].kw, d);
            if (!b->br[i].w) return FR_EINVAL;
            snprintf(name, sizeof name, "%s.large_kernel.%s.bn", pre, bn);
            rc = fr_bn_declare(p, &b->br[i].bn, name, d);
        }
    }
    snprintf(name, sizeof name, "%s.norm", pre);
    if (!rc) rc = fr_ln_declare(p, &b->norm, name, d);
    snprintf(name, sizeof name, "%s.pwconv1", pre);
    if (!rc) rc = fr_linear_declare(p, &b->pw1, name, d, 4 * d, 1);
    snprintf(name, sizeof name, "%s.pwconv2", pre);
    if (!rc) rc = fr_linear_declare(p, &b->pw2, name, 4 * d, d, 1);
    snprintf(name, sizeof name, "%s.gamma", pre);
    if (!rc) {
        b->gamma = fr_params_add(p, name, 1, (int64_t[]){d}, FR_PARAM_NO_DECAY);
        if (!b->gamma) rc = FR_EINVAL;
    }
    return rc;
}

static void normal(struct fr_tensor *t, struct fr_rng *rng) {
    fr_rng_fill_normal(rng, t->data, fr_nelem(t), 0.0f, 0.02f);
}

static void linear_init(struct fr_linear *l, struct fr_rng *rng) {
    normal(l->w, rng);
    if (l->b) fr_init_const(l->b, 0.0f);
}

/* Checks the config's kernels (or fills the defaults) against the maps. */
static int check_kernels(struct fr_model *m, struct convnext *n) {
    const struct fr_model_config *c = &m->cfg;
    int def[CNX_STAGES];
    int rc = fr_convnext_kernels(m->arch, c->in_h, c->in_w, def);
    if (rc) return rc;
    for (int s = 0; s < CNX_STAGES; s++) {
        int k = c->kernels[s] ? c->kernels[s] : def[s];
        int hs = stage_side(c->in_h, s), ws = stage_side(c->in_w, s);
        int side = hs > ws ? hs : ws;
        if (k < 1 || k % 2 == 0)
            return fr_error(FR_EINVAL, "%s: kernel %d of stage %d must be odd and positive",
                            m->arch, k, s + 1);
        if (k > 2 * side - 1)
            return fr_error(FR_EINVAL,
                            "%s: kernel %d of stage %d is larger than its padded %d x %d map "
                            "(at most %d reads anything but padding)",
                            m->arch, k, s + 1, ws, hs, 2 * side - 1);
        n->K[s] = k;
    }
    n->small = c->small_kernel ? c->small_kernel : CNX_SMALL;
    if (n->small < 1 || n->small % 2 == 0)
        return fr_error(FR_EINVAL, "%s: small kernel %d must be odd and positive", m->arch,
                        n->small);
    return 0;
}

int fr_build_convnext(struct fr_model *m, struct fr_rng *rng) {
    const struct fr_model_config *c = &m->cfg;
    if (c->in_h < 8 || c->in_w < 8)
        return fr_error(FR_EINVAL, "%s: input %d x %d is smaller than 8 x 8 (three halvings)",
                        m->arch, c->in_h, c->in_w);
    struct convnext *n = calloc(1, sizeof *n);
    if (!n) return fr_error(FR_ENOMEM, "%s: out of memory", m->arch);
    m->impl = n;
    m->forward = cnx_forward;
    m->features = cnx_features;
    m->head = cnx_head;
    n->slak = strcmp(m->arch, "slak") == 0;
    n->merged = c->merged;
    if (c->merged && !n->slak) return fr_error(FR_EINVAL, "%s: merged is for slak only", m->arch);
    if (c->small_kernel && !n->slak)
        return fr_error(FR_EINVAL, "%s: small_kernel is for slak only", m->arch);
    int rc = check_kernels(m, n);
    if (rc) return rc;
    struct fr_params *p = &m->params;
    for (int s = 0; s < CNX_STAGES; s++)
        n->dims[s] = (int64_t)CNX_WIDTH << s;
    char name[96];
    rc = fr_conv_declare(p, &n->down[0], "downsample_layers.0.0", c->in_channels, n->dims[0], 2, 2,
                         0, 1);
    if (!rc) rc = fr_ln_declare(p, &n->down_norm[0], "downsample_layers.0.1", n->dims[0]);
    for (int s = 0; s < CNX_STAGES && !rc; s++) {
        if (s > 0) {
            snprintf(name, sizeof name, "downsample_layers.%d.0", s);
            rc = fr_ln_declare(p, &n->down_norm[s], name, n->dims[s - 1]);
            snprintf(name, sizeof name, "downsample_layers.%d.1", s);
            if (!rc)
                rc = fr_conv_declare(p, &n->down[s], name, n->dims[s - 1], n->dims[s], 2, 2, 0, 1);
        }
        for (int j = 0; j < CNX_DEPTH && !rc; j++)
            rc = block_declare(p, n, &n->blocks[s][j], s, j);
    }
    if (!rc) rc = fr_ln_declare(p, &n->norm, "norm", n->dims[CNX_STAGES - 1]);
    if (!rc) rc = fr_linear_declare(p, &n->head, "head", n->dims[CNX_STAGES - 1], c->n_classes, 1);
    if (!rc && c->fd_channels)
        rc = fr_linear_declare(p, &n->fd_proj, "fd_proj", n->dims[CNX_STAGES - 1], c->fd_channels,
                               1);
    if (!rc) rc = fr_params_alloc(p);
    if (rc) return rc;
    /* the stem and the downsampling convs stay dense, like a first conv */
    for (int s = 0; s < CNX_STAGES; s++) {
        normal(n->down[s].w, rng);
        fr_init_const(n->down[s].b, 0.0f);
        fr_ln_init(&n->down_norm[s]);
        struct fr_param *q = NULL;
        for (int i = 0; i < p->count; i++)
            if (p->items[i].t == n->down[s].w) q = &p->items[i];
        if (q) q->flags &= ~FR_PARAM_PRUNABLE;
        for (int j = 0; j < CNX_DEPTH; j++) {
            struct cnx_block *b = &n->blocks[s][j];
            if (b->dw) {
                normal(b->dw, rng);
                fr_init_const(b->dwb, 0.0f);
            }
            for (int i = 0; i < b->nbranch; i++) {
                normal(b->br[i].w, rng);
                fr_bn_init(&b->br[i].bn);
            }
            fr_ln_init(&b->norm);
            linear_init(&b->pw1, rng);
            linear_init(&b->pw2, rng);
            fr_init_const(b->gamma, 1e-6f);
        }
    }
    fr_ln_init(&n->norm);
    linear_init(&n->head, rng);
    if (c->fd_channels) {
        linear_init(&n->fd_proj, rng);
        struct fr_param *q = fr_params_find(p, "fd_proj.weight");
        if (q) q->flags &= ~FR_PARAM_PRUNABLE;
    }
    return 0;
}

/* ---- structural re-parameterisation ---- */

/* Adds branch r's kernel, with its batch norm folded in (eval statistics),
 * centred into the K x K kernel k {K, K, 1, C}, and its shift into bias. */
static void fold_branch(const struct cnx_branch *r, int K, float *k, float *bias, int64_t C) {
    const float *w = r->w->data, *g = r->bn.w->data, *be = r->bn.b->data;
    const float *mu = r->bn.mean->data, *var = r->bn.var->data;
    int oy = (K - r->kh) / 2, ox = (K - r->kw) / 2;
    for (int64_t c = 0; c < C; c++) {
        double t = g[c] / sqrt((double)var[c] + r->bn.eps);
        for (int y = 0; y < r->kh; y++)
            for (int x = 0; x < r->kw; x++)
                k[(c * K + y + oy) * K + x + ox] += (float)(w[(c * r->kh + y) * r->kw + x] * t);
        bias[c] += (float)(be[c] - mu[c] * t);
    }
}

struct fr_model *fr_model_reparam(const struct fr_model *m) {
    if (!m || strcmp(m->arch, "slak") != 0 || m->cfg.merged) {
        fr_error(FR_EINVAL, "reparam: %s is not an unmerged slak model", m ? m->arch : "(null)");
        return NULL;
    }
    struct fr_model_config c = m->cfg;
    c.merged = 1;
    struct fr_model *r = fr_model_new("slak", &c, 0);
    if (!r) return NULL;
    const struct convnext *a = m->impl;
    struct convnext *b = r->impl;
    /* everything but the branches, by name */
    for (int i = 0; i < r->params.count; i++) {
        struct fr_param *q = &r->params.items[i];
        const struct fr_param *src = fr_params_find((struct fr_params *)&m->params, q->name);
        if (src && fr_nelem(src->t) == fr_nelem(q->t))
            memcpy(q->t->data, src->t->data, (size_t)fr_nelem(q->t) * sizeof(float));
    }
    for (int s = 0; s < CNX_STAGES; s++)
        for (int j = 0; j < CNX_DEPTH; j++) {
            const struct cnx_block *from = &a->blocks[s][j];
            struct cnx_block *to = &b->blocks[s][j];
            int64_t C = a->dims[s];
            memset(to->dw->data, 0, (size_t)fr_nelem(to->dw) * sizeof(float));
            memset(to->dwb->data, 0, (size_t)C * sizeof(float));
            for (int k = 0; k < from->nbranch; k++)
                fold_branch(&from->br[k], a->K[s], to->dw->data, to->dwb->data, C);
        }
    return r;
}

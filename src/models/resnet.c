/* resnet.c: ResNet-20 for small images (He et al. 2016, CIFAR variant).
 * PyTorch twin: the widely used akamaster/pytorch_resnet_cifar10 resnet20
 * with in_channels C: conv1 (3x3, 16, no bias), bn1, layer1..layer3 of three
 * BasicBlocks (conv1, bn1, conv2, bn2; 16, 32, 64 channels, first block of
 * layers 2 and 3 with stride 2), global average pool, linear.
 * Shortcut option A: where shape changes, x[:, :, ::2, ::2] zero-padded by
 * planes/4 channels on each side (no parameters), so the parameter count is
 * the paper's 0.27M. width_mult scales every width (a wide ResNet-20);
 * nwidths gives each block's inner width (conv1/bn1 out, conv2 in), the
 * only widths channel removal changes. Initialisation is PyTorch's module default (the
 * akamaster code uses kaiming_normal; the distribution is all that differs). */
#include "zoo.h"

#include <stdio.h>
#include <stdlib.h>

#define RES_STAGES 3
#define RES_BLOCKS 3

struct block {
    struct fr_conv conv1, conv2;
    struct fr_bn bn1, bn2;
    int down; /* option-A shortcut: subsample and pad channels */
};

struct resnet {
    struct fr_conv conv1;
    struct fr_bn bn1;
    struct block b[RES_STAGES][RES_BLOCKS];
    struct fr_linear fc;
};

/* x {W,H,C,N} -> x[:, :, ::2, ::2] padded with C/2 zero channels, half on
 * each side: {W/2,H/2,2C,N}. */
static struct fr_tensor *shortcut_a(struct fr_ctx *ctx, struct fr_tensor *x) {
    if (!x) return NULL;
    struct fr_tensor *s = fr_maxpool2d(ctx, x, 1, 1, 2, 2, 0, 0);
    if (!s) return NULL;
    int64_t pad = s->ne[2] / 2;
    struct fr_tensor *z =
        fr_zeros(ctx, s->dtype, 4, (int64_t[]){s->ne[0], s->ne[1], pad, s->ne[3]});
    return fr_concat(ctx, fr_concat(ctx, z, s, 2), z, 2);
}

static struct fr_tensor *block_forward(struct fr_ctx *ctx, const struct block *b,
                                       struct fr_tensor *x) {
    struct fr_tensor *y =
        fr_relu(ctx, fr_bn_forward(ctx, &b->bn1, fr_conv_forward(ctx, &b->conv1, x)));
    y = fr_bn_forward(ctx, &b->bn2, fr_conv_forward(ctx, &b->conv2, y));
    return fr_relu(ctx, fr_add(ctx, y, b->down ? shortcut_a(ctx, x) : x));
}

/* the last stage's output, before the pooling */
static struct fr_tensor *resnet_features(struct fr_model *m, struct fr_ctx *ctx,
                                         struct fr_tensor *x) {
    struct resnet *n = m->impl;
    x = fr_relu(ctx, fr_bn_forward(ctx, &n->bn1, fr_conv_forward(ctx, &n->conv1, x)));
    for (int s = 0; s < RES_STAGES; s++)
        for (int i = 0; i < RES_BLOCKS; i++)
            x = block_forward(ctx, &n->b[s][i], x);
    return x;
}

static struct fr_tensor *resnet_forward(struct fr_model *m, struct fr_ctx *ctx,
                                        struct fr_tensor *x) {
    struct resnet *n = m->impl;
    x = resnet_features(m, ctx, x);
    return fr_linear_forward(ctx, &n->fc, fr_global_avgpool(ctx, x));
}

/* The inner conv of every block, in stage-major order. */
int fr_resnet20_channels(const struct fr_model *m, struct fr_channel_layer *out, int cap) {
    const struct resnet *n = m->impl;
    if (cap < RES_STAGES * RES_BLOCKS)
        return fr_error(FR_EINVAL, "resnet20: room for %d channel layers, it has %d", cap,
                        RES_STAGES * RES_BLOCKS);
    int k = 0;
    for (int s = 0; s < RES_STAGES; s++)
        for (int i = 0; i < RES_BLOCKS; i++, k++) {
            const struct block *b = &n->b[s][i];
            char name[64];
            snprintf(name, sizeof name, "layer%d.%d.conv1", s + 1, i);
            int rc = fr_zoo_channel_layer(&m->params, out + k, name, &b->conv1, &b->bn1, &b->conv2);
            if (rc) return rc;
        }
    return k;
}

static int64_t conv_out(int64_t in, int stride) {
    return (in + 2 - 3) / stride + 1; /* 3x3, pad 1 */
}

int fr_resnet20_flops(const struct fr_model *m, int64_t *dense, int64_t *sparse) {
    const struct resnet *n = m->impl;
    int64_t h = m->cfg.in_h, w = m->cfg.in_w;
    fr_zoo_flops(&m->params, n->conv1.w, h, w, dense, sparse);
    for (int s = 0; s < RES_STAGES; s++)
        for (int i = 0; i < RES_BLOCKS; i++) {
            const struct block *b = &n->b[s][i];
            int stride = b->conv1.o.stride_h > 0 ? b->conv1.o.stride_h : 1;
            h = conv_out(h, stride), w = conv_out(w, stride);
            fr_zoo_flops(&m->params, b->conv1.w, h, w, dense, sparse);
            fr_zoo_flops(&m->params, b->conv2.w, h, w, dense, sparse);
        }
    fr_zoo_flops(&m->params, n->fc.w, 1, 1, dense, sparse);
    return 0;
}

int fr_build_resnet20(struct fr_model *m, struct fr_rng *rng) {
    if (m->cfg.in_h < 8 || m->cfg.in_w < 8)
        return fr_error(FR_EINVAL, "resnet20: input %d x %d is smaller than 8 x 8", m->cfg.in_h,
                        m->cfg.in_w);
    const int mult = m->cfg.width_mult > 0 ? m->cfg.width_mult : 1;
    int rc = fr_zoo_check_widths(m, "resnet20", RES_STAGES * RES_BLOCKS, 64 * mult);
    if (rc) return rc;
    struct resnet *n = calloc(1, sizeof *n);
    if (!n) return fr_error(FR_ENOMEM, "resnet20: out of memory");
    m->impl = n;
    m->forward = resnet_forward;
    m->features = resnet_features;
    struct fr_params *p = &m->params;
    rc = fr_conv_declare(p, &n->conv1, "conv1", m->cfg.in_channels, 16 * mult, 3, 1, 1, 0);
    if (!rc) rc = fr_bn_declare(p, &n->bn1, "bn1", 16 * mult);
    int64_t cin = 16 * mult;
    char pre[64], name[96];
    for (int s = 0; s < RES_STAGES && !rc; s++) {
        int64_t planes = (int64_t)(16 << s) * mult;
        for (int i = 0; i < RES_BLOCKS && !rc; i++) {
            struct block *b = &n->b[s][i];
            /* the inner width: narrower in a shrunk model */
            int64_t inner = m->cfg.nwidths ? m->cfg.widths[s * RES_BLOCKS + i] : planes;
            int stride = (s > 0 && i == 0) ? 2 : 1;
            b->down = stride != 1 || cin != planes;
            snprintf(pre, sizeof pre, "layer%d.%d", s + 1, i);
            snprintf(name, sizeof name, "%s.conv1", pre);
            rc = fr_conv_declare(p, &b->conv1, name, cin, inner, 3, stride, 1, 0);
            snprintf(name, sizeof name, "%s.bn1", pre);
            if (!rc) rc = fr_bn_declare(p, &b->bn1, name, inner);
            snprintf(name, sizeof name, "%s.conv2", pre);
            if (!rc) rc = fr_conv_declare(p, &b->conv2, name, inner, planes, 3, 1, 1, 0);
            snprintf(name, sizeof name, "%s.bn2", pre);
            if (!rc) rc = fr_bn_declare(p, &b->bn2, name, planes);
            cin = planes;
        }
    }
    if (!rc) rc = fr_linear_declare(p, &n->fc, "linear", 64 * mult, m->cfg.n_classes, 1);
    if (!rc) rc = fr_params_alloc(p);
    if (rc) return rc;
    fr_conv_init(&n->conv1, rng);
    fr_bn_init(&n->bn1);
    for (int s = 0; s < RES_STAGES; s++)
        for (int i = 0; i < RES_BLOCKS; i++) {
            struct block *b = &n->b[s][i];
            fr_conv_init(&b->conv1, rng);
            fr_bn_init(&b->bn1);
            fr_conv_init(&b->conv2, rng);
            fr_bn_init(&b->bn2);
        }
    fr_linear_init(&n->fc, rng);
    return 0;
}

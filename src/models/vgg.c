/* vgg.c: VGG-small, five conv-bn-relu stages for small images.
 * PyTorch twin: features = nn.Sequential(
 *   Conv2d(C,32,3,p=1,bias=False), BatchNorm2d(32), ReLU,          # 0 1 2
 *   Conv2d(32,32,...), BatchNorm2d(32), ReLU, MaxPool2d(2),       # 3 4 5 6
 *   Conv2d(32,64,...), BatchNorm2d(64), ReLU,                      # 7 8 9
 *   Conv2d(64,64,...), BatchNorm2d(64), ReLU, MaxPool2d(2),       # 10 11 12 13
 *   Conv2d(64,128,...), BatchNorm2d(128), ReLU, MaxPool2d(2))     # 14 15 16 17
 * classifier = nn.Linear(128 * (H/8) * (W/8), K) on x.flatten(1).
 * width_mult scales every width; nwidths gives the first four convs' widths
 * (the prunable channel layers; the last feeds the classifier). */
#include "zoo.h"

#include <stdio.h>
#include <stdlib.h>

#define VGG_N 5
static const int g_width[VGG_N] = {32, 32, 64, 64, 128};
static const int g_pool_after[VGG_N] = {0, 1, 0, 1, 1};

struct vgg {
    struct fr_conv conv[VGG_N];
    struct fr_bn bn[VGG_N];
    struct fr_linear fc;
};

/* the last conv block's output, before the classifier */
static struct fr_tensor *vgg_features(struct fr_model *m, struct fr_ctx *ctx, struct fr_tensor *x) {
    struct vgg *n = m->impl;
    for (int i = 0; i < VGG_N; i++) {
        x = fr_relu(ctx, fr_bn_forward(ctx, &n->bn[i], fr_conv_forward(ctx, &n->conv[i], x)));
        if (g_pool_after[i]) x = fr_maxpool2d(ctx, x, 2, 2, 2, 2, 0, 0);
    }
    return x;
}

static struct fr_tensor *vgg_forward(struct fr_model *m, struct fr_ctx *ctx, struct fr_tensor *x) {
    struct vgg *n = m->impl;
    return fr_linear_forward(ctx, &n->fc, fr_flatten(ctx, vgg_features(m, ctx, x)));
}

/* Every conv but the last (which feeds the classifier). */
int fr_vgg_small_channels(const struct fr_model *m, struct fr_channel_layer *out, int cap) {
    const struct vgg *n = m->impl;
    if (cap < VGG_N - 1)
        return fr_error(FR_EINVAL, "vgg-small: room for %d channel layers, it has %d", cap,
                        VGG_N - 1);
    for (int i = 0; i + 1 < VGG_N; i++) {
        int rc = fr_zoo_channel_layer(&m->params, out + i, NULL, &n->conv[i], &n->bn[i],
                                      &n->conv[i + 1]);
        if (rc) return rc;
    }
    return VGG_N - 1;
}

int fr_vgg_small_flops(const struct fr_model *m, int64_t *dense, int64_t *sparse) {
    const struct vgg *n = m->impl;
    int64_t h = m->cfg.in_h, w = m->cfg.in_w;
    for (int i = 0; i < VGG_N; i++) {
        fr_zoo_flops(&m->params, n->conv[i].w, h, w, dense, sparse);
        if (g_pool_after[i]) h /= 2, w /= 2;
    }
    fr_zoo_flops(&m->params, n->fc.w, 1, 1, dense, sparse);
    return 0;
}

int fr_build_vgg_small(struct fr_model *m, struct fr_rng *rng) {
    if (m->cfg.in_h < 8 || m->cfg.in_w < 8)
        return fr_error(FR_EINVAL, "vgg-small: input %d x %d is smaller than 8 x 8", m->cfg.in_h,
                        m->cfg.in_w);
    const int mult = m->cfg.width_mult > 0 ? m->cfg.width_mult : 1;
    int rc = fr_zoo_check_widths(m, "vgg-small", VGG_N - 1, 64 * mult);
    if (rc) return rc;
    struct vgg *n = calloc(1, sizeof *n);
    if (!n) return fr_error(FR_ENOMEM, "vgg-small: out of memory");
    m->impl = n;
    m->forward = vgg_forward;
    m->features = vgg_features;
    struct fr_params *p = &m->params;
    int idx = 0;
    int64_t cin = m->cfg.in_channels, h = m->cfg.in_h, w = m->cfg.in_w;
    char name[32];
    for (int i = 0; i < VGG_N && !rc; i++) {
        snprintf(name, sizeof name, "features.%d", idx);
        int64_t width = (int64_t)g_width[i] * mult;
        if (m->cfg.nwidths && i + 1 < VGG_N) width = m->cfg.widths[i];
        rc = fr_conv_declare(p, &n->conv[i], name, cin, width, 3, 1, 1, 0);
        snprintf(name, sizeof name, "features.%d", idx + 1);
        if (!rc) rc = fr_bn_declare(p, &n->bn[i], name, width);
        idx += 3 + g_pool_after[i];
        cin = width;
        if (g_pool_after[i]) h /= 2, w /= 2;
    }
    if (!rc) rc = fr_linear_declare(p, &n->fc, "classifier", cin * h * w, m->cfg.n_classes, 1);
    if (!rc) rc = fr_params_alloc(p);
    if (rc) return rc;
    for (int i = 0; i < VGG_N; i++) {
        fr_conv_init(&n->conv[i], rng);
        fr_bn_init(&n->bn[i]);
    }
    fr_linear_init(&n->fc, rng);
    return 0;
}

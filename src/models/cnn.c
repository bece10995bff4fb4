/* cnn.c: the small Fashion-MNIST CNN.
 * PyTorch twin:
 *   conv1 = nn.Conv2d(C, 32, 3, padding=1); conv2 = nn.Conv2d(32, 64, 3, padding=1)
 *   fc1 = nn.Linear(64 * (H/4) * (W/4), 128); fc2 = nn.Linear(128, K)
 *   forward: pool(relu(conv1)), pool(relu(conv2)), flatten, relu(fc1), fc2
 * with pool = F.max_pool2d(x, 2) (floor). */
#include "zoo.h"

#include <stdlib.h>

struct cnn {
    struct fr_conv conv1, conv2;
    struct fr_linear fc1, fc2;
};

static struct fr_tensor *cnn_forward(struct fr_model *m, struct fr_ctx *ctx, struct fr_tensor *x) {
    struct cnn *n = m->impl;
    /* pool(relu(conv)) fused: the same values, no full-size activations */
    x = fr_conv2d_relu_pool(ctx, x, n->conv1.w, n->conv1.b, &n->conv1.o, 2);
    x = fr_conv2d_relu_pool(ctx, x, n->conv2.w, n->conv2.b, &n->conv2.o, 2);
    x = fr_relu(ctx, fr_linear_forward(ctx, &n->fc1, fr_flatten(ctx, x)));
    return fr_linear_forward(ctx, &n->fc2, x);
}

int fr_build_cnn(struct fr_model *m, struct fr_rng *rng) {
    if (m->cfg.in_h < 4 || m->cfg.in_w < 4)
        return fr_error(FR_EINVAL, "cnn: input %d x %d is smaller than 4 x 4", m->cfg.in_h,
                        m->cfg.in_w);
    struct cnn *n = calloc(1, sizeof *n);
    if (!n) return fr_error(FR_ENOMEM, "cnn: out of memory");
    m->impl = n;
    m->forward = cnn_forward;
    struct fr_params *p = &m->params;
    int64_t flat = 64 * (int64_t)(m->cfg.in_h / 4) * (m->cfg.in_w / 4);
    int rc = fr_conv_declare(p, &n->conv1, "conv1", m->cfg.in_channels, 32, 3, 1, 1, 1);
    if (!rc) rc = fr_conv_declare(p, &n->conv2, "conv2", 32, 64, 3, 1, 1, 1);
    if (!rc) rc = fr_linear_declare(p, &n->fc1, "fc1", flat, 128, 1);
    if (!rc) rc = fr_linear_declare(p, &n->fc2, "fc2", 128, m->cfg.n_classes, 1);
    if (!rc) rc = fr_params_alloc(p);
    if (rc) return rc;
    fr_conv_init(&n->conv1, rng);
    fr_conv_init(&n->conv2, rng);
    fr_linear_init(&n->fc1, rng);
    fr_linear_init(&n->fc2, rng);
    return 0;
}

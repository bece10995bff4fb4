/* mlp.c: a 3-layer perceptron, flatten - 256 - relu - 128 - relu - classes.
 * PyTorch twin: fc1, fc2, fc3 = nn.Linear(in, 256), (256, 128), (128, K). */
#include "zoo.h"

#include <stdlib.h>

struct mlp {
    struct fr_linear fc1, fc2, fc3;
};

static struct fr_tensor *mlp_forward(struct fr_model *m, struct fr_ctx *ctx, struct fr_tensor *x) {
    struct mlp *n = m->impl;
    x = fr_flatten(ctx, x);
    x = fr_relu(ctx, fr_linear_forward(ctx, &n->fc1, x));
    x = fr_relu(ctx, fr_linear_forward(ctx, &n->fc2, x));
    return fr_linear_forward(ctx, &n->fc3, x);
}

int fr_build_mlp(struct fr_model *m, struct fr_rng *rng) {
    struct mlp *n = calloc(1, sizeof *n);
    if (!n) return fr_error(FR_ENOMEM, "mlp: out of memory");
    m->impl = n;
    m->forward = mlp_forward;
    int64_t in = (int64_t)m->cfg.in_channels * m->cfg.in_h * m->cfg.in_w;
    struct fr_params *p = &m->params;
    int rc = fr_linear_declare(p, &n->fc1, "fc1", in, 256, 1);
    if (!rc) rc = fr_linear_declare(p, &n->fc2, "fc2", 256, 128, 1);
    if (!rc) rc = fr_linear_declare(p, &n->fc3, "fc3", 128, m->cfg.n_classes, 1);
    if (!rc) rc = fr_params_alloc(p);
    if (rc) return rc;
    fr_linear_init(&n->fc1, rng);
    fr_linear_init(&n->fc2, rng);
    fr_linear_init(&n->fc3, rng);
    return 0;
}

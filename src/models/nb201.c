/* nb201.c: NAS-Bench-201 cells (Dong & Yang, ICLR 2020) in the zoo.
 *
 * A cell is a DAG of 4 nodes; node j (1..3) is the sum over i < j of
 * op_ij(node i), node 0 the cell's input, node 3 its output. The 6 edges
 * in the standard string's order are 0->1 | 0->2, 1->2 | 0->3, 1->3, 2->3,
 * each one of none (contributes nothing), skip_connect (identity),
 * nor_conv_1x1 / nor_conv_3x3 (ReLU -> Conv (no bias) -> BatchNorm) and
 * avg_pool_3x3 (stride 1, padding 1, count_include_pad=False). String:
 *   |nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|
 *
 * The macro skeleton is NAS-Bench-201's TinyNetwork, with its parameter
 * names: stem (conv 3x3 in_channels -> C, BN), N cells at C, a residual
 * reduction block (conv_a: ReLU-Conv3x3 stride 2-BN, conv_b: ReLU-Conv3x3-
 * BN, plus downsample: AvgPool 2x2 then Conv1x1 without BN), N cells at 2C,
 * a reduction, N cells at 4C, lastact (BN, ReLU), global average pool,
 * classifier. The original is C = 16, N = 5 on 32x32 RGB; for 28x28
 * single-channel Fashion-MNIST frugal's default is C = 16, N = 1 (the same
 * stages, maps 28 -> 14 -> 7, one cell per stage: a cell's ops decide
 * more of the network, and a network trains in seconds, so hundreds can be
 * trained for a ground truth on 2 cores); cfg.nb201.c and .n set others.
 *
 * Isomorphism (fr_nb201_unique_key) follows the benchmark's own rule (its
 * to_unique_str with zeros considered): none, and any op reading a node
 * that is identically zero, contribute a zero term; skip_connect passes its
 * input's key; other ops wrap it; a node is the sorted '+'-join of its
 * terms. The 15625 cells fall into 6466 classes.
 */
#include "zoo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* edges in the string's order: (to node, from node) */
static const int EDGE_TO[FR_NB201_EDGES] = {1, 2, 2, 3, 3, 3};
static const int EDGE_FROM[FR_NB201_EDGES] = {0, 0, 1, 0, 1, 2};

/* ---- the network ---- */

struct rcb { /* ReLU -> Conv -> BN ("op.1", "op.2") */
    struct fr_conv conv;
    struct fr_bn bn;
};

struct item {
    int reduce;
    struct rcb e[FR_NB201_EDGES]; /* a cell's conv edges; a reduction: e[0] conv_a, e[1] conv_b */
    struct fr_conv down;          /* a reduction's downsample.1 */
    int64_t c, h, w;              /* its output channels and map */
};

struct nb201 {
    int ops[FR_NB201_EDGES];
    struct fr_conv stem;
    struct fr_bn stem_bn;
    struct fr_bn last;
    struct fr_linear fc;
    int nitems;
    struct item items[];
};

static int is_conv(int op) {
    return op == FR_NB201_CONV1 || op == FR_NB201_CONV3;
}

static struct fr_tensor *rcb_forward(struct fr_ctx *ctx, const struct rcb *r, struct fr_tensor *x) {
    return fr_bn_forward(ctx, &r->bn, fr_conv_forward(ctx, &r->conv, fr_relu(ctx, x)));
}

static struct fr_tensor *cell_forward(struct fr_ctx *ctx, const struct nb201 *n,
                                      const struct item *it, struct fr_tensor *x) {
    struct fr_tensor *node[4] = {x, NULL, NULL, NULL};
    for (int e = 0; e < FR_NB201_EDGES; e++) {
        if (n->ops[e] == FR_NB201_NONE) continue;
        /* a node nothing reaches is zero (NAS-Bench-201's none is x * 0);
         * an op reading it still runs on zeros, as in PyTorch: a
         * ReLU-conv-BN of zeros is its BN's bias, not zero */
        if (!node[EDGE_FROM[e]] && !(node[EDGE_FROM[e]] = fr_zeros(ctx, x->dtype, 4, x->ne)))
            return NULL;
        struct fr_tensor *in = node[EDGE_FROM[e]], *y;
        switch (n->ops[e]) {
        case FR_NB201_SKIP:
            y = in;
            break;
        case FR_NB201_POOL3:
            y = fr_avgpool2d_real(ctx, in, 3, 3, 1, 1, 1, 1);
            break;
        default:
            y = rcb_forward(ctx, &it->e[e], in);
        }
        if (!y) return NULL;
        int to = EDGE_TO[e];
        node[to] = node[to] ? fr_add(ctx, node[to], y) : y;
        if (!node[to]) return NULL;
    }
    /* a node nothing reaches is zero (NAS-Bench-201's none is x * 0) */
    return node[3] ? node[3] : fr_zeros(ctx, x->dtype, 4, x->ne);
}

static struct fr_tensor *nb201_features(struct fr_model *m, struct fr_ctx *ctx,
                                        struct fr_tensor *x) {
    const struct nb201 *n = m->impl;
    x = fr_bn_forward(ctx, &n->stem_bn, fr_conv_forward(ctx, &n->stem, x));
    for (int i = 0; i < n->nitems && x; i++) {
        const struct item *it = &n->items[i];
        if (!it->reduce) {
            x = cell_forward(ctx, n, it, x);
            continue;
        }
        struct fr_tensor *y = rcb_forward(ctx, &it->e[1], rcb_forward(ctx, &it->e[0], x));
        struct fr_tensor *r =
            fr_conv_forward(ctx, &it->down, fr_avgpool2d(ctx, x, 2, 2, 2, 2, 0, 0));
        x = fr_add(ctx, r, y);
    }
    return fr_relu(ctx, fr_bn_forward(ctx, &n->last, x));
}

static struct fr_tensor *nb201_head(struct fr_model *m, struct fr_ctx *ctx, struct fr_tensor *f) {
    const struct nb201 *n = m->impl;
    return fr_linear_forward(ctx, &n->fc, fr_global_avgpool(ctx, f));
}

static struct fr_tensor *nb201_forward(struct fr_model *m, struct fr_ctx *ctx,
                                       struct fr_tensor *x) {
    return nb201_head(m, ctx, nb201_features(m, ctx, x));
}

static void nb201_shape(const struct fr_model_config *cfg, int *C, int *N) {
    *C = cfg->nb201.c > 0 ? cfg->nb201.c : FR_NB201_DEFAULT_C;
    *N = cfg->nb201.n > 0 ? cfg->nb201.n : FR_NB201_DEFAULT_N;
}

int fr_nb201_flops(const struct fr_model *m, int64_t *dense, int64_t *sparse) {
    const struct nb201 *n = m->impl;
    int64_t h = m->cfg.in_h, w = m->cfg.in_w;
    fr_zoo_flops(&m->params, n->stem.w, h, w, dense, sparse);
    for (int i = 0; i < n->nitems; i++) {
        const struct item *it = &n->items[i];
        if (it->reduce) {
            fr_zoo_flops(&m->params, it->e[0].conv.w, it->h, it->w, dense, sparse);
            fr_zoo_flops(&m->params, it->e[1].conv.w, it->h, it->w, dense, sparse);
            fr_zoo_flops(&m->params, it->down.w, it->h, it->w, dense, sparse);
        } else {
            for (int e = 0; e < FR_NB201_EDGES; e++)
                if (is_conv(n->ops[e]))
                    fr_zoo_flops(&m->params, it->e[e].conv.w, it->h, it->w, dense, sparse);
        }
    }
    fr_zoo_flops(&m->params, n->fc.w, 1, 1, dense, sparse);
    return 0;
}

static int declare_rcb(struct fr_params *p, struct rcb *r, const char *pre, int64_t cin,
                       int64_t cout, int k, int stride) {
    char name[96];
    snprintf(name, sizeof name, "%s.op.1", pre);
    int rc = fr_conv_declare(p, &r->conv, name, cin, cout, k, stride, k / 2, 0);
    snprintf(name, sizeof name, "%s.op.2", pre);
    return rc ? rc : fr_bn_declare(p, &r->bn, name, cout);
}

static void init_rcb(struct rcb *r, struct fr_rng *rng) {
    fr_conv_init(&r->conv, rng);
    fr_bn_init(&r->bn);
}

int fr_build_nb201(struct fr_model *m, struct fr_rng *rng) {
    int C, N;
    nb201_shape(&m->cfg, &C, &N);
    if (C > 4096 || N > 64)
        return fr_error(FR_EINVAL, "nb201: C %d / N %d out of range (C <= 4096, N <= 64)", C, N);
    if (m->cfg.in_h < 4 || m->cfg.in_w < 4)
        return fr_error(FR_EINVAL, "nb201: input %d x %d is smaller than 4 x 4", m->cfg.in_h,
                        m->cfg.in_w);
    for (int e = 0; e < FR_NB201_EDGES; e++)
        if (m->cfg.nb201.ops[e] < 0 || m->cfg.nb201.ops[e] >= FR_NB201_NOPS)
            return fr_error(FR_EINVAL, "nb201: op %d of edge %d is not 0..4", m->cfg.nb201.ops[e],
                            e);
    const int nitems = 3 * N + 2;
    struct nb201 *n = calloc(1, sizeof *n + (size_t)nitems * sizeof n->items[0]);
    if (!n) return fr_error(FR_ENOMEM, "nb201: out of memory");
    m->impl = n;
    m->forward = nb201_forward;
    m->features = nb201_features;
    m->head = nb201_head;
    memcpy(n->ops, m->cfg.nb201.ops, sizeof n->ops);
    n->nitems = nitems;
    struct fr_params *p = &m->params;
    int rc = fr_conv_declare(p, &n->stem, "stem.0", m->cfg.in_channels, C, 3, 1, 1, 0);
    if (!rc) rc = fr_bn_declare(p, &n->stem_bn, "stem.1", C);
    int64_t c = C, h = m->cfg.in_h, w = m->cfg.in_w;
    char pre[64], name[96];
    for (int i = 0; i < nitems && !rc; i++) {
        struct item *it = &n->items[i];
        it->reduce = i == N || i == 2 * N + 1;
        if (it->reduce) {
            int64_t c2 = 2 * c;
            /* conv_a (3x3, stride 2, pad 1) and the 2x2 pool of the
             * shortcut agree only on even maps */
            if (h % 2 || w % 2) {
                rc = fr_error(FR_EINVAL,
                              "nb201: the map entering reduction %d is %lld x %lld; its sides "
                              "must be even (input sides divisible by 4)",
                              i, (long long)h, (long long)w);
                break;
            }
            h /= 2, w /= 2;
            snprintf(pre, sizeof pre, "cells.%d.conv_a", i);
            rc = declare_rcb(p, &it->e[0], pre, c, c2, 3, 2);
            snprintf(pre, sizeof pre, "cells.%d.conv_b", i);
            if (!rc) rc = declare_rcb(p, &it->e[1], pre, c2, c2, 3, 1);
            snprintf(name, sizeof name, "cells.%d.downsample.1", i);
            if (!rc) rc = fr_conv_declare(p, &it->down, name, c, c2, 1, 1, 0, 0);
            c = c2;
        } else {
            for (int e = 0; e < FR_NB201_EDGES && !rc; e++) {
                if (!is_conv(n->ops[e])) continue;
                snprintf(pre, sizeof pre, "cells.%d.layers.%d", i, e);
                rc = declare_rcb(p, &it->e[e], pre, c, c, n->ops[e] == FR_NB201_CONV3 ? 3 : 1, 1);
            }
        }
        it->c = c, it->h = h, it->w = w;
    }
    if (!rc) rc = fr_bn_declare(p, &n->last, "lastact.0", c);
    if (!rc) rc = fr_linear_declare(p, &n->fc, "classifier", c, m->cfg.n_classes, 1);
    if (!rc) rc = fr_params_alloc(p);
    if (rc) return rc;
    fr_conv_init(&n->stem, rng);
    fr_bn_init(&n->stem_bn);
    for (int i = 0; i < nitems; i++) {
        struct item *it = &n->items[i];
        if (it->reduce) {
            init_rcb(&it->e[0], rng);
            init_rcb(&it->e[1], rng);
            fr_conv_init(&it->down, rng);
        } else {
            for (int e = 0; e < FR_NB201_EDGES; e++)
                if (is_conv(n->ops[e])) init_rcb(&it->e[e], rng);
        }
    }
    fr_bn_init(&n->last);
    fr_linear_init(&n->fc, rng);
    return 0;
}

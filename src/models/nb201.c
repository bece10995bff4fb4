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

static const char *const OP_NAME[FR_NB201_NOPS] = {"none", "skip_connect", "nor_conv_1x1",
                                                   "nor_conv_3x3", "avg_pool_3x3"};
static const int EDGE_TO[FR_NB201_EDGES] = {1, 2, 2, 3, 3, 3};
static const int EDGE_FROM[FR_NB201_EDGES] = {0, 0, 1, 0, 1, 2};

const char *fr_nb201_op_name(int op) {
    return op >= 0 && op < FR_NB201_NOPS ? OP_NAME[op] : "?";
}

int fr_nb201_parse(const char *s, int ops[FR_NB201_EDGES]) {
    if (!s) return fr_error(FR_EINVAL, "nb201: no cell string");
    const char *p = s;
    int e = 0;
    for (int j = 1; j <= 3; j++) {
        if (j > 1 && *p++ != '+') goto bad;
        if (*p++ != '|') goto bad;
        for (int i = 0; i < j; i++, e++) {
            const char *t = strchr(p, '~');
            if (!t) goto bad;
            int op = -1;
            for (int k = 0; k < FR_NB201_NOPS; k++)
                if ((size_t)(t - p) == strlen(OP_NAME[k]) &&
                    !strncmp(p, OP_NAME[k], (size_t)(t - p)))
                    op = k;
            if (op < 0)
                return fr_error(FR_EINVAL,
                                "nb201: unknown op '%.*s' in cell '%.120s' (known: none, "
                                "skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3)",
                                (int)(t - p > 40 ? 40 : t - p), p, s);
            if (t[1] != '0' + i || t[2] != '|')
                return fr_error(FR_EINVAL,
                                "nb201: cell '%.120s': node %d's input %d must read '~%d|' (at "
                                "offset %d)",
                                s, j, i, i, (int)(t - s));
            ops[e] = op;
            p = t + 3;
        }
    }
    if (*p == 0) return 0;
bad:
    return fr_error(FR_EINVAL,
                    "nb201: '%.120s' is not a cell string (at offset %d; expected "
                    "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|)",
                    s, (int)(p - s));
}

int fr_nb201_format(const int ops[FR_NB201_EDGES], char *buf, size_t cap) {
    size_t n = 0;
    for (int e = 0; e < FR_NB201_EDGES; e++) {
        if (ops[e] < 0 || ops[e] >= FR_NB201_NOPS)
            return fr_error(FR_EINVAL, "nb201: op %d of edge %d is not 0..4", ops[e], e);
        int w = snprintf(buf + n, n < cap ? cap - n : 0, "%s%s%s~%d|", e == 1 || e == 3 ? "+" : "",
                         EDGE_FROM[e] == 0 ? "|" : "", OP_NAME[ops[e]], EDGE_FROM[e]);
        n += (size_t)w;
    }
    if (n >= cap)
        return fr_error(FR_EINVAL, "nb201: %zu bytes for a cell string, %zu needed", cap, n + 1);
    return 0;
}

int64_t fr_nb201_index(const int ops[FR_NB201_EDGES]) {
    int64_t k = 0;
    for (int e = 0; e < FR_NB201_EDGES; e++)
        k = k * FR_NB201_NOPS + ops[e];
    return k;
}

void fr_nb201_ops(int64_t index, int ops[FR_NB201_EDGES]) {
    for (int e = FR_NB201_EDGES - 1; e >= 0; e--) {
        ops[e] = (int)(index % FR_NB201_NOPS);
        index /= FR_NB201_NOPS;
    }
}

int fr_nb201_alive(const int ops[FR_NB201_EDGES]) {
    int live[4] = {1, 0, 0, 0};
    for (int e = 0; e < FR_NB201_EDGES; e++)
        if (ops[e] != FR_NB201_NONE && live[EDGE_FROM[e]]) live[EDGE_TO[e]] = 1;
    return live[3];
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int fr_nb201_unique_key(const int ops[FR_NB201_EDGES], char *buf, size_t cap) {
    /* keys of nodes 0..3; a node's key holds its inputs' keys, so it can
     * grow: node 3's key is at most about 3 * (2 * 3 * 40) bytes */
    char node[4][FR_NB201_KEY_MAX];
    snprintf(node[0], sizeof node[0], "0");
    for (int j = 1; j <= 3; j++) {
        char term[3][FR_NB201_KEY_MAX];
        char *t[3];
        int nt = 0;
        for (int e = 0; e < FR_NB201_EDGES; e++) {
            if (EDGE_TO[e] != j) continue;
            const char *in = node[EDGE_FROM[e]];
            int op = ops[e];
            if (op < 0 || op >= FR_NB201_NOPS)
                return fr_error(FR_EINVAL, "nb201: op %d of edge %d is not 0..4", op, e);
            int w;
            if (op == FR_NB201_NONE || !strcmp(in, "#"))
                w = snprintf(term[nt], sizeof term[nt], "#");
            else if (op == FR_NB201_SKIP)
                w = snprintf(term[nt], sizeof term[nt], "%s", in);
            else
                w = snprintf(term[nt], sizeof term[nt], "(%s)@%s", in, OP_NAME[op]);
            if (w < 0 || (size_t)w >= sizeof term[nt])
                return fr_error(FR_EINVAL, "nb201: key too long");
            t[nt] = term[nt];
            nt++;
        }
        qsort(t, (size_t)nt, sizeof t[0], cmp_str);
        size_t n = 0;
        for (int i = 0; i < nt; i++) {
            int w = snprintf(node[j] + n, sizeof node[j] - n, "%s%s", i ? "+" : "", t[i]);
            if (w < 0 || n + (size_t)w >= sizeof node[j])
                return fr_error(FR_EINVAL, "nb201: key too long");
            n += (size_t)w;
        }
    }
    if (strlen(node[3]) >= cap) return fr_error(FR_EINVAL, "nb201: key buffer too small");
    memcpy(buf, node[3], strlen(node[3]) + 1);
    return 0;
}

struct keyed {
    char *key;
    int64_t index;
};

static int cmp_keyed(const void *a, const void *b) {
    const struct keyed *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int fr_nb201_unique(int64_t *reps, int64_t cap) {
    struct keyed *k = calloc(FR_NB201_CELLS, sizeof *k);
    if (!k) return fr_error(FR_ENOMEM, "nb201: out of memory");
    int rc = 0;
    int64_t n = 0;
    for (int64_t i = 0; i < FR_NB201_CELLS && !rc; i++) {
        int ops[FR_NB201_EDGES];
        char key[FR_NB201_KEY_MAX];
        fr_nb201_ops(i, ops);
        rc = fr_nb201_unique_key(ops, key, sizeof key);
        if (!rc && !(k[i].key = strdup(key))) rc = fr_error(FR_ENOMEM, "nb201: out of memory");
        k[i].index = i;
    }
    if (!rc) {
        qsort(k, FR_NB201_CELLS, sizeof *k, cmp_keyed);
        for (int64_t i = 0; i < FR_NB201_CELLS; i++)
            if (i == 0 || strcmp(k[i].key, k[i - 1].key)) {
                if (reps && n < cap) reps[n] = k[i].index; /* the class's smallest index */
                n++;
            }
        if (reps && n <= cap) qsort(reps, (size_t)n, sizeof *reps, cmp_i64);
        if (reps && n > cap)
            rc = fr_error(FR_EINVAL, "nb201: room for %lld classes, there are %lld", (long long)cap,
                          (long long)n);
    }
    for (int64_t i = 0; i < FR_NB201_CELLS; i++)
        free(k[i].key);
    free(k);
    return rc ? rc : (int)n;
}

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
        struct fr_tensor *in = node[EDGE_FROM[e]], *y;
        switch (n->ops[e]) {
        case FR_NB201_NONE:
            continue;
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

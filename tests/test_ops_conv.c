/* test_ops_conv.c: fr_conv2d against finite differences (f64 reference)
 * and fast vs reference (f32) over strides, padding, dilation, groups,
 * depthwise kernels (3x3 .. 31x31), non-square kernels, bias on/off and
 * batch 1 / 3; a hand-computed value; bad shapes fail with a message.
 * The fused fr_conv2d_relu_pool (pool 1 and 2, odd sizes that the pool
 * floors) the same ways, and against the composition
 * maxpool(relu(conv)) it replaces: values and all gradients. */
#include "check.h"

#include <stdlib.h>

struct conv_case {
    struct fr_conv2d_opts o;
    int bias;
};

/* 0: fr_conv2d; 1, 2: fr_conv2d_relu_pool with that pool; -1, -2: the
 * composition fr_maxpool2d(fr_relu(fr_conv2d)) the fused op stands for */
static int g_fuse;

static fr_t *conv_op(struct fr_ctx *c, fr_t *x, fr_t *w, fr_t *b, const struct fr_conv2d_opts *o) {
    if (g_fuse > 0) return fr_conv2d_relu_pool(c, x, w, b, o, g_fuse);
    fr_t *y = fr_conv2d(c, x, w, b, o);
    if (g_fuse < 0) y = fr_relu(c, y);
    return g_fuse == -2 ? fr_maxpool2d(c, y, 2, 2, 2, 2, 0, 0) : y;
}

static fr_t *b_conv(struct fr_ctx *c, fr_t **x, void *a) {
    struct conv_case *k = a;
    return conv_op(c, x[0], x[1], k->bias ? x[2] : NULL, &k->o);
}

/* x {W,H,C,N}, kernel KH x KW, Cout, options: runs check_op on it. */
static void conv_check(const char *name, int64_t W, int64_t H, int64_t C, int64_t N, int64_t KH,
                       int64_t KW, int64_t O, struct fr_conv2d_opts o, int bias, int strided) {
    struct conv_case k = {o, bias};
    int G = o.groups ? o.groups : 1;
    struct check_input in[3] = {
        {4, {W, H, C, N}, .strided = strided}, {4, {KW, KH, C / G, O}}, {1, {O}}};
    check_op(name, b_conv, &k, bias ? 3 : 2, in, NULL);
}

/* One pass for the comparisons below: random x, w, bias (all needing
 * grad) from seed, conv_op under the current g_fuse and reference mode,
 * backward of sum(y * random). res gets y, dx, dw, db; NULL y on failure. */
static fr_t *conv_pass(struct fr_ctx *ctx, uint64_t seed, const int64_t nx[4], const int64_t nw[4],
                       const struct fr_conv2d_opts *o, fr_t *res[4]) {
    struct fr_rng rng;
    fr_rng_seed(&rng, seed);
    fr_t *x = fr_new(ctx, FR_F32, 4, nx), *w = fr_new(ctx, FR_F32, 4, nw);
    fr_t *b = fr_new1(ctx, FR_F32, nw[3]);
    fr_t *ts[3] = {x, w, b};
    for (int t = 0; t < 3; t++) {
        for (int64_t i = 0; i < fr_nelem(ts[t]); i++)
            fr_set(ts[t], i, 2 * fr_rng_uniform(&rng) - 1);
        ts[t]->requires_grad = 1;
    }
    fr_t *y = conv_op(ctx, x, w, b, o);
    if (!y) return NULL;
    fr_t *wt = fr_new(ctx, FR_F32, 4, y->ne);
    for (int64_t i = 0; i < fr_nelem(wt); i++)
        fr_set(wt, i, fr_rng_normal(&rng));
    fr_backward(ctx, fr_sum(ctx, fr_mul(ctx, y, wt), -1));
    res[0] = y, res[1] = x->grad, res[2] = w->grad, res[3] = b->grad;
    return y;
}

/* f32 only: fast path vs reference mode on a shape too big for finite
 * differences; outputs and all three gradients. */
static void conv_fast_vs_ref(const char *name, int64_t W, int64_t H, int64_t C, int64_t N,
                             int64_t KH, int64_t KW, int64_t O, struct fr_conv2d_opts o) {
    int G = o.groups ? o.groups : 1;
    int64_t nx[4] = {W, H, C, N}, nw[4] = {KW, KH, C / G, O};
    struct fr_ctx *ctx[2] = {fr_ctx_new(1 << 24), fr_ctx_new(1 << 24)};
    fr_t *res[2][4] = {{0}};
    for (int pass = 0; pass < 2; pass++) {
        fr_set_reference_mode(pass);
        fr_t *y = conv_pass(ctx[pass], 7, nx, nw, &o, res[pass]);
        CHECK(y != NULL, "%s: %s", name, fr_last_error());
        if (!y) break;
    }
    fr_set_reference_mode(0);
    const char *what[4] = {"output", "dx", "dw", "db"};
    for (int t = 0; t < 4 && res[0][0] && res[1][0]; t++) {
        double r = check_compare(res[0][t], res[1][t], 1e-4, 1e-4);
        CHECK(r <= 1.0, "%s: fast %s differs from reference (ratio %.3g)", name, what[t], r);
    }
    fr_ctx_free(ctx[0]);
    fr_ctx_free(ctx[1]);
}

/* f32 fast path: the fused op against the composition it replaces, same
 * inputs: output and the three gradients agree to float rounding (the
 * same GEMMs run in the same order, so they are usually equal). */
static void fused_vs_composed(const char *name, int64_t W, int64_t H, int64_t C, int64_t N,
                              int64_t O, int pool, struct fr_conv2d_opts o) {
    int64_t nx[4] = {W, H, C, N}, nw[4] = {3, 3, C, O};
    struct fr_ctx *ctx[2] = {fr_ctx_new(1 << 24), fr_ctx_new(1 << 24)};
    fr_t *res[2][4] = {{0}};
    for (int pass = 0; pass < 2; pass++) {
        g_fuse = pass == 0 ? pool : -pool;
        fr_t *y = conv_pass(ctx[pass], 9, nx, nw, &o, res[pass]);
        g_fuse = 0;
        CHECK(y != NULL, "%s: %s", name, fr_last_error());
        if (!y) break;
    }
    const char *what[4] = {"output", "dx", "dw", "db"};
    for (int t = 0; t < 4 && res[0][0] && res[1][0]; t++) {
        CHECK(fr_nelem(res[0][t]) == fr_nelem(res[1][t]), "%s: %s sizes", name, what[t]);
        double r = check_compare(res[0][t], res[1][t], 1e-6, 1e-6);
        CHECK(r <= 1.0, "%s: fused %s differs from the composition (ratio %.3g)", name, what[t], r);
    }
    fr_ctx_free(ctx[0]);
    fr_ctx_free(ctx[1]);
}

static void hand_value(void) {
    /* 1 image, 1 channel 3x3 of 1..9, 2x2 kernel of ones, stride 1, pad 0:
     * outputs are sums of 2x2 blocks: 12 16 / 24 28, plus bias 0.5. */
    struct fr_ctx *ctx = fr_ctx_new(1 << 20);
    fr_t *x = fr_new(ctx, FR_F32, 4, (int64_t[]){3, 3, 1, 1});
    fr_t *w = fr_new(ctx, FR_F32, 4, (int64_t[]){2, 2, 1, 1});
    fr_t *b = fr_new1(ctx, FR_F32, 1);
    for (int i = 0; i < 9; i++)
        fr_set(x, i, i + 1);
    for (int i = 0; i < 4; i++)
        fr_set(w, i, 1);
    fr_set(b, 0, 0.5);
    fr_t *y = fr_conv2d(ctx, x, w, b, NULL);
    double want[4] = {12.5, 16.5, 24.5, 28.5};
    CHECK(y && y->ne[0] == 2 && y->ne[1] == 2, "hand conv shape");
    for (int i = 0; y && i < 4; i++)
        CHECK_NEAR(fr_get(y, i), want[i], 1e-6, "hand conv value");
    fr_ctx_free(ctx);
}

static void bad_shapes(void) {
    struct fr_ctx *ctx = fr_ctx_new(1 << 20);
    fr_t *x = fr_zeros(ctx, FR_F32, 4, (int64_t[]){8, 8, 4, 2});
    fr_t *w3 = fr_zeros(ctx, FR_F32, 4, (int64_t[]){3, 3, 3, 5}); /* expects Cin 3 */
    fr_t *w = fr_zeros(ctx, FR_F32, 4, (int64_t[]){3, 3, 4, 6});
    fr_t *wbig = fr_zeros(ctx, FR_F32, 4, (int64_t[]){11, 11, 4, 6});
    fr_t *b = fr_zeros(ctx, FR_F32, 1, (int64_t[]){5});
    CHECK(fr_conv2d(ctx, x, w3, NULL, NULL) == NULL, "channel mismatch must fail");
    CHECK(strstr(fr_last_error(), "conv2d") && strstr(fr_last_error(), "weight"), "message: %s",
          fr_last_error());
    struct fr_conv2d_opts g3 = {.groups = 3};
    CHECK(fr_conv2d(ctx, x, w, NULL, &g3) == NULL, "groups 3 with 4 channels must fail");
    CHECK(strstr(fr_last_error(), "groups"), "message: %s", fr_last_error());
    CHECK(fr_conv2d(ctx, x, wbig, NULL, NULL) == NULL, "kernel bigger than input must fail");
    CHECK(strstr(fr_last_error(), "bigger"), "message: %s", fr_last_error());
    struct fr_conv2d_opts p1 = {.pad_h = 2, .pad_w = 2};
    CHECK(fr_conv2d(ctx, x, wbig, NULL, &p1) != NULL, "11x11 fits 8x8 padded by 2");
    CHECK(fr_conv2d(ctx, x, w, b, NULL) == NULL, "bias of 5 for 6 outputs must fail");
    struct fr_conv2d_opts neg = {.stride_h = -1};
    CHECK(fr_conv2d(ctx, x, w, NULL, &neg) == NULL, "negative stride must fail");
    fr_t *x2 = fr_zeros(ctx, FR_F32, 2, (int64_t[]){8, 8});
    CHECK(fr_conv2d(ctx, x2, w, NULL, NULL) == NULL, "2-d input must fail");
    fr_t *x64 = fr_zeros(ctx, FR_F64, 4, (int64_t[]){8, 8, 4, 2});
    CHECK(fr_conv2d(ctx, x64, w, NULL, NULL) == NULL, "mixed dtypes must fail");
    CHECK(fr_conv2d(ctx, NULL, w, NULL, NULL) == NULL, "NULL propagates");
    fr_ctx_free(ctx);
}

int main(void) {
    fr_threads_set(2);
    typedef struct fr_conv2d_opts O;
    conv_check("3x3 pad 1 bias", 7, 6, 3, 2, 3, 3, 4, (O){.pad_h = 1, .pad_w = 1}, 1, 0);
    conv_check("3x3 no pad batch 1", 5, 6, 2, 1, 3, 3, 3, (O){0}, 0, 0);
    conv_check("3x3 stride 2 pad 1 batch 3", 9, 7, 2, 3, 3, 3, 3,
               (O){.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}, 0, 0);
    conv_check("5x5 stride (2,1) pad 2", 9, 8, 2, 2, 5, 5, 2,
               (O){.stride_h = 2, .stride_w = 1, .pad_h = 2, .pad_w = 2}, 1, 0);
    conv_check("3x3 dilation 2 pad 2", 9, 8, 2, 1, 3, 3, 2,
               (O){.pad_h = 2, .pad_w = 2, .dil_h = 2, .dil_w = 2}, 1, 0);
    conv_check("3x3 groups 2", 7, 6, 4, 2, 3, 3, 6, (O){.pad_h = 1, .pad_w = 1, .groups = 2}, 1, 0);
    conv_check("1x3 pad (0,1)", 8, 5, 3, 2, 1, 3, 2, (O){.pad_w = 1}, 1, 0);
    conv_check("3x1 pad (1,0)", 6, 7, 3, 3, 3, 1, 2, (O){.pad_h = 1}, 0, 0);
    conv_check("1x1 pointwise", 6, 5, 4, 3, 1, 1, 5, (O){0}, 1, 0);
    /* fewer column rows than output channels: transposed weight gradient */
    conv_check("3x3 pad 1 1->12 (dW transposed)", 6, 5, 1, 2, 3, 3, 12, (O){.pad_h = 1, .pad_w = 1},
               1, 0);
    conv_check("3x3 groups 2, 12 per group (dW transposed)", 5, 4, 2, 2, 3, 3, 24,
               (O){.pad_h = 1, .pad_w = 1, .groups = 2}, 1, 0);
    /* same-width block im2col with taps wholly off a 2-wide plane */
    conv_check("5x5 pad 2 on 2x3", 2, 3, 2, 2, 5, 5, 3, (O){.pad_h = 2, .pad_w = 2}, 1, 0);
    conv_check("1x1 stride 2", 7, 5, 3, 2, 1, 1, 2, (O){.stride_h = 2, .stride_w = 2}, 1, 0);
    conv_check("3x3 strided input", 6, 5, 2, 2, 3, 3, 2, (O){.pad_h = 1, .pad_w = 1}, 1, 1);
    conv_check("depthwise 3x3", 20, 7, 3, 2, 3, 3, 3, (O){.pad_h = 1, .pad_w = 1, .groups = 3}, 1,
               0);
    conv_check("depthwise 7x7", 18, 9, 2, 2, 7, 7, 2, (O){.pad_h = 3, .pad_w = 3, .groups = 2}, 1,
               0);
    conv_check("depthwise 5x3 pad (1,2)", 10, 6, 2, 1, 5, 3, 2,
               (O){.pad_h = 1, .pad_w = 2, .groups = 2}, 0, 0);
    conv_check("depthwise 3x3 stride 2", 9, 8, 3, 2, 3, 3, 3,
               (O){.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .groups = 3}, 1, 0);
    conv_check("depthwise x2 multiplier", 7, 6, 2, 2, 3, 3, 4,
               (O){.pad_h = 1, .pad_w = 1, .groups = 2}, 1, 0);
    conv_check("depthwise 13x13", 14, 13, 2, 1, 13, 13, 2, (O){.pad_h = 6, .pad_w = 6, .groups = 2},
               1, 0);

    /* bigger shapes, f32 fast vs reference only */
    conv_fast_vs_ref("depthwise 31x31", 35, 33, 3, 2, 31, 31, 3,
                     (O){.pad_h = 15, .pad_w = 15, .groups = 3});
    conv_fast_vs_ref("depthwise 13x13 batch 5", 28, 28, 4, 5, 13, 13, 4,
                     (O){.pad_h = 6, .pad_w = 6, .groups = 4});
    conv_fast_vs_ref("3x3 16->24 batch 5", 12, 11, 16, 5, 3, 3, 24, (O){.pad_h = 1, .pad_w = 1});
    conv_fast_vs_ref("1x1 16->8 batch 3", 9, 7, 16, 3, 1, 1, 8, (O){0});
    /* the Fashion-MNIST CNN's two layers */
    conv_fast_vs_ref("cnn conv1 1->32 28x28 batch 3", 28, 28, 1, 3, 3, 3, 32,
                     (O){.pad_h = 1, .pad_w = 1});
    conv_fast_vs_ref("cnn conv2 32->64 14x14 batch 3", 14, 14, 32, 3, 3, 3, 64,
                     (O){.pad_h = 1, .pad_w = 1});
    conv_fast_vs_ref("7x7 stride 2 3->8", 23, 21, 3, 2, 7, 7, 8,
                     (O){.stride_h = 2, .stride_w = 2, .pad_h = 3, .pad_w = 3});

    /* conv2d_relu_pool: finite differences, fast vs reference, composition */
    for (int pool = 1; pool <= 2; pool++) {
        g_fuse = pool;
        conv_check(pool == 1 ? "fused relu 3x3 pad 1" : "fused relu+pool 3x3 pad 1", 7, 6, 3, 2, 3,
                   3, 4, (O){.pad_h = 1, .pad_w = 1}, 1, 0);
        conv_check(pool == 1 ? "fused relu 3x3 stride 2, no bias"
                             : "fused relu+pool 3x3 stride 2 (odd output floored)",
                   11, 9, 2, 3, 3, 3, 3, (O){.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1},
                   0, 0);
        conv_check(pool == 1 ? "fused relu 1x1" : "fused relu+pool 1x1", 6, 5, 4, 2, 1, 1, 5,
                   (O){0}, 1, 0);
        conv_fast_vs_ref(pool == 1 ? "fused relu cnn conv2 batch 3"
                                   : "fused pool cnn conv2 batch 3",
                         14, 14, 32, 3, 3, 3, 64, (O){.pad_h = 1, .pad_w = 1});
        conv_fast_vs_ref("fused cnn conv1 1->32 odd 27x25", 27, 25, 1, 3, 3, 3, 32,
                         (O){.pad_h = 1, .pad_w = 1});
        g_fuse = 0;
        fused_vs_composed("fused vs composed conv1 1->32 28x28 batch 5", 28, 28, 1, 5, 32, pool,
                          (O){.pad_h = 1, .pad_w = 1});
        fused_vs_composed("fused vs composed conv2 32->64 15x13 batch 3", 15, 13, 32, 3, 64, pool,
                          (O){.pad_h = 1, .pad_w = 1});
        fused_vs_composed("fused vs composed, batch 1", 9, 8, 3, 1, 4, pool,
                          (O){.pad_h = 1, .pad_w = 1});
    }
    {
        struct fr_ctx *ctx = fr_ctx_new(1 << 20);
        fr_t *x = fr_zeros(ctx, FR_F32, 4, (int64_t[]){8, 8, 4, 2});
        fr_t *w = fr_zeros(ctx, FR_F32, 4, (int64_t[]){3, 3, 4, 6});
        CHECK(fr_conv2d_relu_pool(ctx, x, w, NULL, NULL, 3) == NULL &&
                  strstr(fr_last_error(), "pool"),
              "pool 3 refused: %s", fr_last_error());
        fr_t *w8 = fr_zeros(ctx, FR_F32, 4, (int64_t[]){8, 8, 4, 6});
        CHECK(fr_conv2d_relu_pool(ctx, x, w8, NULL, NULL, 2) == NULL &&
                  strstr(fr_last_error(), "smaller than the pool"),
              "1x1 output with pool 2 refused: %s", fr_last_error());
        fr_ctx_free(ctx);
    }

    hand_value();
    bad_shapes();
    return check_report("test_ops_conv");
}

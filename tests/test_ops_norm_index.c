/* test_ops_norm_index.c: layernorm, rmsnorm, embedding, gather,
 * scatter_add, dropout: finite differences in f64 and fast vs reference in
 * f32 (check_op) on odd sizes and strided views, values known by hand, the
 * statistics and determinism of dropout masks, bad input.
 */
#include "check.h"

#include <stdlib.h>

struct narg {
    int rms, has_w, has_b;
};
static fr_t *b_norm(struct fr_ctx *c, fr_t **x, void *vp) {
    const struct narg *a = vp;
    fr_t *w = a->has_w ? x[1] : NULL, *b = a->has_b ? x[2] : NULL;
    return a->rms ? fr_rmsnorm(c, x[0], w, 1e-5f) : fr_layernorm(c, x[0], w, b, 1e-5f);
}
/* channels-first layernorm, and the same through permutes (the reference) */
static fr_t *b_norm_c(struct fr_ctx *c, fr_t **x, void *vp) {
    const struct narg *a = vp;
    return fr_layernorm_c(c, x[0], a->has_w ? x[1] : NULL, a->has_b ? x[2] : NULL, 1e-5f);
}
static fr_t *b_norm_c_perm(struct fr_ctx *c, fr_t **x, void *vp) {
    const struct narg *a = vp;
    fr_t *t = fr_contiguous(c, fr_permute(c, x[0], (const int[]){2, 0, 1, 3}));
    t = fr_layernorm(c, t, a->has_w ? x[1] : NULL, a->has_b ? x[2] : NULL, 1e-5f);
    return fr_contiguous(c, fr_permute(c, t, (const int[]){1, 2, 0, 3}));
}
static fr_t *b_emb(struct fr_ctx *c, fr_t **x, void *a) {
    (void)a;
    return fr_embedding(c, x[0], x[1]);
}
static fr_t *b_gather(struct fr_ctx *c, fr_t **x, void *a) {
    (void)a;
    return fr_gather(c, x[0], x[1]);
}
static fr_t *b_scatter(struct fr_ctx *c, fr_t **x, void *a) {
    return fr_scatter_add(c, x[0], x[1], *(int64_t *)a);
}
static fr_t *b_norm_t(struct fr_ctx *c, fr_t **x, void *vp) {
    fr_t *in[3] = {fr_transpose(c, x[0], 0, 1), x[1], x[2]};
    return b_norm(c, in, vp);
}
static fr_t *b_emb_t(struct fr_ctx *c, fr_t **x, void *a) {
    (void)a;
    return fr_embedding(c, fr_transpose(c, x[0], 0, 1), x[1]);
}
/* reseeds each call so finite differences see the same mask */
static fr_t *b_dropout(struct fr_ctx *c, fr_t **x, void *a) {
    struct fr_rng r;
    fr_rng_seed(&r, 1234);
    return fr_dropout(c, x[0], *(float *)a, &r);
}

/* Large-input fast vs reference (f32) without finite differences. */
static void fast_vs_ref(const char *name, check_build_fn f, void *arg, int nin,
                        const struct check_input *in, int train) {
    fr_t *res[2][5] = {{0}};
    struct fr_ctx *cs[2] = {fr_ctx_new(1 << 24), fr_ctx_new(1 << 24)};
    for (int pass = 0; pass < 2; pass++) {
        fr_set_reference_mode(pass);
        struct fr_ctx *c = cs[pass];
        fr_set_training(c, train);
        struct fr_rng r;
        fr_rng_seed(&r, 5);
        fr_t *base[4], *view[4];
        for (int k = 0; k < nin; k++) {
            int64_t ne[4] = {1, 1, 1, 1};
            for (int d = 0; d < in[k].ndim; d++)
                ne[d] = in[k].ne[d];
            int64_t bne[4] = {ne[0] + (in[k].strided ? 3 : 0), ne[1], ne[2], ne[3]};
            fr_t *b = fr_new(c, in[k].is_int ? FR_I32 : FR_F32, in[k].ndim, bne);
            for (int64_t i = 0; i < fr_nelem(b); i++) {
                double lo = in[k].lo, hi = in[k].hi;
                if (lo == hi) lo = -1, hi = 1;
                fr_set(b, i,
                       in[k].is_int ? lo + (double)fr_rng_below(&r, (uint64_t)(hi - lo + 1))
                                    : lo + (hi - lo) * fr_rng_uniform(&r));
            }
            b->requires_grad = !in[k].is_int;
            base[k] = b;
            view[k] = in[k].strided ? fr_slice(c, b, 0, 1, ne[0]) : b;
        }
        fr_t *y = f(c, view, arg);
        fr_t *w = fr_new(c, FR_F32, y->ndim, y->ne);
        fr_rng_fill_normal(&r, w->data, fr_nelem(w), 0, 1);
        fr_backward(c, fr_sum(c, fr_mul(c, y, w), -1));
        res[pass][0] = y;
        for (int k = 0; k < nin; k++)
            res[pass][k + 1] = base[k]->grad;
    }
    fr_set_reference_mode(0);
    double r = check_compare(res[0][0], res[1][0], 1e-4, 1e-5);
    CHECK(r <= 1.0, "%s: big fast output differs from reference (ratio %.3g)", name, r);
    for (int k = 0; k < nin; k++) {
        if (!res[0][k + 1]) continue;
        r = check_compare(res[0][k + 1], res[1][k + 1], 1e-4, 1e-5);
        CHECK(r <= 1.0, "%s: big fast grad %d differs from reference (ratio %.3g)", name, k, r);
    }
    fr_ctx_free(cs[0]);
    fr_ctx_free(cs[1]);
}

static void norm_tests(void) {
    int64_t d[] = {1, 7, 33, 257};
    int64_t rows[] = {3, 5, 2, 2};
    struct narg args[] = {{0, 1, 1}, {0, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 1, 0}, {1, 0, 0}};
    for (int a = 0; a < 6; a++)
        for (int s = 0; s < 4; s++)
            for (int st = 0; st < 2; st++) {
                struct check_input in[3] = {
                    {3, {d[s], rows[s], 2}, -2, 2}, {1, {d[s]}, 0.5, 1.5}, {1, {d[s]}, -1, 1}};
                in[0].strided = st;
                char nm[80];
                snprintf(nm, sizeof nm, "%s w=%d b=%d D=%lld%s",
                         args[a].rms ? "rmsnorm" : "layernorm", args[a].has_w, args[a].has_b,
                         (long long)d[s], st ? " strided" : "");
                check_op(nm, b_norm, &args[a], 3, in, NULL);
            }
    for (int a = 0; a < 6; a += 4) {
        struct check_input tin[3] = {{2, {5, 6}, -2, 2}, {1, {6}, 0.5, 1.5}, {1, {6}, -1, 1}};
        check_op(args[a].rms ? "rmsnorm transposed" : "layernorm transposed", b_norm_t, &args[a], 3,
                 tin, NULL);
    }
    for (int a = 0; a < 6; a += 4) {
        struct check_input big[3] = {
            {2, {768, 300}, -3, 3}, {1, {768}, 0.5, 1.5}, {1, {768}, -1, 1}};
        fast_vs_ref(args[a].rms ? "rmsnorm big" : "layernorm big", b_norm, &args[a], 3, big, 0);
        big[0].strided = 1;
        fast_vs_ref(args[a].rms ? "rmsnorm big strided" : "layernorm big strided", b_norm, &args[a],
                    3, big, 0);
    }
    /* channels first: odd sizes, a block of positions past LNC_PB (9 x 8 = 72),
     * strided input; then equal to the permuted fr_layernorm */
    {
        const int64_t shp[3][4] = {{3, 2, 5, 2}, {9, 8, 4, 3}, {1, 1, 7, 2}};
        for (int a = 0; a < 4; a++)
            for (int s = 0; s < 3; s++) {
                struct check_input in[3] = {
                    {4, {shp[s][0], shp[s][1], shp[s][2], shp[s][3]}, -2, 2},
                    {1, {shp[s][2]}, 0.5, 1.5},
                    {1, {shp[s][2]}, -1, 1}};
                in[0].strided = s == 1;
                char nm[80];
                snprintf(nm, sizeof nm, "layernorm_c w=%d b=%d shape %d", args[a].has_w,
                         args[a].has_b, s);
                check_op(nm, b_norm_c, &args[a], 3, in, NULL);
            }
        struct fr_ctx *cc = fr_ctx_new(1 << 22);
        struct fr_rng r;
        fr_rng_seed(&r, 3);
        fr_t *x = fr_new(cc, FR_F32, 4, (int64_t[]){11, 7, 24, 3});
        fr_t *w = fr_new1(cc, FR_F32, 24), *b = fr_new1(cc, FR_F32, 24);
        fr_rng_fill_uniform(&r, x->data, fr_nelem(x), -3, 3);
        fr_rng_fill_uniform(&r, w->data, 24, 0.5, 1.5);
        fr_rng_fill_uniform(&r, b->data, 24, -1, 1);
        fr_t *in[3] = {x, w, b};
        struct narg wb = {0, 1, 1};
        fr_t *y1 = b_norm_c(cc, in, &wb), *y2 = b_norm_c_perm(cc, in, &wb);
        CHECK(y1 && y2 && check_compare(y1, y2, 1e-5, 1e-5) <= 1,
              "layernorm_c differs from the permuted layernorm");
        fr_t *x3 = fr_zeros(cc, FR_F32, 3, (int64_t[]){2, 3, 4});
        CHECK(!fr_layernorm_c(cc, x3, NULL, NULL, 1e-5f) && strstr(fr_last_error(), "(N, C, H, W)"),
              "3-d input: %s", fr_last_error());
        CHECK(!fr_layernorm_c(cc, x, b, fr_new1(cc, FR_F32, 5), 1e-5f) &&
                  strstr(fr_last_error(), "bias"),
              "bias of 5 for 24 channels: %s", fr_last_error());
        fr_ctx_free(cc);
    }
    struct fr_ctx *c = fr_ctx_new(1 << 20);
    for (int ref = 0; ref < 2; ref++) {
        fr_set_reference_mode(ref);
        fr_t *x = fr_new1(c, FR_F32, 3);
        fr_set(x, 0, 1), fr_set(x, 1, 2), fr_set(x, 2, 3);
        fr_t *y = fr_layernorm(c, x, NULL, NULL, 0);
        CHECK_NEAR(fr_get(y, 0), -1.2247449, 1e-6, "layernorm(1,2,3)[0]");
        CHECK_NEAR(fr_get(y, 1), 0.0, 1e-7, "layernorm(1,2,3)[1]");
        fr_t *r = fr_rmsnorm(c, x, NULL, 0);
        CHECK_NEAR(fr_get(r, 2), 3.0 / sqrt(14.0 / 3.0), 1e-6, "rmsnorm(1,2,3)[2]");
        fr_ctx_reset(c);
    }
    fr_set_reference_mode(0);
    fr_t *x = fr_zeros(c, FR_F32, 2, (int64_t[]){4, 3});
    fr_t *w = fr_zeros(c, FR_F32, 1, (int64_t[]){3});
    CHECK(fr_layernorm(c, x, w, NULL, 1e-5f) == NULL && strstr(fr_last_error(), "weight"),
          "layernorm weight shape: %s", fr_last_error());
    CHECK(fr_rmsnorm(c, x, NULL, -1.0f) == NULL && strstr(fr_last_error(), "eps"),
          "negative eps: %s", fr_last_error());
    CHECK(fr_layernorm(c, NULL, NULL, NULL, 1e-5f) == NULL, "NULL propagates");
    fr_ctx_free(c);
}

static void index_tests(void) {
    /* embedding: weight {D, V}, ids of 1..3 dims (repeats accumulate) */
    struct check_input e1[2] = {{2, {7, 5}}, {2, {4, 3}, 0, 4}};
    struct check_input e2[2] = {{2, {33, 9}}, {1, {11}, 0, 8}};
    struct check_input e3[2] = {{2, {1, 4}}, {3, {2, 3, 2}, 0, 3}};
    e1[1].is_int = e2[1].is_int = e3[1].is_int = 1;
    check_op("embedding 7x5", b_emb, NULL, 2, e1, NULL);
    check_op("embedding 33x9", b_emb, NULL, 2, e2, NULL);
    check_op("embedding D=1 3-d ids", b_emb, NULL, 2, e3, NULL);
    e2[0].strided = 1;
    check_op("embedding strided", b_emb, NULL, 2, e2, NULL);
    check_op("gather", b_gather, NULL, 2, e2, NULL);
    struct check_input et[2] = {{2, {6, 5}}, {1, {7}, 0, 5}};
    et[1].is_int = 1;
    check_op("embedding transposed table", b_emb_t, NULL, 2, et, NULL);
    int64_t n = 6;
    struct check_input s1[2] = {{2, {7, 10}}, {1, {10}, 0, 5}};
    s1[1].is_int = 1;
    check_op("scatter_add", b_scatter, &n, 2, s1, NULL);
    s1[0].strided = 1;
    check_op("scatter_add strided", b_scatter, &n, 2, s1, NULL);
    struct check_input big[2] = {{2, {512, 1000}}, {2, {64, 33}, 0, 999}};
    big[1].is_int = 1;
    fast_vs_ref("embedding big", b_emb, NULL, 2, big, 0);
    int64_t nb = 300;
    struct check_input sbig[2] = {{2, {256, 2000}}, {1, {2000}, 0, 299}};
    sbig[1].is_int = 1;
    fast_vs_ref("scatter_add big", b_scatter, &nb, 2, sbig, 0);

    struct fr_ctx *c = fr_ctx_new(1 << 20);
    fr_t *w = fr_new2(c, FR_F32, 2, 3);
    for (int i = 0; i < 6; i++)
        fr_set(w, i, i);
    fr_t *ids = fr_new1(c, FR_I32, 2);
    fr_set(ids, 0, 2), fr_set(ids, 1, 0);
    fr_t *y = fr_embedding(c, w, ids);
    CHECK(y && y->ndim == 2 && y->ne[0] == 2 && y->ne[1] == 2 && fr_get(y, 0) == 4 &&
              fr_get(y, 1) == 5 && fr_get(y, 2) == 0 && fr_get(y, 3) == 1,
          "embedding picks rows");
    fr_t *sa = fr_scatter_add(c, w, ids, 3); /* w has 3 columns, ids 2 entries */
    CHECK(sa == NULL && strstr(fr_last_error(), "scatter_add"), "scatter_add index length: %s",
          fr_last_error());
    fr_set(ids, 1, 3);
    CHECK(fr_embedding(c, w, ids) == NULL && strstr(fr_last_error(), "index 3"),
          "embedding id out of range: %s", fr_last_error());
    fr_set(ids, 1, -1);
    CHECK(fr_gather(c, w, ids) == NULL && strstr(fr_last_error(), "out of range"),
          "gather negative index: %s", fr_last_error());
    fr_t *fid = fr_zeros(c, FR_F32, 1, (int64_t[]){2});
    CHECK(fr_embedding(c, w, fid) == NULL && strstr(fr_last_error(), "I32"),
          "float ids rejected: %s", fr_last_error());
    fr_t *i3 = fr_zeros(c, FR_I32, 1, (int64_t[]){3});
    CHECK(fr_scatter_add(c, w, i3, 0) == NULL && strstr(fr_last_error(), "> 0"),
          "scatter_add n = 0: %s", fr_last_error());
    CHECK(fr_embedding(c, NULL, ids) == NULL, "NULL propagates");
    fr_ctx_free(c);
}

static void dropout_tests(void) {
    float ps[] = {0.3f, 0.0f};
    for (int k = 0; k < 2; k++)
        for (int st = 0; st < 2; st++) {
            struct check_input in = {2, {33, 7}, -2, 2};
            in.strided = st;
            struct check_opts o = {.train = 1};
            char nm[48];
            snprintf(nm, sizeof nm, "dropout p=%g%s", (double)ps[k], st ? " strided" : "");
            check_op(nm, b_dropout, &ps[k], 1, &in, &o);
        }
    struct check_input big = {2, {1000, 301}, -2, 2};
    fast_vs_ref("dropout big", b_dropout, &ps[0], 1, &big, 1);
    big.strided = 1;
    fast_vs_ref("dropout big strided", b_dropout, &ps[0], 1, &big, 1);

    struct fr_ctx *c = fr_ctx_new(1 << 24);
    struct fr_rng r;
    fr_rng_seed(&r, 42);
    int64_t n = 200001;
    fr_t *x = fr_new1(c, FR_F32, n);
    fr_rng_fill_uniform(&r, x->data, n, 0.5f, 1.5f); /* never 0, so y == 0 means dropped */
    x->requires_grad = 1;
    fr_set_training(c, 0);
    CHECK(fr_dropout(c, x, 0.5f, &r) == x, "eval mode returns x itself");
    fr_set_training(c, 1);
    CHECK(fr_dropout(c, x, 0.0f, &r) == x, "p = 0 returns x itself");
    float p = 0.3f, s = (float)(1.0 / (1.0 - p));
    struct fr_rng r1 = r;
    fr_t *y = fr_dropout(c, x, p, &r);
    int64_t dropped = 0, bad = 0;
    const float *xd = x->data, *yd = y->data;
    for (int64_t i = 0; i < n; i++) {
        if (yd[i] == 0.0f)
            dropped++;
        else if (yd[i] != xd[i] * s)
            bad++;
    }
    double frac = (double)dropped / (double)n, sd = sqrt(p * (1 - p) / (double)n);
    CHECK(fabs(frac - p) < 5 * sd, "dropped fraction %.5f vs p %.2f (5 sd = %.5f)", frac, (double)p,
          5 * sd);
    CHECK(bad == 0, "%lld kept elements not exactly x / (1 - p)", (long long)bad);
    /* backward: same mask, same scale */
    fr_t *g = fr_new1(c, FR_F32, n);
    fr_rng_fill_normal(&r, g->data, n, 0, 1);
    fr_backward(c, fr_sum(c, fr_mul(c, y, g), -1));
    const float *gd = g->data, *dx = x->grad->data;
    int64_t mism = 0;
    for (int64_t i = 0; i < n; i++) {
        float want = yd[i] == 0.0f ? 0.0f : gd[i] * s;
        if (dx[i] != want) mism++;
    }
    CHECK(mism == 0, "%lld grads do not follow the forward mask", (long long)mism);
    /* determinism: same rng state -> same mask, whatever the thread count */
    fr_threads_set(1);
    struct fr_rng r2 = r1;
    fr_t *y1 = fr_dropout(c, x, p, &r2);
    fr_threads_set(2);
    CHECK(memcmp(y1->data, y->data, (size_t)n * sizeof(float)) == 0,
          "same seed, 1 vs 2 threads: same mask");
    struct fr_rng r3 = r1;
    fr_dropout(c, x, p, &r3);
    fr_t *y3 = fr_dropout(c, x, p, &r3); /* the rng moved on: a new mask */
    CHECK(memcmp(y3->data, y->data, (size_t)n * sizeof(float)) != 0, "next call, new mask");
    /* bad input */
    CHECK(fr_dropout(c, x, 1.0f, &r) == NULL && strstr(fr_last_error(), "dropout"),
          "p = 1 rejected: %s", fr_last_error());
    CHECK(fr_dropout(c, x, -0.1f, &r) == NULL, "p < 0 rejected");
    CHECK(fr_dropout(c, x, NAN, &r) == NULL, "p NaN rejected");
    CHECK(fr_dropout(c, x, 0.2f, NULL) == NULL && strstr(fr_last_error(), "rng"),
          "training without rng: %s", fr_last_error());
    CHECK(fr_dropout(c, NULL, 0.2f, &r) == NULL, "NULL propagates");
    fr_ctx_free(c);
}

int main(void) {
    fr_threads_set(2);
    norm_tests();
    index_tests();
    dropout_tests();
    return check_report("test_ops_norm_index");
}

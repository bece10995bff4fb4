/* test_ops_pool_bn.c: max / average / global average pooling and batch
 * norm against finite differences (f64) and fast vs reference (f32); hand
 * values for padding semantics and the running-statistics update; bad
 * arguments fail with a message. */
#include "check.h"

struct pool_case {
    int max, kh, kw, sh, sw, ph, pw;
    int count_real; /* average over the real cells (fr_avgpool2d_real) */
};

static fr_t *b_pool(struct fr_ctx *c, fr_t **x, void *a) {
    struct pool_case *p = a;
    return (p->max          ? fr_maxpool2d
            : p->count_real ? fr_avgpool2d_real
                            : fr_avgpool2d)(c, x[0], p->kh, p->kw, p->sh, p->sw, p->ph, p->pw);
}

static fr_t *b_gap(struct fr_ctx *c, fr_t **x, void *a) {
    (void)a;
    return fr_global_avgpool(c, x[0]);
}

struct bn_case {
    int affine;
    float *rm, *rv;
};

static fr_t *b_bn(struct fr_ctx *c, fr_t **x, void *a) {
    struct bn_case *k = a;
    return fr_batchnorm(c, x[0], k->affine ? x[1] : NULL, k->affine ? x[2] : NULL, k->rm, k->rv,
                        0.1f, 1e-5f);
}

static void pool_checks(void) {
    struct {
        const char *name;
        struct pool_case p;
        int64_t ne[4];
    } cases[] = {
        {"maxpool 2x2", {1, 2, 2, 0, 0, 0, 0}, {7, 5, 2, 2}},
        {"maxpool 2x2 (fast path, 28x28)", {1, 2, 2, 0, 0, 0, 0}, {28, 28, 3, 2}},
        {"maxpool 2x2 s2 (fast path, odd 37x9)", {1, 2, 2, 2, 2, 0, 0}, {37, 9, 2, 3}},
        {"maxpool 3x3 s2 p1", {1, 3, 3, 2, 2, 1, 1}, {9, 7, 2, 3}},
        {"maxpool 3x2 s1 p(1,1)", {1, 3, 2, 1, 1, 1, 1}, {6, 5, 3, 1}},
        {"avgpool 2x2", {0, 2, 2, 0, 0, 0, 0}, {7, 5, 2, 2}},
        {"avgpool 2x2 (fast path, 28x28)", {0, 2, 2, 0, 0, 0, 0}, {28, 28, 3, 2}},
        {"avgpool 3x3 s2 p1", {0, 3, 3, 2, 2, 1, 1}, {9, 7, 2, 3}},
        {"avgpool 2x3 s(1,2) p(1,1)", {0, 2, 3, 1, 2, 1, 1}, {8, 6, 2, 1}},
        {"avgpool real cells 3x3 s1 p1", {0, 3, 3, 1, 1, 1, 1, 1}, {7, 6, 3, 2}},
        {"avgpool real cells 3x3 s2 p1", {0, 3, 3, 2, 2, 1, 1, 1}, {9, 7, 2, 3}},
        {"avgpool real cells 2x2 (fast path)", {0, 2, 2, 0, 0, 0, 0, 1}, {28, 28, 3, 2}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct check_input in = {4,
                                 {cases[i].ne[0], cases[i].ne[1], cases[i].ne[2], cases[i].ne[3]},
                                 .strided = (int)(i % 2)};
        check_op(cases[i].name, b_pool, &cases[i].p, 1, &in, NULL);
    }
    struct check_input g = {4, {5, 3, 4, 2}};
    check_op("global avgpool", b_gap, NULL, 1, &g, NULL);

    /* padding never wins a max: all -5 stays -5; average counts padding. */
    struct fr_ctx *ctx = fr_ctx_new(1 << 20);
    fr_t *x = fr_new(ctx, FR_F32, 4, (int64_t[]){4, 4, 1, 1});
    for (int i = 0; i < 16; i++)
        fr_set(x, i, -5);
    fr_t *m = fr_maxpool2d(ctx, x, 3, 3, 1, 1, 1, 1);
    CHECK(m && m->ne[0] == 4 && m->ne[1] == 4, "maxpool padded shape");
    CHECK(m && fr_get(m, 0) == -5.0, "padding won a max: %g", m ? fr_get(m, 0) : 0.0);
    for (int i = 0; i < 16; i++)
        fr_set(x, i, 1);
    fr_t *av = fr_avgpool2d(ctx, x, 3, 3, 1, 1, 1, 1);
    CHECK(av != NULL, "avgpool: %s", fr_last_error());
    if (av) {
        CHECK_NEAR(fr_get(av, 0), 4.0 / 9.0, 1e-6, "avgpool corner counts padding");
        CHECK_NEAR(fr_get(av, 1), 6.0 / 9.0, 1e-6, "avgpool edge counts padding");
        CHECK_NEAR(fr_get(av, 5), 1.0, 1e-6, "avgpool interior");
    }
    /* count_include_pad=False: every window of ones averages to 1; on
     * x = index, the corner is (0 + 1 + 4 + 5) / 4 and the top edge's
     * second cell (0 + 1 + 2 + 4 + 5 + 6) / 6 */
    fr_t *ar = fr_avgpool2d_real(ctx, x, 3, 3, 1, 1, 1, 1);
    for (int i = 0; ar && i < 16; i++)
        CHECK_NEAR(fr_get(ar, i), 1.0, 1e-6, "avgpool_real of ones");
    for (int i = 0; i < 16; i++)
        fr_set(x, i, i);
    ar = fr_avgpool2d_real(ctx, x, 3, 3, 1, 1, 1, 1);
    CHECK(ar != NULL, "avgpool_real: %s", fr_last_error());
    if (ar) {
        CHECK_NEAR(fr_get(ar, 0), 10.0 / 4.0, 1e-6, "avgpool_real corner");
        CHECK_NEAR(fr_get(ar, 1), 18.0 / 6.0, 1e-6, "avgpool_real edge");
        CHECK_NEAR(fr_get(ar, 5), 5.0, 1e-6, "avgpool_real interior");
    }
    /* bad arguments */
    CHECK(fr_maxpool2d(ctx, x, 3, 3, 1, 1, 2, 2) == NULL, "pad > half window must fail");
    CHECK(strstr(fr_last_error(), "padding"), "message: %s", fr_last_error());
    CHECK(fr_avgpool2d(ctx, x, 5, 5, 1, 1, 0, 0) == NULL, "window > input must fail");
    CHECK(strstr(fr_last_error(), "bigger"), "message: %s", fr_last_error());
    CHECK(fr_maxpool2d(ctx, x, 0, 2, 1, 1, 0, 0) == NULL, "zero window must fail");
    fr_t *x2 = fr_zeros(ctx, FR_F32, 2, (int64_t[]){4, 4});
    CHECK(fr_global_avgpool(ctx, x2) == NULL, "2-d input to global avgpool must fail");
    fr_ctx_free(ctx);
}

/* The 2x2 stride-2 fast path against the generic kernel (reference mode) on
 * inputs full of ties, NaNs and infinities: outputs, winner indices and the
 * input gradient must agree bit for bit (random inputs in check_op have no
 * ties). Also hand values for the tie rule: the first maximum wins, NaN wins. */
static void pool_fast_ties(void) {
    const float vals[6] = {0.0f, 1.0f, 1.0f, -INFINITY, NAN, 2.0f};
    int64_t ne[4] = {33, 18, 5, 3}; /* odd W: the floor drops the last column */
    int64_t n = ne[0] * ne[1] * ne[2] * ne[3];
    for (int max = 0; max <= 1; max++) {
        fr_t *y[2] = {0}, *x[2] = {0};
        struct fr_ctx *ctx[2];
        for (int ref = 0; ref <= 1; ref++) {
            fr_set_reference_mode(ref);
            ctx[ref] = fr_ctx_new(1 << 22);
            x[ref] = fr_new(ctx[ref], FR_F32, 4, ne);
            x[ref]->requires_grad = 1;
            uint32_t h = 12345;
            for (int64_t i = 0; i < n; i++) {
                h = h * 1103515245u + 12345u;
                /* mostly ties; NaN and -inf only for max (avg's sum would be NaN) */
                int k = (int)((h >> 16) % (max ? 6 : 3));
                fr_set(x[ref], i, vals[k]);
            }
            y[ref] = (max ? fr_maxpool2d : fr_avgpool2d)(ctx[ref], x[ref], 2, 2, 2, 2, 0, 0);
            CHECK(y[ref] != NULL, "pool: %s", fr_last_error());
            if (!y[ref]) continue;
            /* loss = sum(y * r) with r = 0.5 everywhere: gradient 0.5 to each winner */
            fr_t *r = fr_new(ctx[ref], FR_F32, 4, y[ref]->ne);
            for (int64_t i = 0; i < fr_nelem(r); i++)
                fr_set(r, i, 0.5);
            fr_t *m = fr_mul(ctx[ref], y[ref], r);
            fr_t *l = fr_sum(ctx[ref], m, -1);
            CHECK(l && fr_backward(ctx[ref], l) == 0, "backward: %s", fr_last_error());
        }
        fr_set_reference_mode(0);
        if (y[0] && y[1] && x[0]->grad && x[1]->grad) {
            int64_t ny = fr_nelem(y[0]), bad = 0;
            CHECK(memcmp(y[0]->data, y[1]->data, (size_t)ny * 4) == 0,
                  "%s 2x2 fast != generic output", max ? "max" : "avg");
            if (max)
                CHECK(memcmp(y[0]->aux, y[1]->aux, (size_t)ny * 4) == 0,
                      "max 2x2 fast != generic winner indices");
            for (int64_t i = 0; i < n; i++)
                bad += fr_get(x[0]->grad, i) != fr_get(x[1]->grad, i);
            CHECK(bad == 0, "%s 2x2: %lld input gradients differ", max ? "max" : "avg",
                  (long long)bad);
        }
        fr_ctx_free(ctx[0]);
        fr_ctx_free(ctx[1]);
    }

    /* hand values: window (1, 1 / 1, 1) picks (0,0); (0, NaN / NaN, 5) the first NaN */
    struct fr_ctx *c = fr_ctx_new(1 << 20);
    fr_t *x = fr_new(c, FR_F32, 4, (int64_t[]){4, 2, 1, 1});
    const float v[8] = {1, 1, 0, NAN, 1, 1, NAN, 5};
    for (int i = 0; i < 8; i++)
        fr_set(x, i, v[i]);
    fr_t *y = fr_maxpool2d(c, x, 2, 2, 2, 2, 0, 0);
    CHECK(y != NULL, "maxpool: %s", fr_last_error());
    if (y) {
        const int32_t *arg = y->aux;
        CHECK(fr_get(y, 0) == 1.0 && arg[0] == 0, "tie: first maximum (got index %d)", arg[0]);
        CHECK(isnan(fr_get(y, 1)) && arg[1] == 3, "NaN wins, first NaN (got index %d)", arg[1]);
    }
    fr_ctx_free(c);
}

static void bn_checks(void) {
    struct check_opts train = {.train = 1};
    struct bn_case affine = {1, NULL, NULL}, plain = {0, NULL, NULL};
    struct check_input in4[3] = {{4, {5, 4, 3, 2}}, {1, {3}, 0.5, 1.5}, {1, {3}}};
    check_op("batchnorm train 4-d", b_bn, &affine, 3, in4, &train);
    struct check_input in4s[1] = {{4, {3, 3, 4, 3}, .strided = 1}};
    check_op("batchnorm train 4-d no affine", b_bn, &plain, 1, in4s, &train);
    /* rows of 91: the fast path's eight partial sums and its tail */
    struct check_input in4l[3] = {{4, {13, 7, 5, 3}}, {1, {5}, 0.5, 1.5}, {1, {5}}};
    check_op("batchnorm train 4-d, rows of 91", b_bn, &affine, 3, in4l, &train);
    struct check_input in2[3] = {{2, {4, 6}}, {1, {4}, 0.5, 1.5}, {1, {4}}};
    check_op("batchnorm train 2-d", b_bn, &affine, 3, in2, &train);

    /* a mean far larger than the spread: the fast path must not cancel
     * (values 1000 + 0.01 u, the reference computes in double) */
    {
        struct fr_ctx *c2[2] = {fr_ctx_new(1 << 22), fr_ctx_new(1 << 22)};
        fr_t *res[2][2] = {{0}};
        for (int pass = 0; pass < 2; pass++) {
            fr_set_reference_mode(pass);
            fr_set_training(c2[pass], 1);
            struct fr_rng r;
            fr_rng_seed(&r, 3);
            fr_t *x = fr_new(c2[pass], FR_F32, 4, (int64_t[]){8, 8, 2, 4});
            for (int64_t i = 0; i < fr_nelem(x); i++)
                fr_set(x, i, 1000.0 + 0.01 * (fr_rng_uniform(&r) - 0.5));
            x->requires_grad = 1;
            fr_t *y = fr_batchnorm(c2[pass], x, NULL, NULL, NULL, NULL, 0.1f, 1e-5f);
            fr_t *w = fr_new(c2[pass], FR_F32, 4, y->ne);
            for (int64_t i = 0; i < fr_nelem(w); i++)
                fr_set(w, i, fr_rng_normal(&r));
            fr_backward(c2[pass], fr_sum(c2[pass], fr_mul(c2[pass], y, w), -1));
            res[pass][0] = y, res[pass][1] = x->grad;
        }
        fr_set_reference_mode(0);
        for (int t = 0; t < 2; t++) {
            double r = check_compare(res[0][t], res[1][t], 2e-3, 2e-3);
            CHECK(r <= 1.0, "batchnorm, mean 1000 spread 0.01: fast %s off the reference (%.3g)",
                  t ? "dx" : "y", r);
        }
        fr_ctx_free(c2[0]);
        fr_ctx_free(c2[1]);
    }

    /* eval: running statistics are constants */
    float rm[3] = {0.2f, -0.1f, 0.4f}, rv[3] = {0.5f, 1.5f, 0.8f};
    struct bn_case ev = {1, rm, rv};
    check_op("batchnorm eval 4-d", b_bn, &ev, 3, in4, NULL);
    CHECK(rm[0] == 0.2f && rv[2] == 0.8f, "eval mode must not touch running stats");
    struct bn_case ev2 = {0, rm, rv};
    struct check_input in2e[1] = {{2, {3, 5}}};
    check_op("batchnorm eval 2-d", b_bn, &ev2, 1, in2e, NULL);

    /* running statistics vs a hand computation: {C=2, N=3}, momentum 0.1 */
    struct fr_ctx *ctx = fr_ctx_new(1 << 20);
    fr_set_training(ctx, 1);
    fr_t *x = fr_new(ctx, FR_F32, 2, (int64_t[]){2, 3});
    double v[6] = {1, 10, 2, 20, 6, 60}; /* channel 0: 1 2 6, channel 1: 10 20 60 */
    for (int i = 0; i < 6; i++)
        fr_set(x, i, v[i]);
    float m[2] = {0, 1}, s[2] = {1, 2};
    fr_t *y = fr_batchnorm(ctx, x, NULL, NULL, m, s, 0.1f, 1e-5f);
    CHECK(y != NULL, "batchnorm: %s", fr_last_error());
    /* mean 3 and 30; unbiased var (4+1+9)/2 = 7 and 700 */
    CHECK_NEAR(m[0], 0.9 * 0 + 0.1 * 3, 1e-6, "running mean 0");
    CHECK_NEAR(m[1], 0.9 * 1 + 0.1 * 30, 1e-5, "running mean 1");
    CHECK_NEAR(s[0], 0.9 * 1 + 0.1 * 7, 1e-6, "running var 0");
    CHECK_NEAR(s[1], 0.9 * 2 + 0.1 * 700, 1e-4, "running var 1");
    /* normalised with the biased var 14/3 */
    if (y) CHECK_NEAR(fr_get(y, 0), (1 - 3) / sqrt(14.0 / 3 + 1e-5), 1e-5, "train output");
    fr_set_training(ctx, 0);
    fr_t *ye = fr_batchnorm(ctx, x, NULL, NULL, m, s, 0.1f, 1e-5f);
    if (ye) CHECK_NEAR(fr_get(ye, 0), (1 - 0.3) / sqrt(1.6 + 1e-5), 1e-5, "eval output");

    /* bad arguments */
    fr_set_training(ctx, 1);
    fr_t *one = fr_zeros(ctx, FR_F32, 2, (int64_t[]){2, 1});
    CHECK(fr_batchnorm(ctx, one, NULL, NULL, m, s, 0.1f, 1e-5f) == NULL,
          "one value per channel in training must fail");
    CHECK(strstr(fr_last_error(), "more than 1"), "message: %s", fr_last_error());
    fr_t *gbad = fr_zeros(ctx, FR_F32, 1, (int64_t[]){3});
    CHECK(fr_batchnorm(ctx, x, gbad, NULL, NULL, NULL, 0.1f, 1e-5f) == NULL,
          "gamma of wrong size must fail");
    CHECK(strstr(fr_last_error(), "gamma"), "message: %s", fr_last_error());
    CHECK(fr_batchnorm(ctx, x, NULL, NULL, m, NULL, 0.1f, 1e-5f) == NULL,
          "running mean without var must fail");
    fr_t *x3 = fr_zeros(ctx, FR_F32, 3, (int64_t[]){2, 3, 4});
    CHECK(fr_batchnorm(ctx, x3, NULL, NULL, NULL, NULL, 0.1f, 1e-5f) == NULL, "3-d must fail");
    fr_ctx_free(ctx);
}

/* fr_ctx_set_reduce's function for two processes holding the same slice:
 * the sum over both is twice this one's. */
static int twice(void *user, double *x, int64_t n) {
    (void)user;
    for (int64_t i = 0; i < n; i++)
        x[i] *= 2;
    return 0;
}

/* Synchronised statistics (fr_ctx_set_reduce), checked where the answer is
 * known: two processes with identical slices have the slice's own
 * statistics, so y, dx, dgamma, dbeta and the running statistics equal
 * the plain path's (which the finite differences above check), in f64 and
 * f32, 4-d and 2-d, with and without the fast path. The reduce must be
 * called (the synced path runs) and never in eval mode. */
static int g_calls;
static int counting_twice(void *user, double *x, int64_t n) {
    g_calls++;
    return twice(user, x, n);
}

static void bn_sync_checks(void) {
    static const int64_t shapes[2][4] = {{5, 3, 4, 3}, {6, 7, 1, 1}};
    for (int dt = 0; dt < 2; dt++)
        for (int sh = 0; sh < 2; sh++)
            for (int ref = 0; ref < 2; ref++) {
                enum fr_dtype type = dt ? FR_F64 : FR_F32;
                int nd = sh ? 2 : 4;
                int64_t C = sh ? shapes[1][0] : shapes[0][2], N = sh ? shapes[1][1] : shapes[0][3];
                fr_t *out[2][5] = {{0}};
                float rm[2][8], rv[2][8];
                struct fr_ctx *c[2] = {fr_ctx_new(1 << 22), fr_ctx_new(1 << 22)};
                fr_set_reference_mode(ref);
                for (int sync = 0; sync < 2; sync++) {
                    struct fr_ctx *cx = c[sync];
                    fr_set_training(cx, 1);
                    struct fr_rng r;
                    fr_rng_seed(&r, 21);
                    fr_t *x = fr_new(cx, type, nd, shapes[sh]);
                    fr_t *g = fr_new(cx, type, 1, (int64_t[]){C}),
                         *b = fr_new(cx, type, 1, (int64_t[]){C});
                    for (int64_t i = 0; i < fr_nelem(x); i++)
                        fr_set(x, i, 0.5 + fr_rng_normal(&r));
                    for (int64_t i = 0; i < C; i++)
                        fr_set(g, i, 0.5 + fr_rng_uniform(&r)), fr_set(b, i, fr_rng_normal(&r));
                    x->requires_grad = g->requires_grad = b->requires_grad = 1;
                    for (int64_t i = 0; i < C; i++)
                        rm[sync][i] = 0.1f * (float)i, rv[sync][i] = 1.0f + 0.2f * (float)i;
                    g_calls = 0;
                    if (sync) {
                        fr_ctx_set_shard(cx, 0, 2 * N);
                        fr_ctx_set_reduce(cx, counting_twice, NULL);
                    }
                    fr_t *y = fr_batchnorm(cx, x, g, b, rm[sync], rv[sync], 0.1f, 1e-5f);
                    fr_t *w = fr_new(cx, type, nd, y ? y->ne : x->ne);
                    for (int64_t i = 0; i < fr_nelem(w); i++)
                        fr_set(w, i, fr_rng_normal(&r));
                    CHECK(y && fr_backward(cx, fr_sum(cx, fr_mul(cx, y, w), -1)) == 0,
                          "synced batchnorm: %s", fr_last_error());
                    if (sync)
                        CHECK(g_calls == 3, "synced batchnorm: %d reduces, want 2 + 1", g_calls);
                    out[sync][0] = y, out[sync][1] = x->grad, out[sync][2] = g->grad,
                    out[sync][3] = b->grad;
                }
                fr_set_reference_mode(0);
                static const char *what[] = {"y", "dx", "dgamma", "dbeta"};
                double tol = dt ? 1e-10 : 2e-5;
                for (int t = 0; t < 4; t++)
                    if (out[0][t] && out[1][t])
                        CHECK(check_compare(out[1][t], out[0][t], tol, tol) <= 1.0,
                              "synced batchnorm %s %d-d%s: %s differs from one process's",
                              dt ? "f64" : "f32", nd, ref ? " (reference)" : "", what[t]);
                /* the same mean; the unbiased variance of 2n values (sync)
                 * against n: the biased ones agree */
                double n1 = (double)(fr_nelem(out[0][0]) / C), n2 = 2 * n1;
                int same = 1;
                for (int64_t i = 0; i < C; i++) {
                    double r0 = 1.0 + 0.2 * (double)i, v1 = (rv[0][i] - 0.9 * r0) / 0.1,
                           v2 = (rv[1][i] - 0.9 * r0) / 0.1;
                    same &= fabsf(rm[0][i] - rm[1][i]) <= 1e-6f &&
                            fabs(v1 * (n1 - 1) / n1 - v2 * (n2 - 1) / n2) <= 1e-4;
                }
                CHECK(same, "synced batchnorm %d-d: running statistics differ", nd);
                /* eval mode never reduces */
                fr_set_training(c[1], 0);
                g_calls = 0;
                fr_t *xe = fr_zeros(c[1], type, nd, shapes[sh]);
                CHECK(fr_batchnorm(c[1], xe, NULL, NULL, rm[1], rv[1], 0.1f, 1e-5f) && g_calls == 0,
                      "eval-mode batchnorm reduced %d times", g_calls);
                fr_ctx_free(c[0]), fr_ctx_free(c[1]);
            }
    /* one value per process per channel is enough when the batch is the
     * processes' together */
    struct fr_ctx *cx = fr_ctx_new(1 << 20);
    fr_set_training(cx, 1);
    fr_ctx_set_shard(cx, 0, 2);
    fr_ctx_set_reduce(cx, twice, NULL);
    fr_t *one = fr_zeros(cx, FR_F32, 2, (int64_t[]){2, 1});
    CHECK(fr_batchnorm(cx, one, NULL, NULL, NULL, NULL, 0.1f, 1e-5f) != NULL,
          "synced batchnorm of 1 sample of 2: %s", fr_last_error());
    fr_ctx_free(cx);
}

int main(void) {
    fr_threads_set(2);
    pool_checks();
    pool_fast_ties();
    bn_checks();
    bn_sync_checks();
    return check_report("test_ops_pool_bn");
}

/* test_sets.c: DeepSets layers and the injectivity tools (sets.h).
 *  - gradients of the LP, LE and pooling layers against finite differences
 *    in double, and F32 fast path against the reference (check_op);
 *  - the double-precision embedding and its analytic gradient against the
 *    autograd layers and finite differences; Hungarian against brute force;
 *  - permutation invariance / equivariance of whole models, masks;
 *  - the constructive LP weights (size, general position, separation in a
 *    randomised search at the stated L) and the certified collisions;
 *  - degenerate inputs, conditioning warning, a short training run, and bad
 *    arguments;
 *  - the width study's bounds and statistics (certified LP bound against the
 *    switching construction, random directions, L*, L_sat, the width fit)
 *    on hand-computed cases;
 *  - the LE construction (power sums of exp(w^T x / n) over LP's
 *    constructive directions), the equivariant probe, LP below degree N. */
#include "check.h"
#include "frugal/methods/sets.h"

#include <stdlib.h>
#include <string.h>

static int64_t g_deg = 4;
static fr_t *b_lp(struct fr_ctx *c, fr_t **x, void *a) {
    (void)a;
    return fr_sets_lp(c, x[0], x[1], g_deg);
}
static fr_t *b_le(struct fr_ctx *c, fr_t **x, void *a) {
    (void)a;
    return fr_sets_le(c, x[0], x[1]);
}
/* pooling with a fixed mask pattern (set 1 has 2 padded slots) */
static fr_t *b_pool(struct fr_ctx *c, fr_t **x, void *a) {
    int kind = *(int *)a;
    fr_t *m = fr_zeros(c, x[0]->dtype, 3, (int64_t[]){1, 4, 3});
    for (int64_t i = 0; i < 12; i++)
        fr_set(m, i, (i == 5 || i == 7) ? 0.0 : 1.0);
    return fr_sets_pool(c, x[0], m, (enum fr_sets_pool)kind);
}

static void test_grads(void) {
    struct check_input lp[2] = {{3, {3, 4, 2}, -0.9, 0.9}, {2, {3, 5}, -0.6, 0.6}};
    check_op("sets_lp deg 4", b_lp, NULL, 2, lp, &(struct check_opts){.fast_rtol = 2e-4});
    g_deg = 7;
    lp[0].strided = 1;
    check_op("sets_lp deg 7 strided", b_lp, NULL, 2, lp, &(struct check_opts){.fast_rtol = 5e-4});
    struct check_input le[2] = {{3, {2, 5, 3}, -1, 1}, {2, {2, 6}, -1.5, 1.5}};
    check_op("sets_le", b_le, NULL, 2, le, NULL);
    for (int k = 0; k < 3; k++) {
        struct check_input pin = {3, {5, 4, 3}};
        check_op(k == 0   ? "pool sum"
                 : k == 1 ? "pool mean"
                          : "pool max",
                 b_pool, &k, 1, &pin, NULL);
    }
}

/* emb64 vs the autograd F64 layer, and its analytic gradient vs FD */
static void test_emb64(void) {
    struct fr_rng rng;
    fr_rng_seed(&rng, 3);
    int64_t n = 4, d = 3, K = 5;
    double w[15], x[12], out[20], g[20], dx[12];
    for (int i = 0; i < 15; i++)
        w[i] = fr_rng_normal(&rng) * 0.5;
    for (int i = 0; i < 12; i++)
        x[i] = fr_rng_uniform(&rng) * 2 - 1;
    for (int kind = 0; kind < 2; kind++) {
        struct fr_sets_emb64 e = {kind ? FR_SETS_LE : FR_SETS_LP, d, K, kind ? 1 : n, w};
        int64_t L = fr_sets_emb64_width(&e);
        fr_sets_emb64_sum(&e, x, n, out);
        struct fr_ctx *ctx = fr_ctx_new(1 << 20);
        fr_t *xt = fr_wrap(ctx, FR_F64, 3, (int64_t[]){d, n, 1}, x);
        fr_t *wt = fr_wrap(ctx, FR_F64, 2, (int64_t[]){d, K}, w);
        fr_t *phi = kind ? fr_sets_le(ctx, xt, wt) : fr_sets_lp(ctx, xt, wt, n);
        fr_t *pool = fr_sets_pool(ctx, phi, NULL, FR_SETS_SUM);
        CHECK(pool && fr_nelem(pool) == L, "emb64: autograd pool width");
        double md = 0;
        for (int64_t l = 0; pool && l < L; l++)
            md = fmax(md, fabs(fr_get(pool, l) - out[l]));
        CHECK(md < 1e-12, "emb64 %s vs autograd F64: max diff %g", kind ? "LE" : "LP", md);
        fr_ctx_free(ctx);
        for (int64_t l = 0; l < L; l++)
            g[l] = fr_rng_normal(&rng);
        memset(dx, 0, sizeof dx);
        fr_sets_emb64_sum_grad(&e, x, n, g, dx);
        double worst = 0;
        for (int i = 0; i < 12; i++) {
            double h = 1e-6, xp[12], fp = 0, fm = 0;
            memcpy(xp, x, sizeof xp);
            xp[i] += h;
            fr_sets_emb64_sum(&e, xp, n, out);
            for (int64_t l = 0; l < L; l++)
                fp += g[l] * out[l];
            xp[i] -= 2 * h;
            fr_sets_emb64_sum(&e, xp, n, out);
            for (int64_t l = 0; l < L; l++)
                fm += g[l] * out[l];
            worst = fmax(worst, fabs((fp - fm) / (2 * h) - dx[i]) / (1e-6 + fabs(dx[i])));
        }
        CHECK(worst < 1e-5, "emb64 %s gradient vs FD: rel err %g", kind ? "LE" : "LP", worst);
    }
}

/* the Jacobian's smallest singular value: known cases */
static void test_jacobian(void) {
    double id[4] = {1, 0, 0, 1}, x1[2] = {0.3, -0.4}, xx[4] = {0.2, 0.1, 0.2, 0.1};
    struct fr_sets_emb64 e = {FR_SETS_LP, 2, 2, 1, id};
    CHECK_NEAR(fr_sets_emb64_jac_smin(&e, x1, 1), 1.0, 1e-12, "identity LP, N=1: smin 1");
    struct fr_sets_emb64 e2 = {FR_SETS_LP, 2, 2, 2, id};
    CHECK(fr_sets_emb64_jac_smin(&e2, xx, 2) < 1e-7, "coinciding elements: smin 0");
    double v[6] = {0.5, -0.2, 0.1, 0.9, -0.7, 0.3}, x3[4] = {0.1, 0.5, -0.6, 0.2};
    struct fr_sets_emb64 le = {FR_SETS_LE, 2, 3, 1, v};
    CHECK(fr_sets_emb64_jac_smin(&le, x3, 2) < 1e-7, "LE with L = 3 < N*D = 4: smin 0");
    /* D = 1, power sums of 2 distinct numbers: J = [[1, 1], [2a, 2b]], smin by hand */
    double one = 1, xa[2] = {0.5, -0.25};
    struct fr_sets_emb64 e1 = {FR_SETS_LP, 1, 1, 2, &one};
    double a = 1 + 4 * 0.25, c = 1 + 4 * 0.0625, b = 1 + 4 * 0.5 * -0.25; /* J^T J */
    double lmin = 0.5 * (a + c) - sqrt(0.25 * (a - c) * (a - c) + b * b);
    CHECK_NEAR(fr_sets_emb64_jac_smin(&e1, xa, 2), sqrt(lmin), 1e-12, "D=1 N=2 smin by hand");
}

static void test_distance(void) {
    struct fr_rng rng;
    fr_rng_seed(&rng, 5);
    for (int n = 1; n <= 7; n++) {
        double x[7 * 3], y[7 * 3];
        int perm[7];
        for (int t = 0; t < 20; t++) {
            for (int i = 0; i < n * 3; i++)
                x[i] = fr_rng_normal(&rng), y[i] = fr_rng_normal(&rng);
            double h = fr_sets_set_distance(x, y, n, 3, perm),
                   b = fr_sets_set_distance_brute(x, y, n, 3);
            CHECK(fabs(h - b) < 1e-12, "hungarian n=%d: %g vs brute %g", n, h, b);
            double s = 0; /* the returned matching attains the distance */
            for (int i = 0; i < n; i++)
                for (int c = 0; c < 3; c++)
                    s += pow(x[i * 3 + c] - y[perm[i] * 3 + c], 2);
            CHECK(fabs(sqrt(s) - h) < 1e-12, "hungarian matching attains the distance");
        }
        /* a permuted copy is at distance 0 */
        for (int i = 0; i < n; i++)
            memcpy(y + i * 3, x + ((i + 1) % n) * 3, 3 * sizeof *x);
        CHECK(fr_sets_set_distance(x, y, n, 3, NULL) < 1e-12, "permuted copy at distance 0");
    }
}

/* Whole models: permuting elements leaves invariant outputs unchanged and
 * permutes equivariant ones; padded slots (even holding huge values) are
 * ignored. */
static void test_invariance(void) {
    struct fr_rng rng;
    fr_rng_seed(&rng, 11);
    int64_t D = 3, N = 5, B = 4;
    for (int phi = 0; phi < 3; phi++)
        for (int eq = 0; eq < 2; eq++)
            for (int pool = 0; pool < 3; pool++) {
                struct fr_sets_config c;
                fr_sets_config_defaults(&c, (enum fr_sets_phi)phi, D, N, 2);
                c.equivariant = eq;
                c.pool = (enum fr_sets_pool)pool;
                c.width = phi == FR_SETS_LP ? 4 : 12;
                struct fr_sets_model m;
                CHECK(fr_sets_model_init(&m, &c, &rng) == 0, "model init: %s", fr_last_error());
                struct fr_ctx *ctx = fr_ctx_new(1 << 20);
                fr_t *x = fr_new3(ctx, FR_F32, D, N, B), *xp = fr_new3(ctx, FR_F32, D, N, B);
                fr_t *mask = fr_new3(ctx, FR_F32, 1, N, B), *maskp = fr_new3(ctx, FR_F32, 1, N, B);
                int64_t perm[5];
                float *xd = x->data, *xpd = xp->data, *md = mask->data, *mpd = maskp->data;
                for (int64_t i = 0; i < D * N * B; i++)
                    xd[i] = (float)(fr_rng_uniform(&rng) * 2 - 1);
                for (int64_t i = 0; i < N * B; i++)
                    md[i] = (i % N == 4 && i / N == 2) ? 0.0f : 1.0f;
                xd[(2 * N + 4) * D] = 1e30f; /* a padded slot's garbage */
                for (int64_t b = 0; b < B; b++) {
                    fr_rng_permutation(&rng, perm, N);
                    for (int64_t j = 0; j < N; j++) {
                        memcpy(xpd + (b * N + j) * D, xd + (b * N + perm[j]) * D,
                               D * sizeof(float));
                        mpd[b * N + j] = md[b * N + perm[j]];
                    }
                }
                fr_t *y = fr_sets_model_forward(ctx, &m, x, mask);
                fr_t *yp = fr_sets_model_forward(ctx, &m, xp, maskp);
                CHECK(y && yp, "model forward: %s", fr_last_error());
                double worst = 0;
                int finite = 1;
                for (int64_t b = 0; y && yp && b < B; b++)
                    for (int64_t j = 0; j < (eq ? N : 1); j++)
                        for (int64_t o = 0; o < 2; o++) {
                            int64_t jp = 0;
                            if (eq) /* output at slot j of xp is element perm[j] of x */
                                for (jp = 0; jp < N; jp++)
                                    if (((float *)xp->data)[(b * N + j) * D] ==
                                        xd[(b * N + jp) * D])
                                        break;
                            if (eq && md[b * N + jp] == 0) continue; /* padded outputs are free */
                            double a = fr_get(y, (b * (eq ? N : 1) + jp) * 2 + o);
                            double v = fr_get(yp, (b * (eq ? N : 1) + j) * 2 + o);
                            finite &= isfinite(a) && isfinite(v);
                            worst = fmax(worst, fabs(a - v));
                        }
                CHECK(finite && worst < 1e-6, "%s pool %d eq %d: permutation changed output by %g",
                      fr_sets_phi_name((enum fr_sets_phi)phi), pool, eq, worst);
                fr_ctx_free(ctx);
                fr_sets_model_free(&m);
            }
    /* F64 functional path: invariance to round-off */
    struct fr_ctx *ctx = fr_ctx_new(1 << 20);
    fr_t *x = fr_new3(ctx, FR_F64, 2, 6, 1), *xp = fr_new3(ctx, FR_F64, 2, 6, 1);
    fr_t *w = fr_new2(ctx, FR_F64, 2, 3);
    for (int i = 0; i < 12; i++)
        fr_set(x, i, fr_rng_uniform(&rng) * 2 - 1);
    for (int i = 0; i < 6; i++)
        fr_set(w, i, fr_rng_normal(&rng));
    for (int j = 0; j < 6; j++)
        for (int c = 0; c < 2; c++)
            fr_set(xp, j * 2 + c, fr_get(x, ((j * 5 + 1) % 6) * 2 + c));
    fr_t *a = fr_sets_pool(ctx, fr_sets_lp(ctx, x, w, 6), NULL, FR_SETS_SUM);
    fr_t *b = fr_sets_pool(ctx, fr_sets_lp(ctx, xp, w, 6), NULL, FR_SETS_SUM);
    double worst = 0;
    for (int l = 0; a && b && l < 18; l++)
        worst = fmax(worst, fabs(fr_get(a, l) - fr_get(b, l)));
    CHECK(a && b && worst < 1e-12, "F64 LP pooling invariant: %g", worst);
    fr_ctx_free(ctx);
}

static void test_constructive(void) {
    int64_t k1, k2;
    CHECK(fr_sets_lp_constructive_size(2, 2, &k1, &k2) == 16 && k1 == 2 && k2 == 3,
          "constructive size (2,2)");
    CHECK(fr_sets_lp_constructive_size(3, 2, &k1, &k2) == 2 + 4 + 2 * 4 * 7,
          "constructive size (3,2)");
    CHECK(fr_sets_lp_constructive_size(4, 1, NULL, NULL) == 1, "constructive d=1 is one direction");
    CHECK(fr_sets_lp_constructive_size(0, 2, NULL, NULL) == 0, "constructive n=0 rejected");
    /* any d of the anchors are independent (d = 3, n = 3: k1 = 7 anchors) */
    int64_t K = fr_sets_lp_constructive_size(3, 3, &k1, &k2);
    double *w = malloc((size_t)(K * 3) * sizeof *w);
    CHECK(fr_sets_lp_constructive(3, 3, 1, w, K) == 0, "constructive weights");
    double mindet = INFINITY;
    const double *a = w + 9;
    for (int i = 0; i < k1; i++)
        for (int j = i + 1; j < k1; j++)
            for (int k = j + 1; k < k1; k++) {
                const double *p = a + 3 * i, *q = a + 3 * j, *r = a + 3 * k;
                double det = p[0] * (q[1] * r[2] - q[2] * r[1]) -
                             p[1] * (q[0] * r[2] - q[2] * r[0]) +
                             p[2] * (q[0] * r[1] - q[1] * r[0]);
                mindet = fmin(mindet, fabs(det));
            }
    CHECK(mindet > 1e-4, "anchors in general position: min |det| %g", mindet);
    CHECK(fr_sets_lp_constructive(3, 3, 1, w, K - 1) != 0,
          "constructive: too little room rejected");
    free(w);

    /* separation at the stated L vs a certified collision below it */
    struct fr_rng rng;
    fr_rng_seed(&rng, 21);
    struct fr_sets_probe_opts o;
    fr_sets_probe_defaults(&o);
    o.random_pairs = 300, o.near_pairs = 100, o.restarts = 4, o.steps = 300;
    int64_t nd[][2] = {{2, 2}, {3, 2}, {2, 3}};
    for (int t = 0; t < 3; t++) {
        int64_t n = nd[t][0], d = nd[t][1];
        K = fr_sets_lp_constructive_size(n, d, NULL, NULL);
        w = malloc((size_t)(K * d) * sizeof *w);
        fr_sets_lp_constructive(n, d, 1, w, K);
        struct fr_sets_emb64 e = {FR_SETS_LP, d, K, n, w};
        struct fr_sets_probe_result r;
        CHECK(fr_sets_probe(&e, n, &o, &rng, &r, NULL, NULL) == 0, "probe: %s", fr_last_error());
        CHECK(r.ratio_min > 1e-3 && isnan(r.ratio_switch),
              "constructive LP (n %lld, d %lld, L %lld) separates: min ratio %g", (long long)n,
              (long long)d, (long long)(K * n), r.ratio_min);
        /* the first d directions alone (K = d) collide, certified */
        struct fr_sets_emb64 e2 = {FR_SETS_LP, d, d, n, w};
        double x[6], y[6];
        CHECK(fr_sets_lp_switching_pair(&e2, n, 0.1, &rng, x, y) == 1, "switching pair exists");
        double px[64], py[64], num = 0;
        fr_sets_emb64_sum(&e2, x, n, px);
        fr_sets_emb64_sum(&e2, y, n, py);
        for (int64_t l = 0; l < d * n; l++)
            num += (px[l] - py[l]) * (px[l] - py[l]);
        double dist = fr_sets_set_distance(x, y, n, d, NULL);
        CHECK(dist > 0.05 && sqrt(num) / dist < 1e-12, "switching pair collides: ratio %g at d %g",
              sqrt(num) / dist, dist);
        free(w);
    }
}

/* The LE construction: LP's constructive directions at n exponent
 * multiples. Sizes, values against the power sums they stand for,
 * separation at the stated L, and the certified collision of its first D
 * directions (the reduction to LP's projections). */
static void test_le_constructive(void) {
    CHECK(fr_sets_le_constructive_size(2, 2) == 2 * 16, "LE constructive size (2,2)");
    CHECK(fr_sets_le_constructive_size(4, 1) == 4, "LE constructive d=1: L = n");
    CHECK(fr_sets_le_constructive_size(0, 2) == 0, "LE constructive n=0 rejected");
    int64_t n = 3, d = 2, K = fr_sets_lp_constructive_size(n, d, NULL, NULL), L = n * K;
    double *w = malloc((size_t)(K * d) * sizeof *w), *v = malloc((size_t)(L * d) * sizeof *v);
    CHECK(fr_sets_lp_constructive(n, d, 1, w, K) == 0 && fr_sets_le_constructive(n, d, v, L) == 0,
          "LE constructive weights: %s", fr_last_error());
    CHECK(fr_sets_le_constructive(n, d, v, L - 1) != 0,
          "LE constructive: too little room rejected");
    /* Phi_{(j-1)K+k}(X) = sum_i z_ik^j, z_ik = exp(w_k^T x_i / n) */
    double x[6] = {0.3, -0.7, 0.9, 0.1, -0.5, 0.6}, *phi = malloc((size_t)L * sizeof *phi);
    struct fr_sets_emb64 e = {FR_SETS_LE, d, L, 1, v};
    fr_sets_emb64_sum(&e, x, n, phi);
    double worst = 0;
    for (int64_t j = 1; j <= n; j++)
        for (int64_t k = 0; k < K; k++) {
            double ref = 0;
            for (int64_t i = 0; i < n; i++)
                ref += pow(exp(w[k * d] * x[i * d] + w[k * d + 1] * x[i * d + 1]), (double)j);
            worst = fmax(worst, fabs(phi[(j - 1) * K + k] - ref) / fabs(ref));
        }
    CHECK(worst < 1e-13, "LE constructive = power sums of exp(w^T x / n): rel err %g", worst);
    free(w), free(v), free(phi);

    struct fr_rng rng;
    fr_rng_seed(&rng, 23);
    struct fr_sets_probe_opts o;
    fr_sets_probe_defaults(&o);
    o.random_pairs = 300, o.near_pairs = 100, o.restarts = 4, o.steps = 300;
    int64_t nd[][2] = {{2, 2}, {3, 2}, {2, 3}, {4, 1}};
    for (int t = 0; t < 4; t++) {
        n = nd[t][0], d = nd[t][1], L = fr_sets_le_constructive_size(n, d);
        v = malloc((size_t)(L * d) * sizeof *v);
        fr_sets_le_constructive(n, d, v, L);
        struct fr_sets_emb64 le = {FR_SETS_LE, d, L, 1, v};
        struct fr_sets_probe_result r;
        CHECK(fr_sets_probe(&le, n, &o, &rng, &r, NULL, NULL) == 0, "probe: %s", fr_last_error());
        CHECK(r.ratio_min > 1e-4,
              "constructive LE (n %lld, d %lld, L %lld) separates: min ratio %g", (long long)n,
              (long long)d, (long long)L, r.ratio_min);
        if (d == 1) {
            free(v);
            continue;
        }
        /* rows of the first d directions only (k < d): the LP switching pair
         * of those directions collides for LE too */
        K = L / n;
        double *v2 = malloc((size_t)(n * d * d) * sizeof *v2), *lpw = malloc((size_t)(d * d) * 8);
        for (int64_t j = 0; j < n; j++)
            memcpy(v2 + j * d * d, v + j * K * d, (size_t)(d * d) * sizeof *v2);
        for (int64_t k = 0; k < d * d; k++)
            lpw[k] = v[k]; /* the j = 1 rows are the w_k */
        struct fr_sets_emb64 lp = {FR_SETS_LP, d, d, n, lpw}, le2 = {FR_SETS_LE, d, n * d, 1, v2};
        double xs[6], ys[6], px[16], py[16], num = 0, den = 0;
        CHECK(fr_sets_lp_switching_pair(&lp, n, 0.1, &rng, xs, ys) == 1, "switching pair exists");
        fr_sets_emb64_sum(&le2, xs, n, px);
        fr_sets_emb64_sum(&le2, ys, n, py);
        for (int64_t l = 0; l < n * d; l++)
            num += (px[l] - py[l]) * (px[l] - py[l]), den += px[l] * px[l];
        CHECK(sqrt(num / den) < 1e-12, "LE on the first d directions collides: rel %g",
              sqrt(num / den));
        free(v), free(v2), free(lpw);
    }
}

/* The equivariant probe sees (x_1, Phi(X)): at N = 2, D = 2, LP with K = 2
 * random directions is injective there (x_1 and p_1 fix x_2) while the
 * invariant probe finds its certified collision; K = 1 collides for both;
 * a padded switching pair (N = 3, K = 2) is an equivariant collision too. */
static void test_equivariant_probe(void) {
    struct fr_rng rng;
    fr_rng_seed(&rng, 29);
    struct fr_sets_probe_opts o;
    fr_sets_probe_defaults(&o);
    o.random_pairs = 300, o.near_pairs = 50, o.restarts = 4, o.steps = 300;
    double w[4];
    fr_sets_lp_random(2, 2, &rng, w);
    struct fr_sets_probe_result r;
    struct fr_sets_emb64 e1 = {FR_SETS_LP, 2, 1, 2, w}, e2 = {FR_SETS_LP, 2, 2, 2, w};
    CHECK(fr_sets_probe(&e2, 2, &o, &rng, &r, NULL, NULL) == 0 && r.ratio_min < 1e-9,
          "invariant LP K=2 N=2 D=2 collides: %g", r.ratio_min);
    o.equivariant = 1;
    CHECK(fr_sets_probe(&e2, 2, &o, &rng, &r, NULL, NULL) == 0 && r.ratio_min > 1e-3,
          "equivariant LP K=2 N=2 D=2 separates: %g", r.ratio_min);
    CHECK(fr_sets_probe(&e1, 2, &o, &rng, &r, NULL, NULL) == 0 && r.ratio_min < 1e-6,
          "equivariant LP K=1 collides: %g", r.ratio_min);
    struct fr_sets_emb64 e3 = {FR_SETS_LP, 2, 2, 3, w};
    o.restarts = 0;
    CHECK(fr_sets_probe(&e3, 3, &o, &rng, &r, NULL, NULL) == 0 && r.ratio_switch < 1e-9,
          "padded switching pair collides for the equivariant probe: %g", r.ratio_switch);
}

/* LP with lp_deg < N: L = K * lp_deg can fall below N; out of range is
 * rejected. */
static void test_lp_degree(void) {
    struct fr_rng rng;
    fr_rng_seed(&rng, 37);
    struct fr_sets_config c;
    fr_sets_config_defaults(&c, FR_SETS_LP, 2, 6, 1);
    c.width = 1, c.lp_deg = 2;
    struct fr_sets_model m;
    CHECK(fr_sets_model_init(&m, &c, &rng) == 0 && m.l == 2, "LP degree 2 at N = 6: L = %lld",
          (long long)m.l);
    fr_sets_model_free(&m);
    c.lp_deg = 65;
    CHECK(fr_sets_model_init(&m, &c, &rng) != 0, "lp_deg 65 rejected");
    c.lp_deg = -1;
    CHECK(fr_sets_model_init(&m, &c, &rng) != 0, "lp_deg -1 rejected");
}

static void test_degenerate_and_errors(void) {
    struct fr_rng rng;
    fr_rng_seed(&rng, 31);
    struct fr_ctx *ctx = fr_ctx_new(1 << 20);
    /* zero vectors: LP phi(0) = 0, LE phi(0) = 1 */
    fr_t *x = fr_zeros(ctx, FR_F32, 3, (int64_t[]){2, 3, 1});
    fr_t *w = fr_new2(ctx, FR_F32, 2, 2);
    for (int i = 0; i < 4; i++)
        fr_set(w, i, fr_rng_normal(&rng));
    fr_t *p = fr_sets_pool(ctx, fr_sets_lp(ctx, x, w, 3), NULL, FR_SETS_SUM);
    fr_t *q = fr_sets_pool(ctx, fr_sets_le(ctx, x, w), NULL, FR_SETS_SUM);
    CHECK(p && q, "zero sets pool");
    for (int l = 0; p && l < 6; l++)
        CHECK(fr_get(p, l) == 0.0, "LP of zero vectors is 0");
    for (int l = 0; q && l < 2; l++)
        CHECK(fr_get(q, l) == 3.0, "LE of 3 zero vectors is 3");
    /* N = 1 and repeated elements through a model */
    struct fr_sets_config c;
    fr_sets_config_defaults(&c, FR_SETS_LP, 2, 1, 1);
    struct fr_sets_model m;
    CHECK(fr_sets_model_init(&m, &c, &rng) == 0, "N=1 model");
    fr_t *y = fr_sets_model_forward(ctx, &m, fr_zeros(ctx, FR_F32, 3, (int64_t[]){2, 1, 2}), NULL);
    CHECK(y && isfinite(fr_get(y, 0)) && fr_get(y, 0) == fr_get(y, 1), "N=1 zero input finite");
    fr_sets_model_free(&m);
    struct fr_sets_probe_opts o;
    fr_sets_probe_defaults(&o);
    o.random_pairs = 200, o.near_pairs = 50, o.restarts = 2, o.steps = 200;
    double wv[4] = {1, 0, 0, 1};
    struct fr_sets_emb64 e = {FR_SETS_LP, 2, 2, 1, wv}, e1 = {FR_SETS_LP, 2, 1, 1, wv};
    struct fr_sets_probe_result r;
    CHECK(fr_sets_probe(&e, 1, &o, &rng, &r, NULL, NULL) == 0 && r.ratio_min > 0.5,
          "N=1, identity directions: ratio %g (should be 1)", r.ratio_min);
    CHECK(fr_sets_probe(&e1, 1, &o, &rng, &r, NULL, NULL) == 0 && r.ratio_switch < 1e-12,
          "N=1, one direction in R^2 collides: %g", r.ratio_switch);
    /* repeated elements: {a, a, b} vs {a, b, b} are different multisets */
    double xs[6] = {0.3, -0.2, 0.3, -0.2, -0.5, 0.7}, ys[6] = {0.3, -0.2, -0.5, 0.7, -0.5, 0.7};
    int64_t K = fr_sets_lp_constructive_size(3, 2, NULL, NULL);
    double *wc = malloc((size_t)(K * 2) * sizeof *wc);
    fr_sets_lp_constructive(3, 2, 1, wc, K);
    struct fr_sets_emb64 ec = {FR_SETS_LP, 2, K, 3, wc};
    double *px = malloc((size_t)(2 * K * 3) * sizeof *px), *py = px + K * 3, num = 0;
    fr_sets_emb64_sum(&ec, xs, 3, px);
    fr_sets_emb64_sum(&ec, ys, 3, py);
    for (int64_t l = 0; l < K * 3; l++)
        num += (px[l] - py[l]) * (px[l] - py[l]);
    CHECK(sqrt(num) / fr_sets_set_distance(xs, ys, 3, 2, NULL) > 1e-3,
          "repeated elements separated by the constructive LP");
    free(px);
    /* conditioning: raw inputs of size ~20 at degree 8 are flagged, [-1,1] is fine */
    double big[8 * 2 * 16], small[8 * 2 * 16];
    for (int i = 0; i < 8 * 2 * 16; i++)
        small[i] = fr_rng_uniform(&rng) * 2 - 1, big[i] = 20 * small[i] + 30;
    struct fr_sets_emb64 e8 = {FR_SETS_LP, 2, 3, 8, wc + 4};
    struct fr_sets_cond cb, cs;
    CHECK(fr_sets_condition(&e8, big, 8, 16, &cb) == 0 && cb.ill && cb.msg[0],
          "raw inputs flagged ill-conditioned (rel err %g, range %g)", cb.rel_err_f32,
          cb.dyn_range);
    CHECK(fr_sets_condition(&e8, small, 8, 16, &cs) == 0 && !cs.ill,
          "normalised inputs fine: %s (rel err %g, range %g)", cs.msg, cs.rel_err_f32,
          cs.dyn_range);
    free(wc);
    /* bad arguments */
    fr_clear_error();
    CHECK(fr_sets_lp(ctx, x, fr_new2(ctx, FR_F32, 3, 2), 3) == NULL && fr_last_error()[0],
          "LP with mismatched D rejected");
    CHECK(fr_sets_lp(ctx, x, w, 0) == NULL, "LP degree 0 rejected");
    CHECK(fr_sets_lp(ctx, x, fr_new2(ctx, FR_F64, 2, 2), 2) == NULL, "LP mixed dtypes rejected");
    CHECK(fr_sets_lp(ctx, NULL, w, 2) == NULL, "NULL passes through");
    CHECK(fr_sets_pool(ctx, fr_zeros(ctx, FR_F32, 3, (int64_t[]){4, 3, 2}),
                       fr_zeros(ctx, FR_F32, 3, (int64_t[]){1, 2, 2}), FR_SETS_SUM) == NULL,
          "pool mask shape rejected");
    CHECK(fr_sets_pool(ctx, fr_zeros(ctx, FR_F32, 2, (int64_t[]){4, 3}), NULL,
                       (enum fr_sets_pool)7) == NULL,
          "unknown pooling rejected");
    fr_sets_config_defaults(&c, FR_SETS_LE, 2, 3, 1);
    c.width = 0;
    CHECK(fr_sets_model_init(&m, &c, &rng) == FR_EINVAL, "width 0 rejected");
    c.width = 4;
    c.n = 100;
    CHECK(fr_sets_model_init(&m, &c, &rng) == FR_EINVAL, "n > 64 rejected");
    c.n = 3;
    CHECK(fr_sets_model_init(&m, &c, &rng) == 0, "valid LE model");
    CHECK(fr_sets_model_forward(ctx, &m, fr_zeros(ctx, FR_F32, 3, (int64_t[]){3, 3, 1}), NULL) ==
              NULL,
          "wrong D rejected by the model");
    CHECK(fr_sets_model_forward(ctx, &m, fr_zeros(ctx, FR_F64, 3, (int64_t[]){2, 3, 1}), NULL) ==
              NULL,
          "F64 input rejected by the F32 model");
    CHECK(fr_sets_model_forward(ctx, &m, fr_zeros(ctx, FR_F32, 3, (int64_t[]){2, 4, 1}), NULL) ==
              NULL,
          "more elements than n rejected");
    fr_sets_model_free(&m);
    fr_sets_model_free(NULL);
    o.sep = -1;
    CHECK(fr_sets_probe(&e, 2, &o, &rng, &r, NULL, NULL) == FR_EINVAL,
          "negative separation rejected");
    fr_sets_probe_defaults(&o);
    CHECK(fr_sets_probe(&e, 0, &o, &rng, &r, NULL, NULL) == FR_EINVAL, "n = 0 rejected");
    float tx[4], ty[4];
    CHECK(fr_sets_task_generate(FR_SETS_TASK_CPAIR, 2, 3, 1, &rng, tx, ty) == FR_EINVAL,
          "complex task with odd D rejected");
    CHECK(fr_sets_phi_parse("lp") == FR_SETS_LP && fr_sets_phi_parse("x") == -1, "phi parse");
    CHECK(fr_sets_task_parse("rank") == FR_SETS_TASK_RANK && fr_sets_task_parse("") == -1,
          "task parse");
    fr_ctx_free(ctx);
}

/* Task targets by hand, and the complex split layout. */
static void test_tasks(void) {
    struct fr_rng rng;
    fr_rng_seed(&rng, 41);
    float x[3 * 2], y[3];
    fr_sets_task_generate(FR_SETS_TASK_PAIRPROD, 3, 2, 1, &rng, x, y);
    double s = 0;
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            s += x[2 * i] * x[2 * j] + x[2 * i + 1] * x[2 * j + 1];
    CHECK_NEAR(y[0], s, 1e-6, "pairprod target");
    fr_sets_task_generate(FR_SETS_TASK_SORTED0, 3, 2, 1, &rng, x, y);
    CHECK(y[0] <= y[1] && y[1] <= y[2], "sorted0 sorted");
    fr_sets_task_generate(FR_SETS_TASK_RANK, 3, 2, 1, &rng, x, y);
    CHECK(fabs(y[0] + y[1] + y[2] - 1.5) < 1e-6, "ranks are {0, 0.5, 1}");
    double z[4] = {1, 2, 3, 4}, o[4];
    fr_sets_complex_split(z, 1, 2, o);
    CHECK(o[0] == 1 && o[1] == 3 && o[2] == 2 && o[3] == 4, "complex split layout");
}

/* A short training run must learn an easy function (error far below the
 * variance) and fail to learn it with a too-narrow LP (K = 1, D = 2). */
static void test_training(void) {
    struct fr_rng rng;
    fr_rng_seed(&rng, 51);
    int64_t n = 3, d = 2, ntr = 2048, nte = 512;
    float *xtr = malloc(sizeof(float) * (size_t)(ntr * n * d)),
          *ytr = malloc(sizeof(float) * (size_t)ntr);
    float *xte = malloc(sizeof(float) * (size_t)(nte * n * d)),
          *yte = malloc(sizeof(float) * (size_t)nte);
    fr_sets_task_generate(FR_SETS_TASK_PAIRPROD, n, d, ntr, &rng, xtr, ytr);
    fr_sets_task_generate(FR_SETS_TASK_PAIRPROD, n, d, nte, &rng, xte, yte);
    struct fr_sets_train_opts o;
    fr_sets_train_defaults(&o);
    o.steps = 400;
    double err[2], tr;
    for (int k = 0; k < 2; k++) {
        struct fr_sets_config c;
        fr_sets_config_defaults(&c, FR_SETS_LP, d, n, 1);
        c.width = k == 0 ? 4 : 1;
        c.rho_hidden = 32;
        struct fr_sets_model m;
        fr_sets_model_init(&m, &c, &rng);
        CHECK(fr_sets_train_eval(&m, xtr, ytr, ntr, xte, yte, nte, &o, &rng, &err[k], &tr) == 0,
              "train: %s", fr_last_error());
        fr_sets_model_free(&m);
    }
    fprintf(stderr, "train: K=4 err %g, K=1 err %g\n", err[0], err[1]);
    CHECK(err[0] < 0.05, "LP K=4 learns pairprod: rel err %g", err[0]);
    CHECK(err[1] > 2 * err[0], "LP K=1 cannot (rel err %g vs %g)", err[1], err[0]);
    free(xtr), free(ytr), free(xte), free(yte);
}

/* The certified bound, random directions, and reading widths off curves. */
static void test_widths(void) {
    /* (d-1)(floor(log2 n)+1)+1 by hand; d = 1 needs a single direction */
    CHECK(fr_sets_lp_certified_k(4, 1) == 1 && fr_sets_lp_certified_k(1, 1) == 1, "cert k, d = 1");
    CHECK(fr_sets_lp_certified_k(2, 2) == 3, "cert k (2, 2): 1*2+1");
    CHECK(fr_sets_lp_certified_k(3, 2) == 3, "cert k (3, 2): floor(log2 3) = 1");
    CHECK(fr_sets_lp_certified_k(4, 3) == 7, "cert k (4, 3): 2*3+1");
    CHECK(fr_sets_lp_certified_k(5, 4) == 10, "cert k (5, 4): 3*3+1");
    CHECK(fr_sets_lp_certified_k(8, 2) == 5, "cert k (8, 2): 1*4+1");
    /* the bound is where the switching construction stops */
    struct fr_rng rng;
    fr_rng_seed(&rng, 61);
    double w[12 * 3], x[5 * 3], y[5 * 3];
    int64_t nd[][2] = {{2, 2}, {4, 3}, {5, 3}};
    for (int t = 0; t < 3; t++) {
        int64_t n = nd[t][0], d = nd[t][1], kc = fr_sets_lp_certified_k(n, d);
        fr_sets_lp_random(kc, d, &rng, w);
        struct fr_sets_emb64 below = {FR_SETS_LP, d, kc - 1, n, w}, at = {FR_SETS_LP, d, kc, n, w};
        CHECK(fr_sets_lp_switching_pair(&below, n, 0.1, &rng, x, y) == 1 &&
                  fr_sets_lp_switching_pair(&at, n, 0.1, &rng, x, y) == 0,
              "n %lld d %lld: switching pair up to K = %lld - 1 only", (long long)n, (long long)d,
              (long long)kc);
    }
    /* random directions: unit norm, nested under the same seed */
    double w2[4 * 3];
    fr_rng_seed(&rng, 7);
    fr_sets_lp_random(12, 3, &rng, w);
    fr_rng_seed(&rng, 7);
    fr_sets_lp_random(4, 3, &rng, w2);
    double worst = 0;
    for (int k = 0; k < 12; k++)
        worst = fmax(worst, fabs(sqrt(w[3 * k] * w[3 * k] + w[3 * k + 1] * w[3 * k + 1] +
                                      w[3 * k + 2] * w[3 * k + 2]) -
                                 1));
    CHECK(worst < 1e-15, "random directions have unit norm: off by %g", worst);
    CHECK(memcmp(w, w2, sizeof w2) == 0, "random directions nest: first 4 of 12 = a draw of 4");
    fr_sets_lp_random(3, 1, &rng, w);
    CHECK(fabs(w[0]) == 1 && fabs(w[1]) == 1 && fabs(w[2]) == 1, "d = 1 directions are +-1");
    /* L*: the start of the last collision-free run */
    double L[4] = {2, 4, 6, 8};
    CHECK(fr_sets_probe_threshold(L, (double[]){0, 1e-7, 0.5, 0.2}, 4, 1e-6) == 6, "L* = 6");
    CHECK(fr_sets_probe_threshold(L, (double[]){0.5, 0, 0.5, 0.5}, 4, 1e-6) == 6,
          "a later collision resets L*");
    CHECK(fr_sets_probe_threshold(L, (double[]){0.3, 0.2, 0.1, 0.1}, 4, 1e-6) == 2,
          "no collision: L* = the first width");
    CHECK(fr_sets_probe_threshold(L, (double[]){NAN, 0.1, 0.1, 0.1}, 4, 1e-6) == 2,
          "a NaN ratio is no collision");
    CHECK(isnan(fr_sets_probe_threshold(L, (double[]){0.5, 0.5, 0.5, 1e-9}, 4, 1e-6)),
          "last width collides: no L*");
    CHECK(isnan(fr_sets_probe_threshold(L, NULL, 0, 1e-6)), "empty curve: no L*");
    /* best error and L_sat: best 0.1, so within 1.1 * 0.1 + 0.01 = 0.12 */
    double e1[4] = {NAN, 0.5, 0.115, 0.1}, e2[4] = {0.3, INFINITY, 0.1, 0.125};
    double none[2] = {NAN, INFINITY};
    CHECK(fr_sets_best_error(e1, 4) == 0.1 && fr_sets_best_error(e2, 4) == 0.1, "best error 0.1");
    CHECK(isnan(fr_sets_best_error(none, 2)), "no finite error: best NaN");
    CHECK(fr_sets_saturation_width(L, e1, 4) == 6, "L_sat: 0.115 is within 0.12");
    CHECK(fr_sets_saturation_width(L, e2, 4) == 6, "L_sat: 0.3 is not, inf skipped");
    CHECK(isnan(fr_sets_saturation_width(L, none, 2)), "no finite error: L_sat NaN");
    /* the fit: an exact plane, and a 2x2 design by hand: b = c = 1.5,
     * a = -0.25, residuals +-0.25, R^2 = 1 - 0.25 / 4.75 = 18/19 */
    double u[6] = {1, 2, 3, 1, 2, 3}, v[6] = {1, 1, 1, 2, 2, 4}, yp[6], b, c;
    for (int i = 0; i < 6; i++)
        yp[i] = 1 + 2 * u[i] - 3 * v[i];
    double r2 = fr_sets_fit_width(yp, u, v, 6, &b, &c);
    CHECK(fabs(b - 2) < 1e-6 && fabs(c + 3) < 1e-6 && fabs(r2 - 1) < 1e-9,
          "exact plane: b %g c %g R2 %g", b, c, r2);
    r2 = fr_sets_fit_width((double[]){0, 1, 1, 3}, (double[]){0, 1, 0, 1}, (double[]){0, 0, 1, 1},
                           4, &b, &c);
    CHECK(fabs(b - 1.5) < 1e-6 && fabs(c - 1.5) < 1e-6 && fabs(r2 - 18.0 / 19.0) < 1e-6,
          "2x2 design: b %g c %g R2 %g (18/19)", b, c, r2);
    CHECK(isnan(fr_sets_fit_width((double[]){2, 2, 2}, u, v, 3, &b, &c)), "constant y: R2 NaN");
}

int main(void) {
    fr_threads_set(1);
    test_grads();
    test_emb64();
    test_jacobian();
    test_distance();
    test_invariance();
    test_constructive();
    test_le_constructive();
    test_equivariant_probe();
    test_lp_degree();
    test_degenerate_and_errors();
    test_tasks();
    test_training();
    test_widths();
    return check_report("test_sets");
}

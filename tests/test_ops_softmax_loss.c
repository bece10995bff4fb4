/* test_ops_softmax_loss.c: softmax, log_softmax, cross_entropy, mse,
 * smooth_l1, kl_div: finite differences in f64 and fast vs reference in f32
 * (check_op) on odd sizes and strided views, fast vs reference on large
 * inputs, values known by hand (PyTorch semantics), bad input.
 */
#include "check.h"

#include <stdlib.h>

static fr_t *b_softmax(struct fr_ctx *c, fr_t **x, void *a) {
    return *(int *)a ? fr_log_softmax(c, x[0]) : fr_softmax(c, x[0]);
}
static fr_t *b_softmax_t(struct fr_ctx *c, fr_t **x, void *a) {
    fr_t *t = fr_transpose(c, x[0], 0, 1);
    return *(int *)a ? fr_log_softmax(c, t) : fr_softmax(c, t);
}
static fr_t *b_xent_t(struct fr_ctx *c, fr_t **x, void *a) {
    return fr_cross_entropy(c, fr_transpose(c, x[0], 0, 1), x[1], *(float *)a);
}
static fr_t *b_mse_t(struct fr_ctx *c, fr_t **x, void *a) {
    (void)a;
    return fr_mse(c, fr_transpose(c, x[0], 0, 1), x[1]);
}
static fr_t *b_xent(struct fr_ctx *c, fr_t **x, void *a) {
    return fr_cross_entropy(c, x[0], x[1], *(float *)a);
}
static fr_t *b_mse(struct fr_ctx *c, fr_t **x, void *a) {
    (void)a;
    return fr_mse(c, x[0], x[1]);
}
static fr_t *b_sl1(struct fr_ctx *c, fr_t **x, void *a) {
    return fr_smooth_l1(c, x[0], x[1], *(float *)a);
}
/* KL between two distributions made from free inputs, as a model uses it */
static fr_t *b_kl(struct fr_ctx *c, fr_t **x, void *a) {
    (void)a;
    return fr_kl_div(c, fr_log_softmax(c, x[0]), fr_softmax(c, x[1]));
}
/* KL with p given directly (positive), exercising the p gradient */
static fr_t *b_kl_raw(struct fr_ctx *c, fr_t **x, void *a) {
    (void)a;
    return fr_kl_div(c, x[0], x[1]);
}

/* Large-input fast vs reference (f32), outputs and grads, no finite
 * differences. Inputs filled like check_op's (ranges, ints, strided). */
static void fast_vs_ref(const char *name, check_build_fn f, void *arg, int nin,
                        const struct check_input *in) {
    fr_t *res[2][5] = {{0}};
    struct fr_ctx *cs[2] = {fr_ctx_new(1 << 24), fr_ctx_new(1 << 24)};
    for (int pass = 0; pass < 2; pass++) {
        fr_set_reference_mode(pass);
        struct fr_ctx *c = cs[pass];
        struct fr_rng r;
        fr_rng_seed(&r, 11);
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
            b->requires_grad = !in[k].is_int && !in[k].no_grad;
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

static void softmax_tests(void) {
    int64_t sh[][4] = {{1, 3}, {7, 5}, {33, 4, 2}, {257, 3}, {5, 2, 3, 2}};
    int nd[] = {2, 2, 3, 2, 4};
    for (int logsm = 0; logsm < 2; logsm++)
        for (int s = 0; s < 5; s++)
            for (int st = 0; st < 2; st++) {
                struct check_input in = {nd[s],
                                         {sh[s][0], sh[s][1] ? sh[s][1] : 1,
                                          sh[s][2] ? sh[s][2] : 1, sh[s][3] ? sh[s][3] : 1},
                                         -3,
                                         3};
                in.strided = st;
                char nm[64];
                snprintf(nm, sizeof nm, "%s shape %d%s", logsm ? "log_softmax" : "softmax", s,
                         st ? " strided" : "");
                check_op(nm, b_softmax, &logsm, 1, &in, NULL);
            }
    for (int logsm = 0; logsm < 2; logsm++) {
        struct check_input tin = {2, {4, 9}, -3, 3};
        check_op(logsm ? "log_softmax transposed" : "softmax transposed", b_softmax_t, &logsm, 1,
                 &tin, NULL);
    }
    for (int logsm = 0; logsm < 2; logsm++) {
        struct check_input big = {2, {1000, 301}, -20, 20};
        fast_vs_ref(logsm ? "log_softmax big" : "softmax big", b_softmax, &logsm, 1, &big);
        big.strided = 1, big.ne[0] = 999;
        fast_vs_ref(logsm ? "log_softmax big strided" : "softmax big strided", b_softmax, &logsm, 1,
                    &big);
    }
    /* known values, stability: huge logits, -inf entries */
    struct fr_ctx *c = fr_ctx_new(1 << 20);
    for (int ref = 0; ref < 2; ref++) {
        fr_set_reference_mode(ref);
        fr_t *x = fr_new1(c, FR_F32, 3);
        fr_set(x, 0, 1000), fr_set(x, 1, 1000), fr_set(x, 2, -INFINITY);
        fr_t *y = fr_softmax(c, x), *ly = fr_log_softmax(c, x);
        CHECK(fr_get(y, 0) == 0.5 && fr_get(y, 1) == 0.5 && fr_get(y, 2) == 0.0,
              "softmax of (1000, 1000, -inf) = %g %g %g", fr_get(y, 0), fr_get(y, 1), fr_get(y, 2));
        CHECK_NEAR(fr_get(ly, 0), -log(2.0), 1e-6, "log_softmax of huge logits");
        fr_ctx_reset(c);
    }
    fr_set_reference_mode(0);
    CHECK(fr_softmax(c, NULL) == NULL, "softmax NULL propagates");
    CHECK(fr_softmax(c, fr_zeros(c, FR_I32, 1, (int64_t[]){3})) == NULL &&
              strstr(fr_last_error(), "softmax"),
          "softmax of I32: %s", fr_last_error());
    fr_ctx_free(c);
}

static void xent_tests(void) {
    int64_t cls[] = {1, 7, 33, 257};
    int64_t rows[] = {5, 3, 4, 2};
    float eps[] = {0.0f, 0.1f};
    for (int s = 0; s < 4; s++)
        for (int e = 0; e < 2; e++)
            for (int st = 0; st < 2; st++) {
                struct check_input in[2] = {{2, {cls[s], rows[s]}, -3, 3},
                                            {1, {rows[s]}, -1, (double)cls[s] - 1}};
                in[1].is_int = 1;
                in[0].strided = st;
                char nm[64];
                snprintf(nm, sizeof nm, "cross_entropy C=%lld eps=%g%s", (long long)cls[s],
                         (double)eps[e], st ? " strided" : "");
                check_op(nm, b_xent, &eps[e], 2, in, NULL);
            }
    /* 3-d logits {C, 4, 3} with labels {4, 3} */
    struct check_input in3[2] = {{3, {6, 4, 3}, -2, 2}, {2, {4, 3}, -1, 5}};
    in3[1].is_int = 1;
    check_op("cross_entropy 3-d", b_xent, &eps[1], 2, in3, NULL);
    struct check_input tin[2] = {{2, {4, 9}, -3, 3}, {1, {4}, -1, 8}};
    tin[1].is_int = 1;
    check_op("cross_entropy transposed", b_xent_t, &eps[1], 2, tin, NULL);
    struct check_input big[2] = {{2, {1000, 67}, -10, 10}, {1, {67}, -1, 999}};
    big[1].is_int = 1;
    fast_vs_ref("cross_entropy big", b_xent, &eps[1], 2, big);
    big[0].strided = 1;
    fast_vs_ref("cross_entropy big strided", b_xent, &eps[0], 2, big);

    struct fr_ctx *c = fr_ctx_new(1 << 20);
    for (int ref = 0; ref < 2; ref++) {
        fr_set_reference_mode(ref);
        /* uniform logits: log C, whatever the label and smoothing */
        fr_t *x = fr_zeros(c, FR_F32, 2, (int64_t[]){10, 4});
        fr_t *lab = fr_zeros(c, FR_I32, 1, (int64_t[]){4});
        for (int i = 0; i < 4; i++)
            fr_set(lab, i, i);
        CHECK_NEAR(fr_get(fr_cross_entropy(c, x, lab, 0), 0), log(10.0), 1e-6,
                   "xent of uniform logits");
        CHECK_NEAR(fr_get(fr_cross_entropy(c, x, lab, 0.3f), 0), log(10.0), 1e-6,
                   "smoothed xent of uniform logits");
        /* smoothing: (1-eps) nll + eps mean(-logp), by hand for one row */
        fr_t *z = fr_new2(c, FR_F32, 3, 1);
        fr_set(z, 0, 1.0), fr_set(z, 1, 2.0), fr_set(z, 2, 0.5);
        fr_t *l1 = fr_zeros(c, FR_I32, 1, (int64_t[]){1});
        fr_set(l1, 0, 2);
        double lse = log(exp(1.0) + exp(2.0) + exp(0.5));
        double want = 0.8 * (lse - 0.5) + 0.2 * (lse - (1.0 + 2.0 + 0.5) / 3.0);
        CHECK_NEAR(fr_get(fr_cross_entropy(c, z, l1, 0.2f), 0), want, 1e-6,
                   "label smoothing formula");
        /* ignored rows do not count in the mean */
        fr_t *z2 = fr_zeros(c, FR_F32, 2, (int64_t[]){3, 2});
        for (int i = 0; i < 3; i++)
            fr_set(z2, i, fr_get(z, i));
        fr_t *l2 = fr_zeros(c, FR_I32, 1, (int64_t[]){2});
        fr_set(l2, 0, 2), fr_set(l2, 1, -1);
        CHECK_NEAR(fr_get(fr_cross_entropy(c, z2, l2, 0), 0), lse - 0.5, 1e-6,
                   "ignored row left out of the mean");
        /* all ignored: 0 loss, zero grad, no NaN */
        fr_t *xa = fr_zeros(c, FR_F32, 2, (int64_t[]){3, 2});
        xa->requires_grad = 1;
        fr_t *la = fr_zeros(c, FR_I32, 1, (int64_t[]){2});
        fr_set(la, 0, -1), fr_set(la, 1, -1);
        fr_t *loss = fr_cross_entropy(c, xa, la, 0.1f);
        CHECK(loss && fr_get(loss, 0) == 0.0, "all-ignored loss is 0");
        CHECK(fr_backward(c, loss) == 0, "all-ignored backward runs");
        double gs = 0;
        for (int i = 0; i < 6; i++)
            gs += fabs(fr_get(xa->grad, i));
        CHECK(gs == 0.0, "all-ignored grad is zero");
        fr_ctx_reset(c);
    }
    fr_set_reference_mode(0);
    fr_t *x = fr_zeros(c, FR_F32, 2, (int64_t[]){4, 3});
    fr_t *lab = fr_zeros(c, FR_I32, 1, (int64_t[]){3});
    fr_set(lab, 1, 4);
    CHECK(fr_cross_entropy(c, x, lab, 0) == NULL && strstr(fr_last_error(), "label 4"),
          "label out of range: %s", fr_last_error());
    fr_set(lab, 1, -2);
    CHECK(fr_cross_entropy(c, x, lab, 0) == NULL, "label -2 rejected");
    fr_set(lab, 1, 0);
    CHECK(fr_cross_entropy(c, x, lab, 1.5f) == NULL, "smoothing 1.5 rejected");
    fr_t *lab2 = fr_zeros(c, FR_I32, 1, (int64_t[]){2});
    CHECK(fr_cross_entropy(c, x, lab2, 0) == NULL && strstr(fr_last_error(), "match"),
          "shape mismatch: %s", fr_last_error());
    fr_t *labf = fr_zeros(c, FR_F32, 1, (int64_t[]){3});
    CHECK(fr_cross_entropy(c, x, labf, 0) == NULL && strstr(fr_last_error(), "I32"),
          "float labels rejected: %s", fr_last_error());
    CHECK(fr_cross_entropy(c, NULL, lab, 0) == NULL, "NULL propagates");
    fr_ctx_free(c);
}

static void regression_tests(void) {
    int64_t sh[][2] = {{1, 1}, {7, 3}, {33, 5}, {257, 2}};
    float betas[] = {1.0f, 0.3f, 0.0f};
    for (int s = 0; s < 4; s++)
        for (int st = 0; st < 2; st++) {
            struct check_input in[2] = {{2, {sh[s][0], sh[s][1]}, -2, 2},
                                        {2, {sh[s][0], sh[s][1]}, -2, 2}};
            in[0].strided = st;
            char nm[64];
            snprintf(nm, sizeof nm, "mse shape %d%s", s, st ? " strided" : "");
            check_op(nm, b_mse, NULL, 2, in, NULL);
            for (int b = 0; b < 3; b++) {
                snprintf(nm, sizeof nm, "smooth_l1 beta=%g shape %d%s", (double)betas[b], s,
                         st ? " strided" : "");
                check_op(nm, b_sl1, &betas[b], 2, in, NULL);
            }
            snprintf(nm, sizeof nm, "kl_div shape %d%s", s, st ? " strided" : "");
            check_op(nm, b_kl, NULL, 2, in, NULL);
            struct check_input kin[2] = {{2, {sh[s][0], sh[s][1]}, -3, -0.1},
                                         {2, {sh[s][0], sh[s][1]}, 0.05, 1}};
            kin[1].strided = st;
            snprintf(nm, sizeof nm, "kl_div raw shape %d%s", s, st ? " strided" : "");
            check_op(nm, b_kl_raw, NULL, 2, kin, NULL);
        }
    struct check_input tm[2] = {{2, {5, 3}}, {2, {3, 5}}};
    check_op("mse transposed", b_mse_t, NULL, 2, tm, NULL);
    struct check_input big[2] = {{2, {1000, 301}, -3, 3}, {2, {1000, 301}, -3, 3}};
    fast_vs_ref("mse big", b_mse, NULL, 2, big);
    fast_vs_ref("smooth_l1 big", b_sl1, &betas[0], 2, big);
    fast_vs_ref("smooth_l1 beta 0 big", b_sl1, &betas[2], 2, big);
    struct check_input kbig[2] = {{2, {1000, 301}, -8, -0.01}, {2, {1000, 301}, 0, 1}};
    fast_vs_ref("kl_div big", b_kl_raw, NULL, 2, kbig);

    struct fr_ctx *c = fr_ctx_new(1 << 20);
    for (int ref = 0; ref < 2; ref++) {
        fr_set_reference_mode(ref);
        fr_t *a = fr_new1(c, FR_F32, 4), *b = fr_zeros(c, FR_F32, 1, (int64_t[]){4});
        double av[4] = {0.5, -2.0, 3.0, 0.0};
        for (int i = 0; i < 4; i++)
            fr_set(a, i, av[i]);
        CHECK_NEAR(fr_get(fr_mse(c, a, b), 0), (0.25 + 4 + 9) / 4, 1e-6, "mse by hand");
        /* torch.nn.functional.smooth_l1_loss(a, 0, beta=1): 0.125, 1.5, 2.5, 0 */
        CHECK_NEAR(fr_get(fr_smooth_l1(c, a, b, 1.0f), 0), (0.125 + 1.5 + 2.5) / 4, 1e-6,
                   "smooth_l1 by hand");
        CHECK_NEAR(fr_get(fr_smooth_l1(c, a, b, 0.0f), 0), 5.5 / 4, 1e-6, "smooth_l1 beta 0 = L1");
        /* KL with a zero in p: the zero term counts 0; two rows -> / 2 */
        fr_t *lq = fr_new2(c, FR_F32, 2, 2), *p = fr_new2(c, FR_F32, 2, 2);
        double lqv[4] = {log(0.5), log(0.5), log(0.25), log(0.75)};
        double pv[4] = {1.0, 0.0, 0.5, 0.5};
        for (int i = 0; i < 4; i++)
            fr_set(lq, i, lqv[i]), fr_set(p, i, pv[i]);
        double want = (log(2.0) + 0.5 * log(0.5 / 0.25) + 0.5 * log(0.5 / 0.75)) / 2;
        CHECK_NEAR(fr_get(fr_kl_div(c, lq, p), 0), want, 1e-6, "kl_div by hand");
        fr_ctx_reset(c);
    }
    fr_set_reference_mode(0);
    fr_t *a = fr_zeros(c, FR_F32, 1, (int64_t[]){4}), *b = fr_zeros(c, FR_F32, 1, (int64_t[]){5});
    CHECK(fr_mse(c, a, b) == NULL && strstr(fr_last_error(), "mse"), "mse shape: %s",
          fr_last_error());
    CHECK(fr_smooth_l1(c, a, a, -1.0f) == NULL && strstr(fr_last_error(), "beta"),
          "negative beta: %s", fr_last_error());
    CHECK(fr_kl_div(c, a, NULL) == NULL, "kl NULL propagates");
    fr_ctx_free(c);
}

int main(void) {
    fr_threads_set(2);
    softmax_tests();
    xent_tests();
    regression_tests();
    return check_report("test_ops_softmax_loss");
}

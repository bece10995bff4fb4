/* test_proxies.c: the zero-shot NAS proxies (methods/nas.h), the engine
 * hooks they read through and kernels.h's small linear algebra. Hooks: a forward observer sees
 * every op's result once with its kind; a frozen ReLU gate makes fr_relu x * mask with the mask as
 * its derivative. Proxies, on a synthetic batch (the PyTorch-twin comparison of ten of them is
 * slow_nb201_ref): names round-trip and an unknown one is refused with the list; params and flops
 * equal the model's; each proxy is deterministic per seed; properties that follow from the
 * definitions: a batch of one image repeated makes NASWOT's kernel
 * singular (-inf), GradSign count every weight with a gradient twice per
 * pair of equal samples, ZiCo 0 (two equal halves: no spread) and NTK's
 * Gram matrix rank one (a condition number of huge magnitude: the smallest
 * eigenvalue is 0 up to rounding, of either sign, as in the reference); a dead cell (no path to
 * the output) gives a NaN Jacob_cov, reported not crashed, and one linear
 * region; snip / grad_norm equal sums computed here from the gradients; a
 * batch of one sample is refused. */
#include "check.h"
#include "frugal/data.h"
#include "frugal/kernels.h"
#include "frugal/methods/nas.h"
#include "frugal/models.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct seen {
    int n, relus;
};
static void count_ops(void *user, struct fr_tensor *out) {
    struct seen *s = user;
    s->n++;
    s->relus += !strcmp(fr_op_kind(out), "relu");
}

static double gate_mask[6] = {1, 0, 1, 1, 0, 0};
static struct fr_tensor *gate(void *user, struct fr_ctx *ctx, struct fr_tensor *x) {
    (void)user;
    return fr_wrap(ctx, FR_F64, x->ndim, x->ne, gate_mask);
}

static void hooks(void) {
    struct fr_ctx *ctx = fr_ctx_new(1 << 20);
    struct fr_tensor *x = fr_new(ctx, FR_F64, 1, (int64_t[]){6});
    double v[6] = {-1, 2, 3, -4, 5, 0.5};
    for (int i = 0; i < 6; i++)
        fr_set(x, i, v[i]);
    x->requires_grad = 1;
    struct seen s = {0};
    fr_ctx_set_observer(ctx, count_ops, &s);
    struct fr_tensor *y = fr_sum(ctx, fr_relu(ctx, fr_scale(ctx, x, 2)), -1);
    fr_ctx_set_observer(ctx, NULL, NULL);
    CHECK(s.n == 3 && s.relus == 1, "observer saw %d ops, %d relus (3, 1)", s.n, s.relus);
    CHECK(!strcmp(fr_op_kind(x), "leaf") && !strcmp(fr_op_kind(y), "sum"), "op kinds");
    CHECK(y && fr_get(y, 0) == 2 * (2 + 3 + 5 + 0.5), "relu sum %g", y ? fr_get(y, 0) : 0.0);
    /* frozen gates: x * mask, derivative mask, whatever x's sign */
    fr_ctx_set_relu_gate(ctx, gate, NULL);
    struct fr_tensor *z = fr_sum(ctx, fr_relu(ctx, x), -1);
    fr_ctx_set_relu_gate(ctx, NULL, NULL);
    CHECK(z && fr_get(z, 0) == -1 + 3 - 4, "gated relu sum %g", z ? fr_get(z, 0) : 0.0);
    CHECK(z && fr_backward(ctx, z) == 0 && x->grad, "backward");
    for (int i = 0; x->grad && i < 6; i++)
        CHECK(fr_get(x->grad, i) == gate_mask[i], "gate derivative %d: %g", i, fr_get(x->grad, i));
    fr_ctx_free(ctx);
}

/* kernels.h's small linear algebra: known eigenvalues, trace and
 * determinant identities on a random symmetric matrix, a singular one. */
static void linalg(void) {
    double a[9] = {2, 1, 0, 1, 2, 0, 0, 0, 5}, ev[20];
    fr_sym_eigenvalues(a, 3, ev);
    CHECK_NEAR(ev[0], 1, 1e-12, "eig 1");
    CHECK_NEAR(ev[1], 3, 1e-12, "eig 3");
    CHECK_NEAR(ev[2], 5, 1e-12, "eig 5");
    enum { N = 20 };
    double m[N * N], c[N * N], tr = 0;
    struct fr_rng r;
    fr_rng_seed(&r, 2);
    for (int i = 0; i < N; i++)
        for (int j = 0; j <= i; j++)
            m[i * N + j] = m[j * N + i] = fr_rng_normal(&r) + (i == j ? N : 0);
    for (int i = 0; i < N; i++)
        tr += m[i * N + i];
    memcpy(c, m, sizeof m);
    fr_sym_eigenvalues(c, N, ev);
    double sum = 0, logdet = 0;
    int sorted = 1;
    for (int i = 0; i < N; i++) {
        sum += ev[i], logdet += log(fabs(ev[i]));
        if (i) sorted &= ev[i] >= ev[i - 1];
    }
    memcpy(c, m, sizeof m);
    CHECK(sorted, "eigenvalues ascending");
    CHECK_NEAR(sum, tr, 1e-9 * fabs(tr), "sum of eigenvalues = trace");
    CHECK_NEAR(fr_log_abs_det(c, N), logdet, 1e-9 * fabs(logdet), "log|det| = sum log|eig|");
    double sing[4] = {1, 2, 2, 4};
    CHECK(fr_log_abs_det(sing, 2) == -INFINITY, "a singular matrix");
}

static struct fr_dataset synthetic(int n) {
    struct fr_dataset d = {.n = n, .C = 1, .H = 28, .W = 28, .nclass = 10};
    d.x = malloc(sizeof(float) * (size_t)n * 784);
    d.y = malloc(sizeof(int32_t) * (size_t)n);
    struct fr_rng r;
    fr_rng_seed(&r, 4);
    fr_rng_fill_normal(&r, d.x, (int64_t)n * 784, 0, 1);
    for (int i = 0; i < n; i++)
        d.y[i] = i % 10;
    return d;
}

static const char *const CELL =
    "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|";
static const char *const DEAD = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|";

static double score(const char *cell, int p, const struct fr_proxy_batch *b, uint64_t seed) {
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    fr_nb201_parse(cell, mc.nb201.ops);
    mc.nb201.c = 4;
    double s = NAN, sec = -1;
    int rc = fr_proxy_score("nb201", &mc, p, b, seed, &s, &sec);
    CHECK(rc == 0 && sec >= 0, "%s on %s: %s", fr_proxy_name(p), cell, fr_last_error());
    return s;
}

static void proxies(void) {
    for (int p = 0; p < FR_NPROXIES; p++)
        CHECK(fr_proxy_parse(fr_proxy_name(p)) == p, "name %d", p);
    CHECK(fr_proxy_parse("snipp") == -1 && strstr(fr_last_error(), "linear_regions"), "%s",
          fr_last_error());
    CHECK(fr_proxy_sign(FR_PROXY_NTK) == -1 && fr_proxy_sign(FR_PROXY_SNIP) == 1, "signs");
    struct fr_dataset d = synthetic(16);
    int64_t idx[16], same[16];
    for (int i = 0; i < 16; i++)
        idx[i] = i, same[i] = 3;
    struct fr_proxy_batch b = {&d, idx, 8}, rep = {&d, same, 8}, one = {&d, idx, 1};
    /* params, flops: the model's */
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    fr_nb201_parse(CELL, mc.nb201.ops);
    mc.nb201.c = 4;
    struct fr_model *m = fr_model_new("nb201", &mc, 9);
    int64_t dense = 0, sparse = 0;
    fr_model_flops(m, &dense, &sparse);
    CHECK(score(CELL, FR_PROXY_PARAMS, &b, 9) == (double)fr_params_count_trainable(&m->params) &&
              score(CELL, FR_PROXY_FLOPS, &b, 9) == (double)dense,
          "params / flops");
    /* snip and grad_norm from the gradients, computed here */
    struct fr_ctx *ctx = fr_ctx_new(8 << 20);
    struct fr_tensor *x = fr_new(ctx, FR_F32, 4, (int64_t[]){28, 28, 1, 8});
    struct fr_tensor *y = fr_new(ctx, FR_I32, 1, (int64_t[]){8});
    memcpy(x->data, d.x, sizeof(float) * 8 * 784);
    memcpy(y->data, d.y, sizeof(int32_t) * 8);
    fr_set_training(ctx, 1);
    fr_params_zero_grad(&m->params);
    fr_backward(ctx, fr_cross_entropy(ctx, m->forward(m, ctx, x), y, 0));
    double snip = 0, gn = 0;
    for (int i = 0; i < m->params.count; i++) {
        const struct fr_param *p = &m->params.items[i];
        if ((p->flags & FR_PARAM_BUFFER) || p->t->ndim < 2) continue;
        double sq = 0;
        for (int64_t j = 0; j < fr_nelem(p->t); j++) {
            double w = fr_get(p->t, j), g = fr_get(p->t->grad, j);
            snip += fabs(w * g), sq += g * g;
        }
        gn += sqrt(sq);
    }
    fr_ctx_free(ctx);
    CHECK_NEAR(score(CELL, FR_PROXY_SNIP, &b, 9), snip, 1e-9 + 1e-6 * snip, "snip");
    CHECK_NEAR(score(CELL, FR_PROXY_GRAD_NORM, &b, 9), gn, 1e-9 + 1e-6 * gn, "grad_norm");
    /* every proxy deterministic per seed, finite on a live cell */
    for (int p = 0; p < FR_NPROXIES; p++) {
        double a = score(CELL, p, &b, 9), a2 = score(CELL, p, &b, 9);
        CHECK(a == a2 && isfinite(a), "%s: %g then %g", fr_proxy_name(p), a, a2);
    }
    /* one image repeated */
    CHECK(score(CELL, FR_PROXY_NASWOT, &rep, 9) == -INFINITY, "naswot of equal samples");
    CHECK(score(CELL, FR_PROXY_ZICO, &rep, 9) == 0, "zico of equal halves");
    CHECK(fabs(score(CELL, FR_PROXY_NTK, &rep, 9)) > 1e6, "ntk of equal samples: %g",
          score(CELL, FR_PROXY_NTK, &rep, 9));
    /* gradsign: each weight with a nonzero gradient counts the 8 equal
     * samples' equal signs: 8 per such weight */
    double gs = score(CELL, FR_PROXY_GRADSIGN, &rep, 9);
    CHECK(gs > 0 && fmod(gs, 8) == 0, "gradsign of equal samples %g is a multiple of 8", gs);
    /* a dead cell */
    CHECK(isnan(score(DEAD, FR_PROXY_JACOB_COV, &b, 9)), "jacob_cov of a dead cell is NaN");
    CHECK(score(DEAD, FR_PROXY_LINEAR_REGIONS, &b, 9) >= 1, "linear regions of a dead cell");
    CHECK(score(CELL, FR_PROXY_LINEAR_REGIONS, &b, 9) <= 1000, "at most 1000 regions");
    /* bad input */
    double s;
    CHECK(fr_proxy_score("nb201", &mc, FR_PROXY_SNIP, &one, 1, &s, NULL) == FR_EINVAL,
          "a batch of one must fail");
    CHECK(fr_proxy_score("nb201", &mc, 99, &b, 1, &s, NULL) == FR_EINVAL, "proxy 99 must fail");
    fr_model_free(m);
    free(d.x), free(d.y);
}

int main(void) {
    fr_threads_set(2);
    hooks();
    linalg();
    proxies();
    return check_report("test_proxies");
}

/* test_ops_unary.c: the elementwise one-input ops and where.
 *
 * Each op: gradients against finite differences in f64 and the f32 fast path
 * against the f32 reference (check_op) on odd sizes and strided views; the
 * same on large tensors (threaded, block-split fast path) without finite
 * differences; a few values known by hand; the accuracy of the vec_math.h
 * approximations against libm over wide ranges; bad input.
 */
#include "check.h"
#include "kernels/vec_math.h"

#include <stdlib.h>

enum { NEG, SCALE, ADDS, RELU, GELU, GELUT, SILU, TANH, SIGM, EXP, LOG, SQRT, POW, CLAMP, NOPS };
static const char *NAMES[NOPS] = {"neg",       "scale", "add_scalar", "relu",    "gelu",
                                  "gelu_tanh", "silu",  "tanh",       "sigmoid", "exp",
                                  "log",       "sqrt",  "pow",        "clamp"};

struct uarg {
    int op;
    float p;
};

static fr_t *b_unary(struct fr_ctx *c, fr_t **x, void *vp) {
    const struct uarg *a = vp;
    switch (a->op) {
    case NEG:
        return fr_neg(c, x[0]);
    case SCALE:
        return fr_scale(c, x[0], -1.75f);
    case ADDS:
        return fr_add_scalar(c, x[0], 0.625f);
    case RELU:
        return fr_relu(c, x[0]);
    case GELU:
        return fr_gelu(c, x[0]);
    case GELUT:
        return fr_gelu_tanh(c, x[0]);
    case SILU:
        return fr_silu(c, x[0]);
    case TANH:
        return fr_tanh(c, x[0]);
    case SIGM:
        return fr_sigmoid(c, x[0]);
    case EXP:
        return fr_exp(c, x[0]);
    case LOG:
        return fr_log(c, x[0]);
    case SQRT:
        return fr_sqrt(c, x[0]);
    case POW:
        return fr_pow(c, x[0], a->p);
    default:
        return fr_clamp(c, x[0], -0.5f, 0.75f);
    }
}

/* the op on a transposed (dim 0 not dense) view: the reference layout path */
static fr_t *b_unary_t(struct fr_ctx *c, fr_t **x, void *vp) {
    fr_t *t = fr_transpose(c, x[0], 0, 1);
    return b_unary(c, &t, vp);
}

static void set_range(struct check_input *in, int op) {
    in->lo = -4, in->hi = 4;
    if (op == LOG || op == SQRT) in->lo = 0.05, in->hi = 5;
    if (op == POW) in->lo = 0.2, in->hi = 2.5;
    if (op == EXP) in->lo = -5, in->hi = 5;
    if (op == RELU) in->avoid_kink = 1, in->nkinks = 1, in->kinks[0] = 0;
    if (op == CLAMP)
        in->lo = -1.5, in->hi = 1.5, in->avoid_kink = 1, in->nkinks = 2, in->kinks[0] = -0.5,
        in->kinks[1] = 0.75;
}

/* f32 fast vs f32 reference, outputs and grads, on one big input (no
 * finite differences, so large sizes stay cheap). */
static void fast_vs_ref(const char *name, check_build_fn f, void *arg, int ndim, const int64_t *ne,
                        double lo, double hi, int strided) {
    fr_t *res[2][2] = {{0}};
    struct fr_ctx *cs[2] = {fr_ctx_new(1 << 24), fr_ctx_new(1 << 24)};
    for (int pass = 0; pass < 2; pass++) {
        fr_set_reference_mode(pass);
        struct fr_ctx *c = cs[pass];
        struct fr_rng r;
        fr_rng_seed(&r, 7);
        int64_t bne[4] = {1, 1, 1, 1};
        for (int d = 0; d < ndim; d++)
            bne[d] = ne[d];
        if (strided) bne[0] += 3;
        fr_t *b = fr_new(c, FR_F32, ndim, bne);
        fr_rng_fill_uniform(&r, b->data, fr_nelem(b), (float)lo, (float)hi);
        b->requires_grad = 1;
        fr_t *x = strided ? fr_slice(c, b, 0, 2, ne[0]) : b;
        fr_t *y = f(c, &x, arg);
        fr_t *w = fr_new(c, FR_F32, y->ndim, y->ne);
        fr_rng_fill_normal(&r, w->data, fr_nelem(w), 0, 1);
        fr_backward(c, fr_sum(c, fr_mul(c, y, w), -1));
        res[pass][0] = y;
        res[pass][1] = b->grad;
    }
    fr_set_reference_mode(0);
    double r0 = check_compare(res[0][0], res[1][0], 1e-4, 1e-5);
    double r1 = check_compare(res[0][1], res[1][1], 1e-4, 1e-5);
    CHECK(r0 <= 1.0, "%s: big fast output differs from reference (ratio %.3g)", name, r0);
    CHECK(r1 <= 1.0, "%s: big fast grad differs from reference (ratio %.3g)", name, r1);
    fr_ctx_free(cs[0]);
    fr_ctx_free(cs[1]);
}

/* Max relative error of a vec_math kernel against a double function over
 * n points spread over [lo, hi] (log-spaced when logspace). */
typedef void (*vfn)(int64_t, const float *, float *);
static double max_rel_err(vfn f, double (*ref)(double), double lo, double hi, int logspace,
                          double floor_abs) {
    int64_t n = 1 << 20;
    float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    for (int64_t i = 0; i < n; i++) {
        double t = (double)i / (double)(n - 1);
        x[i] = (float)(logspace ? exp(log(lo) + t * (log(hi) - log(lo))) : lo + t * (hi - lo));
    }
    f(n, x, y);
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double r = ref((double)x[i]);
        double e = fabs((double)y[i] - r) / (fabs(r) > floor_abs ? fabs(r) : floor_abs);
        if (e > worst || e != e) worst = e;
    }
    free(x);
    free(y);
    return worst;
}
static double d_sigmoid(double x) {
    return 1.0 / (1.0 + exp(-x));
}
static double d_gelu(double x) {
    return 0.5 * x * erfc(-x * M_SQRT1_2);
}
static void v_erf(int64_t n, const float *x, float *y) {
    fr_vec_erf(n, x, y);
}

static void accuracy(void) {
    const double ulp = 5.96e-8; /* 2^-24 */
    double e;
    printf("vec_math max relative error (units of 2^-24):");
    e = max_rel_err(fr_vec_exp, exp, -87, 88, 0, 0);
    CHECK(e < 2 * ulp, "exp rel err %.3g", e);
    printf(" %s %.2f", "exp", e / ulp);
    /* subnormal results: error relative to the smallest normal float */
    e = max_rel_err(fr_vec_exp, exp, -103, -87.5, 0, 1.17549435e-38);
    CHECK(e < 2 * ulp, "exp subnormal range err %.3g", e);
    printf(" %s %.2f", "exp_subnormal_range", e / ulp);
    e = max_rel_err(fr_vec_log, log, 1e-37, 1e37, 1, 0);
    CHECK(e < 2 * ulp, "log rel err %.3g", e);
    printf(" %s %.2f", "log", e / ulp);
    e = max_rel_err(fr_vec_log, log, 0.5, 2, 0, 1e-30);
    CHECK(e < 2 * ulp, "log rel err near 1 %.3g", e);
    printf(" %s %.2f", "log_near_1", e / ulp);
    e = max_rel_err(fr_vec_tanh, tanh, -12, 12, 0, 0);
    CHECK(e < 4 * ulp, "tanh rel err %.3g", e);
    printf(" %s %.2f", "tanh", e / ulp);
    e = max_rel_err(fr_vec_sigmoid, d_sigmoid, -80, 30, 0, 0);
    CHECK(e < 4 * ulp, "sigmoid rel err %.3g", e);
    printf(" %s %.2f", "sigmoid", e / ulp);
    e = max_rel_err(v_erf, erf, -6, 6, 0, 0);
    CHECK(e < 6 * ulp, "erf rel err %.3g", e);
    printf(" %s %.2f", "erf", e / ulp);
    e = max_rel_err(fr_vec_gelu, d_gelu, -9, 9, 0, 1e-30);
    CHECK(e < 12 * ulp, "gelu rel err %.3g", e);
    printf(" %s %.2f", "gelu", e / ulp);
    printf("\n");
    /* special values */
    float sp[8] = {0.0f, -1.0f, INFINITY, -INFINITY, NAN, 1e-40f, 100.0f, -200.0f}, y[8];
    fr_vec_log(8, sp, y);
    CHECK(isinf(y[0]) && y[0] < 0, "log(0) = -inf, got %g", y[0]);
    CHECK(isnan(y[1]) && isinf(y[2]) && isnan(y[3]) && isnan(y[4]), "log specials");
    CHECK(fabs(y[5] - log(1e-40)) < 1e-5 * fabs(log(1e-40)), "log subnormal %g", y[5]);
    fr_vec_exp(8, sp, y);
    CHECK(y[0] == 1.0f && isinf(y[2]) && y[3] == 0.0f && isnan(y[4]), "exp specials");
    CHECK(isinf(y[6]) && y[7] == 0.0f, "exp overflow/underflow %g %g", y[6], y[7]);
    fr_vec_tanh(8, sp, y);
    CHECK(y[2] == 1.0f && y[3] == -1.0f && isnan(y[4]), "tanh specials");
}

static void known_values(void) {
    struct fr_ctx *c = fr_ctx_new(1 << 20);
    for (int ref = 0; ref < 2; ref++) {
        fr_set_reference_mode(ref);
        fr_t *x = fr_new1(c, FR_F32, 3);
        fr_set(x, 0, 1.0), fr_set(x, 1, -1.0), fr_set(x, 2, 0.0);
        fr_t *g = fr_gelu(c, x), *gt = fr_gelu_tanh(c, x), *s = fr_silu(c, x);
        fr_t *sg = fr_sigmoid(c, x), *th = fr_tanh(c, x), *r = fr_relu(c, x);
        fr_t *cl = fr_clamp(c, x, 2.0f, 1.0f); /* lo > hi: hi everywhere (torch) */
        CHECK_NEAR(fr_get(g, 0), 0.8413447, 1e-6, "gelu(1)");
        CHECK_NEAR(fr_get(g, 1), -0.1586553, 1e-6, "gelu(-1)");
        CHECK_NEAR(fr_get(gt, 0), 0.8411920, 1e-6, "gelu_tanh(1)");
        CHECK_NEAR(fr_get(gt, 1), -0.1588080, 1e-6, "gelu_tanh(-1)");
        CHECK_NEAR(fr_get(s, 0), 0.7310586, 1e-6, "silu(1)");
        CHECK_NEAR(fr_get(sg, 2), 0.5, 1e-7, "sigmoid(0)");
        CHECK_NEAR(fr_get(th, 0), 0.7615942, 1e-6, "tanh(1)");
        CHECK(fr_get(r, 1) == 0.0 && fr_get(r, 0) == 1.0, "relu values");
        CHECK(fr_get(cl, 0) == 1.0 && fr_get(cl, 1) == 1.0, "clamp with lo > hi");
        fr_t *p = fr_pow(c, fr_scale(c, x, -2.0f), 3.0f); /* (-2)^3, 2^3 */
        CHECK(fr_get(p, 0) == -8.0 && fr_get(p, 1) == 8.0, "pow odd integer power of negative");
        fr_t *q = fr_pow(c, fr_scale(c, x, -2.0f), 2.5f);
        CHECK(isnan(fr_get(q, 0)) && fabs(fr_get(q, 1) - pow(2.0, 2.5)) < 1e-5,
              "pow non-integer power: NaN for negative base");
        fr_t *nanx = fr_new1(c, FR_F32, 1);
        fr_set(nanx, 0, NAN);
        CHECK(isnan(fr_get(fr_relu(c, nanx), 0)), "relu propagates NaN");
        fr_ctx_reset(c);
    }
    fr_set_reference_mode(0);
    fr_ctx_free(c);
}

static fr_t *b_where(struct fr_ctx *c, fr_t **x, void *vp) {
    (void)vp;
    return fr_where(c, x[0], x[1], x[2]);
}

static void where_tests(void) {
    /* cond, a, b shapes: equal; three-way broadcast; strided a */
    int64_t sh[][3][4] = {{{7, 5}, {7, 5}, {7, 5}},
                          {{7, 1}, {7, 5}, {1, 5}},
                          {{1, 5, 3}, {6, 5, 3}, {6, 1, 1}},
                          {{33, 9}, {33, 9}, {33, 9}}};
    int nd[] = {2, 2, 3, 2};
    for (int s = 0; s < 4; s++) {
        struct check_input in[3];
        memset(in, 0, sizeof in);
        for (int k = 0; k < 3; k++) {
            in[k].ndim = nd[s];
            for (int d = 0; d < 4; d++)
                in[k].ne[d] = sh[s][k][d] ? sh[s][k][d] : 1;
        }
        in[0].is_int = 1, in[0].lo = 0, in[0].hi = 1;
        if (s == 3) in[1].strided = 1;
        char nm[32];
        snprintf(nm, sizeof nm, "where shape %d", s);
        check_op(nm, b_where, NULL, 3, in, NULL);
    }
    struct fr_ctx *c = fr_ctx_new(1 << 20);
    fr_t *m = fr_new1(c, FR_U8, 4), *a = fr_new1(c, FR_F32, 4), *b = fr_new1(c, FR_F32, 1);
    for (int i = 0; i < 4; i++)
        fr_set(m, i, i % 2), fr_set(a, i, i + 1);
    fr_set(b, 0, -7);
    fr_t *y = fr_where(c, m, a, b);
    CHECK(y && fr_get(y, 0) == -7 && fr_get(y, 1) == 2 && fr_get(y, 2) == -7 && fr_get(y, 3) == 4,
          "where with a U8 mask and a broadcast scalar");
    fr_t *bad = fr_new1(c, FR_F32, 3);
    CHECK(fr_where(c, m, a, bad) == NULL && strstr(fr_last_error(), "broadcast"),
          "where shape mismatch: %s", fr_last_error());
    CHECK(fr_where(c, NULL, a, b) == NULL, "where NULL propagates");
    fr_ctx_free(c);
}

static void bad_input(void) {
    struct fr_ctx *c = fr_ctx_new(1 << 20);
    fr_t *i = fr_zeros(c, FR_I32, 1, (int64_t[]){4});
    CHECK(fr_relu(c, i) == NULL && strstr(fr_last_error(), "relu"), "relu of I32: %s",
          fr_last_error());
    CHECK(fr_exp(c, NULL) == NULL, "NULL propagates");
    fr_t *x = fr_zeros(c, FR_F32, 1, (int64_t[]){4});
    CHECK(fr_pow(c, x, NAN) == NULL, "pow NaN exponent");
    CHECK(fr_clamp(c, x, NAN, 1) == NULL && strstr(fr_last_error(), "clamp"), "clamp NaN bound");
    fr_ctx_free(c);
}

int main(void) {
    fr_threads_set(2);
    int64_t shapes[][4] = {{1, 1, 1, 1}, {7, 3, 1, 1}, {33, 5, 1, 1}, {5, 4, 3, 2}, {257, 2, 1, 1}};
    int nds[] = {1, 2, 2, 4, 2};
    for (int op = 0; op < NOPS; op++) {
        float ps[] = {2.0f, 3.0f, 0.5f, -1.5f, 1.7f, 0.0f};
        int np = op == POW ? 6 : 1;
        for (int pi = 0; pi < np; pi++) {
            struct uarg a = {op, ps[pi]};
            for (int s = 0; s < 5; s++)
                for (int strided = 0; strided < 2; strided++) {
                    struct check_input in = {
                        nds[s], {shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3]}};
                    set_range(&in, op);
                    in.strided = strided;
                    char nm[96];
                    snprintf(nm, sizeof nm, "%s p=%g shape %d%s", NAMES[op], (double)a.p, s,
                             strided ? " strided" : "");
                    check_op(nm, b_unary, &a, 1, &in, NULL);
                }
            struct check_input in = {2, {5, 9}};
            set_range(&in, op);
            char nm[64];
            snprintf(nm, sizeof nm, "%s p=%g transposed", NAMES[op], (double)a.p);
            check_op(nm, b_unary_t, &a, 1, &in, NULL);
            snprintf(nm, sizeof nm, "%s p=%g big", NAMES[op], (double)a.p);
            fast_vs_ref(nm, b_unary, &a, 2, (int64_t[]){1000, 301}, in.lo, in.hi, 0);
            snprintf(nm, sizeof nm, "%s p=%g big strided", NAMES[op], (double)a.p);
            fast_vs_ref(nm, b_unary, &a, 2, (int64_t[]){999, 67}, in.lo, in.hi, 1);
        }
    }
    /* wide ranges: tails of the activations, exp near overflow */
    struct uarg wide[] = {{GELU, 0}, {GELUT, 0}, {SILU, 0}, {TANH, 0}, {SIGM, 0}};
    for (int k = 0; k < 5; k++)
        fast_vs_ref(NAMES[wide[k].op], b_unary, &wide[k], 1, (int64_t[]){100003}, -30, 30, 0);
    struct uarg e = {EXP, 0};
    fast_vs_ref("exp wide", b_unary, &e, 1, (int64_t[]){100003}, -100, 88, 0);
    struct uarg l = {LOG, 0};
    fast_vs_ref("log wide", b_unary, &l, 1, (int64_t[]){100003}, 1e-6, 1e6, 0);
    struct uarg pw = {POW, -2.5f};
    fast_vs_ref("pow -2.5 wide", b_unary, &pw, 1, (int64_t[]){100003}, 0.01, 100, 0);
    accuracy();
    known_values();
    where_tests();
    bad_input();
    return check_report("test_ops_unary");
}

/* op_unary.c: elementwise one-input ops: neg, scale, add_scalar, relu,
 * gelu, gelu_tanh, silu, tanh, sigmoid, exp, log, sqrt, pow, clamp.
 *
 * One engine serves all of them, keyed by a U_* kind per op; fp[0..1] hold
 * its parameters (scale, shift, power, clamp bounds). The reference path reads x
 * through its strides and evaluates f and f' in double with libm, so the f32
 * reference is the correctly rounded value. The f32 fast path runs the
 * vec_math.h kernels over contiguous rows of x (the whole tensor when x is
 * contiguous, split in blocks over the thread pool; one row at a time when
 * only dim 0 is dense, e.g. a slice); other layouts take the reference.
 * Backward derivatives use x or the saved output, whichever is cheaper, and
 * follow PyTorch at kinks: relu'(0) = 0, clamp passes the gradient for
 * lo <= x <= hi.
 */
#include "../kernels/vec_math.h"
#include "op.h"

enum {
    U_NEG,
    U_SCALE,
    U_ADD_SCALAR,
    U_RELU,
    U_GELU,
    U_GELU_TANH,
    U_SILU,
    U_TANH,
    U_SIGMOID,
    U_EXP,
    U_LOG,
    U_SQRT,
    U_POW,
    U_CLAMP
};

#define GT_C 0.79788456080286535588 /* sqrt(2/pi) */
#define GT_K 0.044715

static double u_f(int k, double x, double p0, double p1) {
    switch (k) {
    case U_NEG:
        return -x;
    case U_SCALE:
        return x * p0;
    case U_ADD_SCALAR:
        return x + p0;
    case U_RELU:
        return (x > 0 || x != x) ? x : 0.0;
    case U_GELU:
        return 0.5 * x * erfc(-x * M_SQRT1_2);
    case U_GELU_TANH:
        return x / (1.0 + exp(-2.0 * GT_C * (x + GT_K * x * x * x)));
    case U_SILU:
        return x / (1.0 + exp(-x));
    case U_TANH:
        return tanh(x);
    case U_SIGMOID:
        return 1.0 / (1.0 + exp(-x));
    case U_EXP:
        return exp(x);
    case U_LOG:
        return log(x);
    case U_SQRT:
        return sqrt(x);
    case U_POW:
        return pow(x, p0);
    default: {
        double v = x < p0 ? p0 : x;
        return v > p1 ? p1 : v;
    }
    }
}

static double u_df(int k, double x, double p0, double p1) {
    switch (k) {
    case U_NEG:
        return -1.0;
    case U_SCALE:
        return p0;
    case U_ADD_SCALAR:
        return 1.0;
    case U_RELU:
        return x > 0 ? 1.0 : 0.0;
    case U_GELU:
        return 0.5 * erfc(-x * M_SQRT1_2) + x * exp(-0.5 * x * x) * 0.39894228040143267794;
    case U_GELU_TANH: {
        double s = 1.0 / (1.0 + exp(-2.0 * GT_C * (x + GT_K * x * x * x)));
        return s + x * s * (1.0 - s) * 2.0 * GT_C * (1.0 + 3.0 * GT_K * x * x);
    }
    case U_SILU: {
        double s = 1.0 / (1.0 + exp(-x));
        return s * (1.0 + x * (1.0 - s));
    }
    case U_TANH: {
        double t = tanh(x);
        return 1.0 - t * t;
    }
    case U_SIGMOID: {
        double s = 1.0 / (1.0 + exp(-x));
        return s * (1.0 - s);
    }
    case U_EXP:
        return exp(x);
    case U_LOG:
        return 1.0 / x;
    case U_SQRT:
        return 0.5 / sqrt(x);
    case U_POW:
        return p0 == 0 ? 0.0 : p0 * pow(x, p0 - 1.0);
    default:
        return (x >= p0 && x <= p1) ? 1.0 : 0.0;
    }
}

static void FR_FN(unary_ref)(int k, fr_t *out) {
    const fr_t *x = out->src[0];
    double p0 = out->fp[0], p1 = out->fp[1];
    real *o = out->data;
    int64_t j = 0;
    for (int64_t i3 = 0; i3 < x->ne[3]; i3++)
        for (int64_t i2 = 0; i2 < x->ne[2]; i2++)
            for (int64_t i1 = 0; i1 < x->ne[1]; i1++)
                for (int64_t i0 = 0; i0 < x->ne[0]; i0++)
                    o[j++] =
                        (real)u_f(k, *(const real *)FR_AT(x->data, x->nb, i0, i1, i2, i3), p0, p1);
}

static void FR_FN(unary_backward_ref)(int k, fr_t *out, fr_t *gx) {
    const fr_t *x = out->src[0];
    double p0 = out->fp[0], p1 = out->fp[1];
    const real *g = out->grad->data;
    real *dx = gx->data;
    int64_t j = 0;
    for (int64_t i3 = 0; i3 < x->ne[3]; i3++)
        for (int64_t i2 = 0; i2 < x->ne[2]; i2++)
            for (int64_t i1 = 0; i1 < x->ne[1]; i1++)
                for (int64_t i0 = 0; i0 < x->ne[0]; i0++, j++) {
                    double v = *(const real *)FR_AT(x->data, x->nb, i0, i1, i2, i3);
                    dx[j] += (real)((double)g[j] * u_df(k, v, p0, p1));
                }
}

#ifdef FR_PRIMARY
static void fwd_block(int k, float p0, float p1, int64_t n, const float *x, float *y) {
    switch (k) {
    case U_NEG:
        fr_vec_scale(n, -1.0f, x, y);
        break;
    case U_SCALE:
        fr_vec_scale(n, p0, x, y);
        break;
    case U_ADD_SCALAR:
        fr_vec_add_scalar(n, p0, x, y);
        break;
    case U_RELU:
        fr_vec_relu(n, x, y);
        break;
    case U_GELU:
        fr_vec_gelu(n, x, y);
        break;
    case U_GELU_TANH:
        fr_vec_gelu_tanh(n, x, y);
        break;
    case U_SILU:
        fr_vec_silu(n, x, y);
        break;
    case U_TANH:
        fr_vec_tanh(n, x, y);
        break;
    case U_SIGMOID:
        fr_vec_sigmoid(n, x, y);
        break;
    case U_EXP:
        fr_vec_exp(n, x, y);
        break;
    case U_LOG:
        fr_vec_log(n, x, y);
        break;
    case U_SQRT:
        fr_vec_sqrt(n, x, y);
        break;
    case U_POW:
        fr_vec_pow(n, p0, x, y);
        break;
    default:
        fr_vec_clamp(n, p0, p1, x, y);
        break;
    }
}

static void bwd_block(int k, float p0, float p1, int64_t n, const float *x, const float *y,
                      const float *g, float *dx) {
    switch (k) {
    case U_NEG:
        fr_vec_acc_scaled(n, -1.0f, g, dx);
        break;
    case U_SCALE:
        fr_vec_acc_scaled(n, p0, g, dx);
        break;
    case U_ADD_SCALAR:
        fr_vec_acc(n, g, dx);
        break;
    case U_RELU:
        fr_vec_relu_backward(n, y, g, dx);
        break;
    case U_GELU:
        fr_vec_gelu_backward(n, x, g, dx);
        break;
    case U_GELU_TANH:
        fr_vec_gelu_tanh_backward(n, x, g, dx);
        break;
    case U_SILU:
        fr_vec_silu_backward(n, x, g, dx);
        break;
    case U_TANH:
        fr_vec_tanh_backward(n, y, g, dx);
        break;
    case U_SIGMOID:
        fr_vec_sigmoid_backward(n, y, g, dx);
        break;
    case U_EXP:
        fr_vec_acc_mul(n, g, y, dx);
        break;
    case U_LOG:
        fr_vec_log_backward(n, x, g, dx);
        break;
    case U_SQRT:
        fr_vec_sqrt_backward(n, y, g, dx);
        break;
    case U_POW:
        fr_vec_pow_backward(n, p0, x, g, dx);
        break;
    default:
        fr_vec_clamp_backward(n, p0, p1, x, g, dx);
        break;
    }
}

/* Work unit r: a block of m elements of a contiguous x (flat), or row r of
 * a row-dense x. y, g, dx are contiguous in x's logical order. */
struct ujob {
    const fr_t *x;
    int k, flat;
    float p0, p1;
    int64_t m, n;
    float *y;
    const float *g;
    float *dx;
};

static const float *x_unit(const struct ujob *j, int64_t r) {
    const fr_t *x = j->x;
    if (j->flat) return (const float *)x->data + r * j->m;
    int64_t i1 = r % x->ne[1], t = r / x->ne[1];
    return FR_AT(x->data, x->nb, 0, i1, t % x->ne[2], t / x->ne[2]);
}

static void ujob_run(void *vp, int64_t r0, int64_t r1, int tid) {
    (void)tid;
    const struct ujob *j = vp;
    for (int64_t r = r0; r < r1; r++) {
        int64_t len = j->n - r * j->m < j->m ? j->n - r * j->m : j->m;
        const float *x = x_unit(j, r);
        float *y = j->y + r * j->m;
        if (j->dx)
            bwd_block(j->k, j->p0, j->p1, len, x, y, j->g + r * j->m, j->dx + r * j->m);
        else
            fwd_block(j->k, j->p0, j->p1, len, x, y);
    }
}

/* 0 if x's layout has no dense rows (caller takes the reference). */
static int unary_fast(int k, fr_t *out, float *dx) {
    const fr_t *x = out->src[0];
    struct ujob j = {
        x, k, 0, out->fp[0], out->fp[1], 0, fr_nelem(x), out->data, dx ? out->grad->data : NULL,
        dx};
    int64_t units;
    if (fr_is_contiguous(x)) {
        j.flat = 1;
        j.m = 8192;
        units = (j.n + j.m - 1) / j.m;
    } else if (x->nb[0] == sizeof(float)) {
        j.m = x->ne[0];
        units = j.m ? j.n / j.m : 0;
    } else {
        return 0;
    }
    /* cheap ops are memory bound: only split large tensors */
    int cheap = j.k <= U_RELU || j.k == U_CLAMP;
    int64_t grain = ((cheap ? 65536 : 8192) + j.m - 1) / j.m;
    if (units) fr_parallel_for(units, grain, ujob_run, &j);
    return 1;
}
#endif

static void FR_FN(unary_forward)(int k, fr_t *out) {
#ifdef FR_PRIMARY
    if (!fr_reference_mode() && unary_fast(k, out, NULL)) return;
#endif
    FR_FN(unary_ref)(k, out);
}

static void FR_FN(unary_backward)(struct fr_ctx *ctx, int k, fr_t *out) {
    fr_t *gx = fr_op_grad(ctx, out->src[0]);
    if (!gx) return;
#ifdef FR_PRIMARY
    if (!fr_reference_mode() && unary_fast(k, out, gx->data)) return;
#endif
    FR_FN(unary_backward_ref)(k, out, gx);
}

#define UNARY_OP(name, K)                                                                          \
    void FR_FN(fr_op_##name##_forward)(struct fr_ctx * ctx, fr_t * out) {                          \
        (void)ctx;                                                                                 \
        FR_FN(unary_forward)(K, out);                                                              \
    }                                                                                              \
    void FR_FN(fr_op_##name##_backward)(struct fr_ctx * ctx, fr_t * out) {                         \
        FR_FN(unary_backward)(ctx, K, out);                                                        \
    }

UNARY_OP(neg, U_NEG)
UNARY_OP(scale, U_SCALE)
UNARY_OP(add_scalar, U_ADD_SCALAR)
UNARY_OP(relu, U_RELU)
UNARY_OP(gelu, U_GELU)
UNARY_OP(gelu_tanh, U_GELU_TANH)
UNARY_OP(silu, U_SILU)
UNARY_OP(tanh, U_TANH)
UNARY_OP(sigmoid, U_SIGMOID)
UNARY_OP(exp, U_EXP)
UNARY_OP(log, U_LOG)
UNARY_OP(sqrt, U_SQRT)
UNARY_OP(pow, U_POW)
UNARY_OP(clamp, U_CLAMP)

#ifdef FR_PRIMARY
static fr_t *unary(struct fr_ctx *ctx, int op, const char *who, fr_t *x, float p0, float p1) {
    if (!x) return NULL;
    if (fr_op_check_float(who, x, NULL, NULL)) return NULL;
    fr_t *out = fr_op_new(ctx, op, x->dtype, x->ndim, x->ne, x, NULL, NULL, NULL);
    if (!out) return NULL;
    out->fp[0] = p0;
    out->fp[1] = p1;
    return fr_op_run(ctx, out);
}

/* Each: x any float tensor (may be strided) -> same shape, contiguous.
 * NULL x gives NULL; a non-float x gives NULL and an error. */
fr_t *fr_neg(struct fr_ctx *ctx, fr_t *x) {
    return unary(ctx, FR_OP_NEG, "neg", x, 0, 0);
}
fr_t *fr_scale(struct fr_ctx *ctx, fr_t *x, float s) {
    return unary(ctx, FR_OP_SCALE, "scale", x, s, 0);
}
fr_t *fr_add_scalar(struct fr_ctx *ctx, fr_t *x, float s) {
    return unary(ctx, FR_OP_ADD_SCALAR, "add_scalar", x, s, 0);
}
fr_t *fr_relu(struct fr_ctx *ctx, fr_t *x) {
    /* a gate the context supplies (tensor.h fr_ctx_set_relu_gate): x times
     * that fixed 0/1 mask, a linear op whose derivative has no kink */
    fr_t *gate = x ? fr_ctx_relu_gate(ctx, x) : NULL;
    if (gate) return fr_mul(ctx, x, gate);
    return unary(ctx, FR_OP_RELU, "relu", x, 0, 0);
}
fr_t *fr_gelu(struct fr_ctx *ctx, fr_t *x) {
    return unary(ctx, FR_OP_GELU, "gelu", x, 0, 0);
}
fr_t *fr_gelu_tanh(struct fr_ctx *ctx, fr_t *x) {
    return unary(ctx, FR_OP_GELU_TANH, "gelu_tanh", x, 0, 0);
}
fr_t *fr_silu(struct fr_ctx *ctx, fr_t *x) {
    return unary(ctx, FR_OP_SILU, "silu", x, 0, 0);
}
fr_t *fr_tanh(struct fr_ctx *ctx, fr_t *x) {
    return unary(ctx, FR_OP_TANH, "tanh", x, 0, 0);
}
fr_t *fr_sigmoid(struct fr_ctx *ctx, fr_t *x) {
    return unary(ctx, FR_OP_SIGMOID, "sigmoid", x, 0, 0);
}
fr_t *fr_exp(struct fr_ctx *ctx, fr_t *x) {
    return unary(ctx, FR_OP_EXP, "exp", x, 0, 0);
}
/* log, sqrt, pow follow libm outside their domain (NaN, -inf), as PyTorch. */
fr_t *fr_log(struct fr_ctx *ctx, fr_t *x) {
    return unary(ctx, FR_OP_LOG, "log", x, 0, 0);
}
fr_t *fr_sqrt(struct fr_ctx *ctx, fr_t *x) {
    return unary(ctx, FR_OP_SQRT, "sqrt", x, 0, 0);
}
fr_t *fr_pow(struct fr_ctx *ctx, fr_t *x, float p) {
    if (x && p != p) {
        fr_error(FR_EINVAL, "pow: exponent is NaN");
        return NULL;
    }
    return unary(ctx, FR_OP_POW, "pow", x, p, 0);
}
/* min(max(x, lo), hi) as torch.clamp (lo > hi gives hi everywhere); either
 * bound may be infinite; a NaN bound is an error. */
fr_t *fr_clamp(struct fr_ctx *ctx, fr_t *x, float lo, float hi) {
    if (x && (lo != lo || hi != hi)) {
        fr_error(FR_EINVAL, "clamp: bound is NaN (lo %g, hi %g)", (double)lo, (double)hi);
        return NULL;
    }
    return unary(ctx, FR_OP_CLAMP, "clamp", x, lo, hi);
}
#endif

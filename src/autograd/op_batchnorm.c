/* op_batchnorm.c: batch normalisation over the channel dim, PyTorch
 * semantics.
 *
 * x {W,H,C,N} (channel dim 2) or {C,N} (channel dim 0); both are read as
 * N outer blocks of C channels of S = W*H contiguous elements (S = 1 for
 * 2-d). With batch statistics (training mode, or no running statistics
 * given) y = (x - mean) / sqrt(var + eps) * gamma + beta with the biased
 * batch variance, and in training mode the running statistics move by
 * momentum towards the batch mean and the UNBIASED batch variance. In eval
 * mode the running statistics replace the batch ones and are constants for
 * the backward. ip[0] = 1 when batch statistics are used, ip[1] = 1 when the
 * running statistics are updated, ip[2] = 1 when the statistics are the
 * global batch's, summed over processes (fr_ctx_set_reduce); fp[0] = eps,
 * fp[1] = momentum. aux holds
 * the running-stat pointers and the per-channel mean and 1/std used.
 *
 * Channels are independent, so the f32 fast path splits them over the
 * thread pool; the reference runs all channels in one call. Sums are in
 * double on both paths; the fast path sums each row into eight partial
 * sums (vectorised, a fixed order) and applies the per-channel affine maps
 * in f32, where the reference keeps one chain and computes in double.
 */
#include "../kernels/vec.h"
#include "op.h"

struct bn_aux {
    float *running_mean, *running_var;
    double *mean, *invstd; /* C each */
    double count;          /* values per channel in the statistics (all processes' when synced) */
    double *buf;           /* synced: 2C + 1 doubles summed over the processes */
    double share;          /* synced: this process's share of the global batch */
};

struct FR_FN(bn_job) {
    fr_t *out;
    int64_t N, C, S;
    real *gx, *gg, *gb; /* backward targets (may be NULL) */
    double k1, k2;      /* synced backward: scales of the summed terms */
};

static struct FR_FN(bn_job) FR_FN(bn_setup)(fr_t *out) {
    const fr_t *x = out->src[0];
    struct FR_FN(bn_job) j = {out, 0, 0, 0, NULL, NULL, NULL, 0, 0};
    if (x->ndim == 2)
        j.S = 1, j.C = x->ne[0], j.N = x->ne[1];
    else
        j.S = x->ne[0] * x->ne[1], j.C = x->ne[2], j.N = x->ne[3];
    return j;
}

static void FR_FN(bn_fwd)(void *vp, int64_t c0, int64_t c1, int tid) {
    (void)tid;
    struct FR_FN(bn_job) *j = vp;
    fr_t *out = j->out;
    struct bn_aux *a = out->aux;
    const real *x = out->src[0]->data;
    const real *gamma = out->src[1] ? out->src[1]->data : NULL;
    const real *beta = out->src[2] ? out->src[2]->data : NULL;
    real *y = out->data;
    double cnt = (double)(j->N * j->S), mom = out->fp[1];
    for (int64_t c = c0; c < c1; c++) {
        double mean, var;
        if (out->ip[0]) {
            double s = 0, q = 0;
            for (int64_t n = 0; n < j->N; n++)
                for (int64_t i = 0; i < j->S; i++)
                    s += x[(n * j->C + c) * j->S + i];
            mean = s / cnt;
            for (int64_t n = 0; n < j->N; n++)
                for (int64_t i = 0; i < j->S; i++) {
                    double dv = x[(n * j->C + c) * j->S + i] - mean;
                    q += dv * dv;
                }
            var = q / cnt;
            if (out->ip[1]) {
                a->running_mean[c] = (float)((1 - mom) * a->running_mean[c] + mom * mean);
                a->running_var[c] = (float)((1 - mom) * a->running_var[c] + mom * q / (cnt - 1));
            }
        } else {
            mean = a->running_mean[c], var = a->running_var[c];
        }
        double inv = 1.0 / sqrt(var + out->fp[0]);
        a->mean[c] = mean, a->invstd[c] = inv;
        double sc = inv * (gamma ? gamma[c] : 1), sh = (beta ? beta[c] : 0) - mean * sc;
        for (int64_t n = 0; n < j->N; n++)
            for (int64_t i = 0; i < j->S; i++) {
                int64_t k = (n * j->C + c) * j->S + i;
                y[k] = (real)(x[k] * sc + sh);
            }
    }
}

/* With batch statistics: dx = invstd * (dxh - mean(dxh) - xh * mean(dxh * xh)),
 * dxh = dy * gamma, xh the normalised input. With running statistics:
 * dx = dy * gamma * invstd. dgamma = sum dy * xh, dbeta = sum dy. */
static void FR_FN(bn_bwd)(void *vp, int64_t c0, int64_t c1, int tid) {
    (void)tid;
    struct FR_FN(bn_job) *j = vp;
    fr_t *out = j->out;
    const struct bn_aux *a = out->aux;
    const real *x = out->src[0]->data, *gy = out->grad->data;
    const real *gamma = out->src[1] ? out->src[1]->data : NULL;
    double cnt = (double)(j->N * j->S);
    for (int64_t c = c0; c < c1; c++) {
        double mean = a->mean[c], inv = a->invstd[c], sdy = 0, sdyxh = 0;
        for (int64_t n = 0; n < j->N; n++)
            for (int64_t i = 0; i < j->S; i++) {
                int64_t k = (n * j->C + c) * j->S + i;
                sdy += gy[k];
                sdyxh += gy[k] * (x[k] - mean) * inv;
            }
        if (j->gg) j->gg[c] += (real)sdyxh;
        if (j->gb) j->gb[c] += (real)sdy;
        if (!j->gx) continue;
        double gm = gamma ? gamma[c] : 1, k1 = 0, k2 = 0;
        if (out->ip[0]) k1 = sdy / cnt, k2 = sdyxh / cnt;
        for (int64_t n = 0; n < j->N; n++)
            for (int64_t i = 0; i < j->S; i++) {
                int64_t k = (n * j->C + c) * j->S + i;
                double xh = (x[k] - mean) * inv;
                j->gx[k] += (real)(gm * inv * (gy[k] - k1 - xh * k2));
            }
    }
}

#ifdef FR_PRIMARY
/* ---- fast path (f32): rows of S elements, eight partial sums each ---- */

FR_CLONES static double row_sqdev(const float *x, int64_t n, double mean) {
    double a[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            double d = x[i + k] - mean;
            a[k] += d * d;
        }
    for (; i < n; i++) {
        double d = x[i] - mean;
        a[i & 7] += d * d;
    }
    return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
}

/* sum of g and of g (x - mean) */
FR_CLONES static void row_sum_dot(const float *g, const float *x, int64_t n, double mean,
                                  double *sg, double *sgx) {
    double a[8] = {0}, b[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            a[k] += g[i + k];
            b[k] += (double)g[i + k] * (x[i + k] - mean);
        }
    for (; i < n; i++) {
        a[i & 7] += g[i];
        b[i & 7] += (double)g[i] * (x[i] - mean);
    }
    *sg = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
    *sgx = ((b[0] + b[4]) + (b[1] + b[5])) + ((b[2] + b[6]) + (b[3] + b[7]));
}

/* y = (x - m) sc + sh: centred first, so a large mean does not cancel */
FR_CLONES static void row_affine(const float *x, int64_t n, float m, float sc, float sh, float *y) {
    for (int64_t i = 0; i < n; i++)
        y[i] = (x[i] - m) * sc + sh;
}

/* gx += a g + b (x - m) + c */
FR_CLONES static void row_grad(const float *g, const float *x, int64_t n, float m, float a, float b,
                               float c, float *gx) {
    for (int64_t i = 0; i < n; i++)
        gx[i] += a * g[i] + b * (x[i] - m) + c;
}

static void bn_fwd_fast(void *vp, int64_t c0, int64_t c1, int tid) {
    (void)tid;
    struct bn_job_f32 *j = vp;
    fr_t *out = j->out;
    struct bn_aux *a = out->aux;
    const float *x = out->src[0]->data;
    const float *gamma = out->src[1] ? out->src[1]->data : NULL;
    const float *beta = out->src[2] ? out->src[2]->data : NULL;
    float *y = out->data;
    int64_t N = j->N, C = j->C, S = j->S;
    double cnt = (double)(N * S), mom = out->fp[1];
    for (int64_t c = c0; c < c1; c++) {
        double mean, var;
        if (out->ip[0]) {
            double s = 0, q = 0;
            for (int64_t n = 0; n < N; n++)
                s += fr_vec_sum_f64(S, x + (n * C + c) * S);
            mean = s / cnt;
            for (int64_t n = 0; n < N; n++)
                q += row_sqdev(x + (n * C + c) * S, S, mean);
            var = q / cnt;
            if (out->ip[1]) {
                a->running_mean[c] = (float)((1 - mom) * a->running_mean[c] + mom * mean);
                a->running_var[c] = (float)((1 - mom) * a->running_var[c] + mom * q / (cnt - 1));
            }
        } else {
            mean = a->running_mean[c], var = a->running_var[c];
        }
        double inv = 1.0 / sqrt(var + out->fp[0]);
        a->mean[c] = mean, a->invstd[c] = inv;
        /* centred at the f32 mean, the rest of the mean folded into the shift */
        float mf = (float)mean;
        double sc = inv * (gamma ? gamma[c] : 1), sh = (beta ? beta[c] : 0) - (mean - mf) * sc;
        for (int64_t n = 0; n < N; n++)
            row_affine(x + (n * C + c) * S, S, mf, (float)sc, (float)sh, y + (n * C + c) * S);
    }
}

/* The reference's formulas with xh = (x - mean) inv: sum(dy xh) = inv
 * sum(dy (x - mean)), and dx = gm inv (dy - k1 - xh k2) = A dy + B (x -
 * mean) + K, centred at the f32 mean (the rest folded into K) so that a
 * large mean does not cancel. */
static void bn_bwd_fast(void *vp, int64_t c0, int64_t c1, int tid) {
    (void)tid;
    struct bn_job_f32 *j = vp;
    fr_t *out = j->out;
    const struct bn_aux *a = out->aux;
    const float *x = out->src[0]->data, *gy = out->grad->data;
    const float *gamma = out->src[1] ? out->src[1]->data : NULL;
    int64_t N = j->N, C = j->C, S = j->S;
    double cnt = (double)(N * S);
    for (int64_t c = c0; c < c1; c++) {
        double mean = a->mean[c], inv = a->invstd[c], sdy = 0, sdyx = 0;
        for (int64_t n = 0; n < N; n++) {
            double sg, sgx;
            row_sum_dot(gy + (n * C + c) * S, x + (n * C + c) * S, S, mean, &sg, &sgx);
            sdy += sg, sdyx += sgx;
        }
        double sdyxh = inv * sdyx;
        if (j->gg) j->gg[c] += (float)sdyxh;
        if (j->gb) j->gb[c] += (float)sdy;
        if (!j->gx) continue;
        double gm = gamma ? gamma[c] : 1, k1 = 0, k2 = 0;
        if (out->ip[0]) k1 = sdy / cnt, k2 = sdyxh / cnt;
        float mf = (float)mean;
        double A = gm * inv, B = -gm * inv * inv * k2, K = -gm * inv * k1 - B * (mean - mf);
        for (int64_t n = 0; n < N; n++)
            row_grad(gy + (n * C + c) * S, x + (n * C + c) * S, S, mf, (float)A, (float)B, (float)K,
                     j->gx + (n * C + c) * S);
    }
}
#endif

static void FR_FN(bn_run)(fr_task_fn fn, struct FR_FN(bn_job) * j) {
#ifdef FR_PRIMARY
    if (!fr_reference_mode()) {
        if (fn == bn_fwd_f32) fn = bn_fwd_fast;
        if (fn == bn_bwd_f32) fn = bn_bwd_fast;
        fr_parallel_for(j->C, (1 << 14) / (j->N * j->S + 1) + 1, fn, j);
        return;
    }
#endif
    fn(j, 0, j->C, 0);
}

#ifdef FR_PRIMARY
static double row_sum(const float *x, int64_t n) {
    return fr_vec_sum_f64(n, x);
}
#else
/* the f64 build's rows: one chain each (the f32 build has the fast ones) */
static double row_sum(const double *x, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += x[i];
    return s;
}

static double row_sqdev(const double *x, int64_t n, double mean) {
    double q = 0;
    for (int64_t i = 0; i < n; i++)
        q += (x[i] - mean) * (x[i] - mean);
    return q;
}

static void row_sum_dot(const double *g, const double *x, int64_t n, double mean, double *sg,
                        double *sgx) {
    double a = 0, b = 0;
    for (int64_t i = 0; i < n; i++)
        a += g[i], b += g[i] * (x[i] - mean);
    *sg = a, *sgx = b;
}

static void row_affine(const double *x, int64_t n, double m, double sc, double sh, double *y) {
    for (int64_t i = 0; i < n; i++)
        y[i] = (x[i] - m) * sc + sh;
}

static void row_grad(const double *g, const double *x, int64_t n, double m, double a, double b,
                     double c, double *gx) {
    for (int64_t i = 0; i < n; i++)
        gx[i] += a * g[i] + b * (x[i] - m) + c;
}
#endif

/* ---- synchronised batch statistics (fr_ctx_set_reduce) ----
 * The forward sums each channel over this process's values, the processes
 * sum those (mean), then the squared deviations from that mean (variance);
 * the backward sums dy and dy xh the same way. Each step is a job over the
 * channels, the sums between them are the context's reduce. */

/* buf[c] = sum of x (k1 == 0), or buf[C + c] = sum of (x - mean)^2 */
static void FR_FN(bn_sync_stat)(void *vp, int64_t c0, int64_t c1, int tid) {
    (void)tid;
    struct FR_FN(bn_job) *j = vp;
    const struct bn_aux *a = j->out->aux;
    const real *x = j->out->src[0]->data;
    for (int64_t c = c0; c < c1; c++) {
        double s = 0;
        for (int64_t n = 0; n < j->N; n++) {
            const real *row = x + (n * j->C + c) * j->S;
            s += j->k1 == 0 ? row_sum(row, j->S) : row_sqdev(row, j->S, a->mean[c]);
        }
        a->buf[(j->k1 == 0 ? 0 : j->C) + c] = s;
    }
}

/* y = (x - mean) invstd gamma + beta, centred at the mean in real (the
 * rest folded into the shift, as the plain path does) */
static void FR_FN(bn_sync_apply)(void *vp, int64_t c0, int64_t c1, int tid) {
    (void)tid;
    struct FR_FN(bn_job) *j = vp;
    fr_t *out = j->out;
    const struct bn_aux *a = out->aux;
    const real *x = out->src[0]->data;
    const real *gamma = out->src[1] ? out->src[1]->data : NULL;
    const real *beta = out->src[2] ? out->src[2]->data : NULL;
    real *y = out->data;
    for (int64_t c = c0; c < c1; c++) {
        real mf = (real)a->mean[c];
        double sc = a->invstd[c] * (gamma ? gamma[c] : 1);
        double sh = (beta ? beta[c] : 0) - (a->mean[c] - mf) * sc;
        for (int64_t n = 0; n < j->N; n++)
            row_affine(x + (n * j->C + c) * j->S, j->S, mf, (real)sc, (real)sh,
                       y + (n * j->C + c) * j->S);
    }
}

static void FR_FN(bn_sync_forward)(struct fr_ctx *ctx, struct FR_FN(bn_job) * j) {
    fr_t *out = j->out;
    struct bn_aux *a = out->aux;
    int64_t C = j->C;
    j->k1 = 0;
    for (int64_t c = 0; c < C; c++)
        a->mean[c] = 0;
    FR_FN(bn_run)(FR_FN(bn_sync_stat), j);
    a->buf[C] = (double)(j->N * j->S); /* the sums and the count in one reduce */
    fr_ctx_reduce(ctx, a->buf, C + 1);
    double cnt = a->buf[C] > 1 ? a->buf[C] : 2, mom = out->fp[1];
    a->count = cnt;
    for (int64_t c = 0; c < C; c++)
        a->mean[c] = a->buf[c] / cnt;
    j->k1 = 1;
    FR_FN(bn_run)(FR_FN(bn_sync_stat), j);
    fr_ctx_reduce(ctx, a->buf + C, C);
    for (int64_t c = 0; c < C; c++) {
        double q = a->buf[C + c];
        a->invstd[c] = 1.0 / sqrt(q / cnt + out->fp[0]);
        if (out->ip[1]) {
            a->running_mean[c] = (float)((1 - mom) * a->running_mean[c] + mom * a->mean[c]);
            a->running_var[c] = (float)((1 - mom) * a->running_var[c] + mom * q / (cnt - 1));
        }
    }
    FR_FN(bn_run)(FR_FN(bn_sync_apply), j);
}

/* buf[c] = sum dy, buf[C + c] = sum dy xh over this process's values;
 * dgamma, dbeta take them as they are (the gradient all-reduce sums them) */
static void FR_FN(bn_sync_gsum)(void *vp, int64_t c0, int64_t c1, int tid) {
    (void)tid;
    struct FR_FN(bn_job) *j = vp;
    const struct bn_aux *a = j->out->aux;
    const real *x = j->out->src[0]->data, *gy = j->out->grad->data;
    for (int64_t c = c0; c < c1; c++) {
        double sdy = 0, sdyx = 0;
        for (int64_t n = 0; n < j->N; n++) {
            double sg, sgx;
            int64_t o = (n * j->C + c) * j->S;
            row_sum_dot(gy + o, x + o, j->S, a->mean[c], &sg, &sgx);
            sdy += sg, sdyx += sgx;
        }
        double sdyxh = sdyx * a->invstd[c];
        if (j->gg) j->gg[c] += (real)sdyxh;
        if (j->gb) j->gb[c] += (real)sdy;
        a->buf[c] = sdy, a->buf[j->C + c] = sdyxh;
    }
}

/* dx = gamma invstd (dy - K1 - xh K2) = A dy + B (x - mean) + K, with K1
 * and K2 from the summed terms */
static void FR_FN(bn_sync_gapply)(void *vp, int64_t c0, int64_t c1, int tid) {
    (void)tid;
    struct FR_FN(bn_job) *j = vp;
    const struct bn_aux *a = j->out->aux;
    const real *x = j->out->src[0]->data, *gy = j->out->grad->data;
    const real *gamma = j->out->src[1] ? j->out->src[1]->data : NULL;
    for (int64_t c = c0; c < c1; c++) {
        double gm = gamma ? gamma[c] : 1, inv = a->invstd[c], mean = a->mean[c];
        double k1 = a->buf[c] * j->k1, k2 = a->buf[j->C + c] * j->k1;
        real mf = (real)mean;
        double A = gm * inv, B = -gm * inv * inv * k2, K = -gm * inv * k1 - B * (mean - mf);
        for (int64_t n = 0; n < j->N; n++) {
            int64_t o = (n * j->C + c) * j->S;
            row_grad(gy + o, x + o, j->S, mf, (real)A, (real)B, (real)K, j->gx + o);
        }
    }
}

/* Each process's loss is the mean over its share w of the global batch and
 * its parameter gradients are scaled by w before they are summed (train.h,
 * data parallel), so the summed terms are weighted by w and this process's
 * dx, in its own loss's units, divides by its w again. */
static void FR_FN(bn_sync_backward)(struct fr_ctx *ctx, struct FR_FN(bn_job) * j) {
    fr_t *out = j->out;
    struct bn_aux *a = out->aux;
    int64_t C = j->C;
    FR_FN(bn_run)(FR_FN(bn_sync_gsum), j);
    double w = a->share;
    for (int64_t c = 0; c < 2 * C; c++)
        a->buf[c] *= w;
    fr_ctx_reduce(ctx, a->buf, 2 * C);
    if (!j->gx) return;
    j->k1 = 1.0 / (w * a->count);
    FR_FN(bn_run)(FR_FN(bn_sync_gapply), j);
}

void FR_FN(fr_op_batchnorm_forward)(struct fr_ctx *ctx, fr_t *out) {
    struct FR_FN(bn_job) j = FR_FN(bn_setup)(out);
    if (out->ip[2]) {
        FR_FN(bn_sync_forward)(ctx, &j);
        return;
    }
    FR_FN(bn_run)(FR_FN(bn_fwd), &j);
}

void FR_FN(fr_op_batchnorm_backward)(struct fr_ctx *ctx, fr_t *out) {
    struct FR_FN(bn_job) j = FR_FN(bn_setup)(out);
    fr_t *gx = fr_op_grad(ctx, out->src[0]), *gg = fr_op_grad(ctx, out->src[1]);
    fr_t *gb = fr_op_grad(ctx, out->src[2]);
    if (!gx && !gg && !gb) return;
    j.gx = gx ? gx->data : NULL, j.gg = gg ? gg->data : NULL, j.gb = gb ? gb->data : NULL;
    if (out->ip[2]) {
        FR_FN(bn_sync_backward)(ctx, &j);
        return;
    }
    FR_FN(bn_run)(FR_FN(bn_bwd), &j);
}

#ifdef FR_PRIMARY
fr_t *fr_batchnorm(struct fr_ctx *ctx, fr_t *x, fr_t *gamma, fr_t *beta, float *running_mean,
                   float *running_var, float momentum, float eps) {
    if (!x) return NULL;
    if (fr_op_check_float("batchnorm", x, gamma, beta)) return NULL;
    char s[64];
    if (x->ndim != 2 && x->ndim != 4) {
        fr_error(FR_EINVAL, "batchnorm: input %s must be (N, C, H, W) or (N, C)",
                 fr_shape_str(x, s, sizeof s));
        return NULL;
    }
    int64_t C = x->ndim == 2 ? x->ne[0] : x->ne[2];
    int64_t cnt = fr_nelem(x) / (C ? C : 1);
    for (int i = 0; i < 2; i++) {
        fr_t *p = i ? beta : gamma;
        if (p && (fr_nelem(p) != C || p->ne[0] != C)) {
            fr_error(FR_EINVAL, "batchnorm: %s %s must have %lld elements (the channels)",
                     i ? "beta" : "gamma", fr_shape_str(p, s, sizeof s), (long long)C);
            return NULL;
        }
    }
    if (!running_mean != !running_var) {
        fr_error(FR_EINVAL, "batchnorm: give both running_mean and running_var, or neither");
        return NULL;
    }
    if (!(eps > 0) || !(momentum >= 0 && momentum <= 1)) {
        fr_error(FR_EINVAL, "batchnorm: eps %g must be positive and momentum %g in [0, 1]",
                 (double)eps, (double)momentum);
        return NULL;
    }
    int training = fr_is_training(ctx), batch = training || !running_mean;
    /* synchronised statistics: a slice of a larger batch, a reduce set */
    int64_t total = 0, local = x->ne[x->ndim - 1];
    fr_ctx_shard(ctx, &total);
    int synced = training && fr_ctx_has_reduce(ctx) && total > local;
    if (synced) cnt = cnt / (local ? local : 1) * total; /* every process's values */
    if (C == 0 || (batch && cnt < 2)) {
        fr_error(FR_EINVAL,
                 "batchnorm: input %s: batch statistics need more than 1 value "
                 "per channel",
                 fr_shape_str(x, s, sizeof s));
        return NULL;
    }
    fr_t *g = gamma ? fr_contiguous(ctx, gamma) : NULL, *b = beta ? fr_contiguous(ctx, beta) : NULL;
    x = fr_contiguous(ctx, x);
    if (!x || (gamma && !g) || (beta && !b)) return NULL;
    fr_t *out = fr_op_new(ctx, FR_OP_BATCHNORM, x->dtype, x->ndim, x->ne, x, g, b, NULL);
    struct bn_aux *a = out ? fr_ctx_alloc(ctx, sizeof *a) : NULL;
    if (!a) return NULL;
    a->running_mean = running_mean, a->running_var = running_var;
    a->mean = fr_ctx_alloc(ctx, (size_t)C * sizeof(double));
    a->invstd = fr_ctx_alloc(ctx, (size_t)C * sizeof(double));
    if (!a->mean || !a->invstd) return NULL;
    out->aux = a;
    out->ip[0] = batch;
    out->ip[1] = training && running_mean;
    out->fp[0] = eps, out->fp[1] = momentum;
    if (synced) {
        out->ip[2] = 1;
        a->share = (double)local / (double)total;
        a->buf = fr_ctx_alloc(ctx, (size_t)(2 * C + 1) * sizeof(double));
        if (!a->buf) return NULL;
    }
    return fr_op_run(ctx, out);
}
#endif

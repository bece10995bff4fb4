/* kd.c: the distillation losses of kd.h, composed from ops (so their
 * gradients are the ops', checked against finite differences in
 * tests/test_kd.c). */
#include "frugal/methods/kd.h"

#include "frugal/ops.h"
#include "frugal/status.h"

#include <math.h>
#include <string.h>

/* t's values as a tensor off the tape: a teacher is never trained here. */
static struct fr_tensor *detach(struct fr_ctx *ctx, struct fr_tensor *t) {
    struct fr_tensor *d = fr_new(ctx, t->dtype, t->ndim, t->ne);
    if (!d) return NULL;
    if (fr_is_contiguous(t))
        memcpy(d->data, t->data, fr_nbytes(d));
    else
        for (int64_t i = 0; i < fr_nelem(t); i++)
            fr_set(d, i, fr_get(t, i));
    return d;
}

/* Checks logits s, t {C, N} and labels y {N}; returns C or < 0. */
static int64_t check_logits(const char *who, struct fr_tensor *s, struct fr_tensor *t,
                            struct fr_tensor *y, double T) {
    char a[64], b[64];
    if (!s || !t || !y) {
        fr_error(FR_EINVAL, "%s: missing logits or labels", who);
        return -1;
    }
    if (s->ndim != 2 || t->ndim != 2 || s->ne[0] != t->ne[0] || s->ne[1] != t->ne[1]) {
        fr_error(FR_EINVAL,
                 "%s: student logits %s and teacher logits %s differ (a teacher with other "
                 "classes than the student?)",
                 who, fr_shape_str(s, a, sizeof a), fr_shape_str(t, b, sizeof b));
        return -1;
    }
    if (y->dtype != FR_I32 || fr_nelem(y) != s->ne[1]) {
        fr_error(FR_EINVAL, "%s: labels must be I32 with one per sample (%lld)", who,
                 (long long)s->ne[1]);
        return -1;
    }
    const int32_t *yl = y->data;
    for (int64_t n = 0; n < s->ne[1]; n++)
        if (yl[n] < 0 || yl[n] >= s->ne[0]) {
            fr_error(FR_EINVAL, "%s: label %d of sample %lld is outside 0..%lld", who, yl[n],
                     (long long)n, (long long)s->ne[0] - 1);
            return -1;
        }
    if (!(T > 0) || !isfinite(T)) {
        fr_error(FR_EINVAL, "%s: temperature %g must be positive", who, T);
        return -1;
    }
    return s->ne[0];
}

struct fr_tensor *fr_kd_loss(struct fr_ctx *ctx, struct fr_tensor *s, struct fr_tensor *t,
                             struct fr_tensor *y, double alpha, double T) {
    if (check_logits("kd loss", s, t, y, T) < 0) return NULL;
    if (!(alpha >= 0 && alpha <= 1)) {
        fr_error(FR_EINVAL, "kd loss: alpha %g must be in [0, 1]", alpha);
        return NULL;
    }
    struct fr_tensor *pt = fr_softmax(ctx, fr_scale(ctx, detach(ctx, t), (float)(1 / T)));
    struct fr_tensor *ls = fr_log_softmax(ctx, fr_scale(ctx, s, (float)(1 / T)));
    struct fr_tensor *kl = fr_kl_div(ctx, ls, pt);
    struct fr_tensor *loss = fr_scale(ctx, kl, (float)(alpha * T * T));
    if (alpha < 1)
        loss = fr_add(ctx, loss, fr_scale(ctx, fr_cross_entropy(ctx, s, y, 0), (float)(1 - alpha)));
    return loss;
}

struct fr_tensor *fr_nkd_loss(struct fr_ctx *ctx, struct fr_tensor *s, struct fr_tensor *t,
                              struct fr_tensor *y, double gamma, double T) {
    int64_t C = check_logits("nkd loss", s, t, y, T);
    if (C < 0) return NULL;
    if (!(gamma >= 0) || !isfinite(gamma)) {
        fr_error(FR_EINVAL, "nkd loss: gamma %g must be >= 0", gamma);
        return NULL;
    }
    if (C < 2) {
        fr_error(FR_EINVAL, "nkd loss: %lld class leaves no non-target class", (long long)C);
        return NULL;
    }
    int64_t N = s->ne[1];
    /* the target's one-hot, and a shift that takes the target out of the
     * non-target softmax: exp(-1e4 / T) is 0 in float and double alike
     * for any T up to 10, so q is the renormalised softmax over c != y */
    struct fr_tensor *hot = fr_zeros(ctx, s->dtype, 2, s->ne);
    struct fr_tensor *off = fr_zeros(ctx, s->dtype, 2, s->ne);
    struct fr_tensor *tc = detach(ctx, t);
    if (!hot || !off || !tc) return NULL;
    const int32_t *yl = y->data;
    double shift = 1e4 * (T > 10 ? T / 10 : 1);
    for (int64_t n = 0; n < N; n++) {
        fr_set(hot, n * C + yl[n], 1.0);
        fr_set(off, n * C + yl[n], -shift);
    }
    /* - mean_n p_t[y] log p_s[y] */
    struct fr_tensor *pt = fr_softmax(ctx, tc);
    struct fr_tensor *lps = fr_log_softmax(ctx, s);
    struct fr_tensor *target = fr_sum(ctx, fr_mul(ctx, fr_mul(ctx, hot, pt), lps), -1);
    /* - gamma T^2 mean_n sum_{c != y} q_t log q_s */
    struct fr_tensor *qt = fr_softmax(ctx, fr_scale(ctx, fr_add(ctx, tc, off), (float)(1 / T)));
    struct fr_tensor *lqs = fr_log_softmax(ctx, fr_scale(ctx, fr_add(ctx, s, off), (float)(1 / T)));
    struct fr_tensor *non = fr_sum(ctx, fr_mul(ctx, qt, lqs), -1);
    return fr_add(ctx, fr_scale(ctx, target, (float)(-1.0 / (double)N)),
                  fr_scale(ctx, non, (float)(-gamma * T * T / (double)N)));
}

/* x {W, H, C, N} average pooled by (fw, fh) */
static struct fr_tensor *pool_by(struct fr_ctx *ctx, struct fr_tensor *x, int fw, int fh) {
    if (fw == 1 && fh == 1) return x;
    return fr_avgpool2d(ctx, x, fh, fw, fh, fw, 0, 0);
}

struct fr_tensor *fr_fd_loss(struct fr_ctx *ctx, struct fr_tensor *fs, struct fr_tensor *ft,
                             double beta) {
    char a[64], b[64];
    if (!fs || !ft) {
        fr_error(FR_EINVAL, "fd loss: missing feature maps");
        return NULL;
    }
    if (fs->ndim != 4 || ft->ndim != 4 || fs->ne[2] != ft->ne[2] || fs->ne[3] != ft->ne[3]) {
        fr_error(FR_EINVAL,
                 "fd loss: student map %s and teacher map %s must agree in channels (project "
                 "the student's first) and samples",
                 fr_shape_str(fs, a, sizeof a), fr_shape_str(ft, b, sizeof b));
        return NULL;
    }
    if (!(beta >= 0) || !isfinite(beta)) {
        fr_error(FR_EINVAL, "fd loss: beta %g must be >= 0", beta);
        return NULL;
    }
    struct fr_tensor *tc = detach(ctx, ft);
    if (!tc) return NULL;
    for (int d = 0; d < 2; d++) {
        int64_t big = fs->ne[d] > tc->ne[d] ? fs->ne[d] : tc->ne[d];
        int64_t small = fs->ne[d] > tc->ne[d] ? tc->ne[d] : fs->ne[d];
        if (small < 1 || big % small != 0) {
            fr_error(FR_EINVAL,
                     "fd loss: map sides %s and %s are not multiples of each other (pool "
                     "one to the other's size first)",
                     fr_shape_str(fs, a, sizeof a), fr_shape_str(ft, b, sizeof b));
            return NULL;
        }
    }
    int fsw = (int)(fs->ne[0] / tc->ne[0]), fsh = (int)(fs->ne[1] / tc->ne[1]);
    int ftw = (int)(tc->ne[0] / fs->ne[0]), fth = (int)(tc->ne[1] / fs->ne[1]);
    fs = pool_by(ctx, fs, fsw > 1 ? fsw : 1, fsh > 1 ? fsh : 1);
    tc = pool_by(ctx, tc, ftw > 1 ? ftw : 1, fth > 1 ? fth : 1);
    return beta > 0 ? fr_smooth_l1(ctx, fs, tc, (float)beta) : fr_mse(ctx, fs, tc);
}

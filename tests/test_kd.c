/* test_kd.c: the distillation losses (methods/kd.h) against hand
 * computations in double (written out here from the formulas, the NKD
 * non-target softmax with the target column removed, not masked), their
 * student gradients against finite differences (f64) and fast vs
 * reference (f32), the teacher never receiving a gradient, and clear
 * errors. */
#include "check.h"
#include "frugal/methods/kd.h"
#include "frugal/models.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define C 5
#define N 3

static const double S[N][C] = {
    {1.0, -0.5, 2.0, 0.3, -1.2}, {0.2, 0.9, -0.7, 1.5, 0.0}, {-2.0, 0.4, 0.8, -0.1, 1.1}};
static const double TT[N][C] = {
    {0.5, -1.0, 2.5, 0.0, -0.3}, {1.2, 0.3, -0.2, 2.0, -1.0}, {-1.5, 1.0, 0.2, 0.3, 0.9}};
static const int32_t Y[N] = {2, 3, 4};

/* softmax of z[0..n) / T, skipping index skip (-1: none) */
static void softmax_skip(const double *z, int n, int skip, double T, double *p) {
    double m = -INFINITY, s = 0;
    for (int c = 0; c < n; c++)
        if (c != skip) m = fmax(m, z[c] / T);
    for (int c = 0; c < n; c++)
        s += c == skip ? 0 : exp(z[c] / T - m);
    for (int c = 0; c < n; c++)
        p[c] = c == skip ? 0 : exp(z[c] / T - m) / s;
}

static double hand_kd(double alpha, double T) {
    double kl = 0, ce = 0;
    for (int n = 0; n < N; n++) {
        double pt[C], ps[C], p1[C];
        softmax_skip(TT[n], C, -1, T, pt);
        softmax_skip(S[n], C, -1, T, ps);
        softmax_skip(S[n], C, -1, 1, p1);
        for (int c = 0; c < C; c++)
            kl += pt[c] * (log(pt[c]) - log(ps[c]));
        ce -= log(p1[Y[n]]);
    }
    return alpha * T * T * kl / N + (1 - alpha) * ce / N;
}

static double hand_nkd(double gamma, double T) {
    double tgt = 0, non = 0;
    for (int n = 0; n < N; n++) {
        double pt[C], ps[C], qt[C], qs[C];
        softmax_skip(TT[n], C, -1, 1, pt);
        softmax_skip(S[n], C, -1, 1, ps);
        softmax_skip(TT[n], C, Y[n], T, qt);
        softmax_skip(S[n], C, Y[n], T, qs);
        tgt -= pt[Y[n]] * log(ps[Y[n]]);
        for (int c = 0; c < C; c++)
            if (c != Y[n]) non -= qt[c] * log(qs[c]);
    }
    return tgt / N + gamma * T * T * non / N;
}

static fr_t *logits(struct fr_ctx *ctx, const double (*z)[C], enum fr_dtype dt) {
    fr_t *t = fr_new2(ctx, dt, C, N);
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            fr_set(t, n * C + c, z[n][c]);
    return t;
}

/* check_op builders: x[0] student logits, x[1] teacher logits, x[2] labels */
struct args {
    double w, T;
};
static fr_t *b_kd(struct fr_ctx *c, fr_t **x, void *a) {
    struct args *k = a;
    return fr_kd_loss(c, x[0], x[1], x[2], k->w, k->T);
}
static fr_t *b_nkd(struct fr_ctx *c, fr_t **x, void *a) {
    struct args *k = a;
    return fr_nkd_loss(c, x[0], x[1], x[2], k->w, k->T);
}
static fr_t *b_fd(struct fr_ctx *c, fr_t **x, void *a) {
    struct args *k = a;
    return fr_fd_loss(c, x[0], x[1], k->w);
}

/* The ERF: the analysis on maps with known answers, and the measurement on
 * a model whose receptive field is exact: convnext with 1x1 depthwise
 * kernels mixes space only in its 2x2/2 stem and downsamplings, so the
 * centre (1, 1) of its 3x3 last map at 28x28 sees exactly input pixels
 * 8..15 in each direction. */
static void erf_checks(void) {
    struct fr_erf e = {.w = 28, .h = 28};
    e.raw = calloc(28 * 28, sizeof(double));
    e.raw[14 * 28 + 14] = 5;
    CHECK(fr_erf_analyse(&e) == 0 && e.side[0] == 3 && e.side[3] == 3 && e.map[14 * 28 + 14] == 1,
          "erf of a point: sides %d..%d", e.side[0], e.side[3]);
    for (int i = 0; i < 28 * 28; i++)
        e.raw[i] = 2;
    /* uniform: a side s square holds s^2 / 784; 20% needs s^2 > 156.8 */
    CHECK(fr_erf_analyse(&e) == 0 && e.side[0] == 13 && e.side[2] == 21 && e.side[3] == 28 &&
              e.area[3] == 1,
          "erf of a uniform map: sides %d %d %d %d", e.side[0], e.side[1], e.side[2], e.side[3]);
    fr_erf_free(&e);

    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    mc.kernels[0] = mc.kernels[1] = mc.kernels[2] = 1;
    struct fr_model *m = fr_model_new("convnext", &mc, 3);
    CHECK(m != NULL, "convnext 1x1: %s", fr_last_error());
    if (!m) return;
    for (int i = 0; i < m->params.count; i++) /* blocks that matter */
        if (strstr(m->params.items[i].name, ".gamma")) fr_init_const(m->params.items[i].t, 1);
    const int n = 6;
    float *x = malloc(sizeof(float) * 28 * 28 * n);
    struct fr_rng r;
    fr_rng_seed(&r, 8);
    fr_rng_fill_uniform(&r, x, 28 * 28 * n, -1, 1);
    CHECK(fr_erf_measure(m, x, n, 4, &e) == 0 && e.images == n, "erf measure: %s", fr_last_error());
    int inside = 0, outside = 0;
    for (int y = 0; e.raw && y < 28; y++)
        for (int xx = 0; xx < 28; xx++) {
            int in = y >= 8 && y < 16 && xx >= 8 && xx < 16;
            if (e.raw[y * 28 + xx] > 0) {
                if (in)
                    inside++;
                else
                    outside++;
            }
        }
    CHECK(outside == 0 && inside > 32, "1x1 convnext: %d pixels outside its receptive field, %d in",
          outside, inside);
    fr_erf_free(&e);
    fr_model_free(m);
    free(x);
    struct fr_model *mlp = fr_model_new("mlp", NULL, 1);
    float one[784] = {0};
    CHECK(fr_erf_measure(mlp, one, 1, 1, &e) == FR_EINVAL && strstr(fr_last_error(), "feature map"),
          "erf of an mlp: %s", fr_last_error());
    fr_model_free(mlp);
}

/* The training extension: a teacher with other classes is refused at the
 * start; its loss is fr_kd_loss of the student's logits and the teacher's
 * eval-mode logits; a backward pass leaves the teacher's gradients zero;
 * a three-branch slak teacher is run merged (the same loss). */
static void kd_run_checks(void) {
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    mc.n_classes = 7;
    struct fr_model *t7 = fr_model_new("mlp", &mc, 1), *st = fr_model_new("mlp", NULL, 2);
    struct fr_model *sl = fr_model_new("slak", NULL, 3);
    const char *p7 = check_tmp("kd-t7.safetensors"), *ps = check_tmp("kd-slak.safetensors");
    CHECK(t7 && st && sl && fr_model_save(t7, p7) == 0 && fr_model_save(sl, ps) == 0,
          "kd run setup: %s", fr_last_error());
    struct fr_kd_config kc;
    fr_kd_config_defaults(&kc);
    kc.teacher = p7;
    struct fr_kd_run r;
    fr_kd_run_init(&r, &kc);
    CHECK(r.rc == 0 && r.ext.start(r.ext.user, st, 10) != 0 && strstr(fr_last_error(), "7 classes"),
          "a 7-class teacher for a 10-class student: %s", fr_last_error());
    fr_kd_run_free(&r);
    kc.loss = "soft";
    fr_kd_run_init(&r, &kc);
    CHECK(r.rc == FR_EINVAL && strstr(fr_last_error(), "unknown loss"), "loss 'soft': %s",
          fr_last_error());
    fr_kd_run_free(&r);

    /* a slak teacher and a convnext student on 28x28 */
    struct fr_model *stu = fr_model_new("convnext", NULL, 4);
    kc.loss = "kd", kc.teacher = ps;
    fr_kd_run_init(&r, &kc);
    CHECK(stu && r.ext.start(r.ext.user, stu, 10) == 0 && r.t && r.t->cfg.merged == 1,
          "slak teacher: %s (merged %d)", fr_last_error(), r.t ? r.t->cfg.merged : -1);
    if (stu && r.t) {
        struct fr_ctx *ctx = fr_ctx_new(64 << 20);
        fr_t *x = fr_new(ctx, FR_F32, 4, (int64_t[]){28, 28, 1, 4});
        fr_t *y = fr_new1(ctx, FR_I32, 4);
        struct fr_rng g;
        fr_rng_seed(&g, 5);
        fr_rng_fill_uniform(&g, x->data, fr_nelem(x), -1, 1);
        for (int i = 0; i < 4; i++)
            ((int32_t *)y->data)[i] = 3 * i % 10;
        fr_set_training(ctx, 1);
        fr_params_zero_grad(&stu->params);
        fr_params_zero_grad(&r.t->params);
        fr_t *loss = r.ext.loss(r.ext.user, stu, ctx, x, y);
        CHECK(loss && fr_backward(ctx, loss) == 0 && fr_is_training(ctx), "kd loss: %s",
              fr_last_error());
        double tg = 0;
        for (int64_t i = 0; i < r.t->params.n; i++)
            tg = fmax(tg, fabs(r.t->params.grad[i]));
        CHECK(tg == 0, "the teacher got gradients (max %g)", tg);
        /* the same value from the unmerged teacher in eval mode, by hand */
        fr_set_training(ctx, 0);
        int ng = fr_no_grad_begin(ctx);
        fr_t *zt = sl->forward(sl, ctx, x);
        fr_no_grad_end(ctx, ng);
        fr_set_training(ctx, 1);
        fr_t *want = fr_kd_loss(ctx, stu->forward(stu, ctx, x), zt, y, kc.alpha, kc.T);
        CHECK(loss && want &&
                  fabs(fr_get(loss, 0) - fr_get(want, 0)) <= 1e-5 * fabs(fr_get(want, 0)),
              "kd loss %.7g, by the unmerged teacher %.7g", loss ? fr_get(loss, 0) : NAN,
              want ? fr_get(want, 0) : NAN);
        fr_ctx_free(ctx);
    }
    fr_kd_run_free(&r);
    CHECK(r.t == NULL, "teacher not freed");

    /* feature distillation: the student needs its projection; with it the
     * loss is CE + FD, the projection and the body get gradients, the
     * teacher none */
    CHECK(fr_kd_feature_channels(ps) == 128, "slak's feature channels: %d (%s)",
          fr_kd_feature_channels(ps), fr_last_error());
    kc.loss = "fd";
    fr_kd_run_init(&r, &kc);
    CHECK(r.rc == 0 && r.ext.start(r.ext.user, stu, 10) != 0 && strstr(fr_last_error(), "fd_proj"),
          "fd without a projection: %s", fr_last_error());
    fr_kd_run_free(&r);
    struct fr_model_config sc;
    fr_model_config_defaults(&sc);
    sc.fd_channels = 128;
    sc.kernels[0] = sc.kernels[1] = sc.kernels[2] = 3;
    struct fr_model *sf = fr_model_new("convnext", &sc, 6);
    fr_kd_run_init(&r, &kc);
    CHECK(sf && r.ext.start(r.ext.user, sf, 10) == 0, "fd start: %s", fr_last_error());
    if (sf && r.t) {
        struct fr_ctx *ctx = fr_ctx_new(64 << 20);
        fr_t *x = fr_new(ctx, FR_F32, 4, (int64_t[]){28, 28, 1, 4});
        fr_t *y = fr_new1(ctx, FR_I32, 4);
        struct fr_rng g;
        fr_rng_seed(&g, 7);
        fr_rng_fill_uniform(&g, x->data, fr_nelem(x), -1, 1);
        for (int i = 0; i < 4; i++)
            ((int32_t *)y->data)[i] = i;
        fr_set_training(ctx, 1);
        fr_params_zero_grad(&sf->params);
        fr_params_zero_grad(&r.t->params);
        fr_t *loss = r.ext.loss(r.ext.user, sf, ctx, x, y);
        CHECK(loss && fr_backward(ctx, loss) == 0, "fd loss: %s", fr_last_error());
        const struct fr_param *pw = fr_params_find(&sf->params, "fd_proj.weight");
        double gp = 0, tg = 0;
        for (int64_t i = 0; pw && i < fr_nelem(pw->t); i++)
            gp = fmax(gp, fabs(sf->params.grad[pw->offset + i]));
        for (int64_t i = 0; i < r.t->params.n; i++)
            tg = fmax(tg, fabs(r.t->params.grad[i]));
        CHECK(gp > 0 && tg == 0, "fd: projection gradient %g, teacher gradient %g", gp, tg);
        /* the value: CE of the student's logits + FD of its projected map */
        fr_set_training(ctx, 0);
        int ng = fr_no_grad_begin(ctx);
        fr_t *ft = r.t->features(r.t, ctx, x);
        fr_no_grad_end(ctx, ng);
        fr_set_training(ctx, 1);
        fr_t *fs = sf->features(sf, ctx, x);
        fr_t *w4 = fr_reshape(ctx, pw->t, 4, (int64_t[]){1, 1, 128, 128});
        fr_t *ps2 = fr_conv2d(ctx, fs, w4, fr_params_find(&sf->params, "fd_proj.bias")->t, NULL);
        fr_t *want = fr_add(ctx, fr_cross_entropy(ctx, sf->forward(sf, ctx, x), y, 0),
                            fr_fd_loss(ctx, ps2, ft, 2));
        CHECK(loss && want &&
                  fabs(fr_get(loss, 0) - fr_get(want, 0)) <= 1e-5 * fabs(fr_get(want, 0)),
              "fd loss %.7g, by hand %.7g", loss ? fr_get(loss, 0) : NAN,
              want ? fr_get(want, 0) : NAN);
        fr_ctx_free(ctx);
    }
    fr_kd_run_free(&r);
    fr_model_free(sf);
    fr_model_free(stu);
    fr_model_free(t7), fr_model_free(st), fr_model_free(sl);
}

int main(void) {
    fr_threads_set(2);
    struct fr_ctx *ctx = fr_ctx_new(1 << 22);
    for (int dt = 0; dt < 2; dt++) {
        enum fr_dtype type = dt ? FR_F64 : FR_F32;
        /* f64 to 1e-7: the ops' scale factors (1 / T, T^2) are floats */
        double tol = dt ? 1e-7 : 2e-6;
        fr_t *y = fr_new1(ctx, FR_I32, N);
        for (int n = 0; n < N; n++)
            ((int32_t *)y->data)[n] = Y[n];
        const double cases[][2] = {{0.5, 3}, {1, 3}, {0, 1}, {0.9, 1.5}};
        for (int i = 0; i < 4; i++) {
            fr_t *s = logits(ctx, S, type), *t = logits(ctx, TT, type);
            s->requires_grad = t->requires_grad = 1;
            fr_t *l = fr_kd_loss(ctx, s, t, y, cases[i][0], cases[i][1]);
            double want = hand_kd(cases[i][0], cases[i][1]);
            CHECK(l && fabs(fr_get(l, 0) - want) <= tol * (1 + fabs(want)),
                  "kd alpha %g T %g (%s): %.9g, by hand %.9g", cases[i][0], cases[i][1],
                  dt ? "f64" : "f32", l ? fr_get(l, 0) : NAN, want);
            /* the teacher gets no gradient, the student does */
            CHECK(l && fr_backward(ctx, l) == 0 && !t->grad && s->grad, "kd: teacher gradient");
            s = logits(ctx, S, type), t = logits(ctx, TT, type);
            s->requires_grad = t->requires_grad = 1;
            l = fr_nkd_loss(ctx, s, t, y, cases[i][0], cases[i][1]);
            want = hand_nkd(cases[i][0], cases[i][1]);
            CHECK(l && fabs(fr_get(l, 0) - want) <= tol * (1 + fabs(want)),
                  "nkd gamma %g T %g (%s): %.9g, by hand %.9g", cases[i][0], cases[i][1],
                  dt ? "f64" : "f32", l ? fr_get(l, 0) : NAN, want);
            CHECK(l && fr_backward(ctx, l) == 0 && !t->grad && s->grad, "nkd: teacher gradient");
            fr_ctx_reset(ctx);
            y = fr_new1(ctx, FR_I32, N);
            for (int n = 0; n < N; n++)
                ((int32_t *)y->data)[n] = Y[n];
        }
        /* feature distillation: MSE and SmoothL1 (beta 2) by hand, with the
         * student's 4x4 map pooled 2x2 onto the teacher's 2x2 */
        fr_t *fs = fr_new(ctx, type, 4, (int64_t[]){4, 4, 2, 1});
        fr_t *ft = fr_new(ctx, type, 4, (int64_t[]){2, 2, 2, 1});
        for (int64_t i = 0; i < 32; i++)
            fr_set(fs, i, sin(0.7 * (double)i) * 3);
        for (int64_t i = 0; i < 8; i++)
            fr_set(ft, i, cos(1.3 * (double)i));
        double mse = 0, sl1 = 0;
        for (int c = 0; c < 2; c++)
            for (int py = 0; py < 2; py++)
                for (int px = 0; px < 2; px++) {
                    double m = 0;
                    for (int dy = 0; dy < 2; dy++)
                        for (int dx = 0; dx < 2; dx++)
                            m += fr_get(fs, c * 16 + (2 * py + dy) * 4 + 2 * px + dx) / 4;
                    double d = m - fr_get(ft, c * 4 + py * 2 + px), ad = fabs(d);
                    mse += d * d / 8;
                    sl1 += (ad < 2 ? 0.5 * d * d / 2 : ad - 1) / 8;
                }
        fr_t *l1 = fr_fd_loss(ctx, fs, ft, 0), *l2 = fr_fd_loss(ctx, fs, ft, 2);
        CHECK(l1 && fabs(fr_get(l1, 0) - mse) <= tol * (1 + mse), "fd mse %.9g, by hand %.9g",
              l1 ? fr_get(l1, 0) : NAN, mse);
        CHECK(l2 && fabs(fr_get(l2, 0) - sl1) <= tol * (1 + sl1), "fd smooth-l1 %.9g, by hand %.9g",
              l2 ? fr_get(l2, 0) : NAN, sl1);
        fr_ctx_reset(ctx);
    }

    /* student gradients: finite differences (f64), fast vs reference (f32) */
    struct check_input in[3] = {{2, {7, 4}, -2, 2},
                                {2, {7, 4}, -2, 2, .no_grad = 1},
                                {1, {4}, 0, 6, .no_grad = 1, .is_int = 1}};
    struct args a1 = {0.5, 3}, a2 = {1.0, 2};
    check_op("kd loss", b_kd, &a1, 3, in, NULL);
    check_op("nkd loss", b_nkd, &a2, 3, in, NULL);
    in[0].strided = 1;
    check_op("kd loss (strided student)", b_kd, &a2, 3, in, NULL);
    struct check_input fin[2] = {{4, {6, 4, 3, 2}, -2, 2}, {4, {3, 2, 3, 2}, -2, 2, .no_grad = 1}};
    struct args f_mse = {0, 0}, f_sl1 = {2, 0};
    check_op("fd loss mse (pooled)", b_fd, &f_mse, 2, fin, NULL);
    struct check_opts kink = {0};
    check_op("fd loss smooth-l1 beta 2 (pooled)", b_fd, &f_sl1, 2, fin, &kink);

    /* errors */
    fr_t *s = fr_zeros(ctx, FR_F32, 2, (int64_t[]){10, 3}),
         *t7 = fr_zeros(ctx, FR_F32, 2, (int64_t[]){7, 3});
    fr_t *y = fr_zeros(ctx, FR_I32, 1, (int64_t[]){3});
    CHECK(!fr_kd_loss(ctx, s, t7, y, 0.5, 3) && strstr(fr_last_error(), "other classes"),
          "teacher with 7 classes: %s", fr_last_error());
    CHECK(!fr_nkd_loss(ctx, s, t7, y, 1, 3) && strstr(fr_last_error(), "other classes"),
          "nkd teacher with 7 classes: %s", fr_last_error());
    fr_t *t10 = fr_zeros(ctx, FR_F32, 2, (int64_t[]){10, 3});
    CHECK(!fr_kd_loss(ctx, s, t10, y, 0.5, 0) && strstr(fr_last_error(), "temperature"), "T 0: %s",
          fr_last_error());
    CHECK(!fr_kd_loss(ctx, s, t10, y, 1.5, 3) && strstr(fr_last_error(), "alpha"), "alpha 1.5: %s",
          fr_last_error());
    CHECK(!fr_nkd_loss(ctx, s, t10, y, -1, 3) && strstr(fr_last_error(), "gamma"), "gamma -1: %s",
          fr_last_error());
    ((int32_t *)y->data)[1] = 10;
    CHECK(!fr_kd_loss(ctx, s, t10, y, 0.5, 3) && strstr(fr_last_error(), "outside"),
          "label 10 of 10 classes: %s", fr_last_error());
    fr_t *a = fr_zeros(ctx, FR_F32, 4, (int64_t[]){5, 5, 3, 2}),
         *b = fr_zeros(ctx, FR_F32, 4, (int64_t[]){2, 2, 3, 2});
    CHECK(!fr_fd_loss(ctx, a, b, 2) && strstr(fr_last_error(), "multiples"), "5 vs 2 sides: %s",
          fr_last_error());
    fr_t *c4 = fr_zeros(ctx, FR_F32, 4, (int64_t[]){5, 5, 4, 2});
    CHECK(!fr_fd_loss(ctx, a, c4, 2) && strstr(fr_last_error(), "channels"), "3 vs 4 channels: %s",
          fr_last_error());
    fr_ctx_free(ctx);
    erf_checks();
    kd_run_checks();
    return check_report("test_kd");
}

/* kd_train.c: a student trained against a teacher checkpoint (kd.h's
 * fr_kd_run), as an extension of fr_train_run: the teacher is loaded,
 * checked against the student and re-parameterised at the start, and the
 * extension's loss runs it in eval mode without gradients on every batch
 * (no logit cache: with augmentation each batch's images are new). */
#include "frugal/methods/kd.h"

#include "frugal/models.h"
#include "frugal/ops.h"
#include "frugal/status.h"

#include <stdio.h>
#include <string.h>

void fr_kd_config_defaults(struct fr_kd_config *c) {
    memset(c, 0, sizeof *c);
    c->loss = "kd";
    c->alpha = 0.5;
    c->T = 3;
    c->gamma = 1;
    c->beta = 2;
}

static int check_cfg(const struct fr_kd_config *c) {
    if (!c->teacher || !c->teacher[0]) return fr_error(FR_EINVAL, "kd: no teacher checkpoint");
    if (!c->loss ||
        (strcmp(c->loss, "kd") != 0 && strcmp(c->loss, "nkd") != 0 && strcmp(c->loss, "fd") != 0))
        return fr_error(FR_EINVAL, "kd: unknown loss '%s' (known: kd, nkd, fd)",
                        c->loss ? c->loss : "(null)");
    if (!(c->beta >= 0 && c->beta <= 100))
        return fr_error(FR_EINVAL, "kd: beta %g must be in [0, 100]", c->beta);
    if (!(c->T > 0) || c->T > 100)
        return fr_error(FR_EINVAL, "kd: temperature %g must be in (0, 100]", c->T);
    if (!(c->alpha >= 0 && c->alpha <= 1))
        return fr_error(FR_EINVAL, "kd: alpha %g must be in [0, 1]", c->alpha);
    if (!(c->gamma >= 0 && c->gamma <= 100))
        return fr_error(FR_EINVAL, "kd: gamma %g must be in [0, 100]", c->gamma);
    return 0;
}

static void drop_teacher(struct fr_kd_run *r) {
    fr_model_free(r->t);
    r->t = NULL;
}

static int ext_start(void *user, struct fr_model *m, int64_t total) {
    (void)total;
    struct fr_kd_run *r = user;
    drop_teacher(r);
    fr_clear_error();
    struct fr_model *t = fr_model_load(r->c.teacher, NULL);
    if (!t) return FR_EINVAL;
    if (t->cfg.n_classes != m->cfg.n_classes || t->cfg.in_channels != m->cfg.in_channels ||
        t->cfg.in_h != m->cfg.in_h || t->cfg.in_w != m->cfg.in_w) {
        int rc =
            fr_error(FR_EINVAL,
                     "kd: teacher %s has %d classes and %d x %d x %d inputs, the student %d "
                     "classes and %d x %d x %d",
                     r->c.teacher, t->cfg.n_classes, t->cfg.in_channels, t->cfg.in_h, t->cfg.in_w,
                     m->cfg.n_classes, m->cfg.in_channels, m->cfg.in_h, m->cfg.in_w);
        fr_model_free(t);
        return rc;
    }
    /* a three-branch slak teacher runs merged: the same function, one conv */
    if (!strcmp(t->arch, "slak") && !t->cfg.merged) {
        struct fr_model *mm = fr_model_reparam(t);
        fr_model_free(t);
        if (!mm) return FR_EINVAL;
        t = mm;
    }
    if (!strcmp(r->c.loss, "fd") &&
        (!fr_params_find(&m->params, "fd_proj.weight") || !m->features || !t->features)) {
        fr_model_free(t);
        return fr_error(FR_EINVAL,
                        "kd: feature distillation needs a student with fd_proj (a convnext built "
                        "with fd_channels, the teacher's feature channels) and a teacher with a "
                        "feature map");
    }
    r->t = t;
    return 0;
}

/* CE + FD: the student's feature map through its fd_proj (a 1 x 1 conv on
 * the linear's weight) against the teacher's, logits from the same map */
static struct fr_tensor *fd_loss(struct fr_kd_run *r, struct fr_model *m, struct fr_ctx *ctx,
                                 struct fr_tensor *x, struct fr_tensor *y) {
    int was = fr_is_training(ctx), g = fr_no_grad_begin(ctx);
    fr_set_training(ctx, 0);
    struct fr_tensor *ft = r->t->features(r->t, ctx, x);
    fr_set_training(ctx, was);
    fr_no_grad_end(ctx, g);
    struct fr_tensor *fs = m->features(m, ctx, x);
    if (!ft || !fs) return NULL;
    struct fr_param *pw = fr_params_find(&m->params, "fd_proj.weight");
    struct fr_param *pb = fr_params_find(&m->params, "fd_proj.bias");
    int64_t cin = pw->t->ne[0], cout = pw->t->ne[1];
    if (cin != fs->ne[2] || cout != ft->ne[2]) {
        fr_error(FR_EINVAL,
                 "kd: the student's fd_proj maps %lld to %lld channels, its feature map has %lld "
                 "and the teacher's %lld",
                 (long long)cin, (long long)cout, (long long)fs->ne[2], (long long)ft->ne[2]);
        return NULL;
    }
    struct fr_tensor *w = fr_reshape(ctx, pw->t, 4, (int64_t[]){1, 1, cin, cout});
    struct fr_tensor *ps = fr_conv2d(ctx, fs, w, pb ? pb->t : NULL, NULL);
    struct fr_tensor *zs = m->head ? m->head(m, ctx, fs) : m->forward(m, ctx, x);
    struct fr_tensor *fd = fr_fd_loss(ctx, ps, ft, r->c.beta);
    if (!zs || !fd) return NULL;
    return fr_add(ctx, fr_cross_entropy(ctx, zs, y, 0), fd);
}

static struct fr_tensor *ext_loss(void *user, struct fr_model *m, struct fr_ctx *ctx,
                                  struct fr_tensor *x, struct fr_tensor *y) {
    struct fr_kd_run *r = user;
    if (!strcmp(r->c.loss, "fd")) return fd_loss(r, m, ctx, x, y);
    int was = fr_is_training(ctx), g = fr_no_grad_begin(ctx);
    fr_set_training(ctx, 0);
    struct fr_tensor *zt = r->t->forward(r->t, ctx, x);
    fr_set_training(ctx, was);
    fr_no_grad_end(ctx, g);
    if (!zt) return NULL;
    struct fr_tensor *zs = m->forward(m, ctx, x);
    if (!zs) return NULL;
    if (!strcmp(r->c.loss, "nkd"))
        return fr_add(ctx, fr_cross_entropy(ctx, zs, y, 0),
                      fr_nkd_loss(ctx, zs, zt, y, r->c.gamma, r->c.T));
    return fr_kd_loss(ctx, zs, zt, y, r->c.alpha, r->c.T);
}

static int ext_end(void *user, struct fr_model *m) {
    (void)m;
    drop_teacher(user);
    return 0;
}

static void ext_release(void *user) {
    drop_teacher(user);
}

void fr_kd_run_init(struct fr_kd_run *r, const struct fr_kd_config *c) {
    memset(r, 0, sizeof *r);
    r->c = *c;
    snprintf(r->vals[0], sizeof r->vals[0], "%s", c->loss ? c->loss : "");
    snprintf(r->vals[1], sizeof r->vals[1], "%.17g", c->alpha);
    snprintf(r->vals[2], sizeof r->vals[2], "%.17g", c->T);
    snprintf(r->vals[3], sizeof r->vals[3], "%.17g", c->gamma);
    snprintf(r->vals[4], sizeof r->vals[4], "%.63s", c->teacher ? c->teacher : "");
    snprintf(r->vals[5], sizeof r->vals[5], "%.17g", c->beta);
    static const char *const keys[6] = {"kd.loss",  "kd.alpha",   "kd.T",
                                        "kd.gamma", "kd.teacher", "kd.beta"};
    for (int i = 0; i < 6; i++)
        r->kp[i] = keys[i], r->vp[i] = r->vals[i];
    r->ext = (struct fr_train_ext){.user = r,
                                   .meta_keys = r->kp,
                                   .meta_vals = r->vp,
                                   .nmeta = 6,
                                   .start = ext_start,
                                   .loss = ext_loss,
                                   .end = ext_end,
                                   .release = ext_release};
    r->rc = check_cfg(c);
}

void fr_kd_run_free(struct fr_kd_run *r) {
    drop_teacher(r);
}

int fr_kd_feature_channels(const char *teacher) {
    fr_clear_error();
    struct fr_model *t = fr_model_load(teacher, NULL);
    if (!t) return -1;
    int c = -1;
    if (!t->features) {
        fr_error(FR_EINVAL, "kd: teacher %s (%s) has no feature map", teacher, t->arch);
    } else {
        struct fr_ctx *ctx = fr_ctx_new(16 << 20);
        struct fr_tensor *x =
            ctx ? fr_zeros(ctx, FR_F32, 4,
                           (int64_t[]){t->cfg.in_w, t->cfg.in_h, t->cfg.in_channels, 1})
                : NULL;
        if (x) {
            fr_set_training(ctx, 0);
            int g = fr_no_grad_begin(ctx);
            struct fr_tensor *f = t->features(t, ctx, x);
            fr_no_grad_end(ctx, g);
            if (f) c = (int)f->ne[2];
        } else {
            fr_error(FR_ENOMEM, "kd: out of memory");
        }
        fr_ctx_free(ctx);
    }
    fr_model_free(t);
    return c;
}

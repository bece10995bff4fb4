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
}

static int check_cfg(const struct fr_kd_config *c) {
    if (!c->teacher || !c->teacher[0]) return fr_error(FR_EINVAL, "kd: no teacher checkpoint");
    if (!c->loss || (strcmp(c->loss, "kd") != 0 && strcmp(c->loss, "nkd") != 0))
        return fr_error(FR_EINVAL, "kd: unknown loss '%s' (known: kd, nkd)",
                        c->loss ? c->loss : "(null)");
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
    r->t = t;
    return 0;
}

static struct fr_tensor *ext_loss(void *user, struct fr_model *m, struct fr_ctx *ctx,
                                  struct fr_tensor *x, struct fr_tensor *y) {
    struct fr_kd_run *r = user;
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
    static const char *const keys[5] = {"kd.loss", "kd.alpha", "kd.T", "kd.gamma", "kd.teacher"};
    for (int i = 0; i < 5; i++)
        r->kp[i] = keys[i], r->vp[i] = r->vals[i];
    r->ext = (struct fr_train_ext){.user = r,
                                   .meta_keys = r->kp,
                                   .meta_vals = r->vp,
                                   .nmeta = 5,
                                   .start = ext_start,
                                   .loss = ext_loss,
                                   .end = ext_end,
                                   .release = ext_release};
    r->rc = check_cfg(c);
}

void fr_kd_run_free(struct fr_kd_run *r) {
    drop_teacher(r);
}

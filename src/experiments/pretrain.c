/* pretrain.c: pretrained models for transfer experiments, with a cache
 * (transfer.h). Training is fr_fit_classifier on the "pretrain" task; the cache is a
 * plain frugal checkpoint whose metadata also records the spec. */
#include "frugal/experiments/transfer.h"

#include "frugal/experiments/tasks.h"
#include "frugal/io.h"
#include "frugal/rng.h"
#include "frugal/status.h"
#include "frugal/train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void fr_pretrain_spec_defaults(struct fr_pretrain_spec *s) {
    memset(s, 0, sizeof *s);
    s->arch = "vit";
    s->objective = "supervised";
    s->epochs = 5;
    s->batch = 128;
    s->lr = 1e-3;
    s->wd = 1e-4;
    s->mask_ratio = 0.5;
    s->seed = 1;
}

struct mim_user {
    double ratio;
    struct fr_rng rng;
};

static struct fr_tensor *mim_loss(void *user, struct fr_model *m, struct fr_ctx *ctx,
                                  struct fr_tensor *x, struct fr_tensor *y) {
    (void)y;
    struct mim_user *u = user;
    return fr_vit_mim_loss(m, ctx, x, u->ratio, &u->rng);
}

static int mkdirs(const char *dir) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0777) && errno != EEXIST)
                return fr_error(FR_EIO, "pretrain: cannot create %s: %s", buf, strerror(errno));
            *p = '/';
        }
    if (mkdir(buf, 0777) && errno != EEXIST)
        return fr_error(FR_EIO, "pretrain: cannot create %s: %s", buf, strerror(errno));
    return 0;
}

int fr_pretrain(const struct fr_pretrain_spec *s, const char *data_dir, struct fr_model **out,
                struct fr_pretrain_info *info) {
    *out = NULL;
    memset(info, 0, sizeof *info);
    info->last_loss = NAN;
    info->test_acc = NAN;
    const char *obj = s->objective ? s->objective : "supervised";
    int mim = strcmp(obj, "mim") == 0;
    if (!mim && strcmp(obj, "supervised") != 0)
        return fr_error(FR_EINVAL, "pretrain: unknown objective '%s' (supervised, mim)", obj);
    if (!s->arch || s->images < 0 || s->images > FR_TASK_PRETRAIN_IMAGES || s->steps < 0 ||
        (s->epochs < 1 && s->steps == 0) || (mim && !(s->mask_ratio > 0 && s->mask_ratio < 1)))
        return fr_error(FR_EINVAL,
                        "pretrain: bad spec (arch %s, %lld images, %d epochs, %lld steps, mask "
                        "ratio %g)",
                        s->arch ? s->arch : "(none)", (long long)s->images, s->epochs,
                        (long long)s->steps, s->mask_ratio);
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    mc.mim = mim;
    struct fr_model *m = fr_model_new(s->arch, &mc, s->seed);
    if (!m) return FR_EINVAL;
    int64_t images = s->images ? s->images : FR_TASK_PRETRAIN_IMAGES;
    if (s->cache_dir) {
        char mr[32] = "", len_key[32];
        if (mim) snprintf(mr, sizeof mr, "-mr%g", s->mask_ratio);
        if (s->steps > 0) /* "t": a step count; "e": epochs (the older names stay valid) */
            snprintf(len_key, sizeof len_key, "t%lld", (long long)s->steps);
        else
            snprintf(len_key, sizeof len_key, "e%d", s->epochs);
        int len = snprintf(info->path, sizeof info->path,
                           "%s/%s-%s-n%lld-%s-b%d-lr%g-wd%g%s-s%llu.safetensors", s->cache_dir,
                           s->arch, obj, (long long)images, len_key, s->batch, s->lr, s->wd, mr,
                           (unsigned long long)s->seed);
        if (len < 0 || (size_t)len >= sizeof info->path) {
            fr_model_free(m);
            return fr_error(FR_EINVAL, "pretrain: cache directory name too long");
        }
        if (!s->on_step && access(info->path, R_OK) == 0) {
            int64_t counters[2] = {0};
            struct fr_ckpt_blob b = {"__pretrain__.steps", FR_I64, counters, 1, 0, 0};
            struct fr_ckpt o = {.blobs = &b, .nblobs = 1, .allow_extra = 1};
            int rc = fr_params_load(&m->params, info->path, &o);
            if (rc) {
                fr_model_free(m);
                return fr_error(rc, "pretrain: cache %s: %s", info->path, fr_last_error());
            }
            info->cached = 1;
            info->steps = counters[0];
            *out = m;
            return 0;
        }
    }
    struct fr_task t;
    int rc = fr_task_load(&t, "pretrain", data_dir, images, s->seed);
    if (rc) {
        fr_model_free(m);
        return rc;
    }
    struct fr_fit_classifier_config fc;
    fr_fit_classifier_config_defaults(&fc);
    fc.epochs = s->steps > 0 ? 0 : s->epochs;
    fc.steps = s->steps;
    fc.batch = s->batch;
    fc.lr = s->lr;
    fc.wd = s->wd;
    fc.seed = s->seed;
    fc.on_step = s->on_step;
    fc.step_user = s->user;
    struct mim_user mu = {.ratio = s->mask_ratio};
    fr_rng_seed(&mu.rng, s->seed ^ 0x6d696dull);
    if (mim) fc.loss = mim_loss, fc.loss_user = &mu;
    struct fr_fit_result fres;
    rc = fr_fit_classifier(m, &t.train, NULL, NULL, &fc, &fres);
    info->steps = fres.steps;
    info->seconds = fres.seconds;
    info->last_loss = fres.last_loss;
    if (!rc && !mim) {
        struct fr_subset first = {NULL, 0};
        int64_t nt = s->test_images > 0 && s->test_images < t.test.n ? s->test_images : 0;
        if (nt && !(first.idx = malloc(sizeof(int64_t) * (size_t)nt)))
            rc = fr_error(FR_ENOMEM, "pretrain: out of memory");
        for (int64_t i = 0; i < nt; i++)
            first.idx[i] = i;
        first.n = nt;
        if (!rc) rc = fr_evaluate(m, &t.test, nt ? &first : NULL, NULL, 0, &info->test_acc, NULL);
        free(first.idx);
    }
    fr_task_free(&t);
    if (!rc && s->cache_dir && !(rc = mkdirs(s->cache_dir))) {
        char keys[FR_MODEL_META_MAX][64], vals[FR_MODEL_META_MAX][64];
        int nm = fr_model_meta_write(m, keys, vals, FR_MODEL_META_MAX);
        const char *kp[FR_MODEL_META_MAX + 1], *vp[FR_MODEL_META_MAX + 1];
        for (int i = 0; i < nm; i++)
            kp[i] = keys[i], vp[i] = vals[i];
        kp[nm] = "pretrain.objective", vp[nm] = obj;
        int64_t counters[1] = {info->steps};
        struct fr_ckpt_blob b = {"__pretrain__.steps", FR_I64, counters, 1, 0, 0};
        struct fr_ckpt o = {kp, vp, nm + 1, &b, 1, FR_F32, 0, 0};
        rc = fr_params_save(&m->params, info->path, &o);
    }
    if (rc) {
        fr_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

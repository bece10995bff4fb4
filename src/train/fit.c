/* fit.c: train and evaluate a classifier the caller holds (train.h): the
 * image loader and the cross-entropy loss as hooks of the one training
 * loop (loop.c). What every method that starts from given weights shares:
 * fine-tuning after pruning, pretraining for transfer, IMP/ISP rounds, weak
 * models of a soup. Masks live in the slab (p->mask) and the optimizers
 * honour them, so nothing here knows about pruning. No checkpoints, no
 * validation split, no early stop (fr_train_run in train.c has those for
 * whole runs).
 */
#include "frugal/clock.h"
#include "frugal/train.h"

#include "frugal/data.h"
#include "frugal/models.h"
#include "frugal/ops.h"
#include "frugal/optim.h"
#include "frugal/status.h"
#include "frugal/tensor.h"

#include <math.h>
#include <string.h>

void fr_fit_classifier_config_defaults(struct fr_fit_classifier_config *c) {
    memset(c, 0, sizeof *c);
    c->epochs = 1;
    c->batch = 128;
    c->opt = "adamw";
    c->lr = 1e-3;
    c->momentum = 0.9;
    c->wd = 1e-4;
    c->schedule = "cosine";
    c->seed = 1;
}

int fr_evaluate(struct fr_model *m, const struct fr_dataset *ds, const struct fr_subset *sub,
                struct fr_ctx *ctx, int batch, double *acc, double *loss) {
    struct fr_ctx *own = NULL;
    if (!ctx && !(ctx = own = fr_ctx_new(64 << 20))) return fr_error(FR_ENOMEM, "out of memory");
    struct fr_loader L;
    struct fr_loader_config lc = {.batch = batch > 0 ? batch : 500};
    int rc = fr_loader_init(&L, ds, sub, &lc);
    if (rc) {
        fr_ctx_free(own);
        return rc;
    }
    int64_t correct = 0, seen = 0, got;
    double nll = 0;
    int g = fr_no_grad_begin(ctx);
    fr_set_training(ctx, 0);
    struct fr_tensor *x, *y;
    while ((got = fr_loader_next_tensor(&L, ctx, &x, &y)) > 0) {
        struct fr_tensor *logits = m->forward(m, ctx, x);
        if (!logits) {
            got = FR_EINVAL;
            break;
        }
        int64_t K = logits->ne[0];
        for (int64_t i = 0; i < got; i++) {
            const float *row = (const float *)((const char *)logits->data + i * logits->nb[1]);
            int32_t label = ((const int32_t *)y->data)[i];
            int64_t best = 0;
            for (int64_t k = 1; k < K; k++)
                if (row[k] > row[best]) best = k;
            correct += best == label;
            if (loss) {
                double s = 0;
                for (int64_t k = 0; k < K; k++)
                    s += exp((double)row[k] - (double)row[best]);
                nll += log(s) + (double)row[best] - (double)row[label];
            }
        }
        seen += got;
        fr_ctx_reset(ctx);
    }
    fr_ctx_reset(ctx);
    fr_set_training(ctx, 1);
    fr_no_grad_end(ctx, g);
    fr_loader_free(&L);
    fr_ctx_free(own);
    if (got < 0) return (int)got;
    /* no samples has no accuracy: 0% would be a wrong answer, not a result */
    if (seen == 0) return fr_error(FR_EINVAL, "evaluate: no samples to evaluate (an empty split)");
    *acc = (double)correct / (double)seen;
    if (loss) *loss = nll / (double)seen;
    return 0;
}

/* The image loader and the classifier's loss as fr_fit hooks. */
struct classifier_run {
    struct fr_model *m;
    struct fr_loader loader;
    const struct fr_fit_classifier_config *c;
};

static int64_t classifier_next(void *user, struct fr_ctx *ctx, struct fr_tensor **x,
                               struct fr_tensor **y) {
    struct classifier_run *r = user;
    return fr_loader_next_tensor(&r->loader, ctx, x, y);
}

static struct fr_tensor *classifier_loss(void *user, struct fr_ctx *ctx, struct fr_tensor *x,
                                         struct fr_tensor *y) {
    struct classifier_run *r = user;
    if (r->c->loss) return r->c->loss(r->c->loss_user, r->m, ctx, x, y);
    return fr_cross_entropy(ctx, r->m->forward(r->m, ctx, x), y, 0.0f);
}

static int classifier_after_step(void *user, const struct fr_fit_state *st, double loss,
                                 double lr) {
    struct classifier_run *r = user;
    (void)lr;
    return r->c->on_step ? r->c->on_step(r->c->step_user, r->m, st->step, st->total, loss) : 0;
}

int fr_fit_classifier(struct fr_model *m, const struct fr_dataset *ds, const struct fr_subset *sub,
                      struct fr_ctx *ctx, const struct fr_fit_classifier_config *c,
                      struct fr_fit_result *res) {
    int64_t n_samples = sub ? sub->n : ds->n;
    memset(res, 0, sizeof *res);
    if (c->steps < 0 || c->epochs < 0 || (c->steps == 0 && c->epochs == 0))
        return fr_error(FR_EINVAL, "fit: no steps and no epochs to train");
    if (c->batch < 1 || c->batch > n_samples)
        return fr_error(FR_EINVAL, "fit: batch %d with %lld training samples", c->batch,
                        (long long)n_samples);
    const char *sched = c->schedule ? c->schedule : "cosine";
    if (strcmp(sched, "cosine") != 0 && strcmp(sched, "none") != 0)
        return fr_error(FR_EINVAL, "fit: unknown schedule '%s' (cosine, none)", sched);
    struct classifier_run r = {m, {0}, c};
    struct fr_loader_config lc = {.batch = c->batch,
                                  .shuffle = 1,
                                  .drop_last = 1,
                                  .crop_pad = c->augment ? 2 : 0,
                                  .flip = c->augment,
                                  .seed = c->seed};
    int rc = fr_loader_init(&r.loader, ds, sub, &lc);
    if (rc) return rc;
    int64_t total = c->steps > 0 ? c->steps : (int64_t)c->epochs * fr_loader_batches(&r.loader);
    struct fr_fit_config lp = {
        .optim = {.opt = c->opt ? c->opt : "adamw",
                  .lr = c->lr,
                  .momentum = c->momentum,
                  .wd = c->wd,
                  .schedule = sched,
                  .warmup = c->warmup_steps,
                  .total_steps = total},
        .from = c->from,
        .to = c->to,
        .steps = total,
        .clip = c->clip,
        .ctx = ctx,
    };
    struct fr_fit_hooks h = {.user = &r,
                             .next = classifier_next,
                             .loss = classifier_loss,
                             .after_step = classifier_after_step};
    rc = fr_fit(&m->params, &lp, &h, res);
    fr_loader_free(&r.loader);
    return rc;
}

int fr_bn_recalibrate(struct fr_model *m, const struct fr_dataset *ds, const struct fr_subset *sub,
                      struct fr_ctx *ctx, int batch, int64_t batches, uint64_t seed) {
    if (batches < 1 || batch < 1)
        return fr_error(FR_EINVAL, "batch-norm re-estimation: %lld batches of %d images",
                        (long long)batches, batch);
    struct fr_ctx *own = NULL;
    if (!ctx && !(ctx = own = fr_ctx_new(64 << 20))) return fr_error(FR_ENOMEM, "out of memory");
    struct fr_loader L;
    struct fr_loader_config lc = {.batch = batch, .shuffle = 1, .drop_last = 1, .seed = seed};
    int rc = fr_loader_init(&L, ds, sub, &lc);
    if (rc) {
        fr_ctx_free(own);
        return rc;
    }
    if (fr_loader_batches(&L) < 1) {
        fr_loader_free(&L);
        fr_ctx_free(own);
        return fr_error(FR_EINVAL, "batch-norm re-estimation: batch %d is larger than the samples",
                        batch);
    }
    int g = fr_no_grad_begin(ctx);
    fr_set_training(ctx, 1);
    struct fr_tensor *x, *y;
    for (int64_t b = 0; b < batches && !rc;) {
        int64_t got = fr_loader_next_tensor(&L, ctx, &x, &y);
        if (got < 0)
            rc = (int)got;
        else if (got > 0) {
            if (!m->forward(m, ctx, x)) rc = FR_EINVAL;
            b++;
        }
        fr_ctx_reset(ctx);
    }
    fr_no_grad_end(ctx, g);
    fr_loader_free(&L);
    fr_ctx_free(own);
    return rc;
}

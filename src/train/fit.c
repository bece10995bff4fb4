/* fit.c: train and evaluate a classifier the caller holds (train.h).
 *
 * The shared inner loop of every method that starts from given weights:
 * fine-tuning after pruning, pretraining for transfer, IMP/ISP rounds, weak
 * models of a soup. Masks live in the slab (p->mask) and the optimizers
 * honour them, so nothing here knows about pruning. The loop is deliberately
 * plain: no checkpoints, no validation split, no early stop (fr_train_run in
 * train.c has those for whole runs).
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

#define LOSS_WINDOW 50

void fr_fit_config_defaults(struct fr_fit_config *c) {
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
                for (int64_t k = 0; k < K; k++) s += exp((double)row[k] - (double)row[best]);
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
    *acc = seen > 0 ? (double)correct / (double)seen : 0.0;
    if (loss) *loss = seen > 0 ? nll / (double)seen : NAN;
    return 0;
}

static int check_config(const struct fr_fit_config *c, int64_t n_samples, int *kind,
                        int *cosine) {
    if (c->steps < 0 || c->epochs < 0 || (c->steps == 0 && c->epochs == 0))
        return fr_error(FR_EINVAL, "fit: no steps and no epochs to train");
    if (c->batch < 1 || c->batch > n_samples)
        return fr_error(FR_EINVAL, "fit: batch %d with %lld training samples", c->batch,
                        (long long)n_samples);
    if (!(c->lr > 0) || !isfinite(c->lr) || c->wd < 0 || !isfinite(c->wd) || c->clip < 0)
        return fr_error(FR_EINVAL, "fit: bad learning rate %g / weight decay %g / clip %g",
                        c->lr, c->wd, c->clip);
    *kind = fr_optim_parse(c->opt ? c->opt : "adamw");
    if (*kind < 0) return fr_error(FR_EINVAL, "fit: unknown optimizer '%s'", c->opt);
    const char *s = c->schedule ? c->schedule : "cosine";
    if (strcmp(s, "cosine") != 0 && strcmp(s, "none") != 0)
        return fr_error(FR_EINVAL, "fit: unknown schedule '%s' (cosine, none)", s);
    *cosine = strcmp(s, "cosine") == 0;
    return 0;
}

int fr_fit(struct fr_model *m, const struct fr_dataset *ds, const struct fr_subset *sub,
           struct fr_ctx *ctx, const struct fr_fit_config *c, struct fr_fit_result *res) {
    int64_t n_samples = sub ? sub->n : ds->n;
    int kind = 0, cosine = 0;
    int rc = check_config(c, n_samples, &kind, &cosine);
    if (rc) return rc;
    memset(res, 0, sizeof *res);
    struct fr_ctx *own = NULL;
    if (!ctx && !(ctx = own = fr_ctx_new(64 << 20))) return fr_error(FR_ENOMEM, "out of memory");
    struct fr_loader L;
    struct fr_loader_config lc = {.batch = c->batch, .shuffle = 1, .drop_last = 1,
                                  .crop_pad = c->augment ? 2 : 0, .flip = c->augment,
                                  .seed = c->seed};
    struct fr_optim opt;
    struct fr_optim_config oc;
    fr_optim_config_defaults(&oc, (enum fr_opt_kind)kind);
    oc.weight_decay = c->wd;
    if (kind == FR_OPT_SGD) oc.momentum = c->momentum;
    if ((rc = fr_loader_init(&L, ds, sub, &lc))) {
        fr_ctx_free(own);
        return rc;
    }
    if ((rc = fr_optim_init(&opt, &m->params, &oc))) {
        fr_loader_free(&L);
        fr_ctx_free(own);
        return rc;
    }
    int64_t total = c->steps > 0 ? c->steps : (int64_t)c->epochs * fr_loader_batches(&L);
    struct fr_schedule sch = {.kind = cosine ? FR_SCHED_COSINE : FR_SCHED_CONST,
                              .base_lr = c->lr, .warmup_steps = c->warmup_steps,
                              .total_steps = total};
    double window[LOSS_WINDOW], t0 = fr_seconds();
    int64_t step = 0;
    fr_set_training(ctx, 1);
    while (step < total && !rc) {
        struct fr_tensor *x, *y;
        int64_t got = fr_loader_next_tensor(&L, ctx, &x, &y);
        if (got == 0) continue; /* epoch boundary: the loader starts the next one */
        if (got < 0) {
            rc = (int)got;
            break;
        }
        fr_params_zero_grad(&m->params);
        struct fr_tensor *loss = c->loss ? c->loss(c->loss_user, m, ctx, x, y)
                                         : fr_cross_entropy(ctx, m->forward(m, ctx, x), y, 0.0f);
        if (!loss || fr_backward(ctx, loss)) {
            rc = FR_EINVAL; /* the op or the loss callback set the message */
            break;
        }
        double lv = fr_get(loss, 0);
        if (!isfinite(lv)) {
            rc = fr_error(FR_EINVAL, "fit: loss is %g at step %lld", lv, (long long)step + 1);
            break;
        }
        if (c->clip > 0) fr_clip_grad_norm(&m->params, c->clip);
        fr_optim_step(&opt, fr_schedule_lr(&sch, opt.step));
        fr_ctx_reset(ctx);
        window[step % LOSS_WINDOW] = lv;
        step++;
        res->samples += got;
        if (c->on_step) rc = c->on_step(c->step_user, m, step, total, lv);
    }
    fr_ctx_reset(ctx);
    int64_t w = step < LOSS_WINDOW ? step : LOSS_WINDOW;
    double s = 0;
    for (int64_t i = 0; i < w; i++) s += window[i];
    res->steps = step;
    res->last_loss = w ? s / (double)w : NAN;
    res->seconds = fr_seconds() - t0;
    fr_optim_free(&opt);
    fr_loader_free(&L);
    fr_ctx_free(own);
    return rc;
}

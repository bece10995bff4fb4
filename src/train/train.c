/* train.c: supervised image-classification training (train.h).
 *
 * One step: take the loader's next batch (shuffled, augmented), zero the
 * gradient slab, forward, cross-entropy, backward, clip, optimizer step at
 * lr = schedule(step), fr_ctx_reset. Every activation lives in the arena, so
 * a step allocates nothing once the arena has grown to its peak.
 *
 * Resume is exact because every random draw has saved state: the
 * validation split is a pure function of the seed, and the data loader
 * (data.h) derives epoch e's order from (seed, e) and keeps its
 * augmentation generator in 64 bytes. The run state is then the parameter
 * slab (BN running statistics included), the optimizer slabs and step, the
 * loader state, the position (epoch, batch within epoch) and the curve
 * accumulators, all saved in one safetensors file with the model's metadata
 * and the run's config, which a resume must match.
 * Checkpoints are written atomically (fr_params_save: temp file, fsync,
 * rename), so a kill leaves the previous one intact.
 */
#include "frugal/train.h"
#include "frugal/clock.h"
#include "frugal/data.h"
#include "frugal/io.h"
#include "frugal/models.h"
#include "frugal/ops.h"
#include "frugal/optim.h"
#include "frugal/report.h"
#include "frugal/status.h"
#include "frugal/threads.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TR_FORMAT 2                  /* 2: the one training loop's checkpoint layout (loop.c) */
#define TR_RNG_SPLIT 0x53504c4954ULL /* mixed into the seed for the validation split */

void fr_train_config_defaults(struct fr_train_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->model = "cnn";
    cfg->data = "fashion-mnist";
    cfg->clutter = -1;
    cfg->epochs = 2;
    cfg->batch = 128;
    cfg->opt = "adamw";
    cfg->lr = 1e-3;
    cfg->momentum = 0.9;
    cfg->wd = 1e-4;
    cfg->schedule = "cosine";
    cfg->step_gamma = 0.1;
    cfg->step_every = 1;
    cfg->val_frac = 0.1;
    cfg->seed = 1;
    cfg->threads = 0;
    cfg->precision = "f32";
}

void fr_train_result_free(struct fr_train_result *res) {
    if (!res) return;
    free(res->train_loss);
    free(res->val_acc);
    free(res->epoch_seconds);
    res->train_loss = res->val_acc = res->epoch_seconds = NULL;
}

/* Prefixes the current error message (copied first: fr_error writes the
 * buffer fr_last_error returns). */
static int rewrap(int rc, const char *prefix) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", fr_last_error());
    return fr_error(rc, "%s%s", prefix, msg);
}

/* ---- the run: the image loader, curves and validation as loop hooks ---- */

enum { E_LOSS_SUM, E_LOSS_N, E_T0, E_N }; /* the current epoch's accumulators */

struct run {
    const struct fr_train_config *cfg;
    struct fr_model *m;
    struct fr_loader loader;
    const struct fr_dataset *tr;
    const struct fr_subset *val;
    struct fr_ctx *ctx;
    uint8_t loader_state[FR_LOADER_STATE_BYTES];
    double epoch_acc[E_N];
    double *curves; /* 3 * epochs: train_loss, val_acc, epoch_seconds */
    int64_t spe, total;
    /* metadata: model's, then the run's config */
    char keys[64][64], vals[64][64];
    const char *kp[64], *vp[64];
    int nmeta, nmodel_meta;
    int ext_started, ext_ended;
};

static void meta_add(struct run *r, const char *k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void meta_add(struct run *r, const char *k, const char *fmt, ...) {
    if (r->nmeta >= 64) return; /* 6 model + 21 run + 1 init + 12 DST pairs at most */
    snprintf(r->keys[r->nmeta], 64, "%s", k);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->vals[r->nmeta], 64, fmt, ap);
    va_end(ap);
    r->nmeta++;
}

/* The config values a resumed run must share with the checkpoint (threads
 * may differ, at the price of bit-exactness). */
static void build_meta(struct run *r) {
    const struct fr_train_config *c = r->cfg;
    r->nmeta = fr_model_meta_write(r->m, r->keys, r->vals, FR_MODEL_META_MAX);
    r->nmodel_meta = r->nmeta;
    meta_add(r, "train.format", "%d", TR_FORMAT);
    meta_add(r, "train.data", "%s", c->data ? c->data : "fashion-mnist");
    meta_add(r, "train.epochs", "%d", c->epochs);
    meta_add(r, "train.batch", "%d", c->batch);
    meta_add(r, "train.opt", "%s", c->opt);
    meta_add(r, "train.lr", "%.17g", c->lr);
    meta_add(r, "train.momentum", "%.17g", c->momentum);
    meta_add(r, "train.wd", "%.17g", c->wd);
    meta_add(r, "train.nesterov", "%d", c->nesterov);
    meta_add(r, "train.schedule", "%s", c->schedule ? c->schedule : "none");
    meta_add(r, "train.warmup_steps", "%d", c->warmup_steps);
    meta_add(r, "train.step_gamma", "%.17g", c->step_gamma);
    meta_add(r, "train.step_every", "%d", c->step_every);
    meta_add(r, "train.clip", "%.17g", c->clip);
    meta_add(r, "train.val_frac", "%.17g", c->val_frac);
    meta_add(r, "train.patience", "%d", c->patience);
    meta_add(r, "train.augment", "%d", c->augment);
    meta_add(r, "train.limit_train", "%lld", (long long)c->limit_train);
    meta_add(r, "train.seed", "%llu", (unsigned long long)c->seed);
    meta_add(r, "train.precision", "%s", c->precision ? c->precision : "f32");
    if (c->init) meta_add(r, "train.init", "%.63s", c->init_name);
    for (int i = 0; c->ext && i < c->ext->nmeta; i++)
        meta_add(r, "", "%.63s", c->ext->meta_vals[i]),
            snprintf(r->keys[r->nmeta - 1], 64, "train.%.50s", c->ext->meta_keys[i]);
    for (int i = 0; i < r->nmeta; i++)
        r->kp[i] = r->keys[i], r->vp[i] = r->vals[i];
}

static int64_t run_next(void *user, struct fr_ctx *ctx, struct fr_tensor **x,
                        struct fr_tensor **y) {
    struct run *r = user;
    return fr_loader_next_tensor(&r->loader, ctx, x, y);
}

static struct fr_tensor *run_loss(void *user, struct fr_ctx *ctx, struct fr_tensor *x,
                                  struct fr_tensor *y) {
    struct run *r = user;
    const struct fr_train_ext *e = r->cfg->ext;
    if (e && e->loss) return e->loss(e->user, r->m, ctx, x, y);
    return fr_cross_entropy(ctx, r->m->forward(r->m, ctx, x), y, 0.0f);
}

static int run_after_backward(void *user, const struct fr_fit_state *st) {
    struct run *r = user;
    return r->cfg->ext->after_backward(r->cfg->ext->user, st);
}

static int run_after_step(void *user, const struct fr_fit_state *st, double loss, double lr) {
    struct run *r = user;
    const struct fr_train_ext *x = r->cfg->ext;
    if (x && x->after_step) {
        int rc = x->after_step(x->user, st);
        if (rc) return rc;
    }
    r->epoch_acc[E_LOSS_SUM] += loss * (double)st->batch_samples;
    r->epoch_acc[E_LOSS_N] += (double)st->batch_samples;
    if (r->cfg->progress)
        r->cfg->progress(r->cfg->user, (int)st->epoch, st->step, r->total, loss, lr, 0, 0);
    return 0;
}

/* Epoch end (the loader is now at the next epoch): curves, validation
 * accuracy as the loop's score (0 without a validation split), then the
 * next epoch's accumulators. */
static int run_epoch_end(void *user, const struct fr_fit_state *st, double *score) {
    struct run *r = user;
    const double t_hook = fr_seconds();
    const int64_t E = r->cfg->epochs, e = st->epoch - 1;
    double *tl = r->curves, *va = r->curves + E, *es = r->curves + 2 * E;
    tl[e] = r->epoch_acc[E_LOSS_N] > 0 ? r->epoch_acc[E_LOSS_SUM] / r->epoch_acc[E_LOSS_N] : 0;
    double acc = 0;
    if (r->val->n > 0) {
        int rc = fr_evaluate(r->m, r->tr, r->val, r->ctx, r->cfg->batch, &acc, NULL);
        if (rc) return rc;
    }
    va[e] = acc;
    es[e] = st->seconds - r->epoch_acc[E_T0];
    *score = acc;
    if (r->cfg->progress)
        r->cfg->progress(r->cfg->user, (int)e, st->step, r->total, tl[e], 0, 1, acc);
    r->epoch_acc[E_LOSS_SUM] = r->epoch_acc[E_LOSS_N] = 0;
    r->epoch_acc[E_T0] = st->seconds + (fr_seconds() - t_hook);
    return 0;
}

static int run_blobs(void *user, struct fr_ckpt_blob *b, int cap) {
    struct run *r = user;
    if (cap < 3) return fr_error(FR_EINVAL, "train: no room for the run state");
    fr_loader_get_state(&r->loader, r->loader_state);
    b[0] = (struct fr_ckpt_blob){"__state__.epoch", FR_F64, r->epoch_acc, E_N, 0, 0};
    b[1] = (struct fr_ckpt_blob){"__state__.curves", FR_F64, r->curves, 3 * r->cfg->epochs, 0, 0};
    b[2] = (struct fr_ckpt_blob){"__state__.loader",    FR_U8, r->loader_state,
                                 FR_LOADER_STATE_BYTES, 0,     0};
    const struct fr_train_ext *x = r->cfg->ext;
    if (!x || !x->blobs) return 3;
    int k = x->blobs(x->user, b + 3, cap - 3);
    return k < 0 ? k : 3 + k;
}

static int run_resumed(void *user, const struct fr_fit_state *st) {
    struct run *r = user;
    if (st->pos > r->spe)
        return fr_error(FR_EFORMAT, "resume: %s has batch position %lld past an epoch of %lld",
                        r->cfg->ckpt, (long long)st->pos, (long long)r->spe);
    int rc = fr_loader_set_state(&r->loader, r->loader_state);
    if (rc) return rewrap(rc, "resume: ");
    const struct fr_train_ext *x = r->cfg->ext;
    return x && x->resumed ? x->resumed(x->user) : 0;
}

static int check_config(const struct fr_train_config *c) {
    if (!c->model) return fr_error(FR_EINVAL, "train: no model given (known: %s)", fr_model_list());
    if (c->data && strcmp(c->data, "fashion-mnist") != 0 && strcmp(c->data, "fashion-canvas") != 0)
        return fr_error(FR_ENOTFOUND,
                        "train: unknown dataset '%s' (known: fashion-mnist, fashion-canvas)",
                        c->data);
    if (c->canvas && (c->canvas < 28 || c->canvas > 1024))
        return fr_error(FR_EINVAL, "train: canvas side %d must be in 28..1024", c->canvas);
    if (c->epochs < 1 || c->epochs > 100000)
        return fr_error(FR_EINVAL, "train: epochs %d must be in 1..100000", c->epochs);
    if (c->batch < 1 || c->batch > 1 << 20)
        return fr_error(FR_EINVAL, "train: batch %d must be in 1..1048576", c->batch);
    if (fr_optim_parse(c->opt) < 0)
        return fr_error(FR_EINVAL, "train: unknown optimizer '%s' (known: sgd, adamw)",
                        c->opt ? c->opt : "(null)");
    if (c->schedule && fr_schedule_parse(c->schedule) < 0)
        return fr_error(FR_EINVAL, "train: unknown schedule '%s' (known: none, step, cosine)",
                        c->schedule);
    if (!(c->lr > 0) || !isfinite(c->lr))
        return fr_error(FR_EINVAL, "train: lr %g must be positive", c->lr);
    if (!(c->val_frac >= 0 && c->val_frac < 1))
        return fr_error(FR_EINVAL, "train: val_frac %g must be in [0, 1)", c->val_frac);
    if (c->warmup_steps < 0 || c->step_every < 0 || c->patience < 0 || c->ckpt_every < 0 ||
        c->limit_train < 0 || c->limit_test < 0 || c->stop_after_steps < 0 || !(c->clip >= 0))
        return fr_error(FR_EINVAL,
                        "train: negative warmup/step_every/patience/ckpt_every/limit/clip");
    if (c->resume && !c->ckpt) return fr_error(FR_EINVAL, "train: resume needs a checkpoint path");
    if (c->init && (!c->init_name || !c->init_name[0]))
        return fr_error(FR_EINVAL, "train: an init callback needs init_name");
    return 0;
}

/* Both splits hold images, of one size: found before training, not after. */
static int check_data(const struct fr_train_config *c, const struct fr_dataset *tr,
                      const struct fr_dataset *te) {
    const char *dir = c->data_dir ? c->data_dir : FR_FMNIST_DIR;
    if (tr->n < 1) return fr_error(FR_EINVAL, "the training split in %s has no images", dir);
    if (te->n < 1)
        return fr_error(FR_EINVAL,
                        "the test split in %s has no images: there would be no test accuracy "
                        "to report",
                        dir);
    if (te->C != tr->C || te->H != tr->H || te->W != tr->W)
        return fr_error(FR_EINVAL,
                        "the test images in %s are %d x %d x %d but the training images %d x "
                        "%d x %d",
                        dir, te->C, te->H, te->W, tr->C, tr->H, tr->W);
    return 0;
}

/* The final checkpoint, for fr_write_rescued. */
struct final_save {
    const struct fr_params *p;
    const struct fr_ckpt *o;
};

static int write_final(void *user, const char *path) {
    const struct final_save *f = user;
    int rc = fr_mkdirs_for(path);
    /* a pruned start (cfg->init) keeps its keep-mask beside the weights */
    return rc ? rc : fr_params_save_masked(f->p, path, f->o);
}

int fr_train_run(const struct fr_train_config *cfg, struct fr_train_result *res) {
    memset(res, 0, sizeof *res);
    int rc = check_config(cfg);
    if (rc) return rc;
    struct fr_dataset tr = {0}, te = {0};
    struct fr_subset sub_tr = {0}, sub_va = {0};
    struct run r = {0};
    struct fr_fit_result fit = {0};
    r.cfg = cfg;
    int prev_prec;
    if ((rc = fr_precision_begin(cfg->precision, &prev_prec))) return rc;
    if (cfg->threads > 0 && (rc = fr_threads_set(cfg->threads))) goto cleanup;
    /* everything that can fail without training fails now: the output
     * paths, then the data (both splits, the same image size) */
    if ((rc = fr_check_writable(cfg->out)) || (rc = fr_check_writable(cfg->ckpt))) goto cleanup;
    struct fr_data_spec ds = {cfg->data, cfg->canvas, cfg->clutter, 0};
    if ((rc = fr_dataset_load(&tr, &ds, cfg->data_dir, 1, cfg->limit_train))) goto cleanup;
    if ((rc = fr_dataset_load(&te, &ds, cfg->data_dir, 0, cfg->limit_test))) goto cleanup;
    if ((rc = check_data(cfg, &tr, &te))) goto cleanup;
    if ((rc = fr_dataset_split(&tr, cfg->val_frac, cfg->seed ^ TR_RNG_SPLIT, &sub_tr, &sub_va)))
        goto cleanup;
    if (sub_tr.n < 1) {
        rc = fr_error(FR_EINVAL, "train: no training images left after the validation split");
        goto cleanup;
    }
    r.tr = &tr;
    r.val = &sub_va;
    struct fr_loader_config lc = {.batch = cfg->batch, .shuffle = 1, .seed = cfg->seed};
    if (cfg->augment) lc.crop_pad = 2, lc.flip = 1;
    if ((rc = fr_loader_init(&r.loader, &tr, &sub_tr, &lc))) goto cleanup;
    if (!(r.curves = calloc(3 * (size_t)cfg->epochs, sizeof *r.curves))) {
        rc = fr_error(FR_ENOMEM, "train: out of memory");
        goto cleanup;
    }

    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    mc.n_classes = tr.nclass;
    mc.in_channels = tr.C;
    mc.in_h = tr.H;
    mc.in_w = tr.W;
    mc.width_mult = cfg->width_mult > 0 ? cfg->width_mult : 1;
    if (cfg->nwidths < 0 || cfg->nwidths > FR_MODEL_MAX_WIDTHS) {
        rc =
            fr_error(FR_EINVAL, "train: %d widths (at most %d)", cfg->nwidths, FR_MODEL_MAX_WIDTHS);
        goto cleanup;
    }
    mc.nwidths = cfg->nwidths;
    for (int i = 0; i < cfg->nwidths; i++)
        mc.widths[i] = cfg->widths[i];
    for (int i = 0; i < 3; i++)
        mc.kernels[i] = cfg->kernels[i];
    mc.small_kernel = cfg->small_kernel;
    mc.merged = cfg->merged;
    mc.fd_channels = cfg->fd_channels;
    mc.nb201 = cfg->nb201;
    /* the data the model reads, in its metadata: eval and erf of a canvas
     * model load canvases */
    if (cfg->data && !strcmp(cfg->data, "fashion-canvas"))
        fr_data_spec_format(&(struct fr_data_spec){cfg->data, cfg->canvas, cfg->clutter, 0},
                            mc.data, sizeof mc.data);
    if (!(r.m = fr_model_new(cfg->model, &mc, cfg->seed))) {
        rc = FR_EINVAL;
        goto cleanup;
    }
    if (cfg->init && (rc = cfg->init(cfg->init_user, r.m))) goto cleanup;
    if (r.m->params.mask) fr_params_apply_mask(&r.m->params);
    res->n_params = fr_params_count_trainable(&r.m->params);
    build_meta(&r);
    if (!(r.ctx = fr_ctx_new(64 << 20))) {
        rc = FR_ENOMEM;
        goto cleanup;
    }
    r.spe = fr_loader_batches(&r.loader);
    r.total = r.spe * cfg->epochs;
    if (cfg->ext && cfg->ext->start) {
        if ((rc = cfg->ext->start(cfg->ext->user, r.m, r.total))) goto cleanup;
        r.ext_started = 1;
    }
    struct fr_fit_config lp = {
        .optim = {.opt = cfg->opt,
                  .lr = cfg->lr,
                  .momentum = cfg->momentum,
                  .nesterov = cfg->nesterov,
                  .wd = cfg->wd,
                  .schedule = cfg->schedule,
                  .warmup = cfg->warmup_steps,
                  .step_every = (int64_t)cfg->step_every * r.spe,
                  .gamma = cfg->step_gamma,
                  .total_steps = r.total},
        .epochs = cfg->epochs,
        .total = r.total,
        .clip = cfg->clip,
        .patience = sub_va.n > 0 ? cfg->patience : 0,
        .ctx = r.ctx,
        .ckpt = cfg->ckpt,
        .ckpt_every = cfg->ckpt_every,
        .ckpt_epoch_end = 1,
        .resume = cfg->resume,
        .meta_keys = r.kp,
        .meta_vals = r.vp,
        .nmeta = r.nmeta,
        .stop_after = cfg->stop_after_steps,
        .data_parallel = cfg->data_parallel,
        .bucket_bytes = cfg->bucket_bytes,
        .local_bn = cfg->local_bn,
    };
    struct fr_fit_hooks h = {.user = &r,
                             .next = run_next,
                             .loss = run_loss,
                             .after_backward =
                                 cfg->ext && cfg->ext->after_backward ? run_after_backward : NULL,
                             .after_step = run_after_step,
                             .epoch_end = run_epoch_end,
                             .blobs = run_blobs,
                             .resumed = run_resumed};
    if ((rc = fr_mkdirs_for(cfg->ckpt))) goto cleanup;
    rc = fr_fit(&r.m->params, &lp, &h, &fit);
    res->resumed = fit.resumed;
    res->resumed_step = fit.resumed_step;
    res->comm_seconds = fit.comm_seconds;
    res->comm_bytes = fit.comm_bytes;
    if (rc) {
        if (strncmp(fr_last_error(), "resume:", 7) != 0) rc = rewrap(rc, "train: ");
        goto cleanup;
    }
    if (fit.stopped == 1) {
        res->interrupted = 1;
    } else {
        if ((rc = fr_evaluate(r.m, &te, NULL, r.ctx, cfg->batch, &res->test_acc, NULL)))
            goto cleanup;
        if (cfg->out) {
            struct fr_ckpt o = {r.kp, r.vp, r.nmodel_meta, NULL, 0, FR_F32, 0, 0};
            struct final_save fs = {&r.m->params, &o};
            if ((rc = write_final(&fs, cfg->out)) &&
                (rc = fr_write_rescued(rc, cfg->out, "the trained model", write_final, &fs, NULL,
                                       0)))
                goto cleanup;
        }
    }
    if (!res->interrupted && cfg->ext && cfg->ext->end) {
        r.ext_ended = 1;
        if ((rc = cfg->ext->end(cfg->ext->user, r.m))) goto cleanup;
    }
    res->epochs_run = (int)fit.epochs;
    res->steps = fit.steps;
    res->best_val_acc = fit.best_score < 0 ? 0 : fit.best_score;
    res->final_train_loss = res->epochs_run > 0 ? r.curves[res->epochs_run - 1] : 0;
    res->peak_arena_bytes = fr_ctx_peak(r.ctx);
    res->seconds = fit.seconds;
    res->train_loss = malloc((size_t)(res->epochs_run + 1) * sizeof(double));
    res->val_acc = malloc((size_t)(res->epochs_run + 1) * sizeof(double));
    res->epoch_seconds = malloc((size_t)(res->epochs_run + 1) * sizeof(double));
    if (!res->train_loss || !res->val_acc || !res->epoch_seconds) {
        fr_train_result_free(res);
        rc = fr_error(FR_ENOMEM, "train: out of memory");
        goto cleanup;
    }
    for (int i = 0; i < res->epochs_run; i++) {
        res->train_loss[i] = r.curves[i];
        res->val_acc[i] = r.curves[cfg->epochs + i];
        res->epoch_seconds[i] = r.curves[2 * cfg->epochs + i];
    }
cleanup:
    if (r.ext_started && !r.ext_ended && cfg->ext->release) cfg->ext->release(cfg->ext->user);
    fr_ctx_free(r.ctx);
    fr_loader_free(&r.loader);
    fr_model_free(r.m);
    free(r.curves);
    fr_subset_free(&sub_tr);
    fr_subset_free(&sub_va);
    fr_dataset_free(&tr);
    fr_dataset_free(&te);
    fr_precision_end(prev_prec);
    return rc;
}

int fr_eval_checkpoint(const char *path, const char *data_dir, int batch, double *acc) {
    struct fr_st_file *f = NULL;
    struct fr_model *m = NULL;
    struct fr_ctx *ctx = NULL;
    struct fr_dataset te = {0};
    if (batch <= 0) batch = 256;
    int rc = fr_st_open(path, &f);
    if (rc) return rc;
    char arch[32];
    struct fr_model_config mc;
    rc = fr_model_meta_read(f->nmeta, (const char *const *)f->meta_keys,
                            (const char *const *)f->meta_vals, arch, sizeof arch, &mc);
    fr_st_close(f);
    /* the data the model was trained on: its config says (models.h) */
    struct fr_data_spec spec;
    if (!rc) rc = fr_data_spec_parse(mc.data[0] ? mc.data : "fashion-mnist", &spec);
    if (rc) {
        char pre[300];
        snprintf(pre, sizeof pre, "%.280s: ", path);
        return rewrap(rc, pre);
    }
    if (!(m = fr_model_new(arch, &mc, 0))) return FR_EINVAL;
    struct fr_ckpt o = {0};
    o.allow_extra = 1; /* a run checkpoint carries optimizer and run state too */
    /* the weights as the checkpoint means them: a stored keep-mask applied,
     * as `frugal sparsity` counts them */
    if ((rc = fr_params_load_masked(&m->params, path, &o, NULL))) goto cleanup;
    if ((rc = fr_dataset_load(&te, &spec, data_dir, 0, 0))) goto cleanup;
    if (te.n < 1) {
        rc = fr_error(FR_EINVAL, "the test split in %s has no images",
                      data_dir ? data_dir : FR_FMNIST_DIR);
        goto cleanup;
    }
    if (te.C != mc.in_channels || te.H != mc.in_h || te.W != mc.in_w || te.nclass != mc.n_classes) {
        rc = fr_error(FR_EINVAL,
                      "%s: model takes %d x %d x %d input with %d classes, data has "
                      "%d x %d x %d with %d",
                      path, mc.in_channels, mc.in_h, mc.in_w, mc.n_classes, te.C, te.H, te.W,
                      te.nclass);
        goto cleanup;
    }
    if (!(ctx = fr_ctx_new(64 << 20))) {
        rc = fr_error(FR_ENOMEM, "eval: out of memory");
        goto cleanup;
    }
    rc = fr_evaluate(m, &te, NULL, ctx, batch, acc, NULL);
cleanup:
    fr_ctx_free(ctx);
    fr_dataset_free(&te);
    fr_model_free(m);
    return rc;
}

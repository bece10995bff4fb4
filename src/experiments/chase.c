/* chase.c: `frugal repro chase`, Chase (arXiv 2305.19454): channel-aware
 * dynamic sparse training that ends as a physically narrower dense
 * network, against dense training, static sparse training (fixed ERK
 * mask), SET, RigL and MEST, on Fashion-MNIST (methods/dst.h).
 *
 * Recipe, per model, seed and density d (every method the same recipe:
 * AdamW, cosine learning rate to 0, weight decay 5e-4, batch 32, the
 * plan's epochs over the first limit_train training images, 10% held out).
 * The authors train 160 epochs of SGD (lr 0.1, momentum 0.9, step decay)
 * on CIFAR; on this 2-core budget (a few hundred steps per run) SGD left
 * the sparse runs far from converged (RigL at 10%: 34% with SGD lr 0.05 vs
 * 74% with AdamW, same 108 steps), so every method here uses AdamW:
 *   1. dense training once per seed (the baseline and the throughput
 *      reference);
 *   2. static, SET, RigL, MEST and Chase at each channel sparsity S_c of the
 *      plan (S_c = 0 is Chase's weight schedule alone), ERK initial masks,
 *      an update every update_every steps, Chase's channel removal every
 *      channel_every steps until 80% of the run;
 *   3. each sparse model at the end: test accuracy, kept weights, the
 *      channel densities of its prunable layers (how many channels are
 *      "sparse-amenable": below half their layer's density, empty ones
 *      included), inference FLOPs (dense kernels on the shrunk model; kept
 *      weights only), training FLOPs (3 x the final mask's forward FLOPs x
 *      samples: the sparse-kernel cost the papers count);
 *   4. Chase models are shrunk (models.h fr_model_shrink), their batch-norm
 *      statistics re-estimated on bn_batches training batches, and tested
 *      again (the shrunk model's accuracy is the one reported);
 *   5. throughput at batch 1 and 64 on the pool's threads, interleaved
 *      (dense original, the sparse model on the CSR conv kernel, the shrunk
 *      model), the median of reps timings each: images per second and the
 *      ratio to the dense model in the same run.
 * Compared numbers are means over seeds with Student t 95% intervals;
 * verdicts (Chase vs RigL, RigL vs SET, channel removal's cost, the
 * throughput goal) come from paired intervals (fr_verdict_of).
 */
#include "frugal/experiments/experiment.h"

#include "frugal/clock.h"
#include "frugal/data.h"
#include "frugal/methods/dst.h"
#include "frugal/methods/prune.h"
#include "frugal/models.h"
#include "frugal/ops.h"
#include "frugal/report.h"
#include "frugal/rng.h"
#include "frugal/status.h"
#include "frugal/threads.h"
#include "frugal/train.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXM 3  /* models */
#define MAXD 3  /* densities */
#define MAXSC 3 /* channel sparsities */
#define MAXSEEDS 5
#define NBASE 4 /* static, set, rigl, mest */
#define MAXMETH (NBASE + MAXSC)
#define NTPUT 2 /* throughput batches */
#define NVAR 3  /* dense, csr, shrunk */
#define MAXTRACK 512

struct chase_plan {
    const char *title;
    const char *models[MAXM];
    int mult[MAXM];
    int nmodels;
    double dens[MAXD];
    int ndens;
    double sc[MAXSC]; /* Chase's channel sparsities, 0 first */
    int nsc;
    int nseeds;
    int epochs, batch;
    int64_t limit_train, test_images;
    const char *opt;
    double lr, wd;
    int64_t update_every, channel_every;
    int64_t bn_batches;
    int reps;
    int tput[NTPUT]; /* throughput batch sizes */
};

static const struct chase_plan FULL = {
    .title = "Chase: channel-aware dynamic sparse training (full)",
    .models = {"vgg-small", "resnet20"},
    .mult = {1, 1},
    .nmodels = 2,
    .dens = {0.1, 0.05, 0.02},
    .ndens = 3,
    .sc = {0, 0.4},
    .nsc = 2,
    .nseeds = 3,
    .epochs = 3,
    .batch = 32,
    .limit_train = 5000,
    .test_images = 5000,
    .opt = "adamw",
    .lr = 2e-3,
    .wd = 5e-4,
    .update_every = 20,
    .channel_every = 40,
    .bn_batches = 50,
    .reps = 7,
    .tput = {1, 64},
};

static const struct chase_plan QUICK = {
    .title = "Chase: channel-aware dynamic sparse training (quick)",
    .models = {"vgg-small"},
    .mult = {1},
    .nmodels = 1,
    .dens = {0.1},
    .ndens = 1,
    .sc = {0, 0.4},
    .nsc = 2,
    .nseeds = 2,
    .epochs = 2,
    .batch = 32,
    .limit_train = 3000,
    .test_images = 2000,
    .opt = "adamw",
    .lr = 2e-3,
    .wd = 5e-4,
    .update_every = 20,
    .channel_every = 40,
    .bn_batches = 20,
    .reps = 5,
    .tput = {1, 64},
};

/* Seconds; numbers meaningless: every path once. */
static const struct chase_plan TINY = {
    .title = "Chase (tiny)",
    .models = {"vgg-small"},
    .mult = {1},
    .nmodels = 1,
    .dens = {0.1},
    .ndens = 1,
    .sc = {0, 0.4},
    .nsc = 2,
    .nseeds = 2,
    .epochs = 1,
    .batch = 32,
    .limit_train = 320,
    .test_images = 100,
    .opt = "adamw",
    .lr = 2e-3,
    .wd = 5e-4,
    .update_every = 2,
    .channel_every = 2,
    .bn_batches = 2,
    .reps = 2,
    .tput = {1, 8},
};

/* One cell's numbers (model, density, method, seed). */
struct cell {
    double acc;               /* % (Chase: the shrunk model's, BN re-estimated) */
    double acc_masked;        /* % of the full-width masked model */
    double kept;              /* kept fraction of the scope */
    double alive;             /* prunable channels alive, fraction */
    double amenable;          /* fraction of channels below half their layer's density */
    double mflops_dense;      /* forward, dense kernels (shrunk model for Chase) */
    double mflops_sparse;     /* forward, kept weights only */
    double train_pflops;      /* 3 x forward sparse FLOPs x samples, 1e15 */
    double tput[NTPUT][NVAR]; /* images / s */
    int nl;                   /* prunable channel layers and their widths at the end */
    int widths[FR_MODEL_MAX_WIDTHS];
    int done;
};

struct ctx {
    const struct fr_exp_opts *o;
    const struct chase_plan *P;
    struct fr_results *r;
    char dir[4096];
    struct fr_dataset tr, te;
    double t0;
    int nmeth;
    char mname[MAXMETH][32];
    int mcode[MAXMETH]; /* fr_dst_method */
    double msc[MAXMETH];
    /* [model][density][method][seed]; dense: [model][seed] */
    struct cell cells[MAXM][MAXD][MAXMETH][MAXSEEDS];
    struct cell dense[MAXM][MAXSEEDS];
    /* the first seed's RigL channel densities at the first density, per model */
    double *chan_dens[MAXM];
    int *chan_layer[MAXM];
    int64_t nchan[MAXM];
    /* the first seed's Chase (largest S_c) channel counts over training */
    int64_t track_step[MAXTRACK];
    int track_alive[MAXTRACK][FR_MODEL_MAX_WIDTHS];
    int ntrack, track_layers;
    char track_names[FR_MODEL_MAX_WIDTHS][64];
    char notes[16384];
    size_t nn;
};

#define say(c, ...) fr_exp_append((c)->notes, sizeof(c)->notes, &(c)->nn, __VA_ARGS__)

/* ---- throughput ---- */

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Seconds of one eval-mode forward of x through m. */
static double time_forward(struct fr_model *m, struct fr_ctx *ctx, struct fr_tensor *x) {
    double t = fr_seconds();
    struct fr_tensor *y = m->forward(m, ctx, x);
    t = fr_seconds() - t;
    return y ? t : NAN;
}

/* Images per second of the three variants at batch N: reps rounds of
 * dense, csr (sparse with its CSR attached), shrunk (NULL: skipped),
 * medians. */
static int throughput(struct fr_model *dense, struct fr_model *sparse, struct fr_model *shrunk,
                      int N, int reps, double *out) {
    struct fr_ctx *ctx = fr_ctx_new((size_t)256 << 20);
    double *t[NVAR];
    struct fr_sparse_model sm;
    int rc = 0;
    for (int v = 0; v < NVAR; v++)
        t[v] = calloc((size_t)reps, sizeof(double));
    if (!ctx || !t[0] || !t[1] || !t[2]) {
        rc = fr_error(FR_ENOMEM, "chase: out of memory");
        goto done;
    }
    if ((rc = fr_sparse_attach(&sm, sparse, 1.0))) goto done;
    fr_set_training(ctx, 0);
    int g = fr_no_grad_begin(ctx);
    struct fr_rng rng;
    fr_rng_seed(&rng, 99);
    struct fr_tensor *x = fr_new(
        ctx, FR_F32, 4, (int64_t[]){dense->cfg.in_w, dense->cfg.in_h, dense->cfg.in_channels, N});
    if (!x) {
        fr_no_grad_end(ctx, g);
        fr_sparse_detach(&sm);
        rc = fr_error(FR_ENOMEM, "chase: out of memory");
        goto done;
    }
    fr_rng_fill_normal(&rng, x->data, fr_nelem(x), 0, 1);
    struct fr_model *v3[NVAR] = {dense, sparse, shrunk};
    for (int r = -1; r < reps && x; r++) /* one warm-up round */
        for (int v = 0; v < NVAR && x; v++) {
            if (!v3[v]) continue;
            double s = time_forward(v3[v], ctx, x);
            fr_ctx_reset(ctx);
            x = fr_new(ctx, FR_F32, 4,
                       (int64_t[]){dense->cfg.in_w, dense->cfg.in_h, dense->cfg.in_channels, N});
            if (!x) break;
            fr_rng_fill_normal(&rng, x->data, fr_nelem(x), 0, 1);
            if (r >= 0) t[v][r] = s;
        }
    fr_no_grad_end(ctx, g);
    fr_sparse_detach(&sm);
    if (!x) {
        rc = fr_error(FR_ENOMEM, "chase: out of memory");
        goto done;
    }
    for (int v = 0; v < NVAR; v++) {
        qsort(t[v], (size_t)reps, sizeof(double), cmpd);
        out[v] = v3[v] && t[v][reps / 2] > 0 ? (double)N / t[v][reps / 2] : NAN;
    }
done:
    for (int v = 0; v < NVAR; v++)
        free(t[v]);
    fr_ctx_free(ctx);
    return rc;
}

/* ---- one training run, with the analysis in the run's end hook ---- */

struct job {
    struct ctx *c;
    int mi, di, meth, si;
    struct fr_dst_run dr; /* the DST extension; this file observes it (on_step, on_end) */
    struct cell *cell;
    struct fr_model *dense_model; /* the throughput reference (a fresh dense model) */
    int track;
};

/* The tracked run's channel counts per layer every update interval. */
static int job_step(void *user, struct fr_dst *d, const struct fr_fit_state *st) {
    struct job *j = user;
    struct ctx *c = j->c;
    if (!j->track || st->step % j->dr.c.update_every != 0 || c->ntrack >= MAXTRACK) return 0;
    int nl;
    const uint8_t *const *al = fr_dst_alive(d, &nl);
    struct fr_channel_layer L[FR_MODEL_MAX_WIDTHS];
    fr_model_channels(fr_dst_model(d), L, FR_MODEL_MAX_WIDTHS);
    c->track_step[c->ntrack] = st->step;
    for (int l = 0; l < nl; l++) {
        int a = 0;
        for (int64_t ch = 0; ch < L[l].C; ch++)
            a += al[l][ch];
        c->track_alive[c->ntrack][l] = a;
        snprintf(c->track_names[l], 64, "%.63s", L[l].name);
    }
    c->track_layers = nl;
    c->ntrack++;
    return 0;
}

static int job_end(void *user, struct fr_dst *d, struct fr_model *m) {
    struct job *j = user;
    struct ctx *c = j->c;
    const struct chase_plan *P = c->P;
    struct cell *cl = j->cell;
    int rc = 0;
    struct fr_model *shrunk = NULL;
    cl->kept = (double)fr_dst_nnz(d) / (double)fr_dst_scope_size(d);
    int64_t total, alive = fr_dst_channels_alive(d, &total);
    /* channel densities (the observation) */
    double *dens = NULL;
    int *layer = NULL;
    int64_t n = 0, amen = 0;
    if ((rc = fr_dst_channel_density(m, 0.5, &dens, &layer, &n, &amen))) return rc;
    cl->amenable = n > 0 ? (double)amen / (double)n : 0;
    if (j->meth == 2 && j->si == 0 && j->di == 0 && !c->chan_dens[j->mi]) { /* RigL */
        c->chan_dens[j->mi] = dens;
        c->chan_layer[j->mi] = layer;
        c->nchan[j->mi] = n;
    } else {
        free(dens);
        free(layer);
    }
    double acc = 0;
    if ((rc = fr_evaluate(m, &c->te, NULL, NULL, 500, &acc, NULL))) return rc;
    cl->acc_masked = cl->acc = 100 * acc;
    int nl;
    const uint8_t *const *al = fr_dst_alive(d, &nl);
    if (nl > 0) {
        struct fr_channel_layer L[FR_MODEL_MAX_WIDTHS];
        fr_model_channels(m, L, FR_MODEL_MAX_WIDTHS);
        cl->nl = nl;
        for (int l = 0; l < nl; l++) {
            cl->widths[l] = 0;
            for (int64_t ch = 0; ch < L[l].C; ch++)
                cl->widths[l] += al[l][ch];
        }
        cl->alive = (double)alive / (double)total;
        if (!(shrunk = fr_model_shrink(m, al))) return FR_EINVAL;
        if ((rc = fr_bn_recalibrate(shrunk, &c->tr, NULL, NULL, P->batch, P->bn_batches,
                                    c->o->seed)) ||
            (rc = fr_evaluate(shrunk, &c->te, NULL, NULL, 500, &acc, NULL)))
            goto done;
        cl->acc = 100 * acc;
    } else {
        cl->alive = 1;
    }
    int64_t fd, fs;
    if ((rc = fr_model_flops(shrunk ? shrunk : m, &fd, &fs))) goto done;
    cl->mflops_dense = (double)fd / 1e6;
    cl->mflops_sparse = (double)fs / 1e6;
    /* samples: the run's steps of P->batch images */
    cl->train_pflops = 3.0 * (double)fs * (double)(fr_dst_steps(d) * P->batch) / 1e15;
    for (int b = 0; b < NTPUT; b++)
        if ((rc = throughput(j->dense_model, m, shrunk, P->tput[b], P->reps, cl->tput[b])))
            goto done;
    cl->done = 1;
done:
    fr_model_free(shrunk);
    return rc;
}

static void base_config(const struct ctx *c, int mi, int si, struct fr_train_config *t) {
    const struct chase_plan *P = c->P;
    fr_train_config_defaults(t);
    t->model = P->models[mi];
    t->width_mult = P->mult[mi];
    t->data_dir = c->o->data_dir;
    t->epochs = P->epochs;
    t->batch = P->batch;
    t->opt = P->opt;
    t->lr = P->lr;
    t->momentum = 0.9;
    t->wd = P->wd;
    t->schedule = "cosine";
    t->limit_train = P->limit_train;
    t->limit_test = P->test_images;
    t->seed = c->o->seed + (uint64_t)si;
}

static struct fr_model *fresh_dense(const struct ctx *c, int mi) {
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    mc.n_classes = c->tr.nclass;
    mc.in_channels = c->tr.C;
    mc.in_h = c->tr.H;
    mc.in_w = c->tr.W;
    mc.width_mult = c->P->mult[mi];
    return fr_model_new(c->P->models[mi], &mc, 1);
}

static int run_dense(struct ctx *c, int mi, int si) {
    struct fr_train_config t;
    base_config(c, mi, si, &t);
    struct fr_train_result res;
    int rc = fr_train_run(&t, &res);
    if (rc) return rc;
    struct cell *cl = &c->dense[mi][si];
    cl->acc = cl->acc_masked = 100 * res.test_acc;
    cl->kept = cl->alive = 1;
    fr_train_result_free(&res);
    struct fr_model *m = fresh_dense(c, mi);
    int64_t fd, fs;
    if (!m) return FR_EINVAL;
    rc = fr_model_flops(m, &fd, &fs);
    cl->mflops_dense = cl->mflops_sparse = (double)fd / 1e6;
    cl->train_pflops = 3.0 * (double)fd * (double)(res.steps * t.batch) / 1e15;
    cl->done = 1;
    fr_model_free(m);
    return rc;
}

static int run_sparse(struct ctx *c, int mi, int di, int meth, int si) {
    const struct chase_plan *P = c->P;
    struct job j = {.c = c, .mi = mi, .di = di, .meth = meth, .si = si};
    j.cell = &c->cells[mi][di][meth][si];
    struct fr_dst_config dc;
    fr_dst_config_defaults(&dc);
    dc.method = (enum fr_dst_method)c->mcode[meth];
    dc.density = P->dens[di];
    dc.update_every = P->update_every;
    dc.channel_every = P->channel_every;
    dc.channel_sparsity = c->msc[meth];
    dc.seed = c->o->seed + (uint64_t)si;
    fr_dst_run_init(&j.dr, &dc);
    j.dr.observer = &j;
    j.dr.on_step = job_step;
    j.dr.on_end = job_end;
    j.track = si == 0 && di == 0 && meth == c->nmeth - 1 && c->msc[meth] > 0 && c->ntrack == 0;
    j.dense_model = fresh_dense(c, mi);
    if (!j.dense_model) return FR_EINVAL;
    struct fr_train_config t;
    base_config(c, mi, si, &t);
    t.ext = &j.dr.ext;
    struct fr_train_result res;
    int rc = fr_train_run(&t, &res);
    if (!rc) fr_train_result_free(&res);
    fr_model_free(j.dense_model);
    fr_dst_run_free(&j.dr);
    return rc;
}

/* ---- aggregation ---- */

enum {
    F_ACC,
    F_ACC_MASKED,
    F_KEPT,
    F_ALIVE,
    F_AMEN,
    F_MFD,
    F_MFS,
    F_TRAIN,
    F_SPEED1,
    F_SPEED64,
    F_CSR1,
    F_CSR64,
    NF
};

static double field(const struct cell *x, int f) {
    switch (f) {
    case F_ACC:
        return x->acc;
    case F_ACC_MASKED:
        return x->acc_masked;
    case F_KEPT:
        return 100 * x->kept;
    case F_ALIVE:
        return 100 * x->alive;
    case F_AMEN:
        return 100 * x->amenable;
    case F_MFD:
        return x->mflops_dense;
    case F_MFS:
        return x->mflops_sparse;
    case F_TRAIN:
        return x->train_pflops;
    case F_SPEED1:
        return x->tput[0][2] / x->tput[0][0];
    case F_SPEED64:
        return x->tput[1][2] / x->tput[1][0];
    case F_CSR1:
        return x->tput[0][1] / x->tput[0][0];
    case F_CSR64:
        return x->tput[1][1] / x->tput[1][0];
    default:
        return NAN;
    }
}

/* The t interval of field f over the seeds of a cell row (dense: meth < 0). */
static int interval(const struct ctx *c, int mi, int di, int meth, int f, struct fr_interval *iv) {
    double v[MAXSEEDS];
    int n = 0;
    for (int s = 0; s < c->P->nseeds; s++) {
        const struct cell *x = meth < 0 ? &c->dense[mi][s] : &c->cells[mi][di][meth][s];
        double y = field(x, f);
        if (x->done && isfinite(y)) v[n++] = y;
    }
    if (n == 0) {
        *iv = (struct fr_interval){NAN, NAN, NAN, 0, "t95"};
        return 0;
    }
    return fr_interval_t95(v, n, iv);
}

/* Paired difference a - b of accuracy over seeds. */
static int diff(const struct ctx *c, int mi, int di, int ma, int mb, struct fr_interval *iv) {
    double a[MAXSEEDS], b[MAXSEEDS];
    int n = 0;
    for (int s = 0; s < c->P->nseeds; s++) {
        const struct cell *x = &c->cells[mi][di][ma][s];
        const struct cell *y = mb < 0 ? &c->dense[mi][s] : &c->cells[mi][di][mb][s];
        if (x->done && y->done) a[n] = x->acc, b[n++] = y->acc;
    }
    if (n == 0) {
        *iv = (struct fr_interval){NAN, NAN, NAN, 0, "t95"};
        return 0;
    }
    return fr_interval_diff_t95(a, b, n, iv);
}

static const char *goal(double lo, double hi, double bar) {
    if (!isfinite(lo)) return "undecided (one seed)";
    if (lo >= bar) return "met";
    if (hi < bar) return "not met";
    return "undecided (the interval straddles it)";
}

static int compare(struct ctx *c, int mi, int di, int ma, int mb, const char *what) {
    struct fr_interval iv;
    int rc = diff(c, mi, di, ma, mb, &iv);
    if (rc) return rc;
    char key[160], vb[256];
    snprintf(key, sizeof key, "%s d=%g: %s - %s accuracy", c->P->models[mi], c->P->dens[di],
             c->mname[ma], mb < 0 ? "dense" : c->mname[mb]);
    fr_results_metric_ci(c->r, key, &iv, "pts");
    fr_verdict_text(fr_verdict_of(&iv, 1), c->mname[ma], mb < 0 ? "dense" : c->mname[mb], vb,
                    sizeof vb);
    say(c, "- %s, density %g, %s: %+.2f [%+.2f, %+.2f] points: %s.\n", c->P->models[mi],
        c->P->dens[di], what, iv.mean, iv.lo, iv.hi, vb);
    return 0;
}

static int tables(struct ctx *c) {
    const struct chase_plan *P = c->P;
    static const char *const cols[] = {"model / density / method",
                                       "test acc %",
                                       "lo",
                                       "hi",
                                       "kept %",
                                       "channels alive %",
                                       "sparse-amenable %",
                                       "fwd MFLOPs (dense kernels)",
                                       "fwd MFLOPs (kept weights)",
                                       "train PFLOPs",
                                       "speed-up b1 (shrunk)",
                                       "speed-up b64 (shrunk)",
                                       "speed-up b1 (CSR)",
                                       "speed-up b64 (CSR)"};
    const int nc = (int)(sizeof cols / sizeof cols[0]);
    int rc = fr_results_table(c->r, "methods", nc, cols);
    for (int mi = 0; mi < P->nmodels && !rc; mi++) {
        char label[128];
        struct fr_interval iv;
        double row[16];
        for (int di = -1; di < P->ndens && !rc; di++)
            for (int k = di < 0 ? -1 : 0; k < (di < 0 ? 0 : c->nmeth) && !rc; k++) {
                int meth = di < 0 ? -1 : k;
                if (meth < 0)
                    snprintf(label, sizeof label, "%s dense", P->models[mi]);
                else
                    snprintf(label, sizeof label, "%s d=%g %s", P->models[mi], P->dens[di],
                             c->mname[meth]);
                interval(c, mi, di < 0 ? 0 : di, meth, F_ACC, &iv);
                row[0] = iv.mean, row[1] = iv.lo, row[2] = iv.hi;
                static const int fs[] = {F_KEPT,  F_ALIVE,  F_AMEN,    F_MFD,  F_MFS,
                                         F_TRAIN, F_SPEED1, F_SPEED64, F_CSR1, F_CSR64};
                for (int q = 0; q < 10; q++) {
                    struct fr_interval w;
                    interval(c, mi, di < 0 ? 0 : di, meth, fs[q], &w);
                    row[3 + q] = meth < 0 && q >= 6 ? NAN : w.mean;
                }
                rc = fr_results_table_row(c->r, "methods", label, row);
            }
    }
    return rc;
}

/* The channels each prunable layer keeps at the end of every run that
 * removed channels (one row per run: model, density, method, seed). */
static int channel_table(struct ctx *c) {
    const struct chase_plan *P = c->P;
    const char *cols[1 + FR_MODEL_MAX_WIDTHS];
    char names[FR_MODEL_MAX_WIDTHS][24];
    int width = 0;
    for (int mi = 0; mi < P->nmodels; mi++)
        for (int di = 0; di < P->ndens; di++)
            for (int k = 0; k < c->nmeth; k++)
                for (int sd = 0; sd < P->nseeds; sd++)
                    if (c->cells[mi][di][k][sd].nl > width) width = c->cells[mi][di][k][sd].nl;
    if (width == 0) return 0;
    cols[0] = "model / density / method / seed";
    for (int l = 0; l < width; l++) {
        snprintf(names[l], sizeof names[l], "layer %d", l + 1);
        cols[1 + l] = names[l];
    }
    int rc = fr_results_table(c->r, "channels per layer", 1 + width, cols);
    for (int mi = 0; mi < P->nmodels && !rc; mi++)
        for (int di = 0; di < P->ndens && !rc; di++)
            for (int k = 0; k < c->nmeth && !rc; k++)
                for (int sd = 0; sd < P->nseeds && !rc; sd++) {
                    const struct cell *x = &c->cells[mi][di][k][sd];
                    if (!x->done || x->nl == 0) continue;
                    char label[128];
                    double row[FR_MODEL_MAX_WIDTHS];
                    snprintf(label, sizeof label, "%s d=%g %s seed %llu", P->models[mi],
                             P->dens[di], c->mname[k],
                             (unsigned long long)(c->o->seed + (uint64_t)sd));
                    for (int l = 0; l < width; l++)
                        row[l] = l < x->nl ? x->widths[l] : NAN;
                    rc = fr_results_table_row(c->r, "channels per layer", label, row);
                }
    return rc;
}

static int plots(struct ctx *c) {
    const struct chase_plan *P = c->P;
    char path[4400], file[128], title[256];
    int rc = 0;
    for (int mi = 0; mi < P->nmodels && !rc; mi++) {
        /* accuracy vs density */
        double xs[MAXD], ys[MAXMETH][MAXD], dx[2], dy[2];
        struct fr_plot_series s[MAXMETH + 1];
        for (int di = 0; di < P->ndens; di++)
            xs[di] = P->dens[di];
        for (int k = 0; k < c->nmeth; k++) {
            for (int di = 0; di < P->ndens; di++) {
                struct fr_interval iv;
                interval(c, mi, di, k, F_ACC, &iv);
                ys[k][di] = iv.mean;
            }
            s[k] = (struct fr_plot_series){c->mname[k], P->ndens, xs, ys[k]};
        }
        struct fr_interval dv;
        interval(c, mi, 0, -1, F_ACC, &dv);
        dx[0] = P->dens[P->ndens - 1], dx[1] = P->dens[0], dy[0] = dy[1] = dv.mean;
        s[c->nmeth] = (struct fr_plot_series){"dense", 2, dx, dy};
        snprintf(file, sizeof file, "%s-accuracy.svg", P->models[mi]);
        snprintf(path, sizeof path, "%s/%s", c->dir, file);
        snprintf(title, sizeof title,
                 "%s on Fashion-MNIST: test accuracy vs density (mean of %d seeds)", P->models[mi],
                 P->nseeds);
        struct fr_plot pa = {title, "density (kept fraction)", "test accuracy (%)", 0, 1, 720, 440,
                             1};
        if ((rc = fr_plot_write(path, &pa, c->nmeth + 1, s))) break;
        fr_results_plot(c->r, file);
        /* channel densities after RigL: each layer's sorted distribution */
        if (c->chan_dens[mi]) {
            struct fr_plot_series ls[32];
            double *lx[32] = {0}, *ly[32] = {0};
            char names[32][64];
            int nls = 0;
            for (int64_t i = 0; i < c->nchan[mi] && nls < 32;) {
                int64_t j = i;
                while (j < c->nchan[mi] && c->chan_layer[mi][j] == c->chan_layer[mi][i])
                    j++;
                int64_t n = j - i;
                lx[nls] = malloc((size_t)n * sizeof(double));
                ly[nls] = malloc((size_t)n * sizeof(double));
                if (!lx[nls] || !ly[nls]) break;
                memcpy(ly[nls], c->chan_dens[mi] + i, (size_t)n * sizeof(double));
                qsort(ly[nls], (size_t)n, sizeof(double), cmpd);
                for (int64_t q = 0; q < n; q++)
                    lx[nls][q] = n > 1 ? (double)q / (double)(n - 1) : 0;
                snprintf(names[nls], 64, "tensor %d", c->chan_layer[mi][i]);
                ls[nls] = (struct fr_plot_series){names[nls], n, lx[nls], ly[nls]};
                nls++;
                i = j;
            }
            snprintf(file, sizeof file, "%s-channel-density.svg", P->models[mi]);
            snprintf(path, sizeof path, "%s/%s", c->dir, file);
            snprintf(title, sizeof title,
                     "%s after RigL at density %g: each layer's channel densities, sorted",
                     P->models[mi], P->dens[0]);
            struct fr_plot pd = {title,
                                 "channel rank (fraction of the layer)",
                                 "kept fraction of the channel's filter",
                                 0,
                                 0,
                                 720,
                                 440,
                                 0};
            rc = fr_plot_write(path, &pd, nls, ls);
            for (int q = 0; q < nls; q++)
                free(lx[q]), free(ly[q]);
            if (rc) break;
            fr_results_plot(c->r, file);
        }
        /* throughput at the first density: dense, RigL on CSR, Chase shrunk */
        double bx[NTPUT], by[3][NTPUT];
        for (int b = 0; b < NTPUT; b++) {
            bx[b] = P->tput[b];
            double v[3][MAXSEEDS];
            int n = 0;
            const int last = c->nmeth - 1;
            for (int sd = 0; sd < P->nseeds; sd++) {
                const struct cell *r = &c->cells[mi][0][2][sd], *ch = &c->cells[mi][0][last][sd];
                if (!r->done || !ch->done) continue;
                v[0][n] = ch->tput[b][0], v[1][n] = r->tput[b][1], v[2][n] = ch->tput[b][2];
                n++;
            }
            for (int q = 0; q < 3; q++) {
                if (n) qsort(v[q], (size_t)n, sizeof(double), cmpd);
                by[q][b] = n ? v[q][n / 2] : NAN;
            }
        }
        char sn[3][96];
        snprintf(sn[0], 96, "dense");
        snprintf(sn[1], 96, "RigL d=%g on the CSR kernel", P->dens[0]);
        snprintf(sn[2], 96, "%s d=%g, shrunk", c->mname[c->nmeth - 1], P->dens[0]);
        struct fr_plot_series ts[3] = {
            {sn[0], NTPUT, bx, by[0]}, {sn[1], NTPUT, bx, by[1]}, {sn[2], NTPUT, bx, by[2]}};
        snprintf(file, sizeof file, "%s-throughput.svg", P->models[mi]);
        snprintf(path, sizeof path, "%s/%s", c->dir, file);
        snprintf(title, sizeof title, "%s inference throughput (%d threads, median over seeds)",
                 P->models[mi], fr_threads_get());
        struct fr_plot pt = {title, "batch", "images / s", 1, 1, 720, 440, 1};
        if ((rc = fr_plot_write(path, &pt, 3, ts))) break;
        fr_results_plot(c->r, file);
    }
    /* channel counts over training (the first model's tracked Chase run) */
    if (!rc && c->ntrack > 0) {
        struct fr_plot_series ls[FR_MODEL_MAX_WIDTHS];
        double *x = malloc((size_t)c->ntrack * sizeof(double));
        double *y = malloc((size_t)c->ntrack * FR_MODEL_MAX_WIDTHS * sizeof(double));
        if (!x || !y) rc = fr_error(FR_ENOMEM, "chase: out of memory");
        for (int q = 0; !rc && q < c->ntrack; q++) {
            x[q] = (double)c->track_step[q];
            for (int l = 0; l < c->track_layers; l++)
                y[l * c->ntrack + q] = c->track_alive[q][l];
        }
        for (int l = 0; !rc && l < c->track_layers; l++)
            ls[l] = (struct fr_plot_series){c->track_names[l], c->ntrack, x, y + l * c->ntrack};
        if (!rc) {
            snprintf(file, sizeof file, "channel-profile.svg");
            snprintf(path, sizeof path, "%s/%s", c->dir, file);
            snprintf(title, sizeof title, "%s, %s at density %g: channels per layer over training",
                     P->models[0], c->mname[c->nmeth - 1], P->dens[0]);
            struct fr_plot pp = {title, "step", "channels alive", 0, 0, 720, 440, 0};
            rc = fr_plot_write(path, &pp, c->track_layers, ls);
            if (!rc) fr_results_plot(c->r, file);
            for (int l = 0; !rc && l < c->track_layers; l++)
                rc = fr_results_series(c->r, c->track_names[l], "step", "channels alive", c->ntrack,
                                       x, y + l * c->ntrack);
        }
        free(x);
        free(y);
    }
    return rc;
}

static int findings(struct ctx *c) {
    const struct chase_plan *P = c->P;
    const int rigl = 2, set = 1, chase0 = NBASE, last = c->nmeth - 1;
    int rc = 0;
    say(c,
        "Verdicts from paired 95%% t intervals over %d seeds (accuracy of the shrunk, "
        "batch-norm re-estimated model for Chase with channel removal):\n",
        P->nseeds);
    for (int mi = 0; mi < P->nmodels && !rc; mi++)
        for (int di = 0; di < P->ndens && !rc; di++) {
            if ((rc = compare(c, mi, di, chase0, rigl, "Chase (S_c = 0) vs RigL"))) break;
            if ((rc = compare(c, mi, di, rigl, set, "RigL vs SET"))) break;
            if (last != chase0 &&
                (rc = compare(c, mi, di, last, chase0, "channel removal's cost (Chase)")))
                break;
            if (last != chase0) {
                struct fr_interval iv, sp1, sp64;
                if ((rc = diff(c, mi, di, last, rigl, &iv))) break;
                interval(c, mi, di, last, F_SPEED1, &sp1);
                interval(c, mi, di, last, F_SPEED64, &sp64);
                char key[160];
                snprintf(key, sizeof key, "%s d=%g: %s speed-up over dense, batch 1", P->models[mi],
                         P->dens[di], c->mname[last]);
                fr_results_metric_ci(c->r, key, &sp1, "x");
                snprintf(key, sizeof key, "%s d=%g: %s speed-up over dense, batch 64",
                         P->models[mi], P->dens[di], c->mname[last]);
                fr_results_metric_ci(c->r, key, &sp64, "x");
                say(c,
                    "- %s, density %g, the goal (%s): speed-up over the dense model %.2fx "
                    "[%.2f, %.2f] at batch 1 and %.2fx [%.2f, %.2f] at batch 64 (goal >= 1.5x: "
                    "%s at batch 1, %s at batch 64); accuracy %+.2f [%+.2f, %+.2f] points vs "
                    "RigL (goal: within 0.5 points: %s).\n",
                    P->models[mi], P->dens[di], c->mname[last], sp1.mean, sp1.lo, sp1.hi, sp64.mean,
                    sp64.lo, sp64.hi, goal(sp1.lo, sp1.hi, 1.5), goal(sp64.lo, sp64.hi, 1.5),
                    iv.mean, iv.lo, iv.hi, goal(iv.lo, iv.hi, -0.5));
            }
            struct fr_interval am;
            interval(c, mi, di, rigl, F_AMEN, &am);
            say(c,
                "- %s, density %g, the observation: after RigL %.1f%% [%.1f, %.1f] of the "
                "channels of the prunable tensors keep less than half their layer's density "
                "(the paper: up to 60%% sparse-amenable).\n",
                P->models[mi], P->dens[di], am.mean, am.lo, am.hi);
        }
    return rc;
}

static int run(const struct fr_experiment *e, const void *plan, const struct fr_exp_opts *o,
               struct fr_exp_outcome *out) {
    const struct chase_plan *P = plan;
    struct ctx *c = calloc(1, sizeof *c);
    if (!c) return fr_error(FR_ENOMEM, "chase: out of memory");
    c->o = o;
    c->P = P;
    c->t0 = fr_seconds();
    int rc = fr_exp_dir(o, e->name, c->dir, sizeof c->dir);
    if (rc) goto done;
    static const char *const base[NBASE] = {"static", "SET", "RigL", "MEST"};
    for (int k = 0; k < NBASE; k++) {
        snprintf(c->mname[k], 32, "%s", base[k]);
        c->mcode[k] = k; /* FR_DST_STATIC .. FR_DST_MEST */
        c->msc[k] = 0;
    }
    for (int k = 0; k < P->nsc; k++) {
        snprintf(c->mname[NBASE + k], 32, "Chase S_c=%g", P->sc[k]);
        c->mcode[NBASE + k] = FR_DST_CHASE;
        c->msc[NBASE + k] = P->sc[k];
    }
    c->nmeth = NBASE + P->nsc;
    if ((rc = fr_dataset_fashion_mnist(&c->tr, o->data_dir, 1, P->limit_train)) ||
        (rc = fr_dataset_fashion_mnist(&c->te, o->data_dir, 0, P->test_images)))
        goto done;
    const int cells = P->nmodels * P->nseeds * (1 + P->ndens * c->nmeth);
    int k = 0;
    for (int mi = 0; mi < P->nmodels && !rc; mi++)
        for (int si = 0; si < P->nseeds && !rc; si++) {
            fr_exp_log(o, "chase: [%d/%d] %s seed %llu dense (%.0f s)", ++k, cells, P->models[mi],
                       (unsigned long long)(o->seed + (uint64_t)si), fr_seconds() - c->t0);
            if ((rc = run_dense(c, mi, si))) break;
            for (int di = 0; di < P->ndens && !rc; di++)
                for (int meth = 0; meth < c->nmeth && !rc; meth++) {
                    fr_exp_log(o, "chase: [%d/%d] %s seed %llu density %g %s (%.0f s)", ++k, cells,
                               P->models[mi], (unsigned long long)(o->seed + (uint64_t)si),
                               P->dens[di], c->mname[meth], fr_seconds() - c->t0);
                    rc = run_sparse(c, mi, di, meth, si);
                }
        }
    if (rc) goto done;
    if (!(c->r = fr_results_new(e->name, P->title))) {
        rc = FR_ENOMEM;
        goto done;
    }
    fr_results_set_str(c->r, "paper", "arXiv 2305.19454 (Chase, NeurIPS 2023)");
    fr_results_set_str(
        c->r, "claim",
        "Unstructured DST leaves many channels far sparser than the rest (up to 60%); removing "
        "them during training (Chase) gives a genuinely narrower network: ResNet-50 / ImageNet "
        "at 90% sparsity 74.70% (S_c = 0) vs RigL 73.0, MEST 72.58, SET 69.6; with S_c = 0.4 "
        "74.03% at 0.67x FLOPs and 1.7x GPU throughput without accuracy loss.");
    if (o->command) fr_results_set_str(c->r, "command", o->command);
    fr_results_set_seed(c->r, o->seed);
    fr_results_config_int(c->r, "seeds", P->nseeds);
    fr_results_config_int(c->r, "epochs", P->epochs);
    fr_results_config_int(c->r, "batch", P->batch);
    fr_results_config_int(c->r, "limit_train", P->limit_train);
    fr_results_config_int(c->r, "test_images", P->test_images);
    fr_results_config_double(c->r, "lr", P->lr);
    fr_results_config_double(c->r, "wd", P->wd);
    fr_results_config_str(c->r, "optimizer", P->opt);
    fr_results_config_str(c->r, "schedule", "cosine to 0");
    fr_results_config_int(c->r, "update_every", P->update_every);
    fr_results_config_int(c->r, "channel_every", P->channel_every);
    fr_results_config_int(c->r, "bn_batches", P->bn_batches);
    fr_results_config_int(c->r, "threads", fr_threads_get());
    fr_results_config_int(c->r, "throughput_reps", P->reps);
    if ((rc = tables(c)) || (rc = channel_table(c)) || (rc = findings(c)) || (rc = plots(c)))
        goto done;
    say(c, "Wall time %.0f s.\n", fr_seconds() - c->t0);
    fr_results_set_str(c->r, "notes", c->notes);
    fr_results_metric(c->r, "wall_seconds", fr_seconds() - c->t0, "s");
    snprintf(out->results, sizeof out->results, "%s/results.json", c->dir);
    if ((rc = fr_results_write(c->r, out->results))) goto done;
    snprintf(out->summary, sizeof out->summary, "chase: wrote %.2000s in %.0f s\n%.1900s",
             out->results, fr_seconds() - c->t0, c->notes);
done:
    for (int mi = 0; mi < MAXM; mi++)
        free(c->chan_dens[mi]), free(c->chan_layer[mi]);
    fr_results_free(c->r);
    fr_dataset_free(&c->tr);
    fr_dataset_free(&c->te);
    free(c);
    return rc;
}

const struct fr_experiment fr_exp_chase = {
    "chase",
    "2305.19454",
    "Chase: channel-aware dynamic sparse training vs SET / RigL / MEST, shrunk and timed",
    {&TINY, &QUICK, &FULL},
    run};

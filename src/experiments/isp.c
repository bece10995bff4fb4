/* isp.c: `frugal repro isp` and `isp-resnet20`, Instant Soup Pruning (arXiv 2306.10460)
 * against lottery tickets (IMP with rewinding) and one-shot pruning, on
 * frugal's pretrained vit and Fashion-MNIST downstream tasks (lottery.h,
 * soup.h, docs/isp.md).
 *
 * Recipe, per downstream task:
 *   1. The pretrained vit from fr_pretrain (transfer.h), cached in
 *      OUT/pretrained with the spec `repro essential-sparsity` uses (so the
 *      two share it); its body goes into a fresh-headed classifier
 *      (fr_model_transfer): the start point of every method.
 *   2. The task's training images are split 90/10: every method trains on
 *      the 90%, the 10% is the held-out set greedy soups choose on. Test
 *      accuracy is on the task's test split (quick plan: its first 2000).
 *   3. At S = 50, 70, 80, 90 %: OMP, random, SNIP and GraSP prune the start
 *      point once; IMP (20% of the remaining per round, quick plan 30%; one
 *      fine-tune budget of training, rewinding to the start point) and ISP
 *      (the same rounds; N weak models of C look-ahead steps each on random
 *      10% subsets with varied lr / wd / seed; union of weak keep-masks,
 *      trimmed by magnitude) run once along one schedule through all four S,
 *      the state at each S is kept. Every pruned model then gets the same
 *      fine-tune budget (F steps, AdamW, cosine); "total steps" is that plus
 *      the steps the method spent finding its mask. ISP + instant soup also
 *      averages the weak models' weights each round.
 *   4. At 80 %: OMP fine-tuned for as many steps as ISP spent in all
 *      (compute-matched); uniform and greedy soups of K fine-tuned
 *      ingredients started from the ISP model (K x F more steps) beside the
 *      instant soup; mask similarity (IoU of pruned sets, keep-mask cosine)
 *      between OMP, IMP and ISP masks at every S.
 *   5. Ablations on the first task at 80 %: N = 0, 2, 4, 8, 16 weak masks,
 *      and look-ahead lengths C (the point N, C of the main run is that
 *      run: its rounds up to 80 % are the same).
 * Weak models and soup ingredients train in forked workers, one per core.
 * The tiny plans (a smoke test, numbers meaningless) run the whole recipe
 * at S = 50 and 80 % on a few hundred task images, a few steps per stage.
 * The soups' "best single ingredient" is the greedy soup's first pick
 * (soup.h), not a second evaluation of every ingredient.
 */
#include "frugal/experiments/experiment.h"
#include "frugal/experiments/tasks.h"
#include "frugal/experiments/transfer.h"

#include "frugal/clock.h"
#include "frugal/methods/lottery.h"
#include "frugal/methods/prune.h"
#include "frugal/methods/soup.h"
#include "frugal/models.h"
#include "frugal/ops.h"
#include "frugal/report.h"
#include "frugal/status.h"
#include "frugal/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXS 4 /* sparsities */
#define MAXTASKS 2
#define MAXABL 5
#define NPAIRS 4

enum { M_OMP, M_RANDOM, M_SNIP, M_GRASP, M_IMP, M_ISP, M_SOUP, NM };
static const char *const MNAME[NM] = {
    "OMP+FT", "random+FT", "SNIP+FT", "GraSP+FT", "IMP (LTH, rewind)", "ISP", "ISP + instant soup"};
/* mask-similarity pairs (method indices) */
static const int PAIRS[NPAIRS][2] = {
    {M_OMP, M_IMP}, {M_OMP, M_ISP}, {M_IMP, M_ISP}, {M_ISP, M_SOUP}};

struct isp_plan {
    double sp[MAXS]; /* the sparsities S every method is compared at, ascending */
    int ns;
    int s80;           /* the index of 80 % in sp (soups, matched compute, ablations) */
    const char *arch;  /* vit | resnet20 */
    const char *about; /* the model, for results.json */
    const char *tag;   /* after the arch in the report title */
    const char *tasks[MAXTASKS];
    int ntasks;
    int64_t task_images; /* the first N training images of each task (0: all) */
    int64_t pre_images;  /* the essential-sparsity repro's vit-sup spec */
    int pre_epochs;
    int64_t pre_test_images; /* the pretrained model scored on N test images (0: all) */
    int batch;
    int64_t ft_steps; /* F: the fine-tune budget of every pruned model */
    double lr, wd;
    int64_t test_images;  /* 0: all */
    int64_t score_images; /* SNIP / GraSP score on the first N training images */
    double rate;          /* IMP and ISP: fraction of the remaining weights per round */
    int n_weak;
    int64_t lookahead, round_steps;
    int n_ingr; /* soup ingredients */
    int abl_n[MAXABL], n_abl_n;
    int64_t abl_c[MAXABL];
    int n_abl_c;
};

#define VIT_ABOUT                                                                                  \
    "vit (patch 4, dim 64, 2 blocks), pretrained supervised on Fashion-MNIST train images "        \
    "0-49999 (fr_pretrain)"
#define RESNET_ABOUT                                                                               \
    "resnet20 (CIFAR ResNet-20, batch norm), pretrained supervised on the first 20000 "            \
    "Fashion-MNIST pretraining images, 2 epochs (fr_pretrain)"

static const struct isp_plan VIT_TINY = {
    .sp = {.5, .8},
    .ns = 2,
    .s80 = 1,
    .arch = "vit",
    .about = "vit (patch 4, dim 64, 2 blocks), pretrained supervised on the first 300 "
             "Fashion-MNIST pretraining images, 1 epoch (fr_pretrain)",
    .tag = " (tiny)",
    .tasks = {"rotate"},
    .ntasks = 1,
    .task_images = 2000,
    .pre_images = 300, /* essential-sparsity's tiny vit-sup spec: they share the cache */
    .pre_epochs = 1,
    .batch = 32,
    .ft_steps = 4,
    .lr = 1e-3,
    .wd = 1e-4,
    .test_images = 300,
    .pre_test_images = 300,
    .score_images = 64,
    .rate = 0.5,
    .n_weak = 2,
    .lookahead = 2,
    .round_steps = 2,
    .n_ingr = 2,
    .abl_n = {0, 2},
    .n_abl_n = 2,
    .abl_c = {2},
    .n_abl_c = 1,
};
static const struct isp_plan VIT_QUICK = {
    .sp = {.5, .7, .8, .9},
    .ns = 4,
    .s80 = 2,
    .arch = "vit",
    .about = VIT_ABOUT,
    .tag = " (quick)",
    .tasks = {"rotate"},
    .ntasks = 1,
    .pre_images = 10000,
    .pre_epochs = 2,
    .batch = 64,
    .ft_steps = 60,
    .lr = 1e-3,
    .wd = 1e-4,
    .test_images = 2000,
    .score_images = 256,
    .rate = 0.3,
    .n_weak = 4,
    .lookahead = 8,
    .round_steps = 6,
    .n_ingr = 4,
    .abl_n = {0, 2, 4, 8, 16},
    .n_abl_n = 5,
    .abl_c = {4, 8, 16},
    .n_abl_c = 3,
};
static const struct isp_plan VIT_FULL = {
    .sp = {.5, .7, .8, .9},
    .ns = 4,
    .s80 = 2,
    .arch = "vit",
    .about = VIT_ABOUT,
    .tag = "",
    .tasks = {"rotate", "invert"},
    .ntasks = 2,
    .pre_images = 0,
    .pre_epochs = 3,
    .batch = 64,
    .ft_steps = 200,
    .lr = 1e-3,
    .wd = 1e-4,
    .test_images = 0,
    .score_images = 256,
    .rate = 0.2,
    .n_weak = 4,
    .lookahead = 20,
    .round_steps = 20,
    .n_ingr = 4,
    .abl_n = {0, 2, 4, 8, 16},
    .n_abl_n = 5,
    .abl_c = {10, 20, 40},
    .n_abl_c = 3,
};

/* resnet20 costs ~5x the vit per step: its full plan is the vit's quick
 * one, its quick plan drops the ablations and halves F */
static const struct isp_plan RESNET_TINY = {
    .sp = {.5, .8},
    .ns = 2,
    .s80 = 1,
    .arch = "resnet20",
    .about = "resnet20 (CIFAR ResNet-20, batch norm), pretrained supervised on the first 256 "
             "Fashion-MNIST pretraining images, 1 epoch (fr_pretrain)",
    .tag = " (tiny)",
    .tasks = {"rotate"},
    .ntasks = 1,
    .task_images = 400,
    .pre_images = 256,
    .pre_epochs = 1,
    .batch = 16,
    .ft_steps = 1,
    .lr = 1e-3,
    .wd = 1e-4,
    .test_images = 100,
    .pre_test_images = 100,
    .score_images = 16,
    .rate = 0.5,
    .n_weak = 2,
    .lookahead = 1,
    .round_steps = 1,
    .n_ingr = 2,
    .n_abl_n = 0,
    .n_abl_c = 0,
};
static const struct isp_plan RESNET_QUICK = {
    .sp = {.5, .7, .8, .9},
    .ns = 4,
    .s80 = 2,
    .arch = "resnet20",
    .about = RESNET_ABOUT,
    .tag = " (quick)",
    .tasks = {"rotate"},
    .ntasks = 1,
    .pre_images = 20000,
    .pre_epochs = 2,
    .batch = 64,
    .ft_steps = 30,
    .lr = 1e-3,
    .wd = 1e-4,
    .test_images = 1000,
    .score_images = 256,
    .rate = 0.3,
    .n_weak = 4,
    .lookahead = 8,
    .round_steps = 6,
    .n_ingr = 4,
    .n_abl_n = 0,
    .n_abl_c = 0,
};
static const struct isp_plan RESNET_FULL = {
    .sp = {.5, .7, .8, .9},
    .ns = 4,
    .s80 = 2,
    .arch = "resnet20",
    .about = RESNET_ABOUT,
    .tag = "",
    .tasks = {"rotate"},
    .ntasks = 1,
    .pre_images = 20000,
    .pre_epochs = 2,
    .batch = 64,
    .ft_steps = 60,
    .lr = 1e-3,
    .wd = 1e-4,
    .test_images = 2000,
    .score_images = 256,
    .rate = 0.3,
    .n_weak = 4,
    .lookahead = 8,
    .round_steps = 6,
    .n_ingr = 4,
    .abl_n = {0, 2, 4, 8, 16},
    .n_abl_n = 5,
    .abl_c = {4, 8, 16},
    .n_abl_c = 3,
};

struct cell {
    double acc, steps, search_steps, seconds;
};

/* Per-task results. */
struct task_res {
    double dense_acc;
    struct cell c[NM][MAXS];
    float *mask[NM][MAXS]; /* masks kept for similarity (OMP, IMP, ISP, SOUP) */
    struct fr_mask_similarity sim[NPAIRS][MAXS];
    struct cell omp_matched;
    struct cell uniform, greedy, best_ingr;
    double uniform_held, greedy_held, best_ingr_held;
    int greedy_used;
    struct cell abl_n[MAXABL], abl_c[MAXABL];
    float *isp80_data, *isp80_mask; /* the ISP state at 80 %, before fine-tuning */
    int64_t isp80_steps;
    double isp80_secs;
};

struct env {
    const struct fr_exp_opts *o;
    const struct isp_plan *P;
    struct fr_task task;
    struct fr_subset tr, held, test_sub;
    struct fr_model *pre, *m;
    float *start;
    int *sel;
    struct fr_dataset score; /* SNIP / GraSP batch */
    struct fr_ctx *ctx;
    struct fr_results *r;
    double t0;
};

/* The start point: pretrained body, fresh head, no mask. */
static int reset(struct env *e) {
    struct fr_params *p = &e->m->params;
    memcpy(p->data, e->start, (size_t)p->n * sizeof(float));
    int rc = fr_params_mask_init(p);
    for (int64_t j = 0; !rc && j < p->n; j++)
        p->mask[j] = 1.0f;
    return rc;
}

static void base_fit(const struct env *e, struct fr_fit_classifier_config *f, int64_t steps,
                     uint64_t seed) {
    fr_fit_classifier_config_defaults(f);
    f->steps = steps;
    f->epochs = 0;
    f->batch = e->P->batch;
    f->lr = e->P->lr;
    f->wd = e->P->wd;
    f->seed = seed;
}

static int test_acc(struct env *e, double *acc) {
    int rc = fr_evaluate(e->m, &e->task.test, e->P->test_images ? &e->test_sub : NULL, e->ctx, 0,
                         acc, NULL);
    *acc *= 100.0;
    return rc;
}

/* Fine-tunes m for the budget F (or steps when > 0), evaluates, fills the
 * cell (search steps and seconds already in it). */
static int finish(struct env *e, struct cell *c, int64_t steps) {
    struct fr_fit_classifier_config f;
    base_fit(e, &f, steps > 0 ? steps : e->P->ft_steps, e->o->seed + 500);
    struct fr_fit_result fr;
    double t = fr_seconds();
    int rc = fr_fit_classifier(e->m, &e->task.train, &e->tr, e->ctx, &f, &fr);
    if (!rc) rc = test_acc(e, &c->acc);
    c->steps = c->search_steps + (double)fr.steps;
    c->seconds += fr_seconds() - t;
    return rc;
}

static void log_cell(struct env *e, const char *what, double s, const struct cell *c) {
    fr_exp_log(e->o,
               "isp: %-8s %-26s S=%2.0f%%  acc %6.2f%%  steps %6.0f (search %6.0f)  %6.1f s  "
               "[%.0f s]",
               e->task.name, what, 100 * s, c->acc, c->steps, c->search_steps, c->seconds,
               fr_seconds() - e->t0);
}

static int keep_mask(struct env *e, float **dst) {
    size_t b = (size_t)e->m->params.n * sizeof(float);
    if (!*dst && !(*dst = malloc(b))) return fr_error(FR_ENOMEM, "out of memory");
    memcpy(*dst, e->m->params.mask, b);
    return 0;
}

static int run_oneshot(struct env *e, struct task_res *T, int method) {
    static const enum fr_prune_method PM[4] = {FR_PRUNE_MAGNITUDE, FR_PRUNE_RANDOM, FR_PRUNE_SNIP,
                                               FR_PRUNE_GRASP};
    int rc = 0;
    for (int i = 0; i < e->P->ns && !rc; i++) {
        struct cell *c = &T->c[method][i];
        memset(c, 0, sizeof *c);
        if ((rc = reset(e))) break;
        struct fr_prune_config pc;
        fr_prune_config_defaults(&pc);
        pc.method = PM[method];
        pc.sparsity = e->P->sp[i];
        pc.seed = e->o->seed;
        double t = fr_seconds();
        /* GraSP scores at the paper's logit temperature (SNIP at 1) */
        struct fr_prune_batch pb = {e->m, e->ctx, &e->score, method == M_GRASP ? 200.0f : 1.0f};
        if ((rc = fr_prune(&e->m->params, e->sel, &pc, fr_prune_batch_loss, &pb))) break;
        c->seconds = fr_seconds() - t;
        if (method == M_OMP && (rc = keep_mask(e, &T->mask[M_OMP][i]))) break;
        if ((rc = finish(e, c, 0))) break;
        log_cell(e, MNAME[method], e->P->sp[i], c);
    }
    return rc;
}

/* States kept at each S of a one-schedule IMP / ISP run. */
struct snaps {
    struct env *e;
    int n; /* targets sp[0..n) */
    float *data[MAXS], *mask[MAXS];
    int64_t steps[MAXS];
    double secs[MAXS], t0;
};

static int snap_round(void *user, struct fr_model *m, int round, double s, int64_t steps) {
    (void)round;
    struct snaps *S = user;
    size_t b = (size_t)m->params.n * sizeof(float);
    for (int i = 0; i < S->n; i++) {
        if (s != S->e->P->sp[i]) continue;
        if (!S->data[i]) S->data[i] = malloc(b);
        if (!S->mask[i]) S->mask[i] = malloc(b);
        if (!S->data[i] || !S->mask[i]) return fr_error(FR_ENOMEM, "out of memory");
        memcpy(S->data[i], m->params.data, b);
        memcpy(S->mask[i], m->params.mask, b);
        S->steps[i] = steps;
        S->secs[i] = fr_seconds() - S->t0;
    }
    return 0;
}

static void snaps_free(struct snaps *S) {
    for (int i = 0; i < MAXS; i++)
        free(S->data[i]), free(S->mask[i]);
}

/* Loads snapshot i into m. */
static void load_snap(struct env *e, const struct snaps *S, int i) {
    size_t b = (size_t)e->m->params.n * sizeof(float);
    memcpy(e->m->params.data, S->data[i], b);
    memcpy(e->m->params.mask, S->mask[i], b);
}

/* Fine-tunes every snapshot into cells[0..S->n); keeps masks when asked. */
static int finish_snaps(struct env *e, struct snaps *S, struct cell *cells, float **masks,
                        const char *name) {
    int rc = 0;
    for (int i = 0; i < S->n && !rc; i++) {
        if (!S->data[i]) return fr_error(FR_EINVAL, "isp: no round ended at %g", e->P->sp[i]);
        load_snap(e, S, i);
        if (masks && (rc = keep_mask(e, &masks[i]))) break;
        cells[i] = (struct cell){0, 0, (double)S->steps[i], S->secs[i]};
        if ((rc = finish(e, &cells[i], 0))) break;
        log_cell(e, name, e->P->sp[i], &cells[i]);
    }
    return rc;
}

static int run_imp(struct env *e, struct task_res *T) {
    struct snaps S = {.e = e, .n = e->P->ns, .t0 = fr_seconds()};
    struct fr_imp_config c;
    fr_imp_config_defaults(&c);
    c.sparsity = e->P->sp[e->P->ns - 1];
    c.rate = e->P->rate;
    c.stops = e->P->sp;
    c.nstops = e->P->ns - 1;
    base_fit(e, &c.fit, e->P->ft_steps, e->o->seed + 700);
    c.rewind = e->start;
    c.on_round = snap_round;
    c.user = &S;
    struct fr_lottery_result res;
    int rc = reset(e);
    if (!rc) rc = fr_imp(e->m, e->sel, &e->task.train, &e->tr, &c, &res);
    if (!rc) rc = finish_snaps(e, &S, T->c[M_IMP], T->mask[M_IMP], MNAME[M_IMP]);
    snaps_free(&S);
    return rc;
}

/* ISP through sp[0..ntarget) with N weak masks of C steps; *S keeps the
 * states (caller frees). */
static int isp_search(struct env *e, int ntarget, int N, int64_t C, int soup, struct snaps *S) {
    memset(S, 0, sizeof *S);
    S->e = e;
    S->n = ntarget;
    S->t0 = fr_seconds();
    struct fr_isp_config c;
    fr_isp_config_defaults(&c);
    c.sparsity = e->P->sp[ntarget - 1];
    c.rate = e->P->rate;
    c.stops = e->P->sp;
    c.nstops = ntarget - 1;
    c.n_weak = N;
    c.lookahead = C;
    c.round_steps = e->P->round_steps;
    base_fit(e, &c.fit, 1, e->o->seed + 900);
    c.soup = soup;
    c.workers = 0;
    c.seed = e->o->seed;
    c.on_round = snap_round;
    c.user = S;
    struct fr_lottery_result res;
    int rc = reset(e);
    if (!rc) rc = fr_isp(e->m, e->sel, &e->task.train, &e->tr, &c, &res);
    return rc;
}

static int run_isp(struct env *e, struct task_res *T, int method) {
    const int k = e->P->s80;
    struct snaps S;
    int rc = isp_search(e, e->P->ns, e->P->n_weak, e->P->lookahead, method == M_SOUP, &S);
    if (!rc) rc = finish_snaps(e, &S, T->c[method], T->mask[method], MNAME[method]);
    if (!rc && method == M_ISP) { /* kept for the soups */
        T->isp80_data = S.data[k], T->isp80_mask = S.mask[k];
        S.data[k] = S.mask[k] = NULL;
        T->isp80_steps = S.steps[k];
        T->isp80_secs = S.secs[k];
    }
    snaps_free(&S);
    return rc;
}

/* At 80 %: OMP fine-tuned for ISP's whole step count. */
static int run_matched(struct env *e, struct task_res *T) {
    const int k = e->P->s80;
    struct cell *c = &T->omp_matched;
    memset(c, 0, sizeof *c);
    int rc = reset(e);
    struct fr_prune_config pc;
    fr_prune_config_defaults(&pc);
    pc.sparsity = e->P->sp[k];
    if (!rc) rc = fr_prune(&e->m->params, e->sel, &pc, NULL, NULL);
    if (!rc) rc = finish(e, c, (int64_t)T->c[M_ISP][k].steps);
    if (!rc) log_cell(e, "OMP+FT, ISP's total steps", e->P->sp[k], c);
    return rc;
}

/* At 80 %: K ingredients fine-tuned from the ISP model with varied lr and
 * seed, then uniform / greedy soups. */
static int run_soups(struct env *e, struct task_res *T) {
    static const double LRM[8] = {1.0, 0.5, 2.0, 0.7, 1.4, 0.35, 3.0, 1.0};
    const int K = e->P->n_ingr;
    struct fr_ingredient ing[8];
    int64_t n = e->m->params.n;
    int rc = 0;
    float *w = malloc((size_t)K * (size_t)n * sizeof(float));
    if (!w) return fr_error(FR_ENOMEM, "out of memory");
    memcpy(e->m->params.data, T->isp80_data, (size_t)n * sizeof(float));
    memcpy(e->m->params.mask, T->isp80_mask, (size_t)n * sizeof(float));
    for (int i = 0; i < K; i++) {
        base_fit(e, &ing[i].fit, e->P->ft_steps, e->o->seed + 1000 + (uint64_t)i);
        ing[i].fit.lr *= LRM[i % 8];
        ing[i].sub = &e->tr;
    }
    double t = fr_seconds();
    if ((rc = fr_ingredients_train(e->m, &e->task.train, K, ing, 0, w, NULL))) goto done;
    double search = (double)T->isp80_steps + (double)K * (double)e->P->ft_steps;
    double secs = T->isp80_secs + fr_seconds() - t;
    /* the greedy soup ranks the ingredients alone on held-out: its first is
     * the best single ingredient */
    struct fr_greedy_soup g;
    if ((rc = fr_soup_greedy(e->m, w, K, &e->task.train, &e->held, &g))) goto done;
    int best = g.order[0];
    T->best_ingr_held = 100 * g.acc[best];
    T->greedy = (struct cell){0, search, search, fr_seconds() - t + T->isp80_secs};
    T->greedy_held = 100 * g.soup_acc;
    T->greedy_used = g.n_used;
    fr_greedy_soup_free(&g);
    if ((rc = test_acc(e, &T->greedy.acc))) goto done;
    memcpy(e->m->params.data, w + (size_t)best * (size_t)n, (size_t)n * sizeof(float));
    T->best_ingr = (struct cell){0, search, search, secs};
    if ((rc = test_acc(e, &T->best_ingr.acc))) goto done;
    fr_soup_uniform(w, K, n, e->m->params.data);
    fr_params_apply_mask(&e->m->params);
    T->uniform = (struct cell){0, search, search, secs};
    if ((rc = test_acc(e, &T->uniform.acc)) ||
        (rc = fr_evaluate(e->m, &e->task.train, &e->held, e->ctx, 0, &T->uniform_held, NULL)))
        goto done;
    T->uniform_held *= 100;
    const double s80 = e->P->sp[e->P->s80];
    log_cell(e, "best ingredient (held-out)", s80, &T->best_ingr);
    log_cell(e, "uniform soup", s80, &T->uniform);
    log_cell(e, "greedy soup", s80, &T->greedy);
done:
    free(w);
    return rc;
}

static int run_ablation(struct env *e, struct task_res *T) {
    int rc = 0;
    const struct isp_plan *P = e->P;
    for (int a = 0; a < P->n_abl_n + P->n_abl_c && !rc; a++) {
        int isn = a < P->n_abl_n;
        int N = isn ? P->abl_n[a] : P->n_weak;
        int64_t C = isn ? P->lookahead : P->abl_c[a - P->n_abl_n];
        struct cell *c = isn ? &T->abl_n[a] : &T->abl_c[a - P->n_abl_n];
        if (N == P->n_weak && C == P->lookahead) { /* the main ISP run's rounds to 80 % */
            *c = T->c[M_ISP][P->s80];
            continue;
        }
        struct snaps S;
        rc = isp_search(e, P->s80 + 1, N, C, 0, &S);
        if (!rc) {
            load_snap(e, &S, P->s80);
            *c = (struct cell){0, 0, (double)S.steps[P->s80], S.secs[P->s80]};
            rc = finish(e, c, 0);
        }
        snaps_free(&S);
        char what[64];
        snprintf(what, sizeof what, "ablation N=%d C=%lld", N, (long long)C);
        if (!rc) log_cell(e, what, P->sp[P->s80], c);
    }
    return rc;
}

static int run_task(struct env *e, struct task_res *T, int with_ablation) {
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    mc.n_classes = e->task.train.nclass;
    int rc = 0;
    if (!(e->m = fr_model_new(e->P->arch, &mc, e->o->seed + 1))) return FR_EINVAL;
    if ((rc = fr_model_transfer(e->m, e->pre)) < 0) return rc;
    size_t b = (size_t)e->m->params.n * sizeof(float);
    if (!(e->start = malloc(b)) || !(e->sel = calloc((size_t)e->m->params.count, sizeof(int))))
        return fr_error(FR_ENOMEM, "out of memory");
    memcpy(e->start, e->m->params.data, b);
    if ((rc = fr_prune_scope(&e->m->params, NULL, NULL, e->sel))) return rc;
    /* dense reference: the same fine-tune, nothing pruned */
    struct cell dense = {0};
    if ((rc = reset(e)) || (rc = finish(e, &dense, 0))) return rc;
    T->dense_acc = dense.acc;
    log_cell(e, "dense+FT", 0, &dense);
    for (int m = M_OMP; m <= M_GRASP && !rc; m++)
        rc = run_oneshot(e, T, m);
    if (!rc) rc = run_imp(e, T);
    if (!rc) rc = run_isp(e, T, M_ISP);
    if (!rc) rc = run_isp(e, T, M_SOUP);
    if (!rc) rc = run_matched(e, T);
    if (!rc) rc = run_soups(e, T);
    for (int p = 0; p < NPAIRS && !rc; p++)
        for (int i = 0; i < e->P->ns && !rc; i++)
            rc = fr_mask_similarity(&e->m->params, e->sel, T->mask[PAIRS[p][0]][i],
                                    T->mask[PAIRS[p][1]][i], &T->sim[p][i]);
    if (!rc && with_ablation) rc = run_ablation(e, T);
    return rc;
}

static void task_free(struct env *e, struct task_res *T) {
    for (int m = 0; m < NM; m++)
        for (int i = 0; i < MAXS; i++)
            free(T->mask[m][i]), T->mask[m][i] = NULL;
    free(T->isp80_data);
    free(T->isp80_mask);
    T->isp80_data = T->isp80_mask = NULL;
    fr_model_free(e->m);
    e->m = NULL;
    free(e->start);
    free(e->sel);
    e->start = NULL;
    e->sel = NULL;
    fr_task_free(&e->task);
    fr_subset_free(&e->tr);
    fr_subset_free(&e->held);
    fr_subset_free(&e->test_sub);
    fr_dataset_free(&e->score);
}

/* The task, its 90/10 split, the test subset and the scoring batch. */
static int load_task(struct env *e, const char *name) {
    int rc = fr_task_load(&e->task, name, e->o->data_dir, e->P->task_images, e->o->seed);
    if (rc) return rc;
    if ((rc = fr_dataset_split(&e->task.train, 0.1, e->o->seed + 3, &e->tr, &e->held))) return rc;
    int64_t nt = e->P->test_images && e->P->test_images < e->task.test.n ? e->P->test_images
                                                                         : e->task.test.n;
    e->test_sub.n = nt;
    if (!(e->test_sub.idx = malloc((size_t)nt * sizeof(int64_t))))
        return fr_error(FR_ENOMEM, "out of memory");
    for (int64_t i = 0; i < nt; i++)
        e->test_sub.idx[i] = i;
    /* SNIP / GraSP score on the first training samples of the split */
    const struct fr_dataset *d = &e->task.train;
    int64_t nb = e->P->score_images < e->tr.n ? e->P->score_images : e->tr.n;
    int64_t D = (int64_t)d->C * d->H * d->W;
    e->score = (struct fr_dataset){.n = nb,
                                   .C = d->C,
                                   .H = d->H,
                                   .W = d->W,
                                   .nclass = d->nclass,
                                   .mean = d->mean,
                                   .std = d->std,
                                   .fill = d->fill};
    e->score.x = malloc((size_t)(nb * D) * sizeof(float));
    e->score.y = malloc((size_t)nb * sizeof(int32_t));
    if (!e->score.x || !e->score.y) return fr_error(FR_ENOMEM, "out of memory");
    for (int64_t i = 0; i < nb; i++) {
        int64_t s = e->tr.idx[i];
        memcpy(e->score.x + i * D, d->x + s * D, (size_t)D * sizeof(float));
        e->score.y[i] = d->y[s];
    }
    return 0;
}

/* ---------------- results ---------------- */

/* "50, 70, 80, 90": the plan's sparsities in percent, joined by sep. */
static void sparsity_list(const struct isp_plan *P, const char *sep, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < P->ns && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%.0f", i ? sep : "", 100 * P->sp[i]);
}

static void record_task(struct env *e, const char *task, const struct task_res *T,
                        int with_ablation) {
    struct fr_results *r = e->r;
    const double *sp = e->P->sp;
    const int ns = e->P->ns;
    char key[256];
    double xs[MAXS], ys[MAXS];
    for (int i = 0; i < ns; i++)
        xs[i] = 100 * sp[i];
    snprintf(key, sizeof key, "%s dense fine-tuned accuracy", task);
    fr_results_metric(r, key, T->dense_acc, "%");
    for (int m = 0; m < NM; m++) {
        for (int i = 0; i < ns; i++) {
            const struct cell *c = &T->c[m][i];
            double row[5] = {100 * sp[i], c->acc, c->steps, c->search_steps, c->seconds};
            snprintf(key, sizeof key, "%s %s %.0f%%", task, MNAME[m], 100 * sp[i]);
            fr_results_table_row(r, "methods", key, row);
            ys[i] = c->acc;
        }
        snprintf(key, sizeof key, "%s: %s", task, MNAME[m]);
        fr_results_series(r, key, "sparsity (%)", "test accuracy (%)", ns, xs, ys);
    }
    const struct cell *extra[4] = {&T->omp_matched, &T->best_ingr, &T->uniform, &T->greedy};
    const char *en[4] = {"OMP+FT at ISP's total steps", "best single ingredient (held-out)",
                         "uniform soup", "greedy soup"};
    for (int k = 0; k < 4; k++) {
        double row[5] = {80, extra[k]->acc, extra[k]->steps, extra[k]->search_steps,
                         extra[k]->seconds};
        snprintf(key, sizeof key, "%s %s 80%%", task, en[k]);
        fr_results_table_row(r, "methods", key, row);
    }
    double srow[3][4] = {{T->best_ingr.acc, T->best_ingr_held, T->best_ingr.steps, 1},
                         {T->uniform.acc, T->uniform_held, T->uniform.steps, 0},
                         {T->greedy.acc, T->greedy_held, T->greedy.steps, T->greedy_used}};
    srow[1][3] = e->P->n_ingr;
    for (int k = 0; k < 3; k++) {
        snprintf(key, sizeof key, "%s %s", task, en[k + 1]);
        fr_results_table_row(r, "soups at 80%", key, srow[k]);
    }
    const struct cell *is = &T->c[M_SOUP][e->P->s80];
    double irow[4] = {is->acc, NAN, is->steps, (double)e->P->n_weak};
    snprintf(key, sizeof key, "%s ISP + instant soup (fine-tuned)", task);
    fr_results_table_row(r, "soups at 80%", key, irow);
    static const char *const PN[NPAIRS] = {"OMP vs IMP", "OMP vs ISP", "IMP vs ISP",
                                           "ISP vs ISP+soup"};
    for (int p = 0; p < NPAIRS; p++)
        for (int i = 0; i < ns; i++) {
            const struct fr_mask_similarity *s = &T->sim[p][i];
            double row[4] = {100 * sp[i], s->iou, s->keep_cosine, s->agreement};
            snprintf(key, sizeof key, "%s %s %.0f%%", task, PN[p], 100 * sp[i]);
            fr_results_table_row(r, "mask similarity", key, row);
        }
    if (!with_ablation) return;
    double ax[MAXABL], ay[MAXABL];
    for (int a = 0; a < e->P->n_abl_n; a++) {
        const struct cell *c = &T->abl_n[a];
        double row[5] = {(double)e->P->abl_n[a], (double)e->P->lookahead, c->acc, c->steps,
                         c->seconds};
        snprintf(key, sizeof key, "%s N=%d", task, e->P->abl_n[a]);
        fr_results_table_row(r, "ablation at 80%", key, row);
        ax[a] = e->P->abl_n[a], ay[a] = c->acc;
    }
    snprintf(key, sizeof key, "%s: ISP at 80%% vs weak masks N", task);
    fr_results_series(r, key, "weak masks per round N", "test accuracy (%)", e->P->n_abl_n, ax, ay);
    for (int a = 0; a < e->P->n_abl_c; a++) {
        const struct cell *c = &T->abl_c[a];
        double row[5] = {(double)e->P->n_weak, (double)e->P->abl_c[a], c->acc, c->steps,
                         c->seconds};
        snprintf(key, sizeof key, "%s C=%lld", task, (long long)e->P->abl_c[a]);
        fr_results_table_row(r, "ablation at 80%", key, row);
        ax[a] = (double)e->P->abl_c[a], ay[a] = c->acc;
    }
    snprintf(key, sizeof key, "%s: ISP at 80%% vs look-ahead C", task);
    fr_results_series(r, key, "look-ahead steps C", "test accuracy (%)", e->P->n_abl_c, ax, ay);
}

static int write_plots(struct env *e, const char *dir, const char *task, const struct task_res *T,
                       int with_ablation) {
    const double *sp = e->P->sp;
    const int ns = e->P->ns;
    struct fr_plot_series s[NM + 2];
    double xs[MAXS], ys[NM][MAXS], cx[NM][MAXS], dy[2] = {T->dense_acc, T->dense_acc};
    double dx[2] = {100 * sp[0], 100 * sp[ns - 1]};
    for (int i = 0; i < ns; i++)
        xs[i] = 100 * sp[i];
    for (int m = 0; m < NM; m++)
        for (int i = 0; i < ns; i++)
            ys[m][i] = T->c[m][i].acc, cx[m][i] = T->c[m][i].steps;
    char path[4400], file[128], title[160];
    int rc = 0;
    for (int m = 0; m < NM; m++)
        s[m] = (struct fr_plot_series){MNAME[m], ns, xs, ys[m]};
    s[NM] = (struct fr_plot_series){"dense + same fine-tune", 2, dx, dy};
    snprintf(file, sizeof file, "%s-accuracy.svg", task);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    snprintf(title, sizeof title, "%s, %s: test accuracy after pruning + %lld fine-tune steps",
             e->P->arch, task, (long long)e->P->ft_steps);
    struct fr_plot p = {
        title, "sparsity of the prunable weights (%)", "test accuracy (%)", 0, 1, 760, 480, 0};
    if ((rc = fr_plot_write(path, &p, NM + 1, s))) return rc;
    fr_results_plot(e->r, file);
    /* accuracy vs compute: one curve per method through its sparsities */
    for (int m = 0; m < NM; m++)
        s[m] = (struct fr_plot_series){MNAME[m], ns, cx[m], ys[m]};
    double mx = T->omp_matched.steps, my = T->omp_matched.acc;
    s[NM] = (struct fr_plot_series){"OMP+FT at ISP's total steps (80%)", 1, &mx, &my};
    snprintf(file, sizeof file, "%s-compute.svg", task);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    char points[64];
    sparsity_list(e->P, ", ", points, sizeof points);
    snprintf(title, sizeof title, "%s, %s: accuracy vs training steps spent (points: S = %s %%)",
             e->P->arch, task, points);
    struct fr_plot pc = {title,
                         "total training steps (mask search + fine-tune)",
                         "test accuracy (%)",
                         0,
                         1,
                         760,
                         480,
                         1};
    if ((rc = fr_plot_write(path, &pc, NM + 1, s))) return rc;
    fr_results_plot(e->r, file);
    if (!with_ablation) return 0;
    double nx[MAXABL], ny[MAXABL], kx[MAXABL], ky[MAXABL];
    for (int a = 0; a < e->P->n_abl_n; a++)
        nx[a] = e->P->abl_n[a], ny[a] = T->abl_n[a].acc;
    for (int a = 0; a < e->P->n_abl_c; a++)
        kx[a] = (double)e->P->abl_c[a], ky[a] = T->abl_c[a].acc;
    struct fr_plot_series sa[1] = {{"ISP at 80%, fine-tuned", e->P->n_abl_n, nx, ny}};
    snprintf(file, sizeof file, "%s-ablation-n.svg", task);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    snprintf(title, sizeof title, "%s, %s, 80%%: weak masks per round (C = %lld)", e->P->arch, task,
             (long long)e->P->lookahead);
    struct fr_plot pa = {title, "weak masks per round N", "test accuracy (%)", 0, 1, 640, 400, 0};
    if ((rc = fr_plot_write(path, &pa, 1, sa))) return rc;
    fr_results_plot(e->r, file);
    struct fr_plot_series sc[1] = {{"ISP at 80%, fine-tuned", e->P->n_abl_c, kx, ky}};
    snprintf(file, sizeof file, "%s-ablation-c.svg", task);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    snprintf(title, sizeof title, "%s, %s, 80%%: look-ahead steps C (N = %d)", e->P->arch, task,
             e->P->n_weak);
    struct fr_plot pb = {title, "look-ahead steps C", "test accuracy (%)", 0, 1, 640, 400, 0};
    if ((rc = fr_plot_write(path, &pb, 1, sc))) return rc;
    fr_results_plot(e->r, file);
    return 0;
}

static void record_header(struct env *e, const struct fr_pretrain_spec *ps,
                          const struct fr_pretrain_info *info) {
    struct fr_results *r = e->r;
    const struct isp_plan *P = e->P;
    fr_results_set_str(r, "paper",
                       "Jaiswal, Liu, Chen, Wang: Instant Soup: Cheap Pruning "
                       "Ensembles in A Single Pass Can Draw Lottery Tickets from Large "
                       "Models (ICML 2023, arXiv 2306.10460)");
    fr_results_set_str(r, "claim",
                       "Instant Soup Pruning (rounds of N cheap weak masks from short look-ahead "
                       "training on ~10% data subsets, merged by the union of keep-masks) finds "
                       "sparse subnetworks of a pretrained model that match or beat lottery "
                       "tickets from IMP with rewinding at a fraction of IMP's cost; more weak "
                       "masks help, with diminishing returns; averaging the weak models' weights "
                       "(instant model soup) is a cheap model soup.");
    fr_results_set_str(r, "command", e->o->command);
    fr_results_set_seed(r, e->o->seed);
    fr_results_config_int(r, "quick", e->o->size != FR_EXP_FULL);
    fr_results_config_str(r, "model", P->about);
    fr_results_config_str(r, "pretrained cache", info->path);
    fr_results_config_int(r, "pretraining images", ps->images ? ps->images : 50000);
    fr_results_config_int(r, "pretraining epochs", ps->epochs);
    fr_results_config_int(r, "pretraining steps", info->steps);
    fr_results_config_int(r, "fine-tune steps F (every pruned model)", P->ft_steps);
    fr_results_config_int(r, "batch", P->batch);
    fr_results_config_double(r, "lr (AdamW, cosine)", P->lr);
    fr_results_config_double(r, "weight decay", P->wd);
    fr_results_config_int(r, "test images per task", P->test_images ? P->test_images : 10000);
    if (P->task_images) fr_results_config_int(r, "training images per task", P->task_images);
    fr_results_config_double(r, "IMP and ISP rate (of the remaining weights per round)", P->rate);
    fr_results_config_str(r, "IMP round",
                          "F steps of training, global magnitude prune, rewind "
                          "to the start point (pretrained body, fresh head)");
    fr_results_config_int(r, "ISP weak masks N", P->n_weak);
    fr_results_config_int(r, "ISP look-ahead C", P->lookahead);
    fr_results_config_int(r, "ISP own steps per round", P->round_steps);
    fr_results_config_str(r, "ISP weak protocols",
                          "weak model n: lr x {1, .5, 2, .7, 1.4}[n%5], "
                          "wd x {1, 0, 10, 3}[n%4], own seed, own random "
                          "10% subset");
    fr_results_config_int(r, "soup ingredients K", P->n_ingr);
    fr_results_config_int(r, "workers", 0);
    const char *mc[6] = {"run",         "sparsity (%)",      "test acc (%)",
                         "total steps", "mask-search steps", "wall (s)"};
    fr_results_table(r, "methods", 6, mc);
    const char *sc[5] = {"run", "test acc (%)", "held-out acc (%)", "total steps",
                         "ingredients used"};
    fr_results_table(r, "soups at 80%", 5, sc);
    const char *qc[5] = {"pair", "sparsity (%)", "IoU of pruned sets", "keep-mask cosine",
                         "agreement"};
    fr_results_table(r, "mask similarity", 5, qc);
    const char *ac[6] = {"run", "N", "C", "test acc (%)", "total steps", "wall (s)"};
    fr_results_table(r, "ablation at 80%", 6, ac);
    /* the paper's numbers, labelled as such */
    fr_results_metric(r, "paper: ISP, CLIP ViT-B/32 on CIFAR-10 at 80%", 91.20, "%");
    fr_results_metric(r, "paper: LTH (IMP, rewind), CLIP ViT-B/32 on CIFAR-10 at 80%", 87.28, "%");
    fr_results_metric(r, "paper: one-shot magnitude, CLIP ViT-B/32 on CIFAR-10 at 80%", 75.85, "%");
    fr_results_metric(r, "paper: ISP with 0 weak masks (CIFAR-100)", 70.32, "%");
    fr_results_metric(r, "paper: ISP with 2 weak masks (CIFAR-100)", 70.95, "%");
    fr_results_metric(r, "paper: ISP with 4 weak masks (CIFAR-100)", 71.15, "%");
    fr_results_metric(r, "paper: ISP with 16 weak masks (CIFAR-100)", 71.16, "%");
}

static void record_ours(struct env *e, const char *task, const struct task_res *T) {
    char key[192];
    const int ms[4] = {M_ISP, M_IMP, M_OMP, M_SOUP}, i = e->P->s80;
    for (int k = 0; k < 4; k++) {
        snprintf(key, sizeof key, "ours: %s, %s on %s at 80%%", MNAME[ms[k]], e->P->arch, task);
        fr_results_metric(e->r, key, T->c[ms[k]][i].acc, "%");
    }
    snprintf(key, sizeof key, "ours: ISP's training steps / IMP's, %s at 80%%", task);
    fr_results_metric(e->r, key, T->c[M_ISP][i].steps / T->c[M_IMP][i].steps, "x");
}

static int run(const struct fr_experiment *ex, const void *plan, const struct fr_exp_opts *o,
               struct fr_exp_outcome *out) {
    const struct isp_plan *P = plan;
    struct env E = {0};
    struct task_res T[MAXTASKS] = {0};
    E.o = o;
    E.P = P;
    E.t0 = fr_seconds();
    char dir[4096], cache[4200], path[4200], msg[512];
    int rc = fr_exp_dir(o, ex->name, dir, sizeof dir);
    if (rc) return rc;
    snprintf(cache, sizeof cache, "%s/pretrained", o->out);
    struct fr_pretrain_spec ps;
    fr_pretrain_spec_defaults(&ps);
    ps.arch = P->arch;
    ps.images = P->pre_images;
    ps.epochs = P->pre_epochs;
    ps.seed = o->seed;
    ps.cache_dir = cache;
    ps.test_images = P->pre_test_images;
    struct fr_pretrain_info info;
    if ((rc = fr_pretrain(&ps, o->data_dir, &E.pre, &info))) goto fail;
    fr_exp_log(o, "isp: pretrained %s %s (%lld steps) %s", P->arch,
               info.cached ? "loaded from the cache" : "trained and cached", (long long)info.steps,
               info.path);
    if (!(E.ctx = fr_ctx_new(64 << 20))) {
        rc = fr_error(FR_ENOMEM, "out of memory");
        goto fail;
    }
    char title[160];
    snprintf(title, sizeof title, "Instant Soup Pruning vs lottery tickets, %s%s", P->arch, P->tag);
    if (!(E.r = fr_results_new(ex->name, title))) {
        rc = fr_error(FR_ENOMEM, "out of memory");
        goto fail;
    }
    record_header(&E, &ps, &info);
    snprintf(path, sizeof path, "%s/results.json", dir);
    for (int t = 0; t < P->ntasks; t++) {
        const char *task = P->tasks[t];
        int abl = t == 0 && P->n_abl_n + P->n_abl_c > 0;
        if ((rc = load_task(&E, task)) || (rc = run_task(&E, &T[t], abl))) goto fail;
        record_task(&E, task, &T[t], abl);
        record_ours(&E, task, &T[t]);
        if ((rc = write_plots(&E, dir, task, &T[t], abl))) goto fail;
        task_free(&E, &T[t]);
        if (t + 1 < P->ntasks) { /* a partial results.json while the next task runs */
            fr_results_set_str(E.r, "status", "partial: later tasks still running");
            if ((rc = fr_results_write(E.r, path))) goto fail;
        }
    }
    fr_results_set_str(E.r, "status", "complete");
    fr_results_metric(E.r, "total time", fr_seconds() - E.t0, "s");
    char notes[1024], points[64];
    sparsity_list(P, "/", points, sizeof points);
    snprintf(notes, sizeof notes,
             "A small model (vit 72k, resnet20 271k parameters) pretrained on Fashion-MNIST and "
             "its downstream tasks stand in for the paper's CLIP ViT-B/32 on CIFAR: compare "
             "directions and ratios, not the absolute numbers. Every pruned model gets the same "
             "fine-tune budget F; 'total steps' adds what the method spent finding its mask (IMP: "
             "one F-step training per round; ISP: its own steps plus N x C weak-model steps per "
             "round). IMP and ISP use one schedule through %s%% (the configured rate of the "
             "remaining weights per round), so the state at each S is what a run to S would "
             "give. One seed; on 2000 test images (quick) one image is 0.05 points.",
             points);
    fr_results_set_str(E.r, "notes", notes);
    if ((rc = fr_results_write(E.r, path))) goto fail;
    snprintf(out->results, sizeof out->results, "%s", path);
    size_t ns = 0;
    for (int t = 0; t < P->ntasks && ns < sizeof out->summary; t++) {
        const struct cell *c[NM];
        for (int m = 0; m < NM; m++)
            c[m] = &T[t].c[m][P->s80];
        ns += (size_t)snprintf(
            out->summary + ns, sizeof out->summary - ns,
            "isp: %-7s 80%%: ISP %.2f%% (%.0f steps), IMP %.2f%% (%.0f steps), OMP+FT %.2f%% "
            "(%.0f steps), instant soup %.2f%%\n",
            P->tasks[t], c[M_ISP]->acc, c[M_ISP]->steps, c[M_IMP]->acc, c[M_IMP]->steps,
            c[M_OMP]->acc, c[M_OMP]->steps, c[M_SOUP]->acc);
    }
    if (ns < sizeof out->summary)
        snprintf(out->summary + ns, sizeof out->summary - ns, "isp: wrote %.1024s in %.0f s\n",
                 path, fr_seconds() - E.t0);
    goto done;
fail: /* the message names the experiment, as the CLI's did */
    snprintf(msg, sizeof msg, "%s", fr_last_error());
    rc = fr_error(rc ? rc : FR_EINVAL, "isp: %s", msg);
done:
    for (int t = 0; t < MAXTASKS; t++)
        task_free(&E, &T[t]);
    fr_model_free(E.pre);
    fr_ctx_free(E.ctx);
    fr_results_free(E.r);
    return rc;
}

const struct fr_experiment fr_exp_isp = {
    "isp",
    "2306.10460",
    "Instant Soup Pruning vs IMP/LTH, OMP, SNIP, GraSP; soups; weak-mask ablation",
    {&VIT_TINY, &VIT_QUICK, &VIT_FULL},
    run};
const struct fr_experiment fr_exp_isp_resnet20 = {
    "isp-resnet20",
    "2306.10460",
    "Instant Soup Pruning vs IMP/LTH and one-shot methods on resnet20 (smaller plan)",
    {&RESNET_TINY, &RESNET_QUICK, &RESNET_FULL},
    run};

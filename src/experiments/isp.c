/* isp.c: `frugal repro isp` and `isp-resnet20`, Instant Soup Pruning (arXiv 2306.10460)
 * against lottery tickets (IMP with rewinding) and one-shot pruning, on
 * frugal's pretrained vit / resnet20 and Fashion-MNIST downstream tasks
 * (lottery.h, soup.h, docs/isp.md), over several seeds.
 *
 * Recipe, per downstream task and seed:
 *   1. The pretrained model from fr_pretrain (transfer.h), cached in
 *      OUT/pretrained with the spec `repro essential-sparsity` uses for
 *      vit-sup / resnet20-sup (so the two share the file); one pretrained
 *      model (--seed) for every seed of the run. Its body goes into a
 *      classifier with a fresh head (initialised from the run's seed):
 *      the start point of every method.
 *   2. The task's training images are split 90/10 (seeded): every method
 *      trains on the 90%, greedy soups choose on the 10%. Test accuracy is
 *      on the first test_images of the task's test split.
 *   3. At each S of the plan: OMP (and, where the plan says, random, SNIP,
 *      GraSP) prune the start point once; IMP (rewinding to the start
 *      point) and ISP (trimmed union of N weak keep-masks per round) run
 *      once along one schedule through every S, the state at each S kept;
 *      every pruned model then gets the same fine-tune budget F. "Total
 *      steps" adds what the method spent finding its mask. ISP + instant
 *      soup also averages the weak models' weights each round.
 *   4. At 80 %: OMP fine-tuned for ISP's whole step count (compute-
 *      matched); uniform and greedy soups of K ingredients fine-tuned from
 *      the ISP model (plans with K > 0); mask similarity between OMP, IMP
 *      and ISP masks at every S.
 *   5. First task, 80 %: the weak-mask ablation N = abl_n[] (N = 0 first:
 *      gradual magnitude pruning) under both merge rules: ours (the union
 *      trimmed by m's magnitudes to each round's sparsity, rate of the
 *      plan, protocols varied by lr / wd / seed) and the authors' code
 *      (untrimmed union, 10 % of the remaining per round, weak models
 *      differing only by seed and starting from m's optimizer moments).
 *      Each run's mask is compared with OMP's and with its rule's N = 0
 *      mask, and the share of its pruning the weak masks' agreement
 *      decided (the rest: m's magnitudes) is recorded: if the trimmed
 *      union left the decision to magnitudes, its masks sit at OMP's and N
 *      cannot matter.
 * Numbers compared are means over the plan's seeds with Student t 95 %
 * intervals; each comparison's verdict comes from the paired interval of
 * its difference (fr_verdict_of). Weak models and soup ingredients train
 * in forked workers. The tiny plans (a smoke test, numbers meaningless)
 * run the whole recipe at S = 50 and 80 % on a few hundred images.
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
#define MAXSEEDS 5
#define NPAIRS 4
#define NRULES 2

enum { M_OMP, M_RANDOM, M_SNIP, M_GRASP, M_IMP, M_ISP, M_SOUP, NM };
static const char *const MNAME[NM] = {
    "OMP+FT", "random+FT", "SNIP+FT", "GraSP+FT", "IMP (LTH, rewind)", "ISP", "ISP + instant soup"};
/* mask-similarity pairs (method indices) */
static const int PAIRS[NPAIRS][2] = {
    {M_OMP, M_IMP}, {M_OMP, M_ISP}, {M_IMP, M_ISP}, {M_ISP, M_SOUP}};
static const char *const PNAME[NPAIRS] = {"OMP vs IMP", "OMP vs ISP", "IMP vs ISP",
                                          "ISP vs ISP+soup"};
/* the merge rules of the ablation: ours (FR_ISP_MERGE_TRIM), the authors' */
static const char *const RNAME[NRULES] = {"trim", "union"};

struct isp_plan {
    double sp[MAXS]; /* the sparsities S every method is compared at, ascending */
    int ns;
    int s80;           /* the index of 80 % in sp (soups, matched compute, ablations) */
    const char *arch;  /* vit | resnet20 */
    const char *about; /* the model, for results.json */
    const char *tag;   /* after the arch in the report title */
    const char *tasks[MAXTASKS];
    int ntasks;
    int nseeds;          /* downstream seeds --seed, --seed + 1, ... */
    int64_t task_images; /* the first N training images of each task (0: all) */
    int64_t pre_images;  /* the essential-sparsity repro's spec (0: all 50,000) */
    int pre_epochs;
    int64_t pre_test_images; /* the pretrained model scored on N test images (0: all) */
    int batch;
    int64_t ft_steps; /* F: the fine-tune budget of every pruned model */
    double lr, wd;
    int64_t test_images;  /* 0: all */
    int64_t score_images; /* SNIP / GraSP score on the first N training images */
    int oneshot_all;      /* also random, SNIP and GraSP (else OMP only) */
    double rate;          /* IMP and ISP: fraction of the remaining weights per round */
    int n_weak;
    int64_t lookahead, round_steps;
    int n_ingr;        /* soup ingredients (0: no soups) */
    int abl_n[MAXABL]; /* weak masks N of the ablation, 0 first */
    int n_abl_n;
    double union_rate; /* the authors' rule: of the remaining weights per weak mask */
};

/* The pretraining specs of `repro essential-sparsity`'s vit-sup and
 * resnet20-sup (supervised, batch 128, AdamW lr 1e-3 cosine, wd 1e-4, seed
 * --seed): every field that names the cache file must match for the two
 * repros to share it. */
#define PRE_WD 1e-4
#define VIT_ABOUT                                                                                  \
    "vit (patch 4, dim 64, 2 blocks), pretrained supervised on Fashion-MNIST pretraining "         \
    "images 0-49999, 3 epochs (fr_pretrain; essential-sparsity's vit-sup)"
#define RESNET_ABOUT                                                                               \
    "resnet20 (CIFAR ResNet-20, batch norm), pretrained supervised on the first 20000 "            \
    "Fashion-MNIST pretraining images, 2 epochs (fr_pretrain; essential-sparsity's "               \
    "resnet20-sup)"

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
    .nseeds = 2,
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
    .oneshot_all = 1,
    .rate = 0.5,
    .n_weak = 2,
    .lookahead = 2,
    .round_steps = 2,
    .n_ingr = 2,
    .abl_n = {0, 2},
    .n_abl_n = 2,
    .union_rate = 0.3,
};
static const struct isp_plan VIT_QUICK = {
    .sp = {.5, .7, .8, .9},
    .ns = 4,
    .s80 = 2,
    .arch = "vit",
    .about = "vit (patch 4, dim 64, 2 blocks), pretrained supervised on the first 10000 "
             "Fashion-MNIST pretraining images, 2 epochs (fr_pretrain; essential-sparsity's "
             "quick vit-sup)",
    .tag = " (quick)",
    .tasks = {"rotate"},
    .ntasks = 1,
    .nseeds = 2,
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
    .n_ingr = 0,
    .abl_n = {0, 4},
    .n_abl_n = 2,
    .union_rate = 0.2,
};
static const struct isp_plan VIT_FULL = {
    .sp = {.5, .7, .8, .9},
    .ns = 4,
    .s80 = 2,
    .arch = "vit",
    .about = VIT_ABOUT,
    .tag = "",
    .tasks = {"rotate"},
    .ntasks = 1,
    .nseeds = 3,
    .pre_images = 0,
    .pre_epochs = 3,
    .batch = 64,
    .ft_steps = 100,
    .lr = 1e-3,
    .wd = 1e-4,
    .test_images = 5000,
    .score_images = 256,
    .rate = 0.3,
    .n_weak = 4,
    .lookahead = 8,
    .round_steps = 8,
    .n_ingr = 0,
    .abl_n = {0, 4, 8},
    .n_abl_n = 3,
    .union_rate = 0.1,
};

/* resnet20 costs ~5x the vit per step: fewer sparsities, F = 30, C = 4,
 * N = 0 and 4 in the ablation */
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
    .nseeds = 1, /* the one-seed path: intervals and verdicts say so */
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
    .oneshot_all = 1,
    .rate = 0.5,
    .n_weak = 2,
    .lookahead = 1,
    .round_steps = 1,
    .n_ingr = 2,
    .abl_n = {0, 2},
    .n_abl_n = 2,
    .union_rate = 0.4,
};
static const struct isp_plan RESNET_QUICK = {
    .sp = {.5, .8, .9},
    .ns = 3,
    .s80 = 1,
    .arch = "resnet20",
    .about = RESNET_ABOUT,
    .tag = " (quick)",
    .tasks = {"rotate"},
    .ntasks = 1,
    .nseeds = 1,
    .pre_images = 20000,
    .pre_epochs = 2,
    .batch = 64,
    .ft_steps = 20,
    .lr = 1e-3,
    .wd = 1e-4,
    .test_images = 1000,
    .score_images = 256,
    .rate = 0.3,
    .n_weak = 4,
    .lookahead = 4,
    .round_steps = 4,
    .n_ingr = 0,
    .abl_n = {0, 4},
    .n_abl_n = 2,
    .union_rate = 0.2,
};
static const struct isp_plan RESNET_FULL = {
    .sp = {.5, .8, .9},
    .ns = 3,
    .s80 = 1,
    .arch = "resnet20",
    .about = RESNET_ABOUT,
    .tag = "",
    .tasks = {"rotate"},
    .ntasks = 1,
    .nseeds = 3,
    .pre_images = 20000,
    .pre_epochs = 2,
    .batch = 64,
    .ft_steps = 30,
    .lr = 1e-3,
    .wd = 1e-4,
    .test_images = 2000,
    .score_images = 256,
    .rate = 0.3,
    .n_weak = 4,
    .lookahead = 4,
    .round_steps = 4,
    .n_ingr = 0,
    .abl_n = {0, 4},
    .n_abl_n = 2,
    .union_rate = 0.1,
};

struct cell {
    double acc, steps, search_steps, seconds;
};

/* One ablation run at 80 %. */
struct abl {
    struct cell c;
    double iou_omp;    /* IoU of its pruned set with OMP's at 80 % */
    double iou_n0;     /* ... with its rule's N = 0 run's */
    double weak_share; /* % of its pruned weights the weak masks' agreement pruned */
    int rounds;
};

/* One task, one seed. */
struct task_res {
    double dense_acc;
    struct cell c[NM][MAXS];
    float *mask[NM][MAXS]; /* masks kept for similarity (OMP, IMP, ISP, SOUP) */
    struct fr_mask_similarity sim[NPAIRS][MAXS];
    struct cell omp_matched;
    struct cell uniform, greedy, best_ingr;
    double uniform_held, greedy_held, best_ingr_held;
    int greedy_used;
    struct abl abl[NRULES][MAXABL];
    float *isp80_data, *isp80_mask; /* the ISP state at 80 %, before fine-tuning */
    int64_t isp80_steps;
    double isp80_secs;
};

struct env {
    const struct fr_exp_opts *o;
    const struct isp_plan *P;
    uint64_t seed; /* this pass's downstream seed */
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

static int run_method(const struct isp_plan *P, int m) {
    return P->oneshot_all || (m != M_RANDOM && m != M_SNIP && m != M_GRASP);
}
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
    base_fit(e, &f, steps > 0 ? steps : e->P->ft_steps, e->seed + 500);
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
        pc.seed = e->seed;
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
    base_fit(e, &c.fit, e->P->ft_steps, e->seed + 700);
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

/* ISP to sp[ntarget - 1] with N weak masks under a merge rule (the trimmed
 * rule passes through the earlier sp, the authors' goes straight to the
 * target); *S keeps the states (caller frees), *res the method's counts. */
static int isp_search(struct env *e, int ntarget, int N, int soup, int rule, struct snaps *S,
                      struct fr_lottery_result *res) {
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
    c.lookahead = e->P->lookahead;
    c.round_steps = e->P->round_steps;
    base_fit(e, &c.fit, 1, e->seed + 900);
    if (rule == FR_ISP_MERGE_UNION) { /* the authors' code */
        c.merge = FR_ISP_MERGE_UNION;
        c.rate = e->P->union_rate;
        c.vary = FR_ISP_VARY_SEED;
        c.nstops = 0;
    }
    c.soup = soup;
    c.workers = 0;
    c.seed = e->seed;
    c.on_round = snap_round;
    c.user = S;
    int rc = reset(e);
    if (!rc) rc = fr_isp(e->m, e->sel, &e->task.train, &e->tr, &c, res);
    return rc;
}

static int run_isp(struct env *e, struct task_res *T, int method) {
    const int k = e->P->s80;
    struct snaps S;
    struct fr_lottery_result res;
    int rc = isp_search(e, e->P->ns, e->P->n_weak, method == M_SOUP, FR_ISP_MERGE_TRIM, &S, &res);
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
        base_fit(e, &ing[i].fit, e->P->ft_steps, e->seed + 1000 + (uint64_t)i);
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

/* The weak-mask ablation at 80 % under both merge rules (abl_n[0] is 0:
 * its mask is the one the others are compared with). */
static int run_ablation(struct env *e, struct task_res *T) {
    const struct isp_plan *P = e->P;
    const int k = P->s80;
    float *n0 = NULL;
    int rc = 0;
    for (int rule = 0; rule < NRULES && !rc; rule++)
        for (int a = 0; a < P->n_abl_n && !rc; a++) {
            struct abl *A = &T->abl[rule][a];
            struct snaps S;
            struct fr_lottery_result res;
            rc = isp_search(e, k + 1, P->abl_n[a], 0, rule, &S, &res);
            if (!rc && !S.data[k]) rc = fr_error(FR_EINVAL, "isp: no round ended at 80%%");
            if (!rc) {
                load_snap(e, &S, k);
                A->c = (struct cell){0, 0, (double)S.steps[k], S.secs[k]};
                A->rounds = res.rounds;
                A->weak_share = 100.0 * (double)res.weak_pruned /
                                (double)(res.weak_pruned + res.magnitude_pruned);
                if (a == 0) rc = keep_mask(e, &n0);
            }
            struct fr_mask_similarity ms;
            if (!rc)
                rc = fr_mask_similarity(&e->m->params, e->sel, e->m->params.mask, T->mask[M_OMP][k],
                                        &ms);
            if (!rc) {
                A->iou_omp = ms.iou;
                rc = fr_mask_similarity(&e->m->params, e->sel, e->m->params.mask, n0, &ms);
            }
            if (!rc) {
                A->iou_n0 = ms.iou;
                rc = finish(e, &A->c, 0);
            }
            snaps_free(&S);
            char what[64];
            snprintf(what, sizeof what, "ablation %s N=%d", RNAME[rule], P->abl_n[a]);
            if (!rc)
                fr_exp_log(e->o,
                           "isp: %-8s %-26s S=80%%  acc %6.2f%%  steps %6.0f  rounds %d  IoU "
                           "with OMP %.3f, with N=0 %.3f, weak-mask share %.1f%%  [%.0f s]",
                           e->task.name, what, A->c.acc, A->c.steps, A->rounds, A->iou_omp,
                           A->iou_n0, A->weak_share, fr_seconds() - e->t0);
        }
    free(n0);
    return rc;
}

static int run_task(struct env *e, struct task_res *T, int with_ablation) {
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    mc.n_classes = e->task.train.nclass;
    int rc = 0;
    if (!(e->m = fr_model_new(e->P->arch, &mc, e->seed + 1))) return FR_EINVAL;
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
        if (run_method(e->P, m)) rc = run_oneshot(e, T, m);
    if (!rc) rc = run_imp(e, T);
    if (!rc) rc = run_isp(e, T, M_ISP);
    if (!rc) rc = run_isp(e, T, M_SOUP);
    if (!rc) rc = run_matched(e, T);
    if (!rc && e->P->n_ingr > 0) rc = run_soups(e, T);
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
    int rc = fr_task_load(&e->task, name, e->o->data_dir, e->P->task_images, e->seed);
    if (rc) return rc;
    if ((rc = fr_dataset_split(&e->task.train, 0.1, e->seed + 3, &e->tr, &e->held))) return rc;
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

/* The seeds' values of one number, picked by an accessor. */
typedef double (*pick_fn)(const struct task_res *T, int a, int b);

static void gather(const struct task_res *T, int n, pick_fn f, int a, int b, double *x) {
    for (int s = 0; s < n; s++)
        x[s] = f(&T[s], a, b);
}

static double pick_acc(const struct task_res *T, int m, int i) {
    return T->c[m][i].acc;
}
static double pick_steps(const struct task_res *T, int m, int i) {
    return T->c[m][i].steps;
}
static double pick_search(const struct task_res *T, int m, int i) {
    return T->c[m][i].search_steps;
}
static double pick_secs(const struct task_res *T, int m, int i) {
    return T->c[m][i].seconds;
}
static double pick_dense(const struct task_res *T, int a, int b) {
    (void)a, (void)b;
    return T->dense_acc;
}
static double pick_matched(const struct task_res *T, int a, int b) {
    (void)a, (void)b;
    return T->omp_matched.acc;
}
static double pick_abl(const struct task_res *T, int rule, int a) {
    return T->abl[rule][a].c.acc;
}
static double pick_iou_omp(const struct task_res *T, int rule, int a) {
    return T->abl[rule][a].iou_omp;
}
static double pick_share(const struct task_res *T, int rule, int a) {
    return T->abl[rule][a].weak_share;
}

/* The mean of n values (the t interval's mean). */
static double mean_of(const double *x, int n) {
    struct fr_interval iv;
    return fr_interval_t95(x, n, &iv) ? NAN : iv.mean;
}

/* A comparison A - B over the seeds (paired): its row in "comparisons at
 * 80%", a metric with the interval, and its verdict sentence in notes. */
struct verdicts {
    char *notes;
    size_t cap, n;
};

static int compare(struct env *e, struct verdicts *V, const char *task, const char *what,
                   const char *a, const char *b, const double *xa, const double *xb, int nseeds,
                   const char *unit) {
    struct fr_interval d;
    int rc = fr_interval_diff_t95(xa, xb, nseeds, &d);
    if (rc) return rc;
    enum fr_verdict v = fr_verdict_of(&d, 1);
    char key[320], txt[320];
    double code = v == FR_VERDICT_A ? 1 : v == FR_VERDICT_B ? -1 : v == FR_VERDICT_SAME ? 0 : NAN;
    double row[4] = {d.mean, d.lo, d.hi, code};
    snprintf(key, sizeof key, "%s: %s%s%s - %s", task, what ? what : "", what ? ", " : "", a, b);
    fr_results_table_row(e->r, "comparisons at 80%", key, row);
    fr_results_metric_ci(e->r, key, &d, unit);
    if (!what || v == FR_VERDICT_SAME || v == FR_VERDICT_UNKNOWN)
        fr_verdict_text(v, a, b, txt, sizeof txt);
    else
        snprintf(txt, sizeof txt, "higher for %s than for %s", v == FR_VERDICT_A ? a : b,
                 v == FR_VERDICT_A ? b : a);
    V->n += (size_t)snprintf(
        V->notes + V->n, V->cap - V->n, "%s%s: %s%s%s (%+.3g [%+.3g, %+.3g]%s%s)", V->n ? "; " : "",
        task, what ? what : "", what ? ": " : "", txt, d.mean, d.lo, d.hi, *unit ? " " : "", unit);
    if (V->n >= V->cap) V->n = V->cap - 1;
    return 0;
}

static int record_task(struct env *e, const char *task, const struct task_res *T, int with_ablation,
                       struct verdicts *V) {
    struct fr_results *r = e->r;
    const struct isp_plan *P = e->P;
    const double *sp = P->sp;
    const int ns = P->ns, n = P->nseeds, k = P->s80;
    char key[256];
    double xs[MAXS], ys[MAXS], x[MAXSEEDS];
    struct fr_interval iv;
    int rc;
    for (int i = 0; i < ns; i++)
        xs[i] = 100 * sp[i];
    gather(T, n, pick_dense, 0, 0, x);
    if ((rc = fr_interval_t95(x, n, &iv))) return rc;
    snprintf(key, sizeof key, "%s dense fine-tuned accuracy", task);
    fr_results_metric_ci(r, key, &iv, "%");
    for (int m = 0; m < NM; m++) {
        if (!run_method(P, m)) continue;
        for (int i = 0; i < ns; i++) {
            gather(T, n, pick_acc, m, i, x);
            if ((rc = fr_interval_t95(x, n, &iv))) return rc;
            double st[MAXSEEDS], se[MAXSEEDS], wa[MAXSEEDS];
            gather(T, n, pick_steps, m, i, st);
            gather(T, n, pick_search, m, i, se);
            gather(T, n, pick_secs, m, i, wa);
            double row[7] = {100 * sp[i],    iv.mean,        iv.lo,         iv.hi,
                             mean_of(st, n), mean_of(se, n), mean_of(wa, n)};
            snprintf(key, sizeof key, "%s %s %.0f%%", task, MNAME[m], 100 * sp[i]);
            fr_results_table_row(r, "methods", key, row);
            ys[i] = iv.mean;
            if (i == k && (m == M_OMP || m == M_IMP || m == M_ISP || m == M_SOUP)) {
                snprintf(key, sizeof key, "ours: %s, %s on %s at 80%%", MNAME[m], P->arch, task);
                fr_results_metric_ci(r, key, &iv, "%");
            }
        }
        snprintf(key, sizeof key, "%s: %s", task, MNAME[m]);
        fr_results_series(r, key, "sparsity (%)", "test accuracy (%)", ns, xs, ys);
    }
    /* the 80 % extras: compute-matched OMP and the soups */
    const struct cell *ex[4];
    const char *en[4] = {"OMP+FT at ISP's total steps", "best single ingredient (held-out)",
                         "uniform soup", "greedy soup"};
    for (int j = 0; j < (P->n_ingr > 0 ? 4 : 1); j++) {
        double a[MAXSEEDS], st[MAXSEEDS], se[MAXSEEDS], wa[MAXSEEDS];
        for (int s = 0; s < n; s++) {
            ex[0] = &T[s].omp_matched, ex[1] = &T[s].best_ingr, ex[2] = &T[s].uniform,
            ex[3] = &T[s].greedy;
            a[s] = ex[j]->acc, st[s] = ex[j]->steps, se[s] = ex[j]->search_steps;
            wa[s] = ex[j]->seconds;
        }
        if ((rc = fr_interval_t95(a, n, &iv))) return rc;
        double row[7] = {80, iv.mean, iv.lo, iv.hi, mean_of(st, n), mean_of(se, n), mean_of(wa, n)};
        snprintf(key, sizeof key, "%s %s 80%%", task, en[j]);
        fr_results_table_row(r, "methods", key, row);
    }
    if (P->n_ingr > 0) {
        for (int j = 0; j < 4; j++) {
            double a[MAXSEEDS], h[MAXSEEDS], st[MAXSEEDS], u[MAXSEEDS];
            for (int s = 0; s < n; s++) {
                const struct task_res *t = &T[s];
                const struct cell *c[4] = {&t->best_ingr, &t->uniform, &t->greedy,
                                           &t->c[M_SOUP][k]};
                double held[4] = {t->best_ingr_held, t->uniform_held, t->greedy_held, NAN};
                double used[4] = {1, P->n_ingr, t->greedy_used, P->n_weak};
                a[s] = c[j]->acc, h[s] = held[j], st[s] = c[j]->steps, u[s] = used[j];
            }
            if ((rc = fr_interval_t95(a, n, &iv))) return rc;
            double row[6] = {iv.mean,        iv.lo,        iv.hi, j < 3 ? mean_of(h, n) : NAN,
                             mean_of(st, n), mean_of(u, n)};
            snprintf(key, sizeof key, "%s %s", task,
                     j < 3 ? en[j + 1] : "ISP + instant soup (fine-tuned)");
            fr_results_table_row(r, "soups at 80%", key, row);
        }
    }
    for (int p = 0; p < NPAIRS; p++)
        for (int i = 0; i < ns; i++) {
            double io[MAXSEEDS], co[MAXSEEDS];
            for (int s = 0; s < n; s++)
                io[s] = T[s].sim[p][i].iou, co[s] = T[s].sim[p][i].keep_cosine;
            double row[3] = {100 * sp[i], mean_of(io, n), mean_of(co, n)};
            snprintf(key, sizeof key, "%s %s %.0f%%", task, PNAME[p], 100 * sp[i]);
            fr_results_table_row(r, "mask similarity", key, row);
        }
    /* comparisons at 80 % */
    double a[MAXSEEDS], b[MAXSEEDS];
    static const int CMP[5][2] = {
        {M_ISP, M_IMP}, {M_SOUP, M_IMP}, {M_ISP, M_OMP}, {M_SOUP, M_ISP}, {M_IMP, M_OMP}};
    for (int c = 0; c < 5; c++) {
        gather(T, n, pick_acc, CMP[c][0], k, a);
        gather(T, n, pick_acc, CMP[c][1], k, b);
        if ((rc = compare(e, V, task, NULL, MNAME[CMP[c][0]], MNAME[CMP[c][1]], a, b, n, "points")))
            return rc;
    }
    gather(T, n, pick_matched, 0, 0, a);
    gather(T, n, pick_acc, M_ISP, k, b);
    if ((rc = compare(e, V, task, NULL, "OMP+FT at ISP's total steps", "ISP", a, b, n, "points")))
        return rc;
    if (!with_ablation) return 0;
    /* the weak-mask ablation under both rules */
    double nx[MAXABL], ny[NRULES][MAXABL];
    char an[64], bn[64];
    for (int rule = 0; rule < NRULES; rule++) {
        for (int j = 0; j < P->n_abl_n; j++) {
            double acc[MAXSEEDS], o[MAXSEEDS], z[MAXSEEDS], w[MAXSEEDS], rd[MAXSEEDS], st[MAXSEEDS];
            struct fr_interval d = {NAN, NAN, NAN, n, "t95"};
            gather(T, n, pick_abl, rule, j, acc);
            gather(T, n, pick_abl, rule, 0, b);
            for (int s = 0; s < n; s++) {
                const struct abl *A = &T[s].abl[rule][j];
                o[s] = A->iou_omp, z[s] = A->iou_n0, w[s] = A->weak_share, rd[s] = A->rounds;
                st[s] = A->c.steps;
            }
            if ((rc = fr_interval_t95(acc, n, &iv))) return rc;
            if (j > 0 && (rc = fr_interval_diff_t95(acc, b, n, &d))) return rc;
            enum fr_verdict v = j > 0 ? fr_verdict_of(&d, 1) : FR_VERDICT_UNKNOWN;
            double code = v == FR_VERDICT_A      ? 1
                          : v == FR_VERDICT_B    ? -1
                          : v == FR_VERDICT_SAME ? 0
                                                 : NAN;
            double row[13] = {P->abl_n[j],   iv.mean,       iv.lo,         iv.hi,
                              d.mean,        d.lo,          d.hi,          code,
                              mean_of(o, n), mean_of(z, n), mean_of(w, n), mean_of(rd, n),
                              mean_of(st, n)};
            snprintf(key, sizeof key, "%s %s N=%d", task, RNAME[rule], P->abl_n[j]);
            fr_results_table_row(r, "weak masks at 80%", key, row);
            nx[j] = P->abl_n[j], ny[rule][j] = iv.mean;
            if (j > 0) {
                snprintf(an, sizeof an, "ISP %s N=%d", RNAME[rule], P->abl_n[j]);
                snprintf(bn, sizeof bn, "ISP %s N=0", RNAME[rule]);
                if ((rc = compare(e, V, task, NULL, an, bn, acc, b, n, "points"))) return rc;
            }
        }
        snprintf(key, sizeof key, "%s: ISP at 80%% vs weak masks N, %s rule", task, RNAME[rule]);
        fr_results_series(r, key, "weak masks per round N", "test accuracy (%)", P->n_abl_n, nx,
                          ny[rule]);
    }
    /* the explanation under test: at the main N, does the trimmed rule sit
     * closer to OMP's mask and leave more of the decision to magnitudes? */
    int jn = -1;
    for (int j = 0; j < P->n_abl_n; j++)
        if (P->abl_n[j] == P->n_weak) jn = j;
    if (jn > 0) {
        snprintf(an, sizeof an, "ISP union N=%d", P->n_weak);
        snprintf(bn, sizeof bn, "ISP trim N=%d", P->n_weak);
        gather(T, n, pick_abl, 1, jn, a);
        gather(T, n, pick_abl, 0, jn, b);
        if ((rc = compare(e, V, task, NULL, an, bn, a, b, n, "points"))) return rc;
        gather(T, n, pick_iou_omp, 0, jn, a);
        gather(T, n, pick_iou_omp, 1, jn, b);
        if ((rc = compare(e, V, task, "IoU of the pruned set with OMP's", bn, an, a, b, n, "")))
            return rc;
        gather(T, n, pick_share, 0, jn, a);
        gather(T, n, pick_share, 1, jn, b);
        if ((rc = compare(e, V, task,
                          "share of the pruned weights the weak masks' agreement "
                          "pruned",
                          bn, an, a, b, n, "points of %")))
            return rc;
    }
    return 0;
}

/* Per-seed accuracies at 80 %, so every interval can be traced to its runs. */
static void record_seeds(struct env *e, const char *task, const struct task_res *T,
                         int with_ablation) {
    const struct isp_plan *P = e->P;
    const int k = P->s80;
    char key[128];
    for (int s = 0; s < P->nseeds; s++) {
        double row[6 + NRULES * MAXABL];
        int c = 0;
        row[c++] = T[s].dense_acc;
        row[c++] = T[s].c[M_OMP][k].acc;
        row[c++] = T[s].c[M_IMP][k].acc;
        row[c++] = T[s].c[M_ISP][k].acc;
        row[c++] = T[s].c[M_SOUP][k].acc;
        row[c++] = T[s].omp_matched.acc;
        for (int rule = 0; rule < NRULES; rule++)
            for (int j = 0; j < P->n_abl_n; j++)
                row[c++] = with_ablation ? T[s].abl[rule][j].c.acc : NAN;
        snprintf(key, sizeof key, "%s seed %llu", task,
                 (unsigned long long)(e->o->seed + (uint64_t)s));
        fr_results_table_row(e->r, "seeds at 80%", key, row);
    }
}

static int write_plots(struct env *e, const char *dir, const char *task, const struct task_res *T,
                       int with_ablation) {
    const struct isp_plan *P = e->P;
    const double *sp = P->sp;
    const int ns = P->ns, n = P->nseeds;
    struct fr_plot_series s[NM + 2];
    double xs[MAXS], ys[NM][MAXS], cx[NM][MAXS], x[MAXSEEDS];
    gather(T, n, pick_dense, 0, 0, x);
    double dy[2] = {mean_of(x, n), mean_of(x, n)}, dx[2] = {100 * sp[0], 100 * sp[ns - 1]};
    for (int i = 0; i < ns; i++)
        xs[i] = 100 * sp[i];
    int ns_ = 0, idx[NM];
    for (int m = 0; m < NM; m++) {
        if (!run_method(P, m)) continue;
        for (int i = 0; i < ns; i++) {
            gather(T, n, pick_acc, m, i, x);
            ys[m][i] = mean_of(x, n);
            gather(T, n, pick_steps, m, i, x);
            cx[m][i] = mean_of(x, n);
        }
        idx[ns_++] = m;
    }
    char path[4400], file[128], title[200];
    int rc = 0;
    for (int j = 0; j < ns_; j++)
        s[j] = (struct fr_plot_series){MNAME[idx[j]], ns, xs, ys[idx[j]]};
    s[ns_] = (struct fr_plot_series){"dense + same fine-tune", 2, dx, dy};
    snprintf(file, sizeof file, "%s-accuracy.svg", task);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    snprintf(title, sizeof title,
             "%s, %s: test accuracy after pruning + %lld fine-tune steps (mean of %d seeds)",
             P->arch, task, (long long)P->ft_steps, n);
    struct fr_plot p = {
        title, "sparsity of the prunable weights (%)", "test accuracy (%)", 0, 1, 760, 480, 0};
    if ((rc = fr_plot_write(path, &p, ns_ + 1, s))) return rc;
    fr_results_plot(e->r, file);
    /* accuracy vs compute: one curve per method through its sparsities */
    for (int j = 0; j < ns_; j++)
        s[j] = (struct fr_plot_series){MNAME[idx[j]], ns, cx[idx[j]], ys[idx[j]]};
    double mx, my;
    for (int q = 0; q < n; q++)
        x[q] = T[q].omp_matched.steps;
    mx = mean_of(x, n);
    gather(T, n, pick_matched, 0, 0, x);
    my = mean_of(x, n);
    s[ns_] = (struct fr_plot_series){"OMP+FT at ISP's total steps (80%)", 1, &mx, &my};
    snprintf(file, sizeof file, "%s-compute.svg", task);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    char points[64];
    sparsity_list(P, ", ", points, sizeof points);
    snprintf(title, sizeof title, "%s, %s: accuracy vs training steps spent (points: S = %s %%)",
             P->arch, task, points);
    struct fr_plot pc = {title,
                         "total training steps (mask search + fine-tune)",
                         "test accuracy (%)",
                         0,
                         1,
                         760,
                         480,
                         1};
    if ((rc = fr_plot_write(path, &pc, ns_ + 1, s))) return rc;
    fr_results_plot(e->r, file);
    if (!with_ablation) return 0;
    double nx[MAXABL], ny[NRULES][MAXABL];
    for (int rule = 0; rule < NRULES; rule++)
        for (int a = 0; a < P->n_abl_n; a++) {
            nx[a] = P->abl_n[a];
            gather(T, n, pick_abl, rule, a, x);
            ny[rule][a] = mean_of(x, n);
        }
    struct fr_plot_series sa[NRULES] = {
        {"trimmed union (ours)", P->n_abl_n, nx, ny[0]},
        {"untrimmed union (the authors' code)", P->n_abl_n, nx, ny[1]}};
    snprintf(file, sizeof file, "%s-ablation-n.svg", task);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    snprintf(title, sizeof title, "%s, %s, 80%%: weak masks per round (C = %lld, mean of %d seeds)",
             P->arch, task, (long long)P->lookahead, n);
    struct fr_plot pa = {title, "weak masks per round N", "test accuracy (%)", 0, 1, 640, 400, 0};
    if ((rc = fr_plot_write(path, &pa, NRULES, sa))) return rc;
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
    char seeds[128];
    size_t q = 0;
    for (int s = 0; s < P->nseeds && q < sizeof seeds; s++)
        q += (size_t)snprintf(seeds + q, sizeof seeds - q, "%s%llu", s ? ", " : "",
                              (unsigned long long)(e->o->seed + (uint64_t)s));
    fr_results_config_str(r, "downstream seeds (head init, split, batches, weak subsets)", seeds);
    fr_results_config_str(r, "model", P->about);
    fr_results_config_str(r, "pretrained cache", info->path);
    fr_results_config_str(r, "pretraining objective", ps->objective);
    fr_results_config_int(r, "pretraining images", ps->images ? ps->images : 50000);
    fr_results_config_int(r, "pretraining epochs", ps->epochs);
    fr_results_config_int(r, "pretraining batch", ps->batch);
    fr_results_config_double(r, "pretraining lr (AdamW, cosine)", ps->lr);
    fr_results_config_double(r, "pretraining weight decay", ps->wd);
    fr_results_config_int(r, "pretraining seed", (int64_t)ps->seed);
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
    fr_results_config_str(r, "ISP weak protocols (trim rule)",
                          "weak model n: lr x {1, .5, 2, .7, 1.4}[n%5], "
                          "wd x {1, 0, 10, 3}[n%4], own seed, own random "
                          "10% subset");
    fr_results_config_str(r, "ISP merge rules of the ablation",
                          "trim: union of the weak keep-masks trimmed by the model's magnitudes "
                          "to each round's sparsity (the main ISP rows); union: the authors' "
                          "code, untrimmed union, each weak model prunes the union rate of the "
                          "remaining weights, rounds until within 5 points of 80%, then one-shot "
                          "magnitude; weak models differ only by seed (own 10% subset) and start "
                          "from the model's optimizer moments");
    fr_results_config_double(r, "ISP union rule rate", P->union_rate);
    fr_results_config_int(r, "soup ingredients K", P->n_ingr);
    fr_results_config_int(r, "workers", 0);
    const char *mc[8] = {"run",    "sparsity (%)", "test acc (%)",      "95% lo",
                         "95% hi", "total steps",  "mask-search steps", "wall (s)"};
    fr_results_table(r, "methods", 8, mc);
    if (P->n_ingr > 0) {
        const char *sc[7] = {
            "run",         "test acc (%)",    "95% lo", "95% hi", "held-out acc (%)",
            "total steps", "ingredients used"};
        fr_results_table(r, "soups at 80%", 7, sc);
    }
    const char *qc[4] = {"pair", "sparsity (%)", "IoU of pruned sets", "keep-mask cosine"};
    fr_results_table(r, "mask similarity", 4, qc);
    const char *cc[5] = {"comparison (A - B)", "difference", "95% lo", "95% hi",
                         "verdict (1: A better, 0: no measurable difference, -1: B better)"};
    fr_results_table(r, "comparisons at 80%", 5, cc);
    const char *ac[14] = {"run",
                          "N",
                          "test acc (%)",
                          "95% lo",
                          "95% hi",
                          "minus N=0 (points)",
                          "95% lo",
                          "95% hi",
                          "verdict vs N=0 (1, 0, -1)",
                          "IoU with OMP's mask",
                          "IoU with N=0's mask",
                          "pruned by weak-mask agreement (%)",
                          "rounds",
                          "total steps"};
    fr_results_table(r, "weak masks at 80%", 14, ac);
    static char names[6 + NRULES * MAXABL][48];
    const char *sc2[7 + NRULES * MAXABL] = {
        "run", "dense+FT", "OMP+FT", "IMP", "ISP", "ISP + instant soup", "OMP+FT at ISP's steps"};
    int nc = 7;
    for (int rule = 0; rule < NRULES; rule++)
        for (int j = 0; j < P->n_abl_n; j++) {
            snprintf(names[nc - 7], sizeof names[0], "%s N=%d", RNAME[rule], P->abl_n[j]);
            sc2[nc] = names[nc - 7];
            nc++;
        }
    fr_results_table(r, "seeds at 80%", nc, sc2);
    /* the paper's numbers, labelled as such */
    fr_results_metric(r, "paper: ISP, CLIP ViT-B/32 on CIFAR-10 at 80%", 91.20, "%");
    fr_results_metric(r, "paper: LTH (IMP, rewind), CLIP ViT-B/32 on CIFAR-10 at 80%", 87.28, "%");
    fr_results_metric(r, "paper: one-shot magnitude, CLIP ViT-B/32 on CIFAR-10 at 80%", 75.85, "%");
    fr_results_metric(r, "paper: ISP with 0 weak masks (CIFAR-100)", 70.32, "%");
    fr_results_metric(r, "paper: ISP with 2 weak masks (CIFAR-100)", 70.95, "%");
    fr_results_metric(r, "paper: ISP with 4 weak masks (CIFAR-100)", 71.15, "%");
    fr_results_metric(r, "paper: ISP with 16 weak masks (CIFAR-100)", 71.16, "%");
}

static int run(const struct fr_experiment *ex, const void *plan, const struct fr_exp_opts *o,
               struct fr_exp_outcome *out) {
    const struct isp_plan *P = plan;
    struct env E = {0};
    struct task_res T[MAXTASKS][MAXSEEDS];
    memset(T, 0, sizeof T);
    E.o = o;
    E.P = P;
    E.t0 = fr_seconds();
    char dir[4096], cache[4200], path[4200], msg[512];
    char vnotes[8192] = "";
    struct verdicts V = {vnotes, sizeof vnotes, 0};
    int rc = fr_exp_dir(o, ex->name, dir, sizeof dir);
    if (rc) return rc;
    if (P->nseeds < 1 || P->nseeds > MAXSEEDS || P->n_abl_n > MAXABL ||
        (P->n_abl_n > 0 && P->abl_n[0] != 0))
        return fr_error(FR_EINVAL, "isp: bad plan (seeds %d, ablation)", P->nseeds);
    snprintf(cache, sizeof cache, "%s/pretrained", o->out);
    struct fr_pretrain_spec ps;
    fr_pretrain_spec_defaults(&ps);
    ps.arch = P->arch;
    ps.objective = "supervised";
    ps.images = P->pre_images;
    ps.epochs = P->pre_epochs;
    ps.wd = PRE_WD;
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
        int abl = t == 0 && P->n_abl_n > 0;
        for (int s = 0; s < P->nseeds; s++) {
            E.seed = o->seed + (uint64_t)s;
            fr_exp_log(o, "isp: %s, seed %llu of %d", task, (unsigned long long)E.seed, P->nseeds);
            if ((rc = load_task(&E, task)) || (rc = run_task(&E, &T[t][s], abl))) goto fail;
            task_free(&E, &T[t][s]);
        }
        if ((rc = record_task(&E, task, T[t], abl, &V))) goto fail;
        record_seeds(&E, task, T[t], abl);
        if ((rc = write_plots(&E, dir, task, T[t], abl))) goto fail;
        if (t + 1 < P->ntasks) { /* a partial results.json while the next task runs */
            fr_results_set_str(E.r, "status", "partial: later tasks still running");
            if ((rc = fr_results_write(E.r, path))) goto fail;
        }
    }
    fr_results_set_str(E.r, "status", "complete");
    fr_results_metric(E.r, "total time", fr_seconds() - E.t0, "s");
    char notes[10240], points[64];
    sparsity_list(P, "/", points, sizeof points);
    snprintf(notes, sizeof notes,
             "A small model (%s) pretrained on Fashion-MNIST and its downstream tasks stand in "
             "for the paper's CLIP ViT-B/32 on CIFAR: compare directions, not absolute numbers. "
             "Every pruned model gets the same fine-tune budget F = %lld; 'total steps' adds what "
             "the method spent finding its mask. IMP and ISP use one schedule through %s%%. "
             "Means over %d seeds with Student t 95%% intervals; verdicts from the paired "
             "interval of each difference at 80%%: %s.",
             P->arch, (long long)P->ft_steps, points, P->nseeds, vnotes);
    fr_results_set_str(E.r, "notes", notes);
    if ((rc = fr_results_write(E.r, path))) goto fail;
    snprintf(out->results, sizeof out->results, "%s", path);
    size_t ns = 0;
    for (int t = 0; t < P->ntasks && ns < sizeof out->summary; t++) {
        double x[NM][MAXSEEDS];
        for (int m = 0; m < NM; m++)
            gather(T[t], P->nseeds, pick_acc, m, P->s80, x[m]);
        ns += (size_t)snprintf(
            out->summary + ns, sizeof out->summary - ns,
            "isp: %-7s 80%%, mean of %d seeds: ISP %.2f%%, IMP %.2f%%, OMP+FT %.2f%%, instant "
            "soup %.2f%%\n",
            P->tasks[t], P->nseeds, mean_of(x[M_ISP], P->nseeds), mean_of(x[M_IMP], P->nseeds),
            mean_of(x[M_OMP], P->nseeds), mean_of(x[M_SOUP], P->nseeds));
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
        for (int s = 0; s < MAXSEEDS; s++)
            task_free(&E, &T[t][s]);
    fr_model_free(E.pre);
    fr_ctx_free(E.ctx);
    fr_results_free(E.r);
    return rc;
}

const struct fr_experiment fr_exp_isp = {
    "isp",
    "2306.10460",
    "Instant Soup Pruning vs IMP/LTH and OMP over seeds; soups; weak-mask ablation under two "
    "merge rules",
    {&VIT_TINY, &VIT_QUICK, &VIT_FULL},
    run};
const struct fr_experiment fr_exp_isp_resnet20 = {
    "isp-resnet20",
    "2306.10460",
    "Instant Soup Pruning vs IMP/LTH and OMP on resnet20 over seeds (smaller plan)",
    {&RESNET_TINY, &RESNET_QUICK, &RESNET_FULL},
    run};

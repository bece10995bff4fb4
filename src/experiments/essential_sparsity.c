/* essential_sparsity.c: `frugal repro essential-sparsity`, the
 * accuracy-vs-sparsity curves of Essential Sparsity (arXiv 2306.03805) on
 * frugal's small pretrained models and Fashion-MNIST downstream tasks
 * (docs/sparsity.md; paper notes /work/shared/papers/sparsity.md).
 *
 * Recipe:
 *   1. Pretrained models from fr_pretrain (transfer.h), cached in
 *      OUT/pretrained so other experiments (repro isp) reuse them: vit
 *      supervised, vit self-supervised (masked-patch reconstruction, "mim")
 *      and resnet20 supervised, all on the "pretrain" images (tasks.h).
 *   2. Per (model, downstream task), seed k and sparsity s of a fixed grid: a
 *      fresh classifier for the task (head init from the seed, the same at
 *      every s) gets the pretrained body (fr_model_transfer), OMP to s over
 *      the default scope (body weights; heads, embeddings, norms, biases and
 *      resnet20's first conv dense; global threshold, or layer-wise), test
 *      accuracy before fine-tuning (fresh head: near chance, first 1000 test
 *      images only), then ONE fixed fine-tune (fr_fit_classifier: same
 *      steps, batch, AdamW lr, cosine and batch order at every s, s = 0
 *      included; the seed changes the order) and the test accuracy.
 *   3. The dense fine-tune at other lengths (the plan's "lengths"): does the
 *      fixed fine-tune train the shifted tasks (the accuracy plateaus)?
 *   4. Essential sparsity over the seeds, three rules (analyse()): the
 *      headline "interval rule" = the last grid point before the first s
 *      whose 95% t interval of acc(s) - acc(0) (paired by seed) lies wholly
 *      below -1 point; the same on the mean curve; and each seed's own
 *      first drop, with its mean and interval. A lower bound when nothing
 *      drops.
 *   5. Data size: vit-sup pretrained on fewer images for as many steps as
 *      the 50k model (fr_pretrain_spec.steps), swept on the first task.
 *   6. Comparisons decided by intervals over seeds (findings()): masked vs
 *      supervised pretraining, more vs less data, longer vs the plan's
 *      fine-tune; the spread of the ES across tasks vs models.
 * Then the language-model curve (es_lm.c) and abrupt sparsification
 * (es_abrupt.c) add to the same document. The plans: FULL is the
 * reproduction docs/sparsity.md quotes (3 seeds), QUICK (`--quick`) the two
 * vit models on two tasks with 2 seeds, TINY a smoke test (seconds of
 * pretraining on 300 images, one task, a few fine-tune steps, the language
 * model on a 40 kB prefix of its text; its numbers mean nothing and its
 * pretraining spec is its own, so it never touches the cache of the other
 * plans).
 * Writes results.json (claim, per-seed "sweep" table, "curves" over seeds,
 * "summary" model x task, "fine-tune length", "comparisons" with verdicts,
 * computed "findings"), one SVG per model (mean accuracy relative to dense
 * per task, the 1-point line, a tick at each essential sparsity),
 * finetune.svg, datasize.svg and MODEL-layerwise.svg where swept.
 */
#include "essential_sparsity.h"

#include "frugal/clock.h"
#include "frugal/data.h"
#include "frugal/experiments/tasks.h"
#include "frugal/experiments/transfer.h"
#include "frugal/methods/prune.h"
#include "frugal/models.h"
#include "frugal/report.h"
#include "frugal/status.h"
#include "frugal/train.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPS_POINTS 1.0 /* the paper's epsilon, in accuracy points */
#define MAXPTS 16
#define MAXTASKS 4
#define MAXMODELS 6
#define MAXSEEDS 5
#define MAXLENGTHS 4
#define PRE_EVAL_IMAGES 1000 /* test images for the (fresh-head) accuracy before fine-tuning */
#define PLOT_FLOOR (-15.0)   /* relative accuracy drawn no lower than this */

/* One pretrained model of the study. */
struct es_model {
    const char *key, *arch, *objective;
    int64_t images; /* pretraining images (0: all 50,000) */
    int epochs;
    double wd;
    int layerwise;       /* also sweep layer-wise OMP */
    int ntasks;          /* the first ntasks of the run's task list */
    const char *exclude; /* globs kept out of the default pruning scope (NULL: none) */
    /* >= 0: pretrain for as many optimizer steps as model steps_of took, on
     * its fewer images (the data-size study compares the two); -1: epochs */
    int steps_of;
    int64_t ft_steps; /* the fixed fine-tune's steps; 0: the plan's */
    int ngrid;        /* > 0: this model's own sparsity grid */
    double grid[MAXPTS];
    int lengths; /* also the dense fine-tune-length curve on its tasks */
};

/* A run: the models, the seeds, the fixed fine-tune and grid, the parts' plans. */
struct es_plan {
    const char *title;
    const struct es_model *models;
    int nmodels, ntasks, nseeds;
    /* the fixed fine-tune's steps per task (the shifted tasks need many
     * more than the in-distribution one); a model's own ft_steps wins */
    int64_t ft_steps[MAXTASKS];
    int ft_batch;
    double ft_lr, ft_wd;
    int64_t test_images; /* 0: the whole 10k test split */
    int ngrid;
    double grid[MAXPTS];
    int nlengths; /* extra dense fine-tune lengths per task (the fine-tune-length curve) */
    int64_t lengths[MAXTASKS][MAXLENGTHS];
    const char *resnet_note;
    struct es_lm_plan lm;
    struct es_abrupt_plan abrupt;
};

/* The models: rows of the study. vit-sup and vit-mim on every task of the
 * plan; resnet20-sup (conv1 kept dense) on the first task with its own
 * shorter grid and fine-tune (it costs ~10x the vit per step here); the
 * data-size models: vit-sup on fewer images for as many steps as vit-sup. */
#define VIT_SUP(images, epochs, lw, ntasks)                                                        \
    { "vit-sup", "vit", "supervised", images, epochs, 1e-4, lw, ntasks, NULL, -1, 0, 0, {0}, 1 }
#define VIT_MIM(images, epochs, ntasks)                                                            \
    { "vit-mim", "vit", "mim", images, epochs, 5e-2, 0, ntasks, NULL, -1, 0, 0, {0}, 1 }
#define VIT_DATA(key, images)                                                                      \
    { key, "vit", "supervised", images, 1, 1e-4, 0, 1, NULL, 0, 0, 0, {0}, 0 }

static const struct es_model MODELS_FULL[] = {
    VIT_SUP(0, 3, 0, 2),
    VIT_MIM(0, 3, 2),
    {"resnet20-sup",
     "resnet20",
     "supervised",
     20000,
     2,
     1e-4,
     0,
     1,
     "conv1.weight",
     -1,
     100,
     4,
     {0, .5, .8, .9},
     0},
    VIT_DATA("vit-sup-5k", 5000),
    VIT_DATA("vit-sup-20k", 20000),
};
static const struct es_model MODELS_QUICK[] = {
    VIT_SUP(10000, 2, 0, 2),
    VIT_MIM(10000, 2, 2),
    VIT_DATA("vit-sup-2k", 2000),
};
static const struct es_model MODELS_TINY[] = {
    VIT_SUP(300, 1, 1, 1),
    VIT_MIM(300, 1, 1),
    VIT_DATA("vit-sup-200", 200),
};

/* The language-model grids: global OMP from 0; layer-wise (the dense point
 * is shared) around the drop global OMP showed at 65-70 % in a single-seed
 * run with a finer grid. */
static const double LM_GRID[] = {0, .3, .5, .6, .7, .8, .9};
static const double LM_GRID_LW[] = {.5, .6, .7, .8};
static const double LM_GRID_QUICK[] = {0, .5, .7, .9};
static const double LM_GRID_LW_QUICK[] = {.6, .7};
static const double LM_GRID_TINY[] = {0, .9};
static const double LM_GRID_LW_TINY[] = {.9};
static const int64_t ABRUPT_FULL[] = {5000, 50000}, ABRUPT_QUICK[] = {5000, 50000},
                     ABRUPT_TINY[] = {1000};

#define N(a) ((int)(sizeof a / sizeof a[0]))
#define IMAGE_TITLE "Essential sparsity: OMP + fine-tune of pretrained models on downstream tasks"

static const struct es_plan FULL = {
    .title = IMAGE_TITLE,
    .models = MODELS_FULL,
    .nmodels = N(MODELS_FULL),
    .ntasks = 2,
    .nseeds = 3,
    .ft_steps = {150, 2400},
    .ft_batch = 64,
    .ft_lr = 1e-3,
    .ft_wd = 1e-4,
    .test_images = 5000,
    .ngrid = 7,
    .grid = {0, .3, .5, .6, .7, .8, .9},
    .nlengths = 2,
    .lengths = {{60, 600}, {600, 4800}},
    .resnet_note = "20,000 images x 2 epochs (about 10x the ViT's cost per image here), fine-tuned "
                   "100 steps on the first task on its own grid",
    .lm = {500, 3, LM_GRID, N(LM_GRID), LM_GRID_LW, N(LM_GRID_LW)},
    .abrupt = {ABRUPT_FULL, N(ABRUPT_FULL), 1500, 30, 3},
};
static const struct es_plan QUICK = {
    .title = IMAGE_TITLE " (quick)",
    .models = MODELS_QUICK,
    .nmodels = N(MODELS_QUICK),
    .ntasks = 2,
    .nseeds = 2,
    .ft_steps = {60, 200},
    .ft_batch = 64,
    .ft_lr = 1e-3,
    .ft_wd = 1e-4,
    .test_images = 2000,
    .ngrid = 5,
    .grid = {0, .4, .6, .8, .9},
    .nlengths = 1,
    .lengths = {{200}, {600}},
    .resnet_note = "not used",
    .lm = {100, 2, LM_GRID_QUICK, N(LM_GRID_QUICK), LM_GRID_LW_QUICK, N(LM_GRID_LW_QUICK)},
    .abrupt = {ABRUPT_QUICK, N(ABRUPT_QUICK), 160, 10, 2},
};
static const struct es_plan TINY = {
    .title = IMAGE_TITLE " (tiny)",
    .models = MODELS_TINY,
    .nmodels = N(MODELS_TINY),
    .ntasks = 1,
    .nseeds = 2,
    .ft_steps = {5},
    .ft_batch = 32,
    .ft_lr = 1e-3,
    .ft_wd = 1e-4,
    .test_images = 200,
    .ngrid = 2,
    .grid = {0, .9},
    .nlengths = 1,
    .lengths = {{8}},
    .resnet_note = "not used",
    .lm = {3, 2, LM_GRID_TINY, N(LM_GRID_TINY), LM_GRID_LW_TINY, N(LM_GRID_LW_TINY), 40000},
    .abrupt = {ABRUPT_TINY, N(ABRUPT_TINY), 12, 4, 2},
};
/* A curve: one model, one task, global or layer-wise OMP, every seed. */
struct es_curve {
    int n, nseeds;
    double s[MAXPTS], measured[MAXPTS];
    double acc[MAXSEEDS][MAXPTS], pre[MAXSEEDS][MAXPTS], loss[MAXSEEDS][MAXPTS];
    /* over the seeds */
    struct fr_interval dense;        /* dense fine-tuned accuracy */
    struct fr_interval diff[MAXPTS]; /* acc(s) - acc(0), paired by seed */
    int ess, drop;                   /* interval rule (the headline): indices, drop -1 if none */
    int ess_mean, drop_mean;         /* the same rule on the mean curve */
    double ess_seed[MAXSEEDS];       /* first-drop rule on each seed's curve (% sparsity) */
    int bounded_seed;                /* seeds whose curve drops */
    struct fr_interval ess_seeds;    /* of ess_seed */
};

/* The dense fine-tune at other lengths (the fine-tune-length curve). */
struct es_lengths {
    int n; /* lengths, ascending; one of them the plan's */
    int64_t steps[MAXLENGTHS + 1];
    double acc[MAXSEEDS][MAXLENGTHS + 1];
};

struct es_run {
    const struct fr_exp_opts *o;
    const struct es_plan *plan;
    struct fr_results *r;
    struct fr_task tasks[MAXTASKS];
    struct fr_subset pre_eval[MAXTASKS];
    int ntasks;
    double t0;
    int64_t pre_steps[MAXMODELS]; /* pretraining steps of each model */
    struct es_curve glob[MAXMODELS][MAXTASKS], lw[MAXMODELS][MAXTASKS];
    struct es_lengths len[MAXMODELS][MAXTASKS];
};

static const char *const TASKS[MAXTASKS] = {"coarse", "rotate", "few", "invert"};

int es_fail(int rc, const char *prefix) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", fr_last_error());
    return fr_error(rc ? rc : FR_EINVAL, "%s: %s", prefix, msg);
}

void es_append(char *buf, size_t cap, const char *fmt, ...) {
    size_t n = strnlen(buf, cap);
    if (n + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, cap - n, fmt, ap);
    va_end(ap);
}

static int64_t ft_steps_of(const struct es_plan *P, const struct es_model *M, int ti) {
    return M->ft_steps ? M->ft_steps : P->ft_steps[ti];
}

static int grid_of(const struct es_plan *P, const struct es_model *M, const double **grid) {
    *grid = M->ngrid ? M->grid : P->grid;
    return M->ngrid ? M->ngrid : P->ngrid;
}

/* The upper end of an interval, or its mean when one seed gives none. */
static double upper(const struct fr_interval *iv) {
    return isnan(iv->hi) ? iv->mean : iv->hi;
}

/* The statistics of cv over its seeds and the three drop rules. */
static int analyse(struct es_curve *cv) {
    const int ns = cv->nseeds;
    double x[MAXSEEDS];
    int rc;
    for (int k = 0; k < ns; k++)
        x[k] = cv->acc[k][0];
    if ((rc = fr_interval_t95(x, ns, &cv->dense))) return rc;
    cv->drop = cv->drop_mean = -1;
    for (int g = 0; g < cv->n; g++) {
        for (int k = 0; k < ns; k++)
            x[k] = cv->acc[k][g] - cv->acc[k][0];
        if ((rc = fr_interval_t95(x, ns, &cv->diff[g]))) return rc;
        if (g && cv->drop < 0 && upper(&cv->diff[g]) < -EPS_POINTS) cv->drop = g;
        if (g && cv->drop_mean < 0 && cv->diff[g].mean < -EPS_POINTS) cv->drop_mean = g;
    }
    cv->ess = cv->drop > 0 ? cv->drop - 1 : cv->n - 1;
    cv->ess_mean = cv->drop_mean > 0 ? cv->drop_mean - 1 : cv->n - 1;
    cv->bounded_seed = 0;
    for (int k = 0; k < ns; k++) {
        int drop;
        int e = fr_prune_essential_index(cv->acc[k], cv->n, cv->acc[k][0] - EPS_POINTS, 1, &drop);
        cv->ess_seed[k] = cv->s[e];
        cv->bounded_seed += drop >= 0;
    }
    return fr_interval_t95(cv->ess_seed, ns, &cv->ess_seeds);
}

/* A fresh classifier for task ti with model M's pretrained body, OMP to s
 * (s = 0: none). */
static int pruned_classifier(struct es_run *R, const struct es_model *M, const struct fr_model *pre,
                             int ti, int layerwise, double s, uint64_t seed, struct fr_model **out,
                             double *measured) {
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    mc.n_classes = R->tasks[ti].train.nclass;
    struct fr_model *m = fr_model_new(pre->arch, &mc, seed + 7);
    int *sel = NULL;
    *out = NULL;
    if (!m) return FR_EINVAL;
    int rc = fr_model_transfer(m, pre);
    if (rc < 0) goto done;
    if (!(sel = calloc((size_t)m->params.count, sizeof *sel))) {
        rc = fr_error(FR_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = fr_prune_scope(&m->params, NULL, M->exclude, sel))) goto done;
    struct fr_prune_config pc;
    fr_prune_config_defaults(&pc);
    pc.method = FR_PRUNE_MAGNITUDE;
    pc.sparsity = s;
    pc.layerwise = layerwise;
    if (s > 0 && (rc = fr_prune(&m->params, sel, &pc, NULL, NULL))) goto done;
    struct fr_sparsity_table st; /* the fraction of the scoped weights that are masked */
    if ((rc = fr_sparsity_table_params(&m->params, sel, &st))) goto done;
    *measured = st.scope ? (double)st.scope_masked / (double)st.scope : 0.0;
    fr_sparsity_table_free(&st);
done:
    free(sel);
    if (rc)
        fr_model_free(m);
    else
        *out = m;
    return rc;
}

/* The plan's fixed fine-tune (steps long) of m on task ti, then its test
 * accuracy. */
static int fine_tune(struct es_run *R, struct fr_model *m, int ti, int64_t steps, uint64_t seed,
                     double *acc, double *loss) {
    const struct es_plan *P = R->plan;
    struct fr_fit_classifier_config fc;
    fr_fit_classifier_config_defaults(&fc);
    fc.steps = steps;
    fc.batch = P->ft_batch;
    fc.lr = P->ft_lr;
    fc.wd = P->ft_wd;
    fc.seed = seed + 100;
    struct fr_fit_result fres;
    int rc = fr_fit_classifier(m, &R->tasks[ti].train, NULL, NULL, &fc, &fres);
    if (!rc) rc = fr_evaluate(m, &R->tasks[ti].test, NULL, NULL, 0, acc, NULL);
    *loss = fres.last_loss;
    return rc;
}

/* Grid point g of cv for seed k: prune, accuracy before and after the
 * fine-tune. */
static int point(struct es_run *R, const struct es_model *M, const struct fr_model *pre, int ti,
                 int layerwise, int g, int k, struct es_curve *cv, const char *label) {
    const uint64_t seed = R->o->seed + (uint64_t)k;
    struct fr_model *m;
    double measured = 0, acc_pre = 0, acc = 0, loss = NAN;
    int rc = pruned_classifier(R, M, pre, ti, layerwise, cv->s[g] / 100.0, seed, &m, &measured);
    if (rc) return rc;
    if (!(rc = fr_evaluate(m, &R->tasks[ti].test, &R->pre_eval[ti], NULL, 0, &acc_pre, NULL)))
        rc = fine_tune(R, m, ti, ft_steps_of(R->plan, M, ti), seed, &acc, &loss);
    fr_model_free(m);
    if (rc) return rc;
    cv->measured[g] = 100.0 * measured;
    cv->pre[k][g] = 100.0 * acc_pre;
    cv->acc[k][g] = 100.0 * acc;
    cv->loss[k][g] = loss;
    double row[7] = {(double)seed,  cv->s[g], cv->measured[g],     cv->pre[k][g],
                     cv->acc[k][g], loss,     fr_seconds() - R->t0};
    char rl[128];
    snprintf(rl, sizeof rl, "%s %g%% seed %llu", label, cv->s[g], (unsigned long long)seed);
    fr_results_table_row(R->r, "sweep", rl, row);
    fr_exp_log(R->o,
               "essential-sparsity: %-26s seed %llu s=%4.1f%%  before fine-tune %.2f%%  "
               "fine-tuned %.2f%%  (%.0f s)",
               label, (unsigned long long)seed, cv->s[g], cv->pre[k][g], cv->acc[k][g],
               fr_seconds() - R->t0);
    return 0;
}

/* Every grid point of M's grid, for every seed, then the rules. */
static int sweep(struct es_run *R, const struct es_model *M, const struct fr_model *pre, int ti,
                 int layerwise, struct es_curve *cv, const char *label) {
    const double *grid;
    int ng = grid_of(R->plan, M, &grid), rc = 0;
    memset(cv, 0, sizeof *cv);
    cv->n = ng;
    cv->nseeds = R->plan->nseeds;
    for (int g = 0; g < ng; g++)
        cv->s[g] = 100.0 * grid[g];
    for (int k = 0; k < cv->nseeds && !rc; k++)
        for (int g = 0; g < ng && !rc; g++)
            rc = point(R, M, pre, ti, layerwise, g, k, cv, label);
    return rc ? rc : analyse(cv);
}

/* The dense fine-tune at the plan's other lengths; the plan's own length is
 * the sweep's dense point (the same run). */
static int lengths(struct es_run *R, const struct es_model *M, const struct fr_model *pre, int ti,
                   const struct es_curve *cv, struct es_lengths *L, const char *label) {
    const struct es_plan *P = R->plan;
    const int64_t own = ft_steps_of(P, M, ti);
    int rc = 0;
    memset(L, 0, sizeof *L);
    for (int i = 0; i <= P->nlengths; i++) {
        int64_t st = i < P->nlengths ? P->lengths[ti][i] : own;
        int j = L->n;
        while (j > 0 && L->steps[j - 1] > st)
            j--;
        memmove(&L->steps[j + 1], &L->steps[j], sizeof L->steps[0] * (size_t)(L->n - j));
        L->steps[j] = st;
        L->n++;
    }
    for (int i = 0; i < L->n && !rc; i++)
        for (int k = 0; k < P->nseeds && !rc; k++) {
            if (L->steps[i] == own) {
                L->acc[k][i] = cv->acc[k][0];
                continue;
            }
            const uint64_t seed = R->o->seed + (uint64_t)k;
            struct fr_model *m;
            double measured, acc = 0, loss;
            if ((rc = pruned_classifier(R, M, pre, ti, 0, 0.0, seed, &m, &measured))) break;
            rc = fine_tune(R, m, ti, L->steps[i], seed, &acc, &loss);
            fr_model_free(m);
            L->acc[k][i] = 100.0 * acc;
            fr_exp_log(R->o,
                       "essential-sparsity: %-26s dense, %lld fine-tune steps, seed %llu: %.2f%%",
                       label, (long long)L->steps[i], (unsigned long long)seed, 100.0 * acc);
        }
    return rc;
}

/* The curve's rows in "curves" and "summary", its metrics and series. */
static void record_curve(struct fr_results *r, const char *name, const struct es_curve *cv) {
    char key[200];
    double mean[MAXPTS];
    for (int g = 0; g < cv->n; g++) {
        double a[MAXSEEDS];
        struct fr_interval iv;
        for (int k = 0; k < cv->nseeds; k++)
            a[k] = cv->acc[k][g];
        fr_interval_t95(a, cv->nseeds, &iv);
        mean[g] = iv.mean;
        double row[7] = {cv->s[g],         iv.mean,        iv.lo,         iv.hi,
                         cv->diff[g].mean, cv->diff[g].lo, cv->diff[g].hi};
        snprintf(key, sizeof key, "%s %g%%", name, cv->s[g]);
        fr_results_table_row(r, "curves", key, row);
    }
    snprintf(key, sizeof key, "%s: fine-tuned (mean over seeds)", name);
    fr_results_series(r, key, "sparsity (%)", "test accuracy (%)", cv->n, cv->s, mean);
    snprintf(key, sizeof key, "%s dense (fine-tuned) accuracy (95%% t over seeds)", name);
    fr_results_metric_ci(r, key, &cv->dense, "%");
    snprintf(key, sizeof key, "%s essential sparsity, interval rule%s", name,
             cv->drop >= 0 ? "" : " (lower bound)");
    fr_results_metric(r, key, cv->s[cv->ess], "%");
    snprintf(key, sizeof key, "%s essential sparsity per seed (first-drop rule, 95%% t)", name);
    fr_results_metric_ci(r, key, &cv->ess_seeds, "%");
    double row[10] = {cv->dense.mean,
                      cv->dense.lo,
                      cv->dense.hi,
                      cv->s[cv->ess],
                      cv->drop >= 0 ? cv->s[cv->drop] : NAN,
                      cv->drop >= 0 ? cv->diff[cv->drop].mean : NAN,
                      cv->s[cv->ess_mean],
                      cv->ess_seeds.mean,
                      cv->ess_seeds.lo,
                      cv->ess_seeds.hi};
    fr_results_table_row(r, "summary", name, row);
}

/* One series per curve: mean accuracy minus dense (clipped at PLOT_FLOOR),
 * a pen break (NAN), then a vertical tick at the essential sparsity. */
struct es_line {
    double x[MAXPTS + 3], y[MAXPTS + 3];
    char name[128];
};

static void line_of(struct es_line *L, const struct es_curve *cv, const char *name) {
    int n = 0;
    for (int k = 0; k < cv->n; k++, n++) {
        L->x[n] = cv->s[k];
        L->y[n] = fmax(cv->diff[k].mean, PLOT_FLOOR);
    }
    L->x[n] = NAN, L->y[n++] = NAN;
    L->x[n] = cv->s[cv->ess], L->y[n++] = 1.5;
    L->x[n] = cv->s[cv->ess], L->y[n++] = -3.0;
    snprintf(L->name, sizeof L->name, "%s: ES %s%g%% (dense %.1f%%)", name,
             cv->drop >= 0 ? "" : ">=", cv->s[cv->ess], cv->dense.mean);
}

static int plot(struct es_run *R, const char *dir, const char *file, const char *title, int nc,
                const struct es_curve *const *cv, const char *const *names, int eps_line) {
    struct es_line L[2 * MAXTASKS];
    struct fr_plot_series s[2 * MAXTASKS + 1];
    double ex[2] = {0, 100}, ey[2] = {-EPS_POINTS, -EPS_POINTS};
    int ns = 0;
    for (int i = 0; i < nc && i < 2 * MAXTASKS; i++) {
        line_of(&L[i], cv[i], names[i]);
        s[ns++] = (struct fr_plot_series){L[i].name, cv[i]->n + 3, L[i].x, L[i].y};
    }
    if (eps_line) s[ns++] = (struct fr_plot_series){"dense - 1 point (epsilon)", 2, ex, ey};
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    struct fr_plot p = {.title = title,
                        .xlabel = "sparsity of the pruned body weights (%)",
                        .ylabel = "fine-tuned acc - dense acc, mean over seeds (points); tick = ES",
                        .markers = 1,
                        .width = 760,
                        .height = 500};
    int rc = fr_plot_write(path, &p, ns, s);
    if (!rc) fr_results_plot(R->r, file);
    return rc;
}

/* Pretrains (or loads) model mi and records how. */
static int pretrained(struct es_run *R, int mi, const struct fr_dataset *test,
                      struct fr_model **pre) {
    const struct es_model *M = &R->plan->models[mi];
    char cache[4200], key[160];
    snprintf(cache, sizeof cache, "%s/pretrained", R->o->out);
    struct fr_pretrain_spec ps;
    fr_pretrain_spec_defaults(&ps);
    ps.arch = M->arch;
    ps.objective = M->objective;
    ps.images = M->images;
    ps.epochs = M->epochs;
    if (M->steps_of >= 0) ps.steps = R->pre_steps[M->steps_of];
    ps.wd = M->wd;
    ps.seed = R->o->seed;
    ps.cache_dir = cache;
    struct fr_pretrain_info info;
    double t = fr_seconds();
    fr_exp_log(R->o, "essential-sparsity: %s: pretraining (or loading from %s)...", M->key, cache);
    int rc = fr_pretrain(&ps, R->o->data_dir, pre, &info);
    if (rc) return rc;
    R->pre_steps[mi] = info.steps;
    double acc = info.test_acc;
    if (isnan(acc) && strcmp(M->objective, "supervised") == 0 &&
        (rc = fr_evaluate(*pre, test, NULL, NULL, 0, &acc, NULL)))
        return rc;
    snprintf(key, sizeof key, "%s pretraining", M->key);
    char desc[900], length[64];
    if (ps.steps)
        snprintf(length, sizeof length, "%lld steps (as many as %s)", (long long)ps.steps,
                 R->plan->models[M->steps_of].key);
    else
        snprintf(length, sizeof length, "%d epochs", M->epochs);
    snprintf(desc, sizeof desc,
             "%s %s, %lld images, %s, batch %d, AdamW lr %g cosine, wd %g%s; %s %s", M->arch,
             M->objective, (long long)(M->images ? M->images : FR_TASK_PRETRAIN_IMAGES), length,
             ps.batch, ps.lr, ps.wd, strcmp(M->objective, "mim") == 0 ? ", mask ratio 0.5" : "",
             info.cached ? "loaded from the cache" : "trained now, cached as", info.path);
    fr_results_config_str(R->r, key, desc);
    snprintf(key, sizeof key, "%s pretraining steps", M->key);
    fr_results_metric(R->r, key, (double)info.steps, "");
    snprintf(key, sizeof key, "%s pretraining time%s", M->key,
             info.cached ? " (cached: not measured in this run)" : "");
    fr_results_metric(R->r, key, info.cached ? NAN : info.seconds, "s");
    if (!isnan(acc)) {
        snprintf(key, sizeof key, "%s pretrained test accuracy (10 classes, upright)", M->key);
        fr_results_metric(R->r, key, 100.0 * acc, "%");
    } else {
        snprintf(key, sizeof key, "%s pretraining final loss (masked-patch MSE)", M->key);
        fr_results_metric(R->r, key, info.last_loss, "");
    }
    fr_exp_log(R->o, "essential-sparsity: %s: %s, %lld steps, %.0f s, %s %.4g", M->key,
               info.cached ? "cached" : "pretrained", (long long)info.steps, fr_seconds() - t,
               isnan(acc) ? "final loss" : "test accuracy (%)",
               isnan(acc) ? info.last_loss : 100 * acc);
    return 0;
}

static int ntasks_of(const struct es_plan *P, const struct es_model *M) {
    return M->ntasks < P->ntasks ? M->ntasks : P->ntasks;
}

/* One line per curve, appended to buf (cap bytes). */
static void summary_lines(const struct es_run *R, char *buf, size_t cap) {
    const struct es_plan *P = R->plan;
    for (int mi = 0; mi < P->nmodels; mi++)
        for (int ti = 0; ti < ntasks_of(P, &P->models[mi]); ti++)
            for (int l = 0; l <= P->models[mi].layerwise; l++) {
                const struct es_curve *c = l ? &R->lw[mi][ti] : &R->glob[mi][ti];
                es_append(buf, cap,
                          "essential-sparsity: %-13s %-7s %-10s dense %.2f%%, essential sparsity "
                          "%s%g%% (interval rule, %d seeds; per seed %.1f%%)\n",
                          P->models[mi].key, TASKS[ti], l ? "layer-wise" : "global", c->dense.mean,
                          c->drop >= 0 ? "" : ">= ", c->s[c->ess], c->nseeds, c->ess_seeds.mean);
            }
}

/* Mean over rows of (max - min over columns) of es[row][col], skipping NAN. */
static double mean_range(const double *es, int rows, int cols, int row_stride, int col_stride) {
    double sum = 0;
    int n = 0;
    for (int i = 0; i < rows; i++) {
        double lo = INFINITY, hi = -INFINITY;
        int k = 0;
        for (int j = 0; j < cols; j++) {
            double v = es[i * row_stride + j * col_stride];
            if (isnan(v)) continue;
            lo = fmin(lo, v), hi = fmax(hi, v), k++;
        }
        if (k >= 2) sum += hi - lo, n++;
    }
    return n ? sum / n : NAN;
}

/* The downstream tasks, their test splits cut to P->test_images, and the
 * first images of each for the accuracy before fine-tuning. */
static int load_tasks(struct es_run *R) {
    const struct es_plan *P = R->plan;
    int rc;
    for (int ti = 0; ti < P->ntasks; ti++) {
        struct fr_task *t = &R->tasks[ti];
        if ((rc = fr_task_load(t, TASKS[ti], R->o->data_dir, 0, R->o->seed))) return rc;
        R->ntasks = ti + 1;
        if (P->test_images && t->test.n > P->test_images) {
            struct fr_dataset cut;
            if ((rc = fr_dataset_take(&cut, &t->test, 0, P->test_images))) return rc;
            t->test = cut; /* fr_dataset_take emptied the old one */
        }
        int64_t ne = t->test.n < PRE_EVAL_IMAGES ? t->test.n : PRE_EVAL_IMAGES;
        if (!(R->pre_eval[ti].idx = malloc((size_t)ne * sizeof(int64_t))))
            return fr_error(FR_ENOMEM, "out of memory");
        for (int64_t i = 0; i < ne; i++)
            R->pre_eval[ti].idx[i] = i;
        R->pre_eval[ti].n = ne;
    }
    return 0;
}

/* "higher", "lower", "no measurable difference", "too few seeds" for the
 * interval of A - B. */
static const char *direction(const struct fr_interval *d) {
    switch (fr_verdict_of(d, 1)) {
    case FR_VERDICT_A:
        return "higher";
    case FR_VERDICT_B:
        return "lower";
    case FR_VERDICT_SAME:
        return "no measurable difference";
    default:
        return "too few seeds to tell";
    }
}

/* A - B over seeds (paired), recorded as a metric, a row of "comparisons"
 * (mean, lo, hi, verdict: 1 A higher, -1 lower, 0 none, NaN unknown) and a
 * clause of notes. */
static void compare(struct es_run *R, const char *what, const double *a, const double *b,
                    const char *unit, char *notes, size_t cap) {
    struct fr_interval d;
    if (fr_interval_diff_t95(a, b, R->plan->nseeds, &d)) return;
    char key[256];
    snprintf(key, sizeof key, "%s (paired by seed, 95%% t)", what);
    fr_results_metric_ci(R->r, key, &d, unit);
    enum fr_verdict v = fr_verdict_of(&d, 1);
    double code = v == FR_VERDICT_A ? 1 : v == FR_VERDICT_B ? -1 : v == FR_VERDICT_SAME ? 0 : NAN;
    double row[4] = {d.mean, d.lo, d.hi, code};
    fr_results_table_row(R->r, "comparisons", what, row);
    es_append(notes, cap, "%s: %+.1f [%+.1f, %+.1f] %s, %s. ", what, d.mean, d.lo, d.hi, unit,
              direction(&d));
}

/* Whether the plan's fine-tune is at a plateau: the gain of a longer one
 * (a - b, paired by seed) has an interval whose upper end is under
 * PLATEAU_POINTS. Only said when the longer one is at least twice as long
 * (doubled: the judged gain is that of a doubling or more). */
#define PLATEAU_POINTS 0.5
static void plateau(struct es_run *R, const char *what, const double *a, const double *b,
                    int doubled, char *notes, size_t cap) {
    struct fr_interval d;
    if (!doubled || fr_interval_diff_t95(a, b, R->plan->nseeds, &d)) return;
    double code = d.hi < PLATEAU_POINTS ? 1 : d.lo >= PLATEAU_POINTS ? 0 : NAN;
    char key[300];
    snprintf(key, sizeof key,
             "%s: at a plateau (1: the gain's upper end < %.1f point, 0: its "
             "lower end >= it)",
             what, PLATEAU_POINTS);
    fr_results_metric(R->r, key, code, "");
    es_append(notes, cap, "So the shorter fine-tune %s. ",
              code == 1   ? "is at a plateau (a fine-tune at least twice as long gains under half "
                            "a point)"
              : code == 0 ? "is not at a plateau (twice as long gains at least half a point)"
                          : "may or may not be at a plateau (the gain's interval straddles half a "
                            "point)");
}

static int model_index(const struct es_plan *P, const char *key) {
    for (int i = 0; i < P->nmodels; i++)
        if (!strcmp(P->models[i].key, key)) return i;
    return -1;
}

/* The claims' comparisons, each decided by an interval over seeds: self-
 * supervised vs supervised, more vs less pretraining data, the fine-tune's
 * length; then the task-vs-model spread and the range of the ES. */
static void findings(struct es_run *R) {
    const struct es_plan *P = R->plan;
    char notes[4096] = "", what[200];
    double a[MAXSEEDS], b[MAXSEEDS];
    int sup = model_index(P, "vit-sup"), mim = model_index(P, "vit-mim");
    const char *cols[5] = {"comparison", "A - B", "lo", "hi",
                           "verdict (1: A higher, -1: lower, 0: none)"};
    fr_results_table(R->r, "comparisons", 5, cols);
    for (int ti = 0; sup >= 0 && mim >= 0 && ti < P->ntasks; ti++) {
        if (ti >= ntasks_of(P, &P->models[sup]) || ti >= ntasks_of(P, &P->models[mim])) continue;
        const struct es_curve *cm = &R->glob[mim][ti], *cs = &R->glob[sup][ti];
        snprintf(what, sizeof what, "%s: ES of vit-mim - vit-sup", TASKS[ti]);
        compare(R, what, cm->ess_seed, cs->ess_seed, "points of sparsity", notes, sizeof notes);
        for (int k = 0; k < P->nseeds; k++)
            a[k] = cm->acc[k][0], b[k] = cs->acc[k][0];
        snprintf(what, sizeof what, "%s: dense accuracy of vit-mim - vit-sup", TASKS[ti]);
        compare(R, what, a, b, "points", notes, sizeof notes);
    }
    for (int mi = 0; mi < P->nmodels; mi++) {
        const struct es_model *M = &P->models[mi];
        if (M->steps_of < 0) continue;
        const struct es_model *B = &P->models[M->steps_of];
        for (int ti = 0; ti < ntasks_of(P, M) && ti < ntasks_of(P, B); ti++) {
            snprintf(what, sizeof what, "%s: ES of %s - %s (equal pretraining steps)", TASKS[ti],
                     B->key, M->key);
            compare(R, what, R->glob[M->steps_of][ti].ess_seed, R->glob[mi][ti].ess_seed,
                    "points of sparsity", notes, sizeof notes);
            for (int k = 0; k < P->nseeds; k++)
                a[k] = R->glob[M->steps_of][ti].acc[k][0], b[k] = R->glob[mi][ti].acc[k][0];
            snprintf(what, sizeof what, "%s: dense accuracy of %s - %s", TASKS[ti], B->key, M->key);
            compare(R, what, a, b, "points", notes, sizeof notes);
        }
    }
    for (int mi = 0; mi < P->nmodels; mi++)
        for (int ti = 0; P->models[mi].lengths && ti < ntasks_of(P, &P->models[mi]); ti++) {
            const struct es_lengths *L = &R->len[mi][ti];
            int own = 0;
            while (own < L->n && L->steps[own] != ft_steps_of(P, &P->models[mi], ti))
                own++;
            if (L->n < 2 || own >= L->n || own == L->n - 1) continue;
            for (int k = 0; k < P->nseeds; k++)
                a[k] = L->acc[k][L->n - 1], b[k] = L->acc[k][own];
            snprintf(what, sizeof what,
                     "%s %s: dense accuracy after %lld - after %lld fine-tune steps",
                     P->models[mi].key, TASKS[ti], (long long)L->steps[L->n - 1],
                     (long long)L->steps[own]);
            compare(R, what, a, b, "points", notes, sizeof notes);
            plateau(R, what, a, b, L->steps[L->n - 1] >= 2 * L->steps[own], notes, sizeof notes);
        }
    /* does the turning point depend on the task more than on the model?
     * (the models of the main study: not the data-size ones) */
    double es[MAXMODELS][MAXTASKS], lo = INFINITY, hi = -INFINITY;
    int nm = 0, ncurves = 0;
    for (int mi = 0; mi < P->nmodels; mi++) {
        if (P->models[mi].steps_of >= 0) continue;
        for (int ti = 0; ti < MAXTASKS; ti++) {
            es[nm][ti] = NAN;
            if (ti >= ntasks_of(P, &P->models[mi])) continue;
            const struct es_curve *c = &R->glob[mi][ti];
            es[nm][ti] = c->s[c->ess];
            lo = fmin(lo, es[nm][ti]), hi = fmax(hi, es[nm][ti]), ncurves++;
        }
        nm++;
    }
    double by_task = mean_range(&es[0][0], nm, P->ntasks, MAXTASKS, 1);
    double by_model = mean_range(&es[0][0], P->ntasks, nm, 1, MAXTASKS);
    fr_results_metric(R->r,
                      "ES spread across tasks (mean over models of max - min, global, "
                      "interval rule)",
                      by_task, "points of sparsity");
    fr_results_metric(R->r,
                      "ES spread across models (mean over tasks of max - min, global, "
                      "interval rule)",
                      by_model, "points of sparsity");
    if (ncurves)
        es_append(notes, sizeof notes,
                  "Global ES (interval rule) over the %d curves of the main models: %g%% to "
                  "%g%%. ",
                  ncurves, lo, hi);
    if (!isnan(by_task) && !isnan(by_model))
        es_append(notes, sizeof notes,
                  "Spread of the ES across tasks %.1f points vs across models %.1f points: the "
                  "%s moves it more (point estimates, from a grid of steps of 10 points).",
                  by_task, by_model,
                  by_task > by_model   ? "task"
                  : by_task < by_model ? "model"
                                       : "neither");
    fr_results_set_str(R->r, "findings", notes);
}

/* "150 (coarse), 800 (rotate)" into buf. */
static void ft_steps_text(const struct es_plan *P, char *buf, size_t cap) {
    buf[0] = '\0';
    for (int ti = 0; ti < P->ntasks; ti++)
        es_append(buf, cap, "%s%lld (%s)", ti ? ", " : "", (long long)P->ft_steps[ti], TASKS[ti]);
}

/* The document's head: paper, claim, and the config of the image part. */
static void record_setup(struct es_run *R, const struct fr_dataset *test) {
    const struct fr_exp_opts *o = R->o;
    const struct es_plan *P = R->plan;
    struct fr_results *r = R->r;
    fr_results_set_str(r, "paper",
                       "Jaiswal, Liu, Chen, Wang: The Emergence of Essential Sparsity "
                       "in Large Pre-trained Models: The Weights that Matter "
                       "(arXiv 2306.03805)");
    fr_results_set_str(r, "claim",
                       "One-shot magnitude pruning of a pretrained model followed by fine-tuning "
                       "keeps the dense score (within 1 point) up to a sharp dropping point, the "
                       "essential sparsity: about 30-50% of the weights are removable 'for free' "
                       "across models (21.5% for bert-base on every task), and past it accuracy "
                       "falls quickly. The turning point depends on the downstream task more than "
                       "on the model, and self-supervised pretraining (masked modelling) produces "
                       "more emergent sparsity than supervised pretraining.");
    fr_results_set_str(r, "command", o->command);
    fr_results_set_seed(r, o->seed);
    fr_results_config_int(r, "quick", o->size != FR_EXP_FULL);
    fr_results_config_int(r, "seeds", P->nseeds);
    char buf[1024];
    size_t bl = 0;
    for (int ti = 0; ti < P->ntasks; ti++)
        bl += (size_t)snprintf(buf + bl, sizeof buf - bl,
                               "%s%s (%lld train, %lld test, %d "
                               "classes: %s)",
                               ti ? "; " : "", TASKS[ti], (long long)R->tasks[ti].train.n,
                               (long long)R->tasks[ti].test.n, R->tasks[ti].train.nclass,
                               R->tasks[ti].about);
    fr_results_config_str(r, "downstream tasks", buf);
    char steps[256];
    ft_steps_text(P, steps, sizeof steps);
    snprintf(buf, sizeof buf,
             "fr_fit_classifier: %s steps (models with their own length say so), batch %d, "
             "AdamW lr %g cosine to 0, wd %g, batch-order seed = run seed + 100, the same at "
             "every sparsity (s = 0 included); a fresh head with the same init (seed + 7) at "
             "every s. Seeds %llu..%llu: each seed changes the head init and the batch order; the "
             "pretrained model is the same (seed %llu)",
             steps, P->ft_batch, P->ft_lr, P->ft_wd, (unsigned long long)o->seed,
             (unsigned long long)o->seed + (unsigned)P->nseeds - 1, (unsigned long long)o->seed);
    fr_results_config_str(r, "fine-tune", buf);
    bl = (size_t)snprintf(buf, sizeof buf, "fixed grid");
    for (int g = 0; g < P->ngrid; g++)
        bl += (size_t)snprintf(buf + bl, sizeof buf - bl, " %g", 100 * P->grid[g]);
    snprintf(buf + bl, sizeof buf - bl, " %% (models with their own grid say so), every seed");
    fr_results_config_str(r, "sparsity grid", buf);
    fr_results_config_double(r, "epsilon (points)", EPS_POINTS);
    fr_results_config_str(
        r, "essential sparsity rules",
        "interval rule (the headline): the last grid point before the first sparsity whose 95% "
        "t interval over seeds of (accuracy - dense accuracy, paired by seed) lies entirely more "
        "than epsilon below 0; mean rule: the same on the mean difference; per-seed rule: the "
        "last point before the first drop of more than epsilon on each seed's curve, then the "
        "mean and 95% t interval of those values. A curve that never drops gives the grid's top "
        "as a lower bound");
    fr_results_config_str(r, "pruning",
                          "one-shot magnitude (OMP) over the default scope: FR_PARAM_PRUNABLE body "
                          "weights (vit: attn.qkv, attn.proj, mlp.fc1, mlp.fc2; resnet20: every "
                          "conv but the first, conv1, which is kept dense as the vit's patch "
                          "embedding is), classifier heads, embeddings, norms and biases dense; "
                          "global threshold unless 'layer-wise'");
    fr_results_config_int(r, "test images (fine-tuned accuracy)",
                          P->test_images ? P->test_images : test->n);
    fr_results_config_int(r, "test images (accuracy before fine-tuning, fresh head)",
                          R->pre_eval[0].n);
    const char *cols[8] = {"run",
                           "seed",
                           "sparsity (%)",
                           "measured sparsity (%)",
                           "acc before fine-tune, fresh head (%)",
                           "fine-tuned acc (%)",
                           "fine-tune loss",
                           "elapsed (s)"};
    fr_results_table(r, "sweep", 8, cols);
    const char *ccols[8] = {"model / task / pruning / sparsity",
                            "sparsity (%)",
                            "fine-tuned acc, mean over seeds (%)",
                            "lo",
                            "hi",
                            "acc - dense acc (points)",
                            "lo",
                            "hi"};
    fr_results_table(r, "curves", 8, ccols);
    const char *scols[11] = {"model / task / pruning",
                             "dense acc (%)",
                             "lo",
                             "hi",
                             "ES, interval rule (%)",
                             "first drop (%)",
                             "acc - dense there (points)",
                             "ES, mean rule (%)",
                             "ES per seed, mean (%)",
                             "lo",
                             "hi"};
    fr_results_table(r, "summary", 11, scols);
    const char *lcols[5] = {"model / task / steps", "fine-tune steps", "dense acc (%)", "lo", "hi"};
    fr_results_table(r, "fine-tune length", 5, lcols);
}

/* The fine-tune-length rows and finetune.svg (mean dense accuracy against
 * fine-tune steps, one line per model and task). */
static int record_lengths(struct es_run *R, const char *dir) {
    const struct es_plan *P = R->plan;
    struct fr_plot_series s[MAXMODELS * MAXTASKS];
    double x[MAXMODELS * MAXTASKS][MAXLENGTHS + 1], y[MAXMODELS * MAXTASKS][MAXLENGTHS + 1];
    char names[MAXMODELS * MAXTASKS][96];
    int ns = 0;
    for (int mi = 0; mi < P->nmodels; mi++)
        for (int ti = 0; P->models[mi].lengths && ti < ntasks_of(P, &P->models[mi]); ti++) {
            const struct es_lengths *L = &R->len[mi][ti];
            for (int i = 0; i < L->n; i++) {
                double a[MAXSEEDS];
                struct fr_interval iv;
                for (int k = 0; k < P->nseeds; k++)
                    a[k] = L->acc[k][i];
                fr_interval_t95(a, P->nseeds, &iv);
                char key[160];
                snprintf(key, sizeof key, "%s %s %lld steps", P->models[mi].key, TASKS[ti],
                         (long long)L->steps[i]);
                double row[4] = {(double)L->steps[i], iv.mean, iv.lo, iv.hi};
                fr_results_table_row(R->r, "fine-tune length", key, row);
                x[ns][i] = (double)L->steps[i], y[ns][i] = iv.mean;
            }
            snprintf(names[ns], sizeof names[ns], "%s %s", P->models[mi].key, TASKS[ti]);
            s[ns] = (struct fr_plot_series){names[ns], L->n, x[ns], y[ns]};
            ns++;
        }
    if (!ns) return 0;
    char path[4300];
    snprintf(path, sizeof path, "%s/finetune.svg", dir);
    struct fr_plot p = {.title =
                            "Dense fine-tune: test accuracy vs fine-tune length (mean over seeds)",
                        .xlabel = "fine-tune steps (log)",
                        .ylabel = "test accuracy (%)",
                        .markers = 1,
                        .log_x = 1,
                        .width = 720,
                        .height = 460};
    int rc = fr_plot_write(path, &p, ns, s);
    if (!rc) fr_results_plot(R->r, "finetune.svg");
    return rc;
}

/* Model mi of the plan: pretraining, a global (and layer-wise) sweep per
 * task, the fine-tune-length curve, its plots. */
static int model_study(struct es_run *R, int mi, const struct fr_dataset *test, const char *dir) {
    const struct es_plan *P = R->plan;
    const struct es_model *M = &P->models[mi];
    struct fr_results *r = R->r;
    struct fr_model *pre = NULL;
    int rc = pretrained(R, mi, test, &pre);
    if (rc) return rc;
    int nt = ntasks_of(P, M);
    const struct es_curve *cv[2 * MAXTASKS];
    char names[2 * MAXTASKS][96];
    const char *np[2 * MAXTASKS];
    for (int ti = 0; ti < nt; ti++) {
        struct es_curve *g = &R->glob[mi][ti], *l = &R->lw[mi][ti];
        char label[96];
        snprintf(label, sizeof label, "%s %s global", M->key, TASKS[ti]);
        if ((rc = sweep(R, M, pre, ti, 0, g, label))) goto done;
        record_curve(r, label, g);
        if (M->lengths && (rc = lengths(R, M, pre, ti, g, &R->len[mi][ti], label))) goto done;
        if (M->layerwise) {
            snprintf(label, sizeof label, "%s %s layer-wise", M->key, TASKS[ti]);
            if ((rc = sweep(R, M, pre, ti, 1, l, label))) goto done;
            record_curve(r, label, l);
        }
        cv[ti] = g;
        snprintf(names[ti], sizeof names[ti], "%s", TASKS[ti]);
        np[ti] = names[ti];
    }
    char file[64], title[160];
    snprintf(file, sizeof file, "%s.svg", M->key);
    snprintf(title, sizeof title, "Essential sparsity, %s: global OMP + fine-tune per task",
             M->key);
    if ((rc = plot(R, dir, file, title, nt, cv, np, 1))) goto done;
    if (M->layerwise) {
        for (int ti = 0; ti < nt; ti++) {
            cv[nt + ti] = &R->lw[mi][ti];
            snprintf(names[nt + ti], sizeof names[nt + ti], "%s layer-wise", TASKS[ti]);
            snprintf(names[ti], sizeof names[ti], "%s global", TASKS[ti]);
            np[nt + ti] = names[nt + ti];
        }
        snprintf(file, sizeof file, "%s-layerwise.svg", M->key);
        snprintf(title, sizeof title, "Essential sparsity, %s: global vs layer-wise OMP", M->key);
        rc = plot(R, dir, file, title, 2 * nt, cv, np, 0);
    }
done:
    fr_model_free(pre);
    return rc;
}

/* datasize.svg: the data-size models' curves beside the model they match
 * in steps, on the first task. */
static int plot_datasize(struct es_run *R, const char *dir) {
    const struct es_plan *P = R->plan;
    const struct es_curve *cv[MAXMODELS];
    const char *np[MAXMODELS];
    int nc = 0, ref = -1;
    for (int mi = 0; mi < P->nmodels; mi++)
        if (P->models[mi].steps_of >= 0) ref = P->models[mi].steps_of;
    if (ref < 0) return 0;
    for (int mi = 0; mi < P->nmodels && nc < MAXMODELS; mi++)
        if (mi == ref || P->models[mi].steps_of == ref) {
            cv[nc] = &R->glob[mi][0];
            np[nc++] = P->models[mi].key;
        }
    char title[160];
    snprintf(title, sizeof title,
             "Essential sparsity vs pretraining data (equal pretraining steps), task %s", TASKS[0]);
    return plot(R, dir, "datasize.svg", title, nc, cv, np, 1);
}

static void record_notes(const struct es_run *R) {
    const struct es_plan *P = R->plan;
    const struct es_model *M0 = &P->models[0];
    int64_t nt = R->tasks[0].test.n;
    char notes[2048], steps[256];
    ft_steps_text(P, steps, sizeof steps);
    snprintf(
        notes, sizeof notes,
        "What differs from the paper: tiny models (a 72k-parameter 2-block ViT, resnet20) "
        "pretrained on Fashion-MNIST training images 0-49999 (tasks.h 'pretrain'; this run: "
        "vit %lld images x %d epochs, resnet20 %s) instead of BERT/ViT/CLIP pretrained on "
        "large corpora; downstream tasks are Fashion-MNIST variants of the other 10,000 "
        "training images (4 coarse groups, rotated 90 degrees, 20 labels per class, "
        "inverted), scored on the first %lld test images under the same transform. The "
        "self-supervised ViT uses SimMIM-style masked-patch reconstruction "
        "(fr_vit_mim_loss), not MAE/DINO/MoCo. One fixed fine-tune per task (%s steps of %d; the "
        "'fine-tune length' table shows whether the dense model has plateaued there) at "
        "every sparsity, %d seeds. One test image is %.3f points and the binomial noise of "
        "one accuracy about %.1f point; the points of one seed's curve share test images and "
        "batches, and the differences to dense are paired by seed. resnet20's first conv "
        "is outside the pruning scope. The accuracy before fine-tuning is of a fresh "
        "classifier head (near chance by construction). OMP vs lottery-ticket (IMP) mask "
        "similarity is measured by `frugal repro isp`.",
        (long long)(M0->images ? M0->images : FR_TASK_PRETRAIN_IMAGES), M0->epochs, P->resnet_note,
        (long long)nt, steps, P->ft_batch, P->nseeds, 100.0 / (double)nt,
        100.0 * sqrt(0.8 * 0.2 / (double)nt));
    fr_results_set_str(R->r, "notes", notes);
}

static int run(const struct fr_experiment *e, const void *plan, const struct fr_exp_opts *o,
               struct fr_exp_outcome *out) {
    const struct es_plan *P = plan;
    struct es_run *R = calloc(1, sizeof *R);
    struct fr_dataset test = {0};
    char dir[4096];
    int rc;
    if (!R) return fr_error(FR_ENOMEM, "out of memory");
    R->o = o;
    R->plan = P;
    R->t0 = fr_seconds();
    if ((rc = fr_exp_dir(o, e->name, dir, sizeof dir))) goto done;
    /* A finished image part of this plan in OUT (a run whose language-model
     * or abrupt part failed or was stopped) is read back, not recomputed:
     * the results say which commit computed it. */
    snprintf(out->results, sizeof out->results, "%s/results.json", dir);
    struct fr_results *prev = fr_results_read(out->results);
    double have = NAN;
    const char *pt = prev ? fr_results_get_str(prev, "title") : NULL;
    if (prev && pt && !strcmp(pt, P->title) &&
        !fr_results_get_metric(prev, "image models time", &have, NULL) &&
        fr_results_get_metric(prev, "total time", NULL, NULL) != 0) {
        const char *pc = fr_results_get_str(prev, "commit");
        char note[512];
        snprintf(note, sizeof note,
                 "the image part was computed by an earlier run of this plan (binary commit %s, "
                 "%.0f s) and read back from its results.json; the language-model and abrupt "
                 "parts by this run (the file's commit)",
                 pc ? pc : "unknown", have);
        fr_results_set_str(prev, "image part", note);
        fr_exp_log(o, "essential-sparsity: %s", note);
        R->r = prev;
        snprintf(out->summary, sizeof out->summary,
                 "essential-sparsity: image part read back from %.2000s\n", out->results);
        if ((rc = es_lm_run(&P->lm, o, R->r, dir, out->summary, sizeof out->summary)) ||
            (rc = es_abrupt_run(&P->abrupt, o, R->r, dir)))
            goto fail;
        goto finish;
    }
    fr_results_free(prev);
    if ((rc = fr_dataset_fashion_mnist(&test, o->data_dir, 0, 0)) || (rc = load_tasks(R)))
        goto fail;
    if (!(R->r = fr_results_new(e->name, P->title))) {
        rc = fr_error(FR_ENOMEM, "out of memory");
        goto fail;
    }
    struct fr_results *r = R->r;
    record_setup(R, &test);
    for (int mi = 0; mi < P->nmodels; mi++)
        if ((rc = model_study(R, mi, &test, dir))) goto fail;
    if ((rc = record_lengths(R, dir)) || (rc = plot_datasize(R, dir))) goto fail;
    findings(R);
    fr_results_metric(r, "image models time", fr_seconds() - R->t0, "s");
    record_notes(R);
    /* the image part is written now, so a long language-model or abrupt-
     * sparsification part that fails or is stopped does not lose it */
    snprintf(out->results, sizeof out->results, "%s/results.json", dir);
    if ((rc = fr_results_write(r, out->results))) goto fail;
    summary_lines(R, out->summary, sizeof out->summary);
    if ((rc = es_lm_run(&P->lm, o, r, dir, out->summary, sizeof out->summary)) ||
        (rc = es_abrupt_run(&P->abrupt, o, r, dir)))
        goto done;
finish:
    fr_results_metric(R->r, "total time", fr_seconds() - R->t0, "s");
    if ((rc = fr_results_write(R->r, out->results))) goto fail;
    es_append(out->summary, sizeof out->summary, "essential-sparsity: wrote %s in %.0f s\n",
              out->results, fr_seconds() - R->t0);
    goto done;
fail:
    rc = es_fail(rc, "essential-sparsity");
done:
    fr_results_free(R->r);
    for (int ti = 0; ti < R->ntasks; ti++) {
        fr_task_free(&R->tasks[ti]);
        free(R->pre_eval[ti].idx);
    }
    fr_dataset_free(&test);
    free(R);
    return rc;
}

const struct fr_experiment fr_exp_essential_sparsity = {
    "essential-sparsity",
    "2306.03805",
    "OMP + fine-tune accuracy vs sparsity over seeds: the essential sparsity",
    {&TINY, &QUICK, &FULL},
    run};

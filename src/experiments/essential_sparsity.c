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
 *   2. Per (model, downstream task) and sparsity s: a fresh classifier for
 *      the task (same head initialisation at every s) gets the pretrained
 *      body (fr_model_transfer), OMP to s over the default scope (body
 *      weights, heads excluded; global threshold, or layer-wise), test
 *      accuracy before fine-tuning (the head is fresh, so this is near
 *      chance and recorded on the first 1000 test images only), then ONE
 *      fixed fine-tune (fr_fit_classifier: same steps, batch, AdamW lr, cosine, seed
 *      at every s, s = 0 included) and the test accuracy.
 *   3. Grid: 0, 10, ..., 90 % (quick: 0, 20, 40, 60, 80, 90 %), then
 *      refinement: bisect between the essential point and the first point
 *      that drops (full: twice, quick: once); when nothing drops by 90 %,
 *      add 95 % and 98 % (quick: 95 %) instead.
 *   4. Essential sparsity = the last grid point before the first one whose
 *      fine-tuned accuracy is more than EPS (1 point) below the dense
 *      fine-tuned accuracy (fr_prune_essential_index); a lower bound when
 *      no point drops.
 * Then the language-model curve (es_lm.c) and abrupt sparsification
 * (es_abrupt.c) add to the same document. The plans: FULL is the
 * reproduction docs/sparsity.md quotes, QUICK (`--quick`) two vit models on
 * two tasks, TINY a smoke test (seconds of pretraining on 300 images, one
 * task, a few fine-tune steps, the language model on a 40 kB prefix of its
 * text; its numbers mean nothing and its pretraining spec is its own, so it
 * never touches the cache of the other plans).
 * Writes results.json (claim, per-point table, summary table model x task,
 * the task-vs-model spread of the essential sparsity), one SVG per model
 * (a curve per task, accuracy relative to dense, the 1-point line, a tick at
 * each essential sparsity) and layerwise.svg (global vs layer-wise).
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
#define MAXPTS 20
#define MAXTASKS 4
#define MAXMODELS 3
#define PRE_EVAL_IMAGES 1000 /* test images for the (fresh-head) accuracy before fine-tuning */
#define PLOT_FLOOR (-15.0)   /* relative accuracy drawn no lower than this */

/* One pretrained model of the study. */
struct es_model {
    const char *key, *arch, *objective;
    int64_t images; /* pretraining images (0: all 50,000) */
    int epochs;
    double wd;
    int layerwise; /* also sweep layer-wise OMP */
    int ntasks;    /* the first ntasks of the run's task list */
};

/* A run: the models, the fixed fine-tune and grid, and the parts' plans. */
struct es_plan {
    const char *title;
    const struct es_model *models;
    int nmodels, ntasks;
    int64_t ft_steps;
    int ft_batch;
    double ft_lr, ft_wd;
    int64_t test_images; /* 0: the whole 10k test split */
    int ncoarse;
    double coarse[MAXPTS];
    int bisections, lw_bisections, nhigh;
    double high[2];
    const char *resnet_note; /* what the notes say of resnet20's pretraining */
    struct es_lm_plan lm;
    struct es_abrupt_plan abrupt;
};

static const struct es_model MODELS_FULL[] = {
    {"vit-sup", "vit", "supervised", 0, 3, 1e-4, 1, 4},
    {"vit-mim", "vit", "mim", 0, 3, 5e-2, 0, 4},
    {"resnet20-sup", "resnet20", "supervised", 10000, 2, 1e-4, 0, 4},
};
static const struct es_model MODELS_QUICK[] = {
    {"vit-sup", "vit", "supervised", 10000, 2, 1e-4, 1, 2},
    {"vit-mim", "vit", "mim", 10000, 2, 5e-2, 0, 2},
};
static const struct es_model MODELS_TINY[] = {
    {"vit-sup", "vit", "supervised", 300, 1, 1e-4, 1, 1},
    {"vit-mim", "vit", "mim", 300, 1, 5e-2, 0, 1},
};

/* The language-model grids: global OMP on 0..95 %; layer-wise on the whole
 * grid (full) or on 50/60/70 %, which bracket the drop global OMP shows at
 * 65-70 % (quick; the dense point is shared). */
static const double LM_GRID[] = {0, .1, .2, .3, .4, .5, .6, .7, .8, .9, .95};
static const double LM_GRID_LW_QUICK[] = {.5, .6, .7};
static const double LM_GRID_TINY[] = {0, .9};
static const double LM_GRID_LW_TINY[] = {.9};
static const int64_t ABRUPT_FULL[] = {5000, 20000, 50000}, ABRUPT_QUICK[] = {5000, 50000},
                     ABRUPT_TINY[] = {1000};

#define N(a) ((int)(sizeof a / sizeof a[0]))
#define IMAGE_TITLE "Essential sparsity: OMP + fine-tune of pretrained models on downstream tasks"
#define RESNET_FULL "10,000 images x 2 epochs (about 5x the ViT's cost per image)"

static const struct es_plan FULL = {
    .title = IMAGE_TITLE,
    .models = MODELS_FULL,
    .nmodels = N(MODELS_FULL),
    .ntasks = 4,
    .ft_steps = 60,
    .ft_batch = 64,
    .ft_lr = 1e-3,
    .ft_wd = 1e-4,
    .test_images = 5000,
    .ncoarse = 10,
    .coarse = {0, .1, .2, .3, .4, .5, .6, .7, .8, .9},
    .bisections = 2,
    .lw_bisections = 1,
    .nhigh = 2,
    .high = {.95, .98},
    .resnet_note = RESNET_FULL,
    .lm = {500, LM_GRID, N(LM_GRID), 2, LM_GRID, N(LM_GRID), 2},
    .abrupt = {ABRUPT_FULL, N(ABRUPT_FULL), 1500, 30},
};
static const struct es_plan QUICK = {
    .title = IMAGE_TITLE " (quick)",
    .models = MODELS_QUICK,
    .nmodels = N(MODELS_QUICK),
    .ntasks = 2,
    .ft_steps = 40,
    .ft_batch = 64,
    .ft_lr = 1e-3,
    .ft_wd = 1e-4,
    .test_images = 2000,
    .ncoarse = 6,
    .coarse = {0, .2, .4, .6, .8, .9},
    .bisections = 1,
    .lw_bisections = 1,
    .nhigh = 1,
    .high = {.95},
    .resnet_note = "not used",
    .lm = {100, LM_GRID, N(LM_GRID), 1, LM_GRID_LW_QUICK, N(LM_GRID_LW_QUICK), 0},
    .abrupt = {ABRUPT_QUICK, N(ABRUPT_QUICK), 160, 10},
};
static const struct es_plan TINY = {
    .title = IMAGE_TITLE " (tiny)",
    .models = MODELS_TINY,
    .nmodels = N(MODELS_TINY),
    .ntasks = 1,
    .ft_steps = 5,
    .ft_batch = 32,
    .ft_lr = 1e-3,
    .ft_wd = 1e-4,
    .test_images = 200,
    .ncoarse = 2,
    .coarse = {0, .9},
    .bisections = 1,
    .lw_bisections = 1,
    .nhigh = 1,
    .high = {.95},
    .resnet_note = "not used",
    .lm = {3, LM_GRID_TINY, N(LM_GRID_TINY), 1, LM_GRID_LW_TINY, N(LM_GRID_LW_TINY), 0, 40000},
    .abrupt = {ABRUPT_TINY, N(ABRUPT_TINY), 12, 4},
};

struct es_curve {
    double s[MAXPTS], measured[MAXPTS], acc_pre[MAXPTS], acc_ft[MAXPTS], loss[MAXPTS];
    int n, ess, bounded;
};

struct es_run {
    const struct fr_exp_opts *o;
    const struct es_plan *plan;
    struct fr_results *r;
    struct fr_task tasks[MAXTASKS];
    struct fr_subset pre_eval[MAXTASKS];
    int ntasks;
    double t0;
    struct es_curve glob[MAXMODELS][MAXTASKS], lw[MAXMODELS][MAXTASKS];
};

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

/* cv->ess and cv->bounded from the fine-tuned accuracies. */
static void essential(struct es_curve *cv) {
    int drop;
    cv->ess = fr_prune_essential_index(cv->acc_ft, cv->n, cv->acc_ft[0] - EPS_POINTS, 1, &drop);
    cv->bounded = drop >= 0;
}

/* One grid point: fresh classifier, pretrained body, OMP to s, accuracy,
 * fine-tune, accuracy; inserted into cv in sparsity order. */
static int point(struct es_run *R, const struct fr_model *pre, int ti, int layerwise, double s,
                 struct es_curve *cv, const char *label) {
    const struct es_plan *P = R->plan;
    struct fr_task *t = &R->tasks[ti];
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    mc.n_classes = t->train.nclass;
    struct fr_model *m = fr_model_new(pre->arch, &mc, R->o->seed + 7);
    int *sel = NULL;
    if (!m) return FR_EINVAL;
    int rc = fr_model_transfer(m, pre);
    if (rc < 0) goto done;
    if (!(sel = calloc((size_t)m->params.count, sizeof *sel))) {
        rc = fr_error(FR_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = fr_prune_scope(&m->params, NULL, NULL, sel))) goto done;
    struct fr_prune_config pc;
    fr_prune_config_defaults(&pc);
    pc.method = FR_PRUNE_MAGNITUDE;
    pc.sparsity = s;
    pc.layerwise = layerwise;
    if ((rc = fr_prune(&m->params, sel, &pc, NULL, NULL))) goto done;
    double acc_pre = 0, acc_ft = 0;
    if ((rc = fr_evaluate(m, &t->test, &R->pre_eval[ti], NULL, 0, &acc_pre, NULL))) goto done;
    struct fr_fit_classifier_config fc;
    fr_fit_classifier_config_defaults(&fc);
    fc.steps = P->ft_steps;
    fc.batch = P->ft_batch;
    fc.lr = P->ft_lr;
    fc.wd = P->ft_wd;
    fc.seed = R->o->seed + 100;
    struct fr_fit_result fres;
    if ((rc = fr_fit_classifier(m, &t->train, NULL, NULL, &fc, &fres))) goto done;
    if ((rc = fr_evaluate(m, &t->test, NULL, NULL, 0, &acc_ft, NULL))) goto done;
    struct fr_sparsity_table st; /* the fraction of the scoped weights that are masked */
    if ((rc = fr_sparsity_table_params(&m->params, sel, &st))) goto done;
    double measured = st.scope ? (double)st.scope_masked / (double)st.scope : 0.0;
    fr_sparsity_table_free(&st);
    int k = cv->n;
    while (k > 0 && cv->s[k - 1] > 100.0 * s) {
        cv->s[k] = cv->s[k - 1], cv->measured[k] = cv->measured[k - 1];
        cv->acc_pre[k] = cv->acc_pre[k - 1], cv->acc_ft[k] = cv->acc_ft[k - 1];
        cv->loss[k] = cv->loss[k - 1];
        k--;
    }
    cv->s[k] = 100.0 * s;
    cv->measured[k] = 100.0 * measured;
    cv->acc_pre[k] = 100.0 * acc_pre;
    cv->acc_ft[k] = 100.0 * acc_ft;
    cv->loss[k] = fres.last_loss;
    cv->n++;
    double row[6] = {100.0 * s,     cv->measured[k], cv->acc_pre[k],
                     cv->acc_ft[k], fres.last_loss,  fr_seconds() - R->t0};
    char rl[96];
    snprintf(rl, sizeof rl, "%s %g%%", label, 100.0 * s);
    fr_results_table_row(R->r, "sweep", rl, row);
    fr_exp_log(R->o,
               "essential-sparsity: %-26s s=%4.1f%%  before fine-tune %.2f%%  fine-tuned %.2f%%  "
               "(%.0f s)",
               label, 100.0 * s, cv->acc_pre[k], cv->acc_ft[k], fr_seconds() - R->t0);
    rc = 0;
done:
    free(sel);
    fr_model_free(m);
    return rc;
}

/* The coarse grid, then the refinement of the plan (see the file comment). */
static int sweep(struct es_run *R, const struct fr_model *pre, int ti, int layerwise,
                 struct es_curve *cv, const char *label) {
    const struct es_plan *P = R->plan;
    const int bisections = layerwise ? P->lw_bisections : P->bisections;
    int rc = 0;
    cv->n = 0;
    for (int g = 0; g < P->ncoarse && !rc; g++)
        rc = point(R, pre, ti, layerwise, P->coarse[g], cv, label);
    if (rc) return rc;
    essential(cv);
    if (cv->bounded) {
        for (int b = 0; b < bisections && !rc && cv->n < MAXPTS; b++) {
            double mid = 0.5 * (cv->s[cv->ess] + cv->s[cv->ess + 1]) / 100.0;
            rc = point(R, pre, ti, layerwise, mid, cv, label);
            essential(cv);
        }
    } else {
        for (int h = 0; h < P->nhigh && !rc && !cv->bounded && cv->n < MAXPTS; h++) {
            rc = point(R, pre, ti, layerwise, P->high[h], cv, label);
            essential(cv);
        }
    }
    return rc;
}

static void record_curve(struct fr_results *r, const char *name, const struct es_curve *cv) {
    char key[160];
    snprintf(key, sizeof key, "%s: fine-tuned", name);
    fr_results_series(r, key, "sparsity (%)", "test accuracy (%)", cv->n, cv->s, cv->acc_ft);
    snprintf(key, sizeof key, "%s dense (fine-tuned) accuracy", name);
    fr_results_metric(r, key, cv->acc_ft[0], "%");
    snprintf(key, sizeof key, "%s essential sparsity%s", name, cv->bounded ? "" : " (lower bound)");
    fr_results_metric(r, key, cv->s[cv->ess], "%");
    double row[6] = {cv->acc_ft[0], cv->s[cv->ess], cv->acc_ft[cv->ess], NAN, NAN, cv->bounded};
    if (cv->ess + 1 < cv->n) row[3] = cv->s[cv->ess + 1], row[4] = cv->acc_ft[cv->ess + 1];
    fr_results_table_row(r, "summary", name, row);
}

/* One series per curve: accuracy minus dense (clipped at PLOT_FLOOR), a pen
 * break (NAN), then a vertical tick at the essential sparsity. */
struct es_line {
    double x[MAXPTS + 3], y[MAXPTS + 3];
    char name[128];
};

static void line_of(struct es_line *L, const struct es_curve *cv, const char *name) {
    int n = 0;
    for (int k = 0; k < cv->n; k++, n++) {
        L->x[n] = cv->s[k];
        L->y[n] = fmax(cv->acc_ft[k] - cv->acc_ft[0], PLOT_FLOOR);
    }
    L->x[n] = NAN, L->y[n++] = NAN;
    L->x[n] = cv->s[cv->ess], L->y[n++] = 1.5;
    L->x[n] = cv->s[cv->ess], L->y[n++] = -3.0;
    snprintf(L->name, sizeof L->name, "%s: ES %s%g%% (dense %.1f%%)", name,
             cv->bounded ? "" : ">=", cv->s[cv->ess], cv->acc_ft[0]);
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
                        .ylabel = "fine-tuned acc - dense acc (points, floor -15); tick = ES",
                        .markers = 1,
                        .width = 760,
                        .height = 500};
    int rc = fr_plot_write(path, &p, ns, s);
    if (!rc) fr_results_plot(R->r, file);
    return rc;
}

/* Pretrains (or loads) model M and records how. */
static int pretrained(struct es_run *R, const struct es_model *M, const struct fr_dataset *test,
                      struct fr_model **pre) {
    char cache[4200], key[160];
    snprintf(cache, sizeof cache, "%s/pretrained", R->o->out);
    struct fr_pretrain_spec ps;
    fr_pretrain_spec_defaults(&ps);
    ps.arch = M->arch;
    ps.objective = M->objective;
    ps.images = M->images;
    ps.epochs = M->epochs;
    ps.wd = M->wd;
    ps.seed = R->o->seed;
    ps.cache_dir = cache;
    struct fr_pretrain_info info;
    double t = fr_seconds();
    fr_exp_log(R->o, "essential-sparsity: %s: pretraining (or loading from %s)...", M->key, cache);
    int rc = fr_pretrain(&ps, R->o->data_dir, pre, &info);
    if (rc) return rc;
    double acc = info.test_acc;
    if (isnan(acc) && strcmp(M->objective, "supervised") == 0 &&
        (rc = fr_evaluate(*pre, test, NULL, NULL, 0, &acc, NULL)))
        return rc;
    snprintf(key, sizeof key, "%s pretraining", M->key);
    char desc[900];
    snprintf(desc, sizeof desc,
             "%s %s, %lld images, %d epochs, batch %d, AdamW lr %g cosine, wd %g%s; %s %s", M->arch,
             M->objective, (long long)(M->images ? M->images : FR_TASK_PRETRAIN_IMAGES), M->epochs,
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

static const char *const TASKS[MAXTASKS] = {"coarse", "rotate", "few", "invert"};

/* One line per curve, appended to buf (cap bytes). */
static void summary_lines(const struct es_run *R, char *buf, size_t cap) {
    const struct es_plan *P = R->plan;
    for (int mi = 0; mi < P->nmodels; mi++)
        for (int ti = 0; ti < P->ntasks && ti < P->models[mi].ntasks; ti++)
            for (int l = 0; l <= P->models[mi].layerwise; l++) {
                const struct es_curve *c = l ? &R->lw[mi][ti] : &R->glob[mi][ti];
                es_append(buf, cap,
                          "essential-sparsity: %-13s %-7s %-10s dense %.2f%%, essential sparsity "
                          "%s%g%% (%.2f%%)",
                          P->models[mi].key, TASKS[ti], l ? "layer-wise" : "global", c->acc_ft[0],
                          c->bounded ? "" : ">= ", c->s[c->ess], c->acc_ft[c->ess]);
                if (c->ess + 1 < c->n)
                    es_append(buf, cap, ", %g%%: %.2f%%", c->s[c->ess + 1], c->acc_ft[c->ess + 1]);
                es_append(buf, cap, "\n");
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
    char buf[512];
    size_t bl = 0;
    for (int ti = 0; ti < P->ntasks; ti++)
        bl += (size_t)snprintf(buf + bl, sizeof buf - bl,
                               "%s%s (%lld train, %lld test, %d "
                               "classes: %s)",
                               ti ? "; " : "", TASKS[ti], (long long)R->tasks[ti].train.n,
                               (long long)R->tasks[ti].test.n, R->tasks[ti].train.nclass,
                               R->tasks[ti].about);
    fr_results_config_str(r, "downstream tasks", buf);
    snprintf(buf, sizeof buf,
             "fr_fit_classifier: %lld steps, batch %d, AdamW lr %g cosine to 0, wd %g, seed %llu, "
             "the same "
             "at every sparsity (s = 0 included); fresh head with the same init at every s",
             (long long)P->ft_steps, P->ft_batch, P->ft_lr, P->ft_wd,
             (unsigned long long)o->seed + 100);
    fr_results_config_str(r, "fine-tune", buf);
    bl = (size_t)snprintf(buf, sizeof buf, "coarse");
    for (int g = 0; g < P->ncoarse; g++)
        bl += (size_t)snprintf(buf + bl, sizeof buf - bl, " %g", 100 * P->coarse[g]);
    snprintf(buf + bl, sizeof buf - bl,
             " %%; then %d bisection(s) (layer-wise: %d) between the essential point and the "
             "first drop, or %s when nothing drops by 90 %%",
             P->bisections, P->lw_bisections, P->nhigh == 2 ? "95 and 98 %" : "95 %");
    fr_results_config_str(r, "sparsity grid", buf);
    fr_results_config_double(r, "epsilon (points)", EPS_POINTS);
    fr_results_config_str(r, "pruning",
                          "one-shot magnitude (OMP) over the default scope: FR_PARAM_PRUNABLE body "
                          "weights (vit: attn.qkv, attn.proj, mlp.fc1, mlp.fc2; resnet20: convs), "
                          "classifier heads, embeddings, norms and biases dense; global threshold "
                          "unless 'layer-wise'");
    fr_results_config_int(r, "test images (fine-tuned accuracy)",
                          P->test_images ? P->test_images : test->n);
    fr_results_config_int(r, "test images (accuracy before fine-tuning, fresh head)",
                          R->pre_eval[0].n);
    const char *cols[7] = {"run",
                           "sparsity (%)",
                           "measured sparsity (%)",
                           "acc before fine-tune, fresh head (%)",
                           "fine-tuned acc (%)",
                           "fine-tune loss",
                           "elapsed (s)"};
    fr_results_table(r, "sweep", 7, cols);
    const char *scols[7] = {"model / task / pruning",
                            "dense acc (%)",
                            "essential sparsity (%)",
                            "acc there (%)",
                            "next sparsity (%)",
                            "acc at next (%)",
                            "bounded (1) or lower bound (0)"};
    fr_results_table(r, "summary", 7, scols);
}

/* Model mi of the plan: pretraining, a global (and layer-wise) sweep per
 * task, its plots; es_g[mi][..] gets the global essential sparsities. */
static int model_study(struct es_run *R, int mi, const struct fr_dataset *test, const char *dir,
                       double es_g[][MAXTASKS]) {
    const struct es_plan *P = R->plan;
    const struct es_model *M = &P->models[mi];
    struct fr_results *r = R->r;
    struct fr_model *pre = NULL;
    int rc = pretrained(R, M, test, &pre);
    if (rc) return rc;
    int nt = M->ntasks < P->ntasks ? M->ntasks : P->ntasks;
    const struct es_curve *cv[2 * MAXTASKS];
    char names[2 * MAXTASKS][96];
    const char *np[2 * MAXTASKS];
    for (int ti = 0; ti < nt; ti++) {
        struct es_curve *g = &R->glob[mi][ti], *l = &R->lw[mi][ti];
        char label[96];
        snprintf(label, sizeof label, "%s %s global", M->key, TASKS[ti]);
        if ((rc = sweep(R, pre, ti, 0, g, label))) goto done;
        record_curve(r, label, g);
        es_g[mi][ti] = g->s[g->ess];
        if (M->layerwise) {
            snprintf(label, sizeof label, "%s %s layer-wise", M->key, TASKS[ti]);
            if ((rc = sweep(R, pre, ti, 1, l, label))) goto done;
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
        snprintf(title, sizeof title, "Essential sparsity, %s: global vs layer-wise OMP", M->key);
        rc = plot(R, dir, "layerwise.svg", title, 2 * nt, cv, np, 0);
    }
done:
    fr_model_free(pre);
    return rc;
}

static void record_notes(const struct es_run *R) {
    const struct es_plan *P = R->plan;
    const struct es_model *M0 = &P->models[0];
    int64_t nt = R->tasks[0].test.n;
    char notes[2048];
    snprintf(notes, sizeof notes,
             "What differs from the paper: tiny models (a 72k-parameter 2-block ViT, resnet20) "
             "pretrained on Fashion-MNIST training images 0-49999 (tasks.h 'pretrain'; this run: "
             "vit %lld images x %d epochs, resnet20 %s) instead of BERT/ViT/CLIP pretrained on "
             "large corpora; downstream tasks are Fashion-MNIST variants of the other 10,000 "
             "training images (4 coarse groups, rotated 90 degrees, 20 labels per class, "
             "inverted), scored on the first %lld test images under the same transform. The "
             "self-supervised ViT uses SimMIM-style masked-patch reconstruction "
             "(fr_vit_mim_loss), not MAE/DINO/MoCo. The fine-tune is short (%lld steps of %d, the "
             "same at every sparsity) and there is one seed. Essential sparsity = the last grid "
             "point before the first whose fine-tuned test accuracy is more than 1 point below "
             "the dense (s = 0, same fine-tune) accuracy; 'lower bound' when no grid point drops. "
             "One test image is %.3f points, and the binomial noise of one accuracy is about "
             "%.1f point, so the 1-point rule is itself noisy here (the points of one curve share "
             "test images and fine-tune batches, which makes their differences less noisy). The "
             "accuracy before fine-tuning is of a fresh classifier head (near chance by "
             "construction). OMP vs lottery-ticket (IMP) mask similarity is measured by "
             "`frugal repro isp`. Not here: more seeds.",
             (long long)(M0->images ? M0->images : FR_TASK_PRETRAIN_IMAGES), M0->epochs,
             P->resnet_note, (long long)nt, (long long)P->ft_steps, P->ft_batch, 100.0 / (double)nt,
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
    if ((rc = fr_dataset_fashion_mnist(&test, o->data_dir, 0, 0)) || (rc = load_tasks(R)))
        goto fail;
    if (!(R->r = fr_results_new(e->name, P->title))) {
        rc = fr_error(FR_ENOMEM, "out of memory");
        goto fail;
    }
    struct fr_results *r = R->r;
    record_setup(R, &test);
    double es_g[MAXMODELS][MAXTASKS];
    for (int mi = 0; mi < MAXMODELS; mi++)
        for (int ti = 0; ti < MAXTASKS; ti++)
            es_g[mi][ti] = NAN;
    for (int mi = 0; mi < P->nmodels; mi++)
        if ((rc = model_study(R, mi, &test, dir, es_g))) goto fail;
    /* does the turning point depend on the task more than on the model? */
    fr_results_metric(r, "ES spread across tasks (mean over models of max - min, global)",
                      mean_range(&es_g[0][0], P->nmodels, P->ntasks, MAXTASKS, 1),
                      "points of sparsity");
    fr_results_metric(r, "ES spread across models (mean over tasks of max - min, global)",
                      mean_range(&es_g[0][0], P->ntasks, P->nmodels, 1, MAXTASKS),
                      "points of sparsity");
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
    fr_results_metric(r, "total time", fr_seconds() - R->t0, "s");
    if ((rc = fr_results_write(r, out->results))) goto fail;
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
    "OMP + fine-tune accuracy vs sparsity: the essential sparsity",
    {&TINY, &QUICK, &FULL},
    run};

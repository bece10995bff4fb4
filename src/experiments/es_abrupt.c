/* es_abrupt.c: abrupt sparsification (Essential Sparsity, arXiv
 * 2306.03805, sec. 4; /work/shared/papers/sparsity.md): the share of
 * near-zero weights over pretraining, for several amounts of pretraining
 * data, supervised vs self-supervised. Part of `frugal repro
 * essential-sparsity` (essential_sparsity.c calls es_abrupt_run with its
 * results document and the plan's data sizes and steps).
 *
 * Runs: the zoo's vit (models.h), objective "sup" (cross entropy on the 10
 * classes) or "mim" (cfg.mim = 1, fr_vit_mim_loss, mask ratio 0.5, no
 * labels), on the first N images of the "pretrain" task (tasks.h). Every
 * run takes the SAME number of optimizer steps (a small N is reused over
 * more epochs), the same init seed, batch 128, AdamW lr 1e-3, 5% linear
 * warmup then cosine to 0, and the same decoupled weight decay (0.05, the
 * usual MIM value, used for sup too so only objective and data differ; it
 * shrinks every decayed weight by lr * wd per step, which moves the
 * absolute count more than the relative ones).
 *
 * "Checkpoints" are taken in memory: at step 0 (the init) and every K steps
 * fr_sparsity_near_zero counts, over the default pruning scope (the body
 * linears attn.qkv, attn.proj, mlp.fc1, mlp.fc2; mim_head and head are
 * out), the weights with |w| < 1e-3 * max|w| of their tensor, |w| < 1e-2 *
 * max|w|, and |w| < 1e-3 absolute. A "jump" is the rise of that percentage
 * between two consecutive checkpoints (percentage points per K steps); the
 * largest jump, the checkpoint step that ends it, and its size over the
 * curve's range (max - min over the run: a steady climb over M intervals
 * gives about 1/M, a single step 1) are reported, and the growth of each
 * tensor's max|w| over the run (geometric mean over the scoped tensors),
 * since a growing max alone raises the relative counts. No weights are saved to disk.
 * It does not look for the "1 point lost by OMP" sparsity (the sweep in
 * essential_sparsity.c does that).
 */
#include "essential_sparsity.h"

#include "frugal/clock.h"
#include "frugal/data.h"
#include "frugal/experiments/tasks.h"
#include "frugal/methods/prune.h"
#include "frugal/models.h"
#include "frugal/report.h"
#include "frugal/rng.h"
#include "frugal/status.h"
#include "frugal/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTHR 3
/* thresholds: relative to the tensor's max|w| (rel > 0) or absolute */
static const struct {
    double rel, abs;
    const char *name, *file;
} THR[NTHR] = {
    {1e-3, 0, "|w| < 1e-3 max|w|", "abrupt-rel1e-3.svg"},
    {1e-2, 0, "|w| < 1e-2 max|w|", "abrupt-rel1e-2.svg"},
    {0, 1e-3, "|w| < 1e-3", "abrupt-abs1e-3.svg"},
};
#define BATCH 128
#define LR 1e-3
#define WD 0.05
#define MASK_RATIO 0.5
#define MAXRUNS 8

/* One pretraining run's curve. */
struct ab_run {
    int mim;
    int64_t images;
    char label[32]; /* "sup 5k" */
    int n;          /* checkpoints taken */
    double *step, *loss, *pct[NTHR];
    double seconds, last_loss, test_acc;
    double max_growth; /* geometric mean over scoped tensors of max|w| final / init */
};

struct ab_hook {
    struct ab_run *run;
    const int *sel;
    int64_t every;
    struct fr_rng rng; /* mim masks */
    int rc;
};

/* Percent of the scoped weights under each threshold into pct[t][i]. */
static int count(const struct fr_params *p, const int *sel, struct ab_run *r, int i) {
    for (int t = 0; t < NTHR; t++) {
        int64_t ns = 0, nr = 0, na = 0;
        int rc = fr_sparsity_near_zero(p, sel, THR[t].rel, THR[t].abs, &ns, &nr, &na);
        if (rc) return rc;
        r->pct[t][i] = 100.0 * (double)(THR[t].rel > 0 ? nr : na) / (double)(ns ? ns : 1);
    }
    return 0;
}

/* Sum over the scoped tensors of log max|w| (0 for an all-zero tensor). */
static double log_max_sum(const struct fr_params *p, const int *sel, int *nt) {
    double s = 0;
    *nt = 0;
    for (int i = 0; i < p->count; i++) {
        if (!sel[i]) continue;
        const float *w = p->data + p->items[i].offset;
        float mx = 0;
        for (int64_t j = 0; j < fr_nelem(p->items[i].t); j++)
            mx = fmaxf(mx, fabsf(w[j]));
        s += mx > 0 ? log(mx) : 0;
        (*nt)++;
    }
    return s;
}

static int on_step(void *user, struct fr_model *m, int64_t step, int64_t total, double loss) {
    struct ab_hook *h = user;
    if (step % h->every != 0 && step != total) return 0;
    struct ab_run *r = h->run;
    r->step[r->n] = (double)step;
    r->loss[r->n] = loss;
    int rc = count(&m->params, h->sel, r, r->n);
    if (rc) return rc;
    r->n++;
    return 0;
}

static struct fr_tensor *mim_loss(void *user, struct fr_model *m, struct fr_ctx *ctx,
                                  struct fr_tensor *x, struct fr_tensor *y) {
    struct ab_hook *h = user;
    (void)y;
    return fr_vit_mim_loss(m, ctx, x, MASK_RATIO, &h->rng);
}

/* Trains one run for `steps` steps on the first r->images images of t. */
static int run_one(const struct fr_exp_opts *o, const struct fr_task *t, struct ab_run *r,
                   int64_t steps, int64_t every) {
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    mc.mim = r->mim;
    struct fr_model *m = fr_model_new("vit", &mc, o->seed);
    if (!m) return FR_EINVAL;
    int *sel = calloc((size_t)m->params.count, sizeof *sel);
    struct fr_subset sub = {malloc((size_t)r->images * sizeof(int64_t)), r->images};
    int64_t cap = steps / every + 2;
    int rc = 0;
    for (int k = 0; k < NTHR; k++)
        r->pct[k] = calloc((size_t)cap, sizeof(double));
    r->step = calloc((size_t)cap, sizeof(double));
    r->loss = calloc((size_t)cap, sizeof(double));
    if (!sel || !sub.idx || !r->step || !r->loss || !r->pct[0] || !r->pct[1] || !r->pct[2]) {
        rc = fr_error(FR_ENOMEM, "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < r->images; i++)
        sub.idx[i] = i;
    if ((rc = fr_prune_scope(&m->params, NULL, NULL, sel))) goto done;
    struct ab_hook h = {.run = r, .sel = sel, .every = every};
    fr_rng_seed(&h.rng, o->seed ^ 0x6d696dull);
    r->step[0] = 0;
    r->loss[0] = NAN;
    if ((rc = count(&m->params, sel, r, 0))) goto done;
    r->n = 1;
    struct fr_fit_classifier_config fc;
    fr_fit_classifier_config_defaults(&fc);
    fc.steps = steps;
    fc.batch = BATCH;
    fc.lr = LR;
    fc.wd = WD;
    fc.warmup_steps = (int)(steps / 20);
    fc.seed = o->seed;
    fc.on_step = on_step;
    fc.step_user = &h;
    if (r->mim) fc.loss = mim_loss, fc.loss_user = &h;
    struct fr_fit_result fres;
    int nt = 0;
    double lm0 = log_max_sum(&m->params, sel, &nt), t0 = fr_seconds();
    if ((rc = fr_fit_classifier(m, &t->train, &sub, NULL, &fc, &fres))) goto done;
    r->max_growth = exp((log_max_sum(&m->params, sel, &nt) - lm0) / (nt ? nt : 1));
    r->seconds = fr_seconds() - t0;
    r->last_loss = fres.last_loss;
    r->test_acc = NAN;
    if (!r->mim) {
        rc = fr_evaluate(m, &t->test, NULL, NULL, 0, &r->test_acc, NULL);
        r->test_acc *= 100;
    }
done:
    free(sub.idx);
    free(sel);
    fr_model_free(m);
    return rc;
}

static void run_free(struct ab_run *r) {
    for (int k = 0; k < NTHR; k++)
        free(r->pct[k]);
    free(r->step);
    free(r->loss);
}

/* Largest rise between consecutive checkpoints of y[0..n): its size, the
 * step that ends it and its share of the curve's range max - min (NAN when
 * nothing rises). */
static void largest_jump(const double *step, const double *y, int n, double *jump, double *at,
                         double *share) {
    double lo = y[0], hi = y[0];
    *jump = 0, *at = NAN;
    for (int i = 1; i < n; i++) {
        if (y[i] - y[i - 1] > *jump) *jump = y[i] - y[i - 1], *at = step[i];
        lo = fmin(lo, y[i]), hi = fmax(hi, y[i]);
    }
    *share = *jump > 0 ? *jump / (hi - lo) : NAN;
}

static int plots(const char *dir, struct ab_run *runs, int nr, int64_t every,
                 struct fr_results *r) {
    for (int t = 0; t < NTHR; t++) {
        struct fr_plot_series s[MAXRUNS];
        for (int i = 0; i < nr; i++)
            s[i] = (struct fr_plot_series){runs[i].label, runs[i].n, runs[i].step, runs[i].pct[t]};
        char title[160], path[4300], ylab[96];
        snprintf(title, sizeof title,
                 "Near-zero weights during vit pretraining (%s, every %lld steps)", THR[t].name,
                 (long long)every);
        snprintf(ylab, sizeof ylab, "body weights with %s (%%)", THR[t].name);
        snprintf(path, sizeof path, "%s/%s", dir, THR[t].file);
        struct fr_plot p = {title, "optimizer step", ylab, 0, 0, 720, 480, 0};
        int rc = fr_plot_write(path, &p, nr, s);
        if (rc) return rc;
        fr_results_plot(r, THR[t].file);
    }
    return 0;
}

static void record(struct fr_results *r, struct ab_run *runs, int nr) {
    const char *cols[11] = {
        "run, threshold",     "at init (%)", "final (%)",    "min (%)",    "max (%)",
        "largest jump (pp)",  "at step",     "jump / range", "final loss", "sup test acc (%)",
        "max|w| final / init"};
    fr_results_table(r, "abrupt sparsification", 11, cols);
    for (int i = 0; i < nr; i++) {
        struct ab_run *a = &runs[i];
        for (int t = 0; t < NTHR; t++) {
            double jump, at, share, lo = INFINITY, hi = -INFINITY;
            for (int k = 0; k < a->n; k++)
                lo = fmin(lo, a->pct[t][k]), hi = fmax(hi, a->pct[t][k]);
            largest_jump(a->step, a->pct[t], a->n, &jump, &at, &share);
            double row[10] = {a->pct[t][0], a->pct[t][a->n - 1], lo,           hi, jump, at, share,
                              a->last_loss, a->test_acc,         a->max_growth};
            char lab[96], key[160];
            snprintf(lab, sizeof lab, "%s, %s", a->label, THR[t].name);
            fr_results_table_row(r, "abrupt sparsification", lab, row);
            snprintf(key, sizeof key, "abrupt %s", lab);
            fr_results_series(r, key, "optimizer step", "near-zero body weights (%)", a->n, a->step,
                              a->pct[t]);
            if (t == 0) {
                snprintf(key, sizeof key, "abrupt %s final near-zero", lab);
                fr_results_metric(r, key, a->pct[t][a->n - 1], "%");
                snprintf(key, sizeof key, "abrupt %s largest-jump step", lab);
                fr_results_metric(r, key, at, "step");
            }
        }
        char key[128];
        snprintf(key, sizeof key, "abrupt %s: loss", a->label);
        fr_results_series(r, key, "optimizer step", "training loss", a->n - 1, a->step + 1,
                          a->loss + 1);
    }
}

static void notes(struct fr_results *r, int64_t steps, int64_t every) {
    char buf[2400];
    const char *old = fr_results_get_str(r, "notes");
    snprintf(buf, sizeof buf,
             "%s%sAbrupt sparsification: vit pretraining runs, supervised (sup) and masked-patch "
             "(mim), all with %lld AdamW steps (batch %d, lr %g, 5%% warmup, cosine, weight "
             "decay %g for both objectives), the same init, on the first N pretraining images "
             "(small N reused over more epochs). Every %lld steps (and at init) the share of "
             "body weights (default pruning scope: attn.qkv, attn.proj, mlp.fc1, mlp.fc2) "
             "under three thresholds is counted: |w| < 1e-3 max|w| and |w| < 1e-2 max|w| (max "
             "over the weight's own tensor), and |w| < 1e-3. Jump = rise of that percentage "
             "between consecutive checkpoints; 'jump / range' = largest jump / (max - min "
             "of the curve): a steady climb gives about 1/%lld, a single step 1. 'max|w| final / "
             "init' is the geometric mean over the scoped tensors of the growth of their "
             "largest weight (it moves the relative thresholds). The paper's effect is on large "
             "models; these are 65k-weight ViTs.",
             old ? old : "", old ? " " : "", (long long)steps, BATCH, LR, WD, (long long)every,
             (long long)(steps / every));
    fr_results_set_str(r, "notes", buf);
}

int es_abrupt_run(const struct es_abrupt_plan *P, const struct fr_exp_opts *o, struct fr_results *r,
                  const char *dir) {
    const int64_t steps = P->steps, every = P->every;
    struct ab_run runs[MAXRUNS];
    int nr = 0, rc = 0;
    double t0 = fr_seconds();
    memset(runs, 0, sizeof runs);
    struct fr_task t;
    if ((rc = fr_task_load(&t, "pretrain", o->data_dir, P->sizes[P->nsizes - 1], o->seed)))
        return es_fail(rc, "abrupt");
    fr_results_config_int(r, "abrupt steps per run", steps);
    fr_results_config_int(r, "abrupt count every (steps)", every);
    fr_results_config_int(r, "abrupt batch", BATCH);
    fr_results_config_double(r, "abrupt lr (AdamW, 5% warmup, cosine)", LR);
    fr_results_config_double(r, "abrupt weight decay (both objectives)", WD);
    fr_results_config_double(r, "abrupt mim mask ratio", MASK_RATIO);
    for (int k = 0; k < NTHR; k++) {
        char key[64];
        snprintf(key, sizeof key, "abrupt threshold %d", k + 1);
        fr_results_config_str(r, key, THR[k].name);
    }
    for (int obj = 0; obj < 2 && !rc; obj++)
        for (int s = 0; s < P->nsizes && !rc && nr < MAXRUNS; s++) {
            struct ab_run *a = &runs[nr++];
            a->mim = obj;
            a->images = P->sizes[s];
            snprintf(a->label, sizeof a->label, "%s %lldk", obj ? "mim" : "sup",
                     (long long)(P->sizes[s] / 1000));
            rc = run_one(o, &t, a, steps, every);
            if (!rc)
                fr_exp_log(o,
                           "abrupt: %-8s %lld steps %.0f s  loss %.4f  near-zero %.3f%% / %.2f%% / "
                           "%.2f%% (init %.3f%% / %.2f%% / %.2f%%)  max|w| x%.2f  test acc %.2f%%",
                           a->label, (long long)steps, a->seconds, a->last_loss,
                           a->pct[0][a->n - 1], a->pct[1][a->n - 1], a->pct[2][a->n - 1],
                           a->pct[0][0], a->pct[1][0], a->pct[2][0], a->max_growth, a->test_acc);
        }
    if (!rc) {
        record(r, runs, nr);
        notes(r, steps, every);
        fr_results_metric(r, "abrupt total time", fr_seconds() - t0, "s");
        rc = plots(dir, runs, nr, every, r);
    }
    if (rc) rc = es_fail(rc, "abrupt");
    for (int i = 0; i < nr; i++)
        run_free(&runs[i]);
    fr_task_free(&t);
    return rc;
}

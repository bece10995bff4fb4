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
#define MAXGROUPS 8 /* (objective, data size) pairs */
#define MAXSEEDS 5
/* A curve is "abrupt" when one checkpoint interval carries more than this
 * share of its whole range (max - min): decided by the interval over seeds */
#define ABRUPT_SHARE 0.5

/* One pretraining run's curve (one objective, data size and seed). */
struct ab_run {
    int mim;
    int64_t images;
    uint64_t seed;  /* init, batch order and mim masks */
    char label[32]; /* "sup 5k" (the group's: every seed shares it) */
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
static int run_one(const struct fr_task *t, struct ab_run *r, int64_t steps, int64_t every) {
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    mc.mim = r->mim;
    struct fr_model *m = fr_model_new("vit", &mc, r->seed);
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
    fr_rng_seed(&h.rng, r->seed ^ 0x6d696dull);
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
    fc.seed = r->seed;
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

/* The runs of one (objective, data size): nseeds curves of n checkpoints
 * each (the same steps: the checkpoints depend on the steps only). */
struct ab_group {
    struct ab_run *run;
    int ns;
};

/* The mean over the group's seeds of threshold t's curve into y[0..n). */
static void mean_curve(const struct ab_group *g, int t, double *y) {
    for (int i = 0; i < g->run[0].n; i++) {
        y[i] = 0;
        for (int k = 0; k < g->ns; k++)
            y[i] += g->run[k].pct[t][i] / g->ns;
    }
}

static int plots(const char *dir, const struct ab_group *gs, int ng, int64_t every,
                 struct fr_results *r) {
    double *y[MAXGROUPS] = {0};
    int rc = 0;
    for (int i = 0; i < ng && !rc; i++)
        if (!(y[i] = malloc((size_t)gs[i].run[0].n * sizeof(double))))
            rc = fr_error(FR_ENOMEM, "out of memory");
    for (int t = 0; t < NTHR && !rc; t++) {
        struct fr_plot_series s[MAXGROUPS];
        for (int i = 0; i < ng; i++) {
            mean_curve(&gs[i], t, y[i]);
            s[i] = (struct fr_plot_series){gs[i].run[0].label, gs[i].run[0].n, gs[i].run[0].step,
                                           y[i]};
        }
        char title[160], path[4300], ylab[128];
        snprintf(title, sizeof title,
                 "Near-zero weights during vit pretraining (%s, every %lld steps, mean of %d "
                 "seeds)",
                 THR[t].name, (long long)every, gs[0].ns);
        snprintf(ylab, sizeof ylab, "body weights with %s (%%)", THR[t].name);
        snprintf(path, sizeof path, "%s/%s", dir, THR[t].file);
        struct fr_plot p = {title, "optimizer step", ylab, 0, 0, 720, 480, 0};
        if (!(rc = fr_plot_write(path, &p, ng, s))) fr_results_plot(r, THR[t].file);
    }
    for (int i = 0; i < ng; i++)
        free(y[i]);
    return rc;
}

/* The t interval of x[0..n), or mean only (lo = hi = NaN) when a value is
 * not finite or n < 2. */
static void interval(const double *x, int n, struct fr_interval *iv) {
    if (fr_interval_t95(x, n, iv)) {
        double m = 0;
        for (int k = 0; k < n; k++)
            m += x[k] / n;
        *iv = (struct fr_interval){m, NAN, NAN, n, "t95"};
    }
}

/* 1: abrupt, 0: not, NaN: the interval of the share straddles ABRUPT_SHARE
 * (or there is none). */
static double abrupt_code(const struct fr_interval *share) {
    if (share->lo > ABRUPT_SHARE) return 1;
    if (share->hi < ABRUPT_SHARE) return 0;
    return NAN;
}

static void record(struct fr_results *r, const struct ab_group *gs, int ng, char *find,
                   size_t cap) {
    const char *cols[16] = {"run, threshold",
                            "at init (%)",
                            "final (%)",
                            "lo",
                            "hi",
                            "min (%)",
                            "max (%)",
                            "largest jump (pp)",
                            "at step (median)",
                            "jump / range",
                            "lo",
                            "hi",
                            "abrupt (1 yes, 0 no)",
                            "final loss",
                            "sup test acc (%)",
                            "max|w| final / init"};
    fr_results_table(r, "abrupt sparsification", 16, cols);
    int nabrupt = 0, nsteady = 0, nopen = 0;
    double share_lo = INFINITY, share_hi = -INFINITY;
    for (int i = 0; i < ng; i++) {
        const struct ab_group *g = &gs[i];
        const int ns = g->ns, n = g->run[0].n;
        double *y = malloc((size_t)n * sizeof(double));
        for (int t = 0; t < NTHR; t++) {
            double init[MAXSEEDS], fin[MAXSEEDS], lo[MAXSEEDS], hi[MAXSEEDS], jump[MAXSEEDS],
                at[MAXSEEDS], share[MAXSEEDS], loss[MAXSEEDS], acc[MAXSEEDS], grow[MAXSEEDS];
            for (int k = 0; k < ns; k++) {
                const struct ab_run *a = &g->run[k];
                lo[k] = INFINITY, hi[k] = -INFINITY;
                for (int j = 0; j < a->n; j++)
                    lo[k] = fmin(lo[k], a->pct[t][j]), hi[k] = fmax(hi[k], a->pct[t][j]);
                largest_jump(a->step, a->pct[t], a->n, &jump[k], &at[k], &share[k]);
                init[k] = a->pct[t][0], fin[k] = a->pct[t][a->n - 1];
                loss[k] = a->last_loss, acc[k] = a->test_acc, grow[k] = a->max_growth;
            }
            struct fr_interval iinit, ifin, ilo, ihi, ijump, ishare, iloss, iacc, igrow;
            interval(init, ns, &iinit), interval(fin, ns, &ifin), interval(lo, ns, &ilo);
            interval(hi, ns, &ihi), interval(jump, ns, &ijump), interval(share, ns, &ishare);
            interval(loss, ns, &iloss), interval(acc, ns, &iacc), interval(grow, ns, &igrow);
            /* the median step of the largest jump (steps are not averaged) */
            for (int k = 1; k < ns; k++)
                for (int j = k; j > 0 && at[j] < at[j - 1]; j--) {
                    double tmp = at[j];
                    at[j] = at[j - 1], at[j - 1] = tmp;
                }
            double code = abrupt_code(&ishare);
            double row[15] = {iinit.mean, ifin.mean,  ifin.lo,    ifin.hi,     ilo.mean,
                              ihi.mean,   ijump.mean, at[ns / 2], ishare.mean, ishare.lo,
                              ishare.hi,  code,       iloss.mean, iacc.mean,   igrow.mean};
            char lab[96], key[160];
            snprintf(lab, sizeof lab, "%s, %s", g->run[0].label, THR[t].name);
            fr_results_table_row(r, "abrupt sparsification", lab, row);
            if (y) {
                mean_curve(g, t, y);
                snprintf(key, sizeof key, "abrupt %s", lab);
                fr_results_series(r, key, "optimizer step",
                                  "near-zero body weights, mean over seeds (%)", n, g->run[0].step,
                                  y);
            }
            snprintf(key, sizeof key, "abrupt %s final near-zero", lab);
            fr_results_metric_ci(r, key, &ifin, "%");
            snprintf(key, sizeof key, "abrupt %s largest jump / range", lab);
            fr_results_metric_ci(r, key, &ishare, "");
            if (code == 1)
                nabrupt++;
            else if (code == 0)
                nsteady++;
            else
                nopen++;
            share_lo = fmin(share_lo, ishare.mean), share_hi = fmax(share_hi, ishare.mean);
        }
        if (y) {
            for (int j = 1; j < n; j++) {
                y[j - 1] = 0;
                for (int k = 0; k < ns; k++)
                    y[j - 1] += g->run[k].loss[j] / ns;
            }
            char key[128];
            snprintf(key, sizeof key, "abrupt %s: loss", g->run[0].label);
            fr_results_series(r, key, "optimizer step", "training loss, mean over seeds", n - 1,
                              g->run[0].step + 1, y);
        }
        free(y);
    }
    es_append(find, cap,
              "Abrupt sparsification (%d curves: objective x data size x threshold, %d seeds "
              "each): %d abrupt (one checkpoint interval carries more than %.0f%% of the "
              "curve's range, interval over seeds above it), %d steady (interval below it), %d "
              "undecided; the mean share of the largest jump ranges %.2f-%.2f. ",
              nabrupt + nsteady + nopen, gs[0].ns, nabrupt, 100 * ABRUPT_SHARE, nsteady, nopen,
              nopen + nabrupt + nsteady ? share_lo : NAN,
              nopen + nabrupt + nsteady ? share_hi : NAN);
}

/* A - B of the final near-zero share at threshold t, paired by seed (the
 * same seed is the same init): a metric, a row of "abrupt comparisons" and a
 * sentence of find. */
static void compare(struct fr_results *r, const struct ab_group *a, const struct ab_group *b, int t,
                    char *find, size_t cap) {
    double x[MAXSEEDS], y[MAXSEEDS];
    int ns = a->ns < b->ns ? a->ns : b->ns;
    for (int k = 0; k < ns; k++)
        x[k] = a->run[k].pct[t][a->run[k].n - 1], y[k] = b->run[k].pct[t][b->run[k].n - 1];
    struct fr_interval d;
    if (fr_interval_diff_t95(x, y, ns, &d)) return;
    enum fr_verdict v = fr_verdict_of(&d, 1);
    double code = v == FR_VERDICT_A ? 1 : v == FR_VERDICT_B ? -1 : v == FR_VERDICT_SAME ? 0 : NAN;
    char what[160], key[200];
    snprintf(what, sizeof what, "final %s: %s - %s", THR[t].name, a->run[0].label, b->run[0].label);
    double row[4] = {d.mean, d.lo, d.hi, code};
    fr_results_table_row(r, "abrupt comparisons", what, row);
    snprintf(key, sizeof key, "abrupt %s (paired by seed, 95%% t)", what);
    fr_results_metric_ci(r, key, &d, "points");
    es_append(find, cap, "%s: %+.3f [%+.3f, %+.3f] points, %s. ", what, d.mean, d.lo, d.hi,
              v == FR_VERDICT_A      ? "higher"
              : v == FR_VERDICT_B    ? "lower"
              : v == FR_VERDICT_SAME ? "no measurable difference"
                                     : "too few seeds to tell");
}

static void notes(struct fr_results *r, int64_t steps, int64_t every, int nseeds) {
    char buf[2600];
    const char *old = fr_results_get_str(r, "notes");
    snprintf(buf, sizeof buf,
             "%s%sAbrupt sparsification: vit pretraining runs, supervised (sup) and masked-patch "
             "(mim), all with %lld AdamW steps (batch %d, lr %g, 5%% warmup, cosine, weight "
             "decay %g for both objectives), on the first N pretraining images (small N reused "
             "over more epochs), %d seeds (seed k: init, batch order and masks; seed k of "
             "every objective and size shares the init). Every %lld steps (and at init) the "
             "share of body weights (default pruning scope: attn.qkv, attn.proj, mlp.fc1, "
             "mlp.fc2) under three thresholds is counted: |w| < 1e-3 max|w| and |w| < 1e-2 "
             "max|w| (max over the weight's own tensor), and |w| < 1e-3. Jump = rise of that "
             "percentage between consecutive checkpoints; 'jump / range' = largest jump / (max "
             "- min of the curve): a steady climb gives about 1/%lld, a single step 1; a curve "
             "is called abrupt when the 95%% t interval of that share over the seeds lies above "
             "%g. Curves and table rows are means over the seeds ('at step' the median). The "
             "paper's effect is on large models; these are 65k-weight ViTs.",
             old ? old : "", old ? " " : "", (long long)steps, BATCH, LR, WD, nseeds,
             (long long)every, (long long)(steps / every), ABRUPT_SHARE);
    fr_results_set_str(r, "notes", buf);
}

int es_abrupt_run(const struct es_abrupt_plan *P, const struct fr_exp_opts *o, struct fr_results *r,
                  const char *dir) {
    const int64_t steps = P->steps, every = P->every;
    const int ns = P->nseeds < 1 ? 1 : P->nseeds > MAXSEEDS ? MAXSEEDS : P->nseeds;
    struct ab_run runs[MAXGROUPS * MAXSEEDS];
    struct ab_group gs[MAXGROUPS];
    int nr = 0, ng = 0, rc = 0;
    double t0 = fr_seconds();
    memset(runs, 0, sizeof runs);
    struct fr_task t;
    if ((rc = fr_task_load(&t, "pretrain", o->data_dir, P->sizes[P->nsizes - 1], o->seed)))
        return es_fail(rc, "abrupt");
    fr_results_config_int(r, "abrupt steps per run", steps);
    fr_results_config_int(r, "abrupt count every (steps)", every);
    fr_results_config_int(r, "abrupt batch", BATCH);
    fr_results_config_int(r, "abrupt seeds", ns);
    fr_results_config_double(r, "abrupt lr (AdamW, 5% warmup, cosine)", LR);
    fr_results_config_double(r, "abrupt weight decay (both objectives)", WD);
    fr_results_config_double(r, "abrupt mim mask ratio", MASK_RATIO);
    for (int k = 0; k < NTHR; k++) {
        char key[64];
        snprintf(key, sizeof key, "abrupt threshold %d", k + 1);
        fr_results_config_str(r, key, THR[k].name);
    }
    for (int obj = 0; obj < 2 && !rc; obj++)
        for (int s = 0; s < P->nsizes && !rc && ng < MAXGROUPS; s++) {
            gs[ng] = (struct ab_group){&runs[nr], 0};
            for (int k = 0; k < ns && !rc; k++) {
                struct ab_run *a = &runs[nr++];
                a->mim = obj;
                a->images = P->sizes[s];
                a->seed = o->seed + (uint64_t)k;
                snprintf(a->label, sizeof a->label, "%s %lldk", obj ? "mim" : "sup",
                         (long long)(P->sizes[s] / 1000));
                rc = run_one(&t, a, steps, every);
                if (rc) break;
                gs[ng].ns++;
                fr_exp_log(o,
                           "abrupt: %-8s seed %llu  %lld steps %.0f s  loss %.4f  near-zero "
                           "%.3f%% / %.2f%% / %.2f%% (init %.3f%% / %.2f%% / %.2f%%)  max|w| "
                           "x%.2f  test acc %.2f%%",
                           a->label, (unsigned long long)a->seed, (long long)steps, a->seconds,
                           a->last_loss, a->pct[0][a->n - 1], a->pct[1][a->n - 1],
                           a->pct[2][a->n - 1], a->pct[0][0], a->pct[1][0], a->pct[2][0],
                           a->max_growth, a->test_acc);
            }
            ng++;
        }
    if (!rc) {
        char find[4096] = "";
        record(r, gs, ng, find, sizeof find);
        const char *cols[5] = {"comparison", "A - B", "lo", "hi",
                               "verdict (1: A higher, -1: lower, 0: none)"};
        fr_results_table(r, "abrupt comparisons", 5, cols);
        /* mim - sup at each size; the least - the most data per objective */
        for (int t2 = 0; t2 < NTHR; t2++) {
            for (int s = 0; s < P->nsizes; s++)
                compare(r, &gs[P->nsizes + s], &gs[s], t2, find, sizeof find);
            for (int obj = 0; obj < 2 && P->nsizes > 1; obj++)
                compare(r, &gs[obj * P->nsizes], &gs[obj * P->nsizes + P->nsizes - 1], t2, find,
                        sizeof find);
        }
        const char *old = fr_results_get_str(r, "findings");
        char *all = malloc(strlen(old ? old : "") + strlen(find) + 2);
        if (all) {
            sprintf(all, "%s%s%s", old ? old : "",
                    old && *old && old[strlen(old) - 1] != ' ' ? " " : "", find);
            fr_results_set_str(r, "findings", all);
            free(all);
        }
        notes(r, steps, every, ns);
        fr_results_metric(r, "abrupt total time", fr_seconds() - t0, "s");
        rc = plots(dir, gs, ng, every, r);
    }
    if (rc) rc = es_fail(rc, "abrupt");
    for (int i = 0; i < nr; i++)
        run_free(&runs[i]);
    fr_task_free(&t);
    return rc;
}

/* zeroshot_nas.c: `frugal repro zeroshot-nas`, the survey of zero-shot NAS
 * proxies (arXiv 2307.01998) on our own ground truth: NAS-Bench-201 cells
 * trained on Fashion-MNIST with one fixed short recipe (methods/nas.h, the
 * table `frugal nas-bench build` makes and data/nasbench-fmnist.csv ships).
 *
 * Per cell of the table: every proxy (methods/nas.h) of the network at
 * initialisation (seed 1, the plan's batch of training images), its own
 * cost, and the network's CPU latency (batch 1 and 64, eval mode, median
 * of repeats). Proxy scores are cached in OUT/zeroshot-nas/scores.csv so a
 * stopped run resumes. Then:
 *   - Kendall tau-b and Spearman rho of each proxy (times its sign) with the
 *     test accuracy (the mean over a cell's seeds), on all cells and on the
 *     top 5% and 10% by accuracy, each with a percentile bootstrap 95%
 *     interval over cells; the accuracy of the cell each proxy ranks first;
 *     the label-noise ceiling: tau between two seeds' accuracies of the
 *     cells trained with several;
 *   - search within the table: random search (budget cells drawn, the best
 *     by the proxy kept) and regularised evolution (population, sample,
 *     mutation = a table cell one edge away, else a random one) with each
 *     proxy as fitness, against random search on the validation accuracy;
 *     the test accuracy of the picks over repeated trials, t intervals;
 *   - hardware-aware: the accuracy-latency Pareto front (batch 1); under
 *     latency budgets at quantiles of the table's latencies, each proxy's
 *     pick (best score under the budget) and its accuracy gap to the best
 *     cell under the budget;
 *   - an ensemble: the rank average of the cheapest proxies;
 *   - verdicts computed from the intervals for the survey's claims.
 * TINY builds its own table of a few cells with a tiny recipe in OUT (a
 * smoke test); QUICK and FULL read the shipped table (FULL needs 500 cells).
 */
#include "frugal/experiments/experiment.h"

#include "frugal/clock.h"
#include "frugal/data.h"
#include "frugal/methods/nas.h"
#include "frugal/models.h"
#include "frugal/report.h"
#include "frugal/rng.h"
#include "frugal/status.h"
#include "frugal/threads.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NP (FR_NPROXIES + 1) /* the proxies and the ensemble */
#define ENSEMBLE FR_NPROXIES
#define NENS 3 /* the ensemble averages the ranks of the cheapest NENS proxies */

struct zs_plan {
    const char *title;
    const char *table;      /* shipped table (fr_exp_data_path), or NULL: build one */
    int build_cells;        /* NULL table: cells of the tiny table built in OUT */
    int min_cells;          /* refuse a table with fewer cells */
    int batch;              /* proxy batch: training images 0..batch-1 */
    int boot;               /* bootstrap resamples */
    int trials;             /* repeats of each search */
    int budget;             /* cells a search evaluates */
    int population, sample; /* regularised evolution */
    int lat_reps1, lat_reps64;
};

static const struct zs_plan TINY = {
    "Zero-shot NAS proxies (tiny)", NULL, 8, 6, 16, 100, 5, 4, 3, 2, 3, 1};
static const struct zs_plan QUICK = {"Zero-shot NAS proxies on a NAS-Bench-201 sample (quick)",
                                     "data/nasbench-fmnist.csv",
                                     0,
                                     20,
                                     32,
                                     200,
                                     20,
                                     20,
                                     8,
                                     4,
                                     10,
                                     2};
static const struct zs_plan FULL = {"Zero-shot NAS proxies on a NAS-Bench-201 sample",
                                    "data/nasbench-fmnist.csv",
                                    0,
                                    500,
                                    64,
                                    1000,
                                    100,
                                    50,
                                    20,
                                    5,
                                    30,
                                    5};

struct cell {
    int64_t index;
    double acc, val; /* test / validation accuracy (mean over seeds) */
    double acc_s[2]; /* seeds 1 and 2 where both exist (NaN otherwise) */
    double params, lat1, lat64;
    double score[NP], sec[NP];
};

struct zs {
    const struct zs_plan *P;
    const struct fr_exp_opts *o;
    char dir[4096], table[4200], recipe[512];
    struct cell *c;
    int n;
    struct fr_results *r;
    char notes[8192];
    size_t nn;
};
#define say(z, ...) fr_exp_append((z)->notes, sizeof(z)->notes, &(z)->nn, __VA_ARGS__)

/* ---- rank statistics ---- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Kendall tau-b of (x, y) over the n items of sel. */
static double kendall(const double *x, const double *y, const int *sel, int n) {
    double con = 0, dis = 0, tx = 0, ty = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            double a = x[sel[i]] - x[sel[j]], b = y[sel[i]] - y[sel[j]];
            if (a == 0 && b == 0) continue;
            if (a == 0)
                tx++;
            else if (b == 0)
                ty++;
            else if ((a > 0) == (b > 0))
                con++;
            else
                dis++;
        }
    double d = sqrt((con + dis + tx) * (con + dis + ty));
    return d > 0 ? (con - dis) / d : NAN;
}

/* average ranks of v[sel[0..n)] into rk */
static void ranks(const double *v, const int *sel, int n, double *rk) {
    for (int i = 0; i < n; i++) {
        double less = 0, eq = 0;
        for (int j = 0; j < n; j++)
            less += v[sel[j]] < v[sel[i]], eq += v[sel[j]] == v[sel[i]];
        rk[i] = less + (eq + 1) / 2;
    }
}

static double spearman(const double *x, const double *y, const int *sel, int n) {
    double *rx = malloc(sizeof *rx * (size_t)n), *ry = malloc(sizeof *ry * (size_t)n);
    if (!rx || !ry) {
        free(rx), free(ry);
        return NAN;
    }
    ranks(x, sel, n, rx), ranks(y, sel, n, ry);
    double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < n; i++)
        mx += rx[i] / n, my += ry[i] / n;
    for (int i = 0; i < n; i++)
        sxy += (rx[i] - mx) * (ry[i] - my), sxx += (rx[i] - mx) * (rx[i] - mx),
            syy += (ry[i] - my) * (ry[i] - my);
    free(rx), free(ry);
    return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
}

/* The statistic over sel and its percentile bootstrap interval (B
 * resamples of sel with replacement, seeded). */
static void boot(double (*stat)(const double *, const double *, const int *, int), const double *x,
                 const double *y, const int *sel, int n, int B, uint64_t seed,
                 struct fr_interval *iv) {
    iv->mean = stat(x, y, sel, n), iv->n = n, iv->method = "bootstrap95";
    iv->lo = iv->hi = NAN;
    if (n < 3) return;
    double *v = malloc(sizeof *v * (size_t)B);
    int *s = malloc(sizeof *s * (size_t)n), k = 0;
    struct fr_rng r;
    fr_rng_seed(&r, seed);
    for (int b = 0; v && s && b < B; b++) {
        for (int i = 0; i < n; i++)
            s[i] = sel[fr_rng_below(&r, (uint64_t)n)];
        double t = stat(x, y, s, n);
        if (isfinite(t)) v[k++] = t;
    }
    if (k > 10) {
        qsort(v, (size_t)k, sizeof *v, cmp_double);
        iv->lo = v[(int)(0.025 * (k - 1))], iv->hi = v[(int)(0.975 * (k - 1))];
    }
    free(v), free(s);
}

/* ---- the table and the per-cell measurements ---- */

static int load_table(struct zs *z) {
    struct fr_nasbench_row *rows = NULL;
    int64_t n = 0;
    int rc = fr_nasbench_read(z->table, &rows, &n, z->recipe, sizeof z->recipe);
    if (rc) return rc;
    z->c = calloc((size_t)(n ? n : 1), sizeof *z->c);
    int *cnt = calloc((size_t)(n ? n : 1), sizeof *cnt);
    if (!z->c || !cnt) {
        free(rows), free(cnt);
        return fr_error(FR_ENOMEM, "zeroshot-nas: out of memory");
    }
    for (int64_t i = 0; i < n; i++) {
        int k = 0;
        while (k < z->n && z->c[k].index != rows[i].cell)
            k++;
        if (k == z->n) {
            z->c[k] = (struct cell){.index = rows[i].cell, .acc_s = {NAN, NAN}};
            z->n++;
        }
        struct cell *c = &z->c[k];
        c->acc += rows[i].test_acc, c->val += rows[i].val_acc, c->params = (double)rows[i].params;
        if (rows[i].seed == 1 || rows[i].seed == 2) c->acc_s[rows[i].seed - 1] = rows[i].test_acc;
        cnt[k]++;
    }
    for (int k = 0; k < z->n; k++)
        z->c[k].acc /= cnt[k], z->c[k].val /= cnt[k];
    free(rows), free(cnt);
    if (z->n < z->P->min_cells)
        return fr_error(FR_EINVAL,
                        "zeroshot-nas: %s has %d cells; this plan needs %d (frugal nas-bench "
                        "build --cells N extends it)",
                        z->table, z->n, z->P->min_cells);
    return 0;
}

/* Median milliseconds of an eval-mode forward of batch B (after one
 * warm-up run). */
static double latency(struct fr_model *m, int B, int reps) {
    struct fr_ctx *ctx = fr_ctx_new(16 << 20);
    double t[64];
    if (reps > 64) reps = 64;
    fr_set_training(ctx, 0);
    int g = fr_no_grad_begin(ctx);
    for (int i = -1; ctx && i < reps; i++) {
        fr_ctx_reset(ctx);
        struct fr_tensor *x = fr_zeros(ctx, FR_F32, 4, (int64_t[]){28, 28, 1, B});
        double t0 = fr_seconds();
        if (!x || !m->forward(m, ctx, x)) {
            reps = 0;
            break;
        }
        if (i >= 0) t[i] = 1e3 * (fr_seconds() - t0);
    }
    fr_no_grad_end(ctx, g);
    fr_ctx_free(ctx);
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    return reps ? t[reps / 2] : NAN;
}

/* Cached scores: "index,proxy,score,seconds" lines. */
static void read_cache(struct zs *z, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        long long idx;
        int p;
        double s, sec;
        if (sscanf(line, "%lld,%d,%lf,%lf", &idx, &p, &s, &sec) != 4 || p < 0 || p >= FR_NPROXIES)
            continue;
        for (int k = 0; k < z->n; k++)
            if (z->c[k].index == idx) z->c[k].score[p] = s, z->c[k].sec[p] = sec;
    }
    fclose(f);
}

static int measure(struct zs *z) {
    const struct zs_plan *P = z->P;
    struct fr_dataset ds = {0};
    struct fr_data_spec spec = {"fashion-mnist", 0, 0, 0};
    int rc = fr_dataset_load(&ds, &spec, z->o->data_dir, 1, P->batch);
    if (rc) return rc;
    int64_t *idx = malloc(sizeof *idx * (size_t)P->batch);
    if (!idx) {
        fr_dataset_free(&ds);
        return fr_error(FR_ENOMEM, "zeroshot-nas: out of memory");
    }
    for (int i = 0; i < P->batch; i++)
        idx[i] = i;
    struct fr_proxy_batch b = {&ds, idx, P->batch};
    char cache[4300];
    snprintf(cache, sizeof cache, "%s/scores.csv", z->dir);
    for (int k = 0; k < z->n; k++)
        for (int p = 0; p < NP; p++)
            z->c[k].score[p] = NAN, z->c[k].sec[p] = NAN;
    read_cache(z, cache);
    FILE *f = fopen(cache, "a");
    if (!f) rc = fr_error(FR_EIO, "zeroshot-nas: cannot write %s", cache);
    double t0 = fr_seconds();
    int C = 8, N = 1; /* the recipe's C and N, from the table's recipe line */
    sscanf(z->recipe, "nb201 C=%d N=%d", &C, &N);
    for (int k = 0; k < z->n && !rc; k++) {
        struct cell *c = &z->c[k];
        struct fr_model_config mc;
        fr_model_config_defaults(&mc);
        fr_nb201_ops(c->index, mc.nb201.ops);
        mc.nb201.c = C, mc.nb201.n = N;
        for (int p = 0; p < FR_NPROXIES && !rc; p++) {
            if (!isnan(c->sec[p])) continue;
            rc = fr_proxy_score("nb201", &mc, p, &b, 1, &c->score[p], &c->sec[p]);
            if (!rc)
                fprintf(f, "%lld,%d,%.17g,%.6g\n", (long long)c->index, p, c->score[p], c->sec[p]);
        }
        fflush(f);
        struct fr_model *m = rc ? NULL : fr_model_new("nb201", &mc, 1);
        if (m) {
            c->lat1 = latency(m, 1, P->lat_reps1);
            c->lat64 = latency(m, 64, P->lat_reps64);
        }
        fr_model_free(m);
        if ((k + 1) % 10 == 0 || k + 1 == z->n)
            fr_exp_log(z->o, "zeroshot-nas: proxies and latency of %d/%d cells (%.0f s)", k + 1,
                       z->n, fr_seconds() - t0);
    }
    if (f) fclose(f);
    free(idx);
    fr_dataset_free(&ds);
    return rc;
}

/* The ensemble: the mean rank (times sign) of the NENS cheapest proxies
 * other than params and flops (which cost nothing and are baselines). */
static void ensemble(struct zs *z, int *members) {
    double cost[FR_NPROXIES];
    for (int p = 0; p < FR_NPROXIES; p++) {
        cost[p] = 0;
        for (int k = 0; k < z->n; k++)
            cost[p] += z->c[k].sec[p] / z->n;
    }
    int used[FR_NPROXIES] = {0};
    for (int e = 0; e < NENS; e++) {
        int best = -1;
        for (int p = FR_PROXY_GRAD_NORM; p < FR_NPROXIES; p++)
            if (!used[p] && (best < 0 || cost[p] < cost[best])) best = p;
        used[best] = 1, members[e] = best;
    }
    int *all = malloc(sizeof *all * (size_t)z->n);
    double *v = malloc(sizeof *v * (size_t)z->n), *rk = malloc(sizeof *rk * (size_t)z->n);
    for (int k = 0; all && k < z->n; k++)
        all[k] = k, z->c[k].score[ENSEMBLE] = 0, z->c[k].sec[ENSEMBLE] = 0;
    for (int e = 0; all && v && rk && e < NENS; e++) {
        int p = members[e];
        for (int k = 0; k < z->n; k++) {
            double s = z->c[k].score[p] * fr_proxy_sign(p);
            v[k] = isfinite(s) ? s : -INFINITY; /* undefined scores rank last */
        }
        ranks(v, all, z->n, rk);
        for (int k = 0; k < z->n; k++)
            z->c[k].score[ENSEMBLE] += rk[k] / NENS, z->c[k].sec[ENSEMBLE] += z->c[k].sec[p];
    }
    free(all), free(v), free(rk);
}

static const char *pname(int p) {
    return p == ENSEMBLE ? "ensemble" : fr_proxy_name(p);
}

/* score * sign, undefined scores as -inf (ranked last) */
static double fitness(const struct cell *c, int p) {
    double s = c->score[p] * (p == ENSEMBLE ? 1 : fr_proxy_sign(p));
    return isfinite(s) ? s : -INFINITY;
}

/* ---- the analyses ---- */

static int correlations(struct zs *z, double *tau_all) {
    const struct zs_plan *P = z->P;
    const int n = z->n;
    double *acc = malloc(sizeof *acc * (size_t)n), *s = malloc(sizeof *s * (size_t)n);
    int *all = malloc(sizeof *all * (size_t)n), *top5 = malloc(sizeof *top5 * (size_t)n),
        *top10 = malloc(sizeof *top10 * (size_t)n);
    if (!acc || !s || !all || !top5 || !top10) {
        free(acc), free(s), free(all), free(top5), free(top10);
        return fr_error(FR_ENOMEM, "zeroshot-nas: out of memory");
    }
    double *sorted = malloc(sizeof *sorted * (size_t)n);
    for (int k = 0; k < n; k++)
        acc[k] = z->c[k].acc, all[k] = k, sorted[k] = acc[k];
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_double);
    int n5 = (int)ceil(0.05 * n), n10 = (int)ceil(0.10 * n), k5 = 0, k10 = 0;
    double th5 = sorted[n - n5], th10 = sorted[n - n10];
    free(sorted);
    for (int k = 0; k < n; k++) {
        if (acc[k] >= th5) top5[k5++] = k;
        if (acc[k] >= th10) top10[k10++] = k;
    }
    const char *cols[13] = {"proxy",
                            "tau (all)",
                            "lo",
                            "hi",
                            "rho (all)",
                            "lo",
                            "hi",
                            "tau (top 10%)",
                            "lo",
                            "hi",
                            "tau (top 5%)",
                            "acc of its top-1 (%)",
                            "seconds per cell"};
    fr_results_table(z->r, "correlations", 13, cols);
    for (int p = 0; p < NP; p++) {
        for (int k = 0; k < n; k++)
            s[k] = fitness(&z->c[k], p);
        struct fr_interval ta, ra, t10, t5;
        uint64_t seed = z->o->seed * 1000 + (uint64_t)p;
        boot(kendall, s, acc, all, n, P->boot, seed, &ta);
        boot(spearman, s, acc, all, n, P->boot, seed + 1, &ra);
        boot(kendall, s, acc, top10, k10, P->boot, seed + 2, &t10);
        boot(kendall, s, acc, top5, k5, P->boot, seed + 3, &t5);
        int best = 0;
        for (int k = 1; k < n; k++)
            if (s[k] > s[best]) best = k;
        double sec = 0;
        for (int k = 0; k < n; k++)
            sec += z->c[k].sec[p] / n;
        double row[12] = {ta.mean,  ta.lo,  ta.hi,  ra.mean, ra.lo,     ra.hi,
                          t10.mean, t10.lo, t10.hi, t5.mean, acc[best], sec};
        fr_results_table_row(z->r, "correlations", pname(p), row);
        char key[128];
        snprintf(key, sizeof key, "%s: Kendall tau with test accuracy (all cells)", pname(p));
        fr_results_metric_ci(z->r, key, &ta, "");
        snprintf(key, sizeof key, "%s: Kendall tau on the top 10%%", pname(p));
        fr_results_metric_ci(z->r, key, &t10, "");
        tau_all[p] = ta.mean;
        /* the collapse on the top 10%: the difference's interval, paired
         * by resampling the same way is not available; the verdict reads
         * the two intervals: collapse when they do not overlap */
        const char *v = !isfinite(t10.mean) || !isfinite(t10.lo) ? "too few cells to tell"
                        : isfinite(t10.hi) && isfinite(ta.lo) && t10.hi < ta.lo ? "collapses"
                        : isfinite(t10.lo) && isfinite(ta.hi) && t10.lo > ta.hi
                            ? "rises"
                            : "no measurable change";
        say(z,
            "%s: tau %.3f [%.3f, %.3f] on all %d cells, %.3f [%.3f, %.3f] on the top 10%% (%s). ",
            pname(p), ta.mean, ta.lo, ta.hi, n, t10.mean, t10.lo, t10.hi, v);
    }
    say(z, "\n");
    /* the label noise: two seeds' accuracies */
    double a1[4096], a2[4096];
    int m = 0;
    for (int k = 0; k < n && m < 4096; k++)
        if (!isnan(z->c[k].acc_s[0]) && !isnan(z->c[k].acc_s[1]))
            a1[m] = z->c[k].acc_s[0], a2[m] = z->c[k].acc_s[1], all[m] = m, m++;
    if (m >= 3) {
        struct fr_interval iv;
        boot(kendall, a1, a2, all, m, P->boot, z->o->seed + 77, &iv);
        fr_results_metric_ci(z->r, "label noise: Kendall tau between seeds 1 and 2", &iv, "");
        say(z,
            "Label noise: the test accuracies of seeds 1 and 2 of %d cells agree with tau %.3f "
            "[%.3f, %.3f]: how well one training run ranks the cells against another (cells "
            "with several seeds enter the correlations with their mean, which is less "
            "noisy).\n",
            m, iv.mean, iv.lo, iv.hi);
    }
    free(acc), free(s), free(all), free(top5), free(top10);
    return 0;
}

/* the best test accuracy among cand[0..n) by fitness p (p < 0: validation
 * accuracy) */
static double pick(const struct zs *z, const int *cand, int n, int p) {
    int best = cand[0];
    for (int i = 1; i < n; i++) {
        double a = p < 0 ? z->c[cand[i]].val : fitness(&z->c[cand[i]], p);
        double b = p < 0 ? z->c[best].val : fitness(&z->c[best], p);
        if (a > b) best = cand[i];
    }
    return z->c[best].acc;
}

/* Regularised evolution over the table's cells with fitness p: the final
 * pick's test accuracy. Mutation: a table cell differing in one edge from
 * the parent, else any table cell. */
static double evolve(const struct zs *z, int p, struct fr_rng *r) {
    const struct zs_plan *P = z->P;
    int pop[64], np = 0, seen = 0, best = -1;
    while (np < P->population && np < 64 && seen < P->budget) {
        pop[np++] = (int)fr_rng_below(r, (uint64_t)z->n);
        seen++;
        if (best < 0 || fitness(&z->c[pop[np - 1]], p) > fitness(&z->c[best], p))
            best = pop[np - 1];
    }
    int head = 0;
    while (seen < P->budget) {
        int parent = -1;
        for (int s = 0; s < P->sample; s++) {
            int q = pop[(head + (int)fr_rng_below(r, (uint64_t)np)) % np];
            if (parent < 0 || fitness(&z->c[q], p) > fitness(&z->c[parent], p)) parent = q;
        }
        int po[FR_NB201_EDGES], cand[64], nc = 0;
        fr_nb201_ops(z->c[parent].index, po);
        for (int k = 0; k < z->n && nc < 64; k++) {
            int o[FR_NB201_EDGES], diff = 0;
            fr_nb201_ops(z->c[k].index, o);
            for (int e = 0; e < FR_NB201_EDGES; e++)
                diff += o[e] != po[e];
            if (diff == 1) cand[nc++] = k;
        }
        int child = nc ? cand[fr_rng_below(r, (uint64_t)nc)] : (int)fr_rng_below(r, (uint64_t)z->n);
        pop[head] = child; /* the oldest leaves */
        head = (head + 1) % np;
        seen++;
        if (fitness(&z->c[child], p) > fitness(&z->c[best], p)) best = child;
    }
    return z->c[best].acc;
}

static int search(struct zs *z) {
    const struct zs_plan *P = z->P;
    const int T = P->trials, budget = P->budget < z->n ? P->budget : z->n;
    const char *cols[7] = {"fitness", "random search: test acc (%)", "lo",
                           "hi",      "evolution: test acc (%)",     "lo",
                           "hi"};
    fr_results_table(z->r, "search", 7, cols);
    double *ra = malloc(sizeof *ra * (size_t)T), *ev = malloc(sizeof *ev * (size_t)T),
           *truth = malloc(sizeof *truth * (size_t)T);
    int *cand = malloc(sizeof *cand * (size_t)budget);
    if (!ra || !ev || !truth || !cand) {
        free(ra), free(ev), free(truth), free(cand);
        return fr_error(FR_ENOMEM, "zeroshot-nas: out of memory");
    }
    for (int p = -1; p < NP; p++) {
        struct fr_rng r;
        for (int t = 0; t < T; t++) {
            fr_rng_seed(&r, z->o->seed * 7919 + (uint64_t)t); /* the same draws for every fitness */
            for (int i = 0; i < budget; i++)
                cand[i] = (int)fr_rng_below(&r, (uint64_t)z->n);
            ra[t] = pick(z, cand, budget, p);
            ev[t] = p < 0 ? NAN : evolve(z, p, &r);
            if (p < 0) truth[t] = ra[t];
        }
        struct fr_interval a, b;
        fr_interval_t95(ra, T, &a);
        if (p >= 0) fr_interval_t95(ev, T, &b);
        double row[6] = {
            a.mean, a.lo, a.hi, p < 0 ? NAN : b.mean, p < 0 ? NAN : b.lo, p < 0 ? NAN : b.hi};
        fr_results_table_row(z->r, "search", p < 0 ? "validation accuracy" : pname(p), row);
        if (p >= 0) {
            struct fr_interval d;
            fr_interval_diff_t95(ra, truth, T, &d);
            char key[160];
            snprintf(key, sizeof key,
                     "%s: random search pick - validation-accuracy pick (test acc, paired trials)",
                     pname(p));
            fr_results_metric_ci(z->r, key, &d, "points");
        }
    }
    free(ra), free(ev), free(truth), free(cand);
    return 0;
}

static int pareto(struct zs *z) {
    const int n = z->n;
    double *lat = malloc(sizeof *lat * (size_t)n);
    if (!lat) return fr_error(FR_ENOMEM, "zeroshot-nas: out of memory");
    for (int k = 0; k < n; k++)
        lat[k] = z->c[k].lat1;
    qsort(lat, (size_t)n, sizeof *lat, cmp_double);
    static const double Q[5] = {0.1, 0.25, 0.5, 0.75, 1.0};
    const char *cols[2 + NP] = {"latency budget (ms, batch 1)", "best acc under it (%)"};
    for (int p = 0; p < NP; p++)
        cols[2 + p] = pname(p);
    fr_results_table(z->r, "hardware-aware gaps (points below the best under the budget)", 2 + NP,
                     cols);
    double bx[5], by[5], gap[NP][5];
    for (int q = 0; q < 5; q++) {
        double B = lat[(int)(Q[q] * (n - 1))];
        int best = -1, pk[NP];
        for (int p = 0; p < NP; p++)
            pk[p] = -1;
        for (int k = 0; k < n; k++) {
            if (z->c[k].lat1 > B) continue;
            if (best < 0 || z->c[k].acc > z->c[best].acc) best = k;
            for (int p = 0; p < NP; p++)
                if (pk[p] < 0 || fitness(&z->c[k], p) > fitness(&z->c[pk[p]], p)) pk[p] = k;
        }
        double row[1 + NP];
        row[0] = best >= 0 ? z->c[best].acc : NAN;
        for (int p = 0; p < NP; p++)
            row[1 + p] = gap[p][q] = best >= 0 ? z->c[best].acc - z->c[pk[p]].acc : NAN;
        char lab[32];
        snprintf(lab, sizeof lab, "%.3f", B);
        fr_results_table_row(z->r, "hardware-aware gaps (points below the best under the budget)",
                             lab, row);
        bx[q] = B, by[q] = row[0];
    }
    /* tight (the 10% quantile) vs loose (all) budgets, over the proxies */
    int closer = 0, farther = 0;
    for (int p = 0; p < NP; p++)
        closer += gap[p][0]<gap[p][4], farther += gap[p][0]> gap[p][4];
    say(z,
        "Hardware-aware: under the tightest budget (the 10%% latency quantile, %.3f ms) %d of "
        "%d proxies land closer to the front than with no budget, %d farther.\n",
        bx[0], closer, NP, farther);
    fr_results_series(z->r, "best accuracy under a latency budget", "latency budget (ms)",
                      "test accuracy (%)", 5, bx, by);
    /* the front itself */
    int *ord = malloc(sizeof *ord * (size_t)n);
    double *fx = malloc(sizeof *fx * (size_t)n), *fy = malloc(sizeof *fy * (size_t)n);
    int nf = 0;
    for (int k = 0; ord && k < n; k++)
        ord[k] = k;
    for (int i = 1; ord && i < n; i++)
        for (int j = i; j > 0 && z->c[ord[j]].lat1 < z->c[ord[j - 1]].lat1; j--) {
            int t = ord[j];
            ord[j] = ord[j - 1], ord[j - 1] = t;
        }
    double top = -INFINITY;
    for (int i = 0; ord && fx && fy && i < n; i++)
        if (z->c[ord[i]].acc > top) {
            top = z->c[ord[i]].acc;
            fx[nf] = z->c[ord[i]].lat1, fy[nf++] = top;
        }
    if (nf) {
        fr_results_series(z->r, "accuracy-latency Pareto front", "latency, batch 1 (ms)",
                          "test accuracy (%)", nf, fx, fy);
        char path[4300];
        snprintf(path, sizeof path, "%s/pareto.svg", z->dir);
        struct fr_plot_series s = {"Pareto front (batch-1 latency)", nf, fx, fy};
        struct fr_plot pl = {"Accuracy-latency Pareto front of the table's cells",
                             "latency, batch 1 (ms)",
                             "test accuracy (%)",
                             0,
                             1,
                             720,
                             480,
                             0};
        if (!fr_plot_write(path, &pl, 1, &s)) fr_results_plot(z->r, "pareto.svg");
    }
    free(ord), free(fx), free(fy), free(lat);
    return 0;
}

static int cost_plot(struct zs *z, const double *tau) {
    double x[NP], y[NP];
    struct fr_plot_series s[NP];
    for (int p = 0; p < NP; p++) {
        x[p] = 0;
        for (int k = 0; k < z->n; k++)
            x[p] += z->c[k].sec[p] / z->n;
        x[p] = x[p] > 1e-6 ? x[p] : 1e-6; /* params, flops: free */
        y[p] = tau[p];
        s[p] = (struct fr_plot_series){pname(p), 1, &x[p], &y[p]};
    }
    char path[4300];
    snprintf(path, sizeof path, "%s/cost-quality.svg", z->dir);
    struct fr_plot pl = {"Proxy cost vs quality",
                         "seconds per cell (log)",
                         "Kendall tau with test accuracy",
                         0,
                         1,
                         720,
                         480,
                         1};
    int rc = fr_plot_write(path, &pl, NP, s);
    if (!rc) fr_results_plot(z->r, "cost-quality.svg");
    return rc;
}

static int claims(struct zs *z, const double *tau) {
    /* #Params and FLOPs strong baselines: their tau's rank among the proxies */
    int better_p = 0, better_f = 0;
    for (int p = FR_PROXY_GRAD_NORM; p < FR_NPROXIES; p++)
        better_p += tau[p] > tau[FR_PROXY_PARAMS], better_f += tau[p] > tau[FR_PROXY_FLOPS];
    say(z,
        "Baselines: %d of the 12 other proxies rank the cells better than #params (tau %.3f), "
        "%d better than FLOPs (tau %.3f) (point estimates; the table gives the intervals).\n",
        better_p, tau[FR_PROXY_PARAMS], better_f, tau[FR_PROXY_FLOPS]);
    fr_results_metric(z->r, "proxies ranking better than #params (of 12)", better_p, "");
    fr_results_metric(z->r, "proxies ranking better than FLOPs (of 12)", better_f, "");
    return 0;
}

static int build_tiny(struct zs *z) {
    struct fr_nasbench_recipe r;
    fr_nasbench_recipe_defaults(&r);
    r.train = 256, r.val = 64, r.test = 200, r.batch = 32, r.threads = 1;
    r.c = 4;
    char recipe[512];
    int rc = fr_nasbench_recipe_format(&r, recipe, sizeof recipe);
    struct fr_dataset tr = {0}, te = {0};
    struct fr_data_spec ds = {"fashion-mnist", 0, 0, 0};
    if (!rc) rc = fr_dataset_load(&tr, &ds, z->o->data_dir, 1, r.train + r.val);
    if (!rc) rc = fr_dataset_load(&te, &ds, z->o->data_dir, 0, r.test);
    int64_t cells[64];
    const int nb = z->P->build_cells;
    if (!rc) rc = fr_nasbench_sample(z->o->seed, cells, nb);
    struct fr_nasbench_row *rows = NULL;
    int64_t have = 0;
    if (!rc && fr_nasbench_read(z->table, &rows, &have, NULL, 0) != 0) have = 0; /* resumes */
    for (int i = (int)have; !rc && i < nb + 2; i++) { /* two cells twice: the noise pair */
        struct fr_nasbench_row row;
        int64_t cell = cells[i < nb ? i : i - nb];
        rc = fr_nasbench_train(&r, &tr, &te, cell, i < nb ? 1 : 2, &row);
        if (!rc) rc = fr_nasbench_append(z->table, recipe, &row);
    }
    free(rows);
    fr_dataset_free(&tr), fr_dataset_free(&te);
    return rc;
}

static int run(const struct fr_experiment *e, const void *plan, const struct fr_exp_opts *o,
               struct fr_exp_outcome *out) {
    const struct zs_plan *P = plan;
    struct zs *z = calloc(1, sizeof *z);
    if (!z) return fr_error(FR_ENOMEM, "zeroshot-nas: out of memory");
    z->P = P, z->o = o;
    double t0 = fr_seconds();
    int rc = fr_exp_dir(o, e->name, z->dir, sizeof z->dir);
    if (rc) goto done;
    if (P->table) {
        if ((rc = fr_exp_data_path(P->table, z->table, sizeof z->table))) goto done;
    } else {
        snprintf(z->table, sizeof z->table, "%s/table.csv", z->dir);
        fr_exp_log(o, "zeroshot-nas: building a tiny table of %d cells in %s", P->build_cells,
                   z->table);
        if ((rc = build_tiny(z))) goto done;
    }
    if ((rc = load_table(z))) goto done;
    fr_exp_log(o, "zeroshot-nas: %d cells in %s; recipe: %s", z->n, z->table, z->recipe);
    if ((rc = measure(z))) goto done;
    int members[NENS];
    ensemble(z, members);
    if (!(z->r = fr_results_new(e->name, P->title))) {
        rc = FR_ENOMEM;
        goto done;
    }
    fr_results_set_str(z->r, "paper", "arXiv 2307.01998 (zero-shot NAS survey, TPAMI 2024)");
    fr_results_set_str(z->r, "claim",
                       "On NAS-Bench-201, #Params and FLOPs are strong baselines that most "
                       "zero-shot proxies do not beat; every proxy's correlation with accuracy "
                       "collapses on the top 5% of architectures; under tight latency budgets "
                       "proxy-guided picks lie near the true accuracy-latency front and drift "
                       "away as the budget loosens.");
    if (o->command) fr_results_set_str(z->r, "command", o->command);
    fr_results_set_seed(z->r, o->seed);
    fr_results_config_str(z->r, "table", P->table ? P->table : "built by the tiny plan");
    fr_results_config_str(z->r, "recipe", z->recipe);
    fr_results_config_int(z->r, "cells", z->n);
    fr_results_config_int(z->r, "proxy batch (training images 0..batch-1)", P->batch);
    fr_results_config_int(z->r, "bootstrap resamples", P->boot);
    fr_results_config_int(z->r, "search trials", P->trials);
    fr_results_config_int(z->r, "search budget (cells evaluated)", P->budget);
    fr_results_config_int(z->r, "threads", fr_threads_get());
    char ens[160];
    snprintf(ens, sizeof ens, "rank average of %s, %s, %s (the cheapest after params and flops)",
             pname(members[0]), pname(members[1]), pname(members[2]));
    fr_results_config_str(z->r, "ensemble", ens);
    double tau[NP];
    if ((rc = correlations(z, tau)) || (rc = search(z)) || (rc = pareto(z)) ||
        (rc = cost_plot(z, tau)) || (rc = claims(z, tau)))
        goto done;
    say(z, "Wall time %.0f s.\n", fr_seconds() - t0);
    fr_results_set_str(z->r, "findings", z->notes);
    fr_results_metric(z->r, "wall_seconds", fr_seconds() - t0, "s");
    snprintf(out->results, sizeof out->results, "%.4000s/results.json", z->dir);
    if ((rc = fr_results_write(z->r, out->results))) goto done;
    snprintf(out->summary, sizeof out->summary, "zeroshot-nas: wrote %.2000s in %.0f s\n%.1900s",
             out->results, fr_seconds() - t0, z->notes);
done:
    fr_results_free(z->r);
    free(z->c);
    free(z);
    return rc;
}

const struct fr_experiment fr_exp_zeroshot_nas = {
    "zeroshot-nas",
    "2307.01998",
    "Zero-shot NAS: 14 training-free proxies against our own NAS-Bench-201 ground truth",
    {&TINY, &QUICK, &FULL},
    run};

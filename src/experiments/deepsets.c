/* deepsets.c: `frugal repro deepsets`: how wide must the latent space of a
 * DeepSets model be (Wang et al., "Polynomial width is sufficient for set
 * representation", ICLR 2024)?
 *
 *  1. injectivity probe: for each (N, D) and growing L, the smallest
 *     ||Phi(X) - Phi(X')|| / d(X, X') found (random pairs, near-duplicates,
 *     Adam on the ratio, and for LP the certified switching construction)
 *     for LP with random directions, LE with random exponents at a few
 *     exponent scales, and the constructive LP and LE weights; the measured
 *     threshold beside N*D, N(D+1) and the paper's upper bounds; the same
 *     probe of what the equivariant model's rho sees, (x_j, Phi(X));
 *  2. learning set functions with LP / LE / MLP phi over a grid of latent
 *     widths L that does not depend on N (so L < N is on it: LP there is
 *     the truncated power sums of degree L): test error vs L, the width
 *     where it saturates, a fit of that width in N, D, and an LE exponent
 *     scale sweep, each over several seeds with 95% t intervals, the
 *     comparisons decided by the interval of a paired difference;
 *  3. the equivariant version (per-element rank);
 *  4. complex sets through the real/imaginary split.
 * The plans differ only in their grids, seeds, probe effort and training
 * length; the bounds, L*, L_sat and the fits are methods/sets (sets.h).
 * Writes OUT/deepsets/results.json and SVG plots; every sentence of its
 * notes that states a finding is printed from the run's numbers.
 */
#include "frugal/experiments/experiment.h"

#include "frugal/clock.h"
#include "frugal/methods/sets.h"
#include "frugal/report.h"
#include "frugal/status.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COLLIDE 1e-6 /* a ratio below this counts as a collision */
#define MAXPTS 64
#define MAXSC 4  /* LE exponent scales */
#define MAXV 6   /* learning variants: LP, LE, MLP, then LE at the other scales */
#define MAXW 16  /* latent widths */
#define MAXS 8   /* seeds */
#define MAXC 64  /* (N, D) cells of a learning grid */
#define MAXND 16 /* N, D below this are remembered for the equivariant probe */

/* A grid of set sizes N and feature counts D (complex probe: complex
 * features Dc, probed as 2 Dc reals). */
struct deepsets_grid {
    const int64_t *n, *d;
    int nn, nd;
};

struct deepsets_plan {
    const char *title;
    int probe_restarts, probe_steps; /* optimiser restarts and Adam steps per probed width */
    int64_t probe_random_pairs;      /* 0: the probe's default */
    int64_t probe_near_pairs;        /* 0: the probe's default */
    int64_t constructive_max_l;      /* the constructive weights are probed up to this L */
    const double *le_scales;         /* LE exponent scales; [0] = 1, the default */
    int nscales;
    struct deepsets_grid probe, eq_probe, complex_probe;
    const enum fr_sets_task *tasks; /* the invariant set functions learnt */
    int ntasks;
    struct deepsets_grid invariant, equivariant, complex_learn;
    const int64_t *widths; /* latent widths L, the same for every N */
    int nw;
    int nseeds;                   /* learning runs (data, init, training) per cell */
    int64_t steps, ntrain, ntest; /* per trained model */
};

#define NELEM(a) ((int)(sizeof a / sizeof a[0]))
#define GRID(ns, ds)                                                                               \
    { ns, ds, NELEM(ns), NELEM(ds) }

static const enum fr_sets_task TASKS[] = {FR_SETS_TASK_PAIRPROD, FR_SETS_TASK_SORTED0,
                                          FR_SETS_TASK_LEXMEDIAN};
static const double SCALES[] = {1.0, 0.25, 3.0};
static const int64_t CL_D_Q[] = {2}; /* complex pair-product: D = 2 Dc */

static const int64_t PN_F[] = {2, 3, 4, 5, 6, 7, 8}, PD_F[] = {1, 2, 3, 4, 5, 6};
static const int64_t QN_F[] = {2, 3, 4, 6}, QD_F[] = {1, 2, 3};
static const int64_t W_F[] = {2, 4, 8, 16, 32, 64};
static const int64_t LN_F[] = {2, 4, 8}, LD_F[] = {1, 2, 4};
static const int64_t EN_F[] = {2, 4, 8}, ED_F[] = {1, 2};
static const int64_t CN_F[] = {2, 3, 4, 6}, CD[] = {1, 2};
static const struct deepsets_plan FULL = {
    .title = "DeepSets: the latent width a set needs",
    .probe_restarts = 12,
    .probe_steps = 1000,
    .constructive_max_l = 2500,
    .le_scales = SCALES,
    .nscales = NELEM(SCALES),
    .probe = GRID(PN_F, PD_F),
    .eq_probe = GRID(QN_F, QD_F),
    .complex_probe = GRID(CN_F, CD),
    .tasks = TASKS,
    .ntasks = NELEM(TASKS),
    .invariant = GRID(LN_F, LD_F),
    .equivariant = GRID(EN_F, ED_F),
    .complex_learn = GRID(LN_F, CL_D_Q),
    .widths = W_F,
    .nw = NELEM(W_F),
    .nseeds = 5,
    .steps = 1000,
    .ntrain = 4096,
    .ntest = 1024,
};

static const int64_t PN_Q[] = {2, 3, 4, 5}, PD_Q[] = {1, 2, 3, 4};
static const int64_t QN_Q[] = {2, 3, 4}, QD_Q[] = {1, 2};
static const int64_t W_Q[] = {2, 4, 8, 16, 32};
static const int64_t LN_Q[] = {2, 4}, LD_Q[] = {1, 3};
static const int64_t CN_Q[] = {2, 3}, CD_Q[] = {1};
static const struct deepsets_plan QUICK = {
    .title = "DeepSets: the latent width a set needs (quick)",
    .probe_restarts = 8,
    .probe_steps = 600,
    .constructive_max_l = 2000,
    .le_scales = SCALES,
    .nscales = NELEM(SCALES),
    .probe = GRID(PN_Q, PD_Q),
    .eq_probe = GRID(QN_Q, QD_Q),
    .complex_probe = GRID(CN_Q, CD_Q),
    .tasks = TASKS,
    .ntasks = NELEM(TASKS),
    .invariant = GRID(LN_Q, LD_Q),
    .equivariant = GRID(LN_Q, LD_Q),
    .complex_learn = GRID(LN_Q, CL_D_Q),
    .widths = W_Q,
    .nw = NELEM(W_Q),
    .nseeds = 2,
    .steps = 200,
    .ntrain = 1024,
    .ntest = 512,
};

/* Seconds, numbers meaningless: every code path once (plots on the D = 2
 * cells, the constructive weights, a 6-cell invariant grid for the fits,
 * two seeds for the intervals). */
static const int64_t PN_T[] = {2, 3}, PD_T[] = {1, 2};
static const int64_t W_T[] = {2, 4};
static const int64_t LN_T[] = {2, 3}, LD_T[] = {1, 2, 3}, EN_T[] = {2}, ED_T[] = {1, 2};
static const int64_t CN_T[] = {2}, QN_T[] = {2}, QD_T[] = {2};
static const struct deepsets_plan TINY = {
    .title = "DeepSets: the latent width a set needs (tiny)",
    .probe_restarts = 2,
    .probe_steps = 50,
    .probe_random_pairs = 200,
    .probe_near_pairs = 20,
    .constructive_max_l = 2000,
    .le_scales = SCALES,
    .nscales = 2,
    .probe = GRID(PN_T, PD_T),
    .eq_probe = GRID(QN_T, QD_T),
    .complex_probe = GRID(CN_T, CD_Q),
    .tasks = TASKS,
    .ntasks = NELEM(TASKS),
    .invariant = GRID(LN_T, LD_T),
    .equivariant = GRID(EN_T, ED_T),
    .complex_learn = GRID(CN_T, CL_D_Q),
    .widths = W_T,
    .nw = NELEM(W_T),
    .nseeds = 2,
    .steps = 10,
    .ntrain = 128,
    .ntest = 64,
};

struct ctx {
    const struct fr_exp_opts *o;
    const struct deepsets_plan *P;
    struct fr_results *r;
    struct fr_rng rng;         /* the probe's */
    struct fr_rng seeds[MAXS]; /* the learning part's, one stream per seed */
    struct fr_sets_probe_opts po;
    char dir[4096];
    double t0;
    double inv_lp[MAXND][MAXND]; /* invariant LP L* at (N, D), NaN: not probed */
    char notes[24576];           /* the findings, printed from the numbers */
    size_t nn;
};

/* Appends to the notes (silently truncated at their capacity). */
#define say(c, ...) fr_exp_append((c)->notes, sizeof(c)->notes, &(c)->nn, __VA_ARGS__)

static double floor_ratio(double r) {
    return r < 1e-17 ? 1e-17 : r;
}

/* L* for a progress line: -1 when there is none. */
static long long shown(double width) {
    return isnan(width) ? -1 : (long long)width;
}

/* ---- 1. injectivity probe ---- */

enum probe_mode { PROBE_REAL = 0, PROBE_COMPLEX = 1, PROBE_EQUI = 2 };
static const char *const PROBE_TABLE[3] = {"probe thresholds", "complex probe",
                                           "equivariant probe"};

struct curve {
    int n;
    double x[MAXPTS], y[MAXPTS];
};

/* What one probed cell found. */
struct cell_out {
    double lp_star, le_star[MAXSC];
    double cons_lp, cons_le; /* smallest ratio of the constructive weights; NaN: not probed */
};

/* The LE curve of one exponent scale: random rows N(0, scale^2 / D) at L
 * around N*D. */
static int probe_le(struct ctx *c, const struct fr_sets_probe_opts *po, int64_t N, int64_t D,
                    double scale, struct curve *le) {
    static const double FRAC[] = {0.5, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0};
    struct fr_sets_probe_result pr;
    int64_t lprev = 0;
    int rc = 0;
    for (int i = 0; i < NELEM(FRAC) && !rc; i++) {
        int64_t L = (int64_t)ceil(FRAC[i] * (double)(N * D));
        if (L <= lprev) continue;
        lprev = L;
        double *v = malloc((size_t)(L * D) * sizeof *v);
        if (!v) return fr_error(FR_ENOMEM, "out of memory");
        for (int64_t j = 0; j < L * D; j++)
            v[j] = scale * fr_rng_normal(&c->rng) / sqrt((double)D);
        struct fr_sets_emb64 e = {FR_SETS_LE, D, L, 1, v};
        if (!(rc = fr_sets_probe(&e, N, po, &c->rng, &pr, NULL, NULL)))
            le->x[le->n] = (double)L, le->y[le->n++] = floor_ratio(pr.ratio_min);
        free(v);
    }
    return rc;
}

/* The smallest ratio the probe finds for the constructive LP (le = 0) or
 * LE (le = 1) weights at their stated width. */
static int probe_constructive(struct ctx *c, const struct fr_sets_probe_opts *po, int64_t N,
                              int64_t D, int le, double *ratio) {
    int64_t K = fr_sets_lp_constructive_size(N, D, NULL, NULL), rows = le ? K * N : K;
    double *w = malloc((size_t)(rows * D) * sizeof *w);
    struct fr_sets_probe_result pr;
    int rc;
    if (!w) return fr_error(FR_ENOMEM, "constructive weights: out of memory");
    rc = le ? fr_sets_le_constructive(N, D, w, rows) : fr_sets_lp_constructive(N, D, 1, w, rows);
    if (rc) {
        char why[256];
        snprintf(why, sizeof why, "%s", fr_last_error());
        rc = fr_error(rc, "constructive weights: %s", why);
    } else {
        struct fr_sets_emb64 e = {le ? FR_SETS_LE : FR_SETS_LP, D, rows, le ? 1 : N, w};
        if (!(rc = fr_sets_probe(&e, N, po, &c->rng, &pr, NULL, NULL))) *ratio = pr.ratio_min;
    }
    free(w);
    return rc;
}

static void probe_plot(struct ctx *c, int64_t N, int64_t D, int mode, const struct curve *lp,
                       const struct curve *lpo, const struct curve *le, int nle,
                       const struct cell_out *co) {
    double nd[2] = {(double)(N * D), (double)(N * D)};
    double nd1[2] = {(double)(N * (D + 1)), (double)(N * (D + 1))};
    double yl[2] = {1e-17, 10}, cx[1] = {(double)fr_sets_le_constructive_size(N, D)};
    double cy[1] = {floor_ratio(co->cons_lp)}, ey[1] = {floor_ratio(co->cons_le)};
    struct fr_plot_series s[6 + MAXSC];
    char names[MAXSC][48];
    int ns = 0;
    s[ns++] = (struct fr_plot_series){"LP, random directions", lp->n, lp->x, lp->y};
    s[ns++] = (struct fr_plot_series){"LP, optimiser alone", lpo->n, lpo->x, lpo->y};
    for (int k = 0; k < nle; k++) {
        snprintf(names[k], sizeof names[k], "LE, random, scale %g", c->P->le_scales[k]);
        s[ns++] = (struct fr_plot_series){names[k], le[k].n, le[k].x, le[k].y};
    }
    s[ns++] = (struct fr_plot_series){"LP, constructive", isnan(co->cons_lp) ? 0 : 1, cx, cy};
    s[ns++] = (struct fr_plot_series){"LE, constructive", isnan(co->cons_le) ? 0 : 1, cx, ey};
    s[ns++] = (struct fr_plot_series){"L = N*D", 2, nd, yl};
    s[ns++] = (struct fr_plot_series){"L = N(D+1)", 2, nd1, yl};
    static const char *const PRE[3] = {"", "complex_", "equivariant_"};
    static const char *const TPRE[3] = {"", "Complex: ", "Equivariant (x_j, Phi): "};
    char title[160], file[160], path[4400];
    snprintf(title, sizeof title, "%sInjectivity probe, N=%lld, D=%lld%s", TPRE[mode], (long long)N,
             (long long)D, mode == PROBE_COMPLEX ? " (split)" : "");
    snprintf(file, sizeof file, "%sprobe_N%lld_D%lld.svg", PRE[mode], (long long)N, (long long)D);
    snprintf(path, sizeof path, "%s/%s", c->dir, file);
    struct fr_plot p = {title, "latent width L", "smallest ||dPhi|| / d(X,X') found", 1, 1, 0, 0,
                        1};
    if (fr_plot_write(path, &p, ns, s) == 0) fr_results_plot(c->r, file);
}

/* One (N, D) cell: LP with nested random directions, LE at L around N*D
 * for each exponent scale (the equivariant probe: scale 1 only), the
 * constructive LP and LE weights when small enough (not for the
 * equivariant probe: an injective Phi makes (x_j, Phi) injective); its
 * table row, series, plot and progress line. */
static int probe_cell(struct ctx *c, int64_t N, int64_t D, int64_t Dshown, int plot, int mode,
                      struct cell_out *co) {
    const struct deepsets_plan *P = c->P;
    struct fr_sets_probe_opts po = c->po;
    po.equivariant = mode == PROBE_EQUI;
    int nle = mode == PROBE_EQUI ? 1 : P->nscales;
    int64_t kc = fr_sets_lp_certified_k(N, D), kmax = kc + 3 > D + 3 ? kc + 3 : D + 3;
    int64_t Lc = fr_sets_le_constructive_size(N, D);
    double *w = malloc((size_t)(kmax * D) * sizeof *w);
    struct curve lp = {0}, lpo = {0}, le[MAXSC];
    struct fr_sets_probe_result pr;
    int rc = 0;
    if (!w) return fr_error(FR_ENOMEM, "out of memory");
    memset(le, 0, sizeof le);
    co->cons_lp = co->cons_le = NAN;
    fr_sets_lp_random(kmax, D, &c->rng, w);
    for (int64_t K = 1; K <= kmax && lp.n < MAXPTS; K++) {
        struct fr_sets_emb64 e = {FR_SETS_LP, D, K, N, w};
        if ((rc = fr_sets_probe(&e, N, &po, &c->rng, &pr, NULL, NULL))) goto cleanup;
        lp.x[lp.n] = (double)(K * N), lp.y[lp.n++] = floor_ratio(pr.ratio_min);
        lpo.x[lpo.n] = (double)(K * N), lpo.y[lpo.n++] = floor_ratio(pr.ratio_opt);
    }
    for (int k = 0; k < nle; k++)
        if ((rc = probe_le(c, &po, N, D, P->le_scales[k], &le[k]))) goto cleanup;
    if (mode != PROBE_EQUI && Lc <= P->constructive_max_l &&
        ((rc = probe_constructive(c, &po, N, D, 0, &co->cons_lp)) ||
         (rc = probe_constructive(c, &po, N, D, 1, &co->cons_le))))
        goto cleanup;
    co->lp_star = fr_sets_probe_threshold(lp.x, lp.y, lp.n, COLLIDE);
    for (int k = 0; k < MAXSC; k++)
        co->le_star[k] =
            k < nle ? fr_sets_probe_threshold(le[k].x, le[k].y, le[k].n, COLLIDE) : NAN;
    char label[64];
    if (mode == PROBE_COMPLEX)
        snprintf(label, sizeof label, "Dc=%lld N=%lld", (long long)Dshown, (long long)N);
    else
        snprintf(label, sizeof label, "(%lld, %lld)", (long long)N, (long long)D);
    double row[8 + MAXSC + 4];
    int nr = 0;
    row[nr++] = (double)(N * D), row[nr++] = (double)(N * (D + 1)), row[nr++] = (double)(kc * N);
    if (mode == PROBE_EQUI) {
        row[nr++] = N < MAXND && D < MAXND ? c->inv_lp[N][D] : NAN;
        row[nr++] = co->lp_star, row[nr++] = co->le_star[0];
    } else {
        row[nr++] = co->lp_star;
        for (int k = 0; k < P->nscales; k++)
            row[nr++] = co->le_star[k];
        row[nr++] = (double)Lc, row[nr++] = co->cons_lp, row[nr++] = co->cons_le;
        row[nr++] = pow((double)N, 5) * (double)(D * D);
        row[nr++] = pow((double)N, 4) * (double)(D * D);
    }
    fr_results_table_row(c->r, PROBE_TABLE[mode], label, row);
    if (mode == PROBE_REAL && N < MAXND && D < MAXND) c->inv_lp[N][D] = co->lp_star;
    fr_exp_log(c->o,
               "deepsets: %s N=%lld D=%lld: LP L*=%lld (N(D+1)=%lld, certified >= %lld), "
               "LE L*=%lld, constructive L=%lld ratio LP %.3g LE %.3g  [%.0fs]",
               PROBE_TABLE[mode], (long long)N, (long long)D, shown(co->lp_star),
               (long long)(N * (D + 1)), (long long)(kc * N), shown(co->le_star[0]), (long long)Lc,
               co->cons_lp, co->cons_le, fr_seconds() - c->t0);
    static const char *const PRE[3] = {"", "complex ", "equivariant "};
    char nm[128];
    snprintf(nm, sizeof nm, "%sLP random N=%lld D=%lld", PRE[mode], (long long)N, (long long)D);
    fr_results_series(c->r, nm, "L", "min ratio", lp.n, lp.x, lp.y);
    snprintf(nm, sizeof nm, "%sLP random, optimiser only N=%lld D=%lld", PRE[mode], (long long)N,
             (long long)D);
    fr_results_series(c->r, nm, "L", "min ratio", lpo.n, lpo.x, lpo.y);
    for (int k = 0; k < nle; k++) {
        snprintf(nm, sizeof nm, "%sLE scale %g N=%lld D=%lld", PRE[mode], P->le_scales[k],
                 (long long)N, (long long)D);
        fr_results_series(c->r, nm, "L", "min ratio", le[k].n, le[k].x, le[k].y);
    }
    if (plot) probe_plot(c, N, D, mode, &lp, &lpo, le, nle, co);
cleanup:
    free(w);
    return rc;
}

static void probe_table(struct ctx *c, int mode) {
    const char *cols[8 + MAXSC + 4];
    char names[MAXSC][64];
    int nc = 0;
    cols[nc++] = mode == PROBE_COMPLEX ? "Dc (complex) / N" : "(N, D)";
    cols[nc++] = "N*D";
    cols[nc++] = "N(D+1)";
    cols[nc++] = "certified LP lower bound (ours)";
    if (mode == PROBE_EQUI) {
        cols[nc++] = "invariant LP L*";
        cols[nc++] = "equivariant LP L*";
        cols[nc++] = "equivariant LE L* (scale 1)";
    } else {
        cols[nc++] = "LP measured L*";
        for (int k = 0; k < c->P->nscales; k++) {
            snprintf(names[k], sizeof names[k], "LE L* scale %g", c->P->le_scales[k]);
            cols[nc++] = names[k];
        }
        cols[nc++] = "constructive L (LP and LE)";
        cols[nc++] = "constructive LP min ratio";
        cols[nc++] = "constructive LE min ratio";
        cols[nc++] = "paper LP upper N^5 D^2";
        cols[nc++] = "paper LE upper N^4 D^2";
    }
    fr_results_table(c->r, PROBE_TABLE[mode], nc, cols);
}

/* The probe over a grid, its counts as metrics and as sentences. */
static int probe_grid(struct ctx *c, const struct deepsets_grid *g, int mode) {
    const struct deepsets_plan *P = c->P;
    int rc, cells = 0, lp_above = 0, lp_cert = 0, le_nd[MAXSC] = {0}, le_none[MAXSC] = {0};
    int cons = 0, cons_lp_hit = 0, cons_le_hit = 0, eq_same = 0, eq_more = 0, eq_less = 0;
    double worst_lp = 0, cons_lp_min = INFINITY, cons_le_min = INFINITY;
    int nle = mode == PROBE_EQUI ? 1 : P->nscales;
    probe_table(c, mode);
    for (int a = 0; a < g->nn; a++)
        for (int b = 0; b < g->nd; b++) {
            int64_t N = g->n[a], D = mode == PROBE_COMPLEX ? 2 * g->d[b] : g->d[b];
            int plot = mode != PROBE_REAL || D == 2 || (a == g->nn - 1 && b == g->nd - 1);
            struct cell_out co;
            if ((rc = probe_cell(c, N, D, g->d[b], plot, mode, &co))) return rc;
            cells++;
            if (co.lp_star > N * (D + 1)) lp_above++;
            if (co.lp_star == fr_sets_lp_certified_k(N, D) * N) lp_cert++;
            if (co.lp_star > 0) worst_lp = fmax(worst_lp, co.lp_star / (double)(N * (D + 1)));
            for (int k = 0; k < nle; k++) {
                if (co.le_star[k] == N * D) le_nd[k]++;
                if (isnan(co.le_star[k])) le_none[k]++;
            }
            if (!isnan(co.cons_lp)) {
                cons++;
                cons_lp_hit += co.cons_lp < COLLIDE, cons_le_hit += co.cons_le < COLLIDE;
                cons_lp_min = fmin(cons_lp_min, co.cons_lp);
                cons_le_min = fmin(cons_le_min, co.cons_le);
            }
            if (mode == PROBE_EQUI && N < MAXND && D < MAXND) {
                double inv = c->inv_lp[N][D];
                if (co.lp_star == inv || (isnan(co.lp_star) && isnan(inv)))
                    eq_same++;
                else if (co.lp_star > inv || isnan(co.lp_star))
                    eq_more++;
                else
                    eq_less++;
            }
        }
    static const char *const PRE[3] = {"probe", "complex probe", "equivariant probe"};
    const char *pre = PRE[mode];
    char key[160];
#define COUNT(fmt, v)                                                                              \
    do {                                                                                           \
        snprintf(key, sizeof key, fmt, pre);                                                       \
        fr_results_metric(c->r, key, v, "");                                                       \
    } while (0)
    COUNT("%s: (N, D) cells", cells);
    COUNT("%s: cells where LP L* > N(D+1)", lp_above);
    COUNT("%s: cells where LP L* = certified bound", lp_cert);
    COUNT("%s: largest LP L* / N(D+1)", worst_lp);
    for (int k = 0; k < nle; k++) {
        snprintf(key, sizeof key, "%s: cells where LE (scale %g) L* = N*D", pre, P->le_scales[k]);
        fr_results_metric(c->r, key, le_nd[k], "");
        snprintf(key, sizeof key, "%s: cells where LE (scale %g) collides at every probed L", pre,
                 P->le_scales[k]);
        fr_results_metric(c->r, key, le_none[k], "");
    }
    if (mode != PROBE_EQUI) {
        COUNT("%s: cells with the constructive weights probed", cons);
        COUNT("%s: of those, cells where constructive LP collided", cons_lp_hit);
        COUNT("%s: of those, cells where constructive LE collided", cons_le_hit);
        COUNT("%s: smallest constructive LP ratio", cons ? cons_lp_min : NAN);
        COUNT("%s: smallest constructive LE ratio", cons ? cons_le_min : NAN);
    } else {
        COUNT("%s: cells where equivariant LP L* = invariant LP L*", eq_same);
        COUNT("%s: cells where equivariant LP L* > invariant", eq_more);
        COUNT("%s: cells where equivariant LP L* < invariant", eq_less);
    }
#undef COUNT
    static const char *const SPRE[3] = {"Probe", "Complex probe", "Equivariant probe"};
    say(c,
        "%s (%d cells, one seed): LP L* equals the certified bound in %d cells and exceeds "
        "N(D+1) in %d (at most %.2fx N(D+1)); ",
        SPRE[mode], cells, lp_cert, lp_above, worst_lp);
    for (int k = 0; k < nle; k++)
        say(c,
            "LE at exponent scale %g: L* = N*D in %d cells, collisions at every probed L in %d; ",
            P->le_scales[k], le_nd[k], le_none[k]);
    if (mode == PROBE_EQUI)
        say(c,
            "equivariant LP L* equals the invariant one in %d cells, is larger in %d and "
            "smaller in %d. ",
            eq_same, eq_more, eq_less);
    else if (cons)
        say(c,
            "the constructive weights (probed in %d cells) collided in %d (LP) and %d (LE) "
            "cells, smallest ratio %.2g (LP) and %.2g (LE). ",
            cons, cons_lp_hit, cons_le_hit, cons_lp_min, cons_le_min);
    else
        say(c, "constructive weights not probed (L above the plan's limit). ");
    return 0;
}

/* ---- 2-4. learning ---- */

static const char *const PHI_NAMES[3] = {"LP", "LE", "MLP"};

/* LP at a target width L: one direction with the truncated power sums of
 * degree L when L < N (they cannot separate every set of N elements), else
 * floor(L / N) directions of degree N. */
static void lp_shape(int64_t L, int64_t N, int64_t *K, int64_t *deg) {
    if (L < N)
        *K = 1, *deg = L;
    else
        *K = L / N, *deg = N;
}

static const char *variant_name(const struct deepsets_plan *P, int v, char *buf, size_t cap) {
    if (v < 3) return PHI_NAMES[v];
    snprintf(buf, cap, "LE scale %g", P->le_scales[v - 2]);
    return buf;
}

/* err[v][i], x[v][i]: relative test error and actual latent width of
 * variant v at widths[i] for task t at (N, D), with seed s's data and
 * init. Variants: LP, LE, MLP, then LE at le_scales[1..] (nv in all). */
static int learn_curve(struct ctx *c, enum fr_sets_task t, int64_t N, int64_t D, int s, int nv,
                       double err[MAXV][MAXW], double x[MAXV][MAXW]) {
    const struct deepsets_plan *P = c->P;
    struct fr_rng *rng = &c->seeds[s];
    int64_t out = fr_sets_task_outputs(t, N, D), py = t == FR_SETS_TASK_RANK ? N : out;
    float *xtr = malloc(sizeof(float) * (size_t)(P->ntrain * N * D));
    float *ytr = malloc(sizeof(float) * (size_t)(P->ntrain * py));
    float *xte = malloc(sizeof(float) * (size_t)(P->ntest * N * D));
    float *yte = malloc(sizeof(float) * (size_t)(P->ntest * py));
    int rc = 0;
    if (!xtr || !ytr || !xte || !yte) {
        rc = fr_error(FR_ENOMEM, "out of memory");
        goto cleanup;
    }
    if ((rc = fr_sets_task_generate(t, N, D, P->ntrain, rng, xtr, ytr)) ||
        (rc = fr_sets_task_generate(t, N, D, P->ntest, rng, xte, yte)))
        goto cleanup;
    struct fr_sets_train_opts to;
    fr_sets_train_defaults(&to);
    to.steps = P->steps;
    for (int v = 0; v < nv; v++)
        for (int i = 0; i < P->nw; i++) {
            enum fr_sets_phi phi = v < 3 ? (enum fr_sets_phi)v : FR_SETS_LE;
            struct fr_sets_config cfg;
            fr_sets_config_defaults(&cfg, phi, D, N, out);
            cfg.equivariant = t == FR_SETS_TASK_RANK;
            cfg.le_scale = P->le_scales[v < 3 ? 0 : v - 2];
            cfg.width = P->widths[i];
            if (phi == FR_SETS_LP) lp_shape(P->widths[i], N, &cfg.width, &cfg.lp_deg);
            x[v][i] = (double)(phi == FR_SETS_LP ? cfg.width * cfg.lp_deg : cfg.width);
            struct fr_sets_model m;
            if ((rc = fr_sets_model_init(&m, &cfg, rng))) goto cleanup;
            double te = NAN, tr = NAN;
            if (fr_sets_train_eval(&m, xtr, ytr, P->ntrain, xte, yte, P->ntest, &to, rng, &te, &tr))
                te = NAN; /* diverged (LE overflow): recorded as missing */
            err[v][i] = te;
            fr_sets_model_free(&m);
        }
cleanup:
    free(xtr), free(ytr), free(xte), free(yte);
    return rc;
}

/* The mean of the finite values among x[0..n); NaN when there are none. */
static double mean_finite(const double *x, int n) {
    double s = 0;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) s += x[i], m++;
    return m ? s / m : NAN;
}

/* The 95% t interval over the finite values among x[0..n) (of the pairs
 * where both are finite when b is not NULL: the paired difference a - b). */
static void interval(const double *a, const double *b, int n, struct fr_interval *iv) {
    double fa[MAXS], fb[MAXS];
    int m = 0;
    for (int i = 0; i < n && i < MAXS; i++)
        if (isfinite(a[i]) && (!b || isfinite(b[i]))) fa[m] = a[i], fb[m++] = b ? b[i] : 0;
    *iv = (struct fr_interval){NAN, NAN, NAN, 0, "t95"};
    if (m && (b ? fr_interval_diff_t95(fa, fb, m, iv) : fr_interval_t95(fa, m, iv)))
        *iv = (struct fr_interval){NAN, NAN, NAN, 0, "t95"};
}

/* A comparison of two variants over seeds: the interval of the paired
 * difference a - b, its verdict, a row of the comparisons table, a metric
 * and a sentence. */
static void compare(struct ctx *c, const char *what, const char *an, const double *a,
                    const char *bn, const double *b, int n, int higher_is_better, int lsat) {
    struct fr_interval d;
    char txt[256], key[256];
    interval(a, b, n, &d);
    enum fr_verdict v = fr_verdict_of(&d, higher_is_better);
    snprintf(key, sizeof key, "%s: %s - %s", what, an, bn);
    fr_results_metric_ci(c->r, key, &d, "");
    double row[5] = {d.mean, d.lo, d.hi, (double)d.n,
                     v == FR_VERDICT_A      ? 1
                     : v == FR_VERDICT_B    ? -1
                     : v == FR_VERDICT_SAME ? 0
                                            : NAN};
    fr_results_table_row(c->r, "comparisons", key, row);
    if (!lsat)
        fr_verdict_text(v, an, bn, txt, sizeof txt);
    else if (v == FR_VERDICT_A || v == FR_VERDICT_B) /* a width, not a quality: no "better" */
        snprintf(txt, sizeof txt, "%s saturates at a smaller width than %s",
                 v == FR_VERDICT_A ? an : bn, v == FR_VERDICT_A ? bn : an);
    else
        snprintf(txt, sizeof txt, "%s L_sat of %s and %s",
                 v == FR_VERDICT_SAME ? "no measurable difference between the"
                                      : "not enough runs to compare the",
                 an, bn);
    say(c, "%s: %s (%s - %s = %.3g [%.3g, %.3g], %d seeds). ", what, txt, an, bn, d.mean, d.lo,
        d.hi, d.n);
}

/* Mean error curves over the seeds of one (task, N, D) cell, plotted. */
static void learn_plot(struct ctx *c, enum fr_sets_task t, int64_t N, int64_t D,
                       double x[MAXV][MAXW], double y[MAXV][MAXW], const char *tag) {
    int nw = c->P->nw;
    double nd[2] = {(double)(N * D), (double)(N * D)}, nn[2] = {(double)N, (double)N};
    double yl[2] = {1e-4, 1.5};
    struct fr_plot_series s[5] = {{"LP", nw, x[0], y[0]},
                                  {"LE", nw, x[1], y[1]},
                                  {"MLP phi", nw, x[2], y[2]},
                                  {"L = N", 2, nn, yl},
                                  {"L = N*D", 2, nd, yl}};
    char title[160], file[160], path[4400];
    snprintf(title, sizeof title, "%s: %s, N=%lld, D=%lld (mean of %d seeds)", tag,
             fr_sets_task_name(t), (long long)N, (long long)D, c->P->nseeds);
    snprintf(file, sizeof file, "learn_%s_%s.svg", tag, fr_sets_task_name(t));
    for (char *p = file; *p; p++)
        if (*p == ' ') *p = '_';
    snprintf(path, sizeof path, "%s/%s", c->dir, file);
    struct fr_plot p = {title, "latent width L", "relative test MSE", 1, 1, 0, 0, 1};
    if (fr_plot_write(path, &p, 5, s) == 0) fr_results_plot(c->r, file);
}

/* Per variant, seed and cell of one task: the saturation width and the
 * best error. */
struct task_acc {
    double ls[MAXV][MAXS][MAXC], best[MAXV][MAXS][MAXC];
    double lnN[MAXC], lnD[MAXC], nN[MAXC], nD[MAXC];
};

/* One variant of one task over the grid: its mean best error, share of
 * cells saturating below N and (with >= 6 cells) the growth fit of L_sat,
 * each per seed, with intervals; per-seed best errors into meanbest. */
static void task_summary(struct ctx *c, const struct task_acc *A, int v, int cells,
                         const char *label, double *meanbest, double *meanls) {
    const struct deepsets_plan *P = c->P;
    double below[MAXS], bN[MAXS], cD[MAXS], r2p[MAXS], r2e[MAXS];
    for (int s = 0; s < P->nseeds; s++) {
        int nb = 0, fin = 0;
        for (int k = 0; k < cells; k++)
            if (isfinite(A->ls[v][s][k])) fin++, nb += A->ls[v][s][k] < A->nN[k];
        meanbest[s] = mean_finite(A->best[v][s], cells);
        meanls[s] = mean_finite(A->ls[v][s], cells);
        below[s] = fin ? (double)nb / fin : NAN;
        bN[s] = cD[s] = r2p[s] = r2e[s] = NAN;
        if (cells >= 6 && fin == cells) { /* fewer points make a 3-parameter fit meaningless */
            double y[MAXC], b2, c2;
            for (int k = 0; k < cells; k++)
                y[k] = log(A->ls[v][s][k]);
            r2p[s] = fr_sets_fit_width(y, A->lnN, A->lnD, cells, &bN[s], &cD[s]);
            r2e[s] = fr_sets_fit_width(y, A->nN, A->nD, cells, &b2, &c2);
        }
    }
    struct fr_interval ib, ibl, ie, id, ir;
    char key[256];
    interval(meanbest, NULL, P->nseeds, &ib);
    interval(below, NULL, P->nseeds, &ibl);
    interval(bN, NULL, P->nseeds, &ie);
    interval(cD, NULL, P->nseeds, &id);
    interval(r2p, r2e, P->nseeds, &ir);
    snprintf(key, sizeof key, "%s: best relative test error, mean over cells", label);
    fr_results_metric_ci(c->r, key, &ib, "");
    snprintf(key, sizeof key, "%s: share of cells with L_sat < N", label);
    fr_results_metric_ci(c->r, key, &ibl, "");
    double row[13] = {ib.mean, ib.lo, ib.hi,   ibl.mean, ibl.lo, ibl.hi, ie.mean,
                      ie.lo,   ie.hi, id.mean, id.lo,    id.hi,  ir.mean};
    fr_results_table_row(c->r, "learning summary", label, row);
    if (ie.n == 0) return;
    snprintf(key, sizeof key, "%s: L_sat exponent in N", label);
    fr_results_metric_ci(c->r, key, &ie, "");
    snprintf(key, sizeof key, "%s: L_sat exponent in D", label);
    fr_results_metric_ci(c->r, key, &id, "");
    snprintf(key, sizeof key, "%s: fit R2 power law - R2 exponential", label);
    fr_results_metric_ci(c->r, key, &ir, "");
    char txt[200];
    enum fr_verdict vd = fr_verdict_of(&ir, 1);
    say(c,
        "%s: L_sat ~ N^a D^b with a = %.2f [%.2f, %.2f], b = %.2f [%.2f, %.2f] (%d seeds); "
        "R2 power law - exponential %.3f [%.3f, %.3f]: %s. ",
        label, ie.mean, ie.lo, ie.hi, id.mean, id.lo, id.hi, ie.n, ir.mean, ir.lo, ir.hi,
        fr_verdict_text(vd, "a power law", "an exponential", txt, sizeof txt));
}

static int learn_grid(struct ctx *c, const enum fr_sets_task *tasks, int ntask,
                      const struct deepsets_grid *g, const char *tag, int sweep) {
    const struct deepsets_plan *P = c->P;
    int nN = g->nn, nD = g->nd, nw = P->nw, S = P->nseeds, rc = 0;
    if (nN * nD > MAXC || nw > MAXW || S > MAXS || P->nscales > MAXSC || 3 + P->nscales - 1 > MAXV)
        return fr_error(FR_EINVAL, "deepsets: grid too large");
    struct task_acc *A = malloc(sizeof *A);
    double(*err)[MAXV][MAXW] = malloc(sizeof(double) * MAXS * MAXV * MAXW);
    if (!A || !err) {
        rc = fr_error(FR_ENOMEM, "out of memory");
        goto cleanup;
    }
    char tname[96], sname[96], vn[48];
    snprintf(tname, sizeof tname, "%s learning", tag);
    const char *cols[] = {"task (N, D)", "N*D",    "N(D+1)",    "LP L_sat", "LP err",
                          "LE L_sat",    "LE err", "MLP L_sat", "MLP err"};
    fr_results_table(c->r, tname, 9, cols);
    snprintf(sname, sizeof sname, "%s LE scale sweep", tag);
    if (sweep) {
        const char *sc[1 + 2 * MAXSC];
        char names[2 * MAXSC][48];
        sc[0] = "task (N, D)";
        for (int k = 0; k < P->nscales; k++) {
            snprintf(names[2 * k], 48, "LE scale %g L_sat", P->le_scales[k]);
            snprintf(names[2 * k + 1], 48, "LE scale %g err", P->le_scales[k]);
            sc[1 + 2 * k] = names[2 * k], sc[2 + 2 * k] = names[2 * k + 1];
        }
        fr_results_table(c->r, sname, 1 + 2 * P->nscales, sc);
    }
    for (int t = 0; t < ntask; t++) {
        const char *task = fr_sets_task_name(tasks[t]);
        int nv = 3 + (sweep && t == 0 ? P->nscales - 1 : 0), cells = nN * nD;
        for (int a = 0; a < nN; a++)
            for (int b = 0; b < nD; b++) {
                int64_t N = g->n[a], D = g->d[b];
                int k = a * nD + b;
                double x[MAXV][MAXW], ym[MAXV][MAXW];
                for (int s = 0; s < S; s++) {
                    if ((rc = learn_curve(c, tasks[t], N, D, s, nv, err[s], x))) goto cleanup;
                    for (int v = 0; v < nv; v++) {
                        A->ls[v][s][k] = fr_sets_saturation_width(x[v], err[s][v], nw);
                        A->best[v][s][k] = fr_sets_best_error(err[s][v], nw);
                    }
                }
                A->lnN[k] = log((double)N), A->lnD[k] = log((double)D);
                A->nN[k] = (double)N, A->nD[k] = (double)D;
                double row[8] = {(double)(N * D), (double)(N * (D + 1))}, srow[1 + 2 * MAXSC];
                for (int v = 0; v < nv; v++) {
                    double col[MAXS];
                    for (int i = 0; i < nw; i++) {
                        for (int s = 0; s < S; s++)
                            col[s] = err[s][v][i];
                        ym[v][i] = mean_finite(col, S);
                    }
                    char nm[160];
                    snprintf(nm, sizeof nm, "%s %s %s N=%lld D=%lld (mean of %d seeds)", tag, task,
                             variant_name(P, v, vn, sizeof vn), (long long)N, (long long)D, S);
                    fr_results_series(c->r, nm, "L", "relative test MSE", nw, x[v], ym[v]);
                    double ls[MAXS], be[MAXS];
                    for (int s = 0; s < S; s++)
                        ls[s] = A->ls[v][s][k], be[s] = A->best[v][s][k];
                    int col_v = v < 3 ? (v == 1 ? 0 : -1) : v - 2; /* sweep column of v */
                    if (v < 3)
                        row[2 + 2 * v] = mean_finite(ls, S), row[3 + 2 * v] = mean_finite(be, S);
                    if (col_v >= 0)
                        srow[2 * col_v] = mean_finite(ls, S),
                                 srow[2 * col_v + 1] = mean_finite(be, S);
                }
                char label[96];
                snprintf(label, sizeof label, "%s (%lld, %lld)", task, (long long)N, (long long)D);
                fr_results_table_row(c->r, tname, label, row);
                if (nv > 3) fr_results_table_row(c->r, sname, label, srow);
                fr_exp_log(c->o,
                           "deepsets: %s %s N=%lld D=%lld (%d seeds): mean L_sat LP %g LE %g MLP "
                           "%g; mean best err %.3g / %.3g / %.3g  [%.0fs]",
                           tag, task, (long long)N, (long long)D, S, row[2], row[4], row[6], row[3],
                           row[5], row[7], fr_seconds() - c->t0);
                if (a == nN - 1 && b == nD - 1) learn_plot(c, tasks[t], N, D, x, ym, tag);
            }
        double mb[MAXV][MAXS], ml[MAXV][MAXS];
        char label[160], what[160];
        for (int v = 0; v < nv; v++) {
            snprintf(label, sizeof label, "%s %s %s", tag, task, variant_name(P, v, vn, sizeof vn));
            task_summary(c, A, v, cells, label, mb[v], ml[v]);
        }
        snprintf(what, sizeof what, "%s %s, best error (mean over cells)", tag, task);
        compare(c, what, "LP", mb[0], "MLP", mb[2], S, 0, 0);
        compare(c, what, "LE", mb[1], "MLP", mb[2], S, 0, 0);
        for (int v = 3; v < nv; v++) {
            char an[48];
            snprintf(an, sizeof an, "LE scale %g", P->le_scales[v - 2]);
            snprintf(what, sizeof what, "%s %s, best error (mean over cells)", tag, task);
            compare(c, what, an, mb[v], "LE scale 1", mb[1], S, 0, 0);
            snprintf(what, sizeof what, "%s %s, L_sat (mean over cells)", tag, task);
            compare(c, what, an, ml[v], "LE scale 1", ml[1], S, 0, 1);
        }
    }
cleanup:
    free(A);
    free(err);
    return rc;
}

static void record_setup(struct ctx *c) {
    const struct fr_exp_opts *o = c->o;
    const struct deepsets_plan *P = c->P;
    fr_results_set_str(c->r, "paper",
                       "Wang, Yang, Luo, Li, Lin, Li, Lin, Xu: Polynomial Width is "
                       "Sufficient for Set Representation with High-dimensional "
                       "Features (ICLR 2024, arXiv 2307.04001)");
    fr_results_set_str(
        c->r, "claim",
        "Sum-pooled LP (linear + power) and LE (linear + exponential) embeddings are "
        "injective on sets of N elements in R^D with polynomial latent width: "
        "LP needs N(D+1) <= L <= N^5 D^2, LE L <= N^4 D^2; LP with K <= D "
        "directions has collisions, so L = N*D is not enough for LP.");
    fr_results_set_str(c->r, "command", o->command);
    fr_results_set_seed(c->r, o->seed);
    fr_results_config_int(c->r, "quick", o->size != FR_EXP_FULL);
    fr_results_config_double(c->r, "collision threshold (ratio)", COLLIDE);
    fr_results_config_double(c->r, "probe separation", c->po.sep);
    fr_results_config_int(c->r, "probe random pairs", c->po.random_pairs);
    fr_results_config_int(c->r, "probe optimiser restarts", c->po.restarts);
    fr_results_config_int(c->r, "probe optimiser steps", c->po.steps);
    fr_results_config_int(c->r, "learning seeds", P->nseeds);
    fr_results_config_int(c->r, "first learning seed (seed * 100)", (int64_t)(o->seed * 100));
    fr_results_config_int(c->r, "train steps", P->steps);
    fr_results_config_int(c->r, "train sets", P->ntrain);
    fr_results_config_int(c->r, "test sets", P->ntest);
    char buf[256];
    size_t n = 0;
    for (int i = 0; i < P->nw; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%lld", i ? ", " : "",
                              (long long)P->widths[i]);
    fr_results_config_str(c->r, "latent widths L (every N)", buf);
    n = 0;
    for (int i = 0; i < P->nscales; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%g", i ? ", " : "", P->le_scales[i]);
    fr_results_config_str(c->r, "LE exponent scales", buf);
}

static int run(const struct fr_experiment *e, const void *plan, const struct fr_exp_opts *o,
               struct fr_exp_outcome *out) {
    struct ctx *c = calloc(1, sizeof *c);
    if (!c) return fr_error(FR_ENOMEM, "out of memory");
    c->o = o;
    c->P = plan;
    c->t0 = fr_seconds();
    fr_rng_seed(&c->rng, o->seed);
    for (int s = 0; s < c->P->nseeds && s < MAXS; s++)
        fr_rng_seed(&c->seeds[s], o->seed * 100 + (uint64_t)s);
    for (int i = 0; i < MAXND; i++)
        for (int j = 0; j < MAXND; j++)
            c->inv_lp[i][j] = NAN;
    fr_sets_probe_defaults(&c->po);
    c->po.restarts = c->P->probe_restarts, c->po.steps = c->P->probe_steps;
    if (c->P->probe_random_pairs) c->po.random_pairs = c->P->probe_random_pairs;
    if (c->P->probe_near_pairs) c->po.near_pairs = c->P->probe_near_pairs;
    int rc = fr_exp_dir(o, e->name, c->dir, sizeof c->dir);
    if (rc) {
        free(c);
        return rc;
    }
    c->r = fr_results_new("deepsets", c->P->title);
    if (!c->r) {
        free(c);
        return fr_error(FR_ENOMEM, "out of memory");
    }
    record_setup(c);
    say(c, "By construction: LP L* >= the certified bound N((D-1)(floor(log2 N)+1)+1) (the "
           "probe includes the switching pair, an exact collision below it), so only LP L* above "
           "it is a measurement; invariant LE L* >= N*D (below it the Jacobian has a null "
           "direction, the near-duplicate ratio is 0); learning widths L < N give LP the "
           "truncated power sums of degree L, which cannot separate all sets of N elements. "
           "Findings: ");
    /* 1. probe: the invariant one first (the equivariant compares with it) */
    if ((rc = probe_grid(c, &c->P->probe, PROBE_REAL)) ||
        (rc = probe_grid(c, &c->P->eq_probe, PROBE_EQUI)))
        goto done;
    double t_probe = fr_seconds() - c->t0;
    /* 2-4. learning, every variant over the seeds */
    const char *scols[] = {
        "task phi", "best err (mean over cells)", "lo", "hi", "share of cells L_sat < N", "lo",
        "hi",       "L_sat exponent in N",        "lo", "hi", "L_sat exponent in D",      "lo",
        "hi",       "R2 power law - exponential"};
    fr_results_table(c->r, "learning summary", 14, scols);
    const char *ccols[] = {"comparison (A - B)",
                           "mean",
                           "lo",
                           "hi",
                           "seeds",
                           "verdict (1: A, -1: B, 0: no difference)"};
    fr_results_table(c->r, "comparisons", 6, ccols);
    if ((rc = learn_grid(c, c->P->tasks, c->P->ntasks, &c->P->invariant, "invariant", 1)))
        goto done;
    const enum fr_sets_task rank[] = {FR_SETS_TASK_RANK};
    if ((rc = learn_grid(c, rank, 1, &c->P->equivariant, "equivariant", 0))) goto done;
    /* 4. complex: the probe on the split and the complex pair-product task */
    if ((rc = probe_grid(c, &c->P->complex_probe, PROBE_COMPLEX))) goto done;
    const enum fr_sets_task cp[] = {FR_SETS_TASK_CPAIR};
    if ((rc = learn_grid(c, cp, 1, &c->P->complex_learn, "complex", 0))) goto done;
    fr_results_metric(c->r, "probe time", t_probe, "s");
    fr_results_metric(c->r, "total time", fr_seconds() - c->t0, "s");
    say(c,
        "Setup: probe sets in [-1,1]^D with elements >= 0.1 apart (without this every "
        "embedding's ratio tends to 0 near coinciding elements); a ratio < 1e-6 is a "
        "collision; L* is the smallest probed L from which no collision was found (one probe "
        "seed: the probe is a search, not a sample). Learning: relative test MSE (1 = "
        "predicting the mean); L_sat = smallest L within 10%% (+0.01) of the best error over "
        "the width grid; intervals are 95%% Student t over the %d learning seeds (paired by "
        "seed for differences); a verdict needs the interval of the difference to exclude 0. "
        "See docs/deepsets.md.",
        c->P->nseeds);
    fr_results_set_str(c->r, "notes", c->notes);
    snprintf(out->results, sizeof out->results, "%s/results.json", c->dir);
    if ((rc = fr_results_write(c->r, out->results))) goto done;
    snprintf(out->summary, sizeof out->summary, "deepsets: wrote %.2000s in %.0f s\n", out->results,
             fr_seconds() - c->t0);
done:
    fr_results_free(c->r);
    free(c);
    return rc;
}

const struct fr_experiment fr_exp_deepsets = {
    "deepsets",
    "2307.04001",
    "DeepSets LP/LE embeddings: injectivity probe and width study",
    {&TINY, &QUICK, &FULL},
    run};

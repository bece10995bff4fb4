/* deepsets.c: `frugal repro deepsets`: how wide must the latent space of a
 * DeepSets model be (Wang et al., "Polynomial width is sufficient for set
 * representation", ICLR 2024)?
 *
 *  1. injectivity probe: for each (N, D) and growing L, the smallest
 *     ||Phi(X) - Phi(X')|| / d(X, X') found (random pairs, near-duplicates,
 *     Adam on the ratio, and for LP the certified switching construction)
 *     for LP with random directions, LP with the paper's constructive
 *     weights, and LE; the measured threshold beside N*D, N(D+1) and the
 *     paper's upper bounds;
 *  2. learning set functions with LP / LE / MLP phi of growing L: test error
 *     vs L, the width where it saturates, and a fit of that width in N, D;
 *  3. the equivariant version (per-element rank);
 *  4. complex sets through the real/imaginary split.
 * The plans differ only in their grids, probe effort and training length
 * (the full run's grids and time are in docs/deepsets.md); the bounds, L*,
 * L_sat and the fits are methods/sets (sets.h). Writes
 * OUT/deepsets/results.json and SVG plots.
 */
#include "frugal/experiments/experiment.h"

#include "frugal/clock.h"
#include "frugal/methods/sets.h"
#include "frugal/report.h"
#include "frugal/status.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COLLIDE 1e-6 /* a ratio below this counts as a collision */
#define MAXPTS 64

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
    int64_t constructive_max_l;      /* the paper's weights are probed up to this L */
    struct deepsets_grid probe, complex_probe;
    const enum fr_sets_task *tasks; /* the invariant set functions learnt */
    int ntasks;
    struct deepsets_grid invariant, equivariant, complex_learn;
    const int64_t *ks; /* LP directions of the learning curves; L = K * N for every phi */
    int nk;
    int64_t steps, ntrain, ntest; /* per trained model */
};

#define NELEM(a) ((int)(sizeof a / sizeof a[0]))
#define GRID(ns, ds)                                                                               \
    { ns, ds, NELEM(ns), NELEM(ds) }

static const enum fr_sets_task TASKS[] = {FR_SETS_TASK_PAIRPROD, FR_SETS_TASK_SORTED0,
                                          FR_SETS_TASK_LEXMEDIAN};
static const int64_t CL_D_Q[] = {2}, CL_D_F[] = {2, 4}; /* complex pair-product: D = 2 Dc */

static const int64_t PN_F[] = {2, 3, 4, 5, 6, 7, 8}, PD_F[] = {1, 2, 3, 4, 5, 6};
static const int64_t KS_F[] = {1, 2, 3, 4, 6, 8, 12};
static const int64_t LN_F[] = {2, 4, 6, 8}, LD_F[] = {1, 2, 4, 6};
static const int64_t EN_F[] = {2, 4, 8}, ED_F[] = {1, 2, 4};
static const int64_t CN_F[] = {2, 3, 4, 6}, CD[] = {1, 2};
static const struct deepsets_plan FULL = {
    .title = "DeepSets: the latent width a set needs",
    .probe_restarts = 48,
    .probe_steps = 2000,
    .constructive_max_l = 8000,
    .probe = GRID(PN_F, PD_F),
    .complex_probe = GRID(CN_F, CD),
    .tasks = TASKS,
    .ntasks = NELEM(TASKS),
    .invariant = GRID(LN_F, LD_F),
    .equivariant = GRID(EN_F, ED_F),
    .complex_learn = GRID(LN_F, CL_D_F),
    .ks = KS_F,
    .nk = NELEM(KS_F),
    .steps = 1500,
    .ntrain = 4096,
    .ntest = 1024,
};

static const int64_t PN_Q[] = {2, 3, 4, 5}, PD_Q[] = {1, 2, 3, 4};
static const int64_t KS_Q[] = {1, 2, 4, 8};
static const int64_t LN_Q[] = {2, 4}, LD_Q[] = {1, 3};
static const int64_t CN_Q[] = {2, 3}, CD_Q[] = {1};
static const struct deepsets_plan QUICK = {
    .title = "DeepSets: the latent width a set needs (quick)",
    .probe_restarts = 16,
    .probe_steps = 1000,
    .constructive_max_l = 2000,
    .probe = GRID(PN_Q, PD_Q),
    .complex_probe = GRID(CN_Q, CD_Q),
    .tasks = TASKS,
    .ntasks = NELEM(TASKS),
    .invariant = GRID(LN_Q, LD_Q),
    .equivariant = GRID(LN_Q, LD_Q),
    .complex_learn = GRID(LN_Q, CL_D_Q),
    .ks = KS_Q,
    .nk = NELEM(KS_Q),
    .steps = 300,
    .ntrain = 2048,
    .ntest = 1024,
};

/* Seconds, numbers meaningless: every code path once (plots on the D = 2
 * cells, the constructive weights, a 6-cell invariant grid for the fits). */
static const int64_t PN_T[] = {2, 3}, PD_T[] = {1, 2};
static const int64_t KS_T[] = {1, 2};
static const int64_t LN_T[] = {2, 3}, LD_T[] = {1, 2, 3}, EN_T[] = {2}, ED_T[] = {1, 2};
static const int64_t CN_T[] = {2};
static const struct deepsets_plan TINY = {
    .title = "DeepSets: the latent width a set needs (tiny)",
    .probe_restarts = 2,
    .probe_steps = 50,
    .probe_random_pairs = 200,
    .probe_near_pairs = 20,
    .constructive_max_l = 2000,
    .probe = GRID(PN_T, PD_T),
    .complex_probe = GRID(CN_T, CD_Q),
    .tasks = TASKS,
    .ntasks = NELEM(TASKS),
    .invariant = GRID(LN_T, LD_T),
    .equivariant = GRID(EN_T, ED_T),
    .complex_learn = GRID(CN_T, CL_D_Q),
    .ks = KS_T,
    .nk = NELEM(KS_T),
    .steps = 20,
    .ntrain = 256,
    .ntest = 128,
};

struct ctx {
    const struct fr_exp_opts *o;
    const struct deepsets_plan *P;
    struct fr_results *r;
    struct fr_rng rng;
    struct fr_sets_probe_opts po;
    char dir[4096];
    double t0;
};

static double floor_ratio(double r) {
    return r < 1e-17 ? 1e-17 : r;
}

/* L* for a progress line: -1 when there is none. */
static long long shown(double width) {
    return isnan(width) ? -1 : (long long)width;
}

/* ---- 1. injectivity probe ---- */

struct curve {
    int n;
    double x[MAXPTS], y[MAXPTS];
};

/* One (N, D) cell: LP with nested random directions, LE at L around N*D,
 * the constructive LP weights when small enough; its table row, series,
 * plot and progress line. */
static int probe_cell(struct ctx *c, int64_t N, int64_t D, int64_t Dshown, int plot,
                      int complex_inputs, double *lp_star_out, double *le_star_out) {
    const char *tname = complex_inputs ? "complex probe" : "probe thresholds";
    int64_t kc = fr_sets_lp_certified_k(N, D), kmax = kc + 3 > D + 3 ? kc + 3 : D + 3;
    int64_t Kc = fr_sets_lp_constructive_size(N, D, NULL, NULL);
    double *w = malloc((size_t)(kmax * D) * sizeof *w), *v = NULL, *wc = NULL;
    struct curve lp = {0}, le = {0}, lpo = {0};
    struct fr_sets_probe_result pr;
    int rc = 0;
    if (!w) return fr_error(FR_ENOMEM, "out of memory");
    fr_sets_lp_random(kmax, D, &c->rng, w);
    for (int64_t K = 1; K <= kmax && lp.n < MAXPTS; K++) {
        struct fr_sets_emb64 e = {FR_SETS_LP, D, K, N, w};
        if ((rc = fr_sets_probe(&e, N, &c->po, &c->rng, &pr, NULL, NULL))) goto cleanup;
        lp.x[lp.n] = (double)(K * N), lp.y[lp.n++] = floor_ratio(pr.ratio_min);
        lpo.x[lpo.n] = (double)(K * N), lpo.y[lpo.n++] = floor_ratio(pr.ratio_opt);
    }
    static const double FRAC[] = {0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0};
    int64_t lprev = 0;
    for (int i = 0; i < NELEM(FRAC); i++) {
        int64_t L = (int64_t)ceil(FRAC[i] * (double)(N * D));
        if (L <= lprev) continue;
        lprev = L;
        free(v);
        if (!(v = malloc((size_t)(L * D) * sizeof *v))) {
            rc = fr_error(FR_ENOMEM, "out of memory");
            goto cleanup;
        }
        for (int64_t j = 0; j < L * D; j++)
            v[j] = fr_rng_normal(&c->rng) / sqrt((double)D);
        struct fr_sets_emb64 e = {FR_SETS_LE, D, L, 1, v};
        if ((rc = fr_sets_probe(&e, N, &c->po, &c->rng, &pr, NULL, NULL))) goto cleanup;
        le.x[le.n] = (double)L, le.y[le.n++] = floor_ratio(pr.ratio_min);
    }
    double cons_ratio = NAN;
    if (Kc * N <= c->P->constructive_max_l) {
        if (!(wc = malloc((size_t)(Kc * D) * sizeof *wc))) {
            rc = fr_error(FR_ENOMEM, "constructive weights: out of memory");
            goto cleanup;
        }
        if ((rc = fr_sets_lp_constructive(N, D, 1, wc, Kc))) {
            char why[256];
            snprintf(why, sizeof why, "%s", fr_last_error());
            rc = fr_error(rc, "constructive weights: %s", why);
            goto cleanup;
        }
        struct fr_sets_emb64 e = {FR_SETS_LP, D, Kc, N, wc};
        if ((rc = fr_sets_probe(&e, N, &c->po, &c->rng, &pr, NULL, NULL))) goto cleanup;
        cons_ratio = pr.ratio_min;
    }
    double lp_star = fr_sets_probe_threshold(lp.x, lp.y, lp.n, COLLIDE);
    double le_star = fr_sets_probe_threshold(le.x, le.y, le.n, COLLIDE);
    char label[64];
    if (complex_inputs)
        snprintf(label, sizeof label, "Dc=%lld N=%lld", (long long)Dshown, (long long)N);
    else
        snprintf(label, sizeof label, "(%lld, %lld)", (long long)N, (long long)D);
    double row[9] = {(double)(N * D),
                     (double)(N * (D + 1)),
                     (double)(kc * N),
                     lp_star,
                     le_star,
                     (double)(Kc * N),
                     cons_ratio,
                     pow((double)N, 5) * (double)(D * D),
                     pow((double)N, 4) * (double)(D * D)};
    fr_results_table_row(c->r, tname, label, row);
    fr_exp_log(c->o,
               "deepsets: %s N=%lld D=%lld: LP L*=%lld (N(D+1)=%lld, certified >= %lld), "
               "LE L*=%lld, constructive L=%lld ratio %.3g  [%.0fs]",
               complex_inputs ? "complex probe" : "probe", (long long)N, (long long)D,
               shown(lp_star), (long long)(N * (D + 1)), (long long)(kc * N), shown(le_star),
               (long long)(Kc * N), cons_ratio, fr_seconds() - c->t0);
    const char *pre = complex_inputs ? "complex " : "";
    char nm[128];
    snprintf(nm, sizeof nm, "%sLP random N=%lld D=%lld", pre, (long long)N, (long long)D);
    fr_results_series(c->r, nm, "L", "min ratio", lp.n, lp.x, lp.y);
    snprintf(nm, sizeof nm, "%sLP random, optimiser only N=%lld D=%lld", pre, (long long)N,
             (long long)D);
    fr_results_series(c->r, nm, "L", "min ratio", lpo.n, lpo.x, lpo.y);
    snprintf(nm, sizeof nm, "%sLE N=%lld D=%lld", pre, (long long)N, (long long)D);
    fr_results_series(c->r, nm, "L", "min ratio", le.n, le.x, le.y);
    if (plot) {
        double nd[2] = {(double)(N * D), (double)(N * D)};
        double nd1[2] = {(double)(N * (D + 1)), (double)(N * (D + 1))};
        double yl[2] = {1e-17, 10}, cx[1] = {(double)(Kc * N)}, cy[1] = {floor_ratio(cons_ratio)};
        struct fr_plot_series s[6] = {
            {"LP, random directions", lp.n, lp.x, lp.y},
            {"LP, optimiser alone", lpo.n, lpo.x, lpo.y},
            {"LE, random", le.n, le.x, le.y},
            {"LP, constructive (paper)", isnan(cons_ratio) ? 0 : 1, cx, cy},
            {"L = N*D", 2, nd, yl},
            {"L = N(D+1)", 2, nd1, yl}};
        char title[160], file[160], path[4400];
        snprintf(title, sizeof title, "%sInjectivity probe, N=%lld, D=%lld%s",
                 complex_inputs ? "Complex: " : "", (long long)N, (long long)D,
                 complex_inputs ? " (split)" : "");
        snprintf(file, sizeof file, "%sprobe_N%lld_D%lld.svg", complex_inputs ? "complex_" : "",
                 (long long)N, (long long)D);
        snprintf(path, sizeof path, "%s/%s", c->dir, file);
        struct fr_plot p = {
            title, "latent width L", "smallest ||dPhi|| / d(X,X') found", 1, 1, 0, 0, 1};
        if (fr_plot_write(path, &p, 6, s) == 0) fr_results_plot(c->r, file);
    }
    *lp_star_out = lp_star, *le_star_out = le_star;
cleanup:
    free(w), free(v), free(wc);
    return rc;
}

static int probe_grid(struct ctx *c, const struct deepsets_grid *g, int complex_inputs) {
    const char *cols[] = {complex_inputs ? "Dc (complex) / N" : "(N, D)",
                          "N*D",
                          "N(D+1)",
                          "certified LP lower bound (ours)",
                          "LP measured L*",
                          "LE measured L*",
                          "constructive LP L",
                          "constructive min ratio",
                          "paper LP upper N^5 D^2",
                          "paper LE upper N^4 D^2"};
    fr_results_table(c->r, complex_inputs ? "complex probe" : "probe thresholds", 10, cols);
    int rc, n_cells = 0, n_lp_above = 0, n_lp_cert = 0, n_le_nd = 0;
    double worst_lp = 0;
    for (int a = 0; a < g->nn; a++)
        for (int b = 0; b < g->nd; b++) {
            int64_t N = g->n[a], D = complex_inputs ? 2 * g->d[b] : g->d[b];
            int plot = complex_inputs || D == 2 || D == 3 || (a == g->nn - 1 && b == g->nd - 1);
            double lp_star, le_star;
            if ((rc = probe_cell(c, N, D, g->d[b], plot, complex_inputs, &lp_star, &le_star)))
                return rc;
            n_cells++;
            if (lp_star > N * (D + 1)) n_lp_above++;
            if (lp_star == fr_sets_lp_certified_k(N, D) * N) n_lp_cert++;
            if (le_star == N * D) n_le_nd++;
            if (lp_star > 0) worst_lp = fmax(worst_lp, lp_star / (double)(N * (D + 1)));
        }
    char key[128];
    const char *pre = complex_inputs ? "complex probe" : "probe";
    snprintf(key, sizeof key, "%s: (N, D) cells", pre);
    fr_results_metric(c->r, key, n_cells, "");
    snprintf(key, sizeof key, "%s: cells where LP L* > N(D+1)", pre);
    fr_results_metric(c->r, key, n_lp_above, "");
    snprintf(key, sizeof key, "%s: cells where LP L* = certified bound", pre);
    fr_results_metric(c->r, key, n_lp_cert, "");
    snprintf(key, sizeof key, "%s: largest LP L* / N(D+1)", pre);
    fr_results_metric(c->r, key, worst_lp, "");
    snprintf(key, sizeof key, "%s: cells where LE L* = N*D", pre);
    fr_results_metric(c->r, key, n_le_nd, "");
    return 0;
}

/* ---- 2-4. learning ---- */

/* err[phi][i]: relative test error at L = ks[i] * N for task t at (N, D).
 * Returns 0 or an error. */
static int learn_curve(struct ctx *c, enum fr_sets_task t, int64_t N, int64_t D,
                       double err[3][16]) {
    const struct deepsets_plan *P = c->P;
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
    if ((rc = fr_sets_task_generate(t, N, D, P->ntrain, &c->rng, xtr, ytr)) ||
        (rc = fr_sets_task_generate(t, N, D, P->ntest, &c->rng, xte, yte)))
        goto cleanup;
    struct fr_sets_train_opts to;
    fr_sets_train_defaults(&to);
    to.steps = P->steps;
    for (int phi = 0; phi < 3; phi++)
        for (int i = 0; i < P->nk; i++) {
            struct fr_sets_config cfg;
            fr_sets_config_defaults(&cfg, (enum fr_sets_phi)phi, D, N, out);
            cfg.equivariant = t == FR_SETS_TASK_RANK;
            cfg.width = phi == FR_SETS_LP ? P->ks[i] : P->ks[i] * N;
            struct fr_sets_model m;
            if ((rc = fr_sets_model_init(&m, &cfg, &c->rng))) goto cleanup;
            double te = NAN, tr = NAN;
            if (fr_sets_train_eval(&m, xtr, ytr, P->ntrain, xte, yte, P->ntest, &to, &c->rng, &te,
                                   &tr))
                te = NAN; /* diverged (LE overflow): recorded as missing */
            err[phi][i] = te;
            fr_sets_model_free(&m);
        }
cleanup:
    free(xtr), free(ytr), free(xte), free(yte);
    return rc;
}

static const char *const PHI_NAMES[3] = {"LP", "LE", "MLP"};

/* The error-vs-L plot of one task at one (N, D). */
static void learn_plot(struct ctx *c, enum fr_sets_task t, int64_t N, int64_t D, double err[3][16],
                       const char *tag) {
    int nk = c->P->nk;
    double x[16], y[3][16];
    for (int i = 0; i < nk; i++) {
        x[i] = (double)(c->P->ks[i] * N);
        for (int phi = 0; phi < 3; phi++)
            y[phi][i] = err[phi][i];
    }
    double nd[2] = {(double)(N * D), (double)(N * D)}, yl[2] = {1e-4, 1.5};
    struct fr_plot_series s[4] = {
        {"LP", nk, x, y[0]}, {"LE", nk, x, y[1]}, {"MLP phi", nk, x, y[2]}, {"L = N*D", 2, nd, yl}};
    char title[160], file[160], path[4400];
    snprintf(title, sizeof title, "%s: %s, N=%lld, D=%lld", tag, fr_sets_task_name(t), (long long)N,
             (long long)D);
    snprintf(file, sizeof file, "learn_%s_%s.svg", tag, fr_sets_task_name(t));
    for (char *p = file; *p; p++)
        if (*p == ' ') *p = '_';
    snprintf(path, sizeof path, "%s/%s", c->dir, file);
    struct fr_plot p = {title, "latent width L", "relative test MSE", 1, 1, 0, 0, 1};
    if (fr_plot_write(path, &p, 4, s) == 0) fr_results_plot(c->r, file);
}

/* Growth of L_sat over the grid: log L_sat = a + b log N + c log D
 * (polynomial) and L_sat = a + b N + c D (exponential) for each phi whose
 * saturation width is known at every cell. */
static void learn_fits(struct ctx *c, enum fr_sets_task t, double ls[3][64], const int nfit[3],
                       int cells, const double *lnN, const double *lnD, const double *nNv,
                       const double *nDv, const char *tag) {
    if (cells < 6) return; /* fewer points than that make a 3-parameter fit meaningless */
    for (int phi = 0; phi < 3; phi++) {
        if (nfit[phi] != cells) continue;
        double bN, cD, bN2, cD2;
        double r2p = fr_sets_fit_width(ls[phi], lnN, lnD, nfit[phi], &bN, &cD);
        double r2e = fr_sets_fit_width(ls[phi], nNv, nDv, nfit[phi], &bN2, &cD2);
        const char *tn = fr_sets_task_name(t), *pn = PHI_NAMES[phi];
        char key[160];
        snprintf(key, sizeof key, "%s %s %s L_sat exponent in N", tag, tn, pn);
        fr_results_metric(c->r, key, bN, "");
        snprintf(key, sizeof key, "%s %s %s L_sat exponent in D", tag, tn, pn);
        fr_results_metric(c->r, key, cD, "");
        snprintf(key, sizeof key, "%s %s %s fit R2 polynomial", tag, tn, pn);
        fr_results_metric(c->r, key, r2p, "");
        snprintf(key, sizeof key, "%s %s %s fit R2 exponential", tag, tn, pn);
        fr_results_metric(c->r, key, r2e, "");
    }
}

static int learn_grid(struct ctx *c, const enum fr_sets_task *tasks, int ntask,
                      const struct deepsets_grid *g, const char *tag) {
    int nN = g->nn, nD = g->nd, nk = c->P->nk, rc;
    if (nN * nD > 64 || nk > 16) return fr_error(FR_EINVAL, "deepsets: grid too large");
    char tname[96];
    snprintf(tname, sizeof tname, "%s: saturation width L_sat (relative test error at L_sat)", tag);
    const char *cols[] = {"task (N, D)", "N*D",    "N(D+1)",    "LP L_sat", "LP err",
                          "LE L_sat",    "LE err", "MLP L_sat", "MLP err"};
    fr_results_table(c->r, tname, 9, cols);
    for (int t = 0; t < ntask; t++) {
        const char *task = fr_sets_task_name(tasks[t]);
        double ls[3][64], lnN[64], lnD[64], nNv[64], nDv[64];
        int nfit[3] = {0, 0, 0};
        for (int a = 0; a < nN; a++)
            for (int b = 0; b < nD; b++) {
                int64_t N = g->n[a], D = g->d[b];
                int idx = a * nD + b;
                double err[3][16];
                if ((rc = learn_curve(c, tasks[t], N, D, err))) return rc;
                double row[8] = {(double)(N * D), (double)(N * (D + 1))}, x[16];
                for (int i = 0; i < nk; i++)
                    x[i] = (double)(c->P->ks[i] * N);
                for (int phi = 0; phi < 3; phi++) {
                    char nm[128];
                    snprintf(nm, sizeof nm, "%s %s %s N=%lld D=%lld", tag, task, PHI_NAMES[phi],
                             (long long)N, (long long)D);
                    fr_results_series(c->r, nm, "L", "relative test MSE", nk, x, err[phi]);
                    double s = fr_sets_saturation_width(x, err[phi], nk);
                    row[2 + 2 * phi] = s;
                    row[3 + 2 * phi] = fr_sets_best_error(err[phi], nk);
                    ls[phi][idx] = log(s);
                    if (isfinite(s)) nfit[phi]++;
                }
                lnN[idx] = log((double)N), lnD[idx] = log((double)D);
                nNv[idx] = (double)N, nDv[idx] = (double)D;
                char label[96];
                snprintf(label, sizeof label, "%s (%lld, %lld)", task, (long long)N, (long long)D);
                fr_results_table_row(c->r, tname, label, row);
                fr_exp_log(c->o,
                           "deepsets: %s %s N=%lld D=%lld: L_sat LP %g LE %g MLP %g; best err "
                           "%.3g / %.3g / %.3g  [%.0fs]",
                           tag, task, (long long)N, (long long)D, row[2], row[4], row[6], row[3],
                           row[5], row[7], fr_seconds() - c->t0);
                if (a == nN - 1 && b == nD - 1) learn_plot(c, tasks[t], N, D, err, tag);
            }
        learn_fits(c, tasks[t], ls, nfit, nN * nD, lnN, lnD, nNv, nDv, tag);
    }
    return 0;
}

static void record_setup(struct ctx *c) {
    const struct fr_exp_opts *o = c->o;
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
}

static int run(const struct fr_experiment *e, const void *plan, const struct fr_exp_opts *o,
               struct fr_exp_outcome *out) {
    struct ctx c = {0};
    c.o = o;
    c.P = plan;
    c.t0 = fr_seconds();
    fr_rng_seed(&c.rng, o->seed);
    fr_sets_probe_defaults(&c.po);
    c.po.restarts = c.P->probe_restarts, c.po.steps = c.P->probe_steps;
    if (c.P->probe_random_pairs) c.po.random_pairs = c.P->probe_random_pairs;
    if (c.P->probe_near_pairs) c.po.near_pairs = c.P->probe_near_pairs;
    int rc = fr_exp_dir(o, e->name, c.dir, sizeof c.dir);
    if (rc) return rc;
    c.r = fr_results_new("deepsets", c.P->title);
    if (!c.r) return fr_error(FR_ENOMEM, "out of memory");
    record_setup(&c);
    /* 1. probe */
    if ((rc = probe_grid(&c, &c.P->probe, 0))) goto done;
    double t_probe = fr_seconds() - c.t0;
    /* 2. learning */
    fr_results_config_int(c.r, "train steps", c.P->steps);
    if ((rc = learn_grid(&c, c.P->tasks, c.P->ntasks, &c.P->invariant, "invariant"))) goto done;
    /* 3. equivariant */
    const enum fr_sets_task rank[] = {FR_SETS_TASK_RANK};
    if ((rc = learn_grid(&c, rank, 1, &c.P->equivariant, "equivariant"))) goto done;
    /* 4. complex: the probe on the split and the complex pair-product task */
    if ((rc = probe_grid(&c, &c.P->complex_probe, 1))) goto done;
    const enum fr_sets_task cp[] = {FR_SETS_TASK_CPAIR};
    if ((rc = learn_grid(&c, cp, 1, &c.P->complex_learn, "complex"))) goto done;
    fr_results_metric(c.r, "probe time", t_probe, "s");
    fr_results_metric(c.r, "total time", fr_seconds() - c.t0, "s");
    fr_results_set_str(
        c.r, "notes",
        "Probe: sets in [-1,1]^D with elements >= 0.1 apart (without this every "
        "embedding's ratio tends to 0 near coinciding elements: sum pooling is "
        "injective but not bi-Lipschitz there). A ratio < 1e-6 is a collision; L* is "
        "the smallest probed L from which no collision was found. 'Certified LP "
        "lower bound' = N((D-1)(floor(log2 N)+1)+1): below it the switching "
        "construction gives exact collisions. Learning: relative test MSE (1 = "
        "predicting the mean); L_sat = smallest L within 10% (+0.01) of the best "
        "error over the L grid. See docs/deepsets.md.");
    snprintf(out->results, sizeof out->results, "%s/results.json", c.dir);
    if ((rc = fr_results_write(c.r, out->results))) goto done;
    snprintf(out->summary, sizeof out->summary, "deepsets: wrote %.2000s in %.0f s\n", out->results,
             fr_seconds() - c.t0);
done:
    fr_results_free(c.r);
    return rc;
}

const struct fr_experiment fr_exp_deepsets = {
    "deepsets",
    "2307.04001",
    "DeepSets LP/LE embeddings: injectivity probe and width study",
    {&TINY, &QUICK, &FULL},
    run};

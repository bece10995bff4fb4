/* repro_deepsets.c: `frugal repro deepsets`: how wide must the latent space
 * of a DeepSets model be (Wang et al., "Polynomial width is sufficient for
 * set representation", ICLR 2024)?
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
 * --quick shrinks the grids and the training; the full run's grids and time
 * are in docs/deepsets.md. Writes OUT/deepsets/results.json and SVG plots.
 */
#include "cmd.h"
#include "repro.h"

#include "frugal/clock.h"
#include "frugal/report.h"
#include "frugal/methods/sets.h"
#include "frugal/status.h"
#include "frugal/threads.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COLLIDE 1e-6 /* a ratio below this counts as a collision */
#define MAXPTS 64

static int ilog2(int64_t n) {
    int r = 0;
    while ((int64_t)1 << (r + 1) <= n) r++;
    return r;
}

/* K from which the switching construction no longer applies: LP needs at
 * least this many directions (D >= 2). */
static int64_t k_cert(int64_t n, int64_t d) { return d == 1 ? 1 : (d - 1) * (ilog2(n) + 1) + 1; }

struct ctx {
    const struct repro_opts *o;
    struct fr_results *r;
    struct fr_rng rng;
    struct fr_sets_probe_opts po;
    char dir[4096];
    double t0;
};

static void fill_unit_dirs(struct fr_rng *rng, double *w, int64_t k, int64_t d) {
    for (int64_t i = 0; i < k; i++) {
        double s = 0;
        for (int64_t c = 0; c < d; c++) w[i * d + c] = fr_rng_normal(rng), s += w[i * d + c] * w[i * d + c];
        for (int64_t c = 0; c < d; c++) w[i * d + c] /= sqrt(s);
    }
}

static double floor_ratio(double r) { return r < 1e-17 ? 1e-17 : r; }

/* ---- 1. injectivity probe ---- */

struct curve {
    int64_t n;
    double x[MAXPTS], y[MAXPTS];
};

static int probe_grid(struct ctx *c, const int64_t *Ns, int nN, const int64_t *Ds, int nD,
                      int complex_inputs) {
    const char *tname = complex_inputs ? "complex probe" : "probe thresholds";
    const char *cols[] = {complex_inputs ? "Dc (complex) / N" : "(N, D)", "N*D", "N(D+1)",
                          "certified LP lower bound (ours)", "LP measured L*", "LE measured L*",
                          "constructive LP L", "constructive min ratio", "paper LP upper N^5 D^2",
                          "paper LE upper N^4 D^2"};
    fr_results_table(c->r, tname, 10, cols);
    double *w = NULL, *wc = NULL;
    int rc = 0, n_cells = 0, n_lp_above = 0, n_lp_cert = 0, n_le_nd = 0;
    double worst_lp = 0;
    for (int a = 0; a < nN; a++)
        for (int b = 0; b < nD; b++) {
            int64_t N = Ns[a], D = complex_inputs ? 2 * Ds[b] : Ds[b];
            int64_t kc = k_cert(N, D), kmax = kc + 3 > D + 3 ? kc + 3 : D + 3;
            free(w);
            w = malloc((size_t)(kmax * D) * sizeof *w);
            if (!w) return cli_fail("repro", "out of memory");
            fill_unit_dirs(&c->rng, w, kmax, D);
            struct curve lp = {0}, le = {0}, lpo = {0};
            int64_t lp_star = -1, le_star = -1;
            /* LP with K = 1..kmax nested random directions */
            for (int64_t K = 1; K <= kmax && lp.n < MAXPTS; K++) {
                struct fr_sets_emb64 e = {FR_SETS_LP, D, K, N, w};
                struct fr_sets_probe_result pr;
                if (fr_sets_probe(&e, N, &c->po, &c->rng, &pr, NULL, NULL))
                    return cli_fail("repro", "%s", fr_last_error());
                lp.x[lp.n] = (double)(K * N), lp.y[lp.n++] = floor_ratio(pr.ratio_min);
                lpo.x[lpo.n] = (double)(K * N), lpo.y[lpo.n++] = floor_ratio(pr.ratio_opt);
                if (pr.ratio_min < COLLIDE) lp_star = -1;
                else if (lp_star < 0) lp_star = K * N;
            }
            /* LE at L around N*D */
            double fr[] = {0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0};
            int64_t lprev = 0;
            for (int i = 0; i < 8; i++) {
                int64_t L = (int64_t)ceil(fr[i] * (double)(N * D));
                if (L <= lprev) continue;
                lprev = L;
                double *v = malloc((size_t)(L * D) * sizeof *v);
                if (!v) return cli_fail("repro", "out of memory");
                for (int64_t j = 0; j < L * D; j++) v[j] = fr_rng_normal(&c->rng) / sqrt((double)D);
                struct fr_sets_emb64 e = {FR_SETS_LE, D, L, 1, v};
                struct fr_sets_probe_result pr;
                rc = fr_sets_probe(&e, N, &c->po, &c->rng, &pr, NULL, NULL);
                free(v);
                if (rc) return cli_fail("repro", "%s", fr_last_error());
                le.x[le.n] = (double)L, le.y[le.n++] = floor_ratio(pr.ratio_min);
                if (pr.ratio_min < COLLIDE) le_star = -1;
                else if (le_star < 0) le_star = L;
            }
            /* the constructive weights, when small enough to probe */
            int64_t Kc = fr_sets_lp_constructive_size(N, D, NULL, NULL);
            double cons_ratio = NAN;
            if (Kc * N <= (c->o->quick ? 2000 : 8000)) {
                free(wc);
                wc = malloc((size_t)(Kc * D) * sizeof *wc);
                if (!wc || fr_sets_lp_constructive(N, D, 1, wc, Kc))
                    return cli_fail("repro", "constructive weights: %s", fr_last_error());
                struct fr_sets_emb64 e = {FR_SETS_LP, D, Kc, N, wc};
                struct fr_sets_probe_result pr;
                if (fr_sets_probe(&e, N, &c->po, &c->rng, &pr, NULL, NULL))
                    return cli_fail("repro", "%s", fr_last_error());
                cons_ratio = pr.ratio_min;
            }
            char label[64];
            if (complex_inputs) snprintf(label, sizeof label, "Dc=%lld N=%lld", (long long)Ds[b], (long long)N);
            else snprintf(label, sizeof label, "(%lld, %lld)", (long long)N, (long long)D);
            double row[9] = {(double)(N * D), (double)(N * (D + 1)), (double)(kc * N),
                             lp_star > 0 ? (double)lp_star : NAN, le_star > 0 ? (double)le_star : NAN,
                             (double)(Kc * N), cons_ratio, pow((double)N, 5) * (double)(D * D),
                             pow((double)N, 4) * (double)(D * D)};
            fr_results_table_row(c->r, tname, label, row);
            n_cells++;
            if (lp_star > N * (D + 1)) n_lp_above++;
            if (lp_star == kc * N) n_lp_cert++;
            if (le_star == N * D) n_le_nd++;
            if (lp_star > 0) worst_lp = fmax(worst_lp, (double)lp_star / (double)(N * (D + 1)));
            fprintf(stderr, "deepsets: %s N=%lld D=%lld: LP L*=%lld (N(D+1)=%lld, certified >= %lld), "
                            "LE L*=%lld, constructive L=%lld ratio %.3g  [%.0fs]\n",
                    complex_inputs ? "complex probe" : "probe", (long long)N, (long long)D,
                    (long long)lp_star, (long long)(N * (D + 1)), (long long)(kc * N),
                    (long long)le_star, (long long)(Kc * N), cons_ratio, fr_seconds() - c->t0);
            /* a plot per (N, D) on the diagonal-ish selection, and the series */
            char nm[128];
            snprintf(nm, sizeof nm, "%sLP random N=%lld D=%lld", complex_inputs ? "complex " : "",
                     (long long)N, (long long)D);
            fr_results_series(c->r, nm, "L", "min ratio", lp.n, lp.x, lp.y);
            snprintf(nm, sizeof nm, "%sLP random, optimiser only N=%lld D=%lld",
                     complex_inputs ? "complex " : "", (long long)N, (long long)D);
            fr_results_series(c->r, nm, "L", "min ratio", lpo.n, lpo.x, lpo.y);
            snprintf(nm, sizeof nm, "%sLE N=%lld D=%lld", complex_inputs ? "complex " : "",
                     (long long)N, (long long)D);
            fr_results_series(c->r, nm, "L", "min ratio", le.n, le.x, le.y);
            int plot = complex_inputs || (D == 2 || D == 3) || (a == nN - 1 && b == nD - 1);
            if (plot) {
                double nd[2] = {(double)(N * D), (double)(N * D)}, nd1[2] = {(double)(N * (D + 1)),
                                                                           (double)(N * (D + 1))};
                double yl[2] = {1e-17, 10}, cx[1] = {(double)(Kc * N)}, cy[1] = {floor_ratio(cons_ratio)};
                struct fr_plot_series s[6] = {{"LP, random directions", lp.n, lp.x, lp.y},
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
                struct fr_plot p = {title, "latent width L", "smallest ||dPhi|| / d(X,X') found", 1, 1, 0, 0, 1};
                if (fr_plot_write(path, &p, 6, s) == 0) fr_results_plot(c->r, file);
            }
        }
    free(w);
    free(wc);
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
    return EXIT_OK;
}

/* ---- 2-4. learning ---- */

struct learn_cfg {
    enum fr_sets_task task;
    int64_t N, D;
    const int64_t *ks; /* LP directions; L = K * N for every phi */
    int nk;
    int64_t steps, ntrain, ntest;
};

/* err[phi][i]: relative test error at L = ks[i] * N. Returns 0 or an error. */
static int learn_curve(struct ctx *c, const struct learn_cfg *lc, double err[3][16]) {
    int64_t N = lc->N, D = lc->D, out = fr_sets_task_outputs(lc->task, N, D);
    int64_t py = lc->task == FR_SETS_TASK_RANK ? N : out;
    float *xtr = malloc(sizeof(float) * (size_t)(lc->ntrain * N * D));
    float *ytr = malloc(sizeof(float) * (size_t)(lc->ntrain * py));
    float *xte = malloc(sizeof(float) * (size_t)(lc->ntest * N * D));
    float *yte = malloc(sizeof(float) * (size_t)(lc->ntest * py));
    int rc = 0;
    if (!xtr || !ytr || !xte || !yte) {
        rc = fr_error(FR_ENOMEM, "out of memory");
        goto cleanup;
    }
    if ((rc = fr_sets_task_make(lc->task, N, D, lc->ntrain, &c->rng, xtr, ytr)) ||
        (rc = fr_sets_task_make(lc->task, N, D, lc->ntest, &c->rng, xte, yte)))
        goto cleanup;
    struct fr_sets_train_opts to;
    fr_sets_train_defaults(&to);
    to.steps = lc->steps;
    for (int phi = 0; phi < 3; phi++)
        for (int i = 0; i < lc->nk; i++) {
            struct fr_sets_config cfg;
            fr_sets_config_defaults(&cfg, (enum fr_sets_phi)phi, D, N, out);
            cfg.equivariant = lc->task == FR_SETS_TASK_RANK;
            cfg.width = phi == FR_SETS_LP ? lc->ks[i] : lc->ks[i] * N;
            struct fr_sets_model m;
            if ((rc = fr_sets_model_init(&m, &cfg, &c->rng))) goto cleanup;
            double te = NAN, tr = NAN;
            if (fr_sets_train_eval(&m, xtr, ytr, lc->ntrain, xte, yte, lc->ntest, &to, &c->rng, &te, &tr))
                te = NAN; /* diverged (LE overflow): recorded as missing */
            err[phi][i] = te;
            fr_sets_model_free(&m);
        }
cleanup:
    free(xtr), free(ytr), free(xte), free(yte);
    return rc;
}

/* Smallest L whose error is within 10% (+0.01) of the best over L. */
static double saturation(const double *err, const int64_t *ks, int nk, int64_t N) {
    double best = INFINITY;
    for (int i = 0; i < nk; i++)
        if (isfinite(err[i])) best = fmin(best, err[i]);
    if (!isfinite(best)) return NAN;
    for (int i = 0; i < nk; i++)
        if (isfinite(err[i]) && err[i] <= 1.1 * best + 0.01) return (double)(ks[i] * N);
    return NAN;
}

/* Least squares y = a + b u + c v; returns R^2 and b, c. */
static double fit2(const double *y, const double *u, const double *v, int n, double *b, double *c) {
    double S[3][4] = {{0}};
    for (int i = 0; i < n; i++) {
        double f[3] = {1, u[i], v[i]};
        for (int r = 0; r < 3; r++) {
            for (int k = 0; k < 3; k++) S[r][k] += f[r] * f[k];
            S[r][3] += f[r] * y[i];
        }
    }
    for (int p = 0; p < 3; p++) { /* Gauss-Jordan with a tiny ridge for a constant column */
        S[p][p] += 1e-9;
        for (int r = 0; r < 3; r++) {
            if (r == p) continue;
            double f = S[r][p] / S[p][p];
            for (int k = 0; k < 4; k++) S[r][k] -= f * S[p][k];
        }
    }
    double coef[3] = {S[0][3] / S[0][0], S[1][3] / S[1][1], S[2][3] / S[2][2]}, my = 0, ss = 0, sr = 0;
    for (int i = 0; i < n; i++) my += y[i] / n;
    for (int i = 0; i < n; i++) {
        double pr = coef[0] + coef[1] * u[i] + coef[2] * v[i];
        ss += (y[i] - my) * (y[i] - my);
        sr += (y[i] - pr) * (y[i] - pr);
    }
    *b = coef[1], *c = coef[2];
    return ss > 0 ? 1.0 - sr / ss : NAN;
}

static int learn_grid(struct ctx *c, const enum fr_sets_task *tasks, int ntask, const int64_t *Ns,
                      int nN, const int64_t *Ds, int nD, const int64_t *ks, int nk, int64_t steps,
                      const char *tag) {
    if (nN * nD > 64 || nk > 16) return cli_fail("repro", "deepsets: grid too large");
    const char *pn[3] = {"LP", "LE", "MLP"};
    char tname[96];
    snprintf(tname, sizeof tname, "%s: saturation width L_sat (relative test error at L_sat)", tag);
    const char *cols[] = {"task (N, D)", "N*D", "N(D+1)", "LP L_sat", "LP err", "LE L_sat", "LE err",
                          "MLP L_sat", "MLP err"};
    fr_results_table(c->r, tname, 9, cols);
    for (int t = 0; t < ntask; t++) {
        double ls[3][64], lnN[64], lnD[64], nNv[64], nDv[64];
        int nfit[3] = {0, 0, 0};
        for (int a = 0; a < nN; a++)
            for (int b = 0; b < nD; b++) {
                int64_t N = Ns[a], D = Ds[b];
                struct learn_cfg lc = {tasks[t], N, D, ks, nk, steps, c->o->quick ? 2048 : 4096,
                                       1024};
                double err[3][16];
                if (learn_curve(c, &lc, err)) return cli_fail("repro", "%s", fr_last_error());
                double row[8] = {(double)(N * D), (double)(N * (D + 1))};
                for (int phi = 0; phi < 3; phi++) {
                    double x[16], y[16];
                    for (int i = 0; i < nk; i++) x[i] = (double)(ks[i] * N), y[i] = err[phi][i];
                    char nm[128];
                    snprintf(nm, sizeof nm, "%s %s %s N=%lld D=%lld", tag, fr_sets_task_name(tasks[t]),
                             pn[phi], (long long)N, (long long)D);
                    fr_results_series(c->r, nm, "L", "relative test MSE", nk, x, y);
                    double s = saturation(err[phi], ks, nk, N), best = INFINITY;
                    for (int i = 0; i < nk; i++)
                        if (isfinite(err[phi][i])) best = fmin(best, err[phi][i]);
                    row[2 + 2 * phi] = s;
                    row[3 + 2 * phi] = isfinite(best) ? best : NAN;
                    ls[phi][a * nD + b] = log(s);
                    if (isfinite(s)) nfit[phi]++;
                }
                int idx = a * nD + b;
                lnN[idx] = log((double)N), lnD[idx] = log((double)D);
                nNv[idx] = (double)N, nDv[idx] = (double)D;
                char label[96];
                snprintf(label, sizeof label, "%s (%lld, %lld)", fr_sets_task_name(tasks[t]),
                         (long long)N, (long long)D);
                fr_results_table_row(c->r, tname, label, row);
                fprintf(stderr, "deepsets: %s %s N=%lld D=%lld: L_sat LP %g LE %g MLP %g; best err "
                                "%.3g / %.3g / %.3g  [%.0fs]\n",
                        tag, fr_sets_task_name(tasks[t]), (long long)N, (long long)D, row[2], row[4],
                        row[6], row[3], row[5], row[7], fr_seconds() - c->t0);
                /* plot error vs L at the largest grid point */
                if (a == nN - 1 && b == nD - 1) {
                    double x[16], y[3][16];
                    for (int i = 0; i < nk; i++) {
                        x[i] = (double)(ks[i] * N);
                        for (int phi = 0; phi < 3; phi++) y[phi][i] = err[phi][i];
                    }
                    double nd[2] = {(double)(N * D), (double)(N * D)}, yl[2] = {1e-4, 1.5};
                    struct fr_plot_series s[4] = {{"LP", nk, x, y[0]}, {"LE", nk, x, y[1]},
                                                  {"MLP phi", nk, x, y[2]}, {"L = N*D", 2, nd, yl}};
                    char title[160], file[160], path[4400];
                    snprintf(title, sizeof title, "%s: %s, N=%lld, D=%lld", tag,
                             fr_sets_task_name(tasks[t]), (long long)N, (long long)D);
                    snprintf(file, sizeof file, "learn_%s_%s.svg", tag, fr_sets_task_name(tasks[t]));
                    for (char *p = file; *p; p++)
                        if (*p == ' ') *p = '_';
                    snprintf(path, sizeof path, "%s/%s", c->dir, file);
                    struct fr_plot p = {title, "latent width L", "relative test MSE", 1, 1, 0, 0, 1};
                    if (fr_plot_write(path, &p, 4, s) == 0) fr_results_plot(c->r, file);
                }
            }
        /* growth of L_sat: log L_sat = a + b log N + c log D (polynomial) */
        if (nN * nD >= 6) { /* fewer points than that make a 3-parameter fit meaningless */
            for (int phi = 0; phi < 3; phi++) {
                if (nfit[phi] != nN * nD) continue;
                double bN, cD, bN2, cD2;
                double r2p = fit2(ls[phi], lnN, lnD, nfit[phi], &bN, &cD);
                double r2e = fit2(ls[phi], nNv, nDv, nfit[phi], &bN2, &cD2);
                char key[160];
                snprintf(key, sizeof key, "%s %s %s L_sat exponent in N", tag,
                         fr_sets_task_name(tasks[t]), pn[phi]);
                fr_results_metric(c->r, key, bN, "");
                snprintf(key, sizeof key, "%s %s %s L_sat exponent in D", tag,
                         fr_sets_task_name(tasks[t]), pn[phi]);
                fr_results_metric(c->r, key, cD, "");
                snprintf(key, sizeof key, "%s %s %s fit R2 polynomial", tag,
                         fr_sets_task_name(tasks[t]), pn[phi]);
                fr_results_metric(c->r, key, r2p, "");
                snprintf(key, sizeof key, "%s %s %s fit R2 exponential", tag,
                         fr_sets_task_name(tasks[t]), pn[phi]);
                fr_results_metric(c->r, key, r2e, "");
            }
        }
    }
    return EXIT_OK;
}

int repro_deepsets(const struct repro_opts *o) {
    struct ctx c = {0};
    c.o = o;
    c.t0 = fr_seconds();
    fr_rng_seed(&c.rng, o->seed);
    fr_sets_probe_defaults(&c.po);
    c.po.restarts = o->quick ? 16 : 48, c.po.steps = o->quick ? 1000 : 2000;
    snprintf(c.dir, sizeof c.dir, "%s/deepsets", o->out);
    if (cli_mkdirs("repro", c.dir, 0) != EXIT_OK) return EXIT_RUNTIME;
    c.r = fr_results_new("deepsets", o->quick ? "DeepSets: the latent width a set needs (quick)"
                                              : "DeepSets: the latent width a set needs");
    if (!c.r) return cli_fail("repro", "out of memory");
    fr_results_set_str(c.r, "paper", "Wang, Yang, Luo, Li, Lin, Li, Lin, Xu: Polynomial Width is "
                                     "Sufficient for Set Representation with High-dimensional "
                                     "Features (ICLR 2024, arXiv 2307.04001)");
    fr_results_set_str(c.r, "claim",
                       "Sum-pooled LP (linear + power) and LE (linear + exponential) embeddings are "
                       "injective on sets of N elements in R^D with polynomial latent width: "
                       "LP needs N(D+1) <= L <= N^5 D^2, LE L <= N^4 D^2; LP with K <= D "
                       "directions has collisions, so L = N*D is not enough for LP.");
    fr_results_set_str(c.r, "command", o->command);
    fr_results_set_seed(c.r, o->seed);
    fr_results_config_int(c.r, "quick", o->quick);
    fr_results_config_double(c.r, "collision threshold (ratio)", COLLIDE);
    fr_results_config_double(c.r, "probe separation", c.po.sep);
    fr_results_config_int(c.r, "probe random pairs", c.po.random_pairs);
    fr_results_config_int(c.r, "probe optimiser restarts", c.po.restarts);
    fr_results_config_int(c.r, "probe optimiser steps", c.po.steps);
    int rc;
    /* 1. probe */
    const int64_t pN_q[] = {2, 3, 4, 5}, pD_q[] = {1, 2, 3, 4};
    const int64_t pN_f[] = {2, 3, 4, 5, 6, 7, 8}, pD_f[] = {1, 2, 3, 4, 5, 6};
    if ((rc = o->quick ? probe_grid(&c, pN_q, 4, pD_q, 4, 0) : probe_grid(&c, pN_f, 7, pD_f, 6, 0)))
        goto done;
    double t_probe = fr_seconds() - c.t0;
    /* 2. learning */
    const enum fr_sets_task tasks[] = {FR_SETS_TASK_PAIRPROD, FR_SETS_TASK_SORTED0,
                                       FR_SETS_TASK_LEXMEDIAN};
    const int64_t ks_q[] = {1, 2, 4, 8}, ks_f[] = {1, 2, 3, 4, 6, 8, 12};
    const int64_t lN_q[] = {2, 4}, lD_q[] = {1, 3}, lN_f[] = {2, 4, 6, 8}, lD_f[] = {1, 2, 4, 6};
    int64_t steps = o->quick ? 300 : 1500;
    fr_results_config_int(c.r, "train steps", steps);
    if ((rc = o->quick ? learn_grid(&c, tasks, 3, lN_q, 2, lD_q, 2, ks_q, 4, steps, "invariant")
                       : learn_grid(&c, tasks, 3, lN_f, 4, lD_f, 4, ks_f, 7, steps, "invariant")))
        goto done;
    /* 3. equivariant */
    const enum fr_sets_task rank[] = {FR_SETS_TASK_RANK};
    const int64_t eN_f[] = {2, 4, 8}, eD_f[] = {1, 2, 4};
    if ((rc = o->quick ? learn_grid(&c, rank, 1, lN_q, 2, lD_q, 2, ks_q, 4, steps, "equivariant")
                       : learn_grid(&c, rank, 1, eN_f, 3, eD_f, 3, ks_f, 7, steps, "equivariant")))
        goto done;
    /* 4. complex: the probe on the split and the complex pair-product task */
    const int64_t cN_q[] = {2, 3}, cD[] = {1, 2}, cN_f[] = {2, 3, 4, 6};
    if ((rc = o->quick ? probe_grid(&c, cN_q, 2, cD, 1, 1) : probe_grid(&c, cN_f, 4, cD, 2, 1)))
        goto done;
    const enum fr_sets_task cp[] = {FR_SETS_TASK_CPAIR};
    const int64_t cl_D[] = {2, 4};
    if ((rc = o->quick ? learn_grid(&c, cp, 1, lN_q, 2, cl_D, 1, ks_q, 4, steps, "complex")
                       : learn_grid(&c, cp, 1, lN_f, 4, cl_D, 2, ks_f, 7, steps, "complex")))
        goto done;
    fr_results_metric(c.r, "probe time", t_probe, "s");
    fr_results_metric(c.r, "total time", fr_seconds() - c.t0, "s");
    fr_results_set_str(c.r, "notes",
                       "Probe: sets in [-1,1]^D with elements >= 0.1 apart (without this every "
                       "embedding's ratio tends to 0 near coinciding elements: sum pooling is "
                       "injective but not bi-Lipschitz there). A ratio < 1e-6 is a collision; L* is "
                       "the smallest probed L from which no collision was found. 'Certified LP "
                       "lower bound' = N((D-1)(floor(log2 N)+1)+1): below it the switching "
                       "construction gives exact collisions. Learning: relative test MSE (1 = "
                       "predicting the mean); L_sat = smallest L within 10% (+0.01) of the best "
                       "error over the L grid. See docs/deepsets.md.");
    char path[4200];
    snprintf(path, sizeof path, "%s/results.json", c.dir);
    if (fr_results_write(c.r, path)) {
        rc = cli_fail("repro", "%s", fr_last_error());
        goto done;
    }
    printf("deepsets: wrote %s in %.0f s\n", path, fr_seconds() - c.t0);
    rc = EXIT_OK;
done:
    fr_results_free(c.r);
    return rc;
}

/* probe.c: the injectivity side of sets.h in plain double precision: the
 * sum embedding of one set with its analytic gradient, the permutation-
 * invariant distance (Hungarian algorithm, with a brute-force twin), the
 * injectivity probe and the F32 conditioning check.
 *
 * Why not autograd here: the probe evaluates tiny embeddings millions of
 * times; an analytic gradient in double is exact and ~100x cheaper than
 * building a tape per step. test_sets.c checks it against the autograd
 * layers (fr_sets_lp / fr_sets_le in F64) and against finite differences.
 */
#include "frugal/kernels.h"
#include "frugal/methods/sets.h"
#include "frugal/status.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t fr_sets_emb64_width(const struct fr_sets_emb64 *e) {
    return e->kind == FR_SETS_LP ? e->k * e->deg : e->k;
}

void fr_sets_emb64_sum(const struct fr_sets_emb64 *e, const double *x, int64_t n, double *out) {
    int64_t K = e->k, d = e->d;
    memset(out, 0, (size_t)fr_sets_emb64_width(e) * sizeof *out);
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < K; k++) {
            double z = 0;
            for (int64_t c = 0; c < d; c++)
                z += e->w[k * d + c] * x[i * d + c];
            if (e->kind == FR_SETS_LE) {
                out[k] += exp(z);
            } else {
                double p = z;
                for (int64_t j = 0; j < e->deg; j++, p *= z)
                    out[j * K + k] += p;
            }
        }
}

void fr_sets_emb64_sum_grad(const struct fr_sets_emb64 *e, const double *x, int64_t n,
                            const double *g, double *dx) {
    int64_t K = e->k, d = e->d;
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < K; k++) {
            double z = 0, s = 0;
            for (int64_t c = 0; c < d; c++)
                z += e->w[k * d + c] * x[i * d + c];
            if (e->kind == FR_SETS_LE) {
                s = g[k] * exp(z);
            } else {
                double p = 1; /* z^(j-1) */
                for (int64_t j = 0; j < e->deg; j++, p *= z)
                    s += g[j * K + k] * (double)(j + 1) * p;
            }
            for (int64_t c = 0; c < d; c++)
                dx[i * d + c] += s * e->w[k * d + c];
        }
}

/* Smallest eigenvalue of the symmetric m x m matrix a (destroyed). */
static double sym_min_eig(double *a, int64_t m) {
    double *ev = malloc(sizeof *ev * (size_t)(m > 0 ? m : 1));
    if (!ev) return NAN;
    fr_sym_eigenvalues(a, m, ev);
    double mn = m > 0 ? ev[0] : INFINITY;
    free(ev);
    return mn;
}

/* The smallest singular value of the Jacobian of Phi at X, or with eq of
 * Psi(X) = (x_1, Phi(X)) (J^T J plus the identity on x_1's columns). */
static double jac_smin(const struct fr_sets_emb64 *e, const double *x, int64_t n, int eq) {
    int64_t K = e->k, d = e->d, L = fr_sets_emb64_width(e), m = n * d;
    double *jt = calloc((size_t)(L * m), sizeof *jt), *a = calloc((size_t)(m * m), sizeof *a);
    double res = NAN;
    if (!jt || !a) goto cleanup;
    /* J row l, column (i, c): element i only touches its own columns */
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < K; k++) {
            double z = 0;
            for (int64_t c = 0; c < d; c++)
                z += e->w[k * d + c] * x[i * d + c];
            if (e->kind == FR_SETS_LE) {
                double ez = exp(z);
                for (int64_t c = 0; c < d; c++)
                    jt[k * m + i * d + c] = ez * e->w[k * d + c];
            } else {
                double p = 1;
                for (int64_t j = 0; j < e->deg; j++, p *= z)
                    for (int64_t c = 0; c < d; c++)
                        jt[(j * K + k) * m + i * d + c] = (double)(j + 1) * p * e->w[k * d + c];
            }
        }
    for (int64_t l = 0; l < L; l++) /* a = J^T J */
        for (int64_t p = 0; p < m; p++) {
            double v = jt[l * m + p];
            if (v == 0) continue;
            for (int64_t q = 0; q < m; q++)
                a[p * m + q] += v * jt[l * m + q];
        }
    for (int64_t c = 0; eq && c < d; c++)
        a[c * m + c] += 1.0;
    res = sqrt(fmax(sym_min_eig(a, m), 0.0));
cleanup:
    free(jt);
    free(a);
    return res;
}

double fr_sets_emb64_jac_smin(const struct fr_sets_emb64 *e, const double *x, int64_t n) {
    return jac_smin(e, x, n, 0);
}

/* ---- permutation-invariant distance ---- */

static double sqdist(const double *a, const double *b, int64_t d) {
    double s = 0;
    for (int64_t c = 0; c < d; c++)
        s += (a[c] - b[c]) * (a[c] - b[c]);
    return s;
}

double fr_sets_set_distance(const double *x, const double *y, int64_t n, int64_t d, int *perm) {
    /* Hungarian algorithm with potentials (rows x, columns y), 1-based. */
    enum { MAXN = 64 };
    if (n < 1 || n > MAXN) return NAN;
    double u[MAXN + 1] = {0}, v[MAXN + 1] = {0}, minv[MAXN + 1];
    int p[MAXN + 1] = {0}, way[MAXN + 1] = {0}, used[MAXN + 1];
    for (int i = 1; i <= n; i++) {
        p[0] = i;
        int j0 = 0;
        for (int j = 0; j <= n; j++)
            minv[j] = INFINITY, used[j] = 0;
        do {
            used[j0] = 1;
            int i0 = p[j0], j1 = 0;
            double delta = INFINITY;
            for (int j = 1; j <= n; j++)
                if (!used[j]) {
                    double cur = sqdist(x + (i0 - 1) * d, y + (j - 1) * d, d) - u[i0] - v[j];
                    if (cur < minv[j]) minv[j] = cur, way[j] = j0;
                    if (minv[j] < delta) delta = minv[j], j1 = j;
                }
            for (int j = 0; j <= n; j++)
                if (used[j])
                    u[p[j]] += delta, v[j] -= delta;
                else
                    minv[j] -= delta;
            j0 = j1;
        } while (p[j0] != 0);
        do {
            int j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
        } while (j0);
    }
    double s = 0;
    for (int j = 1; j <= n; j++) {
        s += sqdist(x + (p[j] - 1) * d, y + (j - 1) * d, d);
        if (perm) perm[p[j] - 1] = j - 1;
    }
    return sqrt(s);
}

static void brute(const double *x, const double *y, int64_t n, int64_t d, int64_t at, int *idx,
                  double acc, double *best) {
    if (acc >= *best) return;
    if (at == n) {
        *best = acc;
        return;
    }
    for (int64_t j = at; j < n; j++) {
        int t = idx[at];
        idx[at] = idx[j], idx[j] = t;
        brute(x, y, n, d, at + 1, idx, acc + sqdist(x + at * d, y + idx[at] * d, d), best);
        t = idx[at], idx[at] = idx[j], idx[j] = t;
    }
}

double fr_sets_set_distance_brute(const double *x, const double *y, int64_t n, int64_t d) {
    if (n < 1 || n > 9) return NAN;
    int idx[9];
    for (int i = 0; i < n; i++)
        idx[i] = i;
    double best = INFINITY;
    brute(x, y, n, d, 0, idx, 0.0, &best);
    return sqrt(best);
}

/* ---- the probe ---- */

void fr_sets_probe_defaults(struct fr_sets_probe_opts *o) {
    o->random_pairs = 2000;
    o->near_pairs = 200;
    o->restarts = 8;
    o->steps = 600;
    o->lr = 0.02;
    o->sep = 0.1;
    o->equivariant = 0;
}

/* A random set in [-1, 1]^d whose elements are (when possible) sep apart. */
static void random_set(int64_t n, int64_t d, double sep, struct fr_rng *rng, double *x) {
    for (int64_t i = 0; i < n; i++) {
        for (int t = 0; t < 100; t++) {
            for (int64_t c = 0; c < d; c++)
                x[i * d + c] = 2.0 * fr_rng_uniform(rng) - 1.0;
            int ok = 1;
            for (int64_t j = 0; j < i && ok; j++)
                ok = sqdist(x + i * d, x + j * d, d) >= sep * sep;
            if (ok) break;
        }
    }
}

static double min_sep(const double *x, int64_t n, int64_t d) {
    double m = INFINITY;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++)
            m = fmin(m, sqdist(x + i * d, x + j * d, d));
    return sqrt(m);
}

struct probe_ws {
    const struct fr_sets_emb64 *e;
    int64_t n, d, L;
    double sep;
    double *px, *py, *g; /* L each */
    struct fr_sets_probe_result *r;
    double *xb, *yb;
    int eq; /* the equivariant probe: Psi(X) = (x_1, Phi(X)) */
};

/* d(X, Y), or for the equivariant probe the distance of pointed sets (first
 * elements matched to each other, the rest by the Hungarian algorithm);
 * perm (may be NULL) receives the whole matching x_i <-> y_perm[i]. */
static double pair_dist(const struct probe_ws *w, const double *x, const double *y, int *perm) {
    int64_t n = w->n, d = w->d;
    if (!w->eq) return fr_sets_set_distance(x, y, n, d, perm);
    double rest = 0;
    if (n > 1) rest = fr_sets_set_distance(x + d, y + d, n - 1, d, perm ? perm + 1 : NULL);
    for (int64_t i = 1; perm && i < n; i++)
        perm[i] += 1;
    if (perm) perm[0] = 0;
    return sqrt(sqdist(x, y, d) + rest * rest);
}

/* ||Psi(X) - Psi(Y)||^2 from the pooled embeddings in w->px, w->py. */
static double emb_diff2(const struct probe_ws *w, const double *x, const double *y) {
    double num = w->eq ? sqdist(x, y, w->d) : 0;
    for (int64_t l = 0; l < w->L; l++)
        num += (w->px[l] - w->py[l]) * (w->px[l] - w->py[l]);
    return num;
}

/* Scores a pair; keeps it when it is feasible (elements at least
 * 0.95 * minsep apart) and the best so far. */
static double score(struct probe_ws *w, const double *x, const double *y, double minsep,
                    double *best) {
    int64_t n = w->n, d = w->d;
    fr_sets_emb64_sum(w->e, x, n, w->px);
    fr_sets_emb64_sum(w->e, y, n, w->py);
    w->r->evals += 2;
    double num = emb_diff2(w, x, y);
    double dist = pair_dist(w, x, y, NULL);
    if (!(dist > 0)) return INFINITY;
    double ratio = sqrt(num) / dist;
    if (min_sep(x, n, d) < 0.95 * minsep || min_sep(y, n, d) < 0.95 * minsep) return ratio;
    if (ratio < *best) *best = ratio;
    if (ratio < w->r->ratio_min) {
        w->r->ratio_min = ratio;
        w->r->dist_at_min = dist;
        if (w->xb) memcpy(w->xb, x, (size_t)(n * d) * sizeof *x);
        if (w->yb) memcpy(w->yb, y, (size_t)(n * d) * sizeof *y);
    }
    return ratio;
}

/* Gradient of log||Phi(X)-Phi(Y)||^2 - log d(X,Y)^2 + lam * separation
 * penalty with respect to u = [X, Y]; returns the objective. */
static double objective(struct probe_ws *w, const double *u, double *gu, int *perm) {
    int64_t n = w->n, d = w->d, nd = n * d;
    const double *x = u, *y = u + nd;
    fr_sets_emb64_sum(w->e, x, n, w->px);
    fr_sets_emb64_sum(w->e, y, n, w->py);
    w->r->evals += 2;
    double E = emb_diff2(w, x, y) + 1e-300;
    for (int64_t l = 0; l < w->L; l++)
        w->g[l] = 2.0 * (w->px[l] - w->py[l]) / E;
    memset(gu, 0, (size_t)(2 * nd) * sizeof *gu);
    fr_sets_emb64_sum_grad(w->e, x, n, w->g, gu);
    for (int64_t l = 0; l < w->L; l++)
        w->g[l] = -w->g[l];
    fr_sets_emb64_sum_grad(w->e, y, n, w->g, gu + nd);
    for (int64_t c = 0; w->eq && c < d; c++) { /* the x_1 part of Psi */
        gu[c] += 2.0 * (x[c] - y[c]) / E;
        gu[nd + c] -= 2.0 * (x[c] - y[c]) / E;
    }
    double dist = pair_dist(w, x, y, perm), d2 = dist * dist + 1e-300;
    for (int64_t i = 0; i < n; i++)
        for (int64_t c = 0; c < d; c++) {
            double diff = x[i * d + c] - y[perm[i] * d + c];
            gu[i * d + c] -= 2.0 * diff / d2;
            gu[nd + perm[i] * d + c] += 2.0 * diff / d2;
        }
    double pen = 0, lam = 10.0, s2 = w->sep * w->sep;
    for (int set = 0; set < 2; set++) {
        const double *z = u + set * nd;
        double *gz = gu + set * nd;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = i + 1; j < n; j++) {
                double r = sqrt(sqdist(z + i * d, z + j * d, d));
                if (r >= w->sep) continue;
                pen += (w->sep - r) * (w->sep - r) / s2;
                double f = -2.0 * lam * (w->sep - r) / s2 / (r > 1e-12 ? r : 1e-12);
                for (int64_t c = 0; c < d; c++) {
                    double dz = z[i * d + c] - z[j * d + c];
                    gz[i * d + c] += f * dz;
                    gz[j * d + c] -= f * dz;
                }
            }
    }
    return log(E) - log(d2) + lam * pen;
}

static void optimise(struct probe_ws *w, const struct fr_sets_probe_opts *o, double *u, double *gu,
                     double *m, double *v, int *perm) {
    int64_t nd2 = 2 * w->n * w->d;
    memset(m, 0, (size_t)nd2 * sizeof *m);
    memset(v, 0, (size_t)nd2 * sizeof *v);
    double b1 = 0.9, b2 = 0.999, b1t = 1, b2t = 1;
    /* the learning rate decays geometrically to lr * 1e-8: Adam's steps
     * have size ~lr, so a constant rate would stall ~lr away from a
     * collision and report a ratio ~1e-3 where the true one is 0 */
    double lr = o->lr, decay = o->steps > 1 ? pow(1e-8, 1.0 / (double)(o->steps - 1)) : 1.0;
    for (int s = 0; s < o->steps; s++, lr *= decay) {
        objective(w, u, gu, perm);
        b1t *= b1, b2t *= b2;
        for (int64_t i = 0; i < nd2; i++) {
            m[i] = b1 * m[i] + (1 - b1) * gu[i];
            v[i] = b2 * v[i] + (1 - b2) * gu[i] * gu[i];
            double step = lr * (m[i] / (1 - b1t)) / (sqrt(v[i] / (1 - b2t)) + 1e-300);
            u[i] = fmin(1.0, fmax(-1.0, u[i] - step));
        }
        if (s % 10 == 9 || s == o->steps - 1) score(w, u, u + nd2 / 2, w->sep, &w->r->ratio_opt);
    }
}

/* Moves an element the two sets share (the switching pair's padding) to
 * the front of both, which makes the pair an equivariant collision too;
 * without one (no padding) the pair stays as it is and is not. */
static void shared_first(double *x, double *y, int64_t n, int64_t d) {
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++)
            if (!memcmp(x + i * d, y + j * d, (size_t)d * sizeof *x)) {
                for (int64_t c = 0; c < d; c++) {
                    double t = x[c];
                    x[c] = x[i * d + c], x[i * d + c] = t;
                    t = y[c];
                    y[c] = y[j * d + c], y[j * d + c] = t;
                }
                return;
            }
}

int fr_sets_probe(const struct fr_sets_emb64 *e, int64_t n, const struct fr_sets_probe_opts *o,
                  struct fr_rng *rng, struct fr_sets_probe_result *r, double *x_best,
                  double *y_best) {
    int64_t d = e->d, L = fr_sets_emb64_width(e);
    if (!e->w || d < 1 || d > 64 || e->k < 1 || n < 1 || n > 64 ||
        (e->kind != FR_SETS_LP && e->kind != FR_SETS_LE) || (e->kind == FR_SETS_LP && e->deg < 1))
        return fr_error(FR_EINVAL, "sets probe: bad embedding or set size (n %lld, d %lld)",
                        (long long)n, (long long)d);
    if (o->random_pairs < 0 || o->near_pairs < 0 || o->restarts < 0 || o->steps < 0 ||
        !(o->sep >= 0) || !(o->lr > 0))
        return fr_error(FR_EINVAL, "sets probe: bad options");
    int64_t nd = n * d;
    double *buf = malloc((size_t)(3 * L + 8 * nd) * sizeof *buf);
    int *perm = malloc((size_t)n * sizeof *perm);
    if (!buf || !perm) {
        free(buf);
        free(perm);
        return fr_error(FR_ENOMEM, "sets probe: out of memory");
    }
    r->ratio_random = r->ratio_near = r->ratio_opt = r->ratio_switch = INFINITY;
    r->ratio_min = INFINITY;
    r->dist_at_min = NAN;
    r->evals = 0;
    struct probe_ws w = {e,       n,           d, L,      o->sep, buf,
                         buf + L, buf + 2 * L, r, x_best, y_best, o->equivariant != 0};
    double *u = buf + 3 * L, *gu = u + 2 * nd, *m = gu + 2 * nd, *v = m + 2 * nd;
    for (int64_t t = 0; t < o->random_pairs; t++) {
        random_set(n, d, o->sep, rng, u);
        random_set(n, d, o->sep, rng, u + nd);
        score(&w, u, u + nd, o->sep, &r->ratio_random);
    }
    for (int64_t t = 0; t < o->near_pairs; t++) {
        random_set(n, d, o->sep * 1.1, rng, u);
        if (min_sep(u, n, d) < 0.95 * o->sep) continue;
        double s = jac_smin(e, u, n, w.eq);
        r->evals += 1;
        if (!(s < r->ratio_near)) continue;
        r->ratio_near = s;
        if (s < r->ratio_min) {
            r->ratio_min = s;
            r->dist_at_min = 0;
            if (x_best) memcpy(x_best, u, (size_t)nd * sizeof *u);
            if (y_best) memcpy(y_best, u, (size_t)nd * sizeof *u);
        }
    }
    /* an exact collision needs no separation margin, only distinct elements */
    if (e->kind == FR_SETS_LP && fr_sets_lp_switching_pair(e, n, o->sep, rng, u, u + nd)) {
        if (w.eq) shared_first(u, u + nd, n, d);
        score(&w, u, u + nd, 1e-9, &r->ratio_switch);
    } else
        r->ratio_switch = NAN;
    for (int t = 0; t < o->restarts; t++) {
        random_set(n, d, o->sep * 1.2, rng, u);
        if (t % 2 == 0)
            random_set(n, d, o->sep * 1.2, rng, u + nd);
        else /* from a near-duplicate */
            for (int64_t i = 0; i < nd; i++)
                u[nd + i] = fmin(1.0, fmax(-1.0, u[i] + 0.05 * fr_rng_normal(rng)));
        optimise(&w, o, u, gu, m, v, perm);
    }
    free(buf);
    free(perm);
    return 0;
}

/* ---- conditioning ---- */

int fr_sets_condition(const struct fr_sets_emb64 *e, const double *x, int64_t n, int64_t nsets,
                      struct fr_sets_cond *c) {
    int64_t L = fr_sets_emb64_width(e), K = e->k, d = e->d;
    memset(c, 0, sizeof *c);
    if (!e->w || !x || n < 1 || nsets < 1 || L < 1 || d < 1)
        return fr_error(FR_EINVAL, "sets condition: bad embedding or sample");
    double *p64 = malloc((size_t)(L * nsets) * sizeof *p64);
    float *p32 = malloc((size_t)(L * nsets) * sizeof *p32);
    double *rms = malloc((size_t)L * sizeof *rms);
    if (!p64 || !p32 || !rms) {
        free(p64), free(p32), free(rms);
        return fr_error(FR_ENOMEM, "sets condition: out of memory");
    }
    for (int64_t s = 0; s < nsets; s++) {
        const double *xs = x + s * n * d;
        fr_sets_emb64_sum(e, xs, n, p64 + s * L);
        float *o = p32 + s * L; /* the same sums in float arithmetic */
        memset(o, 0, (size_t)L * sizeof *o);
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < K; k++) {
                float z = 0;
                for (int64_t f = 0; f < d; f++)
                    z += (float)e->w[k * d + f] * (float)xs[i * d + f];
                if (e->kind == FR_SETS_LE) {
                    o[k] += expf(z);
                } else {
                    float p = z;
                    for (int64_t j = 0; j < e->deg; j++, p *= z)
                        o[j * K + k] += p;
                }
            }
    }
    double rmax = 0, rmin = INFINITY;
    int finite = 1;
    for (int64_t l = 0; l < L; l++) {
        double s = 0;
        for (int64_t t = 0; t < nsets; t++) {
            double v = p64[t * L + l];
            s += v * v;
            c->max_abs = fmax(c->max_abs, fabs(v));
            if (!isfinite(v) || !isfinite(p32[t * L + l])) finite = 0;
        }
        rms[l] = sqrt(s / (double)nsets);
        rmax = fmax(rmax, rms[l]);
        rmin = fmin(rmin, rms[l]);
    }
    for (int64_t l = 0; l < L && finite; l++)
        for (int64_t t = 0; t < nsets; t++) {
            double err = fabs((double)p32[t * L + l] - p64[t * L + l]) / (rms[l] + 1e-300);
            c->rel_err_f32 = fmax(c->rel_err_f32, err);
        }
    c->dyn_range = rmin > 0 ? rmax / rmin : INFINITY;
    if (!finite) {
        c->ill = 1;
        snprintf(c->msg, sizeof c->msg,
                 "embedding overflows (non-finite values); normalise the "
                 "inputs or lower the degree / exponent scale");
    } else if (c->rel_err_f32 > 1e-3) {
        c->ill = 1;
        snprintf(c->msg, sizeof c->msg,
                 "F32 pooled embedding off by %.2g relative to F64; "
                 "compute in F64 or normalise the inputs",
                 c->rel_err_f32);
    } else if (c->dyn_range > 1e7) {
        c->ill = 1;
        snprintf(c->msg, sizeof c->msg,
                 "coordinates span %.2g orders of magnitude; small ones "
                 "drown in F32 rounding, normalise the inputs",
                 log10(c->dyn_range));
    }
    free(p64), free(p32), free(rms);
    return 0;
}

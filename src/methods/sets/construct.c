/* construct.c: explicit LP weights and explicit LP collisions.
 *
 *  - fr_sets_lp_constructive: the weights behind the paper's upper bound
 *    (identity directions, anchor candidates in general position, mixing
 *    directions e_i - gamma * anchor with prime gammas), so the stated L can
 *    be probed directly.
 *  - fr_sets_le_constructive: the same directions for LE, each at n
 *    exponent multiples (exp(j t) = exp(t)^j: power sums again).
 *  - fr_sets_lp_switching_pair: a certified collision for LP with too few
 *    directions. Split the K directions into m groups of at most D-1; a
 *    vector v_g orthogonal to group g exists. The signed measure
 *    prod_g (delta_0 - delta_{v_g}) (a convolution) projects to zero on
 *    every direction, so its positive part (even subset sums of the v_g) and
 *    negative part (odd subset sums) are two different sets of 2^(m-1)
 *    points whose projections agree as multisets on every direction, hence
 *    equal power sums of every degree. This is the "switching component" of
 *    discrete tomography. It proves LP with K <= (D-1)(floor(log2 N) + 1)
 *    directions is not injective, which for D >= 3 (or N >= 4) is more than
 *    the paper's lower bound K >= D + 1; fr_sets_lp_certified_k is the
 *    first K it no longer covers.
 *  - fr_sets_lp_random: the unstructured alternative, random unit
 *    directions, to probe beside the constructive ones.
 * Plain double precision; no autograd.
 */
#include "frugal/methods/sets.h"
#include "frugal/status.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int64_t fr_sets_lp_constructive_size(int64_t n, int64_t d, int64_t *k1, int64_t *k2) {
    int64_t a = n * (n - 1) * (d - 1) / 2 + 1, g = n * (n - 1) + 1;
    if (k1) *k1 = d == 1 ? 0 : a;
    if (k2) *k2 = d == 1 ? 0 : g;
    if (n < 1 || d < 1 || n > 64 || d > 64) return 0;
    if (d == 1) return 1; /* power sums of one coordinate are injective */
    return d + a + d * a * g;
}

/* The first count primes into p. */
static void primes(int64_t count, int64_t *p) {
    int64_t have = 0;
    for (int64_t c = 2; have < count; c++) {
        int prime = 1;
        for (int64_t i = 0; i < have && p[i] * p[i] <= c; i++)
            if (c % p[i] == 0) {
                prime = 0;
                break;
            }
        if (prime) p[have++] = c;
    }
}

static void unit(double *v, int64_t d) {
    double s = 0;
    for (int64_t i = 0; i < d; i++)
        s += v[i] * v[i];
    s = s > 0 ? 1.0 / sqrt(s) : 1.0;
    for (int64_t i = 0; i < d; i++)
        v[i] *= s;
}

int fr_sets_lp_constructive(int64_t n, int64_t d, int normalise, double *w, int64_t kcap) {
    int64_t k1, k2, K = fr_sets_lp_constructive_size(n, d, &k1, &k2);
    if (K == 0)
        return fr_error(FR_EINVAL, "sets constructive: n %lld and d %lld must be in 1..64",
                        (long long)n, (long long)d);
    if (!w || kcap < K)
        return fr_error(FR_EINVAL, "sets constructive: needs room for %lld directions, got %lld",
                        (long long)K, (long long)kcap);
    memset(w, 0, (size_t)(K * d) * sizeof *w);
    for (int64_t i = 0; i < d; i++)
        w[i * d + i] = 1.0; /* identity directions */
    if (d == 1) return 0;
    int64_t *gam = malloc((size_t)k2 * sizeof *gam);
    if (!gam) return fr_error(FR_ENOMEM, "sets constructive: out of memory");
    primes(k2, gam);
    double *a = w + d * d; /* anchors: the moment curve at Chebyshev nodes */
    for (int64_t j = 0; j < k1; j++) {
        double t = cos(M_PI * ((double)j + 0.5) / (double)k1), p = 1.0;
        for (int64_t i = 0; i < d; i++, p *= t)
            a[j * d + i] = p;
        unit(a + j * d, d);
    }
    double *m = a + k1 * d;
    for (int64_t i = 0; i < d; i++)
        for (int64_t j = 0; j < k1; j++)
            for (int64_t g = 0; g < k2; g++, m += d) {
                for (int64_t c = 0; c < d; c++)
                    m[c] = -(double)gam[g] * a[j * d + c];
                m[i] += 1.0;
            }
    if (normalise)
        for (int64_t k = 0; k < K; k++)
            unit(w + k * d, d);
    free(gam);
    return 0;
}

int64_t fr_sets_le_constructive_size(int64_t n, int64_t d) {
    return n * fr_sets_lp_constructive_size(n, d, NULL, NULL);
}

int fr_sets_le_constructive(int64_t n, int64_t d, double *v, int64_t lcap) {
    int64_t K = fr_sets_lp_constructive_size(n, d, NULL, NULL), L = n * K;
    if (K == 0)
        return fr_error(FR_EINVAL, "sets LE constructive: n %lld and d %lld must be in 1..64",
                        (long long)n, (long long)d);
    if (!v || lcap < L)
        return fr_error(FR_EINVAL, "sets LE constructive: needs room for %lld rows, got %lld",
                        (long long)L, (long long)lcap);
    double *w = malloc((size_t)(K * d) * sizeof *w);
    if (!w) return fr_error(FR_ENOMEM, "sets LE constructive: out of memory");
    int rc = fr_sets_lp_constructive(n, d, 1, w, K);
    for (int64_t j = 1; j <= n && !rc; j++)
        for (int64_t k = 0; k < K; k++)
            for (int64_t c = 0; c < d; c++)
                v[((j - 1) * K + k) * d + c] = (double)j * w[k * d + c];
    free(w);
    return rc;
}

/* v orthogonal to rows r[0..cnt) of a (cnt < d): a random vector with the
 * span projected out (Gram-Schmidt, twice for stability). 0 if degenerate. */
static int orth_to(const double *a, int64_t cnt, int64_t d, struct fr_rng *rng, double *v,
                   double *q) {
    int64_t nq = 0;
    for (int64_t r = 0; r < cnt; r++) {
        double *u = q + nq * d;
        memcpy(u, a + r * d, (size_t)d * sizeof *u);
        for (int pass = 0; pass < 2; pass++)
            for (int64_t s = 0; s < nq; s++) {
                double dot = 0;
                for (int64_t i = 0; i < d; i++)
                    dot += u[i] * q[s * d + i];
                for (int64_t i = 0; i < d; i++)
                    u[i] -= dot * q[s * d + i];
            }
        double nn = 0;
        for (int64_t i = 0; i < d; i++)
            nn += u[i] * u[i];
        if (nn > 1e-20) {
            unit(u, d);
            nq++;
        }
    }
    for (int64_t i = 0; i < d; i++)
        v[i] = fr_rng_normal(rng);
    for (int pass = 0; pass < 2; pass++)
        for (int64_t s = 0; s < nq; s++) {
            double dot = 0;
            for (int64_t i = 0; i < d; i++)
                dot += v[i] * q[s * d + i];
            for (int64_t i = 0; i < d; i++)
                v[i] -= dot * q[s * d + i];
        }
    double nn = 0;
    for (int64_t i = 0; i < d; i++)
        nn += v[i] * v[i];
    if (nn < 1e-20) return 0;
    unit(v, d);
    return 1;
}

static double min_dist(const double *p, int64_t cnt, const double *x, int64_t d) {
    double best = INFINITY;
    for (int64_t j = 0; j < cnt; j++) {
        double s = 0;
        for (int64_t i = 0; i < d; i++)
            s += (p[j * d + i] - x[i]) * (p[j * d + i] - x[i]);
        best = fmin(best, s);
    }
    return sqrt(best);
}

/* One construction with the directions w (K x d) grouped in order. */
static int build_once(const double *w, int64_t K, int64_t d, int64_t n, double sep,
                      struct fr_rng *rng, double *x, double *y) {
    int64_t m = (K + d - 2) / (d - 1);
    int64_t half = (int64_t)1 << (m - 1);
    double *v = malloc((size_t)(m * d + d * d) * sizeof *v);
    if (!v) return 0;
    double *q = v + m * d;
    int ok = 1;
    for (int64_t g = 0; g < m && ok; g++) {
        int64_t lo = g * (d - 1), cnt = K - lo < d - 1 ? K - lo : d - 1;
        ok = orth_to(w + lo * d, cnt, d, rng, v + g * d, q);
    }
    if (ok) {
        int64_t nx = 0, ny = 0;
        for (int64_t mask = 0; mask < ((int64_t)1 << m); mask++) {
            double *p =
                __builtin_popcountll((unsigned long long)mask) % 2 ? y + ny++ * d : x + nx++ * d;
            for (int64_t i = 0; i < d; i++) {
                p[i] = 0;
                for (int64_t g = 0; g < m; g++)
                    if (mask >> g & 1) p[i] += v[g * d + i];
            }
        }
        /* translation and uniform scaling keep the projections equal as
         * multisets: fit the points to [-0.9, 0.9]^d as large as possible */
        double lo[64], hi[64], span = 0;
        for (int64_t i = 0; i < d; i++) {
            lo[i] = INFINITY, hi[i] = -INFINITY;
            for (int64_t r = 0; r < half; r++) {
                lo[i] = fmin(lo[i], fmin(x[r * d + i], y[r * d + i]));
                hi[i] = fmax(hi[i], fmax(x[r * d + i], y[r * d + i]));
            }
            span = fmax(span, hi[i] - lo[i]);
        }
        double sc = span > 0 ? 1.8 / span : 1.0;
        for (int64_t r = 0; r < half; r++)
            for (int64_t i = 0; i < d; i++) {
                double mid = 0.5 * (lo[i] + hi[i]);
                x[r * d + i] = (x[r * d + i] - mid) * sc;
                y[r * d + i] = (y[r * d + i] - mid) * sc;
            }
        /* shared points, kept sep away from everything when possible */
        for (int64_t r = half; r < n; r++) {
            double best[64], bestd = -1;
            for (int t = 0; t < 400; t++) {
                double cand[64];
                for (int64_t i = 0; i < d; i++)
                    cand[i] = 1.8 * fr_rng_uniform(rng) - 0.9;
                double md = fmin(min_dist(x, r, cand, d), min_dist(y, r, cand, d));
                if (md > bestd) bestd = md, memcpy(best, cand, (size_t)d * sizeof *cand);
                if (md >= sep) break;
            }
            memcpy(x + r * d, best, (size_t)d * sizeof *best);
            memcpy(y + r * d, best, (size_t)d * sizeof *best);
        }
    }
    free(v);
    return ok;
}

static double set_sep(const double *x, int64_t n, int64_t d) {
    double m = INFINITY;
    for (int64_t i = 1; i < n; i++)
        m = fmin(m, min_dist(x, i, x + i * d, d));
    return m;
}

/* Tries several groupings (random order of the directions) and signs of
 * the v_g, keeping the pair whose elements are farthest apart. */
int fr_sets_lp_switching_pair(const struct fr_sets_emb64 *e, int64_t n, double sep,
                              struct fr_rng *rng, double *x, double *y) {
    int64_t d = e->d, K = e->k;
    if (e->kind != FR_SETS_LP || d < 2 || d > 64 || n < 1 || n > 64) return 0;
    int64_t m = (K + d - 2) / (d - 1);
    if (m > 20 || ((int64_t)1 << (m - 1)) > n) return 0;
    double *w = malloc((size_t)(K * d + 2 * n * d) * sizeof *w);
    int64_t *perm = malloc((size_t)K * sizeof *perm);
    double best = -1;
    int found = 0;
    if (!w || !perm) goto cleanup;
    double *tx = w + K * d, *ty = tx + n * d;
    for (int t = 0; t < 24 && best < sep; t++) {
        if (t == 0)
            for (int64_t k = 0; k < K; k++)
                perm[k] = k;
        else
            fr_rng_permutation(rng, perm, K);
        for (int64_t k = 0; k < K; k++)
            memcpy(w + k * d, e->w + perm[k] * d, (size_t)d * sizeof *w);
        if (!build_once(w, K, d, n, sep, rng, tx, ty)) continue;
        double s = fmin(set_sep(tx, n, d), set_sep(ty, n, d));
        if (s > best) {
            best = s, found = 1;
            memcpy(x, tx, (size_t)(n * d) * sizeof *x);
            memcpy(y, ty, (size_t)(n * d) * sizeof *y);
        }
    }
cleanup:
    free(w);
    free(perm);
    return found;
}

static int ilog2(int64_t n) {
    int r = 0;
    while ((int64_t)1 << (r + 1) <= n)
        r++;
    return r;
}

/* The largest K with 2^(ceil(K/(d-1)) - 1) <= n, the condition in
 * fr_sets_lp_switching_pair, plus one. */
int64_t fr_sets_lp_certified_k(int64_t n, int64_t d) {
    return d == 1 ? 1 : (d - 1) * (ilog2(n) + 1) + 1;
}

void fr_sets_lp_random(int64_t k, int64_t d, struct fr_rng *rng, double *w) {
    for (int64_t i = 0; i < k; i++) {
        double s = 0;
        for (int64_t c = 0; c < d; c++) {
            w[i * d + c] = fr_rng_normal(rng);
            s += w[i * d + c] * w[i * d + c];
        }
        for (int64_t c = 0; c < d; c++)
            w[i * d + c] /= sqrt(s);
    }
}

/* stats.c: intervals over repeated runs and the verdicts they support
 * (report.h). Reproductions compare numbers that move between seeds; a
 * finding is only claimed when the interval of a difference excludes 0.
 *
 * Two intervals: Student t for a handful of runs (seeds), percentile
 * bootstrap for many items (windows, images). The t quantiles for df <= 30
 * are the usual table; beyond, the Cornish-Fisher expansion around 1.96,
 * within 1e-4 of the exact value.
 */
#include "frugal/report.h"
#include "frugal/rng.h"
#include "frugal/status.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double fr_t975(int df) {
    static const double T[31] = {NAN,    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646,
                                 2.3060, 2.2622,  2.2281, 2.2010, 2.1788, 2.1604, 2.1448, 2.1314,
                                 2.1199, 2.1098,  2.1009, 2.0930, 2.0860, 2.0796, 2.0739, 2.0687,
                                 2.0639, 2.0595,  2.0555, 2.0518, 2.0484, 2.0452, 2.0423};
    if (df < 1) return NAN;
    if (df <= 30) return T[df];
    const double z = 1.959963984540054, z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z, d = df;
    return z + (z3 + z) / (4 * d) + (5 * z5 + 16 * z3 + 3 * z) / (96 * d * d) +
           (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * d * d * d);
}

static int check(const double *x, int n) {
    if (n < 1 || !x) return fr_error(FR_EINVAL, "interval: no values");
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return fr_error(FR_EINVAL, "interval: value %d is %g (runs must all finish)", i, x[i]);
    return 0;
}

int fr_interval_t95(const double *x, int n, struct fr_interval *out) {
    memset(out, 0, sizeof *out);
    out->method = "t95";
    int rc = check(x, n);
    if (rc) return rc;
    double m = 0, v = 0;
    for (int i = 0; i < n; i++)
        m += x[i];
    m /= n;
    for (int i = 0; i < n; i++)
        v += (x[i] - m) * (x[i] - m);
    out->mean = m;
    out->n = n;
    if (n < 2) {
        out->lo = out->hi = NAN;
        return 0;
    }
    double h = fr_t975(n - 1) * sqrt(v / (n - 1)) / sqrt((double)n);
    out->lo = m - h;
    out->hi = m + h;
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int fr_interval_bootstrap95(const double *x, int n, int B, uint64_t seed, struct fr_interval *out) {
    memset(out, 0, sizeof *out);
    out->method = "bootstrap95";
    int rc = check(x, n);
    if (rc) return rc;
    if (B < 100) return fr_error(FR_EINVAL, "bootstrap: %d resamples is too few (>= 100)", B);
    double m = 0;
    for (int i = 0; i < n; i++)
        m += x[i];
    out->mean = m / n;
    out->n = n;
    if (n < 2) {
        out->lo = out->hi = NAN;
        return 0;
    }
    double *means = malloc(sizeof(double) * (size_t)B);
    if (!means) return fr_error(FR_ENOMEM, "bootstrap: out of memory");
    struct fr_rng rng;
    fr_rng_seed(&rng, seed);
    for (int b = 0; b < B; b++) {
        double s = 0;
        for (int i = 0; i < n; i++)
            s += x[fr_rng_below(&rng, (uint64_t)n)];
        means[b] = s / n;
    }
    qsort(means, (size_t)B, sizeof *means, cmp_double);
    /* percentiles 2.5 and 97.5 by linear interpolation between order statistics */
    double pl = 0.025 * (B - 1), ph = 0.975 * (B - 1);
    int il = (int)pl, ih = (int)ph;
    out->lo = means[il] + (pl - il) * (means[il + 1 < B ? il + 1 : il] - means[il]);
    out->hi = means[ih] + (ph - ih) * (means[ih + 1 < B ? ih + 1 : ih] - means[ih]);
    free(means);
    return 0;
}

int fr_interval_diff_t95(const double *a, const double *b, int n, struct fr_interval *out) {
    memset(out, 0, sizeof *out);
    out->method = "t95";
    if (n < 1 || !a || !b) return fr_error(FR_EINVAL, "interval: no values");
    double *d = malloc(sizeof(double) * (size_t)n);
    if (!d) return fr_error(FR_ENOMEM, "interval: out of memory");
    for (int i = 0; i < n; i++)
        d[i] = a[i] - b[i];
    int rc = fr_interval_t95(d, n, out);
    free(d);
    return rc;
}

enum fr_verdict fr_verdict_of(const struct fr_interval *diff, int higher_is_better) {
    if (diff->n < 2 || !isfinite(diff->lo) || !isfinite(diff->hi)) return FR_VERDICT_UNKNOWN;
    if (diff->lo > 0) return higher_is_better ? FR_VERDICT_A : FR_VERDICT_B;
    if (diff->hi < 0) return higher_is_better ? FR_VERDICT_B : FR_VERDICT_A;
    return FR_VERDICT_SAME;
}

const char *fr_verdict_text(enum fr_verdict v, const char *a, const char *b, char *buf,
                            size_t cap) {
    switch (v) {
    case FR_VERDICT_A:
        snprintf(buf, cap, "%s better than %s", a, b);
        break;
    case FR_VERDICT_B:
        snprintf(buf, cap, "%s better than %s", b, a);
        break;
    case FR_VERDICT_SAME:
        snprintf(buf, cap, "no measurable difference between %s and %s", a, b);
        break;
    default:
        snprintf(buf, cap, "not enough runs to compare %s and %s", a, b);
        break;
    }
    return buf;
}

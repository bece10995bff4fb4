/* width.c: reading latent widths off measured curves (sets.h): the
 * injectivity threshold L* of a probed ratio curve, the width where a
 * learning curve's error saturates, and the least-squares fit of that
 * width's growth in N and D.
 *
 * Pure functions of the numbers given; they measure nothing themselves
 * (the probe and the training loop do) and choose no grid. The thresholds
 * (10% + 0.01 for saturation, the collision ratio passed in) are the
 * study's definitions, written once here so every caller reads the same
 * L* and L_sat.
 */
#include "frugal/methods/sets.h"

#include <math.h>

double fr_sets_probe_threshold(const double *width, const double *ratio, int n, double collide) {
    double star = NAN;
    for (int i = 0; i < n; i++) {
        if (ratio[i] < collide)
            star = NAN;
        else if (isnan(star))
            star = width[i];
    }
    return star;
}

double fr_sets_best_error(const double *err, int n) {
    double best = INFINITY;
    for (int i = 0; i < n; i++)
        if (isfinite(err[i])) best = fmin(best, err[i]);
    return isfinite(best) ? best : NAN;
}

double fr_sets_saturation_width(const double *width, const double *err, int n) {
    double best = fr_sets_best_error(err, n);
    if (isnan(best)) return NAN;
    for (int i = 0; i < n; i++)
        if (isfinite(err[i]) && err[i] <= 1.1 * best + 0.01) return width[i];
    return NAN;
}

double fr_sets_fit_width(const double *y, const double *u, const double *v, int n, double *b,
                         double *c) {
    double S[3][4] = {{0}};
    for (int i = 0; i < n; i++) {
        double f[3] = {1, u[i], v[i]};
        for (int r = 0; r < 3; r++) {
            for (int k = 0; k < 3; k++)
                S[r][k] += f[r] * f[k];
            S[r][3] += f[r] * y[i];
        }
    }
    for (int p = 0; p < 3; p++) { /* Gauss-Jordan with a tiny ridge for a constant column */
        S[p][p] += 1e-9;
        for (int r = 0; r < 3; r++) {
            if (r == p) continue;
            double f = S[r][p] / S[p][p];
            for (int k = 0; k < 4; k++)
                S[r][k] -= f * S[p][k];
        }
    }
    double coef[3] = {S[0][3] / S[0][0], S[1][3] / S[1][1], S[2][3] / S[2][2]};
    double my = 0, ss = 0, sr = 0;
    for (int i = 0; i < n; i++)
        my += y[i] / n;
    for (int i = 0; i < n; i++) {
        double pr = coef[0] + coef[1] * u[i] + coef[2] * v[i];
        ss += (y[i] - my) * (y[i] - my);
        sr += (y[i] - pr) * (y[i] - pr);
    }
    *b = coef[1], *c = coef[2];
    return ss > 0 ? 1.0 - sr / ss : NAN;
}

/* linalg.c: small dense double-precision linear algebra for measurements
 * (kernels.h): symmetric eigenvalues by cyclic Jacobi rotations and
 * log|det| by LU with partial pivoting. The matrices are a few hundred
 * rows at most (a batch's Gram or correlation matrix, a set embedding's
 * Jacobian), so clarity wins over blocking. */
#include "frugal/kernels.h"

#include <math.h>
#include <stdlib.h>

void fr_sym_eigenvalues(double *a, int64_t n, double *ev) {
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0, diag = 0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++)
                if (i != j)
                    off += a[i * n + j] * a[i * n + j];
                else
                    diag += a[i * n + i] * a[i * n + i];
        if (off == 0 || off <= 1e-30 * diag) break;
        for (int64_t p = 0; p < n; p++)
            for (int64_t q = p + 1; q < n; q++) {
                double apq = a[p * n + q];
                if (fabs(apq) < 1e-300) continue;
                double th = (a[q * n + q] - a[p * n + p]) / (2 * apq);
                double t = (th >= 0 ? 1.0 : -1.0) / (fabs(th) + sqrt(th * th + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int64_t k = 0; k < n; k++) { /* columns p, q */
                    double akp = a[k * n + p], akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for (int64_t k = 0; k < n; k++) { /* rows p, q */
                    double apk = a[p * n + k], aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
            }
    }
    for (int64_t i = 0; i < n; i++)
        ev[i] = a[i * n + i];
    for (int64_t i = 1; i < n; i++) /* insertion sort, ascending */
        for (int64_t j = i; j > 0 && ev[j] < ev[j - 1]; j--) {
            double t = ev[j];
            ev[j] = ev[j - 1], ev[j - 1] = t;
        }
}

double fr_log_abs_det(double *a, int64_t n) {
    double s = 0;
    for (int64_t k = 0; k < n; k++) {
        int64_t piv = k;
        for (int64_t i = k + 1; i < n; i++)
            if (fabs(a[i * n + k]) > fabs(a[piv * n + k])) piv = i;
        if (a[piv * n + k] == 0) return -INFINITY;
        if (piv != k)
            for (int64_t j = 0; j < n; j++) {
                double t = a[k * n + j];
                a[k * n + j] = a[piv * n + j], a[piv * n + j] = t;
            }
        s += log(fabs(a[k * n + k]));
        for (int64_t i = k + 1; i < n; i++) {
            double f = a[i * n + k] / a[k * n + k];
            for (int64_t j = k; j < n; j++)
                a[i * n + j] -= f * a[k * n + j];
        }
    }
    return s;
}

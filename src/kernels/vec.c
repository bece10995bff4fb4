/* vec.c: the contiguous f32 vector kernels declared in vec.h. */
#include "vec.h"

FR_CLONES void fr_vec_add(int64_t n, const float *a, const float *b, float *y) {
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] + b[i];
}
FR_CLONES void fr_vec_sub(int64_t n, const float *a, const float *b, float *y) {
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] - b[i];
}
FR_CLONES void fr_vec_mul(int64_t n, const float *a, const float *b, float *y) {
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] * b[i];
}
FR_CLONES void fr_vec_div(int64_t n, const float *a, const float *b, float *y) {
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] / b[i];
}
FR_CLONES void fr_vec_acc(int64_t n, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++)
        y[i] += x[i];
}
FR_CLONES void fr_vec_acc_scaled(int64_t n, float s, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++)
        y[i] += s * x[i];
}
FR_CLONES void fr_vec_acc_mul(int64_t n, const float *a, const float *b, float *y) {
    for (int64_t i = 0; i < n; i++)
        y[i] += a[i] * b[i];
}
FR_CLONES void fr_vec_scale(int64_t n, float s, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++)
        y[i] = s * x[i];
}
FR_CLONES void fr_vec_add_scalar(int64_t n, float s, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] + s;
}

/* Sums in 8 independent double lanes (vectorisable without -ffast-math),
 * combined pairwise: close to a double sum, and deterministic. */
FR_CLONES double fr_vec_sum_f64(int64_t n, const float *x) {
    double a[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            a[k] += x[i + k];
    for (; i < n; i++)
        a[i & 7] += x[i];
    return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
}

FR_CLONES float fr_vec_sum(int64_t n, const float *x) {
    float acc[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++)
            acc[j] += x[i + j];
    double s = 0;
    for (int j = 0; j < 16; j++)
        s += acc[j];
    for (; i < n; i++)
        s += x[i];
    return (float)s;
}

FR_CLONES float fr_vec_dot(int64_t n, const float *a, const float *b) {
    float acc[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++)
            acc[j] += a[i + j] * b[i + j];
    double s = 0;
    for (int j = 0; j < 16; j++)
        s += acc[j];
    for (; i < n; i++)
        s += (double)a[i] * b[i];
    return (float)s;
}

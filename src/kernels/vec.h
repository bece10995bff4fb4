/* vec.h: f32 vector kernels on contiguous arrays (private to the library).
 *
 * Each is plain C written so the compiler vectorises it, built with
 * target_clones for AVX-512, AVX2+FMA and baseline x86-64, so one binary runs
 * everywhere and the CPU picks the widest path at load time. The scalar
 * reference for every op lives in the op's own file (its f64/reference path),
 * not here. Names: fr_vec_<what>(n, inputs..., output).
 */
#ifndef FRUGAL_VEC_H
#define FRUGAL_VEC_H

#include <stdint.h>

#if defined(__x86_64__) && !defined(FR_NO_CLONES) && !defined(__clang_analyzer__)
#define FR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FR_CLONES
#endif

void fr_vec_add(int64_t n, const float *a, const float *b, float *y);     /* y = a + b */
void fr_vec_sub(int64_t n, const float *a, const float *b, float *y);     /* y = a - b */
void fr_vec_mul(int64_t n, const float *a, const float *b, float *y);     /* y = a * b */
void fr_vec_div(int64_t n, const float *a, const float *b, float *y);     /* y = a / b */
void fr_vec_acc(int64_t n, const float *x, float *y);                     /* y += x */
void fr_vec_acc_scaled(int64_t n, float s, const float *x, float *y);     /* y += s*x */
void fr_vec_acc_mul(int64_t n, const float *a, const float *b, float *y); /* y += a*b */
void fr_vec_scale(int64_t n, float s, const float *x, float *y);          /* y = s*x */
void fr_vec_add_scalar(int64_t n, float s, const float *x, float *y);     /* y = x + s */
float fr_vec_sum(int64_t n, const float *x);                              /* sum (double acc) */
/* sum in double over eight interleaved partial sums: a fixed order, so the
 * same bits on every path and run */
double fr_vec_sum_f64(int64_t n, const float *x);
float fr_vec_dot(int64_t n, const float *a, const float *b);

#endif

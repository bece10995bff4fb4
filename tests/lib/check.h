/* check.h: the test harness. CHECK macros count failures; a test's main
 * ends with `return check_report("name");`, which prints
 * "N passed, M failed" and returns nonzero on any failure.
 *
 * check_op() is the per-op workhorse: it builds the op on random inputs
 *  1. in f64 and compares every input gradient with central finite
 *     differences (double precision, so tolerances are tight);
 *  2. in f32 with the fast paths and in f32 reference mode, and compares
 *     outputs and gradients of the two.
 * Inputs may be made strided (a slice of a wider tensor) to exercise views.
 */
#ifndef FRUGAL_TEST_CHECK_H
#define FRUGAL_TEST_CHECK_H

#include "frugal/frugal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

extern int g_check_pass, g_check_fail;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (cond) {                                                                                \
            g_check_pass++;                                                                        \
        } else {                                                                                   \
            g_check_fail++;                                                                        \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
        }                                                                                          \
    } while (0)

#define CHECK_NEAR(a, b, tol, what)                                                                \
    CHECK(fabs((double)(a) - (double)(b)) <= (tol), "%s: %.9g vs %.9g (tol %g)", what,             \
          (double)(a), (double)(b), (double)(tol))

int check_report(const char *name);

/* CTest's skip code (SKIP_RETURN_CODE in tests/CMakeLists.txt): a test that
 * cannot run (missing data) returns check_skip(name, why), which prints
 * "name: SKIPPED: why" and returns it; ctest then lists the test as
 * skipped, never passed. */
#define CHECK_SKIP 77
int check_skip(const char *name, const char *why);

/* This test's own temporary directory (mkdtemp under $TMPDIR or /tmp),
 * made on first use and removed with its contents at exit, so tests never
 * share or collide on paths. check_tmp("x.bin") is a path inside it in a
 * static rotating buffer (8 live at a time). */
const char *check_tmpdir(void);
/* A whole file read into *out (malloc'd, one spare byte): its size, or -1. */
long check_slurp(const char *path, unsigned char **out);

/* Runs fr_backward_ready from loss and checks that every trainable
 * parameter of p is reported exactly once, and that the gradient it holds
 * when reported is its final one (a copy taken in the callback equals the
 * gradient after the whole backward pass). p's grads must be zero. */
struct fr_params;
struct fr_ctx;
struct fr_tensor;
void check_grad_ready(const char *what, struct fr_params *p, struct fr_ctx *ctx,
                      struct fr_tensor *loss);
/* B fixed images {28, 28, 1, B}, uniform in [0, 1) from seed, and B
 * labels below 10 drawn after them (standalone tensors: fr_tensor_free):
 * the batch the model tests fit. */
void check_random_images(int B, uint64_t seed, struct fr_tensor **x, struct fr_tensor **y);
/* 1 when both files exist, are non-empty and hold the same bytes. */
int check_same_file(const char *a, const char *b);
const char *check_tmp(const char *name);

/* A synthetic IDX file in Fashion-MNIST's layout: n images of hw x hw u8
 * pixels (labels 0: pixel i is i * 37 % 251) or n u8 labels 0..9 cycling
 * (labels 1; hw ignored). Nothing is written if path cannot be opened. */
void check_write_idx(const char *path, int n, int hw, int labels);

/* An input of an op under test. */
struct check_input {
    int ndim;
    int64_t ne[4];
    double lo, hi;  /* uniform range of values (default -1..1 when equal) */
    int no_grad;    /* do not check its gradient */
    int is_int;     /* I32 input with integer values in [lo, hi] */
    int strided;    /* pass a strided view (slice of a wider tensor) */
    int avoid_kink; /* keep values at least 0.05 away from kinks listed below */
    double kinks[4];
    int nkinks;
};

typedef fr_t *(*check_build_fn)(struct fr_ctx *ctx, fr_t **in, void *arg);

struct check_opts {
    double fd_rtol, fd_atol;     /* finite differences (f64); default 1e-6, 1e-8 */
    double fast_rtol, fast_atol; /* fast vs reference (f32); default 1e-4, 1e-5 */
    double h;                    /* FD step; default 1e-6 */
    int train;                   /* run in training mode */
    uint64_t seed;
};

/* Returns the number of failures (also counted in g_check_fail). */
int check_op(const char *name, check_build_fn f, void *arg, int nin, const struct check_input *in,
             const struct check_opts *opts);

/* Max |a-b| / (atol + rtol*|b|) over two tensors of equal shape (<= 1 is a pass). */
double check_compare(const fr_t *a, const fr_t *b, double rtol, double atol);

#endif

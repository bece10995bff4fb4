/* test_ops_matmul.c: matmul and linear through check_op (f64 gradients vs
 * finite differences, f32 GEMM fast path vs the strided reference loops):
 * odd sizes, tiles past the micro-kernel edges, batched and broadcast
 * batch dims, strided and transposed views (the transpose-flag path),
 * non-collapsible inputs (the copy path), linear with/without bias and on
 * 3-d input; plus the one-line errors for bad shapes. */
#include "check.h"

static fr_t *b_mm(struct fr_ctx *c, fr_t **x, void *a) {
    (void)a;
    return fr_matmul(c, x[0], x[1]);
}
/* which = 1: a is given as (K, M) and transposed; 2: b likewise; 3: both */
static fr_t *b_mm_t(struct fr_ctx *c, fr_t **x, void *a) {
    int w = *(int *)a;
    fr_t *p = w & 1 ? fr_transpose(c, x[0], 0, 1) : x[0];
    fr_t *q = w & 2 ? fr_transpose(c, x[1], 0, 1) : x[1];
    return fr_matmul(c, p, q);
}
static fr_t *b_lin(struct fr_ctx *c, fr_t **x, void *a) {
    return fr_linear(c, x[0], x[1], *(int *)a ? x[2] : NULL);
}
/* weight given as (in, out) and transposed to (out, in) */
static fr_t *b_lin_wt(struct fr_ctx *c, fr_t **x, void *a) {
    (void)a;
    return fr_linear(c, x[0], fr_transpose(c, x[1], 0, 1), x[2]);
}
/* x {in, A, B} permuted to {in, B, A}: rows no longer collapse (copy path) */
static fr_t *b_lin_perm(struct fr_ctx *c, fr_t **x, void *a) {
    (void)a;
    return fr_linear(c, fr_permute(c, x[0], (int[]){0, 2, 1, 3}), x[1], x[2]);
}

#define IN2(a0, a1)                                                                                \
    {                                                                                              \
        2, {                                                                                       \
            a0, a1, 1, 1                                                                           \
        }                                                                                          \
    }
#define IN3(a0, a1, a2)                                                                            \
    {                                                                                              \
        3, {                                                                                       \
            a0, a1, a2, 1                                                                          \
        }                                                                                          \
    }
#define IN4(a0, a1, a2, a3)                                                                        \
    {                                                                                              \
        4, {                                                                                       \
            a0, a1, a2, a3                                                                         \
        }                                                                                          \
    }

int main(void) {
    fr_threads_set(2);
    /* a {K, M, ..} @ b {N, K, ..} */
    struct {
        struct check_input a, b;
        const char *name;
    } mm[] = {
        {IN2(5, 3), IN2(4, 5), "matmul 3x5 @ 5x4"},
        {IN2(7, 13), IN2(11, 7), "matmul odd 13x7 @ 7x11"},
        {IN2(1, 1), IN2(1, 1), "matmul 1x1"},
        {IN2(9, 1), IN2(70, 9), "matmul M=1 (small-M path)"},
        {IN2(20, 17), IN2(70, 20), "matmul 17x20 @ 20x70 (edge tiles)"},
        {IN3(6, 5, 3), IN3(4, 6, 3), "matmul batched"},
        {IN3(6, 5, 1), IN3(4, 6, 3), "matmul broadcast a batch"},
        {IN4(6, 5, 1, 2), IN4(4, 6, 3, 1), "matmul broadcast both batch dims"},
        {IN2(6, 5), IN3(4, 6, 3), "matmul 2-d a, batched b"},
    };
    for (size_t i = 0; i < sizeof mm / sizeof mm[0]; i++) {
        struct check_input in[2] = {mm[i].a, mm[i].b};
        check_op(mm[i].name, b_mm, NULL, 2, in, NULL);
    }
    {
        struct check_input in[2] = {IN2(8, 5), IN2(6, 8)};
        in[0].strided = 1; /* lda > K */
        check_op("matmul strided a", b_mm, NULL, 2, in, NULL);
        in[0].strided = 0, in[1].strided = 1;
        check_op("matmul strided b", b_mm, NULL, 2, in, NULL);
    }
    for (int w = 1; w <= 3; w++) {
        /* K = 6, M = 5, N = 19 */
        struct check_input in[2] = {
            w & 1 ? (struct check_input)IN2(5, 6) : (struct check_input)IN2(6, 5),
            w & 2 ? (struct check_input)IN2(6, 19) : (struct check_input)IN2(19, 6)};
        char nm[64];
        snprintf(nm, sizeof nm, "matmul transposed view(s) %d", w);
        check_op(nm, b_mm_t, &w, 2, in, NULL);
        in[0].strided = 1; /* transposed and strided: the copy path */
        snprintf(nm, sizeof nm, "matmul transposed strided %d", w);
        check_op(nm, b_mm_t, &w, 2, in, NULL);
    }

    /* linear: x {in, rows..}, w {in, out}, bias {out} */
    int with = 1, without = 0;
    struct check_input l1[3] = {IN2(6, 4), IN2(6, 3), {1, {3, 1, 1, 1}}};
    check_op("linear", b_lin, &with, 3, l1, NULL);
    check_op("linear no bias", b_lin, &without, 2, l1, NULL);
    struct check_input l3[3] = {IN3(6, 4, 2), IN2(6, 5), {1, {5, 1, 1, 1}}};
    check_op("linear 3-d input", b_lin, &with, 3, l3, NULL);
    struct check_input l4[3] = {IN4(3, 2, 2, 2), IN2(3, 2), {1, {2, 1, 1, 1}}};
    check_op("linear 4-d input", b_lin, &with, 3, l4, NULL);
    struct check_input lb[3] = {IN2(21, 13), IN2(21, 70), {1, {70, 1, 1, 1}}};
    check_op("linear 13x21 -> 70 (edge tiles)", b_lin, &with, 3, lb, NULL);
    struct check_input ls[3] = {IN2(7, 4), IN2(7, 3), {1, {3, 1, 1, 1}}};
    ls[0].strided = 1;
    check_op("linear strided x", b_lin, &with, 3, ls, NULL);
    ls[0].strided = 0, ls[1].strided = 1, ls[2].strided = 1;
    check_op("linear strided w and bias", b_lin, &with, 3, ls, NULL);
    struct check_input lt[3] = {IN2(7, 4), IN2(3, 7), {1, {3, 1, 1, 1}}};
    check_op("linear transposed w view", b_lin_wt, NULL, 3, lt, NULL);
    struct check_input lp[3] = {IN3(5, 3, 4), IN2(5, 2), {1, {2, 1, 1, 1}}};
    check_op("linear permuted x (copy path)", b_lin_perm, NULL, 3, lp, NULL);

    /* bad shapes: NULL and a one-line message */
    struct fr_ctx *ctx = fr_ctx_new(1 << 20);
    fr_t *a = fr_zeros(ctx, FR_F32, 2, (int64_t[]){3, 4}),
         *b = fr_zeros(ctx, FR_F32, 2, (int64_t[]){5, 4});
    CHECK(fr_matmul(ctx, a, b) == NULL, "matmul (4,3) @ (4,5) must fail");
    CHECK(strstr(fr_last_error(), "inner") != NULL, "message: %s", fr_last_error());
    fr_t *c3 = fr_zeros(ctx, FR_F32, 3, (int64_t[]){3, 4, 2}),
         *d3 = fr_zeros(ctx, FR_F32, 3, (int64_t[]){5, 3, 3});
    CHECK(fr_matmul(ctx, c3, d3) == NULL, "batch 2 vs 3 must fail");
    CHECK(strstr(fr_last_error(), "broadcast") != NULL, "message: %s", fr_last_error());
    CHECK(fr_matmul(ctx, NULL, b) == NULL, "NULL propagates");
    fr_t *w = fr_zeros(ctx, FR_F32, 2, (int64_t[]){4, 6}),
         *bias = fr_zeros(ctx, FR_F32, 1, (int64_t[]){5});
    CHECK(fr_linear(ctx, a, w, NULL) == NULL, "linear in 3 vs weight in 4 must fail");
    CHECK(strstr(fr_last_error(), "features") != NULL, "message: %s", fr_last_error());
    fr_t *x4 = fr_zeros(ctx, FR_F32, 2, (int64_t[]){4, 2});
    CHECK(fr_linear(ctx, x4, w, bias) == NULL, "bias 5 vs 6 outputs must fail");
    CHECK(fr_linear(ctx, x4, w, NULL) != NULL, "a good linear works");
    fr_t *i32 = fr_zeros(ctx, FR_I32, 2, (int64_t[]){4, 2});
    CHECK(fr_linear(ctx, i32, w, NULL) == NULL, "integer input must fail");
    fr_ctx_free(ctx);
    return check_report("test_ops_matmul");
}

/* test_ops_basic.c: elementwise binary ops with broadcasting, reductions
 * and views, each against finite differences (f64) and fast vs reference. */
#include "check.h"

static fr_t *b_add(struct fr_ctx *c, fr_t **x, void *a) {
    (void)a;
    return fr_add(c, x[0], x[1]);
}
static fr_t *b_sub(struct fr_ctx *c, fr_t **x, void *a) {
    (void)a;
    return fr_sub(c, x[0], x[1]);
}
static fr_t *b_mul(struct fr_ctx *c, fr_t **x, void *a) {
    (void)a;
    return fr_mul(c, x[0], x[1]);
}
static fr_t *b_div(struct fr_ctx *c, fr_t **x, void *a) {
    (void)a;
    return fr_div(c, x[0], x[1]);
}
static fr_t *b_sum(struct fr_ctx *c, fr_t **x, void *a) {
    return fr_sum(c, x[0], *(int *)a);
}
static fr_t *b_mean(struct fr_ctx *c, fr_t **x, void *a) {
    return fr_mean(c, x[0], *(int *)a);
}
static fr_t *b_max(struct fr_ctx *c, fr_t **x, void *a) {
    return fr_max(c, x[0], *(int *)a);
}
static fr_t *b_perm(struct fr_ctx *c, fr_t **x, void *a) {
    (void)a;
    fr_t *p = fr_permute(c, x[0], (int[]){2, 0, 1, 3});
    return fr_mul(c, p, p); /* a non-linear use of the strided view */
}
static fr_t *b_reshape(struct fr_ctx *c, fr_t **x, void *a) {
    (void)a;
    fr_t *t = fr_transpose(c, x[0], 0, 1);
    return fr_reshape(c, t, 1, (int64_t[]){fr_nelem(x[0])});
}
static fr_t *b_expand(struct fr_ctx *c, fr_t **x, void *a) {
    (void)a;
    fr_t *e = fr_expand(c, x[0], 3, (int64_t[]){5, 3, 2});
    return fr_mul(c, e, x[1]);
}
static fr_t *b_concat(struct fr_ctx *c, fr_t **x, void *a) {
    return fr_concat(c, x[0], x[1], *(int *)a);
}
static fr_t *b_slice(struct fr_ctx *c, fr_t **x, void *a) {
    (void)a;
    fr_t *s = fr_slice(c, x[0], 1, 1, 2);
    return fr_mul(c, s, s);
}

int main(void) {
    fr_threads_set(2);
    check_build_fn bins[] = {b_add, b_sub, b_mul, b_div};
    const char *names[] = {"add", "sub", "mul", "div"};
    /* shape pairs: same, row broadcast (bias), column broadcast, both ways, odd */
    int64_t sa[][4] = {{7, 5, 1, 1},   {7, 5, 3, 1}, {7, 5, 1, 1},  {1, 5, 1, 1},
                       {33, 17, 1, 1}, {6, 1, 4, 1}, {600, 3, 1, 1}};
    int64_t sb[][4] = {{7, 5, 1, 1},   {7, 1, 1, 1}, {1, 5, 1, 1},  {7, 1, 1, 1},
                       {33, 17, 1, 1}, {6, 5, 1, 2}, {600, 1, 1, 1}};
    int nd[] = {2, 3, 2, 2, 2, 4, 2};
    for (int op = 0; op < 4; op++)
        for (int s = 0; s < 7; s++) {
            struct check_input in[2] = {{nd[s], {sa[s][0], sa[s][1], sa[s][2], sa[s][3]}},
                                        {nd[s], {sb[s][0], sb[s][1], sb[s][2], sb[s][3]}}};
            if (op == 3) in[1].lo = 0.5, in[1].hi = 2.0;
            if (s == 4) in[0].strided = 1;
            if (s == 6) in[0].no_grad = in[1].no_grad = 0;
            char nm[64];
            snprintf(nm, sizeof nm, "%s shape %d", names[op], s);
            check_op(nm, bins[op], NULL, 2, in, NULL);
        }
    for (int dim = -1; dim < 3; dim++) {
        struct check_input in = {3, {6, 5, 4}};
        struct check_input ins = {3, {6, 5, 4}, .strided = 1};
        check_op("sum", b_sum, &dim, 1, &in, NULL);
        check_op("sum strided", b_sum, &dim, 1, &ins, NULL);
        check_op("mean", b_mean, &dim, 1, &in, NULL);
        check_op("max", b_max, &dim, 1, &in, NULL);
    }
    struct check_input p3 = {3, {4, 3, 2}};
    check_op("permute", b_perm, NULL, 1, &p3, NULL);
    check_op("transpose+reshape", b_reshape, NULL, 1, &p3, NULL);
    struct check_input ex[2] = {{2, {5, 1}}, {3, {5, 3, 2}}};
    check_op("expand", b_expand, NULL, 2, ex, NULL);
    for (int dim = 0; dim < 2; dim++) {
        struct check_input cc[2] = {{2, {4, 3}}, {2, {4, 3}}};
        cc[1].ne[dim] = 2;
        check_op("concat", b_concat, &dim, 2, cc, NULL);
    }
    check_op("slice", b_slice, NULL, 1, &p3, NULL);

    /* bad input: shapes that do not broadcast give NULL and a message */
    struct fr_ctx *ctx = fr_ctx_new(1 << 20);
    fr_t *a = fr_zeros(ctx, FR_F32, 2, (int64_t[]){3, 4});
    fr_t *b = fr_zeros(ctx, FR_F32, 2, (int64_t[]){5, 4});
    CHECK(fr_add(ctx, a, b) == NULL, "add of (4,3) and (4,5) must fail");
    CHECK(strstr(fr_last_error(), "broadcast") != NULL, "message: %s", fr_last_error());
    CHECK(fr_add(ctx, NULL, b) == NULL, "NULL propagates");
    CHECK(fr_reshape(ctx, a, 1, (int64_t[]){11}) == NULL, "bad reshape fails");
    CHECK(fr_slice(ctx, a, 0, 2, 5) == NULL, "bad slice fails");
    fr_ctx_free(ctx);
    return check_report("test_ops_basic");
}

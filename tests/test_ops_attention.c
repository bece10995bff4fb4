/* test_ops_attention.c: rope and attention against finite differences
 * (f64) and fast vs reference (f32); GQA equals MHA with duplicated KV
 * heads; strided q/k/v (slices of a fused qkv) equal contiguous ones. */
#include "check.h"

struct acfg {
    int H, Hkv, causal;
};

static fr_t *b_att(struct fr_ctx *c, fr_t **x, void *a) {
    struct acfg *g = a;
    return fr_attention(c, x[0], x[1], x[2], g->H, g->Hkv, g->causal);
}
static fr_t *b_rope(struct fr_ctx *c, fr_t **x, void *a) {
    int half = *(int *)a;
    return fr_rope(c, x[0], 2, 10000.0f, half, 3);
}
/* fused qkv {3*D, T, B} sliced into q, k, v views */
static fr_t *b_fused(struct fr_ctx *c, fr_t **x, void *a) {
    (void)a;
    int64_t D = x[0]->ne[0] / 3;
    fr_t *q = fr_slice(c, x[0], 0, 0, D), *k = fr_slice(c, x[0], 0, D, D),
         *v = fr_slice(c, x[0], 0, 2 * D, D);
    return fr_attention(c, q, k, v, 2, 2, 1);
}

int main(void) {
    fr_threads_set(2);
    struct acfg cfgs[] = {{2, 2, 1}, {4, 2, 1}, {4, 1, 1}, {2, 2, 0}};
    for (int i = 0; i < 4; i++) {
        int hs = 3, T = 5, B = 2;
        struct check_input in[3] = {{3, {cfgs[i].H * hs, T, B}},
                                    {3, {cfgs[i].Hkv * hs, T, B}},
                                    {3, {cfgs[i].Hkv * hs, T, B}}};
        char nm[64];
        snprintf(nm, sizeof nm, "attention H%d Hkv%d causal%d", cfgs[i].H, cfgs[i].Hkv,
                 cfgs[i].causal);
        check_op(nm, b_att, &cfgs[i], 3, in, NULL);
    }
    struct check_input big[3] = {{3, {32, 17, 2}}, {3, {16, 17, 2}}, {3, {16, 17, 2}}};
    struct acfg bc = {4, 2, 1};
    struct check_opts fast = {.h = 1e-5};
    check_op("attention T17", b_att, &bc, 3, big, &fast);
    for (int half = 0; half < 2; half++) {
        struct check_input in = {3, {8, 4, 2}};
        check_op(half ? "rope half" : "rope interleaved", b_rope, &half, 1, &in, NULL);
    }
    struct check_input fused = {3, {18, 4, 2}};
    check_op("attention on fused qkv slices", b_fused, NULL, 1, &fused, NULL);

    /* GQA equals MHA with the KV heads duplicated */
    struct fr_ctx *ctx = fr_ctx_new(1 << 22);
    struct fr_rng r;
    fr_rng_seed(&r, 5);
    int hs = 4, T = 6, H = 4, Hkv = 2;
    fr_t *q = fr_new3(ctx, FR_F32, H * hs, T, 1), *k = fr_new3(ctx, FR_F32, Hkv * hs, T, 1),
         *v = fr_new3(ctx, FR_F32, Hkv * hs, T, 1);
    fr_rng_fill_normal(&r, q->data, fr_nelem(q), 0, 1);
    fr_rng_fill_normal(&r, k->data, fr_nelem(k), 0, 1);
    fr_rng_fill_normal(&r, v->data, fr_nelem(v), 0, 1);
    fr_t *k2 = fr_new3(ctx, FR_F32, H * hs, T, 1), *v2 = fr_new3(ctx, FR_F32, H * hs, T, 1);
    for (int t = 0; t < T; t++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < hs; i++) {
                ((float *)k2->data)[t * H * hs + h * hs + i] =
                    ((float *)k->data)[t * Hkv * hs + (h / 2) * hs + i];
                ((float *)v2->data)[t * H * hs + h * hs + i] =
                    ((float *)v->data)[t * Hkv * hs + (h / 2) * hs + i];
            }
    fr_t *a = fr_attention(ctx, q, k, v, H, Hkv, 1), *b = fr_attention(ctx, q, k2, v2, H, H, 1);
    CHECK(check_compare(a, b, 1e-6, 1e-6) <= 1, "GQA == MHA with duplicated kv heads");
    CHECK(fr_attention(ctx, q, k, v, 3, 1, 1) == NULL, "heads not dividing features rejected");
    CHECK(fr_attention(ctx, q, k, v, 4, 3, 1) == NULL, "kv heads not dividing heads rejected");
    CHECK(fr_rope(ctx, q, 3, 10000, 0, 0) == NULL, "rope with odd split rejected");
    fr_ctx_free(ctx);
    return check_report("test_ops_attention");
}

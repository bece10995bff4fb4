/* test_vit.c: the small ViT of the model zoo (src/models/vit.c).
 *
 * Parameter count by hand (dim 64, 2 blocks, MLP 128, patch 4, 1x28x28
 * input -> 7x7 = 49 tokens, 10 classes):
 *   patch_embed.proj  4*4*1*64 + 64                          =  1088
 *   pos_embed         64 * 49                                =  3136
 *   per block  norm1 64+64 = 128, qkv 64*192+192 = 12480,
 *              proj 64*64+64 = 4160, norm2 128,
 *              fc1 64*128+128 = 8320, fc2 128*64+64 = 8256   = 33472
 *   2 blocks                                                 = 66944
 *   norm 128, head 64*10+10 = 650                            =   778
 *   total                                                    = 71946
 * in 2 + 1 + 2*12 + 2 + 2 = 31 state_dict entries. Prunable (the body
 * linear weights): 2 * (12288 + 4096 + 8192 + 8192) = 65536.
 *
 * Also: logits shape for 28x28 and 3x32x32 inputs, a bad input shape is a
 * clear error, the same seed gives the same weights and logits, and the
 * training loss on a fixed batch falls below half its start. */
#include "check.h"
#include "frugal/models.h"
#include "frugal/nn.h"
#include "frugal/optim.h"

#include <string.h>

static double forward_sum(struct fr_model *m, struct fr_tensor *x, int64_t *n_out) {
    struct fr_ctx *ctx = fr_ctx_new(16 << 20);
    fr_set_training(ctx, 0);
    int g = fr_no_grad_begin(ctx);
    struct fr_tensor *y = m->forward(m, ctx, x);
    double s = 0;
    *n_out = y ? fr_nelem(y) : -1;
    for (int64_t i = 0; y && i < fr_nelem(y); i++)
        s += fr_get(y, i) * (double)(i + 1);
    fr_no_grad_end(ctx, g);
    fr_ctx_free(ctx);
    return s;
}

static void test_counts(void) {
    struct fr_model *m = fr_model_new("vit", NULL, 1);
    CHECK(m != NULL, "create: %s", fr_last_error());
    if (!m) return;
    CHECK(fr_params_count_trainable(&m->params) == 71946, "vit: %lld trainable, by hand 71946",
          (long long)fr_params_count_trainable(&m->params));
    CHECK(m->params.count == 31, "vit: %d entries, by hand 31", m->params.count);
    int64_t prunable = 0;
    for (int i = 0; i < m->params.count; i++)
        if (m->params.items[i].flags & FR_PARAM_PRUNABLE)
            prunable += fr_nelem(m->params.items[i].t);
    CHECK(prunable == 65536, "vit: %lld prunable, by hand 65536", (long long)prunable);
    const char *names[] = {"patch_embed.proj.weight", "pos_embed",   "blocks.0.attn.qkv.weight",
                           "blocks.1.mlp.fc2.bias",   "norm.weight", "head.bias"};
    for (int i = 0; i < 6; i++)
        CHECK(fr_params_find(&m->params, names[i]), "no %s", names[i]);
    struct fr_param *h = fr_params_find(&m->params, "head.weight");
    struct fr_param *q = fr_params_find(&m->params, "blocks.1.attn.proj.weight");
    CHECK(h && !(h->flags & FR_PARAM_PRUNABLE) && q && (q->flags & FR_PARAM_PRUNABLE),
          "pruning scope: head out, body in");
    fr_model_free(m);
}

static void test_shapes_and_seed(void) {
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    mc.in_channels = 3;
    mc.in_h = mc.in_w = 32;
    mc.n_classes = 7;
    struct fr_model *a = fr_model_new("vit", &mc, 5), *b = fr_model_new("vit", &mc, 5),
                    *c = fr_model_new("vit", &mc, 6);
    CHECK(a && b && c, "create 3x32x32: %s", fr_last_error());
    if (!a || !b || !c) goto done;
    CHECK(fr_params_find(&a->params, "pos_embed")->t->ne[1] == 64, "32x32 -> 64 tokens");
    CHECK(memcmp(a->params.data, b->params.data, a->params.n * 4) == 0 &&
              memcmp(a->params.data, c->params.data, a->params.n * 4) != 0,
          "seeded init");
    struct fr_tensor *x = fr_tensor_new(FR_F32, 4, (int64_t[]){32, 32, 3, 5});
    struct fr_rng r;
    fr_rng_seed(&r, 3);
    fr_rng_fill_uniform(&r, x->data, fr_nelem(x), -1, 1);
    int64_t na = 0, nb = 0;
    double sa = forward_sum(a, x, &na), sb = forward_sum(b, x, &nb);
    CHECK(na == 7 * 5 && nb == na, "logits {7, 5}: %lld", (long long)na);
    CHECK(sa == sb && isfinite(sa), "same seed, same logits (%g vs %g)", sa, sb);
    fr_tensor_free(x);
    /* wrong input shape: a clear error, no crash */
    x = fr_tensor_new(FR_F32, 4, (int64_t[]){28, 28, 1, 2});
    struct fr_ctx *ctx = fr_ctx_new(1 << 20);
    CHECK(a->forward(a, ctx, x) == NULL && strstr(fr_last_error(), "vit"), "bad input: %s",
          fr_last_error());
    fr_ctx_free(ctx);
    fr_tensor_free(x);
    mc.in_h = 3;
    CHECK(fr_model_new("vit", &mc, 1) == NULL && strstr(fr_last_error(), "patch"),
          "too-small input: %s", fr_last_error());
done:
    fr_model_free(a);
    fr_model_free(b);
    fr_model_free(c);
}

/* 16 fixed random images, random labels, AdamW: the loss must halve. */
static void test_fit(void) {
    struct fr_model *m = fr_model_new("vit", NULL, 42);
    if (!m) return;
    const int B = 16;
    struct fr_ctx *ctx = fr_ctx_new(32 << 20);
    struct fr_tensor *x, *y;
    check_random_images(B, 7, &x, &y);
    struct fr_optim o;
    struct fr_optim_config oc;
    fr_optim_config_defaults(&oc, FR_OPT_ADAMW);
    oc.lr = 2e-3;
    fr_optim_init(&o, &m->params, &oc);
    double first = 0, last = 0;
    for (int s = 0; s < 40; s++) {
        fr_params_zero_grad(&m->params);
        struct fr_tensor *loss = fr_cross_entropy(ctx, m->forward(m, ctx, x), y, 0.0f);
        CHECK(loss != NULL, "forward failed: %s", fr_last_error());
        if (!loss) break;
        last = fr_get(loss, 0);
        if (s == 0) first = last;
        fr_backward(ctx, loss);
        fr_optim_step(&o, -1);
        fr_ctx_reset(ctx);
    }
    printf("vit fixed-batch loss %.4f -> %.4f\n", first, last);
    CHECK(last < 0.5 * first, "vit: loss %g -> %g did not fall by half", first, last);
    fr_optim_free(&o);
    fr_tensor_free(x);
    fr_tensor_free(y);
    fr_ctx_free(ctx);
    fr_model_free(m);
}

int main(void) {
    fr_threads_set(2);
    test_counts();
    test_shapes_and_seed();
    test_fit();
    return check_report("test_vit");
}

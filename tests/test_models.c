/* test_models.c: the model zoo. Output shapes, parameter names and counts
 * equal to the PyTorch twins described in models.h (counts computed once
 * with PyTorch 1.13 from those module definitions and hard-coded here), the
 * metadata round trip, clear errors, and that each model can fit a fixed
 * small batch (the training loss falls), in training and eval mode. */
#include "check.h"
#include "frugal/models.h"
#include "frugal/nn.h"
#include "frugal/optim.h"

#include <stdlib.h>
#include <string.h>

struct expect {
    const char *arch;
    int64_t trainable;  /* sum(p.numel() for p in m.parameters()) */
    int64_t state;      /* sum(v.numel() for v in m.state_dict().values()) */
    int entries;        /* len(m.state_dict()) */
    const char *a_name; /* some state_dict keys */
    const char *b_name;
};

static const struct expect g_expect[] = {
    {"mlp", 235146, 235146, 6, "fc1.weight", "fc3.bias"},
    {"cnn", 421642, 421642, 8, "conv2.bias", "fc2.weight"},
    {"vgg-small", 150698, 151343, 32, "features.14.weight", "features.15.running_var"},
    {"resnet20", 269434, 270829, 116, "layer3.2.bn2.num_batches_tracked", "linear.bias"},
};

static void test_counts(const struct expect *e, struct fr_model *m) {
    int64_t state = 0;
    for (int i = 0; i < m->params.count; i++)
        state += fr_nelem(m->params.items[i].t);
    CHECK(fr_params_count_trainable(&m->params) == e->trainable, "%s: %lld trainable, PyTorch %lld",
          e->arch, (long long)fr_params_count_trainable(&m->params), (long long)e->trainable);
    CHECK(state == e->state, "%s: state %lld, PyTorch %lld", e->arch, (long long)state,
          (long long)e->state);
    CHECK(m->params.count == e->entries, "%s: %d entries, PyTorch %d", e->arch, m->params.count,
          e->entries);
    CHECK(fr_params_find(&m->params, e->a_name) && fr_params_find(&m->params, e->b_name),
          "%s: missing %s or %s", e->arch, e->a_name, e->b_name);
}

/* Fits 16 fixed random images to random labels with AdamW; the loss must
 * fall well below its start. Also checks shapes and an eval-mode pass. */
static void test_fit(const char *arch) {
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    struct fr_model *m = fr_model_new(arch, &mc, 42);
    CHECK(m != NULL, "%s: create: %s", arch, fr_last_error());
    if (!m) return;
    const int B = 16;
    struct fr_ctx *ctx = fr_ctx_new(16 << 20);
    struct fr_tensor *x = fr_tensor_new(FR_F32, 4, (int64_t[]){28, 28, 1, B});
    struct fr_tensor *y = fr_tensor_new(FR_I32, 1, (int64_t[]){B});
    struct fr_rng r;
    fr_rng_seed(&r, 7);
    fr_rng_fill_uniform(&r, x->data, fr_nelem(x), 0, 1);
    for (int i = 0; i < B; i++)
        ((int32_t *)y->data)[i] = (int32_t)fr_rng_below(&r, 10);
    struct fr_optim o;
    struct fr_optim_config oc;
    fr_optim_config_defaults(&oc, FR_OPT_ADAMW);
    oc.lr = 2e-3;
    fr_optim_init(&o, &m->params, &oc);
    double first = 0, last = 0;
    const int steps = 30;
    for (int s = 0; s < steps; s++) {
        fr_params_zero_grad(&m->params);
        struct fr_tensor *logits = m->forward(m, ctx, x);
        if (s == 0)
            CHECK(logits && logits->ndim == 2 && logits->ne[0] == 10 && logits->ne[1] == B,
                  "%s: logits shape", arch);
        struct fr_tensor *loss = fr_cross_entropy(ctx, logits, y, 0.0f);
        CHECK(loss != NULL, "%s: forward failed: %s", arch, fr_last_error());
        if (!loss) break;
        last = fr_get(loss, 0);
        if (s == 0) first = last;
        fr_backward(ctx, loss);
        fr_optim_step(&o, -1);
        fr_ctx_reset(ctx);
    }
    CHECK(last < 0.5 * first, "%s: loss %g -> %g did not fall by half", arch, first, last);
    /* eval mode: running statistics, no tape */
    fr_set_training(ctx, 0);
    int g = fr_no_grad_begin(ctx);
    struct fr_tensor *logits = m->forward(m, ctx, x);
    CHECK(logits && logits->ne[0] == 10 && logits->ne[1] == B, "%s: eval forward", arch);
    int finite = logits != NULL;
    for (int64_t i = 0; logits && i < fr_nelem(logits); i++)
        finite &= isfinite(fr_get(logits, i));
    CHECK(finite, "%s: eval logits not finite", arch);
    fr_no_grad_end(ctx, g);
    fr_optim_free(&o);
    fr_tensor_free(x);
    fr_tensor_free(y);
    fr_ctx_free(ctx);
    fr_model_free(m);
}

static void test_grad_ready(const char *arch) {
    struct fr_model *m = fr_model_new(arch, NULL, 3);
    CHECK(m != NULL, "%s: %s", arch, fr_last_error());
    if (!m) return;
    struct fr_params *p = &m->params;
    const int B = 4;
    struct fr_ctx *ctx = fr_ctx_new(16 << 20);
    struct fr_tensor *x = fr_tensor_new(FR_F32, 4, (int64_t[]){28, 28, 1, B});
    struct fr_tensor *y = fr_tensor_new(FR_I32, 1, (int64_t[]){B});
    struct fr_rng rng;
    fr_rng_seed(&rng, 9);
    fr_rng_fill_uniform(&rng, x->data, fr_nelem(x), 0, 1);
    for (int i = 0; i < B; i++)
        ((int32_t *)y->data)[i] = i % 10;
    fr_set_training(ctx, 1);
    fr_params_zero_grad(p);
    struct fr_tensor *loss = fr_cross_entropy(ctx, m->forward(m, ctx, x), y, 0);
    check_grad_ready(arch, p, ctx, loss);
    fr_tensor_free(x), fr_tensor_free(y);
    fr_ctx_free(ctx);
    fr_model_free(m);
}

static void test_meta_and_errors(void) {
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    mc.n_classes = 7;
    mc.in_channels = 3;
    mc.in_h = mc.in_w = 32;
    struct fr_model *m = fr_model_new("cnn", &mc, 1);
    CHECK(m && fr_params_find(&m->params, "fc1.weight")->t->ne[0] == 64 * 8 * 8 &&
              fr_params_find(&m->params, "fc2.bias")->t->ne[0] == 7,
          "cnn 3x32x32 / 7 classes shapes");
    char keys[FR_MODEL_META_MAX][64], vals[FR_MODEL_META_MAX][64];
    int n = m ? fr_model_meta_write(m, keys, vals, FR_MODEL_META_MAX) : 0;
    const char *kp[FR_MODEL_META_MAX], *vp[FR_MODEL_META_MAX];
    for (int i = 0; i < n; i++)
        kp[i] = keys[i], vp[i] = vals[i];
    char arch[32];
    struct fr_model_config back;
    CHECK(fr_model_meta_read(n, kp, vp, arch, sizeof arch, &back) == 0 &&
              strcmp(arch, "cnn") == 0 && memcmp(&back, &mc, sizeof mc) == 0,
          "meta round trip");
    vp[2] = "three";
    CHECK(fr_model_meta_read(n, kp, vp, arch, sizeof arch, &back) == FR_EFORMAT, "bad meta value");
    CHECK(fr_model_meta_read(0, kp, vp, arch, sizeof arch, &back) == FR_EFORMAT, "no arch");
    fr_model_free(m);

    /* same seed, same weights; different seed, different weights */
    struct fr_model *a = fr_model_new("mlp", NULL, 3), *b = fr_model_new("mlp", NULL, 3),
                    *c = fr_model_new("mlp", NULL, 4);
    CHECK(a && b && c && memcmp(a->params.data, b->params.data, a->params.n * 4) == 0 &&
              memcmp(a->params.data, c->params.data, a->params.n * 4) != 0,
          "seeded init");
    /* PyTorch default init range: |w| <= 1/sqrt(fan_in) */
    float bound = 1.0f / sqrtf(784.0f), mx = 0;
    const struct fr_tensor *w = fr_params_find(&a->params, "fc1.weight")->t;
    for (int64_t i = 0; i < fr_nelem(w); i++)
        mx = fmaxf(mx, fabsf(((float *)w->data)[i]));
    CHECK(mx <= bound && mx > 0.95f * bound, "fc1 init range %g vs bound %g", mx, bound);
    fr_model_free(a);
    fr_model_free(b);
    fr_model_free(c);

    CHECK(fr_model_new("resnet21", NULL, 1) == NULL && strstr(fr_last_error(), "resnet21"),
          "unknown model error: %s", fr_last_error());
    mc.in_h = 4;
    CHECK(fr_model_new("resnet20", &mc, 1) == NULL && strstr(fr_last_error(), "smaller"),
          "too-small input error: %s", fr_last_error());
    mc.n_classes = 0;
    CHECK(fr_model_new("mlp", &mc, 1) == NULL, "zero classes accepted");
    fr_model_free(NULL);
}

int main(void) {
    fr_threads_set(2);
    for (size_t i = 0; i < sizeof g_expect / sizeof g_expect[0]; i++) {
        struct fr_model *m = fr_model_new(g_expect[i].arch, NULL, 1);
        CHECK(m != NULL, "%s: %s", g_expect[i].arch, fr_last_error());
        if (m) test_counts(&g_expect[i], m);
        fr_model_free(m);
    }
    test_meta_and_errors();
    test_fit("mlp");
    test_fit("cnn");
    test_fit("vgg-small");
    test_fit("resnet20");
    for (size_t i = 0; i < sizeof g_expect / sizeof g_expect[0]; i++)
        test_grad_ready(g_expect[i].arch);
    return check_report("test_models");
}

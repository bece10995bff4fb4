/* test_models.c: the model zoo. Output shapes, parameter names and counts
 * equal to the PyTorch twins described in models.h (counts computed once
 * with PyTorch 1.13 from those module definitions and hard-coded here), the
 * metadata round trip, clear errors, and that each model can fit a fixed
 * small batch (the training loss falls), in training and eval mode. */
#include "check.h"
#include "frugal/models.h"
#include "frugal/nn.h"
#include "frugal/optim.h"

#include <math.h>

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
    struct fr_tensor *x, *y;
    check_random_images(B, 7, &x, &y);
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

/* convnext and slak: counts from the layout's formula (ConvNeXt's and
 * SLaK's module definitions, written out; no PyTorch on this machine),
 * names, default kernels, the metadata round trip, re-parameterisation
 * (merged eval logits equal the three-branch ones) and clear errors. */
static int64_t cnx_count(int slak, const int *K, int small, int cin, int ncls, int64_t *state) {
    int64_t n = cin * 4 * 32 + 32 + 64, buf = 0;           /* stem conv, its norm */
    n += 64 + 32 * 64 * 4 + 64 + 128 + 64 * 128 * 4 + 128; /* the two downsamplings */
    for (int s = 0; s < 3; s++) {
        int64_t d = 32 << s;
        for (int j = 0; j < 2; j++) {
            if (!slak) {
                n += (int64_t)K[s] * K[s] * d + d;
            } else if (K[s] > small) { /* Kxs, sxK, sxs convs, each with batch norm */
                n += ((int64_t)2 * K[s] * small + small * small) * d + 3 * 2 * d;
                buf += 3 * (2 * d + 1);
            } else {
                n += (int64_t)K[s] * K[s] * d + 2 * d;
                buf += 2 * d + 1;
            }
            n += 2 * d + d * 4 * d + 4 * d + 4 * d * d + d + d; /* norm, pwconv1/2, gamma */
        }
    }
    n += 2 * 128 + 128 * ncls + ncls;
    *state = n + buf;
    return n;
}

static void test_convnext(void) {
    int K[3];
    CHECK(fr_convnext_kernels("slak", 28, 28, K) == 0 && K[0] == 13 && K[1] == 11 && K[2] == 5,
          "slak kernels at 28x28: %d %d %d, want 13 11 5", K[0], K[1], K[2]);
    CHECK(fr_convnext_kernels("slak", 64, 64, K) == 0 && K[0] == 29 && K[1] == 27 && K[2] == 15,
          "slak kernels at 64x64: %d %d %d, want 29 27 15", K[0], K[1], K[2]);
    CHECK(fr_convnext_kernels("convnext", 28, 28, K) == 0 && K[0] == 7 && K[1] == 7 && K[2] == 5,
          "convnext kernels at 28x28: %d %d %d, want 7 7 5", K[0], K[1], K[2]);
    for (int slak = 0; slak < 2; slak++)
        for (int in = 0; in < 2; in++) {
            struct fr_model_config mc;
            fr_model_config_defaults(&mc);
            if (in) mc.in_h = mc.in_w = 64, mc.in_channels = 3, mc.n_classes = 7;
            const char *arch = slak ? "slak" : "convnext";
            struct fr_model *m = fr_model_new(arch, &mc, 5);
            CHECK(m != NULL, "%s: %s", arch, fr_last_error());
            if (!m) continue;
            fr_convnext_kernels(arch, mc.in_h, mc.in_w, K);
            int64_t state = 0, want = cnx_count(slak, K, 5, mc.in_channels, mc.n_classes, &state);
            int64_t all = 0;
            for (int i = 0; i < m->params.count; i++)
                all += fr_nelem(m->params.items[i].t);
            CHECK(fr_params_count_trainable(&m->params) == want && all == state,
                  "%s %dx%d: %lld trainable / %lld state, formula %lld / %lld", arch, mc.in_h,
                  mc.in_w, (long long)fr_params_count_trainable(&m->params), (long long)all,
                  (long long)want, (long long)state);
            const char *name = slak ? (K[0] > 5 ? "stages.0.1.large_kernel.Decom1.bn.running_var"
                                                : "stages.0.1.large_kernel.lkb_origin.conv.weight")
                                    : "stages.2.1.dwconv.weight";
            CHECK(fr_params_find(&m->params, name) && fr_params_find(&m->params, "head.bias") &&
                      fr_params_find(&m->params, "downsample_layers.2.1.weight"),
                  "%s: missing %s, head.bias or downsample_layers.2.1.weight", arch, name);
            fr_model_free(m);
        }

    /* re-parameterisation: trained a little (batch statistics move the
     * running ones), then merged: eval logits equal */
    for (int in = 0; in < 2; in++) {
        struct fr_model_config mc;
        fr_model_config_defaults(&mc);
        if (in) { /* kernels 19 17 9: every branch layout; canvas data carried */
            mc.in_h = mc.in_w = 40;
            snprintf(mc.data, sizeof mc.data, "fashion-canvas:40:6:7");
        }
        struct fr_model *m = fr_model_new("slak", &mc, 9);
        CHECK(m != NULL, "slak: %s", fr_last_error());
        if (!m) continue;
        const int B = 6;
        struct fr_ctx *ctx = fr_ctx_new(64 << 20);
        struct fr_tensor *x = fr_tensor_new(FR_F32, 4, (int64_t[]){mc.in_w, mc.in_h, 1, B});
        struct fr_tensor *y = fr_tensor_new(FR_I32, 1, (int64_t[]){B});
        struct fr_rng r;
        fr_rng_seed(&r, 4);
        fr_rng_fill_uniform(&r, x->data, fr_nelem(x), 0, 1);
        for (int i = 0; i < B; i++)
            ((int32_t *)y->data)[i] = i % 10;
        /* layer scale 1 so the blocks matter, then a few steps */
        for (int i = 0; i < m->params.count; i++)
            if (strstr(m->params.items[i].name, ".gamma")) fr_init_const(m->params.items[i].t, 1);
        struct fr_optim o;
        struct fr_optim_config oc;
        fr_optim_config_defaults(&oc, FR_OPT_ADAMW);
        oc.lr = 1e-3;
        fr_optim_init(&o, &m->params, &oc);
        fr_set_training(ctx, 1);
        for (int s = 0; s < 3; s++) {
            fr_params_zero_grad(&m->params);
            struct fr_tensor *loss = fr_cross_entropy(ctx, m->forward(m, ctx, x), y, 0);
            CHECK(loss && fr_backward(ctx, loss) == 0, "slak step: %s", fr_last_error());
            fr_optim_step(&o, -1);
            fr_ctx_reset(ctx);
        }
        fr_optim_free(&o);
        struct fr_model *mm = fr_model_reparam(m);
        CHECK(mm != NULL && mm->cfg.merged == 1, "reparam: %s", fr_last_error());
        if (mm) {
            /* one conv with a bias per block instead of three with batch norms
             * (more weights: K^2 against 2 K s + s^2) */
            CHECK(mm->params.count < m->params.count,
                  "merged model has %d tensors, three-branch %d", mm->params.count,
                  m->params.count);
            fr_set_training(ctx, 0);
            int g = fr_no_grad_begin(ctx);
            struct fr_tensor *a = m->forward(m, ctx, x), *b = mm->forward(mm, ctx, x);
            double worst = 0, scale = 0;
            for (int64_t i = 0; a && b && i < fr_nelem(a); i++) {
                worst = fmax(worst, fabs(fr_get(a, i) - fr_get(b, i)));
                scale = fmax(scale, fabs(fr_get(a, i)));
            }
            CHECK(a && b && worst <= 1e-4 * (1 + scale),
                  "%dx%d: merged logits %.3g off (scale %.3g)", mc.in_h, mc.in_w, worst, scale);
            fr_no_grad_end(ctx, g);
            /* the merged model round-trips through a checkpoint */
            const char *path = check_tmp("slak-merged.safetensors");
            CHECK(fr_model_save(mm, path) == 0, "save merged: %s", fr_last_error());
            struct fr_model *back = fr_model_load(path, NULL);
            CHECK(back && back->cfg.merged == 1 && !strcmp(back->arch, "slak") &&
                      back->params.n == mm->params.n && !strcmp(back->cfg.data, mc.data) &&
                      !memcmp(back->params.data, mm->params.data, (size_t)mm->params.n * 4),
                  "merged checkpoint round trip: %s", fr_last_error());
            CHECK(fr_model_reparam(mm) == NULL && strstr(fr_last_error(), "unmerged"),
                  "reparam of a merged model: %s", fr_last_error());
            fr_model_free(back);
        }
        fr_model_free(mm);
        fr_tensor_free(x), fr_tensor_free(y);
        fr_ctx_free(ctx);
        fr_model_free(m);
    }

    /* kernels in the metadata */
    {
        struct fr_model_config mc;
        fr_model_config_defaults(&mc);
        mc.kernels[0] = mc.kernels[1] = mc.kernels[2] = 3;
        struct fr_model *m = fr_model_new("convnext", &mc, 1);
        char keys[FR_MODEL_META_MAX][64], vals[FR_MODEL_META_MAX][64];
        const char *kp[FR_MODEL_META_MAX], *vp[FR_MODEL_META_MAX];
        int n = m ? fr_model_meta_write(m, keys, vals, FR_MODEL_META_MAX) : 0;
        for (int i = 0; i < n; i++)
            kp[i] = keys[i], vp[i] = vals[i];
        char arch[32];
        struct fr_model_config back;
        CHECK(m && fr_model_meta_read(n, kp, vp, arch, sizeof arch, &back) == 0 &&
                  back.kernels[0] == 3 && back.kernels[2] == 3 && !strcmp(arch, "convnext"),
              "kernels metadata round trip: %s", fr_last_error());
        fr_model_free(m);
        const char *bad_k[] = {"arch", "kernels"}, *bad_v[] = {"slak", "13,11"};
        CHECK(fr_model_meta_read(2, bad_k, bad_v, arch, sizeof arch, &back) == FR_EFORMAT,
              "two kernels accepted");
    }

    /* bad configs: even, too large for the padded map, on other archs */
    struct {
        const char *arch;
        int k0, k2, small, merged, in;
        const char *msg;
    } bad[] = {
        {"slak", 12, 0, 0, 0, 28, "odd"},
        {"slak", 0, 7, 0, 0, 28, "larger than its padded"},
        {"convnext", 29, 0, 0, 0, 28, "larger than its padded"},
        {"convnext", 0, 0, 0, 1, 28, "slak only"},
        {"convnext", 0, 0, 5, 0, 28, "slak only"},
        {"slak", 0, 0, 4, 0, 28, "odd"},
        {"resnet20", 3, 0, 0, 0, 28, "convnext and slak"},
        {"slak", 0, 0, 0, 0, 7, "smaller than 8"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct fr_model_config mc;
        fr_model_config_defaults(&mc);
        mc.kernels[0] = bad[i].k0, mc.kernels[2] = bad[i].k2, mc.small_kernel = bad[i].small;
        mc.merged = bad[i].merged, mc.in_h = mc.in_w = bad[i].in;
        struct fr_model *m = fr_model_new(bad[i].arch, &mc, 1);
        CHECK(m == NULL && strstr(fr_last_error(), bad[i].msg), "%s bad config %zu: '%s'",
              bad[i].arch, i, m ? "accepted" : fr_last_error());
        fr_model_free(m);
    }
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
    test_fit("convnext");
    test_fit("slak");
    test_convnext();
    for (size_t i = 0; i < sizeof g_expect / sizeof g_expect[0]; i++)
        test_grad_ready(g_expect[i].arch);
    test_grad_ready("slak");
    return check_report("test_models");
}

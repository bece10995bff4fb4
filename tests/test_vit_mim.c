/* test_vit_mim.c: masked-patch pretraining of the zoo's ViT
 * (fr_vit_mim_loss, cfg.mim in src/models/vit.c).
 *  - config: mim adds mask_token {64} and mim_head 64 -> 16 C (1104
 *    parameters for C = 1), neither prunable; the body and the classifier
 *    logits equal those of a mim=0 vit of the same seed; mim on another
 *    architecture, on a plain vit or with a ratio outside (0, 1) is FR_EINVAL.
 *  - gradients of the loss w.r.t. mask_token, mim_head and body weights
 *    against central finite differences (f32 slab, so a loose tolerance on a
 *    few large coordinates per tensor);
 *  - with the head fixed to zero the loss is the mean of x^2 over the masked
 *    patches: found by perturbing each patch, exactly round(ratio T) per
 *    image change the loss, the rest do not, and the value matches;
 *  - ~200 AdamW steps on 512 Fashion-MNIST images cut the loss below 0.7x
 *    (skipped with a message when the dataset is absent);
 *  - a mim checkpoint saves and reloads with its metadata, and a classifier
 *    built from it (fr_model_transfer, then the head) gives the same logits.
 */
#include "check.h"
#include "frugal/data.h"
#include "frugal/io.h"
#include "frugal/models.h"
#include "frugal/nn.h"
#include "frugal/optim.h"

#include <stdlib.h>
#include <string.h>

static struct fr_model *mim_vit(int mim, uint64_t seed) {
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    mc.mim = mim;
    return fr_model_new("vit", &mc, seed);
}

static struct fr_tensor *random_images(int64_t N, uint64_t seed) {
    struct fr_tensor *x = fr_tensor_new(FR_F32, 4, (int64_t[]){28, 28, 1, N});
    struct fr_rng r;
    fr_rng_seed(&r, seed);
    fr_rng_fill_uniform(&r, x->data, fr_nelem(x), -1, 1);
    return x;
}

/* The loss with the mask drawn from a fresh rng of seed mseed (same mask each call). */
static double loss_at(struct fr_model *m, struct fr_ctx *ctx, struct fr_tensor *x, double ratio,
                      uint64_t mseed) {
    struct fr_rng r;
    fr_rng_seed(&r, mseed);
    int g = fr_no_grad_begin(ctx);
    struct fr_tensor *l = fr_vit_mim_loss(m, ctx, x, ratio, &r);
    double v = l ? fr_get(l, 0) : NAN;
    fr_no_grad_end(ctx, g);
    fr_ctx_reset(ctx);
    return v;
}

static double logit_sum(struct fr_model *m, struct fr_ctx *ctx, struct fr_tensor *x) {
    fr_set_training(ctx, 0);
    int g = fr_no_grad_begin(ctx);
    struct fr_tensor *y = m->forward(m, ctx, x);
    double s = 0;
    for (int64_t i = 0; y && i < fr_nelem(y); i++)
        s += fr_get(y, i) * (double)(i % 7 + 1);
    fr_no_grad_end(ctx, g);
    fr_ctx_reset(ctx);
    return y ? s : NAN;
}

static void test_config(void) {
    struct fr_model *a = mim_vit(1, 3), *b = mim_vit(0, 3);
    CHECK(a && b, "create: %s", fr_last_error());
    if (!a || !b) goto done;
    CHECK(fr_params_count_trainable(&a->params) == 71946 + 64 + 64 * 16 + 16 &&
              a->params.count == 34,
          "mim vit: %lld trainable in %d entries", (long long)fr_params_count_trainable(&a->params),
          a->params.count);
    struct fr_param *mt = fr_params_find(&a->params, "mask_token"),
                    *mh = fr_params_find(&a->params, "mim_head.weight");
    CHECK(mt && mh && !(mt->flags & FR_PARAM_PRUNABLE) && (mt->flags & FR_PARAM_NO_DECAY) &&
              !(mh->flags & FR_PARAM_PRUNABLE) && mh->t->ne[0] == 64 && mh->t->ne[1] == 16,
          "mask_token / mim_head flags and shapes");
    /* the first 31 entries (the classifier) are the mim=0 model's, values included */
    CHECK(memcmp(a->params.data, b->params.data, (size_t)b->params.n * sizeof(float)) == 0,
          "same seed: same body with and without mim");
    struct fr_ctx *ctx = fr_ctx_new(16 << 20);
    struct fr_tensor *x = random_images(3, 1);
    double sa = logit_sum(a, ctx, x), sb = logit_sum(b, ctx, x);
    CHECK(sa == sb && isfinite(sa), "classifier logits ignore the mim groups (%g vs %g)", sa, sb);
    struct fr_rng r;
    fr_rng_seed(&r, 1);
    CHECK(fr_vit_mim_loss(b, ctx, x, 0.5, &r) == NULL && strstr(fr_last_error(), "mim=1"),
          "mim loss of a mim=0 vit: %s", fr_last_error());
    const double bad[] = {0.0, 1.0, -0.2, 1.5, 0.001};
    for (int i = 0; i < 5; i++)
        CHECK(fr_vit_mim_loss(a, ctx, x, bad[i], &r) == NULL &&
                  strstr(fr_last_error(), "mask ratio"),
              "ratio %g: %s", bad[i], fr_last_error());
    fr_ctx_reset(ctx);
    fr_ctx_free(ctx);
    fr_tensor_free(x);
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    mc.mim = 1;
    CHECK(fr_model_new("cnn", &mc, 1) == NULL && strstr(fr_last_error(), "mim"), "cnn with mim: %s",
          fr_last_error());
    struct fr_model *c = fr_model_new("mlp", &mc, 1);
    CHECK(c == NULL && strstr(fr_last_error(), "vit"), "mlp with mim: %s", fr_last_error());
done:
    fr_model_free(a);
    fr_model_free(b);
}

/* Backprop gradient vs central differences on the k largest-gradient
 * coordinates of a parameter (f32 slab: step 1e-2, loose tolerance). */
static void fd_check(struct fr_model *m, struct fr_tensor *x, const char *name) {
    const double ratio = 0.4, h = 1e-2;
    const uint64_t mseed = 11;
    struct fr_ctx *ctx = fr_ctx_new(16 << 20);
    fr_params_zero_grad(&m->params);
    struct fr_rng r;
    fr_rng_seed(&r, mseed);
    struct fr_tensor *l = fr_vit_mim_loss(m, ctx, x, ratio, &r);
    CHECK(l && fr_backward(ctx, l) == 0, "%s: loss/backward: %s", name, fr_last_error());
    fr_ctx_reset(ctx);
    struct fr_param *p = fr_params_find(&m->params, name);
    if (!p || !l) goto done;
    float *w = m->params.data + p->offset, *gw = m->params.grad + p->offset;
    int64_t n = fr_nelem(p->t), picked[4] = {-1, -1, -1, -1};
    for (int k = 0; k < 3; k++) /* the 3 largest |grad|, then a middle coordinate */
        for (int64_t i = 0; i < n; i++) {
            int used = 0;
            for (int j = 0; j < k; j++)
                used |= picked[j] == i;
            if (!used && (picked[k] < 0 || fabsf(gw[i]) > fabsf(gw[picked[k]]))) picked[k] = i;
        }
    picked[3] = n / 2;
    double gmax = fabsf(gw[picked[0]]);
    CHECK(gmax > 1e-4, "%s: gradient is zero (max %g)", name, gmax);
    for (int k = 0; k < 4; k++) {
        int64_t i = picked[k];
        float w0 = w[i];
        w[i] = w0 + (float)h;
        double lp = loss_at(m, ctx, x, ratio, mseed);
        w[i] = w0 - (float)h;
        double lm = loss_at(m, ctx, x, ratio, mseed);
        w[i] = w0;
        double fd = (lp - lm) / (2 * h);
        CHECK(fabs(fd - gw[i]) <= 0.03 * gmax + 2e-4, "%s[%lld]: backprop %.6g vs FD %.6g", name,
              (long long)i, (double)gw[i], fd);
    }
done:
    fr_ctx_free(ctx);
}

static void test_gradients(void) {
    struct fr_model *m = mim_vit(1, 5);
    if (!m) return;
    struct fr_rng r;
    fr_rng_seed(&r, 9); /* a non-trivial mask token and head, so every path carries gradient */
    struct fr_param *mt = fr_params_find(&m->params, "mask_token");
    fr_rng_fill_normal(&r, mt->t->data, 64, 0.0f, 0.5f);
    struct fr_tensor *x = random_images(2, 4);
    const char *names[] = {"mask_token",
                           "mim_head.weight",
                           "mim_head.bias",
                           "blocks.0.attn.qkv.weight",
                           "blocks.1.mlp.fc1.weight",
                           "patch_embed.proj.weight",
                           "pos_embed"};
    for (int i = 0; i < 7; i++)
        fd_check(m, x, names[i]);
    /* the classifier head is not part of the loss */
    struct fr_param *hd = fr_params_find(&m->params, "head.weight");
    double s = 0;
    for (int64_t i = 0; i < fr_nelem(hd->t); i++)
        s += fabsf(m->params.grad[hd->offset + i]);
    CHECK(s == 0, "head gets no gradient from the mim loss (%g)", s);
    fr_tensor_free(x);
    fr_model_free(m);
}

/* With mim_head = 0 the prediction is 0, so the loss is mean(x^2) over the
 * masked patches; a patch counts iff perturbing its pixels moves the loss. */
static void test_masked_only(void) {
    struct fr_model *m = mim_vit(1, 6);
    if (!m) return;
    fr_init_const(fr_params_find(&m->params, "mim_head.weight")->t, 0.0f);
    fr_init_const(fr_params_find(&m->params, "mim_head.bias")->t, 0.0f);
    const int64_t N = 2, T = 49;
    const double ratio = 0.3; /* round(14.7) = 15 */
    struct fr_tensor *x = random_images(N, 8);
    struct fr_ctx *ctx = fr_ctx_new(16 << 20);
    double base = loss_at(m, ctx, x, ratio, 21);
    float *xd = x->data;
    int masked[2][49] = {{0}};
    int count[2] = {0, 0}, differ = 0;
    double sq = 0;
    for (int64_t b = 0; b < N; b++)
        for (int64_t t = 0; t < T; t++) {
            int64_t gx = t % 7, gy = t / 7;
            float save[16];
            for (int p = 0; p < 16; p++) {
                float *v = &xd[b * 784 + (gy * 4 + p / 4) * 28 + gx * 4 + p % 4];
                save[p] = *v;
                *v = 3.0f;
            }
            double l = loss_at(m, ctx, x, ratio, 21);
            for (int p = 0; p < 16; p++) {
                xd[b * 784 + (gy * 4 + p / 4) * 28 + gx * 4 + p % 4] = save[p];
                if (l != base) sq += (double)save[p] * save[p];
            }
            if (l != base) masked[b][t] = 1, count[b]++;
        }
    for (int t = 0; t < T; t++)
        differ |= masked[0][t] != masked[1][t];
    CHECK(count[0] == 15 && count[1] == 15, "round(0.3 * 49) = 15 masked per image: %d, %d",
          count[0], count[1]);
    CHECK(differ, "the two images got different masks");
    double want = sq / (15.0 * 2 * 16);
    CHECK(fabs(base - want) <= 1e-5 * want, "loss %.8g = mean x^2 over masked patches %.8g", base,
          want);
    fr_ctx_free(ctx);
    fr_tensor_free(x);
    fr_model_free(m);
}

static void test_fit_fmnist(void) {
    struct fr_dataset ds;
    if (fr_dataset_fashion_mnist(&ds, NULL, 1, 512) != 0) {
        printf("test_vit_mim: SKIPPED in part: the Fashion-MNIST fit (%s)\n", fr_last_error());
        return;
    }
    struct fr_model *m = mim_vit(1, 7);
    struct fr_loader L;
    struct fr_loader_config lc = {.batch = 64, .shuffle = 1, .drop_last = 1, .seed = 3};
    struct fr_optim o;
    struct fr_optim_config oc;
    fr_optim_config_defaults(&oc, FR_OPT_ADAMW);
    oc.lr = 2e-3;
    fr_optim_init(&o, &m->params, &oc);
    fr_loader_init(&L, &ds, NULL, &lc);
    struct fr_ctx *ctx = fr_ctx_new(32 << 20);
    struct fr_rng mr;
    fr_rng_seed(&mr, 5);
    double first = 0, last = 0; /* means over the first / last 8 batches (one epoch) */
    const int steps = 200;
    for (int s = 0; s < steps; s++) {
        fr_t *x, *y;
        if (fr_loader_next_tensor(&L, ctx, &x, &y) == 0) fr_loader_next_tensor(&L, ctx, &x, &y);
        fr_params_zero_grad(&m->params);
        struct fr_tensor *loss = fr_vit_mim_loss(m, ctx, x, 0.5, &mr);
        CHECK(loss != NULL, "mim loss: %s", fr_last_error());
        if (!loss) break;
        if (s < 8) first += fr_get(loss, 0) / 8;
        if (s >= steps - 8) last += fr_get(loss, 0) / 8;
        fr_backward(ctx, loss);
        fr_optim_step(&o, -1);
        fr_ctx_reset(ctx);
    }
    printf("vit mim loss on 512 Fashion-MNIST images: %.4f -> %.4f\n", first, last);
    CHECK(last < 0.7 * first, "mim loss %g -> %g did not fall below 0.7x", first, last);
    fr_ctx_free(ctx);
    fr_loader_free(&L);
    fr_optim_free(&o);
    fr_model_free(m);
    fr_dataset_free(&ds);
}

static void test_checkpoint(void) {
    const char *path = check_tmp("vit_mim.safetensors");
    struct fr_model *m = mim_vit(1, 12), *back = NULL, *cls = mim_vit(0, 99);
    struct fr_tensor *x = random_images(4, 2);
    struct fr_ctx *ctx = fr_ctx_new(16 << 20);
    char keys[FR_MODEL_META_MAX][64], vals[FR_MODEL_META_MAX][64];
    const char *kp[FR_MODEL_META_MAX], *vp[FR_MODEL_META_MAX];
    int nm = fr_model_meta_write(m, keys, vals, FR_MODEL_META_MAX);
    for (int i = 0; i < nm; i++)
        kp[i] = keys[i], vp[i] = vals[i];
    struct fr_ckpt opt = {.meta_keys = kp, .meta_vals = vp, .nmeta = nm};
    CHECK(fr_params_save(&m->params, path, &opt) == 0, "save: %s", fr_last_error());
    struct fr_st_file *f = NULL;
    CHECK(fr_st_open(path, &f) == 0, "open: %s", fr_last_error());
    if (!f) goto done;
    CHECK(fr_st_meta(f, "mim") && strcmp(fr_st_meta(f, "mim"), "1") == 0, "mim in metadata");
    char arch[32];
    struct fr_model_config mc;
    int rc = fr_model_meta_read(f->nmeta, (const char *const *)f->meta_keys,
                                (const char *const *)f->meta_vals, arch, sizeof arch, &mc);
    fr_st_close(f);
    CHECK(rc == 0 && strcmp(arch, "vit") == 0 && mc.mim == 1, "meta read back: %s",
          fr_last_error());
    back = fr_model_new(arch, &mc, 0);
    CHECK(back && fr_params_load(&back->params, path, NULL) == 0, "reload: %s", fr_last_error());
    if (!back) goto done;
    CHECK(memcmp(back->params.data, m->params.data, (size_t)m->params.n * sizeof(float)) == 0,
          "reloaded values equal");
    double l0 = loss_at(m, ctx, x, 0.5, 4), l1 = loss_at(back, ctx, x, 0.5, 4);
    CHECK(l0 == l1 && isfinite(l0), "reloaded mim loss %g vs %g", l1, l0);
    /* a plain vit has no "mim" key (old checkpoints unchanged) */
    int n0 = fr_model_meta_write(cls, keys, vals, FR_MODEL_META_MAX), has = 0;
    for (int i = 0; i < n0; i++)
        has |= strcmp(keys[i], "mim") == 0;
    CHECK(n0 == 5 && !has, "mim=0 writes no mim key (%d keys)", n0);
    /* the classifier from the mim checkpoint: the body by name (fr_model_transfer
     * skips mask_token, mim_head and the head); with the head copied too the
     * logits must be the mim model's */
    int copied = fr_model_transfer(cls, back);
    CHECK(copied == 29, "transferred %d of the 29 body tensors", copied);
    const char *hn[] = {"head.weight", "head.bias"};
    for (int i = 0; i < 2; i++) {
        struct fr_param *d = fr_params_find(&cls->params, hn[i]);
        const struct fr_param *s = fr_params_find(&back->params, hn[i]);
        memcpy(d->t->data, s->t->data, (size_t)fr_nelem(s->t) * sizeof(float));
    }
    double a = logit_sum(back, ctx, x), b = logit_sum(cls, ctx, x);
    CHECK(a == b && isfinite(a), "classifier built from the mim checkpoint: logits %g vs %g", b, a);
done:
    remove(path);
    fr_ctx_free(ctx);
    fr_tensor_free(x);
    fr_model_free(m);
    fr_model_free(back);
    fr_model_free(cls);
}

int main(void) {
    fr_threads_set(2);
    test_config();
    test_gradients();
    test_masked_only();
    test_checkpoint();
    test_fit_fmnist();
    return check_report("test_vit_mim");
}

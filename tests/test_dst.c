/* test_dst.c: dynamic sparse training and Chase (methods/dst.h).
 *  - ERK and uniform initial masks: exactly K = sum round(d_l N_l) kept,
 *    masked weights zero, ERK's per-tensor densities follow sum/prod of the
 *    shape (denser small layers), a mean density of d;
 *  - every method over simulated steps with the real AdamW: the kept count
 *    is exactly K at every step for static/set/rigl, at most K + e N for
 *    mest/chase and exactly K at the end; grown weights start at zero with
 *    zero optimizer moments; RigL grows the largest |g| of each tensor;
 *  - Chase's channel removal on resnet20 and vgg-small: the channel count
 *    reaches floor(S_c C) removed, no layer below its floor, removed
 *    filters / batch-norm entries / consumer slices zero and masked, the
 *    budget re-spent (K kept at the end);
 *  - fr_model_shrink: the narrow model's logits equal the masked
 *    full-width model's (train and eval mode), its widths round-trip
 *    through checkpoint metadata, fr_dst_dead_channels finds the removed
 *    channels from the mask alone;
 *  - through fr_train_run: a killed and resumed chase run ends with a
 *    byte-identical checkpoint (mask, weights, channels) to an unbroken one;
 *  - bad configs: one-line errors. */
#include "check.h"
#include "frugal/data.h"
#include "frugal/io.h"
#include "frugal/kernels.h"
#include "frugal/methods/dst.h"
#include "frugal/methods/prune.h"
#include "frugal/models.h"
#include "frugal/optim.h"
#include "frugal/rng.h"
#include "frugal/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct fr_model *model(const char *arch, int mult) {
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    mc.width_mult = mult;
    return fr_model_new(arch, &mc, 7);
}

static int64_t count_kept(const struct fr_model *m, const int *sel) {
    int64_t k = 0;
    for (int i = 0; i < m->params.count; i++)
        if (sel[i])
            for (int64_t j = 0; j < fr_nelem(m->params.items[i].t); j++)
                k += m->params.mask[m->params.items[i].offset + j] != 0.0f;
    return k;
}

static void test_init(int erk) {
    struct fr_model *m = model("resnet20", 1);
    struct fr_dst_config c;
    fr_dst_config_defaults(&c);
    c.erk = erk;
    c.density = 0.1;
    struct fr_dst *d = fr_dst_new(m, &c, 1000);
    CHECK(d != NULL, "dst_new: %s", fr_last_error());
    if (!d) return;
    int *sel = calloc((size_t)m->params.count, sizeof *sel);
    fr_prune_scope(&m->params, NULL, NULL, sel);
    int64_t K = fr_dst_target(d), N = fr_dst_scope_size(d), kept = count_kept(m, sel);
    CHECK(kept == K && fr_dst_nnz(d) == K, "erk %d: kept %lld, K %lld", erk, (long long)kept,
          (long long)K);
    CHECK(fabs((double)K / (double)N - 0.1) < 1e-3, "erk %d: density %g", erk,
          (double)K / (double)N);
    int bad = 0;
    for (int64_t i = 0; i < m->params.n; i++)
        bad += m->params.mask[i] == 0.0f && m->params.data[i] != 0.0f;
    CHECK(bad == 0, "erk %d: %d masked weights not zero", erk, bad);
    /* ERK: the first conv (1 -> 16, 144 weights) denser than a 64 -> 64 conv */
    struct fr_param *a = fr_params_find(&m->params, "conv1.weight");
    struct fr_param *b = fr_params_find(&m->params, "layer3.2.conv2.weight");
    double da = 0, db = 0;
    for (int64_t j = 0; j < fr_nelem(a->t); j++)
        da += m->params.mask[a->offset + j];
    for (int64_t j = 0; j < fr_nelem(b->t); j++)
        db += m->params.mask[b->offset + j];
    da /= (double)fr_nelem(a->t);
    db /= (double)fr_nelem(b->t);
    if (erk)
        CHECK(da > 3 * db, "ERK: conv1 density %g vs layer3 %g", da, db);
    else
        CHECK(fabs(da - 0.1) < 0.01 && fabs(db - 0.1) < 1e-3, "uniform: %g %g", da, db);
    /* the head stays dense */
    struct fr_param *h = fr_params_find(&m->params, "linear.weight");
    double dh = 0;
    for (int64_t j = 0; j < fr_nelem(h->t); j++)
        dh += m->params.mask[h->offset + j];
    CHECK(dh == (double)fr_nelem(h->t), "head masked");
    free(sel);
    fr_dst_free(d);
    fr_model_free(m);
}

/* Simulated training: random dense gradients, the real AdamW step, the DST
 * hooks. Checks the count at every step and the state of grown weights. */
static void test_method(enum fr_dst_method meth, const char *arch, double sc) {
    const char *name = fr_dst_method_name(meth);
    struct fr_model *m = model(arch, 1);
    struct fr_dst_config c;
    fr_dst_config_defaults(&c);
    c.method = meth;
    c.update_every = 5;
    c.channel_sparsity = sc;
    c.channel_every = 10;
    const int64_t T = sc > 0 ? 123 : 120; /* 0.8 T not a whole step: the last removal still
                                              reaches S_c */
    struct fr_dst *d = fr_dst_new(m, &c, T);
    CHECK(d != NULL, "%s: %s", name, fr_last_error());
    if (!d) return;
    struct fr_params *p = &m->params;
    struct fr_optim o;
    struct fr_optim_config oc;
    fr_optim_config_defaults(&oc, FR_OPT_ADAMW);
    oc.lr = 1e-2;
    CHECK(fr_optim_init(&o, p, &oc) == 0, "optim");
    struct fr_rng rng;
    fr_rng_seed(&rng, 3);
    float *before = malloc((size_t)p->n * sizeof *before);
    float *wbefore = malloc((size_t)p->n * sizeof *wbefore);
    const int64_t K = fr_dst_target(d), N = fr_dst_scope_size(d);
    int count_bad = 0, grown_bad = 0, rigl_bad = 0, changed = 0, kept_bad = 0, dropped_bad = 0;
    for (int64_t t = 0; t < T; t++) {
        fr_rng_fill_normal(&rng, p->grad, p->n, 0, 1);
        fr_dst_after_backward(d, t);
        float *g_copy = NULL;
        if (meth == FR_DST_RIGL && (t + 1) % c.update_every == 0) {
            g_copy = malloc((size_t)p->n * sizeof *g_copy);
            memcpy(g_copy, p->grad, (size_t)p->n * sizeof *g_copy);
        }
        fr_optim_step(&o, -1);
        memcpy(before, p->mask, (size_t)p->n * sizeof *before);
        memcpy(wbefore, p->data, (size_t)p->n * sizeof *wbefore);
        CHECK(fr_dst_after_step(d, t + 1) == 0, "%s step: %s", name, fr_last_error());
        for (int64_t i = 0; i < p->n; i++) {
            if (before[i] == 0.0f && p->mask[i] != 0.0f) {
                changed = 1;
                if (p->data[i] != 0.0f || o.m[i] != 0.0f || o.v[i] != 0.0f) grown_bad++;
            }
            /* kept through the update (dropped and regrown included): untouched */
            if (before[i] != 0.0f && p->mask[i] != 0.0f && p->data[i] != wbefore[i]) kept_bad++;
            if (p->mask[i] == 0.0f && p->data[i] != 0.0f) dropped_bad++;
        }
        if (g_copy) { /* per tensor: every grown |g| >= every still-masked |g| */
            for (int k = 0; k < p->count; k++) {
                const struct fr_param *it = &p->items[k];
                if (!(it->flags & FR_PARAM_PRUNABLE)) continue;
                float lo = INFINITY, hi = 0;
                for (int64_t j = 0; j < fr_nelem(it->t); j++) {
                    int64_t i = it->offset + j;
                    float a = fabsf(g_copy[i]);
                    if (before[i] == 0.0f && p->mask[i] != 0.0f && a < lo) lo = a;
                    if (p->mask[i] == 0.0f && a > hi) hi = a;
                }
                if (lo < hi) rigl_bad++;
            }
            free(g_copy);
        }
        int64_t nnz = fr_dst_nnz(d);
        if (meth == FR_DST_MEST || meth == FR_DST_CHASE) {
            if (nnz > K + (int64_t)llround(c.mest_extra * (double)N)) count_bad++;
        } else if (nnz != K) {
            count_bad++;
        }
    }
    CHECK(count_bad == 0, "%s: the kept count left its bound at %d steps", name, count_bad);
    CHECK(fr_dst_nnz(d) == K, "%s: %lld kept at the end, K = %lld", name, (long long)fr_dst_nnz(d),
          (long long)K);
    CHECK(grown_bad == 0, "%s: %d grown weights not zero or with moments", name, grown_bad);
    CHECK(kept_bad == 0 && dropped_bad == 0,
          "%s: %d kept weights changed by an update, %d masked weights not zero", name, kept_bad,
          dropped_bad);
    CHECK(rigl_bad == 0, "rigl: %d tensors grew a smaller |g| than one left out", rigl_bad);
    CHECK(changed == (meth != FR_DST_STATIC), "%s: mask changed %d", name, changed);
    if (sc > 0) {
        int64_t total, alive = fr_dst_channels_alive(d, &total);
        int64_t want = total - (int64_t)floor(sc * (double)total + 1e-9);
        int nl;
        const uint8_t *const *al = fr_dst_alive(d, &nl);
        struct fr_channel_layer L[FR_MODEL_MAX_WIDTHS];
        fr_model_channels(m, L, FR_MODEL_MAX_WIDTHS);
        int floor_bad = 0, zero_bad = 0;
        for (int l = 0; l < nl; l++) {
            int64_t have = 0;
            for (int64_t ch = 0; ch < L[l].C; ch++) {
                have += al[l][ch];
                if (al[l][ch]) continue;
                const float *w = p->data + L[l].w->offset + ch * L[l].filter;
                const float *mk = p->mask + L[l].w->offset + ch * L[l].filter;
                for (int64_t j = 0; j < L[l].filter; j++)
                    zero_bad += w[j] != 0.0f || mk[j] != 0.0f;
                for (int b = 0; b < 2; b++)
                    zero_bad += p->data[L[l].bn[b]->offset + ch] != 0.0f;
                for (int64_t oo = 0; oo < L[l].next_out; oo++)
                    for (int64_t j = 0; j < L[l].next_k2; j++) {
                        int64_t i = L[l].next->offset + (oo * L[l].C + ch) * L[l].next_k2 + j;
                        zero_bad += p->data[i] != 0.0f || p->mask[i] != 0.0f;
                    }
            }
            int64_t fl = (int64_t)floor((double)L[l].C * (1 - sc) * c.beta);
            if (have < (fl < 1 ? 1 : fl)) floor_bad++;
        }
        CHECK(alive == want, "%s: %lld channels alive, want %lld of %lld", arch, (long long)alive,
              (long long)want, (long long)total);
        CHECK(floor_bad == 0 && zero_bad == 0, "%s: floors broken %d, removed not zero %d", arch,
              floor_bad, zero_bad);
        /* the mask alone tells the dead channels */
        uint8_t *dead[FR_MODEL_MAX_WIDTHS];
        int nd = fr_dst_dead_channels(m, dead);
        int same = nd == nl;
        for (int l = 0; l < nd; l++) {
            same &= memcmp(dead[l], al[l], (size_t)L[l].C) == 0;
            free(dead[l]);
        }
        CHECK(same, "%s: fr_dst_dead_channels disagrees with the removal", arch);
    }
    free(before);
    free(wbefore);
    fr_optim_free(&o);
    fr_dst_free(d);
    fr_model_free(m);
}

/* The shrunk model computes what the masked full-width one does. */
static void test_shrink(const char *arch) {
    struct fr_model *m = model(arch, 1);
    struct fr_dst_config c;
    fr_dst_config_defaults(&c);
    c.channel_sparsity = 0.5;
    c.update_every = 4;
    c.channel_every = 4;
    struct fr_dst *d = fr_dst_new(m, &c, 40);
    struct fr_params *p = &m->params;
    struct fr_rng rng;
    fr_rng_seed(&rng, 5);
    for (int64_t t = 0; d && t < 40; t++) {
        fr_rng_fill_normal(&rng, p->grad, p->n, 0, 1);
        fr_dst_after_backward(d, t);
        fr_dst_after_step(d, t + 1);
    }
    /* give the batch norms non-trivial statistics and affine parameters */
    for (int i = 0; i < p->count; i++) {
        struct fr_param *it = &p->items[i];
        int is_var = strstr(it->name, "running_var") != NULL;
        if (strstr(it->name, "running_") || strstr(it->name, "bn") ||
            (strstr(it->name, "features.") && it->t->ndim == 1))
            for (int64_t j = 0; j < fr_nelem(it->t); j++) {
                float *v = p->data + it->offset + j;
                if (p->mask[it->offset + j] == 0.0f) continue;
                *v =
                    is_var ? 0.5f + (float)fr_rng_uniform(&rng) : (float)fr_rng_normal(&rng) * 0.3f;
            }
    }
    int nl;
    const uint8_t *const *al = d ? fr_dst_alive(d, &nl) : NULL;
    struct fr_model *s = al ? fr_model_shrink(m, al) : NULL;
    CHECK(s != NULL, "%s shrink: %s", arch, fr_last_error());
    if (s) {
        CHECK(fr_params_count_trainable(&s->params) < fr_params_count_trainable(&m->params),
              "%s: not smaller", arch);
        struct fr_ctx *ctx = fr_ctx_new(64 << 20);
        for (int train = 0; train < 2; train++) {
            fr_set_training(ctx, train);
            int g = fr_no_grad_begin(ctx);
            struct fr_tensor *x = fr_new(ctx, FR_F32, 4, (int64_t[]){28, 28, 1, 6});
            fr_rng_fill_normal(&rng, x->data, fr_nelem(x), 0, 1);
            struct fr_tensor *a = m->forward(m, ctx, x), *b = s->forward(s, ctx, x);
            double err = 0, mag = 0;
            for (int64_t i = 0; a && b && i < fr_nelem(a); i++) {
                err = fmax(err, fabs(fr_get(a, i) - fr_get(b, i)));
                mag = fmax(mag, fabs(fr_get(a, i)));
            }
            CHECK(a && b && err <= 1e-4 * (1 + mag), "%s (train %d): logits differ by %g (max %g)",
                  arch, train, err, mag);
            fr_no_grad_end(ctx, g);
            fr_ctx_reset(ctx);
        }
        fr_ctx_free(ctx);
        /* widths through metadata */
        char keys[FR_MODEL_META_MAX][64], vals[FR_MODEL_META_MAX][64];
        const char *kp[FR_MODEL_META_MAX], *vp[FR_MODEL_META_MAX];
        int n = fr_model_meta_write(s, keys, vals, FR_MODEL_META_MAX);
        for (int i = 0; i < n; i++)
            kp[i] = keys[i], vp[i] = vals[i];
        char a2[32];
        struct fr_model_config mc;
        CHECK(fr_model_meta_read(n, kp, vp, a2, sizeof a2, &mc) == 0 &&
                  mc.nwidths == s->cfg.nwidths &&
                  memcmp(mc.widths, s->cfg.widths, sizeof mc.widths) == 0,
              "%s: widths metadata round trip", arch);
        fr_model_free(s);
    }
    fr_dst_free(d);
    fr_model_free(m);
}

/* The conv's CSR path equals the dense one (inference), batch 1 and 16,
 * and the row kernel its reference on odd widths. */
static void test_sparse_inference(void) {
    struct fr_rng rng;
    fr_rng_seed(&rng, 11);
    for (int64_t n = 1; n < 200; n += 37) { /* the 64-, 8- and 1-wide parts */
        const int64_t rows = 7, cols = 23;
        float *W = calloc((size_t)(rows * cols), sizeof *W), *X = malloc((size_t)(cols * n) * 4);
        float *Y = malloc((size_t)(rows * n) * 4), *R = malloc((size_t)(rows * n) * 4);
        for (int64_t i = 0; i < rows * cols; i++)
            if (fr_rng_uniform(&rng) < 0.2) W[i] = (float)fr_rng_normal(&rng);
        fr_rng_fill_normal(&rng, X, cols * n, 0, 1);
        struct fr_csr A;
        CHECK(fr_csr_from_dense(&A, W, rows, cols, cols) == 0, "csr");
        fr_csr_rows(&A, 0, rows, X, n, n, Y, n);
        fr_csr_rows_ref(&A, 0, rows, X, n, n, R, n);
        double err = 0;
        for (int64_t i = 0; i < rows * n; i++)
            err = fmax(err, fabs((double)Y[i] - R[i]));
        CHECK(err < 1e-5, "csr rows n=%lld: %g", (long long)n, err);
        fr_csr_free(&A);
        free(W), free(X), free(Y), free(R);
    }
    struct fr_model *m = model("resnet20", 1);
    struct fr_dst_config c;
    fr_dst_config_defaults(&c);
    c.method = FR_DST_STATIC;
    struct fr_dst *d = fr_dst_new(m, &c, 10);
    struct fr_ctx *ctx = fr_ctx_new(64 << 20);
    fr_set_training(ctx, 0);
    int g = fr_no_grad_begin(ctx);
    for (int64_t N = 1; N <= 16; N += 15) {
        struct fr_tensor *x = fr_new(ctx, FR_F32, 4, (int64_t[]){28, 28, 1, N});
        fr_rng_fill_normal(&rng, x->data, fr_nelem(x), 0, 1);
        struct fr_tensor *a = m->forward(m, ctx, x);
        struct fr_sparse_model sm;
        CHECK(fr_sparse_attach(&sm, m, 1.0) == 0 && sm.n == 19, "attach: %d convs", sm.n);
        struct fr_tensor *b = m->forward(m, ctx, x);
        fr_sparse_detach(&sm);
        double err = 0, mag = 0;
        for (int64_t i = 0; a && b && i < fr_nelem(a); i++) {
            err = fmax(err, fabs(fr_get(a, i) - fr_get(b, i)));
            mag = fmax(mag, fabs(fr_get(a, i)));
        }
        CHECK(a && b && err <= 1e-5 * (1 + mag), "sparse conv batch %lld: %g", (long long)N, err);
        fr_ctx_reset(ctx);
    }
    fr_no_grad_end(ctx, g);
    fr_ctx_free(ctx);
    fr_dst_free(d);
    fr_model_free(m);
}

static int run(const char *out, const char *ckpt, int64_t stop, int resume, struct fr_dst_run *dr) {
    struct fr_train_config c;
    fr_train_config_defaults(&c);
    c.model = "vgg-small";
    c.limit_train = 320; /* 288 train / 32 = 9 steps per epoch */
    c.limit_test = 100;
    c.batch = 32;
    c.epochs = 2;
    c.threads = 2;
    c.opt = "sgd";
    c.lr = 0.05;
    c.out = out;
    c.ckpt = ckpt;
    c.ckpt_every = 4;
    c.stop_after_steps = stop;
    c.resume = resume;
    c.ext = &dr->ext;
    struct fr_train_result r;
    int rc = fr_train_run(&c, &r);
    if (!rc) fr_train_result_free(&r);
    return rc;
}

static void test_resume(void) {
    struct fr_dataset ds;
    if (fr_dataset_fashion_mnist(&ds, NULL, 0, 1) != 0) {
        printf("test_dst: no Fashion-MNIST, the resume part skipped (%s)\n", fr_last_error());
        return;
    }
    fr_dataset_free(&ds);
    struct fr_dst_config c;
    fr_dst_config_defaults(&c);
    c.update_every = 3;
    c.channel_every = 4;
    c.channel_sparsity = 0.4;
    const char *a = check_tmp("a.safetensors"), *b = check_tmp("b.safetensors");
    const char *ck = check_tmp("b.ckpt.safetensors");
    struct fr_dst_run r1, r2, r3;
    fr_dst_run_init(&r1, &c);
    CHECK(run(a, NULL, 0, 0, &r1) == 0, "unbroken run: %s", fr_last_error());
    CHECK(r1.d == NULL && r1.channels_alive < r1.channels && r1.nnz == r1.target && r1.target > 0,
          "chase run: %lld of %lld channels, %lld kept of %lld", (long long)r1.channels_alive,
          (long long)r1.channels, (long long)r1.nnz, (long long)r1.target);
    fr_dst_run_free(&r1);
    fr_dst_run_init(&r2, &c);
    CHECK(run(b, ck, 10, 0, &r2) == 0, "killed run: %s", fr_last_error());
    fr_dst_run_free(&r2);
    fr_dst_run_init(&r3, &c);
    CHECK(run(b, ck, 0, 1, &r3) == 0, "resumed run: %s", fr_last_error());
    fr_dst_run_free(&r3);
    CHECK(check_same_file(a, b), "resumed chase run differs from the unbroken one");
    /* a resume with another DST config is refused */
    struct fr_dst_config c2 = c;
    c2.density = 0.2;
    struct fr_dst_run r4;
    fr_dst_run_init(&r4, &c2);
    CHECK(run(b, ck, 0, 1, &r4) != 0 && strstr(fr_last_error(), "dst.density"),
          "resume with another density: %s", fr_last_error());
    fr_dst_run_free(&r4);
}

static void expect_bad(struct fr_dst_config c, const char *arch, int64_t T, const char *what) {
    struct fr_model *m = model(arch, 1);
    struct fr_dst *d = fr_dst_new(m, &c, T);
    CHECK(d == NULL && strstr(fr_last_error(), what) && !strchr(fr_last_error(), '\n'),
          "bad config (%s): got '%s'", what, d ? "accepted" : fr_last_error());
    CHECK(m->params.mask == NULL, "a refused config left a mask");
    fr_dst_free(d);
    fr_model_free(m);
}

static void test_bad(void) {
    struct fr_dst_config c, b;
    fr_dst_config_defaults(&c);
    b = c, b.density = 0;
    expect_bad(b, "cnn", 100, "density 0");
    b = c, b.density = 1.5;
    expect_bad(b, "cnn", 100, "density 1.5");
    b = c, b.channel_sparsity = 1;
    expect_bad(b, "resnet20", 1000, "channel sparsity 1");
    b = c, b.channel_sparsity = 0.4, b.method = FR_DST_RIGL;
    expect_bad(b, "resnet20", 1000, "needs method chase");
    b = c, b.update_end = 1.5;
    expect_bad(b, "cnn", 1000, "end within");
    b = c, b.update_every = 5000;
    expect_bad(b, "cnn", 1000, "longer than the run");
    b = c, b.channel_sparsity = 0.4;
    expect_bad(b, "mlp", 1000, "no prunable channel layers");
    b = c, b.beta = 0;
    expect_bad(b, "cnn", 1000, "beta");
    /* DST owns the mask */
    struct fr_model *m = model("cnn", 1);
    fr_params_mask_init(&m->params);
    CHECK(fr_dst_new(m, &c, 100) == NULL && strstr(fr_last_error(), "keep-mask"),
          "a model with a mask: %s", fr_last_error());
    fr_model_free(m);
    /* malformed widths metadata: one-line FR_EFORMAT, never a crash */
    static const char *const badw[] = {"",     "0",  "1,,2", "abc",
                                       "1,2,", "-3", "1e9",  "70000",
                                       " 4",   "4 ", "4;5",  "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1"};
    for (size_t i = 0; i < sizeof badw / sizeof badw[0]; i++) {
        const char *k[2] = {"arch", "widths"}, *v[2] = {"resnet20", badw[i]};
        char a[32];
        struct fr_model_config mc0;
        CHECK(fr_model_meta_read(2, k, v, a, sizeof a, &mc0) == FR_EFORMAT &&
                  !strchr(fr_last_error(), '\n'),
              "widths '%s' accepted", badw[i]);
    }
    /* widths on a model that has none; a wide resnet's shape */
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    mc.width_mult = 2;
    CHECK(fr_model_new("cnn", &mc, 1) == NULL, "cnn with width_mult");
    struct fr_model *w = fr_model_new("resnet20", &mc, 1);
    struct fr_param *fc = w ? fr_params_find(&w->params, "linear.weight") : NULL;
    CHECK(fc && fc->t->ne[0] == 128, "resnet20 x2: linear takes 128");
    fr_model_free(w);
}

int main(void) {
    test_init(1);
    test_init(0);
    test_method(FR_DST_STATIC, "cnn", 0);
    test_method(FR_DST_SET, "cnn", 0);
    test_method(FR_DST_RIGL, "cnn", 0);
    test_method(FR_DST_MEST, "cnn", 0);
    test_method(FR_DST_CHASE, "cnn", 0);
    test_method(FR_DST_CHASE, "resnet20", 0.5); /* 168 of 336: a whole count */
    test_method(FR_DST_CHASE, "vgg-small", 0.4);
    test_shrink("resnet20");
    test_shrink("vgg-small");
    test_bad();
    test_sparse_inference();
    test_resume();
    return check_report("test_dst");
}

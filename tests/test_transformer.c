/* test_transformer.c: the decoder in both configurations.
 *  - a tiny block (llama with GQA, and gpt2) against finite differences in
 *    double, and f32 fast vs reference;
 *  - the training forward and the KV-cache inference path give the same
 *    logits (one-pass prefill and token-by-token decode);
 *  - GQA equals MHA with duplicated KV heads at the model level;
 *  - save/load round trip (f32 exact, bf16 close), malformed configs;
 *  - a few AdamW steps reduce the loss on a fixed batch.
 */
#include "check.h"
#include "frugal/kernels.h"
#include "frugal/optim.h"
#include "frugal/transformer.h"

#include <stdlib.h>
#include <string.h>

static struct fr_tf_config g_cfg;

/* inputs: x, then the block's weights in the order of `order` */
static const int LLAMA_W[] = {FR_TFW_NORM1, FR_TFW_Q,  FR_TFW_K,  FR_TFW_V, FR_TFW_O,
                              FR_TFW_NORM2, FR_TFW_W1, FR_TFW_W2, FR_TFW_W3};
static const int GPT_W[] = {FR_TFW_NORM1, FR_TFW_NORM1_B, FR_TFW_QKV,   FR_TFW_QKV_B,
                            FR_TFW_O,     FR_TFW_O_B,     FR_TFW_NORM2, FR_TFW_NORM2_B,
                            FR_TFW_W1,    FR_TFW_B1,      FR_TFW_W2,    FR_TFW_B2};

static fr_t *b_block(struct fr_ctx *c, fr_t **in, void *arg) {
    (void)arg;
    fr_t *w[FR_TF_BLOCK_NW] = {0};
    const int *ord = g_cfg.arch == FR_TF_LLAMA ? LLAMA_W : GPT_W;
    int n = g_cfg.arch == FR_TF_LLAMA ? 9 : 12;
    for (int i = 0; i < n; i++)
        w[ord[i]] = in[1 + i];
    return fr_tf_block(c, &g_cfg, in[0], w, NULL);
}

static void block_gradcheck(int arch) {
    memset(&g_cfg, 0, sizeof g_cfg);
    g_cfg.arch = arch;
    g_cfg.dim = 8;
    g_cfg.n_heads = 4;
    g_cfg.n_kv_heads = arch == FR_TF_LLAMA ? 2 : 4;
    g_cfg.hidden_dim = 12;
    g_cfg.n_layers = 1;
    g_cfg.vocab_size = 10;
    g_cfg.max_seq = 16;
    fr_tf_config_check(&g_cfg);
    int64_t D = 8, kvd = g_cfg.n_kv_heads * 2, Hd = 12, T = 5, B = 2;
    struct check_input in[13] = {{3, {D, T, B}}};
    int n = 1;
    if (arch == FR_TF_LLAMA) {
        int64_t shp[9][2] = {{D, 0}, {D, D},  {D, kvd}, {D, kvd}, {D, D},
                             {D, 0}, {D, Hd}, {Hd, D},  {D, Hd}};
        for (int i = 0; i < 9; i++, n++) {
            in[n].ndim = shp[i][1] ? 2 : 1;
            in[n].ne[0] = shp[i][0];
            in[n].ne[1] = shp[i][1] ? shp[i][1] : 1;
            in[n].lo = -0.6, in[n].hi = 0.6;
            if (!shp[i][1]) in[n].lo = 0.5, in[n].hi = 1.5;
        }
    } else {
        int64_t shp[12][2] = {{D, 0}, {D, 0}, {D, 3 * D}, {3 * D, 0}, {D, D},  {D, 0},
                              {D, 0}, {D, 0}, {D, Hd},    {Hd, 0},    {Hd, D}, {D, 0}};
        for (int i = 0; i < 12; i++, n++) {
            in[n].ndim = shp[i][1] ? 2 : 1;
            in[n].ne[0] = shp[i][0];
            in[n].ne[1] = shp[i][1] ? shp[i][1] : 1;
            in[n].lo = -0.6, in[n].hi = 0.6;
        }
    }
    check_op(arch == FR_TF_LLAMA ? "llama block (GQA)" : "gpt2 block", b_block, NULL, n, in, NULL);
}

static struct fr_tf_config small(int arch, int kvh) {
    struct fr_tf_config c = {0};
    c.arch = arch;
    c.dim = 32;
    c.n_heads = 4;
    c.n_kv_heads = kvh;
    c.n_layers = 2;
    c.vocab_size = 50;
    c.max_seq = 64;
    c.hidden_dim = 48;
    c.tied = arch == FR_TF_GPT2;
    return c;
}

/* Logits of the training forward {V, T, 1} vs inference prefill (all) and
 * token-by-token decode. */
static void train_vs_infer(struct fr_tf_model *m, const char *what) {
    int T = 12, V = m->cfg.vocab_size;
    struct fr_ctx *ctx = fr_ctx_new(1 << 22);
    fr_set_training(ctx, 0);
    int g = fr_no_grad_begin(ctx);
    fr_t *tok = fr_new2(ctx, FR_I32, T, 1);
    int32_t *td = tok->data;
    for (int t = 0; t < T; t++)
        td[t] = (t * 7 + 3) % V;
    fr_t *lg = fr_tf_forward(ctx, m, tok, NULL);
    CHECK(lg != NULL, "%s: training forward: %s", what, fr_last_error());
    fr_no_grad_end(ctx, g);
    struct fr_tf_state s;
    fr_tf_state_init(&s, m, 1, 64, 16, NULL, 0);
    float *li = malloc(sizeof(float) * T * V);
    fr_tf_prefill(&s, 0, td, T, li, 1);
    double w =
        lg ? check_compare(lg, fr_wrap(ctx, FR_F32, 2, (int64_t[]){V, T}, li), 1e-4, 1e-4) : 99;
    CHECK(w <= 1, "%s: prefill logits == training forward logits (ratio %g)", what, w);
    fr_tf_state_reset(&s, -1);
    double w2 = 0;
    for (int t = 0; t < T; t++) {
        fr_tf_decode(&s, td + t, li);
        for (int i = 0; i < V && lg; i++)
            w2 = fmax(w2, fabs(li[i] - ((float *)lg->data)[t * V + i]));
    }
    CHECK(w2 < 1e-4, "%s: cached decode == training forward (max diff %g)", what, w2);
    fr_tf_state_free(&s);
    free(li);
    fr_ctx_free(ctx);
}

int main(void) {
    fr_threads_set(2);
    block_gradcheck(FR_TF_LLAMA);
    block_gradcheck(FR_TF_GPT2);

    struct fr_tf_config cl = small(FR_TF_LLAMA, 2), cg = small(FR_TF_GPT2, 4);
    struct fr_tf_model ml, mg;
    CHECK(fr_tf_init(&ml, &cl, 1) == 0, "init llama: %s", fr_last_error());
    CHECK(fr_tf_init(&mg, &cg, 2) == 0, "init gpt2: %s", fr_last_error());
    CHECK(fr_nelem(&(struct fr_tensor){.ne = {1, 1, 1, 1}}) == 1, "sanity");
    CHECK(fr_params_count_trainable(&ml.params) == fr_tf_param_count(&ml),
          "llama param count %lld vs formula %lld",
          (long long)fr_params_count_trainable(&ml.params), (long long)fr_tf_param_count(&ml));
    CHECK(fr_params_count_trainable(&mg.params) == fr_tf_param_count(&mg),
          "gpt2 param count %lld vs formula %lld", (long long)fr_params_count_trainable(&mg.params),
          (long long)fr_tf_param_count(&mg));
    train_vs_infer(&ml, "llama");
    train_vs_infer(&mg, "gpt2");
    struct fr_tf_config cn = small(FR_TF_GPT2, 4);
    cn.no_bias = 1;
    cn.gelu_exact = 1;
    struct fr_tf_model mn;
    CHECK(fr_tf_init(&mn, &cn, 5) == 0, "init gpt2 without biases: %s", fr_last_error());
    CHECK(fr_params_count_trainable(&mn.params) == fr_tf_param_count(&mn),
          "no-bias param count %lld vs formula %lld",
          (long long)fr_params_count_trainable(&mn.params), (long long)fr_tf_param_count(&mn));
    train_vs_infer(&mn, "gpt2 no-bias exact-gelu");
    fr_tf_free(&mn);
    cl.rope_half = 1;
    struct fr_tf_model mh;
    fr_tf_init(&mh, &cl, 3);
    train_vs_infer(&mh, "llama rope_half");
    fr_tf_free(&mh);

    /* GQA == MHA with duplicated KV weights */
    struct fr_tf_config c1 = small(FR_TF_LLAMA, 2), c2 = small(FR_TF_LLAMA, 4);
    struct fr_tf_model a, b;
    fr_tf_init(&a, &c1, 4);
    fr_tf_init(&b, &c2, 4);
    for (int i = 0; i < b.params.count; i++) {
        struct fr_param *pb = &b.params.items[i], *pa = fr_params_find(&a.params, pb->name);
        if (fr_nelem(pa->t) == fr_nelem(pb->t)) {
            memcpy(pb->t->data, pa->t->data, (size_t)fr_nelem(pa->t) * 4);
        } else { /* k/v proj: rows of KV head g go to heads 2g and 2g+1 */
            int64_t hs = 8, D = 32;
            for (int h = 0; h < 4; h++)
                memcpy((float *)pb->t->data + h * hs * D, (float *)pa->t->data + (h / 2) * hs * D,
                       (size_t)(hs * D) * 4);
        }
    }
    struct fr_tf_state sa, sb;
    fr_tf_state_init(&sa, &a, 1, 64, 16, NULL, 0);
    fr_tf_state_init(&sb, &b, 1, 64, 16, NULL, 0);
    int32_t toks[9] = {1, 5, 9, 2, 33, 4, 8, 0, 49};
    float la[50], lb[50];
    fr_tf_prefill(&sa, 0, toks, 9, la, 0);
    fr_tf_prefill(&sb, 0, toks, 9, lb, 0);
    double d = 0;
    for (int i = 0; i < 50; i++)
        d = fmax(d, fabs(la[i] - lb[i]));
    CHECK(d < 1e-5, "GQA model == MHA model with duplicated KV heads (diff %g)", d);
    fr_tf_state_free(&sa);
    fr_tf_state_free(&sb);
    fr_tf_free(&a);
    fr_tf_free(&b);

    /* save / load */
    const char *path = check_tmp("tf.safetensors");
    CHECK(fr_tf_save(&mg, path, FR_F32) == 0, "save: %s", fr_last_error());
    struct fr_tf_model r;
    CHECK(fr_tf_load_ex(&r, path, FR_TF_TRAINABLE) == 0, "load: %s", fr_last_error());
    CHECK(r.cfg.dim == 32 && r.cfg.arch == FR_TF_GPT2 && r.cfg.tied, "config restored");
    CHECK(memcmp(r.params.data, mg.params.data, (size_t)mg.params.n * 4) == 0,
          "f32 round trip is exact");
    fr_tf_free(&r);
    /* mapped (inference) load: the same logits as the slab model */
    CHECK(fr_tf_load(&r, path) == 0 && !r.params.allocated && r.st_file, "mapped load: %s",
          fr_last_error());
    {
        struct fr_tf_state s1, s2;
        int32_t tk[6] = {1, 2, 3, 4, 5, 6};
        float l1[50], l2[50];
        fr_tf_state_init(&s1, &mg, 1, 16, 8, NULL, 0);
        fr_tf_state_init(&s2, &r, 1, 16, 8, NULL, 0);
        fr_tf_prefill(&s1, 0, tk, 6, l1, 0);
        fr_tf_prefill(&s2, 0, tk, 6, l2, 0);
        double dd = 0;
        for (int i = 0; i < 50; i++)
            dd = fmax(dd, fabs(l1[i] - l2[i]));
        CHECK(dd == 0, "mapped f32 model gives identical logits (diff %g)", dd);
        fr_tf_state_free(&s1);
        fr_tf_state_free(&s2);
    }
    fr_tf_free(&r);
    CHECK(fr_tf_save(&ml, path, FR_BF16) == 0, "save bf16: %s", fr_last_error());
    CHECK(fr_tf_load(&r, path) == 0 && r.layers[0].wq.dt == FR_BF16, "mapped bf16 load: %s",
          fr_last_error());
    {
        struct fr_tf_state s1, s2;
        int32_t tk[6] = {1, 2, 3, 4, 5, 6};
        float l1[50], l2[50];
        fr_tf_state_init(&s1, &ml, 1, 16, 8, NULL, 0);
        fr_tf_state_init(&s2, &r, 1, 16, 8, NULL, 0);
        fr_tf_prefill(&s1, 0, tk, 6, l1, 0);
        fr_tf_prefill(&s2, 0, tk, 6, l2, 0);
        double dd = 0;
        for (int i = 0; i < 50; i++)
            dd = fmax(dd, fabs(l1[i] - l2[i]));
        CHECK(dd < 0.05, "bf16 weights computed in f32 stay close to f32 (max logit diff %g)", dd);
        fr_tf_state_free(&s1);
        fr_tf_state_free(&s2);
    }
    /* bf16 precision: a prefill of more than 16 rows reads the bf16 weights
     * in place through the bf16 GEMM: close to the f32 computation, and not
     * the same bits (so that path ran) */
    if (fr_cpu_bf16() != FR_BF16_NONE) {
        struct fr_tf_state s1, s2;
        int32_t tk[24];
        for (int i = 0; i < 24; i++)
            tk[i] = (i * 7 + 3) % 50;
        float l1[24 * 50], l2[24 * 50];
        fr_tf_state_init(&s1, &r, 1, 32, 24, NULL, 0);
        fr_tf_state_init(&s2, &r, 1, 32, 24, NULL, 0);
        fr_tf_prefill(&s1, 0, tk, 24, l1, 1);
        CHECK(fr_gemm_precision_set(FR_GEMM_BF16) == 0, "bf16 precision: %s", fr_last_error());
        fr_tf_prefill(&s2, 0, tk, 24, l2, 1);
        fr_gemm_precision_set(FR_GEMM_F32);
        double dd = 0;
        for (int i = 0; i < 24 * 50; i++)
            dd = fmax(dd, fabs(l1[i] - l2[i]));
        CHECK(dd < 0.05 && dd > 0, "bf16 precision on bf16 weights: max logit diff %g", dd);
        fr_tf_state_free(&s1);
        fr_tf_state_free(&s2);
    }
    fr_tf_free(&r);
    CHECK(fr_tf_load_ex(&r, path, FR_TF_TRAINABLE) == 0, "load bf16: %s", fr_last_error());
    double md = 0;
    for (int64_t i = 0; i < ml.params.n; i++)
        md =
            fmax(md, fabs(r.params.data[i] - ml.params.data[i]) / (fabs(ml.params.data[i]) + 1e-3));
    CHECK(md < 1e-2, "bf16 round trip within bf16 precision (%g)", md);
    fr_tf_free(&r);
    remove(path);

    struct fr_tf_config bad = small(FR_TF_LLAMA, 3);
    CHECK(fr_tf_init(&r, &bad, 1) != 0, "kv heads not dividing heads rejected: %s",
          fr_last_error());
    bad = small(FR_TF_LLAMA, 4);
    bad.dim = 30;
    CHECK(fr_tf_init(&r, &bad, 1) != 0, "dim not a multiple of heads rejected");
    bad = small(FR_TF_LLAMA, 4);
    bad.vocab_size = 0;
    CHECK(fr_tf_init(&r, &bad, 1) != 0, "zero vocabulary rejected");

    /* gradients reported final during the backward pass are final, with
     * the tied embedding (read by the embedding and the classifier) */
    {
        struct fr_ctx *cr = fr_ctx_new(1 << 22);
        fr_t *tok = fr_new2(cr, FR_I32, 16, 2), *tgt = fr_new2(cr, FR_I32, 16, 2);
        for (int i = 0; i < 32; i++) {
            ((int32_t *)tok->data)[i] = (i * 7) % 50;
            ((int32_t *)tgt->data)[i] = (i * 7 + 1) % 50;
        }
        fr_params_zero_grad(&mg.params);
        check_grad_ready("gpt2", &mg.params, cr,
                         fr_cross_entropy(cr, fr_tf_forward(cr, &mg, tok, NULL), tgt, 0));
        fr_ctx_reset(cr);
        tok = fr_new2(cr, FR_I32, 16, 2), tgt = fr_new2(cr, FR_I32, 16, 2);
        for (int i = 0; i < 32; i++) {
            ((int32_t *)tok->data)[i] = (i * 7) % 50;
            ((int32_t *)tgt->data)[i] = (i * 7 + 1) % 50;
        }
        fr_params_zero_grad(&ml.params);
        check_grad_ready("llama", &ml.params, cr,
                         fr_cross_entropy(cr, fr_tf_forward(cr, &ml, tok, NULL), tgt, 0));
        fr_ctx_free(cr);
    }

    /* a few AdamW steps on a fixed batch reduce the loss */
    struct fr_optim opt;
    struct fr_optim_config oc;
    fr_optim_config_defaults(&oc, FR_OPT_ADAMW);
    oc.lr = 3e-3;
    fr_optim_init(&opt, &ml.params, &oc);
    struct fr_ctx *ctx = fr_ctx_new(1 << 22);
    double first = 0, last = 0;
    for (int step = 0; step < 30; step++) {
        fr_t *tok = fr_new2(ctx, FR_I32, 16, 2), *tgt = fr_new2(ctx, FR_I32, 16, 2);
        for (int i = 0; i < 32; i++) {
            ((int32_t *)tok->data)[i] = (i * 3) % 50;
            ((int32_t *)tgt->data)[i] = (i * 3 + 3) % 50;
        }
        fr_t *loss = fr_cross_entropy(ctx, fr_tf_forward(ctx, &ml, tok, NULL), tgt, 0);
        fr_params_zero_grad(&ml.params);
        fr_backward(ctx, loss);
        fr_optim_step(&opt, -1);
        if (step == 0) first = fr_get(loss, 0);
        last = fr_get(loss, 0);
        fr_ctx_reset(ctx);
    }
    CHECK(last < 0.5 * first, "loss falls on a fixed batch: %.3f -> %.3f", first, last);
    fr_optim_free(&opt);
    fr_ctx_free(ctx);
    fr_tf_free(&ml);
    fr_tf_free(&mg);
    return check_report("test_transformer");
}

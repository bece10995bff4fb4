/* transformer.c: the decoder's configuration, parameters (names, init),
 * checkpoint loading/saving, and the training forward (autograd).
 *
 * Parameter names follow Hugging Face LLaMA (llama) and nanoGPT (gpt2), so a
 * frugal checkpoint loads in PyTorch with those module trees. GPT-2's fused
 * c_attn is one [3D x D] matrix; inference reads q, k, v as its row blocks.
 */
#include "frugal/transformer.h"
#include "frugal/io.h"
#include "frugal/status.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../core/file.h"
#include "../kernels/matvec.h"
#include "transformer_internal.h"

int fr_tf_config_check(struct fr_tf_config *c) {
    if (c->arch != FR_TF_LLAMA && c->arch != FR_TF_GPT2)
        return fr_error(FR_EINVAL, "unknown transformer arch %d", c->arch);
    const struct {
        const char *name;
        int v;
    } flags[] = {{"tied", c->tied},
                 {"rope_half", c->rope_half},
                 {"no_bias", c->no_bias},
                 {"gelu_exact", c->gelu_exact}};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (flags[i].v != 0 && flags[i].v != 1)
            return fr_error(FR_EINVAL, "transformer: %s is %d, not 0 or 1", flags[i].name,
                            flags[i].v);
    if (c->dim < 1 || c->n_layers < 1 || c->n_heads < 1 || c->vocab_size < 1 || c->max_seq < 1 ||
        c->hidden_dim < 0 || c->n_kv_heads < 0)
        return fr_error(FR_EINVAL,
                        "transformer: sizes must be positive (dim %d, hidden %d, layers %d, heads "
                        "%d, kv heads %d, vocab %d, context %d)",
                        c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads,
                        c->vocab_size, c->max_seq);
    if (c->dim > 65536 || c->n_layers > 1024 || c->n_heads > 1024 || c->vocab_size > 1 << 24 ||
        c->max_seq > 1 << 20 || c->hidden_dim > 1 << 20)
        return fr_error(FR_EINVAL,
                        "transformer: absurd size in config (dim %d, hidden %d, layers %d, heads "
                        "%d, vocab %d, context %d; at most 65536, 2^20, 1024, 1024, 2^24, 2^20)",
                        c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->vocab_size, c->max_seq);
    /* zero means the default; NaN fails every range test below */
    if (c->norm_eps == 0) c->norm_eps = 1e-5f;
    if (c->rope_theta == 0) c->rope_theta = 10000.0f;
    if (!(c->norm_eps > 0 && c->norm_eps <= 1))
        return fr_error(FR_EINVAL, "transformer: norm_eps %g not in (0, 1]", c->norm_eps);
    if (!(c->rope_theta >= 1 && c->rope_theta <= 1e12f))
        return fr_error(FR_EINVAL, "transformer: rope_theta %g not in [1, 1e12]", c->rope_theta);
    if (!(c->dropout >= 0 && c->dropout < 1))
        return fr_error(FR_EINVAL, "dropout %g not in [0, 1)", c->dropout);
    if (c->n_kv_heads == 0) c->n_kv_heads = c->n_heads;
    if (c->hidden_dim == 0) {
        if (c->arch == FR_TF_GPT2) {
            c->hidden_dim = 4 * c->dim;
        } else { /* LLaMA: 2/3 of 4*dim rounded up to a multiple of 32 */
            int h = 8 * c->dim / 3;
            c->hidden_dim = (h + 31) / 32 * 32;
        }
    }
    if (c->dim % c->n_heads)
        return fr_error(FR_EINVAL, "dim %d is not a multiple of heads %d", c->dim, c->n_heads);
    if (c->n_heads % c->n_kv_heads)
        return fr_error(FR_EINVAL, "heads %d is not a multiple of kv heads %d", c->n_heads,
                        c->n_kv_heads);
    if ((c->dim / c->n_heads) % 2 && c->arch == FR_TF_LLAMA)
        return fr_error(FR_EINVAL, "head size %d must be even for rotary embeddings",
                        c->dim / c->n_heads);
    if (c->arch != FR_TF_GPT2 && (c->no_bias || c->gelu_exact))
        return fr_error(FR_EINVAL, "no_bias and gelu_exact apply to gpt2 only");
    if (c->arch == FR_TF_GPT2 && c->n_kv_heads != c->n_heads)
        return fr_error(FR_EINVAL,
                        "gpt2 has no grouped-query attention (kv heads must equal heads)");
    return 0;
}

static struct fr_wmat wm_t(struct fr_tensor *t) {
    struct fr_wmat w = {0};
    if (!t) return w;
    w.p = t->data;
    w.dt = t->dtype;
    w.cols = t->ne[0];
    w.rows = t->ndim > 1 ? t->ne[1] : 1;
    w.t = t;
    return w;
}

/* A row block [r0, r0+n) of a matrix. */
static struct fr_wmat wm_rows(struct fr_wmat m, int64_t r0, int64_t n) {
    size_t es = m.dt == FR_F32 ? 4 : 2;
    m.p = (const char *)m.p + (size_t)r0 * m.cols * es;
    m.rows = n;
    m.t = NULL;
    return m;
}

static struct fr_tensor *addp(struct fr_params *p, int flags, int64_t n0, int64_t n1,
                              const char *fmt, int l) {
    char name[128];
    snprintf(name, sizeof name, fmt, l);
    int64_t ne[2] = {n0, n1};
    return fr_params_add(p, name, n1 ? 2 : 1, ne, flags);
}

/* See transformer_internal.h: each parameter's tensor goes into its
 * wmat's .t; fr_tf_bind_views fills in the rest once the tensors have data
 * (a slab, or a mapped file). */
int fr_tf_declare(struct fr_tf_model *m) {
    const struct fr_tf_config *c = &m->cfg;
    struct fr_params *p = &m->params;
    int64_t D = c->dim, V = c->vocab_size, Hd = c->hidden_dim;
    int64_t kvd = (int64_t)c->n_kv_heads * (D / c->n_heads);
    int W = FR_PARAM_PRUNABLE, N = FR_PARAM_NO_DECAY;
    fr_params_init(p);
    m->layers = calloc((size_t)c->n_layers, sizeof *m->layers);
    if (!m->layers) return fr_error(FR_ENOMEM, "out of memory");
    if (c->arch == FR_TF_LLAMA) {
        m->tok_emb.t = addp(p, 0, D, V, "model.embed_tokens.weight", 0);
        for (int l = 0; l < c->n_layers; l++) {
            struct fr_tf_layer *L = &m->layers[l];
            L->norm1.t = addp(p, N, D, 0, "model.layers.%d.input_layernorm.weight", l);
            L->wq.t = addp(p, W, D, D, "model.layers.%d.self_attn.q_proj.weight", l);
            L->wk.t = addp(p, W, D, kvd, "model.layers.%d.self_attn.k_proj.weight", l);
            L->wv.t = addp(p, W, D, kvd, "model.layers.%d.self_attn.v_proj.weight", l);
            L->wo.t = addp(p, W, D, D, "model.layers.%d.self_attn.o_proj.weight", l);
            L->norm2.t = addp(p, N, D, 0, "model.layers.%d.post_attention_layernorm.weight", l);
            L->w1.t = addp(p, W, D, Hd, "model.layers.%d.mlp.gate_proj.weight", l);
            L->w3.t = addp(p, W, D, Hd, "model.layers.%d.mlp.up_proj.weight", l);
            L->w2.t = addp(p, W, Hd, D, "model.layers.%d.mlp.down_proj.weight", l);
        }
        m->norm_f.t = addp(p, N, D, 0, "model.norm.weight", 0);
    } else {
        int B = !c->no_bias;
        m->tok_emb.t = addp(p, 0, D, V, "transformer.wte.weight", 0);
        m->pos_emb.t = addp(p, 0, D, c->max_seq, "transformer.wpe.weight", 0);
        for (int l = 0; l < c->n_layers; l++) {
            struct fr_tf_layer *L = &m->layers[l];
            L->norm1.t = addp(p, N, D, 0, "transformer.h.%d.ln_1.weight", l);
            if (B) L->norm1_b.t = addp(p, N, D, 0, "transformer.h.%d.ln_1.bias", l);
            L->wqkv.t = addp(p, W, D, 3 * D, "transformer.h.%d.attn.c_attn.weight", l);
            if (B) L->bqkv.t = addp(p, N, 3 * D, 0, "transformer.h.%d.attn.c_attn.bias", l);
            L->wo.t = addp(p, W, D, D, "transformer.h.%d.attn.c_proj.weight", l);
            if (B) L->bo.t = addp(p, N, D, 0, "transformer.h.%d.attn.c_proj.bias", l);
            L->norm2.t = addp(p, N, D, 0, "transformer.h.%d.ln_2.weight", l);
            if (B) L->norm2_b.t = addp(p, N, D, 0, "transformer.h.%d.ln_2.bias", l);
            L->w1.t = addp(p, W, D, Hd, "transformer.h.%d.mlp.c_fc.weight", l);
            if (B) L->b1.t = addp(p, N, Hd, 0, "transformer.h.%d.mlp.c_fc.bias", l);
            L->w2.t = addp(p, W, Hd, D, "transformer.h.%d.mlp.c_proj.weight", l);
            if (B) L->b2.t = addp(p, N, D, 0, "transformer.h.%d.mlp.c_proj.bias", l);
        }
        m->norm_f.t = addp(p, N, D, 0, "transformer.ln_f.weight", 0);
        if (B) m->norm_f_b.t = addp(p, N, D, 0, "transformer.ln_f.bias", 0);
    }
    if (!c->tied) m->cls.t = addp(p, 0, D, V, "lm_head.weight", 0);
    /* an add fails only for want of memory (the names and shapes are ours) */
    int bias = c->arch == FR_TF_GPT2 && !c->no_bias;
    int want =
        c->arch == FR_TF_LLAMA ? 2 + 9 * c->n_layers : 3 + bias + (6 + 6 * bias) * c->n_layers;
    if (p->count != want + !c->tied)
        return fr_error(FR_ENOMEM, "out of memory declaring the parameters");
    return 0;
}

void fr_tf_bind_views(struct fr_tf_model *m) {
    const struct fr_tf_config *c = &m->cfg;
    int64_t D = c->dim;
    m->tok_emb = wm_t(m->tok_emb.t);
    m->pos_emb = wm_t(m->pos_emb.t);
    m->norm_f = wm_t(m->norm_f.t);
    m->norm_f_b = wm_t(m->norm_f_b.t);
    m->cls = m->cls.t ? wm_t(m->cls.t) : m->tok_emb;
    for (int l = 0; l < c->n_layers; l++) {
        struct fr_tf_layer *L = &m->layers[l];
        struct fr_wmat *all[] = {&L->norm1, &L->norm1_b, &L->norm2, &L->norm2_b, &L->wq, &L->wk,
                                 &L->wv,    &L->wo,      &L->bo,    &L->w1,      &L->w2, &L->w3,
                                 &L->b1,    &L->b2,      &L->wqkv,  &L->bqkv};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            *all[i] = wm_t(all[i]->t);
        if (c->arch == FR_TF_GPT2) {
            L->wq = wm_rows(L->wqkv, 0, D);
            L->wk = wm_rows(L->wqkv, D, D);
            L->wv = wm_rows(L->wqkv, 2 * D, D);
            if (L->bqkv.p) { /* the fused bias vector in thirds */
                const float *b = L->bqkv.p;
                struct fr_wmat v = {b, FR_F32, 1, D, NULL};
                L->bq = v, L->bk = v, L->bv = v;
                L->bk.p = b + D, L->bv.p = b + 2 * D;
            }
        }
    }
}

/* Declares the parameters and allocates their f32 slab (zeroed). */
static int declare_slab(struct fr_tf_model *m) {
    int rc = fr_tf_declare(m);
    if (!rc) rc = fr_params_alloc(&m->params);
    if (!rc) fr_tf_bind_views(m);
    return rc;
}

int fr_tf_init(struct fr_tf_model *m, const struct fr_tf_config *cfg, uint64_t seed) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    int rc = fr_tf_config_check(&m->cfg);
    if (rc || (rc = declare_slab(m))) {
        fr_tf_free(m);
        return rc;
    }
    struct fr_rng rng;
    fr_rng_seed(&rng, seed);
    float resid = 0.02f / sqrtf(2.0f * (float)m->cfg.n_layers);
    for (int i = 0; i < m->params.count; i++) {
        struct fr_param *pp = &m->params.items[i];
        const char *nm = pp->name;
        int64_t n = fr_nelem(pp->t);
        float *d = pp->t->data;
        int is_norm_w = strstr(nm, "norm.weight") || strstr(nm, "layernorm.weight") ||
                        strstr(nm, "ln_1.weight") || strstr(nm, "ln_2.weight") ||
                        strstr(nm, "ln_f.weight");
        if (is_norm_w) {
            for (int64_t k = 0; k < n; k++)
                d[k] = 1.0f;
        } else if (strstr(nm, "bias")) {
            memset(d, 0, (size_t)n * sizeof(float));
        } else {
            int residual =
                strstr(nm, "o_proj") || strstr(nm, "down_proj") || strstr(nm, "c_proj.weight");
            fr_rng_fill_normal(&rng, d, n, 0.0f, residual ? resid : 0.02f);
        }
    }
    return 0;
}

void fr_tf_free(struct fr_tf_model *m) {
    if (!m) return;
    fr_params_free(&m->params);
    free(m->layers);
    free(m->owned);
    if (m->map) munmap(m->map, m->map_len);
    fr_st_close(m->st_file);
    memset(m, 0, sizeof *m);
}

int64_t fr_tf_param_count(const struct fr_tf_model *m) {
    const struct fr_tf_config *c = &m->cfg;
    int64_t D = c->dim, kvd = (int64_t)c->n_kv_heads * (D / c->n_heads), Hd = c->hidden_dim;
    int64_t bias = c->no_bias ? 0 : 1;
    int64_t per = c->arch == FR_TF_LLAMA ? 2 * D + 2 * D * D + 2 * D * kvd + 3 * D * Hd
                                         : 2 * D + 3 * D * D + D * D + 2 * D * Hd +
                                               bias * (2 * D + 3 * D + D + Hd + D);
    int64_t n = (int64_t)c->vocab_size * D + per * c->n_layers + D;
    if (c->arch == FR_TF_GPT2) n += (int64_t)c->max_seq * D + bias * D;
    if (!c->tied) n += (int64_t)c->vocab_size * D;
    return n;
}

/* Copies every weight of src (any dtype, mapped or slab) into dst's slab;
 * both must have the same config. */
/* dst's slab tensor of a weight (if it has one) <- src's data in any dtype. */
static int copy_mat(const struct fr_wmat *s, const struct fr_wmat *d) {
    if (!d->t || !s->p) return 0; /* views (fused slices) and absent weights */
    int64_t n = s->rows * s->cols;
    if (n != fr_nelem(d->t)) return fr_error(FR_EINVAL, "copy weights: size mismatch");
    float *o = d->t->data;
    for (int64_t k = 0; k < n; k++)
        o[k] = s->dt == FR_F32   ? ((const float *)s->p)[k]
               : s->dt == FR_F16 ? fr_f16_to_f32(((const uint16_t *)s->p)[k])
                                 : fr_bf16_to_f32(((const uint16_t *)s->p)[k]);
    return 0;
}

int fr_tf_copy_weights(struct fr_tf_model *dst, const struct fr_tf_model *src) {
    if (!dst->params.allocated || memcmp(&dst->cfg, &src->cfg, sizeof dst->cfg) != 0)
        return fr_error(FR_EINVAL, "copy weights: models differ or target has no slab");
    static const size_t LAYER[] = {
        offsetof(struct fr_tf_layer, norm1), offsetof(struct fr_tf_layer, norm1_b),
        offsetof(struct fr_tf_layer, norm2), offsetof(struct fr_tf_layer, norm2_b),
        offsetof(struct fr_tf_layer, wq),    offsetof(struct fr_tf_layer, wk),
        offsetof(struct fr_tf_layer, wv),    offsetof(struct fr_tf_layer, wo),
        offsetof(struct fr_tf_layer, bo),    offsetof(struct fr_tf_layer, w1),
        offsetof(struct fr_tf_layer, w2),    offsetof(struct fr_tf_layer, w3),
        offsetof(struct fr_tf_layer, b1),    offsetof(struct fr_tf_layer, b2),
        offsetof(struct fr_tf_layer, wqkv),  offsetof(struct fr_tf_layer, bqkv)};
    int rc = copy_mat(&src->tok_emb, &dst->tok_emb) || copy_mat(&src->pos_emb, &dst->pos_emb) ||
             copy_mat(&src->norm_f, &dst->norm_f) || copy_mat(&src->norm_f_b, &dst->norm_f_b) ||
             copy_mat(&src->cls, &dst->cls);
    for (int l = 0; l < src->cfg.n_layers && !rc; l++)
        for (size_t i = 0; i < sizeof LAYER / sizeof LAYER[0] && !rc; i++)
            rc = copy_mat((const struct fr_wmat *)((const char *)&src->layers[l] + LAYER[i]),
                          (const struct fr_wmat *)((const char *)&dst->layers[l] + LAYER[i]));
    return rc ? FR_EINVAL : 0;
}

/* ---------------- saving ---------------- */

int fr_tf_save(const struct fr_tf_model *m, const char *path, int dtype) {
    return fr_tf_save_ex(m, path, dtype, NULL, NULL, 0);
}

int fr_tf_save_ex(const struct fr_tf_model *m, const char *path, int dtype,
                  const char *const *extra_keys, const char *const *extra_vals, int nextra) {
    if (nextra < 0 || nextra > 16)
        return fr_error(FR_EINVAL, "save: %d extra metadata entries (at most 16)", nextra);
    if (!m->params.allocated)
        return fr_error(FR_EINVAL, "save: model has no parameter slab (loaded read-only)");
    const struct fr_tf_config *c = &m->cfg;
    char v[12][32];
    const char *keys[12] = {"frugal.model", "arch",     "dim",        "hidden_dim",
                            "n_layers",     "n_heads",  "n_kv_heads", "vocab_size",
                            "max_seq",      "norm_eps", "rope_theta", "tied"};
    snprintf(v[0], 32, "transformer");
    snprintf(v[1], 32, "%s", c->arch == FR_TF_LLAMA ? "llama" : "gpt2");
    snprintf(v[2], 32, "%d", c->dim);
    snprintf(v[3], 32, "%d", c->hidden_dim);
    snprintf(v[4], 32, "%d", c->n_layers);
    snprintf(v[5], 32, "%d", c->n_heads);
    snprintf(v[6], 32, "%d", c->n_kv_heads);
    snprintf(v[7], 32, "%d", c->vocab_size);
    snprintf(v[8], 32, "%d", c->max_seq);
    snprintf(v[9], 32, "%.9g", c->norm_eps);
    snprintf(v[10], 32, "%.9g", c->rope_theta);
    snprintf(v[11], 32, "%d", c->tied);
    const char *vals[15 + 16];
    for (int i = 0; i < 12; i++)
        vals[i] = v[i];
    const char *k2[15 + 16];
    memcpy(k2, keys, sizeof keys);
    k2[12] = "rope_half", k2[13] = "no_bias", k2[14] = "gelu_exact";
    char rh[3][4];
    snprintf(rh[0], 4, "%d", c->rope_half);
    snprintf(rh[1], 4, "%d", c->no_bias);
    snprintf(rh[2], 4, "%d", c->gelu_exact);
    vals[12] = rh[0], vals[13] = rh[1], vals[14] = rh[2];
    for (int i = 0; i < nextra; i++) {
        for (int j = 0; j < 15; j++)
            if (strcmp(extra_keys[i], k2[j]) == 0)
                return fr_error(FR_EINVAL, "save: extra metadata key %s is the config's own",
                                extra_keys[i]);
        k2[15 + i] = extra_keys[i], vals[15 + i] = extra_vals[i];
    }
    struct fr_ckpt opt = {0};
    opt.meta_keys = k2;
    opt.meta_vals = vals;
    opt.nmeta = 15 + nextra;
    opt.store = (enum fr_dtype)dtype;
    return fr_params_save_masked(&m->params, path, &opt); /* a pruned model keeps its mask */
}

/* ---------------- loading: common ---------------- */

const char *fr_tf_printable(const char *s, char buf[48]) {
    size_t i = 0;
    for (; s[i] && i < 40; i++)
        buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (s[i]) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = 0;
    return buf;
}

/* rc with "PATH: " put in front of the current message (rc != 0). */
static int prefixed(int rc, const char *path) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", fr_last_error());
    return fr_error(rc, "%s: %s", path, msg);
}

/* ---------------- loading: llama2.c ---------------- */

static int map_file(const char *path, void **map, size_t *len) {
    int64_t size = 0;
    int fd = fr_open_regular(path, &size);
    if (fd < 0) return fd;
    if (size <= 0) {
        close(fd);
        return fr_error(FR_EFORMAT, "%s is empty", path);
    }
    void *p = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return fr_error(FR_EIO, "cannot map %s: %s", path, strerror(errno));
    *map = p;
    *len = (size_t)size;
    return 0;
}

static struct fr_wmat wm_raw(const float *p, int64_t rows, int64_t cols) {
    struct fr_wmat w = {p, FR_F32, rows, cols, NULL};
    return w;
}

/* Binds layer pointers for the llama2.c layout given each tensor group's
 * base; per-layer tensors are consecutive blocks. */
struct l2c_ptrs {
    const float *emb, *rms_att, *wq, *wk, *wv, *wo, *rms_ffn, *w1, *w2, *w3, *rms_f, *cls;
};

static void bind_l2c(struct fr_tf_model *m, const struct l2c_ptrs *q) {
    const struct fr_tf_config *c = &m->cfg;
    int64_t D = c->dim, Hd = c->hidden_dim, kvd = (int64_t)c->n_kv_heads * (D / c->n_heads);
    m->tok_emb = wm_raw(q->emb, c->vocab_size, D);
    m->norm_f = wm_raw(q->rms_f, 1, D);
    m->cls = q->cls ? wm_raw(q->cls, c->vocab_size, D) : m->tok_emb;
    for (int l = 0; l < c->n_layers; l++) {
        struct fr_tf_layer *L = &m->layers[l];
        L->norm1 = wm_raw(q->rms_att + l * D, 1, D);
        L->norm2 = wm_raw(q->rms_ffn + l * D, 1, D);
        L->wq = wm_raw(q->wq + l * D * D, D, D);
        L->wk = wm_raw(q->wk + l * kvd * D, kvd, D);
        L->wv = wm_raw(q->wv + l * kvd * D, kvd, D);
        L->wo = wm_raw(q->wo + l * D * D, D, D);
        L->w1 = wm_raw(q->w1 + l * Hd * D, Hd, D);
        L->w2 = wm_raw(q->w2 + l * D * Hd, D, Hd);
        L->w3 = wm_raw(q->w3 + l * Hd * D, Hd, D);
    }
}

/* Every weight finite; the error names the tensor as llama2.c does, the
 * layer and the first bad element. One pass over the weights. */
static int check_l2c_finite(const struct fr_tf_model *m, const struct l2c_ptrs *q,
                            const char *path) {
    const struct fr_tf_config *c = &m->cfg;
    int64_t D = c->dim, Hd = c->hidden_dim, L = c->n_layers, V = c->vocab_size;
    int64_t kvd = (int64_t)c->n_kv_heads * (D / c->n_heads);
    const struct {
        const char *name;
        const float *p;
        int64_t n;
        int per_layer;
    } g[] = {{"token_embedding_table", q->emb, V * D, 0},
             {"rms_att_weight", q->rms_att, L * D, 1},
             {"wq", q->wq, L * D * D, 1},
             {"wk", q->wk, L * kvd * D, 1},
             {"wv", q->wv, L * kvd * D, 1},
             {"wo", q->wo, L * D * D, 1},
             {"rms_ffn_weight", q->rms_ffn, L * D, 1},
             {"w1", q->w1, L * Hd * D, 1},
             {"w2", q->w2, L * D * Hd, 1},
             {"w3", q->w3, L * Hd * D, 1},
             {"rms_final_weight", q->rms_f, D, 0},
             {"wcls", q->cls, V * D, 0}};
    for (size_t k = 0; k < sizeof g / sizeof g[0]; k++) {
        int64_t i = g[k].p ? fr_first_nonfinite(g[k].p, FR_F32, g[k].n) : -1;
        if (i < 0) continue;
        float v = g[k].p[i];
        int64_t per = g[k].per_layer ? g[k].n / L : g[k].n;
        return fr_error(FR_EFORMAT,
                        "%s: llama2.c tensor '%s' (layer %lld) element %lld is %s: weights must "
                        "be finite",
                        path, g[k].name, (long long)(i / per), (long long)(i % per),
                        isnan(v) ? "NaN"
                        : v > 0  ? "+inf"
                                 : "-inf");
    }
    return 0;
}

/* The header's seven int32 fields into a config, each checked for sign and
 * range before anything uses it (the legacy format stores an unshared
 * classifier as a negative vocab size; INT_MIN has no positive twin). */
static int l2c_config(struct fr_tf_config *c, const int32_t h[7], int legacy, int shared,
                      const char *path) {
    static const char *const names[7] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                                         "n_kv_heads", "vocab_size", "seq_len"};
    int32_t v[7];
    memcpy(v, h, sizeof v);
    if (legacy && v[5] < 0 && v[5] != INT32_MIN) v[5] = -v[5];
    for (int i = 0; i < 7; i++)
        if (v[i] <= 0)
            return fr_error(FR_EFORMAT,
                            "%s: not a llama2.c checkpoint: header field %s is %d (header %d %d "
                            "%d %d %d %d %d)",
                            path, names[i], h[i], h[0], h[1], h[2], h[3], h[4], h[5], h[6]);
    memset(c, 0, sizeof *c);
    c->arch = FR_TF_LLAMA;
    c->dim = v[0], c->hidden_dim = v[1], c->n_layers = v[2], c->n_heads = v[3];
    c->n_kv_heads = v[4], c->vocab_size = v[5], c->max_seq = v[6];
    c->tied = shared;
    c->rope_half = 0;
    if (fr_tf_config_check(c)) return prefixed(FR_EFORMAT, path);
    return 0;
}

/* Q8_0 (version 2): norms in f32, then each matrix as int8 values + f32
 * group scales, per-layer matrices one layer at a time. The file size the
 * header implies is checked before the f32 copy is allocated. */
static int load_l2c_q8(struct fr_tf_model *m, const char *path, const uint8_t *b, size_t len,
                       size_t off, struct l2c_ptrs *q) {
    const struct fr_tf_config *c = &m->cfg;
    int shared = c->tied;
    int64_t D = c->dim, Hd = c->hidden_dim, L = c->n_layers, V = c->vocab_size;
    int64_t kvd = (int64_t)c->n_kv_heads * (D / c->n_heads);
    int32_t gs;
    memcpy(&gs, b + 8 + 28 + 1, 4);
    if (gs <= 0 || gs > 4096 || (V * D) % gs || (D * D) % gs || (kvd * D) % gs || (Hd * D) % gs)
        return fr_error(FR_EFORMAT, "%s: bad int8 group size %d", path, gs);
    int64_t nf = L * D * 2 + D;
    int64_t mats[9] = {V * D,      L * D * D,  L * kvd * D, L * kvd * D,       L * D * D,
                       L * Hd * D, L * D * Hd, L * Hd * D,  shared ? 0 : V * D};
    /* sizes are bounded by fr_tf_config_check: every sum fits an int64_t */
    int64_t floats = nf, bytes = (int64_t)off + 4 * nf;
    for (int i = 0; i < 9; i++) {
        floats += mats[i];
        bytes += mats[i] + mats[i] / gs * 4;
    }
    if ((uint64_t)bytes != len)
        return fr_error(FR_EFORMAT, "%s: size %zu bytes but the header implies %lld", path, len,
                        (long long)bytes);
    float *o = malloc((size_t)floats * sizeof(float));
    if (!o) return fr_error(FR_ENOMEM, "out of memory dequantising %s", path);
    m->owned = o;
    memcpy(o, b + off, (size_t)nf * 4);
    q->rms_att = o, q->rms_ffn = o + L * D, q->rms_f = o + 2 * L * D;
    float *dst = o + nf;
    const float **slots[9] = {&q->emb, &q->wq, &q->wk, &q->wv, &q->wo,
                              &q->w1,  &q->w2, &q->w3, &q->cls};
    size_t p = off + (size_t)nf * 4;
    for (int i = 0; i < 9; i++) {
        int64_t n = mats[i];
        if (n == 0) continue;
        int parts = i == 0 || i == 8 ? 1 : (int)L;
        int64_t per = n / parts;
        *slots[i] = dst;
        for (int part = 0; part < parts; part++) {
            const int8_t *qv = (const int8_t *)(b + p);
            const uint8_t *sc = b + p + per;
            for (int64_t k = 0; k < per; k++) {
                float sv;
                memcpy(&sv, sc + (k / gs) * 4, 4);
                dst[k] = qv[k] * sv;
            }
            dst += per;
            p += (size_t)(per + per / gs * 4);
        }
    }
    return 0;
}

static int load_llama2c(struct fr_tf_model *m, const char *path, const uint8_t *b, size_t len) {
    struct fr_tf_config *c = &m->cfg;
    int32_t h[7];
    int version = 0, shared;
    size_t off;
    uint32_t magic;
    if (len < 28)
        return fr_error(FR_EFORMAT, "%s: truncated llama2.c header (%zu bytes)", path, len);
    memcpy(&magic, b, 4);
    if (magic == 0x616b3432) {
        if (len < 256) return fr_error(FR_EFORMAT, "%s: truncated llama2.c header", path);
        memcpy(&version, b + 4, 4);
        if (version != 1 && version != 2)
            return fr_error(FR_EFORMAT, "%s: llama2.c version %d not supported (1 or 2)", path,
                            version);
        memcpy(h, b + 8, sizeof h);
        if (b[8 + 28] > 1)
            return fr_error(FR_EFORMAT, "%s: llama2.c shared_classifier flag is %d, not 0 or 1",
                            path, b[8 + 28]);
        shared = b[8 + 28];
        off = 256;
    } else {
        memcpy(h, b, sizeof h);
        shared = h[5] > 0;
        off = 28;
    }
    int rc = l2c_config(c, h, version == 0, shared, path);
    if (rc) return rc;
    int64_t D = c->dim, Hd = c->hidden_dim, L = c->n_layers, V = c->vocab_size;
    int64_t kvd = (int64_t)c->n_kv_heads * (D / c->n_heads), hs = D / c->n_heads;
    struct l2c_ptrs q = {0};
    if (version != 2) {
        /* sizes are bounded by fr_tf_config_check: the sums fit an int64_t */
        int64_t nfl =
            V * D + L * D + L * D * D + 2 * L * kvd * D + L * D * D + L * D + 3 * L * Hd * D + D;
        int64_t extra = version == 0 ? (int64_t)c->max_seq * hs : 0; /* freq_cis */
        int64_t expect = (int64_t)off + 4 * (nfl + extra + (shared ? 0 : V * D));
        if ((uint64_t)expect != len)
            return fr_error(FR_EFORMAT, "%s: size %zu bytes but the header implies %lld", path, len,
                            (long long)expect);
    }
    m->layers = calloc((size_t)L, sizeof *m->layers);
    if (!m->layers) return fr_error(FR_ENOMEM, "out of memory");
    if (version == 2) {
        if ((rc = load_l2c_q8(m, path, b, len, off, &q))) return rc;
    } else {
        const float *f = (const float *)(b + off);
        if (version == 0) {
            q.emb = f, f += V * D;
            q.rms_att = f, f += L * D;
            q.wq = f, f += L * D * D;
            q.wk = f, f += L * kvd * D;
            q.wv = f, f += L * kvd * D;
            q.wo = f, f += L * D * D;
            q.rms_ffn = f, f += L * D;
            q.w1 = f, f += L * Hd * D;
            q.w2 = f, f += L * D * Hd;
            q.w3 = f, f += L * Hd * D;
            q.rms_f = f, f += D;
            f += (int64_t)c->max_seq * hs; /* freq_cis_real and _imag, unused */
        } else {
            q.rms_att = f, f += L * D;
            q.rms_ffn = f, f += L * D;
            q.rms_f = f, f += D;
            q.emb = f, f += V * D;
            q.wq = f, f += L * D * D;
            q.wk = f, f += L * kvd * D;
            q.wv = f, f += L * kvd * D;
            q.wo = f, f += L * D * D;
            q.w1 = f, f += L * Hd * D;
            q.w2 = f, f += L * D * Hd;
            q.w3 = f, f += L * Hd * D;
        }
        q.cls = shared ? NULL : f;
    }
    if ((rc = check_l2c_finite(m, &q, path))) return rc;
    bind_l2c(m, &q);
    return 0;
}

/* ---------------- loading: safetensors ---------------- */

/* An integer __metadata__ value: a whole number within int; absent is an
 * error when required, else leaves *out as it is. */
static int meta_int(const struct fr_st_file *f, const char *path, const char *k, int required,
                    int *out) {
    const char *v = fr_st_meta(f, k);
    if (!v) return required ? fr_error(FR_EFORMAT, "%s: metadata lacks '%s'", path, k) : 0;
    char *end, buf[48];
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || *end || errno == ERANGE || x < INT_MIN || x > INT_MAX)
        return fr_error(FR_EFORMAT, "%s: metadata '%s' = '%s' is not an integer", path, k,
                        fr_tf_printable(v, buf));
    *out = (int)x;
    return 0;
}

/* A float __metadata__ value: a finite number that a float holds (a value
 * that rounds to 0 or to infinity is refused, not turned into the default);
 * absent leaves *out as it is. The range is fr_tf_config_check's. */
static int meta_float(const struct fr_st_file *f, const char *path, const char *k, float *out) {
    const char *v = fr_st_meta(f, k);
    if (!v) return 0;
    char *end, buf[48];
    errno = 0;
    double x = strtod(v, &end);
    float y = (float)x;
    if (end == v || *end || errno == ERANGE || !isfinite(y) || (x != 0 && y == 0))
        return fr_error(FR_EFORMAT, "%s: metadata '%s' = '%s' is not a finite float", path, k,
                        fr_tf_printable(v, buf));
    *out = y;
    return 0;
}

static int meta_config(const struct fr_st_file *f, const char *path, struct fr_tf_config *c) {
    char buf[48];
    memset(c, 0, sizeof *c);
    const char *arch = fr_st_meta(f, "arch");
    if (!arch) return fr_error(FR_EFORMAT, "%s: metadata lacks 'arch'", path);
    if (strcmp(arch, "llama") == 0)
        c->arch = FR_TF_LLAMA;
    else if (strcmp(arch, "gpt2") == 0)
        c->arch = FR_TF_GPT2;
    else
        return fr_error(FR_EFORMAT, "%s: unknown arch '%s'", path, fr_tf_printable(arch, buf));
    int rc;
    if ((rc = meta_int(f, path, "dim", 1, &c->dim)) ||
        (rc = meta_int(f, path, "hidden_dim", 1, &c->hidden_dim)) ||
        (rc = meta_int(f, path, "n_layers", 1, &c->n_layers)) ||
        (rc = meta_int(f, path, "n_heads", 1, &c->n_heads)) ||
        (rc = meta_int(f, path, "n_kv_heads", 1, &c->n_kv_heads)) ||
        (rc = meta_int(f, path, "vocab_size", 1, &c->vocab_size)) ||
        (rc = meta_int(f, path, "max_seq", 1, &c->max_seq)) ||
        (rc = meta_int(f, path, "tied", 1, &c->tied)) ||
        (rc = meta_int(f, path, "rope_half", 0, &c->rope_half)) ||
        (rc = meta_int(f, path, "no_bias", 0, &c->no_bias)) ||
        (rc = meta_int(f, path, "gelu_exact", 0, &c->gelu_exact)) ||
        (rc = meta_float(f, path, "norm_eps", &c->norm_eps)) ||
        (rc = meta_float(f, path, "rope_theta", &c->rope_theta)))
        return rc;
    /* a value written as 0 would silently become the default */
    if (fr_st_meta(f, "norm_eps") && c->norm_eps == 0)
        return fr_error(FR_EFORMAT, "%s: metadata norm_eps is 0", path);
    if (fr_st_meta(f, "rope_theta") && c->rope_theta == 0)
        return fr_error(FR_EFORMAT, "%s: metadata rope_theta is 0", path);
    if (fr_tf_config_check(c)) return prefixed(FR_EFORMAT, path);
    return 0;
}

static int is_float_dtype(enum fr_dtype dt) {
    return dt == FR_F32 || dt == FR_F16 || dt == FR_BF16 || dt == FR_F64;
}

/* The metadata's model against the file's tensor table, before any memory
 * the size of the model is allocated: every declared tensor present with
 * its shape and a float dtype (and finite values when check_finite), and no
 * tensor beyond them except "__" blobs (a mask, optimizer state): metadata
 * that claims fewer layers than the file stores is an error. */
static int check_table(const struct fr_tf_model *m, const struct fr_st_file *f, const char *path,
                       int check_finite) {
    const struct fr_params *p = &m->params;
    const struct fr_tf_config *c = &m->cfg;
    for (int i = 0; i < p->count; i++) {
        const struct fr_tensor *t = p->items[i].t;
        const struct fr_st_entry *e = fr_st_find(f, p->items[i].name);
        if (!e)
            return fr_error(FR_ENOTFOUND,
                            "%s: tensor '%s' missing (the metadata describes a %d-layer, %d-wide "
                            "%s)",
                            path, p->items[i].name, c->n_layers, c->dim,
                            c->arch == FR_TF_LLAMA ? "llama" : "gpt2");
        if (!is_float_dtype(e->dtype))
            return fr_error(FR_EFORMAT, "%s: tensor '%s' is %s, not a float type", path, e->name,
                            fr_dtype_name(e->dtype));
        if (fr_st_check_shape(e, t->ndim, t->ne)) return prefixed(FR_EFORMAT, path);
        if (check_finite && fr_st_check_finite(e)) return prefixed(FR_EFORMAT, path);
    }
    int64_t model = 0;
    for (int i = 0; i < f->n; i++)
        model += strncmp(f->entries[i].name, "__", 2) != 0;
    if (model == p->count) return 0; /* every declared one was found, names are unique */
    for (int i = 0; i < f->n; i++) {
        const char *name = f->entries[i].name;
        char buf[48];
        if (strncmp(name, "__", 2) != 0 && !fr_params_find(p, name))
            return fr_error(FR_EFORMAT,
                            "%s: tensor '%s' is not part of the model the metadata describes (%d "
                            "layers, dim %d): the file and its metadata disagree",
                            path, fr_tf_printable(name, buf), c->n_layers, c->dim);
    }
    return 0;
}

/* Points each declared parameter at its tensor in the mapped file: weight
 * matrices stay in the file's dtype (f32, f16 or bf16; read in place),
 * vectors and the position table are converted to f32 in m->owned. The
 * table has been checked (check_table). */
static int bind_to_file(struct fr_tf_model *m, const struct fr_st_file *f, const char *path) {
    struct fr_params *p = &m->params;
    int64_t nvec = 0;
    for (int i = 0; i < p->count; i++) {
        const struct fr_st_entry *e = fr_st_find(f, p->items[i].name);
        int mapped = e->ndim == 2 && e->dtype != FR_F64 && !strstr(e->name, "wpe");
        if (!mapped) nvec += (e->nelem + 15) & ~(int64_t)15;
    }
    float *own = malloc((size_t)(nvec + 16) * sizeof(float));
    if (!own) return fr_error(FR_ENOMEM, "out of memory loading %s", path);
    m->owned = own;
    for (int i = 0; i < p->count; i++) {
        struct fr_tensor *t = p->items[i].t;
        const struct fr_st_entry *e = fr_st_find(f, p->items[i].name);
        int mapped = e->ndim == 2 && e->dtype != FR_F64 && !strstr(e->name, "wpe");
        if (mapped) {
            t->data = (void *)e->data;
            t->dtype = e->dtype;
        } else {
            fr_st_entry_to_f32(e, own);
            t->data = own;
            own += (e->nelem + 15) & ~(int64_t)15;
        }
    }
    return 0;
}

/* A frugal checkpoint: the config from __metadata__, checked against the
 * tensor table; then read in place (or, trainable, copied into a slab with
 * its keep-mask by fr_params_load_masked, which checks finiteness itself). */
static int load_frugal_st(struct fr_tf_model *m, const char *path, const struct fr_st_file *f,
                          int trainable) {
    struct fr_tf_config c;
    int rc = meta_config(f, path, &c);
    if (rc) return rc;
    memset(m, 0, sizeof *m);
    m->cfg = c;
    if ((rc = fr_tf_declare(m)) || (rc = check_table(m, f, path, !trainable))) return rc;
    if (!trainable) {
        if ((rc = bind_to_file(m, f, path))) return rc;
        fr_tf_bind_views(m);
        return 0;
    }
    if ((rc = fr_params_alloc(&m->params))) return rc;
    fr_tf_bind_views(m);
    return fr_params_load_masked(&m->params, path, NULL, NULL);
}

int fr_tf_load(struct fr_tf_model *m, const char *path) {
    return fr_tf_load_ex(m, path, 0);
}

int fr_tf_load_ex(struct fr_tf_model *m, const char *path, int flags) {
    memset(m, 0, sizeof *m);
    void *map = NULL;
    size_t len = 0;
    int rc = map_file(path, &map, &len);
    if (rc) return rc;
    const uint8_t *b = map;
    /* safetensors: 8-byte little-endian header length, then '{' */
    uint64_t hl = 0;
    if (len >= 9) memcpy(&hl, b, 8);
    if (len >= 9 && hl <= len - 8 && b[8] == '{') {
        munmap(map, len);
        struct fr_st_file *f;
        rc = fr_st_open(path, &f);
        if (rc) return rc;
        const char *kind = fr_st_meta(f, "frugal.model");
        int trainable = flags & FR_TF_TRAINABLE;
        char buf[48];
        if (kind && strcmp(kind, "transformer") == 0) {
            rc = load_frugal_st(m, path, f, trainable);
            if (!rc && !trainable) {
                m->st_file = f; /* the weights live in its mapping */
                f = NULL;
            }
        } else if (kind) {
            rc = fr_error(FR_EFORMAT, "%s: a frugal '%s' checkpoint, not a transformer", path,
                          fr_tf_printable(kind, buf));
        } else if (fr_st_meta(f, "arch")) {
            rc = fr_error(FR_EFORMAT,
                          "%s is an image-classifier checkpoint (arch %s), not a "
                          "transformer language model",
                          path, fr_tf_printable(fr_st_meta(f, "arch"), buf));
        } else {
            rc = fr_tf_load_hf(m, path, f);
        }
        fr_st_close(f);
        if (rc) fr_tf_free(m);
        return rc;
    }
    m->map = map;
    m->map_len = len;
    rc = load_llama2c(m, path, b, len);
    if (rc) fr_tf_free(m);
    return rc;
}

/* ---------------- training forward (autograd) ---------------- */

static fr_t *resid_dropout(struct fr_ctx *ctx, fr_t *x, float p, struct fr_rng *rng) {
    return p > 0 && rng ? fr_dropout(ctx, x, p, rng) : x;
}

fr_t *fr_tf_block(struct fr_ctx *ctx, const struct fr_tf_config *c, fr_t *x,
                  fr_t *const w[FR_TF_BLOCK_NW], struct fr_rng *dropout_rng) {
    int H = c->n_heads, Hkv = c->n_kv_heads;
    float p = c->dropout;
    fr_t *q, *k, *v, *h, *f;
    if (c->arch == FR_TF_LLAMA) {
        h = fr_rmsnorm(ctx, x, w[FR_TFW_NORM1], c->norm_eps);
        q = fr_rope(ctx, fr_linear(ctx, h, w[FR_TFW_Q], NULL), H, c->rope_theta, c->rope_half, 0);
        k = fr_rope(ctx, fr_linear(ctx, h, w[FR_TFW_K], NULL), Hkv, c->rope_theta, c->rope_half, 0);
        v = fr_linear(ctx, h, w[FR_TFW_V], NULL);
    } else {
        h = fr_layernorm(ctx, x, w[FR_TFW_NORM1], w[FR_TFW_NORM1_B], c->norm_eps);
        fr_t *qkv = fr_linear(ctx, h, w[FR_TFW_QKV], w[FR_TFW_QKV_B]); /* {3D, T, B} */
        q = fr_slice(ctx, qkv, 0, 0, c->dim);
        k = fr_slice(ctx, qkv, 0, c->dim, c->dim);
        v = fr_slice(ctx, qkv, 0, 2 * (int64_t)c->dim, c->dim);
    }
    fr_t *a = fr_attention(ctx, q, k, v, H, Hkv, 1);
    x = fr_add(ctx, x,
               resid_dropout(ctx, fr_linear(ctx, a, w[FR_TFW_O], w[FR_TFW_O_B]), p, dropout_rng));
    if (c->arch == FR_TF_LLAMA) {
        h = fr_rmsnorm(ctx, x, w[FR_TFW_NORM2], c->norm_eps);
        f = fr_mul(ctx, fr_silu(ctx, fr_linear(ctx, h, w[FR_TFW_W1], NULL)),
                   fr_linear(ctx, h, w[FR_TFW_W3], NULL));
        f = fr_linear(ctx, f, w[FR_TFW_W2], NULL);
    } else {
        h = fr_layernorm(ctx, x, w[FR_TFW_NORM2], w[FR_TFW_NORM2_B], c->norm_eps);
        f = fr_linear(ctx, h, w[FR_TFW_W1], w[FR_TFW_B1]);
        f = c->gelu_exact ? fr_gelu(ctx, f) : fr_gelu_tanh(ctx, f);
        f = fr_linear(ctx, f, w[FR_TFW_W2], w[FR_TFW_B2]);
    }
    return fr_add(ctx, x, resid_dropout(ctx, f, p, dropout_rng));
}

fr_t *fr_tf_forward(struct fr_ctx *ctx, struct fr_tf_model *m, fr_t *tokens,
                    struct fr_rng *dropout_rng) {
    const struct fr_tf_config *c = &m->cfg;
    if (!tokens) return NULL;
    if (!m->params.allocated) {
        fr_error(FR_EINVAL, "training forward needs a model with a parameter slab");
        return NULL;
    }
    if (tokens->dtype != FR_I32 || tokens->ne[0] > c->max_seq) {
        fr_error(FR_EINVAL, "tokens must be I32 {T, B} with T <= %d", c->max_seq);
        return NULL;
    }
    int64_t T = tokens->ne[0];
    fr_t *x = fr_embedding(ctx, m->tok_emb.t, tokens); /* {D, T, B} */
    if (c->arch == FR_TF_GPT2) x = fr_add(ctx, x, fr_slice(ctx, m->pos_emb.t, 1, 0, T));
    x = resid_dropout(ctx, x, c->dropout, dropout_rng);
    for (int l = 0; l < c->n_layers; l++) {
        const struct fr_tf_layer *L = &m->layers[l];
        fr_t *w[FR_TF_BLOCK_NW] = {
            [FR_TFW_NORM1] = L->norm1.t, [FR_TFW_NORM1_B] = L->norm1_b.t,
            [FR_TFW_NORM2] = L->norm2.t, [FR_TFW_NORM2_B] = L->norm2_b.t,
            [FR_TFW_Q] = L->wq.t,        [FR_TFW_K] = L->wk.t,
            [FR_TFW_V] = L->wv.t,        [FR_TFW_QKV] = L->wqkv.t,
            [FR_TFW_QKV_B] = L->bqkv.t,  [FR_TFW_O] = L->wo.t,
            [FR_TFW_O_B] = L->bo.t,      [FR_TFW_W1] = L->w1.t,
            [FR_TFW_B1] = L->b1.t,       [FR_TFW_W2] = L->w2.t,
            [FR_TFW_B2] = L->b2.t,       [FR_TFW_W3] = L->w3.t,
        };
        x = fr_tf_block(ctx, c, x, w, dropout_rng);
    }
    x = c->arch == FR_TF_LLAMA ? fr_rmsnorm(ctx, x, m->norm_f.t, c->norm_eps)
                               : fr_layernorm(ctx, x, m->norm_f.t, m->norm_f_b.t, c->norm_eps);
    return fr_linear(ctx, x, m->cls.t, NULL);
}

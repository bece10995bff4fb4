/* transformer.c: the decoder's configuration, parameters (names, init),
 * checkpoint loading/saving, and the training forward (autograd).
 *
 * Parameter names follow Hugging Face LLaMA (llama) and nanoGPT (gpt2), so a
 * frugal checkpoint loads in PyTorch with those module trees. GPT-2's fused
 * c_attn is one [3D x D] matrix; inference reads q, k, v as its row blocks.
 */
#include "frugal/io.h"
#include "frugal/status.h"
#include "frugal/transformer.h"

#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../kernels/matvec.h"

int fr_tf_config_check(struct fr_tf_config *c) {
    if (c->arch != FR_TF_LLAMA && c->arch != FR_TF_GPT2)
        return fr_error(FR_EINVAL, "unknown transformer arch %d", c->arch);
    if (c->n_kv_heads == 0) c->n_kv_heads = c->n_heads;
    if (c->norm_eps == 0) c->norm_eps = 1e-5f;
    if (c->rope_theta == 0) c->rope_theta = 10000.0f;
    if (c->hidden_dim == 0) {
        if (c->arch == FR_TF_GPT2) {
            c->hidden_dim = 4 * c->dim;
        } else { /* LLaMA: 2/3 of 4*dim rounded up to a multiple of 32 */
            int h = 8 * c->dim / 3;
            c->hidden_dim = (h + 31) / 32 * 32;
        }
    }
    if (c->dim < 1 || c->n_layers < 1 || c->n_heads < 1 || c->vocab_size < 1 || c->max_seq < 1 ||
        c->hidden_dim < 1)
        return fr_error(FR_EINVAL, "transformer: sizes must be positive (dim %d, layers %d, "
                        "heads %d, vocab %d, context %d)", c->dim, c->n_layers, c->n_heads,
                        c->vocab_size, c->max_seq);
    if (c->dim > 65536 || c->n_layers > 1024 || c->n_heads > 1024 || c->vocab_size > 1 << 24 ||
        c->max_seq > 1 << 20 || c->hidden_dim > 1 << 20)
        return fr_error(FR_EINVAL, "transformer: absurd size in config");
    if (c->dim % c->n_heads)
        return fr_error(FR_EINVAL, "dim %d is not a multiple of heads %d", c->dim, c->n_heads);
    if (c->n_kv_heads < 1 || c->n_heads % c->n_kv_heads)
        return fr_error(FR_EINVAL, "heads %d is not a multiple of kv heads %d", c->n_heads,
                        c->n_kv_heads);
    if ((c->dim / c->n_heads) % 2 && c->arch == FR_TF_LLAMA)
        return fr_error(FR_EINVAL, "head size %d must be even for rotary embeddings",
                        c->dim / c->n_heads);
    if (c->arch != FR_TF_GPT2 && (c->no_bias || c->gelu_exact))
        return fr_error(FR_EINVAL, "no_bias and gelu_exact apply to gpt2 only");
    if (c->arch == FR_TF_GPT2 && c->n_kv_heads != c->n_heads)
        return fr_error(FR_EINVAL, "gpt2 has no grouped-query attention (kv heads must equal heads)");
    if (c->dropout < 0 || c->dropout >= 1)
        return fr_error(FR_EINVAL, "dropout %g not in [0, 1)", c->dropout);
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

static int bind_to_file(struct fr_tf_model *m, const struct fr_st_file *f, const char *path);

/* Declares the parameters and binds every wmat to them: to a newly
 * allocated f32 slab, or (f != NULL) to the tensors of a mapped file. */
static int declare(struct fr_tf_model *m, const struct fr_st_file *f, const char *path) {
    const struct fr_tf_config *c = &m->cfg;
    struct fr_params *p = &m->params;
    int64_t D = c->dim, V = c->vocab_size, Hd = c->hidden_dim;
    int64_t kvd = (int64_t)c->n_kv_heads * (D / c->n_heads);
    int W = FR_PARAM_PRUNABLE, N = FR_PARAM_NO_DECAY;
    fr_params_init(p);
    m->layers = calloc((size_t)c->n_layers, sizeof *m->layers);
    if (!m->layers) return fr_error(FR_ENOMEM, "out of memory");
    struct fr_tensor *emb, *pos = NULL, *nf, *nfb = NULL, *cls = NULL;
    struct {
        struct fr_tensor *n1, *n1b, *n2, *n2b, *q, *k, *v, *o, *bo, *qkv, *bqkv, *w1, *w2, *w3,
            *b1, *b2;
    } *T = calloc((size_t)c->n_layers, sizeof *T);
    if (!T) return fr_error(FR_ENOMEM, "out of memory");
    if (c->arch == FR_TF_LLAMA) {
        emb = addp(p, 0, D, V, "model.embed_tokens.weight", 0);
        for (int l = 0; l < c->n_layers; l++) {
            T[l].n1 = addp(p, N, D, 0, "model.layers.%d.input_layernorm.weight", l);
            T[l].q = addp(p, W, D, D, "model.layers.%d.self_attn.q_proj.weight", l);
            T[l].k = addp(p, W, D, kvd, "model.layers.%d.self_attn.k_proj.weight", l);
            T[l].v = addp(p, W, D, kvd, "model.layers.%d.self_attn.v_proj.weight", l);
            T[l].o = addp(p, W, D, D, "model.layers.%d.self_attn.o_proj.weight", l);
            T[l].n2 = addp(p, N, D, 0, "model.layers.%d.post_attention_layernorm.weight", l);
            T[l].w1 = addp(p, W, D, Hd, "model.layers.%d.mlp.gate_proj.weight", l);
            T[l].w3 = addp(p, W, D, Hd, "model.layers.%d.mlp.up_proj.weight", l);
            T[l].w2 = addp(p, W, Hd, D, "model.layers.%d.mlp.down_proj.weight", l);
        }
        nf = addp(p, N, D, 0, "model.norm.weight", 0);
        if (!c->tied) cls = addp(p, 0, D, V, "lm_head.weight", 0);
    } else {
        emb = addp(p, 0, D, V, "transformer.wte.weight", 0);
        pos = addp(p, 0, D, c->max_seq, "transformer.wpe.weight", 0);
        for (int l = 0; l < c->n_layers; l++) {
            T[l].n1 = addp(p, N, D, 0, "transformer.h.%d.ln_1.weight", l);
            if (!c->no_bias) T[l].n1b = addp(p, N, D, 0, "transformer.h.%d.ln_1.bias", l);
            T[l].qkv = addp(p, W, D, 3 * D, "transformer.h.%d.attn.c_attn.weight", l);
            if (!c->no_bias) T[l].bqkv = addp(p, N, 3 * D, 0, "transformer.h.%d.attn.c_attn.bias", l);
            T[l].o = addp(p, W, D, D, "transformer.h.%d.attn.c_proj.weight", l);
            if (!c->no_bias) T[l].bo = addp(p, N, D, 0, "transformer.h.%d.attn.c_proj.bias", l);
            T[l].n2 = addp(p, N, D, 0, "transformer.h.%d.ln_2.weight", l);
            if (!c->no_bias) T[l].n2b = addp(p, N, D, 0, "transformer.h.%d.ln_2.bias", l);
            T[l].w1 = addp(p, W, D, Hd, "transformer.h.%d.mlp.c_fc.weight", l);
            if (!c->no_bias) T[l].b1 = addp(p, N, Hd, 0, "transformer.h.%d.mlp.c_fc.bias", l);
            T[l].w2 = addp(p, W, Hd, D, "transformer.h.%d.mlp.c_proj.weight", l);
            if (!c->no_bias) T[l].b2 = addp(p, N, D, 0, "transformer.h.%d.mlp.c_proj.bias", l);
        }
        nf = addp(p, N, D, 0, "transformer.ln_f.weight", 0);
        if (!c->no_bias) nfb = addp(p, N, D, 0, "transformer.ln_f.bias", 0);
        if (!c->tied) cls = addp(p, 0, D, V, "lm_head.weight", 0);
    }
    int rc = f ? bind_to_file(m, f, path) : fr_params_alloc(p);
    if (rc) {
        free(T);
        return rc;
    }
    m->tok_emb = wm_t(emb);
    m->pos_emb = wm_t(pos);
    m->norm_f = wm_t(nf);
    m->norm_f_b = wm_t(nfb);
    m->cls = cls ? wm_t(cls) : m->tok_emb;
    for (int l = 0; l < c->n_layers; l++) {
        struct fr_tf_layer *L = &m->layers[l];
        L->norm1 = wm_t(T[l].n1);
        L->norm1_b = wm_t(T[l].n1b);
        L->norm2 = wm_t(T[l].n2);
        L->norm2_b = wm_t(T[l].n2b);
        L->wo = wm_t(T[l].o);
        L->bo = wm_t(T[l].bo);
        L->w1 = wm_t(T[l].w1);
        L->w2 = wm_t(T[l].w2);
        L->w3 = wm_t(T[l].w3);
        L->b1 = wm_t(T[l].b1);
        L->b2 = wm_t(T[l].b2);
        if (c->arch == FR_TF_LLAMA) {
            L->wq = wm_t(T[l].q);
            L->wk = wm_t(T[l].k);
            L->wv = wm_t(T[l].v);
        } else {
            L->wqkv = wm_t(T[l].qkv);
            L->bqkv = wm_t(T[l].bqkv);
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
    free(T);
    return 0;
}

int fr_tf_init(struct fr_tf_model *m, const struct fr_tf_config *cfg, uint64_t seed) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    int rc = fr_tf_config_check(&m->cfg);
    if (rc || (rc = declare(m, NULL, NULL))) {
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
            for (int64_t k = 0; k < n; k++) d[k] = 1.0f;
        } else if (strstr(nm, "bias")) {
            memset(d, 0, (size_t)n * sizeof(float));
        } else {
            int residual = strstr(nm, "o_proj") || strstr(nm, "down_proj") ||
                           strstr(nm, "c_proj.weight");
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
    int64_t per = c->arch == FR_TF_LLAMA
                      ? 2 * D + 2 * D * D + 2 * D * kvd + 3 * D * Hd
                      : 2 * D + 3 * D * D + D * D + 2 * D * Hd + bias * (2 * D + 3 * D + D + Hd + D);
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
        o[k] = s->dt == FR_F32    ? ((const float *)s->p)[k]
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
    const char *keys[12] = {"frugal.model", "arch", "dim", "hidden_dim", "n_layers", "n_heads",
                            "n_kv_heads", "vocab_size", "max_seq", "norm_eps", "rope_theta", "tied"};
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
    for (int i = 0; i < 12; i++) vals[i] = v[i];
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

int fr_tf_load_hf(struct fr_tf_model *m, const char *path, struct fr_st_file *f);

/* ---------------- loading: llama2.c ---------------- */

static int map_file(const char *path, void **map, size_t *len) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return fr_error(FR_EIO, "cannot open '%s'", path);
    struct stat st;
    if (fstat(fd, &st) || st.st_size <= 0) {
        close(fd);
        return fr_error(FR_EIO, "cannot read '%s' (empty or not a file)", path);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return fr_error(FR_EIO, "cannot map '%s'", path);
    *map = p;
    *len = (size_t)st.st_size;
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

static int check_nan(const float *p, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(p[i]))
            return fr_error(FR_EFORMAT, "%s: weight %zu is not finite (NaN or Inf)", what, i);
    return 0;
}

static int load_llama2c(struct fr_tf_model *m, const char *path, const uint8_t *b, size_t len) {
    struct fr_tf_config *c = &m->cfg;
    int32_t h[7];
    int version = 0;
    size_t off;
    int shared;
    uint32_t magic;
    memcpy(&magic, b, 4);
    if (magic == 0x616b3432) {
        if (len < 256) return fr_error(FR_EFORMAT, "%s: truncated llama2.c header", path);
        memcpy(&version, b + 4, 4);
        if (version != 1 && version != 2)
            return fr_error(FR_EFORMAT, "%s: llama2.c version %d not supported (1 or 2)", path,
                            version);
        memcpy(h, b + 8, sizeof h);
        shared = b[8 + 28];
        off = 256;
    } else {
        if (len < 28) return fr_error(FR_EFORMAT, "%s: truncated llama2.c header", path);
        memcpy(h, b, sizeof h);
        shared = h[5] > 0;
        if (h[5] < 0) h[5] = -h[5];
        off = 28;
    }
    memset(c, 0, sizeof *c);
    c->arch = FR_TF_LLAMA;
    c->dim = h[0], c->hidden_dim = h[1], c->n_layers = h[2], c->n_heads = h[3];
    c->n_kv_heads = h[4], c->vocab_size = h[5], c->max_seq = h[6];
    c->tied = shared;
    c->rope_half = 0;
    if (h[0] <= 0 || h[1] <= 0 || h[2] <= 0 || h[3] <= 0 || h[4] <= 0 || h[5] <= 0 || h[6] <= 0)
        return fr_error(FR_EFORMAT, "%s: not a llama2.c checkpoint (header %d %d %d %d %d %d %d)",
                        path, h[0], h[1], h[2], h[3], h[4], h[5], h[6]);
    int rc = fr_tf_config_check(c);
    if (rc) return fr_error(FR_EFORMAT, "%s: %s", path, fr_last_error());
    int64_t D = c->dim, Hd = c->hidden_dim, L = c->n_layers, V = c->vocab_size;
    int64_t kvd = (int64_t)c->n_kv_heads * (D / c->n_heads), hs = D / c->n_heads;
    m->layers = calloc((size_t)L, sizeof *m->layers);
    if (!m->layers) return fr_error(FR_ENOMEM, "out of memory");
    struct l2c_ptrs q = {0};
    if (version == 2) {
        /* Q8_0: norms in f32, then each matrix as int8 values + f32 group scales */
        int32_t gs;
        memcpy(&gs, b + 8 + 28 + 1, 4);
        if (gs <= 0 || gs > 4096 || (V * D) % gs || (D * D) % gs || (kvd * D) % gs || (Hd * D) % gs)
            return fr_error(FR_EFORMAT, "%s: bad int8 group size %d", path, gs);
        size_t nf = (size_t)(L * D * 2 + D);
        int64_t mats[8] = {V * D, L * D * D, L * kvd * D, L * kvd * D,
                           L * D * D, L * Hd * D, L * D * Hd, L * Hd * D};
        size_t total = nf + (size_t)(mats[0] + mats[1] + mats[2] + mats[3] + mats[4] + mats[5] +
                                     mats[6] + mats[7] + (shared ? 0 : V * D));
        float *o = malloc(total * sizeof(float));
        if (!o) return fr_error(FR_ENOMEM, "out of memory dequantising %s", path);
        m->owned = o;
        size_t need = off + nf * 4;
        if (need > len) return fr_error(FR_EFORMAT, "%s: truncated (norm weights)", path);
        memcpy(o, b + off, nf * 4);
        q.rms_att = o, q.rms_ffn = o + L * D, q.rms_f = o + 2 * L * D;
        float *dst = o + nf;
        const float **slots[9] = {&q.emb, &q.wq, &q.wk, &q.wv, &q.wo, &q.w1, &q.w2, &q.w3, &q.cls};
        size_t p = need;
        for (int i = 0; i < 9; i++) {
            int64_t n = i < 8 ? mats[i] : (shared ? 0 : V * D);
            if (n == 0) continue;
            /* per-layer matrices are quantised one layer at a time: int8
             * values then that layer's f32 group scales */
            int parts = i == 0 || i == 8 ? 1 : (int)L;
            int64_t per = n / parts;
            *slots[i] = dst;
            for (int part = 0; part < parts; part++) {
                size_t bytes = (size_t)per + (size_t)(per / gs) * 4;
                if (p + bytes > len)
                    return fr_error(FR_EFORMAT, "%s: truncated (int8 tensor %d)", path, i);
                const int8_t *qv = (const int8_t *)(b + p);
                const uint8_t *sc = b + p + per;
                for (int64_t k = 0; k < per; k++) {
                    float sv;
                    memcpy(&sv, sc + (k / gs) * 4, 4);
                    dst[k] = qv[k] * sv;
                }
                dst += per;
                p += bytes;
            }
        }
        if (p != len) return fr_error(FR_EFORMAT, "%s: %zu unexpected trailing bytes", path, len - p);
    } else {
        size_t nfl = (size_t)(V * D + L * D + L * D * D + 2 * L * kvd * D + L * D * D + L * D +
                              3 * L * Hd * D + D);
        size_t extra = version == 0 ? (size_t)c->max_seq * (size_t)hs : 0; /* freq_cis */
        size_t expect = off + 4 * (nfl + extra + (shared ? 0 : (size_t)(V * D)));
        if (len != expect)
            return fr_error(FR_EFORMAT, "%s: size %zu bytes but the header implies %zu", path, len,
                            expect);
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
            f += extra;
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
        rc = check_nan((const float *)(b + off), (len - off) / 4, path);
        if (rc) return rc;
    }
    bind_l2c(m, &q);
    return 0;
}

/* ---------------- loading: safetensors ---------------- */

static int meta_int(const struct fr_st_file *f, const char *k, int *out) {
    const char *v = fr_st_meta(f, k);
    if (!v) return fr_error(FR_EFORMAT, "checkpoint metadata lacks '%s'", k);
    char *end;
    long x = strtol(v, &end, 10);
    if (*end || end == v) return fr_error(FR_EFORMAT, "metadata '%s' = '%s' is not an integer", k, v);
    *out = (int)x;
    return 0;
}

static int load_frugal_st(struct fr_tf_model *m, const char *path, struct fr_st_file *f,
                          int trainable) {
    struct fr_tf_config c = {0};
    const char *arch = fr_st_meta(f, "arch");
    if (!arch) return fr_error(FR_EFORMAT, "%s: metadata lacks 'arch'", path);
    if (strcmp(arch, "llama") == 0)
        c.arch = FR_TF_LLAMA;
    else if (strcmp(arch, "gpt2") == 0)
        c.arch = FR_TF_GPT2;
    else
        return fr_error(FR_EFORMAT, "%s: unknown arch '%s'", path, arch);
    int rc;
    if ((rc = meta_int(f, "dim", &c.dim)) || (rc = meta_int(f, "hidden_dim", &c.hidden_dim)) ||
        (rc = meta_int(f, "n_layers", &c.n_layers)) || (rc = meta_int(f, "n_heads", &c.n_heads)) ||
        (rc = meta_int(f, "n_kv_heads", &c.n_kv_heads)) ||
        (rc = meta_int(f, "vocab_size", &c.vocab_size)) ||
        (rc = meta_int(f, "max_seq", &c.max_seq)) || (rc = meta_int(f, "tied", &c.tied)))
        return rc;
    meta_int(f, "rope_half", &c.rope_half);
    meta_int(f, "no_bias", &c.no_bias);
    meta_int(f, "gelu_exact", &c.gelu_exact);
    const char *e = fr_st_meta(f, "norm_eps");
    if (e) c.norm_eps = strtof(e, NULL);
    e = fr_st_meta(f, "rope_theta");
    if (e) c.rope_theta = strtof(e, NULL);
    if (!trainable) {
        memset(m, 0, sizeof *m);
        m->cfg = c;
        if ((rc = fr_tf_config_check(&m->cfg))) return fr_error(FR_EFORMAT, "%s: %s", path, fr_last_error());
        return declare(m, f, path);
    }
    rc = fr_tf_init(m, &c, 0);
    if (rc) return fr_error(FR_EFORMAT, "%s: %s", path, fr_last_error());
    if ((rc = fr_params_load_masked(&m->params, path, NULL, NULL))) return rc;
    return check_nan(m->params.data, (size_t)m->params.n, path);
}

/* Points each declared parameter at its tensor in the mapped file: weight
 * matrices stay in the file's dtype (f32, f16 or bf16; read in place),
 * vectors and the position table are converted to f32 in m->owned. */
static int bind_to_file(struct fr_tf_model *m, const struct fr_st_file *f, const char *path) {
    struct fr_params *p = &m->params;
    int64_t nvec = 0, maxn = 0;
    for (int i = 0; i < p->count; i++) {
        struct fr_tensor *t = p->items[i].t;
        const struct fr_st_entry *e = fr_st_find(f, p->items[i].name);
        if (!e) return fr_error(FR_ENOTFOUND, "%s: tensor '%s' missing", path, p->items[i].name);
        if (fr_st_check_shape(e, t->ndim, t->ne)) return FR_EINVAL;
        if (e->dtype != FR_F32 && e->dtype != FR_F16 && e->dtype != FR_BF16 && e->dtype != FR_F64)
            return fr_error(FR_EFORMAT, "%s: tensor '%s' is %s, not a float type", path, e->name,
                            fr_dtype_name(e->dtype));
        int mapped = t->ndim == 2 && e->dtype != FR_F64 && !strstr(e->name, "wpe");
        if (!mapped) nvec += (fr_nelem(t) + 15) & ~(int64_t)15;
        if (e->nelem > maxn) maxn = e->nelem;
    }
    float *own = malloc((size_t)(nvec + 16) * sizeof(float));
    float *tmp = malloc((size_t)(maxn + 1) * sizeof(float));
    if (!own || !tmp) {
        free(own);
        free(tmp);
        return fr_error(FR_ENOMEM, "out of memory loading %s", path);
    }
    m->owned = own;
    int rc = 0;
    for (int i = 0; i < p->count && !rc; i++) {
        struct fr_tensor *t = p->items[i].t;
        const struct fr_st_entry *e = fr_st_find(f, p->items[i].name);
        int mapped = t->ndim == 2 && e->dtype != FR_F64 && !strstr(e->name, "wpe");
        fr_st_entry_to_f32(e, tmp);
        rc = check_nan(tmp, (size_t)e->nelem, path);
        if (mapped) {
            t->data = (void *)e->data;
            t->dtype = e->dtype;
        } else {
            memcpy(own, tmp, (size_t)e->nelem * sizeof(float));
            t->data = own;
            own += (e->nelem + 15) & ~(int64_t)15;
        }
    }
    free(tmp);
    return rc;
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
    if (len >= 9 && hl + 8 <= len && b[8] == '{') {
        munmap(map, len);
        struct fr_st_file *f;
        rc = fr_st_open(path, &f);
        if (rc) return rc;
        const char *kind = fr_st_meta(f, "frugal.model");
        int trainable = flags & FR_TF_TRAINABLE;
        if (kind && strcmp(kind, "transformer") == 0) {
            rc = load_frugal_st(m, path, f, trainable);
            if (!rc && !trainable) {
                m->st_file = f; /* the weights live in its mapping */
                f = NULL;
            }
        }
        else if (kind)
            rc = fr_error(FR_EFORMAT, "%s: a frugal '%s' checkpoint, not a transformer", path, kind);
        else
            rc = fr_tf_load_hf(m, path, f);
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
    x = fr_add(ctx, x, resid_dropout(ctx, fr_linear(ctx, a, w[FR_TFW_O], w[FR_TFW_O_B]), p,
                                     dropout_rng));
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

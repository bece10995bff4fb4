/* transformer_infer.c: inference with a KV cache (see transformer.h, kv.h).
 *
 * Activations are rows: a prefill chunk of T tokens of one sequence, or one
 * token of each of B sequences, is an R x dim matrix that goes through each
 * weight matrix once (GEMM for f32 weights and many rows, and for bf16
 * weights and many rows in bf16 precision, the matvec kernels otherwise;
 * all read each weight once per step, which is what bounds
 * decode speed). Attention then runs per sequence and KV head over the
 * head's cached slots plus the chunk itself, reports the attention mass to
 * the cache policy, and lets the policy admit the new keys and values.
 */
#include "frugal/kernels.h"
#include "frugal/status.h"
#include "frugal/threads.h"
#include "frugal/transformer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/matvec.h"
#include "../kernels/vec.h"
#include "../kernels/vec_math.h"

/* bf16 weights and many rows in bf16 precision (fr_gemm_precision_set):
 * the bf16 GEMM reads them in place (AMX or AVX512-BF16) */
static int bf16_gemm(const struct fr_wmat *W, int64_t R) {
    return W->dt == FR_BF16 && R > 16 && fr_gemm_precision_get() == FR_GEMM_BF16;
}

/* y[R x rows] = x[R x cols] W^T */
static void wmul(const struct fr_wmat *W, const float *x, int64_t R, float *y) {
    if (bf16_gemm(W, R) &&
        fr_gemm_bf16w(R, W->rows, W->cols, 1.0f, x, W->cols, W->p, W->cols, 0.0f, y, W->rows) == 0)
        return;
    if (W->dt == FR_F32 && R > 16)
        fr_gemm(0, 1, R, W->rows, W->cols, 1.0f, x, W->cols, W->p, W->cols, 0.0f, y, W->rows);
    else
        fr_matvec(W->dt, W->p, W->rows, W->cols, x, W->cols, (int)R, y, W->rows);
}

/* Two or three products of the same x (q/k/v, w1/w3): one threaded matvec
 * over all their rows when each would take the matvec path. */
static void wmul_n(int n, const struct fr_wmat *const *W, const float *x, int64_t R,
                   float *const *y) {
    struct fr_matvec_part parts[3];
    int mv = 1;
    for (int i = 0; i < n; i++) {
        if ((W[i]->dt == FR_F32 && R > 16) || bf16_gemm(W[i], R) || W[i]->cols != W[0]->cols)
            mv = 0;
        parts[i] = (struct fr_matvec_part){W[i]->dt, W[i]->p, W[i]->rows, y[i], W[i]->rows};
    }
    if (mv) {
        fr_matvec_multi(n, parts, W[0]->cols, x, W[0]->cols, (int)R);
        return;
    }
    for (int i = 0; i < n; i++)
        wmul(W[i], x, R, y[i]);
}

static void add_bias(const struct fr_wmat *b, float *y, int64_t R, int64_t n) {
    if (!b->p) return;
    const float *bb = b->p;
    for (int64_t r = 0; r < R; r++)
        for (int64_t i = 0; i < n; i++)
            y[r * n + i] += bb[i];
}

static void norm_rows(const struct fr_tf_model *m, const struct fr_wmat *w, const struct fr_wmat *b,
                      const float *x, float *out, int64_t R) {
    int64_t D = m->cfg.dim;
    const float *wv = w->p, *bv = b->p;
    for (int64_t r = 0; r < R; r++) {
        const float *xr = x + r * D;
        float *o = out + r * D;
        if (m->cfg.arch == FR_TF_GPT2) {
            double mean = 0, var = 0;
            for (int64_t i = 0; i < D; i++)
                mean += xr[i];
            mean /= (double)D;
            for (int64_t i = 0; i < D; i++)
                var += (xr[i] - mean) * (xr[i] - mean);
            float rs = (float)(1.0 / sqrt(var / (double)D + m->cfg.norm_eps));
            for (int64_t i = 0; i < D; i++)
                o[i] = (float)(xr[i] - mean) * rs * wv[i] + (bv ? bv[i] : 0.0f);
        } else {
            double ss = 0;
            for (int64_t i = 0; i < D; i++)
                ss += (double)xr[i] * xr[i];
            float rs = (float)(1.0 / sqrt(ss / (double)D + m->cfg.norm_eps));
            for (int64_t i = 0; i < D; i++)
                o[i] = xr[i] * rs * wv[i];
        }
    }
}

/* cos/sin of position pos for each of the hs/2 frequencies (angles in
 * double, as the training op computes them). */
static void rope_table(const struct fr_tf_config *c, int hs, int32_t pos, float *cs, float *sn) {
    for (int i = 0; i < hs / 2; i++) {
        double a = (double)pos * pow(c->rope_theta, -2.0 * i / hs);
        cs[i] = (float)cos(a);
        sn[i] = (float)sin(a);
    }
}

/* Rotates n_heads heads of one row by a rope_table. */
static void rope_row(const struct fr_tf_config *c, float *v, int n_heads, int hs, const float *cst,
                     const float *snt) {
    for (int i = 0; i < hs / 2; i++) {
        float cs = cst[i], sn = snt[i];
        for (int h = 0; h < n_heads; h++) {
            float *p = v + h * hs;
            int i0 = c->rope_half ? i : 2 * i, i1 = c->rope_half ? i + hs / 2 : 2 * i + 1;
            float x0 = p[i0], x1 = p[i1];
            p[i0] = x0 * cs - x1 * sn;
            p[i1] = x0 * sn + x1 * cs;
        }
    }
}

static inline float dotf(const float *a, const float *b, int n) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++)
        s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

static inline void axpy(float a, const float *x, float *y, int n) {
    for (int i = 0; i < n; i++)
        y[i] += a * x[i];
}

/* Scratch per attention worker (floats): scores of the `rep` query heads
 * sharing a KV head, wsum, mass, and the chunk's keys and values. */
static size_t head_scratch(int64_t cap, int64_t T, int hs, int rep) {
    return (size_t)rep * (size_t)(cap + T) + (size_t)cap + (size_t)T + 2 * (size_t)T * hs + 16;
}

/* Attention work: `units` chunks of T rows each (a prefill: one unit of T
 * rows of one sequence; a decode step: one unit of 1 row per sequence),
 * times the KV heads. Task i is unit i / Hkv, KV head i % Hkv; scratch is
 * per worker thread. */
struct att_job {
    struct fr_tf_state *s;
    const int *seq; /* sequence of each unit */
    int layer;
    int64_t T;
    const float *q, *k, *v; /* rows: unit u starts at row u*T */
    int64_t qstride, kvstride;
    float *out;
    const int32_t *pos; /* per row */
    int err;
};

static void attend_heads(void *vp, int64_t i0, int64_t i1, int tid) {
    struct att_job *j = vp;
    struct fr_tf_state *s = j->s;
    const struct fr_tf_config *c = &s->m->cfg;
    int hs = c->dim / c->n_heads, rep = c->n_heads / c->n_kv_heads, Hkv = c->n_kv_heads;
    float scale = 1.0f / sqrtf((float)hs);
    int64_t T = j->T;
    fr_matvec_fn mv = fr_matvec_kernel(FR_F32);
    fr_vecmat_fn vm = fr_vecmat_kernel();
    int64_t ld = s->kv.cap + s->max_chunk; /* row stride of the score matrix */
    float *sc0 = s->buf + (size_t)tid * head_scratch(s->kv.cap, s->max_chunk, hs, rep);
    float *wsum = sc0 + (size_t)rep * ld;
    float *mass = wsum + s->kv.cap;
    float *kc = mass + s->max_chunk, *vc = kc + T * hs;
    for (int64_t i = i0; i < i1; i++) {
        int64_t u = i / Hkv, g = i % Hkv;
        const float *qu = j->q + u * T * j->qstride, *ku = j->k + u * T * j->kvstride,
                    *vu = j->v + u * T * j->kvstride;
        float *ou = j->out + u * T * j->qstride;
        struct fr_kv_head *hd = fr_kv_head_at(&s->kv, j->seq[u], j->layer, (int)g);
        int64_t n = hd->n;
        for (int64_t t = 0; t < T; t++) {
            memcpy(kc + t * hs, ku + t * j->kvstride + g * hs, (size_t)hs * sizeof(float));
            memcpy(vc + t * hs, vu + t * j->kvstride + g * hs, (size_t)hs * sizeof(float));
        }
        memset(wsum, 0, (size_t)n * sizeof(float));
        memset(mass, 0, (size_t)T * sizeof(float));
        for (int64_t t = 0; t < T; t++) {
            /* scores of the rep query heads over the cached keys in one pass
             * over K (the matvec kernel: rows of K dot each query) */
            const float *q0 = qu + t * j->qstride + g * rep * hs;
            if (n) mv(hd->k, hs, q0, hs, rep, sc0, ld, 0, n);
            for (int r = 0; r < rep; r++) {
                int h = (int)g * rep + r;
                const float *q = q0 + r * hs;
                float *sc = sc0 + r * ld;
                fr_vec_scale(n, scale, sc, sc);
                for (int64_t w = 0; w <= t; w++)
                    sc[n + w] = dotf(q, kc + w * hs, hs) * scale;
                int64_t tot = n + t + 1;
                /* vec_math's softmax (vectorised exp, ~6% of a step at context
                 * 1024 with libm's expf); a weight below 1e-30 is 0: avoids
                 * denormal arithmetic in the value sum */
                fr_vec_softmax_row(tot, sc, sc);
                float *o = ou + t * j->qstride + h * hs;
                for (int64_t k = 0; k < n; k++) {
                    sc[k] = sc[k] < 1e-30f ? 0.0f : sc[k];
                    wsum[k] += sc[k];
                }
                /* o = sum_k p_k V_k over the cache in one pass, o in registers */
                vm(hd->v, n, hs, sc, o);
                for (int64_t w = 0; w <= t; w++) {
                    float p = sc[n + w];
                    mass[w] += p;
                    fr_vec_acc_scaled(hs, p, vc + w * hs, o);
                }
            }
        }
        const struct fr_kv_policy *pol = s->kv.policy;
        if (pol->observe && n) pol->observe(hd, &s->kv.cfg, wsum);
        if (pol->admit(hd, &s->kv.cfg, s->kv.prompt_len, kc, vc, j->pos + u * T, mass, T, hs))
            j->err = 1;
    }
}

static int attention(struct fr_tf_state *s, const int *seq, int64_t units, int layer, int64_t T,
                     const float *q, const float *k, const float *v, float *out,
                     const int32_t *pos) {
    const struct fr_tf_config *c = &s->m->cfg;
    int kvd = c->n_kv_heads * (c->dim / c->n_heads);
    struct att_job j = {s, seq, layer, T, q, k, v, c->dim, kvd, out, pos, 0};
    int64_t tasks = units * c->n_kv_heads;
    int64_t work = (fr_kv_head_at(&s->kv, seq[0], layer, 0)->n + T) * T * c->dim * units;
    /* one scratch region per thread: run serially if the pool grew since init */
    int64_t grain = work > (1 << 16) && fr_threads_get() <= s->n_scratch ? 1 : tasks;
    fr_parallel_for(tasks, grain, attend_heads, &j);
    return j.err ? FR_EINVAL : 0;
}

/* Scratch pointers for R rows. */
struct rows {
    float *x, *xb, *q, *k, *v, *att, *h1, *h3, *rope;
};

static struct rows rows_of(struct fr_tf_state *s) {
    const struct fr_tf_config *c = &s->m->cfg;
    int hs = c->dim / c->n_heads;
    int64_t R = s->max_chunk > s->batch ? s->max_chunk : s->batch;
    size_t att_scratch = (size_t)s->n_scratch *
                         head_scratch(s->kv.cap, s->max_chunk, hs, c->n_heads / c->n_kv_heads);
    float *p = s->buf + att_scratch;
    struct rows r;
    int kvd = c->n_kv_heads * hs;
    r.x = p, p += R * c->dim;
    r.xb = p, p += R * c->dim;
    r.q = p, p += R * c->dim;
    r.k = p, p += R * kvd;
    r.v = p, p += R * kvd;
    r.att = p, p += R * c->dim;
    r.h1 = p, p += R * c->hidden_dim;
    r.h3 = p, p += R * c->hidden_dim;
    r.rope = p;
    return r;
}

int fr_tf_state_init(struct fr_tf_state *s, const struct fr_tf_model *m, int batch, int64_t max_seq,
                     int64_t max_chunk, const struct fr_kv_config *kvc, int64_t prompt_len) {
    memset(s, 0, sizeof *s);
    const struct fr_tf_config *c = &m->cfg;
    if (batch < 1 || batch > 4096) return fr_error(FR_EINVAL, "batch %d not in 1..4096", batch);
    if (max_seq < 1 || max_seq > c->max_seq)
        return fr_error(FR_EINVAL, "sequence length %lld not in 1..%d (the model's limit)",
                        (long long)max_seq, c->max_seq);
    if (max_chunk < 1) max_chunk = 1;
    if (max_chunk > max_seq) max_chunk = max_seq;
    s->m = m;
    s->batch = batch;
    s->max_chunk = max_chunk;
    int hs = c->dim / c->n_heads;
    int rc =
        fr_kv_cache_init(&s->kv, kvc, batch, c->n_layers, c->n_kv_heads, hs, max_seq, prompt_len);
    if (rc) return rc;
    int64_t R = max_chunk > batch ? max_chunk : batch;
    int kvd = c->n_kv_heads * hs;
    s->n_scratch = fr_threads_get();
    s->buf_floats =
        (size_t)s->n_scratch * head_scratch(s->kv.cap, max_chunk, hs, c->n_heads / c->n_kv_heads) +
        (size_t)R * (4 * (size_t)c->dim + 2 * (size_t)kvd + 2 * (size_t)c->hidden_dim + (size_t)hs);
    s->buf = malloc(s->buf_floats * sizeof(float));
    s->pos = calloc((size_t)batch, sizeof(int32_t));
    if (!s->buf || !s->pos) {
        fr_tf_state_free(s);
        return fr_error(FR_ENOMEM, "out of memory for inference state");
    }
    return 0;
}

void fr_tf_state_free(struct fr_tf_state *s) {
    if (!s) return;
    fr_kv_cache_free(&s->kv);
    free(s->buf);
    free(s->pos);
    s->buf = NULL;
    s->pos = NULL;
}

void fr_tf_state_reset(struct fr_tf_state *s, int b) {
    fr_kv_cache_clear(&s->kv, b);
    for (int i = 0; i < s->batch; i++)
        if (b < 0 || i == b) s->pos[i] = 0;
}

static void embed_row(const struct fr_tf_model *m, int32_t tok, int32_t pos, float *x) {
    int64_t D = m->cfg.dim;
    const struct fr_wmat *e = &m->tok_emb;
    for (int64_t i = 0; i < D; i++) {
        int64_t k = (int64_t)tok * D + i;
        x[i] = e->dt == FR_F32   ? ((const float *)e->p)[k]
               : e->dt == FR_F16 ? fr_f16_to_f32(((const uint16_t *)e->p)[k])
                                 : fr_bf16_to_f32(((const uint16_t *)e->p)[k]);
    }
    if (m->pos_emb.p) {
        const float *pe = (const float *)m->pos_emb.p + (int64_t)pos * D;
        for (int64_t i = 0; i < D; i++)
            x[i] += pe[i];
    }
}

/* The body shared by prefill and decode: R rows whose sequence and position
 * are seq[r], pos[r]; `chunk` != 0 means all rows are one sequence's chunk. */
static int run_rows(struct fr_tf_state *s, int64_t R, const int32_t *tokens, const int *seq,
                    const int32_t *pos, int chunk, float *logits, int all) {
    const struct fr_tf_model *m = s->m;
    const struct fr_tf_config *c = &m->cfg;
    int hs = c->dim / c->n_heads, kvd = c->n_kv_heads * hs;
    int64_t D = c->dim, Hd = c->hidden_dim;
    struct rows w = rows_of(s);
    for (int64_t r = 0; r < R; r++) {
        if (tokens[r] < 0 || tokens[r] >= c->vocab_size)
            return fr_error(FR_EINVAL, "token id %d outside the vocabulary (0..%d)", tokens[r],
                            c->vocab_size - 1);
        embed_row(m, tokens[r], pos[r], w.x + r * D);
        if (c->arch == FR_TF_LLAMA)
            rope_table(c, hs, pos[r], w.rope + r * hs, w.rope + r * hs + hs / 2);
    }
    for (int l = 0; l < c->n_layers; l++) {
        const struct fr_tf_layer *L = &m->layers[l];
        norm_rows(m, &L->norm1, &L->norm1_b, w.x, w.xb, R);
        wmul_n(3, (const struct fr_wmat *[]){&L->wq, &L->wk, &L->wv}, w.xb, R,
               (float *[]){w.q, w.k, w.v});
        add_bias(&L->bq, w.q, R, D);
        add_bias(&L->bk, w.k, R, kvd);
        add_bias(&L->bv, w.v, R, kvd);
        if (c->arch == FR_TF_LLAMA)
            for (int64_t r = 0; r < R; r++) {
                const float *cs = w.rope + r * hs, *sn = cs + hs / 2;
                rope_row(c, w.q + r * D, c->n_heads, hs, cs, sn);
                rope_row(c, w.k + r * kvd, c->n_kv_heads, hs, cs, sn);
            }
        int rc = chunk ? attention(s, seq, 1, l, R, w.q, w.k, w.v, w.att, pos)
                       : attention(s, seq, R, l, 1, w.q, w.k, w.v, w.att, pos);
        if (rc) return rc;
        wmul(&L->wo, w.att, R, w.xb);
        add_bias(&L->bo, w.xb, R, D);
        fr_vec_acc(R * D, w.xb, w.x);
        norm_rows(m, &L->norm2, &L->norm2_b, w.x, w.xb, R);
        if (c->arch == FR_TF_LLAMA)
            wmul_n(2, (const struct fr_wmat *[]){&L->w1, &L->w3}, w.xb, R, (float *[]){w.h1, w.h3});
        else
            wmul(&L->w1, w.xb, R, w.h1);
        add_bias(&L->b1, w.h1, R, Hd);
        /* the activations the training ops use (vec_math.h) */
        if (c->arch == FR_TF_LLAMA) {
            fr_vec_silu(R * Hd, w.h1, w.h1);
            fr_vec_mul(R * Hd, w.h1, w.h3, w.h1);
        } else if (c->gelu_exact) {
            fr_vec_gelu(R * Hd, w.h1, w.h1);
        } else {
            fr_vec_gelu_tanh(R * Hd, w.h1, w.h1);
        }
        wmul(&L->w2, w.h1, R, w.xb);
        add_bias(&L->b2, w.xb, R, D);
        fr_vec_acc(R * D, w.xb, w.x);
    }
    int64_t first = all ? 0 : (chunk ? R - 1 : 0);
    int64_t nl = all ? R : (chunk ? 1 : R);
    norm_rows(m, &m->norm_f, &m->norm_f_b, w.x + first * D, w.xb, nl);
    wmul(&m->cls, w.xb, nl, logits);
    return 0;
}

int fr_tf_prefill(struct fr_tf_state *s, int b, const int32_t *tokens, int64_t T, float *logits,
                  int all) {
    if (b < 0 || b >= s->batch)
        return fr_error(FR_EINVAL, "sequence %d not in 0..%d", b, s->batch - 1);
    if (T < 1) return fr_error(FR_EINVAL, "prefill of %lld tokens", (long long)T);
    int64_t V = s->m->cfg.vocab_size;
    for (int64_t t0 = 0; t0 < T; t0 += s->max_chunk) {
        int64_t n = T - t0 < s->max_chunk ? T - t0 : s->max_chunk;
        if (s->pos[b] + n > s->kv.cap && s->kv.policy == &fr_kv_policy_full)
            return fr_error(FR_EINVAL, "sequence %d would exceed its %lld-token context", b,
                            (long long)s->kv.cap);
        int32_t *pos = malloc((size_t)n * sizeof(int32_t));
        if (!pos) return fr_error(FR_ENOMEM, "out of memory");
        for (int64_t t = 0; t < n; t++)
            pos[t] = s->pos[b] + (int32_t)t;
        int last = t0 + n == T;
        float *lg = all ? logits + t0 * V : logits;
        int rc = run_rows(s, n, tokens + t0, &b, pos, 1, lg, all);
        free(pos);
        if (rc) return rc;
        s->pos[b] += (int32_t)n;
        (void)last;
    }
    return 0;
}

int fr_tf_decode(struct fr_tf_state *s, const int32_t *tokens, float *logits) {
    int seq[4096];
    for (int b = 0; b < s->batch; b++) {
        seq[b] = b;
        if (s->pos[b] + 1 > s->m->cfg.max_seq)
            return fr_error(FR_EINVAL, "sequence %d reached the model's context of %d", b,
                            s->m->cfg.max_seq);
    }
    int rc = run_rows(s, s->batch, tokens, seq, s->pos, 0, logits, 0);
    if (rc) return rc;
    for (int b = 0; b < s->batch; b++)
        s->pos[b]++;
    return 0;
}

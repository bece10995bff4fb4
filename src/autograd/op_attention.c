/* op_attention.c: scaled dot-product attention with an optional causal
 * mask and grouped-query heads, as one op (forward + backward), the way
 * llm.c does it: the probabilities P (B x H x T x T) are kept for backward.
 *
 * ip[0] = H, ip[1] = Hkv, ip[2] = causal. Inputs are {H*hs, T, B} rows
 * (dim 0 contiguous, rows may be strided). The reference path is plain
 * loops; the f32 fast path runs per (sequence, KV-head group) tasks over the
 * pool, each doing its heads with single-threaded GEMMs:
 *   S = Q K^T * scale, mask, softmax -> P, O = P V;
 *   dP = dO V^T, dS = P (dP - rowsum(P dP)), dQ += dS K scale,
 *   dK += dS^T Q scale, dV += P^T dO.
 */
#include "../kernels/vec_math.h"
#include "frugal/kernels.h"
#include "op.h"

struct att_geom {
    int64_t T, hs, B, H, Hkv, rep;
    int causal;
    real scale;
};

static struct att_geom FR_FN(geom)(const fr_t *out) {
    struct att_geom g;
    g.H = out->ip[0];
    g.Hkv = out->ip[1];
    g.causal = out->ip[2];
    g.rep = g.H / g.Hkv;
    g.hs = out->ne[0] / g.H;
    g.T = out->ne[1];
    g.B = out->ne[2] * out->ne[3];
    g.scale = (real)(1.0 / sqrt((double)g.hs));
    return g;
}

/* Row t of head h of sequence b in tensor x (rows strided by nb[1]). */
static inline real *FR_FN(row)(const fr_t *x, int64_t b, int64_t t, int64_t h, int64_t hs) {
    return (real *)((char *)x->data + (size_t)(b % x->ne[2]) * x->nb[2] +
                    (size_t)(b / x->ne[2]) * x->nb[3] + (size_t)t * x->nb[1]) +
           h * hs;
}

static void FR_FN(att_forward_ref)(fr_t *out) {
    struct att_geom g = FR_FN(geom)(out);
    const fr_t *q = out->src[0], *k = out->src[1], *v = out->src[2];
    real *P = out->aux;
    for (int64_t b = 0; b < g.B; b++)
        for (int64_t h = 0; h < g.H; h++) {
            int64_t kh = h / g.rep;
            real *Pb = P + (b * g.H + h) * g.T * g.T;
            for (int64_t t = 0; t < g.T; t++) {
                const real *qt = FR_FN(row)(q, b, t, h, g.hs);
                int64_t ns = g.causal ? t + 1 : g.T;
                real mx = -INFINITY;
                for (int64_t s = 0; s < ns; s++) {
                    const real *ks = FR_FN(row)(k, b, s, kh, g.hs);
                    real d = 0;
                    for (int64_t i = 0; i < g.hs; i++)
                        d += qt[i] * ks[i];
                    Pb[t * g.T + s] = d * g.scale;
                    if (Pb[t * g.T + s] > mx) mx = Pb[t * g.T + s];
                }
                double z = 0;
                for (int64_t s = 0; s < ns; s++) {
                    Pb[t * g.T + s] = (real)exp((double)(Pb[t * g.T + s] - mx));
                    z += Pb[t * g.T + s];
                }
                for (int64_t s = 0; s < g.T; s++)
                    Pb[t * g.T + s] = s < ns ? (real)(Pb[t * g.T + s] / z) : 0;
                real *ot = FR_FN(row)(out, b, t, h, g.hs);
                for (int64_t i = 0; i < g.hs; i++)
                    ot[i] = 0;
                for (int64_t s = 0; s < ns; s++) {
                    const real *vs = FR_FN(row)(v, b, s, kh, g.hs);
                    for (int64_t i = 0; i < g.hs; i++)
                        ot[i] += Pb[t * g.T + s] * vs[i];
                }
            }
        }
}

static void FR_FN(att_backward_ref)(struct fr_ctx *ctx, fr_t *out) {
    struct att_geom g = FR_FN(geom)(out);
    const fr_t *q = out->src[0], *k = out->src[1], *v = out->src[2];
    fr_t *gq = fr_op_grad(ctx, out->src[0]), *gk = fr_op_grad(ctx, out->src[1]),
         *gv = fr_op_grad(ctx, out->src[2]);
    const real *P = out->aux;
    real *dP = fr_ctx_alloc(ctx, (size_t)g.T * sizeof(real));
    if (!dP) return;
    for (int64_t b = 0; b < g.B; b++)
        for (int64_t h = 0; h < g.H; h++) {
            int64_t kh = h / g.rep;
            const real *Pb = P + (b * g.H + h) * g.T * g.T;
            for (int64_t t = 0; t < g.T; t++) {
                const real *dot = FR_FN(row)(out->grad, b, t, h, g.hs);
                const real *qt = FR_FN(row)(q, b, t, h, g.hs);
                int64_t ns = g.causal ? t + 1 : g.T;
                real sum = 0;
                for (int64_t s = 0; s < ns; s++) {
                    const real *vs = FR_FN(row)(v, b, s, kh, g.hs);
                    real d = 0;
                    for (int64_t i = 0; i < g.hs; i++)
                        d += dot[i] * vs[i];
                    dP[s] = d;
                    sum += Pb[t * g.T + s] * d;
                }
                for (int64_t s = 0; s < ns; s++) {
                    real p = Pb[t * g.T + s], ds = p * (dP[s] - sum) * g.scale;
                    const real *ks = FR_FN(row)(k, b, s, kh, g.hs);
                    if (gq) {
                        real *dq = FR_FN(row)(gq, b, t, h, g.hs);
                        for (int64_t i = 0; i < g.hs; i++)
                            dq[i] += ds * ks[i];
                    }
                    if (gk) {
                        real *dk = FR_FN(row)(gk, b, s, kh, g.hs);
                        for (int64_t i = 0; i < g.hs; i++)
                            dk[i] += ds * qt[i];
                    }
                    if (gv) {
                        real *dv = FR_FN(row)(gv, b, s, kh, g.hs);
                        for (int64_t i = 0; i < g.hs; i++)
                            dv[i] += p * dot[i];
                    }
                }
            }
        }
}

#ifdef FR_PRIMARY
struct att_job {
    fr_t *out;
    fr_t *gq, *gk, *gv;
    float *scratch; /* per thread T*T */
    struct att_geom g;
};

static int64_t ld(const fr_t *x) {
    return (int64_t)(x->nb[1] / sizeof(float));
}

static void att_fwd_task(void *vp, int64_t i0, int64_t i1, int tid) {
    (void)tid;
    struct att_job *j = vp;
    struct att_geom g = j->g;
    fr_t *out = j->out;
    const fr_t *q = out->src[0], *k = out->src[1], *v = out->src[2];
    int64_t T = g.T;
    for (int64_t bh = i0; bh < i1; bh++) {
        int64_t b = bh / g.H, h = bh % g.H, kh = h / g.rep;
        float *P = (float *)out->aux + bh * T * T;
        fr_gemm(0, 1, T, T, g.hs, g.scale, FR_FN(row)(q, b, 0, h, g.hs), ld(q),
                FR_FN(row)(k, b, 0, kh, g.hs), ld(k), 0.0f, P, T);
        for (int64_t t = 0; t < T; t++) {
            float *r = P + t * T;
            int64_t ns = g.causal ? t + 1 : T;
            fr_vec_softmax_row(ns, r, r); /* the vectorised row softmax (vec_math.h) */
            for (int64_t s = ns; s < T; s++)
                r[s] = 0;
        }
        fr_gemm(0, 0, T, g.hs, T, 1.0f, P, T, FR_FN(row)(v, b, 0, kh, g.hs), ld(v), 0.0f,
                FR_FN(row)(out, b, 0, h, g.hs), ld(out));
    }
}

/* One task per (sequence, KV head) so GQA's shared dK/dV rows are written by
 * one thread only. */
static void att_bwd_task(void *vp, int64_t i0, int64_t i1, int tid) {
    struct att_job *j = vp;
    struct att_geom g = j->g;
    fr_t *out = j->out;
    const fr_t *q = out->src[0], *k = out->src[1], *v = out->src[2];
    int64_t T = g.T;
    float *dS = j->scratch + (size_t)tid * T * T;
    for (int64_t bg = i0; bg < i1; bg++) {
        int64_t b = bg / g.Hkv, kh = bg % g.Hkv;
        const float *K = FR_FN(row)(k, b, 0, kh, g.hs), *V = FR_FN(row)(v, b, 0, kh, g.hs);
        for (int64_t h = kh * g.rep; h < (kh + 1) * g.rep; h++) {
            const float *P = (const float *)out->aux + (b * g.H + h) * T * T;
            const float *dO = FR_FN(row)(out->grad, b, 0, h, g.hs);
            const float *Q = FR_FN(row)(q, b, 0, h, g.hs);
            fr_gemm(0, 1, T, T, g.hs, 1.0f, dO, ld(out->grad), V, ld(v), 0.0f, dS, T);
            for (int64_t t = 0; t < T; t++) {
                const float *p = P + t * T;
                float *d = dS + t * T;
                int64_t ns = g.causal ? t + 1 : T;
                float sum = 0;
                for (int64_t s = 0; s < ns; s++)
                    sum += p[s] * d[s];
                for (int64_t s = 0; s < ns; s++)
                    d[s] = p[s] * (d[s] - sum);
                for (int64_t s = ns; s < T; s++)
                    d[s] = 0;
            }
            if (j->gq)
                fr_gemm(0, 0, T, g.hs, T, g.scale, dS, T, K, ld(k), 1.0f,
                        FR_FN(row)(j->gq, b, 0, h, g.hs), ld(j->gq));
            if (j->gk)
                fr_gemm(1, 0, T, g.hs, T, g.scale, dS, T, Q, ld(q), 1.0f,
                        FR_FN(row)(j->gk, b, 0, kh, g.hs), ld(j->gk));
            if (j->gv)
                fr_gemm(1, 0, T, g.hs, T, 1.0f, P, T, dO, ld(out->grad), 1.0f,
                        FR_FN(row)(j->gv, b, 0, kh, g.hs), ld(j->gv));
        }
    }
}
#endif

void FR_FN(fr_op_attention_forward)(struct fr_ctx *ctx, fr_t *out) {
    (void)ctx;
#ifdef FR_PRIMARY
    if (!fr_reference_mode()) {
        struct att_job j = {out, NULL, NULL, NULL, NULL, FR_FN(geom)(out)};
        fr_parallel_for(j.g.B * j.g.H, 1, att_fwd_task, &j);
        return;
    }
#endif
    FR_FN(att_forward_ref)(out);
}

void FR_FN(fr_op_attention_backward)(struct fr_ctx *ctx, fr_t *out) {
#ifdef FR_PRIMARY
    if (!fr_reference_mode()) {
        struct att_job j = {out,
                            fr_op_grad(ctx, out->src[0]),
                            fr_op_grad(ctx, out->src[1]),
                            fr_op_grad(ctx, out->src[2]),
                            NULL,
                            FR_FN(geom)(out)};
        j.scratch = fr_ctx_alloc(ctx, (size_t)fr_threads_get() * j.g.T * j.g.T * sizeof(float));
        if (!j.scratch) return;
        fr_parallel_for(j.g.B * j.g.Hkv, 1, att_bwd_task, &j);
        return;
    }
#endif
    FR_FN(att_backward_ref)(ctx, out);
}

#ifdef FR_PRIMARY
fr_t *fr_attention(struct fr_ctx *ctx, fr_t *q, fr_t *k, fr_t *v, int n_heads, int n_kv_heads,
                   int causal) {
    if (!q || !k || !v) return NULL;
    if (fr_op_check_float("attention", q, k, v)) return NULL;
    if (n_heads < 1 || n_kv_heads < 1 || n_heads % n_kv_heads || q->ne[0] % n_heads) {
        fr_error(FR_EINVAL, "attention: %lld features, %d heads, %d kv heads do not fit",
                 (long long)q->ne[0], n_heads, n_kv_heads);
        return NULL;
    }
    int64_t hs = q->ne[0] / n_heads;
    for (int d = 1; d < 4; d++)
        if (k->ne[d] != q->ne[d] || v->ne[d] != q->ne[d]) {
            fr_error(FR_EINVAL, "attention: q, k, v differ in sequence or batch size");
            return NULL;
        }
    if (k->ne[0] != hs * n_kv_heads || v->ne[0] != hs * n_kv_heads) {
        fr_error(FR_EINVAL,
                 "attention: k/v rows of %lld/%lld, expected %lld (kv heads x head size)",
                 (long long)k->ne[0], (long long)v->ne[0], (long long)(hs * n_kv_heads));
        return NULL;
    }
    size_t es = fr_dtype_size(q->dtype);
    if (q->nb[0] != es) q = fr_contiguous(ctx, q);
    if (k->nb[0] != es) k = fr_contiguous(ctx, k);
    if (v->nb[0] != es) v = fr_contiguous(ctx, v);
    fr_t *out = fr_op_new(ctx, FR_OP_ATTENTION, q->dtype, q->ndim, q->ne, q, k, v, NULL);
    if (!out) return NULL;
    out->ip[0] = n_heads;
    out->ip[1] = n_kv_heads;
    out->ip[2] = causal ? 1 : 0;
    int64_t T = q->ne[1], B = q->ne[2] * q->ne[3];
    out->aux = fr_ctx_alloc(ctx, (size_t)(B * n_heads) * T * T * es);
    if (!out->aux) return NULL;
    return fr_op_run(ctx, out);
}
#endif

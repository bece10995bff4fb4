/* proxies.c: the zero-shot NAS proxies (methods/nas.h), each from its
 * original definition (the survey's table, /work/shared/papers/
 * zeroshot-nas.md, and the authors' reference code where the table is
 * short of a detail; each function says which).
 *
 * Every proxy scores a freshly initialised network (arch, cfg, seed). The
 * weights a proxy sums over are those of the conv and linear layers: the
 * parameters with 2 or more dimensions (batch-norm weights and biases are
 * 1-d). Gradient proxies use cross entropy on the batch in training mode
 * (batch statistics), as the reference code does. Activations are read
 * with a forward observer (tensor.h fr_ctx_set_observer): ReLU outputs for
 * NASWOT and linear regions, conv/linear outputs and their gradients for
 * Fisher, batch-norm inputs for Zen-score.
 */
#include "frugal/methods/nas.h"

#include "frugal/clock.h"
#include "frugal/data.h"
#include "frugal/kernels.h"
#include "frugal/models.h"
#include "frugal/ops.h"
#include "frugal/rng.h"
#include "frugal/status.h"
#include "frugal/tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const NAMES[FR_NPROXIES] = {
    "params",    "flops",  "grad_norm", "snip", "grasp",    "fisher", "synflow",
    "jacob_cov", "naswot", "zen",       "zico", "gradsign", "ntk",    "linear_regions"};

const char *fr_proxy_name(int p) {
    return p >= 0 && p < FR_NPROXIES ? NAMES[p] : "?";
}

int fr_proxy_parse(const char *s) {
    for (int p = 0; s && p < FR_NPROXIES; p++)
        if (!strcmp(s, NAMES[p])) return p;
    char known[400] = "";
    for (int p = 0; p < FR_NPROXIES; p++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", p ? ", " : "",
                 NAMES[p]);
    fr_error(FR_ENOTFOUND, "unknown proxy '%.60s' (known: %s)", s ? s : "(null)", known);
    return -1;
}

int fr_proxy_sign(int p) {
    return p == FR_PROXY_NTK ? -1 : 1;
}

/* ---- helpers ---- */

static int is_weight(const struct fr_param *p) {
    return !(p->flags & FR_PARAM_BUFFER) && p->t->ndim >= 2;
}

/* The batch as x {W,H,C,n} (f32) and y {n} (I32) in ctx. */
static int load_batch_as(struct fr_ctx *ctx, const struct fr_proxy_batch *b, int64_t lo, int64_t n,
                         enum fr_dtype dt, struct fr_tensor **x, struct fr_tensor **y) {
    const struct fr_dataset *ds = b->ds;
    int64_t D = (int64_t)ds->C * ds->H * ds->W;
    *x = fr_new(ctx, dt, 4, (int64_t[]){ds->W, ds->H, ds->C, n});
    *y = fr_new(ctx, FR_I32, 1, (int64_t[]){n});
    if (!*x || !*y) return fr_error(FR_ENOMEM, "proxy: out of memory");
    for (int64_t i = 0; i < n; i++) {
        int64_t s = b->idx[lo + i];
        if (s < 0 || s >= ds->n)
            return fr_error(FR_EINVAL, "proxy: sample %lld out of range", (long long)s);
        for (int64_t d = 0; d < D; d++)
            if (dt == FR_F64)
                ((double *)(*x)->data)[i * D + d] = ds->x[s * D + d];
            else
                ((float *)(*x)->data)[i * D + d] = ds->x[s * D + d];
        ((int32_t *)(*y)->data)[i] = ds->y[s];
    }
    return 0;
}

static int load_batch(struct fr_ctx *ctx, const struct fr_proxy_batch *b, int64_t lo, int64_t n,
                      struct fr_tensor **x, struct fr_tensor **y) {
    return load_batch_as(ctx, b, lo, n, FR_F32, x, y);
}

/* ---- the network in float64 (SynFlow, GraSP's difference quotient) ----
 * Every trainable tensor is pointed at a double copy (|value| with absval)
 * for the ops' f64 paths; batch-norm statistics (buffers) stay f32, as the
 * op reads them. Gradients go to arena tensors: f64_grads_off before each
 * backward pass. */
struct f64_state {
    struct f64_saved {
        enum fr_dtype dt;
        void *data;
        struct fr_tensor *grad;
    } * sv;
    double *buf;
};

static void f64_grads_off(struct fr_params *P, const struct f64_state *st) {
    for (int i = 0; i < P->count; i++)
        if (st->sv[i].data) P->items[i].t->grad = NULL;
}

static int to_f64(struct fr_params *P, struct f64_state *st, int absval) {
    st->sv = calloc((size_t)P->count, sizeof *st->sv);
    st->buf = malloc(sizeof(double) * (size_t)P->n);
    if (!st->sv || !st->buf) return fr_error(FR_ENOMEM, "proxy: out of memory");
    for (int i = 0; i < P->count; i++) {
        struct fr_param *p = &P->items[i];
        struct fr_tensor *t = p->t;
        if (p->flags & FR_PARAM_BUFFER) continue;
        double *d = st->buf + p->offset;
        for (int64_t j = 0; j < fr_nelem(t); j++) {
            double v = ((const float *)t->data)[j];
            d[j] = absval ? fabs(v) : v;
        }
        st->sv[i] = (struct f64_saved){t->dtype, t->data, t->grad};
        int64_t shape[FR_MAX_DIMS];
        memcpy(shape, t->ne, sizeof shape);
        fr_tensor_set_shape(t, FR_F64, t->ndim, shape);
        t->data = d, t->grad = NULL;
    }
    return 0;
}

static void to_f32(struct fr_params *P, struct f64_state *st) {
    for (int i = 0; st->sv && i < P->count; i++) {
        if (!st->sv[i].data) continue;
        struct fr_tensor *t = P->items[i].t;
        int64_t shape[FR_MAX_DIMS];
        memcpy(shape, t->ne, sizeof shape);
        fr_tensor_set_shape(t, st->sv[i].dt, t->ndim, shape);
        t->data = st->sv[i].data, t->grad = st->sv[i].grad;
    }
    free(st->sv), free(st->buf);
    st->sv = NULL, st->buf = NULL;
}

/* Zeroed grads, a training-mode forward and cross entropy on samples
 * [lo, lo + n) of the batch, backward: m's grads hold dL/dtheta. */
static int loss_backward(struct fr_model *m, struct fr_ctx *ctx, const struct fr_proxy_batch *b,
                         int64_t lo, int64_t n, struct fr_tensor **xout) {
    struct fr_tensor *x, *y;
    int rc = load_batch(ctx, b, lo, n, &x, &y);
    if (rc) return rc;
    if (xout) x->requires_grad = 1, *xout = x;
    fr_params_zero_grad(&m->params);
    fr_set_training(ctx, 1);
    struct fr_tensor *loss = fr_cross_entropy(ctx, m->forward(m, ctx, x), y, 0);
    if (!loss) return FR_EINVAL;
    return fr_backward(ctx, loss);
}

/* ---- observers ---- */

struct seen {
    const char *kind[2]; /* op kinds to keep */
    struct fr_tensor **t;
    int n, cap;
    int oom;
};

static void observe(void *user, struct fr_tensor *out) {
    struct seen *s = user;
    const char *k = fr_op_kind(out);
    if (strcmp(k, s->kind[0]) && (!s->kind[1] || strcmp(k, s->kind[1]))) return;
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        struct fr_tensor **t = realloc(s->t, sizeof *t * (size_t)cap);
        if (!t) {
            s->oom = 1;
            return;
        }
        s->t = t, s->cap = cap;
    }
    s->t[s->n++] = out;
}

/* ReLU codes of sample i of every seen ReLU output (last dim = samples)
 * into bits[0..units). */
static int64_t relu_units(const struct seen *s, int64_t n) {
    int64_t u = 0;
    for (int k = 0; k < s->n; k++)
        u += fr_nelem(s->t[k]) / n;
    return u;
}

static void relu_codes(const struct seen *s, int64_t n, int64_t i, uint8_t *bits) {
    int64_t u = 0;
    for (int k = 0; k < s->n; k++) {
        const struct fr_tensor *t = s->t[k];
        int64_t per = fr_nelem(t) / n;
        const float *d = (const float *)t->data + i * per; /* contiguous op output */
        for (int64_t j = 0; j < per; j++)
            bits[u++] = d[j] > 0;
    }
}

/* ---- the proxies ---- */

/* sum over weights of f(theta, g) after one loss backward on the batch */
static int grad_sum(struct fr_model *m, struct fr_ctx *ctx, const struct fr_proxy_batch *b,
                    int kind, double *score) {
    int rc = loss_backward(m, ctx, b, 0, b->n, NULL);
    if (rc) return rc;
    double s = 0;
    for (int i = 0; i < m->params.count; i++) {
        const struct fr_param *p = &m->params.items[i];
        if (!is_weight(p)) continue;
        const float *w = p->t->data, *g = p->t->grad->data;
        int64_t ne = fr_nelem(p->t);
        double sq = 0;
        for (int64_t j = 0; j < ne; j++)
            if (kind == 0)
                sq += (double)g[j] * g[j];
            else
                s += fabs((double)w[j] * g[j]);
        if (kind == 0) s += sqrt(sq);
    }
    *score = s;
    return 0;
}

/* GraSP (Wang et al. 2020; zero-cost proxies' grasp): -sum theta (H g)
 * over the weights, g = dL/dtheta on the batch, Hg the weights' Hessian
 * block times g (the reference: autograd of g . grad, which takes
 * ReLU's second derivative as 0). Hg here by a central difference of
 * gradients along g, (grad(theta + e g) - grad(theta - e g)) / 2e with a
 * step e ||g|| = 1e-5, in float64, with every ReLU's gate frozen at the
 * base point's (tensor.h fr_ctx_set_relu_gate): the difference then never
 * crosses a kink and equals the double-backward product to rounding (a
 * plain difference flips the few ReLUs whose input sits near 0 and was
 * off by a factor, even in sign; slow_nb201_ref compares with PyTorch's
 * double backward). */
/* The ReLU gates of the base point: recorded (x > 0) by its forward,
 * replayed in the same order by the shifted points' (tensor.h
 * fr_ctx_set_relu_gate). */
struct gates {
    double **mask;
    int64_t *len;
    int n, cap, at, replay, bad;
};

static struct fr_tensor *gate_fn(void *user, struct fr_ctx *ctx, struct fr_tensor *x) {
    struct gates *g = user;
    int64_t ne = fr_nelem(x);
    if (x->dtype != FR_F64 || !fr_is_contiguous(x)) {
        g->bad = 1;
        return NULL;
    }
    if (g->replay) {
        if (g->at >= g->n || g->len[g->at] != ne) {
            g->bad = 1;
            return NULL;
        }
        return fr_wrap(ctx, FR_F64, x->ndim, x->ne, g->mask[g->at++]);
    }
    if (g->n == g->cap) {
        int cap = g->cap ? 2 * g->cap : 64;
        double **m = realloc(g->mask, sizeof *m * (size_t)cap);
        if (m) g->mask = m;
        int64_t *l = realloc(g->len, sizeof *l * (size_t)cap);
        if (l) g->len = l;
        if (!m || !l) {
            g->bad = 1;
            return NULL;
        }
        g->cap = cap;
    }
    double *m = malloc(sizeof(double) * (size_t)ne);
    if (!m) {
        g->bad = 1;
        return NULL;
    }
    for (int64_t j = 0; j < ne; j++)
        m[j] = ((const double *)x->data)[j] > 0;
    g->mask[g->n] = m, g->len[g->n++] = ne;
    return fr_wrap(ctx, FR_F64, x->ndim, x->ne, m);
}

static int grad64(struct fr_model *m, struct fr_ctx *ctx, const struct fr_proxy_batch *b,
                  const struct f64_state *st, const uint8_t *sel, struct gates *gt, double *g) {
    struct fr_params *P = &m->params;
    fr_ctx_reset(ctx);
    f64_grads_off(P, st);
    gt->at = 0;
    fr_ctx_set_relu_gate(ctx, gate_fn, gt);
    struct fr_tensor *x, *y;
    int rc = load_batch_as(ctx, b, 0, b->n, FR_F64, &x, &y);
    if (rc) return rc;
    fr_set_training(ctx, 1);
    struct fr_tensor *loss = fr_cross_entropy(ctx, m->forward(m, ctx, x), y, 0);
    fr_ctx_set_relu_gate(ctx, NULL, NULL);
    if (!loss) return FR_EINVAL;
    if (gt->bad || (gt->replay && gt->at != gt->n))
        return fr_error(FR_EINVAL, "grasp: the ReLU gates did not replay");
    if ((rc = fr_backward(ctx, loss))) return rc;
    for (int i = 0; i < P->count; i++) {
        const struct fr_param *p = &P->items[i];
        if (!sel[i]) continue;
        const double *gd = p->t->grad ? p->t->grad->data : NULL;
        for (int64_t j = 0; j < fr_nelem(p->t); j++)
            g[p->offset + j] = gd ? gd[j] : 0;
    }
    return 0;
}

static int grasp(struct fr_model *m, struct fr_ctx *ctx, const struct fr_proxy_batch *b,
                 double *score) {
    struct fr_params *P = &m->params;
    struct f64_state st = {0};
    double *w0 = malloc(sizeof(double) * (size_t)P->n), *g = calloc((size_t)P->n, sizeof(double)),
           *gp = calloc((size_t)P->n, sizeof(double)), *gm = calloc((size_t)P->n, sizeof(double));
    uint8_t *sel = calloc((size_t)P->count, 1);
    int rc = w0 && g && gp && gm && sel ? 0 : fr_error(FR_ENOMEM, "grasp: out of memory");
    for (int i = 0; i < P->count; i++)
        if (sel) sel[i] = is_weight(&P->items[i]);
    if (!rc) rc = to_f64(P, &st, 0);
    struct gates gt = {0};
    if (!rc) {
        memcpy(w0, st.buf, sizeof(double) * (size_t)P->n);
        rc = grad64(m, ctx, b, &st, sel, &gt, g);
    }
    gt.replay = 1;
    double norm = 0, s = 0;
    for (int64_t j = 0; !rc && j < P->n; j++)
        norm += g[j] * g[j];
    norm = sqrt(norm);
    double e = norm > 0 ? 1e-5 / norm : 0;
    for (int side = 0; !rc && e > 0 && side < 2; side++) {
        for (int i = 0; i < P->count; i++)
            if (sel[i])
                for (int64_t j = 0; j < fr_nelem(P->items[i].t); j++) {
                    int64_t k = P->items[i].offset + j;
                    st.buf[k] = w0[k] + (side ? -e : e) * g[k];
                }
        rc = grad64(m, ctx, b, &st, sel, &gt, side ? gm : gp);
    }
    for (int i = 0; !rc && e > 0 && i < P->count; i++)
        if (sel[i])
            for (int64_t j = 0; j < fr_nelem(P->items[i].t); j++) {
                int64_t k = P->items[i].offset + j;
                s += -w0[k] * (gp[k] - gm[k]) / (2 * e);
            }
    if (st.buf && w0) memcpy(st.buf, w0, sizeof(double) * (size_t)P->n);
    to_f32(P, &st);
    *score = s;
    for (int i = 0; i < gt.n; i++)
        free(gt.mask[i]);
    free(gt.mask), free(gt.len);
    free(w0), free(g), free(gp), free(gm), free(sel);
    return rc;
}

/* Fisher (Theis et al.; zero-cost proxies' fisher): for every conv and
 * linear output z, per channel 0.5 * mean_n (sum_hw z * dL/dz)^2, summed. */
static int fisher(struct fr_model *m, struct fr_ctx *ctx, const struct fr_proxy_batch *b,
                  double *score) {
    struct seen s = {{"conv2d", "linear"}, NULL, 0, 0, 0};
    fr_ctx_set_observer(ctx, observe, &s);
    int rc = loss_backward(m, ctx, b, 0, b->n, NULL);
    fr_ctx_set_observer(ctx, NULL, NULL);
    if (!rc && s.oom) rc = fr_error(FR_ENOMEM, "fisher: out of memory");
    double f = 0;
    for (int k = 0; !rc && k < s.n; k++) {
        const struct fr_tensor *z = s.t[k];
        if (!z->grad) continue; /* nothing downstream of it reaches the loss */
        int64_t N = z->ne[z->ndim - 1], C = z->ndim == 4 ? z->ne[2] : z->ne[0];
        int64_t hw = z->ndim == 4 ? z->ne[0] * z->ne[1] : 1;
        const float *a = z->data, *g = z->grad->data;
        for (int64_t c = 0; c < C; c++) {
            double acc = 0;
            for (int64_t n = 0; n < N; n++) {
                double gn = 0;
                for (int64_t j = 0; j < hw; j++) {
                    int64_t at = (n * C + c) * hw + j;
                    gn += (double)a[at] * g[at];
                }
                acc += gn * gn;
            }
            f += 0.5 * acc / (double)N;
        }
    }
    free(s.t);
    *score = f;
    return rc;
}

/* SynFlow (Tanaka et al. 2020): every parameter replaced by its absolute
 * value, float64, batch norm off, one all-ones input; R = sum of the
 * outputs; score sum |theta dR/dtheta| over the weights. Batch norm "off"
 * as the reference's bn=False network: eval mode with running mean 0 and
 * running variance 1 - eps, weight |1| and bias |0|, which is the identity
 * (to f32 rounding of 1 - eps). */
static int synflow(struct fr_model *m, struct fr_ctx *ctx, const struct fr_proxy_batch *b,
                   double *score) {
    struct fr_params *P = &m->params;
    for (int i = 0; i < P->count; i++) { /* BN statistics: mean 0, var 1 - eps */
        struct fr_param *p = &P->items[i];
        const char *dot = strrchr(p->name, '.');
        if (!(p->flags & FR_PARAM_BUFFER) || !dot) continue;
        int var = !strcmp(dot, ".running_var");
        if (var || !strcmp(dot, ".running_mean"))
            for (int64_t j = 0; j < fr_nelem(p->t); j++)
                ((float *)p->t->data)[j] = var ? 1 - 1e-5f : 0;
    }
    struct f64_state st = {0};
    int rc = to_f64(P, &st, 1);
    if (!rc) {
        const struct fr_dataset *ds = b->ds;
        struct fr_tensor *x = fr_new(ctx, FR_F64, 4, (int64_t[]){ds->W, ds->H, ds->C, 1});
        for (int64_t j = 0; x && j < fr_nelem(x); j++)
            ((double *)x->data)[j] = 1;
        fr_set_training(ctx, 0);
        struct fr_tensor *R = x ? fr_sum(ctx, m->forward(m, ctx, x), -1) : NULL;
        rc = R ? fr_backward(ctx, R) : FR_EINVAL;
        double s = 0;
        for (int i = 0; !rc && i < P->count; i++) {
            const struct fr_param *p = &P->items[i];
            if (!is_weight(p) || !p->t->grad) continue;
            const double *w = p->t->data, *g = p->t->grad->data;
            for (int64_t j = 0; j < fr_nelem(p->t); j++)
                s += fabs(w[j] * g[j]);
        }
        *score = s;
    }
    to_f32(P, &st);
    return rc;
}

/* Jacob_cov (Mellor et al. 2021, v1): J = d(sum of outputs)/dx per sample
 * (B x D); the B x B correlation matrix of its rows; eigenvalues l;
 * -sum(log(l + k) + 1/(l + k)), k = 1e-5. NaN when a row is constant (a
 * dead network: its Jacobian is 0). */
static int jacob_cov(struct fr_model *m, struct fr_ctx *ctx, const struct fr_proxy_batch *b,
                     double *score) {
    struct fr_tensor *x, *y;
    int rc = load_batch(ctx, b, 0, b->n, &x, &y);
    if (rc) return rc;
    x->requires_grad = 1;
    fr_params_zero_grad(&m->params);
    fr_set_training(ctx, 1);
    struct fr_tensor *out = fr_sum(ctx, m->forward(m, ctx, x), -1);
    if (!out) return FR_EINVAL;
    if ((rc = fr_backward(ctx, out))) return rc;
    const int B = b->n;
    const int64_t D = fr_nelem(x) / B;
    double *c = calloc((size_t)B * B, sizeof *c), *ev = malloc(sizeof *ev * (size_t)B);
    double *z = malloc(sizeof *z * (size_t)B * (size_t)D);
    if (!c || !ev || !z) {
        free(c), free(ev), free(z);
        return fr_error(FR_ENOMEM, "jacob_cov: out of memory");
    }
    const float *J = x->grad ? x->grad->data : NULL;
    int constant = !J;
    for (int i = 0; J && i < B; i++) { /* standardise each row */
        double mu = 0, var = 0;
        for (int64_t d = 0; d < D; d++)
            mu += J[i * D + d];
        mu /= (double)D;
        for (int64_t d = 0; d < D; d++)
            var += (J[i * D + d] - mu) * (J[i * D + d] - mu);
        if (var == 0) constant = 1;
        double sd = sqrt(var);
        for (int64_t d = 0; d < D; d++)
            z[i * D + d] = var > 0 ? (J[i * D + d] - mu) / sd : 0;
    }
    if (!constant) {
        for (int i = 0; i < B; i++)
            for (int j = 0; j <= i; j++) {
                double s = 0;
                for (int64_t d = 0; d < D; d++)
                    s += z[i * D + d] * z[j * D + d];
                c[i * B + j] = c[j * B + i] = s;
            }
        fr_sym_eigenvalues(c, B, ev);
        double s = 0, k = 1e-5;
        for (int i = 0; i < B; i++)
            s += log(ev[i] + k) + 1 / (ev[i] + k);
        *score = -s;
    } else {
        *score = NAN;
    }
    free(c), free(ev), free(z);
    return 0;
}

/* NASWOT (Mellor et al. 2021, v2): binary ReLU codes c_i over every ReLU
 * unit; K_ij = units where samples i and j agree (c c^T + (1-c)(1-c)^T
 * summed over the ReLU layers); log|det K|. Forward only. */
static int naswot(struct fr_model *m, struct fr_ctx *ctx, const struct fr_proxy_batch *b,
                  double *score) {
    struct fr_tensor *x, *y;
    int rc = load_batch(ctx, b, 0, b->n, &x, &y);
    if (rc) return rc;
    struct seen s = {{"relu", NULL}, NULL, 0, 0, 0};
    fr_set_training(ctx, 1);
    int g = fr_no_grad_begin(ctx);
    fr_ctx_set_observer(ctx, observe, &s);
    struct fr_tensor *out = m->forward(m, ctx, x);
    fr_ctx_set_observer(ctx, NULL, NULL);
    fr_no_grad_end(ctx, g);
    if (!out) rc = FR_EINVAL;
    if (!rc && s.oom) rc = fr_error(FR_ENOMEM, "naswot: out of memory");
    const int B = b->n;
    int64_t U = rc ? 0 : relu_units(&s, B);
    uint8_t *bits = malloc((size_t)B * (size_t)(U ? U : 1));
    double *K = calloc((size_t)B * B, sizeof *K);
    if (!rc && (!bits || !K)) rc = fr_error(FR_ENOMEM, "naswot: out of memory");
    for (int i = 0; !rc && i < B; i++)
        relu_codes(&s, B, i, bits + (int64_t)i * U);
    for (int i = 0; !rc && i < B; i++)
        for (int j = 0; j <= i; j++) {
            int64_t agree = 0;
            for (int64_t u = 0; u < U; u++)
                agree += bits[(int64_t)i * U + u] == bits[(int64_t)j * U + u];
            K[i * B + j] = K[j * B + i] = (double)agree;
        }
    if (!rc) *score = fr_log_abs_det(K, B);
    free(bits), free(K), free(s.t);
    return rc;
}

/* Zen-score (Lin et al. 2021): weights N(0, 1) (conv and linear; biases
 * and batch norms as initialised), input x ~ N(0, 1) and x + 0.01 eps, training
 * mode; log mean_n sum |f(x) - f(x')| over the pre-pooling feature map,
 * plus, over the batch norms, log sqrt(mean over channels of the batch's
 * variance of the BN input) (the reference reads running_var; this is it
 * with momentum 1, the variance of the one batch, unbiased). */
static int zen(struct fr_model *m, struct fr_ctx *ctx, const struct fr_proxy_batch *b,
               uint64_t seed, double *score) {
    if (!m->features) return fr_error(FR_EINVAL, "zen: model '%s' exposes no feature map", m->arch);
    struct fr_rng r;
    fr_rng_seed(&r, seed ^ 0x7a656eull);
    for (int i = 0; i < m->params.count; i++) {
        struct fr_param *p = &m->params.items[i];
        if (is_weight(p)) fr_rng_fill_normal(&r, p->t->data, fr_nelem(p->t), 0, 1);
    }
    const struct fr_dataset *ds = b->ds;
    const int B = b->n;
    int64_t ne[4] = {ds->W, ds->H, ds->C, B};
    struct fr_tensor *x = fr_new(ctx, FR_F32, 4, ne), *x2 = fr_new(ctx, FR_F32, 4, ne);
    if (!x || !x2) return fr_error(FR_ENOMEM, "zen: out of memory");
    fr_rng_fill_normal(&r, x->data, fr_nelem(x), 0, 1);
    fr_rng_fill_normal(&r, x2->data, fr_nelem(x2), 0, 1);
    for (int64_t j = 0; j < fr_nelem(x); j++)
        ((float *)x2->data)[j] = ((float *)x->data)[j] + 0.01f * ((float *)x2->data)[j];
    fr_set_training(ctx, 1);
    int g = fr_no_grad_begin(ctx);
    struct seen s = {{"batchnorm", NULL}, NULL, 0, 0, 0};
    fr_ctx_set_observer(ctx, observe, &s);
    struct fr_tensor *f = m->features(m, ctx, x);
    fr_ctx_set_observer(ctx, NULL, NULL);
    struct fr_tensor *f2 = f ? m->features(m, ctx, x2) : NULL;
    fr_no_grad_end(ctx, g);
    int rc = f && f2 ? 0 : FR_EINVAL;
    if (!rc && s.oom) rc = fr_error(FR_ENOMEM, "zen: out of memory");
    if (!rc) {
        double d = 0;
        for (int64_t j = 0; j < fr_nelem(f); j++)
            d += fabs((double)((float *)f->data)[j] - ((float *)f2->data)[j]);
        double z = log(d / B);
        for (int k = 0; k < s.n; k++) { /* the BN inputs' batch variance */
            const struct fr_tensor *in = s.t[k]->src[0];
            int64_t C = in->ndim == 4 ? in->ne[2] : in->ne[0];
            int64_t N = in->ne[in->ndim - 1], hw = in->ndim == 4 ? in->ne[0] * in->ne[1] : 1;
            double mv = 0;
            for (int64_t c = 0; c < C; c++) {
                double mu = 0, v = 0;
                for (int64_t n = 0; n < N; n++)
                    for (int64_t j = 0; j < hw; j++)
                        mu += ((const float *)in->data)[(n * C + c) * hw + j];
                mu /= (double)(N * hw);
                for (int64_t n = 0; n < N; n++)
                    for (int64_t j = 0; j < hw; j++) {
                        double e = ((const float *)in->data)[(n * C + c) * hw + j] - mu;
                        v += e * e;
                    }
                mv += v / (double)(N * hw > 1 ? N * hw - 1 : 1);
            }
            z += log(sqrt(mv / (double)C));
        }
        *score = z;
    }
    free(s.t);
    return rc;
}

/* ZiCo (Li et al. 2023): the batch split in two halves, the weights'
 * gradients of each; per layer log sum_theta mean|g| / std(g) over the
 * halves (population std, entries with std 0 left out, a layer whose sum
 * is 0 left out), summed over layers. */
static int zico(struct fr_model *m, struct fr_ctx *ctx, const struct fr_proxy_batch *b,
                double *score) {
    const int H = 2;
    if (b->n < H) return fr_error(FR_EINVAL, "zico: needs a batch of at least %d", H);
    struct fr_params *P = &m->params;
    float *g = malloc(sizeof(float) * (size_t)P->n * H);
    if (!g) return fr_error(FR_ENOMEM, "zico: out of memory");
    int rc = 0;
    int64_t half = b->n / H;
    for (int h = 0; h < H && !rc; h++) {
        fr_ctx_reset(ctx);
        rc = loss_backward(m, ctx, b, h * half, half, NULL);
        if (!rc) memcpy(g + (size_t)h * (size_t)P->n, P->grad, sizeof(float) * (size_t)P->n);
    }
    double s = 0;
    for (int i = 0; !rc && i < P->count; i++) {
        const struct fr_param *p = &P->items[i];
        if (!is_weight(p)) continue;
        double sum = 0;
        for (int64_t j = 0; j < fr_nelem(p->t); j++) {
            double mu = 0, ma = 0, v = 0;
            for (int h = 0; h < H; h++) {
                double x = g[(size_t)h * (size_t)P->n + (size_t)(p->offset + j)];
                mu += x / H, ma += fabs(x) / H;
            }
            for (int h = 0; h < H; h++) {
                double e = g[(size_t)h * (size_t)P->n + (size_t)(p->offset + j)] - mu;
                v += e * e / H;
            }
            if (v > 0) sum += ma / sqrt(v);
        }
        if (sum != 0) s += log(sum);
    }
    free(g);
    *score = s;
    return rc;
}

/* GradSign (Zhang & Jia 2022): per-sample gradients (one sample at a time,
 * training mode); sum over the weights of |sum over samples of sign(g)|. */
static int gradsign(struct fr_model *m, struct fr_ctx *ctx, const struct fr_proxy_batch *b,
                    double *score) {
    struct fr_params *P = &m->params;
    int32_t *acc = calloc((size_t)P->n, sizeof *acc);
    if (!acc) return fr_error(FR_ENOMEM, "gradsign: out of memory");
    int rc = 0;
    for (int i = 0; i < b->n && !rc; i++) {
        fr_ctx_reset(ctx);
        rc = loss_backward(m, ctx, b, i, 1, NULL);
        for (int64_t j = 0; !rc && j < P->n; j++)
            acc[j] += (P->grad[j] > 0) - (P->grad[j] < 0);
    }
    double s = 0;
    for (int i = 0; !rc && i < P->count; i++)
        if (is_weight(&P->items[i]))
            for (int64_t j = 0; j < fr_nelem(P->items[i].t); j++)
                s += abs(acc[P->items[i].offset + j]);
    free(acc);
    *score = s;
    return rc;
}

/* NTK condition number (TE-NAS, Chen et al. 2021): for each sample i the
 * gradient of the sum of its logits (the whole batch forward in training
 * mode, so batch statistics couple the samples as in the reference) w.r.t.
 * every parameter named "*.weight" (batch-norm weights included, as the
 * reference's name filter does); Theta = G G^T; l_max / l_min (lower is
 * better); a NaN ratio reads 100000, the reference's value. One forward and
 * backward per sample (the engine keeps no graph between backward passes). */
static int ntk(struct fr_model *m, struct fr_ctx *ctx, const struct fr_proxy_batch *b,
               double *score) {
    struct fr_params *P = &m->params;
    const int B = b->n;
    int64_t W = 0;
    for (int i = 0; i < P->count; i++) {
        const char *dot = strrchr(P->items[i].name, '.');
        if (!(P->items[i].flags & FR_PARAM_BUFFER) && dot && !strcmp(dot, ".weight"))
            W += fr_nelem(P->items[i].t);
    }
    double *G = malloc(sizeof *G * (size_t)B * (size_t)W), *T = malloc(sizeof *T * (size_t)B * B),
           *ev = malloc(sizeof *ev * (size_t)B);
    int rc = G && T && ev ? 0 : fr_error(FR_ENOMEM, "ntk: out of memory");
    for (int i = 0; i < B && !rc; i++) {
        fr_ctx_reset(ctx);
        struct fr_tensor *x, *y;
        if ((rc = load_batch(ctx, b, 0, B, &x, &y))) break;
        fr_params_zero_grad(P);
        fr_set_training(ctx, 1);
        struct fr_tensor *lg = m->forward(m, ctx, x);
        struct fr_tensor *li = fr_sum(ctx, fr_slice(ctx, lg, 1, i, 1), -1);
        if (!li) {
            rc = FR_EINVAL;
            break;
        }
        if ((rc = fr_backward(ctx, li))) break;
        int64_t k = 0;
        for (int p = 0; p < P->count; p++) {
            const char *dot = strrchr(P->items[p].name, '.');
            if ((P->items[p].flags & FR_PARAM_BUFFER) || !dot || strcmp(dot, ".weight")) continue;
            for (int64_t j = 0; j < fr_nelem(P->items[p].t); j++)
                G[(size_t)i * (size_t)W + (size_t)k++] = P->grad[P->items[p].offset + j];
        }
    }
    if (!rc) {
        for (int i = 0; i < B; i++)
            for (int j = 0; j <= i; j++) {
                double s = 0;
                for (int64_t k = 0; k < W; k++)
                    s +=
                        G[(size_t)i * (size_t)W + (size_t)k] * G[(size_t)j * (size_t)W + (size_t)k];
                T[i * B + j] = T[j * B + i] = s;
            }
        fr_sym_eigenvalues(T, B, ev);
        double c = ev[B - 1] / ev[0];
        *score = isnan(c) ? 100000.0 : c;
    }
    free(G), free(T), free(ev);
    return rc;
}

/* Linear regions (TE-NAS, Chen et al. 2021): the number of distinct ReLU
 * activation patterns of the whole network over LR_SAMPLES inputs, as the
 * reference makes them: small random crops of real images (TE-NAS: 1000
 * crops of 3 x 3, one channel, of CIFAR), here LR_SIDE x LR_SIDE crops at
 * seeded positions of the batch's images (nb201's two reductions need
 * sides divisible by 4), the same architecture rebuilt for that input
 * size, training mode, forward only. Identical crops (plain background)
 * share a pattern, so the count stays below LR_SAMPLES for narrow nets. */
#define LR_SAMPLES 1000
#define LR_SIDE 4
struct pattern {
    const uint8_t *bits;
    int64_t n;
};
static int cmp_pattern(const void *a, const void *b) {
    const struct pattern *x = a, *y = b;
    return memcmp(x->bits, y->bits, (size_t)x->n);
}

static int linear_regions(const char *arch, const struct fr_model_config *cfg,
                          const struct fr_proxy_batch *b, uint64_t seed, struct fr_ctx *ctx,
                          double *score) {
    struct fr_model_config c = *cfg;
    c.in_h = c.in_w = LR_SIDE;
    struct fr_model *m = fr_model_new(arch, &c, seed);
    if (!m) return FR_EINVAL;
    struct fr_rng r;
    fr_rng_seed(&r, seed ^ 0x6c72ull);
    struct fr_tensor *x =
        fr_new(ctx, FR_F32, 4, (int64_t[]){LR_SIDE, LR_SIDE, c.in_channels, LR_SAMPLES});
    int rc = x ? 0 : fr_error(FR_ENOMEM, "linear_regions: out of memory");
    struct seen s = {{"relu", NULL}, NULL, 0, 0, 0};
    if (!rc) {
        const struct fr_dataset *ds = b->ds;
        if (ds->H < LR_SIDE || ds->W < LR_SIDE || ds->C != c.in_channels) {
            rc = fr_error(FR_EINVAL, "linear_regions: images smaller than %d x %d", LR_SIDE,
                          LR_SIDE);
        }
        for (int i = 0; !rc && i < LR_SAMPLES; i++) {
            int64_t s0 = b->idx[i % b->n];
            int64_t oy = (int64_t)fr_rng_below(&r, (uint64_t)(ds->H - LR_SIDE + 1));
            int64_t ox = (int64_t)fr_rng_below(&r, (uint64_t)(ds->W - LR_SIDE + 1));
            for (int ch = 0; ch < ds->C; ch++)
                for (int yy = 0; yy < LR_SIDE; yy++)
                    for (int xx = 0; xx < LR_SIDE; xx++)
                        ((float *)
                             x->data)[((int64_t)(i * ds->C + ch) * LR_SIDE + yy) * LR_SIDE + xx] =
                            ds->x[((s0 * ds->C + ch) * ds->H + oy + yy) * ds->W + ox + xx];
        }
    }
    if (!rc) {
        fr_set_training(ctx, 1);
        int g = fr_no_grad_begin(ctx);
        fr_ctx_set_observer(ctx, observe, &s);
        if (!m->forward(m, ctx, x)) rc = FR_EINVAL;
        fr_ctx_set_observer(ctx, NULL, NULL);
        fr_no_grad_end(ctx, g);
        if (!rc && s.oom) rc = fr_error(FR_ENOMEM, "linear_regions: out of memory");
    }
    int64_t U = rc ? 0 : relu_units(&s, LR_SAMPLES);
    uint8_t *bits = rc ? NULL : malloc((size_t)LR_SAMPLES * (size_t)(U ? U : 1));
    struct pattern *pt = malloc(sizeof *pt * LR_SAMPLES);
    if (!rc && (!bits || !pt)) rc = fr_error(FR_ENOMEM, "linear_regions: out of memory");
    if (!rc) {
        for (int i = 0; i < LR_SAMPLES; i++) {
            relu_codes(&s, LR_SAMPLES, i, bits + (int64_t)i * U);
            pt[i] = (struct pattern){bits + (int64_t)i * U, U};
        }
        qsort(pt, LR_SAMPLES, sizeof *pt, cmp_pattern);
        int distinct = LR_SAMPLES > 0;
        for (int i = 1; i < LR_SAMPLES; i++)
            distinct += cmp_pattern(&pt[i], &pt[i - 1]) != 0;
        *score = distinct;
    }
    free(bits), free(pt), free(s.t);
    fr_model_free(m);
    return rc;
}

int fr_proxy_score(const char *arch, const struct fr_model_config *cfg, int proxy,
                   const struct fr_proxy_batch *b, uint64_t seed, double *score, double *seconds) {
    if (proxy < 0 || proxy >= FR_NPROXIES)
        return fr_error(FR_EINVAL, "proxy: %d is not a proxy (0..%d)", proxy, FR_NPROXIES - 1);
    if (!b || !b->ds || !b->idx || b->n < 2)
        return fr_error(FR_EINVAL, "proxy %s: needs a batch of at least 2 samples",
                        fr_proxy_name(proxy));
    double t0 = fr_seconds();
    struct fr_model *m = fr_model_new(arch, cfg, seed);
    if (!m) return FR_EINVAL;
    struct fr_ctx *ctx = fr_ctx_new(64 << 20);
    int rc = ctx ? 0 : fr_error(FR_ENOMEM, "proxy: out of memory");
    *score = NAN;
    if (!rc) switch (proxy) {
        case FR_PROXY_PARAMS:
            *score = (double)fr_params_count_trainable(&m->params);
            break;
        case FR_PROXY_FLOPS: {
            int64_t dense = 0, sparse = 0;
            rc = fr_model_flops(m, &dense, &sparse);
            *score = (double)dense;
            break;
        }
        case FR_PROXY_GRAD_NORM:
            rc = grad_sum(m, ctx, b, 0, score);
            break;
        case FR_PROXY_SNIP:
            rc = grad_sum(m, ctx, b, 1, score);
            break;
        case FR_PROXY_GRASP:
            rc = grasp(m, ctx, b, score);
            break;
        case FR_PROXY_FISHER:
            rc = fisher(m, ctx, b, score);
            break;
        case FR_PROXY_SYNFLOW:
            rc = synflow(m, ctx, b, score);
            break;
        case FR_PROXY_JACOB_COV:
            rc = jacob_cov(m, ctx, b, score);
            break;
        case FR_PROXY_NASWOT:
            rc = naswot(m, ctx, b, score);
            break;
        case FR_PROXY_ZEN:
            rc = zen(m, ctx, b, seed, score);
            break;
        case FR_PROXY_ZICO:
            rc = zico(m, ctx, b, score);
            break;
        case FR_PROXY_GRADSIGN:
            rc = gradsign(m, ctx, b, score);
            break;
        case FR_PROXY_NTK:
            rc = ntk(m, ctx, b, score);
            break;
        case FR_PROXY_LINEAR_REGIONS:
            rc = linear_regions(arch, cfg, b, seed, ctx, score);
            break;
        }
    if (rc && !*fr_last_error()) fr_error(rc, "proxy %s failed", fr_proxy_name(proxy));
    fr_ctx_free(ctx);
    fr_model_free(m);
    if (seconds) *seconds = fr_seconds() - t0;
    return rc;
}

/* tasks.c: the set functions the width study learns (lexicographic median,
 * sorted first coordinate, sum of pairwise products, per-element rank, a
 * complex symmetric polynomial), and the training of a DeepSets model on
 * one of them (the one training loop, train.h, with random sets as
 * batches) with its relative test error.
 *
 * Targets are computed in double from the float inputs. Training
 * standardises the targets so every task and width shares one learning
 * rate; errors are reported relative to the test targets' variance, so
 * 1.0 means "no better than the mean". Sets here are full (no padding):
 * the masked path is exercised by the tests and by callers with their own
 * data.
 */
#include "frugal/methods/sets.h"
#include "frugal/status.h"
#include "frugal/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *TASK_NAMES[FR_SETS_NTASKS] = {"lexmedian", "sorted0", "pairprod", "rank",
                                                 "cpair"};

int fr_sets_task_parse(const char *s) {
    for (int i = 0; s && i < FR_SETS_NTASKS; i++)
        if (!strcmp(s, TASK_NAMES[i])) return i;
    return -1;
}

const char *fr_sets_task_name(enum fr_sets_task t) {
    return t >= 0 && t < FR_SETS_NTASKS ? TASK_NAMES[t] : "?";
}

int64_t fr_sets_task_outputs(enum fr_sets_task t, int64_t n, int64_t d) {
    if (n < 1 || d < 1) return 0;
    switch (t) {
    case FR_SETS_TASK_LEXMEDIAN:
        return d;
    case FR_SETS_TASK_SORTED0:
        return n;
    case FR_SETS_TASK_PAIRPROD:
        return 1;
    case FR_SETS_TASK_RANK:
        return 1;
    case FR_SETS_TASK_CPAIR:
        return d % 2 == 0 ? 2 : 0;
    default:
        return 0;
    }
}

static int64_t g_d; /* qsort context: feature count (set before each sort) */
static int lex_cmp(const void *a, const void *b) {
    const float *x = a, *y = b;
    for (int64_t c = 0; c < g_d; c++)
        if (x[c] != y[c]) return x[c] < y[c] ? -1 : 1;
    return 0;
}
static int flt_cmp(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

int fr_sets_task_generate(enum fr_sets_task t, int64_t n, int64_t d, int64_t nsets,
                          struct fr_rng *rng, float *x, float *y) {
    int64_t out = fr_sets_task_outputs(t, n, d);
    if (out == 0 || nsets < 1 || n > 64 || !x || !y)
        return fr_error(FR_EINVAL, "sets task %s: bad shape (n %lld, d %lld, sets %lld)",
                        fr_sets_task_name(t), (long long)n, (long long)d, (long long)nsets);
    float tmp[64 * 64];
    if (n * d > 64 * 64) return fr_error(FR_EINVAL, "sets task: n * d too large");
    for (int64_t s = 0; s < nsets; s++) {
        float *xs = x + s * n * d, *ys = y + s * (t == FR_SETS_TASK_RANK ? n : out);
        for (int64_t i = 0; i < n * d; i++)
            xs[i] = (float)(2.0 * fr_rng_uniform(rng) - 1.0);
        switch (t) {
        case FR_SETS_TASK_LEXMEDIAN:
            memcpy(tmp, xs, (size_t)(n * d) * sizeof *tmp);
            g_d = d;
            qsort(tmp, (size_t)n, (size_t)d * sizeof *tmp, lex_cmp);
            memcpy(ys, tmp + ((n - 1) / 2) * d, (size_t)d * sizeof *ys);
            break;
        case FR_SETS_TASK_SORTED0:
            for (int64_t i = 0; i < n; i++)
                tmp[i] = xs[i * d];
            qsort(tmp, (size_t)n, sizeof *tmp, flt_cmp);
            memcpy(ys, tmp, (size_t)n * sizeof *ys);
            break;
        case FR_SETS_TASK_PAIRPROD: {
            double acc = 0;
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = i + 1; j < n; j++)
                    for (int64_t c = 0; c < d; c++)
                        acc += (double)xs[i * d + c] * xs[j * d + c];
            ys[0] = (float)acc;
            break;
        }
        case FR_SETS_TASK_RANK:
            for (int64_t j = 0; j < n; j++) {
                double pj = 0, r = 0;
                for (int64_t c = 0; c < d; c++)
                    pj += xs[j * d + c] / (double)(c + 1);
                for (int64_t i = 0; i < n; i++) {
                    double pi = 0;
                    for (int64_t c = 0; c < d; c++)
                        pi += xs[i * d + c] / (double)(c + 1);
                    r += pi < pj;
                }
                ys[j] = n > 1 ? (float)(r / (double)(n - 1)) : 0.0f;
            }
            break;
        case FR_SETS_TASK_CPAIR: {
            int64_t dc = d / 2;
            double re = 0, im = 0;
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = i + 1; j < n; j++)
                    for (int64_t f = 0; f < dc; f++) {
                        double a = xs[i * d + f], b = xs[i * d + dc + f];
                        double c = xs[j * d + f], e = xs[j * d + dc + f];
                        re += a * c - b * e;
                        im += a * e + b * c;
                    }
            ys[0] = (float)re;
            ys[1] = (float)im;
            break;
        }
        default:
            break;
        }
    }
    return 0;
}

void fr_sets_train_defaults(struct fr_sets_train_opts *o) {
    o->steps = 1500;
    o->batch = 128;
    o->lr = 3e-3;
    o->weight_decay = 0;
    o->clip = 1.0;
}

/* Copies sets idx[0..b) into x {D, N, b} and their targets into y. */
static void gather(const float *xs, const float *ys, const int64_t *idx, int64_t b, int64_t per_x,
                   int64_t per_y, const float *mu, const float *sd, float *x, float *y) {
    for (int64_t i = 0; i < b; i++) {
        memcpy(x + i * per_x, xs + idx[i] * per_x, (size_t)per_x * sizeof *x);
        for (int64_t o = 0; o < per_y && y; o++)
            y[i * per_y + o] = (ys[idx[i] * per_y + o] - mu[o]) / sd[o];
    }
}

/* The training sets as fr_fit hooks: B random sets (with replacement)
 * per step, standardised targets, MSE; the mean loss of the last 10% of
 * the steps is the train error. */
struct sets_run {
    struct fr_sets_model *m;
    const float *xtr, *ytr;
    int64_t ntrain, px, py;
    const float *mu, *sd;
    int64_t *idx;
    struct fr_rng *rng;
    int64_t steps, batch;
    double tail_loss, tail_n;
};

static int64_t sets_next(void *user, struct fr_ctx *ctx, fr_t **x, fr_t **t) {
    struct sets_run *r = user;
    const struct fr_sets_config *c = &r->m->c;
    int64_t B = r->batch;
    for (int64_t i = 0; i < B; i++)
        r->idx[i] = (int64_t)fr_rng_below(r->rng, (uint64_t)r->ntrain);
    *x = fr_new3(ctx, FR_F32, c->d, c->n, B);
    *t = c->equivariant ? fr_new3(ctx, FR_F32, c->out, c->n, B) : fr_new2(ctx, FR_F32, c->out, B);
    if (!*x || !*t) return fr_error(FR_ENOMEM, "sets train: arena exhausted");
    gather(r->xtr, r->ytr, r->idx, B, r->px, r->py, r->mu, r->sd, (*x)->data, (*t)->data);
    return B;
}

static fr_t *sets_loss(void *user, struct fr_ctx *ctx, fr_t *x, fr_t *t) {
    struct sets_run *r = user;
    return fr_mse(ctx, fr_sets_model_forward(ctx, r->m, x, NULL), t);
}

static int sets_after_step(void *user, const struct fr_fit_state *st, double loss, double lr) {
    struct sets_run *r = user;
    (void)lr;
    if (st->step - 1 >= r->steps - r->steps / 10) r->tail_loss += loss, r->tail_n += 1;
    return 0;
}

int fr_sets_train_eval(struct fr_sets_model *m, const float *xtr, const float *ytr, int64_t ntrain,
                       const float *xte, const float *yte, int64_t ntest,
                       const struct fr_sets_train_opts *o, struct fr_rng *rng, double *test_err,
                       double *train_err) {
    const struct fr_sets_config *c = &m->c;
    int64_t D = c->d, N = c->n, py = c->equivariant ? N * c->out : c->out, px = N * D;
    int rc = 0;
    struct fr_ctx *ctx = NULL;
    float *mu = NULL, *sd = NULL;
    int64_t *idx = NULL;
    if (!xtr || !ytr || !xte || !yte || ntrain < 1 || ntest < 1 || o->steps < 1 || o->batch < 1 ||
        !(o->lr > 0))
        return fr_error(FR_EINVAL, "sets train: bad data or options");
    mu = calloc((size_t)py, sizeof *mu);
    sd = calloc((size_t)py, sizeof *sd);
    idx = malloc((size_t)(o->batch > ntest ? o->batch : ntest) * sizeof *idx);
    ctx = fr_ctx_new((size_t)1 << 22);
    if (!mu || !sd || !idx || !ctx) {
        rc = fr_error(FR_ENOMEM, "sets train: out of memory");
        goto cleanup;
    }
    /* per-output standardisation (RANK: per element slot) */
    for (int64_t k = 0; k < py; k++) {
        double s = 0, s2 = 0;
        for (int64_t i = 0; i < ntrain; i++)
            s += ytr[i * py + k];
        s /= (double)ntrain;
        for (int64_t i = 0; i < ntrain; i++)
            s2 += (ytr[i * py + k] - s) * (ytr[i * py + k] - s);
        mu[k] = (float)s;
        sd[k] = (float)fmax(sqrt(s2 / (double)ntrain), 1e-6);
    }
    if ((rc = fr_sets_model_fit_normaliser(m, xtr, NULL, ntrain))) goto cleanup;
    struct sets_run sr = {m, xtr, ytr, ntrain, px, py, mu, sd, idx, rng, o->steps, o->batch, 0, 0};
    struct fr_fit_config lp = {
        .optim = {.opt = "adamw",
                  .lr = o->lr,
                  .wd = o->weight_decay,
                  .schedule = "cosine",
                  .warmup = o->steps / 20,
                  .total_steps = o->steps},
        .steps = o->steps,
        .clip = o->clip,
        .ctx = ctx,
    };
    struct fr_fit_hooks h = {
        .user = &sr, .next = sets_next, .loss = sets_loss, .after_step = sets_after_step};
    struct fr_fit_result fit;
    if ((rc = fr_fit(&m->params, &lp, &h, &fit))) goto cleanup;
    double tr_acc = sr.tail_loss, tr_den = sr.tail_n;
    fr_set_training(ctx, 0);
    /* test: squared error of de-standardised predictions / variance */
    double se = 0, var = 0;
    double *tmu = calloc((size_t)py, sizeof *tmu);
    if (!tmu) {
        rc = fr_error(FR_ENOMEM, "sets train: out of memory");
        goto cleanup;
    }
    for (int64_t i = 0; i < ntest; i++)
        for (int64_t k = 0; k < py; k++)
            tmu[k] += yte[i * py + k] / (double)ntest;
    int g = fr_no_grad_begin(ctx);
    for (int64_t s0 = 0; s0 < ntest && !rc; s0 += 256) {
        int64_t b = ntest - s0 < 256 ? ntest - s0 : 256;
        for (int64_t i = 0; i < b; i++)
            idx[i] = s0 + i;
        fr_t *x = fr_new3(ctx, FR_F32, D, N, b);
        if (!x) {
            rc = fr_error(FR_ENOMEM, "sets train: arena exhausted");
            break;
        }
        gather(xte, yte, idx, b, px, py, NULL, NULL, x->data, NULL);
        fr_t *pred = fr_contiguous(ctx, fr_sets_model_forward(ctx, m, x, NULL));
        if (!pred) {
            rc = FR_EINVAL;
            break;
        }
        const float *p = pred->data;
        for (int64_t i = 0; i < b; i++)
            for (int64_t k = 0; k < py; k++) {
                double yv = yte[(s0 + i) * py + k], pv = p[i * py + k] * sd[k] + mu[k];
                se += (pv - yv) * (pv - yv);
                var += (yv - tmu[k]) * (yv - tmu[k]);
            }
        fr_ctx_reset(ctx);
    }
    fr_no_grad_end(ctx, g);
    free(tmu);
    if (!rc) {
        *test_err = var > 0 ? se / var : se;
        if (train_err) *train_err = tr_den > 0 ? tr_acc / tr_den : NAN;
    }
cleanup:
    fr_ctx_free(ctx);
    free(mu);
    free(sd);
    free(idx);
    return rc;
}

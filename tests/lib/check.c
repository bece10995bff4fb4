/* check.c: see check.h. */
#define _XOPEN_SOURCE 700 /* nftw, mkdtemp */
#include "check.h"

#include "frugal/ops.h"
#include "frugal/params.h"
#include "frugal/status.h"

#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int g_check_pass, g_check_fail;

int check_report(const char *name) {
    printf("%s: %d passed, %d failed\n", name, g_check_pass, g_check_fail);
    return g_check_fail ? 1 : 0;
}

int check_skip(const char *name, const char *why) {
    printf("%s: SKIPPED: %s\n", name, why);
    return CHECK_SKIP;
}

static char g_tmpdir[512];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void rm_tmpdir(void) {
    if (g_tmpdir[0] && !getenv("CHECK_KEEP_TMP"))
        nftw(g_tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *check_tmpdir(void) {
    if (g_tmpdir[0]) return g_tmpdir;
    const char *base = getenv("TMPDIR");
    snprintf(g_tmpdir, sizeof g_tmpdir, "%s/frugal-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(g_tmpdir)) {
        fprintf(stderr, "check: cannot create a temporary directory under %s\n",
                base && *base ? base : "/tmp");
        exit(1);
    }
    atexit(rm_tmpdir);
    return g_tmpdir;
}

const char *check_tmp(const char *name) {
    static char bufs[8][768];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", check_tmpdir(), name);
    return b;
}

double check_compare(const fr_t *a, const fr_t *b, double rtol, double atol) {
    double worst = 0;
    for (int64_t i = 0, n = fr_nelem(a); i < n; i++) {
        double x = fr_get(a, i), y = fr_get(b, i);
        double r = fabs(x - y) / (atol + rtol * fabs(y));
        if (x != x || y != y) r = (x != x && y != y) ? 0 : INFINITY;
        if (r > worst) worst = r;
    }
    return worst;
}

struct inputs {
    fr_t *base[16]; /* leaves (grads land here) */
    fr_t *view[16]; /* what the op sees */
};

static void make_inputs(struct fr_ctx *ctx, enum fr_dtype dt, int nin, const struct check_input *in,
                        double **vals, struct inputs *io, int want_grad) {
    for (int k = 0; k < nin; k++) {
        int64_t ne[4] = {1, 1, 1, 1};
        for (int d = 0; d < in[k].ndim; d++)
            ne[d] = in[k].ne[d];
        int64_t bne[4];
        memcpy(bne, ne, sizeof bne);
        if (in[k].strided) bne[0] += 2;
        fr_t *b = fr_zeros(ctx, in[k].is_int ? FR_I32 : dt, in[k].ndim, bne);
        /* values fill the logical (view) elements; padding stays 0 */
        int64_t j = 0;
        for (int64_t i3 = 0; i3 < ne[3]; i3++)
            for (int64_t i2 = 0; i2 < ne[2]; i2++)
                for (int64_t i1 = 0; i1 < ne[1]; i1++)
                    for (int64_t i0 = 0; i0 < ne[0]; i0++) {
                        int64_t flat = ((i3 * bne[2] + i2) * bne[1] + i1) * bne[0] + i0 +
                                       (in[k].strided ? 1 : 0);
                        fr_set(b, flat, vals[k][j++]);
                    }
        b->requires_grad = want_grad && !in[k].no_grad && !in[k].is_int;
        io->base[k] = b;
        io->view[k] = in[k].strided ? fr_slice(ctx, b, 0, 1, ne[0]) : b;
    }
}

static fr_t *loss_of(struct fr_ctx *ctx, fr_t *out, const double *w) {
    fr_t *wt = fr_new(ctx, out->dtype, out->ndim, out->ne);
    for (int64_t i = 0, n = fr_nelem(out); i < n; i++)
        fr_set(wt, i, w[i]);
    return fr_sum(ctx, fr_mul(ctx, out, wt), -1);
}

int check_op(const char *name, check_build_fn f, void *arg, int nin, const struct check_input *in,
             const struct check_opts *opts) {
    struct check_opts o = {1e-6, 1e-8, 1e-4, 1e-5, 1e-6, 0, 1};
    if (opts) {
        if (opts->fd_rtol) o.fd_rtol = opts->fd_rtol;
        if (opts->fd_atol) o.fd_atol = opts->fd_atol;
        if (opts->fast_rtol) o.fast_rtol = opts->fast_rtol;
        if (opts->fast_atol) o.fast_atol = opts->fast_atol;
        if (opts->h) o.h = opts->h;
        o.train = opts->train;
        if (opts->seed) o.seed = opts->seed;
    }
    int fails0 = g_check_fail;
    if (nin > 16) {
        CHECK(0, "%s: check_op supports at most 16 inputs", name);
        return 1;
    }
    struct fr_rng rng;
    fr_rng_seed(&rng, o.seed);
    double *vals[16];
    for (int k = 0; k < nin; k++) {
        int64_t n = 1;
        for (int d = 0; d < in[k].ndim; d++)
            n *= in[k].ne[d];
        vals[k] = malloc((size_t)(n ? n : 1) * sizeof(double));
        double lo = in[k].lo, hi = in[k].hi;
        if (lo == hi) lo = -1, hi = 1;
        for (int64_t i = 0; i < n; i++) {
            double v;
            if (in[k].is_int) {
                v = lo + (double)fr_rng_below(&rng, (uint64_t)(hi - lo + 1));
            } else {
                int tries = 0;
                do {
                    v = lo + (hi - lo) * fr_rng_uniform(&rng);
                    int bad = 0;
                    for (int q = 0; q < in[k].nkinks; q++)
                        if (fabs(v - in[k].kinks[q]) < 0.05) bad = 1;
                    if (!bad) break;
                } while (++tries < 100);
            }
            vals[k][i] = v;
        }
    }

    struct fr_ctx *ctx = fr_ctx_new(1 << 22), *cfd = fr_ctx_new(1 << 22);
    fr_set_training(ctx, o.train);
    fr_set_training(cfd, o.train);

    /* 1. f64: analytic vs finite differences */
    struct inputs io;
    make_inputs(ctx, FR_F64, nin, in, vals, &io, 1);
    fr_t *out = f(ctx, io.view, arg);
    if (!out) {
        CHECK(0, "%s: op failed in f64: %s", name, fr_last_error());
        goto done;
    }
    int64_t nout = fr_nelem(out);
    double *w = malloc((size_t)nout * sizeof(double));
    for (int64_t i = 0; i < nout; i++)
        w[i] = fr_rng_normal(&rng);
    fr_t *loss = loss_of(ctx, out, w);
    /* the FD error of the loss itself grows with its size: scale atol */
    double fd_atol = o.fd_atol * (1.0 + fabs(fr_get(loss, 0)));
    int any_grad = 0;
    for (int k = 0; k < nin; k++)
        any_grad |= io.base[k]->requires_grad;
    if (any_grad) CHECK(fr_backward(ctx, loss) == 0, "%s: backward: %s", name, fr_last_error());
    for (int k = 0; k < nin && any_grad; k++) {
        if (!io.base[k]->requires_grad) continue;
        int64_t n = 1;
        for (int d = 0; d < in[k].ndim; d++)
            n *= in[k].ne[d];
        double worst = 0;
        int64_t worst_i = -1;
        double wa = 0, wn = 0;
        fr_t *g = io.base[k]->grad;
        for (int64_t i = 0; i < n; i++) {
            double save = vals[k][i], lp, lm;
            struct inputs jo;
            vals[k][i] = save + o.h;
            fr_ctx_reset(cfd);
            make_inputs(cfd, FR_F64, nin, in, vals, &jo, 0);
            lp = fr_get(loss_of(cfd, f(cfd, jo.view, arg), w), 0);
            vals[k][i] = save - o.h;
            fr_ctx_reset(cfd);
            make_inputs(cfd, FR_F64, nin, in, vals, &jo, 0);
            lm = fr_get(loss_of(cfd, f(cfd, jo.view, arg), w), 0);
            vals[k][i] = save;
            double num = (lp - lm) / (2 * o.h);
            /* grad of the logical element i inside the (maybe padded) base */
            int64_t i0 = i % in[k].ne[0], rest = i / in[k].ne[0];
            int64_t bn0 = in[k].ne[0] + (in[k].strided ? 2 : 0);
            double ana = g ? fr_get(g, rest * bn0 + i0 + (in[k].strided ? 1 : 0)) : 0;
            double r = fabs(ana - num) / (fd_atol + o.fd_rtol * fabs(num));
            if (r > worst || r != r) worst = r, worst_i = i, wa = ana, wn = num;
        }
        CHECK(worst <= 1.0,
              "%s: input %d grad vs finite differences: element %lld analytic %.10g "
              "numeric %.10g",
              name, k, (long long)worst_i, wa, wn);
    }
    free(w);

    /* 2. f32 fast path vs f32 reference path, outputs and grads */
    fr_t *res[2][17] = {{0}};
    for (int pass = 0; pass < 2; pass++) {
        fr_set_reference_mode(pass == 1);
        struct fr_ctx *c = pass ? cfd : ctx;
        fr_ctx_reset(c);
        struct inputs jo;
        make_inputs(c, FR_F32, nin, in, vals, &jo, 1);
        fr_t *y = f(c, jo.view, arg);
        if (!y) {
            CHECK(0, "%s: op failed in f32: %s", name, fr_last_error());
            fr_set_reference_mode(0);
            goto done;
        }
        res[pass][0] = y;
        if (any_grad) {
            fr_t *wt = fr_new(c, FR_F32, y->ndim, y->ne);
            struct fr_rng r2;
            fr_rng_seed(&r2, 99);
            for (int64_t i = 0; i < fr_nelem(y); i++)
                fr_set(wt, i, fr_rng_normal(&r2));
            fr_backward(c, fr_sum(c, fr_mul(c, y, wt), -1));
        }
        for (int k = 0; k < nin; k++)
            res[pass][k + 1] = jo.base[k]->grad;
    }
    fr_set_reference_mode(0);
    double r = check_compare(res[0][0], res[1][0], o.fast_rtol, o.fast_atol);
    CHECK(r <= 1.0, "%s: f32 fast output differs from reference (ratio %.3g)", name, r);
    for (int k = 0; k < nin; k++) {
        if (!res[0][k + 1] || !res[1][k + 1]) continue;
        r = check_compare(res[0][k + 1], res[1][k + 1], o.fast_rtol, o.fast_atol);
        CHECK(r <= 1.0, "%s: f32 fast grad of input %d differs from reference (ratio %.3g)", name,
              k, r);
    }
done:
    for (int k = 0; k < nin; k++)
        free(vals[k]);
    fr_ctx_free(ctx);
    fr_ctx_free(cfd);
    return g_check_fail - fails0;
}

void check_write_idx(const char *path, int n, int hw, int labels) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    uint8_t head[4] = {0, 0, 8, (uint8_t)(labels ? 1 : 3)};
    fwrite(head, 1, 4, f);
    uint32_t dims[3] = {(uint32_t)n, (uint32_t)hw, (uint32_t)hw};
    for (int d = 0; d < (labels ? 1 : 3); d++) {
        uint8_t be[4] = {dims[d] >> 24, dims[d] >> 16 & 255, dims[d] >> 8 & 255, dims[d] & 255};
        fwrite(be, 1, 4, f);
    }
    int64_t total = labels ? n : (int64_t)n * hw * hw;
    for (int64_t i = 0; i < total; i++)
        fputc(labels ? (int)(i % 10) : (int)(i * 37 % 251), f);
    fclose(f);
}

long check_slurp(const char *path, unsigned char **out) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *out = malloc((size_t)(n > 0 ? n : 0) + 1);
    if (!*out || fread(*out, 1, (size_t)n, f) != (size_t)n) n = -1;
    fclose(f);
    return n;
}

int check_same_file(const char *a, const char *b) {
    unsigned char *x = NULL, *y = NULL;
    long na = check_slurp(a, &x), nb = check_slurp(b, &y);
    int same = na > 0 && na == nb && memcmp(x, y, (size_t)na) == 0;
    free(x);
    free(y);
    return same;
}

struct ready {
    struct fr_params *p;
    float *snap;
    int *times;
    int bad;
};

static void on_ready(void *user, struct fr_tensor *leaf) {
    struct ready *r = user;
    int64_t at = (const float *)leaf->data - r->p->data;
    for (int i = 0; i < r->p->count; i++)
        if (r->p->items[i].offset == at && at < r->p->n) {
            r->times[i]++;
            memcpy(r->snap + at, r->p->grad + at, sizeof(float) * (size_t)fr_nelem(leaf));
            return;
        }
    r->bad = 1; /* not a parameter of p */
}

void check_grad_ready(const char *what, struct fr_params *p, struct fr_ctx *ctx,
                      struct fr_tensor *loss) {
    struct ready r = {p, calloc((size_t)p->n, sizeof(float)), calloc((size_t)p->count, sizeof(int)),
                      0};
    CHECK(r.snap && r.times && loss && fr_backward_ready(ctx, loss, on_ready, &r) == 0,
          "%s: backward: %s", what, fr_last_error());
    int once = !r.bad, final = 1;
    for (int i = 0; i < p->count && r.times; i++) {
        struct fr_param *it = &p->items[i];
        int want = it->t->requires_grad && !(it->flags & FR_PARAM_BUFFER);
        once &= r.times[i] == want;
        if (want && r.snap)
            final &= !memcmp(r.snap + it->offset, p->grad + it->offset,
                             sizeof(float) * (size_t)fr_nelem(it->t));
    }
    CHECK(once, "%s: not every trainable parameter reported exactly once", what);
    CHECK(final, "%s: a gradient changed after it was reported final", what);
    free(r.snap), free(r.times);
}

void check_random_images(int B, uint64_t seed, struct fr_tensor **x, struct fr_tensor **y) {
    *x = fr_tensor_new(FR_F32, 4, (int64_t[]){28, 28, 1, B});
    *y = fr_tensor_new(FR_I32, 1, (int64_t[]){B});
    struct fr_rng r;
    fr_rng_seed(&r, seed);
    fr_rng_fill_uniform(&r, (*x)->data, fr_nelem(*x), 0, 1);
    for (int i = 0; i < B; i++)
        ((int32_t *)(*y)->data)[i] = (int32_t)fr_rng_below(&r, 10);
}

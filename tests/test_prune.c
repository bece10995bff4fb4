/* test_prune.c: pruning primitives (prune.h) against naive twins:
 * masked weights stay exactly zero through SGD (momentum, Nesterov) and
 * AdamW, moments included; the global and layer-wise thresholds prune
 * exactly the requested count with ties in index order (checked against a
 * full sort); N:M groups; nested one-shot masks; the CSR kernel against
 * dense GEMM and its own reference on odd shapes and batches; SNIP and
 * GraSP scores against double-precision finite differences of a tiny
 * network written out by hand; the mask's checkpoint round trip and the
 * sparsity table's masked counts; the essential-sparsity index against a
 * naive scan; errors; and the `frugal prune` / `frugal sparsity` commands
 * (FRUGAL_BIN). */
#include "check.h"

#include "frugal/data.h"
#include "frugal/io.h"
#include "frugal/kernels.h"
#include "frugal/methods/prune.h"
#include "frugal/models.h"
#include "frugal/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *g_tmp; /* this test's own directory (check_tmpdir) */

/* ---- a slab of hand-made tensors ---- */

static void make_slab(struct fr_params *p, int ntens, const int64_t (*shapes)[2], int flags) {
    fr_params_init(p);
    char name[32];
    for (int i = 0; i < ntens; i++) {
        snprintf(name, sizeof name, "t%d.weight", i);
        fr_params_add(p, name, 2, shapes[i], flags);
    }
    fr_params_alloc(p);
}

static int64_t count_masked(const struct fr_params *p, const int *sel) {
    int64_t n = 0;
    for (int i = 0; i < p->count; i++) {
        if (sel && !sel[i]) continue;
        int64_t o = p->items[i].offset, m = fr_nelem(p->items[i].t);
        for (int64_t j = o; j < o + m; j++)
            n += p->mask[j] == 0.0f;
    }
    return n;
}

/* ---- exact count and ties, against a full sort ---- */

struct ki {
    float s;
    int64_t i;
};
static int cmp_ki(const void *a, const void *b) {
    const struct ki *x = a, *y = b;
    if (x->s != y->s) return x->s < y->s ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

static void test_lowest(void) {
    struct fr_rng rng;
    fr_rng_seed(&rng, 3);
    const int64_t n = 1003;
    float *s = malloc(n * sizeof *s), *m = malloc(n * sizeof *m);
    struct ki *ref = malloc(n * sizeof *ref);
    for (int trial = 0; trial < 12; trial++) {
        for (int64_t i = 0; i < n; i++) {
            /* few distinct values so every k cuts through a tie group; signs,
             * -0 and -inf as GraSP and masks produce them */
            int v = (int)fr_rng_below(&rng, trial < 6 ? 5 : 1000) - 2;
            s[i] = trial % 3 == 0 && v == 0 ? -0.0f : (float)v * 0.25f;
            if (trial % 4 == 1 && i % 97 == 0) s[i] = -INFINITY;
            ref[i] = (struct ki){s[i] + 0.0f, i};
        }
        qsort(ref, (size_t)n, sizeof *ref, cmp_ki);
        int64_t ks[] = {0, 1, 17, 250, 500, 501, 999, n};
        for (int a = 0; a < 8; a++) {
            int64_t k = ks[a];
            for (int64_t i = 0; i < n; i++)
                m[i] = 1.0f;
            CHECK(fr_prune_lowest(s, n, k, m) == 0, "prune_lowest k=%lld", (long long)k);
            int64_t cnt = 0, wrong = 0;
            for (int64_t i = 0; i < n; i++)
                cnt += m[i] == 0.0f;
            for (int64_t r = 0; r < n; r++)
                wrong += (m[ref[r].i] == 0.0f) != (r < k);
            CHECK(cnt == k && wrong == 0, "trial %d k %lld: pruned %lld, %lld differ from sort",
                  trial, (long long)k, (long long)cnt, (long long)wrong);
        }
    }
    CHECK(fr_prune_lowest(s, n, n + 1, m) == FR_EINVAL, "k > n rejected");
    s[5] = NAN;
    CHECK(fr_prune_lowest(s, n, 3, m) == FR_EINVAL, "NaN score rejected");
    free(s);
    free(m);
    free(ref);
}

static void test_global_and_layerwise(void) {
    static const int64_t shapes[3][2] = {{7, 5}, {16, 3}, {9, 9}};
    struct fr_params p;
    make_slab(&p, 3, shapes, FR_PARAM_PRUNABLE);
    /* a 4th tensor out of scope by flag */
    int sel[3];
    CHECK(fr_prune_scope(&p, NULL, NULL, sel) == 0 && sel[0] && sel[1] && sel[2], "default scope");
    int64_t N = 35 + 48 + 81;
    struct fr_rng rng;
    fr_rng_seed(&rng, 9);
    for (int i = 0; i < p.count; i++) {
        float *w = p.items[i].t->data;
        for (int64_t j = 0; j < fr_nelem(p.items[i].t); j++)
            w[j] = (float)((int)fr_rng_below(&rng, 7) - 3) * 0.5f; /* many |w| ties, zeros */
    }
    float *w0 = malloc(p.n * sizeof *w0);
    memcpy(w0, p.data, p.n * sizeof *w0);
    struct fr_prune_config c;
    fr_prune_config_defaults(&c);
    const double sps[] = {0.0, 0.1, 0.33, 0.5, 0.77, 0.95};
    for (int a = 0; a < 6; a++) {
        memcpy(p.data, w0, p.n * sizeof *w0);
        free(p.mask);
        p.mask = NULL;
        c.sparsity = sps[a];
        c.layerwise = 0;
        CHECK(fr_prune(&p, sel, &c, NULL, NULL) == 0, "global prune %g: %s", sps[a],
              fr_last_error());
        int64_t k = llround(sps[a] * (double)N);
        CHECK(count_masked(&p, sel) == k, "global %g: %lld masked, want %lld", sps[a],
              (long long)count_masked(&p, sel), (long long)k);
        /* the masked set is the k lowest (|w|, slab index) */
        struct ki *ref = malloc(N * sizeof *ref);
        int64_t q = 0;
        for (int i = 0; i < p.count; i++)
            for (int64_t j = 0; j < fr_nelem(p.items[i].t); j++) {
                int64_t g = p.items[i].offset + j;
                ref[q++] = (struct ki){fabsf(w0[g]), g};
            }
        qsort(ref, (size_t)N, sizeof *ref, cmp_ki);
        int64_t wrong = 0;
        for (int64_t r = 0; r < N; r++)
            wrong += (p.mask[ref[r].i] == 0.0f) != (r < k);
        CHECK(wrong == 0, "global %g: %lld weights differ from the sorted choice", sps[a],
              (long long)wrong);
        int64_t nz = 0;
        for (int64_t j = 0; j < p.n; j++)
            nz += p.mask[j] == 0.0f && p.data[j] != 0.0f;
        CHECK(nz == 0, "pruned weights zeroed");
        free(ref);

        memcpy(p.data, w0, p.n * sizeof *w0);
        free(p.mask);
        p.mask = NULL;
        c.layerwise = 1;
        CHECK(fr_prune(&p, sel, &c, NULL, NULL) == 0, "layerwise prune");
        for (int i = 0; i < 3; i++) {
            int one[3] = {i == 0, i == 1, i == 2};
            int64_t ki = llround(sps[a] * (double)fr_nelem(p.items[i].t));
            CHECK(count_masked(&p, one) == ki, "layerwise %g tensor %d: %lld masked, want %lld",
                  sps[a], i, (long long)count_masked(&p, one), (long long)ki);
        }
    }
    /* errors leave everything as it was */
    memcpy(p.data, w0, p.n * sizeof *w0);
    free(p.mask);
    p.mask = NULL;
    const double bad[] = {1.0, -0.1, 1.5, NAN};
    for (int a = 0; a < 4; a++) {
        c.sparsity = bad[a];
        CHECK(fr_prune(&p, sel, &c, NULL, NULL) == FR_EINVAL && p.mask == NULL,
              "sparsity %g rejected", bad[a]);
        CHECK(strstr(fr_last_error(), "[0, 1)") != NULL, "message names the range: %s",
              fr_last_error());
    }
    c.sparsity = 0.8;
    c.layerwise = 0;
    CHECK(fr_prune(&p, sel, &c, NULL, NULL) == 0, "prune 0.8");
    c.sparsity = 0.5;
    float *m8 = malloc(p.n * sizeof *m8);
    memcpy(m8, p.mask, p.n * sizeof *m8);
    CHECK(fr_prune(&p, sel, &c, NULL, NULL) == FR_EINVAL && !memcmp(m8, p.mask, p.n * sizeof *m8),
          "lower sparsity than the mask has is refused, mask unchanged");
    c.method = FR_PRUNE_SNIP;
    CHECK(fr_prune(&p, sel, &c, NULL, NULL) == FR_EINVAL, "SNIP without data refused");
    free(m8);
    free(w0);
    fr_params_free(&p);
}

static void test_scope(void) {
    struct fr_params p;
    fr_params_init(&p);
    fr_params_add(&p, "layer1.conv1.weight", 2, (int64_t[]){4, 4}, FR_PARAM_PRUNABLE);
    fr_params_add(&p, "layer1.bn1.weight", 1, (int64_t[]){4}, FR_PARAM_NO_DECAY);
    fr_params_add(&p, "layer1.bn1.running_mean", 1, (int64_t[]){4}, FR_PARAM_BUFFER);
    fr_params_add(&p, "layer2.conv1.weight", 2, (int64_t[]){4, 4}, FR_PARAM_PRUNABLE);
    fr_params_add(&p, "fc.weight", 2, (int64_t[]){4, 2}, FR_PARAM_PRUNABLE);
    fr_params_alloc(&p);
    int sel[5];
    CHECK(fr_prune_scope(&p, NULL, NULL, sel) == 0 && sel[0] && !sel[1] && !sel[2] && sel[3] &&
              sel[4],
          "default scope = PRUNABLE");
    CHECK(fr_prune_scope(&p, NULL, "fc.*", sel) == 0 && sel[0] && sel[3] && !sel[4],
          "exclude head");
    CHECK(fr_prune_scope(&p, "layer*.conv*.weight", NULL, sel) == 0 && sel[0] && sel[3] && !sel[4],
          "glob include");
    CHECK(fr_prune_scope(&p, "layer1.*", NULL, sel) == 0 && sel[0] && sel[1] && !sel[2],
          "pattern overrides flags, never buffers");
    CHECK(fr_prune_scope(&p, "fc.weight,layer2.conv1.weight", NULL, sel) == 0 && !sel[0] &&
              sel[3] && sel[4],
          "comma list");
    CHECK(fr_prune_scope(&p, "nothing*", NULL, sel) == FR_EINVAL, "empty scope is an error");
    CHECK(fr_prune_scope(&p, "fc.weight,,x", NULL, sel) == FR_EINVAL, "empty pattern item");
    fr_params_free(&p);
}

/* ---- N:M ---- */

static void test_nm(void) {
    static const int64_t shapes[2][2] = {{16, 5}, {8, 3}};
    const int pats[][2] = {{2, 4}, {1, 4}, {3, 8}, {4, 4}};
    for (int a = 0; a < 4; a++) {
        struct fr_params p;
        make_slab(&p, 2, shapes, FR_PARAM_PRUNABLE);
        struct fr_rng rng;
        fr_rng_seed(&rng, 11 + a);
        fr_rng_fill_normal(&rng, p.data, p.n, 0, 1);
        float *w0 = malloc(p.n * sizeof *w0);
        memcpy(w0, p.data, p.n * sizeof *w0);
        int sel[2] = {1, 1};
        struct fr_prune_config c;
        fr_prune_config_defaults(&c);
        c.method = FR_PRUNE_NM;
        c.nm_n = pats[a][0];
        c.nm_m = pats[a][1];
        CHECK(fr_prune(&p, sel, &c, NULL, NULL) == 0, "nm %d:%d: %s", c.nm_n, c.nm_m,
              fr_last_error());
        int bad = 0;
        for (int i = 0; i < 2; i++) {
            int64_t o = p.items[i].offset, n = fr_nelem(p.items[i].t);
            for (int64_t g = o; g < o + n; g += c.nm_m) {
                int kept = 0;
                float min_kept = INFINITY, max_pruned = 0;
                for (int j = 0; j < c.nm_m; j++) {
                    if (p.mask[g + j] != 0.0f) {
                        kept++;
                        min_kept = fminf(min_kept, fabsf(w0[g + j]));
                        bad += p.data[g + j] != w0[g + j];
                    } else {
                        max_pruned = fmaxf(max_pruned, fabsf(w0[g + j]));
                        bad += p.data[g + j] != 0.0f;
                    }
                }
                bad += kept != c.nm_n || (kept < c.nm_m && max_pruned > min_kept);
            }
        }
        CHECK(bad == 0, "nm %d:%d: %d groups break the pattern", c.nm_n, c.nm_m, bad);
        free(w0);
        fr_params_free(&p);
    }
    static const int64_t odd[1][2] = {{6, 2}};
    struct fr_params p;
    make_slab(&p, 1, odd, FR_PARAM_PRUNABLE);
    int sel[1] = {1};
    struct fr_prune_config c;
    fr_prune_config_defaults(&c);
    c.method = FR_PRUNE_NM;
    CHECK(fr_prune(&p, sel, &c, NULL, NULL) == FR_EINVAL && p.mask == NULL &&
              strstr(fr_last_error(), "t0.weight"),
          "rows of 6 refused for 2:4, naming the tensor: %s", fr_last_error());
    int n, m;
    CHECK(fr_prune_parse_nm("2:4", &n, &m) == 0 && n == 2 && m == 4, "parse 2:4");
    CHECK(fr_prune_parse_nm("4:2", &n, &m) == FR_EINVAL && fr_prune_parse_nm("2x4", &n, &m) &&
              fr_prune_parse_nm("0:4", &n, &m) && fr_prune_parse_nm("2:", &n, &m),
          "bad N:M refused");
    fr_params_free(&p);
}

/* ---- nesting ---- */

static void test_nested(void) {
    static const int64_t shapes[2][2] = {{33, 7}, {12, 12}};
    for (int method = 0; method < 2; method++) {
        struct fr_params p, q;
        make_slab(&p, 2, shapes, FR_PARAM_PRUNABLE);
        make_slab(&q, 2, shapes, FR_PARAM_PRUNABLE);
        struct fr_rng rng;
        fr_rng_seed(&rng, 5);
        fr_rng_fill_normal(&rng, p.data, p.n, 0, 1);
        fr_params_copy(&q, &p);
        int sel[2] = {1, 1};
        struct fr_prune_config c;
        fr_prune_config_defaults(&c);
        c.method = method ? FR_PRUNE_RANDOM : FR_PRUNE_MAGNITUDE;
        float *prev = malloc(p.n * sizeof *prev);
        int ok = 1;
        const double sps[] = {0.2, 0.5, 0.8, 0.9};
        for (int a = 0; a < 4; a++) {
            c.sparsity = sps[a];
            if (a) memcpy(prev, p.mask, p.n * sizeof *prev);
            ok &= fr_prune(&p, sel, &c, NULL, NULL) == 0;
            if (a)
                for (int64_t j = 0; j < p.n; j++)
                    ok &= !(prev[j] == 0.0f && p.mask[j] != 0.0f);
        }
        CHECK(ok, "%s masks nested across 0.2..0.9", fr_prune_method_name(c.method));
        /* and for magnitude the chain ends where a one-shot 0.9 lands */
        if (method == 0) {
            CHECK(fr_prune(&q, sel, &c, NULL, NULL) == 0 &&
                      !memcmp(q.mask, p.mask, p.n * sizeof(float)),
                  "chained OMP == one-shot OMP at 0.9");
        }
        free(prev);
        fr_params_free(&p);
        fr_params_free(&q);
    }
}

/* ---- optimizers keep masked weights at zero ---- */

static void test_optim_masked(void) {
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    const int kinds[3][2] = {{FR_OPT_SGD, 0}, {FR_OPT_SGD, 1}, {FR_OPT_ADAMW, 0}};
    for (int a = 0; a < 3; a++) {
        struct fr_model *m = fr_model_new("mlp", &mc, 1);
        int *sel = calloc(m->params.count, sizeof *sel);
        fr_prune_scope(&m->params, NULL, NULL, sel);
        struct fr_prune_config pc;
        fr_prune_config_defaults(&pc);
        pc.sparsity = 0.7;
        CHECK(fr_prune(&m->params, sel, &pc, NULL, NULL) == 0, "prune mlp");
        struct fr_optim_config oc;
        fr_optim_config_defaults(&oc, (enum fr_opt_kind)kinds[a][0]);
        oc.lr = 0.05;
        oc.weight_decay = 0.01;
        if (oc.kind == FR_OPT_SGD) {
            oc.momentum = 0.9;
            oc.nesterov = kinds[a][1];
        }
        struct fr_optim opt;
        fr_optim_init(&opt, &m->params, &oc);
        struct fr_ctx *ctx = fr_ctx_new(1 << 20);
        struct fr_rng rng;
        fr_rng_seed(&rng, 2);
        int64_t bad = 0, moved = 0;
        for (int step = 0; step < 30; step++) {
            fr_params_zero_grad(&m->params);
            struct fr_tensor *x = fr_new4(ctx, FR_F32, 28, 28, 1, 4);
            struct fr_tensor *y = fr_new1(ctx, FR_I32, 4);
            fr_rng_fill_normal(&rng, x->data, 28 * 28 * 4, 0, 1);
            for (int i = 0; i < 4; i++)
                ((int32_t *)y->data)[i] = (int32_t)fr_rng_below(&rng, 10);
            struct fr_tensor *loss = fr_cross_entropy(ctx, m->forward(m, ctx, x), y, 0.0f);
            fr_backward(ctx, loss);
            fr_optim_step(&opt, -1);
            fr_ctx_reset(ctx);
            for (int64_t j = 0; j < m->params.n; j++) {
                if (m->params.mask[j] != 0.0f) continue;
                bad += m->params.data[j] != 0.0f || opt.m[j] != 0.0f || (opt.v && opt.v[j] != 0.0f);
            }
        }
        for (int64_t j = 0; j < m->params.n; j++)
            moved += m->params.mask[j] != 0.0f && opt.m[j] != 0.0f;
        CHECK(bad == 0 && moved > 0,
              "optimizer %d (nesterov %d): %lld masked entries moved, %lld "
              "kept entries have momentum",
              kinds[a][0], kinds[a][1], (long long)bad, (long long)moved);
        fr_ctx_free(ctx);
        fr_optim_free(&opt);
        free(sel);
        fr_model_free(m);
    }
}

/* ---- the sparse kernel ---- */

static void test_csr(void) {
    const int64_t dims[][2] = {{37, 53}, {1, 9}, {64, 17}, {5, 130}};
    const int64_t batches[] = {1, 2, 3, 8, 9, 17, 33, 63, 64, 65, 130};
    const double sps[] = {0.0, 0.5, 0.9, 0.99, 1.0};
    struct fr_rng rng;
    fr_rng_seed(&rng, 21);
    int bad = 0, count = 0;
    for (int d = 0; d < 4; d++)
        for (int s = 0; s < 5; s++) {
            const int64_t R = dims[d][0], C = dims[d][1];
            float *W = malloc(R * C * sizeof *W);
            for (int64_t i = 0; i < R * C; i++)
                W[i] = fr_rng_uniform(&rng) < sps[s] ? 0.0f : (float)fr_rng_normal(&rng);
            struct fr_csr A;
            if (fr_csr_from_dense(&A, W, R, C, C)) {
                bad++;
                continue;
            }
            for (int b = 0; b < 11; b++) {
                const int64_t B = batches[b], ldx = C + 3, ldy = R + 2;
                float *X = malloc(B * ldx * sizeof *X), *Y = malloc(B * ldy * sizeof *Y);
                float *Yd = malloc(B * R * sizeof *Yd), *Yr = malloc(B * ldy * sizeof *Yr);
                fr_rng_fill_normal(&rng, X, B * ldx, 0, 1);
                for (int64_t i = 0; i < B * ldy; i++)
                    Y[i] = Yr[i] = 777.0f;
                fr_csr_matmul(&A, B, X, ldx, Y, ldy);
                fr_csr_matmul_ref(&A, B, X, ldx, Yr, ldy);
                fr_gemm_ref(0, 1, B, R, C, 1.0f, X, ldx, W, C, 0.0f, Yd, R);
                for (int64_t i = 0; i < B; i++)
                    for (int64_t r = 0; r < ldy; r++) {
                        float y = Y[i * ldy + r];
                        if (r >= R) {
                            bad += y != 777.0f; /* padding untouched */
                            continue;
                        }
                        float yd = Yd[i * R + r], yr = Yr[i * ldy + r];
                        bad += fabsf(y - yr) > 1e-4f * (1 + fabsf(yr)) ||
                               fabsf(y - yd) > 1e-4f * (1 + fabsf(yd));
                    }
                count++;
                free(X);
                free(Y);
                free(Yd);
                free(Yr);
            }
            /* fr_spmat gives the dense answer whichever kernel it picks */
            struct fr_spmat S;
            if (fr_spmat_init(&S, W, R, C) == 0) {
                float *X = malloc(7 * C * sizeof *X), *Y = malloc(7 * R * sizeof *Y),
                      *Yd = malloc(7 * R * sizeof *Yd);
                fr_rng_fill_normal(&rng, X, 7 * C, 0, 1);
                for (int64_t B = 1; B <= 7; B += 6) {
                    fr_spmat_matmul(&S, B, X, Y);
                    fr_gemm_ref(0, 1, B, R, C, 1.0f, X, C, W, C, 0.0f, Yd, R);
                    for (int64_t i = 0; i < B * R; i++)
                        bad += fabsf(Y[i] - Yd[i]) > 1e-4f * (1 + fabsf(Yd[i]));
                }
                free(X);
                free(Y);
                free(Yd);
                fr_spmat_free(&S);
            } else {
                bad++;
            }
            CHECK(A.nnz == A.rowptr[R], "nnz consistent");
            fr_csr_free(&A);
            free(W);
        }
    CHECK(bad == 0 && count == 4 * 5 * 11, "CSR kernel equals dense and reference (%d bad of %d)",
          bad, count);
    CHECK(fr_sparse_preferred(768, 768, 1, 0.01) && !fr_sparse_preferred(768, 768, 64, 0.5),
          "decision rule: sparse at 99%% for batch 1, dense at 50%% for batch 64");
    struct fr_csr A;
    CHECK(fr_csr_from_dense(&A, NULL, 0, 3, 3) == FR_EINVAL, "bad CSR shape refused");
}

/* ---- SNIP and GraSP vs finite differences ---- */

/* tiny net: x [B, D] -> tanh(x W1^T + b1) [B, H] -> W2 [K, H] + b2 -> CE */
enum { TB = 4, TD = 5, TH = 6, TK = 3 };

struct tiny {
    struct fr_params p;
    struct fr_tensor *w1, *b1, *w2, *b2;
    float x[TB * TD];
    int32_t y[TB];
};

static int tiny_loss(void *user, struct fr_params *p, double *loss) {
    struct tiny *t = user;
    struct fr_ctx *ctx = fr_ctx_new(1 << 16);
    fr_params_zero_grad(p);
    struct fr_tensor *x = fr_wrap(ctx, FR_F32, 2, (int64_t[]){TD, TB}, t->x);
    struct fr_tensor *y = fr_wrap(ctx, FR_I32, 1, (int64_t[]){TB}, t->y);
    struct fr_tensor *h = fr_tanh(ctx, fr_linear(ctx, x, t->w1, t->b1));
    struct fr_tensor *l = fr_cross_entropy(ctx, fr_linear(ctx, h, t->w2, t->b2), y, 0.0f);
    int rc = l ? fr_backward(ctx, l) : FR_EINVAL;
    if (!rc) *loss = fr_get(l, 0);
    fr_ctx_free(ctx);
    return rc;
}

/* the same loss in double from a flat copy of the slab */
static double tiny_loss_ref(const struct tiny *t, const double *w) {
    const double *w1 = w + t->p.items[0].offset, *b1 = w + t->p.items[1].offset;
    const double *w2 = w + t->p.items[2].offset, *b2 = w + t->p.items[3].offset;
    double L = 0;
    for (int b = 0; b < TB; b++) {
        double h[TH], z[TK], mx = -1e300, se = 0;
        for (int o = 0; o < TH; o++) {
            double s = b1[o];
            for (int i = 0; i < TD; i++)
                s += w1[o * TD + i] * t->x[b * TD + i];
            h[o] = tanh(s);
        }
        for (int k = 0; k < TK; k++) {
            z[k] = b2[k];
            for (int o = 0; o < TH; o++)
                z[k] += w2[k * TH + o] * h[o];
            mx = fmax(mx, z[k]);
        }
        for (int k = 0; k < TK; k++)
            se += exp(z[k] - mx);
        L += -(z[t->y[b]] - mx - log(se));
    }
    return L / TB;
}

static void grad_ref(const struct tiny *t, double *w, double *g) {
    const double h = 1e-6;
    for (int64_t j = 0; j < t->p.n; j++) {
        double w0 = w[j];
        w[j] = w0 + h;
        double lp = tiny_loss_ref(t, w);
        w[j] = w0 - h;
        double lm = tiny_loss_ref(t, w);
        w[j] = w0;
        g[j] = (lp - lm) / (2 * h);
    }
}

/* fr_prune_batch_loss: the cross entropy of the model's logits divided by
 * the temperature, gradients left in p->grad (GraSP scores with T = 200). */
static void test_batch_loss(void) {
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    mc.in_h = mc.in_w = 8;
    struct fr_model *m = fr_model_new("mlp", &mc, 4);
    struct fr_dataset ds = {0};
    ds.n = 6, ds.C = 1, ds.H = ds.W = 8, ds.nclass = 10;
    ds.x = malloc(sizeof(float) * 6 * 64);
    ds.y = malloc(sizeof(int32_t) * 6);
    struct fr_rng r;
    fr_rng_seed(&r, 11);
    fr_rng_fill_uniform(&r, ds.x, 6 * 64, -2, 2);
    for (int i = 0; i < 6; i++)
        ds.y[i] = (i * 7) % 10;
    struct fr_ctx *ctx = fr_ctx_new(8 << 20);
    int64_t ne[4] = {8, 8, 1, 6};
    struct fr_tensor *z = m->forward(m, ctx, fr_wrap(ctx, FR_F32, 4, ne, ds.x));
    double want[2] = {0, 0};
    const double T[2] = {1, 200};
    for (int t = 0; t < 2; t++) {
        for (int b = 0; b < 6; b++) {
            double mx = -1e300, se = 0;
            for (int k = 0; k < 10; k++)
                mx = fmax(mx, fr_get(z, b * 10 + k) / T[t]);
            for (int k = 0; k < 10; k++)
                se += exp(fr_get(z, b * 10 + k) / T[t] - mx);
            want[t] += (mx + log(se) - fr_get(z, b * 10 + ds.y[b]) / T[t]) / 6;
        }
    }
    fr_ctx_reset(ctx);
    double got[2] = {0, 0}, gnorm[2] = {0, 0};
    for (int t = 0; t < 2; t++) {
        struct fr_prune_batch b = {m, ctx, &ds, t ? 200.0f : 0.0f};
        CHECK(fr_prune_batch_loss(&b, &m->params, &got[t]) == 0, "batch loss T=%g", T[t]);
        for (int64_t i = 0; i < m->params.n; i++)
            gnorm[t] += (double)m->params.grad[i] * m->params.grad[i];
        CHECK(fabs(got[t] - want[t]) < 1e-5 * (1 + want[t]), "T=%g: loss %.8f, by hand %.8f", T[t],
              got[t], want[t]);
    }
    /* near-uniform softmax at T = 200: loss near log 10, gradients ~T times smaller */
    CHECK(fabs(got[1] - log(10.0)) < 0.05 && gnorm[1] > 0 && gnorm[1] < gnorm[0] * 1e-2,
          "T=200: loss %.5f (log 10 = %.5f), |g|^2 %.3g vs %.3g", got[1], log(10.0), gnorm[1],
          gnorm[0]);
    fr_ctx_free(ctx);
    free(ds.x);
    free(ds.y);
    fr_model_free(m);
}

static void test_snip_grasp(void) {
    struct tiny t;
    fr_params_init(&t.p);
    t.w1 = fr_params_add(&t.p, "fc1.weight", 2, (int64_t[]){TD, TH}, FR_PARAM_PRUNABLE);
    t.b1 = fr_params_add(&t.p, "fc1.bias", 1, (int64_t[]){TH}, FR_PARAM_NO_DECAY);
    t.w2 = fr_params_add(&t.p, "fc2.weight", 2, (int64_t[]){TH, TK}, FR_PARAM_PRUNABLE);
    t.b2 = fr_params_add(&t.p, "fc2.bias", 1, (int64_t[]){TK}, FR_PARAM_NO_DECAY);
    fr_params_alloc(&t.p);
    struct fr_rng rng;
    fr_rng_seed(&rng, 4);
    fr_rng_fill_normal(&rng, t.p.data, t.p.n, 0, 0.8f);
    fr_rng_fill_normal(&rng, t.x, TB * TD, 0, 1);
    for (int b = 0; b < TB; b++)
        t.y[b] = (int32_t)fr_rng_below(&rng, TK);
    int sel[4];
    fr_prune_scope(&t.p, NULL, NULL, sel);
    const int64_t n = t.p.n;
    double *w = calloc(n, sizeof *w), *g = calloc(n, sizeof *g), *gp = calloc(n, sizeof *gp),
           *gm = calloc(n, sizeof *gm), *v = calloc(n, sizeof *v);
    float *score = calloc(n, sizeof *score), *w0 = malloc(n * sizeof *w0);
    memcpy(w0, t.p.data, n * sizeof *w0);
    for (int64_t j = 0; j < n; j++)
        w[j] = t.p.data[j];
    grad_ref(&t, w, g);

    struct fr_prune_config c;
    fr_prune_config_defaults(&c);
    c.method = FR_PRUNE_SNIP;
    CHECK(fr_prune_scores(&t.p, sel, &c, tiny_loss, &t, score) == 0, "snip scores: %s",
          fr_last_error());
    double err = 0, mx = 0;
    for (int i = 0; i < 4; i++) {
        if (!sel[i]) continue;
        for (int64_t j = t.p.items[i].offset; j < t.p.items[i].offset + fr_nelem(t.p.items[i].t);
             j++) {
            double ref = fabs(w[j] * g[j]);
            err = fmax(err, fabs(score[j] - ref));
            mx = fmax(mx, ref);
        }
    }
    CHECK(mx > 0 && err <= 1e-4 * mx, "SNIP vs finite differences: max err %g of max %g", err, mx);
    CHECK(!memcmp(w0, t.p.data, n * sizeof *w0), "SNIP leaves weights unchanged");

    /* GraSP reference: H g along v = g restricted to the scope, by central
     * differences of the finite-difference gradient (all in double) */
    double vn = 0;
    for (int i = 0; i < 4; i++)
        if (sel[i])
            for (int64_t j = t.p.items[i].offset;
                 j < t.p.items[i].offset + fr_nelem(t.p.items[i].t); j++) {
                v[j] = g[j];
                vn += g[j] * g[j];
            }
    const double h = 1e-4 / sqrt(vn);
    for (int64_t j = 0; j < n; j++)
        w[j] = w0[j] + h * v[j];
    grad_ref(&t, w, gp);
    for (int64_t j = 0; j < n; j++)
        w[j] = w0[j] - h * v[j];
    grad_ref(&t, w, gm);
    c.method = FR_PRUNE_GRASP;
    CHECK(fr_prune_scores(&t.p, sel, &c, tiny_loss, &t, score) == 0, "grasp scores: %s",
          fr_last_error());
    err = mx = 0;
    int sign_ok = 1;
    for (int i = 0; i < 4; i++) {
        if (!sel[i]) continue;
        for (int64_t j = t.p.items[i].offset; j < t.p.items[i].offset + fr_nelem(t.p.items[i].t);
             j++) {
            double ref = w0[j] * (gp[j] - gm[j]) / (2 * h);
            err = fmax(err, fabs(score[j] - ref));
            mx = fmax(mx, fabs(ref));
            if (fabs(ref) > 0.1 * mx) sign_ok &= (score[j] > 0) == (ref > 0);
        }
    }
    CHECK(mx > 0 && err <= 2e-2 * mx && sign_ok,
          "GraSP vs finite differences: max err %g of max %g", err, mx);
    CHECK(!memcmp(w0, t.p.data, n * sizeof *w0), "GraSP restores the weights");
    /* pruning with GraSP keeps the largest w*Hg */
    c.sparsity = 0.5;
    CHECK(fr_prune(&t.p, sel, &c, tiny_loss, &t) == 0 && count_masked(&t.p, sel) == 24,
          "GraSP prune 0.5 of 48 weights");
    free(w);
    free(g);
    free(gp);
    free(gm);
    free(v);
    free(score);
    free(w0);
    fr_params_free(&t.p);
}

/* ---- checkpoints and accounting ---- */

static void test_save_load(void) {
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    struct fr_model *a = fr_model_new("cnn", &mc, 1), *b = fr_model_new("cnn", &mc, 2);
    int *sel = calloc(a->params.count, sizeof *sel);
    fr_prune_scope(&a->params, NULL, NULL, sel);
    struct fr_prune_config pc;
    fr_prune_config_defaults(&pc);
    pc.sparsity = 0.6;
    fr_prune(&a->params, sel, &pc, NULL, NULL);
    char path[256], plain[256];
    snprintf(path, sizeof path, "%s/pruned.safetensors", g_tmp);
    snprintf(plain, sizeof plain, "%s/plain.safetensors", g_tmp);
    CHECK(fr_prune_save(&a->params, path, NULL) == 0, "save pruned: %s", fr_last_error());
    int has = 0;
    CHECK(fr_prune_load(&b->params, path, NULL, &has) == 0 && has == 1, "load pruned");
    CHECK(b->params.mask && !memcmp(a->params.mask, b->params.mask, a->params.n * sizeof(float)) &&
              !memcmp(a->params.data, b->params.data, a->params.n * sizeof(float)),
          "mask and weights round-trip");
    struct fr_sparsity_table ta, tb;
    fr_sparsity_table_params(&a->params, NULL, &ta);
    fr_sparsity_table_params(&b->params, NULL, &tb);
    int64_t scope = 0;
    for (int i = 0; i < a->params.count; i++)
        if (sel[i]) scope += fr_nelem(a->params.items[i].t);
    CHECK(ta.scope == scope && ta.scope - ta.scope_nonzero == llround(0.6 * (double)scope) &&
              tb.scope_nonzero == ta.scope_nonzero && ta.total_nonzero == tb.total_nonzero,
          "table: scope %lld, nonzero %lld", (long long)ta.scope, (long long)ta.scope_nonzero);
    int64_t masked = 0;
    for (int i = 0; i < ta.count; i++)
        masked += ta.rows[i].masked;
    CHECK(masked == ta.scope - ta.scope_nonzero, "table counts masked entries");
    CHECK(ta.scope_masked == masked && tb.scope_masked == masked,
          "scope_masked %lld / %lld, rows %lld", (long long)ta.scope_masked,
          (long long)tb.scope_masked, (long long)masked);
    /* a scope narrower than the pruned one counts only its own masked entries */
    int *one = calloc(a->params.count, sizeof *one);
    int64_t want = 0;
    for (int i = 0; i < a->params.count && !want; i++)
        if (sel[i]) {
            one[i] = 1;
            for (int64_t j = 0; j < fr_nelem(a->params.items[i].t); j++)
                want += a->params.mask[a->params.items[i].offset + j] == 0.0f;
        }
    struct fr_sparsity_table t1;
    CHECK(fr_sparsity_table_params(&a->params, one, &t1) == 0 && t1.scope_masked == want &&
              want > 0 && want < masked,
          "scope_masked of one tensor: %lld, want %lld", (long long)t1.scope_masked,
          (long long)want);
    fr_sparsity_table_free(&t1);
    free(one);
    fr_sparsity_table_free(&ta);
    fr_sparsity_table_free(&tb);
    /* a checkpoint without a mask loads without one */
    struct fr_model *c = fr_model_new("cnn", &mc, 3);
    struct fr_sparsity_table tc;
    CHECK(fr_sparsity_table_params(&c->params, NULL, &tc) == 0 && tc.scope > 0 &&
              tc.scope_masked == 0,
          "no mask: scope_masked %lld", (long long)tc.scope_masked);
    fr_sparsity_table_free(&tc);
    fr_params_save(&c->params, plain, NULL);
    CHECK(fr_prune_load(&c->params, plain, NULL, &has) == 0 && has == 0 && c->params.mask == NULL,
          "no mask in, no mask out");
    /* a mask of the wrong size is refused (mlp slab vs cnn file) */
    struct fr_model *d = fr_model_new("mlp", &mc, 3);
    CHECK(fr_prune_load(&d->params, path, NULL, &has) != 0, "cnn checkpoint into mlp refused");
    fr_model_free(a);
    fr_model_free(b);
    fr_model_free(c);
    fr_model_free(d);
    free(sel);
}

/* ---- essential sparsity ---- */

/* The naive twin: scan for the first point past the tolerance. */
static int essential_ref(const double *y, int n, double limit, int higher, int *drop) {
    for (int i = 1; i < n; i++)
        if (isnan(y[i]) || (higher ? y[i] < limit : y[i] > limit)) {
            *drop = i;
            return i - 1;
        }
    *drop = -1;
    return n - 1;
}

static void test_essential_index(void) {
    /* accuracies (%): dense 90, one point of tolerance */
    const double acc[6] = {90.0, 90.4, 89.5, 89.0, 88.99, 70.0};
    int drop = 7;
    CHECK(fr_prune_essential_index(acc, 6, 90.0 - 1.0, 1, &drop) == 3 && drop == 4,
          "accuracy: 89.0 is within the point, 88.99 is not (drop %d)", drop);
    CHECK(fr_prune_essential_index(acc, 4, 89.0, 1, &drop) == 3 && drop == -1,
          "nothing drops: the last point, a lower bound");
    CHECK(fr_prune_essential_index(acc, 1, 89.0, 1, &drop) == 0 && drop == -1, "dense only");
    /* losses: dense 1.9, 1% tolerance; a diverged (NaN) fine-tune drops */
    const double loss[5] = {1.9, 1.89, 1.918, 1.92, 2.5};
    CHECK(fr_prune_essential_index(loss, 5, 1.9 * 1.01, 0, &drop) == 2 && drop == 3,
          "loss: 1.918 within 1%%, 1.92 not (drop %d)", drop);
    const double nan_loss[3] = {1.9, NAN, 1.9};
    CHECK(fr_prune_essential_index(nan_loss, 3, 1.919, 0, &drop) == 0 && drop == 1, "NaN drops");
    CHECK(fr_prune_essential_index(nan_loss, 3, 1.0, 1, &drop) == 0 && drop == 1,
          "NaN drops (higher is better)");
    /* random curves against the naive twin */
    struct fr_rng rng;
    fr_rng_seed(&rng, 5);
    int bad = 0;
    for (int trial = 0; trial < 500; trial++) {
        double y[12];
        int n = 1 + (int)(fr_rng_uniform(&rng) * 12), higher = trial & 1, d1, d2;
        for (int i = 0; i < n; i++)
            y[i] = 80.0 + 4.0 * fr_rng_uniform(&rng);
        if (trial % 7 == 0) y[n - 1] = NAN;
        double limit = higher ? y[0] - 1.0 : y[0] * 1.01;
        int e1 = fr_prune_essential_index(y, n, limit, higher, &d1);
        int e2 = essential_ref(y, n, limit, higher, &d2);
        bad += e1 != e2 || d1 != d2 || (d1 >= 0 && d1 != e1 + 1);
    }
    CHECK(bad == 0, "essential index vs the naive scan: %d of 500 differ", bad);
}

/* ---- the CLI ---- */

static char g_out[1 << 16], g_err[1 << 12];

static void slurp(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = '\0';
    if (f) fclose(f);
}

static int run(const char *bin, const char *args) {
    char cmd[4096], o[300], e[300];
    snprintf(o, sizeof o, "%s/stdout", g_tmp);
    snprintf(e, sizeof e, "%s/stderr", g_tmp);
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>'%s' </dev/null", bin, args, o, e);
    int st = system(cmd);
    slurp(o, g_out, sizeof g_out);
    slurp(e, g_err, sizeof g_err);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int one_line(const char *s) {
    int n = 0;
    for (const char *c = s; *c; c++)
        n += *c == '\n';
    return n == 1 && strncmp(s, "frugal", 6) == 0;
}

static void save_model(struct fr_model *m, const struct fr_model *meta_from, const char *path) {
    char keys[FR_MODEL_META_MAX][64], vals[FR_MODEL_META_MAX][64];
    const char *kp[FR_MODEL_META_MAX], *vp[FR_MODEL_META_MAX];
    int nm = fr_model_meta_write(meta_from, keys, vals, FR_MODEL_META_MAX);
    for (int i = 0; i < nm; i++)
        kp[i] = keys[i], vp[i] = vals[i];
    struct fr_ckpt o = {kp, vp, nm, NULL, 0, FR_F32, 0, 0};
    fr_params_save(&m->params, path, &o);
}

static void test_cli(void) {
    const char *bin = getenv("FRUGAL_BIN");
    if (!bin) {
        printf("test_prune: SKIPPED in part: the `frugal prune` checks (FRUGAL_BIN not set)\n");
        return;
    }
    struct fr_model_config mc, small;
    fr_model_config_defaults(&mc);
    small = mc;
    small.in_h = small.in_w = 14;
    struct fr_model *m = fr_model_new("mlp", &mc, 1), *s = fr_model_new("mlp", &small, 1);
    char ck[300], bad[300], out[300], args[1200];
    snprintf(ck, sizeof ck, "%s/mlp.safetensors", g_tmp);
    snprintf(bad, sizeof bad, "%s/wrong.safetensors", g_tmp);
    snprintf(out, sizeof out, "%s/out.safetensors", g_tmp);
    save_model(m, m, ck);
    save_model(s, m, bad); /* metadata says 28x28, tensors are for 14x14 */

    snprintf(args, sizeof args, "prune --model %s --method omp --sparsity 0.8 --out %s", ck, out);
    int rc = run(bin, args);
    CHECK(rc == 0, "prune omp: exit %d: %s", rc, g_err);
    snprintf(args, sizeof args, "sparsity %s", out);
    rc = run(bin, args);
    CHECK(rc == 0 && strstr(g_out, "fc1.weight") && strstr(g_out, "overall"),
          "sparsity table: exit %d: %s%s", rc, g_out, g_err);
    CHECK(strstr(g_out, "80.00%") != NULL, "the scope is 80%% sparse: %s", g_out);
    struct fr_model *r = fr_model_new("mlp", &mc, 9);
    int has = 0;
    CHECK(fr_prune_load(&r->params, out, NULL, &has) == 0 && has, "CLI output carries the mask");
    fr_model_free(r);

    snprintf(args, sizeof args, "prune --model %s --method nm --nm 2:4 --out %s", ck, out);
    CHECK(run(bin, args) == 0, "prune nm: %s", g_err);
    snprintf(args, sizeof args,
             "prune --model %s --method random --layerwise --scope 'fc1.*,fc2.*' --sparsity 0.5 "
             "--out %s",
             ck, out);
    CHECK(run(bin, args) == 0, "prune random layerwise scoped: %s", g_err);
    if (access("/usr/share/datasets/fashion-mnist", R_OK) == 0) {
        snprintf(args, sizeof args,
                 "prune --model %s --method snip --sparsity 0.5 --batch 32 --out %s", ck, out);
        CHECK(run(bin, args) == 0, "prune snip on Fashion-MNIST: %s", g_err);
        snprintf(args, sizeof args,
                 "prune --model %s --method grasp --sparsity 0.5 --batch 32 --out %s", ck, out);
        CHECK(run(bin, args) == 0, "prune grasp on Fashion-MNIST: %s", g_err);
        /* fine-tune the 80% OMP checkpoint with `frugal train --init`: the mask
         * survives training and is written with the result */
        char ft[300];
        snprintf(ft, sizeof ft, "%s/ft.safetensors", g_tmp);
        snprintf(args, sizeof args, "prune --model %s --method omp --sparsity 0.8 --out %s", ck,
                 out);
        CHECK(run(bin, args) == 0, "prune omp for the fine-tune: %s", g_err);
        snprintf(
            args, sizeof args,
            "train --init %s --epochs 1 --limit-train 256 --batch 64 --val-frac 0 --results '' "
            "--out %s",
            out, ft);
        rc = run(bin, args);
        CHECK(rc == 0 && strstr(g_out, "test acc"), "train --init: exit %d: %s%s", rc, g_out,
              g_err);
        struct fr_model *a = fr_model_new("mlp", &mc, 9), *b = fr_model_new("mlp", &mc, 9);
        int ha = 0, hb = 0;
        if (fr_prune_load(&a->params, out, NULL, &ha) == 0 &&
            fr_prune_load(&b->params, ft, NULL, &hb) == 0) {
            int64_t same_mask = 0, zero = 0, moved = 0, masked = 0;
            for (int64_t i = 0; i < a->params.n; i++) {
                same_mask += a->params.mask[i] == b->params.mask[i];
                masked += b->params.mask[i] == 0;
                zero += b->params.mask[i] == 0 && b->params.data[i] == 0;
                moved += b->params.mask[i] != 0 && b->params.data[i] != a->params.data[i];
            }
            CHECK(ha && hb && same_mask == a->params.n && zero == masked && masked > 0 && moved > 0,
                  "train --init keeps the mask (%lld of %lld equal), pruned stay zero (%lld of "
                  "%lld), the rest trained (%lld moved)",
                  (long long)same_mask, (long long)a->params.n, (long long)zero, (long long)masked,
                  (long long)moved);
        } else {
            CHECK(0, "train --init output loads: %s", fr_last_error());
        }
        fr_model_free(a);
        fr_model_free(b);
        snprintf(args, sizeof args, "train --init %s --epochs 1 --limit-train 256 --results ''",
                 bad);
        rc = run(bin, args);
        CHECK(rc == 1 && one_line(g_err) && strstr(g_err, "--init"),
              "train --init with wrong shapes: "
              "exit %d [%s]",
              rc, g_err);
        snprintf(args, sizeof args, "train --init %s/none.safetensors --results ''", g_tmp);
        rc = run(bin, args);
        CHECK(rc == 1 && one_line(g_err), "train --init missing: exit %d [%s]", rc, g_err);
        /* the training methods: exact sparsity, provenance, a report line */
        const char *iter[3] = {"imp --steps 5", "isp --steps 3 --lookahead 3 --weak 2 --soup",
                               "isp --steps 3 --lookahead 3 --weak 2 --merge union"};
        for (int i = 0; i < 3; i++) {
            unlink(out);
            snprintf(args, sizeof args,
                     "prune --model %s --method %s --sparsity 0.7 --limit-train 256 --fit-batch 32 "
                     "--out %s",
                     ck, iter[i], out);
            rc = run(bin, args);
            CHECK(rc == 0 && strstr(g_out, "test acc") && strstr(g_out, "70.00%"),
                  "prune %s: exit %d: %s%s", iter[i], rc, g_out, g_err);
            struct fr_model *q = fr_model_new("mlp", &mc, 9);
            has = 0;
            CHECK(fr_prune_load(&q->params, out, NULL, &has) == 0 && has, "%s: mask", iter[i]);
            fr_model_free(q);
            snprintf(args, sizeof args, "info %s", out);
            rc = run(bin, args);
            CHECK(
                rc == 0 && strstr(g_out, i ? "prune.method: isp" : "prune.method: imp") &&
                    strstr(g_out, "prune.train_steps") &&
                    (i == 0 || strstr(g_out, i == 2 ? "prune.merge: union" : "prune.merge: trim")),
                "%s: provenance in the metadata: %s", iter[i], g_out);
        }
        const char *ifails[] = {"--method isp --task coarse", "--method imp --layerwise",
                                "--method imp --task nosuch", "--method isp --sparsity 0"};
        for (int i = 0; i < 4; i++) {
            unlink(out);
            snprintf(args, sizeof args,
                     "prune --model %s --sparsity 0.5 %s --limit-train 256 --out %s", ck, ifails[i],
                     out);
            rc = run(bin, args);
            CHECK(rc == 1 && one_line(g_err) && access(out, F_OK) != 0, "`prune %s`: exit %d [%s]",
                  ifails[i], rc, g_err);
        }
    }

    const char *fails[][2] = {
        {"--sparsity 1", "2"},
        {"--sparsity -0.5", "2"},
        {"--sparsity 1.5", "2"},
        {"--method magic", "2"},
        {"--nm 4:2 --method nm", "1"},
        {"--scope 'nothing*'", "1"},
        {"--method isp --merge nosuch", "2"},
    };
    for (int i = 0; i < 7; i++) {
        unlink(out);
        snprintf(args, sizeof args, "prune --model %s %s --out %s", ck, fails[i][0], out);
        rc = run(bin, args);
        CHECK(rc == atoi(fails[i][1]) && one_line(g_err) && access(out, F_OK) != 0,
              "`prune %s`: exit %d, stderr [%s], no output file", fails[i][0], rc, g_err);
    }
    unlink(out);
    snprintf(args, sizeof args, "prune --model %s --sparsity 0.5 --out %s", bad, out);
    rc = run(bin, args);
    CHECK(rc == 1 && one_line(g_err) && strstr(g_err, "shape") && access(out, F_OK) != 0,
          "wrong shapes: exit %d [%s]", rc, g_err);
    snprintf(args, sizeof args, "prune --model %s/missing.safetensors --out %s", g_tmp, out);
    rc = run(bin, args);
    CHECK(rc == 1 && one_line(g_err) && access(out, F_OK) != 0, "missing model: exit %d [%s]", rc,
          g_err);
    snprintf(args, sizeof args, "prune --sparsity 0.5 --out %s", out);
    rc = run(bin, args);
    CHECK(rc == 2 && one_line(g_err), "no --model: exit %d [%s]", rc, g_err);
    snprintf(args, sizeof args, "sparsity %s/missing.safetensors", g_tmp);
    rc = run(bin, args);
    CHECK(rc == 1 && one_line(g_err), "sparsity of a missing file: exit %d [%s]", rc, g_err);
    fr_model_free(m);
    fr_model_free(s);
}

int main(void) {
    g_tmp = check_tmpdir();
    test_lowest();
    test_scope();
    test_global_and_layerwise();
    test_nm();
    test_nested();
    test_optim_masked();
    test_csr();
    test_snip_grasp();
    test_batch_loss();
    test_save_load();
    test_essential_index();
    test_cli();
    return check_report("test_prune");
}

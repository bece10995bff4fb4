/* test_lottery.c: IMP with rewinding, ISP (the trimmed and the untrimmed
 * union rule, exact sparsities, N = 0 as magnitude pruning, worker-count
 * independence, the optimizer moments the untrimmed rule hands over), soups and mask
 * similarity (lottery.h, soup.h), on an 8x8 toy task and a small mlp. */
#include "check.h"

#include "frugal/methods/lottery.h"
#include "frugal/methods/prune.h"
#include "frugal/methods/soup.h"
#include "frugal/models.h"
#include "frugal/train.h"

#include <stdlib.h>
#include <string.h>

#define S 8

/* 10 classes, each a bright pixel block at its own place plus noise. */
static struct fr_dataset toy(int64_t n, uint64_t seed) {
    struct fr_dataset ds = {.n = n, .C = 1, .H = S, .W = S, .nclass = 10, .std = 1.0f};
    ds.x = malloc((size_t)(n * S * S) * sizeof(float));
    ds.y = malloc((size_t)n * sizeof(int32_t));
    struct fr_rng r;
    fr_rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i++) {
        int y = (int)fr_rng_below(&r, 10);
        ds.y[i] = y;
        for (int j = 0; j < S * S; j++)
            ds.x[i * S * S + j] = 0.5f * (float)fr_rng_normal(&r) + (j / 6 == y ? 1.5f : 0.0f);
    }
    return ds;
}

static struct fr_model *mlp(uint64_t seed) {
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    mc.in_h = mc.in_w = S;
    return fr_model_new("mlp", &mc, seed);
}

static int64_t scoped_masked(const struct fr_params *p, const int *sel, int64_t *n) {
    int64_t z = 0;
    *n = 0;
    for (int i = 0; i < p->count; i++) {
        if (!sel[i]) continue;
        int64_t o = p->items[i].offset, k = fr_nelem(p->items[i].t);
        for (int64_t j = o; j < o + k; j++)
            z += p->mask && p->mask[j] == 0.0f;
        *n += k;
    }
    return z;
}

static void test_schedule(void) {
    double s[64], stops[3] = {0.5, 0.7, 0.8};
    int n = fr_lottery_schedule(0.9, 0.2, stops, 3, s, 64);
    CHECK(n > 4 && s[n - 1] == 0.9, "schedule ends at the target (%d rounds, last %g)", n,
          n > 0 ? s[n - 1] : -1);
    int seen = 0, asc = 1;
    for (int i = 0; i < n; i++) {
        seen += s[i] == 0.5 || s[i] == 0.7 || s[i] == 0.8;
        if (i) asc &= s[i] > s[i - 1];
    }
    CHECK(seen == 3 && asc, "passes through every stop, ascending (%d)", seen);
    CHECK(fr_lottery_schedule(0.9, 0.2, NULL, 0, s, 64) == 10 && fabs(s[0] - 0.2) < 1e-12,
          "geometric: 0.2, 0.36, ..., 0.83, 0.87, 0.9: 10 rounds");
    CHECK(fr_lottery_schedule(1.0, 0.2, NULL, 0, s, 64) == FR_EINVAL, "target 1 is an error");
    CHECK(fr_lottery_schedule(0.9, 0.2, NULL, 0, s, 3) == FR_EINVAL, "too many rounds");
}

struct imp_watch {
    float *prev_mask, *pre;
    int64_t n;
    int nested, rewound, rounds;
};

static int imp_round(void *user, struct fr_model *m, int round, double sparsity, int64_t steps) {
    (void)sparsity, (void)steps;
    struct imp_watch *w = user;
    const struct fr_params *p = &m->params;
    for (int64_t j = 0; j < p->n; j++) {
        if (w->prev_mask[j] == 0.0f && p->mask[j] != 0.0f) w->nested = 0;
        float want = p->mask[j] != 0.0f ? w->pre[j] : 0.0f;
        if (memcmp(&p->data[j], &want, sizeof want) != 0) w->rewound = 0;
    }
    memcpy(w->prev_mask, p->mask, (size_t)p->n * sizeof(float));
    w->rounds = round;
    return 0;
}

static void test_imp(void) {
    struct fr_dataset ds = toy(256, 3);
    struct fr_model *m = mlp(1);
    int *sel = calloc((size_t)m->params.count, sizeof *sel);
    fr_prune_scope(&m->params, NULL, NULL, sel);
    struct imp_watch w = {.n = m->params.n, .nested = 1, .rewound = 1};
    w.pre = malloc((size_t)w.n * sizeof(float));
    w.prev_mask = malloc((size_t)w.n * sizeof(float));
    memcpy(w.pre, m->params.data, (size_t)w.n * sizeof(float));
    for (int64_t j = 0; j < w.n; j++)
        w.prev_mask[j] = 1.0f;
    struct fr_imp_config c;
    fr_imp_config_defaults(&c);
    c.sparsity = 0.7;
    c.rate = 0.3;
    c.fit.steps = 4;
    c.fit.epochs = 0;
    c.fit.batch = 32;
    c.fit.lr = 1e-2;
    c.on_round = imp_round;
    c.user = &w;
    struct fr_lottery_result res;
    CHECK(fr_imp(m, sel, &ds, NULL, &c, &res) == 0, "imp: %s", fr_last_error());
    int64_t n, z = scoped_masked(&m->params, sel, &n);
    CHECK(z == llround(0.7 * (double)n), "imp: %lld of %lld pruned", (long long)z, (long long)n);
    CHECK(res.rounds == 3 && w.rounds == 3 && res.steps == 12,
          "imp: 3 rounds (0.3, 0.51, 0.7: 0.657 is too close below 0.7), 12 steps (got %d, %lld)",
          res.rounds, (long long)res.steps);
    CHECK(w.nested, "imp: masks of the rounds are nested");
    CHECK(w.rewound, "imp: every unpruned value rewound to its pretrained value, pruned are 0");
    free(w.pre);
    free(w.prev_mask);
    free(sel);
    fr_model_free(m);
    fr_dataset_free(&ds);
}

static void test_merge(void) {
    struct fr_params p;
    fr_params_init(&p);
    int64_t ne = 8, nb = 2;
    fr_params_add(&p, "w", 1, &ne, FR_PARAM_PRUNABLE);
    fr_params_add(&p, "b", 1, &nb, 0);
    fr_params_alloc(&p);
    int sel[2] = {1, 0};
    /* the slab aligns tensors, so work through offsets */
    const int64_t N = p.n, ob = p.items[1].offset;
    const float w[8] = {0.5f, 0.6f, 9.0f, 8.0f, 0.7f, 0.8f, 0.1f, -0.2f};
    memcpy(p.data, w, sizeof w);
    p.data[ob] = p.data[ob + 1] = 0.01f;
    /* weak mask 1 prunes 0-3, weak mask 2 prunes 2-5: only 2 and 3 die in both */
    float *masks = malloc(2 * (size_t)N * sizeof *masks);
    for (int64_t i = 0; i < 2 * N; i++)
        masks[i] = 1.0f;
    for (int j = 0; j < 4; j++)
        masks[j] = 0.0f, masks[N + 2 + j] = 0.0f;
    double uk = 0;
    CHECK(fr_isp_merge(&p, sel, masks, 2, 0.5, &uk) == 0, "merge: %s", fr_last_error());
    const float want[8] = {1, 1, 0, 0, 1, 1, 0, 0}; /* 2, 3 by the union; 6, 7 by magnitude */
    int ok = 1;
    for (int j = 0; j < 8; j++)
        ok &= p.mask[j] == want[j] && (want[j] != 0.0f || p.data[j] == 0.0f);
    CHECK(ok, "merge: the union kills only weights every weak mask prunes (big 2, 3), then the "
              "lowest |w| (6, 7) to exactly 50%%");
    CHECK(uk == 0.75, "union keeps 6 of 8 (%g)", uk);
    CHECK(p.mask[ob] == 1.0f && p.mask[ob + 1] == 1.0f && p.data[ob] == 0.01f,
          "out of scope untouched");
    /* a union that already prunes more than the target */
    for (int64_t j = 0; j < N; j++)
        p.mask[j] = 1.0f;
    memcpy(p.data, w, sizeof w);
    for (int j = 0; j < 6; j++)
        masks[j] = masks[N + j] = 0.0f;
    CHECK(fr_isp_merge(&p, sel, masks, 2, 0.5, NULL) == FR_EINVAL, "union beyond the target");
    /* k = 0: plain magnitude */
    CHECK(fr_isp_merge(&p, sel, NULL, 0, 0.25, NULL) == 0 && p.mask[6] == 0.0f &&
              p.mask[7] == 0.0f && p.mask[0] == 1.0f,
          "no weak masks: magnitude pruning");
    free(masks);
    fr_params_free(&p);
}

static void test_union(void) {
    struct fr_params p;
    fr_params_init(&p);
    int64_t ne = 8, nb = 2;
    fr_params_add(&p, "w", 1, &ne, FR_PARAM_PRUNABLE);
    fr_params_add(&p, "b", 1, &nb, 0);
    fr_params_alloc(&p);
    int sel[2] = {1, 0};
    const int64_t N = p.n, ob = p.items[1].offset;
    for (int j = 0; j < 8; j++)
        p.data[j] = 1.0f + (float)j;
    p.data[ob] = 0.01f;
    fr_params_mask_init(&p);
    p.mask[7] = 0.0f, p.data[7] = 0.0f; /* already pruned */
    /* weak masks prune {0, 1, 2, 7}, {1, 2, 3, 7}, {2, 3, 4, 7}: all three agree on 2 */
    float *masks = malloc(3 * (size_t)N * sizeof *masks);
    for (int64_t i = 0; i < 3 * N; i++)
        masks[i] = 1.0f;
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++)
            masks[(size_t)i * (size_t)N + (size_t)(i + j)] = 0.0f;
        masks[(size_t)i * (size_t)N + 7] = 0.0f;
        masks[(size_t)i * (size_t)N + (size_t)ob] = 0.0f; /* out of scope: never read */
    }
    int64_t got = -1;
    CHECK(fr_isp_union(&p, sel, masks, 3, &got) == 0, "union: %s", fr_last_error());
    const float want[8] = {1, 1, 0, 1, 1, 1, 1, 0};
    int ok = 1;
    for (int j = 0; j < 8; j++)
        ok &= p.mask[j] == want[j] && (want[j] == 0.0f) == (p.data[j] == 0.0f);
    CHECK(ok && got == 1,
          "untrimmed union: exactly the weights every weak mask prunes (2) die, "
          "no magnitude trim (newly pruned %lld)",
          (long long)got);
    CHECK(p.mask[ob] == 1.0f && p.data[ob] == 0.01f, "union: out of scope untouched");
    /* two masks: the union of their keep-masks, whatever the target */
    for (int j = 0; j < 8; j++)
        masks[j] = j < 6 ? 0.0f : 1.0f, masks[N + j] = j < 4 ? 0.0f : 1.0f;
    CHECK(fr_isp_union(&p, sel, masks, 2, &got) == 0 && got == 3 && p.mask[0] == 0.0f &&
              p.mask[3] == 0.0f && p.mask[4] == 1.0f && p.mask[6] == 1.0f,
          "union of two keep-masks prunes 0-3 (%lld new)", (long long)got);
    CHECK(fr_isp_union(&p, sel, masks, 0, NULL) == FR_EINVAL, "union of no masks is an error");
    free(masks);
    fr_params_free(&p);
}

/* The train layer's moments hand-over (train.h's fr_optim_state), which
 * ISP's union rule relies on: 3 steps, then 2 more from the first run's
 * moments, give the bits of one 5-step run (constant lr, AdamW). */
static int64_t moments_next(void *user, struct fr_ctx *ctx, struct fr_tensor **x,
                            struct fr_tensor **y) {
    (void)user, (void)ctx;
    *x = *y = NULL;
    return 1;
}

static struct fr_tensor *moments_loss(void *user, struct fr_ctx *ctx, struct fr_tensor *x,
                                      struct fr_tensor *y) {
    (void)x, (void)y;
    struct fr_tensor *w = user;
    return fr_sum(ctx, fr_mul(ctx, fr_mul(ctx, w, w), w), -1);
}

static void fit_moments(struct fr_params *p, int64_t steps, const struct fr_optim_state *from,
                        struct fr_optim_state *to) {
    struct fr_fit_config c = {0};
    c.optim.opt = "adamw";
    c.optim.lr = 0.05;
    c.optim.wd = 0.1;
    c.steps = steps;
    c.from = from;
    c.to = to;
    struct fr_fit_hooks h = {.user = p->items[0].t, .next = moments_next, .loss = moments_loss};
    struct fr_fit_result r;
    CHECK(fr_fit(p, &c, &h, &r) == 0 && r.steps == steps, "fit %lld steps: %s", (long long)steps,
          fr_last_error());
}

static void test_moments(void) {
    struct fr_params a, b;
    int64_t ne = 6;
    fr_params_init(&a);
    fr_params_init(&b);
    fr_params_add(&a, "w", 1, &ne, 0);
    fr_params_add(&b, "w", 1, &ne, 0);
    fr_params_alloc(&a);
    fr_params_alloc(&b);
    for (int j = 0; j < 6; j++)
        a.data[j] = b.data[j] = 0.3f * (float)(j + 1) - 1.0f;
    float *m = calloc((size_t)a.n, sizeof *m), *v = calloc((size_t)a.n, sizeof *v);
    struct fr_optim_state st = {m, v, 0};
    fit_moments(&a, 5, NULL, NULL);
    fit_moments(&b, 3, NULL, &st);
    CHECK(st.steps == 3 && m[0] != 0.0f && v[0] != 0.0f, "moments handed out after 3 steps");
    fit_moments(&b, 2, &st, &st);
    CHECK(st.steps == 5, "moments carried: %lld steps seen", (long long)st.steps);
    CHECK(memcmp(a.data, b.data, (size_t)a.n * sizeof(float)) == 0,
          "3 + 2 steps with the moments handed over = 5 steps in one run");
    free(m);
    free(v);
    fr_params_free(&a);
    fr_params_free(&b);
}

static void isp_config(struct fr_isp_config *c, int n_weak, int workers) {
    fr_isp_config_defaults(c);
    c->sparsity = 0.8;
    c->rate = 0.4;
    c->n_weak = n_weak;
    c->lookahead = 3;
    c->round_steps = 2;
    c->subset_frac = 0.25;
    c->fit.batch = 32;
    c->fit.lr = 5e-3;
    c->workers = workers;
    c->seed = 7;
}

static void test_isp(void) {
    struct fr_dataset ds = toy(256, 5);
    struct fr_model *a = mlp(2), *b = mlp(2);
    int *sel = calloc((size_t)a->params.count, sizeof *sel);
    fr_prune_scope(&a->params, NULL, NULL, sel);
    struct fr_isp_config c;
    struct fr_lottery_result ra, rb;
    isp_config(&c, 3, 1);
    CHECK(fr_isp(a, sel, &ds, NULL, &c, &ra) == 0, "isp in-process: %s", fr_last_error());
    isp_config(&c, 3, 2);
    CHECK(fr_isp(b, sel, &ds, NULL, &c, &rb) == 0, "isp 2 workers: %s", fr_last_error());
    size_t bytes = (size_t)a->params.n * sizeof(float);
    CHECK(memcmp(a->params.data, b->params.data, bytes) == 0 &&
              memcmp(a->params.mask, b->params.mask, bytes) == 0,
          "isp: 1 worker and 2 workers give the same bits");
    int64_t n, z = scoped_masked(&a->params, sel, &n);
    CHECK(z == llround(0.8 * (double)n), "isp: exactly 80%% (%lld of %lld)", (long long)z,
          (long long)n);
    /* rounds 0.4, 0.64, 0.8: 2 own steps + 3 weak x 3 steps each */
    CHECK(ra.rounds == 3 && ra.steps == 3 * (2 + 9) && ra.weak_steps == 27,
          "isp steps counted (%d rounds, %lld steps)", ra.rounds, (long long)ra.steps);
    CHECK(ra.union_keep > 0.2 && ra.union_keep <= 1.0, "union keep %g", ra.union_keep);
    /* the weak models matter: N = 3 vs N = 0 masks differ */
    struct fr_model *g = mlp(2);
    isp_config(&c, 0, 1);
    CHECK(fr_isp(g, sel, &ds, NULL, &c, &rb) == 0 && rb.weak_steps == 0, "isp N = 0");
    struct fr_mask_similarity ms;
    fr_mask_similarity(&a->params, sel, a->params.mask, g->params.mask, &ms);
    CHECK(ms.iou < 1.0, "weak masks change the mask (IoU with N = 0: %g)", ms.iou);
    fr_model_free(g);
    /* N = 0, no training: ISP is magnitude pruning along the schedule = one-shot OMP */
    struct fr_model *o = mlp(3), *q = mlp(3);
    isp_config(&c, 0, 1);
    c.round_steps = 0;
    CHECK(fr_isp(o, sel, &ds, NULL, &c, &rb) == 0 && rb.steps == 0, "isp N = 0, no steps");
    struct fr_prune_config pc;
    fr_prune_config_defaults(&pc);
    pc.sparsity = 0.8;
    fr_prune(&q->params, sel, &pc, NULL, NULL);
    CHECK(memcmp(o->params.mask, q->params.mask, bytes) == 0 &&
              memcmp(o->params.data, q->params.data, bytes) == 0,
          "isp with N = 0 and no training equals one-shot magnitude pruning");
    fr_model_free(o);
    fr_model_free(q);
    free(sel);
    fr_model_free(a);
    fr_model_free(b);
    fr_dataset_free(&ds);
}

/* Rounds of the untrimmed rule as they end. */
struct union_log {
    int n;
    double s[64];
    int64_t pruned[64];
    const int *sel;
};

static int union_round(void *user, struct fr_model *m, int round, double sparsity, int64_t steps) {
    (void)round, (void)steps;
    struct union_log *L = user;
    int64_t n;
    if (L->n < 64) L->s[L->n] = sparsity, L->pruned[L->n] = scoped_masked(&m->params, L->sel, &n);
    L->n++;
    return 0;
}

static void test_isp_union(void) {
    struct fr_dataset ds = toy(256, 5);
    struct fr_model *a = mlp(2), *b = mlp(2), *t = mlp(2);
    int *sel = calloc((size_t)a->params.count, sizeof *sel);
    fr_prune_scope(&a->params, NULL, NULL, sel);
    const double stops[1] = {0.5};
    struct union_log L = {.sel = sel};
    struct fr_isp_config c;
    struct fr_lottery_result ra, rb, rt;
    isp_config(&c, 3, 1);
    c.merge = FR_ISP_MERGE_UNION;
    c.vary = FR_ISP_VARY_SEED;
    c.rate = 0.1;
    c.stops = stops;
    c.nstops = 1;
    c.on_round = union_round;
    c.user = &L;
    CHECK(fr_isp(a, sel, &ds, NULL, &c, &ra) == 0, "isp union: %s", fr_last_error());
    int64_t n, z = scoped_masked(&a->params, sel, &n);
    CHECK(z == llround(0.8 * (double)n), "isp union: exactly 80%% (%lld of %lld)", (long long)z,
          (long long)n);
    CHECK(ra.weak_pruned > 0 && ra.weak_pruned + ra.magnitude_pruned == z,
          "isp union: weak-mask union %lld + magnitude %lld = %lld pruned",
          (long long)ra.weak_pruned, (long long)ra.magnitude_pruned, (long long)z);
    /* each round prunes at most rate of the remaining (the weak masks' budget) unless it
     * closes to a stop, which it reaches exactly; the stop 0.5 is passed through */
    int ok = L.n == ra.rounds && L.n > 3, hit = 0;
    int64_t prev = 0;
    for (int i = 0; i < L.n && i < 64; i++) {
        int64_t budget = llround(0.1 * (double)(n - prev));
        int stop = L.s[i] == 0.5 || L.s[i] == 0.8;
        hit += L.s[i] == 0.5;
        ok &= stop ? L.pruned[i] == llround(L.s[i] * (double)n)
                   : L.pruned[i] - prev <= budget && L.pruned[i] > prev &&
                         L.s[i] == (double)L.pruned[i] / (double)n;
        prev = L.pruned[i];
    }
    CHECK(ok && hit == 1,
          "isp union: %d rounds, each within 10%% of the remaining or closing to "
          "a stop (0.5 reached once)",
          L.n);
    CHECK(ra.steps == (int64_t)ra.rounds * (2 + 9) && ra.weak_steps == (int64_t)ra.rounds * 9,
          "isp union steps counted (%d rounds, %lld steps)", ra.rounds, (long long)ra.steps);
    isp_config(&c, 3, 2);
    c.merge = FR_ISP_MERGE_UNION;
    c.vary = FR_ISP_VARY_SEED;
    c.rate = 0.1;
    c.stops = stops;
    c.nstops = 1;
    CHECK(fr_isp(b, sel, &ds, NULL, &c, &rb) == 0, "isp union 2 workers: %s", fr_last_error());
    size_t bytes = (size_t)a->params.n * sizeof(float);
    CHECK(memcmp(a->params.data, b->params.data, bytes) == 0 &&
              memcmp(a->params.mask, b->params.mask, bytes) == 0,
          "isp union: 1 worker and 2 workers give the same bits");
    /* the trimmed rule decides part of each round by m's magnitudes */
    isp_config(&c, 3, 1);
    CHECK(fr_isp(t, sel, &ds, NULL, &c, &rt) == 0 &&
              rt.weak_pruned + rt.magnitude_pruned == llround(0.8 * (double)n) &&
              rt.magnitude_pruned > 0,
          "isp trim: weak %lld + magnitude %lld", (long long)rt.weak_pruned,
          (long long)rt.magnitude_pruned);
    free(sel);
    fr_model_free(a);
    fr_model_free(b);
    fr_model_free(t);
    fr_dataset_free(&ds);
}

static void test_soups(void) {
    struct fr_dataset ds = toy(300, 9);
    struct fr_subset tr, held;
    fr_dataset_split(&ds, 0.3, 1, &tr, &held);
    struct fr_model *m = mlp(4);
    fr_params_mask_init(&m->params);
    for (int64_t j = 0; j < m->params.n; j += 3)
        m->params.mask[j] = 0.0f;
    fr_params_apply_mask(&m->params);
    const int K = 4;
    struct fr_ingredient ing[4];
    for (int i = 0; i < K; i++) {
        fr_fit_classifier_config_defaults(&ing[i].fit);
        ing[i].fit.epochs = 0;
        ing[i].fit.steps = 6 + 2 * i;
        ing[i].fit.batch = 32;
        ing[i].fit.lr = 2e-3 * (i + 1);
        ing[i].fit.seed = 10 + (uint64_t)i;
        ing[i].sub = &tr;
    }
    size_t n = (size_t)m->params.n;
    float *w1 = malloc(K * n * sizeof(float)), *w2 = malloc(K * n * sizeof(float));
    float *start = malloc(n * sizeof(float)), *mean = malloc(n * sizeof(float));
    memcpy(start, m->params.data, n * sizeof(float));
    struct fr_fit_result res[4];
    CHECK(fr_ingredients_train(m, &ds, K, ing, 1, w1, res) == 0, "in-process: %s", fr_last_error());
    CHECK(fr_ingredients_train(m, &ds, K, ing, 3, w2, NULL) == 0, "3 workers: %s", fr_last_error());
    CHECK(memcmp(w1, w2, K * n * sizeof(float)) == 0, "ingredients: workers == in-process");
    CHECK(memcmp(start, m->params.data, n * sizeof(float)) == 0, "m left as it was");
    CHECK(res[3].steps == 12 && memcmp(w1, w1 + n, n * sizeof(float)) != 0,
          "ingredients trained differently");
    int masked_zero = 1;
    for (size_t j = 0; j < n; j += 3)
        masked_zero &= w1[2 * n + j] == 0.0f;
    CHECK(masked_zero, "ingredients keep the mask");
    fr_soup_uniform(w1, K, (int64_t)n, mean);
    double err = 0;
    for (size_t j = 0; j < n; j++)
        err = fmax(err, fabs(mean[j] - (w1[j] + w1[n + j] + w1[2 * n + j] + w1[3 * n + j]) / 4.0));
    CHECK(err < 1e-6, "uniform soup is the mean of the slabs (%g)", err);
    struct fr_greedy_soup g;
    CHECK(fr_soup_greedy(m, w1, K, &ds, &held, &g) == 0, "greedy: %s", fr_last_error());
    double best = 0, again = 0;
    for (int i = 0; i < K; i++)
        best = fmax(best, g.acc[i]);
    fr_evaluate(m, &ds, &held, NULL, 0, &again, NULL);
    CHECK(g.soup_acc >= best && again == g.soup_acc && g.n_used >= 1 && g.used[g.order[0]],
          "greedy soup never below its best ingredient on held-out (%g vs %g, %d used)", g.soup_acc,
          best, g.n_used);
    CHECK(g.acc[g.order[0]] >= g.acc[g.order[K - 1]], "ordered by held-out accuracy");
    /* repro isp takes order[0] as the best single ingredient: acc[i] must be
     * exactly the slab's own held-out accuracy, ties to the lower index */
    int same = 1, first = 0;
    for (int i = 0; i < K; i++) {
        double a = -1;
        memcpy(m->params.data, w1 + (size_t)i * n, n * sizeof(float));
        fr_evaluate(m, &ds, &held, NULL, 0, &a, NULL);
        same &= a == g.acc[i];
        if (g.acc[i] > g.acc[first]) first = i;
    }
    CHECK(same && g.order[0] == first, "acc[i] is ingredient i alone, order[0] the first best");
    fr_greedy_soup_free(&g);
    CHECK(fr_ingredients_train(m, &ds, 0, ing, 1, w1, NULL) == FR_EINVAL, "no ingredients");
    ing[1].fit.lr = -1;
    CHECK(fr_ingredients_train(m, &ds, K, ing, 2, w1, NULL) == FR_EINVAL &&
              strstr(fr_last_error(), "ingredient 1"),
          "a worker's error comes back: %s", fr_last_error());
    free(w1);
    free(w2);
    free(start);
    free(mean);
    fr_subset_free(&tr);
    fr_subset_free(&held);
    fr_model_free(m);
    fr_dataset_free(&ds);
}

static void test_similarity(void) {
    struct fr_params p;
    fr_params_init(&p);
    int64_t ne = 6, nb = 4;
    fr_params_add(&p, "w", 1, &ne, FR_PARAM_PRUNABLE);
    fr_params_add(&p, "b", 1, &nb, 0);
    fr_params_alloc(&p);
    int sel[2] = {1, 0};
    const int64_t N = p.n, ob = p.items[1].offset;
    float *a = calloc((size_t)N, sizeof *a), *b = calloc((size_t)N, sizeof *b);
    const float wa[6] = {0, 0, 1, 1, 1, 1}, wb[6] = {1, 1, 0, 0, 1, 1};
    memcpy(a, wa, sizeof wa);
    memcpy(b, wb, sizeof wb);
    for (int64_t j = ob; j < ob + 4; j++)
        b[j] = 1.0f; /* out of scope: a 0, b 1 */
    struct fr_mask_similarity s;
    CHECK(fr_mask_similarity(&p, sel, a, a, &s) == 0 && s.iou == 1.0 && s.keep_cosine == 1.0 &&
              s.overlap == 1.0 && s.agreement == 1.0,
          "identical masks: similarity 1");
    fr_mask_similarity(&p, sel, a, b, &s);
    CHECK(s.iou == 0.0 && s.pruned_both == 0 && s.pruned_a == 2 && s.n == 6,
          "disjoint pruned sets: IoU 0 (entries out of scope ignored)");
    CHECK_NEAR(s.keep_cosine, 2.0 / sqrt(4.0 * 4.0), 1e-12, "keep cosine");
    CHECK_NEAR(s.agreement, 2.0 / 6.0, 1e-12, "agreement");
    int none[2] = {0, 0};
    CHECK(fr_mask_similarity(&p, none, a, b, &s) == FR_EINVAL, "empty scope");
    free(a);
    free(b);
    fr_params_free(&p);
}

int main(void) {
    fr_threads_set(2);
    test_schedule();
    test_merge();
    test_union();
    test_moments();
    test_similarity();
    test_imp();
    test_isp();
    test_isp_union();
    test_soups();
    return check_report("test_lottery");
}

/* test_abrupt.c: fr_sparsity_near_zero, the count behind the abrupt-
 * sparsification curves (src/experiments/es_abrupt.c), on a hand-made
 * slab: exact counts at a relative (per-tensor max) and an absolute
 * threshold, strict "<" at the boundary, exact zeros always counted,
 * tensors outside the scope and buffers ignored, an explicit scope, bad
 * thresholds refused; and on the zoo's vit, the default scope is the one
 * fr_prune_scope and the sparsity table use. */
#include "check.h"
#include "frugal/methods/prune.h"
#include "frugal/models.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* max 2.0: below 2e-3 (rel 1e-3): 0.0019, 5e-4, 0, 1e-4 -> 4; below 1e-3:
 * 5e-4, 0, 1e-4 -> 3; below 2e-2 (rel 1e-2): the 4 and 0.0021, 0.015 -> 6 */
static const float A[10] = {2.0f, -1.0f,  0.0019f, -0.0021f, 5e-4f,
                            0.0f, 0.015f, -0.03f,  0.5f,     1e-4f};
/* max 0.1: below 1e-4: -5e-5 -> 1; below 1e-3: -5e-5, 2e-4, 9e-4 -> 3 */
static const float B[4] = {0.1f, -5e-5f, 2e-4f, 9e-4f};

static int build(struct fr_params *p) {
    fr_params_init(p);
    struct fr_tensor *a = fr_params_add(p, "a.weight", 2, (int64_t[]){5, 2}, FR_PARAM_PRUNABLE);
    struct fr_tensor *c = fr_params_add(p, "c.bias", 1, (int64_t[]){3}, FR_PARAM_NO_DECAY);
    struct fr_tensor *b = fr_params_add(p, "b.weight", 1, (int64_t[]){4}, FR_PARAM_PRUNABLE);
    struct fr_tensor *u =
        fr_params_add(p, "bn.running_mean", 1, (int64_t[]){6}, FR_PARAM_BUFFER | FR_PARAM_PRUNABLE);
    if (!a || !b || !c || !u || fr_params_alloc(p)) return -1;
    memcpy(a->data, A, sizeof A);
    memcpy(b->data, B, sizeof B);
    /* c and the buffer stay all zero: counted only if they were in scope */
    return 0;
}

int main(void) {
    struct fr_params p;
    CHECK(build(&p) == 0, "build slab: %s", fr_last_error());
    int64_t ns = -1, nr = -1, na = -1;

    CHECK(fr_sparsity_near_zero(&p, NULL, 1e-3, 1e-3, &ns, &nr, &na) == 0, "%s", fr_last_error());
    CHECK(ns == 14, "scope %lld, want 14 (a + b; c and the buffer out)", (long long)ns);
    CHECK(nr == 5, "rel 1e-3: %lld, want 4 + 1", (long long)nr);
    CHECK(na == 6, "abs 1e-3: %lld, want 3 + 3", (long long)na);

    CHECK(fr_sparsity_near_zero(&p, NULL, 1e-2, 0.5, NULL, &nr, &na) == 0, "%s", fr_last_error());
    /* b below 1e-3: -5e-5, 2e-4, 9e-4 -> 3; abs 0.5 is strict: a's 0.5 is out */
    CHECK(nr == 9, "rel 1e-2: %lld, want 6 + 3", (long long)nr);
    CHECK(na == 11, "abs 0.5: %lld, want 7 + 4", (long long)na);

    /* threshold 0: only exact zeros count */
    CHECK(fr_sparsity_near_zero(&p, NULL, 0, 0, NULL, &nr, &na) == 0, "%s", fr_last_error());
    CHECK(nr == 1 && na == 1, "zero thresholds: rel %lld abs %lld, want 1 1", (long long)nr,
          (long long)na);

    /* explicit scope: c (all zeros, max 0) and b; the buffer never counts */
    int sel[4] = {0, 1, 1, 1};
    CHECK(fr_sparsity_near_zero(&p, sel, 1e-3, 1e-3, &ns, &nr, &na) == 0, "%s", fr_last_error());
    CHECK(ns == 7, "sel scope %lld, want 3 + 4", (long long)ns);
    CHECK(nr == 4 && na == 6, "sel: rel %lld (want 3 + 1), abs %lld (want 3 + 3)", (long long)nr,
          (long long)na);

    CHECK(fr_sparsity_near_zero(&p, NULL, -1e-3, 1e-3, &ns, &nr, &na) == FR_EINVAL, "rel < 0");
    CHECK(fr_sparsity_near_zero(&p, NULL, 1e-3, NAN, &ns, &nr, &na) == FR_EINVAL, "abs NaN");
    CHECK(fr_sparsity_near_zero(&p, NULL, INFINITY, 0, &ns, &nr, &na) == FR_EINVAL, "rel inf");
    fr_params_free(&p);

    /* the zoo's vit: default scope == fr_prune_scope == the sparsity table's */
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    mc.mim = 1;
    struct fr_model *m = fr_model_new("vit", &mc, 3);
    CHECK(m != NULL, "vit: %s", fr_last_error());
    if (m) {
        int *s = calloc((size_t)m->params.count, sizeof *s);
        struct fr_sparsity_table t;
        int64_t ns2 = -1, nr2 = -1, na2 = -1;
        CHECK(s && fr_prune_scope(&m->params, NULL, NULL, s) == 0, "scope: %s", fr_last_error());
        CHECK(fr_sparsity_table_params(&m->params, NULL, &t) == 0, "table: %s", fr_last_error());
        CHECK(fr_sparsity_near_zero(&m->params, NULL, 1e-2, 1e-3, &ns, &nr, &na) == 0, "%s",
              fr_last_error());
        CHECK(fr_sparsity_near_zero(&m->params, s, 1e-2, 1e-3, &ns2, &nr2, &na2) == 0, "%s",
              fr_last_error());
        CHECK(ns == t.scope && ns2 == ns && nr2 == nr && na2 == na,
              "vit scope %lld / sel %lld / table %lld", (long long)ns, (long long)ns2,
              (long long)t.scope);
        for (int i = 0; i < m->params.count; i++)
            if (strstr(m->params.items[i].name, "mim_head") ||
                strstr(m->params.items[i].name, "head."))
                CHECK(!s[i], "%s is in the default scope", m->params.items[i].name);
        /* a uniform init has about rel of its weights below rel * max */
        CHECK(nr > 0 && nr < ns / 20, "vit init: %lld of %lld below 1e-2 * max", (long long)nr,
              (long long)ns);
        fr_sparsity_table_free(&t);
        free(s);
        fr_model_free(m);
    }
    return check_report("test_abrupt");
}

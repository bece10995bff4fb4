/* sparsity.c: sparsity accounting over a parameter slab and the mask's
 * round trip through checkpoints (prune.h).
 *
 * The mask is stored as one U8 array over the whole slab (padding included,
 * so it is p->n long): a file written for one architecture loads into the
 * same architecture only, which fr_params_load already enforces for the
 * weights. Counting nonzeros reads the values, so a table of a pruned model
 * is right whether or not it still carries its mask. Near-zero counts
 * (values below a threshold, not exact zeros) are for watching a dense
 * model's weights during training.
 */
#include "frugal/methods/prune.h"
#include "frugal/status.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fr_sparsity_table_params(const struct fr_params *p, const int *sel,
                             struct fr_sparsity_table *t) {
    memset(t, 0, sizeof *t);
    t->rows = calloc((size_t)(p->count > 0 ? p->count : 1), sizeof *t->rows);
    if (!t->rows) return fr_error(FR_ENOMEM, "sparsity: out of memory");
    for (int i = 0; i < p->count; i++) {
        const struct fr_param *it = &p->items[i];
        if (it->flags & FR_PARAM_BUFFER) continue;
        struct fr_sparsity_row *r = &t->rows[t->count++];
        snprintf(r->name, sizeof r->name, "%s", it->name);
        r->ndim = it->t->ndim;
        for (int d = 0; d < 4; d++)
            r->ne[d] = d < r->ndim ? it->t->ne[d] : 1;
        r->n = fr_nelem(it->t);
        const float *w = p->data + it->offset;
        for (int64_t j = 0; j < r->n; j++) {
            r->nonzero += w[j] != 0.0f;
            r->masked += p->mask && p->mask[it->offset + j] == 0.0f;
        }
        r->in_scope = sel ? sel[i] != 0 : (it->flags & FR_PARAM_PRUNABLE) != 0;
        t->total += r->n;
        t->total_nonzero += r->nonzero;
        if (r->in_scope) {
            t->scope += r->n;
            t->scope_nonzero += r->nonzero;
            t->scope_masked += r->masked;
        }
    }
    return 0;
}

void fr_sparsity_table_free(struct fr_sparsity_table *t) {
    if (!t) return;
    free(t->rows);
    memset(t, 0, sizeof *t);
}

int fr_sparsity_near_zero(const struct fr_params *p, const int *sel, double rel, double abs_thresh,
                          int64_t *n_scope, int64_t *n_rel, int64_t *n_abs) {
    if (!(rel >= 0 && rel < INFINITY) || !(abs_thresh >= 0 && abs_thresh < INFINITY))
        return fr_error(FR_EINVAL,
                        "sparsity: near-zero thresholds must be finite and >= 0 "
                        "(rel %g, abs %g)",
                        rel, abs_thresh);
    int64_t ns = 0, nr = 0, na = 0;
    for (int i = 0; i < p->count; i++) {
        const struct fr_param *it = &p->items[i];
        int in = sel ? sel[i] != 0 : (it->flags & FR_PARAM_PRUNABLE) != 0;
        if (!in || (it->flags & FR_PARAM_BUFFER)) continue;
        const float *w = p->data + it->offset;
        int64_t n = fr_nelem(it->t);
        float mx = 0.0f;
        for (int64_t j = 0; j < n; j++)
            mx = fabsf(w[j]) > mx ? fabsf(w[j]) : mx;
        double tr = rel * mx;
        for (int64_t j = 0; j < n; j++) {
            double a = fabs((double)w[j]);
            nr += w[j] == 0.0f || a < tr;
            na += w[j] == 0.0f || a < abs_thresh;
        }
        ns += n;
    }
    if (n_scope) *n_scope = ns;
    if (n_rel) *n_rel = nr;
    if (n_abs) *n_abs = na;
    return 0;
}

int fr_prune_save(const struct fr_params *p, const char *path, const struct fr_ckpt *opt) {
    return fr_params_save_masked(p, path, opt);
}

int fr_prune_load(struct fr_params *p, const char *path, struct fr_ckpt *opt, int *has_mask) {
    return fr_params_load_masked(p, path, opt, has_mask);
}

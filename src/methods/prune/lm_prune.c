/* lm_prune.c: one-shot magnitude pruning of a transformer language model's
 * body (methods/prune.h), and the same as an fr_lm_config.prepare hook so
 * `frugal train-lm --prune` and the essential-sparsity LM curve prune the
 * start of a fine-tune without the training layer knowing about pruning. */
#include "frugal/methods/prune.h"

#include "frugal/lm.h"
#include "frugal/status.h"

#include <stdio.h>
#include <stdlib.h>

int fr_lm_prune(struct fr_tf_model *m, double sparsity, int layerwise) {
    if (!(sparsity >= 0 && sparsity < 1))
        return fr_error(FR_EINVAL, "prune sparsity %g not in [0, 1)", sparsity);
    if (!m->params.allocated) return fr_error(FR_EINVAL, "prune: model has no parameter slab");
    int *sel = calloc((size_t)m->params.count, sizeof *sel);
    if (!sel) return fr_error(FR_ENOMEM, "out of memory");
    struct fr_prune_config pc;
    fr_prune_config_defaults(&pc);
    pc.method = FR_PRUNE_MAGNITUDE;
    pc.sparsity = sparsity;
    pc.layerwise = layerwise;
    int rc = fr_prune_scope(&m->params, NULL, NULL, sel);
    if (!rc) rc = fr_prune(&m->params, sel, &pc, NULL, NULL);
    free(sel);
    return rc;
}

int fr_lm_prune_hook(void *user, struct fr_tf_model *m) {
    const struct fr_lm_prune_spec *s = user;
    return s->sparsity > 0 ? fr_lm_prune(m, s->sparsity, s->layerwise) : 0;
}

int fr_lm_prune_prepare(struct fr_lm_config *c, struct fr_lm_prune_spec *s) {
    if (!(s->sparsity >= 0 && s->sparsity < 1))
        return fr_error(FR_EINVAL, "prune sparsity %g not in [0, 1)", s->sparsity);
    if (!(s->sparsity > 0)) return 0;
    snprintf(s->name, sizeof s->name, "omp %.17g%s", s->sparsity, s->layerwise ? " layerwise" : "");
    c->prepare = fr_lm_prune_hook;
    c->prepare_user = s;
    c->prepare_name = s->name;
    return 0;
}

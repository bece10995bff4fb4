/* lm_batch.c: the scoring batch of a transformer language model for SNIP
 * and GraSP (prune.h, fr_prune_lm_batch): B windows of the model's context
 * spread evenly over a token stream, scored as one batch with next-token
 * cross entropy, the LM twin of fr_prune_batch. Evenly spread, not random,
 * so a pruning is a function of the text alone. */
#include "frugal/methods/prune.h"

#include "frugal/ops.h"
#include "frugal/status.h"
#include "frugal/transformer.h"

#include <stdlib.h>
#include <string.h>

int fr_prune_lm_batch_init(struct fr_prune_lm_batch *b, struct fr_tf_model *m, const int32_t *ids,
                           int64_t n, int64_t batch, float temperature) {
    memset(b, 0, sizeof *b);
    int64_t T = m->cfg.max_seq;
    if (batch < 1) return fr_error(FR_EINVAL, "LM scoring batch: %lld windows", (long long)batch);
    if (n < T + 2)
        return fr_error(FR_EINVAL, "LM scoring batch: %lld tokens, too few for windows of %lld",
                        (long long)n, (long long)T);
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= m->cfg.vocab_size)
            return fr_error(FR_EINVAL,
                            "LM scoring batch: token %d is outside the model's "
                            "vocabulary of %d",
                            ids[i], m->cfg.vocab_size);
    b->m = m, b->T = T, b->B = batch, b->temperature = temperature;
    b->x = malloc(sizeof(int32_t) * (size_t)(T * batch));
    b->y = malloc(sizeof(int32_t) * (size_t)(T * batch));
    b->ctx = fr_ctx_new((size_t)256 << 20);
    if (!b->x || !b->y || !b->ctx) {
        fr_prune_lm_batch_free(b);
        return fr_error(FR_ENOMEM, "out of memory");
    }
    int64_t span = n - T - 1;
    for (int64_t k = 0; k < batch; k++) {
        int64_t s0 = batch > 1 ? k * span / (batch - 1) : 0;
        memcpy(b->x + k * T, ids + s0, sizeof(int32_t) * (size_t)T);
        memcpy(b->y + k * T, ids + s0 + 1, sizeof(int32_t) * (size_t)T);
    }
    return 0;
}

void fr_prune_lm_batch_free(struct fr_prune_lm_batch *b) {
    if (!b) return;
    fr_ctx_free(b->ctx);
    free(b->x);
    free(b->y);
    memset(b, 0, sizeof *b);
}

int fr_prune_lm_batch_loss(void *user, struct fr_params *p, double *loss) {
    struct fr_prune_lm_batch *b = user;
    fr_params_zero_grad(p);
    int64_t ne[2] = {b->T, b->B};
    struct fr_tensor *x = fr_wrap(b->ctx, FR_I32, 2, ne, b->x);
    struct fr_tensor *y = fr_wrap(b->ctx, FR_I32, 2, ne, b->y);
    struct fr_tensor *z = x && y ? fr_tf_forward(b->ctx, b->m, x, NULL) : NULL;
    return fr_prune_logits_loss(b->ctx, z, y, b->temperature, loss);
}

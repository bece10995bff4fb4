/* imp.c: the round schedule shared by IMP and ISP, and lottery tickets by
 * iterative magnitude pruning with rewinding (lottery.h).
 *
 * IMP is deliberately the plain loop of the lottery-ticket papers: train,
 * prune a fraction of what is left by global magnitude (fr_prune, whose
 * masks only grow), rewind the survivors to the pretrained values. Its cost
 * is one full training run per round, which is what ISP is measured
 * against. Not here: the final training of the ticket (the caller's, at
 * the budget it compares methods with).
 */
#include "frugal/clock.h"
#include "frugal/methods/lottery.h"

#include "frugal/methods/prune.h"
#include "frugal/status.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int fr_lottery_schedule(double target, double rate, const double *stops, int nstops, double *s,
                        int cap) {
    if (!(target > 0 && target < 1) || !(rate > 0 && rate < 1) || nstops < 0 || cap < 1)
        return fr_error(FR_EINVAL, "lottery: bad schedule (target %g, rate %g)", target, rate);
    for (int i = 0; i < nstops; i++)
        if (!(stops[i] > 0 && stops[i] <= target) || (i && !(stops[i] > stops[i - 1])))
            return fr_error(FR_EINVAL, "lottery: stops must ascend inside (0, target %g]", target);
    int n = 0, f = 0; /* f: the next fixed point (stops, then the target) */
    double cur = 0;
    while (f <= nstops) {
        double fx = f < nstops ? stops[f] : target;
        if (fx <= cur) { /* a stop equal to the previous one */
            f++;
            continue;
        }
        double g = 1.0 - (1.0 - cur) * (1.0 - rate);
        /* reach the fixed point instead when g passes it or would leave a
         * step of less than half a round before it */
        if (g >= fx || (fx - g) / (1.0 - g) < 0.5 * rate) g = fx, f++;
        if (n >= cap) return fr_error(FR_EINVAL, "lottery: more than %d rounds", cap);
        s[n++] = cur = g;
    }
    return n;
}

void fr_imp_config_defaults(struct fr_imp_config *c) {
    memset(c, 0, sizeof *c);
    c->sparsity = 0.5;
    c->rate = 0.2;
    fr_fit_classifier_config_defaults(&c->fit);
}

int fr_imp(struct fr_model *m, const int *sel, const struct fr_dataset *ds,
           const struct fr_subset *sub, const struct fr_imp_config *c,
           struct fr_lottery_result *res) {
    memset(res, 0, sizeof *res);
    double t0 = fr_seconds(), sched[FR_LOTTERY_MAX_ROUNDS];
    int R = fr_lottery_schedule(c->sparsity, c->rate, c->stops, c->nstops, sched,
                                FR_LOTTERY_MAX_ROUNDS);
    if (R < 0) return R;
    struct fr_params *p = &m->params;
    size_t bytes = (size_t)p->n * sizeof(float);
    float *rewind = malloc(bytes);
    if (!rewind) return fr_error(FR_ENOMEM, "imp: out of memory");
    memcpy(rewind, c->rewind ? c->rewind : p->data, bytes);
    int rc = fr_params_mask_init(p);
    for (int r = 0; r < R && !rc; r++) {
        struct fr_fit_result fr;
        if ((rc = fr_fit_classifier(m, ds, sub, NULL, &c->fit, &fr))) break;
        res->steps += fr.steps;
        struct fr_prune_config pc;
        fr_prune_config_defaults(&pc);
        pc.method = FR_PRUNE_MAGNITUDE;
        pc.sparsity = sched[r];
        if ((rc = fr_prune(p, sel, &pc, NULL, NULL))) break;
        for (int64_t j = 0; j < p->n; j++)
            p->data[j] = p->mask[j] != 0.0f ? rewind[j] : 0.0f;
        res->rounds = r + 1;
        if (c->on_round) rc = c->on_round(c->user, m, r + 1, sched[r], res->steps);
    }
    res->seconds = fr_seconds() - t0;
    free(rewind);
    return rc;
}

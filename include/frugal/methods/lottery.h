/* lottery.h: iterative pruning of a pretrained model: lottery tickets by
 * iterative magnitude pruning with rewinding (IMP/LTH) and Instant Soup
 * Pruning (ISP, arXiv 2306.10460), plus the similarity of their masks.
 *
 *     struct fr_isp_config ic;
 *     fr_isp_config_defaults(&ic);            // c = 15% per round, N = 4, C = 40
 *     ic.sparsity = 0.8;
 *     ic.fit.batch = 64;                      // the base protocol of every fit
 *     struct fr_lottery_result res;
 *     fr_isp(m, sel, &task.train, NULL, &ic, &res);   // m pruned to exactly 80%
 *     fr_fit_classifier(m, &task.train, NULL, NULL, &finetune, &fr); // fine-tune, no rewinding
 *     // res.steps (+ fr.steps) is the training compute the method spent
 *
 * Both methods prune the scoped tensors (sel, as from fr_prune_scope) of
 * m->params along a schedule of round sparsities s_1 < ... < s_R = S,
 * removing a fraction `rate` of the remaining weights per round
 * (fr_lottery_schedule); masks only grow, so the masks of the rounds are
 * nested, and every round ends at exactly llround(s_r * n) pruned scoped
 * weights (prune.h's counting and tie rule). Neither does the final
 * fine-tune: the caller fine-tunes the returned model with the budget it
 * compares methods at, and adds those steps to the result's.
 *
 * IMP, per round: train m (fit), prune to s_r by global magnitude, rewind
 * every unpruned value (all tensors, buffers included) to the rewind point
 * (the pretrained weights: m's values at entry by default). Returns the
 * ticket: rewound weights with the final mask.
 *
 * ISP, per round (the note's pseudo-code): train m a little on a growing
 * slice of the data (round r of R: the first max(batch, r/R) of a seeded
 * permutation), then N weak models, copies of m trained C steps each on
 * their own random subset_frac of the data with a protocol varied by their
 * index (learning rate, weight decay, seed), each giving a weak keep-mask
 * (global magnitude at s_r); the round's mask is the union of the weak
 * keep-masks (a weight dies only if every weak mask prunes it), adjusted to
 * exactly s_r by m's magnitudes. With N = 0 this is gradual magnitude
 * pruning. Optionally ("instant model soup") m's weights become the average
 * of the weak models' each round. A final one-shot magnitude prune to
 * exactly S follows; nothing is rewound. Weak models run in worker
 * processes (soup.h), so results do not depend on the worker count.
 *
 * merge = FR_ISP_MERGE_UNION is the rule of the authors' code
 * (clip_assets/code/isp_all.py): each weak model prunes `rate` of the
 * remaining weights and m takes the untrimmed union of their keep-masks,
 * so a round prunes only what every weak mask prunes (less than `rate`);
 * rounds go on until m is within `close` of the next stop (the authors: 5
 * points of the target), which a one-shot magnitude prune then reaches
 * exactly. m's optimizer moments carry over from round to round and every
 * weak model starts from them (train.h's fr_optim_state; the authors' code
 * hands over the optimizer state dict). The authors' weak models differ only
 * by seed: set vary = FR_ISP_VARY_SEED.
 */
#ifndef FRUGAL_LOTTERY_H
#define FRUGAL_LOTTERY_H

#include <stdint.h>

#include "frugal/data.h"
#include "frugal/models.h"
#include "frugal/params.h"
#include "frugal/train.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FR_LOTTERY_MAX_ROUNDS 256

/* Round sparsities for reaching target from 0 by pruning a fraction rate of
 * the remaining weights per round (s_r = 1 - (1 - s_{r-1}) (1 - rate)),
 * passing exactly through every stop in stops[0..nstops) (ascending, in
 * (0, target]; may be NULL): a round that would pass a stop, or leave less
 * than half a round's step before it, goes to the stop instead. The last
 * entry is exactly target. Writes at most cap entries to s and returns the
 * count, or FR_EINVAL (target or rate outside (0, 1), bad stops, more than
 * cap rounds). */
int fr_lottery_schedule(double target, double rate, const double *stops, int nstops, double *s,
                        int cap);

/* Called after each round with m as it leaves the round (IMP: rewound;
 * ISP: pruned, not yet fine-tuned), the round's sparsity, and the training
 * steps spent so far. A nonzero return stops the method and is returned. */
typedef int (*fr_lottery_round_fn)(void *user, struct fr_model *m, int round, double sparsity,
                                   int64_t steps);

struct fr_lottery_result {
    int rounds;
    int64_t steps;       /* optimizer steps of every training run, weak models included */
    int64_t weak_steps;  /* ISP: of which in weak models */
    double seconds;      /* wall time */
    double union_keep;   /* ISP: scoped fraction kept by the last round's union, before adjusting */
    int64_t weak_pruned; /* ISP: scoped weights pruned because every weak mask pruned them */
    int64_t magnitude_pruned; /* ISP: ... pruned by m's magnitudes (trim, close, final one-shot) */
};

struct fr_imp_config {
    double sparsity;     /* target S in (0, 1) */
    double rate;         /* fraction of the remaining weights pruned per round, default 0.2 */
    const double *stops; /* extra round sparsities (fr_lottery_schedule), may be NULL */
    int nstops;
    struct fr_fit_classifier_config
        fit;             /* each round's training (fr_fit_classifier_config_defaults) */
    const float *rewind; /* a value slab of m's layout to rewind to; NULL: m at entry */
    fr_lottery_round_fn on_round;
    void *user;
};

void fr_imp_config_defaults(struct fr_imp_config *c);
/* IMP with rewinding on the scoped tensors (sel) of m, training on sub (NULL:
 * all) of ds. On success m holds the rewound weights with exactly
 * llround(S * n_scoped) scoped weights masked. FR_EINVAL on a bad config or
 * scope, fr_fit_classifier's and the hook's errors; m is then partly pruned. */
int fr_imp(struct fr_model *m, const int *sel, const struct fr_dataset *ds,
           const struct fr_subset *sub, const struct fr_imp_config *c,
           struct fr_lottery_result *res);

enum {
    FR_ISP_VARY_LR = 1 << 0,  /* weak model n: lr * {1, 0.5, 2, 0.7, 1.4}[n % 5] */
    FR_ISP_VARY_WD = 1 << 1,  /* weak model n: wd * {1, 0, 10, 3}[n % 4] */
    FR_ISP_VARY_SEED = 1 << 2 /* weak model n: own batch order (the subset is always its own) */
};

enum fr_isp_merge {
    FR_ISP_MERGE_TRIM = 0, /* union of the weak keep-masks trimmed by m's magnitudes to exactly
                              the round's sparsity (default) */
    FR_ISP_MERGE_UNION = 1 /* the authors' code: untrimmed union, m's moments handed on */
};

struct fr_isp_config {
    double sparsity;     /* target S in (0, 1) */
    double rate;         /* per-round compression c, default 0.15 */
    const double *stops; /* extra round sparsities (fr_lottery_schedule), may be NULL */
    int nstops;
    int n_weak;          /* N weak masks per round, default 4 (0: gradual magnitude) */
    int64_t lookahead;   /* C steps per weak model, default 40 */
    double subset_frac;  /* of the training samples per weak model, default 0.1 */
    int64_t round_steps; /* m's own training per round, default 40 (0: none) */
    struct fr_fit_classifier_config fit; /* base protocol of m's and the weak models' training */
    unsigned vary;                       /* FR_ISP_VARY_* bits, default all */
    int merge;                           /* enum fr_isp_merge, default FR_ISP_MERGE_TRIM */
    double close;  /* FR_ISP_MERGE_UNION: one-shot to the next stop within this, default 0.05 */
    int soup;      /* instant model soup: m := mean of the weak models each round */
    int workers;   /* weak-model processes: 0 one per CPU (default), 1 in-process */
    uint64_t seed; /* slices, subsets and weak seeds, default 1 */
    fr_lottery_round_fn on_round;
    void *user;
};

void fr_isp_config_defaults(struct fr_isp_config *c);
/* Instant Soup Pruning of the scoped tensors (sel) of m on sub (NULL: all)
 * of ds (see above). On success m holds its trained (not rewound) weights
 * with exactly llround(S * n_scoped) scoped weights masked. Deterministic
 * for a given config whatever c->workers is. FR_EINVAL on a bad config
 * (subset smaller than a batch, ...) or scope; errors of fr_fit_classifier, the worker
 * processes (soup.h) and the hook. */
int fr_isp(struct fr_model *m, const int *sel, const struct fr_dataset *ds,
           const struct fr_subset *sub, const struct fr_isp_config *c,
           struct fr_lottery_result *res);

/* ISP's mask rule, exposed for tests: the scoped keep-mask of p becomes the
 * union of the k keep-masks masks[i * p->n ...] (1 keep, 0 prune; only the
 * scoped entries are read), intersected with p's current mask, then the
 * lowest-|p->data| survivors are pruned until exactly llround(sparsity *
 * n_scoped) scoped weights are masked (prune.h's tie rule); pruned weights
 * are zeroed. k = 0 is plain magnitude pruning. *union_keep (may be NULL)
 * gets the scoped fraction the union kept. FR_EINVAL if the union already
 * prunes more than the target or sparsity is outside [0, 1); FR_ENOMEM. */
int fr_isp_merge(struct fr_params *p, const int *sel, const float *masks, int k, double sparsity,
                 double *union_keep);

/* The untrimmed rule: the scoped keep-mask of p becomes its current mask
 * intersected with the union of the k >= 1 keep-masks masks[i * p->n ...]
 * (a weight dies only if every mask prunes it); pruned weights are zeroed.
 * *pruned (may be NULL) gets the count of scoped weights it newly pruned.
 * FR_EINVAL on k < 1 or an empty scope; FR_ENOMEM. */
int fr_isp_union(struct fr_params *p, const int *sel, const float *masks, int k, int64_t *pruned);

/* Similarity of two masks over the scoped entries (slabs of p->n, 1 keep,
 * 0 pruned). Pruned sets A, B; keep-masks as 0/1 vectors a, b. */
struct fr_mask_similarity {
    int64_t n; /* scoped entries */
    int64_t pruned_a, pruned_b, pruned_both;
    double iou;         /* |A & B| / |A | B| (1 when both are empty) */
    double overlap;     /* |A & B| / min(|A|, |B|) (1 when either is empty) */
    double keep_cosine; /* a.b / (|a| |b|) (1 when both are all-pruned) */
    double agreement;   /* fraction of scoped entries where a and b agree */
};

/* Fills s for masks a and b on the scope sel of p. FR_EINVAL on an empty
 * scope. */
int fr_mask_similarity(const struct fr_params *p, const int *sel, const float *a, const float *b,
                       struct fr_mask_similarity *s);

#ifdef __cplusplus
}
#endif
#endif

/* soup.h: model soups (weight averages of models fine-tuned from one start)
 * and the training of independent "ingredients" in parallel worker
 * processes, which weak masks (lottery.h: ISP) and soups share.
 *
 *     struct fr_ingredient ing[4];
 *     for (int i = 0; i < 4; i++) {
 *         fr_fit_classifier_config_defaults(&ing[i].fit);
 *         ing[i].fit.steps = 200, ing[i].fit.lr = lrs[i], ing[i].fit.seed = 1 + i;
 *         ing[i].sub = NULL;                              // all of ds
 *     }
 *     float *w = malloc(4 * m->params.n * sizeof *w);   // ingredient slabs
 *     fr_ingredients_train(m, &ds, 4, ing, 0, w, NULL);  // one process per core
 *     fr_soup_uniform(w, 4, m->params.n, m->params.data); // or fr_soup_greedy
 *
 * Ingredients start from m's weights and mask, so a soup of sparse
 * ingredients keeps the mask. Ingredient i's result depends only on m,
 * ds and ing[i]: each is trained single-threaded, in this process or in a
 * forked worker (results come back through a MAP_SHARED anonymous mapping),
 * so any worker count gives the same bits. This is the "one rank per
 * ingredient" shape an MPI build will reuse. Not here: how ingredients'
 * protocols are chosen (the caller's).
 */
#ifndef FRUGAL_SOUP_H
#define FRUGAL_SOUP_H

#include <stdint.h>

#include "frugal/data.h"
#include "frugal/models.h"
#include "frugal/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One ingredient: its training protocol and its training samples. */
struct fr_ingredient {
    struct fr_fit_classifier_config
        fit;                     /* steps/epochs, lr, wd, seed, ... (hooks run in the worker) */
    const struct fr_subset *sub; /* samples of ds (NULL: all); must outlive the call */
};

/* Trains k ingredients, each a copy of m (weights, buffers and mask) trained
 * by fr_fit_classifier(ing[i].fit) on ing[i].sub of ds, and writes ingredient i's whole
 * value slab to out[i * m->params.n ...]. m is left as it was. workers:
 * 0 = one per online CPU, 1 = in this process, w > 1 = min(w, k) forked
 * processes taking ingredients i = worker, worker + w, ...; the pool is
 * set to one thread while ingredients train and restored afterwards, so
 * results are bit-identical for every worker count. res (may be NULL)
 * receives k fit results. Under mpirun (dist.h, more than one rank) and
 * workers != 1, the ranks replace the workers: rank r trains ingredients
 * r, r + R, ... and every rank receives all k slabs and results (the same
 * bits as one process); call it on every rank. Errors: FR_EINVAL (k < 1, workers < 0), an
 * ingredient's fr_fit_classifier error (the lowest failing index's, message kept),
 * FR_ENOMEM / FR_EIO when memory or a worker process cannot be had. */
int fr_ingredients_train(struct fr_model *m, const struct fr_dataset *ds, int k,
                         const struct fr_ingredient *ing, int workers, float *out,
                         struct fr_fit_result *res);

/* out[j] = mean over i < k of slabs[i * n + j], summed in double in
 * ingredient order (out may alias slabs' first slab). FR_EINVAL if k < 1. */
int fr_soup_uniform(const float *slabs, int k, int64_t n, float *out);

struct fr_greedy_soup {
    int k;       /* ingredients */
    int *order;  /* k indices, by held-out accuracy, best first (ties: lower index):
                    order[0] is the best single ingredient */
    int *used;   /* k flags: ingredient i is in the soup */
    double *acc; /* k held-out accuracies of the ingredients alone, [0, 1]: exactly
                    fr_evaluate's for slab i (masked) on held */
    int n_used;
    double soup_acc; /* held-out accuracy of the final soup */
};

/* Greedy soup (Wortsman et al. 2022): evaluates each ingredient slab on the
 * held-out samples `held` of ds, then, best first, adds an ingredient to the
 * soup (a uniform average of the chosen ones) when the soup's held-out
 * accuracy does not drop. m is the evaluation model (slab layout of the
 * ingredients); on return m->params.data holds the soup, masked by
 * m->params.mask when m has one. So the soup is never worse on `held` than
 * its best ingredient. g owns malloc'd arrays (fr_greedy_soup_free).
 * Errors: FR_EINVAL (k < 1), fr_evaluate's, FR_ENOMEM. */
int fr_soup_greedy(struct fr_model *m, const float *slabs, int k, const struct fr_dataset *ds,
                   const struct fr_subset *held, struct fr_greedy_soup *g);
void fr_greedy_soup_free(struct fr_greedy_soup *g);

#ifdef __cplusplus
}
#endif
#endif

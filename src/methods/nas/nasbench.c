/* nasbench.c: the zero-shot NAS ground truth (methods/nas.h): a seeded
 * sample of NAS-Bench-201 cells, each trained with one fixed short recipe,
 * appended row by row to a CSV table that several processes may share. */
#include "frugal/methods/nas.h"

#include "frugal/clock.h"
#include "frugal/data.h"
#include "frugal/models.h"
#include "frugal/rng.h"
#include "frugal/status.h"
#include "frugal/threads.h"
#include "frugal/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fr_nasbench_recipe_defaults(struct fr_nasbench_recipe *r) {
    *r = (struct fr_nasbench_recipe){.c = 8,
                                     .n = 1,
                                     .train = 20000,
                                     .val = 5000,
                                     .test = 0,
                                     .epochs = 1,
                                     .batch = 128,
                                     .lr = 2e-3,
                                     .wd = 1e-4,
                                     .threads = 1};
}

int fr_nasbench_recipe_format(const struct fr_nasbench_recipe *r, char *buf, size_t cap) {
    char test[48];
    if (r->test)
        snprintf(test, sizeof test, "the first %lld", (long long)r->test);
    else
        snprintf(test, sizeof test, "all 10000");
    int n = snprintf(buf, cap,
                     "nb201 C=%d N=%d; train on training images 0..%lld, validate on %lld..%lld, "
                     "test on %s test images; %d epoch(s) of batch %d, AdamW lr %g wd %g, cosine "
                     "to 0, no augmentation; %d thread(s)",
                     r->c, r->n, (long long)r->train - 1, (long long)r->train,
                     (long long)(r->train + r->val - 1), test, r->epochs, r->batch, r->lr, r->wd,
                     r->threads);
    if (n < 0 || (size_t)n >= cap) return fr_error(FR_EINVAL, "nas-bench: recipe text too long");
    return 0;
}

int fr_nasbench_sample(uint64_t seed, int64_t *cells, int n) {
    enum { NCLASS = 6466 };
    if (n < 0 || n > NCLASS)
        return fr_error(FR_EINVAL, "nas-bench: a sample of %d cells (1..%d unique cells)", n,
                        NCLASS);
    int64_t *reps = malloc(sizeof *reps * NCLASS);
    if (!reps) return fr_error(FR_ENOMEM, "nas-bench: out of memory");
    int got = fr_nb201_unique(reps, NCLASS);
    if (got != NCLASS) {
        free(reps);
        return got < 0 ? got : fr_error(FR_EINVAL, "nas-bench: %d classes", got);
    }
    struct fr_rng rng;
    fr_rng_seed(&rng, seed);
    for (int i = NCLASS - 1; i > 0; i--) { /* Fisher-Yates over the whole list */
        int j = (int)fr_rng_below(&rng, (uint64_t)i + 1);
        int64_t t = reps[i];
        reps[i] = reps[j], reps[j] = t;
    }
    /* the positions the shuffle settles first, in that order */
    for (int i = 0; i < n; i++)
        cells[i] = reps[NCLASS - 1 - i];
    free(reps);
    return 0;
}

int fr_nasbench_train(const struct fr_nasbench_recipe *r, const struct fr_dataset *train,
                      const struct fr_dataset *test, int64_t cell, uint64_t seed,
                      struct fr_nasbench_row *row) {
    if (cell < 0 || cell >= FR_NB201_CELLS)
        return fr_error(FR_EINVAL, "nas-bench: cell %lld is not 0..15624", (long long)cell);
    if (r->train < r->batch || r->val < 1 || train->n < r->train + r->val)
        return fr_error(FR_EINVAL,
                        "nas-bench: %lld + %lld training images wanted, %lld loaded (and at "
                        "least one batch of %d)",
                        (long long)r->train, (long long)r->val, (long long)train->n, r->batch);
    if (r->threads > 0) fr_threads_set(r->threads);
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    mc.n_classes = train->nclass, mc.in_channels = train->C;
    mc.in_h = train->H, mc.in_w = train->W;
    fr_nb201_ops(cell, mc.nb201.ops);
    mc.nb201.c = r->c, mc.nb201.n = r->n;
    struct fr_model *m = fr_model_new("nb201", &mc, seed);
    if (!m) return FR_EINVAL;
    struct fr_subset tr = {malloc(sizeof(int64_t) * (size_t)r->train), r->train};
    struct fr_subset va = {malloc(sizeof(int64_t) * (size_t)r->val), r->val};
    struct fr_subset te = {NULL, r->test && r->test < test->n ? r->test : test->n};
    te.idx = malloc(sizeof(int64_t) * (size_t)te.n);
    int rc = 0;
    if (!tr.idx || !va.idx || !te.idx) {
        rc = fr_error(FR_ENOMEM, "nas-bench: out of memory");
        goto done;
    }
    for (int64_t i = 0; i < tr.n; i++)
        tr.idx[i] = i;
    for (int64_t i = 0; i < va.n; i++)
        va.idx[i] = r->train + i;
    for (int64_t i = 0; i < te.n; i++)
        te.idx[i] = i;
    struct fr_fit_classifier_config fc;
    fr_fit_classifier_config_defaults(&fc);
    fc.epochs = r->epochs, fc.batch = r->batch, fc.lr = r->lr, fc.wd = r->wd, fc.seed = seed;
    struct fr_fit_result fres;
    double t0 = fr_seconds();
    if ((rc = fr_fit_classifier(m, train, &tr, NULL, &fc, &fres))) goto done;
    row->train_seconds = fr_seconds() - t0;
    double va_acc, te_acc;
    if ((rc = fr_evaluate(m, train, &va, NULL, 0, &va_acc, NULL))) goto done;
    if ((rc = fr_evaluate(m, test, &te, NULL, 0, &te_acc, NULL))) goto done;
    int64_t dense = 0, sparse = 0;
    if ((rc = fr_model_flops(m, &dense, &sparse))) goto done;
    row->cell = cell, row->seed = seed;
    row->val_acc = 100 * va_acc, row->test_acc = 100 * te_acc;
    row->params = fr_params_count_trainable(&m->params);
    row->flops = dense;
done:
    free(tr.idx), free(va.idx), free(te.idx);
    fr_model_free(m);
    return rc;
}

/* fashion_cnn.c: `frugal repro fashion-cnn`, the core baseline every method
 * builds on: the small CNN trained on Fashion-MNIST with the trainer's
 * default recipe. The quick plan trains one epoch on a 10k-image subset,
 * the full plan every image for the default epoch count, the tiny plan 600
 * images for one epoch (seconds; for the test that runs every experiment).
 */
#include "frugal/experiments/experiment.h"
#include "frugal/experiments/train_run.h"

#include "frugal/status.h"

#include <stdio.h>

struct fashion_plan {
    int epochs;          /* 0: the recipe's default */
    int64_t limit_train; /* 0: every image */
    int64_t limit_test;  /* 0: the whole test split */
    const char *title;
};

static const struct fashion_plan TINY = {1, 600, 500,
                                         "Fashion-MNIST small CNN baseline (tiny: 600 images)"};
static const struct fashion_plan QUICK = {
    1, 10000, 0, "Fashion-MNIST small CNN baseline (quick: 1 epoch, 10k images)"};
static const struct fashion_plan FULL = {0, 0, 0, "Fashion-MNIST small CNN baseline"};

static int run(const struct fr_experiment *e, const void *plan, const struct fr_exp_opts *o,
               struct fr_exp_outcome *out) {
    const struct fashion_plan *P = plan;
    struct fr_train_config cfg;
    char dir[4096], ckpt[4200];
    int rc = fr_exp_dir(o, e->name, dir, sizeof dir);
    if (rc) return rc;
    fr_train_config_defaults(&cfg);
    cfg.model = "cnn";
    cfg.data = "fashion-mnist";
    cfg.data_dir = o->data_dir;
    cfg.seed = o->seed;
    cfg.threads = o->threads;
    if (P->epochs) cfg.epochs = P->epochs;
    cfg.limit_train = P->limit_train;
    cfg.limit_test = P->limit_test;
    snprintf(ckpt, sizeof ckpt, "%s/model.safetensors", dir);
    cfg.out = ckpt;
    struct fr_train_run_info info = {
        .name = e->name,
        .title = P->title,
        .paper = "baseline",
        .claim = "The core baseline the method reproductions build on: frugal's small CNN "
                 "trained from scratch on Fashion-MNIST with the default recipe (SGD with "
                 "momentum). Its epoch time and accuracy are set beside PyTorch's by "
                 "bench/bench_train_cnn.sh.",
        .command = o->command,
        .results_dir = dir,
        .log = o->log,
    };
    struct fr_train_result res;
    if ((rc = fr_train_run_recorded(&cfg, &info, &res, out->results, sizeof out->results)))
        return rc;
    fr_train_run_summary(&cfg, &res, out->results, out->summary, sizeof out->summary);
    fr_train_result_free(&res);
    return 0;
}

const struct fr_experiment fr_exp_fashion_cnn = {
    "fashion-cnn",
    "baseline",
    "small CNN on Fashion-MNIST: accuracy, curves, epoch time",
    {&TINY, &QUICK, &FULL},
    run};

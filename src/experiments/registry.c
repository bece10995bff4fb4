/* registry.c: every reproduction `frugal repro` knows, from the one list
 * in registry.def (experiments/experiment.h has the contract). */
#include "frugal/experiments/experiment.h"

#define FR_EXPERIMENT(x) extern const struct fr_experiment fr_exp_##x;
#include "registry.def"
#undef FR_EXPERIMENT

static const struct fr_experiment *const REGISTRY[] = {
#define FR_EXPERIMENT(x) &fr_exp_##x,
#include "registry.def"
#undef FR_EXPERIMENT
};

int fr_experiment_count(void) {
    return (int)(sizeof REGISTRY / sizeof REGISTRY[0]);
}

const struct fr_experiment *fr_experiment_at(int i) {
    return i >= 0 && i < fr_experiment_count() ? REGISTRY[i] : NULL;
}

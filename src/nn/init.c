/* init.c: parameter initialisers with PyTorch's default distributions.
 * They draw from an explicit rng, so a seed fixes a model's weights; they do
 * not reproduce PyTorch's random stream. */
#include "frugal/nn.h"

#include <math.h>

void fr_init_uniform_fan_in(struct fr_tensor *t, int64_t fan_in, struct fr_rng *rng) {
    float bound = fan_in > 0 ? (float)(1.0 / sqrt((double)fan_in)) : 0.0f;
    fr_rng_fill_uniform(rng, t->data, fr_nelem(t), -bound, bound);
}

void fr_init_kaiming_normal(struct fr_tensor *t, int64_t fan_in, struct fr_rng *rng) {
    float std = fan_in > 0 ? (float)sqrt(2.0 / (double)fan_in) : 0.0f;
    fr_rng_fill_normal(rng, t->data, fr_nelem(t), 0.0f, std);
}

void fr_init_const(struct fr_tensor *t, float v) {
    float *x = t->data;
    for (int64_t i = 0, n = fr_nelem(t); i < n; i++)
        x[i] = v;
}

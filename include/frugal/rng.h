/* rng.h: the only source of randomness in frugal: an explicit, seeded
 * xoshiro256** generator whose whole state is 32 bytes, so checkpoints can
 * save it and a resumed run draws the same numbers. */
#ifndef FRUGAL_RNG_H
#define FRUGAL_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct fr_rng {
    uint64_t s[4];
};

void fr_rng_seed(struct fr_rng *r, uint64_t seed);
uint64_t fr_rng_u64(struct fr_rng *r);
/* Uniform in [0, 1). */
double fr_rng_uniform(struct fr_rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t fr_rng_below(struct fr_rng *r, uint64_t n);
/* Standard normal (Box-Muller, no cached second value so state is all). */
double fr_rng_normal(struct fr_rng *r);
int fr_rng_bernoulli(struct fr_rng *r, double p);
/* Fills perm[0..n) with a uniformly random permutation of 0..n-1. */
void fr_rng_permutation(struct fr_rng *r, int64_t *perm, int64_t n);
/* Fills a float array. */
void fr_rng_fill_normal(struct fr_rng *r, float *x, int64_t n, float mean, float std);
void fr_rng_fill_uniform(struct fr_rng *r, float *x, int64_t n, float lo, float hi);
/* Derives an independent stream (e.g. per worker) from r without advancing
 * it more than once. */
void fr_rng_split(struct fr_rng *r, struct fr_rng *child);

#ifdef __cplusplus
}
#endif
#endif

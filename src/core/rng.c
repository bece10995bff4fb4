/* rng.c: xoshiro256** seeded through splitmix64 (Vigna's recommendation). */
#include "frugal/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void fr_rng_seed(struct fr_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

uint64_t fr_rng_u64(struct fr_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double fr_rng_uniform(struct fr_rng *r) {
    return (double)(fr_rng_u64(r) >> 11) * 0x1.0p-53;
}

uint64_t fr_rng_below(struct fr_rng *r, uint64_t n) {
    uint64_t lim = -n % n; /* 2^64 mod n */
    for (;;) {
        uint64_t x = fr_rng_u64(r);
        if (x >= lim) return x % n;
    }
}

double fr_rng_normal(struct fr_rng *r) {
    double u1 = fr_rng_uniform(r), u2 = fr_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

int fr_rng_bernoulli(struct fr_rng *r, double p) {
    return fr_rng_uniform(r) < p;
}

void fr_rng_permutation(struct fr_rng *r, int64_t *perm, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)fr_rng_below(r, (uint64_t)i + 1);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

void fr_rng_fill_normal(struct fr_rng *r, float *x, int64_t n, float mean, float std) {
    for (int64_t i = 0; i < n; i++)
        x[i] = mean + std * (float)fr_rng_normal(r);
}

void fr_rng_fill_uniform(struct fr_rng *r, float *x, int64_t n, float lo, float hi) {
    for (int64_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)fr_rng_uniform(r);
}

void fr_rng_split(struct fr_rng *r, struct fr_rng *child) {
    fr_rng_seed(child, fr_rng_u64(r));
}

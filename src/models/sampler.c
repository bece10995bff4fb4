/* sampler.c: next-token choice from logits: greedy, temperature, top-k,
 * top-p (nucleus), from an explicit seeded RNG. */
#include "frugal/status.h"
#include "frugal/transformer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int fr_sampler_init(struct fr_sampler *s, int vocab, float temperature, int top_k, float top_p,
                    uint64_t seed) {
    memset(s, 0, sizeof *s);
    if (vocab < 1) return fr_error(FR_EINVAL, "sampler: vocabulary size %d", vocab);
    if (!(temperature >= 0) || temperature > 100)
        return fr_error(FR_EINVAL, "temperature %g not in [0, 100]", temperature);
    if (top_k < 0) return fr_error(FR_EINVAL, "top-k %d is negative", top_k);
    if (!(top_p > 0 && top_p <= 1)) return fr_error(FR_EINVAL, "top-p %g not in (0, 1]", top_p);
    s->temperature = temperature;
    s->top_k = top_k;
    s->top_p = top_p;
    s->vocab = vocab;
    fr_rng_seed(&s->rng, seed);
    s->idx = malloc((size_t)vocab * sizeof *s->idx);
    s->prob = malloc((size_t)vocab * sizeof *s->prob);
    if (!s->idx || !s->prob) {
        fr_sampler_free(s);
        return fr_error(FR_ENOMEM, "sampler: out of memory");
    }
    return 0;
}

void fr_sampler_free(struct fr_sampler *s) {
    if (!s) return;
    free(s->idx);
    free(s->prob);
    s->idx = NULL;
    s->prob = NULL;
}

static const float *g_sort_p;
static int by_prob_desc(const void *a, const void *b) {
    float x = g_sort_p[*(const int64_t *)a], y = g_sort_p[*(const int64_t *)b];
    if (x != y) return x > y ? -1 : 1;
    int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
    return (i > j) - (i < j); /* ties: lower id first, deterministic */
}

int fr_sample(struct fr_sampler *s, float *logits) {
    int V = s->vocab;
    if (s->temperature == 0) {
        int best = 0;
        for (int i = 1; i < V; i++)
            if (logits[i] > logits[best]) best = i;
        return best;
    }
    float mx = -INFINITY;
    for (int i = 0; i < V; i++)
        mx = logits[i] > mx ? logits[i] : mx;
    double z = 0;
    for (int i = 0; i < V; i++) {
        s->prob[i] = expf((logits[i] - mx) / s->temperature);
        z += s->prob[i];
    }
    for (int i = 0; i < V; i++)
        s->prob[i] = (float)(s->prob[i] / z);
    int n = V;
    if (s->top_k > 0 || s->top_p < 1) {
        for (int i = 0; i < V; i++)
            s->idx[i] = i;
        g_sort_p = s->prob;
        qsort(s->idx, (size_t)V, sizeof *s->idx, by_prob_desc);
        if (s->top_k > 0 && s->top_k < n) n = s->top_k;
        if (s->top_p < 1) {
            double c = 0;
            for (int i = 0; i < n; i++) {
                c += s->prob[s->idx[i]];
                if (c >= s->top_p) {
                    n = i + 1;
                    break;
                }
            }
        }
        double tot = 0;
        for (int i = 0; i < n; i++)
            tot += s->prob[s->idx[i]];
        double u = fr_rng_uniform(&s->rng) * tot, c = 0;
        for (int i = 0; i < n; i++) {
            c += s->prob[s->idx[i]];
            if (u < c) return (int)s->idx[i];
        }
        return (int)s->idx[n - 1];
    }
    double u = fr_rng_uniform(&s->rng), c = 0;
    for (int i = 0; i < V; i++) {
        c += s->prob[i];
        if (u < c) return i;
    }
    return V - 1;
}

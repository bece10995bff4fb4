/* kv.h: the KV cache behind transformer generation, with eviction policies
 * plugged in behind one interface (nn layer: the cache, the interface and
 * the `full` policy; the eviction policies and the name registry are a
 * method, frugal/methods/kv.h).
 *
 * The cache is split into heads: one struct fr_kv_head per (sequence, layer,
 * KV head). A head owns `cap` physical slots; slot i holds a key row, a value
 * row (head_size floats each; keys already rotated at their original
 * position), the original position pos[i], and an accumulated attention
 * score acc[i] (the attention mass the slot has received so far). Attention
 * runs over slots 0..n-1 in slot order; eviction overwrites a slot in place.
 *
 * Each step the engine
 *   1. computes attention of the new queries over the cached slots and over
 *      the new tokens themselves (causal within the chunk),
 *   2. calls policy->observe with the weights the cached slots received
 *      (summed over the query heads that share the KV head, and over the
 *      chunk's queries),
 *   3. calls policy->admit with the chunk's keys, values, positions and the
 *      mass each new token received, and the policy writes the tokens it
 *      keeps into slots, evicting so that n <= budget afterwards.
 * A prefill is one chunk of the whole prompt; a decode step is a chunk of 1.
 * The cache never holds more than its capacity: there is no masked
 * simulation, what is evicted is gone.
 */
#ifndef FRUGAL_KV_H
#define FRUGAL_KV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct fr_kv_head {
    float *k, *v;   /* cap x head_size */
    int32_t *pos;   /* cap */
    float *acc;     /* cap: accumulated attention received */
    int64_t n, cap; /* slots in use, slots allocated */
    int64_t seen;   /* tokens ever admitted (the sequence length so far) */
};

struct fr_kv_policy;

/* What a policy is told at creation. Budgets below 1 are fractions of the
 * prompt length (e.g. heavy 0.1 + recent 0.1 = 20%), budgets >= 1 are token
 * counts. */
struct fr_kv_config {
    const struct fr_kv_policy *policy; /* NULL: &fr_kv_policy_full; by name: fr_kv_policy_find */
    double heavy, recent;
    int sink;   /* sink tokens kept forever (StreamingLLM) */
    void *user; /* handed to the policy's callbacks (state kept outside the heads) */
};

struct fr_kv_policy {
    const char *name;
    /* Slots to allocate per head for a sequence of at most max_seq tokens
     * whose prompt has prompt_len tokens. */
    int64_t (*capacity)(const struct fr_kv_config *cfg, int64_t max_seq, int64_t prompt_len);
    /* Adds the weights w[0..n) the head's slots received this step; may be NULL. */
    void (*observe)(struct fr_kv_head *h, const struct fr_kv_config *cfg, const float *w);
    /* Admits T new tokens (k, v: T x hs rows; pos; mass[t] received within
     * the chunk). Returns 0, or FR_ENOMEM-style error when they cannot fit. */
    int (*admit)(struct fr_kv_head *h, const struct fr_kv_config *cfg, int64_t prompt_len,
                 const float *k, const float *v, const int32_t *pos, const float *mass, int64_t T,
                 int hs);
};

/* Keeps every token (the cache is sized to the whole sequence); a chunk
 * that does not fit is an error. */
extern const struct fr_kv_policy fr_kv_policy_full;

/* A whole cache: batch x layers x kv_heads heads with one slab of memory. */
struct fr_kv_cache {
    const struct fr_kv_policy *policy;
    struct fr_kv_config cfg;
    int batch, n_layers, n_kv_heads, head_size;
    int64_t cap, prompt_len;
    struct fr_kv_head *heads; /* [batch][layer][kv_head] */
    void *mem;
    size_t bytes; /* bytes of K, V, pos and acc held */
};

/* Creates the cache; prompt_len feeds fractional budgets. */
int fr_kv_cache_init(struct fr_kv_cache *c, const struct fr_kv_config *cfg, int batch, int n_layers,
                     int n_kv_heads, int head_size, int64_t max_seq, int64_t prompt_len);
void fr_kv_cache_free(struct fr_kv_cache *c);
/* Empties every head of sequence b (or all sequences if b < 0). */
void fr_kv_cache_clear(struct fr_kv_cache *c, int b);
static inline struct fr_kv_head *fr_kv_head_at(struct fr_kv_cache *c, int b, int layer, int h) {
    return &c->heads[((size_t)b * c->n_layers + layer) * c->n_kv_heads + h];
}
/* Slots in use, summed over all heads (for memory reports). */
int64_t fr_kv_cache_slots_used(const struct fr_kv_cache *c);

#ifdef __cplusplus
}
#endif
#endif

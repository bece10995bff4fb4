/* kv_cache.c: the KV cache container (one slab for all heads) and the
 * `full` policy (keep everything). Eviction policies (H2O and peers) and
 * the registry that finds a policy by name are a method (src/methods/kv):
 * this layer knows only the interface. */
#include "frugal/kv.h"
#include "frugal/status.h"

#include <stdlib.h>
#include <string.h>

static int64_t full_capacity(const struct fr_kv_config *cfg, int64_t max_seq, int64_t prompt_len) {
    (void)cfg;
    (void)prompt_len;
    return max_seq;
}

static int full_admit(struct fr_kv_head *h, const struct fr_kv_config *cfg, int64_t prompt_len,
                      const float *k, const float *v, const int32_t *pos, const float *mass,
                      int64_t T, int hs) {
    (void)cfg;
    (void)prompt_len;
    if (h->n + T > h->cap)
        return fr_error(FR_EINVAL, "kv cache full: %lld tokens do not fit in %lld slots",
                        (long long)(h->n + T), (long long)h->cap);
    memcpy(h->k + h->n * hs, k, (size_t)T * hs * sizeof(float));
    memcpy(h->v + h->n * hs, v, (size_t)T * hs * sizeof(float));
    for (int64_t t = 0; t < T; t++) {
        h->pos[h->n + t] = pos[t];
        h->acc[h->n + t] = mass ? mass[t] : 0;
    }
    h->n += T;
    h->seen += T;
    return 0;
}

static void full_observe(struct fr_kv_head *h, const struct fr_kv_config *cfg, const float *w) {
    (void)cfg;
    for (int64_t i = 0; i < h->n; i++)
        h->acc[i] += w[i];
}

const struct fr_kv_policy fr_kv_policy_full = {"full", full_capacity, full_observe, full_admit};

int fr_kv_cache_init(struct fr_kv_cache *c, const struct fr_kv_config *cfg, int batch, int n_layers,
                     int n_kv_heads, int head_size, int64_t max_seq, int64_t prompt_len) {
    memset(c, 0, sizeof *c);
    if (cfg) c->cfg = *cfg;
    c->policy = c->cfg.policy ? c->cfg.policy : &fr_kv_policy_full;
    if (!c->policy->capacity || !c->policy->admit)
        return fr_error(FR_EINVAL, "kv policy '%s' lacks capacity/admit", c->policy->name);
    if (batch < 1 || n_layers < 1 || n_kv_heads < 1 || head_size < 1 || max_seq < 1)
        return fr_error(FR_EINVAL, "kv cache: bad geometry");
    int64_t cap = c->policy->capacity(&c->cfg, max_seq, prompt_len);
    if (cap < 1 || cap > max_seq) cap = cap < 1 ? 1 : max_seq;
    c->batch = batch;
    c->n_layers = n_layers;
    c->n_kv_heads = n_kv_heads;
    c->head_size = head_size;
    c->cap = cap;
    c->prompt_len = prompt_len;
    size_t nh = (size_t)batch * n_layers * n_kv_heads;
    size_t per =
        (size_t)cap * (2 * (size_t)head_size * sizeof(float) + sizeof(int32_t) + sizeof(float));
    c->heads = calloc(nh, sizeof *c->heads);
    c->mem = malloc(nh * per);
    if (!c->heads || !c->mem) {
        fr_kv_cache_free(c);
        return fr_error(FR_ENOMEM, "kv cache: out of memory for %zu bytes", nh * per);
    }
    c->bytes = nh * per;
    char *p = c->mem;
    for (size_t i = 0; i < nh; i++) {
        struct fr_kv_head *h = &c->heads[i];
        h->cap = cap;
        h->k = (float *)p;
        p += (size_t)cap * head_size * sizeof(float);
        h->v = (float *)p;
        p += (size_t)cap * head_size * sizeof(float);
        h->acc = (float *)p;
        p += (size_t)cap * sizeof(float);
        h->pos = (int32_t *)p;
        p += (size_t)cap * sizeof(int32_t);
    }
    return 0;
}

void fr_kv_cache_free(struct fr_kv_cache *c) {
    if (!c) return;
    free(c->heads);
    free(c->mem);
    c->heads = NULL;
    c->mem = NULL;
}

void fr_kv_cache_clear(struct fr_kv_cache *c, int b) {
    for (int s = 0; s < c->batch; s++) {
        if (b >= 0 && s != b) continue;
        for (int l = 0; l < c->n_layers; l++)
            for (int h = 0; h < c->n_kv_heads; h++) {
                struct fr_kv_head *hd = fr_kv_head_at(c, s, l, h);
                hd->n = 0;
                hd->seen = 0;
            }
    }
}

int64_t fr_kv_cache_slots_used(const struct fr_kv_cache *c) {
    int64_t n = 0;
    for (size_t i = 0, nh = (size_t)c->batch * c->n_layers * c->n_kv_heads; i < nh; i++)
        n += c->heads[i].n;
    return n;
}

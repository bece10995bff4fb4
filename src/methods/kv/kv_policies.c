/* kv_policies.c: KV-cache eviction policies behind struct fr_kv_policy
 * (kv.h): local, h2o, heavy, sink and tova. The registry beside this
 * file (kv_registry.c) finds them by name.
 *
 * Budgets. heavy and recent are fractions of the prompt length (< 1) or
 * token counts (>= 1); a head holds budget = heavy + recent slots, never
 * more (the allocation is that size: evicted keys and values are gone, not
 * masked). Every policy spends the same total budget its own way, so runs
 * at equal budget compare like for like:
 *   h2o    `recent` newest tokens + the rest by largest accumulated
 *          attention (Zhang et al., arXiv 2306.14048);
 *   heavy  the whole budget by accumulated attention (ablation);
 *   local  the whole budget as a recent window;
 *   sink   the first cfg->sink tokens (4 if 0) + a recent window
 *          (StreamingLLM);
 *   tova   the whole budget by the attention of the latest step only
 *          (TOVA; here per KV head, the weights of the query heads sharing
 *          it summed, and in a prefill the chunk's queries summed);
 *   h2o-anti  H2O's split, but the non-recent part keeps the LOWEST
 *          accumulated attention: the heavy hitters are evicted first (the
 *          paper's counter-ablation, "removing heavy hitters hurts").
 * The newest token is always kept the step it arrives (a policy without a
 * recent window would otherwise drop every new token at once, its score
 * being a single row's worth).
 *
 * Slots. A decode step (one new token) that finds the head full evicts
 * exactly one slot outside the protected set (sinks, recent window, the
 * newest token) and writes the new token into that slot in place; its acc
 * restarts from the mass the token received itself. A chunk bigger than
 * what is free (a prefill) is selected from the union of the cached slots
 * and the chunk's keys/values (passed in, never stored beyond the budget):
 * kept new tokens fill the free slots first, then the slots of evicted
 * cached tokens, oldest evicted first, as evicting one token at a time
 * would.
 *
 * Ties in scores go to the older token being evicted (deterministic).
 */
#include "frugal/kv.h"
#include "frugal/methods/kv.h"
#include "frugal/status.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_LOCAL, K_H2O, K_HEAVY, K_SINK, K_TOVA, K_ANTI };

/* The score a slot keeps its place by (higher stays): position for the
 * window policies, accumulated attention for the heavy-hitter ones, and its
 * negation for h2o-anti, which evicts the heavy hitters first. */
static float keep_score(enum kind kd, float acc, int32_t pos) {
    if (kd == K_LOCAL || kd == K_SINK) return (float)pos;
    return kd == K_ANTI ? -acc : acc;
}

/* Tokens meant by a budget: a fraction of base (at least 1 when positive)
 * or a count. */
static int64_t resolve(double x, int64_t base) {
    if (!(x > 0)) return 0;
    if (x >= 1) return (int64_t)x;
    int64_t k = llround(x * (double)base);
    return k < 1 ? 1 : k;
}

static int64_t budget_of(const struct fr_kv_config *cfg, int64_t max_seq, int64_t prompt_len) {
    int64_t base = prompt_len > 0 ? prompt_len : max_seq;
    int64_t b = resolve(cfg->heavy, base) + resolve(cfg->recent, base);
    if (b < 1) b = 1;
    return b > max_seq ? max_seq : b;
}

static int64_t capacity(const struct fr_kv_config *cfg, int64_t max_seq, int64_t prompt_len) {
    return budget_of(cfg, max_seq, prompt_len);
}

/* Protected slots of a head of `cap` slots: tokens at positions < *sink and
 * at positions > newest - *recent. */
static void protected_split(enum kind kd, const struct fr_kv_config *cfg, int64_t prompt_len,
                            int64_t cap, int64_t *sink, int64_t *recent) {
    *sink = 0;
    *recent = 1;
    switch (kd) {
    case K_LOCAL:
        *recent = cap;
        break;
    case K_H2O:
    case K_ANTI: {
        int64_t r;
        if (prompt_len > 0)
            r = resolve(cfg->recent, prompt_len);
        else if (cfg->recent < 1 && cfg->heavy < 1 && cfg->heavy + cfg->recent > 0)
            r = llround((double)cap * cfg->recent / (cfg->heavy + cfg->recent));
        else
            r = resolve(cfg->recent, cap);
        *recent = r;
        break;
    }
    case K_SINK:
        *sink = cfg->sink > 0 ? cfg->sink : 4;
        if (*sink > cap - 1) *sink = cap - 1;
        *recent = cap - *sink;
        break;
    case K_HEAVY:
    case K_TOVA:
        break;
    }
    if (*recent < 1) *recent = 1;
    if (*recent > cap) *recent = cap;
}

static void put(struct fr_kv_head *h, int64_t slot, const float *k, const float *v, int32_t pos,
                float acc, int hs) {
    memcpy(h->k + slot * hs, k, (size_t)hs * sizeof(float));
    memcpy(h->v + slot * hs, v, (size_t)hs * sizeof(float));
    h->pos[slot] = pos;
    h->acc[slot] = acc;
}

/* Eviction order: lower score goes first; among equals the older. */
static int evicts_before(float sa, int32_t pa, float sb, int32_t pb) {
    return sa < sb || (sa == sb && pa < pb);
}

/* Candidate of a chunk admission: cached slot (i >= 0) or new token (-1-t). */
struct cand {
    float score;
    int32_t pos;
    int64_t id;
    int keep;
};

static int cand_cmp_keep(const void *a, const void *b) {
    const struct cand *x = a, *y = b;
    /* larger score first; among equals the newer first */
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    if (x->pos != y->pos) return x->pos > y->pos ? -1 : 1;
    return 0;
}

/* Admits T tokens where fewer than T slots are free: keeps `cap` of the
 * n + T candidates (protected first, then by score) and writes them. */
static int admit_chunk(struct fr_kv_head *h, enum kind kd, int64_t sink, int64_t recent,
                       const float *k, const float *v, const int32_t *pos, const float *mass,
                       int64_t T, int hs) {
    int64_t n = h->n, M = n + T, cap = h->cap;
    int32_t newest = pos[T - 1];
    struct cand *c = malloc((size_t)M * sizeof *c);
    int64_t *freed = malloc((size_t)(n > 0 ? n : 1) * sizeof *freed);
    if (!c || !freed) {
        free(c);
        free(freed);
        return fr_error(FR_ENOMEM, "kv policy: out of memory for %lld candidates", (long long)M);
    }
    for (int64_t i = 0; i < M; i++) {
        int is_new = i >= n;
        c[i].id = is_new ? -1 - (i - n) : i;
        c[i].pos = is_new ? pos[i - n] : h->pos[i];
        c[i].score = is_new ? (mass ? mass[i - n] : 0.0f) : h->acc[i];
        if (kd == K_LOCAL || kd == K_SINK) c[i].score = 0; /* only position matters */
        if (kd == K_ANTI) c[i].score = -c[i].score;
        c[i].keep = 0;
    }
    /* protected: sinks (oldest first), then the recent window (newest first) */
    int64_t kept = 0;
    for (int64_t i = 0; i < M && kept < cap; i++)
        if (c[i].pos < sink) c[i].keep = 1, kept++;
    for (int32_t p = newest; p > newest - recent && kept < cap; p--)
        for (int64_t i = 0; i < M; i++)
            if (c[i].pos == p && !c[i].keep) {
                c[i].keep = 1, kept++;
                break;
            }
    if (kept < cap) {
        /* the rest by score: sort the unprotected, take the best */
        struct cand *rest = malloc((size_t)M * sizeof *rest);
        if (!rest) {
            free(c);
            free(freed);
            return fr_error(FR_ENOMEM, "kv policy: out of memory");
        }
        int64_t nr = 0;
        for (int64_t i = 0; i < M; i++)
            if (!c[i].keep) rest[nr] = c[i], rest[nr++].id = i;
        if (kd == K_LOCAL || kd == K_SINK)
            for (int64_t i = 0; i < nr; i++)
                rest[i].score = (float)rest[i].pos;
        qsort(rest, (size_t)nr, sizeof *rest, cand_cmp_keep);
        for (int64_t i = 0; i < nr && kept < cap; i++)
            c[rest[i].id].keep = 1, kept++;
        free(rest);
    }
    /* kept new tokens go first into free slots at the end, then into the
     * slots of evicted cached tokens, the oldest evicted first (what
     * evicting one token at a time would do). Exactly cap candidates are
     * kept and n <= cap, so they fill every freed slot. */
    int64_t nf = 0;
    for (int64_t i = 0; i < n; i++)
        if (!c[i].keep) freed[nf++] = i;
    for (int64_t i = 1; i < nf; i++) /* by position: nf is small, insertion sort */
        for (int64_t j = i; j > 0 && h->pos[freed[j]] < h->pos[freed[j - 1]]; j--) {
            int64_t x = freed[j];
            freed[j] = freed[j - 1], freed[j - 1] = x;
        }
    int64_t fi = 0, end = n;
    for (int64_t t = 0; t < T; t++) {
        if (!c[n + t].keep) continue;
        int64_t slot = end < cap ? end++ : freed[fi++];
        put(h, slot, k + t * hs, v + t * hs, pos[t], mass ? mass[t] : 0.0f, hs);
    }
    h->n = end;
    free(c);
    free(freed);
    return 0;
}

static int admit_kind(enum kind kd, struct fr_kv_head *h, const struct fr_kv_config *cfg,
                      int64_t prompt_len, const float *k, const float *v, const int32_t *pos,
                      const float *mass, int64_t T, int hs) {
    if (T < 1) return 0;
    if (h->n + T <= h->cap) {
        for (int64_t t = 0; t < T; t++)
            put(h, h->n + t, k + t * hs, v + t * hs, pos[t], mass ? mass[t] : 0.0f, hs);
        h->n += T;
        h->seen += T;
        return 0;
    }
    int64_t sink, recent;
    protected_split(kd, cfg, prompt_len, h->cap, &sink, &recent);
    int rc = 0;
    if (T == 1 && h->n == h->cap) {
        /* decode: evict one slot outside the protected set, reuse it */
        int32_t lim = pos[0] - (int32_t)recent;
        int64_t victim = -1, oldest = -1;
        for (int64_t i = 0; i < h->n; i++) {
            if (h->pos[i] < sink) continue;
            if (oldest < 0 || h->pos[i] < h->pos[oldest]) oldest = i;
            if (h->pos[i] > lim) continue;
            float s = keep_score(kd, h->acc[i], h->pos[i]);
            if (victim < 0 ||
                evicts_before(s, h->pos[i], keep_score(kd, h->acc[victim], h->pos[victim]),
                              h->pos[victim]))
                victim = i;
        }
        if (victim < 0) victim = oldest >= 0 ? oldest : 0;
        put(h, victim, k, v, pos[0], mass ? mass[0] : 0.0f, hs);
    } else {
        rc = admit_chunk(h, kd, sink, recent, k, v, pos, mass, T, hs);
    }
    if (!rc) h->seen += T;
    return rc;
}

static void observe_acc(struct fr_kv_head *h, const struct fr_kv_config *cfg, const float *w) {
    (void)cfg;
    for (int64_t i = 0; i < h->n; i++)
        h->acc[i] += w[i];
}

/* TOVA keeps only the latest step's weights. */
static void observe_last(struct fr_kv_head *h, const struct fr_kv_config *cfg, const float *w) {
    (void)cfg;
    memcpy(h->acc, w, (size_t)h->n * sizeof(float));
}

/* local: a recent window, evicting the oldest; written on its own (not
 * through admit_kind) so that the test "h2o with heavy = 0 equals local"
 * compares two implementations. */
static int local_admit(struct fr_kv_head *h, const struct fr_kv_config *cfg, int64_t prompt_len,
                       const float *k, const float *v, const int32_t *pos, const float *mass,
                       int64_t T, int hs) {
    (void)cfg;
    (void)prompt_len;
    for (int64_t t = 0; t < T; t++) {
        /* tokens of the chunk that the window will drop anyway are skipped */
        if (T - t > h->cap) continue;
        int64_t slot;
        if (h->n < h->cap) {
            slot = h->n++;
        } else {
            slot = 0;
            for (int64_t i = 1; i < h->n; i++)
                if (h->pos[i] < h->pos[slot]) slot = i;
        }
        put(h, slot, k + t * hs, v + t * hs, pos[t], mass ? mass[t] : 0.0f, hs);
    }
    h->seen += T;
    return 0;
}

#define ADMIT(NAME, KIND)                                                                          \
    static int NAME##_admit(struct fr_kv_head *h, const struct fr_kv_config *cfg,                  \
                            int64_t prompt_len, const float *k, const float *v,                    \
                            const int32_t *pos, const float *mass, int64_t T, int hs) {            \
        return admit_kind(KIND, h, cfg, prompt_len, k, v, pos, mass, T, hs);                       \
    }
ADMIT(h2o, K_H2O)
ADMIT(heavy, K_HEAVY)
ADMIT(sink, K_SINK)
ADMIT(tova, K_TOVA)
ADMIT(anti, K_ANTI)

const struct fr_kv_policy fr_kv_policy_local = {"local", capacity, observe_acc, local_admit};
const struct fr_kv_policy fr_kv_policy_h2o = {"h2o", capacity, observe_acc, h2o_admit};
const struct fr_kv_policy fr_kv_policy_heavy = {"heavy", capacity, observe_acc, heavy_admit};
const struct fr_kv_policy fr_kv_policy_sink = {"sink", capacity, observe_acc, sink_admit};
const struct fr_kv_policy fr_kv_policy_tova = {"tova", capacity, observe_last, tova_admit};
const struct fr_kv_policy fr_kv_policy_h2o_anti = {"h2o-anti", capacity, observe_acc, anti_admit};

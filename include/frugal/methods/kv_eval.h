/* methods/kv_eval.h: measuring KV-cache eviction policies (methods/kv.h)
 * for quality, the measurement behind `frugal kv-eval` and `frugal repro
 * h2o`. It returns numbers; writing them (results.json, plots) is the
 * experiments layer's job (frugal/experiments/kv_study.h).
 *
 * Streaming evaluation: nwin windows of L tokens each; the first P tokens of
 * a window are prefilled (full attention within the chunk, then the policy
 * compresses at once), the remaining L - P are decoded one token at a time
 * (the windows decode together as a batch). Each of the L - P predictions is
 * scored: its negative log-likelihood, whether its argmax matches the full
 * cache's, and KL(full || policy). A budget here is a fraction of L, turned
 * into token counts (h2o: half heavy, half recent; other policies spend the
 * whole budget their own way, see src/methods/kv/kv_policies.c), so at 20%
 * the cache ends holding a fifth of what the full cache holds.
 *
 * Attention statistics come from the full-cache run: per decode row (the
 * weights a KV head's slots received, summed over the query heads sharing
 * it) the sparsity (share of entries below 1% of the row's largest) and the
 * share of the mass in the top 10% of entries; at the end, per head, the
 * accumulated scores sorted (their power law) and which positions / tokens
 * are the heavy hitters. Reentrant: all state is per call.
 */
#ifndef FRUGAL_METHODS_KV_EVAL_H
#define FRUGAL_METHODS_KV_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "frugal/transformer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One policy at one budget. */
struct fr_kv_eval_run {
    double nll;  /* mean next-token NLL, nats */
    double ppl;  /* exp(nll) */
    double top1; /* share of predictions whose argmax equals the full cache's */
    double kl;   /* mean KL(full || policy), nats */
    int64_t scored;
    int64_t slots; /* per head */
    size_t kv_bytes;
    double evicted; /* share of heads that evicted at least once (0: budget did not bind) */
    double seconds;
    double *window_nll; /* in: NULL, or room for nwin values; out: each window's mean NLL */
};

/* Runs one policy over ids[nwin][L]. ref_logits (nwin x (L-P) x V, NULL: no
 * agreement metrics) is the full cache's output; out_logits (same shape,
 * NULL: not kept) receives this run's. r->window_nll, when set on entry,
 * receives each window's mean NLL (the items intervals are made over).
 * Errors per status.h. */
int fr_kv_eval_stream(const struct fr_tf_model *m, const int32_t *ids, int nwin, int64_t L,
                      int64_t P, const struct fr_kv_config *kc, const float *ref_logits,
                      float *out_logits, struct fr_kv_eval_run *r);

/* A budget (fraction f of L) as the config of one policy: h2o and h2o-anti
 * half heavy, half recent; heavy all heavy; every other policy all recent. */
void fr_kv_eval_budget(const struct fr_kv_policy *p, double f, int64_t L, struct fr_kv_config *kc);

enum {
    FR_KV_EVAL_MAX_POLICIES = 16,
    FR_KV_EVAL_MAX_BUDGETS = 32,
    FR_KV_HH_BINS = 16,
    FR_KV_HH_TOKENS = 8
};

struct fr_kv_eval_opts {
    const char *label;           /* names the model in progress lines */
    const char *const *policies; /* evaluated beside the full cache (registry names) */
    int npolicies;
    const double *budgets; /* fractions of L */
    int nbudgets;
    int64_t L, P;
    void (*progress)(void *user, const char *line); /* one line per run; may be NULL */
    void *user;
};

/* What fr_kv_eval_model measured. Arrays are malloc'd (fr_kv_study_free). */
struct fr_kv_study {
    int npolicies, nbudgets, n_layers, nwin;
    int64_t L;
    struct fr_kv_eval_run full;
    struct fr_kv_eval_run *runs; /* [npolicies][nbudgets] */
    double *window_nll; /* [1 + npolicies * nbudgets][nwin]: the full cache's, then each run's */
    /* attention rows of the full-cache decode, in % */
    double attn_sparsity, attn_top10_mass; /* over all rows (NaN: no rows) */
    double *layer_sparsity, *layer_top10;  /* per layer (n_layers, at most 64) */
    /* accumulated attention at the end of the full-cache run */
    double *rank_log10, *rank_share; /* L: log10(rank), mean share of a head's total */
    double powerlaw_slope;           /* of log share vs log rank over ranks 1..L/2 */
    double acc_top10_mass;           /* % of a head's total in its top 10% positions */
    double first_token_heavy;        /* % of heads whose position 0 is a heavy hitter */
    /* where the heavy hitters (top 10% by accumulated score) sit */
    double hh_bin_center[FR_KV_HH_BINS];
    double hh_by_score[FR_KV_HH_BINS]; /* % of heavy hitters per position bin */
    double hh_by_mean[FR_KV_HH_BINS];  /* the same by mean score per query that saw them */
    /* tokens most over-represented among heavy hitters (seen >= 0.5% of the text) */
    int n_hh_tokens;
    int32_t hh_token[FR_KV_HH_TOKENS];
    double hh_token_pct[FR_KV_HH_TOKENS], hh_text_pct[FR_KV_HH_TOKENS], hh_ratio[FR_KV_HH_TOKENS];
};

/* Each window's mean NLL of the full cache (p < 0) or of policy p at budget b. */
static inline const double *fr_kv_study_windows(const struct fr_kv_study *s, int p, int b) {
    size_t k = p < 0 ? 0 : 1 + (size_t)p * (size_t)s->nbudgets + (size_t)b;
    return s->window_nll + k * (size_t)s->nwin;
}

/* The run of policy p at budget b. */
static inline const struct fr_kv_eval_run *fr_kv_study_at(const struct fr_kv_study *s, int p,
                                                          int b) {
    return &s->runs[(size_t)p * (size_t)s->nbudgets + (size_t)b];
}

/* The whole study for one model: the full-cache reference with attention
 * statistics, then every policy x budget. On error st is left empty. */
int fr_kv_eval_model(const struct fr_tf_model *m, const int32_t *ids, int nwin,
                     const struct fr_kv_eval_opts *o, struct fr_kv_study *st);
void fr_kv_study_free(struct fr_kv_study *st);

/* Fills ids[nwin][L] with text the model writes itself: each window starts
 * with bos and continues by sampling at `temperature` (full cache). For
 * models that ship without a tokenizer (stories260K). */
int fr_kv_eval_self_text(const struct fr_tf_model *m, int nwin, int64_t L, int32_t bos,
                         float temperature, uint64_t seed, int32_t *ids);

#ifdef __cplusplus
}
#endif
#endif

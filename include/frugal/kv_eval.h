/* kv_eval.h: measuring KV-cache eviction policies (kv.h) for quality, as
 * `frugal kv-eval` and `frugal repro h2o` do.
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
 * weights a KV head's slots received, averaged over the query heads sharing
 * it) the sparsity (share of entries below 1% of the row's largest) and the
 * share of the mass in the top 10% of entries; at the end, per head, the
 * accumulated scores sorted (their power law) and which positions / tokens
 * are the heavy hitters.
 *
 * Not reentrant: the statistics recorder is one static hook.
 */
#ifndef FRUGAL_KV_EVAL_H
#define FRUGAL_KV_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "frugal/transformer.h"

#ifdef __cplusplus
extern "C" {
#endif

struct fr_results;
struct fr_tokenizer;

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
};

/* Runs one policy over ids[nwin][L]. ref_logits (nwin x (L-P) x V, NULL: no
 * agreement metrics) is the full cache's output; out_logits (same shape,
 * NULL: not kept) receives this run's. Errors per status.h. */
int fr_kv_eval_stream(const struct fr_tf_model *m, const int32_t *ids, int nwin, int64_t L,
                      int64_t P, const struct fr_kv_config *kc, const float *ref_logits,
                      float *out_logits, struct fr_kv_eval_run *r);

struct fr_kv_eval_opts {
    const char *label;           /* model label: prefixes metric keys, tables, plot files */
    const char *const *policies; /* evaluated beside the full cache */
    int npolicies;
    const double *budgets; /* fractions of L */
    int nbudgets;
    int64_t L, P;
    const struct fr_tokenizer *tok; /* names heavy-hitter tokens; NULL = ids */
    const char *plot_dir;           /* directory of results.json (plots go there); NULL = none */
    void (*progress)(void *user, const char *line);
    void *user;
};

/* The whole study for one model: the full-cache reference with attention
 * statistics, then every policy x budget; writes tables, metrics, series
 * and plots into r. Metric keys: LABEL_full_ppl, LABEL_POLICY_B_ppl|top1|kl
 * (B = budget in percent). Returns 0 or an error. */
int fr_kv_eval_model(const struct fr_tf_model *m, const int32_t *ids, int nwin,
                     const struct fr_kv_eval_opts *o, struct fr_results *r);

/* Fills ids[nwin][L] with text the model writes itself: each window starts
 * with bos and continues by sampling at `temperature` (full cache). For
 * models that ship without a tokenizer (stories260K). */
int fr_kv_eval_self_text(const struct fr_tf_model *m, int nwin, int64_t L, int32_t bos,
                         float temperature, uint64_t seed, int32_t *ids);

#ifdef __cplusplus
}
#endif
#endif

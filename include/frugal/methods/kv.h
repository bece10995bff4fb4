/* methods/kv.h: KV-cache eviction policies (H2O and its peers) behind the
 * nn layer's policy interface (frugal/kv.h), and the registry that finds a
 * policy by name.
 *
 *     struct fr_kv_config kc = {fr_kv_policy_find("h2o"), 0.1, 0.1, 0, NULL};
 *     fr_tf_state_init(&s, &model, 1, max_seq, max_seq, &kc, prompt_len);
 *
 * The built-in policies (src/methods/kv/kv_policies.c has each one's rule):
 *   full   keep everything (the nn layer's fr_kv_policy_full)
 *   local  a recent window
 *   h2o    recent window + heavy hitters by accumulated attention
 *          (Zhang et al., arXiv 2306.14048)
 *   heavy  heavy hitters only (ablation)
 *   sink   StreamingLLM: sink tokens + a recent window
 *   tova   TOVA: by the latest step's attention only
 *   h2o-anti  H2O's budget split, evicting the heavy hitters first (ablation)
 * A new policy is a struct fr_kv_policy registered once from the code that
 * defines it (fr_kv_policy_register); the registry knows nothing else.
 */
#ifndef FRUGAL_METHODS_KV_H
#define FRUGAL_METHODS_KV_H

#include "frugal/kv.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const struct fr_kv_policy fr_kv_policy_local, fr_kv_policy_h2o, fr_kv_policy_heavy,
    fr_kv_policy_sink, fr_kv_policy_tova, fr_kv_policy_h2o_anti;

/* The policy registered under name (NULL: full); NULL if none. */
const struct fr_kv_policy *fr_kv_policy_find(const char *name);
/* Names of every registered policy, built-ins first, NULL-terminated. The
 * array stays valid until the next fr_kv_policy_register. */
const char *const *fr_kv_policy_names(void);
/* Adds p (which must outlive every use) under p->name. FR_EINVAL when the
 * name is taken or p lacks capacity/admit, FR_ENOMEM when the table (32
 * policies) is full. Thread-safe. */
int fr_kv_policy_register(const struct fr_kv_policy *p);

#ifdef __cplusplus
}
#endif
#endif

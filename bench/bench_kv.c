/* bench_kv.c: what a KV-cache budget buys in memory and decode speed, full
 * cache vs H2O at 20% of the prompt (the systems half of arXiv 2306.14048).
 *
 * Model: a random-weight LLaMA (dim 128, 4 layers, 4 heads without GQA,
 * hidden 344, vocab 512, context 1024; decode cost does not depend on the
 * weights' values). Each run: a 512-token prompt, then 512 decode steps for
 * B sequences. The prompt is prefilled once, for sequence 0, and its cache
 * (full: 512 slots; H2O: the 102 kept after compression) copied to the other
 * sequences, since prefill is not what is measured; decode runs the real
 * policy on every sequence (H2O evicts one slot per head per step).
 * Reported: allocated KV bytes (the cache holds at most its budget), decode
 * tokens/s over all sequences and ms per step, for B = 1..32; the largest B
 * whose KV fits a fixed cap and the throughput there; and the H2O
 * bookkeeping (score accumulation + victim search) in ns per token, timed on
 * one head in isolation and compared with the step time, plus h2o vs local
 * at the same budget end to end.
 * usage: bench_kv [kv_cap_MB=32] [steps=512] [threads=0]
 */
#include "frugal/clock.h"
#include "frugal/frugal.h"
#include "frugal/methods/kv.h"
#include "frugal/transformer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PROMPT = 512, CTX = 1024 };

struct res {
    double tok_s, ms_step;
    size_t bytes;
};

static int run(const struct fr_tf_model *m, const char *pol, int B, int steps, struct res *r) {
    struct fr_kv_config kc = {fr_kv_policy_find(pol), 0.1, 0.1, 0, NULL};
    struct fr_tf_state s;
    int V = m->cfg.vocab_size, rc = 0;
    if (fr_tf_state_init(&s, m, B, PROMPT + steps, PROMPT, &kc, PROMPT)) return 1;
    int32_t *toks = malloc(sizeof(int32_t) * PROMPT), *cur = malloc(sizeof(int32_t) * B);
    float *lg = malloc(sizeof(float) * (size_t)V * B);
    struct fr_rng rng;
    fr_rng_seed(&rng, 3);
    for (int t = 0; t < PROMPT; t++)
        toks[t] = (int32_t)(fr_rng_u64(&rng) % (uint64_t)V);
    if ((rc = fr_tf_prefill(&s, 0, toks, PROMPT, lg, 0))) goto done;
    int hs = m->cfg.dim / m->cfg.n_heads;
    for (int b = 1; b < B; b++) {
        for (int l = 0; l < m->cfg.n_layers; l++)
            for (int h = 0; h < m->cfg.n_kv_heads; h++) {
                struct fr_kv_head *src = fr_kv_head_at(&s.kv, 0, l, h),
                                  *dst = fr_kv_head_at(&s.kv, b, l, h);
                memcpy(dst->k, src->k, sizeof(float) * (size_t)(src->n * hs));
                memcpy(dst->v, src->v, sizeof(float) * (size_t)(src->n * hs));
                memcpy(dst->pos, src->pos, sizeof(int32_t) * (size_t)src->n);
                memcpy(dst->acc, src->acc, sizeof(float) * (size_t)src->n);
                dst->n = src->n, dst->seen = src->seen;
            }
        s.pos[b] = s.pos[0];
    }
    double t0 = fr_seconds();
    for (int st = 0; st < steps && !rc; st++) {
        for (int b = 0; b < B; b++)
            cur[b] = (int32_t)(fr_rng_u64(&rng) % (uint64_t)V);
        rc = fr_tf_decode(&s, cur, lg);
    }
    double dt = fr_seconds() - t0;
    r->tok_s = (double)B * steps / dt;
    r->ms_step = 1e3 * dt / steps;
    r->bytes = s.kv.bytes;
done:
    free(toks);
    free(cur);
    free(lg);
    fr_tf_state_free(&s);
    return rc;
}

/* ns per (head, token) of H2O's observe + admit on a full head of `cap`
 * slots, hs floats per row. */
static double h2o_ns(int64_t cap, int hs) {
    const struct fr_kv_policy *p = fr_kv_policy_find("h2o");
    struct fr_kv_config kc = {p, (double)(cap / 2), (double)(cap - cap / 2), 0, NULL};
    struct fr_kv_head h = {0};
    h.cap = cap;
    h.k = calloc((size_t)(cap * hs), sizeof(float));
    h.v = calloc((size_t)(cap * hs), sizeof(float));
    h.pos = calloc((size_t)cap, sizeof(int32_t));
    h.acc = calloc((size_t)cap, sizeof(float));
    float *w = malloc(sizeof(float) * (size_t)cap), *kv = calloc((size_t)hs, sizeof(float));
    struct fr_rng rng;
    fr_rng_seed(&rng, 5);
    for (int64_t i = 0; i < cap; i++)
        w[i] = (float)fr_rng_uniform(&rng) / (float)cap;
    int32_t pos = 0;
    float mass = 0.01f;
    for (; pos < cap; pos++)
        p->admit(&h, &kc, 0, kv, kv, &pos, &mass, 1, hs);
    const int N = 200000;
    double t0 = fr_seconds();
    for (int i = 0; i < N; i++, pos++) {
        p->observe(&h, &kc, w);
        p->admit(&h, &kc, 0, kv, kv, &pos, &mass, 1, hs);
    }
    double ns = 1e9 * (fr_seconds() - t0) / N;
    free(h.k), free(h.v), free(h.pos), free(h.acc), free(w), free(kv);
    return ns;
}

int main(int argc, char **argv) {
    double cap_mb = argc > 1 ? atof(argv[1]) : 32;
    int steps = argc > 2 ? atoi(argv[2]) : 512;
    int threads = argc > 3 ? atoi(argv[3]) : 0;
    if (cap_mb <= 0 || steps < 1 || steps > CTX - PROMPT) {
        fprintf(stderr, "usage: bench_kv [kv_cap_MB > 0] [steps 1..%d] [threads]\n", CTX - PROMPT);
        return 2;
    }
    if (threads > 0) fr_threads_set(threads);
    struct fr_tf_config c = {.arch = FR_TF_LLAMA,
                             .dim = 128,
                             .hidden_dim = 344,
                             .n_layers = 4,
                             .n_heads = 4,
                             .n_kv_heads = 4,
                             .vocab_size = 512,
                             .max_seq = CTX};
    struct fr_tf_model m;
    if (fr_tf_config_check(&c) || fr_tf_init(&m, &c, 1)) {
        fprintf(stderr, "bench_kv: %s\n", fr_last_error());
        return 1;
    }
    printf("bench_kv: random LLaMA dim %d, %d layers, %d heads, context %d; prompt %d + %d "
           "decode steps; %d threads\n",
           c.dim, c.n_layers, c.n_heads, c.max_seq, PROMPT, steps, fr_threads_get());
    printf("%-6s %5s %12s %10s %10s\n", "policy", "batch", "KV bytes", "tok/s", "ms/step");
    static const char *const pols[2] = {"full", "h2o"};
    size_t per_seq[2] = {0, 0};
    double base_ms[2][6];
    static const int Bs[6] = {1, 2, 4, 8, 16, 32};
    for (int p = 0; p < 2; p++)
        for (int i = 0; i < 6; i++) {
            struct res r;
            if (run(&m, pols[p], Bs[i], steps, &r)) {
                fprintf(stderr, "bench_kv: %s\n", fr_last_error());
                return 1;
            }
            per_seq[p] = r.bytes / (size_t)Bs[i];
            base_ms[p][i] = r.ms_step;
            printf("%-6s %5d %12zu %10.0f %10.3f\n", pols[p], Bs[i], r.bytes, r.tok_s, r.ms_step);
            fflush(stdout);
        }
    size_t cap = (size_t)(cap_mb * 1e6);
    printf("KV cap %.0f MB: ", cap_mb);
    double tput[2];
    int maxb[2];
    for (int p = 0; p < 2; p++) {
        maxb[p] = (int)(cap / per_seq[p]);
        if (maxb[p] > 4096) maxb[p] = 4096;
        struct res r = {0};
        if (maxb[p] >= 1 && run(&m, pols[p], maxb[p], steps, &r)) return 1;
        tput[p] = r.tok_s;
        printf("%s fits batch %d (%zu bytes/seq): %.0f tok/s%s", pols[p], maxb[p], per_seq[p],
               r.tok_s, p ? "\n" : "; ");
    }
    printf("h2o / full throughput at the cap: %.2fx\n", tput[1] / tput[0]);
    /* alternate three times, keep each one's fastest (the machine is shared) */
    struct res rl = {0}, rh = {0};
    for (int rep = 0; rep < 3; rep++) {
        struct res a, b;
        if (run(&m, "local", 8, steps, &a) || run(&m, "h2o", 8, steps, &b)) return 1;
        if (!rep || a.ms_step < rl.ms_step) rl = a;
        if (!rep || b.ms_step < rh.ms_step) rh = b;
    }
    int hs = c.dim / c.n_heads;
    int64_t budget = (PROMPT + 5) / 10 * 2;
    double ns = h2o_ns(budget, hs), per_tok = ns * c.n_layers * c.n_kv_heads;
    printf("h2o bookkeeping (observe + evict, %lld-slot head): %.1f ns per head, %.2f us per "
           "token = %.2f%% of a batch-1 h2o decode step (%.3f ms)\n",
           (long long)budget, ns, per_tok / 1e3, 100 * per_tok / (base_ms[1][0] * 1e6),
           base_ms[1][0]);
    printf("same budget, batch 8, best of 3: h2o %.3f ms/step vs local %.3f ms/step (%+.1f%%)\n",
           rh.ms_step, rl.ms_step, 100 * (rh.ms_step / rl.ms_step - 1));
    fr_tf_free(&m);
    return 0;
}

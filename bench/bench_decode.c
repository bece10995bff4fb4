/* bench_decode.c: decode and prefill speed of the transformer engine against
 * the memory-bandwidth bound.
 *
 * Shapes: "15m" (stories15M: dim 288, 6 layers, 6 heads, hidden 768, vocab
 * 32000, random weights), "gpt2" (GPT-2 small: 768, 12 layers, 12 heads,
 * vocab 50257, random weights), "260k" (the real data/stories260K.bin).
 * For each batch B and context L the KV cache is filled with L-96 random
 * entries per sequence (decode cost does not depend on their values), then
 * three blocks of 31 decode steps are timed and the fastest block reported
 * (the machine is shared: the minimum is the least disturbed). The bound is B * bandwidth / bytes
 * read per step (every weight matrix incl. the classifier once, plus each sequence's K and V
 * cache). Prefill: one 512-token prompt (or the model's context). usage: bench_decode SHAPE
 * READ_GBS [threads [batch context]]: with batch and context given, only that one decode row is
 * measured (for profiling).
 */
#include "frugal/clock.h"
#include "frugal/frugal.h"
#include "frugal/transformer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double weight_bytes(const struct fr_tf_model *m) {
    const struct fr_tf_config *c = &m->cfg;
    double D = c->dim, Hd = c->hidden_dim, kvd = (double)c->n_kv_heads * (D / c->n_heads);
    double per = 2 * D * D + 2 * D * kvd + (c->arch == FR_TF_LLAMA ? 3 : 2) * D * Hd;
    return 4.0 * (per * c->n_layers + (double)c->vocab_size * D);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_decode 15m|gpt2|260k READ_GBS [threads [batch context]]\n");
        return 2;
    }
    const char *shape = argv[1];
    double bw = atof(argv[2]) * 1e9;
    fr_threads_set(argc > 3 ? atoi(argv[3]) : 2);
    struct fr_tf_model m;
    struct fr_tf_config c = {0};
    int rc;
    if (strcmp(shape, "260k") == 0) {
        rc = fr_tf_load(&m, "data/stories260K.bin");
    } else if (strcmp(shape, "15m") == 0) {
        c.arch = FR_TF_LLAMA, c.dim = 288, c.n_layers = 6, c.n_heads = 6, c.hidden_dim = 768;
        c.vocab_size = 32000, c.max_seq = 1024, c.tied = 1;
        rc = fr_tf_init(&m, &c, 1);
    } else {
        c.arch = FR_TF_GPT2, c.dim = 768, c.n_layers = 12, c.n_heads = 12, c.vocab_size = 50257;
        c.max_seq = 1024, c.tied = 1;
        rc = fr_tf_init(&m, &c, 1);
    }
    if (rc) {
        fprintf(stderr, "%s\n", fr_last_error());
        return 1;
    }
    const struct fr_tf_config *mc = &m.cfg;
    int V = mc->vocab_size, hs = mc->dim / mc->n_heads;
    int batches[2] = {1, 8}, ctxs[2] = {256, 1024}, nb = 2, nc = 2;
    if (argc > 5) {
        batches[0] = atoi(argv[4]), ctxs[0] = atoi(argv[5]), nb = nc = 1;
        if (batches[0] < 1 || ctxs[0] < 97) {
            fprintf(stderr, "batch must be >= 1 and context >= 97\n");
            return 2;
        }
    }
    struct fr_rng r;
    fr_rng_seed(&r, 3);
    printf("| shape | batch | context | tok/s | bound tok/s | %% of bound | ms/step "
           "|\n|---|---|---|---|---|---|---|\n");
    for (int bi = 0; bi < nb; bi++)
        for (int ci = 0; ci < nc; ci++) {
            int B = batches[bi], L = ctxs[ci] < mc->max_seq ? ctxs[ci] : mc->max_seq;
            int steps = 96; /* three timed blocks of 32; the best block is reported */
            struct fr_tf_state s;
            if (fr_tf_state_init(&s, &m, B, L, 1, NULL, 0)) {
                fprintf(stderr, "%s\n", fr_last_error());
                return 1;
            }
            int fill = L - steps; /* the timed steps run at contexts L - steps .. L - 1 */
            for (int b = 0; b < B; b++) {
                for (int l = 0; l < mc->n_layers; l++)
                    for (int h = 0; h < mc->n_kv_heads; h++) {
                        struct fr_kv_head *hd = fr_kv_head_at(&s.kv, b, l, h);
                        fr_rng_fill_normal(&r, hd->k, (int64_t)fill * hs, 0, 1);
                        fr_rng_fill_normal(&r, hd->v, (int64_t)fill * hs, 0, 1);
                        for (int i = 0; i < fill; i++)
                            hd->pos[i] = i, hd->acc[i] = 0;
                        hd->n = hd->seen = fill;
                    }
                s.pos[b] = fill;
            }
            float *lg = malloc(sizeof(float) * (size_t)V * B);
            int32_t *tok = malloc(sizeof(int32_t) * B);
            for (int b = 0; b < B; b++)
                tok[b] = b % V;
            fr_tf_decode(&s, tok, lg); /* warm-up */
            double dt = 1e30;
            for (int blk = 0; blk < 3; blk++) {
                double t0 = fr_seconds();
                for (int i = 0; i < 31; i++)
                    fr_tf_decode(&s, tok, lg);
                double d = (fr_seconds() - t0) / 31;
                dt = d < dt ? d : dt;
            }
            double kv = 2.0 * 4 * mc->n_layers * mc->n_kv_heads * hs * (double)(L - 1) * B;
            double bound = B * bw / (weight_bytes(&m) + kv);
            printf("| %s | %d | %d | %.1f | %.1f | %.0f%% | %.2f |\n", shape, B, L, B / dt, bound,
                   100 * B / dt / bound, 1e3 * dt);
            fflush(stdout);
            free(lg);
            free(tok);
            fr_tf_state_free(&s);
        }
    if (argc > 5) {
        fr_tf_free(&m);
        return 0;
    }
    int P = mc->max_seq < 512 ? mc->max_seq : 512;
    struct fr_tf_state s;
    fr_tf_state_init(&s, &m, 1, P, P, NULL, 0);
    int32_t *prompt = malloc(sizeof(int32_t) * P);
    for (int i = 0; i < P; i++)
        prompt[i] = (int32_t)fr_rng_below(&r, (uint64_t)V);
    float *lg = malloc(sizeof(float) * V);
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        fr_tf_state_reset(&s, -1);
        double t0 = fr_seconds();
        fr_tf_prefill(&s, 0, prompt, P, lg, 0);
        double dt = fr_seconds() - t0;
        best = dt < best ? dt : best;
    }
    printf("\nprefill %s: %d tokens in %.3f s = %.0f tok/s (best of 3)\n", shape, P, best,
           P / best);
    fr_tf_state_free(&s);
    free(prompt);
    free(lg);
    fr_tf_free(&m);
    return 0;
}

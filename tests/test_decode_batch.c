/* test_decode_batch.c: batched decode (B = 4, 5, 8 sequences of different
 * lengths in one step) gives each sequence the logits it gets decoded
 * alone, for f32, f16 and bf16 weights, LLaMA (GQA, a head size of 20 that
 * is not a multiple of 16) and GPT-2 (head size 48), with caches long
 * enough for the short-row score kernel. Batch 1 takes the simple matvec
 * kernel and batch >= 4 the blocked one, so this checks one against the
 * other through the whole model. Run with FRUGAL_ISA=avx2 / scalar for the
 * narrower paths. */
#include "check.h"
#include "frugal/frugal.h"
#include "frugal/transformer.h"

#include <stdlib.h>
#include <string.h>

static struct fr_tf_config config(int arch) {
    struct fr_tf_config c = {0};
    c.arch = arch;
    c.n_layers = 2;
    c.vocab_size = 77;
    c.max_seq = 64;
    if (arch == FR_TF_LLAMA) {
        c.dim = 80, c.n_heads = 4, c.n_kv_heads = 2, c.hidden_dim = 112;
    } else {
        c.dim = 96, c.n_heads = 2, c.n_kv_heads = 2, c.hidden_dim = 4 * 96, c.tied = 1;
    }
    return c;
}

/* Max |difference| between batched and one-at-a-time decode logits over
 * 3 steps; sequence b has a (17 + 3b)-token prompt. */
static double batched_vs_single(const struct fr_tf_model *m, int B) {
    int V = m->cfg.vocab_size, steps = 3;
    int32_t prompt[64];
    for (int i = 0; i < 64; i++)
        prompt[i] = (i * 13 + 5) % V;
    struct fr_tf_state bs;
    if (fr_tf_state_init(&bs, m, B, 64, 8, NULL, 0)) return 1e9;
    float *lb = malloc(sizeof(float) * (size_t)B * V), *l1 = malloc(sizeof(float) * V);
    float *all = malloc(sizeof(float) * (size_t)steps * B * V);
    for (int b = 0; b < B; b++)
        fr_tf_prefill(&bs, b, prompt + b, 17 + 3 * b, lb, 0);
    int32_t tok[8];
    for (int t = 0; t < steps; t++) {
        for (int b = 0; b < B; b++)
            tok[b] = (b * 7 + t * 3 + 1) % V;
        if (fr_tf_decode(&bs, tok, lb)) return 1e9;
        memcpy(all + (size_t)t * B * V, lb, sizeof(float) * (size_t)B * V);
    }
    double worst = 0;
    for (int b = 0; b < B; b++) {
        struct fr_tf_state one;
        fr_tf_state_init(&one, m, 1, 64, 8, NULL, 0);
        fr_tf_prefill(&one, 0, prompt + b, 17 + 3 * b, l1, 0);
        for (int t = 0; t < steps; t++) {
            int32_t tk = (b * 7 + t * 3 + 1) % V;
            fr_tf_decode(&one, &tk, l1);
            for (int i = 0; i < V; i++)
                worst = fmax(worst, fabs(l1[i] - all[((size_t)t * B + b) * V + i]));
        }
        fr_tf_state_free(&one);
    }
    fr_tf_state_free(&bs);
    free(lb);
    free(l1);
    free(all);
    return worst;
}

int main(void) {
    fr_threads_set(2);
    const char *path = check_tmp("decode_batch.safetensors");
    int archs[2] = {FR_TF_LLAMA, FR_TF_GPT2}, dts[3] = {FR_F32, FR_F16, FR_BF16};
    for (int a = 0; a < 2; a++) {
        struct fr_tf_config c = config(archs[a]);
        struct fr_tf_model m;
        CHECK(fr_tf_init(&m, &c, 7) == 0, "init: %s", fr_last_error());
        for (int d = 0; d < 3; d++) {
            struct fr_tf_model w;
            CHECK(fr_tf_save(&m, path, dts[d]) == 0, "save: %s", fr_last_error());
            CHECK(fr_tf_load(&w, path) == 0 && w.layers[0].wq.dt == dts[d] && w.cls.dt == dts[d],
                  "load dtype %d: %s", dts[d], fr_last_error());
            int Bs[3] = {4, 5, 8};
            for (int i = 0; i < 3; i++) {
                double diff = batched_vs_single(&w, Bs[i]);
                CHECK(diff < 1e-4,
                      "arch %d dtype %d batch %d: batched vs single decode differ by %g", archs[a],
                      dts[d], Bs[i], diff);
            }
            fr_tf_free(&w);
        }
        fr_tf_free(&m);
    }
    return check_report("test_decode_batch");
}

/* generate.c: sampling from a transformer with a KV cache (transformer.h,
 * fr_tf_generate), as `frugal generate` does it: the prompt is prefilled
 * into every sequence, then each step samples one token per sequence and
 * decodes all of them as one batch.
 *
 * Past the model's context the window slides: every sequence's state is
 * reset and the last half of its own token history is prefilled again, so
 * generation can run longer than max_seq (the re-read costs a prefill of
 * half a context once per half context). Tokens are handed to a callback as
 * they come; nothing here knows about text or tokenizers.
 */
#include "frugal/clock.h"
#include "frugal/status.h"
#include "frugal/transformer.h"

#include <stdlib.h>
#include <string.h>

/* The buffers of one generation; freed together. */
struct gen {
    float *logits; /* batch x V */
    int32_t *cur, *prev;
    int32_t *hist; /* per sequence: the prompt and every token so far, hcap each */
    int64_t hcap, hlen;
};

static void gen_free(struct gen *g) {
    free(g->logits);
    free(g->cur);
    free(g->prev);
    free(g->hist);
}

static int check_config(const struct fr_tf_model *m, const struct fr_tf_generate_config *c) {
    if (c->n_prompt < 1 || !c->prompt) return fr_error(FR_EINVAL, "generate: empty prompt");
    if (c->steps < 1) return fr_error(FR_EINVAL, "generate: steps %lld < 1", (long long)c->steps);
    if (c->n_prompt >= m->cfg.max_seq)
        return fr_error(FR_EINVAL, "prompt of %lld tokens fills the model's context of %d",
                        (long long)c->n_prompt, m->cfg.max_seq);
    for (int64_t i = 0; i < c->n_prompt; i++)
        if (c->prompt[i] < 0 || c->prompt[i] >= m->cfg.vocab_size)
            return fr_error(FR_EINVAL, "prompt id %d outside the vocabulary (0..%d)", c->prompt[i],
                            m->cfg.vocab_size - 1);
    return 0;
}

/* Context full: every sequence keeps the last half of its history. */
static int slide(struct fr_tf_state *st, struct gen *g, int batch, int64_t ctx, int V) {
    int64_t keep = ctx / 2;
    for (int b = 0; b < batch; b++) {
        fr_tf_state_reset(st, b);
        int rc = fr_tf_prefill(st, b, g->hist + b * g->hcap + g->hlen - keep, keep,
                               g->logits + (size_t)b * V, 0);
        if (rc) return rc;
    }
    return 0;
}

int fr_tf_generate(const struct fr_tf_model *m, const struct fr_tf_generate_config *c,
                   struct fr_tf_generate_stats *stats) {
    struct fr_tf_generate_stats local;
    struct fr_tf_generate_stats *s = stats ? stats : &local;
    struct fr_tf_state st;
    struct fr_sampler sp;
    struct gen g = {0};
    int have_state = 0, have_sampler = 0, rc;
    int B = c->batch, V = m->cfg.vocab_size;
    int64_t np = c->n_prompt;
    memset(s, 0, sizeof *s);
    if ((rc = check_config(m, c))) return rc;
    if (B < 1) return fr_error(FR_EINVAL, "generate: batch %d < 1", B);
    int64_t ctx = np + c->steps < m->cfg.max_seq ? np + c->steps : m->cfg.max_seq;
    if ((rc = fr_tf_state_init(&st, m, B, ctx, ctx, c->kv, np))) return rc;
    have_state = 1;
    if ((rc = fr_sampler_init(&sp, V, c->temperature, c->top_k, c->top_p, c->seed))) goto cleanup;
    have_sampler = 1;
    g.hcap = np + c->steps;
    g.logits = malloc(sizeof(float) * (size_t)V * (size_t)B);
    g.cur = malloc(sizeof(int32_t) * (size_t)B);
    g.prev = malloc(sizeof(int32_t) * (size_t)B);
    g.hist = malloc(sizeof(int32_t) * (size_t)(g.hcap * B));
    if (!g.logits || !g.cur || !g.prev || !g.hist) {
        rc = fr_error(FR_ENOMEM, "out of memory for generation");
        goto cleanup;
    }
    for (int b = 0; b < B; b++)
        memcpy(g.hist + b * g.hcap, c->prompt, (size_t)np * sizeof(int32_t));
    g.hlen = np;

    s->started = 1;
    double t0 = fr_seconds();
    for (int b = 0; b < B; b++) {
        if ((rc = fr_tf_prefill(&st, b, c->prompt, np, g.logits + (size_t)b * V, 0))) goto cleanup;
        g.cur[b] = fr_sample(&sp, g.logits + (size_t)b * V);
        g.prev[b] = c->prompt[np - 1];
    }
    double t1 = fr_seconds();
    s->prefill_seconds = t1 - t0;
    for (int64_t step = 0; step < c->steps; step++) {
        s->made++;
        int stop = c->on_token ? c->on_token(c->user, step, g.prev, g.cur) : 0;
        if (stop < 0) { /* the callback's error (it set the message) */
            rc = fr_last_error()[0] ? stop : fr_error(stop, "generate: the token callback failed");
            break;
        }
        if (stop) break;
        if (B == 1 && c->eos >= 0 && g.cur[0] == c->eos) break;
        if (step + 1 == c->steps) break;
        for (int b = 0; b < B; b++)
            g.hist[b * g.hcap + g.hlen] = g.cur[b];
        g.hlen++;
        rc = st.pos[0] + 1 > ctx ? slide(&st, &g, B, ctx, V) : fr_tf_decode(&st, g.cur, g.logits);
        if (rc) break;
        for (int b = 0; b < B; b++) {
            g.prev[b] = g.cur[b];
            g.cur[b] = fr_sample(&sp, g.logits + (size_t)b * V);
        }
    }
    s->decode_seconds = fr_seconds() - t1;
    s->kv_bytes = st.kv.bytes;
cleanup:
    gen_free(&g);
    if (have_sampler) fr_sampler_free(&sp);
    if (have_state) fr_tf_state_free(&st);
    return rc;
}

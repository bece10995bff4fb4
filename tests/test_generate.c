/* test_generate.c: fr_tf_generate (transformer.h), the decode loop of
 * `frugal generate`, on the shipped character-level Shakespeare model:
 * greedy tokens are the argmax of the training forward over prompt + tokens
 * so far (the KV path agrees with the plain one); past the context the
 * first token after the slide is the argmax over the last half of the
 * history; every sequence of a greedy batch is the batch-1 sequence; a
 * seed reproduces a sample; eos and the callback stop it; an eviction
 * policy holds fewer bytes; bad prompts are refused before anything
 * starts. */
#include "check.h"
#include "frugal/methods/kv.h"
#include "frugal/transformer.h"

#include <stdlib.h>
#include <string.h>

#define MODEL "data/shakespeare-char.safetensors"
#define MAXB 4
#define MAXS 256

/* What the callback saw: every sequence's tokens per step. */
struct seen {
    int32_t tok[MAXB][MAXS], prev[MAXB][MAXS];
    int batch;
    int64_t n;
    int64_t stop_at; /* return 1 at this step (-1: never) */
};

static int record(void *user, int64_t step, const int32_t *prev, const int32_t *tokens) {
    struct seen *s = user;
    for (int b = 0; b < s->batch; b++) {
        s->tok[b][step] = tokens[b];
        s->prev[b][step] = prev[b];
    }
    s->n = step + 1;
    return step == s->stop_at;
}

static struct fr_tf_generate_config greedy(const int32_t *prompt, int64_t np, int64_t steps,
                                           struct seen *s) {
    memset(s, 0, sizeof *s);
    s->batch = 1;
    s->stop_at = -1;
    struct fr_tf_generate_config c = {.prompt = prompt,
                                      .n_prompt = np,
                                      .steps = steps,
                                      .batch = 1,
                                      .temperature = 0,
                                      .top_p = 1,
                                      .eos = -1,
                                      .on_token = record,
                                      .user = s};
    return c;
}

/* The training forward's greedy next token after ids[0..n), and whether it
 * is clear (top two logits at least 1e-3 apart, so float noise cannot flip
 * it). */
static int32_t forward_argmax(struct fr_tf_model *m, const int32_t *ids, int64_t n, int *clear) {
    struct fr_ctx *ctx = fr_ctx_new(1 << 24);
    fr_set_training(ctx, 0);
    int g = fr_no_grad_begin(ctx);
    fr_t *tok = fr_new2(ctx, FR_I32, n, 1);
    memcpy(tok->data, ids, sizeof(int32_t) * (size_t)n);
    fr_t *lg = fr_tf_forward(ctx, m, tok, NULL);
    int V = m->cfg.vocab_size, best = 0;
    float b1 = -1e30f, b2 = -1e30f;
    for (int i = 0; lg && i < V; i++) {
        float v = ((float *)lg->data)[(n - 1) * V + i];
        if (v > b1)
            b2 = b1, b1 = v, best = i;
        else if (v > b2)
            b2 = v;
    }
    *clear = lg && b1 - b2 > 1e-3f;
    fr_no_grad_end(ctx, g);
    fr_ctx_free(ctx);
    return best;
}

static void test_greedy_is_forward_argmax(struct fr_tf_model *m, const int32_t *pr, int64_t np) {
    struct seen s;
    int64_t steps = 40;
    struct fr_tf_generate_config c = greedy(pr, np, steps, &s);
    struct fr_tf_generate_stats st;
    int rc = fr_tf_generate(m, &c, &st);
    CHECK(rc == 0 && st.started && st.made == steps && s.n == steps,
          "greedy: rc %d (%s), made %lld of %lld", rc, fr_last_error(), (long long)st.made,
          (long long)steps);
    int32_t ids[MAXS];
    memcpy(ids, pr, sizeof(int32_t) * (size_t)np);
    int agree = 0, clear_n = 0, prev_ok = 1;
    for (int64_t k = 0; k < steps; k++) {
        int clear;
        int32_t want = forward_argmax(m, ids, np + k, &clear);
        clear_n += clear;
        agree += clear && want == s.tok[0][k];
        prev_ok &= s.prev[0][k] == ids[np + k - 1];
        ids[np + k] = s.tok[0][k];
    }
    CHECK(clear_n >= steps / 2 && agree == clear_n,
          "greedy tokens are the training forward's argmax: %d of %d clear steps", agree, clear_n);
    CHECK(prev_ok, "prev[] is the token before each new one");
}

/* Past the context: at step s0 = ctx - np the state restarts from the last
 * ctx / 2 tokens of the history, so token s0 + 1 is the argmax over them. */
static void test_slide(struct fr_tf_model *m, const int32_t *pr, int64_t np) {
    struct seen s;
    int64_t steps = 3 * m->cfg.max_seq, ctx = m->cfg.max_seq, keep = ctx / 2, s0 = ctx - np;
    struct fr_tf_generate_config c = greedy(pr, np, steps, &s);
    struct fr_tf_generate_stats st;
    int rc = fr_tf_generate(m, &c, &st);
    CHECK(rc == 0 && st.made == steps, "slide: %lld tokens past a context of %lld: rc %d (%s)",
          (long long)st.made, (long long)ctx, rc, fr_last_error());
    int32_t hist[MAXS + 64];
    memcpy(hist, pr, sizeof(int32_t) * (size_t)np);
    memcpy(hist + np, s.tok[0], sizeof(int32_t) * (size_t)steps);
    int64_t hlen = np + s0 + 1;
    int clear;
    int32_t want = forward_argmax(m, hist + hlen - keep, keep, &clear);
    CHECK(!clear || want == s.tok[0][s0 + 1],
          "the first token after the slide is the argmax over the last %lld tokens: %d vs %d",
          (long long)keep, want, s.tok[0][s0 + 1]);
}

static void test_batch_and_seed(struct fr_tf_model *m, const int32_t *pr, int64_t np) {
    struct seen one, many;
    struct fr_tf_generate_config c = greedy(pr, np, 30, &one);
    fr_tf_generate(m, &c, NULL);
    c = greedy(pr, np, 30, &many);
    c.batch = many.batch = 3;
    int rc = fr_tf_generate(m, &c, NULL);
    int same = rc == 0 && many.n == 30;
    for (int b = 0; b < 3 && same; b++)
        same = memcmp(many.tok[b], one.tok[0], sizeof(int32_t) * 30) == 0;
    CHECK(same, "greedy batch of 3: every sequence is the batch-1 sequence (rc %d)", rc);

    struct seen a, b2;
    c = greedy(pr, np, 50, &a);
    c.temperature = 1.0f, c.top_k = 20, c.seed = 7;
    fr_tf_generate(m, &c, NULL);
    c.user = &b2;
    memset(&b2, 0, sizeof b2);
    b2.batch = 1, b2.stop_at = -1;
    fr_tf_generate(m, &c, NULL);
    CHECK(a.n == 50 && memcmp(a.tok[0], b2.tok[0], sizeof(int32_t) * 50) == 0,
          "a seed reproduces a sample");
}

static void test_stops(struct fr_tf_model *m, const int32_t *pr, int64_t np) {
    struct seen s;
    struct fr_tf_generate_config c = greedy(pr, np, 20, &s);
    struct fr_tf_generate_stats st;
    fr_tf_generate(m, &c, &st);
    int32_t first = s.tok[0][0];
    c = greedy(pr, np, 20, &s);
    c.eos = first;
    fr_tf_generate(m, &c, &st);
    CHECK(st.made == 1 && s.n == 1, "batch 1 stops after eos: made %lld", (long long)st.made);
    c = greedy(pr, np, 20, &s);
    c.eos = first;
    c.batch = s.batch = 2;
    fr_tf_generate(m, &c, &st);
    CHECK(st.made == 20, "a batch ignores eos: made %lld", (long long)st.made);
    c = greedy(pr, np, 20, &s);
    s.stop_at = 4;
    int rc = fr_tf_generate(m, &c, &st);
    CHECK(rc == 0 && st.made == 5 && s.n == 5, "the callback stops it: rc %d, made %lld", rc,
          (long long)st.made);
}

static void test_kv_policy(struct fr_tf_model *m, const int32_t *pr, int64_t np) {
    struct seen s;
    struct fr_tf_generate_config c = greedy(pr, np, 40, &s);
    struct fr_tf_generate_stats full, h2o;
    int rc = fr_tf_generate(m, &c, &full);
    struct fr_kv_config kc = {fr_kv_policy_find("h2o"), 4, 8, 0, NULL};
    c.kv = &kc;
    int rc2 = fr_tf_generate(m, &c, &h2o);
    CHECK(rc == 0 && rc2 == 0 && h2o.made == 40 && h2o.kv_bytes < full.kv_bytes,
          "h2o holds fewer bytes than the full cache: %zu vs %zu (%s)", h2o.kv_bytes, full.kv_bytes,
          fr_last_error());
}

static void test_errors(struct fr_tf_model *m) {
    struct seen s;
    int32_t *lng = calloc((size_t)m->cfg.max_seq, sizeof *lng);
    struct fr_tf_generate_config c = greedy(lng, m->cfg.max_seq, 5, &s);
    struct fr_tf_generate_stats st;
    int rc = fr_tf_generate(m, &c, &st);
    CHECK(rc == FR_EINVAL && !st.started && strstr(fr_last_error(), "fills the model's context"),
          "a prompt as long as the context: rc %d [%s]", rc, fr_last_error());
    int32_t bad[2] = {1, m->cfg.vocab_size};
    c = greedy(bad, 2, 5, &s);
    rc = fr_tf_generate(m, &c, &st);
    CHECK(rc == FR_EINVAL && !st.started && strstr(fr_last_error(), "outside the vocabulary"),
          "a prompt id outside the vocabulary: rc %d [%s]", rc, fr_last_error());
    c = greedy(lng, 0, 5, &s);
    CHECK(fr_tf_generate(m, &c, &st) == FR_EINVAL && !st.started, "an empty prompt");
    c = greedy(lng, 1, 0, &s);
    CHECK(fr_tf_generate(m, &c, &st) == FR_EINVAL, "zero steps");
    c = greedy(lng, 1, 5, &s);
    c.batch = 0;
    CHECK(fr_tf_generate(m, &c, &st) == FR_EINVAL, "batch 0");
    c = greedy(lng, 1, 5, &s);
    c.top_p = 2;
    CHECK(fr_tf_generate(m, &c, &st) == FR_EINVAL && !st.started, "a bad sampler setting");
    free(lng);
}

int main(void) {
    fr_threads_set(2);
    struct fr_tf_model m;
    FILE *f = fopen(MODEL, "rb");
    if (!f) return check_skip("test_generate", MODEL " is missing");
    fclose(f);
    /* an f32 slab, so the training forward can run on the same weights */
    if (fr_tf_load_ex(&m, MODEL, FR_TF_TRAINABLE)) {
        CHECK(0, "load %s: %s", MODEL, fr_last_error());
        return check_report("test_generate");
    }
    /* "ROMEO:" in the character vocabulary of tinyshakespeare */
    static const int32_t pr[] = {30, 27, 25, 17, 27, 10};
    int64_t np = (int64_t)(sizeof pr / sizeof pr[0]);
    test_greedy_is_forward_argmax(&m, pr, np);
    test_slide(&m, pr, np);
    test_batch_and_seed(&m, pr, np);
    test_stops(&m, pr, np);
    test_kv_policy(&m, pr, np);
    test_errors(&m);
    fr_tf_free(&m);
    return check_report("test_generate");
}

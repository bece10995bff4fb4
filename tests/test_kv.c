/* test_kv.c: the KV-cache eviction policies (src/methods/kv) through the
 * policy interface on hand-made heads (exact eviction choices) and through
 * the inference engine on the real stories260K LLaMA (GQA: 8 query heads on
 * 4 KV heads) and a random-weight model with 4 query heads per KV head.
 */
#include "check.h"
#include "frugal/kv.h"
#include "frugal/methods/kv.h"
#include "frugal/methods/kv_eval.h"
#include "frugal/threads.h"
#include "frugal/transformer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const POL[] = {"h2o", "heavy", "local", "sink", "tova"};
#define NPOL 5

/* ---- the interface on hand-made heads (head size 2, key row = (pos, pos)) */

struct mini {
    struct fr_kv_head h;
    float k[64], v[64], acc[32];
    int32_t pos[32];
};

static void mini_init(struct mini *m, int64_t cap) {
    memset(m, 0, sizeof *m);
    m->h.k = m->k, m->h.v = m->v, m->h.acc = m->acc, m->h.pos = m->pos, m->h.cap = cap;
}

static int mini_admit(const struct fr_kv_policy *p, const struct fr_kv_config *cfg, struct mini *m,
                      int32_t p0, int64_t T, const float *mass) {
    float k[64], v[64];
    int32_t pos[32];
    for (int64_t t = 0; t < T; t++) {
        pos[t] = p0 + (int32_t)t;
        k[2 * t] = k[2 * t + 1] = (float)pos[t];
        v[2 * t] = v[2 * t + 1] = -(float)pos[t];
    }
    return p->admit(&m->h, cfg, 0, k, v, pos, mass, T, 2);
}

static int64_t slot_of(const struct mini *m, int32_t pos) {
    for (int64_t i = 0; i < m->h.n; i++)
        if (m->pos[i] == pos) return i;
    return -1;
}

static void test_interface(void) {
    const struct fr_kv_policy *h2o = fr_kv_policy_find("h2o");
    CHECK(h2o && strcmp(h2o->name, "h2o") == 0, "h2o registered");
    CHECK(fr_kv_policy_find("nope") == NULL, "unknown policy is NULL");
    int np = 0;
    for (const char *const *n = fr_kv_policy_names(); *n; n++, np++)
        CHECK(fr_kv_policy_find(*n) != NULL, "listed policy %s found", *n);
    CHECK(np == 7, "seven policies listed (%d)", np);

    /* budgets: fractions of the prompt, or token counts */
    struct fr_kv_config c = {h2o, 0.1, 0.1, 0, NULL};
    CHECK(h2o->capacity(&c, 1000, 500) == 100, "20%% of 500 = 100 slots (%lld)",
          (long long)h2o->capacity(&c, 1000, 500));
    struct fr_kv_config ca = {h2o, 2, 2, 0, NULL};
    CHECK(h2o->capacity(&ca, 1000, 500) == 4, "2 + 2 tokens = 4 slots");
    CHECK(h2o->capacity(&ca, 3, 500) == 3, "capped at max_seq");

    /* decode eviction: lowest acc outside the recent window, slot reused */
    struct mini m;
    mini_init(&m, 4);
    float mass4[4] = {0.5f, 0.1f, 0.3f, 0.2f};
    CHECK(mini_admit(h2o, &ca, &m, 0, 4, mass4) == 0 && m.h.n == 4, "fill 4");
    float w0[4] = {0, 0, 0, 0}, m9 = 0.9f;
    h2o->observe(&m.h, &ca, w0);
    CHECK(mini_admit(h2o, &ca, &m, 4, 1, &m9) == 0, "admit pos 4");
    CHECK(m.h.n == 4 && m.pos[1] == 4 && m.acc[1] == 0.9f && m.k[2] == 4 && m.v[3] == -4,
          "pos 1 (acc 0.1, lowest outside window {3,4}) evicted, slot 1 reused: pos %d acc %g",
          m.pos[1], m.acc[1]);
    float w1[4] = {0, 0, 0.05f, 0}, m1 = 0.1f;
    h2o->observe(&m.h, &ca, w1);
    CHECK(mini_admit(h2o, &ca, &m, 5, 1, &m1) == 0, "admit pos 5");
    CHECK(m.pos[3] == 5 && slot_of(&m, 3) < 0 && slot_of(&m, 0) == 0 && slot_of(&m, 2) == 2,
          "pos 3 (acc 0.2 < 0.35 < 0.5) evicted although newer than pos 0 and 2");
    CHECK(m.acc[3] == 0.1f, "a reused slot's score restarts from the new token's mass (%g)",
          m.acc[3]);

    /* prefill bigger than the budget: selection from the chunk itself */
    mini_init(&m, 4);
    float mass8[8] = {0.9f, 0.1f, 0.2f, 0.8f, 0.05f, 0.3f, 0.0f, 0.0f};
    CHECK(mini_admit(h2o, &ca, &m, 0, 8, mass8) == 0, "prefill 8 into 4");
    CHECK(m.h.n == 4 && m.pos[0] == 0 && m.pos[1] == 3 && m.pos[2] == 6 && m.pos[3] == 7 &&
              m.k[2] == 3 && m.v[7] == -7 && m.acc[1] == 0.8f && m.h.seen == 8,
          "kept heavy {0, 3} + recent {6, 7} in position order: %d %d %d %d", m.pos[0], m.pos[1],
          m.pos[2], m.pos[3]);
    /* a second chunk: cached and new tokens compete */
    float mass3[3] = {0.95f, 0.0f, 0.0f};
    CHECK(mini_admit(h2o, &ca, &m, 8, 3, mass3) == 0 && m.h.n == 4, "chunk into a full head");
    CHECK(slot_of(&m, 8) >= 0 && slot_of(&m, 0) >= 0 && slot_of(&m, 9) >= 0 &&
              slot_of(&m, 10) >= 0 && slot_of(&m, 3) < 0,
          "kept 8 (0.95) and 0 (0.9) + recent 9, 10");

    /* h2o-anti (the counter-ablation): the same split, the heavy hitters go */
    const struct fr_kv_policy *anti = fr_kv_policy_find("h2o-anti");
    CHECK(anti != NULL, "h2o-anti registered");
    struct fr_kv_config cn = {anti, 2, 2, 0, NULL};
    mini_init(&m, 4);
    CHECK(anti && mini_admit(anti, &cn, &m, 0, 8, mass8) == 0, "anti: prefill 8 into 4");
    CHECK(m.h.n == 4 && slot_of(&m, 6) >= 0 && slot_of(&m, 7) >= 0 && slot_of(&m, 4) >= 0 &&
              slot_of(&m, 1) >= 0 && slot_of(&m, 0) < 0 && slot_of(&m, 3) < 0,
          "anti kept the lightest {4 (0.05), 1 (0.1)} + recent {6, 7}, evicted 0 and 3");
    mini_init(&m, 4);
    CHECK(anti && mini_admit(anti, &cn, &m, 0, 4, mass4) == 0, "anti: fill 4");
    if (anti) anti->observe(&m.h, &cn, w0);
    CHECK(anti && mini_admit(anti, &cn, &m, 4, 1, &m9) == 0 && slot_of(&m, 0) < 0 &&
              slot_of(&m, 1) >= 0,
          "anti decode: pos 0 (acc 0.5, the heaviest outside the window) evicted");

    /* heavy-only: the newest token survives its first step */
    const struct fr_kv_policy *hv = fr_kv_policy_find("heavy");
    struct fr_kv_config ch = {hv, 3, 0, 0, NULL};
    mini_init(&m, 3);
    float big[3] = {5, 5, 5}, zero = 0;
    mini_admit(hv, &ch, &m, 0, 3, big);
    mini_admit(hv, &ch, &m, 3, 1, &zero);
    CHECK(slot_of(&m, 3) >= 0 && m.h.n == 3, "heavy: new token kept although its score is lowest");

    /* sink: first tokens stay; local: the newest window */
    const struct fr_kv_policy *sk = fr_kv_policy_find("sink"), *lc = fr_kv_policy_find("local");
    struct fr_kv_config cs = {sk, 3, 3, 2, NULL};
    mini_init(&m, 6);
    for (int32_t p = 0; p < 20; p++)
        mini_admit(sk, &cs, &m, p, 1, &zero);
    int ok = m.h.n == 6 && slot_of(&m, 0) >= 0 && slot_of(&m, 1) >= 0;
    for (int32_t p = 16; p < 20; p++)
        ok = ok && slot_of(&m, p) >= 0;
    CHECK(ok, "sink 2 + recent 4 after 20 tokens");
    mini_init(&m, 5);
    mini_admit(lc, &cs, &m, 0, 12, NULL);
    ok = m.h.n == 5;
    for (int32_t p = 7; p < 12; p++)
        ok = ok && m.pos[p - 7] == p;
    CHECK(ok, "local prefill keeps the last 5 in order");
}

/* ---- through the engine ---- */

struct run {
    float *logits; /* steps x V */
    int32_t *toks;
    int64_t bytes, cap;
    int fails_budget, fails_new, fails_back, fails_sink, fails_gqa;
};

/* Prefills `np` tokens (in chunks of `chunk`), then decodes `steps` greedy
 * tokens, checking the cache after every step. */
static void run_policy(const struct fr_tf_model *m, const char *pol, double heavy, double recent,
                       int64_t np, int64_t steps, int64_t chunk, struct run *r) {
    int V = m->cfg.vocab_size, rep = m->cfg.n_heads / m->cfg.n_kv_heads;
    memset(r, 0, sizeof *r);
    struct fr_kv_config kc = {fr_kv_policy_find(pol), heavy, recent, 0, NULL};
    CHECK(kc.policy != NULL, "policy %s registered", pol);
    struct fr_tf_state s;
    int64_t L = np + steps;
    if (fr_tf_state_init(&s, m, 1, L, chunk, &kc, np)) {
        CHECK(0, "state init %s: %s", pol, fr_last_error());
        return;
    }
    r->logits = malloc(sizeof(float) * (size_t)(steps + 1) * V);
    r->toks = malloc(sizeof(int32_t) * (size_t)(L + 1));
    r->bytes = (int64_t)s.kv.bytes, r->cap = s.kv.cap;
    for (int64_t t = 0; t < np; t++)
        r->toks[t] = (int32_t)((t * 37 + 11) % V);
    int nh = m->cfg.n_layers * m->cfg.n_kv_heads;
    /* evicted[h][pos]: the position left head h */
    char *gone = calloc((size_t)nh * (L + 1), 1);
    CHECK(fr_tf_prefill(&s, 0, r->toks, np, r->logits, 0) == 0, "prefill: %s", fr_last_error());
    for (int64_t st = 0; st <= steps; st++) {
        int64_t seen = np + st; /* tokens in the sequence so far */
        for (int i = 0; i < nh; i++) {
            struct fr_kv_head *h = &s.kv.heads[i];
            if (h->n > h->cap || h->cap != s.kv.cap) r->fails_budget++;
            double sum = 0;
            int have_new = 0, sinks = 0;
            for (int64_t j = 0; j < h->n; j++) {
                if (h->pos[j] == seen - 1) have_new = 1;
                if (h->pos[j] < 4) sinks++;
                if (gone[(size_t)i * (L + 1) + h->pos[j]]) r->fails_back++;
                /* a slot's score holds at most one unit per query head per
                 * step since the token arrived: nothing inherited */
                if (h->acc[j] > (float)rep * (float)(seen - h->pos[j]) * 1.0001f + 1e-4f)
                    r->fails_back++;
                sum += h->acc[j];
            }
            if (!have_new) r->fails_new++;
            if (!strcmp(pol, "sink") && seen > 4 && sinks != 4) r->fails_sink++;
            /* full: every query row sums to 1 on each of the rep query heads */
            if (!strcmp(pol, "full") && fabs(sum - (double)rep * (double)seen) > 1e-3 * seen)
                r->fails_gqa++;
            /* record what is present, mark the rest gone */
            char *present = calloc((size_t)L + 1, 1);
            for (int64_t j = 0; j < h->n; j++)
                present[h->pos[j]] = 1;
            for (int64_t p = 0; p < seen; p++)
                if (!present[p]) gone[(size_t)i * (L + 1) + p] = 1;
            free(present);
        }
        float *lg = r->logits + st * V;
        int32_t best = 0;
        for (int v = 1; v < V; v++)
            if (lg[v] > lg[best]) best = v;
        r->toks[np + st] = best;
        if (st == steps) break;
        float tmp[4096];
        if (fr_tf_decode(&s, &best, tmp)) {
            CHECK(0, "decode %s: %s", pol, fr_last_error());
            break;
        }
        memcpy(r->logits + (st + 1) * V, tmp, sizeof(float) * V);
    }
    free(gone);
    fr_tf_state_free(&s);
}

static void run_free(struct run *r) {
    free(r->logits);
    free(r->toks);
}

static void test_engine(const struct fr_tf_model *m, const char *name) {
    int V = m->cfg.vocab_size;
    const int64_t np = 24, steps = 60;
    struct run full, r, r2;
    run_policy(m, "full", 0, 0, np, steps, np, &full);
    CHECK(full.fails_gqa == 0, "%s: acc sums = (query heads per KV head) x tokens (%d heads off)",
          name, full.fails_gqa);
    for (int p = 0; p < NPOL; p++) {
        /* a budget >= the sequence never evicts: bitwise the full cache */
        run_policy(m, POL[p], 60, 60, np, steps, np, &r);
        CHECK(memcmp(r.logits, full.logits, sizeof(float) * (steps + 1) * V) == 0,
              "%s %s: budget >= sequence gives the full-cache logits", name, POL[p]);
        run_free(&r);
        /* a binding budget (fraction of the prompt): checks on every step */
        run_policy(m, POL[p], 0.25, 0.25, np, steps, 5, &r);
        CHECK(r.cap == 12, "%s %s: 50%% of a 24-token prompt = 12 slots (%lld)", name, POL[p],
              (long long)r.cap);
        CHECK(r.fails_budget == 0, "%s %s: cache within budget", name, POL[p]);
        CHECK(r.fails_new == 0, "%s %s: new token present the step it arrives (%d misses)", name,
              POL[p], r.fails_new);
        CHECK(r.fails_back == 0, "%s %s: evicted tokens and scores never come back (%d)", name,
              POL[p], r.fails_back);
        CHECK(strcmp(POL[p], "sink") || r.fails_sink == 0, "%s sink keeps the first 4 (%d misses)",
              name, r.fails_sink);
        CHECK(memcmp(r.logits, full.logits, sizeof(float) * (steps + 1) * V) != 0,
              "%s %s: a binding budget changes the logits", name, POL[p]);
        run_free(&r);
    }
    /* heavy = 0 is local, prefill in one chunk or several */
    for (int64_t chunk = np; chunk >= 5; chunk -= 19) {
        run_policy(m, "h2o", 0, 9, np, steps, chunk, &r);
        run_policy(m, "local", 0, 9, np, steps, chunk, &r2);
        CHECK(memcmp(r.logits, r2.logits, sizeof(float) * (steps + 1) * V) == 0,
              "%s: h2o with heavy 0 equals local (chunk %lld)", name, (long long)chunk);
        run_free(&r);
        run_free(&r2);
    }
    /* the cache really is smaller */
    run_policy(m, "h2o", 0.1, 0.1, np, steps, np, &r);
    CHECK(r.bytes * (np + steps) == full.bytes * r.cap, "%s: kv bytes scale with the budget", name);
    /* deterministic */
    run_policy(m, "h2o", 0.1, 0.1, np, steps, np, &r2);
    CHECK(memcmp(r.toks, r2.toks, sizeof(int32_t) * (np + steps)) == 0 &&
              memcmp(r.logits, r2.logits, sizeof(float) * (steps + 1) * V) == 0,
          "%s: h2o decodes deterministically", name);
    run_free(&r);
    run_free(&r2);
    run_free(&full);
}

/* fr_kv_eval_stream's per-window NLL (the items intervals are made over)
 * averages to its overall NLL, and a study keeps one row per run. */
static void test_windows(const struct fr_tf_model *m) {
    enum { NW = 3, L = 48, P = 36 };
    int32_t ids[NW * L];
    for (int i = 0; i < NW * L; i++)
        ids[i] = (i * 7 + i / 5) % m->cfg.vocab_size;
    double wn[NW];
    struct fr_kv_eval_run r = {.window_nll = wn};
    struct fr_kv_config kc;
    fr_kv_eval_budget(&fr_kv_policy_h2o, 0.2, L, &kc);
    CHECK(fr_kv_eval_stream(m, ids, NW, L, P, &kc, NULL, NULL, &r) == 0, "stream: %s",
          fr_last_error());
    CHECK(r.window_nll == wn && fabs((wn[0] + wn[1] + wn[2]) / 3 - r.nll) < 1e-12 && wn[0] != wn[1],
          "window NLLs average to the run's NLL (%g %g %g vs %g)", wn[0], wn[1], wn[2], r.nll);
    CHECK(r.evicted > 0, "a prompt of 36 under a budget of 10 evicts (%g)", r.evicted);
    static const char *const pols[2] = {"h2o", "h2o-anti"};
    static const double buds[1] = {0.2};
    struct fr_kv_eval_opts o = {"t", pols, 2, buds, 1, L, P, NULL, NULL};
    struct fr_kv_study st;
    CHECK(fr_kv_eval_model(m, ids, NW, &o, &st) == 0, "study: %s", fr_last_error());
    const double *h = fr_kv_study_windows(&st, 0, 0), *full = fr_kv_study_windows(&st, -1, 0);
    CHECK(st.nwin == NW &&
              fabs((h[0] + h[1] + h[2]) / 3 - fr_kv_study_at(&st, 0, 0)->nll) < 1e-12 &&
              fabs((full[0] + full[1] + full[2]) / 3 - st.full.nll) < 1e-12,
          "study windows match the runs");
    fr_kv_study_free(&st);
}

int main(void) {
    fr_threads_set(2);
    test_interface();
    struct fr_tf_model m;
    if (fr_tf_load(&m, "data/stories260K.bin") == 0) {
        CHECK(m.cfg.n_heads == 2 * m.cfg.n_kv_heads, "stories260K has GQA");
        test_engine(&m, "stories260K");
        fr_tf_free(&m);
    } else {
        CHECK(0, "data/stories260K.bin: %s", fr_last_error());
    }
    struct fr_tf_config c = {.arch = FR_TF_LLAMA,
                             .dim = 64,
                             .hidden_dim = 96,
                             .n_layers = 2,
                             .n_heads = 8,
                             .n_kv_heads = 2,
                             .vocab_size = 40,
                             .max_seq = 128};
    CHECK(fr_tf_config_check(&c) == 0, "config");
    if (fr_tf_init(&m, &c, 7) == 0) {
        test_engine(&m, "random llama 8q/2kv");
        test_windows(&m);
        fr_tf_free(&m);
    }
    /* the registry: unknown names are NULL, a policy without admit is
     * refused by the cache and by the registry, a new one is found by name
     * and listed, a second under the same name is refused */
    struct fr_tf_state s;
    CHECK(fr_kv_policy_find("lru") == NULL, "unknown policy name finds nothing");
    static const struct fr_kv_policy broken = {"broken", NULL, NULL, NULL};
    struct fr_kv_config bad = {&broken, 0.1, 0.1, 0, NULL};
    fr_tf_init(&m, &c, 7);
    CHECK(fr_tf_state_init(&s, &m, 1, 16, 16, &bad, 8) != 0 && strstr(fr_last_error(), "broken"),
          "policy without admit rejected: %s", fr_last_error());
    CHECK(fr_kv_policy_register(&broken) != 0, "registry refuses a policy without admit");
    static struct fr_kv_policy window2; /* outlives its registration */
    struct fr_kv_policy *my = &window2;
    *my = fr_kv_policy_local;
    my->name = "window2";
    CHECK(fr_kv_policy_register(my) == 0, "register a new policy: %s", fr_last_error());
    CHECK(fr_kv_policy_find("window2") == my, "registered policy found by name");
    int listed = 0;
    for (const char *const *n = fr_kv_policy_names(); *n; n++)
        listed += !strcmp(*n, "window2");
    CHECK(listed == 1, "registered policy listed once");
    CHECK(fr_kv_policy_register(my) != 0 && strstr(fr_last_error(), "already"),
          "same name twice refused");
    struct fr_kv_config mc = {my, 0, 4, 0, NULL};
    CHECK(fr_tf_state_init(&s, &m, 1, 16, 16, &mc, 8) == 0, "registered policy runs: %s",
          fr_last_error());
    fr_tf_state_free(&s);
    fr_tf_free(&m);
    return check_report("test_kv");
}

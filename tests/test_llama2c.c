/* test_llama2c.c: the real stories260K llama2.c checkpoint against an
 * independent numpy reference (scripts/ref/llama2c_ref.py, float64):
 * logits of a fixed sequence to 1e-4 relative, identical greedy decoding from
 * BOS; one-pass prefill equals token-by-token prefill; batched decoding
 * equals single-sequence decoding; malformed checkpoints give clear errors.
 */
#include "check.h"
#include "frugal/transformer.h"

#include <stdlib.h>
#include <string.h>

#define MODEL "data/stories260K.bin"

#define REF "tests/data/stories260K_ref.txt"

/* Reads REF: a "tokens ..." line (at most 64 ids), a "greedy ..." line (at
 * most 128) and one line of V logits per token; '#' lines are comments.
 * Returns the number of logit rows, or -1 when the file is missing or
 * malformed (a failed CHECK says why): a fixture that ships with the repo
 * must never pass by being absent or short. */
static int read_ref(int32_t *tok, int *nt, int32_t *greedy, int *ng, float *logits, int V) {
    *nt = *ng = 0;
    FILE *f = fopen(REF, "r");
    CHECK(f != NULL, "%s is missing (it ships with the repo)", REF);
    if (!f) return -1;
    static char line[1 << 16];
    int row = 0, bad = 0;
    while (!bad && fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0') continue;
        char *p = line, *end;
        if (!strncmp(line, "tokens ", 7) || !strncmp(line, "greedy ", 7)) {
            int32_t *dst = line[0] == 't' ? tok : greedy;
            int *n = line[0] == 't' ? nt : ng, cap = line[0] == 't' ? 64 : 128;
            p += 7;
            for (long v; (v = strtol(p, &end, 10)), end != p; p = end) {
                if (*n == cap) {
                    CHECK(0, "%s: more than %d ids on a line", REF, cap);
                    bad = 1;
                    break;
                }
                dst[(*n)++] = (int32_t)v;
            }
            continue;
        }
        if (row == 64) {
            CHECK(0, "%s: more than 64 rows of logits", REF);
            bad = 1;
            break;
        }
        for (int i = 0; i < V; i++, p = end) {
            logits[(size_t)row * V + i] = strtof(p, &end);
            if (end == p) {
                CHECK(0, "%s: logit row %d has %d of %d values", REF, row, i, V);
                bad = 1;
                break;
            }
        }
        row++;
    }
    fclose(f);
    return bad ? -1 : row;
}

static void write_bad(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "cannot write %s", path);
    if (!f) return;
    fwrite(b, 1, n, f);
    fclose(f);
}

int main(void) {
    fr_threads_set(2);
    struct fr_tf_model m;
    int rc = fr_tf_load(&m, MODEL);
    CHECK(rc == 0, "load: %s", fr_last_error());
    if (rc) return check_report("test_llama2c");
    const struct fr_tf_config *c = &m.cfg;
    CHECK(c->dim == 64 && c->n_layers == 5 && c->n_heads == 8 && c->n_kv_heads == 4 &&
              c->vocab_size == 512 && c->hidden_dim == 172 && c->tied,
          "config read from the header");
    int V = c->vocab_size;
    int32_t tok[64], greedy[128];
    int nt, ng;
    float *ref = malloc(sizeof(float) * 64 * V);
    int rows = read_ref(tok, &nt, greedy, &ng, ref, V);
    /* the batched-decode check below prefills up to 7 of the tokens */
    CHECK(rows == nt && nt >= 7 && ng >= 2,
          "%s has %d rows of logits for %d tokens and %d greedy ids (needs one row per token, "
          ">= 7 tokens, >= 2 greedy ids)",
          REF, rows, nt, ng);
    if (rows != nt || nt < 7 || ng < 2) {
        free(ref);
        fr_tf_free(&m);
        return check_report("test_llama2c");
    }

    /* 1. logits of a fixed sequence in one prefill pass */
    struct fr_tf_state s;
    CHECK(fr_tf_state_init(&s, &m, 1, 512, 64, NULL, 0) == 0, "state: %s", fr_last_error());
    float *lg = malloc(sizeof(float) * 64 * V);
    CHECK(fr_tf_prefill(&s, 0, tok, nt, lg, 1) == 0, "prefill: %s", fr_last_error());
    double worst = 0;
    for (int i = 0; i < nt * V; i++) {
        double r = fabs(lg[i] - ref[i]) / (1e-4 * fmax(1.0, fabs(ref[i])));
        if (r > worst) worst = r;
    }
    CHECK(worst <= 1.0, "logits vs numpy reference: worst ratio to 1e-4 relative %.3g", worst);

    /* 2. token-by-token prefill gives the same logits */
    fr_tf_state_reset(&s, -1);
    float *lg1 = malloc(sizeof(float) * V);
    double w2 = 0;
    for (int t = 0; t < nt; t++) {
        fr_tf_prefill(&s, 0, tok + t, 1, lg1, 0);
        for (int i = 0; i < V; i++)
            w2 = fmax(w2, fabs(lg1[i] - lg[(size_t)t * V + i]));
    }
    CHECK(w2 < 1e-4, "one-pass vs token-by-token prefill differ by %g", w2);
    fr_tf_state_free(&s);

    /* 3. greedy decoding from BOS is identical to the reference */
    struct fr_tf_state g;
    fr_tf_state_init(&g, &m, 1, 512, 1, NULL, 0);
    struct fr_sampler sp;
    fr_sampler_init(&sp, V, 0, 0, 1, 1);
    int32_t cur = 1;
    int same = 1;
    for (int t = 1; t < ng; t++) {
        fr_tf_decode(&g, &cur, lg1);
        cur = fr_sample(&sp, lg1);
        if (cur != greedy[t]) {
            same = 0;
            fprintf(stderr, "greedy step %d: %d vs reference %d\n", t, cur, greedy[t]);
            break;
        }
    }
    CHECK(same, "greedy decode matches the reference for %d tokens", ng - 1);
    fr_sampler_free(&sp);
    fr_tf_state_free(&g);

    /* 4. batched decode (3 sequences, different prompts) equals one at a time */
    struct fr_tf_state bs;
    fr_tf_state_init(&bs, &m, 3, 128, 8, NULL, 0);
    float *lb = malloc(sizeof(float) * 3 * V);
    for (int b = 0; b < 3; b++)
        fr_tf_prefill(&bs, b, tok + b, 4 + b, lb, 0);
    int32_t in[3] = {5, 77, 300};
    fr_tf_decode(&bs, in, lb);
    double w3 = 0;
    for (int b = 0; b < 3; b++) {
        struct fr_tf_state one;
        fr_tf_state_init(&one, &m, 1, 128, 8, NULL, 0);
        fr_tf_prefill(&one, 0, tok + b, 4 + b, lg1, 0);
        fr_tf_decode(&one, &in[b], lg1);
        for (int i = 0; i < V; i++)
            w3 = fmax(w3, fabs(lg1[i] - lb[(size_t)b * V + i]));
        fr_tf_state_free(&one);
    }
    CHECK(w3 < 1e-4, "batched vs single decode differ by %g", w3);
    int32_t badtok = 9999;
    CHECK(fr_tf_decode(&bs, (int32_t[]){1, badtok, 2}, lb) != 0,
          "out-of-vocabulary token rejected");
    fr_tf_state_free(&bs);

    /* 5. sampling: temperature/top-k/top-p stay in the allowed set, seeded */
    float lgs[5] = {1, 3, 2, -1, 0.5f};
    struct fr_sampler s1, s2;
    fr_sampler_init(&s1, 5, 1.0f, 2, 1.0f, 7);
    fr_sampler_init(&s2, 5, 1.0f, 2, 1.0f, 7);
    int ok = 1;
    for (int i = 0; i < 200; i++) {
        float a[5], b2[5];
        memcpy(a, lgs, sizeof a);
        memcpy(b2, lgs, sizeof b2);
        int x = fr_sample(&s1, a), y = fr_sample(&s2, b2);
        if (x != y || (x != 1 && x != 2)) ok = 0;
    }
    CHECK(ok, "top-k 2 samples only the two best tokens, reproducibly");
    fr_sampler_free(&s1);
    fr_sampler_free(&s2);
    fr_sampler_init(&s1, 5, 1.0f, 0, 0.5f, 3);
    ok = 1;
    for (int i = 0; i < 100; i++) {
        float a[5];
        memcpy(a, lgs, sizeof a);
        if (fr_sample(&s1, a) != 1) ok = 0; /* p(best) = 0.63 > 0.5 */
    }
    CHECK(ok, "top-p 0.5 keeps only the most likely token here");
    fr_sampler_free(&s1);
    CHECK(fr_sampler_init(&s1, 5, -1, 0, 1, 1) != 0, "negative temperature rejected");
    CHECK(fr_sampler_init(&s1, 5, 1, 0, 1.5f, 1) != 0, "top-p > 1 rejected");

    /* 6. llama2.c version 1 (f32) and version 2 (int8) files, written by an
     * independent exporter (scripts/ref/llama2c_export.py, following
     * llama2.c's export.py): v1 gives exactly the legacy logits; v2 gives
     * exactly the logits of its dequantised weights in the legacy layout. */
    char prefix[768], v1[800], v2[800], v2deq[800], cmd[2048];
    snprintf(prefix, sizeof prefix, "%s", check_tmp("s260"));
    snprintf(v1, sizeof v1, "%s_v1.bin", prefix);
    snprintf(v2, sizeof v2, "%s_v2.bin", prefix);
    snprintf(v2deq, sizeof v2deq, "%s_v2deq_legacy.bin", prefix);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 scripts/ref/llama2c_export.py " MODEL " '%s' > /dev/null 2>&1",
             prefix);
    int py = system(cmd);
    CHECK(py == 0, "exporter ran (python3-numpy comes from scripts/install-deps.sh)");
    if (py == 0) {
        const char *pairs[2][2] = {{v1, MODEL}, {v2, v2deq}};
        for (int k = 0; k < 2; k++) {
            struct fr_tf_model a, b2m;
            int ra = fr_tf_load(&a, pairs[k][0]), rb = fr_tf_load(&b2m, pairs[k][1]);
            CHECK(ra == 0 && rb == 0, "load v%d: %s", k + 1, fr_last_error());
            if (ra || rb) continue;
            struct fr_tf_state sa, sb;
            fr_tf_state_init(&sa, &a, 1, 64, 64, NULL, 0);
            fr_tf_state_init(&sb, &b2m, 1, 64, 64, NULL, 0);
            float *la = malloc(sizeof(float) * nt * V), *lb2 = malloc(sizeof(float) * nt * V);
            fr_tf_prefill(&sa, 0, tok, nt, la, 1);
            fr_tf_prefill(&sb, 0, tok, nt, lb2, 1);
            CHECK(memcmp(la, lb2, sizeof(float) * nt * V) == 0,
                  "version %d file gives bit-identical logits", k + 1);
            free(la);
            free(lb2);
            fr_tf_state_free(&sa);
            fr_tf_state_free(&sb);
            fr_tf_free(&a);
            fr_tf_free(&b2m);
        }
    }

    /* 7. fr_tf_copy_weights (frugal convert): a slab copy of the mapped
     * llama2.c weights gives bit-identical logits */
    {
        struct fr_tf_model cp;
        CHECK(fr_tf_init(&cp, &m.cfg, 0) == 0 && fr_tf_copy_weights(&cp, &m) == 0,
              "copy weights: %s", fr_last_error());
        struct fr_tf_state sa, sb;
        fr_tf_state_init(&sa, &m, 1, 64, 64, NULL, 0);
        fr_tf_state_init(&sb, &cp, 1, 64, 64, NULL, 0);
        float *la = malloc(sizeof(float) * nt * V), *lb3 = malloc(sizeof(float) * nt * V);
        fr_tf_prefill(&sa, 0, tok, nt, la, 1);
        fr_tf_prefill(&sb, 0, tok, nt, lb3, 1);
        CHECK(memcmp(la, lb3, sizeof(float) * nt * V) == 0, "copied weights give the same logits");
        free(la);
        free(lb3);
        fr_tf_state_free(&sa);
        fr_tf_state_free(&sb);
        fr_tf_free(&cp);
    }

    /* 8. malformed checkpoints */
    FILE *f = fopen(MODEL, "rb");
    size_t n = 1056540;
    unsigned char *buf = malloc(n);
    CHECK(fread(buf, 1, n, f) == n, "read model");
    fclose(f);
    struct fr_tf_model bad;
    char trunc[768], dims[768], nanf[768], tiny[768];
    snprintf(trunc, sizeof trunc, "%s", check_tmp("trunc.bin"));
    snprintf(dims, sizeof dims, "%s", check_tmp("dims.bin"));
    snprintf(nanf, sizeof nanf, "%s", check_tmp("nan.bin"));
    snprintf(tiny, sizeof tiny, "%s", check_tmp("tiny.bin"));
    write_bad(trunc, buf, n - 100);
    CHECK(fr_tf_load(&bad, trunc) != 0 && strstr(fr_last_error(), "size"), "truncated: %s",
          fr_last_error());
    unsigned char *b2 = malloc(n);
    memcpy(b2, buf, n);
    int32_t heads = 7; /* dim 64 not a multiple of 7 */
    memcpy(b2 + 12, &heads, 4);
    write_bad(dims, b2, n);
    CHECK(fr_tf_load(&bad, dims) != 0, "wrong dims: %s", fr_last_error());
    memcpy(b2, buf, n);
    float nan = NAN;
    memcpy(b2 + 28 + 4 * 1000, &nan, 4);
    write_bad(nanf, b2, n);
    CHECK(fr_tf_load(&bad, nanf) != 0 && strstr(fr_last_error(), "finite"), "NaN weights: %s",
          fr_last_error());
    write_bad(tiny, buf, 10);
    CHECK(fr_tf_load(&bad, tiny) != 0, "10-byte file rejected");
    CHECK(fr_tf_load(&bad, "/nonexistent/model.bin") != 0 && strstr(fr_last_error(), "cannot open"),
          "missing file: %s", fr_last_error());
    free(buf);
    free(b2);
    free(ref);
    free(lg);
    free(lg1);
    free(lb);
    fr_tf_free(&m);
    return check_report("test_llama2c");
}

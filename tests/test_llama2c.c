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

static int read_ref(int32_t *tok, int *nt, int32_t *greedy, int *ng, float *logits, int V) {
    FILE *f = fopen("tests/data/stories260K_ref.txt", "r");
    if (!f) return -1;
    char line[1 << 16];
    *nt = *ng = 0;
    int row = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char *p = line, *end;
        if (!strncmp(line, "tokens ", 7) || !strncmp(line, "greedy ", 7)) {
            int32_t *dst = line[0] == 't' ? tok : greedy;
            int *n = line[0] == 't' ? nt : ng;
            p += 7;
            for (long v; (v = strtol(p, &end, 10)), end != p; p = end) dst[(*n)++] = (int32_t)v;
            continue;
        }
        for (int i = 0; i < V; i++, p = end) logits[(size_t)row * V + i] = strtof(p, &end);
        row++;
    }
    fclose(f);
    return row;
}

static void write_bad(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
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
    CHECK(rows == nt && nt > 0, "reference file has %d rows for %d tokens", rows, nt);

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
        for (int i = 0; i < V; i++) w2 = fmax(w2, fabs(lg1[i] - lg[(size_t)t * V + i]));
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
    for (int b = 0; b < 3; b++) fr_tf_prefill(&bs, b, tok + b, 4 + b, lb, 0);
    int32_t in[3] = {5, 77, 300};
    fr_tf_decode(&bs, in, lb);
    double w3 = 0;
    for (int b = 0; b < 3; b++) {
        struct fr_tf_state one;
        fr_tf_state_init(&one, &m, 1, 128, 8, NULL, 0);
        fr_tf_prefill(&one, 0, tok + b, 4 + b, lg1, 0);
        fr_tf_decode(&one, &in[b], lg1);
        for (int i = 0; i < V; i++) w3 = fmax(w3, fabs(lg1[i] - lb[(size_t)b * V + i]));
        fr_tf_state_free(&one);
    }
    CHECK(w3 < 1e-4, "batched vs single decode differ by %g", w3);
    int32_t badtok = 9999;
    CHECK(fr_tf_decode(&bs, (int32_t[]){1, badtok, 2}, lb) != 0, "out-of-vocabulary token rejected");
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
    int py = system("/usr/bin/python3 scripts/ref/llama2c_export.py " MODEL " /tmp/frugal_s260 "
                    "> /dev/null 2>&1");
    CHECK(py == 0, "exporter ran (python3-numpy comes from scripts/install-deps.sh)");
    if (py == 0) {
        const char *pairs[2][2] = {{"/tmp/frugal_s260_v1.bin", MODEL},
                                   {"/tmp/frugal_s260_v2.bin", "/tmp/frugal_s260_v2deq_legacy.bin"}};
        for (int k = 0; k < 2; k++) {
            struct fr_tf_model a, b2m;
            int ra = fr_tf_load(&a, pairs[k][0]), rb = fr_tf_load(&b2m, pairs[k][1]);
            CHECK(ra == 0 && rb == 0, "load v%d: %s", k + 1, fr_last_error());
            if (ra || rb) continue;
            struct fr_tf_state sa, sb;
            fr_tf_state_init(&sa, &a, 1, 64, 64, NULL, 0);
            fr_tf_state_init(&sb, &b2m, 1, 64, 64, NULL, 0);
            float *la = malloc(sizeof(float) * 24 * V), *lb2 = malloc(sizeof(float) * 24 * V);
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
        remove("/tmp/frugal_s260_v1.bin");
        remove("/tmp/frugal_s260_v2.bin");
        remove("/tmp/frugal_s260_v2deq_legacy.bin");
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
        float *la = malloc(sizeof(float) * 24 * V), *lb3 = malloc(sizeof(float) * 24 * V);
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
    write_bad("/tmp/frugal_trunc.bin", buf, n - 100);
    CHECK(fr_tf_load(&bad, "/tmp/frugal_trunc.bin") != 0 && strstr(fr_last_error(), "size"),
          "truncated: %s", fr_last_error());
    unsigned char *b2 = malloc(n);
    memcpy(b2, buf, n);
    int32_t heads = 7; /* dim 64 not a multiple of 7 */
    memcpy(b2 + 12, &heads, 4);
    write_bad("/tmp/frugal_dims.bin", b2, n);
    CHECK(fr_tf_load(&bad, "/tmp/frugal_dims.bin") != 0, "wrong dims: %s", fr_last_error());
    memcpy(b2, buf, n);
    float nan = NAN;
    memcpy(b2 + 28 + 4 * 1000, &nan, 4);
    write_bad("/tmp/frugal_nan.bin", b2, n);
    CHECK(fr_tf_load(&bad, "/tmp/frugal_nan.bin") != 0 && strstr(fr_last_error(), "finite"),
          "NaN weights: %s", fr_last_error());
    write_bad("/tmp/frugal_tiny.bin", buf, 10);
    CHECK(fr_tf_load(&bad, "/tmp/frugal_tiny.bin") != 0, "10-byte file rejected");
    CHECK(fr_tf_load(&bad, "/nonexistent/model.bin") != 0 &&
              strstr(fr_last_error(), "cannot open"),
          "missing file: %s", fr_last_error());
    remove("/tmp/frugal_trunc.bin");
    remove("/tmp/frugal_dims.bin");
    remove("/tmp/frugal_nan.bin");
    remove("/tmp/frugal_tiny.bin");
    free(buf);
    free(b2);
    free(ref);
    free(lg);
    free(lg1);
    free(lb);
    fr_tf_free(&m);
    return check_report("test_llama2c");
}

/* test_nb201.c: NAS-Bench-201 cells in the zoo (models.h, src/models/
 * nb201.c). The arch strings parse and print back for all 15625 cells, bad
 * strings fail with a message; the isomorphism classes number 6466 (the
 * benchmark's count) and known-equivalent cells share a key; parameter
 * counts and state_dict sizes equal PyTorch's for the twin in
 * scripts/ref/nb201_twin.py (computed with PyTorch 1.13, hard-coded here)
 * and a formula written from the module definitions; FLOPs equal a hand
 * count; the metadata round trip; a dead cell (nothing reaches the output)
 * runs; a network learns a fixed batch; odd maps at a reduction fail
 * clearly. The logits against the PyTorch twin: slow_nb201_ref. */
#include "check.h"
#include "frugal/models.h"
#include "frugal/optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const ALL3 =
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~"
    "2|";
static const char *const NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|";
/* node 2 gets nothing, yet a pool reads it (cell 9414: it stopped the first
 * ground-truth build) */
static const char *const ZERO_READ =
    "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_1x1~1|avg_pool_3x3~2|";
static const char *const CONV_ON_ZERO =
    "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|";
static const char *const MIXED =
    "|nor_conv_1x1~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_3x3~0|none~1|nor_conv_1x1~2|";

static void strings(void) {
    int ops[6], back[6], bad = 0;
    char buf[128];
    for (int64_t i = 0; i < FR_NB201_CELLS; i++) {
        fr_nb201_ops(i, ops);
        if (fr_nb201_index(ops) != i || fr_nb201_format(ops, buf, sizeof buf) ||
            fr_nb201_parse(buf, back) || memcmp(ops, back, sizeof ops))
            bad++;
    }
    CHECK(bad == 0, "%d of 15625 cells do not round-trip index -> ops -> string -> ops", bad);
    CHECK(fr_nb201_parse(MIXED, ops) == 0 && ops[0] == FR_NB201_CONV1 && ops[1] == FR_NB201_SKIP &&
              ops[2] == FR_NB201_POOL3 && ops[3] == FR_NB201_CONV3 && ops[4] == FR_NB201_NONE &&
              ops[5] == FR_NB201_CONV1,
          "parse %s: %s", MIXED, fr_last_error());
    CHECK(fr_nb201_format(ops, buf, sizeof buf) == 0 && !strcmp(buf, MIXED), "format: %s", buf);
    CHECK(fr_nb201_format(ops, buf, 20) != 0, "a short buffer must fail");
    static const struct {
        const char *s, *msg;
    } BAD[] = {
        {"", "not a cell string"},
        {"|nor_conv_3x3~0|", "not a cell string"},
        {"|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv'"},
        {"|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "~0|"},
        {"|none~0|+|none~0|none~1|+|none~0|none~1|none~2|x", "not a cell string"},
        {"|none~0||none~0|none~1|+|none~0|none~1|none~2|", "not a cell string"},
        {"|none~0|+|none~0|none~1|+|none~0|none~1|", "not a cell string"},
        {"none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "not a cell string"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        int rc = fr_nb201_parse(BAD[i].s, ops);
        CHECK(rc == FR_EINVAL && strstr(fr_last_error(), BAD[i].msg), "'%s': rc %d, '%s'", BAD[i].s,
              rc, fr_last_error());
    }
    CHECK(fr_nb201_parse(NULL, ops) == FR_EINVAL, "NULL must fail");
    /* a one-line message even for a string with control bytes (found by
     * fuzz_nasbench) */
    CHECK(fr_nb201_parse("|no\nne~0|+|x\n", ops) == FR_EINVAL && !strchr(fr_last_error(), '\n'),
          "message with a newline: %s", fr_last_error());
    CHECK(!strcmp(fr_nb201_op_name(FR_NB201_POOL3), "avg_pool_3x3") &&
              !strcmp(fr_nb201_op_name(9), "?"),
          "op names");
}

static void key_of(const char *s, char *key) {
    int ops[6];
    CHECK(fr_nb201_parse(s, ops) == 0, "%s: %s", s, fr_last_error());
    CHECK(fr_nb201_unique_key(ops, key, FR_NB201_KEY_MAX) == 0, "key: %s", fr_last_error());
}

static void isomorphism(void) {
    int64_t n = fr_nb201_unique(NULL, 0);
    CHECK(n == 6466, "%lld isomorphism classes, NAS-Bench-201 has 6466", (long long)n);
    int64_t *reps = malloc(sizeof(int64_t) * 6466);
    CHECK(fr_nb201_unique(reps, 6466) == 6466, "reps: %s", fr_last_error());
    int ok = reps[0] == 0;
    for (int i = 1; i < 6466; i++)
        ok &= reps[i] > reps[i - 1];
    CHECK(ok, "representatives ascending, the first is cell 0");
    CHECK(fr_nb201_unique(reps, 100) == FR_EINVAL, "too little room must fail");
    free(reps);
    char a[FR_NB201_KEY_MAX], b[FR_NB201_KEY_MAX];
    /* a skip then a conv equals the conv straight from the input */
    key_of("|skip_connect~0|+|none~0|none~1|+|none~0|nor_conv_3x3~1|none~2|", a);
    key_of("|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|", b);
    CHECK(!strcmp(a, b), "skip then conv vs conv: %s vs %s", a, b);
    /* an op on a dead node is zero: equal to none */
    key_of("|none~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|", a);
    key_of("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|", b);
    CHECK(!strcmp(a, b), "a conv reading a dead node: %s vs %s", a, b);
    /* different ops differ */
    key_of("|none~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|", a);
    key_of("|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|", b);
    CHECK(strcmp(a, b) != 0, "conv 1x1 and 3x3 share a key");
    int ops[6];
    fr_nb201_parse(NONE, ops);
    CHECK(!fr_nb201_alive(ops), "all-none is dead");
    fr_nb201_parse("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", ops);
    CHECK(!fr_nb201_alive(ops), "a conv into node 1 only is dead");
    fr_nb201_parse("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|avg_pool_3x3~1|none~2|", ops);
    CHECK(fr_nb201_alive(ops), "0 -> 1 -> 3 is alive");
}

static struct fr_model *make(const char *cell, int C, int N) {
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    CHECK(fr_nb201_parse(cell, mc.nb201.ops) == 0, "%s", fr_last_error());
    mc.nb201.c = C, mc.nb201.n = N;
    struct fr_model *m = fr_model_new("nb201", &mc, 5);
    CHECK(m != NULL, "nb201 %s: %s", cell, fr_last_error());
    return m;
}

/* trainable parameters from the module definitions: stem conv + BN;
 * ReLUConvBN edges k*k*c*c + 2c; reductions conv_a 9*c*2c + 4c, conv_b
 * 9*2c*2c + 4c, downsample c*2c; lastact 2*4C; classifier 4C*10 + 10. A
 * BN adds 2c + 1 state entries (running mean, var, num_batches_tracked). */
static int64_t formula(const int *ops, int C, int N, int64_t *state) {
    int64_t n = 9 * C + 2 * C, nbn = 1, bnc = C, c = C;
    for (int i = 0; i < 3 * N + 2; i++) {
        if (i == N || i == 2 * N + 1) {
            n += 9 * c * 2 * c + 4 * c + 9 * 4 * c * c + 4 * c + 2 * c * c;
            nbn += 2, bnc += 4 * c;
            c *= 2;
            continue;
        }
        for (int e = 0; e < 6; e++)
            if (ops[e] == FR_NB201_CONV1 || ops[e] == FR_NB201_CONV3) {
                int k = ops[e] == FR_NB201_CONV3 ? 3 : 1;
                n += (int64_t)k * k * c * c + 2 * c;
                nbn++, bnc += c;
            }
    }
    n += 2 * c + c * 10 + 10;
    nbn++, bnc += c;
    *state = n + 2 * bnc + nbn;
    return n;
}

static void counts(void) {
    static const struct {
        const char *cell;
        int C, N;
        int64_t trainable, state;
        int entries;
    } PT[] = {
        /* python3 scripts/ref/nb201_twin.py CELL C N (PyTorch 1.13) */
        {ALL3, 16, 1, 364666, 366578, 147}, {ALL3, 8, 2, 165090, 166748, 255},
        {NONE, 16, 1, 73018, 73568, 39},    {NONE, 8, 2, 18594, 18872, 39},
        {MIXED, 16, 1, 132826, 134057, 93}, {MIXED, 8, 2, 48834, 49802, 147},
    };
    for (size_t i = 0; i < sizeof PT / sizeof PT[0]; i++) {
        struct fr_model *m = make(PT[i].cell, PT[i].C, PT[i].N);
        if (!m) continue;
        int64_t state = 0, fstate;
        for (int j = 0; j < m->params.count; j++)
            state += fr_nelem(m->params.items[j].t);
        int64_t tr = fr_params_count_trainable(&m->params);
        CHECK(tr == PT[i].trainable && state == PT[i].state && m->params.count == PT[i].entries,
              "%s C%d N%d: %lld / %lld / %d, PyTorch %lld / %lld / %d", PT[i].cell, PT[i].C,
              PT[i].N, (long long)tr, (long long)state, m->params.count, (long long)PT[i].trainable,
              (long long)PT[i].state, PT[i].entries);
        CHECK(formula(m->cfg.nb201.ops, PT[i].C, PT[i].N, &fstate) == tr && fstate == state,
              "formula");
        fr_model_free(m);
    }
    struct fr_model *m = make(MIXED, 16, 1);
    if (!m) return;
    CHECK(fr_params_find(&m->params, "cells.0.layers.0.op.1.weight") &&
              fr_params_find(&m->params, "cells.0.layers.3.op.2.running_var") &&
              !fr_params_find(&m->params, "cells.0.layers.1.op.1.weight") &&
              fr_params_find(&m->params, "cells.1.downsample.1.weight") &&
              fr_params_find(&m->params, "cells.3.conv_b.op.2.weight") &&
              fr_params_find(&m->params, "cells.4.layers.5.op.1.weight") &&
              fr_params_find(&m->params, "lastact.0.bias") &&
              fr_params_find(&m->params, "classifier.weight") &&
              fr_params_find(&m->params, "stem.1.num_batches_tracked"),
          "NAS-Bench-201 names");
    CHECK(!strcmp(fr_model_head(m), "classifier"), "head");
    /* FLOPs (2 x MACs of convs and the linear) by hand, MIXED at C 16:
     * stem 28*28*16*9; stage 1 (28x28, 16): conv1x1 x2 + conv3x3;
     * reduction 1 (14x14, 16 -> 32): conv_a 9*16*32, conv_b 9*32*32,
     * down 16*32; stage 2 (14x14, 32); reduction 2 (7x7, 32 -> 64); stage
     * 3 (7x7, 64); classifier 64*10 */
    int64_t mac = 28 * 28 * 16 * 9;
    mac += 28 * 28 * (2 * 16 * 16 + 9 * 16 * 16);
    mac += 14 * 14 * (9 * 16 * 32 + 9 * 32 * 32 + 16 * 32);
    mac += 14 * 14 * (2 * 32 * 32 + 9 * 32 * 32);
    mac += 7 * 7 * (9 * 32 * 64 + 9 * 64 * 64 + 32 * 64);
    mac += 7 * 7 * (2 * 64 * 64 + 9 * 64 * 64);
    mac += 64 * 10;
    int64_t dense = 0, sparse = 0;
    CHECK(fr_model_flops(m, &dense, &sparse) == 0 && dense == 2 * mac,
          "flops %lld, by hand %lld: %s", (long long)dense, (long long)(2 * mac), fr_last_error());
    /* metadata round trip */
    char keys[FR_MODEL_META_MAX][64], vals[FR_MODEL_META_MAX][64];
    int n = fr_model_meta_write(m, keys, vals, FR_MODEL_META_MAX);
    const char *kp[FR_MODEL_META_MAX], *vp[FR_MODEL_META_MAX];
    int found = 0;
    for (int i = 0; i < n; i++) {
        kp[i] = keys[i], vp[i] = vals[i];
        if (!strcmp(keys[i], "nb201")) found = !strcmp(vals[i], "214302:16:1");
    }
    CHECK(found, "metadata nb201 = 214302:16:1");
    char arch[32];
    struct fr_model_config back;
    CHECK(fr_model_meta_read(n, kp, vp, arch, sizeof arch, &back) == 0 && !strcmp(arch, "nb201") &&
              !memcmp(back.nb201.ops, m->cfg.nb201.ops, sizeof back.nb201.ops) &&
              back.nb201.c == 16 && back.nb201.n == 1,
          "metadata round trip: %s", fr_last_error());
    static const char *const BADMETA[] = {"21340:16:1", "213405:16:1",  "214302:16",
                                          "214302:0:1", "214302:16:1x", "2143021:16:1"};
    for (size_t i = 0; i < sizeof BADMETA / sizeof BADMETA[0]; i++) {
        const char *k2[2] = {"arch", "nb201"}, *v2[2] = {"nb201", BADMETA[i]};
        CHECK(fr_model_meta_read(2, k2, v2, arch, sizeof arch, &back) == FR_EFORMAT &&
                  strstr(fr_last_error(), "OPS:C:N"),
              "bad metadata '%s': %s", BADMETA[i], fr_last_error());
    }
    fr_model_free(m);
    /* a cell on another arch, odd maps at a reduction */
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    mc.nb201.ops[0] = 3;
    CHECK(!fr_model_new("cnn", &mc, 1) && strstr(fr_last_error(), "for nb201"), "%s",
          fr_last_error());
    fr_model_config_defaults(&mc);
    mc.in_h = mc.in_w = 30;
    CHECK(!fr_model_new("nb201", &mc, 1) && strstr(fr_last_error(), "must be even"), "%s",
          fr_last_error());
}

/* Trains on 16 fixed random images. learns 1: the loss must halve in 30
 * steps; 0 (a dead cell): finite logits that do not depend on the input;
 * 2: 8 steps with a finite loss and finite logits. */
static void fit(const char *cell, int learns) {
    struct fr_model *m = make(cell, 8, 1);
    if (!m) return;
    const int B = 16;
    struct fr_ctx *ctx = fr_ctx_new(32 << 20);
    struct fr_tensor *x, *y;
    check_random_images(B, 7, &x, &y);
    struct fr_optim o;
    struct fr_optim_config oc;
    fr_optim_config_defaults(&oc, FR_OPT_ADAMW);
    oc.lr = 5e-3;
    fr_optim_init(&o, &m->params, &oc);
    double first = 0, last = 0;
    for (int s = 0; s < (learns == 1 ? 30 : 8); s++) {
        fr_params_zero_grad(&m->params);
        struct fr_tensor *loss = fr_cross_entropy(ctx, m->forward(m, ctx, x), y, 0.0f);
        CHECK(loss != NULL, "%s: forward: %s", cell, fr_last_error());
        if (!loss) break;
        last = fr_get(loss, 0);
        if (s == 0) first = last;
        fr_backward(ctx, loss);
        fr_optim_step(&o, -1);
        fr_ctx_reset(ctx);
    }
    CHECK(isfinite(last), "%s: loss %g", cell, last);
    if (learns == 1)
        CHECK(last < 0.5 * first, "%s: loss %g -> %g did not halve", cell, first, last);
    fr_set_training(ctx, 0);
    int g = fr_no_grad_begin(ctx);
    struct fr_tensor *lg = m->forward(m, ctx, x);
    int finite = lg != NULL, same = lg != NULL;
    for (int64_t i = 0; lg && i < fr_nelem(lg); i++) {
        finite &= isfinite(fr_get(lg, i));
        same &= fr_get(lg, i) == fr_get(lg, i % 10);
    }
    CHECK(finite, "%s: eval logits not finite", cell);
    if (learns == 0) CHECK(same, "a dead cell's logits must not depend on the input");
    fr_no_grad_end(ctx, g);
    fr_optim_free(&o);
    fr_tensor_free(x), fr_tensor_free(y);
    fr_ctx_free(ctx);
    fr_model_free(m);
}

int main(void) {
    fr_threads_set(2);
    strings();
    isomorphism();
    counts();
    fit(MIXED, 1);
    fit(ALL3, 1);
    fit(ZERO_READ, 2); /* runs: finite loss and logits */
    fit(CONV_ON_ZERO, 2);
    fit(NONE, 0);
    return check_report("test_nb201");
}

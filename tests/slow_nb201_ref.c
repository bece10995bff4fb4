/* slow_nb201_ref.c: the nb201 model's logits and the zero-shot NAS proxies
 * against an independent PyTorch
 * twin (scripts/ref/nb201_twin.py: NAS-Bench-201's TinyNetwork written out
 * from its module definitions, float64). For several cells (every op, a
 * dead cell, two cells per stage), the model takes a few training steps (so
 * the batch norms' running statistics are not their initial values), then
 * its parameters, an input batch and frugal's eval-mode logits are written
 * to one safetensors file; the twin loads the parameters by their names,
 * runs the same input and must agree to 1e-4 (relative to the largest
 * logit). Then the proxies (methods/nas.h) of freshly initialised networks
 * on a batch of Fashion-MNIST images: the twin loads the same initial
 * weights and batch and recomputes grad_norm, snip, grasp (exactly, by
 * double backward: frugal's gated f64 central difference must agree to
 * 1e-5), fisher,
 * synflow, jacob_cov, naswot, zico, gradsign and ntk from the reference
 * code's definitions (the tolerances are in the script). Skipped (77) when
 * /usr/bin/python3 lacks torch or numpy, or the dataset is missing. */
#include "check.h"
#include "frugal/data.h"
#include "frugal/io.h"
#include "frugal/methods/nas.h"
#include "frugal/models.h"
#include "frugal/optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define NAME "slow_nb201_ref"
#define SCRIPT "scripts/ref/nb201_twin.py"
#define PYTHON "/usr/bin/python3"

/* 0 agreed, 1 differed, CHECK_SKIP no torch, -1 failed to run */
static int one(const char *cell, int C, int N) {
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    CHECK(fr_nb201_parse(cell, mc.nb201.ops) == 0, "%s", fr_last_error());
    mc.nb201.c = C, mc.nb201.n = N;
    struct fr_model *m = fr_model_new("nb201", &mc, 11);
    CHECK(m != NULL, "%s: %s", cell, fr_last_error());
    if (!m) return -1;
    const int B = 6;
    struct fr_ctx *ctx = fr_ctx_new(32 << 20);
    struct fr_tensor *x = fr_tensor_new(FR_F32, 4, (int64_t[]){28, 28, 1, B});
    struct fr_tensor *y = fr_tensor_new(FR_I32, 1, (int64_t[]){B});
    struct fr_rng r;
    fr_rng_seed(&r, 3);
    fr_rng_fill_uniform(&r, x->data, fr_nelem(x), -1, 1);
    for (int i = 0; i < B; i++)
        ((int32_t *)y->data)[i] = i % 10;
    struct fr_optim o;
    struct fr_optim_config oc;
    fr_optim_config_defaults(&oc, FR_OPT_ADAMW);
    oc.lr = 1e-2;
    fr_optim_init(&o, &m->params, &oc);
    for (int s = 0; s < 5; s++) {
        fr_params_zero_grad(&m->params);
        struct fr_tensor *loss = fr_cross_entropy(ctx, m->forward(m, ctx, x), y, 0);
        CHECK(loss != NULL, "%s: %s", cell, fr_last_error());
        if (!loss) break;
        fr_backward(ctx, loss);
        fr_optim_step(&o, -1);
        fr_ctx_reset(ctx);
    }
    fr_set_training(ctx, 0);
    int g = fr_no_grad_begin(ctx);
    struct fr_tensor *lg = m->forward(m, ctx, x);
    fr_no_grad_end(ctx, g);
    int rc = -1;
    CHECK(lg != NULL, "eval: %s", fr_last_error());
    if (lg) {
        int n = m->params.count;
        struct fr_st_out *t = calloc((size_t)n + 2, sizeof *t);
        for (int i = 0; i < n; i++) {
            const struct fr_tensor *p = m->params.items[i].t;
            t[i] =
                (struct fr_st_out){m->params.items[i].name, FR_F32, FR_F32, p->ndim, {0}, p->data};
            memcpy(t[i].ne, p->ne, sizeof p->ne[0] * (size_t)p->ndim);
        }
        t[n] = (struct fr_st_out){"test.input", FR_F32, FR_F32, 4, {28, 28, 1, B}, x->data};
        t[n + 1] = (struct fr_st_out){"test.logits", FR_F32, FR_F32, 2, {10, B}, lg->data};
        char keys[FR_MODEL_META_MAX][64], vals[FR_MODEL_META_MAX][64];
        const char *kp[FR_MODEL_META_MAX], *vp[FR_MODEL_META_MAX];
        int nm = fr_model_meta_write(m, keys, vals, FR_MODEL_META_MAX);
        for (int i = 0; i < nm; i++)
            kp[i] = keys[i], vp[i] = vals[i];
        const char *path = check_tmp("nb201_ref.safetensors");
        CHECK(fr_st_write(path, t, n + 2, kp, vp, nm) == 0, "write: %s", fr_last_error());
        free(t);
        char cmd[2048];
        snprintf(cmd, sizeof cmd, PYTHON " " SCRIPT " --check '%s'", path);
        int st = system(cmd);
        rc = st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if (rc != CHECK_SKIP)
            CHECK(rc == 0, "%s C%d N%d: the twin disagrees (exit %d)", cell, C, N, rc);
    }
    fr_optim_free(&o);
    fr_tensor_free(x), fr_tensor_free(y);
    fr_ctx_free(ctx);
    fr_model_free(m);
    return rc;
}

/* Writes m's parameters, the batch, its labels and frugal's scores; runs
 * the twin. */
static int proxies(const char *cell, int C, const struct fr_dataset *ds) {
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    CHECK(fr_nb201_parse(cell, mc.nb201.ops) == 0, "%s", fr_last_error());
    mc.nb201.c = C, mc.nb201.n = 1;
    enum { B = 16 };
    int64_t idx[B];
    for (int i = 0; i < B; i++)
        idx[i] = 100 + i;
    struct fr_proxy_batch b = {ds, idx, B};
    double scores[FR_NPROXIES];
    for (int p = 0; p < FR_NPROXIES; p++) {
        scores[p] = NAN;
        if (p == FR_PROXY_ZEN || p == FR_PROXY_LINEAR_REGIONS) continue; /* own random inputs */
        CHECK(fr_proxy_score("nb201", &mc, p, &b, 5, &scores[p], NULL) == 0, "%s: %s",
              fr_proxy_name(p), fr_last_error());
    }
    struct fr_model *m = fr_model_new("nb201", &mc, 5); /* the weights the proxies saw */
    if (!m) return -1;
    float *x = malloc(sizeof(float) * B * 784);
    int32_t y[B];
    for (int i = 0; i < B; i++) {
        memcpy(x + i * 784, ds->x + idx[i] * 784, sizeof(float) * 784);
        y[i] = ds->y[idx[i]];
    }
    int n = m->params.count;
    struct fr_st_out *t = calloc((size_t)n + 3, sizeof *t);
    for (int i = 0; i < n; i++) {
        const struct fr_tensor *p = m->params.items[i].t;
        t[i] = (struct fr_st_out){m->params.items[i].name, FR_F32, FR_F32, p->ndim, {0}, p->data};
        memcpy(t[i].ne, p->ne, sizeof p->ne[0] * (size_t)p->ndim);
    }
    t[n] = (struct fr_st_out){"test.input", FR_F32, FR_F32, 4, {28, 28, 1, B}, x};
    t[n + 1] = (struct fr_st_out){"test.labels", FR_I32, FR_I32, 1, {B}, y};
    t[n + 2] = (struct fr_st_out){"test.scores", FR_F64, FR_F64, 1, {FR_NPROXIES}, scores};
    char keys[FR_MODEL_META_MAX][64], vals[FR_MODEL_META_MAX][64];
    const char *kp[FR_MODEL_META_MAX], *vp[FR_MODEL_META_MAX];
    int nm = fr_model_meta_write(m, keys, vals, FR_MODEL_META_MAX);
    for (int i = 0; i < nm; i++)
        kp[i] = keys[i], vp[i] = vals[i];
    const char *path = check_tmp("nb201_proxies.safetensors");
    CHECK(fr_st_write(path, t, n + 3, kp, vp, nm) == 0, "write: %s", fr_last_error());
    free(t), free(x);
    fr_model_free(m);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, PYTHON " " SCRIPT " --proxies '%s'", path);
    printf("proxies of %s (C %d):\n", cell, C);
    fflush(stdout);
    int st = system(cmd);
    int rc = st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (rc != CHECK_SKIP) CHECK(rc == 0, "%s: the twin's proxies disagree (exit %d)", cell, rc);
    return rc;
}

int main(void) {
    static const struct {
        const char *cell;
        int C, N;
    } CELLS[] = {
        {"|nor_conv_1x1~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_3x3~0|none~1|nor_conv_1x1~2|",
         16, 1},
        {"|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|"
         "nor_conv_3x3~2|",
         8, 2},
        {"|avg_pool_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|none~0|avg_pool_3x3~1|skip_connect~2|",
         8, 1},
        {"|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", 8, 1},
        /* ops reading a node nothing reaches: zeros through ReLU-conv-BN
         * are the BN's bias, not zero */
        {"|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|", 8, 1},
    };
    for (size_t i = 0; i < sizeof CELLS / sizeof CELLS[0]; i++)
        if (one(CELLS[i].cell, CELLS[i].C, CELLS[i].N) == CHECK_SKIP)
            return check_skip(NAME, "torch or numpy is not installed for " PYTHON);
    struct fr_dataset ds = {0};
    struct fr_data_spec spec = {"fashion-mnist", 0, 0, 0};
    if (fr_dataset_load(&ds, &spec, "/usr/share/datasets/fashion-mnist", 1, 200))
        return check_skip(NAME, "Fashion-MNIST is not installed");
    for (size_t i = 0; i < sizeof CELLS / sizeof CELLS[0]; i++)
        if (proxies(CELLS[i].cell, 8, &ds) == CHECK_SKIP) {
            fr_dataset_free(&ds);
            return check_skip(NAME, "torch or numpy is not installed for " PYTHON);
        }
    fr_dataset_free(&ds);
    return check_report(NAME);
}

/* test_optim.c: optimizers, clipping and schedules against torch.optim.
 * Expected values come from PyTorch 1.13 (/usr/bin/python3), running the
 * same three steps on w = [1, -2, 0.3] with gradient [0.5, 0.25, -0.75] *
 * (step + 1); they are hard-coded below. */
#include "check.h"
#include "frugal/optim.h"

#include <math.h>

static const float g_w0[3] = {1.0f, -2.0f, 0.3f};
static const float g_g[3] = {0.5f, 0.25f, -0.75f};

/* A slab with "w" (3, decayed), "b" (2, NO_DECAY) and "buf" (2, BUFFER). */
static void make(struct fr_params *p) {
    fr_params_init(p);
    fr_params_add(p, "w", 1, (int64_t[]){3}, 0);
    fr_params_add(p, "b", 1, (int64_t[]){2}, FR_PARAM_NO_DECAY);
    fr_params_add(p, "buf", 1, (int64_t[]){2}, FR_PARAM_BUFFER);
    fr_params_alloc(p);
    float *w = fr_params_find(p, "w")->t->data, *b = fr_params_find(p, "b")->t->data;
    float *buf = fr_params_find(p, "buf")->t->data;
    for (int i = 0; i < 3; i++)
        w[i] = g_w0[i];
    b[0] = 1.0f, b[1] = -1.0f;
    buf[0] = 7.0f, buf[1] = 8.0f;
}

static void run3(const char *what, struct fr_optim_config *oc, const double *expect) {
    struct fr_params p;
    make(&p);
    struct fr_optim o;
    CHECK(fr_optim_init(&o, &p, oc) == 0, "%s: init: %s", what, fr_last_error());
    struct fr_param *w = fr_params_find(&p, "w"), *b = fr_params_find(&p, "b");
    float *wg = w->t->grad->data, *bg = b->t->grad->data;
    float b_nodecay[2] = {1.0f, -1.0f};
    for (int s = 0; s < 3; s++) {
        for (int i = 0; i < 3; i++)
            wg[i] = g_g[i] * (float)(s + 1);
        bg[0] = bg[1] = 0.0f;
        fr_optim_step(&o, -1.0);
    }
    const float *wv = w->t->data, *bv = b->t->data, *buf = fr_params_find(&p, "buf")->t->data;
    char msg[64];
    for (int i = 0; i < 3; i++) {
        snprintf(msg, sizeof msg, "%s w[%d]", what, i);
        CHECK_NEAR(wv[i], expect[i], 2e-6 * (1 + fabs(expect[i])), msg);
    }
    /* zero gradient + NO_DECAY: untouched by decay; with zero moments, unchanged */
    CHECK(bv[0] == b_nodecay[0] && bv[1] == b_nodecay[1], "%s: no-decay bias moved: %g %g", what,
          bv[0], bv[1]);
    CHECK(buf[0] == 7.0f && buf[1] == 8.0f, "%s: buffer touched", what);
    CHECK(o.step == 3, "%s: step count %lld", what, (long long)o.step);
    fr_optim_free(&o);
    fr_params_free(&p);
}

static void test_steps(void) {
    struct fr_optim_config oc;
    fr_optim_config_defaults(&oc, FR_OPT_SGD);
    oc.lr = 0.1, oc.momentum = 0.9, oc.nesterov = 1, oc.weight_decay = 0.01;
    run3("sgd nesterov", &oc, (double[]){0.264890462, -2.34746695, 1.38820112});
    oc.nesterov = 0;
    run3("sgd momentum", &oc, (double[]){0.519184768, -2.22639465, 1.01113343});
    oc.momentum = 0;
    run3("sgd plain", &oc, (double[]){0.697202981, -2.14390612, 0.748800993});
    fr_optim_config_defaults(&oc, FR_OPT_ADAMW);
    oc.lr = 0.01, oc.weight_decay = 0.1;
    run3("adamw", &oc, (double[]){0.967800856, -2.02320838, 0.328303099});
    fr_optim_config_defaults(&oc, FR_OPT_ADAMW);
    run3("adamw defaults", &oc, (double[]){0.997046769, -2.00286293, 0.302914143});

    /* decay_all decays the NO_DECAY bias too: SGD lr 0.1 wd 0.5, zero grad:
     * b *= (1 - 0.05) per step. */
    struct fr_params p;
    make(&p);
    struct fr_optim o;
    fr_optim_config_defaults(&oc, FR_OPT_SGD);
    oc.weight_decay = 0.5, oc.decay_all = 1;
    fr_optim_init(&o, &p, &oc);
    fr_optim_step(&o, 0.1);
    CHECK_NEAR(((float *)fr_params_find(&p, "b")->t->data)[0], 0.95, 1e-7, "decay_all bias");
    fr_optim_free(&o);
    fr_params_free(&p);
}

static void test_bad_config(void) {
    struct fr_params p;
    make(&p);
    struct fr_optim o;
    struct fr_optim_config oc;
    fr_optim_config_defaults(&oc, FR_OPT_SGD);
    oc.nesterov = 1;
    CHECK(fr_optim_init(&o, &p, &oc) == FR_EINVAL, "nesterov without momentum accepted");
    fr_optim_config_defaults(&oc, FR_OPT_ADAMW);
    oc.beta2 = 1.0;
    CHECK(fr_optim_init(&o, &p, &oc) == FR_EINVAL, "beta2 = 1 accepted");
    oc.beta2 = 0.999, oc.lr = NAN;
    CHECK(fr_optim_init(&o, &p, &oc) == FR_EINVAL, "NaN lr accepted");
    CHECK(fr_optim_parse("adamw") == FR_OPT_ADAMW && fr_optim_parse("adam") == -1, "parse");
    fr_params_free(&p);
}

static void test_clip(void) {
    struct fr_params p;
    fr_params_init(&p);
    fr_params_add(&p, "a", 1, (int64_t[]){1}, 0);
    fr_params_add(&p, "b", 1, (int64_t[]){1}, 0);
    fr_params_add(&p, "buf", 1, (int64_t[]){1}, FR_PARAM_BUFFER);
    fr_params_alloc(&p);
    float *ga = fr_params_find(&p, "a")->t->grad->data,
          *gb = fr_params_find(&p, "b")->t->grad->data;
    float *gbuf = p.grad + fr_params_find(&p, "buf")->offset;
    ga[0] = 3.0f, gb[0] = 4.0f, gbuf[0] = 100.0f; /* a buffer's grad never counts */
    double n = fr_clip_grad_norm(&p, 1.0);
    CHECK_NEAR(n, 5.0, 1e-12, "clip: norm before");
    /* torch.nn.utils.clip_grad_norm_: [0.5999999046, 0.7999998331] */
    CHECK_NEAR(ga[0], 0.5999999046325684, 1e-7, "clip a");
    CHECK_NEAR(gb[0], 0.7999998331069946, 1e-7, "clip b");
    n = fr_clip_grad_norm(&p, 10.0);
    CHECK(fabs(n - 1.0) < 1e-6 && ga[0] == 0.5999999046325684f, "clip below max changed grads");
    /* a masked entry's gradient is discarded by the optimizer: not counted */
    fr_params_mask_init(&p);
    p.mask[fr_params_find(&p, "a")->offset] = 0.0f;
    ga[0] = 30.0f, gb[0] = 4.0f;
    n = fr_clip_grad_norm(&p, 10.0);
    CHECK(n == 4.0 && gb[0] == 4.0f, "clip with a mask: norm %g", n);
    fr_params_free(&p);
}

static void test_mask(void) {
    for (int kind = 0; kind < 2; kind++) {
        struct fr_params p;
        fr_params_init(&p);
        fr_params_add(&p, "w", 2, (int64_t[]){8, 4}, 0);
        fr_params_alloc(&p);
        fr_params_mask_init(&p);
        struct fr_rng r;
        fr_rng_seed(&r, 5);
        fr_rng_fill_uniform(&r, p.data, 32, -1, 1);
        for (int i = 0; i < 32; i += 3)
            p.mask[i] = 0.0f;
        fr_params_apply_mask(&p);
        struct fr_optim o;
        struct fr_optim_config oc;
        fr_optim_config_defaults(&oc, kind ? FR_OPT_ADAMW : FR_OPT_SGD);
        oc.momentum = kind ? 0 : 0.9;
        oc.weight_decay = 0.1;
        fr_optim_init(&o, &p, &oc);
        int bad = 0;
        for (int s = 0; s < 100; s++) {
            fr_rng_fill_uniform(&r, p.grad, 32, -1, 1); /* dense grads, as backward gives */
            fr_optim_step(&o, 0.01);
            for (int i = 0; i < 32; i += 3)
                bad += p.data[i] != 0.0f || o.m[i] != 0.0f || (o.v && o.v[i] != 0.0f);
        }
        int moved = 0;
        for (int i = 1; i < 32; i += 3)
            moved += o.m[i] != 0.0f;
        CHECK(bad == 0, "%s: masked entries nonzero %d times", kind ? "adamw" : "sgd", bad);
        CHECK(moved > 0, "%s: unmasked entries never updated", kind ? "adamw" : "sgd");
        fr_optim_free(&o);
        fr_params_free(&p);
    }
}

static void test_schedules(void) {
    struct fr_schedule s = {FR_SCHED_CONST, 0.1, 0, 0, 0, 0, 0};
    CHECK_NEAR(fr_schedule_lr(&s, 12345), 0.1, 0, "const");
    s.warmup_steps = 10;
    CHECK_NEAR(fr_schedule_lr(&s, 0), 0.01, 1e-15, "warmup 0");
    CHECK_NEAR(fr_schedule_lr(&s, 4), 0.05, 1e-15, "warmup 4");
    CHECK_NEAR(fr_schedule_lr(&s, 10), 0.1, 0, "after warmup");
    s = (struct fr_schedule){FR_SCHED_STEP, 0.1, 0, 100, 0.5, 0, 0};
    CHECK_NEAR(fr_schedule_lr(&s, 99), 0.1, 1e-15, "step 99");
    CHECK_NEAR(fr_schedule_lr(&s, 100), 0.05, 1e-15, "step 100");
    CHECK_NEAR(fr_schedule_lr(&s, 250), 0.025, 1e-15, "step 250");
    s = (struct fr_schedule){FR_SCHED_COSINE, 1.0, 0, 0, 0, 100, 0.1};
    CHECK_NEAR(fr_schedule_lr(&s, 0), 1.0, 1e-15, "cosine 0");
    CHECK_NEAR(fr_schedule_lr(&s, 50), 0.55, 1e-12, "cosine half");
    CHECK_NEAR(fr_schedule_lr(&s, 25), 0.1 + 0.9 * 0.5 * (1 + cos(M_PI / 4)), 1e-12, "cosine 25");
    CHECK_NEAR(fr_schedule_lr(&s, 100), 0.1, 1e-15, "cosine end");
    CHECK_NEAR(fr_schedule_lr(&s, 1000), 0.1, 1e-15, "cosine past end");
    s.warmup_steps = 20; /* cosine runs over steps 20..100 */
    CHECK_NEAR(fr_schedule_lr(&s, 19), 1.0, 1e-15, "warmup end");
    CHECK_NEAR(fr_schedule_lr(&s, 60), 0.55, 1e-12, "cosine half after warmup");
    CHECK(fr_schedule_parse("cosine") == FR_SCHED_COSINE &&
              fr_schedule_parse("none") == FR_SCHED_CONST && fr_schedule_parse("linear") == -1,
          "schedule parse");
}

int main(void) {
    test_steps();
    test_bad_config();
    test_clip();
    test_mask();
    test_schedules();
    return check_report("test_optim");
}

/* slow_vit_mim.c: does masked-patch pretraining of the zoo's ViT transfer?
 * (the measurement behind docs/sparsity.md, "Self-supervised ViT (masked
 * patches)").
 *
 * 1. Pretrain a vit with cfg.mim = 1 on the "pretrain" task's 50,000
 *    Fashion-MNIST training images (tasks.h) with fr_vit_mim_loss: batch
 *    128, AdamW lr 1e-3 cosine with 100 warmup steps, wd 0.05, mask ratio
 *    FRUGAL_MIM_RATIO (default 0.5), FRUGAL_MIM_EPOCHS epochs (default 10).
 *    No labels are used.
 * 2. Downstream on the other 10,000 training images (upright, 10 classes),
 *    evaluated on the 10,000 test images, each from random init and from
 *    the pretrained body (fr_model_transfer: every tensor but mask_token,
 *    mim_head and head):
 *      fine-tune      all weights, FRUGAL_FT_EPOCHS epochs (default 5),
 *                     AdamW lr 1e-3 cosine, wd 1e-4, batch 128
 *      linear probe   the same at lr 1e-2, but every tensor except head is
 *                     restored after each step (a frozen body)
 *    and the same fine-tune on the "few" task (20 labels per class).
 * Prints one line per run; fails if the MIM loss did not fall below 0.7x
 * its start or if the pretrained body does not beat the random body under
 * the linear probe (features that carry nothing would not).
 * Run: cmake --build build -j2 --target slow_vit_mim && build/tests/slow_vit_mim
 */
#include "check.h"
#include "frugal/data.h"
#include "frugal/experiments/tasks.h"
#include "frugal/models.h"
#include "frugal/train.h"

#include <stdlib.h>
#include <string.h>

struct mim_user {
    struct fr_rng rng;
    double ratio;
    double first; /* mean loss of the first 20 steps */
};

static struct fr_tensor *mim_loss(void *user, struct fr_model *m, struct fr_ctx *ctx,
                                  struct fr_tensor *x, struct fr_tensor *y) {
    struct mim_user *u = user;
    (void)y;
    return fr_vit_mim_loss(m, ctx, x, u->ratio, &u->rng);
}

static int mim_step(void *user, struct fr_model *m, int64_t step, int64_t total, double loss) {
    struct mim_user *u = user;
    (void)m;
    if (step <= 20) u->first += loss / 20;
    if (step % 390 == 0 || step == total)
        fprintf(stderr, "  mim step %lld/%lld loss %.4f\n", (long long)step, (long long)total,
                loss);
    return 0;
}

/* Linear probe: after each step put back every value but the head's. */
struct probe {
    float *saved; /* the slab as it was before training */
    int64_t head_off, head_n;
};

static int probe_step(void *user, struct fr_model *m, int64_t step, int64_t total, double loss) {
    struct probe *p = user;
    (void)step, (void)total, (void)loss;
    float *d = m->params.data;
    memcpy(d, p->saved, (size_t)p->head_off * sizeof(float));
    int64_t tail = p->head_off + p->head_n;
    memcpy(d + tail, p->saved + tail, (size_t)(m->params.n - tail) * sizeof(float));
    return 0;
}

static int env_int(const char *name, int def) {
    const char *s = getenv(name);
    return s && atoi(s) > 0 ? atoi(s) : def;
}

/* Downstream run: a fresh classifier (seed 2), optionally from pre, trained
 * on train, accuracy on test. */
static double downstream(const struct fr_model *pre, const struct fr_dataset *train,
                         const struct fr_dataset *test, int epochs, int64_t steps, int probe,
                         const char *what) {
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    mc.n_classes = train->nclass;
    struct fr_model *m = fr_model_new("vit", &mc, 2);
    double acc = NAN;
    struct probe pr = {0};
    if (!m) return NAN;
    if (pre && fr_model_transfer(m, pre) < 0) goto done;
    struct fr_fit_classifier_config fc;
    fr_fit_classifier_config_defaults(&fc);
    fc.epochs = epochs;
    fc.steps = steps;
    fc.batch = (int)(train->n < 128 ? train->n : 128);
    fc.seed = 3;
    if (probe) {
        fc.lr = 1e-2;
        struct fr_param *hw = fr_params_find(&m->params, "head.weight"),
                        *hb = fr_params_find(&m->params, "head.bias");
        pr.saved = malloc((size_t)m->params.n * sizeof(float));
        if (!pr.saved || !hw || !hb || hb->offset != hw->offset + fr_nelem(hw->t)) goto done;
        memcpy(pr.saved, m->params.data, (size_t)m->params.n * sizeof(float));
        pr.head_off = hw->offset;
        pr.head_n = fr_nelem(hw->t) + fr_nelem(hb->t);
        fc.on_step = probe_step;
        fc.step_user = &pr;
    }
    struct fr_fit_result res;
    if (fr_fit_classifier(m, train, NULL, NULL, &fc, &res) ||
        fr_evaluate(m, test, NULL, NULL, 0, &acc, NULL))
        acc = NAN;
    else
        printf("%-34s %s  test acc %.4f  (%lld steps, %.0f s)\n", what, pre ? "mim " : "rand", acc,
               (long long)res.steps, res.seconds);
done:
    if (isnan(acc)) fprintf(stderr, "%s: %s\n", what, fr_last_error());
    free(pr.saved);
    fr_model_free(m);
    return acc;
}

int main(void) {
    fr_threads_set(2);
    setvbuf(stdout, NULL, _IOLBF, 0); /* lines as they come when redirected */
    const int mim_epochs = env_int("FRUGAL_MIM_EPOCHS", 10);
    const int ft_epochs = env_int("FRUGAL_FT_EPOCHS", 5);
    const char *rs = getenv("FRUGAL_MIM_RATIO");
    const double ratio = rs ? atof(rs) : 0.5;
    struct fr_task pre = {0}, few = {0};
    struct fr_dataset all = {0}, down = {0};
    struct fr_model *m = NULL;
    if (fr_dataset_fashion_mnist(&all, NULL, 1, 0) != 0)
        return check_skip("slow_vit_mim", fr_last_error());
    int rc = fr_task_load(&pre, "pretrain", NULL, 0, 1) || fr_task_load(&few, "few", NULL, 0, 1) ||
             fr_dataset_take(&down, &all, FR_TASK_PRETRAIN_IMAGES, all.n - FR_TASK_PRETRAIN_IMAGES);
    CHECK(rc == 0, "the pretrain/few tasks and the downstream split: %s", fr_last_error());
    if (rc) goto done;
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    mc.mim = 1;
    m = fr_model_new("vit", &mc, 1);
    struct mim_user u = {.ratio = ratio};
    fr_rng_seed(&u.rng, 7);
    struct fr_fit_classifier_config fc;
    fr_fit_classifier_config_defaults(&fc);
    fc.epochs = mim_epochs;
    fc.wd = 0.05;
    fc.warmup_steps = 100;
    fc.loss = mim_loss;
    fc.loss_user = &u;
    fc.on_step = mim_step;
    fc.step_user = &u;
    struct fr_fit_result res;
    rc = m ? fr_fit_classifier(m, &pre.train, NULL, NULL, &fc, &res) : FR_EINVAL;
    CHECK(rc == 0, "mim pretraining: %s", fr_last_error());
    if (rc) goto done;
    printf("mim pretrain: ratio %.2f, %lld images, %d epochs, %lld steps, %.1f s (%.1f s/epoch), "
           "loss %.4f -> "
           "%.4f\n",
           ratio, (long long)pre.train.n, mim_epochs, (long long)res.steps, res.seconds,
           res.seconds / mim_epochs, u.first, res.last_loss);
    CHECK(res.last_loss < 0.7 * u.first, "mim loss %g -> %g", u.first, res.last_loss);

    double ft_r = downstream(NULL, &down, &pre.test, ft_epochs, 0, 0, "fine-tune 10k"),
           ft_m = downstream(m, &down, &pre.test, ft_epochs, 0, 0, "fine-tune 10k");
    double lp_r = downstream(NULL, &down, &pre.test, ft_epochs, 0, 1, "linear probe 10k"),
           lp_m = downstream(m, &down, &pre.test, ft_epochs, 0, 1, "linear probe 10k");
    double fw_r = downstream(NULL, &few.train, &few.test, 0, 300, 0, "fine-tune few (20/class)"),
           fw_m = downstream(m, &few.train, &few.test, 0, 300, 0, "fine-tune few (20/class)");
    CHECK(!isnan(ft_r + ft_m + lp_r + lp_m + fw_r + fw_m), "a downstream run failed");
    CHECK(lp_m > lp_r, "linear probe: pretrained body %.4f vs random body %.4f", lp_m, lp_r);
    printf("summary: fine-tune %.4f -> %.4f, linear probe %.4f -> %.4f, few %.4f -> %.4f "
           "(random init -> mim pretrained)\n",
           ft_r, ft_m, lp_r, lp_m, fw_r, fw_m);
done:
    fr_model_free(m);
    fr_dataset_free(&down);
    fr_dataset_free(&all);
    fr_task_free(&pre);
    fr_task_free(&few);
    return check_report("slow_vit_mim");
}

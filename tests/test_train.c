/* test_train.c: the trainer on Fashion-MNIST subsets.
 *  - MLP and CNN train a few hundred steps: the epoch loss falls and the
 *    test accuracy is far above chance;
 *  - resume: run A uninterrupted; run B checkpoints every k steps, is
 *    "killed" (stop_after_steps) between checkpoints, then resumed; A's and
 *    B's final checkpoints are byte-identical (weights, BN buffers) and
 *    their curves equal. Done for an AdamW + augmentation + cosine MLP and
 *    an SGD-Nesterov + step-schedule + clipping VGG (batch norm);
 *  - fr_eval_checkpoint reproduces the run's test accuracy;
 *  - corrupt, truncated and mismatched checkpoints and bad configs give a
 *    clear error, never a crash.
 * Skipped (77) when Fashion-MNIST is not installed. */
#include "check.h"
#include "frugal/clock.h"
#include "frugal/data.h"
#include "frugal/io.h"
#include "frugal/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_learns(const char *model, int64_t limit, int batch, int epochs, double min_acc) {
    struct fr_train_config c;
    fr_train_config_defaults(&c);
    c.model = model;
    c.limit_train = limit;
    c.limit_test = 2000;
    c.batch = batch;
    c.epochs = epochs;
    c.threads = 2;
    c.seed = 3;
    struct fr_train_result r;
    int rc = fr_train_run(&c, &r);
    CHECK(rc == 0, "%s: train: %s", model, fr_last_error());
    if (rc) return;
    CHECK(r.epochs_run == epochs && r.steps == epochs * ((limit - limit / 10 + batch - 1) / batch),
          "%s: %d epochs, %lld steps", model, r.epochs_run, (long long)r.steps);
    CHECK(r.train_loss[0] < 2.0 && r.train_loss[epochs - 1] < r.train_loss[0],
          "%s: epoch losses %g -> %g", model, r.train_loss[0], r.train_loss[epochs - 1]);
    CHECK(r.test_acc >= min_acc && r.best_val_acc >= min_acc,
          "%s: test acc %g, val %g (want >= %g)", model, r.test_acc, r.best_val_acc, min_acc);
    CHECK(r.peak_arena_bytes > 0 && r.n_params > 0 && r.seconds > 0, "%s: result fields", model);
    printf("%s: %lld steps, loss %.4f -> %.4f, val %.4f, test %.4f, %.2f s, arena peak %.1f MB\n",
           model, (long long)r.steps, r.train_loss[0], r.train_loss[epochs - 1], r.best_val_acc,
           r.test_acc, r.seconds, r.peak_arena_bytes / 1e6);
    fr_train_result_free(&r);
}

/* A uninterrupted vs B killed after `kill_at` steps (checkpoints every
 * ckpt_every and at epoch ends; spe steps per epoch) and resumed: final
 * checkpoints must be byte-identical. */
static void test_resume(struct fr_train_config base, int ckpt_every, int64_t kill_at, int64_t spe) {
    double t0 = fr_seconds();
    const char *model = base.model;
    char outA[768], outB[768], ck[768];
    snprintf(outA, sizeof outA, "%s", check_tmp("A.safetensors"));
    snprintf(outB, sizeof outB, "%s", check_tmp("B.safetensors"));
    snprintf(ck, sizeof ck, "%s", check_tmp("B.ckpt"));
    unlink(ck);
    unlink(outA);
    unlink(outB);
    struct fr_train_config a = base;
    a.out = outA;
    struct fr_train_result ra, rb, rb2;
    int rc = fr_train_run(&a, &ra);
    CHECK(rc == 0, "%s resume: run A: %s", model, fr_last_error());
    if (rc) return;

    struct fr_train_config b = base;
    b.ckpt = ck;
    b.ckpt_every = ckpt_every;
    b.stop_after_steps = kill_at;
    b.out = outB;
    rc = fr_train_run(&b, &rb);
    CHECK(rc == 0 && rb.interrupted && rb.steps == kill_at && access(outB, F_OK) != 0,
          "%s resume: run B stop: rc %d interrupted %d steps %lld (%s)", model, rc, rb.interrupted,
          (long long)rb.steps, fr_last_error());
    fr_train_result_free(&rb);
    b.stop_after_steps = 0;
    b.resume = 1;
    rc = fr_train_run(&b, &rb2);
    CHECK(rc == 0, "%s resume: run B resume: %s", model, fr_last_error());
    if (rc) {
        fr_train_result_free(&ra);
        return;
    }
    /* the last checkpoint before the kill: every ckpt_every steps and at epoch ends */
    int64_t expect_from = kill_at / ckpt_every * ckpt_every;
    if (kill_at / spe * spe > expect_from) expect_from = kill_at / spe * spe;
    CHECK(rb2.resumed && rb2.resumed_step == expect_from, "%s: resumed at %lld, expected %lld",
          model, (long long)rb2.resumed_step, (long long)expect_from);
    CHECK(rb2.steps == ra.steps && rb2.epochs_run == ra.epochs_run, "%s: steps %lld vs %lld", model,
          (long long)rb2.steps, (long long)ra.steps);
    CHECK(check_same_file(outA, outB), "%s: resumed weights differ from the uninterrupted run",
          model);
    int same_curves = rb2.epochs_run == ra.epochs_run;
    for (int i = 0; same_curves && i < ra.epochs_run; i++)
        same_curves = ra.train_loss[i] == rb2.train_loss[i] && ra.val_acc[i] == rb2.val_acc[i];
    CHECK(same_curves && ra.test_acc == rb2.test_acc, "%s: curves / test acc differ after resume",
          model);

    /* the final checkpoint evaluates to the run's test accuracy */
    double acc = -1;
    if (base.limit_test == 0) {
        rc = fr_eval_checkpoint(outA, NULL, 100, &acc);
        CHECK(rc == 0 && acc == ra.test_acc, "%s: eval_checkpoint %g vs %g (%s)", model, acc,
              ra.test_acc, fr_last_error());
        /* a run checkpoint (extra state tensors ignored) holds the same weights */
        rc = fr_eval_checkpoint(ck, NULL, 100, &acc);
        CHECK(rc == 0 && acc == ra.test_acc, "%s: eval of run checkpoint: %g (%s)", model, acc,
              fr_last_error());
    }

    /* a different config refuses to resume from it */
    struct fr_train_config m = b;
    m.batch = base.batch + 1;
    rc = fr_train_run(&m, &rb);
    CHECK(rc == FR_EINVAL && strstr(fr_last_error(), "train.batch"), "%s: mismatch: %d %s", model,
          rc, fr_last_error());
    m = b;
    m.model = strcmp(model, "mlp") == 0 ? "cnn" : "mlp";
    rc = fr_train_run(&m, &rb);
    CHECK(rc != 0 && strstr(fr_last_error(), "arch"), "%s: model mismatch: %s", model,
          fr_last_error());
    printf("%s resume: bit-identical after a kill at step %lld (%.2f s)\n", model,
           (long long)kill_at, fr_seconds() - t0);
    fr_train_result_free(&ra);
    fr_train_result_free(&rb2);
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "cannot write %s", path);
    if (!f) return;
    fwrite(p, 1, n, f);
    fclose(f);
}

static void test_bad_checkpoints(void) {
    struct fr_train_config c;
    fr_train_config_defaults(&c);
    c.model = "mlp";
    c.limit_train = 300;
    c.limit_test = 100;
    c.epochs = 1;
    c.batch = 64;
    char ckpt[768];
    snprintf(ckpt, sizeof ckpt, "%s", check_tmp("bad.ckpt"));
    c.ckpt = ckpt;
    c.resume = 1;
    struct fr_train_result r;

    write_bytes(c.ckpt, "this is not a checkpoint at all", 31);
    int rc = fr_train_run(&c, &r);
    CHECK(rc != 0 && strstr(fr_last_error(), "bad.ckpt"), "garbage checkpoint: rc %d, '%s'", rc,
          fr_last_error());
    double acc;
    CHECK(fr_eval_checkpoint(c.ckpt, NULL, 64, &acc) != 0, "eval of garbage checkpoint succeeded");

    /* a valid checkpoint, then truncated */
    unlink(c.ckpt);
    c.resume = 0;
    rc = fr_train_run(&c, &r);
    CHECK(rc == 0, "writing a checkpoint: %s", fr_last_error());
    fr_train_result_free(&r);
    unsigned char *bytes = NULL;
    long n = check_slurp(c.ckpt, &bytes);
    CHECK(n > 1000, "checkpoint size %ld", n);
    if (n > 1000) {
        write_bytes(c.ckpt, bytes, (size_t)n / 2);
        c.resume = 1;
        rc = fr_train_run(&c, &r);
        CHECK(rc != 0 && *fr_last_error(), "truncated checkpoint: rc %d, '%s'", rc,
              fr_last_error());
        /* flip bytes in the JSON header */
        memcpy(bytes + 8, "{\"x\":[", 6);
        write_bytes(c.ckpt, bytes, (size_t)n);
        rc = fr_train_run(&c, &r);
        CHECK(rc != 0 && *fr_last_error(), "corrupt header: rc %d, '%s'", rc, fr_last_error());
    }
    free(bytes);
    unlink(c.ckpt);
    CHECK(fr_eval_checkpoint(c.ckpt, NULL, 64, &acc) == FR_EIO, "eval of missing file: %s",
          fr_last_error());
}

static void test_bad_config(void) {
    struct fr_train_config c;
    struct fr_train_result r;
    fr_train_config_defaults(&c);
    c.model = "transformer9000";
    c.limit_train = 100;
    CHECK(fr_train_run(&c, &r) != 0 && strstr(fr_last_error(), "transformer9000"),
          "unknown model: %s", fr_last_error());
    fr_train_config_defaults(&c);
    c.opt = "adam";
    CHECK(fr_train_run(&c, &r) == FR_EINVAL && strstr(fr_last_error(), "adam"), "bad opt: %s",
          fr_last_error());
    fr_train_config_defaults(&c);
    c.batch = 0;
    CHECK(fr_train_run(&c, &r) == FR_EINVAL, "batch 0 accepted");
    fr_train_config_defaults(&c);
    c.data = "cifar-100";
    CHECK(fr_train_run(&c, &r) == FR_ENOTFOUND, "unknown dataset accepted");
    fr_train_config_defaults(&c);
    c.data_dir = "/nonexistent/dir";
    CHECK(fr_train_run(&c, &r) != 0 && strstr(fr_last_error(), "/nonexistent/dir"),
          "missing data dir: %s", fr_last_error());
    fr_train_config_defaults(&c);
    c.resume = 1;
    CHECK(fr_train_run(&c, &r) == FR_EINVAL, "resume without a path accepted");
}

int main(void) {
    /* every part but the config checks trains on Fashion-MNIST, and those
     * may look for the data first: without it the test cannot run */
    struct fr_dataset ds;
    if (fr_dataset_fashion_mnist(&ds, NULL, 0, 1) != 0)
        return check_skip("test_train", fr_last_error());
    fr_dataset_free(&ds);
    fr_threads_set(2);
    test_bad_config();
    test_bad_checkpoints();
    test_learns("mlp", 6400, 32, 2, 0.75);
    test_learns("cnn", 3200, 32, 2, 0.70);

    struct fr_train_config c;
    fr_train_config_defaults(&c);
    c.model = "mlp";
    c.limit_train = 2000; /* 1800 train / 50 = 36 steps per epoch, 108 in all */
    c.batch = 50;
    c.epochs = 3;
    c.opt = "adamw";
    c.schedule = "cosine";
    c.warmup_steps = 10;
    c.augment = 1;
    c.threads = 2;
    test_resume(c, 20, 50, 36);

    fr_train_config_defaults(&c);
    c.model = "vgg-small";
    c.limit_train = 160; /* 144 train / 16 = 9 steps per epoch, 18 in all */
    c.limit_test = 100;
    c.batch = 16;
    c.epochs = 2;
    c.opt = "sgd";
    c.lr = 0.05;
    c.momentum = 0.9;
    c.nesterov = 1;
    c.schedule = "step";
    c.step_every = 1;
    c.step_gamma = 0.5;
    c.clip = 1.0;
    c.threads = 2;
    test_resume(c, 4, 11, 9); /* killed in epoch 2, resumes from the epoch-end checkpoint */

    return check_report("test_train");
}

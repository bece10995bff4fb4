/* slow_train_cnn.c: the CNN's default recipe (fr_train_config_defaults)
 * on full Fashion-MNIST must reach >= 88% test accuracy. Prints the wall
 * time, per-epoch seconds and the arena peak (labelled slow: minutes).
 * Skipped (77) when Fashion-MNIST is not installed. */
#include "check.h"
#include "frugal/data.h"
#include "frugal/train.h"

#include <stdio.h>

static void progress(void *user, int epoch, int64_t step, int64_t total, double loss, double lr,
                     int epoch_end, double val_acc) {
    (void)user;
    if (epoch_end)
        printf("epoch %d: train loss %.4f, val acc %.4f\n", epoch, loss, val_acc);
    else if (step % 100 == 0)
        printf("  step %lld/%lld loss %.4f lr %.2e\n", (long long)step, (long long)total, loss, lr);
    fflush(stdout);
}

int main(void) {
    struct fr_dataset ds;
    if (fr_dataset_fashion_mnist(&ds, NULL, 0, 1) != 0)
        return check_skip("slow_train_cnn", fr_last_error());
    fr_dataset_free(&ds);
    struct fr_train_config c;
    fr_train_config_defaults(&c);
    c.model = "cnn";
    c.threads = 2;
    c.progress = progress;
    struct fr_train_result r;
    int rc = fr_train_run(&c, &r);
    CHECK(rc == 0, "train: %s", fr_last_error());
    if (rc == 0) {
        printf("cnn default recipe (%s, lr %g, batch %d, %d epochs, %s, 2 threads): test acc %.4f, "
               "%.1f s total, arena peak %.1f MB, %lld params\n",
               c.opt, c.lr, c.batch, c.epochs, c.schedule, r.test_acc, r.seconds,
               r.peak_arena_bytes / 1e6, (long long)r.n_params);
        for (int i = 0; i < r.epochs_run; i++)
            printf("  epoch %d: %.2f s (incl. validation), loss %.4f, val %.4f\n", i,
                   r.epoch_seconds[i], r.train_loss[i], r.val_acc[i]);
        CHECK(r.test_acc >= 0.88, "test accuracy %.4f below 0.88", r.test_acc);
        fr_train_result_free(&r);
    }
    return check_report("slow_train_cnn");
}

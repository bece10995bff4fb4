/* repro_fashion_cnn.c: the core baseline every method builds on: the small
 * CNN trained on Fashion-MNIST with the trainer's default recipe. --quick
 * trains one epoch on a 10k-image subset; the full run uses every image
 * and the default epoch count. */
#include "cmd.h"
#include "repro.h"

#include <stdio.h>

int repro_fashion_cnn(const struct repro_opts *o) {
    struct fr_train_config cfg;
    char dir[4096], ckpt[4200];
    fr_train_config_defaults(&cfg);
    cfg.model = "cnn";
    cfg.data = "fashion-mnist";
    cfg.data_dir = o->data_dir;
    cfg.seed = o->seed;
    cfg.threads = (int)o->threads;
    if (o->quick) {
        cfg.epochs = 1;
        cfg.limit_train = 10000;
    }
    snprintf(dir, sizeof dir, "%s/fashion-cnn", o->out);
    snprintf(ckpt, sizeof ckpt, "%s/model.safetensors", dir);
    cfg.out = ckpt;
    struct cli_run_info info = {
        .name = "fashion-cnn",
        .title = o->quick ? "Fashion-MNIST small CNN baseline (quick: 1 epoch, 10k images)"
                          : "Fashion-MNIST small CNN baseline",
        .paper = "baseline",
        .claim = "The core baseline the method reproductions build on: frugal's small CNN "
                 "trained from scratch on Fashion-MNIST with the default recipe (SGD with "
                 "momentum). Its epoch time and accuracy are set beside PyTorch's by "
                 "bench/bench_train_cnn.sh.",
        .command = o->command,
        .results_dir = dir,
    };
    return cli_train_and_record("repro", &cfg, &info);
}

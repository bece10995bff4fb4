/* cmd_train.c: `frugal train`: train an image classifier (from scratch, or
 * from a checkpoint with --init), then write results.json, the loss and
 * accuracy plots, and print `test acc NN.NN%` (cli_train_and_record, which
 * `demo` shares; fr_train_run_recorded underneath).
 *
 * Flag defaults come from fr_train_config_defaults, so `--help` always shows
 * what the trainer really does. Values are range-checked here (usage error,
 * exit 2) before any data is read.
 */
#include "args.h"
#include "cmd.h"

#include "frugal/data.h"
#include "frugal/dist.h"
#include "frugal/methods/dst.h"
#include "frugal/methods/kd.h"
#include "frugal/models.h"
#include "frugal/status.h"
#include "frugal/train.h"

#include <stdio.h>
#include <string.h>

static const char *const MODELS[] = {"mlp",      "cnn",  "resnet20", "vgg-small", "vit",
                                     "convnext", "slak", "nb201",    NULL};
static const char *const DATASETS[] = {"fashion-mnist", "fashion-canvas", NULL};
static const char *const OPTS[] = {"sgd", "adamw", NULL};
static const char *const SCHEDULES[] = {"none", "step", "cosine", NULL};
static const char *const PRECISIONS[] = {"f32", "bf16", NULL};
static const char *const DSTS[] = {"none", "static", "set", "rigl", "mest", "chase", NULL};
static const char *const DST_INITS[] = {"erk", "uniform", NULL};

/* The DST line after the run: kept weights and channels. */
static void dst_summary(const struct fr_dst_run *r) {
    if (fr_dist_rank() > 0 || r->scope == 0) return;
    printf("dst %s: %lld of %lld weights kept (%.2f%%, target %lld), %lld updates",
           fr_dst_method_name(r->c.method), (long long)r->nnz, (long long)r->scope,
           100.0 * (double)r->nnz / (double)r->scope, (long long)r->target, (long long)r->updates);
    if (r->channels > 0)
        printf(", %lld of %lld prunable channels alive (frugal shrink makes them a narrower "
               "model)",
               (long long)r->channels_alive, (long long)r->channels);
    printf("\n");
}

int cmd_train(int argc, char **argv) {
    struct fr_train_config cfg;
    fr_train_config_defaults(&cfg);
    cfg.data_dir = DEFAULT_DATA_DIR;
    int64_t epochs = cfg.epochs, batch = cfg.batch, warmup = cfg.warmup_steps,
            step_every = cfg.step_every, patience = cfg.patience, threads = cfg.threads,
            seed = (int64_t)cfg.seed, ckpt_every = cfg.ckpt_every, progress_every = 0;
    const char *out = "", *ckpt = "", *results = "out/train", *init = "";
    struct fr_dst_config dc;
    fr_dst_config_defaults(&dc);
    const char *dst = "none", *dst_init = "erk";
    struct fr_kd_config kc;
    fr_kd_config_defaults(&kc);
    const char *teacher = "";
    static const char *const KD_LOSSES[] = {"kd", "nkd", "fd", NULL};
    int64_t update_every = dc.update_every, channel_every = 0, width_mult = 1;
    int64_t bucket_kb = -1, small_kernel = 0, canvas = FR_CANVAS_SIDE, clutter = FR_CANVAS_CLUTTER;
    const char *kernels = "", *cell = "";
    int64_t cell_c = FR_NB201_DEFAULT_C, cell_n = FR_NB201_DEFAULT_N;
    /* clang-format off */
    struct arg_flag flags[] = {
        {.name = "model", .type = ARG_STR, .dst = &cfg.model, .choices = MODELS,
         .help = "architecture (with --init: the checkpoint's)"},
        {.name = "width-mult", .type = ARG_INT, .dst = &width_mult, .min = 1, .max = 64,
         .help = "resnet20, vgg-small: every width times this (a wide ResNet-20 with 2 or 4)"},
        {.name = "cell", .type = ARG_STR, .dst = &cell,
         .help = "nb201: the NAS-Bench-201 cell, e.g. "
                 "'|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|"
                 "nor_conv_3x3~2|' (ops none, skip_connect, nor_conv_1x1, nor_conv_3x3, "
                 "avg_pool_3x3)"},
        {.name = "cell-channels", .type = ARG_INT, .dst = &cell_c, .min = 1, .max = 4096,
         .help = "nb201: channels of the first stage (C; then 2C, 4C)"},
        {.name = "cells-per-stage", .type = ARG_INT, .dst = &cell_n, .min = 1, .max = 64,
         .help = "nb201: cells per stage (N)"},
        {.name = "init", .type = ARG_STR, .dst = &init,
         .help = "start from this checkpoint's weights and keep-mask (e.g. from frugal prune; "
                 "pruned weights stay zero) instead of a fresh init (\"\" = none)"},
        {.name = "data", .type = ARG_STR, .dst = &cfg.data, .choices = DATASETS, .help = "dataset"},
        {.name = "canvas", .type = ARG_INT, .dst = &canvas, .min = 28, .max = 1024,
         .help = "--data fashion-canvas: the canvas side"},
        {.name = "clutter", .type = ARG_INT, .dst = &clutter, .max = 256,
         .help = "--data fashion-canvas: 8x8 fragments of other items per canvas"},
        {.name = "data-dir", .type = ARG_STR, .dst = &cfg.data_dir,
         .help = "directory with the dataset's IDX .gz files"},
        {.name = "epochs", .type = ARG_INT, .dst = &epochs, .min = 1, .max = 100000,
         .help = "passes over the training set"},
        {.name = "batch", .type = ARG_INT, .dst = &batch, .min = 1, .max = 65536,
         .help = "minibatch size"},
        {.name = "opt", .type = ARG_STR, .dst = &cfg.opt, .choices = OPTS, .help = "optimizer"},
        {.name = "lr", .type = ARG_DOUBLE, .dst = &cfg.lr, .max = 10, .open_min = 1,
         .help = "peak learning rate"},
        {.name = "momentum", .type = ARG_DOUBLE, .dst = &cfg.momentum, .max = 1, .open_max = 1,
         .help = "SGD momentum (AdamW: beta1 is fixed)"},
        {.name = "nesterov", .type = ARG_BOOL, .dst = &cfg.nesterov, .help = "Nesterov momentum (SGD)"},
        {.name = "wd", .type = ARG_DOUBLE, .dst = &cfg.wd, .max = 1,
         .help = "weight decay (decoupled for AdamW)"},
        {.name = "schedule", .type = ARG_STR, .dst = &cfg.schedule, .choices = SCHEDULES,
         .help = "learning-rate schedule after warmup"},
        {.name = "warmup", .type = ARG_INT, .dst = &warmup, .max = 1e9,
         .help = "linear warmup steps"},
        {.name = "step-gamma", .type = ARG_DOUBLE, .dst = &cfg.step_gamma, .max = 1,
         .help = "step schedule: lr factor"},
        {.name = "step-every", .type = ARG_INT, .dst = &step_every, .min = 1, .max = 100000,
         .help = "step schedule: epochs between decays"},
        {.name = "clip", .type = ARG_DOUBLE, .dst = &cfg.clip, .max = 1e9,
         .help = "clip the global gradient norm to this (0 = off)"},
        {.name = "val-frac", .type = ARG_DOUBLE, .dst = &cfg.val_frac, .max = 0.9,
         .help = "fraction of training images held out for validation"},
        {.name = "patience", .type = ARG_INT, .dst = &patience, .max = 100000,
         .help = "stop after this many epochs without val improvement (0 = off)"},
        {.name = "augment", .type = ARG_BOOL, .dst = &cfg.augment,
         .help = "random crop (pad 2) and horizontal flip"},
        {.name = "kernels", .type = ARG_STR, .dst = &kernels,
         .help = "convnext, slak: depthwise kernel of each of the 3 stages, e.g. 13,11,5 (odd; 0 or "
                 "empty: slak's scaled SLaK sizes, convnext's 7x7)"},
        {.name = "small-kernel", .type = ARG_INT, .dst = &small_kernel, .max = 63,
         .help = "slak: the small branch's kernel (0: 5)"},
        {.name = "limit-train", .type = ARG_INT, .dst = &cfg.limit_train, .max = 1e12,
         .help = "use only the first N training images (0 = all)"},
        {.name = "limit-test", .type = ARG_INT, .dst = &cfg.limit_test, .max = 1e12,
         .help = "evaluate on only the first N test images (0 = all)"},
        {.name = "threads", .type = ARG_INT, .dst = &threads, .max = 256,
         .help = "worker threads (0 = all cores)"},
        {.name = "bucket-kb", .type = ARG_INT, .dst = &bucket_kb, .min = -1, .max = 1 << 22,
         .help = "under mpirun: all-reduce the gradients in buckets of this many KiB, each "
                 "started during the backward pass; 0: one all-reduce after it; -1: buckets of "
                 "256 KiB when the ranks span several machines, one all-reduce on one machine"},
        {.name = "local-bn", .type = ARG_BOOL, .dst = &cfg.local_bn,
         .help = "under mpirun: batch norm uses each rank's slice's statistics (PyTorch DDP's "
                 "default) instead of the whole batch's"},
        {.name = "seed", .type = ARG_INT, .dst = &seed, .max = 1e18,
         .help = "seed for init, shuffling and augmentation"},
        {.name = "precision", .type = ARG_STR, .dst = &cfg.precision, .choices = PRECISIONS,
         .help = "GEMM precision: bf16 multiplies in bfloat16 (AMX or AVX512-BF16), sums and keeps "
                 "weights in f32"},
        {.name = "dst", .type = ARG_STR, .dst = &dst, .choices = DSTS,
         .help = "dynamic sparse training: static (fixed ERK mask), set, rigl, mest or chase "
                 "(none = dense)"},
        {.name = "density", .type = ARG_DOUBLE, .dst = &dc.density, .max = 1, .open_min = 1,
         .help = "--dst: fraction of the prunable weights kept"},
        {.name = "dst-init", .type = ARG_STR, .dst = &dst_init, .choices = DST_INITS,
         .help = "--dst: initial per-layer densities"},
        {.name = "update-every", .type = ARG_INT, .dst = &update_every, .min = 1, .max = 1e12,
         .help = "--dst: steps between prune-and-grow updates"},
        {.name = "drop-frac", .type = ARG_DOUBLE, .dst = &dc.drop_frac, .max = 1, .open_min = 1,
         .open_max = 1, .help = "--dst set/rigl: swapped fraction at the start (cosine-decayed)"},
        {.name = "mest-extra", .type = ARG_DOUBLE, .dst = &dc.mest_extra, .max = 1,
         .help = "--dst mest/chase: the soft memory bound's extra density (cosine-decayed)"},
        {.name = "update-end", .type = ARG_DOUBLE, .dst = &dc.update_end, .max = 1,
         .help = "--dst: fraction of the run where updates end (chase: where RigL swaps take "
                 "over; 0 = 0.75 set/rigl, 0.8 mest/chase)"},
        {.name = "channel-sparsity", .type = ARG_DOUBLE, .dst = &dc.channel_sparsity, .max = 1,
         .open_max = 1, .help = "--dst chase: fraction of prunable channels removed (S_c)"},
        {.name = "gmp-end", .type = ARG_DOUBLE, .dst = &dc.gmp_end, .max = 1,
         .help = "--dst chase: fraction of the run where channel removal ends (0 = 0.8)"},
        {.name = "channel-every", .type = ARG_INT, .dst = &channel_every, .max = 1e12,
         .help = "--dst chase: steps between channel removals (0 = 2 x update-every)"},
        {.name = "beta", .type = ARG_DOUBLE, .dst = &dc.beta, .max = 1, .open_min = 1,
         .help = "--dst chase: no layer keeps fewer than C (1 - S_c) beta channels"},
        {.name = "teacher", .type = ARG_STR, .dst = &teacher,
         .help = "distil from this classifier checkpoint (same classes and image size; a slak "
                 "teacher runs re-parameterised)"},
        {.name = "kd", .type = ARG_STR, .dst = &kc.loss, .choices = KD_LOSSES,
         .help = "--teacher: kd = alpha T^2 KL + (1 - alpha) CE, nkd = CE + NKD, fd = CE + "
                 "SmoothL1 between the student's projected last feature map and the teacher's "
                 "(a convnext student)"},
        {.name = "fd-beta", .type = ARG_DOUBLE, .dst = &kc.beta, .max = 100,
         .help = "--teacher --kd fd: SmoothL1's beta (0 = mean squared error)"},
        {.name = "kd-alpha", .type = ARG_DOUBLE, .dst = &kc.alpha, .max = 1,
         .help = "--teacher --kd kd: weight of the distillation term"},
        {.name = "kd-t", .type = ARG_DOUBLE, .dst = &kc.T, .max = 100, .open_min = 1,
         .help = "--teacher: temperature"},
        {.name = "nkd-gamma", .type = ARG_DOUBLE, .dst = &kc.gamma, .max = 100,
         .help = "--teacher --kd nkd: weight of the non-target term"},
        {.name = "out", .type = ARG_STR, .dst = &out,
         .help = "final checkpoint (.safetensors; \"\" = RESULTS/model.safetensors)"},
        {.name = "ckpt", .type = ARG_STR, .dst = &ckpt,
         .help = "periodic checkpoint for --resume (\"\" = none)"},
        {.name = "ckpt-every", .type = ARG_INT, .dst = &ckpt_every, .max = 1e12,
         .help = "steps between periodic checkpoints (0 = each epoch end)"},
        {.name = "resume", .type = ARG_BOOL, .dst = &cfg.resume,
         .help = "continue from --ckpt when it exists"},
        {.name = "stop-after", .type = ARG_INT, .dst = &cfg.stop_after_steps, .max = 1e12,
         .help = "stop after this many steps as if killed (tests --resume; 0 = never)"},
        {.name = "results", .type = ARG_STR, .dst = &results,
         .help = "directory for results.json and plots (\"\" = none)"},
        {.name = "progress-every", .type = ARG_INT, .dst = &progress_every, .max = 1e12,
         .help = "without a terminal: a progress line every N steps (0 = auto)"},
    };
    /* clang-format on */
    struct arg_cmd spec = {
        .name = "train",
        .synopsis = "frugal train [flags]",
        .about = "Trains a model on an image-classification dataset, writes the checkpoint,\n"
                 "RESULTS/results.json and loss/accuracy plots, and prints `test acc NN.NN%`.",
        .flags = flags,
        .nflags = ARGS_COUNT(flags),
    };
    const char *pos[1];
    int npos = 0, rc = cli_begin(&spec, argc, argv, pos, &npos);
    if (rc != CLI_GO) return rc;
    if (cfg.resume && !*ckpt) {
        fprintf(stderr, "frugal train: --resume needs --ckpt PATH\n");
        return EXIT_USAGE;
    }
    if ((rc = cli_check_precision("train", cfg.precision)) != EXIT_OK) return rc;
    if ((rc = cli_check_data_dir("train", cfg.data_dir)) != EXIT_OK) return rc;

    char out_buf[4200], command[2048], arch[32];
    if (!*out && *results) {
        snprintf(out_buf, sizeof out_buf, "%s/model.safetensors", results);
        out = out_buf;
    }
    cfg.epochs = (int)epochs;
    cfg.batch = (int)batch;
    cfg.warmup_steps = (int)warmup;
    cfg.step_every = (int)step_every;
    cfg.patience = (int)patience;
    cfg.seed = (uint64_t)seed;
    cfg.threads = (int)threads;
    cfg.out = *out ? out : NULL;
    cfg.ckpt = *ckpt ? ckpt : NULL;
    cfg.ckpt_every = (int)(ckpt_every > 2147483647 ? 2147483647 : ckpt_every);
    if (*init && fr_train_config_start_from(&cfg, init, arch, sizeof arch))
        return cli_fail("train", "--init %s", fr_last_error());
    cli_command_line(argc, argv, command, sizeof command);
    const char *slash = strrchr(results, '/');
    const char *name = slash && slash[1] ? slash + 1 : (*results ? results : "train");
    char title[256];
    snprintf(title, sizeof title, "frugal train: %s on %s", cfg.model, cfg.data);
    struct fr_train_run_info info = {.name = name,
                                     .title = title,
                                     .command = command,
                                     .results_dir = results,
                                     .progress_every = progress_every};
    /* under mpirun every batch is split over the ranks (one rank: no-op);
     * rank 0 writes the checkpoint and the results for all */
    cfg.data_parallel = 1;
    cfg.bucket_bytes = bucket_kb < 0 ? 0 : bucket_kb ? bucket_kb << 10 : -1;
    if (fr_dist_rank() > 0) cfg.out = NULL, info.results_dir = "";
    if (!*init) cfg.width_mult = (int)width_mult; /* --init: the checkpoint's */
    const int cnx = !strcmp(cfg.model, "convnext") || !strcmp(cfg.model, "slak");
    if ((*kernels || small_kernel) && (*init || !cnx)) {
        fprintf(stderr, "frugal train: --kernels and --small-kernel need --model convnext or slak "
                        "(and no --init: a checkpoint has its own)\n");
        return EXIT_USAGE;
    }
    if (*kernels && fr_parse_kernels(kernels, cfg.kernels) != 0) {
        fprintf(stderr, "frugal train: --kernels '%s' is not three kernel sizes like 13,11,5\n",
                kernels);
        return EXIT_USAGE;
    }
    if (small_kernel && strcmp(cfg.model, "slak") != 0) {
        fprintf(stderr, "frugal train: --small-kernel needs --model slak\n");
        return EXIT_USAGE;
    }
    cfg.small_kernel = (int)small_kernel;
    const int nb = !strcmp(cfg.model, "nb201");
    if ((*cell || cell_c != FR_NB201_DEFAULT_C || cell_n != FR_NB201_DEFAULT_N) && (*init || !nb)) {
        fprintf(stderr, "frugal train: --cell, --cell-channels and --cells-per-stage need --model "
                        "nb201 (and no --init: a checkpoint has its own)\n");
        return EXIT_USAGE;
    }
    if (nb && !*init) {
        if (!*cell) {
            fprintf(stderr, "frugal train: --model nb201 needs --cell (a NAS-Bench-201 arch "
                            "string)\n");
            return EXIT_USAGE;
        }
        if (fr_nb201_parse(cell, cfg.nb201.ops) != 0) {
            fprintf(stderr, "frugal train: --cell: %s\n", fr_last_error());
            return EXIT_USAGE;
        }
        cfg.nb201.c = (int)cell_c, cfg.nb201.n = (int)cell_n;
    }
    cfg.canvas = (int)canvas, cfg.clutter = (int)clutter;
    struct fr_dst_run dr;
    /* what the library would refuse after loading the data, refused now */
    const int chan_model = fr_model_has_channels(cfg.model);
    if (width_mult > 1 && !chan_model) {
        fprintf(stderr, "frugal train: --width-mult %lld needs --model resnet20 or vgg-small\n",
                (long long)width_mult);
        return EXIT_USAGE;
    }
    if (dc.channel_sparsity > 0 && (strcmp(dst, "chase") != 0 || !chan_model)) {
        fprintf(stderr,
                "frugal train: --channel-sparsity needs --dst chase and a model with prunable "
                "channels (resnet20, vgg-small)\n");
        return EXIT_USAGE;
    }
    if ((strcmp(dst, "mest") == 0 || strcmp(dst, "chase") == 0) && dc.mest_extra > 1 - dc.density) {
        fprintf(stderr, "frugal train: --mest-extra %g exceeds 1 - --density (%g)\n", dc.mest_extra,
                1 - dc.density);
        return EXIT_USAGE;
    }
    if (strcmp(dst, "none") != 0) {
        if (*init) {
            fprintf(stderr,
                    "frugal train: --dst starts from a dense model; it cannot take --init\n");
            return EXIT_USAGE;
        }
        dc.method = (enum fr_dst_method)fr_dst_method_parse(dst);
        dc.erk = strcmp(dst_init, "erk") == 0;
        dc.update_every = update_every;
        dc.channel_every = channel_every;
        dc.seed = (uint64_t)seed;
        fr_dst_run_init(&dr, &dc);
        cfg.ext = &dr.ext;
    }
    struct fr_kd_run kr;
    if (*teacher) {
        if (cfg.ext) {
            fprintf(stderr, "frugal train: --teacher and --dst do not combine\n");
            return EXIT_USAGE;
        }
        kc.teacher = teacher;
        fr_kd_run_init(&kr, &kc);
        if (kr.rc) {
            fprintf(stderr, "frugal train: %s\n", fr_last_error());
            return EXIT_USAGE;
        }
        if (!strcmp(kc.loss, "fd")) { /* the student carries the projection */
            if (strcmp(cfg.model, "convnext") != 0 || *init) {
                fprintf(stderr, "frugal train: --kd fd needs --model convnext (no --init)\n");
                return EXIT_USAGE;
            }
            int fc = fr_kd_feature_channels(teacher);
            if (fc < 0) return cli_fail("train", "%s", fr_last_error());
            cfg.fd_channels = fc;
        }
        cfg.ext = &kr.ext;
    }
    rc = cli_train_and_record("train", &cfg, &info);
    if (*teacher) {
        fr_kd_run_free(&kr);
    } else if (cfg.ext) {
        if (rc == EXIT_OK) dst_summary(&dr);
        fr_dst_run_free(&dr);
    }
    return rc;
}

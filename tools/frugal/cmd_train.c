/* cmd_train.c: `frugal train`, and the train-then-record path that `demo`
 * and `repro` share: run the trainer with a progress display, then write
 * results.json, the loss and accuracy plots, and print `test acc NN.NN%`.
 *
 * Flag defaults come from fr_train_config_defaults, so `--help` always shows
 * what the trainer really does. Values are range-checked here (usage error,
 * exit 2) before any data is read.
 */
#include "args.h"
#include "cmd.h"

#include "frugal/experiments/train_run.h"
#include "frugal/io.h"
#include "frugal/models.h"
#include "frugal/status.h"

#include <stdio.h>
#include <string.h>

int cli_train_and_record(const char *cmd, const struct fr_train_config *cfg,
                         const struct cli_run_info *info) {
    struct fr_train_run_info ri = {.name = info->name,
                                   .title = info->title,
                                   .paper = info->paper,
                                   .claim = info->claim,
                                   .command = info->command,
                                   .results_dir = info->results_dir,
                                   .progress_every = info->progress_every,
                                   .log = stderr};
    struct fr_train_result res;
    char path[4200], summary[2048];
    fr_clear_error();
    if (fr_train_run_recorded(cfg, &ri, &res, path, sizeof path))
        return cli_fail(cmd, "%s", fr_last_error()[0] ? fr_last_error() : "training failed");
    fr_train_run_summary(cfg, &res, path, summary, sizeof summary);
    fputs(summary, stdout);
    fflush(stdout);
    fr_train_result_free(&res);
    return EXIT_OK;
}

/* --init: the start checkpoint's weights and keep-mask (pruned by `frugal
 * prune` or not); its tensors must fit the model the run builds. */
static int load_init(void *user, struct fr_model *m) {
    const char *path = user;
    struct fr_ckpt o = {0};
    o.allow_extra = 1; /* a run checkpoint carries optimizer and run state too */
    int rc = fr_params_load_masked(&m->params, path, &o, NULL);
    if (rc) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s", fr_last_error());
        return fr_error(rc, "--init %.200s: %s", path, msg);
    }
    return 0;
}

static const char *const MODELS[] = {"mlp", "cnn", "resnet20", "vgg-small", NULL};
static const char *const DATASETS[] = {"fashion-mnist", NULL};
static const char *const OPTS[] = {"sgd", "adamw", NULL};
static const char *const SCHEDULES[] = {"none", "step", "cosine", NULL};

int cmd_train(int argc, char **argv) {
    struct fr_train_config cfg;
    fr_train_config_defaults(&cfg);
    int64_t epochs = cfg.epochs, batch = cfg.batch, warmup = cfg.warmup_steps,
            step_every = cfg.step_every, patience = cfg.patience, threads = cfg.threads,
            seed = (int64_t)cfg.seed, ckpt_every = cfg.ckpt_every, limit = cfg.limit_train,
            stop_after = cfg.stop_after_steps, progress_every = 0;
    double lr = cfg.lr, momentum = cfg.momentum, wd = cfg.wd, gamma = cfg.step_gamma,
           clip = cfg.clip, val_frac = cfg.val_frac;
    int nesterov = cfg.nesterov, augment = cfg.augment, resume = cfg.resume;
    const char *model = cfg.model ? cfg.model : "cnn",
               *data = cfg.data ? cfg.data : "fashion-mnist";
    const char *opt = cfg.opt ? cfg.opt : "sgd", *schedule = cfg.schedule ? cfg.schedule : "none";
    const char *data_dir = cfg.data_dir ? cfg.data_dir : DEFAULT_DATA_DIR;
    const char *out = "", *ckpt = "", *results = "out/train", *init = "";
    struct arg_flag flags[] = {
        {.name = "model", .type = ARG_STR, .dst = &model, .help = "architecture (with --init: the checkpoint's)", .choices = MODELS},
        {.name = "init", .type = ARG_STR, .dst = &init, .help = "start from this checkpoint's weights and keep-mask (e.g. from frugal prune; pruned "
         "weights stay zero) instead of a fresh init (\"\" = none)"},
        {.name = "data", .type = ARG_STR, .dst = &data, .help = "dataset", .choices = DATASETS},
        {.name = "data-dir", .type = ARG_STR, .dst = &data_dir, .help = "directory with the dataset's IDX .gz files"},
        {.name = "epochs", .type = ARG_INT, .dst = &epochs, .help = "passes over the training set", .min = 1, .max = 100000},
        {.name = "batch", .type = ARG_INT, .dst = &batch, .help = "minibatch size", .min = 1, .max = 65536},
        {.name = "opt", .type = ARG_STR, .dst = &opt, .help = "optimizer", .choices = OPTS},
        {.name = "lr", .type = ARG_DOUBLE, .dst = &lr, .help = "peak learning rate", .max = 10},
        {.name = "momentum", .type = ARG_DOUBLE, .dst = &momentum, .help = "SGD momentum (AdamW: beta1 is fixed)", .max = 0.999999},
        {.name = "nesterov", .type = ARG_BOOL, .dst = &nesterov, .help = "Nesterov momentum (SGD)"},
        {.name = "wd", .type = ARG_DOUBLE, .dst = &wd, .help = "weight decay (decoupled for AdamW)", .max = 1},
        {.name = "schedule", .type = ARG_STR, .dst = &schedule, .help = "learning-rate schedule after warmup", .choices = SCHEDULES},
        {.name = "warmup", .type = ARG_INT, .dst = &warmup, .help = "linear warmup steps", .max = 1e9},
        {.name = "step-gamma", .type = ARG_DOUBLE, .dst = &gamma, .help = "step schedule: lr factor", .max = 1},
        {.name = "step-every", .type = ARG_INT, .dst = &step_every, .help = "step schedule: epochs between decays", .min = 1, .max = 100000},
        {.name = "clip", .type = ARG_DOUBLE, .dst = &clip, .help = "clip the global gradient norm to this (0 = off)", .max = 1e9},
        {.name = "val-frac", .type = ARG_DOUBLE, .dst = &val_frac, .help = "fraction of training images held out for validation", .max = 0.9},
        {.name = "patience", .type = ARG_INT, .dst = &patience, .help = "stop after this many epochs without val improvement (0 = off)", .max = 100000},
        {.name = "augment", .type = ARG_BOOL, .dst = &augment, .help = "random crop (pad 2) and horizontal flip"},
        {.name = "limit-train", .type = ARG_INT, .dst = &limit, .help = "use only the first N training images (0 = all)", .max = 1e12},
        {.name = "threads", .type = ARG_INT, .dst = &threads, .help = "worker threads (0 = all cores)", .max = 256},
        {.name = "seed", .type = ARG_INT, .dst = &seed, .help = "seed for init, shuffling and augmentation", .max = 1e18},
        {.name = "out", .type = ARG_STR, .dst = &out, .help = "final checkpoint (.safetensors; \"\" = RESULTS/model.safetensors)"},
        {.name = "ckpt", .type = ARG_STR, .dst = &ckpt, .help = "periodic checkpoint for --resume (\"\" = none)"},
        {.name = "ckpt-every", .type = ARG_INT, .dst = &ckpt_every, .help = "steps between periodic checkpoints (0 = each epoch end)", .max = 1e12},
        {.name = "resume", .type = ARG_BOOL, .dst = &resume, .help = "continue from --ckpt when it exists"},
        {.name = "stop-after", .type = ARG_INT, .dst = &stop_after, .help = "stop after this many steps as if killed (tests --resume; 0 = never)", .max = 1e12},
        {.name = "results", .type = ARG_STR, .dst = &results, .help = "directory for results.json and plots (\"\" = none)"},
        {.name = "progress-every", .type = ARG_INT, .dst = &progress_every, .help = "without a terminal: a progress line every N steps (0 = auto)", .max = 1e12},
    };
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
    if (resume && !*ckpt) {
        fprintf(stderr, "frugal train: --resume needs --ckpt PATH\n");
        return EXIT_USAGE;
    }
    if ((rc = cli_check_data_dir("train", data_dir)) != EXIT_OK) return rc;

    char out_buf[4200], command[2048], arch[32];
    if (*init) {
        struct fr_model_config mc;
        if (fr_model_arch_load(init, arch, sizeof arch, &mc))
            return cli_fail("train", "--init %s", fr_last_error());
        int known = strcmp(arch, "vit") == 0;
        for (int i = 0; MODELS[i]; i++) known |= strcmp(arch, MODELS[i]) == 0;
        if (!known)
            return cli_fail("train", "--init %s: '%s' is not an image classifier (a language "
                            "model fine-tunes with frugal train-lm --init)", init, arch);
        model = arch;
        cfg.init = load_init;
        cfg.init_user = (void *)init;
        cfg.init_name = init;
    }
    if (!*out && *results) {
        snprintf(out_buf, sizeof out_buf, "%s/model.safetensors", results);
        out = out_buf;
    }
    cfg.model = model;
    cfg.data = data;
    cfg.data_dir = data_dir;
    cfg.epochs = (int)epochs;
    cfg.batch = (int)batch;
    cfg.opt = opt;
    cfg.lr = lr;
    cfg.momentum = momentum;
    cfg.nesterov = nesterov;
    cfg.wd = wd;
    cfg.schedule = schedule;
    cfg.warmup_steps = (int)warmup;
    cfg.step_gamma = gamma;
    cfg.step_every = (int)step_every;
    cfg.clip = clip;
    cfg.val_frac = val_frac;
    cfg.patience = (int)patience;
    cfg.augment = augment;
    cfg.limit_train = limit;
    cfg.seed = (uint64_t)seed;
    cfg.threads = (int)threads;
    cfg.out = *out ? out : NULL;
    cfg.ckpt = *ckpt ? ckpt : NULL;
    cfg.ckpt_every = (int)(ckpt_every > 2147483647 ? 2147483647 : ckpt_every);
    cfg.resume = resume;
    cfg.stop_after_steps = stop_after;
    cli_command_line(argc, argv, command, sizeof command);
    const char *slash = strrchr(results, '/');
    const char *name = slash && slash[1] ? slash + 1 : (*results ? results : "train");
    char title[256];
    snprintf(title, sizeof title, "frugal train: %s on %s", model, data);
    struct cli_run_info info = {.name = name,
                                .title = title,
                                .command = command,
                                .results_dir = results,
                                .progress_every = progress_every};
    return cli_train_and_record("train", &cfg, &info);
}

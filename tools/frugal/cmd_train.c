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
        {"model", ARG_STR, &model, "architecture (with --init: the checkpoint's)", 0, 0, MODELS},
        {"init", ARG_STR, &init,
         "start from this checkpoint's weights and keep-mask (e.g. from frugal prune; pruned "
         "weights stay zero) instead of a fresh init (\"\" = none)", 0, 0, NULL},
        {"data", ARG_STR, &data, "dataset", 0, 0, DATASETS},
        {"data-dir", ARG_STR, &data_dir, "directory with the dataset's IDX .gz files", 0, 0, NULL},
        {"epochs", ARG_INT, &epochs, "passes over the training set", 1, 100000, NULL},
        {"batch", ARG_INT, &batch, "minibatch size", 1, 65536, NULL},
        {"opt", ARG_STR, &opt, "optimizer", 0, 0, OPTS},
        {"lr", ARG_DOUBLE, &lr, "peak learning rate", 0, 10, NULL},
        {"momentum", ARG_DOUBLE, &momentum, "SGD momentum (AdamW: beta1 is fixed)", 0, 0.999999,
         NULL},
        {"nesterov", ARG_BOOL, &nesterov, "Nesterov momentum (SGD)", 0, 0, NULL},
        {"wd", ARG_DOUBLE, &wd, "weight decay (decoupled for AdamW)", 0, 1, NULL},
        {"schedule", ARG_STR, &schedule, "learning-rate schedule after warmup", 0, 0, SCHEDULES},
        {"warmup", ARG_INT, &warmup, "linear warmup steps", 0, 1e9, NULL},
        {"step-gamma", ARG_DOUBLE, &gamma, "step schedule: lr factor", 0, 1, NULL},
        {"step-every", ARG_INT, &step_every, "step schedule: epochs between decays", 1, 100000,
         NULL},
        {"clip", ARG_DOUBLE, &clip, "clip the global gradient norm to this (0 = off)", 0, 1e9,
         NULL},
        {"val-frac", ARG_DOUBLE, &val_frac, "fraction of training images held out for validation",
         0, 0.9, NULL},
        {"patience", ARG_INT, &patience,
         "stop after this many epochs without val improvement (0 = off)", 0, 100000, NULL},
        {"augment", ARG_BOOL, &augment, "random crop (pad 2) and horizontal flip", 0, 0, NULL},
        {"limit-train", ARG_INT, &limit, "use only the first N training images (0 = all)", 0, 1e12,
         NULL},
        {"threads", ARG_INT, &threads, "worker threads (0 = all cores)", 0, 256, NULL},
        {"seed", ARG_INT, &seed, "seed for init, shuffling and augmentation", 0, 1e18, NULL},
        {"out", ARG_STR, &out, "final checkpoint (.safetensors; \"\" = RESULTS/model.safetensors)",
         0, 0, NULL},
        {"ckpt", ARG_STR, &ckpt, "periodic checkpoint for --resume (\"\" = none)", 0, 0, NULL},
        {"ckpt-every", ARG_INT, &ckpt_every,
         "steps between periodic checkpoints (0 = each epoch end)", 0, 1e12, NULL},
        {"resume", ARG_BOOL, &resume, "continue from --ckpt when it exists", 0, 0, NULL},
        {"stop-after", ARG_INT, &stop_after,
         "stop after this many steps as if killed (tests --resume; 0 = never)", 0, 1e12, NULL},
        {"results", ARG_STR, &results, "directory for results.json and plots (\"\" = none)", 0, 0,
         NULL},
        {"progress-every", ARG_INT, &progress_every,
         "without a terminal: a progress line every N steps (0 = auto)", 0, 1e12, NULL},
    };
    struct arg_cmd spec = {
        "train",
        "frugal train [flags]",
        "Trains a model on an image-classification dataset, writes the checkpoint,\n"
        "RESULTS/results.json and loss/accuracy plots, and prints `test acc NN.NN%`.",
        flags,
        (int)(sizeof flags / sizeof flags[0]),
        0,
        0};
    const char *pos[1];
    int npos = 0, rc = args_parse(&spec, argc, argv, pos, &npos);
    if (rc == ARGS_HELP) return EXIT_OK;
    if (rc != ARGS_OK) return EXIT_USAGE;
    if (resume && !*ckpt) {
        fprintf(stderr, "frugal train: --resume needs --ckpt PATH\n");
        return EXIT_USAGE;
    }
    if ((rc = cli_threads("train", threads)) != EXIT_OK) return rc;
    if ((rc = cli_check_data_dir("train", data_dir)) != EXIT_OK) return rc;

    char out_buf[4200], command[2048], arch[32];
    if (*init) {
        struct fr_model_config mc;
        if (cli_model_arch(init, arch, sizeof arch, &mc))
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

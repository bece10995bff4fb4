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

#include "frugal/io.h"
#include "frugal/models.h"
#include "frugal/report.h"
#include "frugal/status.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CURVE_POINTS 400

/* Collects the per-step loss for the plot and forwards to the display. */
struct recorder {
    struct fr_progress bar;
    double *step, *loss;
    int64_t n, cap;
    int oom;
    int has_val; /* the trainer reports 0 val acc when there is no split */
};

static void record(void *user, int epoch, int64_t step, int64_t steps_total, double loss, double lr,
                   int epoch_end, double val_acc) {
    struct recorder *r = user;
    if (!epoch_end && !r->oom) {
        if (r->n == r->cap) {
            int64_t cap = r->cap ? r->cap * 2 : 1024;
            double *s = realloc(r->step, (size_t)cap * sizeof *s);
            if (s) r->step = s;
            double *l = s ? realloc(r->loss, (size_t)cap * sizeof *l) : NULL;
            if (l) r->loss = l;
            if (!s || !l)
                r->oom = 1;
            else
                r->cap = cap;
        }
        if (!r->oom) {
            r->step[r->n] = (double)step;
            r->loss[r->n] = loss;
            r->n++;
        }
    }
    /* the trainer counts epochs from 0; people count from 1 */
    fr_progress_update(&r->bar, epoch + 1, step, steps_total, loss, lr, epoch_end,
                       r->has_val ? val_acc : -1.0);
}

/* Averages (x, y) into at most `bins` points, in place; returns the count. */
static int64_t bin_curve(double *x, double *y, int64_t n, int64_t bins) {
    if (n <= bins) return n;
    int64_t out = 0;
    for (int64_t b = 0; b < bins; b++) {
        int64_t lo = n * b / bins, hi = n * (b + 1) / bins;
        double sx = 0, sy = 0;
        for (int64_t i = lo; i < hi; i++)
            sx += x[i], sy += y[i];
        x[out] = sx / (double)(hi - lo);
        y[out] = sy / (double)(hi - lo);
        out++;
    }
    return out;
}

static int record_config(struct fr_results *r, const struct fr_train_config *c) {
    int rc = 0;
    rc |= fr_results_config_str(r, "model", c->model);
    rc |= fr_results_config_str(r, "data", c->data);
    rc |= fr_results_config_str(r, "data_dir", c->data_dir ? c->data_dir : DEFAULT_DATA_DIR);
    rc |= fr_results_config_int(r, "epochs", c->epochs);
    rc |= fr_results_config_int(r, "batch", c->batch);
    rc |= fr_results_config_str(r, "opt", c->opt);
    rc |= fr_results_config_double(r, "lr", c->lr);
    rc |= fr_results_config_double(r, "momentum", c->momentum);
    rc |= fr_results_config_int(r, "nesterov", c->nesterov);
    rc |= fr_results_config_double(r, "wd", c->wd);
    rc |= fr_results_config_str(r, "schedule", c->schedule);
    rc |= fr_results_config_int(r, "warmup_steps", c->warmup_steps);
    rc |= fr_results_config_double(r, "step_gamma", c->step_gamma);
    rc |= fr_results_config_int(r, "step_every", c->step_every);
    rc |= fr_results_config_double(r, "clip", c->clip);
    rc |= fr_results_config_double(r, "val_frac", c->val_frac);
    rc |= fr_results_config_int(r, "patience", c->patience);
    rc |= fr_results_config_int(r, "augment", c->augment);
    rc |= fr_results_config_int(r, "limit_train", c->limit_train);
    rc |= fr_results_config_int(r, "threads", c->threads);
    rc |= fr_results_set_seed(r, c->seed);
    return rc;
}

static int write_plots(struct fr_results *r, const char *dir, struct recorder *rec,
                       const struct fr_train_config *cfg, const struct fr_train_result *res) {
    char path[4096];
    int rc = 0;
    int64_t E = res->epochs_run;
    double *ex = malloc((size_t)(E > 0 ? E : 1) * sizeof *ex);
    double *va = malloc((size_t)(E > 0 ? E : 1) * sizeof *va);
    if (!ex || !va) {
        rc = fr_error(FR_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (int64_t e = 0; e < E; e++) {
        ex[e] = (double)(e + 1);
        va[e] = res->val_acc && cfg->val_frac > 0 ? 100.0 * res->val_acc[e] : NAN;
    }
    /* per-step loss in units of epochs, so it shares the x axis with the
     * per-epoch curves; binned to keep files small */
    double spe = E > 0 && res->steps > 0 ? (double)res->steps / (double)E : 1.0;
    for (int64_t i = 0; i < rec->n; i++)
        rec->step[i] /= spe;
    int64_t nb = bin_curve(rec->step, rec->loss, rec->n, MAX_CURVE_POINTS);
    rc |= fr_results_series(r, "train loss (steps, binned)", "epoch", "cross-entropy", nb,
                            rec->step, rec->loss);
    if (res->train_loss)
        rc |= fr_results_series(r, "train loss (epoch mean)", "epoch", "cross-entropy", E, ex,
                                res->train_loss);
    rc |= fr_results_series(r, "val acc", "epoch", "accuracy (%)", E, ex, va);
    if (res->epoch_seconds)
        rc |= fr_results_series(r, "epoch time", "epoch", "seconds", E, ex, res->epoch_seconds);
    if (rc) goto cleanup;

    struct fr_plot_series ls[2] = {
        {"train loss (per step, binned)", nb, rec->step, rec->loss},
        {"train loss (epoch mean)", res->train_loss ? E : 0, ex, res->train_loss}};
    struct fr_plot lp = {
        .title = "training loss", .xlabel = "epoch", .ylabel = "cross-entropy", .log_y = 1};
    snprintf(path, sizeof path, "%s/loss.svg", dir);
    if ((rc = fr_plot_write(path, &lp, 2, ls)) != 0) goto cleanup;
    rc = fr_results_plot(r, "loss.svg");

    double tx = (double)E, ty = 100.0 * res->test_acc;
    struct fr_plot_series as[2] = {{"validation accuracy", E, ex, va},
                                   {"test accuracy (final)", 1, &tx, &ty}};
    struct fr_plot ap = {
        .title = "accuracy", .xlabel = "epoch", .ylabel = "accuracy (%)", .markers = 1};
    snprintf(path, sizeof path, "%s/accuracy.svg", dir);
    if ((rc = fr_plot_write(path, &ap, 2, as)) != 0) goto cleanup;
    rc = fr_results_plot(r, "accuracy.svg");
cleanup:
    free(ex);
    free(va);
    return rc;
}

static int write_results(const struct fr_train_config *cfg, const struct cli_run_info *info,
                         struct recorder *rec, const struct fr_train_result *res, char *path,
                         size_t cap) {
    int rc = 0;
    struct fr_results *r = fr_results_new(info->name, info->title);
    if (!r) return FR_ENOMEM;
    if (info->paper) rc |= fr_results_set_str(r, "paper", info->paper);
    if (info->claim) rc |= fr_results_set_str(r, "claim", info->claim);
    rc |= fr_results_set_str(r, "command", info->command);
    rc |= record_config(r, cfg);
    double mean_epoch = 0;
    for (int e = 0; res->epoch_seconds && e < res->epochs_run; e++)
        mean_epoch += res->epoch_seconds[e] / res->epochs_run;
    rc |= fr_results_metric(r, "test accuracy", 100.0 * res->test_acc, "%");
    rc |= fr_results_metric(r, "best validation accuracy",
                            cfg->val_frac > 0 ? 100.0 * res->best_val_acc : NAN, "%");
    rc |= fr_results_metric(r, "final train loss", res->final_train_loss, "nats");
    rc |= fr_results_metric(r, "epochs run", res->epochs_run, "");
    rc |= fr_results_metric(r, "optimizer steps", (double)res->steps, "");
    rc |= fr_results_metric(r, "training time", res->seconds, "s");
    rc |= fr_results_metric(r, "mean epoch time", res->epoch_seconds ? mean_epoch : NAN, "s");
    rc |= fr_results_metric(r, "parameters", (double)res->n_params, "");
    rc |= fr_results_metric(r, "peak activation arena", (double)res->peak_arena_bytes, "bytes");
    if (rc) goto cleanup;
    if ((rc = write_plots(r, info->results_dir, rec, cfg, res)) != 0) goto cleanup;
    if ((size_t)snprintf(path, cap, "%s/results.json", info->results_dir) >= cap) {
        rc = fr_error(FR_EINVAL, "results path too long");
        goto cleanup;
    }
    rc = fr_results_write(r, path);
cleanup:
    if (rc && !fr_last_error()[0]) fr_error(FR_ENOMEM, "out of memory writing results");
    fr_results_free(r);
    return rc;
}

int cli_train_and_record(const char *cmd, const struct fr_train_config *cfg,
                         const struct cli_run_info *info) {
    struct fr_train_config c = *cfg;
    struct fr_train_result res;
    struct recorder rec = {0};
    char path[4200];
    int code = EXIT_OK;
    memset(&res, 0, sizeof res);
    /* directories first: a typo in a path fails now, not after training */
    if ((code = cli_mkdirs(cmd, info->results_dir, 0)) != EXIT_OK ||
        (code = cli_mkdirs(cmd, c.out, 1)) != EXIT_OK ||
        (code = cli_mkdirs(cmd, c.ckpt, 1)) != EXIT_OK)
        return code;
    fr_progress_init(&rec.bar, stderr, info->progress_every);
    c.progress = record;
    c.user = &rec;
    rec.has_val = c.val_frac > 0;
    fr_clear_error();
    int rc = fr_train_run(&c, &res);
    fr_progress_done(&rec.bar);
    if (rc != 0) {
        code = cli_fail(cmd, "%s", fr_last_error()[0] ? fr_last_error() : "training failed");
        goto cleanup;
    }
    if (res.interrupted) {
        /* no final evaluation happened: say so rather than print a number */
        printf("stopped after %lld steps (--stop-after)%s%s\n", (long long)res.steps,
               c.ckpt ? "; continue with --resume --ckpt " : "", c.ckpt ? c.ckpt : "");
        goto cleanup;
    }
    if (res.resumed) printf("resumed from %s at step %lld\n", c.ckpt, (long long)res.resumed_step);
    printf("trained %s on %s: %d epoch%s, %lld steps, %.1f s, %lld parameters\n", c.model, c.data,
           res.epochs_run, res.epochs_run == 1 ? "" : "s", (long long)res.steps, res.seconds,
           (long long)res.n_params);
    if (c.out && *c.out) printf("checkpoint: %s\n", c.out);
    if (info->results_dir && *info->results_dir) {
        if (write_results(&c, info, &rec, &res, path, sizeof path) != 0) {
            code = cli_fail(cmd, "%s", fr_last_error());
            goto cleanup;
        }
        printf("results: %s\n", path);
    }
    printf("test acc %.2f%%\n", 100.0 * res.test_acc);
    fflush(stdout);
cleanup:
    fr_train_result_free(&res);
    free(rec.step);
    free(rec.loss);
    return code;
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

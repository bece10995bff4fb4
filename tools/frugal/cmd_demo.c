/* cmd_demo.c: `frugal demo`: the main job in one command: train the small
 * CNN on Fashion-MNIST for a short schedule, write OUT/demo/results.json and
 * plots, rebuild the report and print where it is. Opens nothing. */
#include "args.h"
#include "cmd.h"

#include "frugal/experiments/experiment.h"
#include "frugal/report.h"
#include "frugal/status.h"

#include <stdio.h>

int cmd_demo(int argc, char **argv) {
    struct fr_train_config cfg;
    fr_train_config_defaults(&cfg);
    int64_t epochs = 2, threads = 0, seed = (int64_t)cfg.seed, limit = 0;
    const char *data_dir = DEFAULT_DATA_DIR, *out = "out";
    /* clang-format off */
    struct arg_flag flags[] = {
        {.name = "epochs", .type = ARG_INT, .dst = &epochs, .min = 1, .max = 1000,
         .help = "passes over the training set"},
        {.name = "limit-train", .type = ARG_INT, .dst = &limit, .max = 1e12,
         .help = "use only the first N training images (0 = all)"},
        {.name = "threads", .type = ARG_INT, .dst = &threads, .max = 256,
         .help = "worker threads (0 = all cores)"},
        {.name = "seed", .type = ARG_INT, .dst = &seed, .max = 1e18,
         .help = "seed for init, shuffling and augmentation"},
        {.name = "data-dir", .type = ARG_STR, .dst = &data_dir,
         .help = "directory with Fashion-MNIST's IDX .gz files"},
        {.name = "out", .type = ARG_STR, .dst = &out,
         .help = "results root: writes OUT/demo/ and OUT/report/"},
    };
    /* clang-format on */
    struct arg_cmd spec = {
        .name = "demo",
        .synopsis = "frugal demo [flags]",
        .about = "Trains the small CNN on Fashion-MNIST for a short schedule, writes\n"
                 "OUT/demo/results.json and plots, and builds OUT/report/index.html.",
        .flags = flags,
        .nflags = ARGS_COUNT(flags),
    };
    const char *pos[1];
    int npos = 0, rc = cli_begin(&spec, argc, argv, pos, &npos);
    if (rc != CLI_GO) return rc;
    if ((rc = cli_check_data_dir("demo", data_dir)) != EXIT_OK) return rc;

    char dir[4096], ckpt[4200], command[2048], path[4200];
    snprintf(dir, sizeof dir, "%s/demo", out);
    snprintf(ckpt, sizeof ckpt, "%s/model.safetensors", dir);
    cli_command_line(argc, argv, command, sizeof command);
    cfg.model = "cnn";
    cfg.data = "fashion-mnist";
    cfg.data_dir = data_dir;
    cfg.epochs = (int)epochs;
    cfg.limit_train = limit;
    cfg.threads = (int)threads;
    cfg.seed = (uint64_t)seed;
    cfg.out = ckpt;
    struct fr_train_run_info info = {
        .name = "demo",
        .title = "Demo: small CNN on Fashion-MNIST",
        .claim = "frugal trains a small CNN on Fashion-MNIST on a laptop-class CPU in minutes, "
                 "from a fresh checkout, with one command (make demo).",
        .command = command,
        .results_dir = dir,
    };
    printf("frugal demo: training the small CNN on Fashion-MNIST (%lld epoch%s)\n",
           (long long)epochs, epochs == 1 ? "" : "s");
    fflush(stdout);
    if ((rc = cli_train_and_record("demo", &cfg, &info)) != EXIT_OK) return rc;
    char committed[4200] = "";
    fr_exp_results_dir(committed, sizeof committed);
    if (fr_report_build(out, *committed ? committed : NULL, path, sizeof path, NULL) != 0)
        return cli_fail("demo", "%s", fr_last_error());
    printf("report: %s\n", path);
    return EXIT_OK;
}

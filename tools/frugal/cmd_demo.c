/* cmd_demo.c: `frugal demo`: the main job in one command: train the small
 * CNN on Fashion-MNIST for a short schedule, write OUT/demo/results.json and
 * plots, rebuild the report and print where it is. Opens nothing. */
#include "args.h"
#include "cmd.h"

#include "frugal/report.h"
#include "frugal/status.h"

#include <stdio.h>

int cmd_demo(int argc, char **argv) {
    struct fr_train_config cfg;
    fr_train_config_defaults(&cfg);
    int64_t epochs = 2, threads = 0, seed = (int64_t)cfg.seed, limit = 0;
    const char *data_dir = DEFAULT_DATA_DIR, *out = "out";
    struct arg_flag flags[] = {
        {"epochs", ARG_INT, &epochs, "passes over the training set", 1, 1000, NULL},
        {"limit-train", ARG_INT, &limit, "use only the first N training images (0 = all)", 0, 1e12,
         NULL},
        {"threads", ARG_INT, &threads, "worker threads (0 = all cores)", 0, 256, NULL},
        {"seed", ARG_INT, &seed, "seed for init, shuffling and augmentation", 0, 1e18, NULL},
        {"data-dir", ARG_STR, &data_dir, "directory with Fashion-MNIST's IDX .gz files", 0, 0,
         NULL},
        {"out", ARG_STR, &out, "results root: writes OUT/demo/ and OUT/report/", 0, 0, NULL},
    };
    struct arg_cmd spec = {"demo",
                           "frugal demo [flags]",
                           "Trains the small CNN on Fashion-MNIST for a short schedule, writes\n"
                           "OUT/demo/results.json and plots, and builds OUT/report/index.html.",
                           flags,
                           (int)(sizeof flags / sizeof flags[0]),
                           0,
                           0};
    const char *pos[1];
    int npos = 0, rc = args_parse(&spec, argc, argv, pos, &npos);
    if (rc == ARGS_HELP) return EXIT_OK;
    if (rc != ARGS_OK) return EXIT_USAGE;
    if ((rc = cli_threads("demo", threads)) != EXIT_OK) return rc;
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
    struct cli_run_info info = {
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
    if (fr_report_build(out, path, sizeof path, NULL) != 0)
        return cli_fail("demo", "%s", fr_last_error());
    printf("report: %s\n", path);
    return EXIT_OK;
}

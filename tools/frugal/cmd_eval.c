/* cmd_eval.c: `frugal eval CKPT`: test-set accuracy of a checkpoint. The
 * checkpoint carries its architecture in its metadata, so no model flag. */
#include "args.h"
#include "cmd.h"

#include "frugal/status.h"
#include "frugal/train.h"

#include <stdio.h>

int cmd_eval(int argc, char **argv) {
    int64_t batch = 256, threads = 0, seed = 1;
    const char *data_dir = DEFAULT_DATA_DIR;
    /* clang-format off */
    struct arg_flag flags[] = {
        {.name = "data-dir", .type = ARG_STR, .dst = &data_dir,
         .help = "directory with the dataset's IDX .gz files"},
        {.name = "batch", .type = ARG_INT, .dst = &batch, .min = 1, .max = 65536,
         .help = "images per forward pass"},
        {.name = "threads", .type = ARG_INT, .dst = &threads, .max = 256,
         .help = "worker threads (0 = all cores)"},
        {.name = "seed", .type = ARG_INT, .dst = &seed, .max = 1e18,
         .help = "seed (evaluation draws no random numbers; accepted for uniformity)"},
    };
    /* clang-format on */
    struct arg_cmd spec = {
        .name = "eval",
        .synopsis = "frugal eval CKPT [flags]",
        .about = "Evaluates a checkpoint (.safetensors written by frugal train) on the\n"
                 "test split and prints `test acc NN.NN%`.",
        .flags = flags,
        .nflags = ARGS_COUNT(flags),
        .min_pos = 1,
        .max_pos = 1,
    };
    const char *pos[1];
    int npos = 0, rc = cli_begin(&spec, argc, argv, pos, &npos);
    if (rc != CLI_GO) return rc;
    const char *ckpt = pos[0];
    /* the checkpoint is the loader's to judge: it refuses a directory or a
     * FIFO before opening it (an fopen here would block on a FIFO) */
    if ((rc = cli_check_data_dir("eval", data_dir)) != EXIT_OK) return rc;
    double acc = 0;
    fr_clear_error();
    if (fr_eval_checkpoint(ckpt, data_dir, (int)batch, &acc) != 0)
        return cli_fail("eval", "%s", fr_last_error()[0] ? fr_last_error() : "evaluation failed");
    printf("test acc %.2f%%\n", 100.0 * acc);
    return EXIT_OK;
}

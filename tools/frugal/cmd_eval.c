/* cmd_eval.c: `frugal eval CKPT`: test-set accuracy of a checkpoint. The
 * checkpoint carries its architecture in its metadata, so no model flag. */
#include "args.h"
#include "cmd.h"

#include "frugal/status.h"
#include "frugal/train.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int cmd_eval(int argc, char **argv) {
    int64_t batch = 256, threads = 0, seed = 1;
    const char *data_dir = DEFAULT_DATA_DIR;
    struct arg_flag flags[] = {
        {"data-dir", ARG_STR, &data_dir, "directory with the dataset's IDX .gz files", 0, 0, NULL},
        {"batch", ARG_INT, &batch, "images per forward pass", 1, 65536, NULL},
        {"threads", ARG_INT, &threads, "worker threads (0 = all cores)", 0, 256, NULL},
        {"seed", ARG_INT, &seed,
         "seed (evaluation draws no random numbers; accepted for uniformity)", 0, 1e18, NULL},
    };
    struct arg_cmd spec = {"eval",
                           "frugal eval CKPT [flags]",
                           "Evaluates a checkpoint (.safetensors written by frugal train) on the\n"
                           "test split and prints `test acc NN.NN%`.",
                           flags,
                           (int)(sizeof flags / sizeof flags[0]),
                           1,
                           1};
    const char *pos[1];
    int npos = 0, rc = args_parse(&spec, argc, argv, pos, &npos);
    if (rc == ARGS_HELP) return EXIT_OK;
    if (rc != ARGS_OK) return EXIT_USAGE;
    const char *ckpt = pos[0];
    struct stat st;
    FILE *f = fopen(ckpt, "rb");
    if (!f) return cli_fail("eval", "cannot open checkpoint %s: %s", ckpt, strerror(errno));
    fclose(f);
    if (stat(ckpt, &st) == 0 && S_ISDIR(st.st_mode))
        return cli_fail("eval", "checkpoint %s is a directory", ckpt);
    if ((rc = cli_threads("eval", threads)) != EXIT_OK) return rc;
    if ((rc = cli_check_data_dir("eval", data_dir)) != EXIT_OK) return rc;
    double acc = 0;
    fr_clear_error();
    if (fr_eval_checkpoint(ckpt, data_dir, (int)batch, &acc) != 0)
        return cli_fail("eval", "%s", fr_last_error()[0] ? fr_last_error() : "evaluation failed");
    printf("test acc %.2f%%\n", 100.0 * acc);
    return EXIT_OK;
}

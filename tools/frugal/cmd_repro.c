/* cmd_repro.c: `frugal repro NAME [--quick]`: runs one registered
 * reproduction, then rebuilds the report. Adding a method = one line in
 * METHODS and one repro_<name>.c file (see repro.h). */
#include "args.h"
#include "cmd.h"
#include "repro.h"

#include "frugal/report.h"
#include "frugal/status.h"

#include <stdio.h>
#include <string.h>

static const struct repro_method METHODS[] = {
    {"fashion-cnn", "baseline", "small CNN on Fashion-MNIST: accuracy, curves, epoch time",
     repro_fashion_cnn},
    {"deepsets", "2307.04001", "DeepSets LP/LE embeddings: injectivity probe and width study", repro_deepsets},
    {"h2o", "2306.14048", "H2O KV-cache eviction vs local/sink/TOVA: quality per budget", repro_h2o},
    {"essential-sparsity", "2306.03805", "OMP + fine-tune accuracy vs sparsity: the essential sparsity", repro_essential_sparsity},
    {"isp", "2306.10460", "Instant Soup Pruning vs IMP/LTH, OMP, SNIP, GraSP; soups; weak-mask ablation", repro_isp},
    {"isp-resnet20", "2306.10460", "Instant Soup Pruning vs IMP/LTH and one-shot methods on resnet20 (smaller plan)", repro_isp_resnet20},
    {"nanogpt", "baseline", "nanoGPT's CPU shakespeare-char run in its GPT form and the LLaMA form: whole-split validation loss vs the README's 1.88", repro_nanogpt},
};
#define NMETHODS ((int)(sizeof METHODS / sizeof METHODS[0]))

static void list_methods(FILE *f) {
    for (int i = 0; i < NMETHODS; i++)
        fprintf(f, "%-20s %-12s %s\n", METHODS[i].name, METHODS[i].paper, METHODS[i].about);
}

int cmd_repro(int argc, char **argv) {
    int quick = 0, list = 0;
    int64_t threads = 0, seed = 1;
    const char *data_dir = "", *out = "out";
    struct arg_flag flags[] = {
        {"list", ARG_BOOL, &list, "list the registered experiments and exit", 0, 0, NULL},
        {"quick", ARG_BOOL, &quick, "a small, fast version of the experiment", 0, 0, NULL},
        {"threads", ARG_INT, &threads, "worker threads (0 = all cores)", 0, 256, NULL},
        {"seed", ARG_INT, &seed, "seed for everything random in the experiment", 0, 1e18, NULL},
        {"data-dir", ARG_STR, &data_dir, "dataset directory (\"\" = the experiment's default)", 0,
         0, NULL},
        {"out", ARG_STR, &out, "results root: writes OUT/NAME/results.json and OUT/report/", 0, 0,
         NULL},
    };
    struct arg_cmd spec = {
        "repro",
        "frugal repro NAME [flags] | frugal repro --list",
        "Reproduces one registered experiment, writes OUT/NAME/results.json and\n"
        "plots, and rebuilds the report. `frugal repro --list` names them.",
        flags,
        (int)(sizeof flags / sizeof flags[0]),
        0,
        1};
    const char *pos[1];
    int npos = 0, rc = args_parse(&spec, argc, argv, pos, &npos);
    if (rc == ARGS_HELP) return EXIT_OK;
    if (rc != ARGS_OK) return EXIT_USAGE;
    if (list) {
        list_methods(stdout);
        return EXIT_OK;
    }
    char names[1024] = "";
    for (int i = 0; i < NMETHODS; i++) {
        size_t n = strlen(names);
        snprintf(names + n, sizeof names - n, "%s%s", i ? ", " : "", METHODS[i].name);
    }
    if (npos == 0) {
        fprintf(stderr, "frugal repro: missing NAME (one of: %s)\n", names);
        return EXIT_USAGE;
    }
    const struct repro_method *m = NULL;
    for (int i = 0; i < NMETHODS && !m; i++)
        if (strcmp(METHODS[i].name, pos[0]) == 0) m = &METHODS[i];
    if (!m) {
        fprintf(stderr, "frugal repro: unknown experiment '%s' (one of: %s)\n", pos[0], names);
        return EXIT_USAGE;
    }
    if ((rc = cli_threads("repro", threads)) != EXIT_OK) return rc;
    if (*data_dir && (rc = cli_check_data_dir("repro", data_dir)) != EXIT_OK) return rc;
    char command[2048];
    cli_command_line(argc, argv, command, sizeof command);
    struct repro_opts o = {quick, threads, (uint64_t)seed, *data_dir ? data_dir : NULL,
                           out,   command};
    if ((rc = m->run(&o)) != EXIT_OK) return rc;
    char path[4200];
    if (fr_report_build(out, path, sizeof path, NULL) != 0)
        return cli_fail("repro", "%s", fr_last_error());
    printf("report: %s\n", path);
    return EXIT_OK;
}

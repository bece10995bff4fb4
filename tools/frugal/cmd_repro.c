/* cmd_repro.c: `frugal repro NAME`: runs one registered reproduction
 * (experiments/experiment.h) with the plan asked for, then rebuilds the
 * report. Everything an experiment is lives in src/experiments/. */
#include "args.h"
#include "cmd.h"

#include "frugal/experiments/experiment.h"
#include "frugal/report.h"
#include "frugal/status.h"

#include <stdio.h>
#include <string.h>

static void list_experiments(FILE *f) {
    for (int i = 0; i < fr_experiment_count(); i++) {
        const struct fr_experiment *e = fr_experiment_at(i);
        fprintf(f, "%-20s %-12s %s\n", e->name, e->paper, e->about);
    }
}

int cmd_repro(int argc, char **argv) {
    int quick = 0, list = 0;
    const char *plan = "full", *data_dir = "", *out = "out", *results = "";
    static const char *const PLANS[] = {"tiny", "quick", "full", NULL};
    int64_t threads = 0, seed = 1;
    /* clang-format off */
    struct arg_flag flags[] = {
        {.name = "list", .type = ARG_BOOL, .dst = &list,
         .help = "list the registered experiments and exit"},
        {.name = "quick", .type = ARG_BOOL, .dst = &quick,
         .help = "a small, fast version of the experiment (= --plan quick)"},
        {.name = "plan", .type = ARG_STR, .dst = &plan, .choices = PLANS,
         .help = "which plan: tiny (seconds, a smoke test), quick, full"},
        {.name = "threads", .type = ARG_INT, .dst = &threads, .max = 256,
         .help = "worker threads (0 = all cores)"},
        {.name = "seed", .type = ARG_INT, .dst = &seed, .max = 1e18,
         .help = "seed for everything random in the experiment"},
        {.name = "data-dir", .type = ARG_STR, .dst = &data_dir,
         .help = "dataset directory (\"\" = the experiment's default)"},
        {.name = "out", .type = ARG_STR, .dst = &out,
         .help = "results root: writes OUT/NAME/results.json and OUT/report/"},
        {.name = "results-dir", .type = ARG_STR, .dst = &results,
         .help = "where a full run writes its committed summary NAME.json (\"\" = ./results when "
                 "that directory exists, else none)"},
    };
    /* clang-format on */
    struct arg_cmd spec = {
        .name = "repro",
        .synopsis = "frugal repro NAME [flags] | frugal repro --list",
        .about = "Reproduces one registered experiment, writes OUT/NAME/results.json and\n"
                 "plots, and rebuilds the report. `frugal repro --list` names them.",
        .flags = flags,
        .nflags = ARGS_COUNT(flags),
        .max_pos = 1,
    };
    const char *pos[1];
    int npos = 0, rc = cli_begin(&spec, argc, argv, pos, &npos);
    if (rc != CLI_GO) return rc;
    if (list) {
        list_experiments(stdout);
        return EXIT_OK;
    }
    char names[1024] = "";
    for (int i = 0; i < fr_experiment_count(); i++) {
        size_t n = strlen(names);
        snprintf(names + n, sizeof names - n, "%s%s", i ? ", " : "", fr_experiment_at(i)->name);
    }
    if (npos == 0) {
        fprintf(stderr, "frugal repro: missing NAME (one of: %s)\n", names);
        return EXIT_USAGE;
    }
    const struct fr_experiment *e = fr_experiment_find(pos[0]);
    if (!e) {
        fprintf(stderr, "frugal repro: unknown experiment '%s' (one of: %s)\n", pos[0], names);
        return EXIT_USAGE;
    }
    if (*data_dir && (rc = cli_check_data_dir("repro", data_dir)) != EXIT_OK) return rc;
    char command[2048];
    cli_command_line(argc, argv, command, sizeof command);
    struct fr_exp_opts o;
    fr_exp_opts_defaults(&o);
    o.size = quick || !strcmp(plan, "quick") ? FR_EXP_QUICK
             : !strcmp(plan, "tiny")         ? FR_EXP_TINY
                                             : FR_EXP_FULL;
    o.seed = (uint64_t)seed;
    o.threads = (int)threads;
    o.data_dir = *data_dir ? data_dir : NULL;
    o.out = out;
    o.command = command;
    o.log = stderr;
    char committed[4200] = "";
    int found = fr_exp_results_dir(committed, sizeof committed) == 0;
    if (*results)
        o.results_dir = results;
    else if (found && !strcmp(committed, "results"))
        o.results_dir = "results";
    struct fr_exp_outcome res;
    if (fr_experiment_run(e, &o, &res)) return cli_fail("repro", "%s", fr_last_error());
    fputs(res.summary, stdout);
    if (res.summary_path[0]) printf("committed summary: %s\n", res.summary_path);
    char path[4200];
    const char *rd = o.results_dir ? o.results_dir : found ? committed : NULL;
    if (fr_report_build(out, rd, path, sizeof path, NULL) != 0)
        return cli_fail("repro", "%s", fr_last_error());
    printf("report: %s\n", path);
    return EXIT_OK;
}

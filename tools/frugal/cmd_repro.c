/* cmd_repro.c: `frugal repro NAME [--quick]`: runs one registered
 * reproduction (experiments/experiment.h), then rebuilds the report. */
#include "args.h"
#include "cmd.h"
#include "repro.h"

#include "frugal/experiments/experiment.h"
#include "frugal/report.h"
#include "frugal/status.h"

#include <stdio.h>
#include <string.h>

static const struct repro_method METHODS[] = {
};
#define NMETHODS ((int)(sizeof METHODS / sizeof METHODS[0]))

static void list_methods(FILE *f) {
    for (int i = 0; i < fr_experiment_count(); i++) {
        const struct fr_experiment *e = fr_experiment_at(i);
        fprintf(f, "%-20s %-12s %s\n", e->name, e->paper, e->about);
    }
    for (int i = 0; i < NMETHODS; i++)
        fprintf(f, "%-20s %-12s %s\n", METHODS[i].name, METHODS[i].paper, METHODS[i].about);
}

int cmd_repro(int argc, char **argv) {
    int quick = 0, list = 0;
    const char *plan = "full";
    static const char *const PLANS[] = {"tiny", "quick", "full", NULL};
    int64_t threads = 0, seed = 1;
    const char *data_dir = "", *out = "out";
    struct arg_flag flags[] = {
        {"list", ARG_BOOL, &list, "list the registered experiments and exit", 0, 0, NULL},
        {"quick", ARG_BOOL, &quick, "a small, fast version of the experiment (= --plan quick)", 0,
         0, NULL},
        {"plan", ARG_STR, &plan, "which plan: tiny (seconds, a smoke test), quick, full", 0, 0,
         PLANS},
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
    for (int i = 0; i < fr_experiment_count(); i++) {
        size_t n = strlen(names);
        snprintf(names + n, sizeof names - n, "%s%s", i ? ", " : "", fr_experiment_at(i)->name);
    }
    for (int i = 0; i < NMETHODS; i++) {
        size_t n = strlen(names);
        snprintf(names + n, sizeof names - n, "%s%s", *names ? ", " : "", METHODS[i].name);
    }
    if (npos == 0) {
        fprintf(stderr, "frugal repro: missing NAME (one of: %s)\n", names);
        return EXIT_USAGE;
    }
    const struct repro_method *m = NULL;
    const struct fr_experiment *e = fr_experiment_find(pos[0]);
    for (int i = 0; i < NMETHODS && !m; i++)
        if (strcmp(METHODS[i].name, pos[0]) == 0) m = &METHODS[i];
    if (!m && !e) {
        fprintf(stderr, "frugal repro: unknown experiment '%s' (one of: %s)\n", pos[0], names);
        return EXIT_USAGE;
    }
    if ((rc = cli_threads("repro", threads)) != EXIT_OK) return rc;
    if (*data_dir && (rc = cli_check_data_dir("repro", data_dir)) != EXIT_OK) return rc;
    char command[2048];
    cli_command_line(argc, argv, command, sizeof command);
    if (quick) plan = "quick";
    if (e) {
        struct fr_exp_opts eo;
        fr_exp_opts_defaults(&eo);
        eo.size = !strcmp(plan, "tiny") ? FR_EXP_TINY : !strcmp(plan, "quick") ? FR_EXP_QUICK
                                                                                : FR_EXP_FULL;
        eo.seed = (uint64_t)seed;
        eo.threads = (int)threads;
        eo.data_dir = *data_dir ? data_dir : NULL;
        eo.out = out;
        eo.command = command;
        eo.log = stderr;
        struct fr_exp_outcome res;
        if (fr_experiment_run(e, &eo, &res)) return cli_fail("repro", "%s", fr_last_error());
        fputs(res.summary, stdout);
    } else {
        struct repro_opts o = {!strcmp(plan, "quick"), threads, (uint64_t)seed,
                               *data_dir ? data_dir : NULL, out, command};
        if ((rc = m->run(&o)) != EXIT_OK) return rc;
    }
    char path[4200];
    if (fr_report_build(out, path, sizeof path, NULL) != 0)
        return cli_fail("repro", "%s", fr_last_error());
    printf("report: %s\n", path);
    return EXIT_OK;
}

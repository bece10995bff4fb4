/* cmd_report.c: `frugal report`: OUT/report/index.html from the committed
 * full runs (results/<name>.json) and this machine's runs
 * (OUT/<name>/results.json); prints the page's path. */
#include "args.h"
#include "cmd.h"

#include "frugal/experiments/experiment.h"
#include "frugal/report.h"
#include "frugal/status.h"

#include <stdio.h>

int cmd_report(int argc, char **argv) {
    const char *out = "out", *results = "";
    /* clang-format off */
    struct arg_flag flags[] = {
        {.name = "out", .type = ARG_STR, .dst = &out,
         .help = "directory holding <name>/results.json; the page goes to OUT/report/"},
        {.name = "results-dir", .type = ARG_STR, .dst = &results,
         .help = "committed summaries <name>.json (\"\" = results/ of the checkout or the "
                 "installed share/frugal/results)"},
    };
    /* clang-format on */
    struct arg_cmd spec = {
        .name = "report",
        .synopsis = "frugal report [flags]",
        .about = "Builds OUT/report/index.html: one section per experiment with its claim,\n"
                 "our measurement, the plots and the command that reproduces it. Works on a\n"
                 "fresh clone: the committed full runs need no training.",
        .flags = flags,
        .nflags = ARGS_COUNT(flags),
    };
    int npos = 0, rc = cli_begin(&spec, argc, argv, NULL, &npos);
    if (rc != CLI_GO) return rc;
    char found[4200] = "", path[4200];
    if (!*results && fr_exp_results_dir(found, sizeof found) == 0) results = found;
    if (fr_report_build(out, *results ? results : NULL, path, sizeof path, NULL) != 0)
        return cli_fail("report", "%s", fr_last_error());
    printf("%s\n", path);
    return EXIT_OK;
}

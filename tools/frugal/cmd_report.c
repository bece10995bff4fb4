/* cmd_report.c: `frugal report`: out/report/index.html from every
 * out/<name>/results.json; prints the page's path. */
#include "args.h"
#include "cmd.h"

#include "frugal/report.h"
#include "frugal/status.h"

#include <stdio.h>

int cmd_report(int argc, char **argv) {
    const char *out = "out";
    struct arg_flag flags[] = {
        {.name = "out", .type = ARG_STR, .dst = &out, .help = "directory holding <name>/results.json"},
    };
    struct arg_cmd spec = {
        .name = "report",
        .synopsis = "frugal report [flags]",
        .about = "Builds OUT/report/index.html: one section per experiment with its claim,\n"
        "our measurement, the plots and the command that reproduces it.",
        .flags = flags,
        .nflags = 1,
    };
    const char *pos[1];
    int npos = 0, rc = cli_begin(&spec, argc, argv, pos, &npos);
    if (rc != CLI_GO) return rc;
    char path[4200];
    int n = 0;
    if (fr_report_build(out, path, sizeof path, &n) != 0)
        return cli_fail("report", "%s", fr_last_error());
    printf("%s\n", path);
    return EXIT_OK;
}

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
        {"out", ARG_STR, &out, "directory holding <name>/results.json", 0, 0, NULL},
    };
    struct arg_cmd spec = {
        "report",
        "frugal report [flags]",
        "Builds OUT/report/index.html: one section per experiment with its claim,\n"
        "our measurement, the plots and the command that reproduces it.",
        flags,
        1,
        0,
        0};
    const char *pos[1];
    int npos = 0, rc = args_parse(&spec, argc, argv, pos, &npos);
    if (rc == ARGS_HELP) return EXIT_OK;
    if (rc != ARGS_OK) return EXIT_USAGE;
    char path[4200];
    int n = 0;
    if (fr_report_build(out, path, sizeof path, &n) != 0)
        return cli_fail("report", "%s", fr_last_error());
    printf("%s\n", path);
    return EXIT_OK;
}

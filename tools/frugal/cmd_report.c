/* cmd_report.c: `frugal report`: OUT/report/index.html from the committed
 * full runs (results/<name>.json) and this machine's runs
 * (OUT/<name>/results.json); prints the page's path. */
#include "args.h"
#include "cmd.h"

#include "frugal/experiments/experiment.h"
#include "frugal/report.h"
#include "frugal/status.h"

#include <glob.h>
#include <stdio.h>
#include <unistd.h>

/* `frugal report --docs`: every Markdown file of the checkout that quotes
 * committed results. */
static int regenerate_docs(const char *results) {
    if (!*results) return cli_fail("report", "no results/ directory to generate the docs from");
    glob_t g;
    int rc = EXIT_OK, total = 0;
    if (glob("docs/*.md", 0, NULL, &g) != 0) g.gl_pathc = 0;
    const char *top[2] = {"BENCHMARKS.md", "README.md"};
    for (size_t i = 0; i < g.gl_pathc + 2 && rc == EXIT_OK; i++) {
        const char *md = i < g.gl_pathc ? g.gl_pathv[i] : top[i - g.gl_pathc];
        if (access(md, F_OK) != 0) continue;
        int n = 0;
        if (fr_report_docs(results, md, &n))
            rc = cli_fail("report", "%s", fr_last_error());
        else if (n)
            printf("%s: %d block%s from %s\n", md, n, n == 1 ? "" : "s", results);
        total += n;
    }
    if (g.gl_pathc) globfree(&g);
    if (rc == EXIT_OK && !total) printf("no results blocks found\n");
    return rc;
}

int cmd_report(int argc, char **argv) {
    const char *out = "out", *results = "";
    int docs = 0;
    /* clang-format off */
    struct arg_flag flags[] = {
        {.name = "out", .type = ARG_STR, .dst = &out,
         .help = "directory holding <name>/results.json; the page goes to OUT/report/"},
        {.name = "results-dir", .type = ARG_STR, .dst = &results,
         .help = "committed summaries <name>.json (\"\" = results/ of the checkout or the "
                 "installed share/frugal/results)"},
        {.name = "docs", .type = ARG_BOOL, .dst = &docs,
         .help = "instead: regenerate the <!-- results: NAME TABLE --> blocks of docs/*.md, "
                 "BENCHMARKS.md and README.md (run from the repository root)"},
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
    /* a directory named on the command line must be there: no silent empty report */
    if (*results && (rc = cli_check_dir("report", "results directory", results))) return rc;
    if (!*results && fr_exp_results_dir(found, sizeof found) == 0) results = found;
    if (docs) return regenerate_docs(results);
    if (fr_report_build(out, *results ? results : NULL, path, sizeof path, NULL) != 0)
        return cli_fail("report", "%s", fr_last_error());
    printf("%s\n", path);
    return EXIT_OK;
}

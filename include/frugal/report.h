/* report.h: how experiments record and show what they measured.
 *
 *  - results: one JSON document per experiment, out/<name>/results.json,
 *    holding numbers with units, the config, the seed, the machine, the git
 *    commit, timestamps, curves and tables. Built through this API (the JSON
 *    library stays private) and read back the same way.
 *  - plots: SVG line plots (several series, ticked and labelled axes, legend,
 *    title, optional log-y and markers), drawn by frugal itself.
 *  - the report: fr_report_build gathers results/<name>.json (committed full
 *    runs) and every out/<name>/results.json into
 *    out/report/index.html, one section per experiment: the paper and claim,
 *    our measurement as a table, the plots inlined, the reproducing command.
 *  - progress: a bar redrawn in place on a terminal, plain lines otherwise.
 *
 * Example:
 *     struct fr_results *r = fr_results_new("fashion-cnn", "Fashion-MNIST CNN");
 *     fr_results_set_str(r, "command", "frugal repro fashion-cnn");
 *     fr_results_config_int(r, "epochs", 2);
 *     fr_results_metric(r, "test_acc", 91.2, "%");
 *     fr_results_series(r, "train loss", "epoch", "loss", n, x, y);
 *     fr_results_write(r, "out/fashion-cnn/results.json");
 *     fr_results_free(r);
 *
 * Errors follow status.h. Apart from the progress bar (which writes to the
 * FILE the caller gives it), nothing here prints.
 */
#ifndef FRUGAL_REPORT_H
#define FRUGAL_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- machine ------------------------------------------------------------ */

struct fr_machine {
    char cpu[128];       /* model name from /proc/cpuinfo, or "unknown" */
    int cores;           /* online CPUs */
    const char *isa;     /* widest usable ISA: scalar | avx2 | avx512 */
    int threads;         /* frugal's pool size now */
    char commit[48];     /* the commit the library was built from ("-dirty" when tracked files
                            differed), or "unknown" outside a git checkout */
    const char *version; /* frugal's version string */
};

/* Fills m; never fails (unknown fields read "unknown"). Runs git once. */
void fr_machine_probe(struct fr_machine *m);
/* frugal's version, e.g. "0.1.0". */
const char *fr_version(void);

/* Creates dir and its parents (mkdir -p). 0 or FR_EIO naming the part that
 * failed. */
int fr_mkdirs(const char *dir);
/* Creates the directory that will hold file path (its parents too); a path
 * without a directory part needs none. 0 or FR_EIO / FR_EINVAL. */
int fr_mkdirs_for(const char *path);
/* Checks, before any work is done, that a file can be written at path, so
 * that a bad output path fails in milliseconds instead of throwing away a
 * trained model: refuses a path that is (or names) a directory, creates
 * the directory that will hold it, and creates and removes a probe file
 * with a unique name beside it ("PATH.probe.XXXXXX"). It leaves nothing
 * behind: directories it had to make are removed again (the writer makes
 * them when it writes: fr_mkdirs_for). 0, or FR_EIO "cannot write PATH:
 * reason". NULL or "" (no file) is 0. */
int fr_check_writable(const char *path);
/* The same for a directory files will be written into: a probe file made
 * and removed inside it (it and its parents made and removed again when
 * missing). */
int fr_check_writable_dir(const char *dir);
/* Where to put output that could not be written at path after all (a disk
 * that filled up, a directory removed during the run): a new, empty file
 * with a unique name, "frugal-rescue-XXXXXX-BASENAME" in $TMPDIR (else
 * /tmp), else in the current directory; its path goes to buf[cap]. The
 * caller writes over it (the atomic writers rename onto it) and names it in
 * its error message. FR_EIO when no such file can be made. */
int fr_rescue_path(const char *path, char *buf, size_t cap);
/* What a writer does when writing `what` ("the trained model") to path
 * failed with rc (its message the current error): writes it again with
 * write(user, rescue) to a fr_rescue_path file and returns rc with the
 * message "cannot write PATH (reason); WHAT was saved to RESCUE instead",
 * or, when that fails too, "cannot write PATH (reason), nor a rescue copy
 * (reason)". rescued[cap] (may be NULL) gets the rescue path, "" when there
 * is none. Always returns rc (nonzero). */
int fr_write_rescued(int rc, const char *path, const char *what,
                     int (*write)(void *user, const char *path), void *user, char *rescued,
                     size_t cap);

/* ---- results ------------------------------------------------------------ */

struct fr_results;

/* A new document named `name` (used as the directory name under out/) with a
 * human title; records the start time. NULL on allocation failure. */
struct fr_results *fr_results_new(const char *name, const char *title);
void fr_results_free(struct fr_results *r);

/* Top-level strings: "paper", "claim", "command", "notes", ... (replaces). */
int fr_results_set_str(struct fr_results *r, const char *key, const char *value);
int fr_results_set_seed(struct fr_results *r, uint64_t seed);
/* One entry of the "config" object. */
int fr_results_config_str(struct fr_results *r, const char *key, const char *value);
int fr_results_config_int(struct fr_results *r, const char *key, int64_t value);
int fr_results_config_double(struct fr_results *r, const char *key, double value);
/* A measured number with its unit ("%", "s", "bytes", "" for counts), shown in
 * the report's table in insertion order. Non-finite values are stored as null. */
int fr_results_metric(struct fr_results *r, const char *key, double value, const char *unit);
/* A measured number over several runs: the mean and its 95% interval
 * (fr_interval_*), stored as {value, lo, hi, n, interval, unit} and shown
 * in the report as "mean [lo, hi]". */
struct fr_interval;
int fr_results_metric_ci(struct fr_results *r, const char *key, const struct fr_interval *iv,
                         const char *unit);
/* A curve: n points (x[i], y[i]) with axis labels; copied. */
int fr_results_series(struct fr_results *r, const char *name, const char *xlabel,
                      const char *ylabel, int64_t n, const double *x, const double *y);
/* A table: column names (ncols, first column holds the row label) then rows
 * of a label and ncols-1 numbers. */
int fr_results_table(struct fr_results *r, const char *table, int ncols, const char *const *cols);
int fr_results_table_row(struct fr_results *r, const char *table, const char *label,
                         const double *vals);
/* Names a plot file (relative to the results.json's directory) to show. */
int fr_results_plot(struct fr_results *r, const char *file);

/* Adds machine, commit, version and the finish time, then writes the
 * document atomically (temp file + rename), creating parent directories. */
int fr_results_write(struct fr_results *r, const char *path);
/* The compact copy of a finished run that is committed (results/<name>.json):
 * the document as written (numbers, intervals, seeds, command, commit,
 * machine, times, series and tables) without the plot file names, since
 * the files stay in out/; the report draws its plots from the series. */
int fr_results_save_summary(const struct fr_results *r, const char *path);
/* Reads a results.json; NULL with a message on a missing or malformed file. */
struct fr_results *fr_results_read(const char *path);

/* Readers (NULL / FR_ENOTFOUND when absent). */
const char *fr_results_get_str(const struct fr_results *r, const char *key);
int fr_results_get_metric(const struct fr_results *r, const char *key, double *value,
                          const char **unit);
/* Series by name: *n points, pointers valid until the next call on r. */
int fr_results_get_series(struct fr_results *r, const char *name, int64_t *n, const double **x,
                          const double **y);

/* ---- statistics: intervals over runs, verdicts from intervals ----------- */

/* The mean of n values and its 95% interval. lo/hi are NaN when n < 2 (one
 * run has no interval); method says how it was made. */
struct fr_interval {
    double mean, lo, hi;
    int n;
    const char *method; /* "t95": Student t over n runs; "bootstrap95": percentile bootstrap */
};

/* Student t interval: mean +- t(0.975, n-1) * sd / sqrt(n), for a handful of
 * seeds (the bootstrap is too narrow there: 3 runs give 10 distinct
 * resamples). Non-finite values are an error (FR_EINVAL), n < 1 too. */
int fr_interval_t95(const double *x, int n, struct fr_interval *out);
/* Percentile bootstrap of the mean (B resamples, seeded: reproducible), for
 * many items such as text windows or test images. n >= 1, B >= 100. */
int fr_interval_bootstrap95(const double *x, int n, int B, uint64_t seed, struct fr_interval *out);
/* The paired difference a[i] - b[i] (the same seeds or windows) and its t
 * interval: the one to decide "A better than B" with. */
int fr_interval_diff_t95(const double *a, const double *b, int n, struct fr_interval *out);
/* t(0.975, df), the two-sided 95% Student t quantile; df >= 1. */
double fr_t975(int df);

enum fr_verdict {
    FR_VERDICT_UNKNOWN = 0, /* fewer than 2 runs: no interval to decide with */
    FR_VERDICT_A,           /* the interval of A - B excludes 0 on A's side */
    FR_VERDICT_B,           /* ... on B's side */
    FR_VERDICT_SAME,        /* the interval contains 0: no measurable difference */
};
/* The verdict the interval of A - B supports (higher_is_better: whether a
 * larger value of the quantity is better). */
enum fr_verdict fr_verdict_of(const struct fr_interval *diff, int higher_is_better);
/* "A better than B" with A and B named, or "no measurable difference
 * between A and B", or "not enough runs to compare A and B", into buf. */
const char *fr_verdict_text(enum fr_verdict v, const char *a, const char *b, char *buf, size_t cap);

/* ---- plots -------------------------------------------------------------- */

struct fr_plot_series {
    const char *name;
    int64_t n;
    const double *x, *y; /* non-finite points (and y <= 0 on a log axis) are skipped */
};

struct fr_plot {
    const char *title, *xlabel, *ylabel;
    int log_y;         /* logarithmic y axis */
    int markers;       /* draw a marker at each point */
    int width, height; /* pixels; 0 = 640 x 400 */
    int log_x;         /* logarithmic x axis (points with x <= 0 are skipped) */
};

/* Renders a line plot as a standalone SVG document (malloc'd, caller frees).
 * NULL on bad arguments (nseries < 0, n < 0, NULL arrays with n > 0). */
char *fr_plot_svg(const struct fr_plot *p, int nseries, const struct fr_plot_series *s);
/* fr_plot_svg written atomically to path. */
int fr_plot_write(const char *path, const struct fr_plot *p, int nseries,
                  const struct fr_plot_series *s);

/* A heat map of v (h rows of w values in [0, 1], row y at y * w; black
 * 0 -> red -> yellow -> white 1) as a standalone SVG (malloc'd), with an
 * optional title and centred squares of the given sides outlined (the
 * ERF's 20..99% squares). NULL on bad arguments (sides over 4096). */
char *fr_heat_svg(const double *v, int64_t w, int64_t h, const char *title, const int *squares,
                  int nsquares);
int fr_heat_write(const char *path, const double *v, int64_t w, int64_t h, const char *title,
                  const int *squares, int nsquares);

/* ---- the HTML report ---------------------------------------------------- */

/* Gathers the committed summaries results_dir/<name>.json (NULL: none; the
 * full runs the docs quote, plots drawn from their series) and this
 * machine's runs out_dir/<name>/results.json (every subdirectory except
 * report/, plot files embedded) into out_dir/report/index.html, created
 * with out_dir when missing. Unreadable results become a section that says
 * why. Writes the index path into path_out (capacity cap) and returns 0, or
 * an error (nothing writable). *n_sections (may be NULL) receives the
 * number of sections. */
int fr_report_build(const char *out_dir, const char *results_dir, char *path_out, size_t cap,
                    int *n_sections);

/* ---- tables in the docs, generated from committed results -------------- */

/* Regenerates the blocks of a Markdown file that quote committed results,
 * so no number in the docs lacks a file behind it. A block is
 *     <!-- results: NAME TABLE -->
 *     ...(generated)...
 *     <!-- end results -->
 * where NAME is results_dir/NAME.json and TABLE one of its tables (as a
 * Markdown table) or the word "metrics" (every metric, "mean [lo, hi]"
 * where it has an interval). The file is rewritten atomically, and only
 * when a block changed; *n_blocks (may be NULL) receives the number of
 * blocks. A block naming a missing file or table is an error, and the file
 * is left as it was. */
int fr_report_docs(const char *results_dir, const char *md_path, int *n_blocks);

/* ---- progress ----------------------------------------------------------- */

struct fr_progress {
    FILE *out;
    int tty;       /* redraw one line with \r; else plain lines */
    int64_t every; /* plain mode: a line every this many steps (0 = ~20 per run) */
    double t_start, t_last_draw;
    double t_first;     /* time of the first update: the ETA's rate excludes set-up */
    int64_t first_step; /* step of the first update (resumed runs start later) */
    int drawn;          /* a bar is on screen: the next text overwrites it */
    int drawn_len;      /* its length, to blank it out */
};

/* Starts a progress display on out; tty is detected with isatty. */
void fr_progress_init(struct fr_progress *p, FILE *out, int64_t every);
/* One update. Has the signature of fr_train_config.progress (user = p):
 * after each step (epoch_end = 0) and at each epoch end (epoch_end = 1,
 * val_acc in [0,1] or negative when there is no validation split). */
void fr_progress_update(void *p, int epoch, int64_t step, int64_t steps_total, double loss,
                        double lr, int epoch_end, double val_acc);
/* Ends the display (a newline after a bar). */
void fr_progress_done(struct fr_progress *p);

#ifdef __cplusplus
}
#endif
#endif

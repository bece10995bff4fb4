/* experiments/experiment.h: the reproductions as a library layer.
 *
 * An experiment is one file under src/experiments/: its plans as data (a
 * struct of its own, one constant for each size: tiny, quick, full), a run
 * function that measures with the methods below it and writes
 * OUT/<name>/results.json and its plots, and one line in the registry
 * (src/experiments/registry.c). `frugal repro NAME` parses flags and calls
 * fr_experiment_run; nothing else of an experiment lives in the CLI.
 *
 *     const struct fr_experiment *e = fr_experiment_find("h2o");
 *     struct fr_exp_opts o;
 *     fr_exp_opts_defaults(&o);          // quick plan, seed 1, out "out"
 *     o.log = stderr;                    // progress lines and bars
 *     struct fr_exp_outcome res;
 *     if (fr_experiment_run(e, &o, &res)) die(fr_last_error());
 *     puts(res.summary);
 *
 * Sizes: FR_EXP_TINY runs in seconds (the test that runs every registered
 * experiment uses it; its numbers mean nothing), FR_EXP_QUICK in minutes
 * (`--quick`), FR_EXP_FULL is the reproduction whose numbers the docs quote.
 * Like the rest of the library, an experiment never prints to stdout and
 * never exits: progress goes to o->log, the closing line to out->summary,
 * errors to fr_last_error().
 */
#ifndef FRUGAL_EXPERIMENTS_EXPERIMENT_H
#define FRUGAL_EXPERIMENTS_EXPERIMENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

enum fr_exp_size { FR_EXP_TINY = 0, FR_EXP_QUICK = 1, FR_EXP_FULL = 2, FR_EXP_NSIZES = 3 };

struct fr_exp_opts {
    enum fr_exp_size size;
    uint64_t seed;        /* the run's first seed (default 1) */
    int threads;          /* worker threads, recorded; the caller sets the pool */
    const char *data_dir; /* Fashion-MNIST directory; NULL: the default */
    const char *out;      /* results root: OUT/<name>/ (default "out") */
    const char *command;  /* the command line that reproduces the run (recorded) */
    FILE *log;            /* progress lines and bars; NULL: silent */
    /* Where a full run's committed summary goes: results_dir/<name>.json
     * (fr_results_save_summary). NULL: none. Only FR_EXP_FULL writes it:
     * the committed numbers are always a full plan's. */
    const char *results_dir;
};

/* What a run leaves for its caller besides the files. */
struct fr_exp_outcome {
    char results[4200];      /* path of the results.json written */
    char summary[4096];      /* the closing line(s) to show a user ("" if none) */
    char summary_path[4200]; /* the committed summary written ("" if none) */
};

struct fr_experiment {
    const char *name;  /* `frugal repro NAME`, and the results directory */
    const char *paper; /* arXiv id of the seed paper, or "baseline" */
    const char *about; /* one line */
    /* the experiment's own plan struct for each size (index enum fr_exp_size) */
    const void *plans[FR_EXP_NSIZES];
    /* Runs plan (one of plans[]). Returns 0 or an error (status.h). */
    int (*run)(const struct fr_experiment *e, const void *plan, const struct fr_exp_opts *o,
               struct fr_exp_outcome *out);
};

/* size quick, seed 1, threads 0, out "out", the rest NULL. */
void fr_exp_opts_defaults(struct fr_exp_opts *o);
/* The registered experiments, in registry order; i past the end: NULL. */
const struct fr_experiment *fr_experiment_at(int i);
int fr_experiment_count(void);
/* By name; NULL if unknown. */
const struct fr_experiment *fr_experiment_find(const char *name);
/* "tiny", "quick", "full". */
const char *fr_exp_size_name(enum fr_exp_size s);
/* Runs e's plan for o->size after checking o (seed, size, an output root it
 * can create); a full run with o->results_dir then also writes its
 * committed summary there (out->summary_path). out is cleared first. */
int fr_experiment_run(const struct fr_experiment *e, const struct fr_exp_opts *o,
                      struct fr_exp_outcome *out);

/* ---- helpers for experiment files ---- */

/* OUT/<name> into buf, created (with its parents). 0 or an error. */
int fr_exp_dir(const struct fr_exp_opts *o, const char *name, char *buf, size_t cap);
/* One progress line on o->log (newline added); nothing when o->log is NULL. */
void fr_exp_log(const struct fr_exp_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends printf-style text to buf (capacity cap, *len used so far),
 * silently truncated at the capacity: how experiments collect the notes
 * they print from their numbers. */
void fr_exp_append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Resolves a data file frugal ships (e.g. "data/tinyshakespeare.txt") into
 * buf: FRUGAL_DATA (a directory holding the files) first, then the path as
 * given (relative to the working directory), then beside the executable
 * (<bin>/../share/frugal/<file> when installed, <bin>/../data/<file> in a
 * build tree). Returns 0 with buf set, or FR_ENOTFOUND naming every place
 * looked (buf then holds the path as given). */
int fr_exp_data_path(const char *rel, char *buf, size_t cap);

/* The directory of committed summaries (results/) the report reads:
 * FRUGAL_RESULTS first, then ./results, then beside the executable
 * (<bin>/../share/frugal/results installed, <bin>/../results in a build
 * tree). 0 with buf set, or FR_ENOTFOUND (buf "") when there is none. */
int fr_exp_results_dir(char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif

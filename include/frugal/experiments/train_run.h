/* experiments/train_run.h: one image-classification training run recorded
 * as an experiment: fr_train_run (train.h) with a progress display, then
 * DIR/results.json with the config and metrics, loss.svg and accuracy.svg.
 * `frugal train`, `frugal demo` and `frugal repro fashion-cnn` are this
 * call with different names and titles.
 */
#ifndef FRUGAL_EXPERIMENTS_TRAIN_RUN_H
#define FRUGAL_EXPERIMENTS_TRAIN_RUN_H

#include "frugal/train.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a training run records besides its config: where results go and how
 * the report describes it. */
struct fr_train_run_info {
    const char *name;           /* results name, e.g. "train", "demo", "fashion-cnn" */
    const char *title;          /* section title in the report */
    const char *paper;          /* may be NULL */
    const char *claim;          /* may be NULL */
    const char *command;        /* the command line that reproduces the run */
    const char *results_dir;    /* where results.json and plots go; NULL or "" = none */
    const char *data_dir_shown; /* the dataset directory recorded (NULL: cfg->data_dir) */
    int64_t progress_every;     /* plain-line progress every N steps (0 = auto) */
    FILE *log;                  /* the progress display; NULL: none */
};

/* Checks the outputs first (results_dir and the files cfg->out and
 * cfg->ckpt: created and writable, fr_check_writable), so a bad or
 * read-only path fails before training; runs fr_train_run; unless the run
 * was interrupted (res->interrupted), writes the results (results_path
 * receives results.json's path, "" when there is no results_dir). When
 * results.json still cannot be written it goes to a rescue file
 * (fr_write_rescued), which results_path then names, and the error says
 * so. res is the trainer's result (fr_train_result_free). Errors per
 * status.h; on error res holds nothing to free. */
int fr_train_run_recorded(const struct fr_train_config *cfg, const struct fr_train_run_info *info,
                          struct fr_train_result *res, char *results_path, size_t cap);

/* The lines `frugal train` prints after a run (resumed from, trained X on
 * Y, checkpoint, results, test acc), each ending in a newline, into buf. */
void fr_train_run_summary(const struct fr_train_config *cfg, const struct fr_train_result *res,
                          const char *results_path, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif

/* essential_sparsity.h: the parts of `frugal repro essential-sparsity`
 * (private to src/experiments): essential_sparsity.c runs the image models
 * and owns the results document; es_lm.c adds the language-model curve and
 * es_abrupt.c abrupt sparsification to it. Each part's plan is a field of
 * the experiment's plan (one constant per size in essential_sparsity.c).
 */
#ifndef FRUGAL_EXPERIMENTS_ESSENTIAL_SPARSITY_H
#define FRUGAL_EXPERIMENTS_ESSENTIAL_SPARSITY_H

#include "frugal/experiments/experiment.h"

#include <stddef.h>
#include <stdint.h>

struct fr_results;

/* The language-model curve: the fixed fine-tune and the sparsity grids. */
struct es_lm_plan {
    int iters;          /* fine-tune iterations per point */
    int nseeds;         /* fine-tune seeds (batch order): seed .. seed + nseeds - 1 */
    const double *grid; /* global OMP sparsities, ascending, grid[0] = 0 */
    int ngrid;
    const double *lw_grid; /* layer-wise sparsities, ascending, > 0 (the dense point is shared) */
    int nlw;
    /* 0: the whole text; else only its first text_bytes bytes (copied into
     * the results directory while the part runs), which makes scoring the
     * validation split cheap */
    int64_t text_bytes;
};

/* Abrupt sparsification: pretraining data sizes and the steps of each run. */
struct es_abrupt_plan {
    const int64_t *sizes; /* ascending; the last one is loaded */
    int nsizes;
    int64_t steps, every; /* optimizer steps per run; a count every `every` steps */
    int nseeds;           /* runs per (objective, size): seeds seed .. seed + nseeds - 1 */
};

/* OMP + fine-tune of data/shakespeare-char.safetensors at rising sparsity,
 * scored by held-out perplexity. Adds its config, metrics, series and the
 * table "lm sweep" to r, writes dir/lm.svg and dir/lm-oneshot.svg (named in
 * r) and appends one line per curve to summary (es_append, cap bytes);
 * the caller writes results.json. Returns 0 or an error (status.h). */
int es_lm_run(const struct es_lm_plan *P, const struct fr_exp_opts *o, struct fr_results *r,
              const char *dir, char *summary, size_t cap);

/* Vit pretraining runs (sup and mim, each data size of P) counting
 * near-zero body weights every P->every steps; adds its config, metrics,
 * table, series and notes to r (keys start with "abrupt") and writes
 * abrupt-*.svg into dir (named in r's plots); r is not written. Returns 0
 * or an error (status.h). */
int es_abrupt_run(const struct es_abrupt_plan *P, const struct fr_exp_opts *o, struct fr_results *r,
                  const char *dir);

/* Appends printf-style text to the NUL-terminated buf of cap bytes
 * (truncated to fit). */
void es_append(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Sets "prefix: <the current message>" as the message and returns rc
 * (FR_EINVAL when rc is 0): fr_error must not read the buffer it writes. */
int es_fail(int rc, const char *prefix);

#endif

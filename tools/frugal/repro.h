/* repro.h: the registry behind `frugal repro NAME`. Each reproducible
 * experiment is one function in its own file (repro_<name>.c) and one line
 * in the table in cmd_repro.c. A function trains/measures, writes
 * OUT/<name>/results.json (with the paper, claim, command, metrics and plots)
 * and returns an exit code (printing one line on stderr on failure). */
#ifndef FRUGAL_CLI_REPRO_H
#define FRUGAL_CLI_REPRO_H

#include <stdint.h>

struct repro_opts {
    int quick;       /* a small, fast version (subset, fewer steps) */
    int64_t threads; /* already applied to the pool */
    uint64_t seed;
    const char *data_dir; /* dataset directory (NULL = the method's default) */
    const char *out;      /* results root, e.g. "out" */
    const char *command;  /* the command line that reproduces this run */
};

struct repro_method {
    const char *name;
    const char *paper; /* the seed paper it reproduces, or "baseline" */
    const char *about; /* one line */
    int (*run)(const struct repro_opts *o);
};

int repro_deepsets(const struct repro_opts *o);
int repro_essential_sparsity(const struct repro_opts *o);
int repro_isp(const struct repro_opts *o);
int repro_isp_resnet20(const struct repro_opts *o);

/* The language-model curve of essential sparsity (repro_es_lm.c): OMP +
 * fine-tune of data/shakespeare-char.safetensors at rising sparsity, scored
 * by held-out perplexity. Adds its config, metrics, series and the table
 * "lm sweep" to r and writes dir/lm.svg (named in r); the caller writes
 * results.json. quick: ~100 fine-tune steps per point and fewer layer-wise
 * points (a few minutes on 2 cores). Returns an exit code (one line on
 * stderr on failure). */
struct fr_results;
int repro_es_lm(const struct repro_opts *o, struct fr_results *r, const char *dir, int quick);
/* Abrupt sparsification (repro_es_abrupt.c): vit pretraining runs (sup and
 * mim, several data sizes) counting near-zero body weights every few steps;
 * adds its config, metrics, table, series and notes to r (keys start with
 * "abrupt") and writes abrupt-*.svg into dir (named in r's plots). quick:
 * 2 data sizes, fewer steps. Returns an exit code (one line on stderr on
 * failure); r is not written. */
int repro_es_abrupt(const struct repro_opts *o, struct fr_results *r, const char *dir, int quick);

#endif

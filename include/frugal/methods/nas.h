/* nas.h: zero-shot NAS (the survey of training-free proxies, arXiv
 * 2307.01998): a ground-truth benchmark of NAS-Bench-201 cells trained on
 * Fashion-MNIST with one fixed short recipe (this file's first part).
 *
 * The table is a CSV file that grows across sessions and processes:
 *
 *     # frugal nas-bench: NAS-Bench-201 cells trained on Fashion-MNIST
 *     # recipe: <fr_nasbench_recipe_format's line>
 *     cell,arch,seed,val_acc,test_acc,params,flops,train_seconds
 *     4179,|nor_conv_3x3~0|+|...|,1,81.34,80.97,27434,5081616,14.2
 *
 * One row per (cell, seed) trained; rows are appended whole under an
 * exclusive lock (a partial last line left by a killed writer is cut off
 * first), so several processes or MPI ranks may build one table and a
 * stopped build restarts where it stopped. A table made with another
 * recipe is refused rather than mixed.
 */
#ifndef FRUGAL_METHODS_NAS_H
#define FRUGAL_METHODS_NAS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct fr_dataset;

/* The fixed short recipe: nb201 at C, N; trained on training images
 * [0, train) and validated on [train, train + val) of the Fashion-MNIST
 * training split, tested on the first `test` test images (0: all 10k);
 * AdamW, cosine to 0, batch, epochs, lr, wd; threads per process. */
struct fr_nasbench_recipe {
    int c, n;
    int64_t train, val, test;
    int epochs, batch;
    double lr, wd;
    int threads;
};
/* The shipped table's recipe: C 8, N 1, 20000 / 5000 / all, 1 epoch of
 * batch 128, lr 2e-3, wd 1e-4, 1 thread (so J processes, --jobs J, share
 * J cores: more cells per hour than one process with J threads). */
void fr_nasbench_recipe_defaults(struct fr_nasbench_recipe *r);
/* The recipe as the table's one-line "# recipe: ..." text (without the
 * "# recipe: " prefix). 0, or FR_EINVAL when cap is too small. */
int fr_nasbench_recipe_format(const struct fr_nasbench_recipe *r, char *buf, size_t cap);

/* The benchmark's sample: the first n cells of a seeded uniform
 * permutation of the 6466 isomorphism classes' representatives
 * (fr_nb201_unique), so a larger n extends a smaller one. n <= 6466. */
int fr_nasbench_sample(uint64_t seed, int64_t *cells, int n);

/* One trained cell. */
struct fr_nasbench_row {
    int64_t cell;             /* fr_nb201_index */
    uint64_t seed;            /* init and batch order */
    double val_acc, test_acc; /* % */
    int64_t params;           /* trainable */
    int64_t flops;            /* forward, 2 x multiply-adds of convs and the linear, per image */
    double train_seconds;
};

/* Trains cell `cell` with seed under recipe r on train (the training
 * split, at least r->train + r->val images) and test, into *row. */
int fr_nasbench_train(const struct fr_nasbench_recipe *r, const struct fr_dataset *train,
                      const struct fr_dataset *test, int64_t cell, uint64_t seed,
                      struct fr_nasbench_row *row);

/* Reads a table: its rows (malloc'd, *n of them; free()) and its recipe
 * line into recipe[cap] (may be NULL). A missing file is FR_ENOTFOUND; a
 * malformed row, an unknown cell or a non-finite number FR_EFORMAT naming
 * the line (a partial last line without its newline is ignored: a killed
 * writer's). */
int fr_nasbench_read(const char *path, struct fr_nasbench_row **rows, int64_t *n, char *recipe,
                     size_t cap);
/* Appends one row under an exclusive lock (flock): creates the file with
 * its header when it does not exist, cuts a partial last line, refuses
 * (FR_EINVAL) a table whose recipe line differs from `recipe`. */
int fr_nasbench_append(const char *path, const char *recipe, const struct fr_nasbench_row *row);

/* ---- the proxies (proxies.c; each function there cites its definition) ----
 * Each scores a freshly initialised network: fr_proxy_score builds arch
 * with cfg from seed, so a proxy is a function of (architecture, seed,
 * batch). Larger is better, except NTK's condition number
 * (fr_proxy_sign -1). */
enum fr_proxy {
    FR_PROXY_PARAMS,         /* trainable parameters */
    FR_PROXY_FLOPS,          /* forward FLOPs per image (fr_model_flops) */
    FR_PROXY_GRAD_NORM,      /* sum over weights of ||dL/dtheta||_2 */
    FR_PROXY_SNIP,           /* sum |theta * dL/dtheta| */
    FR_PROXY_GRASP,          /* -sum theta * (H g), Hg by a central difference */
    FR_PROXY_FISHER,         /* activation-gradient Fisher information */
    FR_PROXY_SYNFLOW,        /* |theta| network, f64, all-ones input, BN off */
    FR_PROXY_JACOB_COV,      /* input-Jacobian correlation spectrum */
    FR_PROXY_NASWOT,         /* log|det| of the ReLU-code agreement kernel */
    FR_PROXY_ZEN,            /* Zen-score: feature change under input noise, Gaussian weights */
    FR_PROXY_ZICO,           /* gradient mean / std over batches */
    FR_PROXY_GRADSIGN,       /* agreement of per-sample gradient signs */
    FR_PROXY_NTK,            /* NTK condition number (lower is better) */
    FR_PROXY_LINEAR_REGIONS, /* distinct ReLU patterns over 1000 4x4 crops of the images */
    FR_NPROXIES
};
/* "params", "flops", "grad_norm", "snip", "grasp", "fisher", "synflow",
 * "jacob_cov", "naswot", "zen", "zico", "gradsign", "ntk",
 * "linear_regions" ("?" out of range) and back (-1 with FR_ENOTFOUND
 * naming the known ones). */
const char *fr_proxy_name(int proxy);
int fr_proxy_parse(const char *name);
/* +1 when larger scores should mean better networks, -1 (NTK) otherwise. */
int fr_proxy_sign(int proxy);

/* The labelled batch a proxy reads: samples idx[0..n) of ds (n >= 2). */
struct fr_proxy_batch {
    const struct fr_dataset *ds;
    const int64_t *idx;
    int n;
};

struct fr_model_config;
/* The proxy's score of arch (cfg) initialised from seed, on batch b, into
 * *score, and its own cost into *seconds (may be NULL). A score the
 * definition leaves undefined (a dead network's constant Jacobian) is NaN,
 * returned with 0: the caller reports it as such. Errors: a bad proxy or
 * batch (FR_EINVAL), FLOPs of an architecture that does not count them,
 * the model's. */
int fr_proxy_score(const char *arch, const struct fr_model_config *cfg, int proxy,
                   const struct fr_proxy_batch *b, uint64_t seed, double *score, double *seconds);

#ifdef __cplusplus
}
#endif

#endif

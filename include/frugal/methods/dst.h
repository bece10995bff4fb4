/* dst.h: dynamic sparse training (SET, RigL, MEST) and Chase's channel-
 * aware variant, which ends as a physically narrower dense network.
 *
 *     struct fr_dst_config dc;
 *     fr_dst_config_defaults(&dc);          // chase, density 0.1, ERK, dT 100
 *     dc.channel_sparsity = 0.4;
 *     struct fr_dst *d = fr_dst_new(m, &dc, total_steps);   // ERK mask set
 *     each step: backward, then fr_dst_after_backward(d, step_before);
 *                optimizer step, then fr_dst_after_step(d, step_after);
 *     int nl; const uint8_t *const *alive = fr_dst_alive(d, &nl);
 *     struct fr_model *small = fr_model_shrink(m, alive);     // models.h
 *     fr_dst_free(d);
 *
 * The scope is the model's default pruning scope (prune.h: FR_PARAM_PRUNABLE
 * tensors, the classifier head excluded); biases and norms stay dense. N is
 * the scope's size and K = sum over tensors of round(d_l N_l) the kept
 * count, d_l from ERK or uniform (d_l = d).
 *
 * Methods (every update at a step t that is a multiple of update_every):
 *   static  the initial mask, never changed.
 *   set     per tensor, drop the f(t) nnz_l smallest |w| and grow as many at
 *           random among that tensor's zeros, f(t) = drop_frac/2 (1 + cos(pi
 *           t / T_u)), T_u = update_end T; no updates after T_u.
 *   rigl    as set, but grow the largest |g| (this step's dense gradient).
 *   mest    the soft memory bound: prune by global |w| back to K, then grow
 *           by global |g| to K + e(t) N, e(t) = mest_extra/2 (1 + cos(pi t /
 *           T_u)); the first update at or after T_u only prunes back to K.
 *   chase   mest until T_u, then global RigL swaps to the end: drop
 *           ceil(r(t) nnz) by |w|, grow back to K by |g|, r(t) cosine-decayed
 *           from 0.5 to 0.005 over the whole run (the authors' schedule);
 *           with channel_sparsity S_c > 0 also channel removal (below).
 * Grown weights start at 0 with zero optimizer moments (the optimizer keeps
 * masked entries' moments at 0, so a regrown weight's are already reset).
 * Gradients of masked weights: frugal's backward computes dense gradients
 * anyway (the optimizer masks them), so growth costs one copy of the
 * scope's gradient at update steps and nothing on other steps.
 * Parameter count: static, set and rigl hold exactly K at every step; mest
 * and chase hold at most K + e(t') N between updates (t' the last update:
 * the soft bound) and exactly K after their last MEST update and at the
 * run's last step; fr_dst_nnz says how many. An update decides its drops
 * and growths before it touches weights: a weight dropped and regrown by
 * the same update keeps its value and moments.
 *
 * Channel removal (chase, channel_sparsity > 0, models with prunable channel
 * layers, models.h fr_model_channels): every channel_every steps (offset by
 * half an update interval from the weight updates) while t < T_g = gmp_end
 * T, and once at T_g, the target channel sparsity is S(t) = S_c (1 - (1 -
 * t/T_g)^3) of all prunable channels. The channels to remove are those with
 * the lowest UMM score (mean |w| over the whole filter, masked zeros
 * counted) over all layers, except that no layer goes below floor(C_l (1 -
 * S_c) beta) channels. A removed channel's filter, batch-norm weight and
 * bias and its consumer's input slice are masked to zero for good; the
 * next growth re-spends the freed budget in surviving channels.
 */
#ifndef FRUGAL_METHODS_DST_H
#define FRUGAL_METHODS_DST_H

#include <stdint.h>

#include "frugal/io.h"
#include "frugal/models.h"

#ifdef __cplusplus
extern "C" {
#endif

enum fr_dst_method { FR_DST_STATIC = 0, FR_DST_SET, FR_DST_RIGL, FR_DST_MEST, FR_DST_CHASE };

struct fr_dst_config {
    enum fr_dst_method method;
    double density;          /* kept fraction of the scope, (0, 1] */
    int erk;                 /* initial per-tensor densities: 1 ERK, 0 uniform */
    int64_t update_every;    /* dT: steps between weight updates (> 0) */
    double drop_frac;        /* set / rigl: swapped fraction at t = 0, in (0, 1) */
    double mest_extra;       /* mest / chase: the soft bound's extra density e, [0, 1 - d] */
    double update_end;       /* T_u as a fraction of the run, (0, 1]; 0: 0.75 (set, rigl),
                                0.8 (mest, chase) */
    double channel_sparsity; /* chase: S_c, [0, 1) */
    double gmp_end;          /* chase: T_g as a fraction of the run, (0, 1]; 0: 0.8 */
    int64_t channel_every;   /* chase: steps between channel removals; 0: 2 update_every */
    double beta;             /* chase: per-layer floor factor, (0, 1]; default 0.5 */
    uint64_t seed;           /* initial mask and set's regrowth */
};

/* chase, density 0.1, ERK, update_every 100, drop_frac 0.3, mest_extra
 * 0.05, update_end / gmp_end 0 (the defaults above), channel_sparsity 0,
 * channel_every 0, beta 0.5, seed 1. */
void fr_dst_config_defaults(struct fr_dst_config *c);
/* "static", "set", "rigl", "mest", "chase"; -1 if unknown. */
int fr_dst_method_parse(const char *name);
const char *fr_dst_method_name(enum fr_dst_method m);

/* Checks c for a run of total_steps steps (> 0): one-line FR_EINVAL for a
 * density outside (0, 1], S_c outside [0, 1) or set with a method other
 * than chase, a schedule ending after the run (a fraction above 1) or an
 * update interval longer than it, a bad drop fraction, extra or beta. */
int fr_dst_config_check(const struct fr_dst_config *c, int64_t total_steps);

struct fr_dst;

/* Starts DST on m for a run of total_steps steps: checks c, sets m's keep-
 * mask to the initial ERK / uniform mask (drawn from c->seed) and zeroes the
 * masked weights. A model that already has a mask is refused (DST owns the
 * mask). Channel removal needs prunable channel layers (FR_EINVAL
 * otherwise). NULL with the error set. */
struct fr_dst *fr_dst_new(struct fr_model *m, const struct fr_dst_config *c, int64_t total_steps);
void fr_dst_free(struct fr_dst *d);

/* Call after backward (and any all-reduce), before the optimizer step,
 * with step = optimizer steps done before this one: at steps that end with
 * an update it keeps the scope's dense gradient. */
void fr_dst_after_backward(struct fr_dst *d, int64_t step);
/* Call after the optimizer step, step = optimizer steps done (>= 1): the
 * weight update and channel removal due at that step. 0 or an error. */
int fr_dst_after_step(struct fr_dst *d, int64_t step);

/* The model d trains. */
struct fr_model *fr_dst_model(const struct fr_dst *d);
/* The steps of the run d was made for (fr_dst_new's total_steps). */
int64_t fr_dst_steps(const struct fr_dst *d);
/* Non-zero (kept) entries of the scope now, and K. */
int64_t fr_dst_nnz(const struct fr_dst *d);
int64_t fr_dst_target(const struct fr_dst *d);
int64_t fr_dst_scope_size(const struct fr_dst *d);
/* Updates and channel removals done so far. */
int64_t fr_dst_updates(const struct fr_dst *d);

/* The run state a resume needs besides the weights and optimizer: the mask
 * (m's mask slab) and the channel flags. Fills b[0..cap) and returns the
 * count (< 0 when cap is too small); after loading them call
 * fr_dst_resumed. */
int fr_dst_blobs(struct fr_dst *d, struct fr_ckpt_blob *b, int cap);
int fr_dst_resumed(struct fr_dst *d);

/* Channels: alive[l] (C_l bytes each, fr_model_channels order) of the
 * model's prunable channel layers; NULL when it has none. Valid while d
 * lives. fr_dst_channels_alive counts them over all layers. */
const uint8_t *const *fr_dst_alive(const struct fr_dst *d, int *nlayers);
int64_t fr_dst_channels_alive(const struct fr_dst *d, int64_t *total);

/* The channels that influence nothing: alive[l][c] = 0 when the consumer's
 * input slice c holds no kept weight (what Chase's removal leaves, e.g. in
 * a checkpoint it wrote; a channel whose filter alone is empty still feeds
 * its batch norm's bias through the ReLU, so it is not dead). alive must hold FR_MODEL_MAX_WIDTHS
 * pointers, each filled with a malloc'd array (free each); returns the layer count, 0 for a model
 * without channel layers or a mask. */
int fr_dst_dead_channels(const struct fr_model *m, uint8_t **alive);

/* Per-channel density of every prunable tensor that is a conv (4-d) or
 * linear weight: for output channel c of tensor t, kept / filter size.
 * Fills dens (a malloc'd array of *n values, layers in slab order) and
 * layer (the tensor's index in m->params for each value). amenable counts
 * channels whose density is below ratio x their tensor's mean density
 * ("sparse-amenable"; Chase calls channels that much sparser than the
 * layer removable). 0 or FR_EINVAL (no mask) / FR_ENOMEM. */
int fr_dst_channel_density(const struct fr_model *m, double ratio, double **dens, int **layer,
                           int64_t *n, int64_t *amenable);

/* ---- DST inside `frugal train` (fr_train_run's extension) ----
 *
 *     struct fr_dst_run r;
 *     fr_dst_run_init(&r, &dc);
 *     cfg.ext = &r.ext;                 // train.h
 *     fr_train_run(&cfg, &res);         // the ERK mask is set at the start
 *     ... r.nnz, r.channels_alive: the final state ...
 *     fr_dst_run_free(&r);
 *
 * The run checkpoint records the DST config as "train.dst.*" metadata (a
 * resume must match) and the mask, channel flags, counters and RNG as
 * blobs, so a resumed run continues bit for bit. */
struct fr_train_ext;
#include "frugal/train.h"

#define FR_DST_META 12
struct fr_dst_run {
    struct fr_dst_config c;
    struct fr_dst *d; /* the live state during the run (NULL after it) */
    /* at the end of a finished run: kept weights, K, scope size, updates,
     * prunable channels alive and in all (0, 0 without channel removal) */
    int64_t nnz, target, scope, updates, channels_alive, channels;
    /* Optional observers (an experiment's analysis), given `observer`:
     * on_step after each step's DST work, on_end when the run finished
     * (model evaluated and written), before the state is freed. A nonzero
     * return stops the run and is returned by fr_train_run. */
    void *observer;
    int (*on_step)(void *observer, struct fr_dst *d, const struct fr_fit_state *st);
    int (*on_end)(void *observer, struct fr_dst *d, struct fr_model *m);
    struct fr_train_ext ext;
    char keys[FR_DST_META][32], vals[FR_DST_META][64];
    const char *kp[FR_DST_META], *vp[FR_DST_META];
};
void fr_dst_run_init(struct fr_dst_run *r, const struct fr_dst_config *c);
void fr_dst_run_free(struct fr_dst_run *r);

/* BN re-estimation after shrinking lives in train.h (fr_bn_recalibrate). */

#ifdef __cplusplus
}
#endif
#endif

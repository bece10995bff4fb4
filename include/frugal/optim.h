/* optim.h: optimizers, gradient clipping and learning-rate schedules over a
 * parameter slab (params.h).
 *
 *     struct fr_optim opt;
 *     struct fr_optim_config oc;
 *     fr_optim_config_defaults(&oc, FR_OPT_ADAMW);     // PyTorch defaults
 *     fr_optim_init(&opt, &model->params, &oc);
 *     each step: zero grads, forward, backward,
 *                fr_clip_grad_norm(&model->params, 1.0);    (optional)
 *                fr_optim_step(&opt, fr_schedule_lr(&sched, opt.step));
 *
 * Semantics follow torch.optim (SGD with momentum, dampening 0, Nesterov and
 * coupled weight decay; AdamW with decoupled decay and bias correction).
 * FR_PARAM_BUFFER entries are never touched. Weight decay skips
 * FR_PARAM_NO_DECAY entries (biases, norm weights) unless decay_all is set.
 * When the slab has a mask (fr_params_mask_init), masked entries and their
 * optimizer moments are kept exactly zero.
 *
 * State lives in slabs with the parameter layout (m: momentum / first
 * moment, v: second moment, NULL for SGD) plus the step count, so a
 * checkpoint saves it as two arrays and one number.
 */
#ifndef FRUGAL_OPTIM_H
#define FRUGAL_OPTIM_H

#include "frugal/params.h"

#ifdef __cplusplus
extern "C" {
#endif

enum fr_opt_kind { FR_OPT_SGD = 0, FR_OPT_ADAMW = 1 };

struct fr_optim_config {
    enum fr_opt_kind kind;
    double lr;                /* used when fr_optim_step gets lr < 0 */
    double momentum;          /* SGD */
    int nesterov;             /* SGD (needs momentum > 0) */
    double beta1, beta2, eps; /* AdamW */
    double weight_decay;
    int decay_all; /* also decay FR_PARAM_NO_DECAY entries (PyTorch's plain behaviour) */
};

/* SGD: lr 0.1, momentum 0, wd 0. AdamW: lr 1e-3, betas (0.9, 0.999),
 * eps 1e-8, wd 1e-2 (torch.optim.AdamW defaults). */
void fr_optim_config_defaults(struct fr_optim_config *c, enum fr_opt_kind kind);
/* Parses "sgd" / "adamw"; -1 if unknown. */
int fr_optim_parse(const char *name);

struct fr_optim {
    struct fr_optim_config cfg;
    struct fr_params *p;
    float *m, *v; /* p->n floats each (v NULL for SGD), zero at start */
    int64_t step; /* steps taken so far */
    int64_t seen; /* steps the moments had seen before this optimizer took them over
                     (set with moments copied in; AdamW's bias correction counts them,
                     schedules and checkpoints do not); 0 at init */
};

/* Allocates zeroed state for slab p (which must be allocated and must
 * outlive the optimizer). 0, FR_EINVAL (bad hyper-parameter) or FR_ENOMEM. */
int fr_optim_init(struct fr_optim *o, struct fr_params *p, const struct fr_optim_config *c);
void fr_optim_free(struct fr_optim *o);
/* One update from the gradients in p->grad with learning rate lr (lr < 0:
 * cfg.lr), then step++. Deterministic (serial, fixed order). */
void fr_optim_step(struct fr_optim *o, double lr);

/* Scales all trainable gradients so their global L2 norm is at most
 * max_norm (PyTorch clip_grad_norm_: factor max_norm / (norm + 1e-6) when
 * norm > max_norm). With a keep-mask (p->mask) the norm is that of the
 * gradient the optimizer applies: masked entries, which it discards, do not
 * count. Returns the norm before clipping. max_norm <= 0: only measures. */
double fr_clip_grad_norm(struct fr_params *p, double max_norm);

/* ---- learning-rate schedules: pure functions of the step ---- */
enum fr_sched_kind { FR_SCHED_CONST = 0, FR_SCHED_STEP, FR_SCHED_COSINE };

struct fr_schedule {
    enum fr_sched_kind kind;
    double base_lr;
    int64_t warmup_steps; /* linear warmup: lr * (step + 1) / warmup_steps */
    int64_t step_every;   /* STEP: multiply by gamma every step_every steps */
    double gamma;
    int64_t total_steps; /* COSINE: reaches min_lr at total_steps */
    double min_lr;
};

/* Parses "none"/"constant", "step", "cosine"; -1 if unknown. */
int fr_schedule_parse(const char *name);
/* Learning rate for 0-based step (the update about to be made). Warmup
 * applies first; the decay then runs over the steps after warmup (STEP
 * counts from step 0, as torch's StepLR after a warmup would). */
double fr_schedule_lr(const struct fr_schedule *s, int64_t step);

/* ---- one builder for an optimizer and its schedule ---- */

/* Everything a training loop says about its optimizer; every trainer in
 * frugal (train.h's fr_fit and its front-ends) builds through this. */
struct fr_optim_spec {
    const char *opt;      /* "adamw" (NULL: adamw) | "sgd" */
    double lr;            /* peak learning rate, > 0 */
    double momentum;      /* SGD momentum */
    int nesterov;         /* SGD */
    double beta2;         /* AdamW; 0: 0.999 */
    double wd;            /* decoupled (AdamW) / L2 (SGD) weight decay */
    const char *schedule; /* "none" (NULL: none) | "step" | "cosine" */
    int64_t warmup;       /* linear warmup steps */
    int64_t step_every;   /* step schedule: lr *= gamma every step_every steps */
    double gamma;
    double min_lr;       /* cosine: the floor reached at total_steps */
    int64_t total_steps; /* cosine: its length */
};

/* Initialises o over p (fr_optim_init) and fills s from spec. FR_EINVAL
 * naming the bad field (unknown optimizer or schedule, lr <= 0, negative
 * decay, warmup or steps), FR_ENOMEM. On error o holds nothing to free. */
int fr_optim_build(struct fr_optim *o, struct fr_schedule *s, struct fr_params *p,
                   const struct fr_optim_spec *spec);

#ifdef __cplusplus
}
#endif
#endif

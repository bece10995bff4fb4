/* schedule.c: learning-rate schedules as pure functions of the step, so a
 * resumed run recomputes exactly the rates an uninterrupted run used; and
 * fr_optim_build, the one place an optimizer and its schedule are made
 * from a trainer's settings. */
#include "frugal/optim.h"
#include "frugal/status.h"

#include <math.h>
#include <string.h>

int fr_schedule_parse(const char *name) {
    if (!name) return -1;
    if (strcmp(name, "none") == 0 || strcmp(name, "constant") == 0) return FR_SCHED_CONST;
    if (strcmp(name, "step") == 0) return FR_SCHED_STEP;
    if (strcmp(name, "cosine") == 0) return FR_SCHED_COSINE;
    return -1;
}

double fr_schedule_lr(const struct fr_schedule *s, int64_t step) {
    if (step < 0) step = 0;
    if (s->warmup_steps > 0 && step < s->warmup_steps)
        return s->base_lr * (double)(step + 1) / (double)s->warmup_steps;
    switch (s->kind) {
    case FR_SCHED_STEP:
        if (s->step_every <= 0) return s->base_lr;
        return s->base_lr * pow(s->gamma, (double)(step / s->step_every));
    case FR_SCHED_COSINE: {
        int64_t t = step - s->warmup_steps, T = s->total_steps - s->warmup_steps;
        if (T <= 0 || t >= T) return s->min_lr;
        return s->min_lr +
               (s->base_lr - s->min_lr) * 0.5 * (1.0 + cos(M_PI * (double)t / (double)T));
    }
    case FR_SCHED_CONST:
    default:
        return s->base_lr;
    }
}

int fr_optim_build(struct fr_optim *o, struct fr_schedule *s, struct fr_params *p,
                   const struct fr_optim_spec *spec) {
    memset(o, 0, sizeof *o);
    memset(s, 0, sizeof *s);
    const char *opt = spec->opt ? spec->opt : "adamw";
    const char *sched = spec->schedule ? spec->schedule : "none";
    int kind = fr_optim_parse(opt), sk = fr_schedule_parse(sched);
    if (kind < 0) return fr_error(FR_EINVAL, "unknown optimizer '%s' (known: sgd, adamw)", opt);
    if (sk < 0)
        return fr_error(FR_EINVAL, "unknown schedule '%s' (known: none, step, cosine)", sched);
    if (!(spec->lr > 0) || !isfinite(spec->lr))
        return fr_error(FR_EINVAL, "learning rate %g must be positive", spec->lr);
    if (!(spec->wd >= 0) || !isfinite(spec->wd) || !(spec->min_lr >= 0) || spec->warmup < 0 ||
        spec->step_every < 0 || spec->total_steps < 0 || !(spec->gamma >= 0))
        return fr_error(FR_EINVAL,
                        "bad schedule or decay (weight decay %g, min lr %g, warmup "
                        "%lld, step every %lld, gamma %g, total %lld)",
                        spec->wd, spec->min_lr, (long long)spec->warmup,
                        (long long)spec->step_every, spec->gamma, (long long)spec->total_steps);
    struct fr_optim_config oc;
    fr_optim_config_defaults(&oc, (enum fr_opt_kind)kind);
    oc.lr = spec->lr;
    oc.weight_decay = spec->wd;
    if (kind == FR_OPT_SGD) {
        oc.momentum = spec->momentum;
        oc.nesterov = spec->nesterov;
    } else if (spec->beta2 > 0) {
        oc.beta2 = spec->beta2;
    }
    int rc = fr_optim_init(o, p, &oc);
    if (rc) return rc;
    s->kind = (enum fr_sched_kind)sk;
    s->base_lr = spec->lr;
    s->warmup_steps = spec->warmup;
    s->step_every = spec->step_every;
    s->gamma = spec->gamma;
    s->total_steps = spec->total_steps;
    s->min_lr = spec->min_lr;
    return 0;
}

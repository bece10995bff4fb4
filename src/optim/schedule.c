/* schedule.c: learning-rate schedules as pure functions of the step, so a
 * resumed run recomputes exactly the rates an uninterrupted run used. */
#include "frugal/optim.h"

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
        return s->min_lr + (s->base_lr - s->min_lr) * 0.5 * (1.0 + cos(M_PI * (double)t / (double)T));
    }
    case FR_SCHED_CONST:
    default:
        return s->base_lr;
    }
}

/* progress.c: training progress (see report.h). On a terminal one line is
 * redrawn in place (at most ten times a second, so printing never shows up
 * in a profile); into a pipe or file it writes plain lines every `every`
 * steps and at each epoch end, which read well in CI logs. The ETA assumes
 * the remaining steps run at the average speed so far. */
#include "frugal/clock.h"
#include "frugal/report.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

static void fmt_dur(double s, char *buf, size_t cap) {
    if (!isfinite(s) || s < 0) {
        snprintf(buf, cap, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

void fr_progress_init(struct fr_progress *p, FILE *out, int64_t every) {
    memset(p, 0, sizeof *p);
    p->out = out;
    p->tty = out && isatty(fileno(out));
    p->every = every;
    p->t_start = fr_seconds();
    p->t_last_draw = -1;
    p->first_step = -1;
}

static double eta(const struct fr_progress *p, int64_t step, int64_t total, double now) {
    int64_t done = step - p->first_step;
    if (total <= step) return 0;
    if (done <= 0) return NAN;
    return (now - p->t_first) / (double)done * (double)(total - step);
}

void fr_progress_update(void *user, int epoch, int64_t step, int64_t steps_total, double loss,
                        double lr, int epoch_end, double val_acc) {
    struct fr_progress *p = user;
    if (!p || !p->out) return;
    double now = fr_seconds();
    if (p->first_step < 0) {
        p->first_step = step;
        p->t_first = now;
    }
    char e[32], el[32];
    fmt_dur(eta(p, step, steps_total, now), e, sizeof e);
    fmt_dur(now - p->t_start, el, sizeof el);
    if (epoch_end) {
        char line[256];
        int n = snprintf(line, sizeof line, "epoch %d done: step %lld/%lld, train loss %.4f", epoch,
                         (long long)step, (long long)steps_total, loss);
        if (val_acc >= 0 && n < (int)sizeof line)
            n += snprintf(line + n, sizeof line - (size_t)n, ", val acc %.2f%%", 100.0 * val_acc);
        if (n < (int)sizeof line) snprintf(line + n, sizeof line - (size_t)n, ", elapsed %s", el);
        /* on a terminal the summary replaces the bar (padded to blank it) */
        if (p->drawn)
            fprintf(p->out, "\r%-*s\n", p->drawn_len, line);
        else
            fprintf(p->out, "%s\n", line);
        p->drawn = 0;
        fflush(p->out);
        return;
    }
    if (p->tty) {
        if (p->t_last_draw >= 0 && now - p->t_last_draw < 0.1 && step != steps_total) return;
        p->t_last_draw = now;
        enum { WIDTH = 24 };
        char bar[WIDTH + 1];
        int fill = steps_total > 0 ? (int)((double)WIDTH * (double)step / (double)steps_total) : 0;
        if (fill > WIDTH) fill = WIDTH;
        for (int i = 0; i < WIDTH; i++)
            bar[i] = i < fill ? '#' : '-';
        bar[WIDTH] = '\0';
        p->drawn_len = fprintf(p->out, "\repoch %d [%s] %lld/%lld loss %.4f lr %.3g ETA %s   ",
                               epoch, bar, (long long)step, (long long)steps_total, loss, lr, e) -
                       1;
        fflush(p->out);
        p->drawn = 1;
        return;
    }
    int64_t every = p->every > 0 ? p->every : (steps_total >= 20 ? steps_total / 20 : 1);
    if (step % every != 0 && step != steps_total) return;
    fprintf(p->out, "epoch %d step %lld/%lld loss %.4f lr %.3g elapsed %s ETA %s\n", epoch,
            (long long)step, (long long)steps_total, loss, lr, el, e);
    fflush(p->out);
}

void fr_progress_done(struct fr_progress *p) {
    if (p->drawn && p->out) {
        fputc('\n', p->out);
        fflush(p->out);
    }
    p->drawn = 0;
}

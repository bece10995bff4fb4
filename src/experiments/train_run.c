/* train_run.c: one image-classification run recorded as an experiment
 * (experiments/train_run.h): a recorder between the trainer and the
 * progress display keeps the per-step loss for the plot; afterwards
 * results.json gets the config, the metrics and the curves. */
#include "frugal/experiments/train_run.h"

#include "frugal/dist.h"

#include "frugal/data.h"
#include "frugal/report.h"
#include "frugal/status.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CURVE_POINTS 400

/* Collects the per-step loss for the plot and forwards to the display. */
struct recorder {
    struct fr_progress bar;
    double *step, *loss;
    int64_t n, cap;
    int oom;
    int has_val; /* the trainer reports 0 val acc when there is no split */
};

static void record(void *user, int epoch, int64_t step, int64_t steps_total, double loss, double lr,
                   int epoch_end, double val_acc) {
    struct recorder *r = user;
    if (!epoch_end && !r->oom) {
        if (r->n == r->cap) {
            int64_t cap = r->cap ? r->cap * 2 : 1024;
            double *s = realloc(r->step, (size_t)cap * sizeof *s);
            if (s) r->step = s;
            double *l = s ? realloc(r->loss, (size_t)cap * sizeof *l) : NULL;
            if (l) r->loss = l;
            if (!s || !l)
                r->oom = 1;
            else
                r->cap = cap;
        }
        if (!r->oom) {
            r->step[r->n] = (double)step;
            r->loss[r->n] = loss;
            r->n++;
        }
    }
    if (!r->bar.out) return;
    /* the trainer counts epochs from 0; people count from 1 */
    fr_progress_update(&r->bar, epoch + 1, step, steps_total, loss, lr, epoch_end,
                       r->has_val ? val_acc : -1.0);
}

/* Averages (x, y) into at most `bins` points, in place; returns the count. */
static int64_t bin_curve(double *x, double *y, int64_t n, int64_t bins) {
    if (n <= bins) return n;
    int64_t out = 0;
    for (int64_t b = 0; b < bins; b++) {
        int64_t lo = n * b / bins, hi = n * (b + 1) / bins;
        double sx = 0, sy = 0;
        for (int64_t i = lo; i < hi; i++)
            sx += x[i], sy += y[i];
        x[out] = sx / (double)(hi - lo);
        y[out] = sy / (double)(hi - lo);
        out++;
    }
    return out;
}

static int record_config(struct fr_results *r, const struct fr_train_config *c,
                         const char *shown_dir) {
    int rc = 0;
    rc |= fr_results_config_str(r, "model", c->model);
    rc |= fr_results_config_str(r, "data", c->data);
    rc |= fr_results_config_str(r, "data_dir", shown_dir);
    rc |= fr_results_config_int(r, "epochs", c->epochs);
    rc |= fr_results_config_int(r, "batch", c->batch);
    rc |= fr_results_config_str(r, "opt", c->opt);
    rc |= fr_results_config_str(r, "precision", c->precision ? c->precision : "f32");
    rc |= fr_results_config_double(r, "lr", c->lr);
    rc |= fr_results_config_double(r, "momentum", c->momentum);
    rc |= fr_results_config_int(r, "nesterov", c->nesterov);
    rc |= fr_results_config_double(r, "wd", c->wd);
    rc |= fr_results_config_str(r, "schedule", c->schedule);
    rc |= fr_results_config_int(r, "warmup_steps", c->warmup_steps);
    rc |= fr_results_config_double(r, "step_gamma", c->step_gamma);
    rc |= fr_results_config_int(r, "step_every", c->step_every);
    rc |= fr_results_config_double(r, "clip", c->clip);
    rc |= fr_results_config_double(r, "val_frac", c->val_frac);
    rc |= fr_results_config_int(r, "patience", c->patience);
    rc |= fr_results_config_int(r, "augment", c->augment);
    rc |= fr_results_config_int(r, "limit_train", c->limit_train);
    rc |= fr_results_config_int(r, "threads", c->threads);
    rc |= fr_results_config_int(r, "ranks", c->data_parallel ? fr_dist_size() : 1);
    if (c->width_mult > 1) rc |= fr_results_config_int(r, "width_mult", c->width_mult);
    for (int i = 0; c->ext && i < c->ext->nmeta; i++) /* e.g. the DST config */
        rc |= fr_results_config_str(r, c->ext->meta_keys[i], c->ext->meta_vals[i]);
    rc |= fr_results_set_seed(r, c->seed);
    return rc;
}

static int write_plots(struct fr_results *r, const char *dir, struct recorder *rec,
                       const struct fr_train_config *cfg, const struct fr_train_result *res) {
    char path[4096];
    int rc = 0;
    int64_t E = res->epochs_run;
    double *ex = malloc((size_t)(E > 0 ? E : 1) * sizeof *ex);
    double *va = malloc((size_t)(E > 0 ? E : 1) * sizeof *va);
    if (!ex || !va) {
        rc = fr_error(FR_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (int64_t e = 0; e < E; e++) {
        ex[e] = (double)(e + 1);
        va[e] = res->val_acc && cfg->val_frac > 0 ? 100.0 * res->val_acc[e] : NAN;
    }
    /* per-step loss in units of epochs, so it shares the x axis with the
     * per-epoch curves; binned to keep files small */
    double spe = E > 0 && res->steps > 0 ? (double)res->steps / (double)E : 1.0;
    for (int64_t i = 0; i < rec->n; i++)
        rec->step[i] /= spe;
    int64_t nb = bin_curve(rec->step, rec->loss, rec->n, MAX_CURVE_POINTS);
    rc |= fr_results_series(r, "train loss (steps, binned)", "epoch", "cross-entropy", nb,
                            rec->step, rec->loss);
    if (res->train_loss)
        rc |= fr_results_series(r, "train loss (epoch mean)", "epoch", "cross-entropy", E, ex,
                                res->train_loss);
    rc |= fr_results_series(r, "val acc", "epoch", "accuracy (%)", E, ex, va);
    if (res->epoch_seconds)
        rc |= fr_results_series(r, "epoch time", "epoch", "seconds", E, ex, res->epoch_seconds);
    if (rc) goto cleanup;

    struct fr_plot_series ls[2] = {
        {"train loss (per step, binned)", nb, rec->step, rec->loss},
        {"train loss (epoch mean)", res->train_loss ? E : 0, ex, res->train_loss}};
    struct fr_plot lp = {
        .title = "training loss", .xlabel = "epoch", .ylabel = "cross-entropy", .log_y = 1};
    snprintf(path, sizeof path, "%s/loss.svg", dir);
    if ((rc = fr_plot_write(path, &lp, 2, ls)) != 0) goto cleanup;
    rc = fr_results_plot(r, "loss.svg");

    double tx = (double)E, ty = 100.0 * res->test_acc;
    struct fr_plot_series as[2] = {{"validation accuracy", E, ex, va},
                                   {"test accuracy (final)", 1, &tx, &ty}};
    struct fr_plot ap = {
        .title = "accuracy", .xlabel = "epoch", .ylabel = "accuracy (%)", .markers = 1};
    snprintf(path, sizeof path, "%s/accuracy.svg", dir);
    if ((rc = fr_plot_write(path, &ap, 2, as)) != 0) goto cleanup;
    rc = fr_results_plot(r, "accuracy.svg");
cleanup:
    free(ex);
    free(va);
    return rc;
}

static int write_json(void *results, const char *path) {
    return fr_results_write(results, path);
}

static int write_results(const struct fr_train_config *cfg, const struct fr_train_run_info *info,
                         struct recorder *rec, const struct fr_train_result *res, char *path,
                         size_t cap) {
    int rc = 0;
    struct fr_results *r = fr_results_new(info->name, info->title);
    if (!r) return FR_ENOMEM;
    if (info->paper) rc |= fr_results_set_str(r, "paper", info->paper);
    if (info->claim) rc |= fr_results_set_str(r, "claim", info->claim);
    rc |= fr_results_set_str(r, "command", info->command);
    rc |= record_config(r, cfg,
                        info->data_dir_shown ? info->data_dir_shown
                        : cfg->data_dir      ? cfg->data_dir
                                             : FR_FMNIST_DIR);
    double mean_epoch = 0;
    for (int e = 0; res->epoch_seconds && e < res->epochs_run; e++)
        mean_epoch += res->epoch_seconds[e] / res->epochs_run;
    rc |= fr_results_metric(r, "test accuracy", 100.0 * res->test_acc, "%");
    rc |= fr_results_metric(r, "best validation accuracy",
                            cfg->val_frac > 0 ? 100.0 * res->best_val_acc : NAN, "%");
    rc |= fr_results_metric(r, "final train loss", res->final_train_loss, "nats");
    rc |= fr_results_metric(r, "epochs run", res->epochs_run, "");
    rc |= fr_results_metric(r, "optimizer steps", (double)res->steps, "");
    rc |= fr_results_metric(r, "training time", res->seconds, "s");
    rc |= fr_results_metric(r, "mean epoch time", res->epoch_seconds ? mean_epoch : NAN, "s");
    rc |= fr_results_metric(r, "parameters", (double)res->n_params, "");
    rc |= fr_results_metric(r, "peak activation arena", (double)res->peak_arena_bytes, "bytes");
    if (fr_dist_size() > 1 && res->steps > 0) { /* data parallel: rank 0's share of the talking */
        rc |= fr_results_metric(r, "all-reduce time per step",
                                res->comm_seconds / (double)res->steps, "s");
        rc |= fr_results_metric(r, "all-reduce bytes per step",
                                (double)res->comm_bytes / (double)res->steps, "bytes");
    }
    if (rc) goto cleanup;
    if ((rc = write_plots(r, info->results_dir, rec, cfg, res)) != 0) goto cleanup;
    if ((size_t)snprintf(path, cap, "%s/results.json", info->results_dir) >= cap) {
        rc = fr_error(FR_EINVAL, "results path too long");
        goto cleanup;
    }
    if ((rc = fr_results_write(r, path)))
        rc = fr_write_rescued(rc, path, "results.json", write_json, r, path, cap);
cleanup:
    if (rc && !fr_last_error()[0]) fr_error(FR_ENOMEM, "out of memory writing results");
    fr_results_free(r);
    return rc;
}

int fr_train_run_recorded(const struct fr_train_config *cfg, const struct fr_train_run_info *info,
                          struct fr_train_result *res, char *results_path, size_t cap) {
    struct fr_train_config c = *cfg;
    struct recorder rec = {0};
    int rc;
    memset(res, 0, sizeof *res);
    if (cap) results_path[0] = '\0';
    /* outputs first: a typo or a read-only directory fails now, not after
     * training */
    if ((rc = fr_check_writable_dir(info->results_dir)) || (rc = fr_check_writable(c.out)) ||
        (rc = fr_check_writable(c.ckpt)))
        return rc;
    if (info->log) fr_progress_init(&rec.bar, info->log, info->progress_every);
    c.progress = record;
    c.user = &rec;
    rec.has_val = c.val_frac > 0;
    fr_clear_error();
    rc = fr_train_run(&c, res);
    if (info->log) fr_progress_done(&rec.bar);
    if (rc) {
        if (!fr_last_error()[0]) fr_error(rc, "training failed");
        goto cleanup;
    }
    if (!res->interrupted && info->results_dir && *info->results_dir)
        rc = write_results(&c, info, &rec, res, results_path, cap);
    if (rc) fr_train_result_free(res);
cleanup:
    free(rec.step);
    free(rec.loss);
    return rc;
}

void fr_train_run_summary(const struct fr_train_config *c, const struct fr_train_result *res,
                          const char *results_path, char *buf, size_t cap) {
    size_t n = 0;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        if (n < cap) n += (size_t)snprintf(buf + n, cap - n, __VA_ARGS__);                         \
    } while (0)
    if (cap) buf[0] = '\0';
    if (res->interrupted) {
        /* no final evaluation happened: say so rather than print a number */
        PUT("stopped after %lld steps (--stop-after)%s%s\n", (long long)res->steps,
            c->ckpt ? "; continue with --resume --ckpt " : "", c->ckpt ? c->ckpt : "");
        return;
    }
    if (res->resumed) PUT("resumed from %s at step %lld\n", c->ckpt, (long long)res->resumed_step);
    PUT("trained %s on %s: %d epoch%s, %lld steps, %.1f s, %lld parameters\n", c->model, c->data,
        res->epochs_run, res->epochs_run == 1 ? "" : "s", (long long)res->steps, res->seconds,
        (long long)res->n_params);
    if (c->data_parallel && fr_dist_size() > 1 && res->steps > 0)
        PUT("data parallel over %d ranks: all-reduce %.1f ms and %.2f MB per step (rank 0)\n",
            fr_dist_size(), 1e3 * res->comm_seconds / (double)res->steps,
            (double)res->comm_bytes / (double)res->steps / 1e6);
    if (c->out && *c->out) PUT("checkpoint: %s\n", c->out);
    if (results_path && *results_path) PUT("results: %s\n", results_path);
    PUT("test acc %.2f%%\n", 100.0 * res->test_acc);
#undef PUT
}

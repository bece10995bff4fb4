/* lm_run.c: one language-model run recorded as an experiment
 * (experiments/lm_run.h): the progress display between the trainer and the
 * caller's log, then results.json with the config, the metrics, the
 * evaluation curves and a sample of the best checkpoint for the report. */
#include "frugal/experiments/lm_run.h"

#include "frugal/dist.h"
#include "frugal/methods/prune.h"
#include "frugal/report.h"
#include "frugal/status.h"
#include "frugal/tokenizer.h"
#include "frugal/transformer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Evaluations get a line of their own; steps move the bar. */
static void on_progress(void *user, int64_t it, int64_t iters, double loss, double lr, int is_eval,
                        double val) {
    struct fr_progress *bar = user;
    if (is_eval) {
        if (bar->drawn) fputc('\n', bar->out), bar->drawn = 0;
        fprintf(bar->out, "iter %lld: train loss %.4f, val loss %.4f\n", (long long)it, loss, val);
        fflush(bar->out);
        return;
    }
    fr_progress_update(bar, 0, it, iters, loss, lr, 0, 0);
}

/* A short sample from the saved checkpoint (temperature 0.8), malloc'd
 * text or NULL, for the report. It starts from the newline of a character
 * vocabulary (tinyshakespeare's), else token 0, and decodes token by token
 * (no prefill), so the sample is the same as it always was. */
static char *sample_text(const char *ckpt, int n, uint64_t seed) {
    char tp[4096];
    snprintf(tp, sizeof tp, "%s.tok", ckpt);
    struct fr_tf_model m;
    struct fr_tokenizer *tok = NULL;
    char *out = NULL;
    if (fr_tf_load(&m, ckpt)) return NULL;
    if (fr_tokenizer_load(tp, &tok)) goto done;
    int V = m.cfg.vocab_size;
    if (n > m.cfg.max_seq - 1) n = m.cfg.max_seq - 1;
    struct fr_tf_state st;
    struct fr_sampler sp;
    if (fr_tf_state_init(&st, &m, 1, n + 1, 1, NULL, 0)) goto done;
    fr_sampler_init(&sp, V, 0.8f, 0, 1.0f, seed);
    float *lg = malloc(sizeof(float) * V);
    int32_t *ids = malloc(sizeof(int32_t) * (n + 1));
    int32_t cur = 0, nl;
    const uint8_t *piece;
    size_t len;
    for (nl = 0; nl < V; nl++)
        if (!fr_tokenizer_piece(tok, nl, &piece, &len, NULL) && len == 1 && piece[0] == '\n') break;
    cur = nl < V ? nl : 0;
    int k = 0;
    for (; lg && ids && k < n; k++) {
        if (fr_tf_decode(&st, &cur, lg)) break;
        cur = fr_sample(&sp, lg);
        ids[k] = cur;
    }
    uint8_t *txt;
    size_t tl;
    if (ids && !fr_tokenizer_decode(tok, ids, k, 1, &txt, &tl)) out = (char *)txt;
    free(lg);
    free(ids);
    fr_sampler_free(&sp);
    fr_tf_state_free(&st);
done:
    fr_tokenizer_free(tok);
    fr_tf_free(&m);
    return out;
}

/* float -> the shortest decimal that reads back as it (0.1f -> 0.1), so
 * the recorded dropout reads as it was asked for. */
static double as_asked(float f) {
    char buf[32];
    for (int prec = 1; prec < 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        if ((float)strtod(buf, NULL) == f) return strtod(buf, NULL);
    }
    return (double)f;
}

static const char *arch_name(const struct fr_lm_config *c) {
    return c->model.arch == FR_TF_LLAMA ? "llama" : "gpt2";
}

static int record_config(struct fr_results *res, const struct fr_lm_config *c,
                         const struct fr_lm_run_info *info) {
    int rc = 0;
    if (info->command) rc |= fr_results_set_str(res, "command", info->command);
    rc |= fr_results_set_seed(res, c->seed);
    rc |= fr_results_config_str(res, "data", c->data);
    rc |= fr_results_config_str(res, "tokenizer", c->tokenizer);
    rc |= fr_results_config_str(res, "arch", arch_name(c));
    rc |= fr_results_config_int(res, "layers", c->model.n_layers);
    rc |= fr_results_config_int(res, "heads", c->model.n_heads);
    rc |= fr_results_config_int(res, "dim", c->model.dim);
    rc |= fr_results_config_int(res, "block", c->block);
    rc |= fr_results_config_int(res, "batch", c->batch);
    rc |= fr_results_config_int(res, "iters", c->iters);
    rc |= fr_results_config_double(res, "lr", c->lr);
    rc |= fr_results_config_str(res, "precision", c->precision ? c->precision : "f32");
    rc |= fr_results_config_int(res, "ranks", c->data_parallel ? fr_dist_size() : 1);
    rc |= fr_results_config_double(res, "dropout", as_asked(c->model.dropout));
    if (c->init) rc |= fr_results_config_str(res, "init", c->init);
    if (info->prune > 0) {
        rc |= fr_results_config_double(res, "prune", info->prune);
        rc |= fr_results_config_int(res, "prune_layerwise", info->prune_layerwise);
    }
    return rc;
}

/* nanoGPT's own CPU configuration gets its paper and claim; the notes add
 * a sample of the best checkpoint. */
static int record_notes(struct fr_results *res, const struct fr_lm_config *c,
                        const struct fr_lm_run_info *info) {
    const struct fr_tf_config *m = &c->model;
    int rc = 0;
    int nanogpt = !c->init && info->prune == 0 && m->n_layers == 4 && m->n_heads == 4 &&
                  m->dim == 128 && c->block == 64 && c->batch == 12 && c->iters == 2000 &&
                  m->dropout == 0 && c->lr == 1e-3 && c->min_lr == 1e-4;
    char how[512] = "";
    if (nanogpt) {
        rc |= fr_results_set_str(res, "paper",
                                 "nanoGPT (Karpathy), CPU shakespeare-char configuration");
        rc |= fr_results_set_str(res, "claim",
                                 "4 layers, 4 heads, 128 embedding, block 64, batch 12, 2000 "
                                 "iterations, lr 1e-3 cosine to 1e-4, dropout 0 reaches a "
                                 "validation loss of about 1.88 on character-level "
                                 "tinyshakespeare");
        snprintf(how, sizeof how,
                 "Architecture here: %s (nanoGPT's own model is the gpt2 form; `frugal "
                 "repro nanogpt` measures both forms of this configuration side by side).",
                 arch_name(c));
    }
    char *txt = c->out ? sample_text(c->out, 300, c->seed) : NULL;
    if (txt || how[0]) {
        char notes[1536];
        snprintf(notes, sizeof notes, "%s%s%s%s", how, how[0] && txt ? " " : "",
                 txt ? "Sample from the best checkpoint (temperature 0.8): " : "", txt ? txt : "");
        rc |= fr_results_set_str(res, "notes", notes);
    }
    free(txt);
    return rc;
}

static int record_curves(struct fr_results *res, const struct fr_lm_result *r, const char *dir) {
    char path[4096];
    double *x = malloc(sizeof(double) * (size_t)r->n_evals);
    if (!x) return fr_error(FR_ENOMEM, "out of memory");
    for (int i = 0; i < r->n_evals; i++)
        x[i] = (double)r->eval_iter[i];
    int rc = fr_results_series(res, "train loss", "iteration", "loss (nats/token)", r->n_evals, x,
                               r->eval_train);
    rc |= fr_results_series(res, "val loss", "iteration", "loss (nats/token)", r->n_evals, x,
                            r->eval_val);
    struct fr_plot_series ls[2] = {{"train (estimated)", r->n_evals, x, r->eval_train},
                                   {"validation (estimated)", r->n_evals, x, r->eval_val}};
    struct fr_plot lp = {.title = "language-model loss",
                         .xlabel = "iteration",
                         .ylabel = "cross-entropy (nats/token)",
                         .markers = 1};
    snprintf(path, sizeof path, "%s/loss.svg", dir);
    /* a plot that cannot be drawn leaves the numbers: not an error */
    if (fr_plot_write(path, &lp, 2, ls) == 0) rc |= fr_results_plot(res, "loss.svg");
    free(x);
    return rc;
}

static int write_json(void *results, const char *path) {
    return fr_results_write(results, path);
}

static int write_results(const struct fr_lm_config *c, const struct fr_lm_run_info *info,
                         const struct fr_lm_result *r, char *path, size_t cap) {
    struct fr_results *res = fr_results_new("train-lm", "Transformer language model");
    if (!res) return fr_error(FR_ENOMEM, "out of memory");
    int rc = record_config(res, c, info);
    if (c->init || info->prune > 0) {
        rc |= fr_results_metric(res, "init_val_loss", r->init_val_loss, "nats/token");
        rc |= fr_results_metric(res, "scope_sparsity", r->scope_sparsity, "fraction");
    }
    rc |= record_notes(res, c, info);
    rc |= fr_results_metric(res, "best_val_loss", r->best_val_loss, "nats/token");
    rc |= fr_results_metric(res, "full_val_loss", r->full_val_loss, "nats/token");
    rc |= fr_results_metric(res, "train_seconds", r->seconds, "s");
    rc |= fr_results_metric(res, "tokens_per_s", r->tokens_per_s, "tokens/s");
    rc |= fr_results_metric(res, "params", (double)r->n_params, "count");
    if (c->data_parallel && fr_dist_size() > 1 && r->iters_done > 0) {
        rc |= fr_results_metric(res, "all-reduce time per step",
                                r->comm_seconds / (double)r->iters_done, "s");
        rc |= fr_results_metric(res, "all-reduce bytes per step",
                                (double)r->comm_bytes / (double)r->iters_done, "bytes");
    }
    rc |= record_curves(res, r, info->results_dir);
    if (!rc && (size_t)snprintf(path, cap, "%s/results.json", info->results_dir) >= cap)
        rc = fr_error(FR_EINVAL, "results path too long");
    if (!rc && (rc = fr_results_write(res, path))) { /* path names the rescue file, if any */
        rc = fr_write_rescued(rc, path, "results.json", write_json, res, path, cap);
        fr_results_free(res);
        return rc;
    }
    if (rc && !fr_last_error()[0]) rc = fr_error(FR_ENOMEM, "out of memory writing results");
    if (rc && cap) path[0] = '\0';
    fr_results_free(res);
    return rc;
}

int fr_lm_run_recorded(const struct fr_lm_config *cfg, const struct fr_lm_run_info *info,
                       struct fr_lm_run_result *res, char *results_path, size_t cap) {
    struct fr_lm_config c = *cfg;
    struct fr_lm_prune_spec ps = {.sparsity = info->prune, .layerwise = info->prune_layerwise};
    struct fr_progress bar;
    int rc, record = info->results_dir && *info->results_dir;
    memset(res, 0, sizeof *res);
    if (cap) results_path[0] = '\0';
    /* outputs first: a typo or a read-only directory fails now, not after
     * training (fr_lm_train checks c.out and c.ckpt the same way) */
    if ((record && (rc = fr_check_writable_dir(info->results_dir))) ||
        (rc = fr_check_writable(c.out)) || (rc = fr_check_writable(c.ckpt)))
        return rc;
    if ((rc = fr_lm_prune_prepare(&c, &ps))) return rc;
    if (info->log) {
        fr_progress_init(&bar, info->log, 0);
        c.progress = on_progress;
        c.user = &bar;
    }
    fr_clear_error();
    rc = fr_lm_train(&c, &res->lm);
    if (info->log) fr_progress_done(&bar);
    if (rc) {
        if (!fr_last_error()[0]) fr_error(rc, "training failed");
        return rc;
    }
    res->trained = 1;
    if (record && res->lm.n_evals && !res->lm.stopped)
        rc = write_results(&c, info, &res->lm, results_path, cap);
    return rc;
}

void fr_lm_run_summary(const struct fr_lm_config *c, const struct fr_lm_run_info *info,
                       const struct fr_lm_result *r, char *buf, size_t cap) {
    size_t n = 0;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        if (n < cap) n += (size_t)snprintf(buf + n, cap - n, __VA_ARGS__);                         \
    } while (0)
    if (cap) buf[0] = '\0';
    if (r->stopped) { /* nothing was scored: say so rather than print numbers */
        PUT("stopped after %lld iterations (--stop-after)%s%s\n", (long long)r->iters_done,
            c->ckpt ? "; continue with --resume --ckpt " : "", c->ckpt ? c->ckpt : "");
        return;
    }
    PUT("params %lld, vocab %lld, %lld iterations in %.1f s (%.0f tokens/s)\n",
        (long long)r->n_params, (long long)r->vocab, (long long)r->iters_done, r->seconds,
        r->tokens_per_s);
    if (c->init || info->prune > 0)
        PUT("start (%s%s): full validation split %.4f, prunable weights %.2f%% zero at the end\n",
            c->init ? c->init : "fresh init", info->prune > 0 ? ", pruned" : "", r->init_val_loss,
            100.0 * r->scope_sparsity);
    if (c->select_full)
        PUT("best val loss %.4f (whole validation split, kept in --out); final weights %.4f\n",
            r->best_val_loss, r->full_val_loss);
    else
        PUT("best val loss %.4f (estimated on %d batches); full validation split %.4f\n",
            r->best_val_loss, c->eval_iters, r->full_val_loss);
#undef PUT
}

/* kv_study.c: one model's KV-eviction study as results (see
 * experiments/kv_study.h): input windows, the measurement
 * (fr_kv_eval_model), then every number into the results document and the
 * plots beside it. */
#include "frugal/experiments/kv_study.h"

#include "frugal/lm.h"
#include "frugal/methods/kv_eval.h"
#include "frugal/report.h"
#include "frugal/status.h"
#include "frugal/tokenizer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void plot(struct fr_results *r, const char *dir, const char *label, const char *suffix,
                 const char *title, const char *xl, const char *yl, int logy, int ns,
                 const struct fr_plot_series *s) {
    if (!dir) return;
    char file[256], path[4400], t[256];
    snprintf(file, sizeof file, "%s_%s.svg", label, suffix);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    snprintf(t, sizeof t, "%s: %s", label, title);
    struct fr_plot p = {t, xl, yl, logy, 1, 0, 0, 0};
    if (fr_plot_write(path, &p, ns, s) == 0) fr_results_plot(r, file);
}

/* A token as a short printable label. */
static void token_label(const struct fr_tokenizer *tok, int32_t id, char *out, size_t cap) {
    const uint8_t *b = NULL;
    size_t n = 0;
    if (!tok || fr_tokenizer_piece(tok, id, &b, &n, NULL) || n == 0) {
        snprintf(out, cap, "id %d", id);
        return;
    }
    size_t w = 0;
    out[w++] = '\'';
    for (size_t i = 0; i < n && w + 6 < cap; i++) {
        if (b[i] == '\n')
            out[w++] = '\\', out[w++] = 'n';
        else if (b[i] < 32 || b[i] > 126)
            w += (size_t)snprintf(out + w, cap - w, "\\x%02x", b[i]);
        else
            out[w++] = (char)b[i];
    }
    out[w++] = '\'';
    out[w] = 0;
}

/* The attention statistics of the full-cache run. */
static void record_stats(struct fr_results *r, const char *label, const struct fr_kv_study *st,
                         const struct fr_tokenizer *tok, const char *dir) {
    char key[256];
    const int nlp = st->n_layers;
    double lx[64];
    for (int l = 0; l < nlp; l++)
        lx[l] = l;
    snprintf(key, sizeof key, "%s_attn_sparsity", label);
    fr_results_metric(r, key, st->attn_sparsity, "%");
    snprintf(key, sizeof key, "%s_attn_top10_mass", label);
    fr_results_metric(r, key, st->attn_top10_mass, "%");
    snprintf(key, sizeof key, "%s sparsity per layer", label);
    fr_results_series(r, key, "layer", "% of row entries < 1% of the row max", nlp, lx,
                      st->layer_sparsity);
    struct fr_plot_series s2[2] = {
        {"entries < 1% of row max (%)", nlp, lx, st->layer_sparsity},
        {"mass in the top 10% of entries (%)", nlp, lx, st->layer_top10}};
    plot(r, dir, label, "sparsity", "attention rows (decode, full cache)", "layer", "%", 0, 2, s2);

    snprintf(key, sizeof key, "%s_acc_powerlaw_slope", label);
    fr_results_metric(r, key, st->powerlaw_slope, "");
    snprintf(key, sizeof key, "%s_acc_top10_mass", label);
    fr_results_metric(r, key, st->acc_top10_mass, "%");
    snprintf(key, sizeof key, "%s_first_token_heavy", label);
    fr_results_metric(r, key, st->first_token_heavy, "%");
    snprintf(key, sizeof key, "%s accumulated score by rank", label);
    fr_results_series(r, key, "log10 rank", "share of accumulated attention", st->L, st->rank_log10,
                      st->rank_share);
    struct fr_plot_series s1 = {"mean over heads", st->L, st->rank_log10, st->rank_share};
    plot(r, dir, label, "powerlaw", "accumulated attention by rank (full cache)", "log10 rank",
         "share of the head's accumulated attention", 1, 1, &s1);
    snprintf(key, sizeof key, "%s heavy-hitter positions", label);
    fr_results_series(r, key, "position", "% of heavy hitters", FR_KV_HH_BINS, st->hh_bin_center,
                      st->hh_by_score);
    struct fr_plot_series s3[2] = {
        {"by accumulated score (H2O's choice)", FR_KV_HH_BINS, st->hh_bin_center, st->hh_by_score},
        {"by mean score per query seen", FR_KV_HH_BINS, st->hh_bin_center, st->hh_by_mean}};
    plot(r, dir, label, "hh_positions", "where the top 10% tokens sit", "position in the window",
         "% of heavy hitters", 0, 2, s3);
    snprintf(key, sizeof key, "%s heavy-hitter tokens", label);
    const char *cols[4] = {"token", "% of heavy hitters", "% of text", "ratio"};
    fr_results_table(r, key, 4, cols);
    for (int i = 0; i < st->n_hh_tokens; i++) {
        char lab[64];
        token_label(tok, st->hh_token[i], lab, sizeof lab);
        double vals[3] = {st->hh_token_pct[i], st->hh_text_pct[i], st->hh_ratio[i]};
        fr_results_table_row(r, key, lab, vals);
    }
}

int fr_kv_study_record(struct fr_results *r, const char *label, const struct fr_kv_study *st,
                       const char *const *policies, const double *budgets,
                       const struct fr_tokenizer *tok, const char *dir) {
    const int np = st->npolicies, nb = st->nbudgets;
    char key[256];
    if (np > FR_KV_EVAL_MAX_POLICIES || nb > FR_KV_EVAL_MAX_BUDGETS)
        return fr_error(FR_EINVAL, "kv study: too many policies or budgets");
    snprintf(key, sizeof key, "%s_full_ppl", label);
    fr_results_metric(r, key, st->full.ppl, "");
    snprintf(key, sizeof key, "%s_full_kv_bytes", label);
    fr_results_metric(r, key, (double)st->full.kv_bytes, "bytes");
    record_stats(r, label, st, tok, dir);
    for (int p = 0; p < np; p++)
        for (int b = 0; b < nb; b++) {
            const struct fr_kv_eval_run *e = fr_kv_study_at(st, p, b);
            int pct = (int)llround(100 * budgets[b]);
            snprintf(key, sizeof key, "%s_%s_%d_ppl", label, policies[p], pct);
            fr_results_metric(r, key, e->ppl, "");
            snprintf(key, sizeof key, "%s_%s_%d_top1", label, policies[p], pct);
            fr_results_metric(r, key, 100 * e->top1, "%");
            snprintf(key, sizeof key, "%s_%s_%d_kl", label, policies[p], pct);
            fr_results_metric(r, key, e->kl, "nats");
        }
    /* tables: one per quantity, policies x budgets */
    static const char *const what[4] = {"perplexity", "top-1 agreement with full cache (%)",
                                        "KL(full || policy), nats", "heads that evicted (%)"};
    char colbuf[FR_KV_EVAL_MAX_BUDGETS][16];
    const char *cols[FR_KV_EVAL_MAX_BUDGETS + 1];
    cols[0] = "policy";
    for (int b = 0; b < nb; b++) {
        snprintf(colbuf[b], sizeof colbuf[b], "%g%%", 100 * budgets[b]);
        cols[b + 1] = colbuf[b];
    }
    double ys[4][FR_KV_EVAL_MAX_POLICIES][FR_KV_EVAL_MAX_BUDGETS];
    for (int p = 0; p < np; p++)
        for (int b = 0; b < nb; b++) {
            const struct fr_kv_eval_run *e = fr_kv_study_at(st, p, b);
            ys[0][p][b] = e->ppl, ys[1][p][b] = 100 * e->top1, ys[2][p][b] = e->kl;
            ys[3][p][b] = 100 * e->evicted;
        }
    for (int q = 0; q < 4; q++) {
        /* a stable name (the docs quote these tables); the full cache is a row */
        snprintf(key, sizeof key, "%s %s", label, what[q]);
        fr_results_table(r, key, nb + 1, cols);
        if (q == 0) {
            double fv[FR_KV_EVAL_MAX_BUDGETS];
            for (int b = 0; b < nb; b++)
                fv[b] = st->full.ppl;
            fr_results_table_row(r, key, "full cache", fv);
        }
        for (int p = 0; p < np; p++)
            fr_results_table_row(r, key, policies[p], ys[q][p]);
    }
    /* curves */
    double bx[FR_KV_EVAL_MAX_BUDGETS], fy[FR_KV_EVAL_MAX_BUDGETS];
    struct fr_plot_series s[FR_KV_EVAL_MAX_POLICIES + 1];
    for (int b = 0; b < nb; b++)
        bx[b] = 100 * budgets[b], fy[b] = st->full.ppl;
    static const char *const suffix[3] = {"ppl", "top1", "kl"};
    static const char *const ylab[3] = {"perplexity", "top-1 agreement (%)", "KL (nats)"};
    for (int q = 0; q < 3; q++) {
        for (int p = 0; p < np; p++) {
            s[p] = (struct fr_plot_series){policies[p], nb, bx, ys[q][p]};
            snprintf(key, sizeof key, "%s %s %s", label, policies[p], suffix[q]);
            fr_results_series(r, key, "budget (% of the window)", ylab[q], nb, bx, ys[q][p]);
        }
        int ns = np;
        if (q == 0) s[ns++] = (struct fr_plot_series){"full cache", nb, bx, fy};
        plot(r, dir, label, suffix[q],
             q == 0   ? "streaming perplexity vs KV budget"
             : q == 1 ? "agreement with the full cache"
                      : "divergence from the full cache",
             "KV budget (% of the window)", ylab[q], q != 1, ns, s);
    }
    return 0;
}

int fr_kv_study_run(const struct fr_kv_study_spec *sp, struct fr_results *r) {
    struct fr_tf_model m;
    struct fr_tokenizer *tok = NULL;
    struct fr_kv_study st = {0};
    int32_t *text = NULL, *ids = NULL;
    int64_t n = 0;
    int rc = 0;
    if ((rc = fr_tf_load(&m, sp->model))) return rc;
    int64_t L = sp->length ? sp->length : m.cfg.max_seq;
    int64_t P = sp->prompt ? sp->prompt : L / 8;
    if (L > m.cfg.max_seq || P < 1 || P >= L) {
        rc = fr_error(FR_EINVAL, "%s: need 1 <= prompt (%lld) < length (%lld) <= context (%d)",
                      sp->model, (long long)P, (long long)L, m.cfg.max_seq);
        goto done;
    }
    if (sp->windows < 1) {
        rc = fr_error(FR_EINVAL, "%s: need at least one window", sp->model);
        goto done;
    }
    ids = malloc(sizeof(int32_t) * (size_t)(sp->windows * L));
    if (!ids) {
        rc = fr_error(FR_ENOMEM, "out of memory");
        goto done;
    }
    char tp[4200];
    snprintf(tp, sizeof tp, "%s", sp->tokenizer ? sp->tokenizer : "");
    if (!sp->tokenizer) snprintf(tp, sizeof tp, "%s.tok", sp->model);
    /* an existing path goes to the loader, which refuses FIFOs and
     * directories (opening one here could block) */
    if (access(tp, F_OK) == 0) {
        if ((rc = fr_tokenizer_load(tp, &tok))) goto done;
        if (fr_tokenizer_vocab_size(tok) > m.cfg.vocab_size) {
            rc = fr_error(FR_EINVAL, "%s has %lld tokens but the model only %d", tp,
                          (long long)fr_tokenizer_vocab_size(tok), m.cfg.vocab_size);
            goto done;
        }
    } else if (sp->tokenizer) {
        rc = fr_error(FR_EIO, "cannot open tokenizer %s", tp);
        goto done;
    }
    if (sp->text) {
        if (!tok) {
            rc = fr_error(FR_EINVAL, "%s has no tokenizer beside it (%s) to read %s", sp->model, tp,
                          sp->text);
            goto done;
        }
        if ((rc = fr_lm_load_split(sp->text, tok, 1, &text, &n))) goto done;
        if (n < sp->windows * L) {
            rc = fr_error(FR_EINVAL,
                          "%s: held-out 10%% has %lld tokens, fewer than %lld windows of %lld",
                          sp->text, (long long)n, (long long)sp->windows, (long long)L);
            goto done;
        }
        memcpy(ids, text, sizeof(int32_t) * (size_t)(sp->windows * L));
        fr_results_config_str(r, "text", sp->text_shown ? sp->text_shown : sp->text);
    } else {
        int32_t bos = tok && fr_tokenizer_bos(tok) >= 0 ? fr_tokenizer_bos(tok) : 1;
        if ((rc = fr_kv_eval_self_text(&m, (int)sp->windows, L, bos, 1.0f, sp->seed, ids)))
            goto done;
    }
    struct fr_kv_eval_opts o = {sp->label,   sp->policies, sp->npolicies,
                                sp->budgets, sp->nbudgets, L,
                                P,           sp->progress, sp->user};
    char key[256];
    snprintf(key, sizeof key, "%s model", sp->label);
    fr_results_config_str(r, key, sp->model_shown ? sp->model_shown : sp->model);
    snprintf(key, sizeof key, "%s text", sp->label);
    fr_results_config_str(r, key, sp->text ? "held-out 10% of the text" : "own samples, T=1");
    snprintf(key, sizeof key, "%s window", sp->label);
    fr_results_config_int(r, key, L);
    snprintf(key, sizeof key, "%s prompt", sp->label);
    fr_results_config_int(r, key, P);
    snprintf(key, sizeof key, "%s windows", sp->label);
    fr_results_config_int(r, key, sp->windows);
    if ((rc = fr_kv_eval_model(&m, ids, (int)sp->windows, &o, &st))) goto done;
    rc = fr_kv_study_record(r, sp->label, &st, sp->policies, sp->budgets, tok, sp->dir);
    if (!rc && sp->keep) {
        *sp->keep = st;
        memset(&st, 0, sizeof st);
    }
done:
    fr_kv_study_free(&st);
    free(text);
    free(ids);
    fr_tokenizer_free(tok);
    fr_tf_free(&m);
    return rc;
}

int fr_kv_study_recorded(const struct fr_kv_study_spec *sp, const char *command,
                         const char *out_dir, char *results_path, size_t cap) {
    if (cap) results_path[0] = '\0';
    int rc = fr_check_writable_dir(out_dir); /* nothing is left behind when it fails */
    if (rc) return rc;
    struct fr_results *r = fr_results_new("kv-eval", "KV-cache eviction policies");
    if (!r) return fr_error(FR_ENOMEM, "out of memory");
    fr_results_set_str(r, "command", command ? command : "");
    fr_results_set_seed(r, sp->seed);
    struct fr_kv_study_spec s = *sp;
    s.dir = out_dir;
    char path[4200];
    snprintf(path, sizeof path, "%s/results.json", out_dir);
    if (!(rc = fr_kv_study_run(&s, r)) && !(rc = fr_results_write(r, path)) && cap)
        snprintf(results_path, cap, "%s", path);
    fr_results_free(r);
    return rc;
}

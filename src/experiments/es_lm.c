/* es_lm.c: the language-model curve of `frugal repro essential-sparsity`
 * (Essential Sparsity, arXiv 2306.03805; notes in
 * /work/shared/papers/sparsity.md): held-out perplexity of the shipped
 * character-level tinyshakespeare GPT (data/shakespeare-char.safetensors,
 * nanoGPT's CPU configuration, bf16 weights loaded as f32) against one-shot
 * magnitude sparsity, each point fine-tuned with one fixed recipe.
 *
 * Per seed and sparsity s of the plan's fixed grids (global OMP; layer-wise
 * OMP on its own grid, the dense run shared) one fr_lm_train call (lm.h)
 * restores the shipped weights, prunes the body's attention and MLP
 * matrices to s, scores the whole validation split (the last 10% of
 * data/tinyshakespeare.txt, non-overlapping 64-token windows) before
 * fine-tuning, fine-tunes (AdamW, the mask kept; the seed changes the batch
 * order) and scores it again. s = 0 gets the same fine-tune, so the dense
 * reference has seen as many steps as every pruned model. The tiny plan
 * reads a 40 kB prefix of the text instead (a copy in the results
 * directory, removed afterwards), so its scoring takes a fraction of a
 * second.
 *
 * Essential sparsity, interval rule (the headline) = the last grid point
 * before the first whose 95% t interval over seeds of the relative increase
 * of the fine-tuned validation loss over dense (paired by seed) lies wholly
 * above EPS_REL (1%, i.e. perplexity more than ~2% higher at a loss of ~1.9
 * nats); each seed's own first drop (fr_prune_essential_index) gives a
 * per-seed value with its interval. If no point drops, the top of the grid
 * is a lower bound. Plots: lm.svg (mean fine-tuned curves, tolerance,
 * markers) and lm-oneshot.svg. It does not write
 * results.json: the caller owns r and the document (essential_sparsity.c).
 */
#include "essential_sparsity.h"

#include "frugal/clock.h"
#include "frugal/lm.h"
#include "frugal/methods/prune.h"
#include "frugal/report.h"
#include "frugal/status.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LM_MODEL "data/shakespeare-char.safetensors"
#define LM_TEXT "data/tinyshakespeare.txt"
#define EPS_REL 0.01 /* tolerated relative increase of the fine-tuned val loss */
#define MAXPTS 20

/* The fixed fine-tuning recipe, and where the model and text are. */
struct lm_recipe {
    int iters, warmup;
    double lr, min_lr;
    uint64_t seed;
    const char *model, *text;
};

#define MAXSEEDS 5

/* One run: sparsity (fraction), measured sparsity of the prunable weights,
 * whole-split val loss before and after the fine-tune. */
struct lm_point {
    double s, measured, loss0, loss, seconds;
};

/* A curve over seeds: p[k][g] is seed k at grid point g (g = 0 dense). */
struct lm_curve {
    struct lm_point p[MAXSEEDS][MAXPTS];
    int n, nseeds;
    struct fr_interval rel[MAXPTS]; /* loss / dense loss - 1 (%), paired by seed */
    int ess, drop;                  /* interval rule (drop -1: none) */
    double ess_seed[MAXSEEDS];      /* each seed's first-drop rule (% sparsity) */
    struct fr_interval ess_seeds;
};

static int run_point(const struct lm_recipe *rc, double s, int layerwise, struct lm_point *pt) {
    struct fr_lm_config c;
    fr_lm_config_defaults(&c);
    c.data = rc->text;
    c.init = rc->model; /* tokenizer: model.tok */
    struct fr_lm_prune_spec ps = {.sparsity = s, .layerwise = layerwise};
    int prc = s > 0 ? fr_lm_prune_prepare(&c, &ps) : 0;
    if (prc) return prc;
    c.iters = rc->iters;
    c.warmup = rc->warmup;
    c.lr = rc->lr;
    c.min_lr = rc->min_lr;
    c.seed = rc->seed;
    c.eval_interval =
        rc->iters; /* the estimates only drive progress; the score is the full split */
    c.eval_iters = 2;
    struct fr_lm_result r;
    double t = fr_seconds();
    int err = fr_lm_train(&c, &r);
    pt->s = s;
    pt->measured = r.scope_sparsity;
    pt->loss0 = r.init_val_loss;
    pt->loss = r.full_val_loss;
    pt->seconds = fr_seconds() - t;
    fr_lm_result_free(&r);
    return err;
}

/* The interval rule (the headline): the last point before the first whose
 * 95% t interval of the relative loss increase over dense (paired by seed)
 * lies wholly above EPS_REL; and each seed's own first-drop rule. */
static int analyse(struct lm_curve *cv) {
    double x[MAXSEEDS], loss[MAXPTS];
    int rc;
    cv->drop = -1;
    for (int g = 0; g < cv->n; g++) {
        for (int k = 0; k < cv->nseeds; k++)
            x[k] = 100.0 * (cv->p[k][g].loss / cv->p[k][0].loss - 1.0);
        if ((rc = fr_interval_t95(x, cv->nseeds, &cv->rel[g]))) return rc;
        double lo = isnan(cv->rel[g].lo) ? cv->rel[g].mean : cv->rel[g].lo;
        if (g && cv->drop < 0 && lo > 100.0 * EPS_REL) cv->drop = g;
    }
    cv->ess = cv->drop > 0 ? cv->drop - 1 : cv->n - 1;
    for (int k = 0; k < cv->nseeds; k++) {
        int drop;
        for (int g = 0; g < cv->n; g++)
            loss[g] = cv->p[k][g].loss;
        int e = fr_prune_essential_index(loss, cv->n, loss[0] * (1.0 + EPS_REL), 0, &drop);
        cv->ess_seed[k] = 100.0 * cv->p[k][e].s;
    }
    return fr_interval_t95(cv->ess_seed, cv->nseeds, &cv->ess_seeds);
}

static void log_point(const struct fr_exp_opts *o, const char *label, uint64_t seed,
                      const struct lm_point *p, double t0) {
    fr_exp_log(o,
               "essential-sparsity: lm %-6s seed %llu s=%4.1f%%  val loss %.4f -> %.4f after "
               "fine-tune (ppl %.3f -> %.3f)  (%.0f s)",
               label, (unsigned long long)seed, 100 * p->s, p->loss0, p->loss, exp(p->loss0),
               exp(p->loss), fr_seconds() - t0);
}

/* The global curve over grid (grid[0] = 0) and the layer-wise one over
 * 0 + lw_grid, every seed; the dense run is shared. */
static int sweep(const struct fr_exp_opts *o, const struct es_lm_plan *P, struct lm_recipe *rc,
                 struct lm_curve *glob, struct lm_curve *lw, double t0) {
    memset(glob, 0, sizeof *glob);
    memset(lw, 0, sizeof *lw);
    glob->nseeds = lw->nseeds = P->nseeds;
    glob->n = P->ngrid < MAXPTS ? P->ngrid : MAXPTS;
    lw->n = P->nlw + 1 < MAXPTS ? P->nlw + 1 : MAXPTS;
    for (int k = 0; k < P->nseeds; k++) {
        rc->seed = o->seed + (uint64_t)k;
        for (int g = 0; g < glob->n; g++) {
            int err = run_point(rc, P->grid[g], 0, &glob->p[k][g]);
            if (err) return err;
            log_point(o, "global", rc->seed, &glob->p[k][g], t0);
        }
        lw->p[k][0] = glob->p[k][0];
        for (int g = 1; g < lw->n; g++) {
            int err = run_point(rc, P->lw_grid[g - 1], 1, &lw->p[k][g]);
            if (err) return err;
            log_point(o, "layer", rc->seed, &lw->p[k][g], t0);
        }
    }
    int err = analyse(glob);
    return err ? err : analyse(lw);
}

static void record(struct fr_results *r, const char *name, const struct lm_curve *cv) {
    double x[MAXPTS], ft[MAXPTS], os[MAXPTS], row[8];
    char key[200];
    for (int g = 0; g < cv->n; g++) {
        double m = 0, m0 = 0;
        for (int k = 0; k < cv->nseeds; k++) {
            const struct lm_point *p = &cv->p[k][g];
            m += p->loss / cv->nseeds, m0 += p->loss0 / cv->nseeds;
            row[0] = (double)k, row[1] = 100 * p->measured, row[2] = p->loss0,
            row[3] = exp(p->loss0), row[4] = p->loss, row[5] = exp(p->loss),
            row[6] = 100 * (p->loss / cv->p[k][0].loss - 1), row[7] = p->seconds;
            snprintf(key, sizeof key, "%s %.1f%% seed +%d", name, 100 * p->s, k);
            fr_results_table_row(r, "lm sweep", key, row);
        }
        x[g] = 100 * cv->p[0][g].s;
        ft[g] = exp(m);
        os[g] = exp(m0);
        double srow[4] = {x[g], cv->rel[g].mean, cv->rel[g].lo, cv->rel[g].hi};
        snprintf(key, sizeof key, "%s %.1f%%", name, x[g]);
        fr_results_table_row(r, "lm curves", key, srow);
    }
    snprintf(key, sizeof key, "%s: fine-tuned (mean loss over seeds)", name);
    fr_results_series(r, key, "sparsity (%)", "validation perplexity", cv->n, x, ft);
    snprintf(key, sizeof key, "%s: one-shot, no fine-tune", name);
    fr_results_series(r, key, "sparsity (%)", "validation perplexity", cv->n, x, os);
    double d[MAXSEEDS];
    struct fr_interval iv;
    for (int k = 0; k < cv->nseeds; k++)
        d[k] = cv->p[k][0].loss;
    fr_interval_t95(d, cv->nseeds, &iv);
    snprintf(key, sizeof key, "%s dense (fine-tuned) val loss (95%% t over seeds)", name);
    fr_results_metric_ci(r, key, &iv, "nats/token");
    snprintf(key, sizeof key, "%s essential sparsity, interval rule%s", name,
             cv->drop >= 0 ? "" : " (lower bound)");
    fr_results_metric(r, key, x[cv->ess], "%");
    snprintf(key, sizeof key, "%s essential sparsity per seed (first-drop rule, 95%% t)", name);
    fr_results_metric_ci(r, key, &cv->ess_seeds, "%");
    double sum[7] = {exp(iv.mean),
                     x[cv->ess],
                     cv->drop >= 0 ? x[cv->drop] : NAN,
                     cv->drop >= 0 ? cv->rel[cv->drop].mean : NAN,
                     cv->ess_seeds.mean,
                     cv->ess_seeds.lo,
                     cv->ess_seeds.hi};
    fr_results_table_row(r, "lm summary", name, sum);
}

/* lm.svg: mean fine-tuned perplexity (linear axis), the tolerance line (up
 * to top, the grid's last sparsity) and a marker at each essential
 * sparsity. lm-oneshot.svg: the same beside the perplexity right after
 * pruning (log axis: it explodes at high sparsity). */
static int plot(const char *dir, const struct lm_curve *const *cv, const char *const *names, int nc,
                double top, struct fr_results *r) {
    struct fr_plot_series s[12];
    double x[2][MAXPTS], ft[2][MAXPTS], os[2][MAXPTS];
    double tol_x[2] = {0, 100 * top}, tol_y[2], mx[2][2], my[2][2];
    char nm[12][128], path[4300];
    int ns = 0, rc;
    double lo = INFINITY, hi = 0;
    if (nc > 2) nc = 2;
    for (int i = 0; i < nc; i++)
        for (int g = 0; g < cv[i]->n; g++) {
            double m = 0, m0 = 0;
            for (int k = 0; k < cv[i]->nseeds; k++)
                m += cv[i]->p[k][g].loss / cv[i]->nseeds,
                    m0 += cv[i]->p[k][g].loss0 / cv[i]->nseeds;
            x[i][g] = 100 * cv[i]->p[0][g].s;
            ft[i][g] = exp(m);
            os[i][g] = exp(m0);
            lo = fmin(lo, ft[i][g]);
            hi = fmax(hi, ft[i][g]);
        }
    for (int i = 0; i < nc; i++) {
        snprintf(nm[ns], 128, "%s, fine-tuned", names[i]);
        s[ns] = (struct fr_plot_series){nm[ns], cv[i]->n, x[i], ft[i]};
        ns++;
    }
    tol_y[0] = tol_y[1] = exp(log(ft[0][0]) * (1 + EPS_REL));
    snprintf(nm[ns], 128, "dense fine-tuned val loss + %.0f%%", 100 * EPS_REL);
    s[ns] = (struct fr_plot_series){nm[ns], 2, tol_x, tol_y};
    ns++;
    for (int i = 0; i < nc; i++) {
        const struct lm_curve *c = cv[i];
        mx[i][0] = mx[i][1] = x[i][c->ess];
        my[i][0] = lo, my[i][1] = hi;
        snprintf(nm[ns], 128, "%s essential sparsity %s%.1f%%", names[i],
                 c->drop >= 0 ? "" : ">= ", x[i][c->ess]);
        s[ns] = (struct fr_plot_series){nm[ns], 2, mx[i], my[i]};
        ns++;
    }
    snprintf(path, sizeof path, "%s/lm.svg", dir);
    struct fr_plot p = {
        "Essential sparsity, tinyshakespeare char GPT: OMP + fine-tune (mean over seeds)",
        "sparsity of the attention and MLP matrices (%)",
        "validation perplexity",
        0,
        1,
        720,
        480,
        0};
    if ((rc = fr_plot_write(path, &p, ns, s))) return rc;
    fr_results_plot(r, "lm.svg");
    ns = nc; /* keep the fine-tuned curves, add the one-shot ones */
    for (int i = 0; i < nc; i++) {
        snprintf(nm[ns], 128, "%s, one-shot (before fine-tune)", names[i]);
        s[ns] = (struct fr_plot_series){nm[ns], cv[i]->n, x[i], os[i]};
        ns++;
    }
    snprintf(path, sizeof path, "%s/lm-oneshot.svg", dir);
    struct fr_plot q = {"tinyshakespeare char GPT: perplexity right after OMP and after fine-tune",
                        "sparsity of the attention and MLP matrices (%)",
                        "validation perplexity",
                        1,
                        1,
                        720,
                        480,
                        0};
    if ((rc = fr_plot_write(path, &q, ns, s))) return rc;
    fr_results_plot(r, "lm-oneshot.svg");
    return 0;
}

/* Copies the first n bytes of src (all of a shorter file) into dst. */
static int copy_prefix(const char *src, const char *dst, int64_t n) {
    FILE *in = fopen(src, "rb"), *out = in ? fopen(dst, "wb") : NULL;
    char buf[65536];
    int rc = 0;
    if (!out) rc = fr_error(FR_EIO, "cannot %s %s", in ? "write" : "read", in ? dst : src);
    while (!rc && n > 0) {
        size_t k = fread(buf, 1, n < (int64_t)sizeof buf ? (size_t)n : sizeof buf, in);
        if (k == 0) break;
        if (fwrite(buf, 1, k, out) != k) rc = fr_error(FR_EIO, "cannot write %s", dst);
        n -= (int64_t)k;
    }
    if (in) fclose(in);
    if (out && fclose(out) && !rc) rc = fr_error(FR_EIO, "cannot write %s", dst);
    return rc;
}

/* The two curves, recorded and plotted, on the text at `text`. */
static int curves(const struct es_lm_plan *P, const struct fr_exp_opts *o, struct fr_results *r,
                  const char *dir, const char *model, const char *text, char *summary, size_t cap,
                  double t0) {
    struct lm_recipe rc = {P->iters, 10, 3e-4, 3e-5, o->seed, model, text};
    struct lm_curve *cv = calloc(2, sizeof *cv);
    int err;
    if (!cv) return fr_error(FR_ENOMEM, "out of memory");
    if (P->nseeds < 1 || P->nseeds > MAXSEEDS) {
        free(cv);
        return fr_error(FR_EINVAL, "essential-sparsity lm: %d seeds (1..%d)", P->nseeds, MAXSEEDS);
    }
    fr_results_config_str(r, "lm pruning",
                          "one-shot magnitude over the FR_PARAM_PRUNABLE matrices "
                          "(attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj); "
                          "embeddings, positions, norms and the tied head dense");
    fr_results_config_int(r, "lm fine-tune iterations", rc.iters);
    fr_results_config_int(r, "lm seeds", P->nseeds);
    fr_results_config_str(r, "lm fine-tune recipe",
                          "AdamW (beta2 0.99, wd 0.1), batch 12 x 64 "
                          "tokens, 10 warmup steps, cosine lr 3e-4 -> "
                          "3e-5, grad clip 1, mask kept; the seed changes the batch order");
    fr_results_config_double(r, "lm epsilon (relative val loss increase)", EPS_REL);
    fr_results_config_str(r, "lm essential sparsity rule",
                          "interval rule (the headline): the last grid point before the first "
                          "whose 95% t interval over seeds of the relative increase of the "
                          "fine-tuned validation loss (whole split) over the dense fine-tuned loss "
                          "(paired by seed) lies wholly above 1% (about +2% perplexity); per-seed "
                          "rule: each seed's first point more than 1% above, then mean and "
                          "interval");
    const char *cols[9] = {
        "run",          "seed offset",         "measured sparsity (%)", "one-shot val loss",
        "one-shot ppl", "fine-tuned val loss", "fine-tuned ppl",        "loss vs dense (%)",
        "seconds"};
    fr_results_table(r, "lm sweep", 9, cols);
    const char *ccols[5] = {"run", "sparsity (%)", "loss vs dense, mean over seeds (%)", "lo",
                            "hi"};
    fr_results_table(r, "lm curves", 5, ccols);
    const char *scols[8] = {"curve",
                            "dense ppl",
                            "ES, interval rule (%)",
                            "first drop (%)",
                            "loss vs dense there (%)",
                            "ES per seed, mean (%)",
                            "lo",
                            "hi"};
    fr_results_table(r, "lm summary", 8, scols);
    if ((err = sweep(o, P, &rc, &cv[0], &cv[1], t0))) {
        free(cv);
        return es_fail(err, "essential-sparsity lm");
    }
    record(r, "lm global", &cv[0]);
    record(r, "lm layer-wise", &cv[1]);
    const struct lm_curve *cp[2] = {&cv[0], &cv[1]};
    const char *names[2] = {"global OMP", "layer-wise OMP"};
    if ((err = plot(dir, cp, names, 2, P->grid[P->ngrid - 1], r))) {
        free(cv);
        return err;
    }
    fr_results_metric(r, "lm time", fr_seconds() - t0, "s");
    for (int i = 0; i < 2; i++)
        es_append(summary, cap,
                  "essential-sparsity: lm %-14s essential sparsity %s%.1f%% (interval rule, %d "
                  "seeds; per seed %.1f%%)\n",
                  names[i], cp[i]->drop >= 0 ? "" : ">= ", 100 * cp[i]->p[0][cp[i]->ess].s,
                  P->nseeds, cp[i]->ess_seeds.mean);
    free(cv);
    return 0;
}

int es_lm_run(const struct es_lm_plan *P, const struct fr_exp_opts *o, struct fr_results *r,
              const char *dir, char *summary, size_t cap) {
    double t0 = fr_seconds();
    char model[4200], text[4200], part[4300], data[160];
    int err;
    if ((err = fr_exp_data_path(LM_MODEL, model, sizeof model)) ||
        (err = fr_exp_data_path(LM_TEXT, text, sizeof text)))
        return es_fail(err, "essential-sparsity lm");
    fr_results_config_str(r, "lm model",
                          LM_MODEL " (nanoGPT CPU shakespeare-char: gpt2, 4 layers, "
                                   "4 heads, dim 128, context 64, tied embeddings, bf16)");
    if (!P->text_bytes) {
        fr_results_config_str(r, "lm data", LM_TEXT " (first 90% fine-tunes, last 10% scores)");
        return curves(P, o, r, dir, model, text, summary, cap, t0);
    }
    snprintf(data, sizeof data,
             LM_TEXT ", its first %lld bytes (first 90%% fine-tunes, last 10%% "
                     "scores)",
             (long long)P->text_bytes);
    fr_results_config_str(r, "lm data", data);
    snprintf(part, sizeof part, "%s/lm-text.txt", dir);
    if ((err = copy_prefix(text, part, P->text_bytes)))
        err = es_fail(err, "essential-sparsity lm");
    else
        err = curves(P, o, r, dir, model, part, summary, cap, t0);
    remove(part);
    return err;
}

/* es_lm.c: the language-model curve of `frugal repro essential-sparsity`
 * (Essential Sparsity, arXiv 2306.03805; notes in
 * /work/shared/papers/sparsity.md): held-out perplexity of the shipped
 * character-level tinyshakespeare GPT (data/shakespeare-char.safetensors,
 * nanoGPT's CPU configuration, bf16 weights loaded as f32) against one-shot
 * magnitude sparsity, each point fine-tuned with one fixed recipe.
 *
 * Per sparsity s of the plan's grid (0, 10, ..., 90, 95 % in the quick and
 * full plans; global OMP; layer-wise OMP on the whole grid in the full plan,
 * on 50/60/70 % in the quick one) one fr_lm_train call (lm.h) restores the
 * shipped weights, prunes the body's attention and MLP matrices to s,
 * scores the whole validation split (the last 10% of
 * data/tinyshakespeare.txt, non-overlapping 64-token windows) before
 * fine-tuning, fine-tunes (AdamW, the mask kept) and scores it again. s = 0
 * gets the same fine-tune, so the dense reference has seen as many steps as
 * every pruned model (and is shared by both curves). The tiny plan reads a
 * 40 kB prefix of the text instead (a copy in the results directory, removed
 * afterwards), so its scoring takes a fraction of a second.
 *
 * Essential sparsity = the last grid point before the first one whose
 * fine-tuned validation loss exceeds the dense fine-tuned loss by more than
 * EPS_REL (1%, i.e. perplexity more than ~2% higher at a loss of ~1.9
 * nats), the "sharp dropping point" (fr_prune_essential_index); then the
 * midpoint between those two grid points is run as well (finer grid near
 * the drop, the plan's refine times) and the answer recomputed. If no point
 * drops, the top of the grid is a lower bound. Plots: lm.svg (fine-tuned
 * curves, tolerance, markers) and lm-oneshot.svg. It does not write
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

/* One point of a curve: sparsity (fraction), measured sparsity of the
 * prunable weights, full val loss before and after the fine-tune. */
struct lm_point {
    double s, measured, loss0, loss, seconds;
};

struct lm_curve {
    struct lm_point p[MAXPTS];
    int n, ess, bounded;
};

static int run_point(const struct lm_recipe *rc, double s, int layerwise, struct lm_point *pt) {
    struct fr_lm_config c;
    fr_lm_config_defaults(&c);
    c.data = rc->text;
    c.init = rc->model; /* tokenizer: model.tok */
    struct fr_lm_prune_spec ps = {.sparsity = s, .layerwise = layerwise};
    int prc = fr_lm_prune_prepare(&c, &ps);
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

static void insert(struct lm_curve *cv, const struct lm_point *pt) {
    int i = cv->n;
    while (i > 0 && cv->p[i - 1].s > pt->s) {
        cv->p[i] = cv->p[i - 1];
        i--;
    }
    cv->p[i] = *pt;
    cv->n++;
}

/* The last point before the first whose loss exceeds dense * (1 + EPS_REL);
 * *drop is that first point's index (-1 if none). */
static int essential_index(const struct lm_curve *cv, int *drop) {
    double loss[MAXPTS];
    for (int i = 0; i < cv->n; i++)
        loss[i] = cv->p[i].loss;
    return fr_prune_essential_index(loss, cv->n, cv->p[0].loss * (1.0 + EPS_REL), 0, drop);
}

static void log_point(const struct fr_exp_opts *o, const char *label, const struct lm_point *p,
                      double t0) {
    fr_exp_log(o,
               "essential-sparsity: lm %-6s s=%4.1f%%  val loss %.4f -> %.4f after fine-tune "
               "(ppl %.3f -> %.3f)  (%.0f s)",
               label, 100 * p->s, p->loss0, p->loss, exp(p->loss0), exp(p->loss),
               fr_seconds() - t0);
}

/* Runs the points of grid[0..n) into cv (dense: a point already run, or
 * NULL to run s = 0 first), then `refine` midpoints at the drop. */
static int sweep(const struct fr_exp_opts *o, const struct lm_recipe *rc, int layerwise,
                 const struct lm_point *dense, const double *grid, int n, int refine,
                 struct lm_curve *cv, double t0) {
    const char *label = layerwise ? "layer" : "global";
    memset(cv, 0, sizeof *cv);
    if (dense) insert(cv, dense);
    for (int g = 0; g < n && cv->n < MAXPTS; g++) {
        if (dense && grid[g] == 0) continue;
        struct lm_point pt;
        int err = run_point(rc, grid[g], layerwise, &pt);
        if (err) return err;
        insert(cv, &pt);
        log_point(o, label, &pt, t0);
    }
    for (int k = 0; k < refine && cv->n < MAXPTS; k++) {
        int drop;
        int e = essential_index(cv, &drop);
        if (drop < 0 || cv->p[drop].s - cv->p[e].s < 0.02) break;
        struct lm_point pt;
        int err = run_point(rc, 0.5 * (cv->p[e].s + cv->p[drop].s), layerwise, &pt);
        if (err) return err;
        insert(cv, &pt);
        log_point(o, label, &pt, t0);
    }
    int drop;
    cv->ess = essential_index(cv, &drop);
    cv->bounded = drop >= 0;
    return 0;
}

static void record(struct fr_results *r, const char *name, const struct lm_curve *cv) {
    double x[MAXPTS], ft[MAXPTS], os[MAXPTS], row[7];
    char key[160];
    for (int i = 0; i < cv->n; i++) {
        const struct lm_point *p = &cv->p[i];
        x[i] = 100 * p->s;
        ft[i] = exp(p->loss);
        os[i] = exp(p->loss0);
        row[0] = 100 * p->measured, row[1] = p->loss0, row[2] = exp(p->loss0);
        row[3] = p->loss, row[4] = exp(p->loss), row[5] = 100 * (p->loss / cv->p[0].loss - 1);
        row[6] = p->seconds;
        snprintf(key, sizeof key, "%s %.1f%%", name, x[i]);
        fr_results_table_row(r, "lm sweep", key, row);
    }
    snprintf(key, sizeof key, "%s: fine-tuned", name);
    fr_results_series(r, key, "sparsity (%)", "validation perplexity", cv->n, x, ft);
    snprintf(key, sizeof key, "%s: one-shot, no fine-tune", name);
    fr_results_series(r, key, "sparsity (%)", "validation perplexity", cv->n, x, os);
    const struct lm_point *d = &cv->p[0], *e = &cv->p[cv->ess];
    snprintf(key, sizeof key, "%s dense (fine-tuned) val loss", name);
    fr_results_metric(r, key, d->loss, "nats/token");
    snprintf(key, sizeof key, "%s dense (fine-tuned) perplexity", name);
    fr_results_metric(r, key, exp(d->loss), "");
    snprintf(key, sizeof key, "%s essential sparsity%s", name, cv->bounded ? "" : " (lower bound)");
    fr_results_metric(r, key, 100 * e->s, "%");
    snprintf(key, sizeof key, "%s perplexity at essential sparsity", name);
    fr_results_metric(r, key, exp(e->loss), "");
    if (cv->ess + 1 < cv->n) {
        snprintf(key, sizeof key, "%s perplexity one step past it (%.1f%%)", name,
                 100 * cv->p[cv->ess + 1].s);
        fr_results_metric(r, key, exp(cv->p[cv->ess + 1].loss), "");
    }
}

/* lm.svg: fine-tuned perplexity (linear axis), the tolerance line (up to
 * top, the grid's last sparsity) and a marker at each essential sparsity.
 * lm-oneshot.svg: the same beside the perplexity right after pruning (log
 * axis: it explodes at high sparsity). */
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
        for (int k = 0; k < cv[i]->n; k++) {
            x[i][k] = 100 * cv[i]->p[k].s;
            ft[i][k] = exp(cv[i]->p[k].loss);
            os[i][k] = exp(cv[i]->p[k].loss0);
            lo = fmin(lo, ft[i][k]);
            hi = fmax(hi, ft[i][k]);
        }
    for (int i = 0; i < nc; i++) {
        snprintf(nm[ns], 128, "%s, fine-tuned", names[i]);
        s[ns] = (struct fr_plot_series){nm[ns], cv[i]->n, x[i], ft[i]};
        ns++;
    }
    tol_y[0] = tol_y[1] = exp(cv[0]->p[0].loss * (1 + EPS_REL));
    snprintf(nm[ns], 128, "dense fine-tuned val loss + %.0f%%", 100 * EPS_REL);
    s[ns] = (struct fr_plot_series){nm[ns], 2, tol_x, tol_y};
    ns++;
    for (int i = 0; i < nc; i++) {
        const struct lm_curve *c = cv[i];
        mx[i][0] = mx[i][1] = 100 * c->p[c->ess].s;
        my[i][0] = lo, my[i][1] = hi;
        snprintf(nm[ns], 128, "%s essential sparsity %s%.1f%%", names[i],
                 c->bounded ? "" : ">= ", 100 * c->p[c->ess].s);
        s[ns] = (struct fr_plot_series){nm[ns], 2, mx[i], my[i]};
        ns++;
    }
    snprintf(path, sizeof path, "%s/lm.svg", dir);
    struct fr_plot p = {"Essential sparsity, tinyshakespeare char GPT: OMP + fine-tune",
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
    struct lm_curve glob, lw;
    int err;
    fr_results_config_str(r, "lm pruning",
                          "one-shot magnitude over the FR_PARAM_PRUNABLE matrices "
                          "(attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj); "
                          "embeddings, positions, norms and the tied head dense");
    fr_results_config_int(r, "lm fine-tune iterations", rc.iters);
    fr_results_config_str(r, "lm fine-tune recipe",
                          "AdamW (beta2 0.99, wd 0.1), batch 12 x 64 "
                          "tokens, 10 warmup steps, cosine lr 3e-4 -> "
                          "3e-5, grad clip 1, mask kept");
    fr_results_config_double(r, "lm epsilon (relative val loss increase)", EPS_REL);
    fr_results_config_str(r, "lm essential sparsity rule",
                          "the last grid point before the first whose fine-tuned validation loss "
                          "(whole split) is more than 1% above the dense fine-tuned loss (about "
                          "+2% perplexity); the midpoint of those two is then run too");
    const char *cols[8] = {"run",
                           "measured sparsity (%)",
                           "one-shot val loss",
                           "one-shot ppl",
                           "fine-tuned val loss",
                           "fine-tuned ppl",
                           "loss vs dense (%)",
                           "seconds"};
    fr_results_table(r, "lm sweep", 8, cols);

    if ((err = sweep(o, &rc, 0, NULL, P->grid, P->ngrid, P->refine, &glob, t0)) ||
        (err = sweep(o, &rc, 1, &glob.p[0], P->lw_grid, P->nlw, P->lw_refine, &lw, t0)))
        return es_fail(err, "essential-sparsity lm");
    record(r, "lm global", &glob);
    record(r, "lm layer-wise", &lw);
    const struct lm_curve *cv[2] = {&glob, &lw};
    const char *names[2] = {"global OMP", "layer-wise OMP"};
    if ((err = plot(dir, cv, names, 2, P->grid[P->ngrid - 1], r))) return err;
    fr_results_metric(r, "lm time", fr_seconds() - t0, "s");
    for (int i = 0; i < 2; i++) {
        const struct lm_point *d = &cv[i]->p[0], *e = &cv[i]->p[cv[i]->ess];
        es_append(summary, cap,
                  "essential-sparsity: lm %-14s dense ppl %.3f, essential sparsity %s%.1f%% "
                  "(ppl %.3f)\n",
                  names[i], exp(d->loss), cv[i]->bounded ? "" : ">= ", 100 * e->s, exp(e->loss));
    }
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

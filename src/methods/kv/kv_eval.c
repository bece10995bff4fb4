/* kv_eval.c: streaming evaluation of KV-cache eviction policies and the
 * attention statistics that explain it (see kv_eval.h).
 *
 * The statistics ride on the full-cache run: a wrapper policy behaves as
 * `full` and, while recording, looks at each decode row a head receives.
 * Accumulators are per head (the engine runs heads in parallel, each head
 * in one task), summed per layer at the end.
 */
#include "frugal/clock.h"
#include "frugal/kv_eval.h"
#include "frugal/report.h"
#include "frugal/status.h"
#include "frugal/tokenizer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the statistics hook ---- */

struct rowstats {
    double *sparse, *top10; /* per head: sums over rows */
    int64_t *rows;
    float *scratch; /* per head: L floats */
    float *facc;    /* per head: the final accumulated scores (L), by position */
    int64_t L;
    int rep;
};

static struct rowstats *g_rs;
static struct fr_kv_head *g_heads;
static int g_record;

static int cmp_desc(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

static void stats_observe(struct fr_kv_head *h, const float *w) {
    for (int64_t i = 0; i < h->n; i++)
        h->acc[i] += w[i];
    if (!g_record || h->n < 10) return;
    int64_t idx = h - g_heads, n = h->n;
    float *s = g_rs->scratch + idx * g_rs->L, mx = 0;
    double tot = 0;
    for (int64_t i = 0; i < n; i++) {
        s[i] = w[i];
        if (w[i] > mx) mx = w[i];
        tot += w[i];
    }
    int64_t small = 0;
    for (int64_t i = 0; i < n; i++)
        small += s[i] < 0.01f * mx;
    qsort(s, (size_t)n, sizeof *s, cmp_desc);
    int64_t k = (n + 9) / 10;
    double top = 0;
    for (int64_t i = 0; i < k; i++)
        top += s[i];
    g_rs->sparse[idx] += (double)small / (double)n;
    g_rs->top10[idx] += tot > 0 ? top / tot : 0;
    g_rs->rows[idx]++;
}

static int64_t full_capacity(const struct fr_kv_config *cfg, int64_t max_seq, int64_t prompt_len) {
    return fr_kv_policy_find("full")->capacity(cfg, max_seq, prompt_len);
}

static int full_admit(struct fr_kv_head *h, const struct fr_kv_config *cfg, int64_t prompt_len,
                      const float *k, const float *v, const int32_t *pos, const float *mass,
                      int64_t T, int hs) {
    return fr_kv_policy_find("full")->admit(h, cfg, prompt_len, k, v, pos, mass, T, hs);
}

static const struct fr_kv_policy STATS = {"full", full_capacity, stats_observe, full_admit};

/* ---- streaming ---- */

/* NLL of target, argmax, and KL(ref || lg) for one row of V logits. */
static void score_row(const float *lg, const float *ref, int V, int32_t target, double *nll,
                      int *argmax, int *ref_argmax, double *kl) {
    double mx = lg[0], z = 0;
    int am = 0;
    for (int v = 1; v < V; v++)
        if (lg[v] > mx) mx = lg[v], am = v;
    for (int v = 0; v < V; v++)
        z += exp(lg[v] - mx);
    double lz = mx + log(z);
    *nll = lz - lg[target];
    *argmax = am;
    *kl = 0;
    *ref_argmax = -1;
    if (!ref) return;
    double rm = ref[0], rz = 0;
    int ra = 0;
    for (int v = 1; v < V; v++)
        if (ref[v] > rm) rm = ref[v], ra = v;
    for (int v = 0; v < V; v++)
        rz += exp(ref[v] - rm);
    double rlz = rm + log(rz), k = 0;
    for (int v = 0; v < V; v++) {
        double lp = ref[v] - rlz;
        k += exp(lp) * (lp - (lg[v] - lz));
    }
    *kl = k > 0 ? k : 0;
    *ref_argmax = ra;
}

int fr_kv_eval_stream(const struct fr_tf_model *m, const int32_t *ids, int nwin, int64_t L,
                      int64_t P, const struct fr_kv_config *kc, const float *ref_logits,
                      float *out_logits, struct fr_kv_eval_run *r) {
    memset(r, 0, sizeof *r);
    if (nwin < 1 || P < 1 || L <= P || L > m->cfg.max_seq)
        return fr_error(FR_EINVAL, "kv eval: need 1 <= prompt < length <= %d (got %lld, %lld)",
                        m->cfg.max_seq, (long long)P, (long long)L);
    int V = m->cfg.vocab_size, rc = 0;
    int64_t S = L - P;
    struct fr_tf_state s;
    if ((rc = fr_tf_state_init(&s, m, nwin, L, P, kc, P))) return rc;
    float *lg = malloc(sizeof(float) * (size_t)V * nwin);
    int32_t *cur = malloc(sizeof(int32_t) * nwin);
    if (!lg || !cur) {
        rc = fr_error(FR_ENOMEM, "kv eval: out of memory");
        goto cleanup;
    }
    if (kc && kc->policy && !strcmp(kc->policy, "full") && g_rs) {
        s.kv.policy = &STATS;
        g_heads = s.kv.heads;
    }
    r->slots = s.kv.cap;
    r->kv_bytes = s.kv.bytes;
    double t0 = fr_seconds(), nll = 0, kl = 0;
    int64_t agree = 0;
    for (int b = 0; b < nwin && !rc; b++)
        rc = fr_tf_prefill(&s, b, ids + (size_t)b * L, P, lg + (size_t)b * V, 0);
    g_record = 1;
    for (int64_t j = 0; j < S && !rc; j++) {
        for (int b = 0; b < nwin; b++) {
            size_t o = ((size_t)b * S + j) * V;
            double e, k;
            int am, ra;
            score_row(lg + (size_t)b * V, ref_logits ? ref_logits + o : NULL, V,
                      ids[(size_t)b * L + P + j], &e, &am, &ra, &k);
            nll += e, kl += k, agree += am == ra;
            if (out_logits) memcpy(out_logits + o, lg + (size_t)b * V, sizeof(float) * V);
            cur[b] = ids[(size_t)b * L + P + j];
        }
        if (j + 1 < S) rc = fr_tf_decode(&s, cur, lg);
    }
    g_record = 0;
    if (rc) goto cleanup;
    r->seconds = fr_seconds() - t0;
    r->scored = S * nwin;
    r->nll = nll / (double)r->scored;
    r->ppl = exp(r->nll);
    r->top1 = ref_logits ? (double)agree / (double)r->scored : NAN;
    r->kl = ref_logits ? kl / (double)r->scored : NAN;
    int64_t nh = (int64_t)nwin * m->cfg.n_layers * m->cfg.n_kv_heads, ev = 0;
    for (int64_t i = 0; i < nh; i++)
        ev += s.kv.heads[i].n < s.kv.heads[i].seen;
    r->evicted = (double)ev / (double)nh;
    if (s.kv.policy == &STATS) {
        /* the accumulated scores by position, for the power law and the
         * heavy hitters */
        for (int64_t i = 0; i < nh; i++) {
            const struct fr_kv_head *h = &s.kv.heads[i];
            float *f = g_rs->facc + i * L;
            memset(f, 0, sizeof(float) * (size_t)L);
            for (int64_t j = 0; j < h->n; j++)
                f[h->pos[j]] = h->acc[j];
        }
    }
cleanup:
    g_record = 0;
    g_heads = NULL;
    free(lg);
    free(cur);
    fr_tf_state_free(&s);
    return rc;
}

/* ---- the study ---- */

/* A budget (fraction f of L) as token counts for one policy. */
static void budget_cfg(const char *pol, double f, int64_t L, struct fr_kv_config *kc) {
    int64_t b = llround(f * (double)L);
    if (b < 1) b = 1;
    if (b > L) b = L;
    memset(kc, 0, sizeof *kc);
    kc->policy = pol;
    if (!strcmp(pol, "h2o")) {
        kc->heavy = (double)(b / 2);
        kc->recent = (double)(b - b / 2);
    } else if (!strcmp(pol, "heavy")) {
        kc->heavy = (double)b;
    } else {
        kc->recent = (double)b;
    }
}

static void say(const struct fr_kv_eval_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(const struct fr_kv_eval_opts *o, const char *fmt, ...) {
    if (!o->progress) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    o->progress(o->user, line);
}

static void plot(struct fr_results *r, const struct fr_kv_eval_opts *o, const char *suffix,
                 const char *title, const char *xl, const char *yl, int logy, int ns,
                 const struct fr_plot_series *s) {
    if (!o->plot_dir) return;
    char file[256], path[4400], t[256];
    snprintf(file, sizeof file, "%s_%s.svg", o->label, suffix);
    snprintf(path, sizeof path, "%s/%s", o->plot_dir, file);
    snprintf(t, sizeof t, "%s: %s", o->label, title);
    struct fr_plot p = {t, xl, yl, logy, 1, 0, 0};
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

/* Attention statistics of the full-cache run into r. */
static void write_stats(const struct fr_tf_model *m, const int32_t *ids, int nwin,
                        const struct fr_kv_eval_opts *o, const struct rowstats *rs,
                        struct fr_results *r) {
    const int nl = m->cfg.n_layers, nkv = m->cfg.n_kv_heads, V = m->cfg.vocab_size;
    const int64_t L = o->L, nh = (int64_t)nwin * nl * nkv;
    char key[256];
    /* row sparsity per layer */
    double lx[64], sp[64], t10[64], all_sp = 0, all_t10 = 0;
    int64_t all_rows = 0;
    for (int l = 0; l < nl && l < 64; l++) {
        double a = 0, b = 0;
        int64_t n = 0;
        for (int64_t i = 0; i < nh; i++)
            if ((i / nkv) % nl == l) a += rs->sparse[i], b += rs->top10[i], n += rs->rows[i];
        lx[l] = l;
        sp[l] = n ? 100 * a / (double)n : NAN;
        t10[l] = n ? 100 * b / (double)n : NAN;
        all_sp += a, all_t10 += b, all_rows += n;
    }
    int nlp = nl < 64 ? nl : 64;
    snprintf(key, sizeof key, "%s_attn_sparsity", o->label);
    fr_results_metric(r, key, all_rows ? 100 * all_sp / (double)all_rows : NAN, "%");
    snprintf(key, sizeof key, "%s_attn_top10_mass", o->label);
    fr_results_metric(r, key, all_rows ? 100 * all_t10 / (double)all_rows : NAN, "%");
    snprintf(key, sizeof key, "%s sparsity per layer", o->label);
    fr_results_series(r, key, "layer", "% of row entries < 1% of the row max", nlp, lx, sp);
    struct fr_plot_series s2[2] = {{"entries < 1% of row max (%)", nlp, lx, sp},
                                   {"mass in the top 10% of entries (%)", nlp, lx, t10}};
    plot(r, o, "sparsity", "attention rows (decode, full cache)", "layer", "%", 0, 2, s2);

    /* power law of accumulated scores: mean normalised share at each rank */
    double *share = calloc((size_t)L, sizeof(double)), *rank = malloc(sizeof(double) * L);
    float *tmp = malloc(sizeof(float) * L);
    int64_t kh = llround(0.1 * (double)L);
    if (kh < 1) kh = 1;
    enum { NB = 16 };
    double hist[NB] = {0}, histn[NB] = {0}, bx[NB];
    double *hh_tok = calloc((size_t)V, sizeof(double)),
           *all_tok = calloc((size_t)V, sizeof(double));
    int64_t *order = malloc(sizeof(int64_t) * L);
    double first_hh = 0, topk_mass = 0;
    if (!share || !rank || !tmp || !hh_tok || !all_tok || !order) goto cleanup;
    for (int64_t i = 0; i < nh; i++) {
        const float *f = rs->facc + i * L;
        int b = (int)(i / ((int64_t)nl * nkv));
        double tot = 0;
        for (int64_t j = 0; j < L; j++)
            tmp[j] = f[j], tot += f[j];
        qsort(tmp, (size_t)L, sizeof *tmp, cmp_desc);
        double top = 0;
        for (int64_t j = 0; j < L; j++) {
            share[j] += tot > 0 ? tmp[j] / tot / (double)nh : 0;
            if (j < kh) top += tmp[j];
        }
        topk_mass += tot > 0 ? top / tot : 0;
        /* the heavy hitters: top kh positions by accumulated score; and by
         * mean score per query that saw them (removes the age bias) */
        for (int pass = 0; pass < 2; pass++) {
            for (int64_t j = 0; j < L; j++)
                order[j] = j;
            for (int64_t a = 0; a < kh; a++) { /* partial selection */
                int64_t best = a;
                for (int64_t c = a + 1; c < L; c++) {
                    double vc = pass ? f[order[c]] / (double)(L - order[c]) : f[order[c]];
                    double vb = pass ? f[order[best]] / (double)(L - order[best]) : f[order[best]];
                    if (vc > vb) best = c;
                }
                int64_t x = order[a];
                order[a] = order[best], order[best] = x;
                int64_t p = order[a];
                (pass ? histn : hist)[p * NB / L] += 1.0 / (double)(nh * kh);
                if (!pass) {
                    hh_tok[ids[(size_t)b * L + p]] += 1;
                    first_hh += p == 0;
                }
            }
        }
    }
    for (int b = 0; b < nwin; b++)
        for (int64_t j = 0; j < L; j++)
            all_tok[ids[(size_t)b * L + j]] += 1;
    for (int64_t j = 0; j < L; j++)
        rank[j] = log10((double)(j + 1));
    /* slope of log share vs log rank over ranks 1..L/2 */
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    int64_t nfit = 0;
    for (int64_t j = 0; j < L / 2; j++)
        if (share[j] > 0) {
            double y = log10(share[j]);
            sx += rank[j], sy += y, sxx += rank[j] * rank[j], sxy += rank[j] * y, nfit++;
        }
    double slope = nfit > 2 ? (nfit * sxy - sx * sy) / (nfit * sxx - sx * sx) : NAN;
    snprintf(key, sizeof key, "%s_acc_powerlaw_slope", o->label);
    fr_results_metric(r, key, slope, "");
    snprintf(key, sizeof key, "%s_acc_top10_mass", o->label);
    fr_results_metric(r, key, 100 * topk_mass / (double)nh, "%");
    snprintf(key, sizeof key, "%s_first_token_heavy", o->label);
    fr_results_metric(r, key, 100 * first_hh / (double)nh, "%");
    snprintf(key, sizeof key, "%s accumulated score by rank", o->label);
    fr_results_series(r, key, "log10 rank", "share of accumulated attention", L, rank, share);
    struct fr_plot_series s1 = {"mean over heads", L, rank, share};
    plot(r, o, "powerlaw", "accumulated attention by rank (full cache)", "log10 rank",
         "share of the head's accumulated attention", 1, 1, &s1);
    for (int i = 0; i < NB; i++)
        bx[i] = (i + 0.5) * (double)L / NB, hist[i] *= 100, histn[i] *= 100;
    snprintf(key, sizeof key, "%s heavy-hitter positions", o->label);
    fr_results_series(r, key, "position", "% of heavy hitters", NB, bx, hist);
    struct fr_plot_series s3[2] = {{"by accumulated score (H2O's choice)", NB, bx, hist},
                                   {"by mean score per query seen", NB, bx, histn}};
    plot(r, o, "hh_positions", "where the top 10% tokens sit", "position in the window",
         "% of heavy hitters", 0, 2, s3);
    /* tokens most over-represented among heavy hitters (seen >= 0.5% of text) */
    snprintf(key, sizeof key, "%s heavy-hitter tokens", o->label);
    const char *cols[4] = {"token", "% of heavy hitters", "% of text", "ratio"};
    fr_results_table(r, key, 4, cols);
    double hh_tot = (double)nh * kh, all_tot = (double)nwin * L;
    for (int shown = 0; shown < 8; shown++) {
        int best = -1;
        double bestv = 0;
        for (int v = 0; v < V; v++) {
            if (all_tok[v] / all_tot < 0.005 || hh_tok[v] < 0) continue;
            double ratio = (hh_tok[v] / hh_tot) / (all_tok[v] / all_tot);
            if (ratio > bestv) bestv = ratio, best = v;
        }
        if (best < 0) break;
        char lab[64];
        token_label(o->tok, best, lab, sizeof lab);
        double vals[3] = {100 * hh_tok[best] / hh_tot, 100 * all_tok[best] / all_tot, bestv};
        fr_results_table_row(r, key, lab, vals);
        hh_tok[best] = -1; /* shown */
    }
cleanup:
    free(share);
    free(rank);
    free(tmp);
    free(hh_tok);
    free(all_tok);
    free(order);
}

int fr_kv_eval_model(const struct fr_tf_model *m, const int32_t *ids, int nwin,
                     const struct fr_kv_eval_opts *o, struct fr_results *r) {
    const int64_t L = o->L, P = o->P, S = L - P;
    const int V = m->cfg.vocab_size, nb = o->nbudgets, np = o->npolicies;
    int64_t nh = (int64_t)nwin * m->cfg.n_layers * m->cfg.n_kv_heads;
    if (L > m->cfg.max_seq || P < 1 || P >= L || nb < 1 || nb > 32 || np < 1 || np > 16)
        return fr_error(FR_EINVAL,
                        "kv eval: bad study (length %lld, prompt %lld, %d budgets, %d "
                        "policies; the model's context is %d)",
                        (long long)L, (long long)P, nb, np, m->cfg.max_seq);
    for (int p = 0; p < np; p++)
        if (!fr_kv_policy_find(o->policies[p]))
            return fr_error(FR_EINVAL, "unknown kv policy '%s'", o->policies[p]);
    int rc = 0;
    char key[256];
    struct rowstats rs = {0};
    rs.L = L;
    rs.rep = m->cfg.n_heads / m->cfg.n_kv_heads;
    rs.sparse = calloc((size_t)nh, sizeof(double));
    rs.top10 = calloc((size_t)nh, sizeof(double));
    rs.rows = calloc((size_t)nh, sizeof(int64_t));
    rs.scratch = malloc(sizeof(float) * (size_t)(nh * L));
    rs.facc = calloc((size_t)(nh * L), sizeof(float));
    float *ref = malloc(sizeof(float) * (size_t)nwin * S * V);
    double(*res)[32][4] = calloc((size_t)np, sizeof *res); /* ppl, top1, kl, evicted */
    if (!rs.sparse || !rs.top10 || !rs.rows || !rs.scratch || !rs.facc || !ref || !res) {
        rc = fr_error(FR_ENOMEM, "kv eval: out of memory");
        goto cleanup;
    }
    struct fr_kv_config full = {"full", 0, 0, 0};
    struct fr_kv_eval_run fr;
    g_rs = &rs;
    rc = fr_kv_eval_stream(m, ids, nwin, L, P, &full, NULL, ref, &fr);
    g_rs = NULL;
    if (rc) goto cleanup;
    say(o, "%s full cache: ppl %.4f over %lld predictions (%.1f s)", o->label, fr.ppl,
        (long long)fr.scored, fr.seconds);
    snprintf(key, sizeof key, "%s_full_ppl", o->label);
    fr_results_metric(r, key, fr.ppl, "");
    snprintf(key, sizeof key, "%s_full_kv_bytes", o->label);
    fr_results_metric(r, key, (double)fr.kv_bytes, "bytes");
    write_stats(m, ids, nwin, o, &rs, r);
    for (int p = 0; p < np; p++)
        for (int b = 0; b < nb; b++) {
            struct fr_kv_config kc;
            struct fr_kv_eval_run e;
            budget_cfg(o->policies[p], o->budgets[b], L, &kc);
            if ((rc = fr_kv_eval_stream(m, ids, nwin, L, P, &kc, ref, NULL, &e))) goto cleanup;
            res[p][b][0] = e.ppl, res[p][b][1] = 100 * e.top1, res[p][b][2] = e.kl;
            res[p][b][3] = 100 * e.evicted;
            int pct = (int)llround(100 * o->budgets[b]);
            say(o, "%s %-5s %3d%% (%lld slots%s): ppl %.4f  top-1 %.2f%%  KL %.4f  (%.1f s)",
                o->label, o->policies[p], pct, (long long)e.slots,
                e.evicted > 0 ? ", evicting" : ", never evicts", e.ppl, 100 * e.top1, e.kl,
                e.seconds);
            snprintf(key, sizeof key, "%s_%s_%d_ppl", o->label, o->policies[p], pct);
            fr_results_metric(r, key, e.ppl, "");
            snprintf(key, sizeof key, "%s_%s_%d_top1", o->label, o->policies[p], pct);
            fr_results_metric(r, key, 100 * e.top1, "%");
            snprintf(key, sizeof key, "%s_%s_%d_kl", o->label, o->policies[p], pct);
            fr_results_metric(r, key, e.kl, "nats");
        }
    /* tables: one per quantity, policies x budgets */
    static const char *const what[4] = {"perplexity", "top-1 agreement with full cache (%)",
                                        "KL(full || policy), nats", "heads that evicted (%)"};
    char colbuf[33][16];
    const char *cols[33];
    cols[0] = "policy";
    for (int b = 0; b < nb; b++) {
        snprintf(colbuf[b], sizeof colbuf[b], "%g%%", 100 * o->budgets[b]);
        cols[b + 1] = colbuf[b];
    }
    for (int q = 0; q < 4; q++) {
        snprintf(key, sizeof key, "%s %s (full cache ppl %.4f)", o->label, what[q], fr.ppl);
        fr_results_table(r, key, nb + 1, cols);
        for (int p = 0; p < np; p++) {
            double vals[32];
            for (int b = 0; b < nb; b++)
                vals[b] = res[p][b][q];
            fr_results_table_row(r, key, o->policies[p], vals);
        }
    }
    /* curves */
    double bx[32], fy[32];
    double ys[3][16][32];
    struct fr_plot_series s[17];
    for (int b = 0; b < nb; b++)
        bx[b] = 100 * o->budgets[b], fy[b] = fr.ppl;
    static const char *const suffix[3] = {"ppl", "top1", "kl"};
    static const char *const ylab[3] = {"perplexity", "top-1 agreement (%)", "KL (nats)"};
    for (int q = 0; q < 3; q++) {
        for (int p = 0; p < np; p++) {
            for (int b = 0; b < nb; b++)
                ys[q][p][b] = res[p][b][q];
            s[p] = (struct fr_plot_series){o->policies[p], nb, bx, ys[q][p]};
            snprintf(key, sizeof key, "%s %s %s", o->label, o->policies[p], suffix[q]);
            fr_results_series(r, key, "budget (% of the window)", ylab[q], nb, bx, ys[q][p]);
        }
        int ns = np;
        if (q == 0) s[ns++] = (struct fr_plot_series){"full cache", nb, bx, fy};
        plot(r, o, suffix[q],
             q == 0   ? "streaming perplexity vs KV budget"
             : q == 1 ? "agreement with the full cache"
                      : "divergence from the full cache",
             "KV budget (% of the window)", ylab[q], q != 1, ns, s);
    }
cleanup:
    g_rs = NULL;
    free(rs.sparse);
    free(rs.top10);
    free(rs.rows);
    free(rs.scratch);
    free(rs.facc);
    free(ref);
    free(res);
    return rc;
}

int fr_kv_eval_self_text(const struct fr_tf_model *m, int nwin, int64_t L, int32_t bos,
                         float temperature, uint64_t seed, int32_t *ids) {
    if (nwin < 1 || L < 2 || L > m->cfg.max_seq || bos < 0 || bos >= m->cfg.vocab_size)
        return fr_error(FR_EINVAL, "self text: need 2 <= length <= %d and a valid BOS",
                        m->cfg.max_seq);
    int V = m->cfg.vocab_size, rc;
    struct fr_tf_state s;
    struct fr_sampler sp;
    if ((rc = fr_tf_state_init(&s, m, nwin, L, 1, NULL, 1))) return rc;
    if ((rc = fr_sampler_init(&sp, V, temperature, 0, 1.0f, seed))) {
        fr_tf_state_free(&s);
        return rc;
    }
    float *lg = malloc(sizeof(float) * (size_t)V * nwin);
    int32_t *cur = malloc(sizeof(int32_t) * nwin);
    if (!lg || !cur) {
        rc = fr_error(FR_ENOMEM, "self text: out of memory");
        goto cleanup;
    }
    for (int b = 0; b < nwin; b++)
        cur[b] = ids[(size_t)b * L] = bos;
    for (int64_t t = 1; t < L && !rc; t++) {
        if ((rc = fr_tf_decode(&s, cur, lg))) break;
        for (int b = 0; b < nwin; b++)
            cur[b] = ids[(size_t)b * L + t] = fr_sample(&sp, lg + (size_t)b * V);
    }
cleanup:
    free(lg);
    free(cur);
    fr_sampler_free(&sp);
    fr_tf_state_free(&s);
    return rc;
}

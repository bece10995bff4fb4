/* kv_eval.c: streaming evaluation of KV-cache eviction policies and the
 * attention statistics that explain it (see methods/kv_eval.h).
 *
 * The statistics ride on the full-cache run: a wrapper policy behaves as
 * `full` and, while recording, looks at each decode row a head receives.
 * Its state travels in the cache config's user pointer (no globals), with
 * accumulators per head (the engine runs heads in parallel, each head in
 * one task), summed per layer at the end. Nothing here writes files.
 */
#include "frugal/methods/kv_eval.h"
#include "frugal/clock.h"
#include "frugal/methods/kv.h"
#include "frugal/status.h"

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
    const struct fr_kv_head *heads; /* the cache's heads (index = h - heads) */
    int record;                     /* decode rows are being recorded */
};

static int cmp_desc(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

static void stats_observe(struct fr_kv_head *h, const struct fr_kv_config *cfg, const float *w) {
    struct rowstats *rs = cfg->user;
    for (int64_t i = 0; i < h->n; i++)
        h->acc[i] += w[i];
    if (!rs->record || h->n < 10) return;
    int64_t idx = h - rs->heads, n = h->n;
    float *s = rs->scratch + idx * rs->L, mx = 0;
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
    rs->sparse[idx] += (double)small / (double)n;
    rs->top10[idx] += tot > 0 ? top / tot : 0;
    rs->rows[idx]++;
}

static int64_t full_capacity(const struct fr_kv_config *cfg, int64_t max_seq, int64_t prompt_len) {
    return fr_kv_policy_full.capacity(cfg, max_seq, prompt_len);
}

static int full_admit(struct fr_kv_head *h, const struct fr_kv_config *cfg, int64_t prompt_len,
                      const float *k, const float *v, const int32_t *pos, const float *mass,
                      int64_t T, int hs) {
    return fr_kv_policy_full.admit(h, cfg, prompt_len, k, v, pos, mass, T, hs);
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

/* fr_kv_eval_stream; with rs, the full cache run with the statistics hook. */
static int stream(const struct fr_tf_model *m, const int32_t *ids, int nwin, int64_t L, int64_t P,
                  const struct fr_kv_config *kc, const float *ref_logits, float *out_logits,
                  struct fr_kv_eval_run *r, struct rowstats *rs) {
    double *wn = r->window_nll;
    memset(r, 0, sizeof *r);
    r->window_nll = wn;
    if (wn) memset(wn, 0, sizeof(double) * (size_t)(nwin > 0 ? nwin : 0));
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
    if (rs) {
        s.kv.policy = &STATS;
        s.kv.cfg.user = rs;
        rs->heads = s.kv.heads;
    }
    r->slots = s.kv.cap;
    r->kv_bytes = s.kv.bytes;
    double t0 = fr_seconds(), nll = 0, kl = 0;
    int64_t agree = 0;
    for (int b = 0; b < nwin && !rc; b++)
        rc = fr_tf_prefill(&s, b, ids + (size_t)b * L, P, lg + (size_t)b * V, 0);
    if (rs) rs->record = 1;
    for (int64_t j = 0; j < S && !rc; j++) {
        for (int b = 0; b < nwin; b++) {
            size_t o = ((size_t)b * S + j) * V;
            double e, k;
            int am, ra;
            score_row(lg + (size_t)b * V, ref_logits ? ref_logits + o : NULL, V,
                      ids[(size_t)b * L + P + j], &e, &am, &ra, &k);
            nll += e, kl += k, agree += am == ra;
            if (wn) wn[b] += e / (double)S;
            if (out_logits) memcpy(out_logits + o, lg + (size_t)b * V, sizeof(float) * V);
            cur[b] = ids[(size_t)b * L + P + j];
        }
        if (j + 1 < S) rc = fr_tf_decode(&s, cur, lg);
    }
    if (rs) rs->record = 0;
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
    if (rs) {
        /* the accumulated scores by position, for the power law and the
         * heavy hitters */
        for (int64_t i = 0; i < nh; i++) {
            const struct fr_kv_head *h = &s.kv.heads[i];
            float *f = rs->facc + i * L;
            memset(f, 0, sizeof(float) * (size_t)L);
            for (int64_t j = 0; j < h->n; j++)
                f[h->pos[j]] = h->acc[j];
        }
    }
cleanup:
    if (rs) rs->record = 0, rs->heads = NULL;
    free(lg);
    free(cur);
    fr_tf_state_free(&s);
    return rc;
}

int fr_kv_eval_stream(const struct fr_tf_model *m, const int32_t *ids, int nwin, int64_t L,
                      int64_t P, const struct fr_kv_config *kc, const float *ref_logits,
                      float *out_logits, struct fr_kv_eval_run *r) {
    return stream(m, ids, nwin, L, P, kc, ref_logits, out_logits, r, NULL);
}

/* ---- the study ---- */

void fr_kv_eval_budget(const struct fr_kv_policy *p, double f, int64_t L, struct fr_kv_config *kc) {
    int64_t b = llround(f * (double)L);
    if (b < 1) b = 1;
    if (b > L) b = L;
    memset(kc, 0, sizeof *kc);
    kc->policy = p;
    if (p == &fr_kv_policy_h2o || p == &fr_kv_policy_h2o_anti) {
        kc->heavy = (double)(b / 2);
        kc->recent = (double)(b - b / 2);
    } else if (p == &fr_kv_policy_heavy) {
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

/* Attention statistics of the full-cache run into st. */
static int compute_stats(const struct fr_tf_model *m, const int32_t *ids, int nwin,
                         const struct fr_kv_eval_opts *o, const struct rowstats *rs,
                         struct fr_kv_study *st) {
    const int nl = m->cfg.n_layers, nkv = m->cfg.n_kv_heads, V = m->cfg.vocab_size;
    const int64_t L = o->L, nh = (int64_t)nwin * nl * nkv;
    const int nlp = nl < 64 ? nl : 64;
    int rc = 0;
    st->n_layers = nlp;
    st->layer_sparsity = malloc(sizeof(double) * (size_t)nlp);
    st->layer_top10 = malloc(sizeof(double) * (size_t)nlp);
    st->rank_share = calloc((size_t)L, sizeof(double));
    st->rank_log10 = malloc(sizeof(double) * (size_t)L);
    float *tmp = malloc(sizeof(float) * (size_t)L);
    double *hh_tok = calloc((size_t)V, sizeof(double)),
           *all_tok = calloc((size_t)V, sizeof(double));
    int64_t *order = malloc(sizeof(int64_t) * (size_t)L);
    if (!st->layer_sparsity || !st->layer_top10 || !st->rank_share || !st->rank_log10 || !tmp ||
        !hh_tok || !all_tok || !order) {
        rc = fr_error(FR_ENOMEM, "kv eval: out of memory");
        goto cleanup;
    }
    /* row sparsity per layer */
    double all_sp = 0, all_t10 = 0;
    int64_t all_rows = 0;
    for (int l = 0; l < nlp; l++) {
        double a = 0, b = 0;
        int64_t n = 0;
        for (int64_t i = 0; i < nh; i++)
            if ((i / nkv) % nl == l) a += rs->sparse[i], b += rs->top10[i], n += rs->rows[i];
        st->layer_sparsity[l] = n ? 100 * a / (double)n : NAN;
        st->layer_top10[l] = n ? 100 * b / (double)n : NAN;
        all_sp += a, all_t10 += b, all_rows += n;
    }
    st->attn_sparsity = all_rows ? 100 * all_sp / (double)all_rows : NAN;
    st->attn_top10_mass = all_rows ? 100 * all_t10 / (double)all_rows : NAN;

    /* power law of accumulated scores: mean normalised share at each rank */
    double *share = st->rank_share, *rank = st->rank_log10;
    int64_t kh = llround(0.1 * (double)L);
    if (kh < 1) kh = 1;
    enum { NB = FR_KV_HH_BINS };
    double *hist = st->hh_by_score, *histn = st->hh_by_mean;
    memset(st->hh_by_score, 0, sizeof st->hh_by_score);
    memset(st->hh_by_mean, 0, sizeof st->hh_by_mean);
    double first_hh = 0, topk_mass = 0;
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
    st->powerlaw_slope = nfit > 2 ? (nfit * sxy - sx * sy) / (nfit * sxx - sx * sx) : NAN;
    st->acc_top10_mass = 100 * topk_mass / (double)nh;
    st->first_token_heavy = 100 * first_hh / (double)nh;
    for (int i = 0; i < NB; i++)
        st->hh_bin_center[i] = (i + 0.5) * (double)L / NB, hist[i] *= 100, histn[i] *= 100;
    /* tokens most over-represented among heavy hitters (seen >= 0.5% of text) */
    double hh_tot = (double)nh * kh, all_tot = (double)nwin * L;
    st->n_hh_tokens = 0;
    for (int shown = 0; shown < FR_KV_HH_TOKENS; shown++) {
        int best = -1;
        double bestv = 0;
        for (int v = 0; v < V; v++) {
            if (all_tok[v] / all_tot < 0.005 || hh_tok[v] < 0) continue;
            double ratio = (hh_tok[v] / hh_tot) / (all_tok[v] / all_tot);
            if (ratio > bestv) bestv = ratio, best = v;
        }
        if (best < 0) break;
        st->hh_token[shown] = best;
        st->hh_token_pct[shown] = 100 * hh_tok[best] / hh_tot;
        st->hh_text_pct[shown] = 100 * all_tok[best] / all_tot;
        st->hh_ratio[shown] = bestv;
        st->n_hh_tokens = shown + 1;
        hh_tok[best] = -1; /* taken */
    }
cleanup:
    free(tmp);
    free(hh_tok);
    free(all_tok);
    free(order);
    return rc;
}

void fr_kv_study_free(struct fr_kv_study *st) {
    if (!st) return;
    free(st->runs);
    free(st->window_nll);
    free(st->layer_sparsity);
    free(st->layer_top10);
    free(st->rank_log10);
    free(st->rank_share);
    memset(st, 0, sizeof *st);
}

int fr_kv_eval_model(const struct fr_tf_model *m, const int32_t *ids, int nwin,
                     const struct fr_kv_eval_opts *o, struct fr_kv_study *st) {
    const int64_t L = o->L, P = o->P, S = L - P;
    const int V = m->cfg.vocab_size, nb = o->nbudgets, np = o->npolicies;
    int64_t nh = (int64_t)nwin * m->cfg.n_layers * m->cfg.n_kv_heads;
    memset(st, 0, sizeof *st);
    if (L > m->cfg.max_seq || P < 1 || P >= L || nb < 1 || nb > FR_KV_EVAL_MAX_BUDGETS || np < 1 ||
        np > FR_KV_EVAL_MAX_POLICIES)
        return fr_error(FR_EINVAL,
                        "kv eval: bad study (length %lld, prompt %lld, %d budgets, %d "
                        "policies; the model's context is %d)",
                        (long long)L, (long long)P, nb, np, m->cfg.max_seq);
    const struct fr_kv_policy *pols[FR_KV_EVAL_MAX_POLICIES];
    for (int p = 0; p < np; p++)
        if (!(pols[p] = fr_kv_policy_find(o->policies[p])))
            return fr_error(FR_EINVAL, "unknown kv policy '%s'", o->policies[p]);
    int rc = 0;
    struct rowstats rs = {0};
    rs.L = L;
    rs.sparse = calloc((size_t)nh, sizeof(double));
    rs.top10 = calloc((size_t)nh, sizeof(double));
    rs.rows = calloc((size_t)nh, sizeof(int64_t));
    rs.scratch = malloc(sizeof(float) * (size_t)(nh * L));
    rs.facc = calloc((size_t)(nh * L), sizeof(float));
    float *ref = malloc(sizeof(float) * (size_t)nwin * S * V);
    st->runs = calloc((size_t)np * nb, sizeof *st->runs);
    st->window_nll = calloc((size_t)(1 + np * nb) * (size_t)nwin, sizeof *st->window_nll);
    st->npolicies = np, st->nbudgets = nb, st->L = L, st->nwin = nwin;
    if (!rs.sparse || !rs.top10 || !rs.rows || !rs.scratch || !rs.facc || !ref || !st->runs ||
        !st->window_nll) {
        rc = fr_error(FR_ENOMEM, "kv eval: out of memory");
        goto cleanup;
    }
    struct fr_kv_config full = {&fr_kv_policy_full, 0, 0, 0, NULL};
    st->full.window_nll = st->window_nll;
    if ((rc = stream(m, ids, nwin, L, P, &full, NULL, ref, &st->full, &rs))) goto cleanup;
    say(o, "%s full cache: ppl %.4f over %lld predictions (%.1f s)", o->label, st->full.ppl,
        (long long)st->full.scored, st->full.seconds);
    if ((rc = compute_stats(m, ids, nwin, o, &rs, st))) goto cleanup;
    for (int p = 0; p < np; p++)
        for (int b = 0; b < nb; b++) {
            struct fr_kv_config kc;
            struct fr_kv_eval_run *e = &st->runs[(size_t)p * nb + b];
            fr_kv_eval_budget(pols[p], o->budgets[b], L, &kc);
            e->window_nll = st->window_nll + (1 + (size_t)p * nb + b) * (size_t)nwin;
            if ((rc = fr_kv_eval_stream(m, ids, nwin, L, P, &kc, ref, NULL, e))) goto cleanup;
            int pct = (int)llround(100 * o->budgets[b]);
            say(o, "%s %-5s %3d%% (%lld slots%s): ppl %.4f  top-1 %.2f%%  KL %.4f  (%.1f s)",
                o->label, o->policies[p], pct, (long long)e->slots,
                e->evicted > 0 ? ", evicting" : ", never evicts", e->ppl, 100 * e->top1, e->kl,
                e->seconds);
        }
cleanup:
    free(rs.sparse);
    free(rs.top10);
    free(rs.rows);
    free(rs.scratch);
    free(rs.facc);
    free(ref);
    if (rc) fr_kv_study_free(st);
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

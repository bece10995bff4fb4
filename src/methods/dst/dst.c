/* dst.c: dynamic sparse training and Chase's channel removal (dst.h).
 *
 * The scope's tensors are laid out once as segments of a compact index
 * space [0, N): every selection (drop the smallest |w|, grow the largest
 * |g|, random regrowth) is a score array over that space and one exact
 * k-lowest selection (fr_prune_lowest: ties to the lower index), over the
 * whole space (global) or one segment (layer-wise). Entries that may not
 * take part score +inf and are never picked (k is capped by the count of
 * those that may). The mask itself is the slab's (p->mask); the optimizer
 * keeps masked weights and their moments at zero.
 */
#include "frugal/methods/dst.h"
#include "frugal/methods/prune.h"
#include "frugal/rng.h"
#include "frugal/status.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846

struct seg {
    int param;      /* index in p->items */
    int64_t off;    /* in the slab */
    int64_t n;      /* elements */
    int64_t at;     /* in the compact space */
    int64_t target; /* kept entries at the start (K's share) */
};

enum { C_UPDATES, C_REMOVALS, C_REMOVED, C_N };

struct fr_dst {
    struct fr_dst_config c;
    struct fr_model *m;
    int64_t total; /* steps of the run */
    struct seg *seg;
    int nseg;
    int64_t N, K;
    float *score, *sel, *g; /* compact: scores, selection flags, kept gradient */
    uint8_t *dead;          /* compact: inside a removed channel (never grown) */
    uint8_t *dropped;       /* compact: dropped by the update in progress */
    int have_g;             /* g holds the gradient of the step just taken */
    struct fr_rng rng;
    int64_t counters[C_N];
    /* channels */
    struct fr_channel_layer L[FR_MODEL_MAX_WIDTHS];
    int nl;
    int64_t C0; /* prunable channels at the start */
    uint8_t *alive_all;
    uint8_t *alive[FR_MODEL_MAX_WIDTHS];
};

void fr_dst_config_defaults(struct fr_dst_config *c) {
    memset(c, 0, sizeof *c);
    c->method = FR_DST_CHASE;
    c->density = 0.1;
    c->erk = 1;
    c->update_every = 100;
    c->drop_frac = 0.3;
    c->mest_extra = 0.05;
    c->beta = 0.5;
    c->seed = 1;
}

static const char *const g_names[] = {"static", "set", "rigl", "mest", "chase"};

int fr_dst_method_parse(const char *name) {
    for (int i = 0; name && i < 5; i++)
        if (strcmp(name, g_names[i]) == 0) return i;
    return -1;
}

const char *fr_dst_method_name(enum fr_dst_method m) {
    return (int)m >= 0 && (int)m < 5 ? g_names[m] : "?";
}

static double update_end(const struct fr_dst_config *c) {
    if (c->update_end > 0) return c->update_end;
    return c->method == FR_DST_MEST || c->method == FR_DST_CHASE ? 0.8 : 0.75;
}

static double gmp_end(const struct fr_dst_config *c) {
    return c->gmp_end > 0 ? c->gmp_end : 0.8;
}

/* T_g in steps: the last channel removal's step (its schedule reaches S_c). */
static int64_t gmp_steps(const struct fr_dst_config *c, int64_t total) {
    int64_t t = (int64_t)(gmp_end(c) * (double)total);
    return t < 1 ? 1 : t;
}

static int64_t channel_every(const struct fr_dst_config *c) {
    return c->channel_every > 0 ? c->channel_every : 2 * c->update_every;
}

int fr_dst_config_check(const struct fr_dst_config *c, int64_t total) {
    if ((int)c->method < 0 || (int)c->method > FR_DST_CHASE)
        return fr_error(FR_EINVAL, "dst: unknown method %d (known: static, set, rigl, mest, chase)",
                        (int)c->method);
    if (!(c->density > 0 && c->density <= 1))
        return fr_error(FR_EINVAL, "dst: density %g must be in (0, 1]", c->density);
    if (total < 1) return fr_error(FR_EINVAL, "dst: a run of %lld steps", (long long)total);
    if (c->update_every < 1)
        return fr_error(FR_EINVAL, "dst: update interval %lld must be at least 1 step",
                        (long long)c->update_every);
    if (c->method != FR_DST_STATIC && c->update_every > total)
        return fr_error(FR_EINVAL,
                        "dst: update interval %lld steps is longer than the run (%lld steps): no "
                        "update would happen",
                        (long long)c->update_every, (long long)total);
    if (!(c->drop_frac > 0 && c->drop_frac < 1))
        return fr_error(FR_EINVAL, "dst: drop fraction %g must be in (0, 1)", c->drop_frac);
    if ((c->method == FR_DST_MEST || c->method == FR_DST_CHASE) &&
        !(c->mest_extra >= 0 && c->mest_extra <= 1 - c->density))
        return fr_error(FR_EINVAL, "dst: MEST extra density %g must be in [0, 1 - density = %g]",
                        c->mest_extra, 1 - c->density);
    if (!(c->update_end >= 0 && c->update_end <= 1))
        return fr_error(FR_EINVAL,
                        "dst: the updates end at %g of the run: the schedule must end within it "
                        "(0, 1]",
                        c->update_end);
    if (!(c->gmp_end >= 0 && c->gmp_end <= 1))
        return fr_error(FR_EINVAL,
                        "dst: channel removal ends at %g of the run: the schedule must end within "
                        "it (0, 1]",
                        c->gmp_end);
    if (!(c->channel_sparsity >= 0 && c->channel_sparsity < 1))
        return fr_error(FR_EINVAL, "dst: channel sparsity %g must be in [0, 1)",
                        c->channel_sparsity);
    if (c->channel_sparsity > 0 && c->method != FR_DST_CHASE)
        return fr_error(FR_EINVAL, "dst: channel sparsity %g needs method chase (not %s)",
                        c->channel_sparsity, fr_dst_method_name(c->method));
    if (c->channel_every < 0)
        return fr_error(FR_EINVAL, "dst: channel removal interval %lld is negative",
                        (long long)c->channel_every);
    if (c->channel_sparsity > 0 && channel_every(c) > gmp_steps(c, total))
        return fr_error(FR_EINVAL,
                        "dst: channel removal every %lld steps does not fit the %lld steps before "
                        "its schedule ends",
                        (long long)channel_every(c), (long long)gmp_steps(c, total));
    if (!(c->beta > 0 && c->beta <= 1))
        return fr_error(FR_EINVAL, "dst: beta %g must be in (0, 1]", c->beta);
    return 0;
}

/* ---- the compact space ---- */

static float *wptr(const struct fr_dst *d, const struct seg *s) {
    return d->m->params.data + s->off;
}
static float *mptr(const struct fr_dst *d, const struct seg *s) {
    return d->m->params.mask + s->off;
}

int64_t fr_dst_nnz(const struct fr_dst *d) {
    int64_t k = 0;
    for (int i = 0; i < d->nseg; i++) {
        const float *m = mptr(d, &d->seg[i]);
        for (int64_t j = 0; j < d->seg[i].n; j++)
            k += m[j] != 0.0f;
    }
    return k;
}

struct fr_model *fr_dst_model(const struct fr_dst *d) {
    return d->m;
}

int64_t fr_dst_steps(const struct fr_dst *d) {
    return d->total;
}

int64_t fr_dst_target(const struct fr_dst *d) {
    return d->K;
}
int64_t fr_dst_scope_size(const struct fr_dst *d) {
    return d->N;
}
int64_t fr_dst_updates(const struct fr_dst *d) {
    return d->counters[C_UPDATES];
}

/* Picks the k lowest of score[at .. at+n) (+inf entries excluded; k capped
 * by the others; scores are never NaN or -inf: the scoring maps every
 * non-finite value to +inf) and calls fn on each picked compact index.
 * Returns the count picked. */
static int64_t pick_lowest(struct fr_dst *d, int64_t at, int64_t n, int64_t k,
                           void (*fn)(struct fr_dst *d, int64_t i)) {
    int64_t finite = 0;
    for (int64_t i = at; i < at + n; i++)
        finite += d->score[i] < INFINITY ? 1 : 0;
    if (k > finite) k = finite;
    if (k <= 0) return 0;
    for (int64_t i = at; i < at + n; i++)
        d->sel[i] = 1.0f;
    if (fr_prune_lowest(d->score + at, n, k, d->sel + at)) return 0;
    for (int64_t i = at; i < at + n; i++)
        if (d->sel[i] == 0.0f) fn(d, i);
    return k;
}

static float finite_or_inf(float v) {
    return isfinite(v) ? v : INFINITY;
}

/* compact index -> slab index */
static int64_t slab_of(const struct fr_dst *d, int64_t i) {
    int lo = 0, hi = d->nseg - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (d->seg[mid].at <= i)
            lo = mid;
        else
            hi = mid - 1;
    }
    return d->seg[lo].off + (i - d->seg[lo].at);
}

/* An update decides its drops and growths first and settles the weights
 * at the end (settle): a weight dropped and regrown by the same update
 * keeps its value and moments (as in RigL's and the authors' code); one
 * that was masked before starts at zero, with the zero moments the
 * optimizer kept for it; one that ends masked is zeroed. */
static void do_drop(struct fr_dst *d, int64_t i) {
    d->m->params.mask[slab_of(d, i)] = 0.0f;
    d->dropped[i] = 1;
}

static void do_grow(struct fr_dst *d, int64_t i) {
    int64_t s = slab_of(d, i);
    d->m->params.mask[s] = 1.0f;
    if (!d->dropped[i]) d->m->params.data[s] = 0.0f; /* grown weights start at zero */
}

static void settle(struct fr_dst *d) {
    for (int k = 0; k < d->nseg; k++) {
        const struct seg *s = &d->seg[k];
        float *w = wptr(d, s), *m = mptr(d, s);
        uint8_t *dr = d->dropped + s->at;
        for (int64_t j = 0; j < s->n; j++) {
            if (dr[j] && m[j] == 0.0f) w[j] = 0.0f;
            dr[j] = 0;
        }
    }
}

/* Drop scores over segments [k0, k1): |w| of kept entries, +inf elsewhere. */
static void score_drop(struct fr_dst *d, int k0, int k1) {
    for (int k = k0; k < k1; k++) {
        const struct seg *s = &d->seg[k];
        const float *w = wptr(d, s), *m = mptr(d, s);
        for (int64_t j = 0; j < s->n; j++)
            d->score[s->at + j] = m[j] != 0.0f ? finite_or_inf(fabsf(w[j])) : INFINITY;
    }
}

/* Grow scores over segments [k0, k1): every masked entry outside a removed
 * channel is a candidate, scored -|g| (the largest gradients first; zero
 * gradients last, by index) or a random draw (SET); +inf elsewhere. */
static void score_grow(struct fr_dst *d, int k0, int k1, int random) {
    for (int k = k0; k < k1; k++) {
        const struct seg *s = &d->seg[k];
        const float *m = mptr(d, s);
        for (int64_t j = 0; j < s->n; j++) {
            int64_t i = s->at + j;
            float v = INFINITY;
            if (m[j] == 0.0f && !d->dead[i])
                v = random ? (float)fr_rng_uniform(&d->rng) : -fabsf(d->have_g ? d->g[i] : 0.0f);
            d->score[i] = isfinite(v) ? v : INFINITY;
        }
    }
}

static int64_t seg_nnz(const struct fr_dst *d, const struct seg *s) {
    const float *m = mptr(d, s);
    int64_t k = 0;
    for (int64_t j = 0; j < s->n; j++)
        k += m[j] != 0.0f;
    return k;
}

static double cosine(double from, double to, double t, double T) {
    if (t >= T) return to;
    return to + (from - to) * 0.5 * (1.0 + cos(PI * t / T));
}

/* SET / RigL: the same swap inside every tensor. */
static void update_layerwise(struct fr_dst *d, int64_t t) {
    const double Tu = update_end(&d->c) * (double)d->total;
    const double f = cosine(d->c.drop_frac, 0, (double)t, Tu);
    const int random = d->c.method == FR_DST_SET;
    for (int k = 0; k < d->nseg; k++) {
        const struct seg *s = &d->seg[k];
        int64_t nnz = seg_nnz(d, s), kd = (int64_t)llround(f * (double)nnz);
        if (kd <= 0) continue;
        score_drop(d, k, k + 1);
        int64_t dropped = pick_lowest(d, s->at, s->n, kd, do_drop);
        /* the just-dropped weights are candidates again (as in the authors'
         * code); the tensor keeps its count */
        score_grow(d, k, k + 1, random);
        pick_lowest(d, s->at, s->n, dropped, do_grow);
    }
}

/* Global magnitude prune to `keep` kept entries. */
static void prune_to(struct fr_dst *d, int64_t keep) {
    int64_t nnz = fr_dst_nnz(d);
    if (nnz <= keep) return;
    score_drop(d, 0, d->nseg);
    pick_lowest(d, 0, d->N, nnz - keep, do_drop);
}

/* Global gradient growth to `to` kept entries. */
static void grow_to(struct fr_dst *d, int64_t to, int random) {
    int64_t nnz = fr_dst_nnz(d);
    if (nnz >= to) return;
    score_grow(d, 0, d->nseg, random);
    pick_lowest(d, 0, d->N, to - nnz, do_grow);
}

static void update_mest(struct fr_dst *d, int64_t t) {
    const double Tu = update_end(&d->c) * (double)d->total;
    prune_to(d, d->K);
    if ((double)t < Tu) {
        double e = cosine(d->c.mest_extra, 0, (double)t, Tu);
        grow_to(d, d->K + (int64_t)llround(e * (double)d->N), 0);
    }
}

/* Chase's last phase: a global RigL swap. */
static void update_swap(struct fr_dst *d, int64_t t) {
    double r = cosine(0.5, 0.005, (double)t, (double)d->total);
    int64_t nnz = fr_dst_nnz(d);
    int64_t kd = (int64_t)ceil(r * (double)nnz);
    score_drop(d, 0, d->nseg);
    pick_lowest(d, 0, d->N, kd, do_drop);
    grow_to(d, d->K, 0);
}

/* ---- channels ---- */

static double umm(const struct fr_dst *d, int l, int64_t c) {
    const struct fr_channel_layer *L = &d->L[l];
    const float *w = d->m->params.data + L->w->offset + c * L->filter;
    double s = 0;
    for (int64_t j = 0; j < L->filter; j++)
        s += fabsf(w[j]);
    return s / (double)L->filter;
}

/* compact index of a slab index, or -1 outside the scope */
static int64_t compact_of(const struct fr_dst *d, int64_t s) {
    for (int k = 0; k < d->nseg; k++)
        if (s >= d->seg[k].off && s < d->seg[k].off + d->seg[k].n)
            return d->seg[k].at + (s - d->seg[k].off);
    return -1;
}

static void kill_range(struct fr_dst *d, int64_t off, int64_t n) {
    float *w = d->m->params.data, *m = d->m->params.mask;
    int64_t at = compact_of(d, off);
    for (int64_t j = 0; j < n; j++) {
        w[off + j] = 0.0f;
        m[off + j] = 0.0f;
        if (at >= 0) d->dead[at + j] = 1;
    }
}

/* Masks channel c of layer l for good: filter, batch-norm weight and bias,
 * the consumer's input slice. */
static void remove_channel(struct fr_dst *d, int l, int64_t c) {
    const struct fr_channel_layer *L = &d->L[l];
    kill_range(d, L->w->offset + c * L->filter, L->filter);
    kill_range(d, L->bn[0]->offset + c, 1);
    kill_range(d, L->bn[1]->offset + c, 1);
    for (int64_t o = 0; o < L->next_out; o++)
        kill_range(d, L->next->offset + (o * L->C + c) * L->next_k2, L->next_k2);
    d->alive[l][c] = 0;
}

/* (Re)marks the dead entries from the alive flags (after a resume). */
static void mark_dead(struct fr_dst *d) {
    memset(d->dead, 0, (size_t)d->N);
    for (int l = 0; l < d->nl; l++)
        for (int64_t c = 0; c < d->L[l].C; c++)
            if (!d->alive[l][c]) remove_channel(d, l, c);
}

struct chan {
    double score;
    int l;
    int64_t c;
};

static int chan_cmp(const void *a, const void *b) {
    const struct chan *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? -1 : 1;
    if (x->l != y->l) return x->l < y->l ? -1 : 1;
    return x->c < y->c ? -1 : (x->c > y->c);
}

static int remove_channels(struct fr_dst *d, int64_t t) {
    const int64_t Tg = gmp_steps(&d->c, d->total);
    const double Sc = d->c.channel_sparsity;
    double u = (double)t / (double)Tg;
    if (u > 1) u = 1;
    const double S = Sc * (1 - pow(1 - u, 3));
    const int64_t want = (int64_t)floor(S * (double)d->C0 + 1e-9);
    int64_t todo = want - d->counters[C_REMOVED];
    if (todo <= 0) return 0;
    struct chan *ch = malloc((size_t)d->C0 * sizeof *ch);
    if (!ch) return fr_error(FR_ENOMEM, "dst: out of memory");
    int64_t n = 0, have[FR_MODEL_MAX_WIDTHS] = {0}, floor_l[FR_MODEL_MAX_WIDTHS];
    for (int l = 0; l < d->nl; l++) {
        floor_l[l] = (int64_t)floor((double)d->L[l].C * (1 - Sc) * d->c.beta);
        if (floor_l[l] < 1) floor_l[l] = 1;
        for (int64_t c = 0; c < d->L[l].C; c++)
            if (d->alive[l][c]) {
                ch[n++] = (struct chan){umm(d, l, c), l, c};
                have[l]++;
            }
    }
    qsort(ch, (size_t)n, sizeof *ch, chan_cmp);
    for (int64_t i = 0; i < n && todo > 0; i++) {
        int l = ch[i].l;
        if (have[l] <= floor_l[l]) continue; /* the layer's floor */
        remove_channel(d, l, ch[i].c);
        have[l]--;
        todo--;
        d->counters[C_REMOVED]++;
    }
    free(ch);
    d->counters[C_REMOVALS]++;
    return 0;
}

const uint8_t *const *fr_dst_alive(const struct fr_dst *d, int *nlayers) {
    *nlayers = d->nl;
    return d->nl ? (const uint8_t *const *)d->alive : NULL;
}

int64_t fr_dst_channels_alive(const struct fr_dst *d, int64_t *total) {
    if (total) *total = d->C0;
    return d->C0 - d->counters[C_REMOVED];
}

/* ---- the run ---- */

void fr_dst_after_backward(struct fr_dst *d, int64_t step) {
    d->have_g = 0;
    if (d->c.method == FR_DST_STATIC || (step + 1) % d->c.update_every != 0) return;
    for (int k = 0; k < d->nseg; k++) {
        const struct seg *s = &d->seg[k];
        memcpy(d->g + s->at, d->m->params.grad + s->off, (size_t)s->n * sizeof *d->g);
    }
    d->have_g = 1;
}

int fr_dst_after_step(struct fr_dst *d, int64_t t) {
    const struct fr_dst_config *c = &d->c;
    if (c->channel_sparsity > 0 && d->nl > 0) {
        const int64_t Tg = gmp_steps(c, d->total);
        const int64_t every = channel_every(c), off = c->update_every / 2;
        if ((t < Tg && t > off && (t - off) % every == 0) || t == Tg) {
            int rc = remove_channels(d, t);
            if (rc) return rc;
        }
    }
    if ((c->method == FR_DST_MEST || c->method == FR_DST_CHASE) && t >= d->total &&
        t % c->update_every != 0) {
        prune_to(d, d->K); /* the run ends at K, whatever the schedule's last update left */
        settle(d);
    }
    if (c->method == FR_DST_STATIC || t % c->update_every != 0) return 0;
    const double Tu = update_end(c) * (double)d->total;
    switch (c->method) {
    case FR_DST_SET:
    case FR_DST_RIGL:
        if ((double)t >= Tu) return 0;
        update_layerwise(d, t);
        break;
    case FR_DST_MEST:
        if ((double)t >= Tu && t - c->update_every >= Tu) { /* past its last update */
            prune_to(d, d->K);                              /* (a no-op once back at K) */
            return 0;
        }
        update_mest(d, t);
        break;
    case FR_DST_CHASE:
        if ((double)t < Tu)
            update_mest(d, t);
        else
            update_swap(d, t);
        break;
    default:
        return 0;
    }
    settle(d);
    d->have_g = 0;
    d->counters[C_UPDATES]++;
    return 0;
}

/* ---- set-up ---- */

/* ERK densities (Evci et al.): d_l proportional to sum(shape)/prod(shape),
 * scaled so the kept total is d N, with the layers that would exceed 1 made
 * dense and the rest rescaled. */
static void erk_densities(const struct fr_dst *d, double *dens) {
    const struct fr_params *p = &d->m->params;
    int dense[256] = {0};
    for (;;) {
        double fixed = 0, denom = 0;
        for (int k = 0; k < d->nseg; k++) {
            const struct fr_tensor *t = p->items[d->seg[k].param].t;
            double sum = 0;
            for (int j = 0; j < t->ndim; j++)
                sum += (double)t->ne[j];
            dens[k] = sum / (double)d->seg[k].n; /* raw */
            if (dense[k])
                fixed += (double)d->seg[k].n;
            else
                denom += dens[k] * (double)d->seg[k].n;
        }
        double eps = denom > 0 ? (d->c.density * (double)d->N - fixed) / denom : 0;
        int worst = -1;
        for (int k = 0; k < d->nseg; k++)
            if (!dense[k] && dens[k] * eps > 1 && (worst < 0 || dens[k] > dens[worst])) worst = k;
        if (worst < 0) {
            for (int k = 0; k < d->nseg; k++)
                dens[k] = dense[k] ? 1.0 : dens[k] * eps;
            return;
        }
        dense[worst] = 1;
    }
}

void fr_dst_free(struct fr_dst *d) {
    if (!d) return;
    free(d->seg);
    free(d->score);
    free(d->sel);
    free(d->g);
    free(d->dead);
    free(d->dropped);
    free(d->alive_all);
    free(d);
}

struct fr_dst *fr_dst_new(struct fr_model *m, const struct fr_dst_config *c, int64_t total) {
    if (fr_dst_config_check(c, total)) return NULL;
    struct fr_params *p = &m->params;
    if (p->mask) {
        fr_error(FR_EINVAL, "dst: the model already has a keep-mask; dynamic sparse training "
                            "starts from a dense model and owns the mask");
        return NULL;
    }
    struct fr_dst *d = calloc(1, sizeof *d);
    int *sel = calloc((size_t)p->count, sizeof *sel);
    if (!d || !sel) goto oom;
    d->c = *c;
    d->m = m;
    d->total = total;
    fr_rng_seed(&d->rng, c->seed ^ 0x445354ULL);
    if (fr_prune_scope(p, NULL, NULL, sel)) goto fail;
    for (int i = 0; i < p->count; i++)
        d->nseg += sel[i] != 0;
    if (d->nseg > 256) {
        fr_error(FR_EINVAL, "dst: %d prunable tensors (at most 256)", d->nseg);
        goto fail;
    }
    if (!(d->seg = calloc((size_t)d->nseg, sizeof *d->seg))) goto oom;
    for (int i = 0, k = 0; i < p->count; i++)
        if (sel[i]) {
            struct seg *s = &d->seg[k++];
            s->param = i;
            s->off = p->items[i].offset;
            s->n = fr_nelem(p->items[i].t);
            s->at = d->N;
            d->N += s->n;
        }
    free(sel);
    sel = NULL;
    if (!(d->score = malloc((size_t)d->N * sizeof *d->score)) ||
        !(d->sel = malloc((size_t)d->N * sizeof *d->sel)) ||
        !(d->g = calloc((size_t)d->N, sizeof *d->g)) || !(d->dead = calloc((size_t)d->N, 1)) ||
        !(d->dropped = calloc((size_t)d->N, 1)))
        goto oom;
    /* channels (Chase) */
    if (c->channel_sparsity > 0) {
        d->nl = fr_model_channels(m, d->L, FR_MODEL_MAX_WIDTHS);
        if (d->nl < 0) goto fail;
        if (d->nl == 0) {
            fr_error(FR_EINVAL,
                     "dst: model '%s' has no prunable channel layers for channel sparsity %g "
                     "(resnet20 and vgg-small have)",
                     m->arch, c->channel_sparsity);
            goto fail;
        }
        for (int l = 0; l < d->nl; l++)
            d->C0 += d->L[l].C;
        if (!(d->alive_all = malloc((size_t)d->C0))) goto oom;
        memset(d->alive_all, 1, (size_t)d->C0);
        for (int l = 0, at = 0; l < d->nl; at += (int)d->L[l].C, l++)
            d->alive[l] = d->alive_all + at;
    }
    /* the initial mask: exactly round(d_l N_l) random entries per tensor */
    double dens[256];
    if (c->erk)
        erk_densities(d, dens);
    else
        for (int k = 0; k < d->nseg; k++)
            dens[k] = c->density;
    if (fr_params_mask_init(p)) goto fail;
    struct fr_rng init;
    fr_rng_seed(&init, c->seed);
    for (int k = 0; k < d->nseg; k++) {
        struct seg *s = &d->seg[k];
        int64_t keep = (int64_t)llround(dens[k] * (double)s->n);
        if (keep < 1) keep = 1;
        if (keep > s->n) keep = s->n;
        s->target = keep;
        d->K += keep;
        float *sc = d->score + s->at;
        for (int64_t j = 0; j < s->n; j++)
            sc[j] = (float)fr_rng_uniform(&init);
        fr_prune_lowest(sc, s->n, s->n - keep, mptr(d, s));
    }
    fr_params_apply_mask(p);
    return d;
oom:
    fr_error(FR_ENOMEM, "dst: out of memory");
fail:
    free(sel);
    if (p->mask) { /* leave the model as it came */
        free(p->mask);
        p->mask = NULL;
    }
    fr_dst_free(d);
    return NULL;
}

/* ---- resume ---- */

int fr_dst_blobs(struct fr_dst *d, struct fr_ckpt_blob *b, int cap) {
    int need = d->nl ? 4 : 3;
    if (cap < need) return fr_error(FR_EINVAL, "dst: no room for the run state");
    b[0] = (struct fr_ckpt_blob){"__dst__.mask", FR_F32, d->m->params.mask, d->m->params.n, 0, 0};
    b[1] = (struct fr_ckpt_blob){"__dst__.counters", FR_I64, d->counters, C_N, 0, 0};
    b[2] = (struct fr_ckpt_blob){"__dst__.rng", FR_U8, d->rng.s, (int64_t)sizeof d->rng.s, 0, 0};
    if (d->nl) b[3] = (struct fr_ckpt_blob){"__dst__.alive", FR_U8, d->alive_all, d->C0, 0, 0};
    return need;
}

int fr_dst_resumed(struct fr_dst *d) {
    const float *m = d->m->params.mask;
    for (int64_t i = 0; i < d->m->params.n; i++)
        if (m[i] != 0.0f && m[i] != 1.0f)
            return fr_error(FR_EFORMAT, "resume: the DST mask holds %g (not 0 or 1)", m[i]);
    int64_t removed = 0;
    for (int64_t i = 0; i < d->C0; i++) {
        if (d->alive_all[i] > 1)
            return fr_error(FR_EFORMAT, "resume: the DST channel flags are not 0 or 1");
        removed += !d->alive_all[i];
    }
    if (removed != d->counters[C_REMOVED] || d->counters[C_UPDATES] < 0)
        return fr_error(FR_EFORMAT, "resume: the DST counters do not match its channel flags");
    if (d->nl) mark_dead(d);
    fr_params_apply_mask(&d->m->params);
    return 0;
}

/* ---- analysis ---- */

int fr_dst_dead_channels(const struct fr_model *m, uint8_t **alive) {
    struct fr_channel_layer L[FR_MODEL_MAX_WIDTHS];
    int nl = fr_model_channels(m, L, FR_MODEL_MAX_WIDTHS);
    if (nl <= 0 || !m->params.mask) return nl < 0 ? nl : 0;
    for (int l = 0; l < nl; l++) {
        if (!(alive[l] = malloc((size_t)L[l].C))) {
            for (int j = 0; j < l; j++)
                free(alive[j]);
            return fr_error(FR_ENOMEM, "dst: out of memory");
        }
        for (int64_t c = 0; c < L[l].C; c++) {
            /* a channel influences nothing when its consumer's slice is empty */
            int any = 0;
            for (int64_t o = 0; o < L[l].next_out && !any; o++) {
                const float *mk =
                    m->params.mask + L[l].next->offset + (o * L[l].C + c) * L[l].next_k2;
                for (int64_t j = 0; j < L[l].next_k2; j++)
                    any |= mk[j] != 0.0f;
            }
            alive[l][c] = (uint8_t)any;
        }
    }
    return nl;
}

int fr_dst_channel_density(const struct fr_model *m, double ratio, double **dens, int **layer,
                           int64_t *n, int64_t *amenable) {
    const struct fr_params *p = &m->params;
    *dens = NULL;
    *layer = NULL;
    *n = *amenable = 0;
    if (!p->mask) return fr_error(FR_EINVAL, "channel density: the model has no keep-mask");
    int *sel = calloc((size_t)p->count, sizeof *sel);
    if (!sel) return fr_error(FR_ENOMEM, "channel density: out of memory");
    int rc = fr_prune_scope(p, NULL, NULL, sel);
    int64_t total = 0;
    for (int i = 0; !rc && i < p->count; i++)
        if (sel[i] && p->items[i].t->ndim >= 2) total += p->items[i].t->ne[p->items[i].t->ndim - 1];
    double *dv = rc ? NULL : malloc((size_t)(total + 1) * sizeof *dv);
    int *lv = rc ? NULL : malloc((size_t)(total + 1) * sizeof *lv);
    if (!rc && (!dv || !lv)) rc = fr_error(FR_ENOMEM, "channel density: out of memory");
    int64_t k = 0;
    for (int i = 0; !rc && i < p->count; i++) {
        const struct fr_tensor *t = p->items[i].t;
        if (!sel[i] || t->ndim < 2) continue;
        int64_t C = t->ne[t->ndim - 1], f = fr_nelem(t) / C, kept_all = 0, k0 = k;
        for (int64_t c = 0; c < C; c++) {
            const float *mk = p->mask + p->items[i].offset + c * f;
            int64_t kept = 0;
            for (int64_t j = 0; j < f; j++)
                kept += mk[j] != 0.0f;
            kept_all += kept;
            dv[k] = (double)kept / (double)f;
            lv[k++] = i;
        }
        double mean = (double)kept_all / (double)(C * f);
        for (int64_t j = k0; j < k; j++)
            *amenable += dv[j] < ratio * mean;
    }
    free(sel);
    if (rc) {
        free(dv);
        free(lv);
        return rc;
    }
    *dens = dv;
    *layer = lv;
    *n = k;
    return 0;
}

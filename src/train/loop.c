/* loop.c: the one training loop (train.h, fr_fit). Every trainer in
 * frugal is this loop plus hooks that say where batches come from and what
 * the loss is; it owns what they share: the optimizer and schedule
 * (fr_optim_build), the step (zero grads, loss, backward, a finite check,
 * clip, update, arena reset), epoch counting, early stopping on a
 * validation score, and checkpoints that resume bit for bit.
 *
 * Resume is exact because the loop saves everything a step depends on:
 * the slab (buffers such as BN statistics included), the optimizer moments
 * and step, its counters, and the caller's blobs (RNG and data-loader
 * states, curves). The schedule is a pure function of the step. Files are
 * written atomically (fr_params_save), so a kill leaves the last one whole,
 * and the checkpoint path is locked for the whole run (fr_ckpt_lock), so a
 * second run writing the same path fails at once instead of both runs
 * overwriting each other's checkpoints.
 */
#include "frugal/train.h"

#include "frugal/clock.h"
#include "frugal/dist.h"
#include "frugal/io.h"
#include "frugal/kernels.h"
#include "frugal/ops.h"
#include "frugal/status.h"
#include "frugal/tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOSS_WINDOW 50
#define MAX_BLOBS 16
#define FIT_FORMAT 1

enum { K_FORMAT, K_STEP, K_EPOCH, K_POS, K_BAD, K_N };
enum { S_BEST, S_N };

struct loop {
    const struct fr_fit_config *c;
    const struct fr_fit_hooks *h;
    struct fr_params *p;
    struct fr_optim opt;
    struct fr_fit_state st;
    int64_t counters[K_N];
    double scalars[S_N];
    double seconds; /* the run's wall time, saved apart: the one thing a resume cannot repeat */
    double t_call, seconds_before; /* this call's start; run time before it */
};

/* Prefixes the current error message (copied first: fr_error writes the
 * buffer fr_last_error returns). */
static int rewrap(int rc, const char *prefix) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", fr_last_error());
    return fr_error(rc, "%s%s", prefix, msg);
}

/* The loop's own blobs, then the caller's. Returns the count or < 0. */
static int all_blobs(struct loop *L, struct fr_ckpt_blob *b) {
    int64_t n = L->p->n;
    int k = 0;
    b[k++] = (struct fr_ckpt_blob){"__fit__.counters", FR_I64, L->counters, K_N, 0, 0};
    b[k++] = (struct fr_ckpt_blob){"__fit__.scalars", FR_F64, L->scalars, S_N, 0, 0};
    b[k++] = (struct fr_ckpt_blob){"__fit__.seconds", FR_F64, &L->seconds, 1, 0, 0};
    if (L->opt.m) b[k++] = (struct fr_ckpt_blob){"__optim__.m", FR_F32, L->opt.m, n, 0, 0};
    if (L->opt.v) b[k++] = (struct fr_ckpt_blob){"__optim__.v", FR_F32, L->opt.v, n, 0, 0};
    if (L->h->blobs) {
        int m = L->h->blobs(L->h->user, b + k, MAX_BLOBS - k);
        if (m < 0 || m > MAX_BLOBS - k)
            return fr_error(FR_EINVAL, "fit: the blobs hook returned %d (room for %d)", m,
                            MAX_BLOBS - k);
        k += m;
    }
    return k;
}

static double run_seconds(const struct loop *L) {
    return L->seconds_before + (fr_seconds() - L->t_call);
}

static int save(struct loop *L) {
    if (L->c->data_parallel && fr_dist_rank() != 0) return 0; /* rank 0 writes for all */
    struct fr_ckpt_blob b[MAX_BLOBS];
    L->counters[K_FORMAT] = FIT_FORMAT;
    L->counters[K_STEP] = L->st.step;
    L->counters[K_EPOCH] = L->st.epoch;
    L->counters[K_POS] = L->st.pos;
    L->counters[K_BAD] = L->st.bad_epochs;
    L->scalars[S_BEST] = L->st.best_score;
    L->seconds = run_seconds(L);
    int nb = all_blobs(L, b);
    if (nb < 0) return nb;
    struct fr_ckpt o = {L->c->meta_keys, L->c->meta_vals, L->c->nmeta, b, nb, FR_F32, 0, 0};
    return fr_params_save(L->p, L->c->ckpt, &o);
}

/* Loads c->ckpt after checking it was written by the same config. */
static int load(struct loop *L) {
    const struct fr_fit_config *c = L->c;
    struct fr_st_file *f = NULL;
    int rc = fr_st_open(c->ckpt, &f);
    if (rc) return rewrap(rc, "resume: ");
    for (int i = 0; i < c->nmeta && !rc; i++) {
        const char *have = fr_st_meta(f, c->meta_keys[i]);
        if (!have)
            rc =
                fr_error(FR_EFORMAT, "resume: %s is not a checkpoint of this kind of run (no '%s')",
                         c->ckpt, c->meta_keys[i]);
        else if (strcmp(have, c->meta_vals[i]) != 0)
            rc = fr_error(FR_EINVAL,
                          "resume: %s was written with %s=%s but this run has %s=%s; resume needs "
                          "the same config",
                          c->ckpt, c->meta_keys[i], have, c->meta_keys[i], c->meta_vals[i]);
    }
    fr_st_close(f);
    if (rc) return rc;
    struct fr_ckpt_blob b[MAX_BLOBS];
    int nb = all_blobs(L, b);
    if (nb < 0) return nb;
    struct fr_ckpt o = {NULL, NULL, 0, b, nb, FR_F32, 0, 0};
    if ((rc = fr_params_load(L->p, c->ckpt, &o))) return rewrap(rc, "resume: ");
    const int64_t *k = L->counters;
    if (k[K_FORMAT] != FIT_FORMAT || k[K_STEP] < 0 || k[K_EPOCH] < 0 || k[K_POS] < 0 ||
        k[K_BAD] < 0 || (c->epochs && k[K_EPOCH] > c->epochs) ||
        (c->steps && k[K_STEP] > c->steps) || !isfinite(L->seconds) || L->seconds < 0)
        return fr_error(FR_EFORMAT, "resume: %s has inconsistent run counters", c->ckpt);
    L->st.step = L->opt.step = k[K_STEP];
    L->st.epoch = k[K_EPOCH];
    L->st.pos = k[K_POS];
    L->st.bad_epochs = k[K_BAD];
    L->st.best_score = L->scalars[S_BEST];
    L->seconds_before = L->seconds;
    return 0;
}

static int check(const struct fr_fit_config *c, const struct fr_fit_hooks *h) {
    if (!h || !h->next || !h->loss)
        return fr_error(FR_EINVAL, "fit: the next and loss hooks are required");
    if (c->steps < 0 || c->epochs < 0 || (c->steps == 0 && c->epochs == 0))
        return fr_error(FR_EINVAL, "fit: no steps and no epochs to train");
    if (!(c->clip >= 0) || c->patience < 0 || c->ckpt_every < 0 || c->stop_after < 0 ||
        c->total < 0 || c->nmeta < 0)
        return fr_error(FR_EINVAL, "fit: negative clip, patience, checkpoint interval or stop");
    if (c->resume && !c->ckpt) return fr_error(FR_EINVAL, "fit: resume needs a checkpoint path");
    return 0;
}

/* Calls a hook; FR_FIT_STOP becomes a clean stop. Returns 0 to go on, 1 to
 * stop cleanly, < 0 for an error. */
static int hook_rc(int rc, struct fr_fit_result *res) {
    if (rc == FR_FIT_STOP) {
        res->stopped = 3;
        return 1;
    }
    return rc;
}

/* The moments of a run carried in (c->from) and out (c->to). */
static void moments_in(struct fr_optim *o, const struct fr_optim_state *s) {
    if (!s) return;
    size_t b = (size_t)o->p->n * sizeof(float);
    if (o->m && s->m) memcpy(o->m, s->m, b);
    if (o->v && s->v) memcpy(o->v, s->v, b);
    o->seen = s->steps;
}

static void moments_out(const struct fr_optim *o, struct fr_optim_state *s) {
    if (!s) return;
    size_t b = (size_t)o->p->n * sizeof(float);
    if (o->m && s->m) memcpy(s->m, o->m, b);
    if (o->v && s->v) memcpy(s->v, o->v, b);
    s->steps = o->seen + o->step;
}

/* ---- data parallel (fr_fit_config.data_parallel) ---- */

/* This rank's slice of a global batch along its last (sample) dimension. */
static struct fr_tensor *shard(struct fr_ctx *ctx, struct fr_tensor *t, int64_t lo, int64_t n) {
    return fr_slice(ctx, t, t->ndim - 1, lo, n);
}

/* The gradient all-reduce in buckets (fr_fit_config.bucket_bytes):
 * contiguous ranges of the slab, b[0] holding its end (the last layers,
 * whose gradients the backward pass finishes first). A bucket is started
 * when every parameter in it that needs a gradient has reported it final,
 * and buckets are started strictly in index order, so every rank starts
 * the same all-reduces in the same order whatever its timing. */
struct bucket {
    int64_t lo, hi;
    int pending, pending0; /* parameters not yet final; at the start of a step */
};

/* A parameter that gets a gradient: where its values start, their count,
 * its bucket, and whether it was reported final this step. */
struct grad_item {
    int64_t offset, n;
    int bucket, done;
    int unread; /* never reported in the first step: the loss does not read it */
};

struct buckets {
    int bn_rc;      /* the first failed batch-norm all-reduce (synchronised statistics) */
    double bn_secs; /* time in them */
    struct bucket *b;
    int n, next;             /* next: the first bucket not started this step */
    struct grad_item *items; /* by offset */
    int nitems;
    struct fr_params *p;
    int steps;    /* steps whose reports taught which parameters are unread */
    int reported; /* parameters reported final this step */
    float w;      /* this rank's share of the global batch */
    double secs;  /* time in MPI calls during the backward pass */
    int rc;
};

static int by_offset(const void *a, const void *b) {
    int64_t x = ((const struct grad_item *)a)->offset, y = ((const struct grad_item *)b)->offset;
    return (x > y) - (x < y);
}

static void buckets_free(struct buckets *B) {
    free(B->b);
    free(B->items);
    B->b = NULL, B->items = NULL;
}

/* Cuts the slab into buckets of at least `bytes` (at parameter
 * boundaries). 0 or FR_ENOMEM. */
static int buckets_build(struct buckets *B, struct fr_params *p, int64_t bytes) {
    memset(B, 0, sizeof *B);
    B->p = p;
    B->items = malloc(((size_t)p->count + 1) * sizeof *B->items);
    B->b = malloc(((size_t)p->count + 1) * sizeof *B->b);
    if (!B->items || !B->b) {
        buckets_free(B);
        return fr_error(FR_ENOMEM, "fit: out of memory");
    }
    int k = 0;
    for (int i = 0; i < p->count; i++)
        if (p->items[i].t->requires_grad && !(p->items[i].flags & FR_PARAM_BUFFER))
            B->items[k++] = (struct grad_item){p->items[i].offset, fr_nelem(p->items[i].t), 0, 0};
    B->nitems = k;
    qsort(B->items, (size_t)k, sizeof *B->items, by_offset);
    int64_t hi = p->n, per = bytes / (int64_t)sizeof(float);
    int pending = 0;
    for (int i = k; i-- > 0;) {
        pending++;
        B->items[i].bucket = B->n;
        if (hi - B->items[i].offset >= per || i == 0) {
            int64_t lo = i == 0 ? 0 : B->items[i].offset;
            B->b[B->n++] = (struct bucket){lo, hi, pending, pending};
            hi = lo, pending = 0;
        }
    }
    if (hi > 0) B->b[B->n++] = (struct bucket){0, hi, 0, 0}; /* no gradient in the slab */
    /* every bucket's request allocated now: a start cannot fail halfway */
    return fr_dist_reserve(B->n + 8);
}

/* After the first step: parameters the loss never read were never reported
 * (their buckets started only after the pass); from now on they count as
 * final from the start, so their buckets do not hold up the ones after
 * them. The tape is the same every step and on every rank. */
static void buckets_learn(struct buckets *B) {
    /* a step with no report at all (fr_backward_ready could not keep its
     * books) teaches nothing */
    if (B->steps != 0 || B->reported == 0) return;
    B->steps++;
    for (int i = 0; i < B->nitems; i++)
        if (!B->items[i].done) {
            B->items[i].unread = 1;
            B->b[B->items[i].bucket].pending0--;
        }
}

static void bucket_start(struct buckets *B, int i) {
    struct bucket *b = &B->b[i];
    float *g = B->p->grad;
    for (int64_t j = b->lo; j < b->hi; j++)
        g[j] *= B->w;
    /* started even after a failure, so the ranks' collectives stay matched */
    int rc = fr_dist_iallreduce_sum(g + b->lo, b->hi - b->lo);
    if (!B->rc) B->rc = rc;
}

/* fr_backward_ready's callback: the leaf's gradient is final. Leaves that
 * are not whole parameters of the slab are ignored (their parameters are
 * all-reduced after the backward pass). */
static void grad_ready(void *user, struct fr_tensor *leaf) {
    struct buckets *B = user;
    int64_t at = (const float *)leaf->data - B->p->data;
    int lo = 0, hi = B->nitems;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (B->items[mid].offset < at)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == B->nitems) return;
    struct grad_item *it = &B->items[lo];
    if (it->offset != at || it->n != fr_nelem(leaf) || it->done || it->unread) return;
    it->done = 1;
    B->reported++;
    B->b[it->bucket].pending--;
    double t0 = fr_seconds();
    int started = 0;
    while (B->next < B->n && B->b[B->next].pending == 0)
        bucket_start(B, B->next++), started = 1;
    if (!B->rc && (started || B->next > 0)) B->rc = fr_dist_progress();
    B->secs += fr_seconds() - t0;
}

/* fr_ctx_set_reduce's function: batch-norm statistics summed over the
 * ranks. */
static int bn_reduce(void *user, double *x, int64_t n) {
    struct buckets *B = user;
    double t0 = fr_seconds();
    int rc = fr_dist_allreduce_sum_f64(x, n); /* even after a failure: collectives stay matched */
    B->bn_secs += fr_seconds() - t0;
    if (!B->bn_rc) B->bn_rc = rc;
    return B->bn_rc;
}

/* One step's loss and gradients over all ranks: this rank's slice, its
 * gradients weighted by the slice's share of the global batch, then the
 * gradient slab (in buckets during the backward pass, or at once after it)
 * and the loss summed over the ranks. A global batch smaller than the rank
 * count (a last partial batch) would leave some slices empty: then every
 * rank computes the whole batch at weight 1/R, so the batch statistics and
 * the random draws are one process's on every rank. */
static int dp_step(struct loop *L, struct buckets *B, struct fr_ctx *ctx, struct fr_tensor *x,
                   struct fr_tensor *y, int64_t got, double *lv, struct fr_fit_result *res) {
    const struct fr_fit_hooks *h = L->h;
    struct fr_params *p = L->p;
    int64_t R = fr_dist_size(), r = fr_dist_rank();
    int64_t lo = got * r / R, hi = got * (r + 1) / R;
    double w = (double)(hi - lo) / (double)got;
    if (got < R) lo = 0, hi = got, w = 1.0 / (double)R;
    struct fr_tensor *xs = shard(ctx, x, lo, hi - lo), *ys = y ? shard(ctx, y, lo, hi - lo) : NULL;
    /* random ops draw the whole batch's numbers for this slice, and batch
     * norm sums its statistics over the ranks */
    int64_t b0 = fr_dist_bytes_reduced();
    B->bn_rc = 0, B->bn_secs = 0;
    fr_ctx_set_shard(ctx, lo, got);
    if (!L->c->local_bn) fr_ctx_set_reduce(ctx, bn_reduce, B);
    struct fr_tensor *loss = xs && (!y || ys) ? h->loss(h->user, ctx, xs, ys) : NULL;
    fr_ctx_set_shard(ctx, 0, 0);
    float wf = (float)w;
    if (B->b) {
        for (int i = 0; i < B->n; i++)
            B->b[i].pending = B->b[i].pending0;
        for (int i = 0; i < B->nitems; i++)
            B->items[i].done = 0;
        B->next = 0, B->w = wf, B->secs = 0, B->rc = 0, B->reported = 0;
    }
    int bad =
        !loss || (B->b ? fr_backward_ready(ctx, loss, grad_ready, B) : fr_backward(ctx, loss));
    fr_ctx_set_reduce(ctx, NULL, NULL);
    res->comm_seconds += B->bn_secs;
    if (B->bn_rc) {
        if (B->b) fr_dist_wait();
        return B->bn_rc;
    }
    if (bad) {
        if (B->b) fr_dist_wait();
        return fr_last_error()[0] ? FR_EINVAL : fr_error(FR_EINVAL, "fit: the loss failed");
    }
    double part = w * fr_get(loss, 0);
    double t0 = fr_seconds();
    int rc = 0;
    if (B->b) {
        while (B->next < B->n) /* parameters the loss did not reach, and the rest */
            bucket_start(B, B->next++);
        buckets_learn(B);
        int w2 = fr_dist_wait();
        rc = B->rc ? B->rc : w2;
        res->comm_seconds += B->secs;
    } else {
        for (int64_t i = 0; i < p->n; i++)
            p->grad[i] *= wf;
        rc = fr_dist_allreduce_sum(p->grad, p->n);
    }
    if (!rc) rc = fr_dist_allreduce_sum_f64(&part, 1);
    res->comm_seconds += fr_seconds() - t0;
    res->comm_bytes += fr_dist_bytes_reduced() - b0;
    *lv = part;
    return rc;
}

/* Buffers (batch-norm running statistics) averaged over the ranks after a
 * step, so every rank keeps the same model. */
static int dp_buffers(struct fr_params *p, struct fr_fit_result *res) {
    double t0 = fr_seconds();
    int64_t b0 = fr_dist_bytes_reduced();
    float R = (float)fr_dist_size();
    for (int i = 0; i < p->count; i++) {
        if (!(p->items[i].flags & FR_PARAM_BUFFER)) continue;
        float *v = p->data + p->items[i].offset;
        int64_t n = fr_nelem(p->items[i].t);
        int rc = fr_dist_allreduce_sum(v, n);
        if (rc) return rc;
        for (int64_t k = 0; k < n; k++)
            v[k] /= R; /* a sum of R equal values divides back exactly */
    }
    res->comm_seconds += fr_seconds() - t0;
    res->comm_bytes += fr_dist_bytes_reduced() - b0;
    return 0;
}

int fr_precision_begin(const char *precision, int *prev) {
    *prev = (int)fr_gemm_precision_get();
    if (!precision || !strcmp(precision, "f32")) return fr_gemm_precision_set(FR_GEMM_F32);
    if (strcmp(precision, "bf16") != 0)
        return fr_error(FR_EINVAL, "unknown precision '%s' (known: f32, bf16)", precision);
    return fr_gemm_precision_set(FR_GEMM_BF16);
}

void fr_precision_end(int prev) {
    fr_gemm_precision_set((enum fr_gemm_precision)prev);
}

int fr_fit(struct fr_params *p, const struct fr_fit_config *c, const struct fr_fit_hooks *h,
           struct fr_fit_result *res) {
    memset(res, 0, sizeof *res);
    res->best_score = -INFINITY;
    res->last_loss = NAN;
    int rc = check(c, h), lock = -1;
    if (rc) return rc;
    int writer = !c->data_parallel || fr_dist_rank() == 0;
    if (c->ckpt && writer && (rc = fr_ckpt_lock(c->ckpt, &lock))) return rewrap(rc, "fit: ");
    struct loop L;
    memset(&L, 0, sizeof L);
    L.c = c, L.h = h, L.p = p;
    L.st.best_score = -INFINITY;
    L.st.total = c->total ? c->total : c->steps;
    struct fr_schedule sch;
    if ((rc = fr_optim_build(&L.opt, &sch, p, &c->optim))) {
        fr_ckpt_unlock(c->ckpt, lock);
        return rc;
    }
    moments_in(&L.opt, c->from);
    struct fr_ctx *ctx = c->ctx, *own = NULL;
    if (!ctx && !(ctx = own = fr_ctx_new(64 << 20))) {
        fr_optim_free(&L.opt);
        fr_ckpt_unlock(c->ckpt, lock);
        return fr_error(FR_ENOMEM, "fit: out of memory");
    }
    L.t_call = fr_seconds();
    int have = c->resume && access(c->ckpt, F_OK) == 0;
    if (c->data_parallel && fr_dist_size() > 1 && c->resume) {
        /* every rank resumes, or none: a rank that cannot see the
         * checkpoint would start again from step 0 beside the others */
        double seen = have;
        if ((rc = fr_dist_allreduce_sum_f64(&seen, 1))) goto done;
        if (seen != 0 && seen != fr_dist_size()) {
            rc = fr_error(FR_EIO,
                          "resume: %s is visible to %d of %d ranks (rank %d %s it); give a path "
                          "every machine sees",
                          c->ckpt, (int)seen, fr_dist_size(), fr_dist_rank(),
                          have ? "sees" : "does not see");
            goto done;
        }
    }
    if (have) {
        if ((rc = load(&L))) goto done;
        res->resumed = 1;
        res->resumed_step = L.st.step;
        if (h->resumed && (rc = hook_rc(h->resumed(h->user, &L.st), res))) goto done;
    }
    double window[LOSS_WINDOW];
    int64_t this_call = 0, before_done = -1;
    int dp = c->data_parallel && fr_dist_size() > 1;
    struct buckets B = {0};
    int64_t bucket = c->bucket_bytes;
    if (bucket == 0) bucket = fr_dist_local_size() < fr_dist_size() ? FR_FIT_BUCKET_DEFAULT : -1;
    if (dp && bucket > 0 && (rc = buckets_build(&B, p, bucket))) goto done;
    fr_set_training(ctx, 1);
    for (;;) {
        if (c->steps && L.st.step >= c->steps) break;
        if (c->epochs && L.st.epoch >= c->epochs) break;
        L.st.seconds = run_seconds(&L);
        if (h->before_step && before_done != L.st.step) {
            before_done = L.st.step;
            if ((rc = hook_rc(h->before_step(h->user, &L.st), res))) break;
        }
        struct fr_tensor *x = NULL, *y = NULL;
        int64_t got = h->next(h->user, ctx, &x, &y);
        if (got < 0) {
            rc = (int)got;
            break;
        }
        if (got == 0) { /* the source finished an epoch */
            L.st.epoch++;
            L.st.pos = 0;
            L.st.seconds = run_seconds(&L);
            double score = NAN;
            if (h->epoch_end && (rc = hook_rc(h->epoch_end(h->user, &L.st, &score), res))) break;
            int stop = 0;
            if (isfinite(score)) {
                if (score > L.st.best_score) {
                    L.st.best_score = score;
                    L.st.bad_epochs = 0;
                } else {
                    L.st.bad_epochs++;
                }
                if (c->patience > 0 && L.st.bad_epochs >= c->patience) stop = 1;
            }
            if (c->ckpt && c->ckpt_epoch_end && (rc = save(&L))) break;
            if (stop) {
                res->stopped = 2;
                break;
            }
            continue;
        }
        fr_params_zero_grad(p);
        double lv = 0;
        if (dp) {
            if ((rc = dp_step(&L, &B, ctx, x, y, got, &lv, res))) break;
        } else {
            struct fr_tensor *loss = h->loss(h->user, ctx, x, y);
            if (!loss || fr_backward(ctx, loss)) {
                rc = fr_last_error()[0] ? FR_EINVAL : fr_error(FR_EINVAL, "fit: the loss failed");
                break;
            }
            lv = fr_get(loss, 0);
        }
        if (!isfinite(lv)) {
            rc = fr_error(FR_EINVAL, "loss is %g at step %lld (learning rate %g too high?)", lv,
                          (long long)L.st.step + 1, c->optim.lr);
            break;
        }
        if (h->after_backward && (rc = hook_rc(h->after_backward(h->user, &L.st), res))) break;
        if (c->clip > 0) fr_clip_grad_norm(p, c->clip);
        double lr = fr_schedule_lr(&sch, L.opt.step);
        fr_optim_step(&L.opt, lr);
        if (dp && (rc = dp_buffers(p, res))) break;
        fr_ctx_reset(ctx);
        window[this_call % LOSS_WINDOW] = lv;
        this_call++;
        L.st.step = L.opt.step;
        L.st.pos++;
        L.st.batch_samples = got;
        L.st.seconds = run_seconds(&L);
        res->samples += got;
        if (h->after_step && (rc = hook_rc(h->after_step(h->user, &L.st, lv, lr), res))) break;
        if (c->ckpt && c->ckpt_every && L.st.step % c->ckpt_every == 0 && (rc = save(&L))) break;
        if (c->stop_after && this_call >= c->stop_after) {
            res->stopped = 1;
            if (c->ckpt && c->ckpt_on_stop) rc = save(&L);
            break;
        }
    }
    if (rc == 1) rc = 0; /* a hook's clean stop */
    int64_t w = this_call < LOSS_WINDOW ? this_call : LOSS_WINDOW;
    double s = 0;
    for (int64_t i = 0; i < w; i++)
        s += window[i];
    res->last_loss = w ? s / (double)w : NAN;
    buckets_free(&B);
done:
    if (!rc) moments_out(&L.opt, c->to);
    fr_ctx_reset(ctx);
    res->steps = L.st.step;
    res->epochs = L.st.epoch;
    res->best_score = L.st.best_score;
    res->seconds = run_seconds(&L);
    fr_optim_free(&L.opt);
    fr_ctx_free(own);
    if (writer) fr_ckpt_unlock(c->ckpt, lock);
    return rc;
}

/* test_dist.c: data-parallel training (fr_fit_config.data_parallel over
 * dist.h's ranks) gives the answer one process gives. Run as one process
 * and under `mpirun -np 2` and `-np 4` (tests/CMakeLists.txt): each rank
 * first trains the model alone on the whole of every batch (the
 * reference), then data parallel from the same start, and checks
 *   - per-step losses agree to 1e-5 relative over 50 steps,
 *   - the final weights agree to 1e-4,
 *   - every rank holds the same weights, bit for bit,
 *   - the gradient all-reduce in buckets started during the backward pass
 *     gives what one all-reduce after it gives (bit for bit on 2 ranks),
 *   - batches that do not divide by the rank count (batch 30), and one
 *     smaller than the rank count (the last batch of 3 samples), work,
 *   - only rank 0 writes the checkpoint, and a resume from it under data
 *     parallelism continues the reference run's curve;
 *   - soup ingredients trained over the ranks (fr_ingredients_train) are
 *     bit-identical to those trained in one process, on every rank;
 *   - batch norm in the model: statistics summed over the ranks give one
 *     process's curve and weights; per-rank statistics (local_bn) do not,
 *   - dynamic sparse training (RigL and MEST) data parallel: every rank
 *     ends with the same keep-mask and weights, bit for bit, holding
 *     exactly K kept weights.
 * A small MLP (20 -> 16 -> 3, ReLU, dropout 0.3: each rank draws the
 * whole batch's masks for its slice) on a fixed synthetic problem, AdamW
 * with clipping and a cosine schedule. Without MPI, or as one process, it
 * checks the same things for one rank. */
#include "check.h"
#include "frugal/dist.h"
#include "frugal/methods/dst.h"
#include "frugal/methods/soup.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define NIN 20
#define NCLS 3
#define NS 1473 /* samples: 49 batches of 30 and one of 3 */
#define BATCH 30
#define STEPS 50

static float g_x[NS][NIN];
static int32_t g_y[NS];
/* the all-reduce bucket of the data-parallel runs: 64 bytes puts every
 * parameter in its own bucket (4 all-reduces started during backward) */
static int64_t g_bucket = 64;
/* batch norm after fc1: 1 synchronised over the ranks, 2 per rank */
static int g_bn = 0;
/* 1: a layer the loss never reads, at the slab's end (its bucket is the
 * first in line: the buckets after it must not wait for it) */
static int g_unread = 0;

struct run {
    struct fr_linear fc1, fc2, spare;
    struct fr_bn bn;
    struct fr_rng drop; /* dropout's stream: the same on every rank */
    int64_t pos;
    double loss[STEPS + 8];
    int64_t nloss;
};

/* The next batch of the fixed data from *pos (0 at an epoch's end, which
 * rewinds): x {NIN, n}, or {NIN, 1, 1, n} as images (the model zoo's). */
static int64_t take_batch(struct fr_ctx *ctx, int64_t *pos, int images, struct fr_tensor **x,
                          struct fr_tensor **y) {
    if (*pos >= NS) {
        *pos = 0;
        return 0;
    }
    int64_t n = NS - *pos < BATCH ? NS - *pos : BATCH;
    *x = images ? fr_new(ctx, FR_F32, 4, (int64_t[]){NIN, 1, 1, n}) : fr_new2(ctx, FR_F32, NIN, n);
    *y = fr_new1(ctx, FR_I32, n);
    if (!*x || !*y) return FR_ENOMEM;
    memcpy((*x)->data, g_x[*pos], sizeof(float) * NIN * (size_t)n);
    memcpy((*y)->data, g_y + *pos, sizeof(int32_t) * (size_t)n);
    *pos += n;
    return n;
}

static int64_t next(void *user, struct fr_ctx *ctx, struct fr_tensor **x, struct fr_tensor **y) {
    struct run *r = user;
    return take_batch(ctx, &r->pos, 0, x, y);
}

static struct fr_tensor *loss(void *user, struct fr_ctx *ctx, struct fr_tensor *x,
                              struct fr_tensor *y) {
    struct run *r = user;
    struct fr_tensor *h = fr_linear_forward(ctx, &r->fc1, x);
    if (g_bn) h = fr_bn_forward(ctx, &r->bn, h);
    h = fr_dropout(ctx, fr_relu(ctx, h), 0.3f, &r->drop);
    return fr_cross_entropy(ctx, fr_linear_forward(ctx, &r->fc2, h), y, 0);
}

static int after(void *user, const struct fr_fit_state *st, double l, double lr) {
    (void)st, (void)lr;
    struct run *r = user;
    if (r->nloss < STEPS + 8) r->loss[r->nloss++] = l;
    return 0;
}

/* the data position is run state: saved with checkpoints */
static int blobs(void *user, struct fr_ckpt_blob *b, int cap) {
    struct run *r = user;
    if (cap < 2) return 0;
    b[0] = (struct fr_ckpt_blob){"__state__.pos", FR_U8, &r->pos, sizeof r->pos, 0, 0};
    b[1] = (struct fr_ckpt_blob){"__state__.drop", FR_U8, &r->drop, sizeof r->drop, 0, 0};
    return 2;
}

/* A fresh model (same seed on every rank) and the loop over `steps` steps. */
static int train(struct fr_params *p, struct run *r, int dp, int64_t steps, const char *ckpt,
                 int resume, int64_t stop_after, struct fr_fit_result *res) {
    fr_params_init(p);
    memset(r, 0, sizeof *r);
    /* no bias before batch norm: its gradient is 0 up to rounding, which
     * AdamW would scale up into steps of rounding noise */
    int rc = fr_linear_declare(p, &r->fc1, "fc1", NIN, 16, !g_bn);
    if (!rc && g_bn) rc = fr_bn_declare(p, &r->bn, "bn", 16);
    if (!rc) rc = fr_linear_declare(p, &r->fc2, "fc2", 16, NCLS, 1);
    if (!rc && g_unread) rc = fr_linear_declare(p, &r->spare, "spare", 16, 16, 1);
    if (!rc) rc = fr_params_alloc(p);
    if (rc) return rc;
    struct fr_rng rng;
    fr_rng_seed(&rng, 5);
    fr_linear_init(&r->fc1, &rng);
    fr_linear_init(&r->fc2, &rng);
    if (g_bn) fr_bn_init(&r->bn);
    if (g_unread) fr_linear_init(&r->spare, &rng);
    fr_rng_seed(&r->drop, 99);
    struct fr_fit_config c = {
        .optim =
            {.opt = "adamw", .lr = 3e-3, .wd = 0.01, .schedule = "cosine", .total_steps = STEPS},
        .steps = steps,
        .clip = 1.0,
        .ckpt = ckpt,
        .ckpt_every = ckpt ? 10 : 0,
        .resume = resume,
        .stop_after = stop_after,
        .data_parallel = dp,
        .bucket_bytes = g_bucket,
        .local_bn = g_bn == 2,
    };
    struct fr_fit_hooks h = {
        .user = r, .next = next, .loss = loss, .after_step = after, .blobs = blobs};
    return fr_fit(p, &c, &h, res);
}

/* ---- DST over the ranks: an mlp on the same data, the DST hooks ---- */

struct dst_run {
    struct fr_model *m;
    struct fr_dst *d;
    int64_t pos;
};

static int64_t dst_next(void *user, struct fr_ctx *ctx, struct fr_tensor **x,
                        struct fr_tensor **y) {
    struct dst_run *r = user;
    return take_batch(ctx, &r->pos, 1, x, y);
}

static struct fr_tensor *dst_loss(void *user, struct fr_ctx *ctx, struct fr_tensor *x,
                                  struct fr_tensor *y) {
    struct dst_run *r = user;
    return fr_cross_entropy(ctx, r->m->forward(r->m, ctx, x), y, 0);
}

static int dst_backward(void *user, const struct fr_fit_state *st) {
    struct dst_run *r = user;
    fr_dst_after_backward(r->d, st->step);
    return 0;
}

static int dst_step(void *user, const struct fr_fit_state *st, double l, double lr) {
    (void)l, (void)lr;
    struct dst_run *r = user;
    return fr_dst_after_step(r->d, st->step);
}

static void test_dst_ranks(enum fr_dst_method meth, int me, int R) {
    struct fr_model_config mc = {.n_classes = NCLS, .in_channels = 1, .in_h = 1, .in_w = NIN};
    struct dst_run r = {0};
    r.m = fr_model_new("mlp", &mc, 3);
    struct fr_dst_config dc;
    fr_dst_config_defaults(&dc);
    dc.method = meth;
    dc.density = 0.3;
    dc.update_every = 5;
    r.d = r.m ? fr_dst_new(r.m, &dc, STEPS) : NULL;
    CHECK(r.d != NULL, "dst: %s", fr_last_error());
    if (!r.d) {
        fr_model_free(r.m);
        return;
    }
    struct fr_fit_config c = {
        .optim =
            {.opt = "adamw", .lr = 3e-3, .wd = 0.01, .schedule = "cosine", .total_steps = STEPS},
        .steps = STEPS,
        .data_parallel = 1,
    };
    struct fr_fit_hooks h = {.user = &r,
                             .next = dst_next,
                             .loss = dst_loss,
                             .after_backward = dst_backward,
                             .after_step = dst_step};
    struct fr_fit_result res;
    CHECK(fr_fit(&r.m->params, &c, &h, &res) == 0, "dst fit: %s", fr_last_error());
    CHECK(fr_dst_updates(r.d) >= 5 && fr_dst_nnz(r.d) == fr_dst_target(r.d),
          "rank %d: %lld updates, %lld kept of %lld", me, (long long)fr_dst_updates(r.d),
          (long long)fr_dst_nnz(r.d), (long long)fr_dst_target(r.d));
    /* rank 0's mask and weights against this rank's, bit for bit */
    const int64_t n = r.m->params.n;
    float *m0 = malloc((size_t)n * sizeof *m0), *w0 = malloc((size_t)n * sizeof *w0);
    memcpy(m0, r.m->params.mask, (size_t)n * sizeof *m0);
    memcpy(w0, r.m->params.data, (size_t)n * sizeof *w0);
    fr_dist_bcast(m0, (size_t)n * sizeof *m0, 0);
    fr_dist_bcast(w0, (size_t)n * sizeof *w0, 0);
    CHECK(!memcmp(m0, r.m->params.mask, (size_t)n * sizeof *m0) &&
              !memcmp(w0, r.m->params.data, (size_t)n * sizeof *w0),
          "rank %d of %d: %s mask or weights differ from rank 0's", me, R,
          fr_dst_method_name(meth));
    free(m0), free(w0);
    fr_dst_free(r.d);
    fr_model_free(r.m);
}

static double max_rel(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - b[i]) / (fabs((double)b[i]) + 1e-3));
    return m;
}

int main(int argc, char **argv) {
    if (fr_dist_init(&argc, &argv)) return check_skip("test_dist", fr_last_error());
    int R = fr_dist_size(), me = fr_dist_rank();
    fr_threads_set(1);
    struct fr_rng rng;
    fr_rng_seed(&rng, 11);
    for (int i = 0; i < NS; i++) {
        for (int k = 0; k < NIN; k++)
            g_x[i][k] = (float)fr_rng_normal(&rng);
        g_y[i] = (g_x[i][0] + g_x[i][1] > 0) + (g_x[i][2] > 0.5f);
    }
    if (me == 0) printf("ranks %d (MPI %s)\n", R, fr_dist_built() ? "built" : "not built");

    /* the reference: this rank alone, whole batches, one more epoch than
     * the data holds so the short last batch comes up */
    struct fr_params pr, pd;
    struct run rr, rd;
    struct fr_fit_result fres;
    int64_t steps = STEPS + 2;
    CHECK(train(&pr, &rr, 0, steps, NULL, 0, 0, &fres) == 0, "reference run: %s", fr_last_error());
    CHECK(train(&pd, &rd, 1, steps, NULL, 0, 0, &fres) == 0, "data-parallel run: %s",
          fr_last_error());
    CHECK(rr.nloss == steps && rd.nloss == steps, "steps %lld / %lld", (long long)rr.nloss,
          (long long)rd.nloss);
    double worst = 0;
    for (int64_t s = 0; s < rr.nloss && s < rd.nloss; s++)
        worst = fmax(worst, fabs(rd.loss[s] - rr.loss[s]) / fabs(rr.loss[s]));
    CHECK(worst <= 1e-5, "rank %d of %d: per-step losses differ by %.3g relative", me, R, worst);
    double wdiff = max_rel(pd.data, pr.data, pr.n);
    CHECK(wdiff <= 1e-4, "rank %d of %d: final weights differ by %.3g", me, R, wdiff);
    if (R > 1)
        CHECK(fres.comm_bytes >= (int64_t)sizeof(float) * pd.n * steps, "all-reduced %lld bytes",
              (long long)fres.comm_bytes);
    /* every rank the same weights: rank 0's copy against each */
    {
        float *w0 = malloc(sizeof(float) * (size_t)pd.n);
        memcpy(w0, pd.data, sizeof(float) * (size_t)pd.n);
        fr_dist_bcast(w0, sizeof(float) * (size_t)pd.n, 0);
        CHECK(!memcmp(w0, pd.data, sizeof(float) * (size_t)pd.n),
              "rank %d holds other weights than rank 0", me);
        free(w0);
    }
    /* one all-reduce after the backward pass instead of buckets during
     * it: the same sums, so (two ranks: one addition per number) the same
     * bits, and the same bytes */
    {
        struct fr_params po;
        struct run ro;
        struct fr_fit_result fo;
        g_bucket = -1;
        CHECK(train(&po, &ro, 1, steps, NULL, 0, 0, &fo) == 0, "one all-reduce: %s",
              fr_last_error());
        g_bucket = 64;
        /* a parameter the loss never reads: learned after the first step,
         * the same sums as one all-reduce */
        struct fr_params pu, pv;
        struct run ru, rv;
        struct fr_fit_result fu;
        g_unread = 1;
        CHECK(train(&pu, &ru, 1, steps, NULL, 0, 0, &fu) == 0, "unread, buckets: %s",
              fr_last_error());
        g_bucket = -1;
        CHECK(train(&pv, &rv, 1, steps, NULL, 0, 0, &fu) == 0, "unread, one all-reduce: %s",
              fr_last_error());
        g_bucket = 64, g_unread = 0;
        if (R <= 2)
            CHECK(!memcmp(pu.data, pv.data, sizeof(float) * (size_t)pu.n) &&
                      !memcmp(ru.loss, rv.loss, sizeof ru.loss),
                  "rank %d: an unread parameter: buckets differ from one all-reduce", me);
        else
            CHECK(max_rel(pu.data, pv.data, pu.n) <= 1e-5, "rank %d: unread: %.3g", me,
                  max_rel(pu.data, pv.data, pu.n));
        fr_params_free(&pu), fr_params_free(&pv);
        CHECK(fo.comm_bytes == fres.comm_bytes, "bytes %lld in buckets, %lld at once",
              (long long)fres.comm_bytes, (long long)fo.comm_bytes);
        if (R <= 2)
            CHECK(!memcmp(po.data, pd.data, sizeof(float) * (size_t)pd.n) &&
                      !memcmp(ro.loss, rd.loss, sizeof ro.loss),
                  "rank %d: bucketed all-reduce differs from one all-reduce", me);
        else
            CHECK(max_rel(po.data, pd.data, pd.n) <= 1e-5, "rank %d: buckets vs one: %.3g", me,
                  max_rel(po.data, pd.data, pd.n));
        fr_params_free(&po);
    }
    fr_params_free(&pd);

    /* batch norm: with statistics summed over the ranks, one process's
     * curve and weights (running statistics included); per rank, not */
    {
        struct fr_params pb, pbr;
        struct run rb, rbr;
        struct fr_fit_result fb;
        g_bn = 1;
        CHECK(train(&pbr, &rbr, 0, steps, NULL, 0, 0, &fb) == 0, "bn reference: %s",
              fr_last_error());
        CHECK(train(&pb, &rb, 1, steps, NULL, 0, 0, &fb) == 0, "bn synced: %s", fr_last_error());
        double wb = 0;
        for (int64_t s = 0; s < steps; s++)
            wb = fmax(wb, fabs(rb.loss[s] - rbr.loss[s]) / fabs(rbr.loss[s]));
        CHECK(wb <= 1e-5 && max_rel(pb.data, pbr.data, pbr.n) <= 1e-4,
              "rank %d of %d: synchronised batch norm: losses %.3g, weights %.3g apart", me, R, wb,
              max_rel(pb.data, pbr.data, pbr.n));
        fr_params_free(&pb);
        /* (before the last batch of 3: per-rank statistics of a 1-sample
         * slice are an error) */
        g_bn = 2;
        CHECK(train(&pb, &rb, 1, 48, NULL, 0, 0, &fb) == 0, "bn per rank: %s", fr_last_error());
        wb = 0;
        for (int64_t s = 0; s < 48; s++)
            wb = fmax(wb, fabs(rb.loss[s] - rbr.loss[s]) / fabs(rbr.loss[s]));
        if (R > 1)
            CHECK(wb > 1e-4, "rank %d of %d: per-rank batch norm matches one process (%.3g)", me, R,
                  wb);
        g_bn = 0;
        fr_params_free(&pb);
        fr_params_free(&pbr);
    }

    /* checkpoint and resume: stopped after 20 steps, resumed to the end,
     * the same curve as the uninterrupted data-parallel run */
    char ckpt[256];
    snprintf(ckpt, sizeof ckpt, "%s", check_tmp("dist.ckpt.safetensors"));
    if (me == 0) remove(ckpt);
    /* rank 0's tmp path is the one every rank uses */
    fr_dist_bcast(ckpt, sizeof ckpt, 0);
    fr_dist_barrier();
    CHECK(train(&pd, &rd, 1, steps, ckpt, 1, 20, &fres) == 0 && fres.stopped == 1, "first half: %s",
          fr_last_error());
    fr_params_free(&pd);
    fr_dist_barrier();
    CHECK(access(ckpt, F_OK) == 0, "rank %d does not see the checkpoint rank 0 wrote", me);
    CHECK(train(&pd, &rd, 1, steps, ckpt, 1, 0, &fres) == 0 && fres.resumed &&
              fres.resumed_step == 20,
          "resume: %s (resumed %d at %lld)", fr_last_error(), fres.resumed,
          (long long)fres.resumed_step);
    worst = 0;
    for (int64_t s = 0; s < rd.nloss; s++)
        worst = fmax(worst, fabs(rd.loss[s] - rr.loss[20 + s]) / fabs(rr.loss[20 + s]));
    CHECK(rd.nloss == steps - 20 && worst <= 1e-5,
          "rank %d: resumed curve differs by %.3g over %lld steps", me, worst, (long long)rd.nloss);
    wdiff = max_rel(pd.data, pr.data, pr.n);
    CHECK(wdiff <= 1e-4, "rank %d: resumed final weights differ by %.3g", me, wdiff);
    fr_params_free(&pd);
    fr_params_free(&pr);
    fr_dist_barrier();
    if (me == 0) remove(ckpt);

    /* ingredients over the ranks vs in this process: the same bits */
    {
        struct fr_dataset ds = {.n = NS, .C = 1, .H = 1, .W = NIN, .nclass = NCLS};
        ds.x = &g_x[0][0], ds.y = g_y;
        struct fr_model_config mc = {.n_classes = NCLS, .in_channels = 1, .in_h = 1, .in_w = NIN};
        struct fr_model *m = fr_model_new("mlp", &mc, 3);
        CHECK(m != NULL, "mlp: %s", fr_last_error());
        enum { K = 5 };
        struct fr_ingredient ing[K];
        for (int i = 0; i < K; i++) {
            fr_fit_classifier_config_defaults(&ing[i].fit);
            ing[i].fit.steps = 12, ing[i].fit.batch = 32, ing[i].fit.seed = 1 + (uint64_t)i;
            ing[i].fit.lr = 1e-3 * (1 + i);
            ing[i].sub = NULL;
        }
        size_t bytes = (size_t)K * (size_t)(m ? m->params.n : 0) * sizeof(float);
        float *a = malloc(bytes ? bytes : 1), *b = malloc(bytes ? bytes : 1);
        struct fr_fit_result ra[K], rb[K];
        if (m) {
            CHECK(fr_ingredients_train(m, &ds, K, ing, 1, a, ra) == 0, "in-process: %s",
                  fr_last_error());
            CHECK(fr_ingredients_train(m, &ds, K, ing, 0, b, rb) == 0, "over %d ranks: %s", R,
                  fr_last_error());
            CHECK(!memcmp(a, b, bytes),
                  "rank %d: ingredients over %d ranks differ from one process", me, R);
            int same = 1;
            for (int i = 0; i < K; i++)
                same &= ra[i].steps == rb[i].steps && ra[i].last_loss == rb[i].last_loss;
            CHECK(same, "rank %d: ingredient fit results differ", me);
        }
        free(a), free(b);
        fr_model_free(m);
    }

    test_dst_ranks(FR_DST_RIGL, me, R);
    test_dst_ranks(FR_DST_MEST, me, R);

    /* every rank's verdict: the job fails if any rank failed */
    double bad = g_check_fail;
    fr_dist_allreduce_sum_f64(&bad, 1);
    int rc = check_report(me == 0 ? "test_dist" : "test_dist (rank > 0)");
    fr_dist_finalize();
    return bad > 0 ? 1 : rc;
}

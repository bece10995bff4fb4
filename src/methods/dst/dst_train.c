/* dst_train.c: dynamic sparse training as an extension of fr_train_run
 * (dst.h's fr_dst_run): the hooks forward to fr_dst_*, the config becomes
 * checkpoint metadata, the state becomes blobs. */
#include "frugal/methods/dst.h"
#include "frugal/status.h"

#include <stdio.h>
#include <string.h>

static int ext_start(void *user, struct fr_model *m, int64_t total) {
    struct fr_dst_run *r = user;
    fr_dst_free(r->d);
    fr_clear_error();
    r->d = fr_dst_new(m, &r->c, total);
    if (r->d) return 0;
    return strstr(fr_last_error(), "out of memory") ? FR_ENOMEM : FR_EINVAL;
}

/* The run stopped early or failed: the state points into a model the run
 * frees. */
static void ext_release(void *user) {
    struct fr_dst_run *r = user;
    fr_dst_free(r->d);
    r->d = NULL;
}

static int ext_after_backward(void *user, const struct fr_fit_state *st) {
    struct fr_dst_run *r = user;
    fr_dst_after_backward(r->d, st->step);
    return 0;
}

static int ext_after_step(void *user, const struct fr_fit_state *st) {
    struct fr_dst_run *r = user;
    int rc = fr_dst_after_step(r->d, st->step);
    return rc || !r->on_step ? rc : r->on_step(r->observer, r->d, st);
}

static int ext_blobs(void *user, struct fr_ckpt_blob *b, int cap) {
    struct fr_dst_run *r = user;
    return fr_dst_blobs(r->d, b, cap);
}

static int ext_resumed(void *user) {
    struct fr_dst_run *r = user;
    return fr_dst_resumed(r->d);
}

static int ext_end(void *user, struct fr_model *m) {
    struct fr_dst_run *r = user;
    int rc = r->on_end ? r->on_end(r->observer, r->d, m) : 0;
    r->nnz = fr_dst_nnz(r->d);
    r->target = fr_dst_target(r->d);
    r->scope = fr_dst_scope_size(r->d);
    r->updates = fr_dst_updates(r->d);
    r->channels_alive = fr_dst_channels_alive(r->d, &r->channels);
    fr_dst_free(r->d); /* it points into the model, which the run frees */
    r->d = NULL;
    return rc;
}

void fr_dst_run_init(struct fr_dst_run *r, const struct fr_dst_config *c) {
    memset(r, 0, sizeof *r);
    r->c = *c;
    int n = 0;
#define META(k, ...)                                                                               \
    do {                                                                                           \
        snprintf(r->keys[n], sizeof r->keys[n], "dst.%s", k);                                      \
        snprintf(r->vals[n], sizeof r->vals[n], __VA_ARGS__);                                      \
        n++;                                                                                       \
    } while (0)
    META("method", "%s", fr_dst_method_name(c->method));
    META("density", "%.17g", c->density);
    META("init", "%s", c->erk ? "erk" : "uniform");
    META("update_every", "%lld", (long long)c->update_every);
    META("drop_frac", "%.17g", c->drop_frac);
    META("mest_extra", "%.17g", c->mest_extra);
    META("update_end", "%.17g", c->update_end);
    META("channel_sparsity", "%.17g", c->channel_sparsity);
    META("gmp_end", "%.17g", c->gmp_end);
    META("channel_every", "%lld", (long long)c->channel_every);
    META("beta", "%.17g", c->beta);
    META("seed", "%llu", (unsigned long long)c->seed);
#undef META
    for (int i = 0; i < n; i++)
        r->kp[i] = r->keys[i], r->vp[i] = r->vals[i];
    r->ext = (struct fr_train_ext){.user = r,
                                   .meta_keys = r->kp,
                                   .meta_vals = r->vp,
                                   .nmeta = n,
                                   .start = ext_start,
                                   .after_backward = ext_after_backward,
                                   .after_step = ext_after_step,
                                   .blobs = ext_blobs,
                                   .resumed = ext_resumed,
                                   .end = ext_end,
                                   .release = ext_release};
}

void fr_dst_run_free(struct fr_dst_run *r) {
    fr_dst_free(r->d);
    r->d = NULL;
}

/* soup.c: ingredient training in worker processes, uniform and greedy
 * soups (soup.h).
 *
 * Workers are fork()ed children: they inherit m, ds and the subsets
 * copy-on-write, train their share of ingredients and write each slab, fit
 * result and status into one MAP_SHARED anonymous mapping, then _exit. The
 * parent stops its thread pool before forking (a child only inherits the
 * forking thread, so a running pool would be a pool of ghosts) and every
 * ingredient trains single-threaded, in-process or not, which is what makes
 * the result independent of the worker count. A soup is a loop over slabs.
 */
#define _GNU_SOURCE
#include "frugal/methods/soup.h"

#include "frugal/dist.h"
#include "frugal/status.h"
#include "frugal/threads.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MSG_LEN 256

/* What one ingredient reports back (lives in the shared mapping). */
struct slot {
    int status; /* 0 ok, an fr_error code, or 1 = never ran */
    struct fr_fit_result res;
    char msg[MSG_LEN];
};

/* Trains ingredient i from the start slab `start` and stores it. */
static void train_one(struct fr_model *m, const float *start, const struct fr_dataset *ds,
                      const struct fr_ingredient *ing, float *dst, struct slot *s) {
    size_t bytes = (size_t)m->params.n * sizeof(float);
    memcpy(m->params.data, start, bytes);
    s->status = fr_fit_classifier(m, ds, ing->sub, NULL, &ing->fit, &s->res);
    if (s->status) {
        snprintf(s->msg, MSG_LEN, "%s", fr_last_error());
        return;
    }
    memcpy(dst, m->params.data, bytes);
}

/* The ranks share the ingredients and exchange them once at the end. */
static int over_ranks(struct fr_model *m, const struct fr_dataset *ds, int k,
                      const struct fr_ingredient *ing, float *out, struct fr_fit_result *res) {
    int R = fr_dist_size(), me = fr_dist_rank(), rc = 0;
    const int64_t n = m->params.n;
    size_t slab = (size_t)n * sizeof(float);
    float *start = malloc(slab);
    struct slot *slots = calloc((size_t)k, sizeof *slots);
    if (!start || !slots) {
        free(start), free(slots);
        return fr_error(FR_ENOMEM, "soup: out of memory");
    }
    memcpy(start, m->params.data, slab);
    for (int i = 0; i < k; i++)
        slots[i].status = 1;
    int threads = fr_threads_get();
    fr_threads_set(1);
    for (int i = me; i < k; i += R)
        train_one(m, start, ds, &ing[i], out + (size_t)i * (size_t)n, &slots[i]);
    fr_threads_set(threads);
    memcpy(m->params.data, start, slab);
    /* every rank reaches every broadcast, failed ingredients included */
    for (int i = 0; i < k && !rc; i++) {
        rc = fr_dist_bcast(&slots[i], sizeof slots[i], i % R);
        if (!rc && slots[i].status == 0)
            rc = fr_dist_bcast(out + (size_t)i * (size_t)n, slab, i % R);
    }
    for (int i = 0; i < k && !rc; i++)
        if (slots[i].status)
            rc = fr_error(slots[i].status == 1 ? FR_EIO : slots[i].status,
                          "soup: ingredient %d (rank %d): %s", i, i % R,
                          slots[i].status == 1 ? "not trained" : slots[i].msg);
    if (!rc && res)
        for (int i = 0; i < k; i++)
            res[i] = slots[i].res;
    free(slots);
    free(start);
    return rc;
}

int fr_ingredients_train(struct fr_model *m, const struct fr_dataset *ds, int k,
                         const struct fr_ingredient *ing, int workers, float *out,
                         struct fr_fit_result *res) {
    if (k < 1 || workers < 0)
        return fr_error(FR_EINVAL, "soup: %d ingredients with %d workers", k, workers);
    if (workers != 1 && fr_dist_size() > 1) return over_ranks(m, ds, k, ing, out, res);
    if (workers == 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        workers = c > 0 ? (int)c : 1;
    }
    if (workers > k) workers = k;
    const int64_t n = m->params.n;
    size_t slab = (size_t)n * sizeof(float);
    size_t map_bytes = (size_t)k * sizeof(struct slot) + (workers > 1 ? (size_t)k * slab : 0);
    float *start = malloc(slab);
    if (!start) return fr_error(FR_ENOMEM, "soup: out of memory");
    memcpy(start, m->params.data, slab);
    void *map = mmap(NULL, map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
        free(start);
        return fr_error(FR_ENOMEM, "soup: cannot map %zu shared bytes: %s", map_bytes,
                        strerror(errno));
    }
    struct slot *slots = map;
    float *shared = workers > 1 ? (float *)((char *)map + (size_t)k * sizeof(struct slot)) : NULL;
    for (int i = 0; i < k; i++)
        slots[i].status = 1;
    int threads = fr_threads_get(), rc = 0;
    fr_threads_set(1);
    if (workers == 1) {
        for (int i = 0; i < k; i++)
            train_one(m, start, ds, &ing[i], out + (size_t)i * (size_t)n, &slots[i]);
    } else {
        pid_t pid[256];
        int started = 0;
        if (workers > 256) workers = 256;
        for (int w = 0; w < workers; w++) {
            pid[w] = fork();
            if (pid[w] == 0) {
                for (int i = w; i < k; i += workers)
                    train_one(m, start, ds, &ing[i], shared + (size_t)i * (size_t)n, &slots[i]);
                _exit(0);
            }
            if (pid[w] < 0) {
                rc = fr_error(FR_EIO, "soup: cannot start worker %d: %s", w, strerror(errno));
                break;
            }
            started++;
        }
        for (int w = 0; w < started; w++) {
            int st = 0;
            while (waitpid(pid[w], &st, 0) < 0 && errno == EINTR) {
            }
        }
        for (int i = 0; i < k && !rc; i++)
            if (slots[i].status == 0)
                memcpy(out + (size_t)i * (size_t)n, shared + (size_t)i * (size_t)n, slab);
    }
    fr_threads_set(threads);
    memcpy(m->params.data, start, slab);
    for (int i = 0; i < k && !rc; i++) {
        if (slots[i].status == 1)
            rc = fr_error(FR_EIO, "soup: ingredient %d was not trained (worker died)", i);
        else if (slots[i].status)
            rc = fr_error(slots[i].status, "soup: ingredient %d: %s", i, slots[i].msg);
    }
    if (!rc && res)
        for (int i = 0; i < k; i++)
            res[i] = slots[i].res;
    munmap(map, map_bytes);
    free(start);
    return rc;
}

int fr_soup_uniform(const float *slabs, int k, int64_t n, float *out) {
    if (k < 1) return fr_error(FR_EINVAL, "soup: no ingredients");
    for (int64_t j = 0; j < n; j++) {
        double s = 0;
        for (int i = 0; i < k; i++)
            s += slabs[(size_t)i * (size_t)n + (size_t)j];
        out[j] = (float)(s / k);
    }
    return 0;
}

void fr_greedy_soup_free(struct fr_greedy_soup *g) {
    if (!g) return;
    free(g->order);
    free(g->used);
    free(g->acc);
    memset(g, 0, sizeof *g);
}

/* m->params.data = mean of the used slabs, masked. */
static void mix(struct fr_model *m, const float *slabs, int k, const int *used) {
    const int64_t n = m->params.n;
    int cnt = 0;
    for (int i = 0; i < k; i++)
        cnt += used[i];
    for (int64_t j = 0; j < n; j++) {
        double s = 0;
        for (int i = 0; i < k; i++)
            if (used[i]) s += slabs[(size_t)i * (size_t)n + (size_t)j];
        m->params.data[j] = (float)(s / cnt);
    }
    if (m->params.mask) fr_params_apply_mask(&m->params);
}

int fr_soup_greedy(struct fr_model *m, const float *slabs, int k, const struct fr_dataset *ds,
                   const struct fr_subset *held, struct fr_greedy_soup *g) {
    memset(g, 0, sizeof *g);
    if (k < 1) return fr_error(FR_EINVAL, "soup: no ingredients");
    g->k = k;
    g->order = malloc((size_t)k * sizeof *g->order);
    g->used = calloc((size_t)k, sizeof *g->used);
    g->acc = malloc((size_t)k * sizeof *g->acc);
    int *trial = calloc((size_t)k, sizeof *trial);
    int rc = 0;
    if (!g->order || !g->used || !g->acc || !trial) {
        rc = fr_error(FR_ENOMEM, "soup: out of memory");
        goto cleanup;
    }
    for (int i = 0; i < k && !rc; i++) {
        trial[i] = 1;
        mix(m, slabs, k, trial);
        trial[i] = 0;
        rc = fr_evaluate(m, ds, held, NULL, 0, &g->acc[i], NULL);
        g->order[i] = i;
    }
    if (rc) goto cleanup;
    for (int i = 1; i < k; i++) /* insertion sort, stable: ties keep the lower index first */
        for (int j = i; j > 0 && g->acc[g->order[j]] > g->acc[g->order[j - 1]]; j--) {
            int t = g->order[j];
            g->order[j] = g->order[j - 1];
            g->order[j - 1] = t;
        }
    g->used[g->order[0]] = 1;
    g->n_used = 1;
    g->soup_acc = g->acc[g->order[0]];
    for (int r = 1; r < k && !rc; r++) {
        int i = g->order[r];
        memcpy(trial, g->used, (size_t)k * sizeof *trial);
        trial[i] = 1;
        mix(m, slabs, k, trial);
        double a = 0;
        if ((rc = fr_evaluate(m, ds, held, NULL, 0, &a, NULL))) break;
        if (a >= g->soup_acc) {
            g->used[i] = 1;
            g->n_used++;
            g->soup_acc = a;
        }
    }
    if (!rc) mix(m, slabs, k, g->used);
cleanup:
    free(trial);
    if (rc) fr_greedy_soup_free(g);
    return rc;
}

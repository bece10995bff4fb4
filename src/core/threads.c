/* threads.c: the persistent pool behind fr_parallel_for.
 *
 * One job at a time (kernels are called from one thread). A job is published
 * by bumping `gen`; workers spin on it for a short while (cheap wake-up for
 * back-to-back GEMMs), then block on a condition variable so an idle pool
 * costs nothing. Chunks are claimed from one atomic word holding (job
 * generation, next chunk), by the workers and by the caller alike: on a
 * busy machine where a worker is not running, the caller takes its chunks
 * instead of waiting for it. A chunk's index (not the thread that runs it)
 * is what the task sees as `tid`, so per-chunk partial results, and hence
 * every result, do not depend on who ran what.
 */
#define _GNU_SOURCE /* pthread_setaffinity_np, CPU_SET */
#include "frugal/threads.h"
#include "frugal/status.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FR_MAX_THREADS 256
#define SPIN_ITERS 20000

static struct {
    int n; /* threads including the caller */
    pthread_t th[FR_MAX_THREADS];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint gen;
    _Atomic uint64_t claim; /* (gen << 32) | next unclaimed chunk */
    atomic_int done;        /* chunks finished in the current job */
    atomic_int stop;
    fr_task_fn fn;
    void *arg;
    int64_t items, chunk;
    int nchunks;
    int started;
    unsigned start_gen;      /* gen when the workers were created (see worker) */
    int cpu[FR_MAX_THREADS]; /* CPU worker i is pinned to, or -1 (see pin_plan) */
} P = {.n = 1, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static _Thread_local int t_in_pool;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Claims and runs chunks of job g until none is left. A successful claim
 * pins the job: the caller cannot publish another until every claimed chunk
 * is done, so P.fn/arg/chunk read after the claim belong to job g. */
static void claim_and_run(unsigned g) {
    for (;;) {
        uint64_t v = atomic_load_explicit(&P.claim, memory_order_acquire);
        if ((unsigned)(v >> 32) != g || (int)(uint32_t)v >= P.nchunks) return;
        if (!atomic_compare_exchange_weak_explicit(&P.claim, &v, v + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        int c = (int)(uint32_t)v;
        int64_t b = (int64_t)c * P.chunk, e = b + P.chunk;
        if (e > P.items) e = P.items;
        if (b < e) P.fn(P.arg, b, e, c);
        if (atomic_fetch_add_explicit(&P.done, 1, memory_order_acq_rel) + 1 == P.nchunks) {
            pthread_mutex_lock(&P.mu);
            pthread_cond_broadcast(&P.cv);
            pthread_mutex_unlock(&P.mu);
        }
    }
}

static void *worker(void *vp) {
    int id = (int)(intptr_t)vp;
    t_in_pool = 1;
    if (P.cpu[id] >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(P.cpu[id], &set);
        pthread_setaffinity_np(pthread_self(), sizeof set, &set); /* best effort */
    }
    /* not a fresh load of gen: a job published before this thread first ran
     * would be missed and its caller would wait forever */
    unsigned seen = P.start_gen;
    for (;;) {
        int spins = 0;
        while (atomic_load_explicit(&P.gen, memory_order_acquire) == seen &&
               !atomic_load(&P.stop)) {
            if (++spins < SPIN_ITERS) {
                cpu_relax();
                continue;
            }
            pthread_mutex_lock(&P.mu);
            while (atomic_load(&P.gen) == seen && !atomic_load(&P.stop))
                pthread_cond_wait(&P.cv, &P.mu);
            pthread_mutex_unlock(&P.mu);
        }
        if (atomic_load(&P.stop)) return NULL;
        seen = atomic_load(&P.gen);
        claim_and_run(seen);
    }
}

static void pool_stop(void) {
    if (!P.started) return;
    pthread_mutex_lock(&P.mu);
    atomic_store(&P.stop, 1);
    pthread_cond_broadcast(&P.cv);
    pthread_mutex_unlock(&P.mu);
    for (int i = 1; i < P.n; i++)
        pthread_join(P.th[i], NULL);
    atomic_store(&P.stop, 0);
    P.started = 0;
}

/* Which CPU each thread is pinned to. Unpinned, a worker that slept
 * (condition variable) is woken onto the waking thread's CPU by Linux's
 * wake-affine placement, and both run on one core until the load balancer
 * separates them: measured on a 2-core Intel Xeon VM, the first ~10 calls
 * (10-20 ms) of 512^3 GEMMs after a 0.2 s pause ran at one thread's speed,
 * and pinning the workers alone was not enough (the caller, waking from
 * its own sleep, was placed on a worker's CPU). So, as OpenMP does with
 * OMP_PROC_BIND, thread i of the pool (0: the thread that called
 * fr_threads_set, the one that then calls the kernels) is pinned to the
 * i-th CPU this process may use. Only when n > 1 fits the allowed set
 * (under `mpirun --bind-to core` a rank's set is its own cores), and not
 * with FRUGAL_PIN=0; the caller's own mask is restored when the pool is
 * set to one thread or unpinned again. */
static cpu_set_t g_caller_mask;
static pthread_t g_caller;
static int g_caller_pinned;

static void pin_plan(int n) {
    for (int i = 0; i < FR_MAX_THREADS; i++)
        P.cpu[i] = -1;
    if (g_caller_pinned) { /* undo the last plan's pin of the caller */
        pthread_setaffinity_np(g_caller, sizeof g_caller_mask, &g_caller_mask);
        g_caller_pinned = 0;
    }
    const char *env = getenv("FRUGAL_PIN");
    if (n < 2 || (env && !strcmp(env, "0"))) return;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) || CPU_COUNT(&set) < n) return;
    int k = 0;
    for (int c = 0; c < CPU_SETSIZE && k < n; c++)
        if (CPU_ISSET(c, &set)) P.cpu[k++] = c;
    g_caller = pthread_self();
    g_caller_mask = set;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(P.cpu[0], &one);
    g_caller_pinned = pthread_setaffinity_np(g_caller, sizeof one, &one) == 0;
}

int fr_threads_set(int n) {
    if (n <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)c : 1;
    }
    if (n > FR_MAX_THREADS)
        return fr_error(FR_EINVAL, "thread count %d is more than %d", n, FR_MAX_THREADS);
    if (n == P.n && (P.started || n == 1)) return 0;
    pool_stop();
    P.n = n;
    P.start_gen = atomic_load(&P.gen);
    pin_plan(n);
    for (int i = 1; i < n; i++) {
        if (pthread_create(&P.th[i], NULL, worker, (void *)(intptr_t)i) != 0) {
            for (int j = 1; j < i; j++)
                pthread_cancel(P.th[j]);
            P.n = 1;
            return fr_error(FR_ENOMEM, "could not start worker thread %d", i);
        }
    }
    P.started = n > 1;
    return 0;
}

int fr_threads_get(void) {
    return P.n;
}

void fr_parallel_for(int64_t n, int64_t grain, fr_task_fn fn, void *arg) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    int64_t maxchunks = (n + grain - 1) / grain;
    int nt = P.n;
    if (t_in_pool || nt <= 1 || maxchunks <= 1 || !P.started) {
        fn(arg, 0, n, 0);
        return;
    }
    int nchunks = maxchunks < nt ? (int)maxchunks : nt;
    P.fn = fn;
    P.arg = arg;
    P.items = n;
    P.chunk = (n + nchunks - 1) / nchunks;
    P.nchunks = nchunks;
    atomic_store(&P.done, 0);
    unsigned g = atomic_load(&P.gen) + 1;
    atomic_store_explicit(&P.claim, (uint64_t)g << 32, memory_order_release);
    pthread_mutex_lock(&P.mu);
    atomic_store_explicit(&P.gen, g, memory_order_release);
    pthread_cond_broadcast(&P.cv);
    pthread_mutex_unlock(&P.mu);
    t_in_pool = 1;
    claim_and_run(g);
    t_in_pool = 0;
    int spins = 0;
    while (atomic_load_explicit(&P.done, memory_order_acquire) < nchunks) {
        if (++spins < SPIN_ITERS) {
            cpu_relax();
            continue;
        }
        pthread_mutex_lock(&P.mu);
        while (atomic_load(&P.done) < nchunks)
            pthread_cond_wait(&P.cv, &P.mu);
        pthread_mutex_unlock(&P.mu);
    }
}

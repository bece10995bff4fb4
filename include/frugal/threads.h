/* threads.h: one persistent worker pool for every parallel kernel.
 *
 * Work is split statically: fr_parallel_for(n, grain, fn, arg) cuts [0, n)
 * into at most `threads` contiguous chunks of at least `grain` items; the
 * caller and the workers claim chunks until all are done, and fn receives
 * the chunk's index as `tid` (unique among running chunks, < threads), so
 * per-chunk scratch and partial sums depend only on the split. The same
 * thread count gives the same split, so results are reproducible run to run
 * whoever runs each chunk. A call made from inside a worker runs serially.
 * Workers spin briefly, then sleep.
 */
#ifndef FRUGAL_THREADS_H
#define FRUGAL_THREADS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Sets the pool size (n <= 0: number of online CPUs). Not thread-safe with
 * running kernels. With n > 1 threads that fit the CPUs this process may
 * use, the pool pins thread i to the i-th of them, the calling thread (the
 * one that will call the kernels) to the first: threads it creates later
 * inherit that pin. FRUGAL_PIN=0 turns pinning off; fr_threads_set(1)
 * gives the caller its CPU mask back (do that before fork()ing workers).
 * Returns 0 or FR_EINVAL (n > 256). */
int fr_threads_set(int n);
int fr_threads_get(void);

typedef void (*fr_task_fn)(void *arg, int64_t begin, int64_t end, int tid);
void fr_parallel_for(int64_t n, int64_t grain, fr_task_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif

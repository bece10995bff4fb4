/* dist.h: several processes training one model (the dist layer): Open
 * MPI's ranks, or a single rank when frugal is built without MPI or not
 * started by mpirun.
 *
 *   fr_dist_init(&argc, &argv);      // first thing in main
 *   ... fr_dist_rank(), fr_dist_size(), fr_dist_allreduce_sum(...)
 *   fr_dist_finalize();             // last thing
 *
 * Data-parallel training (train.h, fr_fit_config.data_parallel) shards
 * every global batch over the ranks and sums the gradients with one
 * all-reduce over the flat gradient slab, so all ranks keep the same
 * weights. Collective calls must be made by every rank in the same order.
 * A rank that fails calls fr_dist_abort, which ends the whole job (every
 * rank) instead of leaving the others waiting in a collective.
 */
#ifndef FRUGAL_DIST_H
#define FRUGAL_DIST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Joins the MPI job when this process was started by mpirun (Open MPI's
 * environment says so) and frugal was built with MPI; otherwise (or when
 * called again) does nothing: one rank. Returns 0, or FR_EIO when MPI
 * fails to start. */
int fr_dist_init(int *argc, char ***argv);
/* Leaves the job (a no-op for one rank). */
void fr_dist_finalize(void);
/* This process's rank (0-based) and the number of ranks (1 without MPI). */
int fr_dist_rank(void);
int fr_dist_size(void);
/* The ranks on this machine (sharing its memory), this one included:
 * fr_dist_size() when the whole job runs on one machine. */
int fr_dist_local_size(void);
/* 1 when frugal was built with MPI (whether or not this run uses it). */
int fr_dist_built(void);
/* In-place sums over all ranks (no-ops for one rank): every rank ends with
 * the same values. 0 or FR_EIO. Any length (split into MPI-sized parts). */
int fr_dist_allreduce_sum(float *x, int64_t n);
int fr_dist_allreduce_sum_f64(double *x, int64_t n);
/* Starts an in-place sum like fr_dist_allreduce_sum and returns at once;
 * x must not be touched until fr_dist_wait. fr_dist_progress lets MPI move
 * the started sums on (Open MPI advances non-blocking collectives only
 * inside MPI calls) and fr_dist_wait finishes them all. Every rank must
 * start the same sums in the same order. 0, FR_EIO or FR_ENOMEM. */
int fr_dist_iallreduce_sum(float *x, int64_t n);
/* Room for n started sums, so that starting them cannot fail for memory
 * halfway through a step (every rank must start the same ones). */
int fr_dist_reserve(int n);
int fr_dist_progress(void);
int fr_dist_wait(void);
/* Copies root's bytes to every rank. */
int fr_dist_bcast(void *buf, size_t bytes, int root);
/* Waits until every rank reaches it. */
int fr_dist_barrier(void);
/* Ends the whole job with exit code `code` (never returns). One rank is
 * enough: mpirun stops the others. Without MPI: exit(code). */
void fr_dist_abort(int code);
/* Bytes this rank has sent in all-reduces so far (for benchmarks). */
int64_t fr_dist_bytes_reduced(void);

#ifdef __cplusplus
}
#endif
#endif

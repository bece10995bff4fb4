/* dist.c: the dist layer (dist.h) over Open MPI, or one rank.
 *
 * MPI is started only when mpirun started this process (OMPI_COMM_WORLD_SIZE
 * or PMIX_RANK in the environment), so a plain `frugal train` never pays
 * MPI's start-up or needs its runtime. Threads: MPI_THREAD_FUNNELED (only
 * the thread that called fr_dist_init makes MPI calls; frugal's pool
 * threads never do). Errors in a collective come back as FR_EIO with MPI's
 * message (MPI_ERRORS_RETURN), so the caller can say which rank failed and
 * abort the job.
 */
#include "frugal/dist.h"

#include "frugal/status.h"

#include <limits.h>
#include <stdlib.h>

#ifdef FR_HAVE_MPI
#include <mpi.h>
#endif

static int g_rank = 0, g_size = 1, g_mpi = 0, g_local = 1;
static int64_t g_bytes = 0;
#ifdef FR_HAVE_MPI
/* The requests of started, unfinished non-blocking all-reduces. */
static MPI_Request *g_req;
static int g_nreq, g_capreq;
#endif

int fr_dist_built(void) {
#ifdef FR_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

#ifdef FR_HAVE_MPI
static int mpi_fail(int err, const char *what) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(err, msg, &len) != MPI_SUCCESS) len = 0;
    msg[len] = '\0';
    return fr_error(FR_EIO, "rank %d: MPI %s failed: %s", g_rank, what, len ? msg : "unknown");
}
#endif

int fr_dist_init(int *argc, char ***argv) {
#ifdef FR_HAVE_MPI
    if (g_mpi) return 0;
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK")) return 0;
    int provided = 0, err = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    if (err != MPI_SUCCESS) return fr_error(FR_EIO, "MPI_Init_thread failed (%d)", err);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    /* the ranks sharing this machine's memory */
    MPI_Comm node;
    g_local = g_size;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) ==
        MPI_SUCCESS) {
        MPI_Comm_size(node, &g_local);
        MPI_Comm_free(&node);
    }
    g_mpi = 1;
#else
    (void)argc, (void)argv;
#endif
    return 0;
}

void fr_dist_finalize(void) {
#ifdef FR_HAVE_MPI
    if (g_nreq) fr_dist_wait();
    free(g_req);
    g_req = NULL, g_capreq = 0;
    if (g_mpi) MPI_Finalize();
    g_mpi = 0;
#endif
    g_rank = 0, g_size = 1, g_local = 1;
}

int fr_dist_rank(void) {
    return g_rank;
}

int fr_dist_size(void) {
    return g_size;
}

int fr_dist_local_size(void) {
    return g_local;
}

int64_t fr_dist_bytes_reduced(void) {
    return g_bytes;
}

int fr_dist_allreduce_sum(float *x, int64_t n) {
#ifdef FR_HAVE_MPI
    if (!g_mpi || g_size == 1) return 0;
    for (int64_t i = 0; i < n;) {
        int part = n - i > INT_MAX / 2 ? INT_MAX / 2 : (int)(n - i);
        int err = MPI_Allreduce(MPI_IN_PLACE, x + i, part, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (err != MPI_SUCCESS) return mpi_fail(err, "all-reduce");
        g_bytes += (int64_t)part * (int64_t)sizeof(float);
        i += part;
    }
#else
    (void)x, (void)n;
#endif
    return 0;
}

int fr_dist_iallreduce_sum(float *x, int64_t n) {
#ifdef FR_HAVE_MPI
    if (!g_mpi || g_size == 1) return 0;
    for (int64_t i = 0; i < n;) {
        int part = n - i > INT_MAX / 2 ? INT_MAX / 2 : (int)(n - i);
        if (g_nreq == g_capreq) {
            int cap = g_capreq ? 2 * g_capreq : 64;
            MPI_Request *r = realloc(g_req, (size_t)cap * sizeof *r);
            if (!r) return fr_error(FR_ENOMEM, "rank %d: all-reduce: out of memory", g_rank);
            g_req = r, g_capreq = cap;
        }
        int err = MPI_Iallreduce(MPI_IN_PLACE, x + i, part, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                                 &g_req[g_nreq]);
        if (err != MPI_SUCCESS) return mpi_fail(err, "all-reduce");
        g_nreq++;
        g_bytes += (int64_t)part * (int64_t)sizeof(float);
        i += part;
    }
#else
    (void)x, (void)n;
#endif
    return 0;
}

int fr_dist_reserve(int n) {
#ifdef FR_HAVE_MPI
    if (n > g_capreq) {
        MPI_Request *r = realloc(g_req, (size_t)n * sizeof *r);
        if (!r) return fr_error(FR_ENOMEM, "rank %d: all-reduce: out of memory", g_rank);
        g_req = r, g_capreq = n;
    }
#else
    (void)n;
#endif
    return 0;
}

int fr_dist_progress(void) {
#ifdef FR_HAVE_MPI
    if (!g_nreq) return 0;
    int done = 0, err = MPI_Testall(g_nreq, g_req, &done, MPI_STATUSES_IGNORE);
    if (err != MPI_SUCCESS) return mpi_fail(err, "all-reduce");
    if (done) g_nreq = 0;
#endif
    return 0;
}

int fr_dist_wait(void) {
#ifdef FR_HAVE_MPI
    if (!g_nreq) return 0;
    int err = MPI_Waitall(g_nreq, g_req, MPI_STATUSES_IGNORE);
    g_nreq = 0;
    if (err != MPI_SUCCESS) return mpi_fail(err, "all-reduce");
#endif
    return 0;
}

int fr_dist_allreduce_sum_f64(double *x, int64_t n) {
#ifdef FR_HAVE_MPI
    if (!g_mpi || g_size == 1) return 0;
    for (int64_t i = 0; i < n;) {
        int part = n - i > INT_MAX / 2 ? INT_MAX / 2 : (int)(n - i);
        int err = MPI_Allreduce(MPI_IN_PLACE, x + i, part, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        if (err != MPI_SUCCESS) return mpi_fail(err, "all-reduce");
        g_bytes += (int64_t)part * (int64_t)sizeof(double);
        i += part;
    }
#else
    (void)x, (void)n;
#endif
    return 0;
}

int fr_dist_bcast(void *buf, size_t bytes, int root) {
#ifdef FR_HAVE_MPI
    if (!g_mpi || g_size == 1) return 0;
    char *p = buf;
    for (size_t i = 0; i < bytes;) {
        int part = bytes - i > (size_t)INT_MAX / 2 ? INT_MAX / 2 : (int)(bytes - i);
        int err = MPI_Bcast(p + i, part, MPI_BYTE, root, MPI_COMM_WORLD);
        if (err != MPI_SUCCESS) return mpi_fail(err, "broadcast");
        i += (size_t)part;
    }
#else
    (void)buf, (void)bytes, (void)root;
#endif
    return 0;
}

int fr_dist_barrier(void) {
#ifdef FR_HAVE_MPI
    if (!g_mpi || g_size == 1) return 0;
    int err = MPI_Barrier(MPI_COMM_WORLD);
    if (err != MPI_SUCCESS) return mpi_fail(err, "barrier");
#endif
    return 0;
}

void fr_dist_abort(int code) {
#ifdef FR_HAVE_MPI
    if (g_mpi && g_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
    exit(code);
}

/* fuzz_idx.c: libFuzzer target for the IDX reader, gzip path included.
 *
 * Each input is written to an in-memory file (memfd) and loaded through
 * fr_idx_load by its /proc/self/fd path, exactly as a file on disk would
 * be. The input must be rejected with a one-line message or accepted with
 * a consistent header (element count = product of dims). Violations abort.
 */
#define _GNU_SOURCE
#include "frugal/io.h"
#include "frugal/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "invariant failed: %s (%s:%d)\n", #c, __FILE__, __LINE__);             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("frugal-fuzz-idx", 0);
        REQUIRE(fd >= 0);
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    REQUIRE(ftruncate(fd, 0) == 0);
    REQUIRE(pwrite(fd, data, size, 0) == (ssize_t)size);
    struct fr_idx x;
    fr_clear_error();
    int rc = fr_idx_load(path, &x);
    if (rc) {
        const char *m = fr_last_error();
        REQUIRE(rc == FR_EFORMAT && x.data == NULL && m[0] && !strchr(m, '\n'));
        return 0;
    }
    int64_t n = 1; /* accepted arrays are at most 2^32 bytes, so no overflow past a 0 check */
    for (int d = 0; d < x.ndim; d++)
        if (x.dims[d] == 0) n = 0;
    for (int d = 0; d < x.ndim && n; d++)
        n *= x.dims[d];
    REQUIRE(x.ndim >= 1 && x.ndim <= FR_IDX_MAX_DIMS && x.n == n && x.data);
    volatile uint8_t sink = 0;
    if (n) sink ^= ((const uint8_t *)x.data)[0]; /* touch first and last element */
    if (n && x.dtype == FR_U8) sink ^= ((const uint8_t *)x.data)[n - 1];
    (void)sink;
    fr_idx_free(&x);
    return 0;
}

/* fuzz_nasbench.c: libFuzzer target for the zero-shot NAS ground-truth
 * table (methods/nas.h fr_nasbench_read) and the NAS-Bench-201 cell strings
 * (models.h fr_nb201_parse). Each input is read as a table through an
 * in-memory file: rejected with a one-line message, or every row accepted
 * holds a cell 0..15624, accuracies in [0, 100] and finite numbers. The
 * input as a string: rejected with a one-line message, or its ops print
 * back to exactly that string. Violations abort. */
#define _GNU_SOURCE
#include "frugal/methods/nas.h"
#include "frugal/models.h"
#include "frugal/status.h"

#include <math.h>
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
        fd = memfd_create("frugal-fuzz-nasbench", 0);
        REQUIRE(fd >= 0);
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    REQUIRE(ftruncate(fd, 0) == 0);
    REQUIRE(pwrite(fd, data, size, 0) == (ssize_t)size);
    struct fr_nasbench_row *rows = NULL;
    int64_t n = -1;
    char recipe[128];
    fr_clear_error();
    int rc = fr_nasbench_read(path, &rows, &n, recipe, sizeof recipe);
    if (rc) {
        const char *m = fr_last_error();
        REQUIRE(rows == NULL && n == 0 && m[0] && !strchr(m, '\n'));
    } else {
        REQUIRE(n >= 0 && strlen(recipe) < sizeof recipe);
        for (int64_t i = 0; i < n; i++)
            REQUIRE(rows[i].cell >= 0 && rows[i].cell < FR_NB201_CELLS && rows[i].val_acc >= 0 &&
                    rows[i].val_acc <= 100 && rows[i].test_acc >= 0 && rows[i].test_acc <= 100 &&
                    isfinite(rows[i].train_seconds) && rows[i].params >= 0 && rows[i].flops >= 0);
        free(rows);
    }
    char *s = malloc(size + 1);
    REQUIRE(s);
    memcpy(s, data, size);
    s[size] = 0;
    int ops[FR_NB201_EDGES];
    fr_clear_error();
    if (fr_nb201_parse(s, ops) == 0) {
        char back[128];
        REQUIRE(fr_nb201_format(ops, back, sizeof back) == 0 && !strcmp(back, s));
        char key[FR_NB201_KEY_MAX];
        REQUIRE(fr_nb201_unique_key(ops, key, sizeof key) == 0);
    } else {
        const char *m = fr_last_error();
        REQUIRE(m[0] && !strchr(m, '\n'));
    }
    free(s);
    return 0;
}

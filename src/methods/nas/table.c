/* table.c: the zero-shot NAS ground-truth table's file (methods/nas.h):
 * CSV rows read back (every field checked), appended whole under an
 * exclusive lock, a killed writer's partial line cut, another recipe
 * refused. Only the cell strings (nb201_cell.c) and status.c besides: the
 * fuzz target links these three. */
#include "frugal/methods/nas.h"

#include "frugal/models.h"
#include "frugal/status.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define TITLE "# frugal nas-bench: NAS-Bench-201 cells trained on Fashion-MNIST\n"
#define COLUMNS "cell,arch,seed,val_acc,test_acc,params,flops,train_seconds\n"

/* One data row into *row; 0 or -1. */
static int parse_row(char *line, struct fr_nasbench_row *row) {
    char *f[9];
    int nf = 0;
    for (char *p = line; nf < 9;) {
        f[nf++] = p;
        char *c = strchr(p, ',');
        if (!c) break;
        *c = 0;
        p = c + 1;
    }
    if (nf != 8) return -1;
    char *end;
    errno = 0;
    row->cell = strtoll(f[0], &end, 10);
    if (*end || row->cell < 0 || row->cell >= FR_NB201_CELLS) return -1;
    int ops[FR_NB201_EDGES];
    if (fr_nb201_parse(f[1], ops) || fr_nb201_index(ops) != row->cell) return -1;
    row->seed = strtoull(f[2], &end, 10);
    if (*end || f[2][0] == '-') return -1;
    double *d[3] = {&row->val_acc, &row->test_acc, &row->train_seconds};
    char *df[3] = {f[3], f[4], f[7]};
    for (int i = 0; i < 3; i++) {
        *d[i] = strtod(df[i], &end);
        if (end == df[i] || *end || !isfinite(*d[i]) || *d[i] < 0) return -1;
    }
    if (row->val_acc > 100 || row->test_acc > 100) return -1;
    row->params = strtoll(f[5], &end, 10);
    if (*end || row->params < 0) return -1;
    row->flops = strtoll(f[6], &end, 10);
    if (*end || row->flops < 0 || errno) return -1;
    return 0;
}

/* The whole file into a NUL-terminated buffer. */
static char *slurp(int fd, size_t *len) {
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) return NULL;
    char *b = malloc((size_t)st.st_size + 1);
    if (!b) return NULL;
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t k = pread(fd, b + got, (size_t)st.st_size - got, (off_t)got);
        if (k <= 0) {
            free(b);
            return NULL;
        }
        got += (size_t)k;
    }
    b[got] = 0;
    *len = got;
    return b;
}

/* The recipe line of a table's text (after "# recipe: "), copied into
 * out[cap]; "" when there is none. */
static void recipe_of(const char *text, char *out, size_t cap) {
    out[0] = 0;
    const char *p = strstr(text, "# recipe: ");
    if (!p) return;
    p += strlen("# recipe: ");
    size_t n = strcspn(p, "\n");
    snprintf(out, cap, "%.*s", (int)n, p);
}

int fr_nasbench_read(const char *path, struct fr_nasbench_row **rows, int64_t *n, char *recipe,
                     size_t cap) {
    *rows = NULL, *n = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return fr_error(errno == ENOENT ? FR_ENOTFOUND : FR_EIO, "%s: %s", path, strerror(errno));
    flock(fd, LOCK_SH);
    size_t len = 0;
    char *text = slurp(fd, &len);
    flock(fd, LOCK_UN);
    close(fd);
    if (!text) return fr_error(FR_EIO, "%s: cannot read (not a regular file?)", path);
    if (recipe) recipe_of(text, recipe, cap);
    int64_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    struct fr_nasbench_row *out = malloc(sizeof *out * (size_t)lines);
    int rc = out ? 0 : fr_error(FR_ENOMEM, "nas-bench: out of memory");
    int64_t k = 0, lineno = 0;
    for (char *p = text; !rc && *p;) {
        char *nl = strchr(p, '\n');
        lineno++;
        if (!nl) break; /* a partial last line: a killed writer's */
        *nl = 0;
        if (*p && *p != '#' &&
            strcmp(p, "cell,arch,seed,val_acc,test_acc,params,flops,"
                      "train_seconds") != 0) {
            if (parse_row(p, &out[k]))
                rc = fr_error(FR_EFORMAT, "%s:%lld: not a table row", path, (long long)lineno);
            else
                k++;
        }
        p = nl + 1;
    }
    free(text);
    if (rc) {
        free(out);
        return rc;
    }
    *rows = out, *n = k;
    return 0;
}

static int write_all(int fd, const char *s, size_t n) {
    while (n) {
        ssize_t k = write(fd, s, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        s += k, n -= (size_t)k;
    }
    return 0;
}

int fr_nasbench_append(const char *path, const char *recipe, const struct fr_nasbench_row *row) {
    char arch[128], line[512];
    int ops[FR_NB201_EDGES];
    fr_nb201_ops(row->cell, ops);
    int rc = fr_nb201_format(ops, arch, sizeof arch);
    if (rc) return rc;
    snprintf(line, sizeof line, "%lld,%s,%llu,%.2f,%.2f,%lld,%lld,%.1f\n", (long long)row->cell,
             arch, (unsigned long long)row->seed, row->val_acc, row->test_acc,
             (long long)row->params, (long long)row->flops, row->train_seconds);
    struct stat st;
    if (!stat(path, &st) && !S_ISREG(st.st_mode))
        return fr_error(FR_EINVAL, "%s: not a regular file", path);
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0) return fr_error(FR_EIO, "%s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX)) {
        close(fd);
        return fr_error(FR_EIO, "%s: cannot lock: %s", path, strerror(errno));
    }
    size_t len = 0;
    char *text = slurp(fd, &len);
    if (!text) {
        rc = fr_error(FR_EIO, "%s: cannot read", path);
        goto done;
    }
    if (len == 0) {
        char head[1024];
        snprintf(head, sizeof head, TITLE "# recipe: %s\n" COLUMNS, recipe);
        if (write_all(fd, head, strlen(head)))
            rc = fr_error(FR_EIO, "%s: %s", path, strerror(errno));
    } else {
        char have[512];
        recipe_of(text, have, sizeof have);
        if (strcmp(have, recipe) != 0) {
            rc = fr_error(FR_EINVAL,
                          "%s was built with another recipe ('%.200s'); this one is '%.200s': use "
                          "another table",
                          path, have, recipe);
            goto done;
        }
        if (text[len - 1] != '\n') { /* cut a killed writer's partial line */
            char *nl = strrchr(text, '\n');
            off_t keep = nl ? (off_t)(nl - text + 1) : 0;
            if (ftruncate(fd, keep)) {
                rc = fr_error(FR_EIO, "%s: %s", path, strerror(errno));
                goto done;
            }
        }
    }
    if (!rc && (lseek(fd, 0, SEEK_END) < 0 || write_all(fd, line, strlen(line)) || fsync(fd)))
        rc = fr_error(FR_EIO, "%s: %s", path, strerror(errno));
done:
    free(text);
    flock(fd, LOCK_UN);
    close(fd);
    return rc;
}

/* nb201_cell.c: NAS-Bench-201 cells (Dong & Yang, ICLR 2020) as strings
 * and numbers: parsing, printing, indices, liveness and the isomorphism
 * key (models.h). Only status.c besides: the fuzz target for the cell
 * strings and the benchmark table links it alone. nb201.c builds the
 * network.
 *
 * A cell is a DAG of 4 nodes; node j (1..3) is the sum over i < j of
 * op_ij(node i), node 0 the cell's input, node 3 its output. The 6 edges
 * in the standard string's order are 0->1 | 0->2, 1->2 | 0->3, 1->3, 2->3,
 * each one of none (contributes nothing), skip_connect (identity),
 * nor_conv_1x1 / nor_conv_3x3 (ReLU -> Conv (no bias) -> BatchNorm) and
 * avg_pool_3x3 (stride 1, padding 1, count_include_pad=False). String:
 *   |nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|
 *
 * The macro skeleton is NAS-Bench-201's TinyNetwork, with its parameter
 * names: stem (conv 3x3 in_channels -> C, BN), N cells at C, a residual
 * reduction block (conv_a: ReLU-Conv3x3 stride 2-BN, conv_b: ReLU-Conv3x3-
 * BN, plus downsample: AvgPool 2x2 then Conv1x1 without BN), N cells at 2C,
 * a reduction, N cells at 4C, lastact (BN, ReLU), global average pool,
 * classifier. The original is C = 16, N = 5 on 32x32 RGB; for 28x28
 * single-channel Fashion-MNIST frugal's default is C = 16, N = 1 (the same
 * stages, maps 28 -> 14 -> 7, one cell per stage: a cell's ops decide
 * more of the network, and a network trains in seconds, so hundreds can be
 * trained for a ground truth on 2 cores); cfg.nb201.c and .n set others.
 *
 * Isomorphism (fr_nb201_unique_key) follows the benchmark's own rule (its
 * to_unique_str with zeros considered): none, and any op reading a node
 * that is identically zero, contribute a zero term; skip_connect passes its
 * input's key; other ops wrap it; a node is the sorted '+'-join of its
 * terms. The 15625 cells fall into 6466 classes.
 */
#include "frugal/models.h"
#include "frugal/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const OP_NAME[FR_NB201_NOPS] = {"none", "skip_connect", "nor_conv_1x1",
                                                   "nor_conv_3x3", "avg_pool_3x3"};
static const int EDGE_TO[FR_NB201_EDGES] = {1, 2, 2, 3, 3, 3};
static const int EDGE_FROM[FR_NB201_EDGES] = {0, 0, 1, 0, 1, 2};

const char *fr_nb201_op_name(int op) {
    return op >= 0 && op < FR_NB201_NOPS ? OP_NAME[op] : "?";
}

/* Up to n bytes of s for a one-line message: control bytes as '?'. */
static const char *printable(const char *s, size_t n, char *buf, size_t cap) {
    size_t k = 0;
    for (; s[k] && k < n && k + 1 < cap; k++)
        buf[k] = (unsigned char)s[k] < 32 || s[k] == 127 ? '?' : s[k];
    buf[k] = 0;
    return buf;
}

int fr_nb201_parse(const char *s, int ops[FR_NB201_EDGES]) {
    char shown[128], opname[48];
    if (!s) return fr_error(FR_EINVAL, "nb201: no cell string");
    const char *p = s;
    int e = 0;
    for (int j = 1; j <= 3; j++) {
        if (j > 1 && *p++ != '+') goto bad;
        if (*p++ != '|') goto bad;
        for (int i = 0; i < j; i++, e++) {
            const char *t = strchr(p, '~');
            if (!t) goto bad;
            int op = -1;
            for (int k = 0; k < FR_NB201_NOPS; k++)
                if ((size_t)(t - p) == strlen(OP_NAME[k]) &&
                    !strncmp(p, OP_NAME[k], (size_t)(t - p)))
                    op = k;
            if (op < 0)
                return fr_error(FR_EINVAL,
                                "nb201: unknown op '%s' in cell '%s' (known: none, "
                                "skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3)",
                                printable(p, (size_t)(t - p), opname, sizeof opname),
                                printable(s, 120, shown, sizeof shown));
            if (t[1] != '0' + i || t[2] != '|')
                return fr_error(FR_EINVAL,
                                "nb201: cell '%s': node %d's input %d must read '~%d|' (at "
                                "offset %d)",
                                printable(s, 120, shown, sizeof shown), j, i, i, (int)(t - s));
            ops[e] = op;
            p = t + 3;
        }
    }
    if (*p == 0) return 0;
bad:
    return fr_error(FR_EINVAL,
                    "nb201: '%s' is not a cell string (at offset %d; expected "
                    "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|)",
                    printable(s, 120, shown, sizeof shown), (int)(p - s));
}

int fr_nb201_format(const int ops[FR_NB201_EDGES], char *buf, size_t cap) {
    size_t n = 0;
    for (int e = 0; e < FR_NB201_EDGES; e++) {
        if (ops[e] < 0 || ops[e] >= FR_NB201_NOPS)
            return fr_error(FR_EINVAL, "nb201: op %d of edge %d is not 0..4", ops[e], e);
        int w = snprintf(buf + n, n < cap ? cap - n : 0, "%s%s%s~%d|", e == 1 || e == 3 ? "+" : "",
                         EDGE_FROM[e] == 0 ? "|" : "", OP_NAME[ops[e]], EDGE_FROM[e]);
        n += (size_t)w;
    }
    if (n >= cap)
        return fr_error(FR_EINVAL, "nb201: %zu bytes for a cell string, %zu needed", cap, n + 1);
    return 0;
}

int64_t fr_nb201_index(const int ops[FR_NB201_EDGES]) {
    int64_t k = 0;
    for (int e = 0; e < FR_NB201_EDGES; e++)
        k = k * FR_NB201_NOPS + ops[e];
    return k;
}

void fr_nb201_ops(int64_t index, int ops[FR_NB201_EDGES]) {
    for (int e = FR_NB201_EDGES - 1; e >= 0; e--) {
        ops[e] = (int)(index % FR_NB201_NOPS);
        index /= FR_NB201_NOPS;
    }
}

int fr_nb201_alive(const int ops[FR_NB201_EDGES]) {
    int live[4] = {1, 0, 0, 0};
    for (int e = 0; e < FR_NB201_EDGES; e++)
        if (ops[e] != FR_NB201_NONE && live[EDGE_FROM[e]]) live[EDGE_TO[e]] = 1;
    return live[3];
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int fr_nb201_unique_key(const int ops[FR_NB201_EDGES], char *buf, size_t cap) {
    /* keys of nodes 0..3; a node's key holds its inputs' keys, so it can
     * grow: node 3's key is at most about 3 * (2 * 3 * 40) bytes */
    char node[4][FR_NB201_KEY_MAX];
    snprintf(node[0], sizeof node[0], "0");
    for (int j = 1; j <= 3; j++) {
        char term[3][FR_NB201_KEY_MAX];
        char *t[3];
        int nt = 0;
        for (int e = 0; e < FR_NB201_EDGES; e++) {
            if (EDGE_TO[e] != j) continue;
            const char *in = node[EDGE_FROM[e]];
            int op = ops[e];
            if (op < 0 || op >= FR_NB201_NOPS)
                return fr_error(FR_EINVAL, "nb201: op %d of edge %d is not 0..4", op, e);
            int w;
            if (op == FR_NB201_NONE || !strcmp(in, "#"))
                w = snprintf(term[nt], sizeof term[nt], "#");
            else if (op == FR_NB201_SKIP)
                w = snprintf(term[nt], sizeof term[nt], "%s", in);
            else
                w = snprintf(term[nt], sizeof term[nt], "(%s)@%s", in, OP_NAME[op]);
            if (w < 0 || (size_t)w >= sizeof term[nt])
                return fr_error(FR_EINVAL, "nb201: key too long");
            t[nt] = term[nt];
            nt++;
        }
        qsort(t, (size_t)nt, sizeof t[0], cmp_str);
        size_t n = 0;
        for (int i = 0; i < nt; i++) {
            int w = snprintf(node[j] + n, sizeof node[j] - n, "%s%s", i ? "+" : "", t[i]);
            if (w < 0 || n + (size_t)w >= sizeof node[j])
                return fr_error(FR_EINVAL, "nb201: key too long");
            n += (size_t)w;
        }
    }
    if (strlen(node[3]) >= cap) return fr_error(FR_EINVAL, "nb201: key buffer too small");
    memcpy(buf, node[3], strlen(node[3]) + 1);
    return 0;
}

struct keyed {
    char *key;
    int64_t index;
};

static int cmp_keyed(const void *a, const void *b) {
    const struct keyed *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int fr_nb201_unique(int64_t *reps, int64_t cap) {
    struct keyed *k = calloc(FR_NB201_CELLS, sizeof *k);
    if (!k) return fr_error(FR_ENOMEM, "nb201: out of memory");
    int rc = 0;
    int64_t n = 0;
    for (int64_t i = 0; i < FR_NB201_CELLS && !rc; i++) {
        int ops[FR_NB201_EDGES];
        char key[FR_NB201_KEY_MAX];
        fr_nb201_ops(i, ops);
        rc = fr_nb201_unique_key(ops, key, sizeof key);
        if (!rc && !(k[i].key = strdup(key))) rc = fr_error(FR_ENOMEM, "nb201: out of memory");
        k[i].index = i;
    }
    if (!rc) {
        qsort(k, FR_NB201_CELLS, sizeof *k, cmp_keyed);
        for (int64_t i = 0; i < FR_NB201_CELLS; i++)
            if (i == 0 || strcmp(k[i].key, k[i - 1].key)) {
                if (reps && n < cap) reps[n] = k[i].index; /* the class's smallest index */
                n++;
            }
        if (reps && n <= cap) qsort(reps, (size_t)n, sizeof *reps, cmp_i64);
        if (reps && n > cap)
            rc = fr_error(FR_EINVAL, "nb201: room for %lld classes, there are %lld", (long long)cap,
                          (long long)n);
    }
    for (int64_t i = 0; i < FR_NB201_CELLS; i++)
        free(k[i].key);
    free(k);
    return rc ? rc : (int)n;
}

/* cmd_sparsity.c: `frugal sparsity CKPT`: per-tensor sparsity of a
 * checkpoint (fr_sparsity_table_file, methods/prune.h): name, PyTorch-order
 * shape, nonzeros, elements, sparsity, and whether the tensor is in the
 * pruning scope; then the overall sparsity of all weights and of the scope.
 */
#include "args.h"
#include "cmd.h"

#include "frugal/methods/prune.h"
#include "frugal/status.h"

#include <stdio.h>
#include <string.h>

static void shape_str(const struct fr_sparsity_row *r, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "(");
    for (int d = r->ndim - 1; d >= 0 && k < n; d--)
        k += (size_t)snprintf(buf + k, n - k, "%lld%s", (long long)r->ne[d], d ? ", " : "");
    if (k < n) snprintf(buf + k, n - k, ")");
}

static double pct(int64_t nonzero, int64_t n) {
    return n > 0 ? 100.0 * (1.0 - (double)nonzero / (double)n) : 0.0;
}

int cmd_sparsity(int argc, char **argv) {
    const char *scope = "", *exclude = "";
    /* clang-format off */
    struct arg_flag flags[] = {
        {.name = "scope", .type = ARG_STR, .dst = &scope,
         .help = "comma list of name globs in the scope (empty: prunable weights)"},
        {.name = "exclude", .type = ARG_STR, .dst = &exclude,
         .help = "comma list of name globs left out of the scope"},
    };
    /* clang-format on */
    struct arg_cmd spec = {
        .name = "sparsity",
        .synopsis = "frugal sparsity CKPT [flags]",
        .about = "Prints each tensor's nonzeros and sparsity, then the overall sparsity\n"
                 "of all weights and of the pruning scope.",
        .flags = flags,
        .nflags = ARGS_COUNT(flags),
        .min_pos = 1,
        .max_pos = 1,
    };
    const char *pos[1];
    int npos = 0, rc = cli_begin(&spec, argc, argv, pos, &npos);
    if (rc != CLI_GO) return rc;
    struct fr_sparsity_table t;
    int mask;
    fr_clear_error();
    if (fr_sparsity_table_file(pos[0], scope, exclude, &t, &mask))
        return cli_fail("sparsity", "%s", fr_last_error());
    int width = 6;
    for (int i = 0; i < t.count; i++) {
        int l = (int)strlen(t.rows[i].name);
        if (l > width) width = l > 60 ? 60 : l;
    }
    printf("%-*s  %-20s %12s %12s %9s  %s\n", width, "tensor", "shape", "nonzero", "elements",
           "sparsity", "scope");
    for (int i = 0; i < t.count; i++) {
        const struct fr_sparsity_row *r = &t.rows[i];
        char sh[96];
        shape_str(r, sh, sizeof sh);
        printf("%-*s  %-20s %12lld %12lld %8.2f%%  %s\n", width, r->name, sh, (long long)r->nonzero,
               (long long)r->n, pct(r->nonzero, r->n), r->in_scope ? "yes" : "-");
    }
    printf("overall (all tensors) %lld of %lld nonzero, sparsity %.2f%%\n",
           (long long)t.total_nonzero, (long long)t.total, pct(t.total_nonzero, t.total));
    const char *stored = mask > 0 ? " (mask stored)" : " (no mask stored)";
    printf("overall (scope)       %lld of %lld nonzero, sparsity %.2f%%%s\n",
           (long long)t.scope_nonzero, (long long)t.scope, pct(t.scope_nonzero, t.scope),
           mask < 0 ? "" : stored);
    fr_sparsity_table_free(&t);
    return EXIT_OK;
}

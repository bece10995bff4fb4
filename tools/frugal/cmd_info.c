/* cmd_info.c: `frugal info FILE`: what a safetensors file holds: every
 * tensor (name, dtype, PyTorch-order shape, elements) in file order, the
 * parameter count, the file size and the __metadata__ map.
 *
 * Tensors whose names start with "__" are a trainer's state (optimizer
 * moments, RNG bytes, counters; see io.h) and are counted apart from the
 * parameters (fr_st_count). The file is validated by fr_st_open, so a malformed file is
 * one error line and exit code 1.
 */
#include "args.h"
#include "cmd.h"

#include "frugal/io.h"
#include "frugal/status.h"

#include <stdio.h>
#include <string.h>

static void print_shape(const struct fr_st_entry *e, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "(");
    for (int d = 0; d < e->ndim && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, "%lld%s", (long long)e->shape[d],
                              d + 1 < e->ndim ? ", " : "");
    if (k < n) snprintf(buf + k, n - k, ")");
}

int cmd_info(int argc, char **argv) {
    int64_t limit = 0;
    int no_meta = 0;
    /* clang-format off */
    struct arg_flag flags[] = {
        {.name = "limit", .type = ARG_INT, .dst = &limit, .max = 1e12,
         .help = "list at most N tensors (0 = all); totals count every tensor"},
        {.name = "no-meta", .type = ARG_BOOL, .dst = &no_meta,
         .help = "do not print the __metadata__ map"},
    };
    /* clang-format on */
    struct arg_cmd spec = {
        .name = "info",
        .synopsis = "frugal info FILE [flags]",
        .about = "Lists the tensors of a safetensors file (name, dtype, shape, elements),\n"
                 "the parameter count, the file size and the metadata.",
        .flags = flags,
        .nflags = ARGS_COUNT(flags),
        .min_pos = 1,
        .max_pos = 1,
    };
    const char *pos[1];
    int npos = 0, rc = cli_begin(&spec, argc, argv, pos, &npos);
    if (rc != CLI_GO) return rc;

    struct fr_st_file *f = NULL;
    fr_clear_error();
    if (fr_st_open(pos[0], &f) != 0) return cli_fail("info", "%s", fr_last_error());

    int width = 4;
    for (int i = 0; i < f->n; i++) {
        int l = (int)strlen(f->entries[i].name);
        if (l > width) width = l > 60 ? 60 : l;
    }
    printf("file: %s (%zu bytes, header %llu bytes)\n", pos[0], f->size,
           (unsigned long long)f->header_len);
    if (!no_meta && f->nmeta) {
        printf("metadata:\n");
        for (int i = 0; i < f->nmeta; i++)
            printf("  %s: %s\n", f->meta_keys[i], f->meta_vals[i]);
    }
    printf("tensors: %d\n", f->n);
    printf("  %-*s  %-5s  %-24s  %s\n", width, "name", "dtype", "shape", "elements");
    for (int i = 0; i < f->n && (limit <= 0 || i < limit); i++) {
        const struct fr_st_entry *e = &f->entries[i];
        char shape[256];
        print_shape(e, shape, sizeof shape);
        printf("  %-*s  %-5s  %-24s  %lld\n", width, e->name,
               e->is_bool ? "BOOL" : fr_dtype_name(e->dtype), shape, (long long)e->nelem);
    }
    if (limit > 0 && f->n > limit) printf("  ... %lld more\n", (long long)(f->n - limit));
    struct fr_st_counts n;
    fr_st_count(f, &n);
    printf("total: %lld parameters in %lld tensors", (long long)n.params,
           (long long)n.param_tensors);
    if (n.state_tensors)
        printf("; %lld state elements in %lld __ tensors", (long long)n.state,
               (long long)n.state_tensors);
    printf("; %zu data bytes\n", n.data_bytes);
    fr_st_close(f);
    return EXIT_OK;
}

/* cmd_info.c: `frugal info FILE`: what a file frugal reads holds. A
 * safetensors file: every tensor (name, dtype, PyTorch-order shape,
 * elements) in file order, the parameter count, the file size and the
 * __metadata__ map. Any other file is tried with the other loaders in turn
 * (llama2.c checkpoint, tokenizer, IDX array) and described by the one that
 * accepts it; a file none accepts is one error line naming what each said.
 *
 * Tensors whose names start with "__" are a trainer's state (optimizer
 * moments, RNG bytes, counters; see io.h) and are counted apart from the
 * parameters (fr_st_count). The file is validated by fr_st_open, so a malformed file is
 * one error line and exit code 1.
 */
#include "args.h"
#include "cmd.h"

#include "frugal/io.h"
#include "frugal/models.h"
#include "frugal/status.h"
#include "frugal/tokenizer.h"
#include "frugal/transformer.h"

#include <stdio.h>
#include <string.h>

static void print_shape(const struct fr_st_entry *e, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "(");
    for (int d = 0; d < e->ndim && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, "%lld%s", (long long)e->shape[d],
                              d + 1 < e->ndim ? ", " : "");
    if (k < n) snprintf(buf + k, n - k, ")");
}

static const char *tok_kind(int k) {
    return k == FR_TOK_CHAR  ? "character level"
           : k == FR_TOK_BPE ? "byte-level BPE"
           : k == FR_TOK_SPM ? "sentencepiece-style BPE"
                             : "unknown kind";
}

/* A file that is not safetensors: the first loader that accepts it says
 * what it is; when none does, one line with each loader's complaint. */
static int info_other(const char *path) {
    char why[3][160];
    snprintf(why[0], sizeof why[0], "%s", fr_last_error());
    struct fr_tf_model m;
    if (fr_tf_load(&m, path) == 0) {
        const struct fr_tf_config *c = &m.cfg;
        printf("file: %s (llama2.c checkpoint)\n", path);
        printf("transformer: %s, %d layers, %d heads (%d KV), dim %d, hidden %d, vocab %d, "
               "context %d\n",
               c->arch == FR_TF_LLAMA ? "llama" : "gpt2", c->n_layers, c->n_heads, c->n_kv_heads,
               c->dim, c->hidden_dim, c->vocab_size, c->max_seq);
        printf("total: %lld parameters\n", (long long)fr_tf_param_count(&m));
        fr_tf_free(&m);
        return EXIT_OK;
    }
    snprintf(why[1], sizeof why[1], "%s", fr_last_error());
    struct fr_tokenizer *t = NULL;
    if (fr_tokenizer_load(path, &t) == 0) {
        int k = fr_tokenizer_kind(t);
        printf("file: %s (tokenizer)\n", path);
        printf("tokenizer: %s, vocabulary %lld, bos %d, eos %d\n", tok_kind(k),
               (long long)fr_tokenizer_vocab_size(t), fr_tokenizer_bos(t), fr_tokenizer_eos(t));
        fr_tokenizer_free(t);
        return EXIT_OK;
    }
    snprintf(why[2], sizeof why[2], "%s", fr_last_error());
    struct fr_idx x;
    if (fr_idx_load(path, &x) == 0) {
        printf("file: %s (IDX array)\n", path);
        printf("array: %s, %d dims (", fr_dtype_name(x.dtype), x.ndim);
        for (int d = 0; d < x.ndim; d++)
            printf("%s%lld", d ? ", " : "", (long long)x.dims[d]);
        printf("), %lld elements\n", (long long)x.n);
        fr_idx_free(&x);
        return EXIT_OK;
    }
    return cli_fail("info",
                    "%s is not a file frugal reads: not safetensors (%s); not a llama2.c "
                    "checkpoint (%s); not a tokenizer (%s); not IDX (%s)",
                    path, why[0], why[1], why[2], fr_last_error());
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
                 "the parameter count, the file size and the metadata; describes a llama2.c\n"
                 "checkpoint, a tokenizer or an IDX array by what it holds.",
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
    if (fr_st_open(pos[0], &f) != 0) return info_other(pos[0]);

    int width = 4;
    for (int i = 0; i < f->n; i++) {
        int l = (int)strlen(f->entries[i].name);
        if (l > width) width = l > 60 ? 60 : l;
    }
    printf("file: %s (%zu bytes, header %llu bytes)\n", pos[0], f->size,
           (unsigned long long)f->header_len);
    if (!no_meta && f->nmeta) {
        printf("metadata:\n");
        for (int i = 0; i < f->nmeta; i++) {
            printf("  %s: %s\n", f->meta_keys[i], f->meta_vals[i]);
            int ops[FR_NB201_EDGES], ok = !strcmp(f->meta_keys[i], "nb201");
            for (int e = 0; ok && e < FR_NB201_EDGES; e++) {
                ok = f->meta_vals[i][e] >= '0' && f->meta_vals[i][e] < '0' + FR_NB201_NOPS;
                if (ok) ops[e] = f->meta_vals[i][e] - '0';
            }
            char cell[128];
            if (ok && !fr_nb201_format(ops, cell, sizeof cell)) printf("  cell: %s\n", cell);
        }
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

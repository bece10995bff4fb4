/* cmd_proxy.c: `frugal proxy --cell STR [--proxy NAME,...]`: the zero-shot
 * NAS proxies (methods/nas.h) of one NAS-Bench-201 network at
 * initialisation, on a batch of Fashion-MNIST training images: each
 * proxy's score and its own cost in seconds. */
#include "args.h"
#include "cmd.h"

#include "frugal/data.h"
#include "frugal/methods/nas.h"
#include "frugal/models.h"
#include "frugal/status.h"
#include "frugal/threads.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_proxy(int argc, char **argv) {
    const char *cell = "", *proxies = "all", *data_dir = DEFAULT_DATA_DIR;
    int64_t batch = 64, seed = 1, c = FR_NB201_DEFAULT_C, n = FR_NB201_DEFAULT_N, threads = 0,
            first = 0;
    /* clang-format off */
    struct arg_flag flags[] = {
        {.name = "cell", .type = ARG_STR, .dst = &cell, .required = 1,
         .help = "the NAS-Bench-201 cell (arch string)"},
        {.name = "proxy", .type = ARG_STR, .dst = &proxies,
         .help = "comma-separated proxies, or all (params, flops, grad_norm, snip, grasp, fisher, "
                 "synflow, jacob_cov, naswot, zen, zico, gradsign, ntk, linear_regions)"},
        {.name = "cell-channels", .type = ARG_INT, .dst = &c, .min = 1, .max = 4096,
         .help = "the network's first-stage channels C"},
        {.name = "cells-per-stage", .type = ARG_INT, .dst = &n, .min = 1, .max = 64,
         .help = "cells per stage N"},
        {.name = "batch", .type = ARG_INT, .dst = &batch, .min = 2, .max = 4096,
         .help = "images in the batch the proxies read"},
        {.name = "first", .type = ARG_INT, .dst = &first, .max = 59999,
         .help = "the batch is training images first..first+batch-1"},
        {.name = "seed", .type = ARG_INT, .dst = &seed, .max = 1e18,
         .help = "the network's initialisation (and the proxies' random inputs)"},
        {.name = "threads", .type = ARG_INT, .dst = &threads, .max = 256,
         .help = "worker threads (0 = all cores)"},
        {.name = "data-dir", .type = ARG_STR, .dst = &data_dir,
         .help = "directory with Fashion-MNIST's IDX .gz files"},
    };
    /* clang-format on */
    struct arg_cmd spec = {
        .name = "proxy",
        .synopsis = "frugal proxy --cell STR [flags]",
        .about = "Zero-shot NAS proxies of one NAS-Bench-201 network at initialisation: each\n"
                 "proxy's score and its own cost.",
        .flags = flags,
        .nflags = ARGS_COUNT(flags),
    };
    int rc = cli_begin(&spec, argc, argv, NULL, NULL);
    if (rc != CLI_GO) return rc;
    struct fr_model_config mc;
    fr_model_config_defaults(&mc);
    if (fr_nb201_parse(cell, mc.nb201.ops)) {
        fprintf(stderr, "frugal proxy: --cell: %s\n", fr_last_error());
        return EXIT_USAGE;
    }
    mc.nb201.c = (int)c, mc.nb201.n = (int)n;
    int want[FR_NPROXIES] = {0}, nwant = 0;
    char list[512];
    snprintf(list, sizeof list, "%s", proxies);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        if (!strcmp(tok, "all")) {
            for (int p = 0; p < FR_NPROXIES; p++)
                want[p] = 1;
            continue;
        }
        int p = fr_proxy_parse(tok);
        if (p < 0) {
            fprintf(stderr, "frugal proxy: --proxy: %s\n", fr_last_error());
            return EXIT_USAGE;
        }
        want[p] = 1;
    }
    for (int p = 0; p < FR_NPROXIES; p++)
        nwant += want[p];
    if (!nwant) {
        fprintf(stderr, "frugal proxy: --proxy names none\n");
        return EXIT_USAGE;
    }
    if (first + batch > 60000) {
        fprintf(stderr, "frugal proxy: --first + --batch exceed the 60000 training images\n");
        return EXIT_USAGE;
    }
    if ((rc = cli_check_data_dir("proxy", data_dir)) != EXIT_OK) return rc;
    if (threads > 0) fr_threads_set((int)threads);
    struct fr_dataset ds = {0};
    struct fr_data_spec spec_d = {"fashion-mnist", 0, 0, 0};
    if (fr_dataset_load(&ds, &spec_d, data_dir, 1, first + batch))
        return cli_fail("proxy", "%s", fr_last_error());
    int64_t *idx = malloc(sizeof *idx * (size_t)batch);
    if (!idx) {
        fr_dataset_free(&ds);
        return cli_fail("proxy", "out of memory");
    }
    for (int64_t i = 0; i < batch; i++)
        idx[i] = first + i;
    struct fr_proxy_batch b = {&ds, idx, (int)batch};
    printf("cell %s (C %lld, N %lld), batch %lld, seed %lld%s\n", cell, (long long)c, (long long)n,
           (long long)batch, (long long)seed,
           fr_nb201_alive(mc.nb201.ops) ? "" : " (dead: no path from input to output)");
    printf("%-15s %16s %10s\n", "proxy", "score", "seconds");
    for (int p = 0; p < FR_NPROXIES && rc == EXIT_OK; p++) {
        if (!want[p]) continue;
        double score, sec;
        if (fr_proxy_score("nb201", &mc, p, &b, (uint64_t)seed, &score, &sec)) {
            rc = cli_fail("proxy", "%s: %s", fr_proxy_name(p), fr_last_error());
            break;
        }
        printf("%-15s %16.6g %10.3f%s\n", fr_proxy_name(p), score, sec,
               isfinite(score) ? "" : "  (not finite)");
    }
    free(idx);
    fr_dataset_free(&ds);
    return rc;
}

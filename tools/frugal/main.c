/* main.c: `frugal <command> [flags]`: dispatch to one cmd_<name>.c per
 * subcommand (see cmd.h for the exit-code contract), plus `version` and
 * `help`. */
#include "args.h"
#include "cmd.h"

#include "frugal/dist.h"
#include "frugal/kernels.h"
#include "frugal/report.h"
#include "frugal/status.h"
#include "frugal/threads.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

int cmd_version(int argc, char **argv) {
    struct arg_cmd spec = {
        .name = "version",
        .synopsis = "frugal version",
        .about = "Prints the version, the instruction set the kernels use (FRUGAL_ISA\n"
                 "caps it), the CPU, its caches, the GEMM blocking in force, the bf16 GEMM\n"
                 "path (--precision bf16: amx, avx512bf16 or none) and the\n"
                 "default thread count, one `key value` per line.",
    };
    const char *pos[1];
    int npos = 0, rc = cli_begin(&spec, argc, argv, pos, &npos);
    if (rc != CLI_GO) return rc;
    printf("frugal %s\n", fr_version());
    printf("isa %s\n", fr_isa_name(fr_cpu_isa()));
    printf("cpu %s (family/model/stepping %s)\n", fr_cpu_model(), fr_cpu_signature());
    const struct fr_cpu_caches *cc = fr_cpu_caches();
    printf("caches L1d %lld KiB, L2 %lld KiB (%d CPUs share it), L3 %lld KiB (%d) [%s]\n",
           cc->l1d >> 10, cc->l2 >> 10, cc->l2_shared, cc->l3 >> 10, cc->l3_shared, cc->source);
    struct fr_gemm_blocking bk;
    const char *src;
    fr_gemm_blocking_get(fr_cpu_isa(), &bk, &src);
    printf("gemm blocking kc %d mc %d nc %d [%s]\n", bk.kc, bk.mc, bk.nc, src);
    /* the --precision bf16 path: AMX tiles, AVX512-BF16, or none */
    printf("bf16 %s (hardware %s)\n", fr_bf16_name(fr_cpu_bf16()), fr_bf16_name(fr_cpu_bf16_hw()));
    /* what a command run with the default --threads 0 would use */
    if (fr_threads_set(0) != 0) return cli_fail("version", "cannot start the thread pool");
    printf("threads %d\n", fr_threads_get());
    return EXIT_OK;
}

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command COMMANDS[] = {
    {"train", cmd_train, "train a model, write checkpoint, results.json and plots"},
    {"eval", cmd_eval, "test accuracy of a checkpoint"},
    {"info", cmd_info, "describe a file: safetensors, IDX, checkpoint"},
    {"train-lm", cmd_train_lm, "train a GPT-2 or LLaMA-style language model on a text"},
    {"generate", cmd_generate, "generate text from a transformer checkpoint (KV cache)"},
    {"kv-eval", cmd_kv_eval, "KV-cache eviction policies: quality vs memory budget"},
    {"convert", cmd_convert, "rewrite a transformer checkpoint as f32/f16/bf16 safetensors"},
    {"perplexity", cmd_perplexity, "score a text under a transformer checkpoint"},
    {"prune", cmd_prune, "prune a checkpoint (omp, random, nm, snip, grasp)"},
    {"sparsity", cmd_sparsity, "per-tensor sparsity of a checkpoint"},
    {"shrink", cmd_shrink, "slice a Chase model's removed channels out: a narrower dense model"},
    {"erf", cmd_erf, "effective receptive field of a classifier (RepLKNet's measurement)"},
    {"reparam", cmd_reparam, "merge a slak model's kernel branches into one conv per block"},
    {"proxy", cmd_proxy, "zero-shot NAS proxies of a NAS-Bench-201 network at initialisation"},
    {"nas-bench", cmd_nas_bench, "train a sample of NAS-Bench-201 cells: the zero-shot NAS truth"},
    {"report", cmd_report, "build out/report/index.html from every out/*/results.json"},
    {"demo", cmd_demo, "train the small CNN briefly and build the report"},
    {"repro", cmd_repro, "reproduce a registered experiment (--list names them)"},
    {"tune", cmd_tune, "time GEMM blockings, keep the best for this CPU"},
    {"version", cmd_version, "version, ISA, CPU, caches, blocking, threads"},
    {"help", NULL, "this text, or `frugal help CMD` for a command's flags"},
};
#define NCOMMANDS ((int)(sizeof COMMANDS / sizeof COMMANDS[0]))

static void usage(FILE *f) {
    fprintf(f, "usage: frugal COMMAND [flags]   (frugal COMMAND --help lists its flags)\n\n"
               "commands:\n");
    for (int i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-9s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "\nexit codes: 0 ok, 1 runtime error, 2 usage error\n");
}

static const struct command *find(const char *name) {
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(COMMANDS[i].name, name) == 0) return &COMMANDS[i];
    return NULL;
}

int main(int argc, char **argv) {
    signal(SIGXFSZ, SIG_IGN); /* a file-size limit makes writes fail (EFBIG), not kill frugal */
    if (argc < 2) {
        fprintf(stderr, "frugal: missing command (see frugal --help)\n");
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(name, "--version") == 0) name = "version";
    if (strcmp(name, "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return EXIT_OK;
        }
        const struct command *c = find(argv[2]);
        if (!c || !c->run) {
            fprintf(stderr, "frugal: unknown command '%s' (see frugal --help)\n", argv[2]);
            return EXIT_USAGE;
        }
        char *help_argv[] = {argv[2], "--help", NULL};
        return c->run(2, help_argv);
    }
    const struct command *c = find(name);
    if (!c || !c->run) {
        fprintf(stderr, "frugal: unknown command '%s' (see frugal --help)\n", name);
        return EXIT_USAGE;
    }
    /* under mpirun: join the job; rank 0 alone prints results */
    if (fr_dist_init(&argc, &argv)) {
        fprintf(stderr, "frugal: %s\n", fr_last_error());
        return EXIT_RUNTIME;
    }
    if (fr_dist_size() > 1 && fr_dist_rank() > 0 && !freopen("/dev/null", "w", stdout)) {
        fprintf(stderr, "frugal: rank %d: cannot silence stdout\n", fr_dist_rank());
        fr_dist_abort(EXIT_RUNTIME);
    }
    int rc = c->run(argc - 1, argv + 1);
    /* a rank that failed ends the job: the others may be waiting for it in
     * a collective */
    if (rc != EXIT_OK && fr_dist_size() > 1) {
        fflush(stdout);
        fflush(stderr);
        fr_dist_abort(rc);
    }
    fr_dist_finalize();
    return rc;
}

/* cmd_convert.c: `frugal convert`: rewrite a transformer checkpoint (any
 * format frugal loads: llama2.c .bin, frugal or Hugging Face safetensors) as
 * a frugal safetensors file with f32, f16 or bf16 weights, its tokenizer
 * beside it (fr_lm_convert, lm.h). */
#include "args.h"
#include "cmd.h"

#include "frugal/lm.h"
#include "frugal/status.h"

#include <stdio.h>
#include <string.h>

int cmd_convert(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *dtype = "bf16";
    static const char *const dts[] = {"f32", "f16", "bf16", NULL};
    /* clang-format off */
    struct arg_flag flags[] = {
        {.name = "model", .type = ARG_STR, .dst = &model, .required = 1,
         .help = "input checkpoint"},
        {.name = "out", .type = ARG_STR, .dst = &out, .required = 1, .help = "output .safetensors"},
        {.name = "dtype", .type = ARG_STR, .dst = &dtype, .choices = dts,
         .help = "stored weight type"},
    };
    /* clang-format on */
    struct arg_cmd c = {
        .name = "convert",
        .synopsis = "frugal convert --model IN --out OUT [--dtype bf16]",
        .about = "Rewrites a transformer checkpoint as frugal safetensors in f32, f16 or "
                 "bf16 (compute stays f32).",
        .flags = flags,
        .nflags = ARGS_COUNT(flags),
    };
    int rc = cli_begin(&c, argc, argv, NULL, NULL);
    if (rc != CLI_GO) return rc;
    int dt = strcmp(dtype, "f16") == 0 ? FR_F16 : strcmp(dtype, "bf16") == 0 ? FR_BF16 : FR_F32;
    int64_t n = 0;
    fr_clear_error();
    if (fr_lm_convert(model, out, dt, &n)) return cli_fail("convert", "%s", fr_last_error());
    printf("wrote %s (%s, %lld parameters)\n", out, dtype, (long long)n);
    return EXIT_OK;
}

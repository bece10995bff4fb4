/* cmd_convert.c: `frugal convert`: rewrite a transformer checkpoint (any
 * format frugal loads: llama2.c .bin, frugal or Hugging Face safetensors) as
 * a frugal safetensors file with f32, f16 or bf16 weights. */
#include "args.h"
#include "cmd.h"
#include "frugal/frugal.h"
#include "frugal/transformer.h"

#include <stdio.h>
#include <string.h>

int cmd_convert(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *dtype = "bf16";
    static const char *const dts[] = {"f32", "f16", "bf16", NULL};
    struct arg_flag flags[] = {
        {.name = "model", .type = ARG_STR, .dst = &model, .help = "input checkpoint", .required = 1},
        {.name = "out", .type = ARG_STR, .dst = &out, .help = "output .safetensors", .required = 1},
        {.name = "dtype", .type = ARG_STR, .dst = &dtype, .help = "stored weight type", .choices = dts},
    };
    struct arg_cmd c = {
        .name = "convert",
        .synopsis = "frugal convert --model IN --out OUT [--dtype bf16]",
        .about = "Rewrites a transformer checkpoint as frugal safetensors in f32, f16 or "
                        "bf16 (compute stays f32).",
        .flags = flags,
        .nflags = ARGS_COUNT(flags),
    };
    int npos = 0;
    int rc = cli_begin(&c, argc, argv, NULL, &npos);
    if (rc != CLI_GO) return rc;
    struct fr_tf_model m, s;
    if (fr_tf_load_ex(&m, model, FR_TF_TRAINABLE)) return cli_fail("convert", "%s", fr_last_error());
    if (!m.params.allocated) {
        /* llama2.c files load in place: copy into a slab with the same config */
        if (fr_tf_init(&s, &m.cfg, 0)) {
            fr_tf_free(&m);
            return cli_fail("convert", "%s", fr_last_error());
        }
        rc = fr_tf_copy_weights(&s, &m);
        fr_tf_free(&m);
        m = s;
        if (rc) {
            fr_tf_free(&m);
            return cli_fail("convert", "%s", fr_last_error());
        }
    }
    int dt = strcmp(dtype, "f16") == 0 ? FR_F16 : strcmp(dtype, "bf16") == 0 ? FR_BF16 : FR_F32;
    if ((rc = cli_mkdirs("convert", out, 1))) {
        fr_tf_free(&m);
        return rc;
    }
    if (fr_tf_save(&m, out, dt)) {
        fr_tf_free(&m);
        return cli_fail("convert", "%s", fr_last_error());
    }
    printf("wrote %s (%s, %lld parameters)\n", out, dtype, (long long)fr_tf_param_count(&m));
    fr_tf_free(&m);
    return EXIT_OK;
}

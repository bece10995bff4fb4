/* test_hf_loader.c: Hugging Face-layout GPT-2 and LLaMA checkpoints (written
 * by scripts/ref/hf_fixtures.py with PyTorch) load and give the logits of the
 * independent PyTorch forward to 1e-4 relative; f32 and bf16 files; broken
 * directories give clear errors. */
#include "check.h"
#include "frugal/io.h"
#include "frugal/transformer.h"

#include <stdlib.h>
#include <string.h>

/* ref.txt: a line "tokens t0 t1 ...", then one line of V logits per token.
 * A missing, empty or short reference is a failure, never a pass. */
static void check_model(const char *dir) {
    char path[512], ref[512];
    snprintf(path, sizeof path, "tests/data/%s/model.safetensors", dir);
    snprintf(ref, sizeof ref, "tests/data/%s/ref.txt", dir);
    struct fr_tf_model m;
    int rc = fr_tf_load(&m, path);
    CHECK(rc == 0, "%s: load: %s", dir, fr_last_error());
    if (rc) return;
    FILE *f = fopen(ref, "r");
    CHECK(f != NULL, "%s: reference file %s is missing (it ships with the repo)", dir, ref);
    if (!f) {
        fr_tf_free(&m);
        return;
    }
    static char line[1 << 16];
    int32_t tok[64];
    int nt = 0;
    char *p, *end;
    int has_tokens = fgets(line, sizeof line, f) && strncmp(line, "tokens ", 7) == 0;
    CHECK(has_tokens, "%s: %s does not start with a \"tokens ...\" line", dir, ref);
    if (has_tokens)
        for (p = line + 7; nt < 64; p = end) {
            long v = strtol(p, &end, 10);
            if (end == p) break;
            tok[nt++] = (int32_t)v;
        }
    CHECK(nt > 0, "%s: %s lists no tokens", dir, ref);
    if (nt == 0) {
        fclose(f);
        fr_tf_free(&m);
        return;
    }
    int V = m.cfg.vocab_size;
    float *lg = malloc(sizeof(float) * nt * V);
    struct fr_tf_state s;
    fr_tf_state_init(&s, &m, 1, nt, nt, NULL, 0);
    CHECK(fr_tf_prefill(&s, 0, tok, nt, lg, 1) == 0, "%s: prefill", dir);
    double worst = 0;
    int rows = 0, short_row = -1;
    for (int t = 0; t < nt && fgets(line, sizeof line, f); t++, rows++) {
        p = line;
        for (int i = 0; i < V; i++, p = end) {
            double r = strtod(p, &end);
            if (end == p) {
                if (short_row < 0) short_row = t;
                break;
            }
            worst = fmax(worst, fabs(lg[t * V + i] - r) / (1e-4 * fmax(1.0, fabs(r))));
        }
    }
    CHECK(rows == nt, "%s: %s has %d rows of logits for %d tokens", dir, ref, rows, nt);
    CHECK(short_row < 0, "%s: %s row %d has fewer than %d logits", dir, ref, short_row, V);
    CHECK(worst <= 1.0, "%s: logits vs PyTorch reference (worst ratio to 1e-4 rel: %.3g)", dir,
          worst);
    fclose(f);
    free(lg);
    fr_tf_state_free(&s);
    fr_tf_free(&m);
}

static int copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[8192];
    size_t n;
    int ok = a && b;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0)
        ok = fwrite(buf, 1, n, b) == n;
    if (a) fclose(a);
    if (b && fclose(b) != 0) ok = 0;
    return ok ? 0 : -1;
}

static void write_config(const char *path, const char *json) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "cannot write %s", path);
    if (!f) return;
    fputs(json, f);
    fclose(f);
}

int main(void) {
    fr_threads_set(2);
    check_model("hf_gpt2");
    check_model("hf_llama");
    check_model("hf_llama_bf16");

    /* a copy of the LLaMA weights in a directory of its own, with a broken
     * or missing config.json beside them */
    char model[768], config[768];
    snprintf(model, sizeof model, "%s", check_tmp("model.safetensors"));
    snprintf(config, sizeof config, "%s", check_tmp("config.json"));
    CHECK(copy_file("tests/data/hf_llama/model.safetensors", model) == 0, "copy to %s", model);
    struct fr_tf_model m;
    CHECK(fr_tf_load(&m, model) != 0 && strstr(fr_last_error(), "config.json"),
          "missing config.json: %s", fr_last_error());
    write_config(config, "{\"model_type\": \"bert\"}");
    CHECK(fr_tf_load(&m, model) != 0 && strstr(fr_last_error(), "bert"),
          "unsupported model type: %s", fr_last_error());
    write_config(
        config, "{\"model_type\": \"llama\", \"hidden_size\": 32, \"intermediate_size\": 48, "
                "\"num_hidden_layers\": 3, \"num_attention_heads\": 4, \"num_key_value_heads\": 2, "
                "\"vocab_size\": 67}");
    CHECK(fr_tf_load(&m, model) != 0 && strstr(fr_last_error(), "missing"),
          "config with more layers than the file: %s", fr_last_error());
    write_config(
        config, "{\"model_type\": \"llama\", \"hidden_size\": 32, \"intermediate_size\": 48, "
                "\"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2, "
                "\"vocab_size\": 70}");
    CHECK(fr_tf_load(&m, model) != 0, "vocabulary mismatch: %s", fr_last_error());
    write_config(config, "{\"model_type\": \"llama\", \"hidden_size\": ");
    CHECK(fr_tf_load(&m, model) != 0, "truncated config.json: %s", fr_last_error());
    return check_report("test_hf_loader");
}
